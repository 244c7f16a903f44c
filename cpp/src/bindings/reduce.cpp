// Bindings for reductions: ember.sum/mean/prod/var/std/max/min/amax/amin/argmax/argmin/
// logsumexp/all/any/norm/softmax/log_softmax/cumsum/cumprod and the Tensor methods, with torch's
// signatures. max/min along a dim return ember.return_types.max/min (values, indices).
#include <cmath>

#include "common.h"

namespace ember::py_bind {

namespace {
// dim=None / int / sequence of ints (empty = all dims, like torch's dim=()).
std::vector<int64_t> red_dims(py::handle o) {
  if (o.is_none()) return {};
  if (py::isinstance<py::sequence>(o) && py::len(o) == 0) return {};
  return dims_arg(o);
}

std::optional<int64_t> opt_dim(py::handle o, const char* op) {
  if (o.is_none()) return std::nullopt;
  EMBER_CHECK(PyLong_Check(o.ptr()) && !PyBool_Check(o.ptr()), TypeError, op,
              "(): argument 'dim' must be int, not ", type_name(o));
  return o.cast<int64_t>();
}

py::object named_pair(const char* name, const Tensor& a, const Tensor& b) {
  return py::module_::import("ember.return_types").attr(name)(py::cast(a), py::cast(b));
}

// torch's var/std arguments: (dim=None, unbiased=None, keepdim=False, *, correction=None), with
// the legacy var(unbiased) form where a bool stands in the dim position.
struct VarArgs {
  std::vector<int64_t> dims;
  double correction = 1;
};
VarArgs var_args(py::object dim, py::object unbiased, py::object correction, const char* op) {
  if (PyBool_Check(dim.ptr())) {
    EMBER_CHECK(unbiased.is_none(), TypeError, op, "(): got a bool for both 'dim' and 'unbiased'");
    unbiased = dim;
    dim = py::none();
  }
  EMBER_CHECK(unbiased.is_none() || correction.is_none(), TypeError, op,
              "(): cannot specify both 'unbiased' and 'correction'");
  VarArgs a;
  a.dims = red_dims(dim);
  if (!unbiased.is_none()) a.correction = unbiased.cast<bool>() ? 1 : 0;
  if (!correction.is_none()) a.correction = correction.cast<double>();
  return a;
}

// norm's p: a number (inf allowed) or 'fro'.
double norm_p(py::handle p) {
  if (py::isinstance<py::str>(p)) {
    auto s = p.cast<std::string>();
    if (s == "fro") return 2;
    throw NotImplementedError(str("norm(): p='", s, "' is not supported (only vector norms: numbers and 'fro')"));
  }
  auto s = as_scalar(p);
  EMBER_CHECK(s.has_value(), TypeError, "norm(): argument 'p' must be a number or 'fro', not ", type_name(p));
  return s->to_double();
}

}  // namespace

void bind_reduce(py::module_& m) {
  auto& c = tensor_class();
  // Each function is registered as ember.<name>(input, ...) and Tensor.<name>(...).
#define EMBER_BIND_BOTH(name, fn, ...)                         \
  m.def(name, fn, py::arg("input"), __VA_ARGS__);              \
  c.def(name, fn, __VA_ARGS__)

  auto sumf = [](const Tensor& x, py::object dim, bool keepdim, py::object dtype) {
    auto dims = red_dims(dim);
    auto dt = dtype_arg(dtype);
    py::gil_scoped_release r;
    return ops::sum(x, dims, keepdim, dt);
  };
  m.def("_abs_sum", [](const Tensor& x, bool mean) { py::gil_scoped_release r; return ops::abs_sum(x, mean); },
        py::arg("input"), py::arg("mean"));
  m.def("_huber_sum", [](const Tensor& x, bool mean) { py::gil_scoped_release r; return ops::huber1_sum(x, mean); },
        py::arg("input"), py::arg("mean"));
  m.def("_squared_sum", [](const Tensor& x, bool mean) { py::gil_scoped_release r; return ops::squared_sum(x, mean); },
        py::arg("input"), py::arg("mean"));
  EMBER_BIND_BOTH("sum", sumf, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
                  py::arg("dtype") = py::none());
  auto meanf = [](const Tensor& x, py::object dim, bool keepdim, py::object dtype) {
    auto dims = red_dims(dim);
    auto dt = dtype_arg(dtype);
    py::gil_scoped_release r;
    return ops::mean(dt ? ops::to_dtype(x, *dt) : x, dims, keepdim);
  };
  EMBER_BIND_BOTH("mean", meanf, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
                  py::arg("dtype") = py::none());
  auto prodf = [](const Tensor& x, py::object dim, bool keepdim, py::object dtype) {
    auto d = opt_dim(dim, "prod");
    auto dt = dtype_arg(dtype);
    py::gil_scoped_release r;
    return ops::prod(x, d, keepdim, dt);
  };
  EMBER_BIND_BOTH("prod", prodf, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
                  py::arg("dtype") = py::none());

  // --- var / std ----------------------------------------------------------------------------------
  auto varf = [](const Tensor& x, py::object dim, py::object unbiased, bool keepdim, py::object correction) {
    auto a = var_args(dim, unbiased, correction, "var");
    py::gil_scoped_release r;
    return ops::var(x, a.dims, a.correction, keepdim);
  };
  auto stdf = [](const Tensor& x, py::object dim, py::object unbiased, bool keepdim, py::object correction) {
    auto a = var_args(dim, unbiased, correction, "std");
    py::gil_scoped_release r;
    return ops::std(x, a.dims, a.correction, keepdim);
  };
  auto var_meanf = [](const Tensor& x, py::object dim, py::object unbiased, bool keepdim, py::object correction) {
    auto a = var_args(dim, unbiased, correction, "var_mean");
    py::gil_scoped_release r;
    return ops::var_mean(x, a.dims, a.correction, keepdim);
  };
  auto std_meanf = [](const Tensor& x, py::object dim, py::object unbiased, bool keepdim, py::object correction) {
    auto a = var_args(dim, unbiased, correction, "std_mean");
    py::gil_scoped_release r;
    return ops::std_mean(x, a.dims, a.correction, keepdim);
  };
#define EMBER_VAR_ARGS \
  py::arg("dim") = py::none(), py::arg("unbiased") = py::none(), py::arg("keepdim") = false, py::kw_only(), \
      py::arg("correction") = py::none()
  EMBER_BIND_BOTH("var", varf, EMBER_VAR_ARGS);
  EMBER_BIND_BOTH("std", stdf, EMBER_VAR_ARGS);
  m.def("var_mean", var_meanf, py::arg("input"), EMBER_VAR_ARGS);
  m.def("std_mean", std_meanf, py::arg("input"), EMBER_VAR_ARGS);
#undef EMBER_VAR_ARGS

  // --- max / min ----------------------------------------------------------------------------------
  for (bool is_max : {true, false}) {
    const char* name = is_max ? "max" : "min";
    auto f = [is_max, name](const Tensor& x, py::object dim, bool keepdim, py::object other) -> py::object {
      if (!other.is_none() || is_tensor(dim)) {  // max(input, other): elementwise
        Tensor o = operand(other.is_none() ? dim : other, name), out;
        {
          py::gil_scoped_release r;
          out = is_max ? ops::maximum(x, o) : ops::minimum(x, o);
        }
        return py::cast(out);
      }
      if (dim.is_none()) {
        Tensor out;
        {
          py::gil_scoped_release r;
          out = is_max ? ops::max(x) : ops::min(x);
        }
        return py::cast(out);
      }
      int64_t d = *opt_dim(dim, name);
      std::tuple<Tensor, Tensor> vi;
      {
        py::gil_scoped_release r;
        vi = is_max ? ops::max(x, d, keepdim) : ops::min(x, d, keepdim);
      }
      return named_pair(name, std::get<0>(vi), std::get<1>(vi));
    };
    EMBER_BIND_BOTH(name, f, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
                    py::arg("other") = py::none());
  }
  for (bool is_max : {true, false}) {
    auto f = [is_max](const Tensor& x, py::object dim, bool keepdim) {
      auto dims = red_dims(dim);
      py::gil_scoped_release r;
      return is_max ? ops::amax(x, dims, keepdim) : ops::amin(x, dims, keepdim);
    };
    EMBER_BIND_BOTH(is_max ? "amax" : "amin", f, py::arg("dim") = py::tuple(), py::arg("keepdim") = false);
    auto g = [is_max](const Tensor& x, py::object dim, bool keepdim) {
      auto d = opt_dim(dim, is_max ? "argmax" : "argmin");
      py::gil_scoped_release r;
      return is_max ? ops::argmax(x, d, keepdim) : ops::argmin(x, d, keepdim);
    };
    EMBER_BIND_BOTH(is_max ? "argmax" : "argmin", g, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  }

  // --- logical, logsumexp, norm -------------------------------------------------------------------
  for (bool is_all : {true, false}) {
    auto f = [is_all](const Tensor& x, py::object dim, bool keepdim) {
      auto dims = red_dims(dim);
      py::gil_scoped_release r;
      return is_all ? ops::all(x, dims, keepdim) : ops::any(x, dims, keepdim);
    };
    EMBER_BIND_BOTH(is_all ? "all" : "any", f, py::arg("dim") = py::none(), py::arg("keepdim") = false);
  }
  auto lsef = [](const Tensor& x, py::object dim, bool keepdim) {
    auto dims = red_dims(dim);
    py::gil_scoped_release r;
    return ops::logsumexp(x, dims, keepdim);
  };
  EMBER_BIND_BOTH("logsumexp", lsef, py::arg("dim"), py::arg("keepdim") = false);
  auto normf = [](const Tensor& x, py::object p, py::object dim, bool keepdim, py::object dtype) {
    double pv = norm_p(p);
    auto dims = red_dims(dim);
    auto dt = dtype_arg(dtype);
    py::gil_scoped_release r;
    return ops::norm(x, pv, dims, keepdim, dt);
  };
  EMBER_BIND_BOTH("norm", normf, py::arg("p") = "fro", py::arg("dim") = py::none(), py::arg("keepdim") = false,
                  py::arg("dtype") = py::none());

  // --- softmax, scans -----------------------------------------------------------------------------
  for (bool log : {false, true}) {
    auto f = [log](const Tensor& x, int64_t dim, py::object dtype) {
      auto dt = dtype_arg(dtype);
      py::gil_scoped_release r;
      return log ? ops::log_softmax(x, dim, dt) : ops::softmax(x, dim, dt);
    };
    EMBER_BIND_BOTH(log ? "log_softmax" : "softmax", f, py::arg("dim"), py::arg("dtype") = py::none());
  }
  for (bool is_prod : {false, true}) {
    auto f = [is_prod](const Tensor& x, int64_t dim, py::object dtype) {
      auto dt = dtype_arg(dtype);
      py::gil_scoped_release r;
      return is_prod ? ops::cumprod(x, dim, dt) : ops::cumsum(x, dim, dt);
    };
    EMBER_BIND_BOTH(is_prod ? "cumprod" : "cumsum", f, py::arg("dim"), py::kw_only(), py::arg("dtype") = py::none());
  }

  // --- sorting ------------------------------------------------------------------------------------
  auto sortf = [](const Tensor& x, int64_t dim, bool descending, bool stable) {
    Tensor v, i;
    {
      py::gil_scoped_release r;
      std::tie(v, i) = ops::sort(x, dim, descending, stable);
    }
    return named_pair("sort", v, i);
  };
  EMBER_BIND_BOTH("sort", sortf, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(),
                  py::arg("stable") = false);
  auto argsortf = [](const Tensor& x, int64_t dim, bool descending, bool stable) {
    py::gil_scoped_release r;
    return ops::argsort(x, dim, descending, stable);
  };
  EMBER_BIND_BOTH("argsort", argsortf, py::arg("dim") = -1, py::arg("descending") = false, py::kw_only(),
                  py::arg("stable") = false);
  auto topkf = [](const Tensor& x, int64_t k, int64_t dim, bool largest, bool sorted) {
    Tensor v, i;
    {
      py::gil_scoped_release r;
      std::tie(v, i) = ops::topk(x, k, dim, largest, sorted);
    }
    return named_pair("topk", v, i);
  };
  EMBER_BIND_BOTH("topk", topkf, py::arg("k"), py::arg("dim") = -1, py::arg("largest") = true,
                  py::arg("sorted") = true);
#undef EMBER_BIND_BOTH
}

}  // namespace ember::py_bind

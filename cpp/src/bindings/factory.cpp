// Creation functions: zeros/ones/full/empty (+ _like), arange, linspace, eye, random.
#include "common.h"

namespace ember::py_bind {

namespace {
DType dt_or(py::handle o, DType d) {
  auto x = dtype_arg(o);
  return x ? *x : d;
}
Tensor finish(Tensor t, py::handle device, bool requires_grad) {
  Device d = device_arg(device);
  EMBER_CHECK(d.is_cpu(), RuntimeError, "ember was built without CUDA: cannot create a tensor on ", d);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}
}  // namespace

void bind_factory(py::module_& m) {
  auto maker = [&m](const char* name, Scalar fill, bool uninit) {
    m.def(name, [fill, uninit, name](py::args size, py::object dtype, py::object device, bool requires_grad) {
      Shape s = shape_args(size, name);
      DType dt = dt_or(dtype, default_dtype());
      Tensor t;
      {
        py::gil_scoped_release r;
        t = uninit ? ops::empty(s, dt) : ops::full(s, fill, dt);
      }
      return finish(t, device, requires_grad);
    }, py::kw_only(), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
       py::arg("requires_grad") = false);
    std::string like = std::string(name) + "_like";
    m.def(like.c_str(), [fill, uninit](const Tensor& x, py::object dtype, py::object device, bool requires_grad) {
      DType dt = dt_or(dtype, x.dtype());
      Tensor t = uninit ? ops::empty(x.shape(), dt) : ops::full(x.shape(), fill, dt);
      return finish(t, device, requires_grad);
    }, py::arg("input"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
       py::arg("requires_grad") = false);
  };
  maker("zeros", Scalar(int64_t(0)), false);
  maker("ones", Scalar(int64_t(1)), false);
  maker("empty", Scalar(int64_t(0)), true);

  m.def("full", [](py::object size, py::object value, py::object dtype, py::object device, bool requires_grad) {
    Shape s = shape_arg(size, "full");
    auto v = as_scalar(value);
    EMBER_CHECK(v.has_value(), TypeError, "full(): argument 'fill_value' must be a number");
    DType dt = dt_or(dtype, v->is_floating() ? default_dtype() : v->natural_dtype());
    return finish(ops::full(s, *v, dt), device, requires_grad);
  }, py::arg("size"), py::arg("fill_value"), py::kw_only(), py::arg("dtype") = py::none(),
     py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def("full_like", [](const Tensor& x, py::object value, py::object dtype, py::object device, bool requires_grad) {
    auto v = as_scalar(value);
    EMBER_CHECK(v.has_value(), TypeError, "full_like(): argument 'fill_value' must be a number");
    return finish(ops::full(x.shape(), *v, dt_or(dtype, x.dtype())), device, requires_grad);
  }, py::arg("input"), py::arg("fill_value"), py::kw_only(), py::arg("dtype") = py::none(),
     py::arg("device") = py::none(), py::arg("requires_grad") = false);

  m.def("arange", [](py::object a, py::object b, py::object step, py::object dtype, py::object device,
                     bool requires_grad) {
    auto sa = as_scalar(a);
    EMBER_CHECK(sa.has_value(), TypeError, "arange(): start/end must be numbers");
    Scalar start(int64_t(0)), end = *sa;
    if (!b.is_none()) {
      start = *sa;
      auto sb = as_scalar(b);
      EMBER_CHECK(sb.has_value(), TypeError, "arange(): end must be a number");
      end = *sb;
    }
    auto st = as_scalar(step);
    EMBER_CHECK(st.has_value(), TypeError, "arange(): step must be a number");
    return finish(ops::arange(start, end, *st, dtype_arg(dtype)), device, requires_grad);
  }, py::arg("start"), py::arg("end") = py::none(), py::arg("step") = 1, py::kw_only(),
     py::arg("dtype") = py::none(), py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def("linspace", [](double s, double e, int64_t steps, py::object dtype, py::object device, bool requires_grad) {
    return finish(ops::linspace(s, e, steps, dt_or(dtype, default_dtype())), device, requires_grad);
  }, py::arg("start"), py::arg("end"), py::arg("steps"), py::kw_only(), py::arg("dtype") = py::none(),
     py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def("eye", [](int64_t n, py::object mcols, py::object dtype, py::object device, bool requires_grad) {
    int64_t mm = mcols.is_none() ? n : mcols.cast<int64_t>();
    return finish(ops::eye(n, mm, dt_or(dtype, default_dtype())), device, requires_grad);
  }, py::arg("n"), py::arg("m") = py::none(), py::kw_only(), py::arg("dtype") = py::none(),
     py::arg("device") = py::none(), py::arg("requires_grad") = false);
}

}  // namespace ember::py_bind

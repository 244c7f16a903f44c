// Bindings for the index family: Tensor.__getitem__/__setitem__ (the index expression is parsed
// here into TensorIndex entries; the walk is ops::getitem/setitem), gather/scatter, index_select,
// index_put, masked_fill/masked_select, take_along_dim, nonzero.
#include <pybind11/numpy.h>

#include "common.h"

namespace ember::py_bind {

Tensor from_numpy(py::handle arr);  // interop.cpp (zero-copy)

namespace {
using K = ops::TensorIndex::Kind;

std::optional<int64_t> slice_bound(PyObject* o) {
  if (o == Py_None) return std::nullopt;
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(o));
  if (!i) throw py::error_already_set();
  return i.cast<int64_t>();
}

// A list or numpy array used as an index -> an index tensor (int64, or bool for masks).
Tensor sequence_index(py::handle o) {
  py::module_ np = py::module_::import("numpy");
  py::array a = np.attr("asarray")(o);
  const char kind = a.dtype().kind();
  if (a.size() == 0 && kind == 'f') a = np.attr("asarray")(o, "int64");  // x[[]]
  EMBER_CHECK(kind == 'i' || kind == 'u' || kind == 'b' || a.size() == 0, IndexError,
              "tensors used as indices must be long, int, byte or bool tensors");
  if (kind == 'i' || (kind == 'u' && a.dtype().itemsize() != 1)) a = a.attr("astype")("int64");
  return from_numpy(np.attr("ascontiguousarray")(a));
}

ops::TensorIndex parse_entry(py::handle o) {
  ops::TensorIndex e;
  PyObject* p = o.ptr();
  if (p == Py_None) {
    e.kind = K::None;
  } else if (p == Py_Ellipsis) {
    e.kind = K::Ellipsis;
  } else if (PyBool_Check(p)) {
    e.kind = K::Bool;
    e.value = p == Py_True;
  } else if (PyLong_Check(p)) {
    e.kind = K::Int;
    e.value = o.cast<int64_t>();
  } else if (PySlice_Check(p)) {
    auto* s = reinterpret_cast<PySliceObject*>(p);
    e.kind = K::Slice;
    e.start = slice_bound(s->start);
    e.stop = slice_bound(s->stop);
    e.step = slice_bound(s->step);
  } else if (is_tensor(o)) {
    e.kind = K::Tensor;
    e.tensor = o.cast<Tensor>();
  } else if (PyList_Check(p) || py::isinstance<py::array>(o)) {
    e.kind = K::Tensor;
    e.tensor = sequence_index(o);
  } else if (PyIndex_Check(p) && !PyFloat_Check(p)) {  // numpy integers
    e.kind = K::Int;
    e.value = slice_bound(p).value();
  } else {
    throw IndexError(str("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
                         "indices (got ", type_name(o), ")"));
  }
  return e;
}

std::vector<ops::TensorIndex> parse_index(py::handle idx) {
  std::vector<ops::TensorIndex> out;
  if (PyTuple_Check(idx.ptr())) {
    for (auto o : idx) out.push_back(parse_entry(o));
  } else {
    out.push_back(parse_entry(idx));
  }
  return out;
}

// A value for x[...] = value or an index_put: a tensor, a number (x's dtype) or a sequence.
Tensor value_arg(py::handle v, const Tensor& x) {
  if (is_tensor(v)) return v.cast<Tensor>();
  if (auto s = as_scalar(v)) return ops::scalar_tensor(*s, x.dtype(), x.device());
  if (PyList_Check(v.ptr()) || PyTuple_Check(v.ptr()) || py::isinstance<py::array>(v)) {
    py::module_ np = py::module_::import("numpy");
    return from_numpy(np.attr("ascontiguousarray")(np.attr("asarray")(v)));
  }
  throw TypeError(str("can't assign a ", type_name(v), " to a ", dtype_name(x.dtype()), " tensor"));
}

std::vector<Tensor> index_list(py::handle seq) {
  EMBER_CHECK(PyTuple_Check(seq.ptr()) || PyList_Check(seq.ptr()), TypeError,
              "index_put(): argument 'indices' must be tuple of Tensors, not ", type_name(seq));
  std::vector<Tensor> ts;
  for (auto o : seq) ts.push_back(o.is_none() ? Tensor() : o.cast<Tensor>());
  return ts;
}

template <class F, class... A>
void both(py::module_& m, const char* name, F f, A... args) {
  m.def(name, f, py::arg("input"), args...);
  tensor_class().def(name, f, args...);
}
}  // namespace

void bind_index(py::module_& m) {
  auto& c = tensor_class();
  c.def("__getitem__", [](const Tensor& x, py::handle idx) {
    auto index = parse_index(idx);
    py::gil_scoped_release r;
    return ops::getitem(x, index);
  });
  c.def("__setitem__", [](Tensor& x, py::handle idx, py::handle value) {
    auto index = parse_index(idx);
    Tensor v = value_arg(value, x);
    py::gil_scoped_release r;
    ops::setitem(x, index, v);
  });

  both(m, "index_select", [](const Tensor& x, int64_t d, const Tensor& i) {
    py::gil_scoped_release r;
    return ops::index_select(x, d, i);
  }, py::arg("dim"), py::arg("index"));
  auto alpha_arg = [](py::handle a) {
    auto s = as_scalar(a);
    EMBER_CHECK(s.has_value(), TypeError, "index_add(): argument 'alpha' must be a number, not ", type_name(a));
    return *s;
  };
  both(m, "index_add", [alpha_arg](const Tensor& x, int64_t d, const Tensor& i, const Tensor& s, py::object alpha) {
    Scalar a = alpha_arg(alpha);
    py::gil_scoped_release r;
    return ops::index_add(x, d, i, s, a);
  }, py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(), py::arg("alpha") = 1);
  c.def("index_add_", [alpha_arg](Tensor& x, int64_t d, const Tensor& i, const Tensor& s, py::object alpha) {
    Scalar a = alpha_arg(alpha);
    py::gil_scoped_release r;
    return ops::index_add_(x, d, i, s, a);
  }, py::arg("dim"), py::arg("index"), py::arg("source"), py::kw_only(), py::arg("alpha") = 1);
  both(m, "gather", [](const Tensor& x, int64_t d, const Tensor& i) {
    py::gil_scoped_release r;
    return ops::gather(x, d, i);
  }, py::arg("dim"), py::arg("index"));
  both(m, "take_along_dim", [](const Tensor& x, const Tensor& i, std::optional<int64_t> d) {
    py::gil_scoped_release r;
    return ops::take_along_dim(x, i, d);
  }, py::arg("indices"), py::arg("dim") = py::none());

  // scatter(input, dim, index, src) / scatter(input, dim, index, value=...)
  auto scatterf = [](bool inplace) {
    return [inplace](Tensor& x, int64_t d, const Tensor& i, py::object src, py::object value) -> Tensor {
      py::object v = src.is_none() ? value : src;
      EMBER_CHECK(!v.is_none(), TypeError, "scatter(): missing argument 'src' or 'value'");
      if (is_tensor(v)) {
        Tensor s = v.cast<Tensor>();
        py::gil_scoped_release r;
        return inplace ? ops::scatter_(x, d, i, s) : ops::scatter(x, d, i, s);
      }
      auto s = as_scalar(v);
      EMBER_CHECK(s.has_value(), TypeError, "scatter(): argument 'value' must be a number, not ", type_name(v));
      py::gil_scoped_release r;
      return inplace ? ops::scatter_(x, d, i, *s) : ops::scatter(x, d, i, *s);
    };
  };
  both(m, "scatter", scatterf(false), py::arg("dim"), py::arg("index"), py::arg("src") = py::none(), py::kw_only(),
       py::arg("value") = py::none());
  c.def("scatter_", scatterf(true), py::arg("dim"), py::arg("index"), py::arg("src") = py::none(), py::kw_only(),
        py::arg("value") = py::none());
  both(m, "scatter_add", [](const Tensor& x, int64_t d, const Tensor& i, const Tensor& s) {
    py::gil_scoped_release r;
    return ops::scatter_add(x, d, i, s);
  }, py::arg("dim"), py::arg("index"), py::arg("src"));
  c.def("scatter_add_", [](Tensor& x, int64_t d, const Tensor& i, const Tensor& s) {
    py::gil_scoped_release r;
    return ops::scatter_add_(x, d, i, s);
  }, py::arg("dim"), py::arg("index"), py::arg("src"));

  both(m, "index_put", [](const Tensor& x, py::object idx, const Tensor& v, bool acc) {
    auto ts = index_list(idx);
    py::gil_scoped_release r;
    return ops::index_put(x, ts, v, acc);
  }, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false);
  auto index_put_ = [](Tensor& x, py::object idx, const Tensor& v, bool acc) {
    auto ts = index_list(idx);
    py::gil_scoped_release r;
    return ops::index_put_(x, ts, v, acc);
  };
  c.def("index_put_", index_put_, py::arg("indices"), py::arg("values"), py::arg("accumulate") = false);
  m.def("index_put_", index_put_, py::arg("input"), py::arg("indices"), py::arg("values"),
        py::arg("accumulate") = false);

  auto fill_value = [](py::handle v, const Tensor& x) -> Tensor {
    if (is_tensor(v)) return v.cast<Tensor>();
    auto s = as_scalar(v);
    EMBER_CHECK(s.has_value(), TypeError, "masked_fill(): argument 'value' must be Number or Tensor, not ",
                type_name(v));
    return ops::scalar_tensor(*s, x.dtype(), x.device());
  };
  both(m, "masked_fill", [fill_value](const Tensor& x, const Tensor& mask, py::object v) {
    Tensor value = fill_value(v, x);
    py::gil_scoped_release r;
    return ops::masked_fill(x, mask, value);
  }, py::arg("mask"), py::arg("value"));
  c.def("masked_fill_", [fill_value](Tensor& x, const Tensor& mask, py::object v) {
    Tensor value = fill_value(v, x);
    py::gil_scoped_release r;
    return ops::masked_fill_(x, mask, value);
  }, py::arg("mask"), py::arg("value"));
  both(m, "masked_select", [](const Tensor& x, const Tensor& mask) {
    py::gil_scoped_release r;
    return ops::masked_select(x, mask);
  }, py::arg("mask"));
  both(m, "nonzero", [](const Tensor& x, bool as_tuple) -> py::object {
    Tensor nz;
    {
      py::gil_scoped_release r;
      nz = ops::nonzero(x);
    }
    if (!as_tuple) return py::cast(nz);
    if (x.dim() == 0) return py::make_tuple(ops::reshape(nz, {-1}));
    auto cols = ops::unbind(nz, 1);
    py::tuple t(cols.size());
    for (size_t i = 0; i < cols.size(); ++i) t[i] = py::cast(ops::contiguous(cols[i]));
    return std::move(t);
  }, py::kw_only(), py::arg("as_tuple") = false);
}

}  // namespace ember::py_bind

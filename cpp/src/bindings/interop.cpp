// Interop: numpy (zero-copy both ways, __array__), the buffer protocol, Python scalars and lists
// out of tensors (item, tolist, __bool__/__float__/__int__/__index__), iteration along dim 0.
// Also registers the other interop files (creation.cpp, random.cpp, dlpack.cpp).
#include "interop.h"

namespace ember::py_bind {

DType dtype_from_numpy(const py::dtype& d) {
  char kind = d.kind();
  size_t sz = d.itemsize();
  if (kind == 'f' && sz == 4) return DType::Float32;
  if (kind == 'f' && sz == 8) return DType::Float64;
  if (kind == 'i' && sz == 8) return DType::Int64;
  if (kind == 'i' && sz == 4) return DType::Int32;
  if (kind == 'u' && sz == 1) return DType::UInt8;
  if (kind == 'b' && sz == 1) return DType::Bool;
  throw TypeError(str("can't convert np.ndarray of type numpy.", py::str(d).cast<std::string>(),
                      ". The only supported types are: float64, float32, int64, int32, uint8, and bool."));
}

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Bool: return py::dtype("bool");
    case DType::UInt8: return py::dtype("uint8");
    case DType::Int32: return py::dtype("int32");
    case DType::Int64: return py::dtype("int64");
    case DType::Float32: return py::dtype("float32");
    case DType::Float64: return py::dtype("float64");
  }
  throw TypeError("unsupported dtype");
}

namespace {
bool native_order(const py::dtype& d) {
  char bo = d.byteorder();
  return bo == '=' || bo == '|' || bo == (PY_LITTLE_ENDIAN ? '<' : '>');
}
}  // namespace

bool numpy_viewable(const py::array& arr) {
  try {
    dtype_from_numpy(arr.dtype());
  } catch (const TypeError&) {
    return false;
  }
  if (!native_order(arr.dtype())) return false;
  for (py::ssize_t i = 0; i < arr.ndim(); ++i)
    if (arr.strides(i) < 0 || arr.strides(i) % arr.itemsize() != 0) return false;
  return true;
}

// Zero-copy view of a numpy array (kept alive by the tensor's storage).
Tensor from_numpy(py::handle obj) {
  EMBER_CHECK(py::isinstance<py::array>(obj), TypeError, "expected np.ndarray (got ", type_name(obj), ")");
  py::array arr = py::reinterpret_borrow<py::array>(obj);
  DType dt = dtype_from_numpy(arr.dtype());
  EMBER_CHECK(native_order(arr.dtype()), ValueError,
              "given numpy array has byte order different from the native byte order. Conversion between byte "
              "orders is currently not supported.");
  const int64_t isz = static_cast<int64_t>(itemsize(dt));
  Shape shape(arr.ndim());
  Strides strides(arr.ndim());
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    shape[i] = arr.shape(i);
    EMBER_CHECK(arr.strides(i) >= 0, ValueError,
                "At least one stride in the given numpy array is negative, and tensors with negative strides are "
                "not currently supported. (You can probably work around this by making a copy of your array "
                "with array.copy().)");
    EMBER_CHECK(arr.strides(i) % isz == 0, ValueError,
                "given numpy array strides not a multiple of the element byte size. Copy the numpy array to "
                "reallocate the memory.");
    strides[i] = arr.strides(i) / isz;
  }
  int64_t span = 1;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 0) span += (shape[i] - 1) * strides[i];
  if (numel_of(shape) == 0) span = 0;
  auto* owner = new py::object(arr);
  auto storage = std::make_shared<Storage>(const_cast<void*>(arr.data()), static_cast<size_t>(span * isz), Device(),
                                           [owner](void*) {
                                             py::gil_scoped_acquire g;
                                             delete owner;
                                           });
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = dt;
  return Tensor(std::move(impl));
}

py::array to_numpy(const Tensor& t, bool force) {
  EMBER_CHECK(t.device().is_cpu(), TypeError, "numpy: can't convert ", t.device(),
              " tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.");
  EMBER_CHECK(force || !t.requires_grad(), RuntimeError,
              "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) strides[i] = t.strides()[i] * static_cast<py::ssize_t>(t.itemsize());
  auto* keep = new std::shared_ptr<Storage>(t.storage());
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
  return py::array(numpy_dtype(t.dtype()), shape, strides, t.raw_data(), base);
}

Scalar item_scalar(const Tensor& t) {
  EMBER_CHECK(t.numel() == 1, RuntimeError, "a Tensor with ", t.numel(), " elements cannot be converted to Scalar");
  EMBER_CHECK(t.device().is_cpu(), RuntimeError, "item: ember was built without CUDA");
  return dispatch_all(t.dtype(), "item", [&](auto tag) -> Scalar {
    using T = decltype(tag);
    const T v = *t.data<T>();
    if constexpr (std::is_same_v<T, bool>) return Scalar(v);
    else if constexpr (std::is_floating_point_v<T>) return Scalar(static_cast<double>(v));
    else return Scalar(static_cast<int64_t>(v));
  });
}

namespace {
py::object py_scalar(const Scalar& s) {
  if (s.is_bool()) return py::bool_(s.to<bool>());
  if (s.is_integral()) return py::int_(s.to_int());
  return py::float_(s.to_double());
}

template <class T>
PyObject* py_value(T v) {
  if constexpr (std::is_same_v<T, bool>) return PyBool_FromLong(v);
  else if constexpr (std::is_floating_point_v<T>) return PyFloat_FromDouble(static_cast<double>(v));
  else return PyLong_FromLongLong(static_cast<long long>(v));
}

// Nested lists of t's elements from p along dims [d, ndim).
template <class T>
PyObject* to_list(const Tensor& t, const T* p, int64_t d) {
  if (d == t.dim()) return py_value(*p);
  const int64_t n = t.shape()[d], st = t.strides()[d];
  PyObject* l = PyList_New(n);
  if (!l) throw py::error_already_set();
  for (int64_t i = 0; i < n; ++i) {
    PyObject* v = to_list(t, p + i * st, d + 1);
    if (!v) {
      Py_DECREF(l);
      throw py::error_already_set();
    }
    PyList_SET_ITEM(l, i, v);
  }
  return l;
}

const char* format_of(DType t) {
  switch (t) {
    case DType::Bool: return "?";
    case DType::UInt8: return "B";
    case DType::Int32: return "i";
    case DType::Int64: return "q";
    case DType::Float32: return "f";
    case DType::Float64: return "d";
  }
  return "B";
}

Scalar one_value(const Tensor& t) {
  EMBER_CHECK(t.numel() == 1, ValueError, "only one element tensors can be converted to Python scalars");
  return item_scalar(t);
}
}  // namespace

py::object item(const Tensor& t) { return py_scalar(item_scalar(t)); }

void bind_interop(py::module_& m) {
  m.def("from_numpy", &from_numpy, py::arg("ndarray"));
  auto& c = tensor_class();
  c.def("numpy", &to_numpy, py::arg("force") = false);

  // numpy 2 protocol: zero-copy unless a copy is asked for (or the dtype differs).
  c.def("__array__", [](const Tensor& t, py::object dtype, py::object copy) -> py::object {
    py::array a = to_numpy(t, false);
    const bool want_copy = !copy.is_none() && copy.cast<bool>();
    if (!dtype.is_none()) {
      py::dtype d = py::dtype::from_args(dtype);
      if (!d.equal(a.dtype())) {
        EMBER_CHECK(copy.is_none() || want_copy, ValueError, "__array__: converting a ", describe(t), " to ",
                    py::str(d).cast<std::string>(), " needs a copy, but copy=False was passed");
        return a.attr("astype")(d);
      }
    }
    return want_copy ? a.attr("copy")() : py::object(a);
  }, py::arg("dtype") = py::none(), py::arg("copy") = py::none());

  // Buffer protocol (memoryview, np.frombuffer): writable, any strides, same rules as numpy().
  c.def_buffer([](TensorImpl& impl) {
    Tensor t(std::shared_ptr<TensorImpl>(std::shared_ptr<TensorImpl>{}, &impl));  // non-owning handle
    EMBER_CHECK(t.device().is_cpu(), TypeError, "buffer: can't export a ", t.device(), " tensor");
    EMBER_CHECK(!t.requires_grad(), RuntimeError,
                "Can't export the buffer of a Tensor that requires grad. Use tensor.detach() instead.");
    std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides(t.dim());
    for (int64_t i = 0; i < t.dim(); ++i) strides[i] = t.strides()[i] * static_cast<py::ssize_t>(t.itemsize());
    return py::buffer_info(t.raw_data(), static_cast<py::ssize_t>(t.itemsize()), format_of(t.dtype()), t.dim(),
                           shape, strides, /*readonly=*/false);
  });

  c.def("item", &item);
  c.def("tolist", [](const Tensor& t) {
    EMBER_CHECK(t.device().is_cpu(), RuntimeError, "tolist: ember was built without CUDA");
    return dispatch_all(t.dtype(), "tolist", [&](auto tag) {
      using T = decltype(tag);
      return py::reinterpret_steal<py::object>(to_list(t, t.data<T>(), 0));
    });
  });
  c.def("__bool__", [](const Tensor& t) {
    EMBER_CHECK(t.numel() > 0, RuntimeError, "Boolean value of Tensor with no values is ambiguous");
    EMBER_CHECK(t.numel() == 1, RuntimeError, "Boolean value of Tensor with more than one value is ambiguous");
    return item_scalar(t).to<bool>();
  });
  c.def("__float__", [](const Tensor& t) { return one_value(t).to_double(); });
  c.def("__int__", [](const Tensor& t) { return one_value(t).to<int64_t>(); });
  c.def("__index__", [](const Tensor& t) {
    EMBER_CHECK(t.numel() == 1 && is_integral(t.dtype(), /*include_bool=*/true), TypeError,
                "only integer tensors of a single element can be converted to an index");
    return item_scalar(t).to<int64_t>();
  });
  // Iterate along dim 0 (views; differentiable, like torch's unbind).
  c.def("__iter__", [](const Tensor& t) {
    EMBER_CHECK(t.dim() > 0, TypeError, "iteration over a 0-d tensor");
    std::vector<Tensor> parts;
    {
      py::gil_scoped_release r;
      parts = ops::unbind(t, 0);
    }
    return py::iter(py::cast(parts));
  });

  bind_creation(m);
  bind_random(m);
  bind_dlpack(m);
}

}  // namespace ember::py_bind

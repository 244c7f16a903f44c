// Tensors from Python data: ember.tensor, ember.as_tensor, the legacy ember.Tensor(...) constructor
// and Tensor._make_subclass (for subclasses such as Parameter). Nested sequences are parsed in one
// pass that checks the shape and infers the dtype while collecting the leaves, then a second pass
// converts the flat leaves straight into the new tensor's memory.
#include "interop.h"

namespace ember::py_bind {

namespace {

bool is_sequence(PyObject* o) {
  if (PyList_Check(o) || PyTuple_Check(o)) return true;
  if (PyFloat_Check(o) || PyLong_Check(o) || PyUnicode_Check(o) || PyBytes_Check(o) || is_tensor(o)) return false;
  if (py::isinstance<py::array>(o)) return py::reinterpret_borrow<py::array>(o).ndim() > 0;
  return PySequence_Check(o) && !PyObject_HasAttrString(o, "dtype");  // numpy scalars are not
}

struct Parsed {
  Shape shape;
  std::vector<py::object> keep;    // the sequences whose items `leaves` borrows
  std::vector<PyObject*> leaves;   // row-major
  bool has_bool = false, has_int = false, has_float = false;
  std::optional<DType> other;      // promoted dtype of numpy scalars and one-element tensors

  DType dtype() const {
    std::optional<DType> d = other;
    auto add = [&d](DType t) { d = d ? promote_types(*d, t) : t; };
    if (has_bool) add(DType::Bool);
    if (has_int) add(DType::Int64);
    if (has_float) add(default_dtype());
    return d ? *d : default_dtype();  // an empty list is a float tensor, like torch
  }

  void leaf(PyObject* o) {
    if (PyFloat_CheckExact(o)) has_float = true;  // not np.float64 (a float subclass): it keeps its dtype
    else if (PyBool_Check(o)) has_bool = true;
    else if (PyLong_CheckExact(o)) has_int = true;
    else other = other ? promote_types(*other, leaf_dtype(o)) : leaf_dtype(o);
    leaves.push_back(o);
  }

  static DType leaf_dtype(PyObject* o) {
    py::handle h(o);
    if (is_tensor(o)) {
      Tensor t = h.cast<Tensor>();
      EMBER_CHECK(t.numel() == 1, ValueError, "only one element tensors can be converted to Python scalars");
      return t.dtype();
    }
    if (PyComplex_Check(o)) throw TypeError("tensor(): complex numbers are not supported by ember");
    if (PyUnicode_Check(o) || PyBytes_Check(o)) throw TypeError(str("new(): invalid data type '", type_name(h), "'"));
    if (py::hasattr(h, "dtype") && py::hasattr(h, "item")) {  // numpy scalar or 0-d array
      py::object d = h.attr("dtype");
      if (py::isinstance<py::dtype>(d)) return dtype_from_numpy(py::reinterpret_borrow<py::dtype>(d));
    }
    if (PyFloat_Check(o)) return default_dtype();  // float and int subclasses (IntEnum, ...)
    if (PyLong_Check(o)) return DType::Int64;
    throw RuntimeError(str("Could not infer dtype of ", type_name(h)));
  }

  void walk(PyObject* o, size_t dim) {
    if (!is_sequence(o))
      throw TypeError(str("tensor(): expected a sequence at dim ", dim, " (got ", type_name(o), "): not a sequence"));
    py::object fast = py::reinterpret_steal<py::object>(PySequence_Fast(o, "not a sequence"));
    if (!fast) throw py::error_already_set();
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(fast.ptr());
    EMBER_CHECK(n == shape[dim], ValueError, "expected sequence of length ", shape[dim], " at dim ", dim, " (got ",
                n, ")");
    PyObject** items = PySequence_Fast_ITEMS(fast.ptr());
    const bool last = dim + 1 == shape.size();
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (!last) {
        walk(items[i], dim + 1);
      } else {
        EMBER_CHECK(!is_sequence(items[i]), TypeError, "tensor(): expected a number at dim ", dim + 1, " (got ",
                    type_name(items[i]), "): the nested sequences have inconsistent depths");
        leaf(items[i]);
      }
    }
    keep.push_back(std::move(fast));
  }
};

template <class T>
T to_value(PyObject* o) {
  if (PyFloat_Check(o)) return Scalar(PyFloat_AS_DOUBLE(o)).to<T>();
  if (PyBool_Check(o)) return static_cast<T>(o == Py_True);
  if (is_tensor(o)) return item_scalar(py::handle(o).cast<Tensor>()).to<T>();
  auto s = as_scalar(o);  // ints (overflow-checked), numpy scalars
  EMBER_CHECK(s.has_value(), TypeError, "tensor(): could not convert ", type_name(o), " to a number");
  return s->to<T>();
}

Tensor from_sequence(py::handle data, std::optional<DType> dtype) {
  Parsed p;
  std::vector<py::object> firsts;
  for (py::handle cur = data; is_sequence(cur.ptr());) {  // the shape, from the first elements
    const Py_ssize_t n = PySequence_Size(cur.ptr());
    if (n < 0) throw py::error_already_set();
    p.shape.push_back(n);
    if (n == 0) break;
    firsts.push_back(py::reinterpret_steal<py::object>(PySequence_GetItem(cur.ptr(), 0)));
    if (!firsts.back()) throw py::error_already_set();
    cur = firsts.back();
  }
  if (p.shape.empty()) p.leaf(data.ptr());
  else if (numel_of(p.shape) > 0) p.walk(data.ptr(), 0);
  Tensor t = Tensor::empty(p.shape, dtype ? *dtype : p.dtype());
  dispatch_all(t.dtype(), "tensor", [&](auto tag) {
    using T = decltype(tag);
    T* out = t.data<T>();
    for (size_t i = 0; i < p.leaves.size(); ++i) out[i] = to_value<T>(p.leaves[i]);
  });
  return t;
}

Tensor from_array(py::array arr, std::optional<DType> dtype) {
  py::module_ np = py::module_::import("numpy");
  if (!numpy_viewable(arr)) {
    py::dtype native = arr.dtype().attr("newbyteorder")("=");
    arr = np.attr("ascontiguousarray")(arr, native);
  }
  Tensor view = from_numpy(arr);
  py::gil_scoped_release r;
  return ops::to_dtype(view, dtype ? *dtype : view.dtype(), /*copy=*/true);
}
}  // namespace

Tensor tensor_from_data(py::handle data, std::optional<DType> dtype) {
  if (is_tensor(data.ptr())) {
    if (PyErr_WarnEx(PyExc_UserWarning,
                     "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
                     "sourceTensor.detach().clone().requires_grad_(True), rather than ember.tensor(sourceTensor).",
                     1) < 0)
      throw py::error_already_set();
    Tensor t = data.cast<Tensor>().detach();
    py::gil_scoped_release r;
    return ops::to_dtype(t, dtype ? *dtype : t.dtype(), /*copy=*/true);
  }
  if (py::isinstance<py::array>(data)) return from_array(py::reinterpret_borrow<py::array>(data), dtype);
  if (!is_sequence(data.ptr()) && !as_scalar(data) &&
      (py::hasattr(data, "__array__") || py::hasattr(data, "__array_interface__")))
    return from_array(py::module_::import("numpy").attr("asarray")(data), dtype);
  return from_sequence(data, dtype);
}

void bind_creation(py::module_& m) {
  m.def("tensor", [](py::object data, py::object dtype, py::object device, bool requires_grad, bool pin_memory) {
    EMBER_CHECK(device_arg(device).is_cpu(), RuntimeError, "ember was built without CUDA: cannot create a tensor on ",
                device_arg(device));
    Tensor t = tensor_from_data(data, dtype_arg(dtype));
    if (requires_grad) {
      EMBER_CHECK(is_floating(t.dtype()), RuntimeError,
                  "Only Tensors of floating point and complex dtype can require gradients");
      t.set_requires_grad(true);
    }
    return t;
  }, py::arg("data"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
     py::arg("requires_grad") = false, py::arg("pin_memory") = false);

  // Shares memory with a tensor or a numpy array when dtype (and device) allow; else copies.
  m.def("as_tensor", [](py::object data, py::object dtype, py::object device) -> Tensor {
    EMBER_CHECK(device_arg(device).is_cpu(), RuntimeError, "ember was built without CUDA: cannot create a tensor on ",
                device_arg(device));
    auto dt = dtype_arg(dtype);
    if (is_tensor(data.ptr())) {
      Tensor t = data.cast<Tensor>();
      return dt && *dt != t.dtype() ? ops::to_dtype(t, *dt) : t;
    }
    if (py::isinstance<py::array>(data) && numpy_viewable(py::reinterpret_borrow<py::array>(data))) {
      Tensor t = from_numpy(data);
      return dt && *dt != t.dtype() ? ops::to_dtype(t, *dt) : t;
    }
    return tensor_from_data(data, dt);
  }, py::arg("data"), py::arg("dtype") = py::none(), py::arg("device") = py::none());

  // Legacy constructor: Tensor() / Tensor(*sizes) / Tensor(Size) -> uninitialised default-dtype
  // tensor; Tensor(sequence or array) -> default-dtype copy; Tensor(tensor) -> alias (for subclasses).
  auto& c = tensor_class();
  c.def(py::init([](py::args args, py::kwargs kwargs) {
    for (auto kv : kwargs) {
      EMBER_CHECK(kv.first.cast<std::string>() == "device", TypeError, "Tensor(): unexpected keyword argument '",
                  kv.first.cast<std::string>(), "'");
      EMBER_CHECK(device_arg(kv.second).is_cpu(), RuntimeError, "ember was built without CUDA: cannot create a "
                  "tensor on ", device_arg(kv.second));
    }
    if (args.size() == 0) return Tensor::empty({0}, default_dtype()).impl_ptr();
    bool all_ints = true;
    for (auto a : args) all_ints = all_ints && PyLong_Check(a.ptr()) && !PyBool_Check(a.ptr());
    if (all_ints) return Tensor::empty(shape_args(args, "Tensor"), default_dtype()).impl_ptr();
    EMBER_CHECK(args.size() == 1, TypeError, "Tensor(): expected sizes (ints), one sequence of numbers or one "
                "tensor, got ", args.size(), " arguments");
    py::handle a = args[0];
    if (is_tensor(a.ptr())) return a.cast<Tensor>().detach().impl_ptr();
    EMBER_CHECK(!as_scalar(a), TypeError, "new(): data must be a sequence (got ", type_name(a), ")");
    if (type_name(a) == "Size") return Tensor::empty(shape_arg(a, "Tensor"), default_dtype()).impl_ptr();
    return tensor_from_data(a, default_dtype()).impl_ptr();
  }));
  // A `cls` instance (a Python subclass of Tensor) sharing data's memory: Parameter's __new__.
  c.def_static("_make_subclass", [](py::object cls, const Tensor& data, bool require_grad) {
    py::object tensor_type = py::module_::import("ember._C").attr("Tensor");
    EMBER_CHECK(PyObject_IsSubclass(cls.ptr(), tensor_type.ptr()) == 1, TypeError,
                "_make_subclass: cls must be a subclass of Tensor, got ", py::str(cls).cast<std::string>());
    py::object obj = tensor_type.attr("__new__")(cls);
    tensor_type.attr("__init__")(obj, py::cast(data));
    if (require_grad) obj.attr("requires_grad_")(true);
    return obj;
  }, py::arg("cls"), py::arg("data"), py::arg("require_grad") = false);
}

}  // namespace ember::py_bind

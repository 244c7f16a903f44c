// ember._C: module entry, exception mapping, dtype/device objects, grad mode, threads, engine.
#include "../backend/cpu/cpu_backend.h"
#include "../backend/cpu/loops.h"
#include "common.h"

namespace ember::py_bind {

namespace {
PyObject* g_size_class = nullptr;  // ember.Size, set by the Python package at import (never freed)
py::class_<TensorImpl, std::shared_ptr<TensorImpl>>* g_tensor_class = nullptr;
}  // namespace

py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& tensor_class() { return *g_tensor_class; }
PyTypeObject* g_tensor_type = nullptr;
const py::detail::type_info* g_tensor_tinfo = nullptr;
PyObject* g_dtype_objects[kNumDTypes] = {};

std::string type_name(py::handle o) { return py::str(py::type::handle_of(o).attr("__name__")).cast<std::string>(); }

std::optional<Scalar> as_scalar(py::handle o) {
  PyObject* p = o.ptr();
  if (PyBool_Check(p)) return Scalar(p == Py_True);
  if (PyLong_Check(p)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(p, &overflow);
    if (overflow) throw ValueError("value cannot be converted to type int64 without overflow");
    return Scalar(static_cast<int64_t>(v));
  }
  if (PyFloat_Check(p)) return Scalar(PyFloat_AS_DOUBLE(p));
  // numpy scalars and 0-d arrays
  if (py::hasattr(o, "dtype") && py::hasattr(o, "item") && py::hasattr(o, "ndim") &&
      o.attr("ndim").cast<int>() == 0 && !is_tensor(o)) {
    return as_scalar(o.attr("item")());
  }
  return std::nullopt;
}

std::optional<Tensor> as_operand(py::handle o) {
  if (is_tensor(o)) return o.cast<Tensor>();
  if (auto s = as_scalar(o)) return ops::wrap_scalar(*s);
  return std::nullopt;
}

Tensor operand(py::handle o, const char* op) {
  if (auto t = as_operand(o)) return *t;
  throw TypeError(str(op, "(): argument 'other' must be Tensor or Number, not ", type_name(o)));
}

std::vector<int64_t> dims_arg(py::handle o) {
  if (o.is_none()) return {};
  if (PyLong_Check(o.ptr())) return {o.cast<int64_t>()};
  if (py::isinstance<py::sequence>(o)) {
    std::vector<int64_t> d;
    for (auto v : o) d.push_back(v.cast<int64_t>());
    EMBER_CHECK(!d.empty(), ValueError, "dim: an empty list of dims is not supported; pass dim=None to reduce all dims");
    return d;
  }
  throw TypeError(str("dim must be None, an int or a sequence of ints, not ",
                      type_name(o)));
}

Shape shape_arg(py::handle o, const char* op) {
  Shape s;
  if (PyLong_Check(o.ptr())) return {o.cast<int64_t>()};
  EMBER_CHECK(py::isinstance<py::sequence>(o) && !py::isinstance<py::str>(o), TypeError, op,
              "(): size must be a sequence of ints, not ", type_name(o));
  for (auto v : o) {
    EMBER_CHECK(PyLong_Check(v.ptr()) || py::hasattr(v, "__index__"), TypeError, op,
                "(): size must contain only ints, got ", type_name(v));
    s.push_back(py::reinterpret_borrow<py::object>(v).attr("__index__")().cast<int64_t>());
  }
  return s;
}

Shape shape_args(const py::args& args, const char* op) {
  if (args.size() == 1 && !PyLong_Check(args[0].ptr())) return shape_arg(args[0], op);
  Shape s;
  for (auto v : args) {
    EMBER_CHECK(PyLong_Check(v.ptr()), TypeError, op, "(): size must contain only ints, got ",
                type_name(v));
    s.push_back(v.cast<int64_t>());
  }
  return s;
}

py::object size_obj(const Shape& s) {
  py::tuple t(s.size());
  for (size_t i = 0; i < s.size(); ++i) t[i] = py::int_(s[i]);
  if (g_size_class) return py::reinterpret_borrow<py::object>(g_size_class)(t);
  return std::move(t);
}

std::optional<DType> dtype_arg(py::handle o) {
  if (o.is_none()) return std::nullopt;
  if (py::isinstance<DType>(o)) return o.cast<DType>();
  // Python types and numpy dtypes are accepted where torch accepts them.
  if (o.ptr() == reinterpret_cast<PyObject*>(&PyFloat_Type)) return DType::Float64;
  if (o.ptr() == reinterpret_cast<PyObject*>(&PyLong_Type)) return DType::Int64;
  if (o.ptr() == reinterpret_cast<PyObject*>(&PyBool_Type)) return DType::Bool;
  throw TypeError(str("dtype must be an ember.dtype, not ", py::str(py::repr(o)).cast<std::string>()));
}

Device device_arg(py::handle o) {
  if (o.is_none()) return Device();
  if (py::isinstance<Device>(o)) return o.cast<Device>();
  if (py::isinstance<py::str>(o)) return Device(o.cast<std::string>());
  if (PyLong_Check(o.ptr())) return Device(DeviceType::CUDA, o.cast<int>());
  throw TypeError(str("device must be an ember.device or a string, not ", py::str(py::repr(o)).cast<std::string>()));
}

void bind_core(py::module_& m) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const IndexError& e) {
      PyErr_SetString(PyExc_IndexError, e.what());
    } catch (const ValueError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const TypeError& e) {
      PyErr_SetString(PyExc_TypeError, e.what());
    } catch (const NotImplementedError& e) {
      PyErr_SetString(PyExc_NotImplementedError, e.what());
    } catch (const OutOfMemoryError& e) {
      PyErr_SetString(PyExc_MemoryError, e.what());
    } catch (const Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "ember: out of memory");
    }
  });

  auto dtype_enum = py::enum_<DType>(m, "dtype");
  dtype_enum.value("bool", DType::Bool)
      .value("uint8", DType::UInt8)
      .value("int32", DType::Int32)
      .value("int64", DType::Int64)
      .value("float32", DType::Float32)
      .value("float64", DType::Float64)
      .def("__repr__", [](DType t) { return std::string("ember.") + dtype_name(t); }, py::prepend())
      .def("__str__", [](DType t) { return std::string("ember.") + dtype_name(t); }, py::prepend())
      .def_property_readonly("is_floating_point", [](DType t) { return is_floating(t); })
      .def_property_readonly("is_signed", [](DType t) { return t != DType::Bool && t != DType::UInt8; })
      .def_property_readonly("itemsize", [](DType t) { return itemsize(t); });
  for (int i = 0; i < kNumDTypes; ++i)  // the enum's own value objects, kept for good
    g_dtype_objects[i] = py::object(dtype_enum.attr(dtype_name(static_cast<DType>(i)))).release().ptr();
  m.def("promote_types", &promote_types, py::arg("type1"), py::arg("type2"));
  m.def("get_default_dtype", &default_dtype);
  m.def("set_default_dtype", &set_default_dtype, py::arg("d"));

  py::class_<Device>(m, "device")
      .def(py::init([](const std::string& s) { return Device(s); }), py::arg("type"))
      .def(py::init([](const std::string& type, int index) {
             Device d(type);
             return Device(d.type, index);
           }),
           py::arg("type"), py::arg("index"))
      .def_property_readonly("type", [](const Device& d) { return d.is_cpu() ? "cpu" : "cuda"; })
      .def_property_readonly("index", [](const Device& d) -> py::object {
        return d.index < 0 ? py::object(py::none()) : py::object(py::int_(d.index));
      })
      .def("__eq__", [](const Device& a, py::object b) {
        if (py::isinstance<py::str>(b)) return a == Device(b.cast<std::string>());
        return py::isinstance<Device>(b) && a == b.cast<Device>();
      })
      .def("__hash__", [](const Device& d) { return static_cast<int>(d.type) * 1000 + d.index; })
      .def("__str__", &Device::str)
      .def("__repr__", [](const Device& d) {
        return d.index < 0 ? str("device(type='", d.is_cpu() ? "cpu" : "cuda", "')")
                           : str("device(type='cuda', index=", d.index, ")");
      });

  m.def("_set_size_class", [](py::object cls) { g_size_class = cls.inc_ref().ptr(); });
  m.def("get_num_threads", &cpu::get_num_threads);
  m.def("set_flush_denormal", &cpu::set_flush_denormal, py::arg("mode"),
        "Flush denormal floats to zero in CPU arithmetic (torch.set_flush_denormal); returns whether "
        "the CPU supports it (x86-64 here).");
  m.def("set_num_threads", &cpu::set_num_threads, py::arg("int"));
  m.def("_empty_cache", &cpu_allocator::empty_cache);
  m.def("_cached_bytes", &cpu_allocator::cached_bytes);
  m.def("_allocated_bytes", &cpu_allocator::allocated_bytes);
  m.def("is_grad_enabled", &GradMode::is_enabled);
  m.def("_set_grad_enabled", &GradMode::set_enabled, py::arg("mode"));
  m.def("_cuda_available", []() { return false; });
#ifdef EMBER_TRACE_PARALLEL
  // (name, n, threads, t0, t1, starts, busy) per parallel region since the last call; clears.
  m.def("_parallel_trace", []() {
    py::list out;
    for (const cpu::TraceEv& e : cpu::trace_events()) {
      py::list st, bz;
      for (int t = 0; t < std::min(e.nt, 4); ++t) {
        st.append(e.start[t]);
        bz.append(e.busy[t]);
      }
      out.append(py::make_tuple(e.name, e.n, e.nt, e.t0, e.t1, st, bz));
    }
    cpu::trace_events().clear();
    return out;
  });
#endif
  m.def("_optim_subnormal_path", []() {
    static const char* const names[] = {"chunk", "float", "safe"};
    return names[cpu::subnormal_path()];
  });
  m.def("_cpu_isa", []() {
    switch (cpu::cpu_isa()) {
      case cpu::Isa::Avx512: return "avx512";
      case cpu::Isa::Avx2: return "avx2";
      default: return "base";
    }
  });

  py::class_<Node, std::shared_ptr<Node>>(m, "Node")
      .def("name", &Node::name)
      .def_property_readonly("next_functions", [](const Node& n) {
        py::tuple t(n.next_edges.size());
        for (size_t i = 0; i < n.next_edges.size(); ++i) {
          const Edge& e = n.next_edges[i];
          t[i] = py::make_tuple(e.fn ? py::cast(e.fn) : py::none(), e.input_nr);
        }
        return t;
      })
      .def("__repr__", [](const Node& n) { return str("<", n.name(), " object at ", static_cast<const void*>(&n), ">"); });

  m.def("_backward",
        [](const std::vector<Tensor>& outputs, const std::vector<std::optional<Tensor>>& grads, bool retain_graph,
           bool create_graph, const std::vector<Tensor>& inputs) {
          TensorList g;
          for (auto& x : grads) g.push_back(x ? *x : Tensor());
          py::gil_scoped_release r;
          backward(outputs, g, retain_graph, create_graph, inputs);
        },
        py::arg("outputs"), py::arg("grad_outputs"), py::arg("retain_graph"), py::arg("create_graph"),
        py::arg("inputs"));
  // Tensor.backward() in its common form (one output, no inputs=, no retain or create_graph):
  // no Python lists to build and convert.
  m.def("_backward_one",
        [](const Tensor& output, const std::optional<Tensor>& gradient) {
          TensorList outs{output}, g{gradient ? *gradient : Tensor()};
          py::gil_scoped_release r;
          backward(outs, g, false, false);
        },
        py::arg("output"), py::arg("gradient"));
  m.def("_grad",
        [](const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
           const std::vector<std::optional<Tensor>>& grads, bool retain_graph, bool create_graph, bool allow_unused) {
          TensorList g;
          for (auto& x : grads) g.push_back(x ? *x : Tensor());
          TensorList r;
          {
            py::gil_scoped_release rel;
            r = grad(outputs, inputs, g, retain_graph, create_graph, allow_unused);
          }
          py::tuple t(r.size());
          for (size_t i = 0; i < r.size(); ++i) t[i] = py::cast(r[i]);
          return t;
        },
        py::arg("outputs"), py::arg("inputs"), py::arg("grad_outputs"), py::arg("retain_graph"),
        py::arg("create_graph"), py::arg("allow_unused"));
}

}  // namespace ember::py_bind

PYBIND11_MODULE(_C, m) {
  using namespace ember::py_bind;
  m.doc() = "Ember's C++ core: tensors, autograd and kernels";
  bind_core(m);
  // Leaked on purpose: the type object must outlive interpreter shutdown.
  g_tensor_class = new py::class_<ember::TensorImpl, std::shared_ptr<ember::TensorImpl>>(m, "Tensor", py::dynamic_attr(), py::buffer_protocol());
  g_tensor_type = reinterpret_cast<PyTypeObject*>(g_tensor_class->ptr());
  g_tensor_tinfo = py::detail::get_type_info(typeid(ember::TensorImpl));
  bind_tensor(m);
  bind_elementwise(m);
  bind_reduce(m);
  bind_shape(m);
  bind_index(m);
  bind_linalg(m);
  bind_factory(m);
  bind_interop(m);
  bind_optim(m);
  bind_conv(m);  // conv branch
  bind_loss(m);  // loss branch
  bind_poolnorm(m);
  bind_rnn(m);
  bind_function(m);
}

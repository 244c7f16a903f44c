// Tensor class: properties, autograd state, copies and conversions. Operators and op methods are
// added by the family files (elementwise.cpp, reduce.cpp, ...); Python-only sugar lives in
// python/ember/_tensor.py.
#include "common.h"

namespace ember::py_bind {

void bind_tensor(py::module_& m) {
  auto& c = tensor_class();
  // Tensor(data, requires_grad): an alias of data's memory outside any graph; this is how Python
  // subclasses such as nn.Parameter are built around an existing tensor.
  c.def(py::init([](const Tensor& data, bool requires_grad) {
          Tensor t = data.detach();
          t.set_requires_grad(requires_grad);
          return t.impl_ptr();
        }),
        py::arg("data"), py::arg("requires_grad") = false);
  c.def_property_readonly("shape", [](const Tensor& t) { return size_obj(t.shape()); })
      .def("size", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) return size_obj(t.shape());
        return py::int_(t.size(dim.cast<int64_t>()));
      }, py::arg("dim") = py::none())
      .def("stride", [](const Tensor& t, py::object dim) -> py::object {
        if (dim.is_none()) {
          py::tuple s(t.dim());
          for (int64_t i = 0; i < t.dim(); ++i) s[i] = py::int_(t.strides()[i]);
          return std::move(s);
        }
        return py::int_(t.stride(dim.cast<int64_t>()));
      }, py::arg("dim") = py::none())
      .def("storage_offset", [](Tensor& t) { return t.offset(); })
      .def("dim", [](Tensor& t) { return t.dim(); })
      .def("ndimension", [](Tensor& t) { return t.dim(); })
      .def_property_readonly("ndim", [](Tensor& t) { return t.dim(); })
      .def("numel", [](Tensor& t) { return t.numel(); })
      .def("nelement", [](Tensor& t) { return t.numel(); })
      .def("element_size", [](const Tensor& t) { return t.itemsize(); })
      .def_property_readonly("itemsize", [](const Tensor& t) { return t.itemsize(); })
      .def_property_readonly("nbytes", [](const Tensor& t) { return t.itemsize() * t.numel(); })
      .def_property_readonly("dtype", [](Tensor& t) { return t.dtype(); })
      .def_property_readonly("device", [](Tensor& t) { return t.device(); })
      .def_property_readonly("is_cuda", [](const Tensor& t) { return t.device().is_cuda(); })
      .def_property_readonly("is_cpu", [](const Tensor& t) { return t.device().is_cpu(); })
      .def("is_contiguous", [](const Tensor& t) { return t.is_contiguous(); })
      .def("is_floating_point", [](Tensor& t) { return t.is_floating_point(); })
      .def("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()); })
      .def("_is_view", [](const Tensor& t) { return t.impl()->base != nullptr; })
      .def_property_readonly("_base", [](const Tensor& t) {
        return t.impl()->base ? Tensor(t.impl()->base) : Tensor();
      })
      .def_property_readonly("_version", [](Tensor& t) { return t.version(); })
      .def("__len__", [](const Tensor& t) {
        EMBER_CHECK(t.dim() > 0, TypeError, "len() of a 0-d tensor");
        return t.shape()[0];
      })
      .def("__hash__", [](const Tensor& t) { return reinterpret_cast<intptr_t>(t.impl()) >> 4; })

      // --- autograd --------------------------------------------------------------------------
      .def_property("requires_grad", [](Tensor& t) { return t.requires_grad(); },
                    [](Tensor& t, bool r) { t.set_requires_grad(r); })
      .def("requires_grad_", [](Tensor& t, bool r) { return t.set_requires_grad(r); },
           py::arg("requires_grad") = true)
      .def_property_readonly("is_leaf", [](Tensor& t) { return t.is_leaf(); })
      .def_property_readonly("grad_fn", [](const Tensor& t) { return t.grad_fn(); })
      .def_property("grad", [](Tensor& t) { return t.grad(); }, [](Tensor& t, std::optional<Tensor> g) {
        t.set_grad(g ? *g : Tensor());
      })
      .def("_register_hook", [](const Tensor& t, py::function fn) {
        // The engine runs without the GIL: take it to call back into Python.
        auto release = [](py::object* o) { py::gil_scoped_acquire g; delete o; };
        std::shared_ptr<py::object> f(new py::object(fn), release);
        return register_hook(t, [f](const Tensor& g) -> Tensor {
          py::gil_scoped_acquire acq;
          py::object r = (*f)(py::cast(g));
          if (r.is_none()) return Tensor();
          EMBER_CHECK(is_tensor(r), TypeError, "hook returned ", type_name(r), ", expected a Tensor or None");
          return r.cast<Tensor>();
        });
      }, py::arg("hook"))
      .def("_remove_hook", [](const Tensor& t, uint64_t id) { remove_hook(t, id); })
      .def("retain_grad", [](Tensor& t) { return t.retain_grad(); })
      .def_property_readonly("retains_grad", [](Tensor& t) { return t.retains_grad(); })
      .def("detach", [](Tensor& t) { return t.detach(); })
      .def("detach_", [](Tensor& t) {
        EMBER_CHECK(!t.impl()->base || !t.requires_grad(), RuntimeError,
                    "detach_: can't detach views in-place. Use detach() instead.");
        if (t.impl()->autograd) {
          t.impl()->autograd->grad_fn.reset();
          t.impl()->autograd->requires_grad = false;
        }
        return t;
      })
      .def_property("data", [](Tensor& t) {
        // torch's .data: same memory, outside the graph, and a version counter of its own, so
        // in-place writes through it are not seen by autograd's saved-tensor checks.
        Tensor d = t.detach();
        d.impl()->version = std::make_shared<VersionCounter>();
        return d;
      }, [](Tensor& t, const Tensor& src) {
        // Rebind this tensor to src's memory and metadata, keeping autograd state (torch's .data =).
        TensorImpl* d = t.impl();
        d->storage = src.impl()->storage;
        d->shape = src.shape();
        d->strides = src.strides();
        d->offset = src.offset();
        d->dtype = src.dtype();
        d->version = src.impl()->version;
      })

      // --- copies and conversions --------------------------------------------------------------
      .def("contiguous", [](const Tensor& t) { return ops::contiguous(t); })
      .def("clone", [](const Tensor& t) { py::gil_scoped_release r; return ops::clone(t); })
      .def("_to_dtype", [](const Tensor& t, DType d, bool copy) {
        py::gil_scoped_release r;
        return ops::to_dtype(t, d, copy);
      }, py::arg("dtype"), py::arg("copy") = false)
      .def("_to_device", [](const Tensor& t, py::object d, bool copy) {
        return ops::to_device(t, device_arg(d), copy);
      }, py::arg("device"), py::arg("copy") = false)
      .def("copy_", [](Tensor& t, const Tensor& src, bool non_blocking) {
        py::gil_scoped_release r;
        return ops::copy_(t, src);
      }, py::arg("src"), py::arg("non_blocking") = false)
      .def("fill_", [](Tensor& t, py::object v) {
        if (is_tensor(v)) {
          Tensor vt = v.cast<Tensor>();
          EMBER_CHECK(vt.dim() == 0, RuntimeError, "fill_ only supports 0-dimension value tensor but got tensor with ",
                      vt.dim(), " dimensions.");
          return ops::copy_(t, vt);
        }
        auto s = as_scalar(v);
        EMBER_CHECK(s.has_value(), TypeError, "fill_(): argument 'value' must be Number or Tensor");
        return ops::fill_(t, *s);
      }, py::arg("value"))
      .def("zero_", [](Tensor& t) { return ops::zero_(t); });
}

}  // namespace ember::py_bind

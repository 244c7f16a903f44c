// Bindings for reductions: ember.sum/mean/... and the Tensor methods.
#include "common.h"

namespace ember::py_bind {

void bind_reduce(py::module_& m) {
  auto& c = tensor_class();
  auto sumf = [](const Tensor& x, py::object dim, bool keepdim, py::object dtype) {
    auto dims = dims_arg(dim);
    auto dt = dtype_arg(dtype);
    py::gil_scoped_release r;
    return ops::sum(x, dims, keepdim, dt);
  };
  m.def("sum", sumf, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
        py::arg("dtype") = py::none());
  c.def("sum", sumf, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
        py::arg("dtype") = py::none());
  auto meanf = [](const Tensor& x, py::object dim, bool keepdim, py::object dtype) {
    auto dims = dims_arg(dim);
    auto dt = dtype_arg(dtype);
    py::gil_scoped_release r;
    return ops::mean(dt ? ops::to_dtype(x, *dt) : x, dims, keepdim);
  };
  m.def("mean", meanf, py::arg("input"), py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
        py::arg("dtype") = py::none());
  c.def("mean", meanf, py::arg("dim") = py::none(), py::arg("keepdim") = false, py::kw_only(),
        py::arg("dtype") = py::none());
}

}  // namespace ember::py_bind

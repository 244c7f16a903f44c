// Bindings for the pool and norm families (poolnorm branch): private _C entry points that
// python/ember/nn/_F/poolnorm.py wraps with torch's signatures. None -> undefined tensor.
#include "common.h"
#include "ember/ops/norm.h"
#include "ember/ops/pool.h"

namespace ember::py_bind {

namespace {
Tensor opt(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }
}  // namespace

void bind_poolnorm(py::module_& m) {
  using V = std::vector<int64_t>;
  // (values, indices), or the values alone without return_indices (the backward may then keep
  // window positions instead of indices: ops/pool.cpp)
  m.def("_max_pool2d_with_indices",
        [](const Tensor& x, V k, V s, V p, V d, bool ceil_mode, bool return_indices, bool relu) -> py::object {
          std::tuple<Tensor, Tensor> r;
          {
            py::gil_scoped_release g;
            r = ops::max_pool2d_with_indices(x, k, s, p, d, ceil_mode, return_indices, relu);
          }
          if (!return_indices) return py::cast(std::get<0>(r));
          return py::cast(r);
        },
        py::arg("input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("dilation"),
        py::arg("ceil_mode"), py::arg("return_indices") = true, py::kw_only(), py::arg("relu") = false);
  m.def("_avg_pool2d",
        [](const Tensor& x, V k, V s, V p, bool ceil_mode, bool count_include_pad, std::optional<int64_t> div) {
          py::gil_scoped_release r;
          return ops::avg_pool2d(x, k, s, p, ceil_mode, count_include_pad, div);
        },
        py::arg("input"), py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("ceil_mode"),
        py::arg("count_include_pad"), py::arg("divisor_override"));
  m.def("_interp2d",
        [](const Tensor& x, const Tensor& h0, const std::optional<Tensor>& h1, const std::optional<Tensor>& lh,
           const Tensor& w0, const std::optional<Tensor>& w1, const std::optional<Tensor>& lw) {
          py::gil_scoped_release r;
          return ops::interp2d(x, h0, opt(h1), opt(lh), w0, opt(w1), opt(lw));
        },
        py::arg("input"), py::arg("h0"), py::arg("h1"), py::arg("lh"), py::arg("w0"), py::arg("w1"), py::arg("lw"),
        "F.interpolate's kernel: output row i from input rows h0[i] and h1[i] (weights 1 - lh[i], lh[i]), "
        "columns likewise; h1/lh (w1/lw) None: nearest along that dim.");
  m.def("_adaptive_avg_pool2d",
        [](const Tensor& x, V size) {
          py::gil_scoped_release r;
          return ops::adaptive_avg_pool2d(x, size);
        },
        py::arg("input"), py::arg("output_size"));
  m.def("_adaptive_max_pool2d",
        [](const Tensor& x, V size) {
          py::gil_scoped_release r;
          return ops::adaptive_max_pool2d(x, size);
        },
        py::arg("input"), py::arg("output_size"));
  m.def("_max_unpool2d",
        [](const Tensor& x, const Tensor& indices, V size) {
          py::gil_scoped_release r;
          return ops::max_unpool2d(x, indices, size);
        },
        py::arg("input"), py::arg("indices"), py::arg("output_size"));
  m.def("_batch_norm",
        [](const Tensor& x, std::optional<Tensor> rm, std::optional<Tensor> rv, std::optional<Tensor> w,
           std::optional<Tensor> b, bool training, double momentum, double eps) {
          py::gil_scoped_release r;
          return ops::batch_norm(x, opt(rm), opt(rv), opt(w), opt(b), training, momentum, eps);
        },
        py::arg("input"), py::arg("running_mean"), py::arg("running_var"), py::arg("weight"), py::arg("bias"),
        py::arg("training"), py::arg("momentum"), py::arg("eps"));
  m.def("_layer_norm",
        [](const Tensor& x, V shape, std::optional<Tensor> w, std::optional<Tensor> b, double eps) {
          py::gil_scoped_release r;
          return ops::layer_norm(x, shape, opt(w), opt(b), eps);
        },
        py::arg("input"), py::arg("normalized_shape"), py::arg("weight"), py::arg("bias"), py::arg("eps"));
  m.def("_group_norm",
        [](const Tensor& x, int64_t groups, std::optional<Tensor> w, std::optional<Tensor> b, double eps) {
          py::gil_scoped_release r;
          return ops::group_norm(x, groups, opt(w), opt(b), eps);
        },
        py::arg("input"), py::arg("num_groups"), py::arg("weight"), py::arg("bias"), py::arg("eps"));
}

}  // namespace ember::py_bind

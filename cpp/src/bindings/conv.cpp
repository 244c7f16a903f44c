// Bindings for the convolution family: ember._C.conv1d/conv2d/conv_transpose2d/unfold/fold (the
// nn.functional wrappers in python/ember/nn/_F/conv.py call these). Ints or sequences of ints are
// accepted for the size arguments; padding may also be the string 'same' or 'valid'.
#include "ember/ops/conv.h"

#include "common.h"

namespace ember::py_bind {

namespace {
std::vector<int64_t> ints_arg(py::handle o, const char* op, const char* name) {
  if (PyLong_Check(o.ptr())) return {o.cast<int64_t>()};
  if (py::isinstance<py::sequence>(o) && !py::isinstance<py::str>(o)) {
    std::vector<int64_t> v;
    for (auto e : o) {
      EMBER_CHECK(PyLong_Check(e.ptr()), TypeError, op, "(): argument '", name,
                  "' must be an int or a tuple of ints, but got an element of type ", type_name(e));
      v.push_back(e.cast<int64_t>());
    }
    return v;
  }
  throw TypeError(str(op, "(): argument '", name, "' must be an int or a tuple of ints, not ", type_name(o)));
}

// padding: str ('same' / 'valid' / anything else, which the op rejects) or int(s).
std::pair<std::vector<int64_t>, std::string> padding_arg(py::handle o, const char* op) {
  if (py::isinstance<py::str>(o)) return {{0}, o.cast<std::string>()};
  return {ints_arg(o, op, "padding"), ""};
}

Tensor opt(const std::optional<Tensor>& t) { return t ? *t : Tensor(); }
}  // namespace

void bind_conv(py::module_& m) {
  m.def("conv2d",
        [](const Tensor& x, const Tensor& w, std::optional<Tensor> b, py::object stride, py::object padding,
           py::object dilation, int64_t groups, bool relu) {
          auto s = ints_arg(stride, "conv2d", "stride"), d = ints_arg(dilation, "conv2d", "dilation");
          auto p = padding_arg(padding, "conv2d");
          py::gil_scoped_release r;
          return ops::conv2d(x, w, opt(b), s, p.first, d, groups, p.second, relu);
        },
        py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
        py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1, py::kw_only(),
        py::arg("relu") = false);
  m.def("conv1d",
        [](const Tensor& x, const Tensor& w, std::optional<Tensor> b, py::object stride, py::object padding,
           py::object dilation, int64_t groups) {
          auto s = ints_arg(stride, "conv1d", "stride"), d = ints_arg(dilation, "conv1d", "dilation");
          auto p = padding_arg(padding, "conv1d");
          py::gil_scoped_release r;
          return ops::conv1d(x, w, opt(b), s, p.first, d, groups, p.second);
        },
        py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
        py::arg("padding") = 0, py::arg("dilation") = 1, py::arg("groups") = 1);
  m.def("conv_transpose2d",
        [](const Tensor& x, const Tensor& w, std::optional<Tensor> b, py::object stride, py::object padding,
           py::object output_padding, int64_t groups, py::object dilation) {
          const char* op = "conv_transpose2d";
          auto s = ints_arg(stride, op, "stride"), p = ints_arg(padding, op, "padding");
          auto op_ = ints_arg(output_padding, op, "output_padding"), d = ints_arg(dilation, op, "dilation");
          py::gil_scoped_release r;
          return ops::conv_transpose2d(x, w, opt(b), s, p, op_, groups, d);
        },
        py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1,
        py::arg("padding") = 0, py::arg("output_padding") = 0, py::arg("groups") = 1, py::arg("dilation") = 1);
  m.def("unfold",
        [](const Tensor& x, py::object k, py::object d, py::object p, py::object s) {
          const char* op = "unfold";
          auto kk = ints_arg(k, op, "kernel_size"), dd = ints_arg(d, op, "dilation");
          auto pp = ints_arg(p, op, "padding"), ss = ints_arg(s, op, "stride");
          py::gil_scoped_release r;
          return ops::unfold(x, kk, dd, pp, ss);
        },
        py::arg("input"), py::arg("kernel_size"), py::arg("dilation") = 1, py::arg("padding") = 0,
        py::arg("stride") = 1);
  m.def("fold",
        [](const Tensor& x, py::object os, py::object k, py::object d, py::object p, py::object s) {
          const char* op = "fold";
          auto oo = ints_arg(os, op, "output_size"), kk = ints_arg(k, op, "kernel_size");
          auto dd = ints_arg(d, op, "dilation"), pp = ints_arg(p, op, "padding"), ss = ints_arg(s, op, "stride");
          py::gil_scoped_release r;
          return ops::fold(x, oo, kk, dd, pp, ss);
        },
        py::arg("input"), py::arg("output_size"), py::arg("kernel_size"), py::arg("dilation") = 1,
        py::arg("padding") = 0, py::arg("stride") = 1);
}

}  // namespace ember::py_bind

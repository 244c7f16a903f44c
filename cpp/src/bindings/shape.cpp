// Bindings for the shape family: views (view, reshape, permute, ...), slicing views (select,
// narrow, split, ...), joins (cat, stack) and shape copies (flip, roll, repeat, tril, pad).
// torch's names and signatures: functions take `input`, methods take varargs where torch does.
#include "common.h"

namespace ember::py_bind {

namespace {
py::tuple to_tuple(const std::vector<Tensor>& ts) {
  py::tuple t(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) t[i] = py::cast(ts[i]);
  return t;
}
std::vector<int64_t> int_list(py::handle o, const char* op) {
  if (PyLong_Check(o.ptr())) return {o.cast<int64_t>()};
  return shape_arg(o, op);
}
// The same function as ember.<name>(input, ...) and Tensor.<name>(...).
template <class F, class... A>
void both(py::module_& m, const char* name, F f, A... args) {
  m.def(name, f, py::arg("input"), args...);
  tensor_class().def(name, f, args...);
}
std::vector<Tensor> tensor_list(py::handle seq, const char* op) {
  EMBER_CHECK(py::isinstance<py::sequence>(seq) && !is_tensor(seq), TypeError, op,
              "(): argument 'tensors' must be a tuple or list of Tensors, not ", type_name(seq));
  std::vector<Tensor> ts;
  for (auto o : seq) {
    EMBER_CHECK(is_tensor(o), TypeError, op, "(): expected Tensor as element ", ts.size(),
                " in argument 0, but got ", type_name(o));
    ts.push_back(o.cast<Tensor>());
  }
  return ts;
}
}  // namespace

void bind_shape(py::module_& m) {
  auto& c = tensor_class();
  // --- views -------------------------------------------------------------------------------------
  c.def("view", [](const Tensor& x, py::args a) { return ops::view(x, shape_args(a, "view")); });
  c.def("reshape", [](const Tensor& x, py::args a) { return ops::reshape(x, shape_args(a, "reshape")); });
  m.def("reshape", [](const Tensor& x, py::object s) { return ops::reshape(x, shape_arg(s, "reshape")); },
        py::arg("input"), py::arg("shape"));
  c.def("expand", [](const Tensor& x, py::args a) { return ops::expand(x, shape_args(a, "expand")); });
  c.def("view_as", [](const Tensor& x, const Tensor& o) { return ops::view(x, o.shape()); }, py::arg("other"));
  c.def("reshape_as", [](const Tensor& x, const Tensor& o) { return ops::reshape(x, o.shape()); }, py::arg("other"));
  c.def("expand_as", [](const Tensor& x, const Tensor& o) { return ops::expand(x, o.shape()); }, py::arg("other"));
  both(m, "flatten", [](const Tensor& x, int64_t s, int64_t e) { return ops::flatten(x, s, e); },
       py::arg("start_dim") = 0, py::arg("end_dim") = -1);
  both(m, "unflatten", [](const Tensor& x, int64_t d, py::object s) {
    return ops::unflatten(x, d, shape_arg(s, "unflatten"));
  }, py::arg("dim"), py::arg("sizes"));
  both(m, "squeeze", [](const Tensor& x, py::object d) { return ops::squeeze(x, dims_arg(d)); },
       py::arg("dim") = py::none());
  both(m, "unsqueeze", [](const Tensor& x, int64_t d) { return ops::unsqueeze(x, d); }, py::arg("dim"));
  m.def("permute", [](const Tensor& x, py::object d) { return ops::permute(x, int_list(d, "permute")); },
        py::arg("input"), py::arg("dims"));
  c.def("permute", [](const Tensor& x, py::args a) { return ops::permute(x, shape_args(a, "permute")); });
  for (const char* name : {"transpose", "swapdims"})
    both(m, name, [](const Tensor& x, int64_t a, int64_t b) { return ops::transpose(x, a, b); }, py::arg("dim0"),
         py::arg("dim1"));
  both(m, "swapaxes", [](const Tensor& x, int64_t a, int64_t b) { return ops::transpose(x, a, b); },
       py::arg("axis0"), py::arg("axis1"));
  both(m, "t", [](const Tensor& x) { return ops::t(x); });
  c.def_property_readonly("T", [](const Tensor& x) { return ops::full_t(x); });
  c.def_property_readonly("mT", [](const Tensor& x) { return ops::matrix_t(x); });
  for (const char* name : {"movedim", "moveaxis"})
    both(m, name, [](const Tensor& x, py::object s, py::object d) {
      return ops::movedim(x, int_list(s, "movedim"), int_list(d, "movedim"));
    }, py::arg("source"), py::arg("destination"));

  both(m, "diagonal", [](const Tensor& x, int64_t o, int64_t a, int64_t b) { return ops::diagonal(x, o, a, b); },
       py::arg("offset") = 0, py::arg("dim1") = 0, py::arg("dim2") = 1);

  // --- slicing views -----------------------------------------------------------------------------
  both(m, "select", [](const Tensor& x, int64_t d, int64_t i) { return ops::select(x, d, i); }, py::arg("dim"),
       py::arg("index"));
  both(m, "narrow", [](const Tensor& x, int64_t d, int64_t s, int64_t l) { return ops::narrow(x, d, s, l); },
       py::arg("dim"), py::arg("start"), py::arg("length"));
  auto splitf = [](const Tensor& x, py::object s, int64_t d) {
    if (PyLong_Check(s.ptr())) return to_tuple(ops::split(x, s.cast<int64_t>(), d));
    return to_tuple(ops::split_with_sizes(x, shape_arg(s, "split"), d));
  };
  m.def("split", splitf, py::arg("tensor"), py::arg("split_size_or_sections"), py::arg("dim") = 0);
  c.def("split", splitf, py::arg("split_size"), py::arg("dim") = 0);
  both(m, "chunk", [](const Tensor& x, int64_t n, int64_t d) { return to_tuple(ops::chunk(x, n, d)); },
       py::arg("chunks"), py::arg("dim") = 0);
  both(m, "unbind", [](const Tensor& x, int64_t d) { return to_tuple(ops::unbind(x, d)); }, py::arg("dim") = 0);

  // --- joins and copies --------------------------------------------------------------------------
  auto catf = [](py::object ts, int64_t d) {
    auto v = tensor_list(ts, "cat");
    py::gil_scoped_release r;
    return ops::cat(v, d);
  };
  m.def("cat", catf, py::arg("tensors"), py::arg("dim") = 0);
  m.def("concat", catf, py::arg("tensors"), py::arg("dim") = 0);
  m.def("concatenate", catf, py::arg("tensors"), py::arg("axis") = 0);
  m.def("stack", [](py::object ts, int64_t d) {
    auto v = tensor_list(ts, "stack");
    py::gil_scoped_release r;
    return ops::stack(v, d);
  }, py::arg("tensors"), py::arg("dim") = 0);
  m.def("flip", [](const Tensor& x, py::object d) { return ops::flip(x, int_list(d, "flip")); }, py::arg("input"),
        py::arg("dims"));
  c.def("flip", [](const Tensor& x, py::args a) { return ops::flip(x, shape_args(a, "flip")); });
  both(m, "roll", [](const Tensor& x, py::object s, py::object d) {
    return ops::roll(x, int_list(s, "roll"), d.is_none() ? std::vector<int64_t>{} : int_list(d, "roll"));
  }, py::arg("shifts"), py::arg("dims") = py::none());
  c.def("repeat", [](const Tensor& x, py::args a) {
    Shape s = shape_args(a, "repeat");
    py::gil_scoped_release r;
    return ops::repeat(x, s);
  });
  both(m, "tril", [](const Tensor& x, int64_t k) { return ops::tril(x, k); }, py::arg("diagonal") = 0);
  both(m, "triu", [](const Tensor& x, int64_t k) { return ops::triu(x, k); }, py::arg("diagonal") = 0);
  m.def("constant_pad", [](const Tensor& x, py::object pad, py::object value) {
    auto p = int_list(pad, "constant_pad");
    auto v = as_scalar(value);
    EMBER_CHECK(v.has_value(), TypeError, "constant_pad(): argument 'value' must be a number, not ", type_name(value));
    py::gil_scoped_release r;
    return ops::constant_pad(x, p, *v);
  }, py::arg("input"), py::arg("pad"), py::arg("value") = 0);
  m.def("mode_pad", [](const Tensor& x, py::object pad, const std::string& mode) {
    auto p = int_list(pad, "pad");
    py::gil_scoped_release r;
    return ops::mode_pad(x, p, mode);
  }, py::arg("input"), py::arg("pad"), py::arg("mode"));
}

}  // namespace ember::py_bind

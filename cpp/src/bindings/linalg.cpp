// Bindings for the linalg family: ember.matmul/mm/bmm/mv/dot/outer/addmm/baddbmm, the `@`
// operator, the Tensor methods, ember._C.linear (for nn.functional.linear) and test hooks that
// pick the GEMM micro-kernel ISA.
#include "../backend/cpu/cpu_backend.h"
#include "common.h"

namespace ember::py_bind {

namespace {
Scalar scalar_arg(py::handle o, const char* op, const char* name) {
  if (auto s = as_scalar(o)) return *s;
  throw TypeError(str(op, "(): argument '", name, "' must be Number, not ", type_name(o)));
}

template <class F>
void def_binary(py::module_& m, const char* name, const char* a0, const char* a1, F f) {
  auto fn = [f](const Tensor& a, const Tensor& b) {
    py::gil_scoped_release r;
    return f(a, b);
  };
  m.def(name, fn, py::arg(a0), py::arg(a1));
  tensor_class().def(name, fn, py::arg(a1));
}

template <class F>
void def_addmm(py::module_& m, const char* name, const char* a1, const char* a2, F f) {
  auto fn = [f, name](const Tensor& c, const Tensor& a, const Tensor& b, py::object beta, py::object alpha) {
    Scalar be = scalar_arg(beta, name, "beta"), al = scalar_arg(alpha, name, "alpha");
    py::gil_scoped_release r;
    return f(c, a, b, be, al);
  };
  m.def(name, fn, py::arg("input"), py::arg(a1), py::arg(a2), py::kw_only(), py::arg("beta") = 1,
        py::arg("alpha") = 1);
  tensor_class().def(name, fn, py::arg(a1), py::arg(a2), py::kw_only(), py::arg("beta") = 1, py::arg("alpha") = 1);
}

const char* isa_name(cpu::GemmIsa isa) {
  return isa == cpu::GemmIsa::Avx512 ? "avx512" : isa == cpu::GemmIsa::Avx2 ? "avx2" : "scalar";
}
}  // namespace

void bind_linalg(py::module_& m) {
  def_binary(m, "matmul", "input", "other", [](const Tensor& a, const Tensor& b) { return ops::matmul(a, b); });
  m.def("_matmul_scaled", [](const Tensor& a, const Tensor& b, double alpha) {
    py::gil_scoped_release r;
    return ops::matmul_scaled(a, b, Scalar(alpha));
  }, py::arg("input"), py::arg("other"), py::arg("alpha"));
  def_binary(m, "mm", "input", "mat2", [](const Tensor& a, const Tensor& b) { return ops::mm(a, b); });
  def_binary(m, "bmm", "input", "mat2", [](const Tensor& a, const Tensor& b) { return ops::bmm(a, b); });
  def_binary(m, "mv", "input", "vec", [](const Tensor& a, const Tensor& b) { return ops::mv(a, b); });
  def_binary(m, "dot", "input", "tensor", [](const Tensor& a, const Tensor& b) { return ops::dot(a, b); });
  def_binary(m, "outer", "input", "vec2", [](const Tensor& a, const Tensor& b) { return ops::outer(a, b); });
  def_addmm(m, "addmm", "mat1", "mat2",
            [](const Tensor& c, const Tensor& a, const Tensor& b, Scalar be, Scalar al) { return ops::addmm(c, a, b, be, al); });
  def_addmm(m, "baddbmm", "batch1", "batch2",
            [](const Tensor& c, const Tensor& a, const Tensor& b, Scalar be, Scalar al) { return ops::baddbmm(c, a, b, be, al); });

  // `@`: a non-Tensor operand gives NotImplemented, so Python raises its usual TypeError.
  tensor_class().def("__matmul__", [](const Tensor& a, py::object b) -> py::object {
    if (!is_tensor(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    Tensor bt = b.cast<Tensor>();
    Tensor out;
    {
      py::gil_scoped_release r;
      out = ops::matmul(a, bt);
    }
    return py::cast(out);
  });
  tensor_class().def("__rmatmul__", [](const Tensor& a, py::object b) -> py::object {
    if (!is_tensor(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    Tensor bt = b.cast<Tensor>();
    Tensor out;
    {
      py::gil_scoped_release r;
      out = ops::matmul(bt, a);
    }
    return py::cast(out);
  });

  m.def("linear",
        [](const Tensor& x, const Tensor& w, std::optional<Tensor> bias) {
          py::gil_scoped_release r;
          return ops::linear(x, w, bias ? *bias : Tensor());
        },
        py::arg("input"), py::arg("weight"), py::arg("bias") = py::none());

  // Test hooks: the GEMM micro-kernel ISA ("avx512", "avx2", "scalar"); setting returns the old one.
  m.def("_gemm_isa", []() { return isa_name(cpu::gemm_isa()); });
  m.def("_set_gemm_isa", [](const std::string& name) {
    const char* old = isa_name(cpu::gemm_isa());
    cpu::GemmIsa isa = name == "avx512" ? cpu::GemmIsa::Avx512 : name == "avx2" ? cpu::GemmIsa::Avx2
                       : name == "scalar" ? cpu::GemmIsa::Scalar
                                          : throw ValueError(str("_set_gemm_isa: unknown ISA '", name, "'"));
    cpu::set_gemm_isa(isa);
    return old;
  }, py::arg("isa"));
}

}  // namespace ember::py_bind

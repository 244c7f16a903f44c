// Elementwise operators and functions: Tensor methods, dunder operators, ember.* functions, and
// the number slots that run `+ - * /` on exact tensors without the method lookup (see below).
#include <utility>

#include "common.h"

namespace ember::py_bind {

namespace {
using BinFn = Tensor (*)(const Tensor&, const Tensor&);

// Operands whose numels multiply to at most this (so the broadcast result is no larger) run without
// releasing the GIL: their kernels take well under a microsecond, about what releasing and
// re-taking the GIL costs. Larger ones release it.
constexpr int64_t kKeepGilNumel = 4096;

// f(a, b), releasing the GIL unless the operands are tiny.
template <class F>
Tensor binary_call(const Tensor& a, const Tensor& b, F f) {
  const int64_t na = a.numel(), nb = b.numel();
  if (na <= kKeepGilNumel && nb <= kKeepGilNumel && na * nb <= kKeepGilNumel) return f(a, b);
  py::gil_scoped_release rel;
  return f(a, b);
}

// Dunder with a possibly non-Tensor right operand: NotImplemented lets Python try the other side.
template <class F>
py::object dunder(const Tensor& self, py::handle other, F f) {
  auto o = as_operand(other);
  if (!o) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
  return py::cast(binary_call(self, *o, f));
}

Tensor cmp(BinaryOp op, const Tensor& a, const Tensor& b) { return ops::compare(op, a, b); }

Tensor div_mode(const Tensor& a, const Tensor& b, const std::optional<std::string>& mode) {
  if (!mode) return ops::div(a, b);
  if (*mode == "floor") return ops::floor_divide(a, b);
  if (*mode == "trunc") {
    // floating: trunc of the division, which records the (zero) gradient as torch does
    if (is_floating(ops::result_type(a, b))) return ops::unary(UnaryOp::Trunc, ops::div(a, b));
    return ops::trunc_divide(a, b);
  }
  throw ValueError(str("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '", *mode, "'"));
}

// Register f as ember.<name>(input, other) and Tensor.<name>(other).
template <class F>
void binary_fn(py::module_& m, const char* name, F f) {
  m.def(name, [f](py::object a, py::object b) {
    Tensor ta = operand(a, "input"), tb = operand(b, "other");
    py::gil_scoped_release r;
    return f(ta, tb);
  }, py::arg("input"), py::arg("other"));
  tensor_class().def(name, [f](const Tensor& a, py::object b) {
    Tensor tb = operand(b, "other");
    py::gil_scoped_release r;
    return f(a, tb);
  }, py::arg("other"));
}

template <class F>
void unary_fn(py::module_& m, const char* name, F f) {
  m.def(name, [f](const Tensor& x) { py::gil_scoped_release r; return f(x); }, py::arg("input"));
  tensor_class().def(name, [f](const Tensor& x) { py::gil_scoped_release r; return f(x); });
}

void unary_op(py::module_& m, const char* name, UnaryOp op, bool with_inplace = true) {
  unary_fn(m, name, [op](const Tensor& x) { return ops::unary(op, x); });
  if (with_inplace) {
    std::string in = std::string(name) + "_";
    tensor_class().def(in.c_str(), [op](Tensor& x) { py::gil_scoped_release r; return ops::unary_(op, x); });
    m.def(in.c_str(), [op](Tensor& x) { py::gil_scoped_release r; return ops::unary_(op, x); }, py::arg("input"));
  }
}

std::optional<Scalar> opt_scalar(py::handle o) {
  if (o.is_none()) return std::nullopt;
  auto s = as_scalar(o);
  EMBER_CHECK(s.has_value(), TypeError, "expected a number or None");
  return s;
}
// --- number slots ---------------------------------------------------------------------------------
// `a + b`, `a - b`, `a * b`, `a / b` with an exact ember.Tensor on one side and a Tensor or a Python
// number on the other run the op straight from the type's nb_* slot. Python's generic slot for a
// class defining __add__ looks the method up and calls it through pybind11's dispatcher (argument
// casters, overload loop): a third of a 1-element add. Every other case (a subclass such as
// Parameter on the left, operands that are neither) goes to the generic slot, that is to the
// __add__ / __radd__ methods bound below, so the semantics are theirs; assigning Tensor.__add__
// from Python resets the slot to the generic one.
enum NumSlot { kSlotAdd, kSlotSub, kSlotMul, kSlotDiv, kNumSlots };
binaryfunc g_generic_slot[kNumSlots];

// add / sub without alpha, as BinFn (the slots and __add__ / __sub__).
Tensor add2(const Tensor& a, const Tensor& b) { return ops::add(a, b); }
Tensor sub2(const Tensor& a, const Tensor& b) { return ops::sub(a, b); }

template <BinFn F, int S>
PyObject* number_slot(PyObject* a, PyObject* b) {
  PyTypeObject* tp = g_tensor_type;
  try {
    std::optional<Tensor> x, y;
    if (Py_TYPE(a) == tp) {
      x = py::handle(a).cast<Tensor>();
      y = as_operand(b);
    } else if (Py_TYPE(b) == tp) {
      if (auto s = as_scalar(a)) x = ops::wrap_scalar(*s);
      y = py::handle(b).cast<Tensor>();
    }
    if (!x || !y) return g_generic_slot[S](a, b);
    return py::cast(binary_call(*x, *y, F)).release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (...) {
    py::detail::try_translate_exceptions();
  }
  return nullptr;
}

void install_number_slots() {
  PyNumberMethods* nm = g_tensor_type->tp_as_number;
  g_generic_slot[kSlotAdd] = std::exchange(nm->nb_add, &number_slot<add2, kSlotAdd>);
  g_generic_slot[kSlotSub] = std::exchange(nm->nb_subtract, &number_slot<sub2, kSlotSub>);
  g_generic_slot[kSlotMul] = std::exchange(nm->nb_multiply, &number_slot<ops::mul, kSlotMul>);
  g_generic_slot[kSlotDiv] = std::exchange(nm->nb_true_divide, &number_slot<ops::div, kSlotDiv>);
}
}  // namespace

void bind_elementwise(py::module_& m) {
  auto& c = tensor_class();
  // --- arithmetic ---------------------------------------------------------------------------------
  auto add = [](py::object a, py::object b, py::object alpha) {
    Tensor ta = operand(a, "add"), tb = operand(b, "add");
    Scalar al = alpha.is_none() ? Scalar(int64_t(1)) : *as_scalar(alpha);
    py::gil_scoped_release r;
    return ops::add(ta, tb, al);
  };
  auto sub = [](py::object a, py::object b, py::object alpha) {
    Tensor ta = operand(a, "sub"), tb = operand(b, "sub");
    Scalar al = alpha.is_none() ? Scalar(int64_t(1)) : *as_scalar(alpha);
    py::gil_scoped_release r;
    return ops::sub(ta, tb, al);
  };
  m.def("add", add, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
  m.def("sub", sub, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
  m.def("subtract", sub, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
  c.def("add", add, py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
  c.def("sub", sub, py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
  c.def("subtract", sub, py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
  binary_fn(m, "mul", ops::mul);
  binary_fn(m, "multiply", ops::mul);
  binary_fn(m, "true_divide", ops::div);
  binary_fn(m, "floor_divide", ops::floor_divide);
  binary_fn(m, "remainder", ops::remainder);
  binary_fn(m, "fmod", ops::fmod);
  binary_fn(m, "maximum", ops::maximum);
  binary_fn(m, "minimum", ops::minimum);
  binary_fn(m, "atan2", ops::atan2);
  auto divf = [](py::object a, py::object b, std::optional<std::string> mode) {
    Tensor ta = operand(a, "div"), tb = operand(b, "div");
    py::gil_scoped_release r;
    return div_mode(ta, tb, mode);
  };
  m.def("div", divf, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());
  m.def("divide", divf, py::arg("input"), py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());
  c.def("div", divf, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());
  c.def("divide", divf, py::arg("other"), py::kw_only(), py::arg("rounding_mode") = py::none());

  auto powf = [](py::object a, py::object b) -> Tensor {
    auto sa = as_scalar(a);
    auto sb = as_scalar(b);
    if (sa && !sb) {
      Tensor tb = operand(b, "pow");
      py::gil_scoped_release r;
      return ops::pow(*sa, tb);
    }
    Tensor ta = operand(a, "pow");
    if (sb) {
      py::gil_scoped_release r;
      return ops::pow(ta, *sb);
    }
    Tensor tb = operand(b, "pow");
    py::gil_scoped_release r;
    return ops::pow(ta, tb);
  };
  m.def("pow", powf, py::arg("input"), py::arg("exponent"));
  c.def("pow", powf, py::arg("exponent"));

  // --- operators ---------------------------------------------------------------------------------
  c.def("__add__", [](const Tensor& a, py::object b) { return dunder(a, b, add2); });
  c.def("__radd__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::add(y, x); }); });
  c.def("__sub__", [](const Tensor& a, py::object b) { return dunder(a, b, sub2); });
  c.def("__rsub__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::sub(y, x); }); });
  c.def("__mul__", [](const Tensor& a, py::object b) { return dunder(a, b, ops::mul); });
  c.def("__rmul__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::mul(y, x); }); });
  c.def("__truediv__", [](const Tensor& a, py::object b) { return dunder(a, b, ops::div); });
  c.def("__rtruediv__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::div(y, x); }); });
  c.def("__floordiv__", [](const Tensor& a, py::object b) { return dunder(a, b, ops::floor_divide); });
  c.def("__rfloordiv__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::floor_divide(y, x); }); });
  c.def("__mod__", [](const Tensor& a, py::object b) { return dunder(a, b, ops::remainder); });
  c.def("__rmod__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::remainder(y, x); }); });
  install_number_slots();  // after __add__ ... __rtruediv__: the generic slots call them
  c.def("__pow__", [powf](py::object a, py::object b) -> py::object {
    if (!as_operand(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(powf(a, b));
  });
  c.def("__rpow__", [powf](py::object a, py::object b) -> py::object {
    if (!as_operand(b)) return py::reinterpret_borrow<py::object>(Py_NotImplemented);
    return py::cast(powf(b, a));
  });
  c.def("__neg__", [](const Tensor& a) { py::gil_scoped_release r; return ops::neg(a); });
  c.def("__pos__", [](const Tensor& a) { return a; });
  c.def("__abs__", [](const Tensor& a) { py::gil_scoped_release r; return ops::abs(a); });
  c.def("__invert__", [](const Tensor& a) {
    EMBER_CHECK(a.dtype() == DType::Bool || is_integral(a.dtype()), TypeError,
                "bitwise_not: ~ is only supported for integer and bool tensors, got ", a.dtype());
    if (a.dtype() == DType::Bool) return ops::logical_not(a);
    return ops::sub(ops::neg(a), ops::wrap_scalar(Scalar(int64_t(1))));
  });
  struct CmpDef { const char* name; const char* alias; BinaryOp op; };
  for (CmpDef d : {CmpDef{"eq", "__eq__", BinaryOp::Eq}, CmpDef{"ne", "__ne__", BinaryOp::Ne},
                   CmpDef{"lt", "__lt__", BinaryOp::Lt}, CmpDef{"le", "__le__", BinaryOp::Le},
                   CmpDef{"gt", "__gt__", BinaryOp::Gt}, CmpDef{"ge", "__ge__", BinaryOp::Ge}}) {
    BinaryOp op = d.op;
    binary_fn(m, d.name, [op](const Tensor& a, const Tensor& b) { return cmp(op, a, b); });
    c.def(d.alias, [op](const Tensor& a, py::object b) {
      return dunder(a, b, [op](const Tensor& x, const Tensor& y) { return cmp(op, x, y); });
    });
  }
  binary_fn(m, "greater", [](const Tensor& a, const Tensor& b) { return cmp(BinaryOp::Gt, a, b); });
  binary_fn(m, "less", [](const Tensor& a, const Tensor& b) { return cmp(BinaryOp::Lt, a, b); });
  binary_fn(m, "greater_equal", [](const Tensor& a, const Tensor& b) { return cmp(BinaryOp::Ge, a, b); });
  binary_fn(m, "less_equal", [](const Tensor& a, const Tensor& b) { return cmp(BinaryOp::Le, a, b); });
  binary_fn(m, "not_equal", [](const Tensor& a, const Tensor& b) { return cmp(BinaryOp::Ne, a, b); });
  binary_fn(m, "logical_and", [](const Tensor& a, const Tensor& b) { return ops::logical(BinaryOp::LogicalAnd, a, b); });
  binary_fn(m, "logical_or", [](const Tensor& a, const Tensor& b) { return ops::logical(BinaryOp::LogicalOr, a, b); });
  binary_fn(m, "logical_xor", [](const Tensor& a, const Tensor& b) { return ops::logical(BinaryOp::LogicalXor, a, b); });
  binary_fn(m, "bitwise_and", [](const Tensor& a, const Tensor& b) { return ops::bitwise(BinaryOp::BitAnd, a, b); });
  binary_fn(m, "bitwise_or", [](const Tensor& a, const Tensor& b) { return ops::bitwise(BinaryOp::BitOr, a, b); });
  binary_fn(m, "bitwise_xor", [](const Tensor& a, const Tensor& b) { return ops::bitwise(BinaryOp::BitXor, a, b); });
  c.def("__and__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::bitwise(BinaryOp::BitAnd, x, y); }); });
  c.def("__or__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::bitwise(BinaryOp::BitOr, x, y); }); });
  c.def("__xor__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::bitwise(BinaryOp::BitXor, x, y); }); });
  c.def("__rand__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::bitwise(BinaryOp::BitAnd, y, x); }); });
  c.def("__ror__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::bitwise(BinaryOp::BitOr, y, x); }); });
  c.def("__rxor__", [](const Tensor& a, py::object b) { return dunder(a, b, [](const Tensor& x, const Tensor& y) { return ops::bitwise(BinaryOp::BitXor, y, x); }); });

  // --- in-place arithmetic (methods and augmented assignment) -------------------------------------
  auto iadd = [](Tensor& a, py::object b, py::object alpha) -> Tensor& {
    Tensor tb = operand(b, "add_");
    Scalar al = alpha.is_none() ? Scalar(int64_t(1)) : *as_scalar(alpha);
    py::gil_scoped_release r;
    return ops::add_(a, tb, al);
  };
  auto isub = [](Tensor& a, py::object b, py::object alpha) -> Tensor& {
    Tensor tb = operand(b, "sub_");
    Scalar al = alpha.is_none() ? Scalar(int64_t(1)) : *as_scalar(alpha);
    py::gil_scoped_release r;
    return ops::sub_(a, tb, al);
  };
  c.def("add_", iadd, py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
  c.def("sub_", isub, py::arg("other"), py::kw_only(), py::arg("alpha") = py::none());
  c.def("__iadd__", [iadd](Tensor& a, py::object b) { return iadd(a, b, py::none()); });
  c.def("__isub__", [isub](Tensor& a, py::object b) { return isub(a, b, py::none()); });
  auto imul = [](Tensor& a, py::object b) -> Tensor& { Tensor tb = operand(b, "mul_"); py::gil_scoped_release r; return ops::mul_(a, tb); };
  auto idiv = [](Tensor& a, py::object b) -> Tensor& { Tensor tb = operand(b, "div_"); py::gil_scoped_release r; return ops::div_(a, tb); };
  auto ipow = [](Tensor& a, py::object b) -> Tensor& { Tensor tb = operand(b, "pow_"); py::gil_scoped_release r; return ops::pow_(a, tb); };
  c.def("mul_", imul, py::arg("other"));
  c.def("div_", idiv, py::arg("other"));
  c.def("pow_", ipow, py::arg("exponent"));
  c.def("__imul__", imul);
  c.def("__itruediv__", idiv);
  c.def("__ipow__", ipow);

  // --- unary ---------------------------------------------------------------------------------------
  struct UDef { const char* name; UnaryOp op; };
  for (UDef d : {UDef{"neg", UnaryOp::Neg}, UDef{"negative", UnaryOp::Neg}, UDef{"abs", UnaryOp::Abs},
                 UDef{"absolute", UnaryOp::Abs}, UDef{"sign", UnaryOp::Sign}, UDef{"exp", UnaryOp::Exp},
                 UDef{"exp2", UnaryOp::Exp2}, UDef{"expm1", UnaryOp::Expm1}, UDef{"log", UnaryOp::Log},
                 UDef{"log2", UnaryOp::Log2}, UDef{"log10", UnaryOp::Log10}, UDef{"log1p", UnaryOp::Log1p},
                 UDef{"sqrt", UnaryOp::Sqrt}, UDef{"rsqrt", UnaryOp::Rsqrt}, UDef{"sin", UnaryOp::Sin},
                 UDef{"cos", UnaryOp::Cos}, UDef{"tan", UnaryOp::Tan}, UDef{"asin", UnaryOp::Asin},
                 UDef{"acos", UnaryOp::Acos}, UDef{"atan", UnaryOp::Atan}, UDef{"sinh", UnaryOp::Sinh},
                 UDef{"cosh", UnaryOp::Cosh}, UDef{"asinh", UnaryOp::Asinh}, UDef{"acosh", UnaryOp::Acosh},
                 UDef{"atanh", UnaryOp::Atanh}, UDef{"tanh", UnaryOp::Tanh}, UDef{"sigmoid", UnaryOp::Sigmoid},
                 UDef{"relu", UnaryOp::Relu}, UDef{"floor", UnaryOp::Floor}, UDef{"ceil", UnaryOp::Ceil},
                 UDef{"round", UnaryOp::Round}, UDef{"trunc", UnaryOp::Trunc}, UDef{"reciprocal", UnaryOp::Reciprocal},
                 UDef{"square", UnaryOp::Square}, UDef{"erf", UnaryOp::Erf}})
    unary_op(m, d.name, d.op);
  for (UDef d : {UDef{"logical_not", UnaryOp::LogicalNot}, UDef{"isnan", UnaryOp::IsNan}, UDef{"isinf", UnaryOp::IsInf},
                 UDef{"isfinite", UnaryOp::IsFinite}, UDef{"isposinf", UnaryOp::IsPosInf},
                 UDef{"isneginf", UnaryOp::IsNegInf}})
    unary_op(m, d.name, d.op, false);
  // Activation kernels used by ember.nn.functional.
  m.def("_softplus", [](const Tensor& x) { py::gil_scoped_release r; return ops::unary(UnaryOp::Softplus, x); });
  m.def("_silu", [](const Tensor& x) { py::gil_scoped_release r; return ops::unary(UnaryOp::Silu, x); });
  m.def("_gelu", [](const Tensor& x, bool tanh) {
    py::gil_scoped_release r;
    return ops::unary(tanh ? UnaryOp::GeluTanh : UnaryOp::Gelu, x);
  }, py::arg("input"), py::arg("tanh") = false);
  m.def("_huber", [](const Tensor& d, double delta) { py::gil_scoped_release r; return ops::huber(d, delta); },
        py::arg("input"), py::arg("delta"));
  m.def("_smooth_l1", [](const Tensor& d, double beta) { py::gil_scoped_release r; return ops::smooth_l1(d, beta); },
        py::arg("input"), py::arg("beta"));
  m.def("_leaky_relu", [](const Tensor& x, double s) { py::gil_scoped_release r; return ops::leaky_relu(x, s); },
        py::arg("input"), py::arg("negative_slope") = 0.01);
  m.def("_hardtanh", [](const Tensor& x, double lo, double hi) { py::gil_scoped_release r; return ops::hardtanh(x, lo, hi); },
        py::arg("input"), py::arg("min_val") = -1.0, py::arg("max_val") = 1.0);
  m.def("_elu",
        [](const Tensor& x, double alpha, double scale, double input_scale) {
          py::gil_scoped_release r;
          return ops::elu(x, alpha, scale, input_scale);
        },
        py::arg("input"), py::arg("alpha") = 1.0, py::arg("scale") = 1.0, py::arg("input_scale") = 1.0);
  m.def("_hardsigmoid", [](const Tensor& x) { py::gil_scoped_release r; return ops::unary(UnaryOp::Hardsigmoid, x); });
  m.def("_hardswish", [](const Tensor& x) { py::gil_scoped_release r; return ops::unary(UnaryOp::Hardswish, x); });
  m.def("_log_sigmoid", [](const Tensor& x) { py::gil_scoped_release r; return ops::unary(UnaryOp::LogSigmoid, x); });

  auto clampf = [](const Tensor& x, py::object min, py::object max) {
    bool tmin = is_tensor(min), tmax = is_tensor(max);
    if (tmin || tmax) {
      std::optional<Tensor> lo, hi;
      if (!min.is_none()) lo = operand(min, "clamp");
      if (!max.is_none()) hi = operand(max, "clamp");
      py::gil_scoped_release r;
      return ops::clamp(x, lo ? &*lo : nullptr, hi ? &*hi : nullptr);
    }
    auto lo = opt_scalar(min), hi = opt_scalar(max);
    py::gil_scoped_release r;
    return ops::clamp(x, lo, hi);
  };
  for (const char* n : {"clamp", "clip"}) {
    m.def(n, clampf, py::arg("input"), py::arg("min") = py::none(), py::arg("max") = py::none());
    c.def(n, clampf, py::arg("min") = py::none(), py::arg("max") = py::none());
  }
  auto clamp_ = [](Tensor& x, py::object min, py::object max) -> Tensor& {
    if (is_tensor(min) || is_tensor(max)) {
      std::optional<Tensor> lo, hi;
      if (!min.is_none()) lo = operand(min, "clamp_");
      if (!max.is_none()) hi = operand(max, "clamp_");
      py::gil_scoped_release r;
      return ops::copy_(x, ops::clamp(x, lo ? &*lo : nullptr, hi ? &*hi : nullptr));
    }
    auto lo = opt_scalar(min), hi = opt_scalar(max);
    py::gil_scoped_release r;
    return ops::clamp_(x, lo, hi);
  };
  c.def("clamp_", clamp_, py::arg("min") = py::none(), py::arg("max") = py::none());
  c.def("clip_", clamp_, py::arg("min") = py::none(), py::arg("max") = py::none());

  auto wheref = [](const Tensor& cond, py::object a, py::object b) {
    Tensor ta = operand(a, "where"), tb = operand(b, "where");
    py::gil_scoped_release r;
    return ops::where(cond, ta, tb);
  };
  m.def("where", wheref, py::arg("condition"), py::arg("input"), py::arg("other"));
  c.def("where", [wheref](const Tensor& self, const Tensor& cond, py::object other) {
    return wheref(cond, py::cast(self), other);
  }, py::arg("condition"), py::arg("other"));
  m.def("result_type", [](py::object a, py::object b) {
    return ops::result_type(operand(a, "result_type"), operand(b, "result_type"));
  }, py::arg("tensor1"), py::arg("tensor2"));
}

}  // namespace ember::py_bind

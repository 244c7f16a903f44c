// Elementwise ops: forward (promotion, broadcasting, kernel call) and backward side by side.
// Backward formulas return gradients in the broadcast shape; the engine sums them back.
#include <cmath>

#include "common.h"

namespace ember::ops {

// --- type promotion -------------------------------------------------------------------------------
namespace {
DType combine_categories(DType higher, DType lower) {
  if (is_floating(higher)) return higher;
  if (higher == DType::Bool || is_floating(lower)) return promote_types(higher, lower);
  return higher;
}
}  // namespace

DType result_type(const Tensor& a, const Tensor& b) {
  // Three tiers like torch: dimensioned tensors, 0-d tensors, wrapped numbers.
  std::optional<DType> dim_t, zero_t, wrapped_t;
  for (const Tensor* t : {&a, &b}) {
    DType dt = t->dtype();
    std::optional<DType>* slot = t->impl()->wrapped_number ? &wrapped_t : t->dim() == 0 ? &zero_t : &dim_t;
    if (t->impl()->wrapped_number && is_floating(dt)) dt = default_dtype();
    *slot = *slot ? promote_types(**slot, dt) : dt;
  }
  auto comb = [](std::optional<DType> h, std::optional<DType> l) -> std::optional<DType> {
    if (!h) return l;
    if (!l) return h;
    return combine_categories(*h, *l);
  };
  return *comb(dim_t, comb(zero_t, wrapped_t));
}

// --- binary forward helper ------------------------------------------------------------------------
namespace {

Tensor binary_raw(BinaryOp op, const Tensor& a, const Tensor& b, DType compute, const char* name) {
  check_same_device(a, b, name);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor ac, bc;  // casts only where needed (no reference-count traffic on the common path)
  if (a.dtype() != compute) ac = cast_raw(a, compute);
  if (b.dtype() != compute) bc = cast_raw(b, compute);
  Tensor out = Tensor::empty(shape, binary_op_returns_bool(op) ? DType::Bool : compute,
                             a.impl()->wrapped_number ? b.device() : a.device());
  backend_of(out).binary(op, ac.defined() ? ac : a, bc.defined() ? bc : b, out);
  return out;
}

// a + alpha * b in one pass (add / sub with alpha != 1), as binary_raw.
Tensor add_scaled_raw(const Tensor& a, const Tensor& b, Scalar alpha, DType compute, const char* name) {
  check_same_device(a, b, name);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor ac = a.dtype() != compute ? cast_raw(a, compute) : a;
  Tensor bc = b.dtype() != compute ? cast_raw(b, compute) : b;
  Tensor out = Tensor::empty(shape, compute, a.impl()->wrapped_number ? b.device() : a.device());
  backend_of(out).add_scaled(ac, bc, alpha, out);
  return out;
}

void check_int_division(const Tensor& b, DType compute, const char* name) {
  if (is_floating(compute)) return;
  Tensor zero = binary_raw(BinaryOp::Eq, b, wrap_scalar(Scalar(int64_t(0))), b.dtype(), name);
  EMBER_CHECK(!any_true(zero), RuntimeError, name, ": ZeroDivisionError (integer division by zero)");
}

}  // namespace

// --- arithmetic with autograd --------------------------------------------------------------------
namespace {
struct AddBackward : Node {
  Scalar alpha;
  std::string name() const override { return "AddBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d(a + alpha*b) = (g, alpha*g)
    Tensor gb;
    if (needs_input_grad(1)) gb = alpha.to_double() == 1.0 ? g[0] : mul(g[0], wrap_scalar(alpha));
    return {g[0], gb};
  }
};
struct SubBackward : Node {
  Scalar alpha;
  std::string name() const override { return "SubBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d(a - alpha*b) = (g, -alpha*g)
    Tensor gb;
    if (needs_input_grad(1)) gb = alpha.to_double() == 1.0 ? neg(g[0]) : mul(g[0], wrap_scalar(Scalar(-alpha.to_double())));
    return {g[0], gb};
  }
};
struct MulBackward : Node {
  SavedVariable a, b;
  std::string name() const override { return "MulBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d(a*b) = (g*b, g*a)
    return {needs_input_grad(0) ? mul(g[0], b.unpack(this)) : Tensor(),
            needs_input_grad(1) ? mul(g[0], a.unpack(this)) : Tensor()};
  }
  void release_variables() override { a.reset(); b.reset(); }
};
struct DivBackward : Node {
  SavedVariable a, b;
  std::string name() const override { return "DivBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d(a/b) = (g/b, -g*a/b^2)
    Tensor bv = b.unpack(this);
    Tensor ga = needs_input_grad(0) ? div(g[0], bv) : Tensor();
    Tensor gb = needs_input_grad(1) ? neg(div(mul(g[0], a.unpack(this)), mul(bv, bv))) : Tensor();
    return {ga, gb};
  }
  void release_variables() override { a.reset(); b.reset(); }
};
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha) {
  DType rt = result_type(a, b);
  Tensor out;
  if (alpha.to_double() == 1.0) {
    out = binary_raw(BinaryOp::Add, a, b, rt, "add");
  } else {
    EMBER_CHECK(is_floating(rt) || !alpha.is_floating(), RuntimeError,
                "add: for integral input tensors, argument alpha must not be a floating point number.");
    out = add_scaled_raw(a, b, alpha, rt, "add");
  }
  if (auto node = make_node<AddBackward>({a, b})) {
    node->alpha = alpha;
    set_history(out, node);
  }
  return out;
}

namespace {
// torch refuses bool operands in subtraction (one or both; a Python bool counts).
void check_sub_operands(const Tensor& a, const Tensor& b, const char* name) {
  EMBER_CHECK(a.dtype() != DType::Bool || b.dtype() != DType::Bool, TypeError, name,
              ": subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
              "`logical_xor()` operator instead.");
  EMBER_CHECK(a.dtype() != DType::Bool && b.dtype() != DType::Bool, TypeError, name,
              ": subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
              "invert a mask, use the `~` or `logical_not()` operator instead.");
}
}  // namespace

namespace {
Scalar negated(Scalar s) {  // -alpha in alpha's own kind
  if (s.is_floating()) return Scalar(-s.to_double());
  return Scalar(static_cast<int64_t>(0 - static_cast<uint64_t>(s.to_int())));
}
}  // namespace

Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha) {
  check_sub_operands(a, b, "sub");
  DType rt = result_type(a, b);
  Tensor out;
  if (alpha.to_double() == 1.0) {
    out = binary_raw(BinaryOp::Sub, a, b, rt, "sub");
  } else {
    out = add_scaled_raw(a, b, negated(alpha), rt, "sub");  // torch: sub is add with -alpha
  }
  if (auto node = make_node<SubBackward>({a, b})) {
    node->alpha = alpha;
    set_history(out, node);
  }
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary_raw(BinaryOp::Mul, a, b, result_type(a, b), "mul");
  if (auto node = make_node<MulBackward>({a, b})) {
    if (node->needs_input_grad(1)) node->a = SavedVariable(a, false);
    if (node->needs_input_grad(0)) node->b = SavedVariable(b, false);
    set_history(out, node);
  }
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  DType rt = result_type(a, b);
  if (!is_floating(rt)) rt = default_dtype();  // true division
  Tensor out = binary_raw(BinaryOp::Div, a, b, rt, "div");
  if (auto node = make_node<DivBackward>({a, b})) {
    if (node->needs_input_grad(1)) node->a = SavedVariable(a, false);
    node->b = SavedVariable(b, false);
    set_history(out, node);
  }
  return out;
}

// --- other binary ops -----------------------------------------------------------------------------
namespace {
struct PowBackward : Node {  // a ** b
  SavedVariable a, b, y;
  std::string name() const override { return "PowBackward1"; }
  TensorList apply(TensorList&& g) override {
    Tensor av = a.unpack(this), bv = b.unpack(this);
    // d(a^b) = (g * b * a^(b-1), g * a^b * log(a)); the exponent's gradient is 0 where a == 0 and b >= 0
    Tensor ga = needs_input_grad(0) ? mul(g[0], mul(bv, pow(av, sub(bv, wrap_scalar(Scalar(1.0)))))) : Tensor();
    Tensor gb;
    if (needs_input_grad(1)) {
      Tensor safe = where(compare(BinaryOp::Eq, av, wrap_scalar(Scalar(0.0))), ones_like(av), av);
      Tensor t = mul(g[0], mul(y.unpack(this), log(safe)));
      gb = where(logical(BinaryOp::LogicalAnd, compare(BinaryOp::Eq, av, wrap_scalar(Scalar(0.0))),
                         compare(BinaryOp::Ge, bv, wrap_scalar(Scalar(0.0)))),
                 zeros_like(t), t);
    }
    return {ga, gb};
  }
  void release_variables() override { a.reset(); b.reset(); y.reset(); }
};
struct MaxMinBackward : Node {  // maximum / minimum: the gradient goes to the chosen side, split on ties
  SavedVariable a, b;
  bool is_max = true;
  std::string name() const override { return is_max ? "MaximumBackward0" : "MinimumBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor av = a.unpack(this), bv = b.unpack(this);
    BinaryOp wins = is_max ? BinaryOp::Gt : BinaryOp::Lt;
    Tensor half = mul(g[0], wrap_scalar(Scalar(0.5)));
    Tensor tie = compare(BinaryOp::Eq, av, bv);
    Tensor ga = where(compare(wins, av, bv), g[0], where(tie, half, zeros_like(g[0])));
    Tensor gb = where(compare(wins, bv, av), g[0], where(tie, half, zeros_like(g[0])));
    return {ga, gb};
  }
  void release_variables() override { a.reset(); b.reset(); }
};
struct Atan2Backward : Node {
  SavedVariable a, b;
  std::string name() const override { return "Atan2Backward0"; }
  TensorList apply(TensorList&& g) override {
    // d atan2(a, b) = (g*b/(a^2+b^2), -g*a/(a^2+b^2))
    Tensor av = a.unpack(this), bv = b.unpack(this);
    Tensor r = add(mul(av, av), mul(bv, bv));
    return {div(mul(g[0], bv), r), neg(div(mul(g[0], av), r))};
  }
  void release_variables() override { a.reset(); b.reset(); }
};
struct WhereBackward : Node {
  SavedVariable cond;
  std::string name() const override { return "WhereBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d where(c, a, b) = (-, g*c, g*!c)
    Tensor c = cond.unpack(this);
    Tensor z = zeros_like(g[0]);
    return {Tensor(), needs_input_grad(1) ? where(c, g[0], z) : Tensor(),
            needs_input_grad(2) ? where(c, z, g[0]) : Tensor()};
  }
  void release_variables() override { cond.reset(); }
};
}  // namespace

Tensor floor_divide(const Tensor& a, const Tensor& b) {
  DType rt = result_type(a, b);
  check_int_division(b, rt, "floor_divide");
  return binary_raw(BinaryOp::FloorDiv, a, b, rt, "floor_divide");  // piecewise constant: no grad
}

Tensor remainder(const Tensor& a, const Tensor& b) {
  DType rt = result_type(a, b);
  check_int_division(b, rt, "remainder");
  Tensor out = binary_raw(BinaryOp::Remainder, a, b, rt, "remainder");
  // d(a mod b) = (g, -g * floor_divide(a, b))
  struct RemainderBackward : Node {
    SavedVariable a, b;
    std::string name() const override { return "RemainderBackward0"; }
    TensorList apply(TensorList&& g) override {
      Tensor gb;
      if (needs_input_grad(1)) gb = neg(mul(g[0], floor_divide(a.unpack(this), b.unpack(this))));
      return {g[0], gb};
    }
    void release_variables() override { a.reset(); b.reset(); }
  };
  if (auto node = make_node<RemainderBackward>({a, b})) {
    if (node->needs_input_grad(1)) node->a = SavedVariable(a, false), node->b = SavedVariable(b, false);
    set_history(out, node);
  }
  return out;
}

Tensor fmod(const Tensor& a, const Tensor& b) {
  DType rt = result_type(a, b);
  check_int_division(b, rt, "fmod");
  Tensor out = binary_raw(BinaryOp::Fmod, a, b, rt, "fmod");
  // d fmod(a, b) = (g, -g * trunc(a / b))
  struct FmodBackward : Node {
    SavedVariable a, b;
    std::string name() const override { return "FmodBackward0"; }
    TensorList apply(TensorList&& g) override {
      Tensor gb;
      if (needs_input_grad(1)) gb = neg(mul(g[0], trunc_divide(a.unpack(this), b.unpack(this))));
      return {g[0], gb};
    }
    void release_variables() override { a.reset(); b.reset(); }
  };
  if (auto node = make_node<FmodBackward>({a, b})) {
    if (node->needs_input_grad(1)) node->a = SavedVariable(a, false), node->b = SavedVariable(b, false);
    set_history(out, node);
  }
  return out;
}

Tensor trunc_divide(const Tensor& a, const Tensor& b) {
  DType rt = result_type(a, b);
  check_int_division(b, rt, "div");
  return binary_raw(BinaryOp::TruncDiv, a, b, rt, "div");  // piecewise constant: no grad
}

Tensor pow(const Tensor& a, const Tensor& b) {
  DType rt = result_type(a, b);
  if (!is_floating(rt))
    EMBER_CHECK(!any_true(binary_raw(BinaryOp::Lt, b, wrap_scalar(Scalar(int64_t(0))), b.dtype(), "pow")),
                RuntimeError, "pow: integers to negative integer powers are not allowed.");
  Tensor out = binary_raw(BinaryOp::Pow, a, b, rt, "pow");
  if (auto node = make_node<PowBackward>({a, b})) {
    node->a = SavedVariable(a, false);
    node->b = SavedVariable(b, false);
    if (node->needs_input_grad(1)) node->y = SavedVariable(out, true);
    set_history(out, node);
  }
  return out;
}

Tensor pow(const Tensor& a, Scalar exponent) {
  DType rt = result_type(a, wrap_scalar(exponent));
  Tensor x = cast_raw(a, rt);
  UnaryParams p;
  p.p0 = exponent.to_double();
  Tensor out = Tensor::empty(a.shape(), rt, a.device());
  backend_of(out).unary(UnaryOp::PowScalar, x, out, p);
  struct PowScalarBackward : Node {
    SavedVariable x;
    double e;
    std::string name() const override { return "PowBackward0"; }
    TensorList apply(TensorList&& g) override {
      // d(x^e) = g * e * x^(e-1)
      if (e == 0.0) return {zeros_like(g[0])};
      Tensor xv = x.unpack(this);
      return {mul(g[0], mul(pow(xv, Scalar(e - 1.0)), wrap_scalar(Scalar(e))))};
    }
    void release_variables() override { x.reset(); }
  };
  if (auto node = make_node<PowScalarBackward>({a})) {
    node->x = SavedVariable(a, false);
    node->e = exponent.to_double();
    set_history(out, node);
  }
  return out;
}

Tensor pow(Scalar base, const Tensor& exponent) {
  Tensor b = wrap_scalar(base);
  DType rt = result_type(b, exponent);
  Tensor x = cast_raw(exponent, rt);
  UnaryParams p;
  p.p0 = base.to_double();
  Tensor out = Tensor::empty(exponent.shape(), rt, exponent.device());
  backend_of(out).unary(UnaryOp::RPowScalar, x, out, p);
  struct RPowBackward : Node {
    SavedVariable y;
    double base;
    std::string name() const override { return "PowBackward2"; }
    TensorList apply(TensorList&& g) override {
      // d(b^x) = g * b^x * log(b)  (0 where b == 0)
      if (base == 0.0) return {zeros_like(g[0])};
      return {mul(g[0], mul(y.unpack(this), wrap_scalar(Scalar(std::log(base)))))};
    }
    void release_variables() override { y.reset(); }
  };
  if (auto node = make_node<RPowBackward>({exponent})) {
    node->base = base.to_double();
    node->y = SavedVariable(out, true);
    set_history(out, node);
  }
  return out;
}

static Tensor max_min(const Tensor& a, const Tensor& b, bool is_max) {
  const char* name = is_max ? "maximum" : "minimum";
  Tensor out = binary_raw(is_max ? BinaryOp::Maximum : BinaryOp::Minimum, a, b, result_type(a, b), name);
  if (auto node = make_node<MaxMinBackward>({a, b})) {
    node->a = SavedVariable(a, false);
    node->b = SavedVariable(b, false);
    node->is_max = is_max;
    set_history(out, node);
  }
  return out;
}
Tensor maximum(const Tensor& a, const Tensor& b) { return max_min(a, b, true); }
Tensor minimum(const Tensor& a, const Tensor& b) { return max_min(a, b, false); }

Tensor atan2(const Tensor& a, const Tensor& b) {
  DType rt = result_type(a, b);
  if (!is_floating(rt)) rt = default_dtype();
  Tensor out = binary_raw(BinaryOp::Atan2, a, b, rt, "atan2");
  if (auto node = make_node<Atan2Backward>({a, b})) {
    node->a = SavedVariable(a, false);
    node->b = SavedVariable(b, false);
    set_history(out, node);
  }
  return out;
}

Tensor compare(BinaryOp op, const Tensor& a, const Tensor& b) {
  return binary_raw(op, a, b, result_type(a, b), "comparison");
}

Tensor logical(BinaryOp op, const Tensor& a, const Tensor& b) {
  return binary_raw(op, a, b, result_type(a, b), "logical");
}

Tensor bitwise(BinaryOp op, const Tensor& a, const Tensor& b) {
  DType rt = result_type(a, b);
  EMBER_CHECK(!is_floating(rt), TypeError, "bitwise: expected integral or bool tensors, got ", a.dtype(), " and ",
              b.dtype());
  return binary_raw(op, a, b, rt, "bitwise");
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  EMBER_CHECK(cond.dtype() == DType::Bool, TypeError, "where: expected condition to be a bool tensor, got ",
              cond.dtype());
  check_same_device(cond, a, "where");
  check_same_device(a, b, "where");
  DType rt = result_type(a, b);
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = Tensor::empty(shape, rt, cond.device());
  backend_of(out).where(cond, cast_raw(a, rt), cast_raw(b, rt), out);
  if (auto node = make_node<WhereBackward>({cond, a, b})) {
    node->cond = SavedVariable(cond, false);
    set_history(out, node);
  }
  return out;
}

// --- unary ops --------------------------------------------------------------------------------------
namespace {

struct UnaryInfo {
  const char* name;   // torch's backward node name stem
  bool float_only;    // integer inputs are promoted to the default float dtype
  bool saves_x, saves_y;
};

UnaryInfo info(UnaryOp op) {
  switch (op) {
    case UnaryOp::Neg: return {"Neg", false, false, false};
    case UnaryOp::Abs: return {"Abs", false, true, false};
    case UnaryOp::Sign: return {"Sign", false, false, false};
    case UnaryOp::Square: return {"Pow", false, true, false};
    case UnaryOp::Relu: return {"Relu", false, false, true};
    case UnaryOp::Floor: return {"Floor", false, false, false};
    case UnaryOp::Ceil: return {"Ceil", false, false, false};
    case UnaryOp::Round: return {"Round", false, false, false};
    case UnaryOp::Trunc: return {"Trunc", false, false, false};
    case UnaryOp::Clamp: return {"Clamp", false, true, false};
    case UnaryOp::PowScalar: return {"Pow", false, true, false};
    case UnaryOp::RPowScalar: return {"Pow", true, false, true};
    case UnaryOp::LeakyRelu: return {"LeakyRelu", true, true, false};
    case UnaryOp::Huber: return {"HuberLoss", true, true, false};
    case UnaryOp::SmoothL1: return {"SmoothL1Loss", true, true, false};
    case UnaryOp::Hardtanh: return {"Hardtanh", false, true, false};
    case UnaryOp::Elu: return {"Elu", true, true, false};
    case UnaryOp::Hardsigmoid: return {"Hardsigmoid", true, true, false};
    case UnaryOp::Hardswish: return {"Hardswish", true, true, false};
    case UnaryOp::LogSigmoid: return {"LogSigmoid", true, true, false};
    case UnaryOp::Exp: return {"Exp", true, false, true};
    case UnaryOp::Exp2: return {"Exp2", true, false, true};
    case UnaryOp::Expm1: return {"Expm1", true, false, true};
    case UnaryOp::Log: return {"Log", true, true, false};
    case UnaryOp::Log2: return {"Log2", true, true, false};
    case UnaryOp::Log10: return {"Log10", true, true, false};
    case UnaryOp::Log1p: return {"Log1p", true, true, false};
    case UnaryOp::Sqrt: return {"Sqrt", true, false, true};
    case UnaryOp::Rsqrt: return {"Rsqrt", true, false, true};
    case UnaryOp::Sin: return {"Sin", true, true, false};
    case UnaryOp::Cos: return {"Cos", true, true, false};
    case UnaryOp::Tan: return {"Tan", true, false, true};
    case UnaryOp::Asin: return {"Asin", true, true, false};
    case UnaryOp::Acos: return {"Acos", true, true, false};
    case UnaryOp::Atan: return {"Atan", true, true, false};
    case UnaryOp::Sinh: return {"Sinh", true, true, false};
    case UnaryOp::Cosh: return {"Cosh", true, true, false};
    case UnaryOp::Asinh: return {"Asinh", true, true, false};
    case UnaryOp::Acosh: return {"Acosh", true, true, false};
    case UnaryOp::Atanh: return {"Atanh", true, true, false};
    case UnaryOp::Tanh: return {"Tanh", true, false, true};
    case UnaryOp::Sigmoid: return {"Sigmoid", true, false, true};
    case UnaryOp::Reciprocal: return {"Reciprocal", true, false, true};
    case UnaryOp::Erf: return {"Erf", true, true, false};
    case UnaryOp::Softplus: return {"Softplus", true, true, false};
    case UnaryOp::Silu: return {"Silu", true, true, false};
    case UnaryOp::Gelu: return {"Gelu", true, true, false};
    case UnaryOp::GeluTanh: return {"Gelu", true, true, false};
    default: return {"Logical", false, false, false};  // bool-valued: never differentiable
  }
}

Tensor S(double v) { return wrap_scalar(Scalar(v)); }
Tensor U(UnaryOp op, const Tensor& x) { return unary(op, x); }

bool has_fused_grad(UnaryOp op) {
  switch (op) {
    case UnaryOp::LeakyRelu: case UnaryOp::Clamp: case UnaryOp::Hardtanh: case UnaryOp::Elu:
    case UnaryOp::Hardsigmoid: case UnaryOp::Hardswish: case UnaryOp::LogSigmoid: case UnaryOp::Huber:
    case UnaryOp::SmoothL1: case UnaryOp::Softplus: return true;
    default: return false;
  }
}

struct UnaryBackward : Node {
  UnaryOp op;
  UnaryParams p;
  SavedVariable x, y;  // input, output
  std::string name() const override { return std::string(info(op).name) + "Backward0"; }
  void release_variables() override { x.reset(); y.reset(); }
  TensorList apply(TensorList&& grads) override {
    const Tensor& g = grads[0];
    Tensor xv = x.unpack(this), yv = y.unpack(this);
    constexpr double kLn2 = 0.69314718055994530942, kLn10 = 2.30258509299404568402;
    constexpr double k2OverSqrtPi = 1.12837916709551257390, kInvSqrt2Pi = 0.39894228040143267794;
    // Without create_graph, the float32 activations below take one fused pass (same formula),
    // written over the incoming gradient when the engine handed it over (owned_grad).
    const auto fused_into = [&](BinaryOp bop, const Tensor& v, DType dt, const char* name) -> Tensor {
      if (!owned_grad(g, v) || g.dtype() != dt || v.dtype() != dt) return binary_raw(bop, g, v, dt, name);
      backend_of(g).binary(bop, g, v, g);
      return g;
    };
    const auto fused = [&](BinaryOp bop, const Tensor& v, const char* name) -> Tensor {
      if (GradMode::is_enabled() || g.dtype() != DType::Float32 || v.dtype() != DType::Float32) return {};
      return fused_into(bop, v, DType::Float32, name);
    };
    // The parametrised activations and losses: one fused pass without create_graph (the same
    // formulas as below, in torch's order), else differentiable forms.
    if (has_fused_grad(op) && !GradMode::is_enabled() && g.dtype() == xv.dtype() && is_floating(g.dtype())) {
      Tensor out = owned_grad(g, xv) ? g : Tensor::empty(xv.shape(), g.dtype(), g.device());
      backend_of(g).unary_backward(op, g, xv, out, p);
      return {out};
    }
    switch (op) {
      case UnaryOp::Neg: return {neg(g)};                                           // -g
      case UnaryOp::Abs: return {mul(g, sign(xv))};                                 // g sign(x)
      case UnaryOp::Sign: case UnaryOp::Floor: case UnaryOp::Ceil: case UnaryOp::Round:
      case UnaryOp::Trunc: return {zeros_like(g)};                                  // 0 a.e.
      case UnaryOp::Square: return {mul(g, mul(xv, S(2)))};                         // 2 g x
      // NOTE: relu'(0) = 0 like torch: the gradient flows where the output is positive (or NaN).
      case UnaryOp::Relu: return {relu_grad(std::move(grads[0]), yv)};              // y <= 0 ? 0 : g
      case UnaryOp::Exp: return {mul(g, yv)};                                       // g y
      case UnaryOp::Exp2: return {mul(g, mul(yv, S(kLn2)))};                        // g y ln2
      case UnaryOp::Expm1: return {mul(g, add(yv, S(1)))};                          // g (y+1)
      case UnaryOp::Log: return {div(g, xv)};                                       // g/x
      case UnaryOp::Log2: return {div(g, mul(xv, S(kLn2)))};
      case UnaryOp::Log10: return {div(g, mul(xv, S(kLn10)))};
      case UnaryOp::Log1p: return {div(g, add(xv, S(1)))};
      case UnaryOp::Sqrt: return {div(g, mul(yv, S(2)))};                           // g/(2y)
      case UnaryOp::Rsqrt: return {mul(g, mul(pow(yv, Scalar(3.0)), S(-0.5)))};     // -g y^3/2
      case UnaryOp::Sin: return {mul(g, U(UnaryOp::Cos, xv))};
      case UnaryOp::Cos: return {neg(mul(g, U(UnaryOp::Sin, xv)))};
      case UnaryOp::Tan: return {mul(g, add(mul(yv, yv), S(1)))};                   // g (1+y^2)
      case UnaryOp::Asin: return {div(g, sqrt(sub(S(1), mul(xv, xv))))};
      case UnaryOp::Acos: return {neg(div(g, sqrt(sub(S(1), mul(xv, xv)))))};
      case UnaryOp::Atan: return {div(g, add(mul(xv, xv), S(1)))};
      case UnaryOp::Sinh: return {mul(g, U(UnaryOp::Cosh, xv))};
      case UnaryOp::Cosh: return {mul(g, U(UnaryOp::Sinh, xv))};
      case UnaryOp::Asinh: return {div(g, sqrt(add(mul(xv, xv), S(1))))};
      case UnaryOp::Acosh: return {div(g, sqrt(sub(mul(xv, xv), S(1))))};
      case UnaryOp::Atanh: return {div(g, sub(S(1), mul(xv, xv)))};
      case UnaryOp::Tanh:                                                           // g (1-y^2)
        if (Tensor r = fused(BinaryOp::TanhBackward, yv, "tanh_backward"); r.defined()) return {r};
        return {mul(g, sub(S(1), mul(yv, yv)))};
      case UnaryOp::Sigmoid:                                                        // g y (1-y)
        if (Tensor r = fused(BinaryOp::SigmoidBackward, yv, "sigmoid_backward"); r.defined()) return {r};
        return {mul(g, mul(yv, sub(S(1), yv)))};
      case UnaryOp::Reciprocal: return {neg(mul(g, mul(yv, yv)))};                  // -g y^2
      case UnaryOp::Erf:                                                            // g 2/sqrt(pi) e^{-x^2}
        return {mul(g, mul(exp(neg(mul(xv, xv))), S(k2OverSqrtPi)))};
      case UnaryOp::Softplus:  // g sigmoid(x), or g above the threshold (20)
        return {where(compare(BinaryOp::Gt, xv, S(20)), g, mul(g, sigmoid(xv)))};
      case UnaryOp::Silu: {    // g s (1 + x (1 - s))
        if (Tensor r = fused(BinaryOp::SiluBackward, xv, "silu_backward"); r.defined()) return {r};
        Tensor s = sigmoid(xv);
        return {mul(g, mul(s, add(S(1), mul(xv, sub(S(1), s)))))};
      }
      case UnaryOp::Gelu: {    // g (Phi(x) + x phi(x))
        if (Tensor r = fused(BinaryOp::GeluBackward, xv, "gelu_backward"); r.defined()) return {r};
        Tensor cdf = mul(add(U(UnaryOp::Erf, mul(xv, S(0.70710678118654752440))), S(1)), S(0.5));
        Tensor pdf = mul(exp(mul(mul(xv, xv), S(-0.5))), S(kInvSqrt2Pi));
        return {mul(g, add(cdf, mul(xv, pdf)))};
      }
      case UnaryOp::GeluTanh: {  // d/dx 0.5 x (1 + tanh(k (x + c x^3)))
        if (Tensor r = fused(BinaryOp::GeluTanhBackward, xv, "gelu_backward"); r.defined()) return {r};
        const double k = 0.7978845608028654, c = 0.044715;
        Tensor inner = mul(add(xv, mul(pow(xv, Scalar(3.0)), S(c))), S(k));
        Tensor t = tanh(inner);
        Tensor left = mul(add(t, S(1)), S(0.5));
        Tensor dinner = mul(add(mul(mul(xv, xv), S(3 * c)), S(1)), S(k));
        Tensor right = mul(mul(mul(xv, S(0.5)), sub(S(1), mul(t, t))), dinner);
        return {mul(g, add(left, right))};
      }
      case UnaryOp::Clamp: {   // g where min <= x <= max (inclusive, like torch)
        Tensor keep = full(xv.shape(), Scalar(true), DType::Bool, xv.device());
        if (p.has_min) keep = logical(BinaryOp::LogicalAnd, keep, compare(BinaryOp::Ge, xv, S(p.p0)));
        if (p.has_max) keep = logical(BinaryOp::LogicalAnd, keep, compare(BinaryOp::Le, xv, S(p.p1)));
        return {where(keep, g, zeros_like(g))};
      }
      case UnaryOp::LeakyRelu:  // g where x > 0, else slope g
        return {where(compare(BinaryOp::Gt, xv, S(0)), g, mul(g, S(p.p0)))};
      case UnaryOp::Huber:  // g clamp(x, -delta, delta)
        return {mul(huber_slope(xv, p.p0), g)};
      case UnaryOp::SmoothL1:  // g clamp(x, -beta, beta) / beta (torch: x g / beta inside)
        return {div(mul(huber_slope(xv, p.p0), g), S(p.p0))};
      case UnaryOp::Hardtanh: {  // g strictly inside (lo, hi); NaN x passes g (torch)
        Tensor out = logical(BinaryOp::LogicalOr, compare(BinaryOp::Le, xv, S(p.p0)), compare(BinaryOp::Ge, xv, S(p.p1)));
        return {where(out, zeros_like(g), g)};
      }
      case UnaryOp::Elu: {  // x <= 0: g negip negcoef exp(negip x), else g poscoef
        Tensor neg_side = mul(mul(g, S(p.p2 * p.p0 * p.p1)), exp(mul(xv, S(p.p2))));
        return {where(compare(BinaryOp::Le, xv, S(0)), neg_side, mul(g, S(p.p1)))};
      }
      case UnaryOp::Hardsigmoid: {  // g / 6 strictly inside (-3, 3)
        Tensor in = logical(BinaryOp::LogicalAnd, compare(BinaryOp::Gt, xv, S(-3)), compare(BinaryOp::Lt, xv, S(3)));
        return {where(in, mul(g, S(double(1.0f / 6.0f))), zeros_like(g))};  // torch's float 1/6
      }
      case UnaryOp::Hardswish:  // 0 up to -3, g (x / 3 + 1/2) inside, g from 3 (torch 2.13)
        return {where(compare(BinaryOp::Le, xv, S(-3)), zeros_like(g),
                      where(compare(BinaryOp::Lt, xv, S(3)), mul(g, add(div(xv, S(3)), S(0.5))), g))};
      case UnaryOp::LogSigmoid:  // g sigmoid(-x)
        return {mul(g, sigmoid(neg(xv)))};
      default: break;
    }
    throw NotImplementedError(str("backward of ", name(), " is not implemented"));
  }
};

}  // namespace

namespace {
Tensor unary_impl(UnaryOp op, const Tensor& x, const UnaryParams& p) {
  const UnaryInfo in = info(op);
  DType compute = x.dtype();
  if (in.float_only && !is_floating(compute)) compute = default_dtype();
  if (op == UnaryOp::Neg)
    EMBER_CHECK(compute != DType::Bool, TypeError,
                "neg: negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert "
                "a mask, use the `~` or `logical_not()` operator instead.");
  Tensor xin = cast_raw(x, compute);
  Tensor out = Tensor::empty(x.shape(), unary_op_returns_bool(op) ? DType::Bool : compute, x.device());
  backend_of(out).unary(op, xin, out, p);
  if (!unary_op_returns_bool(op) && is_floating(compute)) {
    if (auto node = make_node<UnaryBackward>({x})) {
      node->op = op;
      node->p = p;
      if (in.saves_x) node->x = SavedVariable(x, false);
      if (in.saves_y) node->y = SavedVariable(out, true);
      set_history(out, node);
    }
  }
  return out;
}
}  // namespace

Tensor unary(UnaryOp op, const Tensor& x) {
  EMBER_CHECK(op != UnaryOp::Clamp && op != UnaryOp::PowScalar && op != UnaryOp::RPowScalar && op != UnaryOp::LeakyRelu &&
                  op != UnaryOp::Huber && op != UnaryOp::SmoothL1 && op != UnaryOp::Hardtanh && op != UnaryOp::Elu,
              RuntimeError, "unary: parametrised ops go through clamp/pow/leaky_relu/huber/smooth_l1/hardtanh/elu");
  return unary_impl(op, x, UnaryParams{});
}
Tensor neg(const Tensor& x) { return unary_impl(UnaryOp::Neg, x, {}); }
Tensor abs(const Tensor& x) { return unary_impl(UnaryOp::Abs, x, {}); }
Tensor sign(const Tensor& x) { return unary_impl(UnaryOp::Sign, x, {}); }
Tensor exp(const Tensor& x) { return unary_impl(UnaryOp::Exp, x, {}); }
Tensor log(const Tensor& x) { return unary_impl(UnaryOp::Log, x, {}); }
Tensor sqrt(const Tensor& x) { return unary_impl(UnaryOp::Sqrt, x, {}); }
Tensor sigmoid(const Tensor& x) { return unary_impl(UnaryOp::Sigmoid, x, {}); }
Tensor tanh(const Tensor& x) { return unary_impl(UnaryOp::Tanh, x, {}); }
Tensor relu(const Tensor& x) { return unary_impl(UnaryOp::Relu, x, {}); }
Tensor logical_not(const Tensor& x) { return unary_impl(UnaryOp::LogicalNot, x, {}); }

Tensor huber_slope(const Tensor& d, double delta) {
  return where(compare(BinaryOp::Lt, abs(d), S(delta)), d, mul(sign(d), S(delta)));
}

Tensor huber(const Tensor& d, double delta) {
  EMBER_CHECK(delta > 0, RuntimeError, "huber_loss does not support non-positive values for delta, got ", delta);
  UnaryParams p;
  p.p0 = delta;
  return unary_impl(UnaryOp::Huber, d, p);
}

Tensor smooth_l1(const Tensor& d, double beta) {
  EMBER_CHECK(beta > 0, RuntimeError, "smooth_l1: beta must be positive (beta = 0 is l1), got ", beta);
  UnaryParams p;
  p.p0 = beta;
  return unary_impl(UnaryOp::SmoothL1, d, p);
}

Tensor hardtanh(const Tensor& x, double min_val, double max_val) {
  EMBER_CHECK(min_val <= max_val, ValueError, "hardtanh: min_val cannot be greater than max_val, got ", min_val,
              " > ", max_val);
  UnaryParams p;
  p.p0 = min_val;
  p.p1 = max_val;
  return unary_impl(UnaryOp::Hardtanh, x, p);
}

Tensor elu(const Tensor& x, double alpha, double scale, double input_scale) {
  UnaryParams p;
  p.p0 = alpha;
  p.p1 = scale;
  p.p2 = input_scale;
  return unary_impl(UnaryOp::Elu, x, p);
}

Tensor leaky_relu(const Tensor& x, double slope) {
  UnaryParams p;
  p.p0 = slope;
  return unary_impl(UnaryOp::LeakyRelu, x, p);
}

Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max) {
  EMBER_CHECK(min || max, RuntimeError, "clamp: at least one of 'min' or 'max' must not be None");
  UnaryParams p;
  p.has_min = min.has_value();
  p.has_max = max.has_value();
  p.p0 = min ? min->to_double() : 0;
  p.p1 = max ? max->to_double() : 0;
  // A float bound on an integer tensor promotes (torch's result_type with the bounds).
  Tensor xx = x;
  DType rt = x.dtype();
  if (min) rt = result_type(x, wrap_scalar(*min));
  if (max) rt = promote_types(rt, result_type(x, wrap_scalar(*max)));
  if (rt != x.dtype()) xx = to_dtype(x, rt);
  return unary_impl(UnaryOp::Clamp, xx, p);
}

Tensor clamp(const Tensor& x, const Tensor* min, const Tensor* max) {
  EMBER_CHECK(min || max, RuntimeError, "clamp: at least one of 'min' or 'max' must not be None");
  Tensor out = x;
  if (min) out = maximum(out, *min);
  if (max) out = minimum(out, *max);
  return out;
}

// --- in-place ---------------------------------------------------------------------------------------
namespace {
// self = f(self, other), writing into self's memory. When autograd records, the op runs out of
// place (on a clone of self if its backward needs self's old value) and commit_inplace takes over.
Tensor& inplace_binary(Tensor& self, const Tensor& other, BinaryOp op, bool needs_self, const char* name,
                       const std::function<Tensor(const Tensor&, const Tensor&)>& out_of_place,
                       std::optional<Scalar> alpha = std::nullopt) {  // alpha: self + alpha * other
  check_inplace(self, name);
  check_same_device(self, other, name);
  DType rt = result_type(self, other);
  if (op == BinaryOp::Div && !is_floating(rt)) rt = default_dtype();
  EMBER_CHECK(can_cast(rt, self.dtype()), RuntimeError, name, ": result type ", dtype_name(rt),
              " can't be cast to the desired output type ", dtype_name(self.dtype()));
  Shape bs = broadcast_shapes(self.shape(), other.shape(), name);
  EMBER_CHECK(bs == self.shape(), RuntimeError, name, ": output with shape ", shape_str(self.shape()),
              " doesn't match the broadcast shape ", shape_str(bs));
  if (GradMode::is_enabled() && (self.requires_grad() || other.requires_grad())) {
    Tensor src = needs_self ? clone(self) : self;
    Tensor result = out_of_place(src, other);
    commit_inplace(self, to_dtype(result, self.dtype()));
    return self;
  }
  if (rt == self.dtype()) {
    // The op computes in self's dtype: an operand of another dtype (a Python scalar, a float32
    // tensor += int64 one) is converted first, as torch casts its inputs to the common dtype.
    // Writing into self while reading a different view of the same memory needs a temporary.
    const bool overlap = other.storage() == self.storage() &&
                         !(other.raw_data() == self.raw_data() && other.strides() == self.strides());
    Tensor o = other.dtype() != self.dtype() ? to_dtype(other.detach(), self.dtype())
               : overlap                     ? clone(other.detach())
                                             : other;
    if (alpha) backend_of(self).add_scaled(self, o, *alpha, self);
    else backend_of(self).binary(op, self, o, self);
  } else {
    NoGradGuard ng;
    copy_into(self, out_of_place(self, other));
  }
  self.bump_version();
  return self;
}
}  // namespace

Tensor& add_(Tensor& self, const Tensor& other, Scalar alpha) {
  if (alpha.to_double() != 1.0) {
    EMBER_CHECK(is_floating(self.dtype()) || !alpha.is_floating(), RuntimeError,
                "add_: for integral input tensors, argument alpha must not be a floating point number.");
    return inplace_binary(self, other, BinaryOp::Add, false, "add_",
                          [alpha](const Tensor& a, const Tensor& b) { return add(a, b, alpha); }, alpha);
  }
  return inplace_binary(self, other, BinaryOp::Add, false, "add_",
                        [](const Tensor& a, const Tensor& b) { return add(a, b); });
}
Tensor& sub_(Tensor& self, const Tensor& other, Scalar alpha) {
  check_sub_operands(self, other, "sub_");
  if (alpha.to_double() != 1.0) return add_(self, other, negated(alpha));
  return inplace_binary(self, other, BinaryOp::Sub, false, "sub_",
                        [](const Tensor& a, const Tensor& b) { return sub(a, b); });
}
Tensor& mul_(Tensor& self, const Tensor& other) {
  return inplace_binary(self, other, BinaryOp::Mul, true, "mul_",
                        [](const Tensor& a, const Tensor& b) { return mul(a, b); });
}
Tensor& div_(Tensor& self, const Tensor& other) {
  return inplace_binary(self, other, BinaryOp::Div, true, "div_",
                        [](const Tensor& a, const Tensor& b) { return div(a, b); });
}
Tensor& pow_(Tensor& self, const Tensor& other) {
  if (other.impl()->wrapped_number && is_floating(self.dtype()) &&
      !(GradMode::is_enabled() && self.requires_grad())) {
    // A Python number exponent: pow(tensor, scalar)'s kernel, special exponents included.
    check_inplace(self, "pow_");
    UnaryParams p;
    p.p0 = to_dtype(other, DType::Float64).data<double>()[0];
    if (p.p0 != 1.0) backend_of(self).unary(UnaryOp::PowScalar, self, self, p);  // x ** 1 is x
    self.bump_version();
    return self;
  }
  return inplace_binary(self, other, BinaryOp::Pow, true, "pow_",
                        [](const Tensor& a, const Tensor& b) { return pow(a, b); });
}

Tensor& unary_(UnaryOp op, Tensor& self) {
  check_inplace(self, "unary_");
  if (GradMode::is_enabled() && self.requires_grad()) {
    Tensor src = info(op).saves_x ? clone(self) : self;
    commit_inplace(self, unary_impl(op, src, {}));
    return self;
  }
  EMBER_CHECK(!info(op).float_only || is_floating(self.dtype()), RuntimeError, "in-place op: result type ",
              dtype_name(default_dtype()), " can't be cast to the desired output type ", dtype_name(self.dtype()));
  backend_of(self).unary(op, self, self, {});
  self.bump_version();
  return self;
}

Tensor& clamp_(Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max) {
  check_inplace(self, "clamp_");
  if (GradMode::is_enabled() && self.requires_grad()) {
    commit_inplace(self, clamp(clone(self), min, max));
    return self;
  }
  EMBER_CHECK(min || max, RuntimeError, "clamp_: at least one of 'min' or 'max' must not be None");
  UnaryParams p;
  p.has_min = min.has_value();
  p.has_max = max.has_value();
  p.p0 = min ? min->to_double() : 0;
  p.p1 = max ? max->to_double() : 0;
  backend_of(self).unary(UnaryOp::Clamp, self, self, p);
  self.bump_version();
  return self;
}

}  // namespace ember::ops

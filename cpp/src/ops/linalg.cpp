// Matrix products: validation, output allocation and the GEMM call, with the backward next to it.
// One primitive does the work: out (*, M, N) = beta * c + alpha * a (*, M, K) @ b (*, K, N) with
// broadcast batch dims (c optional). matmul/mm/bmm/mv/dot/addmm/baddbmm are shape adapters over it
// (unsqueeze / squeeze / reshape are differentiable), linear has its own node (dW = g^T x).
// Backward formulas call the same differentiable ops, so double backward works; the engine's
// sum_to folds gradients of broadcast batch dims (and of a broadcast c) back to the input shapes.
#include "common.h"

namespace ember::ops {
namespace {

std::string dims_str(const Tensor& t) { return shape_str(t.shape()); }
Shape batch_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

void check_dtypes(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_CHECK(a.dtype() == b.dtype(), RuntimeError, op, ": expected m1 and m2 to have the same dtype, but got: ",
              dtype_name(a.dtype()), " != ", dtype_name(b.dtype()));
  EMBER_CHECK(a.dtype() != DType::Bool, NotImplementedError, op, ": not implemented for 'bool' tensors");
  check_same_device(a, b, op);
}

// t (*t, R, C) seen with batch dims `batch` (right-aligned broadcast, stride 0), no copy.
Tensor expand_batch(const Tensor& t, const Shape& batch) {
  const int64_t nd = static_cast<int64_t>(batch.size()) + 2, lead = nd - t.dim();
  Shape shape(batch);
  Strides strides(static_cast<size_t>(nd), 0);
  shape.push_back(t.size(-2));
  shape.push_back(t.size(-1));
  for (int64_t d = 0; d < t.dim(); ++d)
    strides[d + lead] = t.size(d) == 1 && d < t.dim() - 2 ? 0 : t.stride(d);
  return Tensor::make_view(t, shape, strides, t.offset());
}

Tensor mT(const Tensor& t) { return transpose(t, -2, -1); }

Tensor scaled(const Tensor& t, Scalar s) { return s.to_double() == 1.0 ? t : mul(t, wrap_scalar(s)); }

Tensor gemm_op(const Tensor* c, const Tensor& a, const Tensor& b, Scalar beta, Scalar alpha, const char* name);
Tensor product(const Tensor& a, const Tensor& b, Scalar alpha = Scalar(int64_t(1))) {
  return gemm_op(nullptr, a, b, Scalar(int64_t(0)), alpha, "matmul");
}

// d(beta * c + alpha * a @ b) = (beta * g, alpha * g @ b^T, alpha * a^T @ g)
struct GemmBackward : Node {
  SavedVariable a, b;
  Scalar alpha, beta;
  bool has_c = false;
  std::string nm;
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& g) override {
    const size_t ia = has_c ? 1 : 0, ib = ia + 1;
    TensorList out(ib + 1);
    if (has_c && needs_input_grad(0)) out[0] = beta.to_double() == 0.0 ? zeros_like(g[0]) : scaled(g[0], beta);
    // alpha inside the GEMM (the kernel scales what it stores: the same bits as a product pass)
    if (needs_input_grad(ia)) out[ia] = product(g[0], mT(b.unpack(this)), alpha);
    if (needs_input_grad(ib)) out[ib] = product(mT(a.unpack(this)), g[0], alpha);
    return out;
  }
  void release_variables() override { a.reset(); b.reset(); }
};

// The primitive. a (*a, M, K), b (*b, K, N), both >= 2-D and already validated; c broadcastable
// to the result (*, M, N). Returns a new contiguous tensor.
Tensor gemm_op(const Tensor* c, const Tensor& a, const Tensor& b, Scalar beta, Scalar alpha, const char* name) {
  const int64_t M = a.size(-2), N = b.size(-1);
  Shape batch = broadcast_shapes(batch_of(a), batch_of(b), name);
  Shape shape(batch);
  shape.push_back(M);
  shape.push_back(N);
  Tensor out = Tensor::empty(shape, a.dtype(), a.device());
  const bool use_c = c && beta.to_double() != 0.0;
  if (use_c) copy_into(out, *c);
  {
    NoGradGuard ng;
    backend_of(out).gemm_batched(expand_batch(a, batch), expand_batch(b, batch), out, alpha,
                                 use_c ? beta : Scalar(int64_t(0)));
  }
  TensorList inputs;
  if (c) inputs.push_back(*c);
  inputs.push_back(a);
  inputs.push_back(b);
  if (auto node = make_node<GemmBackward>(inputs)) {
    node->has_c = c != nullptr;
    node->alpha = alpha, node->beta = beta;
    node->nm = c ? (batch.empty() ? "AddmmBackward0" : "BaddbmmBackward0") : (batch.empty() ? "MmBackward0" : "BmmBackward0");
    const size_t ia = c ? 1 : 0;
    if (node->needs_input_grad(ia + 1)) node->a = SavedVariable(a, false);
    if (node->needs_input_grad(ia)) node->b = SavedVariable(b, false);
    set_history(out, node);
  }
  return out;
}

void check_mm_shapes(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_CHECK(a.size(-1) == b.size(-2), RuntimeError, op, ": shapes ", dims_str(a), " and ", dims_str(b),
              " cannot be multiplied (", a.size(-1), " != ", b.size(-2), ")");
}

void check_c(const Tensor& c, const Shape& result, const char* op) {
  EMBER_CHECK(c.dim() <= static_cast<int64_t>(result.size()), RuntimeError, op, ": input of shape ",
              dims_str(c), " cannot be broadcast to the result shape ", shape_str(result));
  const int64_t lead = static_cast<int64_t>(result.size()) - c.dim();
  for (int64_t d = 0; d < c.dim(); ++d)
    EMBER_CHECK(c.size(d) == 1 || c.size(d) == result[d + lead], RuntimeError, op, ": input of shape ",
                dims_str(c), " cannot be broadcast to the result shape ", shape_str(result));
}

void check_bmm(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_CHECK(a.dim() == 3, RuntimeError, op, ": batch1 must be a 3D tensor, got ", a.dim(), "D");
  EMBER_CHECK(b.dim() == 3, RuntimeError, op, ": batch2 must be a 3D tensor, got ", b.dim(), "D");
  check_dtypes(a, b, op);
  EMBER_CHECK(a.size(0) == b.size(0) && a.size(2) == b.size(1), RuntimeError, op,
              ": expected size for first two dimensions of batch2 tensor to be: [", a.size(0), ", ", a.size(2),
              "] but got: [", b.size(0), ", ", b.size(1), "]");
}

// d(x @ W^T + bias) = (g @ W, g^T @ x, sum_0 g)
struct LinearBackward : Node {
  SavedVariable x, w;
  std::string name() const override { return "LinearBackward0"; }
  TensorList apply(TensorList&& g) override {
    TensorList out(next_edges.size());
    if (needs_input_grad(0)) out[0] = mm(g[0], w.unpack(this));
    if (needs_input_grad(1)) out[1] = mm(mT(g[0]), x.unpack(this));
    if (out.size() > 2 && needs_input_grad(2)) out[2] = sum(g[0], {0});
    return out;
  }
  void release_variables() override { x.reset(); w.reset(); }
};

// x (M, in) @ w (out, in)^T + bias -> (M, out)
Tensor linear_2d(const Tensor& x, const Tensor& w, const Tensor& bias) {
  Tensor out = Tensor::empty({x.size(0), w.size(0)}, x.dtype(), x.device());
  {
    NoGradGuard ng;
    const Tensor wt = Tensor::make_view(w, {w.size(1), w.size(0)}, {w.stride(1), w.stride(0)}, w.offset());
    if (bias.defined()) backend_of(out).gemm_bias(x, wt, contiguous(bias), out);
    else backend_of(out).gemm_batched(x, wt, out, Scalar(int64_t(1)), Scalar(int64_t(0)));
  }
  if (auto node = bias.defined() ? make_node<LinearBackward>({x, w, bias}) : make_node<LinearBackward>({x, w})) {
    if (node->needs_input_grad(1)) node->x = SavedVariable(x, false);
    if (node->needs_input_grad(0)) node->w = SavedVariable(w, false);
    set_history(out, node);
  }
  return out;
}

}  // namespace

Tensor mm(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.dim() == 2, RuntimeError, "mm: self must be a matrix, got a ", a.dim(), "D tensor");
  EMBER_CHECK(b.dim() == 2, RuntimeError, "mm: mat2 must be a matrix, got a ", b.dim(), "D tensor");
  check_dtypes(a, b, "mm");
  check_mm_shapes(a, b, "mm");
  return product(a, b);
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_bmm(a, b, "bmm");
  return product(a, b);
}

Tensor mv(const Tensor& m, const Tensor& v) {
  EMBER_CHECK(m.dim() == 2 && v.dim() == 1, RuntimeError, "mv: expected a matrix and a vector, got ", m.dim(),
              "D and ", v.dim(), "D tensors");
  check_dtypes(m, v, "mv");
  EMBER_CHECK(m.size(1) == v.size(0), RuntimeError, "mv: size mismatch, got mat ", dims_str(m), " and vec ",
              dims_str(v));
  return squeeze(product(m, unsqueeze(v, 1)), {1});
}

Tensor dot(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.dim() == 1 && b.dim() == 1, RuntimeError, "dot: 1D tensors expected, but got ", a.dim(), "D and ",
              b.dim(), "D tensors");
  EMBER_CHECK(a.dtype() == b.dtype(), RuntimeError, "dot: expected both vectors to have same dtype, but found ",
              dtype_name(a.dtype()), " and ", dtype_name(b.dtype()));
  check_dtypes(a, b, "dot");
  EMBER_CHECK(a.size(0) == b.size(0), RuntimeError, "dot: inconsistent tensor size, expected tensor [", a.size(0),
              "] and src [", b.size(0), "] to have the same number of elements, but got ", a.size(0), " and ",
              b.size(0), " elements respectively");
  return reshape(product(unsqueeze(a, 0), unsqueeze(b, 1)), {});
}

Tensor outer(const Tensor& a, const Tensor& b) {
  EMBER_CHECK(a.dim() == 1, RuntimeError, "outer: Expected 1-D argument self, but got ", a.dim(), "-D");
  EMBER_CHECK(b.dim() == 1, RuntimeError, "outer: Expected 1-D argument vec2, but got ", b.dim(), "-D");
  return mul(unsqueeze(a, 1), unsqueeze(b, 0));
}

Tensor addmm(const Tensor& input, const Tensor& m1, const Tensor& m2, Scalar beta, Scalar alpha) {
  EMBER_CHECK(m1.dim() == 2, RuntimeError, "addmm: mat1 must be a matrix, got a ", m1.dim(), "D tensor");
  EMBER_CHECK(m2.dim() == 2, RuntimeError, "addmm: mat2 must be a matrix, got a ", m2.dim(), "D tensor");
  check_dtypes(m1, m2, "addmm");
  EMBER_CHECK(input.dtype() == m1.dtype(), RuntimeError, "addmm: self and mat2 must have the same dtype, but got ",
              dtype_name(input.dtype()), " and ", dtype_name(m1.dtype()));
  check_same_device(input, m1, "addmm");
  check_mm_shapes(m1, m2, "addmm");
  check_c(input, {m1.size(0), m2.size(1)}, "addmm");
  return gemm_op(&input, m1, m2, beta, alpha, "addmm");
}

Tensor baddbmm(const Tensor& input, const Tensor& b1, const Tensor& b2, Scalar beta, Scalar alpha) {
  check_bmm(b1, b2, "baddbmm");
  EMBER_CHECK(input.dtype() == b1.dtype(), RuntimeError, "baddbmm: self and batch1 must have the same dtype, but got ",
              dtype_name(input.dtype()), " and ", dtype_name(b1.dtype()));
  check_same_device(input, b1, "baddbmm");
  check_c(input, {b1.size(0), b1.size(1), b2.size(2)}, "baddbmm");
  return gemm_op(&input, b1, b2, beta, alpha, "baddbmm");
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  const int64_t da = a.dim(), db = b.dim();
  EMBER_CHECK(da >= 1 && db >= 1, RuntimeError, "matmul: both arguments to matmul need to be at least 1D, but they are ",
              da, "D and ", db, "D");
  check_dtypes(a, b, "matmul");
  const int64_t ka = a.size(-1), kb = db == 1 ? b.size(0) : b.size(-2);
  EMBER_CHECK(ka == kb, RuntimeError, "matmul: shapes ", dims_str(a), " and ", dims_str(b), " cannot be multiplied (",
              ka, " != ", kb, ")");
  if (da == 1 && db == 1) return dot(a, b);
  if (da == 2 && db == 1) return mv(a, b);
  if (da == 1 && db == 2) return squeeze(mm(unsqueeze(a, 0), b), {0});
  if (da == 2 && db == 2) return mm(a, b);
  if (da >= 3 && db <= 2) {
    // Fold the batch dims into M: one (B*M, K) GEMM, and a 2-D weight gradient without a batch sum.
    Shape lead(a.shape().begin(), a.shape().end() - 1);
    Tensor out = db == 2 ? mm(reshape(a, {-1, ka}), b) : mv(reshape(a, {-1, ka}), b);
    if (db == 2) lead.push_back(b.size(1));
    return reshape(out, lead);
  }
  Tensor A = da == 1 ? unsqueeze(a, 0) : a, B = db == 1 ? unsqueeze(b, 1) : b;
  Tensor out = product(A, B);
  if (da == 1) out = squeeze(out, {-2});
  if (db == 1) out = squeeze(out, {-1});
  return out;
}

Tensor matmul_scaled(const Tensor& a, const Tensor& b, Scalar alpha) {
  EMBER_CHECK(a.dim() >= 2 && b.dim() >= 2, RuntimeError, "matmul_scaled: expected operands of at least 2 dims, got ",
              a.dim(), "D and ", b.dim(), "D");
  check_dtypes(a, b, "matmul");
  check_mm_shapes(a, b, "matmul");
  return product(a, b, alpha);
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  EMBER_CHECK(weight.dim() == 2, RuntimeError, "linear: weight must be 2-D (out_features, in_features), got ",
              dims_str(weight));
  EMBER_CHECK(x.dim() >= 1, RuntimeError, "linear: input must be at least 1-D, got a 0-D tensor");
  check_dtypes(x, weight, "linear");
  EMBER_CHECK(x.size(-1) == weight.size(1), RuntimeError, "linear: input ", dims_str(x), " and weight ",
              dims_str(weight), " cannot be multiplied (in_features ", x.size(-1), " != ", weight.size(1), ")");
  if (bias.defined()) {
    EMBER_CHECK(bias.dtype() == x.dtype(), RuntimeError, "linear: bias must have the same dtype as input, got ",
                dtype_name(bias.dtype()), " and ", dtype_name(x.dtype()));
    check_same_device(x, bias, "linear");
    EMBER_CHECK(bias.dim() <= 1 && (bias.numel() == weight.size(0) || bias.numel() == 1), RuntimeError,
                "linear: bias of shape ", dims_str(bias), " does not match out_features ", weight.size(0));
  }
  if (x.dim() == 2) return linear_2d(x, weight, bias);
  Shape lead(x.shape().begin(), x.shape().end() - 1);
  lead.push_back(weight.size(0));
  return reshape(linear_2d(reshape(x, {-1, x.size(-1)}), weight, bias), lead);
}

}  // namespace ember::ops

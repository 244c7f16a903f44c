// The backend interface: one entry per kernel *family*, so adding an op (tanh, remainder, ...)
// extends an enum, not the interface. CPU always implements it; CUDA when built with it.
// Contract: ops validate arguments, allocate outputs and pick dtypes; kernels trust their inputs.
// Elementwise kernels take inputs of the compute dtype, broadcastable to `out`'s shape, any
// strides (including 0); `out` may alias an input exactly (in-place ops).
#pragma once
#include <cstdint>
#include <vector>

#include "ember/scalar.h"
#include "ember/tensor.h"

namespace ember {

enum class UnaryOp : int {
  // same dtype out (floating ops get floating inputs: the op casts first)
  Neg, Abs, Sign, Exp, Log, Log1p, Expm1, Sqrt, Rsqrt, Sin, Cos, Tanh, Sigmoid, Relu,
  Floor, Ceil, Round, Trunc, Reciprocal, Square, Erf, Log2, Log10, Exp2, Tan, Asin, Acos, Atan,
  Sinh, Cosh, Asinh, Acosh, Atanh, Softplus, Silu, Gelu, GeluTanh,
  // parametrised by p0, p1 (see UnaryParams)
  Clamp,       // clamp(x, p0, p1); has_min / has_max select the sides
  PowScalar,   // x ** p0
  RPowScalar,  // p0 ** x
  LeakyRelu,   // x > 0 ? x : p0 * x
  Huber,       // z = |x|: z < p0 ? z^2 / 2 : p0 (z - p0 / 2)      (huber_loss of x = input - target)
  SmoothL1,    // z = |x|: z < p0 ? z^2 / 2 / p0 : z - p0 / 2     (smooth_l1_loss, p0 = beta > 0)
  Hardtanh,    // clamp(x, p0, p1); gradient only strictly inside (p0, p1) (torch's hardtanh)
  Elu,         // x > 0 ? p1 x : p0 p1 expm1(p2 x)   (alpha, scale, input_scale: elu, selu, celu)
  // torch's formulas: hardsigmoid min(max(x + 3, 0), 6) / 6, hardswish x min(max(x + 3, 0), 6) / 6,
  // log_sigmoid min(x, 0) - log1p(exp(-|x|))
  Hardsigmoid, Hardswish, LogSigmoid,
  // bool out
  LogicalNot, IsNan, IsInf, IsFinite, IsPosInf, IsNegInf,
};

struct UnaryParams {
  double p0 = 0, p1 = 0, p2 = 0;
  bool has_min = false, has_max = false;
};

enum class BinaryOp : int {
  Add, Sub, Mul, Div, FloorDiv, Remainder, Pow, Maximum, Minimum, Atan2, Fmod, TruncDiv,
  ReluBackward,  // g * (y > 0): relu's gradient in one pass (floating point only, no graph)
  // float32 only, no graph: one-pass gradients of the vec_math.h activations
  GeluBackward,     // (g, x) -> g (Phi(x) + x phi(x))
  GeluTanhBackward, // (g, x) -> gelu(x, approximate='tanh')'s gradient
  SiluBackward,     // (g, x) -> g s (1 + x (1 - s)), s = sigmoid(x)
  SigmoidBackward,  // (g, y) -> g y (1 - y), y = sigmoid(x)
  TanhBackward,     // (g, y) -> g (1 - y^2), y = tanh(x)
  BitAnd, BitOr, BitXor,
  // bool out
  Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr, LogicalXor,
};
inline bool binary_op_returns_bool(BinaryOp op) { return op >= BinaryOp::Eq; }
inline bool unary_op_returns_bool(UnaryOp op) { return op >= UnaryOp::LogicalNot; }

enum class ReduceOp : int {
  Sum, Prod, Max, Min, All, Any, Mean,
  SumSq,      // sum of squares (floating)
  AbsSum,     // sum of |x| (floating): l1_loss
  Huber1Sum,  // sum of huber(x) with delta 1 (floating): huber_loss / smooth_l1_loss at their defaults
};

// --- optimizer family (issue 4: ember.optim) ---
enum class OptimKind : int { SGD, Adam, Adagrad, RMSprop, Adadelta, Adamax, NAdam, RAdam };
// The scalars of one fused update, already reduced by ops/optim.cpp to what the kernel needs
// (bias corrections, effective step sizes); see cpu/optim.cpp for each kind's formula.
struct OptimParams {
  double lr = 0, weight_decay = 0, eps = 0;
  bool maximize = false, decoupled = false;  // decoupled: param *= 1 - lr * weight_decay first
  double momentum = 0, dampening = 0;        // SGD, RMSprop
  bool nesterov = false, first = false;      // SGD (first: the momentum buffer starts as grad)
  double beta1 = 0, beta2 = 0, alpha = 0;    // Adam family; RMSprop alpha; Adadelta rho in alpha
  bool amsgrad = false, centered = false;    // Adam; RMSprop
  double c0 = 0, c1 = 0, c2 = 0, c3 = 0;     // per-step coefficients (kind-specific)
  bool flag = false;                         // RAdam: rectified (rho_t > 5)
};
// One parameter's update: param, grad and the kind's state tensors (in the order of ops/optim.h),
// all contiguous with param's shape and floating dtype, on one device; grad is only read.
struct OptimJob {
  Tensor param, grad;
  std::vector<Tensor> state;
  OptimParams p;
};
// --- end optimizer family ---
enum class ScanOp : int { Sum, Prod };

// --- random (interop branch) -------------------------------------------------------------------
// Fills draw from a Philox4x32-10 stream (ember/random.h). Uniform: a + (b - a) * U[0, 1);
// Normal: a + b * N(0, 1); RandInt: low + bits % range; Bits: raw 64-bit words (int64 out).
enum class RandomOp : int { Uniform, Normal, RandInt, Bits };
struct RandomParams {
  double a = 0, b = 1;
  int64_t low = 0;
  uint64_t range = 0;  // RandInt: high - low (> 0)
};
// A wide fill uses 64 random bits per value (2 values per Philox block), a narrow one 32 (4).
inline bool random_is_wide(RandomOp op, DType out, const RandomParams& p) {
  if (op == RandomOp::Bits) return true;
  if (op == RandomOp::RandInt) return p.range > (uint64_t(1) << 32);
  return out == DType::Float64;
}
// ----------------------------------------------------------------------------------------------

// --- convolution (conv branch) -----------------------------------------------------------------
// One geometry for every conv kernel: x (N, C, H, W), w (O, C/groups, KH, KW), y (N, O, OH, OW),
// y[n, o, oh, ow] = sum w[o, c, kh, kw] * x[n, g*C/groups + c, oh*sh - ph + kh*dh, ow*sw - pw + kw*dw]
// (taps outside x are zero). OH/OW are given, so bottom/right padding (asymmetric 'same',
// transposed convolution's output_padding) is implicit. Unfold/fold use O = 0, groups = 1.
// relu: the forward's epilogue also takes max(y, 0) after the bias (a Conv2d + ReLU fused by
// nn.Sequential; torch's relu: -0 and NaN pass through); the backward kernels ignore it.
struct ConvGeom {
  int64_t N = 0, C = 0, H = 0, W = 0, O = 0, KH = 1, KW = 1, OH = 0, OW = 0;
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
  bool relu = false;
};

// --- pool / norm families (poolnorm branch) ----------------------------------------------------
// 2-D pooling over planes: x (B, H, W) contiguous -> out (B, OH, OW). Max/AdaptiveMax also write
// indices (int64, out's shape): the flat index h * W + w of the argmax in its input plane (NaN
// wins, the first maximum otherwise, like torch).
enum class PoolOp : int { Max, Avg, AdaptiveMax, AdaptiveAvg };
struct PoolParams {
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1;
  bool count_include_pad = true;
  int64_t divisor = 0;  // avg: divisor_override when > 0
  bool relu = false;    // Max: pool relu(x), relu applied as values are read (a ReLU + MaxPool2d fused)
};
// Separable 2-D interpolation (F.interpolate's nearest and bilinear) over planes x (B, H, W) ->
// out (B, OH, OW). Per output row i: input rows h0[i] and, for linear rows, h1[i] with the second
// row's weight lh[i] (the first's is 1 - lh[i]); per column j likewise w0, w1, lw. A nearest dim
// has only h0 (or w0). Linear in both: out = (x00 a0 + x01 a1) b0 + (x10 a0 + x11 a1) b1, with
// a = (1 - lw, lw), b = (1 - lh, lh), torch's order. Index tables int64, weights in x's dtype.
struct InterpTables {
  Tensor h0, h1, lh;  // (OH); h1, lh undefined: nearest along H
  Tensor w0, w1, lw;  // (OW); w1, lw undefined: nearest along W
};
// ----------------------------------------------------------------------------------------------

struct Backend {
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // --- memory / elementwise -----------------------------------------------------------------
  // dst[...] = cast(src[...]): src broadcast to dst's shape, any strides, any dtypes.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  virtual void fill(const Tensor& dst, Scalar value) = 0;
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) = 0;
  // a and b share a dtype; out has it too, or bool for comparisons.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  // out = g * d op(x) / dx in one pass, x the saved input (floating point, no graph): the
  // parametrised activations and losses (LeakyRelu, Clamp, Hardtanh, Elu, Hardsigmoid, Hardswish,
  // LogSigmoid, Huber, SmoothL1), with torch's backward formulas.
  virtual void unary_backward(UnaryOp op, const Tensor& g, const Tensor& x, const Tensor& out,
                              const UnaryParams& p) = 0;
  // out = a + alpha * b (add / sub with alpha), as binary: one dtype, broadcasting strides. Floats
  // fuse the multiply-add where the CPU has FMA (torch's vectorised add does).
  virtual void add_scaled(const Tensor& a, const Tensor& b, Scalar alpha, const Tensor& out) = 0;
  // out = cond ? a : b (cond bool; a, b, out one dtype).
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // --- reductions ------------------------------------------------------------------------------
  // Reduce x over `dims` (sorted, unique, non-empty) into out (shape with those dims kept as 1).
  virtual void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims,
                      const Tensor& out) = 0;
  // --- reduction family: arg-reduce, softmax, scan (kernels make x contiguous if it is not) ----
  // values/indices (x's shape with `dim` kept as 1, contiguous; indices int64) = max/min of x
  // along dim and the first index reaching it (NaN wins, like torch). x numeric, size(dim) > 0.
  virtual void arg_reduce(bool is_max, const Tensor& x, int64_t dim, const Tensor& values,
                          const Tensor& indices) = 0;
  // out (contiguous, x's shape, float) = softmax or log_softmax of x along dim.
  virtual void softmax(const Tensor& x, int64_t dim, const Tensor& out, bool log) = 0;
  // out (contiguous, x's shape without dim, float) = log(sum(exp(x - m))) + m along dim, m the
  // max (0 where the max is infinite, as torch); size(dim) > 0.
  virtual void logsumexp(const Tensor& x, int64_t dim, const Tensor& out) = 0;
  // out = dL/dx from y = softmax(x) (or log_softmax) and gy = dL/dy, all one float dtype.
  virtual void softmax_backward(const Tensor& y, const Tensor& gy, int64_t dim, const Tensor& out,
                                bool log) = 0;
  // out (contiguous, x's shape and dtype) = inclusive cumulative sum/prod along dim; reverse
  // scans from the end.
  virtual void scan(ScanOp op, const Tensor& x, int64_t dim, const Tensor& out, bool reverse) = 0;
  // x contiguous, rows along its last dim (n each) -> values (x's dtype), indices (int64), both
  // contiguous with rows of k: the first k of each row in ascending or descending order (NaN
  // above every number). k == n is a full, stable sort; k < n is top-k, ties by position.
  virtual void sort(const Tensor& x, bool descending, int64_t k, const Tensor& values, const Tensor& indices) = 0;

  // --- indexing (index family: gather, scatter, index_select, advanced indexing) ---------------
  // Reads and writes go through element offsets: `src`/`dst` are restrided views of the indexed
  // tensor whose indexed dims have stride 0, and `offsets` (int64, same shape) holds, for each
  // iteration element i, the extra element offset of its indexed position.
  // offsets[i] = sum_k wrap(indices[k][i]) * strides[k]. indices: contiguous int64, numel of out
  // (contiguous int64). IndexError "<op>index v is out of bounds for dimension dims[k] with size
  // sizes[k]" for entries outside [-size, size) ([0, size) unless allow_negative).
  virtual void index_offsets(const std::vector<Tensor>& indices, const std::vector<int64_t>& sizes,
                             const std::vector<int64_t>& strides, const std::vector<int64_t>& dims,
                             const Tensor& out, bool allow_negative, const char* op) = 0;
  // out[i] = src[i + offsets[i]] (src, offsets shaped like out; src of out's dtype).
  virtual void index_gather(const Tensor& src, const Tensor& offsets, const Tensor& out) = 0;
  // dst[i + offsets[i]] = values[i] (or += when accumulate). All three share one shape; values has
  // dst's dtype. Deterministic (duplicates: the last write in row-major order wins) and race-free.
  virtual void index_scatter(const Tensor& dst, const Tensor& offsets, const Tensor& values,
                             bool accumulate) = 0;
  // Non-zero elements of a contiguous bool tensor: their count, and their coordinates written
  // into out (count, x.dim()) int64 in row-major order.
  virtual int64_t count_nonzero(const Tensor& x) = 0;
  virtual void nonzero(const Tensor& x, const Tensor& out) = 0;

  // --- random (interop branch) -----------------------------------------------------------------
  // Fill contiguous `out`: value i comes from Philox block (counter + i / k, key), k = 2 for wide
  // fills and 4 otherwise, so values do not depend on how the work is split.
  virtual void random(RandomOp op, const Tensor& out, uint64_t key, uint64_t counter,
                      const RandomParams& p) = 0;
  // Dropout: mask = U >= p, U the Uniform [0, 1) fill `random` writes into a tensor of x's dtype
  // from (key, counter); out = (x * mask) / (1 - p) in x's dtype. Contiguous; mask bool.
  virtual void dropout(const Tensor& x, const Tensor& out, const Tensor& mask, double p, uint64_t key,
                       uint64_t counter) = 0;
  // out = (g * mask) / (1 - p): dropout's gradient, and that one's gradient. Contiguous; mask bool.
  virtual void dropout_backward(const Tensor& g, const Tensor& mask, const Tensor& out, double p) = 0;

  // --- matrix products (linalg) ------------------------------------------------------------------
  // out (*, M, N) = alpha * a (*, M, K) @ b (*, K, N) + beta * out, one dtype (numeric). a's and
  // b's batch dims equal out's or have stride 0 (broadcast); any strides (transposed views need no
  // copy). beta == 0 never reads out (NaN there does not propagate).
  virtual void gemm_batched(const Tensor& a, const Tensor& b, const Tensor& out, Scalar alpha,
                            Scalar beta) = 0;
  // out (M, N) = a (M, K) @ b (K, N) + bias (N, contiguous): Linear's forward, the bias added in
  // the product's epilogue instead of a pass of its own. 2-D, any strides for a, b and out.
  virtual void gemm_bias(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) = 0;
  // The same for one matrix on raw row-major pointers, BLAS-style: op(A) (M, K), op(B) (K, N),
  // C (M, N); transa means A is stored (K, M). lda/ldb/ldc are row strides in elements.
  virtual void gemm(DType dtype, bool transa, bool transb, int64_t M, int64_t N, int64_t K,
                    Scalar alpha, const void* A, int64_t lda, const void* B, int64_t ldb, Scalar beta,
                    void* C, int64_t ldc) = 0;
  // --- optimizer family ----------------------------------------------------------------------
  // One fused update per job, in place (see OptimJob), all jobs in one pass: a multi-tensor step
  // whose threads split the jobs' elements evenly, however the parameters' sizes fall.
  virtual void optim_step(OptimKind kind, const std::vector<OptimJob>& jobs) = 0;

  // --- convolution (conv branch) ---------------------------------------------------------------
  // Contiguous float tensors of one dtype, shapes as in ConvGeom; outputs are overwritten.
  // conv2d_forward: y = conv(x, w) + bias (bias (O) or undefined).
  virtual void conv2d_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& bias,
                              const Tensor& y) = 0;
  // dx = conv2d's input gradient from gy (the transposed convolution of gy with w).
  virtual void conv2d_backward_input(const ConvGeom& g, const Tensor& gy, const Tensor& w, const Tensor& dx) = 0;
  // dw = conv2d's weight gradient from x and gy; dbias (O) = sum of gy over N, OH, OW if defined.
  virtual void conv2d_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& gy, const Tensor& dw,
                                      const Tensor& dbias) = 0;
  // im2col (fold = false): x (N, C, H, W) -> cols (N, C*KH*KW, OH*OW); col2im (fold = true): the
  // adjoint, cols -> x (overwritten, overlapping taps summed).
  virtual void unfold(const ConvGeom& g, const Tensor& x, const Tensor& cols, bool fold) = 0;

  // --- losses (loss branch): fused cross-entropy and NLL over class indices --------------------
  // x (N, C, d...) float, target (N, d...) int64, weight (C,) of x's dtype or undefined; loss, wt,
  // lse: contiguous (N, d...) of x's dtype. loss = (1-eps) w[t] (lse - x[t]) + eps/C sum_c w[c]
  // (lse - x[c]); wt = w[t]; lse = logsumexp over C; all 0 where t == ignore_index. IndexError
  // "Target v is out of bounds." for other targets outside [0, C).
  virtual void cross_entropy(const Tensor& x, const Tensor& target, const Tensor& weight,
                             int64_t ignore_index, double label_smoothing, const Tensor& loss,
                             const Tensor& wt, const Tensor& stats) = 0;
  // dx (contiguous, x's shape) = g * d loss / dx (g shaped like loss, or one element broadcast).
  virtual void cross_entropy_backward(const Tensor& x, const Tensor& target, const Tensor& weight,
                                      int64_t ignore_index, double label_smoothing, const Tensor& stats,
                                      const Tensor& g, const Tensor& dx) = 0;
  // NLL over class indices (x: log-probabilities, as above): loss = -w[t] x[t], wt = w[t], 0 where t
  // == ignore_index; the same IndexError. Backward: dx (contiguous (N, C, d...), g's dtype) =
  // -w[t] g at class t of each sample, 0 elsewhere (g shaped like loss, or one element).
  virtual void nll_loss(const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                        const Tensor& loss, const Tensor& wt) = 0;
  virtual void nll_loss_backward(const Tensor& target, const Tensor& weight, int64_t ignore_index,
                                 const Tensor& g, const Tensor& dx) = 0;
  // --- recurrent cells (rnn) --------------------------------------------------------------------
  // Contiguous operands of one float dtype; N rows, hidden size H; outputs are overwritten.
  // lstm_cell: gates = ig + hg (N, 4H), chunks i, f, g, o (torch's order); cx (N, H) ->
  // hy = o tanh(cy), cy = f cx + i g (N, H), and ws (N, 5H) = (i, f, g, o, tanh(cy)) activated,
  // which lstm_cell_backward reads with cx, ghy and gcy (N, H) to write dgates (N, 4H), the
  // gradient of ig and of hg alike, and dcx (N, H).
  virtual void lstm_cell(const Tensor& ig, const Tensor& hg, const Tensor& cx, const Tensor& hy, const Tensor& cy,
                         const Tensor& ws) = 0;
  virtual void lstm_cell_backward(const Tensor& ws, const Tensor& cx, const Tensor& ghy, const Tensor& gcy,
                                  const Tensor& dgates, const Tensor& dcx) = 0;
  // gru_cell: ig, hg (N, 3H) with their biases, chunks r, z, n; hx (N, H) -> hy = n + z (hx - n)
  // with r, z = sigmoid(ig + hg), n = tanh(ig_n + r hg_n), and ws (N, 4H) = (r, z, n, hg_n), which
  // gru_cell_backward reads with hx and ghy to write dig, dhg (N, 3H) and dhx (N, H).
  virtual void gru_cell(const Tensor& ig, const Tensor& hg, const Tensor& hx, const Tensor& hy, const Tensor& ws) = 0;
  virtual void gru_cell_backward(const Tensor& ws, const Tensor& hx, const Tensor& ghy, const Tensor& dig,
                                 const Tensor& dhg, const Tensor& dhx) = 0;
  // --- end losses ----------------------------------------------------------------------------------

  // --- pool family (poolnorm branch) -------------------------------------------------------------
  // x (B, H, W) contiguous -> out (B, OH, OW) contiguous; indices for Max/AdaptiveMax (else unused).
  virtual void pool2d(PoolOp op, const Tensor& x, const Tensor& out, const Tensor& indices,
                      const PoolParams& p) = 0;
  // gy (B, OH, OW) contiguous -> gx (B, H, W) contiguous (overwritten): Max/AdaptiveMax scatter-add
  // gy to indices, Avg/AdaptiveAvg spread gy over each window.
  virtual void pool2d_backward(PoolOp op, const Tensor& gy, const Tensor& indices, const Tensor& gx,
                               const PoolParams& p) = 0;
  // x (B, H, W) contiguous -> out (B, OH, OW) contiguous, through t (InterpTables above).
  virtual void interp2d(const Tensor& x, const Tensor& out, const InterpTables& t) = 0;
  // gy (B, OH, OW) contiguous -> gx (B, H, W) contiguous (overwritten): the transpose of interp2d.
  virtual void interp2d_backward(const Tensor& gy, const Tensor& gx, const InterpTables& t) = 0;
  // --- norm family (poolnorm branch) -------------------------------------------------------------
  // x (N, C, S) contiguous -> y (N, C, S); weight/bias (C) or undefined. training: writes the batch
  // mean and biased var (C) into mean/var; else reads them (running stats). invstd (C) is written.
  virtual void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                          const Tensor& var, const Tensor& invstd, const Tensor& y, bool training,
                          double eps) = 0;
  // gx (N, C, S) (when defined), gw/gb (C) (when defined) from x, gy (N, C, S) and the saved stats.
  virtual void batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& weight,
                                   const Tensor& mean, const Tensor& invstd, const Tensor& gx,
                                   const Tensor& gw, const Tensor& gb, bool training) = 0;
  // BatchNorm's running statistics, in place: r (C) = r * (1 - momentum) + (stat * factor) * momentum,
  // each product and the sum rounded to r's dtype as those separate ops would round them. r and stat
  // contiguous, one floating dtype.
  virtual void batch_norm_update_running(const Tensor& r, const Tensor& stat, double momentum,
                                         double factor) = 0;
  // x (M, K) contiguous -> y (M, K), mean/rstd (M); weight/bias (K) or undefined.
  virtual void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y,
                          const Tensor& mean, const Tensor& rstd, double eps) = 0;
  virtual void layer_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, const Tensor& gx,
                                   const Tensor& gw, const Tensor& gb) = 0;
  // x (N, C, S) contiguous, G groups of C / G channels -> y (N, C, S), mean/rstd (N, G); weight /
  // bias (C) or undefined. Backward: gx (N, C, S), gw, gb (C), each optional.
  virtual void group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias,
                          const Tensor& y, const Tensor& mean, const Tensor& rstd, double eps) = 0;
  virtual void group_norm_backward(const Tensor& x, const Tensor& gy, int64_t groups, const Tensor& weight,
                                   const Tensor& mean, const Tensor& rstd, const Tensor& gx,
                                   const Tensor& gw, const Tensor& gb) = 0;
  // ----------------------------------------------------------------------------------------------
};

Backend& backend_for(Device d);  // throws RuntimeError("ember was built without CUDA") when absent
inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

}  // namespace ember

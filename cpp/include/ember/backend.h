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
  // bool out
  LogicalNot, IsNan, IsInf, IsFinite, IsPosInf, IsNegInf,
};

struct UnaryParams {
  double p0 = 0, p1 = 0;
  bool has_min = false, has_max = false;
};

enum class BinaryOp : int {
  Add, Sub, Mul, Div, FloorDiv, Remainder, Pow, Maximum, Minimum, Atan2, Fmod,
  BitAnd, BitOr, BitXor,
  // bool out
  Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr, LogicalXor,
};
inline bool binary_op_returns_bool(BinaryOp op) { return op >= BinaryOp::Eq; }
inline bool unary_op_returns_bool(UnaryOp op) { return op >= UnaryOp::LogicalNot; }

enum class ReduceOp : int { Sum, Prod, Max, Min, All, Any, Mean };

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
  // out = cond ? a : b (cond bool; a, b, out one dtype).
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // --- reductions ------------------------------------------------------------------------------
  // Reduce x over `dims` (sorted, unique, non-empty) into out (shape with those dims kept as 1).
  virtual void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims,
                      const Tensor& out) = 0;

  // --- matrix products (linalg) ------------------------------------------------------------------
  // out (*, M, N) = alpha * a (*, M, K) @ b (*, K, N) + beta * out, one dtype (numeric). a's and
  // b's batch dims equal out's or have stride 0 (broadcast); any strides (transposed views need no
  // copy). beta == 0 never reads out (NaN there does not propagate).
  virtual void gemm_batched(const Tensor& a, const Tensor& b, const Tensor& out, Scalar alpha,
                            Scalar beta) = 0;
  // The same for one matrix on raw row-major pointers, BLAS-style: op(A) (M, K), op(B) (K, N),
  // C (M, N); transa means A is stored (K, M). lda/ldb/ldc are row strides in elements.
  virtual void gemm(DType dtype, bool transa, bool transb, int64_t M, int64_t N, int64_t K,
                    Scalar alpha, const void* A, int64_t lda, const void* B, int64_t ldb, Scalar beta,
                    void* C, int64_t ldc) = 0;
};

Backend& backend_for(Device d);  // throws RuntimeError("ember was built without CUDA") when absent
inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

}  // namespace ember

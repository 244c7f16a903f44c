// Matrix products on Ember's GEMM (cpp/src/ops/linalg.cpp, kernels in backend/cpu/gemm.cpp).
// Operands share one numeric dtype (bool is not supported); float ones are differentiable, with
// backward formulas written in these same ops, so higher-order gradients work.
#pragma once
#include "ember/scalar.h"
#include "ember/tensor.h"

namespace ember::ops {

// torch.matmul: 1-D.1-D dot (0-d), 2-D.1-D mv, 1-D.2-D, 2-D.2-D mm, >= 3-D batched with
// broadcast batch dims (a 1-D operand is promoted to a matrix, then its dim is removed).
Tensor matmul(const Tensor& a, const Tensor& b);
// alpha * (a @ b) for a, b of >= 2 dims (broadcast batch dims), alpha applied inside the GEMM
// (scaled_dot_product_attention's scores, without a scaling pass).
Tensor matmul_scaled(const Tensor& a, const Tensor& b, Scalar alpha);
Tensor mm(const Tensor& a, const Tensor& b);                // (M, K) @ (K, N) -> (M, N)
Tensor bmm(const Tensor& a, const Tensor& b);               // (B, M, K) @ (B, K, N) -> (B, M, N)
Tensor mv(const Tensor& m, const Tensor& v);                // (M, K) @ (K) -> (M)
Tensor dot(const Tensor& a, const Tensor& b);               // (K) . (K) -> ()
Tensor outer(const Tensor& a, const Tensor& b);             // (M), (N) -> (M, N), promoting
// beta * input + alpha * (m1 @ m2); input broadcasts to (M, N). beta == 0 ignores input.
Tensor addmm(const Tensor& input, const Tensor& m1, const Tensor& m2, Scalar beta = Scalar(int64_t(1)),
             Scalar alpha = Scalar(int64_t(1)));
// beta * input + alpha * bmm(b1, b2); input broadcasts to (B, M, N).
Tensor baddbmm(const Tensor& input, const Tensor& b1, const Tensor& b2, Scalar beta = Scalar(int64_t(1)),
               Scalar alpha = Scalar(int64_t(1)));
// x (*, in) @ weight (out, in)^T + bias (out) -> (*, out); bias may be undefined. The bias is
// added by the GEMM (beta = 1 on a bias-initialised output), leading dims folded into M.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace ember::ops

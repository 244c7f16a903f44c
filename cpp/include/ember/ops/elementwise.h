// Elementwise ops with broadcasting and torch's type promotion (cpp/src/ops/elementwise.cpp).
#pragma once
#include <optional>

#include "ember/backend.h"
#include "ember/scalar.h"
#include "ember/tensor.h"

namespace ember::ops {

// torch's result_type: dimensioned tensors > 0-d tensors > wrapped numbers, by category.
DType result_type(const Tensor& a, const Tensor& b);

Tensor add(const Tensor& a, const Tensor& b, Scalar alpha = Scalar(int64_t(1)));
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha = Scalar(int64_t(1)));
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // true division (ints -> float)
Tensor floor_divide(const Tensor& a, const Tensor& b);
Tensor remainder(const Tensor& a, const Tensor& b);  // sign of the divisor, like Python's %
Tensor fmod(const Tensor& a, const Tensor& b);       // sign of the dividend, like C's fmod
Tensor trunc_divide(const Tensor& a, const Tensor& b);  // div(rounding_mode='trunc')
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, Scalar exponent);
Tensor pow(Scalar base, const Tensor& exponent);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor atan2(const Tensor& a, const Tensor& b);
Tensor compare(BinaryOp op, const Tensor& a, const Tensor& b);  // Eq..Ge, no grad
Tensor logical(BinaryOp op, const Tensor& a, const Tensor& b);  // LogicalAnd/Or/Xor
Tensor bitwise(BinaryOp op, const Tensor& a, const Tensor& b);  // BitAnd/Or/Xor (ints, bool)
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Unary: floating ops promote integer inputs to the default float dtype (torch's rule).
Tensor unary(UnaryOp op, const Tensor& x);
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor clamp(const Tensor& x, const Tensor* min, const Tensor* max);  // tensor bounds
Tensor leaky_relu(const Tensor& x, double negative_slope);
// torch.nn.functional.hardtanh (clamp forward, gradient strictly inside (min_val, max_val)) and
// elu (x > 0 ? scale x : alpha scale expm1(input_scale x); selu and celu are elu with their constants).
Tensor hardtanh(const Tensor& x, double min_val, double max_val);
Tensor elu(const Tensor& x, double alpha, double scale, double input_scale);
// huber_loss / smooth_l1_loss elementwise, of d = input - target (delta, beta > 0).
Tensor huber(const Tensor& d, double delta);
// huber's derivative in d, differentiable: clamp(d, -delta, delta) with torch's kinks (slope 1
// strictly inside, 0 from |d| = delta on: the linear branch holds there).
Tensor huber_slope(const Tensor& d, double delta);
Tensor smooth_l1(const Tensor& d, double beta);
Tensor logical_not(const Tensor& x);

// In-place arithmetic: self = self op other (other broadcast to self; result cast to self's dtype,
// which must hold it: int += float raises). Autograd-aware; bumps the version counter.
Tensor& add_(Tensor& self, const Tensor& other, Scalar alpha = Scalar(int64_t(1)));
Tensor& sub_(Tensor& self, const Tensor& other, Scalar alpha = Scalar(int64_t(1)));
Tensor& mul_(Tensor& self, const Tensor& other);
Tensor& div_(Tensor& self, const Tensor& other);
Tensor& pow_(Tensor& self, const Tensor& other);
Tensor& clamp_(Tensor& self, std::optional<Scalar> min, std::optional<Scalar> max);
Tensor& unary_(UnaryOp op, Tensor& self);  // relu_, exp_, neg_, ... (same dtype)

}  // namespace ember::ops

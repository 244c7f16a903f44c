// Normalisation ops (poolnorm branch): batch, layer and group norm with fused CPU kernels forward
// and backward. Undefined tensors stand for torch's None (weight, bias, running stats).
#pragma once
#include <vector>

#include "ember/tensor.h"

namespace ember::ops {

// input (N, C, *). training: normalise with the batch statistics and, when running stats are
// given, update them in place (no grad): r = (1 - momentum) * r + momentum * stat, with the
// unbiased batch variance for running_var. Otherwise normalise with running_mean/running_var.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps);
// Normalise over the trailing dims equal to normalized_shape; weight/bias have that shape.
Tensor layer_norm(const Tensor& input, const std::vector<int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps);
// input (N, C, *), C divisible by num_groups; weight/bias (C).
Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps);

}  // namespace ember::ops

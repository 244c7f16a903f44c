// Loss functions with fused kernels (cpp/src/ops/loss.cpp). The other losses are composites in
// python/ember/nn/_F/loss.py. Signatures follow torch.nn.functional.
#pragma once
#include <optional>

#include "ember/tensor.h"

namespace ember::ops {

enum class Reduction : int { None = 0, Mean = 1, Sum = 2 };

// Cross-entropy over class indices: input (N, C, d...) or (C,), target (N, d...) or () int64,
// weight (C,). Fused log-softmax + NLL forward and (softmax - onehot) backward; the gradient's
// gradient (create_graph) goes through the same formula in differentiable ops.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight,
                     Reduction reduction = Reduction::Mean, int64_t ignore_index = -100,
                     double label_smoothing = 0.0);

// NLL over class indices (torch.nn.functional.nll_loss): input (N, C, d...) or (C,) of
// log-probabilities, target and weight as above. One pick per sample forward; backward a zeroed
// gradient with -w[t] g at each sample's class (differentiable ops under create_graph).
Tensor nll_loss(const Tensor& input, const Tensor& target, const std::optional<Tensor>& weight,
                Reduction reduction = Reduction::Mean, int64_t ignore_index = -100);

}  // namespace ember::ops

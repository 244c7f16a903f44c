// Reductions (cpp/src/ops/reduce.cpp). `dims` empty = all dims.
#pragma once
#include <optional>
#include <tuple>
#include <vector>

#include "ember/scalar.h"
#include "ember/tensor.h"

namespace ember::ops {

using Dims = std::vector<int64_t>;

Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false,
           std::optional<DType> dtype = std::nullopt);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// Reduce `grad` (broadcast result) back to `shape` by summing broadcast dims (engine, backward).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace ember::ops

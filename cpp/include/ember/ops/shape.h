// Shape ops: views share storage (and the version counter) with their input
// (cpp/src/ops/shape.cpp).
#pragma once
#include <vector>

#include "ember/tensor.h"

namespace ember::ops {

Tensor as_strided(const Tensor& x, const Shape& shape, const Strides& strides, int64_t offset);
Tensor view(const Tensor& x, const Shape& shape);     // -1 inferred; error if not viewable
Tensor reshape(const Tensor& x, const Shape& shape);  // view when possible, else copy
Tensor expand(const Tensor& x, const Shape& shape);   // -1 keeps a size
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor squeeze(const Tensor& x, const std::vector<int64_t>& dims = {});  // empty: all size-1 dims
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);

// Infer a -1 in `shape` for `numel` elements (view/reshape); ValueError/RuntimeError like torch.
Shape infer_size(const Shape& shape, int64_t numel, const char* op);

}  // namespace ember::ops

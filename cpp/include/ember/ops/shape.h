// Shape ops: views share storage (and the version counter) with their input
// (cpp/src/ops/shape.cpp).
#pragma once
#include <vector>

#include "ember/scalar.h"
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

Tensor alias(const Tensor& x);  // a view of all of x (x[...], x[:])
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor unflatten(const Tensor& x, int64_t dim, const Shape& sizes);  // sizes may hold one -1
Tensor movedim(const Tensor& x, const std::vector<int64_t>& source, const std::vector<int64_t>& destination);
// torch.diagonal: a view of the diagonal (offset > 0: above) of dims dim1, dim2, appended last
Tensor diagonal(const Tensor& x, int64_t offset = 0, int64_t dim1 = 0, int64_t dim2 = 1);
Tensor t(const Tensor& x);         // transpose of a <= 2-D tensor
Tensor matrix_t(const Tensor& x);  // .mT: swap the last two dims
Tensor full_t(const Tensor& x);    // .T: reverse all dims

// Slicing views (cpp/src/ops/slice.cpp).
Tensor select(const Tensor& x, int64_t dim, int64_t index);
// Python-slice semantics: start/end clamped to [0, size] after wrapping negatives; step > 0.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);
std::vector<Tensor> unbind(const Tensor& x, int64_t dim = 0);

// Copies (cpp/src/ops/slice.cpp, join.cpp).
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims);
Tensor repeat(const Tensor& x, const Shape& repeats);
Tensor tril(const Tensor& x, int64_t diagonal = 0);
Tensor triu(const Tensor& x, int64_t diagonal = 0);
// Constant padding, torch's pad order (last dim first: left, right, top, bottom, ...); negative
// pads crop.
Tensor constant_pad(const Tensor& x, const std::vector<int64_t>& pad, Scalar value);
// F.pad's 'reflect', 'replicate' and 'circular' modes
Tensor mode_pad(const Tensor& x, const std::vector<int64_t>& pad, const std::string& mode);
// Concatenation with type promotion across inputs; 1-D empty tensors are skipped like torch.
Tensor cat(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);

}  // namespace ember::ops

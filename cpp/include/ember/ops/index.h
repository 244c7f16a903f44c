// Indexing ops: slicing, integer-array indexing, gather/scatter, masks (cpp/src/ops/index.cpp,
// the Python index expression walk in cpp/src/ops/indexing.cpp). Index tensors are int64 or
// int32 (bool/uint8 masks where torch takes them); out-of-range indices raise IndexError.
#pragma once
#include <optional>
#include <vector>

#include "ember/scalar.h"
#include "ember/tensor.h"

namespace ember::ops {

// Advanced indexing (torch's aten::index): indices[d] indexes dim d (an undefined Tensor = ':');
// bool masks cover as many dims as they have. Index dims broadcast together; they replace the
// indexed dims in place when those are adjacent, else they go first.
Tensor index(const Tensor& x, const std::vector<Tensor>& indices);
Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false);
Tensor& index_put_(Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate = false);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// x with alpha * source's slices added at index along dim (repeated indices accumulate).
Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, Scalar alpha);
Tensor& index_add_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, Scalar alpha);

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, Scalar value);
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor& scatter_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor& scatter_(Tensor& x, int64_t dim, const Tensor& index, Scalar value);
Tensor& scatter_add_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
Tensor take_along_dim(const Tensor& x, const Tensor& indices, std::optional<int64_t> dim);

// value: a 0-d tensor (may require grad), cast to x's dtype.
Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value);
Tensor& masked_fill_(Tensor& x, const Tensor& mask, const Tensor& value);
Tensor masked_select(const Tensor& x, const Tensor& mask);
Tensor nonzero(const Tensor& x);  // (n, x.dim()) int64

// One entry of a Python index expression x[...].
struct TensorIndex {
  enum class Kind { Int, Slice, None, Ellipsis, Bool, Tensor };
  Kind kind = Kind::None;
  int64_t value = 0;  // Int, Bool
  std::optional<int64_t> start, stop, step;  // Slice
  Tensor tensor;      // Tensor
};
Tensor getitem(const Tensor& x, const std::vector<TensorIndex>& index);
// x[index] = value (value broadcast to the indexed shape and cast to x's dtype); autograd-aware.
void setitem(Tensor& x, const std::vector<TensorIndex>& index, const Tensor& value);

}  // namespace ember::ops

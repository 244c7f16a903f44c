// Shapes and strides (in elements), broadcasting and dim wrapping. Pure functions, no tensors.
#pragma once
#include <cstdint>
#include <ostream>
#include <vector>

#include "ember/error.h"
#include "ember/small_vector.h"

namespace ember {

// Sizes and strides in elements: up to 5 dims inline (no allocation), more on the heap.
using Shape = SmallVec<5>;
using Strides = SmallVec<5>;

int64_t numel_of(const Shape& s);
Strides contiguous_strides(const Shape& s);
// torch's broadcasting: align right, sizes equal or 1. Throws ValueError naming `op`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Wrap a possibly negative dim into [0, ndim). A 0-d tensor accepts dims -1 and 0.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);
// Sorted unique wrapped dims; an empty list means "all dims".
std::vector<int64_t> wrap_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op);
std::string shape_str(const Shape& s);  // "(2, 3)"

struct ShapeOut { const Shape& s; };
inline std::ostream& operator<<(std::ostream& os, const ShapeOut& s) { return os << shape_str(s.s); }

}  // namespace ember

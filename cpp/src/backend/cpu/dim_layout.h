// Helpers for kernels that work along one dim (arg-reduce, softmax, scan): view a tensor as
// (O, R, I) = (outer, size(dim), inner) over contiguous memory, copying it first if needed. Also
// brings exp_any (vec_math.h), the exp these kernels share.
#pragma once
#include <cstdint>

#include "cpu_backend.h"
#include "vec_math.h"

namespace ember::cpu {

struct DimLayout {
  Tensor t;  // contiguous
  int64_t O = 1, R = 1, I = 1;
};

inline DimLayout dim_layout(const Tensor& x, int64_t dim) {
  DimLayout L;
  L.t = x;
  if (!x.is_contiguous()) {
    L.t = Tensor::empty(x.shape(), x.dtype(), x.device());
    copy(x, L.t);
  }
  for (int64_t d = 0; d < x.dim(); ++d) (d < dim ? L.O : d == dim ? L.R : L.I) *= x.shape()[d];
  return L;
}

}  // namespace ember::cpu

// StridedIter setup: broadcast inputs to the output shape, drop size-1 dims, coalesce.
#include "loops.h"

namespace ember::cpu {

StridedIter::StridedIter(const Tensor& out, std::initializer_list<const Tensor*> inputs) {
  nops_ = 1 + static_cast<int>(inputs.size());
  EMBER_CHECK(nops_ <= kMaxOperands, RuntimeError, "StridedIter: too many operands");
  const Shape& shape = out.shape();
  const int nd = static_cast<int>(shape.size());
  EMBER_CHECK(nd <= kMaxDims, RuntimeError, "tensors with more than ", kMaxDims, " dims are not supported");
  numel_ = numel_of(shape);
  const Tensor* ops[kMaxOperands] = {&out};
  int k = 1;
  for (auto* t : inputs) ops[k++] = t;
  if (numel_ == 1) {  // for_each reads only the base pointers
    for (k = 0; k < nops_; ++k) base_[k] = static_cast<char*>(ops[k]->raw_data());
    return;
  }
  // Full (uncoalesced) byte strides per operand, broadcast with zeros.
  int64_t full[kMaxOperands][kMaxDims];
  for (k = 0; k < nops_; ++k) {
    const Tensor& t = *ops[k];
    base_[k] = static_cast<char*>(t.raw_data());
    int off = nd - static_cast<int>(t.dim());
    int64_t isz = static_cast<int64_t>(t.itemsize());
    for (int d = 0; d < nd; ++d) {
      int td = d - off;
      full[k][d] = (td < 0 || t.shape()[td] == 1) ? 0 : t.strides()[td] * isz;
    }
  }
  // Drop size-1 dims, then merge dim d into the previous kept dim when every operand allows it.
  ndim_ = 0;
  for (int d = 0; d < nd; ++d) {
    if (shape[d] == 1) continue;
    if (ndim_ > 0) {
      bool merge = true;
      for (k = 0; k < nops_; ++k)
        if (strides_[k][ndim_ - 1] != full[k][d] * shape[d]) { merge = false; break; }
      if (merge) {
        shape_[ndim_ - 1] *= shape[d];
        for (k = 0; k < nops_; ++k) strides_[k][ndim_ - 1] = full[k][d];
        continue;
      }
    }
    shape_[ndim_] = shape[d];
    for (k = 0; k < nops_; ++k) strides_[k][ndim_] = full[k][d];
    ndim_++;
  }
}

}  // namespace ember::cpu

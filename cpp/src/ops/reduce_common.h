// Helpers shared by the reduction op files (reduce.cpp, reduce_minmax.cpp, softmax.cpp, scan.cpp):
// reduced shapes, raw (no autograd) kernel calls, broadcasting a reduced gradient back.
#pragma once
#include <cmath>

#include "common.h"

namespace ember::ops::red {

inline std::vector<int64_t> all_dims(int64_t n) {
  std::vector<int64_t> d(n);
  for (int64_t i = 0; i < n; ++i) d[i] = i;
  return d;
}
// `dims` as wrapped by wrap_dims (empty = all) -> the explicit list.
inline std::vector<int64_t> explicit_dims(const std::vector<int64_t>& dims, int64_t ndim) {
  return dims.empty() ? all_dims(ndim) : dims;
}

// Output shape with reduced dims kept as 1 (kept), and without them (dropped).
inline void reduced_shapes(const Shape& in, const std::vector<int64_t>& dims, Shape& kept, Shape& dropped) {
  kept = in;
  dropped.clear();
  SmallVec<8> red(in.size(), 0);
  for (auto d : dims) red[d] = true;
  for (size_t d = 0; d < in.size(); ++d) {
    if (red[d]) kept[d] = 1;
    else dropped.push_back(in[d]);
  }
}

// Number of elements reduced into each output element.
inline int64_t reduced_count(const Shape& in, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (auto d : explicit_dims(dims, static_cast<int64_t>(in.size()))) n *= in[d];
  return n;
}

// A contiguous result shaped with the dims kept as 1, viewed without them unless keepdim.
inline Tensor maybe_squeeze(const Tensor& out_kept, const Shape& dropped, bool keepdim) {
  if (keepdim) return out_kept;
  return Tensor::make_view(out_kept, dropped, contiguous_strides(dropped), out_kept.offset());
}

// Run a reduction kernel into a fresh tensor of dtype `out_dtype` (x is cast to it first).
// Empty inputs give the op's identity (0 for Sum, 1 for Prod, NaN for Mean, true for All).
inline Tensor reduce_raw(ReduceOp op, const Tensor& x, std::vector<int64_t> dims, bool keepdim, DType out_dtype) {
  if (dims.empty()) dims = all_dims(x.dim());
  Shape kept, dropped;
  reduced_shapes(x.shape(), dims, kept, dropped);
  Tensor xin = cast_raw(x, out_dtype);
  Tensor out = Tensor::empty(kept, out_dtype, x.device());
  if (dims.empty()) {  // 0-d input: the reduction is the identity (squared for SumSq)
    copy_into(out, op == ReduceOp::SumSq ? Tensor(mul(xin, xin)) : xin);
  } else if (x.numel() == 0) {
    Scalar init = op == ReduceOp::Prod || op == ReduceOp::All ? Scalar(int64_t(1)) : Scalar(int64_t(0));
    if (op == ReduceOp::Mean) init = Scalar(std::nan(""));
    backend_of(out).fill(out, init);
  } else {
    backend_of(out).reduce(op, xin, dims, out);
  }
  return maybe_squeeze(out, dropped, keepdim);
}

// A reduced tensor (or its gradient) broadcast back to the input shape.
inline Tensor unreduce(const Tensor& g, const Shape& in_shape, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor t = g;
  if (!keepdim)
    for (auto k : explicit_dims(dims, static_cast<int64_t>(in_shape.size()))) t = unsqueeze(t, k);
  return expand(t, in_shape);
}

inline Tensor S(double v) { return wrap_scalar(Scalar(v)); }

// int64 positions 0..n-1 laid along `dim` of an ndim-d tensor: shape (1, .., n, .., 1).
inline Tensor iota_along(int64_t n, int64_t dim, int64_t ndim, Device device) {
  Tensor r = arange(Scalar(int64_t(0)), Scalar(n), Scalar(int64_t(1)), DType::Int64);
  Shape s(std::max<int64_t>(ndim, 1), 1);
  s[dim] = n;
  return to_device(reshape(r, ndim == 0 ? Shape{} : s), device);
}

}  // namespace ember::ops::red

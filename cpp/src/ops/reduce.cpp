// Reductions: forward and backward side by side.
#include <cmath>

#include "common.h"

namespace ember::ops {

namespace {
// Output shape with reduced dims kept as 1, and without them.
void reduced_shapes(const Shape& in, const std::vector<int64_t>& dims, Shape& kept, Shape& dropped) {
  kept = in;
  dropped.clear();
  std::vector<bool> red(in.size(), false);
  for (auto d : dims) red[d] = true;
  for (size_t d = 0; d < in.size(); ++d) {
    if (red[d]) kept[d] = 1;
    else dropped.push_back(in[d]);
  }
}

std::vector<int64_t> all_dims(int64_t n) {
  std::vector<int64_t> d(n);
  for (int64_t i = 0; i < n; ++i) d[i] = i;
  return d;
}

// Run a reduction kernel into a fresh tensor of dtype `out_dtype` (x is cast to it first).
Tensor reduce_raw(ReduceOp op, const Tensor& x, std::vector<int64_t> dims, bool keepdim, DType out_dtype) {
  if (dims.empty()) dims = all_dims(x.dim());
  Shape kept, dropped;
  reduced_shapes(x.shape(), dims, kept, dropped);
  Tensor xin = cast_raw(x, out_dtype);
  Tensor out = Tensor::empty(kept, out_dtype, x.device());
  if (dims.empty()) {  // 0-d input: the reduction is the identity
    copy_into(out, xin);
  } else if (x.numel() == 0) {
    backend_of(out).fill(out, op == ReduceOp::Prod ? Scalar(int64_t(1)) : Scalar(int64_t(0)));
    if (op == ReduceOp::Mean) backend_of(out).fill(out, Scalar(std::nan("")));
  } else {
    backend_of(out).reduce(op, xin, dims, out);
  }
  if (!keepdim) out = Tensor::make_view(out, dropped, contiguous_strides(dropped), 0);
  return out;
}

// Gradient of a reduced tensor broadcast back to the input shape.
Tensor unreduce(const Tensor& g, const Shape& in_shape, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor t = g;
  if (!keepdim) {
    std::vector<int64_t> d = dims.empty() ? all_dims(static_cast<int64_t>(in_shape.size())) : dims;
    for (auto k : d) t = unsqueeze(t, k);
  }
  return expand(t, in_shape);
}

struct SumBackward : Node {
  Shape in_shape;
  std::vector<int64_t> dims;
  bool keepdim = false;
  std::string name() const override { return dims.empty() ? "SumBackward0" : "SumBackward1"; }
  TensorList apply(TensorList&& g) override { return {unreduce(g[0], in_shape, dims, keepdim)}; }  // d sum = expand(g)
};
struct MeanBackward : Node {
  Shape in_shape;
  std::vector<int64_t> dims;
  bool keepdim = false;
  double count = 1;
  std::string name() const override { return dims.empty() ? "MeanBackward0" : "MeanBackward1"; }
  TensorList apply(TensorList&& g) override {  // d mean = expand(g) / count
    return {div(unreduce(g[0], in_shape, dims, keepdim), wrap_scalar(Scalar(count)))};
  }
};
}  // namespace

Tensor sum(const Tensor& x, const Dims& dims_in, bool keepdim, std::optional<DType> dtype) {
  auto dims = wrap_dims(dims_in, x.dim(), "sum");
  DType out_dtype = dtype ? *dtype : (is_floating(x.dtype()) ? x.dtype() : DType::Int64);
  Tensor out = reduce_raw(ReduceOp::Sum, x, dims, keepdim, out_dtype);
  if (is_floating(out_dtype))
    if (auto node = make_node<SumBackward>({x})) {
      node->in_shape = x.shape();
      node->dims = dims;
      node->keepdim = keepdim;
      set_history(out, node);
    }
  return out;
}

Tensor mean(const Tensor& x, const Dims& dims_in, bool keepdim) {
  EMBER_CHECK(is_floating(x.dtype()), RuntimeError,
              "mean(): could not infer output dtype. Input dtype must be either a floating point or complex "
              "dtype. Got: ", dtype_name(x.dtype()));
  auto dims = wrap_dims(dims_in, x.dim(), "mean");
  Tensor out = reduce_raw(ReduceOp::Mean, x, dims, keepdim, x.dtype());
  if (auto node = make_node<MeanBackward>({x})) {
    node->in_shape = x.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    double count = 1;
    for (auto d : (dims.empty() ? all_dims(x.dim()) : dims)) count *= static_cast<double>(x.shape()[d]);
    node->count = count;
    set_history(out, node);
  }
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && grad.shape()[d] != 1)) dims.push_back(d);
  Tensor s = dims.empty() ? grad : sum(grad, dims, true);
  return reshape(s, shape);
}

}  // namespace ember::ops

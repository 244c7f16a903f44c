// max / min (full, along a dim with indices, binary form in elementwise.cpp), amax / amin,
// argmax / argmin: forward and backward side by side. NaN propagates like torch; the index
// returned for ties is the first one.
#include "reduce_common.h"

namespace ember::ops {

using namespace red;

namespace {
// NOTE: amax/amin and full max/min split the gradient evenly among the entries equal to the
// result (NaN counting as equal to a NaN result), like torch's evenly_distribute_backward.
struct AmaxBackward : Node {
  SavedVariable x, y;
  Shape in_shape;
  std::vector<int64_t> dims;
  bool keepdim = false, is_max = true, full = false;
  std::string name() const override {
    return full ? (is_max ? "MaxBackward1" : "MinBackward1") : (is_max ? "AmaxBackward0" : "AminBackward0");
  }
  void release_variables() override { x.reset(); y.reset(); }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this);
    Tensor yv = unreduce(y.unpack(this), in_shape, dims, keepdim);
    Tensor hit = logical(BinaryOp::LogicalOr, compare(BinaryOp::Eq, xv, yv),
                         logical(BinaryOp::LogicalAnd, unary(UnaryOp::IsNan, xv), unary(UnaryOp::IsNan, yv)));
    Tensor count = unreduce(sum(hit, dims, true), in_shape, dims, true);
    // d amax = g * [x == y] / count
    return {div(mul(unreduce(g[0], in_shape, dims, keepdim), hit), count)};
  }
};

// Gradient of a value picked at `indices` along `dim`: g goes to that position, 0 elsewhere.
struct IndexSelectBackward : Node {
  SavedVariable indices;
  Shape in_shape;
  int64_t dim = 0;
  bool keepdim = false, is_max = true;
  std::string name() const override { return is_max ? "MaxBackward0" : "MinBackward0"; }
  void release_variables() override { indices.reset(); }
  TensorList apply(TensorList&& g) override {
    const int64_t nd = static_cast<int64_t>(in_shape.size());
    if (nd == 0) return {g[0]};
    Tensor gk = keepdim ? g[0] : unsqueeze(g[0], dim);
    Tensor ik = indices.unpack(this);
    if (!keepdim) ik = unsqueeze(ik, dim);
    if (!GradMode::is_enabled()) {  // g scattered into zeros: no full-size mask and select
      Tensor z = zeros(in_shape, gk.dtype(), gk.device());
      scatter_(z, dim, ik, gk);
      return {z};
    }
    Tensor pick = compare(BinaryOp::Eq, iota_along(in_shape[dim], dim, nd, gk.device()), ik);
    // d max(x, dim) = where(position == index, g, 0)
    return {expand(where(pick, gk, zeros_like(gk)), in_shape)};
  }
};

void check_nonempty_dims(const Tensor& x, const std::vector<int64_t>& dims, const char* op, bool index_error) {
  if (x.numel() != 0) return;
  EMBER_CHECK(!dims.empty() || x.dim() == 0, RuntimeError, op,
              "(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with "
              "the 'dim' argument.");
  for (auto d : dims)
    if (x.shape()[d] == 0) {
      std::string msg = str(op, "(): Expected reduction dim ", d, " to have non-zero size.");
      if (index_error) throw IndexError(msg);
      throw RuntimeError(msg);
    }
}

Tensor amax_impl(const Tensor& x, const Dims& dims_in, bool keepdim, bool is_max, bool full) {
  const char* op = full ? (is_max ? "max" : "min") : (is_max ? "amax" : "amin");
  auto dims = wrap_dims(dims_in, x.dim(), op);
  check_nonempty_dims(x, dims, op, false);
  Tensor out;
  if (x.dtype() == DType::Bool)  // max of bools is any, min is all
    out = reduce_raw(is_max ? ReduceOp::Any : ReduceOp::All, x, dims, keepdim, DType::Bool);
  else
    out = reduce_raw(is_max ? ReduceOp::Max : ReduceOp::Min, x, dims, keepdim, x.dtype());
  if (is_floating(x.dtype()))
    if (auto node = make_node<AmaxBackward>({x})) {
      node->x = SavedVariable(x, false);
      node->y = SavedVariable(out, true);
      node->in_shape = x.shape();
      node->dims = dims;
      node->keepdim = keepdim;
      node->is_max = is_max;
      node->full = full;
      set_history(out, node);
    }
  return out;
}

// values and int64 indices of the max/min along `dim` (wrapped; x.dim() > 0), dims kept as 1.
std::pair<Tensor, Tensor> arg_reduce_raw(const Tensor& x, int64_t dim, bool is_max) {
  Shape kept = x.shape();
  kept[dim] = 1;
  Tensor xin = x.dtype() == DType::Bool ? cast_raw(x, DType::UInt8) : x;
  Tensor values = Tensor::empty(kept, xin.dtype(), x.device());
  Tensor indices = Tensor::empty(kept, DType::Int64, x.device());
  backend_of(x).arg_reduce(is_max, xin, dim, values, indices);
  return {cast_raw(values, x.dtype()), indices};
}

std::tuple<Tensor, Tensor> max_min_dim(const Tensor& x, int64_t dim_in, bool keepdim, bool is_max) {
  const char* op = is_max ? "max" : "min";
  const int64_t dim = wrap_dim(dim_in, x.dim(), op);
  Tensor values, indices;
  if (x.dim() == 0) {
    values = clone(x.detach());
    indices = zeros({}, DType::Int64, x.device());
  } else {
    check_nonempty_dims(x, {dim}, op, true);
    std::tie(values, indices) = arg_reduce_raw(x, dim, is_max);
    Shape kept, dropped;
    reduced_shapes(x.shape(), {dim}, kept, dropped);
    values = maybe_squeeze(values, dropped, keepdim);
    indices = maybe_squeeze(indices, dropped, keepdim);
  }
  if (is_floating(x.dtype()))
    if (auto node = make_node<IndexSelectBackward>({x})) {
      node->indices = SavedVariable(indices, false);
      node->in_shape = x.shape();
      node->dim = dim;
      node->keepdim = keepdim;
      node->is_max = is_max;
      set_history(values, node);
    }
  return {values, indices};
}

Tensor argmax_impl(const Tensor& x, std::optional<int64_t> dim, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  EMBER_CHECK(x.dtype() != DType::Bool, RuntimeError, op, "(): does not support bool input");
  NoGradGuard ng;
  if (!dim) {
    EMBER_CHECK(x.numel() != 0, IndexError, op, "(): Expected reduction dim to be specified for input.numel() == 0.");
    Tensor flat = reshape(x.detach(), {x.numel()});
    Tensor idx = arg_reduce_raw(flat, 0, is_max).second;
    return reshape(idx, keepdim ? Shape(x.dim(), 1) : Shape{});
  }
  const int64_t d = wrap_dim(*dim, x.dim(), op);
  if (x.dim() == 0) return zeros({}, DType::Int64, x.device());
  check_nonempty_dims(x, {d}, op, true);
  Tensor idx = arg_reduce_raw(x.detach(), d, is_max).second;
  Shape kept, dropped;
  reduced_shapes(x.shape(), {d}, kept, dropped);
  return maybe_squeeze(idx, dropped, keepdim);
}
}  // namespace

Tensor max(const Tensor& x) { return amax_impl(x, {}, false, true, true); }
Tensor min(const Tensor& x) { return amax_impl(x, {}, false, false, true); }
std::tuple<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) { return max_min_dim(x, dim, keepdim, true); }
std::tuple<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) { return max_min_dim(x, dim, keepdim, false); }
Tensor amax(const Tensor& x, const Dims& dims, bool keepdim) { return amax_impl(x, dims, keepdim, true, false); }
Tensor amin(const Tensor& x, const Dims& dims, bool keepdim) { return amax_impl(x, dims, keepdim, false, false); }
Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return argmax_impl(x, dim, keepdim, true); }
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) { return argmax_impl(x, dim, keepdim, false); }

}  // namespace ember::ops

// sort, argsort and topk along one dim — forward (backend sort kernel on rows made contiguous with
// the dim last) and backward (the gradient scattered back to where each value came from).
#include "reduce_common.h"

namespace ember::ops {

namespace {
// d values = g at the taken positions: zeros(x) with g scattered along dim by indices (distinct
// per row, so a plain scatter; through ops::scatter, so it is itself differentiable).
struct SortBackward : Node {
  SavedVariable indices;
  Shape in_shape;
  int64_t dim = 0;
  std::string nm;
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& g) override {
    Tensor idx = indices.unpack(this);
    if (in_shape.empty()) return {g[0]};
    return {scatter(zeros(in_shape, g[0].dtype(), g[0].device()), dim, idx, g[0])};
  }
  void release_variables() override { indices.reset(); }
};

// The first k of each slice along dim (wrapped), sorted; shared by sort (k = size) and topk.
std::pair<Tensor, Tensor> sort_impl(const Tensor& x, int64_t dim, int64_t k, bool descending, const char* op) {
  if (x.dim() == 0) {  // torch: a 0-d tensor sorts to itself, index 0
    Tensor v = clone(x.detach());
    Tensor i = zeros({}, DType::Int64, x.device());
    if (auto node = make_node<SortBackward>({x})) {
      node->nm = op;
      set_history(v, node);
    }
    return {v, i};
  }
  Tensor xt = contiguous(movedim(x.detach(), {dim}, {-1}));
  Shape shape = xt.shape();
  shape.back() = k;
  Tensor v = Tensor::empty(shape, x.dtype(), x.device());
  Tensor i = Tensor::empty(shape, DType::Int64, x.device());
  backend_of(x).sort(xt, descending, k, v, i);
  v = contiguous(movedim(v, {-1}, {dim}));
  i = contiguous(movedim(i, {-1}, {dim}));
  if (is_floating(x.dtype()))
    if (auto node = make_node<SortBackward>({x})) {
      node->indices = SavedVariable(i, false);
      node->in_shape = x.shape();
      node->dim = dim;
      node->nm = op;
      set_history(v, node);
    }
  return {v, i};
}
}  // namespace

std::tuple<Tensor, Tensor> sort(const Tensor& x, int64_t dim, bool descending, bool /*stable*/) {
  // Always stable: equal values keep their order, which is also a valid unstable order.
  dim = wrap_dim(dim, x.dim(), "sort");
  auto [v, i] = sort_impl(x, dim, x.dim() ? x.size(dim) : 1, descending, "SortBackward0");
  return {v, i};
}

Tensor argsort(const Tensor& x, int64_t dim, bool descending, bool stable) {
  NoGradGuard ng;
  return std::get<1>(sort(x, dim, descending, stable));
}

std::tuple<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim, bool largest, bool /*sorted*/) {
  // Results always come sorted (allowed for sorted=False too).
  dim = wrap_dim(dim, x.dim(), "topk");
  const int64_t n = x.dim() ? x.size(dim) : 1;
  EMBER_CHECK(k >= 0 && k <= n, RuntimeError, "topk(): selected index k out of range: k = ", k,
              " for a dimension of size ", n);
  auto [v, i] = sort_impl(x, dim, k, largest, "TopkBackward0");
  return {v, i};
}

}  // namespace ember::ops

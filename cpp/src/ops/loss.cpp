// Fused cross-entropy over class indices (torch.nn.functional.cross_entropy with integer targets):
// forward validates shapes, dtypes and options, runs the backend's fused kernel and reduces; the
// backward node calls the fused backward kernel, or, under create_graph, the same formula written
// with differentiable ops (so double backward works). Other losses are Python composites.
#include "ember/ops/loss.h"

#include "reduce_common.h"

namespace ember::ops {

using namespace red;

namespace {

struct CrossEntropyBackward : Node {
  SavedVariable x;  // (N, C, d...) (a 1-D input is viewed as (1, C))
  Tensor target, weight, stats, wsum;
  Shape loss_shape;  // the shape of 'none' output as returned (target's)
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
  double eps = 0;
  std::string name() const override { return "CrossEntropyLossBackward0"; }
  void release_variables() override { x.reset(); }

  // d loss_k / d x_c = (1-eps) w[t] (p_c - [c == t]) + eps/C (W p_c - w_c), times g_k.
  Tensor composite(const Tensor& xv, const Tensor& gk) const {
    const int64_t C = xv.shape()[1], nd = xv.dim();
    Tensor valid = compare(BinaryOp::Ne, target, wrap_scalar(Scalar(ignore_index)));
    Tensor tsafe = where(valid, target, zeros_like(target));
    Tensor onehot = to_dtype(compare(BinaryOp::Eq, iota_along(C, 1, nd, xv.device()), unsqueeze(tsafe, 1)), xv.dtype());
    Tensor p = softmax(xv, 1);
    Shape wshape(nd, 1);
    wshape[1] = C;
    Tensor w = weight.defined() ? reshape(weight, wshape) : ones(wshape, xv.dtype(), xv.device());
    Tensor W = sum(w);
    Tensor wt_flat = gather(reshape(w, {C}), 0, reshape(tsafe, {-1}));
    Tensor wt = unsqueeze(mul(reshape(wt_flat, target.shape()), to_dtype(valid, xv.dtype())), 1);
    Tensor term = mul(mul(wt, sub(p, onehot)), S(1 - eps));
    if (eps > 0) term = add(term, mul(mul(sub(mul(W, p), w), S(eps / C)), unsqueeze(to_dtype(valid, xv.dtype()), 1)));
    return mul(unsqueeze(gk, 1), term);
  }

  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this);
    Tensor gk = g[0];
    if (reduction == Reduction::Mean) gk = div(gk, wsum);
    if (reduction == Reduction::None) gk = reshape(gk, target.shape());
    Tensor dx;
    if (GradMode::is_enabled()) {
      dx = composite(xv, expand(gk, target.shape()));
    } else {
      dx = Tensor::empty(xv.shape(), xv.dtype(), xv.device());
      backend_of(xv).cross_entropy_backward(xv, target, weight, ignore_index, eps, stats, cast_raw(gk, xv.dtype()), dx);
    }
    return {dx};
  }
};

}  // namespace

Tensor cross_entropy(const Tensor& input, const Tensor& target_in, const std::optional<Tensor>& weight_in,
                     Reduction reduction, int64_t ignore_index, double label_smoothing) {
  EMBER_CHECK(is_floating(input.dtype()), RuntimeError, "cross_entropy: expected a floating point input, got ",
              dtype_name(input.dtype()));
  EMBER_CHECK(target_in.dtype() == DType::Int64, RuntimeError,
              "cross_entropy: expected class-index targets of dtype int64 (Long), got ",
              dtype_name(target_in.dtype()));
  EMBER_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, RuntimeError,
              "label_smoothing must be between 0.0 and 1.0. Got: ", label_smoothing);
  check_same_device(input, target_in, "cross_entropy");
  EMBER_CHECK(input.dim() >= 1, ValueError, "cross_entropy: expected an input of at least 1 dimension (C,) or "
                                            "(N, C, d...), got a 0-d tensor");
  const bool unbatched = input.dim() == 1;
  Tensor x = unbatched ? unsqueeze(input, 0) : input;
  Tensor target = target_in;
  if (unbatched) {
    EMBER_CHECK(target.dim() == 0, RuntimeError, "cross_entropy: a 1-D input (C,) needs a 0-d target, got shape ",
                shape_str(target.shape()));
    target = unsqueeze(target, 0);
  }
  const int64_t C = x.shape()[1];
  Shape want(x.shape());
  want.erase(want.begin() + 1);
  EMBER_CHECK(target.shape() == want, RuntimeError, "cross_entropy: expected target size ", shape_str(want),
              " for input of size ", shape_str(input.shape()), ", got ", shape_str(target_in.shape()));
  Tensor weight;
  if (weight_in && weight_in->defined()) {
    EMBER_CHECK(weight_in->dim() == 1 && weight_in->numel() == C, RuntimeError,
                "weight tensor should be defined either for all ", C,
                " classes or no classes but got weight tensor of shape: ", shape_str(weight_in->shape()));
    check_same_device(input, *weight_in, "cross_entropy");
    weight = cast_raw(weight_in->detach(), x.dtype());
  }
  Tensor loss = Tensor::empty(want, x.dtype(), x.device());
  Tensor wt = Tensor::empty(want, x.dtype(), x.device());
  Shape stats_shape(want);
  stats_shape.push_back(2);
  Tensor stats = Tensor::empty(stats_shape, x.dtype(), x.device());
  Tensor out, wsum;
  {
    NoGradGuard ng;
    Tensor xd = x.detach();
    backend_of(x).cross_entropy(xd, target, weight, ignore_index, label_smoothing, loss, wt, stats);
    if (reduction == Reduction::None) {
      out = unbatched ? reshape(loss, {}) : loss;
    } else {
      out = sum(loss);
      if (reduction == Reduction::Mean) {
        wsum = sum(wt);
        out = div(out, wsum);
      }
    }
  }
  if (auto node = make_node<CrossEntropyBackward>({x})) {
    node->x = SavedVariable(x, false);
    node->target = target;
    node->weight = weight;
    node->stats = stats;
    node->wsum = wsum;
    node->reduction = reduction;
    node->ignore_index = ignore_index;
    node->eps = label_smoothing;
    set_history(out, node);
  }
  return out;
}

}  // namespace ember::ops

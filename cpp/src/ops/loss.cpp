// Fused cross-entropy over class indices (torch.nn.functional.cross_entropy with integer targets):
// forward validates shapes, dtypes and options, runs the backend's fused kernel and reduces; the
// backward node calls the fused backward kernel, or, under create_graph, the same formula written
// with differentiable ops (so double backward works). NLL (over log-probabilities) the same way, its
// backward a zeroed gradient with one value per sample. Other losses are Python composites.
#include "ember/ops/loss.h"

#include "reduce_common.h"

namespace ember::ops {

using namespace red;

namespace {

// The samples a class-index loss counts (target != ignore_index), their targets with ignored ones
// read as class 0, and the one-hot (N, C, d...) of those targets in dtype dt.
struct ClassOneHot {
  Tensor valid, tsafe, onehot;
};
ClassOneHot class_onehot(const Tensor& target, int64_t ignore_index, int64_t C, int64_t nd, Device dev, DType dt) {
  ClassOneHot r;
  r.valid = compare(BinaryOp::Ne, target, wrap_scalar(Scalar(ignore_index)));
  r.tsafe = where(r.valid, target, zeros_like(target));
  r.onehot = to_dtype(compare(BinaryOp::Eq, iota_along(C, 1, nd, dev), unsqueeze(r.tsafe, 1)), dt);
  return r;
}

// A class-index loss's per-sample values reduced: as they are ('none'; 0-d for an unbatched
// input), summed, or summed over the weights' sum wsum (kept for the backward).
Tensor reduce_class_loss(const Tensor& loss, const Tensor& wt, Reduction reduction, bool unbatched, Tensor& wsum) {
  NoGradGuard ng;
  if (reduction == Reduction::None) return unbatched ? reshape(loss, {}) : loss;
  if (reduction == Reduction::Sum) return sum(loss);
  wsum = sum(wt);
  return div(sum(loss), wsum);
}

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
    const auto [valid, tsafe, onehot] = class_onehot(target, ignore_index, C, nd, xv.device(), xv.dtype());
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

struct NllLossBackward : Node {
  Shape x_shape;  // (N, C, d...) (a 1-D input is viewed as (1, C))
  DType x_dtype = DType::Float32;
  Device x_device;
  Tensor target, weight, wsum;
  Reduction reduction = Reduction::Mean;
  int64_t ignore_index = -100;
  std::string name() const override { return "NllLossBackward0"; }

  // d loss_k / d x_c = -w[t] [c == t], times g_k (in g: double backward reaches the incoming gradient)
  Tensor composite(const Tensor& gk) const {
    const int64_t C = x_shape[1], nd = static_cast<int64_t>(x_shape.size());
    const auto [valid, tsafe, onehot] = class_onehot(target, ignore_index, C, nd, x_device, x_dtype);
    Tensor wt = to_dtype(valid, x_dtype);
    if (weight.defined()) wt = mul(reshape(gather(weight, 0, reshape(tsafe, {-1})), target.shape()), wt);
    return mul(onehot, unsqueeze(neg(mul(wt, gk)), 1));
  }

  TensorList apply(TensorList&& g) override {
    Tensor gk = g[0];
    if (reduction == Reduction::Mean) gk = div(gk, wsum);
    if (reduction == Reduction::None) gk = reshape(gk, target.shape());
    if (GradMode::is_enabled()) return {composite(expand(gk, target.shape()))};
    Tensor dx = Tensor::empty(x_shape, x_dtype, x_device);
    backend_of(dx).nll_loss_backward(target, weight, ignore_index, cast_raw(gk, x_dtype), dx);
    return {dx};
  }
};

// input (N, C, d...) or (C,) and target checked as cross_entropy and nll_loss share them: x viewed as
// (N, C, d...), target as (N, d...), weight (C,) cast to x's dtype (undefined if none).
struct ClassArgs {
  Tensor x, target, weight;
  Shape loss_shape;  // (N, d...)
};
ClassArgs class_args(const char* op, const Tensor& input, const Tensor& target_in,
                     const std::optional<Tensor>& weight_in) {
  EMBER_CHECK(input.dim() >= 1, ValueError, op, ": expected an input of at least 1 dimension (C,) or "
              "(N, C, d...), got a 0-d tensor");
  EMBER_CHECK(is_floating(input.dtype()), RuntimeError, op, ": expected a floating point input, got ",
              dtype_name(input.dtype()));
  EMBER_CHECK(target_in.dtype() == DType::Int64, RuntimeError, op,
              ": expected class-index targets of dtype int64 (Long), got ", dtype_name(target_in.dtype()));
  check_same_device(input, target_in, op);
  ClassArgs r;
  const bool unbatched = input.dim() == 1;
  r.x = unbatched ? unsqueeze(input, 0) : input;
  r.target = target_in;
  if (unbatched) {
    EMBER_CHECK(target_in.dim() == 0, RuntimeError, op, ": a 1-D input (C,) needs a 0-d target, got shape ",
                shape_str(target_in.shape()));
    r.target = unsqueeze(target_in, 0);
  }
  const int64_t C = r.x.shape()[1];
  r.loss_shape = r.x.shape();
  r.loss_shape.erase(r.loss_shape.begin() + 1);
  EMBER_CHECK(r.target.shape() == r.loss_shape, RuntimeError, op, ": expected target size ",
              shape_str(r.loss_shape), " for input of size ", shape_str(input.shape()), ", got ",
              shape_str(target_in.shape()));
  if (weight_in && weight_in->defined()) {
    EMBER_CHECK(weight_in->dim() == 1 && weight_in->numel() == C, RuntimeError,
                "weight tensor should be defined either for all ", C,
                " classes or no classes but got weight tensor of shape: ", shape_str(weight_in->shape()));
    check_same_device(input, *weight_in, op);
    r.weight = cast_raw(weight_in->detach(), r.x.dtype());
  }
  return r;
}

}  // namespace

Tensor nll_loss(const Tensor& input, const Tensor& target_in, const std::optional<Tensor>& weight_in,
                Reduction reduction, int64_t ignore_index) {
  ClassArgs a = class_args("nll_loss", input, target_in, weight_in);
  Tensor loss = Tensor::empty(a.loss_shape, a.x.dtype(), a.x.device());
  Tensor wt = Tensor::empty(a.loss_shape, a.x.dtype(), a.x.device());
  backend_of(a.x).nll_loss(a.x.detach(), a.target, a.weight, ignore_index, loss, wt);
  Tensor wsum;
  Tensor out = reduce_class_loss(loss, wt, reduction, input.dim() == 1, wsum);
  if (auto node = make_node<NllLossBackward>({a.x})) {
    node->x_shape = a.x.shape();
    node->x_dtype = a.x.dtype();
    node->x_device = a.x.device();
    node->target = a.target;
    node->weight = a.weight;
    node->wsum = wsum;
    node->reduction = reduction;
    node->ignore_index = ignore_index;
    set_history(out, node);
  }
  return out;
}

Tensor cross_entropy(const Tensor& input, const Tensor& target_in, const std::optional<Tensor>& weight_in,
                     Reduction reduction, int64_t ignore_index, double label_smoothing) {
  EMBER_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0, RuntimeError,
              "label_smoothing must be between 0.0 and 1.0. Got: ", label_smoothing);
  ClassArgs a = class_args("cross_entropy", input, target_in, weight_in);
  const Tensor &x = a.x, &target = a.target, &weight = a.weight;
  const Shape& want = a.loss_shape;
  Tensor loss = Tensor::empty(want, x.dtype(), x.device());
  Tensor wt = Tensor::empty(want, x.dtype(), x.device());
  Shape stats_shape(want);
  stats_shape.push_back(2);
  Tensor stats = Tensor::empty(stats_shape, x.dtype(), x.device());
  backend_of(x).cross_entropy(x.detach(), target, weight, ignore_index, label_smoothing, loss, wt, stats);
  Tensor wsum;
  Tensor out = reduce_class_loss(loss, wt, reduction, input.dim() == 1, wsum);
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

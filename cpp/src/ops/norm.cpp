// Normalisation ops: batch_norm, layer_norm (fused kernels, forward and backward) and group_norm
// (layer_norm's kernel on (N * G, C / G * S) rows, then the per-channel affine as ordinary ops).
// Backwards call the fused kernels; with create_graph they use the same formulas written with
// differentiable ops, recomputing the statistics from x so higher derivatives are exact.
#include "ember/ops/norm.h"

#include "common.h"

namespace ember::ops {

namespace {

Tensor S(double v) { return wrap_scalar(Scalar(v)); }

Tensor contig(const Tensor& t) {
  if (!t.defined() || t.is_contiguous()) return t.defined() ? t.detach() : t;
  NoGradGuard ng;
  return contiguous(t.detach());
}

Tensor view3(const Tensor& t, int64_t a, int64_t b, int64_t c) {
  return Tensor::make_view(t, {a, b, c}, contiguous_strides({a, b, c}), t.offset());
}
Tensor view2(const Tensor& t, int64_t a, int64_t b) {
  return Tensor::make_view(t, {a, b}, contiguous_strides({a, b}), t.offset());
}

// (C) -> (1, C, 1, ..) to broadcast against an ndim-d (N, C, *) tensor.
Tensor channel_view(const Tensor& t, int64_t ndim) {
  Shape s(ndim, 1);
  s[1] = t.numel();
  return reshape(t, s);
}

std::vector<int64_t> dims_except_1(int64_t ndim) {
  std::vector<int64_t> d{0};
  for (int64_t i = 2; i < ndim; ++i) d.push_back(i);
  return d;
}

struct BatchNormBackward : Node {
  SavedVariable x, weight;
  Tensor mean, invstd;  // (C): batch stats (training) or running stats (eval); no graph
  bool training = true, has_weight = false, has_bias = false;
  double eps = 1e-5;
  std::string name() const override { return "NativeBatchNormBackward0"; }
  void release_variables() override { x.reset(); weight.reset(); }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this), wv = has_weight ? weight.unpack(this) : Tensor();
    const int64_t nd = xv.dim(), C = xv.size(1), N = xv.size(0), S_ = xv.numel() / std::max<int64_t>(N * C, 1);
    if (GradMode::is_enabled()) {
      auto dims = dims_except_1(nd);
      Tensor m, is;
      if (training) {
        m = mean_(xv, dims);
        is = div(S(1.0), sqrt(add(var(xv, dims, 0, true), S(eps))));
      } else {
        m = channel_view(mean, nd);
        is = channel_view(invstd, nd);
      }
      Tensor xhat = mul(sub(xv, m), is);
      Tensor gxhat = has_weight ? mul(g[0], channel_view(wv, nd)) : g[0];
      Tensor gx;
      // d x = invstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat)) (training), invstd * gxhat (eval)
      if (training) gx = mul(is, sub(sub(gxhat, mean_(gxhat, dims)), mul(xhat, mean_(mul(gxhat, xhat), dims))));
      else gx = mul(is, gxhat);
      Tensor gw = has_weight ? sum(mul(g[0], xhat), dims) : Tensor();  // d w = sum(g * xhat)
      Tensor gb = has_bias ? sum(g[0], dims) : Tensor();                 // d b = sum(g)
      return {gx, gw, gb};
    }
    // gx over an owned gy (ops/common.h): each channel's sums are taken before its gx is written
    const bool own = needs_input_grad(0) && owned_grad(g[0], xv) && g[0].dtype() == xv.dtype();
    Tensor xc = contig(xv), gc = own ? g[0] : contig(g[0]);
    Tensor gx = own ? gc : needs_input_grad(0) ? Tensor::empty(xv.shape(), xv.dtype(), xv.device()) : Tensor();
    Tensor gw = has_weight && needs_input_grad(1) ? Tensor::empty({C}, xv.dtype(), xv.device()) : Tensor();
    Tensor gb = has_bias && needs_input_grad(2) ? Tensor::empty({C}, xv.dtype(), xv.device()) : Tensor();
    if (xv.numel() == 0) {
      if (gw.defined()) backend_of(gw).fill(gw, Scalar(0.0));
      if (gb.defined()) backend_of(gb).fill(gb, Scalar(0.0));
      return {gx, gw, gb};
    }
    backend_of(xv).batch_norm_backward(view3(xc, N, C, S_), view3(gc, N, C, S_), contig(wv), mean, invstd,
                                       gx.defined() ? view3(gx, N, C, S_) : Tensor(), gw, gb, training);
    return {gx, gw, gb};
  }
  static Tensor mean_(const Tensor& t, const std::vector<int64_t>& dims) { return ops::mean(t, dims, true); }
};

void check_param(const Tensor& t, int64_t C, const char* what, const Tensor& x) {
  if (!t.defined()) return;
  EMBER_CHECK(t.numel() == C, RuntimeError, "batch_norm: ", what, " should contain ", C, " elements not ", t.numel());
  EMBER_CHECK(t.dtype() == x.dtype(), TypeError, "batch_norm: expected ", what, " of dtype ", dtype_name(x.dtype()),
              ", got ", dtype_name(t.dtype()));
}

// r = r (1 - momentum) + stat factor momentum, in place, outside autograd: one backend pass when r is
// contiguous and of stat's dtype, else the same formula in tensor ops (torch promotes and casts back
// the same way).
void update_running(const Tensor& r, const Tensor& stat, double momentum, double factor = 1.0) {
  NoGradGuard ng;
  if (r.is_contiguous() && r.dtype() == stat.dtype() && r.device() == stat.device()) {
    backend_of(r).batch_norm_update_running(r, stat, momentum, factor);
  } else {
    Tensor s = factor == 1.0 ? stat : mul(stat, S(factor));
    Tensor upd = add(mul(r.detach(), S(1.0 - momentum)), mul(reshape(s, r.shape()), S(momentum)));
    backend_of(r).copy(cast_raw(upd, r.dtype()), r);
  }
  r.bump_version();
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  EMBER_CHECK(input.dim() >= 2, ValueError, "batch_norm: expected input of shape (N, C, *), got ", describe(input));
  EMBER_CHECK(is_floating(input.dtype()), TypeError, "batch_norm: expected a floating-point input, got ",
              dtype_name(input.dtype()));
  const int64_t N = input.size(0), C = input.size(1);
  const int64_t S_ = C > 0 && N > 0 ? input.numel() / (N * C) : 0;
  check_param(weight, C, "weight", input);
  check_param(bias, C, "bias", input);
  check_param(running_mean, C, "running_mean", input);
  check_param(running_var, C, "running_var", input);
  EMBER_CHECK(training || (running_mean.defined() && running_var.defined()), RuntimeError,
              "batch_norm: running_mean and running_var must be defined in evaluation mode");
  if (training) {
    std::ostringstream sz;
    for (int64_t i = 0; i < input.dim(); ++i) sz << (i ? ", " : "") << input.size(i);
    EMBER_CHECK(input.numel() == 0 || N * S_ != 1, ValueError,
                "Expected more than 1 value per channel when training, got input size [",
                sz.str(), "]");
  }
  const DType dt = input.dtype();
  Tensor xc = contig(input);
  Tensor y = Tensor::empty(input.shape(), dt, input.device());
  Tensor mean = Tensor::empty({C}, dt, input.device()), var = Tensor::empty({C}, dt, input.device());
  if (!training) {  // a private copy: the running stats may change before backward
    backend_of(mean).copy(reshape(running_mean.detach(), {C}), mean);
    backend_of(var).copy(reshape(running_var.detach(), {C}), var);
  }
  Tensor invstd = Tensor::empty({C}, dt, input.device());
  if (input.numel() > 0)
    backend_of(input).batch_norm(view3(xc, N, C, S_), contig(weight), contig(bias), mean, var, invstd,
                                 view3(y, N, C, S_), training, eps);
  if (training && running_mean.defined() && input.numel() > 0) {
    const double n = static_cast<double>(N * S_);
    update_running(running_mean, mean, momentum);
    update_running(running_var, var, momentum, n / (n - 1));  // unbiased batch variance
  }
  if (auto node = make_node<BatchNormBackward>({input, weight, bias})) {
    node->x = SavedVariable(input, false);
    if (weight.defined()) node->weight = SavedVariable(weight, false);
    node->mean = mean;
    node->invstd = invstd;
    node->training = training;
    node->has_weight = weight.defined();
    node->has_bias = bias.defined();
    node->eps = eps;
    set_history(y, node);
  }
  return y;
}

namespace {
struct LayerNormBackward : Node {
  SavedVariable x, weight;
  Tensor mean, rstd;  // (M)
  int64_t M = 0, K = 0;
  bool has_weight = false, has_bias = false;
  double eps = 1e-5;
  std::string name() const override { return "NativeLayerNormBackward0"; }
  void release_variables() override { x.reset(); weight.reset(); }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this), wv = has_weight ? weight.unpack(this) : Tensor();
    if (GradMode::is_enabled()) {
      // on the (M, K) rows view the formula does not depend on the rank
      Tensor x2 = reshape(xv, {M, K}), g2 = reshape(g[0], {M, K});
      Tensor m = mean_(x2), rs = div(S(1.0), sqrt(add(var(x2, {1}, 0, true), S(eps))));
      Tensor xhat = mul(sub(x2, m), rs);
      Tensor a = has_weight ? mul(g2, reshape(wv, {1, K})) : g2;
      // d x = rstd * (a - mean(a) - xhat * mean(a * xhat)), a = g * w
      Tensor gx = reshape(mul(rs, sub(sub(a, mean_(a)), mul(xhat, mean_(mul(a, xhat))))), xv.shape());
      Tensor gw = has_weight ? reshape(sum(mul(g2, xhat), {0}), wv.shape()) : Tensor();  // d w = sum(g * xhat)
      Tensor gb = has_bias ? reshape(sum(g2, {0}), wv.defined() ? wv.shape() : Shape{K}) : Tensor();
      return {gx, gw, gb};
    }
    Tensor xc = contig(xv), gc = contig(g[0]);
    Tensor gx = needs_input_grad(0) ? Tensor::empty(xv.shape(), xv.dtype(), xv.device()) : Tensor();
    Tensor gw = has_weight && needs_input_grad(1) ? Tensor::empty(wv.shape(), xv.dtype(), xv.device()) : Tensor();
    Tensor gb;
    if (has_bias && needs_input_grad(2)) gb = Tensor::empty(has_weight ? wv.shape() : Shape{K}, xv.dtype(), xv.device());
    backend_of(xv).layer_norm_backward(view2(xc, M, K), view2(gc, M, K), contig(wv), mean, rstd,
                                       gx.defined() ? view2(gx, M, K) : Tensor(),
                                       gw.defined() ? reshape(gw, {K}) : Tensor(),
                                       gb.defined() ? reshape(gb, {K}) : Tensor());
    return {gx, gw, gb};
  }
  static Tensor mean_(const Tensor& t) { return ops::mean(t, {1}, true); }
};
}  // namespace

Tensor layer_norm(const Tensor& input, const std::vector<int64_t>& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  const int64_t d = static_cast<int64_t>(normalized_shape.size());
  bool ok = d >= 1 && input.dim() >= d;
  for (int64_t i = 0; ok && i < d; ++i) ok = input.size(input.dim() - d + i) == normalized_shape[i];
  if (!ok) {
    std::ostringstream ns, is;
    for (int64_t i = 0; i < d; ++i) ns << (i ? ", " : "") << normalized_shape[i];
    for (int64_t i = 0; i < input.dim(); ++i) is << (i ? ", " : "") << input.size(i);
    throw RuntimeError(str("Given normalized_shape=[", ns.str(), "], expected input with shape [*, ", ns.str(),
                           "], but got input of size[", is.str(), "]"));
  }
  EMBER_CHECK(is_floating(input.dtype()), TypeError, "layer_norm: expected a floating-point input, got ",
              dtype_name(input.dtype()));
  const Shape ns(normalized_shape.begin(), normalized_shape.end());
  for (const Tensor* p : {&weight, &bias})
    EMBER_CHECK(!p->defined() || p->shape() == ns, RuntimeError, "layer_norm: expected ", p == &weight ? "weight" : "bias",
                " of shape ", shape_str(ns), ", got ", describe(*p));
  int64_t K = 1;
  for (auto s : normalized_shape) K *= s;
  const int64_t M = K > 0 ? input.numel() / K : 0;
  Tensor xc = contig(input);
  Tensor y = Tensor::empty(input.shape(), input.dtype(), input.device());
  Tensor mean = Tensor::empty({M}, input.dtype(), input.device());
  Tensor rstd = Tensor::empty({M}, input.dtype(), input.device());
  if (input.numel() > 0)
    backend_of(input).layer_norm(view2(xc, M, K), weight.defined() ? reshape(contig(weight), {K}) : Tensor(),
                                 bias.defined() ? reshape(contig(bias), {K}) : Tensor(), view2(y, M, K), mean, rstd,
                                 eps);
  if (auto node = make_node<LayerNormBackward>({input, weight, bias})) {
    node->x = SavedVariable(input, false);
    if (weight.defined()) node->weight = SavedVariable(weight, false);
    node->mean = mean;
    node->rstd = rstd;
    node->M = M;
    node->K = K;
    node->has_weight = weight.defined();
    node->has_bias = bias.defined();
    node->eps = eps;
    set_history(y, node);
  }
  return y;
}

namespace {
// GroupNorm over x (N, C, *) viewed as (N, C, S); mean / rstd (N, G) from the forward kernel.
struct GroupNormBackward : Node {
  SavedVariable x, weight;
  Tensor mean_t, rstd_t;  // (N, G)
  int64_t N = 0, C = 0, G = 1, Sp = 0;
  bool has_weight = false, has_bias = false;
  double eps = 1e-5;
  std::string name() const override { return "NativeGroupNormBackward0"; }
  void release_variables() override { x.reset(); weight.reset(); }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this), wv = has_weight ? weight.unpack(this) : Tensor();
    const int64_t K = C / G * Sp;
    if (GradMode::is_enabled()) {  // differentiable forms (create_graph), on (N G, K) rows
      Tensor x2 = reshape(xv, {N * G, K});
      Tensor m = ops::mean(x2, {1}, true), rs = div(S(1.0), sqrt(add(var(x2, {1}, 0, true), S(eps))));
      Tensor xhat = reshape(mul(sub(x2, m), rs), {N, C, Sp});
      Tensor g3 = reshape(g[0], {N, C, Sp});
      Tensor a = has_weight ? mul(g3, reshape(wv, {1, C, 1})) : g3;
      Tensor a2 = reshape(a, {N * G, K}), ax2 = reshape(mul(a, xhat), {N * G, K});
      // d x = rstd (a - mean(a) - xhat mean(a xhat)) per group, a = g w
      Tensor gx = mul(rs, sub(sub(a2, ops::mean(a2, {1}, true)), mul(reshape(xhat, {N * G, K}), ops::mean(ax2, {1}, true))));
      Tensor gw = has_weight ? reshape(sum(mul(g3, xhat), {0, 2}), wv.shape()) : Tensor();
      Tensor gb = has_bias ? reshape(sum(g3, {0, 2}), Shape{C}) : Tensor();
      return {reshape(gx, xv.shape()), gw, gb};
    }
    Tensor xc = contig(xv), gc = contig(g[0]);
    Tensor gx = needs_input_grad(0) ? Tensor::empty(xv.shape(), xv.dtype(), xv.device()) : Tensor();
    Tensor gw = has_weight && needs_input_grad(1) ? Tensor::empty(wv.shape(), xv.dtype(), xv.device()) : Tensor();
    Tensor gb = has_bias && needs_input_grad(2) ? Tensor::empty({C}, xv.dtype(), xv.device()) : Tensor();
    backend_of(xv).group_norm_backward(view3(xc, N, C, Sp), view3(gc, N, C, Sp), G, contig(wv), mean_t, rstd_t,
                                       gx.defined() ? view3(gx, N, C, Sp) : Tensor(), gw, gb);
    return {gx, gw, gb};
  }
};
}  // namespace

Tensor group_norm(const Tensor& input, int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
  EMBER_CHECK(input.dim() >= 2, RuntimeError, "group_norm: expected input of shape (N, C, *), got ", describe(input));
  EMBER_CHECK(is_floating(input.dtype()), TypeError, "group_norm: expected a floating-point input, got ",
              dtype_name(input.dtype()));
  const int64_t N = input.size(0), C = input.size(1);
  EMBER_CHECK(num_groups > 0 && C % num_groups == 0, RuntimeError,
              "Expected number of channels in input to be divisible by num_groups, but got input of shape ",
              shape_str(input.shape()), " and num_groups=", num_groups);
  for (const Tensor* p : {&weight, &bias})
    EMBER_CHECK(!p->defined() || (p->dim() == 1 && p->numel() == C), RuntimeError, "group_norm: expected ",
                p == &weight ? "weight" : "bias", " of shape (", C, "), got ", describe(*p));
  int64_t Sp = 1;
  for (int64_t d = 2; d < input.dim(); ++d) Sp *= input.size(d);
  const int64_t G = num_groups;
  Tensor xc = contig(input);
  Tensor y = Tensor::empty(input.shape(), input.dtype(), input.device());
  Tensor mean = Tensor::empty({N, G}, input.dtype(), input.device());
  Tensor rstd = Tensor::empty({N, G}, input.dtype(), input.device());
  if (input.numel() > 0)
    backend_of(input).group_norm(view3(xc, N, C, Sp), G, contig(weight), contig(bias), view3(y, N, C, Sp), mean,
                                 rstd, eps);
  if (auto node = make_node<GroupNormBackward>({input, weight, bias})) {
    node->x = SavedVariable(input, false);
    if (weight.defined()) node->weight = SavedVariable(weight, false);
    node->mean_t = mean;
    node->rstd_t = rstd;
    node->N = N, node->C = C, node->G = G, node->Sp = Sp;
    node->has_weight = weight.defined();
    node->has_bias = bias.defined();
    node->eps = eps;
    set_history(y, node);
  }
  return y;
}

}  // namespace ember::ops

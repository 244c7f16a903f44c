// Optimizer updates: argument checks, the 0-d step counters, and the per-step scalars (bias
// corrections, effective step sizes) computed in double exactly as torch computes them in Python,
// then one backend kernel pass over the parameter (cpu/optim.cpp). Outside autograd: the writes
// bump version counters but record no history. Non-contiguous tensors go through contiguous copies.
#include "ember/ops/optim.h"

#include <cmath>

#include "common.h"

namespace ember::ops {
namespace {

const char* kind_name(OptimKind k) {
  switch (k) {
    case OptimKind::SGD: return "SGD";
    case OptimKind::Adam: return "Adam";
    case OptimKind::Adagrad: return "Adagrad";
    case OptimKind::RMSprop: return "RMSprop";
    case OptimKind::Adadelta: return "Adadelta";
    case OptimKind::Adamax: return "Adamax";
    case OptimKind::NAdam: return "NAdam";
    case OptimKind::RAdam: return "RAdam";
  }
  return "optimizer";
}

void check_counter(const Tensor& t, const char* op, const char* what) {
  EMBER_CHECK(t.defined() && t.numel() == 1, ValueError, op, ": state '", what,
              "' must be a 1-element tensor");
  EMBER_CHECK(t.device().is_cpu(), ValueError, op, ": state '", what, "' must be on the CPU");
}

// torch: step_t += 1 in the counter's own dtype; returns the new value (as .item() would).
double bump_step(const Tensor& step, const char* op) {
  check_counter(step, op, "step");
  double v = 0;
  dispatch_numeric(step.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* d = step.data<T>();
    *d = static_cast<T>(*d + T(1));
    v = static_cast<double>(*d);
  });
  step.bump_version();
  return v;
}

// torch: mu_product *= mu in the counter's dtype; returns the new value.
double scale_counter(const Tensor& t, double f, const char* op) {
  check_counter(t, op, "mu_product");
  double v = 0;
  dispatch_float(t.dtype(), op, [&](auto tag) {
    using T = decltype(tag);
    T* d = t.data<T>();
    *d = static_cast<T>(*d * static_cast<T>(f));
    v = static_cast<double>(*d);
  });
  t.bump_version();
  return v;
}

void check_like(const Tensor& t, const Tensor& param, const char* op, const char* what) {
  EMBER_CHECK(t.defined(), ValueError, op, ": missing ", what);
  EMBER_CHECK(t.shape() == param.shape(), ValueError, op, ": ", what, " has shape ", shape_str(t.shape()),
              " but the parameter has shape ", shape_str(param.shape()));
  EMBER_CHECK(t.dtype() == param.dtype(), TypeError, op, ": ", what, " has dtype ", t.dtype(),
              " but the parameter has dtype ", param.dtype());
  check_same_device(t, param, op);
}

// The state names of each kind, in kernel order (nullptr: optional and off).
std::vector<const char*> state_names(OptimKind k, const OptimHyper& h) {
  switch (k) {
    case OptimKind::SGD: return {h.momentum != 0 ? "state 'momentum_buffer'" : nullptr};
    case OptimKind::Adam:
      return {"state 'exp_avg'", "state 'exp_avg_sq'", h.amsgrad ? "state 'max_exp_avg_sq'" : nullptr};
    case OptimKind::Adagrad: return {"state 'sum'"};
    case OptimKind::RMSprop:
      return {"state 'square_avg'", h.centered ? "state 'grad_avg'" : nullptr,
              h.momentum > 0 ? "state 'momentum_buffer'" : nullptr};
    case OptimKind::Adadelta: return {"state 'square_avg'", "state 'acc_delta'"};
    case OptimKind::Adamax: return {"state 'exp_avg'", "state 'exp_inf'"};
    case OptimKind::NAdam:
    case OptimKind::RAdam: return {"state 'exp_avg'", "state 'exp_avg_sq'"};
  }
  return {};
}

// The kernel's OptimParams for this step (advances step / mu_product).
OptimParams step_params(OptimKind kind, const OptimHyper& h, const Tensor& step, const Tensor& mu_product,
                        const char* op) {
  OptimParams o;
  o.lr = h.lr;
  o.weight_decay = h.weight_decay;
  o.eps = h.eps;
  o.maximize = h.maximize;
  o.beta1 = h.beta1;
  o.beta2 = h.beta2;
  o.momentum = h.momentum;
  o.dampening = h.dampening;
  o.nesterov = h.nesterov;
  o.amsgrad = h.amsgrad;
  o.centered = h.centered;
  o.decoupled = h.decoupled_weight_decay && kind != OptimKind::SGD;
  if (kind == OptimKind::SGD) return o;
  const double t = bump_step(step, op);
  switch (kind) {
    case OptimKind::Adam: {
      o.c0 = h.lr / (1 - std::pow(h.beta1, t));  // step_size = lr / bias_correction1
      o.c1 = std::pow(1 - std::pow(h.beta2, t), 0.5);
      break;
    }
    case OptimKind::Adagrad: o.c0 = h.lr / (1 + (t - 1) * h.lr_decay); break;
    case OptimKind::RMSprop: o.alpha = h.alpha; break;
    case OptimKind::Adadelta: o.alpha = h.rho; break;
    case OptimKind::Adamax: o.c0 = h.lr / (1 - std::pow(h.beta1, t)); break;
    case OptimKind::NAdam: {
      const double mu = h.beta1 * (1.0 - 0.5 * std::pow(0.96, t * h.momentum_decay));
      const double mu_next = h.beta1 * (1.0 - 0.5 * std::pow(0.96, (t + 1) * h.momentum_decay));
      const double mu_product_v = scale_counter(mu_product, mu, op);
      const double mu_product_next = mu_product_v * mu_next;
      o.c0 = 1 - std::pow(h.beta2, t);
      o.c1 = -h.lr * (1.0 - mu) / (1.0 - mu_product_v);
      o.c2 = (-h.lr * mu_next) / (1.0 - mu_product_next);
      break;
    }
    case OptimKind::RAdam: {
      const double bc2 = 1 - std::pow(h.beta2, t);
      const double rho_inf = 2 / (1 - h.beta2) - 1;
      const double rho_t = rho_inf - 2 * t * std::pow(h.beta2, t) / bc2;
      o.c0 = 1 - std::pow(h.beta1, t);
      o.c1 = std::pow(bc2, 0.5);
      o.flag = rho_t > 5.0;
      if (o.flag)
        o.c2 = std::pow((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5);
      break;
    }
    default: break;
  }
  return o;
}

Tensor contiguous_copy(const Tensor& t) {
  Tensor c = Tensor::empty(t.shape(), t.dtype(), t.device());
  copy_into(c, t);
  return c;
}

}  // namespace

std::vector<Tensor> optim_step_(OptimKind kind, const Tensor& param, const Tensor& grad, std::vector<Tensor> state,
                                const Tensor& step, const Tensor& mu_product, const OptimHyper& h) {
  const char* op = kind_name(kind);
  EMBER_CHECK(param.defined() && param.is_floating_point(), TypeError, op,
              ": can only optimize floating-point tensors, got ", param.defined() ? dtype_name(param.dtype()) : "None");
  check_like(grad, param, op, "gradient");
  auto names = state_names(kind, h);
  state.resize(names.size());
  bool first = false;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!names[i]) {
      state[i] = Tensor();
    } else if (kind == OptimKind::SGD && !state[i].defined()) {
      state[i] = Tensor::empty(param.shape(), param.dtype(), param.device());  // filled from grad
      first = true;
    } else {
      check_like(state[i], param, op, names[i]);
    }
  }
  if (kind == OptimKind::NAdam) check_counter(mu_product, op, "mu_product");
  OptimParams o = step_params(kind, h, step, mu_product, op);
  o.first = first;
  if (param.numel() == 0) return state;

  // The kernel wants contiguous operands: run on copies of the others, then write them back.
  Tensor p = param.is_contiguous() ? param : contiguous_copy(param);
  Tensor g = grad.is_contiguous() ? grad : contiguous_copy(grad);
  std::vector<Tensor> s(state.size());
  for (size_t i = 0; i < state.size(); ++i)
    if (state[i].defined()) s[i] = state[i].is_contiguous() ? state[i] : contiguous_copy(state[i]);
  backend_of(param).optim_step(kind, p, g, s, o);
  if (!p.same(param)) copy_into(param, p);
  param.bump_version();
  for (size_t i = 0; i < state.size(); ++i) {
    if (!state[i].defined()) continue;
    if (!s[i].same(state[i])) copy_into(state[i], s[i]);
    state[i].bump_version();
  }
  return state;
}

}  // namespace ember::ops

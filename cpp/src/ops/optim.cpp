// Optimizer updates: argument checks, the 0-d step counters, and the per-step scalars (bias
// corrections, effective step sizes) computed in double exactly as torch computes them in Python,
// then one backend kernel pass over the parameter (cpu/optim.cpp). Outside autograd: the writes
// bump version counters but record no history. Non-contiguous tensors go through contiguous copies.
#include "ember/ops/optim.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>

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

namespace {

// Checks one parameter's arguments (nothing is written yet) and completes its state list: options
// that are off become undefined, SGD's missing momentum buffer is allocated (filled from the
// gradient by the kernel). Returns whether it was allocated.
bool check_param(OptimKind kind, const Tensor& param, const Tensor& grad, std::vector<Tensor>& state,
                 const Tensor& mu_product, const OptimHyper& h, const char* op) {
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
      state[i] = Tensor::empty(param.shape(), param.dtype(), param.device());
      first = true;
    } else {
      check_like(state[i], param, op, names[i]);
    }
  }
  if (kind == OptimKind::NAdam) check_counter(mu_product, op, "mu_product");
  return first;
}

// Whether the memory of two parameters' tensors (param, grad, states: spans from the lowest to the
// highest element address) may overlap: then they are updated one after another, in order, as
// torch's loop would. (A sweep over the sorted spans: an overlap between two parameters shows
// against the furthest-reaching span seen so far, or earlier between that one and another.)
bool may_overlap(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<std::vector<Tensor>>& states) {
  struct Span {
    uintptr_t lo, hi;
    size_t owner;
    bool operator<(const Span& o) const { return lo < o.lo; }
  };
  std::vector<Span> spans;
  auto add = [&](const Tensor& t, size_t owner) {
    if (!t.defined() || t.numel() == 0) return;
    int64_t lo = 0, hi = 0;
    for (size_t d = 0; d < t.shape().size(); ++d) {
      const int64_t ext = (t.shape()[d] - 1) * t.strides()[d];
      (ext < 0 ? lo : hi) += ext;
    }
    const auto base = reinterpret_cast<uintptr_t>(t.raw_data());
    const auto item = static_cast<int64_t>(t.itemsize());
    spans.push_back({base + lo * item, base + (hi + 1) * item, owner});
  };
  for (size_t i = 0; i < params.size(); ++i) {
    add(params[i], i);
    add(grads[i], i);
    for (const Tensor& s : states[i]) add(s, i);
  }
  std::sort(spans.begin(), spans.end());
  uintptr_t reach = 0;
  size_t owner = 0;
  for (const Span& s : spans) {
    if (s.lo < reach && s.owner != owner) return true;
    if (s.hi > reach) reach = s.hi, owner = s.owner;
  }
  return false;
}

}  // namespace

std::vector<std::vector<Tensor>> optim_steps_(OptimKind kind, const std::vector<Tensor>& params,
                                              const std::vector<Tensor>& grads,
                                              std::vector<std::vector<Tensor>> states,
                                              const std::vector<Tensor>& steps,
                                              const std::vector<Tensor>& mu_products, const OptimHyper& h) {
  const char* op = kind_name(kind);
  const size_t n = params.size();
  auto check_len = [&](size_t got, const char* what) {
    EMBER_CHECK(got == n, ValueError, op, ": got ", n, " parameters but ", got, " ", what);
  };
  check_len(grads.size(), "gradients");
  check_len(states.size(), "state lists");
  if (kind != OptimKind::SGD) check_len(steps.size(), "step counters");
  if (kind == OptimKind::NAdam) check_len(mu_products.size(), "mu_product counters");
  auto step_of = [&](size_t i) { return kind == OptimKind::SGD ? Tensor() : steps[i]; };
  auto mu_of = [&](size_t i) { return kind == OptimKind::NAdam ? mu_products[i] : Tensor(); };

  // Every argument is checked before anything (a parameter, a state, a counter) is written.
  std::vector<char> first(n);
  for (size_t i = 0; i < n; ++i) {
    first[i] = check_param(kind, params[i], grads[i], states[i], mu_of(i), h, op);
    if (kind != OptimKind::SGD) check_counter(steps[i], op, "step");
    if (i > 0) check_same_device(params[i], params[0], op);
  }

  // The kernels want contiguous operands: non-contiguous ones run on copies, written back after.
  // Parameters [b, e) in one backend pass.
  auto update = [&](size_t b, size_t e) {
    std::vector<OptimJob> jobs(e - b);
    for (size_t i = b; i < e; ++i) {
      OptimJob& j = jobs[i - b];
      j.p = step_params(kind, h, step_of(i), mu_of(i), op);
      j.p.first = first[i];
      j.param = params[i].is_contiguous() ? params[i] : contiguous_copy(params[i]);
      j.grad = grads[i].is_contiguous() ? grads[i] : contiguous_copy(grads[i]);
      j.state.resize(states[i].size());
      for (size_t k = 0; k < states[i].size(); ++k) {
        const Tensor& t = states[i][k];
        if (t.defined()) j.state[k] = t.is_contiguous() ? t : contiguous_copy(t);
      }
    }
    backend_of(params[b]).optim_step(kind, jobs);
    for (size_t i = b; i < e; ++i) {
      const OptimJob& j = jobs[i - b];
      if (!j.param.same(params[i])) copy_into(params[i], j.param);
      params[i].bump_version();
      for (size_t k = 0; k < states[i].size(); ++k) {
        if (!states[i][k].defined()) continue;
        if (!j.state[k].same(states[i][k])) copy_into(states[i][k], j.state[k]);
        states[i][k].bump_version();
      }
    }
  };
  if (n > 1 && may_overlap(params, grads, states)) {
    for (size_t i = 0; i < n; ++i) update(i, i + 1);
  } else if (n > 0) {
    update(0, n);
  }
  return states;
}

OptimJob optim_job(OptimKind kind, const Tensor& param, const Tensor& grad, std::vector<Tensor> state,
                   const Tensor& step, const Tensor& mu_product, const OptimHyper& h) {
  const char* op = kind_name(kind);
  const bool fresh = kind == OptimKind::SGD && h.momentum != 0 && (state.empty() || !state[0].defined());
  EMBER_CHECK(!fresh, ValueError, op, ": the job of a step needs the momentum buffer");
  auto copy = [](const Tensor& t) { return t.defined() ? contiguous_copy(t) : t; };
  const Tensor step_c = kind == OptimKind::SGD ? Tensor() : (check_counter(step, op, "step"), copy(step));
  const Tensor mu_c = kind == OptimKind::NAdam ? copy(mu_product) : Tensor();
  check_param(kind, param, grad, state, mu_c, h, op);
  OptimJob j;
  j.p = step_params(kind, h, step_c, mu_c, op);
  auto contig = [](const Tensor& t) { return !t.defined() || t.is_contiguous() ? t : contiguous_copy(t); };
  j.param = contig(param);
  j.grad = contig(grad);
  for (const Tensor& t : state) j.state.push_back(contig(t));
  return j;
}

std::vector<Tensor> optim_step_(OptimKind kind, const Tensor& param, const Tensor& grad, std::vector<Tensor> state,
                                const Tensor& step, const Tensor& mu_product, const OptimHyper& h) {
  return optim_steps_(kind, {param}, {grad}, {std::move(state)}, {step}, {mu_product}, h)[0];
}

}  // namespace ember::ops

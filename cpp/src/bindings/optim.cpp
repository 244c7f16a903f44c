// Bindings for the fused optimizer updates used by ember.optim: _C._<name>_step(param, grad,
// state tensors..., step, hyperparameters...). One call per parameter; the GIL is released
// around the kernel. State tensors that an option turns off are passed as None.
#include "common.h"
#include "ember/ops/optim.h"

namespace ember::py_bind {

namespace {
using OptT = std::optional<Tensor>;
Tensor opt(const OptT& t) { return t ? *t : Tensor(); }

std::vector<Tensor> run(OptimKind kind, const Tensor& param, const Tensor& grad, std::vector<Tensor> state,
                        const Tensor& step, const Tensor& mu_product, const ops::OptimHyper& h) {
  py::gil_scoped_release r;
  return ops::optim_step_(kind, param, grad, std::move(state), step, mu_product, h);
}
}  // namespace

void bind_optim(py::module_& m) {
  m.def(
      "_sgd_step",
      [](const Tensor& param, const Tensor& grad, const OptT& momentum_buffer, double lr, double momentum,
         double dampening, double weight_decay, bool nesterov, bool maximize) -> py::object {
        ops::OptimHyper h;
        h.lr = lr, h.momentum = momentum, h.dampening = dampening, h.weight_decay = weight_decay;
        h.nesterov = nesterov, h.maximize = maximize;
        auto s = run(OptimKind::SGD, param, grad, {opt(momentum_buffer)}, Tensor(), Tensor(), h);
        return s[0].defined() ? py::cast(s[0]) : py::none();
      },
      py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"), py::arg("lr"), py::arg("momentum"),
      py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"), py::arg("maximize"),
      "One SGD update of param in place; returns the momentum buffer (created on the first step).");
  m.def(
      "_adam_step",
      [](const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
         const OptT& max_exp_avg_sq, const Tensor& step, double lr, double beta1, double beta2,
         double weight_decay, double eps, bool amsgrad, bool maximize, bool decoupled_weight_decay) {
        ops::OptimHyper h;
        h.lr = lr, h.beta1 = beta1, h.beta2 = beta2, h.weight_decay = weight_decay, h.eps = eps;
        h.amsgrad = amsgrad, h.maximize = maximize, h.decoupled_weight_decay = decoupled_weight_decay;
        run(OptimKind::Adam, param, grad, {exp_avg, exp_avg_sq, opt(max_exp_avg_sq)}, step, Tensor(), h);
      },
      py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"),
      py::arg("step"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("weight_decay"), py::arg("eps"),
      py::arg("amsgrad"), py::arg("maximize"), py::arg("decoupled_weight_decay"),
      "One Adam (decoupled_weight_decay: AdamW) update of param in place.");
  m.def(
      "_adagrad_step",
      [](const Tensor& param, const Tensor& grad, const Tensor& sum, const Tensor& step, double lr,
         double weight_decay, double lr_decay, double eps, bool maximize) {
        ops::OptimHyper h;
        h.lr = lr, h.weight_decay = weight_decay, h.lr_decay = lr_decay, h.eps = eps, h.maximize = maximize;
        run(OptimKind::Adagrad, param, grad, {sum}, step, Tensor(), h);
      },
      py::arg("param"), py::arg("grad"), py::arg("sum"), py::arg("step"), py::arg("lr"), py::arg("weight_decay"),
      py::arg("lr_decay"), py::arg("eps"), py::arg("maximize"), "One Adagrad update of param in place.");
  m.def(
      "_rmsprop_step",
      [](const Tensor& param, const Tensor& grad, const Tensor& square_avg, const OptT& grad_avg,
         const OptT& momentum_buffer, const Tensor& step, double lr, double alpha, double eps, double weight_decay,
         double momentum, bool centered, bool maximize) {
        ops::OptimHyper h;
        h.lr = lr, h.alpha = alpha, h.eps = eps, h.weight_decay = weight_decay, h.momentum = momentum;
        h.centered = centered, h.maximize = maximize;
        run(OptimKind::RMSprop, param, grad, {square_avg, opt(grad_avg), opt(momentum_buffer)}, step, Tensor(), h);
      },
      py::arg("param"), py::arg("grad"), py::arg("square_avg"), py::arg("grad_avg"), py::arg("momentum_buffer"),
      py::arg("step"), py::arg("lr"), py::arg("alpha"), py::arg("eps"), py::arg("weight_decay"),
      py::arg("momentum"), py::arg("centered"), py::arg("maximize"), "One RMSprop update of param in place.");
  m.def(
      "_adadelta_step",
      [](const Tensor& param, const Tensor& grad, const Tensor& square_avg, const Tensor& acc_delta,
         const Tensor& step, double lr, double rho, double eps, double weight_decay, bool maximize) {
        ops::OptimHyper h;
        h.lr = lr, h.rho = rho, h.eps = eps, h.weight_decay = weight_decay, h.maximize = maximize;
        run(OptimKind::Adadelta, param, grad, {square_avg, acc_delta}, step, Tensor(), h);
      },
      py::arg("param"), py::arg("grad"), py::arg("square_avg"), py::arg("acc_delta"), py::arg("step"),
      py::arg("lr"), py::arg("rho"), py::arg("eps"), py::arg("weight_decay"), py::arg("maximize"),
      "One Adadelta update of param in place.");
  m.def(
      "_adamax_step",
      [](const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_inf, const Tensor& step,
         double lr, double beta1, double beta2, double eps, double weight_decay, bool maximize) {
        ops::OptimHyper h;
        h.lr = lr, h.beta1 = beta1, h.beta2 = beta2, h.eps = eps, h.weight_decay = weight_decay;
        h.maximize = maximize;
        run(OptimKind::Adamax, param, grad, {exp_avg, exp_inf}, step, Tensor(), h);
      },
      py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_inf"), py::arg("step"), py::arg("lr"),
      py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"), py::arg("maximize"),
      "One Adamax update of param in place.");
  m.def(
      "_nadam_step",
      [](const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
         const Tensor& mu_product, const Tensor& step, double lr, double beta1, double beta2, double weight_decay,
         double momentum_decay, double eps, bool decoupled_weight_decay, bool maximize) {
        ops::OptimHyper h;
        h.lr = lr, h.beta1 = beta1, h.beta2 = beta2, h.weight_decay = weight_decay;
        h.momentum_decay = momentum_decay, h.eps = eps, h.decoupled_weight_decay = decoupled_weight_decay;
        h.maximize = maximize;
        run(OptimKind::NAdam, param, grad, {exp_avg, exp_avg_sq}, step, mu_product, h);
      },
      py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("mu_product"),
      py::arg("step"), py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("weight_decay"),
      py::arg("momentum_decay"), py::arg("eps"), py::arg("decoupled_weight_decay"), py::arg("maximize"),
      "One NAdam update of param in place.");
  m.def(
      "_radam_step",
      [](const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
         const Tensor& step, double lr, double beta1, double beta2, double weight_decay, double eps,
         bool decoupled_weight_decay, bool maximize) {
        ops::OptimHyper h;
        h.lr = lr, h.beta1 = beta1, h.beta2 = beta2, h.weight_decay = weight_decay, h.eps = eps;
        h.decoupled_weight_decay = decoupled_weight_decay, h.maximize = maximize;
        run(OptimKind::RAdam, param, grad, {exp_avg, exp_avg_sq}, step, Tensor(), h);
      },
      py::arg("param"), py::arg("grad"), py::arg("exp_avg"), py::arg("exp_avg_sq"), py::arg("step"),
      py::arg("lr"), py::arg("beta1"), py::arg("beta2"), py::arg("weight_decay"), py::arg("eps"),
      py::arg("decoupled_weight_decay"), py::arg("maximize"), "One RAdam update of param in place.");
}

}  // namespace ember::py_bind

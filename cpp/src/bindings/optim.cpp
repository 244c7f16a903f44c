// Binding for the fused optimizer updates used by ember.optim: _C._optim_steps(kind, params,
// grads, states, steps, mu_products, **hyperparameters) updates a whole parameter group in one
// call (ops::optim_steps_), with the GIL released. State tensors that an option turns off are None.
#include "common.h"
#include "ember/ops/optim.h"

namespace ember::py_bind {

namespace {
using OptT = std::optional<Tensor>;
Tensor opt(const OptT& t) { return t ? *t : Tensor(); }

// _optim_steps' keyword arguments: OptimHyper's fields by name.
ops::OptimHyper hyper_from(const py::kwargs& kw) {
  ops::OptimHyper h;
  for (const auto& item : kw) {
    const std::string k = py::cast<std::string>(item.first);
    const py::handle v = item.second;
    double* d = k == "lr" ? &h.lr : k == "weight_decay" ? &h.weight_decay : k == "eps" ? &h.eps
              : k == "momentum" ? &h.momentum : k == "dampening" ? &h.dampening : k == "beta1" ? &h.beta1
              : k == "beta2" ? &h.beta2 : k == "lr_decay" ? &h.lr_decay : k == "alpha" ? &h.alpha
              : k == "rho" ? &h.rho : k == "momentum_decay" ? &h.momentum_decay : nullptr;
    bool* b = k == "maximize" ? &h.maximize : k == "nesterov" ? &h.nesterov : k == "amsgrad" ? &h.amsgrad
            : k == "decoupled_weight_decay" ? &h.decoupled_weight_decay : k == "centered" ? &h.centered
            : nullptr;
    if (d) *d = py::cast<double>(v);
    else if (b) *b = py::cast<bool>(v);
    else throw py::type_error("_optim_steps: unexpected hyperparameter '" + k + "'");
  }
  return h;
}

OptimKind kind_from(const std::string& k) {
  if (k == "sgd") return OptimKind::SGD;
  if (k == "adam") return OptimKind::Adam;
  if (k == "adagrad") return OptimKind::Adagrad;
  if (k == "rmsprop") return OptimKind::RMSprop;
  if (k == "adadelta") return OptimKind::Adadelta;
  if (k == "adamax") return OptimKind::Adamax;
  if (k == "nadam") return OptimKind::NAdam;
  if (k == "radam") return OptimKind::RAdam;
  throw py::value_error("_optim_steps: unknown optimizer '" + k + "'");
}

std::vector<Tensor> defined_or_empty(const std::vector<OptT>& v) {
  std::vector<Tensor> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = opt(v[i]);
  return out;
}
}  // namespace

void bind_optim(py::module_& m) {
  m.def(
      "_optim_steps",
      [](const std::string& kind, const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
         const std::vector<std::vector<OptT>>& states, const std::vector<OptT>& steps,
         const std::vector<OptT>& mu_products, const py::kwargs& kw) {
        const OptimKind k = kind_from(kind);
        const ops::OptimHyper h = hyper_from(kw);
        std::vector<std::vector<Tensor>> st(states.size());
        for (size_t i = 0; i < states.size(); ++i) st[i] = defined_or_empty(states[i]);
        std::vector<std::vector<Tensor>> out;
        {
          py::gil_scoped_release r;
          out = ops::optim_steps_(k, params, grads, std::move(st), defined_or_empty(steps),
                                  defined_or_empty(mu_products), h);
        }
        std::vector<std::vector<OptT>> res(out.size());
        for (size_t i = 0; i < out.size(); ++i)
          for (const Tensor& t : out[i]) res[i].push_back(t.defined() ? OptT(t) : std::nullopt);
        return res;
      },
      py::arg("kind"), py::arg("params"), py::arg("grads"), py::arg("states"), py::arg("steps"),
      py::arg("mu_products"),
      "One update of every parameter in place, in one call (kind: 'sgd', 'adam', ...; states[i]: "
      "params[i]'s state tensors in the kernel's order, None where off; keyword arguments: the "
      "hyperparameters). Returns the states (SGD's momentum buffers created on the first step).");
}

}  // namespace ember::py_bind

// Optimizer updates (cpp/src/ops/optim.cpp): one step of a torch.optim algorithm, in place and
// outside autograd, for one parameter or a whole parameter group, as a single fused kernel pass. Hyperparameters carry
// torch's names and meanings; `step` (and NAdam's `mu_product`) are the 0-d float tensors torch
// keeps in optimizer state, advanced here. Tensors: param's shape, one floating dtype, one device.
#pragma once
#include <vector>

#include "ember/backend.h"
#include "ember/tensor.h"

namespace ember::ops {

struct OptimHyper {
  double lr = 1e-3, weight_decay = 0, eps = 1e-8;
  bool maximize = false;
  double momentum = 0, dampening = 0;  // SGD, RMSprop (momentum)
  bool nesterov = false;               // SGD
  double beta1 = 0.9, beta2 = 0.999;   // Adam, AdamW, Adamax, NAdam, RAdam
  bool amsgrad = false;                // Adam, AdamW
  bool decoupled_weight_decay = false; // AdamW (always), NAdam, RAdam
  double lr_decay = 0;                 // Adagrad
  double alpha = 0.99;                 // RMSprop
  bool centered = false;               // RMSprop
  double rho = 0.9;                    // Adadelta
  double momentum_decay = 4e-3;        // NAdam
};

// State tensors per kind, in order (undefined where the option is off):
//   SGD      momentum_buffer (undefined on the first step: created here from the gradient)
//   Adam     exp_avg, exp_avg_sq, max_exp_avg_sq (amsgrad)
//   Adagrad  sum
//   RMSprop  square_avg, grad_avg (centered), momentum_buffer (momentum > 0)
//   Adadelta square_avg, acc_delta
//   Adamax   exp_avg, exp_inf
//   NAdam    exp_avg, exp_avg_sq (and mu_product, a 0-d tensor)
//   RAdam    exp_avg, exp_avg_sq
// Returns the state (with any buffer created). `step` is incremented (undefined for SGD).
std::vector<Tensor> optim_step_(OptimKind kind, const Tensor& param, const Tensor& grad,
                                std::vector<Tensor> state, const Tensor& step, const Tensor& mu_product,
                                const OptimHyper& h);

// The same update for a list of parameters in one call (a multi-tensor step): states[i], steps[i]
// and mu_products[i] belong to params[i] (steps may be empty for SGD, mu_products for all but
// NAdam). Every argument is checked before anything is written; then one kernel pass covers all
// parameters (one after another if their memory may overlap). Returns the states.
std::vector<std::vector<Tensor>> optim_steps_(OptimKind kind, const std::vector<Tensor>& params,
                                              const std::vector<Tensor>& grads,
                                              std::vector<std::vector<Tensor>> states,
                                              const std::vector<Tensor>& steps,
                                              const std::vector<Tensor>& mu_products, const OptimHyper& h);

// The backend job that optim_step_ would run next for one parameter, for tests and tools: the
// arguments checked as there, the step's scalars computed on copies of the counters (step and
// mu_product are left as they are), every state tensor required (SGD's momentum buffer too),
// non-contiguous tensors copied. Nothing is written.
OptimJob optim_job(OptimKind kind, const Tensor& param, const Tensor& grad, std::vector<Tensor> state,
                   const Tensor& step, const Tensor& mu_product, const OptimHyper& h);

}  // namespace ember::ops

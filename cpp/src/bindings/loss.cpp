// Bindings for the fused losses: ember._C._cross_entropy and _nll_loss (class-index targets).
// Reduction names, probability targets and the other losses are handled in
// python/ember/nn/_F/loss.py.
#include "common.h"
#include "ember/ops/loss.h"

namespace ember::py_bind {

void bind_loss(py::module_& m) {
  m.def(
      "_cross_entropy",
      [](const Tensor& input, const Tensor& target, std::optional<Tensor> weight, int reduction,
         int64_t ignore_index, double label_smoothing) {
        EMBER_CHECK(reduction >= 0 && reduction <= 2, ValueError, "_cross_entropy: bad reduction ", reduction);
        py::gil_scoped_release r;
        return ops::cross_entropy(input, target, weight, static_cast<ops::Reduction>(reduction), ignore_index,
                                  label_smoothing);
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("reduction") = 1,
      py::arg("ignore_index") = -100, py::arg("label_smoothing") = 0.0);
  m.def(
      "_nll_loss",
      [](const Tensor& input, const Tensor& target, std::optional<Tensor> weight, int reduction,
         int64_t ignore_index) {
        EMBER_CHECK(reduction >= 0 && reduction <= 2, ValueError, "_nll_loss: bad reduction ", reduction);
        py::gil_scoped_release r;
        return ops::nll_loss(input, target, weight, static_cast<ops::Reduction>(reduction), ignore_index);
      },
      py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::arg("reduction") = 1,
      py::arg("ignore_index") = -100);
}

}  // namespace ember::py_bind

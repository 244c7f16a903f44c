// Bindings for the fused recurrent cells: private _C entry points that nn.LSTM / nn.GRU and their
// cells (python/ember/nn/modules/rnn.py) call once per time step.
#include "common.h"
#include "ember/ops/rnn.h"

namespace ember::py_bind {

void bind_rnn(py::module_& m) {
  m.def("_lstm_cell",
        [](const Tensor& ig, const Tensor& hg, const Tensor& cx) {
          py::gil_scoped_release r;
          std::vector<Tensor> out = ops::lstm_cell_fused(ig, hg, cx);
          return std::make_pair(out[0], out[1]);
        },
        py::arg("input_gates"), py::arg("hidden_gates"), py::arg("cx"));
  m.def("_gru_cell",
        [](const Tensor& ig, const Tensor& hg, const Tensor& hx) {
          py::gil_scoped_release r;
          return ops::gru_cell_fused(ig, hg, hx);
        },
        py::arg("input_gates"), py::arg("hidden_gates"), py::arg("hx"));
}

}  // namespace ember::py_bind

// Fused recurrent cells: the gate math of one LSTM or GRU time step as one op, forward and
// backward (the GEMMs that make the gates stay separate ops). nn.LSTM / nn.GRU and their cells
// call these once per step; torch's CPU cells record about ten element-wise ops there.
#pragma once
#include <vector>

#include "ember/tensor.h"

namespace ember::ops {

// input_gates, hidden_gates (N, 4H): x W_ih^T + b_ih and h W_hh^T + b_hh (either may carry both
// biases), chunks i, f, g, o; cx (N, H). Returns {hy, cy}: cy = sigmoid(f) cx + sigmoid(i) tanh(g),
// hy = sigmoid(o) tanh(cy), with the sums of the two gate inputs inside.
std::vector<Tensor> lstm_cell_fused(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& cx);
// input_gates, hidden_gates (N, 3H), each with its own bias, chunks r, z, n; hx (N, H). Returns
// hy = n + z (hx - n) with r, z = sigmoid(input + hidden), n = tanh(input_n + r hidden_n).
Tensor gru_cell_fused(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& hx);

}  // namespace ember::ops

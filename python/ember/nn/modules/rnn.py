"""Recurrent layers: RNN, LSTM, GRU and their cells, with torch's parameter names, shapes, gate
order (LSTM i, f, g, o; GRU r, z, n), initialisation U(-1/sqrt(H), 1/sqrt(H)) and options
(num_layers, bias, batch_first, dropout between layers, bidirectional, LSTM's proj_size).

Each layer projects the whole input sequence in one GEMM (x W_ih^T + b_ih for every time step, with
b_hh folded in where the cell allows), then steps through time: per step one GEMM (h W_hh^T) and
one fused C++ cell (_C._lstm_cell / _C._gru_cell: the gate math forward and backward in one pass
each, where torch's CPU cells record about ten element-wise ops). Autograd needs nothing of its
own: backpropagation through time is the recorded graph. PackedSequence inputs are not supported.
"""
import math
import numbers

from ... import _C
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _reset_uniform(m):
    """torch's RNN initialisation: every parameter U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
    stdv = 1.0 / math.sqrt(m.hidden_size) if m.hidden_size > 0 else 0
    for p in m.parameters():
        init.uniform_(p, -stdv, stdv)


def _lstm_step(gx, h, c, w_hh, w_hr):
    """One LSTM step; gx = x W_ih^T + b_ih + b_hh (both biases)."""
    h, c = _C._lstm_cell(gx, _C.linear(h, w_hh, None), c)
    if w_hr is not None:
        h = _C.linear(h, w_hr, None)
    return h, c


def _gru_step(gx, h, w_hh, b_hh):
    """One GRU step; gx = x W_ih^T + b_ih (b_hh stays inside: r multiplies h W_hh^T + b_hh)."""
    return _C._gru_cell(gx, _C.linear(h, w_hh, b_hh), h)


def _rnn_step(gx, h, w_hh, relu):
    """One Elman step; gx = x W_ih^T + b_ih + b_hh."""
    g = _C.addmm(gx, h, w_hh.t())
    return _C.relu(g) if relu else _C.tanh(g)


def _input_gates(x, w_ih, b_ih, b_hh, fold):
    """x W_ih^T + b_ih, plus b_hh when fold (LSTM, Elman): one GEMM with the bias in its epilogue."""
    b = b_ih + b_hh if fold and b_ih is not None else b_ih
    return _C.linear(x, w_ih, b)


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU (torch.nn.RNNBase)."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode, self.input_size, self.hidden_size, self.num_layers = mode, input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, float(dropout)
        self.bidirectional, self.proj_size = bidirectional, proj_size
        dtype = dtype or _C.get_default_dtype()
        gate = _GATES[mode] * hidden_size
        real_h = proj_size if proj_size > 0 else hidden_size
        dirs = 2 if bidirectional else 1
        self._flat_weights_names = []
        for layer in range(num_layers):
            in_size = input_size if layer == 0 else real_h * dirs
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                shapes = [("weight_ih", (gate, in_size)), ("weight_hh", (gate, real_h))]
                if bias:
                    shapes += [("bias_ih", (gate,)), ("bias_hh", (gate,))]
                if proj_size > 0:
                    shapes.append(("weight_hr", (proj_size, hidden_size)))
                for name, shape in shapes:
                    setattr(self, name + sfx, Parameter(_C.empty(*shape, dtype=dtype)))
                    self._flat_weights_names.append(name + sfx)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def flatten_parameters(self):
        """A no-op (torch packs cuDNN weights here)."""

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in self._flat_weights_names if n.endswith(sfx) and
                 (n.endswith("_reverse") == sfx.endswith("_reverse"))]
                for sfx in self._suffixes()]

    def _suffixes(self):
        return [f"_l{k}" + ("_reverse" if d else "") for k in range(self.num_layers)
                for d in range(2 if self.bidirectional else 1)]

    def _layer_params(self, sfx):
        get = lambda n: getattr(self, n + sfx, None)
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def _check_input(self, x):
        name = {"LSTM": "LSTM", "GRU": "GRU"}.get(self.mode, "RNN")
        if not isinstance(x, _C.Tensor):
            raise TypeError(f"{name}: expected a Tensor input (PackedSequence is not supported), got "
                            f"{type(x).__name__}")
        if x.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.dim()}D tensor instead")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {x.shape[-1]}")

    def _check_hidden(self, h, expected, what):
        if list(h.shape) != list(expected):
            raise RuntimeError(f"{what}: Expected hidden size {tuple(expected)}, got {list(h.shape)}")

    def forward(self, input, hx=None):
        self._check_input(input)
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(1)
        if self.batch_first and batched:
            x = x.transpose(0, 1)
        L, N = x.shape[0], x.shape[1]
        dirs = 2 if self.bidirectional else 1
        real_h = self.proj_size if self.proj_size > 0 else self.hidden_size
        lstm = self.mode == "LSTM"
        h_shape = (self.num_layers * dirs, N, real_h)
        c_shape = (self.num_layers * dirs, N, self.hidden_size)
        if hx is None:
            h0 = _C.zeros(*h_shape, dtype=x.dtype)
            c0 = _C.zeros(*c_shape, dtype=x.dtype) if lstm else None
        else:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0)")
                h0, c0 = hx
            else:
                h0, c0 = hx, None
            if not batched:
                if h0.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {h0.dim()}-D tensor")
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            elif h0.dim() != 3:
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {h0.dim()}-D tensor")
            self._check_hidden(h0, h_shape, "hx" if not lstm else "h_0")
            if lstm:
                self._check_hidden(c0, c_shape, "c_0")
        hn, cn = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                w_ih, w_hh, b_ih, b_hh, w_hr = self._layer_params(f"_l{layer}" + ("_reverse" if d else ""))
                gx = _input_gates(layer_in, w_ih, b_ih, b_hh, self.mode != "GRU")  # every step in one GEMM
                gx = gx.unbind(0)  # one node for all steps (indexing gx[t] would scatter each step's gradient
                # into zeros of the whole sequence)
                h, c = h0[k], (c0[k] if lstm else None)
                steps = [None] * L
                for t in (range(L - 1, -1, -1) if d else range(L)):
                    if lstm:
                        h, c = _lstm_step(gx[t], h, c, w_hh, w_hr)
                    elif self.mode == "GRU":
                        h = _gru_step(gx[t], h, w_hh, b_hh)
                    else:
                        h = _rnn_step(gx[t], h, w_hh, self.mode == "RNN_RELU")
                    steps[t] = h
                outs.append(_C.stack(steps, 0) if L else _C.zeros(0, N, real_h, dtype=x.dtype))
                hn.append(h)
                if lstm:
                    cn.append(c)
            layer_in = outs[0] if dirs == 1 else _C.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = F.dropout(layer_in, self.dropout, True)
        out = layer_in
        h_n = _C.stack(hn, 0)
        c_n = _C.stack(cn, 0) if lstm else None
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        if not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        return (out, (h_n, c_n)) if lstm else (out, h_n)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, proj_size=0):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size, hidden_size, num_layers,
                         bias, batch_first, dropout, bidirectional, proj_size, device, dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory: gates i, f, g, o; returns output, (h_n, c_n)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class GRU(RNNBase):
    """Gated recurrent unit: gates r, z, n; returns output, h_n."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, proj_size=0):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device, dtype)


class RNNCellBase(Module):
    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        dtype = dtype or _C.get_default_dtype()
        self.weight_ih = Parameter(_C.empty(num_chunks * hidden_size, input_size, dtype=dtype))
        self.weight_hh = Parameter(_C.empty(num_chunks * hidden_size, hidden_size, dtype=dtype))
        if bias:
            self.bias_ih = Parameter(_C.empty(num_chunks * hidden_size, dtype=dtype))
            self.bias_hh = Parameter(_C.empty(num_chunks * hidden_size, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.bias is not True:
            s += ", bias={bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def _prepare(self, input, hx, name):
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got {input.shape[-1]} expected "
                               f"{self.input_size}")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        for h in (hx if isinstance(hx, (tuple, list)) else (hx,)):
            if h is not None and h.dim() != input.dim():
                raise RuntimeError(f"{name}: Expected hidden to be {input.dim()}D, got {h.dim()}D instead")
            if h is not None and h.shape[-1] != self.hidden_size:
                raise RuntimeError(f"{name}: hidden has inconsistent hidden_size: got {h.shape[-1]}, expected "
                                   f"{self.hidden_size}")
        return x, batched

    def _gx(self, x, fold):
        return _input_gates(x, self.weight_ih, self.bias_ih, self.bias_hh, fold)


class RNNCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx, "RNNCell")
        h = _C.zeros(x.shape[0], self.hidden_size, dtype=x.dtype) if hx is None else (hx if batched else hx.unsqueeze(0))
        h = _rnn_step(self._gx(x, True), h, self.weight_hh, self.nonlinearity == "relu")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx, "LSTMCell")
        if hx is None:
            h = c = _C.zeros(x.shape[0], self.hidden_size, dtype=x.dtype)
        else:
            h, c = hx if batched else (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        h, c = _lstm_step(self._gx(x, True), h, c, self.weight_hh, None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input, hx=None):
        x, batched = self._prepare(input, hx, "GRUCell")
        h = _C.zeros(x.shape[0], self.hidden_size, dtype=x.dtype) if hx is None else (hx if batched else hx.unsqueeze(0))
        h = _gru_step(self._gx(x, False), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)

"""RNN, LSTM, GRU and their cells against torch with the same weights, float64: outputs, final
states and the gradients of inputs, initial states and every parameter; names, shapes, reprs and
errors."""
import ember
import numpy as np
import pytest
from conftest import requires_torch, torch

pytestmark = requires_torch


def _pair(kind, args, kw):
    t = getattr(torch.nn, kind)(*args, **kw).double()
    e = getattr(ember.nn, kind)(*args, **kw, dtype=ember.float64)
    assert repr(e) == repr(t)
    assert [(k, tuple(v.shape)) for k, v in e.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    e.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy()) for k, v in t.state_dict().items()})
    return e, t


CONFIGS = [
    ("RNN", (3, 5), {}),
    ("RNN", (3, 5, 2), {"nonlinearity": "relu", "bias": False}),
    ("RNN", (3, 4), {"bidirectional": True, "batch_first": True}),
    ("LSTM", (3, 5), {}),
    ("LSTM", (3, 5, 2), {"bidirectional": True}),
    ("LSTM", (3, 6, 2), {"proj_size": 2, "batch_first": True}),
    ("LSTM", (3, 6), {"proj_size": 3, "bidirectional": True, "bias": False}),
    ("GRU", (3, 5), {}),
    ("GRU", (3, 4, 3), {"bidirectional": True, "batch_first": True}),
    ("GRU", (3, 4), {"bias": False}),
]


@pytest.mark.parametrize("kind,args,kw", CONFIGS)
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("batched", [True, False])
def test_recurrent_layers_match_torch(kind, args, kw, with_hx, batched):
    rng = np.random.default_rng(len(args) * 7 + len(kw))
    e, t = _pair(kind, args, kw)
    L, N, H_in = 6, 4, args[0]
    dirs = 2 if kw.get("bidirectional") else 1
    layers = args[2] if len(args) > 2 else 1
    h_out = kw.get("proj_size") or args[1]
    shape = ((N, L, H_in) if kw.get("batch_first") else (L, N, H_in)) if batched else (L, H_in)
    x = rng.standard_normal(shape)
    hx = None
    if with_hx:
        hs = (dirs * layers, N, h_out) if batched else (dirs * layers, h_out)
        cs = (dirs * layers, N, args[1]) if batched else (dirs * layers, args[1])
        hx = [rng.standard_normal(hs)] + ([rng.standard_normal(cs)] if kind == "LSTM" else [])
    res = []
    for lib, m in ((ember, e), (torch, t)):
        xi = lib.from_numpy(x.copy()).requires_grad_()
        hi = [lib.from_numpy(h.copy()).requires_grad_() for h in hx] if hx else []
        state = None if not hi else (tuple(hi) if kind == "LSTM" else hi[0])
        out, hn = m(xi, state)
        outs = [out] + (list(hn) if kind == "LSTM" else [hn])
        loss = sum((o * lib.from_numpy(np.sin(np.arange(o.numel())).reshape(tuple(o.shape)))).sum() for o in outs)
        params = list(m.parameters())
        grads = lib.autograd.grad(loss, [xi] + hi + params)
        res.append([o.detach().numpy() for o in outs] + [g.numpy() for g in grads])
    assert len(res[0]) == len(res[1])
    for a, b in zip(*res):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind,kw", [("LSTM", {}), ("LSTM", {"proj_size": 2}), ("GRU", {}), ("RNN", {})])
def test_recurrent_double_backward_matches_torch(kind, kw):
    # create_graph through the fused cells: the backward is then the same formula in
    # differentiable ops, so a gradient penalty trains as in torch.
    rng = np.random.default_rng(3)
    e, t = _pair(kind, (3, 4), kw)
    x = rng.standard_normal((5, 2, 3))
    res = []
    for lib, m in ((ember, e), (torch, t)):
        xi = lib.from_numpy(x.copy()).requires_grad_()
        out = m(xi)[0]
        (gx,) = lib.autograd.grad((out * out).sum(), xi, create_graph=True)
        penalty = (gx * gx).sum()
        grads = lib.autograd.grad(penalty, [xi] + list(m.parameters()))
        res.append([gx.detach().numpy()] + [g.numpy() for g in grads])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind,kw", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu", "bias": False}),
                                     ("LSTMCell", {}), ("GRUCell", {}), ("GRUCell", {"bias": False})])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(kind, kw, batched):
    rng = np.random.default_rng(3)
    e, t = _pair(kind, (3, 5), kw)
    x = rng.standard_normal((4, 3) if batched else (3,))
    hs = (4, 5) if batched else (5,)
    hx = [rng.standard_normal(hs)] + ([rng.standard_normal(hs)] if kind == "LSTMCell" else [])
    for give in (False, True):
        res = []
        for lib, m in ((ember, e), (torch, t)):
            xi = lib.from_numpy(x.copy()).requires_grad_()
            hi = [lib.from_numpy(h.copy()).requires_grad_() for h in hx] if give else []
            state = None if not give else (tuple(hi) if kind == "LSTMCell" else hi[0])
            out = m(xi, state)
            outs = list(out) if kind == "LSTMCell" else [out]
            loss = sum((o * (k + 2)).sum() for k, o in enumerate(outs))
            grads = lib.autograd.grad(loss, [xi] + hi + list(m.parameters()))
            res.append([o.detach().numpy() for o in outs] + [g.numpy() for g in grads])
        for a, b in zip(*res):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_lstm_trains_and_errors():
    ember.manual_seed(0)
    m = ember.nn.LSTM(2, 8, batch_first=True)
    head = ember.nn.Linear(8, 1)
    opt = ember.optim.Adam(list(m.parameters()) + list(head.parameters()), lr=0.02)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 10, 2)).astype(np.float32)
    y = x[:, :, 0].sum(1, keepdims=True).astype(np.float32)  # sum of a channel over time
    X, Y = ember.from_numpy(x), ember.from_numpy(y)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        out, _ = m(X)
        loss = ember.nn.functional.mse_loss(head(out[:, -1]), Y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    assert m.weight_ih_l0.grad is not None and m.weight_ih_l0.grad.shape == (32, 2)
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 2, got 3"):
        m(ember.zeros(4, 5, 3))
    with pytest.raises(ValueError, match="Expected input to be 2D or 3D, got 4D"):
        m(ember.zeros(1, 4, 5, 2))
    with pytest.raises(RuntimeError, match=r"h_0: Expected hidden size \(1, 4, 8\), got \[1, 3, 8\]"):
        m(ember.zeros(4, 5, 2), (ember.zeros(1, 3, 8), ember.zeros(1, 4, 8)))
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        ember.nn.LSTM(2, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        ember.nn.GRU(2, 4, proj_size=2)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        ember.nn.RNN(2, 4, nonlinearity="gelu")
    with pytest.raises(RuntimeError, match="GRUCell: input has inconsistent input_size: got 3 expected 2"):
        ember.nn.GRUCell(2, 4)(ember.zeros(5, 3))


def test_fused_cell_errors():
    f = ember.zeros
    with pytest.raises(RuntimeError, match=r"lstm_cell: expected hidden_gates of shape \(2, 12\) for cx of shape"):
        ember._C._lstm_cell(f(2, 12), f(2, 9), f(2, 3))
    with pytest.raises(RuntimeError, match="lstm_cell: expected cx of shape"):
        ember._C._lstm_cell(f(2, 12), f(2, 12), f(3))
    with pytest.raises(RuntimeError, match="gru_cell: expected all operands to have one dtype"):
        ember._C._gru_cell(f(2, 9), f(2, 9, dtype=ember.float64), f(2, 3))
    with pytest.raises(TypeError, match="gru_cell: expected floating-point operands"):
        ember._C._gru_cell(*(f(2, k, dtype=ember.int64) for k in (9, 9, 3)))
    h, c = ember._C._lstm_cell(f(0, 8), f(0, 8), f(0, 2))  # an empty batch
    assert tuple(h.shape) == (0, 2) and tuple(c.shape) == (0, 2)

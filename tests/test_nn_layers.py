"""Layers against torch.nn with copied weights: outputs, input gradients, parameter gradients."""
import numpy as np
import pytest

import ember
from conftest import requires_torch, torch
from ember import nn

pytestmark = requires_torch


def copy_params(e_mod, t_mod):
    e_mod.load_state_dict({k: v.detach().numpy().copy() for k, v in t_mod.state_dict().items()})


def compare(e_mod, t_mod, shape, rng=None, rtol=1e-5, atol=1e-6, train=True):
    rng = rng or np.random.default_rng(0)
    copy_params(e_mod, t_mod)
    e_mod.train(train)
    t_mod.train(train)
    x = rng.standard_normal(shape).astype(np.float32)
    xe = ember.from_numpy(x.copy()).requires_grad_()
    xt = torch.from_numpy(x.copy()).requires_grad_()
    ye, yt = e_mod(xe), t_mod(xt)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=rtol, atol=atol)
    g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    ye.backward(ember.from_numpy(g.copy()))
    yt.backward(torch.from_numpy(g.copy()))
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=rtol * 10, atol=atol * 10)
    tp = dict(t_mod.named_parameters())
    for name, p in e_mod.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=rtol * 10, atol=atol * 10,
                                   err_msg=name)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(5, 7), (1, 7), (2, 3, 7), (7,)])
def test_linear(bias, shape):
    compare(nn.Linear(7, 4, bias=bias), torch.nn.Linear(7, 4, bias=bias), shape)


def test_bilinear():
    compare_two = (nn.Bilinear(3, 4, 2), torch.nn.Bilinear(3, 4, 2))
    e, t = compare_two
    copy_params(e, t)
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(e(ember.from_numpy(a), ember.from_numpy(b)).detach().numpy(),
                               t(torch.from_numpy(a), torch.from_numpy(b)).detach().numpy(), rtol=1e-5, atol=1e-6)


ACTS = [
    ("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {"alpha": 0.7}),
    ("SELU", {}), ("CELU", {"alpha": 1.3}), ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}),
    ("Mish", {}), ("Softplus", {}), ("Softplus", {"beta": 2.0, "threshold": 5.0}), ("Sigmoid", {}),
    ("Tanh", {}), ("Hardtanh", {}), ("Hardtanh", {"min_val": -0.5, "max_val": 2.0}), ("Hardsigmoid", {}),
    ("Hardswish", {}), ("LogSigmoid", {}), ("Softsign", {}), ("Tanhshrink", {}),
    ("Threshold", {"threshold": 0.1, "value": -2.0}), ("Softmax", {"dim": 1}), ("LogSoftmax", {"dim": -1}),
    ("Softmin", {"dim": 0}), ("PReLU", {}), ("PReLU", {"num_parameters": 6}), ("Identity", {}),
    ("Flatten", {}), ("Flatten", {"start_dim": 0, "end_dim": 1}),
]


@pytest.mark.parametrize("name,kw", ACTS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(ACTS)])
def test_activation(name, kw):
    compare(getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw), (4, 6, 3))


@pytest.mark.parametrize("name", ["ReLU", "ReLU6", "Hardtanh", "Hardsigmoid", "Hardswish"])
def test_activation_gradient_at_kinks(name):
    """Exact kink values (0, +-1, +-3, 6) get torch's one-sided gradients."""
    x = np.array([-6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0], dtype=np.float32)
    e, t = getattr(nn, name)(), getattr(torch.nn, name)()
    xe, xt = ember.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
    e(xe).sum().backward()
    t(xt).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-6)


def test_unflatten():
    e, t = nn.Unflatten(1, (2, 3)), torch.nn.Unflatten(1, (2, 3))
    compare(e, t, (4, 6))


def test_dropout_train_and_eval():
    ember.manual_seed(0)
    d = nn.Dropout(0.3)
    x = ember.ones(1000, 100)
    y = d(x).numpy()
    kept = y != 0
    assert 0.65 < kept.mean() < 0.75
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(7,), (3, 41), (2, 5, 33, 17)])
def test_dropout_fused_equals_its_composition(dtype, shape):
    """F.dropout's fused kernel: the mask, values and generator advance of
    (x * (rand(x.shape, x.dtype) >= p)) / (1 - p), bit for bit, and the gradient of that
    composition (at 1 and 2 threads, for a non-contiguous input too)."""
    F = nn.functional
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[:3] = [np.inf, -0.0, np.nan][: x.size]
    g = rng.standard_normal(shape).astype(dtype)
    for threads in (1, 2):
        prev = ember.get_num_threads()
        ember.set_num_threads(threads)
        try:
            for p in (0.1, 0.5, 0.93):
                xr = ember.from_numpy(x.copy()).requires_grad_()
                ember.manual_seed(11)
                keep = ember.rand(*shape, dtype=xr.dtype) >= p
                ref = xr * keep / (1.0 - p)
                after_ref = ember.rand(3).numpy()
                ref.backward(ember.from_numpy(g.copy()))
                xe = ember.from_numpy(x.copy()).requires_grad_()
                ember.manual_seed(11)
                out = F.dropout(xe, p)
                after = ember.rand(3).numpy()
                out.backward(ember.from_numpy(g.copy()))
                for a, b in ((out, ref), (xe.grad, xr.grad)):
                    a, b = a.detach().numpy(), b.detach().numpy()
                    np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"))
                np.testing.assert_array_equal(after, after_ref)
        finally:
            ember.set_num_threads(prev)
    # a transposed (non-contiguous) input draws in its logical order, like rand(x.shape)
    if len(shape) >= 2:
        xt = ember.from_numpy(x.copy()).transpose(0, 1)
        ember.manual_seed(5)
        want = (xt * (ember.rand(*xt.shape, dtype=xt.dtype) >= 0.3) / 0.7).numpy()
        ember.manual_seed(5)
        got = F.dropout(xt, 0.3).numpy()
        np.testing.assert_array_equal(got, want)


def test_dropout_double_backward_and_inplace():
    F = nn.functional
    x = ember.randn(6, 9, dtype=ember.float64, requires_grad=True)
    ember.manual_seed(2)
    assert ember.autograd.gradcheck(lambda t: (ember.manual_seed(2), F.dropout(t, 0.4))[1], (x,))
    # the gradient's own gradient (create_graph): the same mask and scale applied to gg
    g = ember.randn(6, 9, dtype=ember.float64, requires_grad=True)
    ember.manual_seed(2)
    out = F.dropout(x, 0.4)
    (gx,) = ember.autograd.grad(out, x, g, create_graph=True)
    h = np.random.default_rng(1).standard_normal((6, 9))
    gx.backward(ember.from_numpy(h))
    keep = out.detach().numpy() != 0  # x has no zeros
    np.testing.assert_array_equal(g.grad.numpy(), (h * keep) / 0.6)
    np.testing.assert_array_equal(gx.detach().numpy(), (g.detach().numpy() * keep) / 0.6)
    y = ember.randn(4, 5)
    ember.manual_seed(9)
    want = F.dropout(y, 0.2).numpy()
    ember.manual_seed(9)
    z = y.clone()
    assert F.dropout(z, 0.2, inplace=True) is z
    np.testing.assert_array_equal(z.numpy(), want)
    ember.manual_seed(9)
    xi = ember.arange(12).reshape(3, 4)  # integer input: the composition, as before
    assert F.dropout(xi, 0.5).dtype == ember.float32


def test_dropout2d_zeroes_whole_channels():
    ember.manual_seed(1)
    y = nn.Dropout2d(0.5)(ember.ones(8, 16, 4, 4)).numpy()
    per_channel = y.reshape(8, 16, -1)
    assert np.all((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout2d_uses_torchs_scaled_mask(dtype):
    # input * (keep / (1 - p)), the scale made on the per-channel mask (torch's form), and the
    # gradient the same product
    x = np.random.default_rng(0).standard_normal((4, 8, 5, 5)).astype(dtype)
    xe = ember.from_numpy(x.copy()).requires_grad_()
    ember.manual_seed(3)
    y = nn.functional.dropout2d(xe, 0.3)
    keep = (y.detach().numpy().reshape(4, 8, -1) != 0).any(-1)[:, :, None, None].astype(dtype)
    scale = torch.from_numpy(keep) / (1 - 0.3)
    np.testing.assert_array_equal(y.detach().numpy(), (torch.from_numpy(x) * scale).numpy())
    g = np.random.default_rng(1).standard_normal(x.shape).astype(dtype)
    y.backward(ember.from_numpy(g))
    np.testing.assert_array_equal(xe.grad.numpy(), (torch.from_numpy(g) * scale).numpy())


def test_linear_default_init_distribution():
    ember.manual_seed(0)
    lin = nn.Linear(400, 300)
    w = lin.weight.detach().numpy()
    bound = 1 / np.sqrt(400)
    assert np.abs(w).max() <= bound + 1e-7
    assert abs(w.std() - bound / np.sqrt(3)) < 0.02 * bound
    b = lin.bias.detach().numpy()
    assert np.abs(b).max() <= bound


@pytest.mark.parametrize("fn,check", [
    ("xavier_uniform_", lambda w: abs(w.std() - np.sqrt(2 / (50 + 30))) < 0.01),
    ("xavier_normal_", lambda w: abs(w.std() - np.sqrt(2 / (50 + 30))) < 0.01),
    ("kaiming_normal_", lambda w: abs(w.std() - np.sqrt(2 / 30)) < 0.02),
    ("kaiming_uniform_", lambda w: abs(w.std() - np.sqrt(2 / 30)) < 0.02),
    ("trunc_normal_", lambda w: w.min() >= -2 and w.max() <= 2 and abs(w.std() - 0.88) < 0.05),
    ("orthogonal_", lambda w: np.allclose(w.T @ w, np.eye(30), atol=1e-4)),
])
def test_init_functions(fn, check):
    ember.manual_seed(0)
    w = ember.empty(50, 30)
    getattr(nn.init, fn)(w)
    assert check(w.numpy())


def test_calculate_gain():
    assert nn.init.calculate_gain("relu") == pytest.approx(np.sqrt(2))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(np.sqrt(2 / 1.04))
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        nn.init.calculate_gain("nope")

"""Pooling modules against torch.nn (outputs, indices, input gradients, repr), NaN handling,
double backward, max_unpool2d and every error path."""

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch
from ember import nn

pytestmark = requires_torch
F = nn.functional


def run_both(e_mod, t_mod, x, grad=True):
    xe = ember.from_numpy(x.copy()).requires_grad_(grad)
    xt = torch.from_numpy(x.copy()).requires_grad_(grad)
    ye, yt = e_mod(xe), t_mod(xt)
    return xe, xt, ye, yt


MODULES = [
    ("MaxPool2d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 9, 8)),
    (
        "MaxPool2d",
        dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1), ceil_mode=True),
        (1, 2, 7, 9),
    ),
    ("MaxPool2d", dict(kernel_size=2), (4, 5, 6, 6)),
    ("MaxPool2d", dict(kernel_size=2), (3, 7, 5)),
    ("MaxPool1d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True), (2, 3, 12)),
    ("AvgPool2d", dict(kernel_size=3, stride=2, padding=1, count_include_pad=False), (2, 3, 9, 8)),
    ("AvgPool2d", dict(kernel_size=2, ceil_mode=True, divisor_override=3), (1, 2, 5, 7)),
    ("AvgPool2d", dict(kernel_size=2), (2, 3, 8, 6)),
    ("AvgPool2d", dict(kernel_size=2, divisor_override=3), (2, 3, 5, 6)),
    ("AvgPool1d", dict(kernel_size=3, stride=2, padding=1), (2, 3, 10)),
    ("AdaptiveAvgPool2d", dict(output_size=(3, 5)), (2, 3, 10, 7)),
    ("AdaptiveAvgPool2d", dict(output_size=(None, 2)), (2, 3, 4, 7)),
    ("AdaptiveAvgPool1d", dict(output_size=3), (2, 4, 10)),
    ("AdaptiveMaxPool2d", dict(output_size=(2, 3)), (2, 3, 7, 8)),
]


@pytest.mark.parametrize(
    "name,kw,shape", MODULES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MODULES)]
)
def test_module_vs_torch(name, kw, shape):
    e_mod, t_mod = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(e_mod) == repr(t_mod)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xe, xt, ye, yt = run_both(e_mod, t_mod, x)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    g = np.random.default_rng(1).standard_normal(tuple(yt.shape)).astype(np.float32)
    ye.backward(ember.from_numpy(g.copy()))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "op,args",
    [
        ("max_pool2d", (3, 2, 1)),  # generic windows
        ("max_pool2d", (2,)),  # the vectorised 2x2 path
        ("adaptive_max_pool2d", ((3, 4),)),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
# 42: output rows of 21, the AVX-512 2x2 path + tail; 28, 32, 10, 11: float rows of 14, 16 and 5
# outputs, the masked whole-row kernel (11: an odd width, its last column unused)
@pytest.mark.parametrize("width", [6, 42, 28, 32, 10, 11])
def test_indices_match_torch_with_ties_and_nan(op, args, dtype, width):
    rng = np.random.default_rng(2)
    x = rng.integers(-2, 3, (2, 3, 8, width)).astype(dtype)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 1, 2] = np.nan
    x[1, 2, :, :] = -np.inf
    ye, ie = getattr(F, op)(ember.from_numpy(x.copy()), *args, return_indices=True)
    yt, it = getattr(torch.nn.functional, op)(torch.from_numpy(x), *args, return_indices=True)
    np.testing.assert_array_equal(ie.numpy(), it.numpy())
    np.testing.assert_array_equal(ye.numpy(), yt.numpy())


# 2x2 / stride 2 gradients bit for bit against torch: widths and heights with a last column / row
# no window covers, float rows of every forward kernel width, ties and NaN (the gradient goes where
# the forward's index points; -0 becomes +0 as in torch), the average with and without a divisor, on
# 1 and 2 threads (65 x 70: split over both); max with return_indices keeps int64 indices, without
# them window positions.
@pytest.mark.parametrize("pool", ["max", "max_indices", "avg", "avg_div3"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hw", [(8, 6), (7, 42), (28, 28), (9, 32), (10, 10), (5, 11), (3, 70), (65, 70),
                                (6, 18), (4, 20), (6, 24), (14, 14)])  # (the AVX2 kernel's row tails 1, 2, 4, 7)
@pytest.mark.parametrize("threads", [1, 2])
def test_2x2_backward_vs_torch(pool, dtype, hw, threads):
    rng = np.random.default_rng(hw[0] * 100 + hw[1])
    x = rng.integers(-2, 3, (2, 3) + hw).astype(dtype)
    x[rng.random(x.shape) < 0.05] = np.nan
    g = rng.standard_normal((2, 3, hw[0] // 2, hw[1] // 2)).astype(dtype)
    g[:, 1, 0, :] = -0.0  # a -0 gradient lands as +0 (torch zero-fills, then adds)
    fns = {"max": lambda L, t: L.nn.functional.max_pool2d(t, 2),  # keeps window positions
           "max_indices": lambda L, t: L.nn.functional.max_pool2d(t, 2, return_indices=True)[0],
           "avg": lambda L, t: L.nn.functional.avg_pool2d(t, 2),
           "avg_div3": lambda L, t: L.nn.functional.avg_pool2d(t, 2, divisor_override=3)}
    old = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        grads = []
        for L in (ember, torch):
            t = L.from_numpy(x.copy()).requires_grad_()
            fns[pool](L, t).backward(L.from_numpy(g.copy()))
            grads.append(t.grad.numpy())
    finally:
        ember.set_num_threads(old)
    np.testing.assert_array_equal(grads[0], grads[1])
    np.testing.assert_array_equal(np.signbit(grads[0]), np.signbit(grads[1]))


def test_max_pool_gradient_with_overlap_and_ties():
    x = np.random.default_rng(3).integers(-1, 2, (2, 2, 8, 8)).astype(np.float64)
    xe = ember.from_numpy(x.copy()).requires_grad_()
    xt = torch.from_numpy(x.copy()).requires_grad_()
    F.max_pool2d(xe, 3, 1, 1).sum().backward()
    torch.nn.functional.max_pool2d(xt, 3, 1, 1).sum().backward()
    np.testing.assert_array_equal(xe.grad.numpy(), xt.grad.numpy())


# max2x2: the forward keeps window positions, not indices (2x2, stride 2, no indices returned);
# the double backward rebuilds the plane indices from them (width 5: a last column no window covers)
@pytest.mark.parametrize("op", ["max", "max2x2", "avg", "adaptive_avg"])
def test_double_backward(op):
    x = np.random.default_rng(4).standard_normal((2, 2, 6, 5))
    fns = {
        "max": lambda L, t: L.nn.functional.max_pool2d(t, 2, 1),
        "max2x2": lambda L, t: L.nn.functional.max_pool2d(t, 2),
        "avg": lambda L, t: L.nn.functional.avg_pool2d(t, 3, 2, 1),
        "adaptive_avg": lambda L, t: L.nn.functional.adaptive_avg_pool2d(t, 3),
    }
    res = []
    for L in (ember, torch):
        t = L.from_numpy(x.copy()).requires_grad_()
        y = fns[op](L, t)
        (g,) = L.autograd.grad((y * y).sum(), t, create_graph=True)
        (gg,) = L.autograd.grad((g * g).sum(), t)
        res.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-10, atol=1e-12)


def test_max_unpool2d_roundtrip():
    x = np.random.default_rng(5).standard_normal((2, 3, 6, 7)).astype(np.float32)
    ye, ie = F.max_pool2d(ember.from_numpy(x.copy()), 2, return_indices=True)
    yt, it = torch.nn.functional.max_pool2d(torch.from_numpy(x), 2, return_indices=True)
    ue = nn.MaxUnpool2d(2)(ye, ie, output_size=(6, 7))
    ut = torch.nn.MaxUnpool2d(2)(yt, it, output_size=(6, 7))
    np.testing.assert_array_equal(ue.numpy(), ut.numpy())
    with pytest.raises(RuntimeError, match="Found an invalid max index"):
        F.max_unpool2d(ye, ie, 2)  # default size 6x6: indices into 6x7 planes do not fit
    y2, i2 = F.max_pool2d(ember.from_numpy(x[..., :6].copy()), 2, return_indices=True)
    assert tuple(F.max_unpool2d(y2, i2, 2).shape) == (2, 3, 6, 6)


def test_float64_and_empty_batch():
    x = ember.zeros(0, 3, 4, 4, dtype=ember.float64)
    assert tuple(F.max_pool2d(x, 2).shape) == (0, 3, 2, 2)
    assert tuple(F.avg_pool2d(x, 2).shape) == (0, 3, 2, 2)


@pytest.mark.parametrize(
    "call,exc,msg",
    [
        (
            lambda x: F.max_pool2d(x, 2, padding=2),
            RuntimeError,
            "pad should be at most half of effective kernel size",
        ),
        (
            lambda x: F.max_pool2d(x, 3, padding=2, dilation=1),
            RuntimeError,
            "pad should be at most half",
        ),
        (lambda x: F.avg_pool2d(x, 2, padding=2), RuntimeError, "pad should be at most half"),
        (lambda x: F.max_pool2d(x, 9), RuntimeError, "Output size is too small"),
        (lambda x: F.avg_pool2d(x, (1, 9)), RuntimeError, "Output size is too small"),
        (lambda x: F.max_pool2d(x[0, 0], 2), RuntimeError, "Expected 3D or 4D"),
        (lambda x: F.max_pool1d(x, 2), RuntimeError, "Expected 2D or 3D"),
        (lambda x: F.avg_pool1d(x, 2), RuntimeError, "Expected 2D or 3D"),
        (lambda x: F.max_pool2d(x, 0), RuntimeError, "kernel size should be greater than zero"),
        (
            lambda x: F.max_pool2d(x, 2, stride=0),
            RuntimeError,
            "stride should be greater than zero",
        ),
        (
            lambda x: F.avg_pool2d(x, 2, divisor_override=0),
            RuntimeError,
            "divisor must be not zero",
        ),
        (lambda x: F.adaptive_avg_pool2d(x, 0), RuntimeError, "output_size must be positive"),
        (lambda x: F.max_pool2d(x.to(ember.int64), 2), TypeError, "floating-point"),
    ],
)
def test_errors(call, exc, msg):
    x = ember.randn(2, 3, 4, 4)
    with pytest.raises(exc, match=msg):
        call(x)


@pytest.mark.parametrize("isa", ["avx2", "base"])
def test_2x2_kernels_below_avx512(isa):
    """The 2x2 / stride-2 max-pool kernels for AVX2 CPUs and the baseline build, run by capping the
    dispatch (EMBER_ISA) in a subprocess: the indices and gradient tests above, bit for bit."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, EMBER_ISA=isa)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__),
                        "-k", "test_indices_match_torch_with_ties_and_nan or test_2x2_backward_vs_torch"],
                       env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout

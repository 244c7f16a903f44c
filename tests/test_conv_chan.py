"""The channel-vectorised convolution path (cpp/src/backend/cpu/conv_chan.cpp: stride-1, ungrouped
float32 convolutions on AVX-512 and AVX2 CPUs, 16 or 8 channels a vector; the forward where output
rows are narrow (AVX2: also for O <= 32), the input gradient for C and the weight gradient for O a
multiple of the vector (AVX2: or a last vector at least 3/4 full), 3- and 5-wide kernels) against
torch and against the paths it replaces (EMBER_CONV_CHAN=0, in a subprocess): LeNet's second layer,
padding on one or both axes and up to KW - 1, non-square kernels, one and two channel vectors and
three-vector blocks, rows split into several tiles, a batch smaller than the thread count (rows
over threads instead of images), 1 vs 2 threads, and shapes this path takes ahead of the
few-channel kernels (conv_small.cpp: O = 16). 3 x 3 shapes stay off Winograd, which comes first.
The AVX2 kernels run here too, in a subprocess with the dispatch capped (EMBER_ISA=avx2); the shapes
marked AVX2 come to this path only there. On CPUs with neither, the shapes take the other paths and
the tests still hold."""
import importlib.util
import json
import os
import subprocess
import sys

import ember
import numpy as np
import pytest
from conftest import requires_torch
from test_conv_igemm import _check_against_torch, _data, _run  # shared with the pixel-kernel tests

# (N, C, H, W), O, (KH, KW), (ph, pw); which passes come here in the comment
SHAPES = [
    ((4, 16, 14, 14), 32, (5, 5), (0, 0)),    # LeNet's conv2 (OW = 10): all three
    ((3, 16, 14, 14), 32, (5, 5), (2, 2)),    # OW = 14 (forward on the pixel kernels): dx, dw
    ((2, 32, 12, 30), 48, (5, 5), (2, 2)),    # O = 48: blocks of 2 + 1 vectors; C = 32: two dx blocks
    ((2, 2, 12, 12), 16, (3, 3), (0, 0)),     # O = 16 with C = 2: one-vector forward and dw
    ((2, 16, 20, 40), 32, (3, 3), (0, 0)),    # OW = 38: forward rows in 3 tiles, dx rows in 3
    ((2, 16, 9, 11), 24, (3, 3), (1, 1)),     # O = 24: dx only
    ((2, 16, 10, 12), 32, (3, 5), (1, 2)),    # 3 x 5 kernel, OW = 12
    ((2, 16, 12, 10), 32, (5, 3), (0, 1)),    # 5 x 3 kernel, ph = 0 < pw
    ((2, 16, 5, 5), 32, (5, 5), (4, 4)),      # padding KW - 1: most taps outside x
    ((1, 16, 6, 6), 32, (5, 5), (2, 1)),      # N = 1: rows (dw: tap rows) split over 2 threads
    ((2, 1, 28, 28), 16, (5, 5), (2, 2)),     # the main job's conv1 (C = 1): dw
    ((3, 48, 9, 11), 64, (5, 5), (1, 2)),     # 48 -> 64, OW = 11: all three, 2 + 2 vector blocks
    ((3, 6, 14, 14), 16, (5, 5), (0, 0)),     # LeNet's 6 -> 16 (conv_small's otherwise): fwd, dw
    ((2, 32, 12, 12), 16, (3, 3), (1, 1)),    # 32 -> 16: all three ahead of conv_small
    ((2, 3, 9, 13), 8, (3, 3), (1, 1)),       # AVX2: O = 8, one vector: forward and dw
    ((2, 8, 10, 10), 40, (5, 5), (2, 2)),     # AVX2: C = 8 dx; O = 40, blocks of 2 + 2 + 1 vectors
    ((2, 16, 7, 30), 16, (3, 3), (1, 1)),     # AVX2: 30-wide forward (O <= 32), a 14-pixel tail
    ((2, 1, 28, 28), 6, (5, 5), (2, 2)),      # AVX2: O = 6 in 8 lanes (LeNet's conv1): fwd, dw
    ((2, 14, 9, 12), 30, (3, 3), (1, 1)),     # AVX2: C = 14 dx; O = 30, blocks of 16 + 8 + 6
]


@requires_torch
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape,o,k,p", SHAPES)
def test_chan_matches_torch(shape, o, k, p, threads):
    _check_against_torch(shape, o, k, p, threads)


_OTHER_PATH = """
import json, sys, numpy as np, ember
shape, o, k, p = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.standard_normal(shape).astype(np.float32)
w = (rng.standard_normal([o, shape[1]] + k) * 0.2).astype(np.float32)
b = rng.standard_normal(o).astype(np.float32)
g = rng.standard_normal([shape[0], o, shape[2] + 2 * p[0] - k[0] + 1, shape[3] + 2 * p[1] - k[1] + 1])
X, W, B = (ember.from_numpy(a).requires_grad_() for a in (x, w, b))
y = ember.nn.functional.conv2d(X, W, B, padding=tuple(p))
y.backward(ember.from_numpy(g.astype(np.float32)))
print(json.dumps([t.detach().numpy().ravel().tolist() for t in (y, X.grad, W.grad, B.grad)]))
"""


@pytest.mark.parametrize("shape,o,k,p", [SHAPES[i] for i in (0, 2, 3, 4, 6, 8, 11, 12, 13, 14, 15, 16, 17, 18)])
def test_chan_matches_the_other_paths(shape, o, k, p):
    """Same data through this path and, with EMBER_CONV_CHAN=0, through the ones it replaces."""
    arg = json.dumps([list(shape), o, list(k), list(p)])
    out = {}
    for flag in ("1", "0"):
        env = dict(os.environ, EMBER_CONV_CHAN=flag)
        res = subprocess.run([sys.executable, "-c", _OTHER_PATH, arg], env=env, capture_output=True, text=True,
                             check=True)
        out[flag] = [np.array(a) for a in json.loads(res.stdout)]
    for name, a, f in zip(("y", "dx", "dw", "db"), out["1"], out["0"]):
        np.testing.assert_allclose(a, f, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(f).max()), err_msg=name)


@pytest.mark.parametrize("shape,o,k,p", [SHAPES[0], SHAPES[6]])
def test_chan_against_float64(shape, o, k, p):
    """float32 (this path) against the float64 path (GEMM) on the same data."""
    x, w, b = _data(shape, o, k)
    r32, g = _run(ember, x, w, b, p)
    X, Wt, B = (ember.from_numpy(a.astype(np.float64)).requires_grad_() for a in (x, w, b))
    y = ember.nn.functional.conv2d(X, Wt, B, padding=p)
    y.backward(ember.from_numpy(g.astype(np.float64)))
    for name, e, d in zip(("y", "dx", "dw", "db"), r32,
                          (y.detach().numpy(), X.grad.numpy(), Wt.grad.numpy(), B.grad.numpy())):
        np.testing.assert_allclose(e, d, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(d).max()), err_msg=name)


def test_chan_input_gradient_without_weight_gradient():
    """Only dx requested (a frozen layer), and the other way round; no bias."""
    x, w, _ = _data((2, 16, 14, 14), 32, (5, 5))
    X = ember.from_numpy(x).requires_grad_()
    W = ember.from_numpy(w)
    y = ember.nn.functional.conv2d(X, W)
    (gx,) = ember.autograd.grad(y.sum(), X)
    X64 = ember.from_numpy(x.astype(np.float64)).requires_grad_()
    (gx64,) = ember.autograd.grad(ember.nn.functional.conv2d(X64, ember.from_numpy(w.astype(np.float64))).sum(), X64)
    np.testing.assert_allclose(gx.numpy(), gx64.numpy(), rtol=1e-4, atol=1e-4 * np.abs(gx64.numpy()).max())
    W2 = ember.from_numpy(w).requires_grad_()
    (gw,) = ember.autograd.grad(ember.nn.functional.conv2d(ember.from_numpy(x), W2).sum(), W2)
    W64 = ember.from_numpy(w.astype(np.float64)).requires_grad_()
    (gw64,) = ember.autograd.grad(ember.nn.functional.conv2d(ember.from_numpy(x.astype(np.float64)), W64).sum(), W64)
    np.testing.assert_allclose(gw.numpy(), gw64.numpy(), rtol=1e-4, atol=1e-4 * np.abs(gw64.numpy()).max())


def test_chan_avx2_kernels():
    """The AVX2 build of these kernels (8-channel vectors, 16 registers), run by capping the dispatch
    in a subprocess: every test above, with the shapes that come here only under AVX2."""
    env = dict(os.environ, EMBER_ISA="avx2")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.abspath(__file__),
                        "-k", "not test_chan_avx2_kernels"], env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "failed" not in r.stdout
    if importlib.util.find_spec("torch") is not None:
        assert "skipped" not in r.stdout


# Batches large enough that the weight gradient goes in more chunks than threads (balanced at run
# time, partial sums added in chunk order): 16 images in 8 chunks, 21 in 10 uneven ones (2 or 3).
_CHUNKED = [((16, 3, 32, 32), 32, (3, 3), (1, 1)), ((21, 4, 32, 32), 16, (3, 3), (1, 1))]


@requires_torch
@pytest.mark.parametrize("shape,o,k,p", _CHUNKED)
def test_chan_weight_gradient_in_chunks_matches_torch(shape, o, k, p):
    _check_against_torch(shape, o, k, p, 2)


@pytest.mark.parametrize("shape,o,k,p", _CHUNKED)
def test_chan_chunks_give_the_same_bits_every_run(shape, o, k, p):
    """Which thread runs which chunk varies from call to call; the results must not: five runs on
    2 threads, bit for bit, and the weight gradient within float32 rounding of a float64 sum."""
    x, w, b = _data(shape, o, k)
    old = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        runs = [_run(ember, x, w, b, p)[0] for _ in range(5)]
    finally:
        ember.set_num_threads(old)
    for r in runs[1:]:
        for name, a, c in zip(("y", "dx", "dw", "db"), runs[0], r):
            assert np.array_equal(a, c), name
    g = np.random.default_rng(1).standard_normal(runs[0][0].shape).astype(np.float32)
    g = g.astype(np.float64)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))
    H, W = g.shape[2], g.shape[3]
    dw = np.zeros((o, shape[1]) + k)
    for kh in range(k[0]):
        for kw in range(k[1]):
            dw[:, :, kh, kw] = np.einsum("nohw,nchw->oc", g, xp[:, :, kh:kh + H, kw:kw + W])
    np.testing.assert_allclose(runs[0][2], dw, rtol=1e-4, atol=1e-4 * np.abs(dw).max())
    scale = np.abs(g).sum(axis=(0, 2, 3)).max()
    np.testing.assert_allclose(runs[0][3], g.sum(axis=(0, 2, 3)), rtol=1e-4, atol=1e-4 * scale)

"""The implicit-GEMM convolution path (cpp/src/backend/cpu/conv_igemm.cpp: stride-1, ungrouped
float32 convolutions whose output rows fill at least 3/4 of their 16-lane vectors, on AVX-512
CPUs) against torch and
against the im2col/GEMM fallback (EMBER_CONV_IGEMM=0, in a subprocess): output-channel tails (not a
multiple of 8), tap tails (C*KH*KW not a multiple of 6; the direct weight gradient for K < 128, the
tap-packed GEMM above), pixel-vector tails (L/16 not a multiple of
3), non-square kernels, padding below KH-1, a batch smaller than the thread count, and 1 vs 2
threads. Output channels stay above 16 so the direct small-channel path (conv_small.cpp) does not
take these shapes. On CPUs without AVX-512 they take the fallback and the tests still hold."""
import json
import os
import subprocess
import sys

import ember
import numpy as np
import pytest
from conftest import requires_torch, torch

# (N, C, H, W), O, (KH, KW), (ph, pw)
SHAPES = [
    ((2, 3, 16, 16), 21, (3, 3), (1, 1)),     # O tail, K = 27 (tap tail), L/16 = 16 (vector tail)
    ((3, 4, 18, 18), 13, (3, 3), (0, 0)),     # no padding: OW = 16
    ((1, 2, 8, 32), 20, (3, 5), (1, 2)),      # non-square kernel, N < threads
    ((2, 6, 17, 32), 19, (2, 3), (0, 1)),     # 2x3 kernel, OH = 16, OW = 32
    ((2, 7, 16, 48), 24, (5, 5), (2, 2)),     # 5x5, OW = 48 (one full tile per row)
    ((4, 16, 16, 16), 64, (3, 3), (1, 1)),    # K = 144: weight gradient as a GEMM with tap-packed B
    ((2, 16, 16, 16), 72, (3, 3), (1, 1)),    # O = 72 (not a multiple of 12 either)
    ((1, 16, 16, 16), 24, (3, 3), (1, 1)),    # N = 1: threads inside the GEMM
    ((2, 9, 8, 32), 17, (3, 5), (0, 1)),      # OW = 30 (masked second vector), padding < k - 1
    ((2, 5, 16, 16), 18, (1, 1), (0, 0)),     # pointwise (only its forward takes this path)
    ((3, 8, 28, 28), 32, (3, 3), (1, 1)),     # MNIST width: rows of 16 + 12 (masked) lanes
    ((2, 20, 13, 13), 40, (3, 3), (1, 1)),    # OW = 13: tap-packing runs across three rows
    ((2, 16, 12, 12), 24, (3, 3), (0, 0)),    # OW = 10 (not routed: lanes under 3/4), dx W = 12
    ((1, 24, 15, 15), 130, (3, 3), (1, 1)),   # OW = 15, O = 130, N = 1
    ((2, 9, 24, 14), 19, (3, 3), (1, 1)),     # OW = 14, K = 81 (direct weight gradient, masked)
    ((3, 16, 8, 8), 24, (3, 3), (1, 1)),      # OW = 8: weight gradient only (tap-packed GEMM)
    ((2, 17, 10, 10), 20, (3, 3), (1, 1)),    # OW = 10: weight gradient only, runs across rows
]


def _data(shape, o, k, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((o, shape[1]) + k) * 0.2).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    return x, w, b


def _run(lib, x, w, b, p, g=None):
    X, Wt, B = (lib.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    y = lib.nn.functional.conv2d(X, Wt, B, padding=p)
    if g is None:
        g = np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(lib.from_numpy(g.copy()))
    return [t.detach().numpy() for t in (y, X.grad, Wt.grad, B.grad)], g


def _check_against_torch(shape, o, k, p, threads):
    """Forward and all gradients on `threads` threads against torch (also used by test_conv_chan)."""
    x, w, b = _data(shape, o, k)
    old = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        got, g = _run(ember, x, w, b, p)
    finally:
        ember.set_num_threads(old)
    ref, _ = _run(torch, x, w, b, p, g)
    for name, e, t in zip(("y", "dx", "dw", "db"), got, ref):
        assert e.shape == t.shape, name
        np.testing.assert_allclose(e, t, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(t).max()), err_msg=name)


@requires_torch
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("shape,o,k,p", SHAPES)
def test_igemm_matches_torch(shape, o, k, p, threads):
    _check_against_torch(shape, o, k, p, threads)


_FALLBACK = """
import json, sys, numpy as np, ember
shape, o, k, p = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
x = rng.standard_normal(shape).astype(np.float32)
w = (rng.standard_normal([o, shape[1]] + k) * 0.2).astype(np.float32)
b = rng.standard_normal(o).astype(np.float32)
X, W, B = (ember.from_numpy(a).requires_grad_() for a in (x, w, b))
y = ember.nn.functional.conv2d(X, W, B, padding=tuple(p))
y.backward(ember.ones_like(y))
print(json.dumps([t.detach().numpy().ravel().tolist() for t in (y, X.grad, W.grad, B.grad)]))
"""


@pytest.mark.parametrize("shape,o,k,p", SHAPES[:3] + SHAPES[5:7] + SHAPES[9:11] + SHAPES[15:])
def test_igemm_matches_gemm_fallback(shape, o, k, p):
    """Both paths sum in the same k order, so they agree to float32 rounding. The channel-vectorised
    path (conv_chan.cpp), which takes some of these shapes' gradients first, is off in both runs."""
    arg = json.dumps([list(shape), o, list(k), list(p)])
    out = {}
    for flag in ("1", "0"):
        env = dict(os.environ, EMBER_CONV_IGEMM=flag, EMBER_CONV_CHAN="0")
        res = subprocess.run([sys.executable, "-c", _FALLBACK, arg], env=env, capture_output=True, text=True,
                             check=True)
        out[flag] = [np.array(a) for a in json.loads(res.stdout)]
    for name, a, f in zip(("y", "dx", "dw", "db"), out["1"], out["0"]):
        np.testing.assert_allclose(a, f, rtol=1e-5, atol=1e-4 * max(1.0, np.abs(f).max()), err_msg=name)


def test_igemm_gradcheck_against_float64():
    """float32 (igemm) against the float64 path (GEMM) on the same data."""
    x, w, b = _data((2, 3, 16, 16), 8, (3, 3))
    r32, g = _run(ember, x, w, b, (1, 1))
    X, Wt, B = (ember.from_numpy(a.astype(np.float64)).requires_grad_() for a in (x, w, b))
    y = ember.nn.functional.conv2d(X, Wt, B, padding=1)
    y.backward(ember.from_numpy(g.astype(np.float64)))
    for e, d in zip(r32, (y.detach().numpy(), X.grad.numpy(), Wt.grad.numpy(), B.grad.numpy())):
        np.testing.assert_allclose(e, d, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(d).max()))

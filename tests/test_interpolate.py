"""F.interpolate against torch over a sweep of sizes and scale factors (torch's coordinate
conventions, float32 source coordinates, shortcuts for unchanged and doubled sizes), and errors."""

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch

pytestmark = requires_torch
MODES = [("nearest", None), ("bilinear", False), ("bilinear", True)]


def both(x, **kw):
    e = ember.nn.functional.interpolate(ember.from_numpy(x.copy()), **kw).numpy()
    t = torch.nn.functional.interpolate(torch.from_numpy(x.copy()), **kw).numpy()
    assert e.shape == t.shape
    return e, t


@pytest.mark.parametrize("dtype,atol", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("mode,align", MODES)
def test_size_sweep(dtype, atol, mode, align):
    for ih in range(1, 10):
        x = np.random.default_rng(ih).standard_normal((1, 2, ih, 3)).astype(dtype)
        for oh in range(1, 21):
            e, t = both(x, size=(oh, 5), mode=mode, align_corners=align)
            np.testing.assert_allclose(e, t, rtol=0, atol=atol, err_msg=f"{ih}->{oh}")


@pytest.mark.parametrize("dtype,atol", [(np.float32, 2e-6), (np.float64, 1e-12)])
@pytest.mark.parametrize("mode,align", MODES)
def test_scale_sweep(dtype, atol, mode, align):
    for ih in range(1, 10):
        x = np.random.default_rng(ih).standard_normal((2, 1, ih, 4)).astype(dtype)
        for sf in (0.5, 0.7, 1.3, 1.5, 2.0, 2.5, 3.0, 1 / 3, 1.7):
            if int(ih * sf) == 0:
                continue
            e, t = both(x, scale_factor=sf, mode=mode, align_corners=align)
            np.testing.assert_allclose(e, t, rtol=0, atol=atol, err_msg=f"{ih} x {sf}")


def test_nearest_3d_and_recompute():
    x = np.random.default_rng(0).standard_normal((2, 3, 7)).astype(np.float32)
    e, t = both(x, scale_factor=1.3)
    np.testing.assert_array_equal(e, t)
    x4 = np.random.default_rng(1).standard_normal((1, 2, 5, 6)).astype(np.float32)
    e, t = both(x4, scale_factor=1.3, mode="bilinear", recompute_scale_factor=True)
    np.testing.assert_allclose(e, t, rtol=0, atol=2e-6)


def test_errors():
    F = ember.nn.functional
    x = ember.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=4, scale_factor=2)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, size=4, align_corners=True)
    with pytest.raises(ValueError, match="bilinear mode needs 4D input"):
        F.interpolate(ember.randn(1, 2, 3), size=4, mode="bilinear")
    with pytest.raises(NotImplementedError, match="bicubic"):
        F.interpolate(x, size=4, mode="bicubic")


@pytest.mark.parametrize("mode,align", MODES)
def test_large_sizes_match_torch(mode, align):
    # Source coordinates for whole output rows at once (numpy, in the input's float type): the
    # same indices and weights as torch's on long axes, where a float64 shortcut would drift.
    x = np.random.default_rng(3).standard_normal((1, 1, 37, 1000)).astype(np.float32)
    sizes = [{"size": (100, 2333)}, {"scale_factor": 0.37}, {"size": (13, 511)}, {"scale_factor": (2.1, 0.5)}]
    for kw in sizes:
        e, t = both(x, mode=mode, align_corners=align, **kw)
        np.testing.assert_allclose(e, t, rtol=0, atol=2e-6, err_msg=str(kw))


# --- the fused kernel (_C._interp2d): gradients, double backward, threads, layouts, errors ------
GRAD_CASES = [
    ((2, 3, 5, 7), {"scale_factor": 2}),
    ((2, 3, 5, 7), {"scale_factor": 0.5}),
    ((1, 2, 6, 4), {"size": (13, 3)}),
    ((3, 1, 4, 9), {"scale_factor": (1.7, 0.6)}),
    ((2, 2, 7, 5), {"size": (7, 11)}),  # unchanged H
    ((1, 1, 1, 1), {"size": (3, 2)}),
]


def _grads(L, xn, gn, **kw):
    x = L.from_numpy(xn.copy()).requires_grad_()
    y = L.nn.functional.interpolate(x, **kw)
    y.backward(L.from_numpy(gn.copy()))
    return y.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("dtype,tol", [(np.float32, 2e-5), (np.float64, 1e-12)])
@pytest.mark.parametrize("mode,align", MODES)
@pytest.mark.parametrize("shape,kw", GRAD_CASES)
def test_backward_matches_torch(dtype, tol, mode, align, shape, kw):
    rng = np.random.default_rng(7)
    xn = rng.standard_normal(shape).astype(dtype)
    yt = torch.nn.functional.interpolate(torch.from_numpy(xn), mode=mode, align_corners=align, **kw)
    gn = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    ye, ge = _grads(ember, xn, gn, mode=mode, align_corners=align, **kw)
    yt, gt = _grads(torch, xn, gn, mode=mode, align_corners=align, **kw)
    np.testing.assert_allclose(ye, yt, rtol=0, atol=tol)
    np.testing.assert_allclose(ge, gt, rtol=tol, atol=tol)


@pytest.mark.parametrize("mode,align", MODES)
@pytest.mark.parametrize("kw", [{"scale_factor": 2}, {"size": (3, 5)}, {"scale_factor": (1.5, 0.7)}])
def test_gradcheck_and_double_backward(mode, align, kw):
    """float64 finite differences for the gradient, and for the gradient of the gradient (the
    transposed kernel's own backward, create_graph)."""
    F = ember.nn.functional
    x = ember.randn(2, 2, 4, 5, dtype=ember.float64).requires_grad_()

    def f(t):
        return F.interpolate(t, mode=mode, align_corners=align, **kw)

    assert ember.autograd.gradcheck(f, (x,))
    g = ember.randn(*f(x).shape, dtype=ember.float64).requires_grad_()

    def vjp(t, gg):  # (gradcheck's finite differences run under no_grad)
        with ember.enable_grad():
            (gx,) = ember.autograd.grad(f(t), t, gg, create_graph=True)
        return gx

    assert ember.autograd.gradcheck(vjp, (x, g))


@pytest.mark.parametrize("mode,align", MODES)
def test_threads_agree_and_strided_input(mode, align):
    rng = np.random.default_rng(1)
    base = rng.standard_normal((3, 4, 33, 29)).astype(np.float32)
    g = rng.standard_normal((3, 4, 50, 17)).astype(np.float32)
    old = ember.get_num_threads()
    res = []
    try:
        for nt in (1, 2):
            ember.set_num_threads(nt)
            res.append(_grads(ember, base, g, size=(50, 17), mode=mode, align_corners=align))
    finally:
        ember.set_num_threads(old)
    np.testing.assert_array_equal(res[0][0], res[1][0])
    np.testing.assert_array_equal(res[0][1], res[1][1])
    # a transposed (non-contiguous) input gives the same values as its contiguous copy
    xt = ember.from_numpy(base.copy()).transpose(2, 3)
    xc = ember.from_numpy(np.ascontiguousarray(base.transpose(0, 1, 3, 2)))
    F = ember.nn.functional
    np.testing.assert_array_equal(F.interpolate(xt, size=(20, 40), mode=mode, align_corners=align).numpy(),
                                  F.interpolate(xc, size=(20, 40), mode=mode, align_corners=align).numpy())


def test_nearest_1d_gradient_and_specials():
    rng = np.random.default_rng(2)
    xn = rng.standard_normal((2, 3, 7)).astype(np.float32)
    xn[0, 1, 3] = np.inf
    xn[1, 2, 0] = np.nan
    gn = rng.standard_normal((2, 3, 16)).astype(np.float32)
    ye, ge = _grads(ember, xn, gn, size=16)
    yt, gt = _grads(torch, xn, gn, size=16)
    np.testing.assert_array_equal(ye, yt)
    np.testing.assert_allclose(ge, gt, rtol=1e-6, atol=1e-6)


def test_kernel_errors():
    """The private kernel checks its tables: no out-of-range read, whatever the caller passes."""
    C = ember._C
    x = ember.randn(1, 2, 3, 4)

    def idx(*v):
        return ember.from_numpy(np.array(v, dtype=np.int64))

    lam = ember.from_numpy(np.array([0.5, 0.5], dtype=np.float32))
    ok_w = idx(0, 3)
    with pytest.raises(IndexError, match="interpolate: H index 3 at position 1 is out of range"):
        C._interp2d(x, idx(0, 3), None, None, ok_w, None, None)
    with pytest.raises(IndexError, match="W index -1"):
        C._interp2d(x, idx(0, 1), None, None, idx(-1, 0), None, None)
    with pytest.raises(IndexError, match="H index 5"):
        C._interp2d(x, idx(0, 1), idx(1, 5), lam, ok_w, None, None)
    with pytest.raises(RuntimeError, match="go together"):
        C._interp2d(x, idx(0, 1), idx(1, 2), None, ok_w, None, None)
    with pytest.raises(RuntimeError, match="must be a 1-D int64 tensor"):
        C._interp2d(x, ember.zeros(2), None, None, ok_w, None, None)
    with pytest.raises(RuntimeError, match="weights must be a 1-D float tensor of length 2"):
        C._interp2d(x, idx(0, 1), idx(1, 2), ember.zeros(3), ok_w, None, None)
    with pytest.raises(RuntimeError, match="expected a 3-D or 4-D input"):
        C._interp2d(ember.randn(3), idx(0), None, None, idx(0), None, None)
    with pytest.raises(TypeError, match="floating-point"):
        C._interp2d(ember.zeros(1, 2, 2, dtype=ember.int64), idx(0), None, None, idx(0), None, None)
    # float64 weights for a float32 input are converted
    y = C._interp2d(x, idx(0, 1), idx(1, 2), ember.from_numpy(np.array([0.25, 1.0])), ok_w, None, None)
    xn = x.numpy()
    np.testing.assert_allclose(y.numpy()[:, :, 0], 0.75 * xn[:, :, 0][:, :, [0, 3]] + 0.25 * xn[:, :, 1][:, :, [0, 3]],
                               rtol=1e-6)
    np.testing.assert_allclose(y.numpy()[:, :, 1], xn[:, :, 2][:, :, [0, 3]], rtol=1e-6)

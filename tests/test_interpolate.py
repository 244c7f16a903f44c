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

"""Convolution layers and functionals against torch: modules with copied weights (outputs, input
and parameter gradients) on odd sizes, 1 vs 2 threads, double backward, every error path, repr,
state_dict keys and initialisation."""
import math

import ember
import numpy as np
import pytest
from conftest import requires_torch, torch
from ember import nn
from ember.nn import functional as F

# torch warns that it copies the input for an asymmetric 'same' padding; not our concern here
pytestmark = [requires_torch, pytest.mark.filterwarnings("ignore:Using padding='same'")]


def _pair_modules(name, args, kwargs, dtype):
    e = getattr(nn, name)(*args, **kwargs, dtype=getattr(ember, dtype))
    t = getattr(torch.nn, name)(*args, **kwargs, dtype=getattr(torch, dtype))
    e.load_state_dict({k: v.detach().numpy().copy() for k, v in t.state_dict().items()})
    return e, t


def _run(mod, lib, x, g, **fw):
    xt = lib.from_numpy(x.copy()).requires_grad_()
    y = mod(xt, **fw)
    y.backward(lib.from_numpy(g.copy()))
    grads = {n: p.grad.numpy() for n, p in mod.named_parameters()}
    return y.detach().numpy(), xt.grad.numpy(), grads


def compare(name, args, kwargs, shape, dtype="float64", rtol=1e-10, atol=1e-10, seed=0, **fw):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    e, t = _pair_modules(name, args, kwargs, dtype)
    x = rng.standard_normal(shape).astype(dtype)
    with torch.no_grad():
        out_shape = tuple(t(torch.from_numpy(x), **fw).shape)
    g = rng.standard_normal(out_shape).astype(dtype)
    ye, gxe, gpe = _run(e, ember, x, g, **fw)
    yt, gxt, gpt = _run(t, torch, x, g, **fw)
    assert ye.shape == yt.shape
    np.testing.assert_allclose(ye, yt, rtol=rtol, atol=atol)
    np.testing.assert_allclose(gxe, gxt, rtol=rtol, atol=atol)
    assert gpe.keys() == gpt.keys()
    for k in gpt:
        np.testing.assert_allclose(gpe[k], gpt[k], rtol=rtol, atol=atol, err_msg=k)
    return ye, gxe, gpe


CONV2D = [
    ((3, 5, 3), {}, (2, 3, 9, 7)),
    ((3, 4, (2, 3)), {"stride": (2, 1), "padding": (1, 2)}, (3, 3, 8, 11)),
    ((4, 6, 3), {"groups": 2, "dilation": 2, "padding": 2, "bias": False}, (2, 4, 9, 10)),
    ((4, 4, 3), {"groups": 4, "padding": 1}, (3, 4, 7, 5)),                   # depthwise
    ((3, 6, (3, 2)), {"groups": 3, "stride": 2}, (2, 3, 9, 8)),               # depthwise x2
    ((5, 7, 1), {}, (2, 5, 6, 3)),                                            # 1x1
    ((2, 3, 4), {"padding": "same"}, (2, 2, 7, 6)),                           # asymmetric same
    ((2, 3, 3), {"padding": "valid", "stride": 3}, (1, 2, 10, 8)),
    ((1, 6, 5), {"padding": 2}, (3, 1, 28, 28)),                              # LeNet conv1
    ((3, 4, 3), {"padding": 1}, (3, 7, 6)),                                   # unbatched
    ((3, 4, 5), {"padding": 1, "stride": 4}, (1, 3, 5, 5)),                   # batch 1
    # depthwise, stride 1 (the flipped-correlation dx and per-tap accumulated dw kernels): wide
    # rows (vector loop and tail), dilation, no padding, a channel multiplier, rectangular taps,
    # and padding beyond the taps' reach (the general kernels)
    ((5, 5, 3), {"groups": 5, "padding": 1}, (2, 5, 11, 37)),
    ((4, 4, 3), {"groups": 4, "padding": 2, "dilation": 2}, (2, 4, 9, 19)),
    ((3, 6, (2, 3)), {"groups": 3}, (2, 3, 7, 18)),
    ((2, 2, (3, 1)), {"groups": 2, "padding": (1, 0), "bias": False}, (1, 2, 6, 17)),
    ((2, 2, 3), {"groups": 2, "padding": 3}, (2, 2, 5, 6)),
    # register-blocked rows: two column chunks (64 + 6), and a row stride with unit column stride
    ((3, 3, 3), {"groups": 3, "padding": 1}, (1, 3, 9, 70)),
    ((2, 4, 3), {"groups": 2, "stride": (2, 1), "padding": 1}, (2, 2, 9, 21)),
    # column strides > 1 (im2col through column phases): dilation, odd kernels, uneven widths
    ((3, 4, (3, 4)), {"stride": (1, 3), "padding": (1, 2)}, (2, 3, 7, 17)),
    ((2, 5, 3), {"stride": 2, "padding": 2, "dilation": 2}, (2, 2, 11, 12)),
    ((16, 8, 4), {"stride": 2, "padding": 1}, (2, 16, 12, 13)),
    ((2, 3, 3), {"stride": 2}, (2, 2, 8, 10)),                                # last row, column unreached
    ((2, 3, 2), {"stride": (1, 3), "padding": (0, 1)}, (1, 2, 4, 11)),
    # strides the taps do not cover (phases unused: the strided gather)
    ((4, 6, 1), {"stride": 2}, (2, 4, 9, 10)),                                # 1x1 downsampling
    ((3, 4, 2), {"stride": 3, "padding": 1}, (2, 3, 10, 11)),
    ((3, 4, 3), {"stride": 2, "dilation": 2, "padding": 2}, (2, 3, 9, 12)),
]


@pytest.mark.parametrize("args,kwargs,shape", CONV2D)
def test_conv2d_module(args, kwargs, shape):
    compare("Conv2d", args, kwargs, shape)


def test_conv2d_float32():
    compare("Conv2d", (3, 8, 3), {"padding": 1}, (4, 3, 10, 9), dtype="float32", rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("args,kwargs,shape", [
    ((3, 5, 3), {"stride": 2, "padding": 1}, (2, 3, 7, 45)),                  # rows of 23: runs of 16 + 7
    ((4, 6, 3), {"stride": 2, "padding": 1, "groups": 2}, (2, 4, 9, 37)),
    ((2, 3, 3), {"stride": 2, "padding": 3, "dilation": 3}, (1, 2, 11, 40)),
    ((32, 4, 3), {"stride": 2, "padding": 1}, (2, 32, 6, 34)),                # K = 288: a k-block mid-channel
    ((3, 4, 5), {"stride": (1, 2), "padding": 2}, (2, 3, 8, 20)),
    ((2, 3, 3), {"stride": 2}, (2, 2, 8, 10)),                                # last row, column unreached
    ((3, 5, (3, 4)), {"stride": 2, "padding": (1, 2)}, (2, 3, 9, 33)),
    ((3, 4, 3), {"stride": 2, "padding": 1}, (2, 3, 6, 7)),                   # rows narrower than a vector
    ((2, 3, (3, 9)), {"stride": 2, "padding": (1, 4)}, (1, 2, 7, 30)),         # KW > 8
    ((3, 4, 2), {"stride": 2}, (2, 3, 7, 11)),                                # last column unreached
    ((2, 3, 2), {"stride": 2, "padding": 1}, (1, 2, 6, 37)),
])
def test_conv2d_float32_column_stride_2(args, kwargs, shape):
    """float32 with column stride 2: on AVX-512 the forward packs the GEMM's B panels straight from
    the image (masked loads of a row's 32 columns, the even ones kept), and the input gradient
    interleaves both column phases into each row at once (zeros where no tap reaches); elsewhere
    through the phases one element at a time. Both against torch."""
    compare("Conv2d", args, kwargs, shape, dtype="float32", rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("args,kwargs,shape", [
    ((3, 5, 3), {}, (2, 3, 11)),
    ((4, 6, 4), {"stride": 2, "padding": 3, "dilation": 2, "groups": 2}, (3, 4, 13)),
    ((2, 2, 4), {"padding": "same", "groups": 2}, (2, 2, 7)),
    ((3, 2, 2), {"bias": False}, (3, 9)),
])
def test_conv1d_module(args, kwargs, shape):
    compare("Conv1d", args, kwargs, shape)


@pytest.mark.parametrize("args,kwargs,shape,fw", [
    ((3, 5, 3), {}, (2, 3, 5, 4), {}),
    ((3, 4, (3, 2)), {"stride": 2, "padding": 1, "output_padding": 1}, (2, 3, 5, 6), {}),
    ((4, 6, 3), {"groups": 2, "dilation": 2, "bias": False}, (1, 4, 4, 5), {}),
    ((4, 4, 3), {"groups": 4, "stride": (2, 3)}, (2, 4, 3, 3), {}),           # depthwise
    ((2, 3, 3), {"stride": 2}, (2, 2, 4, 5), {"output_size": (10, 12)}),
    ((2, 3, 2), {}, (2, 4, 4), {}),                                           # unbatched
])
def test_conv_transpose2d_module(args, kwargs, shape, fw):
    compare("ConvTranspose2d", args, kwargs, shape, **fw)


# Small output planes (L = OH * OW < 64) with several images run as one GEMM per chunk of images
# (conv.cpp's fold): chunk sizes that do not divide the batch, chunks split over 2 threads (weight
# gradient partials), pointwise, stride 2, dilation, and the transposed convolution (whose forward
# is the input gradient's kernel). 3x3 stride-1 layers take Winograd for the forward and the input
# gradient and the fold for the weight gradient.
FOLD = [
    ("Conv2d", (8, 16, 3), {"padding": 1}, (37, 8, 4, 4)),
    ("Conv2d", (8, 12, 4), {"stride": 2, "padding": 1}, (21, 8, 8, 8)),
    ("Conv2d", (6, 10, 1), {}, (19, 6, 4, 5)),
    ("Conv2d", (5, 7, 3), {"dilation": 2, "padding": 2, "bias": False}, (9, 5, 6, 7)),
    ("ConvTranspose2d", (12, 6, 4), {"stride": 2, "padding": 1}, (23, 12, 4, 4)),
    # planes of up to 64 elements gather and scatter by register permutes (float32, AVX-512):
    # rows of L = 49 and 42 output pixels (four and three 16-lane pieces, upper-half lanes)
    ("Conv2d", (5, 6, 3), {"padding": 1}, (11, 5, 7, 7)),
    ("ConvTranspose2d", (6, 5, 3), {"padding": 1}, (9, 6, 7, 6)),
    ("Conv2d", (3, 4, 2), {"stride": 2}, (6, 3, 5, 3)),
    # 3x3 stride 1 on small planes or wide layers: Winograd F(2x2, 3x3) for the forward and the
    # input gradient (conv_winograd.cpp): odd plane sizes (partial tiles), padding 0 / 1 / 2, a
    # batch split into chunks, and the wide-layer rule on a 9x9 plane
    ("Conv2d", (16, 24, 3), {"padding": 1}, (5, 16, 4, 4)),
    ("Conv2d", (16, 20, 3), {}, (3, 16, 7, 9)),
    ("Conv2d", (20, 16, 3), {"padding": 2, "bias": False}, (2, 20, 5, 3)),
    ("Conv2d", (17, 18, 3), {"padding": 1}, (130, 17, 2, 2)),
    ("Conv2d", (96, 100, 3), {"padding": 1}, (2, 96, 9, 9)),
    ("Conv2d", (32, 40, 3), {"padding": 1}, (37, 32, 3, 5)),  # weight gradient by Winograd too
    ("ConvTranspose2d", (16, 24, 3), {"padding": 1}, (3, 16, 6, 5)),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name,args,kwargs,shape", FOLD)
def test_small_planes_folded_match_torch(name, args, kwargs, shape, threads):
    old = ember.get_num_threads()
    try:
        ember.set_num_threads(threads)
        compare(name, args, kwargs, shape)  # float64: to rounding
        # float32 against torch's float64 result, each error scaled by its tensor's largest value
        # (as torch's own float32 result is: the sums run over hundreds of products)
        rng = np.random.default_rng(1)
        e, t = _pair_modules(name, args, kwargs, "float64")
        e = getattr(nn, name)(*args, **kwargs)
        e.load_state_dict({k: v.detach().numpy().astype(np.float32) for k, v in t.state_dict().items()})
        x = rng.standard_normal(shape)
        with torch.no_grad():
            g = rng.standard_normal(tuple(t(torch.from_numpy(x)).shape))
        got = _run(e, ember, x.astype(np.float32), g.astype(np.float32))
        want = _run(t, torch, x, g)
        for a, b in zip(got[:2], want[:2]):
            np.testing.assert_allclose(a, b, rtol=0, atol=4e-6 * np.abs(b).max())
        for k in want[2]:
            np.testing.assert_allclose(got[2][k], want[2][k], rtol=0, atol=4e-6 * np.abs(want[2][k]).max(), err_msg=k)
    finally:
        ember.set_num_threads(old)


@pytest.mark.parametrize("threads_first", [1, 2])
@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("Conv2d", (3, 8, 3), {"padding": 1}, (5, 3, 9, 9)),
    ("Conv2d", (3, 8, 3), {"padding": 1}, (1, 3, 17, 16)),
    ("Conv2d", (6, 6, 3), {"groups": 6}, (3, 6, 8, 8)),
    ("ConvTranspose2d", (4, 3, 3), {"stride": 2}, (3, 4, 5, 5)),
])
def test_threads_agree(threads_first, name, args, kwargs, shape):
    old = ember.get_num_threads()
    try:
        ember.set_num_threads(threads_first)
        a = compare(name, args, kwargs, shape, seed=3)
        ember.set_num_threads(3 - threads_first)
        b = compare(name, args, kwargs, shape, seed=3)
    finally:
        ember.set_num_threads(old)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12, atol=1e-12)
    for k in a[2]:
        np.testing.assert_allclose(a[2][k], b[2][k], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kwargs,wshape", [
    ({"padding": 1}, (4, 3, 3, 3)),
    ({"stride": 2, "groups": 3}, (6, 1, 2, 3)),
    ({"dilation": 2, "padding": 1, "groups": 3}, (3, 1, 3, 3)),
])
def test_conv2d_double_backward(kwargs, wshape):
    rng = np.random.default_rng(1)
    xs, ws, bs = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal(wshape), rng.standard_normal(wshape[0])
    res = []
    for lib in (ember, torch):
        x, w, b = (lib.from_numpy(a.copy()).requires_grad_() for a in (xs, ws, bs))
        y = lib.nn.functional.conv2d(x, w, b, **kwargs)
        gy = lib.from_numpy(np.cos(np.arange(y.numel()).reshape(tuple(y.shape))).copy())
        gx, gw, gb = lib.autograd.grad((y * y).sum(), (x, w, b), create_graph=True)
        (gx.pow(2).sum() + (gw * gw.sin()).sum() + gb.sum() * 0.5 + (y * gy).sum()).backward()
        res.append([t.detach().numpy() for t in (gx, gw, gb, x.grad, w.grad, b.grad)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_conv_transpose2d_double_backward():
    rng = np.random.default_rng(2)
    xs, ws = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((3, 2, 3, 3))
    res = []
    for lib in (ember, torch):
        x, w = (lib.from_numpy(a.copy()).requires_grad_() for a in (xs, ws))
        y = lib.nn.functional.conv_transpose2d(x, w, stride=2, padding=1)
        gx, gw = lib.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        (gx.pow(2).sum() + gw.pow(3).sum()).backward()
        res.append([t.detach().numpy() for t in (gx, gw, x.grad, w.grad)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_gradcheck_tiny():
    rng = np.random.default_rng(4)
    x = ember.from_numpy(rng.standard_normal((1, 2, 4, 3))).requires_grad_()
    w = ember.from_numpy(rng.standard_normal((2, 1, 2, 2))).requires_grad_()
    fn = lambda x, w: F.conv2d(x, w, stride=(1, 2), padding=1, groups=2)
    assert ember.autograd.gradcheck(fn, (x, w))
    assert ember.autograd.gradcheck(lambda x, w: F.conv_transpose2d(x, w, stride=2), (x, w))


def test_unfold_fold_modules():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 6, 7))
    for kw in ({"kernel_size": 3}, {"kernel_size": (2, 3), "stride": 2, "padding": 1, "dilation": (1, 2)}):
        ue, ut = nn.Unfold(**kw), torch.nn.Unfold(**kw)
        assert repr(ue) == repr(ut)
        ce, ct = ue(ember.from_numpy(x.copy())), ut(torch.from_numpy(x.copy()))
        np.testing.assert_allclose(ce.numpy(), ct.numpy(), rtol=1e-12, atol=0)
        fe, ft = nn.Fold((6, 7), **kw), torch.nn.Fold((6, 7), **kw)
        assert repr(fe) == repr(ft)
        np.testing.assert_allclose(fe(ce).numpy(), ft(ct).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,args,kwargs", [
    ("Conv2d", (4, 8, (3, 5)), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2, "bias": False}),
    ("Conv2d", (4, 8, 3), {}),
    ("Conv2d", (4, 8, 3), {"padding": "same"}),
    ("Conv1d", (4, 8, 3), {"padding": 2}),
    ("ConvTranspose2d", (4, 8, 3), {"stride": 2, "output_padding": 1, "groups": 4}),
])
def test_repr_state_dict_init(name, args, kwargs):
    e, t = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(e) == repr(t)
    assert list(e.state_dict().keys()) == list(t.state_dict().keys())
    for k, v in t.state_dict().items():
        assert tuple(e.state_dict()[k].shape) == tuple(v.shape)
    fan_in = e.weight.shape[1] * math.prod(e.weight.shape[2:])
    bound = 1 / math.sqrt(fan_in)
    w = e.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound
    if e.bias is not None:
        assert np.abs(e.bias.detach().numpy()).max() <= bound


# --- errors -----------------------------------------------------------------------------------
def _t(*shape):
    return ember.zeros(*shape)


@pytest.mark.parametrize("fn,exc,match", [
    (lambda: F.conv2d(_t(64, 1, 28, 28), _t(6, 3, 5, 5)), RuntimeError,
     (r"Given groups=1, weight of size \[6, 3, 5, 5\], expected input\[64, 1, 28, 28\] to have 3 channels, "
      r"but got 1 channels instead")),
    (lambda: F.conv2d(_t(2, 3), _t(6, 3, 5, 5)), RuntimeError,
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv2d, but got input of size: \[2, 3\]"),
    (lambda: F.conv2d(_t(1, 3, 2, 2), _t(6, 3, 5, 5)), RuntimeError,
     r"conv2d: Calculated padded input size per channel: \(2 x 2\). Kernel size: \(5 x 5\)"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), stride=0), RuntimeError, "conv2d: non-positive stride"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), padding=-1), RuntimeError, "conv2d: negative padding"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), dilation=(1, 0)), RuntimeError,
     r"conv2d: non-positive dilation is not supported, got dilation=\[1, 0\]"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), stride=2, padding="same"), RuntimeError,
     "padding='same' is not supported for strided convolutions"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), padding="foo"), RuntimeError, "Invalid padding string: 'foo'"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), stride=(1, 2, 3)), RuntimeError,
     r"conv2d: expected stride to be a single integer value or a list of 2 values"),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 2, 3, 3), groups=4), RuntimeError,
     r"Given groups=4, expected weight to be divisible by 4 at dimension 0"),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 2, 3, 3), groups=0), RuntimeError, "non-positive groups"),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 2, 3, 3), _t(5), groups=2), RuntimeError,
     r"expected bias to be 1-dimensional with 6 elements, but got bias of size \[5\]"),
    (lambda: F.conv2d(_t(1, 4, 8, 8), _t(6, 2, 3), groups=2), RuntimeError, "expected weight to be 4-dimensional"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), ember.zeros(6, 3, 3, 3, dtype=ember.float64)), RuntimeError,
     r"Input type \(float32\) and weight type \(float64\) should be the same"),
    (lambda: F.conv2d(ember.zeros(1, 3, 8, 8, dtype=ember.int64), ember.zeros(6, 3, 3, 3, dtype=ember.int64)),
     NotImplementedError, "conv2d: not implemented for 'int64'"),
    (lambda: F.conv2d(_t(1, 3, 8, 8), _t(6, 3, 3, 3), stride="a"), TypeError, "argument 'stride'"),
    (lambda: F.conv1d(_t(2, 3, 4, 5), _t(6, 3, 3)), RuntimeError,
     r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d"),
    (lambda: F.conv1d(_t(2, 3, 5), _t(6, 2, 3)), RuntimeError, r"conv1d: Given groups=1, weight of size \[6, 2, 3\], expected input\[2, 3, 5\] to have 2 channels"),
    (lambda: F.conv1d(_t(2, 3, 2), _t(6, 3, 3)), RuntimeError, "conv1d: Calculated padded input size"),
    (lambda: F.conv_transpose2d(_t(1, 4, 8, 8), _t(4, 2, 3, 3), stride=2, output_padding=2), RuntimeError,
     "output padding must be smaller than either stride or dilation"),
    (lambda: F.conv_transpose2d(_t(1, 3, 8, 8), _t(4, 2, 3, 3)), RuntimeError,
     r"Given transposed=1, weight of size \[4, 2, 3, 3\], expected input\[1, 3, 8, 8\] to have 4 channels"),
    (lambda: F.conv_transpose2d(_t(1, 4, 1, 1), _t(4, 2, 1, 1), padding=1), RuntimeError,
     "conv_transpose2d: computed output size"),
    (lambda: F.conv_transpose2d(_t(4, 8, 8), _t(4, 2, 3, 3), _t(3)), RuntimeError,
     r"expected bias to be 1-dimensional with 2 elements"),
    (lambda: F.unfold(_t(2, 3), 3), RuntimeError, r"Expected 3D \(unbatched\) or 4D \(batched\) input to unfold"),
    (lambda: F.unfold(_t(1, 1, 2, 2), 3), RuntimeError, "unfold: Calculated padded input size"),
    (lambda: F.unfold(_t(1, 1, 4, 4), 0), RuntimeError, "unfold: kernel size should be greater than zero"),
    (lambda: F.fold(_t(1, 12, 8), (4, 4), 2), RuntimeError, "fold: Given output_size=.*expected size of input's"),
    (lambda: F.fold(_t(1, 7, 9), (4, 4), 2), RuntimeError, "fold: Expected size of input's dimension 1"),
    (lambda: F.fold(_t(7, 9, 1, 1), (4, 4), 2), RuntimeError, "to fold"),
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels must be divisible by groups"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError, "out_channels must be divisible by groups"),
    (lambda: nn.Conv2d(4, 4, 3, groups=0), ValueError, "groups must be a positive integer"),
    (lambda: nn.Conv2d(4, 4, 3, stride=2, padding="same"), ValueError,
     "padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv2d(4, 4, 3, padding="full"), ValueError, "Invalid padding string 'full'"),
    (lambda: nn.Conv2d(4, 4, 3, padding_mode="foo"), ValueError, "padding_mode must be one of"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, padding="same"), ValueError, "not supported for ConvTranspose2d"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, padding_mode="reflect"), ValueError, 'Only "zeros" padding mode'),
    (lambda: nn.ConvTranspose2d(2, 3, 3, stride=2)(_t(1, 2, 4, 4), output_size=(20, 20)), ValueError,
     "requested an output size of"),
])
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


@pytest.mark.parametrize("groups", [1, 3])
def test_empty_batch(groups):
    x = ember.zeros(0, 3, 5, 5).requires_grad_()
    w = ember.ones(6, 3 // groups, 3, 3).requires_grad_()
    b = ember.ones(6).requires_grad_()
    y = F.conv2d(x, w, b, padding=1, groups=groups)
    assert tuple(y.shape) == (0, 6, 5, 5)
    y.sum().backward()
    assert tuple(x.grad.shape) == (0, 3, 5, 5)
    assert np.all(w.grad.numpy() == 0) and np.all(b.grad.numpy() == 0)


# --- direct convolution for few channels (cpp/src/backend/cpu/conv_small.cpp) -------------------
# Shapes the router sends to the direct kernels (stride 1, groups 1, few channels): odd widths hit
# the partial last vector of a row (28, 14, 7, 5, 3 ...), kernels up to 5 and every padding < k.
# (N, C, H, W), O, kernel, padding
SMALL_CONV = [
    ((4, 1, 28, 28), 6, 5, 2),        # LeNet conv1
    ((3, 6, 14, 14), 16, 5, 0),       # LeNet conv2
    ((5, 3, 7, 7), 6, 3, 1),
    ((1, 2, 5, 5), 4, 3, 0),          # N = 1, 3 x 3 output
    ((3, 6, 9, 5), 16, 5, 2),
    ((2, 16, 8, 8), 6, 3, 1),
    ((3, 1, 6, 11), 1, 3, 2),         # one channel in and out
    ((5, 4, 17, 33), 8, (2, 3), (1, 0)),
    ((2, 3, 12, 10), 5, (5, 1), (4, 0)),
    # input gradient by rows (the gradient rows fill whole vectors): 3, 2, 5 and 7 taps wide
    ((2, 3, 18, 18), 6, 3, 0),
    ((3, 4, 12, 16), 7, (4, 2), 0),
    ((2, 3, 10, 32), 6, 5, 2),
    ((2, 3, 10, 22), 6, (1, 7), 0),
]


def _small_conv_run(lib, x, w, b, g, padding):
    X, Wt, B = (lib.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    y = lib.nn.functional.conv2d(X, Wt, B, padding=padding)
    y.backward(lib.from_numpy(g.copy()))
    return [y.detach().numpy(), X.grad.numpy(), Wt.grad.numpy(), B.grad.numpy()]


def _small_conv_case(shape, oc, k, p, dtype, seed=5):
    rng = np.random.default_rng(seed)
    kh, kw = (k, k) if isinstance(k, int) else k
    ph, pw = (p, p) if isinstance(p, int) else p
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((oc, shape[1], kh, kw)).astype(dtype)
    b = rng.standard_normal(oc).astype(dtype)
    out = (shape[0], oc, shape[2] + 2 * ph - kh + 1, shape[3] + 2 * pw - kw + 1)
    g = rng.standard_normal(out).astype(dtype)
    return x, w, b, g


def _assert_close_scaled(got, want, tol, names=("y", "dx", "dw", "db")):
    for a, e, n in zip(got, want, names):
        assert a.shape == e.shape, n
        np.testing.assert_allclose(a, e, rtol=tol, atol=tol * max(1.0, float(np.abs(e).max())), err_msg=n)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,oc,k,p", SMALL_CONV)
def test_small_conv_matches_torch(shape, oc, k, p, dtype, threads):
    x, w, b, g = _small_conv_case(shape, oc, k, p, dtype)
    old = ember.get_num_threads()
    try:
        ember.set_num_threads(threads)
        got = _small_conv_run(ember, x, w, b, g, p)
    finally:
        ember.set_num_threads(old)
    want = _small_conv_run(torch, x, w, b, g, p)
    _assert_close_scaled(got, want, 1e-5 if dtype == "float32" else 1e-11)


@pytest.mark.parametrize("shape,oc,k,p", [SMALL_CONV[0], SMALL_CONV[1], SMALL_CONV[7]])
def test_small_conv_threads_agree(shape, oc, k, p):
    """Batch chunks of the weight gradient: 1, 2 and 3 threads (N not a multiple) agree."""
    x, w, b, g = _small_conv_case(shape, oc, k, p, "float64", seed=6)
    old = ember.get_num_threads()
    res = []
    try:
        for t in (1, 2, 3):
            ember.set_num_threads(t)
            res.append(_small_conv_run(ember, x, w, b, g, p))
    finally:
        ember.set_num_threads(old)
    for other in res[1:]:
        _assert_close_scaled(other, res[0], 1e-12)


@pytest.mark.parametrize("isa", ["base", "avx2"])
def test_small_conv_isa_fallbacks(isa):
    """Below AVX-512 the router keeps these shapes on the im2col + GEMM path: with the ISA capped by
    EMBER_ISA, results must still match torch."""
    import os
    import subprocess
    import sys
    code = f"""
import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import ember, numpy as np, torch
import test_conv as T
assert ember._C._cpu_isa() == {isa!r}, ember._C._cpu_isa()
for dtype in ("float32", "float64"):
    for threads in (1, 2):
        ember.set_num_threads(threads)
        for shape, oc, k, p in T.SMALL_CONV:
            x, w, b, g = T._small_conv_case(shape, oc, k, p, dtype)
            got = T._small_conv_run(ember, x, w, b, g, p)
            want = T._small_conv_run(torch, x, w, b, g, p)
            T._assert_close_scaled(got, want, 1e-5 if dtype == "float32" else 1e-11)
print("ok")
"""
    env = dict(os.environ, EMBER_ISA=isa)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]


@pytest.mark.parametrize("shape,oc,k,p", [
    ((2, 1, 6, 5), 3, 3, 1),
    ((1, 3, 5, 7), 2, (2, 3), (1, 2)),
    ((2, 2, 4, 4), 4, 5, 2),
])
def test_small_conv_gradcheck(shape, oc, k, p):
    x, w, b, _ = _small_conv_case(shape, oc, k, p, "float64", seed=7)
    xs, ws, bs = (ember.from_numpy(a).requires_grad_() for a in (x, w, b))
    assert ember.autograd.gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=p), (xs, ws, bs))


@requires_torch
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("cls,shape,kw", [
    ("Conv2d", (2, 3, 9, 8), {"kernel_size": 3, "padding": 1}),
    ("Conv2d", (2, 3, 9, 8), {"kernel_size": (3, 5), "padding": (2, 1), "stride": 2}),
    ("Conv2d", (2, 3, 9, 8), {"kernel_size": 4, "padding": "same", "dilation": (1, 2)}),
    ("Conv2d", (3, 9, 8), {"kernel_size": 3, "padding": 1}),  # unbatched
    ("Conv1d", (2, 3, 11), {"kernel_size": 5, "padding": 2}),
    ("Conv1d", (2, 3, 11), {"kernel_size": 4, "padding": "same"}),
])
def test_conv_padding_modes_match_torch(mode, cls, shape, kw):
    # torch pads by the mode (F.pad with the reversed, repeated padding; 'same' puts the odd
    # element on the right) and convolves without padding
    rng = np.random.default_rng(21)
    x = rng.standard_normal(shape)
    tm = getattr(torch.nn, cls)(3, 4, padding_mode=mode, dtype=torch.float64, **kw)
    em = getattr(nn, cls)(3, 4, padding_mode=mode, dtype=ember.float64, **kw)
    em.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})
    assert em._reversed_padding_repeated_twice == tm._reversed_padding_repeated_twice
    assert repr(em) == repr(tm)
    xe, xt = ember.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
    ye, yt = em(xe), tm(xt)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(tuple(yt.shape))
    ye.backward(ember.from_numpy(g.copy()))
    yt.backward(torch.from_numpy(g.copy()))
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(em.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-12, atol=1e-12)

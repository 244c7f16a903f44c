"""Fused ops and the module pairs nn.Sequential fuses: conv2d(..., relu=True) must give relu(conv2d)
and max_pool2d(..., relu=True) max_pool2d(relu) bit for bit (values, indices and every gradient)
on each kernel's path, match torch, pass float64 gradcheck and double backward; Sequential fuses
only hook-free Conv2d + ReLU and ReLU + MaxPool2d pairs."""
import os
import subprocess
import sys

import ember
import numpy as np
import pytest
from conftest import requires_torch, torch
from ember import _C, nn

# (input shape, weight shape, stride, padding, groups): one or more geometries per forward kernel
# (which one runs depends on the shape; EMBER_TRACE_PARALLEL builds name them)
CASES = [
    ((4, 1, 28, 28), (6, 1, 5, 5), 1, 2, 1),       # direct small-channel kernel (conv_small)
    ((2, 5, 7, 7), (3, 5, 2, 2), 1, 0, 1),         # conv_small, odd sizes
    ((2, 8, 13, 13), (16, 8, 1, 1), 1, 0, 1),      # conv_small, 1x1
    ((4, 6, 14, 14), (16, 6, 5, 5), 1, 0, 1),      # channel-vectorised (conv_chan), one vector
    ((2, 16, 14, 14), (32, 16, 5, 5), 1, 0, 1),    # conv_chan, two vectors
    ((2, 8, 6, 6), (20, 8, 3, 3), 1, 1, 1),        # conv_chan, partial last vector
    ((3, 3, 32, 32), (64, 3, 3, 3), 1, 1, 1),      # implicit GEMM (conv_igemm)
    ((3, 16, 28, 28), (32, 16, 3, 3), 1, 1, 1),    # conv_igemm
    ((3, 32, 16, 16), (32, 32, 3, 3), 1, 1, 1),    # Winograd F(2x2, 3x3)
    ((8, 16, 4, 4), (32, 16, 3, 3), 1, 1, 1),      # Winograd, small planes
    ((2, 32, 7, 7), (32, 32, 3, 3), 1, 1, 1),      # Winograd, odd output (clipped tiles)
    ((2, 4, 9, 9), (4, 1, 3, 3), 1, 1, 4),         # depthwise
    ((2, 8, 12, 12), (16, 4, 3, 3), 1, 1, 2),      # grouped: im2col + GEMM (forward_impl)
    ((2, 32, 32, 32), (64, 32, 3, 3), 2, 1, 1),    # strided, per image (forward_impl)
    ((4, 64, 8, 8), (128, 64, 3, 3), 2, 1, 1),     # small planes folded over images, packed
    ((4, 32, 9, 9), (64, 32, 3, 3), 2, 0, 1),      # folded, gathered columns
]
IDS = [f"{x}-{w}-s{s}" for x, w, s, _, _ in CASES]


def _data(xs, ws, dtype, bias, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(xs).astype(dtype)
    w = (rng.standard_normal(ws) / np.sqrt(np.prod(ws[1:]))).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype) if bias else None
    return x, w, b


def _run(x, w, b, s, p, groups, fused, g=None):
    """ember: (y, grads of x, w[, b]) for relu(conv2d) fused or not."""
    xt, wt = ember.from_numpy(x.copy()).requires_grad_(), ember.from_numpy(w.copy()).requires_grad_()
    bt = None if b is None else ember.from_numpy(b.copy()).requires_grad_()
    if fused:
        y = _C.conv2d(xt, wt, bt, s, p, 1, groups, relu=True)
    else:
        y = ember.relu(_C.conv2d(xt, wt, bt, s, p, 1, groups))
    if g is None:
        g = np.cos(np.arange(y.numel(), dtype=x.dtype)).reshape(tuple(y.shape))
    y.backward(ember.from_numpy(g.copy()))
    grads = [xt.grad, wt.grad] + ([] if bt is None else [bt.grad])
    return [y.detach().numpy()] + [t.numpy() for t in grads]


def _bitwise_equal(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.shape == v.shape
        assert np.array_equal(u.view(np.uint8), v.view(np.uint8))  # NaN payloads and -0 too


@pytest.fixture(params=[1, 2], ids=["threads1", "threads2"])
def threads(request):
    """Run the test with Ember at 1 and at 2 threads (restored after)."""
    old = ember.get_num_threads()
    ember.set_num_threads(request.param)
    yield request.param
    ember.set_num_threads(old)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ws,s,p,groups", CASES, ids=IDS)
def test_conv2d_relu_is_relu_of_conv2d(xs, ws, s, p, groups, dtype, bias, threads):
    x, w, b = _data(xs, ws, dtype, bias)
    fused = _run(x, w, b, s, p, groups, True)
    _bitwise_equal(fused, _run(x, w, b, s, p, groups, False))
    assert (fused[0] == 0).any() and (fused[0] > 0).any()  # the clamp did something


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ws,s,p,groups", CASES, ids=IDS)
def test_conv2d_relu_matches_torch(xs, ws, s, p, groups, dtype):
    x, w, b = _data(xs, ws, dtype, True, seed=1)
    got = _run(x, w, b, s, p, groups, True)
    xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
    y = torch.relu(torch.nn.functional.conv2d(xt, wt, bt, s, p, 1, groups))
    y.backward(torch.from_numpy(np.cos(np.arange(y.numel(), dtype=dtype)).reshape(tuple(y.shape))))
    want = [y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()]
    tol = 2e-4 if dtype == "float32" else 1e-10
    for name, u, v in zip(["y", "x.grad", "w.grad", "b.grad"], got, want):
        scale = max(1.0, float(np.abs(v).max()))
        np.testing.assert_allclose(u, v, rtol=tol, atol=tol * scale, err_msg=name)


@pytest.mark.parametrize("xs,ws,s,p,groups", [CASES[0], CASES[3], CASES[6], CASES[8], CASES[11],
                                              CASES[12], CASES[14]], ids=lambda v: str(v))
def test_conv2d_relu_nan_and_signed_zero(xs, ws, s, p, groups):
    """torch's relu keeps NaN and -0; the fused epilogue must too (vmaxps operand order), and the
    gradient is zero at both."""
    for dtype in ("float32", "float64"):
        x, w, _ = _data(xs, ws, dtype, False, seed=2)
        x[0] = 0.0  # image 0: every product is +-0, and with these weights some sums are -0
        w[: ws[0] // 2] = -np.abs(w[: ws[0] // 2])
        x[-1, 0, 0, 0] = np.nan  # the last image: NaN in the outputs it reaches
        fused = _run(x, w, None, s, p, groups, True)
        _bitwise_equal(fused, _run(x, w, None, s, p, groups, False))
        assert np.isnan(fused[0][-1]).any()


def test_relu_keeps_nan_and_signed_zero():
    x = ember.tensor([-0.0, 0.0, -1.5, 2.0, float("nan"), float("-inf")])
    y = ember.relu(x).numpy()
    assert list(np.signbit(y[:4])) == [True, False, False, False]
    assert np.isnan(y[4]) and y[5] == 0 and y[2] == 0


@requires_torch
def test_relu_backward_is_torchs_threshold_backward():
    """0 (+0) where the output is <= 0 whatever the gradient (NaN, negative), the gradient where it
    is positive or NaN: the fused ops' masks are this same function."""
    xs = [-1.0, 0.0, -0.0, float("nan"), 2.0, -3.0]
    gs = [-1.0, -2.0, float("nan"), 3.0, float("nan"), float("-inf")]
    got = []
    for lib in (ember, torch):
        x = lib.tensor(xs, requires_grad=True)
        lib.relu(x).backward(lib.tensor(gs))
        got.append(x.grad.numpy())
    _bitwise_equal(got[:1], got[1:])


def test_conv2d_relu_gradcheck():
    rng = np.random.default_rng(3)
    x = ember.from_numpy(rng.standard_normal((2, 3, 5, 6))).requires_grad_()
    w = ember.from_numpy(rng.standard_normal((4, 3, 3, 3))).requires_grad_()
    b = ember.from_numpy(rng.standard_normal(4)).requires_grad_()
    fn = lambda x, w, b: _C.conv2d(x, w, b, 1, 1, 1, 1, relu=True)  # noqa: E731
    assert ember.autograd.gradcheck(fn, (x, w, b))


@requires_torch
def test_conv2d_relu_double_backward_matches_torch():
    rng = np.random.default_rng(4)
    xs, ws, bs = rng.standard_normal((2, 3, 6, 7)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    res = []
    for lib in (ember, torch):
        x, w, b = (lib.from_numpy(a.copy()).requires_grad_() for a in (xs, ws, bs))
        if lib is ember:
            y = _C.conv2d(x, w, b, 1, 1, 1, 1, relu=True)
        else:
            y = torch.relu(torch.nn.functional.conv2d(x, w, b, 1, 1))
        gx, gw, gb = lib.autograd.grad((y * y).sum(), (x, w, b), create_graph=True)
        (gx.pow(2).sum() + (gw * gw.sin()).sum() + gb.sum() * 0.5).backward()
        res.append([t.detach().numpy() for t in (y, gx, gw, gb, x.grad, w.grad, b.grad)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_conv2d_relu_no_grad_and_unbatched():
    x, w, b = _data((3, 9, 9), (5, 3, 3, 3), "float32", True)
    with ember.no_grad():
        y = _C.conv2d(ember.from_numpy(x), ember.from_numpy(w), ember.from_numpy(b), 1, 1, relu=True)
    assert y.grad_fn is None and tuple(y.shape) == (5, 9, 9)
    want = ember.relu(_C.conv2d(ember.from_numpy(x), ember.from_numpy(w), ember.from_numpy(b), 1, 1))
    _bitwise_equal([y.numpy()], [want.numpy()])


# --- max_pool2d of relu(x) ----------------------------------------------------------------------
# (input shape, kernel, stride, padding, dilation, ceil_mode): the 2x2 kernels (rows of at most
# 16 outputs in one masked step, wider rows, odd sizes) and the general one
POOLS = [
    ((4, 6, 28, 28), 2, 2, 0, 1, False),    # rows of 14 outputs
    ((2, 3, 64, 70), 2, 2, 0, 1, False),    # rows of 35: the 16-wide loop and its remainder
    ((2, 5, 11, 9), 2, 2, 0, 1, False),     # odd planes: the last row and column dropped
    ((2, 4, 13, 12), 3, 2, 1, 1, False),    # general windows
    ((2, 4, 12, 13), 2, 2, 0, 1, True),     # ceil_mode: clipped windows
    ((2, 3, 15, 15), 3, 1, 1, 2, False),    # dilation, overlapping windows
]
POOL_IDS = [f"{s}-k{k}s{st}p{p}d{d}{'c' if c else ''}" for s, k, st, p, d, c in POOLS]


def _pool_run(x, k, st, p, d, ceil, fused, g=None):
    xt = ember.from_numpy(x.copy()).requires_grad_()
    if fused:
        y, idx = _C._max_pool2d_with_indices(xt, [k, k], [st, st], [p, p], [d, d], ceil, True, relu=True)
    else:
        y, idx = _C._max_pool2d_with_indices(ember.relu(xt), [k, k], [st, st], [p, p], [d, d], ceil, True)
    if g is None:
        g = np.cos(np.arange(y.numel(), dtype=x.dtype)).reshape(tuple(y.shape))
    y.backward(ember.from_numpy(g.copy()))
    # without indices the 2x2 kernels keep window positions: run that path too
    y2 = _C._max_pool2d_with_indices(ember.from_numpy(x.copy()), [k, k], [st, st], [p, p], [d, d], ceil, False,
                                     relu=True)
    return [y.detach().numpy(), idx.numpy(), xt.grad.numpy(), y2.numpy()]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,k,st,p,d,ceil", POOLS, ids=POOL_IDS)
def test_max_pool2d_relu_is_pool_of_relu(shape, k, st, p, d, ceil, dtype, threads):
    x = np.random.default_rng(6).standard_normal(shape).astype(dtype)
    x[0, 0] = -np.abs(x[0, 0])  # a plane without a positive value: ties of zeros
    x[0, 1, :4, :4] = -0.0
    x[-1, -1, 1, 1] = np.nan
    fused = _pool_run(x, k, st, p, d, ceil, True)
    plain = _pool_run(x, k, st, p, d, ceil, False)
    _bitwise_equal(fused[:3], plain[:3])
    _bitwise_equal(fused[3:], plain[:1])


@requires_torch
def test_max_pool2d_relu_double_backward_matches_torch():
    xs = np.random.default_rng(7).standard_normal((2, 3, 8, 9))
    res = []
    for lib in (ember, torch):
        x = lib.from_numpy(xs.copy()).requires_grad_()
        if lib is ember:
            y = nn.functional.max_pool2d_with_indices(x, 2, return_indices=False, _relu=True)
        else:
            y = torch.nn.functional.max_pool2d(torch.relu(x), 2)
        (gx,) = lib.autograd.grad((y * y * y).sum(), (x,), create_graph=True)
        (gx * gx).sum().backward()
        res.append([t.detach().numpy() for t in (y, gx, x.grad)])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# --- nn.Sequential ------------------------------------------------------------------------------
def _cnn():
    ember.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 16, 3), nn.ReLU(inplace=True), nn.Conv2d(16, 8, 3), nn.Tanh(),
                         nn.Flatten(), nn.Linear(8 * 8 * 8, 10), nn.ReLU(), nn.Linear(10, 3))


def _step(model, x, fuse, monkeypatch):
    monkeypatch.setattr(nn.Sequential, "_fuse", fuse)
    for p in model.parameters():
        p.grad = None
    y = model(x)
    (y * y).sum().backward()
    return y, [y.detach().numpy()] + [p.grad.numpy() for p in model.parameters()]


def _fns(t):
    """The names of the autograd nodes behind t (breadth first)."""
    seen, todo, names, alive = set(), [t.grad_fn], [], []
    while todo:
        f = todo.pop(0)
        if f is None or id(f) in seen:
            continue
        alive.append(f)  # node wrappers are made per access: keep each alive so ids stay unique
        seen.add(id(f))
        names.append(f.name())
        todo.extend(n for n, _ in f.next_functions)
    return names


def test_sequential_fuses_conv_relu(monkeypatch):
    model = _cnn()
    x = ember.randn(4, 1, 24, 24)
    y1, fused = _step(model, x, True, monkeypatch)
    y0, plain = _step(model, x, False, monkeypatch)
    _bitwise_equal(fused, plain)
    # Conv2d, ReLU, MaxPool2d: the ReLU goes into the pooling; Conv2d, ReLU, Conv2d: into the first
    # convolution; Conv2d, Tanh and Linear, ReLU stay apart
    names = _fns(y1)
    assert names.count("ConvolutionReluBackward0") == 1 and names.count("ReluMaxPool2DWithIndicesBackward0") == 1
    assert names.count("ReluBackward0") == 1
    names = _fns(y0)
    assert "ConvolutionReluBackward0" not in names and "ReluMaxPool2DWithIndicesBackward0" not in names
    assert names.count("ReluBackward0") == 3


def test_sequential_does_not_fuse_around_hooks(monkeypatch):
    model = _cnn()
    x = ember.randn(2, 1, 24, 24)
    seen = []
    h = model[1].register_forward_hook(lambda m, i, o: seen.append(o.grad_fn.name()))
    y = model(x)
    assert seen == ["ReluBackward0"] and _fns(y).count("ConvolutionReluBackward0") == 1
    assert "ReluMaxPool2DWithIndicesBackward0" not in _fns(y)
    h.remove()
    h = model[2].register_forward_pre_hook(lambda m, i: (i[0] * 2,))  # the MaxPool2d: Conv2d + ReLU
    y2, fused = _step(model, x, True, monkeypatch)
    assert _fns(y2).count("ConvolutionReluBackward0") == 2
    y3, plain = _step(model, x, False, monkeypatch)
    _bitwise_equal(fused, plain)  # the hook ran either way
    h.remove()


def test_sequential_fusion_needs_exact_types_and_zero_padding(monkeypatch):
    class MyConv(nn.Conv2d):
        def forward(self, input):
            return super().forward(input) + 1.0

    class MyReLU(nn.ReLU):
        def forward(self, input):
            return super().forward(input) * 2.0

    ember.manual_seed(0)
    x = ember.randn(2, 2, 7, 7)
    class MyPool(nn.MaxPool2d):
        def forward(self, input):
            return super().forward(input) - 1.0

    for mods in ([MyConv(2, 3, 3), nn.ReLU()], [nn.Conv2d(2, 3, 3), MyReLU()],
                 [nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), nn.ReLU()],
                 [nn.Identity(), MyReLU(), nn.MaxPool2d(2)], [nn.Identity(), nn.ReLU(), MyPool(2)],
                 [nn.Identity(), nn.ReLU(), nn.MaxPool2d(2, return_indices=True)]):
        model = nn.Sequential(*mods)
        y = model(x)
        want = mods[2](mods[1](mods[0](x))) if len(mods) == 3 else mods[1](mods[0](x))
        if isinstance(y, tuple):
            y, want = y[0], want[0]
        assert not {"ConvolutionReluBackward0", "ReluMaxPool2DWithIndicesBackward0"} & set(_fns(y))
        _bitwise_equal([y.detach().numpy()], [want.detach().numpy()])


def test_sequential_inplace_relu_still_clamps_what_the_caller_sees():
    """ReLU(inplace=True) clamps its input in place; fused into a pooling it would not. So it is fused
    only after a module whose output is fresh (here the Conv2d), not on the Sequential's input."""
    ember.manual_seed(0)
    x = ember.randn(2, 3, 8, 8)
    x0 = x.numpy().copy()
    model = nn.Sequential(nn.ReLU(inplace=True), nn.MaxPool2d(2))
    y = model(x)
    np.testing.assert_array_equal(x.numpy(), np.maximum(x0, 0))
    x = ember.from_numpy(x0.copy())
    model = nn.Sequential(nn.Identity(), nn.ReLU(inplace=True), nn.MaxPool2d(2))
    model(x)
    np.testing.assert_array_equal(x.numpy(), np.maximum(x0, 0))
    conv = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2))
    x = ember.from_numpy(x0.copy())
    y = conv(x)
    assert _fns(y)[0] == "ReluMaxPool2DWithIndicesBackward0"
    np.testing.assert_array_equal(x.numpy(), x0)  # the input untouched, as without fusion


def test_sequential_trailing_conv_and_nesting(monkeypatch):
    ember.manual_seed(0)
    inner = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU())
    model = nn.Sequential(inner, nn.Conv2d(3, 4, 3))  # the last Conv2d has no ReLU after it
    x = ember.randn(2, 2, 9, 9)
    y = model(x)
    assert _fns(y)[:2] == ["ConvolutionBackward0", "ConvolutionReluBackward0"]
    monkeypatch.setattr(nn.Sequential, "_fuse", False)
    _bitwise_equal([y.detach().numpy()], [model(x).detach().numpy()])


@requires_torch
def test_sequential_training_matches_torch():
    """A few SGD steps of a fused CNN against torch with the same weights."""
    def build(L):
        n = L.nn
        return n.Sequential(n.Conv2d(3, 8, 3, padding=1), n.ReLU(), n.MaxPool2d(2), n.Conv2d(8, 8, 3),
                            n.ReLU(), n.Flatten(), n.Linear(8 * 6 * 6, 5))
    torch.manual_seed(0)
    t = build(torch).double()
    e = build(ember).double()
    e.load_state_dict({k: v.detach().numpy().copy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(5)
    xs, ys = rng.standard_normal((6, 3, 16, 16)), rng.integers(0, 5, 6)
    outs = []
    for lib, m in ((ember, e), (torch, t)):
        opt = lib.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        x, y = lib.from_numpy(xs.copy()), lib.from_numpy(ys.copy())
        for _ in range(3):
            opt.zero_grad()
            loss = lib.nn.functional.cross_entropy(m(x), y)
            loss.backward()
            opt.step()
        outs.append([loss.item()] + [p.detach().numpy() for p in m.parameters()])
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("isa", ["base", "avx2"])
def test_fused_relu_isa_fallbacks(isa):
    """Below AVX-512 other kernels (conv_chan's and the pooling's AVX2 builds) run: still exact."""
    code = f"""
import sys; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import ember
import test_fusion as T
assert ember._C._cpu_isa() == {isa!r}, ember._C._cpu_isa()
for threads in (1, 2):
    ember.set_num_threads(threads)
    for xs, ws, s, p, groups in T.CASES:
        for bias in (True, False):
            x, w, b = T._data(xs, ws, "float32", bias)
            T._bitwise_equal(T._run(x, w, b, s, p, groups, True), T._run(x, w, b, s, p, groups, False))
    for shape, k, st, p, d, ceil in T.POOLS:
        x = T.np.random.default_rng(6).standard_normal(shape).astype("float32")
        x[0, 1, :4, :4] = -0.0
        x[-1, -1, 1, 1] = float("nan")
        fused, plain = T._pool_run(x, k, st, p, d, ceil, True), T._pool_run(x, k, st, p, d, ceil, False)
        T._bitwise_equal(fused[:3], plain[:3])
        T._bitwise_equal(fused[3:], plain[:1])
print("ok")
"""
    env = dict(os.environ, EMBER_ISA=isa)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-3000:]

"""Autograd semantics: accumulation, grad modes, graph freeing, version counter, deep graphs,
double backward, hooks, in-place writes (also through views), compared with torch where it
matters."""
import numpy as np
import pytest

import ember
from conftest import requires_torch, torch


def t(data, requires_grad=False, dtype=np.float64):
    x = ember.from_numpy(np.array(data, dtype=dtype))
    return x.requires_grad_(requires_grad) if requires_grad else x


def npg(x):
    return x.grad.numpy()


def test_leaf_and_grad_fn():
    x = t([1.0, 2.0], True)
    y = x * 2
    assert x.is_leaf and not y.is_leaf
    assert x.grad_fn is None
    assert y.grad_fn.name() == "MulBackward0"
    assert "MulBackward0" in repr(y.grad_fn)
    assert y.requires_grad and not t([1.0]).requires_grad
    nf = y.grad_fn.next_functions
    assert nf[0][0].name() == "AccumulateGrad" and nf[1][0] is None


def test_grad_accumulates_across_backward_calls():
    x = t([1.0, 2.0, 3.0], True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(npg(x), 2 * np.array([1, 2, 3]) + 3)


def test_reused_input_accumulates():
    x = t([2.0], True)
    y = x * x * x + x  # x used four times
    y.backward()
    np.testing.assert_allclose(npg(x), [3 * 4 + 1])


def test_non_scalar_backward_needs_gradient():
    x = t([1.0, 2.0], True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(t([1.0, 1.0]))
    np.testing.assert_allclose(npg(x), [2, 2])


def test_backward_gradient_shape_mismatch():
    x = t([1.0, 2.0], True)
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(t([1.0, 1.0, 1.0]))


def test_backward_on_tensor_without_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        t([1.0]).sum().backward()


def test_no_grad_and_enable_grad():
    x = t([1.0], True)
    with ember.no_grad():
        y = x * 2
        with ember.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad
    assert ember.is_grad_enabled()


def test_no_grad_decorator_and_set_grad_enabled():
    x = t([1.0], True)

    @ember.no_grad()
    def f(a):
        return a * 2

    assert not f(x).requires_grad
    with ember.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert ember.is_grad_enabled()
    ember.set_grad_enabled(False)
    assert not ember.is_grad_enabled()
    ember.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_graph_freed_after_backward():
    x = t([1.0, 2.0], True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = t([1.0, 2.0], True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    g1 = npg(x).copy()
    y.backward()
    np.testing.assert_allclose(npg(x), 2 * g1)


def test_version_counter_detects_inplace_modification():
    x = t([1.0, 2.0], True)
    y = x * 2
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_inplace_on_leaf_requiring_grad_is_an_error():
    x = t([1.0], True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with ember.no_grad():
        x.add_(1)  # allowed: how optimizers update parameters
    np.testing.assert_allclose(x.detach().numpy(), [2.0])
    assert x._version == 1


def test_deep_graph_iterative():
    x = t([1.0], True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    np.testing.assert_allclose(npg(x), [1.0])
    del y  # freeing a 100k-long chain must not overflow the stack either


def test_deep_graph_with_saved_tensors_freed():
    x = t([1.0], True)
    y = x
    for _ in range(100_000):
        y = y * y
    del y


def test_autograd_grad_does_not_touch_dot_grad():
    x = t([1.0, 2.0], True)
    w = t([3.0, 4.0], True)
    (gx,) = ember.autograd.grad((x * w).sum(), x)
    np.testing.assert_allclose(gx.numpy(), [3, 4])
    assert x.grad is None and w.grad is None


def test_autograd_grad_allow_unused():
    x, y = t([1.0], True), t([1.0], True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        ember.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = ember.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and gx.numpy()[0] == 2


def test_autograd_grad_of_non_leaf():
    x = t([1.0, 2.0], True)
    h = x * 3
    out = (h * h).sum()
    (gh,) = ember.autograd.grad(out, h)
    np.testing.assert_allclose(gh.numpy(), 2 * np.array([3.0, 6.0]))


def test_backward_inputs_limits_accumulation():
    x, y = t([1.0], True), t([2.0], True)
    (x * y).backward(inputs=[x])
    assert y.grad is None and npg(x)[0] == 2.0


def test_retain_grad_on_non_leaf():
    x = t([1.0, 2.0], True)
    h = x * 2
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [4.0, 8.0])


def test_non_leaf_grad_is_none_without_retain():
    x = t([1.0], True)
    h = x * 2
    h.sum().backward()
    assert h.grad is None


def test_hooks_modify_gradient_and_can_be_removed():
    x = t([1.0, 2.0], True)
    h = x * 2
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    leaf_handle = x.register_hook(lambda g: g + 1)
    h.sum().backward()
    np.testing.assert_allclose(seen[0], [1, 1])
    np.testing.assert_allclose(npg(x), [21, 21])
    handle.remove()
    leaf_handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(npg(x), [2, 2])


def test_requires_grad_only_on_leaves_and_floats():
    x = t([1.0], True)
    with pytest.raises(RuntimeError, match="leaf"):
        (x * 2).requires_grad_(False)
    with pytest.raises(RuntimeError, match="floating point"):
        ember.arange(3).requires_grad_()


def test_detach_shares_storage_and_leaves_graph():
    x = t([1.0, 2.0], True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    x2 = x.detach()
    x2.numpy()[0] = 5.0
    assert x.detach().numpy()[0] == 5.0


def test_grad_setter_validates():
    x = t([1.0, 2.0], True)
    x.grad = t([0.5, 0.5])
    with pytest.raises(RuntimeError, match="different size"):
        x.grad = t([1.0])
    x.grad = None
    assert x.grad is None


def test_int_tensors_do_not_get_grad_nodes():
    x = t([1.0], True)
    i = ember.arange(3)
    assert not (i * 2).requires_grad
    assert not (x > 0).requires_grad


def test_broadcast_gradient_is_summed():
    x = t(np.ones((3, 1)), True)
    y = t(np.ones((1, 4)), True)
    (x * y * 2).sum().backward()
    np.testing.assert_allclose(npg(x), np.full((3, 1), 8.0))
    np.testing.assert_allclose(npg(y), np.full((1, 4), 6.0))


def test_zero_dim_scalar_promotion():
    i = ember.arange(3)
    assert (i * 2).dtype == ember.int64
    assert (i * 2.5).dtype == ember.float32
    f = ember.ones(2, dtype=ember.float32)
    assert (f * 2.5).dtype == ember.float32
    d = ember.ones(2, dtype=ember.float64)
    assert (f + d).dtype == ember.float64
    assert (ember.ones(2, dtype=ember.int32) + 5).dtype == ember.int32
    assert (i / 2).dtype == ember.float32
    assert (ember.ones(2, dtype=ember.bool) + 1).dtype == ember.int64


# --- double backward ------------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("name,f", [
    ("exp_mul", lambda L, x: (L.exp(x) * x).sum()),
    ("tanh", lambda L, x: L.tanh(x).pow(2).sum()),
    ("sigmoid_div", lambda L, x: (L.sigmoid(x) / (x * x + 1)).sum()),
    ("log_sqrt", lambda L, x: (L.log(x * x + 1) * L.sqrt(x * x + 2)).mean()),
    ("sin_cos", lambda L, x: (L.sin(x) * L.cos(x)).sum()),
    ("pow", lambda L, x: (x ** 3).sum()),
    ("mean_dim", lambda L, x: (x * x).mean(0).pow(2).sum()),
])
def test_double_backward_matches_torch(name, f):
    data = np.random.default_rng(3).uniform(-1, 1, (3, 2))
    xe = t(data, True)
    xt = torch.tensor(data, requires_grad=True)
    (ge,) = ember.autograd.grad(f(ember, xe), xe, create_graph=True)
    (gt,) = torch.autograd.grad(f(torch, xt), xt, create_graph=True)
    np.testing.assert_allclose(ge.detach().numpy(), gt.detach().numpy(), rtol=1e-10)
    assert ge.requires_grad
    (gge,) = ember.autograd.grad(ge.sum(), xe)
    (ggt,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(gge.numpy(), ggt.numpy(), rtol=1e-9, atol=1e-12)


def test_create_graph_backward_grad_is_differentiable():
    x = t([1.5], True)
    (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad
    np.testing.assert_allclose(g.detach().numpy(), [3 * 1.5 ** 2])
    (gg,) = ember.autograd.grad(g, x)
    np.testing.assert_allclose(gg.numpy(), [6 * 1.5])


# --- in-place under autograd ------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("name,f", [
    ("mul_", lambda L, x, w: (lambda h: (h.mul_(w), h.sum())[1])(x * 1)),
    ("add_then_use", lambda L, x, w: (lambda h: (h.add_(w * 2), (h * h).sum())[1])(x.sin())),
    ("div_", lambda L, x, w: (lambda h: (h.div_(w + 3), h.sum())[1])(x * x)),
    ("relu_", lambda L, x, w: (lambda h: (h.relu_(), (h * w).sum())[1])(x - 0.1)),
    ("view_mul_", lambda L, x, w: (lambda h: (h.view(3, 2).mul_(w.view(3, 2)), (h * w).sum())[1])(x * 1)),
    ("transpose_add_", lambda L, x, w: (lambda h: (h.transpose(0, 1).add_(w.transpose(0, 1) * x.transpose(0, 1)), (h * h).sum())[1])(x * 2)),
    ("copy_", lambda L, x, w: (lambda h: (h.copy_(w * w), (h * x).sum())[1])(L.zeros(2, 3, dtype=L.float64))),
    ("exp_", lambda L, x, w: (lambda h: (h.exp_(), (h * w).sum())[1])(x * 1)),
    ("sigmoid_", lambda L, x, w: (lambda h: (h.sigmoid_(), (h * w).sum())[1])(x * 1)),
])
def test_inplace_gradients_match_torch(name, f):
    rng = np.random.default_rng(5)
    xd, wd = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, (2, 3))
    xe, we = t(xd, True), t(wd, True)
    xt, wt = torch.tensor(xd, requires_grad=True), torch.tensor(wd, requires_grad=True)
    le, lt = f(ember, xe, we), f(torch, xt, wt)
    np.testing.assert_allclose(le.detach().numpy(), lt.detach().numpy(), rtol=1e-12)
    le.backward()
    lt.backward()
    np.testing.assert_allclose(npg(xe), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(npg(we), wt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_inplace_through_view_updates_base_history():
    x = t([1.0, 2.0, 3.0, 4.0], True)
    h = x * 1
    v = h.view(2, 2)  # a view of h
    v.mul_(t([[2.0, 2.0], [3.0, 3.0]]))  # writes through the view into h
    h.sum().backward()
    np.testing.assert_allclose(npg(x), [2, 2, 3, 3])
    assert h.grad_fn.name() == "CopySlices"


def test_inplace_view_of_leaf_is_an_error():
    x = t([1.0, 2.0], True)
    with pytest.raises(RuntimeError, match="view of a leaf Variable"):
        x.view(2).mul_(2)


def test_inplace_into_non_grad_tensor_from_grad_value():
    w = t([1.0, 2.0], True)
    buf = ember.zeros(2, dtype=ember.float64)
    buf.copy_(w * 3)
    assert buf.requires_grad and not buf.is_leaf
    buf.sum().backward()
    np.testing.assert_allclose(npg(w), [3, 3])


def test_inplace_dtype_rules():
    i = ember.arange(3)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(1.5)
    i.add_(2)
    np.testing.assert_array_equal(i.numpy(), [2, 3, 4])
    f = ember.ones(3)
    f.mul_(ember.arange(3))
    np.testing.assert_array_equal(f.numpy(), [0, 1, 2])
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        ember.ones(3).add_(ember.ones(2, 3))


def test_inplace_on_expanded_tensor_is_an_error():
    x = ember.ones(1, 3).expand(4, 3)
    with pytest.raises(RuntimeError, match="single memory location"):
        x.add_(1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_backward_fused_matches_formula(dtype):
    # Without create_graph relu's gradient is one fused pass; with it, the differentiable formula
    # where(y <= 0, 0, g). Both give torch's threshold_backward bits: +0 where y <= 0 (a NaN or
    # negative g included), g where y > 0 or y is NaN.
    xs = np.array([-2.0, -0.0, 0.0, 0.5, 3.0, np.nan, -1.0, 2.0], dtype=dtype)
    gs = np.array([1.5, -2.0, 3.0, -4.0, np.nan, 1.0, np.nan, -0.0], dtype=dtype)
    x = t(xs, True, dtype)
    ember.relu(x).backward(t(gs, dtype=dtype))
    fused = npg(x)
    x2 = t(xs, True, dtype)
    (gx,) = ember.autograd.grad(ember.relu(x2), x2, t(gs, dtype=dtype), create_graph=True)
    ys = np.where(xs < 0, dtype(0), xs)  # torch's relu: -0 and NaN stay
    expected = np.where(ys <= 0, dtype(0), gs).astype(dtype)
    assert fused.dtype == dtype
    np.testing.assert_array_equal(fused.view(np.uint8), expected.view(np.uint8))
    np.testing.assert_array_equal(gx.detach().numpy().view(np.uint8), expected.view(np.uint8))


@requires_torch
@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "sigmoid", "tanh"])
def test_activation_backward_fused_matches_formula(name):
    # float32 without create_graph: one fused pass (BinaryOp::*Backward); with it, the
    # differentiable formula. Both against torch, over both tails.
    import torch.nn.functional as TF
    EF = ember.nn.functional
    fe = {"gelu": EF.gelu, "gelu_tanh": lambda v: EF.gelu(v, approximate="tanh"), "silu": EF.silu,
          "sigmoid": ember.sigmoid, "tanh": ember.tanh}[name]
    ft = {"gelu": TF.gelu, "gelu_tanh": lambda v: TF.gelu(v, approximate="tanh"), "silu": TF.silu,
          "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name]
    rng = np.random.default_rng(0)
    xs = np.concatenate([np.linspace(-12, 12, 997), rng.standard_normal(1000) * 3]).astype(np.float32)
    gs = rng.standard_normal(xs.shape).astype(np.float32)
    x = t(xs, True, np.float32)
    fe(x).backward(t(gs, dtype=np.float32))
    fused = npg(x)
    x2 = t(xs, True, np.float32)
    (gx,) = ember.autograd.grad(fe(x2), x2, t(gs, dtype=np.float32), create_graph=True)
    # gelu_tanh: against float64, as torch's float32 1 - tanh^2 cancels (0 where the gradient is
    # -1.5e-6 at x = -5.09); ours (the sigmoid form) does not
    ref = np.float64 if name == "gelu_tanh" else np.float32
    xt = torch.from_numpy(xs.astype(ref)).requires_grad_(True)
    ft(xt).backward(torch.from_numpy(gs.astype(ref)))
    assert fused.dtype == np.float32
    # atol: gelu's Phi + x phi cancels near x = -2.4 (in torch's formula as in ours)
    np.testing.assert_allclose(fused, gx.detach().numpy(), rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(fused, xt.grad.numpy(), rtol=2e-6, atol=1e-6)


@requires_torch
def test_data_has_its_own_version_counter_and_detach_shares_it():
    out = []
    for L in (ember, torch):
        w = L.ones(3, requires_grad=True)
        y = (w * w).sum()
        d = w.data
        d.mul_(2)  # through .data: autograd does not see it (torch's rule), the gradient uses 2s
        y.backward()
        r = [w._version, d._version, w.grad.tolist(), w.detach().tolist()]
        v = L.ones(3, requires_grad=True)
        z = (v * v).sum()
        v.detach().mul_(2)  # through detach(): shared counter, backward must refuse
        try:
            z.backward()
            r.append("no error")
        except RuntimeError as e:
            r.append("modified by an inplace operation" in str(e))
        out.append(r)
    assert out[0] == out[1], out


# --- autograd.Function ---------------------------------------------------------------------------
class _Exp(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class _MulAdd(ember.autograd.Function):  # two outputs, a non-tensor argument
    @staticmethod
    def forward(ctx, a, b, k):
        ctx.save_for_backward(a, b)
        ctx.k = k
        return a * b * k, a + b

    @staticmethod
    def backward(ctx, g1, g2):
        a, b = ctx.saved_tensors
        return g1 * b * ctx.k + g2, g1 * a * ctx.k + g2, None


class _Cube(ember.autograd.Function):  # torch's newer style: forward without ctx, setup_context
    @staticmethod
    def forward(x):
        return x ** 3

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


def test_custom_function_gradients_and_double_backward():
    x = ember.from_numpy(np.random.default_rng(71).standard_normal((3, 4))).requires_grad_()
    y = _Exp.apply(x)
    assert y.grad_fn.name() == "_ExpBackward" and y.requires_grad
    assert ember.autograd.gradcheck(_Exp.apply, (x,))
    assert ember.autograd.gradcheck(_Cube.apply, (x,))

    def grad_of(t):  # backward's own ops are recorded under create_graph
        with ember.enable_grad():
            (g,) = ember.autograd.grad(_Cube.apply(t).sum(), t, create_graph=True)
        return g

    assert ember.autograd.gradcheck(grad_of, (x,))
    with ember.no_grad():
        assert _Exp.apply(x).grad_fn is None


@requires_torch
def test_custom_function_two_outputs_broadcast_and_unused_output():
    rng = np.random.default_rng(72)
    a0, b0 = rng.standard_normal((2, 3)), rng.standard_normal(3)
    a, b = ember.from_numpy(a0.copy()).requires_grad_(), ember.from_numpy(b0.copy()).requires_grad_()
    p, q = _MulAdd.apply(a, b, 2.0)
    (p.sum() + (q * q).sum()).backward()
    at, bt = torch.from_numpy(a0.copy()).requires_grad_(), torch.from_numpy(b0.copy()).requires_grad_()
    ((at * bt * 2).sum() + ((at + bt) ** 2).sum()).backward()
    # b's gradient came back with a's (2, 3) shape: summed to b's (3,) as torch does
    np.testing.assert_allclose(a.grad.numpy(), at.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), bt.grad.numpy(), rtol=1e-12)
    a.grad = b.grad = None
    p, _ = _MulAdd.apply(a, b, 2.0)
    p.sum().backward()  # the unused output's gradient arrives as zeros
    np.testing.assert_allclose(b.grad.numpy(), (a0 * 2).sum(0), rtol=1e-12)


def test_custom_function_errors():
    x = ember.randn(3, requires_grad=True)

    class Boom(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("boom")

    class WrongShape(Boom):
        @staticmethod
        def backward(ctx, g):
            return ember.ones(5)

    class TooMany(Boom):
        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(ValueError, match="boom"):
        Boom.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"invalid gradient at index 0 - got \(5,\) but expected"):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        TooMany.apply(x).sum().backward()
    h = x * 1
    s = _Cube.apply(h)
    h.add_(1)  # a saved tensor modified in place: an error, not a wrong gradient
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()
    y = _Exp.apply(x)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="a second time"):
        y.sum().backward()


def test_custom_function_non_differentiable_and_returned_input():
    class MaxIdx(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            v, i = x.max(0)
            f = v * 1.0
            ctx.mark_non_differentiable(f)
            ctx.save_for_backward(x, i)
            return v, i, f

        @staticmethod
        def backward(ctx, gv, gi, gf):
            x, i = ctx.saved_tensors
            return ember.zeros_like(x).scatter(0, i.unsqueeze(0), gv.unsqueeze(0))

    class Same(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = ember.from_numpy(np.array([[1.0, 5.0], [4.0, 2.0]])).requires_grad_()
    v, i, f = MaxIdx.apply(x)
    assert v.requires_grad and not i.requires_grad and not f.requires_grad
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1], [1, 0]])
    y = Same.apply(x)  # an argument returned as is: an alias with the node, x stays a leaf
    assert y is not x and x.is_leaf and y.grad_fn.name() == "SameBackward"
    x.grad = None
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 2), 3.0))


@requires_torch
def test_grad_skips_gradients_nobody_asked_for():
    # autograd.grad(z, x) computes only what leads to x, as torch does: the conv and the matmul
    # skip their weight gradients, so hooks on the weights never fire.
    for lib in (ember, torch):
        x = lib.randn(2, 3, 5, 5, requires_grad=True)
        w, b = lib.randn(4, 3, 3, 3, requires_grad=True), lib.randn(4, requires_grad=True)
        a, c = lib.randn(3, 4, requires_grad=True), lib.randn(4, 5, requires_grad=True)
        seen = []
        for name, t in (("w", w), ("b", b), ("c", c)):
            t.register_hook(lambda g, name=name: seen.append(name))
        y = lib.nn.functional.conv2d(x, w, b)
        (gx,) = lib.autograd.grad((y * y).sum(), x)
        lib.autograd.grad((a @ c).sum(), a)
        assert seen == [] and w.grad is None and gx.shape == x.shape
        (lib.nn.functional.conv2d(x, w, b) ** 2).sum().backward(inputs=[x])  # backward(inputs=...) too
        assert seen == [] and w.grad is None and x.grad is not None


@requires_torch
@pytest.mark.parametrize("act", ["relu", "sigmoid", "tanh", "gelu", "silu", "leaky_relu", "elu", "softplus"])
def test_activation_gradients_written_over_an_owned_incoming_gradient(act):
    # The activations' fused gradients write over the incoming gradient when the engine handed
    # over its only reference (ops/elementwise.cpp, owned_grad). Whoever else sees that gradient
    # must still see the value it had: a hook on the activation's output, retain_grad, an
    # autograd.grad capture of the output, the one tensor AddBackward passes to both branches,
    # and the gradient a user passes to backward. Values against torch, float32 (the fused path).
    def run(lib):
        f = getattr(lib.nn.functional, act)
        rng = np.random.default_rng(4)
        xs = [lib.from_numpy(rng.standard_normal((6, 7)).astype(np.float32)).requires_grad_() for _ in range(2)]
        hooked = []
        y0, y1 = f(xs[0] * 3.0), f(xs[1] * 3.0)
        y0.register_hook(lambda g: hooked.append(g))
        y1.retain_grad()
        s = y0 + y1  # AddBackward: the same gradient to both branches
        loss = (s * lib.from_numpy(np.linspace(-1, 1, 42, dtype=np.float32).reshape(6, 7))).sum()
        gy0, gx0 = lib.autograd.grad(loss, [y0, xs[0]], retain_graph=True)
        loss.backward()
        user_g = lib.from_numpy(rng.standard_normal((6, 7)).astype(np.float32))
        keep = user_g.clone()
        x2 = lib.from_numpy(rng.standard_normal((6, 7)).astype(np.float32)).requires_grad_()
        f(x2).backward(user_g)
        assert np.array_equal(user_g.numpy(), keep.numpy())  # the user's gradient is untouched
        x3 = lib.from_numpy(rng.standard_normal((6, 7)).astype(np.float32)).requires_grad_()
        (f(x3 * 3.0) * 2.0).sum().backward()  # nobody else sees the gradient: written over
        return [hooked[0], hooked[1], y1.grad, gy0, gx0, xs[0].grad, xs[1].grad, x2.grad, x3.grad]

    got, want = run(ember), run(torch)
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=2e-6, atol=2e-6, err_msg=str(i))


def test_dropout_gradient_written_over_an_owned_incoming_gradient():
    # dropout's gradient (keep / (1 - p) * g) also writes over an incoming gradient nobody else
    # sees; with a hook on its output the hook's tensor keeps its value.
    rng = np.random.default_rng(2)
    w = ember.from_numpy(rng.standard_normal((64, 33)).astype(np.float32))
    for hook in (False, True):
        x = ember.from_numpy(rng.standard_normal((64, 33)).astype(np.float32) + 5).requires_grad_()
        y = ember.nn.functional.dropout(x * 3.0, 0.5, True)
        seen = []
        if hook:
            y.register_hook(lambda g: seen.append(g))
        (y * w).sum().backward()
        kept = y.detach().numpy() != 0
        assert 0 < kept.sum() < kept.size
        np.testing.assert_allclose(x.grad.numpy(), 3.0 * w.numpy() * kept / 0.5, rtol=1e-6)
        if hook:
            np.testing.assert_array_equal(seen[0].numpy(), w.numpy())


class _InnerGrad(ember.autograd.Function):
    """backward runs a backward pass of its own (the engine nests, with its own bookkeeping)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 1.0

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with ember.enable_grad():
            x2 = x.detach().requires_grad_()
            ((x2 * x2 * x2).sum()).backward()
        return g * x2.grad  # d/dx of the forward times 3 x^2


def test_engine_bookkeeping_survives_nesting_errors_and_large_graphs():
    # The engine keeps its per-node tables between calls; each case below must leave them empty.
    x = t([1.0, 2.0, 3.0], True)
    _InnerGrad.apply(x).sum().backward()  # nested backward inside a node's apply
    np.testing.assert_allclose(npg(x), 3 * np.array([1.0, 4.0, 9.0]))

    w = t([2.0], True)
    h = (w * 3.0) * 1.0
    h.register_hook(lambda g: (_ for _ in ()).throw(ValueError("hook failed")))
    with pytest.raises(ValueError, match="hook failed"):
        (h * h).sum().backward()
    assert w.grad is None

    big = w
    for _ in range(5000):  # more nodes than the kept tables hold: released afterwards
        big = big + w
    big.backward()
    np.testing.assert_allclose(npg(w), [5001.0])

    # a diamond (a node reached twice) and a fresh small graph after all of the above
    v = t([1.5, -2.0], True)
    a = v * 2.0
    ((a * a) + a.exp()).sum().backward()
    np.testing.assert_allclose(npg(v), 8 * np.array([1.5, -2.0]) + 2 * np.exp(2 * np.array([1.5, -2.0])))


def test_leaf_gradient_takes_an_unshared_buffer_and_copies_a_shared_one():
    # AccumulateGrad keeps the incoming gradient's buffer as .grad when no other tensor can see
    # it (Tensor::storage_unshared), and copies it otherwise: a tensor the user still holds, a view
    # of one, or a `.data` alias must not become .grad.
    kept = []

    class Grad(ember.autograd.Function):
        mode = "fresh"

        @staticmethod
        def forward(ctx, x):
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            g2 = g * 2.0
            kept.append(g2.data_ptr())
            if Grad.mode == "kept":
                kept.append(g2)
            elif Grad.mode == "view":
                kept.append(g2)
                return g2.view(-1).view(8, 8)
            elif Grad.mode == "data":
                kept.append(g2)
                return g2.data
            return g2

    for mode in ["fresh", "kept", "view", "data"]:
        Grad.mode = mode
        kept.clear()
        x = ember.ones(8, 8).requires_grad_()
        Grad.apply(x).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.full((8, 8), 2.0, np.float32))
        assert (x.grad.data_ptr() == kept[0]) == (mode == "fresh"), mode
        if mode != "fresh":
            kept[1].fill_(5.0)  # the user's tensor changes; .grad does not
            np.testing.assert_array_equal(x.grad.numpy(), np.full((8, 8), 2.0, np.float32))


def test_backward_forms_agree_and_check_the_gradient_type():
    # backward() with no inputs=, retain_graph or create_graph takes a shorter binding; every form
    # must accumulate the same gradients and free (or keep) the graph as asked.
    x = t([1.0, -2.0, 3.0], True)
    g = t([0.5, 1.0, 2.0])
    (x * x).backward(g)
    first = npg(x).copy()
    np.testing.assert_allclose(first, 2 * np.array([1.0, -2.0, 3.0]) * [0.5, 1.0, 2.0])
    y = x * x
    y.backward(g, retain_graph=True)
    y.backward(g, retain_graph=False)  # the graph was kept, then freed
    with pytest.raises(RuntimeError, match="second time"):
        y.backward(g)
    np.testing.assert_allclose(npg(x), 3 * first)
    x.grad = None
    (x * x).backward(gradient=g, inputs=[x])
    np.testing.assert_allclose(npg(x), first)
    with pytest.raises(TypeError, match="gradients can be either Tensors or None, but got str"):
        (x * x).sum().backward("a")
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * x).backward()

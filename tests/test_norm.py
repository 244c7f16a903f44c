"""Normalisation layers and Embedding against torch.nn with copied state: outputs, input and
parameter gradients, running statistics over several steps, eval mode, momentum=None,
state_dict keys and loading a torch state_dict; errors."""

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch
from ember import nn

pytestmark = requires_torch
F = nn.functional


def to_e(a, grad=False):
    return ember.from_numpy(np.array(a)).requires_grad_(grad)


def to_t(a, grad=False):
    return torch.from_numpy(np.array(a)).requires_grad_(grad)


def load_from_torch(e_mod, t_mod):
    e_mod.load_state_dict(
        {k: ember.from_numpy(v.detach().numpy().copy()) for k, v in t_mod.state_dict().items()}
    )


def check_close(e, t, rtol=1e-5, atol=1e-5):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=atol)


def step(e_mod, t_mod, shape, seed):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(np.float32)
    xe, xt = to_e(x, True), to_t(x, True)
    ye, yt = e_mod(xe), t_mod(xt)
    check_close(ye, yt)
    g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
    ye.backward(to_e(g))
    yt.backward(to_t(g))
    check_close(xe.grad, xt.grad, rtol=1e-4, atol=1e-5)
    for (n, pe), (_, pt) in zip(e_mod.named_parameters(), t_mod.named_parameters()):
        check_close(pe.grad, pt.grad, rtol=1e-4, atol=1e-4)
        pe.grad, pt.grad = None, None


BN = [("BatchNorm1d", (6, 4)), ("BatchNorm1d", (5, 4, 7)), ("BatchNorm2d", (3, 4, 5, 6))]


@pytest.mark.parametrize("name,shape", BN)
@pytest.mark.parametrize(
    "kw",
    [
        dict(),
        dict(momentum=None),
        dict(affine=False),
        dict(track_running_stats=False),
        dict(momentum=0.5, eps=1e-3),
    ],
)
def test_batchnorm_vs_torch(name, shape, kw):
    e_mod, t_mod = getattr(nn, name)(4, **kw), getattr(torch.nn, name)(4, **kw)
    with torch.no_grad():
        if t_mod.affine:
            t_mod.weight.uniform_(0.5, 1.5)
            t_mod.bias.uniform_(-0.5, 0.5)
    load_from_torch(e_mod, t_mod)
    assert repr(e_mod) == repr(t_mod)
    assert list(e_mod.state_dict().keys()) == list(t_mod.state_dict().keys())
    for s in range(3):
        step(e_mod, t_mod, shape, s)
    for k, v in t_mod.state_dict().items():
        ev = e_mod.state_dict()[k]
        assert str(ev.dtype).split(".")[-1] == str(v.dtype).split(".")[-1], k
        np.testing.assert_allclose(ev.numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    e_mod.eval()
    t_mod.eval()
    step(e_mod, t_mod, shape, 10)
    for k, v in t_mod.state_dict().items():  # eval leaves the buffers alone
        np.testing.assert_allclose(
            e_mod.state_dict()[k].numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k
        )


def test_batchnorm_state_dict_layout():
    e = nn.BatchNorm2d(3)
    assert list(e.state_dict().keys()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]
    assert e.num_batches_tracked.dtype == ember.int64 and e.num_batches_tracked.dim() == 0
    assert (
        list(nn.BatchNorm1d(3, affine=False, track_running_stats=False).state_dict().keys()) == []
    )


def test_batchnorm_errors():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm1d(3)(ember.randn(1, 3))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        nn.BatchNorm2d(3)(ember.randn(1, 3, 1, 1))
    nn.BatchNorm1d(3).eval()(ember.randn(1, 3))  # fine in eval mode
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(ember.randn(2, 3, 4))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.BatchNorm1d(3)(ember.randn(2, 3, 4, 4))
    with pytest.raises(RuntimeError, match="should contain 4 elements"):
        F.batch_norm(ember.randn(2, 4), None, None, ember.ones(3), None, True)


def test_batchnorm_double_backward():
    x = np.random.default_rng(0).standard_normal((4, 3, 5))
    w = np.random.default_rng(1).uniform(0.5, 1.5, 3)
    out = []
    for L in (ember, torch):
        xt, wt = L.from_numpy(x.copy()).requires_grad_(), L.from_numpy(w.copy()).requires_grad_()
        y = L.nn.functional.batch_norm(xt, None, None, wt, None, training=True)
        gx, gw = L.autograd.grad((y**3).sum(), (xt, wt), create_graph=True)
        h = L.autograd.grad((gx * gx).sum() + (gw * gw).sum(), (xt, wt))
        out.append([t.detach().numpy() for t in (gx, gw) + tuple(h)])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_double_backward_float64_running(training):
    """create_graph through batch_norm with running stats, in training and eval mode."""
    x = np.random.default_rng(2).standard_normal((3, 2, 4, 2))
    w, b = np.array([0.7, 1.3]), np.array([0.1, -0.2])
    out = []
    for L in (ember, torch):
        xt = L.from_numpy(x.copy()).requires_grad_()
        wt, bt = L.from_numpy(w.copy()).requires_grad_(), L.from_numpy(b.copy()).requires_grad_()
        rm, rv = L.from_numpy(np.array([0.2, -0.1])), L.from_numpy(np.array([1.5, 0.8]))
        y = L.nn.functional.batch_norm(xt, rm, rv, wt, bt, training=training, momentum=0.2)
        gx, gw, gb = L.autograd.grad((y**3).sum(), (xt, wt, bt), create_graph=True)
        h = L.autograd.grad((gx * gx).sum() + (gw * gb).sum(), (xt, wt))
        out.append([t.detach().numpy() for t in (gx, gw, gb, rm, rv) + tuple(h)])
    for a, b_ in zip(*out):
        np.testing.assert_allclose(a, b_, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    "kw,shape",
    [
        (dict(normalized_shape=8), (3, 5, 8)),
        (dict(normalized_shape=(4, 6)), (2, 3, 4, 6)),
        (dict(normalized_shape=8, elementwise_affine=False), (4, 8)),
        (dict(normalized_shape=8, bias=False, eps=1e-3), (4, 8)),
    ],
)
def test_layernorm_vs_torch(kw, shape):
    e_mod, t_mod = nn.LayerNorm(**kw), torch.nn.LayerNorm(**kw)
    with torch.no_grad():
        for p in t_mod.parameters():
            p.uniform_(0.5, 1.5)
    load_from_torch(e_mod, t_mod)
    assert repr(e_mod) == repr(t_mod)
    assert list(e_mod.state_dict().keys()) == list(t_mod.state_dict().keys())
    step(e_mod, t_mod, shape, 0)


@requires_torch
@pytest.mark.parametrize("K", [1, 5, 16, 17, 33, 64, 65, 100, 128, 129, 300, 1000, 4096, 4097])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_float32_row_widths_match_torch(K, affine):
    # float32 rows up to 128 run in registers (AVX-512), longer ones in the generic kernels (blocks
    # of 64 values, of 16, a scalar tail; float sums up to 4096 values, double beyond): widths
    # around the vector length, more rows than the backward's 32 chunks, a NaN row and an inf row.
    rng = np.random.default_rng(K)
    a = (rng.standard_normal((37, K)) * 3 + 1).astype(np.float32)
    a[1, 0], a[2, -1] = np.nan, np.inf
    g = rng.standard_normal((37, K)).astype(np.float32)
    w, b = rng.standard_normal(K).astype(np.float32), rng.standard_normal(K).astype(np.float32)
    out = []  # against torch in float64 (torch's float32 leaves residues: weight grad 3e-5 at K = 1)
    for L, dt in ((ember, np.float32), (torch, np.float64)):
        a, g, w, b = (v.astype(dt) for v in (a, g, w, b))
        x = L.from_numpy(a.copy()).requires_grad_()
        params = [L.from_numpy(p.copy()).requires_grad_() for p in {"both": (w, b), "weight": (w,), "none": ()}[affine]]
        y = L.nn.functional.layer_norm(x, (K,), *params, eps=1e-5)
        y.backward(L.from_numpy(g.copy()))
        grads = [p.grad.numpy() for p in params]  # NaN where the NaN row reaches
        fin = L.from_numpy(a[3:].copy()).requires_grad_()  # finite rows: finite parameter gradients
        params = [p.detach().requires_grad_() for p in params]
        L.nn.functional.layer_norm(fin, (K,), *params, eps=1e-5).backward(L.from_numpy(g[3:].copy()))
        out.append([y.detach().numpy(), x.grad.numpy(), fin.grad.numpy()] + grads + [p.grad.numpy() for p in params])
    for e, t in zip(*out):
        np.testing.assert_array_equal(np.isnan(e), np.isnan(t))
        np.testing.assert_allclose(e, t, rtol=1e-4, atol=1e-4)


def test_layernorm_double_backward_and_error():
    x = np.random.default_rng(0).standard_normal((3, 6))
    out = []
    for L in (ember, torch):
        xt = L.from_numpy(x.copy()).requires_grad_()
        w = L.from_numpy(np.linspace(0.5, 1.5, 6)).requires_grad_()
        y = L.nn.functional.layer_norm(xt, (6,), w)
        gx, gw = L.autograd.grad((y**3).sum(), (xt, w), create_graph=True)
        h = L.autograd.grad((gx * gx).sum() + (gw**2).sum(), (xt, w))
        out.append([t.detach().numpy() for t in (gx, gw) + tuple(h)])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    with pytest.raises(RuntimeError, match=r"expected input with shape \[\*, 5\]"):
        F.layer_norm(ember.randn(2, 3), (5,))


@pytest.mark.parametrize(
    "groups,channels,shape,affine",
    [(2, 4, (3, 4, 5), True), (3, 6, (2, 6, 3, 3), False), (1, 4, (2, 4, 2, 2), True)],
)
def test_groupnorm_vs_torch(groups, channels, shape, affine):
    e_mod, t_mod = (
        nn.GroupNorm(groups, channels, affine=affine),
        torch.nn.GroupNorm(groups, channels, affine=affine),
    )
    with torch.no_grad():
        for p in t_mod.parameters():
            p.uniform_(0.5, 1.5)
    load_from_torch(e_mod, t_mod)
    assert repr(e_mod) == repr(t_mod)
    step(e_mod, t_mod, shape, 0)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(ember.randn(2, 6, 3), 4)


def test_embedding_vs_torch():
    w = np.random.default_rng(0).standard_normal((10, 4)).astype(np.float32)
    idx = np.array([[1, 2, 2, 9], [0, 2, 1, 1]])
    for padding_idx in (None, 2, -1):
        e = nn.Embedding.from_pretrained(
            ember.from_numpy(w.copy()), freeze=False, padding_idx=padding_idx
        )
        t = torch.nn.Embedding.from_pretrained(
            torch.from_numpy(w.copy()), freeze=False, padding_idx=padding_idx
        )
        assert repr(e) == repr(t)
        ye, yt = e(ember.from_numpy(idx)), t(torch.from_numpy(idx))
        check_close(ye, yt)
        g = np.random.default_rng(1).standard_normal(ye.shape).astype(np.float32)
        ye.backward(ember.from_numpy(g.copy()))
        yt.backward(torch.from_numpy(g))
        check_close(e.weight.grad, t.weight.grad)
    e = nn.Embedding(7, 3, padding_idx=3)
    assert np.all(e.weight.detach().numpy()[3] == 0)
    assert list(e.state_dict().keys()) == ["weight"]
    assert not nn.Embedding.from_pretrained(ember.randn(3, 2)).weight.requires_grad


def test_embedding_errors():
    e = nn.Embedding(5, 2)
    with pytest.raises(IndexError, match=r"index 5 is out of range \[0, 5\)"):
        e(ember.tensor([1, 5]))
    with pytest.raises(IndexError, match=r"index -1 is out of range"):
        e(ember.tensor([-1, 0]))
    with pytest.raises(NotImplementedError):
        nn.Embedding(5, 2, max_norm=1.0)


@pytest.mark.parametrize(
    "kw,shape",
    [
        (dict(scale_factor=2), (2, 3, 4, 5)),
        (dict(size=(5, 7), mode="bilinear"), (1, 2, 3, 4)),
        (dict(scale_factor=(2, 3), mode="bilinear", align_corners=True), (1, 2, 3, 4)),
        (dict(size=4), (2, 3, 7)),
    ],
)
def test_upsample_vs_torch(kw, shape):
    e_mod, t_mod = nn.Upsample(**kw), torch.nn.Upsample(**kw)
    assert repr(e_mod) == repr(t_mod)
    step(e_mod, t_mod, shape, 0)


def _same_at_1_and_2_threads_and_torch(run, tol):
    """run(L) -> list of arrays: ember's are bit-identical at 1 and 2 threads and within tol
    (relative and absolute) of torch's."""
    old = ember.get_num_threads()
    try:
        res = []
        for nt in (1, 2):
            ember.set_num_threads(nt)
            res.append(run(ember))
    finally:
        ember.set_num_threads(old)
    for a, b in zip(*res):
        np.testing.assert_array_equal(a, b)
    for e, t in zip(res[0], run(torch)):
        np.testing.assert_allclose(e, t, rtol=tol, atol=tol)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm1d_2d_input_wide(training):
    """(N, C) inputs take the channel-vectorised kernels: many channels (split across threads, a
    vector tail), float64 against torch, 1 and 2 threads bit-identical."""
    rng = np.random.default_rng(5)
    N, C = 37, 301
    x = rng.standard_normal((N, C)) * 3 + 1
    g = rng.standard_normal((N, C))
    w, b = rng.uniform(0.5, 1.5, C), rng.uniform(-0.5, 0.5, C)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)

    def run(L):
        xt = L.from_numpy(x.copy()).requires_grad_()
        wt, bt = L.from_numpy(w.copy()).requires_grad_(), L.from_numpy(b.copy()).requires_grad_()
        m, v = L.from_numpy(rm.copy()), L.from_numpy(rv.copy())
        y = L.nn.functional.batch_norm(xt, m, v, wt, bt, training=training, momentum=0.3)
        y.backward(L.from_numpy(g.copy()))
        return [t.detach().numpy() for t in (y, xt.grad, wt.grad, bt.grad, m, v)]

    _same_at_1_and_2_threads_and_torch(run, 1e-12)


@pytest.mark.parametrize("shape,groups", [((3, 8, 5, 7), 4), ((2, 6, 11), 3), ((2, 4, 70, 75), 2), ((1, 5, 2), 5)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_fused_kernels(shape, groups, affine):
    """The fused forward / backward kernels (long rows over 4096 elements included) against torch in
    float64, 1 and 2 threads bit-identical, and create_graph through the differentiable forms."""
    rng = np.random.default_rng(9)
    C = shape[1]
    x = rng.standard_normal(shape) * 2 + 0.5
    g = rng.standard_normal(shape)
    w, b = rng.uniform(0.5, 1.5, C), rng.uniform(-0.5, 0.5, C)

    def run(L):
        xt = L.from_numpy(x.copy()).requires_grad_()
        ps = [L.from_numpy(w.copy()).requires_grad_(), L.from_numpy(b.copy()).requires_grad_()] if affine else []
        y = L.nn.functional.group_norm(xt, groups, *ps, eps=1e-4)
        grads = L.autograd.grad(y, [xt, *ps], L.from_numpy(g.copy()))
        return [y.detach().numpy()] + [t.numpy() for t in grads]

    _same_at_1_and_2_threads_and_torch(run, 1e-10)
    if shape[2:] == (5, 7):  # second order: gradcheck of the gradient (the create_graph formulas)
        xs = ember.from_numpy(x[:, :, :2, :3].copy()).requires_grad_()
        ws = ember.from_numpy(w.copy()).requires_grad_()

        def grad_of(t, wt):
            with ember.enable_grad():
                y = F.group_norm(t, groups, wt if affine else None, eps=1e-4)
                (gx,) = ember.autograd.grad((y * y * y).sum(), t, create_graph=True)
            return gx

        assert ember.autograd.gradcheck(grad_of, (xs, ws if affine else ws.detach()))


def test_group_norm_one_value_per_group_raises():
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training, got input size \[1, 5, 1\]"):
        F.group_norm(ember.randn(1, 5, 1), 5)


@requires_torch
@pytest.mark.parametrize("cls,shape", [("InstanceNorm2d", (2, 3, 4, 5)), ("InstanceNorm2d", (3, 4, 5)),
                                       ("InstanceNorm1d", (4, 3, 7)), ("InstanceNorm1d", (3, 7))])
@pytest.mark.parametrize("kw", [{}, {"affine": True}, {"track_running_stats": True},
                                {"affine": True, "track_running_stats": True, "momentum": None}])
def test_instance_norm_matches_torch(cls, shape, kw):
    # outputs, input and affine gradients, running stats after two training steps, eval mode,
    # state_dict keys and repr; a 3-d (2-d) input is one unbatched sample
    rng = np.random.default_rng(51)
    a = rng.standard_normal(shape) * 3 + 1
    res = []
    for L in (ember, torch):
        m = getattr(L.nn, cls)(3, dtype=L.float64, **kw)
        if m.weight is not None:
            with L.no_grad():
                m.weight.copy_(L.from_numpy(np.array([0.5, 2.0, -1.0])))
                m.bias.copy_(L.from_numpy(np.array([0.1, -0.2, 0.3])))
        x = L.from_numpy(a.copy()).requires_grad_()
        y = m(x)
        (y * m(x * 2 + 1)).sum().backward()
        m.eval()
        res.append((repr(m), y, x.grad, m(x), m.state_dict(),
                    None if m.weight is None else (m.weight.grad, m.bias.grad)))
    (re, ye, ge, ee, se, pe), (rt, yt, gt, et, st, pt) = res
    assert re == rt
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ge.numpy(), gt.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ee.detach().numpy(), et.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert list(se) == list(st)
    for k in st:
        np.testing.assert_allclose(se[k].numpy(), st[k].numpy(), rtol=1e-12, atol=1e-12, err_msg=k)
    if pt is not None:
        for e_, t_ in zip(pe, pt):
            np.testing.assert_allclose(e_.numpy(), t_.numpy(), rtol=1e-10, atol=1e-10)


def test_instance_norm_gradcheck_and_errors():
    F = ember.nn.functional
    x = ember.from_numpy(np.random.default_rng(52).standard_normal((2, 3, 4))).requires_grad_()
    w = ember.from_numpy(np.array([1.5, -0.5, 2.0])).requires_grad_()
    b = ember.from_numpy(np.array([0.1, 0.2, 0.3])).requires_grad_()
    assert ember.autograd.gradcheck(lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (x, w, b))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(ember.zeros(2, 3, 1, 1))
    with pytest.raises(ValueError, match="expected 3D or 4D input"):
        ember.nn.InstanceNorm2d(3)(ember.zeros(2, 3))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(3\)"):
        ember.nn.InstanceNorm2d(3, affine=True)(ember.zeros(2, 4, 4, 4))
    with pytest.warns(UserWarning, match="does not match num_features"):
        ember.nn.InstanceNorm1d(3)(ember.randn(2, 4, 5))


@requires_torch
@pytest.mark.parametrize("dims,training", [((8, 5, 6, 7), True), ((8, 5, 6, 7), False), ((16, 9), True), ((16, 9), False)])
def test_batch_norm_gradient_written_over_an_owned_incoming_gradient(dims, training):
    # batch_norm's input gradient writes over the incoming gradient when nobody else sees it
    # (ops/common.h, owned_grad): the values match torch with and without a hook holding it.
    rng = np.random.default_rng(6)
    x = rng.standard_normal(dims).astype(np.float32)
    w = rng.standard_normal(dims).astype(np.float32)
    for hook in (False, True):
        res = []
        for lib in (ember, torch):
            bn = (lib.nn.BatchNorm2d if len(dims) == 4 else lib.nn.BatchNorm1d)(dims[1])
            bn.train(training)
            xt = lib.from_numpy(x.copy()).requires_grad_()
            y = bn(xt * 2.0)
            seen = []
            if hook:
                y.register_hook(lambda g: seen.append(g))
            (y * lib.from_numpy(w)).sum().backward()
            res.append([xt.grad.numpy(), bn.weight.grad.numpy(), bn.bias.grad.numpy()] +
                       ([seen[0].numpy()] if hook else []))
        for a, b in zip(*res):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("momentum", [0.1, 0.37, 0.9])
def test_batch_norm_running_update_is_the_tensor_formula(dtype, momentum):
    """The fused in-place update of the running statistics gives the bits of the formula in tensor
    ops: r (1 - m) + stat m, stat the batch mean or the unbiased batch variance (read back from a
    BatchNorm with momentum 1)."""
    rng = np.random.default_rng(1)
    x = ember.from_numpy((rng.standard_normal((16, 7, 5, 3)) * 3 + 1).astype(dtype))
    one = nn.BatchNorm2d(7, momentum=1.0).to(getattr(ember, dtype))
    one(x)
    bn = nn.BatchNorm2d(7, momentum=momentum).to(getattr(ember, dtype))
    r_mean = ember.from_numpy(rng.standard_normal(7).astype(dtype))
    r_var = ember.from_numpy((rng.random(7) + 0.5).astype(dtype))
    bn.running_mean.copy_(r_mean)
    bn.running_var.copy_(r_var)
    bn(x)
    want_mean = r_mean * (1 - momentum) + one.running_mean * momentum
    want_var = r_var * (1 - momentum) + one.running_var * momentum
    np.testing.assert_array_equal(bn.running_mean.numpy(), want_mean.numpy())
    np.testing.assert_array_equal(bn.running_var.numpy(), want_var.numpy())
    assert bn.num_batches_tracked.item() == 1


def test_batch_norm_running_stats_strided():
    """Running statistics that are strided views (the update's unfused path) are updated in place
    like torch's, through to the buffers they view."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((8, 4, 6)) * 2 + 1).astype(np.float32)
    for make in (lambda a: a[::2], lambda a: a[1::2]):
        stats = {}
        for lib, to in ((ember, to_e), (torch, to_t)):
            buf_m = to(np.arange(8, dtype=np.float32) * 0.1)
            buf_v = to(np.ones(8, dtype=np.float32))
            rm, rv = make(buf_m), make(buf_v)
            lib.nn.functional.batch_norm(to(x), rm, rv, training=True, momentum=0.2)
            stats[lib.__name__] = (buf_m.numpy().copy(), buf_v.numpy().copy(), rm.numpy().copy(),
                                   rv.numpy().copy())
        for e, t in zip(stats["ember"], stats["torch"]):
            np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(4, 3, 1, 7), (5, 2, 5, 5), (3, 2, 107, 1), (2, 3, 28, 28), (9, 2, 10, 10)])
def test_batch_norm_channel_sums_against_float64(shape, dtype):
    """batch_norm's per-channel sums run over vector lanes kept across the batch's rows: 64-value
    (float32) or 32-value (float64) steps, 8-value steps and a scalar tail per row. Every split of
    a row (7 = tail only, 25, 107 = 64 + 5 * 8 + 3, 784, 100) against torch in float64 on the same
    values, with an offset mean (the two-pass variance); the statistics are the channel's whatever
    the thread count, bit for bit."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * 3 + 40).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    w = rng.uniform(0.5, 1.5, shape[1]).astype(dtype)
    b = rng.uniform(-0.5, 0.5, shape[1]).astype(dtype)
    tx = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    tw = torch.from_numpy(w.astype(np.float64)).requires_grad_()
    tb = torch.from_numpy(b.astype(np.float64)).requires_grad_()
    rm_t, rv_t = torch.zeros(shape[1], dtype=torch.float64), torch.ones(shape[1], dtype=torch.float64)
    ty = torch.nn.functional.batch_norm(tx, rm_t, rv_t, tw, tb, training=True, momentum=0.5)
    ty.backward(torch.from_numpy(g.astype(np.float64)))
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-10)
    runs = []
    for threads in (1, 2):
        prev = ember.get_num_threads()
        ember.set_num_threads(threads)
        try:
            ex, ew, eb = to_e(x, True), to_e(w, True), to_e(b, True)
            dt = getattr(ember, dtype)
            rm, rv = ember.zeros(shape[1], dtype=dt), ember.ones(shape[1], dtype=dt)
            ey = F.batch_norm(ex, rm, rv, ew, eb, training=True, momentum=0.5)
            ey.backward(to_e(g))
        finally:
            ember.set_num_threads(prev)
        res = [ey.detach().numpy(), rm.numpy(), rv.numpy(), ex.grad.numpy(), ew.grad.numpy(), eb.grad.numpy()]
        for e, t in zip(res, (ty, rm_t, rv_t, tx.grad, tw.grad, tb.grad)):
            assert e.dtype == np.dtype(dtype)
            np.testing.assert_allclose(e, t.detach().numpy(), **tol)
        runs.append(res)
    for a, c in zip(*runs):
        np.testing.assert_array_equal(a, c)

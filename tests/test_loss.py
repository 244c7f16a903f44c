"""Loss modules and functionals against PyTorch: values, input gradients, weight gradients where
torch has them, class-index options (ignore_index, label smoothing with weights), probability
targets, K-dim inputs, huge logits, double backward, legacy arguments and every error path."""
import warnings

import ember
import ember.nn as enn
import ember.nn.functional as EF
import numpy as np
import pytest
from conftest import requires_torch, torch

pytestmark = requires_torch

REDUCTIONS = ["none", "mean", "sum"]


def pair(a, requires_grad=True):
    """(ember tensor, torch tensor) holding the same values."""
    a = np.array(a, order="C")
    e, t = ember.from_numpy(a.copy()), torch.from_numpy(a.copy())
    if requires_grad and a.dtype.kind == "f":
        e.requires_grad_(True)
        t.requires_grad_(True)
    return e, t


def check(e_out, t_out, e_in, t_in, rtol=1e-5, atol=1e-6):
    """Forward values equal; backward with a random upstream gradient gives equal input grads."""
    assert tuple(e_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(3).standard_normal(tuple(t_out.shape)).astype(np.float32)
    e_out.backward(ember.from_numpy(g.copy()))
    t_out.backward(torch.from_numpy(g.copy()))
    for e, t in zip(e_in, t_in):
        if t.grad is None:
            assert e.grad is None or not np.any(e.grad.numpy())
            continue
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=rtol * 10, atol=atol * 10)


def rng():
    return np.random.default_rng(0)


def f32(*shape, lo=-2.0, hi=2.0):
    return rng().uniform(lo, hi, shape).astype(np.float32)


# --- cross-entropy (fused kernel) -------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [
    {},
    {"ignore_index": 2},
    {"label_smoothing": 0.3},
    {"weight": [0.2, 1.0, 3.0, 0.5, 1.5], "ignore_index": 0, "label_smoothing": 0.25},
    {"weight": [0.2, 1.0, 3.0, 0.5, 1.5]},
])
@pytest.mark.parametrize("shape", [(7, 5), (3, 5, 4), (2, 5, 3, 2), (5,)])
def test_cross_entropy_class_indices(shape, opts, reduction):
    x = f32(*shape, lo=-4, hi=4)
    tshape = ((shape[0],) + shape[2:]) if len(shape) > 1 else ()
    t = rng().integers(0, 5, tshape)
    ex, tx = pair(x)
    et, tt = pair(t)
    kw = dict(opts)
    ew = tw = None
    if "weight" in kw:
        w = np.array(kw.pop("weight"), np.float32)
        ew, tw = ember.from_numpy(w), torch.from_numpy(w)
    e_mod = enn.CrossEntropyLoss(weight=ew, reduction=reduction, **kw)
    t_mod = torch.nn.CrossEntropyLoss(weight=tw, reduction=reduction, **kw)
    check(e_mod(ex, et), t_mod(tx, tt), [ex], [tx])


@pytest.mark.parametrize("threads", [1, 2])
def test_cross_entropy_short_rows_in_blocks_match_torch(threads):
    """Rows of up to 128 classes take 16 rows' statistics at a time (one vector log a block): every
    row count around the block and thread-chunk edges, every vector count, ignored and
    out-of-range-free targets, rows with NaN and infinities."""
    prev = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        for n, c in [(1, 2), (15, 10), (16, 10), (17, 10), (40, 16), (33, 17), (300, 128), (70, 100), (20, 129)]:
            x = f32(n, c, lo=-6, hi=6)
            t = rng().integers(0, c, n)
            t[::7] = -100
            if n >= 17:
                x[3, 1] = np.nan
                x[5, :] = -np.inf
                x[9, 0] = np.inf
                x[12, :] = -np.inf
                x[12, t[12] if t[12] >= 0 else 0] = 1.0
            for reduction in ("none", "sum"):
                ex, tx = pair(x)
                et, tt = pair(t)
                e = EF.cross_entropy(ex, et, reduction=reduction)
                r = torch.nn.functional.cross_entropy(tx, tt, reduction=reduction)
                np.testing.assert_allclose(e.detach().numpy(), r.detach().numpy(), rtol=1e-5, atol=1e-6,
                                           err_msg=f"{n}x{c}")
                if reduction == "none":
                    e.backward(ember.ones(n))
                    r.backward(torch.ones(n))
                    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6,
                                               err_msg=f"{n}x{c}")
    finally:
        ember.set_num_threads(prev)


def test_cross_entropy_all_ignored_mean_is_nan():
    ex, tx = pair(f32(3, 4))
    t = np.full(3, -100)
    e, t_ = EF.cross_entropy(ex, ember.from_numpy(t)), torch.nn.functional.cross_entropy(tx, torch.from_numpy(t))
    assert np.isnan(e.item()) and np.isnan(t_.item())


def test_cross_entropy_huge_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0], [3e4, 3e4, -3e4]], np.float32)
    t = np.array([1, 1, 0])
    ex, tx = pair(x)
    for ls in (0.0, 0.1):
        ex.grad, tx.grad = None, None
        e = EF.cross_entropy(ex, ember.from_numpy(t), label_smoothing=ls)
        r = torch.nn.functional.cross_entropy(tx, torch.from_numpy(t), label_smoothing=ls)
        assert np.isfinite(e.item())
        e.backward()
        r.backward()
        assert np.all(np.isfinite(ex.grad.numpy()))
        np.testing.assert_allclose(e.item(), r.item(), rtol=1e-6)
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), atol=1e-6)


def test_cross_entropy_large_classes_noncontiguous():
    x = f32(300, 64).T  # (64, 300) transposed view
    t = rng().integers(0, 300, 64)
    _, tx = pair(np.asfortranarray(x))
    ex_nc = ember.from_numpy(np.asfortranarray(x)).requires_grad_(True)
    assert not ex_nc.is_contiguous()
    check(EF.cross_entropy(ex_nc, ember.from_numpy(t)), torch.nn.functional.cross_entropy(tx, torch.from_numpy(t)),
          [ex_nc], [tx])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"label_smoothing": 0.2}, {"weight": [1.0, 2.0, 0.5, 1.0]},
                                  {"weight": [1.0, 2.0, 0.5, 1.0], "label_smoothing": 0.4}])
@pytest.mark.parametrize("shape", [(5, 4), (2, 4, 3), (4,)])
def test_cross_entropy_probabilities(shape, opts, reduction):
    x = f32(*shape)
    p = rng().uniform(0, 1, shape).astype(np.float32)
    p /= p.sum(axis=1 if len(shape) > 1 else 0, keepdims=True)
    ex, tx = pair(x)
    ep, tp = pair(p)  # target gradients too
    kw = dict(opts)
    if "weight" in kw:
        w = np.array(kw.pop("weight"), np.float32)
        kw_e, kw_t = dict(kw, weight=ember.from_numpy(w)), dict(kw, weight=torch.from_numpy(w))
    else:
        kw_e = kw_t = kw
    check(EF.cross_entropy(ex, ep, reduction=reduction, **kw_e),
          torch.nn.functional.cross_entropy(tx, tp, reduction=reduction, **kw_t), [ex, ep], [tx, tp])


@pytest.mark.parametrize("opts", [{}, {"weight": [0.5, 2.0, 1.0, 1.5], "label_smoothing": 0.3, "ignore_index": 1}])
def test_cross_entropy_double_backward(opts):
    x = np.random.default_rng(5).standard_normal((4, 4))
    t = np.array([0, 1, 3, 2])
    w = opts.get("weight")
    kw = {k: v for k, v in opts.items() if k != "weight"}
    ex, tx = pair(x)
    ew = ember.tensor(w, dtype=ember.float64) if w else None
    tw = torch.tensor(w, dtype=torch.float64) if w else None
    e = EF.cross_entropy(ex * ex, ember.from_numpy(t), weight=ew, **kw)
    r = torch.nn.functional.cross_entropy(tx * tx, torch.from_numpy(t), weight=tw, **kw)
    (eg,) = ember.autograd.grad(e, [ex], create_graph=True)
    (tg,) = torch.autograd.grad(r, [tx], create_graph=True)
    np.testing.assert_allclose(eg.detach().numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = np.random.default_rng(6).standard_normal((4, 4))
    (egg,) = ember.autograd.grad((eg * ember.from_numpy(v)).sum(), [ex])
    (tgg,) = torch.autograd.grad((tg * torch.from_numpy(v)).sum(), [tx])
    np.testing.assert_allclose(egg.numpy(), tgg.numpy(), rtol=1e-9, atol=1e-10)


def test_cross_entropy_gradcheck_float64():
    x = ember.from_numpy(np.random.default_rng(1).standard_normal((3, 4, 2))).requires_grad_(True)
    t = ember.from_numpy(np.array([[0, 3], [1, -100], [2, 2]]))
    w = ember.tensor([0.5, 1.0, 2.0, 1.5], dtype=ember.float64)
    for r in REDUCTIONS:
        assert ember.autograd.gradcheck(
            lambda a, r=r: EF.cross_entropy(a, t, weight=w, reduction=r, label_smoothing=0.1), [x])


# --- NLL over log-probabilities (fused kernel) -------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [{}, {"ignore_index": 2}, {"weight": [0.2, 1.0, 3.0, 0.5, 1.5]},
                                  {"weight": [0.2, 1.0, 3.0, 0.5, 1.5], "ignore_index": 0}])
@pytest.mark.parametrize("shape", [(7, 5), (3, 5, 4), (2, 5, 3, 2), (5,)])
def test_nll_loss_class_indices(shape, opts, reduction):
    """Values and input gradients against torch, for every input rank (the unbatched (C,) one
    included), weights, ignore_index and reduction, through the module and the function; bit for
    bit where no sum is taken (torch sums a batch in float by cascades, Ember's sum is closer)."""
    x = f32(*shape, lo=-4, hi=0)
    tshape = ((shape[0],) + shape[2:]) if len(shape) > 1 else ()
    t = rng().integers(0, 5, tshape)
    ex, tx = pair(x)
    et, tt = pair(t)
    kw = dict(opts)
    ew = tw = None
    if "weight" in kw:
        w = np.array(kw.pop("weight"), np.float32)
        ew, tw = ember.from_numpy(w), torch.from_numpy(w)
    e = enn.NLLLoss(weight=ew, reduction=reduction, **kw)(ex, et)
    r = torch.nn.NLLLoss(weight=tw, reduction=reduction, **kw)(tx, tt)
    if reduction == "none":
        np.testing.assert_array_equal(e.detach().numpy(), r.detach().numpy())
    check(e, r, [ex], [tx])
    assert e.grad_fn.name() == "NllLossBackward0"
    if reduction != "mean":  # -w[t] g: one product
        ex.grad = None
        EF.nll_loss(ex, et, weight=ew, reduction=reduction, **kw).sum().backward()
        tx.grad = None
        torch.nn.functional.nll_loss(tx, tt, weight=tw, reduction=reduction, **kw).sum().backward()
        np.testing.assert_array_equal(ex.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("threads", [1, 2])
def test_nll_loss_large_and_noncontiguous(threads):
    """Batches split across threads (the gradient zeroed by slabs of samples), K-dim inputs, a
    transposed input and log_softmax in front, float64: gradients equal to torch's bits."""
    prev = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        for shape, dt in [((4099, 10), np.float32), ((65, 10, 97), np.float32), ((300, 1000), np.float64)]:
            x = np.random.default_rng(7).standard_normal(shape).astype(dt)
            t = np.random.default_rng(8).integers(0, shape[1], (shape[0],) + shape[2:])
            t.reshape(-1)[::5] = -100
            ex, tx = pair(x)
            e = EF.nll_loss(EF.log_softmax(ex, 1), ember.from_numpy(t))
            r = torch.nn.functional.nll_loss(torch.log_softmax(tx, 1), torch.from_numpy(t))
            np.testing.assert_allclose(e.item(), r.item(), rtol=1e-6)
            e.backward()
            r.backward()
            np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-7)
        x = f32(12, 40).T  # (40, 12): classes along a strided dim
        t = rng().integers(0, 12, 40)
        ex = ember.from_numpy(np.ascontiguousarray(x.T)).t().requires_grad_(True)
        assert not ex.is_contiguous()
        _, tx = pair(x)
        check(EF.nll_loss(ex, ember.from_numpy(t), reduction="sum"),
              torch.nn.functional.nll_loss(tx, torch.from_numpy(t), reduction="sum"), [ex], [tx])
    finally:
        ember.set_num_threads(prev)


def test_nll_loss_all_ignored_empty_and_errors():
    ex, tx = pair(f32(3, 4))
    t = np.full(3, -100)
    e, r = EF.nll_loss(ex, ember.from_numpy(t)), torch.nn.functional.nll_loss(tx, torch.from_numpy(t))
    assert np.isnan(e.item()) and np.isnan(r.item())
    e.backward()
    r.backward()
    np.testing.assert_array_equal(ex.grad.numpy(), tx.grad.numpy())  # zeros: every sample ignored
    ex, tx = pair(np.zeros((0, 4), np.float32))
    te = ember.zeros(0, dtype=ember.int64)
    for red in REDUCTIONS:
        e = EF.nll_loss(ex, te, reduction=red)
        r = torch.nn.functional.nll_loss(tx, torch.zeros(0, dtype=torch.int64), reduction=red)
        np.testing.assert_array_equal(e.detach().numpy(), r.detach().numpy())
    with pytest.raises(RuntimeError, match="nll_loss: expected a floating point input, got int64"):
        EF.nll_loss(ember.zeros(3, 4, dtype=ember.int64), ember.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="nll_loss: expected an input of at least 1 dimension"):
        EF.nll_loss(ember.tensor(1.0), ember.tensor(0))
    with pytest.raises(RuntimeError, match="0-d target"):
        EF.nll_loss(ember.zeros(4), ember.tensor([1]))
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 4 classes"):
        EF.nll_loss(ember.zeros(3, 4), ember.tensor([0, 1, 2]), weight=ember.ones(3))
    with pytest.raises(IndexError, match=r"Target 4 is out of bounds\. Valid class indices for nll_loss are "
                                         r"\[0, 4\) \(or ignore_index = -1\)"):
        EF.nll_loss(ember.zeros(2, 4, 3), ember.tensor([[0, 1, -1], [2, 4, 3]]), ignore_index=-1)


@pytest.mark.parametrize("opts", [{}, {"weight": [0.5, 2.0, 1.0, 1.5], "ignore_index": 1}])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_double_backward_and_gradcheck(opts, reduction):
    """Under create_graph the gradient is built from differentiable ops: the second derivative of
    nll(log_softmax(x * x)) through it equals torch's; gradcheck in float64."""
    x = np.random.default_rng(5).standard_normal((4, 4))
    t = np.array([0, 1, 3, 2])
    w = opts.get("weight")
    kw = {"ignore_index": opts["ignore_index"]} if "ignore_index" in opts else {}
    ex, tx = pair(x)
    ew = ember.tensor(w, dtype=ember.float64) if w else None
    tw = torch.tensor(w, dtype=torch.float64) if w else None
    e = EF.nll_loss(EF.log_softmax(ex * ex, 1), ember.from_numpy(t), weight=ew, reduction=reduction, **kw).sum()
    r = torch.nn.functional.nll_loss(torch.log_softmax(tx * tx, 1), torch.from_numpy(t), weight=tw,
                                     reduction=reduction, **kw).sum()
    (eg,) = ember.autograd.grad(e, [ex], create_graph=True)
    (tg,) = torch.autograd.grad(r, [tx], create_graph=True)
    np.testing.assert_allclose(eg.detach().numpy(), tg.detach().numpy(), rtol=1e-10, atol=1e-12)
    v = np.random.default_rng(6).standard_normal((4, 4))
    (egg,) = ember.autograd.grad((eg * ember.from_numpy(v)).sum(), [ex])
    (tgg,) = torch.autograd.grad((tg * torch.from_numpy(v)).sum(), [tx])
    np.testing.assert_allclose(egg.numpy(), tgg.numpy(), rtol=1e-9, atol=1e-10)
    xg = ember.from_numpy(np.random.default_rng(1).standard_normal((3, 4, 2))).requires_grad_(True)
    tg3 = ember.from_numpy(np.array([[0, 3], [1, 1], [2, 2]]))
    assert ember.autograd.gradcheck(lambda a: EF.nll_loss(a, tg3, weight=ew, reduction=reduction, **kw), [xg])


# --- the other losses as modules ----------------------------------------------------------------------
def _cls_t(n, c, seed=2):
    return np.random.default_rng(seed).integers(0, c, n)


MODULE_CASES = [
    ("MSELoss", {}, lambda: [f32(3, 4), f32(3, 4) * 0.5]),
    ("L1Loss", {}, lambda: [f32(3, 4), f32(3, 4) * 0.5]),
    ("HuberLoss", {"delta": 0.5}, lambda: [f32(3, 4), f32(3, 4) * 0.3]),
    ("SmoothL1Loss", {"beta": 0.8}, lambda: [f32(3, 4), f32(3, 4) * 0.3]),
    ("SmoothL1Loss", {"beta": 0.0}, lambda: [f32(3, 4), f32(3, 4) * 0.3]),
    ("NLLLoss", {"ignore_index": 1}, lambda: [f32(6, 3), _cls_t(6, 3)]),
    ("NLLLoss", {}, lambda: [f32(2, 3, 4), _cls_t((2, 4), 3)]),
    ("BCELoss", {}, lambda: [f32(3, 4, lo=0.02, hi=0.98), f32(3, 4, lo=0, hi=1)]),
    ("BCEWithLogitsLoss", {}, lambda: [f32(3, 4, lo=-30, hi=30), f32(3, 4, lo=0, hi=1)]),
    ("MultiLabelSoftMarginLoss", {}, lambda: [f32(3, 4), f32(3, 4, lo=0, hi=1).round()]),
    ("MultiMarginLoss", {}, lambda: [f32(5, 4), _cls_t(5, 4)]),
    ("MultiMarginLoss", {"p": 2, "margin": 0.3}, lambda: [f32(4), np.array(2)]),
    ("KLDivLoss", {"reduction": "batchmean"}, lambda: [f32(3, 4), f32(3, 4, lo=0.01, hi=1)]),
    ("KLDivLoss", {"log_target": True}, lambda: [f32(3, 4), f32(3, 4)]),
    ("CosineEmbeddingLoss", {"margin": 0.1}, lambda: [f32(4, 5), f32(4, 5) * 0.7 + 0.1,
                                                      np.array([1.0, -1, -1, 1], np.float32)]),
    ("CosineEmbeddingLoss", {}, lambda: [f32(5), f32(5), np.array(-1.0, np.float32)]),
    ("MarginRankingLoss", {"margin": 0.2}, lambda: [f32(5), f32(5) * 0.5, np.array([1.0, -1, 1, -1, 1], np.float32)]),
    ("TripletMarginLoss", {"margin": 1.5, "p": 1.0, "swap": True}, lambda: [f32(4, 3), f32(4, 3) * 0.5, f32(4, 3)]),
    ("TripletMarginLoss", {}, lambda: [f32(6), f32(6) * 0.5, f32(6) * -1]),
    ("GaussianNLLLoss", {"full": True}, lambda: [f32(3, 4), f32(3, 4), f32(3, lo=0.1, hi=2)]),
    ("GaussianNLLLoss", {"eps": 0.5}, lambda: [f32(3, 4), f32(3, 4), f32(3, 4, lo=0.0, hi=1.0)]),
    ("PoissonNLLLoss", {"full": True}, lambda: [f32(3, 4), f32(3, 4, lo=0, hi=4)]),
    ("PoissonNLLLoss", {"log_input": False, "eps": 1e-3}, lambda: [f32(3, 4, lo=0.1, hi=2), f32(3, 4, lo=0, hi=3)]),
    ("CosineSimilarity", {"dim": 0, "eps": 0.5}, lambda: [f32(4, 3) * 0.1, f32(4, 3)]),
    ("PairwiseDistance", {"p": 3.0, "keepdim": True}, lambda: [f32(4, 3), f32(4, 3)]),
]


def _module_params():
    """(name, kwargs, make) for each case, once per applicable reduction (None: the default)."""
    out = []
    for i, (name, kw, make) in enumerate(MODULE_CASES):
        fixed = name in ("CosineSimilarity", "PairwiseDistance") or "reduction" in kw
        for r in [None] if fixed else REDUCTIONS + [None]:
            kw_r = dict(kw) if r is None else dict(kw, reduction=r)
            out.append(pytest.param(name, kw_r, make, id=f"{name}-{i}-{r}"))
    return out


@pytest.mark.parametrize("name,kw,make", _module_params())
def test_module_vs_torch(name, kw, make):
    arrays = make()
    es, ts = zip(*[pair(a) for a in arrays])
    e_out = getattr(enn, name)(**kw)(*es)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's KLDivLoss warns for 'mean'; ember does not
        t_out = getattr(torch.nn, name)(**kw)(*ts)
    check(e_out, t_out, es, ts)


@pytest.mark.parametrize("name,wshape,extra", [
    ("BCELoss", (4,), {}), ("BCEWithLogitsLoss", (3, 4), {}), ("MultiLabelSoftMarginLoss", (4,), {}),
    ("NLLLoss", (3,), {}), ("CrossEntropyLoss", (3,), {"label_smoothing": 0.1}), ("MultiMarginLoss", (3,), {}),
])
def test_weighted_losses(name, wshape, extra):
    w = f32(*wshape, lo=0.2, hi=2.0)
    if name in ("NLLLoss", "CrossEntropyLoss", "MultiMarginLoss"):
        arrays = [f32(5, 3), _cls_t(5, 3)]
    else:
        arrays = [f32(3, 4, lo=0.05, hi=0.95), f32(3, 4, lo=0, hi=1)]
    es, ts = zip(*[pair(a) for a in arrays])
    ew, tw = pair(w)
    # torch differentiates the weight of MultiLabelSoftMargin (a composite); so do we
    wgrad = name == "MultiLabelSoftMarginLoss"
    e_w, t_w = (ew, tw) if wgrad else (ew.detach(), tw.detach())
    e_out = getattr(enn, name)(weight=e_w, **extra)(*es)
    t_out = getattr(torch.nn, name)(weight=t_w, **extra)(*ts)
    check(e_out, t_out, list(es) + [ew], list(ts) + [tw])


def test_bce_with_logits_pos_weight_and_huge_logits():
    x = np.array([[1e4, -1e4, 0.5], [-80.0, 80.0, 0.0]], np.float32)
    y = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]], np.float32)
    pw = np.array([2.0, 0.5, 1.0], np.float32)
    (ex, tx), (ey, ty) = pair(x), pair(y)
    e = enn.BCEWithLogitsLoss(pos_weight=ember.from_numpy(pw), reduction="sum")(ex, ey)
    t = torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(pw), reduction="sum")(tx, ty)
    assert np.isfinite(e.item())
    check(e, t, [ex, ey], [tx, ty], rtol=1e-6)


def test_bce_log_clamped_at_minus_100():
    x = np.array([0.0, 1.0, 0.5], np.float32)
    y = np.array([1.0, 0.0, 1.0], np.float32)
    e = EF.binary_cross_entropy(ember.from_numpy(x), ember.from_numpy(y), reduction="none")
    t = torch.nn.functional.binary_cross_entropy(torch.from_numpy(x), torch.from_numpy(y), reduction="none")
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)
    assert e.numpy()[0] == 100.0


def test_kl_div_mean_matches_torch_legacy_mean():
    (ex, tx), (ey, ty) = pair(f32(3, 4)), pair(f32(3, 4, lo=0.05, hi=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about 'mean'; ember does not
        t = torch.nn.functional.kl_div(tx, ty, reduction="mean")
    check(EF.kl_div(ex, ey, reduction="mean"), t, [ex, ey], [tx, ty])


def test_regression_broadcasts_silently():
    (ex, tx), (ey, ty) = pair(f32(3, 4)), pair(f32(4))
    for fn in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = getattr(torch.nn.functional, fn)(tx, ty)
        e = getattr(EF, fn)(ex, ey)  # no warning (pytest turns warnings into errors)
        np.testing.assert_allclose(e.item(), t.item(), rtol=1e-6)


@pytest.mark.parametrize("fn", ["mse_loss", "l1_loss", "huber_loss"])
def test_regression_elementwise_weight(fn):
    (ex, tx), (ey, ty), (ew, tw) = pair(f32(3, 4)), pair(f32(3, 4)), pair(f32(3, 4, lo=0.1, hi=1))
    for r in REDUCTIONS:
        e = getattr(EF, fn)(ex, ey, reduction=r, weight=ew.detach())
        t = getattr(torch.nn.functional, fn)(tx, ty, reduction=r, weight=tw.detach())
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="same size"):
        getattr(EF, fn)(ex, ey, weight=ember.ones(4))


@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True), (False, True)])
def test_legacy_reduction_args(size_average, reduce):
    (ex, tx), (ey, ty) = pair(f32(3, 4)), pair(f32(3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.nn.MSELoss(size_average=size_average, reduce=reduce)
    e = enn.MSELoss(size_average=size_average, reduce=reduce)
    assert e.reduction == t.reduction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tv = torch.nn.functional.l1_loss(tx, ty, size_average, reduce)
    np.testing.assert_allclose(EF.l1_loss(ex, ey, size_average, reduce).detach().numpy(), tv.detach().numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("vshape", [(3, 4), (3,), (3, 1), (1, 4)])
def test_gaussian_nll_var_shapes(vshape):
    (ex, tx), (ey, ty), (ev, tv) = pair(f32(3, 4)), pair(f32(3, 4)), pair(f32(*vshape, lo=0.1, hi=2))
    check(EF.gaussian_nll_loss(ex, ey, ev), torch.nn.functional.gaussian_nll_loss(tx, ty, tv), [ex, ey, ev],
          [tx, ty, tv])


def test_gaussian_nll_float_var_and_errors():
    (ex, tx), (ey, ty) = pair(f32(3, 4)), pair(f32(3, 4))
    np.testing.assert_allclose(EF.gaussian_nll_loss(ex, ey, 0.5).item(),
                               torch.nn.functional.gaussian_nll_loss(tx, ty, 0.5).item(), rtol=1e-6)
    with pytest.raises(ValueError, match="incorrect size"):
        EF.gaussian_nll_loss(ex, ey, ember.ones(2, 2))
    with pytest.raises(ValueError, match="negative"):
        EF.gaussian_nll_loss(ex, ey, -ember.ones(3, 4))
    with pytest.raises(ValueError, match="negative"):
        EF.gaussian_nll_loss(ex, ey, -1.0)


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("C", [1, 7, 10, 15, 16, 17, 33, 48, 100, 127, 128, 129, 200])
def test_short_rows_and_special_values_match_torch(C, dtype):
    # Row kernels (softmax, log_softmax, cross-entropy) run the last C % lanes classes as one padded
    # vector, and float32 rows up to 128 run in registers (log_softmax in blocks of 16 rows):
    # widths around the vector lengths, 37 rows, with -inf, all -inf, NaN, +inf, large logits and
    # a three-way tie at 1e30 (log_softmax -log(3) there: (x - max) - log(sum), not x - (max + ...)).
    rng = np.random.default_rng(C)
    x = rng.standard_normal((37, C)).astype(dtype) * 5
    x[1, 0], x[2, :], x[3, C // 2], x[4, 0], x[5, -1] = -np.inf, -np.inf, np.nan, np.inf, 80.0
    x[20, : min(C, 3)] = 1e30
    g = rng.standard_normal((37, C)).astype(dtype)
    y = rng.integers(0, C, 37)
    finite = x.copy()
    finite[~np.isfinite(finite)] = 0.0
    for name in ("softmax", "log_softmax"):
        xe, xt = ember.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(x.copy()).requires_grad_()
        oe, ot = getattr(ember, name)(xe, 1), getattr(torch, name)(xt, 1)
        np.testing.assert_allclose(oe.detach().numpy(), ot.detach().numpy(), rtol=1e-5, atol=1e-6)
        oe.backward(ember.from_numpy(g.copy()))
        ot.backward(torch.from_numpy(g.copy()))
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)
        oe, ot = getattr(ember, name)(ember.from_numpy(x.T.copy()), 0), getattr(torch, name)(torch.from_numpy(x.T.copy()), 0)
        np.testing.assert_allclose(oe.numpy(), ot.numpy(), rtol=1e-5, atol=1e-6)  # columns
    for a in (x, finite):
        xe, xt = ember.from_numpy(a.copy()).requires_grad_(), torch.from_numpy(a.copy()).requires_grad_()
        le = ember.nn.functional.cross_entropy(xe, ember.from_numpy(y), reduction="none")
        lt = torch.nn.functional.cross_entropy(xt, torch.from_numpy(y), reduction="none")
        np.testing.assert_allclose(le.detach().numpy(), lt.detach().numpy(), rtol=1e-5, atol=1e-5)
        le.sum().backward()
        lt.sum().backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fn,param", [("huber_loss", "delta"), ("smooth_l1_loss", "beta")])
def test_huber_and_smooth_l1_kernels_match_torch_at_the_edges(fn, param):
    # One fused elementwise kernel each: values and gradients at |d| == delta/beta (torch's side:
    # the linear branch), near it, far out, at +-inf and NaN, for small and large parameters.
    d = np.array([0.0, -0.0, 0.3, -0.3, 0.5, -0.5, 0.5000001, 1.0, -1.0, 2.5, -7.0, 1e-3, 1e4, -1e4,
                  np.inf, -np.inf, np.nan] * 3, dtype=np.float32)
    y = np.linspace(-1, 1, d.size).astype(np.float32)
    for v in (0.5, 1.0, 1e-3, 10.0):
        ex = ember.tensor(d + y).requires_grad_()
        tx = torch.from_numpy(d + y).requires_grad_()
        e = getattr(EF, fn)(ex, ember.tensor(y), reduction="none", **{param: v})
        t = getattr(torch.nn.functional, fn)(tx, torch.from_numpy(y), reduction="none", **{param: v})
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=2e-7, atol=0, err_msg=str(v))
        g = np.linspace(0.5, 2.0, d.size).astype(np.float32)
        e.backward(ember.tensor(g))
        t.backward(torch.from_numpy(g))
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=2e-7, atol=0, err_msg=str(v))


@requires_torch
def test_mse_loss_one_pass_values_gradients_and_double_backward():
    # mean / sum reduce d = input - target with one sum-of-squares pass (gradient 2 d g / n):
    # values and first and second derivatives as torch's, on sizes around the vector length.
    rng = np.random.default_rng(8)
    for n in (1, 17, 1000, 4099):
        x = rng.standard_normal(n).astype(np.float32)
        y = rng.standard_normal(n).astype(np.float32)
        for r in ("mean", "sum"):
            ex, ey = ember.tensor(x).requires_grad_(), ember.tensor(y).requires_grad_()
            tx, ty = torch.from_numpy(x).requires_grad_(), torch.from_numpy(y).requires_grad_()
            e = EF.mse_loss(ex, ey, reduction=r)
            t = torch.nn.functional.mse_loss(tx, ty, reduction=r)
            np.testing.assert_allclose(e.item(), t.item(), rtol=2e-6)
            (egx,) = ember.autograd.grad(e, ex, create_graph=True)
            (tgx,) = torch.autograd.grad(t, tx, create_graph=True)
            np.testing.assert_allclose(egx.detach().numpy(), tgx.detach().numpy(), rtol=1e-6, atol=1e-9)
            (egy,) = ember.autograd.grad((egx * egx).sum(), ey)
            (tgy,) = torch.autograd.grad((tgx * tgx).sum(), ty)
            np.testing.assert_allclose(egy.numpy(), tgy.numpy(), rtol=1e-5, atol=1e-9)
    empty = EF.mse_loss(ember.zeros(0), ember.zeros(0))
    assert np.isnan(empty.item())


@requires_torch
@pytest.mark.parametrize("fn,kw", [("l1_loss", {}), ("huber_loss", {}), ("smooth_l1_loss", {}),
                                   ("smooth_l1_loss", {"beta": 0.0})])
def test_l1_and_huber_one_pass_values_gradients_and_double_backward(fn, kw):
    # l1_loss, and huber_loss / smooth_l1_loss at delta = beta = 1 (beta 0: l1), with mean / sum:
    # one pass over d = input - target (sum of |d| or of huber(d)), gradient sign(d) or
    # clamp(d, -1, 1) times g / n. Values and first and second derivatives as torch's, with the
    # kinks (|d| = 1, d = 0) and non-finite values, on sizes around the vector length.
    rng = np.random.default_rng(9)
    for n in (1, 17, 1000, 4099):
        x = rng.standard_normal(n).astype(np.float32) * 2
        y = rng.standard_normal(n).astype(np.float32)
        if n >= 17:
            x[:4] = y[:4] + np.array([1.0, -1.0, 0.0, 0.5], np.float32)
        for r in ("mean", "sum"):
            ex, ey = ember.tensor(x).requires_grad_(), ember.tensor(y).requires_grad_()
            tx, ty = torch.from_numpy(x).requires_grad_(), torch.from_numpy(y).requires_grad_()
            e = getattr(EF, fn)(ex, ey, reduction=r, **kw)
            t = getattr(torch.nn.functional, fn)(tx, ty, reduction=r, **kw)
            np.testing.assert_allclose(e.item(), t.item(), rtol=2e-6)
            (egx,) = ember.autograd.grad(e, ex, create_graph=True)
            (tgx,) = torch.autograd.grad(t, tx, create_graph=True)
            np.testing.assert_allclose(egx.detach().numpy(), tgx.detach().numpy(), rtol=1e-6, atol=1e-9)
            if fn != "l1_loss" and kw.get("beta", 1.0) != 0.0:  # |d|'s second derivative is 0 (torch: none)
                (egy,) = ember.autograd.grad((egx * egx).sum(), ey)
                (tgy,) = torch.autograd.grad((tgx * tgx).sum(), ty)
                np.testing.assert_allclose(egy.numpy(), tgy.numpy(), rtol=1e-5, atol=1e-9)
            e.backward()  # the fused (no graph) gradient
            t.backward()
            np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(ey.grad.numpy(), ty.grad.numpy(), rtol=1e-6, atol=1e-9)
    for v in (np.inf, np.nan):
        d = np.array([0.5, v, -2.0], np.float32)
        e = getattr(EF, fn)(ember.tensor(d), ember.zeros(3), **kw).item()
        t = getattr(torch.nn.functional, fn)(torch.from_numpy(d), torch.zeros(3), **kw).item()
        np.testing.assert_equal(e, t)


@requires_torch
@pytest.mark.parametrize("fn,param", [("huber_loss", "delta"), ("smooth_l1_loss", "beta")])
def test_huber_second_derivative_at_the_kinks(fn, param):
    # create_graph through the elementwise form: slope 1 strictly inside (-delta, delta), 0 from
    # |d| = delta on (torch's linear branch holds at the kink), for a non-default parameter.
    y = np.zeros(6, np.float32)
    x = np.array([0.5, -0.5, 0.25, -0.7, 2.0, 0.0], np.float32)
    ex, tx = ember.tensor(x).requires_grad_(), torch.from_numpy(x).requires_grad_()
    e = getattr(EF, fn)(ex, ember.tensor(y), reduction="none", **{param: 0.5})
    t = getattr(torch.nn.functional, fn)(tx, torch.from_numpy(y), reduction="none", **{param: 0.5})
    (egx,) = ember.autograd.grad(e.sum(), ex, create_graph=True)
    (tgx,) = torch.autograd.grad(t.sum(), tx, create_graph=True)
    np.testing.assert_allclose(egx.detach().numpy(), tgx.detach().numpy(), rtol=1e-6)
    (egg,) = ember.autograd.grad((egx * egx).sum(), ex)
    (tgg,) = torch.autograd.grad((tgx * tgx).sum(), tx)
    np.testing.assert_allclose(egg.numpy(), tgg.numpy(), rtol=1e-6)

"""torch functions composed from core ops (python/ember/_composite.py): values and gradients
against torch, float64, on one table of cases; integer utilities and error messages."""
import math

import ember
import numpy as np
import pytest
from conftest import requires_torch, torch

pytestmark = requires_torch
rng = np.random.default_rng(5)


def _arr(shape, kind="normal"):
    if kind == "pos":
        return rng.uniform(0.2, 3.0, shape)
    if kind == "special":
        a = rng.standard_normal(shape) * 3
        a.reshape(-1)[[0, 3, 5]] = [np.nan, np.inf, -np.inf]
        return a
    if kind == "ties":
        return rng.integers(-3, 4, shape).astype(np.float64)
    return rng.standard_normal(shape)


# name: (fn(L, *tensors), [(shape, kind), ...], differentiable)
CASES = {
    "broadcast_to": (lambda L, a: L.broadcast_to(a, (4, 3, 5)), [((3, 1), "normal")], True),
    "broadcast_to_method": (lambda L, a: a.broadcast_to((2, -1, 5)), [((3, 5), "normal")], True),
    "broadcast_tensors": (lambda L, a, b: L.broadcast_tensors(a, b), [((3, 1), "normal"), ((4, 1, 5), "normal")], True),
    "meshgrid_ij": (lambda L, a, b, c: L.meshgrid(a, b, c, indexing="ij"),
                    [((3,), "normal"), ((4,), "normal"), ((2,), "normal")], True),
    "meshgrid_xy": (lambda L, a, b, c: L.meshgrid([a, b, c], indexing="xy"),
                    [((3,), "normal"), ((4,), "normal"), ((2,), "normal")], True),
    "atleast_1d": (lambda L, a, b: L.atleast_1d(a, b), [((), "normal"), ((2, 3), "normal")], True),
    "atleast_2d": (lambda L, a, b, c: L.atleast_2d((a, b, c)), [((), "normal"), ((3,), "normal"), ((2, 3), "normal")], True),
    "atleast_3d": (lambda L, a, b, c: L.atleast_3d(a, b, c), [((), "normal"), ((3,), "normal"), ((2, 3), "normal")], True),
    "hstack_1d": (lambda L, a, b: L.hstack([a, b]), [((3,), "normal"), ((2,), "normal")], True),
    "hstack_2d": (lambda L, a, b: L.hstack((a, b)), [((3, 2), "normal"), ((3, 4), "normal")], True),
    "vstack": (lambda L, a, b: L.vstack([a, b]), [((3,), "normal"), ((2, 3), "normal")], True),
    "row_stack": (lambda L, a, b: L.row_stack([a, b]), [((3,), "normal"), ((3,), "normal")], True),
    "dstack": (lambda L, a, b: L.dstack([a, b]), [((3,), "normal"), ((1, 3, 2), "normal")], True),
    "column_stack": (lambda L, a, b, c: L.column_stack([a, b, c]), [((3,), "normal"), ((3, 2), "normal"), ((3,), "normal")], True),
    "tensor_split_n": (lambda L, a: L.tensor_split(a, 3, dim=1), [((2, 7), "normal")], True),
    "tensor_split_idx": (lambda L, a: a.tensor_split([1, 4, -1, 9], 0), [((6, 2), "normal")], True),
    "tensor_split_tensor": (lambda L, a: L.tensor_split(a, L.tensor([2, 3])), [((5,), "normal")], True),
    "count_nonzero": (lambda L, a: (L.count_nonzero(a), L.count_nonzero(a, dim=1), a.count_nonzero((0, 1))),
                      [((3, 4, 2), "ties")], False),
    "nan_to_num": (lambda L, a: L.nan_to_num(a), [((4, 5), "special")], True),
    "nan_to_num_args": (lambda L, a: a.nan_to_num(nan=1.5, posinf=9.0, neginf=-7.0), [((4, 5), "special")], True),
    "lerp_scalar": (lambda L, a, b: (L.lerp(a, b, 0.3), a.lerp(b, 0.8)), [((3, 4), "normal"), ((3, 4), "normal")], True),
    "lerp_tensor": (lambda L, a, b, w: L.lerp(a, b, w), [((3, 4), "normal"), ((4,), "normal"), ((3, 4), "normal")], True),
    "diag_vec": (lambda L, a: (L.diag(a), L.diag(a, 2), a.diag(-1)), [((4,), "normal")], True),
    "diag_mat": (lambda L, a: (L.diag(a), L.diag(a, 1), a.diag(-2)), [((3, 5), "normal")], True),
    "diag_embed": (lambda L, a: (L.diag_embed(a), L.diag_embed(a, 1, 0, 2), a.diag_embed(-2, -1, -3)),
                   [((2, 3), "normal")], True),
    "diagflat": (lambda L, a: (L.diagflat(a), a.diagflat(1)), [((2, 2), "normal")], True),
    "trace": (lambda L, a: (L.trace(a), a.trace()), [((3, 5), "normal")], True),
    "logaddexp": (lambda L, a, b: L.logaddexp(a, b), [((5, 6), "special"), ((5, 6), "normal")], True),
    "logaddexp_big": (lambda L, a, b: a.logaddexp(b * 300), [((5, 6), "normal"), ((5, 6), "normal")], True),
    "logaddexp_equal_infs": (lambda L, a: (L.logaddexp(a, a), L.logaddexp2(a, a)), [((5, 6), "special")], False),
    "lerp_ends_exact": (lambda L, a, b: (L.lerp(a * 1e20, b, 1.0), L.lerp(a * 1e20, b, L.full_like(b, 1.0))),
                        [((3, 4), "normal"), ((3, 4), "normal")], False),
    "logaddexp2": (lambda L, a, b: L.logaddexp2(a, b), [((5, 6), "normal"), ((6,), "normal")], True),
    "xlogy": (lambda L, a, b: L.xlogy(a * (a > 0), b), [((5, 6), "ties"), ((5, 6), "pos")], True),
    "xlogy_scalar": (lambda L, b: (L.xlogy(2.0, b), L.xlogy(b, 3.0)), [((5,), "pos")], True),
    "hypot": (lambda L, a, b: L.hypot(a, b), [((5, 6), "normal"), ((5, 6), "normal")], True),
    "hypot_extremes": (lambda L, a, b: L.hypot(a * 1e200, b * 1e-200), [((5, 6), "special"), ((5, 6), "normal")], False),
    "frac_fix_sgn": (lambda L, a: (L.frac(a * 3), L.fix(a * 3), L.sgn(a)), [((5, 6), "normal")], True),
    "heaviside": (lambda L, a, v: L.heaviside(a, v), [((5, 6), "ties"), ((6,), "normal")], False),
    "addcmul": (lambda L, a, b, c: (L.addcmul(a, b, c, value=0.5), a.addcmul(b, c)),
                [((3, 4), "normal"), ((3, 4), "normal"), ((4,), "normal")], True),
    "addcdiv": (lambda L, a, b, c: L.addcdiv(a, b, c, value=-2), [((3, 4), "normal"), ((3, 4), "normal"), ((3, 4), "pos")], True),
    "clamp_min_max": (lambda L, a: (L.clamp_min(a, -0.5), a.clamp_max(0.3)), [((3, 4), "normal")], True),
    "nansum": (lambda L, a: (L.nansum(a), L.nansum(a, 1), a.nansum((0, 1), keepdim=True)), [((3, 4, 5), "special")], True),
    "nanmean": (lambda L, a: (L.nanmean(a), a.nanmean(2)), [((3, 4, 5), "special")], True),
    "dist": (lambda L, a, b: (L.dist(a, b), a.dist(b, 1), L.dist(a, b, 3)), [((3, 4), "normal"), ((4,), "normal")], True),
    "aminmax": (lambda L, a: (tuple(L.aminmax(a)), tuple(a.aminmax(dim=1)), tuple(L.aminmax(a, dim=0, keepdim=True))),
                [((3, 4), "normal")], False),
    "median_all": (lambda L, a: (L.median(a), a.median()), [((3, 4), "normal")], True),
    "median_dim": (lambda L, a: tuple(L.median(a, 1)), [((3, 6), "normal")], True),
    "median_keepdim": (lambda L, a: tuple(a.median(0, keepdim=True)), [((5, 3), "normal")], True),
    "median_nan": (lambda L, a: (tuple(L.median(a, 1)), L.median(a)), [((4, 6), "special")], False),
    "kthvalue": (lambda L, a: (tuple(L.kthvalue(a, 2)), tuple(a.kthvalue(3, 0, True))), [((4, 5), "normal")], True),
    "diff": (lambda L, a: (L.diff(a), a.diff(2, 0), L.diff(a, dim=1, prepend=a[:, :2], append=a[:, :1])),
             [((4, 5), "normal")], True),
    "tensordot_int": (lambda L, a, b: L.tensordot(a, b, 2), [((2, 3, 4), "normal"), ((3, 4, 5), "normal")], True),
    "tensordot_lists": (lambda L, a, b: L.tensordot(a, b, ([0, 2], [2, 1])), [((2, 3, 4), "normal"), ((5, 4, 2), "normal")], True),
    "tensordot_zero": (lambda L, a, b: L.tensordot(a, b, 0), [((2, 3), "normal"), ((4,), "normal")], True),
    "inner": (lambda L, a, b: (L.inner(a, b), a.inner(b[0])), [((2, 3, 4), "normal"), ((5, 4), "normal")], True),
    "kron": (lambda L, a, b: (L.kron(a, b), a.kron(b[0])), [((2, 3), "normal"), ((4, 2, 2), "normal")], True),
    "cross": (lambda L, a, b: (L.cross(a, b, dim=1), a.cross(b, dim=-2)), [((4, 3, 2), "normal"), ((4, 3, 2), "normal")], True),
    "tile": (lambda L, a: (L.tile(a, (2,)), a.tile((2, 1, 3))), [((2, 3), "normal")], True),
    "repeat_interleave": (lambda L, a: (L.repeat_interleave(a, 2), a.repeat_interleave(3, dim=1),
                                        a.repeat_interleave(L.tensor([1, 0, 2]), dim=1)), [((2, 3), "normal")], True),
    "ravel_flips": (lambda L, a: (L.ravel(a.t()), L.fliplr(a), a.flipud()), [((3, 4), "normal")], True),
    "rot90": (lambda L, a: (L.rot90(a), L.rot90(a, 2), a.rot90(-1, (1, 2)), L.rot90(a, 3, [2, 0])), [((2, 3, 4), "normal")], True),
    "arc_aliases": (lambda L, a: (L.arcsin(a * 0.5), a.arctan(), L.arctan2(a, a + 1), L.arcsinh(a)), [((3, 4), "normal")], True),
}


def _flat(out):
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


@pytest.mark.parametrize("name", sorted(CASES))
def test_composite_matches_torch(name):
    fn, specs, grad = CASES[name]
    arrays = [_arr(shape, kind) for shape, kind in specs]
    results = {}
    for L in (ember, torch):
        ins = [L.from_numpy(a.copy()).requires_grad_(grad) for a in arrays]
        outs = _flat(fn(L, *ins))
        vals = [o.detach().numpy().copy() for o in outs]
        grads = []
        if grad:
            loss = sum((o * L.from_numpy(np.cos(np.arange(o.numel())).reshape(tuple(o.shape)))).sum()
                       for o in outs if o.is_floating_point() and o.requires_grad)
            grads = [g.numpy() if g is not None else None for g in L.autograd.grad(loss, ins, allow_unused=True)]
        results[L.__name__] = (vals, [tuple(o.shape) for o in outs], [str(o.dtype).split(".")[-1] for o in outs], grads)
    (ve, se, de, ge), (vt, st, dt, gt) = results["ember"], results["torch"]
    assert se == st and de == dt
    for e, t in zip(ve, vt):
        np.testing.assert_allclose(e, t, rtol=1e-12, atol=1e-12, equal_nan=True)
    for e, t in zip(ge, gt):
        if t is None:
            assert e is None or not np.any(e)
        else:
            np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_broadcast_shapes_and_errors():
    assert ember.broadcast_shapes((3, 1), (4, 1, 5), 5, ()) == torch.broadcast_shapes((3, 1), (4, 1, 5), 5, ())
    assert isinstance(ember.broadcast_shapes((2,)), ember.Size)
    with pytest.raises(RuntimeError, match=r"broadcast_shapes: .*dimension 1 is 3 .* 4 in \[2, 4\]"):
        ember.broadcast_shapes((2, 3), (2, 4))
    with pytest.raises(RuntimeError, match="expected 0-D or 1-D"):
        ember.meshgrid(ember.zeros(2, 2), ember.zeros(3))
    with pytest.raises(RuntimeError, match=r"kthvalue\(\): selected number k \(6\) out of range"):
        ember.kthvalue(ember.zeros(5), 6)
    with pytest.raises(RuntimeError, match="trace: expected a matrix"):
        ember.trace(ember.zeros(2, 2, 2))
    with pytest.raises(RuntimeError, match="tensordot: contracted dimensions need to match"):
        ember.tensordot(ember.zeros(2, 3), ember.zeros(4, 2), 1)
    with pytest.raises(RuntimeError, match="must have length 3"):
        ember.cross(ember.zeros(4, 2), ember.zeros(4, 2), dim=1)
    with pytest.raises(RuntimeError, match="repeats can not be negative"):
        ember.repeat_interleave(ember.zeros(3), ember.tensor([1, -1, 2]))
    with pytest.raises(RuntimeError, match="bincount only supports 1-d non-negative"):
        ember.bincount(ember.tensor([1, -2]))
    with pytest.raises(RuntimeError, match="number of sections must be larger than 0"):
        ember.tensor_split(ember.zeros(3), 0)


def test_integer_utilities_match_torch():
    a = rng.integers(0, 7, 40)
    w = rng.standard_normal(40).astype(np.float32)
    for args, kw in (((), {}), ((), {"minlength": 12})):
        assert np.array_equal(ember.bincount(ember.tensor(a), *args, **kw).numpy(), torch.bincount(torch.tensor(a), **kw).numpy())
    np.testing.assert_allclose(ember.tensor(a).bincount(ember.tensor(w)).numpy(),
                               torch.tensor(a).bincount(torch.tensor(w)).numpy(), rtol=1e-6)
    x = np.array([[3, 1, 3], [1, 2, 2]])
    for kw in ({}, {"return_inverse": True}, {"return_counts": True}, {"return_inverse": True, "return_counts": True},
               {"dim": 1, "return_inverse": True, "return_counts": True}, {"dim": 0}):
        e, t = _flat(ember.unique(ember.tensor(x), **kw)), _flat(torch.unique(torch.tensor(x), **kw))
        assert len(e) == len(t)
        for u, v in zip(e, t):
            assert u.dtype == getattr(ember, str(v.dtype).split(".")[-1]) and np.array_equal(u.numpy(), v.numpy())
    f = np.array([2.0, np.nan, 1.0, np.nan, 2.0])
    np.testing.assert_array_equal(ember.unique(ember.tensor(f)).numpy(), torch.unique(torch.tensor(f)).numpy())
    for r, c, o in ((4, 4, 0), (3, 5, 1), (5, 3, -2), (0, 3, 0)):
        assert np.array_equal(ember.tril_indices(r, c, o).numpy(), torch.tril_indices(r, c, o).numpy())
        assert np.array_equal(ember.triu_indices(r, c, o).numpy(), torch.triu_indices(r, c, o).numpy())
    assert ember.repeat_interleave(ember.tensor([2, 0, 3])).tolist() == torch.repeat_interleave(torch.tensor([2, 0, 3])).tolist()


def test_info_and_predicates():
    for d in ("float32", "float64"):
        e, t = ember.finfo(getattr(ember, d)), torch.finfo(getattr(torch, d))
        for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
            assert getattr(e, attr) == getattr(t, attr), (d, attr)
    assert ember.finfo().eps == torch.finfo().eps
    for d in ("int64", "int32", "uint8"):
        e, t = ember.iinfo(getattr(ember, d)), torch.iinfo(getattr(torch, d))
        assert (e.bits, e.max, e.min) == (t.bits, t.max, t.min)
    with pytest.raises(TypeError, match="finfo: expected a floating-point dtype"):
        ember.finfo(ember.int64)
    x = ember.zeros(2, 3)
    assert ember.is_tensor(x) and not ember.is_tensor(np.zeros(2))
    assert ember.is_floating_point(x) and not ember.is_floating_point(x.long())
    assert ember.numel(x) == 6
    assert math.isclose(float(ember.cosine_similarity(ember.ones(1, 3), ember.ones(1, 3))[0]), 1.0, rel_tol=1e-6)


# --- nn pieces composed from core ops: hardshrink, softshrink, glu, rms_norm, Softmax2d ----------
NN_CASES = {
    "hardshrink": (lambda L, x: (L.nn.functional.hardshrink(x), L.nn.Hardshrink(1.2)(x)), (4, 6)),
    "softshrink": (lambda L, x: (L.nn.functional.softshrink(x, 0.7), L.nn.Softshrink()(x)), (4, 6)),
    "glu": (lambda L, x: (L.nn.functional.glu(x), L.nn.GLU(0)(x)), (4, 6)),
    "rms_norm": (lambda L, x: (L.nn.functional.rms_norm(x, (6,)), L.nn.functional.rms_norm(x, [4, 6], eps=1e-3)), (3, 4, 6)),
    "rms_norm_weight": (lambda L, x: L.nn.functional.rms_norm(x, [6], L.linspace(0.5, 1.5, 6, dtype=x.dtype)), (3, 6)),
    "RMSNorm": (lambda L, x: L.nn.RMSNorm([6], dtype=x.dtype)(x), (3, 4, 6)),
    "Softmax2d": (lambda L, x: (L.nn.Softmax2d()(x), L.nn.Softmax2d()(x[0])), (2, 3, 4, 5)),
}


@pytest.mark.parametrize("name", sorted(NN_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nn_composites_match_torch(name, dtype):
    fn, shape = NN_CASES[name]
    a = (rng.standard_normal(shape) * 1.5).astype(dtype)
    res = []
    for L in (ember, torch):
        x = L.from_numpy(a.copy()).requires_grad_()
        outs = _flat(fn(L, x))
        sum((o * (k + 1)).sum() for k, o in enumerate(outs)).backward()
        res.append([o.detach().numpy() for o in outs] + [x.grad.numpy()])
    tol = 1e-6 if dtype == np.float32 else 1e-12
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=tol, atol=tol)


def test_nn_composite_modules_and_errors():
    for e, t in ((ember.nn.RMSNorm(4), torch.nn.RMSNorm(4)), (ember.nn.RMSNorm((2, 3), 1e-5, False), torch.nn.RMSNorm((2, 3), 1e-5, False)),
                 (ember.nn.GLU(1), torch.nn.GLU(1)), (ember.nn.Hardshrink(), torch.nn.Hardshrink()),
                 (ember.nn.Softshrink(0.2), torch.nn.Softshrink(0.2)), (ember.nn.Softmax2d(), torch.nn.Softmax2d())):
        assert repr(e) == repr(t)
        assert list(e.state_dict()) == list(t.state_dict())
    with pytest.raises(RuntimeError, match="glu: Halving dimension must be even, but dimension 1 is size 5"):
        ember.nn.functional.glu(ember.zeros(2, 5))
    with pytest.raises(RuntimeError, match=r"rms_norm: expected input with shape \[\*, 4\]"):
        ember.nn.functional.rms_norm(ember.zeros(2, 5), [4])
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0"):
        ember.nn.functional.softshrink(ember.zeros(2), -1.0)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D"):
        ember.nn.Softmax2d()(ember.zeros(2, 3))

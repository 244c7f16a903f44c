"""Reductions beyond the op table: errors, NaN propagation, empty and 0-d inputs, dtype rules,
named tuples, double backward (softmax, log_softmax, logsumexp, prod, ...) against torch."""
import math

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch


def T(a, dtype=None, requires_grad=False):
    t = ember.from_numpy(np.array(a, dtype=dtype))
    return t.requires_grad_(True) if requires_grad else t


def N(t):
    return t.detach().numpy()


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn", [
    lambda x: x.sum(2), lambda x: x.mean(-3), lambda x: x.prod(2), lambda x: x.var(5),
    lambda x: x.max(2), lambda x: x.min(-3), lambda x: x.amax(2), lambda x: x.argmax(2),
    lambda x: x.argmin(-3), lambda x: x.logsumexp(2), lambda x: x.all(2), lambda x: x.any(2),
    lambda x: x.norm(dim=2), lambda x: x.softmax(2), lambda x: x.log_softmax(-3),
    lambda x: x.cumsum(2), lambda x: x.cumprod(-3),
])
def test_bad_dim_raises_index_error(fn):
    with pytest.raises(IndexError, match=r"out of range \(expected to be in range of \[-2, 1\]"):
        fn(T(np.ones((2, 3))))


def test_repeated_dim():
    with pytest.raises(RuntimeError, match="appears multiple times"):
        T(np.ones((2, 3))).sum((0, 0))


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_max_of_empty_raises(name):
    with pytest.raises(RuntimeError, match=rf"{name}\(\): Expected reduction dim to be specified"):
        getattr(T(np.ones((0,))), name)()
    with pytest.raises((RuntimeError, IndexError), match=rf"{name}\(\): Expected reduction dim 0 to have non-zero"):
        getattr(T(np.ones((0, 3))), name)(0)


def test_argmax_errors():
    with pytest.raises(IndexError, match=r"argmax\(\): Expected reduction dim to be specified"):
        T(np.ones((0,))).argmax()
    with pytest.raises(RuntimeError, match=r"argmax\(\): does not support bool input"):
        T([True, False]).argmax()


@pytest.mark.parametrize("fn, match", [
    (lambda x: x.mean(), "mean"), (lambda x: x.var(), "std and var"), (lambda x: x.std(0), "std and var"),
    (lambda x: x.norm(), "vector_norm"),
])
def test_integer_inputs_rejected(fn, match):
    with pytest.raises(RuntimeError, match=match):
        fn(T([1, 2, 3], np.int64))


def test_softmax_int_needs_dtype():
    x = T([1, 2, 3], np.int64)
    with pytest.raises(NotImplementedError, match="softmax"):
        x.softmax(0)
    np.testing.assert_allclose(N(x.softmax(0, dtype=ember.float64)), np.exp([1, 2, 3]) / np.exp([1, 2, 3]).sum())


def test_var_argument_conflicts():
    x = T(np.ones((2, 3)))
    with pytest.raises(TypeError, match="unbiased"):
        x.var(0, True, correction=1)
    with pytest.raises(TypeError):
        x.prod((0, 1))
    with pytest.raises(NotImplementedError, match="nuc"):
        x.norm("nuc")


# --- dtype rules ----------------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("np_dtype", [np.bool_, np.uint8, np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize("op", ["sum", "prod", "cumsum", "cumprod", "amax", "max", "all", "any", "logsumexp"])
def test_dtype_rules_match_torch(op, np_dtype):
    a = (np.arange(6).reshape(2, 3) % 3).astype(np_dtype)
    args = (0,) if op in ("cumsum", "cumprod", "logsumexp") else ()
    e = getattr(T(a), op)(*args)
    t = getattr(torch.from_numpy(a), op)(*args)
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(N(e).astype(np.float64), t.numpy().astype(np.float64), rtol=1e-6)


def test_dtype_arguments():
    x = T([[1, 2], [3, 4]], np.int64)
    assert x.sum(dtype=ember.float32).dtype == ember.float32
    assert x.mean(dtype=ember.float64).dtype == ember.float64
    assert x.prod(1, dtype=ember.float64).dtype == ember.float64
    assert x.cumsum(0, dtype=ember.float32).dtype == ember.float32
    f = T([1.0, 2.0], np.float32, requires_grad=True)
    y = f.sum(dtype=ember.float64)
    assert y.dtype == ember.float64
    y.backward()
    assert f.grad.dtype == ember.float32


# --- NaN, inf, empty, 0-d -------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("op", [
    lambda L, x: x.max(), lambda L, x: x.min(), lambda L, x: x.amax(1), lambda L, x: x.amin(0),
    lambda L, x: x.argmax(), lambda L, x: x.argmin(1), lambda L, x: x.max(1).values,
    lambda L, x: x.max(1).indices, lambda L, x: x.min(0).indices, lambda L, x: x.argmax(0),
    lambda L, x: L.logsumexp(x, 1), lambda L, x: x.softmax(1), lambda L, x: x.log_softmax(0),
    lambda L, x: x.sum(1), lambda L, x: x.prod(0), lambda L, x: x.var(1), lambda L, x: x.norm(dim=1),
    lambda L, x: x.cumsum(1), lambda L, x: x.norm(float("inf"), dim=0),
])
def test_nan_and_inf_like_torch(op):
    a = np.array([[1.0, np.nan, 3.0, 3.0], [2.0, -np.inf, 5.0, np.nan], [np.inf, 0.0, -1.0, 7.0]])
    a = np.concatenate([a, np.tile(a[:, :1], (1, 300))], axis=1)  # long rows take the row kernels
    e, t = op(ember, T(a)), op(torch, torch.from_numpy(a))
    np.testing.assert_allclose(N(e), t.numpy(), rtol=1e-12, equal_nan=True)


@requires_torch
@pytest.mark.filterwarnings("ignore:.*degrees of freedom")  # torch warns on var/std of nothing
@pytest.mark.parametrize("op", [
    lambda L, x: x.sum(), lambda L, x: x.prod(), lambda L, x: x.mean(), lambda L, x: x.sum(0),
    lambda L, x: x.var(), lambda L, x: x.std(1), lambda L, x: x.all(), lambda L, x: x.any(),
    lambda L, x: x.norm(), lambda L, x: L.logsumexp(x, 0), lambda L, x: L.logsumexp(x, 1),
    lambda L, x: x.max(1).values, lambda L, x: x.argmax(1), lambda L, x: x.amax(1),
    lambda L, x: x.softmax(0), lambda L, x: x.cumsum(0), lambda L, x: x.cumprod(1),
])
def test_empty_like_torch(op):
    a = np.ones((0, 3))
    e, t = op(ember, T(a)), op(torch, torch.from_numpy(a))
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(N(e), t.numpy(), equal_nan=True)


@requires_torch
@pytest.mark.parametrize("op", [
    lambda L, x: x.sum(0), lambda L, x: x.prod(0), lambda L, x: x.max(), lambda L, x: x.max(0)[0],
    lambda L, x: x.max(-1, keepdim=True)[1], lambda L, x: x.argmax(0), lambda L, x: x.argmax(),
    lambda L, x: x.argmax(keepdim=True), lambda L, x: x.amax(0), lambda L, x: x.softmax(0),
    lambda L, x: x.log_softmax(-1), lambda L, x: x.cumsum(0), lambda L, x: x.logsumexp(0),
    lambda L, x: x.norm(), lambda L, x: x.var(correction=0), lambda L, x: x.all(0),
])
def test_zero_dim_like_torch(op):
    a = np.array(2.5)
    e, t = op(ember, T(a)), op(torch, torch.from_numpy(a))
    assert tuple(e.shape) == tuple(t.shape)
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(N(e), t.numpy())


def test_argmax_keepdim_flattened_shape():
    x = T(np.random.default_rng(0).standard_normal((2, 3, 4)))
    assert tuple(x.argmax(keepdim=True).shape) == (1, 1, 1)
    assert int(N(x.argmax())) == int(np.argmax(N(x)))


def test_ties_return_first_index():
    x = T([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    assert N(x.argmax(1)).tolist() == [1, 0]
    assert N(x.max(1).indices).tolist() == [1, 0]
    assert N(x.min(1).indices).tolist() == [3, 0]
    cols = T(np.array([[1.0, 3.0], [3.0, 3.0], [3.0, 1.0]]))
    assert N(cols.argmax(0)).tolist() == [1, 0]


# --- named tuples ---------------------------------------------------------------------------------
def test_max_min_named_tuple():
    x = T(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]))
    r = x.max(1)
    values, indices = r
    assert isinstance(r, ember.return_types.max) and isinstance(r, tuple)
    assert N(r.values).tolist() == [5.0, 7.0] and N(values).tolist() == [5.0, 7.0]
    assert N(r.indices).tolist() == [1, 0] and indices.dtype == ember.int64
    m = ember.min(x, dim=0, keepdim=True)
    assert type(m).__name__ == "min" and tuple(m.values.shape) == (1, 3)
    assert N(m.indices).tolist() == [[0, 1, 0]]
    assert N(ember.max(x, T(np.full(3, 4.0)))).tolist() == [[4.0, 5.0, 4.0], [7.0, 4.0, 4.0]]
    assert N(x.min(other=T(np.full(3, 4.0)))).tolist() == [[1.0, 4.0, 2.0], [4.0, 0.0, 3.0]]


def test_var_signatures():
    a = np.random.default_rng(1).standard_normal((3, 4))
    x = T(a)
    np.testing.assert_allclose(N(x.var(True)), a.var(ddof=1))
    np.testing.assert_allclose(N(x.var(False)), a.var())
    np.testing.assert_allclose(N(x.var(0, False, True)), a.var(0, keepdims=True))
    np.testing.assert_allclose(N(ember.std(x, dim=1, unbiased=True)), a.std(1, ddof=1))
    np.testing.assert_allclose(N(x.var(1, correction=2)), a.var(1, ddof=2))
    v, m = ember.var_mean(x, 0, correction=0)
    np.testing.assert_allclose(N(v), a.var(0))
    np.testing.assert_allclose(N(m), a.mean(0))


# --- gradients ------------------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("name, fn, a", [
    ("softmax", lambda L, x: L.softmax(x, 1), (3, 5)),
    ("softmax_dim0", lambda L, x: x.softmax(0), (4, 3)),
    ("log_softmax", lambda L, x: L.log_softmax(x, -1), (3, 5)),
    ("log_softmax_dim0", lambda L, x: x.log_softmax(0), (4, 3)),
    ("logsumexp", lambda L, x: L.logsumexp(x, 1), (3, 5)),
    ("prod", lambda L, x: x.prod(1), (3, 4)),
    ("prod_zero", lambda L, x: x.prod(1), "zeros"),
    ("cumsum", lambda L, x: x.cumsum(0), (4, 3)),
    ("cumprod", lambda L, x: x.cumprod(1), (3, 4)),
    ("cumprod_zero", lambda L, x: x.cumprod(1), "zeros"),
    ("var", lambda L, x: x.var(1), (3, 4)),
    ("std", lambda L, x: x.std(0), (3, 4)),
    ("norm", lambda L, x: x.norm(dim=1), (3, 4)),
    ("norm3", lambda L, x: x.norm(3), (3, 4)),
    ("amax", lambda L, x: x.amax(1), (3, 4)),
    ("max_dim", lambda L, x: x.max(1).values, (3, 4)),
])
def test_double_backward_against_torch(name, fn, a):
    rng = np.random.default_rng(7)
    if a == "zeros":
        a = rng.uniform(0.5, 1.5, (3, 4))
        a[0, 1] = 0.0
        a[1, [0, 2]] = 0.0
    else:
        a = rng.standard_normal(a)
    g = rng.standard_normal(tuple(fn(torch, torch.from_numpy(a)).shape))
    v = rng.standard_normal(a.shape)
    res = []
    for L, mk in ((ember, T), (torch, torch.from_numpy)):
        x = mk(a.copy())
        x.requires_grad_(True)
        y = fn(L, x)
        (gx,) = L.autograd.grad(y, x, mk(g.copy()), create_graph=True)
        if not gx.requires_grad:  # the gradient does not depend on x (linear or piecewise linear op)
            res.append((gx.detach().numpy(), None))
            continue
        (ggx,) = L.autograd.grad((gx * mk(v.copy())).sum(), x)
        res.append((gx.detach().numpy(), ggx.detach().numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-10, atol=1e-12)
    assert (res[0][1] is None) == (res[1][1] is None)
    if res[1][1] is not None:
        np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-9, atol=1e-12)


@requires_torch
def test_norm_gradient_at_zero_is_zero():
    x = T(np.zeros((2, 3)), requires_grad=True)
    x.norm().backward()
    assert np.all(N(x.grad) == 0)
    x = T(np.array([[0.0, 0.0], [3.0, 4.0]]), requires_grad=True)
    x.norm(dim=1).sum().backward()
    np.testing.assert_allclose(N(x.grad), [[0, 0], [0.6, 0.8]])


def test_std_gradient_at_zero_spread_is_zero():
    x = T(np.ones((2, 3)), requires_grad=True)
    x.std(1).sum().backward()
    assert np.all(N(x.grad) == 0)


def test_softmax_fused_backward_matches_composite():
    rng = np.random.default_rng(3)
    for shape, dim in (((64, 257), 1), ((5, 130, 3), 1), ((7, 9), 0)):
        a, g = rng.standard_normal(shape), rng.standard_normal(shape)
        for log in (False, True):
            x = T(a, requires_grad=True)
            y = x.log_softmax(dim) if log else x.softmax(dim)
            (fused,) = ember.autograd.grad(y, x, T(g))
            x = T(a, requires_grad=True)
            y = x.log_softmax(dim) if log else x.softmax(dim)
            (comp,) = ember.autograd.grad(y, x, T(g), create_graph=True)
            np.testing.assert_allclose(N(fused), N(comp), rtol=1e-10, atol=1e-13)


def test_softmax_float32_accuracy_and_extremes():
    rng = np.random.default_rng(4)
    a = (rng.standard_normal((16, 1000)) * 30).astype(np.float32)
    a[0, :] = -np.inf
    a[0, 3] = 0.0          # one finite entry: probability 1
    a[1, 5] = np.inf       # +inf: NaN row, like torch
    a[2, :] = -200.0       # far below exp's range: still uniform
    with np.errstate(invalid="ignore"):
        ref = np.exp(a.astype(np.float64) - a.astype(np.float64).max(1, keepdims=True))
        ref = ref / ref.sum(1, keepdims=True)
    out = N(T(a).softmax(1))
    np.testing.assert_allclose(out, ref, rtol=2e-6, atol=1e-30, equal_nan=True)
    assert math.isclose(float(out[0, 3]), 1.0) and out[0, 0] == 0.0
    lo = N(T(a).log_softmax(1))
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(lo[2:], np.log(ref[2:]), rtol=1e-5, atol=1e-4)


# --- sort, argsort, topk ----------------------------------------------------------------------------
def _sort_inputs(dtype):
    rng = np.random.default_rng(11)
    if dtype == "bool":
        return rng.random((3, 40)) > 0.5
    if dtype.startswith("float"):
        a = rng.integers(-4, 4, (3, 40)).astype(dtype)  # many ties
        a[0, ::7] = np.nan
        a[1, 3] = np.inf
        a[1, 5] = -np.inf
        return a
    return rng.integers(-4, 4, (3, 40)).astype(dtype)


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_stable_with_ties_nan_and_inf_matches_torch(dtype, descending):
    a = _sort_inputs(dtype)
    res = []
    for L in (ember, torch):
        x = L.from_numpy(a)
        v, i = L.sort(x, dim=1, descending=descending, stable=True)
        v0, i0 = x.sort(0, descending)  # the other dim, positional form
        res.append([v.numpy(), i.numpy(), v0.numpy(), L.argsort(x, dim=1, descending=descending, stable=True).numpy()])
        if dtype != "bool":
            for k in (0, 1, 5, 40):
                tv, ti = x.topk(k, dim=1, largest=not descending)
                # ties make topk's indices implementation-defined: compare the values, and check
                # the indices point at them
                res[-1].append(tv.numpy())
                np.testing.assert_array_equal(np.take_along_axis(a, ti.numpy(), 1), tv.numpy())
    for e, t in zip(*res):
        np.testing.assert_array_equal(e, t)


@requires_torch
def test_sort_and_topk_gradients_shapes_and_0d_match_torch():
    rng = np.random.default_rng(12)
    a = rng.standard_normal((4, 300, 3))  # long rows: the parallel path
    g = rng.standard_normal((4, 300, 3))
    out = []
    for L in (ember, torch):
        x = L.from_numpy(a).requires_grad_()
        v, i = x.sort(dim=1, descending=True)
        (v * L.from_numpy(g)).sum().backward()
        gx = x.grad.numpy().copy()
        x.grad = None
        tv, ti = L.topk(x, 7, dim=-2)
        (tv * L.from_numpy(g[:, :7])).sum().backward()
        s0 = L.tensor(3.5, requires_grad=True)
        v0, i0 = s0.sort()
        v0.backward()
        e = L.zeros(2, 0).sort(1)
        r = L.ones(5).topk(0)
        out.append([v.detach().numpy(), i.numpy(), gx, tv.detach().numpy(), ti.numpy(), x.grad.numpy(),
                    float(v0.detach()), int(i0), float(s0.grad), tuple(e.values.shape), tuple(r.indices.shape),
                    type(x.sort()).__name__, type(x.topk(1)).__name__])
    for e, t in zip(*out):
        if isinstance(e, np.ndarray):
            np.testing.assert_allclose(e, t, rtol=1e-12)
        else:
            assert e == t


@requires_torch
@pytest.mark.parametrize("call", [
    lambda L: L.ones(3, 4).topk(5),
    lambda L: L.ones(3, 4).topk(-1),
    lambda L: L.ones(3, 4).sort(dim=2),
    lambda L: L.ones(3, 4).topk(1, dim=-3),
])
def test_sort_topk_errors_match_torch_types(call):
    with pytest.raises((RuntimeError, IndexError)) as t:
        call(torch)
    with pytest.raises(type(t.value)) as e:
        call(ember)
    assert ("topk" in str(e.value) or "sort" in str(e.value) or "Dimension out of range" in str(e.value)), str(e.value)


def test_two_norm_is_one_pass_and_accurate():
    # p = 2 runs one sum-of-squares reduction (float rows: 16 float steps per lane, then double):
    # within 2 ulp of the float64 value on rows, columns, whole tensors, odd lengths and 0-d inputs,
    # with NaN and inf propagating.
    rng = np.random.default_rng(4)
    for shape, dim in [((7, 300), None), ((7, 300), 1), ((300, 7), 0), ((3, 1025, 5), 1),
                       ((100003,), None), ((), None)]:
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        got = ember.tensor(x).norm(dim=dim).numpy()
        want = np.sqrt((x.astype(np.float64) ** 2).sum(axis=dim))
        np.testing.assert_allclose(got, want, rtol=2 * 2.0 ** -23, err_msg=str((shape, dim)))
    assert ember.tensor(-3.0).norm().item() == 3.0
    assert np.isnan(ember.tensor([1.0, float("nan"), 2.0]).norm().item())
    assert ember.tensor([1.0, float("-inf")]).norm().item() == float("inf")


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_max_min_argmax_rows_and_columns_match_torch_with_ties_and_nan(dtype):
    # 64-lane extreme plus a block-wise first-index search: ties give the first index, a NaN
    # anywhere gives the first NaN, on row lengths around the lane count and on columns.
    rng = np.random.default_rng(9)
    for n in (1, 2, 10, 15, 16, 17, 31, 33, 63, 64, 65, 129, 1000):
        x = rng.integers(-3, 4, (8, n)).astype(dtype)  # many ties
        if dtype != "int64":
            x[1, n // 2] = np.nan
            x[2, -1] = np.nan
            x[3, :] = -np.inf
            if n > 2:
                x[4, [0, n - 1]] = np.nan
            x[5, 0] = np.nan
            x[6, -1] = np.inf
            x[7, n // 3] = -np.inf
        for dim in (1, 0):
            e, t = ember.tensor(x), torch.from_numpy(x.copy())
            for name in ("max", "min"):
                ev, ei = getattr(e, name)(dim)
                tv, ti = getattr(t, name)(dim)
                np.testing.assert_array_equal(ev.numpy(), tv.numpy(), err_msg=f"{name} {n} {dim}")
                np.testing.assert_array_equal(ei.numpy(), ti.numpy(), err_msg=f"{name} {n} {dim}")
            np.testing.assert_array_equal(e.argmax(dim).numpy(), t.argmax(dim).numpy())
            np.testing.assert_array_equal(e.argmin(dim).numpy(), t.argmin(dim).numpy())


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_logsumexp_fused_kernel_matches_torch(dtype, threads):
    # One reduced dim runs a fused kernel (rows when it is the last dim, blocks of columns
    # otherwise): long and odd rows, infinities (the shift is 0 where the max is infinite) and NaN.
    rng = np.random.default_rng(3)
    old = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        for shape, dim in [((300, 1030), 1), ((300, 1030), 0), ((4, 77, 130), 1), ((4, 77, 130), -1),
                           ((5000,), 0), ((3, 1), 1), ((1, 7), 0)]:
            x = (rng.standard_normal(shape) * 20).astype(dtype)
            x.flat[::13] = -np.inf
            x.flat[5::997] = np.inf
            x.flat[11::1499] = np.nan
            for keepdim in (False, True):
                got = ember.logsumexp(ember.from_numpy(x), dim, keepdim=keepdim).numpy()
                want = torch.logsumexp(torch.from_numpy(x), dim, keepdim=keepdim).numpy()
                assert got.shape == want.shape and got.dtype == want.dtype
                np.testing.assert_allclose(got, want, rtol=3e-6 if dtype == np.float32 else 1e-12, atol=0)
        x = np.full((3, 4), -np.inf, dtype)
        np.testing.assert_array_equal(ember.logsumexp(ember.from_numpy(x), 1).numpy(), [-np.inf] * 3)
    finally:
        ember.set_num_threads(old)


def _reference_order(row, descending):
    """Positions of row in torch's stable order: NaN above every number (first descending, last
    ascending), -0 == +0, ties by position."""
    v = row.astype(np.float64)
    nan = np.isnan(v)
    filled = np.where(nan, 0.0, v)
    idx = np.arange(v.size)
    if descending:
        return np.lexsort((idx, -filled, ~nan))
    return np.lexsort((idx, filled, nan))


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32"])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_small_k_long_rows_exact(dtype, largest):
    # Small k runs one pass that checks 16 values at a time against the current k-th: values,
    # and indices with ties broken by position (NaN above every number), on long rows with ties,
    # infinities and NaN on and across the chunk edges.
    rng = np.random.default_rng(8)
    n = 2051
    if dtype.startswith("float"):
        a = rng.standard_normal((6, n)).astype(dtype)
        a[1] = np.round(a[1] * 2)  # many ties
        a[2, [15, 16, 17, 1000]] = np.nan
        a[3, [31, 32, 2050]] = np.inf
        a[4, [0, 47, 48]] = -np.inf
        a[5, ::5] = a[5, 0]  # one value repeated across every chunk
    else:
        a = rng.integers(-50, 50, (6, n)).astype(dtype)
    for k in (1, 2, 5, 17, 32):
        got_v, got_i = ember.from_numpy(a).topk(k, dim=1, largest=largest)
        for r in range(a.shape[0]):
            order = _reference_order(a[r], largest)
            np.testing.assert_array_equal(got_i.numpy()[r], order[:k], err_msg=f"k={k} row {r}")
            np.testing.assert_array_equal(got_v.numpy()[r], a[r, order[:k]])


@pytest.mark.parametrize("dtype", ["float32", "int32", "float64", "int64"])
@pytest.mark.parametrize("descending", [False, True])
def test_full_sort_long_rows_stable_exact(dtype, descending):
    # Rows from 64 values on sort float32 / int32 by LSD radix (other types: stable_sort): the
    # order must be the comparator's, stable, with NaN last ascending / first descending, -0 and
    # +0 equal (kept in input order), infinities, and one digit shared by the whole row.
    rng = np.random.default_rng(9)
    n = 1000
    if dtype.startswith("float"):
        a = rng.standard_normal((7, n)).astype(dtype)
        a[1] = np.round(a[1] * 3)  # many ties
        a[2, ::9] = np.nan
        a[3, ::2] = -0.0
        a[3, 1::2] = 0.0
        a[4, :5] = [np.inf, -np.inf, np.inf, -np.inf, np.nan]
        a[5] = (rng.integers(0, 4, n) + 1000).astype(dtype)  # high bytes all equal
        a[6, ::3] = np.float32(1e-40)  # subnormals
    else:
        a = rng.integers(-300, 300, (7, n)).astype(dtype)
        a[5] = rng.integers(0, 4, n) + 7  # high bytes all equal
        a[6, ::2] = np.iinfo(dtype).min
        a[6, 1::4] = np.iinfo(dtype).max
    got_v, got_i = ember.from_numpy(a).sort(dim=1, descending=descending, stable=True)
    for r in range(a.shape[0]):
        order = _reference_order(a[r], descending)
        np.testing.assert_array_equal(got_i.numpy()[r], order, err_msg=f"row {r}")
        np.testing.assert_array_equal(got_v.numpy()[r].view(np.uint8), a[r, order].view(np.uint8))
    # argsort and the other dim (columns made rows) take the same path
    np.testing.assert_array_equal(ember.argsort(ember.from_numpy(a), dim=1, descending=descending,
                                                stable=True).numpy(), got_i.numpy())
    t = ember.from_numpy(np.ascontiguousarray(a.T)).sort(dim=0, descending=descending, stable=True)
    np.testing.assert_array_equal(t.indices.numpy(), got_i.numpy().T)


@requires_torch
@pytest.mark.parametrize("dims", [(0, 2), (0, 2, 4), (1, 3), (0, 1, 3), (4, 0), (0, 1, 3, 4)])
@pytest.mark.parametrize("transposed", [False, True])
def test_non_adjacent_dims_match_torch(dims, transposed):
    """Reduced dims in several runs: one pass per run, innermost first (float64 against torch)."""
    a = np.random.default_rng(8).standard_normal((3, 4, 5, 6, 7))
    e, t = ember.from_numpy(a.copy()), torch.from_numpy(a.copy())
    if transposed:
        e, t = e.transpose(1, 3), t.transpose(1, 3)
    for op in ("sum", "mean", "amax", "amin", "var", "std", "logsumexp"):
        np.testing.assert_allclose(getattr(e, op)(dims).numpy(), getattr(t, op)(dims).numpy(), rtol=1e-12,
                                   atol=1e-12, err_msg=op)
    np.testing.assert_allclose(e.norm(dim=dims).numpy(), t.square().sum(dims).sqrt().numpy(), rtol=1e-12)
    np.testing.assert_allclose(e.sum(dims, keepdim=True).numpy(), t.sum(dims, keepdim=True).numpy(), rtol=1e-12,
                               atol=1e-12)
    b = a > 0.2
    np.testing.assert_array_equal(ember.from_numpy(b).sum(dims).numpy(), b.sum(dims))


ROW_LENGTHS = list(range(70)) + [255, 256, 257, 511, 512, 513, 1000, 1023, 1024, 1025, 2049]


@pytest.mark.parametrize("threads", [1, 2])
def test_float_rows_of_every_length_against_float64(threads):
    # Row reductions of float32 (the AVX-512 row kernels: vector blocks, masked tails, float blocks
    # of at most 16 values a lane widened into double): sums within their documented rounding of
    # the float64 value, extremes exact, a NaN anywhere in a row giving NaN, on every short length.
    rng = np.random.default_rng(12)
    old = ember.get_num_threads()
    ember.set_num_threads(threads)
    try:
        for n in ROW_LENGTHS:
            x = (rng.standard_normal((5, n)) * 4).astype(np.float32)
            if n:
                x[3, rng.integers(0, n)] = np.nan
                x[4, :] = -np.abs(x[4, :]) - 1  # all negative: the max is below the init
            x64 = x.astype(np.float64)
            e = ember.tensor(x)
            bound = 16 * 2.0 ** -24 * np.abs(x64).sum(1) + 2.0 ** -24 * np.abs(x64.sum(1))
            for name, got, want, scale in [
                ("sum", e.sum(1), x64.sum(1), bound),
                ("mean", e.mean(1), x64.mean(1) if n else np.full(5, np.nan), bound / max(n, 1)),
                ("norm1", e.norm(1, dim=1), np.abs(x64).sum(1), bound),
                ("norm2", e.norm(dim=1), np.sqrt((x64 ** 2).sum(1)),
                 2.0 ** -22 * np.sqrt((x64 ** 2).sum(1))),
            ]:
                g = got.numpy().astype(np.float64)
                assert np.array_equal(np.isnan(g), np.isnan(want)), (name, n)
                ok = ~np.isnan(want)
                assert np.all(np.abs(g[ok] - want[ok]) <= scale[ok]), (name, n, g, want)
            if n:
                np.testing.assert_array_equal(e.amax(1).numpy(), x.max(1), err_msg=f"amax {n}")
                np.testing.assert_array_equal(e.amin(1).numpy(), x.min(1), err_msg=f"amin {n}")
                np.testing.assert_array_equal(e.amax((0, 1)).numpy(), x.max(), err_msg=f"{n}")
    finally:
        ember.set_num_threads(old)

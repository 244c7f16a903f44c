"""x[...] and x[...] = v against torch (the API's authority) and numpy, over a table of index
expressions plus randomly generated ones; gradients through getitem/setitem; index ops' errors."""

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch

pytestmark = requires_torch

SHAPE = (4, 5, 6)
R = np.random.default_rng(7)


def I64(*v):  # noqa: N802
    return np.array(v, dtype=np.int64)


class T:
    """An index tensor in an expression: becomes ember/torch tensors of the same values."""

    def __init__(self, a):
        self.a = np.asarray(a)

    def __repr__(self):
        return f"T({self.a.tolist()!r}:{self.a.dtype})"


def conv(expr, lib):
    def one(e):
        if isinstance(e, T):
            return lib.from_numpy(e.a.copy())
        return e

    return tuple(one(e) for e in expr) if isinstance(expr, tuple) else one(expr)


# (expression, numpy agrees with torch)
EXPRS = [
    0,
    -1,
    (1, 2),
    (1, -1, 3),
    slice(None),
    slice(1, 3),
    slice(None, None, 2),
    slice(-3, None),
    slice(-100, 100),
    slice(5, 1),
    (slice(None), slice(1, None, 3)),
    (Ellipsis, 1),
    (None,),
    (None, Ellipsis, None),
    (1, None, slice(None), 2),
    (Ellipsis,),
    (Ellipsis, None),
    (2, Ellipsis, -1),
    [0, 2],
    T(I64(0, 1, 2, 3).reshape(2, 2)),
    ([0, 1], [1, 2]),
    ([0, 1], slice(None), [2, 3]),
    (slice(None), [0, 4], [1, 5]),
    ([0], slice(1, 3), [[1], [2]]),
    ([0, 1], 2),
    (Ellipsis, [0, -1]),
    (None, [0, 1], None),
    (slice(1, 3), [[0], [4]], slice(None, None, 2)),
    [-4, 3, -1],
    True,
    False,
    (True, 0),
    (slice(None), False),
    (None, True, 1),
    T(I64(3, 0, 3)),
    T(np.array([1, 2], dtype=np.int32)),
    I64(0, 2),
    (slice(None), I64(1, 1)),
    T(R.random(SHAPE) > 0.5),
    T(R.random(4) > 0.5),
    (T(R.random((4, 5)) > 0.3), slice(1, 3)),
    (slice(None), T(R.random((5, 6)) > 0.5)),
    (0, T(R.random(5) > 0.5)),
    (T(np.array([True, False, True, False])), [0, 2]),
    T(np.array(2)),
    (1, T(np.array(-1))),
    T(np.array(True)),
    T(np.array(False)),
    [],
    (slice(None), []),
    np.int64(2),
    (np.int32(1), slice(None), np.int64(-1)),
    R.random(4) > 0.5,
]
# torch and numpy place advanced dims differently when an int separates them from an array
TORCH_ONLY = {"(1, slice(None, None, None), [0, 2])", "(0, T"}


def numpy_agrees(expr):
    r = repr(expr)
    return not any(r.startswith(p) for p in TORCH_ONLY)


def np_expr(expr):
    def one(e):
        return e.a if isinstance(e, T) else e

    return tuple(one(e) for e in expr) if isinstance(expr, tuple) else one(expr)


def base_array(dtype=np.float64):
    return np.arange(np.prod(SHAPE), dtype=dtype).reshape(SHAPE) * 0.5 - 7


@pytest.mark.parametrize("expr", EXPRS, ids=[repr(e) for e in EXPRS])
def test_getitem(expr):
    a = base_array()
    e = ember.from_numpy(a.copy())[conv(expr, ember)]
    t = torch.from_numpy(a.copy())[conv(expr, torch)]
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    if numpy_agrees(expr):
        np.testing.assert_array_equal(e.numpy(), a[np_expr(expr)])


@pytest.mark.parametrize("expr", EXPRS, ids=[repr(e) for e in EXPRS])
def test_getitem_view_semantics(expr):
    """Basic indexing returns a view (writes show through), advanced indexing a copy, like torch."""
    a = base_array()
    ex, tx = ember.from_numpy(a.copy()), torch.from_numpy(a.copy())
    e, t = ex[conv(expr, ember)], tx[conv(expr, torch)]
    e.fill_(100.0)
    t.fill_(100.0)
    np.testing.assert_array_equal(ex.numpy(), tx.numpy())


VALUE_KINDS = ["scalar", "full", "bcast", "int_scalar"]


@pytest.mark.parametrize("kind", VALUE_KINDS)
@pytest.mark.parametrize("expr", EXPRS, ids=[repr(e) for e in EXPRS])
def test_setitem(expr, kind):
    a = base_array()
    ex, tx = ember.from_numpy(a.copy()), torch.from_numpy(a.copy())
    tshape = tuple(tx[conv(expr, torch)].shape)
    if kind == "scalar":
        ev = tv = 3.5
    elif kind == "int_scalar":
        ev = tv = 2
    else:
        vshape = tshape if kind == "full" else tshape[-1:]
        v = np.random.default_rng(0).standard_normal(vshape)
        ev, tv = ember.from_numpy(v.copy()), torch.from_numpy(v.copy())
    ex[conv(expr, ember)] = ev
    tx[conv(expr, torch)] = tv
    np.testing.assert_array_equal(ex.numpy(), tx.numpy())


@pytest.mark.parametrize("expr", EXPRS[:30:3] + [([0, 1], slice(None), [2, 3])])
def test_setitem_casts_to_self_dtype(expr):
    a = np.arange(np.prod(SHAPE), dtype=np.int64).reshape(SHAPE)
    ex, tx = ember.from_numpy(a.copy()), torch.from_numpy(a.copy())
    ex[conv(expr, ember)] = 7.9
    tx[conv(expr, torch)] = 7.9
    assert ex.dtype == ember.int64
    np.testing.assert_array_equal(ex.numpy(), tx.numpy())
    ex[conv(expr, ember)] = ember.from_numpy(np.array(-2.5))  # torch needs an explicit cast here
    tx[conv(expr, torch)] = torch.from_numpy(np.array(-2.5)).to(torch.int64)
    np.testing.assert_array_equal(ex.numpy(), tx.numpy())


GRAD_EXPRS = [e for e in EXPRS if not (isinstance(e, bool) or e is False)]


@pytest.mark.parametrize("expr", GRAD_EXPRS, ids=[repr(e) for e in GRAD_EXPRS])
def test_getitem_grad(expr):
    a = base_array()
    ex = ember.from_numpy(a.copy()).requires_grad_()
    tx = torch.from_numpy(a.copy()).requires_grad_()
    e, t = ex[conv(expr, ember)], tx[conv(expr, torch)]
    w = np.random.default_rng(1).standard_normal(tuple(t.shape))
    (e * ember.from_numpy(w.copy())).sum().backward()
    (t * torch.from_numpy(w.copy())).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("expr", GRAD_EXPRS, ids=[repr(e) for e in GRAD_EXPRS])
def test_setitem_grad(expr):
    """Both the written tensor's old value and the value get gradients, through views too."""
    a = base_array()
    tshape = tuple(torch.from_numpy(a)[conv(expr, torch)].shape)
    v = np.random.default_rng(2).standard_normal(tshape[-1:] if tshape else ())
    w = np.random.default_rng(3).standard_normal(SHAPE)
    grads = []
    for lib in (ember, torch):
        x = lib.from_numpy(a.copy()).requires_grad_()
        val = lib.from_numpy(v.copy()).requires_grad_()
        y = x * 2
        y[conv(expr, lib)] = val * 3
        (y * lib.from_numpy(w.copy())).sum().backward()
        grads.append((x.grad.numpy(), val.grad.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0])
    np.testing.assert_allclose(grads[0][1], grads[1][1])


def random_expr(rng):
    """A random index expression over SHAPE: ints, slices, None, one Ellipsis, arrays, masks."""
    parts, dims, ell = [], 0, False
    while dims < len(SHAPE) and rng.random() < 0.8:
        n = SHAPE[dims]
        k = rng.integers(0, 9)
        if k == 0:
            parts.append(int(rng.integers(-n, n)))
            dims += 1
        elif k in (1, 2):
            lo, hi = rng.integers(-n - 2, n + 2, 2)
            parts.append(
                slice(
                    *(None if rng.random() < 0.3 else int(v) for v in (lo, hi)),
                    int(rng.integers(1, 4)),
                )
            )
            dims += 1
        elif k == 3:
            parts.append(None)
        elif k == 4 and not ell:
            parts.append(Ellipsis)
            ell = True
            dims = len(SHAPE) - sum(1 for p in parts if p is not None and p is not Ellipsis) + dims
            dims = min(dims, len(SHAPE))
        elif k in (5, 6):
            parts.append(T(rng.integers(-n, n, rng.integers(1, 4))))
            dims += 1
        elif k == 7 and dims + 1 < len(SHAPE):
            parts.append(T(rng.random((n, SHAPE[dims + 1])) < 0.4))
            dims += 2
        else:
            parts.append(T(rng.integers(0, n, (2, 1))))
            dims += 1
    return tuple(parts)


@pytest.mark.parametrize("seed", range(150))
def test_random_expressions(seed):
    rng = np.random.default_rng(seed)
    expr = random_expr(rng)
    a = base_array()
    try:
        t = torch.from_numpy(a.copy())[conv(expr, torch)]
    except (IndexError, RuntimeError, ValueError) as err:
        with pytest.raises(type(err)):
            ember.from_numpy(a.copy())[conv(expr, ember)]
        return
    e = ember.from_numpy(a.copy())[conv(expr, ember)]
    assert tuple(e.shape) == tuple(t.shape), expr
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    ex, tx = ember.from_numpy(a.copy()), torch.from_numpy(a.copy())
    v = rng.standard_normal(tuple(t.shape))
    ex[conv(expr, ember)] = ember.from_numpy(v.copy())
    tx[conv(expr, torch)] = torch.from_numpy(v.copy())
    np.testing.assert_array_equal(ex.numpy(), tx.numpy())


# --- errors ---------------------------------------------------------------------------------------
def x3():
    return ember.from_numpy(base_array())


@pytest.mark.parametrize(
    "expr, exc, msg",
    [
        (5, IndexError, "index 5 is out of bounds for dimension 0 with size 4"),
        (-5, IndexError, "index -5 is out of bounds for dimension 0 with size 4"),
        ((0, 7), IndexError, "index 7 is out of bounds for dimension 1 with size 5"),
        ((0, 0, 0, 0), IndexError, "too many indices for tensor of dimension 3"),
        ((Ellipsis, Ellipsis), IndexError, "single ellipsis"),
        (slice(None, None, -1), ValueError, "step must be greater than zero"),
        (slice(None, None, 0), ValueError, "step must be greater than zero"),
        ([4], IndexError, "index 4 is out of bounds for dimension 0 with size 4"),
        ((slice(None), [-6]), IndexError, "index -6 is out of bounds for dimension 1 with size 5"),
        (1.5, IndexError, "only integers, slices"),
        ("a", IndexError, "only integers, slices"),
        ([0.5], IndexError, "tensors used as indices must be long, int, byte or bool tensors"),
        (
            T(np.ones(3, dtype=bool)),
            IndexError,
            r"The shape of the mask \[3\] at index 0 does not match",
        ),
        (
            ([0, 1], [0, 1, 2]),
            IndexError,
            "shape mismatch: indexing tensors could not be broadcast",
        ),
    ],
)
def test_getitem_errors(expr, exc, msg):
    with pytest.raises(exc, match=msg):
        x3()[conv(expr, ember)]


def test_getitem_float_tensor_index_error():
    with pytest.raises(IndexError, match="tensors used as indices must be long, int, byte or bool"):
        x3()[ember.from_numpy(np.array([1.0]))]


def test_setitem_errors():
    x = x3()
    with pytest.raises(RuntimeError, match="shape mismatch: value tensor of shape"):
        x[0] = ember.from_numpy(np.ones(4))
    with pytest.raises(RuntimeError, match="shape mismatch: value tensor of shape"):
        x[[0, 1]] = ember.from_numpy(np.ones((3, 5, 6)))
    with pytest.raises(IndexError, match="index 9 is out of bounds"):
        x[[9]] = 1.0
    with pytest.raises(TypeError, match="can't assign"):
        x[0] = "a"
    leaf = ember.from_numpy(base_array()).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf[0] = 1.0
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf[[0]] = 1.0


def test_setitem_value_leading_ones_and_sequences():
    x, t = x3(), torch.from_numpy(base_array())
    x[0, 1] = ember.from_numpy(np.arange(6.0).reshape(1, 1, 6))
    t[0, 1] = torch.arange(6.0, dtype=torch.float64).reshape(1, 1, 6)
    x[1, :, 0] = [1, 2, 3, 4, 5]
    t[1, :, 0] = torch.tensor([1, 2, 3, 4, 5])
    x[2, [0, 1], 0] = np.array([9.0, 8.0])
    t[2, [0, 1], 0] = torch.tensor([9.0, 8.0], dtype=torch.float64)
    np.testing.assert_array_equal(x.numpy(), t.numpy())


def test_setitem_overlapping_value():
    a = np.arange(10.0)
    x, t = ember.from_numpy(a.copy()), torch.from_numpy(a.copy())
    x[1:] = x[:-1]
    t[1:] = t[:-1].clone()
    x2 = ember.from_numpy(a.copy())
    x2[[0, 1, 2]] = x2[1:4]
    np.testing.assert_array_equal(x.numpy(), t.numpy())
    np.testing.assert_array_equal(x2.numpy()[:3], a[1:4])


def test_iteration_and_len():
    x = ember.from_numpy(np.arange(6.0).reshape(3, 2))
    rows = [r.numpy().tolist() for r in x]
    assert rows == [[0, 1], [2, 3], [4, 5]]
    assert len(x) == 3


def test_getitem_double_backward():
    a = base_array()
    res = []
    for lib in (ember, torch):
        x = lib.from_numpy(a.copy()).requires_grad_()
        y = (x[[0, 0, 2], 1:] ** 2).sum()
        (g,) = (ember.autograd.grad if lib is ember else torch.autograd.grad)(
            y, [x], create_graph=True
        )
        (g[1:3, [0, 4]] * x[:2, :2, :1]).sum().backward()
        res.append(x.grad.numpy())
    np.testing.assert_allclose(res[0], res[1])


def test_advanced_index_is_copy_basic_is_view():
    x = x3()
    assert x[1:3]._is_view() and x[0]._base is x
    y = x[[0, 1]]
    assert not y._is_view()
    assert x[...]._base is x and x[...] is not x


def test_large_kernels_match_numpy():
    """Sizes above the kernels' parallel grain: accumulation with many duplicates stays exact."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((300, 400))
    i = rng.integers(0, 300, 5000)
    v = rng.standard_normal((5000, 400))
    x = ember.from_numpy(a.copy())
    x.index_put_((ember.from_numpy(i),), ember.from_numpy(v), accumulate=True)
    ref = a.copy()
    np.add.at(ref, i, v)
    np.testing.assert_allclose(x.numpy(), ref, rtol=1e-12, atol=1e-12)
    idx = rng.integers(0, 400, (300, 3000))
    src = rng.standard_normal((300, 3000))
    out = ember.from_numpy(a.copy()).scatter_add(1, ember.from_numpy(idx), ember.from_numpy(src))
    ref = a.copy()
    np.add.at(ref, (np.arange(300)[:, None], idx), src)
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12, atol=1e-12)
    g = ember.from_numpy(a).gather(1, ember.from_numpy(idx))
    np.testing.assert_array_equal(g.numpy(), np.take_along_axis(a, idx, 1))
    j = rng.integers(-400, 400, 100000)
    np.testing.assert_array_equal(ember.from_numpy(a)[:, j].numpy(), a[:, j])
    m = a > 0
    np.testing.assert_array_equal(ember.from_numpy(a)[ember.from_numpy(m)].numpy(), a[m])
    x = ember.from_numpy(a.copy())
    x[ember.from_numpy(m)] = 0.0
    np.testing.assert_array_equal(x.numpy(), np.where(m, 0.0, a))


def test_index_error_in_large_parallel_index():
    a = np.zeros((10, 100000))
    j = np.zeros(200000, dtype=np.int64)
    j[150000] = 100000
    with pytest.raises(
        IndexError, match="index 100000 is out of bounds for dimension 1 with size 100000"
    ):
        ember.from_numpy(a)[:, j]


# --- row paths: whole contiguous rows gathered and scattered (embedding, index_select, index_add) --
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("values", ["rows", "broadcast_row", "scalar"])
def test_row_scatter_and_gather_match_torch(dtype, values):
    rng = np.random.default_rng(3)
    n, d = 50, 37  # d not a multiple of any vector width
    idx = rng.integers(0, n, 200)  # many duplicates: accumulation order must not matter
    uniq = rng.permutation(n)[:20]
    base = rng.standard_normal((n, d)) * 4
    shape = {"rows": (200, d), "broadcast_row": (1, d), "scalar": ()}[values]
    v = rng.standard_normal(shape) * 4
    def conv(a):
        return a > 0 if dtype == "bool" else a.astype(dtype)
    base, v = conv(base), conv(v)
    outs = []
    for L in (ember, torch):
        t = lambda a: L.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        x = t(base)
        val = t(v)
        ri = L.from_numpy(idx)
        res = [x.index_select(0, ri), x[ri]]
        if dtype != "bool":
            vv = val.expand(200, d) if values != "rows" else val
            res.append(x.clone().scatter_add_(0, ri.reshape(200, 1).expand(200, d), vv))
            res.append(x.clone().index_put_((ri,), val, accumulate=True))
        ui = L.from_numpy(uniq)
        res.append(x.clone().index_put_((ui,), val[:20] if values == "rows" else val, accumulate=False))
        outs.append([r.numpy() for r in res])
    for a, b in zip(*outs):
        if dtype.startswith("float"):
            np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)
        else:
            np.testing.assert_array_equal(a, b)


def test_embedding_backward_with_repeats_matches_torch():
    rng = np.random.default_rng(4)
    idx = rng.integers(0, 30, (8, 16))
    w = rng.standard_normal((30, 20)).astype(np.float32)
    g = rng.standard_normal((8, 16, 20)).astype(np.float32)
    grads = []
    for L in (ember, torch):
        e = L.nn.Embedding(30, 20)
        with L.no_grad():
            e.weight.copy_(L.from_numpy(w))
        out = e(L.from_numpy(idx))
        (out * L.from_numpy(g)).sum().backward()  # contiguous gradient rows
        e2 = L.nn.Embedding(30, 20)
        e2(L.from_numpy(idx)).sum().backward()  # a broadcast (stride-0) gradient
        grads.append((e.weight.grad.numpy(), e2.weight.grad.numpy(), out.detach().numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_index_add_inplace_integer_alpha_and_0d_match_torch():
    rng = np.random.default_rng(5)
    base = rng.integers(-5, 5, (6, 3))
    src = rng.integers(-5, 5, (4, 3))
    idx = np.array([5, 0, 5, 2])
    outs = []
    for L in (ember, torch):
        x = L.from_numpy(base.copy())
        y = x.index_add_(0, L.from_numpy(idx), L.from_numpy(src), alpha=2.5)  # alpha taken as int 2
        assert y is x
        z = L.zeros(()).index_add(0, L.tensor([0]), L.tensor(3.0))
        w = L.zeros(4).index_add(0, L.tensor(1), L.tensor([2.0]))  # a 0-d index is one index
        a = L.from_numpy(rng.standard_normal((5, 2)).astype(np.float32) * 0 + 1).requires_grad_()
        s = L.ones(3, 2, requires_grad=True)
        b = a * 1
        b.index_add_(0, L.tensor([1, 1, 4]), s, alpha=3.0)  # recorded in place: grads reach a and s
        (b * L.arange(10.0).reshape(5, 2)).sum().backward()
        outs.append([x.numpy(), z.numpy(), w.numpy(), a.grad.numpy(), s.grad.numpy()])
    for e, t in zip(*outs):
        np.testing.assert_array_equal(e, t)


@pytest.mark.parametrize("call, message", [
    (lambda L, x: x.index_add(0, L.tensor([[0]]), L.ones(1, 3)), "index_add(): Index is supposed to be a vector"),
    (lambda L, x: x.index_add(0, L.tensor([0.0]), L.ones(1, 3)), "index_add(): Expected dtype int32/int64 for index"),
    (lambda L, x: x.index_add(0, L.tensor([0, 1]), L.ones(1, 3)),
     "index_add(): Number of indices (2) should be equal to source.size(dim): (1), for dim: 0"),
    (lambda L, x: x.index_add(0, L.tensor([0]), L.ones(1, 3, dtype=L.float64)),
     "index_add(): self (float32) and source (float64) must have the same scalar type"),
    # torch raises RuntimeError here and IndexError for the same bound in index_select; ember raises
    # IndexError for every out-of-range index (checked below by the message, and the type here)
    (lambda L, x: x.index_add(0, L.tensor([7]), L.ones(1, 3)), "index 7 is out of bounds for dimension 0 with size 5"),
    (lambda L, x: x.index_add(0, L.tensor([-1]), L.ones(1, 3)), "index -1 is out of bounds for dimension 0 with size 5"),
    (lambda L, x: x.index_add(0, L.tensor([0]), L.ones(1, 4)),
     "source tensor shape must match self tensor shape, excluding the specified dimension"),
    (lambda L, x: x.index_add(2, L.tensor([0]), L.ones(1, 3)), "out of range"),
    (lambda L, x: x.index_add_(0, L.tensor([0]), L.ones(1, 3), alpha="a"), "alpha"),
])
def test_index_add_errors_name_the_op_like_torch(call, message):
    with pytest.raises((RuntimeError, IndexError, TypeError)) as te:
        call(torch, torch.zeros(5, 3))
    expected = IndexError if "out of bounds" in message else type(te.value)
    with pytest.raises(expected) as ee:
        call(ember, ember.zeros(5, 3))
    assert message in str(ee.value), str(ee.value)  # torch's own wording differs (index_add_, Float)


@pytest.mark.parametrize("shape", [(1,), (70001,), (3, 65537), (257, 300), (2, 3, 40000), (5, 1, 7, 9), (0, 4)])
def test_nonzero_and_mask_indexing_match_numpy(shape):
    # Branch-free compaction per 64K block (an odometer along the last dim): coordinates across
    # block and row boundaries, at 1 and 2 threads, and x[mask] built on them.
    rng = np.random.default_rng(len(shape) * 7 + shape[-1])
    m = rng.random(shape) < 0.37
    x = rng.standard_normal(shape).astype(np.float32)
    old = ember.get_num_threads()
    try:
        for nt in (1, 2):
            ember.set_num_threads(nt)
            np.testing.assert_array_equal(ember.tensor(m).nonzero().numpy(), np.argwhere(m))
            np.testing.assert_array_equal(ember.tensor(x)[ember.tensor(m)].numpy(), x[m])
    finally:
        ember.set_num_threads(old)
    assert ember.tensor(True).nonzero().shape == (1, 0) and ember.tensor(False).nonzero().shape == (0, 0)

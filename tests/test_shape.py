"""Shape ops beyond the op-case table: view/storage semantics, dtypes kept, empty tensors,
in-place writes through views under autograd, double backward, and every error path."""

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch


def arr(*shape, dtype=np.float64):
    return np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


def E(a):
    return ember.from_numpy(np.array(a))


# --- views share storage -------------------------------------------------------------------------
VIEWS = [
    lambda x: x.view(6, 4),
    lambda x: x.reshape(-1),
    lambda x: x.permute(2, 0, 1),
    lambda x: x.transpose(0, 1),
    lambda x: x.select(1, 2),
    lambda x: x.narrow(2, 1, 2),
    lambda x: x.split(1, 0)[1],
    lambda x: x.chunk(2, 2)[0],
    lambda x: x.unbind(1)[0],
    lambda x: x[:1].expand(1, 3, 4),
    lambda x: x.flatten(1),
    lambda x: x.unflatten(2, (2, 2)),
    lambda x: x.squeeze(),
    lambda x: x.mT,
    lambda x: x.movedim(0, 2),
    lambda x: x[1, :, ::2],
    lambda x: x.swapaxes(0, 2),
    lambda x: x.view_as(x),
    lambda x: x[...],
]


@pytest.mark.parametrize("k", range(len(VIEWS)))
def test_views_share_storage(k):
    x = E(arr(2, 3, 4))
    v = VIEWS[k](x)
    assert v._is_view()
    before = x.numpy().copy()
    v.fill_(-1.0)
    assert (x.numpy() == -1).sum() == v.numel()
    assert not np.array_equal(x.numpy(), before)


def test_reshape_copies_only_when_needed():
    x = E(arr(3, 4))
    assert x.reshape(4, 3)._base is x
    y = x.t().reshape(-1)  # not viewable: a copy
    np.testing.assert_array_equal(y.numpy(), arr(3, 4).T.ravel())
    y.fill_(0.0)
    assert x.numpy().sum() > 0


@pytest.mark.parametrize(
    "fn",
    [
        lambda L, x: L.cat([x, x], 1),
        lambda L, x: L.stack([x, x]),
        lambda L, x: x.flip(0),
        lambda L, x: x.roll(1, 1),
        lambda L, x: x.repeat(2, 1),
        lambda L, x: L.tril(x),
        lambda L, x: x.index_select(0, L.from_numpy(np.array([1, 0]))),
        lambda L, x: x[[1, 0]],
        lambda L, x: x.gather(1, L.from_numpy(np.array([[0], [1], [2]]))),
        lambda L, x: x[x > 3],
    ],
)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.uint8, np.float32])
def test_dtypes_kept(fn, dtype):
    a = arr(3, 4, dtype=np.int64).astype(dtype)
    e = fn(ember, ember.from_numpy(a.copy()))
    if torch is not None:
        t = fn(torch, torch.from_numpy(a.copy()))
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert e.dtype == ember.from_numpy(a).dtype


def test_constant_pad_int_and_empty():
    x = ember.from_numpy(arr(2, 2, dtype=np.int64))
    p = ember._C.constant_pad(x, (1, 0), 9)
    assert p.dtype == ember.int64
    np.testing.assert_array_equal(p.numpy(), [[9, 0, 1], [9, 2, 3]])
    assert ember._C.constant_pad(E(np.zeros((0, 3))), (1, 1)).shape == (0, 5)


# --- F.pad's reflect / replicate / circular modes --------------------------------------------------
PAD_MODE_CASES = [  # (shape, pad): 1, 2 and 3 padded dims, batched and not, negative pads crop
    ((3, 7), (2, 3)), ((2, 3, 7), (2, 3)), ((2, 3, 7), (0, 4)), ((2, 4, 5), (1, 1, 2, 2)),
    ((2, 3, 5, 6), (1, 2, 2, 1)), ((2, 3, 5, 6), (0, 0, 3, 1)), ((2, 3, 5, 6), (-1, 2, 1, -2)),
    ((2, 3, 5, 6), (2, -1, -2, 1)), ((2, 3, 4, 5), (1, 1, 1, 1, 1, 1)),
    ((1, 2, 3, 4, 5), (1, 2, 2, 1, 1, 2)), ((0, 3, 4), (1, 2)), ((2, 3, 5), (-2, -2)),
]


@requires_torch
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", PAD_MODE_CASES)
def test_pad_modes_match_torch(mode, shape, pad):
    # values exactly, and the gradient: each border's gradient adds onto the element it copies
    rng = np.random.default_rng(31)
    a = rng.standard_normal(shape)
    out = []
    for L in (ember, torch):
        x = L.from_numpy(a.copy()).requires_grad_()
        y = L.nn.functional.pad(x, pad, mode=mode)
        out.append((x, y))
    (xe, ye), (xt, yt) = out
    assert tuple(ye.shape) == tuple(yt.shape)
    np.testing.assert_array_equal(ye.detach().numpy(), yt.detach().numpy())
    g = rng.standard_normal(tuple(yt.shape))
    ye.backward(ember.from_numpy(g.copy()))
    yt.backward(torch.from_numpy(g.copy()))
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_modes_int_values_and_double_backward(mode):
    F = ember.nn.functional
    x = ember.from_numpy(np.array([[[0, 1, 2, 3]]]))
    want = {"reflect": [2, 1, 0, 1, 2, 3, 2], "replicate": [0, 0, 0, 1, 2, 3, 3],
            "circular": [2, 3, 0, 1, 2, 3, 0]}[mode]
    y = F.pad(x, (2, 1), mode=mode)
    assert y.dtype == ember.int64
    np.testing.assert_array_equal(y.numpy()[0, 0], want)
    xs = ember.from_numpy(np.random.default_rng(3).standard_normal((1, 2, 3, 4))).requires_grad_()

    def grad_of(t):
        with ember.enable_grad():
            (d,) = ember.autograd.grad((F.pad(t, (2, 1, 1, 2), mode=mode) ** 3).sum(), t,
                                       create_graph=True)
        return d

    assert ember.autograd.gradcheck(lambda t: F.pad(t, (2, 1, 1, 2), mode=mode), (xs,))
    assert ember.autograd.gradcheck(grad_of, (xs,))


@pytest.mark.parametrize("call,exc,match", [
    (lambda F, x: F.pad(x, (3, 0), mode="reflect"), RuntimeError,
     r"padding size should be less than the corresponding input dimension, but got: padding \(3, 0\)"),
    (lambda F, x: F.pad(x, (0, 4), mode="circular"), RuntimeError, "wraps around more than once"),
    (lambda F, x: F.pad(x, (2, -2), mode="circular"), RuntimeError, "wraps around more than once"),
    (lambda F, x: F.pad(x, (-2, -2), mode="replicate"), RuntimeError, "negative output size"),
    (lambda F, x: F.pad(x, (-2, -1), mode="reflect"), RuntimeError, "output size 0; expected at least 1"),
    (lambda F, x: F.pad(x, (1, 1, 1, 1, 1, 1, 1, 1), mode="replicate"), NotImplementedError,
     "padding size 8 is not supported for a 3-d input"),
    (lambda F, x: F.pad(x[0, 0], (1, 1), mode="reflect"), NotImplementedError,
     "padding size 2 is not supported for a 1-d input"),
    (lambda F, x: F.pad(x, (1,), mode="reflect"), RuntimeError, "divisible by 2"),
    (lambda F, x: F.pad(x, (1, 1), mode="reflect", value=0.0), RuntimeError,
     "doesn't take in value argument"),
    (lambda F, x: F.pad(x, (1, 1), mode="mirror"), NotImplementedError, "unrecognised padding mode"),
    (lambda F, x: F.pad(x[:, :0], (1, 1), mode="replicate"), RuntimeError,
     "other non-zero dimensions for input"),
])
def test_pad_mode_errors(call, exc, match):
    x = ember.from_numpy(np.zeros((1, 2, 3)))
    with pytest.raises(exc, match=match):
        call(ember.nn.functional, x)


def test_empty_tensors():
    z = E(np.zeros((0, 3)))
    assert ember.cat([z, z]).shape == (0, 3)
    assert ember.cat([E(np.zeros(0)), E(np.zeros(0))]).shape == (0,)
    assert [t.shape for t in z.split(2)] == [(0, 3)]
    assert z[[]].shape == (0, 3)
    assert E(arr(3, 4))[:, 2:2].shape == (3, 0)
    assert z.flip(0).shape == (0, 3) and z.repeat(2, 2).shape == (0, 6)
    assert ember.nonzero(E(np.zeros((2, 2)))).shape == (0, 2)


def test_tensor_properties_and_aliases():
    x = E(arr(2, 3))
    np.testing.assert_array_equal(x.T.numpy(), arr(2, 3).T)
    np.testing.assert_array_equal(x.t().numpy(), arr(2, 3).T)
    assert ember.t(E(arr(3))).shape == (3,)
    assert ember.swapdims(x, 0, 1).shape == (3, 2) and ember.moveaxis(x, 0, 1).shape == (3, 2)
    assert x.expand_as(E(np.zeros((4, 2, 3)))).shape == (4, 2, 3)
    assert ember.flatten(E(np.float64(3.0))).shape == (1,)
    rows, cols = ember.nonzero(E(arr(2, 2)) > 0, as_tuple=True)
    np.testing.assert_array_equal(rows.numpy(), [0, 1, 1])
    np.testing.assert_array_equal(cols.numpy(), [1, 0, 1])


# --- autograd ------------------------------------------------------------------------------------
@requires_torch
def test_inplace_through_views_grad():
    a = np.random.default_rng(0).standard_normal((3, 4))
    grads = []
    for L in (ember, torch):
        x = L.from_numpy(a.copy()).requires_grad_()
        y = x * 1
        y.select(0, 1).mul_(3)
        y.narrow(1, 0, 2).copy_(y.narrow(1, 2, 2) * 2)
        y[2].masked_fill_(y[2] > 0, 0.5)
        (y * y).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])


@requires_torch
@pytest.mark.parametrize(
    "fn",
    [
        lambda L, x: L.cat([x[:, :1] ** 2, x], 1),
        lambda L, x: x.select(1, 2) ** 3,
        lambda L, x: x.flip(1) ** 2,
        lambda L, x: x.repeat(2, 1) ** 2,
        lambda L, x: x.narrow(0, 1, 1) ** 2 * x[0],
        lambda L, x: x.gather(1, L.from_numpy(np.array([[0, 0], [2, 1]]))) ** 2,
        lambda L, x: x.scatter_add(1, L.from_numpy(np.array([[0, 0], [2, 1]])), x[:, :2] ** 2),
        lambda L, x: x[[1, 1, 0]] ** 2,
        lambda L, x: x.index_put((L.from_numpy(np.array([1])),), x[0] ** 2),
    ],
)
def test_double_backward(fn):
    a = np.random.default_rng(1).standard_normal((2, 3))
    res = []
    for L in (ember, torch):
        x = L.from_numpy(a.copy()).requires_grad_()
        out = fn(L, x)
        w = L.from_numpy(np.random.default_rng(2).standard_normal(tuple(out.shape)))
        (g,) = (ember.autograd.grad if L is ember else torch.autograd.grad)(
            (out * w).sum(), [x], create_graph=True
        )
        (g * g).sum().backward()
        res.append(x.grad.numpy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-10, atol=1e-12)


def test_gradcheck_src_larger_than_index():
    rng = np.random.default_rng(3)
    x = ember.from_numpy(rng.standard_normal((2, 3))).requires_grad_()
    src = ember.from_numpy(rng.standard_normal((3, 5))).requires_grad_()
    idx = ember.from_numpy(np.array([[0, 1], [2, 2]]))
    assert ember.autograd.gradcheck(lambda a, b: a.scatter_add(1, idx, b), [x, src])
    perm = ember.from_numpy(np.array([[2, 0], [1, 2]]))
    assert ember.autograd.gradcheck(lambda a, b: a.scatter(1, perm, b), [x, src])


def test_grad_fn_names():
    x = E(arr(3, 4)).requires_grad_()
    assert x[0].grad_fn.name() == "SelectBackward0"
    assert x[1:].grad_fn.name() == "SliceBackward0"
    assert x[[0]].grad_fn.name() == "IndexBackward0"
    assert ember.cat([x, x]).grad_fn.name() == "CatBackward0"


# --- errors --------------------------------------------------------------------------------------
X = E(arr(2, 3, 4))
IDX = E(np.array([[[0]]]))
ERRORS = [
    (lambda: X.view(5), RuntimeError, r"shape '?\(5,\)'? is invalid for input of size 24"),
    (lambda: X.transpose(0, 1).view(-1), RuntimeError, "view: size"),
    (lambda: X.expand(3, 3, 4), RuntimeError, "expanded size of the tensor"),
    (lambda: X.t(), RuntimeError, r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"),
    (lambda: E(arr(3)).mT, RuntimeError, "mT is only supported on matrices"),
    (lambda: X.flatten(2, 1), RuntimeError, "start_dim cannot come after end_dim"),
    (lambda: X.unflatten(1, (2, 2)), RuntimeError, "don't multiply up to the size of dim 1"),
    (lambda: X.permute(0, 1), RuntimeError, "number of dims don't match"),
    (lambda: X.permute(0, 1, 1), RuntimeError, "repeated dim"),
    (
        lambda: X.transpose(0, 5),
        IndexError,
        r"dimension out of range \(expected to be in range of \[-3, 2\]",
    ),
    (lambda: X.unsqueeze(4), IndexError, "dimension out of range"),
    (lambda: X.squeeze(3), IndexError, "dimension out of range"),
    (
        lambda: X.select(0, 5),
        IndexError,
        r"select\(\): index 5 out of range for tensor of size \(2, 3, 4\)",
    ),
    (lambda: E(3.0).select(0, 0), IndexError, "cannot be applied to a 0-dim tensor"),
    (
        lambda: X.narrow(0, 1, 5),
        RuntimeError,
        r"start \(1\) \+ length \(5\) exceeds dimension size \(2\)",
    ),
    (lambda: X.narrow(0, 3, 1), IndexError, "start out of range"),
    (
        lambda: X.split([1, 2], 0),
        RuntimeError,
        "split_with_sizes expects split_sizes to sum exactly to 2",
    ),
    (lambda: X.split(-1), RuntimeError, "split_size be non-negative"),
    (lambda: X.chunk(0), RuntimeError, "chunk expects `chunks` to be greater than 0"),
    (lambda: X.repeat(2), RuntimeError, "Number of dimensions of repeat dims can not be smaller"),
    (
        lambda: ember.cat([X, E(np.zeros((2, 4, 4)))], 2),
        RuntimeError,
        "must match except in dimension 2. Expected size 3 but got size 4 for tensor number 1",
    ),
    (
        lambda: ember.cat([X, E(np.zeros((2, 4)))]),
        RuntimeError,
        "Tensors must have same number of dimensions: got 3 and 2",
    ),
    (lambda: ember.cat([]), ValueError, "expected a non-empty list of Tensors"),
    (
        lambda: ember.cat([E(1.0)]),
        RuntimeError,
        r"zero-dimensional tensor \(at position 0\) cannot be concatenated",
    ),
    (lambda: ember.cat(X), TypeError, "must be a tuple or list of Tensors"),
    (lambda: ember.cat([X, 1]), TypeError, "expected Tensor as element 1"),
    (lambda: ember.cat([X, X], 3), IndexError, "dimension out of range"),
    (
        lambda: ember.stack([E(np.zeros((2, 3))), E(np.zeros((2, 4)))]),
        RuntimeError,
        r"equal size, but got \(2, 3\) at entry 0 and \(2, 4\) at entry 1",
    ),
    (lambda: ember.roll(X, (1, 2), (0,)), RuntimeError, "shifts and dimensions must align"),
    (lambda: ember.flip(X, (0, 0)), RuntimeError, "appears multiple times"),
    (lambda: ember.tril(E(arr(3))), RuntimeError, "at least 2 dimensions"),
    (lambda: ember._C.constant_pad(X, (1,)), RuntimeError, "divisible by 2"),
    (lambda: ember._C.constant_pad(X, (1, 1) * 4), RuntimeError, "padding length too large"),
    (lambda: ember._C.constant_pad(X, (-3, -2)), RuntimeError, "negative output size"),
    (lambda: ember.movedim(X, (0, 1), (0,)), RuntimeError, "same number of dims"),
    # index ops
    (
        lambda: X.gather(0, E(np.array([[[5]]]))),
        IndexError,
        r"gather\(\): index 5 is out of bounds for dimension 0 with size 2",
    ),
    (
        lambda: X.gather(2, E(np.array([[[-1]]]))),
        IndexError,
        "gather\\(\\): index -1 is out of bounds for dimension 2",
    ),
    (lambda: X.gather(0, E(np.zeros((2, 3))).long()), RuntimeError, "same number of dimensions"),
    (lambda: X.gather(0, E(np.zeros((1, 1, 1)))), RuntimeError, "Expected dtype int64 for index"),
    (
        lambda: X.gather(0, E(np.zeros((1, 5, 1), dtype=np.int64))),
        RuntimeError,
        "Size does not match at dimension 1",
    ),
    (lambda: X.gather(3, IDX), IndexError, "dimension out of range"),
    (
        lambda: X.scatter(0, E(np.array([[[2]]])), 1.0),
        IndexError,
        r"scatter\(\): index 2 is out of bounds",
    ),
    (
        lambda: X.scatter_add(1, E(np.array([[[3]]])), X),
        IndexError,
        r"scatter_add\(\): index 3 is out of bounds",
    ),
    (
        lambda: X.scatter(0, IDX, X.long()),
        RuntimeError,
        "Expected self.dtype to be equal to src.dtype",
    ),
    (lambda: X.scatter(0, IDX), TypeError, "missing argument 'src' or 'value'"),
    (
        lambda: X.scatter_add(0, E(np.zeros((3, 1, 1), dtype=np.int64)), X),
        RuntimeError,
        "Size does not match",
    ),
    (
        lambda: X.index_select(0, E(np.array([2]))),
        IndexError,
        r"index_select\(\): index 2 is out of bounds for dimension 0 with size 2",
    ),
    (lambda: X.index_select(0, E(np.array([-1]))), IndexError, "index -1 is out of bounds"),
    (
        lambda: X.index_select(0, E(np.array([0.0]))),
        RuntimeError,
        "Expected dtype int32 or int64 for index",
    ),
    (
        lambda: X.index_select(0, E(np.zeros((1, 1), dtype=np.int64))),
        IndexError,
        "Index is supposed to be a vector",
    ),
    (
        lambda: X.masked_fill(E(np.ones(4)), 1.0),
        RuntimeError,
        "only supports boolean masks, but got mask with dtype",
    ),
    (
        lambda: X.masked_fill(E(np.ones(4, dtype=bool)), E(np.ones(2))),
        RuntimeError,
        "0-dimensional value tensor",
    ),
    (lambda: X.masked_fill(E(np.ones(5, dtype=bool)), 1.0), ValueError, "cannot be broadcast"),
    (
        lambda: X.clone().masked_fill_(E(np.ones((2, 2, 3, 4), dtype=bool)), 1.0),
        RuntimeError,
        "cannot be broadcast to self",
    ),
    (lambda: X.masked_select(E(np.ones(4))), RuntimeError, "expected BoolTensor"),
    (
        lambda: X.index_put((E(np.array([0])),), E(np.array(1, dtype=np.float32))),
        RuntimeError,
        "index put requires the source and destination dtypes match",
    ),
    (
        lambda: X.index_put((E(np.array([7])),), E(np.array(1.0))),
        IndexError,
        "index 7 is out of bounds",
    ),
    (
        lambda: X.index_put((E(np.array([0])),), E(np.ones(5))),
        RuntimeError,
        "shape mismatch: value tensor",
    ),
    (
        lambda: X.index_put(E(np.array([0])), E(np.array(1.0))),
        TypeError,
        "must be tuple of Tensors",
    ),
    (
        lambda: ember.take_along_dim(X, E(np.zeros((2, 3), dtype=np.int64)), 1),
        RuntimeError,
        "same number of dimensions",
    ),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors(k):
    fn, exc, msg = ERRORS[k]
    with pytest.raises(exc, match=msg):
        fn()


def test_inplace_errors_under_autograd():
    leaf = E(arr(3, 4)).requires_grad_()
    idx = E(np.array([[0, 1]]))
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.scatter_(1, idx, 1.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.index_put_((E(np.array([0])),), E(np.array(1.0)))
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        leaf.masked_fill_(leaf > 2, 0.0)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        E(arr(3)).expand(2, 3).index_put_((E(np.array([0])),), E(np.array(1.0)))


# --- more dims than shapes keep inline (5): the heap path of SmallVec, and the crossings --------
@pytest.mark.parametrize("nd", [5, 6, 8])
def test_tensors_beyond_five_dims_match_numpy(nd):
    shape = (2, 1, 3, 1, 2, 2, 1, 2)[:nd]
    a = np.random.default_rng(nd).standard_normal(shape)
    x = ember.from_numpy(a).requires_grad_()
    perm = tuple(reversed(range(nd)))
    y = x.permute(*perm)  # a non-contiguous view with nd strides
    np.testing.assert_array_equal(y.contiguous().detach().numpy(), a.transpose(perm))
    z = y.unsqueeze(0).unsqueeze(-1)  # crosses 5 -> 6+ dims
    assert z.shape == (1,) + a.transpose(perm).shape + (1,)
    w = z.squeeze()  # back below (or at) the inline size
    np.testing.assert_array_equal(w.detach().numpy(), np.squeeze(a.transpose(perm)))
    b = np.random.default_rng(1).standard_normal(shape[-2:])
    s = (x * ember.from_numpy(b)).sum(dim=tuple(range(0, nd, 2)), keepdim=True)  # broadcast, reduce
    ref = (a * b).sum(axis=tuple(range(0, nd, 2)), keepdims=True)
    assert s.shape == ref.shape
    np.testing.assert_allclose(s.detach().numpy(), ref, rtol=1e-12)
    e = x.reshape(-1).reshape(shape).expand(3, *shape)
    assert e.shape == (3,) + shape and e.stride()[0] == 0
    (s.sum() + w.sum() + e.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(b, shape) + 1 + 3, rtol=1e-12)


@pytest.mark.parametrize("dtype", ["float32", "int32", "float64"])
def test_transposed_copies_match_numpy(dtype):
    # 4-byte transposed sources go through 16 x 16 tiles (in registers on AVX-512): 2-D and
    # batched transposes, NCHW <-> NHWC permutes, edges that are not whole tiles, offsets.
    rng = np.random.default_rng(6)
    for shape, perm in [((37, 53), (1, 0)), ((16, 16), (1, 0)), ((256, 1024), (1, 0)),
                        ((3, 33, 18), (0, 2, 1)), ((2, 3, 17, 40), (0, 2, 3, 1)),
                        ((2, 40, 5, 17), (0, 3, 1, 2)), ((20, 1, 30), (2, 1, 0))]:
        a = (rng.standard_normal(shape) * 100).astype(dtype)
        got = ember.tensor(a).permute(*perm).contiguous().numpy()
        np.testing.assert_array_equal(got, np.ascontiguousarray(a.transpose(perm)))
    a = (rng.standard_normal((40, 50)) * 100).astype(dtype)
    np.testing.assert_array_equal(ember.tensor(a)[3:, 5:45].t().contiguous().numpy(), a[3:, 5:45].T)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "uint8"])
def test_flip_reversed_rows_match_numpy(dtype):
    # A flipped last dim reads each row backwards in one vectorised loop (float types).
    rng = np.random.default_rng(12)
    for shape, dims in [((1000,), [0]), ((7, 37), [1]), ((3, 5, 17), [2, 0]), ((4, 33), [0, 1])]:
        a = (rng.standard_normal(shape) * 50).astype(dtype)
        np.testing.assert_array_equal(ember.tensor(a).flip(dims).numpy(), np.flip(a, dims))
    a = rng.standard_normal((6, 40)).astype(dtype)
    np.testing.assert_array_equal(ember.tensor(a)[:, 3:29].flip([1]).numpy(), np.flip(a[:, 3:29], 1))


@requires_torch
@pytest.mark.parametrize("name,args,shape", [
    ("ReflectionPad1d", (2,), (2, 3, 5)), ("ReflectionPad2d", ((1, 2, 2, 0),), (2, 3, 4, 5)),
    ("ReflectionPad3d", (1,), (1, 2, 3, 4, 5)), ("ReplicationPad1d", ((0, 3),), (3, 5)),
    ("ReplicationPad2d", (2,), (3, 4, 5)), ("ReplicationPad3d", ((1, 0, 2, 1, 0, 2),), (1, 2, 3, 4, 5)),
    ("CircularPad1d", (2,), (2, 3, 5)), ("CircularPad2d", ((1, 2, 2, 0),), (2, 3, 4, 5)),
    ("CircularPad3d", (1,), (2, 3, 4, 5)), ("ConstantPad1d", (2, 3.5), (2, 5)),
    ("ConstantPad2d", ((1, 0, 2, 1), -1.0), (2, 3, 4, 5)), ("ConstantPad3d", (1, 2.0), (2, 3, 4, 5)),
    ("ZeroPad1d", ((1, 2),), (2, 3, 5)), ("ZeroPad2d", (1,), (2, 3, 4, 5)),
    ("ZeroPad3d", ((1, 0, 0, 1, 2, 0),), (1, 2, 3, 4, 5)),
    ("PixelShuffle", (2,), (2, 8, 3, 4)), ("PixelShuffle", (3,), (9, 2, 3)),
    ("PixelShuffle", (2,), (2, 3, 8, 2, 3)), ("PixelUnshuffle", (2,), (2, 3, 4, 6)),
    ("PixelUnshuffle", (3,), (2, 6, 9)), ("PixelUnshuffle", (2,), (2, 1, 3, 4, 2)),
])
def test_padding_and_pixel_shuffle_modules_match_torch(name, args, shape):
    rng = np.random.default_rng(41)
    a = rng.standard_normal(shape)
    res = []
    for L in (ember, torch):
        m = getattr(L.nn, name)(*args)
        x = L.from_numpy(a.copy()).requires_grad_()
        y = m(x)
        res.append((repr(m), getattr(m, "padding", None), x, y))
    (re, pe, xe, ye), (rt, pt, xt, yt) = res
    assert re == rt and pe == pt
    np.testing.assert_array_equal(ye.detach().numpy(), yt.detach().numpy())
    g = rng.standard_normal(tuple(yt.shape))
    ye.backward(ember.from_numpy(g.copy()))
    yt.backward(torch.from_numpy(g.copy()))
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-14, atol=1e-14)


def test_pixel_shuffle_round_trip_and_errors():
    F = ember.nn.functional
    x = ember.from_numpy(arr(2, 12, 3, 5))
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(x, 2), 2).numpy(), x.numpy())
    # channel c r^2 + i r + j of the input lands at row h r + i, column w r + j of channel c
    y = F.pixel_shuffle(x, 2).numpy()
    assert y[1, 2, 2 * 1 + 1, 2 * 3 + 0] == x.numpy()[1, 2 * 4 + 1 * 2 + 0, 1, 3]
    for call, match in [
        (lambda: F.pixel_shuffle(x, 0), "expects a positive upscale_factor, but got 0"),
        (lambda: F.pixel_shuffle(x[0, 0], 2), "at least 3 dimensions, but got input with 2"),
        (lambda: F.pixel_shuffle(x, 3), r"input.size\(-3\)=12 is not divisible by 9"),
        (lambda: F.pixel_unshuffle(x, 2), r"height to be divisible by downscale_factor, but input.size\(-2\)=3"),
        (lambda: F.pixel_unshuffle(x[:, :, :2], 2), r"width .* input.size\(-1\)=5 is not divisible by 2"),
        (lambda: F.pixel_unshuffle(x, -1), "expects a positive downscale_factor"),
    ]:
        with pytest.raises(RuntimeError, match=match):
            call()


def test_diagonal_view_writes_errors_and_double_backward():
    x = ember.from_numpy(arr(3, 4))
    d = x.diagonal(1)
    np.testing.assert_array_equal(d.numpy(), [1, 6, 11])
    d.mul_(0)  # a view: writes reach x
    assert x.numpy()[0, 1] == 0 and x.numpy()[2, 3] == 0 and x.numpy()[1, 1] == 5  # off it: kept
    assert x.diagonal(9).shape == (0,) and x.diagonal(-3).shape == (0,)
    with pytest.raises(RuntimeError, match="diagonal dimensions cannot be identical 0, -2"):
        x.diagonal(0, 0, -2)
    with pytest.raises(RuntimeError, match="at least 2 dims"):
        ember.diagonal(ember.zeros(3))
    xs = ember.from_numpy(np.random.default_rng(5).standard_normal((3, 4))).requires_grad_()

    def grad_of(t):
        with ember.enable_grad():
            (g,) = ember.autograd.grad((t.diagonal(1) ** 3).sum(), t, create_graph=True)
        return g

    assert ember.autograd.gradcheck(grad_of, (xs,))


def test_broadcast_source_copies():
    # a source whose strides are all 0 (an expanded scalar, as .sum().backward() makes) is copied
    # as one value filled: contiguous, dtype casts, a strided destination, unary ops
    s = ember.tensor(2.5).expand(3, 4)
    np.testing.assert_array_equal(s.contiguous().numpy(), np.full((3, 4), 2.5, np.float32))
    np.testing.assert_array_equal(s.to(ember.int64).numpy(), np.full((3, 4), 2, np.int64))
    np.testing.assert_array_equal(s.to(ember.float64).numpy(), np.full((3, 4), 2.5))
    dst = ember.zeros(4, 3).t()
    dst.copy_(s)
    np.testing.assert_array_equal(dst.numpy(), np.full((3, 4), 2.5, np.float32))
    np.testing.assert_allclose(ember.exp(s).numpy(), np.full((3, 4), np.exp(np.float32(2.5))), rtol=1e-6)
    col = ember.tensor([[1.0], [2.0]]).expand(2, 5)  # stride 0 along the inner dim only
    np.testing.assert_array_equal(col.contiguous().numpy(), np.repeat([[1.0], [2.0]], 5, 1).astype(np.float32))

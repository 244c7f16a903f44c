"""numpy, buffer protocol and DLPack interop (zero-copy both ways, lifetimes, layouts, errors), and
Python scalars out of tensors (item, tolist, bool/float/int/index, iteration)."""
import gc

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch

DTYPES = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_]


def sample(dtype, shape=(3, 4)):
    a = np.arange(int(np.prod(shape))).reshape(shape) % 7
    return (a % 2 == 0) if dtype is np.bool_ else a.astype(dtype)


# --- numpy and __array__ --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_round_trip_zero_copy(dtype):
    a = sample(dtype)
    t = ember.from_numpy(a)
    assert t.data_ptr() == a.ctypes.data and t.dtype == getattr(ember, np.dtype(dtype).name)
    b = t.numpy()
    assert b.ctypes.data == a.ctypes.data and b.dtype == a.dtype
    np.testing.assert_array_equal(np.asarray(t), a)


def test_array_protocol():
    t = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    a = np.asarray(t)
    assert a.ctypes.data == t.data_ptr()
    a[0, 0] = 10
    assert t.tolist()[0][0] == 10
    c = t.__array__(copy=True)
    assert c.ctypes.data != t.data_ptr()
    d = t.__array__(np.float64)
    assert d.dtype == np.float64 and d.tolist() == t.tolist()
    assert t.__array__(np.float32, copy=False).ctypes.data == t.data_ptr()
    with pytest.raises(ValueError, match="copy"):
        t.__array__(np.float64, copy=False)
    assert np.array(t, copy=True).ctypes.data != t.data_ptr()
    with pytest.raises(RuntimeError, match="requires grad"):
        np.asarray(ember.tensor([1.0], requires_grad=True))


def test_numpy_of_noncontiguous_and_offset_views():
    t = ember.tensor([[0, 1, 2], [3, 4, 5]])
    row = list(t)[1]
    assert row.storage_offset() == 3
    np.testing.assert_array_equal(row.numpy(), [3, 4, 5])
    a = np.arange(24.0).reshape(4, 6)[1:, ::2]
    v = ember.from_numpy(a)
    assert v.stride() == (6, 2) and v.tolist() == a.tolist()


def test_from_numpy_errors():
    with pytest.raises(TypeError, match="expected np.ndarray"):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError, match="float16"):
        ember.from_numpy(np.zeros(2, np.float16))
    with pytest.raises(ValueError, match="byte order"):
        ember.from_numpy(np.zeros(2, ">f4"))
    with pytest.raises(ValueError, match="negative"):
        ember.from_numpy(np.arange(4)[::-1])
    with pytest.raises(RuntimeError, match="requires grad"):
        ember.tensor([1.0], requires_grad=True).numpy()
    assert ember.tensor([1.0], requires_grad=True).numpy(force=True).tolist() == [1.0]


# --- buffer protocol ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_memoryview(dtype):
    a = sample(dtype)
    t = ember.tensor(a)
    m = memoryview(t)
    assert m.shape == (3, 4) and m.itemsize == a.itemsize and not m.readonly
    assert m.tolist() == a.tolist()
    assert np.asarray(m).ctypes.data == t.data_ptr()


def test_frombuffer_shares_memory():
    t = ember.tensor([1.0, 2.0, 3.0])
    a = np.frombuffer(t, dtype=np.float32)
    assert a.ctypes.data == t.data_ptr()
    a[1] = 7
    assert t.tolist() == [1.0, 7.0, 3.0]
    del t
    gc.collect()
    assert a.tolist() == [1.0, 7.0, 3.0]  # the buffer keeps the tensor alive


def test_memoryview_strided_0d_and_grad():
    t = ember.tensor([[1, 2, 3], [4, 5, 6]], dtype=ember.int32)
    col = ember.from_numpy(t.numpy()[:, ::2])
    m = memoryview(col)
    assert m.strides == (12, 8) and m.tolist() == [[1, 3], [4, 6]]
    scalar = memoryview(ember.tensor(2.5))
    assert scalar.shape == () and scalar.tolist() == 2.5
    with pytest.raises(BufferError):
        memoryview(ember.tensor([1.0], requires_grad=True))


# --- DLPack ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_dlpack_numpy_both_ways(dtype):
    a = sample(dtype)
    t = ember.from_dlpack(a)
    assert t.data_ptr() == a.ctypes.data and t.tolist() == a.tolist()
    b = np.from_dlpack(t)
    assert b.ctypes.data == t.data_ptr() and b.dtype == a.dtype
    if dtype is not np.bool_:
        a[0, 0] = 5
        assert t.tolist()[0][0] == 5 and b[0, 0] == 5


@requires_torch
@pytest.mark.parametrize("name", ["float32", "float64", "int64", "int32", "uint8", "bool"])
def test_dlpack_torch_both_ways(name):
    x = torch.arange(12).reshape(3, 4).to(getattr(torch, name))
    e = ember.from_dlpack(x)
    assert e.data_ptr() == x.data_ptr() and e.tolist() == x.tolist()
    assert e.dtype == getattr(ember, name)
    y = torch.from_dlpack(e)
    assert y.data_ptr() == e.data_ptr() and y.dtype == x.dtype and torch.equal(x, y)
    if name != "bool":
        x[1, 1] = 9
        assert e.tolist()[1][1] == 9
        y[2, 3] = 4
        assert x[2, 3].item() == 4


@requires_torch
def test_dlpack_mutation_from_ember_side():
    e = ember.zeros(4)
    y = torch.from_dlpack(e)
    e.fill_(3.0)
    assert y.tolist() == [3.0] * 4


@requires_torch
def test_dlpack_lifetimes():
    x = torch.arange(1000, dtype=torch.float64)
    e = ember.from_dlpack(x)
    del x
    gc.collect()
    torch.ones(1000, dtype=torch.float64)  # reuse freed memory if it had been freed
    assert e.tolist() == list(map(float, range(1000)))
    e2 = ember.arange(1000)
    y = torch.from_dlpack(e2)
    del e2
    gc.collect()
    ember.zeros(1000, dtype=ember.int64)
    assert y.tolist() == list(range(1000))
    a = np.arange(10.0)
    t = ember.from_dlpack(a)
    del a
    gc.collect()
    assert t.tolist() == list(map(float, range(10)))


@requires_torch
def test_dlpack_strides_and_offsets():
    x = torch.arange(24).reshape(4, 6)[1:, ::2].t()
    e = ember.from_dlpack(x)
    assert e.shape == (3, 3) and e.stride() == x.stride() and e.tolist() == x.tolist()
    assert e.data_ptr() == x.data_ptr()
    row = list(ember.tensor([[0, 1, 2], [3, 4, 5]]))[1]
    assert torch.from_dlpack(row).tolist() == [3, 4, 5]
    assert np.from_dlpack(row).tolist() == [3, 4, 5]
    a = np.arange(20.0).reshape(4, 5)[::2, 1:4]
    assert ember.from_dlpack(a).tolist() == a.tolist()
    t = ember.from_numpy(np.arange(12.0).reshape(3, 4).T)
    assert torch.from_dlpack(t).tolist() == t.tolist()


@requires_torch
def test_dlpack_0d_and_empty():
    for x in [torch.tensor(3.5), torch.zeros(0), torch.zeros(2, 0, 3, dtype=torch.int32)]:
        e = ember.from_dlpack(x)
        assert e.shape == x.shape and e.tolist() == x.tolist()
        assert torch.from_dlpack(e).shape == x.shape
    e = ember.tensor(7)
    assert torch.from_dlpack(e).item() == 7 and np.from_dlpack(e).shape == ()
    assert np.from_dlpack(ember.zeros(0, 4)).shape == (0, 4)


def test_dlpack_capsules():
    t = ember.tensor([1.0, 2.0])
    legacy = t.__dlpack__()
    assert '"dltensor"' in repr(legacy)
    versioned = t.__dlpack__(max_version=(1, 0))
    assert '"dltensor_versioned"' in repr(versioned)
    assert '"dltensor"' in repr(t.__dlpack__(max_version=(0, 8)))
    u = ember.from_dlpack(versioned)
    assert u.data_ptr() == t.data_ptr()
    with pytest.raises(RuntimeError, match="already consumed"):
        ember.from_dlpack(versioned)
    assert ember.from_dlpack(legacy).tolist() == [1.0, 2.0]
    del t, u
    gc.collect()
    assert ember.zeros(1).__dlpack_device__() == (1, 0)
    unused = ember.ones(3).__dlpack__(max_version=(1, 0))  # freed by the capsule's destructor
    del unused


def test_dlpack_copy_flags():
    t = ember.tensor([1.0, 2.0])
    c = ember.from_dlpack(t.__dlpack__(max_version=(1, 0), copy=True))
    assert c.data_ptr() != t.data_ptr() and c.tolist() == t.tolist()
    assert ember.from_dlpack(t, copy=True).data_ptr() != t.data_ptr()
    assert ember.from_dlpack(t).data_ptr() == t.data_ptr()
    a = np.arange(4.0)
    assert ember.from_dlpack(a, copy=True).data_ptr() != a.ctypes.data
    ro = np.arange(4.0)
    ro.flags.writeable = False
    r = ember.from_dlpack(ro)  # read-only producers are copied: ember tensors are writable
    assert r.tolist() == ro.tolist() and r.data_ptr() != ro.ctypes.data


def test_dlpack_errors():
    with pytest.raises(TypeError, match="unsupported DLPack dtype"):
        ember.from_dlpack(np.zeros(3, np.float16))
    with pytest.raises(BufferError, match="require gradient"):
        ember.tensor([1.0], requires_grad=True).__dlpack__()
    with pytest.raises(BufferError, match="stream"):
        ember.tensor([1.0]).__dlpack__(stream=1)
    with pytest.raises(BufferError, match="without CUDA"):
        ember.tensor([1.0]).__dlpack__(dl_device=(2, 0))
    with pytest.raises(TypeError, match="__dlpack__ or a DLPack capsule"):
        ember.from_dlpack([1, 2])
    with pytest.raises(RuntimeError, match="without CUDA"):
        ember.from_dlpack(np.zeros(2), device="cuda")
    with pytest.raises(ValueError, match="negative strides"):
        ember.from_dlpack(np.arange(4.0)[::-1])


# --- Python scalars out of tensors ----------------------------------------------------------------
def test_item():
    assert ember.tensor([[1.5]]).item() == 1.5 and type(ember.tensor(3).item()) is int
    assert ember.tensor(True).item() is True
    assert type(ember.tensor([2], dtype=ember.uint8).item()) is int
    msg = "a Tensor with 6 elements cannot be converted to Scalar"
    with pytest.raises(RuntimeError, match=msg):
        ember.zeros(2, 3).item()


@requires_torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_tolist_matches_torch(dtype):
    for shape in [(), (0,), (2, 0), (3,), (2, 3), (2, 1, 2)]:
        a = sample(dtype, shape) if shape else np.asarray(sample(dtype, (1,))[0])
        got = ember.tensor(a).tolist()
        want = torch.tensor(a).tolist()
        assert got == want and type(got) is type(want)
        if shape == (2, 3):
            assert [type(v) for v in got[0]] == [type(v) for v in want[0]]


def test_bool_float_int_index():
    assert bool(ember.tensor([3])) and not bool(ember.tensor(0.0))
    with pytest.raises(RuntimeError, match="more than one value is ambiguous"):
        bool(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="no values is ambiguous"):
        bool(ember.tensor([]))
    assert float(ember.tensor([2])) == 2.0 and int(ember.tensor(-2.7)) == -2
    with pytest.raises(ValueError, match="only one element tensors"):
        float(ember.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="only one element tensors"):
        int(ember.tensor([]))
    assert [10, 20, 30][ember.tensor(1)] == 20 and [10, 20][ember.tensor([True])] == 20
    assert range(10)[ember.tensor([4], dtype=ember.int32)] == 4
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][ember.tensor(1.0)]
    with pytest.raises(TypeError, match="only integer tensors of a single element"):
        [1, 2][ember.tensor([0, 1])]
    assert f"{ember.tensor(1.23456):.2f}" == "1.23"


def test_iteration():
    t = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    rows = list(t)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
    assert all(r.grad_fn is not None for r in rows)
    (rows[0] * 1 + rows[1] * 2).sum().backward()
    assert t.grad.tolist() == [[1.0, 1.0], [2.0, 2.0]]
    assert [x.item() for x in ember.tensor([5, 6, 7])] == [5, 6, 7]
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(ember.tensor(1.0))
    assert list(ember.zeros(0, 3)) == []
    nc = ember.from_numpy(np.arange(6.0).reshape(2, 3).T)
    assert [r.tolist() for r in nc] == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    tg = ember.from_numpy(np.arange(6.0).reshape(2, 3).T.copy().T).requires_grad_()
    assert [r.tolist() for r in tg] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]

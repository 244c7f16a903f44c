"""Creation from Python data (ember.tensor, as_tensor, the legacy ember.Tensor constructor and
subclasses), *_like functions, threads and devices. PyTorch is the oracle for dtype inference."""
import warnings

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch

DATA = [
    3, 2.5, True, [], [[]], [[], []], [1, 2, 3], [1.0, 2], [True, False], [True, 2], [True, 2.5],
    [[1, 2], [3, 4]], ((1, 2), (3, 4)), [(1.5,), (2.5,)], [[[1], [2]], [[3], [4]]], range(4),
    [range(2), range(2)], [-(2**62), 2**62], [1e300, -1e-300], [float("inf"), float("nan")],
    [np.float64(1.0), 2], [np.float32(1.0), 2], [np.int32(1), 2], [np.int32(1), np.int32(2)],
    [np.bool_(True)], [np.uint8(2), 3], np.float64(2.5), np.int32(2),
    np.array([1, 2], dtype=np.uint8),
    np.arange(6.0).reshape(2, 3), np.arange(6, dtype=np.int32).reshape(3, 2).T, np.array(True),
    [np.array([1, 2]), np.array([3, 4])],
]


def torch_name(dtype):
    return str(dtype).split(".")[-1]


@requires_torch
@pytest.mark.parametrize("data", DATA, ids=[repr(d)[:40] for d in DATA])
def test_tensor_matches_torch(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about lists of ndarrays
        want = torch.tensor(data)
    got = ember.tensor(data)
    assert tuple(got.shape) == tuple(want.shape)
    assert torch_name(got.dtype) == torch_name(want.dtype)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
def test_tensor_dtype_argument(dtype):
    for data in [[1.5, -2.7, 0.0], [[1, 0], [3, 4]], [True, False], 7]:
        got = ember.tensor(data, dtype=getattr(ember, dtype))
        want = torch.tensor(data, dtype=getattr(torch, dtype)) if dtype != "uint8" else \
            torch.tensor(np.array(data).astype(np.float64)).to(torch.uint8)
        assert got.dtype == getattr(ember, dtype)
        np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_tensor_copies_and_keeps_numpy_dtype():
    a = np.arange(4.0)
    t = ember.tensor(a)
    assert t.dtype == ember.float64 and t.data_ptr() != a.ctypes.data
    a[0] = 9
    assert t.tolist()[0] == 0.0
    big_endian = np.arange(3, dtype=">i4")
    be = ember.tensor(big_endian)
    assert be.tolist() == [0, 1, 2] and be.dtype == ember.int32
    assert ember.tensor(a, dtype=ember.int32).dtype == ember.int32
    with pytest.raises(TypeError, match="float16"):
        ember.tensor(np.zeros(2, np.float16))


def test_tensor_from_tensors():
    src = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="detach\\(\\).clone\\(\\)"):
        c = ember.tensor(src)
    assert c.data_ptr() != src.data_ptr() and not c.requires_grad and c.tolist() == [1.0, 2.0]
    parts = [ember.tensor(1), ember.tensor(2.5, dtype=ember.float64), ember.tensor([3])]
    t = ember.tensor(parts)
    assert t.dtype == ember.float64 and t.tolist() == [1.0, 2.5, 3.0]
    assert ember.tensor([ember.tensor(1, dtype=ember.int32), 2]).dtype == ember.int64
    with pytest.raises(ValueError, match="only one element tensors"):
        ember.tensor([ember.tensor([1, 2]), ember.tensor([3, 4])])


def test_tensor_errors():
    with pytest.raises(ValueError, match=r"expected sequence of length 3 at dim 1 \(got 2\)"):
        ember.tensor([[1, 2, 3], [4, 5]])
    with pytest.raises(ValueError, match=r"expected sequence of length 1 at dim 1 \(got 0\)"):
        ember.tensor([[1], []])
    with pytest.raises(ValueError, match=r"at dim 2"):
        ember.tensor([[[1, 2]], [[3]]])
    with pytest.raises(TypeError, match="not a sequence"):
        ember.tensor([[1, 2], 3])
    with pytest.raises(TypeError, match="inconsistent depths"):
        ember.tensor([1, [2, 3]])
    with pytest.raises(TypeError, match="invalid data type 'str'"):
        ember.tensor("abc")
    with pytest.raises(TypeError, match="invalid data type 'str'"):
        ember.tensor([1, "a"])
    with pytest.raises(RuntimeError, match="Could not infer dtype of NoneType"):
        ember.tensor(None)
    with pytest.raises(ValueError, match="overflow"):
        ember.tensor([2**63])
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="without CUDA"):
        ember.tensor([1.0], device="cuda")
    with pytest.raises(TypeError, match="complex"):
        ember.tensor([1j])


def test_tensor_options_and_default_dtype():
    t = ember.tensor([1.0, 2.0], requires_grad=True, device="cpu")
    assert t.requires_grad and t.is_leaf
    old = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.tensor([1.5]).dtype == ember.float64 and ember.tensor([1]).dtype == ember.int64
        assert ember.tensor([]).dtype == ember.float64 and ember.Tensor([1]).dtype == ember.float64
    finally:
        ember.set_default_dtype(old)
    assert ember.tensor([]).dtype == ember.float32


@requires_torch
def test_dtypes_are_singletons_with_torchs_repr():
    """As in torch, every dtype a tensor or a function returns is the module's own object."""
    names = ["bool", "uint8", "int32", "int64", "float32", "float64"]
    for name in names:
        d = getattr(ember, name)
        t = ember.zeros(2, dtype=d)
        assert t.dtype is d and t.dtype is t.dtype and ember.zeros_like(t).dtype is d
        assert repr(d) == repr(getattr(torch, name)).replace("torch", "ember") == str(d)
        assert d == getattr(ember.dtype, name) and hash(d) == hash(t.dtype)
    assert ember.get_default_dtype() is ember.float32
    assert ember.promote_types(ember.int32, ember.float64) is ember.float64
    assert (ember.ones(2, dtype=ember.int64) / 2).dtype is ember.float32
    assert repr([ember.float32, ember.bool]) == "[ember.float32, ember.bool]"


def test_tensor_large_list():
    data = [float(i) for i in range(200_000)]
    assert ember.tensor(data).numpy().sum() == sum(data)
    nested = [[i, -i] for i in range(50_000)]
    assert ember.tensor(nested).shape == (50_000, 2)


def test_as_tensor():
    a = np.arange(6.0).reshape(2, 3)
    t = ember.as_tensor(a)
    assert t.data_ptr() == a.ctypes.data and t.dtype == ember.float64
    assert ember.as_tensor(a, dtype=ember.float64).data_ptr() == a.ctypes.data
    f = ember.as_tensor(a, dtype=ember.float32)
    assert f.dtype == ember.float32 and f.data_ptr() != a.ctypes.data
    assert ember.tensor(np.arange(5)[::-2]).tolist() == [4, 2, 0]  # torch refuses negative strides
    r = ember.as_tensor(np.arange(4)[::-1])
    assert r.tolist() == [3, 2, 1, 0]
    x = ember.tensor([1, 2])
    assert ember.as_tensor(x) is x
    assert ember.as_tensor(x, dtype=ember.float32).dtype == ember.float32
    assert ember.as_tensor([1, 2]).dtype == ember.int64 and ember.as_tensor(3.0).shape == ()


def test_legacy_constructor():
    legacy = ember.Tensor([1, 2])
    assert legacy.dtype == ember.float32 and legacy.tolist() == [1.0, 2.0]
    assert ember.Tensor((2, 3)).tolist() == [2.0, 3.0]  # a tuple is data
    assert ember.Tensor(2, 3).shape == (2, 3) and ember.Tensor(ember.Size([4])).shape == (4,)
    assert ember.Tensor().shape == (0,)
    assert ember.Tensor(np.array([1, 2])).dtype == ember.float32
    src = ember.tensor([1.0, 2.0])
    alias = ember.Tensor(src)
    assert alias is not src and alias.data_ptr() == src.data_ptr()
    with pytest.raises(TypeError, match="data must be a sequence"):
        ember.Tensor(2.5)
    with pytest.raises(TypeError, match="unexpected keyword"):
        ember.Tensor([1], dtype=ember.float64)


class Param(ember.Tensor):
    """A Parameter the way torch writes it: only __new__, through _make_subclass."""

    def __new__(cls, data=None, requires_grad=True):
        data = ember.empty(0) if data is None else data
        return ember.Tensor._make_subclass(cls, data, requires_grad)


class Buffer(ember.Tensor):
    """A subclass with an __init__ that calls the base constructor."""

    def __init__(self, data, tag):
        super().__init__(data)
        self.tag = tag


def test_subclassing():
    data = ember.tensor([1.0, 2.0])
    p = Param(data)
    assert isinstance(p, Param) and isinstance(p, ember.Tensor) and p.requires_grad and p.is_leaf
    assert p.data_ptr() == data.data_ptr() and p.tolist() == [1.0, 2.0]
    assert p.requires_grad_(False) is p  # C++ hands back the same Python object
    assert Param(ember.zeros(2), requires_grad=False).requires_grad is False
    y = (p * 2).sum()
    assert type(y) is ember.Tensor
    q = Param(ember.ones(3))
    (q * 3).sum().backward()
    assert q.grad.tolist() == [3.0] * 3
    b = Buffer([1, 2], tag="x")
    assert isinstance(b, Buffer) and b.tag == "x" and b.tolist() == [1.0, 2.0]
    assert repr(b).startswith("Buffer([1., 2.]")
    with pytest.raises(TypeError, match="subclass of Tensor"):
        ember.Tensor._make_subclass(int, data)


def test_like_functions():
    x = ember.zeros(2, 3, dtype=ember.int32)
    sevens = ember.full_like(x, 7)
    assert sevens.tolist() == [[7] * 3] * 2 and sevens.dtype == ember.int32
    assert ember.full_like(x, 2.5, dtype=ember.float64).tolist() == [[2.5] * 3] * 2
    with pytest.raises(TypeError, match="fill_value"):
        ember.full_like(x, "a")
    for fn in (ember.rand_like, ember.randn_like):
        y = fn(ember.zeros(4, 5))
        assert y.shape == (4, 5) and y.dtype == ember.float32
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.rand_like(x)
    assert ember.randint_like(x, 10).dtype == ember.int32
    assert ember.zeros_like(x).dtype == ember.int32 and ember.empty_like(x).shape == (2, 3)


def test_new_methods():
    x = ember.zeros(2, dtype=ember.float64)
    assert x.new_zeros(2, 3).dtype == ember.float64 and x.new_zeros((2, 3)).shape == (2, 3)
    assert x.new_ones([4]).tolist() == [1.0] * 4 and x.new_empty(0).shape == (0,)
    assert x.new_full((2,), 3).tolist() == [3.0, 3.0] and x.new_full((1,), 3).dtype == ember.float64
    t = x.new_tensor([1, 2])
    assert t.dtype == ember.float64 and t.tolist() == [1.0, 2.0]
    assert x.new_tensor([1, 2], dtype=ember.int32).dtype == ember.int32
    assert x.new_zeros(2, requires_grad=True).requires_grad


def test_threads():
    old = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
        a = ember.rand(100_000).numpy().sum()
        ember.set_num_threads(2)
        assert ember.get_num_threads() == 2
    finally:
        ember.set_num_threads(old)
    assert np.isfinite(a)


def test_devices():
    t = ember.tensor([1.0, 2.0])
    assert t.device == ember.device("cpu") and t.device.type == "cpu" and t.is_cpu and not t.is_cuda
    assert t.to("cpu") is t and t.cpu() is t and t.to(ember.device("cpu")) is t
    assert t.to("cpu", copy=True) is not t
    assert ember.device("cuda:1").index == 1 and str(ember.device("cuda", 0)) == "cuda:0"
    assert not ember.cuda.is_available() and ember.cuda.device_count() == 0
    ember.cuda.manual_seed_all(0)
    with pytest.raises(RuntimeError, match="ember was built without CUDA"):
        t.cuda()
    with pytest.raises(RuntimeError, match="ember was built without CUDA"):
        t.to("cuda")
    with pytest.raises(RuntimeError, match="ember was built without CUDA"):
        ember.cuda.synchronize()
    with pytest.raises(RuntimeError, match="without CUDA"):
        ember.zeros(2, device="cuda")

"""repr/str of tensors, compared character for character with PyTorch's (dtype suffixes, integer
mode, scientific notation, summarisation, line wrapping, autograd suffixes, print options)."""
import numpy as np
import pytest

import ember
from conftest import requires_torch, torch

pytestmark = requires_torch

rng = np.random.default_rng(0)
ARRAYS = {
    "int": np.array([[1, 2], [3, 4]]),
    "float": np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32),
    "float_frac": np.array([1.5, -2.25, 3.125], dtype=np.float32),
    "float64": np.array([0.1, 0.2], dtype=np.float64),
    "int32": np.array([1, -20, 300], dtype=np.int32),
    "uint8": np.array([[0, 255], [7, 8]], dtype=np.uint8),
    "bool": np.array([[True, False], [False, True]]),
    "bool0d": np.array(True),
    "scalar_f": np.array(3.5, dtype=np.float32),
    "scalar_i": np.array(-7),
    "scalar_f64": np.array(1e-8),
    "scalar_int32": np.array(5, dtype=np.int32),
    "empty": np.zeros(0, dtype=np.float32),
    "empty2d": np.zeros((2, 0), dtype=np.float32),
    "empty_int": np.zeros((0,), dtype=np.int64),
    "empty_f64": np.zeros((3, 0, 1)),
    "empty_bool": np.zeros(0, dtype=bool),
    "zeros": np.zeros((2, 3), dtype=np.float32),
    "neg_zero": np.array([-0.0, 0.0, 1.0], dtype=np.float32),
    "nan_inf": np.array([np.nan, np.inf, -np.inf, 1.5], dtype=np.float32),
    "nan_inf_int": np.array([np.nan, np.inf, 2.0], dtype=np.float32),
    "only_nan": np.array([np.nan, np.nan], dtype=np.float32),
    "sci_small": np.array([1e-5, 1.0], dtype=np.float32),
    "sci_large": np.array([1e10, 1.0], dtype=np.float32),
    "sci_range": np.array([0.001, 5.0], dtype=np.float32),
    "sci_int": np.array([1e9, 2.0], dtype=np.float32),
    "big_ints": np.array([123456789, -5]),
    "randn": rng.standard_normal((4, 5)).astype(np.float32),
    "randn64": rng.standard_normal((3, 3)),
    "wide_row": np.arange(30, dtype=np.float32) * 1.5,
    "wide_int": np.arange(40) * 1000,
    "3d": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
    "4d": np.arange(16).reshape(2, 2, 2, 2),
    "summarize_1d": np.arange(2000),
    "summarize_1d_f": np.linspace(0, 1, 1500, dtype=np.float32),
    "summarize_2d": rng.standard_normal((50, 50)).astype(np.float32),
    "summarize_3d": np.arange(8000, dtype=np.float64).reshape(20, 20, 20),
    "summarize_rows": np.arange(3003, dtype=np.float32).reshape(1001, 3),
    "summarize_bool": rng.random(1200) > 0.5,
    "transposed": np.arange(6, dtype=np.float32).reshape(2, 3).T,
    "strided": np.arange(20, dtype=np.int64)[::3],
    "single": np.array([[[5.0]]], dtype=np.float32),
    "mixed_sign": np.array([-1.0, 10.0, -100.5], dtype=np.float32),
    "tiny_all": np.array([1e-6, 2e-6], dtype=np.float32),
    "huge_f64": np.array([1e300, -1e-300]),
}


def both(a):
    return ember.tensor(a), torch.tensor(np.array(a, order="C"))


def same_repr(e, t):
    want = repr(t).replace("torch.", "ember.")
    assert repr(e) == want
    assert str(e) == want


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_repr_matches_torch(name):
    e, t = both(ARRAYS[name])
    same_repr(e, t)


def test_repr_noncontiguous_layouts():
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    same_repr(ember.from_numpy(a.T), torch.from_numpy(a.T.copy()))
    same_repr(ember.from_numpy(a[:, ::2]), torch.from_numpy(a[:, ::2].copy()))


def test_repr_autograd_suffixes():
    a = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    e = ember.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    same_repr(e, t)
    same_repr(e + 1, t + 1)
    same_repr(e * e, t * t)
    same_repr(e.sum(), t.sum())
    same_repr(ember.tensor(2.0, requires_grad=True), torch.tensor(2.0, requires_grad=True))
    e64 = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    t64 = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    same_repr(e64 * 2, t64 * 2)
    same_repr(e.detach(), t.detach())
    long = np.arange(20, dtype=np.float32) * 1.25  # the suffix wraps onto its own line
    e_long, t_long = ember.tensor(long, requires_grad=True), torch.tensor(long, requires_grad=True)
    same_repr(e_long * 2, t_long * 2)


def test_repr_default_dtype_float64():
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    try:
        for a in [np.array([1.5, 2.0]), np.array([1.5, 2.0], dtype=np.float32), np.array([1, 2]),
                  np.zeros(0), np.zeros(0, dtype=np.float32)]:
            same_repr(*both(a))
    finally:
        ember.set_default_dtype(ember.float32)
        torch.set_default_dtype(torch.float32)


PRINT_OPTIONS = [
    dict(precision=2),
    dict(precision=8),
    dict(threshold=5),
    dict(threshold=5, edgeitems=1),
    dict(threshold=5, edgeitems=0),
    dict(linewidth=40),
    dict(sci_mode=True),
    dict(sci_mode=False),
    dict(profile="short"),
    dict(profile="full"),
]


@pytest.mark.parametrize("opts", PRINT_OPTIONS, ids=[str(o) for o in PRINT_OPTIONS])
def test_printoptions_match_torch(opts):
    ember.set_printoptions(**opts)
    torch.set_printoptions(**opts)
    try:
        for name in ["float_frac", "randn", "wide_row", "summarize_1d", "summarize_2d", "sci_small",
                     "int", "3d", "scalar_f", "zeros", "empty2d"]:
            same_repr(*both(ARRAYS[name]))
    finally:
        ember.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")


def test_printoptions_context_and_getter():
    assert ember.get_printoptions()["precision"] == 4
    with ember.printoptions(precision=1):
        assert repr(ember.tensor([1.25])) == "tensor([1.2])"
    assert ember.get_printoptions()["precision"] == 4
    with pytest.raises(ValueError, match="profile"):
        ember.set_printoptions(profile="nope")

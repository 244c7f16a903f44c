"""Drives every case of op_cases.CASES through three oracles: numpy references, float64 finite
differences (gradcheck), and PyTorch (forward and backward), on contiguous and non-contiguous
inputs."""
import zlib

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch
from op_cases import CASES

IDS = [c.name for c in CASES]


def make_arrays(case, dtype=np.float64):
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    arrays = []
    for spec in case.inputs:
        if callable(spec):
            a = np.asarray(spec(rng))
            arrays.append(a.astype(dtype) if a.dtype.kind == "f" else a)
        else:
            arrays.append(np.asarray(rng.uniform(*case.domain, spec)).astype(dtype))
    return arrays


def noncontiguous(a):
    """The same values in a non-contiguous layout (transposed storage, or every other element)."""
    if a.ndim >= 2:
        return np.asfortranarray(a)
    if a.ndim == 1:
        big = np.zeros(2 * a.shape[0], dtype=a.dtype)
        big[::2] = a
        return big[::2]
    return a


def as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def at_offset(a):
    """An ember tensor of a's values, contiguous but starting past element 0 of its storage (a
    detached view: a leaf, like the others). Kernels that rebuild views of their operands must keep
    the offset."""
    big = ember.from_numpy(np.stack([np.zeros_like(a), np.array(a, order="C")]))
    return big[1].detach()


def to_ember(arrays, layout, requires_grad):
    ts = []
    for a in arrays:
        if layout == "offset":
            t = at_offset(a)
            if requires_grad and a.dtype.kind == "f":
                t.requires_grad_(True)
            ts.append(t)
            continue
        a = noncontiguous(a) if layout == "noncontig" else np.array(a, order="C")
        t = ember.from_numpy(a)
        if requires_grad and a.dtype.kind == "f":
            t.requires_grad_(True)
        ts.append(t)
    return ts


def np_of(t):
    return t.detach().numpy() if isinstance(t, ember.Tensor) else np.asarray(t)


@pytest.mark.parametrize("layout", ["contig", "noncontig"])
@pytest.mark.parametrize("case", [c for c in CASES if c.ref is not None], ids=[c.name for c in CASES if c.ref])
def test_forward_numpy(case, layout):
    if layout == "noncontig" and not case.noncontig:
        pytest.skip("case has no non-contiguous variant")
    arrays = make_arrays(case)
    outs = as_list(case.fn(ember, *to_ember(arrays, layout, False)))
    refs = as_list(case.ref(*[a.copy() for a in arrays]))
    for o, r in zip(outs, refs):
        np.testing.assert_allclose(np_of(o), np.asarray(r), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("case", [c for c in CASES if c.grad and c.gradcheck], ids=[c.name for c in CASES if c.grad and c.gradcheck])
def test_gradcheck(case):
    arrays = make_arrays(case)
    xs = to_ember(arrays, "contig", True)
    assert ember.autograd.gradcheck(lambda *a: case.fn(ember, *a), xs, eps=1e-6, atol=1e-5, rtol=1e-4)


@requires_torch
@pytest.mark.parametrize("layout", ["contig", "noncontig", "offset"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_parity(case, layout):
    if layout == "noncontig" and not case.noncontig:
        pytest.skip("case has no non-contiguous variant")
    arrays = make_arrays(case, np.float32)
    ex = to_ember(arrays, layout, case.grad)
    tx = [torch.from_numpy(np.array(a)) for a in arrays]
    for t in tx:
        if case.grad and t.dtype.is_floating_point:
            t.requires_grad_(True)
    eo, to = as_list(case.fn(ember, *ex)), as_list(case.fn(torch, *tx))
    assert len(eo) == len(to)
    for e, t in zip(eo, to):
        assert tuple(e.shape) == tuple(t.shape), f"shape {tuple(e.shape)} != torch {tuple(t.shape)}"
        assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], f"dtype {e.dtype} != {t.dtype}"
        np.testing.assert_allclose(np_of(e), t.detach().numpy(), rtol=case.rtol * 10, atol=case.atol)
    if not case.grad:
        return
    e_out, t_out = eo[0], to[0]
    if not t_out.requires_grad:
        assert not e_out.requires_grad
        return
    g = np.random.default_rng(1).standard_normal(tuple(t_out.shape)).astype(np.float32)
    e_out.backward(at_offset(g) if layout == "offset" else ember.from_numpy(g.copy()))
    t_out.backward(torch.from_numpy(g.copy()))
    for e, t in zip(ex, tx):
        if t.requires_grad:
            if t.grad is None:
                assert e.grad is None or np.all(np_of(e.grad) == 0)
                continue
            assert e.grad is not None, "ember produced no gradient where torch did"
            assert tuple(e.grad.shape) == tuple(t.grad.shape)
            np.testing.assert_allclose(np_of(e.grad), t.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c.grad], ids=[c.name for c in CASES if c.grad])
def test_graph_freed_without_backward(case):
    # An output that is dropped without backward must free its graph and every tensor the graph
    # saved (a node holding its own output strongly is a cycle: each call would leak that output).
    import gc
    xs = to_ember(make_arrays(case, np.float32), "contig", True)
    gc.disable()  # no collection of older garbage in between (gc.collect() per case is slow)
    try:
        before = ember._C._allocated_bytes()
        for _ in range(2):
            outs = as_list(case.fn(ember, *xs))
            assert any(isinstance(o, ember.Tensor) and o.requires_grad for o in outs)
            del outs
        after = ember._C._allocated_bytes()
    finally:
        gc.enable()
    assert after == before, f"{after - before} bytes of tensor memory not freed after the graph was dropped"

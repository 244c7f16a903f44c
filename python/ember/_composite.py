"""torch functions that are compositions of Ember's C++ ops (torch's CompositeImplicitAutograd):
broadcasting helpers, stacking, splitting, diagonals, NaN-aware reductions, lerp, logaddexp,
tensordot, median... Each is a few differentiable core ops, so forward and backward run in C++ and
autograd needs nothing new; the integer-only utilities (bincount, unique, tri*_indices) run in
numpy. ``finfo`` and ``iinfo`` describe the dtypes. Also installed as Tensor methods where torch
has them (bottom of the file).
"""
import builtins
import math

import numpy as np

from . import _C, return_types
from ._size import Size

Tensor = _C.Tensor

__all__ = [
    "addcdiv",
    "addcmul",
    "aminmax",
    "arccos",
    "arccosh",
    "arcsin",
    "arcsinh",
    "arctan",
    "arctan2",
    "arctanh",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "bincount",
    "broadcast_shapes",
    "broadcast_tensors",
    "broadcast_to",
    "clamp_max",
    "clamp_min",
    "column_stack",
    "cosine_similarity",
    "count_nonzero",
    "cross",
    "diag",
    "diag_embed",
    "diagflat",
    "diff",
    "dist",
    "dstack",
    "finfo",
    "fix",
    "fliplr",
    "flipud",
    "frac",
    "heaviside",
    "hstack",
    "hypot",
    "iinfo",
    "inner",
    "is_floating_point",
    "is_tensor",
    "kron",
    "kthvalue",
    "lerp",
    "logaddexp",
    "logaddexp2",
    "median",
    "meshgrid",
    "nan_to_num",
    "nanmean",
    "nansum",
    "numel",
    "pairwise_distance",
    "positive",
    "ravel",
    "repeat_interleave",
    "rot90",
    "row_stack",
    "sgn",
    "tensor_split",
    "tensordot",
    "tile",
    "trace",
    "tril_indices",
    "triu_indices",
    "unique",
    "vstack",
    "xlogy",
]

_FLOATS = (_C.dtype.float32, _C.dtype.float64)


def _shape_of(s):
    if isinstance(s, builtins.int):
        return (s,)
    if isinstance(s, Tensor):
        return tuple(s.shape)
    return tuple(builtins.int(d) for d in s)


# --- broadcasting --------------------------------------------------------------------------------
def broadcast_shapes(*shapes):
    """torch.broadcast_shapes(*shapes): the shape all of them broadcast to."""
    shapes = [_shape_of(s) for s in shapes]
    nd = builtins.max((len(s) for s in shapes), default=0)
    out = [1] * nd
    for k, s in enumerate(shapes):
        for i, d in enumerate(s):
            if d < 0:
                raise RuntimeError(f"broadcast_shapes: shape {list(s)} (argument {k}) has a negative dimension")
            j = nd - len(s) + i
            if d != 1 and out[j] != 1 and out[j] != d:
                raise RuntimeError(f"broadcast_shapes: shape mismatch, objects cannot be broadcast to a single "
                                   f"shape: dimension {j} is {out[j]} in an earlier shape and {d} in {list(s)} "
                                   f"(argument {k})")
            if d != 1:
                out[j] = d
    return Size(out)


def broadcast_to(input, size):
    """torch.broadcast_to(input, size): a view of input expanded to size (-1 keeps a dimension)."""
    return input.expand(*_shape_of(size))


def broadcast_tensors(*tensors):
    """torch.broadcast_tensors(*tensors): views of the tensors expanded to their common shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(t.expand(*shape) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    """torch.meshgrid(*tensors, indexing='ij'): coordinate grids from 1-D tensors ('xy': the first
    two dimensions swapped, as numpy's default)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for k, t in enumerate(tensors):
        if t.dim() > 1:
            raise RuntimeError(f"meshgrid: expected 0-D or 1-D tensors, argument {k} has shape {list(t.shape)}")
    flat = [t.reshape(-1) for t in tensors]
    order = list(range(len(flat)))
    if indexing == "xy" and len(flat) >= 2:
        order[0], order[1] = 1, 0
    shape = [flat[i].shape[0] for i in order]
    out = []
    for k, t in enumerate(flat):
        view = [1] * len(flat)
        view[order.index(k)] = -1
        out.append(t.reshape(view).expand(*shape))
    return tuple(out)


def _atleast(nd, tensors):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    out = []
    for t in tensors:
        if t.dim() == 0:
            t = t.reshape([1] * nd)
        elif t.dim() == 1 and nd >= 2:
            t = t.unsqueeze(0) if nd == 2 else t.reshape(1, -1, 1)
        elif t.dim() == 2 and nd == 3:
            t = t.unsqueeze(-1)
        out.append(t)
    return out[0] if single else tuple(out)


def atleast_1d(*tensors):
    """torch.atleast_1d: 0-D tensors as shape (1,); the others unchanged."""
    return _atleast(1, tensors)


def atleast_2d(*tensors):
    """torch.atleast_2d: 0-D as (1, 1), 1-D (n) as (1, n)."""
    return _atleast(2, tensors)


def atleast_3d(*tensors):
    """torch.atleast_3d: 0-D as (1, 1, 1), 1-D (n) as (1, n, 1), 2-D (m, n) as (m, n, 1)."""
    return _atleast(3, tensors)


def _seq(name, tensors):
    if isinstance(tensors, Tensor) or not tensors:
        raise TypeError(f"{name}: expected a non-empty sequence of tensors, got {type(tensors).__name__}")
    return list(tensors)


def hstack(tensors, *, out=None):
    """torch.hstack: along dim 0 for 1-D tensors, else dim 1."""
    ts = list(atleast_1d(*_seq("hstack", tensors)))
    return _C.cat(ts, 0 if ts[0].dim() == 1 else 1)


def vstack(tensors, *, out=None):
    """torch.vstack: atleast_2d, then along dim 0."""
    return _C.cat(list(atleast_2d(*_seq("vstack", tensors))), 0)


row_stack = vstack


def dstack(tensors, *, out=None):
    """torch.dstack: atleast_3d, then along dim 2."""
    return _C.cat(list(atleast_3d(*_seq("dstack", tensors))), 2)


def column_stack(tensors, *, out=None):
    """torch.column_stack: 0-D and 1-D tensors as columns (n, 1), then along dim 1."""
    ts = [t.reshape(-1, 1) if t.dim() <= 1 else t for t in _seq("column_stack", tensors)]
    return _C.cat(ts, 1)


def tensor_split(input, indices_or_sections, dim=0):
    """torch.tensor_split: n nearly equal parts (the first size % n one longer), or the pieces
    between the given indices; views."""
    size = input.shape[dim] if input.dim() else 0
    if input.dim() == 0:
        raise RuntimeError("tensor_split: expected at least a 1-dimensional tensor")
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dtype not in (_C.dtype.int64, _C.dtype.int32) or ios.dim() > 1:
            raise RuntimeError("tensor_split: indices_or_sections must be a 0-D or 1-D integer tensor, got "
                               f"{ios.dtype} of shape {list(ios.shape)}")
        ios = ios.item() if ios.dim() == 0 else [builtins.int(v) for v in ios.tolist()]
    if isinstance(ios, builtins.int):
        if ios <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be larger than 0, got {ios}")
        q, r = divmod(size, ios)
        bounds, start = [], 0
        for k in range(ios):
            stop = start + q + (1 if k < r else 0)
            bounds.append((start, stop))
            start = stop
    else:
        idx = [builtins.int(i) for i in ios]
        edges = [0] + [builtins.min(builtins.max(i if i >= 0 else i + size, 0), size) for i in idx] + [size]
        bounds = [(edges[k], builtins.max(edges[k], edges[k + 1])) for k in range(len(edges) - 1)]
    return tuple(input.narrow(dim, a, b - a) for a, b in bounds)


# --- elementwise ---------------------------------------------------------------------------------
def count_nonzero(input, dim=None):
    """torch.count_nonzero(input, dim=None): int64 counts of non-zero elements."""
    nz = (input != 0).to(_C.dtype.int64)
    return nz.sum() if dim is None else nz.sum(dim)


def finfo(type=None):
    """torch.finfo(dtype): bits, eps, max, min, tiny (smallest_normal), resolution of a float dtype."""
    return _FInfo(_C.get_default_dtype() if type is None else type)


def iinfo(type):
    """torch.iinfo(dtype): bits, max, min of an integer dtype."""
    return _IInfo(type)


class _FInfo:
    def __init__(self, dt):
        if dt not in _FLOATS:
            raise TypeError(f"finfo: expected a floating-point dtype, got {dt}")
        f = np.finfo(np.float32 if dt == _C.dtype.float32 else np.float64)
        self.dtype = str(dt).replace("ember.", "")
        self.bits, self.eps, self.max, self.min = f.bits, builtins.float(f.eps), builtins.float(f.max), builtins.float(f.min)
        self.tiny = self.smallest_normal = builtins.float(f.tiny)
        self.resolution = 10.0 ** -builtins.int(f.precision)

    def __repr__(self):
        return (f"finfo(resolution={self.resolution}, min={self.min:e}, max={self.max:e}, eps={self.eps:e}, "
                f"smallest_normal={self.smallest_normal:e}, tiny={self.tiny:e}, dtype={self.dtype})")


_INT_NP = {"int64": np.int64, "int32": np.int32, "uint8": np.uint8}


class _IInfo:
    def __init__(self, dt):
        name = str(dt).replace("ember.", "")
        if name not in _INT_NP:
            raise TypeError(f"iinfo: expected an integer dtype, got {dt}")
        i = np.iinfo(_INT_NP[name])
        self.dtype, self.bits, self.max, self.min = name, i.bits, builtins.int(i.max), builtins.int(i.min)

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def nan_to_num(input, nan=0.0, posinf=None, neginf=None, *, out=None):
    """torch.nan_to_num: NaN -> nan, +inf -> posinf (default the dtype's max), -inf -> neginf (its
    lowest); integer tensors are returned as a copy. The gradient is 0 where a value was replaced."""
    if input.dtype not in _FLOATS:
        return input.clone()
    fi = finfo(input.dtype)
    posinf = fi.max if posinf is None else posinf
    neginf = fi.min if neginf is None else neginf
    y = _C.where(input.isnan(), builtins.float(nan), input)
    y = _C.where(input.isposinf(), builtins.float(posinf), y)
    return _C.where(input.isneginf(), builtins.float(neginf), y)


def lerp(input, end, weight):
    """torch.lerp: input + weight (end - input), as torch evaluates it (from end where weight >= 0.5,
    so weight 1 gives end exactly)."""
    d = end - input
    if isinstance(weight, Tensor):
        return _C.where(weight.abs() < 0.5, input + weight * d, end - d * (1 - weight))
    return input + weight * d if builtins.abs(weight) < 0.5 else end - d * (1 - weight)


def logaddexp(input, other):
    """torch.logaddexp: log(exp(a) + exp(b)) without overflow: max + log1p(exp(-|a - b|)); equal
    infinities give themselves."""
    m = _C.maximum(input, other)
    y = m + _C.log1p(_C.exp(-(input - other).abs()))
    return _C.where(input.isinf() & (input == other), input, y)


def logaddexp2(input, other):
    """torch.logaddexp2: log2(2^a + 2^b) = max + log1p(2^-|a - b|) / ln 2."""
    m = _C.maximum(input, other)
    y = m + _C.log1p(_C.exp2(-(input - other).abs())) * (1.0 / math.log(2.0))
    return _C.where(input.isinf() & (input == other), input, y)


def xlogy(input, other):
    """torch.xlogy: input * log(other), 0 where input is 0 (unless other is NaN)."""
    if not isinstance(input, Tensor):
        input = _C.full_like(other, input)
    if not isinstance(other, Tensor):
        other = _C.full_like(input, other)
    y = input * _C.log(other)
    return _C.where((input == 0) & ~other.isnan(), 0.0, y)


def hypot(input, other):
    """torch.hypot: sqrt(a^2 + b^2) scaled by max(|a|, |b|), so it neither overflows nor underflows;
    inf if either is infinite."""
    a, b = input.abs(), other.abs()
    m = _C.maximum(a, b)
    safe = _C.where(m == 0, 1.0, m)
    y = m * _C.sqrt((a / safe) ** 2 + (b / safe) ** 2)
    return _C.where(a.isinf() | b.isinf(), math.inf, y)


def frac(input):
    """torch.frac: input - trunc(input) (the sign of input)."""
    return input - input.trunc()


def fix(input):
    """torch.fix: trunc."""
    return input.trunc()


def sgn(input):
    """torch.sgn: sign (real tensors)."""
    return input.sign()


def heaviside(input, values):
    """torch.heaviside: 0 where input < 0, values where input == 0, 1 where input > 0."""
    step = (input > 0).to(input.dtype)
    return _C.where(input == 0, values, step)


def positive(input):
    """torch.positive: input itself."""
    return input


def clamp_min(input, min):  # (torch's names)
    """torch.clamp_min: clamp(input, min=min)."""
    return input.clamp(min=min)


def clamp_max(input, max):
    """torch.clamp_max: clamp(input, max=max)."""
    return input.clamp(max=max)


def addcmul(input, tensor1, tensor2, *, value=1):
    """torch.addcmul: input + value * tensor1 * tensor2."""
    return input + value * (tensor1 * tensor2)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """torch.addcdiv: input + value * tensor1 / tensor2."""
    return input + value * (tensor1 / tensor2)


def _alias(core, name):
    def fn(*args, **kwargs):
        return core(*args, **kwargs)

    fn.__name__, fn.__doc__ = name, f"torch.{name}: {core.__name__}."
    return fn


arccos, arcsin, arctan, arctan2 = (_alias(f, n) for f, n in ((_C.acos, "arccos"), (_C.asin, "arcsin"),
                                                              (_C.atan, "arctan"), (_C.atan2, "arctan2")))
arccosh, arcsinh, arctanh = (_alias(f, n) for f, n in ((_C.acosh, "arccosh"), (_C.asinh, "arcsinh"),
                                                       (_C.atanh, "arctanh")))


# --- reductions ----------------------------------------------------------------------------------
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """torch.nansum: sum treating NaN as 0."""
    x = _C.where(input.isnan(), 0.0, input) if input.dtype in _FLOATS else input
    if dtype is not None:
        x = x.to(dtype)
    return x.sum() if dim is None else x.sum(dim, keepdim)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """torch.nanmean: mean of the non-NaN elements (NaN where there are none)."""
    if input.dtype not in _FLOATS:
        raise RuntimeError(f"nanmean(): expected input to have floating point dtype but got {input.dtype}")
    n = (~input.isnan()).to(dtype or input.dtype)
    s = nansum(input, dim, keepdim, dtype=dtype)
    return s / (n.sum() if dim is None else n.sum(dim, keepdim))


def dist(input, other, p=2):
    """torch.dist: the p-norm of input - other."""
    return (input - other).norm(p)


def trace(input):
    """torch.trace: sum of the main diagonal of a 2-D tensor."""
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with shape {list(input.shape)}")
    return _C.diagonal(input).sum()


def aminmax(input, *, dim=None, keepdim=False):
    """torch.aminmax: (min, max) as a named tuple, over everything or along dim."""
    if dim is None:
        if keepdim:
            return return_types.aminmax(input.amin(list(range(input.dim())), True),
                                        input.amax(list(range(input.dim())), True))
        return return_types.aminmax(input.amin(), input.amax())
    return return_types.aminmax(input.amin(dim, keepdim), input.amax(dim, keepdim))


def _sorted_pick(name, input, k_of_n, dim, keepdim):
    """values and indices of the element of rank k_of_n(n) (0-based) along dim, from a stable sort
    (NaN sorts last, so ranks count NaN as the largest)."""
    x = input if input.dim() else input.reshape(1)
    d = dim % x.dim()
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"{name}(): expected a non-empty dimension {dim}, got shape {list(input.shape)}")
    vals, idx = x.sort(d, stable=True)
    k = k_of_n(n)
    v, i = vals.narrow(d, k, 1), idx.narrow(d, k, 1)
    if not keepdim or input.dim() == 0:
        v, i = v.squeeze(d), i.squeeze(d)
    return v, i


def median(input, dim=None, keepdim=False):
    """torch.median: the lower median (of an even count, the smaller middle); NaN if the slice holds
    a NaN (with the first NaN's index). With dim: (values, indices)."""
    if dim is None:
        flat = input.reshape(-1)
        if flat.numel() == 0:
            return _C.full([], math.nan, dtype=input.dtype)
        if input.dtype in _FLOATS and builtins.bool(flat.isnan().any()):
            return flat[flat.isnan().to(_C.dtype.int64).argmax()]
        return _sorted_pick("median", flat, lambda n: (n - 1) // 2, 0, False)[0]
    v, i = _sorted_pick("median", input, lambda n: (n - 1) // 2, dim, keepdim)
    if input.dtype in _FLOATS and input.dim():
        has_nan = input.isnan().any(dim, keepdim)
        if builtins.bool(has_nan.any()):
            first = input.isnan().to(_C.dtype.int64).argmax(dim, keepdim)
            v = _C.where(has_nan, math.nan, v)
            i = _C.where(has_nan, first, i)
    return return_types.median(v, i)


def kthvalue(input, k, dim=-1, keepdim=False):
    """torch.kthvalue: the k-th smallest element along dim (1-based k) and its index."""
    n = input.shape[dim] if input.dim() else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k ({k}) out of range for dimension {dim} of size {n}")
    return return_types.kthvalue(*_sorted_pick("kthvalue", input, lambda n: k - 1, dim, keepdim))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """torch.diff: the n-th forward difference along dim, after prepending / appending."""
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    parts = [t for t in (prepend, input, append) if t is not None]
    x = _C.cat(parts, dim) if len(parts) > 1 else input
    for _ in range(n):
        m = x.shape[dim]
        if m <= 1:
            return x.narrow(dim, 0, 0)
        a, b = x.narrow(dim, 1, m - 1), x.narrow(dim, 0, m - 1)
        x = _C.logical_xor(a, b) if x.dtype == _C.dtype.bool else a - b
    return x


# --- diagonals, products ---------------------------------------------------------------------------
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """torch.diag_embed: the last dim of input placed on a diagonal (offset) of two new dims."""
    n = input.shape[-1]
    k = builtins.abs(offset)
    m = n + k
    ar = _C.arange(m)
    mask = (ar.unsqueeze(0) - ar.unsqueeze(1)) == offset  # (i, j) with j - i == offset
    v = input
    if k:
        v = _C.cat([input, _C.zeros(*input.shape[:-1], k, dtype=input.dtype)], -1)
    v = v.unsqueeze(-1) if offset >= 0 else v.unsqueeze(-2)  # row i holds v[i] / column j holds v[j]
    out = _C.where(mask, v, _C.zeros([], dtype=input.dtype))
    nd = out.dim()
    d1, d2 = dim1 % nd, dim2 % nd
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    return out.movedim((nd - 2, nd - 1), (d1, d2))


def diag(input, diagonal=0):
    """torch.diag: a 1-D tensor to a square matrix with it on a diagonal, or a matrix's diagonal (a
    copy)."""
    if input.dim() == 1:
        return diag_embed(input, diagonal)
    if input.dim() == 2:
        return _C.diagonal(input, diagonal).clone()
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D")


def diagflat(input, offset=0):
    """torch.diagflat: diag of the flattened input."""
    return diag_embed(input.reshape(-1), offset)


def tensordot(a, b, dims=2, out=None):
    """torch.tensordot: contract dims of a with dims of b (an int n: a's last n with b's first n)."""
    if isinstance(dims, builtins.int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.dim() - dims, a.dim())), list(range(dims))
    elif isinstance(dims, Tensor):
        return tensordot(a, b, dims.tolist())
    else:
        da, db = dims
        da = [da] if isinstance(da, builtins.int) else list(da)
        db = [db] if isinstance(db, builtins.int) else list(db)
    if len(da) != len(db):
        raise RuntimeError(f"tensordot: both dimension lists should have same length, got {da} and {db}")
    da = [d % a.dim() for d in da]
    db = [d % b.dim() for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has size "
                               f"{a.shape[x]} in dim {x} and second has size {b.shape[y]} in dim {y}")
    fa = [d for d in range(a.dim()) if d not in da]
    fb = [d for d in range(b.dim()) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    am = a.permute(*fa, *da).reshape(math.prod(a.shape[d] for d in fa), k)
    bm = b.permute(*db, *fb).reshape(k, math.prod(b.shape[d] for d in fb))
    return (am @ bm).reshape([a.shape[d] for d in fa] + [b.shape[d] for d in fb])


def inner(input, other, *, out=None):
    """torch.inner: sums over the last dims of both (a scalar times a tensor when one is 0-D)."""
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    return tensordot(input, other, ([-1], [-1]))


def kron(input, other):
    """torch.kron: the Kronecker product."""
    nd = builtins.max(input.dim(), other.dim())
    a = input.reshape([1] * (nd - input.dim()) + list(input.shape))
    b = other.reshape([1] * (nd - other.dim()) + list(other.shape))
    sa = [s for d in a.shape for s in (d, 1)]
    sb = [s for d in b.shape for s in (1, d)]
    return (a.reshape(sa) * b.reshape(sb)).reshape([x * y for x, y in zip(a.shape, b.shape)])


def cross(input, other, dim=None):
    """torch.cross: the 3-vector cross product along dim (default: the first dim of size 3)."""
    a, b = broadcast_tensors(input, other)
    if dim is None:
        dim = next((d for d in range(a.dim()) if a.shape[d] == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in input of shape {list(a.shape)}")
    if a.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {a.shape[dim]} and "
                           f"{b.shape[dim]}")
    a0, a1, a2 = (a.narrow(dim, i, 1) for i in range(3))
    b0, b1, b2 = (b.narrow(dim, i, 1) for i in range(3))
    return _C.cat([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], dim)


# --- shapes --------------------------------------------------------------------------------------
def tile(input, dims):
    """torch.tile: repeat with dims padded by leading 1s to input's dimensions."""
    dims = list(_shape_of(dims))
    if len(dims) < input.dim():
        dims = [1] * (input.dim() - len(dims)) + dims
    return input.repeat(*dims)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """torch.repeat_interleave: each element (slice along dim) repeated repeats times (an int or a
    tensor with one count per slice); dim None flattens first. One tensor argument: the indices
    0..n-1 repeated repeats[i] times."""
    if repeats is None:  # repeat_interleave(repeats)
        counts = input
        return repeat_interleave(_C.arange(counts.numel()), counts)
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else dim % builtins.max(x.dim(), 1)
    n = x.shape[d]
    if isinstance(repeats, Tensor):
        if repeats.dim() == 0 or repeats.numel() == 1:
            repeats = builtins.int(repeats.item())
        else:
            r = repeats.numpy().astype(np.int64)
            if r.shape[0] != n:
                raise RuntimeError(f"repeat_interleave: repeats must have the same size as input along dim, "
                                   f"got {r.shape[0]} repeats for size {n}")
            if (r < 0).any():
                raise RuntimeError("repeat_interleave: repeats can not be negative")
            idx = _C.from_numpy(np.repeat(np.arange(n, dtype=np.int64), r))
            return x.index_select(d, idx)
    if repeats < 0:
        raise RuntimeError(f"repeat_interleave: repeats can not be negative, got {repeats}")
    shape = list(x.shape)
    y = x.unsqueeze(d + 1).expand(*shape[: d + 1], repeats, *shape[d + 1:])
    return y.reshape(shape[:d] + [n * repeats] + shape[d + 1:])


def ravel(input):
    """torch.ravel: a flattened view (a copy when input is not contiguous)."""
    return input.reshape(-1)


def fliplr(input):
    """torch.fliplr: reverse dim 1."""
    if input.dim() < 2:
        raise RuntimeError("fliplr: Input must be >= 2-d.")
    return input.flip(1)


def flipud(input):
    """torch.flipud: reverse dim 0."""
    if input.dim() < 1:
        raise RuntimeError("flipud: Input must be >= 1-d.")
    return input.flip(0)


def rot90(input, k=1, dims=(0, 1)):
    """torch.rot90: rotate by 90 degrees k times in the plane of dims (from the first towards the
    second)."""
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"rot90: expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.dim() < 2:
        raise RuntimeError(f"rot90: expected total dims >= 2, but got total dims = {input.dim()}")
    d0, d1 = dims[0] % input.dim(), dims[1] % input.dim()
    if d0 == d1:
        raise RuntimeError(f"rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k %= 4
    if k == 1:
        return input.flip(d1).transpose(d0, d1)
    if k == 2:
        return input.flip([d0, d1])
    if k == 3:
        return input.flip(d0).transpose(d0, d1)
    return input.clone()


# --- integer utilities (numpy) ---------------------------------------------------------------------
def _np_int(name, t):
    if t.dtype not in (_C.dtype.int64, _C.dtype.int32, _C.dtype.uint8, _C.dtype.bool):
        raise RuntimeError(f"{name}: expected an integer tensor, got {t.dtype}")
    return t.detach().cpu().numpy()


def bincount(input, weights=None, minlength=0):
    """torch.bincount: counts of each non-negative integer in a 1-D tensor (weighted sums with
    weights)."""
    if input.dim() != 1:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got shape {list(input.shape)}")
    a = _np_int("bincount", input).astype(np.int64)
    if a.size and a.min() < 0:
        raise RuntimeError(f"bincount only supports 1-d non-negative integral inputs, got a value of {a.min()}")
    if minlength < 0:
        raise RuntimeError(f"bincount: minlength should be >= 0, got {minlength}")
    if weights is None:
        return _C.from_numpy(np.bincount(a, minlength=minlength).astype(np.int64))
    w = weights.detach().cpu().numpy()
    if w.shape != a.shape:
        raise RuntimeError(f"bincount: weights should be 1-d and have the same length as input, got "
                           f"{list(w.shape)} for {list(a.shape)}")
    out = np.bincount(a, weights=w.astype(np.float64), minlength=minlength)
    return _C.from_numpy(out.astype(np.float32 if weights.dtype == _C.dtype.float32 else np.float64))


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """torch.unique: the sorted distinct values (NaNs kept apart, as torch), with the inverse
    indices and counts on request; dim picks unique slices along it."""
    a = input.detach().cpu().numpy()
    if dim is None:
        vals, inv, cnt = np.unique(a.reshape(-1), return_inverse=True, return_counts=True, equal_nan=False)
        inv = inv.reshape(a.shape)
    else:
        d = dim % a.ndim
        moved = np.moveaxis(a, d, 0).reshape(a.shape[d], -1)
        _, first, inv, cnt = np.unique(moved, axis=0, return_index=True, return_inverse=True, return_counts=True)
        vals = np.take(a, first, axis=d)
        inv = inv.reshape(-1)
    res = [_C.from_numpy(np.ascontiguousarray(vals))]
    if return_inverse:
        res.append(_C.from_numpy(np.ascontiguousarray(inv.astype(np.int64))))
    if return_counts:
        res.append(_C.from_numpy(cnt.astype(np.int64)))
    return res[0] if len(res) == 1 else tuple(res)


def _tri_indices(name, fn, row, col, offset, dtype):
    if row < 0 or col < 0:
        raise RuntimeError(f"{name}: row and col must be non-negative, got row={row}, col={col}")
    r, c = fn(row, offset, col)
    out = _C.from_numpy(np.stack([r, c]).astype(np.int64).reshape(2, -1))
    return out if dtype is None or dtype == _C.dtype.int64 else out.to(dtype)


def tril_indices(row, col, offset=0, *, dtype=None, device="cpu", layout=None):
    """torch.tril_indices: the (2, N) row and column indices of a row x col lower triangle."""
    return _tri_indices("tril_indices", np.tril_indices, row, col, offset, dtype)


def triu_indices(row, col, offset=0, *, dtype=None, device="cpu", layout=None):
    """torch.triu_indices: the (2, N) row and column indices of a row x col upper triangle."""
    return _tri_indices("triu_indices", np.triu_indices, row, col, offset, dtype)


# --- predicates ----------------------------------------------------------------------------------
def is_tensor(obj):
    """torch.is_tensor: whether obj is an ember Tensor."""
    return isinstance(obj, Tensor)


def is_floating_point(input):
    """torch.is_floating_point."""
    return input.is_floating_point()


def numel(input):
    """torch.numel."""
    return input.numel()


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """torch.cosine_similarity (nn.functional.cosine_similarity)."""
    from .nn import functional as F

    return F.cosine_similarity(x1, x2, dim, eps)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """torch.pairwise_distance (nn.functional.pairwise_distance)."""
    from .nn import functional as F

    return F.pairwise_distance(x1, x2, p, eps, keepdim)


# --- Tensor methods --------------------------------------------------------------------------------
for _name in ("broadcast_to", "tensor_split", "count_nonzero", "nan_to_num", "lerp", "diag", "diag_embed",
              "diagflat", "trace", "logaddexp", "logaddexp2", "xlogy", "hypot", "frac", "fix", "sgn",
              "heaviside", "positive", "clamp_min", "clamp_max", "addcmul", "addcdiv", "nansum", "nanmean",
              "dist", "aminmax", "median", "kthvalue", "diff", "inner", "kron", "cross", "tile",
              "repeat_interleave", "ravel", "fliplr", "flipud", "rot90", "bincount", "unique",
              "arccos", "arcsin", "arctan", "arctan2", "arccosh", "arcsinh", "arctanh"):
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, globals()[_name])
del _name

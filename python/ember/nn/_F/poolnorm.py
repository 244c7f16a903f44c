"""Functional pooling, normalisation, embedding and interpolation (torch.nn.functional's names,
argument names and defaults). Pooling and normalisation run fused C++ kernels (cpp/src/ops/pool.cpp,
norm.cpp); the 1-D pools are the 2-D ones on a (.., 1, L) view, as in torch; embedding and
interpolate are compositions of differentiable gather ops."""

import functools
import math
import struct

import numpy as np

from ... import _C

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "avg_pool1d",
    "avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "adaptive_max_pool2d_with_indices",
    "max_unpool2d",
    "batch_norm",
    "instance_norm",
    "layer_norm",
    "group_norm",
    "embedding",
    "interpolate",
    "upsample",
]


def _pair(v):
    if isinstance(v, (list, tuple)):
        return [int(a) for a in v]
    return [int(v), int(v)]


def _single(v, name):
    if isinstance(v, (list, tuple)):
        if len(v) != 1:
            raise ValueError(f"{name} must be an int or a 1-tuple, got {v!r}")
        return int(v[0])
    return int(v)


def _check_rank(input, ranks, op):
    if input.dim() not in ranks:
        want = " or ".join(f"{r}D" for r in ranks)
        raise RuntimeError(
            f"{op}: Expected {want} (batch mode) tensor for input, but got {input.dim()}D "
            f"input of shape {tuple(input.shape)}"
        )


# --- pooling ----------------------------------------------------------------------------------
def max_pool2d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True,
    *, _relu=False
):
    """``_relu=True`` (not torch's; nn.Sequential's fused ReLU + MaxPool2d) pools relu(input) in
    one pass, with the same values, indices and gradients."""
    stride = (
        []
        if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)
        else _pair(stride)
    )
    return _C._max_pool2d_with_indices(
        input, _pair(kernel_size), stride, _pair(padding), _pair(dilation), ceil_mode,
        bool(return_indices), relu=_relu,
    )


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return max_pool2d_with_indices(
        input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool1d_with_indices(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=True
):
    _check_rank(input, (2, 3), "max_pool1d")
    k = _single(kernel_size, "kernel_size")
    s = [] if stride is None or stride == () or stride == [] else [1, _single(stride, "stride")]
    out, idx = _C._max_pool2d_with_indices(
        input.unsqueeze(-2),
        [1, k],
        s,
        [0, _single(padding, "padding")],
        [1, _single(dilation, "dilation")],
        ceil_mode,
    )
    out, idx = out.squeeze(-2), idx.squeeze(-2)
    return (out, idx) if return_indices else out


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    return max_pool1d_with_indices(
        input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    stride = (
        []
        if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)
        else _pair(stride)
    )
    return _C._avg_pool2d(
        input,
        _pair(kernel_size),
        stride,
        _pair(padding),
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    _check_rank(input, (2, 3), "avg_pool1d")
    k = _single(kernel_size, "kernel_size")
    s = [] if stride is None or stride == () or stride == [] else [1, _single(stride, "stride")]
    out = _C._avg_pool2d(
        input.unsqueeze(-2),
        [1, k],
        s,
        [0, _single(padding, "padding")],
        ceil_mode,
        count_include_pad,
        None,
    )
    return out.squeeze(-2)


def _adaptive_size(output_size):
    if isinstance(output_size, (list, tuple)):
        return [-1 if v is None else int(v) for v in output_size]
    return [int(output_size)] * 2


def adaptive_avg_pool2d(input, output_size):
    return _C._adaptive_avg_pool2d(input, _adaptive_size(output_size))


def adaptive_avg_pool1d(input, output_size):
    _check_rank(input, (2, 3), "adaptive_avg_pool1d")
    return _C._adaptive_avg_pool2d(
        input.unsqueeze(-2), [1, _single(output_size, "output_size")]
    ).squeeze(-2)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    out, idx = _C._adaptive_max_pool2d(input, _adaptive_size(output_size))
    return (out, idx) if return_indices else out


def adaptive_max_pool2d(input, output_size, return_indices=False):
    return adaptive_max_pool2d_with_indices(input, output_size, return_indices)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    k, p = _pair(kernel_size), _pair(padding)
    s = k if stride is None else _pair(stride)
    if output_size is None:
        size = [(input.shape[-2 + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(2)]
    else:
        size = [int(v) for v in list(output_size)[-2:]]
    return _C._max_unpool2d(input, indices, size)


# --- normalisation ----------------------------------------------------------------------------
def instance_norm(
    input,
    running_mean=None,
    running_var=None,
    weight=None,
    bias=None,
    use_input_stats=True,
    momentum=0.1,
    eps=1e-5,
):
    """Each (sample, channel) normalised over its own spatial elements: torch's way, batch_norm
    on (1, N C, *) with the affine parameters and running stats repeated N times; the running
    stats then take the mean of the N updated copies."""
    if input.dim() < 2:
        raise ValueError(f"instance_norm: expected an input of at least 2 dims (N, C, ...), got "
                         f"{input.dim()}")
    shape = list(input.shape)
    b, c = shape[0], shape[1]
    if use_input_stats:
        n = 1
        for s in shape[2:]:
            n *= s
        if n == 1:
            raise ValueError("Expected more than 1 spatial element when training, got input size "
                             f"{shape}")

    def rep(t):
        return None if t is None else t.repeat(b)

    rm, rv = rep(running_mean), rep(running_var)
    out = batch_norm(input.reshape(1, b * c, *shape[2:]), rm, rv, rep(weight), rep(bias),
                     use_input_stats, momentum, eps)
    if use_input_stats:
        from ...autograd.grad_mode import no_grad

        with no_grad():
            if running_mean is not None:
                running_mean.copy_(rm.reshape(b, c).mean(0))
            if running_var is not None:
                running_var.copy_(rv.reshape(b, c).mean(0))
    return out.reshape(shape)


def batch_norm(
    input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5
):
    if training:
        size = list(input.shape)
        n = 1
        for i, s in enumerate(size):
            if i != 1:
                n *= s
        if n == 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size {size}"
            )
    return _C._batch_norm(
        input,
        running_mean,
        running_var,
        weight,
        bias,
        training,
        0.0 if momentum is None else float(momentum),
        eps,
    )


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = [normalized_shape]
    return _C._layer_norm(input, [int(s) for s in normalized_shape], weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    if input.dim() >= 2 and num_groups > 0 and input.shape[1] % num_groups == 0:
        # torch's _verify_batch_size on (N C / G, G, *): one value per group is an error
        size = [input.shape[0] * input.shape[1] // num_groups, num_groups] + list(input.shape[2:])
        if math.prod([size[0]] + size[2:]) == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {size}")
    return _C._group_norm(input, int(num_groups), weight, bias, eps)


# --- embedding --------------------------------------------------------------------------------
def embedding(
    input,
    weight,
    padding_idx=None,
    max_norm=None,
    norm_type=2.0,
    scale_grad_by_freq=False,
    sparse=False,
):
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm is not supported")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse are not supported")
    if input.dtype not in (_C.dtype.int64, _C.dtype.int32):
        raise TypeError(
            f"embedding: expected an integer index tensor (int64 or int32), got {input.dtype}"
        )
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError("Padding_idx must be within num_embeddings")
        padding_idx = padding_idx % num
    flat = input.reshape(-1)
    if flat.numel() > 0:
        lo, hi = int(flat.min()), int(flat.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise IndexError(
                f"embedding: index {bad} is out of range [0, {num}) (num_embeddings={num})"
            )
    rows = weight.index_select(0, flat)
    if padding_idx is not None and rows.requires_grad:
        # NOTE: the padding row gets no gradient: its lookups read a detached copy of the rows.
        keep = (flat != padding_idx).unsqueeze(-1)
        rows = _C.where(keep, rows, rows.detach())
    return rows.reshape(*input.shape, weight.shape[1])


# --- interpolation ----------------------------------------------------------------------------
def _out_sizes(input, size, scale_factor, nd):
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    in_sizes = list(input.shape[-nd:])
    if size is not None:
        sizes = [int(v) for v in size] if isinstance(size, (list, tuple)) else [int(size)] * nd
        if len(sizes) != nd:
            raise ValueError(
                f"Input and output must have the same number of spatial dimensions, but got input "
                f"with spatial dimensions of {in_sizes} and output size of {sizes}."
            )
        return sizes, [None] * nd
    scales = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * nd
    if len(scales) != nd:
        raise ValueError(
            "Input and scale_factor must have the same number of spatial dimensions, but got "
            f"input "
            f"with spatial dimensions of {in_sizes} and scale_factor of shape {scales}."
        )
    return [int(math.floor(i * float(s))) for i, s in zip(in_sizes, scales)], [
        float(s) for s in scales
    ]


def _rounder(dtype):
    """torch computes source coordinates in the input's type (float32 for float32): round each
    intermediate to it so indices and weights match torch's bit for bit."""
    if dtype == _C.dtype.float64:
        return float
    return lambda v: struct.unpack("f", struct.pack("f", v))[0]


def _src_scale(in_size, out_size, scale, align_corners, r):
    if align_corners:
        return r(r(in_size - 1) / r(out_size - 1)) if out_size > 1 else 0.0
    return r(1.0 / scale) if scale is not None and scale > 0 else r(r(in_size) / r(out_size))


def _np_float(dtype):
    """The numpy type torch computes source coordinates in: the input's (float32 for float32)."""
    return np.float64 if dtype == _C.dtype.float64 else np.float32


# The index and weight tables depend only on the sizes, the scale, the corner mode and the dtype:
# cached, as the same layers call interpolate with the same arguments every step (the numpy work
# took 17 of the 77 us of a nearest (256, 1024) -> (128, 512) and 65 of 127 bilinear). The tables
# are never written: the kernels and the backward only read them.
@functools.lru_cache(maxsize=256)
def _identity_index(n):
    return _C.from_numpy(np.arange(n, dtype=np.int64))


@functools.lru_cache(maxsize=256)
def _nearest_index(in_size, out_size, scale, dtype):
    if out_size == in_size:  # torch's shortcuts: copy, and halving for an exact 2x
        idx = np.arange(out_size, dtype=np.int64)
    elif out_size == 2 * in_size:
        idx = np.arange(out_size, dtype=np.int64) >> 1
    else:
        f = _np_float(dtype)
        s = f(_src_scale(in_size, out_size, scale, False, _rounder(dtype)))
        src = np.arange(out_size, dtype=f) * s  # one rounding in f, as torch's d * s
        idx = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    return _C.from_numpy(np.ascontiguousarray(idx, dtype=np.int64))


@functools.lru_cache(maxsize=256)
def _linear_weights(in_size, out_size, scale, align_corners, dtype):
    f = _np_float(dtype)
    s = f(_src_scale(in_size, out_size, scale, align_corners, _rounder(dtype)))
    d = np.arange(out_size, dtype=f)
    if align_corners:
        src = d * s
    elif f is np.float32:
        # torch's kernels (built for AVX2 / AVX-512) contract s * (d + 0.5) - 0.5 into one FMA:
        # exact in float64 here (a 24 x 24-bit product less 0.5), then rounded once to float32.
        fused = s.astype(np.float64) * (d + f(0.5)).astype(np.float64) - 0.5
        src = np.maximum(fused.astype(np.float32), f(0))
    else:
        src = np.maximum((d + f(0.5)) * s - f(0.5), f(0))
    lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    hi = np.where(lo < in_size - 1, lo + 1, lo)
    lam = np.clip(src - lo.astype(f), f(0), f(1)).astype(f)
    return _C.from_numpy(lo), _C.from_numpy(hi), _C.from_numpy(np.ascontiguousarray(lam))


def interpolate(
    input,
    size=None,
    scale_factor=None,
    mode="nearest",
    align_corners=None,
    recompute_scale_factor=None,
    antialias=False,
):
    if antialias:
        raise NotImplementedError("interpolate: antialias is not supported")
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError(
                "align_corners option can only be set with the interpolating modes: "
                "linear | bilinear | bicubic | trilinear"
            )
        nd = input.dim() - 2
        if nd not in (1, 2):
            raise NotImplementedError(
                f"interpolate: mode 'nearest' supports 3-D and 4-D inputs, got {input.dim()}-D"
            )
        sizes, scales = _out_sizes(input, size, scale_factor, nd)
        if recompute_scale_factor:
            scales = [None] * nd
        idx = [_nearest_index(input.shape[input.dim() - nd + k], sizes[k], scales[k], input.dtype)
               for k in range(nd)]
        if nd == 1:  # rows: the channels, unchanged
            idx.insert(0, _identity_index(input.shape[1]))
        return _C._interp2d(input, idx[0], None, None, idx[1], None, None)
    if mode == "bilinear":
        if input.dim() != 4:
            raise ValueError(f"Got {input.dim()}D input, but bilinear mode needs 4D input")
        align = bool(align_corners)
        sizes, scales = _out_sizes(input, size, scale_factor, 2)
        if recompute_scale_factor:
            scales = [None, None]
        tables = []
        for k, dim in enumerate((2, 3)):
            if sizes[k] == input.shape[dim]:  # like torch: an unchanged size is copied, whatever
                tables += [_identity_index(sizes[k]), None, None]  # the scale_factor
            else:
                tables += _linear_weights(input.shape[dim], sizes[k], scales[k], align, input.dtype)
        return _C._interp2d(input, *tables)
    raise NotImplementedError(f"interpolate: mode {mode!r} is not supported (nearest, bilinear)")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)

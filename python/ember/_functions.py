"""Top-level functions (ember.add, ember.zeros, ...), re-exported from the C++ core."""
from ._C import (  # noqa: F401
    add, sub, subtract, mul, multiply, div, divide, true_divide, floor_divide, remainder, fmod, pow,
    maximum, minimum, atan2, eq, ne, lt, le, gt, ge, greater, less, greater_equal, less_equal,
    not_equal, logical_and, logical_or, logical_xor, logical_not, bitwise_and, bitwise_or,
    bitwise_xor, neg, negative, abs, absolute, sign, exp, exp2, expm1, log, log2, log10, log1p,
    sqrt, rsqrt, sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, tanh, sigmoid,
    relu, floor, ceil, round, trunc, reciprocal, square, erf, isnan, isinf, isfinite, isposinf,
    isneginf, clamp, clip, where,
    # --- reductions ---
    sum, mean, prod, var, std, var_mean, std_mean, max, min, amax, amin, argmax, argmin,
    logsumexp, all, any, norm, softmax, log_softmax, cumsum, cumprod, sort, argsort, topk,
    zeros, ones, empty, zeros_like, ones_like, empty_like, full, full_like, arange, linspace, eye,
)

# --- shape and indexing (index branch) ------------------------------------------------------------
from ._C import (  # noqa: F401
    reshape, flatten, unflatten, squeeze, unsqueeze, permute, transpose, swapaxes, swapdims, t,
    movedim, moveaxis, diagonal, select, narrow, split, chunk, unbind, cat, concat, concatenate,
    stack, flip,
    roll, tril, triu,
    index_select, index_add, gather, scatter, scatter_add, take_along_dim, index_put, index_put_, masked_fill,
    masked_select, nonzero,
)
# --- interop branch: creation, random, DLPack, printing --------------------------------------
from ._C import (  # noqa: F401,E402
    tensor, as_tensor, from_dlpack, Generator, default_generator, manual_seed, seed, initial_seed,
    get_rng_state, set_rng_state, rand, randn, randint, randperm, rand_like, randn_like,
    randint_like, normal, bernoulli, multinomial,
)
from ._tensor_str import set_printoptions, get_printoptions, printoptions  # noqa: F401,E402
# --- end interop branch ---------------------------------------------------------------------------
# --- linear algebra (cpp/src/bindings/linalg.cpp) ---
# isort: split
from ._C import addmm, baddbmm, bmm, dot, matmul, mm, mv, outer  # noqa: F401

# --- convolution at the top level (torch.conv2d ...) ------------------------------------------------
from ._C import conv1d, conv2d, conv_transpose2d  # noqa: F401,E402


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise |input - other| <= atol + rtol * |other| (infinities equal only to themselves)."""
    from ._C import abs as _abs, isfinite as _isfinite, isnan as _isnan, where as _where
    if input.dtype != other.dtype:
        raise TypeError(f"isclose: {input.dtype} did not match {other.dtype}")
    if not input.is_floating_point():
        return input == other
    exact = input == other
    finite = _isfinite(input).logical_and(_isfinite(other))
    close = _where(finite, _abs(input - other) <= atol + rtol * _abs(other), exact)
    close = close.logical_or(exact)
    if equal_nan:
        close = close.logical_or(_isnan(input).logical_and(_isnan(other)))
    return close


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True when every element of input is close to other (see isclose)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all().item())


def equal(input, other):
    """True when both tensors have the same shape and the same elements."""
    return tuple(input.shape) == tuple(other.shape) and bool((input == other).all().item())

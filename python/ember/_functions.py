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
    logsumexp, all, any, norm, softmax, log_softmax, cumsum, cumprod,
    zeros, ones, empty, zeros_like, ones_like, empty_like, full, full_like, arange, linspace, eye,
)

# --- shape and indexing (index branch) ------------------------------------------------------------
from ._C import (  # noqa: F401
    reshape, flatten, unflatten, squeeze, unsqueeze, permute, transpose, swapaxes, swapdims, t,
    movedim, moveaxis, select, narrow, split, chunk, unbind, cat, concat, concatenate, stack, flip,
    roll, tril, triu,
    index_select, gather, scatter, scatter_add, take_along_dim, index_put, index_put_, masked_fill,
    masked_select, nonzero,
)

"""Top-level functions (ember.add, ember.zeros, ...), re-exported from the C++ core."""
from ._C import (  # noqa: F401
    add, sub, subtract, mul, multiply, div, divide, true_divide, floor_divide, remainder, fmod, pow,
    maximum, minimum, atan2, eq, ne, lt, le, gt, ge, greater, less, greater_equal, less_equal,
    not_equal, logical_and, logical_or, logical_xor, logical_not, bitwise_and, bitwise_or,
    bitwise_xor, neg, negative, abs, absolute, sign, exp, exp2, expm1, log, log2, log10, log1p,
    sqrt, rsqrt, sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, tanh, sigmoid,
    relu, floor, ceil, round, trunc, reciprocal, square, erf, isnan, isinf, isfinite, isposinf,
    isneginf, clamp, clip, where,
    sum, mean,
    zeros, ones, empty, zeros_like, ones_like, empty_like, full, full_like, arange, linspace, eye,
)

# --- linear algebra (cpp/src/bindings/linalg.cpp) ---
# isort: split
from ._C import addmm, baddbmm, bmm, dot, matmul, mm, mv, outer  # noqa: F401

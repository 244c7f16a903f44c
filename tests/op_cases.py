"""The one table of op cases. Each case drives: forward against numpy, float64 gradcheck, forward
and backward against PyTorch, with contiguous and non-contiguous inputs (tests/test_ops.py).

A case's ``fn(lib, *xs)`` runs the op through ``lib``, which is ``ember`` or ``torch``: the API is
the same, so one lambda serves both. ``ref(*arrays)`` is the numpy reference (optional).
Inputs: a shape tuple (random floats in ``domain``) or a callable ``rng -> np.ndarray`` (used as is,
e.g. for index tensors, which are never differentiated).
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np


@dataclass
class Case:
    name: str
    fn: Callable
    inputs: list
    ref: Optional[Callable] = None
    domain: tuple = (-2.0, 2.0)
    grad: bool = True          # differentiable w.r.t. the float inputs
    gradcheck: bool = True     # run float64 finite differences (off for huge or non-smooth cases)
    noncontig: bool = True
    atol: float = 1e-5
    rtol: float = 1.3e-6
    tags: tuple = field(default_factory=tuple)


def _pos(rng, shape, lo=0.5, hi=2.0):
    return rng.uniform(lo, hi, shape)


def _log_nan(a):
    with np.errstate(invalid="ignore"):
        return np.log(a)


def away_from(points, gap=0.1):
    """Input sampler avoiding kinks (relu at 0, abs at 0, clamp at its bounds)."""
    def make(shape):
        def sample(rng):
            x = rng.uniform(-2, 2, shape)
            for p in points:
                close = np.abs(x - p) < gap
                x[close] = p + np.sign(x[close] - p + 1e-12) * gap * 2
            return x
        sample.float_input = True
        return sample
    return make


C = Case
ak = away_from([0.0])
CASES = []

# --- elementwise: binary ------------------------------------------------------------------------
CASES += [
    C("add", lambda L, a, b: L.add(a, b), [(3, 4), (3, 4)], lambda a, b: a + b),
    C("add_broadcast", lambda L, a, b: a + b, [(3, 1, 4), (5, 1)], lambda a, b: a + b),
    C("add_alpha", lambda L, a, b: L.add(a, b, alpha=2.5), [(4,), (4,)], lambda a, b: a + 2.5 * b),
    C("add_scalar", lambda L, a: a + 2, [(2, 3)], lambda a: a + 2),
    C("radd_scalar", lambda L, a: 1.5 + a, [(2, 3)], lambda a: 1.5 + a),
    C("sub", lambda L, a, b: a - b, [(2, 3), (2, 3)], lambda a, b: a - b),
    C("sub_alpha", lambda L, a, b: L.sub(a, b, alpha=3), [(2, 3), (3,)], lambda a, b: a - 3 * b),
    C("rsub_scalar", lambda L, a: 3 - a, [(5,)], lambda a: 3 - a),
    C("mul", lambda L, a, b: a * b, [(2, 3), (2, 3)], lambda a, b: a * b),
    C("mul_broadcast", lambda L, a, b: a * b, [(4, 1), (1, 5)], lambda a, b: a * b),
    C("mul_self", lambda L, a: a * a, [(6,)], lambda a: a * a),
    C("div", lambda L, a, b: a / b, [(2, 3), lambda rng: _pos(rng, (2, 3))], lambda a, b: a / b),
    C("rdiv_scalar", lambda L, a: 2 / a, [lambda rng: _pos(rng, (4,))], lambda a: 2 / a),
    C("pow", lambda L, a, b: L.pow(a, b), [lambda rng: _pos(rng, (3, 2)), (3, 2)], lambda a, b: a ** b),
    C("pow_scalar", lambda L, a: a ** 3, [(3, 2)], lambda a: a ** 3),
    C("pow_frac", lambda L, a: a ** 0.5, [lambda rng: _pos(rng, (5,))], lambda a: a ** 0.5),
    C("rpow_scalar", lambda L, a: 2 ** a, [(5,)], lambda a: 2.0 ** a),
    C("maximum", lambda L, a, b: L.maximum(a, b), [(3, 4), (4,)], np.maximum),
    C("minimum", lambda L, a, b: L.minimum(a, b), [(3, 4), (3, 4)], np.minimum),
    C("atan2", lambda L, a, b: L.atan2(a, b), [(3,), lambda rng: _pos(rng, (3,))], np.arctan2),
    C("remainder", lambda L, a, b: a % b, [(4, 3), lambda rng: _pos(rng, (4, 3))], np.mod,
      gradcheck=False),
    C("floor_divide", lambda L, a, b: a // b, [(4, 3), lambda rng: _pos(rng, (4, 3))],
      np.floor_divide, grad=False),
    C("where", lambda L, c, a, b: L.where(c > 0, a, b), [(3, 4), (3, 4), (4,)],
      lambda c, a, b: np.where(c > 0, a, b)),
    C("eq", lambda L, a, b: a == b, [(3,), (3,)], np.equal, grad=False),
    C("lt", lambda L, a, b: a < b, [(2, 3), (3,)], np.less, grad=False),
    C("ge_scalar", lambda L, a: a >= 0.5, [(2, 3)], lambda a: a >= 0.5, grad=False),
    C("logical_and", lambda L, a, b: L.logical_and(a > 0, b > 0), [(5,), (5,)],
      lambda a, b: np.logical_and(a > 0, b > 0), grad=False),
]

# --- elementwise: unary -------------------------------------------------------------------------
_pos_in = [lambda rng: _pos(rng, (3, 4))]
_unit_in = [lambda rng: rng.uniform(-0.9, 0.9, (3, 4))]
CASES += [
    C("neg", lambda L, a: -a, [(3, 4)], np.negative),
    C("abs", lambda L, a: L.abs(a), [ak((3, 4))], np.abs),
    C("exp", lambda L, a: L.exp(a), [(3, 4)], np.exp),
    C("exp2", lambda L, a: L.exp2(a), [(3, 4)], np.exp2),
    C("expm1", lambda L, a: L.expm1(a), [(3, 4)], np.expm1),
    C("log", lambda L, a: L.log(a), _pos_in, np.log),
    C("log2", lambda L, a: L.log2(a), _pos_in, np.log2),
    C("log10", lambda L, a: L.log10(a), _pos_in, np.log10),
    C("log1p", lambda L, a: L.log1p(a), _pos_in, np.log1p),
    C("sqrt", lambda L, a: L.sqrt(a), _pos_in, np.sqrt),
    C("rsqrt", lambda L, a: L.rsqrt(a), _pos_in, lambda a: 1 / np.sqrt(a)),
    C("sin", lambda L, a: L.sin(a), [(3, 4)], np.sin),
    C("cos", lambda L, a: L.cos(a), [(3, 4)], np.cos),
    C("tan", lambda L, a: L.tan(a), _unit_in, np.tan),
    C("asin", lambda L, a: L.asin(a), _unit_in, np.arcsin),
    C("acos", lambda L, a: L.acos(a), _unit_in, np.arccos),
    C("atan", lambda L, a: L.atan(a), [(3, 4)], np.arctan),
    C("sinh", lambda L, a: L.sinh(a), [(3, 4)], np.sinh),
    C("cosh", lambda L, a: L.cosh(a), [(3, 4)], np.cosh),
    C("tanh", lambda L, a: L.tanh(a), [(3, 4)], np.tanh),
    C("sigmoid", lambda L, a: L.sigmoid(a), [(3, 4)], lambda a: 1 / (1 + np.exp(-a))),
    C("relu", lambda L, a: L.relu(a), [ak((3, 4))], lambda a: np.maximum(a, 0)),
    C("reciprocal", lambda L, a: L.reciprocal(a), _pos_in, lambda a: 1 / a),
    C("square", lambda L, a: L.square(a), [(3, 4)], np.square),
    C("sign", lambda L, a: L.sign(a), [ak((3, 4))], np.sign),
    C("floor", lambda L, a: L.floor(a), [(3, 4)], np.floor),
    C("clamp", lambda L, a: L.clamp(a, -0.5, 0.7), [away_from([-0.5, 0.7], 0.02)((3, 4))],
      lambda a: np.clip(a, -0.5, 0.7)),
    C("clamp_min", lambda L, a: L.clamp(a, min=0.1), [away_from([0.1], 0.02)((6,))],
      lambda a: np.maximum(a, 0.1)),
    C("clamp_tensor", lambda L, a, lo: L.clamp(a, min=lo), [(3, 4), (4,)], lambda a, lo: np.maximum(a, lo)),
    C("isnan", lambda L, a: L.isnan(L.log(a)), [(3, 4)], lambda a: np.isnan(_log_nan(a)), grad=False),
]

# --- reductions ---------------------------------------------------------------------------------
CASES += [
    C("sum", lambda L, a: a.sum(), [(3, 4)], np.sum),
    C("sum_dim", lambda L, a: a.sum(1), [(3, 4, 2)], lambda a: a.sum(1)),
    C("sum_dims_keepdim", lambda L, a: L.sum(a, (0, 2), keepdim=True), [(3, 4, 2)],
      lambda a: a.sum((0, 2), keepdims=True)),
    C("mean", lambda L, a: a.mean(), [(3, 4)], np.mean),
    C("mean_dim", lambda L, a: a.mean(-1, keepdim=True), [(3, 5)], lambda a: a.mean(-1, keepdims=True)),
]

# --- shape --------------------------------------------------------------------------------------

# --- indexing -----------------------------------------------------------------------------------

# --- linear algebra -----------------------------------------------------------------------------


def _linear(L, x, w, b=None):
    """F.linear: torch.nn.functional.linear, or ember._C.linear until ember.nn lands."""
    fn = L.nn.functional.linear if hasattr(L, "nn") else L._C.linear
    return fn(x, w, b)


CASES += [
    C("mm", lambda L, a, b: L.mm(a, b), [(3, 4), (4, 5)], np.matmul),
    C("matmul_2d", lambda L, a, b: a @ b, [(5, 3), (3, 2)], np.matmul),
    C("matmul_batched", lambda L, a, b: L.matmul(a, b), [(2, 3, 4), (2, 4, 5)], np.matmul),
    C("matmul_broadcast", lambda L, a, b: L.matmul(a, b), [(2, 1, 3, 4), (5, 4, 2)], np.matmul),
    C("matmul_broadcast_one", lambda L, a, b: L.matmul(a, b), [(3, 2, 4), (1, 4, 3)], np.matmul),
    C("matmul_3d_2d", lambda L, a, b: L.matmul(a, b), [(2, 3, 4), (4, 5)], np.matmul),
    C("matmul_2d_3d", lambda L, a, b: L.matmul(a, b), [(3, 4), (2, 4, 5)], np.matmul),
    C("matmul_1d_1d", lambda L, a, b: L.matmul(a, b), [(6,), (6,)], np.matmul),
    C("matmul_2d_1d", lambda L, a, b: a @ b, [(3, 4), (4,)], np.matmul),
    C("matmul_1d_2d", lambda L, a, b: a @ b, [(4,), (4, 3)], np.matmul),
    C("matmul_1d_3d", lambda L, a, b: L.matmul(a, b), [(4,), (2, 4, 3)], np.matmul),
    C("matmul_3d_1d", lambda L, a, b: L.matmul(a, b), [(2, 3, 4), (4,)], np.matmul),
    C("matmul_4d_1d", lambda L, a, b: L.matmul(a, b), [(2, 2, 3, 4), (4,)], np.matmul),
    C("matmul_k1", lambda L, a, b: a @ b, [(3, 1), (1, 4)], np.matmul),
    C("matmul_method", lambda L, a, b: a.matmul(b), [(2, 3), (3, 3)], np.matmul),
    C("bmm", lambda L, a, b: L.bmm(a, b), [(3, 2, 5), (3, 5, 4)], np.matmul),
    C("bmm_method", lambda L, a, b: a.bmm(b), [(2, 2, 3), (2, 3, 2)], np.matmul),
    C("mv", lambda L, a, b: L.mv(a, b), [(3, 5), (5,)], np.matmul),
    C("dot", lambda L, a, b: L.dot(a, b), [(7,), (7,)], np.dot),
    C("dot_method", lambda L, a, b: a.dot(b), [(3,), (3,)], np.dot),
    C("outer", lambda L, a, b: L.outer(a, b), [(3,), (4,)], np.outer),
    C("addmm", lambda L, c, a, b: L.addmm(c, a, b), [(3, 5), (3, 4), (4, 5)], lambda c, a, b: c + a @ b),
    C("addmm_scaled", lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=-2.0),
      [(3, 5), (3, 4), (4, 5)], lambda c, a, b: 0.5 * c - 2.0 * (a @ b)),
    C("addmm_broadcast", lambda L, c, a, b: L.addmm(c, a, b, alpha=3), [(5,), (2, 4), (4, 5)],
      lambda c, a, b: c + 3 * (a @ b)),
    C("addmm_method", lambda L, c, a, b: c.addmm(a, b, beta=2), [(3, 1), (3, 2), (2, 4)],
      lambda c, a, b: 2 * c + a @ b),
    C("baddbmm", lambda L, c, a, b: L.baddbmm(c, a, b, beta=0.5, alpha=2), [(2, 3, 4), (2, 3, 5), (2, 5, 4)],
      lambda c, a, b: 0.5 * c + 2 * (a @ b)),
    C("baddbmm_broadcast", lambda L, c, a, b: L.baddbmm(c, a, b), [(3, 4), (2, 3, 5), (2, 5, 4)],
      lambda c, a, b: c + a @ b),
    C("linear", lambda L, x, w, b: _linear(L, x, w, b), [(4, 3), (5, 3), (5,)], lambda x, w, b: x @ w.T + b),
    C("linear_nobias", lambda L, x, w: _linear(L, x, w), [(4, 3), (5, 3)], lambda x, w: x @ w.T),
    C("linear_3d", lambda L, x, w, b: _linear(L, x, w, b), [(2, 4, 3), (5, 3), (5,)],
      lambda x, w, b: x @ w.T + b),
    C("linear_1d", lambda L, x, w, b: _linear(L, x, w, b), [(3,), (2, 3), (2,)], lambda x, w, b: w @ x + b),
]

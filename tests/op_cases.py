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


def _np_gelu(a):
    import math
    return 0.5 * a * (1 + np.vectorize(math.erf)(a / math.sqrt(2)))


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


def _with_zeros(rng, shape, rows=None):
    """Random values with zeros: row 0 has one zero, row 1 two, others none (for prod/cumprod)."""
    x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1, 1], shape)
    rows = (0, 1) if rows is None else rows
    for k, r in enumerate(rows):
        x[r, rng.choice(shape[1], k + 1, replace=False)] = 0
    return x


def _ties(rng, shape):
    """Values on a coarse grid, so maxima repeat (gradient split among ties)."""
    return rng.integers(-2, 3, shape).astype(np.float64)


def _lse(a, axis, keepdims=False):
    m = np.max(a, axis=axis, keepdims=True)
    r = np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m
    return r if keepdims else np.squeeze(r, axis=axis)


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


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
    C("fmod", lambda L, a, b: L.fmod(a, b), [(4, 3), lambda rng: _pos(rng, (4, 3))], np.fmod,
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
    # (5, 37): the float32 fused backward kernels run both their vector loop and its tail
    C("gelu", lambda L, a: L.nn.functional.gelu(a), [(5, 37)], _np_gelu, domain=(-4.0, 4.0)),
    C("silu", lambda L, a: L.nn.functional.silu(a), [(5, 37)], lambda a: a / (1 + np.exp(-a)),
      domain=(-6.0, 6.0)),
    # the parametrised activations (one fused backward pass, or differentiable forms under create_graph)
    C("leaky_relu", lambda L, a: L.nn.functional.leaky_relu(a, 0.1), [ak((5, 37))],
      lambda a: np.where(a > 0, a, 0.1 * a)),
    C("hardtanh", lambda L, a: L.nn.functional.hardtanh(a, -0.5, 1.0),
      [away_from([-0.5, 1.0], 0.02)((5, 37))], lambda a: np.clip(a, -0.5, 1.0)),
    C("relu6", lambda L, a: L.nn.functional.relu6(a), [ak((5, 37))], lambda a: np.clip(a, 0, 6)),
    C("elu", lambda L, a: L.nn.functional.elu(a, 1.3), [ak((5, 37))],
      lambda a: np.where(a > 0, a, 1.3 * np.expm1(np.minimum(a, 0)))),
    C("selu", lambda L, a: L.nn.functional.selu(a), [ak((5, 37))],
      lambda a: 1.0507009873554805 * np.where(a > 0, a, 1.6732632423543772 * np.expm1(np.minimum(a, 0)))),
    C("celu", lambda L, a: L.nn.functional.celu(a, 0.7), [ak((5, 37))],
      lambda a: np.where(a > 0, a, 0.7 * np.expm1(np.minimum(a, 0) / 0.7))),
    C("hardsigmoid", lambda L, a: L.nn.functional.hardsigmoid(a), [(5, 37)],
      lambda a: np.clip(a / 6 + 0.5, 0, 1), domain=(-5.0, 5.0)),
    C("hardswish", lambda L, a: L.nn.functional.hardswish(a), [(5, 37)],
      lambda a: a * np.clip(a + 3, 0, 6) / 6, domain=(-5.0, 5.0)),
    C("logsigmoid", lambda L, a: L.nn.functional.logsigmoid(a), [(5, 37)],
      lambda a: np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a))), domain=(-20.0, 20.0)),
    C("softplus", lambda L, a: L.nn.functional.softplus(a), [(5, 37)],
      lambda a: np.where(a > 20, a, np.log1p(np.exp(np.minimum(a, 20)))), domain=(-25.0, 25.0)),
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
    C("sum_neg_dims", lambda L, a: a.sum((-1, -3)), [(2, 3, 4)], lambda a: a.sum((-1, -3))),
    C("sum_dtype", lambda L, a: L.sum(a, 0, dtype=L.float64), [(3, 4)], lambda a: a.sum(0)),
    C("mean_dims", lambda L, a: L.mean(a, (0, 2)), [(3, 4, 2)], lambda a: a.mean((0, 2))),
    C("prod", lambda L, a: a.prod(), [(2, 3)], np.prod, domain=(0.5, 1.5)),
    C("prod_dim", lambda L, a: L.prod(a, 1, keepdim=True), [(3, 4)], lambda a: a.prod(1, keepdims=True)),
    C("prod_zeros", lambda L, a: a.prod(1), [lambda rng: _with_zeros(rng, (3, 4))], lambda a: a.prod(1)),
    C("prod_zeros_all", lambda L, a: a.prod(), [lambda rng: _with_zeros(rng, (3, 4), rows=(1,))], np.prod),
    C("var", lambda L, a: a.var(), [(3, 4)], lambda a: a.var(ddof=1)),
    C("var_dim_unbiased", lambda L, a: L.var(a, 1, False), [(3, 4)], lambda a: a.var(1)),
    C("var_correction_keepdim", lambda L, a: a.var((0, 2), correction=0.5, keepdim=True), [(3, 4, 2)],
      lambda a: a.var((0, 2), ddof=0.5, keepdims=True)),
    C("std", lambda L, a: a.std(-1), [(3, 5)], lambda a: a.std(-1, ddof=1)),
    C("std_correction", lambda L, a: L.std(a, 0, correction=0), [(4, 3)], lambda a: a.std(0)),
    C("var_mean", lambda L, a: L.var_mean(a, 1), [(3, 4)], lambda a: (a.var(1, ddof=1), a.mean(1))),
    C("std_mean", lambda L, a: L.std_mean(a, 0, keepdim=True), [(3, 4)],
      lambda a: (a.std(0, ddof=1, keepdims=True), a.mean(0, keepdims=True))),
    C("max_all", lambda L, a: a.max(), [(3, 4)], np.max),
    C("min_all", lambda L, a: L.min(a), [(3, 4)], np.min),
    C("max_dim", lambda L, a: tuple(a.max(1)), [(3, 4)], lambda a: (a.max(1), a.argmax(1))),
    C("max_dim_keepdim", lambda L, a: tuple(L.max(a, 0, keepdim=True)), [(3, 4)],
      lambda a: (a.max(0, keepdims=True), a.argmax(0)[None])),
    C("min_dim_neg", lambda L, a: tuple(a.min(-2)), [(2, 3, 4)], lambda a: (a.min(-2), a.argmin(-2))),
    C("max_values", lambda L, a: a.max(dim=1).values, [(3, 5)], lambda a: a.max(1)),
    C("min_indices", lambda L, a: a.min(dim=0).indices, [(3, 5)], lambda a: a.argmin(0), grad=False),
    C("max_binary", lambda L, a, b: L.max(a, b), [(3, 4), (4,)], np.maximum),
    # random floats: no ties, so every sort order is unique and finite differences are smooth
    C("sort", lambda L, a: tuple(a.sort(1)), [(3, 5)],
      lambda a: (np.sort(a, 1), np.argsort(a, 1, kind="stable"))),
    C("sort_descending_dim0", lambda L, a: tuple(L.sort(a, 0, descending=True)), [(4, 3, 2)],
      lambda a: (-np.sort(-a, 0), np.argsort(-a, 0, kind="stable"))),
    C("argsort", lambda L, a: L.argsort(a, dim=-1, descending=True), [(3, 6)],
      lambda a: np.argsort(-a, -1, kind="stable"), grad=False),
    C("topk", lambda L, a: tuple(a.topk(3)), [(4, 7)],
      lambda a: (-np.sort(-a, 1)[:, :3], np.argsort(-a, 1, kind="stable")[:, :3])),
    C("topk_smallest_dim0", lambda L, a: tuple(L.topk(a, 2, dim=0, largest=False)), [(5, 3)],
      lambda a: (np.sort(a, 0)[:2], np.argsort(a, 0, kind="stable")[:2])),
    C("max_ties", lambda L, a: a.max(), [lambda rng: _ties(rng, (3, 4))], np.max, gradcheck=False),
    C("amax", lambda L, a: a.amax(), [(3, 4)], np.max),
    C("amax_dims", lambda L, a: L.amax(a, (0, -1), keepdim=True), [(3, 4, 2)],
      lambda a: a.max((0, 2), keepdims=True)),
    C("amin_dim", lambda L, a: a.amin(1), [(3, 4)], lambda a: a.min(1)),
    C("amax_ties", lambda L, a: a.amax(1), [lambda rng: _ties(rng, (3, 4))], lambda a: a.max(1),
      gradcheck=False),
    C("amin_ties", lambda L, a: a.amin(0), [lambda rng: _ties(rng, (3, 4))], lambda a: a.min(0),
      gradcheck=False),
    C("argmax", lambda L, a: a.argmax(), [(3, 4)], np.argmax, grad=False),
    C("argmax_dim_keepdim", lambda L, a: L.argmax(a, 1, keepdim=True), [(3, 4)],
      lambda a: a.argmax(1)[:, None], grad=False),
    C("argmin_dim", lambda L, a: a.argmin(0), [(3, 4, 2)], lambda a: a.argmin(0), grad=False),
    C("argmax_cols", lambda L, a: a.argmax(0), [(5, 300)], lambda a: a.argmax(0), grad=False),
    C("logsumexp", lambda L, a: L.logsumexp(a, 1), [(3, 4)], lambda a: _lse(a, 1)),
    C("logsumexp_dims_keepdim", lambda L, a: a.logsumexp((0, 2), keepdim=True), [(3, 4, 2)],
      lambda a: _lse(a, (0, 2), True)),
    C("logsumexp_large", lambda L, a: L.logsumexp(a * 100, 0), [(3, 4)], lambda a: _lse(a * 100, 0)),
    C("all", lambda L, a: (a > -1.5).all(), [(3, 4)], lambda a: np.all(a > -1.5), grad=False),
    C("all_dim", lambda L, a: L.all(a > -1, 1, keepdim=True), [(3, 4)],
      lambda a: np.all(a > -1, 1, keepdims=True), grad=False),
    C("any", lambda L, a: L.any(a > 1.5), [(3, 4)], lambda a: np.any(a > 1.5), grad=False),
    C("any_dim", lambda L, a: (a > 1).any(0), [(3, 4)], lambda a: np.any(a > 1, 0), grad=False),
    C("any_float", lambda L, a: L.any(L.relu(a), 1), [(3, 4)], lambda a: np.any(np.maximum(a, 0), 1),
      grad=False),
    C("norm", lambda L, a: a.norm(), [(3, 4)], lambda a: np.sqrt((a * a).sum())),
    C("norm_p1_dim", lambda L, a: L.norm(a, 1, 1), [ak((3, 4))], lambda a: np.abs(a).sum(1)),
    C("norm_p3", lambda L, a: a.norm(3, dim=0, keepdim=True), [ak((3, 4))],
      lambda a: (np.abs(a) ** 3).sum(0, keepdims=True) ** (1 / 3)),
    C("norm_inf", lambda L, a: a.norm(float("inf"), dim=1), [(3, 4)], lambda a: np.abs(a).max(1)),
    C("norm_neg_inf", lambda L, a: a.norm(float("-inf")), [(3, 4)], lambda a: np.abs(a).min()),
    C("norm_fro_dims", lambda L, a: L.norm(a, "fro", (0, 1)), [(3, 4, 2)],
      lambda a: np.sqrt((a * a).sum((0, 1)))),
    C("norm_p0", lambda L, a: a.norm(0, dim=1), [(3, 4)], lambda a: (a != 0).sum(1).astype(a.dtype)),
    C("softmax", lambda L, a: L.softmax(a, 1), [(4, 7)], lambda a: _softmax(a, 1)),
    C("softmax_dim0", lambda L, a: a.softmax(0), [(5, 3, 2)], lambda a: _softmax(a, 0)),
    C("softmax_neg_dim", lambda L, a: a.softmax(-2), [(2, 6, 3)], lambda a: _softmax(a, -2)),
    C("softmax_wide", lambda L, a: a.softmax(-1), [(3, 300)], lambda a: _softmax(a, -1), gradcheck=False),
    C("softmax_large", lambda L, a: L.softmax(a * 50, -1), [(3, 5)], lambda a: _softmax(a * 50, -1)),
    C("softmax_dtype", lambda L, a: L.softmax(a, 1, dtype=L.float64), [(3, 4)], lambda a: _softmax(a, 1)),
    C("log_softmax", lambda L, a: L.log_softmax(a, 1), [(4, 7)], lambda a: np.log(_softmax(a, 1))),
    C("log_softmax_dim0", lambda L, a: a.log_softmax(0), [(5, 3)], lambda a: np.log(_softmax(a, 0))),
    C("log_softmax_large", lambda L, a: (a * 100).log_softmax(-1), [(3, 5)],
      lambda a: a * 100 - _lse(a * 100, -1, True)),
    C("cumsum", lambda L, a: L.cumsum(a, 1), [(3, 4)], lambda a: np.cumsum(a, 1)),
    C("cumsum_dim0", lambda L, a: a.cumsum(0), [(5, 3, 2)], lambda a: np.cumsum(a, 0)),
    C("cumsum_neg", lambda L, a: a.cumsum(-1), [(7,)], lambda a: np.cumsum(a, -1)),
    C("cumprod", lambda L, a: L.cumprod(a, 1), [(3, 4)], lambda a: np.cumprod(a, 1)),
    C("cumprod_dim0", lambda L, a: a.cumprod(0), [(4, 3)], lambda a: np.cumprod(a, 0)),
    C("cumprod_zeros", lambda L, a: a.cumprod(1), [lambda rng: _with_zeros(rng, (3, 5))],
      lambda a: np.cumprod(a, 1)),
]

# --- shape --------------------------------------------------------------------------------------
def _pad(L, a, pad, value=0.0):
    """constant padding: ember._C.constant_pad, torch.nn.functional.pad (same pad order)."""
    if L.__name__ == "ember":
        return L._C.constant_pad(a, pad, value)
    return L.nn.functional.pad(a, pad, value=value)


def _np_pad(a, pad, value):
    """numpy reference for _pad, negative pads crop."""
    for j in range(len(pad) // 2):
        d = a.ndim - 1 - j
        lo, hi = pad[2 * j], pad[2 * j + 1]
        sl = [slice(None)] * a.ndim
        sl[d] = slice(max(-lo, 0), a.shape[d] - max(-hi, 0))
        a = a[tuple(sl)]
        widths = [(0, 0)] * a.ndim
        widths[d] = (max(lo, 0), max(hi, 0))
        a = np.pad(a, widths, constant_values=value)
    return a


CASES += [
    C("view", lambda L, a: a.view(-1, 1, 3, 2), [(2, 3, 2)], lambda a: a.reshape(2, 1, 3, 2)),
    C("view_tuple", lambda L, a: a.view((2, 2, 3)), [(2, 6)], lambda a: a.reshape(2, 2, 3)),
    C("view_as", lambda L, a, b: a.view_as(b), [(2, 6), (2, 3, 2)],
      lambda a, b: a.reshape(2, 3, 2)),
    C("contiguous_view", lambda L, a: a.t().contiguous().view(-1), [(3, 4)], lambda a: a.T.ravel()),
    C("reshape", lambda L, a: a.reshape(3, -1), [(2, 3, 2)], lambda a: a.reshape(3, -1)),
    C("reshape_fn", lambda L, a: L.reshape(a, (-1,)), [(2, 3)], lambda a: a.ravel()),
    C("reshape_as", lambda L, a, b: a.reshape_as(b), [(2, 6), (4, 3)],
      lambda a, b: a.reshape(4, 3)),
    C("flatten", lambda L, a: a.flatten(1), [(2, 3, 4)], lambda a: a.reshape(2, 12)),
    C("flatten_fn", lambda L, a: L.flatten(a, 0, -2), [(2, 3, 4)], lambda a: a.reshape(6, 4)),
    C("unflatten", lambda L, a: a.unflatten(1, (2, -1)), [(3, 4)], lambda a: a.reshape(3, 2, 2)),
    C("squeeze", lambda L, a: a.squeeze(), [(3, 1, 4, 1)], np.squeeze),
    C("squeeze_dim", lambda L, a: a.squeeze(-1), [(3, 1, 4, 1)], lambda a: a.squeeze(-1)),
    C("squeeze_dims", lambda L, a: L.squeeze(a, (1, 3)), [(3, 1, 4, 1)],
      lambda a: a.squeeze((1, 3))),
    C("unsqueeze", lambda L, a: a.unsqueeze(-1), [(3, 4)], lambda a: a[..., None]),
    C("unsqueeze_fn", lambda L, a: L.unsqueeze(a, 1), [(3, 4)], lambda a: a[:, None]),
    C("permute", lambda L, a: a.permute(2, 0, 1), [(2, 3, 4)], lambda a: a.transpose(2, 0, 1)),
    C("permute_fn", lambda L, a: L.permute(a, (1, -1, 0)), [(2, 3, 4)],
      lambda a: a.transpose(1, 2, 0)),
    C("transpose", lambda L, a: a.transpose(0, -1), [(2, 3, 4)], lambda a: a.swapaxes(0, -1)),
    C("swapaxes", lambda L, a: L.swapaxes(a, 0, 1), [(2, 3, 4)], lambda a: a.swapaxes(0, 1)),
    C("t", lambda L, a: a.t(), [(3, 4)], lambda a: a.T),
    C("t_1d", lambda L, a: L.t(a), [(4,)], lambda a: a),
    C("T", lambda L, a: a.T * 1, [(3, 4)], lambda a: a.T),
    C("mT", lambda L, a: a.mT, [(2, 3, 4)], lambda a: a.swapaxes(-1, -2)),
    C("expand", lambda L, a: a.expand(2, 3, 4), [(3, 1)], lambda a: np.broadcast_to(a, (2, 3, 4))),
    C("expand_neg", lambda L, a: a.expand(2, -1, -1), [(1, 3, 4)],
      lambda a: np.broadcast_to(a, (2, 3, 4))),
    C("expand_as", lambda L, a, b: a.expand_as(b), [(4,), (3, 4)],
      lambda a, b: np.broadcast_to(a, b.shape)),
    C("repeat", lambda L, a: a.repeat(2, 1, 3), [(3, 2)], lambda a: np.tile(a, (2, 1, 3))),
    C("cat", lambda L, a, b, c: L.cat([a, b, c], 1), [(2, 3), (2, 1), (2, 4)],
      lambda a, b, c: np.concatenate([a, b, c], 1)),
    C("cat_neg_dim", lambda L, a, b: L.cat((a, b), -1), [(2, 3, 2), (2, 3, 1)],
      lambda a, b: np.concatenate([a, b], -1)),
    C("cat_promote", lambda L, a, b: L.cat([a, b.to(L.float64)]), [(2, 3), (1, 3)],
      lambda a, b: np.concatenate([a, b])),
    C("cat_int", lambda L, a, b: L.cat([a, (b > 0).long()]), [(2, 3), (1, 3)],
      lambda a, b: np.concatenate([a, (b > 0).astype(np.int64)])),
    C("cat_skip_empty", lambda L, a, b: L.cat([a, L.zeros(0), b]), [(2, 3), (1, 3)],
      lambda a, b: np.concatenate([a, b])),
    C("concat", lambda L, a, b: L.concat((a, b), dim=0), [(2, 3), (2, 3)],
      lambda a, b: np.concatenate([a, b])),
    C("concatenate", lambda L, a, b: L.concatenate([a, b], axis=1), [(2, 3), (2, 1)],
      lambda a, b: np.concatenate([a, b], 1)),
    C("stack", lambda L, a, b: L.stack([a, b], 1), [(2, 3), (2, 3)],
      lambda a, b: np.stack([a, b], 1)),
    C("stack_neg", lambda L, a, b: L.stack([a, b], -1), [(2, 3), (2, 3)],
      lambda a, b: np.stack([a, b], -1)),
    C("split", lambda L, a: a.split(2, 1), [(3, 5)], lambda a: np.split(a, [2, 4], 1)),
    C("split_sizes", lambda L, a: L.split(a, [1, 3], 0), [(4, 2)], lambda a: np.split(a, [1], 0)),
    C("split_last", lambda L, a: a.split(2, 1)[-1] * 2, [(3, 5)], lambda a: a[:, 4:] * 2),
    C("chunk", lambda L, a: a.chunk(3, -1), [(2, 7)], lambda a: np.split(a, [3, 6], -1)),
    C("chunk_mid", lambda L, a: L.chunk(a, 3, 0)[1], [(7, 2)], lambda a: a[3:6]),
    C("unbind", lambda L, a: a.unbind(1), [(2, 3)], lambda a: [a[:, i] for i in range(3)]),
    C("unbind_last", lambda L, a: L.unbind(a)[-1], [(3, 2)], lambda a: a[-1]),
    C("narrow", lambda L, a: a.narrow(1, 1, 2), [(3, 4)], lambda a: a[:, 1:3]),
    C("narrow_neg", lambda L, a: L.narrow(a, -1, -3, 2), [(3, 4)], lambda a: a[:, 1:3]),
    C("select", lambda L, a: a.select(1, -1), [(3, 4)], lambda a: a[:, -1]),
    C("select_fn", lambda L, a: L.select(a, 0, 1), [(3, 4, 2)], lambda a: a[1]),
    C("flip", lambda L, a: a.flip(0, 2), [(2, 3, 4)], lambda a: np.flip(a, (0, 2))),
    C("flip_fn", lambda L, a: L.flip(a, [-1]), [(3, 4)], lambda a: np.flip(a, -1)),
    C("roll", lambda L, a: a.roll(2, 1), [(3, 4)], lambda a: np.roll(a, 2, 1)),
    C("roll_multi", lambda L, a: L.roll(a, (1, -1), (0, 1)), [(3, 4)],
      lambda a: np.roll(a, (1, -1), (0, 1))),
    C("roll_flat", lambda L, a: a.roll(3), [(3, 4)], lambda a: np.roll(a, 3)),
    C("movedim", lambda L, a: L.movedim(a, 0, -1), [(2, 3, 4)], lambda a: np.moveaxis(a, 0, -1)),
    C("movedim_multi", lambda L, a: a.movedim((0, 1), (2, 0)), [(2, 3, 4)],
      lambda a: np.moveaxis(a, (0, 1), (2, 0))),
    C("diagonal", lambda L, a: L.diagonal(a), [(3, 4)], np.diagonal),
    C("diagonal_offset_dims", lambda L, a: a.diagonal(-1, 2, 0), [(4, 3, 5)],
      lambda a: np.diagonal(a, -1, 2, 0)),
    C("tril", lambda L, a: a.tril(), [(3, 4)], np.tril),
    C("triu_k", lambda L, a: L.triu(a, 1), [(2, 3, 4)], lambda a: np.triu(a, 1)),
    C("tril_neg_k", lambda L, a: L.tril(a, -1), [(4, 3)], lambda a: np.tril(a, -1)),
    C("constant_pad", lambda L, a: _pad(L, a, (1, 2)), [(2, 3)], lambda a: _np_pad(a, (1, 2), 0.0)),
    C("constant_pad_2d", lambda L, a: _pad(L, a, (0, 1, 2, 1), 1.5), [(2, 3, 2)],
      lambda a: _np_pad(a, (0, 1, 2, 1), 1.5)),
    C("constant_pad_crop", lambda L, a: _pad(L, a, (-1, 2, 1, -2)), [(4, 3)],
      lambda a: _np_pad(a, (-1, 2, 1, -2), 0.0)),
    # F.pad's other modes are numpy's reflect, edge and wrap (W padded (2, 1), H padded (1, 2))
    *[C(f"{mode}_pad_2d", lambda L, a, mode=mode: L.nn.functional.pad(a, (2, 1, 1, 2), mode=mode),
        [(2, 3, 4, 5)],
        lambda a, npm=npm: np.pad(a, ((0, 0), (0, 0), (1, 2), (2, 1)), mode=npm))
      for mode, npm in (("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap"))],
]

# --- indexing -----------------------------------------------------------------------------------
def ints(high, shape, low=0):
    return lambda rng: rng.integers(low, high, shape)


def unique_rows(n, shape):
    """Index (shape) along dim 0 with distinct values in each column (scatter without ties)."""
    return lambda rng: np.argsort(rng.random((n,) + tuple(shape[1:])), axis=0)[: shape[0]]


def perm(n, k):
    return lambda rng: rng.permutation(n)[:k]


def mask(shape, p=0.5):
    return lambda rng: rng.random(shape) < p


def _put_along(a, i, v, axis):
    out = a.copy()
    np.put_along_axis(out, i, v, axis)
    return out


def _index_add(a, axis, i, b, alpha=1):
    out = a.copy()
    np.add.at(np.moveaxis(out, axis, 0), i, alpha * np.moveaxis(b, axis, 0))
    return out


def _scatter_add(a, i, b, axis):
    out = a.copy()
    for idx in np.ndindex(*i.shape):
        tgt = list(idx)
        tgt[axis] = i[idx]
        out[tuple(tgt)] += b[idx]
    return out


def _setitem(L, a, idx, v):
    y = a * 1
    y[idx] = v
    return y


def _np_setitem(a, idx, v, acc=False):
    out = a.copy()
    if acc:
        np.add.at(out, idx, v)
    else:
        out[idx] = v
    return out


CASES += [
    C("getitem_int", lambda L, a: a[1], [(3, 4)], lambda a: a[1]),
    C("getitem_neg_int", lambda L, a: a[-1, 2], [(3, 4)], lambda a: a[-1, 2]),
    C("getitem_slice", lambda L, a: a[1:, ::2], [(3, 5)], lambda a: a[1:, ::2]),
    C("getitem_slice_neg", lambda L, a: a[-2:, :-1], [(3, 5)], lambda a: a[-2:, :-1]),
    C("getitem_none_ellipsis", lambda L, a: a[None, ..., 1], [(2, 3, 4)],
      lambda a: a[None, ..., 1]),
    C("getitem_clamp", lambda L, a: a[1:100, -100:2], [(3, 4)], lambda a: a[1:100, -100:2]),
    C("getitem_int_array", lambda L, a, i: a[i], [(5, 3), ints(5, (4,))], lambda a, i: a[i]),
    C("getitem_neg_array", lambda L, a, i: a[:, i], [(2, 5), ints(5, (2, 3), low=-5)],
      lambda a, i: a[:, i]),
    C("getitem_list", lambda L, a: a[[0, 2, 2]], [(3, 4)], lambda a: a[[0, 2, 2]]),
    C("getitem_two_arrays", lambda L, a, i, j: a[i, j], [(4, 5), ints(4, (3, 1)), ints(5, (2,))],
      lambda a, i, j: a[i, j]),
    C("getitem_separated", lambda L, a, i, j: a[i, :, j], [(3, 4, 5), ints(3, (2,)), ints(5, (2,))],
      lambda a, i, j: a[i, :, j]),
    C("getitem_adjacent_mid", lambda L, a, i, j: a[:, i, j],
      [(2, 3, 4), ints(3, (5,)), ints(4, (5,))],
      lambda a, i, j: a[:, i, j]),
    C("getitem_mixed", lambda L, a, i: a[1:, i, None], [(3, 4, 2), ints(4, (2, 2))],
      lambda a, i: a[1:, i, None]),
    C("getitem_mask", lambda L, a, m: a[m], [(3, 4), mask((3, 4))], lambda a, m: a[m]),
    C("getitem_mask_partial", lambda L, a, m: a[m], [(3, 4), mask((3,), 0.7)], lambda a, m: a[m]),
    C("getitem_mask_cmp", lambda L, a: a[a > 0], [(3, 4)], lambda a: a[a > 0]),
    C("getitem_mask_mid", lambda L, a, m: a[:, m], [(2, 3, 4), mask((3, 4))], lambda a, m: a[:, m]),
    C("index_select", lambda L, a, i: L.index_select(a, 1, i), [(3, 4), ints(4, (5,))],
      lambda a, i: np.take(a, i, 1)),
    C("index_select_method", lambda L, a, i: a.index_select(-2, i), [(3, 4), ints(3, (2,))],
      lambda a, i: np.take(a, i, 0)),
    C("gather", lambda L, a, i: L.gather(a, 1, i), [(3, 4), ints(4, (3, 5))],
      lambda a, i: np.take_along_axis(a, i, 1)),
    C("gather_smaller", lambda L, a, i: a.gather(0, i), [(3, 4), ints(3, (2, 3))],
      lambda a, i: np.take_along_axis(a[:, :3], i, 0)),
    C("gather_neg_dim", lambda L, a, i: a.gather(-1, i), [(2, 3, 4), ints(4, (2, 3, 2))],
      lambda a, i: np.take_along_axis(a, i, -1)),
    C("scatter", lambda L, a, i, b: a.scatter(0, i, b), [(3, 4), unique_rows(3, (2, 4)), (2, 4)],
      lambda a, i, b: _put_along(a, i, b, 0)),
    C("scatter_src_larger", lambda L, a, i, b: L.scatter(a, 1, i, b),
      [(3, 4), lambda rng: np.argsort(rng.random((3, 4)), axis=1)[:, :2], (3, 5)],
      lambda a, i, b: _put_along(a, i, b[:, :2], 1), grad=False),  # torch's backward rejects it
    C("scatter_value", lambda L, a, i: a.scatter(1, i, 2.5), [(3, 4), ints(4, (3, 2))],
      lambda a, i: _put_along(a, i, 2.5, 1)),
    C("scatter_add", lambda L, a, i, b: a.scatter_add(0, i, b), [(3, 4), ints(3, (5, 4)), (5, 4)],
      lambda a, i, b: _scatter_add(a, i, b, 0)),
    C("scatter_add_fn", lambda L, a, i, b: L.scatter_add(a, -1, i, b),
      [(2, 3), ints(3, (2, 6)), (2, 6)],
      lambda a, i, b: _scatter_add(a, i, b, 1)),
    C("scatter_add_src_larger", lambda L, a, i, b: a.scatter_add(1, i, b),
      [(2, 3), ints(3, (2, 4)), (3, 5)],
      lambda a, i, b: _scatter_add(a, i, b[:2, :4], 1), grad=False),
    C("index_add", lambda L, a, i, b: a.index_add(0, i, b), [(3, 4), ints(3, (5,)), (5, 4)],
      lambda a, i, b: _index_add(a, 0, i, b)),
    C("index_add_fn_alpha", lambda L, a, i, b: L.index_add(a, -1, i, b, alpha=-2.5),
      [(2, 3, 4), ints(4, (6,)), (2, 3, 6)], lambda a, i, b: _index_add(a, 2, i, b, -2.5)),
    C("index_add_mid_dim", lambda L, a, i, b: a.index_add(1, i, b), [(2, 3, 4), ints(3, (2,)), (2, 2, 4)],
      lambda a, i, b: _index_add(a, 1, i, b)),
    C("take_along_dim", lambda L, a, i: L.take_along_dim(a, i, 1), [(3, 4), ints(4, (3, 6))],
      lambda a, i: np.take_along_axis(a, i, 1)),
    C("take_along_dim_bcast", lambda L, a, i: a.take_along_dim(i, 2),
      [(2, 3, 4), ints(4, (1, 3, 2))],
      lambda a, i: np.take_along_axis(a, i, 2)),
    C("take_along_dim_flat", lambda L, a, i: L.take_along_dim(a, i), [(3, 4), ints(12, (5,))],
      lambda a, i: a.ravel()[i]),
    C("masked_fill", lambda L, a, m: a.masked_fill(m, 0.5), [(3, 4), mask((3, 4))],
      lambda a, m: np.where(m, 0.5, a)),
    C("masked_fill_bcast", lambda L, a, m: L.masked_fill(a, m, -1), [(3, 4), mask((4,))],
      lambda a, m: np.where(m, -1.0, a)),
    C("masked_fill_tensor", lambda L, a, v, m: a.masked_fill(m, v.sum()),
      [(3, 4), (1,), mask((3, 4))],
      lambda a, v, m: np.where(m, v.sum(), a)),
    C("masked_select", lambda L, a, m: L.masked_select(a, m), [(3, 4), mask((3, 4))],
      lambda a, m: a[m]),
    C("masked_select_bcast", lambda L, a, m: a.masked_select(m), [(3, 4), mask((4,))],
      lambda a, m: a[np.broadcast_to(m, a.shape)]),
    C("index_put", lambda L, a, i, v: L.index_put(a, (i,), v), [(5, 3), perm(5, 3), (3, 3)],
      lambda a, i, v: _np_setitem(a, i, v)),
    C("index_put_bcast", lambda L, a, i, v: a.index_put((i,), v), [(5, 3), perm(5, 2), (3,)],
      lambda a, i, v: _np_setitem(a, i, v)),
    C("index_put_acc", lambda L, a, i, j, v: a.index_put((i, j), v, accumulate=True),
      [(3, 4), ints(3, (6,)), ints(4, (6,)), (6,)],
      lambda a, i, j, v: _np_setitem(a, (i, j), v, True)),
    C("setitem_basic", lambda L, a, v: _setitem(L, a, (slice(1, 3), 0), v), [(3, 4), (2,)],
      lambda a, v: _np_setitem(a, (slice(1, 3), 0), v)),
    C("setitem_scalar", lambda L, a: _setitem(L, a, 0, 2.0), [(3, 4)],
      lambda a: _np_setitem(a, 0, 2.0)),
    C("setitem_bcast", lambda L, a, v: _setitem(L, a, (Ellipsis, slice(None, None, 2)), v),
      [(3, 4), (3, 1)],
      lambda a, v: _np_setitem(a, (Ellipsis, slice(None, None, 2)), v)),
    C("setitem_adv", lambda L, a, i, v: _setitem(L, a, i, v), [(5, 3), perm(5, 2), (2, 3)],
      lambda a, i, v: _np_setitem(a, i, v)),
    C("setitem_adv_slice", lambda L, a, i, v: _setitem(L, a, (slice(1, None), i), v),
      [(3, 5), perm(5, 2), (2, 2)], lambda a, i, v: _np_setitem(a, (slice(1, None), i), v)),
    C("setitem_mask", lambda L, a, m: _setitem(L, a, m, 0.0), [(3, 4), mask((3, 4))],
      lambda a, m: _np_setitem(a, m, 0.0)),
    C("setitem_chained", lambda L, a, v: _chained_set(a, v), [(3, 4), (3,)],
      lambda a, v: _np_setitem(a, (1, slice(1, None)), v)),
    C("nonzero", lambda L, a: L.nonzero(a > 0), [(3, 4)], lambda a: np.argwhere(a > 0), grad=False),
]


def _chained_set(a, v):
    y = a * 1
    y[1][1:] = v
    return y


# --- linear algebra -----------------------------------------------------------------------------


def _linear(L, x, w, b=None):
    """F.linear: torch.nn.functional.linear, or ember._C.linear until ember.nn lands."""
    fn = L.nn.functional.linear if hasattr(L, "nn") else L._C.linear
    return fn(x, w, b)


def _matmul_scaled(L, a, b, alpha):
    """ember._C._matmul_scaled (alpha inside the GEMM; scaled_dot_product_attention's scores), or
    torch's matmul then the product."""
    return L._C._matmul_scaled(a, b, alpha) if hasattr(L._C, "_matmul_scaled") else L.matmul(a, b) * alpha


CASES += [
    C("matmul_scaled", lambda L, a, b: _matmul_scaled(L, a, b, -0.3), [(2, 3, 4), (3, 1, 4, 5)],
      lambda a, b: -0.3 * (a @ b)),
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

# --- edge shapes: 0-d and empty tensors through every family ----------------------------------------
CASES += [
    C("0d_add", lambda L, a, b: a + b, [(), ()], lambda a, b: a + b),
    C("0d_broadcast_mul", lambda L, a, b: a * b, [(), (2, 3)], lambda a, b: a * b),
    C("0d_exp", lambda L, a: L.exp(a), [()], np.exp),
    C("0d_sum", lambda L, a: a.sum(), [()], np.sum),
    C("0d_sum_dim0", lambda L, a: a.sum(0), [()], lambda a: a),
    C("0d_mean_keepdim", lambda L, a: a.mean(-1, keepdim=True), [()], lambda a: a),
    C("0d_softmax", lambda L, a: L.softmax(a, 0), [()], np.ones_like, gradcheck=False),
    C("0d_reshape", lambda L, a: a.reshape(1, 1), [()], lambda a: a.reshape(1, 1)),
    C("0d_unsqueeze", lambda L, a: a.unsqueeze(0), [()], lambda a: a[None]),
    C("0d_where", lambda L, c, a, b: L.where(c > 0, a, b), [(), (3,), ()],
      lambda c, a, b: np.where(c > 0, a, b)),
    C("empty_add", lambda L, a, b: a + b, [(0, 3), (3,)], lambda a, b: a + b),
    C("empty_exp", lambda L, a: L.exp(a), [(2, 0)], np.exp),
    C("empty_sum", lambda L, a: a.sum(), [(0, 3)], np.sum),
    C("empty_sum_dim", lambda L, a: a.sum(0), [(0, 3)], lambda a: a.sum(0)),
    C("empty_sum_other_dim", lambda L, a: a.sum(1), [(0, 3)], lambda a: a.sum(1)),
    C("empty_prod", lambda L, a: a.prod(0), [(0, 2)], lambda a: a.prod(0)),
    C("empty_matmul_k0", lambda L, a, b: a @ b, [(2, 0), (0, 3)], lambda a, b: a @ b),
    C("empty_matmul_m0", lambda L, a, b: a @ b, [(0, 4), (4, 3)], lambda a, b: a @ b),
    C("empty_cat", lambda L, a, b: L.cat([a, b], 0), [(0, 3), (2, 3)], lambda a, b: np.concatenate([a, b])),
    C("empty_reshape", lambda L, a: a.reshape(3, 0, 2), [(0, 6)], lambda a: a.reshape(3, 0, 2)),
    C("empty_getitem", lambda L, a: a[1:1], [(4, 2)], lambda a: a[1:1]),
]

# --- convolution (conv branch) ------------------------------------------------------------------


def _np_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """Direct numpy conv2d reference: x (N, C, H, W), w (O, C/g, KH, KW); padding (top, left) or
    (top, bottom, left, right)."""
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    dh, dw = (dilation, dilation) if np.isscalar(dilation) else dilation
    p = (padding,) * 4 if np.isscalar(padding) else (
        (padding[0], padding[0], padding[1], padding[1]) if len(padding) == 2 else padding)
    x = np.pad(x, ((0, 0), (0, 0), (p[0], p[1]), (p[2], p[3])))
    N, _, H, W = x.shape
    O, Cg, KH, KW = w.shape
    OH, OW = (H - dh * (KH - 1) - 1) // sh + 1, (W - dw * (KW - 1) - 1) // sw + 1
    y = np.zeros((N, O, OH, OW))
    Og = O // groups
    for o in range(O):
        g = o // Og
        for kh in range(KH):
            for kw in range(KW):
                patch = x[:, g * Cg:(g + 1) * Cg, kh * dh:kh * dh + sh * (OH - 1) + 1:sh,
                          kw * dw:kw * dw + sw * (OW - 1) + 1:sw]
                y[:, o] += np.einsum("nchw,c->nhw", patch, w[o, :, kh, kw])
    return y if b is None else y + b[None, :, None, None]


def _np_unfold(x, k, dilation=1, padding=0, stride=1):
    ch = x.shape[1]
    eye = np.eye(ch * k[0] * k[1]).reshape(ch * k[0] * k[1], ch, k[0], k[1])
    y = _np_conv2d(x, eye, None, stride, padding, dilation)
    return y.reshape(y.shape[0], y.shape[1], -1)


def _conv(L, name):
    fn = getattr(L.nn.functional, name)

    def call(*args, **kwargs):
        import warnings
        with warnings.catch_warnings():  # torch warns it copies the input for asymmetric 'same'
            warnings.filterwarnings("ignore", "Using padding='same'")
            return fn(*args, **kwargs)
    return call


CASES += [
    C("conv2d_basic", lambda L, x, w, b: _conv(L, "conv2d")(x, w, b), [(2, 3, 5, 6), (4, 3, 3, 3), (4,)],
      _np_conv2d),
    C("conv2d_no_bias", lambda L, x, w: _conv(L, "conv2d")(x, w), [(1, 2, 4, 4), (3, 2, 2, 2)], _np_conv2d),
    C("conv2d_stride_pad", lambda L, x, w, b: _conv(L, "conv2d")(x, w, b, stride=2, padding=1),
      [(2, 2, 7, 6), (3, 2, 3, 3), (3,)], lambda x, w, b: _np_conv2d(x, w, b, 2, 1)),
    C("conv2d_rect", lambda L, x, w, b: _conv(L, "conv2d")(x, w, b, stride=(1, 2), padding=(2, 0)),
      [(2, 3, 5, 8), (2, 3, 3, 2), (2,)], lambda x, w, b: _np_conv2d(x, w, b, (1, 2), (2, 0))),
    C("conv2d_dilation", lambda L, x, w: _conv(L, "conv2d")(x, w, dilation=(2, 1), padding=1),
      [(1, 2, 7, 5), (2, 2, 3, 2)], lambda x, w: _np_conv2d(x, w, None, 1, 1, (2, 1))),
    C("conv2d_groups", lambda L, x, w, b: _conv(L, "conv2d")(x, w, b, groups=2, padding=1),
      [(2, 4, 5, 5), (6, 2, 3, 3), (6,)], lambda x, w, b: _np_conv2d(x, w, b, 1, 1, 1, 2)),
    C("conv2d_depthwise", lambda L, x, w, b: _conv(L, "conv2d")(x, w, b, groups=3, padding=1, stride=2),
      [(2, 3, 6, 7), (3, 1, 3, 3), (3,)], lambda x, w, b: _np_conv2d(x, w, b, 2, 1, 1, 3)),
    C("conv2d_depthwise_mult", lambda L, x, w: _conv(L, "conv2d")(x, w, groups=2, dilation=2, padding=2),
      [(1, 2, 6, 5), (4, 1, 3, 2)], lambda x, w: _np_conv2d(x, w, None, 1, 2, 2, 2)),
    C("conv2d_1x1", lambda L, x, w, b: _conv(L, "conv2d")(x, w, b), [(2, 4, 3, 5), (3, 4, 1, 1), (3,)],
      _np_conv2d),
    C("conv2d_same_even", lambda L, x, w: _conv(L, "conv2d")(x, w, padding="same"),
      [(1, 2, 5, 6), (3, 2, 4, 3)], lambda x, w: _np_conv2d(x, w, None, 1, (1, 2, 1, 1))),
    C("conv2d_same_dilated", lambda L, x, w: _conv(L, "conv2d")(x, w, padding="same", dilation=(1, 3)),
      [(1, 2, 5, 7), (2, 2, 2, 2)], lambda x, w: _np_conv2d(x, w, None, 1, (0, 1, 1, 2), (1, 3))),
    C("conv2d_valid", lambda L, x, w: _conv(L, "conv2d")(x, w, padding="valid"), [(2, 1, 4, 5), (2, 1, 2, 3)],
      _np_conv2d),
    C("conv2d_unbatched", lambda L, x, w, b: _conv(L, "conv2d")(x, w, b, padding=1),
      [(2, 4, 3), (3, 2, 3, 3), (3,)], lambda x, w, b: _np_conv2d(x[None], w, b, 1, 1)[0]),
    C("conv1d", lambda L, x, w, b: _conv(L, "conv1d")(x, w, b, stride=2, padding=1),
      [(2, 3, 9), (4, 3, 3), (4,)], lambda x, w, b: _np_conv2d(x[:, :, None], w[:, :, None], b, (1, 2),
                                                                (0, 1))[:, :, 0]),
    C("conv1d_groups_dilation", lambda L, x, w: _conv(L, "conv1d")(x, w, groups=2, dilation=2),
      [(1, 4, 8), (2, 2, 2)], lambda x, w: _np_conv2d(x[:, :, None], w[:, :, None], None, 1, 0, (1, 2),
                                                      2)[:, :, 0]),
    C("conv_transpose2d", lambda L, x, w, b: _conv(L, "conv_transpose2d")(x, w, b, stride=2, padding=1,
                                                                           output_padding=1),
      [(2, 3, 4, 3), (3, 2, 3, 3), (2,)]),
    C("conv_transpose2d_groups", lambda L, x, w: _conv(L, "conv_transpose2d")(x, w, groups=2, dilation=2,
                                                                               stride=(1, 2)),
      [(1, 4, 3, 4), (4, 3, 2, 3)]),
    C("conv_transpose2d_unbatched", lambda L, x, w, b: _conv(L, "conv_transpose2d")(x, w, b),
      [(2, 3, 3), (2, 3, 2, 2), (3,)]),
    C("unfold", lambda L, x: _conv(L, "unfold")(x, (2, 3), padding=1, stride=(2, 1)), [(2, 3, 4, 5)],
      lambda x: _np_unfold(x, (2, 3), 1, 1, (2, 1))),
    C("unfold_dilation", lambda L, x: _conv(L, "unfold")(x, 2, dilation=2), [(1, 2, 5, 5)],
      lambda x: _np_unfold(x, (2, 2), 2)),
    C("fold", lambda L, x: _conv(L, "fold")(x, (4, 5), (2, 3), padding=1, stride=(2, 1)), [(2, 18, 15)]),
]


# --- losses (loss branch): every loss x reduction, representative options ---------------------------
def _cls(n_classes, shape, ignore=None):
    """Class-index target sampler (int64), optionally with some entries set to ``ignore``."""
    def sample(rng):
        t = rng.integers(0, n_classes, shape)
        if ignore is not None:
            t.reshape(-1)[::3] = ignore
        return t
    return sample


def _unit(shape, lo=0.05, hi=0.95):
    return lambda rng: rng.uniform(lo, hi, shape)


def _sign(shape):
    return lambda rng: rng.choice([-1.0, 1.0], shape)


def _Fn(L):
    return L.nn.functional


def _w(L, vals):
    return L.tensor(vals)


_LOSS_CASES = [
    # name, fn(L, reduction, *xs), inputs, extra Case kwargs
    ("mse", lambda L, r, a, b: _Fn(L).mse_loss(a, b, reduction=r), [(3, 4), (3, 4)], {}),
    ("l1", lambda L, r, a, b: _Fn(L).l1_loss(a, b, reduction=r), [(3, 4), (3, 4)], {}),
    ("huber", lambda L, r, a, b: _Fn(L).huber_loss(a, b, reduction=r, delta=0.7), [(3, 4), (3, 4)], {}),
    ("smooth_l1", lambda L, r, a, b: _Fn(L).smooth_l1_loss(a, b, reduction=r, beta=0.5), [(3, 4), (3, 4)], {}),
    ("ce", lambda L, r, x, t: _Fn(L).cross_entropy(x, t, reduction=r), [(4, 5), _cls(5, (4,))], {}),
    ("ce_weight_ignore_smooth",
     lambda L, r, x, t: _Fn(L).cross_entropy(x, t, weight=_w(L, [0.5, 1.0, 2.0, 1.5, 0.25]), ignore_index=1,
                                             reduction=r, label_smoothing=0.2),
     [(6, 5), _cls(5, (6,), ignore=1)], {}),
    ("ce_kdim", lambda L, r, x, t: _Fn(L).cross_entropy(x, t, reduction=r, label_smoothing=0.1),
     [(2, 3, 4, 2), _cls(3, (2, 4, 2))], {}),
    ("ce_probs", lambda L, r, x, t: _Fn(L).cross_entropy(x, t.softmax(1), reduction=r), [(4, 5), (4, 5)], {}),
    ("nll", lambda L, r, x, t: _Fn(L).nll_loss(x, t, weight=_w(L, [1.0, 2.0, 0.5]), reduction=r),
     [(5, 3), _cls(3, (5,), ignore=-100)], {}),
    ("bce", lambda L, r, x, t: _Fn(L).binary_cross_entropy(x, t, reduction=r), [_unit((3, 4)), _unit((3, 4))], {}),
    ("bce_logits", lambda L, r, x, t: _Fn(L).binary_cross_entropy_with_logits(
        x, t, weight=_w(L, [1.0, 0.5, 2.0, 1.0]), pos_weight=_w(L, [0.5, 1.0, 2.0, 1.5]), reduction=r),
     [(3, 4), _unit((3, 4), 0.0, 1.0)], {}),
    ("multilabel_soft_margin", lambda L, r, x, t: _Fn(L).multilabel_soft_margin_loss(x, t, reduction=r),
     [(3, 4), lambda rng: rng.integers(0, 2, (3, 4)).astype(np.float64)], {"grad": True}),
    ("multi_margin_p2", lambda L, r, x, t: _Fn(L).multi_margin_loss(x, t, p=2, margin=0.5,
                                                                    weight=_w(L, [1.0, 0.5, 2.0, 1.0]), reduction=r),
     [(5, 4), _cls(4, (5,))], {"gradcheck": False}),
    ("kl_div_log_target", lambda L, r, x, t: _Fn(L).kl_div(x, t, reduction=r, log_target=True), [(3, 4), (3, 4)], {}),
    ("kl_div", lambda L, r, x, t: _Fn(L).kl_div(x, t, reduction=r), [(3, 4), _unit((3, 4))], {}),
    ("cosine_embedding", lambda L, r, a, b, y: _Fn(L).cosine_embedding_loss(a, b, y, margin=0.2, reduction=r),
     [(4, 5), (4, 5), _sign((4,))], {"gradcheck": False}),
    ("margin_ranking", lambda L, r, a, b, y: _Fn(L).margin_ranking_loss(a, b, y, margin=0.1, reduction=r),
     [(6,), (6,), _sign((6,))], {"gradcheck": False}),
    ("triplet_swap", lambda L, r, a, p, n: _Fn(L).triplet_margin_loss(a, p, n, margin=2.0, p=3, swap=True,
                                                                     reduction=r),
     [(4, 5), (4, 5), (4, 5)], {"gradcheck": False}),
    ("gaussian_nll_full", lambda L, r, x, t, v: _Fn(L).gaussian_nll_loss(x, t, v, full=True, reduction=r),
     [(3, 4), (3, 4), _unit((3, 1), 0.2, 2.0)], {}),
    ("poisson_nll", lambda L, r, x, t: _Fn(L).poisson_nll_loss(x, t, reduction=r), [(3, 4), _unit((3, 4), 0.0, 3.0)], {}),
    ("poisson_nll_full_nolog",
     lambda L, r, x, t: _Fn(L).poisson_nll_loss(x, t, log_input=False, full=True, reduction=r),
     [_unit((3, 4), 0.5, 2.0), _unit((3, 4), 0.0, 4.0)], {}),
]
def _with_reduction(f, r):
    return lambda L, *xs: f(L, r, *xs)


for _name, _fn, _inputs, _kw in _LOSS_CASES:
    for _r in ("none", "mean", "sum"):
        if _name.startswith("kl_div") and _r == "mean":
            _r = "batchmean"  # torch warns for 'mean' (tested in test_loss.py)
        CASES.append(C(f"loss_{_name}_{_r}", _with_reduction(_fn, _r), _inputs,
                       tags=("loss",), **_kw))

CASES += [
    C("cosine_similarity", lambda L, a, b: L.nn.functional.cosine_similarity(a, b, dim=1), [(3, 4), (3, 4)],
      tags=("loss",)),
    C("cosine_similarity_broadcast", lambda L, a, b: L.nn.functional.cosine_similarity(a, b, dim=-1, eps=1e-3),
      [(2, 3, 4), (3, 4)], tags=("loss",)),
    C("pairwise_distance", lambda L, a, b: L.nn.functional.pairwise_distance(a, b), [(3, 4), (3, 4)], tags=("loss",)),
    C("sdpa", lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(q, k, v), [(2, 3, 4), (2, 5, 4), (2, 5, 3)],
      tags=("loss",)),
    C("sdpa_causal_scale", lambda L, q, k, v: L.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True,
                                                                                          scale=0.3),
      [(2, 2, 4, 4), (2, 2, 4, 4), (2, 2, 4, 3)], tags=("loss",)),
    C("sdpa_float_mask", lambda L, q, k, v, m: L.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=m),
      [(2, 3, 4), (2, 5, 4), (2, 5, 3), (3, 5)], tags=("loss",)),
]


# --- pooling --------------------------------------------------------------------------------------
def _np_pool2d(x, k, s, p, d=(1, 1), ceil=False, mode="max", count_include_pad=True, divisor=None):
    """Reference 2-D pooling over the last two dims (torch's window and output-size rules)."""

    def out_size(n, k, s, p, d):
        o = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
        return o - 1 if ceil and (o - 1) * s >= n + p else o

    H, W = x.shape[-2:]
    OH, OW = out_size(H, k[0], s[0], p[0], d[0]), out_size(W, k[1], s[1], p[1], d[1])
    out = np.zeros(x.shape[:-2] + (OH, OW))
    for i in range(OH):
        for j in range(OW):
            h0, w0 = i * s[0] - p[0], j * s[1] - p[1]
            if mode == "max":
                hs = [h for h in range(h0, h0 + d[0] * (k[0] - 1) + 1, d[0]) if 0 <= h < H]
                ws = [w for w in range(w0, w0 + d[1] * (k[1] - 1) + 1, d[1]) if 0 <= w < W]
                out[..., i, j] = x[..., hs, :][..., ws].max(axis=(-2, -1))
            else:
                h1, w1 = min(h0 + k[0], H + p[0]), min(w0 + k[1], W + p[1])
                size = (h1 - h0) * (w1 - w0)
                hc, wc, h1c, w1c = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
                div = divisor or (size if count_include_pad else (h1c - hc) * (w1c - wc))
                out[..., i, j] = x[..., hc:h1c, wc:w1c].sum(axis=(-2, -1)) / div
    return out


def _np_adaptive(x, oh, ow, fn):
    H, W = x.shape[-2:]
    out = np.zeros(x.shape[:-2] + (oh, ow))
    for i in range(oh):
        for j in range(ow):
            h0, h1 = (i * H) // oh, -((-(i + 1) * H) // oh)
            w0, w1 = (j * W) // ow, -((-(j + 1) * W) // ow)
            out[..., i, j] = fn(x[..., h0:h1, w0:w1], axis=(-2, -1))
    return out


def _F(L):
    return L.nn.functional


CASES += [
    C(
        "max_pool2d_k3s2p1",
        lambda L, x: _F(L).max_pool2d(x, 3, 2, 1),
        [(2, 3, 7, 9)],
        lambda x: _np_pool2d(x, (3, 3), (2, 2), (1, 1)),
    ),
    C(
        "max_pool2d_rect_dilation_ceil",
        lambda L, x: _F(L).max_pool2d(x, (2, 3), (2, 1), (1, 0), dilation=2, ceil_mode=True),
        [(2, 2, 8, 7)],
        lambda x: _np_pool2d(x, (2, 3), (2, 1), (1, 0), (2, 2), True),
    ),
    C(
        "max_pool2d_2x2_odd",
        lambda L, x: _F(L).max_pool2d(x, 2),
        [(1, 3, 7, 5)],
        lambda x: _np_pool2d(x, (2, 2), (2, 2), (0, 0)),
    ),
    C(
        "max_pool2d_3d_input_ceil",
        lambda L, x: _F(L).max_pool2d(x, 2, ceil_mode=True),
        [(3, 5, 5)],
        lambda x: _np_pool2d(x, (2, 2), (2, 2), (0, 0), ceil=True),
    ),
    C(
        "max_pool2d_indices",
        lambda L, x: _F(L).max_pool2d(x, 3, 2, 1, return_indices=True),
        [(2, 2, 6, 5)],
    ),
    C(
        "max_pool1d",
        lambda L, x: _F(L).max_pool1d(x, 3, 2, 1),
        [(2, 3, 11)],
        lambda x: _np_pool2d(x[:, :, None], (1, 3), (1, 2), (0, 1))[:, :, 0],
    ),
    C(
        "max_pool1d_indices_dilation",
        lambda L, x: _F(L).max_pool1d(x, 2, 1, dilation=3, return_indices=True),
        [(3, 10)],
    ),
    C(
        "avg_pool2d_k3s2p1",
        lambda L, x: _F(L).avg_pool2d(x, 3, 2, 1),
        [(2, 3, 7, 9)],
        lambda x: _np_pool2d(x, (3, 3), (2, 2), (1, 1), mode="avg"),
    ),
    C(
        "avg_pool2d_exclude_pad_ceil",
        lambda L, x: _F(L).avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        [(2, 2, 8, 6)],
        lambda x: _np_pool2d(
            x, (3, 3), (2, 2), (1, 1), ceil=True, mode="avg", count_include_pad=False
        ),
    ),
    C(
        "avg_pool2d_divisor",
        lambda L, x: _F(L).avg_pool2d(x, (2, 3), 1, divisor_override=4),
        [(1, 2, 5, 6)],
        lambda x: _np_pool2d(x, (2, 3), (1, 1), (0, 0), mode="avg", divisor=4),
    ),
    C(
        "avg_pool2d_2x2_odd",
        lambda L, x: _F(L).avg_pool2d(x, 2),
        [(2, 3, 7, 8)],
        lambda x: _np_pool2d(x, (2, 2), (2, 2), (0, 0), mode="avg"),
    ),
    C(
        "avg_pool1d",
        lambda L, x: _F(L).avg_pool1d(x, 4, 3, 2),
        [(2, 3, 10)],
        lambda x: _np_pool2d(x[:, :, None], (1, 4), (1, 3), (0, 2), mode="avg")[:, :, 0],
    ),
    C(
        "adaptive_avg_pool2d",
        lambda L, x: _F(L).adaptive_avg_pool2d(x, (3, 4)),
        [(2, 3, 7, 9)],
        lambda x: _np_adaptive(x, 3, 4, np.mean),
    ),
    C(
        "adaptive_avg_pool2d_up",
        lambda L, x: _F(L).adaptive_avg_pool2d(x, 5),
        [(1, 2, 3, 4)],
        lambda x: _np_adaptive(x, 5, 5, np.mean),
    ),
    C(  # global average pooling: the mean over each plane
        "adaptive_avg_pool2d_global",
        lambda L, x: _F(L).adaptive_avg_pool2d(x, 1),
        [(2, 3, 7, 9)],
        lambda x: _np_adaptive(x, 1, 1, np.mean),
    ),
    C(  # the same on one unbatched image
        "adaptive_avg_pool2d_global_3d",
        lambda L, x: _F(L).adaptive_avg_pool2d(x, (1, 1)),
        [(3, 5, 6)],
        lambda x: _np_adaptive(x[None], 1, 1, np.mean)[0],
    ),
    C(
        "adaptive_avg_pool1d",
        lambda L, x: _F(L).adaptive_avg_pool1d(x, 4),
        [(2, 3, 9)],
        lambda x: _np_adaptive(x[:, :, None], 1, 4, np.mean)[:, :, 0],
    ),
    C(
        "adaptive_max_pool2d",
        lambda L, x: _F(L).adaptive_max_pool2d(x, (3, 2)),
        [(2, 3, 7, 5)],
        lambda x: _np_adaptive(x, 3, 2, np.max),
    ),
    C(
        "adaptive_max_pool2d_indices",
        lambda L, x: _F(L).adaptive_max_pool2d(x, 4, return_indices=True),
        [(3, 6, 9)],
    ),
]


# --- normalisation --------------------------------------------------------------------------------
def _np_bn(x, w, b, eps=1e-5):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = [1, -1] + [1] * (x.ndim - 2)
    m, v = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * w.reshape(shape) + b.reshape(shape)


def _np_ln(x, nd, w=None, b=None, eps=1e-5):
    axes = tuple(range(x.ndim - nd, x.ndim))
    y = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return y * (1 if w is None else w) + (0 if b is None else b)


def _bn_eval(L, x, w, b):
    c = x.shape[1]
    rm, rv = L.linspace(-0.5, 0.5, c, dtype=x.dtype), L.linspace(0.5, 2.0, c, dtype=x.dtype)
    return _F(L).batch_norm(x, rm, rv, w, b, training=False)


def _bn_train(L, x, w, b):
    c = x.shape[1]
    rm, rv = L.zeros(c, dtype=x.dtype), L.ones(c, dtype=x.dtype)
    y = _F(L).batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)
    return y, rm, rv


CASES += [
    C(
        "batch_norm_train_4d",
        lambda L, x, w, b: _F(L).batch_norm(x, None, None, w, b, training=True),
        [(3, 4, 5, 6), (4,), (4,)],
        _np_bn,
    ),
    C(
        "batch_norm_train_2d",
        lambda L, x, w, b: _F(L).batch_norm(x, None, None, w, b, True),
        [(5, 3), (3,), (3,)],
        _np_bn,
    ),
    # running stats change with x but carry no gradient (by design): no finite differences
    C("batch_norm_train_3d_running", _bn_train, [(4, 3, 7), (3,), (3,)], gradcheck=False),
    C(
        "batch_norm_train_noaffine",
        lambda L, x: _F(L).batch_norm(x, None, None, training=True),
        [(2, 3, 4, 4)],
    ),
    C("batch_norm_eval", _bn_eval, [(2, 3, 4, 5), (3,), (3,)]),
    C(
        "layer_norm_2dims",
        lambda L, x, w, b: _F(L).layer_norm(x, (5, 6), w, b),
        [(4, 5, 6), (5, 6), (5, 6)],
        lambda x, w, b: _np_ln(x, 2, w, b),
    ),
    C(
        "layer_norm_noaffine",
        lambda L, x: _F(L).layer_norm(x, [7]),
        [(3, 7)],
        lambda x: _np_ln(x, 1),
    ),
    C(
        "layer_norm_weight_only",
        lambda L, x, w: _F(L).layer_norm(x, (9,), w, eps=1e-3),
        [(2, 3, 9), (9,)],
        lambda x, w: _np_ln(x, 1, w, eps=1e-3),
    ),
    C(
        "group_norm",
        lambda L, x, w, b: _F(L).group_norm(x, 3, w, b),
        [(2, 6, 5), (6,), (6,)],
        lambda x, w, b: _np_ln(x.reshape(2, 3, 10), 1).reshape(2, 6, 5) * w[:, None] + b[:, None],
    ),
    C("group_norm_4d_noaffine", lambda L, x: _F(L).group_norm(x, 2, eps=1e-4), [(3, 4, 3, 2)]),
]


# --- embedding and interpolation ------------------------------------------------------------------
def _idx(high, shape):
    return lambda rng: rng.integers(0, high, shape)


CASES += [
    C(
        "embedding",
        lambda L, i, w: _F(L).embedding(i, w),
        [_idx(6, (3, 5)), (6, 4)],
        lambda i, w: w[i],
    ),
    # the padding row is read but gets no gradient (by design): torch parity checks the gradient
    C(
        "embedding_padding_idx",
        lambda L, i, w: _F(L).embedding(i, w, padding_idx=2),
        [_idx(5, (4, 6)), (5, 3)],
        lambda i, w: w[i],
        gradcheck=False,
    ),
    C("interpolate_nearest_size", lambda L, x: _F(L).interpolate(x, size=(8, 11)), [(2, 3, 5, 7)]),
    C(
        "interpolate_nearest_scale",
        lambda L, x: _F(L).interpolate(x, scale_factor=2),
        [(1, 2, 3, 4)],
        lambda x: x.repeat(2, axis=2).repeat(2, axis=3),
    ),
    C("interpolate_nearest_down", lambda L, x: _F(L).interpolate(x, size=(3, 2)), [(2, 2, 7, 5)]),
    C("interpolate_nearest_1d", lambda L, x: _F(L).interpolate(x, scale_factor=1.5), [(2, 3, 6)]),
    C(
        "interpolate_bilinear",
        lambda L, x: _F(L).interpolate(x, size=(7, 9), mode="bilinear"),
        [(2, 3, 4, 5)],
    ),
    C(
        "interpolate_bilinear_align",
        lambda L, x: _F(L).interpolate(x, size=(7, 3), mode="bilinear", align_corners=True),
        [(1, 2, 4, 5)],
    ),
    C(
        "interpolate_bilinear_scale",
        lambda L, x: _F(L).interpolate(x, scale_factor=1.7, mode="bilinear"),
        [(1, 2, 5, 4)],
    ),
    C(
        "interpolate_bilinear_down",
        lambda L, x: _F(L).interpolate(x, size=(3, 2), mode="bilinear"),
        [(2, 2, 7, 5)],
    ),
]


# --- fused recurrent cells ----------------------------------------------------------------------
# ember's _C._lstm_cell / _C._gru_cell against torch's CPU cell formulas (torch's fused cells are
# CUDA only). Both LSTM outputs are checked: hy and cy side by side.
def _lstm_cell(L, ig, hg, c):
    if L.__name__ == "ember":
        h, cy = L._C._lstm_cell(ig, hg, c)
    else:
        i, f, g, o = (ig + hg).chunk(4, 1)
        cy = L.sigmoid(f) * c + L.sigmoid(i) * L.tanh(g)
        h = L.sigmoid(o) * L.tanh(cy)
    return L.cat([h, cy], 1)


def _lstm_cell_h(L, ig, hg, c):  # cy unused: its gradient is undefined
    return _lstm_cell(L, ig, hg, c)[:, : c.shape[1]]


def _gru_cell(L, ig, hg, h):
    if L.__name__ == "ember":
        return L._C._gru_cell(ig, hg, h)
    a, b = ig.chunk(3, 1), hg.chunk(3, 1)
    r, z = L.sigmoid(a[0] + b[0]), L.sigmoid(a[1] + b[1])
    n = L.tanh(a[2] + r * b[2])
    return n + z * (h - n)


CASES += [
    C("lstm_cell", _lstm_cell, [(3, 20), (3, 20), (3, 5)], domain=(-3.0, 3.0)),
    C("lstm_cell_h_only", _lstm_cell_h, [(4, 8), (4, 8), (4, 2)], domain=(-3.0, 3.0)),
    C("lstm_cell_wide", _lstm_cell, [(2, 4 * 37), (2, 4 * 37), (2, 37)], gradcheck=False),
    C("gru_cell", _gru_cell, [(3, 15), (3, 15), (3, 5)], domain=(-3.0, 3.0)),
    C("gru_cell_wide", _gru_cell, [(2, 3 * 37), (2, 3 * 37), (2, 37)], gradcheck=False),
]

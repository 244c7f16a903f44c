"""torch.cdist: p-norm distances between the rows of two batches of row vectors.

x1 (*, P, M) and x2 (*, R, M) give (*, P, R), the batch dims broadcast. For p = 2 with many rows
(torch's compute_mode rule: more than 25 in either operand, or 'use_mm_for_euclid_dist') the
squared distance is |a|^2 + |b|^2 - 2 a.b from one matrix product (0 below its rounding noise,
where torch returns the square root of the residue); otherwise the
differences are formed and reduced. The gradient is torch's _cdist_backward: zero for a pair at
distance 0, and, like torch, not differentiable again (a second derivative raises).
"""
import math

from . import _C
from .autograd.function import Function
from .autograd.grad_mode import no_grad

_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
          "donot_use_mm_for_euclid_dist")


def _broadcast(s1, s2):
    n = max(len(s1), len(s2))
    s1, s2 = (1,) * (n - len(s1)) + s1, (1,) * (n - len(s2)) + s2
    out = []
    for a, b in zip(s1, s2):
        if a != b and 1 not in (a, b):
            raise RuntimeError(f"cdist: the batch dims of X1 {list(s1)} and X2 {list(s2)} do not "
                               "broadcast")
        out.append(b if a == 1 else a)
    return tuple(out)


def _pairs(x1, x2):
    """x1 (..., P, 1, M) - x2 (..., 1, R, M)."""
    return x1.unsqueeze(-2) - x2.unsqueeze(-3)


def _distances(x1, x2, p, use_mm):
    if use_mm:
        n1, n2 = (x1 * x1).sum(-1, keepdim=True), (x2 * x2).sum(-1).unsqueeze(-2)
        sq = n1 + n2 - 2 * _C.matmul(x1, x2.transpose(-1, -2))
        # below the rounding noise of |a|^2 + |b|^2 - 2 a.b the difference is unresolved: 0 (equal
        # rows give 0, not sqrt of a residue like 2e-8, and a zero gradient)
        eps = 2.0 ** -52 if x1.dtype == _C.dtype.float64 else 2.0 ** -23
        noise = (n1 + n2) * (4 * eps * x1.shape[-1])
        return _C.where(sq > noise, sq, _C.zeros_like(sq)).sqrt()
    d = _pairs(x1, x2)
    if p == 0:
        return (d != 0).sum(-1).to(x1.dtype)
    if math.isinf(p):
        return d.abs().amax(-1)
    return d.norm(p, -1)


class _NoDoubleBackward(Function):
    """The gradients, passed through; differentiating them again raises (torch's cdist)."""

    @staticmethod
    def forward(ctx, g, x1, x2, gx1, gx2):  # g, x1, x2: what the gradients depend on
        return gx1, gx2

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError("cdist: the derivative for '_cdist_backward' is not implemented (a "
                           "second derivative of cdist is not supported, as in torch)")


class _Cdist(Function):
    @staticmethod
    def forward(ctx, x1, x2, p, use_mm):
        dist = _distances(x1, x2, p, use_mm)
        ctx.save_for_backward(x1, x2, dist)
        ctx.p = p
        return dist

    @staticmethod
    def backward(ctx, g):
        x1, x2, dist = ctx.saved_tensors
        p = ctx.p
        with no_grad():
            if p == 0:
                gx1, gx2 = _C.zeros_like(x1), _C.zeros_like(x2)
            elif p == 2:  # W = g / dist (0 at distance 0): matrix products only
                w = _C.where(dist > 0, g / _C.where(dist > 0, dist, _C.ones_like(dist)),
                             _C.zeros_like(dist))
                gx1 = x1 * w.sum(-1, keepdim=True) - _C.matmul(w, x2)
                gx2 = x2 * w.sum(-2).unsqueeze(-1) - _C.matmul(w.transpose(-1, -2), x1)
            else:
                d = _pairs(x1, x2)  # (..., P, R, M)
                gd = g.unsqueeze(-1)
                if math.isinf(p):  # the coordinates attaining the max, ties included
                    t = d.sign() * (d.abs() == dist.unsqueeze(-1)).to(d.dtype) * gd
                elif p == 1:
                    t = d.sign() * gd
                else:
                    safe = _C.where(dist > 0, dist, _C.ones_like(dist)).unsqueeze(-1)
                    t = d.sign() * (d.abs() / safe) ** (p - 1) * gd
                    # 0 at distance 0, and where a coordinate's difference is 0 (p < 1: 0^(p-1))
                    t = _C.where((dist > 0).unsqueeze(-1) & (d != 0), t, _C.zeros_like(t))
                gx1, gx2 = t.sum(-2), -t.sum(-3)
        if _C.is_grad_enabled():  # create_graph: the gradients exist, their derivative raises
            return _NoDoubleBackward.apply(g, x1, x2, gx1, gx2) + (None, None)
        return gx1, gx2, None, None


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """torch.cdist(x1, x2, p=2.0, compute_mode='use_mm_for_euclid_dist_if_necessary')."""
    for name, t in (("X1", x1), ("X2", x2)):
        if t.dim() < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.dim()}D")
        if not t.is_floating_point():
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{str(t.dtype).split('.')[-1]}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError("X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if x1.dtype != x2.dtype:
        raise RuntimeError(f"cdist: X1 ({x1.dtype}) and X2 ({x2.dtype}) must have the same dtype")
    p = float(p)
    if not p >= 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    batch = _broadcast(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]))
    a = x1.expand(*batch, *x1.shape[-2:]) if tuple(x1.shape[:-2]) != batch else x1
    b = x2.expand(*batch, *x2.shape[-2:]) if tuple(x2.shape[:-2]) != batch else x2
    use_mm = p == 2 and (compute_mode == _MODES[1] or (
        compute_mode == _MODES[0] and (x1.shape[-2] > 25 or x2.shape[-2] > 25)))
    return _Cdist.apply(a, b, p, use_mm)

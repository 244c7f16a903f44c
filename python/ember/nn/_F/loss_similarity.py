"""Distribution and similarity losses of ember.nn.functional (re-exported by _F/loss.py), and
scaled_dot_product_attention. Composites of differentiable ops with torch's formulas."""
import math

from ... import _C
from .loss import _check_reduction, _legacy_reduction, _reduce

__all__ = [
    "cosine_embedding_loss",
    "gaussian_nll_loss",
    "kl_div",
    "margin_ranking_loss",
    "poisson_nll_loss",
    "scaled_dot_product_attention",
    "triplet_margin_loss",
]


def _xlogy_self(t):
    """t * log(t) with 0 where t == 0 (torch.xlogy(t, t))."""
    pos = t > 0
    safe = _C.where(pos, t, _C.ones_like(t))
    return _C.where(pos, t * _C.log(safe), _C.zeros_like(t))


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise target * (log(target) - input). 'batchmean' divides the sum by input.size(0);
    'mean' (torch's legacy behaviour, kept) divides by the number of elements."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = _C.exp(target) * (target - input)
    else:
        loss = _xlogy_self(target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.dim() != 0 else loss.sum()
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input1.dim() != input2.dim() or input1.dim() not in (1, 2):
        raise RuntimeError(f"cosine_embedding_loss: expected 1-D or 2-D inputs of the same number of "
                           f"dimensions, got {tuple(input1.shape)} and {tuple(input2.shape)}")
    if target.dim() != input1.dim() - 1:
        raise RuntimeError(f"cosine_embedding_loss: expected a {input1.dim() - 1}-D target for "
                           f"{input1.dim()}-D inputs, got shape {tuple(target.shape)}")
    d = input1.dim() - 1
    eps = 1e-12  # torch's EPSILON
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + eps
    mag2 = (input2 * input2).sum(d) + eps
    cos = prod / _C.sqrt(mag1 * mag2)
    zeros = _C.zeros_like(cos)
    pos = _C.where(target == 1, 1 - cos, zeros)
    neg = _C.where(target == -1, _C.clamp(cos - margin, min=0.0), zeros)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not (input1.dim() == input2.dim() == target.dim()):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but "
                           f"got sizes: input1: {tuple(input1.shape)}, input2: {tuple(input2.shape)}, "
                           f"target: {tuple(target.shape)} ")
    return _reduce(_C.clamp(-target * (input1 - input2) + margin, min=0.0), reduction)


def _pdist(a, b, p, eps):
    return (a - b + eps).norm(p, -1)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pz, n = anchor.dim(), positive.dim(), negative.dim()
    if not (a == pz == n):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same "
                           f"number of dimensions, but got: anchor {a}D, positive {pz}D, and "
                           f"negative {n}D inputs")
    d_pos = _pdist(anchor, positive, p, eps)
    d_neg = _pdist(anchor, negative, p, eps)
    if swap:
        d_neg = _C.minimum(d_neg, _pdist(positive, negative, p, eps))
    return _reduce(_C.clamp(margin + d_pos - d_neg, min=0.0), reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log(max(var, eps)) + (input - target)^2 / max(var, eps)) (+ 0.5 log(2 pi) if full).
    var: a float, input's shape, input's shape without the last dim, or input's shape with one
    dim of size 1 (homoscedastic). NOTE: like torch, the clamp at eps passes var's gradient as is."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = _C.full_like(input, float(var))
    elif var.numel() and bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    ishape, vshape = tuple(input.shape), tuple(var.shape)
    if vshape != ishape:
        if ishape[:-1] == vshape:
            var = var.unsqueeze(-1)
        elif len(ishape) == len(vshape) and sum(y for x, y in zip(ishape, vshape) if x != y) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    _check_reduction(reduction)
    var = var + (_C.clamp(var, min=eps) - var).detach()
    d = input - target
    loss = 0.5 * (_C.log(var) + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """log_input: exp(input) - target * input; else input - target * log(input + eps). full adds
    Stirling's term target log(target) - target + 0.5 log(2 pi target) where target > 1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if log_input:
        loss = _C.exp(input) - target * input
    else:
        loss = input - target * _C.log(input + eps)
    if full:
        big = target > 1
        t = _C.where(big, target, _C.full_like(target, 2.0))
        stirling = t * _C.log(t) - t + 0.5 * _C.log(2 * math.pi * t)
        loss = loss + _C.where(big, stirling, _C.zeros_like(stirling))
    return _reduce(loss, reduction)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False,
                                 scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + bias) @ value. query (..., L, E), key (..., S, E), value
    (..., S, Ev). attn_mask: bool (True = attend) or float (added), broadcastable to (..., L, S);
    is_causal masks j > i (and excludes attn_mask). scale defaults to 1 / sqrt(E)."""
    if enable_gqa:
        raise NotImplementedError("scaled_dot_product_attention: enable_gqa is not supported")
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    s = 1.0 / math.sqrt(E) if scale is None else scale
    scores = _C._matmul_scaled(query, key.transpose(-2, -1), s)  # the scale inside the GEMM
    if is_causal:
        keep = _C.ones(L, S, dtype=_C.dtype.bool).tril()
        scores = scores.masked_fill(keep.logical_not(), float("-inf"))
    elif attn_mask is not None:
        if attn_mask.dtype == _C.dtype.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    attn = _C.softmax(scores, -1)
    if dropout_p > 0.0:
        from .. import functional as F
        attn = F.dropout(attn, dropout_p, training=True)
    return _C.matmul(attn, value)

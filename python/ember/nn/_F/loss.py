"""Loss functions of ember.nn.functional (torch.nn.functional's names, arguments, defaults and
formulas). Cross-entropy over class indices is one fused C++ kernel (ember._C._cross_entropy);
the rest are composites of differentiable ops.

NOTE: where torch warns and broadcasts (mse_loss / l1_loss / huber_loss / smooth_l1_loss with a
target of another shape), ember broadcasts silently. torch's legacy ``size_average`` / ``reduce``
arguments map to ``reduction`` exactly as in torch (without its deprecation warning).
"""
from ... import _C

__all__ = [  # kl_div, the embedding/margin/NLL-family losses and sdpa: loss_similarity.py
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cosine_embedding_loss",
    "cross_entropy", "gaussian_nll_loss", "huber_loss", "kl_div", "l1_loss", "margin_ranking_loss",
    "mse_loss", "multi_margin_loss", "multilabel_soft_margin_loss", "nll_loss", "poisson_nll_loss",
    "scaled_dot_product_attention", "smooth_l1_loss", "triplet_margin_loss",
]

_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _legacy_reduction(size_average, reduce, reduction):
    """torch's _Reduction.legacy_get_string when either legacy argument is given."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss, reduction):
    _check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _weighted(loss, weight, reduction, mean_by_weight=True):
    """Regression losses with torch 2.13's elementwise ``weight`` (same size as the input)."""
    if weight is None:
        return _reduce(loss, reduction)
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError("Weights and input must have the same size.")
    _check_reduction(reduction)
    loss = loss * weight
    if reduction == "mean" and mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def _broadcast(a, b):
    """a and b expanded to their broadcast shape (torch.broadcast_tensors for two tensors).
    NOTE: the regression losses warn here in torch when the shapes differ; ember is silent."""
    sa, sb = tuple(a.shape), tuple(b.shape)
    if sa == sb:
        return a, b
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    out = []
    for i, (x, y) in enumerate(zip(sa, sb)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                               f"non-singleton dimension {i}")
        out.append(y if x == 1 else x)
    return a.expand(*out), b.expand(*out)


# --- regression -------------------------------------------------------------------------------
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x, y = _broadcast(input, target)
    d = x - y
    if weight is None and reduction in ("mean", "sum") and d.is_floating_point():
        return _C._abs_sum(d, reduction == "mean")  # one pass, gradient sign(d) g (/ n)
    return _weighted(_C.abs(d), weight, reduction)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    x, y = _broadcast(input, target)
    d = x - y
    if weight is None and reduction in ("mean", "sum") and d.is_floating_point():
        return _C._squared_sum(d, reduction == "mean")  # one pass, gradient 2 d g (/ n)
    return _weighted(d * d, weight, reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
    x, y = _broadcast(input, target)
    d = x - y
    if delta == 1.0 and weight is None and reduction in ("mean", "sum") and d.is_floating_point():
        return _C._huber_sum(d, reduction == "mean")  # one pass, gradient clamp(d, -1, 1) g (/ n)
    return _weighted(_C._huber(d, float(delta)), weight, reduction, mean_by_weight=False)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    x, y = _broadcast(input, target)
    d = x - y
    if beta in (0.0, 1.0) and reduction in ("mean", "sum") and d.is_floating_point():
        fused = _C._abs_sum if beta == 0.0 else _C._huber_sum  # beta 1: huber with delta 1
        return fused(d, reduction == "mean")
    if beta == 0.0:
        return _reduce(_C.abs(d), reduction)
    return _reduce(_C._smooth_l1(d, float(beta)), reduction)


# --- classification ---------------------------------------------------------------------------
def _class_dim(input):
    return 0 if input.dim() == 1 else 1


def _class_weight_view(weight, input):
    shape = [1] * input.dim()
    shape[_class_dim(input)] = weight.numel()
    return weight.reshape(shape)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if tuple(input.shape) != tuple(target.shape):  # class indices: the fused kernel
        if target.is_floating_point():
            raise RuntimeError(f"cross_entropy: class-index targets must be int64, got {target.dtype} "
                               f"(probability targets must have the input's shape {tuple(input.shape)}, "
                               f"got {tuple(target.shape)})")
        return _C._cross_entropy(input, target, weight, _REDUCTIONS[reduction], ignore_index,
                                 label_smoothing)
    # class probabilities
    if not target.is_floating_point():
        raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                           f"{target.dtype}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    cdim = _class_dim(input)
    n_classes = input.shape[cdim]
    logp = _C.log_softmax(input, cdim)
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    if weight is not None:
        if weight.dim() != 1 or weight.numel() != n_classes:
            raise RuntimeError(f"weight tensor should be defined either for all {n_classes} classes or "
                               f"no classes but got weight tensor of shape: {list(weight.shape)}")
        logp = logp * _class_weight_view(weight, input)
    loss = -(logp * target).sum(cdim)
    if reduction == "mean":
        count = input.numel() // n_classes if n_classes else 0
        return loss.sum() / count if count else loss.sum() * float("nan")
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _C._nll_loss(input, target, weight, _REDUCTIONS[reduction], ignore_index)


def _check_same_size(input, target, what="Target"):
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{what} size ({tuple(target.shape)}) must be the same as input size "
                         f"({tuple(input.shape)})")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_same_size(input, target)
    if input.numel():
        bad = (input < 0) | (input > 1) | _C.isnan(input)
        if bool(bad.any()):
            v = float(input.detach()[bad].reshape(-1)[0].item())
            raise RuntimeError(f"binary_cross_entropy: all elements of input should be between 0 and 1, "
                               f"got {v}")
    # NOTE: like torch, each log is clamped at -100 so x = 0 or 1 gives a finite loss.
    log_x = _C.clamp(_C.log(input), min=-100.0)
    log_1mx = _C.clamp(_C.log(1 - input), min=-100.0)
    loss = -(target * log_x + (1 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _softplus_neg(x):
    """-logsigmoid(x) = softplus(-x): stable for huge |x|, smooth at 0 (no max/abs kinks)."""
    return _C._softplus(-x)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _check_same_size(input, target)
    # loss = (1 - t) x + (1 + (pw - 1) t) softplus(-x)
    if pos_weight is not None:
        loss = (1 - target) * input + ((pos_weight - 1) * target + 1) * _softplus_neg(input)
    else:
        loss = (1 - target) * input + _softplus_neg(input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    loss = target * _softplus_neg(input) + (1 - target) * _softplus_neg(-input)
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction)


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if input.dim() not in (1, 2) or input.numel() == 0 and input.dim() == 1:
        raise RuntimeError(f"multi_margin_loss: expected a non-empty 1-D or 2-D input, got shape "
                           f"{tuple(input.shape)}")
    x = input if input.dim() == 2 else input.unsqueeze(0)
    t = target.reshape(-1)
    if target.dtype != _C.dtype.int64:
        raise RuntimeError(f"multi_margin_loss: expected int64 targets, got {target.dtype}")
    if t.numel() != x.shape[0] or target.dim() > 1:
        raise RuntimeError(f"multi_margin_loss: inconsistent target size {tuple(target.shape)} for input "
                           f"of size {tuple(input.shape)}")
    n_classes = x.shape[1]
    if weight is not None and (weight.dim() != 1 or weight.numel() != n_classes):
        raise ValueError(f"multi_margin_loss: weight must be 1-D of size {n_classes}, got "
                         f"{tuple(weight.shape)}")
    bad = (t < 0) | (t >= n_classes)
    if t.numel() and bool(bad.any()):
        v = int(t[bad][0].item())
        raise IndexError(f"Target {v} is out of bounds. Valid class indices for multi_margin_loss are "
                         f"[0, {n_classes})")
    xy = x.gather(1, t.unsqueeze(1))
    z = _C.clamp(margin - xy + x, min=0.0)
    if p == 2:
        z = z * z
    not_target = (_C.arange(n_classes).unsqueeze(0) != t.unsqueeze(1)).to(x.dtype)
    z = z * not_target
    if weight is not None:
        z = z * weight[t].unsqueeze(1)
    loss = z.sum(1) / n_classes
    if input.dim() == 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


from .loss_similarity import *

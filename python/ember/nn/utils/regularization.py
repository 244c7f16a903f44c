"""Explicit L1 / L2 penalties for a loss, and weight-decay param groups that skip biases and norms.

``loss = criterion(out, y) + l2_penalty(model, 1e-4, exclude_bias=True)`` adds
``1e-4 * sum(p ** 2)`` over the model's trainable weights; it is differentiable, so its gradient
(``2e-4 * p``) reaches the parameters through backward. (An optimizer's ``weight_decay=wd`` adds
``wd * p`` to the gradient instead: ``l2_penalty(weight=wd / 2)`` is the same for SGD.)
"""

from ..._C import Tensor

__all__ = ["l1_penalty", "l2_penalty", "regularized_parameters", "weight_decay_groups"]


def _is_norm(module):
    return "Norm" in type(module).__name__  # BatchNorm*, LayerNorm, GroupNorm, RMSNorm, ...


def _named(source):
    """(name, param, owner_is_norm) for a Module, an iterable of (name, param) or of params."""
    if hasattr(source, "named_modules"):
        out, seen = [], set()
        for mod_name, mod in source.named_modules():
            norm = _is_norm(mod)
            for name, p in mod.named_parameters(recurse=False):
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append((f"{mod_name}.{name}" if mod_name else name, p, norm))
        return out
    if isinstance(source, Tensor):
        source = [source]
    out = []
    for item in source:
        if isinstance(item, tuple):
            out.append((item[0], item[1], False))
        else:
            out.append((None, item, False))
    return out


def regularized_parameters(source, exclude_bias=False, exclude_norm=False):
    """The trainable parameters of ``source`` (a Module, named_parameters() or parameters) that
    a penalty applies to: frozen ones (``requires_grad=False``) always skipped; biases (names
    ending in 'bias') and parameters of normalisation layers skipped on request."""
    params = []
    for name, p, in_norm in _named(source):
        if (exclude_bias or exclude_norm) and name is None:
            raise ValueError("excluding biases or norms needs a Module or named_parameters()")
        if not p.requires_grad:
            continue
        if exclude_bias and name.rsplit(".", 1)[-1] == "bias":
            continue
        if exclude_norm and in_norm:
            continue
        params.append(p)
    return params


def _penalty(source, weight, exclude_bias, exclude_norm, term):
    params = regularized_parameters(source, exclude_bias, exclude_norm)
    if not params:
        from ... import zeros

        return zeros(())
    total = term(params[0]).sum()
    for p in params[1:]:
        total = total + term(p).sum()
    return total * weight


def l1_penalty(source, weight=1.0, *, exclude_bias=False, exclude_norm=False):
    """``weight * sum(|p|)`` over :func:`regularized_parameters` (a differentiable 0-d tensor)."""
    return _penalty(source, weight, exclude_bias, exclude_norm, lambda p: p.abs())


def l2_penalty(source, weight=1.0, *, exclude_bias=False, exclude_norm=False):
    """``weight * sum(p ** 2)`` over :func:`regularized_parameters` (a differentiable 0-d "
    "tensor)."""
    return _penalty(source, weight, exclude_bias, exclude_norm, lambda p: p * p)


def weight_decay_groups(module, weight_decay, exclude_bias=True, exclude_norm=True):
    """Two param groups for an optimizer: ``weight_decay`` on weights, 0 on biases and norm
    parameters (the usual AdamW fine-tuning setup). Frozen parameters are left out."""
    decay = regularized_parameters(module, exclude_bias, exclude_norm)
    ids = {id(p) for p in decay}
    rest = [p for _, p, _ in _named(module) if p.requires_grad and id(p) not in ids]
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if rest:
        groups.append({"params": rest, "weight_decay": 0.0})
    return groups

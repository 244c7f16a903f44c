"""Adamax: Adam with the infinity norm (torch.optim.Adamax)."""

from .. import _C
from .optimizer import (
    Optimizer,
    _check_betas,
    _check_lr,
    _check_nonneg,
    _check_unsupported,
    _counter,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (Kingma & Ba), torch's formulation.

    ``m = lerp(m, g, 1 - b1)``, ``u = max(b2 u, |g| + eps)``, ``p -= lr / (1 - b1^t) * m / u``.
    State: ``step``, ``exp_avg``, ``exp_inf``.

    Args:
        params: parameters or param groups. lr (float): default 2e-3. betas (tuple): default
        (0.9, 0.999). eps (float): default 1e-8. weight_decay (float): default 0. maximize (bool).
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        capturable=False,
    ):
        _check_lr(lr)
        _check_nonneg("epsilon", eps)
        _check_betas(betas)
        _check_nonneg("weight_decay", weight_decay)
        _check_unsupported("Adamax", differentiable, capturable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def _group_setdefaults(self):
        return {**super()._group_setdefaults(), "capturable": False}

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            self._fused_update(
                group,
                "adamax",
                _init_state,
                ("exp_avg", "exp_inf"),
                beta1=float(beta1),
                beta2=float(beta2),
            )
        return loss


def _init_state(p, st):
    st["step"] = _counter()
    st["exp_avg"] = _C.zeros_like(p)
    st["exp_inf"] = _C.zeros_like(p)

"""RAdam: rectified Adam (torch.optim.RAdam)."""

from .. import _C
from .optimizer import (
    Optimizer,
    _check_betas,
    _check_lr,
    _check_nonneg,
    _check_unsupported,
    _counter,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (Liu et al.), torch's formulation.

    m, v as Adam; ``rho_t = rho_inf - 2 t b2^t / (1 - b2^t)``; when ``rho_t > 5`` the step is
    ``lr * m / (1 - b1^t) * sqrt(1 - b2^t) / (sqrt(v) + eps) * r_t`` (r_t the variance
    rectification term), else ``lr * m / (1 - b1^t)``. State: ``step``, ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: parameters or param groups. lr (float): default 1e-3. betas: default (0.9, 0.999).
        eps: default 1e-8. weight_decay: default 0. decoupled_weight_decay, maximize (bool).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        decoupled_weight_decay=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
    ):
        _check_lr(lr)
        _check_nonneg("epsilon", eps)
        _check_betas(betas)
        _check_nonneg("weight_decay", weight_decay)
        _check_unsupported("RAdam", differentiable, capturable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _group_setdefaults(self):
        return {
            **super()._group_setdefaults(),
            "capturable": False,
            "decoupled_weight_decay": False,
        }

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            self._fused_update(
                group,
                "radam",
                _init_state,
                ("exp_avg", "exp_avg_sq"),
                beta1=float(beta1),
                beta2=float(beta2),
                decoupled_weight_decay=group["decoupled_weight_decay"],
            )
        return loss


def _init_state(p, st):
    st["step"] = _counter()
    st["exp_avg"] = _C.zeros_like(p)
    st["exp_avg_sq"] = _C.zeros_like(p)

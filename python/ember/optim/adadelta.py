"""Adadelta (torch.optim.Adadelta)."""

from .. import _C
from .optimizer import Optimizer, _check_lr, _check_nonneg, _check_unsupported, _counter

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler), torch's formulation.

    ``v = rho v + (1 - rho) g^2``, ``d = sqrt(u + eps) / sqrt(v + eps) * g``,
    ``u = rho u + (1 - rho) d^2``, ``p -= lr d``. State: ``step``, ``square_avg``, ``acc_delta``.

    Args:
        params: parameters or param groups. lr (float): default 1.0. rho (float): default 0.9.
        eps (float): default 1e-6. weight_decay (float): default 0. maximize (bool).
    """

    def __init__(
        self,
        params,
        lr=1.0,
        rho=0.9,
        eps=1e-6,
        weight_decay=0,
        foreach=None,
        *,
        capturable=False,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_nonneg("epsilon", eps)
        _check_nonneg("weight_decay", weight_decay)
        _check_unsupported("Adadelta", differentiable, capturable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _group_setdefaults(self):
        return {**super()._group_setdefaults(), "capturable": False}

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            self._fused_update(
                group, "adadelta", _init_state, ("square_avg", "acc_delta"), rho=group["rho"]
            )
        return loss


def _init_state(p, st):
    st["step"] = _counter()
    st["square_avg"] = _C.zeros_like(p)
    st["acc_delta"] = _C.zeros_like(p)

"""Adagrad with lr_decay and initial_accumulator_value (torch.optim.Adagrad)."""

from .. import _C
from .optimizer import Optimizer, _check_lr, _check_nonneg, _check_unsupported, _counter

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), torch's formulation.

    ``clr = lr / (1 + (t - 1) * lr_decay)``, ``sum += g^2``, ``p -= clr * g / (sqrt(sum) + eps)``.
    State (created at construction, like torch): ``step`` (0-d float tensor), ``sum``.

    Args:
        params: parameters or param groups. lr (float): default 1e-2. lr_decay, weight_decay,
        initial_accumulator_value (float): default 0. eps (float): default 1e-10. maximize (bool).
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0,
        weight_decay=0,
        initial_accumulator_value=0,
        eps=1e-10,
        foreach=None,
        *,
        maximize=False,
        differentiable=False,
        fused=None,
    ):
        _check_lr(lr)
        _check_nonneg("lr_decay", lr_decay)
        _check_nonneg("weight_decay", weight_decay)
        _check_nonneg("initial_accumulator_value", initial_accumulator_value)
        _check_nonneg("epsilon", eps)
        _check_unsupported("Adagrad", differentiable)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, self.state[p], group["initial_accumulator_value"])

    @staticmethod
    def _init_state(p, st, init_value):
        st["step"] = _counter()
        st["sum"] = _C.full_like(p, init_value)

    def _group_setdefaults(self):
        return {**super()._group_setdefaults(), "fused": None}

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        init_value = self.defaults["initial_accumulator_value"]
        for group in self.param_groups:
            self._fused_update(
                group,
                "adagrad",
                lambda p, st: self._init_state(p, st, init_value),
                ("sum",),
                lr_decay=group["lr_decay"],
            )
        return loss

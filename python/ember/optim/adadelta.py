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
        state, zeros_like = self.state, _C.zeros_like
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            for p in params:
                st = state[p]
                if len(st) == 0:
                    st["step"] = _counter()
                    st["square_avg"] = zeros_like(p)
                    st["acc_delta"] = zeros_like(p)
            if params:
                _C._optim_steps(
                    "adadelta",
                    params,
                    [p.grad for p in params],
                    [[state[p]["square_avg"], state[p]["acc_delta"]] for p in params],
                    [state[p]["step"] for p in params],
                    [],
                    lr=float(group["lr"]),
                    rho=group["rho"],
                    eps=group["eps"],
                    weight_decay=group["weight_decay"],
                    maximize=group["maximize"],
                )
        return loss

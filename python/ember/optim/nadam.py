"""NAdam: Adam with Nesterov momentum (torch.optim.NAdam)."""

from .. import _C
from .optimizer import (
    Optimizer,
    _check_betas,
    _check_lr,
    _check_nonneg,
    _check_unsupported,
    _counter,
)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (Dozat), torch's formulation with momentum decay.

    ``mu_t = b1 (1 - 0.5 * 0.96^(t * momentum_decay))``, ``mu_product *= mu_t``; m, v as Adam;
    ``denom = sqrt(v / (1 - b2^t)) + eps``; ``p -= lr (1 - mu_t) / (1 - mu_product) g / denom +
    lr mu_{t+1} / (1 - mu_product mu_{t+1}) m / denom``. State: ``step``, ``mu_product``,
    ``exp_avg``, ``exp_avg_sq``.

    Args:
        params: parameters or param groups. lr (float): default 2e-3. betas: default (0.9, 0.999).
        eps: default 1e-8. weight_decay: default 0. momentum_decay: default 4e-3.
        decoupled_weight_decay (bool): AdamW-style decay. maximize (bool).
    """

    def __init__(
        self,
        params,
        lr=2e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        momentum_decay=4e-3,
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
        _check_nonneg("momentum_decay", momentum_decay)
        _check_unsupported("NAdam", differentiable, capturable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
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
                "nadam",
                _init_state,
                ("exp_avg", "exp_avg_sq"),
                mu_product=True,
                beta1=float(beta1),
                beta2=float(beta2),
                momentum_decay=group["momentum_decay"],
                decoupled_weight_decay=group["decoupled_weight_decay"],
            )
        return loss


def _init_state(p, st):
    st["step"] = _counter()
    st["mu_product"] = _counter(1.0)
    st["exp_avg"] = _C.zeros_like(p)
    st["exp_avg_sq"] = _C.zeros_like(p)

"""Adam (and, with decoupled_weight_decay, AdamW) with amsgrad and maximize (torch.optim.Adam)."""

from .. import _C
from .optimizer import (
    Optimizer,
    _check_betas,
    _check_lr,
    _check_nonneg,
    _check_unsupported,
    _counter,
)

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam, torch's formulation (Kingma & Ba; amsgrad from Reddi et al.).

    ``m = lerp(m, g, 1 - b1)``, ``v = b2 v + (1 - b2) g^2`` (``vmax = max(vmax, v)``),
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``. Weight decay is L2 (added
    to the gradient) unless ``decoupled_weight_decay`` (AdamW: ``p *= 1 - lr * weight_decay``).
    State: ``step`` (0-d float tensor), ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).

    Args:
        params: parameters or param groups. lr (float): default 1e-3. betas (tuple): default
        (0.9, 0.999). eps (float): default 1e-8. weight_decay (float): default 0.
        amsgrad, maximize, decoupled_weight_decay (bool): default False.
    """

    _name = "Adam"

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        *,
        foreach=None,
        maximize=False,
        capturable=False,
        differentiable=False,
        fused=None,
        decoupled_weight_decay=False,
    ):
        _check_lr(lr)
        _check_nonneg("epsilon", eps)
        _check_betas(betas)
        _check_nonneg("weight_decay", weight_decay)
        _check_unsupported(self._name, differentiable, capturable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _group_setdefaults(self):
        return {
            **super()._group_setdefaults(),
            "amsgrad": False,
            "capturable": False,
            "fused": None,
            "decoupled_weight_decay": self.defaults.get("decoupled_weight_decay", False),
        }

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            amsgrad = group["amsgrad"]

            def init(p, st, amsgrad=amsgrad):
                st["step"] = _counter()
                st["exp_avg"] = _C.zeros_like(p)
                st["exp_avg_sq"] = _C.zeros_like(p)
                if amsgrad:
                    st["max_exp_avg_sq"] = _C.zeros_like(p)

            self._fused_update(
                group,
                "adam",
                init,
                ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
                beta1=float(beta1),
                beta2=float(beta2),
                amsgrad=amsgrad,
                decoupled_weight_decay=group["decoupled_weight_decay"],
            )
        return loss

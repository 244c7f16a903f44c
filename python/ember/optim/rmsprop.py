"""RMSprop with momentum and centering (torch.optim.RMSprop)."""

from .. import _C
from .optimizer import Optimizer, _check_lr, _check_nonneg, _check_unsupported, _counter

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton), torch's formulation.

    ``v = alpha v + (1 - alpha) g^2``; centered: ``ga = lerp(ga, g, 1 - alpha)``, ``avg =
    sqrt(v - ga^2) + eps``, else ``avg = sqrt(v) + eps``; with momentum ``buf = momentum buf +
    g / avg``, ``p -= lr buf``, else ``p -= lr g / avg``. State: ``step``, ``square_avg``,
    ``momentum_buffer`` (momentum > 0), ``grad_avg`` (centered).

    Args:
        params: parameters or param groups. lr (float): default 1e-2. alpha (float): default 0.99.
        eps (float): default 1e-8. weight_decay, momentum (float): default 0. centered, maximize.
    """

    def __init__(
        self,
        params,
        lr=1e-2,
        alpha=0.99,
        eps=1e-8,
        weight_decay=0,
        momentum=0,
        centered=False,
        capturable=False,
        foreach=None,
        maximize=False,
        differentiable=False,
    ):
        _check_lr(lr)
        _check_nonneg("epsilon", eps)
        _check_nonneg("momentum", momentum)
        _check_nonneg("weight_decay", weight_decay)
        _check_nonneg("alpha", alpha)
        _check_unsupported("RMSprop", differentiable, capturable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def _group_setdefaults(self):
        return {
            **super()._group_setdefaults(),
            "momentum": 0,
            "centered": False,
            "capturable": False,
        }

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            momentum, centered = group["momentum"], group["centered"]

            def init(p, st, momentum=momentum, centered=centered):
                st["step"] = _counter()
                st["square_avg"] = _C.zeros_like(p)
                if momentum > 0:
                    st["momentum_buffer"] = _C.zeros_like(p)
                if centered:
                    st["grad_avg"] = _C.zeros_like(p)

            self._fused_update(
                group,
                "rmsprop",
                init,
                ("square_avg", "grad_avg", "momentum_buffer"),
                alpha=group["alpha"],
                momentum=momentum,
                centered=centered,
            )
        return loss

"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize (torch.optim.SGD)."""

from .. import _C
from .optimizer import Optimizer, _check_lr, _check_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, torch's formulation.

    ``g = grad + weight_decay * p``; with momentum ``buf = momentum * buf + (1 - dampening) * g``
    (``buf = g`` on the first step) and ``g = g + momentum * buf`` (nesterov) or ``g = buf``;
    then ``p -= lr * g``. State: ``momentum_buffer`` (only when momentum != 0).

    Args:
        params: parameters or param groups. lr (float): learning rate (default 1e-3).
        momentum, dampening, weight_decay (float): default 0. nesterov (bool): default False.
        maximize (bool): ascend instead of descend. foreach, fused: accepted for torch
        compatibility (ember's step is always one fused kernel per parameter).
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        momentum=0,
        dampening=0,
        weight_decay=0,
        nesterov=False,
        *,
        maximize=False,
        foreach=None,
        differentiable=False,
        fused=None,
    ):
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_unsupported("SGD", differentiable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def _group_setdefaults(self):
        return {**super()._group_setdefaults(), "nesterov": False, "fused": False}

    def step(self, closure=None):
        """One optimization step; ``closure`` re-evaluates the model and returns the loss."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            # the momentum buffers are read from and (on a parameter's first step) stored into
            # self.state[p]["momentum_buffer"]; without momentum the state is not touched
            _C._optim_group(
                "sgd",
                group["params"],
                self.state,
                ("momentum_buffer" if group["momentum"] != 0 else None,),
                (),
                False,
                lr=float(group["lr"]),
                momentum=group["momentum"],
                dampening=group["dampening"],
                weight_decay=group["weight_decay"],
                nesterov=group["nesterov"],
                maximize=group["maximize"],
            )
        return loss

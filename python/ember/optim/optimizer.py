"""Optimizer: the base class of ember.optim, with torch.optim.Optimizer's behaviour.

Param groups are plain mutable dicts (``group['lr'] = 0.1`` takes effect at the next step);
``state`` maps each parameter to a dict of tensors under torch's keys; ``state_dict()`` replaces
parameters by integer ids exactly as torch does, so a dict converted from torch loads here.
Each subclass's ``step`` calls one fused C++ kernel per parameter (``ember._C._<name>_step``).
Sparse gradients do not exist in ember, so no optimizer has a sparse path.
"""

from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from copy import deepcopy
from itertools import chain

from .. import _C
from .._C import Tensor
from ._hooks import (  # noqa: F401  (re-exported)
    _no_grad_step,
    _RemovableHandle,
    register_optimizer_step_post_hook,
    register_optimizer_step_pre_hook,
)

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Singleton marking a hyperparameter that each param group must give."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()

_COUNTER_KEYS = ("step", "mu_product")  # 0-d float tensors in torch's state


def _typename(o):
    """torch.typename: the qualified name of a tensor's or object's type ('float', "
    "'ember.Tensor')."""
    module = type(o).__module__
    return type(o).__qualname__ if module == "builtins" else module + "." + type(o).__qualname__


def _scalar_dtype():
    """torch's _get_scalar_dtype: the dtype of the 0-d 'step' counters."""
    d = _C.get_default_dtype()
    return d if d == _C.dtype.float64 else _C.dtype.float32


def _counter(value=0.0):
    return _C.full((), float(value), dtype=_scalar_dtype())


def _check_lr(lr):
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_betas(betas):
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")


def _check_nonneg(name, value):
    if not 0.0 <= value:
        raise ValueError(f"Invalid {name} value: {value}")


def _check_unsupported(name, differentiable=False, capturable=False):
    if differentiable:
        raise NotImplementedError(f"{name}: differentiable=True is not supported by ember")
    if capturable:
        raise NotImplementedError(
            f"{name}: capturable=True (CUDA graphs) is not supported by ember"
        )


def _to_ember(value):
    """A torch (or other array-like) tensor in a converted state dict becomes an ember copy."""
    if isinstance(value, Tensor) or not hasattr(value, "numpy"):
        return value
    import numpy as np

    return _C.from_numpy(np.array(value.detach().cpu().numpy(), copy=True))


class Optimizer:
    """Base class for all optimizers.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (param groups).
        defaults (dict): default hyperparameters for groups that do not give them.
    """

    _in_step = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_ember_hooked", False):
            cls.step = _no_grad_step(step)

    def __init__(self, params, defaults):
        self.defaults = defaults
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or dicts, "
                "but got " + _typename(params)
            )
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)
        if "_optimizer_step_pre_hooks" not in self.__dict__:
            self._optimizer_step_pre_hooks = OrderedDict()
            self._optimizer_step_post_hooks = OrderedDict()
        for group in self.param_groups:
            for key, value in self._group_setdefaults().items():
                group.setdefault(key, value)

    def _group_setdefaults(self):
        """Keys that older or foreign state dicts may lack, with their defaults (per subclass)."""
        return {"maximize": False, "foreach": None, "differentiable": False}

    def __repr__(self):
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"

    # --- hooks ----------------------------------------------------------------------------------
    def register_step_pre_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None or (new_args, new_kwargs)`` before each step."""
        handle = _RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook):
        """``hook(optimizer, args, kwargs) -> None`` after each step."""
        handle = _RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    # --- state_dict -----------------------------------------------------------------------------
    def state_dict(self):
        """``{'state': {id: {key: tensor}}, 'param_groups': [{..., 'params': [ids]}]}`` (torch's
        format). The state tensors are the optimizer's own (not copies), as in torch."""
        param_mappings = {}
        start_index = 0

        def pack_group(group):
            nonlocal start_index
            packed = {k: v for k, v in group.items() if k != "params"}
            param_mappings.update(
                {
                    id(p): i
                    for i, p in enumerate(group["params"], start_index)
                    if id(p) not in param_mappings
                }
            )
            packed["params"] = [param_mappings[id(p)] for p in group["params"]]
            start_index += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {
            (param_mappings[id(k)] if isinstance(k, Tensor) else k): v
            for k, v in self.state.items()
        }
        return {"state": packed_state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Load a dict from ``state_dict()`` (or a torch state dict with tensors converted)."""
        state_dict = state_dict.copy()
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError(
                "loaded state dict contains a parameter group that doesn't match the size of "
                "optimizer's group"
            )
        id_map = dict(
            zip(
                chain.from_iterable(g["params"] for g in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )

        def cast(param, value, key=None):
            if (
                isinstance(value, Tensor)
                or hasattr(value, "numpy")
                and not isinstance(value, (int, float))
            ):
                value = _to_ember(value)
                if key in _COUNTER_KEYS:
                    return value
                if param.is_floating_point() and value.dtype != param.dtype:
                    return value.to(dtype=param.dtype)
                return value
            if isinstance(value, dict):
                out = {k: cast(param, v, key=k) for k, v in value.items()}
                for k in _COUNTER_KEYS:  # a step saved as a number becomes torch's 0-d tensor
                    if k in out and isinstance(out[k], (int, float)):
                        out[k] = _counter(out[k])
                return out
            if isinstance(value, Iterable) and not isinstance(value, str):
                return type(value)(cast(param, v) for v in value)
            return value

        state = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = cast(param, v)
            else:
                state[k] = v

        def update_group(group, new_group):
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})

    # --- gradients and groups -------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all optimized tensors (to None by default, like torch)."""
        if set_to_none:
            for group in self.param_groups:
                _C._grads_to_none(group["params"])
            return
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    def step(self, closure=None):
        """Perform a single optimization step (subclasses implement it)."""
        raise NotImplementedError

    def _fused_update(self, group, kind, init, keys, mu_product=False, **hyper):
        """Update the group's parameters that have gradients in one fused C++ pass
        (``_C._optim_group``, which reads the gradients and ``self.state[p]`` itself). A parameter
        without state gets ``init(p, state)`` first; ``keys`` name its state tensors in the kernel's
        order (an absent one passes None). Every kind but SGD keeps a "step" counter, NAdam also
        "mu_product"; lr, eps, weight_decay and maximize come from the group, the kind's own
        hyperparameters from ``hyper``."""
        args = (kind, group["params"], self.state, keys,
                ("step", "mu_product") if mu_product else ("step",), True)
        kw = dict(lr=float(group["lr"]), eps=group["eps"], weight_decay=group["weight_decay"],
                  maximize=group["maximize"], **hyper)
        fresh = _C._optim_group(*args, **kw)
        if fresh is not None:  # the first step of some parameters: nothing was updated yet
            for p in fresh:
                init(p, self.state[p])
            _C._optim_group(*args, **kw)

    @staticmethod
    def _eval_closure(closure):
        if closure is None:
            return None
        prev = _C.is_grad_enabled()
        _C._set_grad_enabled(True)
        try:
            return closure()
        finally:
            _C._set_grad_enabled(prev)

    def add_param_group(self, param_group):
        """Add a param group (a dict with 'params' and optional hyperparameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of "
                "tensors in sets will change between runs. Please use a list instead."
            )
        else:
            param_group["params"] = list(params)

        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names

        for param in param_group["params"]:
            if not isinstance(param, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    + _typename(param)
                )
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization parameter "
                    f"{name}"
                )
            param_group.setdefault(name, default)

        params = param_group["params"]
        if len(params) != len({id(p) for p in params}):
            import warnings

            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, this "
                "will "
                "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                stacklevel=3,
            )

        param_set = set()
        for group in self.param_groups:
            param_set.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                current = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {current} to the optimizer"
                )
        if not param_set.isdisjoint(id(p) for p in param_group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

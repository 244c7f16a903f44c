"""ember.autograd.Function: custom differentiable operations written in Python, torch's API.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    Exp.apply(x)

forward runs without recording a graph; its output tensors are then attached to one graph node
(C++, bindings/function.cpp) that calls backward with one gradient per output and expects one
gradient (or None) per forward argument. torch's newer style, a forward without ctx plus a
setup_context(ctx, inputs, output), works too. Gradients returned for a broadcast shape are summed
to the argument's shape; tensors saved with save_for_backward and modified in place afterwards
raise instead of giving a wrong gradient.
"""
from .. import _C
from .grad_mode import no_grad

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """The ctx passed to forward / setup_context and backward."""

    def __init__(self):
        self.needs_input_grad = ()
        self.materialize_grads = True
        self._saved = None
        self._non_diff = set()

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, _C.Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self._saved = tuple((t, None if t is None else t._version) for t in tensors)

    @property
    def saved_tensors(self):
        if self._saved is None:
            return ()
        for i, (t, v) in enumerate(self._saved):
            if t is not None and t._version != v:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: saved tensor {i} of shape {list(t.shape)} is at version "
                    f"{t._version}; expected version {v} instead.")
        return tuple(t for t, _ in self._saved)

    def mark_non_differentiable(self, *tensors):
        self._non_diff.update(id(t) for t in tensors)

    def set_materialize_grads(self, value):
        self.materialize_grads = bool(value)

    def mark_dirty(self, *tensors):  # in-place forwards: accepted (the outputs are recorded anew)
        pass


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        cls._backward_name = f"{name}Backward"


class Function(metaclass=_FunctionMeta):
    """Subclass with static forward(ctx, *args) and backward(ctx, *grads); call Cls.apply(*args)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your "
                                  "custom autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not defined: forward takes ctx")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = FunctionCtx()
        ctx.needs_input_grad = tuple(isinstance(a, _C.Tensor) and a.requires_grad for a in args)
        with no_grad():
            if cls.setup_context is not Function.setup_context:
                out = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(out, tuple)
        outs = (out,) if single else out
        if not (_C.is_grad_enabled() and any(ctx.needs_input_grad)):
            return out
        # tensors among the outputs get the node; an argument returned as is becomes an alias
        arg_ids = {id(a) for a in args if isinstance(a, _C.Tensor)}
        pos = [i for i, o in enumerate(outs) if isinstance(o, _C.Tensor)]
        tens = [outs[i].detach() if id(outs[i]) in arg_ids else outs[i] for i in pos]
        non_diff = [id(outs[i]) in ctx._non_diff for i in pos]

        def backward(*grads):
            return cls.backward(ctx, *grads)

        recorded = _C._function_record(cls._backward_name, backward,
                                       [a if isinstance(a, _C.Tensor) else None for a in args],
                                       tens, ctx.materialize_grads, non_diff)
        outs = list(outs)
        for i, t in zip(pos, recorded):
            outs[i] = t
        return outs[0] if single else tuple(outs)


class once_differentiable:  # torch's decorator name
    """torch.autograd.function.once_differentiable: here a pass-through (backward runs as
    written; with create_graph its ops are recorded like any others)."""

    def __new__(cls, fn):
        return fn

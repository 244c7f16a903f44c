"""ember.autograd: backward, grad, grad modes, gradcheck and custom Functions."""
from .. import _C
from .grad_mode import no_grad, enable_grad, set_grad_enabled, inference_mode  # noqa: F401
from .function import Function, FunctionCtx  # noqa: F401
from . import function  # noqa: F401


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaves) into the leaves' ``.grad``."""
    tensors = [tensors] if isinstance(tensors, _C.Tensor) else list(tensors)
    if grad_tensors is None:
        grad_tensors = [None] * len(tensors)
    elif isinstance(grad_tensors, _C.Tensor):
        grad_tensors = [grad_tensors]
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, _C.Tensor) else list(inputs)
    _C._backward(tensors, list(grad_tensors), bool(retain_graph), bool(create_graph), inputs or [])


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False, is_grads_batched=False, materialize_grads=False):
    """Return d(outputs)/d(inputs) as a tuple, without touching ``.grad``."""
    if is_grads_batched:
        raise NotImplementedError("grad: is_grads_batched=True is not supported")
    outputs = [outputs] if isinstance(outputs, _C.Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, _C.Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, _C.Tensor):
        grad_outputs = [grad_outputs]
    if retain_graph is None:
        retain_graph = create_graph
    res = _C._grad(outputs, inputs, list(grad_outputs), bool(retain_graph), bool(create_graph),
                   bool(allow_unused or materialize_grads))
    if materialize_grads:
        from .. import zeros_like
        res = tuple(zeros_like(i) if r is None else r for r, i in zip(res, inputs))
    return res


from .gradcheck import gradcheck, GradcheckError  # noqa: E402,F401

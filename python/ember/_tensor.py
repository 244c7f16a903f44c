"""Python-level Tensor methods: conversions (`to`, `float`, ...), `backward`, `repr`.

Everything heavy is in C++; these are thin adapters from torch's flexible signatures.
"""
import builtins

from . import _C

Tensor = _C.Tensor


def _parse_to(args, kwargs):
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    copy = kwargs.pop("copy", False)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, _C.dtype):
            dtype = a
        elif isinstance(a, (str, _C.device)):
            device = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        else:
            raise TypeError(f"to() received an invalid argument {a!r}: expected a dtype, device or Tensor")
    return dtype, device, copy


def _to(self, *args, **kwargs):
    dtype, device, copy = _parse_to(args, dict(kwargs))
    t = self
    if device is not None:
        t = t._to_device(device, copy)
        copy = False
    if dtype is not None:
        t = t._to_dtype(dtype, copy)
    elif copy:
        t = t.clone()
    return t


def _backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    if gradient is not None and not isinstance(gradient, Tensor):
        got = type(gradient).__name__
        raise TypeError(f"backward: gradients can be either Tensors or None, but got {got}")
    if inputs is None and not create_graph and not retain_graph:
        _C._backward_one(self, gradient)
        return
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        if not inputs:
            raise RuntimeError("backward: 'inputs' argument to backward() cannot be empty.")
    _C._backward([self], [gradient], builtins.bool(retain_graph), builtins.bool(create_graph), inputs or [])


def _type_conv(dt):
    def conv(self, memory_format=None):
        return self._to_dtype(dt)

    return conv


Tensor.to = _to
Tensor.backward = _backward
Tensor.float = _type_conv(_C.dtype.float32)
Tensor.double = _type_conv(_C.dtype.float64)
Tensor.long = _type_conv(_C.dtype.int64)
Tensor.int = _type_conv(_C.dtype.int32)
Tensor.bool = _type_conv(_C.dtype.bool)
Tensor.byte = _type_conv(_C.dtype.uint8)
Tensor.cpu = lambda self: self._to_device("cpu")
Tensor.type_as = lambda self, other: self._to_dtype(other.dtype)
Tensor.__array_priority__ = 1000  # numpy defers to Tensor's reflected operators


class RemovableHandle:
    """Returned by register_hook; ``remove()`` unregisters the hook."""

    def __init__(self, tensor, hook_id):
        self._tensor, self._id = tensor, hook_id

    def remove(self):
        if self._tensor is not None:
            self._tensor._remove_hook(self._id)
            self._tensor = None


def _register_hook(self, hook):
    """Register ``hook(grad) -> Tensor or None`` called with this tensor's gradient in backward."""
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    return RemovableHandle(self, self._register_hook(hook))


Tensor.register_hook = _register_hook
# --- interop branch: printing, .cuda() ----------------------------------------------------------
from . import _tensor_str  # noqa: E402

Tensor.__repr__ = _tensor_str._str
Tensor.__str__ = _tensor_str._str
Tensor.__format__ = _tensor_str._format


def _cuda(self, device=None, non_blocking=False):
    if device is None or isinstance(device, builtins.int):
        device = "cuda" if device is None else f"cuda:{device}"
    return self._to_device(device)  # raises: ember was built without CUDA


Tensor.cuda = _cuda


def _new_like(fn):
    def new(self, *size, dtype=None, device=None, requires_grad=False):
        return fn(*size, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)

    new.__doc__ = f"A new tensor like ember.{fn.__name__}, with self's dtype and device by default."
    return new


Tensor.new_zeros = _new_like(_C.zeros)
Tensor.new_ones = _new_like(_C.ones)
Tensor.new_empty = _new_like(_C.empty)


def _new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
    return _C.full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                   requires_grad=requires_grad)


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    return _C.tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                     requires_grad=requires_grad)


Tensor.new_full = _new_full
Tensor.new_tensor = _new_tensor
# --- end interop branch ---------------------------------------------------------------------------


# --- copying and pickling (for worker processes and copy.deepcopy; files use ember.save) ---------
def _rebuild_tensor(array, requires_grad):
    t = _C.from_numpy(array)
    return t.requires_grad_(True) if requires_grad else t


def _reduce_ex(self, proto):
    return (_rebuild_tensor, (self.detach().numpy().copy(), self.requires_grad and self.is_leaf))


def _deepcopy(self, memo):
    if id(self) in memo:
        return memo[id(self)]
    new = self.detach().clone()
    if self.requires_grad and self.is_leaf:
        new.requires_grad_(True)
    if self.grad is not None:
        new.grad = self.grad.detach().clone()
    memo[id(self)] = new
    return new


Tensor.__reduce_ex__ = _reduce_ex
Tensor.__deepcopy__ = _deepcopy

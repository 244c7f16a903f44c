"""nn.Parameter: a Tensor that a Module registers as a learnable parameter."""
from .. import _C


class Parameter(_C.Tensor):
    """A tensor that, assigned as a Module attribute, is registered in ``parameters()``.

    Shares memory with ``data`` (like torch) and requires grad by default.
    """

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = _C.empty(0)
        if not isinstance(data, _C.Tensor):
            raise TypeError(f"Parameter: expected a Tensor as data, got {type(data).__name__}")
        super().__init__(data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = Parameter(self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, proto):
        return (_rebuild_parameter, (self.detach().numpy().copy(), self.requires_grad))


def _rebuild_parameter(array, requires_grad):
    return Parameter(_C.from_numpy(array), requires_grad)


class Buffer:
    """Marks a tensor assigned to a Module attribute as a buffer (torch.nn.Buffer)."""

    def __init__(self, data, persistent=True):
        self.data, self.persistent = data, persistent

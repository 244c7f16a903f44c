"""parameters_to_vector / vector_to_parameters (torch.nn.utils's)."""

from ..._C import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_param_device(param, old_device):
    if old_device is None:
        return param.device
    if param.device != old_device:
        raise TypeError(
            "Found two parameters on different devices, this is currently not supported."
        )
    return old_device


def parameters_to_vector(parameters):
    """Flatten an iterable of parameters into one 1-D tensor (differentiable, a new tensor)."""
    from ... import cat

    device, vec = None, []
    for param in parameters:
        device = _check_param_device(param, device)
        vec.append(param.view(-1))
    return cat(vec)


def vector_to_parameters(vec, parameters):
    """Make each parameter's data the next ``numel`` elements of ``vec`` (a view, as in torch)."""
    if not isinstance(vec, Tensor):
        raise TypeError(
            f"expected torch.Tensor, but got: {type(vec).__module__}.{type(vec).__qualname__}"
        )
    device, pointer = None, 0
    for param in parameters:
        device = _check_param_device(param, device)
        num_param = param.numel()
        param.data = vec[pointer : pointer + num_param].view_as(param).data
        pointer += num_param

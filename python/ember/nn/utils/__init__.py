"""ember.nn.utils: gradient clipping, parameter/vector conversion, regularisation helpers."""
from .clip_grad import (
    clip_grad_norm,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .regularization import l1_penalty, l2_penalty, regularized_parameters, weight_decay_groups

__all__ = [
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
    "l1_penalty",
    "l2_penalty",
    "parameters_to_vector",
    "regularized_parameters",
    "vector_to_parameters",
    "weight_decay_groups",
]

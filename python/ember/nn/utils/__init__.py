"""ember.nn.utils: gradient clipping, parameter/vector conversion, regularisation helpers."""
from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,  # noqa: F401
                        clip_grads_with_norm_, get_total_norm)
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .regularization import (l1_penalty, l2_penalty, regularized_parameters,  # noqa: F401
                             weight_decay_groups)

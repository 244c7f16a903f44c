"""Ember: a small, fast deep-learning framework with a PyTorch-like API.

The C++ core (tensors, autograd, kernels) is the extension ``ember._C``; this package re-exports
it under torch's names and adds the Python-level pieces (``nn``, ``optim``, ``utils.data``...).
"""
from . import _C
from ._C import (  # noqa: F401  (re-exports)
    Tensor,
    device,
    dtype,
    get_default_dtype,
    set_default_dtype,
    get_num_threads,
    set_num_threads,
    set_flush_denormal,
    is_grad_enabled,
    promote_types,
    result_type,
    from_numpy,
)
from ._size import Size
from . import _tensor  # noqa: F401  (adds Python-level Tensor methods)
from ._functions import *  # noqa: F401,F403
from ._einsum import einsum  # noqa: F401
from ._cdist import cdist  # noqa: F401
from ._composite import *  # noqa: F401,F403
from .autograd.grad_mode import no_grad, enable_grad, set_grad_enabled, inference_mode  # noqa: F401
from . import autograd  # noqa: F401
from . import return_types  # noqa: F401
from . import nn  # noqa: F401,E402
from . import cuda, random  # noqa: F401,E402  (interop branch)
from . import utils  # noqa: F401,E402
from . import datasets  # noqa: F401,E402
from .serialization import save, load  # noqa: F401,E402
from . import optim  # noqa: F401,E402  (issue 4)
from . import train  # noqa: F401,E402

bool = dtype.bool  # noqa: A001  (torch's names shadow builtins in the ember namespace)
uint8 = dtype.uint8
int32 = dtype.int32
int64 = dtype.int64
float32 = dtype.float32
float64 = dtype.float64
int = int64  # noqa: A001
long = int64
float = float32  # noqa: A001
double = float64
__version__ = "0.1.0"

_C._set_size_class(Size)

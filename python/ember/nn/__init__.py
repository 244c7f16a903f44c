"""ember.nn: modules, layers, losses, initialisation (torch.nn's names, layouts and state_dict keys)."""
from .parameter import Parameter, Buffer  # noqa: F401
from .modules import *  # noqa: F401,F403
from . import functional, init  # noqa: F401
from . import utils  # noqa: F401,E402  (issue 4: clipping, conversion, regularisation)

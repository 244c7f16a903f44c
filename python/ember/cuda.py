"""ember.cuda: importable everywhere so device-agnostic code runs; this build has no CUDA.

``is_available()`` is False and ``device_count()`` is 0; seeding is a no-op (as in torch without a
GPU); anything that needs a device raises "ember was built without CUDA".
"""


def _no_cuda(what):
    raise RuntimeError(f"{what}: ember was built without CUDA")


def is_available():
    """False: this build of ember has no CUDA backend."""
    return False


def device_count():
    """The number of CUDA devices: 0."""
    return 0


def manual_seed(seed):
    """Seed the current GPU's generator: nothing to seed without CUDA (ignored, like torch)."""


def manual_seed_all(seed):
    """Seed every GPU's generator: nothing to seed without CUDA (ignored, like torch)."""


def current_device():
    _no_cuda("current_device")


def set_device(device):
    _no_cuda("set_device")


def synchronize(device=None):
    _no_cuda("synchronize")

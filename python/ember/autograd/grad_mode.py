"""Grad-mode switches: no_grad, enable_grad, set_grad_enabled (context managers and decorators)."""
import functools

from .. import _C


class _GradModeBase:
    _mode = True

    def __enter__(self):
        self._prev = _C.is_grad_enabled()
        _C._set_grad_enabled(self._mode)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeBase):
    """Disable gradient recording inside the block (or the decorated function)."""

    _mode = False


class enable_grad(_GradModeBase):
    """Enable gradient recording inside the block, even within ``no_grad``."""

    _mode = True


class inference_mode(_GradModeBase):
    """Like ``no_grad`` (Ember has no separate inference tensors)."""

    _mode = False

    def __init__(self, mode=True):
        self._mode = not mode


class set_grad_enabled(_GradModeBase):
    """Set grad mode on or off; acts immediately, and as a context manager restores it on exit."""

    def __init__(self, mode):
        self._prev = _C.is_grad_enabled()
        self._mode = bool(mode)
        _C._set_grad_enabled(self._mode)

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _C._set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        mode = self._mode
        _C._set_grad_enabled(self._prev)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper

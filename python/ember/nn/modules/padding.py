"""Padding layers: F.pad as modules (torch's ReflectionPad, ReplicationPad, CircularPad,
ConstantPad and ZeroPad, 1-d to 3-d; an int pads every side by it)."""

from .. import functional as F
from .module import Module


def _sides(padding, n):
    if isinstance(padding, int):
        return (padding,) * (2 * n)
    padding = tuple(padding)
    if len(padding) != 2 * n:
        raise ValueError(f"expected padding of {2 * n} values (or an int), got {padding}")
    return padding


class _ModePadNd(Module):
    _mode, _n = "reflect", 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _sides(padding, self._n)

    def forward(self, input):
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(Module):
    _n = 1

    def __init__(self, padding, value):
        super().__init__()
        self.padding = _sides(padding, self._n)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


def _mode_pad(name, mode, n):
    return type(name, (_ModePadNd,), {"_mode": mode, "_n": n, "__module__": __name__,
                                      "__doc__": f"F.pad(input, padding, '{mode}') on the last {n} "
                                                 f"dim(s)"})


ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = (
    _mode_pad(f"ReflectionPad{n}d", "reflect", n) for n in (1, 2, 3))
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = (
    _mode_pad(f"ReplicationPad{n}d", "replicate", n) for n in (1, 2, 3))
CircularPad1d, CircularPad2d, CircularPad3d = (
    _mode_pad(f"CircularPad{n}d", "circular", n) for n in (1, 2, 3))


class ConstantPad1d(_ConstantPadNd):
    _n = 1


class ConstantPad2d(_ConstantPadNd):
    _n = 2


class ConstantPad3d(_ConstantPadNd):
    _n = 3


class ZeroPad1d(ConstantPad1d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad2d(ConstantPad2d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad3d(ConstantPad3d):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self):
        return f"{self.padding}"

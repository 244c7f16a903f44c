"""Named tuples returned by ops with several outputs (torch.return_types): ``values, indices =
x.max(0)`` and ``x.max(0).values`` both work."""
from collections import namedtuple


def _make(name, fields):
    cls = namedtuple(name, fields)
    cls.__module__ = "ember.return_types"
    return cls


max = _make("max", ["values", "indices"])  # noqa: A001  (torch's names)
min = _make("min", ["values", "indices"])  # noqa: A001
sort = _make("sort", ["values", "indices"])
topk = _make("topk", ["values", "indices"])
aminmax = _make("aminmax", ["min", "max"])
median = _make("median", ["values", "indices"])
kthvalue = _make("kthvalue", ["values", "indices"])

"""default_collate / default_convert: stack samples into batches like torch."""
import collections.abc
import numbers

import numpy as np

from ... import _C


def default_convert(data):
    """numpy arrays -> tensors, recursively; everything else unchanged."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return _C.as_tensor(data)
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()}) if not isinstance(data, dict) \
            else {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(default_convert(d) for d in data)
    return data


def default_collate(batch):
    """Stack a list of samples: tensors -> stacked tensor, numbers -> tensor, numpy -> tensor,
    and tuples / dicts / namedtuples collated field by field."""
    if not batch:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, _C.Tensor):
        return _C.stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: numpy arrays of dtype {elem.dtype} are not supported")
        return _C.from_numpy(np.stack(batch))
    if isinstance(elem, np.generic):
        return _C.tensor(np.array(batch))
    if isinstance(elem, bool):
        return _C.tensor(batch, dtype=_C.dtype.bool)
    if isinstance(elem, float):
        return _C.tensor(batch, dtype=_C.dtype.float64)
    if isinstance(elem, numbers.Integral):
        return _C.tensor(batch, dtype=_C.dtype.int64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        collated = [default_collate(samples) for samples in transposed]
        return tuple(collated) if isinstance(elem, tuple) else collated
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")

"""ember.save / ember.load: tensors and nested containers in the safetensors format.

A file is a plain safetensors file: tensor data plus a JSON header. Ember stores the structure
of the saved object (dicts, lists, tuples, numbers, strings, None) as JSON in the header's
``__metadata__`` under "ember", with tensors referenced by key. A flat ``{str: Tensor}`` dict (a
state_dict) keeps its own keys, so the safetensors library reads Ember's files and Ember reads
files written by safetensors. Nothing is pickled: loading an untrusted file cannot run code.

Writes are atomic: a temporary file in the same directory is written, flushed and fsynced, then
renamed over the target, so a crash mid-save never leaves a corrupt file where a good one was.
"""
import json
import math
import os
import struct
import tempfile

import numpy as np

from . import _C

_DTYPES = {  # ember dtype name -> (safetensors code, numpy dtype)
    "float32": ("F32", np.float32), "float64": ("F64", np.float64), "int64": ("I64", np.int64),
    "int32": ("I32", np.int32), "uint8": ("U8", np.uint8), "bool": ("BOOL", np.bool_),
}
_FROM_CODE = {code: np.dtype(npd) for code, npd in _DTYPES.values()}
_FROM_CODE.update({"F16": None, "BF16": None, "I16": np.dtype(np.int16), "I8": np.dtype(np.int8),
                   "U16": None, "U32": None, "U64": None})
_MAX_HEADER = 100 * 1024 * 1024
_FORMAT = "ember/1"


class _Encoder:
    def __init__(self):
        self.tensors = {}  # key -> Tensor

    def add(self, t, key):
        if key in self.tensors and self.tensors[key] is not t:
            key = f"{key}#{len(self.tensors)}"
        self.tensors[key] = t
        return key

    def encode(self, obj, path):
        if isinstance(obj, _C.Tensor):
            return {"__tensor__": self.add(obj, path or "tensor")}
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"__float__": repr(obj)}
        if isinstance(obj, (np.integer, np.floating, np.bool_)):
            return self.encode(obj.item(), path)
        if isinstance(obj, np.ndarray):
            return {"__ndarray__": self.add(_C.from_numpy(np.array(obj, order="C")), path or "array")}
        if isinstance(obj, dict):
            if all(isinstance(k, str) for k in obj):
                return {"__dict__": {k: self.encode(v, f"{path}.{k}" if path else k) for k, v in obj.items()}}
            items = []
            for k, v in obj.items():
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    raise TypeError(f"ember.save: dict keys must be str, int, float, bool or None, got "
                                    f"{type(k).__name__}")
                items.append([self.encode(k, ""), self.encode(v, f"{path}.{k}" if path else str(k))])
            return {"__items__": items}
        if isinstance(obj, (list, tuple)):
            enc = [self.encode(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(obj)]
            return {"__tuple__": enc} if isinstance(obj, tuple) else enc
        raise TypeError(f"ember.save: cannot save an object of type {type(obj).__name__}; supported: tensors, "
                        "numpy arrays, dicts, lists, tuples, numbers, strings and None")


def _decode(node, tensors, path):
    if isinstance(node, list):
        return [_decode(v, tensors, path) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) != 1:
        raise ValueError(f"ember.load: {path}: malformed structure entry {list(node)[:3]}")
    (tag, val), = node.items()
    if tag in ("__tensor__", "__ndarray__"):
        if val not in tensors:
            raise ValueError(f"ember.load: {path}: the structure refers to tensor {val!r}, which the file lacks")
        return tensors[val] if tag == "__tensor__" else tensors[val].numpy()
    if tag == "__float__":
        return float(val)
    if tag == "__tuple__":
        return tuple(_decode(v, tensors, path) for v in val)
    if tag == "__dict__":
        return {k: _decode(v, tensors, path) for k, v in val.items()}
    if tag == "__items__":
        return {_decode(k, tensors, path): _decode(v, tensors, path) for k, v in val}
    raise ValueError(f"ember.load: {path}: unknown structure tag {tag!r}")


def _atomic_write(path, chunks):
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + "-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename durable
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def save(obj, f):
    """Save a tensor, a state_dict, or nested dicts/lists/tuples of tensors and plain values to the
    file ``f`` (a path), atomically, in the safetensors format."""
    if not isinstance(f, (str, bytes, os.PathLike)):
        raise TypeError(f"ember.save: expected a file path, got {type(f).__name__}")
    enc = _Encoder()
    flat = isinstance(obj, dict) and all(isinstance(k, str) for k in obj) and \
        all(isinstance(v, _C.Tensor) for v in obj.values())
    if flat:
        for k, v in obj.items():
            enc.tensors[k] = v
        structure = {"__dict__": {k: {"__tensor__": k} for k in obj}}
    else:
        structure = enc.encode(obj, "")
    header, arrays, offset = {}, [], 0
    for key, t in enc.tensors.items():
        if t.dtype not in _dtype_objs():
            raise TypeError(f"ember.save: unsupported dtype {t.dtype} for tensor {key!r}")
        a = np.array(t.detach().cpu().numpy(), order="C", copy=None)
        code = _DTYPES[str(t.dtype).split(".")[-1]][0]
        header[key] = {"dtype": code, "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        arrays.append(a)
        offset += a.nbytes
    header["__metadata__"] = {"format": "pt", "ember": json.dumps(structure, allow_nan=False),
                              "ember_format": _FORMAT}
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * (-len(hbytes) % 8)
    chunks = [struct.pack("<Q", len(hbytes)), hbytes] + [memoryview(a).cast("B") for a in arrays if a.nbytes]
    _atomic_write(f, chunks)


def _dtype_objs():
    return {getattr(_C.dtype, n) for n in _DTYPES}


def load(f, map_location=None, weights_only=True):
    """Load what ``save`` wrote (or any safetensors file: a dict of tensors).

    Raises ValueError naming the file for truncated, corrupt or foreign files."""
    path = os.fspath(f)
    if map_location not in (None, "cpu") and str(map_location) != "cpu":
        raise RuntimeError(f"ember.load: map_location={map_location!r}: ember was built without CUDA")
    with open(path, "rb") as fh:
        data = fh.read()
    name = os.path.basename(path)
    if len(data) < 8:
        raise ValueError(f"ember.load: {name}: file too short ({len(data)} bytes) to be a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or 8 + n > len(data):
        raise ValueError(f"ember.load: {name}: invalid header length {n} for a file of {len(data)} bytes "
                         "(truncated or not a safetensors file)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"ember.load: {name}: corrupt header ({e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"ember.load: {name}: corrupt header (not a JSON object)")
    meta = header.pop("__metadata__", None) or {}
    body = memoryview(data)[8 + n:]
    tensors, spans = {}, []
    for key, info in header.items():
        try:
            code, shape, (begin, end) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"ember.load: {name}: corrupt entry for tensor {key!r}") from None
        npd = _FROM_CODE.get(code, "missing")
        if npd == "missing":
            raise ValueError(f"ember.load: {name}: tensor {key!r} has unknown dtype {code!r}")
        if npd is None:
            raise TypeError(f"ember.load: {name}: tensor {key!r} has dtype {code}, which ember does not support")
        count = int(np.prod(shape)) if shape else 1
        if any(s < 0 for s in shape) or not (0 <= begin <= end <= len(body)) or end - begin != count * npd.itemsize:
            raise ValueError(f"ember.load: {name}: tensor {key!r} (dtype {code}, shape {shape}) has invalid data "
                             f"offsets [{begin}, {end}] for a data section of {len(body)} bytes (file truncated "
                             "or corrupt)")
        spans.append((begin, end, key))
        arr = np.frombuffer(body[begin:end], dtype=npd).reshape(shape).copy()
        if arr.dtype in (np.int8, np.int16):
            arr = arr.astype(np.int32)
        tensors[key] = _C.from_numpy(arr)
    spans.sort()
    for (b0, e0, k0), (b1, e1, k1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError(f"ember.load: {name}: tensors {k0!r} and {k1!r} overlap (corrupt file)")
    if "ember" not in meta:
        return tensors  # a plain safetensors file
    try:
        structure = json.loads(meta["ember"])
    except json.JSONDecodeError as e:
        raise ValueError(f"ember.load: {name}: corrupt structure metadata ({e})") from None
    return _decode(structure, tensors, name)

"""MNIST and Fashion-MNIST from IDX files (gzipped or not).

``FashionMNIST(root=None)`` uses, in order: the directory given, Debian's dataset-fashion-mnist
(/usr/share/datasets/fashion-mnist), and the subset shipped inside Ember (8,000 training and
2,000 test images, MIT licence, see data/fashion_mnist/LICENSE).
"""
import gzip
import os
import struct

import numpy as np

from .. import _C
from ..utils.data import Dataset

_SYSTEM_FASHION = "/usr/share/datasets/fashion-mnist"
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def embedded_fashion_mnist_dir():
    return os.path.join(os.path.dirname(__file__), "data", "fashion_mnist")


def read_idx(path):
    """Read an IDX file (optionally .gz) into a numpy array; clear errors for bad files."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise ValueError(f"{path}: corrupt gzip data ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES or ndim == 0:
        raise ValueError(f"{path}: unsupported IDX type code 0x{code:02x} or rank {ndim}")
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    dt = np.dtype(_IDX_TYPES[code])
    expected = int(np.prod(dims)) * dt.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != expected:
        raise ValueError(f"{path}: IDX data has {len(body)} bytes, expected {expected} for shape {dims} "
                         "(truncated or corrupt file)")
    return np.frombuffer(body, dtype=dt).reshape(dims).astype(dt.newbyteorder("="))


def _find(root, stem):
    for name in (stem + ".gz", stem):
        p = os.path.join(root, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"{stem}(.gz) not found in {root}")


class MNIST(Dataset):
    """MNIST-format images (uint8, (N, 28, 28)) and int64 labels from IDX files in ``root``.

    Args:
        root: directory holding train-images-idx3-ubyte(.gz) etc. (also looked up in root/raw).
        train: the training split (else the test split, t10k-*).
        transform: applied to each image (a (28, 28) uint8 tensor) — e.g. transforms.ToTensor().
        target_transform: applied to each label.
    """

    classes = [str(i) for i in range(10)]
    _default_roots = ()

    def __init__(self, root=None, train=True, transform=None, target_transform=None, download=False):
        if download:
            raise RuntimeError(f"{type(self).__name__}: download is not supported (no network); point root at "
                               "a directory with the IDX files")
        self.root = self._resolve_root(root)
        self.train, self.transform, self.target_transform = train, transform, target_transform
        split = "train" if train else "t10k"
        images = read_idx(_find(self.root, f"{split}-images-idx3-ubyte"))
        labels = read_idx(_find(self.root, f"{split}-labels-idx1-ubyte"))
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: images {images.shape} and labels {labels.shape} in "
                             f"{self.root} do not match (expected (N, H, W) and (N,))")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(f"{type(self).__name__}: labels outside [0, {len(self.classes)}) in {self.root}")
        self.data = _C.from_numpy(np.ascontiguousarray(images, dtype=np.uint8))
        self.targets = _C.from_numpy(labels.astype(np.int64))

    def _resolve_root(self, root):
        candidates = [root] if root is not None else list(self._default_roots)
        for c in candidates:
            if c is None:
                continue
            for d in (c, os.path.join(c, "raw"), os.path.join(c, type(self).__name__, "raw")):
                if os.path.isdir(d) and any(f.startswith("train-images") or f.startswith("t10k-images")
                                            for f in os.listdir(d)):
                    return d
        if root is not None:
            raise FileNotFoundError(f"{type(self).__name__}: no IDX files (train-images-idx3-ubyte[.gz], ...) "
                                    f"found in {root}")
        raise FileNotFoundError(f"{type(self).__name__}: no data directory given and none found")

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def as_tensors(self):
        """All images as float32 (N, 1, 28, 28) in [0, 1] and labels (N,): for TensorDataset."""
        return (self.data.float() / 255.0).unsqueeze(1), self.targets


class FashionMNIST(MNIST):
    """Fashion-MNIST: the given root, else /usr/share/datasets/fashion-mnist, else the embedded subset."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    _default_roots = (_SYSTEM_FASHION, embedded_fashion_mnist_dir())

    @property
    def is_embedded_subset(self):
        return os.path.abspath(self.root) == os.path.abspath(embedded_fashion_mnist_dir())

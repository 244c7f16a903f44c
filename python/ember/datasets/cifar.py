"""CIFAR-10 from its binary batches (data_batch_1.bin ... test_batch.bin)."""
import os

import numpy as np

from .. import _C
from ..utils.data import Dataset

_RECORD = 1 + 3 * 32 * 32


class CIFAR10(Dataset):
    """CIFAR-10 images as uint8 (N, 3, 32, 32) tensors and int64 labels.

    Args:
        root: directory holding the binary batches (or its cifar-10-batches-bin subdirectory).
        train: data_batch_1..5 (else test_batch).
    """

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        if download:
            raise RuntimeError("CIFAR10: download is not supported (no network)")
        d = root
        if os.path.isdir(os.path.join(root, "cifar-10-batches-bin")):
            d = os.path.join(root, "cifar-10-batches-bin")
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
        images, labels = [], []
        for n in names:
            path = os.path.join(d, n)
            if not os.path.exists(path):
                raise FileNotFoundError(f"CIFAR10: {n} not found in {d}")
            raw = np.fromfile(path, dtype=np.uint8)
            if raw.size == 0 or raw.size % _RECORD:
                raise ValueError(f"CIFAR10: {path} has {raw.size} bytes, not a multiple of the {_RECORD}-byte "
                                 "record size (truncated or corrupt)")
            rec = raw.reshape(-1, _RECORD)
            if rec[:, 0].max() > 9:
                raise ValueError(f"CIFAR10: {path} has labels outside [0, 9] (corrupt file)")
            labels.append(rec[:, 0].astype(np.int64))
            images.append(rec[:, 1:].reshape(-1, 3, 32, 32))
        self.data = _C.from_numpy(np.ascontiguousarray(np.concatenate(images)))
        self.targets = _C.from_numpy(np.concatenate(labels))
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return self.data.shape[0]

    def __getitem__(self, index):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

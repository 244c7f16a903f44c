"""Dataset readers on real (embedded) and corrupt files, and transforms."""
import gzip
import os
import struct

import numpy as np
import pytest

import ember
from ember.datasets import CIFAR10, MNIST, FashionMNIST, embedded_fashion_mnist_dir, read_idx, transforms


def test_embedded_fashion_mnist():
    tr = FashionMNIST(embedded_fashion_mnist_dir(), train=True)
    te = FashionMNIST(embedded_fashion_mnist_dir(), train=False)
    assert len(tr) == 8000 and len(te) == 2000 and tr.is_embedded_subset
    img, label = tr[0]
    assert img.dtype == ember.uint8 and tuple(img.shape) == (28, 28) and 0 <= label < 10
    assert np.bincount(te.targets.numpy()).tolist() == [200] * 10
    x, y = te.as_tensors()
    assert tuple(x.shape) == (2000, 1, 28, 28) and x.dtype == ember.float32
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0 and y.dtype == ember.int64


def test_default_root_prefers_system_copy():
    ds = FashionMNIST(train=False)
    if os.path.isdir("/usr/share/datasets/fashion-mnist"):
        assert len(ds) == 10000 and not ds.is_embedded_subset
    else:
        assert ds.is_embedded_subset


def _write_idx(path, arr, gz=True, code=0x08):
    header = struct.pack(">I", (code << 8) | arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    data = header + arr.tobytes()
    with (gzip.open(path, "wb") if gz else open(path, "wb")) as f:
        f.write(data)


def test_mnist_from_plain_idx_files(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", imgs, gz=False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.array([0, 1, 2, 3, 9], dtype=np.uint8), gz=False)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1, 2, 3, 9], dtype=np.uint8))
    ds = MNIST(tmp_path, train=False, transform=transforms.ToTensor())
    x, y = ds[4]
    assert y == 9 and tuple(x.shape) == (1, 28, 28)
    np.testing.assert_allclose(x.numpy()[0], imgs[4] / 255.0, rtol=1e-6)


@pytest.mark.parametrize("damage", ["truncated", "bad_magic", "bad_gzip", "label_mismatch"])
def test_corrupt_idx_files_raise_naming_the_file(tmp_path, damage):
    imgs = np.zeros((4, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs)
    _write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(4 if damage != "label_mismatch" else 3, np.uint8))
    target = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(target.read_bytes())
    if damage == "truncated":
        target.write_bytes(gzip.compress(raw[:-100]))
    elif damage == "bad_magic":
        target.write_bytes(gzip.compress(b"\x01\x02" + raw[2:]))
    elif damage == "bad_gzip":
        target.write_bytes(target.read_bytes()[:30])
    with pytest.raises(ValueError) as ei:
        MNIST(tmp_path, train=True)
    assert "train-" in str(ei.value) or "do not match" in str(ei.value)


def test_missing_files():
    with pytest.raises(FileNotFoundError, match="no IDX files"):
        MNIST("/nonexistent-dir", train=True)
    with pytest.raises(FileNotFoundError, match="IDX file not found"):
        read_idx("/nonexistent-file")


def test_cifar10_binary_batches(tmp_path):
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        rec = np.concatenate([rng.integers(0, 10, (3, 1)), rng.integers(0, 256, (3, 3072))], 1).astype(np.uint8)
        rec.tofile(tmp_path / name)
    tr, te = CIFAR10(tmp_path, train=True), CIFAR10(tmp_path, train=False)
    assert len(tr) == 15 and len(te) == 3
    img, y = te[0]
    assert tuple(img.shape) == (3, 32, 32) and img.dtype == ember.uint8 and 0 <= y < 10
    (tmp_path / "test_batch.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="record size"):
        CIFAR10(tmp_path, train=False)


def test_transforms():
    img = ember.from_numpy(np.arange(16, dtype=np.uint8).reshape(4, 4))
    t = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])
    out = t(img)
    np.testing.assert_allclose(out.numpy()[0], (np.arange(16).reshape(4, 4) / 255.0 - 0.5) / 0.5, rtol=1e-6)
    g = ember.Generator().manual_seed(0)
    crop = transforms.RandomCrop(4, padding=2, generator=g)(out)
    assert tuple(crop.shape) == (1, 4, 4)
    flipped = transforms.RandomHorizontalFlip(p=1.0)(out)
    np.testing.assert_array_equal(flipped.numpy(), out.numpy()[..., ::-1])
    with pytest.raises(ValueError, match="std evaluated to zero"):
        transforms.Normalize([0.0], [0.0])

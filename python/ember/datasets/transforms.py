"""A few image transforms on tensors: ToTensor, Normalize, RandomCrop, RandomHorizontalFlip,
Compose. Images are uint8 (H, W) / (C, H, W) tensors or float (C, H, W) tensors."""
from .. import _C


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class ToTensor:
    """uint8 (H, W) or (C, H, W) -> float32 (C, H, W) in [0, 1]. (HWC numpy arrays become CHW.)"""

    def __call__(self, img):
        if not isinstance(img, _C.Tensor):
            import numpy as np
            arr = np.asarray(img)
            if arr.ndim == 3:
                arr = arr.transpose(2, 0, 1)
            img = _C.from_numpy(np.ascontiguousarray(arr))
        if img.dim() == 2:
            img = img.unsqueeze(0)
        if img.dim() != 3:
            raise ValueError(f"ToTensor: expected an (H, W) or (C, H, W) image, got shape {tuple(img.shape)}")
        return img.float() / 255.0 if img.dtype == _C.dtype.uint8 else img.float()

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel."""

    def __init__(self, mean, std):
        self.mean, self.std = list(mean), list(std)
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std evaluated to zero: {self.std}")

    def __call__(self, x):
        c = x.shape[-3]
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise ValueError(f"Normalize: {len(self.mean)} means / {len(self.std)} stds for {c} channels")
        mean = _C.tensor(self.mean, dtype=x.dtype).reshape(-1, 1, 1)
        std = _C.tensor(self.std, dtype=x.dtype).reshape(-1, 1, 1)
        return (x - mean) / std

    def __repr__(self):
        return f"Normalize(mean={self.mean}, std={self.std})"


class RandomCrop:
    """A random size x size crop, after zero padding by ``padding`` on every side."""

    def __init__(self, size, padding=0, generator=None):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding, self.generator = padding, generator

    def __call__(self, x):
        if self.padding:
            p = self.padding
            x = _C.constant_pad(x, [p, p, p, p], 0)
        h, w = x.shape[-2], x.shape[-1]
        th, tw = self.size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the (padded) image {(h, w)}")
        kw = {} if self.generator is None else {"generator": self.generator}
        i = int(_C.randint(0, h - th + 1, (1,), **kw).item())
        j = int(_C.randint(0, w - tw + 1, (1,), **kw).item())
        return x[..., i:i + th, j:j + tw]

    def __repr__(self):
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Flip the last dim with probability p."""

    def __init__(self, p=0.5, generator=None):
        self.p, self.generator = p, generator

    def __call__(self, x):
        kw = {} if self.generator is None else {"generator": self.generator}
        if float(_C.rand(1, **kw).item()) < self.p:
            return x.flip(-1)
        return x

    def __repr__(self):
        return f"RandomHorizontalFlip(p={self.p})"

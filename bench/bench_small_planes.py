"""Convolutions on small planes and wide layers, the late layers of CIFAR-sized nets (ResNet-style
3x3 stages at 8x8 and 4x4, stride-2 downsampling, a transposed convolution): ember against torch,
float32, forward alone and forward + backward (input, weight and bias gradients), medians of 9 in
milliseconds, the two libraries alternating per shape. Ember routes these through Winograd
F(2x2, 3x3) (3x3 stride 1) or one GEMM over a chunk of images (other small planes): see
cpp/src/backend/cpu/conv_winograd.cpp and conv.cpp's fold.

    PYTHONPATH=build/dev/stage python3 bench/bench_small_planes.py [threads]
"""
import statistics
import sys
import time

import ember
import numpy as np
import torch

# (N, C, H, O, kernel, stride, padding); "T" marks a ConvTranspose2d (C -> O, output 2H)
SHAPES = [
    ("3x3 4x4 128->256", (64, 128, 4, 256, 3, 1, 1)),
    ("3x3 4x4 256->512", (64, 256, 4, 512, 3, 1, 1)),
    ("3x3 8x8 128->128", (128, 128, 8, 128, 3, 1, 1)),
    ("3x3 8x8 256->256", (32, 256, 8, 256, 3, 1, 1)),
    ("3x3 16x16 128->128", (64, 128, 16, 128, 3, 1, 1)),
    ("3x3 s2 8x8 64->128", (64, 64, 8, 128, 3, 2, 1)),
    ("4x4 s2 8x8 64->128", (32, 64, 8, 128, 4, 2, 1)),
    ("T 4x4 s2 4x4 128->64", (32, 128, 4, 64, 4, 2, 1)),
]


def med(f, n=9):
    f()
    f()
    s = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        s.append(time.perf_counter() - t0)
    return statistics.median(s) * 1e3


def main():
    nt = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    ember.set_num_threads(nt)
    torch.set_num_threads(nt)
    for name, (N, C, H, O, k, s, p) in SHAPES:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((N, C, H, H)).astype(np.float32)
        res = {}
        for L in (ember, torch):
            L.manual_seed(0)
            m = (L.nn.ConvTranspose2d(C, O, k, s, p) if name.startswith("T ") else L.nn.Conv2d(C, O, k, s, p))
            X = L.from_numpy(x.copy()).requires_grad_()

            def fwd(L=L, m=m, X=X):
                with L.no_grad():
                    m(X)

            def fb(m=m, X=X):
                m(X).sum().backward()

            res[L.__name__] = (med(fwd), med(fb))
        e, t = res["ember"], res["torch"]
        print(f"{name:24s} {nt}T  fwd ember {e[0]:8.2f} torch {t[0]:8.2f} ms ({t[0] / e[0]:.2f}x)   "
              f"fwd+bwd ember {e[1]:8.2f} torch {t[1]:8.2f} ms ({t[1] / e[1]:.2f}x)")


if __name__ == "__main__":
    main()

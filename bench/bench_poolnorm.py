"""Pooling and normalisation against PyTorch on the CPU: forward + backward medians and ratios.

Run: PYTHONPATH=build/dev/stage python3 bench/bench_poolnorm.py [--threads N] [--repeat R]
"""

import argparse
import os
import platform
import time

import numpy as np
import torch

import ember


def median_times(fns, repeat, warmup=3):
    """Medians of each fn, timed in alternation so load from other processes hits all alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    ts = [[] for _ in fns]
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t0)
    return [float(np.median(t)) for t in ts]


def fwd_bwd(lib, make, shape, param_shapes=()):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xt = lib.from_numpy(x.copy()).requires_grad_()
    params = [
        lib.from_numpy(
            np.random.default_rng(1).uniform(0.5, 1.5, s).astype(np.float32)
        ).requires_grad_()
        for s in param_shapes
    ]
    y0 = make(lib, xt, params)
    g = lib.from_numpy(np.random.default_rng(2).standard_normal(tuple(y0.shape)).astype(np.float32))

    def fwd():
        make(lib, xt, params)

    def both():
        xt.grad = None
        for p in params:
            p.grad = None
        make(lib, xt, params).backward(g)

    return fwd, both


CASES = [
    (
        "max_pool2d 2x2 (64,64,32,32)",
        (64, 64, 32, 32),
        (),
        lambda L, x, p: L.nn.functional.max_pool2d(x, 2),
    ),
    (
        "batch_norm2d (64,64,32,32)",
        (64, 64, 32, 32),
        ((64,), (64,)),
        lambda L, x, p: L.nn.functional.batch_norm(x, None, None, p[0], p[1], training=True),
    ),
    (
        "interpolate nearest x2 (16,32,32,32)",
        (16, 32, 32, 32),
        (),
        lambda L, x, p: L.nn.functional.interpolate(x, scale_factor=2),
    ),
    (
        "interpolate bilinear x2 (16,32,32,32)",
        (16, 32, 32, 32),
        (),
        lambda L, x, p: L.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
    ),
    (
        "interpolate bilinear x0.5 (16,32,32,32)",
        (16, 32, 32, 32),
        (),
        lambda L, x, p: L.nn.functional.interpolate(x, scale_factor=0.5, mode="bilinear"),
    ),
    (
        "layer_norm (2048,128)",
        (32 * 64, 128),
        ((128,), (128,)),
        lambda L, x, p: L.nn.functional.layer_norm(x, (128,), p[0], p[1]),
    ),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=15)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    ember.set_num_threads(a.threads)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"threads={a.threads}, "
        f"torch {torch.__version__}"
    )
    print(f"{'case':40s} {'pass':8s} {'ember ms':>9s} {'torch ms':>9s} {'ratio':>6s}")
    for name, shape, pshapes, make in CASES:
        fe, be = fwd_bwd(ember, make, shape, pshapes)
        ft, bt = fwd_bwd(torch, make, shape, pshapes)
        for label, e_fn, t_fn in (("fwd", fe, ft), ("fwd+bwd", be, bt)):
            te, tt = median_times([e_fn, t_fn], a.repeat)
            print(f"{name:40s} {label:8s} {te * 1e3:9.3f} {tt * 1e3:9.3f} {te / tt:6.2f}")


if __name__ == "__main__":
    main()

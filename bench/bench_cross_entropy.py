"""Fused cross-entropy (class indices) vs PyTorch: forward + backward, median of repeated runs.

Run: PYTHONPATH=build/dev/stage python3 bench/bench_cross_entropy.py [threads]
Reports the machine's thread count, per-shape medians and the ember / torch ratio (< 1: faster).
"""
import os
import platform
import sys
import time

import ember
import ember.nn.functional as EF
import numpy as np
import torch


def median_time(fn, warmup=5, reps=50, min_time=0.5):
    for _ in range(warmup):
        fn()
    times, start = [], time.perf_counter()
    while len(times) < reps or time.perf_counter() - start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 2000:
            break
    return float(np.median(times))


def run(n, c):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c)).astype(np.float32)
    t = rng.integers(0, c, n)
    ex, tx = ember.from_numpy(x.copy()).requires_grad_(True), torch.from_numpy(x.copy()).requires_grad_(True)
    et, tt = ember.from_numpy(t.copy()), torch.from_numpy(t.copy())

    def e_step():
        ex.grad = None
        EF.cross_entropy(ex, et).backward()

    def t_step():
        tx.grad = None
        torch.nn.functional.cross_entropy(tx, tt).backward()

    e, r = median_time(e_step), median_time(t_step)
    print(f"  ({n:5d}, {c:5d})  ember {e * 1e6:9.1f} us   torch {r * 1e6:9.1f} us   ratio {e / r:5.2f}")
    return e / r


if __name__ == "__main__":
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else os.cpu_count()
    ember.set_num_threads(threads)
    torch.set_num_threads(threads)
    print(f"cross_entropy fwd+bwd, float32, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, {threads} threads, torch {torch.__version__}")
    for shape in [(128, 10), (4096, 1000)]:
        run(*shape)

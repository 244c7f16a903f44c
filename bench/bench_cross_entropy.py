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


def median_times(fns, warmup=5, rounds=30, per_round=5):
    """Median seconds per call of each fn, measured in interleaved rounds (fair under load)."""
    for f in fns:
        for _ in range(warmup):
            f()
    times = [[] for _ in fns]
    for _ in range(rounds):
        for f, ts in zip(fns, times):
            for _ in range(per_round):
                t0 = time.perf_counter()
                f()
                ts.append(time.perf_counter() - t0)
    return [float(np.median(ts)) for ts in times]


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

    e, r = median_times([e_step, t_step])
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

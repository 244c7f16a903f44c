"""Conv2d forward + backward (input, weight and bias gradients): ember vs torch, float32, 1 and 2
threads, each thread count in a fresh subprocess. Reports median milliseconds per iteration after a
warm-up and the speed ratio torch_time / ember_time (> 1: ember is faster).

    PYTHONPATH=build/dev/stage python3 bench/bench_conv.py [--threads 1 2]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

# (N, C, H, W), out_channels, kernel, padding
SHAPES = [
    ("lenet_conv1", (64, 1, 28, 28), 6, 5, 2),
    ("cifar_3x3", (64, 3, 32, 32), 64, 3, 1),
    ("mid_3x3", (64, 64, 16, 16), 128, 3, 1),
]


def _median_time(fn, min_time=0.5, max_reps=100):
    fn()
    fn()  # warm-up (allocator cache, thread pool, packing buffers)
    times = []
    start = time.perf_counter()
    while len(times) < 7 or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def worker(threads):
    import ember
    import numpy as np
    import torch
    ember.set_num_threads(threads)
    torch.set_num_threads(threads)
    out = {}
    for name, shape, oc, k, p in SHAPES:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape).astype(np.float32)
        w = (rng.standard_normal((oc, shape[1], k, k)) * 0.1).astype(np.float32)
        b = rng.standard_normal(oc).astype(np.float32)
        res = {}
        for lib in (torch, ember):
            X, Wt, B = (lib.tensor(a) for a in (x, w, b))
            for t in (X, Wt, B):
                t.requires_grad_(True)
            F = lib.nn.functional

            def step():
                y = F.conv2d(X, Wt, B, padding=p)
                y.sum().backward()
                X.grad = Wt.grad = B.grad = None

            def fwd():
                with lib.no_grad():
                    F.conv2d(X, Wt, B, padding=p)

            res[lib.__name__] = {"fwd_bwd_ms": _median_time(step) * 1e3, "fwd_ms": _median_time(fwd) * 1e3}
        out[name] = res
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--worker", type=int)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus")
    print(f"{'shape':<12} {'thr':>3} {'mode':>8} {'torch ms':>9} {'ember ms':>9} {'speedup':>8}")
    for t in args.threads:
        r = subprocess.run([sys.executable, __file__, "--worker", str(t)], capture_output=True, text=True,
                           check=True)
        data = json.loads(r.stdout.strip().splitlines()[-1])
        for name, res in data.items():
            for mode in ("fwd_bwd_ms", "fwd_ms"):
                tt, te = res["torch"][mode], res["ember"][mode]
                print(f"{name:<12} {t:>3} {mode[:-3]:>8} {tt:9.3f} {te:9.3f} {tt / te:7.2f}x")


if __name__ == "__main__":
    main()

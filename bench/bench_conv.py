"""Conv2d forward + backward (input, weight and bias gradients): ember vs torch, float32, 1 and 2
threads, each thread count in a fresh subprocess. Reports median milliseconds per iteration after a
warm-up and the speed ratio torch_time / ember_time (> 1: ember is faster).
--clock cpu measures process CPU time instead of wall time: on a loaded, shared machine it is the
stable measure for 1 thread (with more threads it also counts the workers' spin-waiting).

    PYTHONPATH=build/dev/stage python3 bench/bench_conv.py [--threads 1 2] [--clock wall|cpu]
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


CLOCK = time.perf_counter


def _median_time(fn, min_time=0.5, max_reps=100):
    fn()
    fn()  # warm-up (allocator cache, thread pool, packing buffers)
    times = []
    start = time.perf_counter()
    while len(times) < 7 or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t = CLOCK()
        fn()
        times.append(CLOCK() - t)
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

            def step(F=F, X=X, Wt=Wt, B=B, p=p):
                y = F.conv2d(X, Wt, B, padding=p)
                y.sum().backward()
                X.grad = Wt.grad = B.grad = None

            def fwd(lib=lib, F=F, X=X, Wt=Wt, B=B, p=p):
                with lib.no_grad():
                    F.conv2d(X, Wt, B, padding=p)

            res[lib.__name__] = {"fwd_bwd_ms": _median_time(step) * 1e3, "fwd_ms": _median_time(fwd) * 1e3}
        out[name] = res
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    ap.add_argument("--worker", type=int)
    args = ap.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"load {load:.1f}, clock {args.clock}")
    print(f"{'shape':<12} {'thr':>3} {'mode':>8} {'torch ms':>9} {'ember ms':>9} {'speedup':>8}")
    for t in args.threads:
        r = subprocess.run([sys.executable, __file__, "--worker", str(t), "--clock", args.clock],
                           capture_output=True, text=True, check=True)
        data = json.loads(r.stdout.strip().splitlines()[-1])
        for name, res in data.items():
            for mode in ("fwd_bwd_ms", "fwd_ms"):
                tt, te = res["torch"][mode], res["ember"][mode]
                print(f"{name:<12} {t:>3} {mode[:-3]:>8} {tt:9.3f} {te:9.3f} {tt / te:7.2f}x")


if __name__ == "__main__":
    main()

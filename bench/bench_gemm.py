"""GEMM throughput: ember.mm vs torch.mm vs numpy (float32), 1 and 2 threads.

Square n x n problems (--sizes) and M x N x K shapes (--shapes, e.g. the conv-via-GEMM shapes
64x256x576: out-channels x OH*OW x C*9). Each thread count runs in a fresh subprocess (OpenBLAS
reads its thread count at load), with OPENBLAS_CORETYPE unset so numpy's OpenBLAS picks its best
kernel. Reports the median GFLOP/s over repeats after a warm-up (--best: the best repeat, steadier
on a shared machine), and ember's ratio to torch and to --peak (GFLOP/s per core), if given.
With one thread, times are the calling thread's CPU time (time.thread_time): preemption by other
processes does not count.

    PYTHONPATH=build/dev/stage python3 bench/bench_gemm.py [--sizes 128 256 ...] [--shapes 64x256x576]
        [--variant nn|nt] [--peak 240] [--best]
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

SIZES = [128, 256, 512, 1024, 2048]


def _time(fn, clock, best, min_time=0.3, max_reps=200):
    fn()  # warm-up (packing buffers, thread pool)
    times = []
    start = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < min_time and len(times) < max_reps):
        t = clock()
        fn()
        times.append(clock() - t)
    times.sort()
    return times[0] if best else times[len(times) // 2]


def worker(threads, shapes, variant, best):
    import ember
    import numpy as np
    import torch
    ember.set_num_threads(threads)
    torch.set_num_threads(threads)
    clock = time.thread_time if threads == 1 else time.perf_counter
    out = {}
    for name in shapes:
        m, n, k = map(int, name.split("x"))
        rng = np.random.default_rng(m * 7 + n * 3 + k)
        a = rng.standard_normal((m, k)).astype(np.float32)
        b = rng.standard_normal((n, k) if variant == "nt" else (k, n)).astype(np.float32)
        if variant == "nt":  # x @ W^T (nn.Linear's layout)
            ea, eb = ember.from_numpy(a), ember.from_numpy(b.T)
            ta, tb = torch.from_numpy(a), torch.from_numpy(b).t()
            na, nb = a, b.T
        else:
            ea, eb = ember.from_numpy(a), ember.from_numpy(b)
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            na, nb = a, b
        flop = 2.0 * m * n * k
        out[name] = {
            "ember": flop / _time(lambda x=ea, y=eb: ember.mm(x, y), clock, best) / 1e9,
            "torch": flop / _time(lambda x=ta, y=tb: torch.mm(x, y), clock, best) / 1e9,
            "numpy": flop / _time(lambda x=na, y=nb: np.matmul(x, y), clock, best) / 1e9,
        }
    print(json.dumps(out))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="*", default=SIZES)
    p.add_argument("--shapes", nargs="*", default=[], help="MxNxK problems, after the square sizes")
    p.add_argument("--best", action="store_true", help="best repeat instead of the median")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--variant", choices=["nn", "nt"], default="nn", help="nn: A @ B, nt: A @ B^T view")
    p.add_argument("--peak", type=float, default=None, help="FMA peak GFLOP/s per core, for %% of peak")
    p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    shapes = [f"{n}x{n}x{n}" for n in args.sizes] + args.shapes
    if args.worker is not None:
        return worker(args.worker, shapes, args.variant, args.best)
    stat = "best" if args.best else "medians"
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, float32, variant {args.variant}, {stat}")
    print(f"{'thr':>3} {'MxNxK':>16} {'ember':>8} {'torch':>8} {'numpy':>8} {'e/torch':>8}" +
          (f" {'%peak':>6}" if args.peak else ""))
    for t in args.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS=str(t), MKL_NUM_THREADS=str(t))
        env.pop("OPENBLAS_CORETYPE", None)
        cmd = [sys.executable, __file__, "--worker", str(t), "--variant", args.variant, "--sizes", "--shapes",
               *shapes] + (["--best"] if args.best else [])
        res = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout)
        for n, r in res.items():
            line = f"{t:>3} {n:>16} {r['ember']:>8.1f} {r['torch']:>8.1f} {r['numpy']:>8.1f} {r['ember'] / r['torch']:>8.2f}"
            if args.peak:
                line += f" {100 * r['ember'] / (args.peak * t):>5.0f}%"
            print(line)


if __name__ == "__main__":
    main()

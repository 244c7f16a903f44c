"""Float32 unary ops at 1 thread: ember vs torch, medians of interleaved timings (microseconds).

    PYTHONPATH=build/dev/stage python3 bench/bench_unary.py [--reps 30]
"""
import argparse
import platform
import time

import numpy as np
import torch

import ember
import ember.nn.functional as EF
import torch.nn.functional as TF

OPS = {
    "exp": (ember.exp, torch.exp), "expm1": (ember.expm1, torch.expm1),
    "log": (ember.log, torch.log), "log1p": (ember.log1p, torch.log1p),
    "log2": (ember.log2, torch.log2), "sigmoid": (ember.sigmoid, torch.sigmoid),
    "tanh": (ember.tanh, torch.tanh), "silu": (EF.silu, TF.silu), "gelu": (EF.gelu, TF.gelu),
    "gelu_tanh": (lambda t: EF.gelu(t, approximate="tanh"),
                  lambda t: TF.gelu(t, approximate="tanh")),
    "softplus": (EF.softplus, TF.softplus), "erf": (ember.erf, torch.erf),
    "pow 1.5": (lambda t: t ** 1.5, lambda t: t ** 1.5), "pow x**x": (lambda t: t ** t, lambda t: t ** t),
    "sin": (ember.sin, torch.sin), "cos": (ember.cos, torch.cos), "exp2": (ember.exp2, torch.exp2),
    "tan": (ember.tan, torch.tan), "atan": (ember.atan, torch.atan), "asin": (ember.asin, torch.asin),
    "acos": (ember.acos, torch.acos), "sinh": (ember.sinh, torch.sinh), "cosh": (ember.cosh, torch.cosh),
    "asinh": (ember.asinh, torch.asinh), "acosh": (ember.acosh, torch.acosh), "atanh": (ember.atanh, torch.atanh),
    "atan2": (lambda t: ember.atan2(t, t * 0.5 - 1), lambda t: torch.atan2(t, t * 0.5 - 1)),
}
# inputs inside each function's domain: |x| < 1 (asin, acos, atanh), x >= 1 (acosh), x > 0 (log, pow)
UNIT = ("asin", "acos", "atanh")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 32768, 1 << 20])
    args = ap.parse_args()
    ember.set_num_threads(1)
    torch.set_num_threads(1)
    print(f"# {platform.processor() or platform.machine()}, 1 thread, median of {args.reps}")
    print(f"{'op':10} {'n':>8} {'ember_us':>10} {'torch_us':>10} {'torch/ember':>11}")
    for name, (fe, ft) in OPS.items():
        for n in args.sizes:
            x = np.random.default_rng(0).standard_normal(n).astype(np.float32) * 3
            if name.startswith(("log", "pow")):
                x = np.abs(x) + 1e-3
            elif name in UNIT:
                x = np.tanh(x).astype(np.float32) * np.float32(0.999)
            elif name == "acosh":
                x = np.abs(x) + 1
            xe, xt = ember.tensor(x), torch.from_numpy(x)
            inner = max(1, 20000 // n)
            fe(xe), ft(xt)  # warm-up
            te, tt = [], []
            for _ in range(args.reps):  # interleaved
                for f, a, acc in ((fe, xe, te), (ft, xt, tt)):
                    t0 = time.perf_counter()
                    for _ in range(inner):
                        f(a)
                    acc.append((time.perf_counter() - t0) / inner * 1e6)
            me, mt = np.median(te), np.median(tt)
            print(f"{name:10} {n:>8} {me:>10.1f} {mt:>10.1f} {mt / me:>11.2f}")


if __name__ == "__main__":
    main()

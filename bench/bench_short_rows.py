"""Softmax, log_softmax and layer_norm over rows of 16..1000 elements, forward and forward +
backward, float32: ember against torch, interleaved medians (microseconds).

    PYTHONPATH=build/dev/stage python3 bench/bench_short_rows.py [threads] [op ...]
"""
import statistics
import sys
import time

import ember
import numpy as np
import torch

SHAPES = [(8192, 16), (4096, 32), (2048, 64), (1024, 128), (256, 1000)]


def med(fn, n=31):
    for _ in range(5):
        fn()
    s = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        s.append(time.perf_counter() - t0)
    return statistics.median(s) * 1e6


def main():
    nt = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    torch.set_num_threads(nt)
    ember.set_num_threads(nt)
    rng = np.random.default_rng(0)
    for name in sys.argv[2:] or ["log_softmax", "softmax", "layer_norm"]:
        for shp in SHAPES:
            a = rng.standard_normal(shp).astype(np.float32)
            g = rng.standard_normal(shp).astype(np.float32)
            res = {}
            for L in (torch, ember):
                x = L.from_numpy(a.copy()).requires_grad_()
                gy = L.from_numpy(g.copy())
                if name == "layer_norm":
                    w = L.ones(shp[1], requires_grad=True)
                    b = L.zeros(shp[1], requires_grad=True)

                    def f(L=L, x=x, w=w, b=b, k=shp[1]):
                        return L.nn.functional.layer_norm(x, (k,), w, b)
                else:
                    def f(L=L, x=x, name=name):
                        return getattr(L.nn.functional, name)(x, dim=-1)

                def fb(f=f, gy=gy):
                    f().backward(gy)

                res[L.__name__] = (med(f), med(fb))
            t, e = res["torch"], res["ember"]
            print(f"{name:12s} {shp!s:12s} fwd t {t[0]:7.1f} e {e[0]:7.1f} ({t[0] / e[0]:.2f}x)  "
                  f"fwd+bwd t {t[1]:7.1f} e {e[1]:7.1f} ({t[1] / e[1]:.2f}x)", flush=True)


if __name__ == "__main__":
    main()

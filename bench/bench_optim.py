"""Optimizer step time, ember vs torch (CPU): one parameter of n elements, and the Python overhead
of a 6-parameter MLP step. Medians of repeated runs; prints the machine's thread count.

Last, steps whose state has decayed: half of the gradients stay exactly 0 after 10 steps. After 410
steps that half of exp_avg / the momentum buffer lies within 2^-100 .. 2^-50 (normal floats); after
1010 it has shrunk to 2^-149 and stays there (0.9 * 2^-149 rounds back to 2^-149); float multiplies
on subnormals take microcode assists in both libraries. Ember runs chunks whose state could meet a
subnormal on its SafeF path (same bits), EMBER_OPTIM_SUBNORMAL=float turns that off."""

import os
import statistics
import sys
import time

import ember
import numpy as np
import torch


def _median_us(fn, reps):
    for _ in range(3):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e6, min(times) * 1e6


def bench(name, kw, sizes, reps=50):
    for shapes in sizes:
        rng = np.random.default_rng(0)
        vals = [rng.standard_normal(s).astype(np.float32) for s in shapes]
        pe = [ember.nn.Parameter(ember.from_numpy(v.copy())) for v in vals]
        pt = [torch.nn.Parameter(torch.from_numpy(v.copy())) for v in vals]
        for a, b, v in zip(pe, pt, vals):
            a.grad, b.grad = ember.from_numpy(v * 0.01), torch.from_numpy(v * 0.01)
        oe, ot = getattr(ember.optim, name)(pe, **kw), getattr(torch.optim, name)(pt, **kw)
        (te, me), (tt, mt) = _median_us(oe.step, reps), _median_us(ot.step, reps)
        n = sum(int(np.prod(s)) for s in shapes)
        print(
            f"{name:8s} {len(shapes)} params, {n:>10,d} elements: median ember {te:9.1f} us, "
            f"torch {tt:9.1f} us ({tt / te:5.1f}x); min {me:9.1f} / {mt:9.1f} us ({mt / me:5.1f}x)"
        )


def bench_subnormal(name, kw, n=61_440, reps=50, steps=1010, path=None):
    """path: EMBER_OPTIM_SUBNORMAL for ember's timed steps (None: as calibrated on this CPU)."""
    rng = np.random.default_rng(0)
    v = rng.standard_normal(n).astype(np.float32)
    g = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    pe, pt = ember.nn.Parameter(ember.from_numpy(v.copy())), torch.nn.Parameter(torch.from_numpy(v.copy()))
    oe, ot = getattr(ember.optim, name)([pe], **kw), getattr(torch.optim, name)([pt], **kw)
    for step in range(steps):
        if step == 10:
            g[: n // 2] = 0  # a dead half: its state decays into the subnormals
        pe.grad, pt.grad = ember.from_numpy(g), torch.from_numpy(g.copy())
        oe.step()
        ot.step()
    state = next(iter(oe.state.values()))
    first = state.get("exp_avg", state.get("momentum_buffer"))
    a = np.abs(first.numpy())
    sub, tiny = int(((a != 0) & (a < 2.0**-126)).sum()), int(((a != 0) & (a < 2.0**-50)).sum())
    old = os.environ.get("EMBER_OPTIM_SUBNORMAL")
    if path:
        os.environ["EMBER_OPTIM_SUBNORMAL"] = path
    try:
        (te, _), (tt, _) = _median_us(oe.step, reps), _median_us(ot.step, reps)
    finally:
        if old is None:
            os.environ.pop("EMBER_OPTIM_SUBNORMAL", None)
        else:
            os.environ["EMBER_OPTIM_SUBNORMAL"] = old
    print(
        f"{name:8s} {n:,d} elements after {steps} steps, {tiny:,d} below 2^-50 in the state, "
        f"{sub:,d} subnormal{', path ' + path if path else ''}: median ember {te:9.1f} us, "
        f"torch {tt:9.1f} us ({tt / te:5.1f}x)"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1:  # thread count for both libraries
        ember.set_num_threads(int(sys.argv[1]))
        torch.set_num_threads(int(sys.argv[1]))
    print(
        f"threads: ember {ember.get_num_threads()}, torch {torch.get_num_threads()}; "
        f"ISA {ember._C._cpu_isa()}; python {sys.version.split()[0]}"
    )
    mlp = [(128, 784), (128,), (64, 128), (64,), (10, 64), (10,)]
    sizes = [[(1000,)], [(100_000,)], [(1_000_000,)], [(10_000_000,)], mlp]
    for name, kw in [
        ("SGD", {"lr": 0.1, "momentum": 0.9}),
        ("Adam", {}),
        ("AdamW", {}),
        ("RMSprop", {}),
        ("Adagrad", {}),
        ("NAdam", {}),
        ("RAdam", {}),
    ]:
        bench(name, kw, sizes if name in ("SGD", "Adam") else [sizes[2], mlp])
    for name, kw in [("Adam", {}), ("SGD", {"lr": 0.1, "momentum": 0.9})]:
        bench_subnormal(name, kw, steps=410)  # the dead half's state within 2^-100 .. 2^-50
        bench_subnormal(name, kw)
    # the chunk-by-chunk path (what the calibration picks where subnormals are dear: Intel) on
    # state within 2^-100 .. 2^-50: each kind's bounds keep it on the float kernel
    for name, kw in [("Adam", {}), ("SGD", {"lr": 0.1, "momentum": 0.9}), ("NAdam", {}), ("RAdam", {}),
                     ("Adamax", {}), ("RMSprop", {"momentum": 0.9})]:
        bench_subnormal(name, kw, steps=410, path="chunk")

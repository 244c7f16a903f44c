"""Transformer and embedding building blocks, forward + backward (and AdamW's step): ember vs torch,
interleaved in one process, medians (microseconds) and the torch/ember ratio (> 1: ember faster).

    PYTHONPATH=build/dev/stage python3 bench/bench_blocks.py [--threads 1] [--rounds 3]
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("GOMP_SPINCOUNT", "1000000")  # see compare_torch.py

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402

CASES = {}


def case(name):
    def deco(fn):
        CASES[name] = fn
        return fn
    return deco


def tensor(L, rng, *shape, grad=True):
    t = L.from_numpy(rng.standard_normal(shape).astype(np.float32))
    return t.requires_grad_() if grad else t


@case("layer_norm (2048,128)")
def _ln(L, rng):
    x, ln = tensor(L, rng, 32 * 64, 128), L.nn.LayerNorm(128)
    return lambda: ln(x).sum().backward()


@case("gelu (2048,512)")
def _gelu(L, rng):
    x = tensor(L, rng, 2048, 512)
    return lambda: L.nn.functional.gelu(x).sum().backward()


@case("gelu tanh (2048,512)")
def _gelu_tanh(L, rng):
    x = tensor(L, rng, 2048, 512)
    return lambda: L.nn.functional.gelu(x, approximate="tanh").sum().backward()


@case("sdpa (32,4,64,32)")
def _sdpa(L, rng):
    q, k, v = (tensor(L, rng, 32, 4, 64, 32) for _ in range(3))
    return lambda: L.nn.functional.scaled_dot_product_attention(q, k, v).sum().backward()


@case("linear (32,64,128)->512")
def _linear(L, rng):
    x, lin = tensor(L, rng, 32, 64, 128), L.nn.Linear(128, 512)
    return lambda: lin(x).sum().backward()


@case("softmax (32,4,64,64)")
def _softmax(L, rng):
    x = tensor(L, rng, 32, 4, 64, 64)
    return lambda: L.softmax(x, -1).sum().backward()


@case("dropout (2048,512)")
def _dropout(L, rng):
    x, d = tensor(L, rng, 2048, 512), L.nn.Dropout(0.1)
    return lambda: d(x).sum().backward()


@case("embedding (32,64) of 1000x128")
def _embedding(L, rng):
    e, idx = L.nn.Embedding(1000, 128), L.from_numpy(rng.integers(0, 1000, (32, 64)))
    return lambda: e(idx).sum().backward()


@case("AdamW step, 4x(512,512)")
def _adamw(L, rng):
    ps = [L.nn.Parameter(tensor(L, rng, 512, 512, grad=False)) for _ in range(4)]
    for p in ps:
        p.grad = tensor(L, rng, 512, 512, grad=False)
    return L.optim.AdamW(ps, lr=1e-3).step


@case("encoder step, 2 layers d128 h4 ff512, (32,64)")
def _encoder(L, rng):
    """A 2-layer post-norm Transformer encoder built from the blocks above (no nn.Transformer*
    yet), dropout 0.1, MSE to a random target, AdamW: one training step."""
    B, S, D, H, FF = 32, 64, 128, 4, 512
    n, F = L.nn, L.nn.functional
    L.manual_seed(0)
    layers = n.ModuleList([
        n.ModuleDict({"qkv": n.Linear(D, 3 * D), "out": n.Linear(D, D), "ln1": n.LayerNorm(D),
                      "ff1": n.Linear(D, FF), "ff2": n.Linear(FF, D), "ln2": n.LayerNorm(D)})
        for _ in range(2)])
    opt = L.optim.AdamW(layers.parameters(), lr=1e-3)
    x, target = tensor(L, rng, B, S, D, grad=False), tensor(L, rng, B, S, D, grad=False)

    def step():
        h = x
        for m in layers:
            q, k, v = m["qkv"](h).reshape(B, S, 3, H, D // H).permute(2, 0, 3, 1, 4).unbind(0)
            a = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, S, D)
            h = m["ln1"](h + F.dropout(m["out"](a), 0.1))
            h = m["ln2"](h + F.dropout(m["ff2"](F.dropout(F.gelu(m["ff1"](h)), 0.1)), 0.1))
        opt.zero_grad()
        ((h - target) ** 2).mean().backward()
        opt.step()

    return step


def median_time(f, inner=50, reps=11):
    for _ in range(5):
        f()
    t = time.perf_counter()
    f()
    inner = max(1, min(inner, int(0.02 / max(time.perf_counter() - t, 1e-9))))  # ~20 ms a rep
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(inner):
            f()
        ts.append((time.perf_counter() - t) / inner)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case (median taken)")
    args = ap.parse_args()
    ember.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"# {args.threads} thread(s), fwd+bwd unless noted, median of {args.rounds} interleaved rounds")
    print(f"{'block':48s} {'ember_us':>10s} {'torch_us':>10s} {'torch/ember':>12s}")
    for name, build in CASES.items():
        fe, ft = build(ember, np.random.default_rng(0)), build(torch, np.random.default_rng(0))
        te, tt = [], []
        for _ in range(args.rounds):
            te.append(median_time(fe))
            tt.append(median_time(ft))
        e, t = statistics.median(te), statistics.median(tt)
        print(f"{name:48s} {e * 1e6:10.1f} {t * 1e6:10.1f} {t / e:12.2f}")


if __name__ == "__main__":
    main()

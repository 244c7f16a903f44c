"""A sweep of common tensor ops on a (256, 1024) float32 tensor: ember vs torch, interleaved per
op, medians (microseconds), sorted by the torch/ember ratio (< 1: ember is slower) to find the
slow paths. One thread unless --threads.

    PYTHONPATH=build/dev/stage python3 bench/bench_ops.py [--threads 1] [--only sum norm ...]
"""

import argparse
import statistics
import time

import numpy as np
import torch

import ember

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=1)
ap.add_argument(
    "--only", nargs="+", default=None, help="run only the ops whose name starts with one of these"
)
args = ap.parse_args()
ember.set_num_threads(args.threads)
torch.set_num_threads(args.threads)

rng = np.random.default_rng(0)
A = rng.standard_normal((256, 1024)).astype(np.float32)
B = rng.standard_normal((256, 1024)).astype(np.float32)
I = rng.integers(0, 256, 512)
M = A > 0


def mk(L):
    # each library's own copy, from its own allocator: numpy's buffers are 16-byte aligned at
    # arbitrary page offsets, and an input 4 KiB-aliased with the op's output (its load addresses
    # matching earlier stores' in the low 12 bits) slows a pass over 1 MB by ~20% in either library
    # (-a: 29.9 against 23.3 us for ember, with the same code), by chance of where numpy put it
    return tuple(L.from_numpy(x).clone() for x in (A, B, I, M))


cases = {
    "sum": lambda L, a, b, i, m: a.sum(),
    "sum(1)": lambda L, a, b, i, m: a.sum(1),
    "sum(0)": lambda L, a, b, i, m: a.sum(0),
    "mean(1)": lambda L, a, b, i, m: a.mean(1),
    "var(1)": lambda L, a, b, i, m: a.var(1),
    "std(0)": lambda L, a, b, i, m: a.std(0),
    "max(1)": lambda L, a, b, i, m: a.max(1),
    "amax(0)": lambda L, a, b, i, m: a.amax(0),
    "argmax(1)": lambda L, a, b, i, m: a.argmax(1),
    "norm": lambda L, a, b, i, m: a.norm(),
    "norm(dim=1)": lambda L, a, b, i, m: a.norm(dim=1),
    "logsumexp(1)": lambda L, a, b, i, m: L.logsumexp(a, 1),
    "softmax(1)": lambda L, a, b, i, m: L.softmax(a, 1),
    "log_softmax(0)": lambda L, a, b, i, m: L.log_softmax(a, 0),
    "abs": lambda L, a, b, i, m: a.abs(),
    "neg": lambda L, a, b, i, m: -a,
    "sqrt(abs)": lambda L, a, b, i, m: a.abs().sqrt(),
    "a*b": lambda L, a, b, i, m: a * b,
    "a/b": lambda L, a, b, i, m: a / b,
    "a-2*b": lambda L, a, b, i, m: L.sub(a, b, alpha=2),
    "a.add_(b,alpha)": lambda L, a, b, i, m: a.add_(b, alpha=0.5),
    "a>b": lambda L, a, b, i, m: a > b,
    "a>0": lambda L, a, b, i, m: a > 0,
    "where": lambda L, a, b, i, m: L.where(m, a, b),
    "masked_fill": lambda L, a, b, i, m: a.masked_fill(m, 0.0),
    "a[m]": lambda L, a, b, i, m: a[m],
    "maximum": lambda L, a, b, i, m: L.maximum(a, b),
    "clamp(-1,1)": lambda L, a, b, i, m: a.clamp(-1, 1),
    "t().contiguous()": lambda L, a, b, i, m: a.t().contiguous(),
    "clone": lambda L, a, b, i, m: a.clone(),
    "cat0": lambda L, a, b, i, m: L.cat([a, b], 0),
    "cat1": lambda L, a, b, i, m: L.cat([a, b], 1),
    "stack": lambda L, a, b, i, m: L.stack([a, b]),
    "index_select": lambda L, a, b, i, m: a.index_select(0, i),
    "a[i]": lambda L, a, b, i, m: a[i],
    "gather": lambda L, a, b, i, m: a.gather(1, i[:256, None].expand(256, 4) % 1024),
    "a[:, ::2]": lambda L, a, b, i, m: a[:, ::2].contiguous(),
    "reshape-perm": lambda L, a, b, i, m: a.reshape(16, 16, 1024).permute(1, 0, 2).contiguous(),
    "cumsum(1)": lambda L, a, b, i, m: a.cumsum(1),
    "exp": lambda L, a, b, i, m: a.exp(),
    "tanh": lambda L, a, b, i, m: a.tanh(),
    "sigmoid": lambda L, a, b, i, m: a.sigmoid(),
    "relu": lambda L, a, b, i, m: L.relu(a),
    "float->double": lambda L, a, b, i, m: a.double(),
    "sign": lambda L, a, b, i, m: a.sign(),
    "round": lambda L, a, b, i, m: a.round(),
    "floor": lambda L, a, b, i, m: a.floor(),
    "a%3": lambda L, a, b, i, m: a % 3,
    "a//3": lambda L, a, b, i, m: a // 3,
    "a%b": lambda L, a, b, i, m: a % b,
    "fmod(a,b)": lambda L, a, b, i, m: L.fmod(a, b),
    "isnan": lambda L, a, b, i, m: a.isnan(),
    "any": lambda L, a, b, i, m: (a > 5).any(),
    "all(1)": lambda L, a, b, i, m: (a > -5).all(1),
    "mm 256x1024x256": lambda L, a, b, i, m: a @ b.t()[:, :256],
    "fill_": lambda L, a, b, i, m: a.fill_(1.0),
    "zero_": lambda L, a, b, i, m: a.zero_(),
    "zeros_like": lambda L, a, b, i, m: L.zeros_like(a),
    "randn": lambda L, a, b, i, m: L.randn(256, 1024),
    "rand": lambda L, a, b, i, m: L.rand(256, 1024),
    "a.sum()*float": lambda L, a, b, i, m: float(a.sum()),
    "mse_loss": lambda L, a, b, i, m: L.nn.functional.mse_loss(a, b),
    "l1_loss": lambda L, a, b, i, m: L.nn.functional.l1_loss(a, b),
    "smooth_l1": lambda L, a, b, i, m: L.nn.functional.smooth_l1_loss(a, b),
    "bce_logits": lambda L, a, b, i, m: L.nn.functional.binary_cross_entropy_with_logits(
        a, (b > 0).float()
    ),
    "cosine_sim": lambda L, a, b, i, m: L.nn.functional.cosine_similarity(a, b),
    "normalize": lambda L, a, b, i, m: L.nn.functional.normalize(a),
    "dropout(train)": lambda L, a, b, i, m: L.nn.functional.dropout(a, 0.1, True),
    "layer_norm": lambda L, a, b, i, m: L.nn.functional.layer_norm(a, (1024,)),
    "topk(5)": lambda L, a, b, i, m: a.topk(5),
    "sort(1)": lambda L, a, b, i, m: a.sort(1),
    "repeat": lambda L, a, b, i, m: a[:16].repeat(4, 2),
    "expand+contig": lambda L, a, b, i, m: a[:1].expand(256, 1024).contiguous(),
    "flip": lambda L, a, b, i, m: L.flip(a, [1]),
    "roll": lambda L, a, b, i, m: L.roll(a, 3, 1),
    "tril": lambda L, a, b, i, m: L.tril(a[:, :256]),
    "pad": lambda L, a, b, i, m: L.nn.functional.pad(a, (1, 1, 1, 1)),
    "interp": lambda L, a, b, i, m: L.nn.functional.interpolate(
        a.reshape(1, 1, 256, 1024), scale_factor=0.5
    ),
}
res = []
for name, f in cases.items():
    if args.only and not any(name.startswith(o) for o in args.only):
        continue
    r = {}
    try:
        for L in (ember, torch):
            inputs = mk(L)
            f(L, *inputs)
            ts = []
            reps = 5
            for _ in range(15):
                t0 = time.perf_counter()
                for _ in range(reps):
                    f(L, *inputs)
                ts.append((time.perf_counter() - t0) / reps)
            r[L.__name__] = statistics.median(ts) * 1e6
        res.append((r["torch"] / r["ember"], name, r["ember"], r["torch"]))
    except Exception as e:
        print(f"{name:18s} ERROR {type(e).__name__}: {str(e)[:90]}")
for ratio, name, e, t in sorted(res):
    print(f"{name:18s} ember {e:9.1f} us  torch {t:9.1f} us  torch/ember {ratio:5.2f}")

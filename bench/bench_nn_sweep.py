"""Forward + backward of common nn building blocks (activations, losses, norms, pooling, padding,
indexing, reductions): ember against torch, interleaved, medians of 3 rounds. Cases ember lacks
print an ERROR line (a list of API gaps as well as of speeds).

    PYTHONPATH=build/dev/stage python3 bench/bench_nn_sweep.py [threads] [name prefixes ...]
"""

import statistics
import sys
import time

import ember
import numpy as np
import torch

nt = int(sys.argv[1]) if len(sys.argv) > 1 else 1
ember.set_num_threads(nt)
torch.set_num_threads(nt)


def med(fn, n=15):
    for _ in range(3):
        fn()
    s = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        s.append(time.perf_counter() - t0)
    return statistics.median(s) * 1e6


rng = np.random.default_rng(0)


def T(L, *shape, grad=True, lo=None):
    a = (
        rng.standard_normal(shape).astype(np.float32)
        if lo is None
        else rng.uniform(lo, 1, shape).astype(np.float32)
    )
    t = L.from_numpy(a.copy())
    return t.requires_grad_() if grad else t


CASES = {
    "pad reflect": ((16, 32, 32, 32),),
    "pad replicate": ((16, 32, 32, 32),),
    "pad const": ((16, 32, 32, 32),),
    "pixel_shuffle": ((16, 64, 16, 16),),
    "group_norm": ((16, 64, 16, 16),),
    "instance_norm": ((16, 64, 16, 16),),
    "avg_pool3x3s1": ((16, 32, 32, 32),),
    "adaptive_avg(1)": ((64, 128, 8, 8),),
    "adaptive_avg(7)": ((16, 64, 28, 28),),
    "max_pool3x3s2": ((16, 32, 32, 32),),
    "dropout2d": ((16, 64, 16, 16),),
    "conv_transpose2d": ((16, 32, 16, 16),),
    "log_softmax": ((256, 1000),),
    "nll": ((256, 1000),),
    "bce": ((256, 1000),),
    "kl_div": ((256, 1000),),
    "cosine_sim": ((256, 1000),),
    "normalize": ((256, 1000),),
    "unfold": ((16, 16, 32, 32),),
    "cdist": ((256, 64),),
    "bmm": ((32, 64, 64),),
    "silu": ((256, 4096),),
    "leaky_relu": ((256, 4096),),
    "elu": ((256, 4096),),
    "hardswish": ((256, 4096),),
    "softplus": ((256, 4096),),
    "mish": ((256, 4096),),
    "logsigmoid": ((256, 4096),),
    "huber": ((256, 4096),),
    "smooth_l1": ((256, 4096),),
    "l1": ((256, 4096),),
    "mse": ((256, 4096),),
    "cross_entropy ls": ((256, 1000),),
    "batch_norm1d": ((256, 512),),
    "lstm": ((1,),),
    "depthwise conv": ((16, 64, 32, 32),),
    "std(1)": ((256, 4096),),
    "cumsum": ((256, 4096),),
    "masked_fill": ((256, 4096),),
    "where": ((256, 4096),),
    "clamp": ((256, 4096),),
    "pow2": ((256, 4096),),
    "pow1.5": ((256, 4096),),
    "max(1)": ((256, 4096),),
    "norm(1)": ((256, 4096),),
    "einsum": ((32, 64, 64),),
    "sort grad": ((256, 256),),
    "topk grad": ((256, 1024),),
    "gather grad": ((256, 1024),),
    "index_select grad": ((256, 1024),),
    "repeat grad": ((64, 1024),),
    "cat grad": ((256, 1024),),
    "stack grad": ((256, 1024),),
    "transpose-contig grad": ((256, 1024),),
    "mean(0)": ((256, 4096),),
    "var": ((256, 4096),),
    "prod(1)": ((256, 64),),
}


def make(L, name, shape):
    F = L.nn.functional
    x = T(L, *shape)
    if name.startswith("pad "):
        mode = name.split()[1]
        mode = "constant" if mode == "const" else mode
        return lambda: F.pad(x, (2, 2, 2, 2), mode=mode).sum().backward()
    if name == "pixel_shuffle":
        return lambda: F.pixel_shuffle(x, 2).sum().backward()
    if name == "group_norm":
        m = L.nn.GroupNorm(8, 64)
        return lambda: m(x).sum().backward()
    if name == "instance_norm":
        m = L.nn.InstanceNorm2d(64, affine=True)
        return lambda: m(x).sum().backward()
    if name == "avg_pool3x3s1":
        return lambda: F.avg_pool2d(x, 3, 1, 1).sum().backward()
    if name.startswith("adaptive_avg"):
        k = int(name[-2])
        return lambda: F.adaptive_avg_pool2d(x, k).sum().backward()
    if name == "max_pool3x3s2":
        return lambda: F.max_pool2d(x, 3, 2, 1).sum().backward()
    if name == "dropout2d":
        return lambda: F.dropout2d(x, 0.2, True).sum().backward()
    if name == "conv_transpose2d":
        m = L.nn.ConvTranspose2d(32, 16, 4, 2, 1)
        return lambda: m(x).sum().backward()
    if name == "depthwise conv":
        m = L.nn.Conv2d(64, 64, 3, padding=1, groups=64)
        return lambda: m(x).sum().backward()
    if name == "log_softmax":
        return lambda: F.log_softmax(x, 1).sum().backward()
    y = L.from_numpy(rng.integers(0, 1000, 256))
    if name == "nll":
        return lambda: F.nll_loss(F.log_softmax(x, 1), y).backward()
    if name == "cross_entropy ls":
        return lambda: F.cross_entropy(x, y, label_smoothing=0.1).backward()
    t = T(L, *shape, grad=False, lo=0.0)
    if name == "bce":
        return lambda: F.binary_cross_entropy(x.sigmoid(), t).backward()
    if name == "kl_div":
        return lambda: F.kl_div(
            F.log_softmax(x, 1), F.softmax(t, 1), reduction="batchmean"
        ).backward()
    if name == "cosine_sim":
        return lambda: F.cosine_similarity(x, t).sum().backward()
    if name == "normalize":
        return lambda: F.normalize(x).sum().backward()
    if name == "unfold":
        return lambda: F.unfold(x, 3, padding=1).sum().backward()
    if name == "cdist":
        z = T(L, 128, 64)
        return lambda: L.cdist(x, z).sum().backward()
    if name == "bmm":
        z = T(L, *shape)
        return lambda: L.bmm(x, z).sum().backward()
    if name == "einsum":
        z = T(L, *shape)
        return lambda: L.einsum("bij,bjk->bik", x, z).sum().backward()
    acts = {
        "silu": F.silu,
        "leaky_relu": F.leaky_relu,
        "elu": F.elu,
        "hardswish": F.hardswish,
        "softplus": F.softplus,
        "mish": F.mish,
        "logsigmoid": F.logsigmoid,
    }
    if name in acts:
        f = acts[name]
        return lambda: f(x).sum().backward()
    if name == "huber":
        return lambda: F.huber_loss(x, t).backward()
    if name == "smooth_l1":
        return lambda: F.smooth_l1_loss(x, t).backward()
    if name == "l1":
        return lambda: F.l1_loss(x, t).backward()
    if name == "mse":
        return lambda: F.mse_loss(x, t).backward()
    if name == "batch_norm1d":
        m = L.nn.BatchNorm1d(512)
        return lambda: m(x).sum().backward()
    if name == "lstm":
        m = L.nn.LSTM(64, 128, batch_first=True)
        z = T(L, 16, 32, 64)
        return lambda: m(z)[0].sum().backward()
    if name == "std(1)":
        return lambda: x.std(1).sum().backward()
    if name == "cumsum":
        return lambda: x.cumsum(1).sum().backward()
    mk = L.from_numpy(rng.standard_normal(shape) > 0)
    if name == "masked_fill":
        return lambda: x.masked_fill(mk, 0.0).sum().backward()
    if name == "where":
        return lambda: L.where(mk, x, t).sum().backward()
    if name == "clamp":
        return lambda: x.clamp(-0.5, 0.5).sum().backward()
    if name == "pow2":
        return lambda: (x**2).sum().backward()
    if name == "pow1.5":
        return lambda: (t**1.5).sum() if False else (x.abs() ** 1.5).sum().backward()
    if name == "max(1)":
        return lambda: x.max(1)[0].sum().backward()
    if name == "norm(1)":
        return lambda: x.norm(dim=1).sum().backward()
    if name == "sort grad":
        return lambda: x.sort(1)[0][:, :10].sum().backward()
    if name == "topk grad":
        return lambda: x.topk(5, 1)[0].sum().backward()
    gi = L.from_numpy(rng.integers(0, shape[1], shape))
    if name == "gather grad":
        return lambda: x.gather(1, gi).sum().backward()
    ii = L.from_numpy(rng.integers(0, shape[0], shape[0]))
    if name == "index_select grad":
        return lambda: x.index_select(0, ii).sum().backward()
    if name == "repeat grad":
        return lambda: x.repeat(2, 2).sum().backward()
    if name == "cat grad":
        return lambda: L.cat([x, x], 1).sum().backward()
    if name == "stack grad":
        return lambda: L.stack([x, x]).sum().backward()
    if name == "transpose-contig grad":
        return lambda: x.t().contiguous().sum().backward()
    if name == "mean(0)":
        return lambda: x.mean(0).sum().backward()
    if name == "var":
        return lambda: x.var().backward()
    if name == "prod(1)":
        return lambda: (x * 0.1 + 1).prod(1).sum().backward()
    raise KeyError(name)


only = sys.argv[2:]
for name, (shape,) in CASES.items():
    if only and not any(name.startswith(o) for o in only):
        continue
    try:
        fe = make(ember, name, shape)
        fe()
    except Exception as e:  # noqa: BLE001 (a missing op or option is reported, not fatal)
        print(f"{name:22s} ember ERROR {type(e).__name__}: {str(e)[:80]}")
        continue
    ft = make(torch, name, shape)
    e = []
    t = []
    for _ in range(3):
        e.append(med(fe))
        t.append(med(ft))
    e, t = statistics.median(e), statistics.median(t)
    print(f"{name:22s} ember {e:9.1f} us  torch {t:9.1f} us  torch/ember {t / e:5.2f}", flush=True)

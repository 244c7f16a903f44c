"""Ember vs PyTorch on the CPU, side by side in one process, interleaved, medians and ratios.

    pip install ".[bench]"   # torch 2.13
    python bench/compare_torch.py [--threads 1 2] [--repeat 15] [--quick] [--json out.json] [--peak auto]
                                  [--only gemm conv train overhead scaling rss] [--isa avx2]

Workloads follow the performance issue: SGEMM, convolution forward+backward, training steps of an
MLP, LeNet-5, the main job's LeNet with BatchNorm (ember.apps.fashion_mnist), a one-conv CIFAR net,
a small VGG and a 2-layer Transformer encoder (written out from Linear, LayerNorm, softmax and
matmul, the same code in both libraries), per-op overhead, a tiny
Linear step, the 2-thread speed-up of the conv nets' steps (1 and 2 threads in alternating blocks),
and peak RSS (measured in fresh subprocesses). Ratio = torch time / ember time (> 1: ember is
faster).
Unset OPENBLAS_CORETYPE for the numpy GEMM column to show OpenBLAS's full speed. GEMM rates are
printed as % of the FP32 FMA peak: --peak auto (the default where a C compiler is found) builds
bench/fma_peak.c and runs it, one copy per thread, right before and right after each thread
count's GEMM rows (the machine's speed drifts; the higher of the two is used); --peak 240 takes
a fixed per-core figure instead.
--isa avx2 runs both libraries as on a CPU without AVX-512 (most laptops and desktops): Ember through
EMBER_ISA=avx2, which caps every kernel's dispatch, torch through ATEN_CPU_CAPABILITY=avx2 and
ONEDNN_MAX_CPU_ISA=AVX2. The % of peak is still of the machine's own (AVX-512) FMA peak.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

# Ember and torch share one libgomp here. With both libraries' thread teams alive (3 threads on 2
# cores), libgomp throttles its idle spinning to ~1000 rounds, workers sleep between calls, and
# 2-thread ops of either library then wait up to a scheduler tick to wake them (n = 512 GEMMs took
# 8 ms instead of 0.74). A spin count set before either library loads keeps both teams awake, as
# they are when each library runs alone.
os.environ.setdefault("GOMP_SPINCOUNT", "1000000")

# --isa must act before either library loads (both read their caps once, at import)
_pre = argparse.ArgumentParser(add_help=False)
_pre.add_argument("--isa", choices=["native", "avx2"], default="native")
if _pre.parse_known_args()[0].isa == "avx2":
    os.environ.update(EMBER_ISA="avx2", ATEN_CPU_CAPABILITY="avx2", ONEDNN_MAX_CPU_ISA="AVX2")

import torch  # noqa: E402

import ember  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from copies import Copies, throughput  # noqa: E402

LIBS = {"ember": ember, "torch": torch}


SETTLE_S = 0.3


_FMA_EXE = []


def fma_peak(nt):
    """FP32 FMA peak of nt cores now, GFLOP/s: bench/fma_peak.c (built once with cc), nt copies at
    once; None without a C compiler."""
    import shutil
    import tempfile
    if not _FMA_EXE:
        cc = shutil.which("cc") or shutil.which("gcc")
        exe = os.path.join(tempfile.mkdtemp(prefix="ember_fma_"), "fma_peak")
        src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fma_peak.c")
        flags = [] if ember._C._cpu_isa() == "avx512" else ["-DYMM"]
        ok = cc and subprocess.run([cc, "-O2", *flags, src, "-o", exe], capture_output=True).returncode == 0
        _FMA_EXE.append(exe if ok else None)
    if _FMA_EXE[0] is None:
        return None
    procs = [subprocess.Popen([_FMA_EXE[0]], stdout=subprocess.PIPE, text=True) for _ in range(nt)]
    return sum(float(p.communicate()[0].split()[0]) for p in procs)


def other_load(window=0.2):
    """Share of all CPUs busy during `window` seconds while this process sleeps (Linux /proc/stat):
    other processes. With 2 cores, anything else running makes every 2-thread op wait for a
    scheduler tick at its barrier (0.74 ms GEMMs measured 8 ms), so such rows are flagged."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    try:
        t0, i0 = snap()
        time.sleep(window)
        t1, i1 = snap()
    except OSError:
        return 0.0
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def get_threads():
    return ember.get_num_threads()


WARMUP_S = 0.05


def timeit(fn, repeat, inner=1, warmup=2, warmup_s=0.0, min_s=0.0):
    """Samples of fn's time (seconds per call): at least `warmup` calls and `warmup_s` seconds of
    warm-up first, then at least `repeat` samples and `min_s` seconds of them."""
    t0 = time.perf_counter()
    k = 0
    while k < warmup or time.perf_counter() - t0 < warmup_s:
        fn()
        k += 1
    out = []
    t0 = time.perf_counter()
    while len(out) < repeat or time.perf_counter() - t0 < min_s:
        t = time.perf_counter()
        for _ in range(inner):
            fn()
        out.append((time.perf_counter() - t) / inner)
    return out


def cpu_model():
    """The CPU's name and x86 family/model from /proc/cpuinfo (the shared machines differ: family
    25 is Zen 3/4, whose AVX-512 runs on 256-bit units, about half the FP32 peak of family 26,
    Zen 5), so runs from different machines are not compared as one."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                k, _, v = line.partition(":")
                fields[k.strip()] = v.strip()
    except OSError:
        return platform.processor() or "unknown"
    return (f"{fields.get('model name', '?')} (family {fields.get('cpu family', '?')}, "
            f"model {fields.get('model', '?')})")


def interleaved(makers, repeat, inner=1, rounds=3):
    """makers: {name: () -> fn}. Alternates the libraries in blocks (a pause at 2+ threads, a
    warm-up, then repeat/rounds timed samples each). The pause lets the previous library's idle
    OpenMP pool stop spinning. After it, the first calls of either library run slow (sleeping
    workers, cold caches; a 2-thread LeNet step 1.45-1.6 ms for ~5 calls, then 1.28), so each
    block warms up for at least WARMUP_S seconds. Returns medians in seconds."""
    fns = {k: m() for k, m in makers.items()}
    samples = {k: [] for k in fns}
    per = max(1, -(-repeat // rounds))
    for _ in range(rounds):
        for k, f in fns.items():
            if get_threads() > 1:
                time.sleep(SETTLE_S)
            samples[k] += timeit(f, per, inner, warmup=2, warmup_s=WARMUP_S)
    return {k: statistics.median(v) for k, v in samples.items()}


NUMPY_GEMM = """
import os, statistics, sys, time
import numpy as np
n, repeat, inner = (int(a) for a in sys.argv[1:4])
a = np.random.standard_normal((n, n)).astype(np.float32)
b = np.random.standard_normal((n, n)).astype(np.float32)
for _ in range(2):
    a @ b
ts = []
for _ in range(repeat):
    t = time.perf_counter()
    for _ in range(inner):
        a @ b
    ts.append((time.perf_counter() - t) / inner)
print(statistics.median(ts))
"""


def numpy_gemm(n, threads, repeat, inner):
    """numpy's GEMM in a subprocess with OPENBLAS_NUM_THREADS=threads: in this process its
    OpenBLAS workers, once woken, slowed the next ember or torch 2-thread GEMM row up to 10x."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", NUMPY_GEMM, str(n), str(repeat), str(inner)], env=env,
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def gemm_copies(n, nt, t1, rounds=3):
    """GFLOP/s of nt 1-thread copies of Ember's n x n GEMM run at once (bench/copies.py), t1 the
    expected seconds of one call on one thread: per copy the median over `rounds` windows."""
    together = [[] for _ in range(nt)]
    with Copies(f"gemm:{n}", nt) as cp:
        for _ in range(rounds):
            time.sleep(SETTLE_S)
            together = [x + y for x, y in zip(together, cp.window(max(0.3, 5 * t1)))]
    return sum(2 * n ** 3 / statistics.median(s) for s in together if s)


# --- workloads -----------------------------------------------------------------------------------
def gemm(n):
    def make(L):
        a = L.randn(n, n)
        b = L.randn(n, n)
        return lambda: L.mm(a, b)

    return {"ember": lambda: make(ember), "torch": lambda: make(torch)}, 2 * n ** 3


def conv(shape, out_c, k, p):
    def make(L):
        x = L.randn(*shape, requires_grad=True)
        layer = L.nn.Conv2d(shape[1], out_c, k, padding=p)

        def step():
            x.grad = None
            layer.zero_grad()
            layer(x).sum().backward()

        return step

    return {"ember": lambda: make(ember), "torch": lambda: make(torch)}


from workloads import MODELS, train_step_for  # noqa: E402


def train_step(name):
    return {"ember": lambda: train_step_for(ember, name), "torch": lambda: train_step_for(torch, name)}


SCALING_BLOCK_S = 0.2


def thread_scaling(name, repeat, rounds=7):
    """2-thread speed-up of a training step, for each library: its step timed in blocks that
    alternate between 1 and 2 threads (a pause before each block, a warm-up in it), so both thread
    counts see the same phases of this shared machine; median 1-thread time / median 2-thread
    time. (The train rows run every 1-thread row first and then every 2-thread row, minutes apart:
    their ratio for LeNet ranged 1.26-1.82x over six runs.) Each block times at least
    SCALING_BLOCK_S seconds of steps: this machine's phases last seconds, and blocks of three LeNet
    steps (7 ms) gave medians that moved by 0.3x between runs."""
    out = {}
    for lib, L in LIBS.items():
        step = train_step_for(L, name)
        samples = {1: [], 2: []}
        per = max(1, -(-repeat // rounds))
        # Ember's rounds add a block of two 1-thread copies of its step in worker processes
        # (bench/copies.py): what the machine gives to two streams that share nothing, now.
        copies = Copies(f"train:{name}", 2) if lib == "ember" else None
        alone, together = [], [[], []]
        try:
            for _ in range(rounds):
                for nt in (1, 2):
                    L.set_num_threads(nt)
                    time.sleep(SETTLE_S)
                    samples[nt] += timeit(step, per, warmup=2, warmup_s=WARMUP_S,
                                          min_s=SCALING_BLOCK_S)
                if copies:
                    window = max(SCALING_BLOCK_S, per * statistics.median(samples[1]))
                    a, t = copies.rounds(1, window, pause=SETTLE_S)
                    alone += a
                    together = [x + y for x, y in zip(together, t)]
        finally:
            if copies:
                copies.close()
        out[lib] = statistics.median(samples[1]) / statistics.median(samples[2])
        if copies:
            out["copies"] = throughput(alone, together)
    return out


def small_add(graph):
    def make(L):
        a = L.ones(1, requires_grad=graph)
        b = L.ones(1)
        return lambda: a + b

    return {"ember": lambda: make(ember), "torch": lambda: make(torch)}


def tiny_linear():
    def make(L):
        layer = L.nn.Linear(8, 8)
        x = L.randn(1, 8)

        def step():
            layer.zero_grad()
            layer(x).sum().backward()

        return step

    return {"ember": lambda: make(ember), "torch": lambda: make(torch)}


RSS_CODE = """
import sys
lib = sys.argv[1]; model = sys.argv[2]
L = __import__(lib)
if model != "import":
    sys.path.insert(0, {bench!r})
    import workloads
    step = workloads.train_step_for(L, model)
    for _ in range(50):
        step()
# VmHWM: this process's peak RSS (ru_maxrss would include the forking parent's peak)
print([int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024)
"""


def peak_rss(lib, model):
    code = RSS_CODE.format(bench=os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", code, lib, model], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="fewer sizes and repeats (smoke run)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", nargs="+", default=None, metavar="SECTION",
                    choices=["gemm", "conv", "train", "overhead", "scaling", "rss"],
                    help="run only these sections (default: all)")
    ap.add_argument("--isa", choices=["native", "avx2"], default="native",
                    help="avx2: both libraries capped to AVX2 kernels (a CPU without AVX-512)")
    ap.add_argument("--peak", default="auto",
                    help="FP32 FMA peak per core in GFLOP/s for the GEMM rows' %% of peak, or 'auto' "
                         "(measured in the run by bench/fma_peak.c), or 'none'")
    args = ap.parse_args()
    rep = 3 if args.quick else args.repeat
    run = lambda section: args.only is None or section in args.only  # noqa: E731
    rows = []
    info = {"machine": platform.processor() or platform.machine(), "cpu": cpu_model(),
            "python": platform.python_version(), "torch": torch.__version__,
            "ember": ember.__version__, "cpus": os.cpu_count(), "ember_isa": ember._C._cpu_isa(),
            "ember_gemm_isa": ember._C._gemm_isa(), "torch_isa": torch.backends.cpu.get_cpu_capability(),
            "date": time.strftime("%Y-%m-%d")}
    print(f"# {info}")

    def report(name, threads, med, unit="ms", scale=1e3, extra=""):
        e, t = med["ember"], med["torch"]
        row = {"workload": name, "threads": threads, "ember": e * scale, "torch": t * scale,
               "ratio": t / e, "unit": unit}
        if threads > 1:
            busy = other_load()
            row["other_load"] = busy
            if busy > 0.1:
                extra += f"  [!] machine {100 * busy:.0f}% busy with other work: 2-thread row unreliable"
        if "numpy" in med:
            row["numpy"] = med["numpy"] * scale
        rows.append(row)
        np_part = f"  numpy {row['numpy']:9.3f}" if "numpy" in row else ""
        print(f"{name:44s} {threads}T  ember {row['ember']:9.3f}  torch {row['torch']:9.3f}{np_part} {unit}"
              f"  torch/ember {row['ratio']:5.2f}{extra}")

    for nt in args.threads:
        ember.set_num_threads(nt)
        torch.set_num_threads(nt)
        sizes = [] if not run("gemm") else [512] if args.quick else [128, 512, 1024, 2048]
        gemm_rows = []
        peaks = [fma_peak(nt)] if sizes and args.peak == "auto" else []
        for n in sizes:
            makers, flops = gemm(n)
            inner = max(1, 2 ** 24 // n ** 3 * 4)
            med = interleaved(makers, rep, inner=inner)
            med["numpy"] = numpy_gemm(n, nt, rep, inner)
            gf = {k: flops / v / 1e9 for k, v in med.items()}
            if nt > 1:  # nt 1-thread copies of Ember's GEMM at once: the machine's ceiling for the row
                gf["copies"] = gemm_copies(n, nt, med["ember"] * nt) / 1e9
            report(f"sgemm n={n}", nt, med,
                   extra=f"  GFLOP/s ember {gf['ember']:.0f} torch {gf['torch']:.0f} numpy {gf['numpy']:.0f}"
                         + (f" ({nt} 1T copies of ember's {gf['copies']:.0f})"
                            if "copies" in gf else ""))
            rows[-1]["gflops"] = gf
            gemm_rows.append(rows[-1])
        if peaks:
            peaks.append(fma_peak(nt))
        peak = (max(peaks) if peaks and None not in peaks
                else float(args.peak) * nt if args.peak not in ("auto", "none") else None)
        if peak and gemm_rows:
            print(f"{'':44s} {nt}T  FP32 FMA peak {peak:.0f} GFLOP/s"
                  + (f" (measured before / after: {peaks[0]:.0f} / {peaks[1]:.0f})" if peaks else "")
                  + "; ember at " + ", ".join(f"{r['workload'].split('=')[1]}: "
                                               f"{100 * r['gflops']['ember'] / peak:.0f}%" for r in gemm_rows)
                  + ("; its 1T copies at " + ", ".join(f"{100 * r['gflops']['copies'] / peak:.0f}%"
                                                       for r in gemm_rows)
                     if nt > 1 else ""))
            for r in gemm_rows:
                r["peak_gflops"] = peak
                r["ember_pct_of_peak"] = 100 * r["gflops"]["ember"] / peak
                r["torch_pct_of_peak"] = 100 * r["gflops"]["torch"] / peak
                if "copies" in r["gflops"]:
                    r["copies_pct_of_peak"] = 100 * r["gflops"]["copies"] / peak
        for name, shape, oc, k, p in [("conv lenet1 (64,1,28,28)->6 5x5 p2", (64, 1, 28, 28), 6, 5, 2),
                                      ("conv (64,3,32,32)->64 3x3 p1", (64, 3, 32, 32), 64, 3, 1),
                                      ("conv (64,64,16,16)->128 3x3 p1", (64, 64, 16, 16), 128, 3, 1),
                                      ("conv main job's conv2 (64,16,14,14)->32 5x5", (64, 16, 14, 14), 32, 5, 0),
                                      ] if run("conv") else []:
            report(name + " fwd+bwd", nt, interleaved(conv(shape, oc, k, p), rep))
        for m in MODELS if run("train") else []:
            if args.quick and m in ("vgg", "transformer"):
                continue
            report(f"train step {m}", nt, interleaved(train_step(m), rep))
        if nt == args.threads[0] and run("overhead"):
            report("op: add 1-element", nt, interleaved(small_add(False), rep, inner=2000), unit="us", scale=1e6)
            report("op: add 1-element, graph recorded", nt, interleaved(small_add(True), rep, inner=2000),
                   unit="us", scale=1e6)
            report("step: Linear(8,8) fwd+bwd batch 1", nt, interleaved(tiny_linear(), rep, inner=200),
                   unit="us", scale=1e6)
    if run("scaling") and 1 in args.threads and 2 in args.threads:
        for m in ["lenet", "lenet_bn", "one_conv"] + ([] if args.quick else ["vgg"]):
            sp = thread_scaling(m, rep)
            ember.set_num_threads(2)
            busy = other_load()
            rows.append({"workload": f"2T speed-up, train step {m}", "ember": sp["ember"], "torch": sp["torch"],
                         "copies": sp["copies"], "unit": "x", "other_load": busy})
            flag = f"  [!] machine {100 * busy:.0f}% busy with other work: unreliable" if busy > 0.1 else ""
            print(f"{'2T speed-up, train step ' + m:44s}     ember {sp['ember']:9.2f}  torch {sp['torch']:9.2f}"
                  f" x (1T / 2T time, alternating blocks; two 1T copies of ember's step at once: "
                  f"{sp['copies']:.2f}x the work of one){flag}")
    for m in (["import", "lenet"] + ([] if args.quick else ["vgg"])) if run("rss") else []:
        e, t = peak_rss("ember", m), peak_rss("torch", m)
        rows.append({"workload": f"peak RSS {m}", "ember": e, "torch": t, "ratio": t / e, "unit": "MiB"})
        print(f"{'peak RSS ' + m:44s}     ember {e:9.1f}  torch {t:9.1f} MiB  torch/ember {t / e:5.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()

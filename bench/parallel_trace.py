"""Where a multi-threaded training step waits: every parallel region's wall time, each thread's
busy time in it, and the step's serial remainder (Python, autograd, kernels below their threading
threshold). Needs a build with the development option EMBER_TRACE_PARALLEL, which records each
region for ember._C._parallel_trace():

    cmake -S . -B build/trace -G Ninja -DEMBER_DEV_STAGE=ON -DEMBER_TRACE_PARALLEL=ON \\
        -Dpybind11_DIR=$(python3 -c "import pybind11; print(pybind11.get_cmake_dir())")
    ninja -C build/trace
    PYTHONPATH=build/trace/stage python3 bench/parallel_trace.py --model lenet --threads 2

Per region kind (demangled, shortened), per step: calls, wall (entry to exit on the calling
thread), busy0 / busy1 (time in the body on threads 0 and 1), start (the latest thread's start
after entry). wall - max(busy) is fork/join cost; busy0 - busy1 is imbalance. Medians over steps
for the totals, means for the rows. The header's imbalance: per step, the sum over regions of the
busiest thread's time less the threads' mean (what an even split would have saved).
"""
import argparse
import collections
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workloads  # noqa: E402

import ember  # noqa: E402


def short(name):
    for key in ["ember::cpu::", "(anonymous namespace)::", "{lambda(long, long)#1}", "{lambda(long)#1}",
                "{lambda(long)#2}", "ember::"]:
        name = name.replace(key, "")
    return name[:88]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="lenet", choices=sorted(workloads.MODELS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=30)
    args = ap.parse_args()
    if not hasattr(ember._C, "_parallel_trace"):
        sys.exit("this ember build records no regions: rebuild with -DEMBER_TRACE_PARALLEL=ON (see --help)")
    ember.set_num_threads(args.threads)
    step = workloads.train_step_for(ember, args.model)
    for _ in range(args.warmup):
        step()
    ember._C._parallel_trace()
    walls, events = [], []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        walls.append(time.perf_counter() - t0)
        events.append(ember._C._parallel_trace())
    names = sorted({e[0] for ev in events for e in ev})
    demangled = subprocess.run(["c++filt", "-t"], input="\n".join(names), capture_output=True,
                               text=True).stdout.splitlines()
    pretty = dict(zip(names, demangled)) if len(demangled) == len(names) else {n: n for n in names}
    rows = collections.defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0])
    totals = []
    for wall, ev in zip(walls, events):
        totals.append((wall, sum(e[4] - e[3] for e in ev), sum(max(e[6]) for e in ev), len(ev),
                       sum(max(e[6][:e[2]]) - sum(e[6][:e[2]]) / e[2] for e in ev)))
        for name, n, nt, t0, t1, starts, busy in ev:
            r = rows[(short(pretty[name]), n)]
            r[0] += 1
            r[1] += t1 - t0
            r[2] += busy[0]
            r[3] += busy[-1]
            r[4] += max(starts)

    def med(i):
        return statistics.median(t[i] for t in totals) * 1e6

    print(f"# {args.model}, {args.threads} threads, {args.steps} steps: step {med(0):.0f} us; parallel regions "
          f"{med(1):.0f} us (busiest thread {med(2):.0f}); serial {med(0) - med(1):.0f} us; "
          f"{totals[0][3]} regions a step; imbalance {med(4):.0f} us")
    print(f"{'region':88s} {'n':>8s} {'calls':>5s} {'wall':>7s} {'busy0':>7s} {'busy1':>7s} {'start':>6s}"
          "   (us per step)")
    per = 1e6 / args.steps
    for (name, n), r in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        print(f"{name:88s} {n:8d} {r[0] / args.steps:5.1f} {r[1] * per:7.1f} {r[2] * per:7.1f} {r[3] * per:7.1f} "
              f"{r[4] * per:6.1f}")


if __name__ == "__main__":
    main()

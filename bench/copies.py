"""Independent 1-thread copies of a workload, run at once in worker processes: what this machine
gives to perfectly parallel work right now, with no barrier, no shared data and no split. It is
the ceiling for a 2-thread speed-up (or a 2-thread GEMM's % of peak) measured in the same minutes.

On a shared 2-vCPU machine the second vCPU goes through slow phases (other tenants, the host), and
its L3 and memory are shared with the first; a 2-thread step cannot beat two copies that share
nothing. `compare_torch.py` times the copies in blocks between its 1- and 2-thread blocks.

    with Copies("train:lenet", 2) as c:
        per_copy = c.window(0.5)   # [samples of copy 0 (s per call), samples of copy 1]

Workloads: "train:<name>" (a training step of workloads.MODELS[name], Ember) or "gemm:<n>"
(ember.mm of two n x n float32 matrices).
"""
import json
import os
import statistics
import subprocess
import sys
import time

_WORKER = r"""
import json, sys, time
sys.path.insert(0, {bench!r})
import ember
ember.set_num_threads(1)
kind, _, arg = sys.argv[1].partition(":")
if kind == "train":
    import workloads
    fn = workloads.train_step_for(ember, arg)
else:
    n = int(arg)
    a, b = ember.randn(n, n), ember.randn(n, n)
    fn = lambda: ember.mm(a, b)
fn()
print("ready", flush=True)
for line in sys.stdin:
    start, end = (float(v) for v in line.split())
    # busy up to the common start, so that each copy's timed calls overlap the other's work
    while time.time() < start:
        fn()
    out = []
    while True:
        t = time.perf_counter()
        fn()
        d = time.perf_counter() - t
        if time.time() > end:  # this call may have run while another copy had stopped
            break
        out.append(d)
    print(json.dumps(out), flush=True)
"""


class Copies:
    """n worker processes, each running `workload` on one Ember thread (see the module's doc)."""

    def __init__(self, workload, n=2):
        bench = os.path.dirname(os.path.abspath(__file__))
        env = dict(os.environ, OMP_NUM_THREADS="1")
        code = _WORKER.format(bench=bench)
        self.procs = [subprocess.Popen([sys.executable, "-c", code, workload], text=True, env=env,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
                      for _ in range(n)]
        for p in self.procs:
            line = p.stdout.readline().strip()
            if line != "ready":
                self.close()
                raise RuntimeError(f"Copies: worker for {workload!r} did not start (got {line!r})")

    def window(self, seconds, lead=0.1, alone=False):
        """Every copy (only the first if `alone`) busy from now on; each times its calls between
        now + lead and that + seconds. Returns one list of samples (seconds per call) per copy."""
        start = time.time() + lead
        procs = self.procs[:1] if alone else self.procs
        for p in procs:
            p.stdin.write(f"{start!r} {start + seconds!r}\n")
            p.stdin.flush()
        return [json.loads(p.stdout.readline()) for p in procs]

    def rounds(self, rounds, seconds, pause=0.1):
        """`rounds` times: one copy alone, then all at once, each for `seconds`. Returns
        (samples of the copy alone, one list of samples per copy from the windows together)."""
        alone, together = [], [[] for _ in self.procs]
        for _ in range(rounds):
            time.sleep(pause)
            alone += self.window(seconds, alone=True)[0]
            time.sleep(pause)
            for i, s in enumerate(self.window(seconds)):
                together[i] += s
        return alone, together

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.stdin.close()
                p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def throughput(alone, together):
    """The copies' summed rate when run together, relative to one copy's alone (both from
    `Copies.rounds`): the sum over copies of median(alone) / median(that copy's samples). n for n
    copies that share nothing on a machine with n free cores."""
    t1 = statistics.median(alone)
    return sum(t1 / statistics.median(s) for s in together if s)


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="the machine's ceiling for a 2-thread speed-up, now")
    ap.add_argument("workload", help="train:<model> or gemm:<n>")
    ap.add_argument("--copies", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=0.5)
    args = ap.parse_args()
    with Copies(args.workload, args.copies) as c:
        per_round = [c.rounds(1, args.seconds) for _ in range(args.rounds)]
    alone = [x for a, _ in per_round for x in a]
    together = [[x for _, t in per_round for x in t[i]] for i in range(args.copies)]
    print(f"{args.workload}: one copy alone {statistics.median(alone) * 1e3:.3f} ms a call; "
          f"{args.copies} at once: {throughput(alone, together):.2f}x the work of one (rounds: "
          + ", ".join(f"{throughput(a, t):.2f}" for a, t in per_round) + ")")

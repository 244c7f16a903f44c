"""Resident memory over many training steps (a leak shows as growth after the first steps).

    python bench/leak_check.py [--steps 10000] [--model mlp|lenet|one_conv|vgg]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ember  # noqa: E402
import workloads  # noqa: E402


def rss_mib():
    with open("/proc/self/status") as f:
        return [int(line.split()[1]) for line in f if line.startswith("VmRSS")][0] / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=10000)
    ap.add_argument("--model", default="mlp", choices=sorted(workloads.MODELS))
    args = ap.parse_args()
    step = workloads.train_step_for(ember, args.model)
    marks = {}
    for i in range(1, args.steps + 1):
        step()
        if i in (args.steps // 10, args.steps // 2, args.steps):
            marks[i] = rss_mib()
    print(f"{args.model}: RSS after " + ", ".join(f"{k} steps {v:.1f} MiB" for k, v in marks.items()))
    grew = marks[args.steps] - marks[args.steps // 10]
    print(f"growth from step {args.steps // 10} to {args.steps}: {grew:+.1f} MiB")
    return 0 if grew < 5 else 1


if __name__ == "__main__":
    sys.exit(main())

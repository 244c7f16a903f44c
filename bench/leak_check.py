"""Resident memory and live tensor memory over many training steps (a leak shows as growth after the
first steps). Each step also runs an evaluation forward with grad mode on and never calls backward
(validation without no_grad): its graph must be freed when the loss is dropped.

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
    build, shape, _ = workloads.MODELS[args.model]
    model, x = build(ember), ember.randn(*shape)
    y = ember.randint(0, 10, (shape[0],))
    loss_fn = ember.nn.CrossEntropyLoss()
    marks, live = {}, {}
    for i in range(1, args.steps + 1):
        step()
        loss_fn(model(x), y).item()  # graph recorded, never backwarded
        if i in (args.steps // 10, args.steps // 2, args.steps):
            marks[i], live[i] = rss_mib(), ember._C._allocated_bytes() / 2 ** 20
    print(f"{args.model}: RSS after " + ", ".join(f"{k} steps {v:.1f} MiB" for k, v in marks.items()))
    print("live tensor memory after " + ", ".join(f"{k} steps {v:.2f} MiB" for k, v in live.items()))
    grew = marks[args.steps] - marks[args.steps // 10]
    live_grew = live[args.steps] - live[args.steps // 10]
    print(f"growth from step {args.steps // 10} to {args.steps}: RSS {grew:+.1f} MiB, live {live_grew:+.3f} MiB")
    return 0 if grew < 5 and live_grew <= 0 else 1


if __name__ == "__main__":
    sys.exit(main())

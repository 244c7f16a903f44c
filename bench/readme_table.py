"""The README's benchmark table from a compare_torch.py --json file:

    python bench/compare_torch.py --threads 1 2 --json out.json
    python bench/readme_table.py out.json
"""
import json
import sys


def fmt(v):
    return f"{v:.3g}"


def main(path):
    data = json.load(open(path))
    rows = {}
    order = []
    for r in data["rows"]:
        name = r["workload"]
        if name not in rows:
            rows[name] = {}
            order.append(name)
        rows[name][r.get("threads", 0)] = r
    print("| workload | 1 thread: ember / torch | 2 threads: ember / torch |")
    print("|---|---|---|")
    for name in order:
        cells = []
        for t in (1, 2):
            r = rows[name].get(t) or (rows[name].get(0) if t == 1 else None)
            if r is None:
                cells.append("-" if 0 not in rows[name] else "")
                continue
            extra = ""
            if "gflops" in r:
                extra = f"; ember {r['gflops']['ember']:.0f} GFLOP/s"
                if "ember_pct_of_peak" in r:
                    extra += f" = {r['ember_pct_of_peak']:.0f}% of peak"
                    if "torch_pct_of_peak" in r:
                        extra += f", torch {r['torch_pct_of_peak']:.0f}%"
            if r.get("other_load", 0) > 0.1:
                extra += f"; machine {100 * r['other_load']:.0f}% busy with other work: unreliable"
            cells.append(f"{fmt(r['ember'])} / {fmt(r['torch'])} {r['unit']} ({r['ratio']:.2f}x{extra})")
        print(f"| {name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main(sys.argv[1])

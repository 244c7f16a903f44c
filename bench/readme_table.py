"""The README's benchmark table from compare_torch.py --json files:

    python bench/compare_torch.py --threads 1 2 --json out.json
    python bench/readme_table.py out.json [out2.json ...]

With several runs, each row shows the median over the runs of ember's and of torch's time (each
already a median within its run), the ratio of those, and the median GFLOP/s and share of peak:
on a shared machine whole phases run slow, and one run's row can land in one.
"""
import json
import statistics
import sys


def fmt(v):
    return f"{v:.3g}"


def merged_rows(paths):
    """Rows of one run, or per (workload, threads) medians over several runs."""
    runs = [json.load(open(p))["rows"] for p in paths]
    if len(runs) == 1:
        return runs[0]
    groups = {}
    for run in runs:
        for r in run:
            groups.setdefault((r["workload"], r.get("threads", 0)), []).append(r)
    med = statistics.median
    out = []
    for rs in groups.values():
        m = dict(rs[0])
        m["ember"], m["torch"] = med(r["ember"] for r in rs), med(r["torch"] for r in rs)
        m["ratio"] = m["torch"] / m["ember"] if m["ember"] else float("nan")
        m["other_load"] = max(r.get("other_load", 0) for r in rs)
        if "gflops" in m:
            m["gflops"] = {k: med(r["gflops"][k] for r in rs) for k in m["gflops"]}
        for k in ("ember_pct_of_peak", "torch_pct_of_peak", "copies_pct_of_peak", "copies"):
            if k in m:
                m[k] = med(r[k] for r in rs if k in r)
        out.append(m)
    return out


def main(paths):
    rows = {}
    order = []
    for r in merged_rows(paths):
        name = r["workload"]
        if name not in rows:
            rows[name] = {}
            order.append(name)
        rows[name][r.get("threads", 0)] = r
    print("| workload | 1 thread: ember / torch | 2 threads: ember / torch |")
    print("|---|---|---|")
    for name in order:
        r = rows[name].get(0)
        if r is not None and r["unit"] == "x":  # a 2-thread speed-up (1T time / 2T time)
            busy = "; machine busy with other work: unreliable" if r.get("other_load", 0) > 0.1 else ""
            copies = (f"; two 1-thread copies of ember's step: {r['copies']:.2f}x"
                      if "copies" in r else "")
            print(f"| {name} | - | ember {r['ember']:.2f}x, torch {r['torch']:.2f}x{copies}{busy} |")
            continue
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
                    if "copies_pct_of_peak" in r:
                        extra += f"; {t} 1-thread copies of ember's {r['copies_pct_of_peak']:.0f}%"
            if r.get("other_load", 0) > 0.1:
                extra += f"; machine {100 * r['other_load']:.0f}% busy with other work: unreliable"
            cells.append(f"{fmt(r['ember'])} / {fmt(r['torch'])} {r['unit']} ({r['ratio']:.2f}x{extra})")
        print(f"| {name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main(sys.argv[1:])

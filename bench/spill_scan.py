"""Innermost loops of the compiled extension that move zmm registers to and from the stack.

A kernel whose accumulators GCC keeps in memory runs store-bound at a fraction of its speed
without any warning (the direct conv weight gradient did: 24 accumulators stored to the stack
after every pixel vector, 2.4x slower). This disassembles the _C module, finds each function's
innermost loops (a backward jump's range that holds no other), and lists those with zmm stores
to or loads from %rsp, with their FMA count and size. Prologue/epilogue spills are not listed;
a hit still needs a look (perf annotate) to tell a hot loop from a cold one.

    python3 bench/spill_scan.py build/prof/stage/ember/_C*.so [--top 40]
"""
import argparse
import collections
import re
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("so", help="the compiled extension (_C*.so)")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C", args.so], capture_output=True,
                         text=True, check=True).stdout
    funcs = collections.defaultdict(list)
    cur = None
    for line in dis.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            cur = m.group(1)
            continue
        m = re.match(r"^\s+([0-9a-f]+):\s+(.*)$", line)
        if cur is not None and m:
            funcs[cur].append((int(m.group(1), 16), m.group(2)))
    store = re.compile(r"vmov\w*\s+%zmm\d+,-?0x[0-9a-f]+\(%rsp\)")
    load = re.compile(r"vmov\w*\s+-?0x[0-9a-f]+\(%rsp\),%zmm")
    hits = []
    for name, ins in funcs.items():
        if not any("zmm" in i for _, i in ins):
            continue
        loops = []
        for addr, i in ins:
            m = re.match(r"j\w+\s+([0-9a-f]+)\s", i + " ")
            if m and ins[0][0] <= int(m.group(1), 16) < addr:
                loops.append((int(m.group(1), 16), addr))
        inner = [lp for lp in loops if not any(o != lp and o[0] >= lp[0] and o[1] <= lp[1] for o in loops)]
        for lo, hi in inner:
            body = [i for a, i in ins if lo <= a <= hi]
            st = sum(bool(store.search(i)) for i in body)
            ld = sum(bool(load.search(i)) for i in body)
            if st + ld >= 2:
                fma = sum("vfmadd" in i or "vfnmadd" in i for i in body)
                hits.append((st + ld, st, ld, fma, len(body), hex(lo), name))
    hits.sort(reverse=True)
    print(f"{'spills':>6s} {'st':>4s} {'ld':>4s} {'fma':>4s} {'insns':>5s} {'loop':>9s}  function")
    for h in hits[:args.top]:
        print(f"{h[0]:6d} {h[1]:4d} {h[2]:4d} {h[3]:4d} {h[4]:5d} {h[5]:>9s}  {h[6][:110]}")


if __name__ == "__main__":
    main()

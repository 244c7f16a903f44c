"""GEMM register-tile probe: how close a micro-kernel's instruction mix gets to the FMA peak
with its data in L1 (what limits GEMM efficiency on this machine, issue 6).

Builds and runs, with gcc, (1) the real AVX-512 micro-kernels of cpp/src/backend/cpu/gemm_avx512.cpp
on packed panels that stay in L1, and (2) hand-written asm k-loops of RM x (16 RV) tiles in four
variants: as the kernel ('mem': RV vector loads + RM broadcasts per k-step), broadcasts replaced
by a register ('nobcast'), B loads removed ('noload'), broadcasts folded into the FMAs ('embed').
Compare with bench/fma_peak.c, run right before and after.

    python3 bench/gemm_tile_probe.py [--kc 128] [--tiles 8x3 6x4 12x2 4x6]
"""

import argparse
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def kernel(RM, RV, mode, unroll=4):
    """One 4x-unrolled k-loop body. mode: 'mem' (loads as in the kernel), 'nobcast' (broadcast from
    a register), 'noload' (no B loads), 'embed' (broadcasts folded into the FMAs)."""
    L = []

    def acc(i, v):
        return RV + 1 + i * RV + v

    for u in range(unroll):
        if mode != "noload":
            for v in range(RV):
                L.append(f"vmovaps {64 * (v + u * RV)}(%%rsi), %%zmm{v}")
        for i in range(RM):
            if mode == "embed":
                for v in range(RV):
                    L.append(
                        f"vfmadd231ps {4 * (i + u * RM)}(%%rdi)%{{1to16%}}, %%zmm{v}, %%zmm{acc(i, v)}"
                    )
                continue
            if mode != "nobcast":
                L.append(f"vbroadcastss {4 * (i + u * RM)}(%%rdi), %%zmm{RV}")
            for v in range(RV):
                L.append(f"vfmadd231ps %%zmm{RV}, %%zmm{v}, %%zmm{acc(i, v)}")
    L.append(f"add ${4 * RM * unroll}, %%rdi")
    L.append(f"add ${64 * RV * unroll}, %%rsi")
    return "\\n\\t".join(L)


def asm_source(RM, RV):
    out = []
    print = out.append
    modes = ["mem", "nobcast", "noload", "embed"]
    print("#include <stdio.h>\n#include <stdlib.h>\n#include <time.h>")
    print(
        "static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}"
    )
    for m in modes:
        print(f"""static void run_{m}(const float* a, const float* b, long kc, long reps) {{
      for (long r = 0; r < reps; ++r) {{ const float* pa = a; const float* pb = b; long n = kc / 4;
        __asm__ volatile("1:\\n\\t{kernel(RM, RV, m)}\\n\\tdec %2\\n\\tjnz 1b" : "+D"(pa), "+S"(pb), "+r"(n) :: "memory", "xmm0","xmm1","xmm2","xmm3","xmm4","xmm5","xmm6","xmm7","xmm8","xmm9","xmm10","xmm11","xmm12","xmm13","xmm14","xmm15","xmm16","xmm17","xmm18","xmm19","xmm20","xmm21","xmm22","xmm23","xmm24","xmm25","xmm26","xmm27","xmm28","xmm29","xmm30","xmm31"); }}
    }}""")
    print(f"""int main(int argc, char** argv) {{ long kc = argc > 1 ? atol(argv[1]) : 128;
      float* a = aligned_alloc(64, 4 * kc * {RM} + 4096); float* b = aligned_alloc(64, 4 * kc * {RV * 16} + 4096);
      for (long i = 0; i < kc*{RM}; ++i) a[i] = 0; for (long i = 0; i < kc*{RV * 16}; ++i) b[i] = 0;
      long reps = 300000000L / (kc * {RM * RV});""")
    for m in modes:
        print(f'''  {{ double best = 0; for (int t = 0; t < 5; ++t) {{ double s = now(); run_{m}(a, b, kc, reps); double g = 2.0*16*{RM * RV}*kc*reps/(now()-s)/1e9; if (g > best) best = g; }}
        printf("{RM}x{RV * 16} %-8s %.1f\\n", "{m}", best); }}''')
    print("}")
    return "\n".join(out)


UK_CPP = r"""#include "gemm.h"
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>
using namespace ember::cpu::gemm_detail;
int main(int argc, char** argv) {
  int kc = argc > 1 ? atoi(argv[1]) : 128;
  for (int which = 0; which < 2; ++which) {
    int MR = which ? 12 : 8, NR = which ? 32 : 48;
    auto fn = which ? ukernel_avx512_f32 : ukernel_avx512_f32_8x48;
    float* a = (float*)aligned_alloc(64, 4 * kc * MR);
    float* b = (float*)aligned_alloc(64, 4 * kc * NR);
    float* c = (float*)aligned_alloc(64, 4 * MR * NR * 4);
    for (int i = 0; i < kc * MR; ++i) a[i] = 1e-3f * (i % 7);
    for (int i = 0; i < kc * NR; ++i) b[i] = 1e-3f * (i % 5);
    double best = 0;
    for (int rep = 0; rep < 7; ++rep) {
      long iters = 200000000L / (kc * MR * NR / 16);
      auto t = std::chrono::steady_clock::now();
      for (long it = 0; it < iters; ++it) fn(kc, a, b, c, NR, 1, 1.f, 0.f, MR, NR);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
      double g = 2.0 * kc * MR * NR * iters / s / 1e9;
      if (g > best) best = g;
    }
    printf("%dx%d kc=%d: %.1f GFLOP/s\n", MR, NR, kc, best);
  }
}
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kc", type=int, default=128)
    ap.add_argument(
        "--tiles", nargs="+", default=["8x3", "6x4", "12x2", "4x6"], help="RMxRV (RV vectors of 16)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        run(["gcc", "-O2", os.path.join(HERE, "fma_peak.c"), "-o", f"{d}/fma"])
        print("FMA loop:", run([f"{d}/fma"]).strip())
        with open(f"{d}/uk.cpp", "w") as f:
            f.write(UK_CPP)
        cpu = os.path.join(ROOT, "cpp", "src", "backend", "cpu")
        run(
            [
                "g++",
                "-O2",
                "-std=c++17",
                f"-I{cpu}",
                f"{d}/uk.cpp",
                os.path.join(cpu, "gemm_avx512.cpp"),
                "-o",
                f"{d}/uk",
            ]
        )
        print(run([f"{d}/uk", str(args.kc)]).strip())
        for t in args.tiles:
            rm, rv = map(int, t.split("x"))
            if rm * rv + rv + 1 > 32:  # accumulators + B vectors + the broadcast register
                print(f"{t}: needs {rm * rv + rv + 1} zmm registers (32 exist); skipped")
                continue
            with open(f"{d}/k.c", "w") as f:
                f.write(asm_source(rm, rv))
            run(["gcc", "-O2", "-mavx512f", f"{d}/k.c", "-o", f"{d}/k"])
            print(run([f"{d}/k", str(args.kc)]).strip())
        print("FMA loop:", run([f"{d}/fma"]).strip())


if __name__ == "__main__":
    main()

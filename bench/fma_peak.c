/* FP32 FMA peak of one core: 14 independent vfmadd231ps chains on zmm (AVX-512) or ymm (AVX2)
 * registers, so neither latency nor loads limit it. Prints GFLOP/s, best of 5; the number that
 * bench/compare_torch.py --peak takes. x86-64 only.
 *
 *   gcc -O2 bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak          # AVX-512
 *   gcc -O2 -DYMM bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak    # AVX2
 * (pin it to a quiet core for a clean figure: taskset -c 1 /tmp/fma_peak) */
#include <stdio.h>
#include <time.h>

#ifdef YMM
#define R(n) "%%ymm" #n
#define LANES 8
#else
#define R(n) "%%zmm" #n
#define LANES 16
#endif
#define FMA(n) "vfmadd231ps " R(14) "," R(15) "," R(n) "\n"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  const long iters = 100000000;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    long n = iters;
    double t = now();
    __asm__ volatile(
        "1:\n" FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5) FMA(6) FMA(7) FMA(8) FMA(9) FMA(10) FMA(11)
        FMA(12) FMA(13) "dec %0\n jnz 1b\n"
        : "+r"(n)::"memory");
    double g = iters * 14.0 * LANES * 2 / (now() - t) / 1e9;
    if (g > best) best = g;
  }
  printf("%.1f GFLOP/s fp32 (%s, one core)\n", best, LANES == 16 ? "AVX-512" : "AVX2");
  return 0;
}

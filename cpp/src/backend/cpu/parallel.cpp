// Thread count for CPU kernels: defaults to the machine's cores (OMP_NUM_THREADS respected).
#include "parallel.h"

#include <cstdlib>
#include <cstring>
#include <thread>

#include "ember/error.h"
#include "loops.h"

namespace ember::cpu {

static int g_threads = 0;

#ifdef EMBER_TRACE_PARALLEL
std::vector<TraceEv>& trace_events() {
  static std::vector<TraceEv> events;
  return events;
}
#endif

int hardware_threads() {
#ifdef EMBER_HAS_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int get_num_threads() {
  if (g_threads <= 0) g_threads = std::max(1, hardware_threads());
  return g_threads;
}

void set_num_threads(int n) {
  EMBER_CHECK(n >= 1, ValueError, "set_num_threads: expected a positive number of threads, got ", n);
  g_threads = n;
#ifdef EMBER_HAS_OPENMP
  omp_set_num_threads(n);
#endif
}

// torch.set_flush_denormal: FTZ (results) and DAZ (inputs) in MXCSR, on the calling thread and on
// every OpenMP worker (MXCSR is per thread; threads created later inherit the caller's).
bool set_flush_denormal(bool on) {
#if defined(__x86_64__) && defined(__GNUC__)
  constexpr unsigned kFtzDaz = 0x8040;  // bit 15 flush-to-zero, bit 6 denormals-are-zero
  auto apply = [on] {
    const unsigned csr = __builtin_ia32_stmxcsr();
    __builtin_ia32_ldmxcsr(on ? (csr | kFtzDaz) : (csr & ~kFtzDaz));
  };
  apply();
#ifdef EMBER_HAS_OPENMP
  if (!in_parallel_region()) {
#pragma omp parallel num_threads(std::max(get_num_threads(), hardware_threads()))
    apply();
  }
#endif
  return true;
#else
  (void)on;
  return false;
#endif
}

Isa cpu_isa() {
  static const Isa isa = [] {
    Isa best = Isa::Base;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::Avx2;
    if (best == Isa::Avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
      best = Isa::Avx512;
#endif
    if (const char* cap = std::getenv("EMBER_ISA")) {
      Isa want = !std::strcmp(cap, "base") ? Isa::Base : !std::strcmp(cap, "avx2") ? Isa::Avx2 : Isa::Avx512;
      if (want < best) best = want;
    }
    return best;
  }();
  return isa;
}

}  // namespace ember::cpu

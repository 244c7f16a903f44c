// parallel_for: the one place that talks to OpenMP. Ranges at or below `grain` run serially on
// the calling thread (waking threads costs ~1 us); nested calls run serially. Exceptions thrown in
// workers are re-thrown on the caller.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#include <mutex>
#ifdef EMBER_HAS_OPENMP
#include <omp.h>
#endif

namespace ember::cpu {

int get_num_threads();
void set_num_threads(int n);
int hardware_threads();
// Flush denormal floats to zero on the CPU (all kernel threads); false where unsupported.
bool set_flush_denormal(bool on);

inline bool in_parallel_region() {
#ifdef EMBER_HAS_OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

// f(begin, end) over disjoint chunks of [begin, end).
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  if (begin >= end) return;
  int64_t n = end - begin;
  int nt = get_num_threads();
  if (nt <= 1 || n <= std::max<int64_t>(grain, 1) || in_parallel_region()) {
    f(begin, end);
    return;
  }
#ifdef EMBER_HAS_OPENMP
  int64_t max_chunks = (n + std::max<int64_t>(grain, 1) - 1) / std::max<int64_t>(grain, 1);
  nt = static_cast<int>(std::min<int64_t>(nt, max_chunks));
  std::exception_ptr err;
  std::mutex mu;
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num(), T = omp_get_num_threads();
    int64_t chunk = (n + T - 1) / T;
    int64_t b = begin + t * chunk, e = std::min(end, b + chunk);
    if (b < e) {
      try {
        f(b, e);
      } catch (...) {
        std::lock_guard<std::mutex> g(mu);
        if (!err) err = std::current_exception();
      }
    }
  }
  if (err) std::rethrow_exception(err);
#else
  f(begin, end);
#endif
}

}  // namespace ember::cpu

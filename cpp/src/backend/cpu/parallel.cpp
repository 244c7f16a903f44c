// Thread count for CPU kernels: defaults to the machine's cores (OMP_NUM_THREADS respected).
#include "parallel.h"

#include <thread>

#include "ember/error.h"

namespace ember::cpu {

static int g_threads = 0;

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

}  // namespace ember::cpu

// Helpers shared by the CPU convolution kernels (conv.cpp: im2col + GEMM; conv_direct.cpp:
// depthwise loops; conv_small.cpp, conv_chan.cpp: direct kernels). Geometry in ember::ConvGeom;
// everything here trusts its inputs.
#pragma once
#include <algorithm>
#include <cstdint>

#include "ember/backend.h"
#include "parallel.h"

namespace ember::cpu::conv_detail {

// torch's relu (clamp_min(y, 0)): negatives become +0; -0 and NaN pass through.
template <class T>
inline T relu_of(T v) {
  return v < T(0) ? T(0) : v;
}

// [lo, hi) = the outputs o in [0, n_out) whose tap o * s + off lies inside [0, n_in).
inline void valid_range(int64_t n_out, int64_t n_in, int64_t s, int64_t off, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = n_in - 1 - off < 0 ? 0 : (n_in - 1 - off) / s + 1;
  lo = std::min(lo, n_out);
  hi = std::max(lo, std::min(hi, n_out));
}

// dst[i] += partial[k * n + i] for k = 0 .. count - 1, in that order whatever the threads (the
// weight gradients' per-thread sums, so results do not depend on the split); parallel over i.
template <class T>
void add_partials(T* dst, const T* partial, int64_t count, int64_t n) {
  parallel_for(0, n, 4096, [&](int64_t b, int64_t e) {
    for (int64_t k = 0; k < count; ++k) {
      const T* q = partial + k * n;
#pragma omp simd
      for (int64_t i = b; i < e; ++i) dst[i] += q[i];
    }
  });
}

}  // namespace ember::cpu::conv_detail

// Helpers shared by the CPU convolution kernels (conv.cpp: im2col + GEMM; conv_direct.cpp:
// depthwise loops). Geometry in ember::ConvGeom; everything here is serial and trusts its inputs.
#pragma once
#include <algorithm>
#include <cstdint>

#include "ember/backend.h"

namespace ember::cpu::conv_detail {

// [lo, hi) = the outputs o in [0, n_out) whose tap o * s + off lies inside [0, n_in).
inline void valid_range(int64_t n_out, int64_t n_in, int64_t s, int64_t off, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = n_in - 1 - off < 0 ? 0 : (n_in - 1 - off) / s + 1;
  lo = std::min(lo, n_out);
  hi = std::max(lo, std::min(hi, n_out));
}

}  // namespace ember::cpu::conv_detail

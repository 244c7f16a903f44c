// Helpers for kernels that work along one dim (arg-reduce, softmax, scan): view a tensor as
// (O, R, I) = (outer, size(dim), inner) over contiguous memory, copying it first if needed, and
// a vectorisable exp for float32 (std::exp does not vectorise without -ffast-math).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "cpu_backend.h"

namespace ember::cpu {

struct DimLayout {
  Tensor t;  // contiguous
  int64_t O = 1, R = 1, I = 1;
};

inline DimLayout dim_layout(const Tensor& x, int64_t dim) {
  DimLayout L;
  L.t = x;
  if (!x.is_contiguous()) {
    L.t = Tensor::empty(x.shape(), x.dtype(), x.device());
    copy(x, L.t);
  }
  for (int64_t d = 0; d < x.dim(); ++d) (d < dim ? L.O : d == dim ? L.R : L.I) *= x.shape()[d];
  return L;
}

// exp(x) for float32 in branch-free arithmetic (Cephes' polynomial, ~1 ulp): vectorises inside
// `#pragma omp simd` loops (files using it compile with -fno-trapping-math so the selects
// if-convert). Inf, -inf and NaN behave like std::exp; results below FLT_MIN flush to 0.
inline float exp_f32(float x) {
  float xc = x > -88.0f ? x : -88.0f;  // NaN -> -88 here (kept finite for the int conversion)
  xc = xc < 89.0f ? xc : 89.0f;
  const float t = xc * 1.44269504088896341f;
  const float n = (t + 12582912.0f) - 12582912.0f;  // round to nearest (|t| < 2^22)
  float r = xc - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  const float z = r * r;
  float y = 1.9875691500E-4f;
  y = y * r + 1.3981999507E-3f;
  y = y * r + 8.3334519073E-3f;
  y = y * r + 4.1665795894E-2f;
  y = y * r + 1.6666665459E-1f;
  y = y * r + 5.0000001201E-1f;
  y = y * z + r + 1.0f;
  // n in [-127, 128]: scale by 2^(n-1) * 2 for n > 0 so the exponent field stays in range.
  const float pos = n > 0.0f ? 1.0f : 0.0f;
  float nh = n - pos;
  nh = nh > -126.0f ? nh : -126.0f;
  const int32_t bits = (static_cast<int32_t>(nh) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  float res = y * scale * (1.0f + pos);
  res = x < -87.33654f ? 0.0f : res;
  res = x > 88.7228391f ? HUGE_VALF : res;
  return x != x ? x : res;
}
inline double exp_any(double x) { return std::exp(x); }
inline float exp_any(float x) { return exp_f32(x); }

}  // namespace ember::cpu

// Copies whose source is a transposed view (x.t().contiguous(), NCHW <-> NHWC permutes): the
// destination's last dim is contiguous, but the source's contiguous dim is another one, k. Element
// by element that reads one value per cache line; here (k, last) planes move in 16 x 16 tiles,
// transposed in registers on AVX-512 (cache-blocked scalar tiles elsewhere).
#include <algorithm>
#include <cstring>

#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"
#include "transpose_avx512.h"

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which it then flags
// once transpose16 is inlined (false positives; gemm_avx512.cpp does the same).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ember::cpu {
namespace {

constexpr int64_t kTile = 16;

// One tile: dst[a * dk + b] = src[a + b * sl] for a < na, b < nb (4-byte elements).
void tile_scalar(const float* src, int64_t sl, float* dst, int64_t dk, int64_t na, int64_t nb) {
  for (int64_t a = 0; a < na; ++a)
    for (int64_t b = 0; b < nb; ++b) dst[a * dk + b] = src[a + b * sl];
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512vl,fma"))) void tile16_avx512(const float* src, int64_t sl, float* dst,
                                                                   int64_t dk) {
  __m512 r[16];
#pragma GCC unroll 16
  for (int b = 0; b < 16; ++b) r[b] = _mm512_loadu_ps(src + b * sl);  // row b: a = 0..15
  transpose16(r);                                                       // r[a]: b = 0..15
#pragma GCC unroll 16
  for (int a = 0; a < 16; ++a) _mm512_storeu_ps(dst + a * dk, r[a]);
}
#endif

}  // namespace

bool copy_transposed(const Tensor& src, const Tensor& dst) {
  const int64_t nd = dst.dim();
  if (nd < 2 || src.dtype() != dst.dtype() || dst.itemsize() != 4 || !dst.is_contiguous() ||
      src.shape() != dst.shape())
    return false;
  const Shape& sh = dst.shape();
  const int64_t last = nd - 1;
  if (src.strides()[last] == 1 || sh[last] < kTile) return false;
  int64_t k = -1;
  for (int64_t d = 0; d < last; ++d)
    if (src.strides()[d] == 1 && sh[d] >= kTile) k = d;
  if (k < 0) return false;
  // Outer dims: every dim but k and last, walked as an odometer (src and dst offsets).
  std::vector<int64_t> odims;
  int64_t outer = 1;
  for (int64_t d = 0; d < last; ++d)
    if (d != k) odims.push_back(d), outer *= sh[d];
  const int64_t na = sh[k], nb = sh[last], sl = src.strides()[last], dk = dst.strides()[k];
  const int64_t ta = (na + kTile - 1) / kTile, tb = (nb + kTile - 1) / kTile;
  const float* s0 = static_cast<const float*>(src.raw_data());
  float* d0 = static_cast<float*>(dst.raw_data());
  const bool avx512 = cpu_isa() == Isa::Avx512;
  parallel_for(0, outer * ta, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, kTile * nb)), [&](int64_t b0, int64_t b1) {
    for (int64_t t = b0; t < b1; ++t) {
      int64_t o = t / ta, so = 0, dof = 0;
      for (auto it = odims.rbegin(); it != odims.rend(); ++it) {
        const int64_t i = o % sh[*it];
        o /= sh[*it];
        so += i * src.strides()[*it];
        dof += i * dst.strides()[*it];
      }
      const int64_t a0 = (t % ta) * kTile, ma = std::min(kTile, na - a0);
      for (int64_t j = 0; j < tb; ++j) {
        const int64_t bb = j * kTile, mb = std::min(kTile, nb - bb);
        const float* s = s0 + so + a0 + bb * sl;
        float* d = d0 + dof + a0 * dk + bb;
#if defined(__x86_64__) && defined(__GNUC__)
        if (avx512 && ma == kTile && mb == kTile) {
          tile16_avx512(s, sl, d, dk);
          continue;
        }
#endif
        tile_scalar(s, sl, d, dk, ma, mb);
      }
    }
  });
  return true;
}

}  // namespace ember::cpu

#pragma GCC diagnostic pop

// CPU 2-D pooling kernels (max, avg, adaptive max, adaptive avg), forward and backward, on planes:
// x (B, H, W) contiguous. Forward is parallel over output rows (B * OH), backward over planes
// (each plane's gradient is written by one thread: overlapping windows accumulate without races).
// Window bounds follow torch: max windows start at o * s - p with dilation d, avg windows are
// clipped to the padded input, adaptive windows are [floor(o * I / O), ceil((o + 1) * I / O)).
#include <cmath>
#include <cstring>
#include <limits>

#include <immintrin.h>

#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"

namespace ember::cpu {
namespace {

inline int64_t adaptive_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
inline int64_t adaptive_end(int64_t o, int64_t in, int64_t out) { return ((o + 1) * in + out - 1) / out; }

// Bounds of the avg window along one dim: [start, end) clipped, and the unclipped-to-input size
// (which counts padding) in `padded`.
inline void avg_bounds(int64_t o, int64_t k, int64_t s, int64_t p, int64_t in, int64_t& start, int64_t& end,
                       int64_t& padded) {
  start = o * s - p;
  end = std::min(start + k, in + p);
  padded = end - start;
  start = std::max<int64_t>(start, 0);
  end = std::min(end, in);
}

// torch's relu, applied to each value a max pooling reads when RELU (PoolParams::relu): the
// result is max_pool(relu(x)) exactly, its indices those of relu(x). -0 and NaN pass through.
template <bool RELU, class T>
inline T relu_if(T v) {
  return RELU && v < T(0) ? T(0) : v;
}
#define EMBER_RELU_IF(zero, v) (RELU ? _mm512_max_ps(zero, v) : (v))

// x (B, H, W) -> y, ind (B, OH, OW): max over dilated windows; the last NaN wins, else the first
// maximum (torch's rule).
template <bool RELU, class T>
void max_pool_fwd(const T* x, T* y, int64_t* ind, int64_t B, int64_t H, int64_t W, int64_t OH, int64_t OW,
                  const PoolParams& p) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(OW * p.kh * p.kw, 1));
  parallel_for(0, B * OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / OH, oh = r % OH;
      const T* xp = x + b * H * W;
      int64_t h0 = oh * p.sh - p.ph;
      const int64_t h1 = std::min(h0 + (p.kh - 1) * p.dh + 1, H);
      while (h0 < 0) h0 += p.dh;
      T* yr = y + r * OW;
      int64_t* ir = ind + r * OW;
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t w0 = ow * p.sw - p.pw;
        const int64_t w1 = std::min(w0 + (p.kw - 1) * p.dw + 1, W);
        while (w0 < 0) w0 += p.dw;
        T m = -std::numeric_limits<T>::infinity();
        int64_t mi = h0 * W + w0;
        for (int64_t h = h0; h < h1; h += p.dh) {
          const T* xr = xp + h * W;
          for (int64_t w = w0; w < w1; w += p.dw) {
            const T v = relu_if<RELU>(xr[w]);
            const bool t = (v > m) | (v != v);  // selects, not branches: data-dependent
            m = t ? v : m;
            mi = t ? h * W + w : mi;
          }
        }
        yr[ow] = m;
        ir[ow] = mi;
      }
    }
  });
}

// Specialisation of the commonest case: 2x2 windows, stride 2, no padding or dilation. One output
// row from input rows a and c; candidates in scan order (0,0), (0,1), (1,0), (1,1), a later one
// winning if strictly greater or NaN (torch's rule: the last NaN, else the first maximum).
// Branch-free selects so the loop vectorises (random data would mispredict every other branch).
// Compiled twice: for the baseline ISA and for AVX-512 (16 outputs per step; 1.5x faster on
// (128,32,32,32)), picked at run time.
// I = int64_t: the index in the plane (torch's indices); I = uint8_t: the window position 0..3 in
// scan order (what the backward needs, an eighth of the bytes; kept when no indices are returned).
#define EMBER_MAX_POOL_2X2_ROW                                                                   \
  {                                                                                              \
    const int32_t W32 = static_cast<int32_t>(W);                                                 \
    _Pragma("omp simd") for (int64_t ow = 0; ow < OW; ++ow) {                                    \
      const int64_t w = 2 * ow;                                                                  \
      T m = relu_if<RELU>(a[w]);                                                                 \
      int32_t k = 0; /* offset in the window: 0, 1, W, W + 1 (int32 keeps selects vectorisable) */ \
      int32_t q = 0; /* position in the window: 0, 1, 2, 3 */                                    \
      const T v1 = relu_if<RELU>(a[w + 1]), v2 = relu_if<RELU>(c[w]), v3 = relu_if<RELU>(c[w + 1]); \
      bool t = (v1 > m) | (v1 != v1);                                                            \
      m = t ? v1 : m;                                                                            \
      k = t ? 1 : k;                                                                             \
      q = t ? 1 : q;                                                                             \
      t = (v2 > m) | (v2 != v2);                                                                 \
      m = t ? v2 : m;                                                                            \
      k = t ? W32 : k;                                                                           \
      q = t ? 2 : q;                                                                             \
      t = (v3 > m) | (v3 != v3);                                                                 \
      m = t ? v3 : m;                                                                            \
      k = t ? W32 + 1 : k;                                                                       \
      q = t ? 3 : q;                                                                             \
      yr[ow] = m;                                                                                \
      if constexpr (std::is_same_v<I, uint8_t>) ir[ow] = static_cast<uint8_t>(q);                \
      else ir[ow] = base + w + k;                                                                \
    }                                                                                            \
  }

template <bool RELU, class T, class I>
void max_pool_2x2_row(const T* a, const T* c, T* yr, I* ir, int64_t base, int64_t W, int64_t OW) {
  EMBER_MAX_POOL_2X2_ROW
}

template <bool RELU, class T, class I>
__attribute__((target("avx512f,avx512vl,avx512dq"))) void max_pool_2x2_row_avx512(const T* a, const T* c, T* yr,
                                                                                 I* ir, int64_t base,
                                                                                 int64_t W, int64_t OW) {
  EMBER_MAX_POOL_2X2_ROW
}
#undef EMBER_MAX_POOL_2X2_ROW

// float rows of at most 16 outputs (LeNet's 14 and 5): the whole row in one masked step. Rows a
// and c (2 * OW <= 32 values each, masked loads: nothing past 2 * OW is read) are split into
// even and odd columns by permutes, then the same ordered selects as above.
// GCC 12 warns inside its own avx512fintrin.h (the undefined pass-through of the masked builtins
// behind cvtepi32_epi64 / extracti64x4): a known false positive, silenced for this function only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
template <bool RELU, class I>
__attribute__((target("avx512f,avx512vl,avx512dq"))) void max_pool_2x2_row16_avx512(
    const float* a, const float* c, float* yr, I* ir, int64_t base, int64_t W, int64_t OW) {
  const int n2 = static_cast<int>(2 * OW);
  const __mmask16 m0 = static_cast<__mmask16>(n2 >= 16 ? 0xFFFF : (1u << n2) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(n2 > 16 ? (1u << (n2 - 16)) - 1 : 0);
  // (relu: vmaxps(0, v) returns v for NaN and for two zeros, so -0 and NaN stay)
  const __m512 zero = _mm512_setzero_ps();
  const __m512 a0 = EMBER_RELU_IF(zero, _mm512_maskz_loadu_ps(m0, a));
  const __m512 a1 = EMBER_RELU_IF(zero, _mm512_maskz_loadu_ps(m1, a + 16));
  const __m512 c0 = EMBER_RELU_IF(zero, _mm512_maskz_loadu_ps(m0, c));
  const __m512 c1 = EMBER_RELU_IF(zero, _mm512_maskz_loadu_ps(m1, c + 16));
  const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
  const __m512 v1 = _mm512_permutex2var_ps(a0, od, a1), v2 = _mm512_permutex2var_ps(c0, ev, c1),
               v3 = _mm512_permutex2var_ps(c0, od, c1);
  __m512 m = _mm512_permutex2var_ps(a0, ev, a1);
  __m512i k = _mm512_setzero_si512(), q = _mm512_setzero_si512();
  // A later candidate wins if greater or NaN (a lambda would not inherit this function's target).
#define EMBER_POOL_STEP(v, off, pos)                                                                      \
  {                                                                                                       \
    const __mmask16 t = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q); \
    m = _mm512_mask_mov_ps(m, t, v);                                                                      \
    k = _mm512_mask_mov_epi32(k, t, _mm512_set1_epi32(off));                                              \
    q = _mm512_mask_mov_epi32(q, t, _mm512_set1_epi32(pos));                                              \
  }
  EMBER_POOL_STEP(v1, 1, 1)
  EMBER_POOL_STEP(v2, static_cast<int32_t>(W), 2)
  EMBER_POOL_STEP(v3, static_cast<int32_t>(W) + 1, 3)
#undef EMBER_POOL_STEP
  const __mmask16 mo = static_cast<__mmask16>(OW >= 16 ? 0xFFFF : (1u << OW) - 1);
  _mm512_mask_storeu_ps(yr, mo, m);
  if constexpr (std::is_same_v<I, uint8_t>) {
    _mm512_mask_cvtepi32_storeu_epi8(ir, mo, q);
    return;
  }
  const __m512i off32 = _mm512_add_epi32(ev, k);  // 2 * ow + offset in the window
  const __m512i b = _mm512_set1_epi64(base);
  const __m512i lo = _mm512_add_epi64(b, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(off32)));
  const __m512i hi = _mm512_add_epi64(b, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(off32, 1)));
  _mm512_mask_storeu_epi64(ir, static_cast<__mmask8>(mo & 0xFF), lo);
  _mm512_mask_storeu_epi64(ir + 8, static_cast<__mmask8>(mo >> 8), hi);
}
#pragma GCC diagnostic pop
#undef EMBER_RELU_IF

// float rows on AVX2 CPUs (no AVX-512), 8 outputs a step: rows a and c (16 values each) split
// into even and odd columns by permutes, then the same ordered selects; the last OW % 8 outputs
// in one more step with masked loads. The baseline build of the loop above (SSE2: no blends) ran
// 5-11x slower than the AVX-512 kernels. With EMBER_ISA=avx2, 1 thread, forward / backward (the
// backward below): (64,16,28,28) 1.30 -> 0.21 / 1.25 -> 0.60 ms, (64,32,32,32) 0.55 -> 0.39 /
// 3.2 -> 0.21 ms, (64,6,28,28) 0.17 -> 0.08 / 0.45 -> 0.08 ms.
#define EMBER_POOL_STEP_AVX2(v, off, pos)                                                          \
  {                                                                                              \
    const __m256 t = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q)); \
    m = _mm256_blendv_ps(m, v, t);                                                               \
    k = _mm256_blendv_epi8(k, _mm256_set1_epi32(off), _mm256_castps_si256(t));                   \
    q = _mm256_blendv_epi8(q, _mm256_set1_epi32(pos), _mm256_castps_si256(t));                   \
  }
template <bool RELU, class I>
__attribute__((target("avx2,fma"))) void max_pool_2x2_row_avx2(const float* a, const float* c, float* yr, I* ir,
                                                              int64_t base, int64_t W, int64_t OW) {
  const __m256i evod = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // evens to the low half
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const int32_t W32 = static_cast<int32_t>(W);
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t ow = 0; ow < OW; ow += 8) {
    const int64_t w = 2 * ow;
    const int n = static_cast<int>(std::min<int64_t>(8, OW - ow));  // outputs this step
    __m256 a0, a1, c0, c1;
    if (n == 8) {
      a0 = _mm256_loadu_ps(a + w), a1 = _mm256_loadu_ps(a + w + 8);
      c0 = _mm256_loadu_ps(c + w), c1 = _mm256_loadu_ps(c + w + 8);
    } else {  // the last step's masked loads read only the 2 n values its outputs use
      const __m256i l0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * n), lane);
      const __m256i l1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(2 * n - 8), lane);
      a0 = _mm256_maskload_ps(a + w, l0), a1 = _mm256_maskload_ps(a + w + 8, l1);
      c0 = _mm256_maskload_ps(c + w, l0), c1 = _mm256_maskload_ps(c + w + 8, l1);
    }
    if (RELU) {  // as the AVX-512 kernel: max(0, v) keeps -0 and NaN
      const __m256 z = _mm256_setzero_ps();
      a0 = _mm256_max_ps(z, a0), a1 = _mm256_max_ps(z, a1), c0 = _mm256_max_ps(z, c0), c1 = _mm256_max_ps(z, c1);
    }
    a0 = _mm256_permutevar8x32_ps(a0, evod), a1 = _mm256_permutevar8x32_ps(a1, evod);
    c0 = _mm256_permutevar8x32_ps(c0, evod), c1 = _mm256_permutevar8x32_ps(c1, evod);
    const __m256 v1 = _mm256_permute2f128_ps(a0, a1, 0x31), v2 = _mm256_permute2f128_ps(c0, c1, 0x20);
    const __m256 v3 = _mm256_permute2f128_ps(c0, c1, 0x31);
    __m256 m = _mm256_permute2f128_ps(a0, a1, 0x20);
    __m256i k = _mm256_setzero_si256(), q = _mm256_setzero_si256();
    EMBER_POOL_STEP_AVX2(v1, 1, 1)
    EMBER_POOL_STEP_AVX2(v2, W32, 2)
    EMBER_POOL_STEP_AVX2(v3, W32 + 1, 3)
    alignas(32) int32_t t[8];
    alignas(32) float mv[8];
    if (n == 8) {
      _mm256_storeu_ps(yr + ow, m);
    } else {  // (a masked store is microcoded on some AMD cores)
      _mm256_store_ps(mv, m);
      for (int j = 0; j < n; ++j) yr[ow + j] = mv[j];
    }
    if constexpr (std::is_same_v<I, uint8_t>) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(t), q);
      for (int j = 0; j < n; ++j) ir[ow + j] = static_cast<uint8_t>(t[j]);
    } else {
      _mm256_store_si256(reinterpret_cast<__m256i*>(t), _mm256_add_epi32(lane2, k));  // 2 j + offset
      for (int j = 0; j < n; ++j) ir[ow + j] = base + w + t[j];
    }
  }
}
#undef EMBER_POOL_STEP_AVX2

template <bool RELU, class T, class I>
void max_pool_2x2(const T* x, T* y, I* ind, int64_t B, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(OW, 1));
  // Rows narrower than one 16-lane step stay on the baseline build: there the AVX-512 loop ran
  // its scalar remainder and measured 2-3x slower (OW = 5 and 14, LeNet).
  const bool avx512 = cpu_isa() == Isa::Avx512 && OW >= 16;
  // ...except float rows of up to 16 outputs, done whole by the masked kernel.
  const bool row16 = std::is_same_v<T, float> && cpu_isa() == Isa::Avx512 && OW <= 16;
  const bool avx2 = std::is_same_v<T, float> && cpu_isa() == Isa::Avx2;
  parallel_for_pieces(0, B * OH, grain, 8, [&](int64_t r0, int64_t r1, int) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / OH, oh = r % OH;
      const T* a = x + b * H * W + 2 * oh * W;
      if constexpr (std::is_same_v<T, float>) {
        if (row16) {
          max_pool_2x2_row16_avx512<RELU>(a, a + W, y + r * OW, ind + r * OW, 2 * oh * W, W, OW);
          continue;
        }
        if (avx2) {
          max_pool_2x2_row_avx2<RELU>(a, a + W, y + r * OW, ind + r * OW, 2 * oh * W, W, OW);
          continue;
        }
      }
      if (avx512) max_pool_2x2_row_avx512<RELU>(a, a + W, y + r * OW, ind + r * OW, 2 * oh * W, W, OW);
      else max_pool_2x2_row<RELU>(a, a + W, y + r * OW, ind + r * OW, 2 * oh * W, W, OW);
    }
  });
}

// x (B, H, W) -> y (B, OH, OW): average over windows clipped to the (padded) input.
template <class T>
void avg_pool_fwd(const T* x, T* y, int64_t B, int64_t H, int64_t W, int64_t OH, int64_t OW, const PoolParams& p) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(OW * p.kh * p.kw, 1));
  parallel_for(0, B * OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / OH, oh = r % OH;
      const T* xp = x + b * H * W;
      int64_t h0, h1, hp;
      avg_bounds(oh, p.kh, p.sh, p.ph, H, h0, h1, hp);
      for (int64_t ow = 0; ow < OW; ++ow) {
        int64_t w0, w1, wp;
        avg_bounds(ow, p.kw, p.sw, p.pw, W, w0, w1, wp);
        T s = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) s += xp[h * W + w];
        const int64_t div = p.divisor > 0 ? p.divisor : p.count_include_pad ? hp * wp : (h1 - h0) * (w1 - w0);
        y[r * OW + ow] = s / static_cast<T>(div);
      }
    }
  });
}

// 2x2 windows, stride 2, no padding: the same sums, in the same order, vectorised along the row.
template <class T>
void avg_pool_2x2(const T* x, T* y, int64_t B, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t div) {
  const int64_t grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(OW, 1));
  const T d = static_cast<T>(div);
  parallel_for(0, B * OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / OH, oh = r % OH;
      const T* a = x + b * H * W + 2 * oh * W;
      const T* c = a + W;
      T* yr = y + r * OW;
#pragma omp simd
      for (int64_t ow = 0; ow < OW; ++ow) yr[ow] = (a[2 * ow] + a[2 * ow + 1] + c[2 * ow] + c[2 * ow + 1]) / d;
    }
  });
}

// x (B, H, W) -> y (B, OH, OW) (+ ind for max): adaptive windows.
template <class T>
void adaptive_fwd(bool is_max, const T* x, T* y, int64_t* ind, int64_t B, int64_t H, int64_t W, int64_t OH,
                  int64_t OW) {
  const int64_t kh = (H + OH - 1) / OH + 1, kw = (W + OW - 1) / OW + 1;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(OW * kh * kw, 1));
  parallel_for(0, B * OH, grain, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / OH, oh = r % OH;
      const T* xp = x + b * H * W;
      const int64_t h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
      for (int64_t ow = 0; ow < OW; ++ow) {
        const int64_t w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
        if (is_max) {
          T m = -std::numeric_limits<T>::infinity();
          int64_t mi = h0 * W + w0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) {
              const T v = xp[h * W + w];
              const bool t = (v > m) | (v != v);
              m = t ? v : m;
              mi = t ? h * W + w : mi;
            }
          y[r * OW + ow] = m;
          ind[r * OW + ow] = mi;
        } else {
          T s = 0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) s += xp[h * W + w];
          y[r * OW + ow] = s / static_cast<T>((h1 - h0) * (w1 - w0));
        }
      }
    }
  });
}

}  // namespace

// Backward of max_pool_2x2: the windows tile the plane without overlap, so every input gets the
// gradient of at most one output and each row pair of gx is written once, in order, with vector
// stores: g where the saved index points, 0 elsewhere. Against zero-filling each plane and then
// adding at the indices one by one, (64,64,32,32) followed by a read of gx (as the ReLU backward
// before it does), medians of 40 interleaved blocks: 1 thread 2.6 -> 2.0 ms, 2 threads 1.37 ->
// 0.99. (Streaming stores: 1.8 and 1.19 ms, slower on 2 threads; not used.) g + 0 turns -0 into
// +0, the value 0 + g of the fill-and-add (torch's).
// Indices: plane indices (int64) or window positions (uint8, see EMBER_MAX_POOL_2X2_ROW).
template <class T, class I>
void max_pool_2x2_bwd_row(const T* gr, const I* ir, T* d0, T* d1, int64_t base, int64_t W, int64_t OW) {
  // the window position q: 0, 1 (row 0), 2, 3 (row 1)
  const int64_t o2 = std::is_same_v<I, uint8_t> ? 2 : W, o3 = o2 + 1;
#pragma omp simd
  for (int64_t ow = 0; ow < OW; ++ow) {
    const int64_t q = std::is_same_v<I, uint8_t> ? int64_t(ir[ow]) : int64_t(ir[ow]) - base - 2 * ow;
    const T g = gr[ow] + T(0);
    d0[2 * ow] = q == 0 ? g : T(0);
    d0[2 * ow + 1] = q == 1 ? g : T(0);
    d1[2 * ow] = q == o2 ? g : T(0);
    d1[2 * ow + 1] = q == o3 ? g : T(0);
  }
}

// float, AVX2 CPUs, window positions (uint8), 8 outputs a step: g kept where the position is 0, 1
// (row 0) or 2, 3 (row 1), interleaved into the 16 floats of each input row.
__attribute__((target("avx2,fma"))) void max_pool_2x2_bwd_row_avx2(const float* gr, const uint8_t* ir, float* d0,
                                                                  float* d1, int64_t, int64_t, int64_t OW) {
  // the last OW % 8 outputs go through the same step on copies padded to 8: against the scalar loop
  // (which GCC leaves branchy; 10% of LeNet's AVX2 step), backward minus forward, 1 thread, ms:
  // (64,16,28,28) 0.60 -> 0.30, (64,32,14,14) 0.68 -> 0.27, (64,32,10,10) 0.33 -> 0.185,
  // (64,16,12,12) 0.205 -> 0.115, (64,6,28,28) 0.135 -> 0.115, but (64,16,10,10) 0.065 -> 0.095
  // (an L2-resident plane; a scalar loop kept for n < 6 slowed the vector steps by a quarter)
  alignas(32) float gt[8] = {};
  alignas(32) float t0[16], t1[16];
  alignas(8) uint8_t it[8] = {};
  for (int64_t ow = 0; ow < OW; ow += 8) {
    const int64_t n = std::min<int64_t>(8, OW - ow);
    const bool tail = n < 8;
    if (tail)
      for (int64_t j = 0; j < n; ++j) gt[j] = gr[ow + j], it[j] = ir[ow + j];
    const __m256 g = _mm256_add_ps(_mm256_loadu_ps(tail ? gt : gr + ow), _mm256_setzero_ps());  // -0 -> +0
    const __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(tail ? it : ir + ow)));
    float* r0 = tail ? t0 : d0 + 2 * ow;
    float* r1 = tail ? t1 : d1 + 2 * ow;
    // (macros: a lambda would not inherit this function's target)
#define EMBER_KEEP(pos) _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(q, _mm256_set1_epi32(pos))))
#define EMBER_STORE_ROW(ev, od, d)                                                \
  {                                                                               \
    const __m256 e = ev, o = od;                                                  \
    const __m256 lo = _mm256_unpacklo_ps(e, o), hi = _mm256_unpackhi_ps(e, o);    \
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(lo, hi, 0x20));                    \
    _mm256_storeu_ps(d + 8, _mm256_permute2f128_ps(lo, hi, 0x31));                \
  }
    EMBER_STORE_ROW(EMBER_KEEP(0), EMBER_KEEP(1), r0)
    EMBER_STORE_ROW(EMBER_KEEP(2), EMBER_KEEP(3), r1)
#undef EMBER_STORE_ROW
#undef EMBER_KEEP
    if (tail)
      for (int64_t j = 0; j < 2 * n; ++j) d0[2 * ow + j] = t0[j], d1[2 * ow + j] = t1[j];
  }
}

// float, AVX-512, 16 outputs a step. The gradient g of n (<= 16) outputs, kept in the lanes whose
// window position is 0, 1 (row 0) or 2, 3 (row 1) (masks k0..k3), interleaved by permutes into
// the 2n floats of the two input rows d0 and d1.
__attribute__((target("avx512f,avx512vl,avx512dq"))) inline void store_window_grads(
    __m512 g, __mmask16 k0, __mmask16 k1, __mmask16 k2, __mmask16 k3, int64_t n, float* d0, float* d1) {
  const __m512i il_lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i il_hi = _mm512_add_epi32(il_lo, _mm512_set1_epi32(8));
  const __m512 e0 = _mm512_maskz_mov_ps(k0, g), o0 = _mm512_maskz_mov_ps(k1, g);
  const __m512 e1 = _mm512_maskz_mov_ps(k2, g), o1 = _mm512_maskz_mov_ps(k3, g);
  const int n2 = static_cast<int>(2 * n);
  const __mmask16 s0 = static_cast<__mmask16>(n2 >= 16 ? 0xFFFF : (1u << n2) - 1);
  const __mmask16 s1 = static_cast<__mmask16>(n2 > 16 ? (1u << (n2 - 16)) - 1 : 0);
  _mm512_mask_storeu_ps(d0, s0, _mm512_permutex2var_ps(e0, il_lo, o0));
  _mm512_mask_storeu_ps(d0 + 16, s1, _mm512_permutex2var_ps(e0, il_hi, o0));
  _mm512_mask_storeu_ps(d1, s0, _mm512_permutex2var_ps(e1, il_lo, o1));
  _mm512_mask_storeu_ps(d1 + 16, s1, _mm512_permutex2var_ps(e1, il_hi, o1));
}

// lanes of q (16 int32) equal to v; of (lo, hi) (8 + 8 int64) equal to v. (A lambda would not
// inherit the kernels' target attribute.)
__attribute__((target("avx512f,avx512vl,avx512dq"))) inline __mmask16 eq32(__m512i q, int32_t v) {
  return _mm512_cmpeq_epi32_mask(q, _mm512_set1_epi32(v));
}
__attribute__((target("avx512f,avx512vl,avx512dq"))) inline __mmask16 eq64(__m512i lo, __m512i hi, int64_t v) {
  const __m512i vv = _mm512_set1_epi64(v);
  return static_cast<__mmask16>(_mm512_cmpeq_epi64_mask(lo, vv) | (_mm512_cmpeq_epi64_mask(hi, vv) << 8));
}

// window positions (uint8), widened to 16 int32 lanes. (GCC 12 warns inside avx512fintrin.h about
// cvtepu8_epi32's undefined pass-through, the false positive above.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) void max_pool_2x2_bwd_row_avx512(
    const float* gr, const uint8_t* ir, float* d0, float* d1, int64_t, int64_t, int64_t OW) {
  for (int64_t ow = 0; ow < OW; ow += 16) {
    const int64_t n = std::min<int64_t>(16, OW - ow);
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
    const __m512 g = _mm512_add_ps(_mm512_maskz_loadu_ps(m, gr + ow), _mm512_setzero_ps());
    const __m512i q = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, ir + ow));
    store_window_grads(g, eq32(q, 0), eq32(q, 1), eq32(q, 2), eq32(q, 3), n, d0 + 2 * ow, d1 + 2 * ow);
  }
}
#pragma GCC diagnostic pop

// plane indices (int64): r = index - (base + 2 * (ow + lane)) is 0, 1, W or W + 1
__attribute__((target("avx512f,avx512vl,avx512dq"))) void max_pool_2x2_bwd_row_avx512(
    const float* gr, const int64_t* ir, float* d0, float* d1, int64_t base, int64_t W, int64_t OW) {
  const __m512i two_lane = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
  for (int64_t ow = 0; ow < OW; ow += 16) {
    const int64_t n = std::min<int64_t>(16, OW - ow);
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1);
    const __m512 g = _mm512_add_ps(_mm512_maskz_loadu_ps(m, gr + ow), _mm512_setzero_ps());
    const __m512i b0 = _mm512_add_epi64(_mm512_set1_epi64(base + 2 * ow), two_lane);
    const __m512i b1 = _mm512_add_epi64(b0, _mm512_set1_epi64(16));
    const __m512i r0 = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(m), ir + ow), b0);
    const __m512i r1 = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(m >> 8), ir + ow + 8), b1);
    store_window_grads(g, eq64(r0, r1, 0), eq64(r0, r1, 1), eq64(r0, r1, W), eq64(r0, r1, W + 1), n, d0 + 2 * ow,
                       d1 + 2 * ow);
  }
}

// gy, ind (B, OH, OW) -> gx (B, H, W), planes [b0, b1); 2 * OH <= H and 2 * OW <= W (inputs past
// the last window: 0).
template <class T, class I>
void max_pool_2x2_bwd(const T* g, const I* ind, T* d, int64_t b0, int64_t b1, int64_t H, int64_t W,
                      int64_t OH, int64_t OW) {
  const bool avx512 = std::is_same_v<T, float> && cpu_isa() == Isa::Avx512;
  const bool avx2 = std::is_same_v<T, float> && std::is_same_v<I, uint8_t> && cpu_isa() == Isa::Avx2;
  for (int64_t b = b0; b < b1; ++b) {
    T* dp = d + b * H * W;
    for (int64_t oh = 0; oh < OH; ++oh) {
      T* d0 = dp + 2 * oh * W;
      const T* gr = g + (b * OH + oh) * OW;
      const I* ir = ind + (b * OH + oh) * OW;
      if constexpr (std::is_same_v<T, float>) {
        if (avx512) {
          max_pool_2x2_bwd_row_avx512(gr, ir, d0, d0 + W, 2 * oh * W, W, OW);
        } else if constexpr (std::is_same_v<I, uint8_t>) {
          if (avx2) max_pool_2x2_bwd_row_avx2(gr, ir, d0, d0 + W, 2 * oh * W, W, OW);
          else max_pool_2x2_bwd_row(gr, ir, d0, d0 + W, 2 * oh * W, W, OW);
        } else {
          max_pool_2x2_bwd_row(gr, ir, d0, d0 + W, 2 * oh * W, W, OW);
        }
      } else {
        max_pool_2x2_bwd_row(gr, ir, d0, d0 + W, 2 * oh * W, W, OW);
      }
      for (int64_t w = 2 * OW; w < W; ++w) d0[w] = d0[W + w] = T(0);
    }
    if (2 * OH < H) std::memset(static_cast<void*>(dp + 2 * OH * W), 0, sizeof(T) * (H - 2 * OH) * W);
  }
}

// The specialised max pooling: 2x2 windows of stride 2, no padding or dilation, every output's
// window inside the plane (and offsets in the window within int32).
static bool max_2x2(const PoolParams& p, int64_t H, int64_t W, int64_t OH, int64_t OW) {
  return p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && p.dh == 1 && p.dw == 1 &&
         2 * OH <= H && 2 * OW <= W && W < (int64_t(1) << 30);
}

// x (B, H, W) -> out (B, OH, OW), indices (B, OH, OW) for the max ops
void pool2d(PoolOp op, const Tensor& x, const Tensor& out, const Tensor& indices, const PoolParams& p) {
  if (out.numel() == 0) return;
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), OH = out.size(1), OW = out.size(2);
  dispatch_float(x.dtype(), "pool2d", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = out.data<T>();
    switch (op) {
      case PoolOp::Max:
        if (max_2x2(p, H, W, OH, OW)) {
          const auto run = [&](auto* ind) {
            if (p.relu) max_pool_2x2<true>(xp, yp, ind, B, H, W, OH, OW);
            else max_pool_2x2<false>(xp, yp, ind, B, H, W, OH, OW);
          };
          if (indices.dtype() == DType::UInt8) run(indices.data<uint8_t>());
          else run(indices.data<int64_t>());
        } else {
          EMBER_CHECK(indices.dtype() == DType::Int64, RuntimeError,
                      "pool2d: window positions (uint8 indices) are for 2x2 windows of stride 2 only");
          if (p.relu) max_pool_fwd<true>(xp, yp, indices.data<int64_t>(), B, H, W, OH, OW, p);
          else max_pool_fwd<false>(xp, yp, indices.data<int64_t>(), B, H, W, OH, OW, p);
        }
        break;
      case PoolOp::Avg:
        if (p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 && p.ph == 0 && p.pw == 0 && 2 * OH <= H && 2 * OW <= W)
          avg_pool_2x2(xp, yp, B, H, W, OH, OW, p.divisor > 0 ? p.divisor : 4);
        else
          avg_pool_fwd(xp, yp, B, H, W, OH, OW, p);
        break;
      case PoolOp::AdaptiveMax: adaptive_fwd(true, xp, yp, indices.data<int64_t>(), B, H, W, OH, OW); break;
      case PoolOp::AdaptiveAvg: adaptive_fwd(false, xp, yp, nullptr, B, H, W, OH, OW); break;
    }
  });
}

// gy (B, OH, OW) -> gx (B, H, W)
void pool2d_backward(PoolOp op, const Tensor& gy, const Tensor& indices, const Tensor& gx, const PoolParams& p) {
  if (gx.numel() == 0) return;
  const int64_t B = gx.size(0), H = gx.size(1), W = gx.size(2), OH = gy.size(1), OW = gy.size(2);
  dispatch_float(gx.dtype(), "pool2d_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* g = gy.data<T>();
    T* d = gx.data<T>();
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(H * W + OH * OW, 1));
    const bool two = op == PoolOp::Max && max_2x2(p, H, W, OH, OW);
    if (two && indices.dtype() == DType::UInt8) {
      const uint8_t* q = indices.data<uint8_t>();
      parallel_for_pieces(0, B, grain, 8,
                          [&](int64_t b0, int64_t b1, int) { max_pool_2x2_bwd(g, q, d, b0, b1, H, W, OH, OW); });
      return;
    }
    EMBER_CHECK(!indices.defined() || indices.dtype() == DType::Int64, RuntimeError,
                "pool2d_backward: window positions (uint8 indices) are for 2x2 windows of stride 2 only");
    const int64_t* ind = (op == PoolOp::Max || op == PoolOp::AdaptiveMax) ? indices.data<int64_t>() : nullptr;
    if (two) {
      parallel_for_pieces(0, B, grain, 8,
                          [&](int64_t b0, int64_t b1, int) { max_pool_2x2_bwd(g, ind, d, b0, b1, H, W, OH, OW); });
      return;
    }
    parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        T* dp = d + b * H * W;
        const T* gp = g + b * OH * OW;
        std::memset(static_cast<void*>(dp), 0, sizeof(T) * H * W);
        if (ind) {
          const int64_t* ip = ind + b * OH * OW;
          for (int64_t i = 0; i < OH * OW; ++i) dp[ip[i]] += gp[i];
          continue;
        }
        for (int64_t oh = 0; oh < OH; ++oh) {
          int64_t h0, h1, hp;
          if (op == PoolOp::Avg) avg_bounds(oh, p.kh, p.sh, p.ph, H, h0, h1, hp);
          else h0 = adaptive_start(oh, H, OH), h1 = adaptive_end(oh, H, OH);
          for (int64_t ow = 0; ow < OW; ++ow) {
            int64_t w0, w1, wp, div;
            if (op == PoolOp::Avg) {
              avg_bounds(ow, p.kw, p.sw, p.pw, W, w0, w1, wp);
              div = p.divisor > 0 ? p.divisor : p.count_include_pad ? hp * wp : (h1 - h0) * (w1 - w0);
            } else {
              w0 = adaptive_start(ow, W, OW), w1 = adaptive_end(ow, W, OW);
              div = (h1 - h0) * (w1 - w0);
            }
            const T v = gp[oh * OW + ow] / static_cast<T>(div);
            for (int64_t h = h0; h < h1; ++h)
              for (int64_t w = w0; w < w1; ++w) dp[h * W + w] += v;
          }
        }
      }
    });
  });
}

}  // namespace ember::cpu

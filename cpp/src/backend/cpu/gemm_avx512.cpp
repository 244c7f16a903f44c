// AVX-512 GEMM micro-kernels (see gemm.h for the contract). Vectors run along N (C's rows are
// the contiguous direction in row-major tensors): per k, two vector loads of the packed B row and
// MR broadcast-FMAs per vector. 12 x 32 fp32 keeps 24 accumulators + 2 B vectors + 1 broadcast in
// the 32 zmm registers (measured a little faster than 14 x 32: smaller M tails); fp64 uses 14 x 16.
// Compiled for the baseline ISA; only the functions marked EMBER_AVX512 use AVX-512.
#include <immintrin.h>

#include "gemm.h"

#define EMBER_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -Wmaybe-uninitialized flags once the transpose below is inlined (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ember::cpu::gemm_detail {
namespace {
// In-register transpose of a 16 x 16 fp32 block: r[i][j] -> r[j][i].
EMBER_AVX512 inline void transpose16(__m512* r) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 2
  for (int i = 0; i < 2; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
      t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
    }
#pragma GCC unroll 8
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
  }
}
}  // namespace

// dst[k * width + r] = src[r * ld + k] (r < rows), zero for rows <= r < width: 16 x 16 blocks
// transposed in registers, 3x faster than element-wise packing.
EMBER_AVX512 void pack_t_avx512_f32(int rows, int width, int64_t kc, const float* src, int64_t ld, float* dst) {
  for (int r0 = 0; r0 < width; r0 += 16) {
    const int nr = rows - r0 < 0 ? 0 : rows - r0 > 16 ? 16 : rows - r0;  // valid source rows here
    const int nw = width - r0 < 16 ? width - r0 : 16;                     // lanes stored
    const __mmask16 sm = static_cast<__mmask16>((1u << nw) - 1);
    for (int64_t k0 = 0; k0 < kc; k0 += 16) {
      const int kr = kc - k0 < 16 ? static_cast<int>(kc - k0) : 16;
      const __mmask16 lm = static_cast<__mmask16>((1u << kr) - 1);
      __m512 r[16];
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i)
        r[i] = i < nr ? _mm512_maskz_loadu_ps(lm, src + (r0 + i) * ld + k0) : _mm512_setzero_ps();
      transpose16(r);
      float* d = dst + k0 * width + r0;
#pragma GCC unroll 16
      for (int k = 0; k < 16; ++k)
        if (k < kr) _mm512_mask_storeu_ps(d + k * width, sm, r[k]);
    }
  }
}

// C (m x n of a 12 x 32 tile) = alpha * a (kc x 12, packed k-major) @ b (kc x 32) + beta * C
EMBER_AVX512 void ukernel_avx512_f32(int64_t kc, const float* a, const float* b, float* c, int64_t rsc,
                                     int64_t csc, float alpha, float beta, int m, int n) {
  constexpr int MR = kMrAvx512F32, NR = kNrAvx512F32;
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  // C's lines are prefetched ~32 k-steps before the end (earlier they would be evicted from L1
  // by the streaming A panel).
  // Two k loops around the prefetch (no per-step test), each unrolled 4x.
  const int64_t k_pf = kc > 32 ? kc - 32 : 0;
#define EMBER_F32_KSTEP                                                   \
  {                                                                       \
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);     \
    _Pragma("GCC unroll 14") for (int i = 0; i < MR; ++i) {               \
      const __m512 ai = _mm512_set1_ps(a[i]);                             \
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);                     \
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);                     \
    }                                                                     \
    a += MR;                                                              \
    b += NR;                                                              \
  }
  int64_t k = 0;
#pragma GCC unroll 4
  for (; k < k_pf; ++k) EMBER_F32_KSTEP
  if (csc == 1) {
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i)
      if (i < m) _mm_prefetch(reinterpret_cast<const char*>(c + i * rsc), _MM_HINT_T0),
                 _mm_prefetch(reinterpret_cast<const char*>(c + i * rsc + 16), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (; k < kc; ++k) EMBER_F32_KSTEP
#undef EMBER_F32_KSTEP
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (csc == 1) {
    const __mmask16 m0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
    const __mmask16 m1 = n >= 32 ? __mmask16(0xFFFF) : n <= 16 ? __mmask16(0) : __mmask16((1u << (n - 16)) - 1);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      if (i < m) {
        float* ci = c + i * rsc;
        __m512 v0 = _mm512_mul_ps(va, acc[i][0]), v1 = _mm512_mul_ps(va, acc[i][1]);
        if (beta != 0.0f) {
          v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), v0);
          v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), v1);
        }
        _mm512_mask_storeu_ps(ci, m0, v0);
        _mm512_mask_storeu_ps(ci + 16, m1, v1);
      }
    }
    return;
  }
  alignas(64) float tile[MR * NR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    _mm512_store_ps(tile + i * NR, acc[i][0]);
    _mm512_store_ps(tile + i * NR + 16, acc[i][1]);
  }
  store_tile(tile, NR, c, rsc, csc, alpha, beta, m, n);
}

// C (m x n of a 14 x 16 tile) = alpha * a @ b + beta * C, fp64
EMBER_AVX512 void ukernel_avx512_f64(int64_t kc, const double* a, const double* b, double* c, int64_t rsc,
                                     int64_t csc, double alpha, double beta, int m, int n) {
  constexpr int MR = kMrAvx512F64, NR = kNrAvx512F64;
  __m512d acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_pd();
  for (int64_t k = 0; k < kc; ++k) {
    const __m512d b0 = _mm512_load_pd(b), b1 = _mm512_load_pd(b + 8);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512d ai = _mm512_set1_pd(a[i]);
      acc[i][0] = _mm512_fmadd_pd(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_pd(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  const __m512d va = _mm512_set1_pd(alpha), vb = _mm512_set1_pd(beta);
  if (csc == 1) {
    const __mmask8 m0 = n >= 8 ? __mmask8(0xFF) : __mmask8((1u << n) - 1);
    const __mmask8 m1 = n >= 16 ? __mmask8(0xFF) : n <= 8 ? __mmask8(0) : __mmask8((1u << (n - 8)) - 1);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      if (i < m) {
        double* ci = c + i * rsc;
        __m512d v0 = _mm512_mul_pd(va, acc[i][0]), v1 = _mm512_mul_pd(va, acc[i][1]);
        if (beta != 0.0) {
          v0 = _mm512_fmadd_pd(vb, _mm512_maskz_loadu_pd(m0, ci), v0);
          v1 = _mm512_fmadd_pd(vb, _mm512_maskz_loadu_pd(m1, ci + 8), v1);
        }
        _mm512_mask_storeu_pd(ci, m0, v0);
        _mm512_mask_storeu_pd(ci + 8, m1, v1);
      }
    }
    return;
  }
  alignas(64) double tile[MR * NR];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) {
    _mm512_store_pd(tile + i * NR, acc[i][0]);
    _mm512_store_pd(tile + i * NR + 8, acc[i][1]);
  }
  store_tile(tile, NR, c, rsc, csc, alpha, beta, m, n);
}

}  // namespace ember::cpu::gemm_detail

#pragma GCC diagnostic pop

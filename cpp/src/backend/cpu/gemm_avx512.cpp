// AVX-512 GEMM micro-kernels (see gemm.h for the contract). Vectors run along N (C's rows are
// the contiguous direction in row-major tensors): per k, two vector loads of the packed B row and
// MR broadcast-FMAs per vector (the broadcast folds into the FMA's memory operand). 14 x 32 fp32
// keeps 28 accumulators + 2 B vectors in the 32 zmm registers; fp64 uses 14 x 16.
// Compiled for the baseline ISA; only the functions marked EMBER_AVX512 use AVX-512.
#include <immintrin.h>

#include "gemm.h"

#define EMBER_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

namespace ember::cpu::gemm_detail {

// C (m x n of a 14 x 32 tile) = alpha * a (kc x 14)^T-packed @ b (kc x 32) + beta * C
EMBER_AVX512 void ukernel_avx512_f32(int64_t kc, const float* a, const float* b, float* c, int64_t rsc,
                                     int64_t csc, float alpha, float beta, int m, int n) {
  constexpr int MR = kMrAvx512F32, NR = kNrAvx512F32;
  __m512 acc[MR][2];
#pragma GCC unroll 14
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  if (csc == 1) {
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i)
      if (i < m) _mm_prefetch(reinterpret_cast<const char*>(c + i * rsc), _MM_HINT_T0),
                 _mm_prefetch(reinterpret_cast<const char*>(c + i * rsc + 16), _MM_HINT_T0);
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
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

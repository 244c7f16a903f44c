// AVX2 + FMA GEMM micro-kernels (see gemm.h for the contract), for CPUs without AVX-512: the
// classic 6 x 16 fp32 / 6 x 8 fp64 tiles, 12 ymm accumulators + 2 B vectors + 1 broadcast.
// Full tiles with unit column stride store directly; edge tiles go through a small buffer.
// Compiled for the baseline ISA; only the functions marked EMBER_AVX2 use AVX2/FMA.
#include <immintrin.h>

#include "gemm.h"

#define EMBER_AVX2 __attribute__((target("avx2,fma")))

namespace ember::cpu::gemm_detail {

// C (m x n of a 6 x 16 tile) = alpha * a @ b + beta * C, fp32
EMBER_AVX2 void ukernel_avx2_f32(int64_t kc, const float* a, const float* b, float* c, int64_t rsc,
                                 int64_t csc, float alpha, float beta, int m, int n) {
  constexpr int MR = kMrAvx2F32, NR = kNrAvx2F32;
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  if (m == MR && n == NR && csc == 1) {
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* ci = c + i * rsc;
      __m256 v0 = _mm256_mul_ps(va, acc[i][0]), v1 = _mm256_mul_ps(va, acc[i][1]);
      if (beta != 0.0f) {
        v0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), v0);
        v1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), v1);
      }
      _mm256_storeu_ps(ci, v0);
      _mm256_storeu_ps(ci + 8, v1);
    }
    return;
  }
  alignas(32) float tile[MR * NR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    _mm256_store_ps(tile + i * NR, acc[i][0]);
    _mm256_store_ps(tile + i * NR + 8, acc[i][1]);
  }
  store_tile(tile, NR, c, rsc, csc, alpha, beta, m, n);
}

// C (m x n of a 6 x 8 tile) = alpha * a @ b + beta * C, fp64
EMBER_AVX2 void ukernel_avx2_f64(int64_t kc, const double* a, const double* b, double* c, int64_t rsc,
                                 int64_t csc, double alpha, double beta, int m, int n) {
  constexpr int MR = kMrAvx2F64, NR = kNrAvx2F64;
  __m256d acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_pd();
  for (int64_t k = 0; k < kc; ++k) {
    const __m256d b0 = _mm256_load_pd(b), b1 = _mm256_load_pd(b + 4);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256d ai = _mm256_broadcast_sd(a + i);
      acc[i][0] = _mm256_fmadd_pd(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_pd(ai, b1, acc[i][1]);
    }
    a += MR;
    b += NR;
  }
  if (m == MR && n == NR && csc == 1) {
    const __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      double* ci = c + i * rsc;
      __m256d v0 = _mm256_mul_pd(va, acc[i][0]), v1 = _mm256_mul_pd(va, acc[i][1]);
      if (beta != 0.0) {
        v0 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(ci), v0);
        v1 = _mm256_fmadd_pd(vb, _mm256_loadu_pd(ci + 4), v1);
      }
      _mm256_storeu_pd(ci, v0);
      _mm256_storeu_pd(ci + 4, v1);
    }
    return;
  }
  alignas(32) double tile[MR * NR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    _mm256_store_pd(tile + i * NR, acc[i][0]);
    _mm256_store_pd(tile + i * NR + 4, acc[i][1]);
  }
  store_tile(tile, NR, c, rsc, csc, alpha, beta, m, n);
}

}  // namespace ember::cpu::gemm_detail

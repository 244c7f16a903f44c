// AVX-512 GEMM micro-kernels (see gemm.h for the contract). Vectors run along N (C's rows are
// the contiguous direction in row-major tensors): per k, the packed B row in RV vector loads and
// MR broadcast-FMAs per vector. fp32 has two tiles, one template (f32_tile): 8 x 48 (24
// accumulators + 3 B vectors; 11 loads per 24 FMAs, ~226 GFLOP/s in L1 against a 240 peak) and
// 12 x 32 (24 + 2; 14 loads, ~219), chosen per problem in gemm.cpp; edge tiles run a smaller
// instantiation of the same template (only the rows and 16-column vectors they need). 14 x 32,
// 6 x 64 and 7 x 64 measured slower (210-218). fp64 uses 14 x 16. For products with few rows
// of A, two unpacked fp32 kernels: dot rows (rows of A against columns of B, both along k, summed
// across lanes at the end) and direct B (the tile above with A and B read in place).
// Compiled for the baseline ISA; only the functions marked EMBER_AVX512 use AVX-512.
#include <immintrin.h>

#include <array>
#include <type_traits>
#include <utility>

#include "gemm.h"
#include "transpose_avx512.h"

#define EMBER_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -Wmaybe-uninitialized flags once the transpose below is inlined (a false positive).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ember::cpu::gemm_detail {

// dst[k * width + r] = src[r * ld + k] (r < rows), zero for rows <= r < width: 16 x 16 blocks
// transposed in registers, 3x faster than element-wise packing.
EMBER_AVX512 void pack_t_avx512_f32(int rows, int width, int64_t kc, const float* src, int64_t ld, float* dst) {
  if (width == 8) {
    // 8-wide panels (the 8 x 48 tile's A): a 16 x 16 transpose of 8 rows x 32 k (k0..15 in
    // registers 0-7, k16..31 in 8-15) leaves k0+j in the low and k0+16+j in the high half of
    // register j, so no half-empty transposes.
    for (int64_t k0 = 0; k0 < kc; k0 += 32) {
      const int kr = kc - k0 < 32 ? static_cast<int>(kc - k0) : 32;
      const __mmask16 lm0 = static_cast<__mmask16>(kr >= 16 ? 0xFFFFu : (1u << kr) - 1);
      const __mmask16 lm1 = static_cast<__mmask16>(kr >= 32 ? 0xFFFFu : kr <= 16 ? 0u : (1u << (kr - 16)) - 1);
      __m512 r[16];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        r[i] = i < rows ? _mm512_maskz_loadu_ps(lm0, src + i * ld + k0) : _mm512_setzero_ps();
        r[8 + i] = i < rows ? _mm512_maskz_loadu_ps(lm1, src + i * ld + k0 + 16) : _mm512_setzero_ps();
      }
      transpose16(r);
      float* d = dst + k0 * 8;
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) {
        if (j < kr) _mm256_storeu_ps(d + j * 8, _mm512_castps512_ps256(r[j]));
        if (16 + j < kr)
          _mm256_storeu_ps(d + (16 + j) * 8, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(r[j]), 1)));
      }
    }
    return;
  }
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

// Row-major B panels (see gemm.h): one zmm copy per 16 columns, the last masked (zeros past nc).
// The baseline-ISA driver's memcpy moves 16 bytes at a time, and with M = 64 (conv out-channels)
// packing B was ~18% of the GEMM.
EMBER_AVX512 void pack_n_avx512_f32(int width, int64_t kc, int64_t nc, const float* src, int64_t ld, float* dst) {
  const int64_t padded = (nc + width - 1) / width * width;
  for (int64_t k = 0; k < kc; ++k, src += ld, dst += width) {
    float* d = dst;
    for (int64_t j = 0; j < padded; d += kc * width) {
      for (int v = 0; v < width; v += 16, j += 16) {
        const int64_t r = nc - j;
        const __mmask16 m = r >= 16 ? __mmask16(0xFFFF) : r <= 0 ? __mmask16(0) : __mmask16((1u << r) - 1);
        _mm512_storeu_ps(d + v, _mm512_maskz_loadu_ps(m, src + j));
      }
    }
  }
}

namespace {
// The 16-lane mask of the vector at column 16 v of a row of n columns (all, some or none).
EMBER_AVX512 inline __mmask16 cols_mask(int n, int v) {
  const int r = n - 16 * v;
  return r >= 16 ? __mmask16(0xFFFF) : r <= 0 ? __mmask16(0) : __mmask16((1u << r) - 1);
}

// The tiles' epilogue: rows [0, m) and columns [0, n) of C = alpha * acc + beta * C (beta == 0:
// C is not read); masked vector stores for contiguous rows, else through store_tile.
template <int RM, int RV>
EMBER_AVX512 __attribute__((always_inline)) inline void store_acc(const __m512 (&acc)[RM][RV], float* c, int64_t rsc,
                                                                  int64_t csc, float alpha, float beta, int m, int n) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  if (csc == 1) {
    __mmask16 mk[RV];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) mk[v] = cols_mask(n, v);
#pragma GCC unroll 16
    for (int i = 0; i < RM; ++i) {
      if (i < m) {
        float* ci = c + i * rsc;
#pragma GCC unroll 4
        for (int v = 0; v < RV; ++v) {
          __m512 x = _mm512_mul_ps(va, acc[i][v]);
          if (beta != 0.0f) x = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk[v], ci + 16 * v), x);
          _mm512_mask_storeu_ps(ci + 16 * v, mk[v], x);
        }
      }
    }
    return;
  }
  alignas(64) float tile[RM * RV * 16];
#pragma GCC unroll 16
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) _mm512_store_ps(tile + (i * RV + v) * 16, acc[i][v]);
  store_tile(tile, RV * 16, c, rsc, csc, alpha, beta, m, n);
}

// C (m x n, m <= RM, n <= 16 * RV) = alpha * a @ b + beta * C, from panels packed PM rows / PN
// columns wide. RM x RV is the part of the PM x PN tile actually computed: edge tiles instantiate
// a smaller one, so M and N remainders cost (almost) only their real work instead of a full tile.
// Per k: RV aligned loads of the B row, then RM broadcasts of a[i] (folded into the FMA's memory
// operand), RM * RV FMAs. RM * RV + RV <= 31 zmm registers.
// DA (direct A): a is not packed but read in place, row i at a + i * lda, contiguous along k
// (row-major A, rsa = lda, csa = 1): the broadcasts need no layout, so such A skips packing.
template <int PM, int PN, int RM, int RV, bool DA>
EMBER_AVX512 void f32_tile_any(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t rsc,
                               int64_t csc, float alpha, float beta, int m, int n) {
  static_assert(RM <= PM && 16 * RV <= PN && RM * RV + RV <= 31, "tile does not fit");
  __m512 acc[RM][RV];
#pragma GCC unroll 16
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) acc[i][v] = _mm512_setzero_ps();
  // C's lines are prefetched ~32 k-steps before the end (earlier they would be evicted from L1
  // by the streaming A panel). Two k loops around the prefetch (no per-step test), each unrolled 4x.
  const int64_t k_pf = kc > 32 ? kc - 32 : 0;
  // (a macro, not a lambda: lambdas do not inherit the target attribute)
#define EMBER_F32_KSTEP                                                        \
  {                                                                            \
    __m512 bv[RV];                                                             \
    _Pragma("GCC unroll 4") for (int v = 0; v < RV; ++v) bv[v] = _mm512_load_ps(b + 16 * v); \
    _Pragma("GCC unroll 16") for (int i = 0; i < RM; ++i) {                    \
      const __m512 ai = _mm512_set1_ps(DA ? a[i * lda] : a[i]);                \
      _Pragma("GCC unroll 4") for (int v = 0; v < RV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]); \
    }                                                                          \
    a += DA ? 1 : PM;                                                          \
    b += PN;                                                                   \
  }
  int64_t k = 0;
#pragma GCC unroll 4
  for (; k < k_pf; ++k) EMBER_F32_KSTEP
  if (csc == 1) {
#pragma GCC unroll 16
    for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v)
        if (i < m) _mm_prefetch(reinterpret_cast<const char*>(c + i * rsc + 16 * v), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (; k < kc; ++k) EMBER_F32_KSTEP
#undef EMBER_F32_KSTEP
  store_acc<RM, RV>(acc, c, rsc, csc, alpha, beta, m, n);
}

template <int PM, int PN, int RM, int RV>
EMBER_AVX512 void f32_tile(int64_t kc, const float* a, const float* b, float* c, int64_t rsc, int64_t csc,
                           float alpha, float beta, int m, int n) {
  f32_tile_any<PM, PN, RM, RV, false>(kc, a, 0, b, c, rsc, csc, alpha, beta, m, n);
}
template <int PM, int PN, int RM, int RV>
EMBER_AVX512 void f32_tile_da(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t rsc,
                              int64_t csc, float alpha, float beta, int m, int n) {
  f32_tile_any<PM, PN, RM, RV, true>(kc, a, lda, b, c, rsc, csc, alpha, beta, m, n);
}

// kTileTable<PM, PN, DA>[m - 1][ceil(n / 16) - 1]: the smallest tile covering an m x n edge (DA:
// the direct-A kernels).
template <bool DA>
using TileFn = std::conditional_t<DA, DirectKernel<float>, MicroKernel<float>>;
template <int PM, int PN, int RM, int RV, bool DA>
constexpr TileFn<DA> tile_fn() {
  if constexpr (DA) return &f32_tile_da<PM, PN, RM, RV>;
  else return &f32_tile<PM, PN, RM, RV>;
}
template <int PM, int PN, bool DA, int RM, int... V>
constexpr std::array<TileFn<DA>, sizeof...(V)> tile_row(std::integer_sequence<int, V...>) {
  return {tile_fn<PM, PN, RM, V + 1, DA>()...};
}
template <int PM, int PN, bool DA, int... R>
constexpr std::array<std::array<TileFn<DA>, PN / 16>, PM> tile_table(std::integer_sequence<int, R...>) {
  return {tile_row<PM, PN, DA, R + 1>(std::make_integer_sequence<int, PN / 16>())...};
}
template <int PM, int PN, bool DA>
constexpr auto kTileTable = tile_table<PM, PN, DA>(std::make_integer_sequence<int, PM>());
}  // namespace

// 12 x 32 fp32: 24 accumulators + 2 B vectors.
EMBER_AVX512 void ukernel_avx512_f32(int64_t kc, const float* a, const float* b, float* c, int64_t rsc,
                                     int64_t csc, float alpha, float beta, int m, int n) {
  constexpr int PM = kMrAvx512F32, PN = kNrAvx512F32;
  if (m == PM && n > PN - 16) return f32_tile<PM, PN, PM, PN / 16>(kc, a, b, c, rsc, csc, alpha, beta, m, n);
  kTileTable<PM, PN, false>[m - 1][(n + 15) / 16 - 1](kc, a, b, c, rsc, csc, alpha, beta, m, n);
}

// 8 x 48 fp32: 24 accumulators + 3 B vectors; fewer loads per FMA than 12 x 32 (11 vs 14 per
// 24 FMAs), measured ~3% faster in L1, and M = 32/64/128 (conv out-channels) without padding.
EMBER_AVX512 void ukernel_avx512_f32_8x48(int64_t kc, const float* a, const float* b, float* c, int64_t rsc,
                                          int64_t csc, float alpha, float beta, int m, int n) {
  constexpr int PM = kMrAvx512F32b, PN = kNrAvx512F32b;
  if (m == PM && n > PN - 16) return f32_tile<PM, PN, PM, PN / 16>(kc, a, b, c, rsc, csc, alpha, beta, m, n);
  kTileTable<PM, PN, false>[m - 1][(n + 15) / 16 - 1](kc, a, b, c, rsc, csc, alpha, beta, m, n);
}

// The two fp32 tiles with A read in place (row i at a + i * lda).
EMBER_AVX512 void ukernel_avx512_f32_da(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                                        int64_t rsc, int64_t csc, float alpha, float beta, int m, int n) {
  constexpr int PM = kMrAvx512F32, PN = kNrAvx512F32;
  if (m == PM && n > PN - 16) return f32_tile_da<PM, PN, PM, PN / 16>(kc, a, lda, b, c, rsc, csc, alpha, beta, m, n);
  kTileTable<PM, PN, true>[m - 1][(n + 15) / 16 - 1](kc, a, lda, b, c, rsc, csc, alpha, beta, m, n);
}
EMBER_AVX512 void ukernel_avx512_f32_8x48_da(int64_t kc, const float* a, int64_t lda, const float* b, float* c,
                                             int64_t rsc, int64_t csc, float alpha, float beta, int m, int n) {
  constexpr int PM = kMrAvx512F32b, PN = kNrAvx512F32b;
  if (m == PM && n > PN - 16) return f32_tile_da<PM, PN, PM, PN / 16>(kc, a, lda, b, c, rsc, csc, alpha, beta, m, n);
  kTileTable<PM, PN, true>[m - 1][(n + 15) / 16 - 1](kc, a, lda, b, c, rsc, csc, alpha, beta, m, n);
}

namespace {
// out[l] = the sum of x[l]'s 16 lanes, for 16 vectors at once: pairs of vectors are interleaved
// and added within 128-bit lanes (16 -> 8 -> 4 vectors, each 128-bit lane then holding partial
// sums of 4 vectors), then across 128-bit lanes (4 -> 2 -> 1).
EMBER_AVX512 inline __m512 lane_sums16(const __m512* x) {
  __m512 a[8], b[4];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i)
    a[i] = _mm512_add_ps(_mm512_unpacklo_ps(x[2 * i], x[2 * i + 1]), _mm512_unpackhi_ps(x[2 * i], x[2 * i + 1]));
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i)
    b[i] = _mm512_add_ps(_mm512_shuffle_ps(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(a[2 * i], a[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 c0 = _mm512_add_ps(_mm512_shuffle_f32x4(b[0], b[1], 0x88), _mm512_shuffle_f32x4(b[0], b[1], 0xDD));
  const __m512 c1 = _mm512_add_ps(_mm512_shuffle_f32x4(b[2], b[3], 0x88), _mm512_shuffle_f32x4(b[2], b[3], 0xDD));
  return _mm512_add_ps(_mm512_shuffle_f32x4(c0, c1, 0x88), _mm512_shuffle_f32x4(c0, c1, 0xDD));
}

// RM rows of A against n <= J columns of B at once, both contiguous along k: RM * J accumulators,
// per 16 k one load of each row and column and RM * J FMAs; the remaining k masked (nothing past
// k is read). Then each accumulator is summed across its lanes.
template <int RM, int J>
EMBER_AVX512 void f32_dot_block(int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
                                int64_t rsc, int64_t csc, float alpha, float beta, const float* bias, int n) {
  __m512 acc[RM][J];
#pragma GCC unroll 8
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j) acc[i][j] = _mm512_setzero_ps();
  const __mmask16 tail = static_cast<__mmask16>((1u << (k % 16)) - 1);
  for (int64_t k0 = 0; k0 < k; k0 += 16) {
    const __mmask16 mk = k - k0 >= 16 ? __mmask16(0xFFFF) : tail;
    __m512 bv[J];
#pragma GCC unroll 8
    for (int j = 0; j < J; ++j) bv[j] = j < n ? _mm512_maskz_loadu_ps(mk, b + j * ldb + k0) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < RM; ++i) {
      const __m512 av = _mm512_maskz_loadu_ps(mk, a + i * lda + k0);
#pragma GCC unroll 8
      for (int j = 0; j < J; ++j) acc[i][j] = _mm512_fmadd_ps(av, bv[j], acc[i][j]);
    }
  }
  // the lane sums, 16 accumulators at a time through one transposing tree (45 instructions
  // where 16 separate reductions take about 130, each a chain of 4 dependent steps)
  alignas(64) float sums[(RM * J + 15) / 16 * 16];
  for (int g = 0; g < RM * J; g += 16) {
    __m512 x[16];
#pragma GCC unroll 16
    for (int l = 0; l < 16; ++l) x[l] = g + l < RM * J ? acc[(g + l) / J][(g + l) % J] : _mm512_setzero_ps();
    _mm512_store_ps(sums + g, lane_sums16(x));
  }
  for (int i = 0; i < RM; ++i)
    for (int j = 0; j < n; ++j) {
      float& cv = c[i * rsc + j * csc];
      float v = alpha * sums[i * J + j];
      if (beta != 0.0f) v += beta * cv;
      if (bias) v += bias[j];
      cv = v;
    }
}

// All RM rows against columns in blocks of J: RM * J + J + 1 <= 31 registers, J <= 8 (the loops
// unroll 8: J = 10 or 12 left the accumulators in memory, 2x slower). Per 16 k, RM * J FMAs for
// RM + J loads: 4 x 6, 5 x 5 and 6 x 4 blocks (1 x 256 x 784 .. 8 x 256 x 784, 1 thread) ran
// 10-20% faster than 4 x 4, 5 x 3 and 6 x 3; a prefetch of the next block's columns, slower.
template <int RM, int J>
EMBER_AVX512 void f32_dot_rows(int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                               int64_t ldb, float* c, int64_t rsc, int64_t csc, float alpha, float beta,
                               const float* bias) {
  for (int64_t j0 = 0; j0 < n; j0 += J)
    f32_dot_block<RM, J>(k, a, lda, b + j0 * ldb, ldb, c + j0 * csc, rsc, csc, alpha, beta, bias ? bias + j0 : nullptr,
                         static_cast<int>(n - j0 < J ? n - j0 : J));
}
}  // namespace

// Few rows of A (m <= 8) against B's columns, both contiguous along k (a Linear's x and weight at
// small batch): C = alpha * A B + beta * C (+ bias per column). Nothing is packed: B is read once,
// each column against all m rows, which packing B (all of it, for m rows) cost several times over.
EMBER_AVX512 void gemm_dot_rows_avx512_f32(int m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                                           int64_t ldb, float* c, int64_t rsc, int64_t csc, float alpha, float beta,
                                           const float* bias) {
  switch (m) {
    case 1: return f32_dot_rows<1, 8>(n, k, a, lda, b, ldb, c, rsc, csc, alpha, beta, bias);
    case 2: return f32_dot_rows<2, 8>(n, k, a, lda, b, ldb, c, rsc, csc, alpha, beta, bias);
    case 3: return f32_dot_rows<3, 6>(n, k, a, lda, b, ldb, c, rsc, csc, alpha, beta, bias);
    case 4: return f32_dot_rows<4, 6>(n, k, a, lda, b, ldb, c, rsc, csc, alpha, beta, bias);
    case 5: return f32_dot_rows<5, 5>(n, k, a, lda, b, ldb, c, rsc, csc, alpha, beta, bias);
    case 6: return f32_dot_rows<6, 4>(n, k, a, lda, b, ldb, c, rsc, csc, alpha, beta, bias);
    case 7: return f32_dot_rows<7, 3>(n, k, a, lda, b, ldb, c, rsc, csc, alpha, beta, bias);
    default: return f32_dot_rows<8, 3>(n, k, a, lda, b, ldb, c, rsc, csc, alpha, beta, bias);
  }
}

namespace {
// RM x (16 RV) of C from A and B both read in place: A (i, k) at a[i * rsa + k * csa] (few rows,
// in L1; each element is broadcast from memory, so its layout costs nothing), B's row k at
// b + k * ldb, contiguous along n, masked past n (nothing beyond is read). (Measured without gain
// on 1 x 784 x 256: prefetching B's rows 4-16 ahead, and 2-4 accumulator sets for small tiles.)
template <int RM, int RV>
EMBER_AVX512 void f32_tile_db(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b, int64_t ldb,
                              float* c, int64_t rsc, int64_t csc, float alpha, float beta, int n) {
  static_assert(RM <= 8 && RM * RV + RV <= 31, "tile does not fit");
  __mmask16 mk[RV];
#pragma GCC unroll 4
  for (int v = 0; v < RV; ++v) mk[v] = cols_mask(n, v);
  __m512 acc[RM][RV];
#pragma GCC unroll 8
  for (int i = 0; i < RM; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) acc[i][v] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k, a += csa, b += ldb) {
    __m512 bv[RV];
#pragma GCC unroll 4
    for (int v = 0; v < RV; ++v) bv[v] = _mm512_maskz_loadu_ps(mk[v], b + 16 * v);
#pragma GCC unroll 8
    for (int i = 0; i < RM; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i * rsa]);
#pragma GCC unroll 4
      for (int v = 0; v < RV; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
  }
  store_acc<RM, RV>(acc, c, rsc, csc, alpha, beta, RM, n);
}

using TileDb = void (*)(int64_t, const float*, int64_t, int64_t, const float*, int64_t, float*, int64_t, int64_t, float,
                        float, int);
template <int RM, int... V>
constexpr std::array<TileDb, sizeof...(V)> tile_db_row(std::integer_sequence<int, V...>) {
  return {&f32_tile_db<RM, V + 1>...};
}
template <int... R>
constexpr std::array<std::array<TileDb, 3>, 8> tile_db_table(std::integer_sequence<int, R...>) {
  return {tile_db_row<R + 1>(std::make_integer_sequence<int, 3>())...};
}
constexpr auto kTileDbTable = tile_db_table(std::make_integer_sequence<int, 8>());
}  // namespace

// C (m x n, m <= 8, n <= 48) = alpha * A B + beta * C, A and B read in place (A any strides, B's
// rows b + k * ldb contiguous along n): few rows of A against a row-major B (x @ W, a Linear's
// input gradient at small batch), where packing B would cost more than the product.
EMBER_AVX512 void ukernel_avx512_f32_db(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b,
                                        int64_t ldb, float* c, int64_t rsc, int64_t csc, float alpha, float beta, int m,
                                        int n) {
  kTileDbTable[m - 1][(n + 15) / 16 - 1](kc, a, rsa, csa, b, ldb, c, rsc, csc, alpha, beta, n);
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

// AVX-512 float32 exp and log on whole vectors: the same reductions and polynomials as
// exp_f32 / log_f32 in vec_math.h, with AVX-512's vscalefps, vgetexpps / vgetmantps and
// vfixupimmps for the scaling and the special values. Shared by the elementwise kernels and the
// short-row softmax kernels. Functions carry EMBER_ATTR_AVX512 and are only called on AVX-512 CPUs.
#pragma once
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#include <limits>
#include <type_traits>

#include "loops.h"
#include "vec_math.h"

namespace ember::cpu {

// exp_f32 (vec_math.h) with AVX-512's vscalefps for the 2^n scaling: one instruction that rounds
// y * 2^n once, subnormal results and overflow to inf included, where the portable version needs
// an int conversion, shifts and two multiplies (and GCC 12 turns its clamps and NaN select into
// masked moves): 37 instructions a vector -> 19. The clamps pass NaN through (max/min return
// their second operand when one is NaN), and scalef(NaN, NaN) is NaN. Same reduction and
// polynomial as exp_f32, so the same 1-ulp bound.
// exp_poly (vec_math.h): exp(r) for |r| <= ln2 / 2 (and a little beyond)
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 exp_poly_avx512(__m512 r) {
  __m512 y = _mm512_fmadd_ps(_mm512_set1_ps(1.9875691500E-4f), r, _mm512_set1_ps(1.3981999507E-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073E-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894E-2f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459E-1f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201E-1f));
  return _mm512_add_ps(_mm512_fmadd_ps(y, _mm512_mul_ps(r, r), r), _mm512_set1_ps(1.0f));
}

EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 exp_avx512(__m512 x) {
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 k = _mm512_sub_ps(_mm512_fmadd_ps(xc, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(12582912.0f)),
                                 _mm512_set1_ps(12582912.0f));
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
  return _mm512_scalef_ps(exp_poly_avx512(r), k);
}

// log_f32 (vec_math.h) with AVX-512's vgetexpps / vgetmantps for the reduction: x = 2^e * m with
// m in [1, 2), subnormals included, then m >= sqrt(2) halved (e + 1), which is the portable
// version's split exactly (its m < sqrt(.5) test on m / 2), so the same f = m - 1, the same
// Cephes polynomial and the same 1-ulp bound. The special values come from one vfixupimmps (NaN
// passes, 0 -> -inf, inf -> inf) and one masked move (x < 0 -> NaN) instead of the portable
// version's subnormal rescale and four selects: 45 instructions a vector -> 27.
EMBER_ATTR_AVX512 EMBER_VM_INLINE void log_parts_avx512(__m512 x, __m512& e, __m512& f, __m512& y) {
  __m512 m = _mm512_getmant_ps(x, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
  e = _mm512_getexp_ps(x);
  const __mmask16 hi = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421354f), _CMP_GE_OQ);
  m = _mm512_mask_mul_ps(m, hi, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_ps(e, hi, e, _mm512_set1_ps(1.0f));
  f = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  const __m512 z = _mm512_mul_ps(f, f);
  __m512 p = _mm512_set1_ps(7.0376836292E-2f);
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.1514610310E-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.1676998740E-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.2420140846E-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.4249322787E-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-1.6668057665E-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.0000714765E-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(-2.4999993993E-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(3.3333331174E-1f));
  y = _mm512_fnmadd_ps(_mm512_set1_ps(0.5f), z, _mm512_mul_ps(_mm512_mul_ps(p, f), z));
}

// log's and log2's special values: NaN passes, 0 -> -inf, inf -> inf, x < 0 (-inf too) -> NaN
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 log_specials_avx512(__m512 x, __m512 res) {
  // vfixupimmps responses by input class, 4 bits each: QNaN, SNaN -> 1 (x), zero -> 4 (-inf),
  // +inf -> 5 (+inf), the others -> 0 (res)
  res = _mm512_fixupimm_ps(res, x, _mm512_set1_epi32(0x00500411), 0);
  return _mm512_mask_mov_ps(res, _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ),
                            _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN()));
}

EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 log_avx512(__m512 x) {
  __m512 e, f, y;
  log_parts_avx512(x, e, f, y);
  const __m512 t = _mm512_add_ps(f, _mm512_fnmadd_ps(_mm512_set1_ps(2.12194440e-4f), e, y));
  return log_specials_avx512(x, _mm512_fmadd_ps(_mm512_set1_ps(0.693359375f), e, t));
}

EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 log2_avx512(__m512 x) {
  __m512 e, f, y;
  log_parts_avx512(x, e, f, y);
  const __m512 hi = _mm512_set1_ps(1.44269502162933349609f), lo = _mm512_set1_ps(1.92596299112661746e-8f);
  const __m512 t = _mm512_fmadd_ps(_mm512_add_ps(f, y), lo, _mm512_mul_ps(y, hi));
  return log_specials_avx512(x, _mm512_add_ps(e, _mm512_fmadd_ps(f, hi, t)));
}

// Horizontal max / sum of v, broadcast to every lane: four swap-and-combine steps (256-bit halves,
// 128-bit quarters, pairs, neighbours), so a row's statistic never leaves the register file.
// NaN lanes may leave different lanes with different maxima; callers feed the max into exp and a
// sum, where any NaN reaches every lane.
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 bcast_max_avx512(__m512 v) {
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  v = _mm512_max_ps(v, _mm512_permute_ps(v, 0x4E));
  return _mm512_max_ps(v, _mm512_permute_ps(v, 0xB1));
}
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 bcast_sum_avx512(__m512 v) {
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
  return _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
}

// The lane mask of the last of a row's ceil(R / 16) vectors.
inline __mmask16 tail_mask16(int64_t R) {
  const int64_t r = R % 16;
  return r == 0 ? __mmask16(0xffff) : __mmask16((1u << r) - 1);
}

// Calls f(std::integral_constant<int, NV>{}) with NV = ceil(R / 16), the vectors a row of R <= 128
// float32 takes: the short-row kernels (softmax, layer_norm) are instantiated per NV.
template <class F>
inline void with_row_vectors(int64_t R, F&& f) {
  switch ((R + 15) / 16) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 3: return f(std::integral_constant<int, 3>{});
    case 4: return f(std::integral_constant<int, 4>{});
    case 5: return f(std::integral_constant<int, 5>{});
    case 6: return f(std::integral_constant<int, 6>{});
    case 7: return f(std::integral_constant<int, 7>{});
    default: return f(std::integral_constant<int, 8>{});
  }
}

// A row of R <= 16 * NV float32 into NV vectors, the last masked by tail (tail_mask16(R)) and padded
// with pad; and its max broadcast to every lane (the short-row softmax kernels).
template <int NV>
EMBER_ATTR_AVX512 EMBER_VM_INLINE void load_row_avx512(const float* x, __mmask16 tail, __m512 pad, __m512 (&v)[NV]) {
  for (int k = 0; k < NV - 1; ++k) v[k] = _mm512_loadu_ps(x + 16 * k);
  v[NV - 1] = _mm512_mask_loadu_ps(pad, tail, x + 16 * (NV - 1));
}
template <int NV>
EMBER_ATTR_AVX512 EMBER_VM_INLINE __m512 row_max_avx512(const __m512 (&v)[NV]) {
  __m512 m = v[0];
  for (int k = 1; k < NV; ++k) m = _mm512_max_ps(m, v[k]);
  return bcast_max_avx512(m);
}

// (The pragmas: GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -Wmaybe-uninitialized flags where this is instantiated out of line; a false positive.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
// Max and log(sum(exp(x - max))) of nb <= 16 rows of R <= 16 * NV float32 (row j at x + j * R),
// into mb[j] and lb[j] (64-byte aligned, 16 each): each row's statistics go into lane j of two
// vectors and one vector log serves the block (a log per row made the per-row dependency chain
// long enough that out-of-order execution could no longer overlap rows: 16-element log_softmax
// rows 19 ns -> 11 ns a row). A NaN anywhere in a row makes its log-sum NaN; rows of -inf or
// with +inf give NaN too (inf - inf). Shared by log_softmax's and cross-entropy's short rows.
template <int NV>
EMBER_ATTR_AVX512 inline void lse_block_avx512(const float* x, int64_t R, int nb, float* mb, float* lb) {
  const __mmask16 tail = tail_mask16(R);
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 mv = _mm512_setzero_ps(), sv = _mm512_set1_ps(1.0f);
  for (int j = 0; j < nb; ++j) {
    __m512 v[NV];
    load_row_avx512<NV>(x + j * R, tail, ninf, v);
    const __m512 m = row_max_avx512<NV>(v);
    __m512 s = exp_avx512(_mm512_sub_ps(v[0], m));
    for (int k = 1; k < NV; ++k) s = _mm512_add_ps(s, exp_avx512(_mm512_sub_ps(v[k], m)));
    const __mmask16 lane = static_cast<__mmask16>(1u << j);
    mv = _mm512_mask_mov_ps(mv, lane, m);
    sv = _mm512_mask_mov_ps(sv, lane, bcast_sum_avx512(s));
  }
  _mm512_store_ps(mb, mv);
  _mm512_store_ps(lb, log_avx512(sv));
}
#pragma GCC diagnostic pop

}  // namespace ember::cpu
#endif

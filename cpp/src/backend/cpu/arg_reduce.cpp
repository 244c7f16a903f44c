// CPU arg-reduction: values and first indices of the max/min along one dim, in one pass over the
// (O, R, I) layout. Rows (I = 1) find the extreme with 64 independent lanes, then the first index
// holding it; columns (I > 1) keep running (value, index) pairs for a block of I, vectorised.
// Both loops are compiled per ISA (arg_kernels.inc).
// NaN propagates like torch: the first NaN wins.
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "dim_layout.h"
#include "loops.h"
#include "parallel.h"

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -W(maybe-)uninitialized flags once the AVX-512 kernels inline them (a false positive; as in
// gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace ember::cpu {
namespace {

template <bool IsMax, class T>
inline bool better(T v, T best) {  // strictly better, or the first NaN
  if constexpr (std::is_floating_point_v<T>) {
    return (IsMax ? v > best : v < best) | ((v != v) & (best == best));
  } else {
    return IsMax ? v > best : v < best;
  }
}

namespace arg_base {
#define EMBER_ARG_ATTR
#include "arg_kernels.inc"
#undef EMBER_ARG_ATTR
}  // namespace arg_base
#if defined(__x86_64__) && defined(__GNUC__)
namespace arg_avx2 {
#define EMBER_ARG_ATTR EMBER_ATTR_AVX2
#include "arg_kernels.inc"
#undef EMBER_ARG_ATTR
}  // namespace arg_avx2
namespace arg_avx512 {
#define EMBER_ARG_ATTR EMBER_ATTR_AVX512
#include "arg_kernels.inc"
#undef EMBER_ARG_ATTR
}  // namespace arg_avx512
#endif

#if defined(__x86_64__) && defined(__GNUC__)
// Float rows on AVX-512, written out: the generic row loop sets up and folds 64 lanes in memory,
// ~110 ns a row for the 10-16 values of a classifier's argmax (torch: ~35). One pass finds the
// extreme with vmaxps / vminps over four vectors (a tail through a masked load padded with x[0])
// and notes any NaN in a mask; a second finds the first index equal to it (or the first NaN)
// 16 values at a time. The value returned is x[index], as the generic loop's.
template <bool IsMax> EMBER_ATTR_AVX512 inline __m512 arg_pick(__m512 a, __m512 b) {
  return IsMax ? _mm512_max_ps(a, b) : _mm512_min_ps(a, b);
}

template <bool IsMax>
EMBER_ATTR_AVX512 void arg_row_f32_avx512(const float* x, int64_t R, float* val, int64_t* idx) {
  const __m512 first = _mm512_set1_ps(x[0]);
  __m512 m0 = first, m1 = first, m2 = first, m3 = first;
  __mmask16 nan = 0;
  int64_t r = 0;
  for (; r + 64 <= R; r += 64) {
    const __m512 u0 = _mm512_loadu_ps(x + r), u1 = _mm512_loadu_ps(x + r + 16);
    const __m512 u2 = _mm512_loadu_ps(x + r + 32), u3 = _mm512_loadu_ps(x + r + 48);
    m0 = arg_pick<IsMax>(m0, u0);
    m1 = arg_pick<IsMax>(m1, u1);
    m2 = arg_pick<IsMax>(m2, u2);
    m3 = arg_pick<IsMax>(m3, u3);
    nan |= _mm512_cmp_ps_mask(u0, u1, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(u2, u3, _CMP_UNORD_Q);
  }
  for (; r + 16 <= R; r += 16) {
    const __m512 u = _mm512_loadu_ps(x + r);
    m0 = arg_pick<IsMax>(m0, u);
    nan |= _mm512_cmp_ps_mask(u, u, _CMP_UNORD_Q);
  }
  if (r < R) {
    const __m512 u = _mm512_mask_loadu_ps(first, static_cast<__mmask16>((1u << (R - r)) - 1), x + r);
    m1 = arg_pick<IsMax>(m1, u);
    nan |= _mm512_cmp_ps_mask(u, u, _CMP_UNORD_Q);
  }
  const __m512 m = arg_pick<IsMax>(arg_pick<IsMax>(m0, m1), arg_pick<IsMax>(m2, m3));
  const __m512 best = _mm512_set1_ps(IsMax ? _mm512_reduce_max_ps(m) : _mm512_reduce_min_ps(m));
  // the first lane equal to best (or unordered, with a NaN somewhere) in each block of 16
  for (r = 0; r < R; r += 16) {
    const __mmask16 k = R - r >= 16 ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << (R - r)) - 1);
    const __m512 u = _mm512_maskz_loadu_ps(k, x + r);
    const __mmask16 hit =
        k & (nan ? _mm512_cmp_ps_mask(u, u, _CMP_UNORD_Q) : _mm512_cmp_ps_mask(u, best, _CMP_EQ_OQ));
    if (hit) {
      *idx = r + __builtin_ctz(hit);
      *val = x[*idx];
      return;
    }
  }
  *idx = 0;  // not reached: the extreme is one of the values
  *val = x[0];
}
#endif

// x (O, R, I) -> val, idx (O, I)
template <bool IsMax, class T>
void arg_kernel(const T* x, T* val, int64_t* idx, int64_t O, int64_t R, int64_t I) {
  if (I == 1) {
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1));
    parallel_for(0, O, grain, [&](int64_t b, int64_t e) {
#if defined(__x86_64__) && defined(__GNUC__)
      if constexpr (std::is_same_v<T, float>) {
        if (cpu_isa() == Isa::Avx512) {
          for (int64_t o = b; o < e; ++o) arg_row_f32_avx512<IsMax>(x + o * R, R, val + o, idx + o);
          return;
        }
      }
#endif
      for (int64_t o = b; o < e; ++o) EMBER_NS_ISA_CALL_(arg, arg_row<IsMax>, x + o * R, R, val + o, idx + o);
    });
    return;
  }
  constexpr int64_t kBlock = 256;
  const int64_t iblocks = (I + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R * kBlock, 1));
  parallel_for(0, O * iblocks, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / iblocks, i0 = (t % iblocks) * kBlock, ni = std::min(kBlock, I - i0);
      T* bv = val + o * I + i0;
      int64_t* bi = idx + o * I + i0;
      EMBER_NS_ISA_CALL_(arg, arg_columns<IsMax>, x + o * R * I + i0, R, I, ni, bv, bi);
    }
  });
}

}  // namespace

// x (..., R, ...) -> values, indices (..., 1, ...)
void arg_reduce(bool is_max, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices) {
  if (values.numel() == 0) return;
  DimLayout L = dim_layout(x, dim);
  dispatch_numeric(x.dtype(), "arg_reduce", [&](auto tag) {
    using T = decltype(tag);
    if (is_max) arg_kernel<true>(L.t.data<T>(), values.data<T>(), indices.data<int64_t>(), L.O, L.R, L.I);
    else arg_kernel<false>(L.t.data<T>(), values.data<T>(), indices.data<int64_t>(), L.O, L.R, L.I);
  });
}

}  // namespace ember::cpu

#pragma GCC diagnostic pop

// CPU softmax / log_softmax, forward and backward, fused per row: rows (softmax over the last,
// contiguous dim) take three sweeps over a row that stays in cache (max; exp and sum; normalise),
// parallel over rows; other dims use the (O, R, I) layout, vectorised along I in blocks.
// Sums accumulate in the input type with SIMD lanes; exp is exp_f32 for float32 (dim_layout.h).
// The kernels (softmax_kernels.inc) are compiled for baseline x86-64, AVX2 and AVX-512.
#include <limits>
#include <type_traits>

#include "dim_layout.h"
#include "loops.h"
#include "parallel.h"
#include "vec_math_avx512.h"

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -Wmaybe-uninitialized flags once the short-row kernels inline them (a false positive; as in
// gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace ember::cpu {
namespace {

namespace sm_base {
#define EMBER_SOFTMAX_ATTR
#include "softmax_kernels.inc"
#undef EMBER_SOFTMAX_ATTR
}  // namespace sm_base
#if defined(__x86_64__) && defined(__GNUC__)
namespace sm_avx2 {
#define EMBER_SOFTMAX_ATTR __attribute__((target("avx2,fma")))
#include "softmax_kernels.inc"
#undef EMBER_SOFTMAX_ATTR
}  // namespace sm_avx2
namespace sm_avx512 {
#define EMBER_SOFTMAX_ATTR __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")))
#include "softmax_kernels.inc"
#undef EMBER_SOFTMAX_ATTR
}  // namespace sm_avx512
#define SM_CALL(ISA, FN, ...)                                                    \
  (ISA == Isa::Avx512 ? sm_avx512::FN(__VA_ARGS__)                               \
                      : ISA == Isa::Avx2 ? sm_avx2::FN(__VA_ARGS__) : sm_base::FN(__VA_ARGS__))
#else
#define SM_CALL(ISA, FN, ...) sm_base::FN(__VA_ARGS__)
#endif
using sm_base::kBlock;

#if defined(__x86_64__) && defined(__GNUC__)
// Float32 rows of up to kMaxR elements (softmax over a short last dim: attention over short
// sequences, class scores) in explicit AVX-512: a row is NV <= 8 vectors held in registers, the
// last a masked load padded with -inf (0 for the backward), and its max and sum are reduced in
// registers and broadcast back (bcast_max/sum_avx512). The generic kernels keep lane partials in
// memory arrays and combine them as a tree, which on 16-element rows ran log_softmax at 0.57x
// torch. Same formulas as the generic kernels: log_softmax = (x - max) - log(sum), softmax =
// exp(x - max) * (1 / sum); backward gy - exp(y) sum(gy) and y (gy - sum(gy y)).
namespace short_rows {
constexpr int64_t kMaxR = 128;

// log_softmax takes rows in blocks of 16: lse_block_avx512 gathers each row's max and log-sum into
// lanes (one vector log a block), then a second pass (the rows are still in L1) writes
// (x - max) - log(sum).
template <int NV>
EMBER_ATTR_AVX512 void log_softmax(const float* x, float* y, int64_t R, int64_t n) {
  const __mmask16 tail = tail_mask16(R);
  alignas(64) float mb[16], lb[16];
  for (int64_t r0 = 0; r0 < n; r0 += 16) {
    const int nb = static_cast<int>(std::min<int64_t>(16, n - r0));
    const float* xb = x + r0 * R;
    lse_block_avx512<NV>(xb, R, nb, mb, lb);
    float* yb = y + r0 * R;
    for (int j = 0; j < nb; ++j) {
      const __m512 m = _mm512_set1_ps(mb[j]), ls = _mm512_set1_ps(lb[j]);
      const float* xr = xb + j * R;
      float* yr = yb + j * R;
      for (int k = 0; k < NV - 1; ++k)
        _mm512_storeu_ps(yr + 16 * k, _mm512_sub_ps(_mm512_sub_ps(_mm512_loadu_ps(xr + 16 * k), m), ls));
      _mm512_mask_storeu_ps(yr + 16 * (NV - 1), tail,
                            _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, xr + 16 * (NV - 1)), m), ls));
    }
  }
}

template <int NV>
EMBER_ATTR_AVX512 void softmax(const float* x, float* y, int64_t R, int64_t n) {
  const __mmask16 tail = tail_mask16(R);
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t r = 0; r < n; ++r, x += R, y += R) {
    __m512 v[NV];
    load_row_avx512<NV>(x, tail, ninf, v);
    const __m512 m = row_max_avx512<NV>(v);
    __m512 s = _mm512_setzero_ps();
    for (int k = 0; k < NV; ++k) {
      v[k] = exp_avx512(_mm512_sub_ps(v[k], m));
      s = _mm512_add_ps(s, v[k]);
    }
    s = _mm512_div_ps(_mm512_set1_ps(1.0f), bcast_sum_avx512(s));
    for (int k = 0; k < NV - 1; ++k) _mm512_storeu_ps(y + 16 * k, _mm512_mul_ps(v[k], s));
    _mm512_mask_storeu_ps(y + 16 * (NV - 1), tail, _mm512_mul_ps(v[NV - 1], s));
  }
}

template <int NV>
EMBER_ATTR_AVX512 void softmax_backward(const float* y, const float* gy, float* gx, int64_t R, int64_t n, bool log) {
  const __mmask16 tail = tail_mask16(R);
  for (int64_t r = 0; r < n; ++r, y += R, gy += R, gx += R) {
    __m512 g[NV], yv[NV];
    for (int k = 0; k < NV - 1; ++k) g[k] = _mm512_loadu_ps(gy + 16 * k), yv[k] = _mm512_loadu_ps(y + 16 * k);
    g[NV - 1] = _mm512_maskz_loadu_ps(tail, gy + 16 * (NV - 1));
    yv[NV - 1] = _mm512_maskz_loadu_ps(tail, y + 16 * (NV - 1));
    __m512 s = log ? g[0] : _mm512_mul_ps(g[0], yv[0]);
    for (int k = 1; k < NV; ++k) s = log ? _mm512_add_ps(s, g[k]) : _mm512_fmadd_ps(g[k], yv[k], s);
    s = bcast_sum_avx512(s);
    for (int k = 0; k < NV; ++k)
      g[k] = log ? _mm512_fnmadd_ps(exp_avx512(yv[k]), s, g[k]) : _mm512_mul_ps(yv[k], _mm512_sub_ps(g[k], s));
    for (int k = 0; k < NV - 1; ++k) _mm512_storeu_ps(gx + 16 * k, g[k]);
    _mm512_mask_storeu_ps(gx + 16 * (NV - 1), tail, g[NV - 1]);
  }
}

// n rows of R (0 < R <= kMaxR), with the kernel instance for ceil(R / 16) vectors a row.
inline void softmax_rows(const float* x, float* y, int64_t R, int64_t n, bool log) {
  with_row_vectors(R, [&](auto nv) {
    if (log) log_softmax<decltype(nv)::value>(x, y, R, n);
    else softmax<decltype(nv)::value>(x, y, R, n);
  });
}
inline void softmax_backward_rows(const float* y, const float* gy, float* gx, int64_t R, int64_t n, bool log) {
  with_row_vectors(R, [&](auto nv) { softmax_backward<decltype(nv)::value>(y, gy, gx, R, n, log); });
}
}  // namespace short_rows

// Whether (T, R, I, isa) takes the short-row kernels.
template <class T>
inline bool use_short_rows(int64_t R, int64_t I, Isa isa) {
  return std::is_same_v<T, float> && I == 1 && R > 0 && R <= short_rows::kMaxR && isa == Isa::Avx512;
}
#else
template <class T>
inline bool use_short_rows(int64_t, int64_t, Isa) { return false; }
#endif

// Run row(o, offset) over (O, R, I): rows when I == 1, else blocks of I.
template <class RowFn, class ColFn>
void for_each_slice(int64_t O, int64_t R, int64_t I, const RowFn& row, const ColFn& cols) {
  if (I == 1) {
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(R, 1));
    parallel_for(0, O, grain, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) row(o * R);
    });
    return;
  }
  const int64_t iblocks = (I + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(R * kBlock, 1));
  parallel_for(0, O * iblocks, grain, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / iblocks, i0 = (t % iblocks) * kBlock;
      cols(o * R * I + i0, std::min(kBlock, I - i0));
    }
  });
}

}  // namespace

// x (..., R, ...) -> out (same shape, contiguous)
void softmax(const Tensor& x, int64_t dim, const Tensor& out, bool log) {
  if (out.numel() == 0) return;
  DimLayout L = dim_layout(x, dim);
  dispatch_float(x.dtype(), "softmax", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = L.t.data<T>();
    T* yp = out.data<T>();
    const int64_t R = L.R, I = L.I;
    const Isa isa = cpu_isa();
#if defined(__x86_64__) && defined(__GNUC__)
    if constexpr (std::is_same_v<T, float>) {
      if (use_short_rows<T>(R, I, isa)) {
        parallel_for(0, L.O, std::max<int64_t>(1, 16384 / R), [&](int64_t b, int64_t e) {
          short_rows::softmax_rows(xp + b * R, yp + b * R, R, e - b, log);
        });
        return;
      }
    }
#endif
    if (I == 1) {  // rows, in groups (softmax_rows)
      parallel_for(0, L.O, std::max<int64_t>(1, 16384 / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
        SM_CALL(isa, softmax_rows<T>, xp + b * R, yp + b * R, R, e - b, log);
      });
      return;
    }
    for_each_slice(
        L.O, R, I, [&](int64_t off) { SM_CALL(isa, softmax_row<T>, xp + off, yp + off, R, log); },
        [&](int64_t off, int64_t ni) { SM_CALL(isa, softmax_cols<T>, xp + off, yp + off, R, I, ni, log); });
  });
}

// x (O, R, I) -> out (O, I): logsumexp along R
void logsumexp(const Tensor& x, int64_t dim, const Tensor& out) {
  if (out.numel() == 0) return;
  DimLayout L = dim_layout(x, dim);
  dispatch_float(x.dtype(), "logsumexp", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = L.t.data<T>();
    T* op = out.data<T>();
    const int64_t R = L.R, I = L.I;
    const Isa isa = cpu_isa();
    for_each_slice(
        L.O, R, I, [&](int64_t off) { op[off / R] = SM_CALL(isa, logsumexp_row<T>, xp + off, R); },
        [&](int64_t off, int64_t ni) {
          const int64_t o = off / (R * I), i0 = off % (R * I);
          SM_CALL(isa, logsumexp_cols<T>, xp + off, op + o * I + i0, R, I, ni);
        });
  });
}

// y, gy (..., R, ...) -> out (same shape, contiguous)
void softmax_backward(const Tensor& y, const Tensor& gy, int64_t dim, const Tensor& out, bool log) {
  if (out.numel() == 0) return;
  DimLayout Ly = dim_layout(y, dim), Lg = dim_layout(gy, dim);
  dispatch_float(y.dtype(), "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* yp = Ly.t.data<T>();
    const T* gp = Lg.t.data<T>();
    T* op = out.data<T>();
    const int64_t R = Ly.R, I = Ly.I;
    const Isa isa = cpu_isa();
#if defined(__x86_64__) && defined(__GNUC__)
    if constexpr (std::is_same_v<T, float>) {
      if (use_short_rows<T>(R, I, isa)) {
        parallel_for(0, Ly.O, std::max<int64_t>(1, 16384 / R), [&](int64_t b, int64_t e) {
          short_rows::softmax_backward_rows(yp + b * R, gp + b * R, op + b * R, R, e - b, log);
        });
        return;
      }
    }
#endif
    for_each_slice(
        Ly.O, R, I, [&](int64_t off) { SM_CALL(isa, softmax_backward_row<T>, yp + off, gp + off, op + off, R, log); },
        [&](int64_t off, int64_t ni) {
          SM_CALL(isa, softmax_backward_cols<T>, yp + off, gp + off, op + off, R, I, ni, log);
        });
  });
}

}  // namespace ember::cpu

#pragma GCC diagnostic pop

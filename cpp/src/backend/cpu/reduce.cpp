// CPU reductions. The input is arranged as (O, R, I): O kept outer elements, R reduced, I kept
// inner elements (a view when the reduced dims are one block of a contiguous tensor, else a
// permuted contiguous copy with I = 1). Rows (I = 1) reduce contiguous memory with 64
// accumulators; columns (I > 1) accumulate whole rows, vectorised along I; both loops are compiled
// per ISA (reduce_kernels.inc). Float sums accumulate in double (rows: after 16 float steps). Long single rows are split into
// fixed 64K chunks (results do not depend on the thread count).
#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "../functors.h"
#include "cpu_backend.h"
#include "loops.h"

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -W(maybe-)uninitialized flags once the AVX-512 kernels inline them (a false positive; as in
// gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace ember::cpu {
namespace {

template <class T> struct SumOp {
  static constexpr bool kIsSum = true;
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  template <class U> static U pre(U x) { return x; }  // applied to each value on the way in
  static Acc init() { return Acc(0); }
  static Acc combine(Acc a, Acc b) { return a + b; }
};
// Sum of squares (norm's p = 2): each value squared in the accumulator's type on the way in.
template <class T> struct SumSqOp : SumOp<T> {
  template <class U> static U pre(U x) { return x * x; }
};
template <class T> struct AbsSumOp : SumOp<T> {
  template <class U> static U pre(U x) { return x < U(0) ? -x : x; }
};
// torch's huber_loss with delta 1 (and smooth_l1_loss with beta 1, the same values): z = |x|,
// z < 1 ? 0.5 z^2 : z - 0.5
template <class T> struct Huber1SumOp : SumOp<T> {
  template <class U> static U pre(U x) {
    const U z = x < U(0) ? -x : x;
    return z < U(1) ? U(0.5) * z * z : z - U(0.5);
  }
};
template <class T> struct ProdOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  static Acc init() { return Acc(1); }
  static Acc combine(Acc a, Acc b) { return a * b; }
};
template <class T> struct MaxOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = T;
  static Acc init() {
    if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::lowest();
  }
  static Acc combine(Acc a, Acc b) { return fn::Maximum{}(a, b); }
};
template <class T> struct MinOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = T;
  static Acc init() {
    if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::max();
  }
  static Acc combine(Acc a, Acc b) { return fn::Minimum{}(a, b); }
};
struct AllOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = bool;
  static Acc init() { return true; }
  static Acc combine(Acc a, Acc b) { return a && b; }
};
struct AnyOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = bool;
  static Acc init() { return false; }
  static Acc combine(Acc a, Acc b) { return a || b; }
};

namespace reduce_base {
#define EMBER_REDUCE_ATTR
#include "reduce_kernels.inc"
#undef EMBER_REDUCE_ATTR
}  // namespace reduce_base
#if defined(__x86_64__) && defined(__GNUC__)
namespace reduce_avx2 {
#define EMBER_REDUCE_ATTR EMBER_ATTR_AVX2
#include "reduce_kernels.inc"
#undef EMBER_REDUCE_ATTR
}  // namespace reduce_avx2
namespace reduce_avx512 {
#define EMBER_REDUCE_ATTR EMBER_ATTR_AVX512
#include "reduce_kernels.inc"
#undef EMBER_REDUCE_ATTR
}  // namespace reduce_avx512
#endif

#if defined(__x86_64__) && defined(__GNUC__)
// Float rows on AVX-512, written out: the generic row loop keeps its 16 or 64 lanes in memory
// (store-forwarding on every add) and folds them lane by lane, about 9 ns for a 64-float row;
// these keep the accumulators in registers and end with one in-register fold.
namespace rows_avx512 {

template <class Op> constexpr bool kSumFamily =
    std::is_same_v<Op, SumOp<float>> || std::is_same_v<Op, SumSqOp<float>> ||
    std::is_same_v<Op, AbsSumOp<float>>;
template <class Op> constexpr bool kMinMax =
    std::is_same_v<Op, MaxOp<float>> || std::is_same_v<Op, MinOp<float>>;
template <class Op> constexpr bool kHandles = kSumFamily<Op> || kMinMax<Op>;

// Op::pre in double, as the generic row applies it
template <class Op> EMBER_ATTR_AVX512 inline __m512d pre(__m512d v) {
  if constexpr (std::is_same_v<Op, SumSqOp<float>>) return _mm512_mul_pd(v, v);
  else if constexpr (std::is_same_v<Op, AbsSumOp<float>>) return _mm512_abs_pd(v);
  else return v;
}
template <class Op> EMBER_ATTR_AVX512 inline __m512d widen_lo(__m512 v) {
  return pre<Op>(_mm512_cvtps_pd(_mm512_castps512_ps256(v)));
}
template <class Op> EMBER_ATTR_AVX512 inline __m512d widen_hi(__m512 v) {
  return pre<Op>(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

// Op::pre in float (SumOp, AbsSumOp: exact; SumSqOp squares in double, see sum_row)
template <class Op> EMBER_ATTR_AVX512 inline __m512 pre_ps(__m512 v) {
  if constexpr (std::is_same_v<Op, AbsSumOp<float>>) return _mm512_abs_ps(v);
  else return v;
}

// Sum-family rows shorter than the generic loop's (n < 1024), with its rounding: blocks of up to
// 512 values are added in float, two vectors of 16 lanes each taking at most 16 values, and each
// block's two vectors are widened into double accumulators (SumSqOp squares each value in double
// on the way, as the generic loop does). The tail goes through a masked load.
template <class Op>
EMBER_ATTR_AVX512 double sum_row(const float* p, int64_t n) {
  __m512d d0 = _mm512_setzero_pd(), d1 = d0;
  if constexpr (std::is_same_v<Op, SumSqOp<float>>) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      const __m512 u = _mm512_loadu_ps(p + i);
      d0 = _mm512_add_pd(d0, widen_lo<Op>(u));
      d1 = _mm512_add_pd(d1, widen_hi<Op>(u));
    }
    if (i < n) {
      const __m512 u = _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << (n - i)) - 1), p + i);
      d0 = _mm512_add_pd(d0, widen_lo<Op>(u));
      d1 = _mm512_add_pd(d1, widen_hi<Op>(u));
    }
  } else {
    for (int64_t b = 0; b < n; b += 512) {
      const float* q = p + b;
      const int64_t m = std::min<int64_t>(512, n - b);
      __m512 f0 = _mm512_setzero_ps(), f1 = f0;
      int64_t i = 0;
      for (; i + 32 <= m; i += 32) {
        f0 = _mm512_add_ps(f0, pre_ps<Op>(_mm512_loadu_ps(q + i)));
        f1 = _mm512_add_ps(f1, pre_ps<Op>(_mm512_loadu_ps(q + i + 16)));
      }
      if (i + 16 <= m) {
        f0 = _mm512_add_ps(f0, pre_ps<Op>(_mm512_loadu_ps(q + i)));
        i += 16;
      }
      if (i < m) {
        const __mmask16 k = static_cast<__mmask16>((1u << (m - i)) - 1);
        f1 = _mm512_add_ps(f1, pre_ps<Op>(_mm512_maskz_loadu_ps(k, q + i)));
      }
      d0 = _mm512_add_pd(d0, _mm512_add_pd(widen_lo<SumOp<float>>(f0), widen_hi<SumOp<float>>(f0)));
      d1 = _mm512_add_pd(d1, _mm512_add_pd(widen_lo<SumOp<float>>(f1), widen_hi<SumOp<float>>(f1)));
    }
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(d0, d1));
}

template <bool kMax> EMBER_ATTR_AVX512 inline __m512 pick(__m512 a, __m512 b) {
  return kMax ? _mm512_max_ps(a, b) : _mm512_min_ps(a, b);
}

// Max / min rows of any length with fn::Maximum's NaN rule (a NaN anywhere gives NaN): vmaxps
// over four vectors, and a separate mask of the lanes that saw a NaN.
template <class Op>
EMBER_ATTR_AVX512 float minmax_row(const float* p, int64_t n) {
  constexpr bool kMax = std::is_same_v<Op, MaxOp<float>>;
  const __m512 init = _mm512_set1_ps(Op::init());
  __m512 m0 = init, m1 = init, m2 = init, m3 = init;
  __mmask16 nan = 0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m512 u0 = _mm512_loadu_ps(p + i), u1 = _mm512_loadu_ps(p + i + 16);
    const __m512 u2 = _mm512_loadu_ps(p + i + 32), u3 = _mm512_loadu_ps(p + i + 48);
    m0 = pick<kMax>(m0, u0);
    m1 = pick<kMax>(m1, u1);
    m2 = pick<kMax>(m2, u2);
    m3 = pick<kMax>(m3, u3);
    nan |= _mm512_cmp_ps_mask(u0, u1, _CMP_UNORD_Q) | _mm512_cmp_ps_mask(u2, u3, _CMP_UNORD_Q);
  }
  for (; i + 16 <= n; i += 16) {
    const __m512 u = _mm512_loadu_ps(p + i);
    m0 = pick<kMax>(m0, u);
    nan |= _mm512_cmp_ps_mask(u, u, _CMP_UNORD_Q);
  }
  if (i < n) {
    const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512 u = _mm512_mask_loadu_ps(init, k, p + i);
    m1 = pick<kMax>(m1, u);
    nan |= _mm512_cmp_ps_mask(u, u, _CMP_UNORD_Q);
  }
  if (nan) return std::numeric_limits<float>::quiet_NaN();
  const __m512 m = pick<kMax>(pick<kMax>(m0, m1), pick<kMax>(m2, m3));
  return kMax ? _mm512_reduce_max_ps(m) : _mm512_reduce_min_ps(m);
}

// Rows [b, e): fin(o, acc). Sum-family rows of 1024 and more take the generic loop (its float
// blocks run at memory speed).
template <class Op, class Fin>
EMBER_ATTR_AVX512 void rows(const float* x, int64_t n, int64_t b, int64_t e, const Fin& fin) {
  for (int64_t o = b; o < e; ++o) {
    if constexpr (kMinMax<Op>) fin(o, minmax_row<Op>(x + o * n, n));
    else fin(o, n < 1024 ? sum_row<Op>(x + o * n, n) : reduce_avx512::row<Op>(x + o * n, n));
  }
}

}  // namespace rows_avx512
#endif

template <class Op, class T>
typename Op::Acc reduce_row(const T* x, int64_t n) {
  return EMBER_NS_ISA_CALL_(reduce, row<Op>, x, n);
}

template <class Op, class T>
void reduce_kernel(const T* x, T* out, int64_t O, int64_t R, int64_t I, bool mean) {
  using Acc = typename Op::Acc;
  const double scale = mean ? 1.0 / static_cast<double>(R) : 1.0;
  auto finish = [&](Acc a) -> T {
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(mean ? a * scale : a);
    else return static_cast<T>(a);
  };
  if (I == 1) {
    const int nt = get_num_threads();
    if (O < nt && R >= (1 << 17)) {  // few long rows: split each row into fixed chunks
      constexpr int64_t kChunk = 1 << 16;
      const int64_t nchunks = (R + kChunk - 1) / kChunk;
      std::vector<Acc> part(nchunks);
      for (int64_t o = 0; o < O; ++o) {
        const T* row = x + o * R;
        parallel_for(0, nchunks, 1, [&](int64_t b, int64_t e) {
          for (int64_t c = b; c < e; ++c)
            part[c] = reduce_row<Op>(row + c * kChunk, std::min(kChunk, R - c * kChunk));
        });
        Acc a = Op::init();
        for (auto p : part) a = Op::combine(a, p);
        out[o] = finish(a);
      }
      return;
    }
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1));
    auto store = [&](int64_t o, Acc a) { out[o] = finish(a); };
    parallel_for(0, O, grain, [&](int64_t b, int64_t e) {
#if defined(__x86_64__) && defined(__GNUC__)
      if constexpr (std::is_same_v<T, float> && rows_avx512::kHandles<Op>) {
        if (cpu_isa() == Isa::Avx512) return rows_avx512::rows<Op>(x, R, b, e, store);
      }
#endif
      EMBER_NS_ISA_CALL_(reduce, rows<Op>, x, R, b, e, store);
    });
    return;
  }
  // Column reduction: out[o, i] = reduce_r x[o, r, i], vectorised along i in blocks.
  constexpr int64_t kBlock = 256;
  const int64_t iblocks = (I + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R * kBlock, 1));
  parallel_for(0, O * iblocks, grain, [&](int64_t b, int64_t e) {
    Acc acc[kBlock];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / iblocks, i0 = (t % iblocks) * kBlock, ni = std::min(kBlock, I - i0);
      EMBER_NS_ISA_CALL_(reduce, columns<Op>, x + o * R * I + i0, R, I, ni, acc);
      for (int64_t i = 0; i < ni; ++i) out[o * I + i0 + i] = finish(acc[i]);
    }
  });
}

}  // namespace

void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims_in, const Tensor& out) {
  const int64_t nd = x.dim();
  const Shape& sh = x.shape();
  SmallVec<8> dims(dims_in.begin(), dims_in.end());  // inline: no allocation on small reductions
  std::sort(dims.begin(), dims.end());
  SmallVec<8> red(static_cast<size_t>(nd), 0);
  for (auto d : dims) red[d] = true;
  bool block = true;
  for (size_t k = 1; k < dims.size(); ++k) block = block && dims[k] == dims[k - 1] + 1;
  if (!block && out.numel() > 0) {
    // Reduced dims in several runs ((0, 2) of (A, B, C, D)): the innermost run first, in memory
    // order, then the rest on that result; one pass per run, each a plain (O, R, I) reduction.
    // (Permuting the reduced dims last and copying made 4-element rows out of a strided gather:
    // repeat's gradient on (64, 1024) x (2, 2) took 2.9 ms, now ~0.1.) The association of sums and
    // products follows the runs; a mean is a mean of means (equal counts).
    Tensor xc = x;
    if (!xc.is_contiguous()) {
      xc = Tensor::empty(sh, x.dtype(), x.device());
      copy(x, xc);
    }
    size_t k = dims.size() - 1;
    while (k > 0 && dims[k - 1] == dims[k] - 1) --k;  // [k, end): the innermost run
    const std::vector<int64_t> last(dims.begin() + static_cast<int64_t>(k), dims.end());
    Shape rest_shape;
    for (int64_t d = 0; d < nd; ++d)
      if (d < last.front() || d > last.back()) rest_shape.push_back(sh[d]);
    Tensor part = Tensor::empty(rest_shape, x.dtype(), x.device());
    reduce(op, xc, last, part);
    // the other runs keep their indices (all below the removed run); sums of squares add up
    const bool summed = op == ReduceOp::SumSq || op == ReduceOp::AbsSum || op == ReduceOp::Huber1Sum;
    const ReduceOp next = summed ? ReduceOp::Sum : op;
    reduce(next, part, std::vector<int64_t>(dims.begin(), dims.begin() + static_cast<int64_t>(k)), out);
    return;
  }
  int64_t O = 1, R = 1, I = 1;
  Tensor src = x;
  if (block && x.is_contiguous() && !dims.empty()) {
    for (int64_t d = 0; d < nd; ++d) (d < dims.front() ? O : red[d] ? R : I) *= sh[d];
  } else {  // kept dims first, reduced dims last, materialised contiguously
    Shape pshape;
    Strides pstrides;
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t d = 0; d < nd; ++d)
        if (red[d] == (pass == 1)) {
          pshape.push_back(sh[d]);
          pstrides.push_back(x.strides()[d]);
          (pass ? R : O) *= sh[d];
        }
    Tensor view = Tensor::make_view(x, pshape, pstrides, x.offset());
    src = Tensor::empty(pshape, x.dtype(), x.device());
    copy(view, src);
  }
  if (out.numel() == 0) return;
  dispatch_all(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = src.data<T>();
    T* op_ = out.data<T>();
    if constexpr (std::is_same_v<T, bool>) {
      if (op == ReduceOp::All) return reduce_kernel<AllOp>(xp, op_, O, R, I, false);
      if (op == ReduceOp::Any) return reduce_kernel<AnyOp>(xp, op_, O, R, I, false);
      throw TypeError(str("reduce: op not supported for bool"));
    } else {
      switch (op) {
        case ReduceOp::Sum: return reduce_kernel<SumOp<T>>(xp, op_, O, R, I, false);
        case ReduceOp::Mean: return reduce_kernel<SumOp<T>>(xp, op_, O, R, I, true);
        case ReduceOp::SumSq:
          if constexpr (std::is_floating_point_v<T>) return reduce_kernel<SumSqOp<T>>(xp, op_, O, R, I, false);
          throw TypeError(str("reduce: sum of squares expects a floating tensor, got ", x.dtype()));
        case ReduceOp::AbsSum:
          if constexpr (std::is_floating_point_v<T>) return reduce_kernel<AbsSumOp<T>>(xp, op_, O, R, I, false);
          throw TypeError(str("reduce: sum of |x| expects a floating tensor, got ", x.dtype()));
        case ReduceOp::Huber1Sum:
          if constexpr (std::is_floating_point_v<T>) return reduce_kernel<Huber1SumOp<T>>(xp, op_, O, R, I, false);
          throw TypeError(str("reduce: sum of huber expects a floating tensor, got ", x.dtype()));
        case ReduceOp::Prod: return reduce_kernel<ProdOp<T>>(xp, op_, O, R, I, false);
        case ReduceOp::Max: return reduce_kernel<MaxOp<T>>(xp, op_, O, R, I, false);
        case ReduceOp::Min: return reduce_kernel<MinOp<T>>(xp, op_, O, R, I, false);
        default: throw TypeError(str("reduce: all/any expect a bool tensor, got ", x.dtype()));
      }
    }
  });
}

}  // namespace ember::cpu

#pragma GCC diagnostic pop

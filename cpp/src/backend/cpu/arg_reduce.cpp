// CPU arg-reduction: values and first indices of the max/min along one dim, in one pass over the
// (O, R, I) layout. Rows (I = 1) find the extreme with 64 independent lanes, then the first index
// holding it; columns (I > 1) keep running (value, index) pairs for a block of I, vectorised.
// Both loops are compiled per ISA (arg_kernels.inc).
// NaN propagates like torch: the first NaN wins.
#include "dim_layout.h"
#include "loops.h"
#include "parallel.h"

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

// x (O, R, I) -> val, idx (O, I)
template <bool IsMax, class T>
void arg_kernel(const T* x, T* val, int64_t* idx, int64_t O, int64_t R, int64_t I) {
  if (I == 1) {
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1));
    parallel_for(0, O, grain, [&](int64_t b, int64_t e) {
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

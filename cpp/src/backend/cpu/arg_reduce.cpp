// CPU arg-reduction: values and first indices of the max/min along one dim, in one pass over the
// (O, R, I) layout. Rows (I = 1) find the extreme with 8 independent lanes, then the first index
// holding it; columns (I > 1) keep running (value, index) pairs for a block of I, vectorised.
// NaN propagates like torch: the first NaN wins.
#include "dim_layout.h"
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

// x (R,) -> (value, index)
template <bool IsMax, class T>
void arg_row(const T* x, int64_t R, T* val, int64_t* idx) {
  constexpr int L = 8;
  T acc[L];
  for (int l = 0; l < L; ++l) acc[l] = x[0];
  int64_t r = 0;
  for (; r + L <= R; r += L)
    for (int l = 0; l < L; ++l) acc[l] = better<IsMax>(x[r + l], acc[l]) ? x[r + l] : acc[l];
  for (; r < R; ++r) acc[0] = better<IsMax>(x[r], acc[0]) ? x[r] : acc[0];
  T best = acc[0];
  for (int l = 1; l < L; ++l) best = better<IsMax>(acc[l], best) ? acc[l] : best;
  int64_t at = 0;
  if (best != best) {
    while (x[at] == x[at]) ++at;
  } else {
    while (x[at] != best) ++at;
  }
  *val = best;
  *idx = at;
}

// x (O, R, I) -> val, idx (O, I)
template <bool IsMax, class T>
void arg_kernel(const T* x, T* val, int64_t* idx, int64_t O, int64_t R, int64_t I) {
  if (I == 1) {
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1));
    parallel_for(0, O, grain, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) arg_row<IsMax>(x + o * R, R, val + o, idx + o);
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
      const T* first = x + o * R * I + i0;
      for (int64_t i = 0; i < ni; ++i) bv[i] = first[i], bi[i] = 0;
      for (int64_t r = 1; r < R; ++r) {
        const T* row = first + r * I;
#pragma omp simd
        for (int64_t i = 0; i < ni; ++i) {
          const bool take = better<IsMax>(row[i], bv[i]);
          bv[i] = take ? row[i] : bv[i];
          bi[i] = take ? r : bi[i];
        }
      }
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

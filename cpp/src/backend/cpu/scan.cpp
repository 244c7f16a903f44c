// CPU scans (cumsum, cumprod) along one dim over the (O, R, I) layout: rows (I = 1) are serial
// sweeps, parallel over O; columns (I > 1) carry a running row vectorised along I. Floating
// inputs accumulate in double (like torch's CPU acc_type); `reverse` scans from the end.
#include "dim_layout.h"
#include "parallel.h"

namespace ember::cpu {
namespace {

template <class T> using ScanAcc = std::conditional_t<std::is_floating_point_v<T>, double, T>;

// x (O, R, I) -> y (O, R, I)
template <bool IsProd, class T>
void scan_kernel(const T* x, T* y, int64_t O, int64_t R, int64_t I, bool reverse) {
  using Acc = ScanAcc<T>;
  const int64_t step = reverse ? -1 : 1;
  const int64_t r0 = reverse ? R - 1 : 0;
  if (I == 1) {
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1));
    parallel_for(0, O, grain, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        const T* xr = x + o * R;
        T* yr = y + o * R;
        Acc acc = IsProd ? Acc(1) : Acc(0);
        for (int64_t k = 0, r = r0; k < R; ++k, r += step) {
          acc = IsProd ? acc * static_cast<Acc>(xr[r]) : acc + static_cast<Acc>(xr[r]);
          yr[r] = static_cast<T>(acc);
        }
      }
    });
    return;
  }
  constexpr int64_t kBlock = 256;
  const int64_t iblocks = (I + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R * kBlock, 1));
  parallel_for(0, O * iblocks, grain, [&](int64_t b, int64_t e) {
    Acc acc[kBlock];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / iblocks, i0 = (t % iblocks) * kBlock, ni = std::min(kBlock, I - i0);
      for (int64_t i = 0; i < ni; ++i) acc[i] = IsProd ? Acc(1) : Acc(0);
      for (int64_t k = 0, r = r0; k < R; ++k, r += step) {
        const T* xr = x + (o * R + r) * I + i0;
        T* yr = y + (o * R + r) * I + i0;
#pragma omp simd
        for (int64_t i = 0; i < ni; ++i) {
          acc[i] = IsProd ? acc[i] * static_cast<Acc>(xr[i]) : acc[i] + static_cast<Acc>(xr[i]);
          yr[i] = static_cast<T>(acc[i]);
        }
      }
    }
  });
}

}  // namespace

// x (..., R, ...) -> out (same shape and dtype, contiguous)
void scan(ScanOp op, const Tensor& x, int64_t dim, const Tensor& out, bool reverse) {
  if (out.numel() == 0) return;
  DimLayout L = dim_layout(x, dim);
  dispatch_numeric(x.dtype(), "scan", [&](auto tag) {
    using T = decltype(tag);
    if (op == ScanOp::Prod) scan_kernel<true>(L.t.data<T>(), out.data<T>(), L.O, L.R, L.I, reverse);
    else scan_kernel<false>(L.t.data<T>(), out.data<T>(), L.O, L.R, L.I, reverse);
  });
}

}  // namespace ember::cpu

// CPU softmax / log_softmax, forward and backward, fused per row: rows (softmax over the last,
// contiguous dim) take three sweeps over a row that stays in cache (max; exp and sum; normalise),
// parallel over rows; other dims use the (O, R, I) layout, vectorised along I in blocks.
// Sums accumulate in the input type with SIMD lanes; exp is exp_f32 for float32 (dim_layout.h).
// The kernels (softmax_kernels.inc) are compiled for baseline x86-64, AVX2 and AVX-512.
#include <limits>

#include "dim_layout.h"
#include "loops.h"
#include "parallel.h"

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
    for_each_slice(
        Ly.O, R, I, [&](int64_t off) { SM_CALL(isa, softmax_backward_row<T>, yp + off, gp + off, op + off, R, log); },
        [&](int64_t off, int64_t ni) {
          SM_CALL(isa, softmax_backward_cols<T>, yp + off, gp + off, op + off, R, I, ni, log);
        });
  });
}

}  // namespace ember::cpu

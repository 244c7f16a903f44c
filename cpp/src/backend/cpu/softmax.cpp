// CPU softmax / log_softmax, forward and backward, fused per row: rows (softmax over the last,
// contiguous dim) take three sweeps over a row that stays in cache (max; exp and sum; normalise),
// parallel over rows; other dims use the (O, R, I) layout, vectorised along I in blocks.
// Sums accumulate in the input type with SIMD lanes; exp is exp_f32 for float32 (dim_layout.h).
#include <limits>

#include "dim_layout.h"
#include "parallel.h"

namespace ember::cpu {
namespace {

template <class T>
inline T nanmax(T a, T b) { return (b > a) | (b != b) ? b : a; }  // keeps a NaN once seen

// max of x (R,), NaN if any element is NaN.
template <class T>
T row_max(const T* x, int64_t n) {
  T m = -std::numeric_limits<T>::infinity();
  int nan = 0;
#pragma omp simd reduction(max : m) reduction(| : nan)
  for (int64_t i = 0; i < n; ++i) {
    m = x[i] > m ? x[i] : m;
    nan |= x[i] != x[i];
  }
  return nan ? std::numeric_limits<T>::quiet_NaN() : m;
}

// x (R,) -> y (R,)
template <class T>
void softmax_row(const T* x, T* y, int64_t R, bool log) {
  const T m = row_max(x, R);
  T s = 0;
  if (log) {
#pragma omp simd reduction(+ : s)
    for (int64_t r = 0; r < R; ++r) s += exp_any(static_cast<T>(x[r] - m));
    const T shift = m + std::log(s);
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) y[r] = x[r] - shift;
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t r = 0; r < R; ++r) {
      const T e = exp_any(static_cast<T>(x[r] - m));
      y[r] = e;
      s += e;
    }
    const T inv = T(1) / s;
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) y[r] *= inv;
  }
}

// y, gy (R,) -> gx (R,)
template <class T>
void softmax_backward_row(const T* y, const T* gy, T* gx, int64_t R, bool log) {
  T s = 0;
  if (log) {  // gx = gy - exp(y) * sum(gy)
#pragma omp simd reduction(+ : s)
    for (int64_t r = 0; r < R; ++r) s += gy[r];
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) gx[r] = gy[r] - exp_any(y[r]) * s;
  } else {    // gx = y * (gy - sum(gy * y))
#pragma omp simd reduction(+ : s)
    for (int64_t r = 0; r < R; ++r) s += gy[r] * y[r];
#pragma omp simd
    for (int64_t r = 0; r < R; ++r) gx[r] = y[r] * (gy[r] - s);
  }
}

constexpr int64_t kBlock = 128;

// x (O, R, I) -> y (O, R, I), one block of I at a time.
template <class T>
void softmax_cols(const T* x, T* y, int64_t R, int64_t I, int64_t ni, bool log) {
  T m[kBlock], s[kBlock];
  for (int64_t i = 0; i < ni; ++i) m[i] = -std::numeric_limits<T>::infinity(), s[i] = 0;
  for (int64_t r = 0; r < R; ++r) {
#pragma omp simd
    for (int64_t i = 0; i < ni; ++i) m[i] = nanmax(m[i], x[r * I + i]);
  }
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * I;
    T* yr = y + r * I;
#pragma omp simd
    for (int64_t i = 0; i < ni; ++i) {
      const T e = exp_any(static_cast<T>(xr[i] - m[i]));
      s[i] += e;
      if (!log) yr[i] = e;
    }
  }
  for (int64_t i = 0; i < ni; ++i) s[i] = log ? m[i] + std::log(s[i]) : T(1) / s[i];
  for (int64_t r = 0; r < R; ++r) {
    const T* xr = x + r * I;
    T* yr = y + r * I;
    if (log) {
#pragma omp simd
      for (int64_t i = 0; i < ni; ++i) yr[i] = xr[i] - s[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < ni; ++i) yr[i] *= s[i];
    }
  }
}

template <class T>
void softmax_backward_cols(const T* y, const T* gy, T* gx, int64_t R, int64_t I, int64_t ni, bool log) {
  T s[kBlock];
  for (int64_t i = 0; i < ni; ++i) s[i] = 0;
  for (int64_t r = 0; r < R; ++r) {
    const T* yr = y + r * I;
    const T* gr = gy + r * I;
    if (log) {
#pragma omp simd
      for (int64_t i = 0; i < ni; ++i) s[i] += gr[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < ni; ++i) s[i] += gr[i] * yr[i];
    }
  }
  for (int64_t r = 0; r < R; ++r) {
    const T* yr = y + r * I;
    const T* gr = gy + r * I;
    T* o = gx + r * I;
    if (log) {
#pragma omp simd
      for (int64_t i = 0; i < ni; ++i) o[i] = gr[i] - exp_any(yr[i]) * s[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < ni; ++i) o[i] = yr[i] * (gr[i] - s[i]);
    }
  }
}

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
    for_each_slice(
        L.O, R, I, [&](int64_t off) { softmax_row(xp + off, yp + off, R, log); },
        [&](int64_t off, int64_t ni) { softmax_cols(xp + off, yp + off, R, I, ni, log); });
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
    for_each_slice(
        Ly.O, R, I, [&](int64_t off) { softmax_backward_row(yp + off, gp + off, op + off, R, log); },
        [&](int64_t off, int64_t ni) { softmax_backward_cols(yp + off, gp + off, op + off, R, I, ni, log); });
  });
}

}  // namespace ember::cpu

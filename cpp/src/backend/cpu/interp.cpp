// CPU kernels of separable 2-D interpolation (F.interpolate nearest / bilinear, see InterpTables in
// backend.h), forward and backward, on planes x (B, H, W) contiguous.
// Forward: each output row is a vertical blend of at most two horizontally interpolated input rows;
// those are cached (two row buffers), so an input row is interpolated once for all the output rows
// that use it in a run (upsampling x2: each twice). Parallel over output rows (B * OH).
// Backward (the transpose): per plane, the gradient rows are blended vertically into rows of
// width OW and then spread horizontally (a scatter-add), or spread first and blended after,
// whichever does fewer scatters (vertical first when OH > H). Parallel over planes: one thread
// writes each plane's gradient, so no two threads add into the same row.
#include <algorithm>
#include <cstring>
#include <vector>

#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"

namespace ember::cpu {
namespace {

template <class T>
struct Tab {
  const int64_t *h0 = nullptr, *h1 = nullptr, *w0 = nullptr, *w1 = nullptr;
  const T *lh = nullptr, *lw = nullptr;  // null with h1 / w1: nearest along that dim
  explicit Tab(const InterpTables& t)
      : h0(t.h0.data<int64_t>()), h1(t.h1.defined() ? t.h1.data<int64_t>() : nullptr),
        w0(t.w0.data<int64_t>()), w1(t.w1.defined() ? t.w1.data<int64_t>() : nullptr),
        lh(t.lh.defined() ? t.lh.data<T>() : nullptr), lw(t.lw.defined() ? t.lw.data<T>() : nullptr) {}
};

// dst[j] = row[w0[j]] (nearest) or row[w0[j]] (1 - lw[j]) + row[w1[j]] lw[j] (torch's order:
// the second product is added to the first, one FMA where the target has it).
template <class T>
void interp_row(const T* row, T* dst, const Tab<T>& t, int64_t OW) {
  if (!t.w1) {
    for (int64_t j = 0; j < OW; ++j) dst[j] = row[t.w0[j]];
    return;
  }
  for (int64_t j = 0; j < OW; ++j) {
    const T a = t.lw[j];
    dst[j] = row[t.w0[j]] * (T(1) - a) + row[t.w1[j]] * a;
  }
}

// dst[w0[j]] += src[j] (1 - lw[j]), dst[w1[j]] += src[j] lw[j] (nearest: dst[w0[j]] += src[j]).
template <class T>
void spread_row(const T* src, T* dst, const Tab<T>& t, int64_t OW) {
  if (!t.w1) {
    for (int64_t j = 0; j < OW; ++j) dst[t.w0[j]] += src[j];
    return;
  }
  for (int64_t j = 0; j < OW; ++j) {
    const T a = t.lw[j];
    dst[t.w0[j]] += src[j] * (T(1) - a);
    dst[t.w1[j]] += src[j] * a;
  }
}

// y[k] += x[k] * c
template <class T>
void axpy(const T* x, T c, T* y, int64_t n) {
#pragma omp simd
  for (int64_t k = 0; k < n; ++k) y[k] += x[k] * c;
}

// Output rows [r0, r1) of the flattened (B * OH): input rows interpolated along W once per run
// of output rows that need them (two cached rows, keyed by plane row).
template <class T>
void interp_rows(const T* x, T* out, const Tab<T>& t, int64_t H, int64_t W, int64_t OH, int64_t OW, int64_t r0,
                 int64_t r1) {
  std::vector<T> buf(static_cast<size_t>(2 * OW));
  T* rows[2] = {buf.data(), buf.data() + OW};
  int64_t key[2] = {-1, -1};  // b * H + h of the row each buffer holds
  // the buffer holding input row h of plane b (interpolated on a miss into the buffer that is not
  // `keep`, the other row the current output row needs)
  auto get = [&](int64_t b, int64_t h, const T* keep) -> const T* {
    const int64_t k = b * H + h;
    for (int s = 0; s < 2; ++s)
      if (key[s] == k) return rows[s];
    const int s = rows[0] == keep ? 1 : 0;
    interp_row(x + k * W, rows[s], t, OW);
    key[s] = k;
    return rows[s];
  };
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t b = r / OH, i = r % OH;
    T* o = out + r * OW;
    if (!t.h1) {
      if (t.w1) {  // nearest rows, linear columns: through the cache (rows repeat when upsampling)
        const T* a = get(b, t.h0[i], nullptr);
        std::memcpy(o, a, static_cast<size_t>(OW) * sizeof(T));
      } else if (i > 0 && r > r0 && t.h0[i] == t.h0[i - 1]) {
        std::memcpy(o, o - OW, static_cast<size_t>(OW) * sizeof(T));  // the same input row again
      } else {
        interp_row(x + (b * H + t.h0[i]) * W, o, t, OW);
      }
      continue;
    }
    const T* a = get(b, t.h0[i], nullptr);
    const T* c = get(b, t.h1[i], a);
    const T l = t.lh[i], l0 = T(1) - l;
#pragma omp simd
    for (int64_t j = 0; j < OW; ++j) o[j] = a[j] * l0 + c[j] * l;
  }
}

// One plane's gradient: gx (H, W) = the transpose of interp applied to gy (OH, OW).
template <class T>
void interp_plane_backward(const T* gy, T* gx, const Tab<T>& t, int64_t H, int64_t W, int64_t OH, int64_t OW,
                           std::vector<T>& work) {
  std::fill(gx, gx + H * W, T(0));
  if (OH > H) {  // vertical first: H rows of width OW, then H scatters instead of OH
    work.assign(static_cast<size_t>(H * OW), T(0));
    for (int64_t i = 0; i < OH; ++i) {
      const T* g = gy + i * OW;
      if (!t.h1) {
        axpy(g, T(1), work.data() + t.h0[i] * OW, OW);
      } else {
        axpy(g, T(1) - t.lh[i], work.data() + t.h0[i] * OW, OW);
        axpy(g, t.lh[i], work.data() + t.h1[i] * OW, OW);
      }
    }
    for (int64_t h = 0; h < H; ++h) spread_row(work.data() + h * OW, gx + h * W, t, OW);
    return;
  }
  work.resize(static_cast<size_t>(W));
  T* s = work.data();
  for (int64_t i = 0; i < OH; ++i) {  // spread first: one row of width W per output row
    std::fill(s, s + W, T(0));
    spread_row(gy + i * OW, s, t, OW);
    if (!t.h1) {
      axpy(s, T(1), gx + t.h0[i] * W, W);
    } else {
      axpy(s, T(1) - t.lh[i], gx + t.h0[i] * W, W);
      axpy(s, t.lh[i], gx + t.h1[i] * W, W);
    }
  }
}

}  // namespace

void interp2d(const Tensor& x, const Tensor& out, const InterpTables& tables) {
  if (out.numel() == 0) return;
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), OH = out.size(1), OW = out.size(2);
  dispatch_float(x.dtype(), "interpolate", [&](auto tag) {
    using T = decltype(tag);
    const Tab<T> t(tables);
    const T* xp = x.data<T>();
    T* yp = out.data<T>();
    parallel_for(0, B * OH, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, OW)),
                 [&](int64_t r0, int64_t r1) { interp_rows(xp, yp, t, H, W, OH, OW, r0, r1); });
  });
}

void interp2d_backward(const Tensor& gy, const Tensor& gx, const InterpTables& tables) {
  if (gx.numel() == 0) return;
  const int64_t B = gx.size(0), H = gx.size(1), W = gx.size(2), OH = gy.size(1), OW = gy.size(2);
  dispatch_float(gx.dtype(), "interpolate_backward", [&](auto tag) {
    using T = decltype(tag);
    const Tab<T> t(tables);
    const T* gp = gy.data<T>();
    T* xp = gx.data<T>();
    parallel_for(0, B, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, OH * OW)), [&](int64_t b0, int64_t b1) {
      std::vector<T> work;
      for (int64_t b = b0; b < b1; ++b) interp_plane_backward(gp + b * OH * OW, xp + b * H * W, t, H, W, OH, OW, work);
    });
  });
}

}  // namespace ember::cpu

// Depthwise convolution kernels (C/groups == 1): direct loops over (kh, kw) taps with the valid
// output range precomputed per tap, so the inner loop has no bounds checks and vectorises when the
// stride is 1. Forward and input gradient run in parallel over (n, channel) planes, the weight
// gradient over output channels: every thread owns what it writes, no atomics.
#include <cstring>
#include <memory>

#include "conv_direct.h"
#include "conv_util.h"
#include "parallel.h"

namespace ember::cpu {
namespace {
using conv_detail::valid_range;

// One tap's contribution between a row of the output plane and a row of the input plane:
// fwd: y[ow] += wv * x[ow * sw + off]; bwd: x[ow * sw + off] += wv * y[ow], for ow in [lo, hi).
template <class T>
inline void tap_fwd(T* yr, const T* xr, T wv, int64_t lo, int64_t hi, int64_t sw, int64_t off) {
  if (sw == 1) {
    const T* xs = xr + off;
#pragma omp simd
    for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xs[ow];
  } else {
    for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow * sw + off];
  }
}

template <class T>
inline void tap_bwd(const T* gr, T* xr, T wv, int64_t lo, int64_t hi, int64_t sw, int64_t off) {
  if (sw == 1) {
    T* xs = xr + off;
#pragma omp simd
    for (int64_t ow = lo; ow < hi; ++ow) xs[ow] += wv * gr[ow];
  } else {
    for (int64_t ow = lo; ow < hi; ++ow) xr[ow * sw + off] += wv * gr[ow];
  }
}

// For each tap (kh, kw) of plane pair (x plane, y plane), call f(y row, x row, lo, hi, off, k).
template <class F>
inline void for_taps(const ConvGeom& g, const F& f) {
  for (int64_t kh = 0; kh < g.KH; ++kh)
    for (int64_t kw = 0; kw < g.KW; ++kw) {
      const int64_t off = kw * g.dw - g.pw;
      int64_t lo, hi, oh0, oh1;
      valid_range(g.OW, g.W, g.sw, off, lo, hi);
      valid_range(g.OH, g.H, g.sh, kh * g.dh - g.ph, oh0, oh1);
      if (lo >= hi) continue;
      for (int64_t oh = oh0; oh < oh1; ++oh) f(oh, oh * g.sh - g.ph + kh * g.dh, lo, hi, off, kh * g.KW + kw);
    }
}

// One input plane x (H, W) -> P (Hp, Wp) zero-padded: P[i][j] = x[i - ph][j - pw] or 0 outside x,
// holding exactly the rows and columns the taps touch.
template <class T>
void pad_plane(const ConvGeom& g, int64_t Hp, int64_t Wp, const T* x, T* P) {
  const int64_t j0 = std::min(Wp, g.pw), j1 = std::max(j0, std::min(Wp, g.pw + g.W));
  for (int64_t i = 0; i < Hp; ++i) {
    T* r = P + i * Wp;
    const int64_t ih = i - g.ph;
    if (ih < 0 || ih >= g.H) {
      for (int64_t j = 0; j < Wp; ++j) r[j] = T(0);
      continue;
    }
    const T* xr = x + ih * g.W - g.pw;
    for (int64_t j = 0; j < j0; ++j) r[j] = T(0);
#pragma omp simd
    for (int64_t j = j0; j < j1; ++j) r[j] = xr[j];
    for (int64_t j = j1; j < Wp; ++j) r[j] = T(0);
  }
}

// x (N, C, H, W), w (O, 1, KH, KW), bias (O) or null -> y (N, O, OH, OW). Each input plane is
// copied once into a zero-padded buffer, then every output row sums its KH*KW taps branch-free.
template <class T>
void dw_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t mult = g.O / g.groups, L = g.OH * g.OW;
  const int64_t Hp = (g.OH - 1) * g.sh + (g.KH - 1) * g.dh + 1, Wp = (g.OW - 1) * g.sw + (g.KW - 1) * g.dw + 1;
  if (L == 0) return;
  parallel_for(0, g.N * g.O, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, L * g.KH * g.KW)),
               [&](int64_t b, int64_t e) {
    std::unique_ptr<T[]> P(new T[static_cast<size_t>(Hp * Wp)]);
    int64_t padded = -1;  // the (n, c) plane now in P
    for (int64_t p = b; p < e; ++p) {
      const int64_t n = p / g.O, o = p % g.O, c = o / mult;
      if (padded != n * g.C + c) {
        pad_plane(g, Hp, Wp, x + (n * g.C + c) * g.H * g.W, P.get());
        padded = n * g.C + c;
      }
      const T* wo = w + o * g.KH * g.KW;
      const T b0 = bias ? bias[o] : T(0);
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        T* yr = y + p * L + oh * g.OW;
        for (int64_t ow = 0; ow < g.OW; ++ow) yr[ow] = b0;
        for (int64_t kh = 0; kh < g.KH; ++kh) {
          const T* pr = P.get() + (oh * g.sh + kh * g.dh) * Wp;
          for (int64_t kw = 0; kw < g.KW; ++kw) {
            const T wv = wo[kh * g.KW + kw];
            const T* src = pr + kw * g.dw;
            if (g.sw == 1) {
#pragma omp simd
              for (int64_t ow = 0; ow < g.OW; ++ow) yr[ow] += wv * src[ow];
            } else {
              for (int64_t ow = 0; ow < g.OW; ++ow) yr[ow] += wv * src[ow * g.sw];
            }
          }
        }
      }
    }
  });
}

// gy (N, O, OH, OW), w (O, 1, KH, KW) -> dx (N, C, H, W)
template <class T>
void dw_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  const int64_t mult = g.O / g.groups, L = g.OH * g.OW, HW = g.H * g.W;
  parallel_for(0, g.N * g.C, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, L * g.KH * g.KW * mult)),
               [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t n = p / g.C, c = p % g.C;
      T* xp = dx + p * HW;
      std::fill(xp, xp + HW, T(0));
      for (int64_t o = c * mult; o < (c + 1) * mult; ++o) {
        const T* gp = gy + (n * g.O + o) * L;
        const T* wo = w + o * g.KH * g.KW;
        for_taps(g, [&](int64_t oh, int64_t ih, int64_t lo, int64_t hi, int64_t off, int64_t k) {
          tap_bwd(gp + oh * g.OW, xp + ih * g.W, wo[k], lo, hi, g.sw, off);
        });
      }
    }
  });
}

// x (N, C, H, W), gy (N, O, OH, OW) -> dw (O, 1, KH, KW), dbias (O) or null
template <class T>
void dw_backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias) {
  const int64_t mult = g.O / g.groups, L = g.OH * g.OW, KK = g.KH * g.KW;
  parallel_for(0, g.O, 1, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const int64_t c = o / mult;
      T* wo = dw + o * KK;
      std::fill(wo, wo + KK, T(0));
      T bsum = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* xc = x + (n * g.C + c) * g.H * g.W;
        const T* gp = gy + (n * g.O + o) * L;
        for_taps(g, [&](int64_t oh, int64_t ih, int64_t lo, int64_t hi, int64_t off, int64_t k) {
          const T* gr = gp + oh * g.OW;
          const T* xr = xc + ih * g.W;
          T s = 0;
          if (g.sw == 1) {
            const T* xs = xr + off;
#pragma omp simd reduction(+ : s)
            for (int64_t ow = lo; ow < hi; ++ow) s += gr[ow] * xs[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) s += gr[ow] * xr[ow * g.sw + off];
          }
          wo[k] += s;
        });
        if (dbias) {
#pragma omp simd reduction(+ : bsum)
          for (int64_t l = 0; l < L; ++l) bsum += gp[l];
        }
      }
      if (dbias) dbias[o] = bsum;
    }
  });
}

}  // namespace

bool conv_is_depthwise(const ConvGeom& g) { return g.groups > 1 && g.groups == g.C && g.O % g.groups == 0; }

template <class T>
void depthwise_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  dw_forward(g, x, w, bias, y);
}
template <class T>
void depthwise_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  dw_backward_input(g, gy, w, dx);
}
template <class T>
void depthwise_backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias) {
  dw_backward_weight(g, x, gy, dw, dbias);
}

#define EMBER_DW_INSTANTIATE(T)                                                                      \
  template void depthwise_forward<T>(const ConvGeom&, const T*, const T*, const T*, T*);            \
  template void depthwise_backward_input<T>(const ConvGeom&, const T*, const T*, T*);               \
  template void depthwise_backward_weight<T>(const ConvGeom&, const T*, const T*, T*, T*);
EMBER_DW_INSTANTIATE(float)
EMBER_DW_INSTANTIATE(double)
#undef EMBER_DW_INSTANTIATE

}  // namespace ember::cpu

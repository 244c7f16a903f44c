// CPU convolution kernels on the GEMM: per image and group, y (O/g, L) = w (O/g, K) @ cols (K, L),
// cols (C*KH*KW, OH*OW) being the image's im2col; with stride 1 along W the forward never builds
// cols: the GEMM's B panels are packed straight from the (zero-padded) image (gemm_packed_b),
// other strides go through a cols buffer. The input gradient is the transposed product
// followed by col2im; the weight gradient sums gy @ cols^T over images. A 1x1 stride-1 unpadded
// convolution skips im2col (x is its own cols). Routed elsewhere first: depthwise convolutions to
// conv_direct.cpp; on AVX-512 CPUs, for stride 1, in this order: float32 passes whose channel
// counts fill 16-lane vectors and whose rows are narrow (or any rows, for the gradients) to
// conv_chan.cpp, unless Winograd (conv_winograd.cpp, 3x3) takes them; few output channels to
// conv_small.cpp; Winograd; other float32 ones to conv_igemm.cpp (output widths that fill 16-lane
// vectors).
// Threads: forward and input gradient split the batch (one cols buffer per thread, serial GEMMs);
// the weight gradient gives each thread a batch chunk and its own partial dw, summed at the end,
// so no atomics. A batch smaller than the thread count runs images in turn with threaded GEMMs.
// Inputs: contiguous float32/float64, checked by the op (cpp/src/ops/conv.cpp).
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "conv_chan.h"
#include "conv_direct.h"
#include "conv_igemm.h"
#include "conv_small.h"
#include "conv_util.h"
#include "conv_winograd.h"
#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"

// GCC 12's avx512fintrin.h seeds masked builtins with an undefined vector, which
// -Wmaybe-uninitialized flags once the small-plane permutes inline them (a false positive; as in
// gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace ember::cpu {
namespace {
using conv_detail::add_partials;
using conv_detail::valid_range;

// Stride-1 (along W) padded convolutions go through a zero-padded copy of the image, P (C, Hp, Wp)
// holding exactly the rows/columns the taps touch, so every cols row is one branch-free copy.
struct PadGeom {
  int64_t Hp = 0, Wp = 0;
  bool use = false;
};
PadGeom pad_geom(const ConvGeom& g) {
  PadGeom p;
  p.Hp = (g.OH - 1) * g.sh + (g.KH - 1) * g.dh + 1;
  p.Wp = (g.OW - 1) + (g.KW - 1) * g.dw + 1;
  p.use = g.sw == 1 && (g.ph > 0 || g.pw > 0 || p.Hp > g.H || p.Wp > g.W) && g.OH > 0 && g.OW > 0;
  return p;
}
// Stride sw > 1 along W: im2col first splits x into sw zero-padded column phases,
// Q[c][f][i][j] = x[c][i - ph][j sw + f - pw] (0 outside x), i < Hp, j < Wq, so that a tap kw reads
// phase (kw dw) % sw from column (kw dw) / sw on: contiguous rows instead of a strided gather (which
// took as long as the GEMM in a stride-2 conv's forward).
struct PhaseGeom {
  int64_t Hp = 0, Wq = 0;
};
PhaseGeom phase_geom(const ConvGeom& g) {
  PhaseGeom q;
  q.Hp = (g.OH - 1) * g.sh + (g.KH - 1) * g.dh + 1;
  q.Wq = (g.KW - 1) * g.dw / g.sw + g.OW;
  return q;
}
// Only where the taps read every phase and every row of Q: the split copies all of x, and a 1x1
// stride-2 convolution (ResNet's downsampling shortcut) reads a quarter of it (the strided gather
// copies just that).
bool use_phases(const ConvGeom& g) {
  if (g.sw <= 1 || g.OH <= 0 || g.OW <= 0) return false;
  auto covers = [](int64_t taps, int64_t dil, int64_t stride) {  // {k dil mod stride} is all residues
    if (taps >= stride && dil % stride == 1 % stride) return true;
    std::vector<char> seen(static_cast<size_t>(stride), 0);
    int64_t n = 0;
    for (int64_t k = 0; k < taps && n < stride; ++k) n += !seen[static_cast<size_t>(k * dil % stride)]++;
    return n == stride;
  };
  return covers(g.KW, g.dw, g.sw) && covers(g.KH, g.dh, g.sh);
}
// x columns j * sw + f - pw of phase f lie inside x for j in [j0, j1): one range per phase (the
// divisions done once per call, not per row)
struct ColRange {
  int64_t j0, j1;
};
inline std::vector<ColRange> phase_cols(const ConvGeom& g) {
  std::vector<ColRange> r(static_cast<size_t>(g.sw));
  for (int64_t f = 0; f < g.sw; ++f) {
    const int64_t j0 = std::max<int64_t>(0, (g.pw - f + g.sw - 1) / g.sw);
    r[static_cast<size_t>(f)] = {j0, std::max(j0, (g.W + g.pw - f + g.sw - 1) / g.sw)};
  }
  return r;
}

int64_t scratch_size(const ConvGeom& g) {
  const PadGeom p = pad_geom(g);
  if (use_phases(g)) {
    const PhaseGeom q = phase_geom(g);
    return g.C * g.sw * q.Hp * q.Wq;
  }
  return p.use ? g.C * p.Hp * p.Wp : 0;
}

// Where tap (c, kh, kw)'s first row starts in the padded image, and in the column phases (phase
// (kw dw) % sw, from column (kw dw) / sw on).
inline int64_t pad_tap(const ConvGeom& g, const PadGeom& p, int64_t c, int64_t kh, int64_t kw) {
  return c * p.Hp * p.Wp + kh * g.dh * p.Wp + kw * g.dw;
}
inline int64_t phase_tap(const ConvGeom& g, const PhaseGeom& q, int64_t c, int64_t kh, int64_t kw) {
  return (c * g.sw + kw * g.dw % g.sw) * q.Hp * q.Wq + kh * g.dh * q.Wq + kw * g.dw / g.sw;
}

// Every cols row (c, kh, kw) against its tap's rows of a padded image or of the column phases:
// f(cols + k L + oh OW, base + off(c, kh, kw) + oh sh rs) for each output row oh, rs the
// buffer's row stride (im2col copies the OW values one way, col2im adds them the other).
template <class T, class U, class Off, class F>
void for_tap_rows(const ConvGeom& g, T* cols, U* base, int64_t rs, const Off& off, const F& f) {
  const int64_t L = g.OH * g.OW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = cols + ((c * g.KH + kh) * g.KW + kw) * L;
        U* src = base + off(c, kh, kw);
        for (int64_t oh = 0; oh < g.OH; ++oh) f(row + oh * g.OW, src + oh * g.sh * rs);
      }
}
// im2col's copy (cols rows <- the taps' image rows) and col2im's sum (the other way).
template <class T, class Off>
void gather_taps(const ConvGeom& g, T* cols, const T* base, int64_t rs, const Off& off) {
  for_tap_rows(g, cols, base, rs, off, [&](T* r, const T* xs) {
#pragma omp simd
    for (int64_t ow = 0; ow < g.OW; ++ow) r[ow] = xs[ow];
  });
}
template <class T, class Off>
void scatter_taps(const ConvGeom& g, const T* cols, T* base, int64_t rs, const Off& off) {
  for_tap_rows(g, cols, base, rs, off, [&](const T* r, T* xs) {
#pragma omp simd
    for (int64_t ow = 0; ow < g.OW; ++ow) xs[ow] += r[ow];
  });
}

// x (C, H, W) -> P (C, Hp, Wp), P[c][i][j] = x[c][i - ph][j - pw] or 0 outside x.
template <class T>
void pad_image(const ConvGeom& g, const PadGeom& p, const T* x, T* P) {
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t i = 0; i < p.Hp; ++i) {
      T* r = P + (c * p.Hp + i) * p.Wp;
      const int64_t ih = i - g.ph;
      const int64_t j0 = std::min(p.Wp, g.pw), j1 = std::max(j0, std::min(p.Wp, g.pw + g.W));
      if (ih < 0 || ih >= g.H) {
        for (int64_t j = 0; j < p.Wp; ++j) r[j] = T(0);
        continue;
      }
      const T* xr = x + (c * g.H + ih) * g.W - g.pw;
      for (int64_t j = 0; j < j0; ++j) r[j] = T(0);
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) r[j] = xr[j];
      for (int64_t j = j1; j < p.Wp; ++j) r[j] = T(0);
    }
}

// x (C, H, W) -> its column phases Q (C, sw, Hp, Wq) (see PhaseGeom)
template <class T>
void split_phases(const ConvGeom& g, const T* x, T* Q) {
  const PhaseGeom q = phase_geom(g);
  const int64_t sw = g.sw;
  const std::vector<ColRange> pc = phase_cols(g);
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t f = 0; f < sw; ++f)
      for (int64_t i = 0; i < q.Hp; ++i) {
        T* r = Q + ((c * sw + f) * q.Hp + i) * q.Wq;
        const int64_t ih = i - g.ph;
        if (ih < 0 || ih >= g.H) {
          std::fill(r, r + q.Wq, T(0));
          continue;
        }
        // x's columns in [j0, j1), zeros around them
        const T* xs = x + (c * g.H + ih) * g.W + f - g.pw;
        const ColRange& cr = pc[static_cast<size_t>(f)];
        const int64_t j0 = std::min(cr.j0, q.Wq), j1 = std::min(cr.j1, q.Wq);
        for (int64_t j = 0; j < j0; ++j) r[j] = T(0);
        if (sw == 2) {  // a constant stride: the compiler vectorises the gather with shuffles
          for (int64_t j = j0; j < j1; ++j) r[j] = xs[2 * j];
        } else {
          for (int64_t j = j0; j < j1; ++j) r[j] = xs[j * sw];
        }
        for (int64_t j = j1; j < q.Wq; ++j) r[j] = T(0);
      }
}

// x (C, H, W) -> cols (C*KH*KW, OH*OW) through the column phases Q (see PhaseGeom)
template <class T>
void im2col_phased(const ConvGeom& g, const T* x, T* cols, T* Q) {
  const PhaseGeom q = phase_geom(g);
  split_phases(g, x, Q);
  gather_taps(g, cols, Q, q.Wq, [&](int64_t c, int64_t kh, int64_t kw) { return phase_tap(g, q, c, kh, kw); });
}

#if defined(__x86_64__) && defined(__GNUC__)
// Lanes [a, b) of a 16-lane mask, a and b clamped to [0, 16].
inline __mmask16 lanes16(int64_t a, int64_t b) {
  a = std::min<int64_t>(std::max<int64_t>(a, 0), 16), b = std::min<int64_t>(std::max<int64_t>(b, 0), 16);
  return static_cast<__mmask16>(a >= b ? 0u : ((1u << b) - 1u) & ~((1u << a) - 1u));
}

// One x row from its two column phases' rows (column stride 2, float32, AVX-512):
// x[iw] = Q_f[j] for iw + pw = 2 j + f when j < jq[f], else 0. Per 32 columns: two masked loads
// (past jq: zeros), two permutes interleaving them, two masked stores. The element loop it
// replaces stores one float at a time in the baseline build (8% of a stride-2 3x3 conv's
// forward + backward).
__attribute__((target("avx512f,avx512vl"))) void interleave_phases_s2_avx512(const float* const q[2],
                                                                               const int64_t jq[2], int64_t pw,
                                                                               int64_t W, float* xr) {
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t iw0 = 0; iw0 < W; iw0 += 32) {
    const int64_t base = iw0 + pw;  // even output lanes: phase fa, odd ones: the other
    const int fa = static_cast<int>(base & 1), fb = 1 - fa;
    const int64_t ja = (base - fa) / 2, jb = (base + 1 - fb) / 2;
    const __m512 a = _mm512_maskz_loadu_ps(lanes16(0, jq[fa] - ja), q[fa] + ja);
    const __m512 b = _mm512_maskz_loadu_ps(lanes16(0, jq[fb] - jb), q[fb] + jb);
    _mm512_mask_storeu_ps(xr + iw0, lanes16(0, W - iw0), _mm512_permutex2var_ps(a, lo, b));
    _mm512_mask_storeu_ps(xr + iw0 + 16, lanes16(0, W - iw0 - 16), _mm512_permutex2var_ps(a, hi, b));
  }
}
#endif

// cols (C*KH*KW, OH*OW) -> x (C, H, W), overwritten, through the column phases Q (see PhaseGeom):
// taps are summed into Q with contiguous adds (the same additions in the same order as col2im's
// strided scatter), then each x row interleaves its phases' rows; what no tap reaches gets 0.
template <class T>
void col2im_phased(const ConvGeom& g, const T* cols, T* x, T* Q) {
  const PhaseGeom q = phase_geom(g);
  const int64_t sw = g.sw;
  std::fill(Q, Q + g.C * sw * q.Hp * q.Wq, T(0));
  scatter_taps(g, cols, Q, q.Wq, [&](int64_t c, int64_t kh, int64_t kw) { return phase_tap(g, q, c, kh, kw); });
  const std::vector<ColRange> pc = phase_cols(g);
  // float32, stride 2, AVX-512: each x row interleaved from both phase rows at once; jqs: the end of
  // each phase's summed columns (past it, up to its last column inside x, zeros)
  const bool fast_s2 = std::is_same_v<T, float> && sw == 2 && cpu_isa() == Isa::Avx512;
  int64_t jqs[2] = {0, 0};
  for (int64_t f = 0; f < 2 && fast_s2; ++f)
    jqs[f] = std::max(pc[static_cast<size_t>(f)].j0, std::min(pc[static_cast<size_t>(f)].j1, q.Wq));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ih = 0; ih < g.H; ++ih) {
      T* xr = x + (c * g.H + ih) * g.W;
      const int64_t i = ih + g.ph;
      if (i >= q.Hp) {
        std::fill(xr, xr + g.W, T(0));
        continue;
      }
#if defined(__x86_64__) && defined(__GNUC__)
      if (fast_s2) {
        const float* qs[2] = {reinterpret_cast<const float*>(Q + (c * 2 * q.Hp + i) * q.Wq),
                              reinterpret_cast<const float*>(Q + ((c * 2 + 1) * q.Hp + i) * q.Wq)};
        interleave_phases_s2_avx512(qs, jqs, g.pw, g.W, reinterpret_cast<float*>(xr));
        continue;
      }
#endif
      for (int64_t f = 0; f < sw; ++f) {
        const T* qr = Q + ((c * sw + f) * q.Hp + i) * q.Wq;
        const int64_t j0 = pc[static_cast<size_t>(f)].j0, j1 = pc[static_cast<size_t>(f)].j1;
        const int64_t jq = std::max(j0, std::min(j1, q.Wq));
        T* xs = xr + f - g.pw;
        if (sw == 2) {  // a constant stride: vectorised with shuffles
          for (int64_t j = j0; j < jq; ++j) xs[2 * j] = qr[j];
        } else {
          for (int64_t j = j0; j < jq; ++j) xs[j * sw] = qr[j];
        }
        for (int64_t j = jq; j < j1; ++j) xs[j * sw] = T(0);
      }
    }
}

// P (C, Hp, Wp) -> cols (C*KH*KW, OH*OW) (stride 1 along W)
template <class T>
void im2col_padded(const ConvGeom& g, const PadGeom& p, const T* P, T* cols) {
  gather_taps(g, cols, P, p.Wp, [&](int64_t c, int64_t kh, int64_t kw) { return pad_tap(g, p, c, kh, kw); });
}

// cols -> P (zeroed here, taps summed) -> x (C, H, W) (stride 1 along W)
template <class T>
void col2im_padded(const ConvGeom& g, const PadGeom& p, const T* cols, T* P, T* x) {
  std::fill(P, P + g.C * p.Hp * p.Wp, T(0));
  scatter_taps(g, cols, P, p.Wp, [&](int64_t c, int64_t kh, int64_t kw) { return pad_tap(g, p, c, kh, kw); });
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t ih = 0; ih < g.H; ++ih) {
      T* xr = x + (c * g.H + ih) * g.W;
      const int64_t i = ih + g.ph;
      const int64_t w1 = i < p.Hp ? std::max<int64_t>(0, std::min(g.W, p.Wp - g.pw)) : 0;
      const T* pr = P + (c * p.Hp + i) * p.Wp + g.pw;
#pragma omp simd
      for (int64_t iw = 0; iw < w1; ++iw) xr[iw] = pr[iw];
      for (int64_t iw = w1; iw < g.W; ++iw) xr[iw] = T(0);
    }
}

// x (C, H, W) -> cols (C*KH*KW, OH*OW); scratch (scratch_size(g) elements) when that is > 0.
template <class T>
void im2col(const ConvGeom& g, const T* x, T* cols, T* scratch) {
  if (use_phases(g)) return im2col_phased(g, x, cols, scratch);
  const PadGeom pg = pad_geom(g);
  if (pg.use) {
    pad_image(g, pg, x, scratch);
    return im2col_padded(g, pg, scratch, cols);
  }
  const int64_t L = g.OH * g.OW;
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        T* row = cols + ((c * g.KH + kh) * g.KW + kw) * L;
        const T* xc = x + c * g.H * g.W;
        const int64_t off = kw * g.dw - g.pw;
        int64_t lo, hi;
        valid_range(g.OW, g.W, g.sw, off, lo, hi);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          T* r = row + oh * g.OW;
          const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          if (ih < 0 || ih >= g.H || lo >= hi) {
            for (int64_t ow = 0; ow < g.OW; ++ow) r[ow] = T(0);
            continue;
          }
          const T* xr = xc + ih * g.W;
          // short rows (a few dozen elements): inline loops, no memcpy/fill calls
          for (int64_t ow = 0; ow < lo; ++ow) r[ow] = T(0);
          if (g.sw == 1) {
            const T* xs = xr + off;
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ++ow) r[ow] = xs[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) r[ow] = xr[ow * g.sw + off];
          }
          for (int64_t ow = hi; ow < g.OW; ++ow) r[ow] = T(0);
        }
      }
}

// cols (C*KH*KW, OH*OW) -> x (C, H, W), overwritten; overlapping taps are summed.
template <class T>
void col2im(const ConvGeom& g, const T* cols, T* x, T* scratch) {
  if (use_phases(g)) return col2im_phased(g, cols, x, scratch);
  const PadGeom pg = pad_geom(g);
  if (pg.use) return col2im_padded(g, pg, cols, scratch, x);
  const int64_t L = g.OH * g.OW;
  std::fill(x, x + g.C * g.H * g.W, T(0));
  for (int64_t c = 0; c < g.C; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const T* row = cols + ((c * g.KH + kh) * g.KW + kw) * L;
        T* xc = x + c * g.H * g.W;
        const int64_t off = kw * g.dw - g.pw;
        int64_t lo, hi;
        valid_range(g.OW, g.W, g.sw, off, lo, hi);
        if (lo >= hi) continue;
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          const int64_t ih = oh * g.sh - g.ph + kh * g.dh;
          if (ih < 0 || ih >= g.H) continue;
          const T* r = row + oh * g.OW;
          T* xr = xc + ih * g.W;
          if (g.sw == 1) {
            T* xs = xr + off;
#pragma omp simd
            for (int64_t ow = lo; ow < hi; ++ow) xs[ow] += r[ow];
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) xr[ow * g.sw + off] += r[ow];
          }
        }
      }
}

// Implicit im2col: the image, its zero-padded copy, or its column phases (stride sw > 1 along W)
// read as cols(k = (c, kh, kw), l = (oh, ow)) = base[c * plane + (oh * sh + kh * dh) * row + ow
// + tap_col(kw)], tap_col(kw) = kw * dw at stride 1 and (kw * dw % sw) * phase + kw * dw / sw
// through phases, packed straight into the GEMM's B panels, so no cols buffer is written and read
// back.
template <class T>
struct ImageCols {
  const T* base;
  int64_t plane, row, phase = 0, sw = 1;
  int64_t tap_col(int64_t kw, int64_t dw) const { return kw * dw % sw * phase + kw * dw / sw; }
};
bool implicit_ok(const ConvGeom& g) { return g.OH > 0 && g.OW > 0 && (g.sw == 1 || use_phases(g)); }

// The runs of one output row inside the w columns of B from column p0 (l = oh OW + ow), at most
// cap long: f(j, oh, ow, n) for each, j its first column in the panel.
template <class F>
void panel_runs(const ConvGeom& g, int64_t p0, int64_t w, int64_t cap, const F& f) {
  for (int64_t j = 0; j < w;) {
    const int64_t l = p0 + j, oh = l / g.OW, ow = l % g.OW;
    const int64_t n = std::min({w - j, g.OW - ow, cap});
    f(j, oh, ow, n);
    j += n;
  }
}

// B[k0:k0+kc, j0:j0+nc] of the image's cols (K = Cg*KH*KW rows) -> nr-wide k-major panels.
template <class T>
void pack_image_cols(const ConvGeom& g, const ImageCols<T>& src, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                     int nr, T* dst) {
  const int64_t KK = g.KH * g.KW;
  int64_t seg_j[64], seg_s[64], seg_n[64];  // runs of one output row inside a panel (nr <= 64)
  for (int64_t p0 = j0; p0 < j0 + nc; p0 += nr, dst += kc * nr) {
    const int64_t w = std::min<int64_t>(nr, j0 + nc - p0);
    int ns = 0;
    panel_runs(g, p0, w, w, [&](int64_t j, int64_t oh, int64_t ow, int64_t n) {
      seg_j[ns] = j, seg_s[ns] = oh * g.sh * src.row + ow, seg_n[ns] = n, ++ns;
    });
    int64_t c = k0 / KK, kh = (k0 % KK) / g.KW, kw = k0 % g.KW;
    for (int64_t k = 0; k < kc; ++k) {
      const T* s = src.base + c * src.plane + kh * g.dh * src.row + src.tap_col(kw, g.dw);
      T* d = dst + k * nr;
      for (int t = 0; t < ns; ++t) {
        const T* ss = s + seg_s[t];
        T* dd = d + seg_j[t];
        const int64_t n = seg_n[t];
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) dd[i] = ss[i];
      }
      for (int64_t j = w; j < nr; ++j) d[j] = T(0);
      if (++kw == g.KW) {
        kw = 0;
        if (++kh == g.KH) kh = 0, ++c;
      }
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same B panels for column stride 2, float32, AVX-512, straight from the image x (Cg, H, W)
// (no column phases): cols(k = (c, kh, kw), l = (oh, ow)) = x[c][oh sh + kh dh - ph][2 ow + kw dw
// - pw], 0 outside x. Each run of up to 16 outputs of one output row is two masked loads of the
// 32 input columns it spans (masked to the row: the zero padding for free), one permute taking the
// even ones, and one masked store. The phase split this replaces read x first in the forward and
// took 13-16% of a stride-2 3x3 convolution's forward, beside packing from it.
__attribute__((target("avx512f,avx512vl"))) void pack_cols_s2_avx512(const ConvGeom& g, const float* x, int64_t k0,
                                                                       int64_t kc, int64_t j0, int64_t nc, int nr,
                                                                       float* dst) {
  const int64_t KK = g.KH * g.KW;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512 zero = _mm512_setzero_ps();
  int64_t seg_j[64], seg_oh[64], seg_ow[64];
  __mmask16 seg_st[64];  // runs of <= 16 outputs of one output row inside a panel (nr <= 64)
  for (int64_t p0 = j0; p0 < j0 + nc; p0 += nr, dst += kc * nr) {
    const int64_t w = std::min<int64_t>(nr, j0 + nc - p0);
    int ns = 0;
    panel_runs(g, p0, w, 16, [&](int64_t j, int64_t oh, int64_t ow, int64_t n) {
      seg_j[ns] = j, seg_oh[ns] = oh, seg_ow[ns] = ow, seg_st[ns] = lanes16(0, n), ++ns;
    });
    // each run's load masks per tap column (the input columns inside the row), for KW <= 8
    __mmask16 mask_a[64][8], mask_b[64][8];
    const bool table = g.KW <= 8;
    for (int t = 0; t < ns && table; ++t)
      for (int64_t q = 0; q < g.KW; ++q) {
        const int64_t iw0 = 2 * seg_ow[t] + q * g.dw - g.pw;
        mask_a[t][q] = lanes16(-iw0, g.W - iw0), mask_b[t][q] = lanes16(-iw0 - 16, g.W - iw0 - 16);
      }
    int64_t c = k0 / KK, kh = (k0 % KK) / g.KW, kw = k0 % g.KW;
    const int64_t c_end = (k0 + kc + KK - 1) / KK;  // channels this block reads
    for (int64_t k = 0; k < kc; ++k) {
      float* d = dst + k * nr;
      const float* xc = x + c * g.H * g.W;
      const int64_t coff = kw * g.dw - g.pw;  // input column of output column 0
      if (kh == 0 && kw == 0 && c + 1 < c_end) {
        // x's first reads in the forward come from L3 with the 9 taps' rows in an order the
        // hardware prefetcher does not follow: fetch the next channel's rows of this panel
        const int64_t ih0 = std::max<int64_t>(0, seg_oh[0] * g.sh - g.ph);
        const int64_t ih1 = std::min<int64_t>(g.H, seg_oh[ns - 1] * g.sh + (g.KH - 1) * g.dh - g.ph + 1);
        for (int64_t ih = ih0; ih < ih1; ++ih) {
          const char* r = reinterpret_cast<const char*>(xc + g.H * g.W + ih * g.W);
          for (int64_t b = 0; b < g.W * 4; b += 64) _mm_prefetch(r + b, _MM_HINT_T0);
        }
      }
      for (int t = 0; t < ns; ++t) {
        const int64_t ih = seg_oh[t] * g.sh + kh * g.dh - g.ph;
        if (ih < 0 || ih >= g.H) {
          _mm512_mask_storeu_ps(d + seg_j[t], seg_st[t], zero);
          continue;
        }
        const int64_t iw0 = 2 * seg_ow[t] + coff;  // first input column (may be < 0: masked off)
        // the address of column iw0, formed as an integer (iw0 < 0 points before the row); the
        // masked-off lanes are not read
        const uintptr_t row = reinterpret_cast<uintptr_t>(xc + ih * g.W);
        const float* lo = reinterpret_cast<const float*>(row + static_cast<uintptr_t>(iw0 * 4));
        const float* hi = reinterpret_cast<const float*>(row + static_cast<uintptr_t>((iw0 + 16) * 4));
        const __m512 a = _mm512_maskz_loadu_ps(table ? mask_a[t][kw] : lanes16(-iw0, g.W - iw0), lo);
        const __m512 b = _mm512_maskz_loadu_ps(table ? mask_b[t][kw] : lanes16(-iw0 - 16, g.W - iw0 - 16), hi);
        _mm512_mask_storeu_ps(d + seg_j[t], seg_st[t], _mm512_permutex2var_ps(a, even, b));
      }
      for (int64_t j = w; j < nr; ++j) d[j] = 0.0f;
      if (++kw == g.KW) {
        kw = 0;
        if (++kh == g.KH) kh = 0, ++c;
      }
    }
  }
}
#endif

// Column stride 2, float32, on an AVX-512 CPU: the forward packs B from x itself.
template <class T>
bool pack_s2_direct(const ConvGeom& g) {
#if defined(__x86_64__) && defined(__GNUC__)
  return std::is_same_v<T, float> && g.sw == 2 && cpu_isa() == Isa::Avx512;
#else
  (void)g;
  return false;
#endif
}

bool is_pointwise(const ConvGeom& g) {
  return g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0 && g.OH == g.H && g.OW == g.W;
}

template <class T>
DType dtype_of() {
  return std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
}

// The implicit-GEMM and channel-vectorised kernels (conv_igemm.cpp, conv_chan.cpp) take float32 only.
template <class T>
bool f32_path_ok(const ConvGeom& g, bool (*ok)(const ConvGeom&)) {
  return std::is_same_v<T, float> && ok(g);
}

// Run f(n, cols, threaded_gemm) for every image: batch split over threads when it is at least the
// thread count (each chunk owns a cols buffer of `buf` elements), else images in turn.
template <class T, class F>
void over_images(int64_t N, int64_t buf, const F& f) {
  const int nt = get_num_threads();
  if (nt > 1 && N >= nt && !in_parallel_region()) {
    parallel_for(0, N, 1, [&](int64_t b, int64_t e) {
      std::unique_ptr<T[]> cols(new T[static_cast<size_t>(buf)]);
      for (int64_t n = b; n < e; ++n) f(n, cols.get(), false);
    });
  } else {
    std::unique_ptr<T[]> cols(new T[static_cast<size_t>(buf)]);
    for (int64_t n = 0; n < N; ++n) f(n, cols.get(), true);
  }
}

// --- small output planes: images folded into the GEMM's columns ---------------------------------
// With L = OH*OW under kFoldPlane (4x4 planes late in a CIFAR-sized net, stride-2 downsampling, a
// transposed convolution's input gradient), a GEMM per image has L columns (or an inner dimension
// of L for the weight gradient), too few for the micro-kernel. So chunks of nb images run as one
// GEMM over (K, nb*L) columns, the operands gathered into contiguous buffers (im2col through a
// table of input offsets, the planes of gy) and the result scattered back: copies of O(K nb L)
// elements against the GEMM's O(O K nb L) flops. Chunks split over threads (single-threaded
// GEMMs) when there are enough of them, else the GEMM is threaded. Measured on (32, 64, 8, 8) ->
// 128, 4x4 stride 2 (a 4x4 output), 1 thread: forward 2.16 -> 1.78 ms, forward + backward
// 7.3 -> 6.0 ms. (Skipping the padding taps per class of pixels, which oneDNN's direct kernels
// do, measured slower here: one GEMM per class, with a class of corners of nb columns.)
// Input planes of at most 64 elements (float32, AVX-512) skip the gathers: the plane sits in four
// registers and each tap's row is a permute (plane_perm); the input gradient's col2im is the
// inverse permute (plane_perm_inverse), and with L a multiple of 16 the forward packs the GEMM's
// B panels from the images directly. (64, 64, 8, 8) -> 128, 3x3 stride 2, 1 thread: forward
// 1.73 -> 1.47 ms, forward + backward 6.05 -> 4.9 ms.
constexpr int64_t kFoldPlane = 64;   // fold when L < this
constexpr int64_t kFoldCols = 256;   // columns per chunk's GEMM (nb = ceil(kFoldCols / L))
constexpr int64_t kFoldElems = int64_t(1) << 22;  // cap on a chunk's K * nb * L buffer

struct FoldPlan {
  int64_t nb = 0, chunks = 0;
  bool threaded_chunks = false;
};

FoldPlan fold_plan(const ConvGeom& g) {
  FoldPlan p;
  const int64_t K = g.C * g.KH * g.KW, L = g.OH * g.OW;
  if (g.groups != 1 || L <= 0 || L >= kFoldPlane || g.N < 2 || K <= 0 || g.O <= 0 ||
      g.H * g.W >= (int64_t(1) << 31))
    return p;
  int64_t nb = std::min(g.N, (kFoldCols + L - 1) / L);
  nb = std::max<int64_t>(1, std::min(nb, kFoldElems / std::max<int64_t>(1, K * L)));
  const int nt = in_parallel_region() ? 1 : get_num_threads();
  // enough chunks for every thread: shrink nb (down to half its columns) before threading the GEMM
  if (nt > 1 && (g.N + nb - 1) / nb < nt) {
    const int64_t even = (g.N + nt - 1) / nt;
    if (even * L * 2 >= kFoldCols) nb = std::min(nb, even);
  }
  if (nb < 2) return p;
  p.nb = nb;
  p.chunks = (g.N + nb - 1) / nb;
  p.threaded_chunks = nt > 1 && p.chunks >= nt;
  return p;
}

// f(n0, m, threaded_gemm) for each chunk of m images from n0.
template <class F>
void over_chunks(const ConvGeom& g, const FoldPlan& p, const F& f) {
  if (p.threaded_chunks) {
    parallel_for(0, p.chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) f(c * p.nb, std::min(p.nb, g.N - c * p.nb), false);
    });
  } else {
    for (int64_t c = 0; c < p.chunks; ++c) f(c * p.nb, std::min(p.nb, g.N - c * p.nb), true);
  }
}

// A plane's taps: for tap t = kh * KW + kw and output pixel l = oh * OW + ow, the input element
// (ih * W + iw) it reads, or -1 in the padding. Built once per call (KH * KW * L entries).
std::vector<int32_t> tap_table(const ConvGeom& g) {
  const int64_t L = g.OH * g.OW;
  std::vector<int32_t> tab(static_cast<size_t>(g.KH * g.KW * L));
  for (int64_t kh = 0; kh < g.KH; ++kh)
    for (int64_t kw = 0; kw < g.KW; ++kw)
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t ih = oh * g.sh - g.ph + kh * g.dh, iw = ow * g.sw - g.pw + kw * g.dw;
          const bool in = ih >= 0 && ih < g.H && iw >= 0 && iw < g.W;
          tab[static_cast<size_t>((kh * g.KW + kw) * L + oh * g.OW + ow)] = in ? static_cast<int32_t>(ih * g.W + iw) : -1;
        }
  return tab;
}

#if defined(__x86_64__) && defined(__GNUC__)
// row[l] = x[id[l]] (0 where id[l] < 0), 16 lanes per masked gather (a third faster than the
// scalar loop on Zen 4).
__attribute__((target("avx512f,avx512vl"))) void gather_row_avx512(float* row, const float* x, const int32_t* id,
                                                                     int64_t n) {
  for (int64_t l = 0; l < n; l += 16) {
    const __mmask16 tail = n - l >= 16 ? __mmask16(0xffff) : static_cast<__mmask16>((1u << (n - l)) - 1u);
    const __m512i idx = _mm512_maskz_loadu_epi32(tail, id + l);
    const __mmask16 in = _mm512_mask_cmpge_epi32_mask(tail, idx, _mm512_setzero_si512());
    _mm512_mask_storeu_ps(row + l, tail, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), in, idx, x, 4));
  }
}

// Input planes of at most 64 elements (8x8 and smaller) sit in four registers, so a tap's row of
// 16 outputs is two two-register permutes and a blend instead of a gather: each 16-lane piece of
// the tap table becomes a permute index, a mask of lanes reading the upper 32 elements, and a
// mask of lanes inside the image (and inside L). A third of the time of the gathers on Zen 4.
struct PlanePerm {
  std::vector<int32_t> idx;  // 16 lanes per piece
  std::vector<__mmask16> hi, in, tail;
  int64_t pieces = 0;  // per tap: ceil(L / 16)
};

// The table for KK rows of n lanes each: src[t * n + e] is the element lane e of row t reads from
// (of at most 64), or -1 for a zero.
PlanePerm perm_table(int64_t KK, int64_t n, const std::vector<int32_t>& src) {
  PlanePerm p;
  p.pieces = (n + 15) / 16;
  const size_t m = static_cast<size_t>(KK * p.pieces);
  p.idx.resize(m * 16);
  p.hi.resize(m);
  p.in.resize(m);
  p.tail.resize(m);
  for (int64_t t = 0; t < KK; ++t)
    for (int64_t q = 0; q < p.pieces; ++q) {
      const size_t k = static_cast<size_t>(t * p.pieces + q);
      int32_t* lane = p.idx.data() + k * 16;
      unsigned hi = 0, in = 0, tail = 0;
      for (int64_t j = 0; j < 16; ++j) {
        const int64_t e = q * 16 + j;
        const int32_t id = e < n ? src[static_cast<size_t>(t * n + e)] : -1;
        lane[j] = id < 0 ? 0 : id & 31;
        if (e < n) tail |= 1u << j;
        if (id >= 0) in |= 1u << j;
        if (id >= 32) hi |= 1u << j;
      }
      p.hi[k] = static_cast<__mmask16>(hi);
      p.in[k] = static_cast<__mmask16>(in);
      p.tail[k] = static_cast<__mmask16>(tail);
    }
  return p;
}

// im2col's table: row t's lane l reads the plane element tap_table gives (L lanes a row)
PlanePerm plane_perm(const ConvGeom& g, const std::vector<int32_t>& tab) {
  return perm_table(g.KH * g.KW, g.OH * g.OW, tab);
}

// The lanes of four registers holding n <= 64 floats, and those floats loaded (zeros past n).
struct Masks64 {
  __mmask16 m[4];
  explicit Masks64(int64_t n) {
    for (int i = 0; i < 4; ++i) m[i] = lanes16(0, n - 16 * i);
  }
};
__attribute__((target("avx512f,avx512vl"))) inline void load64(const float* p, const Masks64& n, __m512 (&r)[4]) {
  for (int i = 0; i < 4; ++i) r[i] = _mm512_maskz_loadu_ps(n.m[i], p + 16 * i);
}

// Piece k of the table applied to the 64 floats in r.
__attribute__((target("avx512f,avx512vl"))) inline __m512 permute64(const __m512 (&r)[4], const PlanePerm& pp,
                                                                   size_t k) {
  const __m512i idx = _mm512_loadu_si512(pp.idx.data() + k * 16);
  const __m512 v = _mm512_permutex2var_ps(r[0], idx, r[1]);
  return pp.hi[k] ? _mm512_mask_blend_ps(pp.hi[k], v, _mm512_permutex2var_ps(r[2], idx, r[3])) : v;
}

// cols rows [c KK, (c + 1) KK), columns [i L, (i + 1) L) for each of the C planes of xn.
__attribute__((target("avx512f,avx512vl"))) void gather_image_small(const ConvGeom& g, const PlanePerm& pp,
                                                                      const float* xn, int64_t J, float* cols) {
  const int64_t KK = g.KH * g.KW, plane = g.H * g.W;
  const Masks64 pm(plane);
  for (int64_t c = 0; c < g.C; ++c) {
    __m512 r[4];
    load64(xn + c * plane, pm, r);
    for (int64_t t = 0; t < KK; ++t) {
      float* row = cols + (c * KK + t) * J;
      for (int64_t q = 0; q < pp.pieces; ++q) {
        const size_t k = static_cast<size_t>(t * pp.pieces + q);
        _mm512_mask_storeu_ps(row + q * 16, pp.tail[k], _mm512_maskz_mov_ps(pp.in[k], permute64(r, pp, k)));
      }
    }
  }
}

// The folded forward's B panels straight from the images when L is a multiple of 16 (each
// 16-lane piece of a panel row inside one image): B[k0:k0+kc, j0:j0+nc] of cols (K, m*L),
// column j = (image n0 + j / L, pixel j % L), as nr-wide k-major panels. No cols buffer is
// written and read back: a 4x4 output's stride-2 forward spent a sixth of its time on that.
__attribute__((target("avx512f,avx512vl"))) void pack_cols_small_avx512(const ConvGeom& g, const PlanePerm& pp,
                                                                          const float* x, int64_t k0, int64_t kc,
                                                                          int64_t j0, int64_t nc, int nr, float* dst) {
  const int64_t KK = g.KH * g.KW, plane = g.H * g.W, L = g.OH * g.OW;
  const Masks64 pm(plane);
  const int64_t c0 = k0 / KK, c1 = (k0 + kc - 1) / KK;
  for (int64_t p0 = j0; p0 < j0 + nc; p0 += nr, dst += kc * nr) {
    const int64_t w = std::min<int64_t>(nr, j0 + nc - p0);
    for (int64_t j = 0; j < w; j += 16) {
      const int64_t col = p0 + j, q = (col % L) / 16;
      const float* xn = x + (col / L) * g.C * plane;
      for (int64_t c = c0; c <= c1; ++c) {
        __m512 r[4];
        load64(xn + c * plane, pm, r);
        const int64_t t0 = std::max<int64_t>(0, k0 - c * KK), t1 = std::min<int64_t>(KK, k0 + kc - c * KK);
        for (int64_t t = t0; t < t1; ++t) {
          const size_t k = static_cast<size_t>(t * pp.pieces + q);
          _mm512_storeu_ps(dst + (c * KK + t - k0) * nr + j, _mm512_maskz_mov_ps(pp.in[k], permute64(r, pp, k)));
        }
      }
    }
    for (int64_t k = 0; k < kc && w < nr; ++k) std::fill(dst + k * nr + w, dst + (k + 1) * nr, 0.0f);
  }
}

// col2im's inverse for the same planes: for each tap, every input element takes at most one
// output pixel, so the plane's four registers add one permute of the tap's row (its L <= 64
// columns in four registers) each. Pieces run over the plane (16 input elements each) and the
// table's lanes hold the output pixel l & 31, hi marking l >= 32.
PlanePerm plane_perm_inverse(const ConvGeom& g, const std::vector<int32_t>& tab) {
  const int64_t KK = g.KH * g.KW, L = g.OH * g.OW, plane = g.H * g.W;
  std::vector<int32_t> inv(static_cast<size_t>(KK * plane), -1);
  for (int64_t t = 0; t < KK; ++t)
    for (int64_t l = 0; l < L; ++l)
      if (const int32_t id = tab[static_cast<size_t>(t * L + l)]; id >= 0)
        inv[static_cast<size_t>(t * plane + id)] = static_cast<int32_t>(l);
  return perm_table(KK, plane, inv);
}

// dx's C planes (overwritten) from cols rows [c KK, (c + 1) KK), columns [0, L) of each row (row
// stride J): the small-plane col2im.
__attribute__((target("avx512f,avx512vl"))) void scatter_image_small(const ConvGeom& g, const PlanePerm& pp,
                                                                       const float* cols, int64_t J, float* dx) {
  const int64_t KK = g.KH * g.KW, plane = g.H * g.W, L = g.OH * g.OW;
  const Masks64 lm(L);
  for (int64_t c = 0; c < g.C; ++c) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    if (L <= 16) {  // one source register: single-table permutes (a stride-2 layer's 4x4 output)
      for (int64_t t = 0; t < KK; ++t) {
        const __m512 d0 = _mm512_maskz_loadu_ps(lm.m[0], cols + (c * KK + t) * J);
        for (int64_t q = 0; q < pp.pieces; ++q) {
          const size_t k = static_cast<size_t>(t * pp.pieces + q);
          const __m512 v = _mm512_permutexvar_ps(_mm512_loadu_si512(pp.idx.data() + k * 16), d0);
          acc[q] = _mm512_mask_add_ps(acc[q], pp.in[k], acc[q], v);
        }
      }
      float* xc = dx + c * plane;
      for (int64_t q = 0; q < pp.pieces; ++q) _mm512_mask_storeu_ps(xc + q * 16, pp.tail[q], acc[q]);
      continue;
    }
    for (int64_t t = 0; t < KK; ++t) {
      __m512 d[4];
      load64(cols + (c * KK + t) * J, lm, d);
      for (int64_t q = 0; q < pp.pieces; ++q) {
        const size_t k = static_cast<size_t>(t * pp.pieces + q);
        acc[q] = _mm512_mask_add_ps(acc[q], pp.in[k], acc[q], permute64(d, pp, k));
      }
    }
    float* xc = dx + c * plane;
    for (int64_t q = 0; q < pp.pieces; ++q) _mm512_mask_storeu_ps(xc + q * 16, pp.tail[q], acc[q]);
  }
}
#endif

// cols (K, m*L): image n0 + i's im2col in columns [i L, (i + 1) L), gathered through the tap
// table (pointwise: the image's planes copied).
template <class T>
void gather_cols(const ConvGeom& g, const std::vector<int32_t>& tab, const T* x, int64_t n0, int64_t m, T* cols) {
  const int64_t KK = g.KH * g.KW, L = g.OH * g.OW, J = m * L, plane = g.H * g.W;
  const bool pw = is_pointwise(g);
#if defined(__x86_64__) && defined(__GNUC__)
  const bool avx512 = std::is_same_v<T, float> && cpu_isa() == Isa::Avx512;
  if constexpr (std::is_same_v<T, float>) {
    if (avx512 && !pw && plane <= 64) {
      const PlanePerm pp = plane_perm(g, tab);
      for (int64_t i = 0; i < m; ++i) gather_image_small(g, pp, x + (n0 + i) * g.C * plane, J, cols + i * L);
      return;
    }
  }
#endif
  for (int64_t i = 0; i < m; ++i) {
    const T* xn = x + (n0 + i) * g.C * plane;
    for (int64_t c = 0; c < g.C; ++c) {
      const T* xc = xn + c * plane;
      if (pw) {
        std::memcpy(cols + c * J + i * L, xc, sizeof(T) * L);
        continue;
      }
      for (int64_t t = 0; t < KK; ++t) {
        const int32_t* id = tab.data() + t * L;
        T* row = cols + (c * KK + t) * J + i * L;
#if defined(__x86_64__) && defined(__GNUC__)
        if constexpr (std::is_same_v<T, float>) {
          if (avx512) {
            gather_row_avx512(row, xc, id, L);
            continue;
          }
        }
#endif
        for (int64_t l = 0; l < L; ++l) row[l] = id[l] >= 0 ? xc[id[l]] : T(0);
      }
    }
  }
}

// The forward's epilogue on one output plane: y[l] = s[l] (+ *bias when given), then relu when
// asked (s may be y).
template <class T>
void bias_relu_into(T* y, const T* s, int64_t L, const T* bias, bool relu) {
  using conv_detail::relu_of;
  const T b = bias ? *bias : T(0);
  if (bias && relu) {
#pragma omp simd
    for (int64_t l = 0; l < L; ++l) y[l] = relu_of(s[l] + b);
  } else if (bias) {
#pragma omp simd
    for (int64_t l = 0; l < L; ++l) y[l] = s[l] + b;
  } else if (relu) {
#pragma omp simd
    for (int64_t l = 0; l < L; ++l) y[l] = relu_of(s[l]);
  } else if (y != s) {
    std::memcpy(y, s, sizeof(T) * L);
  }
}

// G (O, m*L) <-> the planes of images n0.. of gy or y (N, O, L): to_images = false gathers, true
// scatters (then the forward's epilogue: bias, relu).
template <class T>
void move_planes(const ConvGeom& g, int64_t n0, int64_t m, T* G, T* img, bool to_images, const T* bias) {
  const int64_t L = g.OH * g.OW, J = m * L;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t o = 0; o < g.O; ++o) {
      T* a = img + ((n0 + i) * g.O + o) * L;
      T* b = G + o * J + i * L;
      if (!to_images) {
        std::memcpy(b, a, sizeof(T) * L);
      } else {
        bias_relu_into(a, b, L, bias ? bias + o : nullptr, g.relu);
      }
    }
}

template <class T>
void forward_folded(const ConvGeom& g, const FoldPlan& p, const T* x, const T* w, const T* bias, T* y) {
  const int64_t K = g.C * g.KH * g.KW, L = g.OH * g.OW;
  const std::vector<int32_t> tab = tap_table(g);
#if defined(__x86_64__) && defined(__GNUC__)
  if constexpr (std::is_same_v<T, float>) {
    if (!is_pointwise(g) && g.H * g.W <= 64 && L % 16 == 0 && cpu_isa() == Isa::Avx512) {
      const PlanePerm pp = plane_perm(g, tab);
      over_chunks(g, p, [&](int64_t n0, int64_t m, bool threads) {
        const int64_t J = m * L;
        std::unique_ptr<T[]> G(new T[static_cast<size_t>(g.O * J)]);
        const float* xs = x + n0 * g.C * g.H * g.W;
        const GemmPackB pack = [&](int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, void* dst) {
          pack_cols_small_avx512(g, pp, xs, k0, kc, j0, nc, nr, static_cast<float*>(dst));
        };
        gemm_packed_b(dtype_of<T>(), g.O, J, K, Scalar(1.0), w, K, 1, pack, Scalar(0.0), G.get(), J, 1, threads);
        move_planes(g, n0, m, G.get(), y, true, bias);
      });
      return;
    }
  }
#endif
  over_chunks(g, p, [&](int64_t n0, int64_t m, bool threads) {
    const int64_t J = m * L;
    std::unique_ptr<T[]> cols(new T[static_cast<size_t>(K * J + g.O * J)]);
    T* G = cols.get() + K * J;
    gather_cols(g, tab, x, n0, m, cols.get());
    gemm_strided(dtype_of<T>(), g.O, J, K, Scalar(1.0), w, K, 1, cols.get(), J, 1, Scalar(0.0), G, J, 1, threads);
    move_planes(g, n0, m, G, y, true, bias);
  });
}

template <class T>
void backward_input_folded(const ConvGeom& g, const FoldPlan& p, const T* gy, const T* w, T* dx) {
  const int64_t K = g.C * g.KH * g.KW, L = g.OH * g.OW, xs = g.C * g.H * g.W;
  const bool pw = is_pointwise(g);
#if defined(__x86_64__) && defined(__GNUC__)
  const bool small = std::is_same_v<T, float> && !pw && g.H * g.W <= 64 && cpu_isa() == Isa::Avx512;
  const PlanePerm inv = small ? plane_perm_inverse(g, tap_table(g)) : PlanePerm{};
#endif
  over_chunks(g, p, [&](int64_t n0, int64_t m, bool threads) {
    const int64_t J = m * L;
    std::unique_ptr<T[]> buf(new T[static_cast<size_t>(K * J + g.O * J + K * L + scratch_size(g))]);
    T *D = buf.get(), *G = D + K * J, *tmp = G + g.O * J;
    move_planes(g, n0, m, G, const_cast<T*>(gy), false, static_cast<const T*>(nullptr));
    // D (K, J) = w^T (K, O) @ G (O, J)
    gemm_strided(dtype_of<T>(), K, J, g.O, Scalar(1.0), w, 1, K, G, J, 1, Scalar(0.0), D, J, 1, threads);
#if defined(__x86_64__) && defined(__GNUC__)
    if constexpr (std::is_same_v<T, float>) {
      if (small) {
        for (int64_t i = 0; i < m; ++i) scatter_image_small(g, inv, D + i * L, J, dx + (n0 + i) * xs);
        return;
      }
    }
#endif
    for (int64_t i = 0; i < m; ++i) {
      T* dxn = dx + (n0 + i) * xs;
      T* dst = pw ? dxn : tmp;
      for (int64_t k = 0; k < K; ++k) std::memcpy(dst + k * L, D + k * J + i * L, sizeof(T) * L);
      if (!pw) col2im(g, tmp, dxn, tmp + K * L);
    }
  });
}

// dw (O, K) = sum over chunks of G (O, J) @ cols^T (J, K); per-thread partial sums when chunks
// run in parallel, added in a fixed order.
template <class T>
void backward_weight_folded(const ConvGeom& g, const FoldPlan& p, const T* x, const T* gy, T* dw) {
  const int64_t K = g.C * g.KH * g.KW, L = g.OH * g.OW, WN = g.O * K;
  const std::vector<int32_t> tab = tap_table(g);
  const int64_t parts = p.threaded_chunks ? std::min<int64_t>(get_num_threads(), p.chunks) : 1;
  std::unique_ptr<T[]> partial(new T[static_cast<size_t>((parts - 1) * WN)]);
  auto run = [&](int64_t part, int64_t c0, int64_t c1, bool threads) {
    T* acc = part == 0 ? dw : partial.get() + (part - 1) * WN;
    if (c0 >= c1) std::fill(acc, acc + WN, T(0));
    const int64_t J0 = p.nb * L;
    std::unique_ptr<T[]> buf(new T[static_cast<size_t>(K * J0 + g.O * J0)]);
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t n0 = c * p.nb, m = std::min(p.nb, g.N - n0), J = m * L;
      T *cols = buf.get(), *G = cols + K * J;
      gather_cols(g, tab, x, n0, m, cols);
      move_planes(g, n0, m, G, const_cast<T*>(gy), false, static_cast<const T*>(nullptr));
      gemm_strided(dtype_of<T>(), g.O, K, J, Scalar(1.0), G, J, 1, cols, 1, J, Scalar(c == c0 ? 0.0 : 1.0), acc, K,
                   1, threads);
    }
  };
  if (parts == 1) {
    run(0, 0, p.chunks, true);
    return;
  }
  parallel_for(0, parts, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) run(t, p.chunks * t / parts, p.chunks * (t + 1) / parts, false);
  });
  add_partials(dw, partial.get(), parts - 1, WN);
}

// x (N, C, H, W), w (O, C/g, KH, KW), bias (O) or null -> y (N, O, OH, OW)
template <class T>
void forward_impl(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  if (const FoldPlan fp = fold_plan(g); fp.nb > 0) return forward_folded(g, fp, x, w, bias, y);
  const int64_t Cg = g.C / g.groups, Og = g.O / g.groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW;
  const bool pw = is_pointwise(g), implicit = !pw && implicit_ok(g);
  const PadGeom pg = pad_geom(g);
  const int64_t colsz = pw || implicit ? 0 : g.groups * K * L;
  over_images<T>(g.N, pw ? 0 : colsz + scratch_size(g), [&](int64_t n, T* cols, bool threads) {
    const T* xn = x + n * g.C * g.H * g.W;
    T* yn = y + n * g.O * L;
    if (implicit && pack_s2_direct<T>(g)) {
#if defined(__x86_64__) && defined(__GNUC__)
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        const float* xg = reinterpret_cast<const float*>(xn) + gi * Cg * g.H * g.W;
        const GemmPackB pack = [&](int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, void* dst) {
          pack_cols_s2_avx512(g, xg, k0, kc, j0, nc, nr, static_cast<float*>(dst));
        };
        gemm_packed_b(dtype_of<T>(), Og, L, K, Scalar(1.0), w + gi * Og * K, K, 1, pack, Scalar(0.0),
                      yn + gi * Og * L, L, 1, threads);
      }
#endif
    } else if (implicit) {
      ImageCols<T> ic{xn, g.H * g.W, g.W};
      if (use_phases(g)) {
        const PhaseGeom q = phase_geom(g);
        split_phases(g, xn, cols);
        ic = ImageCols<T>{cols, g.sw * q.Hp * q.Wq, q.Wq, q.Hp * q.Wq, g.sw};
      } else if (pg.use) {
        pad_image(g, pg, xn, cols);
        ic = ImageCols<T>{cols, pg.Hp * pg.Wp, pg.Wp};
      }
      for (int64_t gi = 0; gi < g.groups; ++gi) {
        const ImageCols<T> icg{ic.base + gi * Cg * ic.plane, ic.plane, ic.row, ic.phase, ic.sw};
        const GemmPackB pack = [&](int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, void* dst) {
          pack_image_cols<T>(g, icg, k0, kc, j0, nc, nr, static_cast<T*>(dst));
        };
        gemm_packed_b(dtype_of<T>(), Og, L, K, Scalar(1.0), w + gi * Og * K, K, 1, pack, Scalar(0.0),
                      yn + gi * Og * L, L, 1, threads);
      }
    } else {
      if (!pw) im2col(g, xn, cols, cols + colsz);
      const T* src = pw ? xn : cols;
      for (int64_t gi = 0; gi < g.groups; ++gi)
        gemm_strided(dtype_of<T>(), Og, L, K, Scalar(1.0), w + gi * Og * K, K, 1, src + gi * K * L, L, 1,
                     Scalar(0.0), yn + gi * Og * L, L, 1, threads);
    }
    if (bias || g.relu)
      for (int64_t o = 0; o < g.O; ++o) bias_relu_into(yn + o * L, yn + o * L, L, bias ? bias + o : nullptr, g.relu);
  });
}

// gy (N, O, OH, OW), w (O, C/g, KH, KW) -> dx (N, C, H, W)
template <class T>
void backward_input_impl(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  if (const FoldPlan fp = fold_plan(g); fp.nb > 0) return backward_input_folded(g, fp, gy, w, dx);
  const int64_t Cg = g.C / g.groups, Og = g.O / g.groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW;
  const bool pw = is_pointwise(g);
  const int64_t colsz = pw ? 0 : g.groups * K * L;
  over_images<T>(g.N, pw ? 0 : colsz + scratch_size(g), [&](int64_t n, T* cols, bool threads) {
    T* dxn = dx + n * g.C * g.H * g.W;
    const T* gyn = gy + n * g.O * L;
    T* dst = pw ? dxn : cols;
    // dcols (K, L) = w_g^T (K, Og) @ gy_g (Og, L)
    for (int64_t gi = 0; gi < g.groups; ++gi)
      gemm_strided(dtype_of<T>(), K, L, Og, Scalar(1.0), w + gi * Og * K, 1, K, gyn + gi * Og * L, L, 1,
                   Scalar(0.0), dst + gi * K * L, L, 1, threads);
    if (!pw) col2im(g, cols, dxn, cols + colsz);
  });
}

// dbias (O) = sum of gy (N, O, L) over N and L
template <class T>
void bias_grad(const ConvGeom& g, const T* gy, T* dbias) {
  const int64_t L = g.OH * g.OW;
  parallel_for(0, g.O, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.N * L)), [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      T s = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* p = gy + (n * g.O + o) * L;
#pragma omp simd reduction(+ : s)
        for (int64_t l = 0; l < L; ++l) s += p[l];
      }
      dbias[o] = s;
    }
  });
}

// x (N, C, H, W), gy (N, O, OH, OW) -> dw (O, C/g, KH, KW), dbias (O) or null
template <class T>
void backward_weight_impl(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias) {
  const int64_t Cg = g.C / g.groups, Og = g.O / g.groups, K = Cg * g.KH * g.KW, L = g.OH * g.OW;
  const int64_t WN = g.O * K;
  const bool pw = is_pointwise(g);
  if (winograd_backward_weight_ok(g)) {
    winograd_backward_weight(g, x, gy, dw);
    if (dbias) bias_grad(g, gy, dbias);
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (igemm_backward_weight_ok(g)) return igemm_backward_weight(g, x, gy, dw, dbias);
  }
  if (const FoldPlan fp = fold_plan(g); fp.nb > 0) {
    backward_weight_folded(g, fp, x, gy, dw);
    if (dbias) bias_grad(g, gy, dbias);
    return;
  }
  const int nt = get_num_threads();
  const int64_t chunks = nt > 1 && g.N >= nt && !in_parallel_region() ? nt : 1;
  // chunk 0 accumulates into dw, chunk c > 0 into partial[(c - 1) * WN ...]
  std::unique_ptr<T[]> partial(new T[static_cast<size_t>((chunks - 1) * WN)]);
  auto run_chunk = [&](int64_t c) {
    T* acc = c == 0 ? dw : partial.get() + (c - 1) * WN;
    const int64_t n0 = g.N * c / chunks, n1 = g.N * (c + 1) / chunks;
    if (n0 == n1) std::fill(acc, acc + WN, T(0));
    const int64_t colsz = pw ? 0 : g.groups * K * L;
    std::unique_ptr<T[]> cols(new T[static_cast<size_t>(pw ? 0 : colsz + scratch_size(g))]);
    for (int64_t n = n0; n < n1; ++n) {
      const T* xn = x + n * g.C * g.H * g.W;
      const T* gyn = gy + n * g.O * L;
      if (!pw) im2col(g, xn, cols.get(), cols.get() + colsz);
      const T* src = pw ? xn : cols.get();
      // dw_g (Og, K) += gy_g (Og, L) @ cols_g^T (L, K)
      for (int64_t gi = 0; gi < g.groups; ++gi)
        gemm_strided(dtype_of<T>(), Og, K, L, Scalar(1.0), gyn + gi * Og * L, L, 1, src + gi * K * L, 1, L,
                     Scalar(n == n0 ? 0.0 : 1.0), acc + gi * Og * K, K, 1, chunks == 1);
    }
  };
  if (chunks == 1) {
    run_chunk(0);
  } else {
    parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c) run_chunk(c);
    });
    add_partials(dw, partial.get(), chunks - 1, WN);
  }
  if (dbias) bias_grad(g, gy, dbias);
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

template <class F>
void dispatch_float(DType dt, const F& f) {
  if (dt == DType::Float32) f(float());
  else f(double());
}

}  // namespace

void conv2d_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) {
  dispatch_float(x.dtype(), [&](auto v) {
    using T = decltype(v);
    if (conv_is_depthwise(g)) {  // its kernels have no relu epilogue: a pass over y
      depthwise_forward<T>(g, x.data<T>(), w.data<T>(), ptr_or_null<T>(bias), y.data<T>());
      if (g.relu) {
        T* yp = y.data<T>();
        const int64_t L = g.OH * g.OW;
        parallel_for(0, g.N * g.O, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, L)), [&](int64_t b, int64_t e) {
          for (int64_t i = b; i < e; ++i) bias_relu_into<T>(yp + i * L, yp + i * L, L, nullptr, true);
        });
      }
    }
    else if (f32_path_ok<T>(g, chan_forward_ok) && !winograd_ok(g))
      chan_forward(g, x.data<float>(), w.data<float>(), ptr_or_null<float>(bias), y.data<float>());
    else if (conv_is_small(g))
      small_conv_forward<T>(g, x.data<T>(), w.data<T>(), ptr_or_null<T>(bias), y.data<T>());
    else if (winograd_ok(g))
      winograd_forward<T>(g, x.data<T>(), w.data<T>(), ptr_or_null<T>(bias), y.data<T>());
    else if (f32_path_ok<T>(g, igemm_forward_ok))
      igemm_forward(g, x.data<float>(), w.data<float>(), ptr_or_null<float>(bias), y.data<float>());
    else
      forward_impl<T>(g, x.data<T>(), w.data<T>(), ptr_or_null<T>(bias), y.data<T>());
  });
}

void conv2d_backward_input(const ConvGeom& g, const Tensor& gy, const Tensor& w, const Tensor& dx) {
  dispatch_float(gy.dtype(), [&](auto v) {
    using T = decltype(v);
    if (conv_is_depthwise(g))
      depthwise_backward_input<T>(g, gy.data<T>(), w.data<T>(), dx.data<T>());
    else if (f32_path_ok<T>(g, chan_backward_input_ok) && !winograd_backward_input_ok(g))
      chan_backward_input(g, gy.data<float>(), w.data<float>(), dx.data<float>());
    else if (conv_is_small(g))
      small_conv_backward_input<T>(g, gy.data<T>(), w.data<T>(), dx.data<T>());
    else if (winograd_backward_input_ok(g))
      winograd_backward_input<T>(g, gy.data<T>(), w.data<T>(), dx.data<T>());
    else if (f32_path_ok<T>(g, igemm_backward_input_ok))
      igemm_backward_input(g, gy.data<float>(), w.data<float>(), dx.data<float>());
    else
      backward_input_impl<T>(g, gy.data<T>(), w.data<T>(), dx.data<T>());
  });
}

void conv2d_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& gy, const Tensor& dw,
                            const Tensor& dbias) {
  dispatch_float(x.dtype(), [&](auto v) {
    using T = decltype(v);
    T* db = dbias.defined() ? dbias.data<T>() : nullptr;
    if (conv_is_depthwise(g))
      depthwise_backward_weight<T>(g, x.data<T>(), gy.data<T>(), dw.data<T>(), db);
    else if (f32_path_ok<T>(g, chan_backward_weight_ok) && !winograd_backward_weight_ok(g))
      chan_backward_weight(g, x.data<float>(), gy.data<float>(), dw.data<float>(),
                           dbias.defined() ? dbias.data<float>() : nullptr);
    else if (conv_is_small(g))
      small_conv_backward_weight<T>(g, x.data<T>(), gy.data<T>(), dw.data<T>(), db);
    else
      backward_weight_impl<T>(g, x.data<T>(), gy.data<T>(), dw.data<T>(), db);
  });
}

// x (N, C, H, W) <-> cols (N, C*KH*KW, OH*OW), parallel over images.
void unfold(const ConvGeom& g, const Tensor& x, const Tensor& cols, bool fold) {
  dispatch_float(x.dtype(), [&](auto v) {
    using T = decltype(v);
    const int64_t xs = g.C * g.H * g.W, cs = g.C * g.KH * g.KW * g.OH * g.OW;
    T* xp = x.data<T>();
    T* cp = cols.data<T>();
    parallel_for(0, g.N, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, cs)), [&](int64_t b, int64_t e) {
      std::unique_ptr<T[]> scratch(new T[static_cast<size_t>(scratch_size(g))]);
      for (int64_t n = b; n < e; ++n) {
        if (fold) col2im(g, cp + n * cs, xp + n * xs, scratch.get());
        else im2col(g, xp + n * xs, cp + n * cs, scratch.get());
      }
    });
  });
}

}  // namespace ember::cpu
#pragma GCC diagnostic pop

// Direct convolution for few channels (stride 1, dilation 1, groups 1, small C * O, e.g. LeNet's
// 1->6 and 6->16 5x5 layers). With O = 6 or 16 the im2col + GEMM path wastes half of its 12-row
// GEMM tiles and spends most of its time copying cols; here every tap reads the image directly.
//
// "Wide" layout: the input planes are copied once per image into a zero-padded buffer P (Cin,
// Hp, Wp), Hp = OH + KH - 1, Wp = OW + KW - 1, and the output is computed at the flat positions
// j = oh * Wp + ow, ow < Wp, so tap (kh, kw) of channel c is the flat offset c*Hp*Wp + kh*Wp + kw:
//   out[o][j] = sum_{c, kh, kw} w[o][c][kh][kw] * P[c][j + kh*Wp + kw].
// Columns ow >= OW are junk (they read across the row end) and are dropped when the result is
// copied out, so the inner loop runs over whole 16-lane vectors with no masks and no branches
// (P has a zeroed tail for the last vector's over-read). Registers hold OB output channels x JB
// vectors of j: each x vector loaded feeds OB FMAs.
// - input gradient: the same correlation of gy, padded by (K - 1 - p), with the flipped,
//   transposed kernel w'[c][o][kh][kw] = w[o][c][KH-1-kh][KW-1-kw].
// - weight gradient: dw[o][c][kh][kw] = sum_j G[o][j] * P[c][j + kh*Wp + kw], G being gy in the
//   wide layout with zeros in the junk columns (so they add nothing); registers hold OB output
//   channels x KB taps of 16-lane partial sums, reduced across lanes once per thread.
// float32 under AVX-512 (per-function target attributes, runtime dispatch on cpu_isa()); float64
// and the base/AVX2 fallbacks run plain loops of the same layout that the compiler vectorises.
// Threads: forward and input gradient split the batch; the weight gradient gives each thread a
// batch chunk and its own partial dw, summed in chunk order at the end (as conv.cpp does).
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>

#include "conv_small.h"
#include "loops.h"
#include "parallel.h"

#define EMBER_SC_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

// GCC 12's avx512fintrin.h seeds masked builtins (_mm512_maskz_loadu_ps) with an undefined
// vector, which -Wmaybe-uninitialized flags once inlined (a false positive, as in gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ember::cpu {
namespace {

// One direct correlation: source planes (Cin, Hs, Ws), zero-padded by (pt, pl) on top/left into
// P (Cin, Hp, Wp), correlated with a KH x KW kernel into out (Oout, OH, OW).
struct Plan {
  int64_t Cin = 0, Oout = 0, KH = 0, KW = 0, Hs = 0, Ws = 0, pt = 0, pl = 0;
  int64_t OH = 0, OW = 0, Hp = 0, Wp = 0;
  int64_t ps = 0;  // plane stride of P, Hp * Wp
  int64_t Lr = 0;  // wide output length OH * Wp rounded up to whole vectors
  // P's size: the last vector of the last plane's last tap reads up to Cin*ps + KW + 14
  int64_t p_size() const { return Cin * ps + KW + 16; }
};

Plan make_plan(int64_t Cin, int64_t Oout, int64_t KH, int64_t KW, int64_t Hs, int64_t Ws, int64_t pt, int64_t pl,
               int64_t OH, int64_t OW) {
  Plan p;
  p.Cin = Cin, p.Oout = Oout, p.KH = KH, p.KW = KW, p.Hs = Hs, p.Ws = Ws, p.pt = pt, p.pl = pl;
  p.OH = OH, p.OW = OW, p.Hp = OH + KH - 1, p.Wp = OW + KW - 1;
  p.ps = p.Hp * p.Wp;
  p.Lr = (OH * p.Wp + 15) / 16 * 16;
  return p;
}

Plan forward_plan(const ConvGeom& g) { return make_plan(g.C, g.O, g.KH, g.KW, g.H, g.W, g.ph, g.pw, g.OH, g.OW); }
Plan input_grad_plan(const ConvGeom& g) {
  return make_plan(g.O, g.C, g.KH, g.KW, g.OH, g.OW, g.KH - 1 - g.ph, g.KW - 1 - g.pw, g.H, g.W);
}

// src (Cin, Hs, Ws) -> the inside of P; P's padding was zeroed once by the caller and is never
// written, so per image only the source rows are copied.
template <class T>
void fill_padded(const Plan& p, const T* src, T* P) {
  const int64_t i0 = std::max<int64_t>(0, p.pt), i1 = std::min(p.Hp, p.pt + p.Hs);
  const int64_t j0 = std::min(p.Wp, p.pl), j1 = std::max(j0, std::min(p.Wp, p.pl + p.Ws));
  for (int64_t c = 0; c < p.Cin; ++c)
    for (int64_t i = i0; i < i1; ++i) {
      T* r = P + c * p.ps + i * p.Wp;
      const T* s = src + (c * p.Hs + i - p.pt) * p.Ws - p.pl;
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) r[j] = s[j];
    }
}

// out (Oout, Lr) wide -> y (Oout, OH, OW), plus bias[o] when given
template <class T>
void copy_out(const Plan& p, const T* out, const T* bias, T* y) {
  for (int64_t o = 0; o < p.Oout; ++o) {
    const T b = bias ? bias[o] : T(0);
    for (int64_t oh = 0; oh < p.OH; ++oh) {
      const T* s = out + o * p.Lr + oh * p.Wp;
      T* d = y + (o * p.OH + oh) * p.OW;
#pragma omp simd
      for (int64_t ow = 0; ow < p.OW; ++ow) d[ow] = s[ow] + b;
    }
  }
}

// --- correlation, float32 AVX-512 --------------------------------------------------------------
// out[o0 + o][j0 .. j0 + 16*JB) for o < OB; w points at row o0 of the (Oout, Cin*KH*KW) kernel.
template <int OB, int JB>
EMBER_SC_AVX512 void corr_tile_avx512(const Plan& p, const float* P, const float* w, float* out, int64_t j0) {
  const int64_t wrow = p.Cin * p.KH * p.KW;
  __m512 acc[OB][JB];
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int b = 0; b < JB; ++b) acc[o][b] = _mm512_setzero_ps();
  for (int64_t c = 0; c < p.Cin; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh) {
      const float* src = P + c * p.ps + kh * p.Wp + j0;
      const float* wk = w + (c * p.KH + kh) * p.KW;
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        __m512 xv[JB];
#pragma GCC unroll 8
        for (int b = 0; b < JB; ++b) xv[b] = _mm512_loadu_ps(src + kw + 16 * b);
#pragma GCC unroll 8
        for (int o = 0; o < OB; ++o) {
          const __m512 wv = _mm512_set1_ps(wk[o * wrow + kw]);
#pragma GCC unroll 8
          for (int b = 0; b < JB; ++b) acc[o][b] = _mm512_fmadd_ps(wv, xv[b], acc[o][b]);
        }
      }
    }
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int b = 0; b < JB; ++b) _mm512_storeu_ps(out + o * p.Lr + j0 + 16 * b, acc[o][b]);
}

// OB accumulators per vector of j: JB vectors keep OB * JB + JB + 1 <= 32 zmm registers
template <int OB>
constexpr int corr_jb() {
  return OB <= 2 ? 6 : OB <= 6 ? 4 : 3;
}

template <int OB>
void corr_rows_avx512(const Plan& p, const float* P, const float* w, float* out) {
  constexpr int JB = corr_jb<OB>();
  int64_t j0 = 0;
  for (; j0 + 16 * JB <= p.Lr; j0 += 16 * JB) corr_tile_avx512<OB, JB>(p, P, w, out, j0);
  for (; j0 < p.Lr; j0 += 16) corr_tile_avx512<OB, 1>(p, P, w, out, j0);
}

void corr_avx512(const Plan& p, const float* P, const float* w, float* out) {
  // blocks of at most 8 channels, as even as possible (12 -> 6 + 6, not 8 + 4)
  const int64_t nb = (p.Oout + 7) / 8, ob = (p.Oout + nb - 1) / nb;
  const int64_t wrow = p.Cin * p.KH * p.KW;
  for (int64_t o0 = 0; o0 < p.Oout; o0 += ob) {
    const float* wo = w + o0 * wrow;
    float* oo = out + o0 * p.Lr;
    switch (std::min(ob, p.Oout - o0)) {
      case 1: corr_rows_avx512<1>(p, P, wo, oo); break;
      case 2: corr_rows_avx512<2>(p, P, wo, oo); break;
      case 3: corr_rows_avx512<3>(p, P, wo, oo); break;
      case 4: corr_rows_avx512<4>(p, P, wo, oo); break;
      case 5: corr_rows_avx512<5>(p, P, wo, oo); break;
      case 6: corr_rows_avx512<6>(p, P, wo, oo); break;
      case 7: corr_rows_avx512<7>(p, P, wo, oo); break;
      default: corr_rows_avx512<8>(p, P, wo, oo); break;
    }
  }
}

// --- correlation, plain loops (float64; float below AVX-512) ------------------------------------
// Four output rows per pass, so each loaded input element feeds four multiply-adds.
template <class T>
void corr_generic(const Plan& p, const T* P, const T* w, T* out) {
  const int64_t wrow = p.Cin * p.KH * p.KW, Lr = p.Lr;
  std::fill(out, out + p.Oout * Lr, T(0));
  int64_t o = 0;
  for (; o + 4 <= p.Oout; o += 4) {
    T* y0 = out + o * Lr;
    T *y1 = y0 + Lr, *y2 = y1 + Lr, *y3 = y2 + Lr;
    for (int64_t c = 0; c < p.Cin; ++c)
      for (int64_t kh = 0; kh < p.KH; ++kh)
        for (int64_t kw = 0; kw < p.KW; ++kw) {
          const int64_t k = (c * p.KH + kh) * p.KW + kw;
          const T w0 = w[o * wrow + k], w1 = w[(o + 1) * wrow + k], w2 = w[(o + 2) * wrow + k],
                  w3 = w[(o + 3) * wrow + k];
          const T* s = P + c * p.ps + kh * p.Wp + kw;
#pragma omp simd
          for (int64_t j = 0; j < Lr; ++j) {
            const T xv = s[j];
            y0[j] += w0 * xv, y1[j] += w1 * xv, y2[j] += w2 * xv, y3[j] += w3 * xv;
          }
        }
  }
  for (; o < p.Oout; ++o) {
    T* y0 = out + o * Lr;
    for (int64_t c = 0; c < p.Cin; ++c)
      for (int64_t kh = 0; kh < p.KH; ++kh)
        for (int64_t kw = 0; kw < p.KW; ++kw) {
          const T w0 = w[o * wrow + (c * p.KH + kh) * p.KW + kw];
          const T* s = P + c * p.ps + kh * p.Wp + kw;
#pragma omp simd
          for (int64_t j = 0; j < Lr; ++j) y0[j] += w0 * s[j];
        }
  }
}

template <class T>
void correlate(const Plan& p, const T* P, const T* w, T* out, Isa isa) {
  if constexpr (std::is_same_v<T, float>) {
    if (isa == Isa::Avx512) return corr_avx512(p, P, w, out);
  }
  corr_generic(p, P, w, out);
}

// src (N, Cin, Hs, Ws) -> dst (N, Oout, OH, OW) through the plan, parallel over images.
template <class T>
void correlate_batch(const Plan& p, int64_t N, const T* src, const T* w, const T* bias, T* dst) {
  if (N == 0 || p.OH == 0 || p.OW == 0) return;
  const Isa isa = cpu_isa();
  const int64_t per_image = p.Oout * p.Lr * p.Cin * p.KH * p.KW;
  parallel_for(0, N, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, per_image)), [&](int64_t b, int64_t e) {
    std::unique_ptr<T[]> P(new T[static_cast<size_t>(p.p_size())]());
    std::unique_ptr<T[]> out(new T[static_cast<size_t>(p.Oout * p.Lr)]);
    for (int64_t n = b; n < e; ++n) {
      fill_padded(p, src + n * p.Cin * p.Hs * p.Ws, P.get());
      correlate(p, P.get(), w, out.get(), isa);
      copy_out(p, out.get(), bias, dst + n * p.Oout * p.OH * p.OW);
    }
  });
}

// --- weight gradient ----------------------------------------------------------------------------
// Per image: P (C, Hp, Wp) as in the forward, G (O, Lr) = gy in the wide layout, zero elsewhere.
template <class T>
void fill_wide_grad(const Plan& p, const T* gy, T* G) {
  for (int64_t o = 0; o < p.Oout; ++o)
    for (int64_t oh = 0; oh < p.OH; ++oh) {
      const T* s = gy + (o * p.OH + oh) * p.OW;
      T* d = G + o * p.Lr + oh * p.Wp;
#pragma omp simd
      for (int64_t ow = 0; ow < p.OW; ++ow) d[ow] = s[ow];
    }
}

// lanes[((o*C + c)*KH + kh)*KW + kw][16] += 16-lane partial sums over j and over the nimg images
// of a sub-batch (P and G hold one image every ipx / igx elements) for o in [o0, o0 + OB),
// kw in [kw0, kw0 + KB), one (c, kh).
template <int OB, int KB>
EMBER_SC_AVX512 void dw_tile_avx512(const Plan& p, const float* P, const float* G, int64_t nimg, int64_t ipx,
                                    int64_t igx, int64_t o0, int64_t c, int64_t kh, int64_t kw0, float* lanes) {
  __m512 acc[OB][KB];
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int k = 0; k < KB; ++k) acc[o][k] = _mm512_setzero_ps();
  for (int64_t s = 0; s < nimg; ++s) {
    const float* src = P + s * ipx + c * p.ps + kh * p.Wp + kw0;
    const float* g = G + s * igx + o0 * p.Lr;
    for (int64_t j = 0; j < p.Lr; j += 16) {
      __m512 gv[OB];
#pragma GCC unroll 8
      for (int o = 0; o < OB; ++o) gv[o] = _mm512_loadu_ps(g + o * p.Lr + j);
#pragma GCC unroll 8
      for (int k = 0; k < KB; ++k) {
        const __m512 xv = _mm512_loadu_ps(src + j + k);
#pragma GCC unroll 8
        for (int o = 0; o < OB; ++o) acc[o][k] = _mm512_fmadd_ps(gv[o], xv, acc[o][k]);
      }
    }
  }
  const int64_t C = p.Cin;
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int k = 0; k < KB; ++k) {
      float* l = lanes + ((((o0 + o) * C + c) * p.KH + kh) * p.KW + kw0 + k) * 16;
      _mm512_storeu_ps(l, _mm512_add_ps(_mm512_loadu_ps(l), acc[o][k]));
    }
}

// Weight-gradient sub-batches: enough images for the register partial sums to run over about
// kDwBatchVectors vectors of j before they are flushed to memory, but P and G within kDwBatchBytes
// (measured on LeNet's conv2: one image per flush is 1.4x slower; past L2-sized batches, slower
// again; conv1, whose single image already runs 56 vectors, is fastest with one image, in L1).
constexpr int64_t kDwBatchVectors = 48, kDwBatchBytes = 128 * 1024;

// the largest tap block up to 5 that divides KW, and the output channel block that keeps
// OB * KB accumulators + OB gradient vectors + 1 input vector in 32 registers
int dw_kb(int64_t KW) {
  for (int kb = 5; kb > 1; --kb)
    if (KW % kb == 0) return kb;
  return 1;
}

template <int KB>
void dw_batch_kb(const Plan& p, const float* P, const float* G, int64_t nimg, int64_t ipx, int64_t igx,
                 float* lanes) {
  constexpr int64_t obmax = std::min(8, 30 / (KB + 1));
  const int64_t nb = (p.Oout + obmax - 1) / obmax, ob = (p.Oout + nb - 1) / nb;
  for (int64_t o0 = 0; o0 < p.Oout; o0 += ob)
    for (int64_t c = 0; c < p.Cin; ++c)
      for (int64_t kh = 0; kh < p.KH; ++kh)
        for (int64_t kw0 = 0; kw0 < p.KW; kw0 += KB) {
          switch (std::min(ob, p.Oout - o0)) {
#define EMBER_SC_CASE(n)                                                          \
  case n: {                                                                       \
    if constexpr (n <= obmax) dw_tile_avx512<n, KB>(p, P, G, nimg, ipx, igx, o0, c, kh, kw0, lanes); \
  } break;
            EMBER_SC_CASE(1)
            EMBER_SC_CASE(2)
            EMBER_SC_CASE(3)
            EMBER_SC_CASE(4)
            EMBER_SC_CASE(5)
            EMBER_SC_CASE(6)
            EMBER_SC_CASE(7)
            EMBER_SC_CASE(8)
#undef EMBER_SC_CASE
            default: break;
          }
        }
}

void dw_batch_avx512(const Plan& p, const float* P, const float* G, int64_t nimg, int64_t ipx, int64_t igx,
                     float* lanes) {
  switch (dw_kb(p.KW)) {
    case 5: return dw_batch_kb<5>(p, P, G, nimg, ipx, igx, lanes);
    case 4: return dw_batch_kb<4>(p, P, G, nimg, ipx, igx, lanes);
    case 3: return dw_batch_kb<3>(p, P, G, nimg, ipx, igx, lanes);
    case 2: return dw_batch_kb<2>(p, P, G, nimg, ipx, igx, lanes);
    default: return dw_batch_kb<1>(p, P, G, nimg, ipx, igx, lanes);
  }
}

template <class T>
void dw_image_generic(const Plan& p, const T* P, const T* G, T* acc) {
  for (int64_t o = 0; o < p.Oout; ++o)
    for (int64_t c = 0; c < p.Cin; ++c)
      for (int64_t kh = 0; kh < p.KH; ++kh)
        for (int64_t kw = 0; kw < p.KW; ++kw) {
          const T* g = G + o * p.Lr;
          const T* s = P + c * p.ps + kh * p.Wp + kw;
          T sum = 0;
#pragma omp simd reduction(+ : sum)
          for (int64_t j = 0; j < p.Lr; ++j) sum += g[j] * s[j];
          acc[((o * p.Cin + c) * p.KH + kh) * p.KW + kw] += sum;
        }
}

// images [n0, n1) -> acc (O, C, KH, KW), overwritten. Images go in sub-batches whose P and G
// stay in cache, so the register partial sums run over several images before they are flushed.
template <class T>
void dw_chunk(const Plan& p, const T* x, const T* gy, int64_t n0, int64_t n1, T* acc, Isa isa) {
  const int64_t WN = p.Oout * p.Cin * p.KH * p.KW;
  const int64_t ipx = p.p_size(), igx = p.Oout * p.Lr;
  const int64_t sb = std::max<int64_t>(
      1, std::min({n1 - n0, (16 * kDwBatchVectors + p.Lr - 1) / p.Lr,
                   kDwBatchBytes / static_cast<int64_t>(sizeof(T) * (ipx + igx))}));
  std::unique_ptr<T[]> P(new T[static_cast<size_t>(sb * ipx)]());
  std::unique_ptr<T[]> G(new T[static_cast<size_t>(sb * igx)]());
  const bool avx512 = std::is_same_v<T, float> && isa == Isa::Avx512;
  std::unique_ptr<T[]> lanes(new T[static_cast<size_t>(avx512 ? WN * 16 : 0)]());
  std::fill(acc, acc + WN, T(0));
  for (int64_t n = n0; n < n1; n += sb) {
    const int64_t nimg = std::min(sb, n1 - n);
    for (int64_t s = 0; s < nimg; ++s) {
      fill_padded(p, x + (n + s) * p.Cin * p.Hs * p.Ws, P.get() + s * ipx);
      fill_wide_grad(p, gy + (n + s) * p.Oout * p.OH * p.OW, G.get() + s * igx);
    }
    if constexpr (std::is_same_v<T, float>) {
      if (avx512) {
        dw_batch_avx512(p, P.get(), G.get(), nimg, ipx, igx, lanes.get());
        continue;
      }
    }
    for (int64_t s = 0; s < nimg; ++s) dw_image_generic(p, P.get() + s * ipx, G.get() + s * igx, acc);
  }
  if (avx512)
    for (int64_t i = 0; i < WN; ++i) {
      T s = 0;
      for (int l = 0; l < 16; ++l) s += lanes[i * 16 + l];
      acc[i] = s;
    }
}

template <class T>
void backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias) {
  const Plan p = forward_plan(g);
  const int64_t WN = g.O * g.C * g.KH * g.KW, L = g.OH * g.OW;
  const Isa isa = cpu_isa();
  const int nt = get_num_threads();
  const int64_t chunks = nt > 1 && g.N >= nt && !in_parallel_region() ? nt : 1;
  if (L == 0 || g.N == 0) {
    std::fill(dw, dw + WN, T(0));
  } else if (chunks == 1) {
    dw_chunk(p, x, gy, 0, g.N, dw, isa);
  } else {
    // chunk 0 writes dw, chunk c > 0 partial[(c - 1) * WN ...]; summed in chunk order
    std::unique_ptr<T[]> partial(new T[static_cast<size_t>((chunks - 1) * WN)]);
    parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c)
        dw_chunk(p, x, gy, g.N * c / chunks, g.N * (c + 1) / chunks, c == 0 ? dw : partial.get() + (c - 1) * WN,
                 isa);
    });
    for (int64_t c = 1; c < chunks; ++c) {
      const T* q = partial.get() + (c - 1) * WN;
#pragma omp simd
      for (int64_t i = 0; i < WN; ++i) dw[i] += q[i];
    }
  }
  if (dbias)
    for (int64_t o = 0; o < g.O; ++o) {
      T s = 0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* q = gy + (n * g.O + o) * L;
#pragma omp simd reduction(+ : s)
        for (int64_t l = 0; l < L; ++l) s += q[l];
      }
      dbias[o] = s;
    }
}

// --- input gradient by rows (float32 AVX-512) ----------------------------------------------------
// The correlation above reads gy padded by K - 1 - p on every side: for LeNet's conv2 (10 x 10
// gradient, 5 x 5 kernel) 60% of its multiply-adds hit that padding. Here each dx row ih instead
// takes only the gy rows oh = ih + ph - kh that exist, vectorised along ow (masked past OW):
//   A[c][kw][ow] = sum_{o, kh valid} w[o][c][kh][kw] * gy[o][oh][ow],
//   dx[c][ih][ow + kw - pw] += A[c][kw][ow],
// with CB channels x KW taps of A in registers, so each gy vector loaded feeds CB * KW FMAs; the
// shifted sums go through a row buffer R (C, Wr), R[c][ow + kw] = dx[c][ih][ow + kw - pw].
struct RowPlan {
  int64_t nv = 0;  // vectors per gy row
  int64_t Wr = 0;  // row buffer width, 16 * (nv + 1)
};
RowPlan row_plan(const ConvGeom& g) {
  RowPlan r;
  r.nv = (g.OW + 15) / 16;
  r.Wr = 16 * (r.nv + 1);
  return r;
}

// Multiply-adds (in vectors) of the two ways, per image: rows only where they pay clearly.
bool dx_by_rows(const ConvGeom& g) {
  if (g.KW > 7) return false;
  int64_t rows = 0;  // (ih, kh) pairs with an existing gy row
  for (int64_t ih = 0; ih < g.H; ++ih)
    rows += std::max<int64_t>(0, std::min(g.KH, ih + g.ph + 1) - std::max<int64_t>(0, ih + g.ph - g.OH + 1));
  const int64_t by_rows = rows * row_plan(g).nv * g.O * g.KW * g.C;
  const int64_t by_corr = g.C * ((g.H * (g.W + g.KW - 1) + 15) / 16) * g.O * g.KH * g.KW;
  return by_rows * 5 < by_corr * 4;
}

// wb: the block's weights packed (O, KH, CB, KW), so the taps of one (o, kh) sit at fixed offsets
template <int CB, int KW>
EMBER_SC_AVX512 void dx_rows_tile_avx512(const ConvGeom& g, const RowPlan& rp, const float* gyn, const float* wb,
                                         int64_t ih, int64_t kh0, int64_t kh1, float* R) {
  const int64_t OW = g.OW, nkh = kh1 - kh0, gos = g.OH * g.OW, wos = g.KH * CB * KW, nO = g.O;
  for (int64_t v = 0; v < rp.nv; ++v) {
    const int64_t ow0 = 16 * v;
    const __mmask16 m = static_cast<__mmask16>(OW - ow0 >= 16 ? 0xFFFF : (1u << (OW - ow0)) - 1);
    __m512 acc[CB][KW];
#pragma GCC unroll 8
    for (int c = 0; c < CB; ++c)
#pragma GCC unroll 8
      for (int k = 0; k < KW; ++k) acc[c][k] = _mm512_setzero_ps();
    const float* gp0 = gyn + (ih + g.ph - kh0) * OW + ow0;
    const float* wp0 = wb + kh0 * CB * KW;
    for (int64_t o = 0; o < nO; ++o) {
      const float* gp = gp0 + o * gos;
      const float* wp = wp0 + o * wos;
      for (int64_t t = 0; t < nkh; ++t, gp -= OW, wp += CB * KW) {
        const __m512 gv = _mm512_maskz_loadu_ps(m, gp);
#pragma GCC unroll 8
        for (int c = 0; c < CB; ++c)
#pragma GCC unroll 8
          for (int k = 0; k < KW; ++k) acc[c][k] = _mm512_fmadd_ps(_mm512_set1_ps(wp[c * KW + k]), gv, acc[c][k]);
      }
    }
    // sum_k acc[c][k] shifted up by k lanes, as 32 lanes (lo, hi), so R takes two whole-vector
    // adds per channel: overlapping shifted stores would defeat store forwarding
    const __m512i zero = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int c = 0; c < CB; ++c) {
      __m512 lo = acc[c][0], hi = _mm512_setzero_ps();
#pragma GCC unroll 8
      for (int k = 1; k < KW; ++k) {
        const __m512i a = _mm512_castps_si512(acc[c][k]);
        lo = _mm512_add_ps(lo, _mm512_castsi512_ps(_mm512_alignr_epi32(a, zero, (16 - k) & 15)));
        hi = _mm512_add_ps(hi, _mm512_castsi512_ps(_mm512_alignr_epi32(zero, a, (16 - k) & 15)));
      }
      float* r = R + c * rp.Wr + ow0;
      _mm512_storeu_ps(r, _mm512_add_ps(_mm512_loadu_ps(r), lo));
      _mm512_storeu_ps(r + 16, _mm512_add_ps(_mm512_loadu_ps(r + 16), hi));
    }
  }
}

// channel block: CB * KW accumulators + 1 gradient vector + 1 broadcast within 32 registers
constexpr int64_t dx_rows_cbmax(int64_t KW) { return std::min<int64_t>(8, 26 / KW); }
int64_t dx_rows_cb(const ConvGeom& g) {
  const int64_t cbmax = dx_rows_cbmax(g.KW), nb = (g.C + cbmax - 1) / cbmax;
  return (g.C + nb - 1) / nb;
}

template <int KW>
void dx_rows_image_avx512(const ConvGeom& g, const RowPlan& rp, const float* gyn, const float* wpk, float* R,
                          float* dxn) {
  const int64_t cb = dx_rows_cb(g);
  for (int64_t ih = 0; ih < g.H; ++ih) {
    const int64_t kh0 = std::max<int64_t>(0, ih + g.ph - g.OH + 1), kh1 = std::min(g.KH, ih + g.ph + 1);
    std::fill(R, R + g.C * rp.Wr, 0.f);
    for (int64_t c0 = 0; c0 < g.C; c0 += cb) {
      float* Rc = R + c0 * rp.Wr;
      switch (std::min(cb, g.C - c0)) {
#define EMBER_SC_CASE(n)                                                                  \
  case n: {                                                                               \
    if constexpr (n <= dx_rows_cbmax(KW))                                                 \
      dx_rows_tile_avx512<n, KW>(g, rp, gyn, wpk + c0 * g.O * g.KH * KW, ih, kh0, kh1, Rc); \
  } break;
        EMBER_SC_CASE(1)
        EMBER_SC_CASE(2)
        EMBER_SC_CASE(3)
        EMBER_SC_CASE(4)
        EMBER_SC_CASE(5)
        EMBER_SC_CASE(6)
        EMBER_SC_CASE(7)
        EMBER_SC_CASE(8)
#undef EMBER_SC_CASE
        default: break;
      }
    }
    for (int64_t c = 0; c < g.C; ++c) {
      const float* r = R + c * rp.Wr + g.pw;
      float* d = dxn + (c * g.H + ih) * g.W;
#pragma omp simd
      for (int64_t iw = 0; iw < g.W; ++iw) d[iw] = r[iw];
    }
  }
}

void dx_rows_avx512(const ConvGeom& g, const float* gy, const float* w, float* dx) {
  const RowPlan rp = row_plan(g);
  // w (O, C, KH, KW) -> per channel block of cb (the last may be narrower): (O, KH, cb, KW)
  const int64_t cb = dx_rows_cb(g);
  std::unique_ptr<float[]> wpk(new float[static_cast<size_t>(g.O * g.C * g.KH * g.KW)]);
  for (int64_t c0 = 0; c0 < g.C; c0 += cb) {
    const int64_t n = std::min(cb, g.C - c0);
    float* blk = wpk.get() + c0 * g.O * g.KH * g.KW;
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t c = 0; c < n; ++c)
          for (int64_t kw = 0; kw < g.KW; ++kw)
            blk[((o * g.KH + kh) * n + c) * g.KW + kw] = w[((o * g.C + c0 + c) * g.KH + kh) * g.KW + kw];
  }
  parallel_for(0, g.N, 1, [&](int64_t b, int64_t e) {
    std::unique_ptr<float[]> R(new float[static_cast<size_t>(g.C * rp.Wr)]);
    for (int64_t n = b; n < e; ++n) {
      const float* gyn = gy + n * g.O * g.OH * g.OW;
      float* dxn = dx + n * g.C * g.H * g.W;
      switch (g.KW) {
        case 1: dx_rows_image_avx512<1>(g, rp, gyn, wpk.get(), R.get(), dxn); break;
        case 2: dx_rows_image_avx512<2>(g, rp, gyn, wpk.get(), R.get(), dxn); break;
        case 3: dx_rows_image_avx512<3>(g, rp, gyn, wpk.get(), R.get(), dxn); break;
        case 4: dx_rows_image_avx512<4>(g, rp, gyn, wpk.get(), R.get(), dxn); break;
        case 5: dx_rows_image_avx512<5>(g, rp, gyn, wpk.get(), R.get(), dxn); break;
        case 6: dx_rows_image_avx512<6>(g, rp, gyn, wpk.get(), R.get(), dxn); break;
        default: dx_rows_image_avx512<7>(g, rp, gyn, wpk.get(), R.get(), dxn); break;
      }
    }
  });
}

}  // namespace

// Routing, measured against the im2col + GEMM path (fwd + both gradients, float32, 1 thread, batch
// 32, C in 1..128, O in 4..32, k 3/5, H 8..96): the direct kernels win by 1.4-5x for O <= 8 at
// every C, by 1.15-2.1x for O = 16 when C >= 6, only by 0-30% for O = 16 with C < 6, and tie or
// lose from O = 24 on, where the GEMM's 12-row tiles stop wasting work.
bool conv_is_small(const ConvGeom& g) {
  static const int force = [] {  // TEMP: EMBER_CONV_SMALL=0|1 for measuring
    const char* e = std::getenv("EMBER_CONV_SMALL");
    return e ? std::atoi(e) : -1;
  }();
  if (force == 0) return false;
  if (g.groups != 1 || g.sh != 1 || g.sw != 1 || g.dh != 1 || g.dw != 1) return false;
  // the input gradient pads gy by K - 1 - p
  if (g.ph >= g.KH || g.pw >= g.KW || g.OH <= 0 || g.OW <= 0) return false;
  return force == 1 || (g.C <= 256 && (g.O <= 8 || (g.O <= 16 && g.C >= 6)));
}

template <class T>
void small_conv_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  correlate_batch(forward_plan(g), g.N, x, w, bias, y);
}

template <class T>
void small_conv_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  if constexpr (std::is_same_v<T, float>) {
    static const bool rows_off = std::getenv("EMBER_SC_NOROWS") != nullptr;  // TEMP
    if (!rows_off && cpu_isa() == Isa::Avx512 && g.N > 0 && dx_by_rows(g)) return dx_rows_avx512(g, gy, w, dx);
  }
  // w (O, C, KH, KW) -> w' (C, O, KH, KW) flipped in both spatial dims
  const int64_t KK = g.KH * g.KW;
  std::unique_ptr<T[]> wt(new T[static_cast<size_t>(g.O * g.C * KK)]);
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t k = 0; k < KK; ++k) wt[(c * g.O + o) * KK + KK - 1 - k] = w[(o * g.C + c) * KK + k];
  correlate_batch(input_grad_plan(g), g.N, gy, wt.get(), static_cast<const T*>(nullptr), dx);
}

template <class T>
void small_conv_backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias) {
  backward_weight(g, x, gy, dw, dbias);
}

#define EMBER_SC_INSTANTIATE(T)                                                                    \
  template void small_conv_forward<T>(const ConvGeom&, const T*, const T*, const T*, T*);         \
  template void small_conv_backward_input<T>(const ConvGeom&, const T*, const T*, T*);            \
  template void small_conv_backward_weight<T>(const ConvGeom&, const T*, const T*, T*, T*);
EMBER_SC_INSTANTIATE(float)
EMBER_SC_INSTANTIATE(double)
#undef EMBER_SC_INSTANTIATE

}  // namespace ember::cpu

#pragma GCC diagnostic pop

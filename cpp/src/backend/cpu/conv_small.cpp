// Direct convolution for few output channels (stride 1, dilation 1, groups 1; e.g. LeNet's 1->6
// and 6->16 5x5 layers). With O = 6 or 16 the im2col + GEMM path wastes half of its 12-row GEMM
// tiles and spends most of its time copying cols; here every tap reads the image directly.
//
// "Wide" layout: the input planes are copied once per image into a zero-padded buffer P (Cin,
// Hp, Wp), Hp = OH + KH - 1, Wp = OW + KW - 1, and the output is computed at the flat positions
// j = oh * Wp + ow, ow < Wp, so tap (kh, kw) of channel c is the flat offset c*Hp*Wp + kh*Wp + kw:
//   out[o][j] = sum_{c, kh, kw} w[o][c][kh][kw] * P[c][j + kh*Wp + kw].
// Columns ow >= OW are junk (they read across the row end) and are dropped when the result is
// copied out, so the inner loop runs over whole vectors with no masks and no branches (P has a
// zeroed tail for the last vector's over-read). Registers hold OB output channels x JB vectors
// of j: each x vector loaded feeds OB FMAs.
// - input gradient: the same correlation of gy, padded by (K - 1 - p), with the flipped,
//   transposed kernel w'[c][o][kh][kw] = w[o][c][KH-1-kh][KW-1-kw]; or, where most of that
//   padding would be multiplied (small gy, e.g. LeNet's conv2), by rows (dx_rows_* below).
// - weight gradient: dw[o][c][kh][kw] = sum_j G[o][j] * P[c][j + kh*Wp + kw], G being gy in the
//   wide layout with zeros in the junk columns (so they add nothing); registers hold OB output
//   channels x KB taps of per-lane partial sums, reduced across lanes once per thread.
// AVX-512 only (per-function target attributes; float32 and float64 through the Vec traits):
// conv_is_small() routes here only when cpu_isa() is AVX-512. Plain-loop versions of these
// kernels, tried as the fallback below AVX-512, were 3-4x slower than the GEMM path, which has
// AVX2 micro-kernels, so capped ISAs keep the GEMM path.
// Threads: forward and input gradient split the batch; the weight gradient gives each thread a
// batch chunk and its own partial dw, summed in chunk order at the end (as conv.cpp does).
#include <immintrin.h>

#include <algorithm>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "conv_small.h"
#include "conv_util.h"
#include "loops.h"
#include "parallel.h"

#define EMBER_SC_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

// GCC 12's avx512fintrin.h seeds masked builtins (_mm512_maskz_loadu_ps) with an undefined
// vector, which -Wmaybe-uninitialized flags once inlined (a false positive, as in gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ember::cpu {
namespace {

// One 512-bit vector of T
template <class T>
struct Vec;
template <>
struct Vec<float> {
  using R = __m512;
  using M = __mmask16;
  static constexpr int L = 16;
  EMBER_SC_AVX512 static R zero() { return _mm512_setzero_ps(); }
  EMBER_SC_AVX512 static R load(const float* p) { return _mm512_loadu_ps(p); }
  EMBER_SC_AVX512 static R loadz(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  EMBER_SC_AVX512 static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  EMBER_SC_AVX512 static R set1(float x) { return _mm512_set1_ps(x); }
  EMBER_SC_AVX512 static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  EMBER_SC_AVX512 static R add(R a, R b) { return _mm512_add_ps(a, b); }
  // a moved up by k lanes (0 < k < L) across a 2L-lane window: low half, high half
  template <int K>
  EMBER_SC_AVX512 static R up_lo(R a) {
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(a), _mm512_setzero_si512(), L - K));
  }
  template <int K>
  EMBER_SC_AVX512 static R up_hi(R a) {
    return _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_setzero_si512(), _mm512_castps_si512(a), L - K));
  }
};
template <>
struct Vec<double> {
  using R = __m512d;
  using M = __mmask8;
  static constexpr int L = 8;
  EMBER_SC_AVX512 static R zero() { return _mm512_setzero_pd(); }
  EMBER_SC_AVX512 static R load(const double* p) { return _mm512_loadu_pd(p); }
  EMBER_SC_AVX512 static R loadz(M m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  EMBER_SC_AVX512 static void store(double* p, R v) { _mm512_storeu_pd(p, v); }
  EMBER_SC_AVX512 static R set1(double x) { return _mm512_set1_pd(x); }
  EMBER_SC_AVX512 static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  EMBER_SC_AVX512 static R add(R a, R b) { return _mm512_add_pd(a, b); }
  template <int K>
  EMBER_SC_AVX512 static R up_lo(R a) {
    return _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_castpd_si512(a), _mm512_setzero_si512(), L - K));
  }
  template <int K>
  EMBER_SC_AVX512 static R up_hi(R a) {
    return _mm512_castsi512_pd(_mm512_alignr_epi64(_mm512_setzero_si512(), _mm512_castpd_si512(a), L - K));
  }
};

// One direct correlation: source planes (Cin, Hs, Ws), zero-padded by (pt, pl) on top/left into
// P (Cin, Hp, Wp), correlated with a KH x KW kernel into out (Oout, OH, OW).
struct Plan {
  int64_t Cin = 0, Oout = 0, KH = 0, KW = 0, Hs = 0, Ws = 0, pt = 0, pl = 0;
  int64_t OH = 0, OW = 0, Hp = 0, Wp = 0;
  int64_t ps = 0;  // plane stride of P, Hp * Wp
  int64_t Lr = 0;  // wide output length OH * Wp rounded up to whole vectors
  int64_t lanes = 0;
  bool relu = false;  // the forward's epilogue clamps at 0 (ConvGeom::relu)
  // P's size: the last vector of the last plane's last tap reads up to Cin*ps + KW + lanes - 2
  int64_t p_size() const { return Cin * ps + KW + lanes; }
};

template <class T>
Plan make_plan(int64_t Cin, int64_t Oout, int64_t KH, int64_t KW, int64_t Hs, int64_t Ws, int64_t pt, int64_t pl,
               int64_t OH, int64_t OW) {
  Plan p;
  p.Cin = Cin, p.Oout = Oout, p.KH = KH, p.KW = KW, p.Hs = Hs, p.Ws = Ws, p.pt = pt, p.pl = pl;
  p.OH = OH, p.OW = OW, p.Hp = OH + KH - 1, p.Wp = OW + KW - 1;
  p.ps = p.Hp * p.Wp;
  p.lanes = Vec<T>::L;
  p.Lr = (OH * p.Wp + p.lanes - 1) / p.lanes * p.lanes;
  return p;
}

template <class T>
Plan forward_plan(const ConvGeom& g) {
  Plan p = make_plan<T>(g.C, g.O, g.KH, g.KW, g.H, g.W, g.ph, g.pw, g.OH, g.OW);
  p.relu = g.relu;
  return p;
}
template <class T>
Plan input_grad_plan(const ConvGeom& g) {
  return make_plan<T>(g.O, g.C, g.KH, g.KW, g.OH, g.OW, g.KH - 1 - g.ph, g.KW - 1 - g.pw, g.H, g.W);
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

// out (Oout, Lr) wide -> y (Oout, OH, OW), plus bias[o] when given, then relu when the plan says
template <class T>
void copy_out(const Plan& p, const T* out, const T* bias, T* y) {
  using conv_detail::relu_of;
  for (int64_t o = 0; o < p.Oout; ++o) {
    const T b = bias ? bias[o] : T(0);
    for (int64_t oh = 0; oh < p.OH; ++oh) {
      const T* s = out + o * p.Lr + oh * p.Wp;
      T* d = y + (o * p.OH + oh) * p.OW;
      if (p.relu) {  // relu of exactly what the unfused path stores
#pragma omp simd
        for (int64_t ow = 0; ow < p.OW; ++ow) d[ow] = relu_of(s[ow] + b);
      } else {
#pragma omp simd
        for (int64_t ow = 0; ow < p.OW; ++ow) d[ow] = s[ow] + b;
      }
    }
  }
}

// --- correlation --------------------------------------------------------------------------------
// out[o][j0 .. j0 + JB*L) for o < OB; w points at the block's first row of the (Oout, Cin*KH*KW)
// kernel.
template <class T, int OB, int JB>
EMBER_SC_AVX512 void corr_tile(const Plan& p, const T* P, const T* w, T* out, int64_t j0) {
  using V = Vec<T>;
  constexpr int L = V::L;
  const int64_t wrow = p.Cin * p.KH * p.KW;
  typename V::R acc[OB][JB];
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int b = 0; b < JB; ++b) acc[o][b] = V::zero();
  for (int64_t c = 0; c < p.Cin; ++c)
    for (int64_t kh = 0; kh < p.KH; ++kh) {
      const T* src = P + c * p.ps + kh * p.Wp + j0;
      const T* wk = w + (c * p.KH + kh) * p.KW;
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        typename V::R xv[JB];
#pragma GCC unroll 8
        for (int b = 0; b < JB; ++b) xv[b] = V::load(src + kw + L * b);
#pragma GCC unroll 8
        for (int o = 0; o < OB; ++o) {
          const typename V::R wv = V::set1(wk[o * wrow + kw]);
#pragma GCC unroll 8
          for (int b = 0; b < JB; ++b) acc[o][b] = V::fma(wv, xv[b], acc[o][b]);
        }
      }
    }
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int b = 0; b < JB; ++b) V::store(out + o * p.Lr + j0 + L * b, acc[o][b]);
}

// OB accumulators per vector of j: JB vectors keep OB * JB + JB + 1 <= 32 zmm registers
template <int OB>
constexpr int corr_jb() {
  return OB <= 2 ? 6 : OB <= 6 ? 4 : 3;
}

template <class T, int OB>
void corr_rows(const Plan& p, const T* P, const T* w, T* out) {
  constexpr int JB = corr_jb<OB>(), L = Vec<T>::L;
  int64_t j0 = 0;
  for (; j0 + L * JB <= p.Lr; j0 += L * JB) corr_tile<T, OB, JB>(p, P, w, out, j0);
  for (; j0 < p.Lr; j0 += L) corr_tile<T, OB, 1>(p, P, w, out, j0);
}

template <class T>
void correlate(const Plan& p, const T* P, const T* w, T* out) {
  // blocks of at most 8 channels, as even as possible (12 -> 6 + 6, not 8 + 4)
  const int64_t nb = (p.Oout + 7) / 8, ob = (p.Oout + nb - 1) / nb;
  const int64_t wrow = p.Cin * p.KH * p.KW;
  for (int64_t o0 = 0; o0 < p.Oout; o0 += ob) {
    const T* wo = w + o0 * wrow;
    T* oo = out + o0 * p.Lr;
    switch (std::min(ob, p.Oout - o0)) {
      case 1: corr_rows<T, 1>(p, P, wo, oo); break;
      case 2: corr_rows<T, 2>(p, P, wo, oo); break;
      case 3: corr_rows<T, 3>(p, P, wo, oo); break;
      case 4: corr_rows<T, 4>(p, P, wo, oo); break;
      case 5: corr_rows<T, 5>(p, P, wo, oo); break;
      case 6: corr_rows<T, 6>(p, P, wo, oo); break;
      case 7: corr_rows<T, 7>(p, P, wo, oo); break;
      default: corr_rows<T, 8>(p, P, wo, oo); break;
    }
  }
}

// src (N, Cin, Hs, Ws) -> dst (N, Oout, OH, OW) through the plan, parallel over images.
template <class T>
void correlate_batch(const Plan& p, int64_t N, const T* src, const T* w, const T* bias, T* dst) {
  if (N == 0 || p.OH == 0 || p.OW == 0) return;
  ThreadScratch<T> padded(p.p_size(), true), wide(p.Oout * p.Lr);
  parallel_for_pieces(0, N, 1, kImagePieces, [&](int64_t b, int64_t e, int t) {
    T* P = padded(t);
    T* out = wide(t);
    for (int64_t n = b; n < e; ++n) {
      fill_padded(p, src + n * p.Cin * p.Hs * p.Ws, P);
      correlate(p, P, w, out);
      copy_out(p, out, bias, dst + n * p.Oout * p.OH * p.OW);
    }
  });
}

// --- weight gradient ----------------------------------------------------------------------------
// Per image: P (C, Hp, Wp) as in the forward, G (O, Lr) = gy in the wide layout, zero elsewhere;
// bsum[o] += the image's gy[o] (the bias gradient, row by row), when bsum is not null.
template <class T>
void fill_wide_grad(const Plan& p, const T* gy, T* G, T* bsum) {
  for (int64_t o = 0; o < p.Oout; ++o) {
    T b = 0;
    for (int64_t oh = 0; oh < p.OH; ++oh) {
      const T* s = gy + (o * p.OH + oh) * p.OW;
      T* d = G + o * p.Lr + oh * p.Wp;
      T r = 0;
#pragma omp simd reduction(+ : r)
      for (int64_t ow = 0; ow < p.OW; ++ow) {
        d[ow] = s[ow];
        r += s[ow];
      }
      b += r;
    }
    if (bsum) bsum[o] += b;
  }
}

// lanes[((o*C + c)*KH + kh)*KW + kw][L] += per-lane partial sums over j and over the nimg images
// of a sub-batch (P and G hold one image every ipx / igx elements) for o in [o0, o0 + OB),
// kw in [kw0, kw0 + KB), one (c, kh).
template <class T, int OB, int KB>
EMBER_SC_AVX512 void dw_tile(const Plan& p, const T* P, const T* G, int64_t nimg, int64_t ipx, int64_t igx,
                             int64_t o0, int64_t c, int64_t kh, int64_t kw0, T* lanes) {
  using V = Vec<T>;
  constexpr int L = V::L;
  typename V::R acc[OB][KB];
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int k = 0; k < KB; ++k) acc[o][k] = V::zero();
  for (int64_t s = 0; s < nimg; ++s) {
    const T* src = P + s * ipx + c * p.ps + kh * p.Wp + kw0;
    const T* g = G + s * igx + o0 * p.Lr;
    for (int64_t j = 0; j < p.Lr; j += L) {
      typename V::R gv[OB];
#pragma GCC unroll 8
      for (int o = 0; o < OB; ++o) gv[o] = V::load(g + o * p.Lr + j);
#pragma GCC unroll 8
      for (int k = 0; k < KB; ++k) {
        typename V::R xv = V::load(src + j + k);
        // one load, in a register: left to itself GCC folds it into every FMA for OB = 3, which
        // reloads the (mostly cache-line-splitting) vector OB times and halved the kernel's speed
        asm("" : "+v"(xv));
#pragma GCC unroll 8
        for (int o = 0; o < OB; ++o) acc[o][k] = V::fma(gv[o], xv, acc[o][k]);
      }
    }
  }
  const int64_t C = p.Cin;
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 8
    for (int k = 0; k < KB; ++k) {
      T* l = lanes + ((((o0 + o) * C + c) * p.KH + kh) * p.KW + kw0 + k) * L;
      V::store(l, V::add(V::load(l), acc[o][k]));
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

template <class T, int KB>
void dw_batch_kb(const Plan& p, const T* P, const T* G, int64_t nimg, int64_t ipx, int64_t igx, T* lanes) {
  constexpr int64_t obmax = std::min(8, 30 / (KB + 1));
  const int64_t nb = (p.Oout + obmax - 1) / obmax, ob = (p.Oout + nb - 1) / nb;
  for (int64_t o0 = 0; o0 < p.Oout; o0 += ob)
    for (int64_t c = 0; c < p.Cin; ++c)
      for (int64_t kh = 0; kh < p.KH; ++kh)
        for (int64_t kw0 = 0; kw0 < p.KW; kw0 += KB) {
          switch (std::min(ob, p.Oout - o0)) {
#define EMBER_SC_CASE(n)                                                                   \
  case n: {                                                                                \
    if constexpr (n <= obmax) dw_tile<T, n, KB>(p, P, G, nimg, ipx, igx, o0, c, kh, kw0, lanes); \
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

template <class T>
void dw_batch(const Plan& p, const T* P, const T* G, int64_t nimg, int64_t ipx, int64_t igx, T* lanes) {
  switch (dw_kb(p.KW)) {
    case 5: return dw_batch_kb<T, 5>(p, P, G, nimg, ipx, igx, lanes);
    case 4: return dw_batch_kb<T, 4>(p, P, G, nimg, ipx, igx, lanes);
    case 3: return dw_batch_kb<T, 3>(p, P, G, nimg, ipx, igx, lanes);
    case 2: return dw_batch_kb<T, 2>(p, P, G, nimg, ipx, igx, lanes);
    default: return dw_batch_kb<T, 1>(p, P, G, nimg, ipx, igx, lanes);
  }
}

// images [n0, n1) -> acc (O, C, KH, KW), overwritten. Images go in sub-batches whose P and G
// stay in cache, so the register partial sums run over several images before they are flushed.
template <class T>
void dw_chunk(const Plan& p, const T* x, const T* gy, int64_t n0, int64_t n1, T* acc, T* bsum) {
  constexpr int L = Vec<T>::L;
  const int64_t WN = p.Oout * p.Cin * p.KH * p.KW;
  const int64_t ipx = p.p_size(), igx = p.Oout * p.Lr;
  const int64_t sb = std::max<int64_t>(
      1, std::min({n1 - n0, (L * kDwBatchVectors + p.Lr - 1) / p.Lr,
                   kDwBatchBytes / static_cast<int64_t>(sizeof(T) * (ipx + igx))}));
  std::unique_ptr<T[]> P(new T[static_cast<size_t>(sb * ipx)]());
  std::unique_ptr<T[]> G(new T[static_cast<size_t>(sb * igx)]());
  std::unique_ptr<T[]> lanes(new T[static_cast<size_t>(WN * L)]());
  for (int64_t n = n0; n < n1; n += sb) {
    const int64_t nimg = std::min(sb, n1 - n);
    for (int64_t s = 0; s < nimg; ++s) {
      fill_padded(p, x + (n + s) * p.Cin * p.Hs * p.Ws, P.get() + s * ipx);
      fill_wide_grad(p, gy + (n + s) * p.Oout * p.OH * p.OW, G.get() + s * igx, bsum);
    }
    dw_batch(p, P.get(), G.get(), nimg, ipx, igx, lanes.get());
  }
  for (int64_t i = 0; i < WN; ++i) {
    T s = 0;
    for (int l = 0; l < L; ++l) s += lanes[i * L + l];
    acc[i] = s;
  }
}

template <class T>
void backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias) {
  const Plan p = forward_plan<T>(g);
  const int64_t WN = g.O * g.C * g.KH * g.KW, L = g.OH * g.OW;
  const int nt = get_num_threads();
  const int64_t chunks = nt > 1 && g.N >= nt && !in_parallel_region() ? nt : 1;
  if (L == 0 || g.N == 0) {
    std::fill(dw, dw + WN, T(0));
    if (dbias) std::fill(dbias, dbias + g.O, T(0));
    return;
  }
  // Chunks of the batch: chunk 0 writes dw, chunk c > 0 partial[(c - 1) * WN ...]; the bias
  // gradient is summed in the same pass over gy (per chunk in bpart), so each thread reads the
  // images it owns (a separate pass by channel read both threads' halves of gy: at 2 threads the
  // lines written by the other core cost more than the sum, LeNet's conv1 no faster than 1 thread).
  // Partials are summed in chunk order.
  std::vector<T> bpart(dbias ? static_cast<size_t>(chunks * g.O) : 0, T(0));
  auto bias_of = [&](int64_t c) { return dbias ? bpart.data() + c * g.O : nullptr; };
  if (chunks == 1) {
    dw_chunk(p, x, gy, 0, g.N, dw, bias_of(0));
  } else {
    std::unique_ptr<T[]> partial(new T[static_cast<size_t>((chunks - 1) * WN)]);
    parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t c = b; c < e; ++c)
        dw_chunk(p, x, gy, g.N * c / chunks, g.N * (c + 1) / chunks,
                 c == 0 ? dw : partial.get() + (c - 1) * WN, bias_of(c));
    });
    conv_detail::add_partials(dw, partial.get(), chunks - 1, WN);
  }
  if (dbias)
    for (int64_t o = 0; o < g.O; ++o) {
      T s = bpart[o];
      for (int64_t c = 1; c < chunks; ++c) s += bpart[c * g.O + o];
      dbias[o] = s;
    }
}

// --- input gradient by rows ---------------------------------------------------------------------
// The correlation above reads gy padded by K - 1 - p on every side: for LeNet's conv2 (10 x 10
// gradient, 5 x 5 kernel) 60% of its multiply-adds hit that padding. Here each dx row ih instead
// takes only the gy rows oh = ih + ph - kh that exist, vectorised along ow (masked past OW):
//   A[c][kw][ow] = sum_{o, kh valid} w[o][c][kh][kw] * gy[o][oh][ow],
//   dx[c][ih][ow + kw - pw] += A[c][kw][ow],
// with CB channels x KW taps of A in registers, so each gy vector loaded feeds CB * KW FMAs; the
// shifted sums go through a row buffer R (C, Wr), R[c][ow + kw] = dx[c][ih][ow + kw - pw].
// Measured: LeNet's conv2 dx 25% faster than the correlation, conv1's (C = 1) 2x.
template <class T>
struct RowPlan {
  int64_t nv = 0;  // vectors per gy row
  int64_t Wr = 0;  // row buffer width, L * (nv + 1)
};
template <class T>
RowPlan<T> row_plan(const ConvGeom& g) {
  constexpr int L = Vec<T>::L;
  RowPlan<T> r;
  r.nv = (g.OW + L - 1) / L;
  r.Wr = L * (r.nv + 1);
  return r;
}

// Multiply-adds (in vectors) of the two ways, per image, weighed by how well each one runs.
template <class T>
bool dx_by_rows(const ConvGeom& g) {
  constexpr int L = Vec<T>::L;
  if (g.KW > 7) return false;
  int64_t rows = 0;  // (ih, kh) pairs with an existing gy row
  for (int64_t ih = 0; ih < g.H; ++ih)
    rows += std::max<int64_t>(0, std::min(g.KH, ih + g.ph + 1) - std::max<int64_t>(0, ih + g.ph - g.OH + 1));
  const int64_t by_rows = rows * row_plan<T>(g).nv * g.O * g.KW * g.C;
  const int64_t by_corr = g.C * ((g.H * (g.W + g.KW - 1) + L - 1) / L) * g.O * g.KH * g.KW;
  // below 8 input channels the correlation's output-channel block (C here) is under-filled: each
  // x vector, mostly a cache-line-splitting load, feeds under 8 FMAs, and rows measured 1.2-1.5x
  // faster at equal multiply-add counts (LeNet conv1: 2x)
  return g.C < 8 ? by_rows * 2 < by_corr * 3 : by_rows * 5 < by_corr * 4;
}

// lo:hi += a[k] moved up by k lanes, for k = 1 .. sizeof...(K)
template <class T, int... K>
EMBER_SC_AVX512 inline void shifted_sum(const typename Vec<T>::R* a, typename Vec<T>::R& lo, typename Vec<T>::R& hi,
                                        std::integer_sequence<int, K...>) {
  using V = Vec<T>;
  (void)a;  // unused for KW == 1
  ((lo = V::add(lo, V::template up_lo<K + 1>(a[K + 1])), hi = V::add(hi, V::template up_hi<K + 1>(a[K + 1]))), ...);
}

// wb: the block's weights packed (O, KH, CB, KW), so the taps of one (o, kh) sit at fixed offsets
template <class T, int CB, int KW>
EMBER_SC_AVX512 void dx_rows_tile(const ConvGeom& g, const RowPlan<T>& rp, const T* gyn, const T* wb, int64_t ih,
                                  int64_t kh0, int64_t kh1, T* R) {
  using V = Vec<T>;
  constexpr int L = V::L;
  const int64_t OW = g.OW, nkh = kh1 - kh0, gos = g.OH * g.OW, wos = g.KH * CB * KW, nO = g.O;
  for (int64_t v = 0; v < rp.nv; ++v) {
    const int64_t ow0 = L * v;
    const auto m = static_cast<typename V::M>(OW - ow0 >= L ? (1u << L) - 1 : (1u << (OW - ow0)) - 1);
    typename V::R acc[CB][KW];
#pragma GCC unroll 8
    for (int c = 0; c < CB; ++c)
#pragma GCC unroll 8
      for (int k = 0; k < KW; ++k) acc[c][k] = V::zero();
    const T* gp0 = gyn + (ih + g.ph - kh0) * OW + ow0;
    const T* wp0 = wb + kh0 * CB * KW;
    for (int64_t o = 0; o < nO; ++o) {
      const T* gp = gp0 + o * gos;
      const T* wp = wp0 + o * wos;
      for (int64_t t = 0; t < nkh; ++t, gp -= OW, wp += CB * KW) {
        const typename V::R gv = V::loadz(m, gp);
#pragma GCC unroll 8
        for (int c = 0; c < CB; ++c)
#pragma GCC unroll 8
          for (int k = 0; k < KW; ++k) acc[c][k] = V::fma(V::set1(wp[c * KW + k]), gv, acc[c][k]);
      }
    }
    // sum_k acc[c][k] moved up by k lanes, as 2L lanes (lo, hi), so R takes two whole-vector adds
    // per channel: overlapping shifted stores would defeat store forwarding
#pragma GCC unroll 8
    for (int c = 0; c < CB; ++c) {
      typename V::R lo = acc[c][0], hi = V::zero();
      shifted_sum<T>(acc[c], lo, hi, std::make_integer_sequence<int, KW - 1>{});
      T* r = R + c * rp.Wr + ow0;
      V::store(r, V::add(V::load(r), lo));
      V::store(r + L, V::add(V::load(r + L), hi));
    }
  }
}

// channel block: CB * KW accumulators + 1 gradient vector + 1 broadcast within 32 registers
constexpr int64_t dx_rows_cbmax(int64_t KW) { return std::min<int64_t>(8, 26 / KW); }
int64_t dx_rows_cb(const ConvGeom& g) {
  const int64_t cbmax = dx_rows_cbmax(g.KW), nb = (g.C + cbmax - 1) / cbmax;
  return (g.C + nb - 1) / nb;
}

template <class T, int KW>
void dx_rows_image(const ConvGeom& g, const RowPlan<T>& rp, const T* gyn, const T* wpk, T* R, T* dxn) {
  const int64_t cb = dx_rows_cb(g);
  for (int64_t ih = 0; ih < g.H; ++ih) {
    const int64_t kh0 = std::max<int64_t>(0, ih + g.ph - g.OH + 1), kh1 = std::min(g.KH, ih + g.ph + 1);
    std::fill(R, R + g.C * rp.Wr, T(0));
    for (int64_t c0 = 0; c0 < g.C; c0 += cb) {
      T* Rc = R + c0 * rp.Wr;
      const T* wb = wpk + c0 * g.O * g.KH * KW;
      switch (std::min(cb, g.C - c0)) {
#define EMBER_SC_CASE(n)                                                                           \
  case n: {                                                                                        \
    if constexpr (n <= dx_rows_cbmax(KW)) dx_rows_tile<T, n, KW>(g, rp, gyn, wb, ih, kh0, kh1, Rc); \
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
      const T* r = R + c * rp.Wr + g.pw;
      T* d = dxn + (c * g.H + ih) * g.W;
#pragma omp simd
      for (int64_t iw = 0; iw < g.W; ++iw) d[iw] = r[iw];
    }
  }
}

template <class T>
void dx_rows(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  const RowPlan<T> rp = row_plan<T>(g);
  // w (O, C, KH, KW) -> per channel block of cb (the last may be narrower): (O, KH, cb, KW)
  const int64_t cb = dx_rows_cb(g);
  std::unique_ptr<T[]> wpk(new T[static_cast<size_t>(g.O * g.C * g.KH * g.KW)]);
  for (int64_t c0 = 0; c0 < g.C; c0 += cb) {
    const int64_t n = std::min(cb, g.C - c0);
    T* blk = wpk.get() + c0 * g.O * g.KH * g.KW;
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t kh = 0; kh < g.KH; ++kh)
        for (int64_t c = 0; c < n; ++c)
          for (int64_t kw = 0; kw < g.KW; ++kw)
            blk[((o * g.KH + kh) * n + c) * g.KW + kw] = w[((o * g.C + c0 + c) * g.KH + kh) * g.KW + kw];
  }
  ThreadScratch<T> rows(g.C * rp.Wr);
  parallel_for_pieces(0, g.N, 1, kImagePieces, [&](int64_t b, int64_t e, int t) {
    T* const R = rows(t);
    for (int64_t n = b; n < e; ++n) {
      const T* gyn = gy + n * g.O * g.OH * g.OW;
      T* dxn = dx + n * g.C * g.H * g.W;
      switch (g.KW) {
        case 1: dx_rows_image<T, 1>(g, rp, gyn, wpk.get(), R, dxn); break;
        case 2: dx_rows_image<T, 2>(g, rp, gyn, wpk.get(), R, dxn); break;
        case 3: dx_rows_image<T, 3>(g, rp, gyn, wpk.get(), R, dxn); break;
        case 4: dx_rows_image<T, 4>(g, rp, gyn, wpk.get(), R, dxn); break;
        case 5: dx_rows_image<T, 5>(g, rp, gyn, wpk.get(), R, dxn); break;
        case 6: dx_rows_image<T, 6>(g, rp, gyn, wpk.get(), R, dxn); break;
        default: dx_rows_image<T, 7>(g, rp, gyn, wpk.get(), R, dxn); break;
      }
    }
  });
}

}  // namespace

// Routing, measured against the im2col + GEMM path (fwd + both gradients, float32, 1 thread, batch
// 16-64, C in 1..256, O in 4..32, k 3..9, H 8..96): the direct kernels win by 1.4-5x for O <= 8
// at every C, by 1.15-2.1x for O = 16 when C >= 6, only by 0-30% for O = 16 with C < 6, and tie
// or lose from O = 24 on, where the GEMM's 12-row tiles stop wasting work. C*KH*KW is capped
// (measured up to 2304) because the weight gradient's per-thread lane sums grow with O*C*KH*KW*16.
bool conv_is_small(const ConvGeom& g) {
  if (cpu_isa() != Isa::Avx512) return false;
  if (g.groups != 1 || g.sh != 1 || g.sw != 1 || g.dh != 1 || g.dw != 1) return false;
  // the input gradient pads gy by K - 1 - p
  if (g.ph >= g.KH || g.pw >= g.KW || g.OH <= 0 || g.OW <= 0) return false;
  return g.C * g.KH * g.KW <= 2304 && (g.O <= 8 || (g.O <= 16 && g.C >= 6));
}

template <class T>
void small_conv_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  correlate_batch(forward_plan<T>(g), g.N, x, w, bias, y);
}

template <class T>
void small_conv_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  if (g.N > 0 && dx_by_rows<T>(g)) return dx_rows(g, gy, w, dx);
  // w (O, C, KH, KW) -> w' (C, O, KH, KW) flipped in both spatial dims
  const int64_t KK = g.KH * g.KW;
  std::unique_ptr<T[]> wt(new T[static_cast<size_t>(g.O * g.C * KK)]);
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t k = 0; k < KK; ++k) wt[(c * g.O + o) * KK + KK - 1 - k] = w[(o * g.C + c) * KK + k];
  correlate_batch(input_grad_plan<T>(g), g.N, gy, wt.get(), static_cast<const T*>(nullptr), dx);
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

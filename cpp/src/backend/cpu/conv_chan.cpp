// Channel-vectorised direct convolution for stride 1 (float32, AVX-512). The other direct kernels
// (conv_small.cpp, conv_igemm.cpp) put 16 output pixels of a row in a vector, which wastes lanes on
// narrow rows: LeNet's second convolution (14 x 14 -> 10 x 10, 5 x 5) fills 10 of 16, and its
// input gradient, a correlation of gy padded by 4, multiplies padding in half of its products.
// Here a vector holds 16 channels instead, and pixels are broadcast:
// - forward: y[o][oh][ow] = sum_{c, kh, kw} w[o][c][kh][kw] x[c][oh + kh - ph][ow + kw - pw].
//   A register tile is OV vectors of output channels x MR output pixels of one row; per tap, OV
//   weight vectors and MR broadcasts of the input row feed MR * OV FMAs. Rows of taps outside x
//   are skipped, columns read a copy of x padded by pw (no copy when pw = 0).
// - input gradient, as a scatter: gy column j of row oh adds w[o][c][kh][kw] gy[o][oh][j] to dx
//   column j + kw - pw of row oh - ph + kh. A tile holds MR gy columns' worth of dx columns
//   (MR + KW - 1 vectors of 16 input channels) of one dx row; each gy value broadcast feeds KW
//   FMAs, and no product touches padding.
// - weight gradient: OV vectors of output channels x the KW taps of one (c, kh), summed in
//   registers over an image's pixels: per pixel, OV vectors of gy (pixel-major, transposed once
//   per image) and KW broadcasts of the padded input row. gy is read in bands of rows that stay
//   in L1 while every tap row goes over them.
// Results come out pixel-major (a row of channels per pixel) and are transposed into planes in
// 16 x 16 register blocks. Sums over taps run in (c, kh, kw) order.
// Threads: images split over threads, each with its own buffers; the weight gradient gives each
// thread a batch chunk and its own partial sums, added in chunk order.
#include "conv_chan.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"
#include "transpose_avx512.h"

#define EMBER_CH_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -Wmaybe-uninitialized flags once transpose16 is inlined (a false positive; as in gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace ember::cpu {
namespace {

constexpr int VL = 16;
constexpr int kFwdMaxMr1 = 16;  // pixels per forward tile with one channel vector (16 + 1 + 1 zmm)
constexpr int kFwdMaxMr2 = 14;  // ... with two (28 accumulators + 2 weights + 1 broadcast)
constexpr int kDxMaxMr = 16;    // gy columns per input-gradient tile (MR + KW - 1 accumulators)
constexpr int64_t kDwBandBytes = 16 << 10;  // the weight gradient's slice of gy, pixel-major

bool common_ok(const ConvGeom& g) {
  // EMBER_CONV_CHAN=0 turns this path off (A/B benchmarks, and tests of the other paths).
  static const bool off = [] {
    const char* e = std::getenv("EMBER_CONV_CHAN");
    return e && std::string(e) == "0";
  }();
  return !off && cpu_isa() == Isa::Avx512 && g.groups == 1 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 &&
         g.N > 0 && g.OH > 0 && g.OW > 0 && g.ph < g.KH && g.pw < g.KW;
}

// Channel blocks of up to `per` vectors: block b covers channels [b * per * 16, ...).
struct Blocks {
  int64_t n = 0, per = 0, width = 0;  // blocks, vectors per full block, channels per full block
};
Blocks blocks_of(int64_t channels, int64_t per) {
  Blocks b;
  b.per = per, b.width = per * VL;
  b.n = (channels + b.width - 1) / b.width;
  return b;
}
int64_t vecs_in(const Blocks& b, int64_t channels, int64_t i) {
  return std::min<int64_t>(b.per, (channels - i * b.width + VL - 1) / VL);
}

// Pixel-major rows (npix pixels, pixel stride B floats, nch channels) -> channel planes:
// dst[c * plane + p] = src[p * B + c] (+ bias[c]) for p < npix, c < nch; 16 x 16 blocks
// transposed in registers.
EMBER_CH_AVX512 void pixels_to_planes(const float* src, int64_t B, int64_t npix, int64_t nch, const float* bias,
                                      float* dst, int64_t plane) {
  for (int64_t p0 = 0; p0 < npix; p0 += VL) {
    const int np = static_cast<int>(std::min<int64_t>(VL, npix - p0));
    const __mmask16 m = static_cast<__mmask16>((1u << np) - 1);
    for (int64_t c0 = 0; c0 < nch; c0 += VL) {
      __m512 r[VL];
      for (int b = 0; b < VL; ++b) r[b] = b < np ? _mm512_loadu_ps(src + (p0 + b) * B + c0) : _mm512_setzero_ps();
      transpose16(r);
      const int nc = static_cast<int>(std::min<int64_t>(VL, nch - c0));
      for (int a = 0; a < nc; ++a) {
        __m512 v = r[a];
        if (bias) v = _mm512_add_ps(v, _mm512_set1_ps(bias[c0 + a]));
        _mm512_mask_storeu_ps(dst + (c0 + a) * plane + p0, m, v);
      }
    }
  }
}

// Channel planes -> pixel-major rows, the inverse of pixels_to_planes: dst[p * B + c] =
// src[c * plane + p] for p < npix, c < nch (nch a multiple of 16).
EMBER_CH_AVX512 void planes_to_pixels(const float* src, int64_t plane, int64_t npix, int64_t nch, float* dst,
                                      int64_t B) {
  for (int64_t p0 = 0; p0 < npix; p0 += VL) {
    const int np = static_cast<int>(std::min<int64_t>(VL, npix - p0));
    const __mmask16 m = static_cast<__mmask16>((1u << np) - 1);
    for (int64_t c0 = 0; c0 < nch; c0 += VL) {
      __m512 r[VL];
      for (int a = 0; a < VL; ++a) r[a] = _mm512_maskz_loadu_ps(m, src + (c0 + a) * plane + p0);
      transpose16(r);
      for (int b = 0; b < np; ++b) _mm512_storeu_ps(dst + (p0 + b) * B + c0, r[b]);
    }
  }
}

// dst[c] += sum over pixels p < npix of src[p * nv * 16 + c], c < nv * 16 (nv <= 2): each channel's
// sum in pixel order, all channels at once (a scalar sum per channel cost as much as a
// 1 -> 16 channel weight gradient).
EMBER_CH_AVX512 void sum_pixels(const float* src, int64_t npix, int64_t nv, float* dst) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  for (int64_t p = 0; p < npix; ++p, src += nv * VL) {
    s0 = _mm512_add_ps(s0, _mm512_loadu_ps(src));
    if (nv > 1) s1 = _mm512_add_ps(s1, _mm512_loadu_ps(src + VL));
  }
  _mm512_storeu_ps(dst, _mm512_add_ps(_mm512_loadu_ps(dst), s0));
  if (nv > 1) _mm512_storeu_ps(dst + VL, _mm512_add_ps(_mm512_loadu_ps(dst + VL), s1));
}

// --- forward ------------------------------------------------------------------------------------
// Source S: x's planes with pw zero columns on each side (row stride rs, plane stride ps), S row r
// being x row r. out (MR pixels, OV * 16 channels) = the tile at output row oh (its taps' rows
// kh0..kh1 exist), columns ow0.. (s = S + ow0, row0 = oh - ph); wb: the block's weights (C, KH,
// KW, OV * 16).
template <int OV, int MR>
EMBER_CH_AVX512 void fwd_tile(const float* s, int64_t ps, int64_t rs, int64_t row0, int64_t C, int64_t kh0,
                              int64_t kh1, int64_t KH, int64_t KW, const float* wb, float* out) {
  constexpr int B = OV * VL;
  __m512 acc[MR][OV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < OV; ++v) acc[i][v] = _mm512_setzero_ps();
  for (int64_t c = 0; c < C; ++c)
    for (int64_t kh = kh0; kh < kh1; ++kh) {
      const float* sr = s + c * ps + (row0 + kh) * rs;
      const float* wk = wb + (c * KH + kh) * KW * B;
      for (int64_t kw = 0; kw < KW; ++kw, wk += B) {
        __m512 wv[OV];
#pragma GCC unroll 2
        for (int v = 0; v < OV; ++v) wv[v] = _mm512_loadu_ps(wk + VL * v);
#pragma GCC unroll 16
        for (int i = 0; i < MR; ++i) {
          const __m512 b = _mm512_set1_ps(sr[kw + i]);
#pragma GCC unroll 2
          for (int v = 0; v < OV; ++v) acc[i][v] = _mm512_fmadd_ps(b, wv[v], acc[i][v]);
        }
      }
    }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < OV; ++v) _mm512_storeu_ps(out + i * B + VL * v, acc[i][v]);
}

using FwdTile = void (*)(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                         const float*, float*);
template <int OV, int... M>
constexpr std::array<FwdTile, sizeof...(M)> fwd_tiles(std::integer_sequence<int, M...>) {
  return {&fwd_tile<OV, M + 1>...};
}
constexpr auto kFwd1 = fwd_tiles<1>(std::make_integer_sequence<int, kFwdMaxMr1>{});
constexpr auto kFwd2 = fwd_tiles<2>(std::make_integer_sequence<int, kFwdMaxMr2>{});

// A row of n pixels in near-equal tiles of at most mr_max: tile t starts at n * t / nt.
int64_t row_tiles(int64_t n, int64_t mr_max) { return (n + mr_max - 1) / mr_max; }

// w (O, C, KH, KW) -> per block of output channels, (C, KH, KW, block width); block b starts at
// b * width * K.
std::vector<float> pack_forward_weights(const ConvGeom& g, const Blocks& bl, const float* w) {
  const int64_t K = g.C * g.KH * g.KW;
  std::vector<float> wp(static_cast<size_t>(g.O * K));
  for (int64_t b = 0; b < bl.n; ++b) {
    const int64_t o0 = b * bl.width, B = vecs_in(bl, g.O, b) * VL;
    float* d = wp.data() + o0 * K;
    for (int64_t j = 0; j < B; ++j)
      for (int64_t k = 0; k < K; ++k) d[k * B + j] = o0 + j < g.O ? w[(o0 + j) * K + k] : 0.0f;
  }
  return wp;
}

// --- input gradient -----------------------------------------------------------------------------
// out (MR + KW - 1 dx columns from j0 - pw, 16 input channels) += the tile of gy columns
// j0 .. j0 + MR of every gy row oh = row0 - kh, kh0 <= kh < kh1 (g0 = gy + j0; gos: gy's plane
// size); wb: the block's weights (O, KH, KW, 16).
template <int KW, int MR>
EMBER_CH_AVX512 void dx_tile(const float* g0, int64_t gos, int64_t OW, int64_t O, int64_t row0, int64_t kh0,
                             int64_t kh1, int64_t KH, const float* wb, float* out) {
  constexpr int NA = MR + KW - 1;
  __m512 acc[NA];
#pragma GCC unroll 24
  for (int r = 0; r < NA; ++r) acc[r] = _mm512_setzero_ps();
  for (int64_t o = 0; o < O; ++o)
    for (int64_t kh = kh0; kh < kh1; ++kh) {
      const float* gr = g0 + o * gos + (row0 - kh) * OW;
      const float* wk = wb + (o * KH + kh) * KW * VL;
      __m512 wv[KW];
#pragma GCC unroll 8
      for (int k = 0; k < KW; ++k) wv[k] = _mm512_loadu_ps(wk + VL * k);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const __m512 b = _mm512_set1_ps(gr[i]);
#pragma GCC unroll 8
        for (int k = 0; k < KW; ++k) acc[i + k] = _mm512_fmadd_ps(b, wv[k], acc[i + k]);
      }
    }
#pragma GCC unroll 24
  for (int r = 0; r < NA; ++r) _mm512_storeu_ps(out + VL * r, _mm512_add_ps(_mm512_loadu_ps(out + VL * r), acc[r]));
}

using DxTile = void (*)(const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const float*,
                        float*);
template <int KW, int... M>
constexpr std::array<DxTile, sizeof...(M)> dx_tiles(std::integer_sequence<int, M...>) {
  return {&dx_tile<KW, M + 1>...};
}
constexpr auto kDx3 = dx_tiles<3>(std::make_integer_sequence<int, kDxMaxMr>{});
constexpr auto kDx5 = dx_tiles<5>(std::make_integer_sequence<int, kDxMaxMr>{});

// --- weight gradient ----------------------------------------------------------------------------
// D (KW taps from (c, kh, 0), OV * 16 output channels, tap stride B) += the image's products for
// taps (c, kh, kw): sum over pixels of gyT[p][o] S[c][oh + kh][ow + kw], S being x padded by
// (ph, pw) on every side (sr = S + c * ps + kh * Wp), gyT the image's gy pixel-major (B floats a
// pixel). (Tiles of 2 or 3 tap rows, 12-25 accumulators, measured within noise of one.)
template <int OV, int KW>
EMBER_CH_AVX512 void dw_tile(const float* sr, int64_t Wp, const float* gyT, int64_t OH, int64_t OW, float* D) {
  constexpr int B = OV * VL;
  __m512 acc[KW][OV];
#pragma GCC unroll 8
  for (int k = 0; k < KW; ++k)
#pragma GCC unroll 2
    for (int v = 0; v < OV; ++v) acc[k][v] = _mm512_setzero_ps();
  for (int64_t oh = 0; oh < OH; ++oh, sr += Wp)
    for (int64_t ow = 0; ow < OW; ++ow, gyT += B) {
      __m512 gv[OV];
#pragma GCC unroll 2
      for (int v = 0; v < OV; ++v) {
        gv[v] = _mm512_loadu_ps(gyT + VL * v);
        // one load, in a register: left to itself GCC folds it into every FMA, and the reloads
        // ran 3 x 3 kernels at 40% of peak
        asm("" : "+v"(gv[v]));
      }
#pragma GCC unroll 8
      for (int k = 0; k < KW; ++k) {
        const __m512 b = _mm512_set1_ps(sr[ow + k]);
#pragma GCC unroll 2
        for (int v = 0; v < OV; ++v) acc[k][v] = _mm512_fmadd_ps(b, gv[v], acc[k][v]);
      }
    }
#pragma GCC unroll 8
  for (int k = 0; k < KW; ++k)
#pragma GCC unroll 2
    for (int v = 0; v < OV; ++v) {
      float* d = D + k * B + VL * v;
      _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), acc[k][v]));
    }
}

using DwTile = void (*)(const float*, int64_t, const float*, int64_t, int64_t, float*);
DwTile dw_tile_for(int64_t ov, int64_t KW) {
  if (ov == 1) return KW == 3 ? &dw_tile<1, 3> : &dw_tile<1, 5>;
  return KW == 3 ? &dw_tile<2, 3> : &dw_tile<2, 5>;
}

// Images [n0, n1) -> acc (O, C, KH, KW), overwritten; bsum (O) += their gy sums when not null.
// threaded: each image's (c, kh) tap rows split over threads (a batch smaller than the thread
// count; otherwise each thread runs a chunk of images).
void dw_chunk(const ConvGeom& g, const float* x, const float* gy, int64_t n0, int64_t n1, float* acc, float* bsum,
              bool threaded) {
  const int64_t K = g.C * g.KH * g.KW, L = g.OH * g.OW, Hp = g.H + 2 * g.ph, Wp = g.W + 2 * g.pw, ps = Hp * Wp;
  const Blocks bl = blocks_of(g.O, 2);
  std::unique_ptr<float[]> S(new float[static_cast<size_t>(g.C * ps)]());
  std::unique_ptr<float[]> gyT(new float[static_cast<size_t>(L * g.O)]);
  std::unique_ptr<float[]> D(new float[static_cast<size_t>(K * g.O)]());  // (K, O): per block (K, B)
  for (int64_t n = n0; n < n1; ++n) {
    const float* xn = x + n * g.C * g.H * g.W;
    for (int64_t c = 0; c < g.C; ++c)
      for (int64_t ih = 0; ih < g.H; ++ih)
        std::memcpy(S.get() + c * ps + (ih + g.ph) * Wp + g.pw, xn + (c * g.H + ih) * g.W, g.W * sizeof(float));
    const float* gyn = gy + n * g.O * L;
    for (int64_t b = 0; b < bl.n; ++b) {
      const int64_t o0 = b * bl.width, nv = vecs_in(bl, g.O, b), B = nv * VL;
      planes_to_pixels(gyn + o0 * L, L, L, B, gyT.get(), B);
      if (bsum) sum_pixels(gyT.get(), L, nv, bsum + o0);
      const DwTile tile = dw_tile_for(nv, g.KW);
      float* Db = D.get() + o0 * K;
      // bands of output rows whose gyT stays in L1 while every tap row (c, kh) in [t0, t1) reads it
      const int64_t band = std::max<int64_t>(1, kDwBandBytes / (g.OW * B * int64_t(sizeof(float))));
      auto tap_rows = [&](int64_t t0, int64_t t1) {
        for (int64_t oh0 = 0; oh0 < g.OH; oh0 += band) {
          const int64_t nh = std::min(band, g.OH - oh0);
          const float* gb = gyT.get() + oh0 * g.OW * B;
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t c = t / g.KH, kh = t % g.KH;
            tile(S.get() + c * ps + (oh0 + kh) * Wp, Wp, gb, nh, g.OW, Db + t * g.KW * B);
          }
        }
      };
      if (threaded) parallel_for(0, g.C * g.KH, 1, tap_rows);
      else tap_rows(0, g.C * g.KH);
    }
  }
  for (int64_t b = 0; b < bl.n; ++b) {
    const int64_t o0 = b * bl.width, B = vecs_in(bl, g.O, b) * VL;
    pixels_to_planes(D.get() + o0 * K, B, K, B, nullptr, acc + o0 * K, K);
  }
}

}  // namespace

// Routing, against the paths these come after (Winograd, then the pixel-vectorised kernels or
// im2col + GEMM), float32, 1 thread, batch 64, fwd / dx / dw:
// - LeNet-style 16 -> 32, 5 x 5 on 14 x 14 (10-wide rows): 1.76x / 2.2x / 1.3-1.4x;
// - 16 -> 32, 3 x 3 p1 at 14, 24 and 28 wide: dx 1.23-1.54x, dw 1.17-1.27x; the forward 1.12x at
//   24 wide (the pixel kernels fill 3/4 of their lanes), 0.92-0.95x at 14 and 28 (7/8), so the
//   forward comes here only where under 4/5 of the pixel kernels' lanes would be used;
// - 3 -> 64 at 32 x 32: dw 0.97-1.13x (its forward stays on the pixel kernels, 0.73x here);
// - ahead of the few-channel kernels (conv_small.cpp) for O = 16: LeNet's 6 -> 16 fwd 1.38x, dw
//   1.56x; 6..32 -> 16 at 8..32 wide: dw 1.19-2.1x, the forward 1.23-1.33x where rows are narrow
//   (0.97-1.0x at 16, 28 and 32 wide: not taken), dx (C = 16, 32) 1.14-1.16x.
// Threads take whole images; a batch smaller than the thread count splits each image's rows (dw:
// tap rows) instead.
bool chan_forward_ok(const ConvGeom& g) {
  const int64_t lanes = (g.OW + VL - 1) / VL * VL;
  return common_ok(g) && g.O % VL == 0 && 5 * g.OW < 4 * lanes;
}

bool chan_backward_input_ok(const ConvGeom& g) {
  return common_ok(g) && g.C % VL == 0 && (g.KW == 3 || g.KW == 5);
}

bool chan_backward_weight_ok(const ConvGeom& g) {
  return common_ok(g) && g.O % VL == 0 && (g.KW == 3 || g.KW == 5);
}

void chan_backward_weight(const ConvGeom& g, const float* x, const float* gy, float* dw, float* dbias) {
  const int64_t WN = g.O * g.C * g.KH * g.KW;
  const int nt = get_num_threads();
  const int64_t chunks = nt > 1 && g.N >= nt && !in_parallel_region() ? nt : 1;
  // chunk 0 writes dw, chunk c > 0 partial[(c - 1) * WN ...]; summed in chunk order, so the result
  // does not depend on which thread ran which chunk
  std::vector<float> bpart(dbias ? static_cast<size_t>(chunks * g.O) : 0, 0.0f);
  std::unique_ptr<float[]> partial(new float[static_cast<size_t>((chunks - 1) * WN)]);
  parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c)
      dw_chunk(g, x, gy, g.N * c / chunks, g.N * (c + 1) / chunks, c == 0 ? dw : partial.get() + (c - 1) * WN,
               dbias ? bpart.data() + c * g.O : nullptr, chunks == 1);
  });
  for (int64_t c = 1; c < chunks; ++c) {
    const float* q = partial.get() + (c - 1) * WN;
    for (int64_t i = 0; i < WN; ++i) dw[i] += q[i];
  }
  if (dbias)
    for (int64_t o = 0; o < g.O; ++o) {
      float s = bpart[o];
      for (int64_t c = 1; c < chunks; ++c) s += bpart[c * g.O + o];
      dbias[o] = s;
    }
}

void chan_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const Blocks bl = blocks_of(g.O, 2);
  const std::vector<float> wp = pack_forward_weights(g, bl, w);
  const int64_t K = g.C * g.KH * g.KW, L = g.OH * g.OW, Wp = g.W + 2 * g.pw, ps = g.H * Wp;
  const bool copy = g.pw > 0, by_image = g.N >= get_num_threads() || in_parallel_region();
  // output rows [oh0, oh1) of block b of one image (src: its padded planes) -> Yt
  auto rows = [&](const float* src, int64_t b, int64_t oh0, int64_t oh1, float* Yt) {
    const int64_t o0 = b * bl.width, nv = vecs_in(bl, g.O, b), B = nv * VL;
    const int64_t mr_max = nv == 1 ? kFwdMaxMr1 : kFwdMaxMr2, nt = row_tiles(g.OW, mr_max);
    const FwdTile* tiles = nv == 1 ? kFwd1.data() : kFwd2.data();
    const float* wb = wp.data() + o0 * K;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const int64_t kh0 = std::max<int64_t>(0, g.ph - oh), kh1 = std::min(g.KH, g.H + g.ph - oh);
      for (int64_t t = 0; t < nt; ++t) {
        const int64_t ow0 = g.OW * t / nt, mr = g.OW * (t + 1) / nt - ow0;
        tiles[mr - 1](src + ow0, ps, Wp, oh - g.ph, g.C, kh0, kh1, g.KH, g.KW, wb, Yt + (oh * g.OW + ow0) * B);
      }
    }
  };
  // images [n0, n1), their rows split over threads unless by_image
  auto images = [&](int64_t n0, int64_t n1) {
    std::unique_ptr<float[]> S(copy ? new float[static_cast<size_t>(g.C * ps)]() : nullptr);
    std::unique_ptr<float[]> Yt(new float[static_cast<size_t>(L * bl.width)]);
    for (int64_t n = n0; n < n1; ++n) {
      const float* xn = x + n * g.C * g.H * g.W;
      if (copy)
        for (int64_t r = 0; r < g.C * g.H; ++r) std::memcpy(S.get() + r * Wp + g.pw, xn + r * g.W, g.W * sizeof(float));
      const float* src = copy ? S.get() : xn;
      for (int64_t b = 0; b < bl.n; ++b) {
        const int64_t o0 = b * bl.width, B = vecs_in(bl, g.O, b) * VL;
        if (by_image) rows(src, b, 0, g.OH, Yt.get());
        else parallel_for(0, g.OH, 1, [&](int64_t r0, int64_t r1) { rows(src, b, r0, r1, Yt.get()); });
        pixels_to_planes(Yt.get(), B, L, std::min(B, g.O - o0), bias ? bias + o0 : nullptr,
                         y + (n * g.O + o0) * L, L);
      }
    }
  };
  if (by_image) parallel_for(0, g.N, 1, images);
  else images(0, g.N);
}

void chan_backward_input(const ConvGeom& g, const float* gy, const float* w, float* dx) {
  // w (O, C, KH, KW) -> per vector of input channels, (O, KH, KW, 16)
  const int64_t KK = g.KH * g.KW, L = g.OH * g.OW, HW = g.H * g.W, nb = g.C / VL;
  std::vector<float> wp(static_cast<size_t>(g.O * g.C * KK));
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t o = 0; o < g.O; ++o)
      for (int64_t k = 0; k < KK; ++k)
        for (int64_t j = 0; j < VL; ++j)
          wp[((b * g.O + o) * KK + k) * VL + j] = w[(o * g.C + b * VL + j) * KK + k];
  const int64_t nt = row_tiles(g.OW, kDxMaxMr), Wr = g.W + 2 * g.pw;
  const DxTile* tiles = g.KW == 3 ? kDx3.data() : kDx5.data();
  const bool by_image = g.N >= get_num_threads() || in_parallel_region();
  // dx rows [ih0, ih1) of channel block b of image n, through the row buffer R (Wr x 16)
  auto rows = [&](int64_t n, int64_t b, int64_t ih0, int64_t ih1, float* R) {
    const float* gyn = gy + n * g.O * L;
    float* dxn = dx + n * g.C * HW;
    const float* wb = wp.data() + b * g.O * KK * VL;
    for (int64_t ih = ih0; ih < ih1; ++ih) {
      const int64_t kh0 = std::max<int64_t>(0, ih + g.ph - g.OH + 1), kh1 = std::min(g.KH, ih + g.ph + 1);
      std::fill(R, R + Wr * VL, 0.0f);
      for (int64_t t = 0; t < nt; ++t) {
        const int64_t j0 = g.OW * t / nt, mr = g.OW * (t + 1) / nt - j0;
        tiles[mr - 1](gyn + j0, L, g.OW, g.O, ih + g.ph, kh0, kh1, g.KH, wb, R + j0 * VL);
      }
      pixels_to_planes(R + g.pw * VL, VL, g.W, VL, nullptr, dxn + b * VL * HW + ih * g.W, HW);
    }
  };
  auto row_buffer = [&] { return std::unique_ptr<float[]>(new float[static_cast<size_t>(Wr * VL)]); };
  if (by_image) {
    parallel_for(0, g.N, 1, [&](int64_t n0, int64_t n1) {
      const auto R = row_buffer();
      for (int64_t n = n0; n < n1; ++n)
        for (int64_t b = 0; b < nb; ++b) rows(n, b, 0, g.H, R.get());
    });
    return;
  }
  for (int64_t n = 0; n < g.N; ++n)  // a batch smaller than the thread count: rows over threads
    for (int64_t b = 0; b < nb; ++b)
      parallel_for(0, g.H, 1, [&](int64_t r0, int64_t r1) { rows(n, b, r0, r1, row_buffer().get()); });
}

}  // namespace ember::cpu
#pragma GCC diagnostic pop

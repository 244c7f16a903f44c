// Implicit-GEMM convolution for stride 1 (float32, AVX-512): y (O, L) = w (O, K) @ cols (K, L) per
// image, where the "cols" operand is never built: with stride 1, a run of 16 output pixels along a
// row reads a run of 16 floats of the zero-padded input, at offset off[k] = c * Hp * Wp + kh * Wp +
// kw from the run's base. So the micro-kernel loads B vectors straight from the padded image
// (which stays in L1/L2 while all output channels are computed), and only the weights are packed,
// once per call, into MR-row k-major panels. Output rows run as ceil(OW / 16) vectors, the last
// one masked on store; for shapes that use under 3/4 of the lanes (OW = 8, 20, ...) the forward
// and input gradient stay on the im2col path (the weight gradient's GEMM form takes any OW >= 8). Against im2col + GEMM this removes the column buffer, its packing and (for the input
// gradient, a correlation of gy with the flipped, transposed weights) col2im: 1.3-1.8x faster
// per pass on the small-VGG and MNIST-sized layers (numbers at each routing rule below).
// Register tile: MR = 8 output channels x 3 vectors of 16 pixels (24 zmm accumulators); conv
// channel counts are multiples of 8 far more often than of 12. The sum over k runs in GEMM order,
// so results match the im2col path to rounding.
// Threads: images split over threads (each with its own padded copy); a batch smaller than the
// thread count splits each image's pixel tiles instead.
#include "conv_igemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"
#include "transpose_avx512.h"

#define EMBER_AVX512 __attribute__((target("avx512f,avx512vl,fma")))

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -Wmaybe-uninitialized flags once transpose16 is inlined (a false positive; as in gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ember::cpu {
namespace {

constexpr int MR = 8;     // output channels per tile
constexpr int NV = 3;     // 16-pixel vectors per tile
constexpr int64_t VL = 16;

// A stride-1 correlation: in (Ci, H, W) zero-padded by (ph, pw) -> out (Co, OH, OW), per image.
struct Corr {
  int64_t N, Ci, H, W, Co, KH, KW, ph, pw, OH, OW;
  int64_t Hp() const { return H + 2 * ph; }
  int64_t Wp() const { return W + 2 * pw; }
  int64_t K() const { return Ci * KH * KW; }
};

// Output rows run as ceil(OW / 16) vectors, the last one masked: route only shapes whose lanes are
// at least 3/4 used (OW = 12..16, 24..32, 36..48, ...; 28 and 14 for MNIST-sized images).
int64_t vecs_per_row(int64_t OW) { return (OW + VL - 1) / VL; }
bool lanes_ok(int64_t OW) { return OW > 0 && 4 * OW >= 3 * VL * vecs_per_row(OW); }

// Tap offsets are int32 (the padded image plus VL floats of slack must fit).
bool offsets_fit(const Corr& c) { return c.Ci * c.Hp() * c.Wp() + VL < (int64_t(1) << 31); }

bool geometry_ok(const Corr& c) {
  return c.OW > 0 && c.OH > 0 && lanes_ok(c.OW) && c.K() > 0 && offsets_fit(c);
}

// off[k] for k = (ci, kh, kw): the tap's offset in the padded image from a pixel run's base.
std::vector<int32_t> tap_offsets(const Corr& c) {
  std::vector<int32_t> off(static_cast<size_t>(c.K()));
  for (int64_t ci = 0, k = 0; ci < c.Ci; ++ci)
    for (int64_t kh = 0; kh < c.KH; ++kh)
      for (int64_t kw = 0; kw < c.KW; ++kw, ++k) off[k] = static_cast<int32_t>((ci * c.Hp() + kh) * c.Wp() + kw);
  return off;
}

// The pixel vectors of one output: vector v covers row oh = v / vecs_per_row, columns
// [ow0, ow0 + width) with ow0 = 16 * (v % vecs_per_row).
struct PixVec {
  int64_t in_off;   // offset in the padded image of (oh, ow0)
  int64_t out_off;  // pixel index oh * OW + ow0
  __mmask16 mask;   // width lanes
};
inline PixVec pix_vec(const Corr& c, int64_t v) {
  const int64_t nvr = vecs_per_row(c.OW), oh = v / nvr, ow0 = (v % nvr) * VL;
  const int64_t width = std::min<int64_t>(VL, c.OW - ow0);
  return PixVec{oh * c.Wp() + ow0, oh * c.OW + ow0, static_cast<__mmask16>((1u << width) - 1)};
}

// Tile of m (<= MR) output channels x nv (<= NV) pixel vectors: c[i][px_v + j] =
// bias[i] + sum_k a[k * MR + i] * b_v[off[k] + j] (then max with 0 if relu, NaN and -0 kept) for
// the lanes j in mask_v. Lanes outside the mask
// are computed from whatever follows the row in the padded image (in bounds, never stored).
template <int NVT>
EMBER_AVX512 void tile(int64_t K, const float* a, const int32_t* off, const float* const* bp, const PixVec* pv,
                       float* c, int64_t ldc, int m, const float* bias, bool relu) {
  __m512 acc[MR][NVT];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 3
    for (int v = 0; v < NVT; ++v) acc[i][v] = _mm512_setzero_ps();
  const float* b0 = bp[0];
  const float* b1 = NVT > 1 ? bp[1] : bp[0];
  const float* b2 = NVT > 2 ? bp[2] : bp[0];
#pragma GCC unroll 2
  for (int64_t k = 0; k < K; ++k) {
    const int64_t o = off[k];
    __m512 bv[NVT];
    bv[0] = _mm512_loadu_ps(b0 + o);
    if constexpr (NVT > 1) bv[1] = _mm512_loadu_ps(b1 + o);
    if constexpr (NVT > 2) bv[2] = _mm512_loadu_ps(b2 + o);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
#pragma GCC unroll 3
      for (int v = 0; v < NVT; ++v) acc[i][v] = _mm512_fmadd_ps(ai, bv[v], acc[i][v]);
    }
    a += MR;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i < m) {
      const __m512 bi = _mm512_set1_ps(bias ? bias[i] : 0.0f);
#pragma GCC unroll 3
      for (int v = 0; v < NVT; ++v) {
        const __m512 r = _mm512_add_ps(acc[i][v], bi);
        // vmaxps returns its second operand for NaN and for two zeros: -0 and NaN stay
        _mm512_mask_storeu_ps(c + i * ldc + pv[v].out_off, pv[v].mask,
                              relu ? _mm512_max_ps(_mm512_setzero_ps(), r) : r);
      }
    }
  }
}

// Pixel tiles: NV vectors each, except that a remainder of one vector turns the last two tiles
// into 2 + 2 (a 1-vector tile runs at about a third of the FMA rate; it cost ~10% at 16x16).
int64_t tile_count(int64_t nvec) {
  const int64_t full = nvec / NV, rem = nvec % NV;
  return rem == 1 && full >= 1 ? full + 1 : full + (rem ? 1 : 0);
}
// Tile t -> its first vector v0 and its width nv.
void tile_span(int64_t nvec, int64_t t, int64_t& v0, int& nv) {
  const int64_t full = nvec / NV, rem = nvec % NV;
  if (rem == 1 && full >= 1 && t >= full - 1) {
    v0 = (full - 1) * NV + (t - (full - 1)) * 2, nv = 2;
  } else {
    v0 = t * NV, nv = static_cast<int>(std::min<int64_t>(NV, nvec - v0));
  }
}

// One image: padded copy P (borders zero) -> out, pixel tiles [t0, t1).
EMBER_AVX512 void run_tiles(const Corr& c, const float* apack, const int32_t* off, const float* bias, bool relu,
                            const float* P, float* out, int64_t t0, int64_t t1) {
  const int64_t K = c.K(), L = c.OH * c.OW, nvec = c.OH * vecs_per_row(c.OW);
  const int64_t panels = (c.Co + MR - 1) / MR;
  for (int64_t t = t0; t < t1; ++t) {
    int64_t v0;
    int nv;
    tile_span(nvec, t, v0, nv);
    const float* bp[NV];
    PixVec pv[NV];
    for (int v = 0; v < nv; ++v) {
      pv[v] = pix_vec(c, v0 + v);
      bp[v] = P + pv[v].in_off;
    }
    for (int64_t p = 0; p < panels; ++p) {
      const int m = static_cast<int>(std::min<int64_t>(MR, c.Co - p * MR));
      const float* a = apack + p * K * MR;
      float* cp = out + p * MR * L;
      const float* bb = bias ? bias + p * MR : nullptr;
      if (nv == 3) tile<3>(K, a, off, bp, pv, cp, L, m, bb, relu);
      else if (nv == 2) tile<2>(K, a, off, bp, pv, cp, L, m, bb, relu);
      else tile<1>(K, a, off, bp, pv, cp, L, m, bb, relu);
    }
  }
}

// Rows are short (8..64 floats) and many (C * H per image): copied with vector moves, as a memcpy
// call per row measured 5% of a small-VGG step.
EMBER_AVX512 void pad_into(const Corr& c, const float* in, float* P) {
  const int64_t Hp = c.Hp(), Wp = c.Wp(), W = c.W;
  const __mmask16 tail = static_cast<__mmask16>((1u << (W % VL)) - 1);
  for (int64_t ch = 0; ch < c.Ci; ++ch)
    for (int64_t h = 0; h < c.H; ++h) {
      float* d = P + (ch * Hp + h + c.ph) * Wp + c.pw;
      const float* s = in + (ch * c.H + h) * W;
      int64_t i = 0;
      for (; i + VL <= W; i += VL) _mm512_storeu_ps(d + i, _mm512_loadu_ps(s + i));
      if (tail) _mm512_mask_storeu_ps(d + i, tail, _mm512_maskz_loadu_ps(tail, s + i));
    }
}

// wval(o, k): the weight of output channel o at k = (ci, kh, kw); relu: the tiles' epilogue.
template <class WVal>
void correlate(const Corr& c, const float* in, const WVal& wval, const float* bias, bool relu, float* out) {
  const int64_t K = c.K(), panels = (c.Co + MR - 1) / MR, L = c.OH * c.OW;
  // VL floats of slack: a masked row-end vector reads (and drops) up to 15 floats past the image
  const int64_t plane = c.Ci * c.Hp() * c.Wp() + VL;
  std::unique_ptr<float[]> apack(new float[static_cast<size_t>(panels * K * MR)]);
  for (int64_t p = 0; p < panels; ++p)
    for (int64_t k = 0; k < K; ++k)
      for (int i = 0; i < MR; ++i) {
        const int64_t o = p * MR + i;
        apack[(p * K + k) * MR + i] = o < c.Co ? wval(o, k) : 0.0f;
      }
  const std::vector<int32_t> off = tap_offsets(c);
  const int64_t tiles = tile_count(c.OH * vecs_per_row(c.OW));
  const int nt = get_num_threads();
  if (nt > 1 && c.N < nt && !in_parallel_region()) {
    std::unique_ptr<float[]> P(new float[static_cast<size_t>(plane)]());
    for (int64_t n = 0; n < c.N; ++n) {
      pad_into(c, in + n * c.Ci * c.H * c.W, P.get());
      parallel_for(0, tiles, 1, [&](int64_t b, int64_t e) {
        run_tiles(c, apack.get(), off.data(), bias, relu, P.get(), out + n * c.Co * L, b, e);
      });
    }
    return;
  }
  ThreadScratch<float> padded(plane, true);
  parallel_for_pieces(0, c.N, 1, kImagePieces, [&](int64_t b, int64_t e, int t) {
    float* const P = padded(t);
    for (int64_t n = b; n < e; ++n) {
      pad_into(c, in + n * c.Ci * c.H * c.W, P);
      run_tiles(c, apack.get(), off.data(), bias, relu, P, out + n * c.Co * L, 0, tiles);
    }
  });
}

bool common_ok(const ConvGeom& g) {
  // EMBER_CONV_IGEMM=0 turns this path off (A/B benchmarks, and tests of the fallback).
  static const bool off = [] {
    const char* e = std::getenv("EMBER_CONV_IGEMM");
    return e && std::string(e) == "0";
  }();
  return !off && cpu_isa() == Isa::Avx512 && g.groups == 1 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1;
}

Corr forward_corr(const ConvGeom& g) { return Corr{g.N, g.C, g.H, g.W, g.O, g.KH, g.KW, g.ph, g.pw, g.OH, g.OW}; }

// The input gradient is the correlation of gy, padded by (KH - 1 - ph, KW - 1 - pw), with
// w'[c][o][kh][kw] = w[o][c][KH-1-kh][KW-1-kw].
Corr input_grad_corr(const ConvGeom& g) {
  return Corr{g.N, g.O, g.OH, g.OW, g.C, g.KH, g.KW, g.KH - 1 - g.ph, g.KW - 1 - g.pw, g.H, g.W};
}

// --- weight gradient ------------------------------------------------------------------------------
// dw (O, K) = sum over images and pixels of gy[o][l] * P[base(l) + off[k]]: a reduction along the
// pixels, vectorised over 16 of them, with a register tile of WO output channels x WK taps whose
// lane accumulators live across a block of images and are summed horizontally once per block.
constexpr int WO = 4, WK = 6;
// Few taps (K = C*KH*KW < 128, e.g. a first RGB layer): the direct reduction; otherwise a GEMM with
// tap-packed B (below). Measured on bench shapes at 1 thread: 3->32 at 32x32 (K = 27) direct 2.4 ms
// vs GEMM 2.9; 32->64 and 64->64 at 16x16 GEMM 9.7 / 17.1 ms vs direct 11.5 / 21.6.
constexpr int64_t kDirectWgradMaxK = 127;

// acc[i][j] over the pixel vectors of one image: gy rows g[i] (16-float aligned runs), x runs at
// P + base(l) + off[j].
// (Kept inline so acc stays in registers. Measured ~115 GFLOP/s: the 6 unaligned x loads per
// 24 FMAs, not the cache or the horizontal sums, bound it; 8x3 tiles were slower.)
EMBER_AVX512 inline __attribute__((always_inline)) void wgrad_image(const Corr& c, const float* const* g,
                                                                    const float* P, const int32_t* off,
                                                                    __m512 (&acc_out)[WO][WK]) {
  // The tile in locals for the whole image: through the reference, GCC 12 stored all 24
  // accumulators back to the stack after every pixel vector, store-bound (3->64 at 32x32, 1
  // thread: weight gradient 9.7 ms then, 4.1-4.6 ms now).
  __m512 acc[WO][WK];
#pragma GCC unroll 8
  for (int i = 0; i < WO; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < WK; ++j) acc[i][j] = acc_out[i][j];
  const int64_t Wp = c.Wp();
  for (int64_t oh = 0; oh < c.OH; ++oh) {
    for (int64_t ow = 0; ow < c.OW; ow += VL) {
      // the row's last vector may be partial: its lanes past OW load as zeros on both sides
      const int64_t width = std::min<int64_t>(VL, c.OW - ow), l0 = oh * c.OW + ow;
      const __mmask16 mk = static_cast<__mmask16>((1u << width) - 1);
      const float* xb = P + oh * Wp + ow;
      __m512 gv[WO];
#pragma GCC unroll 8
      for (int i = 0; i < WO; ++i) gv[i] = _mm512_maskz_loadu_ps(mk, g[i] + l0);
#pragma GCC unroll 8
      for (int j = 0; j < WK; ++j) {
        const __m512 xv = _mm512_maskz_loadu_ps(mk, xb + off[j]);
#pragma GCC unroll 8
        for (int i = 0; i < WO; ++i) acc[i][j] = _mm512_fmadd_ps(gv[i], xv, acc[i][j]);
      }
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < WO; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < WK; ++j) acc_out[i][j] = acc[i][j];
}

// dw[o][k] += over images [0, nb) (gy rows gy + n * gy_img, padded images Ps[n]) for all tiles.
EMBER_AVX512 void wgrad_block(const Corr& c, const float* gy, int64_t gy_img, const float* const* Ps, int64_t nb,
                              const int32_t* off, float* dw) {
  const int64_t K = c.K(), L = c.OH * c.OW;
  // Output channels outer: the WO gy rows of the block stay in L1 while the taps sweep the
  // (L2-resident) padded images.
  for (int64_t o0 = 0; o0 < c.Co; o0 += WO) {
    const int mo = static_cast<int>(std::min<int64_t>(WO, c.Co - o0));
    for (int64_t k0 = 0; k0 < K; k0 += WK) {
      const int mk = static_cast<int>(std::min<int64_t>(WK, K - k0));
      int32_t o6[WK];
      for (int j = 0; j < WK; ++j) o6[j] = off[j < mk ? k0 + j : k0];  // tail taps repeat a real one
      __m512 acc[WO][WK];
#pragma GCC unroll 8
      for (int i = 0; i < WO; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < WK; ++j) acc[i][j] = _mm512_setzero_ps();
      for (int64_t n = 0; n < nb; ++n) {
        const float* g[WO];
        for (int i = 0; i < WO; ++i) g[i] = gy + n * gy_img + (o0 + (i < mo ? i : 0)) * L;
        wgrad_image(c, g, Ps[n], o6, acc);
      }
      for (int i = 0; i < mo; ++i)
        for (int j = 0; j < mk; ++j) dw[(o0 + i) * K + k0 + j] += _mm512_reduce_add_ps(acc[i][j]);
    }
  }
}


// --- weight gradient as a GEMM (wide layers) --------------------------------------------------------
// dw (O, K) += gy (O, L) @ B (L, K) with B[l][k] = P[base(l) + off[k]] packed straight from the
// padded image: 16 taps x 16 pixels loaded as 16 rows, transposed in registers, stored as 16
// pixel rows of a k-major GEMM panel. No column buffer, no second (transposing) pack.

// B[l0:l0+kc, j0:j0+nc] -> ceil(nc/nr) panels of kc x nr (k-major, columns >= nc zero).
EMBER_AVX512 void pack_taps(const Corr& c, const float* P, const int32_t* off, int64_t l0, int64_t kc, int64_t j0,
                            int64_t nc, int nr, float* dst) {
  const int64_t Wp = c.Wp();
  for (int64_t p0 = j0; p0 < j0 + nc; p0 += nr, dst += kc * nr) {
    const int64_t w = std::min<int64_t>(nr, j0 + nc - p0);
    for (int64_t q = 0; q < nr; q += VL) {  // 16 panel columns (taps) at a time
      const int nt = static_cast<int>(std::max<int64_t>(0, std::min<int64_t>(VL, w - q)));
      const float* src[VL];
      // columns past the last tap (zero-filled below) point at the panel's first tap, which exists
      for (int i = 0; i < VL; ++i) src[i] = P + off[i < nt ? p0 + q + i : p0];
      int64_t l = l0;
      // 16-pixel runs: the first a lanes from output row oh, the rest (if any) from the start of
      // row oh + 1.
      for (; l + VL <= l0 + kc && l % VL == 0; l += VL) {
        const int64_t oh = l / c.OW, ow = l % c.OW, a = std::min<int64_t>(VL, c.OW - ow);
        if (VL - a > c.OW) {  // three rows (OW < 16): lane by lane
          for (int64_t t = 0; t < VL; ++t) {
            const int64_t lt = l + t, b = (lt / c.OW) * Wp + lt % c.OW;
            float* d = dst + (lt - l0) * nr + q;
            for (int i = 0; i < VL; ++i) d[i] = i < nt ? src[i][b] : 0.0f;
          }
          continue;
        }
        const __mmask16 m1 = static_cast<__mmask16>((1u << a) - 1), m2 = static_cast<__mmask16>(~m1);
        const int64_t b1 = oh * Wp + ow, b2 = (oh + 1) * Wp - a;
        __m512 r[VL];
#pragma GCC unroll 16
        for (int i = 0; i < VL; ++i)
          r[i] = i >= nt   ? _mm512_setzero_ps()
                 : m2 == 0 ? _mm512_loadu_ps(src[i] + b1)
                           : _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(m1, src[i] + b1), m2, src[i] + b2);
        transpose16(r);
        float* d = dst + (l - l0) * nr + q;
#pragma GCC unroll 16
        for (int t = 0; t < VL; ++t) _mm512_storeu_ps(d + t * nr, r[t]);
      }
      for (; l < l0 + kc; ++l) {  // ragged ends
        const int64_t b = (l / c.OW) * Wp + l % c.OW;
        float* d = dst + (l - l0) * nr + q;
        for (int i = 0; i < VL; ++i) d[i] = i < nt ? src[i][b] : 0.0f;
      }
    }
  }
}


// db[o] += sum of gy_n[o][0:L] (one image).
EMBER_AVX512 void add_bias_grad(const float* gyn, int64_t O, int64_t L, float* db) {
  for (int64_t o = 0; o < O; ++o) {
    const float* r = gyn + o * L;
    __m512 s = _mm512_setzero_ps();
    int64_t l = 0;
    for (; l + VL <= L; l += VL) s = _mm512_add_ps(s, _mm512_loadu_ps(r + l));
    const __mmask16 m = static_cast<__mmask16>((1u << (L - l)) - 1);
    s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, r + l));
    db[o] += _mm512_reduce_add_ps(s);
  }
}

// dbias[o] = sum over chunks of part[ch * O + o], in chunk order.
void sum_bias_grad(const float* part, int64_t chunks, int64_t O, float* dbias) {
  for (int64_t o = 0; o < O; ++o) {
    float s = part[o];
    for (int64_t ch = 1; ch < chunks; ++ch) s += part[ch * O + o];
    dbias[o] = s;
  }
}

}  // namespace

bool igemm_forward_ok(const ConvGeom& g) { return common_ok(g) && geometry_ok(forward_corr(g)); }

// Input channels are the correlation's output channels: with fewer than MR most of each 8-row tile
// is padding (C = 3: 5.0 ms vs 3.4 on the GEMM + col2im path for (64,3,32,32)->64; C = 8: 4.7 vs 6.5).
// A 1x1 unpadded convolution's gradients are plain GEMMs on x and gy in place (no im2col/col2im
// in conv.cpp), which measured faster than these kernels ((32,64,16,16)->128 fwd+bwd: 3.6 ms vs
// 5.0), so only its forward comes here.
bool pointwise(const ConvGeom& g) { return g.KH == 1 && g.KW == 1 && g.ph == 0 && g.pw == 0; }

bool igemm_backward_input_ok(const ConvGeom& g) {
  return common_ok(g) && !pointwise(g) && g.C >= MR && g.ph <= g.KH - 1 && g.pw <= g.KW - 1 && geometry_ok(input_grad_corr(g));
}

void igemm_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t K = g.C * g.KH * g.KW;
  correlate(forward_corr(g), x, [&](int64_t o, int64_t k) { return w[o * K + k]; }, bias, g.relu, y);
}

// The weight gradient reads x through the forward correlation's geometry (out = gy's planes).
// Against im2col + GEMM (1 thread): 3->32 at 32x32 3.8 -> 2.4 ms, 32->32 at 32x32 31 -> 21,
// 64->128 at 16x16 16.2 -> 14.6, 64->128 at 8x8 (batch 128) 9.8 -> 7.6.
bool igemm_backward_weight_ok(const ConvGeom& g) {
  if (pointwise(g) || !common_ok(g)) return false;
  const Corr c = forward_corr(g);
  if (geometry_ok(c)) return true;
  // Narrower rows (OW = 8..11, 17..23, ...): the tap-packed GEMM (K >= 128) handles any OW >= 8.
  return c.K() > kDirectWgradMaxK && c.OW >= 8 && c.OH > 0 && offsets_fit(c);
}

void igemm_backward_weight(const ConvGeom& g, const float* x, const float* gy, float* dw, float* dbias) {
  const Corr c = forward_corr(g);
  const int64_t K = c.K(), L = c.OH * c.OW, WN = c.Co * K, plane = c.Ci * c.Hp() * c.Wp();
  // Bias gradient per chunk, summed from each image's gy right after the weight gradient read it
  // (from L2, where a separate pass over gy reads memory: ~2% of a small-VGG step).
  const int nt = get_num_threads();
  std::vector<float> dbp(static_cast<size_t>(dbias ? std::max(nt, 1) * c.Co : 0), 0.0f);  // chunks <= nt
  const std::vector<int32_t> off = tap_offsets(c);
  if (K > kDirectWgradMaxK) {
    // Wide layers: one GEMM per image, accumulating into per-thread partial sums.
    const int64_t chunks = nt > 1 && c.N >= nt && !in_parallel_region() ? nt : 1;
    std::unique_ptr<float[]> part(new float[static_cast<size_t>((chunks - 1) * WN)]);
    parallel_for(0, chunks, 1, [&](int64_t cb, int64_t ce) {
      std::unique_ptr<float[]> P(new float[static_cast<size_t>(plane)]());
      for (int64_t ch = cb; ch < ce; ++ch) {
        float* acc = ch == 0 ? dw : part.get() + (ch - 1) * WN;
        const int64_t n0 = c.N * ch / chunks, n1 = c.N * (ch + 1) / chunks;
        if (n0 == n1) std::fill(acc, acc + WN, 0.0f);
        for (int64_t n = n0; n < n1; ++n) {
          pad_into(c, x + n * c.Ci * c.H * c.W, P.get());
          const GemmPackB pack = [&](int64_t l0, int64_t kc, int64_t j0, int64_t nc, int nr, void* dst) {
            pack_taps(c, P.get(), off.data(), l0, kc, j0, nc, nr, static_cast<float*>(dst));
          };
          gemm_packed_b(DType::Float32, c.Co, K, L, Scalar(1.0), gy + n * c.Co * L, L, 1, pack,
                        Scalar(n == n0 ? 0.0 : 1.0), acc, K, 1, chunks == 1);
          if (dbias) add_bias_grad(gy + n * c.Co * L, c.Co, L, dbp.data() + ch * c.Co);
        }
      }
    });
    parallel_for(0, WN, 4096, [&](int64_t b, int64_t e) {
      for (int64_t ch = 1; ch < chunks; ++ch) {
        const float* p = part.get() + (ch - 1) * WN;
        for (int64_t i = b; i < e; ++i) dw[i] += p[i];
      }
    });
    if (dbias) sum_bias_grad(dbp.data(), chunks, c.Co, dbias);
    return;
  }
  // Images per block: enough pixel vectors (>= 64) per tile to amortise the horizontal sums.
  const int64_t nb_max = std::max<int64_t>(1, std::min<int64_t>(c.N, (64 * VL + L - 1) / L));
  const int64_t chunks = nt > 1 && c.N >= 2 && !in_parallel_region() ? std::min<int64_t>(nt, c.N) : 1;
  std::unique_ptr<float[]> partial(new float[static_cast<size_t>(chunks * WN)]());
  parallel_for(0, chunks, 1, [&](int64_t cb, int64_t ce) {
    std::unique_ptr<float[]> P(new float[static_cast<size_t>(nb_max * plane)]());
    std::vector<const float*> Ps(static_cast<size_t>(nb_max));
    for (int64_t ch = cb; ch < ce; ++ch) {
      const int64_t n0 = c.N * ch / chunks, n1 = c.N * (ch + 1) / chunks;
      float* acc = partial.get() + ch * WN;
      for (int64_t b = n0; b < n1; b += nb_max) {
        const int64_t nb = std::min(nb_max, n1 - b);
        for (int64_t i = 0; i < nb; ++i) {
          pad_into(c, x + (b + i) * c.Ci * c.H * c.W, P.get() + i * plane);
          Ps[i] = P.get() + i * plane;
        }
        wgrad_block(c, gy + b * c.Co * L, c.Co * L, Ps.data(), nb, off.data(), acc);
        if (dbias)
          for (int64_t i = 0; i < nb; ++i) add_bias_grad(gy + (b + i) * c.Co * L, c.Co, L, dbp.data() + ch * c.Co);
      }
    }
  });
  parallel_for(0, WN, 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      float s = partial[i];
      for (int64_t ch = 1; ch < chunks; ++ch) s += partial[ch * WN + i];
      dw[i] = s;
    }
  });
  if (dbias) sum_bias_grad(dbp.data(), chunks, c.Co, dbias);
}

void igemm_backward_input(const ConvGeom& g, const float* gy, const float* w, float* dx) {
  const int64_t KK = g.KH * g.KW, Kw = g.C * KK;
  // k = (o, kh, kw) of gy's channels and the flipped tap
  auto wval = [&](int64_t c, int64_t k) {
    const int64_t o = k / KK, r = k % KK, kh = r / g.KW, kw = r % g.KW;
    return w[o * Kw + c * KK + (g.KH - 1 - kh) * g.KW + (g.KW - 1 - kw)];
  };
  correlate(input_grad_corr(g), gy, wval, nullptr, false, dx);
}

}  // namespace ember::cpu

#pragma GCC diagnostic pop

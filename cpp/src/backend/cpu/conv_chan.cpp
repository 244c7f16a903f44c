// Channel-vectorised direct convolution for stride 1 (float32, AVX-512 and AVX2). The other direct
// kernels (conv_small.cpp, conv_igemm.cpp) put 16 output pixels of a row in a vector, which wastes
// lanes on narrow rows: LeNet's second convolution (14 x 14 -> 10 x 10, 5 x 5) fills 10 of 16, and
// its input gradient, a correlation of gy padded by 4, multiplies padding in half of its products.
// Here a vector holds 16 channels instead (8 with AVX2), and pixels are broadcast:
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
// The kernels and their drivers are written once over a vector type (conv_chan_kernels.inc) and
// built twice: AVX-512 (16 lanes, 32 registers) and AVX2 (8 lanes, 16 registers; smaller tiles).
// On AVX2 CPUs the pixel-vectorised kernels (AVX-512 only) are not there to leave shapes to, and
// the alternative is im2col + GEMM, so more shapes come here (the routing below). AVX2 mode
// (EMBER_ISA=avx2), 1 thread, against im2col + GEMM, fwd / dx / dw: the main job's 16 -> 32 5x5
// 2.2x / 1.6x / 2.1x and 1 -> 16 1.9x / - / 3.3x; LeNet's 6 -> 16 3x / 1.6x / 3.5x and 1 -> 6
// 2.1x / - / 2.5x; 16 -> 32 3x3 at 28 wide 1.6x / 1.16x / 1.65x; 3 -> 64 at 32 wide dw 2.3x, its
// forward 0.96x (not taken: O > 32).

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "conv_util.h"
#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"
#include "transpose_avx2.h"
#include "transpose_avx512.h"

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -Wmaybe-uninitialized flags once transpose16 is inlined (a false positive; as in gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace ember::cpu {
namespace {

namespace chan_avx512 {
#define EMBER_CH_ATTR __attribute__((target("avx512f,avx512vl,fma")))
struct V {
  using R = __m512;
  static constexpr int L = 16;
  EMBER_CH_ATTR static R zero() { return _mm512_setzero_ps(); }
  EMBER_CH_ATTR static R load(const float* p) { return _mm512_loadu_ps(p); }
  EMBER_CH_ATTR static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  EMBER_CH_ATTR static R set1(float x) { return _mm512_set1_ps(x); }
  EMBER_CH_ATTR static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  EMBER_CH_ATTR static R add(R a, R b) { return _mm512_add_ps(a, b); }
  // max(0, v): vmaxps returns its second operand for NaN and for two zeros, so -0 and NaN stay
  EMBER_CH_ATTR static R relu(R v) { return _mm512_max_ps(zero(), v); }
  EMBER_CH_ATTR static __mmask16 first(int n) { return static_cast<__mmask16>((1u << n) - 1); }
  EMBER_CH_ATTR static R loadn(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  EMBER_CH_ATTR static void storen(float* p, R v, int n) { _mm512_mask_storeu_ps(p, first(n), v); }
  EMBER_CH_ATTR static void transpose(R* r) { transpose16(r); }
};
// 32 zmm: 16 + 1 weight + 1 broadcast; 28 + 2 + 1; up to 22 (+ KW + 1) with 3- and 5-wide kernels
constexpr int kFwdMaxMr1 = 16, kFwdMaxMr2 = 14, kDxMaxMr3 = 16, kDxMaxMr5 = 16;
constexpr bool kFwdHideRow = false;
constexpr bool dx_tap_outer(int) { return false; }
#include "conv_chan_kernels.inc"
#undef EMBER_CH_ATTR
}  // namespace chan_avx512

namespace chan_avx2 {
#define EMBER_CH_ATTR __attribute__((target("avx2,fma")))
struct V {
  using R = __m256;
  static constexpr int L = 8;
  EMBER_CH_ATTR static R zero() { return _mm256_setzero_ps(); }
  EMBER_CH_ATTR static R load(const float* p) { return _mm256_loadu_ps(p); }
  EMBER_CH_ATTR static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  EMBER_CH_ATTR static R set1(float x) { return _mm256_set1_ps(x); }
  EMBER_CH_ATTR static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  EMBER_CH_ATTR static R add(R a, R b) { return _mm256_add_ps(a, b); }
  EMBER_CH_ATTR static R relu(R v) { return _mm256_max_ps(zero(), v); }  // as the AVX-512 one
  EMBER_CH_ATTR static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // masked-off lanes are not read (no fault past the end) and not written; whole vectors go
  // unmasked (AMD's vmaskmovps store is microcoded: masking every store ran the forward's
  // transposes 4x slower than its multiply-adds)
  EMBER_CH_ATTR static R loadn(const float* p, int n) { return n == L ? load(p) : _mm256_maskload_ps(p, first(n)); }
  EMBER_CH_ATTR static void storen(float* p, R v, int n) {
    if (n == L) store(p, v);
    else _mm256_maskstore_ps(p, first(n), v);
  }
  EMBER_CH_ATTR static void transpose(R* r) { transpose8(r); }
};
// 16 ymm: 12 + 1 + 1; 12 + 2 + 1; input gradient, 3-wide: 12 accumulators + 3 weights + 1
// broadcast; 5-wide: 14 + 1 + 1 with taps outer. (All five weights in registers leave room for
// 6 columns, 10 accumulators, and each accumulator then takes 5 dependent multiply-adds per 30:
// latency-bound at 2 FMAs a cycle.)
constexpr int kFwdMaxMr1 = 12, kFwdMaxMr2 = 6, kDxMaxMr3 = 10, kDxMaxMr5 = 10;
constexpr bool kFwdHideRow = true;
constexpr bool dx_tap_outer(int KW) { return KW >= 5; }
#include "conv_chan_kernels.inc"
#undef EMBER_CH_ATTR
}  // namespace chan_avx2

bool common_ok(const ConvGeom& g) {
  // EMBER_CONV_CHAN=0 turns this path off (A/B benchmarks, and tests of the other paths).
  static const bool off = [] {
    const char* e = std::getenv("EMBER_CONV_CHAN");
    return e && std::string(e) == "0";
  }();
  return !off && cpu_isa() != Isa::Base && g.groups == 1 && g.sh == 1 && g.sw == 1 && g.dh == 1 && g.dw == 1 &&
         g.N > 0 && g.OH > 0 && g.OW > 0 && g.ph < g.KH && g.pw < g.KW;
}

// Channels per vector on this CPU
int64_t lanes() { return cpu_isa() == Isa::Avx512 ? chan_avx512::VL : chan_avx2::VL; }

// A channel count this path takes: whole vectors, or on AVX2 CPUs (where the alternative is
// im2col + GEMM, not the pixel-vectorised kernels) a last vector at least 3/4 full (LeNet's 6
// channels in 8 lanes).
bool channels_ok(int64_t ch) {
  const int64_t vl = lanes();
  return ch % vl == 0 || (cpu_isa() == Isa::Avx2 && 4 * ch >= 3 * ((ch + vl - 1) / vl * vl));
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
  if (!common_ok(g) || !channels_ok(g.O)) return false;
  const bool narrow = 5 * g.OW < 4 * ((g.OW + 15) / 16 * 16);
  return narrow || (cpu_isa() == Isa::Avx2 && g.O <= 32);
}

bool chan_backward_input_ok(const ConvGeom& g) {
  return common_ok(g) && channels_ok(g.C) && (g.KW == 3 || g.KW == 5);
}

bool chan_backward_weight_ok(const ConvGeom& g) {
  return common_ok(g) && channels_ok(g.O) && (g.KW == 3 || g.KW == 5);
}

void chan_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  if (cpu_isa() == Isa::Avx512) chan_avx512::forward(g, x, w, bias, y);
  else chan_avx2::forward(g, x, w, bias, y);
}

void chan_backward_input(const ConvGeom& g, const float* gy, const float* w, float* dx) {
  if (cpu_isa() == Isa::Avx512) chan_avx512::backward_input(g, gy, w, dx);
  else chan_avx2::backward_input(g, gy, w, dx);
}

void chan_backward_weight(const ConvGeom& g, const float* x, const float* gy, float* dw, float* dbias) {
  if (cpu_isa() == Isa::Avx512) chan_avx512::backward_weight(g, x, gy, dw, dbias);
  else chan_avx2::backward_weight(g, x, gy, dw, dbias);
}

}  // namespace ember::cpu
#pragma GCC diagnostic pop

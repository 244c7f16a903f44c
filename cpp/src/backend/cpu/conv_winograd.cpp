// Winograd F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks",
// 2016): each 2x2 tile of output pixels is computed from a 4x4 tile of input through
// Y = A^T [(G g G^T) .* (B^T d B)] A, so the 36 multiply-adds per tile and channel pair become 16,
// and those 16 (one per transform point xi) are batched over channel pairs and tiles as 16 GEMMs:
// M_xi (O, T) = U_xi (O, C) @ V_xi (C, T), U the transformed weights, V the transformed input
// tiles of a chunk of images. 2.25x fewer multiplications than im2col + GEMM, and the padding
// taps im2col multiplies (44% of a 4x4 plane's with padding 1) cost only the input transform.
// The transform matrices hold 0, +-1 and +-1/2, so rounding stays close to direct convolution's
// (tests compare with torch at the usual tolerances). The input gradient of a stride-1 3x3
// convolution is itself one (gy padded by 2 - p, the kernel flipped and transposed), so it runs
// through the same code with its own U; the weight gradient is the forward's transpose,
// dw = G^T [sum over tiles of (A dy A^T) .* (B^T d B)] G, 16 GEMMs (O, T) @ (T, C).
#include "conv_winograd.h"

#include <algorithm>
#include <memory>

#include "conv_util.h"
#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"

namespace ember::cpu {
namespace {

// Images per chunk: about kTileCols tiles side by side in each GEMM's columns.
constexpr int64_t kTileCols = 512;
// The 16 transform points' planes (of U, V and M) sit this many elements further apart than their
// size: plane sizes are often powers of two, and 16 streams 2^k floats apart fall in one L1 set
// (the transforms ran 4x slower so).
constexpr int64_t kPlanePad = 16;

template <class T>
DType dtype_of() {
  return std::is_same_v<T, float> ? DType::Float32 : DType::Float64;
}

// u (4x4) = G g G^T, G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]; g (3x3) read
// through strides (flip: g[2 - i][2 - j]).
template <class T>
void transform_kernel(const T* g, bool flip, T* u) {
  T k[3][3];
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) k[i][j] = flip ? g[(2 - i) * 3 + (2 - j)] : g[i * 3 + j];
  T t[4][3];  // G g
  for (int j = 0; j < 3; ++j) {
    t[0][j] = k[0][j];
    t[1][j] = T(0.5) * (k[0][j] + k[1][j] + k[2][j]);
    t[2][j] = T(0.5) * (k[0][j] - k[1][j] + k[2][j]);
    t[3][j] = k[2][j];
  }
  for (int i = 0; i < 4; ++i) {  // (G g) G^T
    u[i * 4 + 0] = t[i][0];
    u[i * 4 + 1] = T(0.5) * (t[i][0] + t[i][1] + t[i][2]);
    u[i * 4 + 2] = T(0.5) * (t[i][0] - t[i][1] + t[i][2]);
    u[i * 4 + 3] = t[i][2];
  }
}

// One convolution, 3x3, stride 1: x (N, Ci, H, W) -> y (N, Co, OH, OW), input padded by (ph, pw),
// U (16, Co, Ci) the transformed kernels.
struct WinoGeom {
  int64_t N, Ci, H, W, Co, OH, OW, ph, pw;
  bool relu = false;  // the forward's epilogue clamps at 0 (ConvGeom::relu)
};

// One input plane's tiles: V[xi][t0 + a * tw + b] (points vs apart) = (B^T d B)[xi], d the 4x4
// input tile at (2a - ph, 2b - pw), B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0],
// [0, 1, 0, -1]]. The plane is copied into P with its zero border (rows of Wp = 2 tw + 2), each
// tile row's four input rows are combined (B^T d) along the whole row, then each tile's columns
// (d B), vectorised over the tiles of the row.
template <class T>
__attribute__((always_inline)) inline void input_plane_body(const T* xc, int64_t H, int64_t W, int64_t ph,
                                                            int64_t pw, int64_t th, int64_t tw, T* v, int64_t vs,
                                                            T* P) {
  const int64_t Hp = 2 * th + 2, Wp = 2 * tw + 2;
  for (int64_t r = 0; r < Hp; ++r) {
    const int64_t ih = r - ph;
    T* pr = P + r * Wp;
    for (int64_t s = 0; s < Wp; ++s) {
      const int64_t iw = s - pw;
      pr[s] = ih >= 0 && ih < H && iw >= 0 && iw < W ? xc[ih * W + iw] : T(0);
    }
  }
  T* E = P + Hp * Wp;  // 4 rows of Wp
  for (int64_t a = 0; a < th; ++a) {
    const T *d0 = P + 2 * a * Wp, *d1 = d0 + Wp, *d2 = d1 + Wp, *d3 = d2 + Wp;
    T *e0 = E, *e1 = E + Wp, *e2 = E + 2 * Wp, *e3 = E + 3 * Wp;
#pragma omp simd
    for (int64_t s = 0; s < Wp; ++s) {
      e0[s] = d0[s] - d2[s];
      e1[s] = d1[s] + d2[s];
      e2[s] = d2[s] - d1[s];
      e3[s] = d1[s] - d3[s];
    }
    T* va = v + a * tw;
    for (int r = 0; r < 4; ++r) {
      const T* er = E + r * Wp;
      T *o0 = va + (r * 4) * vs, *o1 = o0 + vs, *o2 = o1 + vs, *o3 = o2 + vs;
#pragma omp simd
      for (int64_t b = 0; b < tw; ++b) {
        const T c0 = er[2 * b], c1 = er[2 * b + 1], c2 = er[2 * b + 2], c3 = er[2 * b + 3];
        o0[b] = c0 - c2;
        o1[b] = c1 + c2;
        o2[b] = c2 - c1;
        o3[b] = c1 - c3;
      }
    }
  }
}
#if defined(__x86_64__) && defined(__GNUC__)
EMBER_ATTR_AVX512 void input_plane_avx512(const float* xc, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t th,
                                          int64_t tw, float* v, int64_t vs, float* P) {
  input_plane_body(xc, H, W, ph, pw, th, tw, v, vs, P);
}
#endif

// The same for a plane a tile at a time (planes under 4 tiles wide, where the row passes above
// are too short to pay: (32, 128, 4, 4) -> 64 forward 0.62 ms so, 0.87 by rows; 16x16 planes
// 37.8 -> 30.9 ms by rows).
template <class T>
void input_plane_tiles(const T* xc, int64_t H, int64_t W, int64_t ph, int64_t pw, int64_t th, int64_t tw, T* vc,
                       int64_t vs) {
  for (int64_t a = 0; a < th; ++a)
    for (int64_t b = 0; b < tw; ++b) {
      T d[4][4];
      const int64_t r0 = 2 * a - ph, c0 = 2 * b - pw;
      for (int r = 0; r < 4; ++r) {
        const int64_t ih = r0 + r;
        for (int s = 0; s < 4; ++s) {
          const int64_t iw = c0 + s;
          d[r][s] = ih >= 0 && ih < H && iw >= 0 && iw < W ? xc[ih * W + iw] : T(0);
        }
      }
      T e[4][4];  // B^T d
      for (int s = 0; s < 4; ++s) {
        e[0][s] = d[0][s] - d[2][s];
        e[1][s] = d[1][s] + d[2][s];
        e[2][s] = d[2][s] - d[1][s];
        e[3][s] = d[1][s] - d[3][s];
      }
      T* v = vc + a * tw + b;
      for (int r = 0; r < 4; ++r) {  // (B^T d) B
        v[(r * 4 + 0) * vs] = e[r][0] - e[r][2];
        v[(r * 4 + 1) * vs] = e[r][1] + e[r][2];
        v[(r * 4 + 2) * vs] = e[r][2] - e[r][1];
        v[(r * 4 + 3) * vs] = e[r][1] - e[r][3];
      }
    }
}

// V[xi][c][t] for the tiles t of images n0 .. n0 + m (planes of V vs apart, channel rows Tc long).
template <class T>
void input_transform(const WinoGeom& q, const T* x, int64_t n0, int64_t m, T* V, int64_t vs) {
  const int64_t th = (q.OH + 1) / 2, tw = (q.OW + 1) / 2, tiles = th * tw, Tc = m * tiles;
  std::unique_ptr<T[]> P(new T[static_cast<size_t>((2 * th + 6) * (2 * tw + 2))]);
#if defined(__x86_64__) && defined(__GNUC__)
  const bool avx512 = std::is_same_v<T, float> && cpu_isa() == Isa::Avx512;
#endif
  for (int64_t c = 0; c < q.Ci; ++c)
    for (int64_t i = 0; i < m; ++i) {
      const T* xc = x + ((n0 + i) * q.Ci + c) * q.H * q.W;
      T* vc = V + c * Tc + i * tiles;
      if (tw < 4) {
        input_plane_tiles(xc, q.H, q.W, q.ph, q.pw, th, tw, vc, vs);
        continue;
      }
#if defined(__x86_64__) && defined(__GNUC__)
      if constexpr (std::is_same_v<T, float>) {
        if (avx512) {
          input_plane_avx512(xc, q.H, q.W, q.ph, q.pw, th, tw, vc, vs, P.get());
          continue;
        }
      }
#endif
      input_plane_body(xc, q.H, q.W, q.ph, q.pw, th, tw, vc, vs, P.get());
    }
}

// Chunks of images (nb each) with about kTileCols tiles; split over threads when there are enough.
struct WinoChunks {
  int64_t nb = 1, chunks = 1;
  bool threaded = false;
};
WinoChunks wino_chunks(int64_t N, int64_t tiles) {
  WinoChunks c;
  c.nb = std::max<int64_t>(1, std::min(N, (kTileCols + tiles - 1) / tiles));
  const int nt = in_parallel_region() ? 1 : get_num_threads();
  if (nt > 1 && (N + c.nb - 1) / c.nb < nt) c.nb = std::max<int64_t>(1, (N + nt - 1) / nt);
  c.chunks = (N + c.nb - 1) / c.nb;
  c.threaded = nt > 1 && c.chunks >= nt;
  return c;
}

// The four outputs (y00, y01, y10, y11: rows of n) of n tiles from their 16 transform points
// (m + xi * ms, n each): A^T m A. float32 runs in AVX-512 where present.
template <class T>
__attribute__((always_inline)) inline void output_tiles_body(const T* m, int64_t ms, int64_t n, T* out) {
  T *y00 = out, *y01 = out + n, *y10 = out + 2 * n, *y11 = out + 3 * n;
#pragma omp simd
  for (int64_t t = 0; t < n; ++t) {
    T f0[4], f1[4];  // A^T m, column s
    for (int s = 0; s < 4; ++s) {
      const T a = m[s * ms + t], b = m[(4 + s) * ms + t], c = m[(8 + s) * ms + t], d = m[(12 + s) * ms + t];
      f0[s] = a + b + c;
      f1[s] = b - c - d;
    }
    y00[t] = f0[0] + f0[1] + f0[2];
    y01[t] = f0[1] - f0[2] - f0[3];
    y10[t] = f1[0] + f1[1] + f1[2];
    y11[t] = f1[1] - f1[2] - f1[3];
  }
}
#if defined(__x86_64__) && defined(__GNUC__)
EMBER_ATTR_AVX512 void output_tiles_avx512(const float* m, int64_t ms, int64_t n, float* out) {
  output_tiles_body(m, ms, n, out);
}
#endif
template <class T>
void output_tiles(const T* m, int64_t ms, int64_t n, T* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  if constexpr (std::is_same_v<T, float>) {
    if (cpu_isa() == Isa::Avx512) return output_tiles_avx512(m, ms, n, out);
  }
#endif
  output_tiles_body(m, ms, n, out);
}

template <class T>
void winograd_run(const WinoGeom& q, const T* x, const T* U, const T* bias, T* y) {
  const int64_t us = q.Co * q.Ci + kPlanePad;  // U's plane stride (transform_weights)
  const int64_t th = (q.OH + 1) / 2, tw = (q.OW + 1) / 2, tiles = th * tw;
  const WinoChunks ch = wino_chunks(q.N, tiles);
  const int64_t nb = ch.nb, chunks = ch.chunks;
  const bool threaded_chunks = ch.threaded;
  auto run_chunk = [&](int64_t n0, int64_t m, bool threads) {
    const int64_t Tc = m * tiles, vs = q.Ci * Tc + kPlanePad, ms = q.Co * Tc + kPlanePad;
    std::unique_ptr<T[]> buf(new T[static_cast<size_t>(16 * (vs + ms))]);
    T *V = buf.get(), *M = V + 16 * vs;
    input_transform(q, x, n0, m, V, vs);
    for (int xi = 0; xi < 16; ++xi)  // M_xi (Co, Tc) = U_xi (Co, Ci) @ V_xi (Ci, Tc)
      gemm_strided(dtype_of<T>(), q.Co, Tc, q.Ci, Scalar(1.0), U + xi * us, q.Ci, 1, V + xi * vs, Tc, 1, Scalar(0.0),
                   M + xi * ms, Tc, 1, threads);
    // y tile = A^T m A, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]: per output channel, the four
    // outputs of every tile in one vector pass over the row of tiles, then placed in the planes
    // (the bias added, then relu if asked; clipped to the plane)
    std::unique_ptr<T[]> yt(new T[static_cast<size_t>(4 * Tc)]);
    for (int64_t o = 0; o < q.Co; ++o) {
      output_tiles(M + o * Tc, ms, Tc, yt.get());
      const T bo = bias ? bias[o] : T(0);
      if (q.relu) {  // in place over the four output vectors, before they are placed
        T* v = yt.get();
#pragma omp simd
        for (int64_t t = 0; t < 4 * Tc; ++t) v[t] = conv_detail::relu_of(v[t] + bo);
      }
      const T ba = q.relu ? T(-0.0) : bo;  // the bias still to add (x + -0 is x, -0 included)
      const T *y00 = yt.get(), *y01 = y00 + Tc, *y10 = y01 + Tc, *y11 = y10 + Tc;
      for (int64_t i = 0; i < m; ++i) {
        T* yo = y + ((n0 + i) * q.Co + o) * q.OH * q.OW;
        for (int64_t a = 0; a < th; ++a) {
          const int64_t t0 = i * tiles + a * tw, oh = 2 * a;
          T* r0 = yo + oh * q.OW;
          T* r1 = r0 + q.OW;
          const bool full_w = 2 * tw == q.OW, row1 = oh + 1 < q.OH;
          for (int64_t b = 0; b < tw; ++b) {
            const int64_t t = t0 + b;
            r0[2 * b] = y00[t] + ba;
            if (full_w || 2 * b + 1 < q.OW) r0[2 * b + 1] = y01[t] + ba;
            if (row1) {
              r1[2 * b] = y10[t] + ba;
              if (full_w || 2 * b + 1 < q.OW) r1[2 * b + 1] = y11[t] + ba;
            }
          }
        }
      }
    }
  };
  if (threaded_chunks) {
    parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) run_chunk(k * nb, std::min(nb, q.N - k * nb), false);
    });
  } else {
    for (int64_t k = 0; k < chunks; ++k) run_chunk(k * nb, std::min(nb, q.N - k * nb), true);
  }
}

// U (16, Co, Ci), planes kPlanePad apart: forward Co = O, Ci = C, kernels w[o][c]; input gradient Co = C, Ci = O, kernels
// w[o][c] flipped.
template <class T>
std::unique_ptr<T[]> transform_weights(const ConvGeom& g, const T* w, bool for_input_grad) {
  const int64_t Co = for_input_grad ? g.C : g.O, Ci = for_input_grad ? g.O : g.C;
  const int64_t us = Co * Ci + kPlanePad;
  std::unique_ptr<T[]> U(new T[static_cast<size_t>(16 * us)]);
  T* u = U.get();
  parallel_for(0, Co, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, Ci)), [&](int64_t b, int64_t e) {
    T t[16];
    for (int64_t co = b; co < e; ++co)
      for (int64_t ci = 0; ci < Ci; ++ci) {
        const int64_t o = for_input_grad ? ci : co, c = for_input_grad ? co : ci;
        transform_kernel(w + (o * g.C + c) * 9, for_input_grad, t);
        for (int xi = 0; xi < 16; ++xi) u[xi * us + co * Ci + ci] = t[xi];
      }
  });
  return U;
}

}  // namespace

// 3x3, stride 1, no dilation or groups, padding at most 2 (the input gradient pads by 2 - p). Where
// it pays (forward + backward against im2col / implicit GEMM, medians of 7): small planes
// (OH * OW <= 64, 16+ channels each side), where GEMMs per image have few columns and padding
// taps are many ((64, 256, 4, 4) -> 512 forward: 25.7 -> 15 ms; torch 16-19), and layers of 32+
// channels each side on larger planes: 1 thread (64, 64, 16, 16) -> 128 72 -> 53 ms,
// (128, 64, 16, 16) -> 64 75 -> 57, (64, 64, 32, 32) -> 64 145 -> 107, (128, 32, 32, 32) -> 32
// 79-84 -> 74-76; 2 threads alike. One image's transformed tiles (16 x channels x tiles) stay
// under 16 MiB.
bool winograd_geometry_ok(const ConvGeom& g, int64_t Ci, int64_t Co, int64_t OH, int64_t OW) {
  if (g.groups != 1 || g.KH != 3 || g.KW != 3 || g.sh != 1 || g.sw != 1 || g.dh != 1 || g.dw != 1 || g.ph > 2 ||
      g.pw > 2 || OH <= 0 || OW <= 0)
    return false;
  const int64_t tiles = (OH + 1) / 2 * ((OW + 1) / 2);
  if (tiles * std::max(Ci, Co) > (int64_t(1) << 18)) return false;
  return (OH * OW <= 64 && Ci >= 16 && Co >= 16) || (Ci >= 32 && Co >= 32);
}

bool winograd_ok(const ConvGeom& g) { return winograd_geometry_ok(g, g.C, g.O, g.OH, g.OW); }
bool winograd_backward_input_ok(const ConvGeom& g) { return winograd_geometry_ok(g, g.O, g.C, g.H, g.W); }
// The weight gradient's GEMMs are (O, C) by the tiles: with 16 channels the transforms outweigh
// them ((16, 16, 8, 8) -> 32, forward + weight gradient: 0.28 ms by im2col, 0.31-0.33 so); from
// 32 up it gains ((32, 256, 8, 8) -> 256: 41 -> 32 ms, (64, 128, 16, 16) -> 128: 86 -> 71).
bool winograd_backward_weight_ok(const ConvGeom& g) { return winograd_ok(g) && g.C >= 32 && g.O >= 32; }

template <class T>
void winograd_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const std::unique_ptr<T[]> U = transform_weights(g, w, false);
  winograd_run<T>({g.N, g.C, g.H, g.W, g.O, g.OH, g.OW, g.ph, g.pw, g.relu}, x, U.get(), bias, y);
}

template <class T>
void winograd_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  const std::unique_ptr<T[]> U = transform_weights(g, w, true);
  winograd_run<T>({g.N, g.O, g.OH, g.OW, g.C, g.H, g.W, 2 - g.ph, 2 - g.pw}, gy, U.get(), static_cast<const T*>(nullptr),
                  dx);
}

// dw = G^T [sum over tiles of (A dy A^T) .* (B^T d B)] G: per transform point, acc_xi (O, C) =
// sum over chunks of Mg_xi (O, Tc) @ V_xi^T (Tc, C), Mg the transformed 2x2 tiles of gy
// (A = [[1, 0], [1, 1], [1, -1], [0, -1]]); then each 4x4 back to 3x3 through
// G^T = [[1, 1/2, 1/2, 0], [0, 1/2, -1/2, 0], [0, 1/2, 1/2, 1]]. Chunks split over threads sum
// into per-thread accumulators, added in a fixed order.
template <class T>
void winograd_backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw) {
  const WinoGeom q{g.N, g.C, g.H, g.W, g.O, g.OH, g.OW, g.ph, g.pw};
  const int64_t th = (g.OH + 1) / 2, tw = (g.OW + 1) / 2, tiles = th * tw;
  const WinoChunks ch = wino_chunks(g.N, tiles);
  const int64_t as = g.O * g.C + kPlanePad;  // accumulator plane stride
  const int64_t parts = ch.threaded ? std::min<int64_t>(get_num_threads(), ch.chunks) : 1;
  std::unique_ptr<T[]> acc(new T[static_cast<size_t>(parts * 16 * as)]);
  auto run = [&](int64_t part, int64_t c0, int64_t c1, bool threads) {
    T* A = acc.get() + part * 16 * as;
    if (c0 >= c1) std::fill(A, A + 16 * as, T(0));
    const int64_t T0 = ch.nb * tiles, vs = g.C * T0 + kPlanePad, ms = g.O * T0 + kPlanePad;
    std::unique_ptr<T[]> buf(new T[static_cast<size_t>(16 * (vs + ms))]);
    T *V = buf.get(), *Mg = V + 16 * vs;
    for (int64_t k = c0; k < c1; ++k) {
      const int64_t n0 = k * ch.nb, m = std::min(ch.nb, g.N - n0), Tc = m * tiles;
      const int64_t vsk = g.C * Tc + kPlanePad, msk = g.O * Tc + kPlanePad;
      input_transform(q, x, n0, m, V, vsk);
      for (int64_t o = 0; o < g.O; ++o)
        for (int64_t i = 0; i < m; ++i) {
          const T* go = gy + ((n0 + i) * g.O + o) * g.OH * g.OW;
          T* mo = Mg + o * Tc + i * tiles;
          for (int64_t a = 0; a < th; ++a)
            for (int64_t b = 0; b < tw; ++b) {
              const int64_t oh = 2 * a, ow = 2 * b;
              const bool r1 = oh + 1 < g.OH, c1_ = ow + 1 < g.OW;
              const T p = go[oh * g.OW + ow], qv = c1_ ? go[oh * g.OW + ow + 1] : T(0);
              const T r = r1 ? go[(oh + 1) * g.OW + ow] : T(0), sv = r1 && c1_ ? go[(oh + 1) * g.OW + ow + 1] : T(0);
              const T u[4][2] = {{p, qv}, {p + r, qv + sv}, {p - r, qv - sv}, {-r, -sv}};  // A dy
              T* mp = mo + a * tw + b;
              for (int rr = 0; rr < 4; ++rr) {  // (A dy) A^T
                mp[(rr * 4 + 0) * msk] = u[rr][0];
                mp[(rr * 4 + 1) * msk] = u[rr][0] + u[rr][1];
                mp[(rr * 4 + 2) * msk] = u[rr][0] - u[rr][1];
                mp[(rr * 4 + 3) * msk] = -u[rr][1];
              }
            }
        }
      for (int xi = 0; xi < 16; ++xi)  // acc_xi (O, C) += Mg_xi (O, Tc) @ V_xi^T (Tc, C)
        gemm_strided(dtype_of<T>(), g.O, g.C, Tc, Scalar(1.0), Mg + xi * msk, Tc, 1, V + xi * vsk, 1, Tc,
                     Scalar(k == c0 ? 0.0 : 1.0), A + xi * as, g.C, 1, threads);
    }
  };
  if (parts == 1) {
    run(0, 0, ch.chunks, true);
  } else {
    parallel_for(0, parts, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) run(t, ch.chunks * t / parts, ch.chunks * (t + 1) / parts, false);
    });
  }
  parallel_for(0, g.O * g.C, 1024, [&](int64_t b, int64_t e) {
    for (int64_t oc = b; oc < e; ++oc) {
      T u[4][4];
      for (int xi = 0; xi < 16; ++xi) {
        T v = 0;
        for (int64_t t = 0; t < parts; ++t) v += acc[static_cast<size_t>(t * 16 * as + xi * as + oc)];
        u[xi / 4][xi % 4] = v;
      }
      T h[3][4];  // G^T u
      for (int s = 0; s < 4; ++s) {
        h[0][s] = u[0][s] + T(0.5) * (u[1][s] + u[2][s]);
        h[1][s] = T(0.5) * (u[1][s] - u[2][s]);
        h[2][s] = T(0.5) * (u[1][s] + u[2][s]) + u[3][s];
      }
      T* d = dw + oc * 9;
      for (int r = 0; r < 3; ++r) {  // (G^T u) G
        d[r * 3 + 0] = h[r][0] + T(0.5) * (h[r][1] + h[r][2]);
        d[r * 3 + 1] = T(0.5) * (h[r][1] - h[r][2]);
        d[r * 3 + 2] = T(0.5) * (h[r][1] + h[r][2]) + h[r][3];
      }
    }
  });
}

template void winograd_forward<float>(const ConvGeom&, const float*, const float*, const float*, float*);
template void winograd_forward<double>(const ConvGeom&, const double*, const double*, const double*, double*);
template void winograd_backward_input<float>(const ConvGeom&, const float*, const float*, float*);
template void winograd_backward_input<double>(const ConvGeom&, const double*, const double*, double*);
template void winograd_backward_weight<float>(const ConvGeom&, const float*, const float*, float*);
template void winograd_backward_weight<double>(const ConvGeom&, const double*, const double*, double*);

}  // namespace ember::cpu

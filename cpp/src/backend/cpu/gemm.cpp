// CPU GEMM driver: C = alpha * A @ B + beta * C for float32/float64 (BLIS-style: B packed into
// KC x NC blocks of NR-wide micro-panels, A into MC x KC blocks of MR-tall micro-panels, an ISA
// micro-kernel per MR x NR tile), a direct-loop path for tiny problems and matrix-vector shapes,
// and a plain loop for integers. Operands are addressed by element strides (row, column), so
// transposed and sliced views are packed straight from their memory. beta == 0 never reads C.
// fp32 AVX-512 has two register tiles (8 x 48, 12 x 32), picked per problem by a cycle estimate
// (prefer_8x48). When M fits one A block and B is large, B is packed per micro-panel just before
// use instead of per KC x NC block (small-M conv and Linear shapes). fp32 products with few rows of
// A skip packing on AVX-512: dot rows (B's columns contiguous along k: a Linear's forward at
// small batch) and direct B (B's rows contiguous along n: x @ W). A bias row (gemm_bias, Linear)
// is added in the epilogue, per micro-tile.
// Threads: C is cut into a tm x tn grid, one tile per thread, each packing its own panels.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "cpu_backend.h"
#include "gemm.h"
#include "loops.h"
#include "parallel.h"

namespace ember::cpu {
namespace {
using namespace gemm_detail;

// --- ISA selection ---------------------------------------------------------------------------------
GemmIsa detect_isa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return GemmIsa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return GemmIsa::Avx2;
#endif
  return GemmIsa::Scalar;
}
// The CPU's best, capped like every other kernel's dispatch by EMBER_ISA (cpu_isa(), loops.h), so
// that one variable runs the whole library as on an AVX2-only or a baseline x86-64 CPU.
GemmIsa& current_isa() {
  static GemmIsa isa = std::min(detect_isa(), static_cast<GemmIsa>(static_cast<int>(cpu_isa())));
  return isa;
}

// --- portable micro-kernel -------------------------------------------------------------------------
constexpr int kMrScalar = 4, kNrScalar = 8;

template <class T>
void ukernel_scalar(int64_t kc, const T* a, const T* b, T* c, int64_t rsc, int64_t csc, T alpha, T beta, int m,
                    int n) {
  constexpr int MR = kMrScalar, NR = kNrScalar;
  T acc[MR * NR] = {};
  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j) acc[i * NR + j] += a[i] * b[j];
  store_tile(acc, NR, c, rsc, csc, alpha, beta, m, n);
}

// --- packing ---------------------------------------------------------------------------------------
// ISA packing routines (null: the portable loops below).
template <class T>
struct Packers {
  PanelPackT<T> t = nullptr;  // panels from rows contiguous along k
  RowPackT<T> n = nullptr;    // B panels from rows contiguous along n
  DirectKernel<T> da = nullptr;  // the micro-kernel reading A in place (used when csa == 1)
};

// dst[k * W + j] = src[k * ld + j] for j < w, 0 for w <= j < W: constant-size 16-element copies
// (inlined as vector moves; an element loop or a variable memcpy per row costs more than the GEMM
// for small K x N edge panels).
template <class T, int W>
void copy_rows_padded(int64_t kc, int w, const T* src, int64_t ld, T* dst) {
  const int w16 = w / 16 * 16;
  for (int64_t k = 0; k < kc; ++k, src += ld, dst += W) {
    int j = 0;
    for (; j < w16; j += 16) std::memcpy(dst + j, src + j, 16 * sizeof(T));
    for (; j < w; ++j) dst[j] = src[j];
    for (; j < W; ++j) dst[j] = T(0);
  }
}

// a (mc, kc) with strides (rsa, csa) -> ceil(mc/MR) panels, each kc x MR (k-major), zero-padded.
template <class T, int MR>
void pack_a(int64_t mc, int64_t kc, const T* a, int64_t rsa, int64_t csa, T* dst, const Packers<T>& pk) {
  const PanelPackT<T> pt = pk.t;
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += kc * MR) {
    const int mr = static_cast<int>(std::min<int64_t>(MR, mc - i0));
    const T* src = a + i0 * rsa;
    if (rsa == 1 && mr == MR) {
      for (int64_t k = 0; k < kc; ++k)
        for (int i = 0; i < MR; ++i) dst[k * MR + i] = src[k * csa + i];
    } else if (rsa == 1) {
      copy_rows_padded<T, MR>(kc, mr, src, csa, dst);
    } else if (csa == 1 && pt) {
      pt(mr, MR, kc, src, rsa, dst);
    } else if (csa == 1) {
      for (int i = 0; i < mr; ++i)
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = src[i * rsa + k];
      for (int i = mr; i < MR; ++i)
        for (int64_t k = 0; k < kc; ++k) dst[k * MR + i] = T(0);
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int i = 0; i < MR; ++i) dst[k * MR + i] = i < mr ? src[i * rsa + k * csa] : T(0);
    }
  }
}

// b (kc, nc) with strides (rsb, csb) -> ceil(nc/NR) panels, each kc x NR (k-major), zero-padded.
template <class T, int NR>
void pack_b(int64_t kc, int64_t nc, const T* b, int64_t rsb, int64_t csb, T* dst, const Packers<T>& pk) {
  const PanelPackT<T> pt = pk.t;
  if (csb == 1 && pk.n) return pk.n(NR, kc, nc, b, rsb, dst);
  if (csb == 1) {
    // Row by row: B's rows are read sequentially (panel by panel, every row would be a separate
    // short strided burst: 2-3x slower when rsb is a multiple of 4 KiB), the panels are written
    // interleaved into a buffer that fits in L2.
    const int64_t full = nc / NR * NR;
    for (int64_t k = 0; k < kc; ++k) {
      const T* src = b + k * rsb;
      T* d = dst + k * NR;
      int64_t j0 = 0;
      for (; j0 < full; j0 += NR, d += kc * NR) std::memcpy(d, src + j0, NR * sizeof(T));
      if (j0 < nc) copy_rows_padded<T, NR>(1, static_cast<int>(nc - j0), src + j0, 0, d);
    }
    return;
  }
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += kc * NR) {
    const int nr = static_cast<int>(std::min<int64_t>(NR, nc - j0));
    const T* src = b + j0 * csb;
    if (rsb == 1 && pt) {
      pt(nr, NR, kc, src, csb, dst);
    } else if (rsb == 1) {
      for (int j = 0; j < nr; ++j)
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = src[j * csb + k];
      for (int j = nr; j < NR; ++j)
        for (int64_t k = 0; k < kc; ++k) dst[k * NR + j] = T(0);
    } else {
      for (int64_t k = 0; k < kc; ++k)
        for (int j = 0; j < NR; ++j) dst[k * NR + j] = j < nr ? src[k * rsb + j * csb] : T(0);
    }
  }
}

// Per-thread packing buffers (64-byte aligned), grown on demand and kept for the next call.
struct PackBuffer {
  void* p = nullptr;
  size_t bytes = 0;
  ~PackBuffer() { std::free(p); }
  template <class T> T* get(size_t n) {
    size_t need = (n * sizeof(T) + 63) / 64 * 64;
    if (need > bytes) {
      std::free(p);
      p = std::aligned_alloc(64, need);
      if (!p) throw std::bad_alloc();
      bytes = need;
    }
    return static_cast<T*>(p);
  }
};
thread_local PackBuffer tl_pack_a, tl_pack_b;

// --- strided problem ---------------------------------------------------------------------------------
template <class T>
struct Problem {
  int64_t M, N, K;
  T alpha, beta;
  const T* a;
  int64_t rsa, csa;
  const T* b;
  int64_t rsb, csb;
  T* c;
  int64_t rsc, csc;
  // B from a packer instead of memory (gemm_packed_b), and this sub-problem's first column of B.
  const GemmPackB* packb = nullptr;
  int64_t j_off = 0;
  // Row vector added to every row of C after the product (gemm_bias; contiguous, N elements).
  const T* bias = nullptr;
  // The sub-problem C[i0:i0+m, j0:j0+n].
  Problem sub(int64_t i0, int64_t m, int64_t j0, int64_t n) const {
    Problem p = *this;
    p.M = m, p.N = n;
    p.a = a + i0 * rsa, p.c = c + i0 * rsc + j0 * csc;
    if (!packb) p.b = b + j0 * csb;
    if (bias) p.bias = bias + j0;
    p.j_off = j_off + j0;
    return p;
  }
};

// C[i0:i1, j0:j1] += bias[j0:j1]: the bias epilogue, per micro-tile (still in L1) in the blocked
// paths, over C afterwards in the others.
template <class T>
void add_bias(T* c, int64_t rsc, int64_t csc, const T* bias, int64_t m, int64_t n) {
  for (int64_t i = 0; i < m; ++i, c += rsc) {
    if (csc == 1) {
      for (int64_t j = 0; j < n; ++j) c[j] += bias[j];
    } else {
      for (int64_t j = 0; j < n; ++j) c[j * csc] += bias[j];
    }
  }
}

// C = beta * C (K == 0 or alpha == 0): beta == 0 writes zeros without reading.
template <class T>
void scale_c(const Problem<T>& p) {
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) {
      T& v = p.c[i * p.rsc + j * p.csc];
      v = p.beta == T(0) ? T(0) : T(p.beta * v);
    }
}

// Whether a block of n columns of C reads A in place (the kernel taking A's row stride) instead of
// packing it; EMBER_GEMM_DIRECT_A=0 packs A even when it is row-major (A/B runs).
template <class T>
bool reads_a_directly(const Problem<T>& p, const Packers<T>& pt, int64_t n) {
  static const bool on = [] {
    const char* e = std::getenv("EMBER_GEMM_DIRECT_A");
    return !(e && e[0] == '0');
  }();
  return pt.da && p.csa == 1 && n <= 256 && on;
}

// Blocked GEMM on one thread. Block sizes: the B micro-panel (KC x NR, 32-48 KiB) in L1/L2, the
// packed A block (MC x KC) in L2 and the packed B block (KC x NC, up to 1.5 MiB) in L2/L3.
template <class T, int MR, int NR>
void gemm_blocked_serial(const Problem<T>& p, MicroKernel<T> kern, const Packers<T>& pt) {
  // An MR x KC A micro-panel (8 KiB) is reused from L1 across the NC columns of the B block, which
  // streams from L2 (the KC x 48 B micro-panel, 48 KiB, does not fit L1 beside anything: with the
  // B micro-panel as the reused one, n = 512..2048 ran 1-5% slower at 1 and 2 threads, and KC =
  // 128 / 192 to fit it, 3-10% slower). MC x KC A blocks stay in L2 (2 MiB). KC = 256 for every
  // tile: 384 or 512 (balanced over K) measured within noise in this loop order; the k blocking
  // fixes the fp32 summation order, and test_large_blocks_and_threads (K = 600) sits at 97% of
  // its tolerance with this one. Measured: MC 12..36 panels within noise.
  constexpr int64_t KC = 256;
  constexpr int64_t MC = MR * (sizeof(T) == 4 ? 24 : 12);
  // The KC x NC block of B, up to 1.5 MiB, N split into equal blocks. It streams past the A
  // micro-panel (a 48-wide B micro-panel needs 8 B/cycle, which L3 also delivers), so it may
  // exceed a 1 MiB L2; what costs is cutting N into more blocks (A packed again for each). On a
  // 1 MiB-L2 Zen 4, % of peak, 1 MiB -> 1.5 MiB (interleaved in one process), 1 / 2 threads:
  // n = 1024 85.5 -> 89.3 / 85.1 -> 87.8 (with 8 x 48, 1008 columns fit 1 MiB: two blocks),
  // n = 2048 86.6 -> 88.2 / 85.7 -> 86.9, 1024 x 1500 x 1024 88.5 -> 92.1 / 87.9 -> 91.0,
  // 4096 x 1024 x 1024 88.4 -> 92.1 / 88.1 -> 92.1; n = 512 unchanged (one block either way);
  // 1.25 MiB and 2 MiB within noise of 1.5 except 1.25 at N = 1500. (On a 2 MiB-L2 machine: NC =
  // 128 panels, a 6 MiB block, ran n = 2048 at 145-156 GFLOP/s against 160-166 with 1 MiB.)
  constexpr int64_t kBBlockBytes = int64_t(3) << 19;
  const int64_t nc_cap = std::max<int64_t>(NR, kBBlockBytes / (int64_t(sizeof(T)) * std::min(KC, p.K)) / NR * NR);
  const int64_t n_blocks = (p.N + nc_cap - 1) / nc_cap;
  const int64_t NC = ((p.N + n_blocks - 1) / n_blocks + NR - 1) / NR * NR;
  const int64_t nc_max = std::min<int64_t>(NC, (p.N + NR - 1) / NR * NR);
  const int64_t mc_max = std::min<int64_t>(MC, (p.M + MR - 1) / MR * MR);
  const int64_t kc_max = std::min<int64_t>(KC, p.K);
  T* bbuf = tl_pack_b.get<T>(static_cast<size_t>(kc_max * nc_max));
  // Row-major A (contiguous along k) is read in place by a kernel that takes its row stride, when
  // few B panels reuse each packed A block (N <= 256): n = 128 +7%, 128 x 256 x 784 +2%; at
  // n = 512 (11 panels of 48) packing A stays ahead (0-5%: one stream instead of MR strided rows).
  const bool direct = reads_a_directly(p, pt, p.N);
  T* abuf = direct ? nullptr : tl_pack_a.get<T>(static_cast<size_t>(kc_max * mc_max));
  if (p.M <= MC && !p.packb && kc_max * p.N * int64_t(sizeof(T)) > (512 << 10)) {
    // One A block (small M: conv out-channels, Linear batches) and a B block beyond a quarter of
    // L2: each B micro-panel is packed right before its column of tiles and used from L1. Packing
    // the whole block first writes it out to L3 and reads it back, for only M / MR tiles per
    // micro-panel (64 x 1024 x 288: 23% of the time in pack_b; +5-10% this way; no gain, or a
    // small loss, when the block stays in L2).
    T* bpanel = bbuf;
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min(KC, p.K - pc);
      const T beta = pc == 0 ? p.beta : T(1);
      const bool bias_now = p.bias && pc + kc == p.K;
      if (!direct) pack_a<T, MR>(p.M, kc, p.a + pc * p.csa, p.rsa, p.csa, abuf, pt);
      for (int64_t jr = 0; jr < p.N; jr += NR) {
        const int n = static_cast<int>(std::min<int64_t>(NR, p.N - jr));
        pack_b<T, NR>(kc, n, p.b + pc * p.rsb + jr * p.csb, p.rsb, p.csb, bpanel, pt);
        for (int64_t ir = 0; ir < p.M; ir += MR) {
          const int m = static_cast<int>(std::min<int64_t>(MR, p.M - ir));
          T* c = p.c + ir * p.rsc + jr * p.csc;
          if (direct) pt.da(kc, p.a + ir * p.rsa + pc, p.rsa, bpanel, c, p.rsc, p.csc, p.alpha, beta, m, n);
          else kern(kc, abuf + (ir / MR) * kc * MR, bpanel, c, p.rsc, p.csc, p.alpha, beta, m, n);
          if (bias_now) add_bias(c, p.rsc, p.csc, p.bias + jr, m, n);
        }
      }
    }
    return;
  }
  for (int64_t jc = 0; jc < p.N; jc += NC) {
    const int64_t nc = std::min(NC, p.N - jc);
    for (int64_t pc = 0; pc < p.K; pc += KC) {
      const int64_t kc = std::min(KC, p.K - pc);
      const T beta = pc == 0 ? p.beta : T(1);
      const bool bias_now = p.bias && pc + kc == p.K;
      if (p.packb) (*p.packb)(pc, kc, p.j_off + jc, nc, NR, bbuf);
      else pack_b<T, NR>(kc, nc, p.b + pc * p.rsb + jc * p.csb, p.rsb, p.csb, bbuf, pt);
      for (int64_t ic = 0; ic < p.M; ic += MC) {
        const int64_t mc = std::min(MC, p.M - ic);
        if (!direct) pack_a<T, MR>(mc, kc, p.a + ic * p.rsa + pc * p.csa, p.rsa, p.csa, abuf, pt);
        for (int64_t ir = 0; ir < mc; ir += MR) {
          const int m = static_cast<int>(std::min<int64_t>(MR, mc - ir));
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const T* bp = bbuf + (jr / NR) * kc * NR;
            const int n = static_cast<int>(std::min<int64_t>(NR, nc - jr));
            T* c = p.c + (ic + ir) * p.rsc + (jc + jr) * p.csc;
            if (direct) pt.da(kc, p.a + (ic + ir) * p.rsa + pc, p.rsa, bp, c, p.rsc, p.csc, p.alpha, beta, m, n);
            else kern(kc, abuf + (ir / MR) * kc * MR, bp, c, p.rsc, p.csc, p.alpha, beta, m, n);
            if (bias_now) add_bias(c, p.rsc, p.csc, p.bias + jc + jr, m, n);
          }
        }
      }
    }
  }
}

// Rows of the thread grid (tm x tn == nt) over C's mp x np panels of MR x NR: the one whose largest
// block has the fewest multiply-adds per k plus packing traffic (rows + cols) per k.
// Within 5% of the best, all rows (tm = nt): each thread then writes one contiguous block of C,
// which the elementwise pass that follows (an optimizer step on a weight gradient, split by rows
// the same way) finds in the same core's cache.
int grid_rows(int64_t mp, int64_t np, int MR, int NR, int nt) {
  int tm = 1;
  double best = 1e300, all_rows = 1e300;
  for (int d = 1; d <= nt; ++d) {
    if (nt % d || d > mp || nt / d > np) continue;
    const double rows = double((mp + d - 1) / d) * MR, cols = double((np + nt / d - 1) / (nt / d)) * NR;
    const double cost = rows * cols + 32.0 * (rows + cols);
    if (cost < best) best = cost, tm = d;
    if (d == nt) all_rows = cost;
  }
  return all_rows <= 1.05 * best ? nt : tm;
}

// Pieces of C's columns per thread in the direct-A column split of gemm_blocked; EMBER_GEMM_PIECES=0
// keeps one tile per thread (A/B runs). The largest A (bytes) to re-read once per piece.
constexpr int64_t kPiecesMaxA = int64_t(1) << 20;
int column_pieces() {
  static const int k = [] {
    const char* e = std::getenv("EMBER_GEMM_PIECES");
    return e ? std::max(0, std::atoi(e)) : 4;
  }();
  return k;
}

// Split C into a tm x tn grid (tm * tn == nt) of MR/NR-aligned tiles, one per thread.
template <class T, int MR, int NR>
void gemm_blocked(const Problem<T>& p, MicroKernel<T> kern, const Packers<T>& pt, int nt) {
  const int64_t mp = (p.M + MR - 1) / MR, np = (p.N + NR - 1) / NR;  // panels
  nt = static_cast<int>(std::min<int64_t>(nt, mp * np));
  if (nt <= 1) return gemm_blocked_serial<T, MR, NR>(p, kern, pt);
  const int tm = grid_rows(mp, np, MR, NR, nt);
  const int tn = nt / tm;
  if (tm == 1 && reads_a_directly(p, pt, (p.N + tn - 1) / tn) && p.M * p.K * int64_t(sizeof(T)) <= kPiecesMaxA &&
      column_pieces() > 0) {
    // Column tiles that read A in place (direct): cutting a tile into pieces packs no operand
    // twice, so C's columns go in up to 4 pieces of whole panels per thread, balanced at run time
    // (parallel_pieces): a thread slowed by a neighbour on a shared machine no longer holds up
    // the other. 2 threads, interleaved A/B, GFLOP/s: 128 x 256 x 784 173 -> 183, 128 x 256 x 128
    // 164 -> 174, square 128..256 and 1024 x 128 x 512 unchanged; the MLP's Linear forward in a
    // training step 274 -> 255 us (quiet machine), 353-366 -> 278-294 us (a busy phase). A is
    // read again for each piece, hence the bound on its size.
    const int64_t P = std::min<int64_t>(np, int64_t(nt) * column_pieces());
    parallel_even_pieces(P, nt, [&](int64_t k, int) {
      const int64_t j0 = np * k / P * NR, j1 = std::min(p.N, np * (k + 1) / P * NR);
      if (j0 < j1) gemm_blocked_serial<T, MR, NR>(p.sub(0, p.M, j0, j1 - j0), kern, pt);
    });
    return;
  }
  parallel_for(0, nt, 1, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t ti = t / tn, tj = t % tn;
      const int64_t pi0 = mp * ti / tm, pi1 = mp * (ti + 1) / tm;
      const int64_t pj0 = np * tj / tn, pj1 = np * (tj + 1) / tn;
      const int64_t i0 = pi0 * MR, i1 = std::min(p.M, pi1 * MR);
      const int64_t j0 = pj0 * NR, j1 = std::min(p.N, pj1 * NR);
      if (i0 < i1 && j0 < j1) gemm_blocked_serial<T, MR, NR>(p.sub(i0, i1 - i0, j0, j1 - j0), kern, pt);
    }
  });
}

// Direct loops for tiny problems and matrix-vector shapes (no packing), in two forms: axpy (C row
// += A[i,k] * B row k, B and C rows contiguous) and dot (A row . B column, both contiguous along
// k). Several independent accumulators so the baseline-ISA build still vectorises and pipelines.
template <class T>
T dot_contig(const T* a, const T* b, int64_t n) {
  constexpr int L = 16;
  T acc[L] = {};
  int64_t k = 0;
  for (; k + L <= n; k += L)
    for (int u = 0; u < L; ++u) acc[u] += a[k + u] * b[k + u];
  T s = 0;
  for (; k < n; ++k) s += a[k] * b[k];
  for (int u = 0; u < L; ++u) s += acc[u];
  return s;
}

template <class T>
void gemm_direct_range(const Problem<T>& p, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  if (p.csb == 1 && p.csc == 1 && p.N > 1) {  // axpy form, 4 rows of B per pass over the C row
    const int64_t n = j1 - j0;
    std::vector<T> row(static_cast<size_t>(n));
    T* r = row.data();
    for (int64_t i = i0; i < i1; ++i) {
      std::fill(row.begin(), row.end(), T(0));
      const T* ai = p.a + i * p.rsa;
      int64_t k = 0;
      for (; k + 4 <= p.K; k += 4) {
        const T a0 = ai[k * p.csa], a1 = ai[(k + 1) * p.csa], a2 = ai[(k + 2) * p.csa], a3 = ai[(k + 3) * p.csa];
        const T *b0 = p.b + k * p.rsb + j0, *b1 = b0 + p.rsb, *b2 = b1 + p.rsb, *b3 = b2 + p.rsb;
        for (int64_t j = 0; j < n; ++j) r[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
      }
      for (; k < p.K; ++k) {
        const T ak = ai[k * p.csa];
        const T* bk = p.b + k * p.rsb + j0;
        for (int64_t j = 0; j < n; ++j) r[j] += ak * bk[j];
      }
      T* ci = p.c + i * p.rsc + j0;
      if (p.beta == T(0)) {
        for (int64_t j = 0; j < n; ++j) ci[j] = p.alpha * r[j];
      } else {
        for (int64_t j = 0; j < n; ++j) ci[j] = p.alpha * r[j] + p.beta * ci[j];
      }
    }
    return;
  }
  for (int64_t i = i0; i < i1; ++i) {  // dot form
    const T* ai = p.a + i * p.rsa;
    for (int64_t j = j0; j < j1; ++j) {
      const T* bj = p.b + j * p.csb;
      T s = 0;
      if (p.csa == 1 && p.rsb == 1) {
        s = dot_contig(ai, bj, p.K);
      } else {
        for (int64_t k = 0; k < p.K; ++k) s += ai[k * p.csa] * bj[k * p.rsb];
      }
      T& cv = p.c[i * p.rsc + j * p.csc];
      cv = p.beta == T(0) ? T(p.alpha * s) : T(p.alpha * s + p.beta * cv);
    }
  }
}

template <class T>
void gemm_direct(Problem<T> p, bool threads) {
  const bool dot_ok = p.csa == 1 && p.rsb == 1, axpy_ok = p.csb == 1 && p.csc == 1 && p.N > 1;
  if (!dot_ok && !axpy_ok && p.rsa == 1 && p.rsc == 1 && p.M > 1) {
    // C^T = B^T A^T: A's columns are contiguous, so the transposed problem takes the axpy form.
    p = Problem<T>{p.N, p.M, p.K, p.alpha, p.beta, p.b, p.csb, p.rsb, p.a, p.csa, p.rsa, p.c, p.csc, p.rsc};
  }
  const int64_t work = std::max<int64_t>(1, p.N * p.K);  // per row of C
  if (p.M >= p.N || !threads) {
    parallel_for(0, p.M, threads ? std::max<int64_t>(1, (1 << 16) / work) : p.M,
                 [&](int64_t b, int64_t e) { gemm_direct_range(p, b, e, 0, p.N); });
  } else {
    const int64_t wcol = std::max<int64_t>(1, p.M * p.K);
    parallel_for(0, p.N, std::max<int64_t>(256, (1 << 16) / wcol),
                 [&](int64_t b, int64_t e) { gemm_direct_range(p, 0, p.M, b, e); });
  }
}

// Estimated cycles per k-step for all of C (M x N) in PM x PN tiles. Edge tiles compute only the
// rows and 16-column vectors they need (gemm_avx512.cpp), so a tile of rm rows and rv vectors
// costs max(FMAs, loads) / 2 (two FMA and two load ports) plus ~1 cycle of loop overhead.
double tile_cycles(int64_t M, int64_t N, int PM, int PN) {
  const int pv = PN / 16;
  const int64_t nv = (N + 15) / 16;
  const int64_t fm = M / PM, fv = nv / pv;
  const int rm = static_cast<int>(M % PM), rv = static_cast<int>(nv % pv);
  auto t = [](int m, int v) { return m == 0 || v == 0 ? 0.0 : std::max(m * v, m + v) / 2.0 + 1.0; };
  return double(fm * fv) * t(PM, pv) + double(fm) * t(PM, rv) + double(fv) * t(rm, pv) + t(rm, rv);
}

// tile_cycles of the slowest thread's block when gemm_blocked splits C over nt threads.
double critical_cycles(int64_t M, int64_t N, int PM, int PN, int nt) {
  const int64_t mp = (M + PM - 1) / PM, np = (N + PN - 1) / PN;
  nt = static_cast<int>(std::min<int64_t>(nt, mp * np));
  if (nt <= 1) return tile_cycles(M, N, PM, PN);
  const int tm = grid_rows(mp, np, PM, PN, nt), tn = nt / tm;
  double worst = 0;
  for (int ti = 0; ti < tm; ++ti)
    for (int tj = 0; tj < tn; ++tj) {
      const int64_t rows = std::min(M, mp * (ti + 1) / tm * PM) - mp * ti / tm * PM;
      const int64_t cols = std::min(N, np * (tj + 1) / tn * PN) - np * tj / tn * PN;
      worst = std::max(worst, tile_cycles(rows, cols, PM, PN));
    }
  return worst;
}

// fp32 AVX-512: 8 x 48 unless 12 x 32 needs fewer cycles on the slowest thread. Full 12 x 32
// tiles are weighted 6% slower: they issue 14 loads per 24 FMAs (8 x 48: 11), and in the full GEMM
// (single thread, packing included) 8 x 48 measured 4-6% faster at n = 256..2048 and on conv
// shapes like 64 x 1024 x 288; 12 x 32 wins where N mod 48 leaves a 16-wide edge (N = 64: 16%
// faster) and where a thread's share does (128 x 256 x 784 on 2 threads: 147-155 us against
// 153-172 with 8 x 48, whose column split gives one thread 3 full panels, the other 2 and an edge).
bool prefer_8x48(int64_t M, int64_t N, int nt) {
  return critical_cycles(M, N, kMrAvx512F32b, kNrAvx512F32b, nt) <=
         1.06 * critical_cycles(M, N, kMrAvx512F32, kNrAvx512F32, nt);
}

constexpr int64_t kDirectWork = 24 * 24 * 24;   // M*N*K at or below: direct loops
// M*N*K below: one thread. 2 threads, us (1 thread -> 2): 64 x 120 x 84 (a LeNet Linear) 9.5 ->
// 6.9-7.6, 64^3 4.4 -> 3.8-4.1, 48^3 2.2 -> 2.6-2.9.
constexpr int64_t kThreadWork = 64 * 64 * 64;
// ...or C has at least this many elements: with a short K, writing C is the cost (a Linear's weight
// gradient at batch 1, 256 x 1 x 784: 14 us on one thread or two, against 8.9 us at K = 2 on two).
constexpr int64_t kThreadOut = int64_t(1) << 16;
// Batched products: items of M*N*K below 4x this run whole on one thread each, in parallel over
// the batch (attention heads), grain kBatchWork / work.
constexpr int64_t kBatchWork = 96 * 96 * 96;

// fp32 AVX-512, at most 8 rows of A, A's rows and B's columns contiguous along k (a Linear's input
// and weight at small batch): every row against each column of B, nothing packed, the columns
// split over threads. B is read once; the blocked path packs all of it for a few rows. Each
// output ends with a sum across 16 lanes, so K must be long enough to pay for it: 1 thread,
// N = 1024, us, blocked -> dot rows: M = 1 K = 256 24 -> 10.5; M = 2 K = 32 5.8 -> 4.7, K = 784
// 143 -> 97; M = 4 K = 64 10.9 -> 10.3; M = 8 K = 128 24.8 -> 26.4 (slower), K = 256 45.4 -> 40.5.
constexpr int kDotRowsMaxM = 8;
bool dot_rows_ok(const Problem<float>& p) {
  return !p.packb && p.M <= kDotRowsMaxM && p.K >= 16 * p.M * (p.M > 4 ? 2 : 1) && p.csa == 1 && p.rsb == 1 &&
         current_isa() == GemmIsa::Avx512;
}
void dot_rows(const Problem<float>& p, bool threads) {
  auto run = [&](int64_t j0, int64_t j1) {
    gemm_dot_rows_avx512_f32(static_cast<int>(p.M), j1 - j0, p.K, p.a, p.rsa, p.b + j0 * p.csb, p.csb, p.c + j0 * p.csc,
                             p.rsc, p.csc, p.alpha, p.beta, p.bias ? p.bias + j0 : nullptr);
  };
  if (threads) parallel_for(0, p.N, std::max<int64_t>(16, (int64_t(1) << 15) / p.K), run);  // >= 32K of B each
  else run(0, p.N);
}

// fp32 AVX-512, few rows of A and B contiguous along n (x @ W, a Linear's input gradient at small
// batch): A and B read in place by the tiles, nothing packed. Columns in blocks of 48, split over
// threads; all of M against each block, K in blocks of 1024. Up to 8 rows, or up to 32 while B
// fits in 1 MiB: each 8 rows read B's block again, at a stride, which for a B beyond L2 costs
// more than packing it. 1 thread, us, blocked -> here: M = 8 256 x 784 39.6 -> 19.9, 1024 x 1024
// 277 -> 193; M = 32 512 x 512 124 -> 104, 256 x 784 91 -> 78; M = 16 1024 x 1024 369 -> 387.
bool direct_b_ok(const Problem<float>& p) {
  return !p.packb && (p.M <= 8 || (p.M <= 32 && p.K * p.N <= (int64_t(1) << 18))) && p.csb == 1 &&
         current_isa() == GemmIsa::Avx512;
}
void direct_b(const Problem<float>& p, bool threads) {
  constexpr int MR = 8, NR = 48;
  constexpr int64_t KC = 1024;
  auto run = [&](int64_t b0, int64_t b1) {
    for (int64_t jr = b0 * NR; jr < std::min(p.N, b1 * NR); jr += NR) {
      const int n = static_cast<int>(std::min<int64_t>(NR, p.N - jr));
      for (int64_t ir = 0; ir < p.M; ir += MR) {
        const int m = static_cast<int>(std::min<int64_t>(MR, p.M - ir));
        float* c = p.c + ir * p.rsc + jr * p.csc;
        for (int64_t pc = 0; pc < p.K; pc += KC)
          ukernel_avx512_f32_db(std::min(KC, p.K - pc), p.a + ir * p.rsa + pc * p.csa, p.rsa, p.csa,
                                p.b + pc * p.rsb + jr, p.rsb, c, p.rsc, p.csc, p.alpha, pc == 0 ? p.beta : 1.0f, m, n);
        if (p.bias) add_bias(c, p.rsc, p.csc, p.bias + jr, m, n);
      }
    }
  };
  const int64_t blocks = (p.N + NR - 1) / NR;
  if (threads) parallel_for(0, blocks, std::max<int64_t>(1, (int64_t(1) << 15) / (p.K * NR)), run);  // >= 32K of B each
  else run(0, blocks);
}

template <class T>
void gemm_float(const Problem<T>& p, bool threads) {
  if (p.M == 0 || p.N == 0) return;
  const int64_t work = p.M * p.N * p.K;
  if constexpr (std::is_same_v<T, float>) {
    if (p.alpha != 0.0f && p.K > 0 && work > kDirectWork) {
      if (dot_rows_ok(p)) return dot_rows(p, threads);
      if (direct_b_ok(p)) return direct_b(p, threads);
    }
  }
  if (p.K == 0 || p.alpha == T(0) || (!p.packb && (work <= kDirectWork || p.M == 1 || p.N == 1))) {
    if (p.K == 0 || p.alpha == T(0)) scale_c(p);
    else gemm_direct(p, threads && work >= kThreadWork);
    if (p.bias) add_bias(p.c, p.rsc, p.csc, p.bias, p.M, p.N);
    return;
  }
  const int nt = threads && (work >= kThreadWork || p.M * p.N >= kThreadOut) ? get_num_threads() : 1;
  if constexpr (std::is_same_v<T, float>) {
    switch (current_isa()) {
      case GemmIsa::Avx512:
        if (prefer_8x48(p.M, p.N, nt))
          return gemm_blocked<T, kMrAvx512F32b, kNrAvx512F32b>(
              p, ukernel_avx512_f32_8x48, {pack_t_avx512_f32, pack_n_avx512_f32, ukernel_avx512_f32_8x48_da}, nt);
        return gemm_blocked<T, kMrAvx512F32, kNrAvx512F32>(
            p, ukernel_avx512_f32, {pack_t_avx512_f32, pack_n_avx512_f32, ukernel_avx512_f32_da}, nt);
      case GemmIsa::Avx2:
        return gemm_blocked<T, kMrAvx2F32, kNrAvx2F32>(p, ukernel_avx2_f32, {pack_t_avx2_f32}, nt);
      default: return gemm_blocked<T, kMrScalar, kNrScalar>(p, ukernel_scalar<T>, {}, nt);
    }
  } else {
    switch (current_isa()) {
      case GemmIsa::Avx512: return gemm_blocked<T, kMrAvx512F64, kNrAvx512F64>(p, ukernel_avx512_f64, {}, nt);
      case GemmIsa::Avx2: return gemm_blocked<T, kMrAvx2F64, kNrAvx2F64>(p, ukernel_avx2_f64, {}, nt);
      default: return gemm_blocked<T, kMrScalar, kNrScalar>(p, ukernel_scalar<T>, {}, nt);
    }
  }
}

// Integers: a plain i-k-j loop with wrap-around arithmetic (like torch's CPU integer matmul).
template <class T>
void gemm_int(const Problem<T>& p, bool threads) {
  using U = std::make_unsigned_t<T>;
  const int64_t work = std::max<int64_t>(1, p.N * p.K);
  parallel_for(0, p.M, threads ? std::max<int64_t>(1, (1 << 15) / work) : p.M, [&](int64_t b, int64_t e) {
    std::vector<U> row(static_cast<size_t>(p.N));
    for (int64_t i = b; i < e; ++i) {
      std::fill(row.begin(), row.end(), U(0));
      for (int64_t k = 0; k < p.K; ++k) {
        const U aik = static_cast<U>(p.a[i * p.rsa + k * p.csa]);
        const T* bk = p.b + k * p.rsb;
        for (int64_t j = 0; j < p.N; ++j) row[j] += aik * static_cast<U>(bk[j * p.csb]);
      }
      for (int64_t j = 0; j < p.N; ++j) {
        T& cv = p.c[i * p.rsc + j * p.csc];
        U v = static_cast<U>(p.alpha) * row[j];
        if (p.beta != T(0)) v += static_cast<U>(p.beta) * static_cast<U>(cv);
        cv = static_cast<T>(v);
      }
    }
  });
}

template <class T>
void gemm_any(const Problem<T>& p, bool threads) {
  if constexpr (std::is_floating_point_v<T>) {
    gemm_float(p, threads);
  } else {
    if (p.M == 0 || p.N == 0) return;
    gemm_int(p, threads);
    if (p.bias) {  // wrap-around, like the product
      using U = std::make_unsigned_t<T>;
      for (int64_t i = 0; i < p.M; ++i)
        for (int64_t j = 0; j < p.N; ++j) {
          T& cv = p.c[i * p.rsc + j * p.csc];
          cv = static_cast<T>(static_cast<U>(cv) + static_cast<U>(p.bias[j]));
        }
    }
  }
}

template <class T>
Problem<T> make_problem(int64_t M, int64_t N, int64_t K, Scalar alpha, const void* A, int64_t rsa, int64_t csa,
                        const void* B, int64_t rsb, int64_t csb, Scalar beta, void* C, int64_t rsc, int64_t csc) {
  return Problem<T>{M, N, K, alpha.to<T>(), beta.to<T>(), static_cast<const T*>(A), rsa, csa,
                    static_cast<const T*>(B), rsb, csb, static_cast<T*>(C), rsc, csc};
}

template <class F>
void dispatch_float_gemm(DType dt, const F& f) {
  if (dt == DType::Float32) f(float());
  else f(double());
}

}  // namespace

GemmIsa gemm_isa() { return current_isa(); }
void set_gemm_isa(GemmIsa isa) {
  EMBER_CHECK(isa <= detect_isa(), RuntimeError, "set_gemm_isa: this CPU does not support the requested ISA");
  current_isa() = isa;
}

void gemm_strided(DType dtype, int64_t M, int64_t N, int64_t K, Scalar alpha, const void* A, int64_t rsa,
                  int64_t csa, const void* B, int64_t rsb, int64_t csb, Scalar beta, void* C, int64_t rsc,
                  int64_t csc, bool threads) {
  dispatch_numeric(dtype, "gemm", [&](auto tag) {
    using T = decltype(tag);
    gemm_any(make_problem<T>(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, rsc, csc), threads);
  });
}

void gemm_packed_b(DType dtype, int64_t M, int64_t N, int64_t K, Scalar alpha, const void* A, int64_t rsa,
                   int64_t csa, const GemmPackB& packb, Scalar beta, void* C, int64_t rsc, int64_t csc, bool threads) {
  EMBER_CHECK(dtype == DType::Float32 || dtype == DType::Float64, RuntimeError, "gemm_packed_b: float dtypes only");
  dispatch_float_gemm(dtype, [&](auto tag) {
    using T = decltype(tag);
    Problem<T> p = make_problem<T>(M, N, K, alpha, A, rsa, csa, nullptr, 0, 0, beta, C, rsc, csc);
    p.packb = &packb;
    gemm_float(p, threads);
  });
}

void gemm(DType dtype, bool transa, bool transb, int64_t M, int64_t N, int64_t K, Scalar alpha, const void* A,
          int64_t lda, const void* B, int64_t ldb, Scalar beta, void* C, int64_t ldc) {
  gemm_strided(dtype, M, N, K, alpha, A, transa ? 1 : lda, transa ? lda : 1, B, transb ? 1 : ldb,
               transb ? ldb : 1, beta, C, ldc, 1, true);
}

void gemm_bias(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) {
  EMBER_CHECK(a.dim() == 2 && b.dim() == 2 && out.dim() == 2 && bias.dim() == 1 && bias.size(0) == out.size(1) &&
                  (bias.size(0) <= 1 || bias.stride(0) == 1),
              RuntimeError, "gemm_bias: expected 2-D a, b, out and a contiguous bias of out's columns");
  dispatch_numeric(out.dtype(), "gemm_bias", [&](auto tag) {
    using T = decltype(tag);
    Problem<T> p = make_problem<T>(out.size(0), out.size(1), a.size(1), Scalar(int64_t(1)), a.raw_data(), a.stride(0),
                                   a.stride(1), b.raw_data(), b.stride(0), b.stride(1), Scalar(int64_t(0)),
                                   out.raw_data(), out.stride(0), out.stride(1));
    p.bias = static_cast<const T*>(bias.raw_data());
    gemm_any(p, true);
  });
}

// a (*, M, K), b (*, K, N) -> out (*, M, N); a's and b's batch dims equal out's or have stride 0.
void gemm_batched(const Tensor& a, const Tensor& b, const Tensor& out, Scalar alpha, Scalar beta) {
  const int64_t nd = out.dim(), nb = nd - 2;
  const int64_t M = out.size(nd - 2), N = out.size(nd - 1), K = a.size(nd - 1);
  int64_t batch = 1;
  for (int64_t d = 0; d < nb; ++d) batch *= out.size(d);
  if (batch == 0 || M == 0 || N == 0) return;
  const size_t isz = out.itemsize();
  auto offsets = [&](int64_t idx, int64_t& oa, int64_t& ob, int64_t& oc) {
    oa = ob = oc = 0;
    for (int64_t d = nb - 1; d >= 0; --d) {
      const int64_t s = out.size(d), i = idx % s;
      idx /= s;
      oa += i * a.stride(d), ob += i * b.stride(d), oc += i * out.stride(d);
    }
  };
  auto one = [&](int64_t idx, bool threads) {
    int64_t oa, ob, oc;
    offsets(idx, oa, ob, oc);
    gemm_strided(out.dtype(), M, N, K, alpha, static_cast<const char*>(a.raw_data()) + oa * isz,
                 a.stride(nd - 2), a.stride(nd - 1), static_cast<const char*>(b.raw_data()) + ob * isz,
                 b.stride(nd - 2), b.stride(nd - 1), beta, static_cast<char*>(out.raw_data()) + oc * isz,
                 out.stride(nd - 2), out.stride(nd - 1), threads);
  };
  const int64_t work = std::max<int64_t>(1, M * N * std::max<int64_t>(K, 1));
  if (batch == 1 || work >= kBatchWork * 4) {
    for (int64_t i = 0; i < batch; ++i) one(i, true);
  } else {
    parallel_for(0, batch, std::max<int64_t>(1, kBatchWork / work), [&](int64_t b0, int64_t e0) {
      for (int64_t i = b0; i < e0; ++i) one(i, false);
    });
  }
}

}  // namespace ember::cpu

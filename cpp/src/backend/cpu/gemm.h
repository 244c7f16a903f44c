// GEMM internals shared by the driver (gemm.cpp) and the per-ISA micro-kernels
// (gemm_avx512.cpp, gemm_avx2.cpp). A micro-kernel computes one MR x NR tile of C from packed
// panels: a (kc, MR) k-major, b (kc, NR) k-major, both zero-padded to full MR / NR, then writes
// rows [0, m) and columns [0, n) of C (strides rsc, csc) as alpha * acc + beta * C; beta == 0 never
// reads C. ISA kernels are compiled with __attribute__((target)) only: no global -m flags, so no
// inline code shared with other files is ever built for a wider ISA.
#pragma once
#include <cstdint>

namespace ember::cpu::gemm_detail {

template <class T>
using MicroKernel = void (*)(int64_t kc, const T* a, const T* b, T* c, int64_t rsc, int64_t csc, T alpha,
                             T beta, int m, int n);

// The same with A read in place instead of packed: row i of the tile at a + i * lda, contiguous
// along k (only rows [0, m) are read).
template <class T>
using DirectKernel = void (*)(int64_t kc, const T* a, int64_t lda, const T* b, T* c, int64_t rsc, int64_t csc,
                              T alpha, T beta, int m, int n);

// Packs one panel from rows that are contiguous along k (row-major A, or B = W^T):
// dst[k * width + r] = src[r * ld + k] for r < rows, 0 for rows <= r < width (rows <= width).
template <class T>
using PanelPackT = void (*)(int rows, int width, int64_t kc, const T* src, int64_t ld, T* dst);

// Packs B panels from rows that are contiguous along n (row-major B), all nc columns at once:
// dst[(j / width) * kc * width + k * width + j % width] = src[k * ld + j] for j < nc, zero-padded
// to whole panels (width a multiple of 16).
template <class T>
using RowPackT = void (*)(int width, int64_t kc, int64_t nc, const T* src, int64_t ld, T* dst);

// Register tiles (MR x NR) per ISA and dtype.
constexpr int kMrAvx512F32 = 12, kNrAvx512F32 = 32;
constexpr int kMrAvx512F32b = 8, kNrAvx512F32b = 48;  // second fp32 tile, chosen per problem
constexpr int kMrAvx512F64 = 14, kNrAvx512F64 = 16;
constexpr int kMrAvx2F32 = 6, kNrAvx2F32 = 16;
constexpr int kMrAvx2F64 = 6, kNrAvx2F64 = 8;

// gemm_avx512.cpp (call only when the CPU supports avx512f)
void ukernel_avx512_f32(int64_t kc, const float* a, const float* b, float* c, int64_t rsc, int64_t csc,
                        float alpha, float beta, int m, int n);
void ukernel_avx512_f32_8x48(int64_t kc, const float* a, const float* b, float* c, int64_t rsc, int64_t csc,
                              float alpha, float beta, int m, int n);
void ukernel_avx512_f32_da(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t rsc,
                           int64_t csc, float alpha, float beta, int m, int n);
void ukernel_avx512_f32_8x48_da(int64_t kc, const float* a, int64_t lda, const float* b, float* c, int64_t rsc,
                                int64_t csc, float alpha, float beta, int m, int n);
void pack_t_avx512_f32(int rows, int width, int64_t kc, const float* src, int64_t ld, float* dst);
void pack_n_avx512_f32(int width, int64_t kc, int64_t nc, const float* src, int64_t ld, float* dst);
// C (m x n, m <= 8) = alpha * A B + beta * C (+ bias[j] per column when bias is not null), A's
// rows (a + i * lda) and B's columns (b + j * ldb) contiguous along k; nothing packed.
void gemm_dot_rows_avx512_f32(int m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                              int64_t ldb, float* c, int64_t rsc, int64_t csc, float alpha, float beta,
                              const float* bias);
// C (m x n, m <= 8, n <= 48) with A and B read in place: A (i, k) at a[i * rsa + k * csa], B's row
// k at b + k * ldb, contiguous along n (columns >= n are not read).
void ukernel_avx512_f32_db(int64_t kc, const float* a, int64_t rsa, int64_t csa, const float* b, int64_t ldb,
                           float* c, int64_t rsc, int64_t csc, float alpha, float beta, int m, int n);
void ukernel_avx512_f64(int64_t kc, const double* a, const double* b, double* c, int64_t rsc, int64_t csc,
                        double alpha, double beta, int m, int n);
// gemm_avx2.cpp (call only when the CPU supports avx2 and fma)
void ukernel_avx2_f32(int64_t kc, const float* a, const float* b, float* c, int64_t rsc, int64_t csc,
                      float alpha, float beta, int m, int n);
void ukernel_avx2_f64(int64_t kc, const double* a, const double* b, double* c, int64_t rsc, int64_t csc,
                      double alpha, double beta, int m, int n);
void pack_t_avx2_f32(int rows, int width, int64_t kc, const float* src, int64_t ld, float* dst);

// Write an MR x NR accumulator tile (row-major, leading dimension ld) into C: rows [0, m),
// columns [0, n), C = alpha * acc + beta * C (beta == 0: C is not read). Portable code.
template <class T>
inline void store_tile(const T* acc, int ld, T* c, int64_t rsc, int64_t csc, T alpha, T beta, int m, int n) {
  for (int i = 0; i < m; ++i) {
    T* ci = c + i * rsc;
    const T* ai = acc + i * ld;
    if (beta == T(0)) {
      for (int j = 0; j < n; ++j) ci[j * csc] = alpha * ai[j];
    } else {
      for (int j = 0; j < n; ++j) ci[j * csc] = alpha * ai[j] + beta * ci[j * csc];
    }
  }
}

}  // namespace ember::cpu::gemm_detail

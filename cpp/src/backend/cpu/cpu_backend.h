// The CPU backend's kernel families (free functions, one file per family), gathered into the
// Backend interface by backend.cpp.
#pragma once
#include <functional>
#include "ember/backend.h"

namespace ember::cpu {

// elementwise.cpp
void copy(const Tensor& src, const Tensor& dst);
void fill(const Tensor& dst, Scalar value);
void unary(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p);
void unary_backward(UnaryOp op, const Tensor& g, const Tensor& x, const Tensor& out, const UnaryParams& p);
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void add_scaled(const Tensor& a, const Tensor& b, Scalar alpha, const Tensor& out);
// copy_transpose.cpp: copy() for a transposed 4-byte source into a contiguous destination, in
// 16 x 16 tiles; false (nothing done) when the layout is not such a transpose.
bool copy_transposed(const Tensor& src, const Tensor& dst);
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);

// reduce.cpp
void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out);
// --- reduction family (arg_reduce.cpp, softmax.cpp, scan.cpp) ---
void arg_reduce(bool is_max, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices);
void softmax(const Tensor& x, int64_t dim, const Tensor& out, bool log);
void softmax_backward(const Tensor& y, const Tensor& gy, int64_t dim, const Tensor& out, bool log);
void logsumexp(const Tensor& x, int64_t dim, const Tensor& out);
void scan(ScanOp op, const Tensor& x, int64_t dim, const Tensor& out, bool reverse);
// sort.cpp
void sort(const Tensor& x, bool descending, int64_t k, const Tensor& values, const Tensor& indices);

// index.cpp (index family)
void index_offsets(const std::vector<Tensor>& indices, const std::vector<int64_t>& sizes,
                   const std::vector<int64_t>& strides, const std::vector<int64_t>& dims, const Tensor& out,
                   bool allow_negative, const char* op);
void index_gather(const Tensor& src, const Tensor& offsets, const Tensor& out);
void index_scatter(const Tensor& dst, const Tensor& offsets, const Tensor& values, bool accumulate);
int64_t count_nonzero(const Tensor& x);
void nonzero(const Tensor& x, const Tensor& out);

// random.cpp (interop branch)
void random(RandomOp op, const Tensor& out, uint64_t key, uint64_t counter, const RandomParams& p);
void dropout(const Tensor& x, const Tensor& out, const Tensor& mask, double p, uint64_t key, uint64_t counter);
void dropout_backward(const Tensor& g, const Tensor& mask, const Tensor& out, double p);

// --- gemm.cpp (linalg) ---------------------------------------------------------------------------
// C (M, N) = alpha * A (M, K) @ B (K, N) + beta * C, every operand by element strides (row, col);
// beta == 0 never reads C. Numeric dtypes; `threads` = false keeps it on the calling thread.
void gemm_strided(DType dtype, int64_t M, int64_t N, int64_t K, Scalar alpha, const void* A, int64_t rsa,
                  int64_t csa, const void* B, int64_t rsb, int64_t csb, Scalar beta, void* C, int64_t rsc,
                  int64_t csc, bool threads = true);
// C = alpha * A @ B + beta * C (float32/float64) with B produced by a packer instead of read from
// memory: packb(k0, kc, j0, nc, nr, dst) writes B[k0:k0+kc, j0:j0+nc] as ceil(nc/nr) panels of
// kc x nr (k-major, columns >= nc zero). Called concurrently from the GEMM's threads.
using GemmPackB = std::function<void(int64_t k0, int64_t kc, int64_t j0, int64_t nc, int nr, void* dst)>;
void gemm_packed_b(DType dtype, int64_t M, int64_t N, int64_t K, Scalar alpha, const void* A, int64_t rsa,
                   int64_t csa, const GemmPackB& packb, Scalar beta, void* C, int64_t rsc, int64_t csc, bool threads);
// BLAS-style (row-major; transa: A is stored K x M with leading dimension lda).
void gemm(DType dtype, bool transa, bool transb, int64_t M, int64_t N, int64_t K, Scalar alpha, const void* A,
          int64_t lda, const void* B, int64_t ldb, Scalar beta, void* C, int64_t ldc);
// a (*, M, K), b (*, K, N) -> out (*, M, N); a's and b's batch dims equal out's or have stride 0.
void gemm_batched(const Tensor& a, const Tensor& b, const Tensor& out, Scalar alpha, Scalar beta);
// out (M, N) = a (M, K) @ b (K, N) + bias (N), the bias added to each micro-tile as it is finished.
void gemm_bias(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out);
// The micro-kernel ISA (detected once; tests may force a narrower one the CPU also supports).
enum class GemmIsa : int { Scalar = 0, Avx2 = 1, Avx512 = 2 };
GemmIsa gemm_isa();
void set_gemm_isa(GemmIsa isa);
// optim.cpp (optimizer family)
void optim_step(OptimKind kind, const std::vector<OptimJob>& jobs);
// The float32 update's path now: 0 chunk by chunk (SafeF where the state could meet a subnormal),
// 1 the float kernel everywhere, 2 SafeF everywhere (EMBER_OPTIM_SUBNORMAL, else calibrated).
int subnormal_path();
// For tests: per element of a contiguous float32 job, whether the chunk-by-chunk path counts its
// state as tiny (could meet a subnormal in this update: its chunk goes to the subnormal-safe
// kernel). A bool tensor of the parameter's shape; nothing is written.
Tensor optim_tiny_mask(OptimKind kind, const OptimJob& job);

// --- conv.cpp, conv_direct.cpp (conv branch): see Backend for the contracts ----------------------
void conv2d_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y);
void conv2d_backward_input(const ConvGeom& g, const Tensor& gy, const Tensor& w, const Tensor& dx);
void conv2d_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& gy, const Tensor& dw,
                            const Tensor& dbias);
void unfold(const ConvGeom& g, const Tensor& x, const Tensor& cols, bool fold);

// --- loss.cpp (loss branch) ----------------------------------------------------------------------
void cross_entropy(const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                   double label_smoothing, const Tensor& loss, const Tensor& wt, const Tensor& stats);
void cross_entropy_backward(const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                            double label_smoothing, const Tensor& stats, const Tensor& g, const Tensor& dx);
void nll_loss(const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore_index, const Tensor& loss,
              const Tensor& wt);
void nll_loss_backward(const Tensor& target, const Tensor& weight, int64_t ignore_index, const Tensor& g,
                       const Tensor& dx);
// --- end loss.cpp ---------------------------------------------------------------------------------

// --- rnn.cpp (recurrent cells): see Backend for the contracts ------------------------------------
void lstm_cell(const Tensor& ig, const Tensor& hg, const Tensor& cx, const Tensor& hy, const Tensor& cy,
               const Tensor& ws);
void lstm_cell_backward(const Tensor& ws, const Tensor& cx, const Tensor& ghy, const Tensor& gcy,
                        const Tensor& dgates, const Tensor& dcx);
void gru_cell(const Tensor& ig, const Tensor& hg, const Tensor& hx, const Tensor& hy, const Tensor& ws);
void gru_cell_backward(const Tensor& ws, const Tensor& hx, const Tensor& ghy, const Tensor& dig, const Tensor& dhg,
                       const Tensor& dhx);

// --- pool.cpp / norm.cpp (poolnorm branch) --------------------------------------------------------
void pool2d(PoolOp op, const Tensor& x, const Tensor& out, const Tensor& indices, const PoolParams& p);
void pool2d_backward(PoolOp op, const Tensor& gy, const Tensor& indices, const Tensor& gx, const PoolParams& p);
void interp2d(const Tensor& x, const Tensor& out, const InterpTables& t);
void interp2d_backward(const Tensor& gy, const Tensor& gx, const InterpTables& t);
void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                const Tensor& invstd, const Tensor& y, bool training, double eps);
void batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& weight, const Tensor& mean,
                         const Tensor& invstd, const Tensor& gx, const Tensor& gw, const Tensor& gb, bool training);
void batch_norm_update_running(const Tensor& r, const Tensor& stat, double momentum, double factor);
void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y, const Tensor& mean,
                const Tensor& rstd, double eps);
void layer_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& gx, const Tensor& gw, const Tensor& gb);
void group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, const Tensor& y,
                const Tensor& mean, const Tensor& rstd, double eps);
void group_norm_backward(const Tensor& x, const Tensor& gy, int64_t groups, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& gx, const Tensor& gw, const Tensor& gb);
// -------------------------------------------------------------------------------------------------

}  // namespace ember::cpu

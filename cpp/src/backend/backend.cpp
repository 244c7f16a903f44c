// Backend registry: CPU always; CUDA only in builds with EMBER_CUDA (else a clear error at use).
#include "ember/backend.h"

#include "cpu/cpu_backend.h"

namespace ember {

namespace {
struct CpuBackend final : Backend {
  const char* name() const override { return "cpu"; }
  void copy(const Tensor& src, const Tensor& dst) override { cpu::copy(src, dst); }
  void fill(const Tensor& dst, Scalar v) override { cpu::fill(dst, v); }
  void unary(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) override {
    cpu::unary(op, x, out, p);
  }
  void unary_backward(UnaryOp op, const Tensor& g, const Tensor& x, const Tensor& out,
                      const UnaryParams& p) override {
    cpu::unary_backward(op, g, x, out, p);
  }
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override {
    cpu::binary(op, a, b, out);
  }
  void add_scaled(const Tensor& a, const Tensor& b, Scalar alpha, const Tensor& out) override {
    cpu::add_scaled(a, b, alpha, out);
  }
  void where(const Tensor& c, const Tensor& a, const Tensor& b, const Tensor& out) override {
    cpu::where(c, a, b, out);
  }
  void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out) override {
    cpu::reduce(op, x, dims, out);
  }
  // --- reduction family ---
  void arg_reduce(bool is_max, const Tensor& x, int64_t dim, const Tensor& v, const Tensor& i) override {
    cpu::arg_reduce(is_max, x, dim, v, i);
  }
  void softmax(const Tensor& x, int64_t dim, const Tensor& out, bool log) override { cpu::softmax(x, dim, out, log); }
  void logsumexp(const Tensor& x, int64_t dim, const Tensor& out) override { cpu::logsumexp(x, dim, out); }
  void softmax_backward(const Tensor& y, const Tensor& gy, int64_t dim, const Tensor& out, bool log) override {
    cpu::softmax_backward(y, gy, dim, out, log);
  }
  void scan(ScanOp op, const Tensor& x, int64_t dim, const Tensor& out, bool reverse) override {
    cpu::scan(op, x, dim, out, reverse);
  }
  void sort(const Tensor& x, bool descending, int64_t k, const Tensor& values, const Tensor& indices) override {
    cpu::sort(x, descending, k, values, indices);
  }
  // --- index family ---
  void index_offsets(const std::vector<Tensor>& indices, const std::vector<int64_t>& sizes,
                     const std::vector<int64_t>& strides, const std::vector<int64_t>& dims, const Tensor& out,
                     bool allow_negative, const char* op) override {
    cpu::index_offsets(indices, sizes, strides, dims, out, allow_negative, op);
  }
  void index_gather(const Tensor& src, const Tensor& off, const Tensor& out) override {
    cpu::index_gather(src, off, out);
  }
  void index_scatter(const Tensor& dst, const Tensor& off, const Tensor& values, bool accumulate) override {
    cpu::index_scatter(dst, off, values, accumulate);
  }
  int64_t count_nonzero(const Tensor& x) override { return cpu::count_nonzero(x); }
  void nonzero(const Tensor& x, const Tensor& out) override { cpu::nonzero(x, out); }
  // random (interop branch)
  void random(RandomOp op, const Tensor& out, uint64_t key, uint64_t counter, const RandomParams& p) override {
    cpu::random(op, out, key, counter, p);
  }  void dropout(const Tensor& x, const Tensor& out, const Tensor& mask, double p, uint64_t key,
               uint64_t counter) override {
    cpu::dropout(x, out, mask, p, key, counter);
  }
  void dropout_backward(const Tensor& g, const Tensor& mask, const Tensor& out, double p) override {
    cpu::dropout_backward(g, mask, out, p);
  }

  // linalg
  void gemm_batched(const Tensor& a, const Tensor& b, const Tensor& out, Scalar alpha, Scalar beta) override {
    cpu::gemm_batched(a, b, out, alpha, beta);
  }
  void gemm_bias(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& out) override {
    cpu::gemm_bias(a, b, bias, out);
  }
  void gemm(DType dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, Scalar alpha, const void* A, int64_t lda,
            const void* B, int64_t ldb, Scalar beta, void* C, int64_t ldc) override {
    cpu::gemm(dt, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  // --- optimizer family ---
  void optim_step(OptimKind kind, const std::vector<OptimJob>& jobs) override { cpu::optim_step(kind, jobs); }
  // --- convolution (conv branch) ---
  void conv2d_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y) override {
    cpu::conv2d_forward(g, x, w, b, y);
  }
  void conv2d_backward_input(const ConvGeom& g, const Tensor& gy, const Tensor& w, const Tensor& dx) override {
    cpu::conv2d_backward_input(g, gy, w, dx);
  }
  void conv2d_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& gy, const Tensor& dw,
                              const Tensor& db) override {
    cpu::conv2d_backward_weight(g, x, gy, dw, db);
  }
  void unfold(const ConvGeom& g, const Tensor& x, const Tensor& cols, bool fold) override {
    cpu::unfold(g, x, cols, fold);
  }
  // --- losses (loss branch) ---
  void cross_entropy(const Tensor& x, const Tensor& t, const Tensor& w, int64_t ignore_index, double eps,
                     const Tensor& loss, const Tensor& wt, const Tensor& stats) override {
    cpu::cross_entropy(x, t, w, ignore_index, eps, loss, wt, stats);
  }
  void cross_entropy_backward(const Tensor& x, const Tensor& t, const Tensor& w, int64_t ignore_index, double eps,
                              const Tensor& stats, const Tensor& g, const Tensor& dx) override {
    cpu::cross_entropy_backward(x, t, w, ignore_index, eps, stats, g, dx);
  }
  void nll_loss(const Tensor& x, const Tensor& t, const Tensor& w, int64_t ignore_index, const Tensor& loss,
                const Tensor& wt) override {
    cpu::nll_loss(x, t, w, ignore_index, loss, wt);
  }
  void nll_loss_backward(const Tensor& t, const Tensor& w, int64_t ignore_index, const Tensor& g,
                         const Tensor& dx) override {
    cpu::nll_loss_backward(t, w, ignore_index, g, dx);
  }
  // --- end losses ---
  // --- pool / norm families (poolnorm branch) ---
  void pool2d(PoolOp op, const Tensor& x, const Tensor& out, const Tensor& idx, const PoolParams& p) override {
    cpu::pool2d(op, x, out, idx, p);
  }
  void pool2d_backward(PoolOp op, const Tensor& gy, const Tensor& idx, const Tensor& gx,
                       const PoolParams& p) override {
    cpu::pool2d_backward(op, gy, idx, gx, p);
  }
  void interp2d(const Tensor& x, const Tensor& out, const InterpTables& t) override { cpu::interp2d(x, out, t); }
  void interp2d_backward(const Tensor& gy, const Tensor& gx, const InterpTables& t) override {
    cpu::interp2d_backward(gy, gx, t);
  }
  void batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& mean, const Tensor& var,
                  const Tensor& invstd, const Tensor& y, bool training, double eps) override {
    cpu::batch_norm(x, w, b, mean, var, invstd, y, training, eps);
  }
  void batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& w, const Tensor& mean,
                           const Tensor& invstd, const Tensor& gx, const Tensor& gw, const Tensor& gb,
                           bool training) override {
    cpu::batch_norm_backward(x, gy, w, mean, invstd, gx, gw, gb, training);
  }
  void batch_norm_update_running(const Tensor& r, const Tensor& stat, double momentum, double factor) override {
    cpu::batch_norm_update_running(r, stat, momentum, factor);
  }
  // --- recurrent cells ---
  void lstm_cell(const Tensor& ig, const Tensor& hg, const Tensor& cx, const Tensor& hy, const Tensor& cy,
                 const Tensor& ws) override {
    cpu::lstm_cell(ig, hg, cx, hy, cy, ws);
  }
  void lstm_cell_backward(const Tensor& ws, const Tensor& cx, const Tensor& ghy, const Tensor& gcy,
                          const Tensor& dgates, const Tensor& dcx) override {
    cpu::lstm_cell_backward(ws, cx, ghy, gcy, dgates, dcx);
  }
  void gru_cell(const Tensor& ig, const Tensor& hg, const Tensor& hx, const Tensor& hy, const Tensor& ws) override {
    cpu::gru_cell(ig, hg, hx, hy, ws);
  }
  void gru_cell_backward(const Tensor& ws, const Tensor& hx, const Tensor& ghy, const Tensor& dig,
                         const Tensor& dhg, const Tensor& dhx) override {
    cpu::gru_cell_backward(ws, hx, ghy, dig, dhg, dhx);
  }
  void layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y, const Tensor& mean,
                  const Tensor& rstd, double eps) override {
    cpu::layer_norm(x, w, b, y, mean, rstd, eps);
  }
  void layer_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& w, const Tensor& mean,
                           const Tensor& rstd, const Tensor& gx, const Tensor& gw, const Tensor& gb) override {
    cpu::layer_norm_backward(x, gy, w, mean, rstd, gx, gw, gb);
  }
  void group_norm(const Tensor& x, int64_t groups, const Tensor& w, const Tensor& b, const Tensor& y,
                  const Tensor& mean, const Tensor& rstd, double eps) override {
    cpu::group_norm(x, groups, w, b, y, mean, rstd, eps);
  }
  void group_norm_backward(const Tensor& x, const Tensor& gy, int64_t groups, const Tensor& w, const Tensor& mean,
                           const Tensor& rstd, const Tensor& gx, const Tensor& gw, const Tensor& gb) override {
    cpu::group_norm_backward(x, gy, groups, w, mean, rstd, gx, gw, gb);
  }
};
}  // namespace

Backend& backend_for(Device d) {
  static CpuBackend cpu_backend;
  if (d.is_cpu()) return cpu_backend;
  throw RuntimeError(str("ember was built without CUDA: cannot run on device ", d));
}

}  // namespace ember

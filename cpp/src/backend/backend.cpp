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
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override {
    cpu::binary(op, a, b, out);
  }
  void where(const Tensor& c, const Tensor& a, const Tensor& b, const Tensor& out) override {
    cpu::where(c, a, b, out);
  }
  void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out) override {
    cpu::reduce(op, x, dims, out);
  }
  // linalg
  void gemm_batched(const Tensor& a, const Tensor& b, const Tensor& out, Scalar alpha, Scalar beta) override {
    cpu::gemm_batched(a, b, out, alpha, beta);
  }
  void gemm(DType dt, bool ta, bool tb, int64_t M, int64_t N, int64_t K, Scalar alpha, const void* A, int64_t lda,
            const void* B, int64_t ldb, Scalar beta, void* C, int64_t ldc) override {
    cpu::gemm(dt, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
};
}  // namespace

Backend& backend_for(Device d) {
  static CpuBackend cpu_backend;
  if (d.is_cpu()) return cpu_backend;
  throw RuntimeError(str("ember was built without CUDA: cannot run on device ", d));
}

}  // namespace ember

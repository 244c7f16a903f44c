// Kernel-level microbenchmarks: GEMM shapes, elementwise (contiguous and broadcast), reductions
// and softmax. Inputs are float32, made outside the timed loop; grad mode is off (no graph).
#include "bench_common.h"
#include "ember/ops/reduce.h"
#include "ember/ops/shape.h"

namespace ember::bench {
namespace {

void set_flops(benchmark::State& st, double flops_per_iter) {
  st.counters["FLOPS"] = benchmark::Counter(flops_per_iter, benchmark::Counter::kIsIterationInvariantRate);
}

// --- GEMM -----------------------------------------------------------------------------------
// a (M, K) @ b (K, N) -> (M, N); square sizes.
void BM_mm_square(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t n = st.range(0);
  Tensor a = randn({n, n}), b = randn({n, n});
  for (auto _ : st) keep(ops::mm(a, b));
  set_flops(st, 2.0 * n * n * n);
}
BENCHMARK(BM_mm_square)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Arg(1024);

// linear: x (B, IN) . W (OUT, IN)^T + bias -> (B, OUT); the MLP/LeNet layer shapes.
void BM_linear_xWt(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t B = st.range(0), IN = st.range(1), OUT = st.range(2);
  Tensor x = randn({B, IN}), w = randn({OUT, IN}), bias = randn({OUT});
  for (auto _ : st) keep(ops::linear(x, w, bias));
  set_flops(st, 2.0 * B * IN * OUT);
}
BENCHMARK(BM_linear_xWt)
    ->Args({128, 784, 256})->Args({128, 256, 128})->Args({128, 128, 10})
    ->Args({64, 400, 120})->Args({1, 8, 8})->Args({128, 2048, 256})
    ->Args({1, 784, 256})->Args({4, 784, 256})->Args({8, 784, 256});  // small batches: the dot-rows kernel

// a (M, K) @ b (K, N), b row-major, few rows (x @ W; a Linear's input gradient at small batch: A
// and B read in place, nothing packed).
void BM_mm_few_rows(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t M = st.range(0), K = st.range(1), N = st.range(2);
  Tensor a = randn({M, K}), b = randn({K, N});
  for (auto _ : st) keep(ops::mm(a, b));
  set_flops(st, 2.0 * M * K * N);
}
BENCHMARK(BM_mm_few_rows)->Args({1, 256, 784})->Args({4, 256, 784})->Args({8, 256, 784})->Args({16, 256, 784});

// Transposed operands: a^T (K, M)^T @ b (K, N) (the dW = x^T . dy of a linear backward) and
// a (M, K) @ b^T (N, K)^T.
void BM_mm_at_b(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t M = st.range(0), K = st.range(1), N = st.range(2);
  Tensor at = randn({K, M}), b = randn({K, N});
  Tensor a = ops::t(at);
  for (auto _ : st) keep(ops::mm(a, b));
  set_flops(st, 2.0 * M * K * N);
}
BENCHMARK(BM_mm_at_b)->Args({256, 128, 784})->Args({128, 128, 256})->Args({512, 512, 512});

void BM_mm_a_bt(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t M = st.range(0), K = st.range(1), N = st.range(2);
  Tensor a = randn({M, K}), bt = randn({N, K});
  Tensor b = ops::t(bt);
  for (auto _ : st) keep(ops::mm(a, b));
  set_flops(st, 2.0 * M * K * N);
}
BENCHMARK(BM_mm_a_bt)->Args({128, 256, 784})->Args({512, 512, 512});

// --- elementwise ----------------------------------------------------------------------------
enum EwKind { kAdd, kMul, kRelu, kExp, kTanh, kGelu };

void BM_elementwise(benchmark::State& st) {
  NoGradGuard ng;
  const auto kind = static_cast<EwKind>(st.range(0));
  const int64_t n = st.range(1);
  Tensor a = randn({n}), b = randn({n});
  for (auto _ : st) {
    switch (kind) {
      case kAdd: keep(ops::add(a, b)); break;
      case kMul: keep(ops::mul(a, b)); break;
      case kRelu: keep(ops::relu(a)); break;
      case kExp: keep(ops::exp(a)); break;
      case kTanh: keep(ops::tanh(a)); break;
      case kGelu: keep(ops::unary(UnaryOp::Gelu, a)); break;
    }
  }
  st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(BM_elementwise)
    ->ArgNames({"op(add,mul,relu,exp,tanh,gelu)", "n"})
    ->ArgsProduct({{kAdd, kMul, kRelu, kExp, kTanh, kGelu}, {1, 1024, 1 << 16, 1 << 20}});

// Broadcast: x (R, C) + row (C) and x (R, C) * col (R, 1).
void BM_add_broadcast_row(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t R = st.range(0), C = st.range(1);
  Tensor x = randn({R, C}), row = randn({C});
  for (auto _ : st) keep(ops::add(x, row));
  st.SetItemsProcessed(st.iterations() * R * C);
}
BENCHMARK(BM_add_broadcast_row)->Args({128, 256})->Args({1024, 1024});

void BM_mul_broadcast_col(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t R = st.range(0), C = st.range(1);
  Tensor x = randn({R, C}), col = randn({R, 1});
  for (auto _ : st) keep(ops::mul(x, col));
  st.SetItemsProcessed(st.iterations() * R * C);
}
BENCHMARK(BM_mul_broadcast_col)->Args({128, 256})->Args({1024, 1024});

// Non-contiguous input: add on a transposed view.
void BM_add_transposed(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t n = st.range(0);
  Tensor a = ops::t(randn({n, n})), b = randn({n, n});
  for (auto _ : st) keep(ops::add(a, b));
  st.SetItemsProcessed(st.iterations() * n * n);
}
BENCHMARK(BM_add_transposed)->Arg(256)->Arg(1024);

// --- reductions and softmax -----------------------------------------------------------------
void BM_sum_last_dim(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t R = st.range(0), C = st.range(1);
  Tensor x = randn({R, C});
  for (auto _ : st) keep(ops::sum(x, {1}));
  st.SetItemsProcessed(st.iterations() * R * C);
}
BENCHMARK(BM_sum_last_dim)->Args({128, 10})->Args({1024, 1024})->Args({16, 1 << 16});

void BM_sum_first_dim(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t R = st.range(0), C = st.range(1);
  Tensor x = randn({R, C});
  for (auto _ : st) keep(ops::sum(x, {0}));
  st.SetItemsProcessed(st.iterations() * R * C);
}
BENCHMARK(BM_sum_first_dim)->Args({128, 256})->Args({1024, 1024})->Args({1 << 16, 16});

void BM_sum_all(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t n = st.range(0);
  Tensor x = randn({n});
  for (auto _ : st) keep(ops::sum(x));
  st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(BM_sum_all)->Arg(1024)->Arg(1 << 20);

void BM_softmax_last_dim(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t R = st.range(0), C = st.range(1);
  Tensor x = randn({R, C});
  for (auto _ : st) keep(ops::softmax(x, 1));
  st.SetItemsProcessed(st.iterations() * R * C);
}
BENCHMARK(BM_softmax_last_dim)->Args({128, 10})->Args({1024, 1024})->Args({64, 32000});

void BM_log_softmax_last_dim(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t R = st.range(0), C = st.range(1);
  Tensor x = randn({R, C});
  for (auto _ : st) keep(ops::log_softmax(x, 1));
  st.SetItemsProcessed(st.iterations() * R * C);
}
BENCHMARK(BM_log_softmax_last_dim)->Args({128, 10})->Args({1024, 1024});

}  // namespace
}  // namespace ember::bench

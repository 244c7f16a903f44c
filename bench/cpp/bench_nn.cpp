// Layer-level microbenchmarks: conv2d forward / backward per shape, max pooling, fused optimizer
// steps (SGD momentum, Adam), cross-entropy, and autograd overhead on small graphs. Backward
// benchmarks time forward + backward through the engine (what a training step pays).
#include "bench_common.h"
#include "ember/autograd.h"
#include "ember/ops/conv.h"
#include "ember/ops/loss.h"
#include "ember/ops/optim.h"
#include "ember/ops/pool.h"
#include "ember/ops/reduce.h"

namespace ember::bench {
namespace {

// Conv shapes: N, C, H(=W), O, K, pad. LeNet's two convs, the main job's two (BatchNorm LeNet:
// 1 -> 16 and 16 -> 32), a VGG block, a 1x1 conv.
#define CONV_SHAPES                                                                             \
  ArgNames({"N", "C", "HW", "O", "K", "pad"})                                                   \
      ->Args({64, 1, 28, 6, 5, 2})->Args({64, 6, 14, 16, 5, 0})->Args({64, 1, 28, 16, 5, 2})    \
      ->Args({64, 16, 14, 32, 5, 0})->Args({128, 3, 32, 32, 3, 1})->Args({32, 64, 16, 64, 3, 1}) \
      ->Args({32, 64, 16, 128, 1, 0})

struct ConvShape {
  int64_t N, C, HW, O, K, pad;
  explicit ConvShape(const benchmark::State& st)
      : N(st.range(0)), C(st.range(1)), HW(st.range(2)), O(st.range(3)), K(st.range(4)), pad(st.range(5)) {}
  double flops() const {
    const int64_t out = HW + 2 * pad - K + 1;
    return 2.0 * N * O * out * out * C * K * K;
  }
};

// x (N, C, H, W), w (O, C, K, K) -> y (N, O, OH, OW)
void BM_conv2d_forward(benchmark::State& st) {
  NoGradGuard ng;
  ConvShape s(st);
  Tensor x = randn({s.N, s.C, s.HW, s.HW}), w = randn({s.O, s.C, s.K, s.K}), b = randn({s.O});
  for (auto _ : st) keep(ops::conv2d(x, w, b, {1, 1}, {s.pad, s.pad}, {1, 1}, 1));
  st.counters["FLOPS"] = benchmark::Counter(s.flops(), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_conv2d_forward)->CONV_SHAPES;

// forward + backward: dx, dw, db (about 3x the forward's FLOPs).
void BM_conv2d_forward_backward(benchmark::State& st) {
  ConvShape s(st);
  Tensor x = randn_grad({s.N, s.C, s.HW, s.HW}), w = randn_grad({s.O, s.C, s.K, s.K}), b = randn_grad({s.O});
  for (auto _ : st) {
    Tensor y = ops::conv2d(x, w, b, {1, 1}, {s.pad, s.pad}, {1, 1}, 1);
    backward({y}, {ops::ones_like(y)}, false, false);
    keep(w.grad());
  }
  st.counters["FLOPS"] = benchmark::Counter(3 * s.flops(), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_conv2d_forward_backward)->CONV_SHAPES;
#undef CONV_SHAPES

// --- pooling ----------------------------------------------------------------------------------
// x (N, C, H, W) -> (N, C, H/2, W/2), kernel 2 stride 2.
void BM_max_pool2d_forward(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t N = st.range(0), C = st.range(1), HW = st.range(2);
  Tensor x = randn({N, C, HW, HW});
  for (auto _ : st) keep(std::get<0>(ops::max_pool2d_with_indices(x, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false)));
  st.SetItemsProcessed(st.iterations() * N * C * HW * HW);
}
BENCHMARK(BM_max_pool2d_forward)->Args({64, 6, 28})->Args({64, 16, 10})->Args({128, 32, 32});

void BM_max_pool2d_forward_backward(benchmark::State& st) {
  const int64_t N = st.range(0), C = st.range(1), HW = st.range(2);
  Tensor x = randn_grad({N, C, HW, HW});
  for (auto _ : st) {
    Tensor y = std::get<0>(ops::max_pool2d_with_indices(x, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false));
    backward({y}, {ops::ones_like(y)}, false, false);
    keep(x.grad());
  }
  st.SetItemsProcessed(st.iterations() * N * C * HW * HW);
}
BENCHMARK(BM_max_pool2d_forward_backward)->Args({64, 6, 28})->Args({64, 16, 10})->Args({128, 32, 32});

void BM_avg_pool2d_forward(benchmark::State& st) {
  NoGradGuard ng;
  const int64_t N = st.range(0), C = st.range(1), HW = st.range(2);
  Tensor x = randn({N, C, HW, HW});
  for (auto _ : st) keep(ops::avg_pool2d(x, {2, 2}, {2, 2}, {0, 0}, false, true, std::nullopt));
  st.SetItemsProcessed(st.iterations() * N * C * HW * HW);
}
BENCHMARK(BM_avg_pool2d_forward)->Args({64, 6, 28})->Args({128, 32, 32});

// --- optimizer steps (fused kernels) --------------------------------------------------------
void BM_optim_step(benchmark::State& st) {
  NoGradGuard ng;
  const auto kind = static_cast<OptimKind>(st.range(0));
  const int64_t n = st.range(1);
  Tensor p = randn({n}), g = randn({n});
  Tensor step = ops::scalar_tensor(Scalar(0.0), DType::Float32);
  ops::OptimHyper h;
  if (kind == OptimKind::SGD) {
    h.lr = 0.01;
    h.momentum = 0.9;
  }
  std::vector<Tensor> state;
  if (kind == OptimKind::Adam) state = {ops::zeros({n}), ops::zeros({n})};
  state = ops::optim_step_(kind, p, g, state, step, Tensor(), h);
  for (auto _ : st) {
    state = ops::optim_step_(kind, p, g, std::move(state), step, Tensor(), h);
    keep(p);
  }
  st.SetItemsProcessed(st.iterations() * n);
}
BENCHMARK(BM_optim_step)
    ->ArgNames({"kind(0=SGD,1=Adam)", "n"})
    ->ArgsProduct({{static_cast<int64_t>(OptimKind::SGD), static_cast<int64_t>(OptimKind::Adam)},
                   {10, 1 << 12, 200704, 1 << 20}});

// --- loss -----------------------------------------------------------------------------------
void BM_cross_entropy_forward_backward(benchmark::State& st) {
  const int64_t B = st.range(0), C = st.range(1);
  Tensor logits = randn_grad({B, C});
  Tensor target = ops::randint(0, C, {B});
  for (auto _ : st) {
    Tensor loss = ops::cross_entropy(logits, target, std::nullopt);
    backward({loss}, {}, false, false);
    keep(logits.grad());
  }
  st.SetItemsProcessed(st.iterations() * B * C);
}
BENCHMARK(BM_cross_entropy_forward_backward)->Args({128, 10})->Args({64, 1000});

// --- autograd overhead ----------------------------------------------------------------------
// One op on 1-element tensors, no graph: the per-op floor of the C++ core.
void BM_add_scalar_tensors(benchmark::State& st) {
  NoGradGuard ng;
  Tensor a = randn({1}), b = randn({1});
  for (auto _ : st) keep(ops::add(a, b));
}
BENCHMARK(BM_add_scalar_tensors);

// A chain of `depth` small ops (mul, add, relu) on (8) tensors, then backward: per-node cost of
// recording the graph and running the engine.
void BM_autograd_small_graph(benchmark::State& st) {
  const int64_t depth = st.range(0);
  Tensor x = randn_grad({8}), w = randn_grad({8});
  for (auto _ : st) {
    Tensor h = x;
    for (int64_t i = 0; i < depth; ++i) h = ops::relu(ops::add(ops::mul(h, w), x));
    Tensor loss = ops::sum(h);
    backward({loss}, {}, false, false);
    keep(x.grad());
  }
  st.SetItemsProcessed(st.iterations() * depth * 3);
  st.SetLabel("items = recorded ops");
}
BENCHMARK(BM_autograd_small_graph)->Arg(1)->Arg(10)->Arg(100);

// Linear(8, 8) forward + backward at batch 1 (the overhead row of issue 6, without Python).
void BM_linear_8x8_forward_backward(benchmark::State& st) {
  Tensor x = randn({1, 8}), w = randn_grad({8, 8}), b = randn_grad({8});
  for (auto _ : st) {
    Tensor loss = ops::sum(ops::linear(x, w, b));
    backward({loss}, {}, false, false);
    keep(w.grad());
  }
}
BENCHMARK(BM_linear_8x8_forward_backward);

// MLP 784-256-128-10, batch 128: forward + cross-entropy + backward (no optimizer).
void BM_mlp_forward_backward(benchmark::State& st) {
  Tensor x = randn({128, 784});
  Tensor target = ops::randint(0, 10, {128});
  Tensor w1 = randn_grad({256, 784}), b1 = randn_grad({256});
  Tensor w2 = randn_grad({128, 256}), b2 = randn_grad({128});
  Tensor w3 = randn_grad({10, 128}), b3 = randn_grad({10});
  for (auto _ : st) {
    Tensor h = ops::relu(ops::linear(x, w1, b1));
    h = ops::relu(ops::linear(h, w2, b2));
    Tensor loss = ops::cross_entropy(ops::linear(h, w3, b3), target, std::nullopt);
    backward({loss}, {}, false, false);
    keep(w1.grad());
  }
}
BENCHMARK(BM_mlp_forward_backward);

}  // namespace
}  // namespace ember::bench

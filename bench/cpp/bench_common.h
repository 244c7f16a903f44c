// Shared helpers of the C++ microbenchmarks: random inputs, and a way to keep results alive.
// Every benchmark builds its inputs outside the timed loop and reports items/s or bytes/s.
#pragma once
#include <benchmark/benchmark.h>

#include <vector>

#include "ember/autograd.h"
#include "ember/ops.h"
#include "ember/tensor.h"

namespace ember::bench {

inline Tensor randn(const Shape& s) { return ops::randn(s, DType::Float32); }

inline Tensor randn_grad(const Shape& s) {
  Tensor t = randn(s);
  t.set_requires_grad(true);
  return t;
}

inline void keep(const Tensor& t) { benchmark::DoNotOptimize(t.raw_data()); }

}  // namespace ember::bench

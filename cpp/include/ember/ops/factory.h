// Creation, copies and conversions (cpp/src/ops/factory.cpp, random in cpp/src/ops/random.cpp).
#pragma once
#include <optional>

#include "ember/random.h"
#include "ember/scalar.h"
#include "ember/tensor.h"

namespace ember::ops {

Tensor empty(const Shape& shape, DType dtype = default_dtype(), Device device = Device());
Tensor zeros(const Shape& shape, DType dtype = default_dtype(), Device device = Device());
Tensor ones(const Shape& shape, DType dtype = default_dtype(), Device device = Device());
Tensor full(const Shape& shape, Scalar value, DType dtype, Device device = Device());
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, Scalar value);
// A 0-d tensor holding a Python number (weak in type promotion when `wrapped`).
Tensor scalar_tensor(Scalar value, DType dtype, Device device = Device(), bool wrapped = false);
Tensor wrap_scalar(Scalar value, Device device = Device());  // dtype from the scalar's kind

// Differentiable copies and conversions.
Tensor clone(const Tensor& t);        // contiguous copy, grad flows through
Tensor contiguous(const Tensor& t);   // t itself when already contiguous
Tensor to_dtype(const Tensor& t, DType dtype, bool copy = false);  // grad flows for float->float
Tensor to_device(const Tensor& t, Device device, bool copy = false);

// In-place writes (bump the version counter; autograd-aware, see elementwise.cpp).
Tensor& copy_(Tensor& self, const Tensor& src);
Tensor& fill_(Tensor& self, Scalar value);
Tensor& zero_(Tensor& self);

// Without autograd: raw kernel copy into an existing tensor (used by ops themselves).
void copy_into(const Tensor& dst, const Tensor& src);

// Random (cpp/src/ops/random.cpp). `gen` null: the default generator (ember/random.h). Outputs are
// contiguous; in-place fills refuse leaves that require grad and bump the version counter.
void manual_seed(uint64_t seed);
uint64_t initial_seed();
Tensor rand(const Shape& shape, DType dtype = default_dtype(), Generator* gen = nullptr);
Tensor randn(const Shape& shape, DType dtype = default_dtype(), Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::Int64,
               Generator* gen = nullptr);
Tensor randperm(int64_t n, DType dtype = DType::Int64, Generator* gen = nullptr);
Tensor& uniform_(Tensor& self, double from = 0, double to = 1, Generator* gen = nullptr);
Tensor& normal_(Tensor& self, double mean = 0, double std = 1, Generator* gen = nullptr);
// mean + std * N(0, 1), broadcast; no gradient flows to mean or std (like torch).
Tensor normal(const Tensor& mean, const Tensor& std, Generator* gen = nullptr);
Tensor bernoulli(const Tensor& p, Generator* gen = nullptr);     // 0/1 of p's dtype
// (x * keep) / (1 - p), keep = rand(x.shape, x.dtype) >= p, fused; 0 < p < 1, x floating.
Tensor dropout(const Tensor& x, double p, Generator* gen = nullptr);
Tensor& bernoulli_(Tensor& self, double p, Generator* gen = nullptr);
Tensor& bernoulli_(Tensor& self, const Tensor& p, Generator* gen = nullptr);
// probs (C) or (B, C) of non-negative weights -> int64 (num_samples) or (B, num_samples).
Tensor multinomial(const Tensor& probs, int64_t num_samples, bool replacement = false,
                   Generator* gen = nullptr);
Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<DType> dtype);
Tensor linspace(double start, double end, int64_t steps, DType dtype = default_dtype());
Tensor eye(int64_t n, int64_t m, DType dtype = default_dtype());

}  // namespace ember::ops

// The CPU backend's kernel families (free functions, one file per family), gathered into the
// Backend interface by backend.cpp.
#pragma once
#include "ember/backend.h"

namespace ember::cpu {

// elementwise.cpp
void copy(const Tensor& src, const Tensor& dst);
void fill(const Tensor& dst, Scalar value);
void unary(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p);
void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out);
void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);

// reduce.cpp
void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims, const Tensor& out);

// random.cpp (interop branch)
void random(RandomOp op, const Tensor& out, uint64_t key, uint64_t counter, const RandomParams& p);

}  // namespace ember::cpu

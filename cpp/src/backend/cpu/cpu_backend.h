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
// --- reduction family (arg_reduce.cpp, softmax.cpp, scan.cpp) ---
void arg_reduce(bool is_max, const Tensor& x, int64_t dim, const Tensor& values, const Tensor& indices);
void softmax(const Tensor& x, int64_t dim, const Tensor& out, bool log);
void softmax_backward(const Tensor& y, const Tensor& gy, int64_t dim, const Tensor& out, bool log);
void scan(ScanOp op, const Tensor& x, int64_t dim, const Tensor& out, bool reverse);

// index.cpp (index family)
void index_offsets(const std::vector<Tensor>& indices, const std::vector<int64_t>& sizes,
                   const std::vector<int64_t>& strides, const std::vector<int64_t>& dims, const Tensor& out,
                   bool allow_negative, const char* op);
void index_gather(const Tensor& src, const Tensor& offsets, const Tensor& out);
void index_scatter(const Tensor& dst, const Tensor& offsets, const Tensor& values, bool accumulate);
int64_t count_nonzero(const Tensor& x);
void nonzero(const Tensor& x, const Tensor& out);

// optim.cpp (optimizer family)
void optim_step(OptimKind kind, const Tensor& param, const Tensor& grad, const std::vector<Tensor>& state,
                const OptimParams& p);

}  // namespace ember::cpu

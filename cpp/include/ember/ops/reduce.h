// Reductions, arg-reductions, softmax and scans (cpp/src/ops/reduce.cpp, reduce_minmax.cpp,
// softmax.cpp, scan.cpp). `dims` empty = all dims. Signatures and dtype rules follow torch.
#pragma once
#include <optional>
#include <tuple>
#include <vector>

#include "ember/scalar.h"
#include "ember/tensor.h"

namespace ember::ops {

using Dims = std::vector<int64_t>;

Tensor sum(const Tensor& x, const Dims& dims = {}, bool keepdim = false,
           std::optional<DType> dtype = std::nullopt);
Tensor mean(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
// sum(x^2) over all elements, / numel if mean: one pass (mse_loss's reduction of d = x - y).
Tensor squared_sum(const Tensor& x, bool mean);
// sum (or mean) of |x|, and of huber(x) with delta 1, in one pass each: l1_loss, and huber_loss /
// smooth_l1_loss at their default delta / beta, of d = input - target.
Tensor abs_sum(const Tensor& x, bool mean);
Tensor huber1_sum(const Tensor& x, bool mean);
// Reduce `grad` (broadcast result) back to `shape` by summing broadcast dims (engine, backward).
Tensor sum_to(const Tensor& grad, const Shape& shape);

// prod over all dims (dim = nullopt) or one dim; ints and bool give int64 unless dtype is given.
Tensor prod(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false,
            std::optional<DType> dtype = std::nullopt);
// Variance / standard deviation with `correction` (1 = unbiased, 0 = population).
Tensor var(const Tensor& x, const Dims& dims = {}, double correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const Dims& dims = {}, double correction = 1, bool keepdim = false);
std::tuple<Tensor, Tensor> var_mean(const Tensor& x, const Dims& dims = {}, double correction = 1,
                                    bool keepdim = false);
std::tuple<Tensor, Tensor> std_mean(const Tensor& x, const Dims& dims = {}, double correction = 1,
                                    bool keepdim = false);
// all / any: bool result (uint8 for uint8 input, like torch).
Tensor all(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor any(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Dims& dims, bool keepdim = false);
// Vector norm: p = 2 by default; +-inf, 0, 1, any other p.
Tensor norm(const Tensor& x, double p = 2, const Dims& dims = {}, bool keepdim = false,
            std::optional<DType> dtype = std::nullopt);

// max / min: full (0-d value; error on empty) and along a dim (values, int64 indices).
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
std::tuple<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::tuple<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Dims& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);
Tensor argmin(const Tensor& x, std::optional<int64_t> dim = std::nullopt, bool keepdim = false);

// Softmax family over one dim, fused kernels forward and backward.
// Sorting along dim (sort.cpp): values and int64 indices; NaN sorts above every number. Sorts
// are always stable; topk's results always come sorted, ties by position.
std::tuple<Tensor, Tensor> sort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = false);
Tensor argsort(const Tensor& x, int64_t dim = -1, bool descending = false, bool stable = false);
std::tuple<Tensor, Tensor> topk(const Tensor& x, int64_t k, int64_t dim = -1, bool largest = true, bool sorted = true);

Tensor softmax(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);
Tensor log_softmax(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);

// Scans along a dim; ints and bool give int64 unless dtype is given.
Tensor cumsum(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);
Tensor cumprod(const Tensor& x, int64_t dim, std::optional<DType> dtype = std::nullopt);

}  // namespace ember::ops

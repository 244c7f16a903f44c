// Reductions: sum, mean, prod, var/std, all/any, norm — forward and backward side by side.
// (max/min/arg* in reduce_minmax.cpp, softmax/logsumexp in softmax.cpp, cumsum/cumprod in scan.cpp.)
#include <cmath>
#include <limits>

#include "reduce_common.h"

namespace ember::ops {

using namespace red;

namespace {
struct SumBackward : Node {
  Shape in_shape;
  std::vector<int64_t> dims;
  bool keepdim = false;
  std::string name() const override { return dims.empty() ? "SumBackward0" : "SumBackward1"; }
  TensorList apply(TensorList&& g) override { return {unreduce(g[0], in_shape, dims, keepdim)}; }  // d sum = expand(g)
};
struct MeanBackward : Node {
  Shape in_shape;
  std::vector<int64_t> dims;
  bool keepdim = false;
  double count = 1;
  std::string name() const override { return dims.empty() ? "MeanBackward0" : "MeanBackward1"; }
  // d mean = expand(g / count): the same values as expand(g) / count (each element is one
  // g / count), divided before expanding: a view, where dividing the expanded g ran a broadcast
  // division over the whole input (global average pooling's backward: 3x slower)
  TensorList apply(TensorList&& g) override {
    return {unreduce(div(g[0], S(count)), in_shape, dims, keepdim)};
  }
};

Tensor prod_dims(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, DType out_dtype);

struct ProdBackward : Node {
  SavedVariable x, y;
  Shape in_shape;
  std::vector<int64_t> dims;  // explicit
  bool keepdim = false;
  std::string name() const override { return "ProdBackward1"; }
  void release_variables() override { x.reset(); y.reset(); }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this), yv = y.unpack(this);
    Tensor gx = unreduce(g[0], in_shape, dims, keepdim);
    Tensor zero = compare(BinaryOp::Eq, xv, S(0));
    // d prod = g * y / x  when the slice has no zero
    if (!any_true(zero)) return {mul(gx, div(unreduce(yv, in_shape, dims, keepdim), xv))};
    // NOTE: with zeros, d prod/dx_k = product of the others (like torch). Per slice with nz zeros,
    // p = product of the non-zeros and s = sum of the zero entries (0, but it carries their
    // gradient, so double backward is right too): nz = 1 -> p at the zero, s p / x elsewhere;
    // nz = 2 -> (s - x) p at the zeros, 0 elsewhere; nz > 2 -> 0.
    Tensor nz = sum(zero, dims, true);
    Tensor one_zero = compare(BinaryOp::Eq, nz, S(1)), two_zeros = compare(BinaryOp::Eq, nz, S(2));
    Tensor z = zeros_like(gx);
    Tensor safe = where(zero, ones_like(xv), xv);
    Tensor p = expand(prod_dims(safe, dims, true, xv.dtype()), in_shape);
    Tensor s = expand(sum(where(zero, xv, z), dims, true), in_shape);
    Tensor at_zero = where(one_zero, p, where(two_zeros, mul(sub(s, xv), p), z));
    Tensor others = where(compare(BinaryOp::Eq, nz, S(0)), div(p, safe), where(one_zero, div(mul(s, p), safe), z));
    return {mul(gx, where(zero, at_zero, others))};
  }
};

Tensor prod_dims(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, DType out_dtype) {
  Tensor out = reduce_raw(ReduceOp::Prod, x, dims, keepdim, out_dtype);
  if (is_floating(out_dtype))
    if (auto node = make_node<ProdBackward>({x})) {
      node->x = SavedVariable(x, false);
      node->y = SavedVariable(out, true);
      node->in_shape = x.shape();
      node->dims = explicit_dims(dims, x.dim());
      node->keepdim = keepdim;
      set_history(out, node);
    }
  return out;
}

struct VarStdBackward : Node {
  SavedVariable x, y;  // y: the std (std only)
  Shape in_shape;
  std::vector<int64_t> dims;
  bool keepdim = false, is_std = false;
  double dof = 1;
  std::string name() const override { return is_std ? "StdBackward0" : "VarBackward0"; }
  void release_variables() override { x.reset(); y.reset(); }
  // torch's var_backward / std_backward: the scale is formed on the reduced shape, then one
  // product with the centered input: d var = ((2 / dof) g) (x - mean) (inf for dof <= 0: NaN where
  // x == mean, like torch); d std = d var with g / (2 std), 0 where std == 0.
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this);
    Tensor centered = sub(xv, mean(xv, dims, true));
    Tensor gv = g[0];
    if (is_std) {
      Tensor sv = y.unpack(this);
      gv = where(compare(BinaryOp::Eq, sv, S(0)), zeros_like(gv), div(gv, mul(sv, S(2))));
    }
    if (dof <= 0) return {mul(unreduce(gv, in_shape, dims, keepdim), mul(centered, S(INFINITY)))};
    return {mul(unreduce(mul(gv, S(2.0 / dof)), in_shape, dims, keepdim), centered)};
  }
};

Tensor var_std(const Tensor& x, const Dims& dims_in, double correction, bool keepdim, bool is_std) {
  EMBER_CHECK(is_floating(x.dtype()), RuntimeError, "std and var only support floating point and complex dtypes");
  auto dims = wrap_dims(dims_in, x.dim(), is_std ? "std" : "var");
  const double dof = std::max(0.0, static_cast<double>(reduced_count(x.shape(), dims)) - correction);
  Tensor out;
  {  // two passes (mean, then squared deviations): stable for data far from 0
    NoGradGuard ng;
    Tensor centered = sub(x, mean(x, dims, true));
    out = div(reduce_raw(ReduceOp::SumSq, centered, dims, keepdim, x.dtype()), S(dof));
    if (is_std) out = sqrt(out);
  }
  if (auto node = make_node<VarStdBackward>({x})) {
    node->x = SavedVariable(x, false);
    if (is_std) node->y = SavedVariable(out, true);
    node->in_shape = x.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    node->is_std = is_std;
    node->dof = dof;
    set_history(out, node);
  }
  return out;
}

struct NormBackward : Node {
  SavedVariable x, y;
  Shape in_shape;
  std::vector<int64_t> dims;
  bool keepdim = false;
  double p = 2;
  std::string name() const override { return "LinalgVectorNormBackward0"; }
  void release_variables() override { x.reset(); y.reset(); }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this);
    if (p == 2) {  // x (g / y), g / y set to 0 where y = 0: on the reduced shape, then one product
      Tensor yr = y.unpack(this);  // (torch's formula: self * (grad / norm).masked_fill_(norm == 0, 0))
      Tensor zero = compare(BinaryOp::Eq, yr, S(0));
      Tensor scale = where(zero, zeros_like(yr), div(g[0], where(zero, ones_like(yr), yr)));
      return {mul(xv, unreduce(scale, in_shape, dims, keepdim))};
    }
    Tensor gx = unreduce(g[0], in_shape, dims, keepdim);
    if (p == 0) return {zeros_like(xv)};                     // piecewise constant
    if (p == 1) return {mul(gx, sign(xv))};                  // g sign(x)
    Tensor yv = unreduce(y.unpack(this), in_shape, dims, keepdim);
    if (std::isinf(p)) {  // g sign(x) on the entries reaching the norm, split evenly among ties
      Tensor hit = compare(BinaryOp::Eq, abs(xv), yv);
      Tensor count = unreduce(sum(hit, dims, true), in_shape, dims, true);
      return {div(mul(mul(gx, sign(xv)), hit), count)};
    }
    // NOTE: the gradient at the zero vector is 0 (like torch), through a safe denominator.
    Tensor zero = compare(BinaryOp::Eq, yv, S(0));
    Tensor safe = where(zero, ones_like(yv), yv);
    // g sign(x) |x|^(p-1) / y^(p-1)
    Tensor d = div(mul(sign(xv), pow(abs(xv), Scalar(p - 1))), pow(safe, Scalar(p - 1)));
    return {where(zero, zeros_like(gx), mul(gx, d))};
  }
};
}  // namespace

Tensor sum(const Tensor& x, const Dims& dims_in, bool keepdim, std::optional<DType> dtype) {
  auto dims = wrap_dims(dims_in, x.dim(), "sum");
  DType out_dtype = dtype ? *dtype : (is_floating(x.dtype()) ? x.dtype() : DType::Int64);
  Tensor out = reduce_raw(ReduceOp::Sum, x, dims, keepdim, out_dtype);
  if (is_floating(out_dtype))
    if (auto node = make_node<SumBackward>({x})) {
      node->in_shape = x.shape();
      node->dims = dims;
      node->keepdim = keepdim;
      set_history(out, node);
    }
  return out;
}

namespace {
struct SquaredSumBackward : Node {  // d/dx sum(x^2) [/ n] = 2 x g [/ n]
  SavedVariable x;
  double scale = 2.0;
  std::string name() const override { return "SquaredSumBackward0"; }
  TensorList apply(TensorList&& g) override {
    return {mul(x.unpack(this), mul(g[0], S(scale)))};
  }
  void release_variables() override { x.reset(); }
};
}  // namespace

namespace {
// d/dx sum(f(x)) [/ n] = g [/ n] f'(x): f = |x| (sign) or huber with delta 1 (clamp to [-1, 1]).
struct PointwiseSumBackward : Node {
  SavedVariable x;
  ReduceOp op = ReduceOp::AbsSum;
  double scale = 1.0;
  std::string name() const override { return op == ReduceOp::AbsSum ? "AbsSumBackward0" : "HuberSumBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this);
    Tensor gs = expand(mul(g[0], S(scale)), xv.shape());
    if (op == ReduceOp::AbsSum) return {mul(gs, sign(xv))};
    if (!GradMode::is_enabled() && gs.dtype() == xv.dtype()) {  // one fused pass
      Tensor out = Tensor::empty(xv.shape(), xv.dtype(), xv.device());
      UnaryParams p;
      p.p0 = 1.0;
      backend_of(xv).unary_backward(UnaryOp::Huber, gs, xv, out, p);
      return {out};
    }
    return {mul(huber_slope(xv, 1.0), gs)};
  }
  void release_variables() override { x.reset(); }
};

Tensor pointwise_sum(const Tensor& x, ReduceOp op, bool mean, const char* name) {
  EMBER_CHECK(is_floating(x.dtype()), RuntimeError, name, ": expected a floating tensor, got ", dtype_name(x.dtype()));
  const double n = static_cast<double>(x.numel());
  Tensor out = reduce_raw(op, x, {}, false, x.dtype());  // one pass
  if (mean) {  // (empty: 0 / 0 = NaN, as torch's mean)
    NoGradGuard ng;
    out = div(out, S(n));
  }
  if (auto node = make_node<PointwiseSumBackward>({x})) {
    node->x = SavedVariable(x, false);
    node->op = op;
    node->scale = mean ? 1.0 / n : 1.0;
    set_history(out, node);
  }
  return out;
}
}  // namespace

Tensor abs_sum(const Tensor& x, bool mean) { return pointwise_sum(x, ReduceOp::AbsSum, mean, "abs_sum"); }
Tensor huber1_sum(const Tensor& x, bool mean) { return pointwise_sum(x, ReduceOp::Huber1Sum, mean, "huber_sum"); }

Tensor squared_sum(const Tensor& x, bool mean) {
  EMBER_CHECK(is_floating(x.dtype()), RuntimeError, "squared_sum: expected a floating tensor, got ",
              dtype_name(x.dtype()));
  const double n = static_cast<double>(x.numel());
  Tensor out = reduce_raw(ReduceOp::SumSq, x, {}, false, x.dtype());  // one pass
  if (mean) {  // (empty: 0 / 0 = NaN, as torch's mean)
    NoGradGuard ng;
    out = div(out, S(n));
  }
  if (auto node = make_node<SquaredSumBackward>({x})) {
    node->x = SavedVariable(x, false);
    node->scale = mean ? 2.0 / n : 2.0;
    set_history(out, node);
  }
  return out;
}

Tensor mean(const Tensor& x, const Dims& dims_in, bool keepdim) {
  EMBER_CHECK(is_floating(x.dtype()), RuntimeError,
              "mean(): could not infer output dtype. Input dtype must be either a floating point or complex "
              "dtype. Got: ", dtype_name(x.dtype()));
  auto dims = wrap_dims(dims_in, x.dim(), "mean");
  Tensor out = reduce_raw(ReduceOp::Mean, x, dims, keepdim, x.dtype());
  if (auto node = make_node<MeanBackward>({x})) {
    node->in_shape = x.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    node->count = static_cast<double>(reduced_count(x.shape(), dims));
    set_history(out, node);
  }
  return out;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && grad.shape()[d] != 1)) dims.push_back(d);
  Tensor s = dims.empty() ? grad : sum(grad, dims, true);
  return reshape(s, shape);
}

Tensor prod(const Tensor& x, std::optional<int64_t> dim, bool keepdim, std::optional<DType> dtype) {
  std::vector<int64_t> dims;
  if (dim) dims = wrap_dims({*dim}, x.dim(), "prod");
  DType out_dtype = dtype ? *dtype : (is_floating(x.dtype()) ? x.dtype() : DType::Int64);
  Tensor xin = dtype && is_floating(x.dtype()) && is_floating(*dtype) ? to_dtype(x, *dtype) : x;
  return prod_dims(xin, dims, dim ? keepdim : false, out_dtype);
}

Tensor var(const Tensor& x, const Dims& dims, double correction, bool keepdim) {
  return var_std(x, dims, correction, keepdim, false);
}
Tensor std(const Tensor& x, const Dims& dims, double correction, bool keepdim) {
  return var_std(x, dims, correction, keepdim, true);
}
std::tuple<Tensor, Tensor> var_mean(const Tensor& x, const Dims& dims, double correction, bool keepdim) {
  Tensor v = var_std(x, dims, correction, keepdim, false);
  return {v, mean(x, dims, keepdim)};
}
std::tuple<Tensor, Tensor> std_mean(const Tensor& x, const Dims& dims, double correction, bool keepdim) {
  Tensor s = var_std(x, dims, correction, keepdim, true);
  return {s, mean(x, dims, keepdim)};
}

static Tensor all_any(const Tensor& x, const Dims& dims_in, bool keepdim, bool is_all) {
  auto dims = wrap_dims(dims_in, x.dim(), is_all ? "all" : "any");
  Tensor b = x.dtype() == DType::Bool ? x : compare(BinaryOp::Ne, x, S(0));
  Tensor out = reduce_raw(is_all ? ReduceOp::All : ReduceOp::Any, b, dims, keepdim, DType::Bool);
  return x.dtype() == DType::UInt8 ? cast_raw(out, DType::UInt8) : out;  // torch keeps uint8
}
Tensor all(const Tensor& x, const Dims& dims, bool keepdim) { return all_any(x, dims, keepdim, true); }
Tensor any(const Tensor& x, const Dims& dims, bool keepdim) { return all_any(x, dims, keepdim, false); }

Tensor norm(const Tensor& x, double p, const Dims& dims_in, bool keepdim, std::optional<DType> dtype) {
  EMBER_CHECK(is_floating(dtype ? *dtype : x.dtype()), RuntimeError,
              "linalg.vector_norm: Expected a floating point or complex tensor as input. Got ", dtype_name(x.dtype()));
  auto dims = wrap_dims(dims_in, x.dim(), "linalg.vector_norm");
  Tensor xin = dtype ? to_dtype(x, *dtype) : x;
  if (std::isinf(p))
    for (auto d : explicit_dims(dims, x.dim()))
      EMBER_CHECK(x.shape()[d] != 0, RuntimeError, "linalg.vector_norm cannot compute the ", p > 0 ? "" : "-",
                  "inf norm on an empty tensor because the operation does not have an identity");
  Tensor out;
  {
    NoGradGuard ng;
    if (p == 0) out = sum(compare(BinaryOp::Ne, xin, S(0)), dims, keepdim, xin.dtype());
    else if (p == 1) out = sum(abs(xin), dims, keepdim);
    else if (p == 2) out = sqrt(reduce_raw(ReduceOp::SumSq, xin, dims, keepdim, xin.dtype()));  // one pass
    else if (std::isinf(p)) out = p > 0 ? amax(abs(xin), dims, keepdim) : amin(abs(xin), dims, keepdim);
    else out = pow(sum(pow(abs(xin), Scalar(p)), dims, keepdim), Scalar(1.0 / p));
  }
  if (auto node = make_node<NormBackward>({xin})) {
    node->x = SavedVariable(xin, false);
    if (p != 0 && p != 1) node->y = SavedVariable(out, true);
    node->in_shape = x.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    node->p = p;
    set_history(out, node);
  }
  return out;
}

}  // namespace ember::ops

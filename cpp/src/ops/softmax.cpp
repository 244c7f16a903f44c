// softmax / log_softmax (fused CPU kernels forward and backward) and logsumexp.
// The softmax backward node calls the fused kernel, or, when building a graph of the gradient
// (create_graph), the same formula written with differentiable ops.
#include <cmath>

#include "reduce_common.h"

namespace ember::ops {

using namespace red;

namespace {
struct SoftmaxBackward : Node {
  SavedVariable y;
  int64_t dim = 0;
  bool log = false;
  std::string name() const override { return log ? "LogSoftmaxBackward0" : "SoftmaxBackward0"; }
  void release_variables() override { y.reset(); }
  TensorList apply(TensorList&& g) override {
    Tensor yv = y.unpack(this);
    if (GradMode::is_enabled()) {
      if (log) return {sub(g[0], mul(exp(yv), sum(g[0], {dim}, true)))};  // d log_softmax = g - e^y sum(g)
      return {mul(yv, sub(g[0], sum(mul(g[0], yv), {dim}, true)))};     // d softmax = y (g - sum(g y))
    }
    Tensor out = Tensor::empty(yv.shape(), yv.dtype(), yv.device());
    backend_of(yv).softmax_backward(yv, cast_raw(g[0], yv.dtype()), dim, out, log);
    return {out};
  }
};

Tensor softmax_impl(const Tensor& x, int64_t dim_in, std::optional<DType> dtype, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  Tensor xin = dtype ? to_dtype(x, *dtype) : x;
  EMBER_CHECK(is_floating(xin.dtype()), NotImplementedError, op, "(): not implemented for dtype ",
              dtype_name(xin.dtype()), " (pass dtype=ember.float32 to compute in floating point)");
  const int64_t dim = wrap_dim(dim_in, xin.dim(), op);
  Tensor out = Tensor::empty(xin.shape(), xin.dtype(), xin.device());
  backend_of(xin).softmax(xin, dim, out, log);
  if (auto node = make_node<SoftmaxBackward>({xin})) {
    node->y = SavedVariable(out, true);
    node->dim = dim;
    node->log = log;
    set_history(out, node);
  }
  return out;
}

struct LogsumexpBackward : Node {
  SavedVariable x, y;
  Shape in_shape;
  std::vector<int64_t> dims;
  bool keepdim = false;
  std::string name() const override { return "LogsumexpBackward0"; }
  void release_variables() override { x.reset(); y.reset(); }
  TensorList apply(TensorList&& g) override {
    // d logsumexp = g * exp(x - y)
    Tensor yv = unreduce(y.unpack(this), in_shape, dims, keepdim);
    return {mul(unreduce(g[0], in_shape, dims, keepdim), exp(sub(x.unpack(this), yv)))};
  }
};
}  // namespace

Tensor softmax(const Tensor& x, int64_t dim, std::optional<DType> dtype) { return softmax_impl(x, dim, dtype, false); }
Tensor log_softmax(const Tensor& x, int64_t dim, std::optional<DType> dtype) {
  return softmax_impl(x, dim, dtype, true);
}

Tensor logsumexp(const Tensor& x, const Dims& dims_in, bool keepdim) {
  Tensor xin = is_floating(x.dtype()) ? x : to_dtype(x, default_dtype());  // ints compute in float
  auto dims = wrap_dims(dims_in, x.dim(), "logsumexp");
  Tensor out;
  {
    NoGradGuard ng;
    if (xin.numel() == 0) {
      out = log(sum(exp(xin), dims, keepdim));  // -inf: the log of an empty sum
    } else if (dims.size() == 1 || (dims.empty() && xin.dim() == 1)) {  // one dim: the fused kernel, one pass for
      // the max and one for the sum of exp(x - max) (composite: four passes, two temporaries)
      const int64_t d = dims.empty() ? 0 : dims[0];
      Shape kept, dropped;
      reduced_shapes(xin.shape(), explicit_dims(dims, xin.dim()), kept, dropped);
      out = Tensor::empty(dropped, xin.dtype(), xin.device());
      backend_of(xin).logsumexp(xin, d, out);
      if (keepdim) out = reshape(out, kept);
    } else {  // stable: shift by the max (by 0 where the max is infinite)
      Tensor m = amax(xin, dims, true);
      m = where(unary(UnaryOp::IsInf, m), zeros_like(m), m);
      Shape kept, dropped;
      reduced_shapes(xin.shape(), explicit_dims(dims, xin.dim()), kept, dropped);
      out = add(log(sum(exp(sub(xin, m)), dims, keepdim)), keepdim ? m : reshape(m, dropped));
    }
  }
  if (auto node = make_node<LogsumexpBackward>({xin})) {
    node->x = SavedVariable(xin, false);
    node->y = SavedVariable(out, true);
    node->in_shape = xin.shape();
    node->dims = dims;
    node->keepdim = keepdim;
    set_history(out, node);
  }
  return out;
}

}  // namespace ember::ops

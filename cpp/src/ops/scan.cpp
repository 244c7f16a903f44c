// Scans: cumsum and cumprod along one dim — forward (backend scan kernel) and backward.
#include "reduce_common.h"

namespace ember::ops {

using namespace red;

namespace {
Tensor scan_sum(const Tensor& x, int64_t dim, bool reverse);

struct CumsumBackward : Node {
  int64_t dim = 0;
  bool reverse = false;
  std::string name() const override { return "CumsumBackward0"; }
  TensorList apply(TensorList&& g) override { return {scan_sum(g[0], dim, !reverse)}; }  // d cumsum = reverse cumsum(g)
};

// Inclusive cumulative sum along dim (from the end when reverse), differentiable.
Tensor scan_sum(const Tensor& x, int64_t dim, bool reverse) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  backend_of(x).scan(ScanOp::Sum, x, dim, out, reverse);
  if (is_floating(x.dtype()))
    if (auto node = make_node<CumsumBackward>({x})) {
      node->dim = dim;
      node->reverse = reverse;
      set_history(out, node);
    }
  return out;
}

// Gradient of y = cumprod(x) along dim for incoming g, written with differentiable ops.
Tensor cumprod_backward(const Tensor& xv, const Tensor& yv, const Tensor& gv, int64_t dim) {
  Tensor zero = compare(BinaryOp::Eq, xv, S(0));
  // d cumprod: dx_k = sum_{i >= k} g_i y_i / x_k  when x has no zero
  if (!any_true(zero)) return div(scan_sum(mul(gv, yv), dim, true), xv);
  if (xv.dim() == 0) return gv;
  // NOTE: with zeros, let z be the first zero of a slice and x' = x with ones up to z, c =
  // cumprod(x'). Before z the formula above holds; at z, dx_z = prod_{j<z} x_j * sum_{i>=z} g_i c_i;
  // after z, dx_k = x_z * prod_{j<z} x_j * (the same gradient for cumprod(x') at k), which is 0
  // but carries x_z's gradient (double backward). x' has fewer zeros, so the recursion ends.
  const int64_t n = xv.shape()[dim];
  Tensor pos = iota_along(n, dim, xv.dim(), xv.device());
  Tensor first = argmax(cast_raw(zero, DType::UInt8), dim, true);
  Tensor z = where(any(zero, {dim}, true), first, wrap_scalar(Scalar(n)));
  Tensor before = compare(BinaryOp::Lt, pos, z), at = compare(BinaryOp::Eq, pos, z);
  Tensor one = ones_like(xv), none = zeros_like(gv);
  Tensor safe = where(before, xv, one);
  Tensor g_before = div(scan_sum(mul(gv, yv), dim, true), safe);
  Tensor lead = prod(safe, dim, true);                                        // prod_{j<z} x_j
  Tensor xp = where(compare(BinaryOp::Le, pos, z), one, xv);                  // x'
  Tensor c = cumprod(xp, dim);                                                // prod_{z<j<=i} x_j
  Tensor g_after = where(before, none, gv);
  Tensor g_at = mul(lead, sum(mul(g_after, c), {dim}, true));
  Tensor xz = sum(where(at, xv, zeros_like(xv)), {dim}, true);               // x_z (= 0)
  Tensor after = mul(mul(xz, lead), cumprod_backward(xp, c, g_after, dim));
  return where(before, g_before, where(at, expand(g_at, xv.shape()), after));
}

struct CumprodBackward : Node {
  SavedVariable x, y;
  int64_t dim = 0;
  std::string name() const override { return "CumprodBackward0"; }
  void release_variables() override { x.reset(); y.reset(); }
  TensorList apply(TensorList&& g) override { return {cumprod_backward(x.unpack(this), y.unpack(this), g[0], dim)}; }
};

DType scan_dtype(const Tensor& x, std::optional<DType> dtype) {
  if (dtype) return *dtype;
  return is_integral(x.dtype(), true) ? DType::Int64 : x.dtype();
}
Tensor scan_input(const Tensor& x, DType dt) {
  return is_floating(x.dtype()) && is_floating(dt) ? to_dtype(x, dt) : cast_raw(x, dt);
}
}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim, std::optional<DType> dtype) {
  const int64_t d = wrap_dim(dim, x.dim(), "cumsum");
  return scan_sum(scan_input(x, scan_dtype(x, dtype)), d, false);
}

Tensor cumprod(const Tensor& x, int64_t dim, std::optional<DType> dtype) {
  const int64_t d = wrap_dim(dim, x.dim(), "cumprod");
  Tensor xin = scan_input(x, scan_dtype(x, dtype));
  Tensor out = Tensor::empty(xin.shape(), xin.dtype(), xin.device());
  backend_of(xin).scan(ScanOp::Prod, xin, d, out, false);
  if (is_floating(xin.dtype()))
    if (auto node = make_node<CumprodBackward>({xin})) {
      node->x = SavedVariable(xin, false);
      node->y = SavedVariable(out, true);
      node->dim = d;
      set_history(out, node);
    }
  return out;
}

}  // namespace ember::ops

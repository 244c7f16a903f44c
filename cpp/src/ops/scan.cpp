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

struct CumprodBackward : Node {
  SavedVariable x, y;
  int64_t dim = 0;
  std::string name() const override { return "CumprodBackward0"; }
  void release_variables() override { x.reset(); y.reset(); }
  TensorList apply(TensorList&& g) override {
    Tensor xv = x.unpack(this), yv = y.unpack(this), gv = g[0];
    Tensor zero = compare(BinaryOp::Eq, xv, S(0));
    // d cumprod: dx_k = sum_{i >= k} g_i y_i / x_k  when x has no zero
    if (!any_true(zero)) return {div(scan_sum(mul(gv, yv), dim, true), xv)};
    if (xv.dim() == 0) return {gv};
    // NOTE: with zeros, let z be the first zero of a slice: positions before z use the formula
    // above; z itself gets prod_{j<z} x_j * sum_{i>=z} g_i prod_{z<j<=i} x_j; later ones get 0.
    const int64_t n = xv.shape()[dim];
    Tensor pos = iota_along(n, dim, xv.dim(), xv.device());
    Tensor first = argmax(cast_raw(zero, DType::UInt8), dim, true);
    Tensor z = where(any(zero, {dim}, true), first, wrap_scalar(Scalar(n)));
    Tensor before = compare(BinaryOp::Lt, pos, z), at = compare(BinaryOp::Eq, pos, z);
    Tensor one = ones_like(xv);
    Tensor safe = where(before, xv, one);
    Tensor g_before = div(scan_sum(mul(gv, yv), dim, true), safe);
    Tensor lead = prod(safe, dim, true);                                   // prod_{j<z} x_j
    Tensor tail = cumprod(where(compare(BinaryOp::Le, pos, z), one, xv), dim);  // prod_{z<j<=i} x_j
    Tensor g_at = mul(lead, sum(where(before, zeros_like(gv), mul(gv, tail)), {dim}, true));
    return {where(before, g_before, where(at, expand(g_at, xv.shape()), zeros_like(g_before)))};
  }
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

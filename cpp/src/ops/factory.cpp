// Creation, copies and conversions, with clone/to_dtype/copy_ differentiable.
#include <cmath>

#include "common.h"

namespace ember::ops {

Tensor empty(const Shape& shape, DType dtype, Device device) { return Tensor::empty(shape, dtype, device); }

Tensor full(const Shape& shape, Scalar value, DType dtype, Device device) {
  Tensor t = Tensor::empty(shape, dtype, device);
  backend_of(t).fill(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype, Device device) { return full(shape, Scalar(int64_t(0)), dtype, device); }
Tensor ones(const Shape& shape, DType dtype, Device device) { return full(shape, Scalar(int64_t(1)), dtype, device); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype(), t.device()); }
Tensor full_like(const Tensor& t, Scalar v) { return full(t.shape(), v, t.dtype(), t.device()); }

Tensor scalar_tensor(Scalar value, DType dtype, Device device, bool wrapped) {
  Tensor t = full({}, value, dtype, device);
  t.impl()->wrapped_number = wrapped;
  return t;
}
Tensor wrap_scalar(Scalar value, Device device) {
  // Wrapped floats are stored in double so no precision is lost before promotion decides.
  DType dt = value.is_floating() ? DType::Float64 : value.natural_dtype();
  return scalar_tensor(value, dt, device, true);
}

// --- raw helpers --------------------------------------------------------------------------------
Tensor cast_raw(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = Tensor::empty(t.shape(), dtype, t.device());
  backend_of(out).copy(t, out);
  return out;
}

void copy_into(const Tensor& dst, const Tensor& src) { backend_of(dst).copy(src, dst); }

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  EMBER_CHECK(a.device() == b.device() || b.impl()->wrapped_number || a.impl()->wrapped_number, RuntimeError,
              op, ": expected all tensors to be on the same device, but found at least two devices, ",
              a.device(), " and ", b.device());
}

bool can_cast(DType from, DType to) {
  if (is_floating(from) && !is_floating(to)) return false;
  if (from != DType::Bool && to == DType::Bool) return false;
  return true;
}

void check_inplace(const Tensor& self, const char* op) {
  if (GradMode::is_enabled() && self.is_leaf() && self.requires_grad())
    throw RuntimeError(str(op, ": a leaf Variable that requires grad is being used in an in-place operation."));
  for (int64_t d = 0; d < self.dim(); ++d)
    EMBER_CHECK(!(self.strides()[d] == 0 && self.shape()[d] > 1), RuntimeError, op,
                ": unsupported operation: more than one element of the written-to tensor refers to a single "
                "memory location. Please clone() the tensor before performing the operation.");
}

// --- clone / contiguous / casts -------------------------------------------------------------------
namespace {
struct CloneBackward : Node {
  std::string name() const override { return "CloneBackward0"; }
  TensorList apply(TensorList&& g) override { return {g[0]}; }  // d(clone x) = g
};
struct ToCopyBackward : Node {
  DType src_dtype;
  std::string name() const override { return "ToCopyBackward0"; }
  TensorList apply(TensorList&& g) override { return {to_dtype(g[0], src_dtype)}; }
};
}  // namespace

Tensor clone(const Tensor& t) {
  Tensor out = Tensor::empty(t.shape(), t.dtype(), t.device());
  backend_of(out).copy(t, out);
  if (auto node = make_node<CloneBackward>({t})) set_history(out, node);
  return out;
}

Tensor contiguous(const Tensor& t) { return t.is_contiguous() ? t : clone(t); }

Tensor to_dtype(const Tensor& t, DType dtype, bool copy) {
  if (t.dtype() == dtype && !copy) return t;
  Tensor out = Tensor::empty(t.shape(), dtype, t.device());
  backend_of(out).copy(t, out);
  if (is_floating(dtype) && is_floating(t.dtype())) {
    if (auto node = make_node<ToCopyBackward>({t})) {
      node->src_dtype = t.dtype();
      set_history(out, node);
    }
  }
  return out;
}

Tensor to_device(const Tensor& t, Device device, bool copy) {
  if (t.device() == device && !copy) return t;
  EMBER_CHECK(device.is_cpu() && t.device().is_cpu(), RuntimeError,
              "to: ember was built without CUDA: cannot move a tensor to ", device);
  return clone(t);
}

// --- in-place writes ------------------------------------------------------------------------------
namespace {
struct CopyBackward : Node {  // self.copy_(src): self's old value gets no gradient, src gets g
  DType src_dtype;
  std::string name() const override { return "CopyBackwards"; }
  TensorList apply(TensorList&& g) override {
    return {Tensor(), needs_input_grad(1) ? to_dtype(g[0], src_dtype) : Tensor()};
  }
};
struct FillBackward : Node {
  std::string name() const override { return "FillBackward0"; }
  TensorList apply(TensorList&&) override { return {Tensor()}; }
};
}  // namespace

Tensor& copy_(Tensor& self, const Tensor& src) {
  check_inplace(self, "copy_");
  broadcast_shapes(self.shape(), src.shape(), "copy_");
  EMBER_CHECK(broadcast_shapes(self.shape(), src.shape(), "copy_") == self.shape(), RuntimeError,
              "copy_: the source of shape ", shape_str(src.shape()), " cannot be broadcast to the destination of shape ",
              shape_str(self.shape()));
  if (GradMode::is_enabled() && (self.requires_grad() || src.requires_grad())) {
    // result = expand(src) cast to self's dtype, recorded with both edges (self's gets nothing).
    Tensor result = Tensor::empty(self.shape(), self.dtype(), self.device());
    backend_of(result).copy(src, result);
    if (is_floating(self.dtype())) {
      if (auto node = make_node<CopyBackward>({self, src})) {
        node->src_dtype = src.dtype();
        set_history(result, node);
      }
    }
    commit_inplace(self, result);
    return self;
  }
  // Overlapping source and destination: go through a temporary.
  if (src.storage() == self.storage() && !(src.raw_data() == self.raw_data() && src.strides() == self.strides()))
    backend_of(self).copy(clone(src.detach()), self);
  else
    backend_of(self).copy(src, self);
  self.bump_version();
  return self;
}

Tensor& fill_(Tensor& self, Scalar value) {
  check_inplace(self, "fill_");
  if (GradMode::is_enabled() && self.requires_grad()) {
    Tensor result = full(self.shape(), value, self.dtype(), self.device());
    if (auto node = make_node<FillBackward>({self})) set_history(result, node);
    commit_inplace(self, result);
    return self;
  }
  backend_of(self).fill(self, value);
  self.bump_version();
  return self;
}

Tensor& zero_(Tensor& self) { return fill_(self, Scalar(int64_t(0))); }

Tensor arange(Scalar start, Scalar end, Scalar step, std::optional<DType> dtype) {
  bool any_float = start.is_floating() || end.is_floating() || step.is_floating();
  DType dt = dtype ? *dtype : (any_float ? default_dtype() : DType::Int64);
  double s = start.to_double(), e = end.to_double(), st = step.to_double();
  EMBER_CHECK(st != 0, RuntimeError, "arange: step must be nonzero");
  EMBER_CHECK(std::isfinite(s) && std::isfinite(e), RuntimeError, "arange: unsupported range: ", s, " -> ", e);
  EMBER_CHECK((st > 0 && e >= s) || (st < 0 && e <= s), RuntimeError,
              "arange: upper bound and larger bound inconsistent with step sign (start=", s, ", end=", e,
              ", step=", st, ")");
  int64_t n = any_float ? static_cast<int64_t>(std::ceil((e - s) / st))
                        : (end.to_int() - start.to_int() + step.to_int() + (step.to_int() > 0 ? -1 : 1)) / step.to_int();
  n = std::max<int64_t>(n, 0);
  Tensor out = Tensor::empty({n}, dt);
  dispatch_numeric(dt, "arange", [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    if (any_float) for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(s + st * static_cast<double>(i));
    else for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start.to_int() + step.to_int() * i);
  });
  return out;
}

Tensor linspace(double start, double end, int64_t steps, DType dtype) {
  EMBER_CHECK(steps >= 0, RuntimeError, "linspace: number of steps must be non-negative, got ", steps);
  Tensor out = Tensor::empty({steps}, dtype);
  const double step = steps > 1 ? (end - start) / static_cast<double>(steps - 1) : 0.0;
  const int64_t half = steps / 2;
  dispatch_numeric(dtype, "linspace", [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    // Like torch: the first half counts up from start, the second half down from end.
    for (int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(i < half ? start + step * static_cast<double>(i)
                                     : end - step * static_cast<double>(steps - 1 - i));
  });
  return out;
}

Tensor eye(int64_t n, int64_t m, DType dtype) {
  if (m < 0) m = n;
  EMBER_CHECK(n >= 0 && m >= 0, RuntimeError, "eye: n and m must be non-negative, got ", n, ", ", m);
  Tensor out = zeros({n, m}, dtype);
  dispatch_all(dtype, "eye", [&](auto tag) {
    using T = decltype(tag);
    T* p = out.data<T>();
    for (int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  return out;
}

}  // namespace ember::ops

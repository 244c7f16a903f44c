// Joining: cat (type promotion across inputs, torch's skipping of 1-D empty tensors) and stack.
// Each input is copied into its slab of the output; the backward narrows the gradient back.
#include "common.h"

namespace ember::ops {

namespace {
struct CatBackward : Node {
  int64_t dim = 0;
  std::vector<int64_t> offs, sizes;
  std::vector<char> skipped;
  std::string name() const override { return "CatBackward0"; }
  TensorList apply(TensorList&& g) override {
    TensorList out(offs.size());
    for (size_t i = 0; i < offs.size(); ++i) {
      if (!needs_input_grad(i)) continue;
      // d cat = the input's slab of g (empty 1-D inputs that cat skipped get an empty gradient)
      out[i] = skipped[i] ? zeros({0}, g[0].dtype(), g[0].device()) : narrow(g[0], dim, offs[i], sizes[i]);
    }
    return out;
  }
};
bool skipped_by_cat(const Tensor& t) { return t.dim() == 1 && t.numel() == 0; }
}  // namespace

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  EMBER_CHECK(!xs.empty(), ValueError, "cat(): expected a non-empty list of Tensors");
  const Tensor* ref = nullptr;
  DType dt = xs[0].dtype();
  for (size_t i = 0; i < xs.size(); ++i) {
    EMBER_CHECK(xs[i].dim() > 0, RuntimeError, "zero-dimensional tensor (at position ", i, ") cannot be concatenated");
    check_same_device(xs[0], xs[i], "cat");
    dt = promote_types(dt, xs[i].dtype());
    if (!ref && !skipped_by_cat(xs[i])) ref = &xs[i];
  }
  if (!ref) return Tensor::empty({0}, dt, xs[0].device());
  dim = wrap_dim(dim, ref->dim(), "cat");
  Shape shape = ref->shape();
  shape[dim] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    if (skipped_by_cat(t)) continue;
    EMBER_CHECK(t.dim() == ref->dim(), RuntimeError, "Tensors must have same number of dimensions: got ", ref->dim(),
                " and ", t.dim());
    for (int64_t d = 0; d < t.dim(); ++d)
      EMBER_CHECK(d == dim || t.shape()[d] == ref->shape()[d], RuntimeError,
                  "Sizes of tensors must match except in dimension ", dim, ". Expected size ", ref->shape()[d],
                  " but got size ", t.shape()[d], " for tensor number ", i, " in the list.");
    shape[dim] += t.shape()[dim];
  }
  Tensor out = Tensor::empty(shape, dt, ref->device());
  std::vector<int64_t> offs(xs.size(), 0), sizes(xs.size(), 0);
  std::vector<char> skipped(xs.size(), 0);
  int64_t off = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if ((skipped[i] = skipped_by_cat(xs[i]))) continue;
    offs[i] = off;
    sizes[i] = xs[i].shape()[dim];
    Shape s = shape;
    s[dim] = sizes[i];
    copy_into(Tensor::make_view(out, s, out.strides(), off * out.strides()[dim]), xs[i]);
    off += sizes[i];
  }
  if (auto node = make_node<CatBackward>(xs)) {
    node->dim = dim;
    node->offs = offs;
    node->sizes = sizes;
    node->skipped = skipped;
    set_history(out, node);
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  EMBER_CHECK(!xs.empty(), ValueError, "stack expects a non-empty TensorList");
  dim = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  for (size_t i = 0; i < xs.size(); ++i) {
    EMBER_CHECK(xs[i].shape() == xs[0].shape(), RuntimeError, "stack expects each tensor to be equal size, but got ",
                shape_str(xs[0].shape()), " at entry 0 and ", shape_str(xs[i].shape()), " at entry ", i);
    us.push_back(unsqueeze(xs[i], dim));
  }
  return cat(us, dim);
}

}  // namespace ember::ops

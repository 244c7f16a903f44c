// In-place writes under autograd. An in-place op runs out of place (result) and commit_inplace
// writes result into self's memory. If self is a whole tensor, self simply continues result's
// history. If self is a view of a base, the base's new value is "base with the view's region
// replaced by result" (a slice-scatter): CopySlices sends the gradient outside the region to the
// base's old history and the region's gradient into result's graph (which reaches the old view,
// and through it the old base, on its own). The view then becomes a fresh view of the new base.
#include "common.h"

namespace ember::ops {

bool any_true(const Tensor& t) {
  if (t.numel() == 0) return false;
  Tensor b = cast_raw(t, DType::Bool);
  Tensor out = Tensor::empty(Shape(b.dim(), 1), DType::Bool, b.device());
  std::vector<int64_t> dims(b.dim());
  for (int64_t i = 0; i < b.dim(); ++i) dims[i] = i;
  if (dims.empty()) return *b.data<bool>();
  backend_of(b).reduce(ReduceOp::Any, b, dims, out);
  return *out.data<bool>();
}

namespace {
struct Region {  // a view's geometry relative to the first element of a contiguous base
  Shape shape;
  Strides strides;
  int64_t offset = 0;
  Tensor in(const Tensor& contiguous_base) const {
    return Tensor::make_view(contiguous_base, shape, strides, contiguous_base.offset() + offset);
  }
};

struct AsStridedBackward : Node {  // the region of x -> gradient scattered into zeros(x)
  Shape in_shape;
  DType dtype;
  Region region;
  std::string name() const override { return "AsStridedBackward0"; }
  TensorList apply(TensorList&& g) override {
    Tensor out = zeros(in_shape, dtype, g[0].device());
    copy_into(region.in(out), g[0]);
    return {out};
  }
};

struct CopySlices : Node {  // new_base = old base with region := result
  Region region;
  std::string name() const override { return "CopySlices"; }
  TensorList apply(TensorList&& g) override {
    Tensor rest = clone(g[0].detach());
    Tensor part;
    if (needs_input_grad(1)) part = clone(region.in(rest));
    if (needs_input_grad(0)) {
      Tensor r = region.in(rest);
      backend_of(r).fill(r, Scalar(int64_t(0)));
    }
    return {needs_input_grad(0) ? rest : Tensor(), part};
  }
};

bool overlapping(const Shape& shape, const Strides& strides) {
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 1 && strides[i] == 0) return true;
  return false;
}
}  // namespace

std::shared_ptr<Node> make_as_strided_backward(const Tensor& x, const Shape& shape, const Strides& strides,
                                               int64_t rel_offset) {
  EMBER_CHECK(!overlapping(shape, strides), NotImplementedError,
              "as_strided: gradients through overlapping (stride 0) views are not supported");
  auto node = make_node<AsStridedBackward>({x});
  if (!node) return nullptr;
  node->in_shape = x.shape();
  node->dtype = x.dtype();
  node->region = Region{shape, strides, rel_offset};
  return node;
}

void commit_inplace(Tensor& self, const Tensor& result) {
  copy_into(self, result);
  self.bump_version();
  if (!result.requires_grad()) return;
  auto base_impl = self.impl()->base;
  if (!base_impl) {  // a whole tensor: continue result's history
    auto& m = self.impl()->meta();
    m.grad_fn = result.grad_fn();
    m.output_nr = result.output_nr();
    m.requires_grad = false;
    return;
  }
  Tensor base(base_impl);
  EMBER_CHECK(!(base.is_leaf() && base.requires_grad()), RuntimeError,
              "a view of a leaf Variable that requires grad is being used in an in-place operation.");
  EMBER_CHECK(base.is_contiguous(), NotImplementedError,
              "in-place operation on a view of a non-contiguous tensor that takes part in autograd is not "
              "supported; clone() the tensor first");
  Region region{self.shape(), self.strides(), self.offset() - base.offset()};
  EMBER_CHECK(!overlapping(region.shape, region.strides), RuntimeError,
              "in-place write through an overlapping view is not supported under autograd");
  auto node = new_node<CopySlices>();
  node->region = region;
  node->next_edges = {gradient_edge(base), gradient_edge(result)};
  set_history(base, node);
  set_history(self, make_as_strided_backward(base, region.shape, region.strides, region.offset));
}

}  // namespace ember::ops

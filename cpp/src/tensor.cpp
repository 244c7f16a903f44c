// Tensor core: construction, views, autograd accessors. Ops live in ops/.
#include "ember/tensor.h"

#include "ember/autograd.h"
#include "ember/backend.h"

namespace ember {

namespace {
// A fresh tensor's storage and version counter in one allocation. The tensors that share one
// share the other (views and detach() copy both; `.data` gives its alias a counter of its own and
// `.data =` rebinds both), so the block lives as long as either would have.
struct StorageAndVersion {
  Storage storage;
  VersionCounter version;
  StorageAndVersion(size_t n, Device d) : storage(n, d) {}
};

bool same_block(const std::shared_ptr<VersionCounter>& v, const std::shared_ptr<Storage>& s) {
  return !v.owner_before(s) && !s.owner_before(v);
}
}  // namespace

bool Tensor::storage_unshared() const {
  // A tensor from empty() holds its block twice (storage and counter).
  return impl_->storage.use_count() == (same_block(impl_->version, impl_->storage) ? 2 : 1);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (auto s : shape)
    EMBER_CHECK(s >= 0, RuntimeError, "empty: trying to create tensor with negative dimension ", s, ": ",
                shape_str(shape));
  int64_t n = 1;
  for (auto s : shape)
    EMBER_CHECK(!__builtin_mul_overflow(n, s, &n), RuntimeError, "empty: the number of elements of shape ",
                shape_str(shape), " overflows int64");
  int64_t nbytes = 0;
  EMBER_CHECK(!__builtin_mul_overflow(n, static_cast<int64_t>(ember::itemsize(dtype)), &nbytes), RuntimeError,
              "empty: the size in bytes of shape ", shape_str(shape), " overflows int64");
  auto block = std::make_shared<StorageAndVersion>(static_cast<size_t>(nbytes), device);
  Storage* storage = &block->storage;
  auto impl = std::make_shared<TensorImpl>(std::shared_ptr<VersionCounter>(block, &block->version));
  impl->storage = std::shared_ptr<Storage>(std::move(block), storage);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::make_view(const Tensor& src, Shape shape, Strides strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>(src.impl_->version);
  impl->storage = src.impl_->storage;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->offset = offset;
  impl->dtype = src.dtype();
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const { return impl_->shape[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return impl_->strides[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t i = dim() - 1; i >= 0; --i) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

bool Tensor::requires_grad() const {
  auto* m = impl_->autograd.get();
  return m && (m->requires_grad || m->grad_fn);
}

Tensor& Tensor::set_requires_grad(bool r) {
  auto* m = impl_->autograd.get();
  if (m && m->grad_fn) {
    EMBER_CHECK(r, RuntimeError,
                "requires_grad_: you can only change requires_grad flags of leaf variables. If you want "
                "to use a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().");
    return *this;
  }
  EMBER_CHECK(!r || is_floating(dtype()), RuntimeError,
              "requires_grad_: only tensors of floating point dtype can require gradients, got ", dtype());
  impl_->meta().requires_grad = r;
  return *this;
}

bool Tensor::is_leaf() const { return !impl_->autograd || !impl_->autograd->grad_fn; }

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  static const std::shared_ptr<Node> none;
  return impl_->autograd ? impl_->autograd->grad_fn : none;
}

Tensor Tensor::grad() const {
  if (!impl_->autograd || !impl_->autograd->grad) return Tensor();
  return Tensor(impl_->autograd->grad);
}

void Tensor::set_grad(const Tensor& g) {
  if (!g.defined()) {
    if (impl_->autograd) impl_->autograd->grad.reset();
    return;
  }
  EMBER_CHECK(g.shape() == shape(), RuntimeError, "assigned grad has data of a different size: expected ",
              shape_str(shape()), ", got ", shape_str(g.shape()));
  EMBER_CHECK(g.dtype() == dtype(), RuntimeError, "assigned grad has data of a different type: expected ",
              dtype(), ", got ", g.dtype());
  EMBER_CHECK(g.device() == device(), RuntimeError, "assigned grad has data located on a different device");
  impl_->meta().grad = g.impl_ptr();
}

void Tensor::retain_grad() {
  EMBER_CHECK(requires_grad(), RuntimeError, "can't retain_grad on Tensor that has requires_grad=False");
  if (is_leaf()) return;  // leaves keep their grad anyway
  auto& m = impl_->meta();
  if (m.retains_grad) return;
  m.retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  m.grad_fn->pre_hooks.push_back({m.output_nr, 0, [weak](const Tensor& g) -> Tensor {
    if (auto impl = weak.lock()) {
      Tensor self(impl);
      Tensor cur = self.grad();
      NoGradGuard ng;
      if (!cur.defined()) {
        Tensor c = Tensor::empty(g.shape(), g.dtype(), g.device());
        backend_of(c).copy(g, c);
        impl->meta().grad = c.impl_ptr();
      } else {
        backend_of(cur).binary(BinaryOp::Add, cur, g, cur);
      }
    }
    return Tensor();
  }});
}

Tensor Tensor::detach() const {
  Tensor t = make_view(*this, impl_->shape, impl_->strides, impl_->offset);
  return t;
}

std::string describe(const Tensor& t) {
  return str(dtype_name(t.dtype()), " tensor of shape ", shape_str(t.shape()));
}

}  // namespace ember

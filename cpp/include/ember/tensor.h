// Tensor: a handle (shared_ptr) to a TensorImpl: storage + shape + strides (elements) + offset +
// dtype, and autograd metadata when the tensor takes part in a graph. Views share storage and the
// version counter with their base. All ops live in ops.h; this header holds only the core type.
#pragma once
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ember/dtype.h"
#include "ember/shape.h"
#include "ember/storage.h"

namespace ember {

struct Node;
struct TensorImpl;
class Tensor;

// Shared by a tensor and all its views; bumped by every in-place write.
struct VersionCounter { std::atomic<uint32_t> version{0}; };

struct AutogradMeta {
  bool requires_grad = false;          // set on leaves; non-leaves require grad through grad_fn
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;    // .grad (leaves, or non-leaves with retain_grad)
  std::shared_ptr<Node> grad_fn;       // null for leaves
  std::weak_ptr<Node> grad_accumulator;  // leaves: the AccumulateGrad node, made on demand
  uint32_t output_nr = 0;
  std::shared_ptr<Node> hooked_accumulator;  // keeps a leaf's AccumulateGrad (and its hooks) alive
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  std::shared_ptr<VersionCounter> version = std::make_shared<VersionCounter>();
  std::unique_ptr<AutogradMeta> autograd;  // created on demand
  std::shared_ptr<TensorImpl> base;        // set on differentiable views: the viewed tensor
  bool wrapped_number = false;             // a Python scalar: weak in type promotion

  TensorImpl() = default;
  // A view's: shares `v` (no counter of its own is allocated).
  explicit TensorImpl(std::shared_ptr<VersionCounter> v) : version(std::move(v)) {}

  AutogradMeta& meta() {
    if (!autograd) autograd = std::make_unique<AutogradMeta>();
    return *autograd;
  }
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // A new contiguous tensor (uninitialised memory).
  static Tensor empty(const Shape& shape, DType dtype = default_dtype(), Device device = Device());
  // A view over existing storage.
  static Tensor make_view(const Tensor& src, Shape shape, Strides strides, int64_t offset);

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

  const Shape& shape() const { return impl_->shape; }
  const Strides& strides() const { return impl_->strides; }
  int64_t offset() const { return impl_->offset; }
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t numel() const { return numel_of(impl_->shape); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device; }
  size_t itemsize() const { return ember::itemsize(impl_->dtype); }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  // Whether this tensor holds the only reference to its storage (no view, detached alias or
  // exported buffer sees the memory).
  bool storage_unshared() const;

  // Pointer to element 0 (storage data + offset).
  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data) + impl_->offset * static_cast<int64_t>(itemsize());
  }
  template <class T> T* data() const { return static_cast<T*>(raw_data()); }

  // Autograd state.
  bool requires_grad() const;
  Tensor& set_requires_grad(bool r);          // leaves only (throws otherwise)
  bool is_leaf() const;
  const std::shared_ptr<Node>& grad_fn() const;
  uint32_t output_nr() const { return impl_->autograd ? impl_->autograd->output_nr : 0; }
  Tensor grad() const;
  void set_grad(const Tensor& g);
  void retain_grad();
  bool retains_grad() const { return impl_->autograd && impl_->autograd->retains_grad; }
  uint32_t version() const { return impl_->version->version.load(); }
  void bump_version() const { impl_->version->version.fetch_add(1); }

  // A tensor sharing storage and version counter, outside any graph.
  Tensor detach() const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::string describe(const Tensor& t);  // "float32 tensor of shape (2, 3)"

}  // namespace ember

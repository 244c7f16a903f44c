// Helpers shared by the op files: raw (non-autograd) casts and allocation, in-place plumbing.
#pragma once
#include <functional>

#include "ember/autograd.h"
#include "ember/backend.h"
#include "ember/ops.h"

namespace ember::ops {

// A new tensor holding t converted to dtype (no autograd). Returns t itself when it already is.
Tensor cast_raw(const Tensor& t, DType dtype);
// All tensors on one device, or a RuntimeError naming the op.
void check_same_device(const Tensor& a, const Tensor& b, const char* op);
// Refuse in-place writes that autograd or memory layout cannot honour.
void check_inplace(const Tensor& self, const char* op);
// Can a value of type `from` be stored in `to` by an in-place op (torch's can_cast)?
bool can_cast(DType from, DType to);
// Finish an autograd-recorded in-place op: write `result` into self's memory, bump the version,
// and make self (or, for a view, its base through CopySlices) continue result's history.
void commit_inplace(Tensor& self, const Tensor& result);

}  // namespace ember::ops

namespace ember::ops {
// True when any element is non-zero (no autograd; used by argument checks).
bool any_true(const Tensor& t);

// True when a backward may write its result over the incoming gradient g: the engine handed over
// the only reference (grads are moved into apply), no other tensor shares g's storage (so no
// hook, retain_grad, autograd.grad capture, user tensor or second output of the node before can
// see it), and g is a dense tensor of `like`'s shape and device (dtypes are the caller's check).
// An elementwise pass then reads and writes the same cache lines: on a 16 MB activation, relu's
// fused gradient went 9.1 -> 7.0 ms (1 thread; the fresh buffer's write-allocate was a quarter
// of the traffic), and the one-conv training step 1.06-1.10x faster. Only without create_graph
// (g not differentiated). Users: the activations' fused gradients (elementwise.cpp), dropout's
// (random.cpp) and batch_norm's input gradient (norm.cpp).
inline bool owned_grad(const Tensor& g, const Tensor& like) {
  return g.impl_ptr().use_count() == 1 && g.storage_unshared() && g.is_contiguous() && !g.requires_grad() &&
         g.shape() == like.shape() && g.device() == like.device();
}

// relu's gradient through its output y, torch's threshold_backward(gy, y, 0): 0 where y <= 0, else
// gy. For UnaryBackward and the nodes of ops with a fused relu (conv2d, max_pool2d). Without
// create_graph one fused pass, written over gy when the engine handed it over; with it, a where.
inline Tensor relu_grad(Tensor&& gy, const Tensor& y) {
  if (GradMode::is_enabled() || gy.dtype() != y.dtype() ||
      (gy.dtype() != DType::Float32 && gy.dtype() != DType::Float64))
    return where(compare(BinaryOp::Le, y, wrap_scalar(0.0)), zeros_like(gy), gy);
  Tensor out = owned_grad(gy, y) ? gy : Tensor::empty(y.shape(), y.dtype(), y.device());
  backend_of(y).binary(BinaryOp::ReluBackward, gy, y, out);
  return out;
}
}  // namespace ember::ops

namespace ember::ops {
// A view of x that remembers x's base (for in-place through views).
Tensor make_diff_view(const Tensor& x, Shape shape, Strides strides, int64_t offset);
// Backward node of "take the region (shape, strides, offset relative to x's first element) of a
// contiguous x": scatters the gradient into zeros of x's shape. Edge: gradient_edge(x).
std::shared_ptr<Node> make_as_strided_backward(const Tensor& x, const Shape& shape, const Strides& strides,
                                               int64_t rel_offset);
}  // namespace ember::ops

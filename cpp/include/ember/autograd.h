// Autograd: graph nodes, saved tensors, grad mode and the engine entry points.
// An op records a Node (its backward) whose next_edges point at the nodes that produced its
// inputs. The engine walks the graph iteratively (no recursion), sums gradients arriving at the
// same input, and undoes broadcasting once (sum_to the input's shape) for every op.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ember/inline_vec.h"
#include "ember/tensor.h"

namespace ember {

using TensorList = std::vector<Tensor>;

struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  bool valid() const { return fn != nullptr; }
};

// What a gradient arriving at a node's input slot must look like (the forward output's shape).
struct InputMeta {
  Shape shape;
  DType dtype = DType::Float32;
  Device device;
};

struct Node : std::enable_shared_from_this<Node> {
  // Inline up to 3 inputs and 1 output (most ops): recording a node is then one allocation.
  InlineVec<Edge, 3> next_edges;     // one per forward input; invalid when that input needs no grad
  InlineVec<InputMeta, 1> input_meta;  // one per forward output
  // Hooks on the gradient arriving at input slot `nr` (retain_grad, register_hook); a hook may
  // return an undefined tensor to keep the gradient unchanged.
  struct PreHook {
    uint32_t input_nr;
    uint64_t id;
    std::function<Tensor(const Tensor&)> fn;
  };
  std::vector<PreHook> pre_hooks;
  uint64_t sequence_nr;

  Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Releases next_edges iteratively: dropping a 100k-long graph does not recurse 100k deep.
  virtual ~Node();
  virtual std::string name() const = 0;
  // grads: one per forward output (undefined = zero). Returns one gradient per next edge.
  virtual TensorList apply(TensorList&& grads) = 0;
  virtual void release_variables() {}

  // Whether apply must compute the gradient of forward input i: that input needs a gradient and,
  // while the engine runs this node for autograd.grad or backward(inputs=...), leads to one of the
  // requested tensors (like torch, a conv asked only for its input's gradient skips the weight's).
  bool needs_input_grad(size_t i) const {
    if (i >= next_edges.size() || !next_edges[i].valid()) return false;
    return exec_filter_node != this || exec_filter_wants(next_edges[i].fn.get());
  }
  // Set by the engine around apply (thread-local: concurrent backward passes do not mix).
  static thread_local const Node* exec_filter_node;
  static bool exec_filter_wants(const Node* next);
  uint32_t add_input_metadata(const Tensor& t);
};

// Leaves' sink: adds the incoming gradient into tensor.grad.
struct AccumulateGrad : Node {
  std::weak_ptr<TensorImpl> variable;
  explicit AccumulateGrad(const Tensor& v);
  std::string name() const override { return "AccumulateGrad"; }
  TensorList apply(TensorList&& grads) override;
};

// A tensor saved for backward. Checks the version counter on unpack (in-place modification after
// saving is an error) and refuses after release (backward through a freed graph). is_output: t is
// output 0 of the node that saves it; it is stored without its grad_fn (which would be a cycle)
// and unpack(owner) returns it with grad_fn = owner again (for create_graph).
class SavedVariable {
 public:
  SavedVariable() = default;
  SavedVariable(const Tensor& t, bool is_output);
  Tensor unpack(const Node* owner) const;
  void reset();
  bool defined() const { return was_defined_; }

 private:
  Tensor data_;
  uint32_t saved_version_ = 0;
  bool was_defined_ = false, is_output_ = false, released_ = false;
};

// Thread-local grad mode (no_grad / enable_grad / set_grad_enabled).
struct GradMode {
  static bool is_enabled();
  static void set_enabled(bool enabled);
};
struct AutoGradMode {
  explicit AutoGradMode(bool enabled) : prev_(GradMode::is_enabled()) { GradMode::set_enabled(enabled); }
  ~AutoGradMode() { GradMode::set_enabled(prev_); }
  bool prev_;
};
struct NoGradGuard : AutoGradMode { NoGradGuard() : AutoGradMode(false) {} };

// --- recording helpers used by every op ---------------------------------------------------------
Edge gradient_edge(const Tensor& t);  // grad_fn/output_nr, the leaf's accumulator, or invalid
bool any_requires_grad(std::initializer_list<const Tensor*> ts);
bool any_requires_grad(const TensorList& ts);

// A node and its shared_ptr's control block in one allocation.
template <class N, class... A>
std::shared_ptr<N> new_node(A&&... a) {
  return std::make_shared<N>(std::forward<A>(a)...);
}

// Make a node of type N for the given inputs if grad mode is on and any input requires grad;
// otherwise null. The node's next edges are those inputs' gradient edges, in order.
template <class N>
std::shared_ptr<N> make_node(const TensorList& inputs) {
  if (!GradMode::is_enabled() || !any_requires_grad(inputs)) return nullptr;
  auto node = new_node<N>();
  node->next_edges.reserve(inputs.size());
  for (const auto& t : inputs) node->next_edges.push_back(gradient_edge(t));
  return node;
}
// The same for a braced list of named tensors, `make_node<N>({a, b})`: no vector is built and no
// reference count touched when nothing requires grad (the common no-grad call of every op).
template <class N>
std::shared_ptr<N> make_node(std::initializer_list<std::reference_wrapper<const Tensor>> inputs) {
  if (!GradMode::is_enabled()) return nullptr;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return nullptr;
  auto node = new_node<N>();
  node->next_edges.reserve(inputs.size());
  for (const Tensor& t : inputs) node->next_edges.push_back(gradient_edge(t));
  return node;
}
// Attach outputs to a node (grad_fn = node, output_nr = position). No-op for a null node.
void set_history(const Tensor& out, const std::shared_ptr<Node>& node);
void set_history(const TensorList& outs, const std::shared_ptr<Node>& node);

// Tensor.register_hook: fn(grad) -> replacement or undefined. Returns an id for remove_hook.
uint64_t register_hook(const Tensor& t, std::function<Tensor(const Tensor&)> fn);
void remove_hook(const Tensor& t, uint64_t id);

// --- engine -------------------------------------------------------------------------------------
// Tensor.backward: accumulates into the leaves' .grad. `inputs` (optional) limits accumulation.
void backward(const TensorList& outputs, const TensorList& grad_outputs, bool retain_graph,
              bool create_graph, const TensorList& inputs = {});
// autograd.grad: returns d(outputs)/d(inputs) without touching .grad.
TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                bool retain_graph, bool create_graph, bool allow_unused);

}  // namespace ember

// The autograd engine: nodes, saved variables, grad mode, and backward/grad.
// Traversal is iterative: dependencies are counted with an explicit stack, then nodes run once
// all their gradient inputs have arrived (a ready queue), so 100k-deep chains need no C++ stack.
// Gradients reaching an input slot are summed; a gradient whose shape differs from the slot's
// forward shape is reduced with sum_to (the one place broadcasting is undone).
#include <atomic>
#include <unordered_set>

#include "ember/autograd.h"
#include "ember/backend.h"
#include "ember/ops.h"

namespace ember {

// --- grad mode ----------------------------------------------------------------------------------
static thread_local bool t_grad_enabled = true;
bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool e) { t_grad_enabled = e; }

// --- nodes --------------------------------------------------------------------------------------
static std::atomic<uint64_t> g_sequence{0};
Node::Node() : sequence_nr(g_sequence.fetch_add(1)) {}

namespace {
thread_local const std::unordered_set<Node*>* exec_filter_needed = nullptr;  // see ExecFilter
}  // namespace
thread_local const Node* Node::exec_filter_node = nullptr;
bool Node::exec_filter_wants(const Node* next) {
  return exec_filter_needed == nullptr || exec_filter_needed->count(const_cast<Node*>(next)) > 0;
}

Node::~Node() {
  // The edges' nodes are released here one at a time: a node freed while another is being freed
  // (its last reference was an edge of the one being freed) only queues its own edges.
  thread_local bool draining = false;
  thread_local std::vector<std::shared_ptr<Node>> queue;
  for (Edge& e : next_edges)
    if (e.fn) queue.push_back(std::move(e.fn));
  if (draining) return;
  draining = true;
  while (!queue.empty()) {
    std::shared_ptr<Node> x = std::move(queue.back());
    queue.pop_back();
    x.reset();  // may queue further nodes
  }
  draining = false;
}

uint32_t Node::add_input_metadata(const Tensor& t) {
  input_meta.push_back(InputMeta{t.shape(), t.dtype(), t.device()});
  return static_cast<uint32_t>(input_meta.size() - 1);
}

AccumulateGrad::AccumulateGrad(const Tensor& v) : variable(v.impl_ptr()) { add_input_metadata(v); }

TensorList AccumulateGrad::apply(TensorList&& grads) {
  auto impl = variable.lock();
  if (!impl || !grads[0].defined()) return {};
  Tensor var(impl);
  Tensor g = grads[0];
  Tensor cur = var.grad();
  if (GradMode::is_enabled()) {  // create_graph: keep the gradient differentiable
    var.impl()->meta().grad = (cur.defined() ? ops::add(cur, g) : g).impl_ptr();
    return {};
  }
  if (!cur.defined()) {
    // Steal the buffer when nobody else can see it; otherwise copy (it may be a user's tensor,
    // an expanded view, or another leaf's grad).
    bool sole = g.impl_ptr().use_count() <= 2 && g.storage_unshared() && g.is_contiguous() &&
                !g.requires_grad() && g.shape() == var.shape();
    if (sole) {
      var.impl()->meta().grad = g.detach().impl_ptr();
    } else {
      Tensor c = Tensor::empty(var.shape(), var.dtype(), var.device());
      backend_of(c).copy(g, c);
      var.impl()->meta().grad = c.impl_ptr();
    }
  } else if (cur.requires_grad()) {
    var.impl()->meta().grad = ops::add(cur, g).impl_ptr();
  } else {
    backend_of(cur).binary(BinaryOp::Add, cur, g.dtype() == cur.dtype() ? g : ops::to_dtype(g, cur.dtype()), cur);
    cur.bump_version();
  }
  return {};
}

// --- saved variables ----------------------------------------------------------------------------
SavedVariable::SavedVariable(const Tensor& t, bool is_output) {
  if (!t.defined()) return;
  was_defined_ = true;
  is_output_ = is_output;
  saved_version_ = t.version();
  // The owner's own output is kept as a detached view (same storage and version counter, no
  // grad_fn): holding the output itself would be a cycle (output -> grad_fn -> saved output), and
  // a graph dropped without backward would never be freed. unpack re-attaches the owner.
  data_ = is_output ? t.detach() : t;
}

Tensor SavedVariable::unpack(const Node* owner) const {
  if (!was_defined_) return Tensor();
  EMBER_CHECK(!released_, RuntimeError,
              "Trying to backward through the graph a second time (or directly access saved tensors "
              "after they have already been freed). Saved intermediate values of the graph are freed "
              "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
              "backward through the graph a second time or if you need to access saved tensors after "
              "calling backward.");
  if (data_.version() != saved_version_) {
    throw RuntimeError(str(
        "one of the variables needed for gradient computation has been modified by an inplace "
        "operation: [", describe(data_), "]", owner ? ", which is saved by " + owner->name() : "",
        ", is at version ", data_.version(), "; expected version ", saved_version_, " instead."));
  }
  if (is_output_ && owner) {
    Tensor t = data_.detach();
    auto& m = t.impl()->meta();
    m.grad_fn = const_cast<Node*>(owner)->shared_from_this();
    m.output_nr = 0;
    return t;
  }
  return data_;
}

void SavedVariable::reset() {
  if (!was_defined_) return;
  data_ = Tensor();
  released_ = true;
}

// --- recording ----------------------------------------------------------------------------------
Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return Edge{};
  auto& m = t.impl()->meta();
  if (m.grad_fn) return Edge{m.grad_fn, m.output_nr};
  auto acc = m.grad_accumulator.lock();
  if (!acc) {
    acc = new_node<AccumulateGrad>(t);
    m.grad_accumulator = acc;
  }
  return Edge{acc, 0};
}

bool any_requires_grad(std::initializer_list<const Tensor*> ts) {
  for (auto* t : ts)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}
bool any_requires_grad(const TensorList& ts) {
  for (auto& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void set_history(const Tensor& out, const std::shared_ptr<Node>& node) {
  if (!node || !out.defined()) return;
  auto& m = out.impl()->meta();
  m.grad_fn = node;
  m.output_nr = node->add_input_metadata(out);
  m.requires_grad = false;
}
void set_history(const TensorList& outs, const std::shared_ptr<Node>& node) {
  for (auto& o : outs) set_history(o, node);
}

uint64_t register_hook(const Tensor& t, std::function<Tensor(const Tensor&)> fn) {
  static std::atomic<uint64_t> next_id{1};
  EMBER_CHECK(t.requires_grad(), RuntimeError,
              "register_hook: cannot register a hook on a tensor that doesn't require gradient");
  Edge e = gradient_edge(t);
  if (t.is_leaf()) t.impl()->meta().hooked_accumulator = e.fn;
  uint64_t id = next_id.fetch_add(1);
  e.fn->pre_hooks.push_back({e.input_nr, id, std::move(fn)});
  return id;
}

void remove_hook(const Tensor& t, uint64_t id) {
  if (!t.requires_grad()) return;
  Edge e = gradient_edge(t);
  auto& hs = e.fn->pre_hooks;
  for (auto it = hs.begin(); it != hs.end(); ++it)
    if (it->id == id) { hs.erase(it); return; }
}

// --- engine -------------------------------------------------------------------------------------
namespace {

struct GraphRoot : Node {
  TensorList grads;
  std::string name() const override { return "GraphRoot"; }
  TensorList apply(TensorList&&) override { return std::move(grads); }  // runs once
};

// Make `g` fit the slot it flows into: sum broadcast dims away, cast dtype.
Tensor fit_gradient(const Tensor& g, const InputMeta& meta, const Node& producer, size_t i) {
  Tensor out = g;
  if (out.shape() != meta.shape) {
    bool ok = out.dim() >= static_cast<int64_t>(meta.shape.size());
    if (ok) {
      size_t off = out.shape().size() - meta.shape.size();
      for (size_t d = 0; d < meta.shape.size(); ++d)
        ok = ok && (meta.shape[d] == out.shape()[off + d] || meta.shape[d] == 1);
    }
    EMBER_CHECK(ok, RuntimeError, "Function ", producer.name(), " returned an invalid gradient at index ", i,
                " - got ", shape_str(out.shape()), " but expected shape compatible with ",
                shape_str(meta.shape));
    out = ops::sum_to(out, meta.shape);
  }
  if (out.dtype() != meta.dtype) out = ops::to_dtype(out, meta.dtype);
  return out;
}

// Sets the node being applied and the engine's needed set (Node::needs_input_grad), restoring the
// previous ones on exit (apply may run a nested backward).
struct ExecFilter {
  const Node* prev_node;
  const std::unordered_set<Node*>* prev_needed;
  ExecFilter(const Node* n, const std::unordered_set<Node*>* needed)
      : prev_node(Node::exec_filter_node), prev_needed(exec_filter_needed) {
    Node::exec_filter_node = n;
    exec_filter_needed = n ? needed : nullptr;
  }
  ~ExecFilter() {
    Node::exec_filter_node = prev_node;
    exec_filter_needed = prev_needed;
  }
};

Tensor accumulate(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  return ops::add(a, b);
}

struct Capture {
  Node* fn;
  uint32_t nr;
};

// run()'s bookkeeping, kept between calls (one set per nesting level: apply may run a nested
// backward), so that a small graph's backward allocates nothing for it: a Linear(8, 8) step made
// ~26 allocations here, a quarter of its total. Per node below the root: a dependency count and
// the gradient buffer of its input slots, found through an open-addressing table keyed by the
// node's address.
struct Scratch {
  struct Slot {
    int deps = 0;
    TensorList buf;
  };
  std::vector<Node*> keys;    // table, size a power of two; null = empty
  std::vector<uint32_t> vals;  // index into slots
  std::vector<Slot> slots;     // the first `used` are live
  size_t used = 0;
  std::vector<Node*> order;   // post-order
  std::vector<std::pair<Node*, size_t>> stack;
  std::vector<std::shared_ptr<Node>> ready;

  size_t probe(const Node* n) const {  // position of n, or of the empty cell where it goes
    const size_t mask = keys.size() - 1;
    size_t i = (reinterpret_cast<uintptr_t>(n) >> 4) * 0x9E3779B97F4A7C15ull >> 20 & mask;
    while (keys[i] != nullptr && keys[i] != n) i = (i + 1) & mask;
    return i;
  }
  // The slot of n, added with no dependencies if new (first = true).
  Slot& get(Node* n, bool& first) {
    if (2 * (used + 1) > keys.size()) grow();
    const size_t i = probe(n);
    first = keys[i] == nullptr;
    if (first) {
      keys[i] = n;
      vals[i] = static_cast<uint32_t>(used);
      if (used == slots.size()) slots.emplace_back();
      ++used;
    }
    return slots[vals[i]];
  }
  Slot& at(const Node* n) { return slots[vals[probe(n)]]; }  // n must be present
  void grow() {
    std::vector<Node*> old_keys(std::max<size_t>(64, 2 * keys.size()), nullptr);
    std::vector<uint32_t> old_vals(old_keys.size());
    old_keys.swap(keys);
    old_vals.swap(vals);
    for (size_t j = 0; j < old_keys.size(); ++j)
      if (old_keys[j]) {
        const size_t i = probe(old_keys[j]);
        keys[i] = old_keys[j];
        vals[i] = old_vals[j];
      }
  }
  // Back to empty, keeping capacity; the tables of a graph over 4096 nodes are given back.
  void reset() {
    if (used > 4096) {
      *this = Scratch();
      return;
    }
    std::fill(keys.begin(), keys.end(), nullptr);
    for (size_t k = 0; k < used; ++k) {
      slots[k].deps = 0;
      slots[k].buf.clear();
    }
    used = 0;
    order.clear();
    stack.clear();
    ready.clear();
  }
};

// The scratch of the current nesting level, reset on exit (exceptions included).
class ScratchScope {
 public:
  ScratchScope() {
    if (t_level == t_pool.size()) t_pool.push_back(std::make_unique<Scratch>());
    s_ = t_pool[t_level++].get();
  }
  ~ScratchScope() {
    s_->reset();
    --t_level;
  }
  Scratch& operator*() const { return *s_; }

 private:
  Scratch* s_;
  static thread_local std::vector<std::unique_ptr<Scratch>> t_pool;
  static thread_local size_t t_level;
};
thread_local std::vector<std::unique_ptr<Scratch>> ScratchScope::t_pool;
thread_local size_t ScratchScope::t_level = 0;

// Runs the graph below `root`. When `captures` is non-empty (autograd.grad), the gradients
// arriving at those (node, slot) pairs are returned and leaves are not accumulated; nodes that do
// not lead to a capture are skipped.
TensorList run(const std::shared_ptr<Node>& root, bool keep_graph, bool create_graph,
               const std::vector<Capture>& captures, bool accumulate_leaves,
               const std::unordered_set<Node*>* only_leaves) {
  AutoGradMode mode(create_graph);
  ScratchScope scope;
  Scratch& sc = *scope;
  // 1. dependencies (iterative DFS) and the post-order for `needed`. One slot per node below the
  // root holds its dependency count and its gradient buffer (nothing points back at the root).
  std::vector<Node*>& order = sc.order;  // post-order
  {
    auto& stack = sc.stack;
    stack.push_back({root.get(), 0});
    while (!stack.empty()) {
      auto& [n, i] = stack.back();
      if (i < n->next_edges.size()) {
        Node* c = n->next_edges[i++].fn.get();
        if (!c) continue;
        bool first = false;
        sc.get(c, first).deps++;
        if (first) stack.push_back({c, 0});  // may invalidate n, i: not used after this
      } else {
        order.push_back(n);
        stack.pop_back();
      }
    }
  }
  std::unordered_set<Node*> needed;
  bool filter = !captures.empty() || only_leaves;
  if (filter) {
    std::unordered_set<Node*> targets;
    for (auto& c : captures) targets.insert(c.fn);
    if (only_leaves) targets.insert(only_leaves->begin(), only_leaves->end());
    for (Node* n : order) {  // children come before parents in post-order
      bool need = targets.count(n) > 0 && (only_leaves == nullptr || !only_leaves->count(n) || accumulate_leaves);
      for (auto& e : n->next_edges)
        if (e.fn && needed.count(e.fn.get())) need = true;
      if (need) needed.insert(n);
    }
  }
  TensorList captured(captures.size());

  // 2. execute in dependency order.
  auto& ready = sc.ready;
  ready.push_back(root);
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    Scratch::Slot* own = node != root ? &sc.at(node.get()) : nullptr;
    TensorList inputs;
    if (own) inputs = std::move(own->buf);
    inputs.resize(std::max(inputs.size(), node->input_meta.size()));
    for (auto& h : node->pre_hooks) {
      if (h.input_nr < inputs.size() && inputs[h.input_nr].defined()) {
        Tensor r = h.fn(inputs[h.input_nr]);
        if (r.defined()) inputs[h.input_nr] = r;
      }
    }
    for (size_t k = 0; k < captures.size(); ++k)
      if (captures[k].fn == node.get() && captures[k].nr < inputs.size())
        captured[k] = accumulate(captured[k], inputs[captures[k].nr]);

    bool is_leaf_sink = dynamic_cast<AccumulateGrad*>(node.get()) != nullptr;
    bool run_it = true;
    if (is_leaf_sink && !accumulate_leaves) run_it = false;
    if (filter && node != root && !needed.count(node.get())) run_it = false;
    if (is_leaf_sink && only_leaves && !only_leaves->count(node.get())) run_it = false;

    TensorList outputs;
    if (run_it) {
      bool any = false;
      for (auto& t : inputs) any = any || t.defined();
      if (any || node == root) {
        // Undefined grads stand for zeros; materialise them for nodes with several outputs.
        if (node != root)
          for (size_t k = 0; k < inputs.size(); ++k)
            if (!inputs[k].defined() && k < node->input_meta.size())
              inputs[k] = ops::zeros(node->input_meta[k].shape, node->input_meta[k].dtype,
                                     node->input_meta[k].device);
        ExecFilter scope(filter ? node.get() : nullptr, &needed);
        outputs = node->apply(std::move(inputs));
      }
      if (!keep_graph) node->release_variables();
    }
    if (own && inputs.capacity() > 0) {  // apply did not take the buffer: keep it for reuse
      inputs.clear();
      own->buf = std::move(inputs);
    }
    for (size_t i = 0; i < node->next_edges.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.fn) continue;
      Scratch::Slot& slot = sc.at(e.fn.get());
      if (i < outputs.size() && outputs[i].defined()) {
        Tensor g = fit_gradient(outputs[i], e.fn->input_meta.at(e.input_nr), *node, i);
        TensorList& buf = slot.buf;
        if (buf.size() <= e.input_nr) buf.resize(e.input_nr + 1);
        buf[e.input_nr] = accumulate(buf[e.input_nr], g);
      }
      if (--slot.deps == 0) ready.push_back(e.fn);
    }
  }
  return captured;
}

std::shared_ptr<GraphRoot> make_root(const TensorList& outputs, const TensorList& grad_outputs,
                                     const char* op) {
  EMBER_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), RuntimeError, op,
              ": got ", grad_outputs.size(), " gradients for ", outputs.size(), " outputs");
  auto root = new_node<GraphRoot>();
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    EMBER_CHECK(out.requires_grad(), RuntimeError, op, ": element ", i,
                " of tensors does not require grad and does not have a grad_fn");
    Tensor g = grad_outputs.empty() ? Tensor() : grad_outputs[i];
    if (!g.defined()) {
      EMBER_CHECK(out.numel() == 1, RuntimeError, op,
                  ": grad can be implicitly created only for scalar outputs (got an output of shape ",
                  shape_str(out.shape()), "); pass a gradient of that shape");
      g = ops::ones(out.shape(), out.dtype(), out.device());
    } else {
      EMBER_CHECK(g.shape() == out.shape(), RuntimeError, op, ": mismatch in shape: grad_output[", i,
                  "] has a shape of ", shape_str(g.shape()), " and output[", i, "] has a shape of ",
                  shape_str(out.shape()));
    }
    root->next_edges.push_back(gradient_edge(out));
    root->grads.push_back(g);
  }
  return root;
}

}  // namespace

void backward(const TensorList& outputs, const TensorList& grad_outputs, bool retain_graph,
              bool create_graph, const TensorList& inputs) {
  auto root = make_root(outputs, grad_outputs, "backward");
  std::unordered_set<Node*> leaves;
  std::vector<Capture> captures;
  std::vector<Tensor> retained;  // non-leaf inputs: their grad lands in .grad
  for (auto& t : inputs) {
    EMBER_CHECK(t.requires_grad(), RuntimeError, "backward: an input tensor does not require grad");
    Edge e = gradient_edge(t);
    if (t.is_leaf()) leaves.insert(e.fn.get());
    else captures.push_back({e.fn.get(), e.input_nr}), retained.push_back(t);
  }
  TensorList got = run(root, retain_graph || create_graph, create_graph, captures, true,
                       inputs.empty() ? nullptr : &leaves);
  for (size_t i = 0; i < retained.size(); ++i) {
    if (!got[i].defined()) continue;
    Tensor cur = retained[i].grad();
    retained[i].impl()->meta().grad = (cur.defined() ? ops::add(cur, got[i]) : got[i].detach()).impl_ptr();
  }
}

TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                bool retain_graph, bool create_graph, bool allow_unused) {
  auto root = make_root(outputs, grad_outputs, "grad");
  std::vector<Capture> captures;
  for (size_t i = 0; i < inputs.size(); ++i) {
    EMBER_CHECK(inputs[i].requires_grad(), RuntimeError, "grad: input ", i,
                " of the differentiated tensors does not require grad");
    Edge e = gradient_edge(inputs[i]);
    captures.push_back({e.fn.get(), e.input_nr});
  }
  TensorList got = run(root, retain_graph, create_graph, captures, false, nullptr);
  for (size_t i = 0; i < got.size(); ++i) {
    EMBER_CHECK(got[i].defined() || allow_unused, RuntimeError, "grad: one of the differentiated Tensors (input ",
                i, ") appears to not have been used in the graph. Set allow_unused=True if this is the "
                "desired behavior.");
    if (got[i].defined() && !create_graph) got[i] = got[i].detach();
  }
  return got;
}

}  // namespace ember

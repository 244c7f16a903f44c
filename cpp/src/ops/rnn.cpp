// Fused LSTM and GRU cells (see ember/ops/rnn.h). The forward kernel keeps the activated gates in
// a workspace so that the backward is one kernel pass too; under create_graph the backward is the
// same formula written with differentiable ops on the saved inputs, so double backward works.
#include "common.h"
#include "ember/ops/rnn.h"

namespace ember::ops {

namespace {

Tensor S(double v) { return wrap_scalar(Scalar(v)); }

Tensor contig(const Tensor& t) {
  if (t.is_contiguous()) return t.detach();
  NoGradGuard ng;
  return contiguous(t.detach());
}

// Shapes and dtypes of a cell's operands: gates (N, k H) twice, state (N, H), one float dtype
// and device.
void check_cell(const Tensor& ig, const Tensor& hg, const Tensor& h, int64_t k, const char* op, const char* state) {
  EMBER_CHECK(h.dim() == 2, RuntimeError, op, ": expected ", state, " of shape (batch, hidden_size), got ",
              describe(h));
  const int64_t N = h.size(0), H = h.size(1);
  for (const Tensor* t : {&ig, &hg}) {
    EMBER_CHECK(t->dim() == 2 && t->size(0) == N && t->size(1) == k * H, RuntimeError, op, ": expected ",
                t == &ig ? "input_gates" : "hidden_gates", " of shape (", N, ", ", k * H, ") for ", state, " of shape (",
                N, ", ", H, "), got ", describe(*t));
    EMBER_CHECK(t->dtype() == h.dtype(), RuntimeError, op, ": expected all operands to have one dtype, got ",
                dtype_name(t->dtype()), " and ", dtype_name(h.dtype()));
    check_same_device(*t, h, op);
  }
  EMBER_CHECK(is_floating(h.dtype()), TypeError, op, ": expected floating-point operands, got ",
              dtype_name(h.dtype()));
}

struct LstmCellBackward : Node {
  SavedVariable ig, hg, cx;  // inputs, for create_graph
  Tensor ws;                 // (N, 5H): i, f, g, o, tanh(cy)
  std::string name() const override { return "LstmCellBackward0"; }
  void release_variables() override {
    ig.reset(), hg.reset(), cx.reset();
    ws = Tensor();
  }
  TensorList apply(TensorList&& g) override {
    Tensor c0 = cx.unpack(this);
    if (GradMode::is_enabled()) {  // differentiable form (create_graph)
      std::vector<Tensor> q = chunk(add(ig.unpack(this), hg.unpack(this)), 4, 1);
      Tensor i = sigmoid(q[0]), f = sigmoid(q[1]), gg = tanh(q[2]), o = sigmoid(q[3]);
      Tensor tc = tanh(add(mul(f, c0), mul(i, gg)));
      const Tensor &gh = g[0], &gc = g[1];  // the engine passes zeros for an unused output
      Tensor dc = add(gc, mul(mul(gh, o), sub(S(1), mul(tc, tc))));
      Tensor d = cat({mul(mul(dc, gg), mul(i, sub(S(1), i))), mul(mul(dc, c0), mul(f, sub(S(1), f))),
                      mul(mul(dc, i), sub(S(1), mul(gg, gg))), mul(mul(gh, tc), mul(o, sub(S(1), o)))},
                     1);
      return {d, d, mul(dc, f)};
    }
    Tensor d = Tensor::empty({c0.size(0), 4 * c0.size(1)}, c0.dtype(), c0.device());
    Tensor dcx = Tensor::empty(c0.shape(), c0.dtype(), c0.device());
    if (c0.numel() > 0)
      backend_of(c0).lstm_cell_backward(ws, contig(c0), contig(g[0]), contig(g[1]), d, dcx);
    return {d, d, dcx};
  }
};

struct GruCellBackward : Node {
  SavedVariable ig, hg, hx;
  Tensor ws;  // (N, 4H): r, z, n, hg_n
  std::string name() const override { return "GruCellBackward0"; }
  void release_variables() override {
    ig.reset(), hg.reset(), hx.reset();
    ws = Tensor();
  }
  TensorList apply(TensorList&& g) override {
    Tensor h0 = hx.unpack(this);
    if (GradMode::is_enabled()) {  // differentiable form (create_graph)
      std::vector<Tensor> a = chunk(ig.unpack(this), 3, 1), b = chunk(hg.unpack(this), 3, 1);
      Tensor r = sigmoid(add(a[0], b[0])), z = sigmoid(add(a[1], b[1]));
      Tensor n = tanh(add(a[2], mul(r, b[2])));
      Tensor dpn = mul(mul(g[0], sub(S(1), z)), sub(S(1), mul(n, n)));
      Tensor dr = mul(mul(dpn, b[2]), mul(r, sub(S(1), r)));
      Tensor dz = mul(mul(g[0], sub(h0, n)), mul(z, sub(S(1), z)));
      return {cat({dr, dz, dpn}, 1), cat({dr, dz, mul(dpn, r)}, 1), mul(g[0], z)};
    }
    const int64_t N = h0.size(0), H = h0.size(1);
    Tensor di = Tensor::empty({N, 3 * H}, h0.dtype(), h0.device());
    Tensor dh = Tensor::empty({N, 3 * H}, h0.dtype(), h0.device());
    Tensor dhx = Tensor::empty(h0.shape(), h0.dtype(), h0.device());
    if (h0.numel() > 0) backend_of(h0).gru_cell_backward(ws, contig(h0), contig(g[0]), di, dh, dhx);
    return {di, dh, dhx};
  }
};

}  // namespace

std::vector<Tensor> lstm_cell_fused(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& cx) {
  check_cell(input_gates, hidden_gates, cx, 4, "lstm_cell", "cx");
  const int64_t N = cx.size(0), H = cx.size(1);
  Tensor hy = Tensor::empty({N, H}, cx.dtype(), cx.device()), cy = Tensor::empty({N, H}, cx.dtype(), cx.device());
  Tensor ws = Tensor::empty({N, 5 * H}, cx.dtype(), cx.device());
  if (cx.numel() > 0)
    backend_of(cx).lstm_cell(contig(input_gates), contig(hidden_gates), contig(cx), hy, cy, ws);
  if (auto node = make_node<LstmCellBackward>({input_gates, hidden_gates, cx})) {
    node->ig = SavedVariable(input_gates, false);
    node->hg = SavedVariable(hidden_gates, false);
    node->cx = SavedVariable(cx, false);
    node->ws = ws;
    set_history(TensorList{hy, cy}, node);
  }
  return {hy, cy};
}

Tensor gru_cell_fused(const Tensor& input_gates, const Tensor& hidden_gates, const Tensor& hx) {
  check_cell(input_gates, hidden_gates, hx, 3, "gru_cell", "hx");
  const int64_t N = hx.size(0), H = hx.size(1);
  Tensor hy = Tensor::empty({N, H}, hx.dtype(), hx.device());
  Tensor ws = Tensor::empty({N, 4 * H}, hx.dtype(), hx.device());
  if (hx.numel() > 0) backend_of(hx).gru_cell(contig(input_gates), contig(hidden_gates), contig(hx), hy, ws);
  if (auto node = make_node<GruCellBackward>({input_gates, hidden_gates, hx})) {
    node->ig = SavedVariable(input_gates, false);
    node->hg = SavedVariable(hidden_gates, false);
    node->hx = SavedVariable(hx, false);
    node->ws = ws;
    set_history(hy, node);
  }
  return hy;
}

}  // namespace ember::ops

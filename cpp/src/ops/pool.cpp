// Pooling ops: max/avg/adaptive 2-D pooling, forward and backward side by side. Forwards validate
// like torch, view the input as planes (B, H, W) and call the backend's pool family. Backwards
// call the fused pool2d_backward kernel; when a graph of the gradient is built (create_graph)
// they use differentiable forms instead: max backward is scatter_add into zeros (its gradient is
// a gather), avg backward is a linear op whose own gradient is avg pooling again.
#include "ember/ops/pool.h"

#include "common.h"

namespace ember::ops {

namespace {

int64_t div_floor(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// torch's pooling_output_shape.
int64_t pool_out(int64_t in, int64_t k, int64_t pad, int64_t s, int64_t d, bool ceil_mode) {
  int64_t out = div_floor(in + 2 * pad - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

std::vector<int64_t> pair(std::vector<int64_t> v, const char* what, const char* op) {
  if (v.size() == 1) v.push_back(v[0]);
  EMBER_CHECK(v.size() == 2, ValueError, op, ": ", what, " must be a single int or a pair of ints");
  return v;
}

struct Planes {
  Shape lead;  // leading dims ((C) or (N, C))
  int64_t B = 1, H = 0, W = 0;
};

Planes check_input(const Tensor& x, const char* op) {
  EMBER_CHECK(x.dim() == 3 || x.dim() == 4, RuntimeError, op, ": Expected 3D or 4D (batch mode) tensor for input, but got ",
              describe(x));
  EMBER_CHECK(is_floating(x.dtype()), TypeError, op, ": expected a floating-point input, got ", dtype_name(x.dtype()));
  for (int64_t d = 1; d < x.dim(); ++d)
    EMBER_CHECK(x.size(d) > 0, RuntimeError, op, ": Expected input to have non-zero size for non-batch dimensions, but got ",
                describe(x));
  Planes p;
  p.lead.assign(x.shape().begin(), x.shape().end() - 2);
  for (auto s : p.lead) p.B *= s;
  p.H = x.size(-2);
  p.W = x.size(-1);
  return p;
}

Shape with_hw(Shape lead, int64_t h, int64_t w) {
  lead.push_back(h);
  lead.push_back(w);
  return lead;
}

Tensor planes_view(const Tensor& t, int64_t B, int64_t H, int64_t W) {
  return Tensor::make_view(t, {B, H, W}, contiguous_strides({B, H, W}), t.offset());
}

// Max pooling over 2x2 windows of stride 2 on the CPU can keep each output's window position
// (uint8, 0..3) instead of its index in the plane (int64) when the caller wants no indices: the
// backward needs only that, and the forward writes (the backward reads) an eighth of the bytes.
// The conditions are those of the CPU backend's 2x2 kernels (max_2x2 in cpu/pool.cpp).
bool window_positions_ok(PoolOp op, const Tensor& x, const Planes& pl, int64_t OH, int64_t OW, const PoolParams& p) {
  return op == PoolOp::Max && x.device().is_cpu() && p.kh == 2 && p.kw == 2 && p.sh == 2 && p.sw == 2 &&
         p.ph == 0 && p.pw == 0 && p.dh == 1 && p.dw == 1 && 2 * OH <= pl.H && 2 * OW <= pl.W &&
         pl.W < (int64_t(1) << 30);
}

// Raw forward: x (.., H, W) -> (out (.., OH, OW), indices) through the backend (no autograd);
// positions: uint8 window positions instead of int64 indices (window_positions_ok).
std::tuple<Tensor, Tensor> pool_raw(PoolOp op, const Tensor& x, const Planes& pl, int64_t OH, int64_t OW,
                                    const PoolParams& p, bool positions = false) {
  Tensor xc = x.detach();
  if (!xc.is_contiguous()) {
    NoGradGuard ng;
    xc = contiguous(xc);
  }
  Tensor out = Tensor::empty(with_hw(pl.lead, OH, OW), x.dtype(), x.device());
  Tensor idx;
  const bool has_idx = op == PoolOp::Max || op == PoolOp::AdaptiveMax;
  if (has_idx) idx = Tensor::empty(out.shape(), positions ? DType::UInt8 : DType::Int64, x.device());
  backend_of(x).pool2d(op, planes_view(xc, pl.B, pl.H, pl.W), planes_view(out, pl.B, OH, OW),
                       has_idx ? planes_view(idx, pl.B, OH, OW) : Tensor(), p);
  return {out, idx};
}

// indices: where to return the max ops' int64 indices, or null (the max ops then may keep window
// positions for the backward).
Tensor pool_forward(PoolOp op, const Tensor& x, const Planes& pl, int64_t OH, int64_t OW, const PoolParams& p,
                    Tensor* indices);

// The gradient of avg/adaptive-avg pooling as a differentiable op of g (linear: its own gradient
// is the pooling forward of the incoming gradient).
struct AvgPoolGradBackward : Node {
  PoolOp op;
  PoolParams p;
  Planes pl;
  int64_t OH = 0, OW = 0;
  std::string name() const override { return "AvgPool2DBackwardBackward0"; }
  TensorList apply(TensorList&& g) override { return {pool_forward(op, g[0], pl, OH, OW, p, nullptr)}; }
};

Tensor avg_pool_grad(PoolOp op, const Tensor& g, const Planes& pl, int64_t OH, int64_t OW, const PoolParams& p) {
  Tensor gc = g.detach();
  if (!gc.is_contiguous()) {
    NoGradGuard ng;
    gc = contiguous(gc);
  }
  Tensor gx = Tensor::empty(with_hw(pl.lead, pl.H, pl.W), g.dtype(), g.device());
  backend_of(g).pool2d_backward(op, planes_view(gc, pl.B, OH, OW), Tensor(), planes_view(gx, pl.B, pl.H, pl.W), p);
  if (auto node = make_node<AvgPoolGradBackward>({g})) {
    node->op = op;
    node->p = p;
    node->pl = pl;
    node->OH = OH;
    node->OW = OW;
    set_history(gx, node);
  }
  return gx;
}

struct PoolBackward : Node {
  PoolOp op;
  PoolParams p;
  Planes pl;
  int64_t OH = 0, OW = 0;
  Tensor indices;  // max ops: int64 plane indices, or uint8 window positions (2x2, stride 2)
  SavedVariable out;  // p.relu (max pooling of relu(x)): the output, whose sign masks the gradient

  // int64 plane indices from window positions (on the CPU, contiguous): 2 * oh * W + 2 * ow +
  // (q & 1) + (q >> 1) * W
  Tensor plane_indices() const {
    if (indices.dtype() == DType::Int64) return indices;
    Tensor out = Tensor::empty(indices.shape(), DType::Int64, indices.device());
    const uint8_t* q = indices.data<uint8_t>();
    int64_t* o = out.data<int64_t>();
    for (int64_t b = 0, i = 0; b < pl.B; ++b)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow, ++i) o[i] = 2 * oh * pl.W + 2 * ow + (q[i] & 1) + (q[i] >> 1) * pl.W;
    return out;
  }
  std::string name() const override {
    switch (op) {
      case PoolOp::Max: return p.relu ? "ReluMaxPool2DWithIndicesBackward0" : "MaxPool2DWithIndicesBackward0";
      case PoolOp::Avg: return "AvgPool2DBackward0";
      case PoolOp::AdaptiveMax: return "AdaptiveMaxPool2DBackward0";
      default: return "AdaptiveAvgPool2DBackward0";
    }
  }
  TensorList apply(TensorList&& g) override {
    const bool is_max = op == PoolOp::Max || op == PoolOp::AdaptiveMax;
    if (!is_max) return {avg_pool_grad(op, g[0], pl, OH, OW, p)};
    // relu: the gradient reaches x[argmax] where relu(x[argmax]) = out > 0
    Tensor gy = p.relu ? relu_grad(std::move(g[0]), out.unpack(this)) : g[0];
    if (GradMode::is_enabled()) {  // d max_pool = scatter_add(g) at the argmax positions
      Tensor z = zeros({pl.B, pl.H * pl.W}, gy.dtype(), gy.device());
      Tensor gx = scatter_add(z, 1, reshape(plane_indices(), {pl.B, OH * OW}), reshape(gy, {pl.B, OH * OW}));
      return {reshape(gx, with_hw(pl.lead, pl.H, pl.W))};
    }
    Tensor gc = contiguous(gy);
    Tensor gx = Tensor::empty(with_hw(pl.lead, pl.H, pl.W), gc.dtype(), gc.device());
    backend_of(gc).pool2d_backward(op, planes_view(gc, pl.B, OH, OW), planes_view(indices, pl.B, OH, OW),
                                   planes_view(gx, pl.B, pl.H, pl.W), p);
    return {gx};
  }
};

Tensor pool_forward(PoolOp op, const Tensor& x, const Planes& pl, int64_t OH, int64_t OW, const PoolParams& p,
                    Tensor* indices) {
  const bool positions = !indices && window_positions_ok(op, x, pl, OH, OW, p);
  auto [out, idx] = pool_raw(op, x, pl, OH, OW, p, positions);
  if (indices) *indices = idx;
  if (auto node = make_node<PoolBackward>({x})) {
    node->op = op;
    node->p = p;
    node->pl = pl;
    node->OH = OH;
    node->OW = OW;
    node->indices = idx;
    if (p.relu) node->out = SavedVariable(out, true);
    set_history(out, node);
  }
  return out;
}

void check_window(const std::vector<int64_t>& k, const std::vector<int64_t>& s, const std::vector<int64_t>& d,
                  const char* op) {
  EMBER_CHECK(k[0] > 0 && k[1] > 0, RuntimeError, op, ": kernel size should be greater than zero, but got kH: ", k[0],
              " kW: ", k[1]);
  EMBER_CHECK(s[0] > 0 && s[1] > 0, RuntimeError, op, ": stride should be greater than zero, but got dH: ", s[0],
              " dW: ", s[1]);
  EMBER_CHECK(d[0] > 0 && d[1] > 0, RuntimeError, op, ": dilation should be greater than zero, but got dilationH: ",
              d[0], " dilationW: ", d[1]);
}

void check_output(const Planes& pl, int64_t OH, int64_t OW, const char* op) {
  const int64_t C = pl.lead.empty() ? 1 : pl.lead.back();
  EMBER_CHECK(OH >= 1 && OW >= 1, RuntimeError, op, ": Given input size: (", C, "x", pl.H, "x", pl.W,
              "). Calculated output size: (", C, "x", OH, "x", OW, "). Output size is too small");
}

}  // namespace

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, std::vector<int64_t> kernel,
                                                   std::vector<int64_t> stride, std::vector<int64_t> padding,
                                                   std::vector<int64_t> dilation, bool ceil_mode,
                                                   bool return_indices, bool relu) {
  const char* op = "max_pool2d";
  kernel = pair(kernel, "kernel_size", op);
  stride = stride.empty() ? kernel : pair(stride, "stride", op);
  padding = pair(padding, "padding", op);
  dilation = pair(dilation, "dilation", op);
  check_window(kernel, stride, dilation, op);
  for (int i = 0; i < 2; ++i)
    EMBER_CHECK(padding[i] >= 0 && padding[i] <= ((kernel[i] - 1) * dilation[i] + 1) / 2, RuntimeError, op,
                ": pad should be at most half of effective kernel size, but got pad=", padding[i],
                ", kernel_size=", kernel[i], " and dilation=", dilation[i]);
  Planes pl = check_input(x, op);
  const int64_t OH = pool_out(pl.H, kernel[0], padding[0], stride[0], dilation[0], ceil_mode);
  const int64_t OW = pool_out(pl.W, kernel[1], padding[1], stride[1], dilation[1], ceil_mode);
  check_output(pl, OH, OW, op);
  PoolParams p;
  p.kh = kernel[0], p.kw = kernel[1], p.sh = stride[0], p.sw = stride[1];
  p.ph = padding[0], p.pw = padding[1], p.dh = dilation[0], p.dw = dilation[1];
  p.relu = relu;
  Tensor idx;
  Tensor out = pool_forward(PoolOp::Max, x, pl, OH, OW, p, return_indices ? &idx : nullptr);
  return {out, idx};
}

Tensor avg_pool2d(const Tensor& x, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                  std::vector<int64_t> padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override) {
  const char* op = "avg_pool2d";
  kernel = pair(kernel, "kernel_size", op);
  stride = stride.empty() ? kernel : pair(stride, "stride", op);
  padding = pair(padding, "padding", op);
  check_window(kernel, stride, {1, 1}, op);
  for (int i = 0; i < 2; ++i)
    EMBER_CHECK(padding[i] >= 0 && padding[i] <= kernel[i] / 2, RuntimeError, op,
                ": pad should be at most half of effective kernel size, but got pad=", padding[i],
                ", kernel_size=", kernel[i], " and dilation=1");
  EMBER_CHECK(!divisor_override || *divisor_override != 0, RuntimeError, op, ": divisor must be not zero");
  Planes pl = check_input(x, op);
  const int64_t OH = pool_out(pl.H, kernel[0], padding[0], stride[0], 1, ceil_mode);
  const int64_t OW = pool_out(pl.W, kernel[1], padding[1], stride[1], 1, ceil_mode);
  check_output(pl, OH, OW, op);
  PoolParams p;
  p.kh = kernel[0], p.kw = kernel[1], p.sh = stride[0], p.sw = stride[1];
  p.ph = padding[0], p.pw = padding[1];
  p.count_include_pad = count_include_pad;
  p.divisor = divisor_override ? *divisor_override : 0;
  return pool_forward(PoolOp::Avg, x, pl, OH, OW, p, nullptr);
}

namespace {
Tensor adaptive(PoolOp op, const Tensor& x, std::vector<int64_t> size, Tensor* idx, const char* name) {
  size = pair(size, "output_size", name);
  Planes pl = check_input(x, name);
  const int64_t OH = size[0] < 0 ? pl.H : size[0], OW = size[1] < 0 ? pl.W : size[1];
  EMBER_CHECK(OH > 0 && OW > 0, RuntimeError, name, ": output_size must be positive, got (", OH, ", ", OW, ")");
  // global average pooling is a mean over the plane, as in torch: the reduction's vector row
  // kernels (and mean's broadcast gradient) instead of a serial sum per plane (~5x faster)
  if (op == PoolOp::AdaptiveAvg && OH == 1 && OW == 1) return mean(x, {-2, -1}, true);
  return pool_forward(op, x, pl, OH, OW, PoolParams{}, idx);
}
}  // namespace

Tensor adaptive_avg_pool2d(const Tensor& x, std::vector<int64_t> output_size) {
  return adaptive(PoolOp::AdaptiveAvg, x, std::move(output_size), nullptr, "adaptive_avg_pool2d");
}

std::tuple<Tensor, Tensor> adaptive_max_pool2d(const Tensor& x, std::vector<int64_t> output_size) {
  Tensor idx;
  Tensor out = adaptive(PoolOp::AdaptiveMax, x, std::move(output_size), &idx, "adaptive_max_pool2d");
  return {out, idx};
}

// x, indices (.., h, w) -> (.., H, W): out.flat(plane)[indices] = x (differentiable in x through
// scatter; its gradient is a gather at indices).
Tensor max_unpool2d(const Tensor& x, const Tensor& indices, std::vector<int64_t> output_size) {
  const char* op = "max_unpool2d";
  output_size = pair(output_size, "output_size", op);
  Planes pl = check_input(x, op);
  EMBER_CHECK(indices.dtype() == DType::Int64 && indices.shape() == x.shape(), RuntimeError, op,
              ": Expected shape of indices to be same as that of the input tensor (", describe(x), "), got ",
              describe(indices));
  const int64_t H = output_size[0], W = output_size[1];
  const int64_t n = pl.H * pl.W;
  Tensor flat_idx = reshape(indices, {pl.B, n});
  if (pl.B * n > 0) {
    Tensor mn = amin(flat_idx), mx = amax(flat_idx);
    const int64_t lo = mn.data<int64_t>()[0], hi = mx.data<int64_t>()[0];
    EMBER_CHECK(lo >= 0 && hi < H * W, RuntimeError, op, ": Found an invalid max index: ", lo < 0 ? lo : hi,
                " (output volumes are of size ", H, "x", W, ")");
  }
  Tensor z = zeros({pl.B, H * W}, x.dtype(), x.device());
  return reshape(scatter(z, 1, flat_idx, reshape(x, {pl.B, n})), with_hw(pl.lead, H, W));
}

// --- interpolation (F.interpolate nearest / bilinear) ----------------------------------------------
// out = interp(x) through InterpTables (backend.h); its gradient is the transpose, interp2d_backward,
// and that one's gradient is interp again (both linear), so create_graph works through the pair.
namespace {

struct Interp {
  InterpTables t;
  Planes pl;
  int64_t OH = 0, OW = 0;
};

Tensor interp_forward(const Tensor& x, const std::shared_ptr<const Interp>& ip);
Tensor interp_transpose(const Tensor& g, const std::shared_ptr<const Interp>& ip);

struct InterpTransposeBackward : Node {  // the gradient's gradient: interp of gg
  std::shared_ptr<const Interp> ip;
  std::string name() const override { return "UpsampleBackwardBackward0"; }
  TensorList apply(TensorList&& g) override { return {interp_forward(g[0], ip)}; }
};

struct InterpBackward : Node {
  std::shared_ptr<const Interp> ip;
  bool linear = false;
  std::string name() const override { return linear ? "UpsampleBilinear2DBackward0" : "UpsampleNearest2DBackward0"; }
  TensorList apply(TensorList&& g) override { return {interp_transpose(g[0], ip)}; }
};

Tensor contiguous_nograd(const Tensor& t) {
  Tensor c = t.detach();
  if (!c.is_contiguous()) {
    NoGradGuard ng;
    c = contiguous(c);
  }
  return c;
}

Tensor interp_forward(const Tensor& x, const std::shared_ptr<const Interp>& ip) {
  const Planes& pl = ip->pl;
  Tensor xc = contiguous_nograd(x);
  Tensor out = Tensor::empty(with_hw(pl.lead, ip->OH, ip->OW), x.dtype(), x.device());
  backend_of(x).interp2d(planes_view(xc, pl.B, pl.H, pl.W), planes_view(out, pl.B, ip->OH, ip->OW), ip->t);
  if (auto node = make_node<InterpBackward>({x})) {
    node->ip = ip;
    node->linear = ip->t.h1.defined() || ip->t.w1.defined();
    set_history(out, node);
  }
  return out;
}

Tensor interp_transpose(const Tensor& g, const std::shared_ptr<const Interp>& ip) {
  const Planes& pl = ip->pl;
  Tensor gc = contiguous_nograd(g);
  Tensor gx = Tensor::empty(with_hw(pl.lead, pl.H, pl.W), g.dtype(), g.device());
  backend_of(g).interp2d_backward(planes_view(gc, pl.B, ip->OH, ip->OW), planes_view(gx, pl.B, pl.H, pl.W), ip->t);
  if (auto node = make_node<InterpTransposeBackward>({g})) {
    node->ip = ip;
    set_history(gx, node);
  }
  return gx;
}

// One dim's table: i0 (int64, 1-D, values in [0, in)), and i1 / lam (both or neither, same length,
// i1 in range, lam converted to the input's dtype).
void check_table(Tensor& i0, Tensor& i1, Tensor& lam, int64_t in, const Tensor& x, const char* dim) {
  const char* op = "interpolate";
  EMBER_CHECK(i0.defined() && i0.dim() == 1 && i0.dtype() == DType::Int64, RuntimeError, op, ": the ", dim,
              " index table must be a 1-D int64 tensor, got ", i0.defined() ? describe(i0) : std::string("None"));
  EMBER_CHECK(i1.defined() == lam.defined(), RuntimeError, op, ": the second ", dim,
              " index table and its weights go together (got one without the other)");
  EMBER_CHECK(i0.size(0) > 0, RuntimeError, op, ": output size along ", dim, " must be positive, got 0");
  auto check_range = [&](Tensor& t) {
    check_same_device(t, x, op);
    t = contiguous_nograd(t);
    const int64_t* v = t.data<int64_t>();
    for (int64_t k = 0; k < t.numel(); ++k)
      EMBER_CHECK(v[k] >= 0 && v[k] < in, IndexError, op, ": ", dim, " index ", v[k], " at position ", k,
                  " is out of range for an input of size ", in);
  };
  check_range(i0);
  if (!i1.defined()) return;
  EMBER_CHECK(i1.dim() == 1 && i1.dtype() == DType::Int64 && i1.size(0) == i0.size(0), RuntimeError, op,
              ": the second ", dim, " index table must be int64 of the first's length ", i0.size(0), ", got ",
              describe(i1));
  EMBER_CHECK(lam.dim() == 1 && lam.size(0) == i0.size(0) && is_floating(lam.dtype()), RuntimeError, op, ": the ",
              dim, " weights must be a 1-D float tensor of length ", i0.size(0), ", got ", describe(lam));
  check_range(i1);
  check_same_device(lam, x, op);
  NoGradGuard ng;
  lam = contiguous_nograd(lam.dtype() == x.dtype() ? lam : to_dtype(lam, x.dtype()));
}

}  // namespace

Tensor interp2d(const Tensor& x, Tensor h0, Tensor h1, Tensor lh, Tensor w0, Tensor w1, Tensor lw) {
  const char* op = "interpolate";
  EMBER_CHECK(x.dim() == 3 || x.dim() == 4, RuntimeError, op, ": expected a 3-D or 4-D input, got ", describe(x));
  EMBER_CHECK(is_floating(x.dtype()), TypeError, op, ": expected a floating-point input, got ", dtype_name(x.dtype()));
  auto ip = std::make_shared<Interp>();
  ip->pl.lead.assign(x.shape().begin(), x.shape().end() - 2);
  for (auto s : ip->pl.lead) ip->pl.B *= s;
  ip->pl.H = x.size(-2);
  ip->pl.W = x.size(-1);
  EMBER_CHECK(ip->pl.H > 0 && ip->pl.W > 0, RuntimeError, op,
              ": input and output sizes should be greater than 0, but got input (H: ", ip->pl.H, ", W: ", ip->pl.W, ")");
  check_table(h0, h1, lh, ip->pl.H, x, "H");
  check_table(w0, w1, lw, ip->pl.W, x, "W");
  ip->OH = h0.size(0);
  ip->OW = w0.size(0);
  ip->t = InterpTables{h0, h1, lh, w0, w1, lw};
  return interp_forward(x, ip);
}

}  // namespace ember::ops

// Convolutions: argument checks (torch's messages), geometry, and three differentiable
// primitives that share one ConvGeom and are each other's adjoints:
//   fwd(x, w)          = y                (conv2d)
//   bwd_input(gy, w)   = dx               (conv_transpose2d)
//   bwd_weight(x, gy)  = dw               (bilinear in x and gy)
// Each backward is written with the other two, so double backward works; with grad mode off (a
// plain backward) they are just the fused kernels. unfold/fold are a second adjoint pair.
// conv2d(..., relu=true) is relu(conv2d(...)) in one node: the kernels clamp in their epilogue
// (nn.Sequential fuses a Conv2d followed by a ReLU into it); its backward masks the gradient by
// the output, then runs the convolution's.
#include "ember/ops/conv.h"

#include "common.h"

namespace ember::ops {
namespace {

// "[a, b, c]", torch's way of printing sizes and int lists in convolution messages.
std::string lst(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + "]";
}
std::string sizes(const Tensor& t) { return lst(t.shape()); }

Tensor conv_fwd(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& b);
Tensor conv_bwd_input(const ConvGeom& g, const Tensor& gy, const Tensor& w);
Tensor conv_bwd_weight(const ConvGeom& g, const Tensor& x, const Tensor& gy);

// d(conv(x, w) + b) = (bwd_input(g, w), bwd_weight(x, g), sum g over N, OH, OW); with relu, g is
// first masked by the saved output
struct ConvolutionBackward : Node {
  ConvGeom geom;  // relu off: the geometry of the backward kernels and of double backward
  SavedVariable x, w, y;
  bool has_bias = false, relu = false;
  std::string name() const override { return relu ? "ConvolutionReluBackward0" : "ConvolutionBackward0"; }
  TensorList apply(TensorList&& g) override {
    TensorList out(next_edges.size());
    const Tensor gy = contiguous(relu ? relu_grad(std::move(g[0]), y.unpack(this)) : g[0]);
    if (needs_input_grad(0)) out[0] = conv_bwd_input(geom, gy, w.unpack(this));
    const bool db = has_bias && needs_input_grad(2);
    if (needs_input_grad(1) && db && !GradMode::is_enabled()) {
      // fused: weight and bias gradients in one kernel call
      const Tensor xs = contiguous(x.unpack(this));
      out[1] = Tensor::empty(w.unpack(this).shape(), gy.dtype(), gy.device());
      out[2] = Tensor::empty({geom.O}, gy.dtype(), gy.device());
      backend_of(gy).conv2d_backward_weight(geom, xs, gy, out[1], out[2]);
      return out;
    }
    if (needs_input_grad(1)) out[1] = conv_bwd_weight(geom, x.unpack(this), gy);
    if (db) out[2] = sum(gy, {0, 2, 3});
    return out;
  }
  void release_variables() override { x.reset(); w.reset(); y.reset(); }
};

// <bwd_input(gy, w), G> = <gy, fwd(G, w)>: d = (fwd(G, w), bwd_weight(G, gy))
struct ConvolutionBackwardInput : Node {
  ConvGeom geom;
  SavedVariable gy, w;
  std::string name() const override { return "ConvolutionBackward0"; }
  TensorList apply(TensorList&& g) override {
    TensorList out(2);
    const Tensor G = contiguous(g[0]);
    if (needs_input_grad(0)) out[0] = conv_fwd(geom, G, w.unpack(this), Tensor());
    if (needs_input_grad(1)) out[1] = conv_bwd_weight(geom, G, gy.unpack(this));
    return out;
  }
  void release_variables() override { gy.reset(); w.reset(); }
};

// <bwd_weight(x, gy), G> = <gy, fwd(x, G)>: d = (bwd_input(gy, G), fwd(x, G))
struct ConvolutionBackwardWeight : Node {
  ConvGeom geom;
  SavedVariable x, gy;
  std::string name() const override { return "ConvolutionBackwardBackward0"; }
  TensorList apply(TensorList&& g) override {
    TensorList out(2);
    const Tensor G = contiguous(g[0]);
    if (needs_input_grad(0)) out[0] = conv_bwd_input(geom, gy.unpack(this), G);
    if (needs_input_grad(1)) out[1] = conv_fwd(geom, x.unpack(this), G, Tensor());
    return out;
  }
  void release_variables() override { x.reset(); gy.reset(); }
};

Shape w_shape(const ConvGeom& g) { return {g.O, g.C / g.groups, g.KH, g.KW}; }

Tensor conv_fwd(const ConvGeom& g, const Tensor& x_, const Tensor& w_, const Tensor& b_) {
  const Tensor x = contiguous(x_), w = contiguous(w_), b = b_.defined() ? contiguous(b_) : b_;
  Tensor y = Tensor::empty({g.N, g.O, g.OH, g.OW}, x.dtype(), x.device());
  {
    NoGradGuard ng;
    backend_of(x).conv2d_forward(g, x, w, b, y);
  }
  TensorList inputs{x_, w_};
  if (b_.defined()) inputs.push_back(b_);
  if (auto node = make_node<ConvolutionBackward>(inputs)) {
    node->geom = g;
    node->geom.relu = false;
    node->relu = g.relu;
    node->has_bias = b_.defined();
    if (g.relu) node->y = SavedVariable(y, true);
    if (node->needs_input_grad(1)) node->x = SavedVariable(x_, false);
    if (node->needs_input_grad(0) || node->needs_input_grad(1)) node->w = SavedVariable(w_, false);
    set_history(y, node);
  }
  return y;
}

Tensor conv_bwd_input(const ConvGeom& g, const Tensor& gy_, const Tensor& w_) {
  const Tensor gy = contiguous(gy_), w = contiguous(w_);
  Tensor dx = Tensor::empty({g.N, g.C, g.H, g.W}, gy.dtype(), gy.device());
  {
    NoGradGuard ng;
    backend_of(gy).conv2d_backward_input(g, gy, w, dx);
  }
  if (auto node = make_node<ConvolutionBackwardInput>({gy_, w_})) {
    node->geom = g;
    if (node->needs_input_grad(1)) node->gy = SavedVariable(gy_, false);
    if (node->needs_input_grad(0)) node->w = SavedVariable(w_, false);
    set_history(dx, node);
  }
  return dx;
}

Tensor conv_bwd_weight(const ConvGeom& g, const Tensor& x_, const Tensor& gy_) {
  const Tensor x = contiguous(x_), gy = contiguous(gy_);
  Tensor dw = Tensor::empty(w_shape(g), x.dtype(), x.device());
  {
    NoGradGuard ng;
    backend_of(x).conv2d_backward_weight(g, x, gy, dw, Tensor());
  }
  if (auto node = make_node<ConvolutionBackwardWeight>({x_, gy_})) {
    node->geom = g;
    if (node->needs_input_grad(0)) node->gy = SavedVariable(gy_, false);
    if (node->needs_input_grad(1)) node->x = SavedVariable(x_, false);
    set_history(dw, node);
  }
  return dw;
}

// --- argument checks ----------------------------------------------------------------------------
std::vector<int64_t> expand2(const std::vector<int64_t>& v, const char* what, const char* op) {
  EMBER_CHECK(v.size() == 1 || v.size() == 2, RuntimeError, op, ": expected ", what,
              " to be a single integer value or a list of 2 values to match the convolution dimensions, but got ",
              what, "=", lst(v));
  return v.size() == 1 ? std::vector<int64_t>{v[0], v[0]} : v;
}

void check_float(const Tensor& x, const Tensor& w, const Tensor& b, const char* op) {
  EMBER_CHECK(is_floating(x.dtype()), NotImplementedError, op, ": not implemented for '", dtype_name(x.dtype()),
              "' input (float32 or float64 expected)");
  EMBER_CHECK(x.dtype() == w.dtype(), RuntimeError, op, ": Input type (", dtype_name(x.dtype()),
              ") and weight type (", dtype_name(w.dtype()), ") should be the same");
  check_same_device(x, w, op);
  if (b.defined()) {
    EMBER_CHECK(b.dtype() == x.dtype(), RuntimeError, op, ": Input type (", dtype_name(x.dtype()),
                ") and bias type (", dtype_name(b.dtype()), ") should be the same");
    check_same_device(x, b, op);
  }
}

void check_params(const std::vector<int64_t>& s, const std::vector<int64_t>& p, const std::vector<int64_t>& d,
                  int64_t groups, const char* op) {
  for (auto v : s) EMBER_CHECK(v > 0, RuntimeError, op, ": non-positive stride is not supported, got stride=", lst(s));
  for (auto v : p) EMBER_CHECK(v >= 0, RuntimeError, op, ": negative padding is not supported, got padding=", lst(p));
  for (auto v : d)
    EMBER_CHECK(v > 0, RuntimeError, op, ": non-positive dilation is not supported, got dilation=", lst(d));
  EMBER_CHECK(groups > 0, RuntimeError, op, ": non-positive groups is not supported, got groups=", groups);
}

// Checks shared by conv1d, conv2d and conv_transpose2d on a batched x (w has x's rank).
void check_weight(const Tensor& x, const Tensor& w, const Tensor& b, int64_t groups, bool transposed,
                  const char* op) {
  EMBER_CHECK(w.dim() == x.dim(), RuntimeError, op, ": expected weight to be ", x.dim(),
              "-dimensional, but got weight of size ", sizes(w));
  EMBER_CHECK(w.size(0) % groups == 0, RuntimeError, op, ": Given groups=", groups,
              ", expected weight to be divisible by ", groups, " at dimension 0, but got weight of size ", sizes(w),
              " instead");
  const int64_t want = transposed ? w.size(0) : w.size(1) * groups;
  EMBER_CHECK(x.size(1) == want, RuntimeError, op, ": Given ", transposed ? "transposed=1" : str("groups=", groups),
              ", weight of size ", sizes(w), ", expected input", sizes(x), " to have ", want,
              " channels, but got ", x.size(1), " channels instead");
  const int64_t out_ch = transposed ? w.size(1) * groups : w.size(0);
  if (b.defined())
    EMBER_CHECK(b.dim() == 1 && b.size(0) == out_ch, RuntimeError, op, ": Given weight of size ", sizes(w),
                ", expected bias to be 1-dimensional with ", out_ch, " elements, but got bias of size ", sizes(b),
                " instead");
}

// Run f on a 4-D input: unbatched (C, H, W) gets a batch dim for the call.
template <class F>
Tensor batched(const Tensor& x, int64_t want, const char* op, const F& f) {
  EMBER_CHECK(x.dim() == want || x.dim() == want - 1, RuntimeError, "Expected ", want - 1, "D (unbatched) or ", want,
              "D (batched) input to ", op, ", but got input of size: ", sizes(x));
  if (x.dim() == want) return f(x);
  return squeeze(f(unsqueeze(x, 0)), {0});
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride_,
              const std::vector<int64_t>& padding_, const std::vector<int64_t>& dilation_, int64_t groups,
              const std::string& padding_mode, bool relu) {
  const char* op = "conv2d";
  EMBER_CHECK(padding_mode.empty() || padding_mode == "same" || padding_mode == "valid", RuntimeError, op,
              ": Invalid padding string: '", padding_mode, "'");
  auto stride = expand2(stride_, "stride", op), dilation = expand2(dilation_, "dilation", op);
  auto padding = padding_mode.empty() ? expand2(padding_, "padding", op) : std::vector<int64_t>{0, 0};
  check_params(stride, padding, dilation, groups, op);
  EMBER_CHECK(padding_mode != "same" || (stride[0] == 1 && stride[1] == 1), RuntimeError, op,
              ": padding='same' is not supported for strided convolutions, got stride=", lst(stride));
  check_float(input, weight, bias, op);
  return batched(input, 4, op, [&](const Tensor& x) {
    check_weight(x, weight, bias, groups, false, op);
    ConvGeom g;
    g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
    g.O = weight.size(0), g.KH = weight.size(2), g.KW = weight.size(3);
    g.sh = stride[0], g.sw = stride[1], g.dh = dilation[0], g.dw = dilation[1], g.groups = groups;
    int64_t pb = padding[0], pr = padding[1];
    g.ph = padding[0], g.pw = padding[1];
    if (padding_mode == "same") {  // total d*(k-1): the odd one goes to the bottom / right, like torch
      const int64_t th = g.dh * (g.KH - 1), tw = g.dw * (g.KW - 1);
      g.ph = th / 2, pb = th - g.ph, g.pw = tw / 2, pr = tw - g.pw;
    }
    const int64_t ph_tot = g.H + g.ph + pb, pw_tot = g.W + g.pw + pr;
    const int64_t ekh = g.dh * (g.KH - 1) + 1, ekw = g.dw * (g.KW - 1) + 1;
    EMBER_CHECK(ph_tot >= ekh && pw_tot >= ekw, RuntimeError, op, ": Calculated padded input size per channel: (",
                ph_tot, " x ", pw_tot, "). Kernel size: (", ekh, " x ", ekw,
                "). Kernel size can't be greater than actual input size");
    g.OH = (ph_tot - ekh) / g.sh + 1, g.OW = (pw_tot - ekw) / g.sw + 1;
    g.relu = relu;
    return conv_fwd(g, x, weight, bias);
  });
}

Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups,
              const std::string& padding_mode) {
  const char* op = "conv1d";
  EMBER_CHECK(input.dim() == 2 || input.dim() == 3, RuntimeError,
              "Expected 2D (unbatched) or 3D (batched) input to conv1d, but got input of size: ", sizes(input));
  EMBER_CHECK(groups > 0, RuntimeError, op, ": non-positive groups is not supported, got groups=", groups);
  check_float(input, weight, bias, op);
  check_weight(input.dim() == 3 ? input : unsqueeze(input, 0), weight, bias, groups, false, op);
  for (auto* v : {&stride, &padding, &dilation})
    EMBER_CHECK(v->size() == 1, RuntimeError, op,
                ": expected stride, padding and dilation to be a single integer value or a list of 1 values, got ",
                lst(*v));
  auto one = [](const std::vector<int64_t>& v, int64_t h) { return std::vector<int64_t>{h, v[0]}; };
  const Tensor x = unsqueeze(input, -2);
  try {
    return squeeze(conv2d(x, unsqueeze(weight, 2), bias, one(stride, 1), one(padding, 0), one(dilation, 1), groups,
                          padding_mode),
                   {-2});
  } catch (const RuntimeError& e) {  // name the 1-D op and shapes in the message
    std::string m = e.what();
    if (m.rfind("conv2d: ", 0) == 0) m = "conv1d: " + m.substr(8);
    throw RuntimeError(m);
  }
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const std::vector<int64_t>& stride_, const std::vector<int64_t>& padding_,
                        const std::vector<int64_t>& output_padding_, int64_t groups,
                        const std::vector<int64_t>& dilation_) {
  const char* op = "conv_transpose2d";
  auto stride = expand2(stride_, "stride", op), padding = expand2(padding_, "padding", op);
  auto dilation = expand2(dilation_, "dilation", op), outpad = expand2(output_padding_, "output_padding", op);
  check_params(stride, padding, dilation, groups, op);
  for (int i = 0; i < 2; ++i)
    EMBER_CHECK(outpad[i] >= 0 && (outpad[i] < stride[i] || outpad[i] < dilation[i]), RuntimeError, op,
                ": output padding must be smaller than either stride or dilation, but got output_padding=",
                lst(outpad), " stride=", lst(stride), " dilation=", lst(dilation));
  check_float(input, weight, bias, op);
  return batched(input, 4, op, [&](const Tensor& x) {
    check_weight(x, weight, bias, groups, true, op);
    // the conv2d whose input gradient this is: its x is our output, its y our input
    ConvGeom g;
    g.N = x.size(0), g.O = x.size(1), g.OH = x.size(2), g.OW = x.size(3);
    g.C = weight.size(1) * groups, g.KH = weight.size(2), g.KW = weight.size(3);
    g.sh = stride[0], g.sw = stride[1], g.ph = padding[0], g.pw = padding[1];
    g.dh = dilation[0], g.dw = dilation[1], g.groups = groups;
    g.H = (g.OH - 1) * g.sh - 2 * g.ph + g.dh * (g.KH - 1) + outpad[0] + 1;
    g.W = (g.OW - 1) * g.sw - 2 * g.pw + g.dw * (g.KW - 1) + outpad[1] + 1;
    EMBER_CHECK(g.H > 0 && g.W > 0, RuntimeError, op, ": computed output size (", g.H, " x ", g.W,
                ") is too small for input", sizes(x), ", kernel (", g.KH, " x ", g.KW, ") and padding=",
                lst(padding));
    Tensor out = conv_bwd_input(g, x, weight);
    return bias.defined() ? add(out, reshape(bias, {1, g.C, 1, 1})) : out;
  });
}

// --- unfold / fold -------------------------------------------------------------------------------
namespace {
Tensor unfold_raw(const ConvGeom& g, const Tensor& x);
Tensor fold_raw(const ConvGeom& g, const Tensor& cols);

struct Im2ColBackward : Node {
  ConvGeom geom;
  std::string name() const override { return "Im2ColBackward0"; }
  TensorList apply(TensorList&& g) override { return {fold_raw(geom, g[0])}; }
};
struct Col2ImBackward : Node {
  ConvGeom geom;
  std::string name() const override { return "Col2ImBackward0"; }
  TensorList apply(TensorList&& g) override { return {unfold_raw(geom, g[0])}; }
};

Tensor unfold_raw(const ConvGeom& g, const Tensor& x_) {
  const Tensor x = contiguous(x_);
  Tensor cols = Tensor::empty({g.N, g.C * g.KH * g.KW, g.OH * g.OW}, x.dtype(), x.device());
  backend_of(x).unfold(g, x, cols, false);
  if (auto node = make_node<Im2ColBackward>({x_})) {
    node->geom = g;
    set_history(cols, node);
  }
  return cols;
}

Tensor fold_raw(const ConvGeom& g, const Tensor& cols_) {
  const Tensor cols = contiguous(cols_);
  Tensor x = Tensor::empty({g.N, g.C, g.H, g.W}, cols.dtype(), cols.device());
  backend_of(cols).unfold(g, x, cols, true);
  if (auto node = make_node<Col2ImBackward>({cols_})) {
    node->geom = g;
    set_history(x, node);
  }
  return x;
}

ConvGeom fold_geom(int64_t N, int64_t C, int64_t H, int64_t W, const std::vector<int64_t>& k_,
                   const std::vector<int64_t>& d_, const std::vector<int64_t>& p_, const std::vector<int64_t>& s_,
                   const char* op) {
  auto k = expand2(k_, "kernel_size", op), d = expand2(d_, "dilation", op);
  auto p = expand2(p_, "padding", op), s = expand2(s_, "stride", op);
  for (auto v : k) EMBER_CHECK(v > 0, RuntimeError, op, ": kernel size should be greater than zero, but got kernel_size=", lst(k));
  check_params(s, p, d, 1, op);
  ConvGeom g;
  g.N = N, g.C = C, g.H = H, g.W = W, g.KH = k[0], g.KW = k[1];
  g.dh = d[0], g.dw = d[1], g.ph = p[0], g.pw = p[1], g.sh = s[0], g.sw = s[1];
  const int64_t eh = g.dh * (g.KH - 1) + 1, ew = g.dw * (g.KW - 1) + 1;
  EMBER_CHECK(H + 2 * g.ph >= eh && W + 2 * g.pw >= ew, RuntimeError, op, ": Calculated padded input size per channel: (",
              H + 2 * g.ph, " x ", W + 2 * g.pw, "). Kernel size: (", eh, " x ", ew,
              "). Kernel size can't be greater than actual input size");
  g.OH = (H + 2 * g.ph - eh) / g.sh + 1, g.OW = (W + 2 * g.pw - ew) / g.sw + 1;
  return g;
}
}  // namespace

Tensor unfold(const Tensor& input, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& dilation,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& stride) {
  const char* op = "unfold";
  EMBER_CHECK(is_floating(input.dtype()), NotImplementedError, op, ": not implemented for '",
              dtype_name(input.dtype()), "' input (float32 or float64 expected)");
  return batched(input, 4, op, [&](const Tensor& x) {
    ConvGeom g = fold_geom(x.size(0), x.size(1), x.size(2), x.size(3), kernel_size, dilation, padding, stride, op);
    return unfold_raw(g, x);
  });
}

Tensor fold(const Tensor& input, const std::vector<int64_t>& output_size, const std::vector<int64_t>& kernel_size,
            const std::vector<int64_t>& dilation, const std::vector<int64_t>& padding,
            const std::vector<int64_t>& stride) {
  const char* op = "fold";
  EMBER_CHECK(is_floating(input.dtype()), NotImplementedError, op, ": not implemented for '",
              dtype_name(input.dtype()), "' input (float32 or float64 expected)");
  auto os = expand2(output_size, "output_size", op);
  return batched(input, 3, op, [&](const Tensor& x) {
    auto k = expand2(kernel_size, "kernel_size", op);
    EMBER_CHECK(k[0] > 0 && k[1] > 0 && x.size(1) % (k[0] * k[1]) == 0, RuntimeError, op,
                ": Expected size of input's dimension 1 to be divisible by the product of kernel_size, but got input.size(1)=",
                x.size(1), " and kernel_size=", lst(k));
    ConvGeom g = fold_geom(x.size(0), x.size(1) / (k[0] * k[1]), os[0], os[1], kernel_size, dilation, padding,
                           stride, op);
    EMBER_CHECK(g.OH * g.OW == x.size(2), RuntimeError, op, ": Given output_size=", lst(os),
                ", kernel_size=", lst(k), ", dilation=", lst(dilation), ", padding=", lst(padding),
                ", stride=", lst(stride), ", expected size of input's dimension 2 to match the calculated "
                "number of sliding blocks ", g.OH, " * ", g.OW, " = ", g.OH * g.OW, ", but got input.size(2)=",
                x.size(2), ".");
    return fold_raw(g, x);
  });
}

}  // namespace ember::ops

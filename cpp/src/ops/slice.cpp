// Slicing: select / slice / narrow / split / chunk / unbind are views described by a Box (an
// axis-aligned strided region of the input); their backward scatters the gradient into zeros of
// the input's shape (box_scatter), whose own backward takes the box again, so double backward
// works. Also the small copies built on the same pieces: flip, roll, repeat, tril/triu,
// constant_pad.
#include <algorithm>

#include "common.h"

namespace ember::ops {

namespace {
// Region of a tensor of shape `in`: per dim start, step and size; dims with keep = 0 (select)
// have size 1 and vanish from the region's shape.
struct Box {
  Shape in;
  std::vector<int64_t> start, step, size;
  std::vector<char> keep;
  explicit Box(const Shape& s) : in(s), start(s.size(), 0), step(s.size(), 1), size(s), keep(s.size(), 1) {}
  Shape out_shape() const {
    Shape o;
    for (size_t d = 0; d < in.size(); ++d)
      if (keep[d]) o.push_back(size[d]);
    return o;
  }
  // (shape, strides, offset) of the region inside t (shape `in`, any strides).
  void geometry(const Tensor& t, Shape& shape, Strides& strides, int64_t& offset) const {
    offset = t.offset();
    shape.clear();
    strides.clear();
    for (size_t d = 0; d < in.size(); ++d) {
      if (size[d] > 0) offset += start[d] * t.strides()[d];
      if (!keep[d]) continue;
      shape.push_back(size[d]);
      strides.push_back(t.strides()[d] * step[d]);
    }
  }
  Tensor raw_view(const Tensor& t) const {
    Shape s;
    Strides st;
    int64_t off;
    geometry(t, s, st, off);
    return Tensor::make_view(t, s, st, off);
  }
};

Tensor box_view(const Tensor& x, const Box& b, const char* name);
Tensor box_scatter(const Tensor& src, const Box& b, Scalar fill);

struct BoxViewBackward : Node {  // region of x -> gradient placed into zeros of x's shape
  Box box{Shape{}};
  const char* nm = "SliceBackward0";
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& g) override { return {box_scatter(g[0], box, Scalar(int64_t(0)))}; }
};
struct BoxScatterBackward : Node {  // fill outside the region, src inside -> d src = region of g
  Box box{Shape{}};
  std::string name() const override { return "ConstantPadNdBackward0"; }
  TensorList apply(TensorList&& g) override { return {box_view(g[0], box, "SliceBackward0")}; }
};

Tensor box_view(const Tensor& x, const Box& b, const char* name) {
  Shape s;
  Strides st;
  int64_t off;
  b.geometry(x, s, st, off);
  Tensor out = make_diff_view(x, s, st, off);
  if (auto node = make_node<BoxViewBackward>({x})) {
    node->box = b;
    node->nm = name;
    set_history(out, node);
  }
  return out;
}

Tensor box_scatter(const Tensor& src, const Box& b, Scalar fill) {
  Tensor out = full(b.in, fill, src.dtype(), src.device());
  copy_into(b.raw_view(out), src);
  if (auto node = make_node<BoxScatterBackward>({src})) {
    node->box = b;
    set_history(out, node);
  }
  return out;
}

void check_has_dims(const Tensor& x, const char* op) {
  EMBER_CHECK(x.dim() > 0, IndexError, op, "() cannot be applied to a 0-dim tensor.");
}

// split / chunk / unbind: one node for all the pieces, whose backward joins their gradients (zeros
// for the pieces that got none) with one cat or stack. A node per piece (box_view's) scattered
// each gradient into zeros of the whole input and summed those: O(pieces x input) work and
// memory, which made an LSTM's backward over 32 time steps 3.6x its forward.
struct SplitBackward : Node {
  std::vector<Shape> shapes;  // each piece's shape
  int64_t dim = 0;
  bool stacked = false;  // unbind: pieces without the dim, joined by stack
  std::string name() const override { return stacked ? "UnbindBackward0" : "SplitWithSizesBackward0"; }
  TensorList apply(TensorList&& g) override {
    DType dt = DType::Float32;
    Device dev;
    for (const auto& t : g)
      if (t.defined()) dt = t.dtype(), dev = t.device();
    std::vector<Tensor> parts;
    parts.reserve(g.size());
    for (size_t k = 0; k < g.size(); ++k) parts.push_back(g[k].defined() ? g[k] : zeros(shapes[k], dt, dev));
    return {stacked ? stack(parts, dim) : cat(parts, dim)};
  }
};

// Views of x's consecutive pieces along dim (sizes; unbind: every index, the dim dropped).
std::vector<Tensor> split_views(const Tensor& x, int64_t dim, const std::vector<int64_t>& sizes, bool unbind) {
  std::vector<Tensor> out;
  out.reserve(sizes.size());
  int64_t off = 0;
  for (auto sz : sizes) {
    Box b(x.shape());
    b.start[dim] = off;
    b.size[dim] = sz;
    if (unbind) b.keep[dim] = 0;
    Shape s;
    Strides st;
    int64_t o;
    b.geometry(x, s, st, o);
    out.push_back(make_diff_view(x, s, st, o));
    off += sz;
  }
  if (auto node = make_node<SplitBackward>({x})) {
    node->dim = dim;
    node->stacked = unbind;
    for (const auto& t : out) node->shapes.push_back(t.shape());
    set_history(out, node);
  }
  return out;
}
}  // namespace

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  check_has_dims(x, "select");
  dim = wrap_dim(dim, x.dim(), "select");
  const int64_t n = x.shape()[dim];
  EMBER_CHECK(index >= -n && index < n, IndexError, "select(): index ", index, " out of range for tensor of size ",
              shape_str(x.shape()), " at dimension ", dim);
  Box b(x.shape());
  b.start[dim] = index < 0 ? index + n : index;
  b.size[dim] = 1;
  b.keep[dim] = 0;
  return box_view(x, b, "SelectBackward0");
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  check_has_dims(x, "slice");
  dim = wrap_dim(dim, x.dim(), "slice");
  EMBER_CHECK(step > 0, ValueError, "step must be greater than zero");
  const int64_t n = x.shape()[dim];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Box b(x.shape());
  b.start[dim] = start;
  b.step[dim] = step;
  b.size[dim] = (end - start + step - 1) / step;
  return box_view(x, b, "SliceBackward0");
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  check_has_dims(x, "narrow");
  dim = wrap_dim(dim, x.dim(), "narrow");
  const int64_t n = x.shape()[dim];
  EMBER_CHECK(start >= -n && start <= n, IndexError, "narrow(): start out of range (expected to be in range of [",
              -n, ", ", n, "], but got ", start, ")");
  if (start < 0) start += n;
  EMBER_CHECK(length >= 0, RuntimeError, "narrow(): length must be non-negative.");
  EMBER_CHECK(start + length <= n, RuntimeError, "start (", start, ") + length (", length,
              ") exceeds dimension size (", n, ").");
  Box b(x.shape());
  b.start[dim] = start;
  b.size[dim] = length;
  return box_view(x, b, "NarrowBackward0");
}

std::vector<Tensor> split_with_sizes(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  check_has_dims(x, "split");
  dim = wrap_dim(dim, x.dim(), "split");
  const int64_t n = x.shape()[dim];
  int64_t total = 0;
  for (auto s : sizes) {
    EMBER_CHECK(s >= 0, RuntimeError, "split_with_sizes expects split_sizes have only non-negative entries, but got "
                "split_sizes=", shape_str(sizes));
    total += s;
  }
  EMBER_CHECK(total == n, RuntimeError, "split_with_sizes expects split_sizes to sum exactly to ", n,
              " (input tensor's size at dimension ", dim, "), but got split_sizes=", shape_str(sizes));
  return split_views(x, dim, sizes, false);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  check_has_dims(x, "split");
  dim = wrap_dim(dim, x.dim(), "split");
  const int64_t n = x.shape()[dim];
  EMBER_CHECK(split_size >= 0, RuntimeError, "split expects split_size be non-negative, but got split_size=", split_size);
  EMBER_CHECK(split_size > 0 || n == 0, RuntimeError,
              "split_size can only be 0 if dimension size is 0, but got dimension size of ", n);
  std::vector<int64_t> sizes;
  if (n == 0) sizes.push_back(0);
  for (int64_t off = 0; off < n; off += split_size) sizes.push_back(std::min(split_size, n - off));
  return split_with_sizes(x, sizes, dim);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  check_has_dims(x, "chunk");
  EMBER_CHECK(chunks > 0, RuntimeError, "chunk expects `chunks` to be greater than 0, got: ", chunks);
  const int64_t n = x.shape()[wrap_dim(dim, x.dim(), "chunk")];
  if (n == 0) return split_with_sizes(x, std::vector<int64_t>(chunks, 0), dim);
  return split(x, (n + chunks - 1) / chunks, dim);
}

std::vector<Tensor> unbind(const Tensor& x, int64_t dim) {
  check_has_dims(x, "unbind");
  dim = wrap_dim(dim, x.dim(), "unbind");
  return split_views(x, dim, std::vector<int64_t>(x.shape()[dim], 1), true);
}

// --- copies ---------------------------------------------------------------------------------------
namespace {
struct FlipBackward : Node {
  std::vector<int64_t> dims;
  std::string name() const override { return "FlipBackward0"; }
  TensorList apply(TensorList&& g) override { return {flip(g[0], dims)}; }  // d flip = flip g
};
struct RepeatBackward : Node {
  Shape in_shape, split_shape;  // split_shape: (r0, s0, r1, s1, ...)
  std::vector<int64_t> sum_dims;
  std::string name() const override { return "RepeatBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d repeat = sum of g over the repeated copies
    return {reshape(sum(reshape(g[0], split_shape), sum_dims), in_shape)};
  }
};
}  // namespace

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<int64_t> w = wrap_dims(dims, x.dim(), "flip");
  Strides st = x.strides();
  int64_t off = x.offset();
  for (auto d : w) {
    if (x.shape()[d] > 1) {
      off += (x.shape()[d] - 1) * st[d];
      st[d] = -st[d];
    }
  }
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_into(out, Tensor::make_view(x, x.shape(), st, off));  // a reversed (negative-stride) read
  if (auto node = make_node<FlipBackward>({x})) {
    node->dims = w;
    set_history(out, node);
  }
  return out;
}

Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
  if (dims.empty()) {
    EMBER_CHECK(shifts.size() == 1, RuntimeError, "roll: shifts and dimensions must align. shifts: ", shifts.size(),
                ", dims:0");
    return view(roll(flatten(x), shifts, {0}), x.shape());
  }
  EMBER_CHECK(shifts.size() == dims.size(), RuntimeError, "roll: shifts and dimensions must align. shifts: ",
              shifts.size(), ", dims:", dims.size());
  Tensor r = x;
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], x.dim(), "roll");
    int64_t n = x.dim() ? x.shape()[d] : 1;
    int64_t s = n ? ((shifts[i] % n) + n) % n : 0;
    if (s == 0 || x.dim() == 0) continue;
    r = cat({narrow(r, d, n - s, s), narrow(r, d, 0, n - s)}, d);
  }
  return r.same(x) ? clone(x) : r;
}

Tensor repeat(const Tensor& x, const Shape& repeats) {
  const int64_t m = static_cast<int64_t>(repeats.size()), xd = x.dim();
  EMBER_CHECK(m >= xd, RuntimeError,
              "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor");
  Shape padded(m - xd, 1), split_shape, inter, out_shape;
  padded.insert(padded.end(), x.shape().begin(), x.shape().end());
  std::vector<int64_t> sum_dims;
  for (int64_t i = 0; i < m; ++i) {
    EMBER_CHECK(repeats[i] >= 0, RuntimeError, "repeat: trying to create tensor with negative dimension ",
                repeats[i], ": ", shape_str(repeats));
    sum_dims.push_back(2 * i);
    split_shape.insert(split_shape.end(), {repeats[i], padded[i]});
    inter.insert(inter.end(), {1, padded[i]});
    out_shape.push_back(repeats[i] * padded[i]);
  }
  Tensor src = expand(reshape(x.detach(), inter), split_shape);
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  copy_into(Tensor::make_view(out, split_shape, contiguous_strides(split_shape), out.offset()), src);
  if (auto node = make_node<RepeatBackward>({x})) {
    node->in_shape = x.shape();
    node->split_shape = split_shape;
    node->sum_dims = sum_dims;
    set_history(out, node);
  }
  return out;
}

namespace {
Tensor tri(const Tensor& x, int64_t k, bool lower, const char* op) {
  EMBER_CHECK(x.dim() >= 2, RuntimeError, op, ": input tensor must have at least 2 dimensions");
  const int64_t r = x.shape()[x.dim() - 2], c = x.shape()[x.dim() - 1];
  Tensor mask = Tensor::empty({r, c}, DType::Bool, x.device());
  bool* p = mask.data<bool>();
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) p[i * c + j] = lower ? j - i <= k : j - i >= k;
  return where(mask, x, scalar_tensor(Scalar(int64_t(0)), x.dtype(), x.device()));
}
}  // namespace

Tensor tril(const Tensor& x, int64_t diagonal) { return tri(x, diagonal, true, "tril"); }
Tensor triu(const Tensor& x, int64_t diagonal) { return tri(x, diagonal, false, "triu"); }

Tensor constant_pad(const Tensor& x, const std::vector<int64_t>& pad, Scalar value) {
  const int64_t np = static_cast<int64_t>(pad.size()), nd = x.dim();
  EMBER_CHECK(np % 2 == 0, RuntimeError, "constant_pad: padding length must be divisible by 2, got ", np);
  EMBER_CHECK(np / 2 <= nd, RuntimeError, "constant_pad: padding length too large: ", np, " values pad ", np / 2,
              " dims of a ", nd, "-d input");
  Box crop(x.shape());
  bool cropped = false;
  Shape out_shape = x.shape();
  for (int64_t j = 0; j < np / 2; ++j) {
    const int64_t d = nd - 1 - j, before = pad[2 * j], after = pad[2 * j + 1], n = x.shape()[d];
    out_shape[d] = n + before + after;
    EMBER_CHECK(out_shape[d] >= 0, RuntimeError, "constant_pad: the input size ", n, ", plus negative padding ", before,
                " and ", after, " resulted in a negative output size, which is invalid. Check dimension ", d,
                " of your input.");
    crop.start[d] = std::max<int64_t>(-before, 0);
    crop.size[d] = std::max<int64_t>(n + std::min<int64_t>(before, 0) + std::min<int64_t>(after, 0), 0);
    cropped |= before < 0 || after < 0;
  }
  Tensor xc = cropped ? box_view(x, crop, "ConstantPadNdBackward0") : x;
  Box place(out_shape);
  for (int64_t j = 0; j < np / 2; ++j) {
    const int64_t d = nd - 1 - j;
    place.start[d] = std::max<int64_t>(pad[2 * j], 0);
    place.size[d] = xc.shape()[d];
  }
  return box_scatter(xc, place, value);
}

// F.pad's reflect / replicate / circular modes. An output position o of a padded dim reads input
// position i = o - before mapped into range: reflect mirrors about the edge elements (-i,
// 2 (n - 1) - i), replicate clamps, circular wraps (within the part negative padding keeps).
// Non-negative padding runs as copies with its own backward (ModePadGeom below); padding with a
// negative (cropping) side runs each padded dim as an index_select through that map (its gradient
// is index_add). Both are differentiable twice. Checks and messages follow torch's: 1 to 3 padded
// dims on an input with one or two more dims (the leading one a batch that may be empty), every
// other dim non-empty, reflect padding below the dim's size, circular padding at most the size.
namespace {
// Non-negative padding by copies: the input into the output's interior, then each border slice
// copied from the element it mirrors / repeats / wraps, dim by dim from the last padded one (the
// dims done before span their padded extent, the rest their interior). The adjoint runs the same
// steps backwards, adding each border slice of the gradient onto its source, then takes the
// interior. (The index_select form of mode_pad ran its gradient through a generic scatter: 0.6x
// torch on (16, 32, 32, 32); this is one pass plus the borders each way.)
struct ModePadGeom {
  Shape in, out;
  std::vector<int64_t> before;  // per dim, 0 for unpadded ones
  int64_t k = 0;                // padded dims: the last k
  bool reflect = false, circular = false;
  std::string name;             // the forward's grad_fn name (torch's ReflectionPad2DBackward0, ...)
  int64_t source(int64_t d, int64_t o) const {  // output position o of dim d -> output position it copies
    const int64_t n = in[d], i = o - before[d];
    const int64_t j = reflect ? (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i)
                      : circular ? ((i % n) + n) % n
                                 : std::clamp<int64_t>(i, 0, n - 1);
    return j + before[d];
  }
  // view of t (shape `out`) at position pos of dim d, padded extent on dims after d, interior before
  Tensor slice_at(const Tensor& t, int64_t d, int64_t pos) const {
    Shape sh = out;
    int64_t off = t.offset() + pos * t.strides()[d];
    const int64_t nd = static_cast<int64_t>(out.size());
    for (int64_t e = nd - k; e < d; ++e) sh[e] = in[e], off += before[e] * t.strides()[e];
    sh[d] = 1;
    return Tensor::make_view(t, sh, t.strides(), off);
  }
  Tensor interior(const Tensor& t) const {
    int64_t off = t.offset();
    for (size_t e = 0; e < in.size(); ++e) off += before[e] * t.strides()[e];
    return Tensor::make_view(t, in, t.strides(), off);
  }
  bool border(int64_t d, int64_t o) const { return o < before[d] || o >= before[d] + in[d]; }
};
Tensor mode_pad_copy(const Tensor& x, const ModePadGeom& g);
Tensor mode_pad_adjoint(const Tensor& gy, const ModePadGeom& g);
struct ModePadBackward : Node {
  ModePadGeom geom;
  std::string name() const override { return geom.name; }
  TensorList apply(TensorList&& g) override { return {mode_pad_adjoint(g[0], geom)}; }
};
struct ModePadAdjointBackward : Node {  // the adjoint's adjoint: the padding again
  ModePadGeom geom;
  std::string name() const override { return "ModePadBackwardBackward0"; }
  TensorList apply(TensorList&& g) override { return {mode_pad_copy(g[0], geom)}; }
};
Tensor mode_pad_copy(const Tensor& x, const ModePadGeom& g) {
  Tensor out = Tensor::empty(g.out, x.dtype(), x.device());
  Backend& be = backend_of(out);
  be.copy(x, g.interior(out));
  const int64_t nd = static_cast<int64_t>(g.out.size());
  for (int64_t d = nd - 1; d >= nd - g.k; --d)
    for (int64_t o = 0; o < g.out[d]; ++o)
      if (g.border(d, o)) be.copy(g.slice_at(out, d, g.source(d, o)), g.slice_at(out, d, o));
  if (auto node = make_node<ModePadBackward>({x})) {
    node->geom = g;
    set_history(out, node);
  }
  return out;
}
Tensor mode_pad_adjoint(const Tensor& gy, const ModePadGeom& g) {
  Tensor t = Tensor::empty(g.out, gy.dtype(), gy.device());
  Backend& be = backend_of(t);
  be.copy(gy, t);
  const int64_t nd = static_cast<int64_t>(g.out.size());
  for (int64_t d = nd - g.k; d < nd; ++d)
    for (int64_t o = 0; o < g.out[d]; ++o)
      if (g.border(d, o)) {
        Tensor dst = g.slice_at(t, d, g.source(d, o));
        be.binary(BinaryOp::Add, dst, g.slice_at(t, d, o), dst);
      }
  Tensor gx = Tensor::empty(g.in, gy.dtype(), gy.device());
  be.copy(g.interior(t), gx);
  if (auto node = make_node<ModePadAdjointBackward>({gy})) {
    node->geom = g;
    set_history(gx, node);
  }
  return gx;
}
}  // namespace

Tensor mode_pad(const Tensor& x, const std::vector<int64_t>& pad, const std::string& mode) {
  const int64_t np = static_cast<int64_t>(pad.size()), nd = x.dim(), k = np / 2;
  const bool reflect = mode == "reflect", circular = mode == "circular";
  EMBER_CHECK(reflect || circular || mode == "replicate", NotImplementedError, "pad: unrecognised padding mode '",
              mode, "' (expected 'constant', 'reflect', 'replicate' or 'circular')");
  EMBER_CHECK(np % 2 == 0, RuntimeError, "pad: padding length must be divisible by 2, got ", np);
  EMBER_CHECK(k >= 1 && k <= 3 && (nd == k + 1 || nd == k + 2), NotImplementedError, "pad(mode='", mode,
              "'): padding size ", np, " is not supported for a ", nd,
              "-d input; supported: padding size 2 on 2-d or 3-d input (pads the last dim), 4 on 3-d or "
              "4-d input (the last 2 dims), 6 on 4-d or 5-d input (the last 3 dims)");
  for (int64_t d = nd == k + 2 ? 1 : 0; d < nd; ++d)
    EMBER_CHECK(x.shape()[d] > 0, RuntimeError, "pad(mode='", mode, "'): expected a ", k + 1, "-d or ", k + 2,
                "-d (batch mode) tensor with possibly 0 batch size and other non-zero dimensions for input, "
                "but got: ", shape_str(x.shape()));
  bool nonneg = true;
  for (auto v : pad) nonneg = nonneg && v >= 0;
  Tensor out = x;
  bool copied = false;
  for (int64_t j = 0; j < k; ++j) {
    const int64_t d = nd - 1 - j, before = pad[2 * j], after = pad[2 * j + 1], n = x.shape()[d];
    if (reflect)
      EMBER_CHECK(before < n && after < n, RuntimeError, "pad(mode='reflect'): padding size should be less than the "
                  "corresponding input dimension, but got: padding (", before, ", ", after, ") at dimension ", d,
                  " of input ", shape_str(x.shape()));
    // circular wraps within what is left after negative padding crops (torch's order)
    const int64_t lo = std::max<int64_t>(-before, 0), kept = n + std::min<int64_t>(before, 0) + std::min<int64_t>(after, 0);
    if (circular)
      EMBER_CHECK(before <= kept && after <= kept, RuntimeError, "pad(mode='circular'): padding (", before, ", ",
                  after, ") at dimension ", d, " of input ", shape_str(x.shape()),
                  " wraps around more than once (at most the dimension's size after cropping, ", kept, ")");
    const int64_t m = n + before + after;
    EMBER_CHECK(m >= 0, RuntimeError, "pad(mode='", mode, "'): the input size ", n, ", plus negative padding ", before,
                " and ", after, " resulted in a negative output size, which is invalid. Check dimension ", d,
                " of your input.");
    EMBER_CHECK(m > 0 || circular, RuntimeError, "pad(mode='", mode, "'): the input size ", n, " at dimension ", d,
                " with padding (", before, ", ", after, ") gives an output size 0; expected at least 1");
    if ((before == 0 && after == 0) || nonneg) continue;
    Tensor idx = Tensor::empty({m}, DType::Int64, Device());
    int64_t* ip = idx.data<int64_t>();
    for (int64_t o = 0; o < m; ++o) {
      const int64_t i = o - before, c = o - std::max<int64_t>(before, 0);  // c: within the kept part
      ip[o] = reflect ? (i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i)
              : circular ? lo + ((c % kept) + kept) % kept
                         : std::clamp<int64_t>(i, 0, n - 1);
    }
    out = index_select(out, d, x.device().is_cpu() ? idx : to_device(idx, x.device()));
    copied = true;
  }
  if (nonneg) {  // the common case: copies (ModePadGeom)
    ModePadGeom g;
    g.in = x.shape(), g.out = x.shape(), g.k = k, g.reflect = reflect, g.circular = circular;
    g.before.assign(nd, 0);
    for (int64_t j = 0; j < k; ++j) {
      const int64_t d = nd - 1 - j;
      g.before[d] = pad[2 * j];
      g.out[d] += pad[2 * j] + pad[2 * j + 1];
    }
    g.name = std::string(reflect ? "ReflectionPad" : circular ? "CircularPad" : "ReplicationPad") +
             std::to_string(k) + "DBackward0";
    return mode_pad_copy(x, g);
  }
  return copied ? out : clone(x);
}

}  // namespace ember::ops

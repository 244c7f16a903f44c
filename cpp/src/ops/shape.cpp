// View ops (share storage and version counter with the input; remember the base tensor so
// in-place writes through a view can update the base's history) and reshape/expand.
#include <algorithm>
#include <numeric>

#include "common.h"

namespace ember::ops {

Tensor make_diff_view(const Tensor& x, Shape shape, Strides strides, int64_t offset) {
  Tensor v = Tensor::make_view(x, std::move(shape), std::move(strides), offset);
  v.impl()->base = x.impl()->base ? x.impl()->base : x.impl_ptr();
  return v;
}

Shape infer_size(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      EMBER_CHECK(infer < 0, RuntimeError, op, ": only one dimension can be inferred");
      infer = static_cast<int64_t>(i);
    } else {
      EMBER_CHECK(shape[i] >= 0, RuntimeError, op, ": invalid shape dimension ", shape[i]);
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    EMBER_CHECK(known != 0, RuntimeError, op, ": cannot reshape tensor of 0 elements into shape ",
                shape_str(shape), " because the unspecified dimension size -1 can be any value and is ambiguous");
    EMBER_CHECK(numel % known == 0, RuntimeError, op, ": shape ", shape_str(shape),
                " is invalid for input of size ", numel);
    out[infer] = numel / known;
  }
  EMBER_CHECK(numel_of(out) == numel, RuntimeError, op, ": shape ", shape_str(shape),
              " is invalid for input of size ", numel);
  return out;
}

// Strides for viewing (old shape, old strides) as new shape without copying, if possible
// (torch's computeStride): each run of merged old dims must be contiguous within itself.
static bool view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& new_shape,
                         Strides& out) {
  out.assign(new_shape.size(), 0);
  if (old_shape.empty()) {
    std::fill(out.begin(), out.end(), 1);
    return true;
  }
  int64_t numel = numel_of(old_shape);
  if (numel == 0) {
    out = contiguous_strides(new_shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return false;
      if (d > 0) {
        chunk_base_stride = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

namespace {
struct ReshapeBackward : Node {  // view / reshape / squeeze / unsqueeze: reshape the gradient back
  Shape in_shape;
  const char* nm = "ViewBackward0";
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& g) override { return {reshape(g[0], in_shape)}; }
};
struct ExpandBackward : Node {
  Shape in_shape;
  std::string name() const override { return "ExpandBackward0"; }
  TensorList apply(TensorList&& g) override { return {sum_to(g[0], in_shape)}; }  // d expand = sum_to
};
struct PermuteBackward : Node {
  std::vector<int64_t> inverse;
  const char* nm = "PermuteBackward0";
  std::string name() const override { return nm; }
  TensorList apply(TensorList&& g) override { return {permute(g[0], inverse)}; }
};
Tensor with_reshape_node(const Tensor& out, const Tensor& x, const char* nm) {
  if (auto node = make_node<ReshapeBackward>({x})) {
    node->in_shape = x.shape();
    node->nm = nm;
    set_history(out, node);
  }
  return out;
}
}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  Shape s = infer_size(shape, x.numel(), "view");
  Strides st;
  EMBER_CHECK(view_strides(x.shape(), x.strides(), s, st), RuntimeError,
              "view: size ", shape_str(s), " is not compatible with input tensor's size ", shape_str(x.shape()),
              " and stride ", shape_str(x.strides()),
              " (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.");
  return with_reshape_node(make_diff_view(x, s, st, x.offset()), x, "ViewBackward0");
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = infer_size(shape, x.numel(), "reshape");
  Strides st;
  if (view_strides(x.shape(), x.strides(), s, st))
    return with_reshape_node(make_diff_view(x, s, st, x.offset()), x, "ViewBackward0");
  Tensor c = clone(x);  // differentiable copy, then a view of it
  return with_reshape_node(make_diff_view(c, s, contiguous_strides(s), 0), c, "UnsafeViewBackward0");
}

Tensor expand(const Tensor& x, const Shape& shape) {
  const int64_t nd = static_cast<int64_t>(shape.size()), xd = x.dim();
  EMBER_CHECK(nd >= xd, RuntimeError, "expand: the number of sizes provided (", nd,
              ") must be greater or equal to the number of dimensions in the tensor (", xd, ")");
  Shape s(nd);
  Strides st(nd);
  for (int64_t i = nd - 1; i >= 0; --i) {
    int64_t xi = i - (nd - xd);
    int64_t want = shape[i];
    if (xi < 0) {
      EMBER_CHECK(want >= 0, RuntimeError, "expand: the expanded size of the tensor (", want,
                  ") isn't allowed in a leading, non-existing dimension ", i);
      s[i] = want;
      st[i] = 0;
      continue;
    }
    int64_t have = x.shape()[xi];
    if (want == -1) want = have;
    EMBER_CHECK(have == want || have == 1, RuntimeError, "expand: the expanded size of the tensor (", want,
                ") must match the existing size (", have, ") at non-singleton dimension ", i,
                ".  Target sizes: ", shape_str(shape), ".  Tensor sizes: ", shape_str(x.shape()));
    s[i] = want;
    st[i] = have == want ? x.strides()[xi] : 0;
  }
  Tensor out = make_diff_view(x, s, st, x.offset());
  if (auto node = make_node<ExpandBackward>({x})) {
    node->in_shape = x.shape();
    set_history(out, node);
  }
  return out;
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  dim = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  Strides st = x.strides();
  int64_t stride = dim < x.dim() ? s[dim] * st[dim] : 1;
  s.insert(s.begin() + dim, 1);
  st.insert(st.begin() + dim, stride);
  return with_reshape_node(make_diff_view(x, s, st, x.offset()), x, "UnsqueezeBackward0");
}

Tensor squeeze(const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<bool> drop(x.dim(), false);
  if (dims.empty()) {
    for (int64_t d = 0; d < x.dim(); ++d) drop[d] = x.shape()[d] == 1;
  } else {
    for (auto d : dims) {
      int64_t w = wrap_dim(d, x.dim(), "squeeze");
      if (x.dim() > 0 && x.shape()[w] == 1) drop[w] = true;
    }
  }
  Shape s;
  Strides st;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!drop[d]) s.push_back(x.shape()[d]), st.push_back(x.strides()[d]);
  return with_reshape_node(make_diff_view(x, s, st, x.offset()), x, "SqueezeBackward0");
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  EMBER_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), RuntimeError, "permute: number of dims don't match in permute (got ",
              dims.size(), " dims for a tensor with ", x.dim(), ")");
  std::vector<int64_t> w(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape s(dims.size());
  Strides st(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    w[i] = wrap_dim(dims[i], x.dim(), "permute");
    EMBER_CHECK(!seen[w[i]], RuntimeError, "permute: repeated dim ", w[i], " in permute");
    seen[w[i]] = true;
    s[i] = x.shape()[w[i]];
    st[i] = x.strides()[w[i]];
    inverse[w[i]] = static_cast<int64_t>(i);
  }
  Tensor out = make_diff_view(x, s, st, x.offset());
  if (auto node = make_node<PermuteBackward>({x})) {
    node->inverse = inverse;
    set_history(out, node);
  }
  return out;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  if (x.dim() == 0) return permute(x, {});
  d0 = wrap_dim(d0, x.dim(), "transpose");
  d1 = wrap_dim(d1, x.dim(), "transpose");
  std::vector<int64_t> p(x.dim());
  std::iota(p.begin(), p.end(), 0);
  std::swap(p[d0], p[d1]);
  Tensor out = permute(x, p);
  if (out.grad_fn()) static_cast<PermuteBackward*>(out.grad_fn().get())->nm = "TransposeBackward0";
  return out;
}

// --- diagonal: a view; its gradient places g on the same diagonal of zeros -----------------------
namespace {
struct DiagGeom {
  Shape shape;
  Strides strides;
  int64_t offset = 0;  // element offset of the first diagonal element, relative to x's
};
// The diagonal (offset `off`) of dims d1, d2 of (shape, strides): those dims removed, the diagonal
// appended last (torch's layout); an empty diagonal keeps the offset.
DiagGeom diag_geom(const Shape& sh, const Strides& st, int64_t off, int64_t d1, int64_t d2) {
  DiagGeom g;
  const int64_t n = off >= 0 ? std::max<int64_t>(std::min(sh[d1], sh[d2] - off), 0)
                             : std::max<int64_t>(std::min(sh[d1] + off, sh[d2]), 0);
  if (n > 0) g.offset = off >= 0 ? off * st[d2] : -off * st[d1];
  for (size_t d = 0; d < sh.size(); ++d)
    if (static_cast<int64_t>(d) != d1 && static_cast<int64_t>(d) != d2) g.shape.push_back(sh[d]), g.strides.push_back(st[d]);
  g.shape.push_back(n);
  g.strides.push_back(st[d1] + st[d2]);
  return g;
}
Tensor diag_scatter(const Tensor& g, const Shape& in_shape, int64_t off, int64_t d1, int64_t d2);
struct DiagonalBackward : Node {  // d diagonal(x) = g on that diagonal of zeros
  Shape in_shape;
  int64_t off = 0, d1 = 0, d2 = 1;
  std::string name() const override { return "DiagonalBackward0"; }
  TensorList apply(TensorList&& g) override { return {diag_scatter(g[0], in_shape, off, d1, d2)}; }
};
struct DiagScatterBackward : Node {  // the adjoint again: the diagonal of the gradient
  int64_t off = 0, d1 = 0, d2 = 1;
  std::string name() const override { return "DiagonalBackwardBackward0"; }
  TensorList apply(TensorList&& g) override { return {diagonal(g[0], off, d1, d2)}; }
};
Tensor diag_scatter(const Tensor& g, const Shape& in_shape, int64_t off, int64_t d1, int64_t d2) {
  Tensor out = zeros(in_shape, g.dtype(), g.device());
  DiagGeom dg = diag_geom(in_shape, out.strides(), off, d1, d2);
  Tensor view = Tensor::make_view(out, dg.shape, dg.strides, out.offset() + dg.offset);
  backend_of(out).copy(g, view);
  if (auto node = make_node<DiagScatterBackward>({g})) {
    node->off = off, node->d1 = d1, node->d2 = d2;
    set_history(out, node);
  }
  return out;
}
}  // namespace

Tensor diagonal(const Tensor& x, int64_t offset, int64_t dim1, int64_t dim2) {
  EMBER_CHECK(x.dim() >= 2, RuntimeError, "diagonal: expected an input of at least 2 dims, got ", x.dim());
  const int64_t d1 = wrap_dim(dim1, x.dim(), "diagonal"), d2 = wrap_dim(dim2, x.dim(), "diagonal");
  EMBER_CHECK(d1 != d2, RuntimeError, "diagonal dimensions cannot be identical ", dim1, ", ", dim2);
  DiagGeom dg = diag_geom(x.shape(), x.strides(), offset, d1, d2);
  Tensor out = make_diff_view(x, dg.shape, dg.strides, x.offset() + dg.offset);
  if (auto node = make_node<DiagonalBackward>({x})) {
    node->in_shape = x.shape();
    node->off = offset, node->d1 = d1, node->d2 = d2;
    set_history(out, node);
  }
  return out;
}

Tensor as_strided(const Tensor& x, const Shape& shape, const Strides& strides, int64_t offset) {
  EMBER_CHECK(shape.size() == strides.size(), RuntimeError, "as_strided: mismatch in length of strides and shape");
  int64_t max_off = offset;
  for (size_t i = 0; i < shape.size(); ++i) {
    EMBER_CHECK(shape[i] >= 0 && strides[i] >= 0, RuntimeError, "as_strided: negative sizes or strides are not supported");
    if (shape[i] > 0) max_off += (shape[i] - 1) * strides[i];
  }
  int64_t cap = static_cast<int64_t>(x.storage()->nbytes / x.itemsize());
  EMBER_CHECK(offset >= 0 && (numel_of(shape) == 0 || max_off < cap), RuntimeError, "as_strided: setStorage: sizes ",
              shape_str(shape), ", strides ", shape_str(strides), ", storage offset ", offset,
              " require a storage of ", max_off + 1, " elements, but the storage holds only ", cap);
  Tensor out = make_diff_view(x, shape, strides, offset);
  if (x.requires_grad() && GradMode::is_enabled()) {
    EMBER_CHECK(x.is_contiguous(), NotImplementedError,
                "as_strided: gradients are supported only for contiguous inputs");
    set_history(out, make_as_strided_backward(x, shape, strides, offset - x.offset()));
  }
  return out;
}

}  // namespace ember::ops

// --- index branch: more views -------------------------------------------------------------------
namespace ember::ops {

namespace {
struct AliasBackward : Node {
  std::string name() const override { return "AliasBackward0"; }
  TensorList apply(TensorList&& g) override { return {g[0]}; }  // d alias = g
};
}  // namespace

Tensor alias(const Tensor& x) {
  Tensor out = make_diff_view(x, x.shape(), x.strides(), x.offset());
  if (auto node = make_node<AliasBackward>({x})) set_history(out, node);
  return out;
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  start_dim = wrap_dim(start_dim, x.dim(), "flatten");
  end_dim = wrap_dim(end_dim, x.dim(), "flatten");
  EMBER_CHECK(start_dim <= end_dim, RuntimeError, "flatten() has invalid args: start_dim cannot come after end_dim");
  if (start_dim == end_dim) return x;
  Shape s(x.shape().begin(), x.shape().begin() + start_dim);
  int64_t n = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) n *= x.shape()[d];
  s.push_back(n);
  s.insert(s.end(), x.shape().begin() + end_dim + 1, x.shape().end());
  return reshape(x, s);
}

Tensor unflatten(const Tensor& x, int64_t dim, const Shape& sizes) {
  dim = wrap_dim(dim, x.dim(), "unflatten");
  EMBER_CHECK(!sizes.empty(), RuntimeError, "unflatten: sizes must be non-empty");
  const int64_t n = x.dim() ? x.shape()[dim] : 1;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == -1 && infer < 0) infer = static_cast<int64_t>(i);
    else known *= sizes[i];
  }
  Shape inner = sizes;
  if (infer >= 0 && known != 0 && n % known == 0) inner[infer] = n / known;
  EMBER_CHECK(numel_of(inner) == n && (infer < 0 || known != 0), RuntimeError, "unflatten: Provided sizes ",
              shape_str(sizes), " don't multiply up to the size of dim ", dim, " (", n, ") in the input tensor");
  Shape s(x.shape().begin(), x.shape().begin() + dim);
  s.insert(s.end(), inner.begin(), inner.end());
  if (x.dim()) s.insert(s.end(), x.shape().begin() + dim + 1, x.shape().end());
  return view(x, s);
}

Tensor movedim(const Tensor& x, const std::vector<int64_t>& source, const std::vector<int64_t>& destination) {
  EMBER_CHECK(source.size() == destination.size(), RuntimeError,
              "movedim: Invalid source or destination dims: source (", shape_str(source),
              " dims) should contain the same number of dims as destination (", shape_str(destination), " dims)");
  const int64_t nd = x.dim();
  std::vector<int64_t> src = source, dst = destination, perm(nd, -1);
  std::vector<char> used_src(nd, 0);
  for (size_t i = 0; i < src.size(); ++i) {
    src[i] = wrap_dim(src[i], nd, "movedim");
    dst[i] = wrap_dim(dst[i], nd, "movedim");
    EMBER_CHECK(!used_src[src[i]] && perm[dst[i]] < 0, RuntimeError, "movedim: repeated dim in source or destination");
    used_src[src[i]] = 1;
    perm[dst[i]] = src[i];
  }
  int64_t next = 0;
  for (int64_t d = 0; d < nd; ++d) {
    if (perm[d] >= 0) continue;
    while (used_src[next]) ++next;
    perm[d] = next++;
  }
  return permute(x, perm);
}

Tensor t(const Tensor& x) {
  EMBER_CHECK(x.dim() <= 2, RuntimeError, "t() expects a tensor with <= 2 dimensions, but self is ", x.dim(), "D");
  return x.dim() < 2 ? alias(x) : transpose(x, 0, 1);
}

Tensor matrix_t(const Tensor& x) {
  EMBER_CHECK(x.dim() >= 2, RuntimeError, "tensor.mT is only supported on matrices or batches of matrices. Got ",
              x.dim(), "-D tensor.");
  return transpose(x, -2, -1);
}

Tensor full_t(const Tensor& x) {
  std::vector<int64_t> p(x.dim());
  for (int64_t d = 0; d < x.dim(); ++d) p[d] = x.dim() - 1 - d;
  return permute(x, p);
}

}  // namespace ember::ops

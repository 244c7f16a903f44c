// Index ops: advanced indexing (index / index_put), index_select, gather / scatter(_add),
// take_along_dim, masked_fill / masked_select, nonzero. Every read or write goes through the
// backend's offset kernels: index tensors become element offsets (validated there: an index out of
// range raises IndexError, never reads out of bounds), and the indexed tensor is restrided so its
// indexed dims have stride 0. Backward: index <-> index_put(accumulate), gather <-> scatter_add.
#include <algorithm>

#include "common.h"

namespace ember::ops {

namespace {
std::string list_str(const Shape& s) {  // torch prints sizes as [2, 3]
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

Tensor expand_raw(const Tensor& t, const Shape& shape) {  // broadcast view, no autograd
  Strides st(shape.size(), 0);
  const int64_t off = static_cast<int64_t>(shape.size()) - t.dim();
  for (int64_t d = 0; d < t.dim(); ++d)
    st[d + off] = t.shape()[d] == shape[d + off] ? t.strides()[d] : 0;
  return Tensor::make_view(t, shape, st, t.offset());
}

Tensor contiguous_raw(const Tensor& t) {
  if (t.is_contiguous()) return t;
  Tensor c = Tensor::empty(t.shape(), t.dtype(), t.device());
  copy_into(c, t);
  return c;
}

// int32/int64 index -> contiguous int64 of `shape` (broadcast), without autograd.
Tensor index_i64(const Tensor& t, const Shape& shape) {
  if (t.dtype() == DType::Int64 && t.shape() == shape && t.is_contiguous()) return t;
  Tensor c = Tensor::empty(shape, DType::Int64, t.device());
  copy_into(c, t);
  return c;
}

bool is_index_dtype(DType t) { return t == DType::Int64 || t == DType::Int32; }

// --- advanced indexing plan ----------------------------------------------------------------------
struct IndexPlan {
  Shape xshape, bshape, rshape;  // indexed tensor, broadcast index, result
  std::vector<int64_t> dims;     // indexed dims of x
  std::vector<Tensor> idx;       // per indexed dim: contiguous int64 of bshape
  std::vector<int64_t> rdim;     // per x dim: its result dim (-1 when indexed)
  int64_t first = 0;             // result dim where bshape starts
  bool allow_negative = true;
  const char* op = "";
};

IndexPlan plan_index(const Shape& xshape, const std::vector<Tensor>& indices, bool allow_negative, const char* op) {
  const int64_t nd = static_cast<int64_t>(xshape.size());
  IndexPlan p;
  p.xshape = xshape;
  p.allow_negative = allow_negative;
  p.op = op;
  std::vector<Tensor> per_dim(nd);
  int64_t d = 0;
  auto too_many = [&](int64_t need) {
    EMBER_CHECK(need <= nd, IndexError, "too many indices for tensor of dimension ", nd);
  };
  for (const Tensor& t : indices) {
    if (!t.defined()) {
      too_many(++d);
      continue;
    }
    if (t.dtype() == DType::Bool || t.dtype() == DType::UInt8) {  // a mask covers t.dim() dims
      too_many(d + t.dim());
      for (int64_t j = 0; j < t.dim(); ++j)
        EMBER_CHECK(t.shape()[j] == xshape[d + j], IndexError, "The shape of the mask ", list_str(t.shape()),
                    " at index ", j, " does not match the shape of the indexed tensor ", list_str(xshape),
                    " at index ", d + j);
      Tensor nz = nonzero(t);
      for (int64_t j = 0; j < t.dim(); ++j)
        per_dim[d + j] = Tensor::make_view(nz, {nz.shape()[0]}, {nz.strides()[0]}, nz.offset() + j);
      d += t.dim();
    } else {
      EMBER_CHECK(is_index_dtype(t.dtype()), IndexError,
                  "tensors used as indices must be long, int, byte or bool tensors");
      too_many(d + 1);
      per_dim[d++] = t;
    }
  }
  std::vector<Shape> shapes;
  for (int64_t k = 0; k < nd; ++k) {
    if (!per_dim[k].defined()) continue;
    p.dims.push_back(k);
    shapes.push_back(per_dim[k].shape());
  }
  EMBER_CHECK(!p.dims.empty(), RuntimeError, "index: expected at least one index tensor");
  p.bshape = shapes[0];
  for (auto& s : shapes) {
    bool ok = true;
    try {
      p.bshape = broadcast_shapes(p.bshape, s, "index");
    } catch (const Error&) {
      ok = false;
    }
    if (!ok) {
      std::string all;
      for (size_t i = 0; i < shapes.size(); ++i) all += (i ? ", " : "") + list_str(shapes[i]);
      throw IndexError("shape mismatch: indexing tensors could not be broadcast together with shapes " + all);
    }
  }
  for (auto k : p.dims) p.idx.push_back(index_i64(per_dim[k], p.bshape));
  const bool adjacent = p.dims.back() - p.dims.front() + 1 == static_cast<int64_t>(p.dims.size());
  p.rdim.assign(nd, -1);
  int64_t before = 0;
  if (adjacent)
    for (int64_t k = 0; k < p.dims.front(); ++k) p.rshape.push_back(xshape[k]), p.rdim[k] = before++;
  p.first = before;
  p.rshape.insert(p.rshape.end(), p.bshape.begin(), p.bshape.end());
  for (int64_t k = adjacent ? p.dims.front() : 0; k < nd; ++k) {
    if (per_dim[k].defined()) continue;
    p.rdim[k] = static_cast<int64_t>(p.rshape.size());
    p.rshape.push_back(xshape[k]);
  }
  return p;
}

// t (shape xshape) viewed over the result's shape, indexed dims at stride 0.
Tensor restrided(const Tensor& t, const IndexPlan& p) {
  Strides st(p.rshape.size(), 0);
  for (size_t k = 0; k < p.xshape.size(); ++k)
    if (p.rdim[k] >= 0) st[p.rdim[k]] = t.strides()[k];
  return Tensor::make_view(t, p.rshape, st, t.offset());
}

// Element offsets of the indexed positions inside t, viewed over the result's shape.
Tensor offsets_for(const Tensor& t, const IndexPlan& p) {
  std::vector<int64_t> sizes, strides;
  for (auto k : p.dims) sizes.push_back(t.shape()[k]), strides.push_back(t.strides()[k]);
  Tensor off = Tensor::empty(p.bshape, DType::Int64, t.device());
  backend_of(t).index_offsets(p.idx, sizes, strides, p.dims, off, p.allow_negative, p.op);
  Strides st(p.rshape.size(), 0);
  Strides bs = contiguous_strides(p.bshape);
  for (size_t j = 0; j < bs.size(); ++j) st[p.first + j] = bs[j];
  return Tensor::make_view(off, p.rshape, st, off.offset());
}

void check_values_shape(const Tensor& values, const Shape& rshape) {
  bool ok = static_cast<size_t>(values.dim()) <= rshape.size();
  for (int64_t d = 0; ok && d < values.dim(); ++d) {
    int64_t v = values.shape()[d], r = rshape[rshape.size() - values.dim() + d];
    ok = v == r || v == 1;
  }
  EMBER_CHECK(ok, RuntimeError, "shape mismatch: value tensor of shape ", list_str(values.shape()),
              " cannot be broadcast to indexing result of shape ", list_str(rshape));
}

// dst[plan] (+)= values, in place, no autograd. values has dst's dtype.
void scatter_raw(const Tensor& dst, const IndexPlan& p, const Tensor& values, bool acc) {
  Tensor off = offsets_for(dst, p);  // validates even when nothing is written
  backend_of(dst).index_scatter(restrided(dst, p), off, expand_raw(values, p.rshape), acc);
}

Tensor index_plan(const Tensor& x, const IndexPlan& p);
Tensor index_put_plan(const Tensor& x, const IndexPlan& p, const Tensor& values, bool acc);

struct IndexBackward : Node {
  IndexPlan plan;
  std::string name() const override { return "IndexBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d x[idx] = zeros(x) with g accumulated at idx
    return {index_put_plan(zeros(plan.xshape, g[0].dtype(), g[0].device()), plan, g[0], true)};
  }
};
struct IndexPutBackward : Node {
  IndexPlan plan;
  bool accumulate = false;
  std::string name() const override { return "IndexPutBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d index_put(x, idx, v) = (accumulate ? g : g with zeros at idx, g[idx])
    Tensor gx, gv;
    if (needs_input_grad(0))
      gx = accumulate ? g[0]
                      : index_put_plan(g[0], plan, scalar_tensor(Scalar(int64_t(0)), g[0].dtype(), g[0].device()), false);
    if (needs_input_grad(1)) gv = index_plan(g[0], plan);
    return {gx, gv};
  }
};

Tensor index_plan(const Tensor& x, const IndexPlan& p) {
  Tensor out = Tensor::empty(p.rshape, x.dtype(), x.device());
  Tensor off = offsets_for(x, p);
  backend_of(x).index_gather(restrided(x, p), off, out);
  if (auto node = make_node<IndexBackward>({x})) {
    node->plan = p;
    set_history(out, node);
  }
  return out;
}

Tensor index_put_plan(const Tensor& x, const IndexPlan& p, const Tensor& values, bool acc) {
  check_values_shape(values, p.rshape);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_into(out, x);
  scatter_raw(out, p, values, acc);
  if (auto node = make_node<IndexPutBackward>({x, values})) {
    node->plan = p;
    node->accumulate = acc;
    set_history(out, node);
  }
  return out;
}

void check_put_dtypes(const Tensor& x, const Tensor& values, const char* op) {
  EMBER_CHECK(x.dtype() == values.dtype(), RuntimeError, op, ": index put requires the source and destination "
              "dtypes match, got ", dtype_name(x.dtype()), " for the destination and ", dtype_name(values.dtype()),
              " for the source.");
}

// An in-place write: recorded out of place then committed when autograd needs it, else raw.
template <class OutOfPlace, class Raw>
Tensor& write_inplace(Tensor& x, const Tensor& src, const char* op, OutOfPlace oop, Raw raw) {
  check_inplace(x, op);
  if (GradMode::is_enabled() && (x.requires_grad() || (src.defined() && src.requires_grad()))) {
    commit_inplace(x, oop());
    return x;
  }
  // A source sharing x's memory could be overwritten while it is read: copy it first.
  Tensor s = src.defined() && src.storage() == x.storage() ? clone(src.detach()) : src;
  raw(s);
  x.bump_version();
  return x;
}
}  // namespace

Tensor index(const Tensor& x, const std::vector<Tensor>& indices) {
  return index_plan(x, plan_index(x.shape(), indices, true, ""));
}

Tensor index_put(const Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  check_put_dtypes(x, values, "index_put");
  return index_put_plan(x, plan_index(x.shape(), indices, true, ""), values, accumulate);
}

Tensor& index_put_(Tensor& x, const std::vector<Tensor>& indices, const Tensor& values, bool accumulate) {
  check_put_dtypes(x, values, "index_put_");
  IndexPlan p = plan_index(x.shape(), indices, true, "");
  check_values_shape(values, p.rshape);
  return write_inplace(x, values, "index_put_", [&] { return index_put_plan(x, p, values, accumulate); },
                       [&](const Tensor& v) { scatter_raw(x, p, v, accumulate); });
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  EMBER_CHECK(is_index_dtype(index.dtype()), RuntimeError, "index_select(): Expected dtype int32 or int64 for index");
  EMBER_CHECK(index.dim() <= 1, IndexError, "index_select(): Index is supposed to be a vector");
  if (x.dim() == 0) return reshape(index_select(reshape(x, {1}), 0, index), index.dim() ? Shape{index.numel()} : Shape{});
  dim = wrap_dim(dim, x.dim(), "index_select");
  std::vector<Tensor> idx(dim + 1);
  idx[dim] = index.dim() ? index : Tensor::make_view(index, {1}, {1}, index.offset());
  return index_plan(x, plan_index(x.shape(), idx, false, "index_select(): "));
}

// --- index_add --------------------------------------------------------------------------------------
namespace {
// torch's checks, in torch's order; returns the wrapped dim. A 0-d self takes a 0-d source.
int64_t check_index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, const char* op) {
  dim = wrap_dim(dim, x.dim(), op);
  EMBER_CHECK(index.dim() <= 1, IndexError, op, "(): Index is supposed to be a vector, but got dim: ", index.dim(),
              " with size: ", list_str(index.shape()));
  EMBER_CHECK(is_index_dtype(index.dtype()), RuntimeError, op, "(): Expected dtype int32/int64 for index but got: ",
              dtype_name(index.dtype()));
  EMBER_CHECK(source.dtype() == x.dtype(), RuntimeError, op, "(): self (", dtype_name(x.dtype()), ") and source (",
              dtype_name(source.dtype()), ") must have the same scalar type");
  const int64_t slices = source.dim() == 0 ? 1 : source.dim() > dim ? source.size(dim) : -1;
  EMBER_CHECK(slices < 0 || index.numel() == slices, RuntimeError, op, "(): Number of indices (", index.numel(),
              ") should be equal to source.size(dim): (", slices, "), for dim: ", dim);
  bool same = source.dim() == x.dim();
  for (int64_t d = 0; same && d < x.dim(); ++d) same = d == dim || source.size(d) == x.size(d);
  EMBER_CHECK(same, RuntimeError, op, "(): source tensor shape must match self tensor shape, excluding the "
              "specified dimension. Got self.shape = ", list_str(x.shape()), " source.shape = ", list_str(source.shape()));
  return dim;
}

// The plan of x.index_select(dim, index): index_add writes source (that shape) back through it.
IndexPlan index_add_plan(const Tensor& x, int64_t dim, const Tensor& index, const char* op) {
  std::vector<Tensor> idx(dim + 1);
  idx[dim] = index.dim() ? index : Tensor::make_view(index, {1}, {1}, index.offset());
  return plan_index(x.shape(), idx, false, op);
}

// alpha * source, alpha taken in self's dtype (torch: 2.5 adds 2x to an integer tensor).
Tensor scaled_source(const Tensor& source, Scalar alpha) {
  if (alpha.to_double() == 1.0) return source;
  Scalar a = is_floating(source.dtype()) ? alpha : Scalar(static_cast<int64_t>(alpha.to_double()));
  return mul(source, wrap_scalar(a));
}
}  // namespace

Tensor index_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, Scalar alpha) {
  dim = check_index_add(x, dim, index, source, "index_add");
  if (x.dim() == 0)
    return reshape(index_add(reshape(x, {1}), 0, index, reshape(source, {1}), alpha), {});
  return index_put_plan(x, index_add_plan(x, dim, index, "index_add(): "), scaled_source(source, alpha), true);
}

Tensor& index_add_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& source, Scalar alpha) {
  dim = check_index_add(x, dim, index, source, "index_add_");
  if (x.dim() == 0) {
    Tensor flat = reshape(x, {1});
    index_add_(flat, 0, index, reshape(source, {1}), alpha);
    return x;
  }
  IndexPlan p = index_add_plan(x, dim, index, "index_add_(): ");
  return write_inplace(x, source, "index_add_", [&] { return index_add(x, dim, index, source, alpha); },
                       [&](const Tensor& s) {
                         NoGradGuard ng;
                         scatter_raw(x, p, scaled_source(s, alpha), true);
                       });
}

// --- gather / scatter ----------------------------------------------------------------------------
namespace {
// Element offsets index * t.stride(dim) (shape of index, validated against t.size(dim)).
Tensor dim_offsets(const Tensor& t, int64_t dim, const Tensor& index, const char* op) {
  Tensor idx = index_i64(index, index.shape());
  if (t.strides()[dim] == 1 && t.device().is_cpu()) {
    // unit stride (gather / scatter along a contiguous last dim): the offsets are the indices
    // themselves, once checked (a read-only pass instead of writing an offsets tensor)
    // (v | (size - 1 - v) is negative exactly when v < 0 or v >= size: one OR-reduction that
    // vectorises even at the baseline ISA; the compare-and-or form ran scalar, ~0.6 ns an index)
    const int64_t size = t.shape()[dim], n = idx.numel();
    const int64_t* v = idx.data<int64_t>();
    int64_t bits = 0;
#pragma omp simd reduction(| : bits)
    for (int64_t i = 0; i < n; ++i) bits |= v[i] | (size - 1 - v[i]);
    if (bits >= 0) return idx;
  }
  Tensor off = Tensor::empty(index.shape(), DType::Int64, t.device());
  backend_of(t).index_offsets({idx}, {t.shape()[dim]}, {t.strides()[dim]}, {dim}, off, false, op);
  return off;
}
Tensor dim_restrided(const Tensor& t, int64_t dim, const Shape& shape) {
  Strides st = t.strides();
  st[dim] = 0;
  return Tensor::make_view(t, shape, st, t.offset());
}
void check_index_arg(const Tensor& x, const Tensor& index, const char* op) {
  EMBER_CHECK(is_index_dtype(index.dtype()), RuntimeError, op, "(): Expected dtype int64 for index, got ",
              index.dtype());
  EMBER_CHECK(index.dim() == x.dim(), RuntimeError, op,
              "(): Index tensor must have the same number of dimensions as input tensor (", index.dim(), " vs ",
              x.dim(), ")");
}
void check_fits(const Tensor& index, const Tensor& t, int64_t skip, const char* op, const char* what) {
  for (int64_t d = 0; d < t.dim(); ++d)
    EMBER_CHECK(d == skip || index.shape()[d] <= t.shape()[d], RuntimeError, op, "(): Size does not match at dimension ",
                d, " expected index ", list_str(index.shape()), " to be smaller than ", what, " ",
                list_str(t.shape()), skip >= 0 ? " apart from dimension " + std::to_string(skip) : std::string());
}
// g restricted to index's shape, padded with zeros to src's shape (src may be larger than index)
Tensor pad_to(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  std::vector<int64_t> pad;
  for (int64_t d = t.dim() - 1; d >= 0; --d) pad.insert(pad.end(), {0, shape[d] - t.shape()[d]});
  return constant_pad(t, pad, Scalar(int64_t(0)));
}

Tensor scatter_impl(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, bool is_value, bool acc);

struct GatherBackward : Node {
  int64_t dim = 0;
  Tensor index;
  Shape in_shape;
  std::string name() const override { return "GatherBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d gather(x, dim, idx) = scatter_add(zeros(x), dim, idx, g)
    return {scatter_impl(zeros(in_shape, g[0].dtype(), g[0].device()), dim, index, g[0], false, true)};
  }
};
struct ScatterBackward : Node {
  int64_t dim = 0;
  Tensor index;
  Shape src_shape;
  bool accumulate = false;
  std::string name() const override { return accumulate ? "ScatterAddBackward0" : "ScatterBackward0"; }
  TensorList apply(TensorList&& g) override {
    // d scatter = (g with zeros where written, gather(g, dim, idx)); d scatter_add = (g, gather(g, dim, idx))
    Tensor gx, gs;
    if (needs_input_grad(0))
      gx = accumulate ? g[0]
                      : scatter_impl(g[0], dim, index, scalar_tensor(Scalar(int64_t(0)), g[0].dtype()), true, false);
    if (needs_input_grad(1)) gs = pad_to(gather(g[0], dim, index), src_shape);
    return {gx, gs};
  }
};

Tensor gather_impl(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  Tensor off = dim_offsets(x, dim, index, "gather(): ");
  backend_of(x).index_gather(dim_restrided(x, dim, index.shape()), off, out);
  if (auto node = make_node<GatherBackward>({x})) {
    node->dim = dim;
    node->index = index;
    node->in_shape = x.shape();
    set_history(out, node);
  }
  return out;
}

// Raw write of src (or the 0-d value) into dst at (dim, index).
void scatter_raw(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src, bool is_value, bool acc) {
  Tensor off = dim_offsets(dst, dim, index, acc ? "scatter_add(): " : "scatter(): ");
  Tensor values = is_value ? expand_raw(cast_raw(src, dst.dtype()), index.shape())
                           : Tensor::make_view(src, index.shape(), src.strides(), src.offset());
  backend_of(dst).index_scatter(dim_restrided(dst, dim, index.shape()), off, values, acc);
}

Tensor scatter_impl(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src, bool is_value, bool acc) {
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  copy_into(out, x);
  scatter_raw(out, dim, index, src, is_value, acc);
  if (auto node = make_node<ScatterBackward>(is_value ? TensorList{x} : TensorList{x, src})) {
    node->dim = dim;
    node->index = index;
    node->src_shape = src.shape();
    node->accumulate = acc;
    set_history(out, node);
  }
  return out;
}

// Validates and wraps dim; 0-d tensors behave as 1-element 1-D ones (torch's rule).
int64_t check_scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor* src, const char* op) {
  check_index_arg(x, index, op);
  dim = wrap_dim(dim, x.dim(), op);
  if (x.dim() == 0) return dim;
  check_fits(index, x, dim, op, "self");
  if (src) {
    EMBER_CHECK(src->dtype() == x.dtype(), RuntimeError, op, "(): Expected self.dtype to be equal to src.dtype");
    EMBER_CHECK(src->dim() == x.dim(), RuntimeError, op,
                "(): Index tensor must have the same number of dimensions as src tensor");
    check_fits(index, *src, -1, op, "src");
  }
  return dim;
}
Tensor as_1d(const Tensor& t) { return t.dim() ? t : reshape(t, {1}); }
}  // namespace

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index_arg(x, index, "gather");
  dim = wrap_dim(dim, x.dim(), "gather");
  if (x.dim() == 0) return reshape(gather_impl(as_1d(x), 0, as_1d(index)), {});
  check_fits(index, x, dim, "gather", "self");
  return gather_impl(x, dim, index);
}

Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  dim = check_scatter(x, dim, index, &src, "scatter");
  if (x.dim() == 0) return reshape(scatter_impl(as_1d(x), 0, as_1d(index), as_1d(src), false, false), {});
  return scatter_impl(x, dim, index, src, false, false);
}
Tensor scatter(const Tensor& x, int64_t dim, const Tensor& index, Scalar value) {
  dim = check_scatter(x, dim, index, nullptr, "scatter");
  Tensor v = scalar_tensor(value, x.dtype(), x.device());
  if (x.dim() == 0) return reshape(scatter_impl(as_1d(x), 0, as_1d(index), v, true, false), {});
  return scatter_impl(x, dim, index, v, true, false);
}
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  dim = check_scatter(x, dim, index, &src, "scatter_add");
  if (x.dim() == 0) return reshape(scatter_impl(as_1d(x), 0, as_1d(index), as_1d(src), false, true), {});
  return scatter_impl(x, dim, index, src, false, true);
}

Tensor& scatter_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  dim = check_scatter(x, dim, index, &src, "scatter_");
  return write_inplace(x, src, "scatter_", [&] { return scatter(x, dim, index, src); },
                       [&](const Tensor& s) { scatter_raw(as_1d(x), dim, as_1d(index), as_1d(s), false, false); });
}
Tensor& scatter_(Tensor& x, int64_t dim, const Tensor& index, Scalar value) {
  dim = check_scatter(x, dim, index, nullptr, "scatter_");
  Tensor v = scalar_tensor(value, x.dtype(), x.device());
  return write_inplace(x, Tensor(), "scatter_", [&] { return scatter(x, dim, index, value); },
                       [&](const Tensor&) { scatter_raw(as_1d(x), dim, as_1d(index), v, true, false); });
}
Tensor& scatter_add_(Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  dim = check_scatter(x, dim, index, &src, "scatter_add_");
  return write_inplace(x, src, "scatter_add_", [&] { return scatter_add(x, dim, index, src); },
                       [&](const Tensor& s) { scatter_raw(as_1d(x), dim, as_1d(index), as_1d(s), false, true); });
}

Tensor take_along_dim(const Tensor& x, const Tensor& indices, std::optional<int64_t> dim) {
  if (!dim) return gather(flatten(x), 0, flatten(indices));
  EMBER_CHECK(x.dim() == indices.dim(), RuntimeError, "take_along_dim(): input and indices should have the same "
              "number of dimensions, but got ", x.dim(), " dimensions for input, and ", indices.dim(),
              " dimensions for indices");
  EMBER_CHECK(is_index_dtype(indices.dtype()), RuntimeError, "take_along_dim(): dtype of indices should be int64 but got ",
              indices.dtype());
  int64_t d = wrap_dim(*dim, x.dim(), "take_along_dim");
  if (x.dim() == 0) return gather(x, 0, indices);
  Shape xs = x.shape(), is = indices.shape();
  xs[d] = is[d] = 1;
  Shape b = broadcast_shapes(xs, is, "take_along_dim");
  Shape bx = b, bi = b;
  bx[d] = x.shape()[d];
  bi[d] = indices.shape()[d];
  return gather(expand(x, bx), d, expand_raw(indices, bi));
}

// --- masks ---------------------------------------------------------------------------------------
namespace {
void check_mask(const Tensor& mask, const char* op) {
  EMBER_CHECK(mask.dtype() == DType::Bool, RuntimeError, op, " only supports boolean masks, but got mask with dtype ",
              mask.dtype());
}
}  // namespace

Tensor masked_fill(const Tensor& x, const Tensor& mask, const Tensor& value) {
  check_mask(mask, "masked_fill_");
  EMBER_CHECK(value.dim() == 0, RuntimeError, "masked_fill_ only supports a 0-dimensional value tensor, but got "
              "tensor with ", value.dim(), " dimension(s).");
  return where(mask, to_dtype(value, x.dtype()), x);  // d = (g where !mask, sum of g where mask)
}

Tensor& masked_fill_(Tensor& x, const Tensor& mask, const Tensor& value) {
  check_mask(mask, "masked_fill_");
  EMBER_CHECK(broadcast_shapes(x.shape(), mask.shape(), "masked_fill_") == x.shape(), RuntimeError,
              "masked_fill_: mask of shape ", list_str(mask.shape()), " cannot be broadcast to self of shape ",
              list_str(x.shape()));
  return write_inplace(x, value, "masked_fill_", [&] { return masked_fill(x, mask, value); },
                       [&](const Tensor& v) {
                         EMBER_CHECK(v.dim() == 0, RuntimeError, "masked_fill_ only supports a 0-dimensional value "
                                     "tensor, but got tensor with ", v.dim(), " dimension(s).");
                         backend_of(x).where(mask, cast_raw(v, x.dtype()), x, x);
                       });
}

Tensor masked_select(const Tensor& x, const Tensor& mask) {
  EMBER_CHECK(mask.dtype() == DType::Bool, RuntimeError, "masked_select: expected BoolTensor for mask, got ",
              mask.dtype());
  Shape shape = broadcast_shapes(x.shape(), mask.shape(), "masked_select");
  if (shape.empty()) return index(reshape(x, {1}), {reshape(mask, {1})});
  return index(expand(x, shape), {expand_raw(mask, shape)});
}

Tensor nonzero(const Tensor& x) {
  Tensor b = contiguous_raw(cast_raw(x, DType::Bool));
  Backend& be = backend_of(b);
  Tensor out = Tensor::empty({be.count_nonzero(b), x.dim()}, DType::Int64, x.device());
  if (out.numel() || x.dim() == 0) be.nonzero(b, out);
  return out;
}

}  // namespace ember::ops

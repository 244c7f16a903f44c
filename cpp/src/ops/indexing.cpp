// Python index expressions x[...] (torch's applySlicing): ints select, slices slice, None and
// Python bools insert a dim, Ellipsis skips dims; the result of those is a view of x. Index
// tensors (int or bool masks) are recorded against the view's dims and applied afterwards by
// advanced indexing (a copy). __setitem__ walks the same way and writes through copy_ (views) or
// index_put_ (advanced), both autograd-aware.
#include "common.h"

namespace ember::ops {

namespace {
using K = TensorIndex::Kind;

bool is_mask(const Tensor& t) { return t.dtype() == DType::Bool || t.dtype() == DType::UInt8; }

// Number of dims of x an entry consumes.
int64_t consumed(const TensorIndex& e) {
  switch (e.kind) {
    case K::Int: case K::Slice: return 1;
    case K::Tensor:
      return is_mask(e.tensor) ? e.tensor.dim() : 1;
    default: return 0;
  }
}

struct Walk {
  Tensor view;                   // x after basic indexing
  std::vector<Tensor> indices;   // for ops::index: undefined = one ':' dim, a mask covers its dims
  int64_t covered = 0;           // dims of view that `indices` covers
  bool advanced = false;
};

void record(Walk& w, int64_t dim, const Tensor& t) {  // dims only grow during the walk
  for (; w.covered < dim; ++w.covered) w.indices.emplace_back();
  w.indices.push_back(t);
  w.covered += is_mask(t) ? t.dim() : 1;
  w.advanced = true;
}

Tensor bool_index(bool v, Device dev) {  // x[True] -> index [0] on a new dim; x[False] -> empty
  Tensor t = Tensor::empty({v ? 1 : 0}, DType::Int64, dev);
  if (v) *t.data<int64_t>() = 0;
  return t;
}

Walk walk(const Tensor& x, const std::vector<TensorIndex>& index) {
  int64_t used = 0, ellipses = 0;
  for (const auto& e : index) {
    used += consumed(e);
    ellipses += e.kind == K::Ellipsis;
  }
  EMBER_CHECK(ellipses <= 1, IndexError, "an index can only have a single ellipsis ('...')");
  EMBER_CHECK(used <= x.dim(), IndexError, "too many indices for tensor of dimension ", x.dim());
  Walk w;
  w.view = x;
  int64_t dim = 0, xdim = 0;  // dim of the view, dim of x (for messages)
  for (const auto& e : index) {
    const int64_t here = xdim;
    xdim += e.kind == K::Ellipsis ? x.dim() - used : consumed(e);
    switch (e.kind) {
      case K::Int: {
        const int64_t n = w.view.shape()[dim];
        EMBER_CHECK(e.value >= -n && e.value < n, IndexError, "index ", e.value, " is out of bounds for dimension ",
                    here, " with size ", n);
        w.view = select(w.view, dim, e.value);
        break;
      }
      case K::Slice: {
        const int64_t n = w.view.shape()[dim], step = e.step.value_or(1);
        EMBER_CHECK(step > 0, ValueError, "step must be greater than zero");
        const int64_t start = e.start.value_or(0), stop = e.stop.value_or(n);
        // a full slice changes nothing (torch skips it too)
        if (!((start == 0 || start <= -n) && stop >= n && step == 1))
          w.view = slice(w.view, dim, start, stop, step);
        dim++;
        break;
      }
      case K::None:
        w.view = unsqueeze(w.view, dim++);
        break;
      case K::Bool:
        w.view = unsqueeze(w.view, dim);
        record(w, dim++, bool_index(e.value != 0, x.device()));
        break;
      case K::Ellipsis:
        dim += x.dim() - used;
        break;
      case K::Tensor: {
        const Tensor& t = e.tensor;
        if (t.dim() == 0 && (is_mask(t) || is_integral(t.dtype()))) {  // 0-d: like a Python bool / int
          if (is_mask(t)) {
            bool v = *cast_raw(t, DType::Bool).data<bool>();
            w.view = unsqueeze(w.view, dim);
            record(w, dim++, bool_index(v, x.device()));
          } else {
            const int64_t n = w.view.shape()[dim];
            const int64_t v = *cast_raw(t, DType::Int64).data<int64_t>();
            EMBER_CHECK(v >= -n && v < n, IndexError, "index ", v, " is out of bounds for dimension ", here,
                        " with size ", n);
            w.view = select(w.view, dim, v);
          }
          break;
        }
        record(w, dim, t);
        dim += is_mask(t) ? t.dim() : 1;
        break;
      }
    }
  }
  return w;
}
}  // namespace

Tensor getitem(const Tensor& x, const std::vector<TensorIndex>& index) {
  Walk w = walk(x, index);
  if (w.advanced) return ops::index(w.view, w.indices);
  return w.view.same(x) ? alias(x) : w.view;
}

void setitem(Tensor& x, const std::vector<TensorIndex>& index, const Tensor& value) {
  Walk w = walk(x, index);
  // Leading size-1 dims of value beyond the target's rank are dropped (torch's slicePrefix1sDims).
  Tensor v = value;
  int64_t lead = 0;
  while (lead < v.dim() && v.shape()[lead] == 1) ++lead;
  if (lead) v = reshape(v, Shape(v.shape().begin() + lead, v.shape().end()));
  if (v.dtype() != x.dtype()) v = to_dtype(v, x.dtype());
  if (!w.advanced) {
    if (w.view.same(x)) w.view = alias(x);  // x[:] = v writes through a view, like torch
    const Shape& target = w.view.shape();
    bool ok = v.dim() <= w.view.dim();
    for (int64_t d = 0; ok && d < v.dim(); ++d) {
      int64_t a = v.shape()[d], b = target[target.size() - v.dim() + d];
      ok = a == b || a == 1;
    }
    EMBER_CHECK(ok, RuntimeError, "shape mismatch: value tensor of shape ", shape_str(value.shape()),
                " cannot be broadcast to indexing result of shape ", shape_str(target));
    copy_(w.view, v);
    return;
  }
  index_put_(w.view, w.indices, v, false);
}

}  // namespace ember::ops

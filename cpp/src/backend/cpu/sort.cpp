// CPU sort and top-k along the last dim of a contiguous tensor: one row per task, its (value,
// position) pairs sorted with a comparator that orders NaN above every number (torch's rule: last
// ascending, first descending). Full sorts are stable (equal values keep their order); top-k
// breaks ties by position, so its results are deterministic too.
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace ember::cpu {
namespace {

// Rows are sorted as (value, position) pairs: no indirection in the comparisons.
template <class T>
using Item = std::pair<T, int64_t>;

template <class T>
struct Less {  // ascending: a before b
  bool operator()(const Item<T>& p, const Item<T>& q) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::isnan(p.first) ? false : (std::isnan(q.first) || p.first < q.first);
    } else {
      return p.first < q.first;
    }
  }
};
template <class T>
struct Greater {  // descending
  bool operator()(const Item<T>& p, const Item<T>& q) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::isnan(p.first) ? !std::isnan(q.first) : (!std::isnan(q.first) && p.first > q.first);
    } else {
      return p.first > q.first;
    }
  }
};
template <class C>
struct ThenIndex {  // strict weak order with ties broken by position
  C c;
  template <class P>
  bool operator()(const P& p, const P& q) const { return c(p, q) || (!c(q, p) && p.second < q.second); }
};

template <class T, class C>
void sort_row(const T* x, int64_t n, int64_t k, bool full, const C& cmp, std::vector<Item<T>>& buf, T* v,
              int64_t* ix) {
  if (!full && k <= 32) {
    // Small k: one pass over x keeping the best k in order; most values lose one comparison
    // against the current k-th and are done (a later equal value never displaces an earlier one:
    // ties by position, as partial_sort with ThenIndex orders them).
    buf.resize(static_cast<size_t>(k));
    const ThenIndex<C> order{cmp};
    int64_t cnt = 0;
    for (int64_t j = 0; j < n; ++j) {
      const Item<T> it{x[j], j};
      if (cnt == k && !cmp(it, buf[k - 1])) continue;
      const int64_t end = cnt < k ? cnt++ : k - 1;  // slots [0, end) stay candidates
      int64_t pos = std::upper_bound(buf.begin(), buf.begin() + end, it, order) - buf.begin();
      for (int64_t q = end; q > pos; --q) buf[q] = buf[q - 1];
      buf[pos] = it;
    }
  } else {
    buf.resize(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) buf[j] = {x[j], j};
    if (full)
      std::stable_sort(buf.begin(), buf.end(), cmp);
    else
      std::partial_sort(buf.begin(), buf.begin() + k, buf.end(), ThenIndex<C>{cmp});
  }
  for (int64_t j = 0; j < k; ++j) {
    v[j] = buf[j].first;
    ix[j] = buf[j].second;
  }
}

}  // namespace

void sort(const Tensor& x, bool descending, int64_t k, const Tensor& values, const Tensor& indices) {
  const int64_t n = x.dim() ? x.size(-1) : 1;
  const int64_t rows = n ? x.numel() / n : 0;
  if (rows == 0 || k == 0) return;
  const bool full = k == n;
  dispatch_all(x.dtype(), "sort", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* vp = values.data<T>();
    int64_t* ip = indices.data<int64_t>();
    const int64_t cost = std::max<int64_t>(1, n * 8);
    parallel_for(0, rows, std::max<int64_t>(1, 32768 / cost), [&](int64_t r0, int64_t r1) {
      std::vector<Item<T>> buf;
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = xp + r * n;
        if (descending)
          sort_row(row, n, k, full, Greater<T>{}, buf, vp + r * k, ip + r * k);
        else
          sort_row(row, n, k, full, Less<T>{}, buf, vp + r * k, ip + r * k);
      }
    });
  });
}

}  // namespace ember::cpu

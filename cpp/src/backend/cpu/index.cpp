// CPU index kernels: offsets of index tensors, gather-style reads and scatter-style writes through
// those offsets, nonzero. Reads parallelise over all elements; writes parallelise only over the
// dims where the destination has a real stride (distinct there means distinct addresses), and run
// the stride-0 (indexed) dims serially, so accumulation needs no atomics and is deterministic.
#include <cstring>
#include <vector>

#include "cpu_backend.h"
#include "loops.h"

namespace ember::cpu {

// indices[k] (n,) int64, out (n,) int64: out[i] = sum_k wrap(indices[k][i]) * strides[k]
void index_offsets(const std::vector<Tensor>& indices, const std::vector<int64_t>& sizes,
                   const std::vector<int64_t>& strides, const std::vector<int64_t>& dims, const Tensor& out,
                   bool allow_negative, const char* op) {
  const int64_t n = out.numel();
  const size_t K = indices.size();
  std::vector<const int64_t*> ptr(K);
  for (size_t k = 0; k < K; ++k) ptr[k] = indices[k].data<int64_t>();
  int64_t* o = out.data<int64_t>();
  parallel_for(0, n, 16384, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) o[i] = 0;
    for (size_t k = 0; k < K; ++k) {
      const int64_t size = sizes[k], stride = strides[k], lo = allow_negative ? -size : 0;
      const int64_t* p = ptr[k];
      for (int64_t i = b; i < e; ++i) {
        int64_t v = p[i];
        if (v < lo || v >= size)
          throw IndexError(str(op, "index ", v, " is out of bounds for dimension ", dims[k], " with size ", size));
        o[i] += (v < 0 ? v + size : v) * stride;
      }
    }
  });
}

// src, offsets restrided to out's shape -> out
void index_gather(const Tensor& src, const Tensor& offsets, const Tensor& out) {
  StridedIter it(out, {&src, &offsets});
  dispatch_all(out.dtype(), "index", [&](auto tag) {
    using T = decltype(tag);
    it.for_each([](char** p, const int64_t* s, int64_t n) {
      if (s[2] == 0 && s[0] == sizeof(T) && s[1] == sizeof(T)) {  // one offset for a contiguous run: a row
        const int64_t off = *reinterpret_cast<const int64_t*>(p[2]);
        std::memcpy(p[0], reinterpret_cast<const T*>(p[1]) + off, static_cast<size_t>(n) * sizeof(T));
        return;
      }
      if (s[0] == sizeof(T) && s[1] == 0 && s[2] == sizeof(int64_t)) {  // a gather along the run
        T* o = reinterpret_cast<T*>(p[0]);
        const T* src = reinterpret_cast<const T*>(p[1]);
        const int64_t* off = reinterpret_cast<const int64_t*>(p[2]);
        for (int64_t i = 0; i < n; ++i) o[i] = src[off[i]];  // (vgather measured no faster)
        return;
      }
      for (int64_t i = 0; i < n; ++i) {
        const int64_t off = *reinterpret_cast<const int64_t*>(p[2] + i * s[2]);
        *reinterpret_cast<T*>(p[0] + i * s[0]) = reinterpret_cast<const T*>(p[1] + i * s[1])[off];
      }
    }, 8192);
  });
}

// dst, offsets, values: one shape; dst[i + off[i]] (+)= values[i]
void index_scatter(const Tensor& dst, const Tensor& offsets, const Tensor& values, bool accumulate) {
  const int64_t nd = dst.dim();
  if (dst.numel() == 0) return;
  EMBER_CHECK(nd <= kMaxDims, RuntimeError, "index_put: too many dims");
  // outer dims: dst has a real stride; inner dims: stride 0 (several i may write one address)
  int64_t osz[kMaxDims], isz[kMaxDims], ost[3][kMaxDims], ist[3][kMaxDims];
  int no = 0, ni = 0;
  const Tensor* ops[3] = {&dst, &offsets, &values};
  for (int64_t d = 0; d < nd; ++d) {
    if (dst.shape()[d] == 1) continue;
    bool outer = dst.strides()[d] != 0;
    int64_t* sz = outer ? osz : isz;
    int& c = outer ? no : ni;
    sz[c] = dst.shape()[d];
    for (int k = 0; k < 3; ++k) (outer ? ost : ist)[k][c] = ops[k]->strides()[d] * int64_t(ops[k]->itemsize());
    c++;
  }
  int64_t outer_n = 1, inner_n = 1;
  for (int d = 0; d < no; ++d) outer_n *= osz[d];
  for (int d = 0; d < ni; ++d) inner_n *= isz[d];
  char* base[3] = {static_cast<char*>(dst.raw_data()), static_cast<char*>(offsets.raw_data()),
                   static_cast<char*>(values.raw_data())};
  // Odometer over the inner (indexed, dst stride 0) dims: step the three pointers to the next i.
  auto next_inner = [&](char** p, int64_t* idx) {
    for (int d = ni - 1; d >= 0; --d) {
      for (int k = 0; k < 3; ++k) p[k] += ist[k][d];
      if (++idx[d] < isz[d]) break;
      for (int k = 0; k < 3; ++k) p[k] -= ist[k][d] * isz[d];
      idx[d] = 0;
    }
  };
  dispatch_all(dst.dtype(), "index_put", [&](auto tag) {
    using T = decltype(tag);
    auto write = [accumulate](char* d, int64_t off, const char* v) {
      T* t = reinterpret_cast<T*>(d) + off;
      const T val = *reinterpret_cast<const T*>(v);
      if (!accumulate) *t = val;
      else if constexpr (std::is_same_v<T, bool>) *t = *t || val;
      else *t = static_cast<T>(*t + val);
    };
    // Rows (embedding backward, index_add along dim 0): one outer dim, contiguous in dst and values,
    // the offset constant along it. Each index then adds a contiguous row slice: the loops swap,
    // threads still own disjoint column ranges of dst.
    // Values may also be broadcast along the row (stride 0: the gradient of a sum).
    const int64_t vs = ost[2][0];
    if (no == 1 && ost[0][0] == int64_t(sizeof(T)) && ost[1][0] == 0 && (vs == int64_t(sizeof(T)) || vs == 0)) {
      parallel_for(0, outer_n, std::max<int64_t>(16, 16384 / inner_n), [&](int64_t b, int64_t e) {
        char* p[3] = {base[0], base[1], base[2] + b * vs};
        int64_t idx[kMaxDims] = {0};
        const int64_t w = e - b;
        for (int64_t i = 0; i < inner_n; ++i) {
          T* d = reinterpret_cast<T*>(p[0]) + *reinterpret_cast<const int64_t*>(p[1]) + b;
          const T* v = reinterpret_cast<const T*>(p[2]);
          if (vs == 0) {
            const T v0 = *v;
            if (!accumulate) {
              for (int64_t f = 0; f < w; ++f) d[f] = v0;
            } else if constexpr (std::is_same_v<T, bool>) {
              for (int64_t f = 0; f < w; ++f) d[f] = d[f] || v0;
            } else {
              for (int64_t f = 0; f < w; ++f) d[f] = static_cast<T>(d[f] + v0);
            }
          } else if (!accumulate) {
            std::memcpy(d, v, static_cast<size_t>(w) * sizeof(T));
          } else if constexpr (std::is_same_v<T, bool>) {
            for (int64_t f = 0; f < w; ++f) d[f] = d[f] || v[f];
          } else {
            for (int64_t f = 0; f < w; ++f) d[f] = static_cast<T>(d[f] + v[f]);
          }
          next_inner(p, idx);
        }
      });
      return;
    }
    parallel_for(0, outer_n, std::max<int64_t>(1, 16384 / inner_n), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        char* p[3] = {base[0], base[1], base[2]};
        int64_t rem = o;
        for (int d = no - 1; d >= 0; --d) {
          int64_t c = rem % osz[d];
          rem /= osz[d];
          for (int k = 0; k < 3; ++k) p[k] += c * ost[k][d];
        }
        if (ni == 1) {  // one indexed dim (scatter along a dim): a strided loop, no odometer
          const int64_t s1 = ist[1][0], s2 = ist[2][0];
          for (int64_t i = 0; i < inner_n; ++i)
            write(p[0], *reinterpret_cast<const int64_t*>(p[1] + i * s1), p[2] + i * s2);
          continue;
        }
        int64_t idx[kMaxDims] = {0};
        for (int64_t i = 0; i < inner_n; ++i) {
          write(p[0], *reinterpret_cast<const int64_t*>(p[1]), p[2]);
          next_inner(p, idx);
        }
      }
    });
  });
}

namespace {
constexpr int64_t kBlock = 65536;
}

int64_t count_nonzero(const Tensor& x) {
  const bool* p = x.data<bool>();
  const int64_t n = x.numel(), nb = (n + kBlock - 1) / kBlock;
  std::vector<int64_t> counts(nb, 0);
  parallel_for(0, nb, 1, [&](int64_t b, int64_t e) {
    for (int64_t blk = b; blk < e; ++blk) {
      int64_t c = 0, hi = std::min(n, (blk + 1) * kBlock);
      for (int64_t i = blk * kBlock; i < hi; ++i) c += p[i];
      counts[blk] = c;
    }
  });
  int64_t total = 0;
  for (auto c : counts) total += c;
  return total;
}

// x contiguous bool -> out (count, nd) int64
void nonzero(const Tensor& x, const Tensor& out) {
  const bool* p = x.data<bool>();
  const int64_t n = x.numel(), nb = (n + kBlock - 1) / kBlock, nd = x.dim();
  std::vector<int64_t> start(nb + 1, 0);
  for (int64_t blk = 0; blk < nb; ++blk) {
    int64_t c = 0, hi = std::min(n, (blk + 1) * kBlock);
    for (int64_t i = blk * kBlock; i < hi; ++i) c += p[i];
    start[blk + 1] = start[blk] + c;
  }
  int64_t* o = out.data<int64_t>();
  const Shape& shape = x.shape();
  if (nd == 0) {  // a 0-d true: one row of no coordinates
    return;
  }
  const uint8_t* pb = reinterpret_cast<const uint8_t*>(p);
  parallel_for(0, nb, 1, [&](int64_t b, int64_t e) {
    std::vector<int64_t> c(static_cast<size_t>(nd));
    for (int64_t blk = b; blk < e; ++blk) {
      int64_t row = start[blk];
      const int64_t end_row = start[blk + 1], lo = blk * kBlock, hi = std::min(n, lo + kBlock);
      if (row == end_row) continue;
      int64_t rem = lo;  // the block's first coordinates; then an odometer along the last dim
      for (int64_t d = nd - 1; d >= 0; --d) c[d] = rem % shape[d], rem /= shape[d];
      const int64_t last = shape[nd - 1];
      for (int64_t i = lo; i < hi && row < end_row;) {
        const int64_t seg = std::min(hi, i + (last - c[nd - 1]));  // to the end of this last-dim row
        // Branch-free compaction: every position writes its coordinates at `row`, which only a
        // true element advances (the next element overwrites a false one's); rows past the
        // block's share are not written.
        const int64_t c0 = c[nd - 1] - i;
        for (int64_t j = i; j < seg; ++j) {
          if (row < end_row) {
            int64_t* dst = o + row * nd;
            for (int64_t d = 0; d + 1 < nd; ++d) dst[d] = c[d];
            dst[nd - 1] = c0 + j;
          }
          row += pb[j] != 0;
        }
        c[nd - 1] += seg - i;
        for (int64_t d = nd - 1; d > 0 && c[d] == shape[d]; --d) c[d] = 0, ++c[d - 1];
        i = seg;
      }
    }
  });
}

}  // namespace ember::cpu

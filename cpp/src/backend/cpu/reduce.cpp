// CPU reductions. The input is arranged as (O, R, I): O kept outer elements, R reduced, I kept
// inner elements (a view when the reduced dims are one block of a contiguous tensor, else a
// permuted contiguous copy with I = 1). Rows (I = 1) reduce contiguous memory with 64
// accumulators; columns (I > 1) accumulate whole rows, vectorised along I; both loops are compiled
// per ISA (reduce_kernels.inc). Float sums accumulate in double (rows: after 16 float steps). Long single rows are split into
// fixed 64K chunks (results do not depend on the thread count).
#include <algorithm>
#include <cmath>
#include <limits>

#include "../functors.h"
#include "cpu_backend.h"
#include "loops.h"

namespace ember::cpu {
namespace {

template <class T> struct SumOp {
  static constexpr bool kIsSum = true;
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  template <class U> static U pre(U x) { return x; }  // applied to each value on the way in
  static Acc init() { return Acc(0); }
  static Acc combine(Acc a, Acc b) { return a + b; }
};
// Sum of squares (norm's p = 2): each value squared in the accumulator's type on the way in.
template <class T> struct SumSqOp : SumOp<T> {
  template <class U> static U pre(U x) { return x * x; }
};
template <class T> struct AbsSumOp : SumOp<T> {
  template <class U> static U pre(U x) { return x < U(0) ? -x : x; }
};
// torch's huber_loss with delta 1 (and smooth_l1_loss with beta 1, the same values): z = |x|,
// z < 1 ? 0.5 z^2 : z - 0.5
template <class T> struct Huber1SumOp : SumOp<T> {
  template <class U> static U pre(U x) {
    const U z = x < U(0) ? -x : x;
    return z < U(1) ? U(0.5) * z * z : z - U(0.5);
  }
};
template <class T> struct ProdOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
  static Acc init() { return Acc(1); }
  static Acc combine(Acc a, Acc b) { return a * b; }
};
template <class T> struct MaxOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = T;
  static Acc init() {
    if constexpr (std::is_floating_point_v<T>) return -std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::lowest();
  }
  static Acc combine(Acc a, Acc b) { return fn::Maximum{}(a, b); }
};
template <class T> struct MinOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = T;
  static Acc init() {
    if constexpr (std::is_floating_point_v<T>) return std::numeric_limits<T>::infinity();
    else return std::numeric_limits<T>::max();
  }
  static Acc combine(Acc a, Acc b) { return fn::Minimum{}(a, b); }
};
struct AllOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = bool;
  static Acc init() { return true; }
  static Acc combine(Acc a, Acc b) { return a && b; }
};
struct AnyOp {
  static constexpr bool kIsSum = false;
  template <class U> static U pre(U x) { return x; }
  using Acc = bool;
  static Acc init() { return false; }
  static Acc combine(Acc a, Acc b) { return a || b; }
};

namespace reduce_base {
#define EMBER_REDUCE_ATTR
#include "reduce_kernels.inc"
#undef EMBER_REDUCE_ATTR
}  // namespace reduce_base
#if defined(__x86_64__) && defined(__GNUC__)
namespace reduce_avx2 {
#define EMBER_REDUCE_ATTR EMBER_ATTR_AVX2
#include "reduce_kernels.inc"
#undef EMBER_REDUCE_ATTR
}  // namespace reduce_avx2
namespace reduce_avx512 {
#define EMBER_REDUCE_ATTR EMBER_ATTR_AVX512
#include "reduce_kernels.inc"
#undef EMBER_REDUCE_ATTR
}  // namespace reduce_avx512
#endif

template <class Op, class T>
typename Op::Acc reduce_row(const T* x, int64_t n) {
  return EMBER_NS_ISA_CALL_(reduce, row<Op>, x, n);
}

template <class Op, class T>
void reduce_kernel(const T* x, T* out, int64_t O, int64_t R, int64_t I, bool mean) {
  using Acc = typename Op::Acc;
  const double scale = mean ? 1.0 / static_cast<double>(R) : 1.0;
  auto finish = [&](Acc a) -> T {
    if constexpr (std::is_floating_point_v<T>) return static_cast<T>(mean ? a * scale : a);
    else return static_cast<T>(a);
  };
  if (I == 1) {
    const int nt = get_num_threads();
    if (O < nt && R >= (1 << 17)) {  // few long rows: split each row into fixed chunks
      constexpr int64_t kChunk = 1 << 16;
      const int64_t nchunks = (R + kChunk - 1) / kChunk;
      std::vector<Acc> part(nchunks);
      for (int64_t o = 0; o < O; ++o) {
        const T* row = x + o * R;
        parallel_for(0, nchunks, 1, [&](int64_t b, int64_t e) {
          for (int64_t c = b; c < e; ++c)
            part[c] = reduce_row<Op>(row + c * kChunk, std::min(kChunk, R - c * kChunk));
        });
        Acc a = Op::init();
        for (auto p : part) a = Op::combine(a, p);
        out[o] = finish(a);
      }
      return;
    }
    const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1));
    parallel_for(0, O, grain, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) out[o] = finish(reduce_row<Op>(x + o * R, R));
    });
    return;
  }
  // Column reduction: out[o, i] = reduce_r x[o, r, i], vectorised along i in blocks.
  constexpr int64_t kBlock = 256;
  const int64_t iblocks = (I + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(R * kBlock, 1));
  parallel_for(0, O * iblocks, grain, [&](int64_t b, int64_t e) {
    Acc acc[kBlock];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / iblocks, i0 = (t % iblocks) * kBlock, ni = std::min(kBlock, I - i0);
      EMBER_NS_ISA_CALL_(reduce, columns<Op>, x + o * R * I + i0, R, I, ni, acc);
      for (int64_t i = 0; i < ni; ++i) out[o * I + i0 + i] = finish(acc[i]);
    }
  });
}

}  // namespace

void reduce(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims_in, const Tensor& out) {
  const int64_t nd = x.dim();
  const Shape& sh = x.shape();
  std::vector<int64_t> dims = dims_in;
  std::sort(dims.begin(), dims.end());
  std::vector<bool> red(nd, false);
  for (auto d : dims) red[d] = true;
  bool block = true;
  for (size_t k = 1; k < dims.size(); ++k) block = block && dims[k] == dims[k - 1] + 1;
  if (!block && out.numel() > 0) {
    // Reduced dims in several runs ((0, 2) of (A, B, C, D)): the innermost run first, in memory
    // order, then the rest on that result; one pass per run, each a plain (O, R, I) reduction.
    // (Permuting the reduced dims last and copying made 4-element rows out of a strided gather:
    // repeat's gradient on (64, 1024) x (2, 2) took 2.9 ms, now ~0.1.) The association of sums and
    // products follows the runs; a mean is a mean of means (equal counts).
    Tensor xc = x;
    if (!xc.is_contiguous()) {
      xc = Tensor::empty(sh, x.dtype(), x.device());
      copy(x, xc);
    }
    size_t k = dims.size() - 1;
    while (k > 0 && dims[k - 1] == dims[k] - 1) --k;  // [k, end): the innermost run
    const std::vector<int64_t> last(dims.begin() + static_cast<int64_t>(k), dims.end());
    Shape rest_shape;
    for (int64_t d = 0; d < nd; ++d)
      if (d < last.front() || d > last.back()) rest_shape.push_back(sh[d]);
    Tensor part = Tensor::empty(rest_shape, x.dtype(), x.device());
    reduce(op, xc, last, part);
    // the other runs keep their indices (all below the removed run); sums of squares add up
    const bool summed = op == ReduceOp::SumSq || op == ReduceOp::AbsSum || op == ReduceOp::Huber1Sum;
    const ReduceOp next = summed ? ReduceOp::Sum : op;
    reduce(next, part, std::vector<int64_t>(dims.begin(), dims.begin() + static_cast<int64_t>(k)), out);
    return;
  }
  int64_t O = 1, R = 1, I = 1;
  Tensor src = x;
  if (block && x.is_contiguous() && !dims.empty()) {
    for (int64_t d = 0; d < nd; ++d) (d < dims.front() ? O : red[d] ? R : I) *= sh[d];
  } else {  // kept dims first, reduced dims last, materialised contiguously
    Shape pshape;
    Strides pstrides;
    for (int pass = 0; pass < 2; ++pass)
      for (int64_t d = 0; d < nd; ++d)
        if (red[d] == (pass == 1)) {
          pshape.push_back(sh[d]);
          pstrides.push_back(x.strides()[d]);
          (pass ? R : O) *= sh[d];
        }
    Tensor view = Tensor::make_view(x, pshape, pstrides, x.offset());
    src = Tensor::empty(pshape, x.dtype(), x.device());
    copy(view, src);
  }
  if (out.numel() == 0) return;
  dispatch_all(x.dtype(), "reduce", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = src.data<T>();
    T* op_ = out.data<T>();
    if constexpr (std::is_same_v<T, bool>) {
      if (op == ReduceOp::All) return reduce_kernel<AllOp>(xp, op_, O, R, I, false);
      if (op == ReduceOp::Any) return reduce_kernel<AnyOp>(xp, op_, O, R, I, false);
      throw TypeError(str("reduce: op not supported for bool"));
    } else {
      switch (op) {
        case ReduceOp::Sum: return reduce_kernel<SumOp<T>>(xp, op_, O, R, I, false);
        case ReduceOp::Mean: return reduce_kernel<SumOp<T>>(xp, op_, O, R, I, true);
        case ReduceOp::SumSq:
          if constexpr (std::is_floating_point_v<T>) return reduce_kernel<SumSqOp<T>>(xp, op_, O, R, I, false);
          throw TypeError(str("reduce: sum of squares expects a floating tensor, got ", x.dtype()));
        case ReduceOp::AbsSum:
          if constexpr (std::is_floating_point_v<T>) return reduce_kernel<AbsSumOp<T>>(xp, op_, O, R, I, false);
          throw TypeError(str("reduce: sum of |x| expects a floating tensor, got ", x.dtype()));
        case ReduceOp::Huber1Sum:
          if constexpr (std::is_floating_point_v<T>) return reduce_kernel<Huber1SumOp<T>>(xp, op_, O, R, I, false);
          throw TypeError(str("reduce: sum of huber expects a floating tensor, got ", x.dtype()));
        case ReduceOp::Prod: return reduce_kernel<ProdOp<T>>(xp, op_, O, R, I, false);
        case ReduceOp::Max: return reduce_kernel<MaxOp<T>>(xp, op_, O, R, I, false);
        case ReduceOp::Min: return reduce_kernel<MinOp<T>>(xp, op_, O, R, I, false);
        default: throw TypeError(str("reduce: all/any expect a bool tensor, got ", x.dtype()));
      }
    }
  });
}

}  // namespace ember::cpu

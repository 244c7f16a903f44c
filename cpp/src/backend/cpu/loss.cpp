// CPU cross-entropy over class indices, fused: log-softmax + NLL (+ label smoothing) in one pass per
// sample forward, softmax - onehot (scaled) in one pass backward; and NLL alone (nll_loss: a pick
// per sample forward, a zeroed gradient with one value per sample backward). x is viewed as
// (N, C, I) (classes along dim 1, copied to contiguous if needed); a sample is one (n, i) with its
// C logits at stride I.
// Targets outside [0, C) (other than ignore_index) are never read through: IndexError after the loop.
#include <atomic>
#include <limits>

#include "dim_layout.h"
#include "loops.h"
#include "parallel.h"
#include "vec_math_avx512.h"

namespace ember::cpu {
namespace {

inline Tensor contiguous_copy(const Tensor& t) {
  Tensor c = Tensor::empty(t.shape(), t.dtype(), t.device());
  copy(t, c);
  return c;
}

struct CeArgs {
  int64_t N, C, I, ignore_index;
  double eps;  // label smoothing
};

// Grain in samples: ~16k logits per task.
inline int64_t ce_grain(int64_t C) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(C, 1)); }

// Contiguous rows (classes along the last dim): the row kernels of softmax_kernels.inc (max and
// NaN flag, sum of exp(x - m), the gradient row; short rows run as one padded vector), compiled
// for the baseline ISA, AVX2 and AVX-512 and picked at run time (cpu_isa(), like loops.h).
namespace ce_base {
#define EMBER_SOFTMAX_ATTR
#include "softmax_kernels.inc"
#undef EMBER_SOFTMAX_ATTR
}  // namespace ce_base
#if defined(__x86_64__) && defined(__GNUC__)
namespace ce_avx2 {
#define EMBER_SOFTMAX_ATTR __attribute__((target("avx2,fma")))
#include "softmax_kernels.inc"
#undef EMBER_SOFTMAX_ATTR
}  // namespace ce_avx2
namespace ce_avx512 {
#define EMBER_SOFTMAX_ATTR __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")))
#include "softmax_kernels.inc"
#undef EMBER_SOFTMAX_ATTR
}  // namespace ce_avx512
#define EMBER_CE_CALL_(ISA, FN, ...)                                         \
  (ISA == Isa::Avx512 ? ce_avx512::FN(__VA_ARGS__)                           \
                      : ISA == Isa::Avx2 ? ce_avx2::FN(__VA_ARGS__) : ce_base::FN(__VA_ARGS__))
#else
#define EMBER_CE_CALL_(ISA, FN, ...) ce_base::FN(__VA_ARGS__)
#endif

// Max m of the C logits x[0], x[s], ... and log(sum_c exp(x_c - m)) (NaN if any logit is NaN).
// The two stay apart so (x_c - m) - logsum keeps full precision for huge logits.
template <class T>
inline void lse_strided(Isa isa, const T* x, int64_t C, int64_t s, T& m, T& ls) {
  int nan = 0;
  if (s == 1) {
    EMBER_CE_CALL_(isa, row_max_nan, x, C, m, nan);
  } else {
    m = -std::numeric_limits<T>::infinity();
    for (int64_t c = 0; c < C; ++c) {
      m = x[c * s] > m ? x[c * s] : m;
      nan |= x[c * s] != x[c * s];
    }
  }
  if (nan) {
    m = ls = std::numeric_limits<T>::quiet_NaN();
    return;
  }
  if (m == -std::numeric_limits<T>::infinity() || m == std::numeric_limits<T>::infinity()) {
    ls = m == -std::numeric_limits<T>::infinity() ? m : std::numeric_limits<T>::quiet_NaN();
    return;
  }
  T sum = 0;
  if (s == 1) {
    sum = EMBER_CE_CALL_(isa, row_exp_sum, x, C, m, static_cast<T*>(nullptr));
  } else {
    for (int64_t c = 0; c < C; ++c) sum += exp_any(static_cast<T>(x[c * s] - m));
  }
  ls = std::log(sum);
}

// sum_c w[c] * (m - x[c * s]) (w null: weights 1).
template <class T>
inline T wsum_gap(const T* x, const T* w, T m, int64_t C, int64_t s) {
  T acc = 0;
  if (w) {
    for (int64_t c = 0; c < C; ++c) acc += w[c] * (m - x[c * s]);
  } else if (s == 1) {
#pragma omp simd reduction(+ : acc)
    for (int64_t c = 0; c < C; ++c) acc += m - x[c];
  } else {
    for (int64_t c = 0; c < C; ++c) acc += m - x[c * s];
  }
  return acc;
}

template <class T>
inline T weight_total(const T* w, int64_t C) {
  if (!w) return static_cast<T>(C);
  T acc = 0;
  for (int64_t c = 0; c < C; ++c) acc += w[c];
  return acc;
}

// Records the first bad target seen (any thread) without throwing from workers.
struct BadTarget {
  std::atomic<bool> any{false};
  std::atomic<int64_t> value{0};
  void note(int64_t v) {
    bool expected = false;
    if (any.compare_exchange_strong(expected, true)) value = v;
  }
  void raise(const CeArgs& a, const char* op = nullptr) const {
    if (!any) return;
    const std::string for_op = op ? str("for ", op, " ") : std::string();
    throw IndexError(str("Target ", value.load(), " is out of bounds. Valid class indices ", for_op, "are [0, ", a.C,
                         ") (or ignore_index = ", a.ignore_index, ")"));
  }
};

}  // namespace

// x (N, C, I), target (N, I) int64, weight (C,) or undefined -> loss, wt (N, I), stats (N, I, 2)
// contiguous. With m = max_c x[c], ls = log sum_c exp(x[c] - m): loss = (1 - eps) w[t] (m - x[t] +
// ls) + eps / C sum_c w[c] (m - x[c] + ls); wt = w[t]; stats = (m, ls); all 0 where t is ignored.
void cross_entropy(const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                   double label_smoothing, const Tensor& loss, const Tensor& wt, const Tensor& stats) {
  DimLayout L = dim_layout(x, 1);
  const CeArgs a{L.O, L.R, L.I, ignore_index, label_smoothing};
  if (a.N * a.I == 0) return;
  Tensor tc = target.is_contiguous() ? target : contiguous_copy(target);
  Tensor wc = weight.defined() && !weight.is_contiguous() ? contiguous_copy(weight) : weight;
  BadTarget bad;
  const Isa isa = cpu_isa();
  dispatch_float(x.dtype(), "cross_entropy", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = L.t.data<T>();
    const int64_t* tp = tc.data<int64_t>();
    const T* wp = wc.defined() ? wc.data<T>() : nullptr;
    T *lp = loss.data<T>(), *wtp = wt.data<T>(), *sp = stats.data<T>();
    const T keep = static_cast<T>(1 - a.eps), smooth = static_cast<T>(a.eps / a.C);
    const T W = weight_total(wp, a.C);
    // Sample k's loss from its row's max m and log-sum ls (a non-finite m or a NaN ls: lse_strided's
    // own values, as in the scalar path).
    auto finish = [&](int64_t k, T m, T ls) {
      const int64_t n = k / a.I, i = k % a.I, t = tp[k];
      const T* row = xp + n * a.C * a.I + i;
      if (t == a.ignore_index || t < 0 || t >= a.C) {
        if (t != a.ignore_index) bad.note(t);
        lp[k] = 0, wtp[k] = 0, sp[2 * k] = 0, sp[2 * k + 1] = 0;
        return;
      }
      if (!std::isfinite(m) || ls != ls) lse_strided(isa, row, a.C, a.I, m, ls);
      const T w = wp ? wp[t] : T(1);
      T l = keep * w * ((m - row[t * a.I]) + ls);
      if (a.eps > 0) l += smooth * (wsum_gap(row, wp, m, a.C, a.I) + W * ls);
      lp[k] = l, wtp[k] = w, sp[2 * k] = m, sp[2 * k + 1] = ls;
    };
#if defined(__x86_64__) && defined(__GNUC__)
    if constexpr (std::is_same_v<T, float>) {
      if (a.I == 1 && a.C <= 128 && isa == Isa::Avx512) {
        // Short rows (class scores): 16 rows' statistics at a time with one vector log
        // (lse_block_avx512), where a scalar log a row made 128 x 10 take 60 ns a row.
        with_row_vectors(a.C, [&](auto nv) {
          parallel_for(0, a.N, ce_grain(a.C), [&](int64_t b, int64_t e) {
            alignas(64) float mb[16], lb[16];
            for (int64_t r0 = b; r0 < e; r0 += 16) {
              const int nb = static_cast<int>(std::min<int64_t>(16, e - r0));
              lse_block_avx512<decltype(nv)::value>(xp + r0 * a.C, a.C, nb, mb, lb);
              for (int j = 0; j < nb; ++j) finish(r0 + j, mb[j], lb[j]);
            }
          });
        });
        bad.raise(a);
        return;
      }
    }
#endif
    parallel_for(0, a.N * a.I, ce_grain(a.C), [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        T m, ls;
        const int64_t n = k / a.I, i = k % a.I, t = tp[k];
        if (t == a.ignore_index || t < 0 || t >= a.C) m = ls = 0;
        else lse_strided(isa, xp + n * a.C * a.I + i, a.C, a.I, m, ls);
        finish(k, m, ls);
      }
    });
  });
  bad.raise(a);
}

// x (N, C, I), target, stats (N, I, 2), g (N, I) or one element (broadcast) -> dx (N, C, I)
// contiguous: dx_c = g ((1 - eps) w[t] (p_c - [c == t]) + eps / C (W p_c - w_c)),
// p_c = exp((x_c - m) - ls), W = sum w.
void cross_entropy_backward(const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                            double label_smoothing, const Tensor& stats, const Tensor& g, const Tensor& dx) {
  DimLayout L = dim_layout(x, 1);
  const CeArgs a{L.O, L.R, L.I, ignore_index, label_smoothing};
  if (dx.numel() == 0) return;
  Tensor tc = target.is_contiguous() ? target : contiguous_copy(target);
  Tensor wc = weight.defined() && !weight.is_contiguous() ? contiguous_copy(weight) : weight;
  Tensor gc = g.is_contiguous() ? g : contiguous_copy(g);
  const bool g_scalar = g.numel() == 1;
  const Isa isa = cpu_isa();
  dispatch_float(x.dtype(), "cross_entropy_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *xp = L.t.data<T>(), *sp = stats.data<T>(), *gp = gc.data<T>();
    const int64_t* tp = tc.data<int64_t>();
    const T* wp = wc.defined() ? wc.data<T>() : nullptr;
    T* dp = dx.data<T>();
    const T keep = static_cast<T>(1 - a.eps), smooth = static_cast<T>(a.eps / a.C);
    const T W = weight_total(wp, a.C);
    parallel_for(0, a.N * a.I, ce_grain(a.C), [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const int64_t n = k / a.I, i = k % a.I, t = tp[k], s = a.I;
        const T* row = xp + n * a.C * a.I + i;
        T* drow = dp + n * a.C * a.I + i;
        if (t == a.ignore_index || t < 0 || t >= a.C) {  // out-of-range cannot pass forward
          for (int64_t c = 0; c < a.C; ++c) drow[c * s] = 0;
          continue;
        }
        const T gk = gp[g_scalar ? 0 : k], m = sp[2 * k], ls = sp[2 * k + 1];
        const T wt = wp ? wp[t] : T(1);
        const T cp = gk * (keep * wt + smooth * W);  // coefficient of p_c
        const T cs = gk * smooth;                   // coefficient of -w_c
        if (s == 1) {
          EMBER_CE_CALL_(isa, ce_grad_row, row, wp, drow, a.C, m, ls, cp, cs);
        } else {
          for (int64_t c = 0; c < a.C; ++c)
            drow[c * s] = cp * exp_any(static_cast<T>((row[c * s] - m) - ls)) - cs * (wp ? wp[c] : T(1));
        }
        drow[t * s] -= gk * keep * wt;
      }
    });
  });
}

// x (N, C, I), target (N, I) int64, weight (C,) or undefined -> loss, wt (N, I) contiguous:
// loss = -(w[t] x[t]) (torch's -x[t] * w[t], the same bits), wt = w[t]; both 0 where t is ignored.
void nll_loss(const Tensor& x, const Tensor& target, const Tensor& weight, int64_t ignore_index, const Tensor& loss,
              const Tensor& wt) {
  DimLayout L = dim_layout(x, 1);
  const CeArgs a{L.O, L.R, L.I, ignore_index, 0.0};
  if (a.N * a.I == 0) return;
  Tensor tc = target.is_contiguous() ? target : contiguous_copy(target);
  Tensor wc = weight.defined() && !weight.is_contiguous() ? contiguous_copy(weight) : weight;
  BadTarget bad;
  dispatch_float(x.dtype(), "nll_loss", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = L.t.data<T>();
    const int64_t* tp = tc.data<int64_t>();
    const T* wp = wc.defined() ? wc.data<T>() : nullptr;
    T *lp = loss.data<T>(), *wtp = wt.data<T>();
    parallel_for(0, a.N * a.I, 32768, [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; ++k) {
        const int64_t t = tp[k];
        if (t == a.ignore_index || t < 0 || t >= a.C) {
          if (t != a.ignore_index) bad.note(t);
          lp[k] = 0, wtp[k] = 0;
          continue;
        }
        const T w = wp ? wp[t] : T(1);
        lp[k] = -(w * xp[((k / a.I) * a.C + t) * a.I + k % a.I]);
        wtp[k] = w;
      }
    });
  });
  bad.raise(a, "nll_loss");
}

// dx (N, C, I) contiguous, of g's dtype: -(w[t] g_k) at (n, t, i) for sample k = (n, i), 0 elsewhere
// and for ignored samples (g (N, I) or one element, broadcast). Targets were checked forward.
void nll_loss_backward(const Tensor& target, const Tensor& weight, int64_t ignore_index, const Tensor& g,
                       const Tensor& dx) {
  if (dx.numel() == 0) return;
  const int64_t N = dx.shape()[0], C = dx.shape()[1], I = dx.numel() / (N * C);
  Tensor tc = target.is_contiguous() ? target : contiguous_copy(target);
  Tensor wc = weight.defined() && !weight.is_contiguous() ? contiguous_copy(weight) : weight;
  Tensor gc = g.is_contiguous() ? g : contiguous_copy(g);
  const bool g_scalar = g.numel() == 1;
  dispatch_float(dx.dtype(), "nll_loss_backward", [&](auto tag) {
    using T = decltype(tag);
    const int64_t* tp = tc.data<int64_t>();
    const T* wp = wc.defined() ? wc.data<T>() : nullptr;
    const T* gp = gc.data<T>();
    T* dp = dx.data<T>();
    // by slabs of whole samples n (C * I values each): zeroed, then one value per (n, i)
    parallel_for(0, N, std::max<int64_t>(1, 32768 / (C * I)), [&](int64_t b, int64_t e) {
      fill_run(dp + b * C * I, (e - b) * C * I, T(0));
      for (int64_t k = b * I; k < e * I; ++k) {
        const int64_t t = tp[k];
        if (t == ignore_index || t < 0 || t >= C) continue;
        dp[((k / I) * C + t) * I + k % I] = -((wp ? wp[t] : T(1)) * gp[g_scalar ? 0 : k]);
      }
    });
  });
}

}  // namespace ember::cpu

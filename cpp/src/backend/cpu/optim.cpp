// CPU optimizer kernels: one fused pass over a whole parameter per update (SGD, Adam/AdamW,
// Adagrad, RMSprop, Adadelta, Adamax, NAdam, RAdam). Each element's arithmetic reproduces the
// sequence of float ops that torch's single-tensor implementation performs with its vectorised
// CPU kernels (scalars rounded to T where torch rounds them; add(alpha), addcmul and lerp fused
// with FMA, addcdiv as self + (value * t1) / t2), so trajectories match torch to float tolerance.
// Assumes: all tensors contiguous, one floating dtype, param's numel (ops/optim.cpp checks).
// Built with -ffp-contract=off (CMakeLists.txt): every FMA here is explicit.
#include <algorithm>
#include <cmath>
#include <functional>

#include "cpu_backend.h"
#include "loops.h"

namespace ember::cpu {
namespace {

#define EMBER_INLINE inline __attribute__((always_inline))

// torch's Vectorized fmadd: one rounding where the CPU has FMA (the AVX2/AVX-512 builds).
template <class T, bool F>
EMBER_INLINE T fmadd(T a, T b, T c) {
  if constexpr (F) return std::fma(a, b, c);
  else return a * b + c;
}

// torch's vectorised lerp(start, end, w) for a scalar weight w: start + w (end - start) when
// |w| < 0.5, else end + (w - 1) (end - start). The choice is made once, outside the loop.
template <class T>
struct Lerp {
  T coef, small;  // small: 1 or 0, a float so the select is a vector compare
  explicit Lerp(double w) : small(std::abs(T(w)) < T(0.5) ? T(1) : T(0)) {
    coef = small != T(0) ? T(w) : T(w) - T(1);
  }
  template <bool F>
  EMBER_INLINE T apply(T start, T end) const {
    return fmadd<T, F>(coef, end - start, small != T(0) ? start : end);
  }
};

// torch.maximum: NaN in either operand wins (a NaN already in `a` stays: b > NaN is false).
template <class T>
EMBER_INLINE T nan_max(T a, T b) { return (b > a) | (b != b) ? b : a; }

// What every kind does first: the gradient's sign (maximize), then weight decay, either L2 into
// the gradient (g += wd * p) or decoupled (p *= 1 - lr * wd).
template <class T>
struct Common {
  T* p;
  const T* g;
  T wd, decay, sign;
  Common(const Tensor& param, const Tensor& grad, const OptimParams& o)
      : p(param.data<T>()), g(grad.data<T>()), wd(o.decoupled ? T(0) : T(o.weight_decay)),
        decay(o.decoupled && o.weight_decay != 0 ? T(1 - o.lr * o.weight_decay) : T(1)),
        sign(o.maximize ? T(-1) : T(1)) {}
  // Branch-free, so every kernel's loop if-converts and vectorises (GCC gives up on loops with
  // several stores and many selects): x * 1, x * -1 and g + 0 * p are exact.
  // NOTE: without L2 decay an infinite parameter gets a NaN gradient here (0 * inf), where torch
  // would keep it infinite; such a parameter has diverged either way.
  template <bool F>
  EMBER_INLINE void load(int64_t i, T& pi, T& gi) const {
    pi = p[i] * decay;
    gi = g[i] * sign;
    gi = fmadd<T, F>(pi, wd, gi);
  }
};

// buf = first ? g : momentum * buf + (1 - dampening) * g;  g = nesterov ? g + momentum * buf : buf
// p -= lr * g
template <class T, bool MOM>
struct SgdK {
  Common<T> c;
  T* buf;
  T mom, keep, neg_lr;
  bool nesterov, first;
  SgdK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), buf(MOM ? s[0].data<T>() : nullptr), mom(T(o.momentum)), keep(T(1 - o.dampening)),
        neg_lr(T(-o.lr)), nesterov(o.nesterov), first(o.first) {}
  template <bool F>
  EMBER_INLINE void at(int64_t i) const {
    T pi, gi;
    c.template load<F>(i, pi, gi);
    if constexpr (MOM) {
      T b = first ? gi : fmadd<T, F>(gi, keep, buf[i] * mom);
      buf[i] = b;
      gi = nesterov ? fmadd<T, F>(b, mom, gi) : b;
    }
    c.p[i] = fmadd<T, F>(gi, neg_lr, pi);
  }
};

// m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2; vmax = max(vmax, v) (amsgrad)
// p += -step_size * m / (sqrt(v or vmax) / sqrt(bc2) + eps)     c0 = lr / bc1, c1 = sqrt(bc2)
template <class T, bool AMS>
struct AdamK {
  Common<T> c;
  T *m, *v, *vmax;
  Lerp<T> w1;
  T b2, omb2, bc2_sqrt, eps, neg_step;
  AdamK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), m(s[0].data<T>()), v(s[1].data<T>()), vmax(AMS ? s[2].data<T>() : nullptr),
        w1(1 - o.beta1), b2(T(o.beta2)), omb2(T(1 - o.beta2)), bc2_sqrt(T(o.c1)), eps(T(o.eps)),
        neg_step(T(-o.c0)) {}
  template <bool F>
  EMBER_INLINE void at(int64_t i) const {
    T pi, gi;
    c.template load<F>(i, pi, gi);
    const T mi = w1.template apply<F>(m[i], gi);
    m[i] = mi;
    T vi = fmadd<T, F>(omb2 * gi, gi, v[i] * b2);
    v[i] = vi;
    if constexpr (AMS) {
      vi = nan_max(vmax[i], vi);
      vmax[i] = vi;
    }
    const T denom = std::sqrt(vi) / bc2_sqrt + eps;
    c.p[i] = pi + (neg_step * mi) / denom;
  }
};

// sum += g^2; p += -clr * g / (sqrt(sum) + eps)                 c0 = clr
template <class T>
struct AdagradK {
  Common<T> c;
  T* sum;
  T eps, neg_clr;
  AdagradK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), sum(s[0].data<T>()), eps(T(o.eps)), neg_clr(T(-o.c0)) {}
  template <bool F>
  EMBER_INLINE void at(int64_t i) const {
    T pi, gi;
    c.template load<F>(i, pi, gi);
    const T si = fmadd<T, F>(T(1) * gi, gi, sum[i]);
    sum[i] = si;
    c.p[i] = pi + (neg_clr * gi) / (std::sqrt(si) + eps);
  }
};

// sq = a sq + (1 - a) g^2; ga = lerp(ga, g, 1 - a) (centered); avg = sqrt(sq - ga^2) + eps
// buf = momentum buf + g / avg, p -= lr buf (momentum > 0); else p -= lr g / avg
template <class T, bool CENTERED, bool MOM>
struct RmspropK {
  Common<T> c;
  T *sq, *ga, *buf;
  T a, oma, eps, mom, neg_lr;
  Lerp<T> lerp_ga;
  RmspropK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), sq(s[0].data<T>()), ga(CENTERED ? s[1].data<T>() : nullptr),
        buf(MOM ? s[2].data<T>() : nullptr), a(T(o.alpha)), oma(T(1 - o.alpha)), eps(T(o.eps)),
        mom(T(o.momentum)), neg_lr(T(-o.lr)), lerp_ga(1 - o.alpha) {}
  template <bool F>
  EMBER_INLINE void at(int64_t i) const {
    T pi, gi;
    c.template load<F>(i, pi, gi);
    const T si = fmadd<T, F>(oma * gi, gi, sq[i] * a);
    sq[i] = si;
    T avg;
    if constexpr (CENTERED) {
      const T gai = lerp_ga.template apply<F>(ga[i], gi);
      ga[i] = gai;
      avg = std::sqrt(fmadd<T, F>(T(-1) * gai, gai, si));
    } else {
      avg = std::sqrt(si);
    }
    avg = avg + eps;
    if constexpr (MOM) {
      const T b = buf[i] * mom + gi / avg;
      buf[i] = b;
      c.p[i] = fmadd<T, F>(b, neg_lr, pi);
    } else {
      c.p[i] = pi + (neg_lr * gi) / avg;
    }
  }
};

// sq = rho sq + (1 - rho) g^2; d = sqrt(acc + eps) / sqrt(sq + eps) * g;
// acc = rho acc + (1 - rho) d^2; p -= lr d                      rho in alpha
template <class T>
struct AdadeltaK {
  Common<T> c;
  T *sq, *acc;
  T rho, omr, eps, neg_lr;
  AdadeltaK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), sq(s[0].data<T>()), acc(s[1].data<T>()), rho(T(o.alpha)), omr(T(1 - o.alpha)),
        eps(T(o.eps)), neg_lr(T(-o.lr)) {}
  template <bool F>
  EMBER_INLINE void at(int64_t i) const {
    T pi, gi;
    c.template load<F>(i, pi, gi);
    const T si = fmadd<T, F>(omr * gi, gi, sq[i] * rho);
    sq[i] = si;
    const T std_ = std::sqrt(si + eps);
    T d = std::sqrt(acc[i] + eps);
    d = (d / std_) * gi;
    acc[i] = fmadd<T, F>(omr * d, d, acc[i] * rho);
    c.p[i] = fmadd<T, F>(d, neg_lr, pi);
  }
};

// m = lerp(m, g, 1 - b1); u = max(b2 u, |g| + eps); p += -clr * m / u      c0 = lr / bc1
template <class T>
struct AdamaxK {
  Common<T> c;
  T *m, *u;
  Lerp<T> w1;
  T b2, eps, neg_clr;
  AdamaxK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), m(s[0].data<T>()), u(s[1].data<T>()), w1(1 - o.beta1), b2(T(o.beta2)), eps(T(o.eps)),
        neg_clr(T(-o.c0)) {}
  template <bool F>
  EMBER_INLINE void at(int64_t i) const {
    T pi, gi;
    c.template load<F>(i, pi, gi);
    const T mi = w1.template apply<F>(m[i], gi);
    m[i] = mi;
    const T ui = nan_max(u[i] * b2, std::abs(gi) + eps);
    u[i] = ui;
    c.p[i] = pi + (neg_clr * mi) / ui;
  }
};

// m, v as Adam; denom = sqrt(v / bc2) + eps; p += c1 g / denom; p += c2 m / denom   c0 = bc2
template <class T>
struct NadamK {
  Common<T> c;
  T *m, *v;
  Lerp<T> w1;
  T b2, omb2, bc2, eps, cg, cm;
  NadamK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), m(s[0].data<T>()), v(s[1].data<T>()), w1(1 - o.beta1), b2(T(o.beta2)),
        omb2(T(1 - o.beta2)), bc2(T(o.c0)), eps(T(o.eps)), cg(T(o.c1)), cm(T(o.c2)) {}
  template <bool F>
  EMBER_INLINE void at(int64_t i) const {
    T pi, gi;
    c.template load<F>(i, pi, gi);
    const T mi = w1.template apply<F>(m[i], gi);
    m[i] = mi;
    const T vi = fmadd<T, F>(omb2 * gi, gi, v[i] * b2);
    v[i] = vi;
    const T denom = std::sqrt(vi / bc2) + eps;
    pi = pi + (cg * gi) / denom;
    c.p[i] = pi + (cm * mi) / denom;
  }
};

// m, v as Adam; mh = m / bc1; rectified: p -= mh lr (1 / (sqrt(v) + eps) * sqrt(bc2)) rect,
// else p -= mh lr                              c0 = bc1, c1 = sqrt(bc2), c2 = rect, flag = rectified
template <class T>
struct RadamK {
  Common<T> c;
  T *m, *v;
  Lerp<T> w1;
  T b2, omb2, bc1, bc2_sqrt, rect, eps, lr;
  bool rectified;
  RadamK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), m(s[0].data<T>()), v(s[1].data<T>()), w1(1 - o.beta1), b2(T(o.beta2)),
        omb2(T(1 - o.beta2)), bc1(T(o.c0)), bc2_sqrt(T(o.c1)), rect(T(o.c2)), eps(T(o.eps)), lr(T(o.lr)),
        rectified(o.flag) {}
  template <bool F>
  EMBER_INLINE void at(int64_t i) const {
    T pi, gi;
    c.template load<F>(i, pi, gi);
    const T mi = w1.template apply<F>(m[i], gi);
    m[i] = mi;
    const T vi = fmadd<T, F>(omb2 * gi, gi, v[i] * b2);
    v[i] = vi;
    const T step = (mi / bc1) * lr;
    const T adaptive = (T(1) / (std::sqrt(vi) + eps)) * bc2_sqrt;
    c.p[i] = pi - (rectified ? (step * adaptive) * rect : step);
  }
};

// The loop, compiled per ISA (see loops.h): FMA where the target has it.
#define EMBER_OPTIM_LOOP_(NS, ATTR, FMA)                                          \
  namespace NS {                                                                  \
  template <class K>                                                              \
  ATTR void run(const K& kernel, int64_t begin, int64_t end) {                    \
    const K k = kernel;                                                           \
    _Pragma("omp simd") for (int64_t i = begin; i < end; ++i) k.template at<FMA>(i); \
  }                                                                               \
  }
EMBER_OPTIM_LOOP_(optim_base, , false)
#if defined(__x86_64__) && defined(__GNUC__)
EMBER_OPTIM_LOOP_(optim_avx2, __attribute__((target("avx2,fma"))), true)
EMBER_OPTIM_LOOP_(optim_avx512,
                  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512"))),
                  true)
#endif

constexpr int64_t kGrain = 1 << 15;  // elements per thread: the update is memory-bound

// One parameter's update over an element range [b, e), for the CPU's ISA.
using Runner = std::function<void(int64_t, int64_t)>;

template <class K>
Runner runner(const K& k) {
  const Isa isa = cpu_isa();
  return [k, isa](int64_t b, int64_t e) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa == Isa::Avx512) return optim_avx512::run(k, b, e);
    if (isa == Isa::Avx2) return optim_avx2::run(k, b, e);
#endif
    optim_base::run(k, b, e);
  };
}

template <class T>
Runner make_runner(OptimKind kind, const OptimJob& j) {
  const Tensor &p = j.param, &g = j.grad;
  const std::vector<Tensor>& s = j.state;
  const OptimParams& o = j.p;
  switch (kind) {
    case OptimKind::SGD:
      if (o.momentum != 0) return runner(SgdK<T, true>(p, g, s, o));
      return runner(SgdK<T, false>(p, g, s, o));
    case OptimKind::Adam:
      if (o.amsgrad) return runner(AdamK<T, true>(p, g, s, o));
      return runner(AdamK<T, false>(p, g, s, o));
    case OptimKind::Adagrad: return runner(AdagradK<T>(p, g, s, o));
    case OptimKind::RMSprop: {
      const bool mom = o.momentum > 0;
      if (o.centered && mom) return runner(RmspropK<T, true, true>(p, g, s, o));
      if (o.centered) return runner(RmspropK<T, true, false>(p, g, s, o));
      if (mom) return runner(RmspropK<T, false, true>(p, g, s, o));
      return runner(RmspropK<T, false, false>(p, g, s, o));
    }
    case OptimKind::Adadelta: return runner(AdadeltaK<T>(p, g, s, o));
    case OptimKind::Adamax: return runner(AdamaxK<T>(p, g, s, o));
    case OptimKind::NAdam: return runner(NadamK<T>(p, g, s, o));
    case OptimKind::RAdam: return runner(RadamK<T>(p, g, s, o));
  }
  throw RuntimeError("optim_step: unknown optimizer kind");
}

}  // namespace

// The jobs' elements laid end to end, [start[i], start[i + 1]) for job i: parallel_for splits
// that range evenly, so two threads share a step of many small parameters (LeNet: ten, one of
// them 78% of the elements) as well as one of a single large one.
void optim_step(OptimKind kind, const std::vector<OptimJob>& jobs) {
  std::vector<Runner> run;
  std::vector<int64_t> start{0};
  run.reserve(jobs.size());
  start.reserve(jobs.size() + 1);
  for (const OptimJob& j : jobs) {
    const int64_t n = j.param.numel();
    if (n == 0) continue;
    dispatch_float(j.param.dtype(), "optim_step", [&](auto tag) {
      run.push_back(make_runner<decltype(tag)>(kind, j));
    });
    start.push_back(start.back() + n);
  }
  parallel_for(0, start.back(), kGrain, [&](int64_t b, int64_t e) {
    size_t i = static_cast<size_t>(std::upper_bound(start.begin(), start.end(), b) - start.begin()) - 1;
    for (; b < e; ++i) {
      const int64_t hi = std::min(e, start[i + 1]);
      run[i](b - start[i], hi - start[i]);
      b = hi;
    }
  });
}

}  // namespace ember::cpu

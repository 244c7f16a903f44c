// CPU optimizer kernels: one fused pass over a whole parameter per update (SGD, Adam/AdamW,
// Adagrad, RMSprop, Adadelta, Adamax, NAdam, RAdam). Each element's arithmetic reproduces the
// sequence of float ops that torch's single-tensor implementation performs with its vectorised
// CPU kernels (scalars rounded to T where torch rounds them; add(alpha), addcmul and lerp fused
// with FMA, addcdiv as self + (value * t1) / t2), so trajectories match torch to float tolerance.
// Assumes: all tensors contiguous, one floating dtype, param's numel (ops/optim.cpp checks).
// Built with -ffp-contract=off (CMakeLists.txt): every FMA here is explicit.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>

#include "cpu_backend.h"
#include "loops.h"

namespace ember::cpu {
namespace {

#define EMBER_INLINE inline __attribute__((always_inline))

// --- subnormal-safe float arithmetic ----------------------------------------------------------
// On Intel CPUs a float multiply, FMA, division or square root that reads or makes a subnormal
// takes a microcode assist (Sapphire Rapids: 39 ns a vector instead of 0.65; adds, subtracts,
// compares and float <-> double conversions take none, measured). AMD Zen 4 takes none: vector
// multiplies, FMAs and adds on subnormals run at full rate, divisions and square roots at ~half
// (measured), so there subnormal_path() keeps the float kernel. Optimizer state decays into
// subnormals and can stay there: lerp(m, 0, 0.1) and 0.9 * buf both round 2^-149 back to 2^-149,
// so a parameter whose gradient stays 0 (a dead unit, a class never seen) keeps a subnormal state
// for good and every later step pays the assists (Sapphire Rapids, LeNet, batch 1, Adam: 57 ->
// 478 us a step after 1000 steps).
// Blocks holding a tiny value therefore run on SafeF, which gives float's exact results without
// assists: a product is exact in double and rounded once; a quotient or square root computed in
// double and rounded to float is correctly rounded (double rounding is innocuous for these when
// 53 >= 2 * 24 + 2); an FMA rounds the double sum to odd (TwoSum's error says which way), after
// which the one rounding to float is correct. Subnormal doubles never arise (floats >= 2^-149).
struct SafeF {
  float v;
  SafeF() = default;
  EMBER_INLINE explicit SafeF(float x) : v(x) {}
  EMBER_INLINE explicit operator float() const { return v; }
};
EMBER_INLINE SafeF operator+(SafeF a, SafeF b) { return SafeF(a.v + b.v); }
EMBER_INLINE SafeF operator-(SafeF a, SafeF b) { return SafeF(a.v - b.v); }
// The barriers keep GCC from narrowing float(double(a) * double(b)) back to a float multiply (it
// may: the results are equal; here the instruction matters).
EMBER_INLINE SafeF operator*(SafeF a, SafeF b) {
  return SafeF(float(__builtin_assoc_barrier(double(a.v) * double(b.v))));
}
EMBER_INLINE SafeF operator/(SafeF a, SafeF b) {
  return SafeF(float(__builtin_assoc_barrier(double(a.v) / double(b.v))));
}
EMBER_INLINE bool operator<(SafeF a, SafeF b) { return a.v < b.v; }
EMBER_INLINE bool operator>(SafeF a, SafeF b) { return a.v > b.v; }
EMBER_INLINE bool operator!=(SafeF a, SafeF b) { return a.v != b.v; }
// A square root in float of a scaled by 2^64 (exactly, in double) when a is tiny, scaled back by
// 2^-32 (exact: the root of a float >= 2^-149 is >= 2^-75, normal): a float root, no assist.
EMBER_INLINE SafeF sqrt_(SafeF a) {
  const bool small = std::fabs(a.v) < 0x1p-60f;
  const float scaled = float(__builtin_assoc_barrier(double(a.v) * 0x1p64));
  const float r = std::sqrt(small ? scaled : a.v);
  return SafeF(small ? r * 0x1p-32f : r);
}
// a / b in float, for a kernel that knows a, b and a / b are normal or zero (no assist then).
EMBER_INLINE SafeF div_normal(SafeF a, SafeF b) { return SafeF(a.v / b.v); }
template <class T> EMBER_INLINE T div_normal(T a, T b) { return a / b; }
EMBER_INLINE SafeF abs_(SafeF a) { return SafeF(std::fabs(a.v)); }
EMBER_INLINE SafeF fma_(SafeF a, SafeF b, SafeF c) {
  const double p = double(a.v) * double(b.v), q = c.v;  // p exact
  const double s = p + q;
  const double bv = s - p;
  const double e = (p - (s - bv)) + (q - bv);  // TwoSum: s + e == p + q exactly
  int64_t bits;
  std::memcpy(&bits, &s, sizeof(bits));
  // inexact (e != 0; NaN when s is inf or NaN: left alone) with an even last bit: one ulp
  // toward the exact value, which makes it odd
  const int64_t step = (e != 0.0 && e == e && (bits & 1) == 0) ? ((e > 0.0) == (s > 0.0) ? 1 : -1) : 0;
  bits += step;
  double r;
  std::memcpy(&r, &bits, sizeof(r));
  return SafeF(float(r));
}
// c ? a : b on the float inside (a select of SafeF objects is a select of their addresses, which
// GCC does not vectorise).
EMBER_INLINE SafeF select_(bool c, SafeF a, SafeF b) { return SafeF(c ? a.v : b.v); }
template <class T> EMBER_INLINE T select_(bool c, T a, T b) { return c ? a : b; }
template <class T> EMBER_INLINE T sqrt_(T a) { return std::sqrt(a); }
template <class T> EMBER_INLINE T abs_(T a) { return std::abs(a); }
template <class T> EMBER_INLINE T fma_(T a, T b, T c) { return std::fma(a, b, c); }

// A state value that could make or meet a subnormal in an update. Generic bounds: nonzero and
// below 2^-50 in magnitude for the values that get squared or scaled by small hyperparameters,
// below 2^-100 for the sums of squares. Only the state is checked, as that is what sticks; a tiny
// gradient or parameter, or a subnormal made anyway (extreme hyperparameters), costs time, never
// bits. Integer compares: 0 < |x| < 2^k.
EMBER_INLINE uint32_t abs_bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof(b));
  return b & 0x7fffffffu;
}
EMBER_INLINE int below(float x, uint32_t limit_bits) { return int(abs_bits(x) - 1u < limit_bits - 1u); }
constexpr uint32_t kTinyBits = 0x26800000u;    // 2^-50
constexpr uint32_t kTinySqBits = 0x0d800000u;  // 2^-100

// Every kind but Adagrad (whose sum never decays) bounds its state by its hyperparameters instead
// (2^-50 sends a dead unit's state to SafeF about 500 steps before any subnormal could arise:
// after 300 steps of the benchmarks' one-conv net, 82% of SGD's chunks; of the main job's model
// with Adam, 40%; none of them within 2^-100). With g = 0, the case that sticks, every product,
// quotient, root and FMA of a step then reads and makes normal floats (or zeros), with 2^4 to
// spare for the rounding of the hyperparameters and of the bounds below. kMinNormal * kSpare is
// the least magnitude allowed. The generic bounds remain for hyperparameters outside that
// reasoning.
constexpr double kMinNormal = 0x1p-126, kSpare = 16;
// The float bits of the least float >= x > 0 (+inf's bits past the largest float): a limit for
// below().
inline uint32_t float_bits_up(double x) {
  if (!(x < 0x1.fffffep127)) return 0x7f800000u;
  float f = static_cast<float>(x);
  if (static_cast<double>(f) < x) f = std::nextafter(f, INFINITY);
  uint32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}

// Adam (amsgrad too), NAdam, RAdam and Adamax, per step at g = 0: m' = lerp(m, g, 1 - b1) = b1 m
// (an FMA whose product is (1 - b1) m or b1 m); the second moment s' = b2 s (Adamax: u' =
// max(b2 u, eps)); the update q = k' m' / D, its denominator D at most 2 max(X, e):
// - Adam: k' = lr / bc1, D = sqrt(v') / c1 + eps, X = sqrt(v) / c1, e = eps, c1 = sqrt(bc2);
// - NAdam: k' = c2 (m's coefficient), D = sqrt(v' / bc2) + eps, X and e as Adam's;
// - RAdam: k' = lr / bc1 (rectified: times rect when rect < 1, a last product), D = (sqrt(v') +
//   eps) / c1, X as Adam's, e = eps / c1;
// - Adamax: k' = lr / bc1, D = u', X = u, e = eps, c1 = 1 (ROOT false).
// With k = b1 |k'|: normal throughout when |m| >= mn max(1, 1 / b1, 1 / (1 - b1), 1 / k, 2 e / k),
// s >= mn / b2 (or 0), and k |m| >= 2 mn X. The last test goes by exponents: with em, es the
// biased exponent fields, |m| >= 2^(em - 127) and s < 2^(es - 126), so 2 em - es >= ratio_min =
// ceil(-114 - 2 log2(k c1)) implies it where X = sqrt(s) / c1 (ROOT), em - es >= ceil(-120 -
// log2(k)) where X = s (Adamax).
// Hyperparameters outside that reasoning (b1, k or c1 zero, not finite) keep the generic bounds.
template <bool ROOT>
struct MomentLimits {
  uint32_t m_bits = kTinyBits, s_bits = ROOT ? kTinySqBits : kTinyBits;
  int32_t ratio_min = -1024;  // 2 em - es >= -508 and em - es >= -254 always: no test
  MomentLimits(double b1, double b2, double k_prime, double c1, double e) {
    const double k = b1 * std::abs(k_prime);
    if (!(b1 > 0 && b1 < 1 && b2 > 0 && b2 <= 1 && k > 0 && std::isfinite(k) && c1 > 0 && c1 <= 1 && e >= 0 &&
          std::isfinite(e)))
      return;
    const double mn = kMinNormal * kSpare;
    m_bits = float_bits_up(mn * std::max({1.0, 1 / b1, 1 / (1 - b1), 1 / k, 2 * e / k}));
    s_bits = float_bits_up(mn / b2);
    const double r = ROOT ? std::ceil(-114 - 2 * std::log2(k * c1)) : std::ceil(-120 - std::log2(k * c1));
    ratio_min = static_cast<int32_t>(std::clamp(r, -1024.0, 1024.0));
  }
  // es: the exponent field of the second moment that D reads (amsgrad: the larger)
  EMBER_INLINE int m_tiny(float m, uint32_t es) const {
    const uint32_t bm = abs_bits(m);
    const int32_t em = int32_t(bm >> 23) * (ROOT ? 2 : 1);
    return int(bm - 1u < m_bits - 1u) | (int(bm != 0) & int(em - int32_t(es) < ratio_min));
  }
  EMBER_INLINE int s_tiny(float s) const { return below(s, s_bits); }
  // Adam's, NAdam's and RAdam's test on m and v
  EMBER_INLINE int mv_tiny(float m, float v) const { return m_tiny(m, abs_bits(v) >> 23) | s_tiny(v); }
};
using AdamLimits = MomentLimits<true>;

// A state value x that a step at g = 0 multiplies by f (a decay: SGD's momentum, RMSprop's alpha,
// Adadelta's rho) and, when scale > 0, the result by scale (the update's coefficient, lr) is read
// and made normal when |x| >= mn max(1, 1 / f, 1 / (f scale)); f not positive and finite, or
// scale not finite, keep the generic bound.
inline uint32_t decay_bits(double f, double scale, uint32_t generic) {
  if (!(f > 0 && std::isfinite(f) && scale >= 0 && std::isfinite(scale))) return generic;
  const double lim = std::max({1.0, 1 / f, scale > 0 ? 1 / (f * scale) : 1.0});
  return float_bits_up(kMinNormal * kSpare * lim);
}

// SGD with momentum mom, per step: buf' = mom buf at g = 0, p += -lr buf' (nesterov: -lr mom
// buf'), an FMA whose product is normal when |buf| >= mn max(1, 1 / f, 1 / (f lr)), f = mom
// (nesterov: mom^2; 1 / mom is at most max(1, 1 / f)).
inline uint32_t sgd_buf_bits(const OptimParams& o) {
  return decay_bits(o.nesterov ? o.momentum * o.momentum : o.momentum, std::abs(o.lr), kTinyBits);
}

// RMSprop's grad_avg (centered), per step at g = 0: ga' = lerp(ga, g, 1 - a) (an FMA whose product
// is (1 - a) ga or a ga), then sq' - ga'^2 (the product rounded apart without FMA): normal when
// |ga| >= max(mn max(1, 1 / a, 1 / (1 - a)), sqrt(mn) / a) (no 1 / (1 - a) at a = 1: lerp keeps ga).
// The difference a sq - a^2 ga^2 is at least a (1 - a) sq where ga^2 <= sq (as training makes
// them: ga averages g, sq averages g^2), so centered, sq's bound decays by a (1 - a) (a < 1).
inline uint32_t rms_ga_bits(const OptimParams& o) {
  const double a = o.alpha, mn = kMinNormal * kSpare;
  if (!(a > 0 && a <= 1)) return kTinyBits;
  return float_bits_up(std::max({mn / a, a < 1 ? mn / (1 - a) : mn, std::sqrt(mn) / a}));
}

// The element kernels below are written once for a value type V: T itself (float or double), or
// SafeF for float blocks with tiny values. V(x) converts a stored T, T(v) stores one back.

// torch's Vectorized fmadd: one rounding where the CPU has FMA (the AVX2/AVX-512 builds).
template <class V, bool F>
EMBER_INLINE V fmadd(V a, V b, V c) {
  if constexpr (F) return fma_(a, b, c);
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
  template <class V, bool F>
  EMBER_INLINE V apply(V start, V end) const {
    return fmadd<V, F>(V(coef), end - start, select_(small != T(0), start, end));
  }
};

// torch.maximum: NaN in either operand wins (a NaN already in `a` stays: b > NaN is false).
template <class V>
EMBER_INLINE V nan_max(V a, V b) { return select_((b > a) | (b != b), b, a); }

// What every kind does first: the gradient's sign (maximize), then weight decay, either L2 into
// the gradient (g += wd * p) or decoupled (p *= 1 - lr * wd). PLAIN (no weight decay, no
// maximize: the common case) loads p and g as they are, as torch uses them; that also spares the
// SafeF path (subnormal-safe, emulated in double) three emulated operations per element.
template <class T, bool PLAIN>
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
  // NOTE: with maximize or decoupled decay but no L2 decay, an infinite parameter gets a NaN
  // gradient here (0 * inf), where torch would keep it infinite; such a parameter has diverged
  // either way.
  template <class V, bool F>
  EMBER_INLINE void load(int64_t i, V& pi, V& gi) const {
    if constexpr (PLAIN) {
      pi = V(p[i]);
      gi = V(g[i]);
      return;
    }
    pi = V(p[i]) * V(decay);
    gi = V(g[i]) * V(sign);
    gi = fmadd<V, F>(pi, V(wd), gi);
  }
};

// buf = first ? g : momentum * buf + (1 - dampening) * g;  g = nesterov ? g + momentum * buf : buf
// p -= lr * g
template <class T, bool MOM, bool PL>
struct SgdK {
  Common<T, PL> c;
  T* buf;
  T mom, keep, neg_lr;
  T nesterov, first;  // 1 or 0: floats, so the selects are vector compares
  uint32_t buf_bits;  // buf's tiny bound (sgd_buf_bits)
  SgdK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), buf(MOM ? s[0].data<T>() : nullptr), mom(T(o.momentum)), keep(T(1 - o.dampening)),
        neg_lr(T(-o.lr)), nesterov(o.nesterov ? T(1) : T(0)), first(o.first ? T(1) : T(0)),
        buf_bits(sgd_buf_bits(o)) {}
  template <class V, bool F>
  EMBER_INLINE void at(int64_t i) const {
    V pi, gi;
    c.template load<V, F>(i, pi, gi);
    if constexpr (MOM) {
      V b = select_(first != T(0), gi, fmadd<V, F>(gi, V(keep), V(buf[i]) * V(mom)));
      buf[i] = T(b);
      gi = select_(nesterov != T(0), fmadd<V, F>(b, V(mom), gi), b);
    }
    c.p[i] = T(fmadd<V, F>(gi, V(neg_lr), pi));
  }
  EMBER_INLINE int tiny_at(int64_t i) const { return (MOM ? below(float(buf[i]), buf_bits) : 0); }
};

// Adam's moments, shared by Adam, NAdam and RAdam: m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2
template <class T>
struct Moments {
  T *m, *v;
  Lerp<T> w1;
  T b2, omb2;
  Moments(const std::vector<Tensor>& s, const OptimParams& o)
      : m(s[0].data<T>()), v(s[1].data<T>()), w1(1 - o.beta1), b2(T(o.beta2)), omb2(T(1 - o.beta2)) {}
  template <class V, bool F>
  EMBER_INLINE void update(int64_t i, V gi, V& mi, V& vi) const {
    mi = w1.template apply<V, F>(V(m[i]), gi);
    m[i] = T(mi);
    vi = fmadd<V, F>(V(omb2) * gi, gi, V(v[i]) * V(b2));
    v[i] = T(vi);
  }
  EMBER_INLINE int tiny_at(int64_t i, const AdamLimits& lim) const { return lim.mv_tiny(float(m[i]), float(v[i])); }
};

// m = lerp(m, g, 1 - b1); v = b2 v + (1 - b2) g^2; vmax = max(vmax, v) (amsgrad)
// p += -step_size * m / (sqrt(v or vmax) / sqrt(bc2) + eps)     c0 = lr / bc1, c1 = sqrt(bc2)
template <class T, bool AMS, bool PL>
struct AdamK {
  Common<T, PL> c;
  Moments<T> mv;
  T* vmax;
  T bc2_sqrt, eps, neg_step;
  AdamLimits lim;
  AdamK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), mv(s, o), vmax(AMS ? s[2].data<T>() : nullptr), bc2_sqrt(T(o.c1)), eps(T(o.eps)),
        neg_step(T(-o.c0)), lim(o.beta1, o.beta2, o.c0, o.c1, o.eps) {}
  template <class V, bool F>
  EMBER_INLINE void at(int64_t i) const {
    V pi, gi, mi, vi;
    c.template load<V, F>(i, pi, gi);
    mv.template update<V, F>(i, gi, mi, vi);
    if constexpr (AMS) {
      vi = nan_max(V(vmax[i]), vi);
      vmax[i] = T(vi);
    }
    // sqrt(v) is 0 or >= 2^-75 and bc2_sqrt is in (0, 1]: the quotient is normal or 0
    const V denom = div_normal(sqrt_(vi), V(bc2_sqrt)) + V(eps);
    c.p[i] = T(pi + (V(neg_step) * mi) / denom);
  }
  EMBER_INLINE int tiny_at(int64_t i) const {
    const float vi = float(mv.v[i]), vm = AMS ? float(vmax[i]) : vi;
    const uint32_t ev = std::max(abs_bits(vi), abs_bits(vm)) >> 23;
    return lim.m_tiny(float(mv.m[i]), ev) | lim.s_tiny(vi) | (AMS ? lim.s_tiny(vm) : 0);
  }
};

// sum += g^2; p += -clr * g / (sqrt(sum) + eps)                 c0 = clr
template <class T, bool PL>
struct AdagradK {
  Common<T, PL> c;
  T* sum;
  T eps, neg_clr;
  AdagradK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), sum(s[0].data<T>()), eps(T(o.eps)), neg_clr(T(-o.c0)) {}
  template <class V, bool F>
  EMBER_INLINE void at(int64_t i) const {
    V pi, gi;
    c.template load<V, F>(i, pi, gi);
    const V si = fmadd<V, F>(V(T(1)) * gi, gi, V(sum[i]));
    sum[i] = T(si);
    c.p[i] = T(pi + (V(neg_clr) * gi) / (sqrt_(si) + V(eps)));
  }
  EMBER_INLINE int tiny_at(int64_t i) const { return below(float(sum[i]), kTinySqBits); }
};

// sq = a sq + (1 - a) g^2; ga = lerp(ga, g, 1 - a) (centered); avg = sqrt(sq - ga^2) + eps
// buf = momentum buf + g / avg, p -= lr buf (momentum > 0); else p -= lr g / avg
template <class T, bool CENTERED, bool MOM, bool PL>
struct RmspropK {
  Common<T, PL> c;
  T *sq, *ga, *buf;
  T a, oma, eps, mom, neg_lr;
  Lerp<T> lerp_ga;
  uint32_t sq_bits, ga_bits, buf_bits;  // the state's tiny bounds (decay_bits, rms_ga_bits)
  RmspropK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), sq(s[0].data<T>()), ga(CENTERED ? s[1].data<T>() : nullptr),
        buf(MOM ? s[2].data<T>() : nullptr), a(T(o.alpha)), oma(T(1 - o.alpha)), eps(T(o.eps)),
        mom(T(o.momentum)), neg_lr(T(-o.lr)), lerp_ga(1 - o.alpha),
        sq_bits(decay_bits(CENTERED && o.alpha < 1 ? o.alpha * (1 - o.alpha) : o.alpha, 0, kTinySqBits)),
        ga_bits(rms_ga_bits(o)),
        buf_bits(decay_bits(o.momentum, std::abs(o.lr), kTinyBits)) {}
  template <class V, bool F>
  EMBER_INLINE void at(int64_t i) const {
    V pi, gi;
    c.template load<V, F>(i, pi, gi);
    const V si = fmadd<V, F>(V(oma) * gi, gi, V(sq[i]) * V(a));
    sq[i] = T(si);
    V avg;
    if constexpr (CENTERED) {
      const V gai = lerp_ga.template apply<V, F>(V(ga[i]), gi);
      ga[i] = T(gai);
      avg = sqrt_(fmadd<V, F>(V(T(-1)) * gai, gai, si));
    } else {
      avg = sqrt_(si);
    }
    avg = avg + V(eps);
    if constexpr (MOM) {
      const V b = V(buf[i]) * V(mom) + gi / avg;
      buf[i] = T(b);
      c.p[i] = T(fmadd<V, F>(b, V(neg_lr), pi));
    } else {
      c.p[i] = T(pi + (V(neg_lr) * gi) / avg);
    }
  }
  EMBER_INLINE int tiny_at(int64_t i) const {
    return below(float(sq[i]), sq_bits) | (CENTERED ? below(float(ga[i]), ga_bits) : 0) |
           (MOM ? below(float(buf[i]), buf_bits) : 0);
  }
};

// sq = rho sq + (1 - rho) g^2; d = sqrt(acc + eps) / sqrt(sq + eps) * g;
// acc = rho acc + (1 - rho) d^2; p -= lr d                      rho in alpha
template <class T, bool PL>
struct AdadeltaK {
  Common<T, PL> c;
  T *sq, *acc;
  T rho, omr, eps, neg_lr;
  uint32_t s_bits;  // sq's and acc's tiny bound: both decay by rho at g = 0 (decay_bits)
  AdadeltaK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), sq(s[0].data<T>()), acc(s[1].data<T>()), rho(T(o.alpha)), omr(T(1 - o.alpha)),
        eps(T(o.eps)), neg_lr(T(-o.lr)), s_bits(decay_bits(o.alpha, 0, kTinySqBits)) {}
  template <class V, bool F>
  EMBER_INLINE void at(int64_t i) const {
    V pi, gi;
    c.template load<V, F>(i, pi, gi);
    const V si = fmadd<V, F>(V(omr) * gi, gi, V(sq[i]) * V(rho));
    sq[i] = T(si);
    const V std_ = sqrt_(si + V(eps));
    const V acci = V(acc[i]);
    V d = sqrt_(acci + V(eps));
    d = (d / std_) * gi;
    acc[i] = T(fmadd<V, F>(V(omr) * d, d, acci * V(rho)));
    c.p[i] = T(fmadd<V, F>(d, V(neg_lr), pi));
  }
  EMBER_INLINE int tiny_at(int64_t i) const { return below(float(sq[i]), s_bits) | below(float(acc[i]), s_bits); }
};

// m = lerp(m, g, 1 - b1); u = max(b2 u, |g| + eps); p += -clr * m / u      c0 = lr / bc1
template <class T, bool PL>
struct AdamaxK {
  Common<T, PL> c;
  T *m, *u;
  Lerp<T> w1;
  T b2, eps, neg_clr;
  MomentLimits<false> lim;
  AdamaxK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), m(s[0].data<T>()), u(s[1].data<T>()), w1(1 - o.beta1), b2(T(o.beta2)), eps(T(o.eps)),
        neg_clr(T(-o.c0)), lim(o.beta1, o.beta2, o.c0, 1, o.eps) {}
  template <class V, bool F>
  EMBER_INLINE void at(int64_t i) const {
    V pi, gi;
    c.template load<V, F>(i, pi, gi);
    const V mi = w1.template apply<V, F>(V(m[i]), gi);
    m[i] = T(mi);
    const V ui = nan_max(V(u[i]) * V(b2), abs_(gi) + V(eps));
    u[i] = T(ui);
    c.p[i] = T(pi + (V(neg_clr) * mi) / ui);
  }
  EMBER_INLINE int tiny_at(int64_t i) const { return lim.mv_tiny(float(m[i]), float(u[i])); }
};

// m, v as Adam; denom = sqrt(v / bc2) + eps; p += c1 g / denom; p += c2 m / denom   c0 = bc2
template <class T, bool PL>
struct NadamK {
  Common<T, PL> c;
  Moments<T> mv;
  T bc2, eps, cg, cm;
  AdamLimits lim;
  NadamK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), mv(s, o), bc2(T(o.c0)), eps(T(o.eps)), cg(T(o.c1)), cm(T(o.c2)),
        lim(o.beta1, o.beta2, o.c2, o.c0 > 0 ? std::sqrt(o.c0) : 0, o.eps) {}
  template <class V, bool F>
  EMBER_INLINE void at(int64_t i) const {
    V pi, gi, mi, vi;
    c.template load<V, F>(i, pi, gi);
    mv.template update<V, F>(i, gi, mi, vi);
    const V denom = sqrt_(vi / V(bc2)) + V(eps);
    pi = pi + (V(cg) * gi) / denom;
    c.p[i] = T(pi + (V(cm) * mi) / denom);
  }
  EMBER_INLINE int tiny_at(int64_t i) const { return mv.tiny_at(i, lim); }
};

// m, v as Adam; mh = m / bc1; rectified: p -= mh lr (1 / (sqrt(v) + eps) * sqrt(bc2)) rect,
// else p -= mh lr                              c0 = bc1, c1 = sqrt(bc2), c2 = rect, flag = rectified
template <class T, bool PL>
struct RadamK {
  Common<T, PL> c;
  Moments<T> mv;
  T bc1, bc2_sqrt, rect, eps, lr;
  T rectified;  // 1 or 0
  AdamLimits lim;
  RadamK(const Tensor& p, const Tensor& g, const std::vector<Tensor>& s, const OptimParams& o)
      : c(p, g, o), mv(s, o), bc1(T(o.c0)), bc2_sqrt(T(o.c1)), rect(T(o.c2)), eps(T(o.eps)), lr(T(o.lr)),
        rectified(o.flag ? T(1) : T(0)),
        lim(o.beta1, o.beta2, o.lr / o.c0 * (o.flag ? std::min(1.0, o.c2) : 1.0), o.c1,
            o.c1 > 0 ? o.eps / o.c1 : 0) {}
  template <class V, bool F>
  EMBER_INLINE void at(int64_t i) const {
    V pi, gi, mi, vi;
    c.template load<V, F>(i, pi, gi);
    mv.template update<V, F>(i, gi, mi, vi);
    const V step = (mi / V(bc1)) * V(lr);
    const V adaptive = (V(T(1)) / (sqrt_(vi) + V(eps))) * V(bc2_sqrt);
    c.p[i] = T(pi - select_(rectified != T(0), (step * adaptive) * V(rect), step));
  }
  EMBER_INLINE int tiny_at(int64_t i) const { return mv.tiny_at(i, lim); }
};

// The loop, compiled per ISA (see loops.h): FMA where the target has it. Float parameters go in
// blocks of 512. A block after a clean one (no tiny state) runs the float kernel fused with the
// count of tiny values. A block after one that held tiny state goes in 16-element chunks: each
// chunk that holds tiny state runs on SafeF, the others on the float kernel. A vector with one
// subnormal lane pays the assist for all 16 (Sapphire Rapids: the float kernel meeting subnormals
// costs about 45 + 330 f us for 61k Adam elements, f the share of its vectors holding one; SafeF
// ~5x the float kernel on any data: 240 us), so the chunk is the unit that matters. Tiny state clusters (a dead
// unit's row of weights, the column of a dead input in the next layer), and LeNet's Adam state
// after 2000 steps has 24% tiny elements in 36% of the chunks; before this, whole blocks went on
// one path or the other, and the mixed ones ran float with assists (Adam step 180 us, 1 thread).
// The clean case keeps its one fused pass. Either way the bits are the same. `mode` (see
// subnormal_path): 0 as above, 1 the float kernel everywhere (one plain pass: no tiny state is
// counted, since nothing would use the count), 2 SafeF everywhere.

#define EMBER_OPTIM_LOOP_(NS, ATTR, FMA)                                                        \
  namespace NS {                                                                                \
  template <class K>                                                                            \
  ATTR void run(const K& kernel, int64_t begin, int64_t end, int mode) {                        \
    using T = std::remove_pointer_t<decltype(kernel.c.p)>;                                      \
    const K k = kernel;                                                                         \
    if constexpr (!std::is_same_v<T, float>) {                                                  \
      _Pragma("omp simd") for (int64_t i = begin; i < end; ++i) k.template at<T, FMA>(i);       \
    } else {                                                                                    \
      constexpr int64_t kBlock = 512, kChunk = 16;                                              \
      if (mode == 2) {                                                                          \
        _Pragma("omp simd") for (int64_t i = begin; i < end; ++i) k.template at<SafeF, FMA>(i); \
        return;                                                                                 \
      }                                                                                         \
      if (mode == 1) { /* the float kernel everywhere: no tiny state to count */                \
        _Pragma("omp simd") for (int64_t i = begin; i < end; ++i) k.template at<T, FMA>(i);     \
        return;                                                                                 \
      }                                                                                         \
      /* the path for the next block: 0 float (fused count of tiny elements), 1 per chunk, */   \
      /* 2 SafeF (after a block all tiny: a dead unit's row); the first block goes per chunk */   \
      int path = 1;                                                                             \
      for (int64_t b = begin; b < end; b += kBlock) {                                           \
        const int64_t e = std::min(end, b + kBlock);                                            \
        int tiny_n = 0, all = 0;                                                                \
        if (path == 0) {                                                                        \
          _Pragma("omp simd reduction(+:tiny_n)") for (int64_t i = b; i < e; ++i) {            \
            tiny_n += k.tiny_at(i); /* first: its loads are the update's, before the stores */  \
            k.template at<T, FMA>(i);                                                           \
          }                                                                                     \
        } else if (path == 2) {                                                                 \
          _Pragma("omp simd reduction(+:tiny_n)") for (int64_t i = b; i < e; ++i) {            \
            tiny_n += k.tiny_at(i);                                                             \
            k.template at<SafeF, FMA>(i);                                                       \
          }                                                                                     \
          all = tiny_n == e - b;                                                                \
        } else {                                                                                \
          for (int64_t c = b; c < e; c += kChunk) {                                             \
            const int64_t ce = std::min(e, c + kChunk);                                         \
            int t = 0;                                                                          \
            _Pragma("omp simd reduction(|:t)") for (int64_t i = c; i < ce; ++i) t |= k.tiny_at(i); \
            if (t) {                                                                            \
              ++tiny_n;                                                                         \
              _Pragma("omp simd") for (int64_t i = c; i < ce; ++i) k.template at<SafeF, FMA>(i); \
            } else {                                                                            \
              _Pragma("omp simd") for (int64_t i = c; i < ce; ++i) k.template at<T, FMA>(i);    \
            }                                                                                   \
          }                                                                                     \
          all = tiny_n == (e - b + kChunk - 1) / kChunk;                                        \
        }                                                                                       \
        path = tiny_n == 0 ? 0 : all ? 2 : 1;                                                   \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  }
EMBER_OPTIM_LOOP_(optim_base, , false)
#if defined(__x86_64__) && defined(__GNUC__)
EMBER_OPTIM_LOOP_(optim_avx2, __attribute__((target("avx2,fma"))), true)
EMBER_OPTIM_LOOP_(optim_avx512,
                  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512"))),
                  true)
#endif

constexpr int64_t kGrain = 1 << 15;  // elements per thread: the update is memory-bound
// Threads take pieces of 2048 elements or more, balanced at run time (parallel_pieces): SafeF
// chunks cost ~5x float ones, and they cluster in some parameters (LeNet's Adam after 2000 steps,
// split in halves: 52 against 79 us on the two threads).
constexpr int64_t kPiece = 2048;

// One parameter's update over an element range [b, e), for the CPU's ISA.
using Runner = std::function<void(int64_t, int64_t)>;

template <class K>
Runner runner(const K& k, int mode) {
  const Isa isa = cpu_isa();
  return [k, isa, mode](int64_t b, int64_t e) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (isa == Isa::Avx512) return optim_avx512::run(k, b, e, mode);
    if (isa == Isa::Avx2) return optim_avx2::run(k, b, e, mode);
#endif
    optim_base::run(k, b, e, mode);
  };
}

// Whether float kernels meet subnormals cheaply on this CPU: times Adam's float kernel and its
// SafeF twin on state that is all subnormal (a dead unit's, gradient 0), best of 7 runs each,
// and keeps the float kernel everywhere (mode 1) if it is the faster one, else goes chunk by chunk
// (mode 0). On this project's Zen 4 machine a vector multiply, FMA or add on subnormals costs what
// it does on normal floats (division and square root ~2x), and the float kernel wins ~4x; on
// Intel each such vector op takes a microcode assist (~40 ns), and SafeF wins ~1.5x. Either
// choice gives the same bits, so a misjudged run (a preempted timing) costs time only.
int calibrate_subnormal_path() {
  constexpr int64_t n = 4096;
  const Tensor p = Tensor::empty({n}, DType::Float32), g = Tensor::empty({n}, DType::Float32);
  const std::vector<Tensor> s{Tensor::empty({n}, DType::Float32), Tensor::empty({n}, DType::Float32)};
  std::fill_n(p.data<float>(), n, 1.0f);
  std::fill_n(g.data<float>(), n, 0.0f);
  std::fill_n(s[0].data<float>(), n, 0x1p-140f);
  std::fill_n(s[1].data<float>(), n, 0x1p-135f);
  OptimParams o;
  o.lr = 1e-3;
  o.beta1 = 0.9;
  o.beta2 = 0.999;
  o.eps = 1e-8;
  o.c0 = o.lr / (1 - o.beta1);
  o.c1 = std::sqrt(1 - o.beta2);
  const AdamK<float, false, true> k(p, g, s, o);
  const Runner on_float = runner(k, 1), on_safe = runner(k, 2);
  double best_float = 1e30, best_safe = 1e30;
  for (int rep = 0; rep < 7; ++rep) {
    for (int which = 0; which < 2; ++which) {
      const auto t0 = std::chrono::steady_clock::now();
      (which ? on_safe : on_float)(0, n);
      const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double& best = which ? best_safe : best_float;
      best = std::min(best, t);
    }
  }
  return best_float < best_safe ? 1 : 0;
}

// The float32 path: EMBER_OPTIM_SUBNORMAL=float (the float kernel everywhere), safe (SafeF
// everywhere) or chunk (by the state's bounds, chunk by chunk: see run) pins it (tests, benchmarks;
// read at each step); else the calibrated choice, made at the first step.
}  // namespace

int subnormal_path() {
  const char* e = std::getenv("EMBER_OPTIM_SUBNORMAL");
  if (e && std::strcmp(e, "float") == 0) return 1;
  if (e && std::strcmp(e, "safe") == 0) return 2;
  if (e && std::strcmp(e, "chunk") == 0) return 0;
  static const int calibrated = calibrate_subnormal_path();
  return calibrated;
}

namespace {

// Calls f with the kernel object for a job (its options resolved to template arguments).
template <class T, bool PL, class F>
auto with_kernel(OptimKind kind, const OptimJob& j, F&& f) {
  const Tensor &p = j.param, &g = j.grad;
  const std::vector<Tensor>& s = j.state;
  const OptimParams& o = j.p;
  switch (kind) {
    case OptimKind::SGD:
      if (o.momentum != 0) return f(SgdK<T, true, PL>(p, g, s, o));
      return f(SgdK<T, false, PL>(p, g, s, o));
    case OptimKind::Adam:
      if (o.amsgrad) return f(AdamK<T, true, PL>(p, g, s, o));
      return f(AdamK<T, false, PL>(p, g, s, o));
    case OptimKind::Adagrad: return f(AdagradK<T, PL>(p, g, s, o));
    case OptimKind::RMSprop: {
      const bool mom = o.momentum > 0;
      if (o.centered && mom) return f(RmspropK<T, true, true, PL>(p, g, s, o));
      if (o.centered) return f(RmspropK<T, true, false, PL>(p, g, s, o));
      if (mom) return f(RmspropK<T, false, true, PL>(p, g, s, o));
      return f(RmspropK<T, false, false, PL>(p, g, s, o));
    }
    case OptimKind::Adadelta: return f(AdadeltaK<T, PL>(p, g, s, o));
    case OptimKind::Adamax: return f(AdamaxK<T, PL>(p, g, s, o));
    case OptimKind::NAdam: return f(NadamK<T, PL>(p, g, s, o));
    case OptimKind::RAdam: return f(RadamK<T, PL>(p, g, s, o));
  }
  throw RuntimeError("optim_step: unknown optimizer kind");
}

template <class T, class F>
auto with_kernel(OptimKind kind, const OptimJob& j, F&& f) {
  if (j.p.weight_decay == 0 && !j.p.maximize) return with_kernel<T, true>(kind, j, f);
  return with_kernel<T, false>(kind, j, f);
}

template <class T>
Runner make_runner(OptimKind kind, const OptimJob& j, int mode) {
  return with_kernel<T>(kind, j, [mode](const auto& k) { return runner(k, mode); });
}

}  // namespace

Tensor optim_tiny_mask(OptimKind kind, const OptimJob& job) {
  EMBER_CHECK(job.param.dtype() == DType::Float32 && job.param.is_contiguous(), TypeError,
              "optim_tiny_mask: expected a contiguous float32 parameter, got ", job.param.dtype());
  const int64_t n = job.param.numel();
  const Tensor out = Tensor::empty(job.param.shape(), DType::Bool);
  auto* o = out.data<bool>();
  with_kernel<float>(kind, job, [&](const auto& k) {
    for (int64_t i = 0; i < n; ++i) o[i] = k.tiny_at(i) != 0;
  });
  return out;
}

// Threads: each parameter is cut into nt equal parts (at 16-element boundaries), part t of every
// parameter on thread t: the rows a thread updates are those its GEMMs read in the forward (the
// weight as B^T, split by output feature) and write in the backward (the weight gradient, split by
// rows, see gemm.cpp's grid_rows), so they stay in that core's L2 from step to step. (With the
// parameters laid end to end and cut in halves, the MLP's SGD step took 88 us at 2 threads in a
// training loop against 46 alone.) The parts go in pieces balanced at run time (parallel_pieces).
void optim_step(OptimKind kind, const std::vector<OptimJob>& jobs) {
  std::vector<Runner> run;
  std::vector<int64_t> numel;
  run.reserve(jobs.size());
  numel.reserve(jobs.size());
  int64_t total = 0;
  const int mode = subnormal_path();
  for (const OptimJob& j : jobs) {
    const int64_t n = j.param.numel();
    if (n == 0) continue;
    dispatch_float(j.param.dtype(), "optim_step", [&](auto tag) {
      run.push_back(make_runner<decltype(tag)>(kind, j, mode));
    });
    numel.push_back(n);
    total += n;
  }
  const int nt = static_cast<int>(std::min<int64_t>(get_num_threads(), (total + kGrain - 1) / kGrain));
  if (nt <= 1 || in_parallel_region()) {
    for (size_t i = 0; i < run.size(); ++i) run[i](0, numel[i]);
    return;
  }
  // pieces of 2048 elements, or of 1/16 of a thread's share when larger: each piece's first block goes
  // chunk by chunk (see run), a cost that many small pieces of a large step would add up
  const int64_t piece = std::max<int64_t>(kPiece, total / (16 * nt) / 512 * 512);
  struct Piece {
    size_t job;
    int64_t b, e;
  };
  std::vector<Piece> pieces;
  std::vector<int64_t> home{0};
  for (int t = 0; t < nt; ++t) {
    for (size_t i = 0; i < run.size(); ++i) {
      const int64_t n = numel[i];
      const int64_t b = t == 0 ? 0 : n * t / nt / 16 * 16, e = t == nt - 1 ? n : n * (t + 1) / nt / 16 * 16;
      for (int64_t k = b; k < e; k += piece) pieces.push_back({i, k, std::min(e, k + piece)});
    }
    home.push_back(static_cast<int64_t>(pieces.size()));
  }
  parallel_pieces(home.data(), nt, [&](int64_t k) {
    const Piece& p = pieces[static_cast<size_t>(k)];
    run[p.job](p.b, p.e);
  });
}

}  // namespace ember::cpu

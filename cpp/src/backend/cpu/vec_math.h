// Branch-free float32 transcendentals for the CPU kernels. Every function is straight-line
// arithmetic plus selects, so it vectorises inside `#pragma omp simd` loops (the including file
// compiles with -fno-trapping-math so the selects if-convert into blends); the ISA comes from the
// caller's target attribute (loops.h). Special values follow libm/torch: NaN in -> NaN out, and
// the infinities and zeros noted per function. No -ffast-math: results are IEEE operations only.
// Accuracy: max error in ulps of the float32 result against float64 libm, measured over every
// 61st float32 bit pattern in the baseline, AVX2+FMA and AVX-512 builds (worst of the three);
// tests/test_vec_math.py re-checks the bounds on a coarser sweep plus edge values, per ISA.
// Subnormal results are measured in units of 2^-149.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

// always_inline: the omp simd loops only vectorise when the whole body is inlined into them.
#if defined(__GNUC__)
#define EMBER_VM_INLINE inline __attribute__((always_inline))
#else
#define EMBER_VM_INLINE inline
#endif

namespace ember::cpu {

namespace vm_detail {
EMBER_VM_INLINE float from_bits(int32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof(f));
  return f;
}
EMBER_VM_INLINE int32_t to_bits(float f) {
  int32_t b;
  std::memcpy(&b, &f, sizeof(b));
  return b;
}
EMBER_VM_INLINE float pow2i(int32_t n) { return from_bits((n + 127) << 23); }  // n in [-126, 127]
constexpr float kInf = HUGE_VALF;

// Shared core of log/log2/log1p: x = 2^e * (1 + f) with f in [sqrt(.5)-1, sqrt(2)-1), returns
// f and the Cephes logf polynomial tail y, so log(1 + f) = f + y. x must be finite and > 0
// (callers select the special values); subnormals are rescaled by 2^23 first.
EMBER_VM_INLINE void log_reduce(float x, float& e, float& f, float& y) {
  const bool sub = x < 1.17549435e-38f;
  x = sub ? x * 8388608.0f : x;
  const int32_t b = to_bits(x);
  float m = from_bits((b & 0x807fffff) | 0x3f000000);  // [0.5, 1)
  float ee = static_cast<float>(((b >> 23) & 0xff) - 126) - (sub ? 23.0f : 0.0f);
  const bool lo = m < 0.707106781186547524f;
  ee = lo ? ee - 1.0f : ee;
  f = lo ? (m + m) - 1.0f : m - 1.0f;
  const float z = f * f;
  float p = 7.0376836292E-2f;
  p = p * f - 1.1514610310E-1f;
  p = p * f + 1.1676998740E-1f;
  p = p * f - 1.2420140846E-1f;
  p = p * f + 1.4249322787E-1f;
  p = p * f - 1.6668057665E-1f;
  p = p * f + 2.0000714765E-1f;
  p = p * f - 2.4999993993E-1f;
  p = p * f + 3.3333331174E-1f;
  y = p * f * z - 0.5f * z;
  e = ee;
}

// Shared core of exp/expm1: x = n ln2 + r, |r| <= ln2/2 (Cody-Waite two-constant reduction;
// n * 0.693359375 is exact for |n| < 2^15). x must be clamped to |x| < 2^21 by the caller.
EMBER_VM_INLINE float exp_reduce(float x, float& r) {
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  return n;
}
}  // namespace vm_detail

namespace vm_detail {
// exp(r) for |r| <= ln2/2 (a little beyond stays within 1 ulp): Cephes expf polynomial.
EMBER_VM_INLINE float exp_poly(float r) {
  const float z = r * r;
  float y = 1.9875691500E-4f;
  y = y * r + 1.3981999507E-3f;
  y = y * r + 8.3334519073E-3f;
  y = y * r + 4.1665795894E-2f;
  y = y * r + 1.6666665459E-1f;
  y = y * r + 5.0000001201E-1f;
  return y * z + r + 1.0f;
}
// y * 2^n for integral n in [-300, 254], scaled in two steps (both halves are normal powers of 2)
// so that subnormal results are rounded once, correctly.
EMBER_VM_INLINE float scale_pow2(float y, float n) {
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t n1 = ni >> 1;  // floor(n / 2)
  return (y * pow2i(n1)) * pow2i(ni - n1);
}
}  // namespace vm_detail

// exp(x): Cephes expf polynomial on |r| <= ln2/2, scaled by 2^n in two steps so that results
// down to 2^-149 come out as correctly scaled subnormals. x is clamped to [-104, 89], and the
// clamped ends need no selects: exp(-104) rounds to 0 and 2^128 times the polynomial overflows to
// inf. Max error 1 ulp (scalar, AVX2+FMA and AVX-512 builds).
EMBER_VM_INLINE float exp_f32(float x) {
  using namespace vm_detail;
  float xc = x > -104.0f ? x : -104.0f;  // NaN -> -104 here (kept finite for the int conversion)
  xc = xc < 89.0f ? xc : 89.0f;
  float r;
  const float n = exp_reduce(xc, r);
  const float res = scale_pow2(exp_poly(r), n);
  return x != x ? x : res;
}

namespace vm_detail {
// m * exp(v + lo) for v <= 0 or NaN (NaN passes the clamp), lo a small correction that joins the
// reduced argument: exp_f32 without its overflow and NaN selects. 2^n comes from the low bits of
// the rounding sum, biased by 64 and undone by a last multiply by 2^-64, and m is applied before
// it, so subnormal results round once; v <= -104 gives 0. Same error as exp_f32 for m = 1.
EMBER_VM_INLINE float exp_nonpos(float v, float lo = -0.0f, float m = 1.0f) {
  v = v < -104.0f ? -104.0f : v;
  constexpr float kShift = 12582912.0f + 191.0f;  // 1.5 * 2^23 + 127 + 64
  const float nb = (v + lo) * 1.44269504088896341f + kShift;  // round to nearest, n in [-150, 0]
  const float n = nb - kShift;
  const float r = ((v - n * 0.693359375f) - n * -2.12194440e-4f) + lo;  // v - n*C1 is exact
  const float pow2n64 = from_bits(static_cast<int32_t>(static_cast<uint32_t>(to_bits(nb)) << 23));
  return ((m * exp_poly(r)) * pow2n64) * 5.42101086242752217e-20f;
}
}  // namespace vm_detail

// exp for kernels templated on the float type: libm for double.
inline double exp_any(double x) { return std::exp(x); }
EMBER_VM_INLINE float exp_any(float x) { return exp_f32(x); }

// exp(x) - 1: expm1(r) by its Taylor series to r^9 (truncation < 2^-30 relative on
// |r| <= ln2/2), then 2^n * expm1(r) + (2^n - 1) with 2^n applied as 2 * 2^(n-1) so n = 128
// cannot overflow the scale. Exact for tiny x (returns x, keeps -0); expm1(-inf) = -1.
// Max error 1.4 ulp.
EMBER_VM_INLINE float expm1_f32(float x) {
  using namespace vm_detail;
  float xc = x > -18.0f ? x : -18.0f;  // expm1(-18) rounds to -1
  xc = xc < 89.0f ? xc : 89.0f;
  float r;
  const float n = exp_reduce(xc, r);
  float q = 2.75573192e-6f;  // 1/9!
  q = q * r + 2.48015873e-5f;
  q = q * r + 1.98412698e-4f;
  q = q * r + 1.38888889e-3f;
  q = q * r + 8.33333333e-3f;
  q = q * r + 4.16666667e-2f;
  q = q * r + 1.66666667e-1f;
  q = q * r + 0.5f;
  const float p = (r * r) * q + r;  // expm1(r)
  const float s = pow2i(static_cast<int32_t>(n) - 1);
  float res = (s * p + (s - 0.5f)) * 2.0f;
  res = n == 0.0f ? p : res;       // keeps tiny x exact
  res = x == 0.0f ? x : res;       // -0 (r = -0 - 0 * ln2 is +0)
  res = x > 88.7228391f ? kInf : res;
  return x != x ? x : res;
}

// log(x): Cephes logf (degree-9 polynomial on [sqrt(.5), sqrt(2))), subnormals rescaled.
// log(0) = -inf, log(x < 0) = NaN, log(inf) = inf. Max error 1 ulp.
EMBER_VM_INLINE float log_f32(float x) {
  using namespace vm_detail;
  float e, f, y;
  log_reduce(x, e, f, y);
  float res = (f + (y - 2.12194440e-4f * e)) + 0.693359375f * e;
  res = x == kInf ? kInf : res;
  res = x == 0.0f ? -kInf : res;
  res = x < 0.0f ? NAN : res;
  return x != x ? x : res;
}

// cos(2 pi u) and sin(2 pi u) for u in [0, 1] (Box-Muller's angle): the quadrant comes from
// 4u exactly (q = round(4u), f = 4u - q in [-1/2, 1/2] with no rounding), then Cephes' sinf/cosf
// polynomials on r = f pi/2 in [-pi/4, pi/4]. About 1 ulp; no argument reduction error.
EMBER_VM_INLINE void sincos_2pi_f32(float u, float& c, float& s) {
  const float t = 4.0f * u;
  const float q = std::nearbyint(t);
  const float r = (t - q) * 1.57079632679489662f;
  const float z = r * r;
  float ps = -1.9515295891e-4f;
  ps = ps * z + 8.3321608736e-3f;
  ps = ps * z - 1.6666654611e-1f;
  const float sr = r + r * z * ps;
  float pc = 2.443315711809948e-5f;
  pc = pc * z - 1.388731625493765e-3f;
  pc = pc * z + 4.166664568298827e-2f;
  const float cr = 1.0f - 0.5f * z + z * z * pc;
  const int32_t k = static_cast<int32_t>(q) & 3;  // quadrant: (cos, sin) = (cr, sr) rotated k times
  c = k == 0 ? cr : k == 1 ? -sr : k == 2 ? -cr : sr;
  s = k == 0 ? sr : k == 1 ? cr : k == 2 ? -sr : -cr;
}

// log2(x) = e + log(1 + f) * log2(e), with log2(e) split into a float and a correction term.
// Special values as log. Max error 1.9 ulp (0.9 with FMA).
EMBER_VM_INLINE float log2_f32(float x) {
  using namespace vm_detail;
  float e, f, y;
  log_reduce(x, e, f, y);
  const float l2e_hi = 1.44269502162933349609f, l2e_lo = 1.92596299112661746e-8f;
  float res = e + (f * l2e_hi + (y * l2e_hi + (f + y) * l2e_lo));
  res = x == kInf ? kInf : res;
  res = x == 0.0f ? -kInf : res;
  res = x < 0.0f ? NAN : res;
  return x != x ? x : res;
}

// log(1 + x): log(u) * x / (u - 1) with u = fl(1 + x) (Goldberg's correction for the rounding
// of u); x itself where u == 1. log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(inf) = inf.
// Max error 2.4 ulp.
EMBER_VM_INLINE float log1p_f32(float x) {
  const float u = 1.0f + x;
  const float um1 = u - 1.0f;
  float res = log_f32(u) * (x / (um1 == 0.0f ? 1.0f : um1));
  res = um1 == 0.0f ? x : res;
  return x == vm_detail::kInf ? x : res;
}

// sigmoid(x) = (x >= 0 ? 1 : e) / (1 + e) with e = exp(-|x|): no overflow on either tail, and
// subnormal results for x in (-103.9, -87.3). sigmoid(-inf) = 0, sigmoid(inf) = 1. Max 2.3 ulp.
EMBER_VM_INLINE float sigmoid_f32(float x) {
  const float e = vm_detail::exp_nonpos(-std::fabs(x));
  return (x >= 0.0f ? 1.0f : e) / (1.0f + e);
}

// silu(x) = x * sigmoid(x); silu(-inf) = NaN (-inf * 0), as torch. Max error 3 ulp for x >= -87;
// below, sigmoid(x) is subnormal and its few bits, scaled by |x|, give up to 52 ulp (torch: 0).
EMBER_VM_INLINE float silu_f32(float x) { return x * sigmoid_f32(x); }

// tanh(x), a = |x|: below 0.75, a + a s P(s) with s = a^2, P a degree-5 fit of
// (tanh(a)/a - 1)/s; above, 1 - 2/(exp(2a) + 1), whose rounding errors are damped by
// (1 - tanh)/tanh <= 0.58. a is clamped to 9.1 (tanh rounds to 1 from 9.01), so exp(2a) needs no
// range checks: 2^n is normal. NaN passes the clamp; tanh(+-inf) = +-1, tanh(-0) = -0.
// Max error 1.1 ulp.
EMBER_VM_INLINE float tanh_f32(float x) {
  using namespace vm_detail;
  float a = std::fabs(x);
  a = a > 9.1f ? 9.1f : a;
  const float s = a * a;
  float p = 0.0019210146274417639f;
  p = p * s - 0.007951623760163784f;
  p = p * s + 0.021625341847538948f;
  p = p * s - 0.05393831804394722f;
  p = p * s + 0.1333320438861847f;
  p = p * s - 0.3333333134651184f;
  const float small = a + a * (s * p);
  // exp(2a), n in [0, 27]: 2^n is normal, so one scaling from the rounding sum's low bits (no int
  // conversion of NaN). Not exp_nonpos(-2a) with (1 - e)/(1 + e): 1.5 ulp and 15% slower.
  constexpr float kShift = 12582912.0f + 127.0f;  // 1.5 * 2^23 + 127
  const float nb = (a + a) * 1.44269504088896341f + kShift;
  const float n = nb - kShift;
  const float r = ((a + a) - n * 0.693359375f) - n * -2.12194440e-4f;
  const float pow2n = from_bits(static_cast<int32_t>(static_cast<uint32_t>(to_bits(nb)) << 23));
  const float big = 1.0f - 2.0f / (exp_poly(r) * pow2n + 1.0f);
  return std::copysign(a < 0.75f ? small : big, x);
}

// softplus(x) = log1p(exp(x)), x itself above torch's threshold 20. Max error 2.7 ulp.
EMBER_VM_INLINE float softplus_f32(float x) { return x > 20.0f ? x : log1p_f32(exp_f32(x)); }

// gelu, tanh approximation: 0.5 x (1 + tanh(u)) = x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715
// x^3); the sigmoid form has no cancellation for negative x (torch's 1 + tanh form does).
// Max error 14 ulp for x >= -3: the float32 rounding of u (~2^-23 relative) is amplified |2u|
// times by the sigmoid's tail; 193 ulp at x = -10 (torch's 1 + tanh form is far worse there).
EMBER_VM_INLINE float gelu_tanh_f32(float x) {
  const float z = x * (1.5957691216057308f + 0.0713548162726009f * (x * x));
  return x * sigmoid_f32(z);
}

namespace vm_detail {
// erf(a) = a + a * Q(a^2) for |a| <= 1, Q a degree-6 fit of erf(a)/a - 1.
EMBER_VM_INLINE float erf_small(float a) {
  const float s = a * a;
  float q = 7.964395626913756e-05f;
  q = q * s - 0.0008037578663788736f;
  q = q * s + 0.005190597847104073f;
  q = q * s - 0.02685444988310337f;
  q = q * s + 0.1128358319401741f;
  q = q * s - 0.376126229763031f;
  q = q * s + 0.12837916612625122f;
  return a + a * q;
}
}  // namespace vm_detail

// erf(x), a = |x|: erf_small for a < 1; else 1 - exp(-a^2) * R(a), R a degree-8 fit of
// erfc(a) exp(a^2) in t = 1/(1 + a) on [1, 4] (a is clamped to 4, where erf rounds to 1).
// erf(+-inf) = +-1, erf(-0) = -0. Max error 1.5 ulp.
EMBER_VM_INLINE float erf_f32(float x) {
  const float a = std::fabs(x);
  const float ac = a < 4.0f ? a : 4.0f;
  const float t = 1.0f / (1.0f + ac);
  float r = 1.0234341621398926f;
  r = r * t - 3.4674808979034424f;
  r = r * t + 4.763268947601318f;
  r = r * t - 2.973017454147339f;
  r = r * t + 0.3571745455265045f;
  r = r * t + 0.16639377176761627f;
  r = r * t + 0.5773891806602478f;
  r = r * t + 0.5633224844932556f;
  r = r * t + 2.5050854674191214e-05f;
  const float big = 1.0f - vm_detail::exp_nonpos(-(ac * ac)) * r;
  const float res = a < 1.0f ? vm_detail::erf_small(a) : big;
  return x != x ? x : std::copysign(res, x);
}

// gelu(x) = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2. For |x| < sqrt(1/2), x (1/2 + x E(x^2))
// with E(s) = (1 + Q(s/2)) / (2 sqrt 2), erf_small's Q rewritten in x. Otherwise, with y = |x| /
// sqrt 2, from xq = |x| erfc(y) / 2 (gelu = -xq for x < 0, x - xq above: no cancellation in the
// negative tail, where 1 + erf would lose every digit), erfc(y) = exp(-x^2/2) * R(y), R a
// degree-11 fit of erfc(y) exp(y^2) in t = 1/(1 + y) on [0.5, 10.5]. One exp: -x^2/2 is carried
// as hi + lo, hi = -xh^2/2 exact (xh = |x| with the low 12 significand bits cleared), lo =
// -(x-xh)(x+xh)/2 added to the reduced argument (exp_nonpos), so the rounding of x^2 (which exp
// would amplify x^2 times) does not reach the result.
// gelu(-inf) = NaN (-inf * 0, as torch). Max error 4.5 ulp with FMA (AVX2, AVX-512), 5.7 ulp in the
// baseline build, in the negative tail (from the roundings of t and of the R polynomial); 2.3 ulp
// for x > -0.7 (1.9 with FMA).
EMBER_VM_INLINE float gelu_f32(float x) {
  using namespace vm_detail;
  const float s = x * x;
  float e = 4.399748547712079e-07f;
  e = e * s - 8.880353561835364e-06f;
  e = e * s + 0.00011469708988443017f;
  e = e * s - 0.0011868102010339499f;
  e = e * s + 0.009973372332751751f;
  e = e * s - 0.06649035215377808f;
  e = e * s + 0.3989422917366028f;
  const float small = x * (0.5f + x * e);  // not x/2 + s*e, which gives gelu(-0) = +0
  float a = std::fabs(x);
  a = a > 14.85f ? 14.85f : a;  // y = 10.5: erfc(y) underflows beyond; NaN passes through
  const float ah = from_bits(to_bits(a) & ~0xfff);
  const float hi = -0.5f * (ah * ah), lo = -0.5f * ((a - ah) * (a + ah));
  const float t = 1.0f / (1.0f + a * 0.70710678118654752f);
  float q = 2.1291680335998535f;
  q = q * t - 9.833063125610352f;
  q = q * t + 19.685331344604492f;
  q = q * t - 21.748130798339844f;
  q = q * t + 13.541252136230469f;
  q = q * t - 3.8799142837524414f;
  q = q * t + 0.08262978494167328f;
  q = q * t - 0.39538145065307617f;
  q = q * t + 0.2930324673652649f;
  q = q * t + 0.5635144114494324f;
  q = q * t + 0.5642135143280029f;
  q = q * t - 3.687052299028437e-07f;
  // the clamped a keeps gelu(inf) = inf, and the negative tail underflows to -0
  const float xq = exp_nonpos(hi, lo, (0.5f * a) * q);
  const float res = a < 0.70710678f ? small : (x < 0.0f ? -0.0f : x) - xq;
  return x == -kInf ? NAN : res;
}

// Wrap a float(float) function as a functor for unary_loop.
template <float (*F)(float)>
struct VecFn {
  static constexpr bool kBufferStrided = true;  // (loops.h: strided runs through the vector code)
  EMBER_VM_INLINE float operator()(float x) const { return F(x); }
};

}  // namespace ember::cpu

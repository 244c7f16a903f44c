// Scalar math of every elementwise op, written once and shared by the CPU and CUDA backends.
// Conventions follow torch: floor division and remainder round toward -inf (Python's), integer
// division by zero raises in the op (checked before the kernel), max/min propagate NaN, sign(0)=0.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#ifdef __CUDACC__
#define EMBER_HD __host__ __device__
#else
#define EMBER_HD
#endif

namespace ember::fn {

// Base of the functors computing library math (libm, or a vectorised version of it): the CPU
// loops gather their strided runs into buffers for the same vector code as contiguous runs, so an
// element's result does not depend on the layout (loops.h). Plain arithmetic (add, mul, sqrt) is
// exact either way and runs strided in place.
struct MathFn {
  static constexpr bool kBufferStrided = true;
};

template <class T> EMBER_HD inline bool isnan_(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v; else return false;
}

// -a for signed integers, wrapping at the minimum as two's complement does (torch: min // -1 = min).
template <class T> EMBER_HD inline T neg_wrap(T a) {
  using U = std::make_unsigned_t<T>;
  return static_cast<T>(U(0) - static_cast<U>(a));
}

struct Add { template <class T> EMBER_HD T operator()(T a, T b) const { return a + b; } };
struct Sub { template <class T> EMBER_HD T operator()(T a, T b) const { return a - b; } };
struct Mul {
  template <class T> EMBER_HD T operator()(T a, T b) const {
    if constexpr (std::is_same_v<T, bool>) return a && b;  // bool prod: no int promotion
    else return a * b;
  }
};
// relu's gradient, bit-identical to g * T(y > 0) (NaN or -0 where g is NaN or negative and y <= 0).
// torch's threshold_backward(g, y, 0): 0 (+0, even for a NaN or negative g) where y <= 0, else g
// (a NaN y passes g).
struct ReluBackward {
  template <class T> EMBER_HD T operator()(T g, T y) const { return y <= T(0) ? T(0) : g; }
};
struct Div { template <class T> EMBER_HD T operator()(T a, T b) const { return a / b; } };
struct FloorDiv {
  template <class T> EMBER_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (b == 0) return a / b;
      T mod = std::fmod(a, b);
      T div = (a - mod) / b;
      if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1;
      if (div == 0) return std::copysign(T(0), a / b);
      T fl = std::floor(div);
      if (div - fl > T(0.5)) fl += 1;
      return fl;
    } else if constexpr (std::is_same_v<T, bool>) {
      return a;
    } else {
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return neg_wrap(a);  // min / -1 wraps (the division would trap)
      T q = a / b;
      if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
      return q;
    }
  }
};
// a / b rounded toward zero (div(rounding_mode='trunc')).
struct TruncDiv {
  template <class T> EMBER_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) return std::trunc(a / b);
    else if constexpr (std::is_same_v<T, bool>) return a;
    else if constexpr (std::is_signed_v<T>) return b == T(-1) ? neg_wrap(a) : T(a / b);
    else return a / b;
  }
};
struct Remainder {
  template <class T> EMBER_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      T m = std::fmod(a, b);
      if (m != 0 && ((b < 0) != (m < 0))) m += b;
      return m;
    } else if constexpr (std::is_same_v<T, bool>) {
      return false;
    } else {
      if constexpr (std::is_signed_v<T>)
        if (b == T(-1)) return T(0);  // min % -1 would trap
      T m = a % b;
      if (m != 0 && ((b < 0) != (m < 0))) m += b;
      return m;
    }
  }
};
struct Fmod {
  template <class T> EMBER_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) return std::fmod(a, b);
    else if constexpr (std::is_same_v<T, bool>) return false;
    else if constexpr (std::is_signed_v<T>) return b == T(-1) ? T(0) : T(a % b);  // min % -1 traps
    else return a % b;
  }
};
struct Pow : MathFn {
  template <class T> EMBER_HD T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      return std::pow(a, b);
    } else if constexpr (std::is_same_v<T, bool>) {
      return a || !b;
    } else {  // integer power by squaring; negative exponents give 0 except for |a| == 1
      if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
      T r = 1, base = a;
      auto e = b;
      while (e) { if (e & 1) r *= base; base *= base; e >>= 1; }
      return r;
    }
  }
};
struct Maximum {
  template <class T> EMBER_HD T operator()(T a, T b) const {
    if (isnan_(a)) return a;
    if (isnan_(b)) return b;
    return a > b ? a : b;
  }
};
struct Minimum {
  template <class T> EMBER_HD T operator()(T a, T b) const {
    if (isnan_(a)) return a;
    if (isnan_(b)) return b;
    return a < b ? a : b;
  }
};
struct Atan2 : MathFn { template <class T> EMBER_HD T operator()(T a, T b) const { return std::atan2(a, b); } };
struct BitAnd { template <class T> EMBER_HD T operator()(T a, T b) const { return a & b; } };
struct BitOr { template <class T> EMBER_HD T operator()(T a, T b) const { return a | b; } };
struct BitXor { template <class T> EMBER_HD T operator()(T a, T b) const { return a ^ b; } };
struct Eq { template <class T> EMBER_HD bool operator()(T a, T b) const { return a == b; } };
struct Ne { template <class T> EMBER_HD bool operator()(T a, T b) const { return a != b; } };
struct Lt { template <class T> EMBER_HD bool operator()(T a, T b) const { return a < b; } };
struct Le { template <class T> EMBER_HD bool operator()(T a, T b) const { return a <= b; } };
struct Gt { template <class T> EMBER_HD bool operator()(T a, T b) const { return a > b; } };
struct Ge { template <class T> EMBER_HD bool operator()(T a, T b) const { return a >= b; } };
struct LogicalAnd { template <class T> EMBER_HD bool operator()(T a, T b) const { return (a != T(0)) && (b != T(0)); } };
struct LogicalOr { template <class T> EMBER_HD bool operator()(T a, T b) const { return (a != T(0)) || (b != T(0)); } };
struct LogicalXor { template <class T> EMBER_HD bool operator()(T a, T b) const { return (a != T(0)) != (b != T(0)); } };

// --- unary -------------------------------------------------------------------------------------
struct Neg { template <class T> EMBER_HD T operator()(T a) const { return -a; } };
struct Abs {
  template <class T> EMBER_HD T operator()(T a) const {
    // floats: the sign bit cleared, as torch (-0 -> 0, -NaN -> NaN; one vandps, no compares)
    if constexpr (std::is_floating_point_v<T>) return std::fabs(a);
    else if constexpr (std::is_unsigned_v<T>) return a;
    else return a < 0 ? -a : (a == 0 ? T(0) : a);
  }
};
struct Sign {
  template <class T> EMBER_HD T operator()(T a) const {
    if (isnan_(a)) return a;
    return static_cast<T>((T(0) < a) - (a < T(0)));
  }
};
struct Square {
  template <class T> EMBER_HD T operator()(T a) const {
    if constexpr (std::is_same_v<T, bool>) return a;
    else return a * a;
  }
};
// torch's relu (clamp_min(a, 0)): negatives become 0; NaN and -0 pass through.
struct Relu { template <class T> EMBER_HD T operator()(T a) const { return a < T(0) ? T(0) : a; } };
struct Reciprocal { template <class T> EMBER_HD T operator()(T a) const { return T(1) / a; } };
struct Cube { template <class T> EMBER_HD T operator()(T a) const { return a * a * a; } };
struct RecipSquare { template <class T> EMBER_HD T operator()(T a) const { return T(1) / (a * a); } };
struct Identity { template <class T> EMBER_HD T operator()(T a) const { return a; } };
struct Exp : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::exp(a); } };
struct Exp2 : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::exp2(a); } };
struct Expm1 : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::expm1(a); } };
struct Log : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::log(a); } };
struct Log2 : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::log2(a); } };
struct Log10 : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::log10(a); } };
struct Log1p : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::log1p(a); } };
struct Sqrt { template <class T> EMBER_HD T operator()(T a) const { return std::sqrt(a); } };
struct Rsqrt { template <class T> EMBER_HD T operator()(T a) const { return T(1) / std::sqrt(a); } };
struct Sin : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::sin(a); } };
struct Cos : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::cos(a); } };
struct Tan : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::tan(a); } };
struct Asin : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::asin(a); } };
struct Acos : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::acos(a); } };
struct Atan : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::atan(a); } };
struct Sinh : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::sinh(a); } };
struct Cosh : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::cosh(a); } };
struct Asinh : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::asinh(a); } };
struct Acosh : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::acosh(a); } };
struct Atanh : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::atanh(a); } };
struct Tanh : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::tanh(a); } };
struct Erf : MathFn { template <class T> EMBER_HD T operator()(T a) const { return std::erf(a); } };
struct Floor { template <class T> EMBER_HD T operator()(T a) const { if constexpr (std::is_floating_point_v<T>) return std::floor(a); else return a; } };
struct Ceil { template <class T> EMBER_HD T operator()(T a) const { if constexpr (std::is_floating_point_v<T>) return std::ceil(a); else return a; } };
struct Trunc { template <class T> EMBER_HD T operator()(T a) const { if constexpr (std::is_floating_point_v<T>) return std::trunc(a); else return a; } };
struct Round {  // half to even, like torch.round
  template <class T> EMBER_HD T operator()(T a) const { if constexpr (std::is_floating_point_v<T>) return std::nearbyint(a); else return a; }
};
struct Sigmoid : MathFn {  // stable on both tails
  template <class T> EMBER_HD T operator()(T a) const {
    if (a >= 0) return T(1) / (T(1) + std::exp(-a));
    T e = std::exp(a);
    return e / (T(1) + e);
  }
};
struct Softplus : MathFn {  // log(1 + exp(x)), torch's threshold 20
  template <class T> EMBER_HD T operator()(T a) const { return a > T(20) ? a : std::log1p(std::exp(a)); }
};
struct Silu : MathFn { template <class T> EMBER_HD T operator()(T a) const { return a * Sigmoid{}(a); } };
struct Gelu : MathFn {
  template <class T> EMBER_HD T operator()(T a) const { return a * T(0.5) * (T(1) + std::erf(a * T(0.70710678118654752440))); }
};
struct GeluTanh : MathFn {
  template <class T> EMBER_HD T operator()(T a) const {
    const T k = T(0.7978845608028654), c = T(0.044715);
    return T(0.5) * a * (T(1) + std::tanh(k * (a + c * a * a * a)));
  }
};
struct LogicalNot { template <class T> EMBER_HD bool operator()(T a) const { return !(a != T(0)); } };
struct IsNan { template <class T> EMBER_HD bool operator()(T a) const { return isnan_(a); } };
struct IsInf {
  template <class T> EMBER_HD bool operator()(T a) const { if constexpr (std::is_floating_point_v<T>) return std::isinf(a); else return false; }
};
struct IsPosInf {
  template <class T> EMBER_HD bool operator()(T a) const { if constexpr (std::is_floating_point_v<T>) return std::isinf(a) && a > 0; else return false; }
};
struct IsNegInf {
  template <class T> EMBER_HD bool operator()(T a) const { if constexpr (std::is_floating_point_v<T>) return std::isinf(a) && a < 0; else return false; }
};
struct IsFinite {
  template <class T> EMBER_HD bool operator()(T a) const { if constexpr (std::is_floating_point_v<T>) return std::isfinite(a); else return true; }
};

// Parametrised.
// lo / hi: the bounds, or the type's lowest / highest where a side is open (branch-free, so the
// loop vectorises). NaN passes: both compares are false.
template <class T> struct Clamp {
  T lo, hi;
  EMBER_HD T operator()(T a) const {
    a = a < lo ? lo : a;
    return a > hi ? hi : a;
  }
};
template <class T> struct PowScalar { T e; EMBER_HD T operator()(T a) const { return Pow{}(a, e); } };
template <class T> struct RPowScalar { T b; EMBER_HD T operator()(T a) const { return Pow{}(b, a); } };
// torch's huber_loss / smooth_l1_loss of d = input - target, with its roundings.
template <class T> struct Huber {
  T delta;
  EMBER_HD T operator()(T d) const {
    const T z = d < T(0) ? -d : d;
    return z < delta ? T(0.5) * z * z : delta * (z - T(0.5) * delta);
  }
};
template <class T> struct SmoothL1 {
  T beta;
  EMBER_HD T operator()(T d) const {
    const T z = d < T(0) ? -d : d;
    return z < beta ? T(0.5) * z * z / beta : z - T(0.5) * beta;
  }
};
template <class T> struct LeakyRelu { T slope; EMBER_HD T operator()(T a) const { return a > T(0) ? a : a * slope; } };

}  // namespace ember::fn

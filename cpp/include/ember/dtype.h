// Scalar types: float32 (default), float64, int64, int32, uint8, bool; promotion like torch's;
// dispatch_all/dispatch_numeric/dispatch_float to turn a runtime dtype into a C++ type inside a generic lambda.
#pragma once
#include <cstdint>
#include <ostream>
#include <string>

#include "ember/error.h"

namespace ember {

enum class DType : int8_t { Bool = 0, UInt8 = 1, Int32 = 2, Int64 = 3, Float32 = 4, Float64 = 5 };
constexpr int kNumDTypes = 6;

inline size_t itemsize(DType t) {
  switch (t) {
    case DType::Bool: case DType::UInt8: return 1;
    case DType::Int32: case DType::Float32: return 4;
    case DType::Int64: case DType::Float64: return 8;
  }
  return 0;
}
inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::Bool: return "bool";
    case DType::UInt8: return "uint8";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
  }
  return "?";
}
inline bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }
inline bool is_integral(DType t, bool include_bool = false) {
  return t == DType::UInt8 || t == DType::Int32 || t == DType::Int64 ||
         (include_bool && t == DType::Bool);
}
inline std::ostream& operator<<(std::ostream& os, DType t) { return os << "ember." << dtype_name(t); }

// Category: bool < integer < floating. Tensors of the same category promote to the larger type;
// a 0-d tensor or wrapped Python number only raises the category, never the size (torch's rule).
inline int dtype_category(DType t) { return t == DType::Bool ? 0 : is_floating(t) ? 2 : 1; }
inline DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a == DType::Bool) return b;
  if (b == DType::Bool) return a;
  if (is_floating(a) || is_floating(b)) {
    if (is_floating(a) && is_floating(b)) return a == DType::Float64 || b == DType::Float64 ? DType::Float64 : DType::Float32;
    return is_floating(a) ? a : b;
  }
  return static_cast<int>(a) > static_cast<int>(b) ? a : b;  // uint8 < int32 < int64
}

DType default_dtype();          // float32 unless set_default_dtype changed it
void set_default_dtype(DType t);

template <class T> struct dtype_of;
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };

}  // namespace ember

namespace ember {
// Turn a runtime dtype into a C++ type: dispatch_all(t, "op", [&](auto tag) { using T =
// decltype(tag); ... }). Functions, not macros, so lambdas may hold #pragma omp simd.
template <class F>
decltype(auto) dispatch_all(DType t, const char* name, F&& f) {
  switch (t) {
    case DType::Bool: return f(bool{});
    case DType::UInt8: return f(uint8_t{});
    case DType::Int32: return f(int32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
  }
  throw TypeError(str(name, ": unsupported dtype ", t));
}
template <class F>
decltype(auto) dispatch_numeric(DType t, const char* name, F&& f) {
  switch (t) {
    case DType::UInt8: return f(uint8_t{});
    case DType::Int32: return f(int32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: break;
  }
  throw TypeError(str(name, ": not implemented for dtype ", t));
}
template <class F>
decltype(auto) dispatch_float(DType t, const char* name, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    default: break;
  }
  throw TypeError(str(name, ": expected a floating-point tensor, got ", t));
}
}  // namespace ember

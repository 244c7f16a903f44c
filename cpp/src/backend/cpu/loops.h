// Strided elementwise iteration over up to 4 operands (operand 0 is the output), the CPU
// counterpart of torch's TensorIterator, kept small: inputs are broadcast to the output's shape
// with zero strides, size-1 dims dropped and adjacent dims coalesced, then the flat index range is
// split across threads; each piece calls `inner(ptrs, byte_strides, n)` on runs of the innermost
// dim. `basic_loop` turns a scalar functor into such an inner loop with contiguous and
// scalar-operand fast paths that the compiler vectorises.
#pragma once
#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>

#include "ember/tensor.h"
#include "parallel.h"

namespace ember::cpu {

constexpr int kMaxOperands = 4;
constexpr int kMaxDims = 25;

class StridedIter {
 public:
  StridedIter(const Tensor& out, std::initializer_list<const Tensor*> inputs);
  int64_t numel() const { return numel_; }
  int ndim() const { return ndim_; }

  // inner(char** ptrs, const int64_t* strides, int64_t n)
  template <class Inner>
  void for_each(const Inner& inner, int64_t grain = 32768) const {
    if (numel_ == 0) return;
    if (numel_ == 1) {  // one element (0-d and 1-element operands): no index arithmetic, no split
      char* ptrs[kMaxOperands];
      const int64_t strides[kMaxOperands] = {};
      std::copy(base_, base_ + nops_, ptrs);
      inner(ptrs, strides, 1);
      return;
    }
    // pieces balanced at run time: a thread slowed by other work on the machine does not hold
    // up the pass (the ReLU of a 16.7 MB tensor: 906 vs 995 us per thread in a busy phase); up to
    // 4 a thread (at 8, a 1.2 MB ReLU took 0.5 us more), 16 for passes of 64 grains or more
    const int per_thread = numel_ >= 64 * grain ? 16 : 4;
    parallel_for_pieces(0, numel_, grain, per_thread, [&](int64_t b, int64_t e, int) { run_range(inner, b, e); });
  }

 private:
  template <class Inner>
  void run_range(const Inner& inner, int64_t begin, int64_t end) const {
    const int64_t inner_size = ndim_ ? shape_[ndim_ - 1] : 1;
    int64_t idx[kMaxDims] = {0};
    int64_t rem = begin;
    for (int d = ndim_ - 1; d >= 0; --d) {
      idx[d] = rem % shape_[d];
      rem /= shape_[d];
    }
    char* ptrs[kMaxOperands];
    int64_t inner_strides[kMaxOperands];
    for (int k = 0; k < nops_; ++k) {
      int64_t off = 0;
      for (int d = 0; d < ndim_; ++d) off += idx[d] * strides_[k][d];
      ptrs[k] = base_[k] + off;
      inner_strides[k] = ndim_ ? strides_[k][ndim_ - 1] : 0;
    }
    int64_t pos = begin;
    while (pos < end) {
      int64_t start_inner = ndim_ ? idx[ndim_ - 1] : 0;
      int64_t n = std::min(inner_size - start_inner, end - pos);
      inner(ptrs, inner_strides, n);
      pos += n;
      if (pos >= end) break;
      // advance to the start of the next row
      for (int k = 0; k < nops_; ++k) ptrs[k] += n * inner_strides[k];
      if (ndim_) idx[ndim_ - 1] += n;
      for (int d = ndim_ - 1; d > 0 && idx[d] >= shape_[d]; --d) {
        for (int k = 0; k < nops_; ++k) ptrs[k] += strides_[k][d - 1] - idx[d] * strides_[k][d];
        idx[d] = 0;
        idx[d - 1]++;
      }
    }
  }

  int nops_ = 0, ndim_ = 0;
  int64_t numel_ = 0;
  int64_t shape_[kMaxDims];
  int64_t strides_[kMaxOperands][kMaxDims];  // bytes
  char* base_[kMaxOperands];
};

// --- runtime ISA dispatch for the contiguous fast paths ---------------------------------------
// The same loop bodies are compiled three times (baseline x86-64, AVX2+FMA, AVX-512) through
// per-function target attributes, and the CPU's best is picked at run time, so one build runs
// everywhere and uses 512-bit vectors where present. Only floating types are multiversioned.
enum class Isa { Base = 0, Avx2 = 1, Avx512 = 2 };
Isa cpu_isa();  // detected once; EMBER_ISA=base|avx2|avx512 caps it, the GEMM included (testing the fallbacks)

#define EMBER_SIMD_LOOPS_(NS, ATTR)                                                              \
  namespace NS {                                                                                 \
  template <class Out, class In, class F>                                                        \
  ATTR void un_v(Out* o, const In* a, int64_t n, const F& fr) {                                  \
    const F f = fr; /* a local copy: its parameters in registers, not reloaded per element */    \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);                          \
  }                                                                                              \
  /* o[i] = v: fills, and expanded scalars (the baseline build stores 16 bytes a step) */       \
  template <class T>                                                                             \
  ATTR void fill_v(T* o, int64_t n, const T v) {                                                 \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) o[i] = v;                                \
  }                                                                                              \
  /* a read backwards (flip): o[i] = f(a[-i]) */                                                 \
  template <class Out, class In, class F>                                                        \
  ATTR void un_rev(Out* o, const In* a, int64_t n, const F& fr) {                                \
    const F f = fr;                                                                              \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) o[i] = f(a[-i]);                         \
  }                                                                                              \
  template <class Out, class In, class F>                                                        \
  ATTR void bin_vv(Out* o, const In* a, const In* b, int64_t n, const F& fr) {                   \
    const F f = fr;                                                                              \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b[i]);                    \
  }                                                                                              \
  template <class Out, class In, class F>                                                        \
  ATTR void bin_vs(Out* o, const In* a, const In b, int64_t n, const F& fr) {                    \
    const F f = fr;                                                                              \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) o[i] = f(a[i], b);                       \
  }                                                                                              \
  template <class Out, class In, class F>                                                        \
  ATTR void bin_sv(Out* o, const In a, const In* b, int64_t n, const F& fr) {                    \
    const F f = fr;                                                                              \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) o[i] = f(a, b[i]);                       \
  }                                                                                              \
  /* checked forms: f(a, b, bad) sets bad for a lane its fast path cannot do exactly; the     \
     result says whether any lane did (checked_binary_loop redoes such blocks with f.exact) */  \
  template <class Out, class In, class F>                                                        \
  ATTR int bin_vv_chk(Out* o, const In* a, const In* b, int64_t n, const F& f) {                 \
    int bad = 0;                                                                                 \
    _Pragma("omp simd reduction(|:bad)") for (int64_t i = 0; i < n; ++i) {                       \
      int e = 0;                                                                                 \
      o[i] = f(a[i], b[i], e);                                                                   \
      bad |= e;                                                                                  \
    }                                                                                            \
    return bad;                                                                                  \
  }                                                                                              \
  template <class Out, class In, class F>                                                        \
  ATTR int bin_vs_chk(Out* o, const In* a, const In b, int64_t n, const F& f) {                  \
    int bad = 0;                                                                                 \
    _Pragma("omp simd reduction(|:bad)") for (int64_t i = 0; i < n; ++i) {                       \
      int e = 0;                                                                                 \
      o[i] = f(a[i], b, e);                                                                      \
      bad |= e;                                                                                  \
    }                                                                                            \
    return bad;                                                                                  \
  }                                                                                              \
  template <class Out, class In, class F>                                                        \
  ATTR int bin_sv_chk(Out* o, const In a, const In* b, int64_t n, const F& f) {                  \
    int bad = 0;                                                                                 \
    _Pragma("omp simd reduction(|:bad)") for (int64_t i = 0; i < n; ++i) {                       \
      int e = 0;                                                                                 \
      o[i] = f(a, b[i], e);                                                                      \
      bad |= e;                                                                                  \
    }                                                                                            \
    return bad;                                                                                  \
  }                                                                                              \
  /* where: a / b each a vector (v) or one value (s); the condition read as bytes (a bool      \
     load does not vectorise with GCC 12, a byte compare does) */                               \
  template <class T>                                                                             \
  ATTR void sel_vv(T* o, const uint8_t* c, const T* a, const T* b, int64_t n) {                     \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                                        \
      const T av = a[i], bv = b[i]; /* both loaded: the select becomes a blend */                \
      o[i] = c[i] != 0 ? av : bv;                                                                   \
    }                                                                                            \
  }                                                                                              \
  template <class T>                                                                             \
  ATTR void sel_sv(T* o, const uint8_t* c, const T a, const T* b, int64_t n) {                      \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                                        \
      const T bv = b[i];                                                                         \
      o[i] = c[i] != 0 ? a : bv;                                                                    \
    }                                                                                            \
  }                                                                                              \
  template <class T>                                                                             \
  ATTR void sel_vs(T* o, const uint8_t* c, const T* a, const T b, int64_t n) {                      \
    _Pragma("omp simd") for (int64_t i = 0; i < n; ++i) {                                        \
      const T av = a[i];                                                                         \
      o[i] = c[i] != 0 ? av : b;                                                                    \
    }                                                                                            \
  }                                                                                              \
  }
// The target attributes of the AVX2 and AVX-512 builds of a loop. A kernel file with its own
// per-ISA loops includes its .inc three times, in namespaces NS_base, NS_avx2 and NS_avx512 (with
// an attribute macro set to nothing, EMBER_ATTR_AVX2 and EMBER_ATTR_AVX512), and calls them
// through EMBER_NS_ISA_CALL_(NS, FN, args...), an expression that picks the CPU's best (reduce.cpp).
#define EMBER_ATTR_AVX2 __attribute__((target("avx2,fma")))
#define EMBER_ATTR_AVX512 \
  __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,prefer-vector-width=512")))
#if defined(__x86_64__) && defined(__GNUC__)
#define EMBER_NS_ISA_CALL_(NS, FN, ...)                                               \
  (::ember::cpu::cpu_isa() == ::ember::cpu::Isa::Avx512 ? NS##_avx512::FN(__VA_ARGS__) \
   : ::ember::cpu::cpu_isa() == ::ember::cpu::Isa::Avx2 ? NS##_avx2::FN(__VA_ARGS__)  \
                                                        : NS##_base::FN(__VA_ARGS__))
#else
#define EMBER_NS_ISA_CALL_(NS, FN, ...) NS##_base::FN(__VA_ARGS__)
#endif

EMBER_SIMD_LOOPS_(isa_base, )
#if defined(__x86_64__) && defined(__GNUC__)
EMBER_SIMD_LOOPS_(isa_avx2, EMBER_ATTR_AVX2)
EMBER_SIMD_LOOPS_(isa_avx512, EMBER_ATTR_AVX512)
#define EMBER_ISA_CALL_(In, FN, ...)                                            \
  do {                                                                          \
    if constexpr (std::is_floating_point_v<In>) EMBER_NS_ISA_CALL_(isa, FN, __VA_ARGS__); \
    else isa_base::FN(__VA_ARGS__);                                             \
  } while (0)
#else
#define EMBER_ISA_CALL_(In, FN, ...) isa_base::FN(__VA_ARGS__)
#endif

// Floating-point runs of math functors (fn::MathFn's kBufferStrided) with other strides are
// gathered into buffers of kLoopBuf elements and go through the same vector loops as contiguous
// runs, so an element's bits (FMA contraction, the vector math) never depend on the tensors'
// layout; cheap functors run strided in place (buffering would double their memory traffic).
constexpr int64_t kLoopBuf = 256;
template <class F, class = void>
struct buffer_strided : std::false_type {};
template <class F>
struct buffer_strided<F, std::void_t<decltype(F::kBufferStrided)>> : std::bool_constant<F::kBufferStrided> {};
template <class T>
inline void gather_run(T* dst, const char* src, int64_t stride, int64_t m) {
  for (int64_t j = 0; j < m; ++j) dst[j] = *reinterpret_cast<const T*>(src + j * stride);
}
template <class T>
inline void scatter_run(char* dst, int64_t stride, const T* src, int64_t m) {
  for (int64_t j = 0; j < m; ++j) *reinterpret_cast<T*>(dst + j * stride) = src[j];
}

// o[0, n) = v: memset where all of v's bytes are equal (0, and -1 of the integers), else the
// CPU's widest stores (every type: a fill is one small loop)
template <class T>
inline void fill_run(T* o, int64_t n, const T v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  if (std::all_of(b, b + sizeof(T), [&](unsigned char c) { return c == b[0]; })) {
    std::memset(static_cast<void*>(o), b[0], sizeof(T) * static_cast<size_t>(n));
    return;
  }
  EMBER_NS_ISA_CALL_(isa, fill_v, o, n, v);
}

// Scalar functor -> inner loop. Out and In are the element types.
template <class Out, class In, class F>
inline void unary_loop(char** p, const int64_t* s, int64_t n, const F& f) {
  Out* o = reinterpret_cast<Out*>(p[0]);
  const In* a = reinterpret_cast<const In*>(p[1]);
  if (s[0] == sizeof(Out) && s[1] == sizeof(In)) {
    EMBER_ISA_CALL_(In, un_v, o, a, n, f);
  } else if (s[0] == sizeof(Out) && s[1] == -static_cast<int64_t>(sizeof(In))) {
    EMBER_ISA_CALL_(In, un_rev, o, a, n, f);
  } else if (s[1] == 0) {  // one input element broadcast (an expanded scalar): f once, then a fill
    const Out v = f(*a);
    if (s[0] == sizeof(Out)) {
      fill_run(o, n, v);
    } else {
      for (int64_t i = 0; i < n; ++i) *reinterpret_cast<Out*>(p[0] + i * s[0]) = v;
    }
  } else if constexpr (std::is_floating_point_v<In> && buffer_strided<F>::value) {
    alignas(64) In ab[kLoopBuf];
    alignas(64) Out ob[kLoopBuf];
    for (int64_t i0 = 0; i0 < n; i0 += kLoopBuf) {
      const int64_t m = std::min(kLoopBuf, n - i0);
      gather_run(ab, p[1] + i0 * s[1], s[1], m);
      EMBER_ISA_CALL_(In, un_v, ob, ab, m, f);
      scatter_run(p[0] + i0 * s[0], s[0], ob, m);
    }
  } else {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(*reinterpret_cast<const In*>(p[1] + i * s[1]));
  }
}

template <class Out, class In, class F>
inline void binary_loop(char** p, const int64_t* s, int64_t n, const F& f) {
  Out* o = reinterpret_cast<Out*>(p[0]);
  const In* a = reinterpret_cast<const In*>(p[1]);
  const In* b = reinterpret_cast<const In*>(p[2]);
  if (s[0] == sizeof(Out) && s[1] == sizeof(In) && s[2] == sizeof(In)) {
    EMBER_ISA_CALL_(In, bin_vv, o, a, b, n, f);
  } else if (s[0] == sizeof(Out) && s[1] == sizeof(In) && s[2] == 0) {
    EMBER_ISA_CALL_(In, bin_vs, o, a, *b, n, f);
  } else if (s[0] == sizeof(Out) && s[1] == 0 && s[2] == sizeof(In)) {
    EMBER_ISA_CALL_(In, bin_sv, o, *a, b, n, f);
  } else if constexpr (std::is_floating_point_v<In> && buffer_strided<F>::value) {
    alignas(64) In ab[kLoopBuf], bb[kLoopBuf];
    alignas(64) Out ob[kLoopBuf];
    for (int64_t i0 = 0; i0 < n; i0 += kLoopBuf) {
      const int64_t m = std::min(kLoopBuf, n - i0);
      if (s[1] == 0 && s[2] != 0) {
        gather_run(bb, p[2] + i0 * s[2], s[2], m);
        EMBER_ISA_CALL_(In, bin_sv, ob, *a, bb, m, f);
      } else {
        gather_run(ab, p[1] + i0 * s[1], s[1], m);
        if (s[2] == 0) {
          EMBER_ISA_CALL_(In, bin_vs, ob, ab, *b, m, f);
        } else {
          gather_run(bb, p[2] + i0 * s[2], s[2], m);
          EMBER_ISA_CALL_(In, bin_vv, ob, ab, bb, m, f);
        }
      }
      scatter_run(p[0] + i0 * s[0], s[0], ob, m);
    }
  } else {
    for (int64_t i = 0; i < n; ++i)
      *reinterpret_cast<Out*>(p[0] + i * s[0]) = f(*reinterpret_cast<const In*>(p[1] + i * s[1]),
                                                   *reinterpret_cast<const In*>(p[2] + i * s[2]));
  }
}

// A functor with a vectorisable fast path that is exact on most inputs: f(a, b, bad) computes a
// lane and sets bad where it cannot; f.exact(a, b) is the scalar reference. Contiguous runs go in
// blocks through the fast path, and a block with any bad lane is redone with exact (which gives
// the fast path's bits on its good lanes), so results never depend on the blocking.
template <class Out, class In, class F>
inline void checked_binary_loop(char** p, const int64_t* s, int64_t n, const F& f) {
  Out* o = reinterpret_cast<Out*>(p[0]);
  const In* a = reinterpret_cast<const In*>(p[1]);
  const In* b = reinterpret_cast<const In*>(p[2]);
  constexpr int64_t kBlock = 1024;
  const bool va = s[1] == sizeof(In), vb = s[2] == sizeof(In);
  if (s[0] == sizeof(Out) && (va || s[1] == 0) && (vb || s[2] == 0) && (va || vb)) {
    for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
      const int64_t m = std::min(kBlock, n - i0);
      int bad;
      if (va && vb) bad = EMBER_NS_ISA_CALL_(isa, bin_vv_chk, o + i0, a + i0, b + i0, m, f);
      else if (va) bad = EMBER_NS_ISA_CALL_(isa, bin_vs_chk, o + i0, a + i0, *b, m, f);
      else bad = EMBER_NS_ISA_CALL_(isa, bin_sv_chk, o + i0, *a, b + i0, m, f);
      if (bad)
        for (int64_t i = i0; i < i0 + m; ++i) o[i] = f.exact(a[va ? i : 0], b[vb ? i : 0]);
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i)
    *reinterpret_cast<Out*>(p[0] + i * s[0]) = f.exact(*reinterpret_cast<const In*>(p[1] + i * s[1]),
                                                       *reinterpret_cast<const In*>(p[2] + i * s[2]));
}

}  // namespace ember::cpu

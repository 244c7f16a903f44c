// CPU normalisation kernels, forward and backward, fused: batch norm over x (N, C, S) parallel over
// channels; layer norm over rows x (M, K) parallel over rows, with the weight/bias gradients summed
// in a fixed number of row chunks (deterministic, race-free) and reduced at the end.
// Inputs are contiguous (the ops make them so). Batch statistics accumulate in double (two passes:
// mean, then centred squares), so float32 results do not drift for large N * S; layer-norm rows up
// to kShortRow elements accumulate in their own type with SIMD lanes. The bodies live in
// norm_kernels.inc, compiled for baseline x86-64, AVX2 and AVX-512 and picked at run time.
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"
#include "vec_math_avx512.h"

// GCC 12's avx512fintrin.h seeds masked builtins with _mm512_undefined_ps(), which
// -W(maybe-)uninitialized flags once the AVX-512 kernels inline them (a false positive; as in
// gemm_avx512.cpp).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace ember::cpu {
namespace {

template <class T>
inline const T* opt(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
template <class T>
inline T* opt_mut(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

// Rows up to this length accumulate in their own type (SIMD lanes keep float32 sums accurate to
// ~1e-7 relative there); longer rows accumulate in double.
constexpr int64_t kShortRow = 4096;

template <class T>
struct BnArgs {
  const T *x = nullptr, *gy = nullptr, *w = nullptr, *b = nullptr;
  T *y = nullptr, *mean = nullptr, *var = nullptr, *invstd = nullptr, *gx = nullptr, *gw = nullptr, *gb = nullptr;
  int64_t N = 0, C = 0, S = 0;
  bool training = true;
  double eps = 0;
};
template <class T>
struct LnArgs {
  const T *x = nullptr, *gy = nullptr, *w = nullptr, *b = nullptr;
  T *y = nullptr, *mean = nullptr, *rstd = nullptr, *gx = nullptr, *pw = nullptr, *pb = nullptr;
  int64_t M = 0, K = 0, chunks = 1;
  double eps = 0;
};

template <class T>
struct GnArgs {
  const T *x = nullptr, *gy = nullptr, *w = nullptr, *b = nullptr, *mean = nullptr, *rstd = nullptr;
  T *y = nullptr, *gx = nullptr;
  T *mean_out = nullptr, *rstd_out = nullptr;  // forward: the statistics written
  double *ds = nullptr, *db = nullptr;  // backward: per (n, c) sums, (N, C)
  int64_t N = 0, C = 0, G = 1, S = 0;
  double eps = 0;
};

namespace norm_base {
#define EMBER_NORM_ATTR
#include "norm_kernels.inc"
#undef EMBER_NORM_ATTR
}  // namespace norm_base
#if defined(__x86_64__) && defined(__GNUC__)
namespace norm_avx2 {
#define EMBER_NORM_ATTR EMBER_ATTR_AVX2
#include "norm_kernels.inc"
#undef EMBER_NORM_ATTR
}  // namespace norm_avx2
namespace norm_avx512 {
#define EMBER_NORM_ATTR EMBER_ATTR_AVX512
#include "norm_kernels.inc"
#undef EMBER_NORM_ATTR
}  // namespace norm_avx512
#endif
#define NORM_CALL(FN, T, ...) EMBER_NS_ISA_CALL_(norm, FN<T>, __VA_ARGS__)

#if defined(__x86_64__) && defined(__GNUC__)
// Layer norm over float32 rows of up to 64 (small transformers' heads and narrow MLPs) in explicit
// AVX-512: a row is NV <= 4 vectors in registers (the last masked, zero-padded), its sums reduced
// in registers and broadcast back (bcast_sum_avx512); weight and bias stay in registers for the
// whole range, and the backward keeps its chunk's weight/bias gradient sums there too. The generic
// kernels (norm_kernels.inc) ran 16-element rows at 0.46x torch. Same formulas: mean = sum / K,
// var = sum((x - mean)^2) / K, rstd = 1 / sqrt(var + eps), y = (x - mean) rstd w + b; backward
// a = gy w, gx = rstd (a - mean(a) - xhat mean(a xhat)).
namespace ln_short {
constexpr int64_t kMaxK = 128;

template <int NV>
EMBER_ATTR_AVX512 EMBER_VM_INLINE void load(const float* p, __mmask16 tail, __m512 (&v)[NV]) {
  for (int k = 0; k < NV - 1; ++k) v[k] = _mm512_loadu_ps(p + 16 * k);
  v[NV - 1] = _mm512_maskz_loadu_ps(tail, p + 16 * (NV - 1));
}
template <int NV>
EMBER_ATTR_AVX512 EMBER_VM_INLINE void load_or(const float* p, float dflt, __mmask16 tail, __m512 (&v)[NV]) {
  if (p) load<NV>(p, tail, v);
  else for (int k = 0; k < NV; ++k) v[k] = _mm512_set1_ps(dflt);
}

template <int NV>
EMBER_ATTR_AVX512 void fwd(const LnArgs<float>& A, int64_t r0, int64_t r1) {
  const int64_t K = A.K;
  const __mmask16 tail = tail_mask16(K);
  const __m512 kv = _mm512_set1_ps(static_cast<float>(K)), eps = _mm512_set1_ps(static_cast<float>(A.eps));
  __m512 w[NV], b[NV];
  load_or<NV>(A.w, 1.0f, tail, w);
  load_or<NV>(A.b, 0.0f, tail, b);
  for (int64_t r = r0; r < r1; ++r) {
    __m512 v[NV];
    load<NV>(A.x + r * K, tail, v);
    __m512 s = v[0];
    for (int k = 1; k < NV; ++k) s = _mm512_add_ps(s, v[k]);
    const __m512 mean = _mm512_div_ps(bcast_sum_avx512(s), kv);
    for (int k = 0; k < NV - 1; ++k) v[k] = _mm512_sub_ps(v[k], mean);
    v[NV - 1] = _mm512_maskz_sub_ps(tail, v[NV - 1], mean);
    __m512 q = _mm512_mul_ps(v[0], v[0]);
    for (int k = 1; k < NV; ++k) q = _mm512_fmadd_ps(v[k], v[k], q);
    const __m512 var = _mm512_div_ps(bcast_sum_avx512(q), kv);
    const __m512 rs = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_sqrt_ps(_mm512_add_ps(var, eps)));
    A.mean[r] = _mm512_cvtss_f32(mean);
    A.rstd[r] = _mm512_cvtss_f32(rs);
    float* yr = A.y + r * K;
    for (int k = 0; k < NV - 1; ++k) _mm512_storeu_ps(yr + 16 * k, _mm512_fmadd_ps(_mm512_mul_ps(v[k], rs), w[k], b[k]));
    _mm512_mask_storeu_ps(yr + 16 * (NV - 1), tail,
                          _mm512_fmadd_ps(_mm512_mul_ps(v[NV - 1], rs), w[NV - 1], b[NV - 1]));
  }
}

// chunks [k0, k1) of ln_bwd_range's split
template <int NV>
EMBER_ATTR_AVX512 void bwd(const LnArgs<float>& A, int64_t k0, int64_t k1) {
  const int64_t M = A.M, K = A.K, chunks = A.chunks;
  const __mmask16 tail = tail_mask16(K);
  const __m512 invk = _mm512_set1_ps(static_cast<float>(1.0 / static_cast<double>(K)));
  __m512 w[NV];
  load_or<NV>(A.w, 1.0f, tail, w);
  for (int64_t ch = k0; ch < k1; ++ch) {
    __m512 cw[NV], cb[NV];
    for (int k = 0; k < NV; ++k) cw[k] = cb[k] = _mm512_setzero_ps();
    for (int64_t r = ch * M / chunks, r1 = (ch + 1) * M / chunks; r < r1; ++r) {
      __m512 x[NV], g[NV];
      load<NV>(A.x + r * K, tail, x);
      load<NV>(A.gy + r * K, tail, g);
      const __m512 m = _mm512_set1_ps(A.mean[r]), s = _mm512_set1_ps(A.rstd[r]);
      __m512 sa = _mm512_setzero_ps(), sax = sa;
      for (int k = 0; k < NV; ++k) {
        x[k] = _mm512_mul_ps(_mm512_sub_ps(x[k], m), s);  // xhat (padding lanes: g = 0 there)
        cw[k] = _mm512_fmadd_ps(g[k], x[k], cw[k]);
        cb[k] = _mm512_add_ps(cb[k], g[k]);
        g[k] = _mm512_mul_ps(g[k], w[k]);  // a
        sa = _mm512_add_ps(sa, g[k]);
        sax = _mm512_fmadd_ps(g[k], x[k], sax);
      }
      if (!A.gx) continue;
      const __m512 c1 = _mm512_mul_ps(bcast_sum_avx512(sa), invk), c2 = _mm512_mul_ps(bcast_sum_avx512(sax), invk);
      float* dr = A.gx + r * K;
      for (int k = 0; k < NV; ++k)
        g[k] = _mm512_mul_ps(s, _mm512_fnmadd_ps(x[k], c2, _mm512_sub_ps(g[k], c1)));
      for (int k = 0; k < NV - 1; ++k) _mm512_storeu_ps(dr + 16 * k, g[k]);
      _mm512_mask_storeu_ps(dr + 16 * (NV - 1), tail, g[NV - 1]);
    }
    if (A.pw) {
      float *pw = A.pw + ch * K, *pb = A.pb + ch * K;
      for (int k = 0; k < NV - 1; ++k) _mm512_storeu_ps(pw + 16 * k, cw[k]), _mm512_storeu_ps(pb + 16 * k, cb[k]);
      _mm512_mask_storeu_ps(pw + 16 * (NV - 1), tail, cw[NV - 1]);
      _mm512_mask_storeu_ps(pb + 16 * (NV - 1), tail, cb[NV - 1]);
    }
  }
}

template <class T>
inline bool use(int64_t K) {
  return std::is_same_v<T, float> && K > 0 && K <= kMaxK && cpu_isa() == Isa::Avx512;
}
inline void fwd_range(const LnArgs<float>& A, int64_t r0, int64_t r1) {
  with_row_vectors(A.K, [&](auto nv) { fwd<decltype(nv)::value>(A, r0, r1); });
}
inline void bwd_range(const LnArgs<float>& A, int64_t k0, int64_t k1) {
  with_row_vectors(A.K, [&](auto nv) { bwd<decltype(nv)::value>(A, k0, k1); });
}
}  // namespace ln_short
#endif

}  // namespace

// x (N, C, S) -> y (N, C, S); mean, var, invstd (C)
void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                const Tensor& invstd, const Tensor& y, bool training, double eps) {
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    BnArgs<T> a;
    a.x = x.data<T>(), a.y = y.data<T>(), a.w = opt<T>(weight), a.b = opt<T>(bias);
    a.mean = mean.data<T>(), a.var = var.data<T>(), a.invstd = invstd.data<T>();
    a.N = x.size(0), a.C = x.size(1), a.S = x.size(2), a.training = training, a.eps = eps;
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(a.N * a.S, 1));
    if (a.S == 1) {  // (N, C): vectorised across channels, rows read whole
      parallel_for(0, a.C, std::max<int64_t>(grain, 16), [&](int64_t c0, int64_t c1) {
        std::vector<double> s(static_cast<size_t>(c1 - c0)), q(static_cast<size_t>(c1 - c0));
        NORM_CALL(bn_fwd_range_s1, T, a, c0, c1, s.data(), q.data());
      });
      return;
    }
    // channels in pieces balanced at run time (each channel's sums are its own: the same bits
    // whichever thread runs it)
    parallel_for_pieces(0, a.C, grain, 8, [&](int64_t c0, int64_t c1, int) { NORM_CALL(bn_fwd_range, T, a, c0, c1); });
  });
}

// x, gy (N, C, S); weight, mean, invstd (C) -> gx (N, C, S), gw, gb (C), each optional
void batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& weight, const Tensor& mean,
                         const Tensor& invstd, const Tensor& gx, const Tensor& gw, const Tensor& gb, bool training) {
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    BnArgs<T> a;
    a.x = x.data<T>(), a.gy = gy.data<T>(), a.w = opt<T>(weight);
    a.mean = mean.data<T>(), a.invstd = invstd.data<T>();
    a.gx = opt_mut<T>(gx), a.gw = opt_mut<T>(gw), a.gb = opt_mut<T>(gb);
    a.N = x.size(0), a.C = x.size(1), a.S = x.size(2), a.training = training;
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(a.N * a.S, 1));
    if (a.S == 1) {
      parallel_for(0, a.C, std::max<int64_t>(grain, 16), [&](int64_t c0, int64_t c1) {
        std::vector<double> sg(static_cast<size_t>(c1 - c0)), sgx(static_cast<size_t>(c1 - c0));
        NORM_CALL(bn_bwd_range_s1, T, a, c0, c1, sg.data(), sgx.data());
      });
      return;
    }
    parallel_for_pieces(0, a.C, grain, 8, [&](int64_t c0, int64_t c1, int) { NORM_CALL(bn_bwd_range, T, a, c0, c1); });
  });
}

// r (C) <- r * (1 - momentum) + (stat * factor) * momentum, in place. One pass over C values in
// place of five tensor ops with their temporaries (4-5 us of a BatchNorm call's ~7). No contraction
// into FMAs, so the bits are those of the separate multiplies and add.
__attribute__((optimize("fp-contract=off"))) void batch_norm_update_running(const Tensor& r, const Tensor& stat,
                                                                             double momentum, double factor) {
  dispatch_float(r.dtype(), "batch_norm_update_running", [&](auto tag) {
    using T = decltype(tag);
    T* p = r.data<T>();
    const T* s = stat.data<T>();
    const T a = static_cast<T>(1.0 - momentum), b = static_cast<T>(momentum), f = static_cast<T>(factor);
    for (int64_t i = 0, n = r.numel(); i < n; ++i) {
      const T kept = p[i] * a, added = s[i] * f * b;  // separate statements: no contraction in clang either
      p[i] = kept + added;
    }
  });
}

// x (M, K) -> y (M, K), mean, rstd (M)
void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y, const Tensor& mean,
                const Tensor& rstd, double eps) {
  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    LnArgs<T> a;
    a.x = x.data<T>(), a.y = y.data<T>(), a.w = opt<T>(weight), a.b = opt<T>(bias);
    a.mean = mean.data<T>(), a.rstd = rstd.data<T>();
    a.M = x.size(0), a.K = x.size(1), a.eps = eps;
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(a.K, 1));
#if defined(__x86_64__) && defined(__GNUC__)
    if constexpr (std::is_same_v<T, float>) {
      if (ln_short::use<T>(a.K)) {
        parallel_for(0, a.M, grain, [&](int64_t r0, int64_t r1) { ln_short::fwd_range(a, r0, r1); });
        return;
      }
    }
#endif
    parallel_for(0, a.M, grain, [&](int64_t r0, int64_t r1) { NORM_CALL(ln_fwd_range, T, a, r0, r1); });
  });
}

// x, gy (M, K); weight (K); mean, rstd (M) -> gx (M, K), gw, gb (K), each optional
void layer_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  dispatch_float(x.dtype(), "layer_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    LnArgs<T> a;
    a.x = x.data<T>(), a.gy = gy.data<T>(), a.w = opt<T>(weight);
    a.mean = mean.data<T>(), a.rstd = rstd.data<T>(), a.gx = opt_mut<T>(gx);
    a.M = x.size(0), a.K = x.size(1);
    T *dw = opt_mut<T>(gw), *db = opt_mut<T>(gb);
    // A fixed number of row chunks (independent of the thread count): deterministic sums.
    a.chunks = std::max<int64_t>(1, std::min<int64_t>(a.M, 32));
    const bool need_params = dw || db;
    std::vector<T> pw(need_params ? a.chunks * a.K : 0, T(0)), pb(need_params ? a.chunks * a.K : 0, T(0));
    if (need_params) a.pw = pw.data(), a.pb = pb.data();
    bool done = false;
#if defined(__x86_64__) && defined(__GNUC__)
    if constexpr (std::is_same_v<T, float>) {
      if (ln_short::use<T>(a.K)) {
        parallel_for(0, a.chunks, 1, [&](int64_t k0, int64_t k1) { ln_short::bwd_range(a, k0, k1); });
        done = true;
      }
    }
#endif
    if (!done) parallel_for(0, a.chunks, 1, [&](int64_t k0, int64_t k1) { NORM_CALL(ln_bwd_range, T, a, k0, k1); });
    if (!need_params) return;
    const int64_t K = a.K, chunks = a.chunks;
    for (int64_t i = 0; i < K; ++i) {
      double sw = 0, sb = 0;
      for (int64_t ch = 0; ch < chunks; ++ch) sw += pw[ch * K + i], sb += pb[ch * K + i];
      if (dw) dw[i] = static_cast<T>(sw);
      if (db) db[i] = static_cast<T>(sb);
    }
  });
}

// x (N, C, S) -> y, mean / rstd (N, G)
void group_norm(const Tensor& x, int64_t groups, const Tensor& weight, const Tensor& bias, const Tensor& y,
                const Tensor& mean, const Tensor& rstd, double eps) {
  dispatch_float(x.dtype(), "group_norm", [&](auto tag) {
    using T = decltype(tag);
    GnArgs<T> a;
    a.x = x.data<T>(), a.y = y.data<T>(), a.w = opt<T>(weight), a.b = opt<T>(bias);
    a.N = x.size(0), a.C = x.size(1), a.G = groups, a.S = x.size(2), a.eps = eps;
    a.mean_out = mean.data<T>(), a.rstd_out = rstd.data<T>();
    const int64_t K = a.C / a.G * a.S;
    parallel_for(0, a.N * a.G, std::max<int64_t>(1, 16384 / std::max<int64_t>(K, 1)),
                 [&](int64_t r0, int64_t r1) { NORM_CALL(gn_fwd_range, T, a, r0, r1); });
  });
}

// x, gy (N, C, S); weight (C); mean, rstd (N, G) -> gx (N, C, S), gw, gb (C), each optional
void group_norm_backward(const Tensor& x, const Tensor& gy, int64_t groups, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  dispatch_float(x.dtype(), "group_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    GnArgs<T> a;
    a.x = x.data<T>(), a.gy = gy.data<T>(), a.w = opt<T>(weight), a.mean = mean.data<T>(), a.rstd = rstd.data<T>();
    a.gx = opt_mut<T>(gx);
    a.N = x.size(0), a.C = x.size(1), a.G = groups, a.S = x.size(2);
    std::vector<double> ds(static_cast<size_t>(a.N * a.C)), db(static_cast<size_t>(a.N * a.C));
    a.ds = ds.data(), a.db = db.data();
    const int64_t K = a.C / a.G * a.S;
    parallel_for(0, a.N * a.G, std::max<int64_t>(1, 16384 / std::max<int64_t>(K, 1)),
                 [&](int64_t r0, int64_t r1) { NORM_CALL(gn_bwd_range, T, a, r0, r1); });
    T *dw = opt_mut<T>(gw), *dbias = opt_mut<T>(gb);
    if (!dw && !dbias) return;
    const int64_t Cg = a.C / a.G;
    for (int64_t c = 0; c < a.C; ++c) {  // sums over n in order: deterministic at any thread count
      double sw = 0, sb = 0;
      for (int64_t n = 0; n < a.N; ++n) {
        const int64_t r = n * a.G + c / Cg;
        sw += static_cast<double>(a.rstd[r]) * (ds[n * a.C + c] - static_cast<double>(a.mean[r]) * db[n * a.C + c]);
        sb += db[n * a.C + c];
      }
      if (dw) dw[c] = static_cast<T>(sw);
      if (dbias) dbias[c] = static_cast<T>(sb);
    }
  });
}

}  // namespace ember::cpu

#pragma GCC diagnostic pop

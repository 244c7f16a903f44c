// CPU normalisation kernels, forward and backward, fused: batch norm over x (N, C, S) parallel over
// channels; layer norm over rows x (M, K) parallel over rows, with the weight/bias gradients summed
// in a fixed number of row chunks (deterministic, race-free) and reduced at the end.
// Inputs are contiguous (the ops make them so). Batch statistics accumulate in double (two passes:
// mean, then centred squares), so float32 results do not drift for large N * S; layer-norm rows up
// to kShortRow elements accumulate in their own type with SIMD lanes. The bodies live in
// norm_kernels.inc, compiled for baseline x86-64, AVX2 and AVX-512 and picked at run time.
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "loops.h"
#include "parallel.h"

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
    parallel_for(0, a.C, grain, [&](int64_t c0, int64_t c1) { NORM_CALL(bn_fwd_range, T, a, c0, c1); });
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
    parallel_for(0, a.C, grain, [&](int64_t c0, int64_t c1) { NORM_CALL(bn_bwd_range, T, a, c0, c1); });
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
    parallel_for(0, a.chunks, 1, [&](int64_t k0, int64_t k1) { NORM_CALL(ln_bwd_range, T, a, k0, k1); });
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

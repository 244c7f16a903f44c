// CPU normalisation kernels, forward and backward, fused: batch norm over x (N, C, S) parallel over
// channels; layer norm over rows x (M, K) parallel over rows, with the weight/bias gradients summed
// in a fixed number of row chunks (deterministic, race-free) and reduced at the end.
// Inputs are contiguous (the ops make them so). Statistics accumulate in double (two passes:
// mean, then centred squares), so float32 results do not drift for large N * S; layer-norm rows up
// to kShortRow elements accumulate in their own type with SIMD lanes.
#include <cmath>
#include <vector>

#include "cpu_backend.h"
#include "parallel.h"

namespace ember::cpu {
namespace {

template <class T>
inline const T* opt(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
template <class T>
inline T* opt_mut(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

// mean and biased variance of one row (n,), accumulated in A (lane-wise partial sums under simd).
template <class A, class T>
inline void row_moments(const T* x, int64_t n, double& mean, double& var) {
  A s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += x[i];
  mean = static_cast<double>(s) / static_cast<double>(n);
  const T m = static_cast<T>(mean);
  A q = 0;
#pragma omp simd reduction(+ : q)
  for (int64_t i = 0; i < n; ++i) {
    const A d = static_cast<A>(x[i] - m);
    q += d * d;
  }
  var = static_cast<double>(q) / static_cast<double>(n);
}

// sum(a) and sum(a * xhat) of one row, a = gy * w (w may be null), xhat = (x - m) * s.
template <class A, class T>
inline void row_dot_sums(const T* x, const T* gy, const T* w, T m, T s, int64_t n, double& sa_out,
                         double& sax_out) {
  A sa = 0, sax = 0;
  if (w) {
#pragma omp simd reduction(+ : sa, sax)
    for (int64_t i = 0; i < n; ++i) {
      const T a = gy[i] * w[i];
      sa += a;
      sax += static_cast<A>(a) * static_cast<A>((x[i] - m) * s);
    }
  } else {
#pragma omp simd reduction(+ : sa, sax)
    for (int64_t i = 0; i < n; ++i) {
      sa += gy[i];
      sax += static_cast<A>(gy[i]) * static_cast<A>((x[i] - m) * s);
    }
  }
  sa_out = static_cast<double>(sa);
  sax_out = static_cast<double>(sax);
}

// Rows up to this length accumulate in their own type (SIMD lanes keep float32 sums accurate to
// ~1e-7 relative there); longer rows accumulate in double.
constexpr int64_t kShortRow = 4096;

}  // namespace

// x (N, C, S) -> y (N, C, S); mean, var, invstd (C)
void batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                const Tensor& invstd, const Tensor& y, bool training, double eps) {
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  dispatch_float(x.dtype(), "batch_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    const T *w = opt<T>(weight), *b = opt<T>(bias);
    T *mp = mean.data<T>(), *vp = var.data<T>(), *ip = invstd.data<T>();
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(N * S, 1));
    parallel_for(0, C, grain, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double mu, v;
        if (training) {
          double s = 0;
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = xp + (n * C + c) * S;
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < S; ++i) s += xr[i];
          }
          mu = s / static_cast<double>(N * S);
          const T m = static_cast<T>(mu);
          double q = 0;
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = xp + (n * C + c) * S;
#pragma omp simd reduction(+ : q)
            for (int64_t i = 0; i < S; ++i) {
              const double d = static_cast<double>(xr[i] - m);
              q += d * d;
            }
          }
          v = q / static_cast<double>(N * S);
          mp[c] = static_cast<T>(mu);
          vp[c] = static_cast<T>(v);
        } else {
          mu = mp[c];
          v = vp[c];
        }
        const double is = 1.0 / std::sqrt(v + eps);
        ip[c] = static_cast<T>(is);
        const double sc = is * (w ? static_cast<double>(w[c]) : 1.0);
        const T scale = static_cast<T>(sc);
        const T shift = static_cast<T>((b ? static_cast<double>(b[c]) : 0.0) - mu * sc);
        for (int64_t n = 0; n < N; ++n) {
          const T* xr = xp + (n * C + c) * S;
          T* yr = yp + (n * C + c) * S;
#pragma omp simd
          for (int64_t i = 0; i < S; ++i) yr[i] = xr[i] * scale + shift;
        }
      }
    });
  });
}

// x, gy (N, C, S); weight, mean, invstd (C) -> gx (N, C, S), gw, gb (C), each optional
void batch_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& weight, const Tensor& mean,
                         const Tensor& invstd, const Tensor& gx, const Tensor& gw, const Tensor& gb, bool training) {
  const int64_t N = x.size(0), C = x.size(1), S = x.size(2);
  dispatch_float(x.dtype(), "batch_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *xp = x.data<T>(), *gp = gy.data<T>(), *w = opt<T>(weight);
    const T *mp = mean.data<T>(), *ip = invstd.data<T>();
    T *dx = opt_mut<T>(gx), *dw = opt_mut<T>(gw), *db = opt_mut<T>(gb);
    const double M = static_cast<double>(N * S);
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(N * S, 1));
    parallel_for(0, C, grain, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const T m = mp[c];
        const double is = ip[c];
        double sg = 0, sgx = 0;  // sum(gy), sum(gy * (x - mean))
        if (training || dw || db) {
          for (int64_t n = 0; n < N; ++n) {
            const T* xr = xp + (n * C + c) * S;
            const T* gr = gp + (n * C + c) * S;
#pragma omp simd reduction(+ : sg, sgx)
            for (int64_t i = 0; i < S; ++i) {
              sg += gr[i];
              sgx += static_cast<double>(gr[i]) * static_cast<double>(xr[i] - m);
            }
          }
        }
        if (dw) dw[c] = static_cast<T>(sgx * is);
        if (db) db[c] = static_cast<T>(sg);
        if (!dx) continue;
        const double wis = (w ? static_cast<double>(w[c]) : 1.0) * is;
        const T a = static_cast<T>(wis);
        if (!training) {  // gx = gy * w * invstd
          for (int64_t n = 0; n < N; ++n) {
            const T* gr = gp + (n * C + c) * S;
            T* dr = dx + (n * C + c) * S;
#pragma omp simd
            for (int64_t i = 0; i < S; ++i) dr[i] = gr[i] * a;
          }
          continue;
        }
        // gx = w * invstd * (gy - mean(gy) - (x - mean) * invstd^2 * mean(gy * (x - mean)))
        const T k = static_cast<T>(wis * is * is * sgx / M);
        const T off = static_cast<T>(-wis * sg / M);
        for (int64_t n = 0; n < N; ++n) {
          const T* xr = xp + (n * C + c) * S;
          const T* gr = gp + (n * C + c) * S;
          T* dr = dx + (n * C + c) * S;
#pragma omp simd
          for (int64_t i = 0; i < S; ++i) dr[i] = gr[i] * a + off - (xr[i] - m) * k;
        }
      }
    });
  });
}

// x (M, K) -> y (M, K), mean, rstd (M)
void layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& y, const Tensor& mean,
                const Tensor& rstd, double eps) {
  const int64_t M = x.size(0), K = x.size(1);
  dispatch_float(x.dtype(), "layer_norm", [&](auto tag) {
    using T = decltype(tag);
    const T* xp = x.data<T>();
    T* yp = y.data<T>();
    const T *w = opt<T>(weight), *b = opt<T>(bias);
    T *mp = mean.data<T>(), *rp = rstd.data<T>();
    const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(K, 1));
    parallel_for(0, M, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = xp + r * K;
        T* yr = yp + r * K;
        double mu = 0, v = 0;
        if (K > 0 && K <= kShortRow) row_moments<T>(xr, K, mu, v);
        else if (K > 0) row_moments<double>(xr, K, mu, v);
        const double rs = 1.0 / std::sqrt(v + eps);
        mp[r] = static_cast<T>(mu);
        rp[r] = static_cast<T>(rs);
        const T m = static_cast<T>(mu), s = static_cast<T>(rs);
        if (w && b) {
#pragma omp simd
          for (int64_t i = 0; i < K; ++i) yr[i] = (xr[i] - m) * s * w[i] + b[i];
        } else if (w) {
#pragma omp simd
          for (int64_t i = 0; i < K; ++i) yr[i] = (xr[i] - m) * s * w[i];
        } else {
#pragma omp simd
          for (int64_t i = 0; i < K; ++i) yr[i] = (xr[i] - m) * s;
        }
      }
    });
  });
}

// x, gy (M, K); weight (K); mean, rstd (M) -> gx (M, K), gw, gb (K), each optional
void layer_norm_backward(const Tensor& x, const Tensor& gy, const Tensor& weight, const Tensor& mean,
                         const Tensor& rstd, const Tensor& gx, const Tensor& gw, const Tensor& gb) {
  const int64_t M = x.size(0), K = x.size(1);
  dispatch_float(x.dtype(), "layer_norm_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *xp = x.data<T>(), *gp = gy.data<T>(), *w = opt<T>(weight);
    const T *mp = mean.data<T>(), *rp = rstd.data<T>();
    T *dx = opt_mut<T>(gx), *dw = opt_mut<T>(gw), *db = opt_mut<T>(gb);
    // A fixed number of row chunks (independent of the thread count): deterministic sums.
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(M, 32));
    const bool need_params = dw || db;
    std::vector<T> pw(need_params ? chunks * K : 0, T(0)), pb(need_params ? chunks * K : 0, T(0));
    const double invK = K > 0 ? 1.0 / static_cast<double>(K) : 0.0;
    parallel_for(0, chunks, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t ch = k0; ch < k1; ++ch) {
        const int64_t r0 = ch * M / chunks, r1 = (ch + 1) * M / chunks;
        T* cw = need_params ? pw.data() + ch * K : nullptr;
        T* cb = need_params ? pb.data() + ch * K : nullptr;
        for (int64_t r = r0; r < r1; ++r) {
          const T* xr = xp + r * K;
          const T* gr = gp + r * K;
          const T m = mp[r], s = rp[r];
          if (need_params) {
#pragma omp simd
            for (int64_t i = 0; i < K; ++i) {
              cw[i] += gr[i] * (xr[i] - m) * s;
              cb[i] += gr[i];
            }
          }
          if (!dx) continue;
          // a = gy * w; gx = rstd * (a - mean(a) - xhat * mean(a * xhat))
          double sa = 0, sax = 0;
          if (K <= kShortRow) row_dot_sums<T>(xr, gr, w, m, s, K, sa, sax);
          else row_dot_sums<double>(xr, gr, w, m, s, K, sa, sax);
          const T c1 = static_cast<T>(sa * invK), c2 = static_cast<T>(sax * invK);
          T* dr = dx + r * K;
          if (w) {
#pragma omp simd
            for (int64_t i = 0; i < K; ++i) dr[i] = s * (gr[i] * w[i] - c1 - (xr[i] - m) * s * c2);
          } else {
#pragma omp simd
            for (int64_t i = 0; i < K; ++i) dr[i] = s * (gr[i] - c1 - (xr[i] - m) * s * c2);
          }
        }
      }
    });
    if (!need_params) return;
    for (int64_t i = 0; i < K; ++i) {
      double sw = 0, sb = 0;
      for (int64_t ch = 0; ch < chunks; ++ch) sw += pw[ch * K + i], sb += pb[ch * K + i];
      if (dw) dw[i] = static_cast<T>(sw);
      if (db) db[i] = static_cast<T>(sb);
    }
  });
}

}  // namespace ember::cpu

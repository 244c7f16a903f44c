// CPU random fills: Philox4x32-10 blocks turned into uniform, normal (Box-Muller), bounded
// integer and raw 64-bit values. Value i uses block counter + i / k (k = 4 narrow, 2 wide) and
// nothing else, so the output is the same whatever the thread count.
// Assumes: `out` is contiguous; parameters were validated by the op (ops/random.cpp).
#include <cmath>

#include "cpu_backend.h"
#include "ember/random.h"
#include "parallel.h"

namespace ember::cpu {

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr int64_t kGrainBlocks = 4096;

// [0, 1) with 24 (float) or 53 (double) random bits.
inline float u24(uint32_t w) { return static_cast<float>(w >> 8) * (1.0f / 16777216.0f); }
inline double u53(uint32_t hi, uint32_t lo) {
  return static_cast<double>(((uint64_t(hi) << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}
inline uint64_t w64(uint32_t hi, uint32_t lo) { return (uint64_t(hi) << 32) | lo; }

// gen(block words, vals) writes K values of type V per block; out[i] = cast(vals[i % K]).
template <int K, class T, class V, class Gen>
void fill_blocks(T* out, int64_t n, uint64_t key, uint64_t counter, Gen gen) {
  const int64_t nblocks = (n + K - 1) / K;
  parallel_for(0, nblocks, kGrainBlocks, [&](int64_t b0, int64_t b1) {
    V vals[K];
    for (int64_t b = b0; b < b1; ++b) {
      gen(philox_block(key, counter + static_cast<uint64_t>(b)), vals);
      const int64_t i0 = b * K, m = std::min<int64_t>(K, n - i0);
      for (int64_t j = 0; j < m; ++j) out[i0 + j] = static_cast<T>(vals[j]);
    }
  });
}

template <class T>
void fill_float(RandomOp op, T* out, int64_t n, uint64_t key, uint64_t counter, const RandomParams& p) {
  const T a = static_cast<T>(p.a), b = static_cast<T>(p.b), span = static_cast<T>(p.b - p.a);
  using W = std::array<uint32_t, 4>;
  if constexpr (std::is_same_v<T, float>) {
    if (op == RandomOp::Uniform) {
      fill_blocks<4, T, float>(out, n, key, counter, [&](const W& w, float* v) {
        for (int j = 0; j < 4; ++j) v[j] = a + span * u24(w[j]);
      });
    } else {  // two Box-Muller pairs per block
      fill_blocks<4, T, float>(out, n, key, counter, [&](const W& w, float* v) {
        for (int j = 0; j < 4; j += 2) {
          const float u1 = static_cast<float>((w[j] >> 8) + 1) * (1.0f / 16777216.0f);  // (0, 1]
          const float r = std::sqrt(-2.0f * std::log(u1)), th = static_cast<float>(kTwoPi) * u24(w[j + 1]);
          v[j] = a + b * r * std::cos(th);
          v[j + 1] = a + b * r * std::sin(th);
        }
      });
    }
  } else {
    if (op == RandomOp::Uniform) {
      fill_blocks<2, T, double>(out, n, key, counter, [&](const W& w, double* v) {
        v[0] = a + span * u53(w[0], w[1]);
        v[1] = a + span * u53(w[2], w[3]);
      });
    } else {  // one Box-Muller pair per block
      fill_blocks<2, T, double>(out, n, key, counter, [&](const W& w, double* v) {
        const double u1 = 1.0 - u53(w[0], w[1]);  // (0, 1]
        const double r = std::sqrt(-2.0 * std::log(u1)), th = kTwoPi * u53(w[2], w[3]);
        v[0] = a + b * r * std::cos(th);
        v[1] = a + b * r * std::sin(th);
      });
    }
  }
}
}  // namespace

// out (any shape, contiguous) <- draw
void random(RandomOp op, const Tensor& out, uint64_t key, uint64_t counter, const RandomParams& p) {
  const int64_t n = out.numel();
  if (n == 0) return;
  using W = std::array<uint32_t, 4>;
  switch (op) {
    case RandomOp::Uniform:
    case RandomOp::Normal:
      dispatch_float(out.dtype(), "random", [&](auto tag) {
        using T = decltype(tag);
        fill_float<T>(op, out.data<T>(), n, key, counter, p);
      });
      return;
    case RandomOp::RandInt:
      dispatch_all(out.dtype(), "randint", [&](auto tag) {
        using T = decltype(tag);
        const int64_t low = p.low;
        const uint64_t range = p.range;
        if (random_is_wide(op, out.dtype(), p)) {
          fill_blocks<2, T, int64_t>(out.data<T>(), n, key, counter, [&](const W& w, int64_t* v) {
            v[0] = low + static_cast<int64_t>(w64(w[0], w[1]) % range);
            v[1] = low + static_cast<int64_t>(w64(w[2], w[3]) % range);
          });
        } else {
          fill_blocks<4, T, int64_t>(out.data<T>(), n, key, counter, [&](const W& w, int64_t* v) {
            for (int j = 0; j < 4; ++j) v[j] = low + static_cast<int64_t>(w[j] % range);
          });
        }
      });
      return;
    case RandomOp::Bits:
      EMBER_CHECK(out.dtype() == DType::Int64, RuntimeError, "random bits: expected an int64 output");
      fill_blocks<2, int64_t, int64_t>(out.data<int64_t>(), n, key, counter, [&](const W& w, int64_t* v) {
        v[0] = static_cast<int64_t>(w64(w[0], w[1]));
        v[1] = static_cast<int64_t>(w64(w[2], w[3]));
      });
      return;
  }
}

}  // namespace ember::cpu

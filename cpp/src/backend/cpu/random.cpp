// CPU random fills: Philox4x32-10 blocks turned into uniform, normal (Box-Muller), bounded
// integer and raw 64-bit values. Value i uses block counter + i / k (k = 4 narrow, 2 wide) and
// nothing else, so the output is the same whatever the thread count. Philox and the float
// transforms run vectorised (random_kernels.inc, per ISA; no FMA contraction in this file, so
// every ISA gives the same bits).
// Assumes: `out` is contiguous; parameters were validated by the op (ops/random.cpp).
#include <algorithm>
#include <array>
#include <cmath>

#include "cpu_backend.h"
#include "ember/random.h"
#include "loops.h"
#include "parallel.h"
#include "vec_math.h"

namespace ember::cpu {

namespace {
constexpr double kTwoPi = 6.283185307179586476925286766559;
constexpr int64_t kGrainBlocks = 4096;
constexpr int64_t kChunk = 256;  // blocks generated at a time (4 KiB of words)

namespace random_base {
#define EMBER_RANDOM_ATTR
#include "random_kernels.inc"
#undef EMBER_RANDOM_ATTR
}  // namespace random_base
#if defined(__x86_64__) && defined(__GNUC__)
namespace random_avx2 {
#define EMBER_RANDOM_ATTR EMBER_ATTR_AVX2
#include "random_kernels.inc"
#undef EMBER_RANDOM_ATTR
}  // namespace random_avx2
namespace random_avx512 {
#define EMBER_RANDOM_ATTR EMBER_ATTR_AVX512
#include "random_kernels.inc"
#undef EMBER_RANDOM_ATTR
}  // namespace random_avx512
#endif

// [0, 1) with 53 random bits (float: 24, in random_kernels.inc).
inline double u53(uint32_t hi, uint32_t lo) {
  return static_cast<double>(((uint64_t(hi) << 32) | lo) >> 11) * (1.0 / 9007199254740992.0);
}
inline uint64_t w64(uint32_t hi, uint32_t lo) { return (uint64_t(hi) << 32) | lo; }

// gen(block words, vals) writes K values of type V per block; out[i] = cast(vals[i % K]). The
// blocks' words come from the vectorised Philox kChunk blocks at a time.
template <int K, class T, class V, class Gen>
void fill_blocks(T* out, int64_t n, uint64_t key, uint64_t counter, Gen gen) {
  const int64_t nblocks = (n + K - 1) / K;
  parallel_for(0, nblocks, kGrainBlocks, [&](int64_t b0, int64_t b1) {
    alignas(64) uint32_t w[4 * kChunk];
    V vals[K];
    for (int64_t c = b0; c < b1; c += kChunk) {
      const int64_t nb = std::min(kChunk, b1 - c);
      EMBER_NS_ISA_CALL_(random, philox_words, key, counter + static_cast<uint64_t>(c), nb, w);
      for (int64_t b = 0; b < nb; ++b) {
        gen(std::array<uint32_t, 4>{w[4 * b], w[4 * b + 1], w[4 * b + 2], w[4 * b + 3]}, vals);
        const int64_t i0 = (c + b) * K, m = std::min<int64_t>(K, n - i0);
        for (int64_t j = 0; j < m; ++j) out[i0 + j] = static_cast<T>(vals[j]);
      }
    }
  });
}

// float uniform / normal: value i is word i of the stream (4 per block), transformed by a
// vectorised loop (normal: Box-Muller on word pairs, both values of a pair in one block).
void fill_f32(bool normal, float* out, int64_t n, uint64_t key, uint64_t counter, float a, float b) {
  const int64_t nblocks = (n + 3) / 4;
  parallel_for(0, nblocks, kGrainBlocks, [&](int64_t b0, int64_t b1) {
    alignas(64) uint32_t w[4 * kChunk];
    alignas(64) float tail[4 * kChunk];
    for (int64_t c = b0; c < b1; c += kChunk) {
      const int64_t nb = std::min(kChunk, b1 - c);
      EMBER_NS_ISA_CALL_(random, philox_words, key, counter + static_cast<uint64_t>(c), nb, w);
      const int64_t i0 = c * 4, m = std::min<int64_t>(4 * nb, n - i0);
      float* dst = m == 4 * nb ? out + i0 : tail;
      if (normal) EMBER_NS_ISA_CALL_(random, normal_f32, w, 2 * nb, a, b, dst);
      else EMBER_NS_ISA_CALL_(random, uniform_f32, w, 4 * nb, a, b, dst);
      if (dst == tail) std::copy(tail, tail + m, out + i0);
    }
  });
}

template <class T>
void fill_float(RandomOp op, T* out, int64_t n, uint64_t key, uint64_t counter, const RandomParams& p) {
  const T a = static_cast<T>(p.a), b = static_cast<T>(p.b), span = static_cast<T>(p.b - p.a);
  using W = std::array<uint32_t, 4>;
  if constexpr (std::is_same_v<T, float>) {
    if (op == RandomOp::Uniform) fill_f32(false, out, n, key, counter, a, span);
    else fill_f32(true, out, n, key, counter, a, b);  // two Box-Muller pairs per block
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

// Dropout: the words of the Uniform fill a tensor of x's dtype would get (4 values a block for
// float32, 2 for float64), chunk by chunk, straight into the mask and the output: one pass, where
// rand, >= p, * and / made four.
void dropout(const Tensor& x, const Tensor& out, const Tensor& mask, double p, uint64_t key, uint64_t counter) {
  const int64_t n = x.numel();
  if (n == 0) return;
  uint8_t* mk = reinterpret_cast<uint8_t*>(mask.data<bool>());
  dispatch_float(x.dtype(), "dropout", [&](auto tag) {
    using T = decltype(tag);
    constexpr int64_t K = std::is_same_v<T, float> ? 4 : 2;  // values a block
    const T* xs = x.data<T>();
    T* o = out.data<T>();
    const T pt = static_cast<T>(p), st = static_cast<T>(1.0 - p);
    const int64_t nblocks = (n + K - 1) / K;
    parallel_for(0, nblocks, kGrainBlocks / 4, [&](int64_t b0, int64_t b1) {
      alignas(64) uint32_t w[4 * kChunk];
      for (int64_t c = b0; c < b1; c += kChunk) {
        const int64_t nb = std::min(kChunk, b1 - c);
        EMBER_NS_ISA_CALL_(random, philox_words, key, counter + static_cast<uint64_t>(c), nb, w);
        const int64_t i0 = c * K, m = std::min<int64_t>(K * nb, n - i0);
        if constexpr (std::is_same_v<T, float>) {
          EMBER_NS_ISA_CALL_(random, dropout_f32, w, m, xs + i0, pt, st, o + i0, mk + i0);
        } else {
          EMBER_NS_ISA_CALL_(random, dropout_f64, w, m, xs + i0, pt, st, o + i0, mk + i0);
        }
      }
    });
  });
}

void dropout_backward(const Tensor& g, const Tensor& mask, const Tensor& out, double p) {
  const int64_t n = g.numel();
  if (n == 0) return;
  const uint8_t* mk = reinterpret_cast<const uint8_t*>(mask.data<bool>());
  dispatch_float(g.dtype(), "dropout_backward", [&](auto tag) {
    using T = decltype(tag);
    const T* gs = g.data<T>();
    T* o = out.data<T>();
    const T st = static_cast<T>(1.0 - p);
    parallel_for(0, n, 1 << 15, [&](int64_t b, int64_t e) {
      EMBER_NS_ISA_CALL_(random, masked_div<T>, gs + b, mk + b, st, o + b, e - b);
    });
  });
}

}  // namespace ember::cpu

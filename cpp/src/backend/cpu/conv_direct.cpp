// Depthwise convolution kernels (C/groups == 1): direct loops over (kh, kw) taps with the valid
// output range precomputed per tap, so the inner loop has no bounds checks and vectorises when the
// stride is 1. Forward and input gradient run in parallel over (n, channel) planes, the weight
// gradient over output channels: every thread owns what it writes, no atomics. The bodies live in
// conv_direct_kernels.inc, compiled for baseline x86-64, AVX2 and AVX-512 and picked at run time.
#include <cstring>
#include <memory>

#include "conv_direct.h"
#include "conv_util.h"
#include "loops.h"
#include "parallel.h"

// The stride-1 kernels keep 64-byte GCC vectors in registers; their always-inline helpers return
// them, which GCC flags as an ABI change in the baseline build (no call ever crosses one).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace ember::cpu {
namespace {
using conv_detail::valid_range;

// EMBER_DW_ACC: the 64-byte accumulators a register-blocked row kernel keeps (of 32 zmm, 16 ymm,
// 16 xmm).
namespace dwk_base {
#define EMBER_DW_ATTR
#define EMBER_DW_ACC 3
#include "conv_direct_kernels.inc"
#undef EMBER_DW_ACC
#undef EMBER_DW_ATTR
}  // namespace dwk_base
#if defined(__x86_64__) && defined(__GNUC__)
namespace dwk_avx2 {
#define EMBER_DW_ATTR EMBER_ATTR_AVX2
#define EMBER_DW_ACC 6
#include "conv_direct_kernels.inc"
#undef EMBER_DW_ACC
#undef EMBER_DW_ATTR
}  // namespace dwk_avx2
namespace dwk_avx512 {
#define EMBER_DW_ATTR EMBER_ATTR_AVX512
#define EMBER_DW_ACC 16
#include "conv_direct_kernels.inc"
#undef EMBER_DW_ACC
#undef EMBER_DW_ATTR
}  // namespace dwk_avx512
#endif

// Elements of slack past a padded plane: the stride-1 kernels read whole 64-byte vectors.
constexpr int64_t kSlack = 64;

template <class T>
void dw_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  const int64_t L = g.OH * g.OW;
  const int64_t Hp = (g.OH - 1) * g.sh + (g.KH - 1) * g.dh + 1, Wp = (g.OW - 1) * g.sw + (g.KW - 1) * g.dw + 1;
  if (L == 0) return;
  parallel_for(0, g.N * g.O, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, L * g.KH * g.KW)),
               [&](int64_t b, int64_t e) {
    std::unique_ptr<T[]> P(new T[static_cast<size_t>(Hp * Wp + kSlack)]());
    std::unique_ptr<int64_t[]> off(new int64_t[static_cast<size_t>(g.KH * g.KW)]);
    EMBER_NS_ISA_CALL_(dwk, dw_forward_range<T>, g, x, w, bias, y, P.get(), Hp, Wp, off.get(), b, e);
  });
}

// The backward kernels run at most at AVX2: with 16-float vectors, dx's taps (read-modify-writes
// of one row at shifts of one element) stall on store forwarding, and dw's short per-row
// reductions pay a horizontal sum each; both measured ~1.5x slower than AVX2 on (16, 64, 32, 32).
#if defined(__x86_64__) && defined(__GNUC__)
#define EMBER_DW_BWD_CALL(FN, ...) \
  (::ember::cpu::cpu_isa() >= ::ember::cpu::Isa::Avx2 ? dwk_avx2::FN(__VA_ARGS__) : dwk_base::FN(__VA_ARGS__))
#else
#define EMBER_DW_BWD_CALL(FN, ...) dwk_base::FN(__VA_ARGS__)
#endif

template <class T>
void dw_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  const int64_t mult = g.O / g.groups, L = g.OH * g.OW;
  if (g.sh == 1 && g.sw == 1 && (g.KH - 1) * g.dh >= g.ph && (g.KW - 1) * g.dw >= g.pw && L > 0) {
    const int64_t Hg = g.H + (g.KH - 1) * g.dh, Wg = g.W + (g.KW - 1) * g.dw;
    parallel_for(0, g.N * g.C, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, L * g.KH * g.KW * mult)),
                 [&](int64_t b, int64_t e) {
      std::unique_ptr<T[]> G(new T[static_cast<size_t>(Hg * Wg + kSlack)]());
      std::unique_ptr<int64_t[]> off(new int64_t[static_cast<size_t>(g.KH * g.KW)]);
      EMBER_NS_ISA_CALL_(dwk, dw_backward_input_s1_range<T>, g, gy, w, dx, G.get(), off.get(), b, e);
    });
    return;
  }
  parallel_for(0, g.N * g.C, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, L * g.KH * g.KW * mult)),
               [&](int64_t b, int64_t e) { EMBER_DW_BWD_CALL(dw_backward_input_range<T>, g, gy, w, dx, b, e); });
}

template <class T>
void dw_backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias) {
  if (g.sh == 1 && g.sw == 1 && g.OH > 0 && g.OW > 0) {
    const int64_t Hp = (g.OH - 1) + (g.KH - 1) * g.dh + 1, Wp = (g.OW - 1) + (g.KW - 1) * g.dw + 1;
    parallel_for(0, g.O, 1, [&](int64_t b, int64_t e) {
      std::unique_ptr<T[]> P(new T[static_cast<size_t>(Hp * Wp + kSlack)]());
      std::unique_ptr<T[]> acc(new T[static_cast<size_t>(g.KH * g.KW * (g.OW + kSlack))]);
      std::unique_ptr<int64_t[]> off(new int64_t[static_cast<size_t>(g.KH * g.KW)]);
      EMBER_NS_ISA_CALL_(dwk, dw_backward_weight_s1_range<T>, g, x, gy, dw, dbias, P.get(), Hp, Wp, acc.get(),
                         off.get(), b, e);
    });
    return;
  }
  parallel_for(0, g.O, 1, [&](int64_t b, int64_t e) {
    EMBER_DW_BWD_CALL(dw_backward_weight_range<T>, g, x, gy, dw, dbias, b, e);
  });
}

}  // namespace

bool conv_is_depthwise(const ConvGeom& g) { return g.groups > 1 && g.groups == g.C && g.O % g.groups == 0; }

template <class T>
void depthwise_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y) {
  dw_forward(g, x, w, bias, y);
}
template <class T>
void depthwise_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx) {
  dw_backward_input(g, gy, w, dx);
}
template <class T>
void depthwise_backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias) {
  dw_backward_weight(g, x, gy, dw, dbias);
}

#define EMBER_DW_INSTANTIATE(T)                                                                      \
  template void depthwise_forward<T>(const ConvGeom&, const T*, const T*, const T*, T*);            \
  template void depthwise_backward_input<T>(const ConvGeom&, const T*, const T*, T*);               \
  template void depthwise_backward_weight<T>(const ConvGeom&, const T*, const T*, T*, T*);
EMBER_DW_INSTANTIATE(float)
EMBER_DW_INSTANTIATE(double)
#undef EMBER_DW_INSTANTIATE

}  // namespace ember::cpu

// CPU recurrent-cell kernels (LSTM and GRU), forward and backward, fused: one pass over each
// row's gates computes every activation and the new state, and keeps the activations (ws) for a
// backward that is one pass too. torch's CPU cells take about ten element-wise ops each way.
// float32 uses vec_math.h's sigmoid and tanh (vectorised); float64 calls libm. Contiguous
// operands (the ops make them so), parallel over rows. Bodies in rnn_kernels.inc, compiled for
// baseline x86-64, AVX2 and AVX-512 and picked at run time.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "cpu_backend.h"
#include "ember/error.h"
#include "loops.h"
#include "parallel.h"
#include "vec_math.h"

namespace ember::cpu {
namespace {

EMBER_VM_INLINE float rnn_sigmoid(float x) { return sigmoid_f32(x); }
EMBER_VM_INLINE float rnn_tanh(float x) { return tanh_f32(x); }
inline double rnn_sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
inline double rnn_tanh(double x) { return std::tanh(x); }

namespace rnn_base {
#define EMBER_RNN_ATTR
#include "rnn_kernels.inc"
#undef EMBER_RNN_ATTR
}  // namespace rnn_base
#if defined(__x86_64__) && defined(__GNUC__)
namespace rnn_avx2 {
#define EMBER_RNN_ATTR EMBER_ATTR_AVX2
#include "rnn_kernels.inc"
#undef EMBER_RNN_ATTR
}  // namespace rnn_avx2
namespace rnn_avx512 {
#define EMBER_RNN_ATTR EMBER_ATTR_AVX512
#include "rnn_kernels.inc"
#undef EMBER_RNN_ATTR
}  // namespace rnn_avx512
#endif

// Rows per parallel chunk: about 16K gate values, so a thread's share outweighs waking it.
int64_t row_grain(int64_t gates_per_row) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(gates_per_row, 1)); }

template <class F>
void for_dtype(const Tensor& t, const char* op, F&& f) {
  if (t.dtype() == DType::Float32) f(float{});
  else if (t.dtype() == DType::Float64) f(double{});
  else throw TypeError(str(op, ": expected float32 or float64 tensors, got ", dtype_name(t.dtype())));
}
}  // namespace

void lstm_cell(const Tensor& ig, const Tensor& hg, const Tensor& cx, const Tensor& hy, const Tensor& cy,
               const Tensor& ws) {
  const int64_t N = cx.size(0), H = cx.size(1);
  for_dtype(cx, "lstm_cell", [&](auto tag) {
    using T = decltype(tag);
    const T *a = ig.data<T>(), *b = hg.data<T>(), *c0 = cx.data<T>();
    T *h1 = hy.data<T>(), *c1 = cy.data<T>(), *w = ws.data<T>();
    parallel_for(0, N, row_grain(5 * H), [&](int64_t r0, int64_t r1) {
      if constexpr (std::is_same_v<T, float>) EMBER_NS_ISA_CALL_(rnn, lstm_rows<T>, a, b, c0, h1, c1, w, H, r0, r1);
      else rnn_base::lstm_rows<T>(a, b, c0, h1, c1, w, H, r0, r1);
    });
  });
}

void lstm_cell_backward(const Tensor& ws, const Tensor& cx, const Tensor& ghy, const Tensor& gcy,
                        const Tensor& dgates, const Tensor& dcx) {
  const int64_t N = cx.size(0), H = cx.size(1);
  for_dtype(cx, "lstm_cell_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *w = ws.data<T>(), *c0 = cx.data<T>(), *gh = ghy.data<T>(), *gc = gcy.data<T>();
    T *d = dgates.data<T>(), *dc0 = dcx.data<T>();
    parallel_for(0, N, row_grain(5 * H), [&](int64_t r0, int64_t r1) {
      if constexpr (std::is_same_v<T, float>)
        EMBER_NS_ISA_CALL_(rnn, lstm_backward_rows<T>, w, c0, gh, gc, d, dc0, H, r0, r1);
      else rnn_base::lstm_backward_rows<T>(w, c0, gh, gc, d, dc0, H, r0, r1);
    });
  });
}

void gru_cell(const Tensor& ig, const Tensor& hg, const Tensor& hx, const Tensor& hy, const Tensor& ws) {
  const int64_t N = hx.size(0), H = hx.size(1);
  for_dtype(hx, "gru_cell", [&](auto tag) {
    using T = decltype(tag);
    const T *a = ig.data<T>(), *b = hg.data<T>(), *h0 = hx.data<T>();
    T *h1 = hy.data<T>(), *w = ws.data<T>();
    parallel_for(0, N, row_grain(4 * H), [&](int64_t r0, int64_t r1) {
      if constexpr (std::is_same_v<T, float>) EMBER_NS_ISA_CALL_(rnn, gru_rows<T>, a, b, h0, h1, w, H, r0, r1);
      else rnn_base::gru_rows<T>(a, b, h0, h1, w, H, r0, r1);
    });
  });
}

void gru_cell_backward(const Tensor& ws, const Tensor& hx, const Tensor& ghy, const Tensor& dig, const Tensor& dhg,
                       const Tensor& dhx) {
  const int64_t N = hx.size(0), H = hx.size(1);
  for_dtype(hx, "gru_cell_backward", [&](auto tag) {
    using T = decltype(tag);
    const T *w = ws.data<T>(), *h0 = hx.data<T>(), *g = ghy.data<T>();
    T *di = dig.data<T>(), *dh = dhg.data<T>(), *dh0 = dhx.data<T>();
    parallel_for(0, N, row_grain(4 * H), [&](int64_t r0, int64_t r1) {
      if constexpr (std::is_same_v<T, float>)
        EMBER_NS_ISA_CALL_(rnn, gru_backward_rows<T>, w, h0, g, di, dh, dh0, H, r0, r1);
      else rnn_base::gru_backward_rows<T>(w, h0, g, di, dh, dh0, H, r0, r1);
    });
  });
}

}  // namespace ember::cpu

// Direct convolution kernels for few output channels (conv_small.cpp), used by conv.cpp when
// conv_is_small(g): AVX-512 present, stride 1, dilation 1, groups 1, padding < kernel, O <= 8 (or
// O <= 16 with C >= 6), C*KH*KW <= 2304. Pointers to contiguous float/double data laid out as in
// ember::ConvGeom.
#pragma once
#include "ember/backend.h"

namespace ember::cpu {

bool conv_is_small(const ConvGeom& g);  // the routing rule (measured against im2col + GEMM)
// x (N, C, H, W), w (O, C, KH, KW), bias (O) or null -> y (N, O, OH, OW)
template <class T>
void small_conv_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);
// gy (N, O, OH, OW), w (O, C, KH, KW) -> dx (N, C, H, W)
template <class T>
void small_conv_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx);
// x, gy -> dw (O, C, KH, KW), dbias (O) or null
template <class T>
void small_conv_backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias);

}  // namespace ember::cpu

// Depthwise convolution kernels (conv_direct.cpp), used by conv.cpp when C/groups == 1.
// Pointers to contiguous float/double data laid out as in ember::ConvGeom.
#pragma once
#include "ember/backend.h"

namespace ember::cpu {

bool conv_is_depthwise(const ConvGeom& g);  // groups == C (> 1), O a multiple of groups
// x (N, C, H, W), w (O, 1, KH, KW), bias (O) or null -> y (N, O, OH, OW)
template <class T>
void depthwise_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);
// gy (N, O, OH, OW), w (O, 1, KH, KW) -> dx (N, C, H, W)
template <class T>
void depthwise_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx);
// x, gy -> dw (O, 1, KH, KW), dbias (O) or null
template <class T>
void depthwise_backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw, T* dbias);

}  // namespace ember::cpu

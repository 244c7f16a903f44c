// Winograd F(2x2, 3x3) convolution (conv_winograd.cpp) for 3x3, stride-1 convolutions on small
// planes and wide layers, used by conv.cpp for the forward, the input gradient and the weight
// gradient where the matching *_ok(g) rule says so. Pointers to contiguous float/double data laid
// out as in ember::ConvGeom.
#pragma once
#include "ember/backend.h"

namespace ember::cpu {

bool winograd_ok(const ConvGeom& g);                // the forward's routing rule
bool winograd_backward_input_ok(const ConvGeom& g);  // the input gradient's
bool winograd_backward_weight_ok(const ConvGeom& g);  // the weight gradient's
// x (N, C, H, W), w (O, C, 3, 3), bias (O) or null -> y (N, O, OH, OW)
template <class T>
void winograd_forward(const ConvGeom& g, const T* x, const T* w, const T* bias, T* y);
// gy (N, O, OH, OW), w (O, C, 3, 3) -> dx (N, C, H, W)
template <class T>
void winograd_backward_input(const ConvGeom& g, const T* gy, const T* w, T* dx);
// x (N, C, H, W), gy (N, O, OH, OW) -> dw (O, C, 3, 3)
template <class T>
void winograd_backward_weight(const ConvGeom& g, const T* x, const T* gy, T* dw);

}  // namespace ember::cpu

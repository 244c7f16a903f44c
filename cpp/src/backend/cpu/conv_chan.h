// Channel-vectorised direct convolution kernels (conv_chan.cpp): stride-1, dilation-1, ungrouped
// float32 convolutions on AVX-512 CPUs whose output rows are too narrow for the pixel-vectorised
// kernels (conv_igemm.cpp) and whose channel counts fill 16-lane vectors, and on AVX2 CPUs most
// stride-1 3x3 and 5x5 convolutions with 8-lane vectors at least 3/4 full. conv.cpp asks *_ok
// first. Pointers to contiguous data laid out as in ember::ConvGeom.
#pragma once
#include "ember/backend.h"

namespace ember::cpu {

bool chan_forward_ok(const ConvGeom& g);
bool chan_backward_input_ok(const ConvGeom& g);
bool chan_backward_weight_ok(const ConvGeom& g);
// x (N, C, H, W), w (O, C, KH, KW), bias (O) or null -> y (N, O, OH, OW)
void chan_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y);
// gy (N, O, OH, OW), w (O, C, KH, KW) -> dx (N, C, H, W)
void chan_backward_input(const ConvGeom& g, const float* gy, const float* w, float* dx);
// x (N, C, H, W), gy (N, O, OH, OW) -> dw (O, C, KH, KW), dbias (O) or null (both overwritten)
void chan_backward_weight(const ConvGeom& g, const float* x, const float* gy, float* dw, float* dbias);

}  // namespace ember::cpu

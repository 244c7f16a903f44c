// Implicit-GEMM convolution kernels (conv_igemm.cpp): stride-1, dilation-1, ungrouped float32
// convolutions whose output rows fill at least 3/4 of their 16-lane vectors, on AVX-512 CPUs. conv.cpp asks *_ok first
// and falls back to its im2col/GEMM path otherwise. Pointers to contiguous data laid out as in
// ember::ConvGeom.
#pragma once
#include "ember/backend.h"

namespace ember::cpu {

bool igemm_forward_ok(const ConvGeom& g);
bool igemm_backward_input_ok(const ConvGeom& g);
bool igemm_backward_weight_ok(const ConvGeom& g);
// x (N, C, H, W), w (O, C, KH, KW), bias (O) or null -> y (N, O, OH, OW)
void igemm_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y);
// gy (N, O, OH, OW), w (O, C, KH, KW) -> dx (N, C, H, W)
void igemm_backward_input(const ConvGeom& g, const float* gy, const float* w, float* dx);

// x (N, C, H, W), gy (N, O, OH, OW) -> dw (O, C, KH, KW), dbias (O) or null (both overwritten)
void igemm_backward_weight(const ConvGeom& g, const float* x, const float* gy, float* dw, float* dbias);

}  // namespace ember::cpu

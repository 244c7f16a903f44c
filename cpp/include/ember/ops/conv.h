// Convolutions (cpp/src/ops/conv.cpp, kernels in backend/cpu/conv*.cpp). Layouts are torch's:
// input (N, C, H, W) or unbatched (C, H, W), weight (O, C/groups, KH, KW) for conv2d and
// (C_in, C_out/groups, KH, KW) for conv_transpose2d. Float32/float64, differentiable to any order
// (each backward is written in these same ops).
#pragma once
#include <string>
#include <vector>

#include "ember/tensor.h"

namespace ember::ops {

// stride/padding/dilation: 1 or 2 values; padding_mode "" uses `padding`, "same" or "valid"
// override it ("same" pads d*(k-1) in total per dim, the extra one at the bottom/right).
// relu: relu(conv2d(...)) in one pass and one autograd node (the same values and gradients).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups,
              const std::string& padding_mode = "", bool relu = false);
// input (N, C, L) or (C, L), weight (O, C/groups, K): conv2d with H = 1.
Tensor conv1d(const Tensor& input, const Tensor& weight, const Tensor& bias, const std::vector<int64_t>& stride,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& dilation, int64_t groups,
              const std::string& padding_mode = "");
// The adjoint of conv2d: input (N, C_in, H, W), weight (C_in, C_out/groups, KH, KW) ->
// (N, C_out, (H-1)*s - 2p + d*(k-1) + output_padding + 1, ...).
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        const std::vector<int64_t>& stride, const std::vector<int64_t>& padding,
                        const std::vector<int64_t>& output_padding, int64_t groups,
                        const std::vector<int64_t>& dilation);
// im2col: (N, C, H, W) or (C, H, W) -> (N, C*KH*KW, L); fold is its adjoint back to output_size.
Tensor unfold(const Tensor& input, const std::vector<int64_t>& kernel_size, const std::vector<int64_t>& dilation,
              const std::vector<int64_t>& padding, const std::vector<int64_t>& stride);
Tensor fold(const Tensor& input, const std::vector<int64_t>& output_size, const std::vector<int64_t>& kernel_size,
            const std::vector<int64_t>& dilation, const std::vector<int64_t>& padding,
            const std::vector<int64_t>& stride);

}  // namespace ember::ops

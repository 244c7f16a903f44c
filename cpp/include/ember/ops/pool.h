// Pooling ops (poolnorm branch): 2-D max/avg/adaptive pooling over the last two dims of a 3-D
// (C, H, W) or 4-D (N, C, H, W) float tensor, with torch's argument conventions. The 1-D forms are
// the 2-D ones on a (.., 1, L) view (python/ember/nn/_F/poolnorm.py), as in torch.
#pragma once
#include <optional>
#include <tuple>
#include <vector>

#include "ember/tensor.h"

namespace ember::ops {

// kernel/stride/padding/dilation: 2 values each (H, W); an empty stride means stride = kernel.
// Returns (values, indices): indices are flat positions h * W + w in each input plane (int64);
// undefined without return_indices. relu: max_pool2d(relu(x)) in one pass and one autograd node
// (the same values, indices and gradients; nn.Sequential fuses a ReLU + MaxPool2d into it).
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& x, std::vector<int64_t> kernel,
                                                   std::vector<int64_t> stride, std::vector<int64_t> padding,
                                                   std::vector<int64_t> dilation, bool ceil_mode,
                                                   bool return_indices = true, bool relu = false);
Tensor avg_pool2d(const Tensor& x, std::vector<int64_t> kernel, std::vector<int64_t> stride,
                  std::vector<int64_t> padding, bool ceil_mode, bool count_include_pad,
                  std::optional<int64_t> divisor_override);
// output_size: 2 values; a negative value keeps the input's size along that dim (torch's None).
Tensor adaptive_avg_pool2d(const Tensor& x, std::vector<int64_t> output_size);
std::tuple<Tensor, Tensor> adaptive_max_pool2d(const Tensor& x, std::vector<int64_t> output_size);
// The inverse of max pooling: scatter x into zeros of output_size (H, W) at indices.
Tensor max_unpool2d(const Tensor& x, const Tensor& indices, std::vector<int64_t> output_size);

// F.interpolate (nearest, bilinear) on the last two dims of a 3-D or 4-D float tensor, separably:
// output row i reads input rows h0[i] and (linear) h1[i] weighted 1 - lh[i] and lh[i]; columns
// likewise (backend.h's InterpTables). The tables (int64 indices, float weights; h1 and lh
// undefined for nearest) are computed by the caller with torch's coordinate rules
// (python/ember/nn/_F/poolnorm.py). Out-of-range indices raise IndexError.
Tensor interp2d(const Tensor& x, Tensor h0, Tensor h1, Tensor lh, Tensor w0, Tensor w1, Tensor lw);

}  // namespace ember::ops

// Matrix products on Ember's GEMM (cpp/src/ops/linalg.cpp, kernels in backend/cpu/gemm.cpp).
#pragma once
#include "ember/tensor.h"

namespace ember::ops {}  // namespace ember::ops

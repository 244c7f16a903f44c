// Indexing ops: slicing, integer-array indexing, gather/scatter, masks (cpp/src/ops/index.cpp).
#pragma once
#include "ember/tensor.h"

namespace ember::ops {}  // namespace ember::ops

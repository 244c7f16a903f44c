// The op catalogue: every differentiable and non-differentiable operation on tensors, one header
// per family under ops/. Implementations (forward and backward side by side) live in
// cpp/src/ops/<family>.cpp.
#pragma once
#include "ember/ops/elementwise.h"
#include "ember/ops/factory.h"
#include "ember/ops/index.h"
#include "ember/ops/linalg.h"
#include "ember/ops/reduce.h"
#include "ember/ops/shape.h"

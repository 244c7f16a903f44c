// Helpers shared by the interop binding files (interop.cpp, creation.cpp, dlpack.cpp, random.cpp):
// numpy conversions, Python scalars out of tensors, and the registration of each file.
#pragma once
#include <pybind11/numpy.h>

#include "common.h"

namespace ember::py_bind {

DType dtype_from_numpy(const py::dtype& d);  // TypeError for dtypes ember lacks
py::dtype numpy_dtype(DType t);
// Can from_numpy view `arr` as is (supported dtype, native byte order, non-negative strides)?
bool numpy_viewable(const py::array& arr);
Tensor from_numpy(py::handle arr);  // zero-copy; TypeError/ValueError like torch
py::array to_numpy(const Tensor& t, bool force);

// The single element of t as a Python bool/int/float (RuntimeError unless t has one element).
py::object item(const Tensor& t);
// The single element of t as a Scalar (same check).
Scalar item_scalar(const Tensor& t);

// Python data (nested sequences of numbers, numpy arrays, scalars, tensors) -> a new tensor.
// dtype nullopt: inferred like torch (bool / int64 / default float; numpy keeps its dtype).
Tensor tensor_from_data(py::handle data, std::optional<DType> dtype);

void bind_creation(py::module_& m);  // tensor, as_tensor, Tensor(...) (creation.cpp)
void bind_random(py::module_& m);    // Generator, seeds, random ops (random.cpp)
void bind_dlpack(py::module_& m);    // __dlpack__, __dlpack_device__, from_dlpack (dlpack.cpp)

}  // namespace ember::py_bind

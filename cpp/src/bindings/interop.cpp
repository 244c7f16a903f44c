// Interop: numpy (zero-copy both ways).
#include <pybind11/numpy.h>

#include "common.h"

namespace ember::py_bind {

namespace {
DType dtype_from_numpy(const py::dtype& d) {
  char kind = d.kind();
  size_t sz = d.itemsize();
  if (kind == 'f' && sz == 4) return DType::Float32;
  if (kind == 'f' && sz == 8) return DType::Float64;
  if (kind == 'i' && sz == 8) return DType::Int64;
  if (kind == 'i' && sz == 4) return DType::Int32;
  if (kind == 'u' && sz == 1) return DType::UInt8;
  if (kind == 'b' && sz == 1) return DType::Bool;
  throw TypeError(str("can't convert np.ndarray of type numpy.", py::str(d).cast<std::string>(),
                      ". The only supported types are: float64, float32, int64, int32, uint8, and bool."));
}
py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::Bool: return py::dtype("bool");
    case DType::UInt8: return py::dtype("uint8");
    case DType::Int32: return py::dtype("int32");
    case DType::Int64: return py::dtype("int64");
    case DType::Float32: return py::dtype("float32");
    case DType::Float64: return py::dtype("float64");
  }
  throw TypeError("unsupported dtype");
}
}  // namespace

// Zero-copy view of a numpy array (kept alive by the tensor's storage).
Tensor from_numpy(py::array arr) {
  DType dt = dtype_from_numpy(arr.dtype());
  const int64_t isz = static_cast<int64_t>(itemsize(dt));
  Shape shape(arr.ndim());
  Strides strides(arr.ndim());
  for (py::ssize_t i = 0; i < arr.ndim(); ++i) {
    shape[i] = arr.shape(i);
    EMBER_CHECK(arr.strides(i) >= 0, ValueError,
                "from_numpy: at least one stride in the given numpy array is negative, and tensors with negative "
                "strides are not currently supported. (You can probably work around this by making a copy of "
                "your array with array.copy().)");
    EMBER_CHECK(arr.strides(i) % isz == 0, ValueError,
                "from_numpy: given numpy array strides not a multiple of the element byte size. Copy the numpy "
                "array to reallocate the memory.");
    strides[i] = arr.strides(i) / isz;
  }
  int64_t span = 1;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 0) span += (shape[i] - 1) * strides[i];
  if (numel_of(shape) == 0) span = 0;
  auto* owner = new py::object(arr);
  auto storage = std::make_shared<Storage>(const_cast<void*>(arr.data()), static_cast<size_t>(span * isz), Device(),
                                           [owner](void*) {
                                             py::gil_scoped_acquire g;
                                             delete owner;
                                           });
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = strides;
  impl->dtype = dt;
  return Tensor(std::move(impl));
}

py::array to_numpy(const Tensor& t, bool force) {
  EMBER_CHECK(t.device().is_cpu(), TypeError, "numpy: can't convert ", t.device(),
              " tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.");
  EMBER_CHECK(force || !t.requires_grad(), RuntimeError,
              "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.");
  std::vector<py::ssize_t> shape(t.shape().begin(), t.shape().end()), strides(t.dim());
  for (int64_t i = 0; i < t.dim(); ++i) strides[i] = t.strides()[i] * static_cast<py::ssize_t>(t.itemsize());
  auto* keep = new std::shared_ptr<Storage>(t.storage());
  py::capsule base(keep, [](void* p) { delete static_cast<std::shared_ptr<Storage>*>(p); });
  return py::array(numpy_dtype(t.dtype()), shape, strides, t.raw_data(), base);
}

void bind_interop(py::module_& m) {
  m.def("from_numpy", &from_numpy, py::arg("ndarray"));
  tensor_class().def("numpy", &to_numpy, py::arg("force") = false);
}

}  // namespace ember::py_bind

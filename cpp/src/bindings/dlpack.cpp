// DLPack, zero-copy both ways. Export: Tensor.__dlpack__ makes a "dltensor_versioned" capsule
// (DLPack 1.x) when the consumer passes max_version >= (1, 0), else a legacy "dltensor" one; the
// capsule's manager context holds the storage, so the producer tensor may die first. Import:
// ember.from_dlpack takes any object with __dlpack__ (numpy, torch, ...) or a capsule, renames
// it "used_*" (the protocol's hand-over) and calls the producer's deleter when the storage dies.
#include "dlpack.h"

#include "interop.h"

namespace ember::py_bind {

namespace {
constexpr const char* kVersioned = "dltensor_versioned";
constexpr const char* kUsedVersioned = "used_dltensor_versioned";
constexpr const char* kLegacy = "dltensor";
constexpr const char* kUsedLegacy = "used_dltensor";

// --- export ------------------------------------------------------------------------------------
struct ExportCtx {
  std::shared_ptr<Storage> storage;  // keeps the memory alive
  std::vector<int64_t> shape, strides;
  DLManagedTensor legacy{};
  DLManagedTensorVersioned versioned{};
};

DLDataType dl_dtype(DType t) {
  switch (t) {
    case DType::Bool: return {kDLBool, 8, 1};
    case DType::UInt8: return {kDLUInt, 8, 1};
    case DType::Int32: return {kDLInt, 32, 1};
    case DType::Int64: return {kDLInt, 64, 1};
    case DType::Float32: return {kDLFloat, 32, 1};
    case DType::Float64: return {kDLFloat, 64, 1};
  }
  throw TypeError("__dlpack__: unsupported dtype");
}

void fill_dl_tensor(DLTensor& d, ExportCtx& ctx, const Tensor& t) {
  static int64_t empty_data[8];  // a valid address for tensors without elements
  d.data = t.numel() > 0 ? t.raw_data() : static_cast<void*>(empty_data);
  d.device = {kDLCPU, 0};
  d.ndim = static_cast<int32_t>(t.dim());
  d.dtype = dl_dtype(t.dtype());
  d.shape = ctx.shape.data();
  d.strides = ctx.strides.data();
  d.byte_offset = 0;
}

template <class M>
void delete_export(M* self) { delete static_cast<ExportCtx*>(self->manager_ctx); }

// An unconsumed capsule owns its tensor: free it (a consumer renames the capsule to "used_*").
void capsule_destructor(PyObject* cap) {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  if (PyCapsule_IsValid(cap, kVersioned)) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(cap, kVersioned));
    if (m && m->deleter) m->deleter(m);
  } else if (PyCapsule_IsValid(cap, kLegacy)) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, kLegacy));
    if (m && m->deleter) m->deleter(m);
  }
  PyErr_Restore(type, value, tb);
}

py::object to_dlpack(const Tensor& self, py::object stream, py::object max_version, py::object dl_device,
                     py::object copy) {
  if (!stream.is_none()) throw py::buffer_error("__dlpack__: stream should be None on cpu.");
  if (self.requires_grad()) throw py::buffer_error("Can't export tensors that require gradient, use tensor.detach()");
  if (!dl_device.is_none()) {
    auto dev = dl_device.cast<std::pair<int, int>>();
    if (dev.first != kDLCPU) throw py::buffer_error(str("__dlpack__: unsupported device type ", dev.first,
                                                        ": ember was built without CUDA"));
  }
  const bool versioned = !max_version.is_none() && max_version.cast<std::pair<int, int>>().first >= 1;
  const bool do_copy = !copy.is_none() && copy.cast<bool>();
  Tensor t = self;
  if (do_copy) {
    py::gil_scoped_release r;
    t = ops::clone(self.detach());
  }
  auto* ctx = new ExportCtx;
  ctx->storage = t.storage();
  ctx->shape.assign(t.shape().begin(), t.shape().end());
  ctx->strides.assign(t.strides().begin(), t.strides().end());
  void* payload;
  const char* name;
  if (versioned) {
    DLManagedTensorVersioned& m = ctx->versioned;
    m.version = {EMBER_DLPACK_MAJOR_VERSION, EMBER_DLPACK_MINOR_VERSION};
    m.manager_ctx = ctx;
    m.deleter = &delete_export<DLManagedTensorVersioned>;
    m.flags = do_copy ? EMBER_DLPACK_FLAG_IS_COPIED : 0;
    fill_dl_tensor(m.dl_tensor, *ctx, t);
    payload = &m;
    name = kVersioned;
  } else {
    DLManagedTensor& m = ctx->legacy;
    m.manager_ctx = ctx;
    m.deleter = &delete_export<DLManagedTensor>;
    fill_dl_tensor(m.dl_tensor, *ctx, t);
    payload = &m;
    name = kLegacy;
  }
  PyObject* cap = PyCapsule_New(payload, name, &capsule_destructor);
  if (!cap) {
    delete ctx;
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::object>(cap);
}

// --- import ------------------------------------------------------------------------------------
DType from_dl_dtype(const DLDataType& d) {
  if (d.lanes == 1) {
    if (d.code == kDLFloat && d.bits == 32) return DType::Float32;
    if (d.code == kDLFloat && d.bits == 64) return DType::Float64;
    if (d.code == kDLInt && d.bits == 64) return DType::Int64;
    if (d.code == kDLInt && d.bits == 32) return DType::Int32;
    if (d.code == kDLUInt && d.bits == 8) return DType::UInt8;
    if (d.code == kDLBool && d.bits == 8) return DType::Bool;
  }
  throw TypeError(str("from_dlpack: unsupported DLPack dtype (code=", int(d.code), ", bits=", int(d.bits),
                      ", lanes=", d.lanes, "); ember supports float32, float64, int32, int64, uint8 and bool"));
}

// A tensor over dl's memory; `release` runs (with the GIL) when its storage dies.
Tensor wrap_dl_tensor(const DLTensor& dl, std::function<void()> release) {
  EMBER_CHECK(dl.device.device_type == kDLCPU, RuntimeError, "from_dlpack: ember was built without CUDA: cannot "
              "import a tensor on DLPack device type ", int(dl.device.device_type));
  const DType dt = from_dl_dtype(dl.dtype);
  EMBER_CHECK(dl.ndim >= 0, ValueError, "from_dlpack: negative ndim ", dl.ndim);
  Shape shape(dl.shape, dl.shape + dl.ndim);
  Strides strides = dl.strides ? Strides(dl.strides, dl.strides + dl.ndim) : contiguous_strides(shape);
  int64_t span = numel_of(shape) == 0 ? 0 : 1;
  for (int32_t i = 0; i < dl.ndim; ++i) {
    EMBER_CHECK(strides[i] >= 0 || shape[i] <= 1, ValueError, "from_dlpack: negative strides are not supported; "
                "make a copy of the array first");
    if (strides[i] < 0) strides[i] = 0;
    if (shape[i] > 0 && span > 0) span += (shape[i] - 1) * strides[i];
  }
  const int64_t isz = static_cast<int64_t>(itemsize(dt));
  void* data = static_cast<char*>(dl.data) + dl.byte_offset;
  auto storage = std::make_shared<Storage>(data, static_cast<size_t>(span * isz), Device(), [release](void*) {
    if (!Py_IsInitialized()) return;  // interpreter gone: the producer's memory went with it
    py::gil_scoped_acquire g;
    release();
  });
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->dtype = dt;
  return Tensor(std::move(impl));
}

Tensor from_capsule(py::handle cap) {
  PyObject* p = cap.ptr();
  EMBER_CHECK(PyCapsule_CheckExact(p), TypeError,
              "from_dlpack: expected an object with __dlpack__ or a DLPack capsule, got ", type_name(cap));
  const char* name = PyCapsule_GetName(p);
  const std::string nm = name ? name : "";
  EMBER_CHECK(nm != kUsedVersioned && nm != kUsedLegacy, RuntimeError,
              "from_dlpack: this DLPack capsule was already consumed");
  Tensor t;
  bool read_only = false;
  if (nm == kVersioned) {
    auto* m = static_cast<DLManagedTensorVersioned*>(PyCapsule_GetPointer(p, kVersioned));
    if (!m) throw py::error_already_set();
    if (m->version.major > EMBER_DLPACK_MAJOR_VERSION)
      throw py::buffer_error(str("from_dlpack: unsupported DLPack version ", m->version.major, ".",
                                 m->version.minor, " (ember reads 1.x)"));
    read_only = (m->flags & EMBER_DLPACK_FLAG_READ_ONLY) != 0;
    t = wrap_dl_tensor(m->dl_tensor, [m]() { if (m->deleter) m->deleter(m); });
    PyCapsule_SetName(p, kUsedVersioned);
  } else if (nm == kLegacy) {
    auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(p, kLegacy));
    if (!m) throw py::error_already_set();
    t = wrap_dl_tensor(m->dl_tensor, [m]() { if (m->deleter) m->deleter(m); });
    PyCapsule_SetName(p, kUsedLegacy);
  } else {
    throw TypeError(str("from_dlpack: expected a capsule named 'dltensor' or 'dltensor_versioned', got '", nm, "'"));
  }
  if (read_only) {  // ember tensors are writable: take a copy (the view dies, releasing the producer)
    py::gil_scoped_release r;
    return ops::clone(t);
  }
  return t;
}

Tensor from_dlpack(py::object obj, py::object device, py::object copy) {
  EMBER_CHECK(device_arg(device).is_cpu(), RuntimeError, "from_dlpack: ember was built without CUDA: cannot "
              "import to ", device_arg(device));
  const bool do_copy = !copy.is_none() && copy.cast<bool>();
  if (!py::hasattr(obj, "__dlpack__")) {
    EMBER_CHECK(copy.is_none(), ValueError, "from_dlpack: copy is not supported when passing a capsule");
    return from_capsule(obj);
  }
  if (py::hasattr(obj, "__dlpack_device__")) {
    auto dev = obj.attr("__dlpack_device__")().cast<std::pair<int, int>>();
    EMBER_CHECK(dev.first == kDLCPU, RuntimeError, "from_dlpack: ember was built without CUDA: cannot import a "
                "tensor on DLPack device type ", dev.first);
  }
  py::object cap;
  bool producer_copied = false;
  try {
    py::dict kw;
    kw["max_version"] = py::make_tuple(EMBER_DLPACK_MAJOR_VERSION, EMBER_DLPACK_MINOR_VERSION);
    if (!copy.is_none()) kw["copy"] = copy;
    cap = obj.attr("__dlpack__")(**kw);
    producer_copied = do_copy;
  } catch (py::error_already_set& e) {
    if (!e.matches(PyExc_TypeError)) throw;
    cap = obj.attr("__dlpack__")();  // a producer older than DLPack 1.0
  }
  Tensor t = from_capsule(cap);
  if (do_copy && !producer_copied) {
    py::gil_scoped_release r;
    return ops::clone(t);
  }
  return t;
}
}  // namespace

void bind_dlpack(py::module_& m) {
  m.def("from_dlpack", &from_dlpack, py::arg("ext_tensor"), py::kw_only(), py::arg("device") = py::none(),
        py::arg("copy") = py::none());
  auto& c = tensor_class();
  c.def("__dlpack__", &to_dlpack, py::kw_only(), py::arg("stream") = py::none(), py::arg("max_version") = py::none(),
        py::arg("dl_device") = py::none(), py::arg("copy") = py::none());
  c.def("__dlpack_device__", [](const Tensor& t) {
    EMBER_CHECK(t.device().is_cpu(), RuntimeError, "__dlpack_device__: ember was built without CUDA");
    return py::make_tuple(int(kDLCPU), 0);
  });
}

}  // namespace ember::py_bind

// Shared binding helpers: the Tensor <-> Python caster (Python objects are TensorImpl instances
// held by shared_ptr, so the same tensor is always the same Python object), operand conversion for
// Python numbers, and argument parsing. Bindings convert, release the GIL, and call ops: no loops
// or shape logic here.
#pragma once
#include <new>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <optional>
#include <vector>

#include "ember/autograd.h"
#include "ember/ops.h"

namespace ember::py_bind {
// The Tensor class's Python type and pybind11 type record, set once the class exists (module.cpp):
// the Tensor caster's fast paths below use them instead of looking the type up on every call.
extern PyTypeObject* g_tensor_type;
extern const pybind11::detail::type_info* g_tensor_tinfo;
// The ember.dtype objects (ember.float32 ...), one per DType, set once the enum exists.
extern PyObject* g_dtype_objects[ember::kNumDTypes];
}  // namespace ember::py_bind

namespace pybind11::detail {
// A DType converts to its one ember.dtype object, as torch's dtypes are singletons: `x.dtype is
// ember.float32` holds, and no enum instance is built per call (t.dtype 0.36 -> 0.1 us).
template <>
class type_caster<ember::DType> : public type_caster_base<ember::DType> {
 public:
  using type_caster_base<ember::DType>::cast;
  static handle cast(const ember::DType& v, return_value_policy policy, handle parent) {
    if (PyObject* o = ember::py_bind::g_dtype_objects[static_cast<int>(v)]) return handle(o).inc_ref();
    return type_caster_base<ember::DType>::cast(v, policy, parent);
  }
  static handle cast(ember::DType&& v, return_value_policy policy, handle parent) {
    return cast(static_cast<const ember::DType&>(v), policy, parent);
  }
};

// Shapes and strides (SmallVec) convert like std::vector<int64_t>: Python sequences in, lists out.
template <size_t N>
struct type_caster<ember::SmallVec<N>> : list_caster<ember::SmallVec<N>, int64_t> {};

template <>
struct type_caster<ember::Tensor> {
  PYBIND11_TYPE_CASTER(ember::Tensor, const_name("Tensor"));
  bool load(handle src, bool convert) {
    // Fast path: an ember.Tensor or a Python subclass (Parameter) holds one shared_ptr holder in
    // pybind11's simple layout; read it directly (every tensor argument of every op comes here).
    PyTypeObject* tp = ember::py_bind::g_tensor_type;
    if (tp && PyObject_TypeCheck(src.ptr(), tp)) {
      auto* inst = reinterpret_cast<instance*>(src.ptr());
      if (inst->simple_layout && inst->simple_holder_constructed) {
        value = ember::Tensor(
            *std::launder(reinterpret_cast<std::shared_ptr<ember::TensorImpl>*>(&inst->simple_value_holder[1])));
        return true;
      }
    }
    copyable_holder_caster<ember::TensorImpl, std::shared_ptr<ember::TensorImpl>> c;
    if (src.is_none() || !c.load(src, convert)) return false;
    value = ember::Tensor(static_cast<std::shared_ptr<ember::TensorImpl>&>(c));
    return true;
  }
  static handle cast(const ember::Tensor& t, return_value_policy, handle parent) {
    if (!t.defined()) return none().release();
    if (const type_info* ti = ember::py_bind::g_tensor_tinfo)  // skips the by-typeid type lookup
      return type_caster_generic::cast(t.impl(), return_value_policy::take_ownership, {}, ti, nullptr, nullptr,
                                       &t.impl_ptr());
    return type_caster<std::shared_ptr<ember::TensorImpl>>::cast(t.impl_ptr(), return_value_policy::take_ownership,
                                                                 parent);
  }
};
}  // namespace pybind11::detail

namespace ember::py_bind {

namespace py = pybind11;
using ember::Tensor;

// o is an ember.Tensor (or a subclass such as Parameter).
inline bool is_tensor(py::handle o) { return PyObject_TypeCheck(o.ptr(), g_tensor_type); }
// The Python type name of o (for messages).
std::string type_name(py::handle o);
// A Python number (bool, int, float, numpy scalar) as a Scalar, if it is one.
std::optional<Scalar> as_scalar(py::handle o);
// A Tensor, or a Python number wrapped as a 0-d "wrapped number" tensor; nullopt otherwise.
std::optional<Tensor> as_operand(py::handle o);
// Same, but raise TypeError naming `op` when `o` is neither.
Tensor operand(py::handle o, const char* op);
// dim=None / int / sequence of ints -> list of dims (empty = all).
std::vector<int64_t> dims_arg(py::handle o);
// Sizes given as f(2, 3) or f((2, 3)) or f([2, 3]) or f(ember.Size).
Shape shape_args(const py::args& args, const char* op);
Shape shape_arg(py::handle o, const char* op);
// The Python ember.Size for a shape.
py::object size_obj(const Shape& s);
// dtype=None -> nullopt.
std::optional<DType> dtype_arg(py::handle o);
Device device_arg(py::handle o);

// Registration, one per family (cpp/src/bindings/<family>.cpp).
void bind_core(py::module_& m);         // dtype, device, grad mode, threads, engine (module.cpp)
void bind_tensor(py::module_& m);       // Tensor class: properties, autograd (tensor.cpp)
void bind_elementwise(py::module_& m);  // operators and elementwise functions (elementwise.cpp)
void bind_reduce(py::module_& m);       // reductions (reduce.cpp)
void bind_shape(py::module_& m);        // shape ops (shape.cpp)
void bind_index(py::module_& m);        // indexing, __getitem__/__setitem__ (index.cpp)
void bind_linalg(py::module_& m);       // matmul family (linalg.cpp)
void bind_factory(py::module_& m);      // creation, random (factory.cpp)
void bind_interop(py::module_& m);      // numpy, buffer protocol, DLPack, tolist (interop.cpp)
void bind_optim(py::module_& m);        // fused optimizer steps, _C._<name>_step (optim.cpp)
void bind_conv(py::module_& m);         // convolutions, unfold/fold (conv.cpp; conv branch)
void bind_loss(py::module_& m);         // fused losses (loss.cpp; loss branch)
void bind_poolnorm(py::module_& m);     // pooling and normalisation (poolnorm.cpp)
void bind_rnn(py::module_& m);          // fused recurrent cells (rnn.cpp)
void bind_function(py::module_& m);     // autograd.Function's node (function.cpp)

// The bound Tensor class (for adding methods from several files).
py::class_<TensorImpl, std::shared_ptr<TensorImpl>>& tensor_class();

}  // namespace ember::py_bind

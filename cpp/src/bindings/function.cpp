// ember.autograd.Function's graph node: the Python class's backward, called from the C++ engine.
// Function.apply (python/ember/autograd/function.py) runs forward without grad, then records
// one PyFunctionNode whose next edges are the forward's tensor arguments and whose outputs are
// the forward's output tensors. The engine runs without the GIL; apply takes it for the call.
#include "common.h"

namespace ember::py_bind {
namespace {

struct PyFunctionNode : Node {
  std::string nm;
  std::shared_ptr<py::object> backward;  // (grads...) -> gradients, one per forward argument
  std::vector<bool> is_tensor_arg;       // forward arguments that were tensors (next edges: all args)
  std::vector<Shape> arg_shapes;
  std::vector<DType> arg_dtypes;
  bool materialize = true;
  std::string name() const override { return nm; }
  void release_variables() override {
    if (!backward) return;
    py::gil_scoped_acquire g;
    backward.reset();
  }
  TensorList apply(TensorList&& grads) override {
    EMBER_CHECK(backward, RuntimeError, "Trying to backward through ", nm,
                " a second time (or directly access saved tensors after they have already been freed). "
                "Specify retain_graph=True if you need to backward a second time.");
    py::gil_scoped_acquire acq;
    py::tuple args(grads.size());
    for (size_t i = 0; i < grads.size(); ++i) {
      Tensor g = grads[i];
      if (!g.defined() && materialize)
        g = ops::zeros(input_meta[i].shape, input_meta[i].dtype, input_meta[i].device);
      args[i] = g.defined() ? py::cast(g) : py::none();
    }
    py::object r = (*backward)(*args);
    py::tuple res = py::isinstance<py::tuple>(r) ? r.cast<py::tuple>() : py::make_tuple(r);
    const size_t n = next_edges.size();
    EMBER_CHECK(res.size() >= n, RuntimeError, "function ", nm, " returned an incorrect number of gradients (expected ",
                n, ", got ", res.size(), ")");
    for (size_t i = n; i < res.size(); ++i)  // extra trailing Nones are allowed, like torch
      EMBER_CHECK(res[i].is_none(), RuntimeError, "function ", nm, " returned an incorrect number of gradients (expected ",
                  n, ", got ", res.size(), ")");
    TensorList out(n);
    for (size_t i = 0; i < n; ++i) {
      py::handle h = res[i];
      if (h.is_none()) continue;
      EMBER_CHECK(is_tensor(h), TypeError, "function ", nm, " returned a gradient of type ", type_name(h),
                  " at index ", i, ", expected a Tensor or None");
      if (!next_edges[i].valid()) continue;  // (validated even when autograd.grad does not need it, as torch)
      EMBER_CHECK(is_tensor_arg[i], RuntimeError, "function ", nm, " returned a gradient at index ", i,
                  " for an argument that is not a Tensor");
      Tensor g = h.cast<Tensor>();
      if (g.shape() != arg_shapes[i]) {  // torch sums a broadcast gradient down; anything else is an error
        bool ok = g.dim() >= static_cast<int64_t>(arg_shapes[i].size());
        for (size_t d = 0; ok && d < arg_shapes[i].size(); ++d) {
          const int64_t a = arg_shapes[i][arg_shapes[i].size() - 1 - d], b = g.shape()[g.dim() - 1 - d];
          ok = a == b || a == 1;
        }
        EMBER_CHECK(ok, RuntimeError, "Function ", nm, " returned an invalid gradient at index ", i, " - got ",
                    shape_str(g.shape()), " but expected shape compatible with ", shape_str(arg_shapes[i]));
        g = ops::sum_to(g, arg_shapes[i]);
      }
      if (g.dtype() != arg_dtypes[i]) g = ops::to_dtype(g, arg_dtypes[i]);
      out[i] = g;
    }
    return out;
  }
};

}  // namespace

void bind_function(py::module_& m) {
  // _function_record(name, backward, args, outputs, materialize_grads, non_differentiable): attach
  // the node to the outputs (fresh tensors from a forward run without grad; those marked
  // non-differentiable, and integer ones, keep no history); args: the forward's arguments.
  // Returns the outputs.
  m.def("_function_record", [](const std::string& name, py::function backward, py::sequence args,
                               std::vector<Tensor> outputs, bool materialize, std::vector<bool> non_diff) {
    TensorList inputs;
    auto node = std::make_shared<PyFunctionNode>();
    for (py::handle a : args) {
      const bool t = is_tensor(a);
      inputs.push_back(t ? a.cast<Tensor>() : Tensor());
      node->is_tensor_arg.push_back(t);
      node->arg_shapes.push_back(t ? inputs.back().shape() : Shape{});
      node->arg_dtypes.push_back(t ? inputs.back().dtype() : DType::Float32);
    }
    auto made = make_node<PyFunctionNode>(inputs);
    if (!made) return outputs;
    made->nm = name;
    made->is_tensor_arg = node->is_tensor_arg;
    made->arg_shapes = node->arg_shapes;
    made->arg_dtypes = node->arg_dtypes;
    made->materialize = materialize;
    auto release = [](py::object* o) { py::gil_scoped_acquire g; delete o; };
    made->backward = std::shared_ptr<py::object>(new py::object(backward), release);
    for (size_t i = 0; i < outputs.size(); ++i) {
      const Tensor& o = outputs[i];
      if (is_floating(o.dtype()) && !(i < non_diff.size() && non_diff[i])) set_history(o, made);
      else made->add_input_metadata(o);  // keeps output positions; these outputs get no gradient
    }
    return outputs;
  }, py::arg("name"), py::arg("backward"), py::arg("args"), py::arg("outputs"), py::arg("materialize_grads"),
     py::arg("non_differentiable"));
}

}  // namespace ember::py_bind

// Binding for the fused optimizer updates used by ember.optim: _C._optim_steps(kind, params,
// grads, states, steps, mu_products, **hyperparameters) updates a whole parameter group in one
// call (ops::optim_steps_), with the GIL released. State tensors that an option turns off are None.
#include <string_view>

#include "../backend/cpu/cpu_backend.h"
#include "common.h"
#include "ember/ops/optim.h"

namespace ember::py_bind {

namespace {
using OptT = std::optional<Tensor>;
Tensor opt(const OptT& t) { return t ? *t : Tensor(); }

// _optim_steps' keyword arguments: OptimHyper's fields by name.
ops::OptimHyper hyper_from(const py::kwargs& kw) {
  ops::OptimHyper h;
  for (const auto& item : kw) {
    Py_ssize_t len = 0;
    const char* kp = PyUnicode_AsUTF8AndSize(item.first.ptr(), &len);
    if (kp == nullptr) throw py::error_already_set();
    const std::string_view k(kp, static_cast<size_t>(len));  // keyword names: no string built per call
    const py::handle v = item.second;
    double* d = k == "lr" ? &h.lr : k == "weight_decay" ? &h.weight_decay : k == "eps" ? &h.eps
              : k == "momentum" ? &h.momentum : k == "dampening" ? &h.dampening : k == "beta1" ? &h.beta1
              : k == "beta2" ? &h.beta2 : k == "lr_decay" ? &h.lr_decay : k == "alpha" ? &h.alpha
              : k == "rho" ? &h.rho : k == "momentum_decay" ? &h.momentum_decay : nullptr;
    bool* b = k == "maximize" ? &h.maximize : k == "nesterov" ? &h.nesterov : k == "amsgrad" ? &h.amsgrad
            : k == "decoupled_weight_decay" ? &h.decoupled_weight_decay : k == "centered" ? &h.centered
            : nullptr;
    if (d) *d = py::cast<double>(v);
    else if (b) *b = py::cast<bool>(v);
    else throw py::type_error(str("_optim_steps: unexpected hyperparameter '", k, "'"));
  }
  return h;
}

OptimKind kind_from(const std::string& k) {
  if (k == "sgd") return OptimKind::SGD;
  if (k == "adam") return OptimKind::Adam;
  if (k == "adagrad") return OptimKind::Adagrad;
  if (k == "rmsprop") return OptimKind::RMSprop;
  if (k == "adadelta") return OptimKind::Adadelta;
  if (k == "adamax") return OptimKind::Adamax;
  if (k == "nadam") return OptimKind::NAdam;
  if (k == "radam") return OptimKind::RAdam;
  throw py::value_error("_optim_steps: unknown optimizer '" + k + "'");
}

std::vector<Tensor> defined_or_empty(const std::vector<OptT>& v) {
  std::vector<Tensor> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = opt(v[i]);
  return out;
}

// o as a tensor, or a TypeError naming the optimizer and what o was meant to be (the message is
// built only then: formatting it per parameter and state tensor, through an ostringstream, was
// half of the call's 11 us for six parameters).
// (key: a state dict's key, named as state['key'] instead of what).
Tensor as_tensor(py::handle o, const std::string& kind, const char* what, PyObject* key = nullptr) {
  try {
    return py::cast<Tensor>(o);
  } catch (const py::cast_error&) {
    const std::string w = key ? str("state['", PyUnicode_AsUTF8(key), "']") : std::string(what);
    throw py::type_error(str(kind, ": expected ", w, " to be a tensor, got ", Py_TYPE(o.ptr())->tp_name));
  }
}

// d[key] as a tensor: undefined where the key is absent or None (dict.get). A borrowed lookup
// with a str made once per call (its hash cached), not one per parameter.
Tensor state_entry(PyObject* d, const py::str& key, const std::string& kind) {
  PyObject* v = PyDict_GetItemWithError(d, key.ptr());
  if (v == nullptr && PyErr_Occurred()) throw py::error_already_set();
  return v == nullptr || v == Py_None ? Tensor() : as_tensor(v, kind, nullptr, key.ptr());
}

// _optim_group: one parameter group's update read straight from the optimizer's objects: each
// parameter's gradient from the tensor, its state tensors from its dict in `state` (a
// defaultdict(dict) keyed by parameter), so a step builds no Python lists (the lists' Python loops
// took 7 us a step for LeNet's 10 parameters alone, 23 us after a forward and backward had
// evicted the objects from cache). Parameters without a gradient are skipped, as torch does.
// keys: the state tensors in the kernel's order (None: an option that is off, or not stored);
// counters: "step" / "mu_product" (0-d tensors, required). With needs_init, a parameter whose dict
// is empty stops the call before anything is written and the list of such parameters is returned
// (the caller fills their state, then calls again); else returns None. A state tensor the kernel
// creates (SGD's momentum buffer on the first step) is stored under its key.
py::object optim_group(const std::string& kind, const py::sequence& params, const py::object& state,
                       const py::tuple& keys, const py::tuple& counters, bool needs_init,
                       const py::kwargs& kw) {
  const OptimKind k = kind_from(kind);
  const ops::OptimHyper h = hyper_from(kw);
  std::vector<py::str> key_names, counter_names;  // an empty str: no key
  bool any_key = counters.size() > 0;
  for (const py::handle key : keys) {
    key_names.push_back(key.is_none() ? py::str() : py::str(key));
    any_key = any_key || !key.is_none();
  }
  for (const py::handle key : counters) counter_names.push_back(py::str(key));
  const size_t n = params.size();
  std::vector<Tensor> ps, gs, steps, mus;
  std::vector<std::vector<Tensor>> st;
  std::vector<py::object> dicts;
  ps.reserve(n), gs.reserve(n), st.reserve(n), dicts.reserve(n);
  py::list fresh;
  for (const py::handle ph : params) {
    Tensor p = as_tensor(ph, kind, "a parameter");
    Tensor g = p.grad();
    if (!g.defined()) continue;
    py::object d;
    if (any_key) {
      d = state[ph];  // defaultdict: an empty dict for a new parameter
      if (!PyDict_Check(d.ptr()))
        throw py::type_error(str(kind, ": expected the state of a parameter to be a dict, got ",
                                 Py_TYPE(d.ptr())->tp_name));
      if (needs_init && PyDict_Size(d.ptr()) == 0) {
        fresh.append(ph);
        continue;
      }
    }
    std::vector<Tensor> sv(key_names.size());
    for (size_t i = 0; i < key_names.size(); ++i)
      if (py::len(key_names[i]) > 0) sv[i] = state_entry(d.ptr(), key_names[i], kind);
    for (size_t i = 0; i < counter_names.size(); ++i) {
      PyObject* v = PyDict_GetItemWithError(d.ptr(), counter_names[i].ptr());
      if (v == nullptr && PyErr_Occurred()) throw py::error_already_set();
      if (v == nullptr) throw py::key_error(std::string(counter_names[i]));
      (i == 0 ? steps : mus).push_back(as_tensor(v, kind, nullptr, counter_names[i].ptr()));
    }
    ps.push_back(std::move(p)), gs.push_back(std::move(g)), st.push_back(std::move(sv));
    dicts.push_back(std::move(d));
  }
  if (fresh.size() > 0) return std::move(fresh);
  std::vector<std::vector<char>> absent(st.size());  // state tensors the kernel may create
  for (size_t i = 0; i < st.size(); ++i)
    for (const Tensor& t : st[i]) absent[i].push_back(!t.defined());
  std::vector<std::vector<Tensor>> out;
  {
    py::gil_scoped_release r;
    out = ops::optim_steps_(k, ps, gs, std::move(st), steps, mus, h);
  }
  for (size_t i = 0; i < out.size(); ++i)
    for (size_t j = 0; j < out[i].size() && j < key_names.size(); ++j)
      if (out[i][j].defined() && absent[i][j] && py::len(key_names[j]) > 0)
        dicts[i][key_names[j]] = py::cast(out[i][j]);
  return py::none();
}
}  // namespace

void bind_optim(py::module_& m) {
  m.def(
      "_optim_steps",
      [](const std::string& kind, const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
         const std::vector<std::vector<OptT>>& states, const std::vector<OptT>& steps,
         const std::vector<OptT>& mu_products, const py::kwargs& kw) {
        const OptimKind k = kind_from(kind);
        const ops::OptimHyper h = hyper_from(kw);
        std::vector<std::vector<Tensor>> st(states.size());
        for (size_t i = 0; i < states.size(); ++i) st[i] = defined_or_empty(states[i]);
        std::vector<std::vector<Tensor>> out;
        {
          py::gil_scoped_release r;
          out = ops::optim_steps_(k, params, grads, std::move(st), defined_or_empty(steps),
                                  defined_or_empty(mu_products), h);
        }
        std::vector<std::vector<OptT>> res(out.size());
        for (size_t i = 0; i < out.size(); ++i)
          for (const Tensor& t : out[i]) res[i].push_back(t.defined() ? OptT(t) : std::nullopt);
        return res;
      },
      py::arg("kind"), py::arg("params"), py::arg("grads"), py::arg("states"), py::arg("steps"),
      py::arg("mu_products"),
      "One update of every parameter in place, in one call (kind: 'sgd', 'adam', ...; states[i]: "
      "params[i]'s state tensors in the kernel's order, None where off; keyword arguments: the "
      "hyperparameters). Returns the states (SGD's momentum buffers created on the first step).");
  m.def(
      "_grads_to_none",
      [](const py::sequence& params) {
        for (const py::handle o : params) {
          EMBER_CHECK(is_tensor(o), TypeError, "zero_grad: expected Tensors, got ", type_name(o));
          Tensor t = o.cast<Tensor>();  // a handle: set_grad reaches the same tensor
          if (t.grad().defined()) t.set_grad(Tensor());
        }
      },
      py::arg("params"),
      "zero_grad(set_to_none=True) for a sequence of tensors: each .grad = None, in one call.");
  m.def(
      "_optim_tiny_mask",
      [](const std::string& kind, const Tensor& param, const Tensor& grad, const std::vector<OptT>& state,
         const OptT& step, const OptT& mu_product, const py::kwargs& kw) {
        const OptimKind k = kind_from(kind);
        const OptimJob j = ops::optim_job(k, param, grad, defined_or_empty(state), opt(step), opt(mu_product),
                                          hyper_from(kw));
        return cpu::optim_tiny_mask(k, j);
      },
      py::arg("kind"), py::arg("param"), py::arg("grad"), py::arg("state"), py::arg("step"),
      py::arg("mu_product"),
      "For tests: which elements of a float32 parameter's state the next update (arguments as "
      "_optim_steps', for one parameter; counters left as they are) counts as tiny, i.e. sends "
      "chunk by chunk to the subnormal-safe kernel. A bool tensor; nothing is written.");
  m.def("_optim_group", &optim_group, py::arg("kind"), py::arg("params"), py::arg("state"), py::arg("keys"),
        py::arg("counters"), py::arg("needs_init"),
        "One update of a parameter group in place, reading gradients from the parameters and state "
        "tensors from state[p] under `keys` / `counters` (see ember.optim.Optimizer._fused_update). "
        "Returns None, or with needs_init the parameters whose state is still empty (nothing "
        "updated).");
}

}  // namespace ember::py_bind

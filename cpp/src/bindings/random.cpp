// Random: ember.Generator, the global seed functions, rand/randn/randint/randperm (+ _like),
// normal, bernoulli, multinomial and the in-place Tensor fills. generator=None: the global one.
#include "interop.h"

namespace ember::py_bind {

namespace {
// torch's seed rule: an int in [-2**63, 2**64 - 1]; negative seeds map to 0xffff_ffff_ffff_ffff + seed.
uint64_t seed_arg(py::handle o) {
  py::int_ v(py::reinterpret_borrow<py::object>(o));  // int(seed), like torch
  PyObject* p = v.ptr();
  unsigned long long u = PyLong_AsUnsignedLongLong(p);
  if (!PyErr_Occurred()) return u;
  PyErr_Clear();
  long long s = PyLong_AsLongLong(p);
  if (PyErr_Occurred()) {
    PyErr_Clear();
    throw RuntimeError("Overflow when unpacking long long: seed must be within the inclusive range "
                       "[-0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff]");
  }
  return 0xffffffffffffffffULL + static_cast<uint64_t>(s);
}

Generator* gen_arg(py::handle o) {
  if (o.is_none()) return nullptr;
  EMBER_CHECK(py::isinstance<Generator>(o), TypeError, "generator must be an ember.Generator, not ", type_name(o));
  return &o.cast<Generator&>();
}

Shape size_of(const py::args& args, const py::object& size, const char* op) {
  if (!size.is_none()) {
    EMBER_CHECK(args.size() == 0, TypeError, op, "(): size given both positionally and as a keyword");
    return shape_arg(size, op);
  }
  return shape_args(args, op);
}

Tensor finish(Tensor t, py::handle device, bool requires_grad) {
  Device d = device_arg(device);
  EMBER_CHECK(d.is_cpu(), RuntimeError, "ember was built without CUDA: cannot create a tensor on ", d);
  if (requires_grad) t.set_requires_grad(true);
  return t;
}

py::object state_tensor(const std::vector<uint8_t>& s) {
  Tensor t = Tensor::empty({static_cast<int64_t>(s.size())}, DType::UInt8);
  std::copy(s.begin(), s.end(), t.data<uint8_t>());
  return py::cast(t);
}

std::vector<uint8_t> state_bytes(const Tensor& t) {
  EMBER_CHECK(t.dtype() == DType::UInt8 && t.dim() == 1, TypeError,
              "set_state: expected a 1-d ember.uint8 tensor (from get_state()), got ", describe(t));
  Tensor c = ops::contiguous(t.detach());
  return std::vector<uint8_t>(c.data<uint8_t>(), c.data<uint8_t>() + c.numel());
}

Tensor randint_(int64_t low, int64_t high, const Shape& s, py::handle gen, py::handle dtype, py::handle device,
                bool requires_grad) {
  auto dt = dtype_arg(dtype);
  Generator* g = gen_arg(gen);
  Tensor t;
  {
    py::gil_scoped_release r;
    t = ops::randint(low, high, s, dt ? *dt : DType::Int64, g);
  }
  return finish(t, device, requires_grad);
}
}  // namespace

void bind_random(py::module_& m) {
  py::class_<Generator, std::shared_ptr<Generator>>(m, "Generator")
      .def(py::init([](py::object device) {
             EMBER_CHECK(device_arg(device).is_cpu(), RuntimeError,
                         "Generator: ember was built without CUDA: cannot create a generator on ",
                         device_arg(device));
             return std::make_shared<Generator>();
           }),
           py::arg("device") = "cpu")
      .def("manual_seed", [](std::shared_ptr<Generator> g, py::object seed) {
        g->manual_seed(seed_arg(seed));
        return g;
      }, py::arg("seed"))
      .def("initial_seed", &Generator::initial_seed)
      .def("seed", &Generator::seed)
      .def("get_state", [](const Generator& g) { return state_tensor(g.get_state()); })
      .def("set_state", [](std::shared_ptr<Generator> g, const Tensor& s) {
        g->set_state(state_bytes(s));
        return g;
      }, py::arg("new_state"))
      .def_property_readonly("device", [](const Generator&) { return Device(); })
      .def("__repr__", [](const Generator& g) { return str("<ember.Generator object at ", &g, ">"); });
  m.attr("default_generator") = py::cast(default_generator());

  m.def("manual_seed", [](py::object seed) {
    default_generator()->manual_seed(seed_arg(seed));
    return default_generator();
  }, py::arg("seed"));
  m.def("seed", []() { return default_generator()->seed(); });
  m.def("initial_seed", []() { return default_generator()->initial_seed(); });
  m.def("get_rng_state", []() { return state_tensor(default_generator()->get_state()); });
  m.def("set_rng_state", [](const Tensor& s) { default_generator()->set_state(state_bytes(s)); },
        py::arg("new_state"));
  m.def("_philox", [](std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) { return philox4x32(ctr, key); },
        py::arg("counter"), py::arg("key"));

  // rand / randn (*size, generator, dtype, device, requires_grad) and their _like forms.
  for (bool normal : {false, true}) {
    const char* name = normal ? "randn" : "rand";
    auto fn = normal ? &ops::randn : &ops::rand;
    m.def(name, [name, fn](py::args size, py::object size_kw, py::object gen, py::object dtype, py::object device,
                           bool requires_grad, bool pin_memory) {
      Shape s = size_of(size, size_kw, name);
      auto dt = dtype_arg(dtype);
      Generator* g = gen_arg(gen);
      Tensor t;
      {
        py::gil_scoped_release r;
        t = fn(s, dt ? *dt : default_dtype(), g);
      }
      return finish(t, device, requires_grad);
    }, py::arg("size") = py::none(), py::arg("generator") = py::none(), py::arg("dtype") = py::none(),
       py::arg("device") = py::none(), py::arg("requires_grad") = false, py::arg("pin_memory") = false);
    m.def(normal ? "randn_like" : "rand_like", [fn](const Tensor& x, py::object gen, py::object dtype,
                                                    py::object device, bool requires_grad) {
      auto dt = dtype_arg(dtype);
      Generator* g = gen_arg(gen);
      Tensor t;
      {
        py::gil_scoped_release r;
        t = fn(x.shape(), dt ? *dt : x.dtype(), g);
      }
      return finish(t, device, requires_grad);
    }, py::arg("input"), py::kw_only(), py::arg("generator") = py::none(), py::arg("dtype") = py::none(),
       py::arg("device") = py::none(), py::arg("requires_grad") = false);
  }

  // randint(high, size) / randint(low, high, size); randint_like(input, high) / (input, low, high).
  m.def("randint", [](int64_t high, py::object size, py::object gen, py::object dtype, py::object device,
                      bool requires_grad) {
    return randint_(0, high, shape_arg(size, "randint"), gen, dtype, device, requires_grad);
  }, py::arg("high"), py::arg("size"), py::kw_only(), py::arg("generator") = py::none(),
     py::arg("dtype") = py::none(), py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def("randint", [](int64_t low, int64_t high, py::object size, py::object gen, py::object dtype,
                      py::object device, bool requires_grad) {
    return randint_(low, high, shape_arg(size, "randint"), gen, dtype, device, requires_grad);
  }, py::arg("low"), py::arg("high"), py::arg("size"), py::kw_only(), py::arg("generator") = py::none(),
     py::arg("dtype") = py::none(), py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def("randint_like", [](const Tensor& x, int64_t high, py::object gen, py::object dtype, py::object device,
                           bool requires_grad) {
    return randint_(0, high, x.shape(), gen, dtype.is_none() ? py::cast(x.dtype()) : dtype, device, requires_grad);
  }, py::arg("input"), py::arg("high"), py::kw_only(), py::arg("generator") = py::none(),
     py::arg("dtype") = py::none(), py::arg("device") = py::none(), py::arg("requires_grad") = false);
  m.def("randint_like", [](const Tensor& x, int64_t low, int64_t high, py::object gen, py::object dtype,
                           py::object device, bool requires_grad) {
    return randint_(low, high, x.shape(), gen, dtype.is_none() ? py::cast(x.dtype()) : dtype, device,
                    requires_grad);
  }, py::arg("input"), py::arg("low"), py::arg("high"), py::kw_only(), py::arg("generator") = py::none(),
     py::arg("dtype") = py::none(), py::arg("device") = py::none(), py::arg("requires_grad") = false);

  m.def("randperm", [](int64_t n, py::object gen, py::object dtype, py::object device, bool requires_grad) {
    auto dt = dtype_arg(dtype);
    Generator* g = gen_arg(gen);
    Tensor t;
    {
      py::gil_scoped_release r;
      t = ops::randperm(n, dt ? *dt : DType::Int64, g);
    }
    return finish(t, device, requires_grad);
  }, py::arg("n"), py::kw_only(), py::arg("generator") = py::none(), py::arg("dtype") = py::none(),
     py::arg("device") = py::none(), py::arg("requires_grad") = false);

  // normal(mean, std, size=None): scalars need a size; tensors broadcast (no gradient, like torch).
  m.def("normal", [](py::object mean, py::object std, py::object size, py::object gen, py::object dtype,
                     py::object device, bool requires_grad) {
    Generator* g = gen_arg(gen);
    auto ms = as_scalar(mean), ss = as_scalar(std);
    if (ms && ss) {
      EMBER_CHECK(!size.is_none(), TypeError, "normal(): with float mean and std, a size is required");
      auto dt = dtype_arg(dtype);
      Tensor t = ops::empty(shape_arg(size, "normal"), dt ? *dt : default_dtype());
      {
        py::gil_scoped_release r;
        ops::normal_(t, ms->to_double(), ss->to_double(), g);
      }
      return finish(t, device, requires_grad);
    }
    Tensor mt = operand(mean, "normal"), st = operand(std, "normal");
    py::gil_scoped_release r;
    return ops::normal(mt, st, g);
  }, py::arg("mean"), py::arg("std") = 1.0, py::arg("size") = py::none(), py::kw_only(),
     py::arg("generator") = py::none(), py::arg("dtype") = py::none(), py::arg("device") = py::none(),
     py::arg("requires_grad") = false);

  auto bernoulli = [](const Tensor& x, py::object p, py::object gen) {
    Generator* g = gen_arg(gen);
    if (p.is_none()) {
      py::gil_scoped_release r;
      return ops::bernoulli(x, g);
    }
    auto ps = as_scalar(p);
    EMBER_CHECK(ps.has_value(), TypeError, "bernoulli(): argument 'p' must be a float");
    Tensor t = ops::empty(x.shape(), x.dtype());
    py::gil_scoped_release r;
    return ops::bernoulli_(t, ps->to_double(), g);
  };
  m.def("bernoulli", bernoulli, py::arg("input"), py::arg("p") = py::none(), py::kw_only(),
        py::arg("generator") = py::none());
  m.def("multinomial", [](const Tensor& x, int64_t n, bool replacement, py::object gen) {
    Generator* g = gen_arg(gen);
    py::gil_scoped_release r;
    return ops::multinomial(x, n, replacement, g);
  }, py::arg("input"), py::arg("num_samples"), py::arg("replacement") = false, py::kw_only(),
     py::arg("generator") = py::none());
  // F.dropout's fused kernel for floating input and 0 < p < 1 (functional.py handles the rest)
  m.def("_dropout", [](const Tensor& x, double p) {
    py::gil_scoped_release r;
    return ops::dropout(x, p);
  }, py::arg("input"), py::arg("p"));

  auto& c = tensor_class();
  c.def("bernoulli", bernoulli, py::arg("p") = py::none(), py::kw_only(), py::arg("generator") = py::none());
  c.def("multinomial", [](const Tensor& x, int64_t n, bool replacement, py::object gen) {
    Generator* g = gen_arg(gen);
    py::gil_scoped_release r;
    return ops::multinomial(x, n, replacement, g);
  }, py::arg("num_samples"), py::arg("replacement") = false, py::kw_only(), py::arg("generator") = py::none());
  c.def("uniform_", [](Tensor& t, double from, double to, py::object gen) -> Tensor {
    Generator* g = gen_arg(gen);
    py::gil_scoped_release r;
    return ops::uniform_(t, from, to, g);
  }, py::arg("from") = 0.0, py::arg("to") = 1.0, py::kw_only(), py::arg("generator") = py::none());
  c.def("normal_", [](Tensor& t, double mean, double std, py::object gen) -> Tensor {
    Generator* g = gen_arg(gen);
    py::gil_scoped_release r;
    return ops::normal_(t, mean, std, g);
  }, py::arg("mean") = 0.0, py::arg("std") = 1.0, py::kw_only(), py::arg("generator") = py::none());
  c.def("bernoulli_", [](Tensor& t, py::object p, py::object gen) -> Tensor {
    Generator* g = gen_arg(gen);
    if (is_tensor(p)) {
      Tensor pt = p.cast<Tensor>();
      py::gil_scoped_release r;
      return ops::bernoulli_(t, pt, g);
    }
    auto ps = as_scalar(p);
    EMBER_CHECK(ps.has_value(), TypeError, "bernoulli_(): argument 'p' must be a float or Tensor, not ",
                type_name(p));
    py::gil_scoped_release r;
    return ops::bernoulli_(t, ps->to_double(), g);
  }, py::arg("p") = 0.5, py::kw_only(), py::arg("generator") = py::none());
}

}  // namespace ember::py_bind

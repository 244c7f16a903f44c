"""nn.Module system: registration, traversal, state_dict format and loading, modes, hooks,
containers, reprs; compared with torch.nn where the format matters."""
from collections import OrderedDict

import numpy as np
import pytest

import ember
from conftest import requires_torch, torch
from ember import nn


class Net(nn.Module):
    def __init__(self, lib_nn):
        super().__init__()
        self.fc1 = lib_nn.Linear(4, 3)
        self.act = lib_nn.ReLU()
        self.blocks = lib_nn.Sequential(lib_nn.Linear(3, 3), lib_nn.Tanh(), lib_nn.Linear(3, 2, bias=False))
        self.heads = lib_nn.ModuleList([lib_nn.Linear(2, 1), lib_nn.Linear(2, 1)])

    def forward(self, x):
        h = self.blocks(self.act(self.fc1(x)))
        return self.heads[0](h) + self.heads[1](h)


class TorchNet(torch.nn.Module if torch else object):
    def __init__(self):
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 3)
        self.act = torch.nn.ReLU()
        self.blocks = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2, bias=False))
        self.heads = torch.nn.ModuleList([torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)])

    def forward(self, x):
        h = self.blocks(self.act(self.fc1(x)))
        return self.heads[0](h) + self.heads[1](h)


def test_registration_and_traversal():
    m = Net(nn)
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "blocks.0.weight", "blocks.0.bias", "blocks.2.weight",
                     "heads.0.weight", "heads.0.bias", "heads.1.weight", "heads.1.bias"]
    assert [n for n, _ in m.named_modules()] == ["", "fc1", "act", "blocks", "blocks.0", "blocks.1", "blocks.2",
                                                 "heads", "heads.0", "heads.1"]
    assert [n for n, _ in m.named_children()] == ["fc1", "act", "blocks", "heads"]
    assert m.get_submodule("blocks.2") is m.blocks[2]
    assert len(list(m.parameters())) == 9


@requires_torch
def test_state_dict_keys_and_shapes_match_torch():
    e, t = Net(nn), TorchNet()
    es, ts = e.state_dict(), t.state_dict()
    assert list(es.keys()) == list(ts.keys())
    for k in es:
        assert tuple(es[k].shape) == tuple(ts[k].shape)


@requires_torch
def test_load_torch_state_dict_gives_same_outputs():
    e, t = Net(nn), TorchNet()
    e.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(e(ember.from_numpy(x)).detach().numpy(),
                               t(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_load_state_dict_errors_list_keys_and_shapes():
    m = Net(nn)
    sd = m.state_dict()
    bad = OrderedDict(sd)
    del bad["fc1.bias"]
    bad["extra.weight"] = ember.zeros(1)
    bad["fc1.weight"] = ember.zeros(2, 2)
    with pytest.raises(RuntimeError) as ei:
        m.load_state_dict(bad)
    msg = str(ei.value)
    assert 'Missing key(s) in state_dict: "fc1.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for fc1.weight" in msg
    res = m.load_state_dict({k: v for k, v in sd.items() if k != "fc1.bias"}, strict=False)
    assert res.missing_keys == ["fc1.bias"] and res.unexpected_keys == []


def test_state_dict_is_detached_and_shares_memory():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad
    sd["weight"].numpy()[0, 0] = 42.0
    assert m.weight.detach().numpy()[0, 0] == 42.0


def test_buffers_persistent_and_not():
    m = nn.Module()
    m.register_buffer("a", ember.zeros(2))
    m.register_buffer("b", ember.ones(2), persistent=False)
    assert list(m.state_dict().keys()) == ["a"]
    assert [n for n, _ in m.named_buffers()] == ["a", "b"]


def test_train_eval_and_requires_grad():
    m = Net(nn)
    m.eval()
    assert all(not mod.training for mod in m.modules())
    m.train()
    assert all(mod.training for mod in m.modules())
    m.requires_grad_(False)
    assert all(not p.requires_grad for p in m.parameters())


def test_zero_grad_set_to_none_and_zero():
    m = nn.Linear(2, 1)
    m(ember.ones(3, 2)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert np.all(m.weight.grad.numpy() == 0)
    m.zero_grad()
    assert m.weight.grad is None


def test_zero_grad_nested_and_shared():
    # zero_grad reaches every parameter once through containers, a shared submodule and a module
    # without parameters; with set_to_none=False it zeroes them in place instead
    shared = nn.Linear(2, 2)
    m = nn.Sequential(nn.Sequential(shared, nn.ReLU()), shared, nn.Linear(2, 1))
    m(ember.ones(3, 2)).sum().backward()
    params = list(m.parameters())
    assert len(params) == 4 and all(p.grad is not None for p in params)
    m[0].zero_grad()
    assert shared.weight.grad is None and m[2].weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert shared.weight.grad is None and np.all(m[2].weight.grad.numpy() == 0)
    m.zero_grad()
    assert all(p.grad is None for p in params)


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(ember.zeros(1))
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = ember.zeros(1)
    m.w = None
    assert m.w is None
    m.sub = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="child module 'sub'"):
        m.sub = 3
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        m.nope
    with pytest.raises(KeyError, match="contain"):
        m.register_buffer("a.b", ember.zeros(1))


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: calls.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 0)
    out = m(ember.ones(1, 2))
    assert calls == ["pre"] and np.all(out.detach().numpy() == 0)
    h1.remove()
    h2.remove()
    assert np.any(m(ember.ones(1, 2)).detach().numpy() != 0)


def test_sequential_indexing_slicing_append():
    s = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    assert isinstance(s[-1], nn.Sigmoid)
    sub = s[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and isinstance(sub[0], nn.Tanh)
    s.append(nn.Identity())
    assert len(s) == 4
    del s[0]
    assert [type(x).__name__ for x in s] == ["Tanh", "Sigmoid", "Identity"]
    assert list(s._modules.keys()) == ["0", "1", "2"]
    with pytest.raises(IndexError):
        s[10]


def test_sequential_ordered_dict_and_module_dict():
    s = nn.Sequential(OrderedDict([("lin", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in s.named_parameters()] == ["lin.weight", "lin.bias"]
    d = nn.ModuleDict({"a": nn.Linear(1, 1)})
    d["b"] = nn.ReLU()
    assert list(d.keys()) == ["a", "b"] and "a" in d


def test_parameter_list():
    pl = nn.ParameterList([nn.Parameter(ember.zeros(2)), ember.ones(3)])
    assert len(pl) == 2 and isinstance(pl[1], nn.Parameter)
    m = nn.Module()
    m.pl = pl
    assert [n for n, _ in m.named_parameters()] == ["pl.0", "pl.1"]


def test_shared_parameters_counted_once():
    lin = nn.Linear(2, 2)
    s = nn.Sequential(lin, lin)
    assert len(list(s.parameters())) == 2


@requires_torch
def test_repr_matches_torch():
    e = nn.Sequential(nn.Linear(4, 3), nn.ReLU(inplace=True), nn.Dropout(0.2), nn.LeakyReLU(0.1))
    t = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(inplace=True), torch.nn.Dropout(0.2),
                            torch.nn.LeakyReLU(0.1))
    assert repr(e) == repr(t)


def test_double_and_float_conversion():
    m = nn.Linear(2, 2).double()
    assert m.weight.dtype == ember.float64 and isinstance(m.weight, nn.Parameter)
    m.float()
    assert m.weight.dtype == ember.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(ember.int64)


def test_apply_and_init():
    m = nn.Sequential(nn.Linear(3, 3), nn.Linear(3, 3))

    def reset(mod):
        if isinstance(mod, nn.Linear):
            nn.init.constant_(mod.weight, 0.5)
            nn.init.zeros_(mod.bias)

    m.apply(reset)
    assert np.all(m[1].weight.detach().numpy() == 0.5)


def _registry_scenario(L):
    """Edit a module's _parameters/_buffers/_modules directly, as torch code does, and record what
    attribute access shows after each edit. Ember keeps these entries mirrored in the instance
    __dict__ (fast attribute reads); what the user sees must be exactly torch's."""
    import copy
    import pickle

    def show(m, name):
        try:
            v = getattr(m, name)
        except AttributeError:
            return "missing"
        if v is None:
            return "None"
        for store in ("_parameters", "_buffers", "_modules"):
            if name in getattr(m, store) and getattr(m, store)[name] is v:
                return store
        return type(v).__name__

    P = L.nn.Parameter
    out = []
    m = L.nn.Linear(3, 2)
    out.append(show(m, "weight"))
    new_w = P(L.zeros(2, 3))
    m._parameters["weight"] = new_w
    out.append(m.weight is new_w)
    del m._parameters["bias"]
    out.append(show(m, "bias"))
    m.bias = None  # a plain attribute now: bias is no longer registered
    out.append((show(m, "bias"), "bias" in m._parameters))
    m._parameters.update(bias=P(L.ones(2)))
    out.append((show(m, "bias"), float(m(L.zeros(1, 3)).detach().sum())))
    w = m._parameters.pop("weight")  # weight_norm style: drop the parameter, assign a plain tensor
    out.append(show(m, "weight"))
    m.weight = w.detach() * 2
    out.append((show(m, "weight"), "weight" in m._parameters, float(m(L.ones(1, 3)).detach().sum())))
    m._parameters.setdefault("extra", P(L.ones(1)))
    out.append((show(m, "extra"), [k for k, _ in m.named_parameters()]))
    m._parameters.popitem()
    out.append(show(m, "extra"))
    m._parameters.clear()
    out.append((show(m, "bias"), list(m.state_dict())))

    bn = L.nn.BatchNorm1d(2)
    t = L.full((2,), 3.0)
    bn._buffers["running_mean"] = t
    out.append(bn.running_mean is t)
    bn.running_mean = None
    out.append((show(bn, "running_mean"), "running_mean" in bn._buffers))

    s = L.nn.Sequential(L.nn.Linear(2, 2), L.nn.ReLU())
    s._modules["forward"] = L.nn.Tanh()  # a name the class defines: the method still wins
    out.append(callable(s.forward) and not isinstance(s.forward, L.nn.Module))
    del s._modules["forward"]
    s._modules["head"] = L.nn.Linear(2, 1)
    out.append(show(s, "head"))
    s.head = L.nn.ReLU()
    out.append((type(s.head).__name__, show(s, "head")))
    s.head = P(L.ones(1))  # moves from _modules to _parameters
    out.append((show(s, "head"), "head" in s._modules))
    del s.head
    out.append(show(s, "head"))

    c = copy.deepcopy(L.nn.Linear(2, 2))
    out.append((show(c, "weight"), show(c, "bias")))
    c._parameters["weight"] = P(L.ones(2, 2))
    out.append(float(c.weight.detach().sum()))
    r = pickle.loads(pickle.dumps(c))
    out.append((show(r, "weight"), float(r.weight.detach().sum())))
    r._parameters["weight"] = P(L.zeros(2, 2))
    out.append((float(r.weight.detach().sum()), float(c.weight.detach().sum())))

    orig = L.nn.Linear(2, 2)
    sh = copy.copy(orig)  # a shallow copy shares the registries: edits show through both
    nw = P(L.full((2, 2), 5.0))
    orig._parameters["weight"] = nw
    out.append((sh.weight is nw, orig.weight is nw))
    del sh._parameters["bias"]
    out.append((show(orig, "bias"), show(sh, "bias")))
    sh.extra = P(L.ones(1))
    out.append((show(orig, "extra"), show(sh, "extra")))

    m2 = L.nn.Linear(2, 2)
    m2._parameters = OrderedDict()  # the whole store replaced
    out.append((show(m2, "weight"), list(m2.state_dict())))
    return out


@requires_torch
def test_direct_edits_of_module_registries_match_torch():
    assert _registry_scenario(ember) == _registry_scenario(torch)


def test_parameter_attribute_is_a_plain_instance_hit():
    m = nn.Linear(4, 4)
    assert m.__dict__["weight"] is m._parameters["weight"] is m.weight
    m.cpu()  # conversions that replace parameters keep the mirror in step
    m.double()
    assert m.weight.dtype == ember.float64 and m.__dict__["weight"] is m._parameters["weight"]

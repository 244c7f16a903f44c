"""ember.optim optimizers against torch.optim: same model, data and hyperparameters, parameters
equal to float32 tolerance after every step; param groups, lr changes through param_groups,
state_dict save/load mid-run (also from a converted torch state dict); validation errors."""

import platform
import sys

import ember
import numpy as np
import pytest
import torch

D, H, N = 37, 5, 16  # odd sizes: SIMD tails are exercised


def _data(seed=0):
    rng = np.random.default_rng(seed)
    params = {
        "w1": rng.standard_normal(D).astype(np.float32),
        "b1": (0.1 * rng.standard_normal(D)).astype(np.float32),
        "w2": (rng.standard_normal((H, D)) / np.sqrt(D)).astype(np.float32),
    }
    x = rng.standard_normal((N, D)).astype(np.float32)
    t = rng.standard_normal((N, H)).astype(np.float32)
    return params, x, t


class Pair:
    """The same elementwise model in ember and torch: y = sum(tanh(x*w1 + b1)[:, None] * w2, 2)."""

    def __init__(self, seed=0, dtype=np.float32):
        params, self.x, self.t = _data(seed)
        self.names = list(params)
        self.sign = 1.0  # -1 for maximize=True: ascend -loss, i.e. still fit the data
        self.e = {
            k: ember.nn.Parameter(ember.from_numpy(v.astype(dtype))) for k, v in params.items()
        }
        self.t_ = {
            k: torch.nn.Parameter(torch.from_numpy(v.astype(dtype))) for k, v in params.items()
        }
        self.xe, self.te = (
            ember.from_numpy(self.x.astype(dtype)),
            ember.from_numpy(self.t.astype(dtype)),
        )
        self.xt, self.tt = (
            torch.from_numpy(self.x.astype(dtype)),
            torch.from_numpy(self.t.astype(dtype)),
        )

    @staticmethod
    def _loss(p, x, t):
        h = (x * p["w1"] + p["b1"]).tanh()
        y = (h.unsqueeze(1) * p["w2"]).sum(2)
        return ((y - t) * (y - t)).mean()

    def backward(self, shared=False):
        """Each framework's own autograd, or (shared) torch's gradients given to both, which
        isolates the optimizers' arithmetic from autograd's rounding."""
        (self.sign * self._loss(self.t_, self.xt, self.tt)).backward()
        if not shared:
            (self.sign * self._loss(self.e, self.xe, self.te)).backward()
            return
        for k in self.names:
            self.e[k].grad = ember.from_numpy(self.t_[k].grad.numpy().copy())

    def check(self, rtol=1.3e-6, atol=1e-5):
        for k in self.names:
            np.testing.assert_allclose(
                self.e[k].detach().numpy(),
                self.t_[k].detach().numpy(),
                rtol=rtol,
                atol=atol,
                err_msg=k,
            )


CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.8, "nesterov": True, "weight_decay": 0.02}),
    ("SGD", {"lr": 0.01, "momentum": 0.5, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
    ("Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "maximize": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("Adagrad", {"lr": 0.05}),
    (
        "Adagrad",
        {"lr": 0.05, "lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1},
    ),
    ("Adagrad", {"lr": 0.05, "maximize": True, "eps": 1e-8}),
    ("RMSprop", {"lr": 0.005}),
    ("RMSprop", {"lr": 0.001, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.005, "centered": True}),
    (
        "RMSprop",
        {"lr": 0.002, "centered": True, "momentum": 0.5, "weight_decay": 0.01, "alpha": 0.9},
    ),
    ("RMSprop", {"lr": 0.005, "maximize": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.95, "weight_decay": 0.01, "maximize": True}),
    ("Adamax", {"lr": 0.01}),
    ("Adamax", {"lr": 0.01, "betas": (0.8, 0.9), "weight_decay": 0.05, "maximize": True}),
    ("NAdam", {"lr": 0.01}),
    ("NAdam", {"lr": 0.004, "weight_decay": 0.05, "momentum_decay": 0.01}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True, "maximize": True}),
    ("RAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.05}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True, "maximize": True}),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for n, kw in CASES]


def _opts(pair, name, kw, groups=None):
    if groups is None:
        pe, pt = [pair.e[k] for k in pair.names], [pair.t_[k] for k in pair.names]
    else:
        pe = [{"params": [pair.e[k] for k in g["params"]], **g["opts"]} for g in groups]
        pt = [{"params": [pair.t_[k] for k in g["params"]], **g["opts"]} for g in groups]
    pair.sign = -1.0 if kw.get("maximize") else 1.0
    return getattr(ember.optim, name)(pe, **kw), getattr(torch.optim, name)(pt, **kw)


def _run(pair, oe, ot, steps, shared=False):
    for _ in range(steps):
        oe.zero_grad()
        ot.zero_grad()
        pair.backward(shared)
        oe.step()
        ot.step()
        pair.check()


def _state_np(opt):
    """A deep copy of an optimizer's state_dict with tensors as numpy arrays."""
    sd = opt.state_dict()
    conv = {
        k: {
            kk: (vv.detach().numpy().copy() if hasattr(vv, "numpy") else vv) for kk, vv in v.items()
        }
        for k, v in sd["state"].items()
    }
    return conv, [dict(g) for g in sd["param_groups"]]


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_matches_torch(name, kw):
    pair = Pair()
    oe, ot = _opts(pair, name, kw)
    _run(pair, oe, ot, 30)  # ember's autograd and optimizer vs torch's: parameters every step


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_state_matches_torch(name, kw):
    pair = Pair()
    oe, ot = _opts(pair, name, kw)
    _run(pair, oe, ot, 30, shared=True)
    se, ge = _state_np(oe)
    st, gt = _state_np(ot)
    assert ge == gt  # same hyperparameter keys and values, same integer ids
    assert se.keys() == st.keys()
    for i in st:
        assert list(se[i]) == list(st[i])  # same state keys, in torch's order
        for k in st[i]:
            np.testing.assert_allclose(se[i][k], st[i][k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.parametrize(
    "name,kw", [c for c in CASES if c[0] in ("SGD", "Adam", "RMSprop", "NAdam")]
)
def test_groups_and_lr_changes(name, kw):
    pair = Pair(seed=1)
    groups = [
        {"params": ["w1", "b1"], "opts": {}},
        {"params": ["w2"], "opts": {"lr": kw.get("lr", 0.01) * 0.5, "weight_decay": 0.02}},
    ]
    oe, ot = _opts(pair, name, kw, groups)
    _run(pair, oe, ot, 8)
    for g_e, g_t in zip(oe.param_groups, ot.param_groups):
        g_e["lr"] *= 0.3
        g_t["lr"] *= 0.3
    _run(pair, oe, ot, 8)
    oe.param_groups[1]["lr"] = ot.param_groups[1]["lr"] = 0.0  # frozen by lr
    before = pair.e["w2"].detach().numpy().copy()
    _run(pair, oe, ot, 3)
    np.testing.assert_array_equal(pair.e["w2"].detach().numpy(), before)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_save_load_mid_run(name, kw):
    ref = Pair()
    oe_ref, ot = _opts(ref, name, kw)
    _run(ref, oe_ref, ot, 10)
    # checkpoint: parameter values and a deep copy of the optimizer state
    saved = {k: v.detach().numpy().copy() for k, v in ref.e.items()}
    sd = oe_ref.state_dict()
    sd_copy = {
        "state": {
            i: {k: (v.clone() if isinstance(v, ember.Tensor) else v) for k, v in s.items()}
            for i, s in sd["state"].items()
        },
        "param_groups": [dict(g) for g in sd["param_groups"]],
    }
    _run(ref, oe_ref, ot, 10)
    resumed = Pair()
    for k in resumed.names:
        resumed.e[k].data = ember.from_numpy(saved[k].copy())
    oe, _ = _opts(resumed, name, kw)
    oe.load_state_dict(sd_copy)
    for _ in range(10):
        oe.zero_grad()
        (resumed.sign * resumed._loss(resumed.e, resumed.xe, resumed.te)).backward()
        oe.step()
    for k in ref.names:  # never stopping == stopping and resuming, bit for bit
        np.testing.assert_array_equal(resumed.e[k].detach().numpy(), ref.e[k].detach().numpy())


@pytest.mark.parametrize(
    "name,kw",
    [CASES[1], CASES[6], CASES[13], CASES[17], CASES[20], CASES[22], CASES[24], CASES[27]],
)
def test_load_converted_torch_state_dict(name, kw):
    pair = Pair()
    oe, ot = _opts(pair, name, kw)
    _run(pair, oe, ot, 7)
    tsd = ot.state_dict()
    converted = {
        "state": {
            i: {
                k: (ember.from_numpy(v.numpy().copy()) if torch.is_tensor(v) else v)
                for k, v in s.items()
            }
            for i, s in tsd["state"].items()
        },
        "param_groups": tsd["param_groups"],
    }
    fresh = getattr(ember.optim, name)([pair.e[k] for k in pair.names], lr=123.0)
    fresh.load_state_dict(converted)
    assert fresh.param_groups[0]["lr"] == kw.get("lr", ot.defaults["lr"])
    _run(pair, fresh, ot, 7)
    # a step stored as a plain number (old checkpoints) becomes a 0-d tensor
    if name != "SGD":
        sd = fresh.state_dict()
        sd["state"] = {i: {**s, "step": float(s["step"].numpy())} for i, s in sd["state"].items()}
        fresh.load_state_dict(sd)
        assert isinstance(fresh.state[pair.e["w1"]]["step"], ember.Tensor)
        _run(pair, fresh, ot, 2)
        # torch tensors are converted (copied) on load as well
        fresh.load_state_dict(ot.state_dict())
        _run(pair, fresh, ot, 2)


def test_frozen_parameters_are_skipped():
    pair = Pair()
    pair.e["b1"].requires_grad_(False)
    pair.t_["b1"].requires_grad_(False)
    oe, ot = _opts(pair, "Adam", {"lr": 0.01})
    before = pair.e["b1"].detach().numpy().copy()
    _run(pair, oe, ot, 5)
    assert pair.e["b1"].grad is None
    np.testing.assert_array_equal(pair.e["b1"].detach().numpy(), before)
    assert pair.e["b1"] not in oe.state and len(oe.state) == 2


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_parameter_joining_later_matches_torch(name, kw):
    # b1 gets no gradient for the first 3 steps, then joins: the fused group update must create
    # its state at its own first step while the others' state carries on, exactly as torch does
    # (no state entry before then, except Adagrad's, made at construction as torch makes it)
    pair = Pair()
    oe, ot = _opts(pair, name, kw)
    for i in range(8):
        oe.zero_grad()
        ot.zero_grad()
        pair.backward(shared=True)
        if i < 3:
            pair.e["b1"].grad, pair.t_["b1"].grad = None, None
            assert (pair.e["b1"] in oe.state) == (pair.t_["b1"] in ot.state)
        oe.step()
        ot.step()
        pair.check()
    se, _ = _state_np(oe)
    st, _ = _state_np(ot)
    assert se.keys() == st.keys()
    for i in st:
        assert list(se[i]) == list(st[i])
        for k in st[i]:
            np.testing.assert_allclose(se[i][k], st[i][k], rtol=1e-5, atol=1e-6, err_msg=k)


def test_group_update_errors():
    p = ember.nn.Parameter(ember.ones(3))
    p.grad = ember.ones(3)
    opt = ember.optim.Adam([p], lr=0.1)
    opt.step()
    after_one = p.detach().numpy().copy()
    step = opt.state[p]["step"]
    opt.state[p]["step"] = "one"
    with pytest.raises(TypeError, match=r"adam: expected state\['step'\] to be a tensor, got str"):
        opt.step()
    opt.state[p]["step"] = step
    del opt.state[p]["step"]
    with pytest.raises(KeyError, match="step"):
        opt.step()
    opt.state[p] = [1, 2]
    with pytest.raises(TypeError, match="state of a parameter to be a dict"):
        opt.step()
    sgd = ember.optim.SGD([p], lr=0.1, momentum=0.9)
    sgd.state[p]["momentum_buffer"] = "not a tensor"
    with pytest.raises(TypeError, match=r"sgd: expected state\['momentum_buffer'\] to be a tensor, got str"):
        sgd.step()
    del sgd.state[p]["momentum_buffer"]
    sgd.param_groups[0]["params"] = [p, 3.0]
    with pytest.raises(TypeError, match="sgd: expected a parameter to be a tensor, got float"):
        sgd.step()
    np.testing.assert_array_equal(p.detach().numpy(), after_one)  # the failed steps wrote nothing


def test_zero_grad_and_closure_and_no_graph():
    pair = Pair()
    opt = ember.optim.SGD([pair.e[k] for k in pair.names], lr=0.1, momentum=0.9)
    calls = []

    def closure():
        opt.zero_grad()
        loss = pair._loss(pair.e, pair.xe, pair.te)
        loss.backward()
        calls.append(ember.is_grad_enabled())
        return loss

    with ember.no_grad():
        loss = opt.step(closure)
    assert calls == [True] and isinstance(loss, ember.Tensor)
    for p in pair.e.values():
        assert p.is_leaf and p.grad_fn is None and p.requires_grad
    opt.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in pair.e.values())
    opt.zero_grad()
    assert all(p.grad is None for p in pair.e.values())
    groups = ember.optim.SGD([{"params": [pair.e["w1"]]}, {"params": [pair.e[k] for k in pair.names[1:]]}],
                             lr=0.1)
    pair.backward()
    groups.zero_grad()  # every group
    assert all(p.grad is None for p in pair.e.values())
    v = pair.e["w1"]._version
    pair.backward()
    opt.step()
    assert pair.e["w1"]._version > v and ember.is_grad_enabled()


def test_step_hooks():
    p = ember.nn.Parameter(ember.ones(3))
    opt = ember.optim.SGD([p], lr=0.5)
    seen = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: seen.append(("pre", o is opt)))
    h2 = opt.register_step_post_hook(lambda o, a, k: seen.append(("post", o is opt)))
    h3 = ember.optim.register_optimizer_step_pre_hook(lambda o, a, k: seen.append(("global", True)))
    p.grad = ember.ones(3)
    opt.step()
    assert seen == [("global", True), ("pre", True), ("post", True)]
    np.testing.assert_array_equal(p.detach().numpy(), [0.5, 0.5, 0.5])
    for h in (h1, h2, h3):
        h.remove()
    opt.step()
    assert len(seen) == 3


def test_float64_noncontiguous_and_empty():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((6, 9))
    grad = rng.standard_normal((9, 6))
    pe = ember.nn.Parameter(ember.from_numpy(base.copy()).t())  # float64, transposed view
    pt = torch.nn.Parameter(torch.from_numpy(base.copy()).t())
    assert not pe.is_contiguous()
    oe, ot = (
        ember.optim.Adam([pe], lr=0.1, amsgrad=True),
        torch.optim.Adam([pt], lr=0.1, amsgrad=True),
    )
    for i in range(5):
        pe.grad = ember.from_numpy(grad * (i + 1))
        pt.grad = torch.from_numpy(grad * (i + 1))
        oe.step()
        ot.step()
    np.testing.assert_allclose(pe.detach().numpy(), pt.detach().numpy(), rtol=1e-13, atol=1e-14)
    assert oe.state[pe]["exp_avg"].dtype == ember.float64
    empty = ember.nn.Parameter(ember.zeros(0, 3))
    opt = ember.optim.RMSprop([empty], momentum=0.5, centered=True)
    empty.grad = ember.zeros(0, 3)
    opt.step()
    assert float(opt.state[empty]["step"].numpy()) == 1.0


def test_large_parameter_parallel_kernel():
    rng = np.random.default_rng(4)
    x = rng.standard_normal(300_001).astype(np.float32)
    for name, kw in [("Adam", {}), ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True})]:
        pe, pt = (
            ember.nn.Parameter(ember.from_numpy(x.copy())),
            torch.nn.Parameter(torch.from_numpy(x.copy())),
        )
        oe, ot = getattr(ember.optim, name)([pe], **kw), getattr(torch.optim, name)([pt], **kw)
        for i in range(3):
            g = rng.standard_normal(x.size).astype(np.float32)
            pe.grad, pt.grad = ember.from_numpy(g), torch.from_numpy(g.copy())
            oe.step()
            ot.step()
        np.testing.assert_allclose(pe.detach().numpy(), pt.detach().numpy(), rtol=1.3e-6, atol=1e-5)


@pytest.mark.parametrize("isa", ["base", "avx2"])
def test_kernels_on_every_isa(isa):
    """The same updates through the baseline and AVX2 kernels (EMBER_ISA caps the dispatch)."""
    import os
    import subprocess
    import sys

    code = """
import numpy as np, torch, ember
rng = np.random.default_rng(0)
x = rng.standard_normal(1003).astype(np.float32)
worst = 0.0
for name, kw in [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
                 ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
                 ("Adagrad", dict(lr=0.1)), ("RMSprop", dict(centered=True, momentum=0.5)),
                 ("Adadelta", dict(maximize=True)), ("Adamax", {}), ("NAdam", {}), ("RAdam", {})]:
    pe, pt = ember.nn.Parameter(ember.from_numpy(x.copy())), torch.nn.Parameter(torch.from_numpy(x.copy()))
    oe, ot = getattr(ember.optim, name)([pe], **kw), getattr(torch.optim, name)([pt], **kw)
    for i in range(10):
        g = rng.standard_normal(x.size).astype(np.float32)
        pe.grad, pt.grad = ember.from_numpy(g), torch.from_numpy(g.copy())
        oe.step(); ot.step()
    d = np.abs(pe.detach().numpy() - pt.detach().numpy()) / (1e-5 / 1.3e-6 + np.abs(pt.detach().numpy()))
    worst = max(worst, float(d.max()))
print(ember._C._cpu_isa(), worst)
"""
    env = dict(os.environ, EMBER_ISA=isa)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True, text=True)
    got_isa, worst = out.stdout.split()
    assert got_isa in (isa, "base")  # a CPU without AVX2 runs the baseline kernels
    assert float(worst) <= 1.3e-6  # |e - t| <= 1e-5 + 1.3e-6 |t|


SUBNORMAL_CODE = """
import sys, numpy as np, ember
cases = eval(sys.argv[2])
rng = np.random.default_rng(1)
n = 4001

def mixed(lo, hi, zero=0.2):
    # magnitudes 2^lo .. 2^hi: normals, values near and below the float32 minimum normal
    # (2^-126), subnormals, and exact zeros
    with np.errstate(under="ignore"):
        x = rng.standard_normal(n) * 2.0 ** rng.integers(lo, hi, n)
        x[rng.random(n) < zero] = 0
        return x.astype(np.float32)

out = {}
for ci, (name, kw) in enumerate(cases):
    p = ember.nn.Parameter(ember.from_numpy(mixed(-135, 2)))
    opt = getattr(ember.optim, name)([p], **kw)
    # which 16-element chunks of the middle quarter get tiny gradients (the rest ordinary ones)
    chunk_tiny = np.repeat(rng.random(n // 16 + 1) < 0.5, 16)[:n]
    for step in range(6):
        # Under auto, float32 blocks run the float kernel, SafeF, or go chunk by chunk (16
        # elements, each on one or the other) by what the block before held. Quarters: zero and
        # tiny gradients (state subnormal or tiny, some zero); only tiny nonzero ones (every state
        # value tiny: whole SafeF blocks); chunks of tiny and of ordinary gradients interleaved at
        # random; ordinary gradients (float blocks).
        q = n // 4
        g = mixed(-20, 0, 0.1)
        g[:q] = mixed(-150, -55, 0.3)[:q]
        g[q : 2 * q] = mixed(-140, -60, 0.0)[q : 2 * q]
        mid = np.where(chunk_tiny, mixed(-140, -60, 0.0), g)
        g[2 * q : 3 * q] = mid[2 * q : 3 * q]
        p.grad = ember.from_numpy(g)
        opt.step()
    out[f"{ci}_p"] = p.detach().numpy().copy()
    for k, v in opt.state[p].items():
        if hasattr(v, "numpy") and v.numel() == n:
            out[f"{ci}_{k}"] = v.numpy().copy()
np.savez(sys.argv[1], **out)
"""


@pytest.mark.parametrize("isa", ["native", "avx2", "base"])
def test_subnormal_state_path_is_bit_identical(isa, tmp_path):
    """Float32 blocks whose state holds subnormals run on SafeF (products, quotients and roots in
    float64, FMAs rounded to odd) instead of the float kernel, whose multiplies take microcode
    assists there on some CPUs: both must give every optimizer's parameters and state bit for bit.
    The float kernel alone, SafeF alone, chunk by chunk (by the state's bounds) and the calibrated
    choice run in subprocesses (EMBER_OPTIM_SUBNORMAL), with FMA (native, avx2) and without
    (base)."""
    import os
    import subprocess

    results = {}
    for mode in ["float", "safe", "chunk", "auto"]:
        env = dict(os.environ, EMBER_OPTIM_SUBNORMAL=mode)
        if isa != "native":
            env["EMBER_ISA"] = isa
        f = tmp_path / f"{mode}.npz"
        subprocess.run([sys.executable, "-c", SUBNORMAL_CODE, str(f), repr(CASES)], env=env, check=True)
        results[mode] = dict(np.load(f))
    ref = results["float"]
    subnormal_states = sum(
        int(((v != 0) & (np.abs(v) < 2.0**-126)).sum()) for k, v in ref.items() if not k.endswith("_p")
    )
    assert subnormal_states > 10000  # the data does reach the subnormal range
    for mode in ["safe", "chunk", "auto"]:
        assert results[mode].keys() == ref.keys()
        for k, v in ref.items():
            np.testing.assert_array_equal(results[mode][k].view(np.uint32), v.view(np.uint32), err_msg=f"{mode} {k}")


def test_tiny_mask_reads_the_state_and_checks_its_arguments():
    """_C._optim_tiny_mask (the kernels' verdict on each state element, for tests) leaves the
    counters as they are, and bad arguments raise, naming the optimizer."""
    p, g = ember.ones(4), ember.zeros(4)
    m = ember.from_numpy(np.array([1e-3, 2.0**-125, 0.0, -2.0**-110], np.float32))
    v = ember.from_numpy(np.array([1e-6, 1e-6, 0.0, 1e30], np.float32))
    step = ember.tensor(9.0)
    mask = ember._C._optim_tiny_mask("adam", p, g, [m, v, None], step, None, lr=1e-3)
    assert mask.dtype == ember.bool and mask.tolist() == [False, True, False, True]
    assert step.item() == 9.0
    with pytest.raises(ValueError, match=r"Adam: state 'exp_avg_sq' has shape \(3,\)"):
        ember._C._optim_tiny_mask("adam", p, g, [m, ember.zeros(3), None], step, None)
    with pytest.raises(ValueError, match="SGD: the job of a step needs the momentum buffer"):
        ember._C._optim_tiny_mask("sgd", p, g, [None], None, None, momentum=0.9)
    with pytest.raises(TypeError, match="float32"):
        ember._C._optim_tiny_mask("sgd", p.double(), g.double(), [None], None, None)
    with pytest.raises(ValueError, match="NAdam: state 'mu_product'"):
        ember._C._optim_tiny_mask("nadam", p, g, [m, v], step, None)


def test_subnormal_path_follows_the_environment(monkeypatch):
    """EMBER_OPTIM_SUBNORMAL pins the float32 update's path at each step; unset, the path is what
    the first step calibrated on this CPU (the float kernel, or chunk by chunk)."""
    for value in ["float", "safe", "chunk"]:
        monkeypatch.setenv("EMBER_OPTIM_SUBNORMAL", value)
        assert ember._C._optim_subnormal_path() == value
    monkeypatch.delenv("EMBER_OPTIM_SUBNORMAL", raising=False)
    assert ember._C._optim_subnormal_path() in ("float", "chunk")


STATE_BOUNDS_CODE = """
import ctypes, math, sys, numpy as np, ember
# x86-64 glibc: fenv_t holds the x87 status word at byte 4 and MXCSR at byte 28 (32 bytes).
# MXCSR's flags: bit 1 denormal operand (an SSE/AVX op read a subnormal), bit 4 underflow (a
# result was tiny and inexact).
libm = ctypes.CDLL("libm.so.6")
env = (ctypes.c_uint8 * 32)()

def clear_flags():
    libm.fegetenv(env)
    env[4] = env[5] = 0
    env[28] &= 0xC0  # MXCSR bits 0-5: the sticky exception flags
    libm.fesetenv(env)

def flags():
    libm.fegetenv(env)
    return env[28] & 0x12  # denormal operand, underflow

ember.set_num_threads(1)
rng = np.random.default_rng(5)
n = 1 << 15
MN = 2.0**-122  # 2^-126 with 2^4 to spare, as in optim.cpp

def log_uniform(lo, hi, zero=0.05):
    with np.errstate(under="ignore"):
        x = (2.0 ** rng.uniform(lo, hi, n) * rng.choice([-1, 1], n)).astype(np.float32)
    x[rng.random(n) < zero] = 0
    return x

def exp_field(x):
    return (np.abs(x).view(np.uint32) >> 23).astype(np.int64)

def tiny(x, lim):
    return (np.abs(x) > 0) & (np.abs(x) < lim)

def moment_safe(m, s, b1, b2, k1, c1, e, root=True):
    # the bounds that optim.cpp's MomentLimits derives (see there), in numpy: Adam, NAdam, RAdam
    # (root: the denominator reads sqrt(s)) and Adamax (s is the infinity norm u)
    k = b1 * abs(k1)
    m_lim = MN * max(1, 1 / b1, 1 / (1 - b1), 1 / k, 2 * e / k)
    if root:
        bad = 2 * exp_field(m) - exp_field(s) < math.ceil(-114 - 2 * math.log2(k * c1))
    else:
        bad = exp_field(m) - exp_field(s) < math.ceil(-120 - math.log2(k * c1))
    return ~(tiny(m, m_lim) | ((m != 0) & bad) | tiny(s, MN / b2))

def decay_safe(x, f, scale=0.0):
    # decay_bits: x is multiplied by f, then by scale
    return ~tiny(x, MN * max(1, 1 / f, 1 / (f * scale) if scale > 0 else 1))

def nadam_coef(lr, b1, t, psi=4e-3):
    mu = [b1 * (1 - 0.5 * 0.96 ** (i * psi)) for i in range(1, t + 2)]
    return -lr * mu[t] / (1 - math.prod(mu)), math.prod(mu[:t - 1])  # c2 at step t; mu_product before

def radam_coef(lr, b1, b2, t):
    bc2 = 1 - b2**t
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2**t / bc2
    k1 = lr / (1 - b1**t)
    if rho_t > 5:
        k1 *= min(1.0, math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)))
    return k1, math.sqrt(bc2)

def draw(name, kw, t):
    # (state arrays by key, each with its generic bound, the old one), the mask of elements the
    # bounds call safe; t is the step about to run
    lr, eps = kw["lr"], kw.get("eps", 1e-8 if name != "Adadelta" else 1e-6)
    b1, b2 = kw.get("betas", (0.9, 0.999))
    if name == "SGD":
        buf = log_uniform(-140, -20)
        mom = kw["momentum"]
        return {"momentum_buffer": (buf, 2.0**-50)}, decay_safe(buf, mom * mom if kw.get("nesterov") else mom, lr)
    if name == "RMSprop":
        a, mom = kw.get("alpha", 0.99), kw.get("momentum", 0)
        sq = np.abs(log_uniform(-140, 10))
        centered = kw.get("centered", False)
        st, safe = {"square_avg": (sq, 2.0**-100)}, decay_safe(sq, a * (1 - a) if centered and a < 1 else a)
        if centered:
            ga = (np.sqrt(sq) * rng.uniform(-1, 1, n)).astype(np.float32)  # ga^2 <= sq, as in training
            lim = max(MN, MN / a, MN / (1 - a) if a < 1 else MN, math.sqrt(MN) / a)
            st["grad_avg"], safe = (ga, 2.0**-50), safe & ~tiny(ga, lim)
        if mom:
            buf = log_uniform(-140, -20)
            st["momentum_buffer"], safe = (buf, 2.0**-50), safe & decay_safe(buf, mom, lr)
        return st, safe
    if name == "Adadelta":
        rho = kw.get("rho", 0.9)
        sq, acc = np.abs(log_uniform(-140, 10)), np.abs(log_uniform(-140, -10))
        return ({"square_avg": (sq, 2.0**-100), "acc_delta": (acc, 2.0**-100)},
                decay_safe(sq, rho) & decay_safe(acc, rho))
    m = log_uniform(-140, -20)
    if name == "Adamax":
        u = np.abs(log_uniform(-140, 10))
        return ({"exp_avg": (m, 2.0**-50), "exp_inf": (u, 2.0**-50)},
                moment_safe(m, u, b1, b2, lr / (1 - b1**t), 1, eps, root=False))
    v = np.abs(log_uniform(-140, 10))
    st = {"exp_avg": (m, 2.0**-50), "exp_avg_sq": (v, 2.0**-100)}
    if name == "NAdam":
        k1 = nadam_coef(lr, b1, t)[0]
        return st, moment_safe(m, v, b1, b2, k1, math.sqrt(1 - b2**t), eps)
    if name == "RAdam":
        k1, c1 = radam_coef(lr, b1, b2, t)
        return st, moment_safe(m, v, b1, b2, k1, c1, eps / c1)
    vs = v
    if kw.get("amsgrad"):
        vmax = np.maximum(v, np.abs(log_uniform(-140, 10)))
        st["max_exp_avg_sq"], vs = (vmax, 2.0**-100), vmax
    safe = moment_safe(m, vs, b1, b2, lr / (1 - b1**t), math.sqrt(1 - b2**t), eps)
    return st, safe & ~tiny(v, MN / b2)

cases = [("Adam", dict(lr=1e-3), 0), ("Adam", dict(lr=1e-3), 999), ("Adam", dict(lr=1e-6), 5),
         ("Adam", dict(lr=1.0, betas=(0.5, 0.9), eps=1e-3), 3),
         ("Adam", dict(lr=1e-2, betas=(0.99, 0.9999), eps=0.0, amsgrad=True), 20),
         ("AdamW", dict(lr=1e-3), 100),
         ("SGD", dict(lr=0.1, momentum=0.9), 0), ("SGD", dict(lr=1e-5, momentum=0.5, nesterov=True), 0),
         ("SGD", dict(lr=0.01, momentum=0.99, dampening=0.5), 0),
         ("NAdam", dict(lr=2e-3), 0), ("NAdam", dict(lr=1e-5, betas=(0.5, 0.99)), 300),
         ("RAdam", dict(lr=1e-3), 2), ("RAdam", dict(lr=1e-3), 9), ("RAdam", dict(lr=1e-2), 2000),
         ("Adamax", dict(lr=2e-3), 0), ("Adamax", dict(lr=1e-5, betas=(0.7, 0.9), eps=0.0), 50),
         ("RMSprop", dict(lr=1e-2), 0), ("RMSprop", dict(lr=1e-2, centered=True), 0),
         ("RMSprop", dict(lr=1e-3, alpha=0.5, momentum=0.9, centered=True), 0),
         ("RMSprop", dict(lr=1e-6, momentum=0.3), 0),
         ("Adadelta", dict(lr=1.0), 0), ("Adadelta", dict(lr=1e-3, rho=0.5), 0)]
# what each optimizer passes to its fused update (kind, state keys in kernel order,
# hyperparameters), to ask the kernels' own bounds through _C._optim_tiny_mask
captured = {}
_group = ember._C._optim_group

def _capture(kind, params, state, keys, counters, needs_init, **hyper):
    captured.update(kind=kind, keys=keys, hyper=hyper)
    return _group(kind, params, state, keys, counters, needs_init, **hyper)

ember._C._optim_group = _capture

def optimizer_with(name, kw, t0, st, keep):
    # an optimizer over ones(k) whose state is st's arrays at `keep`, about to run step t0 + 1
    k = int(keep.sum())
    p = ember.nn.Parameter(ember.ones(k))
    opt = getattr(ember.optim, name)([p], **kw)
    p.grad = ember.zeros(k)
    opt.step()  # makes the state, then overwritten
    for key, (a, _) in st.items():
        opt.state[p][key].copy_(ember.from_numpy(a[keep]))
    if name != "SGD":
        opt.state[p]["step"].fill_(t0)
    if name == "NAdam":
        opt.state[p]["mu_product"].fill_(nadam_coef(kw["lr"], kw.get("betas", (0.9,))[0], t0 + 1)[1])
    return p, opt

out = []
for name, kw, t0 in cases:
    st, safe = draw(name, kw, t0 + 1)
    # the kernels' bounds (tiny_at) call tiny exactly the states that the mirror above does
    p, opt = optimizer_with(name, kw, t0, st, np.ones(n, bool))
    s = opt.state[p]
    kernel_tiny = ember._C._optim_tiny_mask(
        captured["kind"], p, p.grad, [s.get(key) if key else None for key in captured["keys"]],
        s.get("step"), s.get("mu_product"), **captured["hyper"]).numpy()
    assert (kernel_tiny == ~safe).all(), (name, t0, int((kernel_tiny != ~safe).sum()))
    # one step of the states called safe, on the float kernel
    k = int(safe.sum())
    p, opt = optimizer_with(name, kw, t0, st, safe)
    old_tiny = sum(int(tiny(a[safe], old).sum()) for a, old in st.values())
    clear_flags()
    opt.step()
    f = flags()
    new = [p.detach().numpy()] + [opt.state[p][key].numpy() for key in st]
    sub = sum(int(((a != 0) & (np.abs(a) < 2.0**-126)).sum()) for a in new)
    out.append((name, t0, k, old_tiny, f, sub))
# the check can fail: a subnormal state, run on the float kernel, raises the denormal flag
p = ember.nn.Parameter(ember.ones(64))
opt = ember.optim.SGD([p], lr=0.1, momentum=0.9)
p.grad = ember.zeros(64)
opt.step()
opt.state[p]["momentum_buffer"].fill_(2.0**-140)
clear_flags()
opt.step()
out.append(("control", 0, 64, 64, flags(), 0))
print(repr(out))
"""


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64") or sys.platform != "linux",
                    reason="reads MXCSR through glibc's x86-64 fenv_t")
@pytest.mark.parametrize("isa", ["native", "avx2", "base"])
def test_state_bounds_keep_the_float_kernel_off_subnormals(isa):
    """Every optimizer but Adagrad sends a chunk to SafeF by bounds derived from its
    hyperparameters (optim.cpp: MomentLimits, decay_bits, rms_ga_bits), far below the generic 2^-50
    (2^-100 for sums of squares). States are drawn over 2^-140 .. 2^10 (dead units: gradient 0).
    The kernels' verdict per element (_C._optim_tiny_mask) must equal the bounds' mirror in numpy
    here. Kept where those bounds call them safe, the states go through one step on the float
    kernel (EMBER_OPTIM_SUBNORMAL=float), which must read and make no subnormal: MXCSR's
    denormal-operand and underflow flags stay clear, and nothing stored is subnormal. Many of those
    states are below the generic bounds, so those would have sent them to SafeF."""
    import os
    import subprocess

    env = dict(os.environ, EMBER_OPTIM_SUBNORMAL="float")
    if isa != "native":
        env["EMBER_ISA"] = isa
    res = subprocess.run([sys.executable, "-c", STATE_BOUNDS_CODE], env=env, capture_output=True,
                         text=True, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = eval(res.stdout.strip().splitlines()[-1])
    *cases, control = rows
    assert control[4] & 0x02, "a subnormal momentum buffer must raise the denormal flag"
    for name, t0, k, old_tiny, f, sub in cases:
        assert k > 5000 and old_tiny > 1000, (name, t0, k, old_tiny)
        assert f == 0, f"{name} (step {t0}): MXCSR flags {f:#x} on states within the bounds"
        assert sub == 0, (name, t0, sub)


@pytest.mark.parametrize("name,kw", [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("Adam", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5}),
    ("Adagrad", {"lr": 0.05}),
])
def test_no_weight_decay_uses_the_gradient_as_is(name, kw):
    """Without weight decay or maximize torch uses p.grad untouched: an infinite parameter stays
    infinite (no 0 * inf NaN) and a -0 gradient keeps its sign in the state, bit for bit."""
    p = np.array([1.0, np.inf, -np.inf, -0.0, 0.0, 2.0, -3.0], np.float32)
    g = np.array([-0.0, 1.0, -1.0, -0.0, 0.0, 0.5, -0.0], np.float32)
    pe = ember.nn.Parameter(ember.from_numpy(p.copy()))
    pt = torch.nn.Parameter(torch.from_numpy(p.copy()))
    oe, ot = getattr(ember.optim, name)([pe], **kw), getattr(torch.optim, name)([pt], **kw)
    for _ in range(3):
        pe.grad, pt.grad = ember.from_numpy(g.copy()), torch.from_numpy(g.copy())
        oe.step()
        ot.step()
    got, want = pe.detach().numpy(), pt.detach().numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
    for k, v in ot.state[pt].items():
        if isinstance(v, torch.Tensor) and v.ndim == 1:
            e = oe.state[pe][k].detach().numpy()
            np.testing.assert_array_equal(e, v.numpy(), err_msg=k)
            np.testing.assert_array_equal(np.signbit(e), np.signbit(v.numpy()), err_msg=k)


@pytest.mark.parametrize("name,kw", [("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.01}),
                                     ("RMSprop", {"lr": 0.005, "centered": True})])
def test_two_threads_balance_pieces_bit_for_bit(name, kw, monkeypatch):
    """At 2 threads the update runs in pieces taken at run time: each thread starts on its half of
    every parameter, then takes the untaken pieces of the other. Parameters of ~160k elements whose
    first rows get tiny gradients (2^-135 .. 2^-100: a tiny or subnormal state, updated on SafeF,
    ~5x dearer, by chunks: EMBER_OPTIM_SUBNORMAL=chunk) make thread 0 the slow one, so thread 1
    takes some of its pieces. Every element must be updated exactly once, as at 1 thread:
    parameters and state equal bit for bit."""
    monkeypatch.setenv("EMBER_OPTIM_SUBNORMAL", "chunk")
    rng = np.random.default_rng(3)
    shapes = [(300, 301), (7,), (129, 65), (250, 211)]
    init = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[(rng.standard_normal(s) * 1e-2).astype(np.float32) for s in shapes] for _ in range(8)]

    def tiny_grads(shape):
        with np.errstate(under="ignore"):
            return (rng.standard_normal(shape) * 2.0 ** rng.integers(-135, -100, shape)).astype(np.float32)

    for gs in grads:
        gs[0][:250] = tiny_grads((250, 301))  # most of the first parameter
        gs[2][:40] = tiny_grads((40, 65))

    def run(threads):
        old = ember.get_num_threads()
        ember.set_num_threads(threads)
        try:
            ps = [ember.nn.Parameter(ember.from_numpy(a.copy())) for a in init]
            opt = getattr(ember.optim, name)(ps, **kw)
            for gs in grads:
                for p, g in zip(ps, gs):
                    p.grad = ember.from_numpy(g.copy())
                opt.step()
            out = [p.detach().numpy().copy() for p in ps]
            for p in ps:
                out += [v.numpy().copy() for v in opt.state[p].values() if hasattr(v, "numpy") and v.dim() > 0]
            return out
        finally:
            ember.set_num_threads(old)

    one, two = run(1), run(2)
    assert len(one) == len(two) > len(shapes)
    tiny = sum(int(((v != 0) & (np.abs(v) < 2.0**-50)).sum()) for v in one[len(shapes):])
    assert tiny > 50000  # the state is tiny where the gradients are
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))

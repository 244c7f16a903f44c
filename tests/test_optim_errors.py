"""ember.optim validation errors: every invalid hyperparameter, parameter list and state_dict
raises what torch raises (type and message); the fused kernels' argument checks."""

import ember
import numpy as np
import pytest
import torch
from ember import _C


def _torch_error(fn_t):
    with pytest.raises(Exception) as info:
        fn_t()
    return type(info.value), str(info.value)


BAD = [
    ("SGD", {"lr": -0.1}),
    ("SGD", {"momentum": -1}),
    ("SGD", {"weight_decay": -1}),
    ("SGD", {"nesterov": True}),
    ("SGD", {"nesterov": True, "momentum": 0.9, "dampening": 0.1}),
    ("Adam", {"lr": -1}),
    ("Adam", {"eps": -1}),
    ("Adam", {"betas": (1.0, 0.9)}),
    ("Adam", {"betas": (0.9, -0.1)}),
    ("Adam", {"weight_decay": -1}),
    ("AdamW", {"betas": (0.9, 1.0)}),
    ("Adagrad", {"lr": -1}),
    ("Adagrad", {"lr_decay": -1}),
    ("Adagrad", {"weight_decay": -1}),
    ("Adagrad", {"initial_accumulator_value": -1}),
    ("Adagrad", {"eps": -1}),
    ("RMSprop", {"lr": -1}),
    ("RMSprop", {"eps": -1}),
    ("RMSprop", {"momentum": -1}),
    ("RMSprop", {"weight_decay": -1}),
    ("RMSprop", {"alpha": -1}),
    ("Adadelta", {"lr": -1}),
    ("Adadelta", {"rho": 1.5}),
    ("Adadelta", {"eps": -1}),
    ("Adadelta", {"weight_decay": -1}),
    ("Adamax", {"lr": -1}),
    ("Adamax", {"eps": -1}),
    ("Adamax", {"betas": (-0.1, 0.9)}),
    ("Adamax", {"weight_decay": -1}),
    ("NAdam", {"lr": -1}),
    ("NAdam", {"eps": -1}),
    ("NAdam", {"betas": (0.9, 1.5)}),
    ("NAdam", {"weight_decay": -1}),
    ("NAdam", {"momentum_decay": -1}),
    ("RAdam", {"lr": -1}),
    ("RAdam", {"eps": -1}),
    ("RAdam", {"betas": (1.0, 0.9)}),
    ("RAdam", {"weight_decay": -1}),
]


@pytest.mark.parametrize("name,kw", BAD)
def test_invalid_hyperparameters_like_torch(name, kw):
    kind, msg = _torch_error(
        lambda: getattr(torch.optim, name)([torch.nn.Parameter(torch.ones(1))], **kw)
    )
    with pytest.raises(kind) as info:
        getattr(ember.optim, name)([ember.nn.Parameter(ember.ones(1))], **kw)
    assert str(info.value) == msg


def test_param_list_errors_like_torch():
    def both(make_e, make_t):
        kind, msg = _torch_error(make_t)
        with pytest.raises(kind) as info:
            make_e()
        assert str(info.value) == msg

    pe, pt = ember.nn.Parameter(ember.ones(2)), torch.nn.Parameter(torch.ones(2))
    qe, qt = ember.nn.Parameter(ember.ones(2)), torch.nn.Parameter(torch.ones(2))
    both(lambda: ember.optim.SGD([]), lambda: torch.optim.SGD([]))
    both(
        lambda: ember.optim.SGD([{"params": [pe]}, {"params": [qe, pe]}]),
        lambda: torch.optim.SGD([{"params": [pt]}, {"params": [qt, pt]}]),
    )
    both(lambda: ember.optim.Adam([pe * 2]), lambda: torch.optim.Adam([pt * 2]))
    both(lambda: ember.optim.Adam([{"params": {pe}}]), lambda: torch.optim.Adam([{"params": {pt}}]))
    both(lambda: ember.optim.Adam([pe, 1.0]), lambda: torch.optim.Adam([pt, 1.0]))
    both(
        lambda: ember.optim.Adam([{"params": [pe]}, {"params": [("q", qe)]}]),
        lambda: torch.optim.Adam([{"params": [pt]}, {"params": [("q", qt)]}]),
    )
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        ember.optim.SGD(pe)
    oe, ot = ember.optim.Adam([pe]), torch.optim.Adam([pt])
    both(lambda: oe.add_param_group([qe]), lambda: ot.add_param_group([qt]))
    both(lambda: oe.add_param_group({"params": pe}), lambda: ot.add_param_group({"params": pt}))
    oe.add_param_group({"params": qe, "lr": 0.5})
    ot.add_param_group({"params": qt, "lr": 0.5})
    assert oe.param_groups[1]["lr"] == 0.5 and oe.param_groups[1]["betas"] == (0.9, 0.999)
    one_e, one_t = ember.optim.Adam([pe]), torch.optim.Adam([pt])
    both(
        lambda: one_e.load_state_dict(oe.state_dict()),
        lambda: one_t.load_state_dict(ot.state_dict()),
    )
    two_e = ember.optim.Adam(
        [{"params": [pe]}, {"params": [qe, ember.nn.Parameter(ember.ones(1))]}]
    )
    two_t = torch.optim.Adam(
        [{"params": [pt]}, {"params": [qt, torch.nn.Parameter(torch.ones(1))]}]
    )
    both(
        lambda: two_e.load_state_dict(oe.state_dict()),
        lambda: two_t.load_state_dict(ot.state_dict()),
    )
    with pytest.raises(NotImplementedError, match="differentiable"):
        ember.optim.SGD([pe], differentiable=True)
    with pytest.raises(NotImplementedError, match="capturable"):
        ember.optim.Adam([pe], capturable=True)
    assert "Parameter Group 0" in repr(oe) and "betas: (0.9, 0.999)" in repr(oe)


ADAM = {
    "lr": 0.1,
    "beta1": 0.9,
    "beta2": 0.999,
    "weight_decay": 0,
    "eps": 1e-8,
    "amsgrad": False,
    "maximize": False,
    "decoupled_weight_decay": False,
}
SGD = {
    "lr": 0.1,
    "momentum": 0.0,
    "dampening": 0.0,
    "weight_decay": 0.0,
    "nesterov": False,
    "maximize": False,
}


def test_kernel_argument_errors():
    p = ember.nn.Parameter(ember.ones(4))
    g = ember.ones(4)
    step = _C.zeros(())
    steps = _C._optim_steps
    with pytest.raises(ValueError, match="state 'exp_avg' has shape"):
        steps("adam", [p], [g], [[ember.zeros(3), ember.zeros(4), None]], [step], [], **ADAM)
    with pytest.raises(ValueError, match="missing state 'max_exp_avg_sq'"):
        steps(
            "adam",
            [p],
            [g],
            [[ember.zeros(4), ember.zeros(4), None]],
            [step],
            [],
            **{**ADAM, "amsgrad": True},
        )
    with pytest.raises(ValueError, match="gradient has shape"):
        steps("sgd", [p], [ember.ones(5)], [[None]], [], [], **SGD)
    with pytest.raises(TypeError, match="gradient has dtype"):
        steps("sgd", [p], [ember.ones(4).double()], [[None]], [], [], **SGD)
    with pytest.raises(TypeError, match="floating-point"):
        steps("sgd", [ember.ones(4).long()], [ember.ones(4).long()], [[None]], [], [], **SGD)
    with pytest.raises(ValueError, match="'step' must be a 1-element tensor"):
        steps("adagrad", [p], [g], [[ember.zeros(4)]], [ember.zeros(2)], [], lr=0.1, eps=1e-10)
    with pytest.raises(ValueError, match="got 1 parameters but 2 gradients"):
        steps("sgd", [p], [g, g], [[None]], [], [], **SGD)
    with pytest.raises(ValueError, match="got 1 parameters but 0 step counters"):
        steps("adam", [p], [g], [[ember.zeros(4), ember.zeros(4), None]], [], [], **ADAM)
    with pytest.raises(TypeError, match="unexpected hyperparameter 'betas'"):
        steps(
            "adam",
            [p],
            [g],
            [[ember.zeros(4), ember.zeros(4), None]],
            [step],
            [],
            betas=(0.9, 0.99),
        )
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        steps("lion", [p], [g], [[]], [step], [])
    np.testing.assert_array_equal(p.detach().numpy(), np.ones(4))  # nothing was written
    assert step.item() == 0


def test_group_step_checks_every_parameter_before_writing():
    # A bad third parameter: the first two are not updated and no step counter advances (torch's
    # per-parameter loop would have updated the first two before raising).
    ps = [ember.nn.Parameter(ember.ones(n)) for n in (3, 70000, 5)]
    for p in ps:
        p.grad = ember.ones(p.shape)
    opt = ember.optim.Adam(ps, lr=0.1)
    opt.step()
    before = [p.detach().numpy().copy() for p in ps]
    good = opt.state[ps[2]]["exp_avg"]
    opt.state[ps[2]]["exp_avg"] = ember.zeros(4)
    with pytest.raises(
        ValueError,
        match=r"Adam: state 'exp_avg' has shape \(4,\) but the parameter has shape \(5,\)",
    ):
        opt.step()
    for p, b in zip(ps, before):
        np.testing.assert_array_equal(p.detach().numpy(), b)
    assert all(opt.state[p]["step"].item() == 1 for p in ps)
    opt.state[ps[2]]["exp_avg"] = good
    opt.step()
    assert all(opt.state[p]["step"].item() == 2 for p in ps)
    assert all((p.detach().numpy() < b).all() for p, b in zip(ps, before))


GROUP_CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("AdamW", {"lr": 0.01}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
    ("Adadelta", {"lr": 0.5}),
    ("Adamax", {"lr": 0.01}),
    ("NAdam", {"lr": 0.01, "decoupled_weight_decay": True, "weight_decay": 0.1}),
    ("RAdam", {"lr": 0.01}),
]


@pytest.mark.parametrize("name,kw", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_group_step_equals_one_parameter_at_a_time(name, kw):
    # One call updates the whole group, threads splitting the elements of all parameters evenly
    # (sizes across the 32768-element grain, empty, 1-element, non-contiguous, float64 beside
    # float32): bit for bit what one optimizer per parameter gives.
    rng = np.random.default_rng(0)
    shapes = [(70001,), (0,), (1,), (5, 3), (40000,), (7, 9)]
    dtypes = [np.float32, np.float32, np.float32, np.float32, np.float64, np.float32]
    init = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]

    def params():
        ps = [ember.nn.Parameter(ember.tensor(a)) for a in init]
        ps[3] = ember.nn.Parameter(ember.tensor(init[3].T.copy()).t())  # non-contiguous (5, 3)
        return ps

    group, single = params(), params()
    assert not group[3].is_contiguous()
    opt = getattr(ember.optim, name)(group, **kw)
    opts = [getattr(ember.optim, name)([p], **kw) for p in single]
    old = ember.get_num_threads()
    try:
        ember.set_num_threads(2)
        for step in range(3):
            grads = [rng.standard_normal(s).astype(d) for s, d in zip(shapes, dtypes)]
            for ps in (group, single):
                for p, g in zip(ps, grads):
                    p.grad = ember.tensor(g)
            opt.step()
            for o in opts:
                o.step()
    finally:
        ember.set_num_threads(old)
    for a, b in zip(group, single):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    assert not np.array_equal(group[0].detach().numpy(), init[0])


def test_group_step_with_a_repeated_parameter_updates_it_twice_in_order():
    # The same tensor twice in one call (torch warns about duplicate parameters, then its loop
    # updates twice): overlapping memory is updated one parameter after another.
    kw = {
        "lr": 0.1,
        "momentum": 0.9,
        "dampening": 0.0,
        "weight_decay": 0.0,
        "nesterov": False,
        "maximize": False,
    }
    p, q = ember.ones(50000), ember.ones(50000)
    g = ember.full((50000,), 0.5)
    out = _C._optim_steps("sgd", [p, p], [g, g], [[None], [None]], [], [], **kw)
    for _ in range(2):
        _C._optim_steps("sgd", [q], [g], [[None]], [], [], **kw)
    np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert out[0][0] is not out[1][0]
    views, r = ember.ones(50000), ember.ones(50000)  # overlapping views: also one after the other
    _C._optim_steps(
        "sgd", [views[::2], views[:100]], [g[:25000], g[:100]], [[None], [None]], [], [], **kw
    )
    _C._optim_steps("sgd", [r[::2]], [g[:25000]], [[None]], [], [], **kw)
    _C._optim_steps("sgd", [r[:100]], [g[:100]], [[None]], [], [], **kw)
    np.testing.assert_array_equal(views.numpy(), r.numpy())
    assert views[0].item() == pytest.approx(0.9) and views[1].item() == pytest.approx(0.95)
    p, q = ember.ones(100), ember.ones(100)  # q's gradient is p: read after p's update
    _C._optim_steps(
        "sgd", [p, q], [g[:100], p], [[None], [None]], [], [], **{**kw, "momentum": 0.0}
    )
    np.testing.assert_allclose(q.numpy(), np.full(100, 1 - 0.1 * 0.95, np.float32), rtol=1e-6)

"""ember.optim.lr_scheduler against torch.optim.lr_scheduler: the same learning rates (and cycled
momenta / betas) step for step, with two param groups; state_dict save/load mid-run; the closed
forms of step(epoch); warnings and validation errors."""

import copy

import ember
import pytest
import torch
from ember.optim import lr_scheduler as ELR
from torch.optim import lr_scheduler as TLR


def _optims(opt="SGD", **kw):
    pe = [ember.nn.Parameter(ember.zeros(2)) for _ in range(2)]
    pt = [torch.nn.Parameter(torch.zeros(2)) for _ in range(2)]
    ge = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(pe)]
    gt = [{"params": [p], "lr": 0.1 * (i + 1)} for i, p in enumerate(pt)]
    return getattr(ember.optim, opt)(ge, **kw), getattr(torch.optim, opt)(gt, **kw)


def _half(e):
    return 0.5 ** (e // 2)


class Scale:  # a callable object: its __dict__ goes into the state_dict
    def __init__(self, f):
        self.f = f

    def __call__(self, e):
        return self.f**e


CASES = [
    ("LambdaLR", "SGD", {}, lambda: {"lr_lambda": lambda e: 0.95**e}),
    ("LambdaLR", "SGD", {}, lambda: {"lr_lambda": [_half, Scale(0.9)]}),
    ("MultiplicativeLR", "SGD", {}, lambda: {"lr_lambda": lambda e: 0.9}),
    ("StepLR", "SGD", {}, lambda: {"step_size": 3, "gamma": 0.5}),
    ("MultiStepLR", "SGD", {}, lambda: {"milestones": [2, 5, 5, 9], "gamma": 0.3}),
    ("ConstantLR", "SGD", {}, lambda: {"factor": 0.25, "total_iters": 4}),
    ("LinearLR", "SGD", {}, lambda: {"start_factor": 0.2, "end_factor": 0.9, "total_iters": 6}),
    ("ExponentialLR", "SGD", {}, lambda: {"gamma": 0.9}),
    ("PolynomialLR", "SGD", {}, lambda: {"total_iters": 8, "power": 2.0}),
    ("CosineAnnealingLR", "SGD", {}, lambda: {"T_max": 7, "eta_min": 0.001}),
    ("CosineAnnealingWarmRestarts", "SGD", {}, lambda: {"T_0": 3, "T_mult": 2, "eta_min": 0.01}),
    ("CosineAnnealingWarmRestarts", "SGD", {}, lambda: {"T_0": 4}),
    (
        "CyclicLR",
        "SGD",
        {"momentum": 0.9},
        lambda: {"base_lr": 0.01, "max_lr": [0.1, 0.2], "step_size_up": 3, "step_size_down": 5},
    ),
    (
        "CyclicLR",
        "SGD",
        {"momentum": 0.9},
        lambda: {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 2, "mode": "triangular2"},
    ),
    (
        "CyclicLR",
        "Adam",
        {},
        lambda: {
            "base_lr": 0.001,
            "max_lr": 0.01,
            "step_size_up": 4,
            "mode": "exp_range",
            "gamma": 0.9,
        },
    ),
    (
        "CyclicLR",
        "SGD",
        {},
        lambda: {
            "base_lr": 0.01,
            "max_lr": 0.1,
            "step_size_up": 3,
            "cycle_momentum": False,
            "scale_fn": Scale(0.8),
            "scale_mode": "iterations",
        },
    ),
    ("OneCycleLR", "SGD", {"momentum": 0.9}, lambda: {"max_lr": 0.5, "total_steps": 30}),
    (
        "OneCycleLR",
        "Adam",
        {},
        lambda: {
            "max_lr": [0.5, 0.2],
            "epochs": 3,
            "steps_per_epoch": 10,
            "pct_start": 0.25,
            "anneal_strategy": "linear",
            "three_phase": True,
        },
    ),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CASES)]


def _check(oe, ot, se, st):
    assert se.get_last_lr() == st.get_last_lr()
    for ge, gt in zip(oe.param_groups, ot.param_groups):
        assert ge["lr"] == gt["lr"]
        for k in ("momentum", "betas"):
            if k in gt:
                assert ge[k] == gt[k]


def _step(oe, ot, se, st, n):
    for _ in range(n):
        oe.step()
        ot.step()
        se.step()
        st.step()
        _check(oe, ot, se, st)


@pytest.mark.parametrize("name,opt,okw,skw", CASES, ids=IDS)
def test_schedule_matches_torch(name, opt, okw, skw):
    oe, ot = _optims(opt, **okw)
    se, st = getattr(ELR, name)(oe, **skw()), getattr(TLR, name)(ot, **skw())
    _check(oe, ot, se, st)
    _step(oe, ot, se, st, 25)
    assert se.last_epoch == st.last_epoch


@pytest.mark.parametrize("name,opt,okw,skw", CASES, ids=IDS)
def test_state_dict_resume(name, opt, okw, skw):
    oe, ot = _optims(opt, **okw)
    se, st = getattr(ELR, name)(oe, **skw()), getattr(TLR, name)(ot, **skw())
    _step(oe, ot, se, st, 9)
    sd_e, sd_t = copy.deepcopy(se.state_dict()), copy.deepcopy(st.state_dict())
    assert set(sd_e) == set(sd_t)
    for k in sd_t:
        if k not in ("lr_lambdas", "_scale_fn_custom", "_scale_fn_ref"):
            assert sd_e[k] == sd_t[k], k
    opt_sd = copy.deepcopy(oe.state_dict())
    _step(oe, ot, se, st, 9)
    # resume: new optimizer and scheduler, load the scheduler then the optimizer (torch's order)
    oe2, _ = _optims(opt, **okw)
    se2 = getattr(ELR, name)(oe2, **skw())
    se2.load_state_dict(sd_e)
    oe2.load_state_dict(opt_sd)
    _step(oe2, ot, se2, st, 0)
    for _ in range(9):
        oe2.step()
        se2.step()
    assert se2.get_last_lr() == se.get_last_lr()
    assert [g["lr"] for g in oe2.param_groups] == [g["lr"] for g in oe.param_groups]


@pytest.mark.parametrize(
    "name,skw",
    [
        ("StepLR", {"step_size": 3, "gamma": 0.5}),
        ("MultiStepLR", {"milestones": [2, 5], "gamma": 0.3}),
        ("ConstantLR", {"factor": 0.5, "total_iters": 4}),
        ("LinearLR", {"start_factor": 0.5, "total_iters": 4}),
        ("ExponentialLR", {"gamma": 0.9}),
        ("PolynomialLR", {"total_iters": 6}),
        ("CosineAnnealingLR", {"T_max": 5}),
        ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2}),
    ],
)
def test_step_with_epoch_closed_form(name, skw):
    oe, ot = _optims()
    se, st = getattr(ELR, name)(oe, **skw), getattr(TLR, name)(ot, **skw)
    oe.step()
    ot.step()
    if name == "CosineAnnealingWarmRestarts":  # fractional epochs, and no deprecation warning
        for epoch in [3, 7, 2, 10, 4.5, 0.25]:
            se.step(epoch)
            st.step(epoch)
            _check(oe, ot, se, st)
        return
    for epoch in [3, 7, 2, 10]:
        with pytest.warns(UserWarning, match="epoch parameter"):
            se.step(epoch)
        with pytest.warns(UserWarning, match="epoch parameter"):
            st.step(epoch)
        _check(oe, ot, se, st)


def test_sequential_and_chained():
    oe, ot = _optims()

    def make(L, o):
        return L.SequentialLR(
            o,
            [
                L.LinearLR(o, start_factor=0.1, total_iters=3),
                L.ExponentialLR(o, 0.9),
                L.CosineAnnealingLR(o, T_max=4),
            ],
            milestones=[3, 8],
        )

    se, st = make(ELR, oe), make(TLR, ot)
    _check(oe, ot, se, st)
    _step(oe, ot, se, st, 15)
    sd = copy.deepcopy(se.state_dict())
    assert len(sd["_schedulers"]) == 3 and sd["_milestones"] == [3, 8]
    oe, ot = _optims()

    def chain(L, o):
        return L.ChainedScheduler(
            [L.ConstantLR(o, factor=0.5, total_iters=4), L.ExponentialLR(o, 0.9)]
        )

    ce, ct = chain(ELR, oe), chain(TLR, ot)
    _check(oe, ot, ce, ct)
    _step(oe, ot, ce, ct, 10)
    ce2 = chain(ELR, oe)
    ce2.load_state_dict(copy.deepcopy(ce.state_dict()))
    assert ce2._schedulers[1].last_epoch == ce._schedulers[1].last_epoch


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"mode": "max", "factor": 0.5, "patience": 2, "cooldown": 1},
        {"threshold_mode": "abs", "threshold": 0.05, "patience": 1, "min_lr": [0.02, 0.05]},
        {"mode": "max", "threshold_mode": "abs", "patience": 0, "eps": 0.05},
    ],
)
def test_reduce_lr_on_plateau(kw):
    oe, ot = _optims()
    se, st = ELR.ReduceLROnPlateau(oe, **kw), TLR.ReduceLROnPlateau(ot, **kw)
    metrics = [
        1.0,
        0.9,
        0.9,
        0.95,
        0.91,
        0.9,
        0.89,
        0.95,
        1.0,
        1.0,
        1.0,
        0.5,
        0.6,
        0.7,
        0.8,
        0.8,
    ] * 2
    for i, m in enumerate(metrics):
        se.step(m if i % 2 else ember.full((), m, dtype=ember.float64))
        st.step(m)
        _check(oe, ot, se, st)
        assert se.num_bad_epochs == st.num_bad_epochs and se.best == st.best
    se2 = ELR.ReduceLROnPlateau(oe, **kw)
    se2.load_state_dict(copy.deepcopy(se.state_dict()))
    assert se2.best == se.best and se2.mode == se.mode


def test_warnings_like_torch():
    oe, _ = _optims()
    se = ELR.StepLR(oe, 2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        se.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        se.get_lr()
    oe.step()
    se.step()  # no warning once the optimizer has stepped


def _err(make_e, make_t):
    with pytest.raises(Exception) as ti:
        make_t()
    with pytest.raises(type(ti.value)) as ei:
        make_e()
    assert str(ei.value) == str(ti.value)


@pytest.mark.parametrize(
    "name,kw",
    [
        ("ConstantLR", {"factor": 1.5}),
        ("LinearLR", {"start_factor": 0}),
        ("LinearLR", {"end_factor": 2}),
        ("LambdaLR", {"lr_lambda": [lambda e: 1.0]}),
        ("MultiplicativeLR", {"lr_lambda": [1, 2]}),
        ("CosineAnnealingWarmRestarts", {"T_0": 0}),
        ("CosineAnnealingWarmRestarts", {"T_0": 2, "T_mult": 0}),
        ("CosineAnnealingWarmRestarts", {"T_0": 2, "eta_min": "x"}),
        ("CyclicLR", {"base_lr": 0.1, "max_lr": 1.0, "mode": "nope"}),
        ("CyclicLR", {"base_lr": [0.1], "max_lr": 1.0}),
        ("OneCycleLR", {"max_lr": 1.0}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 0}),
        ("OneCycleLR", {"max_lr": 1.0, "epochs": 0, "steps_per_epoch": 2}),
        ("OneCycleLR", {"max_lr": 1.0, "epochs": 2, "steps_per_epoch": -1}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "pct_start": 1.5}),
        ("OneCycleLR", {"max_lr": 1.0, "total_steps": 10, "anneal_strategy": "cubic"}),
        ("ReduceLROnPlateau", {"factor": 1.0}),
        ("ReduceLROnPlateau", {"mode": "avg"}),
        ("ReduceLROnPlateau", {"threshold_mode": "pct"}),
        ("ReduceLROnPlateau", {"min_lr": [0.1]}),
        ("StepLR", {"step_size": 2, "last_epoch": 3}),
    ],
)
def test_scheduler_errors_like_torch(name, kw):
    oe, ot = _optims()
    _err(lambda: getattr(ELR, name)(oe, **kw), lambda: getattr(TLR, name)(ot, **kw))


def test_composite_and_misc_errors_like_torch():
    oe, ot = _optims()
    pe, pt = ember.nn.Parameter(ember.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    _err(lambda: ELR.StepLR(pe, 2), lambda: TLR.StepLR(pt, 2))
    _err(lambda: ELR.SequentialLR(oe, [], []), lambda: TLR.SequentialLR(ot, [], []))
    _err(
        lambda: ELR.SequentialLR(oe, [ELR.StepLR(oe, 2)], [3]),
        lambda: TLR.SequentialLR(ot, [TLR.StepLR(ot, 2)], [3]),
    )
    _err(
        lambda: ELR.ChainedScheduler([ELR.ReduceLROnPlateau(oe)]),
        lambda: TLR.ChainedScheduler([TLR.ReduceLROnPlateau(ot)]),
    )
    _err(lambda: ELR.ChainedScheduler([]), lambda: TLR.ChainedScheduler([]))
    se, st = ELR.CyclicLR(oe, 0.1, 1.0), None
    with pytest.raises(ValueError, match="optimizer must support momentum"):
        ELR.CyclicLR(ember.optim.Adagrad([pe]), 0.1, 1.0)
    oe, ot = _optims()
    se, st = ELR.OneCycleLR(oe, 1.0, total_steps=3), TLR.OneCycleLR(ot, 1.0, total_steps=3)
    _step(oe, ot, se, st, 3)
    _err(lambda: (oe.step(), se.step()), lambda: (ot.step(), st.step()))
    assert isinstance(se, ELR.LRScheduler)

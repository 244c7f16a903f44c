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


def test_kernel_argument_errors():
    p = ember.nn.Parameter(ember.ones(4))
    g = ember.ones(4)
    step = _C.zeros(())
    with pytest.raises(ValueError, match="state 'exp_avg' has shape"):
        _C._adam_step(
            p,
            g,
            ember.zeros(3),
            ember.zeros(4),
            None,
            step,
            0.1,
            0.9,
            0.999,
            0,
            1e-8,
            False,
            False,
            False,
        )
    with pytest.raises(ValueError, match="missing state 'max_exp_avg_sq'"):
        _C._adam_step(
            p,
            g,
            ember.zeros(4),
            ember.zeros(4),
            None,
            step,
            0.1,
            0.9,
            0.999,
            0,
            1e-8,
            True,
            False,
            False,
        )
    with pytest.raises(ValueError, match="gradient has shape"):
        _C._sgd_step(p, ember.ones(5), None, 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(TypeError, match="gradient has dtype"):
        _C._sgd_step(p, ember.ones(4).double(), None, 0.1, 0.0, 0.0, 0.0, False, False)
    with pytest.raises(TypeError, match="floating-point"):
        _C._sgd_step(
            ember.ones(4).long(), ember.ones(4).long(), None, 0.1, 0.0, 0.0, 0.0, False, False
        )
    with pytest.raises(ValueError, match="'step' must be a 1-element tensor"):
        _C._adagrad_step(p, g, ember.zeros(4), ember.zeros(2), 0.1, 0, 0, 1e-10, False)
    np.testing.assert_array_equal(p.detach().numpy(), np.ones(4))  # nothing was written

"""ember.nn.utils: gradient clipping and parameter/vector conversion against torch.nn.utils;
the L1/L2 penalty helpers (values, gradients, exclusions) and weight-decay groups."""

import math

import ember
import numpy as np
import pytest
import torch
from ember.nn import utils as EU
from torch.nn import utils as TU

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]


def _params(seed=0, scale=1.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    vals = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [(scale * rng.standard_normal(s)).astype(dtype) for s in SHAPES]
    pe = [ember.nn.Parameter(ember.from_numpy(np.array(v))) for v in vals]
    pt = [torch.nn.Parameter(torch.from_numpy(np.array(v))) for v in vals]
    for p, g in zip(pe, grads):
        p.grad = ember.from_numpy(np.array(g))
    for p, g in zip(pt, grads):
        p.grad = torch.from_numpy(np.array(g))
    return pe, pt


def _same_grads(pe, pt, rtol=1.3e-6, atol=1e-5):
    for a, b in zip(pe, pt):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol)


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, math.inf, 0, -math.inf])
@pytest.mark.parametrize("max_norm,scale", [(0.5, 1.0), (100.0, 1.0), (1.0, 1e-3)])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, scale):
    pe, pt = _params(scale=scale)
    ne = EU.clip_grad_norm_(pe, max_norm, norm_type)
    nt = TU.clip_grad_norm_(pt, max_norm, norm_type)
    assert isinstance(ne, ember.Tensor) and ne.dim() == 0
    np.testing.assert_allclose(ne.numpy(), nt.numpy(), rtol=1.3e-6)
    _same_grads(pe, pt)
    assert ember.is_grad_enabled()


def test_clip_grad_norm_variants():
    pe, pt = _params(dtype=np.float64)
    np.testing.assert_allclose(
        EU.clip_grad_norm_(pe[0], 0.1).numpy(), TU.clip_grad_norm_(pt[0], 0.1).numpy()
    )
    _same_grads(pe, pt, rtol=1e-12, atol=0)
    pe[1].grad = None  # parameters without gradient are skipped
    pt[1].grad = None
    np.testing.assert_allclose(
        EU.clip_grad_norm_(iter(pe), 0.05).numpy(), TU.clip_grad_norm_(iter(pt), 0.05).numpy()
    )
    _same_grads(
        [p for p in pe if p.grad is not None], [p for p in pt if p.grad is not None], 1e-12, 0
    )
    total = EU.get_total_norm([p.grad for p in pe if p.grad is not None])
    EU.clip_grads_with_norm_(pe, 0.01, total)
    TU.clip_grads_with_norm_(
        pt, 0.01, TU.get_total_norm([p.grad for p in pt if p.grad is not None])
    )
    _same_grads(
        [p for p in pe if p.grad is not None], [p for p in pt if p.grad is not None], 1e-12, 0
    )
    assert EU.clip_grad_norm_([], 1.0).numpy() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        EU.clip_grad_norm_((p for p in []), 1.0)
    with pytest.warns(FutureWarning, match="deprecated"):
        EU.clip_grad_norm(pe, 1.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_clip_grad_norm_nonfinite(bad):
    pe, pt = _params()
    g = pe[0].grad.numpy().copy()
    g[0, 0] = bad
    pe[0].grad = ember.from_numpy(g)
    pt[0].grad = torch.from_numpy(g.copy())
    with pytest.raises(RuntimeError) as te:
        TU.clip_grad_norm_(pt, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as ee:
        EU.clip_grad_norm_(pe, 1.0, error_if_nonfinite=True)
    assert str(ee.value) == str(te.value)
    ne, nt = (
        EU.clip_grad_norm_(pe, 1.0),
        TU.clip_grad_norm_(pt, 1.0),
    )  # scaled by the bad norm anyway
    np.testing.assert_array_equal(ne.numpy(), nt.numpy())
    np.testing.assert_array_equal(np.isnan(pe[1].grad.numpy()), np.isnan(pt[1].grad.numpy()))


@pytest.mark.parametrize("clip", [0.1, 1.0, 3])
def test_clip_grad_value_matches_torch(clip):
    pe, pt = _params(scale=2.0)
    EU.clip_grad_value_(pe, clip)
    TU.clip_grad_value_(pt, clip)
    _same_grads(pe, pt, 0, 0)
    EU.clip_grad_value_(pe[0], clip / 2)
    TU.clip_grad_value_(pt[0], clip / 2)
    _same_grads(pe, pt, 0, 0)


def test_parameters_to_vector_and_back():
    pe, pt = _params()
    ve, vt = EU.parameters_to_vector(pe), TU.parameters_to_vector(pt)
    np.testing.assert_array_equal(ve.detach().numpy(), vt.detach().numpy())
    assert ve.shape == (sum(int(np.prod(s)) for s in SHAPES),)
    ve.sum().backward()  # differentiable: every parameter gets ones
    assert all(np.all(p.grad.numpy() == g + 1) for p, g in zip(pe, [q.grad.numpy() for q in pt]))
    new = np.arange(ve.numel(), dtype=np.float32)
    EU.vector_to_parameters(ember.from_numpy(new.copy()), pe)
    TU.vector_to_parameters(torch.from_numpy(new.copy()), pt)
    for a, b in zip(pe, pt):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
        assert a.shape == b.shape and isinstance(a, ember.nn.Parameter)
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: numpy.ndarray"):
        EU.vector_to_parameters(new, pe)


class MyNorm(ember.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = ember.nn.Parameter(ember.full((n,), 2.0))
        self.bias = ember.nn.Parameter(ember.full((n,), 0.5))


class Net(ember.nn.Module):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.weight = ember.nn.Parameter(
            ember.from_numpy(rng.standard_normal((3, 4)).astype(np.float32))
        )
        self.bias = ember.nn.Parameter(ember.from_numpy(rng.standard_normal(3).astype(np.float32)))
        self.norm = MyNorm(3)
        self.frozen = ember.nn.Parameter(ember.ones(2), requires_grad=False)


def test_penalties_values_and_gradients():
    net = Net()
    w, b = net.weight.detach().numpy(), net.bias.detach().numpy()
    every = np.abs(w).sum() + np.abs(b).sum() + 3 * 2.0 + 3 * 0.5
    np.testing.assert_allclose(EU.l1_penalty(net, 0.1).detach().numpy(), 0.1 * every, rtol=1e-6)
    np.testing.assert_allclose(
        EU.l1_penalty(net, 0.1, exclude_bias=True, exclude_norm=True).detach().numpy(),
        0.1 * np.abs(w).sum(),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        EU.l2_penalty(net, 0.5, exclude_norm=True).detach().numpy(),
        0.5 * ((w * w).sum() + (b * b).sum()),
        rtol=1e-6,
    )
    chosen = EU.regularized_parameters(net, exclude_bias=True)
    assert len(chosen) == 2 and chosen[0] is net.weight and chosen[1] is net.norm.weight
    penalty = EU.l2_penalty(net, 0.25, exclude_bias=True)
    penalty.backward()
    np.testing.assert_allclose(net.weight.grad.numpy(), 0.5 * w, rtol=1e-6)
    np.testing.assert_allclose(net.norm.weight.grad.numpy(), np.full(3, 1.0), rtol=1e-6)
    assert net.bias.grad is None and net.norm.bias.grad is None and net.frozen.grad is None
    # explicit penalty with SGD == SGD's own weight decay (l2 weight = weight_decay / 2)
    a = ember.nn.Parameter(ember.from_numpy(w.copy()))
    c = ember.nn.Parameter(ember.from_numpy(w.copy()))
    opt_a, opt_c = ember.optim.SGD([a], lr=0.1, weight_decay=0.2), ember.optim.SGD([c], lr=0.1)
    for _ in range(3):
        opt_a.zero_grad()
        opt_c.zero_grad()
        (a * a).sum().backward()
        ((c * c).sum() + EU.l2_penalty([c], 0.1)).backward()
        opt_a.step()
        opt_c.step()
    np.testing.assert_allclose(a.detach().numpy(), c.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert EU.l1_penalty([], 1.0).numpy() == 0.0
    with pytest.raises(ValueError, match="needs a Module or named_parameters"):
        EU.l2_penalty([net.weight], exclude_bias=True)
    np.testing.assert_allclose(
        EU.l1_penalty(net.named_parameters(), exclude_bias=True).detach().numpy(),
        np.abs(w).sum() + 3 * 2.0,
        rtol=1e-6,
    )


def test_weight_decay_groups_and_fine_tuning():
    net = Net()
    groups = EU.weight_decay_groups(net, 0.01)
    assert [len(g["params"]) for g in groups] == [1, 3] and groups[1]["weight_decay"] == 0.0
    opt = ember.optim.AdamW(groups, lr=0.1)
    assert (
        opt.param_groups[0]["weight_decay"] == 0.01 and opt.param_groups[1]["weight_decay"] == 0.0
    )
    net.weight.requires_grad_(False)  # freeze, fine-tune the rest with a larger lr
    before = net.weight.detach().numpy().copy()
    opt.param_groups[1]["lr"] = 1.0
    loss = (net.bias * net.bias).sum() + (net.norm.weight * net.norm.bias).sum()
    loss.backward()
    opt.step()
    np.testing.assert_array_equal(net.weight.detach().numpy(), before)
    assert net.weight not in opt.state and len(opt.state) == 3

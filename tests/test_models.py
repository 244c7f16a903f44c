"""Issue 3's acceptance check: a LeNet-5 and a small VGG-style CNN built with ember.nn give the same
outputs and gradients as the same torch models with copied weights (train and eval mode)."""
import numpy as np
import pytest

import ember
from conftest import requires_torch, torch

pytestmark = requires_torch


def lenet(L):
    n = L.nn
    return n.Sequential(n.Conv2d(1, 6, 5, padding=2), n.ReLU(), n.MaxPool2d(2), n.Conv2d(6, 16, 5), n.ReLU(),
                        n.MaxPool2d(2), n.Flatten(), n.Linear(400, 120), n.ReLU(), n.Linear(120, 84), n.ReLU(),
                        n.Linear(84, 10))


def vgg(L):
    n = L.nn

    def block(cin, cout):
        return [n.Conv2d(cin, cout, 3, padding=1), n.BatchNorm2d(cout), n.ReLU()]

    return n.Sequential(*block(3, 16), *block(16, 16), n.MaxPool2d(2), *block(16, 32), *block(32, 32),
                        n.MaxPool2d(2), *block(32, 64), n.AdaptiveAvgPool2d(2), n.Flatten(),
                        n.Linear(256, 64), n.ReLU(), n.Dropout(0.5), n.Linear(64, 10))


def run(model_fn, shape, train, steps=2):
    tm = model_fn(torch).double()
    em = model_fn(ember).double()
    em.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    assert list(em.state_dict().keys()) == list(tm.state_dict().keys())
    tm.train(train)
    em.train(train)
    if train:  # dropout draws differ between frameworks: compare with dropout off
        for m in list(tm.modules()) + list(em.modules()):
            if type(m).__name__ == "Dropout":
                m.p = 0.0
    rng = np.random.default_rng(0)
    topt = torch.optim.SGD(tm.parameters(), lr=0.05, momentum=0.9)
    eopt = ember.optim.SGD(em.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):  # a few optimisation steps keep the trajectories together
        x = rng.standard_normal(shape)
        y = rng.integers(0, 10, shape[0])
        xt = torch.from_numpy(x.copy()).requires_grad_()
        xe = ember.from_numpy(x.copy()).requires_grad_()
        lt = torch.nn.functional.cross_entropy(tm(xt), torch.from_numpy(y))
        le = ember.nn.functional.cross_entropy(em(xe), ember.from_numpy(y))
        np.testing.assert_allclose(le.item(), lt.item(), rtol=1e-10)
        topt.zero_grad()
        eopt.zero_grad()
        lt.backward()
        le.backward()
        np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), rtol=1e-8, atol=1e-12)
        tp = dict(tm.named_parameters())
        for name, p in em.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=1e-8, atol=1e-12,
                                       err_msg=name)
        topt.step()
        eopt.step()
    for (k, a), (_, b) in zip(em.state_dict().items(), tm.state_dict().items()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("train", [True, False])
def test_lenet5_matches_torch(train):
    run(lenet, (4, 1, 28, 28), train)


@pytest.mark.parametrize("train", [True, False])
def test_small_vgg_matches_torch(train):
    run(vgg, (3, 3, 32, 32), train)

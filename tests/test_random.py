"""Random numbers: Philox known answers, seeding and Generator objects, reproducibility across
thread counts, distribution statistics over 1e6 samples, in-place fills and every error path."""
import numpy as np
import pytest

import ember

N = 1_000_000


def test_philox_known_answers():
    # Random123's kat_vectors for philox4x32_10.
    philox = ember._C._philox
    assert philox([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    ones = 0xFFFFFFFF
    assert philox([ones] * 4, [ones] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert philox([0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344], [0xA4093822, 0x299F31D0]) == [
        0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


DRAWS = {
    "rand": lambda g=None: ember.rand(1000, generator=g),
    "rand64": lambda g=None: ember.rand(1000, dtype=ember.float64, generator=g),
    "randn": lambda g=None: ember.randn(10, 100, generator=g),
    "randn64": lambda g=None: ember.randn(999, dtype=ember.float64, generator=g),
    "randint": lambda g=None: ember.randint(3, 50, (1000,), generator=g),
    "randperm": lambda g=None: ember.randperm(500, generator=g),
    "uniform_": lambda g=None: ember.empty(1000).uniform_(-2, 2, generator=g),
    "normal_": lambda g=None: ember.empty(1000).normal_(1, 3, generator=g),
    "bernoulli": lambda g=None: ember.bernoulli(ember.full((1000,), 0.3), generator=g),
    "multinomial": lambda g=None: ember.multinomial(ember.tensor([1.0, 2.0, 3.0]), 50, True,
                                                    generator=g),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_seeding_reproducible_and_seed_sensitive(name):
    draw = DRAWS[name]
    ember.manual_seed(123)
    a, b = draw(), draw()
    ember.manual_seed(123)
    assert draw().tolist() == a.tolist() and draw().tolist() == b.tolist()
    assert a.tolist() != b.tolist()  # the stream advances
    ember.manual_seed(124)
    assert draw().tolist() != a.tolist()
    g = ember.Generator().manual_seed(123)
    assert draw(g).tolist() == a.tolist()  # a fresh generator with the same seed, same stream


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_thread_count_independence(dtype):
    old = ember.get_num_threads()
    out = []
    try:
        for n in (1, 2):
            ember.set_num_threads(n)
            assert ember.get_num_threads() == n
            ember.manual_seed(7)
            draws = [ember.rand(N, dtype=dtype), ember.randn(N, dtype=dtype),
                     ember.randint(0, 2**40, (N,)), ember.randperm(N)]
            out.append([d.numpy().copy() for d in draws])
    finally:
        ember.set_num_threads(old)
    for x, y in zip(*out):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_uniform_statistics(dtype):
    x = ember.rand(N, dtype=dtype).numpy().astype(np.float64)
    assert x.min() >= 0 and x.max() < 1
    assert abs(x.mean() - 0.5) < 3e-3 and abs(x.var() - 1 / 12) < 2e-3
    hist = np.histogram(x, bins=10, range=(0, 1))[0] / N
    assert np.abs(hist - 0.1).max() < 3e-3
    y = ember.empty(N, dtype=dtype).uniform_(2, 5).numpy().astype(np.float64)
    assert y.min() >= 2 and y.max() < 5
    assert abs(y.mean() - 3.5) < 1e-2 and abs(y.var() - 0.75) < 1e-2


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_normal_statistics(dtype):
    x = ember.randn(N, dtype=dtype).numpy().astype(np.float64)
    assert abs(x.mean()) < 5e-3 and abs(x.var() - 1) < 5e-3
    assert abs((x**3).mean()) < 2e-2 and abs((x**4).mean() - 3) < 3e-2  # skew 0, kurtosis 3
    assert abs((np.abs(x) < 1).mean() - 0.6827) < 3e-3
    y = ember.empty(N, dtype=dtype).normal_(3, 2).numpy().astype(np.float64)
    assert abs(y.mean() - 3) < 1e-2 and abs(y.std() - 2) < 1e-2
    assert np.isfinite(x).all()


def test_randint_statistics_and_forms():
    x = ember.randint(-5, 5, (N,)).numpy()
    assert x.dtype == np.int64 and x.min() == -5 and x.max() == 4
    counts = np.bincount(x + 5) / N
    assert np.abs(counts - 0.1).max() < 3e-3
    assert ember.randint(10, (3,)).shape == (3,)
    assert ember.randint(low=3, high=10, size=(2, 2)).shape == (2, 2)
    assert ember.randint(5, size=(4,), dtype=ember.int32).dtype == ember.int32
    assert ember.randint(0, 2, (8,), dtype=ember.bool).dtype == ember.bool
    wide = ember.randint(0, 2**62, (N // 10,)).numpy()
    assert wide.min() >= 0 and abs(wide.mean() / 2**61 - 1) < 2e-2
    like = ember.randint_like(ember.zeros(3, 2), 4, 9)
    assert like.dtype == ember.float32 and like.shape == (3, 2)
    assert set(like.numpy().ravel()) <= set(range(4, 9))
    assert ember.randint_like(ember.zeros(5, dtype=ember.int32), 3).dtype == ember.int32


def test_randperm():
    p = ember.randperm(1000).numpy()
    assert sorted(p.tolist()) == list(range(1000)) and p.dtype == np.int64
    assert (p != np.arange(1000)).any()
    assert ember.randperm(0).shape == (0,) and ember.randperm(1).tolist() == [0]
    assert ember.randperm(5, dtype=ember.int32).dtype == ember.int32
    first = np.array([ember.randperm(4).tolist()[0] for _ in range(4000)])
    assert np.abs(np.bincount(first) / 4000 - 0.25).max() < 0.04


def test_bernoulli():
    p = ember.full((N,), 0.3)
    x = ember.bernoulli(p)
    assert x.dtype == ember.float32 and set(np.unique(x.numpy())) <= {0.0, 1.0}
    assert abs(x.numpy().mean() - 0.3) < 3e-3
    probs = ember.tensor([0.0, 1.0, 0.5], dtype=ember.float64)
    y = ember.bernoulli(probs)
    assert y.dtype == ember.float64 and y.tolist()[:2] == [0.0, 1.0]
    z = ember.zeros(N, dtype=ember.float64).bernoulli_(0.75)
    assert abs(z.numpy().mean() - 0.75) < 3e-3
    w = ember.zeros(N).bernoulli_(ember.tensor(0.2))
    assert abs(w.numpy().mean() - 0.2) < 3e-3
    assert ember.bernoulli(ember.ones(4), 0.0).tolist() == [0.0] * 4
    assert ember.ones(3).bernoulli().tolist() == [1.0] * 3
    with pytest.raises(RuntimeError, match="Expected p_in >= 0 && p_in <= 1"):
        ember.bernoulli(ember.tensor([2.0]))
    with pytest.raises(RuntimeError, match="expects p to be in"):
        ember.zeros(3).bernoulli_(1.5)
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.bernoulli(ember.tensor([1]))


def test_multinomial():
    w = ember.tensor([1.0, 0.0, 3.0])
    x = ember.multinomial(w, N, replacement=True).numpy()
    assert x.dtype == np.int64 and abs((x == 2).mean() - 0.75) < 3e-3 and not (x == 1).any()
    rows = ember.multinomial(ember.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 5.0, 1.0]]), 2)
    assert rows.shape == (2, 2) and sorted(rows.tolist()[1]) == [2, 3]
    for r in rows.tolist():
        assert len(set(r)) == 2
    firsts = np.array([w.multinomial(1).item() for _ in range(2000)])
    assert abs((firsts == 2).mean() - 0.75) < 0.04
    assert sorted(ember.multinomial(ember.tensor([1.0, 0.0, 0.0]), 2).tolist()) == [0, 1]
    with pytest.raises(RuntimeError, match="without replacement"):
        ember.multinomial(w, 4)
    with pytest.raises(RuntimeError, match="element < 0"):
        ember.multinomial(ember.tensor([-1.0, 1.0]), 1)
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        ember.multinomial(ember.tensor([0.0, 0.0]), 1)


def test_normal_function():
    x = ember.normal(2.0, 3.0, size=(N,))
    assert x.shape == (N,) and abs(x.numpy().mean() - 2) < 2e-2 and abs(x.numpy().std() - 3) < 2e-2
    m = ember.tensor([0.0, 100.0])
    y = ember.normal(m, ember.tensor([1e-3, 1e-3]))
    assert y.shape == (2,) and abs(y.tolist()[1] - 100) < 0.1
    assert ember.normal(m).shape == (2,) and ember.normal(0.0, ember.ones(3, 2)).shape == (3, 2)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        ember.normal(m, ember.tensor([-1.0, 1.0]))
    with pytest.raises(TypeError, match="size"):
        ember.normal(0.0, 1.0)


def test_generators():
    g = ember.Generator()
    assert g.initial_seed() == 67280421310721 and g.device == ember.device("cpu")
    assert g.manual_seed(5) is g and g.initial_seed() == 5
    ember.manual_seed(5)
    a = ember.rand(10, generator=g)
    assert ember.rand(10).tolist() == a.tolist()  # same seed, separate streams
    state = g.get_state()
    assert state.dtype == ember.uint8 and state.dim() == 1
    b = ember.randn(7, generator=g)
    g.set_state(state)
    assert ember.randn(7, generator=g).tolist() == b.tolist()
    assert ember.manual_seed(3) is ember.default_generator and ember.initial_seed() == 3
    s = ember.seed()
    assert ember.initial_seed() == s
    ember.manual_seed(-1)
    assert ember.initial_seed() == 0xFFFF_FFFF_FFFF_FFFF - 1
    ember.manual_seed(2**64 - 1)
    with pytest.raises(RuntimeError, match="Overflow"):
        ember.manual_seed(2**64)
    with pytest.raises(TypeError, match="uint8"):
        g.set_state(ember.zeros(16))
    with pytest.raises(RuntimeError, match="16 bytes"):
        g.set_state(ember.zeros(3, dtype=ember.uint8))
    with pytest.raises(TypeError, match="Generator"):
        ember.rand(3, generator=5)
    with pytest.raises(RuntimeError, match="without CUDA"):
        ember.Generator("cuda")


def test_global_rng_state_and_fork():
    ember.manual_seed(11)
    st = ember.get_rng_state()
    a = ember.rand(5)
    ember.set_rng_state(st)
    assert ember.rand(5).tolist() == a.tolist()
    with ember.random.fork_rng():
        ember.rand(100)
    after = ember.rand(3)
    ember.set_rng_state(st)
    ember.rand(5)
    assert ember.rand(3).tolist() == after.tolist()
    assert ember.random.initial_seed() == 11


def test_size_forms_and_like():
    for t in [ember.rand(2, 3), ember.rand((2, 3)), ember.rand([2, 3]), ember.rand(size=(2, 3)),
              ember.randn(ember.Size([2, 3]))]:
        assert t.shape == (2, 3) and t.dtype == ember.float32
    assert ember.rand(()).shape == () and ember.randn(0).shape == (0,)
    x = ember.zeros(4, 2, dtype=ember.float64)
    assert ember.rand_like(x).dtype == ember.float64 and ember.randn_like(x).shape == (4, 2)
    assert ember.rand_like(x, dtype=ember.float32).dtype == ember.float32
    assert ember.randn(3, requires_grad=True).requires_grad
    old = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.rand(2).dtype == ember.float64
    finally:
        ember.set_default_dtype(old)


def test_inplace_random_autograd_rules():
    x = ember.zeros(5)
    v = x._version
    x.uniform_()
    assert x._version == v + 1
    x.normal_()
    x.bernoulli_(0.5)
    assert x._version == v + 3
    leaf = ember.zeros(3, requires_grad=True)
    for op in (lambda t: t.uniform_(), lambda t: t.normal_(), lambda t: t.bernoulli_(0.5)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            op(leaf)
    with ember.no_grad():
        leaf.normal_()
    assert leaf.is_leaf and leaf.requires_grad
    y = leaf * 2
    y.uniform_()
    assert y.grad_fn.name() == "UniformBackward0"
    y.sum().backward()  # the overwritten values get no gradient from y
    assert leaf.grad is None or leaf.grad.tolist() == [0.0, 0.0, 0.0]


def test_inplace_random_noncontiguous():
    base = ember.zeros(6, 4, dtype=ember.float64)
    col = ember.from_numpy(base.numpy()[:, 1])  # a strided view of base's memory
    col.uniform_(5, 6)
    b = base.numpy()
    assert (b[:, 1] >= 5).all() and (b[:, [0, 2, 3]] == 0).all()
    ember.from_numpy(base.numpy()[::2, 3]).normal_(10, 0.1)
    assert (np.abs(b[::2, 3] - 10) < 1).all() and (b[1::2, 3] == 0).all()


def test_random_errors():
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.rand(3, dtype=ember.int64)
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.randn(3, dtype=ember.bool)
    with pytest.raises(RuntimeError, match="floating-point"):
        ember.zeros(3, dtype=ember.int64).uniform_()
    with pytest.raises(RuntimeError, match="normal expects std >= 0.0"):
        ember.zeros(3).normal_(0, -1)
    with pytest.raises(RuntimeError, match=r"\[from, to\) range"):
        ember.zeros(3).uniform_(2, 1)
    with pytest.raises(RuntimeError, match="expects 'from' to be less than 'to'"):
        ember.randint(5, 5, (2,))
    with pytest.raises(RuntimeError, match="non-negative"):
        ember.randperm(-1)
    with pytest.raises(RuntimeError, match="without CUDA"):
        ember.rand(2, device="cuda")
    with pytest.raises(RuntimeError, match="negative dimension"):
        ember.rand(-1)


@pytest.mark.parametrize("isa", ["base", "avx2"])
def test_every_isa_draws_the_same_values(isa):
    # Philox and the float transforms run vectorised per ISA, built without FMA contraction: a
    # seeded draw is bit-identical whatever the CPU (here: the ISA capped by EMBER_ISA).
    import os
    import subprocess
    import sys

    code = ("import ember; ember.manual_seed(7); print(ember._C._cpu_isa());"
            "print(b''.join(t.numpy().tobytes() for t in (ember.rand(1001), ember.randn(1003), "
            "ember.randn(5, dtype=ember.float64), ember.randint(0, 1000, (77,)))).hex())")
    env = dict(os.environ, EMBER_ISA=isa)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, check=True, text=True).stdout
    first, hexdata = out.split()
    assert first == isa
    ember.manual_seed(7)
    here = b"".join(t.numpy().tobytes() for t in (ember.rand(1001), ember.randn(1003),
                                                   ember.randn(5, dtype=ember.float64),
                                                   ember.randint(0, 1000, (77,))))
    assert bytes.fromhex(hexdata) == here



def test_normal_pairs_have_uniform_angles_and_rayleigh_radii():
    # Box-Muller's two values of a pair: angle atan2(x1, x0) uniform on the circle (64 bins, each
    # within 5 sigma of N / 64), r^2 = x0^2 + x1^2 exponential with mean 2 (CDF within 3e-3).
    x = ember.randn(N).numpy().astype(np.float64)
    ang = np.arctan2(x[1::2], x[0::2])
    counts = np.histogram(ang, bins=64, range=(-np.pi, np.pi))[0]
    expect = ang.size / 64
    assert np.abs(counts - expect).max() < 5 * np.sqrt(expect)
    r2 = x[0::2] ** 2 + x[1::2] ** 2
    for t in (0.1, 0.5, 1.0, 2.0, 4.0, 8.0):
        assert abs((r2 <= t).mean() - (1 - np.exp(-t / 2))) < 3e-3, t

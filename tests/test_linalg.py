"""Matrix products beyond the op table: GEMM sizes around every tile edge on every micro-kernel ISA
the CPU has, strided views, alpha/beta, empty dims, integer matmul, thread-count invariance, every
error path, and double backward against PyTorch."""
import ember
import numpy as np
import pytest
from conftest import requires_torch, torch

ISAS = [i for i in ("avx512", "avx2", "scalar")
        if i == "scalar" or ember._C._gemm_isa() in ("avx512", "avx2")[: ("avx512", "avx2").index(i) + 1]]


@pytest.fixture(params=ISAS)
def isa(request):
    old = ember._C._set_gemm_isa(request.param)
    yield request.param
    ember._C._set_gemm_isa(old)


@pytest.fixture(params=[1, 2])
def threads(request):
    old = ember.get_num_threads()
    ember.set_num_threads(request.param)
    yield request.param
    ember.set_num_threads(old)


def E(a):
    return ember.from_numpy(np.ascontiguousarray(a))


def V(a):
    """A view of numpy memory, strides kept (from_numpy shares memory like torch)."""
    return ember.from_numpy(a)


def layout(a, kind):
    """The same values as `a` in a given memory layout: row-major, transposed storage, padded
    rows, strided."""
    if kind == "t":
        return V(np.asfortranarray(a))
    if kind == "p":  # rows contiguous, padded (row stride > width): A read in place by the kernel
        big = np.zeros((a.shape[0], a.shape[1] + 5), dtype=a.dtype)
        big[:, :a.shape[1]] = a
        return V(big[:, :a.shape[1]])
    if kind == "s":
        big = np.zeros((a.shape[0] * 2, a.shape[1] * 3), dtype=a.dtype)
        big[::2, 1::3] = a
        return V(big[::2, 1::3])
    return E(a)


def poison_cache(shape, dtype):
    """Frees a NaN-filled block of the result's size: the caching allocator hands it to the next
    result, so elements a kernel fails to write show (not the previous call's right answer)."""
    block = ember.full(shape, float("nan"), dtype=ember.float32 if dtype == np.float32 else ember.float64)
    del block


def check(out, ref, dtype):
    tol = {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 2e-5, "atol": 2e-5}
    np.testing.assert_allclose(out.numpy(), ref, **tol)


# Sizes around the register tiles (fp32 AVX-512 12x32 and 8x48, 14x16, 6x16, 6x8, 4x8) and the
# K / M / N blocks (KC 256, MC 288 / 168 / 192, B blocks of up to 1.5 MiB: 300 x 1700 x 300 splits N
# in two); 64 x 1024 x 288 and 37 x 2000 x 70 take the per-micro-panel B packing (M within one A
# block, B over 512 KiB); the eight from 1 x 37 x 16, with M <= 8 and K >= 16, the unpacked dot-rows
# kernel (fp32 AVX-512, A row-major and B transposed: the "c"/"p" x "t" layouts). With B row-major
# ("c"), M <= 32 and B within 1 MiB, fp32 AVX-512 reads A and B in place (direct B): M = 11..31
# here, K over its 1024 blocks in the last (and in test_fp32_error_within_rounding_bound).
SIZES = [(1, 1, 1), (2, 3, 4), (5, 7, 3), (6, 8, 1), (7, 9, 2), (11, 64, 9), (12, 31, 3), (13, 31, 5),
         (14, 32, 8), (15, 33, 17), (24, 65, 7), (25, 95, 4), (28, 16, 256), (29, 17, 257), (27, 64, 300),
         (40, 8, 33), (97, 100, 41), (100, 97, 1), (31, 65, 129), (300, 45, 64), (45, 300, 64),
         (170, 130, 513), (289, 40, 20), (337, 40, 20), (300, 1700, 300), (64, 1024, 288), (37, 2000, 70),
         (1, 37, 16), (2, 1, 40), (3, 50, 17), (4, 130, 64), (5, 100, 31), (6, 9, 47), (7, 2, 1000), (8, 33, 300),
         (3, 40, 2100)]


@pytest.mark.parametrize("M,N,K", SIZES, ids=[f"{m}x{n}x{k}" for m, n, k in SIZES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mm_sizes_vs_numpy(isa, M, N, K, dtype):
    rng = np.random.default_rng(M * 1000 + N * 10 + K)
    a, b = rng.standard_normal((M, K)).astype(dtype), rng.standard_normal((K, N)).astype(dtype)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    for la, lb in [("c", "c"), ("t", "c"), ("c", "t"), ("t", "t"), ("s", "s"), ("p", "c"), ("p", "t")]:
        poison_cache((M, N), dtype)
        out = ember.mm(layout(a, la), layout(b, lb))
        assert out.shape == (M, N) and out.is_contiguous()
        check(out, ref, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_blocks_and_threads(isa, threads, dtype):
    # crosses the KC / MC blocks, split over threads both ways; 256 x 784 x 1 (an outer product,
    # a Linear's weight gradient at batch 1) is split for the size of C alone; 300 x 1700 x 300
    # cuts N into two B blocks on one thread
    rng = np.random.default_rng(7)
    for M, N, K in [(20, 4200, 9), (700, 30, 520), (129, 257, 600), (256, 784, 1), (300, 1700, 300)]:
        a, b = rng.standard_normal((M, K)).astype(dtype), rng.standard_normal((K, N)).astype(dtype)
        check(ember.mm(E(a), E(b)), a.astype(np.float64) @ b.astype(np.float64), dtype)


@pytest.mark.parametrize("M,N,K", [(129, 257, 600), (64, 300, 2000), (300, 64, 1500), (33, 1100, 777),
                                   (20, 100, 1030), (8, 500, 3000), (5, 301, 2000)])
@pytest.mark.parametrize("b_layout", ["c", "t"])
def test_fp32_error_within_rounding_bound(isa, threads, M, N, K, b_layout):
    # The standard GEMM error measure: |C - C_exact| <= c * u * (|A| |B|) elementwise (u = 2^-24).
    # On these inputs numpy's OpenBLAS lands at c = 1.1-2.9 and Ember at 0.9-2.4 (every ISA); the
    # deterministic worst case is c = K. Holds near-zero entries to their real rounding scale, where
    # an rtol/atol check cannot (OpenBLAS and MKL exceed test_large_blocks_and_threads' tolerance
    # on its K = 600 case by 16%). The last three, with few rows, take the unpacked kernels on fp32
    # AVX-512 (direct B with B row-major, dot rows with B transposed), with longer summation chains.
    rng = np.random.default_rng(K)
    a, b = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    scale = np.abs(a.astype(np.float64)) @ np.abs(b.astype(np.float64)) * 2.0 ** -24
    err = np.abs(ember.mm(E(a), layout(b, b_layout)).numpy() - ref)
    assert (err / scale).max() <= 4.0


# Linear's bias goes into the GEMM's epilogue (each micro-tile after its last K block, or a pass
# after the direct loops): the direct loops (tiny, M = 1, N = 1), K = 0, one K block and several,
# several B column blocks (N > 1024), the per-micro-panel B path (M within one A block, B over
# 512 KiB), the dot-rows kernel (M <= 8: 1 x 300 x 70, 6 x 70 x 33, 8 x 300 x 128, its columns
# split over threads), tiles split over threads by rows and by columns, and edge tiles.
LINEAR_SIZES = [(3, 4, 5), (1, 300, 70), (50, 1, 40), (4, 6, 0), (30, 45, 7), (129, 257, 600), (20, 2100, 300),
                (64, 1024, 288), (128, 256, 784), (300, 40, 20), (97, 100, 41), (6, 70, 33), (8, 300, 128)]


@pytest.mark.parametrize("M,N,K", LINEAR_SIZES, ids=[f"{m}x{n}x{k}" for m, n, k in LINEAR_SIZES])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_bias_epilogue(isa, threads, M, N, K, dtype):
    rng = np.random.default_rng(M + 7 * N + 13 * K)
    x, w = rng.standard_normal((M, K)).astype(dtype), rng.standard_normal((N, K)).astype(dtype)
    bias = rng.standard_normal(N).astype(dtype) * 10
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    ref = x64 @ w64.T + bias
    # |error| within a few units of rounding of |x| |w^T| + |bias| (see the test below)
    scale = (np.abs(x64) @ np.abs(w64).T + np.abs(bias)) * (2.0 ** -24 if dtype == np.float32 else 2.0 ** -53)
    for lx, lw in [("c", "c"), ("t", "t"), ("s", "p"), ("p", "p")]:
        b = layout(bias[None, :], "s")[0]  # a strided bias: made contiguous first
        poison_cache((M, N), dtype)
        out = ember.nn.functional.linear(layout(x, lx), layout(w, lw), b)
        assert out.shape == (M, N) and out.dtype == ember.from_numpy(x).dtype
        assert (np.abs(out.numpy() - ref) <= 4.0 * scale).all()
    np.testing.assert_array_equal(ember.nn.functional.linear(E(x), E(w), E(bias)).numpy(),
                                  ember.nn.functional.linear(E(x), E(w), E(bias)).numpy())


@pytest.mark.parametrize("M", range(1, 9))
def test_dot_rows_every_row_count_and_edge(isa, threads, M):
    # A Linear's forward with few rows (fp32 AVX-512: the dot-rows kernel, RM rows against column
    # blocks of J; every block width, the lane sums in groups of 16 accumulators, K with and
    # without a 16-lane tail), against float64 within a few units of rounding.
    rng = np.random.default_rng(M)
    for N in list(range(1, 18)) + [61]:
        for K in (16 * 32 * M, 16 * 32 * M + 5):
            x, w = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((N, K)).astype(np.float32)
            bias = rng.standard_normal(N).astype(np.float32)
            x64, w64 = x.astype(np.float64), w.astype(np.float64)
            scale = (np.abs(x64) @ np.abs(w64).T + np.abs(bias)) * 2.0 ** -24
            poison_cache((M, N), np.float32)
            out = ember.nn.functional.linear(E(x), E(w), E(bias)).numpy()
            assert (np.abs(out - (x64 @ w64.T + bias)) <= 4.0 * scale).all(), (N, K)


def test_linear_bias_epilogue_integers():
    x = np.arange(12, dtype=np.int64).reshape(3, 4) - 5
    w = np.arange(20, dtype=np.int64).reshape(5, 4) % 7 - 3
    b = np.array([2**62, -1, 3, 0, 7], dtype=np.int64)
    out = ember.nn.functional.linear(E(x), E(w), E(b)).numpy()
    np.testing.assert_array_equal(out, x @ w.T + b)
    big = np.full((2, 1), 2**62, dtype=np.int64)  # wraps around like the product
    np.testing.assert_array_equal(
        ember.nn.functional.linear(E(big), E(np.full((1, 1), 2, dtype=np.int64)), E(np.array([2**62]))).numpy(),
        (big * 2 + 2**62))


def test_thread_count_does_not_change_results():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((203, 301)).astype(np.float32), rng.standard_normal((301, 157)).astype(np.float32)
    old = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        one = ember.mm(E(a), E(b)).numpy()
        ember.set_num_threads(2)
        two = ember.mm(E(a), E(b)).numpy()
    finally:
        ember.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


# fp32 AVX-512, 2 threads: C split by columns with A read in place (row-major A, at most 256
# columns a thread, A within 1 MiB) goes in pieces of whole panels taken at run time by either
# thread: the first three (a Linear's forward, K over one and several blocks, an edge panel last),
# with and without bias and with B's columns or rows contiguous; the last is split by rows (one
# tile per thread). Every element must come out bit-identical to one thread.
@pytest.mark.parametrize("M,N,K", [(128, 256, 784), (128, 250, 128), (61, 500, 300), (200, 97, 40)])
def test_column_pieces_match_one_thread(M, N, K):
    rng = np.random.default_rng(M + N + K)
    x, w = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((N, K)).astype(np.float32)
    bias = rng.standard_normal(N).astype(np.float32)
    old = ember.get_num_threads()
    outs = []
    try:
        for nt in (1, 2):
            ember.set_num_threads(nt)
            outs.append([ember.nn.functional.linear(E(x), E(w), E(bias)).numpy(),
                         ember.mm(E(x), E(np.ascontiguousarray(w.T))).numpy(),
                         ember.mm(E(x), E(w).t()).numpy()])
    finally:
        ember.set_num_threads(old)
    for one, two in zip(*outs):
        np.testing.assert_array_equal(one, two)
    # and near float64: within sqrt(K) units of rounding of |x| |w^T| (the size of a K-term
    # rounding walk; these inputs reach 1.5-5.8)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    scale = np.sqrt(K) * (np.abs(x64) @ np.abs(w64).T + np.abs(bias)) * 2.0 ** -24
    for out, ref in zip(outs[1], [x64 @ w64.T + bias, x64 @ w64.T, x64 @ w64.T]):
        assert (np.abs(out - ref) <= scale).all()


def test_empty_dims():
    assert ember.mm(ember.ones(0, 3), ember.ones(3, 4)).shape == (0, 4)
    assert ember.mm(ember.ones(3, 4), ember.ones(4, 0)).shape == (3, 0)
    z = ember.mm(ember.ones(2, 0), ember.ones(0, 4))
    assert z.shape == (2, 4) and np.all(z.numpy() == 0)
    assert ember.bmm(ember.ones(0, 2, 3), ember.ones(0, 3, 4)).shape == (0, 2, 4)
    assert ember.matmul(ember.ones(0), ember.ones(0)).numpy() == 0
    c = E(np.full((2, 4), 3.0))
    np.testing.assert_array_equal(ember.addmm(c, E(np.ones((2, 0))), E(np.ones((0, 4))), beta=2).numpy(),
                                  np.full((2, 4), 6.0))


def test_alpha_beta_and_nan_safe_beta_zero(isa):
    rng = np.random.default_rng(5)
    for M, N, K in [(3, 4, 5), (30, 70, 40)]:
        a, b = rng.standard_normal((M, K)), rng.standard_normal((K, N))
        c = rng.standard_normal((M, N))
        for beta, alpha in [(1, 1), (0.5, 2.0), (-1.0, 0.25), (2, 0)]:
            out = ember.addmm(E(c), E(a), E(b), beta=beta, alpha=alpha)
            check(out, beta * c + alpha * (a @ b), np.float64)
        nan = np.full((M, N), np.nan)
        out = ember.addmm(E(nan), E(a), E(b), beta=0)
        assert not np.isnan(out.numpy()).any()
        check(out, a @ b, np.float64)
        out = ember.baddbmm(E(nan[None]), E(a[None]), E(b[None]), beta=0, alpha=3)
        check(out, 3 * (a @ b)[None], np.float64)


def test_alpha_beta_and_nan_safe_beta_zero_fp32_few_rows(isa):
    # M <= 8 with B transposed: the dot-rows kernel on AVX-512 (alpha, beta, beta = 0 over NaN)
    rng = np.random.default_rng(6)
    M, N, K = 5, 37, 40
    a, b = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(np.float32)
    c = rng.standard_normal((M, N)).astype(np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    for beta, alpha in [(1, 1), (0.5, 2.0), (-1.0, 0.25), (2, 0)]:
        check(ember.addmm(E(c), E(a), layout(b, "t"), beta=beta, alpha=alpha), beta * c + alpha * ref, np.float32)
    out = ember.addmm(E(np.full((M, N), np.nan, dtype=np.float32)), E(a), layout(b, "t"), beta=0)
    assert not np.isnan(out.numpy()).any()
    check(out, ref, np.float32)


def test_strided_and_broadcast_views():
    rng = np.random.default_rng(9)
    base = rng.standard_normal((6, 40, 50))
    a, b = base[::2, 1:30:2, ::3], base[1::2, 2:19, 5:40:2]   # (3, 15, 17) and (3, 17, 18)
    assert not V(a).is_contiguous()
    check(ember.bmm(V(a), V(b)), a @ b, np.float64)
    check(ember.matmul(V(a), V(b[0])), a @ b[0], np.float64)          # folded batch, strided rows
    check(ember.matmul(V(a[0]), V(b)), a[0] @ b, np.float64)          # 2-D @ batched
    w = rng.standard_normal((17, 4))
    e = np.broadcast_to(w, (3, 17, 4))                                 # stride-0 batch
    assert V(e).stride()[0] == 0
    check(ember.bmm(V(a), V(e)), a @ w, np.float64)
    check(ember.matmul(V(np.broadcast_to(a[:1], (3, 15, 17))), V(b)), a[:1] @ b, np.float64)
    v, m = base[0, 0, ::5], base[1, :7, :10]                           # strided vector (10,)
    check(ember.mv(V(m), V(v)), m @ v, np.float64)
    check(ember.mv(V(m.T[:, :7]), V(base[2, 3, 10:17])), m.T @ base[2, 3, 10:17], np.float64)
    check(ember.dot(V(v), V(base[2, 3, 10:20])), np.dot(v, base[2, 3, 10:20]), np.float64)
    c = np.full((3, 15, 18), np.nan)[:, :, ::1]
    check(ember.baddbmm(V(c), V(a), V(b), beta=0), a @ b, np.float64)


def test_gemv_shapes_large():
    def check(out, ref, dtype):  # float32 sums of 5000 terms: tolerance grows with K
        np.testing.assert_allclose(out.numpy(), ref, rtol=1e-4, atol=2e-3)
    rng = np.random.default_rng(11)
    m, v = rng.standard_normal((300, 5000)).astype(np.float32), rng.standard_normal(5000).astype(np.float32)
    check(ember.mv(E(m), E(v)), m.astype(np.float64) @ v, np.float32)
    check(ember.matmul(E(v[:300]), E(m)), v[:300].astype(np.float64) @ m, np.float32)
    check(ember.mm(V(m.T), E(v[:300, None])), m.T.astype(np.float64) @ v[:300, None], np.float32)
    check(ember.mm(E(v[None, :300]), V(m[:, :2000])), v[None, :300].astype(np.float64) @ m[:, :2000], np.float32)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_integer_matmul(dtype):
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 7, (9, 13)).astype(dtype), rng.integers(0, 7, (13, 5)).astype(dtype)
    out = ember.mm(E(a), E(b))
    assert out.dtype == getattr(ember, np.dtype(dtype).name)
    np.testing.assert_array_equal(out.numpy(), a @ b)
    np.testing.assert_array_equal(ember.matmul(E(a[None].repeat(2, 0)), E(b)).numpy(), (a @ b)[None].repeat(2, 0))
    np.testing.assert_array_equal(ember.dot(E(a[0]), E(b[:, 0])).numpy(), np.dot(a[0], b[:, 0]))
    out = ember.addmm(E(a @ b), E(a), E(b), beta=2, alpha=3)
    np.testing.assert_array_equal(out.numpy(), (2 * (a @ b) + 3 * (a @ b)).astype(dtype))


def test_rmatmul_and_methods():
    a, b = E(np.arange(6.0).reshape(2, 3)), E(np.arange(12.0).reshape(3, 4))
    np.testing.assert_array_equal(b.__rmatmul__(a).numpy(), a.numpy() @ b.numpy())

    class Other:
        def __matmul__(self, o):
            return NotImplemented
    with pytest.raises(TypeError):
        Other() @ a
    with pytest.raises(TypeError):
        a @ 2
    np.testing.assert_array_equal(a.mm(b).numpy(), a.numpy() @ b.numpy())
    v = E(np.arange(3.0))
    np.testing.assert_array_equal(a.mv(v).numpy(), a.numpy() @ v.numpy())
    np.testing.assert_array_equal(v.outer(v).numpy(), np.outer(v.numpy(), v.numpy()))
    assert ember.outer(v, E(np.arange(2))).dtype == ember.float64  # promotes like torch


def test_grad_fn_and_requires_grad():
    a = ember.ones(2, 3).requires_grad_(True)
    b = ember.ones(3, 4)
    out = a @ b
    assert out.requires_grad and out.grad_fn.name() == "MmBackward0"
    with ember.no_grad():
        assert not (a @ b).requires_grad
    assert not (ember.ones(2, 3) @ b).requires_grad


ERRORS = [
    (lambda: ember.mm(ember.ones(3), ember.ones(3, 3)), RuntimeError, "mm: self must be a matrix"),
    (lambda: ember.mm(ember.ones(3, 3), ember.ones(3)), RuntimeError, "mm: mat2 must be a matrix"),
    (lambda: ember.mm(ember.ones(2, 3), ember.ones(4, 5)), RuntimeError, r"mm: shapes \(2, 3\) and \(4, 5\) cannot be multiplied \(3 != 4\)"),
    (lambda: ember.mm(ember.ones(2, 3), ember.ones(3, 2, dtype=ember.float64)), RuntimeError, "same dtype.*float32 != float64"),
    (lambda: ember.mm(ember.ones(2, 2, dtype=ember.bool), ember.ones(2, 2, dtype=ember.bool)), NotImplementedError, "bool"),
    (lambda: ember.matmul(ember.ones(()), ember.ones(3)), RuntimeError, "at least 1D, but they are 0D and 1D"),
    (lambda: ember.matmul(ember.ones(3), ember.ones(4)), RuntimeError, "matmul: shapes"),
    (lambda: ember.matmul(ember.ones(2, 3), ember.ones(4)), RuntimeError, r"\(3 != 4\)"),
    (lambda: ember.matmul(ember.ones(3), ember.ones(4, 2)), RuntimeError, r"\(3 != 4\)"),
    (lambda: ember.matmul(ember.ones(2, 2, 3), ember.ones(3, 3, 4)), (RuntimeError, ValueError), "matmul"),
    (lambda: ember.matmul(ember.ones(2, 3), ember.ones(3, 2, dtype=ember.int64)), RuntimeError, "same dtype"),
    (lambda: ember.bmm(ember.ones(2, 3), ember.ones(2, 3, 4)), RuntimeError, "batch1 must be a 3D tensor"),
    (lambda: ember.bmm(ember.ones(2, 2, 3), ember.ones(3, 4)), RuntimeError, "batch2 must be a 3D tensor"),
    (lambda: ember.bmm(ember.ones(2, 2, 3), ember.ones(3, 3, 4)), RuntimeError, r"to be: \[2, 3\] but got: \[3, 3\]"),
    (lambda: ember.bmm(ember.ones(2, 2, 3), ember.ones(2, 4, 4)), RuntimeError, r"to be: \[2, 3\] but got: \[2, 4\]"),
    (lambda: ember.mv(ember.ones(3), ember.ones(3)), RuntimeError, "mv: expected a matrix and a vector"),
    (lambda: ember.mv(ember.ones(3, 4), ember.ones(3)), RuntimeError, "mv: size mismatch"),
    (lambda: ember.dot(ember.ones(3, 1), ember.ones(3)), RuntimeError, "1D tensors expected, but got 2D and 1D"),
    (lambda: ember.dot(ember.ones(3), ember.ones(3, dtype=ember.float64)), RuntimeError, "same dtype"),
    (lambda: ember.dot(ember.ones(3), ember.ones(4)), RuntimeError, "inconsistent tensor size"),
    (lambda: ember.outer(ember.ones(3, 2), ember.ones(4)), RuntimeError, "Expected 1-D argument self"),
    (lambda: ember.outer(ember.ones(3), ember.ones(4, 1)), RuntimeError, "Expected 1-D argument vec2"),
    (lambda: ember.addmm(ember.ones(3, 3), ember.ones(3), ember.ones(3, 3)), RuntimeError, "mat1 must be a matrix"),
    (lambda: ember.addmm(ember.ones(3, 3), ember.ones(3, 3), ember.ones(3)), RuntimeError, "mat2 must be a matrix"),
    (lambda: ember.addmm(ember.ones(2, 5), ember.ones(3, 4), ember.ones(4, 5)), RuntimeError, r"input of shape \(2, 5\) cannot be broadcast"),
    (lambda: ember.addmm(ember.ones(2, 2, 5), ember.ones(2, 4), ember.ones(4, 5)), RuntimeError, "cannot be broadcast"),
    (lambda: ember.addmm(ember.ones(5, dtype=ember.float64), ember.ones(3, 4), ember.ones(4, 5)), RuntimeError, "same dtype"),
    (lambda: ember.addmm(ember.ones(3, 5), ember.ones(3, 4), ember.ones(4, 5), beta="x"), TypeError, "beta"),
    (lambda: ember.addmm(ember.ones(3, 5), ember.ones(3, 4), ember.ones(4, 5), alpha=None), TypeError, "alpha"),
    (lambda: ember.baddbmm(ember.ones(3, 4), ember.ones(2, 3, 5), ember.ones(2, 5, 5)), RuntimeError, "cannot be broadcast"),
    (lambda: ember.baddbmm(ember.ones(3, 5, dtype=ember.float64), ember.ones(2, 3, 5), ember.ones(2, 5, 5)), RuntimeError, "same dtype"),
    (lambda: ember.baddbmm(ember.ones(3, 5), ember.ones(3, 5), ember.ones(2, 5, 5)), RuntimeError, "batch1 must be a 3D"),
    (lambda: ember._C.linear(ember.ones(2, 3), ember.ones(4)), RuntimeError, "weight must be 2-D"),
    (lambda: ember._C.linear(ember.ones(()), ember.ones(4, 1)), RuntimeError, "at least 1-D"),
    (lambda: ember._C.linear(ember.ones(2, 3), ember.ones(4, 5)), RuntimeError, r"in_features 3 != 5"),
    (lambda: ember._C.linear(ember.ones(2, 3), ember.ones(4, 3, dtype=ember.float64)), RuntimeError, "same dtype"),
    (lambda: ember._C.linear(ember.ones(2, 3), ember.ones(4, 3), ember.ones(4, dtype=ember.float64)), RuntimeError, "bias must have the same dtype"),
    (lambda: ember._C.linear(ember.ones(2, 3), ember.ones(4, 3), ember.ones(5)), RuntimeError, "does not match out_features 4"),
    (lambda: ember._C._set_gemm_isa("sse9"), ValueError, "unknown ISA"),
]


@pytest.mark.parametrize("fn,exc,msg", ERRORS, ids=[str(i) for i in range(len(ERRORS))])
def test_errors(fn, exc, msg):
    with pytest.raises(exc, match=msg):
        fn()


@requires_torch
@pytest.mark.parametrize("name,fn,shapes", [
    ("matmul_broadcast", lambda L, a, b: L.matmul(a, b), [(2, 1, 3, 4), (5, 4, 2)]),
    ("matmul_2d", lambda L, a, b: a @ b, [(3, 4), (4, 5)]),
    ("matmul_1d", lambda L, a, b: L.matmul(a, b), [(4,), (2, 4, 3)]),
    ("addmm", lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2.0), [(5,), (3, 4), (4, 5)]),
    ("baddbmm", lambda L, c, a, b: L.baddbmm(c, a, b, beta=1.5, alpha=-1.0), [(2, 3, 5), (2, 3, 4), (2, 4, 5)]),
    ("linear", lambda L, x, w, b: (L.nn.functional.linear if hasattr(L, "nn") else L._C.linear)(x, w, b),
     [(2, 3, 4), (5, 4), (5,)]),
])
def test_double_backward_vs_torch(name, fn, shapes):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal(s) for s in shapes]
    ex = [E(a).requires_grad_(True) for a in arrays]
    tx = [torch.from_numpy(a.copy()).requires_grad_(True) for a in arrays]
    g = rng.standard_normal(tuple(fn(torch, *tx).shape))
    results = []
    for L, xs, G in [(ember, ex, E(g)), (torch, tx, torch.from_numpy(g.copy()))]:
        out = fn(L, *xs)
        grads = L.autograd.grad(out, xs, G, create_graph=True)
        # a scalar of the first-order grads (products of them exercise every input) -> second order
        s = sum((gr * gr).sum() for gr in grads) + (grads[0].sum() * grads[-1].sum())
        second = L.autograd.grad(s, xs, allow_unused=True)
        results.append([gr.detach().numpy() for gr in grads] +
                       [np.zeros(x.shape) if h is None else h.detach().numpy() for x, h in zip(xs, second)])
    for e, t in zip(*results):
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-10)


# --- einsum --------------------------------------------------------------------------------------
EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("i,j->ij", [(3,), (4,)]), ("ii->", [(4, 4)]), ("ii->i", [(4, 4)]), ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]), ("ij", [(3, 4)]), ("ba", [(3, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (5, 3, 4), (2, 4)]), ("bhqd,bhkd->bhqk", [(2, 3, 5, 4), (2, 3, 6, 4)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]), ("i,i->", [(5,), (5,)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]), ("iij->j", [(3, 3, 4)]), ("ij,jk", [(3, 4), (4, 5)]),
    ("Ab,bC->AC", [(2, 3), (3, 4)]), ("ij,kj->ik", [(3, 1), (4, 5)]),
    ("ij,jk,kl,lm->im", [(2, 3), (3, 4), (4, 5), (5, 2)]), (",ij->ij", [(), (3, 4)]),
    ("...->...", [(2, 3)]), ("i...->...", [(3, 2, 4)]), ("...i,...i", [(2, 3), (3,)]),
    ("ijk,ikj->i", [(2, 3, 4), (2, 4, 3)]), ("ij,jk->", [(3, 4), (4, 5)]),
    ("aab,bcc->ac", [(3, 3, 4), (4, 5, 5)]), ("bi,bi->b", [(1, 4), (3, 4)]), ("ij,j->i", [(3, 0), (0,)]),
    ("i j , j k -> i k", [(3, 4), (4, 5)]),
]


@requires_torch
@pytest.mark.parametrize("eq,shapes", EINSUM_CASES)
def test_einsum_matches_torch(eq, shapes):
    # values and every operand's gradient: diagonals, sums, broadcast size-1 dims and ellipses,
    # implicit outputs (uppercase before lowercase), chains of operands, a 0-d operand
    rng = np.random.default_rng(61)
    arrs = [rng.standard_normal(s) for s in shapes]
    res = []
    g = None
    for L in (ember, torch):
        xs = [L.from_numpy(a.copy()).requires_grad_() for a in arrs]
        y = L.einsum(eq, *xs)
        if g is None:
            g = rng.standard_normal(tuple(y.shape))
        y.backward(L.from_numpy(np.array(g)))
        res.append((y.detach().numpy(), [x.grad.numpy() for x in xs]))
    (ye, ge), (yt, gt) = res
    assert ye.shape == yt.shape
    np.testing.assert_allclose(ye, yt, rtol=1e-12, atol=1e-12)
    for a, b in zip(ge, gt):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_einsum_list_operands_float32_and_errors():
    a = ember.randn(3, 4)
    b = ember.randn(4, 5)
    np.testing.assert_allclose(ember.einsum("ij,jk", [a, b]).numpy(), (a @ b).numpy(), rtol=1e-6)
    assert ember.einsum("ij,jk->ik", a, b).dtype == ember.float32
    for call, match in [
        (lambda: ember.einsum("ij,jk->ik", a), "fewer operands were provided"),
        (lambda: ember.einsum("ij->ij", a, b), "more operands were provided"),
        (lambda: ember.einsum("ijk->i", a), r"number of subscripts in the equation \(3\) does not match"),
        (lambda: ember.einsum("ijk...->i", a), r"is more than the number of dimensions \(2\)"),
        (lambda: ember.einsum("i1->i", a), "invalid subscript '1'"),
        (lambda: ember.einsum("i.j->i", a), "not part of any ellipsis"),
        (lambda: ember.einsum("ij->iz", a), "output subscript z does not appear"),
        (lambda: ember.einsum("ij->ii", a), "output subscript i appears more than once"),
        (lambda: ember.einsum("ii->i", a), "subscript i is repeated for operand 0 but the sizes"),
        (lambda: ember.einsum("ij,ij->ij", a, b), "subscript i has size 3 .* and 4 for operand 1"),
    ]:
        with pytest.raises(RuntimeError, match=match):
            call()


# --- cdist ---------------------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("p", [2.0, 1.0, 0.0, 0.5, 3.0, float("inf")])
@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                                  "donot_use_mm_for_euclid_dist"])
@pytest.mark.parametrize("s1,s2", [((4, 3), (5, 3)), ((2, 30, 3), (2, 40, 3)),
                                   ((2, 1, 6, 4), (3, 7, 4)), ((30, 5), (2, 5))])
def test_cdist_matches_torch(s1, s2, mode, p):
    # distances and both gradients; a pair of equal rows (distance 0: gradient 0) where the
    # batch dims agree; batch dims broadcast
    rng = np.random.default_rng(81)
    a, b = rng.standard_normal(s1), rng.standard_normal(s2)
    if s1[:-2] == s2[:-2]:
        b[..., 0, :] = a[..., 0, :]
    res = []
    g = None
    for L in (ember, torch):
        x1, x2 = L.from_numpy(a.copy()).requires_grad_(), L.from_numpy(b.copy()).requires_grad_()
        d = L.cdist(x1, x2, p=p, compute_mode=mode)
        if g is None:
            g = rng.standard_normal(tuple(d.shape))
        d.backward(L.from_numpy(g.copy()))
        res.append((d.detach().numpy(), x1.grad.numpy(), x2.grad.numpy()))
    for e, t in zip(*res):
        np.testing.assert_allclose(e, t, rtol=1e-9, atol=1e-9)


def test_cdist_errors_float32_and_no_second_derivative():
    a = ember.randn(4, 3, requires_grad=True)
    d = ember.cdist(a, ember.randn(5, 3))
    assert d.dtype == ember.float32 and d.shape == (4, 5)
    (g,) = ember.autograd.grad(d.sum(), a, create_graph=True)  # the first derivative exists
    with pytest.raises(RuntimeError, match="derivative for '_cdist_backward' is not implemented"):
        g.sum().backward()
    for call, exc, match in [
        (lambda: ember.cdist(ember.randn(3), ember.randn(3)), RuntimeError, "at least 2D tensors, X1 got: 1D"),
        (lambda: ember.cdist(ember.randn(3, 4), ember.randn(3, 5)), RuntimeError,
         "same number of columns. X1: 4 X2: 5"),
        (lambda: ember.cdist(ember.randn(3, 4), ember.randn(3, 4), p=-1), RuntimeError, "non-negative p"),
        (lambda: ember.cdist(ember.ones(3, 4, dtype=ember.int64), ember.ones(3, 4, dtype=ember.int64)),
         RuntimeError, "floating-point dtypes, X1 got: int64"),
        (lambda: ember.cdist(ember.randn(3, 4), ember.randn(3, 4), compute_mode="foo"), ValueError,
         "foo is not a valid value for compute_mode"),
        (lambda: ember.cdist(ember.randn(2, 3, 4), ember.randn(3, 3, 4)), RuntimeError, "do not broadcast"),
    ]:
        with pytest.raises(exc, match=match):
            call()

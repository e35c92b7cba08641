"""The fast paths (r1lib/kernels.py and the speed-ups in pass_at_k / maj_at_k) against the plain
formulas: same values, same masks and infinities, same errors, no warnings, bounded memory."""
from __future__ import annotations

import itertools
import math
import tracemalloc
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import r1lib
from r1lib import kernels
from test_core_metrics import brute_maj_at_k  # the one brute-force reference

inf, nan = np.inf, np.nan
# The kernels themselves, kept before any test switches them off in r1lib.kernels.
KL_FAST = kernels.kl_from_logits_rows
K3_FAST = kernels.kl_k3_blocks


@pytest.fixture
def plain(monkeypatch):
    """Run the public functions with the kernels switched off: the plain formulas they keep."""
    monkeypatch.setattr(kernels, "kl_from_logits_rows", lambda *args, **kwargs: None)
    monkeypatch.setattr(kernels, "kl_k3_blocks", lambda *args, **kwargs: None)


def _plain_kl(a, b, t, axis=-1):
    """The simple formula, independent of r1lib: sum p (log p - log q) in long double.

    Which classes count (p_i > 0) is decided in the input's own precision, r1lib's documented
    convention: a teacher probability that underflows to 0 there (e^-749 in float64) contributes
    0 even where the student masks the class, rather than making the divergence infinite."""
    dtype = np.result_type(np.asarray(a).dtype, np.float32)
    a = np.asarray(a, np.longdouble) / np.longdouble(t)
    b = np.asarray(b, np.longdouble) / np.longdouble(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        logp = a - np.max(a, axis, keepdims=True)
        logp = logp - np.log(np.sum(np.exp(logp), axis, keepdims=True))
        logq = b - np.max(b, axis, keepdims=True)
        logq = logq - np.log(np.sum(np.exp(logq), axis, keepdims=True))
        p = np.exp(logp)
        terms = np.where(np.exp(logp.astype(dtype)) > 0, p * (logp - logq), 0.0)
    return np.sum(terms, axis).astype(np.float64)


def _strict(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


# ------------------------------------------------------------------------ KL from logits kernel

def _kl_cases():
    rng = np.random.default_rng(11)
    yield "random", rng.normal(scale=3, size=(6, 300)), rng.normal(scale=3, size=(6, 300)), 2.0
    x = rng.normal(scale=2, size=(5, 64))
    yield "nearly equal", x, x + 1e-4 * rng.normal(size=x.shape), 1.0
    yield "equal", x, x.copy(), 1.5
    yield "huge logits", 1e4 * rng.normal(size=(4, 50)), 1e4 * rng.normal(size=(4, 50)), 1.0
    yield "T tiny", rng.normal(size=(4, 50)), rng.normal(size=(4, 50)), 1e-3
    yield "T huge", rng.normal(size=(4, 50)), rng.normal(size=(4, 50)), 1e4
    yield "one class", rng.normal(size=(3, 1)), rng.normal(size=(3, 1)), 1.0
    a, b = rng.normal(size=(6, 40)), rng.normal(size=(6, 40))
    a[0, :5] = -inf                   # masked for the teacher only: contributes 0
    a[1, :5] = b[1, :5] = -inf        # masked for both
    b[2, 7] = -inf                    # masked for the student only: +inf
    a[3, :39] = -inf                  # one class left for the teacher
    a[4, 3], b[4, 3] = -inf, -inf
    b[4, 9] = -inf
    a[4, 9] = -1e5                    # p underflows to 0 where the student is masked: 0
    yield "masks", a, b, 0.7


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(_kl_cases()), ids=lambda c: c[0])
def test_kl_kernel_matches_plain_path_and_long_double_reference(case, dtype, plain):
    _, a, b, t = case
    a, b = a.astype(dtype), b.astype(dtype)
    ref = _plain_kl(a.astype(np.float64), b.astype(np.float64), t)
    # block_elements=1 gives one row per block; the default puts every row in one block.
    for block in (1, 7 * a.shape[1], kernels.BLOCK_ELEMENTS):
        fast = _strict(KL_FAST, a, b, t, -1, block_elements=block)
        assert fast is not None and fast.dtype == dtype and fast.shape == a.shape[:-1]
        assert np.array_equal(np.isinf(fast), np.isinf(ref))
        finite = np.isfinite(ref)
        rtol = 1e-4 if dtype == np.float32 else 1e-9
        np.testing.assert_allclose(fast[finite], ref[finite], rtol=rtol, atol=1e-6 if dtype == np.float32 else 1e-12)
    slow = _strict(r1lib.kl_from_logits, a, b, t)  # the plain path (fixture)
    assert slow.dtype == fast.dtype
    np.testing.assert_allclose(fast, slow, rtol=1e-4 if dtype == np.float32 else 1e-9,
                               atol=1e-6 if dtype == np.float32 else 1e-12)
    assert np.array_equal(np.isinf(fast), np.isinf(slow))


def test_kl_kernel_keeps_the_small_divergence_of_nearly_equal_distributions():
    a = np.array([3.0, 1.0, -2.0, 0.5])
    d = np.array([1e-6, -2e-6, 0.0, 5e-7])
    p = special.softmax(a)
    expected = 0.5 * (np.sum(p * d**2) - np.sum(p * d) ** 2)  # second order in d
    assert KL_FAST(a, a + d, 1.0, -1) == pytest.approx(expected, rel=1e-4)


@st.composite
def logit_pairs(draw):
    shape = draw(st.tuples(st.integers(1, 4), st.integers(1, 30)))
    elements = st.floats(-30, 30) | st.just(-inf)
    return draw(hnp.arrays(np.float64, shape, elements=elements)), draw(hnp.arrays(np.float64, shape, elements=elements))


@given(logit_pairs(), st.floats(0.05, 50), st.integers(1, 200))
@settings(max_examples=200, deadline=None)
def test_kl_kernel_property_against_reference(pair, t, block):
    a, b = pair
    fast = _strict(KL_FAST, a, b, t, -1, block_elements=block)
    if np.isneginf(a).all(-1).any() or np.isneginf(b).all(-1).any():
        assert fast is None  # no distribution in that row: the plain path raises
        return
    ref = _plain_kl(a, b, t)
    assert np.array_equal(np.isinf(fast), np.isinf(ref))
    np.testing.assert_allclose(fast[np.isfinite(ref)], ref[np.isfinite(ref)], rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
def test_kl_kernel_any_axis_and_non_contiguous_input(axis):
    rng = np.random.default_rng(12)
    a = rng.normal(size=(5, 6, 7))
    b = np.asfortranarray(rng.normal(size=(5, 6, 7)))
    fast = KL_FAST(a, b, 1.3, axis, block_elements=10)
    np.testing.assert_allclose(fast, _plain_kl(a, b, 1.3, axis), rtol=1e-10)
    strided = a[:, ::2, :]
    np.testing.assert_allclose(KL_FAST(strided, strided[::-1], 2.0, axis),
                               _plain_kl(strided, strided[::-1], 2.0, axis), rtol=1e-10)


def test_kl_kernel_temperature_beyond_float32_is_uniform_like_the_plain_path(plain):
    """T = 1e39 is inf in float32, so z/T = 0: both distributions uniform, KL 0, no warning."""
    a = np.array([[1.0, 5.0, -3.0]], np.float32)
    b = np.array([[0.0, 2.0, 7.0]], np.float32)
    fast = _strict(KL_FAST, a, b, 1e39, -1)
    np.testing.assert_array_equal(fast, _strict(r1lib.kl_from_logits, a, b, 1e39))
    assert fast[0] == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_kernel_threads_give_bit_identical_rows(dtype):
    rng = np.random.default_rng(19)
    a = rng.normal(scale=4, size=(2, 3, 2000)).astype(dtype)
    b = rng.normal(scale=4, size=(2, 3, 2000)).astype(dtype)
    a[1, 2, :10] = -inf  # a masked row in the second half
    one = KL_FAST(a, b, 1.7, -1, block_elements=4000, threads=1)
    for threads in (2, 3, 6, 50):
        np.testing.assert_array_equal(KL_FAST(a, b, 1.7, -1, block_elements=4000, threads=threads), one)
    bad = a.copy()
    bad[1, 2, 5] = nan  # only the last thread's rows see it
    assert _strict(KL_FAST, bad, b, 1.7, -1, threads=3) is None


def test_worker_threads(monkeypatch):
    big = kernels.PARALLEL_MIN_ELEMENTS
    monkeypatch.delenv("R1LIB_NUM_THREADS", raising=False)
    assert kernels.worker_threads(32, big - 1) == 1  # small input: no threads
    assert kernels.worker_threads(1, 10 * big) == 1  # one row: nothing to split
    assert 1 <= kernels.worker_threads(32, big) <= 8
    assert kernels.worker_threads(3, big) <= 3
    monkeypatch.setenv("R1LIB_NUM_THREADS", "1")
    assert kernels.worker_threads(32, 10 * big) == 1
    monkeypatch.setenv("R1LIB_NUM_THREADS", "4")
    assert kernels.worker_threads(32, 10 * big) == 4
    assert kernels.worker_threads(2, 10 * big) == 2
    for bad in ("0", "two", "-1", "1.5"):
        monkeypatch.setenv("R1LIB_NUM_THREADS", bad)
        with pytest.raises(ValueError, match="R1LIB_NUM_THREADS"):
            kernels.worker_threads(32, 10 * big)


def test_kl_kernel_one_dimensional_input_gives_a_scalar_like_the_plain_path(plain):
    a, b = np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])
    fast = KL_FAST(a, b, 1.0, 0)
    slow = r1lib.kl_from_logits(a, b)
    assert type(fast) is type(slow) is np.float64
    assert fast == pytest.approx(slow, rel=1e-14)
    f32 = KL_FAST(a.astype(np.float32), b.astype(np.float32), 1.0, -1)
    assert type(f32) is np.float32


DECLINED = {
    "list": ([[1.0, 2.0]], [[2.0, 1.0]], 1.0, -1),
    "int dtype": (np.array([[1, 2]]), np.array([[2, 1]]), 1.0, -1),
    "float16": (np.ones((2, 3), np.float16), np.ones((2, 3), np.float16), 1.0, -1),
    "mixed dtypes": (np.ones((2, 3), np.float32), np.ones((2, 3)), 1.0, -1),
    "shapes differ": (np.ones((2, 3)), np.ones((2, 4)), 1.0, -1),
    "broadcast": (np.ones((2, 3)), np.ones((1, 3)), 1.0, -1),
    "0-d": (np.array(1.0), np.array(1.0), 1.0, -1),
    "empty": (np.ones((0, 3)), np.ones((0, 3)), 1.0, -1),
    "NaN": (np.array([[nan, 1.0]]), np.array([[0.0, 1.0]]), 1.0, -1),
    "+inf": (np.array([[0.0, 1.0]]), np.array([[inf, 1.0]]), 1.0, -1),
    "all masked": (np.array([[-inf, -inf], [0.0, 1.0]]), np.ones((2, 2)), 1.0, -1),
    "overflowing T": (np.array([[1e300, 0.0]]), np.zeros((1, 2)), 1e-10, -1),
    "T below float32": (np.ones((1, 2), np.float32), np.zeros((1, 2), np.float32), 1e-40, -1),
    "T = 0": (np.ones((1, 2)), np.ones((1, 2)), 0.0, -1),
    "T bool": (np.ones((1, 2)), np.ones((1, 2)), True, -1),
    "T str": (np.ones((1, 2)), np.ones((1, 2)), "2", -1),
    "T NaN": (np.ones((1, 2)), np.ones((1, 2)), nan, -1),
    "axis out of range": (np.ones((1, 2)), np.ones((1, 2)), 1.0, 2),
    "axis float": (np.ones((1, 2)), np.ones((1, 2)), 1.0, 1.0),
}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix: a subclass on purpose
    DECLINED["matrix subclass"] = (np.matrix([[1.0, 2.0]]), np.matrix([[2.0, 1.0]]), 1.0, -1)


@pytest.mark.parametrize("args", DECLINED.values(), ids=DECLINED.keys())
def test_kl_kernel_declines_what_it_does_not_handle_and_errors_are_the_plain_ones(args, monkeypatch):
    """Anything unusual or invalid goes to the plain path, so every error message is its own."""
    assert _strict(KL_FAST, *args) is None
    _assert_same_outcome_without_kernel(
        lambda: r1lib.distillation_loss(*args[:3], axis=args[3], reduction="none"),
        "kl_from_logits_rows", monkeypatch)


def _assert_same_outcome_without_kernel(call, kernel_name, monkeypatch):
    """``call()`` returns the same values, or raises the same error, with the kernel switched off."""
    def outcome():
        try:
            return "ok", call()
        except Exception as exc:  # noqa: BLE001 - comparing whatever the plain path does
            return type(exc), str(exc)

    with_kernel = outcome()
    monkeypatch.setattr(kernels, kernel_name, lambda *a, **k: None)
    without = outcome()
    assert with_kernel[0] == without[0]
    if with_kernel[0] == "ok":
        np.testing.assert_array_equal(with_kernel[1], without[1])
    else:
        assert with_kernel[1] == without[1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_distillation_loss_peak_memory_is_bounded(dtype):
    """The issue's memory target: peak extra memory <= 3x one input (here it is a small fraction)."""
    rng = np.random.default_rng(13)
    zt = rng.normal(size=(8, 152_064)).astype(dtype)
    zs = rng.normal(size=(8, 152_064)).astype(dtype)
    tracemalloc.start()
    try:
        out = r1lib.distillation_loss(zt, zs, 2.0, reduction="none")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (8,)
    assert peak <= 3 * zt.nbytes, (peak, zt.nbytes)
    np.testing.assert_allclose(out, 4.0 * _plain_kl(zt, zs, 2.0), rtol=1e-4)


def test_distillation_loss_uses_the_kernel_for_arrays_and_agrees_with_plain(monkeypatch):
    rng = np.random.default_rng(14)
    zt, zs = rng.normal(size=(3, 500)).astype(np.float32), rng.normal(size=(3, 500)).astype(np.float32)
    calls = []
    real = KL_FAST
    monkeypatch.setattr(kernels, "kl_from_logits_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
    for reduction in ("none", "mean", "sum"):
        fast = r1lib.distillation_loss(zt, zs, 3.0, reduction=reduction)
        monkeypatch.setattr(kernels, "kl_from_logits_rows", lambda *a, **k: None)
        slow = r1lib.distillation_loss(zt, zs, 3.0, reduction=reduction)
        monkeypatch.setattr(kernels, "kl_from_logits_rows", lambda *a, **k: calls.append(1) or real(*a, **k))
        np.testing.assert_allclose(fast, slow, rtol=1e-5)
        assert type(fast) is type(slow)
    assert len(calls) == 3


# ---------------------------------------------------------------------------------- k3 kernel

def _k3_reference(lp, ref):
    lr = np.asarray(ref, np.longdouble) - np.asarray(lp, np.longdouble)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(np.isneginf(lr), inf, np.expm1(lr) - lr).astype(np.float64)


@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.float32, np.float32),
                                    (np.float32, np.float64), (np.float64, np.float32)])
@pytest.mark.parametrize("block", [1, 5, 1000, None])
def test_k3_kernel_matches_plain_path(dtypes, block, plain):
    rng = np.random.default_rng(15)
    lp = -rng.exponential(size=(7, 33))
    ref = np.minimum(lp + rng.normal(scale=0.3, size=lp.shape), 0.0)
    ref[0, :3] = -inf                        # forbidden by the reference: +inf
    ref[1, :3] = lp[1, :3] + [1e-9, -1e-9, 1e-5]  # tiny log-ratios keep their tiny k3
    lp[2, 0], ref[2, 0] = -800.0, 0.0         # r = e^800: +inf in float32 and float64
    lp, ref = lp.astype(dtypes[0]), ref.astype(dtypes[1])
    kwargs = {} if block is None else {"block_elements": block}
    fast = _strict(K3_FAST, lp, ref, **kwargs)
    slow = _strict(r1lib.kl_k3, lp, ref)
    assert fast.dtype == slow.dtype and fast.shape == slow.shape
    np.testing.assert_array_equal(fast, slow)  # same operations, element by element
    expected = _k3_reference(lp, ref)
    finite = np.isfinite(expected) & np.isfinite(fast)
    # expm1(x) - x carries an absolute rounding error of a few ulps of x (and of expm1(x)).
    eps = np.finfo(fast.dtype).eps
    lr = np.abs(ref.astype(np.float64) - lp.astype(np.float64))
    tol = 4 * eps * (expected + lr)
    assert np.all(np.abs(fast[finite] - expected[finite]) <= tol[finite])
    assert np.array_equal(np.isinf(fast), np.isinf(expected))
    assert np.isinf(fast[0, :3]).all() and np.isinf(fast[2, 0])
    assert np.all(fast >= 0)


def test_k3_kernel_scalar_like_output_and_non_contiguous_input(plain):
    lp, ref = np.array(-1.0), np.array(-1.5)
    fast = K3_FAST(lp, ref)
    assert type(fast) is type(r1lib.kl_k3(lp, ref))
    assert fast == r1lib.kl_k3(lp, ref)
    rng = np.random.default_rng(16)
    big = -rng.exponential(size=(10, 12))
    a, b = big[::2, ::3], np.asfortranarray(big[1::2, ::3])
    np.testing.assert_array_equal(K3_FAST(a, b, block_elements=4), r1lib.kl_k3(a, b))


K3_DECLINED = {
    "list": ([-1.0], [-2.0]),
    "broadcast": (np.full((2, 3), -1.0), np.full(3, -2.0)),
    "int": (np.array([-1]), np.array([-2])),
    "NaN in logp": (np.array([-1.0, nan]), np.array([-1.0, -1.0])),
    "NaN in ref": (np.array([-1.0, -1.0]), np.array([nan, -1.0])),
    "logp -inf": (np.array([-inf, -1.0]), np.array([-1.0, -1.0])),
    "logp > 0": (np.array([0.5, -1.0]), np.array([-1.0, -1.0])),
    "ref > 0": (np.array([-1.0, -1.0]), np.array([-1.0, 0.1])),
    "ref +inf": (np.array([-1.0, -1.0]), np.array([-1.0, inf])),
    "empty": (np.zeros(0), np.zeros(0)),
}


@pytest.mark.parametrize("args", K3_DECLINED.values(), ids=K3_DECLINED.keys())
def test_k3_kernel_declines_and_errors_are_the_plain_ones(args, monkeypatch):
    assert _strict(K3_FAST, *args) is None
    _assert_same_outcome_without_kernel(lambda: r1lib.kl_k3(*args), "kl_k3_blocks", monkeypatch)


@pytest.mark.parametrize("bad, ref_value, message", [(0.5, -1.0, "logp holds log-probabilities"),
                                                     (-inf, -1.0, "logp contains -inf"),
                                                     (-inf, -inf, "logp contains -inf"),
                                                     (nan, -1.0, "logp contains NaN")])
def test_k3_invalid_value_in_a_late_block_is_still_caught(bad, ref_value, message):
    lp = np.full(10, -1.0)
    lp[-1] = bad
    ref = np.full(10, -1.0)
    ref[-1] = ref_value
    assert _strict(K3_FAST, lp, ref, block_elements=3) is None
    with pytest.raises(ValueError, match=message):
        _strict(r1lib.kl_k3, lp, ref)


# ------------------------------------------------------------------------ pass@k lookup table

def test_pass_at_k_table_is_bit_identical_to_the_product():
    rng = np.random.default_rng(17)
    for n, k in ((64, 8), (16, 16), (200, 1), (7, 3)):
        c = rng.integers(0, n + 1, size=5 * (n + 2))
        table_path = r1lib.pass_at_k(n, c, k)
        per_problem = np.array([r1lib.pass_at_k(n, int(ci), k) for ci in c])  # no table: size 1
        np.testing.assert_array_equal(table_path, per_problem)
        np.testing.assert_array_equal(r1lib.pass_at_k(np.full(c.shape, n), c, np.full(c.shape, k)),
                                      per_problem)
        for ci in np.unique(c)[:10]:
            exact = 1 - Fraction(math.comb(n - int(ci), k), math.comb(n, k))
            assert abs(table_path[c == ci][0] - float(exact)) < 1e-12


def test_pass_at_k_table_keeps_shape_and_is_skipped_when_n_or_k_vary():
    c = np.arange(66).reshape(6, 11) % 65
    out = r1lib.pass_at_k(64, c, 8)
    assert out.shape == (6, 11) and out.dtype == np.float64
    ks = np.tile([1, 8], 60)
    mixed = r1lib.pass_at_k(64, np.arange(120) % 65, ks)
    np.testing.assert_array_equal(mixed, [r1lib.pass_at_k(64, int(ci), int(ki))
                                          for ci, ki in zip(np.arange(120) % 65, ks)])


# -------------------------------------------------------------------------------- maj@k speed-up


@pytest.mark.parametrize("ties", ["split", "wrong", "first"])
def test_maj_at_k_every_answer_list_up_to_n_5(ties):
    """Exhaustive over every list of length <= 5 drawn from {g, a, b, None}: all class-count
    patterns, orders (for "first") and the gold-wins-outright shortcut."""
    for n in range(1, 6):
        for answers in itertools.product(["g", "a", "b", None], repeat=n):
            got = r1lib.maj_at_k(list(answers), "g", range(1, n + 1), ties=ties)
            for k in range(1, n + 1):
                assert got[k - 1] == pytest.approx(float(brute_maj_at_k(answers, "g", k, ties)), abs=1e-12)


@given(st.lists(st.sampled_from(["g", "g", "g", "a", "a", "b", "c", "d", "e", None]), min_size=1, max_size=11),
       st.sampled_from(["split", "wrong", "first"]), st.data())
@settings(max_examples=120, deadline=None)
def test_maj_at_k_truncated_k_against_brute_force(answers, ties, data):
    """A single k (so polynomials are truncated below degree n) and a few ks at once."""
    n = len(answers)
    k = data.draw(st.integers(1, n))
    assert r1lib.maj_at_k(answers, "g", k, ties) == pytest.approx(float(brute_maj_at_k(answers, "g", k, ties)), abs=1e-12)
    ks = sorted(set(data.draw(st.lists(st.integers(1, n), min_size=1, max_size=3))))
    got = r1lib.maj_at_k(answers, "g", ks, ties)
    for kk, g in zip(ks, got):
        assert g == pytest.approx(float(brute_maj_at_k(answers, "g", kk, ties)), abs=1e-12)


def test_maj_at_k_n_64_matches_monte_carlo_for_every_policy():
    """Beyond brute force: n = 64 with several classes, against the subsets' average estimated
    by sampling (independent of the combinatorics)."""
    rng = np.random.default_rng(18)
    answers = list(rng.choice(["g"] * 3 + ["a"] * 2 + ["b", "c", None], size=64))
    k = 7
    subs = [rng.choice(64, size=k, replace=False) for _ in range(6000)]
    for ties in ("split", "wrong", "first"):
        exact = r1lib.maj_at_k(answers, "g", range(1, 65), ties)[k - 1]
        sims = []
        for sub in subs:
            votes: dict = {}
            for i in np.sort(sub):
                if answers[i] is not None:
                    votes[answers[i]] = votes.get(answers[i], 0) + 1
            best = max(votes.values()) if votes else 0
            leaders = [a for a, v in votes.items() if v == best]
            credit = 0.0
            if "g" in leaders:
                credit = {"split": 1 / len(leaders), "wrong": float(len(leaders) == 1),
                          "first": float(leaders[0] == "g")}[ties]
            sims.append(credit)
        assert abs(np.mean(sims) - exact) < 4 * np.std(sims) / np.sqrt(len(sims)) + 1e-3, ties

"""r1lib.passk_advantage: Chen et al.'s (arXiv:2508.10751) analytical pass@k advantage against a
brute-force enumeration of every k-subset of the group, against the paper's formula re-derived
here with exact integer binomials, and against GRPO at k = 1; its properties (sum zero, signs,
GRPO times one factor per group) and its bad input."""
from __future__ import annotations

import itertools
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import r1lib
from r1lib.passk_advantage import passk_advantages


def brute_force(rewards, k):
    """Full enumeration: every k-subset gets reward max(r_S); the subset rewards are standardised
    over all C(N, k) subsets (population std; all-equal -> 0); a response's advantage is the
    mean over the subsets that contain it."""
    rewards = list(rewards)
    subsets = list(itertools.combinations(range(len(rewards)), k))
    value = np.array([max(rewards[i] for i in s) for s in subsets], dtype=float)
    std = value.std()
    adv = np.zeros_like(value) if std == 0 else (value - value.mean()) / std
    return np.array([np.mean([a for s, a in zip(subsets, adv) if i in s]) for i in range(len(rewards))])


def paper_formula(n, c, k):
    """The paper's (and its repository's README) closed form, in exact fractions of integer
    binomials up to the one square root."""
    neg = n - c
    mean = 1 - Fraction(math.comb(neg, k), math.comb(n, k))
    if mean in (0, 1):
        return 0.0, 0.0
    sigma = math.sqrt(mean * (1 - mean))
    a_pos = float(1 - mean) / sigma
    a_neg = float(1 - mean - Fraction(math.comb(neg - 1, k - 1), math.comb(n - 1, k - 1))) / sigma
    return a_pos, a_neg


@pytest.mark.parametrize("n", range(1, 9))
def test_equals_the_enumeration_of_every_subset(n):
    for c in range(n + 1):
        rewards = np.r_[np.ones(c), np.zeros(n - c)]
        for order in (rewards, rewards[::-1]):
            for k in range(1, n + 1):
                assert np.allclose(passk_advantages(order, k), brute_force(order, k), rtol=1e-12, atol=1e-12), (n, c, k)


def test_equals_the_papers_closed_form_with_exact_binomials():
    for n in (2, 5, 16, 33, 64):
        for c in range(n + 1):
            rewards = np.r_[np.ones(c), np.zeros(n - c)]
            for k in sorted({1, 2, 4, 8, n // 2 or 1, n}):
                if k > n:
                    continue
                a_pos, a_neg = paper_formula(n, c, k)
                got = passk_advantages(rewards, k)
                assert np.allclose(got[:c], a_pos, rtol=1e-10, atol=1e-13), (n, c, k)
                assert np.allclose(got[c:], a_neg, rtol=1e-10, atol=1e-13), (n, c, k)


def test_k_equal_one_is_grpo_with_the_population_std():
    rng = np.random.default_rng(0)
    rewards = (rng.random((50, 12)) < rng.random((50, 1))).astype(float)
    assert np.allclose(passk_advantages(rewards, 1), r1lib.group_advantages(rewards, ddof=0, eps=0.0),
                       rtol=1e-12, atol=1e-14)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
@example((39, 15, 24))
def test_sum_zero_signs_and_grpo_reweighted(nck):
    """Advantages sum to 0; correct >= 0 >= wrong; and, re-derived here, the pass@k advantage is
    GRPO's (ddof=0) times w = q sigma_1 / sigma with q = C(N_neg-1, k-1)/C(N-1, k-1)."""
    n, c, k = nck
    rewards = np.r_[np.ones(c), np.zeros(n - c)]
    adv = passk_advantages(rewards, k)
    assert abs(adv.sum()) < 1e-9 * max(1.0, np.abs(adv).max())
    assert np.all(adv[:c] >= 0) and np.all(adv[c:] <= 0)
    neg = n - c
    if c == 0 or neg < k:
        assert np.all(adv == 0)
        return
    # Exact fractions: 1 - R = C(N_neg, k)/C(N, k) can be ~1e-11, and a float 1 - R computed as
    # 1 - (1 - ...) would keep only ~5 digits of it (hypothesis found (39, 15, 24) in CI).
    fail_all = Fraction(math.comb(neg, k), math.comb(n, k))
    q = Fraction(math.comb(neg - 1, k - 1), math.comb(n - 1, k - 1))
    p_hat = Fraction(c, n)
    w = float(q) * math.sqrt(float(p_hat * (1 - p_hat)) / float(fail_all * (1 - fail_all)))
    assert np.allclose(adv, w * r1lib.group_advantages(rewards, ddof=0, eps=0.0), rtol=1e-9, atol=1e-12)


def test_the_group_mean_is_the_unbiased_pass_at_k():
    """sum over correct of A_pos * sigma = c (1 - R), so R can be read back: it is pass_at_k."""
    n, k = 16, 4
    for c in range(1, n - k + 1):
        rewards = np.r_[np.ones(c), np.zeros(n - c)]
        a_pos, a_neg = passk_advantages(rewards, k)[[0, -1]]
        # A_pos / |A_neg| = N_neg / c (as in GRPO) and (1 - R) / sigma = A_pos:
        assert math.isclose(a_pos / -a_neg, (n - c) / c, rel_tol=1e-12)
        R = r1lib.pass_at_k(n, c, k)
        assert math.isclose(a_pos, (1 - R) / math.sqrt(R * (1 - R)), rel_tol=1e-12)


def test_batches_axes_dtypes_and_no_warnings():
    rng = np.random.default_rng(1)
    batch = (rng.random((3, 7, 10)) < 0.3).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = passk_advantages(batch, 3)
        along = passk_advantages(np.moveaxis(batch, -1, 1), 3, axis=1)
    assert np.array_equal(np.moveaxis(along, 1, -1), got)
    for idx in np.ndindex(batch.shape[:-1]):
        assert np.allclose(got[idx], brute_force(batch[idx], 3), rtol=1e-12, atol=1e-12)
    assert np.array_equal(passk_advantages(batch.astype(bool), 3), got)
    assert passk_advantages(batch.astype(np.float32), 3).dtype == np.float32
    # large groups: no overflow, no float binomial (C(1024, 512) is beyond float64)
    big = np.r_[np.ones(3), np.zeros(1021)]
    adv = passk_advantages(big, 512)
    assert np.all(np.isfinite(adv)) and abs(adv.sum()) < 1e-9


@pytest.mark.parametrize("rewards, k, axis, error, match", [
    ([1.0, 0.5, 0.0], 1, -1, ValueError, "binary"),
    ([1.0, 2.0], 1, -1, ValueError, "binary"),
    ([1.0, 0.0], 3, -1, ValueError, "1 <= k <= N = 2"),
    ([1.0, 0.0], 0, -1, ValueError, "k must be"),
    ([1.0, 0.0], 1.5, -1, ValueError, "k must be"),
    ([1.0, 0.0], True, -1, ValueError, "k must be"),
    ([1.0, np.nan], 1, -1, ValueError, "rewards"),
    ("10", 1, -1, TypeError, "rewards"),
    ([], 1, -1, ValueError, "rewards"),
    ([1.0, 0.0], 1, 1, ValueError, "axis"),
])
def test_bad_input_names_the_parameter(rewards, k, axis, error, match):
    with pytest.raises(error, match=match):
        passk_advantages(rewards, k, axis=axis)


def test_exported_from_r1lib():
    assert r1lib.passk_advantages is passk_advantages

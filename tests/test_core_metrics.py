"""pass@k and maj@k against exact rational arithmetic and brute-force subset enumeration."""
from __future__ import annotations

import itertools
import math
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import r1lib


def exact_pass_at_k(n, c, k):
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


def brute_pass_at_k(n, c, k):
    samples = [1] * c + [0] * (n - c)
    hits = [any(samples[i] for i in sub) for sub in itertools.combinations(range(n), k)]
    return Fraction(sum(hits), len(hits))


@st.composite
def nck(draw, max_n=12):
    n = draw(st.integers(1, max_n))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


@given(nck())
@settings(max_examples=200, deadline=None)
def test_pass_at_k_equals_brute_force(args):
    n, c, k = args
    assert r1lib.pass_at_k(n, c, k) == pytest.approx(float(brute_pass_at_k(n, c, k)), abs=1e-14)


@pytest.mark.parametrize("n", [100, 1000, 2000, 10_000])
def test_pass_at_k_exact_for_large_n(n):
    rng = np.random.default_rng(n)
    cs = rng.integers(0, n + 1, size=25)
    ks = rng.integers(1, n + 1, size=25)
    got = r1lib.pass_at_k(n, cs, ks)
    for g, c, k in zip(got, cs, ks):
        assert abs(g - float(exact_pass_at_k(n, int(c), int(k)))) < 1e-12, (n, c, k)


def test_float_binomials_would_overflow_but_we_do_not():
    from scipy.special import comb
    assert math.isinf(comb(2000, 1000))  # what a float-binomial implementation would divide
    with pytest.raises(OverflowError):
        float(math.comb(2000, 1000))
    assert r1lib.pass_at_k(2000, 3, 1000) == pytest.approx(float(exact_pass_at_k(2000, 3, 1000)), abs=1e-15)


@given(nck(max_n=40))
@settings(max_examples=200, deadline=None)
def test_pass_at_k_identities_and_monotonicity(args):
    n, c, k = args
    assert r1lib.pass_at_k(n, c, 1) == pytest.approx(c / n, abs=1e-15)
    if c == 1:
        assert r1lib.pass_at_k(n, 1, k) == pytest.approx(k / n, abs=1e-14)
    if k < n:
        assert r1lib.pass_at_k(n, c, k + 1) >= r1lib.pass_at_k(n, c, k) - 1e-15
    if c < n:
        assert r1lib.pass_at_k(n, c + 1, k) >= r1lib.pass_at_k(n, c, k) - 1e-15
    if n - c < k:
        assert r1lib.pass_at_k(n, c, k) == 1.0
    if c == 0:
        assert r1lib.pass_at_k(n, 0, k) == 0.0


def test_pass_at_k_is_vectorised_and_broadcasts():
    rng = np.random.default_rng(5)
    n = np.full(100_000, 64)
    c = rng.integers(0, 65, size=100_000)
    out = r1lib.pass_at_k(n, c, 8)
    assert out.shape == (100_000,)
    for i in rng.integers(0, 100_000, size=50):
        assert abs(out[i] - float(exact_pass_at_k(64, int(c[i]), 8))) < 1e-12
    grid = r1lib.pass_at_k(10, np.arange(11)[:, None], np.arange(1, 11)[None, :])
    assert grid.shape == (11, 10)
    assert isinstance(r1lib.pass_at_k(5, 2, 2), float)
    assert r1lib.pass_at_k(np.int32(5), np.uint8(2), 2.0) == pytest.approx(0.7)


def test_plug_in_estimator_is_biased():
    """1 - (1 - c/n)^k is not pass@k; e.g. n=4, c=1, k=2: plug-in 7/16, unbiased 1/2."""
    assert r1lib.pass_at_k(4, 1, 2) == 0.5
    assert 1 - (1 - 1 / 4) ** 2 == pytest.approx(7 / 16)


# ----------------------------------------------------------------------------- majority vote

def brute_maj_at_k(answers, gold, k, ties):
    total, count = Fraction(0), 0
    for sub in itertools.combinations(range(len(answers)), k):
        count += 1
        votes = {}
        for i in sub:
            if answers[i] is not None:
                votes[answers[i]] = votes.get(answers[i], 0) + 1
        if not votes:
            continue
        best = max(votes.values())
        leaders = [a for a, v in votes.items() if v == best]  # in first-occurrence order
        if gold not in leaders:
            continue
        if ties == "split":
            total += Fraction(1, len(leaders))
        elif ties == "wrong":
            total += len(leaders) == 1
        else:
            total += leaders[0] == gold
    return total / count


answer_lists = st.lists(st.sampled_from(["a", "b", "c", "d", None, 7]), min_size=1, max_size=10)


@given(answer_lists, st.sampled_from(["split", "wrong", "first"]))
@settings(max_examples=150, deadline=None)
def test_maj_at_k_equals_brute_force(answers, ties):
    n = len(answers)
    got = r1lib.maj_at_k(answers, "a", range(1, n + 1), ties=ties)
    for k in range(1, n + 1):
        assert got[k - 1] == pytest.approx(float(brute_maj_at_k(answers, "a", k, ties)), abs=1e-12)
    assert r1lib.maj_at_k(answers, "a", n, ties=ties) == pytest.approx(got[-1], abs=1e-15)


def test_maj_at_k_special_cases():
    answers = ["x", "y", "x", "z", "y", "x"]
    # k = 1: the fraction of samples equal to gold, whatever the tie policy.
    for ties in ("split", "wrong", "first"):
        assert r1lib.maj_at_k(answers, "x", 1, ties) == pytest.approx(0.5)
        assert r1lib.maj_at_k(answers, "w", 3, ties) == 0.0
    # k = n: the full vote; "first" agrees with majority_vote.
    assert r1lib.maj_at_k(answers, "x", 6) == 1.0
    tied = ["y", "x", "x", "y"]
    assert r1lib.maj_at_k(tied, "x", 4, "split") == 0.5
    assert r1lib.maj_at_k(tied, "x", 4, "wrong") == 0.0
    assert r1lib.maj_at_k(tied, "x", 4, "first") == float(r1lib.majority_vote(tied) == "x") == 0.0
    assert r1lib.maj_at_k(tied, "y", 4, "first") == 1.0


def test_maj_at_k_any_hashable_answers():
    answers = [(1, 2), Fraction(1, 2), 0.5, "0.5", (1, 2)]
    # Fraction(1, 2) == 0.5 and they hash alike, so they are one answer class - as Python says.
    assert r1lib.maj_at_k(answers, (1, 2), 5, "split") == 0.5
    assert r1lib.maj_at_k(answers, 0.5, 5, "split") == 0.5


def test_maj_at_k_is_instant_for_n_64_all_k():
    rng = np.random.default_rng(6)
    answers = list(rng.choice(["g"] * 4 + list("abcdefgh"), size=64))
    start = time.perf_counter()
    out = r1lib.maj_at_k(answers, "g", range(1, 65), ties="split")
    elapsed = time.perf_counter() - start
    assert out.shape == (64,) and np.all((out >= 0) & (out <= 1))
    assert elapsed < 0.5  # generous: it takes about a millisecond; enumeration would never finish
    # spot-check against a Monte Carlo of random subsets (independent of the combinatorics)
    k = 9
    sims = []
    for _ in range(4000):
        sub = rng.choice(64, size=k, replace=False)
        votes = {}
        for i in sub:
            votes[answers[i]] = votes.get(answers[i], 0) + 1
        best = max(votes.values())
        leaders = [a for a, v in votes.items() if v == best]
        sims.append(1 / len(leaders) if "g" in leaders else 0.0)
    assert abs(np.mean(sims) - out[k - 1]) < 4 * np.std(sims) / np.sqrt(len(sims)) + 1e-3


def test_majority_vote():
    assert r1lib.majority_vote(["b", "a", "a", "b", "c"]) == "b"  # tie -> first occurrence
    assert r1lib.majority_vote(["b", "a", "a", "b", "c"], ties="none") is None
    assert r1lib.majority_vote([None, None, "a"]) == "a"
    assert r1lib.majority_vote([None, None]) is None
    assert r1lib.majority_vote(np.array([3, 1, 3])) == 3

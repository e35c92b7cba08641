"""Standard errors against exact rational arithmetic, a brute-force double sum of Miller's clustered
formula, and a super-population simulation that checks what each error bar claims to measure."""
from __future__ import annotations

import math
import statistics
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1lib.error_bars import (Estimate, clustered_se, mean_with_se, naive_se, paired_difference,
                              pass_at_1, unpaired_difference)


def exact_mean_and_var_of_mean(values):
    """Mean and SE^2 = sum (v - mean)^2 / (P (P - 1)) in exact fractions."""
    v = [Fraction(x) for x in values]
    m = sum(v) / len(v)
    return m, sum((x - m) ** 2 for x in v) / (len(v) * (len(v) - 1))


@given(st.lists(st.integers(-50, 50), min_size=2, max_size=40))
@settings(max_examples=200, deadline=None)
def test_mean_with_se_matches_exact_fractions(values):
    m, var = exact_mean_and_var_of_mean(values)
    est = mean_with_se(values)
    assert est.value == pytest.approx(float(m), abs=1e-12)
    assert est.se == pytest.approx(math.sqrt(var), rel=1e-9, abs=1e-12)
    assert est.se == pytest.approx(statistics.stdev(values) / math.sqrt(len(values)), rel=1e-9, abs=1e-12)


@st.composite
def counts(draw):
    p = draw(st.integers(2, 30))
    n = draw(st.integers(1, 20))
    c = draw(st.lists(st.integers(0, n), min_size=p, max_size=p))
    return n, c


@given(counts())
@settings(max_examples=200, deadline=None)
def test_pass_at_1_is_the_mean_of_question_means_with_their_se(args):
    n, c = args
    m, var = exact_mean_and_var_of_mean([Fraction(ci, n) for ci in c])
    est = pass_at_1(n, c)
    assert est.value == pytest.approx(float(m), abs=1e-12)
    assert est.se == pytest.approx(math.sqrt(var), rel=1e-9, abs=1e-12)


@given(counts())
@settings(max_examples=200, deadline=None)
def test_naive_se_is_the_pooled_binomial_formula(args):
    n, c = args
    total = n * len(c)
    p = Fraction(sum(c), total)
    assert naive_se(n, c) == pytest.approx(math.sqrt(p * (1 - p) / total), rel=1e-9, abs=1e-12)


def test_ragged_samples_per_question():
    n, c = [4, 8, 2], [1, 8, 0]
    means = [Fraction(1, 4), Fraction(1), Fraction(0)]
    m, var = exact_mean_and_var_of_mean(means)
    est = pass_at_1(n, c)
    assert est.value == pytest.approx(float(m)) and est.se == pytest.approx(math.sqrt(var))
    p = Fraction(9, 14)
    assert naive_se(n, c) == pytest.approx(math.sqrt(p * (1 - p) / 14))


@given(st.lists(st.integers(0, 1), min_size=2, max_size=60))
def test_one_sample_per_question_naive_and_clustered_agree(c):
    p_count = len(c)
    assert naive_se(1, c) == pytest.approx(pass_at_1(1, c).se * math.sqrt((p_count - 1) / p_count),
                                           abs=1e-15)


def brute_clustered_se(scores, clusters):
    """Miller (2024): SE_C^2 = SE_CLT^2 + (1/N^2) sum_c sum_i sum_{j != i} d_i d_j, by double loop."""
    s = [Fraction(x) for x in scores]
    n = len(s)
    mean = sum(s) / n
    d = [x - mean for x in s]
    se_clt2 = sum(x * x for x in d) / (n * (n - 1))
    cross = Fraction(0)
    for i in range(n):
        for j in range(n):
            if i != j and clusters[i] == clusters[j]:
                cross += d[i] * d[j]
    return math.sqrt(se_clt2 + cross / n ** 2)


@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 5)), min_size=2, max_size=30))
@settings(max_examples=200, deadline=None)
def test_clustered_se_matches_the_double_sum(pairs):
    scores, clusters = zip(*pairs)
    assert clustered_se(scores, clusters) == pytest.approx(brute_clustered_se(scores, clusters),
                                                           rel=1e-9, abs=1e-12)


def test_clustered_se_accepts_string_labels_and_reduces_to_clt_for_singletons():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 2, 50).astype(float)
    labels = np.array([f"q{i % 7}" for i in range(50)])
    assert clustered_se(scores, labels) == pytest.approx(brute_clustered_se(scores, list(labels)))
    singletons = np.arange(50)
    assert clustered_se(scores, singletons) == pytest.approx(statistics.stdev(scores) / math.sqrt(50))


def test_clustered_se_with_question_clusters_is_the_se_of_question_means():
    """Equal clusters of k samples: SE_C^2 = (1/P^2) sum (m_c - m)^2 + (1/(N(N-1)) - 1/N^2) sum d^2."""
    rng = np.random.default_rng(11)
    p_count, k = 40, 8
    x = rng.uniform(0, 1, p_count)
    scores = (rng.uniform(size=(p_count, k)) < x[:, None]).astype(float)
    flat, labels = scores.ravel(), np.repeat(np.arange(p_count), k)
    n_total = flat.size
    d = flat - flat.mean()
    means = scores.mean(axis=1)
    expected = math.sqrt(np.sum((means - flat.mean()) ** 2) / p_count ** 2
                         + (1 / (n_total * (n_total - 1)) - 1 / n_total ** 2) * np.sum(d * d))
    assert clustered_se(flat, labels) == pytest.approx(expected, rel=1e-12)
    # and it agrees with sd(question means) / sqrt(P) up to O(1/P)
    assert clustered_se(flat, labels) == pytest.approx(mean_with_se(means).se, rel=2 / p_count)


def test_batched_and_axis():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(6, 25))
    est = mean_with_se(values)
    assert est.value.shape == (6,) and est.se.shape == (6,)
    for r in range(6):
        one = mean_with_se(values[r])
        assert est.value[r] == pytest.approx(one.value) and est.se[r] == pytest.approx(one.se)
    col = mean_with_se(values.T, axis=0)
    np.testing.assert_allclose(col.se, est.se)
    c = rng.integers(0, 9, size=(4, 30))
    batch = pass_at_1(8, c)
    np.testing.assert_allclose(batch.se, [pass_at_1(8, row).se for row in c])
    np.testing.assert_allclose(naive_se(8, c), [naive_se(8, row) for row in c])
    assert isinstance(pass_at_1(8, c[0]).value, float)


def test_paired_difference_cancels_shared_difficulty():
    rng = np.random.default_rng(7)
    difficulty = rng.normal(size=200)
    a = difficulty + 0.1 + 0.3 * rng.normal(size=200)
    b = difficulty + 0.3 * rng.normal(size=200)
    paired, unpaired = paired_difference(a, b), unpaired_difference(a, b)
    assert paired.value == pytest.approx(a.mean() - b.mean())
    assert unpaired.value == pytest.approx(paired.value)
    # Var(a - b) = Var a + Var b - 2 Cov(a, b), all with ddof = 1
    cov = np.cov(a, b)
    assert paired.se ** 2 == pytest.approx((cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]) / 200)
    assert unpaired.se ** 2 == pytest.approx((cov[0, 0] + cov[1, 1]) / 200)
    assert paired.se < unpaired.se / 3


def test_interval():
    est = Estimate(0.5, 0.1)
    lo, hi = est.interval()
    assert (lo, hi) == pytest.approx((0.5 - 0.1 * 1.959963984540054, 0.5 + 0.1 * 1.959963984540054))
    lo90, hi90 = est.interval(0.9)
    assert hi90 - lo90 == pytest.approx(2 * 0.1 * 1.6448536269514722)
    batch = Estimate(np.array([0.1, 0.2]), np.array([0.01, 0.02]))
    assert batch.interval()[0].shape == (2,)


@pytest.mark.parametrize("level", [0, 1, 1.5, -0.1, True, "0.95", None, float("nan")])
def test_interval_bad_level(level):
    with pytest.raises(ValueError, match="level"):
        Estimate(0.5, 0.1).interval(level)


def test_what_each_error_bar_measures_by_simulation():
    """Questions drawn from a super-population (x ~ Beta(0.4, 0.4)), k samples each: the clustered SE
    matches the true spread of pass@1 over replications and its 95 % intervals cover ~95 %; the
    naive SE is several times too small and its intervals cover far less."""
    rng = np.random.default_rng(2024)
    reps, p_count, k = 4000, 100, 16
    x = rng.beta(0.4, 0.4, size=(reps, p_count))
    c = rng.binomial(k, x)
    est = pass_at_1(k, c)
    naive = naive_se(k, c)
    true_sd = np.std(est.value)
    truth = 0.5  # the mean of Beta(0.4, 0.4)
    assert np.mean(est.se) == pytest.approx(true_sd, rel=0.05)
    assert np.mean(naive) < 0.5 * true_sd
    lo, hi = est.interval()
    coverage = np.mean((lo <= truth) & (truth <= hi))
    naive_cov = np.mean(np.abs(est.value - truth) <= 1.959963984540054 * naive)
    assert 0.93 < coverage < 0.97
    assert naive_cov < 0.6
    # the law of total variance: Var(pass@1) = (Var x + E[x(1-x)] / k) / P
    var_x, e_bern = 0.25 / (2 * 0.4 + 1), 0.25 - 0.25 / (2 * 0.4 + 1)
    assert true_sd == pytest.approx(math.sqrt((var_x + e_bern / k) / p_count), rel=0.05)


BAD = [
    (lambda: mean_with_se([1.0]), ValueError, "at least 2 questions"),
    (lambda: mean_with_se([[1.0], [2.0]]), ValueError, "at least 2 questions"),
    (lambda: mean_with_se([1.0, float("nan")]), ValueError, "NaN"),
    (lambda: mean_with_se([1.0, float("inf")]), ValueError, "inf"),
    (lambda: mean_with_se("12"), TypeError, "values"),
    (lambda: mean_with_se([]), ValueError, "values"),
    (lambda: mean_with_se(3.0), ValueError, "dimension"),
    (lambda: mean_with_se([1.0, 2.0], axis=1), ValueError, "axis"),
    (lambda: mean_with_se([1.0, 2.0], axis=0.5), TypeError, "axis"),
    (lambda: pass_at_1(4, [5, 1]), ValueError, "c=5 with n=4"),
    (lambda: pass_at_1(4, [-1, 1]), ValueError, "0 <= c <= n"),
    (lambda: pass_at_1(0, [0, 0]), ValueError, "n must be >= 1"),
    (lambda: pass_at_1(4, [1.5, 1]), ValueError, "whole number"),
    (lambda: pass_at_1(4, [True, False]), TypeError, "boolean"),
    (lambda: pass_at_1(4, 2), ValueError, "per question"),
    (lambda: pass_at_1([4, 4, 4], [1, 2]), ValueError, "broadcast"),
    (lambda: pass_at_1(4, [1]), ValueError, "at least 2"),
    (lambda: pass_at_1("4", [1, 2]), TypeError, "n must be"),
    (lambda: naive_se(4, [5, 1]), ValueError, "c=5"),
    (lambda: naive_se(4, [1, 2], axis=2), ValueError, "axis"),
    (lambda: clustered_se([1.0], [0]), ValueError, "at least 2"),
    (lambda: clustered_se([[1.0, 0.0]], [[0, 1]]), ValueError, "1-D"),
    (lambda: clustered_se([1.0, 0.0], [0]), ValueError, "one label per score"),
    (lambda: clustered_se([1.0, 0.0], None), TypeError, "clusters"),
    (lambda: clustered_se([1.0, 0.0], "ab"), TypeError, "clusters"),
    (lambda: clustered_se([1.0, float("nan")], [0, 1]), ValueError, "NaN"),
    (lambda: paired_difference([1.0, 2.0], [1.0, 2.0, 3.0]), ValueError, "same shape"),
    (lambda: paired_difference([1.0, 2.0], None), TypeError, "values_b"),
    (lambda: unpaired_difference([1.0], [1.0, 2.0]), ValueError, "at least 2"),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_constant_scores_give_zero_se_without_warnings():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pass_at_1(8, [8, 8, 8]).se == 0.0
        assert naive_se(8, [0, 0, 0]) == 0.0
        assert clustered_se([1.0, 1.0, 1.0], [0, 0, 1]) == 0.0

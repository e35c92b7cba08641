"""Planning an evaluation (r1lib.error_bars): the variance decomposition, the standard error it
predicts, the power to tell a difference from zero and the questions / samples that power needs.

Checked against exact fractions, scipy's normal and Beta distributions (re-deriving every formula
here), brute-force searches for the minimal plans, and seeded simulations of whole evaluations:
questions drawn from a Beta population, a second model that is better by a logit shift on every
question, ``n`` samples per question, the paired and unpaired intervals r1lib reports (coverage),
and how often the paired interval excludes zero (power) -- all implemented in this file with plain
NumPy, not with r1lib.labs.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from r1lib.error_bars import (VarianceComponents, detectable_difference, detection_power,
                              paired_difference, pass_at_1, questions_needed, samples_needed,
                              standard_error, unpaired_difference, variance_components)

Z95 = stats.norm.ppf(0.975)


# ----------------------------------------------------------------------- a population model

def beta_population(mean, concentration, size, rng):
    """Solve rates x ~ Beta(mean * kappa, (1 - mean) * kappa), kept inside (0, 1)."""
    x = rng.beta(mean * concentration, (1 - mean) * concentration, size)
    return np.clip(x, 1e-12, 1 - 1e-12)


def shifted(x, shift):
    """The better model: every question's logit moved by ``shift``."""
    return 1 / (1 + np.exp(-(np.log(x) - np.log1p(-x) + shift)))


@pytest.fixture(scope="module")
def population():
    """An AIME-like population: mean solve rate 0.3, U-shaped (kappa = 1), and a model that is
    better by a logit shift of 0.5 on every question."""
    rng = np.random.default_rng(2504)
    x_b = beta_population(0.3, 1.0, 200_000, rng)
    x_a = shifted(x_b, 0.5)
    d = x_a - x_b
    return dict(x_a=x_a, x_b=x_b, delta=float(d.mean()),
                paired=VarianceComponents(float(d.var()), float(np.mean(x_a * (1 - x_a) + x_b * (1 - x_b)))),
                a=VarianceComponents(float(x_a.var()), float(np.mean(x_a * (1 - x_a)))),
                b=VarianceComponents(float(x_b.var()), float(np.mean(x_b * (1 - x_b)))))


def simulate(pop, n_questions, n_samples, reps, rng):
    """``reps`` evaluations: questions drawn with replacement, n samples per question per model."""
    idx = rng.integers(0, pop["x_b"].size, size=(reps, n_questions))
    c_a = rng.binomial(n_samples, pop["x_a"][idx])
    c_b = rng.binomial(n_samples, pop["x_b"][idx])
    return c_a, c_b


# ------------------------------------------------------------------------- standard_error

@given(st.integers(0, 40), st.integers(0, 40), st.integers(1, 64), st.integers(1, 500))
@settings(max_examples=200, deadline=None)
def test_standard_error_is_the_law_of_total_variance_exactly(b, w, n, p):
    between, within = Fraction(b, 160), Fraction(w, 160)
    exact = (between + within / n) / p
    got = standard_error(VarianceComponents(float(between), float(within)), n, p)
    assert got == pytest.approx(math.sqrt(exact), rel=1e-12, abs=1e-15)


def test_standard_error_of_a_beta_population_matches_scipy_moments_and_simulation():
    """x ~ Beta(a, b): between = Var x, within = E[x(1-x)] = E x - E x^2, from scipy; the spread of
    pass@1 over simulated evaluations (new questions, new samples) matches the formula."""
    a, b = 0.3, 0.7
    dist = stats.beta(a, b)
    between = dist.var()
    within = dist.mean() - dist.moment(2)
    assert between == pytest.approx(0.21 / 2) and within == pytest.approx(0.21 / 2)   # rho = 1/(a+b+1)
    rng = np.random.default_rng(7)
    for n in (1, 4, 16, 64):
        x = rng.beta(a, b, size=(20_000, 30))
        value = pass_at_1(n, rng.binomial(n, x)).value
        predicted = standard_error((between, within), n, 30)
        assert np.std(value) == pytest.approx(predicted, rel=0.03), n
        # re-runs on one fixed question set: only the within part of those questions
        fixed = x[0]
        reruns = pass_at_1(n, rng.binomial(n, np.broadcast_to(fixed, (20_000, 30)))).value
        assert np.std(reruns) == pytest.approx(standard_error((0.0, np.mean(fixed * (1 - fixed))), n, 30),
                                               rel=0.03), n


def test_standard_error_broadcasts_and_floors_at_the_between_part():
    ns = np.array([1, 4, 16, 64, 10 ** 9])
    se = standard_error((0.1, 0.1), ns, 30)
    assert se.shape == (5,) and (np.diff(se) < 0).all()
    assert se[-1] == pytest.approx(math.sqrt(0.1 / 30), rel=1e-8)
    grid = standard_error((0.1, 0.1), ns[None, :], np.array([[30], [300]]))
    assert grid.shape == (2, 5)
    np.testing.assert_allclose(grid[1] * math.sqrt(10), grid[0])
    assert isinstance(standard_error((0.1, 0.1), 4, 30), float)


# ---------------------------------------------------------------------- variance_components

def components_by_hand(n, c, baseline=None):
    """The estimator in exact fractions: within = mean c(n-c)/(n(n-1)), between = s^2 - mean w/n."""
    score = [Fraction(ci, n) for ci in c]
    w = [Fraction(ci * (n - ci), n * (n - 1)) for ci in c]
    if baseline is not None:
        score = [s - Fraction(bi, n) for s, bi in zip(score, baseline)]
        w = [wi + Fraction(bi * (n - bi), n * (n - 1)) for wi, bi in zip(w, baseline)]
    p = len(c)
    m = sum(score) / p
    s2 = sum((s - m) ** 2 for s in score) / (p - 1)
    return max(s2 - sum(w) / (p * n), Fraction(0)), sum(w) / p


@st.composite
def runs(draw):
    n = draw(st.integers(2, 12))
    p = draw(st.integers(2, 12))
    c = draw(st.lists(st.integers(0, n), min_size=p, max_size=p))
    b = draw(st.lists(st.integers(0, n), min_size=p, max_size=p))
    return n, c, b


@given(runs())
@settings(max_examples=200, deadline=None)
def test_variance_components_match_exact_fractions(args):
    n, c, b = args
    for baseline in (None, b):
        between, within = components_by_hand(n, c, baseline)
        got = variance_components(n, c, baseline=baseline)
        assert got.between == pytest.approx(float(between), abs=1e-12)
        assert got.within == pytest.approx(float(within), abs=1e-12)


def test_within_term_is_unbiased_for_x_one_minus_x_by_enumeration():
    """E[c(n-c)/(n(n-1))] = x(1-x) for c ~ Binomial(n, x), exactly."""
    for n in (2, 3, 7):
        for x in (Fraction(1, 5), Fraction(1, 2), Fraction(9, 10)):
            mean = sum(math.comb(n, c) * x ** c * (1 - x) ** (n - c) * Fraction(c * (n - c), n * (n - 1))
                       for c in range(n + 1))
            assert mean == x * (1 - x)


def test_variance_components_are_unbiased_over_replications(population):
    """Averaged over many evaluation runs the estimates hit the population's components (a spread
    out population, so the truncation at 0 almost never acts)."""
    rng = np.random.default_rng(11)
    c_a, c_b = simulate(population, 40, 8, 20_000, rng)
    one = variance_components(8, c_b)
    assert np.mean(one.between == 0) < 0.01
    assert np.mean(one.between) == pytest.approx(population["b"].between, rel=0.02)
    assert np.mean(one.within) == pytest.approx(population["b"].within, rel=0.02)
    pair = variance_components(8, c_a, baseline=c_b)
    assert np.mean(pair.within) == pytest.approx(population["paired"].within, rel=0.02)
    # the paired between part is small (the shift moves every question alike): unbiased up to the
    # truncation, and its estimate plus within/n is exactly the variance paired_difference uses
    est = paired_difference(c_a / 8, c_b / 8)
    raw = est.se ** 2 * 40 - pair.within / 8
    assert np.mean(raw) == pytest.approx(population["paired"].between, abs=0.1 * population["paired"].between)


def test_variance_components_batched_and_ragged():
    rng = np.random.default_rng(3)
    c = rng.integers(0, 9, size=(5, 30))
    batch = variance_components(8, c)
    for r in range(5):
        one = variance_components(8, c[r])
        assert batch.between[r] == pytest.approx(one.between) and batch.within[r] == pytest.approx(one.within)
    # ragged n: within_i / n_i per question
    n, c = [2, 4, 8], [1, 4, 3]
    w = [Fraction(1 * 1, 2 * 1), Fraction(0), Fraction(3 * 5, 8 * 7)]
    score = [Fraction(1, 2), Fraction(1), Fraction(3, 8)]
    m = sum(score) / 3
    s2 = sum((s - m) ** 2 for s in score) / 2
    between = s2 - sum(wi / ni for wi, ni in zip(w, n)) / 3
    got = variance_components(n, c)
    assert got.within == pytest.approx(float(sum(w) / 3)) and got.between == pytest.approx(float(between))


# ------------------------------------------------------------------------------ detection_power

def power_by_scipy(delta, se, level=0.95):
    z = stats.norm.ppf(0.5 + level / 2)
    return stats.norm.cdf(abs(delta) / se - z) + stats.norm.cdf(-abs(delta) / se - z)


@given(st.floats(-0.3, 0.3), st.floats(0.0, 0.2), st.floats(0.0, 0.25), st.integers(1, 64),
       st.integers(2, 400), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
@settings(max_examples=300, deadline=None)
def test_detection_power_is_the_two_sided_normal_test(delta, b, w, n, p, level):
    se = math.sqrt((b + w / n) / p)
    got = detection_power(delta, (b, w), n, p, level=level)
    if se == 0:
        assert got == (1.0 if delta != 0 else 0.0)
    else:
        assert got == pytest.approx(power_by_scipy(delta, se, level), abs=1e-12)


def test_detection_power_at_zero_is_the_false_alarm_rate_and_grows_with_everything():
    assert detection_power(0.0, (0.01, 0.2), 4, 30) == pytest.approx(0.05, abs=1e-12)
    assert detection_power(0.0, (0.01, 0.2), 4, 30, level=0.9) == pytest.approx(0.1, abs=1e-12)
    powers = detection_power(np.linspace(0, 0.2, 21), (0.01, 0.2), 4, 30)
    assert (np.diff(powers) > 0).all()
    assert (np.diff(detection_power(0.05, (0.01, 0.2), np.array([1, 2, 4, 8, 16]), 30)) > 0).all()
    assert (np.diff(detection_power(0.05, (0.01, 0.2), 4, np.array([10, 30, 100, 300]))) > 0).all()
    assert detection_power(-0.05, (0.01, 0.2), 4, 30) == detection_power(0.05, (0.01, 0.2), 4, 30)


@pytest.mark.parametrize("n_questions, n_samples", [(30, 1), (30, 16), (60, 4), (100, 1)])
def test_power_by_simulation_matches_the_closed_form(population, n_questions, n_samples):
    """How often the paired 95 % interval r1lib reports excludes zero, over 4,000 simulated
    evaluations, against detection_power. The closed form treats the SE as known; the simulated
    test estimates it from P questions (slightly liberal at P = 30), hence the 0.03 allowance
    on top of 3 Monte Carlo standard errors."""
    rng = np.random.default_rng([n_questions, n_samples])
    reps = 4000
    c_a, c_b = simulate(population, n_questions, n_samples, reps, rng)
    est = paired_difference(c_a / n_samples, c_b / n_samples)
    detected = np.mean(np.abs(est.value) > Z95 * est.se)
    predicted = detection_power(population["delta"], population["paired"], n_samples, n_questions)
    mc = math.sqrt(predicted * (1 - predicted) / reps)
    assert abs(detected - predicted) < 3 * mc + 0.03, (detected, predicted)


@given(st.floats(0, 0.3), st.floats(0.0, 0.2), st.floats(0.0, 0.25), st.floats(0.0, 0.4),
       st.integers(1, 64), st.integers(2, 400))
@settings(max_examples=200, deadline=None)
def test_detection_power_with_another_intervals_se(delta, b, w, b_i, n, p):
    """The interval uses SE_I, the estimate spreads with SE: P(|N(delta, SE^2)| > z SE_I)."""
    se, se_i = math.sqrt((b + w / n) / p), math.sqrt((b_i + w / n) / p)
    got = detection_power(delta, (b, w), n, p, interval=(b_i, w))
    if se == 0:
        assert got == (1.0 if delta > Z95 * se_i else 0.0)
    else:
        expected = stats.norm.sf(Z95 * se_i, loc=delta, scale=se) + stats.norm.cdf(-Z95 * se_i, loc=delta, scale=se)
        assert got == pytest.approx(expected, abs=1e-12)
    assert detection_power(delta, (b, w), n, p, interval=(b, w)) == detection_power(delta, (b, w), n, p)


@pytest.mark.parametrize("n_questions, n_samples", [(30, 16), (300, 16), (300, 64), (500, 4)])
def test_unpaired_interval_on_shared_questions_by_simulation(population, n_questions, n_samples):
    """Both models answer the same questions, but the interval uses the unpaired SE: the estimate
    spreads with the paired SE, the interval is as wide as the unpaired one. At AIME size it almost
    never excludes zero; with hundreds of questions the closed form tracks the simulation."""
    rng = np.random.default_rng([n_questions, n_samples, 7])
    c_a, c_b = simulate(population, n_questions, n_samples, 4000, rng)
    est = unpaired_difference(c_a / n_samples, c_b / n_samples)
    detected = np.mean(np.abs(est.value) > Z95 * est.se)
    unp = VarianceComponents(population["a"].between + population["b"].between,
                             population["a"].within + population["b"].within)
    predicted = detection_power(population["delta"], population["paired"], n_samples, n_questions,
                                interval=unp)
    assert abs(detected - predicted) < 3 * math.sqrt(predicted * (1 - predicted) / 4000) + 0.02, (detected, predicted)
    assert predicted < detection_power(population["delta"], population["paired"], n_samples, n_questions)


def test_paired_and_unpaired_intervals_cover_as_their_se_says(population):
    """Paired 95 % intervals cover the true gain ~95 % of the time; the unpaired ones are wider
    than they need to be on shared questions (they cover nearly always) and their SE matches the
    spread only if the two models saw *independent* question sets."""
    rng = np.random.default_rng(42)
    n, p, reps = 4, 100, 4000
    c_a, c_b = simulate(population, p, n, reps, rng)
    paired = paired_difference(c_a / n, c_b / n)
    unpaired = unpaired_difference(c_a / n, c_b / n)
    truth = population["delta"]
    cover_paired = np.mean(np.abs(paired.value - truth) <= Z95 * paired.se)
    cover_unpaired = np.mean(np.abs(unpaired.value - truth) <= Z95 * unpaired.se)
    assert 0.93 < cover_paired < 0.965
    assert cover_unpaired > 0.995
    # the formulas behind both: paired from the paired components, unpaired from the sum of each
    # model's components
    assert np.std(paired.value) == pytest.approx(standard_error(population["paired"], n, p), rel=0.05)
    unp = VarianceComponents(population["a"].between + population["b"].between,
                             population["a"].within + population["b"].within)
    assert np.mean(unpaired.se) == pytest.approx(standard_error(unp, n, p), rel=0.05)


@pytest.mark.parametrize("n_samples", [1, 4, 16, 64])
def test_pass_at_1_intervals_cover_at_aime_size(n_samples):
    """30 questions from a Beta(0.3, 0.7) population: the clustered 95 % interval covers the
    population's pass@1 about 95 % of the time at every n (a little less: P = 30 is small)."""
    rng = np.random.default_rng(n_samples)
    x = rng.beta(0.3, 0.7, size=(6000, 30))
    est = pass_at_1(n_samples, rng.binomial(n_samples, x))
    lo, hi = est.interval()
    cover = np.mean((lo <= 0.3) & (0.3 <= hi))
    assert 0.915 < cover < 0.965, cover


# ------------------------------------------------------- detectable_difference, *_needed

def test_detectable_difference_is_where_the_power_reaches_the_target():
    for power in (0.5, 0.8, 0.9):
        d = detectable_difference((0.01, 0.2), np.array([1, 4, 16, 64]), 30, power=power)
        np.testing.assert_allclose(detection_power(d, (0.01, 0.2), np.array([1, 4, 16, 64]), 30), power,
                                   atol=1e-9)
    # the textbook (z_alpha/2 + z_beta) SE, up to the wrong-sign tail
    d = detectable_difference((0.01, 0.2), 16, 30)
    textbook = (Z95 + stats.norm.ppf(0.8)) * math.sqrt((0.01 + 0.2 / 16) / 30)
    assert d == pytest.approx(textbook, rel=1e-4) and d <= textbook


@pytest.mark.parametrize("effect, comps, n", [(0.05, (0.002, 0.21), 16), (0.05, (0.002, 0.21), 1),
                                             (0.02, (0.0, 0.2), 4), (0.1, (0.05, 0.1), 64),
                                             (-0.03, (0.004, 0.3), 8)])
def test_questions_needed_is_the_smallest_sufficient_count(effect, comps, n):
    p = questions_needed(effect, comps, n)
    assert detection_power(effect, comps, n, p) >= 0.8
    assert p == 2 or detection_power(effect, comps, n, p - 1) < 0.8
    textbook = math.ceil((Z95 + stats.norm.ppf(0.8)) ** 2 * (comps[0] + comps[1] / n) / effect ** 2)
    assert textbook - 1 <= p <= textbook


@pytest.mark.parametrize("effect, comps, p", [(0.05, (0.002, 0.21), 30), (0.05, (0.0, 0.21), 30),
                                             (0.1, (0.01, 0.2), 100), (0.2, (0.0, 0.1), 30)])
def test_samples_needed_is_the_smallest_sufficient_count(effect, comps, p):
    n = samples_needed(effect, comps, p)
    assert detection_power(effect, comps, n, p) >= 0.8
    assert n == 1 or detection_power(effect, comps, n - 1, p) < 0.8
    # the two planners agree: with n samples, p questions are enough (and needed up to rounding)
    assert questions_needed(effect, comps, n) <= p


def test_samples_needed_says_when_no_number_of_samples_is_enough():
    """Between-question variance 0.03 on 30 questions: SE >= sqrt(0.03/30) = 3.2 pp, too much for a
    5 pp effect at 80 % power whatever n is; the message gives the ceiling and the questions needed."""
    with pytest.raises(ValueError, match=r"power is 0\.35\d.*at least 95 questions") as info:
        samples_needed(0.05, (0.03, 0.21), 30)
    ceiling = power_by_scipy(0.05, math.sqrt(0.03 / 30))
    assert f"{ceiling:.3f}" in str(info.value)
    p_inf = math.ceil(2.8015817870135784 ** 2 * 0.03 / 0.05 ** 2)
    assert questions_needed(0.05, (0.03, 0.21), 10 ** 9) == pytest.approx(p_inf, abs=1)


def test_a_pilot_run_plans_the_next_one(population):
    """Estimate the components from one pilot evaluation (30 questions, 8 samples each, both
    models), plan the questions for 80 % power at 8 samples, and check the plan by simulation
    with the population's true components: the power comes out near the target."""
    rng = np.random.default_rng(2026)
    c_a, c_b = simulate(population, 30, 8, 1, rng)
    pilot = variance_components(8, c_a[0], baseline=c_b[0])
    p = questions_needed(population["delta"], pilot, 8)
    true_power = detection_power(population["delta"], population["paired"], 8, p)
    assert 0.5 < true_power < 0.97     # one pilot of 30 questions is itself noisy


BAD = [
    (lambda: standard_error((-0.1, 0.2), 4, 30), ValueError, "between.*>= 0"),
    (lambda: standard_error((0.1, float("nan")), 4, 30), ValueError, "within.*NaN"),
    (lambda: standard_error((0.1, 0.2), 0, 30), ValueError, "n_samples must be >= 1"),
    (lambda: standard_error((0.1, 0.2), 4, 2.5), ValueError, "n_questions"),
    (lambda: standard_error(0.1, 4, 30), TypeError, "components"),
    (lambda: standard_error((0.1, 0.2, 0.3), 4, 30), TypeError, "components"),
    (lambda: standard_error("ab", 4, 30), TypeError, "components"),
    (lambda: variance_components(1, [0, 1]), ValueError, "n >= 2"),
    (lambda: variance_components(4, [1]), ValueError, "at least 2 questions"),
    (lambda: variance_components(4, [1, 2], baseline=[1, 2, 3]), ValueError, "same shape"),
    (lambda: variance_components(4, [1, 5]), ValueError, "c=5 with n=4"),
    (lambda: detection_power(0.05, (0.1, 0.2), 4, 30, level=1.5), ValueError, "level"),
    (lambda: detection_power("x", (0.1, 0.2), 4, 30), TypeError, "effect"),
    (lambda: detectable_difference((0.1, 0.2), 4, 30, power=0.03), ValueError, r"power must be .*\(0\.05, 1\)"),
    (lambda: questions_needed(0.0, (0.1, 0.2), 4), ValueError, "nonzero"),
    (lambda: questions_needed(True, (0.1, 0.2), 4), TypeError, "effect"),
    (lambda: questions_needed(0.05, (np.array([0.1, 0.2]), 0.2), 4), ValueError, "scalars"),
    (lambda: questions_needed(0.05, (0.1, 0.2), 0), ValueError, "n_samples must be >= 1"),
    (lambda: questions_needed(0.05, (0.1, 0.2), 4, power=1.0), ValueError, "power"),
    (lambda: samples_needed(0.05, (0.1, 0.2), 2.0), TypeError, "n_questions"),
    (lambda: samples_needed(float("inf"), (0.1, 0.2), 30), ValueError, "finite"),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input_names_the_parameter(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_no_warnings_at_the_edges():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert detection_power(0.0, (0.0, 0.0), 4, 30) == 0.0
        assert detection_power(0.1, (0.0, 0.0), 4, 30) == 1.0
        assert questions_needed(0.1, (0.0, 0.0), 4) == 2
        assert samples_needed(0.1, (0.0, 0.0), 30) == 1
        assert variance_components(4, [4, 4, 4]) == (0.0, 0.0)
        assert detection_power(1e-300, (0.1, 0.2), 4, 30) == pytest.approx(0.05)

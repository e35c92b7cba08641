"""The simulated benchmark: its sampler matches its own probabilities, its "truth" formulas match
exact binomial sums, and its rendered outputs survive the extraction/normalisation round trip."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import r1lib
from r1lib.grading.answers import extract_answer, normalize_answer, parse_answer
from r1lib.labs.eval_sim import (NO_ANSWER, SimulatedBenchmark, answer_lists, expected_pass_at_k,
                            expected_plugin_pass_at_k, make_benchmark, plugin_pass_at_k,
                            render_outputs)


@pytest.fixture(scope="module")
def bench():
    return make_benchmark(60, np.random.default_rng(0))


def test_shapes_values_and_determinism(bench):
    assert bench.logits.shape == (60, 6) and bench.n_problems == 60 and bench.n_wrong == 4
    again = make_benchmark(60, np.random.default_rng(0))
    np.testing.assert_array_equal(again.logits, bench.logits)
    assert again.gold == bench.gold and again.wrong == bench.wrong
    for g, wrong in zip(bench.gold, bench.wrong):
        assert isinstance(g, Fraction) and len(set((g,) + wrong)) == 5
    assert sum(g.denominator == 1 for g in bench.gold) == 30  # half AIME-style integers
    with pytest.raises(ValueError):
        bench.logits[0, 0] = 1.0  # read-only


def test_probabilities_are_the_temperature_softmax(bench):
    for t in (0.6, 1.0, 3.0):
        z = bench.logits / t
        e = np.exp(z - z.max(axis=1, keepdims=True))
        np.testing.assert_allclose(bench.probabilities(t), e / e.sum(axis=1, keepdims=True), rtol=1e-12)
        np.testing.assert_allclose(bench.p_correct(t), bench.probabilities(t)[:, 0])
    # lower temperature sharpens: the plurality answer gains probability
    p_low, p_high = bench.probabilities(0.3), bench.probabilities(1.0)
    top = np.argmax(bench.logits, axis=1)
    assert (p_low[np.arange(60), top] >= p_high[np.arange(60), top]).all()


def test_sampler_frequencies_match_probabilities():
    logits = np.array([[2.0, 0.0, -1.0, -np.inf, 0.5], [-np.inf, 1.0, 1.0, 1.0, -np.inf]])
    sb = SimulatedBenchmark(logits, (Fraction(1), Fraction(2)),
                            ((Fraction(3), Fraction(4), Fraction(5)),) * 2)
    n = 200_000
    codes = sb.sample(n, np.random.default_rng(1), temperature=1.0)
    assert codes.shape == (2, n) and codes.dtype.kind == "i"
    p = sb.probabilities(1.0)
    for i in range(2):
        freq = np.array([np.mean(codes[i] == j) for j in range(4)] + [np.mean(codes[i] == NO_ANSWER)])
        sigma = np.sqrt(p[i] * (1 - p[i]) / n)
        assert (np.abs(freq - p[i]) <= 5 * sigma + 1e-12).all(), (freq, p[i])
    assert not (codes[0] == 3).any()          # a -inf logit is never sampled
    assert not (codes[1] == 0).any() and not (codes[1] == NO_ANSWER).any()


def test_sample_is_seeded_and_in_range(bench):
    a = bench.sample(16, np.random.default_rng(5))
    b = bench.sample(16, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.min() >= NO_ANSWER and a.max() <= bench.n_wrong


def test_some_problems_have_a_wrong_plurality():
    b = make_benchmark(300, np.random.default_rng(2))
    p = b.probabilities(0.6)
    plural = p[:, 0] > p[:, 1:-1].max(axis=1)
    assert 0.4 < plural.mean() < 0.9
    assert p[:, 0].std() > 0.2  # a real spread of difficulties


def test_subset(bench):
    sub = bench.subset([3, 3, 0])
    np.testing.assert_array_equal(sub.logits, bench.logits[[3, 3, 0]])
    assert sub.gold == (bench.gold[3], bench.gold[3], bench.gold[0])
    for bad in ([60], [-1], [[0]]):
        with pytest.raises(ValueError, match="index"):
            bench.subset(bad)


def binom_pmf(n, p, c):
    return math.comb(n, c) * p ** c * (1 - p) ** (n - c)


@given(st.integers(1, 12), st.integers(0, 8).map(lambda i: Fraction(i, 8)), st.data())
@settings(max_examples=150, deadline=None)
def test_truth_formulas_against_exact_binomial_sums(n, p, data):
    k = data.draw(st.integers(1, n))
    truth = 1 - (1 - p) ** k
    assert expected_pass_at_k(float(p), k) == pytest.approx(float(truth), abs=1e-14)
    # the unbiased estimator averages to the truth; the plug-in averages to less (Jensen)
    unbiased = sum(binom_pmf(n, p, c) * (1 - Fraction(math.comb(n - c, k), math.comb(n, k)))
                   for c in range(n + 1))
    plug = sum(binom_pmf(n, p, c) * (1 - (1 - Fraction(c, n)) ** k) for c in range(n + 1))
    assert unbiased == truth
    assert plug <= truth
    assert expected_plugin_pass_at_k(n, float(p), k) == pytest.approx(float(plug), abs=1e-12)
    values = r1lib.pass_at_k(n, np.arange(n + 1), k)
    assert sum(float(binom_pmf(n, p, c)) * values[c] for c in range(n + 1)) == pytest.approx(float(truth), abs=1e-12)


def test_plugin_and_expected_plugin_vectorised_and_by_monte_carlo():
    rng = np.random.default_rng(9)
    p = np.array([0.0, 0.05, 0.3, 0.7, 1.0])
    n, k = 16, 4
    exact = expected_plugin_pass_at_k(n, p, k)
    c = rng.binomial(n, p, size=(200_000, 5))
    mc = plugin_pass_at_k(n, c, k).mean(axis=0)
    np.testing.assert_allclose(mc, exact, atol=3e-3)
    assert exact[0] == 0.0 and exact[-1] == 1.0
    assert (exact[1:-1] < expected_pass_at_k(p[1:-1], k)).all()  # strictly biased low inside (0, 1)
    assert plugin_pass_at_k(10, 5, 2) == pytest.approx(0.75)
    assert plugin_pass_at_k(8, [0, 4, 8], 8).tolist() == pytest.approx([0.0, 1 - 0.5 ** 8, 1.0])


def test_expected_plugin_is_warning_free_at_the_edges():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = expected_plugin_pass_at_k(64, np.array([0.0, 1e-300, 0.5, 1 - 1e-16, 1.0]), 64)
    assert np.isfinite(out).all() and out[0] == 0.0 and out[-1] == pytest.approx(1.0)


def test_answer_lists():
    assert answer_lists([[0, -1, 2], [1, 1, -1]]) == [[0, None, 2], [1, 1, None]]
    # ready for maj_at_k: None never wins
    assert r1lib.maj_at_k(answer_lists([[-1, -1, 0]])[0], 0, 3) == 1.0
    with pytest.raises(ValueError, match="shape"):
        answer_lists([0, 1])


def test_render_round_trip(bench):
    rng = np.random.default_rng(3)
    codes = bench.sample(32, rng, temperature=1.5)
    codes[:, 0] = NO_ANSWER  # every problem gets malformed outputs too
    outputs = render_outputs(bench, codes, rng, p_variant=0.7, p_draft_box=0.5)
    assert len(outputs) == 60 and all(len(row) == 32 for row in outputs)
    kinds = set()
    for i, row in enumerate(outputs):
        values = (bench.gold[i],) + bench.wrong[i]
        for code, text in zip(codes[i], row):
            got = parse_answer(text)
            if code == NO_ANSWER:
                assert got is None, text
                kinds.add(text.split("\n")[-1][:12])
            else:
                assert got == values[code], text
    assert len(kinds) >= 3  # several kinds of malformed output


def test_variants_really_split_raw_strings_and_draft_boxes_are_ignored(bench):
    rng = np.random.default_rng(4)
    codes = np.zeros((60, 40), dtype=int)  # always the correct answer
    canonical = render_outputs(bench, codes, rng, p_variant=0.0, p_draft_box=1.0)
    varied = render_outputs(bench, codes, rng, p_variant=1.0, p_draft_box=0.0)
    for i in range(60):
        assert len({extract_answer(t) for t in canonical[i]}) == 1
        assert len({extract_answer(t) for t in varied[i]}) >= 2
        assert {parse_answer(t) for t in varied[i]} == {bench.gold[i]}
        assert all("boxed" in t.split("</think>")[0] for t in canonical[i])  # draft inside think
    assert normalize_answer(extract_answer(canonical[0][0])) == bench.gold[0]


BAD = [
    (lambda: make_benchmark(0, np.random.default_rng(0)), ValueError, "n_problems"),
    (lambda: make_benchmark(5, 0), TypeError, "Generator"),
    (lambda: make_benchmark(5.0, np.random.default_rng(0)), TypeError, "n_problems"),
    (lambda: make_benchmark(5, np.random.default_rng(0), n_wrong=0), ValueError, "n_wrong"),
    (lambda: make_benchmark(5, np.random.default_rng(0), skill=float("nan")), ValueError, "skill"),
    (lambda: make_benchmark(5, np.random.default_rng(0), skill="1"), TypeError, "skill"),
    (lambda: make_benchmark(5, np.random.default_rng(0), difficulty_spread=-1), ValueError, "difficulty_spread"),
    (lambda: make_benchmark(5, np.random.default_rng(0), no_answer_logit=np.inf), ValueError, "no_answer_logit"),
    (lambda: SimulatedBenchmark(np.zeros(3), (), ()), ValueError, "logits"),
    (lambda: SimulatedBenchmark(np.zeros((2, 3)), (1,), (1,)), ValueError, "one entry per problem"),
    (lambda: SimulatedBenchmark(np.full((1, 3), np.nan), (1,), (1,)), ValueError, "NaN"),
    (lambda: expected_pass_at_k(1.5, 2), ValueError, "p_correct"),
    (lambda: expected_pass_at_k(0.5, 0), ValueError, "k"),
    (lambda: plugin_pass_at_k(4, 5, 1), ValueError, "0 <= c <= n"),
    (lambda: plugin_pass_at_k(4, 1, 5), ValueError, "1 <= k <= n"),
    (lambda: plugin_pass_at_k([4, 4], [1, 1, 1], 1), ValueError, "broadcast"),
    (lambda: expected_plugin_pass_at_k(4, 0.5, 5), ValueError, "k must be <= n"),
    (lambda: expected_plugin_pass_at_k(4, -0.1, 2), ValueError, "p_correct"),
    (lambda: expected_plugin_pass_at_k(0, 0.5, 1), ValueError, "n"),
]


@pytest.mark.parametrize("call, error, message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_bad_sampler_and_render_arguments(bench):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n must be >= 1"):
        bench.sample(0, rng)
    with pytest.raises(TypeError, match="Generator"):
        bench.sample(4, 42)
    with pytest.raises(ValueError, match="temperature"):
        bench.sample(4, rng, temperature=0.0)
    codes = bench.sample(4, rng)
    with pytest.raises(ValueError, match="shape"):
        render_outputs(bench, codes[:5], rng)
    with pytest.raises(ValueError, match="codes must lie"):
        render_outputs(bench, codes + 10, rng)
    with pytest.raises(ValueError, match="p_variant"):
        render_outputs(bench, codes, rng, p_variant=1.5)
    with pytest.raises(TypeError, match="Generator"):
        render_outputs(bench, codes, None)


# ------------------------------------------- evaluations at real benchmark sizes (issue 20)

from scipy import stats  # noqa: E402

from r1lib.labs.eval_sim import (beta_components, beta_rates, detection_rates, logit_shift,  # noqa: E402
                                 pass1_sd_fixed_questions, pass1_sd_new_questions, population_components,
                                 shift_for_gain, simulate_counts)


@pytest.mark.parametrize("mean, kappa", [(0.3, 1.0), (0.5, 0.2), (0.9, 10.0)])
def test_beta_components_are_scipys_beta_moments(mean, kappa):
    dist = stats.beta(mean * kappa, (1 - mean) * kappa)
    comps = beta_components(mean, kappa)
    assert comps.between == pytest.approx(dist.var(), rel=1e-12)
    assert comps.within == pytest.approx(dist.mean() - dist.moment(2), rel=1e-12)
    assert comps.between + comps.within == pytest.approx(mean * (1 - mean), rel=1e-12)
    assert comps.between / (mean * (1 - mean)) == pytest.approx(1 / (kappa + 1))     # rho


def test_beta_rates_are_seeded_beta_draws():
    a = beta_rates(50_000, 0.3, 1.0, np.random.default_rng(4))
    b = beta_rates(50_000, 0.3, 1.0, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert ((a >= 0) & (a <= 1)).all()
    assert stats.kstest(a, stats.beta(0.3, 0.7).cdf).pvalue > 1e-3
    comps = population_components(a)
    assert comps.between == pytest.approx(0.105, rel=0.03) and comps.within == pytest.approx(0.105, rel=0.03)


@given(st.lists(st.floats(0.001, 0.999), min_size=1, max_size=20), st.floats(-5, 5))
@settings(max_examples=200, deadline=None)
def test_logit_shift_is_the_sigmoid_of_the_shifted_logit(p, s):
    p = np.array(p)
    expected = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + s)))
    np.testing.assert_allclose(logit_shift(p, s), expected, rtol=1e-10, atol=1e-15)


def test_logit_shift_keeps_the_ends_and_is_warning_free():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = logit_shift([0.0, 1.0, 0.5], 3.0)
        assert out[0] == 0.0 and out[1] == 1.0 and out[2] == pytest.approx(1 / (1 + math.exp(-3)))
        assert (logit_shift([0.2, 0.7], 1e6) <= 1).all() and (logit_shift([0.2, 0.7], -1e6) >= 0).all()
    np.testing.assert_array_equal(logit_shift([0.1, 0.4], 0.0), [0.1, 0.4])


@pytest.mark.parametrize("gain", [0.05, 0.15, -0.05, 1e-4])
def test_shift_for_gain_reaches_the_gain(gain):
    p = beta_rates(10_000, 0.3, 1.0, np.random.default_rng(9))
    s = shift_for_gain(p, gain)
    assert np.mean(logit_shift(p, s)) - np.mean(p) == pytest.approx(gain, abs=1e-10)
    assert np.sign(s) == np.sign(gain)
    assert shift_for_gain(p, 0.0) == 0.0


def test_shift_for_gain_rejects_unreachable_gains():
    with pytest.raises(ValueError, match="cannot move"):
        shift_for_gain([0.0, 1.0, 0.5], 0.2)        # only one question can move, by < 0.5/3
    assert shift_for_gain([0.0, 1.0, 0.5], 0.15) > 0


def test_population_components_by_brute_force_and_simulation():
    rng = np.random.default_rng(5)
    p_b = beta_rates(2000, 0.3, 1.0, rng)
    p_a = logit_shift(p_b, 0.5)
    one = population_components(p_b)
    assert one.between == pytest.approx(np.mean((p_b - p_b.mean()) ** 2))
    assert one.within == pytest.approx(np.mean(p_b - p_b ** 2))
    pair = population_components(p_a, baseline=p_b)
    d = p_a - p_b
    assert pair.between == pytest.approx(np.mean((d - d.mean()) ** 2))
    assert pair.within == pytest.approx(np.mean(p_a * (1 - p_a)) + np.mean(p_b * (1 - p_b)))
    # questions drawn with replacement: the spread of pass@1 and of the paired difference is
    # exactly the standard error of these components
    for n in (1, 8):
        c_a, c_b = simulate_counts(p_a, 30, n, 20_000, rng, baseline=p_b)
        assert np.std(c_b.mean(axis=1) / n) == pytest.approx(r1lib.standard_error(one, n, 30), rel=0.03)
        assert np.std((c_a - c_b).mean(axis=1) / n) == pytest.approx(r1lib.standard_error(pair, n, 30), rel=0.03)
    # the notebook's two older formulas are special cases
    assert pass1_sd_new_questions(p_b, 4, 30) == pytest.approx(r1lib.standard_error(one, 4, 30))
    assert pass1_sd_fixed_questions(p_b[:30], 4) == pytest.approx(
        math.sqrt(np.sum(p_b[:30] * (1 - p_b[:30])) / 4) / 30)


def test_simulate_counts_scores_both_models_on_the_same_questions():
    """Rates 0/1 and their complements: on a shared question one model gets n, the other 0."""
    p = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    c, base = simulate_counts(p, 50, 6, 40, np.random.default_rng(1), baseline=1 - p)
    assert c.shape == base.shape == (40, 50)
    np.testing.assert_array_equal(c + base, 6)
    again = simulate_counts(p, 50, 6, 40, np.random.default_rng(1), baseline=1 - p)
    np.testing.assert_array_equal(again[0], c)
    assert simulate_counts(p, 3, 2, 4, np.random.default_rng(1)).shape == (4, 3)


@pytest.mark.parametrize("n_questions, n_samples", [(30, 4), (30, 64), (100, 1)])
def test_detection_rates_match_the_closed_form_power(n_questions, n_samples):
    rng = np.random.default_rng([n_questions, n_samples, 1])
    p_b = beta_rates(20_000, 0.3, 1.0, rng)
    p_a = logit_shift(p_b, shift_for_gain(p_b, 0.05))
    paired, unpaired = detection_rates(p_a, p_b, n_questions, n_samples, 3000, rng)
    power = r1lib.detection_power(0.05, population_components(p_a, baseline=p_b), n_samples, n_questions)
    unp = [population_components(x) for x in (p_a, p_b)]
    wide = (unp[0].between + unp[1].between, unp[0].within + unp[1].within)
    power_unpaired = r1lib.detection_power(0.05, population_components(p_a, baseline=p_b), n_samples,
                                           n_questions, interval=wide)
    mc = math.sqrt(power * (1 - power) / 3000)
    assert abs(paired - power) < 3 * mc + 0.03, (paired, power)       # + the small-P t effect
    # the unpaired interval is too wide on shared questions
    assert abs(unpaired - power_unpaired) < 3 * math.sqrt(power_unpaired / 3000) + 0.01
    assert unpaired < paired


EVAL_SIZE_BAD = [
    (lambda: beta_components(0.0, 1.0), ValueError, "mean must lie strictly"),
    (lambda: beta_components(0.3, 0.0), ValueError, "concentration must be > 0"),
    (lambda: beta_components("0.3", 1.0), TypeError, "mean"),
    (lambda: beta_rates(0, 0.3, 1.0, np.random.default_rng(0)), ValueError, "n_questions"),
    (lambda: beta_rates(5, 0.3, 1.0, 0), TypeError, "Generator"),
    (lambda: logit_shift([0.5, 1.2], 1.0), ValueError, "p_correct"),
    (lambda: logit_shift([0.5], float("nan")), ValueError, "shift"),
    (lambda: logit_shift([[0.5]], 1.0), ValueError, "1-D"),
    (lambda: shift_for_gain([0.5], 0.6), ValueError, "gain must lie"),
    (lambda: population_components([0.5, 0.2], baseline=[0.5]), ValueError, "same shape"),
    (lambda: simulate_counts([0.5], 3, 0, 2, np.random.default_rng(0)), ValueError, "n_samples"),
    (lambda: simulate_counts([0.5], 3, 2, 2, np.random.default_rng(0), baseline=[0.1, 0.2]), ValueError, "same shape"),
    (lambda: detection_rates([0.5], [0.4], 1, 2, 5, np.random.default_rng(0)), ValueError, "n_questions must be >= 2"),
    (lambda: detection_rates([0.5], [0.4], 5, 2, 5, np.random.default_rng(0), level=2), ValueError, "level"),
]


@pytest.mark.parametrize("call, error, message", EVAL_SIZE_BAD, ids=[f"size{i}" for i in range(len(EVAL_SIZE_BAD))])
def test_bad_input_at_benchmark_sizes(call, error, message):
    with pytest.raises(error, match=message):
        call()

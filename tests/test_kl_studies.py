"""Tests of r1lib.labs.kl_studies against values computed independently here: numerical integration
(scipy.integrate.quad), mpmath, brute-force enumeration of sequences, finite differences through
the library's own estimators, and seeded Monte Carlo with statistically justified tolerances."""
from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special, stats

from numgrad import central_difference
from r1lib import kl_divergence, kl_k1, kl_k2, kl_k3
from r1lib.labs.kl_studies import (
    ESTIMATORS, MarkovPolicy, categorical_moments, estimate_all, expected_estimator_grads,
    expected_gradient_descent, gaussian_log_probs, gaussian_moments, gaussian_std_crossover,
    gaussian_true_kl, kl_grads, monte_carlo_moments, random_markov_policy, sample_tokens,
    sampled_estimator_grads, schulman_table, sequence_kl_by_position, verl_low_var_kl,
)

# Independent per-sample formulas as functions of L = log r (for the integrals only).
_K_OF_L = {
    "k1": lambda L: -L,
    "k2": lambda L: 0.5 * L * L,
    "k3": lambda L: math.expm1(L) - L,
}

# A Monte Carlo estimate is accepted within Z standard errors: with ~40 such comparisons in this
# file, 5 SE makes a false alarm (p ~ 6e-7 each) essentially impossible, while a wrong formula
# (off by more than 5 SE at these sample sizes) still fails. Seeds are fixed in any case.
Z = 5.0


# ------------------------------------------------------------------------------ Gaussian example

def _quad_moment(mu, f):
    """E[f(log r)] for x ~ N(0,1), log r = log N(x; mu, 1) - log N(x; 0, 1), by quadrature."""
    def integrand(x):
        log_r = stats.norm.logpdf(x, loc=mu) - stats.norm.logpdf(x)
        return f(log_r) * stats.norm.pdf(x)
    value, err = integrate.quad(integrand, -40, 40, limit=400, epsabs=1e-14, epsrel=1e-12)
    return value


@pytest.mark.parametrize("mu", [0.1, 0.5, 1.0, -1.3, 2.0])
def test_gaussian_closed_forms_match_numerical_integration(mu):
    mom = gaussian_moments(mu)
    kl = _quad_moment(mu, lambda L: -L)  # E_q[log q - log p] is the KL itself
    assert kl == pytest.approx(mu * mu / 2, rel=1e-9)
    assert float(gaussian_true_kl(mu)) == pytest.approx(kl, rel=1e-9)
    for name, k in _K_OF_L.items():
        mean = _quad_moment(mu, k)
        var = _quad_moment(mu, lambda L: (k(L) - mean) ** 2)
        assert float(mom[name].mean) == pytest.approx(mean, rel=1e-7), name
        assert float(mom[name].bias) == pytest.approx(mean - kl, rel=1e-6, abs=1e-12), name
        assert float(mom[name].std) == pytest.approx(math.sqrt(var), rel=1e-7), name


def test_schulman_statements_hold_for_the_closed_forms():
    """REFERENCE.md quotes k1 std/KL = 2/mu, k2 bias/KL = mu^2/4, k2 std/KL = sqrt(2 + mu^2) and
    k3 std/KL = sqrt(e^{mu^2} - 1 - mu^2)/(mu^2/2); the quadrature test above is the independent
    check, this one ties the quoted ratios to it at Schulman's two shifts."""
    for mu in (0.1, 1.0):
        mom, kl = gaussian_moments(mu), mu * mu / 2
        assert float(mom["k1"].std) / kl == pytest.approx(2 / mu, rel=1e-12)
        assert float(mom["k2"].bias) / kl == pytest.approx(mu * mu / 4, rel=1e-12)
        assert float(mom["k2"].std) / kl == pytest.approx(math.sqrt(2 + mu * mu), rel=1e-12)
        with mpmath.workdps(50):
            m2 = mpmath.mpf(mu) ** 2
            k3 = float(mpmath.sqrt(mpmath.exp(m2) - 1 - m2) / (m2 / 2))
        assert float(mom["k3"].std) / kl == pytest.approx(k3, rel=1e-12)


@pytest.mark.parametrize("mu", [1e-8, 1e-5, 1e-3, 0.05, 0.3162, 0.3163, 3.0, 10.0])
def test_k3_std_has_no_cancellation_at_small_shift(mu):
    with mpmath.workdps(60):
        x = mpmath.mpf(mu) ** 2
        exact = float(mpmath.sqrt(mpmath.exp(x) - 1 - x))
    assert float(gaussian_moments(mu)["k3"].std) == pytest.approx(exact, rel=1e-13)


def test_k3_std_overflows_to_inf_not_nan():
    std = gaussian_moments(30.0)["k3"].std
    assert np.isposinf(std)


def test_gaussian_moments_vectorised_and_zero_shift():
    mus = np.array([[0.0, 0.2], [1.0, 2.0]])
    mom = gaussian_moments(mus)
    for name in ESTIMATORS:
        assert mom[name].std.shape == (2, 2)
        for i, j in itertools.product(range(2), range(2)):
            single = gaussian_moments(mus[i, j])[name]
            assert mom[name].std[i, j] == single.std and mom[name].mean[i, j] == single.mean
    assert all(float(mom[n].std[0, 0]) == 0.0 for n in ESTIMATORS)


def test_gaussian_log_probs_are_the_normal_log_densities():
    x = np.linspace(-5, 5, 11)
    logq, logp = gaussian_log_probs(x, 0.7)
    np.testing.assert_allclose(logq, stats.norm.logpdf(x), rtol=1e-14)
    np.testing.assert_allclose(logp, stats.norm.logpdf(x, loc=0.7), rtol=1e-14)
    # log r = mu x - mu^2/2 exactly
    np.testing.assert_allclose(logp - logq, 0.7 * x - 0.245, atol=1e-12)


@pytest.mark.parametrize("mu", [0.3, 1.0, 1.6])
def test_monte_carlo_matches_closed_forms_within_standard_errors(mu):
    rng = np.random.default_rng(20240501)
    x = rng.standard_normal(400_000)
    kl = mu * mu / 2
    exact = gaussian_moments(mu)
    for name, values in estimate_all(*gaussian_log_probs(x, mu)).items():
        mc = monte_carlo_moments(values, kl)
        assert abs(mc.bias - float(exact[name].bias)) < Z * mc.mean_se, name
        assert abs(mc.std - float(exact[name].std)) < Z * mc.std_se, name


def test_monte_carlo_standard_errors_are_right():
    """The delta-method std_se and mean_se agree with the spread over independent replications."""
    rng = np.random.default_rng(7)
    reps = [monte_carlo_moments(rng.exponential(size=2000), 1.0) for _ in range(400)]
    means = np.array([r.mean for r in reps])
    stds = np.array([r.std for r in reps])
    # Exponential(1): mean 1, std 1; SE of the mean 1/sqrt(2000); SE of the std sqrt((9-1)/(4*2000)).
    assert np.std(means, ddof=1) == pytest.approx(1 / math.sqrt(2000), rel=0.15)
    assert np.std(stds, ddof=1) == pytest.approx(math.sqrt(8 / 8000), rel=0.2)
    assert np.median([r.std_se for r in reps]) == pytest.approx(math.sqrt(8 / 8000), rel=0.2)
    assert np.median([r.mean_se for r in reps]) == pytest.approx(1 / math.sqrt(2000), rel=0.05)


def test_monte_carlo_moments_exact_on_a_small_sample():
    """Every field against exact rational arithmetic on a hand-sized sample."""
    from fractions import Fraction

    values = [0.5, 1.25, 3.0, -2.0, 7.75, 0.0]
    q = [Fraction(v) for v in values]
    n = len(q)
    mean = sum(q) / n
    var = sum((x - mean) ** 2 for x in q) / (n - 1)
    m4 = sum((x - mean) ** 4 for x in q) / n
    mc = monte_carlo_moments(values, 1.5)
    assert mc.mean == pytest.approx(float(mean), rel=1e-15)
    assert mc.bias == pytest.approx(float(mean - Fraction(1.5)), rel=1e-14)
    assert mc.std == pytest.approx(math.sqrt(var), rel=1e-14)
    assert mc.mean_se == pytest.approx(math.sqrt(var / n), rel=1e-14)
    assert mc.std_se == pytest.approx(math.sqrt((m4 - var * var) / (4 * var * n)), rel=1e-13)
    # The input is not modified (the squared deviations are formed in a work array).
    arr = np.array(values)
    monte_carlo_moments(arr, 0.0)
    assert arr.tolist() == values


def test_schulman_table_reproduces_the_note():
    rng = np.random.default_rng(2020)
    rows = schulman_table((0.1, 1.0), 400_000, rng)
    assert [(r["mu"], r["estimator"]) for r in rows] == [
        (0.1, "k1"), (0.1, "k2"), (0.1, "k3"), (1.0, "k1"), (1.0, "k2"), (1.0, "k3")]
    # Schulman's published numbers (bias/true, std/true); the note prints them rounded.
    published = {(0.1, "k1"): (0, 20), (0.1, "k2"): (0.002, 1.42), (0.1, "k3"): (0, 1.42),
                 (1.0, "k1"): (0, 2), (1.0, "k2"): (0.25, 1.73), (1.0, "k3"): (0, 1.7)}
    for r in rows:
        bias, std = published[(r["mu"], r["estimator"])]
        assert abs(r["bias_mc"] - r["bias_exact"]) < Z * r["bias_se"]
        assert abs(r["std_mc"] - r["std_exact"]) < Z * r["std_se"]
        assert r["std_exact"] == pytest.approx(std, abs=0.006)
        assert r["bias_exact"] == pytest.approx(bias, abs=0.0006)


def test_schulman_table_rejects_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="mus"):
        schulman_table((0.0, 1.0), 10, rng)
    with pytest.raises(TypeError, match="rng"):
        schulman_table((1.0,), 10, 123)
    with pytest.raises(ValueError, match="n_samples"):
        schulman_table((1.0,), 1, rng)
    with pytest.raises(TypeError, match="n_samples"):
        schulman_table((1.0,), 10.5, rng)


def test_crossover_is_where_k2_and_k3_stds_are_equal():
    from scipy.optimize import brentq
    root = brentq(lambda m: math.sqrt(math.expm1(m * m) - m * m) - 0.5 * m * m * math.sqrt(2 + m * m),
                  0.5, 3.0, xtol=1e-14)
    mu_star = gaussian_std_crossover()
    assert mu_star == pytest.approx(root, abs=1e-10)
    below, above = gaussian_moments(mu_star - 0.01), gaussian_moments(mu_star + 0.01)
    assert below["k3"].std < below["k2"].std and above["k3"].std > above["k2"].std


# ------------------------------------------------------------------------------ categorical

def _brute_categorical(z, zr):
    lse, lser = special.logsumexp(z), special.logsumexp(zr)
    out, kl = {}, 0.0
    p = [math.exp(a - lse) for a in z]
    L = [(b - lser) - (a - lse) for a, b in zip(z, zr)]
    kl = sum(pi * -l for pi, l in zip(p, L))
    for name, k in _K_OF_L.items():
        vals = [k(l) for l in L]
        mean = sum(pi * v for pi, v in zip(p, vals))
        var = sum(pi * (v - mean) ** 2 for pi, v in zip(p, vals))
        out[name] = (mean, math.sqrt(var))
    return out, kl


def test_categorical_moments_match_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(5):
        z, zr = rng.normal(size=7) * 2, rng.normal(size=7) * 2
        mom = categorical_moments(z, zr)
        ref, kl = _brute_categorical(z, zr)
        for name in ESTIMATORS:
            assert float(mom[name].mean) == pytest.approx(ref[name][0], rel=1e-10)
            assert float(mom[name].bias) == pytest.approx(ref[name][0] - kl, rel=1e-8, abs=1e-13)
            assert float(mom[name].std) == pytest.approx(ref[name][1], rel=1e-10)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-4, 4), min_size=2, max_size=6).flatmap(
    lambda z: st.tuples(st.just(z), st.lists(st.floats(-4, 4), min_size=len(z), max_size=len(z)))))
def test_k1_and_k3_are_exactly_unbiased_and_k2_is_not_below_zero(pair):
    z, zr = pair
    mom = categorical_moments(z, zr)
    scale = 1e-12 * (1 + float(mom["k3"].mean) + float(mom["k1"].std))
    assert abs(float(mom["k1"].bias)) <= 1e-10 * (1 + float(mom["k1"].std))
    assert abs(float(mom["k3"].bias)) <= 1e-9 * (1 + float(mom["k3"].mean)) + scale
    assert float(mom["k2"].mean) >= 0 and float(mom["k3"].std) >= 0


def test_categorical_moments_vectorised():
    rng = np.random.default_rng(4)
    z, zr = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    mom = categorical_moments(z, zr)
    for i in range(3):
        row = categorical_moments(z[i], zr[i])
        for name in ESTIMATORS:
            assert mom[name].std[i] == pytest.approx(float(row[name].std), rel=1e-14)


def test_categorical_monte_carlo_matches_exact():
    rng = np.random.default_rng(11)
    z, zr = rng.normal(size=6) * 1.5, rng.normal(size=6) * 1.5
    tokens = sample_tokens(z, rng.random(300_000))
    logp, ref_logp = special.log_softmax(z)[tokens], special.log_softmax(zr)[tokens]
    exact = categorical_moments(z, zr)
    true = float(kl_divergence(special.softmax(z), special.softmax(zr)))
    for name, values in estimate_all(logp, ref_logp).items():
        mc = monte_carlo_moments(values, true)
        assert abs(mc.mean - float(exact[name].mean)) < Z * mc.mean_se
        assert abs(mc.std - float(exact[name].std)) < Z * mc.std_se


def test_sample_tokens_inverse_cdf():
    z = np.log(np.array([0.2, 0.5, 0.3]))
    # Boundaries: [0, .2) -> 0, [.2, .7) -> 1, [.7, 1) -> 2
    u = np.array([0.0, 0.1999, 0.2000001, 0.6999, 0.7000001, 0.999999])
    np.testing.assert_array_equal(sample_tokens(z, u), [0, 0, 1, 1, 2, 2])
    rng = np.random.default_rng(5)
    counts = np.bincount(sample_tokens(z, rng.random(100_000)), minlength=3)
    assert stats.chisquare(counts, 100_000 * np.array([0.2, 0.5, 0.3])).pvalue > 1e-4
    # batched logits: one distribution per row of u
    zz = np.stack([z, z[::-1]])
    np.testing.assert_array_equal(sample_tokens(zz, np.array([0.1, 0.1])), [0, 0])
    np.testing.assert_array_equal(sample_tokens(zz, np.array([0.75, 0.75])), [2, 1])


def test_sample_tokens_bad_input():
    with pytest.raises(ValueError, match="u must lie"):
        sample_tokens([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="u must lie"):
        sample_tokens([0.0, 1.0], [-0.1])
    with pytest.raises(ValueError, match="logits"):
        sample_tokens([0.0, np.nan], [0.5])


def test_categorical_moments_bad_input():
    with pytest.raises(ValueError, match="differ"):
        categorical_moments([0.0, 1.0], [0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="ref_logits"):
        categorical_moments([0.0, 1.0], [0.0, -np.inf])
    with pytest.raises(TypeError, match="logits"):
        categorical_moments("ab", [0.0, 1.0])


# ------------------------------------------------------------------------------ sequences

def _brute_sequence_kl(pol, ref, length):
    """Sum over all V^T sequences of pi(o) (log pi(o) - log ref(o)), from scipy's log-softmax."""
    f, n = special.log_softmax(pol.first_logits), special.log_softmax(pol.next_logits, axis=1)
    fr, nr = special.log_softmax(ref.first_logits), special.log_softmax(ref.next_logits, axis=1)
    total = 0.0
    for seq in itertools.product(range(pol.vocab_size), repeat=length):
        lp = f[seq[0]] + sum(n[a, b] for a, b in zip(seq, seq[1:]))
        lr = fr[seq[0]] + sum(nr[a, b] for a, b in zip(seq, seq[1:]))
        total += math.exp(lp) * (lp - lr)
    return total


@pytest.mark.parametrize("vocab,length", [(2, 1), (3, 4), (4, 5), (2, 9)])
def test_sequence_kl_matches_brute_force_enumeration(vocab, length):
    rng = np.random.default_rng(vocab * 100 + length)
    pol, ref = random_markov_policy(vocab, rng, 1.5), random_markov_policy(vocab, rng, 1.5)
    terms = sequence_kl_by_position(pol, ref, length)
    assert terms.shape == (length,)
    assert terms.sum() == pytest.approx(_brute_sequence_kl(pol, ref, length), rel=1e-10)


def test_sequence_kl_prefixes_are_consistent_and_zero_for_identical_policies():
    rng = np.random.default_rng(8)
    pol, ref = random_markov_policy(5, rng), random_markov_policy(5, rng)
    long = sequence_kl_by_position(pol, ref, 30)
    np.testing.assert_allclose(sequence_kl_by_position(pol, ref, 7), long[:7], rtol=1e-13)
    assert (long >= 0).all()
    assert sequence_kl_by_position(pol, pol, 10).sum() == 0.0


def test_markov_sampling_frequencies():
    rng = np.random.default_rng(9)
    pol = random_markov_policy(3, rng)
    tokens = pol.sample(rng.random((60_000, 2)))
    p1 = special.softmax(pol.first_logits)
    assert stats.chisquare(np.bincount(tokens[:, 0], minlength=3), 60_000 * p1).pvalue > 1e-4
    trans = special.softmax(pol.next_logits, axis=1)
    for a in range(3):
        nxt = tokens[tokens[:, 0] == a, 1]
        assert stats.chisquare(np.bincount(nxt, minlength=3), nxt.size * trans[a]).pvalue > 1e-4


def test_markov_sampling_is_the_inverse_cdf_token_by_token():
    """sample() against a plain loop: token t is #{k : F_{o_{t-1}}(k) <= u_t}, capped at V - 1.

    Half the uniforms sit exactly on a cumulative probability or one float step either side of
    one, where a slip in the comparisons would show; cells of the fast ranking grid hold knots."""
    rng = np.random.default_rng(21)
    for vocab in (2, 3, 7):
        pol = random_markov_policy(vocab, rng, scale=2.0)
        # The policy's own probabilities (the sampling rule is under test, not the softmax):
        # a softmax computed another way differs in the last bit, which moves boundary draws.
        first = np.cumsum(np.exp(pol.first_logp))
        nxt = np.cumsum(np.exp(pol.next_logp), axis=1)
        edges = np.concatenate([first, nxt.ravel()])
        edges = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 1), [0.0]])
        edges = edges[edges < 1]
        u = rng.random((300, 9))
        u[:, ::2] = rng.choice(edges, size=u[:, ::2].shape)
        tokens = pol.sample(u)
        assert tokens.dtype == np.int64 and tokens.shape == u.shape
        for row_u, row in zip(u, tokens):
            expected = [min(int(np.sum(first <= row_u[0])), vocab - 1)]
            for t in range(1, u.shape[1]):
                expected.append(min(int(np.sum(nxt[expected[-1]] <= row_u[t])), vocab - 1))
            assert row.tolist() == expected


def test_token_logprobs_sum_to_the_sequence_log_probability():
    rng = np.random.default_rng(10)
    pol = random_markov_policy(4, rng)
    tokens = pol.sample(rng.random((5, 6)))
    lp = pol.token_logprobs(tokens)
    f, n = special.log_softmax(pol.first_logits), special.log_softmax(pol.next_logits, axis=1)
    for row, seq in zip(lp, tokens):
        expected = f[seq[0]] + sum(n[a, b] for a, b in zip(seq, seq[1:]))
        assert row.sum() == pytest.approx(expected, rel=1e-13)


def test_summed_per_token_k3_is_unbiased_for_the_sequence_kl():
    rng = np.random.default_rng(12)
    ref = random_markov_policy(6, rng)
    pol = ref.shifted(random_markov_policy(6, rng), 0.6)
    length = 20
    tokens = pol.sample(rng.random((40_000, length)))
    lp, lr = pol.token_logprobs(tokens), ref.token_logprobs(tokens)
    exact = sequence_kl_by_position(pol, ref, length).sum()
    for name in ("k1", "k3"):
        mc = monte_carlo_moments(ESTIMATORS[name](lp, lr).sum(axis=1), exact)
        assert abs(mc.bias) < Z * mc.mean_se, name
    # The sequence-level k3 (one ratio for the whole sequence) is unbiased too.
    mc = monte_carlo_moments(kl_k3(lp.sum(axis=1), lr.sum(axis=1)), exact)
    assert abs(mc.bias) < Z * mc.mean_se


def test_markov_policy_bad_input():
    with pytest.raises(ValueError, match="next_logits"):
        MarkovPolicy([0.0, 1.0], np.zeros((3, 3)))
    with pytest.raises(ValueError, match="first_logits"):
        MarkovPolicy([0.0], np.zeros((1, 1)))
    with pytest.raises(ValueError, match="first_logits"):
        MarkovPolicy([0.0, np.inf], np.zeros((2, 2)))
    pol = MarkovPolicy([0.0, 1.0], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="tokens"):
        pol.token_logprobs([[0, 2]])
    with pytest.raises(ValueError, match="tokens"):
        pol.token_logprobs([0, 1])
    with pytest.raises(ValueError, match="u must"):
        pol.sample(np.full((2, 3), 1.0))
    with pytest.raises(ValueError, match="u must"):
        pol.sample(np.zeros(3))
    with pytest.raises(TypeError, match="direction"):
        pol.shifted("x", 1.0)
    with pytest.raises(TypeError, match="policy"):
        sequence_kl_by_position("x", pol, 3)
    with pytest.raises(ValueError, match="vocabularies"):
        sequence_kl_by_position(pol, MarkovPolicy(np.zeros(3), np.zeros((3, 3))), 3)
    with pytest.raises(ValueError, match="length"):
        sequence_kl_by_position(pol, pol, 0)
    with pytest.raises(TypeError, match="rng"):
        random_markov_policy(3, None)
    with pytest.raises(ValueError, match="vocab_size"):
        random_markov_policy(1, np.random.default_rng(0))
    assert "vocab_size=2" in repr(pol)


# ------------------------------------------------------------------------------ gradients

def _fd_expected_grad(name, z, zr, h=1e-6):
    """E_{o ~ pi(z)}[d k(o; z) / dz] by central differences through r1lib's kl_k*, the sampling
    distribution frozen at z (the token held fixed, as when the estimator is a loss)."""
    p = special.softmax(z)
    lr = special.log_softmax(zr)
    return central_difference(lambda zz: np.sum(p * ESTIMATORS[name](special.log_softmax(zz), lr)), z, h)


def _fd_kl_grad(z, zr, reverse, h=1e-6):
    def kl(zz):
        a, b = special.softmax(zz), special.softmax(zr)
        return float(kl_divergence(b, a) if reverse else kl_divergence(a, b))
    return central_difference(kl, z, h)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_expected_gradients_k1_zero_k2_forward_k3_reverse(seed):
    rng = np.random.default_rng(seed)
    z, zr = rng.normal(size=5) * 1.2, rng.normal(size=5) * 1.2
    got = expected_estimator_grads(z, zr)
    for name in ESTIMATORS:
        np.testing.assert_allclose(got[name], _fd_expected_grad(name, z, zr), atol=1e-7)
    fwd, rev = _fd_kl_grad(z, zr, False), _fd_kl_grad(z, zr, True)
    np.testing.assert_allclose(got["k1"], 0.0, atol=1e-14)
    np.testing.assert_allclose(got["k2"], fwd, atol=1e-7)
    np.testing.assert_allclose(got["k3"], rev, atol=1e-7)
    kg = kl_grads(z, zr)
    np.testing.assert_allclose(kg["theta_ref"], fwd, atol=1e-7)
    np.testing.assert_allclose(kg["ref_theta"], rev, atol=1e-7)
    # and the two KL directions really have different gradients here
    assert np.max(np.abs(fwd - rev)) > 1e-2


def test_sampled_gradients_average_to_the_expected_ones():
    rng = np.random.default_rng(13)
    z, zr = rng.normal(size=4), rng.normal(size=4)
    tokens = sample_tokens(z, rng.random(200_000))
    per = sampled_estimator_grads(z, zr, tokens)
    exact = expected_estimator_grads(z, zr)
    for name, g in per.items():
        se = g.std(axis=0, ddof=1) / math.sqrt(len(tokens))
        assert (np.abs(g.mean(axis=0) - exact[name]) < Z * se + 1e-15).all(), name
        # the per-sample gradient of one sample equals its finite difference too
    h = 1e-6
    o = int(tokens[0])
    for name in ESTIMATORS:
        fd = np.array([(ESTIMATORS[name](special.log_softmax(z + h * np.eye(4)[j])[o],
                                         special.log_softmax(zr)[o])
                        - ESTIMATORS[name](special.log_softmax(z - h * np.eye(4)[j])[o],
                                           special.log_softmax(zr)[o])) / (2 * h)
                       for j in range(4)])
        np.testing.assert_allclose(per[name][0], fd, atol=1e-7)


def test_expected_gradient_descent():
    rng = np.random.default_rng(14)
    z, zr = rng.normal(size=5) * 1.5, rng.normal(size=5) * 1.5
    path1 = expected_gradient_descent(z, zr, "k1", lr=0.5, steps=20)
    assert path1.shape == (21, 5)
    np.testing.assert_allclose(path1[-1], z, atol=1e-12)  # k1 pulls nowhere on average
    for name in ("k2", "k3"):
        path = expected_gradient_descent(z, zr, name, lr=1.0, steps=400)
        final = special.softmax(path[-1])
        np.testing.assert_allclose(final, special.softmax(zr), atol=1e-4)
    path3 = expected_gradient_descent(z, zr, "k3", lr=0.1, steps=1)
    np.testing.assert_allclose(path3[1], z - 0.1 * (special.softmax(z) - special.softmax(zr)), rtol=1e-13)
    with pytest.raises(ValueError, match="estimator"):
        expected_gradient_descent(z, zr, "k4")
    with pytest.raises(ValueError, match="lr"):
        expected_gradient_descent(z, zr, "k3", lr=0.0)


def test_gradient_functions_bad_input():
    with pytest.raises(ValueError, match="1-D"):
        expected_estimator_grads(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="tokens"):
        sampled_estimator_grads([0.0, 1.0], [1.0, 0.0], [0, 2])
    with pytest.raises(ValueError, match="differ"):
        kl_grads([0.0, 1.0], [0.0])


# ------------------------------------------------------------------------------ verl, helpers

def test_verl_low_var_kl_matches_an_independent_clamped_formula():
    lp = np.array([-0.1, -3.0, -30.0, -0.5, -1e-3, -40.0])
    rl = np.array([-0.2, -0.1, -1.0, -25.0, -1e-3, -0.0])
    kl = np.clip(rl - lp, -20, 20)
    expected = np.clip(np.exp(kl) - kl - 1, -10, 10)
    np.testing.assert_allclose(verl_low_var_kl(lp, rl), expected, rtol=1e-12, atol=1e-15)
    assert verl_low_var_kl(lp, rl)[[2, 3, 5]].tolist() == [10.0, 10.0, 10.0]
    with pytest.raises(ValueError, match="clip"):
        verl_low_var_kl(lp, rl, clip=25.0)
    with pytest.raises(ValueError, match="clip"):
        verl_low_var_kl(lp, rl, clip=-1.0)


def test_estimate_all_uses_the_library_estimators():
    lp, rl = np.array([-0.5, -2.0]), np.array([-1.0, -0.1])
    got = estimate_all(lp, rl)
    for name, fn in (("k1", kl_k1), ("k2", kl_k2), ("k3", kl_k3)):
        np.testing.assert_array_equal(got[name], fn(lp, rl))


def test_monte_carlo_moments_bad_input_and_constant_values():
    with pytest.raises(ValueError, match="values"):
        monte_carlo_moments([1.0], 1.0)
    with pytest.raises(ValueError, match="values"):
        monte_carlo_moments(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="true_kl"):
        monte_carlo_moments([1.0, 2.0], np.nan)
    mc = monte_carlo_moments([2.0, 2.0, 2.0], 1.5)
    assert mc == (2.0, 0.5, 0.0, 0.0, 0.0)


def test_gaussian_bad_input():
    with pytest.raises(ValueError, match="mu"):
        gaussian_moments(np.nan)
    with pytest.raises(TypeError, match="mu"):
        gaussian_true_kl("1")
    with pytest.raises(ValueError, match="mu must be a scalar"):
        gaussian_log_probs([0.0, 1.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="x"):
        gaussian_log_probs([0.0, np.inf], 0.1)
    with pytest.raises(ValueError, match="tol"):
        gaussian_std_crossover(0.0)


# ------------------------------------------------------------------------------ crossover root

def test_crossover_root_is_1_2047_by_mpmath():
    """Var k3 = Var k2 <=> e^x - 1 - x = x^2/2 + x^3/4 with x = mu^2; the root, to 30 digits by
    mpmath, is x* = 1.45123..., mu* = 1.204670... (the docstring quotes 1.20467)."""
    mpmath.mp.dps = 30
    x_star = mpmath.findroot(lambda x: mpmath.e**x - 1 - x - x**2 / 2 - x**3 / 4, 1.45)
    mu_star = float(mpmath.sqrt(x_star))
    assert gaussian_std_crossover() == pytest.approx(mu_star, abs=1e-11)
    assert round(mu_star, 4) == 1.2047
    assert "1.20467" in gaussian_std_crossover.__doc__ and "1.22" not in gaussian_std_crossover.__doc__


# ------------------------------------------------------------------------------ sampled log-probs

def test_sampled_log_probs_are_those_of_inverse_cdf_tokens():
    from r1lib.labs.kl_studies import sampled_log_probs
    rng = np.random.default_rng(8)
    z, zr, u = rng.normal(size=7), rng.normal(size=7), rng.random(1000)
    logp, ref_logp = sampled_log_probs(z, zr, u)
    # independent: tokens by a cumulative-sum scan written here
    p = np.exp(z - special.logsumexp(z))
    tok = np.array([int(np.sum(np.cumsum(p) <= ui)) for ui in u])
    assert np.array_equal(logp, z[tok] - special.logsumexp(z))
    assert np.allclose(ref_logp, zr[tok] - special.logsumexp(zr), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match="same length"):
        sampled_log_probs(z, zr[:3], u)
    with pytest.raises(ValueError, match="u must lie"):
        sampled_log_probs(z, zr, [1.0])


# ------------------------------------------------------------------------------ SequenceStudy

def test_sequence_study_estimates_match_a_direct_computation():
    from r1lib.labs.kl_studies import SequenceStudy
    rng = np.random.default_rng(21)
    ref, direction = random_markov_policy(4, rng, 1.0), random_markov_policy(4, rng, 1.0)
    u = rng.random((50, 12))
    study = SequenceStudy(ref, direction, u, cache=2)
    for shift, length in ((0.3, 1), (0.3, 7), (1.1, 12), (0.0, 5)):
        est, exact = study.estimates(shift, length)
        pol = ref.shifted(direction, shift)
        tok = pol.sample(u)[:, :length]                  # the first `length` tokens of each sequence
        lp, lr = pol.token_logprobs(tok), ref.token_logprobs(tok)
        log_r = lr - lp
        assert np.allclose(est["Σ k1"], -log_r.sum(axis=1), rtol=1e-12, atol=1e-12)
        assert np.allclose(est["Σ k3"], (np.expm1(log_r) - log_r).sum(axis=1), rtol=1e-12, atol=1e-12)
        big_l = log_r.sum(axis=1)
        assert np.allclose(est["k3(R)"], np.expm1(big_l) - big_l, rtol=1e-12, atol=1e-12)
        # exact sequence KL by brute force over all 4^length sequences (short ones only)
        if length <= 5:
            brute = 0.0
            for seq in itertools.product(range(4), repeat=length):
                t = np.array([seq])
                a, b = pol.token_logprobs(t).sum(), ref.token_logprobs(t).sum()
                brute += math.exp(a) * (a - b)
            assert exact == pytest.approx(brute, rel=1e-12, abs=1e-15)
    assert len(study._tables) <= 2                       # the cache keeps at most `cache` shifts


def test_sequence_study_rejects_bad_input():
    from r1lib.labs.kl_studies import SequenceStudy
    rng = np.random.default_rng(1)
    ref = random_markov_policy(3, rng)
    with pytest.raises(TypeError, match="ref must be a MarkovPolicy"):
        SequenceStudy("x", ref, rng.random((5, 4)))
    with pytest.raises(TypeError, match="direction"):
        SequenceStudy(ref, random_markov_policy(4, rng), rng.random((5, 4)))
    with pytest.raises(ValueError, match="shape"):
        SequenceStudy(ref, ref, rng.random(5))
    study = SequenceStudy(ref, ref, rng.random((5, 4)))
    with pytest.raises(ValueError, match="length must be <= 4"):
        study.estimates(0.5, 5)
    with pytest.raises(ValueError, match="length"):
        study.estimates(0.5, 0)
    with pytest.raises(ValueError, match="shift"):
        study.estimates(float("nan"), 2)

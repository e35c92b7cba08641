"""KL divergence and the generalized JSD against scipy, exact cases and properties."""
from __future__ import annotations

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import r1lib


def _simplex(k):
    return hnp.arrays(np.float64, (k,), elements=st.floats(0, 1)).filter(lambda w: w.sum() > 1e-3).map(
        lambda w: w / w.sum())


@st.composite
def prob_pairs(draw):
    k = draw(st.integers(1, 8))
    return draw(_simplex(k)), draw(_simplex(k))


@given(prob_pairs())
@settings(max_examples=200, deadline=None)
def test_kl_matches_scipy_and_is_nonnegative(pq):
    p, q = pq
    ref = special.rel_entr(p, q).sum()
    kl = r1lib.kl_divergence(p, q)
    assert kl >= 0
    if np.isinf(ref):
        assert np.isinf(kl)
    else:
        np.testing.assert_allclose(kl, ref, rtol=1e-9, atol=1e-12)


@given(prob_pairs())
@settings(max_examples=100, deadline=None)
def test_kl_is_zero_only_for_equal_distributions(pq):
    p, q = pq
    assert r1lib.kl_divergence(p, p) == 0.0
    assume(np.max(np.abs(p - q)) > 1e-3)
    assert r1lib.kl_divergence(p, q) > 0


def test_kl_exact_value_and_asymmetry():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    # KL(p||q) = 0.5 ln 2 + 0.5 ln(2/3); KL(q||p) = 0.25 ln 0.5 + 0.75 ln 1.5
    assert r1lib.kl_divergence(p, q) == pytest.approx(0.5 * np.log(2) + 0.5 * np.log(2 / 3), rel=1e-14)
    assert r1lib.kl_divergence(q, p) == pytest.approx(0.25 * np.log(0.5) + 0.75 * np.log(1.5), rel=1e-14)
    assert r1lib.kl_divergence(p, q) != pytest.approx(r1lib.kl_divergence(q, p))


def test_zero_probabilities_follow_the_conventions_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert r1lib.kl_divergence([0.0, 1.0], [0.5, 0.5]) == pytest.approx(np.log(2))
        assert np.isinf(r1lib.kl_divergence([0.5, 0.5], [0.0, 1.0]))


def test_no_clipping_cap():
    """Clipping probabilities at 1e-12 would cap this at ~27.6 nats; the true value is larger."""
    q = np.array([1e-30, 1 - 1e-30])
    kl = r1lib.kl_divergence([1.0, 0.0], q)
    assert kl == pytest.approx(30 * np.log(10), rel=1e-12)
    assert kl > 60


def test_batched_and_broadcast():
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(5), size=(3, 4))
    q = rng.dirichlet(np.ones(5))
    out = r1lib.kl_divergence(p, q[None, None, :])
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, special.rel_entr(p, q).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(r1lib.kl_divergence(p.swapaxes(0, 2), p.swapaxes(0, 2), axis=0), 0.0)


@given(hnp.arrays(np.float64, (3, 5), elements=st.floats(-20, 20)),
       hnp.arrays(np.float64, (3, 5), elements=st.floats(-20, 20)), st.floats(0.1, 10))
@settings(max_examples=100, deadline=None)
def test_kl_from_logits_equals_kl_of_softmaxes(a, b, t):
    ref = special.rel_entr(special.softmax(a / t, -1), special.softmax(b / t, -1)).sum(-1)
    np.testing.assert_allclose(r1lib.kl_from_logits(a, b, t), ref, rtol=1e-8, atol=1e-12)


def test_kl_from_logits_masks():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = np.array([0.0, -np.inf, 1.0])
        assert np.isfinite(r1lib.kl_from_logits(a, np.array([0.0, 5.0, 1.0])))
        assert np.isinf(r1lib.kl_from_logits(np.array([0.0, 0.0]), np.array([0.0, -np.inf])))
        assert r1lib.kl_from_logits(a, a) == 0.0


def test_kl_from_logits_keeps_small_divergences():
    """Nearly equal distributions: the difference-of-logits form keeps the tiny KL accurate."""
    a = np.array([3.0, 1.0, -2.0, 0.5])
    d = np.array([1e-6, -2e-6, 0.0, 5e-7])
    p = special.softmax(a)
    # Second order: KL ~ 0.5 * Var_p(d)
    expected = 0.5 * (np.sum(p * d**2) - np.sum(p * d) ** 2)
    assert r1lib.kl_from_logits(a, a + d) == pytest.approx(expected, rel=1e-4)


def test_generalized_jsd():
    p, q = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    assert r1lib.generalized_jsd(p, q, 0.5) == pytest.approx(np.log(2), rel=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert r1lib.generalized_jsd(p, q, 0.0) == 0.0
        assert r1lib.generalized_jsd(p, q, 1.0) == 0.0
    # Exact rational check of beta = 1/4 on a small example.
    pa, qa, beta = [Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 4), Fraction(3, 4)], Fraction(1, 4)
    m = [beta * x + (1 - beta) * y for x, y in zip(pa, qa)]
    expected = float(beta) * sum(float(x) * np.log(float(x / z)) for x, z in zip(pa, m)) + \
        float(1 - beta) * sum(float(y) * np.log(float(y / z)) for y, z in zip(qa, m))
    assert r1lib.generalized_jsd([0.5, 0.5], [0.25, 0.75], 0.25) == pytest.approx(expected, rel=1e-13)

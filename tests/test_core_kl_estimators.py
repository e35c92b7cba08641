"""k1, k2, k3 against their closed forms and exact expectations."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import r1lib

logps = hnp.arrays(np.float64, (20,), elements=st.floats(-30, 0))


@given(logps, logps)
@settings(max_examples=150, deadline=None)
def test_formulas_and_k3_nonnegative(lp, ref):
    lr = ref - lp
    np.testing.assert_allclose(r1lib.kl_k1(lp, ref), -lr, atol=1e-12)
    np.testing.assert_allclose(r1lib.kl_k2(lp, ref), lr**2 / 2, rtol=1e-12, atol=1e-300)
    k3 = r1lib.kl_k3(lp, ref)
    assert np.all(k3 >= 0)
    # TRL's formula, evaluated in extended precision as the reference
    ref_k3 = (np.exp(lr.astype(np.longdouble)) - lr.astype(np.longdouble) - 1).astype(np.float64)
    np.testing.assert_allclose(k3, ref_k3, rtol=1e-9, atol=1e-15)


def test_k3_keeps_tiny_values():
    lr = np.array([1e-9, -1e-9, 1e-5])
    k3 = r1lib.kl_k3(np.zeros(3) - 1.0, -1.0 + lr)
    np.testing.assert_allclose(k3, lr**2 / 2 + lr**3 / 6, rtol=1e-6)


def test_exact_expectations_on_a_categorical_policy():
    """E_{o~pi}[k1] = E[k3] = KL(pi||ref); E[k2] != KL in general."""
    rng = np.random.default_rng(7)
    logits_pi, logits_ref = rng.normal(size=6), rng.normal(size=6)
    logpi, logref = special.log_softmax(logits_pi), special.log_softmax(logits_ref)
    pi = np.exp(logpi)
    kl = special.rel_entr(pi, np.exp(logref)).sum()
    assert np.sum(pi * r1lib.kl_k1(logpi, logref)) == pytest.approx(kl, rel=1e-12)
    assert np.sum(pi * r1lib.kl_k3(logpi, logref)) == pytest.approx(kl, rel=1e-12)
    assert np.sum(pi * r1lib.kl_k2(logpi, logref)) != pytest.approx(kl, rel=1e-3)


def test_gaussian_example_by_monte_carlo():
    """Schulman's example: q = N(0,1) samples, p = N(mu,1); KL[q,p] = mu^2/2."""
    rng = np.random.default_rng(8)
    mu = 1.0
    x = rng.standard_normal(1_000_000)
    logq = -0.5 * x**2 - 0.5 * np.log(2 * np.pi)
    logp = -0.5 * (x - mu) ** 2 - 0.5 * np.log(2 * np.pi)
    true = mu**2 / 2
    for est in (r1lib.kl_k1, r1lib.kl_k3):
        vals = est(logq, logp)
        assert abs(vals.mean() - true) < 5 * vals.std() / np.sqrt(x.size)
    # k2's bias: E[(log r)^2/2] = (mu^2 + mu^4/4)/2 -> bias/true = mu^2/4
    k2 = r1lib.kl_k2(logq, logp)
    assert k2.mean() == pytest.approx(true * (1 + mu**2 / 4), rel=5e-3)


def test_infinite_and_overflowing_ratios_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isinf(r1lib.kl_k3(-1.0, -np.inf))
        assert np.isinf(r1lib.kl_k1(-1.0, -np.inf))
        assert np.isinf(r1lib.kl_k3(-2000.0, 0.0))  # r = e^2000 is beyond float64
        assert np.isfinite(r1lib.kl_k3(0.0, -2000.0))


def test_dtype_and_broadcasting():
    lp = np.full((4, 3), -1.0, dtype=np.float32)
    ref = np.array([-0.5, -1.0, -2.0], dtype=np.float32)
    out = r1lib.kl_k3(lp, ref)
    assert out.shape == (4, 3) and out.dtype == np.float32
    assert r1lib.kl_k3(lp, ref.astype(np.float64)).dtype == np.float64

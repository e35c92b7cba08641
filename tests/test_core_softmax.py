"""softmax / log_softmax / entropy against scipy and mpmath, plus the numerical edge cases."""
from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import r1lib

finite_logits = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6),
                           elements=st.floats(-50, 50, allow_nan=False))
temperatures = st.floats(0.05, 50.0)


def _mp_log_softmax(row, t):
    mpmath.mp.dps = 50
    scaled = [mpmath.mpf(float(x)) / mpmath.mpf(t) for x in row]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(x) for x in scaled))
    return np.array([float(x - lse) for x in scaled])


@given(finite_logits, temperatures)
@settings(max_examples=150, deadline=None)
def test_log_softmax_matches_scipy(z, t):
    np.testing.assert_allclose(r1lib.log_softmax(z, t), special.log_softmax(z / t, axis=-1),
                               rtol=1e-10, atol=1e-10)
    p = r1lib.softmax(z, t)
    np.testing.assert_allclose(p, special.softmax(z / t, axis=-1), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)


def test_log_softmax_matches_mpmath_on_wide_ranges():
    rng = np.random.default_rng(0)
    for t in (0.1, 1.0, 7.0):
        row = rng.normal(scale=30, size=9)
        np.testing.assert_allclose(r1lib.log_softmax(row, t), _mp_log_softmax(row, t), rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_axis_argument(axis):
    z = np.arange(12.0).reshape(3, 4) / 5
    np.testing.assert_allclose(r1lib.softmax(z, 2.0, axis=axis), special.softmax(z / 2.0, axis=axis))


def test_masked_classes_are_exact_zeros_without_warnings():
    z = np.array([[1.0, -np.inf, 3.0], [-np.inf, -np.inf, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        p = r1lib.softmax(z)
        logp = r1lib.log_softmax(z)
        h = r1lib.entropy(z)
    assert p[0, 1] == 0.0 and np.isneginf(logp[0, 1])
    np.testing.assert_allclose(p[1], [0, 0, 1])
    np.testing.assert_allclose(h, [-(special.xlogy(p[0], p[0])).sum(), 0.0])


def test_huge_logits_are_finite():
    z = np.array([1e4, -1e4, 0.0, 1e4 - 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for t in (0.01, 1.0, 100.0):
            logp = r1lib.log_softmax(z, t)
            assert np.all(np.isfinite(logp))
    np.testing.assert_allclose(r1lib.softmax(z)[[0, 3]], special.softmax(np.array([1.0, 0.0])))


def test_float32_stays_float32_and_is_accurate():
    rng = np.random.default_rng(1)
    z = rng.normal(scale=5, size=(8, 1000)).astype(np.float32)
    out = r1lib.log_softmax(z, 2.0)
    assert out.dtype == np.float32
    ref = special.log_softmax(z.astype(np.float64) / 2.0, axis=-1)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)
    assert r1lib.softmax(z).dtype == np.float32
    assert r1lib.softmax(np.arange(3)).dtype == np.float64  # integers become float64


def test_temperature_limits():
    z = np.array([2.0, 1.0, 0.5, -1.0])
    np.testing.assert_allclose(r1lib.softmax(z, 1e-3), [1, 0, 0, 0], atol=1e-12)
    np.testing.assert_allclose(r1lib.softmax(z, 1e6), np.full(4, 0.25), atol=1e-6)
    assert r1lib.entropy(z, 1e-3) < 1e-12
    assert abs(r1lib.entropy(z, 1e6) - np.log(4)) < 1e-9


@given(finite_logits, temperatures, temperatures)
@settings(max_examples=80, deadline=None)
def test_entropy_is_between_zero_and_log_k_and_grows_with_temperature(z, t1, t2):
    lo, hi = sorted((t1, t2))
    h_lo, h_hi = r1lib.entropy(z, lo), r1lib.entropy(z, hi)
    k = z.shape[-1]
    assert np.all(h_lo >= 0) and np.all(h_hi <= np.log(k) + 1e-12)
    # Entropy of a tempered softmax is non-decreasing in T (rounding aside).
    assert np.all(h_hi >= h_lo - 1e-9)


def test_entropy_against_scipy():
    z = np.array([[0.3, -1.2, 2.0, 0.0], [5.0, 5.0, 5.0, 5.0]])
    np.testing.assert_allclose(r1lib.entropy(z, 1.5), special.entr(special.softmax(z / 1.5, axis=-1)).sum(-1))

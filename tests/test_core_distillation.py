"""The T^2-scaled distillation loss and its gradient."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special

import r1lib
from numgrad import central_difference

logits = hnp.arrays(np.float64, (2, 5), elements=st.floats(-8, 8))


def _reference_loss(zt, zs, t):
    """Independent formula: T^2 * sum p_t (log p_t - log p_s) via scipy."""
    pt = special.softmax(zt / t, axis=-1)
    return t * t * special.rel_entr(pt, special.softmax(zs / t, axis=-1)).sum(-1)


@given(logits, logits, st.floats(0.2, 20))
@settings(max_examples=100, deadline=None)
def test_loss_matches_reference_for_every_reduction(zt, zs, t):
    ref = _reference_loss(zt, zs, t)
    np.testing.assert_allclose(r1lib.distillation_loss(zt, zs, t, reduction="none"), ref, rtol=1e-8, atol=1e-12)
    assert r1lib.distillation_loss(zt, zs, t) == pytest.approx(ref.mean(), rel=1e-8, abs=1e-12)
    assert r1lib.distillation_loss(zt, zs, t, reduction="sum") == pytest.approx(ref.sum(), rel=1e-8, abs=1e-12)


@given(logits, logits, st.floats(0.3, 10))
@settings(max_examples=60, deadline=None)
def test_gradient_equals_finite_differences(zt, zs, t):
    grad = r1lib.distillation_grad(zt, zs, t)
    fd = central_difference(lambda z: r1lib.distillation_loss(zt, z, t, reduction="sum"), zs)
    np.testing.assert_allclose(grad, fd, atol=1e-6 * max(1.0, t))
    np.testing.assert_allclose(grad.sum(-1), 0.0, atol=1e-12)


def test_gradient_closed_form():
    zt, zs, t = np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0]), 2.0
    expected = t * (special.softmax(zs / t) - special.softmax(zt / t))
    np.testing.assert_allclose(r1lib.distillation_grad(zt, zs, t), expected, rtol=1e-14)


def test_high_temperature_limit_is_logit_matching():
    """Hinton et al. sec. 2.1: with zero-mean logits over N classes, T^2 KL -> (1/(2N)) sum_i d_i^2
    as T -> inf, d = z_t - z_s (the loss becomes logit matching)."""
    rng = np.random.default_rng(3)
    zt, zs = rng.normal(size=10), rng.normal(size=10)
    zt, zs = zt - zt.mean(), zs - zs.mean()
    d = zt - zs
    limit = np.sum((d - d.mean()) ** 2) / (2 * len(d))
    loss = r1lib.distillation_loss(zt, zs, 1e4, reduction="sum")
    assert loss == pytest.approx(limit, rel=1e-3)


def test_masked_and_extreme_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zt = np.array([[2.0, -np.inf, 0.0]])
        zs = np.array([[1.0, 0.0, 0.0]])
        assert np.isfinite(r1lib.distillation_loss(zt, zs, 2.0))
        g = r1lib.distillation_grad(zt, zs, 2.0)
        assert np.all(np.isfinite(g))
        assert np.isinf(r1lib.distillation_loss(zs, zt, 2.0))
        big = np.array([[1e4, 0.0, -1e4]])
        for t in (0.1, 1.0, 20.0):
            assert np.isfinite(r1lib.distillation_loss(big, big[:, ::-1], t))


def test_float32_agrees_with_float64():
    rng = np.random.default_rng(4)
    zt = rng.normal(scale=3, size=(4, 5000)).astype(np.float32)
    zs = rng.normal(scale=3, size=(4, 5000)).astype(np.float32)
    out = r1lib.distillation_loss(zt, zs, 2.0, reduction="none")
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, _reference_loss(zt.astype(np.float64), zs.astype(np.float64), 2.0), rtol=1e-4)
    assert r1lib.distillation_grad(zt, zs, 2.0).dtype == np.float32

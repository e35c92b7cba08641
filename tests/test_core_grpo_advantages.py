"""group_advantages: standardisation within groups, ddof conventions, constant groups."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import r1lib


def test_hand_computed_example():
    # rewards 0, 1, 1, 0: mean 0.5; sample std (ddof=1) = sqrt(1/3); population std = 0.5
    r = np.array([0.0, 1.0, 1.0, 0.0])
    np.testing.assert_allclose(r1lib.group_advantages(r, eps=0.0), np.array([-1, 1, 1, -1]) * np.sqrt(3) / 2,
                               rtol=1e-14)
    np.testing.assert_allclose(r1lib.group_advantages(r, ddof=0, eps=0.0), [-1, 1, 1, -1], rtol=1e-14)


# Rewards that differ only in their last bit: a plain r - mean(r) left a mean of 2e-6 of the spread
# (found by hypothesis in CI); the centring now subtracts one member of the group first.
_TINY = np.float64(np.float32(-1.17549435e-38))


@given(hnp.arrays(np.float64, (3, 6), elements=st.floats(-10, 10)), st.sampled_from([0, 1]))
@example(np.array([[np.nextafter(_TINY, 0)] + [_TINY] * 5] * 3), 0)
@example(np.array([[0.1] * 5 + [np.nextafter(0.1, 1)]] * 3), 1)
@settings(max_examples=100, deadline=None)
def test_zero_mean_unit_std_per_group(r, ddof):
    a = r1lib.group_advantages(r, ddof=ddof, eps=0.0)
    for row_r, row_a in zip(r, a):
        if np.ptp(row_r) == 0:
            assert np.all(row_a == 0)
        else:
            assert abs(row_a.mean()) < 1e-9
            assert np.std(row_a, ddof=ddof) == pytest.approx(1.0, rel=1e-9)


def test_ddof_ratio_is_sqrt_g_over_g_minus_1():
    r = np.array([[0.0, 1.0, 0.0, 0.0, 1.0]])
    g = r.shape[-1]
    ratio = r1lib.group_advantages(r, ddof=0, eps=0.0) / r1lib.group_advantages(r, ddof=1, eps=0.0)
    np.testing.assert_allclose(ratio, np.sqrt(g / (g - 1)), rtol=1e-14)


def test_constant_groups_give_exact_zeros():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for eps in (0.0, 1e-6, 1e-4):
            a = r1lib.group_advantages([[0.1, 0.1, 0.1], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], eps=eps)
            assert np.all(a == 0)
        assert np.all(r1lib.group_advantages([[5.0]]) == 0)  # a group of one carries no signal


def test_axis_and_dtype():
    r = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]], dtype=np.float32)
    a0 = r1lib.group_advantages(r, axis=0)
    np.testing.assert_allclose(a0, r1lib.group_advantages(r.T, axis=-1).T)
    assert a0.dtype == np.float32

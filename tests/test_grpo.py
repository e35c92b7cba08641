"""PPO's clipped surrogate and the GRPO objective (DeepSeekMath eq. 3) in r1lib.grpo.

Reference values are computed here with plain Python arithmetic (math.log, math.exp) or by
finite differences, never through the library's own code paths.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numgrad import central_difference
from r1lib import kl_k3
from r1lib.grpo import (clipped_surrogate, clipped_surrogate_grad, grpo_objective,
                        grpo_objective_grad, sequence_mean)

# ---------------------------------------------------------------------------------------------
# clipped_surrogate
# ---------------------------------------------------------------------------------------------


def _literal(rho, a, eps):
    """min(rho A, clip(rho, 1-eps, 1+eps) A) for Python floats, straight from the definition."""
    clipped = min(max(rho, 1 - eps), 1 + eps)
    return min(rho * a, clipped * a)


@pytest.mark.parametrize("rho, a, eps, expected", [
    (1.0, 2.0, 0.2, 2.0),          # on-policy: rho A
    (1.5, 2.0, 0.2, 2.4),          # A > 0, ratio past 1+eps: capped at (1+eps) A
    (0.5, 2.0, 0.2, 1.0),          # A > 0, ratio below 1-eps: not capped (pessimistic)
    (1.5, -2.0, 0.2, -3.0),        # A < 0, ratio above 1+eps: not capped
    (0.5, -2.0, 0.2, -1.6),        # A < 0, ratio below 1-eps: floored at (1-eps) A
    (3.0, 0.0, 0.2, 0.0),          # A = 0: nothing to gain or lose
    (1.1, 1.0, 0.1, 1.1),          # exactly at the kink
])
def test_hand_values(rho, a, eps, expected):
    assert clipped_surrogate(rho, a, eps) == pytest.approx(expected, rel=1e-15)


@given(hnp.arrays(np.float64, 20, elements=st.floats(0, 5)),
       hnp.arrays(np.float64, 20, elements=st.floats(-5, 5)),
       st.floats(0.01, 0.99))
@settings(max_examples=200, deadline=None)
def test_matches_the_definition(rho, a, eps):
    got = clipped_surrogate(rho, a, eps)
    expected = [_literal(float(r), float(x), eps) for r, x in zip(rho, a)]
    np.testing.assert_allclose(got, expected, rtol=1e-15, atol=0)
    # A pessimistic bound: never above the unclipped surrogate.
    assert np.all(got <= rho * a + 1e-12)


def test_broadcasts_and_keeps_float32():
    rho = np.linspace(0.5, 1.5, 5, dtype=np.float32)
    out = clipped_surrogate(rho[:, None], np.array([1.0, -1.0], dtype=np.float32))
    assert out.shape == (5, 2) and out.dtype == np.float32
    assert clipped_surrogate(rho, np.float64(1.0)).dtype == np.float64


def test_grad_matches_finite_differences_away_from_kinks():
    rng = np.random.default_rng(0)
    rho = rng.uniform(0.3, 1.8, 200)
    a = rng.normal(size=200)
    eps = 0.2
    keep = (np.abs(rho - 1.2) > 1e-3) & (np.abs(rho - 0.8) > 1e-3)
    rho, a = rho[keep], a[keep]
    h = 1e-6
    fd = (clipped_surrogate(rho + h, a, eps) - clipped_surrogate(rho - h, a, eps)) / (2 * h)
    np.testing.assert_allclose(clipped_surrogate_grad(rho, a, eps), fd, rtol=1e-6, atol=1e-9)


def test_grad_regions():
    # slope A inside the trust region, 0 where the clip is active, A where the ratio moved the
    # "wrong" way (the bound stays pessimistic there).
    rho = np.array([0.5, 1.0, 1.5])
    np.testing.assert_array_equal(clipped_surrogate_grad(rho, 2.0, 0.2), [2.0, 2.0, 0.0])
    np.testing.assert_array_equal(clipped_surrogate_grad(rho, -2.0, 0.2), [0.0, -2.0, -2.0])
    # At a kink the unclipped one-sided slope is returned.
    assert clipped_surrogate_grad(1.2, 1.0, 0.2) == 1.0
    assert clipped_surrogate_grad(0.8, -1.0, 0.2) == -1.0


@pytest.mark.parametrize("eps", [0.0, 1.0, 1.5, -0.1, float("nan"), float("inf")])
def test_eps_out_of_range(eps):
    with pytest.raises(ValueError, match="eps"):
        clipped_surrogate(1.0, 1.0, eps)
    with pytest.raises(ValueError, match="eps"):
        clipped_surrogate_grad(1.0, 1.0, eps)


@pytest.mark.parametrize("eps", [True, "0.2", None, [0.2]])
def test_eps_wrong_type(eps):
    with pytest.raises(TypeError, match="eps"):
        clipped_surrogate(1.0, 1.0, eps)


@pytest.mark.parametrize("ratio, adv, exc, word", [
    (-0.1, 1.0, ValueError, "ratio"),
    (float("nan"), 1.0, ValueError, "ratio"),
    (float("inf"), 1.0, ValueError, "ratio"),
    (1.0, float("nan"), ValueError, "advantages"),
    (1.0, float("-inf"), ValueError, "advantages"),
    ("1", 1.0, TypeError, "ratio"),
    (1.0, [True], TypeError, "advantages"),
    ([1.0, 1.0], [1.0, 1.0, 1.0], ValueError, "shapes"),
    ([], 1.0, ValueError, "ratio"),
])
def test_bad_inputs(ratio, adv, exc, word):
    with pytest.raises(exc, match=word):
        clipped_surrogate(ratio, adv)


# ---------------------------------------------------------------------------------------------
# The GRPO objective: a hand-computed example
# ---------------------------------------------------------------------------------------------
# G = 2 outputs of lengths 2 and 3 (the first padded by one position). Probabilities are chosen
# so that one token of each output is clipped.
P_NEW = [[0.5, 0.25, 0.01], [0.3, 0.9, 0.1]]
P_OLD = [[0.4, 0.25, 0.99], [0.5, 0.8, 0.1]]
P_REF = [[0.6, 0.2, 0.0], [0.3, 0.5, 0.2]]   # 0.0 at padding: log is -inf, must be ignored
ADV = [0.8, -0.5]
LENGTHS = [2, 3]
MASK = [[1, 1, 0], [1, 1, 1]]


def _logs(table):
    return np.array([[math.log(p) if p > 0 else -math.inf for p in row] for row in table])


def _hand_objective(eps, beta):
    total = 0.0
    for i in range(2):
        seq = 0.0
        for t in range(LENGTHS[i]):
            rho = P_NEW[i][t] / P_OLD[i][t]
            a = ADV[i]
            surrogate = min(rho * a, min(max(rho, 1 - eps), 1 + eps) * a)
            r = P_REF[i][t] / P_NEW[i][t]
            k3 = r - math.log(r) - 1
            seq += surrogate - beta * k3
        total += seq / LENGTHS[i]
    return total / 2


def _hand_gradient(eps, beta):
    grad = [[0.0] * 3 for _ in range(2)]
    for i in range(2):
        for t in range(LENGTHS[i]):
            rho = P_NEW[i][t] / P_OLD[i][t]
            a = ADV[i]
            clipped = (a > 0 and rho > 1 + eps) or (a < 0 and rho < 1 - eps)
            r = P_REF[i][t] / P_NEW[i][t]
            grad[i][t] = ((0.0 if clipped else rho * a) - beta * (1 - r)) / (2 * LENGTHS[i])
    return grad


@pytest.mark.parametrize("eps, beta", [(0.2, 0.04), (0.2, 0.0), (0.1, 1.0), (0.5, 0.3)])
def test_hand_computed_objective(eps, beta):
    got = grpo_objective(_logs(P_NEW), _logs(P_OLD), _logs(P_REF), ADV, MASK, eps=eps, beta=beta)
    assert isinstance(got, float)
    assert got == pytest.approx(_hand_objective(eps, beta), rel=1e-13)


def test_hand_computed_objective_spelled_out():
    # The same example with eps = 0.2, beta = 0.04, every term written down:
    # output 1 (A = 0.8): rho = 1.25 (clipped to 1.2), 1.0; r = 1.2, 0.8
    # output 2 (A = -0.5): rho = 0.6 (floored to 0.8), 1.125, 1.0; r = 1.0, 5/9, 2.0
    k3 = lambda r: r - math.log(r) - 1  # noqa: E731
    out1 = (1.2 * 0.8 + 1.0 * 0.8 - 0.04 * (k3(1.2) + k3(0.8))) / 2
    out2 = (0.8 * -0.5 + 1.125 * -0.5 + 1.0 * -0.5 - 0.04 * (k3(1.0) + k3(5 / 9) + k3(2.0))) / 3
    expected = (out1 + out2) / 2
    got = grpo_objective(_logs(P_NEW), _logs(P_OLD), _logs(P_REF), ADV, MASK)
    assert got == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("eps, beta", [(0.2, 0.04), (0.1, 1.0)])
def test_hand_computed_gradient(eps, beta):
    got = grpo_objective_grad(_logs(P_NEW), _logs(P_OLD), _logs(P_REF), ADV, MASK, eps, beta)
    np.testing.assert_allclose(got, _hand_gradient(eps, beta), rtol=1e-13, atol=0)
    assert got[0, 2] == 0.0  # padding


# ---------------------------------------------------------------------------------------------
# The GRPO objective: properties
# ---------------------------------------------------------------------------------------------


def _random_batch(rng, shape=(4, 5), spread=0.3, ragged=True):
    """Log-probs from real softmaxes: old, a perturbed current policy, a reference."""
    V = 6
    z_old = rng.normal(size=shape + (V,))
    z_new = z_old + spread * rng.normal(size=shape + (V,))
    z_ref = z_old + spread * rng.normal(size=shape + (V,))
    tok = rng.integers(0, V, size=shape)

    def lp(z):
        z = z - z.max(axis=-1, keepdims=True)
        ls = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
        return np.take_along_axis(ls, tok[..., None], axis=-1)[..., 0]

    adv = rng.normal(size=shape[:-1])
    if ragged:
        lengths = rng.integers(1, shape[-1] + 1, size=shape[:-1])
        mask = np.arange(shape[-1]) < lengths[..., None]
    else:
        mask = np.ones(shape, dtype=bool)
    return lp(z_new), lp(z_old), lp(z_ref), adv, mask


@pytest.mark.parametrize("seed", range(5))
def test_gradient_matches_finite_differences(seed):
    rng = np.random.default_rng(seed)
    logp, old, ref, adv, mask = _random_batch(rng, (3, 4, 5), spread=0.4)
    eps, beta = 0.2, 0.3
    rho = np.exp(logp - old)
    near_kink = (np.abs(rho - 1 - eps) < 1e-4) | (np.abs(rho - 1 + eps) < 1e-4)
    assert not near_kink.any()
    # Shift log-probs down so that +h stays a valid log-probability (<= 0).
    logp = np.minimum(logp, -1e-3)
    grad = grpo_objective_grad(logp, old, ref, adv, mask, eps, beta)
    # Prompt p's objective depends only on logp[p], so the gradient of the sum over prompts is
    # each prompt's own gradient.
    fd = central_difference(lambda x: np.sum(grpo_objective(x, old, ref, adv, mask, eps, beta)), logp)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-9)
    assert np.all(grad[~mask] == 0)


def test_on_policy_gradient_is_reinforce_plus_kl():
    # logp == old_logp: rho = 1, the clip is inactive, and the surrogate's gradient is the
    # REINFORCE term A_i / (G |o_i|).
    rng = np.random.default_rng(1)
    logp, _, ref, adv, mask = _random_batch(rng, (6, 4))
    beta = 0.1
    lengths = mask.sum(axis=-1, keepdims=True)
    expected = np.where(mask, (adv[:, None] - beta * (1 - np.exp(ref - logp))) / (6 * lengths), 0)
    np.testing.assert_allclose(grpo_objective_grad(logp, logp, ref, adv, mask, 0.2, beta),
                               expected, rtol=1e-13, atol=1e-16)


def test_on_policy_value_is_mean_advantage_minus_kl():
    rng = np.random.default_rng(2)
    logp, _, ref, adv, mask = _random_batch(rng, (5, 7))
    kl = np.array([np.mean(kl_k3(logp[i, mask[i]], ref[i, mask[i]])) for i in range(5)])
    expected = np.mean(adv - 0.04 * kl)
    assert grpo_objective(logp, logp, ref, adv, mask) == pytest.approx(expected, rel=1e-12)


def test_equals_sequence_mean_of_per_token_terms():
    rng = np.random.default_rng(3)
    logp, old, ref, adv, mask = _random_batch(rng, (2, 5, 6), spread=0.5)
    per_token = (clipped_surrogate(np.exp(logp - old), adv[..., None], 0.2)
                 - 0.04 * kl_k3(logp, ref))
    np.testing.assert_allclose(grpo_objective(logp, old, ref, adv, mask),
                               sequence_mean(per_token, mask), rtol=1e-13)


def test_leading_axes_are_prompts():
    rng = np.random.default_rng(4)
    logp, old, ref, adv, mask = _random_batch(rng, (3, 2, 4, 5))
    batched = grpo_objective(logp, old, ref, adv, mask)
    assert batched.shape == (3, 2)
    for idx in np.ndindex(3, 2):
        assert batched[idx] == pytest.approx(
            grpo_objective(logp[idx], old[idx], ref[idx], adv[idx], mask[idx]), rel=1e-14)
    grad = grpo_objective_grad(logp, old, ref, adv, mask)
    np.testing.assert_array_equal(grad[1, 0], grpo_objective_grad(logp[1, 0], old[1, 0], ref[1, 0],
                                                                  adv[1, 0], mask[1, 0]))


def test_padding_values_are_ignored_and_mask_none_means_no_padding():
    rng = np.random.default_rng(5)
    logp, old, ref, adv, mask = _random_batch(rng, (4, 6))
    base = grpo_objective(logp, old, ref, adv, mask)
    garbage = rng.uniform(-50, 0, size=logp.shape)
    changed = [np.where(mask, a, garbage) for a in (logp, old, ref)]
    assert grpo_objective(*changed, adv, mask) == base
    np.testing.assert_array_equal(grpo_objective_grad(*changed, adv, mask),
                                  grpo_objective_grad(logp, old, ref, adv, mask))
    full = np.ones_like(mask)
    assert grpo_objective(logp, old, ref, adv) == grpo_objective(logp, old, ref, adv, full)
    # 0/1 integers and floats are accepted as a mask.
    assert grpo_objective(logp, old, ref, adv, mask.astype(int)) == base
    assert grpo_objective(logp, old, ref, adv, mask.astype(float)) == base


def test_length_normalisation_weights_each_output_equally():
    # Output 1 has 1 token, output 2 has 4: each output's tokens share a weight of 1/G.
    logp = np.log(np.full((2, 4), 0.5))
    mask = np.array([[1, 0, 0, 0], [1, 1, 1, 1]], dtype=bool)
    grad = grpo_objective_grad(logp, logp, logp, [1.0, 1.0], mask, beta=0.0)
    np.testing.assert_allclose(grad.sum(axis=1), [0.5, 0.5], rtol=1e-15)
    np.testing.assert_allclose(grad[1], [0.125] * 4, rtol=1e-15)


def test_kl_term_uses_ref_over_current_policy():
    # pi_ref / pi_theta (DeepSeekMath eq. 4), not pi_old / pi_ref (the seed's slip): the term
    # depends on logp, and with old == ref it is still nonzero.
    logp = np.log([[0.5, 0.2]])
    ref = np.log([[0.25, 0.4]])
    value = grpo_objective(logp, ref, ref, [0.0], beta=1.0)
    r = [0.25 / 0.5, 0.4 / 0.2]
    expected = -sum(x - math.log(x) - 1 for x in r) / 2
    assert value == pytest.approx(expected, rel=1e-14)
    assert value < 0


def test_larger_beta_never_increases_the_objective():
    rng = np.random.default_rng(6)
    logp, old, ref, adv, mask = _random_batch(rng, (8, 6, 5))
    values = [grpo_objective(logp, old, ref, adv, mask, beta=b) for b in (0, 0.01, 0.1, 1)]
    assert all(np.all(a >= b) for a, b in zip(values, values[1:]))


def test_reference_forbidding_a_token():
    logp = np.log([[0.5, 0.5]])
    ref = np.array([[math.log(0.5), -math.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert grpo_objective(logp, logp, ref, [1.0], beta=0.04) == -math.inf
        assert grpo_objective(logp, logp, ref, [1.0], beta=0.0) == pytest.approx(1.0)
        assert np.isfinite(grpo_objective_grad(logp, logp, ref, [1.0], beta=0.04)).all()
        # At a padded position it does not matter at all.
        assert grpo_objective(logp, logp, ref, [1.0], [[1, 0]]) == pytest.approx(1.0)


def test_extreme_ratios_give_no_nan_and_no_warning():
    # old_logp = -800: rho = exp(800) overflows float64.
    logp = np.array([[0.0, -1.0], [-1.0, -1.0]])
    old = np.array([[-800.0, -1.0], [-800.0, -1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        j_pos = grpo_objective(logp, old, logp, [1.0, 0.0])   # capped at (1+eps) A; A = 0 -> 0
        assert j_pos == pytest.approx((1.2 + 1.0) / 2 / 2)
        j_neg = grpo_objective(logp, old, logp, [-1.0, 0.0])  # no cap for A < 0: -inf
        assert j_neg == -math.inf
        g = grpo_objective_grad(logp, old, logp, [1.0, 0.0])
        assert np.isfinite(g).all() and g[0, 0] == 0.0


def test_float32_in_float32_out():
    rng = np.random.default_rng(7)
    arrays = [a.astype(np.float32) for a in _random_batch(rng, (3, 4, 5))[:4]]
    mask = np.ones((3, 4, 5), dtype=bool)
    assert grpo_objective(*arrays, mask).dtype == np.float32
    assert grpo_objective_grad(*arrays, mask).dtype == np.float32


@given(st.integers(0, 10_000), st.floats(0.05, 0.5), st.floats(0, 2))
@settings(max_examples=60, deadline=None)
def test_gradient_ascent_step_increases_objective(seed, eps, beta):
    # A small step along the gradient (in logp space) raises J: first-order check of the sign.
    rng = np.random.default_rng(seed)
    logp, old, ref, adv, mask = _random_batch(rng, (4, 5), spread=0.2)
    logp = np.minimum(logp, -0.05)
    g = grpo_objective_grad(logp, old, ref, adv, mask, eps, beta)
    if np.abs(g).max() < 1e-8:
        return
    step = 1e-4 * g / np.abs(g).max()
    assert (grpo_objective(logp + step, old, ref, adv, mask, eps, beta)
            >= grpo_objective(logp, old, ref, adv, mask, eps, beta) - 1e-15)


# ---------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------

LOGP = np.log([[0.5, 0.5], [0.25, 0.5]])


def _call(**over):
    args = dict(logp=LOGP, old_logp=LOGP, ref_logp=LOGP, advantages=[1.0, -1.0],
                mask=[[1, 1], [1, 0]], eps=0.2, beta=0.04)
    args.update(over)
    return args


@pytest.mark.parametrize("fn", [grpo_objective, grpo_objective_grad])
@pytest.mark.parametrize("over, exc, word", [
    (dict(eps=0.0), ValueError, "eps"),
    (dict(eps=1.0), ValueError, "eps"),
    (dict(eps="0.2"), TypeError, "eps"),
    (dict(beta=-0.1), ValueError, "beta"),
    (dict(beta=float("nan")), ValueError, "beta"),
    (dict(beta=None), TypeError, "beta"),
    (dict(logp=np.log([0.5, 0.5])), ValueError, "logp"),                 # 1-D
    (dict(logp=LOGP + 0.8), ValueError, "logp.*<= 0"),                   # not log-probs
    (dict(old_logp=np.exp(LOGP)), ValueError, "old_logp.*<= 0|old_logp"),
    (dict(ref_logp=np.zeros((2, 2)) + 0.1), ValueError, "ref_logp.*<= 0"),
    (dict(logp=np.array([[np.nan, -1.0], [-1.0, -1.0]])), ValueError, "logp.*NaN"),
    (dict(old_logp=np.array([[np.nan, -1.0], [-1.0, -1.0]])), ValueError, "old_logp.*NaN"),
    (dict(ref_logp=np.array([[np.nan, -1.0], [-1.0, -1.0]])), ValueError, "ref_logp.*NaN"),
    (dict(logp=np.array([[-np.inf, -1.0], [-1.0, -1.0]])), ValueError, "logp.*-inf"),
    (dict(old_logp=np.array([[-np.inf, -1.0], [-1.0, -1.0]])), ValueError, "old_logp.*-inf"),
    (dict(old_logp=LOGP[:, :1]), ValueError, "old_logp has shape"),
    (dict(ref_logp=LOGP.T[None]), ValueError, "ref_logp has shape"),
    (dict(advantages=[1.0]), ValueError, "advantages has shape"),
    (dict(advantages=[[1.0, -1.0]]), ValueError, "advantages has shape"),
    (dict(advantages=[1.0, np.nan]), ValueError, "advantages.*NaN"),
    (dict(advantages="ab"), TypeError, "advantages"),
    (dict(mask=[[1, 1], [0, 0]]), ValueError, "no tokens"),
    (dict(mask=[[1, 2], [1, 0]]), ValueError, "mask.*0 and 1"),
    (dict(mask=[[1, 1]]), ValueError, "mask has shape"),
    (dict(mask="11"), TypeError, "mask"),
    (dict(mask=np.array([["a", "b"], ["c", "d"]])), TypeError, "mask"),
    (dict(logp="x"), TypeError, "logp"),
])
def test_bad_objective_inputs(fn, over, exc, word):
    with pytest.raises(exc, match=word):
        fn(**_call(**over))


def test_valid_call_runs():
    assert np.isfinite(grpo_objective(**_call()))


def test_sequence_mean():
    values = np.array([[1.0, 3.0, np.inf], [2.0, 2.0, 5.0]])
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    assert sequence_mean(values, mask) == pytest.approx((2.0 + 3.0) / 2)
    assert sequence_mean(np.ones((3, 2, 4))).shape == (3,)
    with pytest.raises(ValueError, match="no tokens"):
        sequence_mean(values, [[0, 0, 0], [1, 1, 1]])
    with pytest.raises(ValueError, match="values.*NaN"):
        sequence_mean([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="at least 2"):
        sequence_mean([1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# group_advantages(scale=...): TRL's scale_rewards, re-derived with the statistics module
# ---------------------------------------------------------------------------------------------

import statistics  # noqa: E402

from r1lib.grpo import group_advantages  # noqa: E402


def _trl_advantages(rows, scale, eps):
    """TRL: A = r - group mean; "group" / "batch" divide by (group / whole-batch std(ddof=1) + eps)."""
    flat = [x for row in rows for x in row]
    out = []
    for row in rows:
        mu = statistics.fmean(row)
        if scale == "group":
            sd = statistics.stdev(row)
        elif scale == "batch":
            sd = statistics.stdev(flat)
        out.append([(x - mu) / (sd + eps) if scale != "none" else x - mu for x in row])
    return out


@given(hnp.arrays(np.float64, (4, 5), elements=st.floats(-3, 3)), st.sampled_from(["group", "batch", "none"]))
@settings(max_examples=150, deadline=None)
def test_scale_rewards_matches_trl(r, scale):
    r[0] = 0.25  # one all-equal group: its advantages are exactly 0 in every mode
    got = group_advantages(r, eps=1e-4, scale=scale)
    want = _trl_advantages(r.tolist(), scale, 1e-4)
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)
    assert np.all(got[0] == 0)


def test_scale_default_is_group_and_the_modes_differ_as_dr_grpo_says():
    # an easy question (3 of 4 right) and a balanced one (2 of 4): dividing by the group std gives
    # the easy question's right answers more weight than "none" or "batch" would
    r = np.array([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    assert np.array_equal(group_advantages(r), group_advantages(r, scale="group"))
    none = group_advantages(r, scale="none")
    np.testing.assert_allclose(none, [[0.25, 0.25, 0.25, -0.75], [0.5, 0.5, -0.5, -0.5]], rtol=1e-15)
    group = group_advantages(r, scale="group", eps=0.0)
    batch = group_advantages(r, scale="batch", eps=0.0)
    np.testing.assert_allclose(batch / none, 1 / statistics.stdev(r.ravel().tolist()), rtol=1e-14)
    ratio = group / none  # per-group factor 1 / std_group: 2 for the easy group, sqrt(3) for the other
    np.testing.assert_allclose(ratio[0], 2.0, rtol=1e-14)
    np.testing.assert_allclose(ratio[1], math.sqrt(3.0), rtol=1e-14)


def test_scale_batch_edge_cases():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.all(group_advantages([[2.0, 2.0], [2.0, 2.0]], scale="batch", eps=0.0) == 0)
        assert np.all(group_advantages([[3.0]], scale="batch") == 0)
        tiny = group_advantages([[0.0, 1e-310], [0.0, 0.0]], scale="batch", eps=0.0)  # subnormal
        assert np.isfinite(tiny).all() and tiny[0, 1] > 0
        huge = group_advantages([[0.0, 1e300], [-1e300, 0.0]], scale="batch", eps=0.0)
        assert np.isfinite(huge).all()
    a32 = group_advantages(np.array([[0, 1], [1, 1]], dtype=np.float32), scale="batch")
    assert a32.dtype == np.float32
    np.testing.assert_allclose(group_advantages([[0.0, 1.0], [1.0, 1.0]], axis=0, scale="none"),
                               [[-0.5, 0.0], [0.5, 0.0]])


@pytest.mark.parametrize("bad, exc", [("std", ValueError), ("Group", ValueError), (None, ValueError),
                                      (1, ValueError)])
def test_scale_bad_values(bad, exc):
    with pytest.raises(exc, match="scale"):
        group_advantages([[0.0, 1.0]], scale=bad)


@pytest.mark.parametrize("scale", ["group", "batch", "none"])
def test_advantages_of_subnormal_and_huge_rewards(scale):
    """The group mean of [5e-324, 0, ..., 0] underflows to 0 (hypothesis found it): advantages
    must still be those of [1, 0, ..., 0], scaled back for "none"; likewise near the top."""
    unit = np.array([[1.0, 0.0, 0.0, 0.0, 0.0, 0.0], [3.0, 1.0, -2.0, 0.0, 0.0, 1.0]])  # exact at any scale
    for factor in (2.0 ** -1074, 2.0 ** -1060, 2.0 ** 1020):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = group_advantages(unit * factor, ddof=0, eps=0.0, scale=scale)
        want = group_advantages(unit, ddof=0, eps=0.0, scale=scale)
        if scale == "none":
            want = want * factor  # the centred rewards themselves, rounded to what is representable
        np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)
    # float32 subnormals alike
    got32 = group_advantages((unit * 2.0 ** -140).astype(np.float32), ddof=0, eps=0.0)
    np.testing.assert_allclose(got32, group_advantages(unit.astype(np.float32), ddof=0, eps=0.0), rtol=1e-6)

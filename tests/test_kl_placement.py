"""r1lib.labs.kl_placement: the sequence-KL gradient and each placement's expected gradient, checked
against brute force over all V^T sequences written here from scratch (plain loops, math.log/exp),
finite differences of the brute-force KL with every position's logits untied, and Monte Carlo."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from r1lib.labs import kl_placement as kp
from r1lib.labs import kl_studies as ks


# ---------------------------------------------------------------------------------- brute force

def _log_softmax_row(z):
    m = max(z)
    lse = m + math.log(sum(math.exp(x - m) for x in z))
    return [x - lse for x in z]


def _untied(policy, length):
    """Per-position copies of a MarkovPolicy's logits: first (V,), steps (T-1, V, V)."""
    return policy.first_logits.copy(), np.stack([policy.next_logits] * (length - 1)) if length > 1 \
        else np.zeros((0, policy.vocab_size, policy.vocab_size))


def _seq_logp(first, steps, seq):
    lp = _log_softmax_row(list(first))[seq[0]]
    for j in range(1, len(seq)):
        lp += _log_softmax_row(list(steps[j - 1][seq[j - 1]]))[seq[j]]
    return lp


def _brute_kl(first, steps, ref_first, ref_steps, length, v):
    """KL(pi || pi_ref) over all v^length sequences, both given by untied per-position logits."""
    total = 0.0
    for seq in itertools.product(range(v), repeat=length):
        lp = _seq_logp(first, steps, seq)
        total += math.exp(lp) * (lp - _seq_logp(ref_first, ref_steps, seq))
    return total


def _fd_grads(policy, ref, length, reverse=False, h=1e-5):
    """Central differences of the brute-force sequence KL w.r.t. every untied logit of policy."""
    first, steps = _untied(policy, length)
    rf, rs = _untied(ref, length)
    v = policy.vocab_size

    def kl(f, s):
        return _brute_kl(rf, rs, f, s, length, v) if reverse else _brute_kl(f, s, rf, rs, length, v)

    g_first = np.zeros(v)
    for k in range(v):
        e = np.zeros(v)
        e[k] = h
        g_first[k] = (kl(first + e, steps) - kl(first - e, steps)) / (2 * h)
    g_steps = np.zeros_like(steps)
    for idx in np.ndindex(*steps.shape):
        e = np.zeros_like(steps)
        e[idx] = h
        g_steps[idx] = (kl(first, steps + e) - kl(first, steps - e)) / (2 * h)
    return g_first, g_steps


def _brute_expectations(policy, ref, length):
    """Each placement's expected gradient, summed over every sequence with plain loops: per sample
    sum_t c_t (e_{o_t} - pi(.|o_{t-1})), c_t written out from its definition."""
    v = policy.vocab_size
    p_first, p_next = np.exp(policy.first_logp), np.exp(policy.next_logp)
    out = {name: (np.zeros(v), np.zeros((max(length - 1, 0), v, v))) for name in kp.PLACEMENTS}
    for seq in itertools.product(range(v), repeat=length):
        lp = [policy.first_logp[seq[0]]] + [policy.next_logp[seq[j - 1], seq[j]] for j in range(1, length)]
        lr = [ref.first_logp[seq[0]]] + [ref.next_logp[seq[j - 1], seq[j]] for j in range(1, length)]
        prob = math.exp(sum(lp))
        log_r = [b - a for a, b in zip(lp, lr)]                       # log pi_ref - log pi_theta
        k1 = [-x for x in log_r]
        k3 = [math.exp(x) - 1 - x for x in log_r]
        for t in range(length):
            coef = {"k1 reward": sum(k1[t:]), "k3 reward": sum(k3[t:]), "k1 loss": 1.0,
                    "k2 loss": k1[t], "k3 loss": 1 - math.exp(log_r[t])}
            probs = p_first if t == 0 else p_next[seq[t - 1]]
            score = -probs.copy()
            score[seq[t]] += 1.0
            for name, c in coef.items():
                target = out[name][0] if t == 0 else out[name][1][t - 1][seq[t - 1]]
                target += prob * c * score
    return out


def _toy(v=3, seed=0, shift=0.8):
    rng = np.random.default_rng(seed)
    ref = ks.random_markov_policy(v, rng, 1.0)
    direction = ks.random_markov_policy(v, rng, 1.0)
    return ref.shifted(direction, shift), ref, direction


# ---------------------------------------------------------------------------------- the exact gradient

@pytest.mark.parametrize("v,length,seed", [(2, 1, 0), (2, 3, 1), (3, 2, 2), (3, 3, 3)])
def test_sequence_kl_grads_equal_finite_differences_of_the_brute_force_kl(v, length, seed):
    pol, ref, _ = _toy(v, seed)
    g = kp.sequence_kl_grads(pol, ref, length)
    fd_first, fd_steps = _fd_grads(pol, ref, length)
    assert g.length == length and g.steps.shape == (length - 1, v, v)
    np.testing.assert_allclose(g.first, fd_first, atol=1e-8)
    np.testing.assert_allclose(g.steps, fd_steps, atol=1e-8)


def test_one_token_is_the_categorical_kl_gradient_of_kl_studies():
    pol, ref, _ = _toy(4, 5)
    g = kp.sequence_kl_grads(pol, ref, 1)
    peer = ks.kl_grads(pol.first_logits, ref.first_logits)["theta_ref"]
    np.testing.assert_allclose(g.first, peer, atol=1e-14)
    assert g.steps.shape == (0, 4, 4) and np.array_equal(g.tied()[1], np.zeros((4, 4)))


def test_tied_gradient_and_the_derivative_along_a_direction_match_the_chain_rule_recursion():
    # sequence_kl_by_position (kl_studies, tested against brute force there) gives the KL of the
    # tied MarkovPolicy; its finite differences are the tied gradient, and along the path s -> ref
    # + s d the per-position derivatives add up to dKL/ds.
    pol, ref, direction = _toy(3, 7, 0.6)
    length, h = 5, 1e-6
    g = kp.sequence_kl_grads(pol, ref, length)
    first, nxt = g.tied()

    def kl(p):
        return ks.sequence_kl_by_position(p, ref, length).sum()

    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        fd = (kl(ks.MarkovPolicy(pol.first_logits + e, pol.next_logits))
              - kl(ks.MarkovPolicy(pol.first_logits - e, pol.next_logits))) / (2 * h)
        assert abs(fd - first[k]) < 1e-8
    for idx in np.ndindex(3, 3):
        e = np.zeros((3, 3))
        e[idx] = h
        fd = (kl(ks.MarkovPolicy(pol.first_logits, pol.next_logits + e))
              - kl(ks.MarkovPolicy(pol.first_logits, pol.next_logits - e))) / (2 * h)
        assert abs(fd - nxt[idx]) < 1e-8
    base = ref.shifted(direction, 0.6)
    dkl_ds = (kl(ref.shifted(direction, 0.6 + h)) - kl(ref.shifted(direction, 0.6 - h))) / (2 * h)
    along = kp.sequence_kl_grads(base, ref, length).along(direction)
    assert along.shape == (length,) and abs(along.sum() - dkl_ds) < 1e-8


# ---------------------------------------------------------------------------------- the placements

@pytest.mark.parametrize("v,length,seed", [(2, 1, 4), (2, 4, 5), (3, 3, 6)])
def test_every_placement_expectation_equals_the_brute_force_sum_over_all_sequences(v, length, seed):
    pol, ref, _ = _toy(v, seed, 1.1)
    got = kp.expected_placement_grads(pol, ref, length)
    brute = _brute_expectations(pol, ref, length)
    assert list(got) == list(kp.PLACEMENTS)
    for name in kp.PLACEMENTS:
        np.testing.assert_allclose(got[name].first, brute[name][0], atol=1e-13, err_msg=name)
        np.testing.assert_allclose(got[name].steps, brute[name][1], atol=1e-13, err_msg=name)


@settings(max_examples=25, deadline=None)
@given(v=st.integers(2, 3), length=st.integers(1, 3), seed=st.integers(0, 10_000),
       shift=st.floats(0.05, 2.5))
def test_placement_expectations_against_brute_force_property(v, length, seed, shift):
    pol, ref, _ = _toy(v, seed, shift)
    got = kp.expected_placement_grads(pol, ref, length)
    brute = _brute_expectations(pol, ref, length)
    for name in kp.PLACEMENTS:
        assert np.allclose(got[name].first, brute[name][0], atol=1e-12)
        assert np.allclose(got[name].steps, brute[name][1], atol=1e-12)
    # the identity derived in the module: k3 in the reward = k1 in the reward - k3 in the loss
    for part in ("first", "steps"):
        lhs = getattr(got["k3 reward"], part)
        rhs = getattr(got["k1 reward"], part) - getattr(got["k3 loss"], part)
        assert np.allclose(lhs, rhs, atol=1e-12)


def test_what_each_placement_follows():
    pol, ref, _ = _toy(3, 11, 1.0)
    length = 4
    exact = kp.sequence_kl_grads(pol, ref, length)
    got = kp.expected_placement_grads(pol, ref, length)
    # k1 in the reward with reward-to-go is unbiased for the sequence KL, at every position
    assert np.allclose(got["k1 reward"].first, exact.first, atol=1e-14)
    assert np.allclose(got["k1 reward"].steps, exact.steps, atol=1e-14)
    # k1 in the loss: zero at every position
    assert np.allclose(got["k1 loss"].first, 0, atol=1e-15) and np.allclose(got["k1 loss"].steps, 0, atol=1e-15)
    # k2 in the loss: exact at the last position only (no future after it), wrong before
    assert np.allclose(got["k2 loss"].steps[-1], exact.steps[-1], atol=1e-14)
    assert np.linalg.norm(got["k2 loss"].first - exact.first) > 1e-3
    assert np.linalg.norm(got["k2 loss"].steps[0] - exact.steps[0]) > 1e-3
    # k3 in the loss at position 1: the gradient of the *reverse* sequence KL KL(pi_ref || pi)
    # w.r.t. the first logits (later positions' prefixes come from pi_ref there, from pi here)
    fd_first, fd_steps = _fd_grads(pol, ref, length, reverse=True)
    assert np.allclose(got["k3 loss"].first, fd_first, atol=1e-8)
    assert np.linalg.norm(got["k3 loss"].steps[-1] - fd_steps[-1]) > 1e-3
    # and per position it is pi - pi_ref weighted by the context's probability under pi
    assert np.allclose(got["k3 loss"].first, np.exp(pol.first_logp) - np.exp(ref.first_logp), atol=1e-15)


def test_the_two_token_example_where_the_first_token_looks_settled():
    # First-token distributions equal, second-token ones equal except after token 0: every
    # per-token loss sees nothing at position 1, the sequence KL pushes the first token off token 0.
    first = np.array([0.2, -0.1, 0.4])
    ref_next = np.array([[0.0, 1.0, -1.0], [0.3, 0.3, 0.0], [1.0, 0.0, 0.5]])
    nxt = ref_next.copy()
    nxt[0] = [2.0, -1.0, 0.0]
    pol, ref = ks.MarkovPolicy(first, nxt), ks.MarkovPolicy(first, ref_next)
    exact = kp.sequence_kl_grads(pol, ref, 2)
    got = kp.expected_placement_grads(pol, ref, 2)
    for name in ("k1 loss", "k2 loss", "k3 loss"):
        assert np.allclose(got[name].first, 0.0, atol=1e-15), name
    assert exact.first[0] > 0.05 and (exact.first[1:] < 0).all()       # descent lowers token 0
    assert np.allclose(exact.steps[0][1:], 0.0, atol=1e-15)             # rows that match the reference


def test_relative_errors():
    pol, ref, _ = _toy(3, 12, 0.9)
    exact = kp.sequence_kl_grads(pol, ref, 3)
    got = kp.expected_placement_grads(pol, ref, 3)
    assert np.allclose(kp.relative_errors(got["k1 reward"], exact), 0.0, atol=1e-12)
    assert np.allclose(kp.relative_errors(got["k1 loss"], exact), 1.0, atol=1e-12)
    err = kp.relative_errors(got["k2 loss"], exact)
    assert err[-1] < 1e-12 and (err[:-1] > 1e-3).all()
    same = kp.expected_placement_grads(ref, ref, 3)
    truth0 = kp.sequence_kl_grads(ref, ref, 3)
    assert np.array_equal(kp.relative_errors(same["k3 loss"], truth0), np.zeros(3))
    nudged = kp.SequenceGrads(same["k3 loss"].first + 1e-3, same["k3 loss"].steps)
    assert np.isinf(kp.relative_errors(nudged, truth0)[0])


def test_near_the_reference_the_missing_future_term_is_second_order():
    # relative error of the per-token (k2) loss at position 1 shrinks in proportion to the gap
    _, ref, direction = _toy(3, 0)
    errs = [kp.relative_errors(kp.expected_placement_grads(p, ref, 4)["k2 loss"],
                               kp.sequence_kl_grads(p, ref, 4))[0]
            for p in (ref.shifted(direction, s) for s in (0.01, 0.02))]
    assert 1.8 < errs[1] / errs[0] < 2.2


# ---------------------------------------------------------------------------------- Monte Carlo

def test_sampled_gradients_average_to_the_expectations_within_five_standard_errors():
    pol, ref, _ = _toy(3, 13, 1.0)
    length, n = 4, 60_000
    tokens = pol.sample(np.random.default_rng(99).random((n, length)))
    expected = kp.expected_placement_grads(pol, ref, length)
    sampled = kp.sampled_placement_grads(pol, ref, tokens)
    for t in range(1, length + 1):
        per_sample = kp.position_samples(pol, ref, tokens, t)
        for name in kp.PLACEMENTS:
            x = per_sample[name].reshape(n, -1)
            se = x.std(axis=0, ddof=1) / math.sqrt(n)
            mean = x.mean(axis=0)
            assert np.allclose(mean, np.ravel(sampled[name].position(t)), atol=1e-15)
            ex = np.ravel(expected[name].position(t))
            assert (np.abs(mean - ex) <= 5 * se + 1e-15).all(), (name, t)


def test_coefficients_and_score_rows_by_hand():
    pol, ref, _ = _toy(3, 14)
    tokens = np.array([[0, 2, 1], [1, 1, 0]])
    c = kp.placement_coefficients(pol, ref, tokens)
    rows = kp.score_rows(pol, tokens)
    delta = pol.token_logprobs(tokens) - ref.token_logprobs(tokens)
    assert np.allclose(c["k1 reward"][:, 0], delta.sum(axis=1)) and np.allclose(c["k1 reward"][:, -1], delta[:, -1])
    assert np.allclose(c["k2 loss"], delta) and np.array_equal(c["k1 loss"], np.ones((2, 3)))
    assert np.allclose(c["k3 loss"], 1 - np.exp(-delta))
    assert np.allclose(c["k3 reward"][:, 1], (np.exp(-delta) - 1 + delta)[:, 1:].sum(axis=1))
    assert np.allclose(rows[1, 2], np.eye(3)[0] - np.exp(pol.next_logp[1]))
    assert np.allclose(rows[0, 0], np.eye(3)[0] - np.exp(pol.first_logp))
    assert np.allclose(rows.sum(axis=2), 0.0, atol=1e-15)


def test_placement_profile_agrees_with_its_parts():
    _, ref, direction = _toy(3, 15)
    u = np.random.default_rng(3).random((500, 4))
    prof = kp.placement_profile(ref, direction, 0.7, u, position=3)
    pol = ref.shifted(direction, 0.7)
    exp = kp.expected_placement_grads(pol, ref, 4)
    truth = kp.sequence_kl_grads(pol, ref, 4)
    assert np.allclose(prof.truth, np.ravel(truth.position(3)))
    assert prof.kl == pytest.approx(ks.sequence_kl_by_position(pol, ref, 4).sum(), abs=1e-12)
    for name in kp.PLACEMENTS:
        assert np.allclose(prof.expected[name], np.ravel(exp[name].position(3)))
        assert np.allclose(prof.relative_error[name], kp.relative_errors(exp[name], truth))
        samples = kp.position_samples(pol, ref, pol.sample(u), 3)[name].reshape(500, -1)
        assert np.allclose(prof.mc_mean[name], samples.mean(axis=0))
        assert prof.mc_se[name].shape == (9,) and (prof.mc_se[name] >= 0).all()


# ---------------------------------------------------------------------------------- bad input

def test_bad_input_is_named():
    pol, ref, direction = _toy(3, 16)
    with pytest.raises(TypeError, match="policy"):
        kp.sequence_kl_grads("pi", ref, 2)
    with pytest.raises(TypeError, match="ref"):
        kp.expected_placement_grads(pol, np.zeros(3), 2)
    with pytest.raises(ValueError, match="vocabularies"):
        kp.sequence_kl_grads(pol, ks.random_markov_policy(4, np.random.default_rng(0)), 2)
    with pytest.raises(ValueError, match="length"):
        kp.sequence_kl_grads(pol, ref, 0)
    with pytest.raises(TypeError, match="length"):
        kp.sequence_kl_grads(pol, ref, True)
    with pytest.raises(ValueError, match="tokens"):
        kp.placement_coefficients(pol, ref, np.array([[0, 3]]))
    with pytest.raises(ValueError, match="tokens"):
        kp.score_rows(pol, np.array([0, 1]))
    with pytest.raises(ValueError, match="t must be"):
        kp.position_samples(pol, ref, np.array([[0, 1]]), 3)
    with pytest.raises(ValueError, match="t must be"):
        kp.sequence_kl_grads(pol, ref, 2).position(0)
    with pytest.raises(ValueError, match="u must"):
        kp.placement_profile(ref, direction, 0.5, np.random.default_rng(0).random((1, 3)))
    with pytest.raises(TypeError, match="truth"):
        kp.relative_errors(kp.sequence_kl_grads(pol, ref, 2), None)
    with pytest.raises(TypeError, match="direction"):
        kp.sequence_kl_grads(pol, ref, 2).along("d")

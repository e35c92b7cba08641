"""Exercises of notebook 03: correct answers written here pass; planted typical mistakes (inverted
ratio, k2 without its 1/2, k1 with the wrong sign, probabilities instead of log-probabilities,
averaging over the wrong sampling distribution, the wrong KL direction of the gradient, the
relative instead of the absolute bias, a score without its baseline) fail with feedback that names
the failing case and never prints the expected value."""
from __future__ import annotations

import math

import numpy as np
import pytest

from exercisetools import assert_tiers_hide_the_recipe
from r1lib import exercises
from r1lib.exercises import nb03

# ---- independent correct answers, written from the formulas (not by calling kl_k1/2/3) -------


def estimators(logp, ref_logp):
    log_r = np.asarray(ref_logp, float) - np.asarray(logp, float)
    return -log_r, 0.5 * log_r**2, np.expm1(log_r) - log_r


def _softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def average_k3_on_policy(logits, ref_logits, u):
    p, p_ref = _softmax(logits), _softmax(ref_logits)
    tokens = np.minimum(np.searchsorted(np.cumsum(p), u, side="right"), len(p) - 1)
    log_r = np.log(p_ref[tokens]) - np.log(p[tokens])
    return float(np.mean(np.expm1(log_r) - log_r))


def k2_bias(mu):
    return mu**4 / 8


def expected_grad_k3(logits, ref_logits):
    # sum_o p(o) * (-(r(o) - 1)) * (e_o - p) = -(p_ref - p), written out as the sum
    p, p_ref = _softmax(logits), _softmax(ref_logits)
    total = np.zeros_like(p)
    for o in range(len(p)):
        total += p[o] * -(p_ref[o] / p[o] - 1) * (np.eye(len(p))[o] - p)
    return total


def score_term(logits, ref_logits):
    p, p_ref = _softmax(logits), _softmax(ref_logits)
    k1 = np.log(p) - np.log(p_ref)
    return sum(p[o] * k1[o] * (np.eye(len(p))[o] - p) for o in range(len(p)))


def _log_softmax_rows(z):
    z = np.asarray(z, float)
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def sequence_kl_grad(first, nxt, ref_first, ref_next, future=True, weight_rows=True, reverse=False):
    """The gradient of the KL over all V^2 two-token sequences, summed pair by pair from the
    score-function identity (the flags plant the typical mistakes)."""
    lf, ln, rlf, rln = (_log_softmax_rows(x) for x in (first, nxt, ref_first, ref_next))
    p1, p = np.exp(lf), np.exp(ln)
    v = len(p1)
    g_first, g_next = np.zeros(v), np.zeros((v, v))
    for a in range(v):
        for b in range(v):
            w = p1[a] * p[a, b]
            d1, d2 = lf[a] - rlf[a], ln[a, b] - rln[a, b]
            g_first += w * (d1 + (d2 if future else 0.0)) * (np.eye(v)[a] - p1)
            g_next[a] += (w if weight_rows else p[a, b]) * d2 * (np.eye(v)[b] - p[a])
    if reverse:
        g_first = p1 - np.exp(rlf)
        g_next = p1[:, None] * (p - np.exp(rln))
    return g_first, g_next


CORRECT = {"03.1": estimators, "03.2": average_k3_on_policy, "03.3": k2_bias,
           "03.4": expected_grad_k3, "03.5": score_term, "03.6": sequence_kl_grad}


@pytest.mark.parametrize("exercise_id", sorted(CORRECT))
def test_a_correct_answer_passes(exercise_id, capsys):
    assert exercises.check(exercise_id, CORRECT[exercise_id]) is True
    assert "correct." in capsys.readouterr().out


def test_notebook_03_has_its_exercises_registered():
    assert [i for i in exercises.ids() if i.startswith("03.")] == sorted(CORRECT)


# ---- planted mistakes --------------------------------------------------------------------------

def _wrong(fn_of_log_r):
    def answer(logp, ref_logp):
        log_r = np.asarray(ref_logp, float) - np.asarray(logp, float)
        return fn_of_log_r(log_r)
    return answer


def _via_probabilities(logp, ref_logp):
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        r = np.exp(np.asarray(ref_logp, float)) / np.exp(np.asarray(logp, float))   # 0/0 for long ones
        return -np.log(r), 0.5 * np.log(r) ** 2, r - 1 - np.log(r)


def _inverted_ratio(logp, ref_logp):
    k1, k2, _ = estimators(logp, ref_logp)
    log_x = np.asarray(logp, float) - np.asarray(ref_logp, float)   # pi_theta / pi_ref
    return k1, k2, np.expm1(log_x) - log_x


def _sampled_from_reference(logits, ref_logits, u):
    return average_k3_on_policy(ref_logits, ref_logits, u) if np.allclose(logits, ref_logits) else \
        _average_with_sampler(logits, ref_logits, u, sampler=ref_logits)


def _average_with_sampler(logits, ref_logits, u, sampler):
    p, p_ref, q = _softmax(logits), _softmax(ref_logits), _softmax(sampler)
    tokens = np.minimum(np.searchsorted(np.cumsum(q), u, side="right"), len(q) - 1)
    log_r = np.log(p_ref[tokens]) - np.log(p[tokens])
    return float(np.mean(np.expm1(log_r) - log_r))


def _reverse_kl_estimate(logits, ref_logits, u):
    # the k3 of the swapped roles: averages to KL(pi_ref || pi_theta)
    return average_k3_on_policy(ref_logits, logits, u)


PLANTED = [
    ("03.1", "k1 with the wrong sign", _wrong(lambda L: (L, 0.5 * L**2, np.expm1(L) - L)),
     ["four tokens, k1", "sign"]),
    ("03.1", "k2 without the 1/2", _wrong(lambda L: (-L, L**2, np.expm1(L) - L)),
     ["four tokens, k2", "twice"]),
    ("03.1", "k3 of the inverted ratio pi_theta/pi_ref", _inverted_ratio, ["four tokens, k3", "inverted"]),
    ("03.1", "k3 as 1 - r + log r (negated)", _wrong(lambda L: (-L, 0.5 * L**2, L - np.expm1(L))),
     ["four tokens, k3"]),
    ("03.1", "probabilities instead of log-probabilities", _via_probabilities,
     ["two long responses", "log r"]),
    ("03.1", "only two arrays", lambda logp, ref_logp: estimators(logp, ref_logp)[:2], ["(k1, k2, k3)"]),
    ("03.2", "tokens sampled from pi_ref", _sampled_from_reference, ["standard errors", "pi_theta"]),
    ("03.2", "roles swapped: estimates KL(pi_ref || pi_theta)", _reverse_kl_estimate, ["standard errors"]),
    ("03.2", "the k1 average instead of k3's, plus 1 (a biased constant)",
     lambda z, zr, u: average_k3_on_policy(z, zr, u) + 1.0, ["standard errors above"]),
    ("03.3", "forgot the 1/2 of k2", lambda mu: mu**4 / 4, ["mu = 0.1", "too large", "2 times the expected magnitude"]),
    ("03.3", "the relative bias mu^2/4", lambda mu: mu**2 / 4, ["mu = 0.1", "too large"]),
    ("03.3", "the mean of k2, not its bias", lambda mu: mu**2 / 2 + mu**4 / 8, ["mu = 0.1", "too large"]),
    ("03.3", "even in mu only by accident: |mu|^3", lambda mu: abs(mu) ** 3 / 8, ["mu = 0.1"]),
    ("03.4", "sign flipped", lambda z, zr: -expected_grad_k3(z, zr), ["logit pair 1", "sign"]),
    ("03.4", "the forward KL's gradient (wrong KL direction)",
     lambda z, zr: score_term(z, zr), ["logit pair 1", "KL(pi_theta || pi_ref)"]),
    ("03.4", "k1's expected gradient (zero)", lambda z, zr: np.zeros(len(z)), ["logit pair 1", "k1"]),
    ("03.4", "probabilities difference without the softmax", lambda z, zr: np.asarray(z) - np.asarray(zr),
     ["logit pair 1"]),
    ("03.5", "score without the -pi_theta baseline",
     lambda z, zr: _softmax(z) * (np.log(_softmax(z)) - np.log(_softmax(zr))), ["logit pair 1", "e_o"]),
    ("03.5", "k3's expected gradient instead", expected_grad_k3, ["logit pair 1"]),
    ("03.5", "wrong shape", lambda z, zr: np.zeros((len(z), len(z))), ["logit pair 1", "shape"]),
    ("03.6", "the first token's own KL only (the per-token loss's gradient)",
     lambda *a: sequence_kl_grad(*a, future=False), ["vocabulary of 2, grad_first", "second-token KL"]),
    ("03.6", "the reverse KL's gradient, pi - pi_ref", lambda *a: sequence_kl_grad(*a, reverse=True),
     ["vocabulary of 2", "reverse KL"]),
    ("03.6", "rows after token a not weighted by pi(o1 = a)",
     lambda *a: sequence_kl_grad(*a, weight_rows=False), ["vocabulary of 2, grad_next", "weight it"]),
    ("03.6", "sign flipped", lambda *a: tuple(-g for g in sequence_kl_grad(*a)), ["vocabulary of 2", "sign"]),
    ("03.6", "one array instead of two", lambda *a: sequence_kl_grad(*a)[0], ["tuple (grad_first, grad_next)"]),
    ("03.6", "grad_next transposed", lambda *a: (sequence_kl_grad(*a)[0], sequence_kl_grad(*a)[1].T),
     ["vocabulary of 2, grad_next"]),
]


@pytest.mark.parametrize("exercise_id, mistake, answer, phrases", PLANTED,
                         ids=[f"{p[0]}: {p[1]}" for p in PLANTED])
def test_a_planted_mistake_fails_with_feedback_naming_the_case(exercise_id, mistake, answer, phrases,
                                                                 capsys):
    assert exercises.check(exercise_id, answer) is False, mistake
    out = capsys.readouterr().out
    assert "not yet." in out and "exercises.hint(" in out
    for phrase in phrases:
        assert phrase in out, (mistake, phrase, out)


def test_feedback_never_prints_the_expected_values(capsys):
    # k2 bias at mu = 0.1 is 1.25e-05; the factor-2 answer must not reveal it
    exercises.check("03.3", lambda mu: mu**4 / 4)
    out = capsys.readouterr().out
    assert "1.25e-05" not in out and "0.0000125" not in out
    # the exact KL of the sampling cases does not appear either
    exercises.check("03.2", _sampled_from_reference)
    out = capsys.readouterr().out
    for _, z, zr in nb03._logit_pairs():
        from r1lib import kl_from_logits
        kl = float(kl_from_logits(z, zr))
        assert f"{kl:.3f}" not in out and f"{kl:.4f}" not in out


def test_the_sampling_check_separates_the_two_kl_directions_by_far_more_than_its_tolerance():
    """The 5-s.e. tolerance of 03.2 cannot let a reverse-KL or reference-sampled average through:
    in every non-trivial case the wrong expectations differ from the right one by > 10 s.e."""
    from r1lib import kl_from_logits
    from r1lib.labs.kl_studies import categorical_moments
    for case, z, zr in nb03._logit_pairs()[:2]:
        se = float(categorical_moments(z, zr)["k3"].std) / math.sqrt(nb03._N_UNIFORMS)
        forward, reverse = float(kl_from_logits(z, zr)), float(kl_from_logits(zr, z))
        p_ref = _softmax(zr)
        log_r = np.log(p_ref) - np.log(_softmax(z))
        under_ref = float(np.sum(p_ref * (np.expm1(log_r) - log_r)))
        assert abs(reverse - forward) > 10 * se, case
        assert abs(under_ref - forward) > 10 * se, case


def test_a_correct_monte_carlo_answer_with_another_sampler_also_passes():
    """03.2 checks a property (within 5 s.e. of the KL), not one sampler's exact number: drawing
    tokens with numpy's Generator.choice instead of the given uniforms is right too."""
    def with_choice(logits, ref_logits, u):
        rng = np.random.default_rng(7)
        p, p_ref = _softmax(logits), _softmax(ref_logits)
        tok = rng.choice(len(p), size=len(u), p=p)
        log_r = np.log(p_ref[tok]) - np.log(p[tok])
        return float(np.mean(np.expm1(log_r) - log_r))
    assert exercises.check("03.2", with_choice) is True


# Each exercise's recipe, as the words a hint would need to give it away in one go.
RECIPES = {
    "03.1": ('ref_logp - logp', '-log r', '(log r)^2 / 2', 'r - 1 - log r'),
    "03.2": ('sample_tokens', 'pi_theta', 'kl_k3', 'mean'),
    "03.3": ('Var L', '(E L)^2', 'sigma^2'),
    "03.4": ('e^L - 1', 'e_o - pi_theta', 'weighted by pi_theta(o)'),
    "03.5": ('one-hot', 'weighting by pi_theta(o)', 'k1'),
    "03.6": ('reward-to-go', 'pi(o1)', 'o1 = a', 'one-token KL gradient'),
}


@pytest.mark.parametrize("exercise_id", sorted(RECIPES))
def test_hints_come_in_tiers_and_no_tier_states_the_whole_recipe(exercise_id):
    assert_tiers_hide_the_recipe(exercise_id, RECIPES[exercise_id])

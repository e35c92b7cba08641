r"""Exercises of notebook 03 (the GRPO KL estimator): the estimators from log-probabilities, which
samples they must be averaged over, k2's bias, what k3 and k1 do as losses, and the gradient of the
sequence-level KL of a two-token policy (where the KL goes).

Reference values come from r1lib's core (``kl_k1/2/3``, ``kl_from_logits``) and lab
(:mod:`r1lib.labs.kl_studies`); feedback names the failing case and the expected property, never the
value.
"""
from __future__ import annotations

import math

import numpy as np

from ..divergence import kl_from_logits
from ..kl_estimators import kl_k1, kl_k2, kl_k3
from ..labs.kl_placement import expected_placement_grads, sequence_kl_grads
from ..labs.kl_studies import (
    MarkovPolicy, categorical_moments, expected_estimator_grads, gaussian_moments, kl_grads,
)
from ..softmax import log_softmax
from .registry import Wrong, as_array, call, close, exercise

# Log-probabilities of four tokens under pi_theta and pi_ref: the reference likes some more and
# some less than the policy, and one token is equally likely under both.
_LOGP = np.array([-1.2, -0.3, -2.5, -4.0])
_REF_LOGP = np.array([-0.7, -0.9, -2.5, -1.5])
# Whole-sequence log-probabilities of two long responses: their probabilities underflow to 0.0.
_LONG_LOGP = np.array([-812.0, -1530.5])
_LONG_REF_LOGP = np.array([-809.5, -1533.0])



def _three(out, case: str, shape: tuple) -> list[np.ndarray]:
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        raise Wrong(f"{case}: expected a tuple (k1, k2, k3) of three arrays, got {type(out).__name__}")
    return [as_array(v, f"{case}, {name}", shape, " (one value per token)")
            for v, name in zip(out, ("k1", "k2", "k3"))]


@exercise("03.1", title="k1, k2 and k3 from log-probabilities",
          hints=("Section 1's table writes all three from one quantity, log r. Build it from the two "
                 "arrays of log-probabilities, never from probabilities.",
                 "log r = ref_logp - logp (the reference on top). k3 needs r - 1: np.expm1 keeps it exact "
                 "near r = 1, and the exponential of a *difference* of log-probabilities stays finite where "
                 "the exponential of each one underflows to 0."))
def _check_estimators(answer) -> str:
    got = _three(call(answer, _LOGP.copy(), _REF_LOGP.copy()), "four tokens", _LOGP.shape)
    expected = [kl_k1(_LOGP, _REF_LOGP), kl_k2(_LOGP, _REF_LOGP), kl_k3(_LOGP, _REF_LOGP)]
    k1, k2, k3 = got
    if np.allclose(k1, -expected[0]) and not np.allclose(k1, expected[0]):
        raise Wrong("four tokens, k1: the sign is flipped: k1 must be positive where pi_theta(o) > "
                    "pi_ref(o) (its mean is KL(pi_theta || pi_ref) >= 0)")
    if np.allclose(k2, 2 * expected[1]) and not np.allclose(k2, expected[1]):
        raise Wrong("four tokens, k2: the value is twice as large as it should be (what makes k2 "
                    "agree with k3 to second order in log r?)")
    if np.allclose(k3, kl_k3(_REF_LOGP, _LOGP)) and not np.allclose(k3, expected[2]):
        raise Wrong("four tokens, k3: this is x - 1 - ln x of the inverted ratio pi_theta/pi_ref; "
                    "GRPO's ratio has the reference on top")
    for name, g, e in zip(("k1", "k2", "k3"), got, expected):
        close(g, e, f"four tokens, {name}")
    if (k3 < 0).any():
        raise Wrong("four tokens, k3: a value is negative; x - 1 - ln x >= 0 for every x > 0")
    long = _three(call(answer, _LONG_LOGP.copy(), _LONG_REF_LOGP.copy()),
                  "two long responses (log-probs near -800 and -1500)", _LONG_LOGP.shape)
    if not all(np.isfinite(v).all() for v in long):
        raise Wrong("two long responses (log-probs near -800 and -1500): got nan or inf; "
                    "exp(-812) is 0.0 in float64, so compute from log r, not from probabilities")
    for name, g, fn in zip(("k1", "k2", "k3"), long, (kl_k1, kl_k2, kl_k3)):
        close(g, fn(_LONG_LOGP, _LONG_REF_LOGP), f"two long responses, {name}")
    return ("k1, k2, k3 match on four tokens (positive and negative log-ratios, one equal pair) and "
            "stay finite and exact for sequence log-probabilities near -800 and -1500.")


# Pairs of (policy logits, reference logits) for the sampling exercise.
def _logit_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(303)
    z_ref = rng.normal(0.0, 1.5, 8)
    return [("close policies (8 tokens)", z_ref + rng.normal(0.0, 0.4, 8), z_ref),
            ("far-apart policies (8 tokens)", z_ref + rng.normal(0.0, 2.0, 8), z_ref),
            ("identical policies", z_ref.copy(), z_ref.copy())]


_N_UNIFORMS = 200_000


@exercise("03.2", title="Average k3 over the right samples",
          hints=("Section 1, 'Which KL, which samples': k3 averages to KL(pi_theta || pi_ref) only over "
                 "samples from one of the two policies. Which one?",
                 "r1lib.labs.kl_studies.sample_tokens(logits, u) draws one token per uniform from "
                 "softmax(logits): give it the logits of the policy in the first slot of the KL, then average "
                 "k3 of the drawn tokens' log-probabilities."))
def _check_sampling(answer) -> str:
    u = np.random.default_rng(2024).random(_N_UNIFORMS)
    for case, z, z_ref in _logit_pairs():
        got = call(answer, z.copy(), z_ref.copy(), u.copy())
        try:
            value = float(np.asarray(got, dtype=float))
        except (TypeError, ValueError):
            raise Wrong(f"{case}: expected one number (the average), got {type(got).__name__}") from None
        if not math.isfinite(value):
            raise Wrong(f"{case}: got a non-finite average")
        kl = float(kl_from_logits(z, z_ref))
        std = float(categorical_moments(z, z_ref)["k3"].std)
        se = std / math.sqrt(_N_UNIFORMS)
        if se == 0.0:
            if abs(value) > 1e-12:
                raise Wrong(f"{case}: every k3 is 0 when pi_theta = pi_ref, so the average must be 0")
            continue
        z_score = (value - kl) / se
        if abs(z_score) > 5:
            direction = "above" if z_score > 0 else "below"
            raise Wrong(f"{case}: your average is {abs(z_score):.0f} standard errors {direction} "
                        "KL(pi_theta || pi_ref); k3 averages to that KL only over tokens drawn from "
                        "pi_theta, the policy in the first slot")
    return (f"with {_N_UNIFORMS:,} uniforms, your averages are within 5 standard errors of "
            "KL(pi_theta || pi_ref) for close and far-apart policies, and exactly 0 for equal ones.")


@exercise("03.3", title="k2's bias in the Gaussian example",
          hints=("k2 is half the square of L = log r, and the Gaussian example of section 2 gives L's "
                 "distribution: a normal with a known mean and variance.",
                 "For any random variable E[L^2] = Var L + (E L)^2. The bias is E[k2] minus the true KL, "
                 "mu^2 / 2."))
def _check_k2_bias(answer) -> str:
    for mu in (0.1, 0.5, 1.0, 2.0, -1.5):
        got = call(answer, mu)
        expected = float(gaussian_moments(mu)["k2"].bias)
        if isinstance(got, (list, tuple, dict, str)):
            raise Wrong(f"mu = {mu}: expected one number, got {type(got).__name__}")
        close(got, expected, f"mu = {mu}", rtol=1e-9, atol=1e-15)
    return "the bias matches the closed form at mu = 0.1, 0.5, 1, 2 and -1.5 (it grows as mu^4)."


def _grad_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    return [(f"logit pair {i + 1} ({v} tokens)", rng.normal(0.0, 1.5, v), rng.normal(0.0, 1.5, v))
            for i, v in enumerate((3, 6, 10))]


@exercise("03.4", title="The expected gradient of k3 used as a loss",
          hints=("Section 5 does this for all three estimators: differentiate with the sampled token held "
                 "fixed, then average over tokens drawn from pi_theta.",
                 "With L = log pi_ref(o) - log pi_theta(o): dk3/dL = e^L - 1, and grad_z L = -(e_o - pi_theta) "
                 "(the one-hot of o minus the probability vector).",
                 "The average over o ~ pi_theta is a sum over the vocabulary weighted by pi_theta(o); a loop "
                 "over o is fine."))
def _check_grad_k3(answer) -> str:
    for case, z, z_ref in _grad_pairs():
        got = call(answer, z.copy(), z_ref.copy())
        expected = expected_estimator_grads(z, z_ref)["k3"]
        try:
            g = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            raise Wrong(f"{case}: expected an array with one gradient entry per logit") from None
        if g.shape == expected.shape and np.all(np.isfinite(g)):
            if np.allclose(g, -expected, atol=1e-12) and not np.allclose(g, expected, atol=1e-12):
                raise Wrong(f"{case}: the sign is flipped: a descent step on the loss must move "
                            "pi_theta towards pi_ref")
            forward = kl_grads(z, z_ref)["theta_ref"]
            if np.allclose(g, forward, atol=1e-12):
                raise Wrong(f"{case}: this is the gradient of KL(pi_theta || pi_ref), the KL that k3's "
                            "value estimates; differentiate k3(o) with the token o held fixed instead")
            if np.allclose(g, 0.0, atol=1e-12):
                raise Wrong(f"{case}: all zero: that is k1's expected gradient, not k3's")
        close(g, expected, case, rtol=1e-7, atol=1e-12)
        if abs(float(np.sum(g))) > 1e-9:
            raise Wrong(f"{case}: the entries must sum to 0 (softmax logits: adding a constant to all "
                        "of them changes nothing)")
    return "your expected gradient matches the exact sum over the vocabulary for 3, 6 and 10 tokens."


@exercise("03.5", title="Where k1's gradient went: the score-function term",
          hints=("The second term of the product rule: moving the logits changes how often each token is "
                 "drawn, and grad_z pi_theta(o) = pi_theta(o) grad_z log pi_theta(o).",
                 "grad_z log pi_theta(o) is the one-hot of o minus the whole probability vector pi_theta; "
                 "sum over the vocabulary, weighting by pi_theta(o)."))
def _check_score_term(answer) -> str:
    for case, z, z_ref in _grad_pairs():
        got = call(answer, z.copy(), z_ref.copy())
        expected = kl_grads(z, z_ref)["theta_ref"]  # the score term alone is grad KL(theta || ref)
        try:
            g = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            raise Wrong(f"{case}: expected an array with one entry per logit") from None
        if g.shape == expected.shape and np.all(np.isfinite(g)):
            logp, ref_logp = log_softmax(z), log_softmax(z_ref)
            one_hot_only = np.exp(logp) * kl_k1(logp, ref_logp)   # sum_o pi(o) k1(o) e_o
            if np.allclose(g, one_hot_only, atol=1e-12) and not np.allclose(g, expected, atol=1e-12):
                raise Wrong(f"{case}: the score grad_z log pi_theta(o) is e_o minus the whole "
                            "probability vector, not only the one-hot e_o")
        close(g, expected, case, rtol=1e-7, atol=1e-12)
    return ("the score-function term equals grad KL(pi_theta || pi_ref) for 3, 6 and 10 tokens: the "
            "part of the gradient that k1 as a loss (token held fixed) leaves out.")


# ---------------------------------------------------------------------------------------------
# 03.6 The sequence-level KL gradient of a two-token policy
# ---------------------------------------------------------------------------------------------

def _two_token_cases() -> list[tuple[str, MarkovPolicy, MarkovPolicy]]:
    rng = np.random.default_rng(306)
    cases = []
    for v in (2, 3, 4):
        ref = MarkovPolicy(rng.normal(0.0, 1.0, v), rng.normal(0.0, 1.0, (v, v)))
        pol = MarkovPolicy(ref.first_logits + rng.normal(0.0, 0.8, v),
                           ref.next_logits + rng.normal(0.0, 1.2, (v, v)))
        cases.append((f"two tokens from a vocabulary of {v}", pol, ref))
    return cases


def _pair_of_arrays(got, case: str, v: int) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise Wrong(f"{case}: expected a tuple (grad_first, grad_next) of two arrays, got {type(got).__name__}")
    return (as_array(got[0], f"{case}, grad_first", (v,), " (one entry per first-token logit)"),
            as_array(got[1], f"{case}, grad_next", (v, v), " (row a: the logits after token a)"))


@exercise("03.6", title="The sequence-level KL gradient",
          hints=("Section 6: the KL of two-token sequences is a sum over the V^2 pairs (o1, o2) of "
                 "pi(o1) pi(o2|o1) times the pair's log-ratio. first_logits change pi(o1) only; row a of "
                 "next_logits changes pi(.|a) only.",
                 "The first token also decides which second-token KL is paid. In the score-function form "
                 "of section 6, grad log pi(o1) is multiplied by the log-ratio of the whole pair (the "
                 "reward-to-go), not by the first token's alone.",
                 "Row a of the second gradient is the one-token KL gradient of pi(.|a) against "
                 "pi_ref(.|a) (section 5), counted only when o1 = a."))
def _check_sequence_kl_grad(answer) -> str:
    for case, pol, ref in _two_token_cases():
        v = pol.vocab_size
        got = call(answer, pol.first_logits.copy(), pol.next_logits.copy(), ref.first_logits.copy(),
                   ref.next_logits.copy())
        g_first, g_next = _pair_of_arrays(got, case, v)
        exact = sequence_kl_grads(pol, ref, 2)
        e_first, e_next = exact.first, exact.steps[0]
        if not (np.all(np.isfinite(g_first)) and np.all(np.isfinite(g_next))):
            raise Wrong(f"{case}: got nan or inf; softmax policies give every pair a positive probability")
        if np.allclose(g_first, -e_first, atol=1e-12) and np.allclose(g_next, -e_next, atol=1e-12):
            raise Wrong(f"{case}: the sign is flipped: this is the gradient of -KL; a descent step on the "
                        "KL must move pi towards pi_ref")
        placed = expected_placement_grads(pol, ref, 2)
        if np.allclose(g_first, placed["k3 loss"].first, atol=1e-12) or \
                np.allclose(g_next, placed["k3 loss"].steps[0], atol=1e-12):
            raise Wrong(f"{case}: pi - pi_ref is the reverse KL's gradient, what k3 as a loss follows "
                        "(section 5); the exercise asks for the gradient of KL(pi || pi_ref)")
        if np.allclose(g_first, placed["k2 loss"].first, atol=1e-12) and not np.allclose(g_first, e_first):
            raise Wrong(f"{case}, grad_first: this counts only the first token's own KL. Changing the "
                        "first token's probabilities also changes which second-token KL is paid "
                        "(section 6): that term is missing")
        first_probs = np.exp(pol.first_logp)
        if np.allclose(g_next, e_next / first_probs[:, None], atol=1e-12) and not np.allclose(g_next, e_next):
            raise Wrong(f"{case}, grad_next: row a matters only when the first token is a; weight it by "
                        "the probability of that first token")
        close(g_first, e_first, f"{case}, grad_first", rtol=1e-7, atol=1e-12)
        close(g_next, e_next, f"{case}, grad_next", rtol=1e-7, atol=1e-12)
        if abs(float(np.sum(g_first))) > 1e-9 or np.abs(g_next.sum(axis=1)).max() > 1e-9:
            raise Wrong(f"{case}: each softmax's gradient must sum to 0 over its logits")
    return ("your gradient matches the exact sequence-KL gradient for vocabularies of 2, 3 and 4: the "
            "first token's part carries the second token's KL, which no per-token KL loss gives.")

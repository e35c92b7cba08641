r"""Exercises of notebook 03 (the GRPO KL estimator): the estimators from log-probabilities, which
samples they must be averaged over, k2's bias, and what k3 and k1 do as losses.

Reference values come from r1lib's core (``kl_k1/2/3``, ``kl_from_logits``) and lab
(:mod:`r1lib.labs.kl_studies`); feedback names the failing case and the expected property, never the
value.
"""
from __future__ import annotations

import math

import numpy as np

from ..divergence import kl_from_logits
from ..kl_estimators import kl_k1, kl_k2, kl_k3
from ..labs.kl_studies import categorical_moments, expected_estimator_grads, gaussian_moments, kl_grads
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
          hints=("Work with log r = ref_logp - logp (the reference on top) and never exponentiate a whole "
                "log-probability; the three estimators are defined from log r in section 2."))
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
          hints="k3 = (r - 1) - log r with r = pi_ref/pi_theta averages to KL(pi_theta || pi_ref) "
               "only over samples from one of the two policies: which one? (Section 1, 'Which KL, "
               "which samples'.) r1lib.labs.kl_studies.sample_tokens(logits, u) draws from softmax(logits).")
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
          hints=("E[k2] = E[L^2] / 2 with L = log r, whose mean and variance the Gaussian section gives; "
                "for any random variable, E[L^2] = Var L + (E L)^2. The bias is E[k2] minus the true KL."))
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
          hints="Write k3 = e^L - 1 - L with L = log pi_ref(o) - log pi_theta(o), differentiate with "
               "o held fixed (grad_z log pi_theta(o) = e_o - pi_theta, the chain rule does the rest), "
               "then weight each token's gradient by pi_theta(o) and sum over the vocabulary.")
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
          hints="The term is sum_o pi_theta(o) * k1(o) * grad_z log pi_theta(o), with "
               "grad_z log pi_theta(o) = e_o - pi_theta (one-hot minus the probabilities).")
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

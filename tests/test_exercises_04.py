"""Notebook 04's graded exercises: correct answers written here pass; the typical wrong answers
(wrong ddof, NaN for an all-equal group, a batch-wide std, max instead of min, a clipped
advantage, an inverted or policy-free KL ratio, a token mean instead of eq. 3's 1/|o_i|, a wrong
KL sign, padding counted) are caught with feedback that names the case and the property, and
never shows the expected values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from exercisetools import assert_tiers_hide_the_recipe, grade
from r1lib import exercises


# ---- correct answers, written from the formulas (not from r1lib) ----------------------------

def good_advantages(rewards):
    r = np.asarray(rewards, dtype=float)
    centred = r - r.mean(axis=-1, keepdims=True)
    std = r.std(axis=-1, ddof=1, keepdims=True)
    safe = np.where(std == 0, 1.0, std)
    return np.where(std == 0, 0.0, centred / safe)


def good_advantages_with_eps(rewards):  # TRL's form: (r - mean) / (std + 1e-4)
    r = np.asarray(rewards, dtype=float)
    out = (r - r.mean(axis=-1, keepdims=True)) / (r.std(axis=-1, ddof=1, keepdims=True) + 1e-4)
    return np.where(np.ptp(r, axis=-1, keepdims=True) == 0, 0.0, out)


def good_surrogate(rho, A, eps):
    return np.minimum(rho * A, np.clip(rho, 1 - eps, 1 + eps) * A)


def good_kl(logp, old_logp, ref_logp):
    r = np.exp(np.asarray(ref_logp) - np.asarray(logp))
    return r - np.log(r) - 1


def good_objective(logp, old_logp, ref_logp, advantages, mask, eps, beta):
    total = 0.0
    G = len(advantages)
    for i in range(G):
        terms = []
        for t in range(mask.shape[1]):
            if not mask[i, t]:
                continue
            rho = math.exp(logp[i, t] - old_logp[i, t])
            clipped = min(max(rho, 1 - eps), 1 + eps)
            r = math.exp(ref_logp[i, t] - logp[i, t])
            terms.append(min(rho * advantages[i], clipped * advantages[i]) - beta * (r - math.log(r) - 1))
        total += sum(terms) / len(terms)
    return total / G


@pytest.mark.parametrize("exercise_id, answer", [
    ("04.1", good_advantages), ("04.1", good_advantages_with_eps), ("04.2", good_surrogate),
    ("04.3", good_kl), ("04.4", good_objective)])
def test_correct_answers_pass(exercise_id, answer, capsys):
    ok, out = grade(exercise_id, answer, capsys)
    assert ok, out
    assert "correct" in out


def test_the_exercises_of_notebook_04_are_registered():
    assert [i for i in exercises.ids() if i.startswith("04.")] == ["04.1", "04.2", "04.3", "04.4"]


# ---- planted wrong answers -------------------------------------------------------------------

def adv_ddof0(rewards):
    r = np.asarray(rewards, dtype=float)
    std = r.std(axis=-1, keepdims=True)
    return np.where(std == 0, 0.0, (r - r.mean(axis=-1, keepdims=True)) / np.where(std == 0, 1, std))


def adv_nan_for_constant(rewards):
    r = np.asarray(rewards, dtype=float)
    return (r - r.mean(axis=-1, keepdims=True)) / r.std(axis=-1, ddof=1, keepdims=True)


def adv_batch_std(rewards):
    r = np.asarray(rewards, dtype=float)
    if r.ndim == 1:
        return good_advantages(r)
    return (r - r.mean()) / r.std(ddof=1)


def adv_no_std(rewards):  # Dr. GRPO's centring only: not what 04.1 asks
    r = np.asarray(rewards, dtype=float)
    return r - r.mean(axis=-1, keepdims=True)


def adv_eps_huge(rewards):  # eps so large that it changes the advantages
    r = np.asarray(rewards, dtype=float)
    return (r - r.mean(axis=-1, keepdims=True)) / (r.std(axis=-1, ddof=1, keepdims=True) + 0.1)


def adv_sign(rewards):
    return -good_advantages(rewards)


def surrogate_max(rho, A, eps):
    return np.maximum(rho * A, np.clip(rho, 1 - eps, 1 + eps) * A)


def surrogate_clipped_advantage(rho, A, eps):
    return rho * np.clip(A, 1 - eps, 1 + eps)


def surrogate_clip_only(rho, A, eps):
    return np.clip(rho, 1 - eps, 1 + eps) * A


def surrogate_upper_only(rho, A, eps):
    return np.minimum(rho * A, np.minimum(rho, 1 + eps) * A)


def surrogate_scalar_only(rho, A, eps):  # a Python min over arrays
    return min(float(np.max(rho * A)), float(np.max(np.clip(rho, 1 - eps, 1 + eps) * A)))


def kl_old_over_ref(logp, old_logp, ref_logp):  # the seed's pi_old / pi_ref
    r = np.exp(np.asarray(old_logp) - np.asarray(ref_logp))
    return r - np.log(r) - 1


def kl_inverted(logp, old_logp, ref_logp):  # pi_theta / pi_ref
    r = np.exp(np.asarray(logp) - np.asarray(ref_logp))
    return r - np.log(r) - 1


def kl_k1(logp, old_logp, ref_logp):
    return np.asarray(logp) - np.asarray(ref_logp)


def kl_missing_minus_one(logp, old_logp, ref_logp):
    r = np.exp(np.asarray(ref_logp) - np.asarray(logp))
    return r - np.log(r)


def objective_token_mean(logp, old_logp, ref_logp, advantages, mask, eps, beta):
    rho = np.exp(logp - old_logp)
    A = np.asarray(advantages)[:, None]
    r = np.exp(ref_logp - logp)
    per_token = np.minimum(rho * A, np.clip(rho, 1 - eps, 1 + eps) * A) - beta * (r - np.log(r) - 1)
    return float(np.sum(np.where(mask, per_token, 0.0)) / mask.sum())


def objective_padding_counted(logp, old_logp, ref_logp, advantages, mask, eps, beta):
    rho = np.exp(logp - old_logp)
    A = np.asarray(advantages)[:, None]
    r = np.exp(ref_logp - logp)
    return float(np.mean(np.minimum(rho * A, np.clip(rho, 1 - eps, 1 + eps) * A) - beta * (r - np.log(r) - 1)))


def objective_kl_sign(logp, old_logp, ref_logp, advantages, mask, eps, beta):
    return good_objective(logp, old_logp, ref_logp, advantages, mask, eps, -beta)


def objective_no_clip(logp, old_logp, ref_logp, advantages, mask, eps, beta):
    return good_objective(logp, old_logp, ref_logp, advantages, mask, 0.999999, beta)


def objective_sum_over_outputs(logp, old_logp, ref_logp, advantages, mask, eps, beta):  # 1/G forgotten
    return len(advantages) * good_objective(logp, old_logp, ref_logp, advantages, mask, eps, beta)


@pytest.mark.parametrize("exercise_id, answer, words", [
    ("04.1", adv_ddof0, ["ddof=0", "sample std"]),
    ("04.1", adv_nan_for_constant, ["all-equal group", "NaN"]),
    ("04.1", adv_batch_std, ["batch of 3 groups", "whole batch"]),
    ("04.1", adv_no_std, ["G = 6", "too"]),
    ("04.1", adv_eps_huge, ["G = 6", "too small"]),
    ("04.1", adv_sign, ["G = 6"]),
    ("04.2", surrogate_max, ["A = +1.5", "above the unclipped"]),
    ("04.2", surrogate_clipped_advantage, ["A = +1.5"]),
    ("04.2", surrogate_clip_only, ["A = +1.5", "above the unclipped"]),
    ("04.2", surrogate_upper_only, ["A = -0.7"]),
    ("04.2", surrogate_scalar_only, ["A = +1.5", "shape"]),
    ("04.3", kl_old_over_ref, ["does not change", "beta does nothing"]),
    ("04.3", kl_inverted, ["upside down"]),
    ("04.3", kl_k1, ["negative"]),
    ("04.3", kl_missing_minus_one, ["3 x 5 tokens", "too large"]),
    ("04.4", objective_token_mean, ["hand example", "1/|o_i|"]),
    ("04.4", objective_padding_counted, ["hand example", "padding"]),
    ("04.4", objective_kl_sign, ["hand example", "wrong sign"]),
    ("04.4", objective_no_clip, ["hand example"]),
    ("04.4", objective_sum_over_outputs, ["hand example", "too large"]),
])
def test_planted_wrong_answers_are_caught_with_useful_feedback(exercise_id, answer, words, capsys):
    ok, out = grade(exercise_id, answer, capsys)
    assert ok is False
    assert "not yet" in out and "exercises.hint(" in out
    for word in words:
        assert word in out, f"{word!r} missing from the feedback:\n{out}"


def test_feedback_never_shows_the_expected_values(capsys):
    # 04.1's first case: the right advantages of [1, 0, 0, 2, 0, 1] (ddof=1).
    r = np.array([1.0, 0.0, 0.0, 2.0, 0.0, 1.0])
    expected = good_advantages(r)
    _, out = grade("04.1", adv_ddof0, capsys)
    for value in expected:
        assert f"{value:.3f}" not in out
    # 04.4's first case, the hand example: its objective, computed here.
    mask = np.array([[True, True, False], [True, True, True]])
    J = good_objective(np.log([[0.5, 0.25, 1.0], [0.3, 0.9, 0.1]]), np.log([[0.4, 0.25, 1.0], [0.5, 0.8, 0.1]]),
                       np.log([[0.6, 0.2, 1.0], [0.3, 0.5, 0.2]]), [0.8, -0.5], mask, 0.2, 0.04)
    for wrong in (objective_token_mean, objective_no_clip, objective_sum_over_outputs):
        _, out = grade("04.4", wrong, capsys)
        assert f"{J:.3f}" not in out and f"{J:.3g}" not in out


def test_an_answer_that_warns_is_judged_by_its_values_not_its_warning(capsys):
    # 0/0 inside the learner's code warns; the checker reports the NaN it produced instead of
    # crashing (pytest turns RuntimeWarning into an error here, so this also checks silencing).
    ok, out = grade("04.1", adv_nan_for_constant, capsys)
    assert ok is False and "RuntimeWarning" not in out


RECIPES = {
    "04.1": ("mean", "ddof=1", "keepdims", "0"),
    "04.2": ("np.minimum", "np.clip"),
    "04.3": ("ref_logp - logp", "expm1", "u - log u - 1"),
    "04.4": ("min(", "beta", "1/|o_i|", "1/G", "mask"),
}


@pytest.mark.parametrize("exercise_id", sorted(RECIPES))
def test_hints_come_in_tiers_and_no_tier_states_the_whole_recipe(exercise_id):
    assert_tiers_hide_the_recipe(exercise_id, RECIPES[exercise_id])

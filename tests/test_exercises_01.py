"""Notebook 01's graded exercises: correct answers written here (from the formulas, not from
r1lib) pass; the typical wrong answers (no max-subtraction, T multiplied or ignored, a softmax over
the whole batch, the reverse KL, T on one side only, clipped probabilities, NaN for a masked
class, a forgotten or halved T^2, a flipped sign, the plain-KL gradient) are caught with feedback
that names the case and the property, and never shows the expected values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from exercisetools import assert_tiers_hide_the_recipe, grade
from r1lib import exercises


# ---- correct answers, written from the formulas -----------------------------------------------

def good_softmax(z, T):
    a = np.asarray(z, dtype=float) / T
    a = a - a.max(axis=-1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=-1, keepdims=True)


def good_log_softmax(z, T):
    a = np.asarray(z, dtype=float) / T
    m = a.max(axis=-1, keepdims=True)
    return a - m - np.log(np.sum(np.exp(a - m), axis=-1, keepdims=True))


def good_kl(zt, zs, T):
    lt, ls = good_log_softmax(zt, T), good_log_softmax(zs, T)
    pt = np.exp(lt)
    terms = np.where(pt > 0, pt * (lt - np.where(pt > 0, ls, 0.0)), 0.0)
    return terms.sum(axis=-1)


def good_kl_loop(zt, zs, T):
    """A plain-Python version, 1-D and 2-D, with math.fsum: another way to be right."""
    zt, zs = np.asarray(zt, dtype=float), np.asarray(zs, dtype=float)
    if zt.ndim == 2:
        return np.array([good_kl_loop(a, b, T) for a, b in zip(zt, zs)])
    def logsm(z):
        m = max(z / T)
        lse = m + math.log(math.fsum(math.exp(v / T - m) for v in z))
        return [v / T - lse for v in z]
    lt, ls = logsm(zt), logsm(zs)
    return math.fsum(math.exp(a) * (a - b) for a, b in zip(lt, ls) if a > -math.inf)


def good_loss(zt, zs, T):
    return T * T * good_kl(zt, zs, T)


def good_grad(zt, zs, T):
    return T * (good_softmax(zs, T) - good_softmax(zt, T))


@pytest.mark.parametrize("exercise_id, answer", [
    ("01.1", good_softmax), ("01.2", good_kl), ("01.2", good_kl_loop), ("01.3", good_loss),
    ("01.4", good_grad)])
def test_correct_answers_pass(exercise_id, answer, capsys):
    ok, out = grade(exercise_id, answer, capsys)
    assert ok, out
    assert "correct" in out


def test_the_exercises_of_notebook_01_are_registered():
    assert [i for i in exercises.ids() if i.startswith("01.")] == ["01.1", "01.2", "01.3", "01.4"]


# ---- planted wrong answers -------------------------------------------------------------------

def softmax_no_shift(z, T):
    e = np.exp(np.asarray(z, dtype=float) / T)
    return e / e.sum(axis=-1, keepdims=True)


def softmax_times_T(z, T):
    return good_softmax(np.asarray(z) * T * T, T)  # = softmax(z * T)


def softmax_ignores_T(z, T):
    return good_softmax(z, 1.0)


def softmax_whole_array(z, T):
    a = np.asarray(z, dtype=float) / T
    e = np.exp(a - a.max())
    return e / e.sum()


def softmax_nan_for_masked(z, T):
    a = np.asarray(z, dtype=float) / T
    a = a - a.max(axis=-1, keepdims=True)
    a = np.where(np.isinf(a), np.nan, a)  # e.g. from -inf - (-inf) in a careless shift
    e = np.exp(a)
    return e / np.nansum(e, axis=-1, keepdims=True)


def kl_reverse(zt, zs, T):
    return good_kl(zs, zt, T)


def kl_T_teacher_only(zt, zs, T):
    return good_kl(np.asarray(zt) / T, zs, 1.0)


def kl_T_student_only(zt, zs, T):
    return good_kl(zt, np.asarray(zs) / T, 1.0)


def kl_clipped(zt, zs, T):
    p, q = good_softmax(zt, T), good_softmax(zs, T)
    return np.sum(p * (np.log(np.clip(p, 1e-12, 1)) - np.log(np.clip(q, 1e-12, 1))), axis=-1)


def kl_naive_masked(zt, zs, T):
    p, q = good_softmax(zt, T), good_softmax(zs, T)
    return np.sum(p * np.log(p / q), axis=-1)  # 0 * log 0 -> NaN


def kl_pooled_batch(zt, zs, T):
    return good_kl(zt, zs, T).sum()  # one number for the batch


def loss_no_T2(zt, zs, T):
    return good_kl(zt, zs, T)


def loss_T(zt, zs, T):
    return T * good_kl(zt, zs, T)


def loss_reverse(zt, zs, T):
    return T * T * good_kl(zs, zt, T)


def loss_T_one_side(zt, zs, T):
    return T * T * kl_T_student_only(zt, zs, T)


def loss_batch_mean(zt, zs, T):
    return good_loss(zt, zs, T).mean(axis=-1) if np.ndim(zt) == 2 else good_loss(zt, zs, T)


def grad_flipped(zt, zs, T):
    return -good_grad(zt, zs, T)


def grad_plain_kl(zt, zs, T):
    return good_grad(zt, zs, T) / T**2


def grad_no_T(zt, zs, T):
    return good_softmax(zs, T) - good_softmax(zt, T)


def grad_not_centred(zt, zs, T):
    return T * good_softmax(zs, T) - good_softmax(zt, 1.0)


@pytest.mark.parametrize("exercise_id, answer, phrases", [
    ("01.1", softmax_no_shift, ["[1000, 999, 998]", "overflow", "subtract"]),
    ("01.1", softmax_times_T, ["T = 4", "multiplied by T"]),
    ("01.1", softmax_ignores_T, ["T = 4", "temperature is ignored"]),
    ("01.1", softmax_whole_array, ["batch", "sum to 1"]),
    ("01.1", softmax_nan_for_masked, ["masked", "exactly 0"]),
    ("01.2", kl_reverse, ["T = 1.0", "reverse direction"]),
    ("01.2", kl_T_teacher_only, ["T = 3", "teacher's logits only"]),
    ("01.2", kl_T_student_only, ["T = 3", "student's logits only"]),
    ("01.2", kl_clipped, ["[0, -50]", "clipped", "27.63"]),
    ("01.2", kl_naive_masked, ["masked", "0 log 0 = 0"]),
    ("01.2", kl_pooled_batch, ["batch", "expected shape (3,)"]),
    ("01.3", loss_no_T2, ["T = 2", "plain KL", "T^2"]),
    ("01.3", loss_T, ["T = 2", "multiplied by T", "T^2"]),
    ("01.3", loss_reverse, ["T = 2", "reverse direction"]),
    ("01.3", loss_T_one_side, ["T = 2", "student's logits only"]),
    ("01.3", loss_batch_mean, ["batch", "expected shape (3,)"]),
    ("01.4", grad_flipped, ["T = 2", "sign is flipped"]),
    ("01.4", grad_plain_kl, ["T = 2", "plain KL", "T^2"]),
    ("01.4", grad_no_T, ["T = 2", "factor T"]),
    ("01.4", grad_not_centred, ["T = 2", "sum to 0"]),
])
def test_planted_wrong_answers_are_caught_with_specific_feedback(exercise_id, answer, phrases, capsys):
    ok, out = grade(exercise_id, answer, capsys)
    assert ok is False
    assert "not yet" in out and "exercises.hint(" in out
    for phrase in phrases:
        assert phrase in out, (phrase, out)


def test_feedback_never_shows_the_expected_values(capsys):
    """The exact answers of the first failing cases never appear in the feedback."""
    from r1lib import distillation_grad, distillation_loss, kl_from_logits, softmax

    z = np.array([6.0, 4.0, 2.5, 0.5, -1.5, -3.0])
    zs = np.array([4.5, 5.0, 1.0, 1.5, -0.5, -1.0])
    secrets = {"01.1": softmax(z, 4.0), "01.2": [kl_from_logits(z, zs, 1.0)],
               "01.3": [distillation_loss(z, zs, 2.0)], "01.4": distillation_grad(z, zs, 2.0)}
    wrong = {"01.1": softmax_ignores_T, "01.2": kl_reverse, "01.3": loss_no_T2, "01.4": grad_no_T}
    for exercise_id, answer in wrong.items():
        _, out = grade(exercise_id, answer, capsys)
        for value in np.ravel(secrets[exercise_id]):
            for digits in (3, 4, 6):
                assert f"{float(value):.{digits}f}" not in out, (exercise_id, value, out)


# Each exercise's recipe, as the words a hint would need to give it away in one go.
RECIPES = {
    "01.1": ("subtract", "max", "exp", "sum", "axis"),
    "01.2": ("teacher", "log-softmax", "clip", "0"),
    "01.3": ("T^2", "KL", "kl_from_logits"),
    "01.4": ("delta_ij", "p_t", "T", "sum to 0"),
}


@pytest.mark.parametrize("exercise_id", sorted(RECIPES))
def test_hints_come_in_tiers_and_no_tier_states_the_whole_recipe(exercise_id):
    assert_tiers_hide_the_recipe(exercise_id, RECIPES[exercise_id])


def test_feedback_prints_the_logits_as_plain_numbers(capsys):
    ok, out = grade("01.1", lambda z, T: np.exp(z) / np.exp(z).sum(), capsys)   # ignores T
    assert ok is False and "np.float64" not in out
    assert "[6.0, 4.0, 2.5, 0.5, -1.5, -3.0]" in out

"""Exercises of notebook 01 (knowledge distillation).

01.1  the temperature softmax softmax(z / T), stable for large logits, masked classes allowed;
01.2  KL(p_t || p_s) between two temperature softmaxes, in log space (no clipping);
01.3  the distillation loss T^2 KL(softmax(z_t/T) || softmax(z_s/T)) (Hinton et al. 2015, sec. 2);
01.4  its gradient with respect to the student's logits, T (p_s - p_t).

Reference values come from r1lib's core (:mod:`r1lib.softmax`, :mod:`r1lib.divergence`,
:mod:`r1lib.distillation`); the feedback names the failing case and the property it breaks
(a forgotten T^2, the wrong KL direction, T on one side only, clipped probabilities...), never
the expected numbers.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..distillation import distillation_grad, distillation_loss
from ..divergence import kl_from_logits
from ..softmax import softmax
from .registry import Wrong, as_array, call, close, exercise

# The notebook's example: a teacher's logits for a photo of a dog, and a student that prefers wolf.
Z_DOG = np.array([6.0, 4.0, 2.5, 0.5, -1.5, -3.0])
Z_STUDENT = np.array([4.5, 5.0, 1.0, 1.5, -0.5, -1.0])
# A batch of 3 examples (rows) over 4 classes, for "one value per row".
Z_BATCH_T = np.array([[2.0, 0.0, -1.0, 0.5], [0.0, 3.0, 1.0, 1.0], [-1.0, -1.0, 2.0, 0.0]])
Z_BATCH_S = np.array([[1.0, 1.0, 0.0, 0.0], [0.5, 2.0, 2.0, 0.0], [0.0, -2.0, 1.0, 1.0]])
# A teacher sure of class 0 and a student sure of class 1: KL(p_t || p_s) is about 50 nats.
SURE_T, SURE_S = np.array([0.0, -50.0]), np.array([-50.0, 0.0])
CLIP_CAP = math.log(1e12)  # 27.63: what np.clip(q, 1e-12, 1) before the log caps a term at


def _quiet_call(fn, *args):
    """Call the learner's function with NumPy's warnings silenced: an overflow or 0 * log 0 shows
    up as the inf/NaN it produces (which the checks name), not as a warning above the feedback."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return call(fn, *[a.copy() if isinstance(a, np.ndarray) else a for a in args])



def _matches(got: np.ndarray, other) -> bool:
    other = np.asarray(other, dtype=float)
    return bool(np.all(np.isfinite(got)) and np.all(np.isfinite(other))
                and np.allclose(got, other, rtol=1e-6, atol=1e-9))


# ---------------------------------------------------------------------------------------------
# 01.1 temperature softmax
# ---------------------------------------------------------------------------------------------

@exercise("01.1", title="the temperature softmax",
          hints=("Section 1 gives the formula. Two inputs need care: logits like 1000 (what does "
                 "np.exp(1000) return?) and a masked class with logit -inf (what must its probability be?).",
                 "softmax(z / T) does not change when the same constant is subtracted from every logit of "
                 "a row. Which constant makes the largest exponent exp(0), so that nothing overflows?",
                 "Reduce along the class axis only (axis=-1, keepdims=True), so that a 2-D batch gets one "
                 "distribution per row; every row must sum to 1."))
def _check_softmax(answer):
    for T in (1.0, 4.0, 0.5):
        what = f"the dog logits {Z_DOG.tolist()} at T = {T}"
        got = as_array(_quiet_call(answer, Z_DOG, T), what, Z_DOG.shape)
        if T != 1.0 and _matches(got, softmax(Z_DOG, 1.0)):
            raise Wrong(f"{what}: this is the softmax at T = 1; the temperature is ignored")
        if T != 1.0 and _matches(got, softmax(Z_DOG * T)):
            raise Wrong(f"{what}: the logits were multiplied by T; they are divided by T "
                        "(a high T must flatten the distribution)")
        close(got, softmax(Z_DOG, T), what)
    big = np.array([1000.0, 999.0, 998.0])
    what = "logits [1000, 999, 998] at T = 1"
    got = as_array(_quiet_call(answer, big, 1.0), what, big.shape)
    if not np.all(np.isfinite(got)):
        raise Wrong(f"{what}: got inf or NaN: exp(1000) overflows; subtract the largest logit first "
                    "(the result is the same, because softmax ignores a constant shift)")
    close(got, softmax(big), what)
    masked = np.array([1.0, -np.inf, 0.0])
    what = "logits [1, -inf, 0] (the middle class masked) at T = 2"
    got = as_array(_quiet_call(answer, masked, 2.0), what, masked.shape)
    if not np.all(np.isfinite(got)):
        raise Wrong(f"{what}: got NaN or inf; a masked class (-inf) must get probability exactly 0")
    close(got, softmax(masked, 2.0), what, atol=0.0)
    what = "a batch of 3 rows x 4 classes at T = 2 (one distribution per row)"
    got = as_array(_quiet_call(answer, Z_BATCH_T, 2.0), what, Z_BATCH_T.shape)
    if not np.allclose(got.sum(axis=-1), 1.0, rtol=1e-9):
        raise Wrong(f"{what}: the rows do not each sum to 1; normalise over the class axis (the last "
                    "one) only, not over the whole array")
    close(got, softmax(Z_BATCH_T, 2.0), what)
    return "three temperatures, logits of 1000 without overflow, a masked class, a batch of rows"


# ---------------------------------------------------------------------------------------------
# 01.2 KL in log space
# ---------------------------------------------------------------------------------------------

def _kl_plain(zp, zq, Tp, Tq):
    """KL(softmax(zp/Tp) || softmax(zq/Tq)) via r1lib, for diagnosing one-sided temperatures."""
    return kl_from_logits(np.asarray(zp) / Tp, np.asarray(zq) / Tq)


@exercise("01.2", title="KL divergence from logits, in log space",
          hints=("Section 2 defines KL(p || q) = sum_i p_i log(p_i / q_i). Which distribution plays p "
                 "here, the teacher's or the student's? Both are softened by the same T.",
                 "Section 5.1 shows what clipping probabilities before the log does to a 50-nat divergence. "
                 "Where can log-probabilities come from without ever taking the log of a probability?",
                 "A class the teacher gives probability 0 (logit -inf) contributes 0 to the sum, whatever the "
                 "student puts there; 0 * (-inf) is NaN in NumPy, so leave those terms out instead."))
def _check_kl(answer):
    for T in (1.0, 3.0):
        what = f"teacher = the dog logits, student = {Z_STUDENT.tolist()}, T = {T}"
        got = as_array(_quiet_call(answer, Z_DOG, Z_STUDENT, T), what, ())
        expected = kl_from_logits(Z_DOG, Z_STUDENT, T)
        if _matches(got, kl_from_logits(Z_STUDENT, Z_DOG, T)) and not _matches(got, expected):
            raise Wrong(f"{what}: this is KL(p_s || p_t), the reverse direction; distillation's KL "
                        "weights the log-ratio by the teacher's probabilities")
        if T != 1.0:
            for Tp, Tq, side in ((T, 1.0, "the teacher's"), (1.0, T, "the student's")):
                if _matches(got, _kl_plain(Z_DOG, Z_STUDENT, Tp, Tq)):
                    raise Wrong(f"{what}: T was applied to {side} logits only; both distributions "
                                "are softened by the same T")
        if np.isfinite(got) and got < 0:
            raise Wrong(f"{what}: a KL divergence is never negative (Gibbs' inequality)")
        close(got, expected, what)
    what = "teacher logits [0, -50] (sure of class 0), student [-50, 0] (sure of class 1), T = 1"
    got = as_array(_quiet_call(answer, SURE_T, SURE_S, 1.0), what, ())
    if np.isfinite(got) and abs(float(got) - CLIP_CAP) < 0.05:
        raise Wrong(f"{what}: the divergence is capped at log(1e12) = {CLIP_CAP:.2f} nats: the "
                    "probabilities were clipped before the log; compute log-probabilities directly "
                    "(log-softmax), never log(clip(p))")
    close(got, kl_from_logits(SURE_T, SURE_S), what)
    masked = (np.array([0.0, 1.0, -np.inf]), np.array([0.5, 0.0, 1.0]))
    what = "teacher logits [0, 1, -inf] (class 2 masked for the teacher), student [0.5, 0, 1], T = 2"
    got = as_array(_quiet_call(answer, *masked, 2.0), what, ())
    if not np.isfinite(got):
        raise Wrong(f"{what}: got NaN or inf; a class the teacher gives probability 0 contributes 0 "
                    "(0 log 0 = 0), whatever the student puts there")
    close(got, kl_from_logits(*masked, 2.0), what)
    what = "a batch of 3 rows x 4 classes, T = 2 (one divergence per row)"
    got = as_array(_quiet_call(answer, Z_BATCH_T, Z_BATCH_S, 2.0), what, (3,))
    close(got, kl_from_logits(Z_BATCH_T, Z_BATCH_S, 2.0), what)
    return "direction KL(p_t || p_s), T on both sides, a 50-nat divergence unclipped, a masked class, a batch"


# ---------------------------------------------------------------------------------------------
# 01.3 the distillation loss
# ---------------------------------------------------------------------------------------------

@exercise("01.3", title="the distillation loss T² KL",
          hints=("Section 3: the loss is a KL between the two softened distributions times a factor. "
                 "Which factor, and what would the gradient do at high T without it?",
                 "Reuse your 01.2 (or r1lib.kl_from_logits) for the KL. For a batch, return one loss per "
                 "row, not their mean."))
def _check_distillation_loss(answer):
    for T in (2.0, 4.0, 0.5):
        what = f"teacher = the dog logits, student = {Z_STUDENT.tolist()}, T = {T}"
        got = as_array(_quiet_call(answer, Z_DOG, Z_STUDENT, T), what, ())
        kl = float(kl_from_logits(Z_DOG, Z_STUDENT, T))
        expected = distillation_loss(Z_DOG, Z_STUDENT, T)
        if _matches(got, kl):
            raise Wrong(f"{what}: this is the plain KL; the distillation loss multiplies it by T^2, "
                        "so that its gradient does not vanish like 1/T^2 at high T")
        if _matches(got, T * kl):
            raise Wrong(f"{what}: the KL was multiplied by T; the factor is T^2")
        if _matches(got, T * T * float(kl_from_logits(Z_STUDENT, Z_DOG, T))):
            raise Wrong(f"{what}: the KL is in the reverse direction, KL(p_s || p_t); distillation "
                        "uses KL(p_t || p_s)")
        for Tp, Tq, side in ((T, 1.0, "the teacher's"), (1.0, T, "the student's")):
            if _matches(got, T * T * _kl_plain(Z_DOG, Z_STUDENT, Tp, Tq)):
                raise Wrong(f"{what}: T was applied to {side} logits only; both are divided by T")
        close(got, expected, what)
    what = "a batch of 3 rows x 4 classes, T = 3 (one loss per row)"
    got = as_array(_quiet_call(answer, Z_BATCH_T, Z_BATCH_S, 3.0), what, (3,))
    close(got, distillation_loss(Z_BATCH_T, Z_BATCH_S, 3.0, reduction="none"), what)
    what = "teacher = student (the dog logits twice), T = 4"
    close(as_array(_quiet_call(answer, Z_DOG, Z_DOG, 4.0), what, ()), 0.0, what + ": the loss must be 0")
    return "the T^2 factor at T = 2, 4, 0.5, the direction, T on both sides, one loss per row"


# ---------------------------------------------------------------------------------------------
# 01.4 the gradient of the distillation loss
# ---------------------------------------------------------------------------------------------

@exercise("01.4", title="the gradient of T² KL",
          hints=("Only the log p_s terms of the loss depend on the student's logits. Start from "
                 "d log p_s,j / d z_s,i for the temperature softmax (section 3).",
                 "d log p_s,j / d z_s,i = (delta_ij - p_s,i) / T. Multiply by the loss's factor, weight by the "
                 "teacher's p_t,j and sum over j; remember that sum_j p_t,j = 1.",
                 "Check before you submit: the entries of each row sum to 0 (a constant added to every "
                 "logit changes nothing), and a central difference of r1lib.distillation_loss agrees."))
def _check_distillation_grad(answer):
    for T in (2.0, 5.0, 0.5):
        what = f"teacher = the dog logits, student = {Z_STUDENT.tolist()}, T = {T}"
        got = as_array(_quiet_call(answer, Z_DOG, Z_STUDENT, T), what, Z_DOG.shape)
        expected = distillation_grad(Z_DOG, Z_STUDENT, T)
        if _matches(got, -expected):
            raise Wrong(f"{what}: the sign is flipped; the gradient points uphill, towards a larger "
                        "loss (it is positive where the student puts more mass than the teacher)")
        if _matches(got, expected / T**2):
            raise Wrong(f"{what}: this is the gradient of the plain KL, smaller by a factor T^2; "
                        "the loss is T^2 times the KL")
        if _matches(got, expected / T):
            raise Wrong(f"{what}: off by a factor T: the T^2 of the loss and the 1/T of the "
                        "inner derivative leave one factor T")
        if np.all(np.isfinite(got)) and abs(float(np.sum(got))) > 1e-9:
            raise Wrong(f"{what}: the entries do not sum to 0; adding a constant to every logit "
                        "changes nothing, so the gradient has no component along (1, ..., 1)")
        close(got, expected, what)
    what = "a batch of 3 rows x 4 classes, T = 3 (one gradient row per example)"
    got = as_array(_quiet_call(answer, Z_BATCH_T, Z_BATCH_S, 3.0), what, Z_BATCH_T.shape)
    close(got, distillation_grad(Z_BATCH_T, Z_BATCH_S, 3.0), what)
    return "T (p_s - p_t) at T = 2, 5, 0.5: sign, the factor T, rows summing to 0, a batch"

r"""Exercises of notebook 05 (GRPO after R1): the loss aggregations of TRL's ``loss_type``, GSPO's
sequence ratio, the per-token gradients of the KL choices, and how much a group weighs under
``scale_rewards``.

Reference values come from r1lib's core (:func:`r1lib.grpo_loss.grpo_loss`,
:func:`r1lib.grpo_loss.grpo_loss_grad`, :func:`r1lib.group_advantages`); feedback names the failing
case and the expected property, never the value.
"""
from __future__ import annotations

import numpy as np

from ..grpo import group_advantages
from ..grpo_loss import grpo_loss, grpo_loss_grad
from .registry import Wrong, as_array, call, close, exercise


def _batch(seed: int, B: int = 5, T: int = 7, max_len: int = 10):
    """Advantages, a padding mask with lengths 1..T and log-probabilities of a batch."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, B)
    lengths[0], lengths[1] = 1, T  # a one-token and a full-length completion
    mask = np.arange(T) < lengths[:, None]
    adv = rng.normal(size=B)
    logp = np.where(mask, -rng.uniform(0.05, 3.0, (B, T)), 0.0)
    old = np.where(mask, logp + rng.normal(0.0, 0.3, (B, T)), 0.0)
    old = np.minimum(old, -1e-3)
    return adv, mask, logp, old, max_len


def _number(value, what: str) -> float:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise Wrong(f"{what}: expected a number, got {type(value).__name__}") from None
    if arr.shape != ():
        raise Wrong(f"{what}: expected one number (the scalar loss), got shape {arr.shape}")
    return float(arr)



# ---------------------------------------------------------------------------------------------
# 05.1 The on-policy loss of each loss_type
# ---------------------------------------------------------------------------------------------

@exercise("05.1", title="the on-policy loss of each loss_type",
          hints=("Section 1's table: every loss_type adds up the same token losses and differs only in "
                 "what it divides by. On-policy (ratio 1, beta = 0), what is one real token's loss?",
                 "Each real token's loss is -A_i; padding (mask False) counts nowhere. Read the "
                 "normaliser of each loss_type in section 1's table: which one depends on a row's own "
                 "length, which on the whole batch, which on neither?"))
def _check_aggregation(answer) -> str:
    checked = []
    for seed in (501, 502):
        adv, mask, logp, _, max_len = _batch(seed)
        for loss_type in ("grpo", "dapo", "dr_grpo"):
            case = f"batch {seed - 500} (lengths {mask.sum(axis=1).tolist()}), loss_type={loss_type!r}"
            got = _number(call(answer, adv.copy(), mask.copy(), loss_type, max_len), case)
            expected = grpo_loss(logp, logp, adv, mask, loss_type=loss_type, max_completion_length=max_len)
            if np.isclose(got, -expected) and not np.isclose(got, expected):
                raise Wrong(f"{case}: the sign is flipped; the loss is minimised, so a positive "
                            "advantage must make it negative")
            close(got, expected, case)
            checked.append(loss_type)
    return ("grpo, dapo and dr_grpo agree with r1lib.grpo_loss on two padded batches (lengths from 1 "
            "to the full width).")


# ---------------------------------------------------------------------------------------------
# 05.2 GSPO's sequence-level ratio
# ---------------------------------------------------------------------------------------------

def _sequence_ratio_reference(logp: np.ndarray, old: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """s_i from the core: one row alone, advantage 1 and no upper clip, 'grpo' aggregation: the
    loss of that row is -s_i."""
    return np.array([-grpo_loss(logp[i:i + 1], old[i:i + 1], np.ones(1), mask[i:i + 1],
                                importance_sampling_level="sequence", epsilon=0.2, epsilon_high=1e9,
                                loss_type="grpo") for i in range(len(logp))])


@exercise("05.2", title="GSPO's sequence ratio",
          hints=("Section 7: s_i is a geometric mean of the token ratios. Compute it in log space: a "
                 "product of thousands of ratios overflows or underflows.",
                 "Only the real tokens of a row count, in the sum and in the count n_i: the mask says "
                 "which they are."))
def _check_sequence_ratio(answer) -> str:
    for seed in (511, 512):
        _, mask, logp, old, _ = _batch(seed)
        case = f"batch {seed - 510} (lengths {mask.sum(axis=1).tolist()})"
        got = as_array(call(answer, logp.copy(), old.copy(), mask.copy()), case, (len(logp),))
        expected = _sequence_ratio_reference(logp, old, mask)
        token_product = np.exp(np.sum(np.where(mask, logp - old, 0.0), axis=1))
        if np.allclose(got, token_product) and not np.allclose(got, expected):
            raise Wrong(f"{case}: this is the product of the token ratios (the whole-sequence ratio); "
                        "GSPO takes its |o_i|-th root, the geometric mean")
        padded_mean = np.exp(np.mean(np.where(mask, logp - old, 0.0), axis=1))
        if np.allclose(got, padded_mean) and not np.allclose(got, expected):
            raise Wrong(f"{case}: the mean runs over the padding too; divide by the number of real "
                        "tokens n_i, not by the width T")
        close(got, expected, case)
    return "the sequence ratios match r1lib.grpo_loss's sequence level on two padded batches."


# ---------------------------------------------------------------------------------------------
# 05.3 The per-token gradients of the KL choices
# ---------------------------------------------------------------------------------------------

_KL_LOGP = np.array([-0.4, -1.6, -2.3, -0.05, -3.0])
_KL_REF = np.array([-0.9, -0.7, -2.3, -1.5, -1.0])


def _kl_grad_reference(kl: str) -> np.ndarray:
    """d kl / d logp per token from the core: one-token rows, advantage 0, beta 1, 'dapo' with
    one row per token (N = number of rows, so multiply back)."""
    lp, ref = _KL_LOGP[:, None], _KL_REF[:, None]
    g = grpo_loss_grad(lp, lp, np.zeros(len(lp)), ref_logp=ref, beta=1.0, kl=kl, loss_type="dapo")
    return g[:, 0] * len(lp)


@exercise("05.3", title="which KL gradient does each choice give?",
          hints=("Section 8's table writes every choice as a function of delta = logp - ref_logp; "
                 "differentiate with respect to logp (the reference is frozen).",
                 "k3 = exp(-delta) + delta - 1 in this notation. 'k3+' keeps k3's value but passes k2's "
                 "gradient (a straight-through trick)."))
def _check_kl_grad(answer) -> str:
    for kl in ("k1", "k2", "k3", "k3+"):
        case = f"kl={kl!r} on five tokens (one with logp == ref_logp)"
        got = as_array(call(answer, _KL_LOGP.copy(), _KL_REF.copy(), kl), case, _KL_LOGP.shape)
        expected = _kl_grad_reference(kl)
        if np.allclose(got, -expected) and not np.allclose(got, expected):
            raise Wrong(f"{case}: the sign is flipped; the gradient must be positive where logp > ref_logp "
                        "(raising an over-confident token further increases the penalty)")
        if kl == "k3+" and np.allclose(got, _kl_grad_reference("k3")) and not np.allclose(got, expected):
            raise Wrong(f"{case}: this is k3's own gradient; k3+ keeps k3's value but passes k2's gradient")
        close(got, expected, case)
    return ("k1, k2, k3 and k3+ match r1lib.grpo_loss_grad's KL term; k3+ and k2 share a gradient, "
            "k1's is constant.")


# ---------------------------------------------------------------------------------------------
# 05.4 How much a group weighs
# ---------------------------------------------------------------------------------------------

@exercise("05.4", title="how much a group weighs under scale_rewards",
          hints=("Section 4: with c of G binary rewards equal to 1, the centred rewards take only two "
                 "values. Which, and how many times each?",
                 "'group' divides by the sample standard deviation (ddof = 1) of the G rewards, 'none' "
                 "by nothing. A group of equal rewards has no signal: it weighs 0 (and must not divide "
                 "by zero)."))
def _check_weight(answer) -> str:
    for G in (4, 8, 16):
        for scale in ("none", "group"):
            case = f"G = {G}, scale={scale!r}"
            got = []
            for c in range(G + 1):
                got.append(_number(call(answer, c, G, scale), f"{case}, c = {c}"))
            rewards = (np.arange(G)[None, :] < np.arange(G + 1)[:, None]).astype(float)
            expected = np.abs(group_advantages(rewards, scale=scale, eps=0.0)).mean(axis=1)
            if scale == "group":
                ddof0 = np.abs(group_advantages(rewards, scale=scale, eps=0.0, ddof=0)).mean(axis=1)
                if np.allclose(got, ddof0) and not np.allclose(got, expected):
                    raise Wrong(f"{case}: these weights use the population std (ddof=0); TRL and verl "
                                "divide by the sample std (ddof=1)")
            close(np.array(got), expected, f"{case} (c = 0..{G})")
    return ("mean |A| of a group matches r1lib.group_advantages for G = 4, 8, 16, with and without the "
            "group std, all-equal groups included.")

"""Exercises of notebook 04 (GRPO from scratch).

04.1  group-relative advantages (ddof=1, an all-equal group gives 0);
04.2  PPO's clipped surrogate min(rho A, clip(rho, 1-eps, 1+eps) A);
04.3  GRPO's per-token KL penalty k3 with r = pi_ref / pi_theta;
04.4  the GRPO objective of one group, DeepSeekMath (arXiv:2402.03300) eq. 3.

Reference values come from r1lib's core (:mod:`r1lib.grpo`, :mod:`r1lib.kl_estimators`); the
feedback names the failing case and the property it breaks, never the expected numbers.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..grpo import clipped_surrogate, group_advantages, grpo_objective
from ..kl_estimators import kl_k3
from .registry import Wrong, as_array, call, close, exercise


def _quiet_call(fn, *args):
    """Call the learner's function with NumPy's warnings silenced: a 0/0 shows up as the NaN it
    produces (which the checks name), not as a warning printed above the feedback."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return call(fn, *args)



def _matches(got: np.ndarray, other: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(got)) and np.allclose(got, other, rtol=1e-6, atol=1e-9))


# ---------------------------------------------------------------------------------------------
# 04.1 group advantages
# ---------------------------------------------------------------------------------------------

_ADV_CASES = [
    ("a group of G = 6 rewards [1, 0, 0, 2, 0, 1]", np.array([1.0, 0.0, 0.0, 2.0, 0.0, 1.0])),
    ("a group of G = 2 rewards [0, 1]", np.array([0.0, 1.0])),
    ("an all-equal group [1, 1, 1, 1]", np.array([1.0, 1.0, 1.0, 1.0])),
    ("a batch of 3 groups (one row per prompt, G = 4; the second row all equal)",
     np.array([[1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.5, 0.5], [2.0, 1.0, 0.0, 1.0]])),
]


@exercise("04.1", title="group-relative advantages",
          hints=("Section 2: each prompt's group (the last axis) is standardised on its own. Which "
                 "standard deviation do TRL and verl divide by (mistake 6.1)?",
                 "Keep the reduced axis (keepdims=True) so that each row's mean and std broadcast against "
                 "a 2-D batch; NumPy's np.std defaults to ddof=0.",
                 "A group whose rewards are all equal must get exactly 0, neither NaN nor rounding noise: "
                 "section 6.2 shows an exact test you can run before dividing."))
def _check_group_advantages(answer):
    for what, rewards in _ADV_CASES:
        got = as_array(_quiet_call(answer, rewards.copy()), what, rewards.shape)
        expected = group_advantages(rewards, ddof=1, eps=0.0)
        if rewards.ndim == 2:
            pooled = (rewards - rewards.mean()) / rewards.std(ddof=1)
            if _matches(got, pooled):
                raise Wrong(f"{what}: the mean and std were taken over the whole batch; each prompt's "
                            "group is standardised on its own (along the last axis)")
        constant = np.ptp(rewards, axis=-1) == 0
        if constant.any() and not np.all(got[constant] == 0):
            state = "NaN (0/0)" if np.isnan(got[constant]).any() else "non-zero values"
            raise Wrong(f"{what}: an all-equal group must get advantages of exactly 0, got {state}")
        if _matches(got, group_advantages(rewards, ddof=0, eps=0.0)) and not _matches(got, expected):
            raise Wrong(f"{what}: these are standardised with the population std (ddof=0, NumPy's "
                        "default); GRPO implementations (TRL, verl) divide by the sample std (ddof=1)")
        # Up to a small eps added to the std (TRL adds 1e-4, verl 1e-6).
        close(got, expected, what, rtol=2e-3, atol=1e-6)
    return "ddof=1 standardisation per group, all-equal groups give 0, batches of groups"


# ---------------------------------------------------------------------------------------------
# 04.2 clipped surrogate
# ---------------------------------------------------------------------------------------------

_RHO = np.linspace(0.0, 2.0, 41)


@exercise("04.2", title="PPO's clipped surrogate",
          hints=("Section 1 writes the surrogate in two ways. The min form works on whole arrays if every "
                 "operation in it is elementwise (Python's min is not).",
                 "The clip acts on the ratio, never on the advantage, and the result is never above rho * A. "
                 "Work out rho = 1.5, A = -1, eps = 0.2 by hand and compare."))
def _check_clipped_surrogate(answer):
    for A in (1.5, -0.7):
        for eps in (0.2, 0.1):
            what = f"A = {A:+}, eps = {eps}, ratios 0 ... 2"
            got = as_array(_quiet_call(answer, _RHO.copy(), A, eps), what, _RHO.shape)
            if np.any(got > _RHO * A + 1e-12):
                worst = _RHO[int(np.argmax(got - _RHO * A))]
                raise Wrong(f"{what}: at rho = {worst:.2f} your value is above the unclipped rho*A; the "
                            "clipped surrogate is a pessimistic bound, never above rho*A")
            close(got, clipped_surrogate(_RHO, A, eps), what)
    # Arrays of ratios and advantages together (one advantage per token).
    rho = np.array([0.5, 0.9, 1.0, 1.3, 1.3, 0.5])
    adv = np.array([1.0, -1.0, 2.0, 1.0, -1.0, -2.0])
    what = "ratios [0.5, 0.9, 1.0, 1.3, 1.3, 0.5] with advantages [1, -1, 2, 1, -1, -2], eps = 0.2"
    close(as_array(_quiet_call(answer, rho.copy(), adv.copy(), 0.2), what, rho.shape),
          clipped_surrogate(rho, adv, 0.2), what)
    return "positive and negative advantages, two clip ranges, elementwise arrays"


# ---------------------------------------------------------------------------------------------
# 04.3 per-token KL penalty
# ---------------------------------------------------------------------------------------------

def _kl_case(seed: int):
    gen = np.random.default_rng(seed)
    logp = np.log(gen.uniform(0.05, 0.95, size=(3, 5)))
    old = np.log(gen.uniform(0.05, 0.95, size=(3, 5)))
    ref = np.log(gen.uniform(0.05, 0.95, size=(3, 5)))
    return logp, old, ref


@exercise("04.3", title="GRPO's per-token KL penalty",
          hints=("DeepSeekMath eq. 4, per token, from log-probabilities: which policy is on top of the "
                 "ratio, which one below, and which one appears nowhere?",
                 "Section 3 writes k3 = u - log u - 1 with u = pi_ref / pi_theta. With log-probabilities, "
                 "log u is a difference, so u never has to come from a ratio of tiny probabilities.",
                 "Section 6.3: a penalty built from pi_old and pi_ref only does not move when the current "
                 "policy moves, so its gradient is 0 and beta does nothing."))
def _check_kl_penalty(answer):
    logp, old, ref = _kl_case(4)
    what = "3 x 5 tokens with different current, old and reference log-probabilities"
    got = as_array(_quiet_call(answer, logp.copy(), old.copy(), ref.copy()), what, logp.shape)
    moved = as_array(_quiet_call(answer, logp - 0.3, old.copy(), ref.copy()),
                   "the same tokens after the current policy moved", logp.shape)
    if np.allclose(got, moved, rtol=1e-12, atol=0):
        raise Wrong("your penalty does not change when the current policy's logp changes: built from "
                    "pi_old and pi_ref only, it is a constant whose gradient is 0, so beta does nothing")
    if _matches(got, kl_k3(ref, logp)):
        raise Wrong(f"{what}: the ratio is upside down (pi_theta / pi_ref): GRPO's k3 puts the "
                    "reference on top, so that its mean estimates KL(pi_theta || pi_ref) on samples "
                    "from pi_theta")
    if np.any(got < -1e-12):
        raise Wrong(f"{what}: some values are negative; u - log u - 1 >= 0 for every u > 0")
    close(got, kl_k3(logp, ref), what)
    same = as_array(_quiet_call(answer, ref.copy(), old.copy(), ref.copy()),
                  "current policy equal to the reference", ref.shape)
    close(same, np.zeros_like(ref), "current policy equal to the reference (the penalty must be 0)")
    return "k3 with r = pi_ref / pi_theta, zero at pi_theta = pi_ref, independent of pi_old"


# ---------------------------------------------------------------------------------------------
# 04.4 the GRPO objective of one group
# ---------------------------------------------------------------------------------------------

def _objective_cases():
    # The hand-computed example of the notebook: G = 2 outputs of lengths 2 and 3 (padded).
    mask = np.array([[True, True, False], [True, True, True]])
    new = np.log([[0.5, 0.25, 1.0], [0.3, 0.9, 0.1]])
    old = np.log([[0.4, 0.25, 1.0], [0.5, 0.8, 0.1]])
    ref = np.log([[0.6, 0.2, 1.0], [0.3, 0.5, 0.2]])
    yield "the hand example (G = 2, lengths 2 and 3, eps = 0.2, beta = 0.04)", \
        (new, old, ref, np.array([0.8, -0.5]), mask, 0.2, 0.04)
    gen = np.random.default_rng(7)
    lengths = np.array([1, 6, 3, 8, 2])
    mask = np.arange(8) < lengths[:, None]
    logs = [np.where(mask, np.log(gen.uniform(0.05, 0.95, size=mask.shape)), 0.0) for _ in range(3)]
    adv = group_advantages(np.array([1.0, 0.0, 2.0, 0.0, 1.0]))
    yield "a group of G = 5 outputs of lengths 1, 6, 3, 8, 2 (eps = 0.2, beta = 0.5)", \
        (*logs, adv, mask, 0.2, 0.5)


@exercise("04.4", title="the GRPO objective (DeepSeekMath eq. 3)",
          hints=("Build eq. 3 from the inside out: a term per token (your 04.2 and 04.3 help), then an "
                 "average per output, then one over the G outputs.",
                 "Per token, PPO's ratio is exp(logp - old_logp), and each output's single advantage "
                 "applies to all its tokens (broadcast it along the token axis).",
                 "Average only where the mask is True: each output by its own length |o_i| (the mask's row "
                 "sum), then the plain mean over the outputs; padded positions never count."))
def _check_grpo_objective(answer):
    for what, (logp, old, ref, adv, mask, eps, beta) in _objective_cases():
        got = _quiet_call(answer, logp.copy(), old.copy(), ref.copy(), adv.copy(), mask.copy(), eps, beta)
        got = as_array(got, what, ())
        expected = grpo_objective(logp, old, ref, adv, mask, eps=eps, beta=beta)
        if np.isfinite(got) and not np.isclose(got, expected, rtol=1e-9, atol=1e-12):
            # Diagnose the usual slips from the per-token terms (as the library computes them).
            per_token = (clipped_surrogate(np.exp(logp - old), adv[:, None], eps)
                         - beta * kl_k3(logp, ref))
            flipped = grpo_objective(logp, old, ref, adv, mask, eps=eps, beta=0.0) + \
                (grpo_objective(logp, old, ref, adv, mask, eps=eps, beta=0.0) - expected)
            if np.isclose(got, np.sum(np.where(mask, per_token, 0.0)) / mask.sum(), rtol=1e-9):
                raise Wrong(f"{what}: you divided by the number of tokens in the whole group (a token "
                            "mean, as DAPO and TRL's default loss do); eq. 3 weights each output "
                            "equally: 1/|o_i| within an output, then 1/G")
            if np.isclose(got, np.mean(per_token), rtol=1e-9):
                raise Wrong(f"{what}: padding positions were averaged in; only tokens where the mask "
                            "is True count, and |o_i| is the mask's row sum")
            if np.isclose(got, flipped, rtol=1e-9):
                raise Wrong(f"{what}: the KL term has the wrong sign; GRPO maximises the surrogate "
                            "MINUS beta times the penalty")
        close(got, expected, what)
    return "clipped per-token surrogate, -beta k3, 1/|o_i| within outputs and 1/G across them, padding ignored"

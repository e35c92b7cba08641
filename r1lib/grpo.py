"""Group Relative Policy Optimization (DeepSeekMath, arXiv:2402.03300; DeepSeek-R1).

GRPO needs no value network: each prompt gets a group of G sampled outputs, and an output's
advantage is its reward standardised within that group.
"""
from __future__ import annotations

import numbers
from typing import Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from .validation import (describe, broadcast_pair, check_axis, check_option, common_float_dtype, float_array,
                          nonneg_scalar, positive_scalar)
from .kl_estimators import kl_k3

__all__ = ["group_advantages"]


def group_advantages(rewards: ArrayLike, axis: int = -1, ddof: int = 1, eps: float = 1e-6,
                     scale: str = "group") -> np.ndarray:
    r"""Group-relative advantages :math:`A_i = (r_i - \mathrm{mean}(r)) / (\mathrm{std}(r) + \epsilon)`.

    Parameters
    ----------
    rewards : array_like
        Rewards; ``axis`` runs over the G outputs of one prompt, other axes over prompts.
    axis : int, default -1
    ddof : int, default 1
        Degrees of freedom of the standard deviation. TRL and verl use the unbiased ``ddof=1``
        (``torch.std``'s default); NumPy's default is ``ddof=0``. The advantages differ by the
        factor :math:`\sqrt{G/(G-1)}` (up to ``eps``).
    eps : float, default 1e-6
        Added to the standard deviation (verl's default; TRL uses 1e-4).
    scale : {"group", "batch", "none"}, default "group"
        What the centred rewards :math:`r_i - \mathrm{mean}_{group}(r)` are divided by (TRL's
        ``scale_rewards``): ``"group"`` the group's std (GRPO); ``"batch"`` the std of *all* the
        rewards in the array, one number for the batch (:math:`\mathrm{std}(r) + \epsilon`,
        same ``ddof``); ``"none"`` nothing (Dr. GRPO, arXiv:2503.20783: dividing by the group std
        up-weights the questions that are too easy or too hard). The centring is per group in
        all three.

    Returns
    -------
    numpy.ndarray
        Same shape as ``rewards``. A group whose rewards are all equal carries no signal and gets
        advantages of exactly 0 (not NaN, and not rounding noise blown up by a tiny std).
    """
    r = float_array(rewards, "rewards", min_ndim=1)
    ax = check_axis(axis, r.ndim)
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, numbers.Integral) or ddof < 0:
        raise ValueError(f"ddof must be a non-negative integer, got {describe(ddof)}")
    eps = nonneg_scalar(eps, "eps")
    scale = check_option(scale, "scale", ("group", "batch", "none"))
    group = r.shape[ax]
    if ddof >= group and group > 1:
        raise ValueError(f"ddof={ddof} needs groups of more than {ddof} outputs; got G={group}")
    # Rewards near the ends of the float range: a group mean would underflow (subnormal rewards:
    # the mean of [5e-324, 0, ..., 0] is 0) or overflow. Such groups are worked in units of a
    # power of two, eps with them: exact, so every other group gets bit-for-bit the same values.
    shift = _range_shift(r, ax)
    dtype = r.dtype
    rw, eps_w = r, eps
    if shift is not None:
        rw = np.ldexp(r, -shift).astype(dtype, copy=False)
        with np.errstate(over="ignore"):  # eps beyond the range: inf, and A -> 0 as it should
            eps_w = np.ldexp(eps, -shift)
    # Exact test for "all equal": mean/std of [0.1, 0.1, 0.1] are off by rounding, and dividing
    # that noise by a ~1e-17 std would invent advantages of order 1 when eps = 0.
    constant = np.ptp(rw, axis=ax, keepdims=True) == 0
    centered = np.where(constant, 0.0, _centered(rw, ax))
    if scale == "none":
        if shift is not None:  # back to the rewards' own units
            centered = np.ldexp(centered, shift)
        return centered.astype(dtype, copy=False)
    if scale == "batch":
        # One power of two for the whole batch (0 unless the batch itself is extreme); each
        # group's centred rewards move from their own units to it.
        whole = _range_shift(r, None)
        if whole is None and shift is None:
            return _batch_scaled(r, centered, ddof, eps)
        w = 0 if whole is None else whole
        with np.errstate(over="ignore"):
            eps_b = float(np.ldexp(eps, -w).item())
        return _batch_scaled(np.ldexp(r, -w), np.ldexp(centered, (0 if shift is None else shift) - w), ddof,
                             eps_b).astype(dtype, copy=False)
    # Standardise after scaling each group to max |r - mean| = 1: the ratio is unchanged, but the
    # std of tiny (subnormal) or huge rewards no longer underflows to 0 or overflows to inf.
    span = np.where(constant, 1.0, np.max(np.abs(centered), axis=ax, keepdims=True))
    z = centered / span
    std_z = np.std(z, axis=ax, ddof=ddof, keepdims=True) if group > 1 else np.zeros_like(span)
    with np.errstate(over="ignore"):  # eps / tiny span = inf correctly sends A to 0
        denom = np.where(constant, 1.0, std_z + eps_w / span)
    return np.where(constant, 0.0, z / denom).astype(dtype, copy=False)


def _centered(r: np.ndarray, axis: Optional[int]) -> np.ndarray:
    """``r - mean(r)`` along ``axis`` (all of ``r`` for None), centred in two steps so that the
    result sums to zero up to rounding of the *spread*, not of the rewards: rewards that differ in
    their last bits (1.1754943508222875e-38 and its neighbour) lose everything to a plain
    ``r - mean(r)``, whose mean carries a rounding error as large as the spread itself.
    Subtracting one member of the group first is exact for nearby values (Sterbenz's lemma)."""
    first = r.reshape(-1)[:1] if axis is None else np.take(r, [0], axis=axis)
    d = r - first
    return d - np.mean(d, axis=axis, keepdims=axis is not None)


def _range_shift(r: np.ndarray, axis: Optional[int]) -> Optional[np.ndarray]:
    """None when every group's rewards are of ordinary size; else, per group (keepdims), the power
    of two that brings max |r| near 1 for the groups near the ends of the range, 0 for the rest."""
    top = np.max(np.abs(r), axis=axis, keepdims=True)
    margin = 60 if r.dtype == np.float32 else 500  # far from both ends of the dtype's range
    extreme = (top != 0) & ((top <= 2.0 ** -margin) | (top >= 2.0 ** margin))
    if not extreme.any():
        return None
    return np.where(extreme, np.frexp(top)[1], 0)


def _batch_scaled(r: np.ndarray, centered: np.ndarray, ddof: int, eps: float) -> np.ndarray:
    """centered / (std of all rewards + eps), TRL's scale_rewards="batch"."""
    if r.size <= ddof:  # one reward in the whole batch: no spread to divide by (TRL: std 0)
        return np.zeros_like(r)
    spread = _centered(r, None)
    # As for groups: standardise after scaling to max |r - mean| = 1, so that tiny or huge
    # rewards neither underflow nor overflow the std.
    s = float(np.max(np.abs(spread)))
    if s == 0.0:  # every reward equal: every group constant, every advantage already 0
        return np.zeros_like(centered, dtype=r.dtype)
    std_z = float(np.std(spread / s, ddof=ddof))
    with np.errstate(over="ignore"):  # eps / tiny s = inf correctly sends A to 0
        denom = std_z + eps / s
    return (centered / s / denom).astype(r.dtype, copy=False)


# ---------------------------------------------------------------------------------------------
# PPO's clipped surrogate and the GRPO objective (DeepSeekMath eq. 3)
# ---------------------------------------------------------------------------------------------

__all__ += ["clipped_surrogate", "clipped_surrogate_grad", "sequence_mean", "grpo_objective",
            "grpo_objective_grad"]


def check_clip_range(eps: float) -> float:
    """``eps`` checked as a PPO clip range: a float in (0, 1) (the labs' trainers check theirs here too)."""
    eps = positive_scalar(eps, "eps")
    if eps >= 1.0:
        # 1 - eps <= 0 would clip the ratio at a non-positive value: no lower clip at all.
        raise ValueError(f"eps must lie in (0, 1), got {eps!r}")
    return eps


def _ratio_and_advantages(ratio: ArrayLike, advantages: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    rho = float_array(ratio, "ratio")
    if (rho < 0).any():
        raise ValueError(f"ratio is a probability ratio and must be >= 0; got min {float(rho.min())!r}")
    adv = float_array(advantages, "advantages")
    rho, adv = broadcast_pair(rho, adv, "ratio", "advantages")
    dtype = common_float_dtype(rho, adv)
    return rho.astype(dtype, copy=False), adv.astype(dtype, copy=False)


def _surrogate(rho: np.ndarray, adv: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Value and d/d rho of min(rho A, clip(rho) A), written piecewise.

    For A >= 0 the minimum is A * min(rho, 1+eps); for A < 0 it is A * max(rho, 1-eps). The
    piecewise form never multiplies 0 by an overflowed ratio (no NaN), and it makes the
    gradient's rule plain: the slope is A where the ratio has not run past the clip on the side
    that would help the objective, and 0 where it has.
    """
    one = rho.dtype.type(1)
    hi, lo = one + rho.dtype.type(eps), one - rho.dtype.type(eps)
    positive = adv >= 0
    # np.where evaluates both branches; the branch not taken may meet an overflowed ratio.
    with np.errstate(over="ignore", invalid="ignore"):
        value = np.where(positive, adv * np.minimum(rho, hi), adv * np.maximum(rho, lo))
    # At the kink (rho exactly 1 +- eps) the one-sided slope of the unclipped branch is used.
    active = np.where(positive, rho <= hi, rho >= lo)
    slope = np.where(active, adv, adv.dtype.type(0))
    return value, slope


def clipped_surrogate(ratio: ArrayLike, advantages: ArrayLike, eps: float = 0.2) -> np.ndarray:
    r"""PPO's clipped surrogate, elementwise.

    .. math:: L(\rho, A) = \min\bigl(\rho A,\ \mathrm{clip}(\rho, 1-\epsilon, 1+\epsilon)\,A\bigr)

    It equals :math:`A\min(\rho, 1+\epsilon)` for :math:`A \ge 0` and :math:`A\max(\rho, 1-\epsilon)`
    for :math:`A < 0`: a pessimistic bound that stops rewarding a ratio that has already moved
    more than :math:`\epsilon` in the direction the advantage asks for, but keeps penalising a
    move in the wrong direction.

    Parameters
    ----------
    ratio : array_like
        :math:`\rho = \pi_\theta(o_t) / \pi_{\theta_{old}}(o_t)`, finite and ``>= 0``.
    advantages : array_like
        :math:`A`, finite; broadcasts against ``ratio``.
    eps : float, default 0.2
        Clip range, in ``(0, 1)``.

    Returns
    -------
    numpy.ndarray
        Broadcast shape of the inputs (float32 only if both are float32).
    """
    rho, adv = _ratio_and_advantages(ratio, advantages)
    return _surrogate(rho, adv, check_clip_range(eps))[0]


def clipped_surrogate_grad(ratio: ArrayLike, advantages: ArrayLike, eps: float = 0.2) -> np.ndarray:
    r"""Derivative of :func:`clipped_surrogate` with respect to the ratio.

    .. math:: \partial L / \partial \rho = A \cdot \mathbb{1}[\text{not clipped}],

    where "clipped" means :math:`\rho > 1+\epsilon` with :math:`A > 0`, or :math:`\rho < 1-\epsilon`
    with :math:`A < 0`. Inside :math:`[1-\epsilon, 1+\epsilon]` both branches of the minimum agree
    and the slope is :math:`A`. At the kinks the left (for A > 0) or right (for A < 0) derivative,
    i.e. the unclipped one, is returned. Arguments as in :func:`clipped_surrogate`.
    """
    rho, adv = _ratio_and_advantages(ratio, advantages)
    return _surrogate(rho, adv, check_clip_range(eps))[1]


def _token_mask(mask: Optional[ArrayLike], shape: tuple[int, ...]) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    if isinstance(mask, (str, bytes)):
        raise TypeError(f"mask must be an array of booleans or 0/1, got {describe(mask)}")
    m = np.asarray(mask)
    if m.dtype != bool:
        if not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)):
            raise TypeError(f"mask must be an array of booleans or 0/1, got dtype {m.dtype}")
        if not np.isin(m, (0, 1)).all():
            raise ValueError(f"mask must hold only 0 and 1 (or booleans), got {describe(mask)}")
        m = m.astype(bool)
    if m.shape != shape:
        raise ValueError(f"mask has shape {m.shape}, expected the shape of logp {shape}")
    empty = ~m.any(axis=-1)
    if empty.any():
        where = tuple(int(i) for i in np.argwhere(empty)[0])
        raise ValueError(f"output {where} has no tokens (mask sums to 0): |o_i| = 0 and 1/|o_i| "
                         "is undefined; drop empty outputs before computing the objective")
    return m


def _sequence_weights(m: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Per-token weights 1 / (G |o_i|) at real tokens, 0 at padding."""
    lengths = m.sum(axis=-1, keepdims=True)
    group = m.shape[-2]
    return np.where(m, 1.0 / (group * lengths), 0.0).astype(dtype, copy=False)


def sequence_mean(values: ArrayLike, mask: Optional[ArrayLike] = None) -> Union[float, np.ndarray]:
    r"""GRPO's average of per-token values: the mean over outputs of each output's token mean.

    .. math:: \frac{1}{G}\sum_{i=1}^{G} \frac{1}{|o_i|}\sum_{t=1}^{|o_i|} v_{i,t}

    Parameters
    ----------
    values : array_like, shape (..., G, T)
        Per-token values, padded to a common length T. Entries at padding are ignored (they may
        be anything but NaN, including +-inf).
    mask : array_like of bool or 0/1, shape (..., G, T), optional
        True at real tokens; ``|o_i|`` is the row sum. Every output needs at least one token.
        Default: every position is a token.

    Returns
    -------
    float or numpy.ndarray
        A float for 2-D input, else an array of the leading shape (one value per prompt).
    """
    v = float_array(values, "values", allow_neg_inf=True, allow_pos_inf=True, min_ndim=2)
    m = _token_mask(mask, v.shape)
    w = _sequence_weights(m, v.dtype)
    # Padding is zeroed before the product: 0 * inf would be NaN.
    out = np.sum(w * np.where(m, v, 0.0), axis=(-2, -1)).astype(v.dtype, copy=False)
    return float(out) if out.ndim == 0 else out


def _grpo_inputs(logp, old_logp, ref_logp, advantages, mask, eps, beta):
    lp = float_array(logp, "logp", min_ndim=2)
    # A sampled token had positive probability under the policy that drew it: -inf is an error.
    old = float_array(old_logp, "old_logp")
    # -inf under the reference is legitimate: the reference forbids the token, KL is infinite.
    ref = float_array(ref_logp, "ref_logp", allow_neg_inf=True)
    for name, arr in (("logp", lp), ("old_logp", old), ("ref_logp", ref)):
        if arr.shape != lp.shape:
            raise ValueError(f"{name} has shape {arr.shape}, expected the shape of logp {lp.shape} "
                             "(..., G outputs, T tokens)")
        if (arr > 0).any():
            raise ValueError(f"{name} holds log-probabilities, which must be <= 0; got max "
                             f"{float(np.max(arr))!r} (did you pass logits or probabilities?)")
    adv = float_array(advantages, "advantages", min_ndim=1)
    if adv.shape != lp.shape[:-1]:
        raise ValueError(f"advantages has shape {adv.shape}, expected one per output: "
                         f"{lp.shape[:-1]} (logp has shape {lp.shape})")
    m = _token_mask(mask, lp.shape)
    eps = check_clip_range(eps)
    beta = nonneg_scalar(beta, "beta")
    dtype = common_float_dtype(lp, old, ref, adv)
    # Padding is replaced by log-probability 0 everywhere: ratio 1, k3 = 0, no inf or NaN from
    # values that were never meant to be read.
    zero = dtype.type(0)
    lp, old, ref = (np.where(m, a.astype(dtype, copy=False), zero) for a in (lp, old, ref))
    with np.errstate(over="ignore"):  # a ratio beyond the dtype is inf; _surrogate handles it
        rho = np.exp(lp - old)
    adv_tok = np.broadcast_to(adv.astype(dtype, copy=False)[..., None], lp.shape)
    return lp, ref, rho, adv_tok, m, eps, beta, dtype


def grpo_objective(logp: ArrayLike, old_logp: ArrayLike, ref_logp: ArrayLike,
                   advantages: ArrayLike, mask: Optional[ArrayLike] = None, eps: float = 0.2,
                   beta: float = 0.04) -> Union[float, np.ndarray]:
    r"""The GRPO objective of DeepSeekMath (arXiv:2402.03300) eq. 3, for one group per prompt.

    .. math::

        J = \frac{1}{G}\sum_{i=1}^{G}\frac{1}{|o_i|}\sum_{t=1}^{|o_i|}
            \Bigl\{\min\bigl(\rho_{i,t} A_i,\ \mathrm{clip}(\rho_{i,t}, 1-\epsilon, 1+\epsilon) A_i\bigr)
            - \beta\, k_3(i,t)\Bigr\}

    with :math:`\rho_{i,t} = \pi_\theta(o_{i,t}) / \pi_{\theta_{old}}(o_{i,t})` and
    :math:`k_3 = r - \log r - 1`, :math:`r = \pi_{ref}(o_{i,t}) / \pi_\theta(o_{i,t})` (the current
    policy in the denominator; see :func:`r1lib.kl_k3`). GRPO *maximises* J; a training loss is
    ``-J``.

    Parameters
    ----------
    logp, old_logp, ref_logp : array_like, shape (..., G, T)
        Per-token log-probabilities of the sampled tokens under the current policy, the policy
        that sampled them and the frozen reference. All ``<= 0``; ``logp`` and ``old_logp``
        finite at every position (padding included: fill it with 0); ``ref_logp`` may be
        ``-inf`` (a token the reference forbids: the objective is then ``-inf`` if ``beta > 0``).
    advantages : array_like, shape (..., G)
        One advantage per output (outcome supervision), e.g. :func:`group_advantages`.
    mask : array_like of bool or 0/1, shape (..., G, T), optional
        True at real tokens, False at padding. ``|o_i|`` is the row sum and must be >= 1.
        Default: no padding.
    eps : float, default 0.2
        Clip range, in ``(0, 1)``.
    beta : float, default 0.04
        KL coefficient, ``>= 0`` (DeepSeekMath used 0.04).

    Returns
    -------
    float or numpy.ndarray
        A float for 2-D input, else one value per leading index (per prompt).
    """
    lp, ref, rho, adv, m, eps, beta, dtype = _grpo_inputs(logp, old_logp, ref_logp, advantages,
                                                          mask, eps, beta)
    surrogate, _ = _surrogate(rho, adv, eps)
    per_token = surrogate
    if beta > 0:  # beta = 0 must not meet an infinite k3 (0 * inf = NaN)
        per_token = surrogate - dtype.type(beta) * kl_k3(lp, ref)
    out = np.sum(_sequence_weights(m, dtype) * np.where(m, per_token, 0.0),
                 axis=(-2, -1)).astype(dtype, copy=False)
    return float(out) if out.ndim == 0 else out


def grpo_objective_grad(logp: ArrayLike, old_logp: ArrayLike, ref_logp: ArrayLike,
                        advantages: ArrayLike, mask: Optional[ArrayLike] = None, eps: float = 0.2,
                        beta: float = 0.04) -> np.ndarray:
    r"""Gradient of :func:`grpo_objective` with respect to ``logp`` (per token).

    .. math::

        \frac{\partial J}{\partial \log\pi_\theta(o_{i,t})} = \frac{1}{G|o_i|}
        \Bigl\{\rho_{i,t} A_i\,\mathbb{1}[\text{not clipped}] - \beta\,(1 - r_{i,t})\Bigr\}

    because :math:`\partial\rho/\partial\log\pi_\theta = \rho` and
    :math:`\partial k_3/\partial\log\pi_\theta = 1 - r`. Chain it with
    :math:`\partial\log\pi_\theta(o_t)/\partial z = e_{o_t} - \mathrm{softmax}(z)` to reach the logits.
    On-policy (``logp == old_logp``) the first term is the REINFORCE term :math:`A_i/(G|o_i|)`.
    Arguments as in :func:`grpo_objective`.

    Returns
    -------
    numpy.ndarray
        Same shape as ``logp``; exactly 0 at padding.
    """
    lp, ref, rho, adv, m, eps, beta, dtype = _grpo_inputs(logp, old_logp, ref_logp, advantages,
                                                          mask, eps, beta)
    _, slope = _surrogate(rho, adv, eps)
    # slope is 0 wherever the clip is active, so an overflowed rho there never meets it (the
    # discarded branch of np.where may compute inf * 0).
    with np.errstate(over="ignore", invalid="ignore"):
        per_token = np.where(slope != 0, rho * slope, 0.0)
    if beta > 0:
        # r = pi_ref / pi_theta overflows only for log-ratios beyond the dtype, like k3 itself.
        with np.errstate(over="ignore"):
            r = np.exp(ref - lp)
        per_token = per_token - dtype.type(beta) * (1 - r)
    return np.where(m, _sequence_weights(m, dtype) * per_token, 0.0).astype(dtype, copy=False)

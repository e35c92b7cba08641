r"""Pass@k as the training objective: the analytical pass@k advantage of Chen et al. (2025).

Z. Chen et al., *Pass@k Training for Adaptively Balancing Exploration and Exploitation of Large
Reasoning Models*, arXiv:2508.10751 (v1, 2025), "Pass@k Training with Analytical Derivation"; the
authors' repository (RUCAIBox/Passk_Training, README and ``code/passk_adv.py``) gives the same
formulas. Group-relative RL with binary
rewards optimises pass@1; Chen et al. reward a *set* of :math:`k` responses with its best reward
(pass@k) and give each response the mean advantage of the :math:`k`-subsets of its group that
contain it. Over all :math:`\binom{N}{k}` subsets of a group of :math:`N` responses, :math:`c` of
them correct and :math:`N_{neg} = N - c` wrong, this has a closed form:

.. math::

    \bar R = 1 - \frac{\binom{N_{neg}}{k}}{\binom{N}{k}}, \qquad
    \sigma = \sqrt{\bar R\,(1 - \bar R)},

    \hat A_{pos} = \frac{1 - \bar R}{\sigma}, \qquad
    \hat A_{neg} = \Bigl(1 - \bar R - \frac{\binom{N_{neg} - 1}{k - 1}}{\binom{N - 1}{k - 1}}\Bigr)
                   \frac{1}{\sigma}.

:math:`\bar R` is the mean subset reward, which is the unbiased pass@k estimator of Chen et al.
(2021) (:func:`r1lib.pass_at_k`), and :math:`\sigma` its standard deviation over the subsets
(a subset's reward is 0 or 1). A correct response makes every subset containing it a success; a
wrong one is in a failed subset exactly when the other :math:`k - 1` are wrong too.

Two facts the tests check and the notebook uses. With :math:`q = \binom{N_{neg}-1}{k-1} /
\binom{N-1}{k-1}` one has :math:`1 - \bar R = (N_{neg}/N)\,q`, so

.. math:: \hat A_{pos} = \frac{N_{neg}}{N}\,\frac{q}{\sigma}, \qquad
          \hat A_{neg} = -\frac{c}{N}\,\frac{q}{\sigma}:

within a group the pass@k advantage is GRPO's (``ddof=0``) times one positive factor
:math:`w(c) = q\,\sigma_1/\sigma` (:math:`\sigma_1 = \sqrt{\hat p(1-\hat p)}`, :math:`\hat p =
c/N`): pass@k training *reweights the groups*, most weight on groups with few successes, none on
groups where every :math:`k`-subset already succeeds (:math:`N_{neg} < k`). At :math:`k = 1` it
is GRPO's advantage with the population std. The advantages of a group sum to zero.
"""
from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from .validation import check_axis, describe, float_array

__all__ = ["passk_advantages"]


def _ratio_of_binomials(m: np.ndarray, n: int, k: int) -> np.ndarray:
    """C(m, k) / C(n, k) for integer arrays ``0 <= m <= n`` and ``0 <= k <= n``, as the product
    prod_{j<k} (m - j) / (n - j), which is 0 as soon as m < k (never a float binomial)."""
    j = np.arange(k, dtype=np.float64)
    terms = np.maximum(m[..., None].astype(np.float64) - j, 0.0) / (n - j)
    return np.prod(terms, axis=-1)


def passk_advantages(rewards: ArrayLike, k: int, axis: int = -1) -> np.ndarray:
    r"""Chen et al.'s analytical pass@k advantage for each response of each group.

    .. math:: \hat A_{pos} = \frac{1 - \bar R}{\sigma},\quad
              \hat A_{neg} = \frac{1 - \bar R - \binom{N_{neg}-1}{k-1}/\binom{N-1}{k-1}}{\sigma},
              \quad \bar R = 1 - \binom{N_{neg}}{k}\Big/\binom{N}{k},\quad
              \sigma = \sqrt{\bar R(1 - \bar R)}

    (arXiv:2508.10751, "Pass@k Training with Analytical Derivation"): the mean, over the
    k-subsets of the group that contain a response, of the subset's standardised pass@k reward.

    Parameters
    ----------
    rewards : array_like of 0/1 (or bool)
        Binary rewards (correct = 1); ``axis`` runs over the :math:`N` responses of one prompt,
        other axes over prompts.
    k : int
        The k of the pass@k objective, ``1 <= k <= N``. ``k = 1`` gives GRPO's advantage with the
        population std (``group_advantages(rewards, ddof=0, eps=0)``).
    axis : int, default -1

    Returns
    -------
    numpy.ndarray
        Same shape as ``rewards``. A group in which every k-subset has the same reward (all
        responses wrong, or fewer than k wrong) has :math:`\sigma = 0` and gets advantages of
        exactly 0, tested exactly on the counts (no eps, no NaN).
    """
    if isinstance(rewards, np.ndarray) and rewards.dtype == bool:
        rewards = rewards.astype(np.float64)    # True = correct
    r = float_array(rewards, "rewards", min_ndim=1)
    if not np.all((r == 0) | (r == 1)):
        bad = r[(r != 0) & (r != 1)].flat[0]
        raise ValueError(f"rewards must be binary (0 or 1): pass@k needs a success/failure verdict "
                         f"per response, got the value {float(bad):g} in {describe(rewards)}")
    ax = check_axis(axis, r.ndim)
    n = r.shape[ax]
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer with 1 <= k <= N = {n} (the group size), got "
                         f"{describe(k)}")
    k = int(k)
    moved = np.moveaxis(r, ax, -1)
    c = moved.sum(axis=-1).astype(np.int64)       # correct responses per group
    neg = n - c
    fail_all = _ratio_of_binomials(neg, n, k)                      # C(N_neg, k) / C(N, k) = 1 - R
    # q = C(N_neg - 1, k - 1) / C(N - 1, k - 1): the share of a wrong response's subsets that fail.
    q = _ratio_of_binomials(np.maximum(neg - 1, 0), n - 1, k - 1)
    degenerate = (c == 0) | (neg < k)                              # every subset alike: sigma = 0
    sigma = np.sqrt(np.where(degenerate, 1.0, fail_all * (1.0 - fail_all)))
    # 1 - R - q = (N_neg/N) q - q = -(c/N) q: written so, nothing cancels.
    a_pos = np.where(degenerate, 0.0, fail_all / sigma)
    a_neg = np.where(degenerate, 0.0, -(c / n) * q / sigma)
    out = np.where(moved == 1, a_pos[..., None], a_neg[..., None])
    return np.moveaxis(out, -1, ax).astype(r.dtype, copy=False)

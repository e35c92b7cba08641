"""Group Relative Policy Optimization (DeepSeekMath, arXiv:2402.03300; DeepSeek-R1).

GRPO needs no value network: each prompt gets a group of G sampled outputs, and an output's
advantage is its reward standardised within that group.
"""
from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike

from ._validation import _describe, check_axis, float_array, nonneg_scalar

__all__ = ["group_advantages"]


def group_advantages(rewards: ArrayLike, axis: int = -1, ddof: int = 1, eps: float = 1e-6) -> np.ndarray:
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

    Returns
    -------
    numpy.ndarray
        Same shape as ``rewards``. A group whose rewards are all equal carries no signal and gets
        advantages of exactly 0 (not NaN, and not rounding noise blown up by a tiny std).
    """
    r = float_array(rewards, "rewards", min_ndim=1)
    ax = check_axis(axis, r.ndim)
    if isinstance(ddof, (bool, np.bool_)) or not isinstance(ddof, numbers.Integral) or ddof < 0:
        raise ValueError(f"ddof must be a non-negative integer, got {_describe(ddof)}")
    eps = nonneg_scalar(eps, "eps")
    group = r.shape[ax]
    if ddof >= group and group > 1:
        raise ValueError(f"ddof={ddof} needs groups of more than {ddof} outputs; got G={group}")
    # Exact test for "all equal": mean/std of [0.1, 0.1, 0.1] are off by rounding, and dividing
    # that noise by a ~1e-17 std would invent advantages of order 1 when eps = 0.
    constant = np.ptp(r, axis=ax, keepdims=True) == 0
    mean = np.mean(r, axis=ax, keepdims=True)
    if group > 1:
        std = np.std(r, axis=ax, ddof=ddof, keepdims=True)
    else:
        std = np.zeros_like(mean)
    denom = np.where(constant, 1.0, std + eps)
    return np.where(constant, 0.0, (r - mean) / denom).astype(r.dtype, copy=False)

r"""Per-sample estimators of KL(pi_theta || pi_ref), as in GRPO (Schulman, "Approximating KL
Divergence", 2020).

For samples :math:`o \sim \pi_\theta` and the ratio :math:`r = \pi_{ref}(o)/\pi_\theta(o)`,

* ``k1 = -log r``: unbiased, high variance, can be negative;
* ``k2 = (log r)^2 / 2``: biased (its mean is the KL only to second order), low variance;
* ``k3 = (r - 1) - log r``: unbiased (because ``E[r] = 1`` under ``pi_theta``), always ``>= 0``.

"Unbiased" holds for KL(pi_theta || pi_ref) *and only when o is drawn from pi_theta*. All three
work from log-probabilities (``log r = ref_logp - logp``); a sequence's probability underflows long
before its log-probability does.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .validation import broadcast_pair, common_float_dtype, float_array

__all__ = ["kl_k1", "kl_k2", "kl_k3"]


def _log_ratio(logp: ArrayLike, ref_logp: ArrayLike) -> np.ndarray:
    # logp = -inf would mean the sample was impossible under the policy that drew it.
    lp = float_array(logp, "logp")
    # ref_logp = -inf is legitimate: the reference forbids the sample, and the KL is infinite.
    rl = float_array(ref_logp, "ref_logp", allow_neg_inf=True)
    for name, arr in (("logp", lp), ("ref_logp", rl)):
        if (arr > 0).any():
            raise ValueError(f"{name} holds log-probabilities, which must be <= 0; got max "
                             f"{float(np.max(arr))!r} (did you pass logits or probabilities?)")
    lp, rl = broadcast_pair(lp, rl, "logp", "ref_logp")
    dtype = common_float_dtype(lp, rl)
    return rl.astype(dtype, copy=False) - lp.astype(dtype, copy=False)


def kl_k1(logp: ArrayLike, ref_logp: ArrayLike) -> np.ndarray:
    r"""``k1 = -log r = logp - ref_logp``: unbiased for KL(pi_theta||pi_ref) when o ~ pi_theta.

    Parameters
    ----------
    logp : array_like
        :math:`\log \pi_\theta(o)` of samples drawn from :math:`\pi_\theta` (finite, ``<= 0``).
    ref_logp : array_like
        :math:`\log \pi_{ref}(o)` of the same samples (``<= 0``; ``-inf`` allowed). Broadcasts.

    Returns
    -------
    numpy.ndarray
        Elementwise estimates (float32 if both inputs are float32).
    """
    return -_log_ratio(logp, ref_logp)


def kl_k2(logp: ArrayLike, ref_logp: ArrayLike) -> np.ndarray:
    r"""``k2 = (log r)^2 / 2``: biased but low-variance; its expectation is an f-divergence that
    matches KL(pi_theta||pi_ref) to second order in ``log r``. Arguments as in :func:`kl_k1`."""
    lr = _log_ratio(logp, ref_logp)
    return 0.5 * lr * lr


def kl_k3(logp: ArrayLike, ref_logp: ArrayLike) -> np.ndarray:
    r"""``k3 = r - log r - 1`` with ``r = exp(ref_logp - logp)``: GRPO's KL term.

    Unbiased for KL(pi_theta||pi_ref) when o ~ pi_theta (since ``E[r - 1] = 0``) and ``>= 0``
    for every sample (``x - 1 - log x >= 0``). Same formula as TRL's
    ``exp(ref - logp) - (ref - logp) - 1``; evaluated as ``expm1(log r) - log r`` so that nearly
    equal policies keep their small value instead of losing it to cancellation. A ratio too large
    for the dtype gives ``+inf`` (verl's "low_var_kl" clamps ``log r`` to [-20, 20] and the
    result to [-10, 10] to avoid that; this function does not clamp).
    Arguments as in :func:`kl_k1`.
    """
    # Speed: same-shape float arrays go through a blockwise kernel (same formula, checks fused
    # into the pass while each block is in cache); anything else, and every invalid input,
    # returns None there and takes the plain path below, which validates and raises.
    from .kernels import kl_k3_blocks

    fast = kl_k3_blocks(logp, ref_logp)
    if fast is not None:
        return fast
    lr = _log_ratio(logp, ref_logp)
    with np.errstate(over="ignore"):  # r overflows only when the true value is beyond the dtype
        out = np.expm1(lr) - lr
    return np.maximum(out, 0.0)

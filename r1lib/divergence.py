"""KL divergence between probability vectors, and between temperature-softmaxed logits.

Nothing here clips probabilities: clipping ``p`` to ``[1e-12, 1]`` before the log silently caps
the divergence at about 27.6 nats. Zero-probability terms follow the conventions
``0 log(0/q) = 0`` and ``p log(p/0) = +inf``.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .validation import broadcast_pair, check_axis, common_float_dtype, float_array
from .softmax import log_softmax

__all__ = ["kl_divergence", "kl_from_logits", "generalized_jsd"]


def _probabilities(value: ArrayLike, name: str, axis: int) -> np.ndarray:
    p = float_array(value, name, min_ndim=1)
    if (p < 0).any():
        raise ValueError(f"{name} has negative entries (min {p.min()!r}); probabilities must be >= 0")
    ax = check_axis(axis, p.ndim)
    total = np.sum(p, axis=ax, dtype=np.float64)
    tol = 1e-4 if p.dtype == np.float32 else 1e-8
    bad = np.abs(total - 1.0) > tol * max(1, p.shape[ax]) ** 0.5
    if bad.any():
        raise ValueError(f"{name} must sum to 1 along axis {axis}; found a sum of "
                         f"{float(np.ravel(total)[np.argmax(np.ravel(bad))])!r}")
    return p


def kl_divergence(p: ArrayLike, q: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""Kullback-Leibler divergence :math:`KL(p\|q) = \sum_i p_i \log(p_i/q_i)` in nats.

    Parameters
    ----------
    p, q : array_like
        Probability vectors along ``axis`` (non-negative, summing to 1); other axes broadcast.
    axis : int, default -1

    Returns
    -------
    numpy.ndarray
        The divergence with ``axis`` removed; ``>= 0``, ``0`` exactly when ``p == q``, ``+inf`` when
        ``p_i > 0`` where ``q_i = 0``. Not symmetric: ``KL(p||q) != KL(q||p)`` in general.
    """
    p_arr = _probabilities(p, "p", axis)
    q_arr = _probabilities(q, "q", axis)
    if p_arr.ndim != q_arr.ndim:
        raise ValueError(f"shapes of p {p_arr.shape} and q {q_arr.shape} do not match")
    ax = check_axis(axis, p_arr.ndim)
    p_arr, q_arr = broadcast_pair(p_arr, q_arr, "p", "q")
    dtype = common_float_dtype(p_arr, q_arr)
    p_arr, q_arr = p_arr.astype(dtype, copy=False), q_arr.astype(dtype, copy=False)
    support = p_arr > 0
    log_p = np.log(p_arr, out=np.zeros_like(p_arr), where=support)
    with np.errstate(divide="ignore"):  # log 0 = -inf is the intended value: it makes KL infinite
        log_q = np.log(q_arr, out=np.zeros_like(q_arr), where=support)
    terms = np.multiply(p_arr, log_p - log_q, out=np.zeros_like(p_arr), where=support)
    # Gibbs' inequality makes KL >= 0; a tiny negative sum is rounding only.
    return np.maximum(np.sum(terms, axis=ax), 0.0)


def kl_from_logits(p_logits: ArrayLike, q_logits: ArrayLike, temperature: float = 1.0,
                   axis: int = -1) -> np.ndarray:
    r"""``KL(softmax(p_logits/T) || softmax(q_logits/T))`` computed from log-probabilities.

    .. math:: KL = \sum_i p_i\,[(a_i - b_i) - (\mathrm{lse}(a) - \mathrm{lse}(b))],
              \quad a = z_p/T,\; b = z_q/T

    Written as differences of logits so that nearly equal distributions do not lose their small
    divergence to cancellation between two large log-probabilities. ``-inf`` logits are masks: a
    class masked in ``p`` contributes 0, one masked only in ``q`` makes the divergence ``+inf``.
    A class whose ``p`` probability underflows to 0 in the dtype (``e^-749`` in float64) counts as
    masked in ``p``, as it would after converting to probabilities.
    """
    # Speed: for float32/float64 arrays a blockwise kernel computes this same formula in cache
    # (~5x faster and no full-size temporaries on a (32, 152064) batch); it returns None for any
    # other or invalid input, which then takes the plain path below (it validates and raises).
    from .kernels import kl_from_logits_rows

    fast = kl_from_logits_rows(p_logits, q_logits, temperature, axis)
    if fast is not None:
        return fast
    logp = log_softmax(p_logits, temperature, axis)
    logq = log_softmax(q_logits, temperature, axis)
    if logp.shape != logq.shape:
        raise ValueError(f"shapes of the logits {np.shape(p_logits)} and {np.shape(q_logits)} differ")
    ax = check_axis(axis, logp.ndim)
    dtype = common_float_dtype(logp, logq)
    logp, logq = logp.astype(dtype, copy=False), logq.astype(dtype, copy=False)
    p = np.exp(logp)
    support = p > 0
    diff = np.subtract(logp, logq, out=np.zeros_like(logp), where=support)
    terms = np.multiply(p, diff, out=np.zeros_like(p), where=support)
    return np.maximum(np.sum(terms, axis=ax), 0.0)


def generalized_jsd(p: ArrayLike, q: ArrayLike, beta: float = 0.5, axis: int = -1) -> np.ndarray:
    r"""Generalized Jensen-Shannon divergence of GKD (Agarwal et al. 2023).

    .. math:: JSD_\beta(p\|q) = \beta\,KL(p\|m) + (1-\beta)\,KL(q\|m), \quad m = \beta p + (1-\beta) q

    ``beta`` in ``[0, 1]``; both endpoints give 0 (use :func:`kl_divergence` for the limiting
    forward/reverse KL behaviour, which GKD recovers after rescaling by ``beta``). Always finite.
    """
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.floating, np.integer)):
        raise TypeError(f"beta must be a real number in [0, 1], got {beta!r}")
    beta = float(beta)
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta!r}")
    p_arr = _probabilities(p, "p", axis)
    q_arr = _probabilities(q, "q", axis)
    p_arr, q_arr = broadcast_pair(p_arr, q_arr, "p", "q")
    m = beta * p_arr + (1.0 - beta) * q_arr
    m = m / np.sum(m, axis=axis, keepdims=True)
    # At beta = 0 (or 1) m equals q (or p), and KL(p||m) may be infinite; 0 * inf would be NaN.
    out = np.zeros(np.delete(p_arr.shape, check_axis(axis, p_arr.ndim)), dtype=np.float64)
    if beta > 0.0:
        out = out + beta * kl_divergence(p_arr, m, axis)
    if beta < 1.0:
        out = out + (1.0 - beta) * kl_divergence(q_arr, m, axis)
    return out

"""Temperature softmax, log-softmax and entropy, computed in log space.

``log_softmax(z, T)_i = z_i/T - logsumexp(z/T)``, evaluated with the row maximum subtracted first
so that huge logits (1e4) do not overflow, and ``-inf`` logits (masked classes) give probability
exactly 0 without NaN or warnings.
"""
from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .validation import check_axis, float_array, positive_scalar

__all__ = ["softmax", "log_softmax", "entropy"]


def _scaled_logits(logits: ArrayLike, temperature: float, axis: int, name: str = "logits"):
    z = float_array(logits, name, allow_neg_inf=True, min_ndim=1)
    t = positive_scalar(temperature, "temperature")
    ax = check_axis(axis, z.ndim)
    # Dividing in the input's own dtype keeps float32 float32. A temperature below the dtype's
    # range (float32 T = 1e-50 rounds to 0) overflows or divides by zero: caught just below.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        scaled = z / z.dtype.type(t)
    if np.isnan(scaled).any() or np.isposinf(scaled).any():
        finite = z[np.isfinite(z)]
        raise ValueError(f"{name} / temperature overflows {z.dtype}: max |logit| "
                         f"{float(np.max(np.abs(finite))) if finite.size else 0.0!r}, temperature {t!r}")
    z = scaled
    zmax = np.max(z, axis=ax, keepdims=True)
    if np.isneginf(zmax).any():
        raise ValueError(f"{name}: every entry along axis {axis} is -inf in at least one row, "
                         "so no distribution is defined")
    return z, zmax, ax


def log_softmax(logits: ArrayLike, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Log of the temperature softmax.

    .. math:: \log p_i = z_i/T - \log\sum_j e^{z_j/T}

    Parameters
    ----------
    logits : array_like
        Real logits; ``-inf`` marks a masked class (probability 0). NaN and ``+inf`` are rejected.
    temperature : float, default 1.0
        ``T > 0``. Large ``T`` flattens the distribution towards uniform, small ``T`` sharpens it
        towards one-hot on the arg-max.
    axis : int, default -1
        The class axis; the function is vectorised over all other axes.

    Returns
    -------
    numpy.ndarray
        Same shape as ``logits``; float32 for float32 input, float64 otherwise.
    """
    z, zmax, ax = _scaled_logits(logits, temperature, axis)
    shifted = z - zmax  # <= 0 everywhere, exactly 0 at the max: exp cannot overflow
    lse = np.log(np.sum(np.exp(shifted), axis=ax, keepdims=True))
    return shifted - lse


def softmax(logits: ArrayLike, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Temperature softmax :math:`p_i = e^{z_i/T} / \sum_j e^{z_j/T}`.

    Parameters and dtype rules as in :func:`log_softmax`; rows sum to 1 and masked (``-inf``)
    classes get exactly 0.
    """
    z, zmax, ax = _scaled_logits(logits, temperature, axis)
    e = np.exp(z - zmax)
    return e / np.sum(e, axis=ax, keepdims=True)


def entropy(logits: ArrayLike, temperature: float = 1.0, axis: int = -1) -> np.ndarray:
    r"""Shannon entropy (nats) of ``softmax(logits / T)``.

    .. math:: H(p) = -\sum_i p_i \log p_i, \qquad 0 \log 0 = 0

    Ranges from 0 (one-hot, ``T -> 0``) to ``log K`` (uniform over the ``K`` unmasked classes,
    ``T -> inf``). Returns an array with the class axis removed (a 0-d array for 1-D input).
    """
    logp = log_softmax(logits, temperature, axis)
    ax = check_axis(axis, logp.ndim)
    p = np.exp(logp)
    # 0 * (-inf) would be NaN: masked classes contribute exactly 0.
    terms = np.multiply(p, logp, out=np.zeros_like(p), where=p > 0)
    return np.maximum(-np.sum(terms, axis=ax), 0.0)

r"""Standard errors for evaluation scores when each question is sampled several times.

DeepSeek-R1 reports pass@1 as the mean correctness of ``k`` samples per question (temperature
0.6). The samples of one question are not independent draws from the benchmark: they share the
question's difficulty. Following Miller (2024, "Adding Error Bars to Evals", arXiv:2411.00640),
treat the ``P`` questions as drawn from a super-population of questions and each question's ``k``
samples as a cluster. With per-question mean scores :math:`\bar s_i` (for pass@1, :math:`c_i/n_i`),

.. math:: \widehat{\mathrm{pass@1}} = \frac1P\sum_i \bar s_i, \qquad
          \mathrm{SE} = \frac{\operatorname{sd}(\bar s_1, \dots, \bar s_P)}{\sqrt P},

where ``sd`` is the sample standard deviation (``ddof=1``). By the law of total variance,
:math:`\operatorname{Var}(\bar s_i) = \operatorname{Var}(x) + \mathbb E[\sigma_i^2]/k` with
:math:`x_i` the question's true success rate and :math:`\sigma_i^2 = x_i(1-x_i)`: more samples shrink
only the second term. The naive binomial formula :math:`\sqrt{\hat p(1-\hat p)/(Pk)}` treats all
``P k`` samples as independent; it misses the ``(1 - 1/k) Var(x) / P`` part and underestimates
the error bar more the more samples per question there are.

Every function is vectorised: the question axis is ``axis`` (default last) and leading axes are
batch axes (for example many simulated replications at once).
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, NamedTuple, Union

import numpy as np
from numpy.typing import ArrayLike

from .validation import describe, check_axis, float_array, int_array

__all__ = ["Estimate", "mean_with_se", "pass_at_1", "naive_se", "clustered_se",
           "paired_difference", "unpaired_difference"]

FloatOrArray = Union[float, np.ndarray]


class Estimate(NamedTuple):
    """A point estimate and its standard error (floats, or arrays for batched input)."""

    value: FloatOrArray
    se: FloatOrArray

    def interval(self, level: float = 0.95) -> tuple[FloatOrArray, FloatOrArray]:
        """Normal-approximation confidence interval ``value -/+ z * se`` (z = 1.96 for 95 %)."""
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
            raise ValueError(f"level must be a number in (0, 1), got {describe(level)}")
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        return self.value - z * self.se, self.value + z * self.se


def _scalar_or_array(x: np.ndarray) -> FloatOrArray:
    return float(x) if np.ndim(x) == 0 else x


def _question_axis(values: np.ndarray, axis: Any, name: str) -> int:
    ax = check_axis(axis, values.ndim)
    if values.shape[ax] < 2:
        raise ValueError(f"{name} needs at least 2 questions along axis {axis} to estimate a "
                         f"standard error, got {values.shape[ax]}")
    return ax


def mean_with_se(values: ArrayLike, axis: int = -1) -> Estimate:
    r"""Mean of per-question values and its standard error :math:`\operatorname{sd}/\sqrt P`.

    .. math:: \bar v = \frac1P\sum_{i=1}^P v_i, \qquad
              \mathrm{SE} = \sqrt{\frac{1}{P(P-1)}\sum_{i=1}^P (v_i-\bar v)^2}

    Use it for any per-question score that is already averaged within the question: pass@1 from
    ``c_i / n_i``, per-question unbiased pass@k or maj@k. This is the clustered standard error
    with one cluster per question.

    Parameters
    ----------
    values : array_like
        Finite per-question scores; ``axis`` indexes questions (at least 2).
    axis : int, default -1
        The question axis; other axes are batch axes.

    Returns
    -------
    Estimate
        ``(value, se)``, floats for 1-D input, arrays of the batch shape otherwise.
    """
    v = float_array(values, "values", min_ndim=1)
    ax = _question_axis(v, axis, "values")
    size = v.shape[ax]
    mean = v.mean(axis=ax)
    se = v.std(axis=ax, ddof=1) / math.sqrt(size)
    return Estimate(_scalar_or_array(mean), _scalar_or_array(se))


def _counts(n: ArrayLike, c: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    n_arr, c_arr = int_array(n, "n"), int_array(c, "c")
    try:
        n_b, c_b = np.broadcast_arrays(n_arr, c_arr)
    except ValueError:
        raise ValueError(f"shapes of n {n_arr.shape} and c {c_arr.shape} do not broadcast") from None
    if c_b.ndim == 0:
        raise ValueError("c must hold one count per question (at least 1-D), got a scalar")
    if (n_b < 1).any():
        raise ValueError(f"n must be >= 1 samples per question, got n={n_b.ravel()[np.argmax(n_b.ravel() < 1)]}")
    bad = (c_b < 0) | (c_b > n_b)
    if bad.any():
        i = np.argmax(bad.ravel())
        raise ValueError(f"counts need 0 <= c <= n; got c={c_b.ravel()[i]} with n={n_b.ravel()[i]}")
    return n_b, c_b


def pass_at_1(n: ArrayLike, c: ArrayLike, axis: int = -1) -> Estimate:
    r"""pass@1 as DeepSeek-R1 reports it, with the clustered (per-question) standard error.

    .. math:: \mathrm{pass@1} = \frac1P\sum_i \frac{c_i}{n_i}, \qquad
              \mathrm{SE} = \operatorname{sd}\!\left(\frac{c_i}{n_i}\right)\Big/\sqrt P

    Parameters
    ----------
    n : int or array_like of int
        Samples per question (``>= 1``), broadcast against ``c``.
    c : array_like of int
        Correct samples per question, ``0 <= c <= n``; ``axis`` indexes the questions.
    axis : int, default -1

    Returns
    -------
    Estimate
    """
    n_b, c_b = _counts(n, c)
    return mean_with_se(c_b / n_b, axis=axis)


def naive_se(n: ArrayLike, c: ArrayLike, axis: int = -1) -> FloatOrArray:
    r"""The naive binomial standard error that treats every sample as an independent question.

    .. math:: \hat p = \frac{\sum_i c_i}{\sum_i n_i}, \qquad
              \mathrm{SE}_{\text{naive}} = \sqrt{\frac{\hat p(1-\hat p)}{\sum_i n_i}}

    Shown for comparison: with several samples per question it is too small (see the module
    docstring). With one sample per question it agrees with :func:`pass_at_1`'s SE up to the
    factor :math:`\sqrt{(P-1)/P}`.
    """
    n_b, c_b = _counts(n, c)
    ax = check_axis(axis, c_b.ndim)
    total = n_b.sum(axis=ax)
    p = c_b.sum(axis=ax) / total
    return _scalar_or_array(np.sqrt(p * (1.0 - p) / total))


def clustered_se(scores: ArrayLike, clusters: ArrayLike) -> float:
    r"""Miller's (2024) clustered standard error of the mean of sample-level scores.

    .. math:: \mathrm{SE}_C = \sqrt{\mathrm{SE}_{\text{CLT}}^2 + \frac{1}{N^2}\sum_c\sum_{i\in c}
              \sum_{j\in c,\, j\ne i}(s_i-\bar s)(s_j-\bar s)}, \qquad
              \mathrm{SE}_{\text{CLT}}^2 = \frac{1}{N(N-1)}\sum_i (s_i-\bar s)^2

    The double sum is evaluated as :math:`\sum_c \bigl[(\sum_{i\in c} d_i)^2 - \sum_{i\in c}
    d_i^2\bigr]` with :math:`d_i = s_i - \bar s`, in ``O(N)``. Clusters are whatever makes scores
    dependent: the samples of one question, or several questions about one passage. With one
    cluster per question of ``k`` samples it is :func:`mean_with_se` of the question means up to
    terms of relative size ``1/P``.

    Parameters
    ----------
    scores : array_like, 1-D
        One finite score per sample (0/1 correctness or partial credit), ``N >= 2``.
    clusters : array_like, 1-D
        A label per sample (any hashable values numpy can sort: ints or strings).

    Returns
    -------
    float
    """
    s = float_array(scores, "scores", min_ndim=1)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D (one score per sample), got shape {s.shape}")
    if s.size < 2:
        raise ValueError(f"scores needs at least 2 samples, got {s.size}")
    if isinstance(clusters, (str, bytes)) or clusters is None:
        raise TypeError(f"clusters must be a 1-D array of labels, got {describe(clusters)}")
    labels = np.asarray(clusters)
    if labels.shape != s.shape:
        raise ValueError(f"clusters must have one label per score: shape {labels.shape} "
                         f"vs scores {s.shape}")
    _, index = np.unique(labels, return_inverse=True)
    d = s - s.mean()
    size = s.size
    se_clt2 = float(np.sum(d * d)) / (size * (size - 1))
    cluster_sum = np.bincount(index.ravel(), weights=d)
    cross = float(np.sum(cluster_sum ** 2) - np.sum(d * d)) / size ** 2
    # Strong negative within-cluster correlation can push the sum below 0 by rounding only when
    # the true value is ~0; never return NaN.
    return math.sqrt(max(se_clt2 + cross, 0.0))


def paired_difference(values_a: ArrayLike, values_b: ArrayLike, axis: int = -1) -> Estimate:
    r"""Mean difference of two models on the *same* questions, with the paired standard error.

    .. math:: d_i = a_i - b_i, \qquad \bar d \pm \operatorname{sd}(d)/\sqrt P

    Because both models meet the same easy and hard questions, the difficulty cancels in
    :math:`d_i`: :math:`\operatorname{Var}(d) = \operatorname{Var}(a) + \operatorname{Var}(b) -
    2\operatorname{Cov}(a, b)`, usually far below the unpaired :math:`\operatorname{Var}(a) +
    \operatorname{Var}(b)` (see :func:`unpaired_difference`).

    Parameters
    ----------
    values_a, values_b : array_like
        Per-question scores of the two models (for example ``c_i / n_i``), same shape.
    axis : int, default -1
        The question axis.
    """
    a = float_array(values_a, "values_a", min_ndim=1)
    b = float_array(values_b, "values_b", min_ndim=1)
    if a.shape != b.shape:
        raise ValueError(f"values_a {a.shape} and values_b {b.shape} must have the same shape "
                         "(the same questions, in the same order)")
    return mean_with_se(a - b, axis=axis)


def unpaired_difference(values_a: ArrayLike, values_b: ArrayLike, axis: int = -1) -> Estimate:
    r"""Mean difference with the standard error that ignores the pairing (for comparison).

    .. math:: \bar a - \bar b \pm \sqrt{\mathrm{SE}_a^2 + \mathrm{SE}_b^2}

    Right for two independent question sets; on a shared question set it is usually too large.
    """
    a = float_array(values_a, "values_a", min_ndim=1)
    b = float_array(values_b, "values_b", min_ndim=1)
    ea, eb = mean_with_se(a, axis=axis), mean_with_se(b, axis=axis)
    return Estimate(ea.value - eb.value, _scalar_or_array(np.sqrt(np.square(ea.se) + np.square(eb.se))))

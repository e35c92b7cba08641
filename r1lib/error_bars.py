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

Every estimator is vectorised: the question axis is ``axis`` (default last) and leading axes are
batch axes (for example many simulated replications at once).

**Planning an evaluation.** The same decomposition says, before any sample is drawn, how precise an
evaluation of ``P`` questions with ``n`` samples each will be. Write a per-question mean score's
variance as a *between-question* part (how much the questions' true scores differ) plus a
*within-question* part (the variance of one sample's score, averaged over questions) divided by
``n`` (:class:`VarianceComponents`); then

.. math:: \mathrm{SE}(P, n) = \sqrt{\frac{\text{between} + \text{within}/n}{P}}

(:func:`standard_error`). For a paired comparison of two models on the same questions the score
is the per-question difference :math:`d_i = \bar a_i - \bar b_i`: between is
:math:`\operatorname{Var}(x^A - x^B)` and within is :math:`\mathbb E[x^A(1-x^A)] +
\mathbb E[x^B(1-x^B)]`. :func:`variance_components` estimates both parts from one evaluation run;
:func:`detection_power`, :func:`detectable_difference`, :func:`questions_needed` and
:func:`samples_needed` turn them into the probability of telling a given difference from zero (a
two-sided normal test: the ``level`` confidence interval excludes 0) and into the questions or
samples a target power needs. Re-running an evaluation on the *same* questions (new seeds) has only
the within part: pass ``between=0`` with the within part of those questions.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, NamedTuple, Union

import numpy as np
from numpy.typing import ArrayLike

from .validation import check_axis, check_int, describe, float_array, int_array

__all__ = ["Estimate", "mean_with_se", "pass_at_1", "naive_se", "clustered_se",
           "paired_difference", "unpaired_difference", "VarianceComponents", "variance_components",
           "standard_error", "detection_power", "detectable_difference", "questions_needed",
           "samples_needed"]

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


# ----------------------------------------------------------------- planning an evaluation

class VarianceComponents(NamedTuple):
    r"""The two parts of the variance of one question's mean score (floats, or arrays).

    between : float or numpy.ndarray
        :math:`\operatorname{Var}(x)`: how much the questions' true scores :math:`x_i` differ
        (population variance over questions). For a paired comparison, :math:`x_i` is the
        difference of the two models' true solve rates on question ``i``.
    within : float or numpy.ndarray
        The variance of one sample's score, averaged over questions: :math:`\mathbb E[x(1-x)]` for
        0/1 correctness; for a paired comparison the sum of both models' parts.

    With ``n`` samples per question, :math:`\operatorname{Var}(\bar s_i) = \text{between} +
    \text{within}/n` (the law of total variance).
    """

    between: FloatOrArray
    within: FloatOrArray


def variance_components(n: ArrayLike, c: ArrayLike, baseline: ArrayLike = None,
                        axis: int = -1) -> VarianceComponents:
    r"""Estimate the between- and within-question variance from one evaluation run.

    With :math:`\hat p_i = c_i/n_i` and the unbiased per-question estimate
    :math:`w_i = \frac{c_i(n_i-c_i)}{n_i(n_i-1)}` of :math:`x_i(1-x_i)`,

    .. math:: \widehat{\text{within}} = \frac1P\sum_i w_i, \qquad
              \widehat{\text{between}} = \max\Bigl(0,\; s^2(\hat p) - \frac1P\sum_i \frac{w_i}{n_i}\Bigr)

    where :math:`s^2` is the sample variance over questions (``ddof=1``): its expectation is
    :math:`\text{between} + \mathbb E[\text{within}_i/n_i]`, so the difference is unbiased before it
    is truncated at 0 (the usual ANOVA estimator; a negative value means "no detectable spread").

    With ``baseline`` (the second model's counts on the same questions, same ``n``) the components
    are those of the paired difference :math:`\hat a_i - \hat b_i`: :math:`w_i` is the sum of both
    models' terms and :math:`s^2` the sample variance of the differences. Feed the result to
    :func:`standard_error`, :func:`questions_needed` or :func:`samples_needed` to plan the next run.

    Parameters
    ----------
    n : int or array_like of int
        Samples per question, ``>= 2`` (one sample cannot tell within from between).
    c : array_like of int
        Correct samples per question, ``0 <= c <= n``; ``axis`` indexes at least 2 questions.
    baseline : array_like of int, optional
        The other model's correct counts on the same questions (same shape as ``c``).
    axis : int, default -1
        The question axis; other axes are batch axes.

    Returns
    -------
    VarianceComponents
    """
    n_b, c_b = _counts(n, c)
    if (n_b < 2).any():
        raise ValueError(f"variance_components needs n >= 2 samples per question to separate the "
                         f"within-question variance, got n={n_b.ravel()[np.argmax(n_b.ravel() < 2)]}")
    ax = _question_axis(c_b, axis, "c")
    score = c_b / n_b
    within_i = c_b * (n_b - c_b) / (n_b * (n_b - 1.0))
    if baseline is not None:
        nb_b, cb_b = _counts(n, baseline)
        if cb_b.shape != c_b.shape:
            raise ValueError(f"baseline {cb_b.shape} and c {c_b.shape} must have the same shape "
                             "(the same questions, in the same order)")
        score = score - cb_b / nb_b
        within_i = within_i + cb_b * (nb_b - cb_b) / (nb_b * (nb_b - 1.0))
    within = within_i.mean(axis=ax)
    between = np.maximum(score.var(axis=ax, ddof=1) - (within_i / n_b).mean(axis=ax), 0.0)
    return VarianceComponents(_scalar_or_array(between), _scalar_or_array(within))


def _components(components: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(components, (str, bytes)) or not isinstance(components, (tuple, list)) \
            or len(components) != 2:
        raise TypeError("components must be a VarianceComponents (between, within) pair, "
                        f"got {describe(components)}")
    between = float_array(components[0], "components.between")
    within = float_array(components[1], "components.within")
    for name, arr in (("between", between), ("within", within)):
        if (arr < 0).any():
            raise ValueError(f"components.{name} is a variance and must be >= 0, got {describe(arr)}")
    return between, within


def _positive_ints(value: Any, name: str) -> np.ndarray:
    arr = int_array(value, name)
    if (arr < 1).any():
        raise ValueError(f"{name} must be >= 1, got {describe(value)}")
    return arr


def standard_error(components: Any, n_samples: ArrayLike, n_questions: ArrayLike) -> FloatOrArray:
    r"""The standard error an evaluation of ``P`` questions with ``n`` samples each will have.

    .. math:: \mathrm{SE}(P, n) = \sqrt{\frac{\text{between} + \text{within}/n}{P}}

    The true standard deviation of the mean score over a fresh draw of questions and samples
    (what :func:`pass_at_1`'s clustered SE estimates); with ``between = 0`` and the within part of a
    fixed question set, the spread of re-runs on those same questions (new seeds). More samples
    shrink only the within part: the floor at ``n -> inf`` is :math:`\sqrt{\text{between}/P}`.

    Parameters
    ----------
    components : VarianceComponents or (between, within)
        Variances (``>= 0``), e.g. from :func:`variance_components`; arrays broadcast.
    n_samples : int or array_like of int
        Samples per question ``n >= 1``.
    n_questions : int or array_like of int
        Questions ``P >= 1``.

    Returns
    -------
    float or numpy.ndarray
        A float when every input is a scalar, else an array of the broadcast shape.
    """
    between, within = _components(components)
    n = _positive_ints(n_samples, "n_samples")
    p = _positive_ints(n_questions, "n_questions")
    return _scalar_or_array(np.sqrt((between + within / n) / p))


def _level_z(level: Any) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
        raise ValueError(f"level must be a number in (0, 1), got {describe(level)}")
    return NormalDist().inv_cdf(0.5 + level / 2.0)


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, elementwise, as 0.5 erfc(-x / sqrt 2) (accurate in both tails)."""
    erfc = np.frompyfunc(math.erfc, 1, 1)
    return 0.5 * np.asarray(erfc(-np.asarray(x, dtype=float) / math.sqrt(2.0)), dtype=float)


def _power_at(ratio: np.ndarray, z: float) -> np.ndarray:
    """Two-sided rejection probability of a normal test when |effect| / SE = ``ratio``."""
    return _normal_cdf(ratio - z) + _normal_cdf(-ratio - z)


def detection_power(effect: ArrayLike, components: Any, n_samples: ArrayLike,
                    n_questions: ArrayLike, level: float = 0.95, *,
                    interval: Any = None) -> FloatOrArray:
    r"""Probability that an evaluation tells a true difference ``effect`` from zero.

    "Tells apart" means the two-sided ``level`` confidence interval of the estimated difference,
    :math:`\hat\delta \pm z\,\mathrm{SE}`, excludes 0. With :math:`\hat\delta \sim N(\delta,
    \mathrm{SE}^2)` and ``SE`` from :func:`standard_error`,

    .. math:: \text{power} = \Phi\Bigl(\frac{\lvert\delta\rvert}{\mathrm{SE}} - z\Bigr)
              + \Phi\Bigl(-\frac{\lvert\delta\rvert}{\mathrm{SE}} - z\Bigr),
              \qquad z = \Phi^{-1}\bigl(\tfrac{1 + \text{level}}{2}\bigr)

    (the second term, a "significant" result of the wrong sign, is tiny unless the effect is).
    At ``effect = 0`` it is the false-alarm rate ``1 - level``. When the interval is built with a
    standard error :math:`\mathrm{SE}_I` other than the estimate's true spread (``interval``: for
    example the unpaired SE used on two models that answered the *same* questions),

    .. math:: \text{power} = \Phi\Bigl(\frac{\lvert\delta\rvert - z\,\mathrm{SE}_I}{\mathrm{SE}}\Bigr)
              + \Phi\Bigl(\frac{-\lvert\delta\rvert - z\,\mathrm{SE}_I}{\mathrm{SE}}\Bigr).
 The normal approximation treats
    the SE as known; with an SE estimated from ``P`` questions the real test is a little more
    liberal for small ``P`` (at ``P = 30`` a nominal 5 % test rejects about 6 % of the time).

    Parameters
    ----------
    effect : float or array_like
        The true difference (a fraction: 0.05 is 5 percentage points); broadcasts.
    components, n_samples, n_questions
        As in :func:`standard_error`: of the *paired difference* for a comparison of two models on
        the same questions, of one model's score to tell it from a fixed value.
    level : float, default 0.95
        Confidence level of the interval (0.95: a two-sided 5 % test).
    interval : VarianceComponents, optional
        The components whose standard error the interval uses, if not ``components`` themselves.
    """
    delta = np.abs(float_array(effect, "effect"))
    z = _level_z(level)
    se = np.asarray(standard_error(components, n_samples, n_questions), dtype=float)
    se_i = se if interval is None else np.asarray(standard_error(interval, n_samples, n_questions), dtype=float)
    delta, se, se_i = np.broadcast_arrays(delta, se, se_i)
    exact = se == 0      # no noise at all: the estimate is the effect itself
    scale = np.where(exact, 1.0, se)
    power = _normal_cdf((delta - z * se_i) / scale) + _normal_cdf((-delta - z * se_i) / scale)
    power = np.where(exact, (delta > z * se_i).astype(float), power)
    return _scalar_or_array(power)


def _ratio_needed(power: Any, level: float) -> float:
    """The |effect| / SE at which :func:`detection_power` equals ``power`` (bisection; the power
    rises monotonically in the ratio from 1 - level at 0 to 1)."""
    z = _level_z(level)
    if isinstance(power, bool) or not isinstance(power, (int, float)) or not 1.0 - level < power < 1.0:
        raise ValueError(f"power must be a number in (1 - level, 1) = ({1.0 - level:g}, 1): below "
                         f"1 - level even a zero effect is 'detected' that often; got {describe(power)}")
    lo, hi = 0.0, z + NormalDist().inv_cdf(power)   # at hi the first term alone reaches the power
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if float(_power_at(np.array(mid), z)) < power:
            lo = mid
        else:
            hi = mid
    return hi


def detectable_difference(components: Any, n_samples: ArrayLike, n_questions: ArrayLike,
                          power: float = 0.8, level: float = 0.95) -> FloatOrArray:
    r"""The smallest true difference detected with probability ``power`` (the minimum detectable
    effect): :math:`\delta^* = r^*\,\mathrm{SE}(P, n)`, where :math:`r^*` solves
    :math:`\Phi(r - z) + \Phi(-r - z) = \text{power}` (about :math:`z + \Phi^{-1}(\text{power})`,
    2.80 for 80 % power at the 95 % level). Arguments as in :func:`detection_power`.
    """
    ratio = _ratio_needed(power, level)
    se = np.asarray(standard_error(components, n_samples, n_questions), dtype=float)
    return _scalar_or_array(ratio * se)


def _scalar_components(components: Any) -> tuple[float, float]:
    between, within = _components(components)
    if between.ndim or within.ndim:
        raise ValueError("components must be scalars here (one plan at a time), got shapes "
                         f"{between.shape} and {within.shape}")
    return float(between), float(within)


def _effect(effect: Any) -> float:
    if isinstance(effect, (bool, np.bool_)) or not isinstance(effect, (int, float, np.integer, np.floating)):
        raise TypeError(f"effect must be a real number, got {describe(effect)}")
    value = abs(float(effect))
    if not math.isfinite(value) or value == 0.0:
        raise ValueError(f"effect must be a finite, nonzero difference, got {describe(effect)}")
    return value


def questions_needed(effect: float, components: Any, n_samples: int, power: float = 0.8,
                     level: float = 0.95) -> int:
    r"""The fewest questions with which a true difference ``effect`` is detected with probability
    at least ``power`` (:func:`detection_power`), given ``n_samples`` per question.

    .. math:: P = \Bigl\lceil r^{*2}\,\frac{\text{between} + \text{within}/n}{\delta^2}\Bigr\rceil,
              \qquad r^* \approx z + \Phi^{-1}(\text{power})

    with :math:`r^*` as in :func:`detectable_difference`; at least 2 (an SE needs two questions).
    Scalars only.
    """
    delta = _effect(effect)
    between, within = _scalar_components(components)
    n = check_int(n_samples, "n_samples")
    ratio = _ratio_needed(power, level)
    variance = between + within / n
    if variance == 0.0:
        return 2
    p = max(2, math.ceil(ratio ** 2 * variance / delta ** 2 * (1 - 1e-12)))
    # guard the rounding at the boundary: the smallest P whose power reaches the target
    while detection_power(delta, (between, within), n, p, level) < power:
        p += 1
    while p > 2 and detection_power(delta, (between, within), n, p - 1, level) >= power:
        p -= 1
    return p


def samples_needed(effect: float, components: Any, n_questions: int, power: float = 0.8,
                   level: float = 0.95) -> int:
    r"""The fewest samples per question with which ``effect`` is detected with probability at
    least ``power`` on ``n_questions`` questions.

    .. math:: n = \Bigl\lceil \frac{\text{within}}{P\,\delta^2 / r^{*2} - \text{between}} \Bigr\rceil

    Raises ValueError when no number of samples is enough: the between-question part alone,
    :math:`\sqrt{\text{between}/P}`, already keeps the power below the target (the message gives the
    power at ``n -> inf`` and the questions needed there). Scalars only.
    """
    delta = _effect(effect)
    between, within = _scalar_components(components)
    p = check_int(n_questions, "n_questions")
    ratio = _ratio_needed(power, level)
    room = p * delta ** 2 / ratio ** 2 - between       # what the within/n part may still take
    if room <= 0.0:
        ceiling = float(detection_power(delta, (between, 0.0), 1, p, level))
        need = questions_needed(delta, (between, within), 10 ** 9, power, level) if between > 0 else 2
        raise ValueError(f"no number of samples per question reaches power {power:g} for an effect of "
                         f"{delta:g} on {p} questions: with infinitely many samples the power is "
                         f"{ceiling:.3f} (the between-question variance {between:.4g} stays); "
                         f"that needs at least {need} questions")
    if within == 0.0:
        return 1
    n = max(1, math.ceil(within / room * (1 - 1e-12)))
    while detection_power(delta, (between, within), n, p, level) < power:
        n += 1
    while n > 1 and detection_power(delta, (between, within), n - 1, p, level) >= power:
        n -= 1
    return n

r"""A simulated benchmark and a simulated sampling model, for teaching and testing evaluation math.

Each of ``P`` problems has one correct answer, a few plausible wrong answers and a "no answer"
outcome (the model rambles, or its output has no parsable box). The model's behaviour on problem
``i`` is a vector of logits over these outcomes; sampling at temperature ``T`` draws from
``softmax(logits_i / T)`` (DeepSeek-R1 evaluates at ``T = 0.6``). Problems differ in difficulty,
and on some of them a wrong answer is *more* likely than the correct one, which is exactly where
majority voting hurts.

Because the answer distribution of every problem is known, the simulation gives the true value
of every metric (pass@1 is the mean of :math:`p_{i,\text{correct}}`, pass@k is the mean of
:math:`1 - (1 - p_i)^k`), so estimators can be checked against the truth.

Sampled answers are integer codes: ``0`` is the correct answer, ``1 .. n_wrong`` the wrong ones
and ``NO_ANSWER = -1`` the absence of an answer. :func:`render_outputs` turns codes into raw model
outputs (``<think>...</think>`` plus ``\boxed{...}``, in varied but equivalent spellings, and
malformed outputs for ``NO_ANSWER``) to exercise :mod:`r1lib.grading.answers`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

import numpy as np
from numpy.typing import ArrayLike

from ..error_bars import VarianceComponents, paired_difference, standard_error, unpaired_difference
from ..validation import check_int, describe, float_array, int_array, nonneg_scalar
from ..metrics import check_counts
from ..softmax import softmax

__all__ = ["NO_ANSWER", "SimulatedBenchmark", "make_benchmark", "expected_pass_at_k",
           "plugin_pass_at_k", "expected_plugin_pass_at_k", "pass1_sd_fixed_questions",
           "pass1_sd_new_questions", "naive_se_new_questions", "answer_lists", "render_outputs",
           "beta_components", "beta_rates", "logit_shift", "shift_for_gain", "population_components",
           "simulate_counts", "detection_rates"]

NO_ANSWER = -1


def _generator(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {describe(rng)}")
    return rng


def _real(value: Any, name: str, allow_neg_inf: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    value = float(value)
    if math.isnan(value) or value == math.inf or (value == -math.inf and not allow_neg_inf):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


@dataclass(frozen=True)
class SimulatedBenchmark:
    """Problems with known answer distributions.

    Attributes
    ----------
    logits : numpy.ndarray, shape (P, n_wrong + 2)
        Column 0: the correct answer; columns ``1 .. n_wrong``: wrong answers; last column: no
        answer. ``-inf`` is allowed (an outcome that never happens).
    gold : tuple of Fraction
        The correct answer's value for each problem (used by :func:`render_outputs`).
    wrong : tuple of tuple of Fraction
        The wrong answers' values, distinct from each other and from gold.
    """

    logits: np.ndarray
    gold: tuple
    wrong: tuple

    def __post_init__(self) -> None:
        z = float_array(self.logits, "logits", allow_neg_inf=True, min_ndim=2)
        if z.ndim != 2 or z.shape[1] < 2:
            raise ValueError(f"logits must have shape (problems, n_wrong + 2), got {z.shape}")
        if len(self.gold) != z.shape[0] or len(self.wrong) != z.shape[0]:
            raise ValueError(f"gold ({len(self.gold)}) and wrong ({len(self.wrong)}) need one "
                             f"entry per problem ({z.shape[0]})")
        z = z.copy()
        z.setflags(write=False)
        object.__setattr__(self, "logits", z)

    @property
    def n_problems(self) -> int:
        return self.logits.shape[0]

    @property
    def n_wrong(self) -> int:
        return self.logits.shape[1] - 2

    def probabilities(self, temperature: float = 0.6) -> np.ndarray:
        """``softmax(logits / T)``, shape (P, n_wrong + 2), columns as in :attr:`logits`."""
        return softmax(self.logits, temperature)

    def p_correct(self, temperature: float = 0.6) -> np.ndarray:
        """Each problem's probability of a correct sample: the true per-problem pass@1."""
        return self.probabilities(temperature)[:, 0]

    def subset(self, index: ArrayLike) -> "SimulatedBenchmark":
        """The problems at ``index`` (repeats allowed: resampling questions from a population)."""
        idx = int_array(index, "index")
        if idx.ndim != 1:
            raise ValueError(f"index must be 1-D, got shape {idx.shape}")
        if ((idx < 0) | (idx >= self.n_problems)).any():
            raise ValueError(f"index must be in [0, {self.n_problems}), got {describe(idx)}")
        return SimulatedBenchmark(self.logits[idx], tuple(self.gold[i] for i in idx),
                                  tuple(self.wrong[i] for i in idx))

    def sample(self, n: int, rng: np.random.Generator, temperature: float = 0.6) -> np.ndarray:
        """Draw ``n`` answers per problem: int codes, shape (P, n) (``0`` correct, ``-1`` none).

        Inverse-CDF sampling, vectorised over problems and samples.
        """
        n = check_int(n, "n")
        rng = _generator(rng)
        p = self.probabilities(temperature)
        cdf = np.cumsum(p, axis=1)
        cdf[:, -1] = 1.0  # rounding must not leave u > cdf[-1]
        u = rng.random((self.n_problems, n))
        # The sampled column is the number of cdf entries <= u (zero-probability columns, whose
        # cdf entry repeats the previous one, are skipped).
        codes = (cdf[:, None, :] <= u[:, :, None]).sum(axis=-1)
        return np.where(codes == self.logits.shape[1] - 1, NO_ANSWER, codes)


def make_benchmark(n_problems: int, rng: np.random.Generator, n_wrong: int = 4,
                   skill: float = 1.5, difficulty_spread: float = 1.5, wrong_spread: float = 1.0,
                   no_answer_logit: float = -1.0) -> SimulatedBenchmark:
    r"""A benchmark of ``n_problems`` problems with a spread of difficulties.

    Logits of problem ``i``: correct :math:`z_0 = \text{skill} - d_i` with difficulty
    :math:`d_i \sim N(0, \text{difficulty\_spread}^2)`; wrong answers :math:`z_j \sim N(0,
    \text{wrong\_spread}^2)`; no answer: ``no_answer_logit``. When a wrong logit beats the
    correct one, the wrong answer is the model's plurality answer on that problem.

    Gold values: half the problems have integer answers in ``[0, 999]`` (AIME style), half
    non-integer fractions with small denominators (MATH style); wrong values are distinct and
    of the same kind.
    """
    n_problems = check_int(n_problems, "n_problems")
    n_wrong = check_int(n_wrong, "n_wrong")
    rng = _generator(rng)
    skill_f = _real(skill, "skill")
    spread = nonneg_scalar(difficulty_spread, "difficulty_spread")
    wspread = nonneg_scalar(wrong_spread, "wrong_spread")
    none_logit = _real(no_answer_logit, "no_answer_logit", allow_neg_inf=True)
    logits = np.empty((n_problems, n_wrong + 2))
    logits[:, 0] = skill_f - spread * rng.standard_normal(n_problems)
    logits[:, 1:n_wrong + 1] = wspread * rng.standard_normal((n_problems, n_wrong))
    logits[:, -1] = none_logit
    gold, wrong = [], []
    for i in range(n_problems):
        values = _distinct_values(rng, n_wrong + 1, integer=bool(i % 2 == 0))
        gold.append(values[0])
        wrong.append(tuple(values[1:]))
    return SimulatedBenchmark(logits, tuple(gold), tuple(wrong))


_DENOMINATORS = (2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 20, 25)


def _distinct_values(rng: np.random.Generator, count: int, integer: bool) -> list:
    values: list = []
    while len(values) < count:
        if integer:
            v = Fraction(int(rng.integers(0, 1000)))
        else:
            q = int(rng.choice(_DENOMINATORS))
            v = Fraction(int(rng.integers(1, 4 * q)), q)
            if v.denominator == 1:
                continue
        if v not in values:
            values.append(v)
    return values


def expected_pass_at_k(p_correct: ArrayLike, k: ArrayLike) -> Union[float, np.ndarray]:
    r"""True pass@k of problems with per-sample success probabilities ``p``: :math:`1-(1-p)^k`.

    Broadcasts ``p_correct`` against ``k``; average over problems yourself (the benchmark's true
    pass@k is the mean).
    """
    p = float_array(p_correct, "p_correct")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"p_correct must lie in [0, 1], got {describe(p_correct)}")
    k_arr = int_array(k, "k")
    if (k_arr < 1).any():
        raise ValueError(f"k must be >= 1, got {describe(k)}")
    out = 1.0 - (1.0 - p) ** k_arr
    return float(out) if np.ndim(out) == 0 else out


def plugin_pass_at_k(n: ArrayLike, c: ArrayLike, k: ArrayLike) -> Union[float, np.ndarray]:
    r"""The *biased* plug-in estimator :math:`1 - (1 - c/n)^k`, kept only to compare against.

    It plugs :math:`\hat p = c/n` into the true formula. Because :math:`(1-p)^k` is convex in
    ``p``, Jensen's inequality gives :math:`E[(1-\hat p)^k] \ge (1-p)^k`: the plug-in
    *underestimates* pass@k for ``k > 1``. Use :func:`r1lib.pass_at_k` instead. Same validation
    as :func:`r1lib.pass_at_k` (``0 <= c <= n``, ``1 <= k <= n``).
    """
    n_b, c_b, k_b = check_counts(n, c, k, "plugin_pass_at_k")
    out = 1.0 - (1.0 - c_b / n_b) ** k_b
    return float(out) if np.ndim(out) == 0 else out


def _binomial_pmf(n: int, p: np.ndarray) -> np.ndarray:
    """``pmf[..., c] = C(n, c) p^c (1-p)^(n-c)`` for c = 0..n, in log space, without warnings."""
    c = np.arange(n + 1)
    log_comb = np.array([math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)
                         for j in c])
    p = p[..., None]
    # 0 * log 0 = 0: with p = 0 the term c = 0 has probability 1 (and with p = 1, c = n); the
    # discarded branch of np.where computes 0 * -inf, hence the silenced "invalid".
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p, log_q = np.log(p), np.log1p(-p)
        term_p = np.where(c == 0, 0.0, c * log_p)
        term_q = np.where(c == n, 0.0, (n - c) * log_q)
    return np.exp(log_comb + term_p + term_q)


def expected_plugin_pass_at_k(n: int, p_correct: ArrayLike, k: int) -> Union[float, np.ndarray]:
    r"""Exact expectation of the plug-in estimator when ``c ~ Binomial(n, p)``.

    .. math:: E\bigl[1-(1-c/n)^k\bigr] = \sum_{c=0}^n \binom nc p^c(1-p)^{n-c}\bigl(1-(1-c/n)^k\bigr)

    Compare with :func:`expected_pass_at_k` (the truth): the difference is the plug-in's bias.
    """
    n = check_int(n, "n")
    k = check_int(k, "k")
    if k > n:
        raise ValueError(f"k must be <= n, got k={k}, n={n}")
    p = float_array(p_correct, "p_correct")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"p_correct must lie in [0, 1], got {describe(p_correct)}")
    values = 1.0 - (1.0 - np.arange(n + 1) / n) ** k
    out = _binomial_pmf(n, p) @ values
    return float(out) if np.ndim(out) == 0 else out


def _rates_and_k(p_correct: ArrayLike, k: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = float_array(p_correct, "p_correct", min_ndim=1)
    if p.ndim != 1 or p.size < 1:
        raise ValueError(f"p_correct must be a 1-D array of per-question rates, got shape {p.shape}")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"p_correct must lie in [0, 1], got {describe(p_correct)}")
    k_arr = int_array(k, "k")
    if (k_arr < 1).any():
        raise ValueError(f"k must be >= 1, got {describe(k)}")
    return p, k_arr


def _as_float(x: np.ndarray) -> Union[float, np.ndarray]:
    return float(x) if np.ndim(x) == 0 else x


def pass1_sd_fixed_questions(p_correct: ArrayLike, k: ArrayLike) -> Union[float, np.ndarray]:
    r"""Standard deviation of pass@1 over evaluation runs on a *fixed* set of questions.

    With ``k`` samples per question, :math:`c_i \sim \mathrm{Binomial}(k, p_i)` independently and
    :math:`\hat p = \frac1P\sum_i c_i/k`, so

    .. math:: \operatorname{sd}(\hat p \mid p_1..p_P) = \frac1P\sqrt{\sum_{i=1}^P \frac{p_i(1-p_i)}{k}}.

    Only the sampling noise: the questions are held fixed (``k`` broadcasts, e.g. a grid). It is
    :func:`r1lib.standard_error` with between = 0 and within = the mean of :math:`p_i(1-p_i)`.
    """
    p, k_arr = _rates_and_k(p_correct, k)
    # the questions do not change between runs: only the within part, that of these questions
    return _as_float(np.asarray(standard_error((0.0, np.mean(p * (1.0 - p))), k_arr, p.size)))


def pass1_sd_new_questions(p_population: ArrayLike, k: ArrayLike,
                           n_questions: int) -> Union[float, np.ndarray]:
    r"""Standard deviation of pass@1 when each evaluation draws ``n_questions`` new questions.

    Questions are drawn uniformly (with replacement) from a population whose success rates are
    ``p_population``; each gets ``k`` samples. By the law of total variance (Miller 2024,
    arXiv:2411.00640), with :math:`x` a random question's rate,

    .. math:: \operatorname{sd}(\hat p) = \sqrt{\frac{\operatorname{Var}(x)
              + \mathbb E[x(1-x)]/k}{P}}.

    This is what the clustered standard error estimates; ``Var(x)`` is the population variance
    (``ddof=0``: the population is all there is). It is :func:`r1lib.standard_error` of
    :func:`population_components`.
    """
    p, k_arr = _rates_and_k(p_population, k)
    n_q = check_int(n_questions, "n_questions")
    return _as_float(np.asarray(standard_error(population_components(p), k_arr, n_q)))


def naive_se_new_questions(p_population: ArrayLike, k: ArrayLike,
                           n_questions: int) -> Union[float, np.ndarray]:
    r"""The naive binomial standard error at the population's pass@1 :math:`\bar p`:
    :math:`\sqrt{\bar p(1-\bar p)/(P k)}`, what :func:`r1lib.naive_se` reports on average.

    It treats the :math:`Pk` samples as independent questions, so it misses ``Var(x)``; compare
    :func:`pass1_sd_new_questions`.
    """
    p, k_arr = _rates_and_k(p_population, k)
    n_q = check_int(n_questions, "n_questions")
    p_bar = p.mean()
    return _as_float(np.sqrt(p_bar * (1.0 - p_bar) / (n_q * k_arr)))


def answer_lists(codes: ArrayLike) -> list:
    """Codes (P, n) -> one list per problem with ``None`` for ``NO_ANSWER``, ready for
    :func:`r1lib.maj_at_k` (gold ``0``) and :func:`r1lib.majority_vote`."""
    arr = int_array(codes, "codes")
    if arr.ndim != 2:
        raise ValueError(f"codes must have shape (problems, samples), got {arr.shape}")
    return [[None if a == NO_ANSWER else a for a in row] for row in arr.tolist()]



# --- evaluations at real benchmark sizes: populations of questions, two models, power ---------

def beta_components(mean: float, concentration: float) -> VarianceComponents:
    r"""Variance components of solve rates :math:`x \sim \mathrm{Beta}(\mu\kappa, (1-\mu)\kappa)`.

    .. math:: \text{between} = \operatorname{Var}(x) = \frac{\mu(1-\mu)}{\kappa+1}, \qquad
              \text{within} = \mathbb E[x(1-x)] = \frac{\mu(1-\mu)\,\kappa}{\kappa+1}

    They add up to :math:`\mu(1-\mu)`, the variance of one sample of a random question; the share
    of the between part, :math:`\rho = 1/(\kappa+1)`, is the intra-question correlation of the
    design effect. Small :math:`\kappa` (below 1) makes a U-shaped population: most questions
    nearly always or nearly never solved, as on AIME.
    """
    mu = _unit_open(mean, "mean")
    kappa = _positive_real(concentration, "concentration")
    total = mu * (1.0 - mu)
    return VarianceComponents(total / (kappa + 1.0), total * kappa / (kappa + 1.0))


def _unit_open(value: Any, name: str) -> float:
    v = _real(value, name)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {v!r}")
    return v


def _positive_real(value: Any, name: str) -> float:
    v = _real(value, name)
    if v <= 0.0:
        raise ValueError(f"{name} must be > 0, got {v!r}")
    return v


def beta_rates(n_questions: int, mean: float, concentration: float,
               rng: np.random.Generator) -> np.ndarray:
    """``n_questions`` solve rates drawn from :math:`\\mathrm{Beta}(\\mu\\kappa, (1-\\mu)\\kappa)`
    (see :func:`beta_components`): a population of questions, or one benchmark drawn from it."""
    n = check_int(n_questions, "n_questions")
    mu = _unit_open(mean, "mean")
    kappa = _positive_real(concentration, "concentration")
    return _generator(rng).beta(mu * kappa, (1.0 - mu) * kappa, size=n)


def _rates(p_correct: ArrayLike, name: str = "p_correct") -> np.ndarray:
    p = float_array(p_correct, name, min_ndim=1)
    if p.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of per-question rates, got shape {p.shape}")
    if ((p < 0) | (p > 1)).any():
        raise ValueError(f"{name} must lie in [0, 1], got {describe(p_correct)}")
    return p


def logit_shift(p_correct: ArrayLike, shift: float) -> np.ndarray:
    r"""A model better (``shift > 0``) or worse by ``shift`` in logit space on every question:

    .. math:: x'_i = \sigma\bigl(\operatorname{logit}(x_i) + s\bigr), \qquad \sigma(t) = 1/(1+e^{-t})

    Questions at 0 or 1 stay there; questions near 1/2 move the most (by about :math:`s\,x(1-x)`).
    Computed as :math:`x e^s / (x e^s + 1 - x)`, exact at the ends and free of warnings.
    """
    p = _rates(p_correct)
    s = _real(shift, "shift")
    scale = math.exp(min(max(s, -700.0), 700.0))
    return p * scale / (p * scale + (1.0 - p))


def shift_for_gain(p_correct: ArrayLike, gain: float) -> float:
    r"""The logit shift :math:`s` with :math:`\operatorname{mean}(x') - \operatorname{mean}(x) = `
    ``gain`` for :func:`logit_shift` (bisection: the mean is increasing in :math:`s`).

    ``gain`` must lie strictly between :math:`-\bar x_{\text{movable}}` and
    :math:`1 - \bar x` restricted to questions strictly inside (0, 1), since questions at 0 or 1
    cannot move.
    """
    p = _rates(p_correct)
    g = _real(gain, "gain")
    if g == 0.0:
        return 0.0
    inner = (p > 0) & (p < 1)
    low, high = -np.sum(p[inner]) / p.size, np.sum(1.0 - p[inner]) / p.size
    if not low < g < high:
        raise ValueError(f"gain must lie in ({low:.6g}, {high:.6g}) for these rates (questions at 0 "
                         f"or 1 cannot move), got {g!r}")
    base = p.mean()
    lo, hi = (0.0, 1.0) if g > 0 else (-1.0, 0.0)
    while (np.mean(logit_shift(p, hi)) - base < g) if g > 0 else (np.mean(logit_shift(p, lo)) - base > g):
        if g > 0:
            hi *= 2.0
        else:
            lo *= 2.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if np.mean(logit_shift(p, mid)) - base < g:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def population_components(p_correct: ArrayLike, baseline: ArrayLike = None) -> VarianceComponents:
    r"""The exact variance components of a population of questions with known solve rates.

    One model: between = :math:`\operatorname{Var}(x)` (``ddof=0``: the population is all there
    is), within = :math:`\operatorname{mean}\,x(1-x)`. With ``baseline`` (the other model's rates
    on the same questions): those of the paired difference, between =
    :math:`\operatorname{Var}(x - x^{\text{base}})`, within = :math:`\operatorname{mean}[x(1-x) +
    x^{\text{base}}(1-x^{\text{base}})]`. Questions drawn uniformly from the population with
    replacement then give pass@1 (or the paired difference) the standard error
    :func:`r1lib.standard_error` of these components, exactly.
    """
    p = _rates(p_correct)
    if baseline is None:
        return VarianceComponents(float(p.var()), float(np.mean(p * (1.0 - p))))
    b = _rates(baseline, "baseline")
    if b.shape != p.shape:
        raise ValueError(f"baseline {b.shape} and p_correct {p.shape} must have the same shape "
                         "(the same questions, in the same order)")
    return VarianceComponents(float(np.var(p - b)), float(np.mean(p * (1.0 - p) + b * (1.0 - b))))


def simulate_counts(p_correct: ArrayLike, n_questions: int, n_samples: int, reps: int,
                    rng: np.random.Generator, baseline: ArrayLike = None):
    """``reps`` evaluations: each draws ``n_questions`` questions from the population (uniformly,
    with replacement) and ``n_samples`` samples per question. Returns the correct counts, shape
    ``(reps, n_questions)``; with ``baseline`` a pair ``(counts, baseline_counts)``, both models
    scored on the *same* questions with independent samples."""
    p = _rates(p_correct)
    n_q = check_int(n_questions, "n_questions")
    n = check_int(n_samples, "n_samples")
    r = check_int(reps, "reps")
    rng = _generator(rng)
    idx = rng.integers(0, p.size, size=(r, n_q))
    counts = rng.binomial(n, p[idx])
    if baseline is None:
        return counts
    b = _rates(baseline, "baseline")
    if b.shape != p.shape:
        raise ValueError(f"baseline {b.shape} and p_correct {p.shape} must have the same shape")
    return counts, rng.binomial(n, b[idx])


def detection_rates(p_correct: ArrayLike, baseline: ArrayLike, n_questions: int, n_samples: int,
                    reps: int, rng: np.random.Generator, level: float = 0.95) -> tuple:
    """Simulated power: over ``reps`` evaluations (:func:`simulate_counts`), the share whose
    ``level`` interval for "model minus baseline" excludes 0, with the paired standard error
    (:func:`r1lib.paired_difference`) and with the unpaired one (:func:`r1lib.unpaired_difference`).
    Compare with :func:`r1lib.detection_power`. Returns ``(paired, unpaired)`` shares."""
    n = check_int(n_samples, "n_samples")
    counts, base = simulate_counts(p_correct, n_questions, n, reps, rng, baseline=baseline)
    if counts.shape[1] < 2:
        raise ValueError(f"n_questions must be >= 2 to estimate a standard error, got {counts.shape[1]}")
    paired = paired_difference(counts / n, base / n)
    unpaired = unpaired_difference(counts / n, base / n)

    def excludes_zero(est):
        lo, hi = est.interval(level)
        return float(np.mean((lo > 0) | (hi < 0)))
    return excludes_zero(paired), excludes_zero(unpaired)


# --- raw text outputs --------------------------------------------------------------------------

def _spellings(v: Fraction) -> list:
    """Equivalent spellings of ``v``: the canonical one first, then variants."""
    if v.denominator == 1:
        s = str(v.numerator)
        return [s, f"{s}.0", f"{s}.00", f"\\text{{{s}}}", f"{s}."]
    p, q = v.numerator, v.denominator
    forms = [f"\\frac{{{p}}}{{{q}}}", f"{p}/{q}", f"\\dfrac{{{p}}}{{{q}}}", f"\\tfrac{{{p}}}{{{q}}}"]
    rest = q
    for f in (2, 5):
        while rest % f == 0:
            rest //= f
    if rest == 1:  # terminating decimal
        forms.append(str(float(v)))
    if p < 10 and q < 10:
        forms.append(f"\\frac{p}{q}")
    return forms


_MALFORMED = (
    "<think>\nLet me set up the equations. Substituting the second into the first gives",  # cut off
    "<think>\nI computed it two ways and got the same value.\n</think>\n\nThe answer is {v}.",  # no box
    "<think>\nDone.\n</think>\n\nTherefore the answer is $\\boxed{{}}$.",  # empty box
    "<think>\nSimplify.\n</think>\n\nSo the result is $\\boxed{{\\frac{{{p}}}{{{q}}}$.",  # unclosed
)


def render_outputs(bench: SimulatedBenchmark, codes: ArrayLike, rng: np.random.Generator,
                   p_variant: float = 0.5, p_draft_box: float = 0.2) -> list:
    r"""Raw model outputs for sampled codes, in R1's ``<think>...</think>`` answer format.

    A sample with an answer code becomes ``"<think> ... </think> ... $\boxed{<answer>}$."`` with
    the answer spelled canonically (``\frac{1}{2}``, ``42``) or, with probability ``p_variant``,
    in an equivalent variant (``1/2``, ``0.5``, ``\dfrac{1}{2}``, ``42.0``). With probability
    ``p_draft_box`` the reasoning contains a draft ``\boxed{...}`` of a wrong value (only the box
    after ``</think>`` counts). ``NO_ANSWER`` samples become malformed outputs: reasoning cut off
    inside ``<think>``, no box, an empty box, an unclosed box.

    Returns one list of ``n`` strings per problem.
    """
    rng = _generator(rng)
    pv = nonneg_scalar(p_variant, "p_variant")
    pd = nonneg_scalar(p_draft_box, "p_draft_box")
    if pv > 1 or pd > 1:
        raise ValueError(f"p_variant and p_draft_box must lie in [0, 1], got {pv}, {pd}")
    arr = int_array(codes, "codes")
    if arr.ndim != 2 or arr.shape[0] != bench.n_problems:
        raise ValueError(f"codes must have shape ({bench.n_problems}, n), got {arr.shape}")
    if ((arr < NO_ANSWER) | (arr > bench.n_wrong)).any():
        raise ValueError(f"codes must lie in [-1, {bench.n_wrong}]")
    u_variant = rng.random(arr.shape)
    u_form = rng.random(arr.shape)
    u_draft = rng.random(arr.shape)
    outputs = []
    for i, row in enumerate(arr.tolist()):
        values = (bench.gold[i],) + bench.wrong[i]
        texts = []
        for j, code in enumerate(row):
            if code == NO_ANSWER:
                template = _MALFORMED[int(u_form[i, j] * len(_MALFORMED))]
                v = values[0]
                texts.append(template.format(v=v, p=v.numerator, q=v.denominator))
                continue
            forms = _spellings(values[code])
            if u_variant[i, j] < pv:
                form = forms[1 + int(u_form[i, j] * (len(forms) - 1))]
            else:
                form = forms[0]
            draft = ""
            if u_draft[i, j] < pd:
                draft = f" A first try gave $\\boxed{{{_spellings(values[-1])[0]}}}$, but I made a sign error."
            texts.append(f"<think>\nLet me work through problem {i}.{draft}\n</think>\n\n"
                         f"The final answer is $\\boxed{{{form}}}$.")
        outputs.append(texts)
    return outputs

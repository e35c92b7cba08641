r"""Studies of the GRPO KL estimators k1, k2, k3: exact moments, Monte Carlo, sequences, gradients.

The estimators themselves live in :mod:`r1lib.kl_estimators` (``kl_k1``, ``kl_k2``, ``kl_k3``);
this module only *studies* them, in four settings where the truth is known exactly:

* **Gaussian** (Schulman 2020): samples ``x ~ q = N(0, 1)`` (the policy that samples, GRPO's
  :math:`\pi_\theta`) and reference ``p = N(mu, 1)`` (:math:`\pi_{ref}`). Then
  :math:`\log r = \log p(x) - \log q(x) = \mu x - \mu^2/2 \sim N(-\mu^2/2, \mu^2)` and
  :math:`KL(q\|p) = \mu^2/2`; every mean and standard deviation has a closed form.
* **Categorical** ("one token of a vocabulary"): expectations are finite sums over the vocabulary,
  so means, standard deviations and expected gradients are exact.
* **Toy autoregressive policy** (:class:`MarkovPolicy`): the next token depends on the previous
  one, so the sequence-level KL is exact by the chain rule and a forward recursion.
* **Gradients**: with the sampled token held fixed (the estimator used as a loss),
  :math:`E[\nabla k_1] = 0`, :math:`E[\nabla k_2] = \nabla KL(\pi_\theta\|\pi_{ref})` and
  :math:`E[\nabla k_3] = \nabla KL(\pi_{ref}\|\pi_\theta)`, for one token: in a sequence, per
  position with the prefix held fixed. The gradient of the sequence KL has one more term;
  :mod:`r1lib.labs.kl_placement` computes it.

Conventions: ``logp`` is :math:`\log\pi_\theta` of the samples (the policy that drew them),
``ref_logp`` is :math:`\log\pi_{ref}`, ``log r = ref_logp - logp``, natural logarithms throughout.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import numpy as np
from numpy.typing import ArrayLike

from ..validation import check_int, describe, float_array, int_array, positive_scalar
from ..divergence import kl_from_logits
from ..kl_estimators import kl_k1, kl_k2, kl_k3
from ..softmax import log_softmax

__all__ = [
    "ESTIMATORS", "Moments", "MonteCarloMoments", "estimate_all",
    "gaussian_true_kl", "gaussian_log_probs", "gaussian_moments", "monte_carlo_moments",
    "schulman_table", "gaussian_std_crossover",
    "categorical_moments", "sample_tokens", "sampled_log_probs",
    "MarkovPolicy", "random_markov_policy", "sequence_kl_by_position", "SequenceStudy",
    "expected_estimator_grads", "sampled_estimator_grads", "kl_grads",
    "expected_gradient_descent", "verl_low_var_kl",
]

#: The three estimators, by name, as the library computes them (never re-implemented here).
ESTIMATORS: dict[str, Callable[[ArrayLike, ArrayLike], np.ndarray]] = {
    "k1": kl_k1, "k2": kl_k2, "k3": kl_k3,
}

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


class Moments(NamedTuple):
    """Exact mean, bias (mean minus the true KL) and standard deviation of one estimator."""

    mean: np.ndarray
    bias: np.ndarray
    std: np.ndarray


class MonteCarloMoments(NamedTuple):
    """Sample mean, bias and standard deviation of one estimator, with their standard errors."""

    mean: float
    bias: float
    std: float
    mean_se: float
    std_se: float


def estimate_all(logp: ArrayLike, ref_logp: ArrayLike) -> dict[str, np.ndarray]:
    """``{"k1": kl_k1(logp, ref_logp), "k2": ..., "k3": ...}``: the three per-sample estimates."""
    return {name: fn(logp, ref_logp) for name, fn in ESTIMATORS.items()}


# ----------------------------------------------------------------------------------------------
# Gaussian example: q = N(0, 1) samples, p = N(mu, 1) is the reference.

def _finite(value: ArrayLike, name: str) -> np.ndarray:
    arr = float_array(value, name)
    return arr.astype(np.float64, copy=False)


def gaussian_true_kl(mu: ArrayLike) -> np.ndarray:
    r""":math:`KL(q\|p) = \mu^2/2` for ``q = N(0, 1)``, ``p = N(mu, 1)`` (equal variances)."""
    m = _finite(mu, "mu")
    return 0.5 * m * m


def gaussian_log_probs(x: ArrayLike, mu: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Log-densities ``(log q(x), log p(x))`` of ``q = N(0, 1)`` and ``p = N(mu, 1)``.

    Returned in the order of the estimators' arguments (``logp`` of the sampling policy first), so
    ``kl_k3(*gaussian_log_probs(x, mu))`` with ``x ~ N(0, 1)`` estimates :math:`KL(q\|p)`.
    Unit-variance densities never exceed :math:`1/\sqrt{2\pi}`, so both logs are ``< 0`` as the
    estimators require. Drawing standard normals once and calling this for each ``mu`` gives
    every ``mu`` the same random numbers (common random numbers: smooth, stable plots).
    """
    xs = _finite(x, "x")
    if np.ndim(mu) != 0:
        raise ValueError(f"mu must be a scalar, got shape {np.shape(mu)}")
    m = float(_finite(mu, "mu"))
    logq = -0.5 * xs * xs - _LOG_SQRT_2PI
    logp = -0.5 * (xs - m) ** 2 - _LOG_SQRT_2PI
    return logq, logp


def _expm1_minus_x(x: np.ndarray) -> np.ndarray:
    """``e^x - 1 - x`` for ``x >= 0`` without cancellation at small ``x`` (Taylor series there)."""
    x = np.asarray(x, dtype=np.float64)
    small = x < 0.1
    xs = np.where(small, x, 0.0)
    # sum_{k=2..12} x^k / k!  (the first omitted term is < 1e-21 of the sum for x < 0.1)
    series = np.zeros_like(xs)
    term = xs * xs / 2.0
    for k in range(3, 14):
        series = series + term
        term = term * xs / k
    with np.errstate(over="ignore"):  # e^x beyond float64 is +inf, and so is the answer
        big = np.expm1(np.where(small, 0.0, x)) - np.where(small, 0.0, x)
    return np.where(small, series, big)


def gaussian_moments(mu: ArrayLike) -> dict[str, Moments]:
    r"""Exact mean, bias and standard deviation of k1, k2, k3 for ``q = N(0,1)``, ``p = N(mu,1)``.

    With :math:`L = \log r \sim N(m, s^2)`, :math:`m = -\mu^2/2`, :math:`s^2 = \mu^2` and
    :math:`KL = \mu^2/2`:

    * k1 = -L: mean :math:`\mu^2/2` (unbiased), std :math:`|\mu|`  (std/KL = 2/|mu|);
    * k2 = L^2/2: mean :math:`(s^2+m^2)/2 = \mu^2/2 + \mu^4/8` (bias/KL = mu^2/4),
      variance :math:`(2s^4 + 4m^2s^2)/4`, so std :math:`= \tfrac{\mu^2}{2}\sqrt{2+\mu^2}`;
    * k3 = e^L - 1 - L: mean KL (since :math:`E[e^L] = e^{m+s^2/2} = 1`), variance
      :math:`Var(e^L) + Var(L) - 2\,Cov(e^L, L) = (e^{\mu^2}-1) + \mu^2 - 2\mu^2`
      (Stein's lemma: :math:`Cov(e^L, L) = s^2 E[e^L]`), so std
      :math:`= \sqrt{e^{\mu^2} - 1 - \mu^2}` (evaluated without cancellation for small mu;
      ``inf`` once :math:`e^{\mu^2}` exceeds float64, i.e. ``|mu| > 26.6``).

    Parameters
    ----------
    mu : array_like
        Mean shift(s) of the reference; any finite real, vectorised.

    Returns
    -------
    dict
        ``{"k1": Moments(mean, bias, std), "k2": ..., "k3": ...}`` with arrays shaped like ``mu``.
    """
    m = _finite(mu, "mu")
    m2 = m * m
    kl = 0.5 * m2
    zero = np.zeros_like(m2)
    k2_bias = m2 * m2 / 8.0
    return {
        "k1": Moments(kl, zero, np.abs(m)),
        "k2": Moments(kl + k2_bias, k2_bias, 0.5 * m2 * np.sqrt(2.0 + m2)),
        "k3": Moments(kl, zero, np.sqrt(_expm1_minus_x(m2))),
    }


def gaussian_std_crossover(tol: float = 1e-12) -> float:
    r"""The shift :math:`\mu^*` above which k3 has a *larger* standard deviation than k2.

    Solves :math:`e^{x} - 1 - x = x^2/2 + x^3/4` for :math:`x = \mu^2 > 0` by bisection
    (Var k3 = Var k2 there). Below it k3 is the lower-variance estimator, above it k2 is:
    "k3 has low variance" is not a law. The root is :math:`x^* = 1.45123...`, i.e.
    :math:`\mu^* = 1.20467...` (true KL 0.7256 nats there).
    """
    tol = positive_scalar(tol, "tol")

    def gap(mu: float) -> float:  # std(k3) - std(k2)
        mom = gaussian_moments(mu)
        return float(mom["k3"].std - mom["k2"].std)

    lo, hi = 0.5, 3.0  # gap(0.5) < 0 < gap(3.0); the only sign change for mu > 0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if gap(mid) < 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def monte_carlo_moments(values: ArrayLike, true_kl: float) -> MonteCarloMoments:
    r"""Sample mean, bias, std (``ddof=1``) of per-sample estimates, with standard errors.

    ``mean_se = std / sqrt(n)``; ``std_se`` is the delta-method standard error of the sample std,
    :math:`\sqrt{(m_4 - s^4) / (4 s^2 n)}` with :math:`m_4` the central fourth moment (it is
    large for heavy-tailed estimators such as k3 far from the reference).

    Parameters
    ----------
    values : array_like
        At least two finite per-sample estimates (1-D).
    true_kl : float
        The divergence they estimate (for the bias).
    """
    v = float_array(values, "values", min_ndim=1).astype(np.float64, copy=False)
    if v.ndim != 1 or v.size < 2:
        raise ValueError(f"values must be 1-D with at least 2 samples, got shape {v.shape}")
    t = float(_finite(true_kl, "true_kl"))
    n = v.size
    mean = float(np.mean(v))
    squares = v - mean
    squares *= squares  # squared deviations; the 4th power as their square (`**4` is pow: ~10x slower)
    var = float(np.sum(squares) / (n - 1))
    std = math.sqrt(var)
    m4 = float(np.mean(squares * squares))
    std_se = math.sqrt(max(m4 - var * var, 0.0) / (4.0 * var * n)) if var > 0 else 0.0
    return MonteCarloMoments(mean, mean - t, std, std / math.sqrt(n), std_se)


def _generator(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (seeded by the caller), got {describe(rng)}")
    return rng


def schulman_table(mus: ArrayLike = (0.1, 1.0), n_samples: int = 1_000_000,
                   rng: Optional[np.random.Generator] = None) -> list[dict]:
    r"""Schulman's table by Monte Carlo, next to the closed forms of :func:`gaussian_moments`.

    For each ``mu``: draw ``n_samples`` points ``x ~ N(0, 1)``, compute k1, k2, k3 from
    :func:`gaussian_log_probs`, and report bias/KL and std/KL (Monte Carlo, its standard error,
    and the exact value). Schulman's own code samples ``N(0.1, 1)`` and uses ``N(0, 1)`` as the
    reference; by symmetry :math:`\log r` has the same distribution, so the tables agree.

    Returns
    -------
    list of dict
        One row per (mu, estimator) with keys ``mu, true_kl, estimator, bias_mc, bias_se,
        bias_exact, std_mc, std_se, std_exact`` (all relative to the true KL).
    """
    mu_arr = _finite(mus, "mus").ravel()
    if (mu_arr == 0).any():
        raise ValueError(f"mus must be non-zero (relative errors divide by KL = mu^2/2), got {mus!r}")
    n = check_int(n_samples, "n_samples", 2)
    gen = _generator(rng)
    rows = []
    for mu in mu_arr:
        x = gen.standard_normal(n)
        kl = float(gaussian_true_kl(mu))
        exact = gaussian_moments(mu)
        for name, values in estimate_all(*gaussian_log_probs(x, mu)).items():
            mc = monte_carlo_moments(values, kl)
            rows.append(dict(mu=float(mu), true_kl=kl, estimator=name,
                             bias_mc=mc.bias / kl, bias_se=mc.mean_se / kl,
                             bias_exact=float(exact[name].bias) / kl,
                             std_mc=mc.std / kl, std_se=mc.std_se / kl,
                             std_exact=float(exact[name].std) / kl))
    return rows


# ----------------------------------------------------------------------------------------------
# Categorical policies ("one token from a vocabulary"): everything is a finite sum.

def _logits(value: ArrayLike, name: str) -> np.ndarray:
    z = float_array(value, name, min_ndim=1)
    return z.astype(np.float64, copy=False)


def _logit_pair(logits: ArrayLike, ref_logits: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    z = _logits(logits, "logits")
    zr = _logits(ref_logits, "ref_logits")
    if z.shape != zr.shape:
        raise ValueError(f"shapes of logits {z.shape} and ref_logits {zr.shape} differ")
    return log_softmax(z), log_softmax(zr)


def categorical_moments(logits: ArrayLike, ref_logits: ArrayLike) -> dict[str, Moments]:
    r"""Exact mean, bias and std of k1, k2, k3 for one token :math:`o \sim \pi_\theta`.

    :math:`E[k] = \sum_o \pi_\theta(o)\,k(o)` and
    :math:`Var[k] = \sum_o \pi_\theta(o)\,(k(o) - E[k])^2`, summed over the vocabulary (last axis),
    with ``pi_theta = softmax(logits)``, ``pi_ref = softmax(ref_logits)``; the bias is measured
    against the exact :math:`KL(\pi_\theta\|\pi_{ref})` (:func:`r1lib.kl_from_logits`).
    Logits must be finite (every token possible under both policies). Vectorised over leading axes.
    """
    logp, ref_logp = _logit_pair(logits, ref_logits)
    p = np.exp(logp)
    true = kl_from_logits(logp, ref_logp)
    out = {}
    for name, values in estimate_all(logp, ref_logp).items():
        mean = np.sum(p * values, axis=-1)
        var = np.sum(p * (values - mean[..., None]) ** 2, axis=-1)
        out[name] = Moments(mean, mean - true, np.sqrt(var))
    return out


def sample_tokens(logits: ArrayLike, u: ArrayLike) -> np.ndarray:
    r"""Tokens drawn from ``softmax(logits)`` by inverse-CDF from given uniforms ``u`` in [0, 1).

    Token ``i`` is returned when :math:`F_{i-1} \le u < F_i` (``F`` the cumulative sum). Taking
    the uniforms as input (drawn once from a seeded generator) lets a slider re-sample a *changed*
    policy with the same random numbers: the picture moves smoothly instead of flickering.
    ``logits`` is 1-D (one distribution) or has a leading shape that broadcasts against ``u``.
    """
    logp = log_softmax(_logits(logits, "logits"))
    uu = float_array(u, "u").astype(np.float64, copy=False)
    if (uu < 0).any() or (uu >= 1).any():
        raise ValueError(f"u must lie in [0, 1), got range [{uu.min()!r}, {uu.max()!r}]")
    cdf = np.cumsum(np.exp(logp), axis=-1)
    if logp.ndim == 1:
        idx = np.searchsorted(cdf, uu, side="right")
    else:
        idx = np.sum(cdf <= uu[..., None], axis=-1)
    # Rounding can leave cdf[-1] a hair below 1; such a u belongs to the last token.
    return np.minimum(idx, logp.shape[-1] - 1).astype(np.int64)


def sampled_log_probs(logits: ArrayLike, ref_logits: ArrayLike,
                      u: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r"""``(logp, ref_logp)`` of tokens drawn from ``softmax(logits)`` with the uniforms ``u``.

    The tokens are :func:`sample_tokens` ``(logits, u)`` (so :math:`o \sim \pi_\theta`, the policy
    in the first slot of the KL that k1, k2, k3 estimate); the returned log-probabilities are
    :math:`\log\pi_\theta(o)` and :math:`\log\pi_{ref}(o)`, in the order the estimators take them.
    """
    z = _logits(logits, "logits")
    zr = _logits(ref_logits, "ref_logits")
    if z.ndim != 1 or z.shape != zr.shape:
        raise ValueError(f"logits and ref_logits must be 1-D of the same length, got {z.shape} and {zr.shape}")
    tok = sample_tokens(z, u)
    return log_softmax(z)[tok], log_softmax(zr)[tok]


# ----------------------------------------------------------------------------------------------
# A toy autoregressive policy: the next-token distribution depends on the previous token.

_RANK_CELLS = 1 << 12


def _count_at_most(knots: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``np.searchsorted(knots, u, side="right")`` for sorted ``knots`` and ``u`` in [0, 1), faster.

    A binary search per value costs ~30 ns; instead ``u`` is binned into ``_RANK_CELLS`` equal
    cells (``u * 2**12`` and its floor are exact) and a cell with no knot strictly inside gives the
    count at its left edge, which is exact for every ``u`` in it. The few values in cells that do
    hold a knot are searched.
    """
    cell_edges = np.arange(_RANK_CELLS + 1) / _RANK_CELLS
    at_left = np.searchsorted(knots, cell_edges[:-1], side="right")    # knots <= left edge
    has_knot = np.searchsorted(knots, cell_edges[1:], side="left") != at_left
    cells = (u * _RANK_CELLS).astype(np.intp)
    out = at_left[cells]
    search = np.flatnonzero(has_knot[cells])
    out.flat[search] = np.searchsorted(knots, u.flat[search], side="right")
    return out


class MarkovPolicy:
    r"""A toy autoregressive policy over ``V`` tokens whose context is the previous token.

    :math:`\pi(o_1 \dots o_T) = \pi(o_1) \prod_{t \ge 2} \pi(o_t \mid o_{t-1})` with
    ``pi(o_1) = softmax(first_logits)`` and ``pi(. | a) = softmax(next_logits[a])``.
    A real language model conditions on the *whole* prefix (``V^(t-1)`` contexts at step t), which
    is why its sequence-level KL cannot be computed; here the context is one token, so it can.

    Parameters
    ----------
    first_logits : array_like, shape (V,)
    next_logits : array_like, shape (V, V)
        Row ``a`` holds the logits of the token that follows token ``a``. All finite.
    """

    def __init__(self, first_logits: ArrayLike, next_logits: ArrayLike) -> None:
        first = _logits(first_logits, "first_logits")
        nxt = _logits(next_logits, "next_logits")
        if first.ndim != 1 or first.size < 2:
            raise ValueError(f"first_logits must be 1-D with V >= 2 entries, got shape {first.shape}")
        v = first.size
        if nxt.shape != (v, v):
            raise ValueError(f"next_logits must have shape ({v}, {v}), got {nxt.shape}")
        self.first_logits = first
        self.next_logits = nxt
        self.first_logp = log_softmax(first)
        self.next_logp = log_softmax(nxt)

    @property
    def vocab_size(self) -> int:
        return self.first_logits.size

    def shifted(self, direction: "MarkovPolicy", shift: float) -> "MarkovPolicy":
        """The policy with logits ``self + shift * direction`` (a path away from ``self``)."""
        if not isinstance(direction, MarkovPolicy) or direction.vocab_size != self.vocab_size:
            raise TypeError(f"direction must be a MarkovPolicy over {self.vocab_size} tokens, "
                            f"got {describe(direction)}")
        s = float(_finite(shift, "shift"))
        return MarkovPolicy(self.first_logits + s * direction.first_logits,
                            self.next_logits + s * direction.next_logits)

    def sample(self, u: ArrayLike) -> np.ndarray:
        """Sequences drawn with the uniforms ``u`` of shape (n, T): one uniform per token.

        Returns int64 tokens of shape (n, T). The same ``u`` for two nearby policies gives nearby
        samples (see :func:`sample_tokens`).
        """
        uu = float_array(u, "u", min_ndim=2).astype(np.float64, copy=False)
        if uu.ndim != 2:
            raise ValueError(f"u must have shape (n, T), got {uu.shape}")
        if (uu < 0).any() or (uu >= 1).any():
            raise ValueError(f"u must lie in [0, 1), got range [{uu.min()!r}, {uu.max()!r}]")
        n, length = uu.shape
        v = self.vocab_size
        first_cdf = np.cumsum(np.exp(self.first_logp))
        next_cdf = np.cumsum(np.exp(self.next_logp), axis=-1)
        # The token after a is #{k : next_cdf[a, k] <= u} (capped at V - 1: rounding can leave a
        # row's last cdf value a hair below 1). Rather than V comparisons per sequence and step,
        # rank every u once among all cdf values ("knots"): between two consecutive knots that
        # count is the same for every row, so each step is one lookup in a (V, knots + 1) table.
        knots = np.unique(next_cdf)
        stride = knots.size + 1
        counts = np.zeros((v, stride), dtype=np.int64)
        counts[:, 1:] = np.sum(next_cdf[:, :, None] <= knots, axis=1)
        lookup = np.minimum(counts, v - 1).ravel()
        rank = _count_at_most(knots, np.ascontiguousarray(uu[:, 1:].T))   # (T - 1, n)
        tokens = np.empty((length, n), dtype=np.int64)                  # time-major: rows contiguous
        tokens[0] = np.minimum(np.searchsorted(first_cdf, uu[:, 0], side="right"), v - 1)
        for t in range(1, length):
            np.take(lookup, tokens[t - 1] * stride + rank[t - 1], out=tokens[t])
        return np.ascontiguousarray(tokens.T)

    def token_logprobs(self, tokens: ArrayLike) -> np.ndarray:
        r"""Per-token :math:`\log\pi(o_t \mid o_{t-1})` of sequences ``tokens`` (n, T) -> (n, T).

        A sequence's log-probability is the sum along the last axis; its probability (the
        exponential of that sum) underflows to 0 for long sequences, the log never does.
        """
        tok = int_array(tokens, "tokens")
        if tok.ndim != 2:
            raise ValueError(f"tokens must have shape (n, T), got {tok.shape}")
        if (tok < 0).any() or (tok >= self.vocab_size).any():
            raise ValueError(f"tokens must lie in [0, {self.vocab_size}), got range "
                             f"[{tok.min()}, {tok.max()}]")
        out = np.empty(tok.shape, dtype=np.float64)
        out[:, 0] = self.first_logp[tok[:, 0]]
        out[:, 1:] = self.next_logp[tok[:, :-1], tok[:, 1:]]
        return out

    def __repr__(self) -> str:
        return f"MarkovPolicy(vocab_size={self.vocab_size})"


def random_markov_policy(vocab_size: int, rng: np.random.Generator, scale: float = 1.0) -> MarkovPolicy:
    """A :class:`MarkovPolicy` with i.i.d. ``N(0, scale^2)`` logits drawn from ``rng``."""
    v = check_int(vocab_size, "vocab_size", 2)
    s = positive_scalar(scale, "scale")
    gen = _generator(rng)
    return MarkovPolicy(s * gen.standard_normal(v), s * gen.standard_normal((v, v)))


def sequence_kl_by_position(policy: MarkovPolicy, ref: MarkovPolicy, length: int) -> np.ndarray:
    r"""Exact per-position terms of the sequence-level :math:`KL(\pi\|\pi_{ref})` over ``length`` tokens.

    Chain rule: :math:`KL(\pi\|\pi_{ref}) = \sum_{t=1}^{T} E_{o_{<t}\sim\pi}\big[
    KL(\pi(\cdot\mid o_{<t})\,\|\,\pi_{ref}(\cdot\mid o_{<t}))\big]`. For a Markov policy the
    context is the previous token, whose distribution under :math:`\pi` is propagated forward
    (:math:`m_t = m_{t-1} P`), so the ``V^T``-term sum costs ``O(T V^2)``.

    Returns
    -------
    numpy.ndarray, shape (length,)
        Term ``t`` is the expected per-token KL at position ``t``; their sum is the sequence KL
        (and also the expectation of the per-token k3 summed over a sampled sequence).
    """
    for name, pol in (("policy", policy), ("ref", ref)):
        if not isinstance(pol, MarkovPolicy):
            raise TypeError(f"{name} must be a MarkovPolicy, got {describe(pol)}")
    if policy.vocab_size != ref.vocab_size:
        raise ValueError(f"policy and ref have different vocabularies: {policy.vocab_size} vs {ref.vocab_size}")
    length = check_int(length, "length", 1)
    first_kl = float(kl_from_logits(policy.first_logp, ref.first_logp))
    row_kl = kl_from_logits(policy.next_logp, ref.next_logp)  # (V,): KL after each previous token
    trans = np.exp(policy.next_logp)
    marginal = np.exp(policy.first_logp)  # distribution of o_1
    out = np.empty(length)
    out[0] = first_kl
    for t in range(1, length):
        out[t] = marginal @ row_kl
        marginal = marginal @ trans
    return out


class SequenceStudy:
    r"""Sequence-level KL estimates along a path of Markov policies, from one table of uniforms.

    The policy at distance ``shift`` is ``ref.shifted(direction, shift)``; its ``n`` sequences of
    length ``T_max`` are drawn with the fixed uniforms ``u`` (shape ``(n, T_max)``), and a sequence
    of length ``T`` is the first ``T`` tokens of each (same uniforms: a length slider only reads
    prefix sums). Three estimates of the sequence-level :math:`KL(\pi_\theta\|\pi_{ref})` per sequence:

    * ``"Σ k1"``: :math:`\sum_t k_1(r_t) = k_1(R)` (k1 is linear in the log-ratio);
    * ``"Σ k3"``: :math:`\sum_t k_3(r_t)`, per-token k3 summed (GRPO's per-token term, summed);
    * ``"k3(R)"``: :math:`k_3(R)` of the whole-sequence ratio :math:`R = \prod_t r_t`.

    Each has the exact sequence KL (:func:`sequence_kl_by_position`, summed) as its expectation.
    The per-shift tables (cumulative sums, ``O(n T_max)`` floats each) are cached, ``cache`` of them.
    """

    KINDS = ("Σ k1", "Σ k3", "k3(R)")

    def __init__(self, ref: MarkovPolicy, direction: MarkovPolicy, u: ArrayLike, cache: int = 4) -> None:
        if not isinstance(ref, MarkovPolicy):
            raise TypeError(f"ref must be a MarkovPolicy, got {describe(ref)}")
        ref.shifted(direction, 0.0)  # validates direction
        uu = float_array(u, "u", min_ndim=2).astype(np.float64, copy=False)
        if uu.ndim != 2:
            raise ValueError(f"u must have shape (n, T_max), got {uu.shape}")
        if uu.shape[0] < 2:
            raise ValueError(f"u must hold at least 2 sequences, got shape {uu.shape}")
        self.ref, self.direction, self.u = ref, direction, uu
        self.n_sequences, self.max_length = uu.shape
        self._cache_size = check_int(cache, "cache", 1)
        self._tables: dict[float, dict] = {}

    def policy(self, shift: float) -> MarkovPolicy:
        r"""The sampling policy :math:`\pi_\theta` at distance ``shift`` from the reference."""
        return self.ref.shifted(self.direction, shift)

    def table(self, shift: float) -> dict[str, np.ndarray]:
        """Cumulative sums over positions, shape ``(n, T_max)``: ``"k3"`` (per-token k3),
        ``"logp"`` and ``"ref_logp"`` (sequence log-probabilities of every prefix), and ``"exact"``
        (shape ``(T_max,)``, the exact sequence KL of every prefix length)."""
        key = float(_finite(shift, "shift"))
        if key in self._tables:
            return self._tables[key]
        pol = self.policy(key)
        tok = pol.sample(self.u)
        lp, lr = pol.token_logprobs(tok), self.ref.token_logprobs(tok)
        tab = dict(k3=np.cumsum(kl_k3(lp, lr), axis=1), logp=np.cumsum(lp, axis=1),
                   ref_logp=np.cumsum(lr, axis=1),
                   exact=np.cumsum(sequence_kl_by_position(pol, self.ref, self.max_length)))
        if len(self._tables) >= self._cache_size:
            self._tables.pop(next(iter(self._tables)))  # the oldest
        self._tables[key] = tab
        return tab

    def estimates(self, shift: float, length: int) -> tuple[dict[str, np.ndarray], float]:
        """``({"Σ k1": (n,), "Σ k3": (n,), "k3(R)": (n,)}, exact sequence KL)`` for sequences of ``length``."""
        length = check_int(length, "length", 1)
        if length > self.max_length:
            raise ValueError(f"length must be <= {self.max_length} (the uniforms' columns), got {length}")
        tab, j = self.table(shift), length - 1
        logp, ref_logp = tab["logp"][:, j], tab["ref_logp"][:, j]
        est = {"Σ k1": kl_k1(logp, ref_logp), "Σ k3": tab["k3"][:, j], "k3(R)": kl_k3(logp, ref_logp)}
        return est, float(tab["exact"][j])


# ----------------------------------------------------------------------------------------------
# The estimators used as losses: expected gradients with the sampled token held fixed.

def _dk_dlogr(name: str, log_r: np.ndarray) -> np.ndarray:
    # d k / d (log r): k1 = -L -> -1; k2 = L^2/2 -> L; k3 = e^L - 1 - L -> e^L - 1.
    if name == "k1":
        return -np.ones_like(log_r)
    if name == "k2":
        return log_r
    return np.expm1(log_r)


def sampled_estimator_grads(logits: ArrayLike, ref_logits: ArrayLike,
                            tokens: ArrayLike) -> dict[str, np.ndarray]:
    r"""Per-sample gradients :math:`\nabla_z k(o)` w.r.t. the policy logits ``z``, ``o`` held fixed.

    :math:`\log r = \log\pi_{ref}(o) - \log\pi_\theta(o)` and
    :math:`\nabla_z \log\pi_\theta(o) = e_o - \pi_\theta`, so
    :math:`\nabla_z k(o) = -\,k'(\log r)\,(e_o - \pi_\theta)` with
    :math:`k_1' = -1`, :math:`k_2' = \log r`, :math:`k_3' = r - 1`. This is what autograd
    computes when the estimator is the loss on sampled tokens (no score-function term).

    Parameters
    ----------
    logits, ref_logits : array_like, shape (V,)
    tokens : array_like of int, shape (n,)

    Returns
    -------
    dict
        ``{"k1": (n, V), "k2": (n, V), "k3": (n, V)}``.
    """
    logp, ref_logp = _logit_pair(logits, ref_logits)
    if logp.ndim != 1:
        raise ValueError(f"logits must be 1-D (one distribution), got shape {logp.shape}")
    tok = int_array(tokens, "tokens")
    if tok.ndim != 1 or (tok < 0).any() or (tok >= logp.size).any():
        raise ValueError(f"tokens must be a 1-D array of ids in [0, {logp.size}), got {describe(tokens)}")
    p = np.exp(logp)
    score = np.eye(logp.size)[tok] - p  # grad of log pi(o) w.r.t. the logits, one row per sample
    log_r = ref_logp[tok] - logp[tok]
    return {name: -_dk_dlogr(name, log_r)[:, None] * score for name in ESTIMATORS}


def expected_estimator_grads(logits: ArrayLike, ref_logits: ArrayLike) -> dict[str, np.ndarray]:
    r"""Exact :math:`E_{o\sim\pi_\theta}[\nabla_z k(o)]` (token held fixed), summed over the vocabulary.

    The results (checked in the tests by finite differences through ``kl_k1/2/3``):
    ``k1 -> 0``, ``k2 -> grad KL(pi_theta || pi_ref)``, ``k3 -> grad KL(pi_ref || pi_theta)
    = pi_theta - pi_ref``. So k1 as a loss pulls nowhere on average, and k3 (GRPO's) follows the
    *reverse* KL's gradient even though its *value* estimates the forward one. These are statements
    about one categorical distribution: in a sequence they hold per position with the prefix held
    fixed (:mod:`r1lib.labs.kl_placement` has the sequence-level picture).
    """
    logp, _ = _logit_pair(logits, ref_logits)
    if logp.ndim != 1:
        raise ValueError(f"logits must be 1-D (one distribution), got shape {logp.shape}")
    every = np.arange(logp.size)
    grads = sampled_estimator_grads(logits, ref_logits, every)
    p = np.exp(logp)
    return {name: p @ g for name, g in grads.items()}


def kl_grads(logits: ArrayLike, ref_logits: ArrayLike) -> dict[str, np.ndarray]:
    r"""Gradients w.r.t. the policy logits of both KL directions.

    * ``"theta_ref"``: :math:`\nabla_z KL(\pi_\theta\|\pi_{ref}) = \pi_\theta \odot (d - E_{\pi_\theta}[d])`,
      :math:`d = \log\pi_\theta - \log\pi_{ref}`;
    * ``"ref_theta"``: :math:`\nabla_z KL(\pi_{ref}\|\pi_\theta) = \pi_\theta - \pi_{ref}`
      (the cross-entropy gradient).

    Vectorised over leading axes; the class axis is last.
    """
    logp, ref_logp = _logit_pair(logits, ref_logits)
    p = np.exp(logp)
    d = logp - ref_logp
    return {"theta_ref": p * (d - np.sum(p * d, axis=-1, keepdims=True)),
            "ref_theta": p - np.exp(ref_logp)}


def expected_gradient_descent(logits: ArrayLike, ref_logits: ArrayLike, estimator: str,
                              lr: float = 0.5, steps: int = 100) -> np.ndarray:
    r"""Gradient descent on the policy logits with :func:`expected_estimator_grads` as the step.

    What training with ``beta * k`` as the only loss does on average (infinitely many on-policy
    samples per step). Returns the logits after each step, shape ``(steps + 1, V)`` (row 0 is the
    start). With k1 nothing moves; k2 and k3 both reach :math:`\pi_{ref}`, by different paths.
    """
    z = _logits(logits, "logits").copy()
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {', '.join(map(repr, ESTIMATORS))}; got {describe(estimator)}")
    lr = positive_scalar(lr, "lr")
    steps = check_int(steps, "steps", 0)
    path = np.empty((steps + 1, z.size))
    path[0] = z
    for i in range(steps):
        z = z - lr * expected_estimator_grads(z, ref_logits)[estimator]
        path[i + 1] = z
    return path


def verl_low_var_kl(logp: ArrayLike, ref_logp: ArrayLike, clip: float = 10.0) -> np.ndarray:
    r"""verl's ``"low_var_kl"`` (a.k.a. ``"k3"``) penalty: k3 clamped to ``[-clip, clip]``.

    verl computes ``kl = clamp(ref_logp - logp, -20, 20)``, ``k3 = exp(kl) - kl - 1`` and returns
    ``clamp(k3, -10, 10)``. Since k3 >= 0 the lower clamp never acts, and since
    k3(+-20) > 19 >= clip the log-ratio clamp never changes the *value* after the value clamp (it only
    keeps ``exp`` finite in low precision). So the value is ``min(kl_k3, clip)``; where the clamp
    is active the token contributes no gradient: the tokens that drifted furthest feel no pull.
    """
    c = positive_scalar(clip, "clip")
    if c > 19.0:
        # Above k3(-20) = 19 + e^-20 verl's log-ratio clamp would start to change the value.
        raise ValueError(f"clip must be <= 19 for min(k3, clip) to equal verl's clamped k3, got {c!r}")
    return np.minimum(kl_k3(logp, ref_logp), c)

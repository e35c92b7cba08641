"""Evaluation metrics for sampled reasoning models: pass@k, majority vote, maj@k.

Both estimators here are U-statistics: from ``n`` samples per problem they return the exact average,
over all ``C(n, k)`` subsets of size ``k``, of the metric computed on that subset. That is the
unbiased estimate of the metric for ``k`` fresh samples, with less variance than using one
arbitrary subset (for example "the first k samples").
"""
from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from functools import lru_cache
from typing import Any, Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from .validation import describe, check_option, int_array

__all__ = ["pass_at_k", "majority_vote", "maj_at_k"]

TIE_POLICIES = ("split", "wrong", "first")
MAJ_MAX_N = 1000  # C(n, n/2) overflows float64 a little above n = 1020


def check_counts(n: ArrayLike, c: ArrayLike, k: ArrayLike, caller: str) -> tuple:
    """Validate and broadcast the integer counts of a pass@k-style estimator.

    Returns int64 arrays ``(n, c, k)`` of the broadcast shape; raises ValueError unless
    ``0 <= c <= n`` and ``1 <= k <= n`` everywhere, naming the first offending entry.
    """
    n_arr, c_arr, k_arr = int_array(n, "n"), int_array(c, "c"), int_array(k, "k")
    try:
        n_b, c_b, k_b = np.broadcast_arrays(n_arr, c_arr, k_arr)
    except ValueError:
        raise ValueError(f"shapes of n {n_arr.shape}, c {c_arr.shape} and k {k_arr.shape} "
                         "do not broadcast") from None
    for name, ok in (("c", c_b >= 0), ("k", k_b >= 1), ("c", c_b <= n_b), ("k", k_b <= n_b)):
        if not ok.all():
            i = np.flatnonzero(~ok.ravel())[0]
            values = {"n": n_b.ravel()[i], "c": c_b.ravel()[i], "k": k_b.ravel()[i]}
            others = ", ".join(f"{key}={v}" for key, v in values.items() if key != name)
            index = tuple(int(x) for x in np.unravel_index(i, n_b.shape))
            where = "" if not index else f" at index {index[0] if len(index) == 1 else index}"
            # each value once: "got k=8 with n=4, c=1"
            raise ValueError(f"{caller} needs 0 <= c <= n and 1 <= k <= n; got {name}="
                             f"{values[name]} with {others}{where}")
    return n_b, c_b, k_b


def pass_at_k(n: ArrayLike, c: ArrayLike, k: ArrayLike) -> Union[float, np.ndarray]:
    r"""Unbiased pass@k of Chen et al. (2021) from ``n`` samples of which ``c`` are correct.

    .. math:: \mathrm{pass@}k = 1 - \frac{\binom{n-c}{k}}{\binom{n}{k}}
              = 1 - \prod_{i=0}^{k-1} \frac{n-c-i}{n-i}
              = 1 - \prod_{i=0}^{c-1} \Bigl(1 - \frac{k}{n-i}\Bigr)

    The ratio is the probability that a random size-``k`` subset of the samples holds no correct
    one. It is evaluated as a product of ``min(c, k)`` factors in ``(0, 1]``, never through binomial
    coefficients (``C(2000, 1000)`` is ``inf`` in float64), and is exactly 1 when ``n - c < k``.
    Average the per-problem values over problems; never pool ``n`` and ``c`` across problems.

    Parameters
    ----------
    n, c, k : int or array_like of int
        Broadcast against each other, so one call scores a whole benchmark. Require
        ``0 <= c <= n`` and ``1 <= k <= n``.

    Returns
    -------
    float or numpy.ndarray
        A float when all inputs are scalars, otherwise an array of the broadcast shape.
    """
    n_b, c_b, k_b = check_counts(n, c, k, "pass_at_k")
    scalar = all(np.ndim(a) == 0 for a in (n, c, k))
    # Speed: a benchmark usually scores every problem with one n and one k, so c takes at most
    # n + 1 values. Compute those once with the product below and look them up: the same numbers,
    # bit for bit, in O(n min(n, k)) work instead of O(problems * min(c, k)).
    if c_b.size > int(n_b.max()) + 1 and n_b.min() == n_b.max() and k_b.min() == k_b.max():
        n0, k0 = int(n_b.flat[0]), int(k_b.flat[0])
        return pass_at_k(n0, np.arange(n0 + 1), k0)[c_b]
    n_f, c_f, k_f = (a.astype(np.float64) for a in (n_b, c_b, k_b))
    # Loop over the shorter product: c factors (1 - k/(n-i)) or k factors (n-c-i)/(n-i).
    loop_c = c_b <= k_b
    m = np.where(loop_c, c_b, k_b)
    m = np.where(n_b - c_b < k_b, 0, m)  # those are exactly 1 below; skip their factors
    ratio = np.ones(n_b.shape, dtype=np.float64)
    for i in range(int(m.max(initial=0))):
        active = i < m
        denom = np.where(active, n_f - i, 1.0)
        factor = np.where(loop_c, 1.0 - k_f / denom, (n_f - c_f - i) / denom)
        ratio = np.where(active, ratio * factor, ratio)
    result = np.where(n_b - c_b < k_b, 1.0, 1.0 - ratio)
    return float(result) if scalar else result


def _as_answer_list(answers: Any, name: str = "answers") -> list:
    if isinstance(answers, (str, bytes)) or not isinstance(answers, Iterable):
        raise TypeError(f"{name} must be a sequence of answers, got {describe(answers)}")
    items = list(answers.tolist() if isinstance(answers, np.ndarray) else answers)
    if not items:
        raise ValueError(f"{name} must not be empty")
    for a in items:
        if not isinstance(a, Hashable):
            raise TypeError(f"every answer must be hashable, got {describe(a)} in {name}")
    return items


def majority_vote(answers: Iterable[Hashable], ties: str = "first") -> Optional[Hashable]:
    """The consensus (plurality) answer of one list of sampled answers.

    ``None`` entries mean "no answer extracted" and never win. Ties between the most frequent
    answers: ``ties="first"`` returns the tied answer that occurs first in ``answers`` (what
    evaluation harnesses do); ``ties="none"`` returns ``None``. Returns ``None`` when every entry
    is ``None``.
    """
    items = _as_answer_list(answers)
    check_option(ties, "ties", ("first", "none"))
    counts: dict = {}
    for a in items:  # dicts keep first-occurrence order, which "first" relies on
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    if not counts:
        return None
    best = max(counts.values())
    leaders = [a for a, cnt in counts.items() if cnt == best]
    if len(leaders) > 1 and ties == "none":
        return None
    return leaders[0]


@lru_cache(maxsize=8)
def _binomial_table(n: int) -> np.ndarray:
    """``table[a, x] = C(a, x)`` for ``0 <= a, x <= n`` as float64, by Pascal's rule (exact to 2^53)."""
    table = np.zeros((n + 1, n + 1))
    table[:, 0] = 1.0
    for a in range(1, n + 1):
        table[a, 1:a + 1] = table[a - 1, :a] + table[a - 1, 1:a + 1]
    table.setflags(write=False)
    return table


def _check_ks(k: Any, n: int) -> tuple[np.ndarray, bool]:
    k_arr = int_array(k, "k")
    if k_arr.ndim > 1:
        raise ValueError(f"k must be an integer or a 1-D sequence of integers, got shape {k_arr.shape}")
    bad = (k_arr < 1) | (k_arr > n)
    if bad.any():
        raise ValueError(f"k must satisfy 1 <= k <= len(answers) = {n}; "
                         f"got k={k_arr.ravel()[np.argmax(bad.ravel())]}")
    return k_arr, k_arr.ndim == 0


def maj_at_k(answers: Sequence[Hashable], gold: Hashable, k: ArrayLike,
             ties: str = "split") -> Union[float, np.ndarray]:
    r"""Exact, unbiased maj@k: the average over all size-``k`` subsets of the ``n`` answers of
    "the subset's majority vote equals ``gold``".

    Computed combinatorially, not by enumerating the ``C(n, k)`` subsets: if the gold answer gets
    ``v`` votes in a subset, every other answer must get fewer (or tie). Counting the ways with
    generating functions over answer classes,

    .. math:: \#\{\text{gold wins with } v\} = \binom{n_g}{v}\,[z^{k-v}]\;(1+z)^{S_v}
              \prod_{j:\,n_j \ge v} \Bigl(\sum_{x<v} \binom{n_j}{x} z^x + w\binom{n_j}{v} z^v\Bigr)

    where ``S_v`` counts the samples of classes too small to reach ``v`` (and of ``None``), and the
    power of ``w`` counts the answers tied with gold. Dividing by ``C(n, k)`` gives the probability.

    Parameters
    ----------
    answers : sequence of hashable
        The ``n`` sampled answers of one problem, in sampling order; ``None`` = no answer (it never
        wins). Normalise equivalent answers first ("1/2" and "0.5").
    gold : hashable
        The correct answer (not ``None``).
    k : int or 1-D sequence of int
        Subset size(s), ``1 <= k <= n``; a sequence returns all of them from one computation.
    ties : {"split", "wrong", "first"}, default "split"
        Credit when gold ties with ``m - 1`` other answers for the most votes: ``"split"`` gives
        ``1/m`` (the expected credit of a uniformly random tie-break), ``"wrong"`` gives 0,
        ``"first"`` gives 1 when gold occurs first among the tied answers in the subset, in
        sampling order (what harnesses that vote over the first ``k`` samples do).

    Returns
    -------
    float or numpy.ndarray
        ``maj@k`` in ``[0, 1]``; an array when ``k`` is a sequence.
    """
    items = _as_answer_list(answers)
    check_option(ties, "ties", TIE_POLICIES)
    if gold is None:
        raise ValueError("gold must be an answer, got None")
    if not isinstance(gold, Hashable):
        raise TypeError(f"gold must be hashable, got {describe(gold)}")
    n = len(items)
    if n > MAJ_MAX_N:
        raise ValueError(f"maj_at_k supports up to {MAJ_MAX_N} answers per problem, got "
                         f"len(answers) = {n}")
    k_arr, scalar = _check_ks(k, n)
    kmax = int(k_arr.max())

    positions: dict = {}
    for idx, a in enumerate(items):
        positions.setdefault(a, []).append(idx)
    gold_pos = positions.pop(gold, [])
    positions.pop(None, None)  # "no answer" is never a class that can win the vote
    n_gold = len(gold_pos)
    if n_gold == 0:
        out = np.zeros(k_arr.shape)
        return float(out) if scalar else out
    # Other answer classes, most frequent first: the classes that can reach v votes are a prefix.
    others = sorted((np.asarray(p) for p in positions.values()), key=len, reverse=True)
    counts = [len(p) for p in others]
    binom = _binomial_table(n)
    length = kmax + 1
    ways = np.zeros(length)  # ways[k] = credited subsets of size k

    # Polynomials in z are coefficient vectors truncated to degree kmax; a stack of them is a
    # matrix with one polynomial per row. Speed: multiplying every row by the same polynomial is
    # one matrix product with its banded Toeplitz matrix, mat[i, j] = poly[j - i], instead of a
    # Python loop of shifted additions (many fewer NumPy calls per problem).
    band = np.arange(length)[None, :] - np.arange(length)[:, None]  # j - i
    band[band < 0] = length  # below the diagonal: read the zero padding

    def times(stack: np.ndarray, poly: np.ndarray) -> np.ndarray:
        if len(poly) == 1:  # v = 1: "fewer than one vote" is the constant C(n_j, 0) = 1
            return stack.copy()
        if stack.shape[0] <= 2:  # too few rows to pay for building the matrix
            return np.stack([np.convolve(r, poly)[:length] for r in stack])
        padded = np.zeros(length + 1)
        padded[: len(poly)] = poly
        return stack @ padded[band]

    if ties == "first":
        # after[i, j] = samples of class j that come after gold's i-th sample (in sampling order)
        # ties_after[j][i, v] = C(a, v), a = samples of class j after gold's i-th sample: the ways
        # class j can put all its v votes after that gold sample.
        gold_at = np.asarray(gold_pos)
        ties_after = [binom[len(p) - np.searchsorted(p, gold_at, side="right")] for p in others]
        # later_gold[i, v - 1] = C(n_gold - i - 1, v - 1): the other v - 1 gold votes come after it
        later_gold = binom[n_gold - 1 - np.arange(n_gold)]

    top = min(n_gold, kmax)
    contested = min(top, counts[0] if counts else 0)
    for v in range(1, contested + 1):
        m = sum(1 for c in counts if c >= v)  # classes 0 .. m-1 can reach v votes
        free = n - n_gold - sum(counts[:m])  # samples of the other classes and None
        free_poly = binom[free, :length]  # (1 + z)^free; the table's zeros truncate it
        if ties == "wrong":  # no other class reaches v
            acc = free_poly[None, :]
            for j in range(m):
                acc = times(acc, binom[counts[j], :v])  # x = 0 .. v-1 votes
            ways[v:] += binom[n_gold, v] * acc[0, : length - v]
        elif ties == "split":
            # Row t counts subsets with t other classes tied at v; credit 1/(t+1).
            state = free_poly[None, :]
            for j in range(m):
                new = np.zeros((state.shape[0] + 1, length))
                new[:-1] = times(state, binom[counts[j], :v])  # class j below v
                new[1:, v:] += binom[counts[j], v] * state[:, : length - v]  # class j ties at v
                state = new
            credit = state / np.arange(1, state.shape[0] + 1)[:, None]
            ways[v:] += binom[n_gold, v] * credit.sum(axis=0)[: length - v]
        else:
            # Row i: gold's first sample in the subset is its i-th (0-based); gold samples before
            # it are excluded, v-1 more come from the later ones, and a class may tie only if all
            # v of its picks come after that position.
            rows = n_gold - v + 1
            state = np.repeat(free_poly[None, :], rows, axis=0)
            for j in range(m):
                new = times(state, binom[counts[j], :v])
                new[:, v:] += ties_after[j][:rows, v, None] * state[:, : length - v]
                state = new
            ways[v:] += (later_gold[:rows, v - 1] @ state)[: length - v]
    if contested < top:
        # With more votes than any other class has samples, gold wins outright under every
        # policy ("first": sum_i C(n_gold-i-1, v-1) = C(n_gold, v)). All those v in one product:
        # ways[k] += sum_v C(n_gold, v) C(n - n_gold, k - v).
        gold_poly = np.zeros(length)
        gold_poly[contested + 1: top + 1] = binom[n_gold, contested + 1: top + 1]
        ways += np.convolve(gold_poly, binom[n - n_gold, :length])[:length]

    result = ways[k_arr] / binom[n, k_arr]
    result = np.clip(result, 0.0, 1.0)  # rounding only; the exact value is a probability
    return float(result) if scalar else result

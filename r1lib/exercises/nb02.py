"""Exercises of notebook 02 (evaluating a reasoning model): pass@k, the clustered standard error,
the majority vote and benchmark-level pass@k.

Each checker calls the learner's function on cases chosen to expose one typical mistake each
(the plug-in formula, an off-by-one in the product, ``k > n`` returning 1.0, ``ddof=0``, the naive
binomial error bar, ``None`` winning the vote, pooling counts across problems) and compares with
r1lib's core. Feedback names the case and what was expected of it, never the value.
"""
from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from ..error_bars import pass_at_1
from ..metrics import majority_vote, pass_at_k
from .registry import NotAttempted, Wrong, call, close, exercise


def _number(value, what: str) -> float:
    """The learner's return value as one real number (numpy scalars and 0-d arrays welcome)."""
    if isinstance(value, (bool, np.bool_)):
        raise Wrong(f"{what}: expected a number, got a bool")
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if not isinstance(value, numbers.Real):
        raise Wrong(f"{what}: expected one number, got {type(value).__name__}")
    return float(value)


# ------------------------------------------------------------------------------- 02.1 pass@k

_PASS_AT_K_CASES = [
    # (n, c, k, what the case is about)
    (6, 2, 3, "a small case you can enumerate by hand"),
    (10, 1, 4, "c = 1 (the answer is k/n)"),
    (10, 3, 1, "k = 1 (the answer is c/n)"),
    (16, 4, 8, "a typical case"),
    (64, 9, 16, "R1's n = 64"),
    (8, 0, 5, "c = 0"),
    (5, 3, 3, "n - c < k (every k-subset holds a correct sample)"),
    (7, 7, 7, "c = n = k"),
    (2000, 10, 1000, "large n (float binomials overflow)"),
]


@exercise("02.1", title="the unbiased pass@k of one problem",
          hints="Section 3's product form never builds a binomial coefficient, so n = 2000 cannot "
               "overflow; count its factors. Handle n - c < k and k > n before you multiply.")
def _check_pass_at_k(answer):
    for n, c, k, about in _PASS_AT_K_CASES:
        what = f"pass@k(n={n}, c={c}, k={k}), {about}"
        got = _number(call(answer, n, c, k), what)
        close(got, pass_at_k(n, c, k), what, rtol=1e-9, atol=1e-12)
    for n, c, k in ((4, 2, 5), (4, 0, 5)):
        what = f"pass@k(n={n}, c={c}, k={k}) with k > n"
        try:
            out = answer(n, c, k)
        except NotImplementedError:
            raise NotAttempted() from None
        except ValueError:
            continue
        except Exception as exc:
            raise Wrong(f"{what}: raised {type(exc).__name__}; expected a ValueError that says k > n") from None
        raise Wrong(f"{what}: returned {out!r}; n samples say nothing about k > n samples, so raise "
                    f"ValueError instead of returning a number")
    return (f"{len(_PASS_AT_K_CASES)} cases (c = 0, c = 1, k = 1, n - c < k, n = 2000) match, "
            "and k > n raises ValueError")


# ---------------------------------------------------------------- 02.2 the clustered SE

def _correct_matrices():
    rng = np.random.default_rng(2411)
    out = []
    for P, n in ((5, 4), (12, 16), (40, 1), (30, 64)):
        p = rng.beta(0.7, 0.7, size=P)              # questions differ a lot in difficulty
        out.append(rng.random((P, n)) < p[:, None])
    return out


@exercise("02.2", title="the clustered standard error of pass@1",
          hints="The samples of one question are a cluster, not independent questions: reduce each "
               "question to one number first. Check which ddof your standard deviation uses.")
def _check_clustered_se(answer):
    for correct in _correct_matrices():
        P, n = correct.shape
        what = f"correct of shape ({P}, {n})"
        got = call(answer, correct.copy())
        got = _number(got, what)
        expected = pass_at_1(n, correct.sum(axis=1)).se
        close(got, expected, f"{what} ({P} questions, {n} samples each)", rtol=1e-9)
    return "4 evaluation runs (5 to 40 questions, 1 to 64 samples each) match the clustered SE"


# ------------------------------------------------------------------- 02.3 majority vote

_VOTE_CASES = [
    (["12", "7", "12"], "a clear majority"),
    ([None, None, None, "3/4", None], '"no answer" is the most frequent entry'),
    (["5", "9", "9", "5"], "a tie (the earliest of the tied answers wins)"),
    (["b", "a", "a", "b", "c"], "a tie where sorting the answers would pick the other one"),
    ([None, None], "no sample has an answer"),
    ([Fraction(1, 2), Fraction(2, 4), Fraction(1, 3)], "equal values (normalised answers) vote together"),
    (["x"], "a single sample"),
]


@exercise("02.3", title="the majority vote (cons@k) of one question",
          hints="None is not an answer and cannot win; a tie goes to the tied answer seen first; a "
               "list without any answer has no winner.")
def _check_majority_vote(answer):
    for i, (answers, about) in enumerate(_VOTE_CASES):
        what = f"answers = {answers!r} ({about})"
        expected = majority_vote(answers, ties="first")
        # the first case has an answer, so a stub returning None is "not attempted" there; later
        # a None return is a (possibly wrong) vote, not a stub
        got = call(answer, list(answers)) if i == 0 else _call_allowing_none(answer, answers, what)
        if expected is None:
            if got is not None:
                raise Wrong(f"{what}: expected None (no answer), got an answer")
            continue
        if got is None:
            raise Wrong(f"{what}: returned None (no answer), but some sample has an answer")
        if got != expected:
            raise Wrong(f"{what}: the vote picked another answer than the plurality "
                        f"(ties: first occurrence)")
    return f"{len(_VOTE_CASES)} cases: None never wins, ties go to the earliest answer, all-None gives None"


def _call_allowing_none(fn, answers, what):
    """Call the learner's vote where None is the right answer (``call`` would read a None return as
    an untouched stub). The first case, whose answer is not None, has already caught stubs."""
    try:
        return fn(list(answers))
    except NotImplementedError:
        raise NotAttempted() from None
    except Exception as exc:
        raise Wrong(f"{what}: raised {type(exc).__name__}: {exc}") from None


# ------------------------------------------------------- 02.4 pass@k of a whole benchmark

_BENCH_CASES = [
    (10, [10, 0], 5, "one solved and one unsolved problem"),
    (16, [0, 3, 8, 16, 1], 4, "five problems"),
    (64, list(range(0, 65, 4)), 8, "17 problems, n = 64"),
    (8, [2, 2, 2], 1, "k = 1"),
]


@exercise("02.4", title="pass@k of a benchmark",
          hints="Where does the average over problems go: before the estimator or after it? Try two "
               "problems, one always solved and one never.")
def _check_benchmark_pass_at_k(answer):
    for n, c, k, about in _BENCH_CASES:
        what = f"n={n}, c={c}, k={k} ({about})"
        got = _number(call(answer, n, np.array(c), k), what)
        expected = float(np.mean(pass_at_k(n, np.array(c), k)))
        close(got, expected, what, rtol=1e-9, atol=1e-12)
    return f"{len(_BENCH_CASES)} benchmarks match the mean of the per-problem estimates"

"""Exercises of notebook 02 (evaluating a reasoning model): pass@k, the clustered standard error,
the majority vote, benchmark-level pass@k, the exact maj@k and the paired standard error.

Each checker calls the learner's function on cases chosen to expose one typical mistake each
(the plug-in formula, an off-by-one in the product, ``k > n`` returning 1.0, ``ddof=0``, the naive
binomial error bar, ``None`` winning the vote, pooling counts across problems, voting over the
first ``k`` samples, sampling with replacement, ignoring ties, the unpaired standard error, pooling
samples across questions) and compares with r1lib's core. Feedback names the case and what was
expected of it, never the value. Hints come in tiers, on request; none states the whole recipe.
"""
from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from ..error_bars import paired_difference, pass_at_1, unpaired_difference
from ..metrics import maj_at_k, majority_vote, pass_at_k
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
          hints=("Section 4 rewrites C(n-c, k) / C(n, k) as a product that never builds a binomial "
                 "coefficient, so n = 2000 cannot overflow that way.",
                 "How many factors does that product have, and which j do they run over? Check your "
                 "range on section 4's n = 6, c = 2, k = 3 example, where every subset is listed.",
                 "Decide the edge cases before you multiply: n - c < k (every subset holds a correct "
                 "sample) and k > n (no subset of size k exists, so there is no estimate)."))
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
          hints=("The samples of one question share its difficulty: they are a cluster, not "
                 "independent questions (section 2).",
                 "Reduce each question to one number first; the standard error is then about P "
                 "numbers, so the square root under it is of P, not of P * n.",
                 "Which ddof does your standard deviation use? With 5 questions the two choices "
                 "differ by about 10 %."))
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
          hints=("None means 'no answer': should it be able to win a vote?",
                 "When two answers share the top count, the one that occurs first in the list wins: "
                 "does your counting remember the order in which answers first appear?",
                 "What does your function return for a list in which no sample has an answer?"))
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
          hints=("Where does the average over problems go: before the estimator or after it?",
                 "Try two problems with 10 samples each, one always solved and one never: what is "
                 "the benchmark's pass@5, and what does adding up the counts first give?"))
def _check_benchmark_pass_at_k(answer):
    for n, c, k, about in _BENCH_CASES:
        what = f"n={n}, c={c}, k={k} ({about})"
        got = _number(call(answer, n, np.array(c), k), what)
        expected = float(np.mean(pass_at_k(n, np.array(c), k)))
        close(got, expected, what, rtol=1e-9, atol=1e-12)
    return f"{len(_BENCH_CASES)} benchmarks match the mean of the per-problem estimates"


# --------------------------------------------------------------- 02.5 the exact maj@k

_MAJ_CASES = [
    # (answers, gold, k, what the case is about)
    (["7", "7", "3"], "7", 1, "k = 1, one sample votes alone"),
    (["7", "3", "7", "5", "7", "3"], "7", 3, "a typical case"),
    (["3", "7", "3", "7", "5"], "7", 2, "k = 2, where two different answers tie"),
    (["7", "7", "3"], "7", 3, "k = n, a single subset of all the samples"),
    ([None, None, "7", None, "3"], "7", 3, '"no answer" (None) in the list'),
    (["3", "5", "3"], "7", 2, "gold never sampled"),
    (["3", "7", "3", "7"], "7", 2, "ties where the other answer comes first"),
    (["7", "3", "5", "7", "3", "5", "7", "3", "9", "5", "7", "3"], "7", 6, "n = 12, k = 6"),
]


def _first_k_vote(answers, gold, k):
    return float(majority_vote(answers[:k]) == gold)


@exercise("02.5", title="the exact maj@k of one question",
          hints=("maj@k from n >= k samples averages the vote's credit over every subset of k of "
                 "them (section 5), not over one subset.",
                 "itertools.combinations gives every size-k subset of the positions; in each, count "
                 "the votes of real answers (None is no vote) and find the top count.",
                 "A tie for the top between m answers, gold among them, earns 1/m of a win: neither "
                 "a win nor a loss."))
def _check_maj_at_k(answer):
    for i, (answers, gold, k, about) in enumerate(_MAJ_CASES):
        what = f"{about}: answers = {answers!r}, gold = {gold!r}, k = {k}"
        got = call(answer, list(answers), gold, k) if i == 0 else _call_allowing_none(
            lambda a, g=gold, kk=k: answer(a, g, kk), answers, what)
        if got is None:
            raise Wrong(f"{what}: returned None; expected a number in [0, 1]")
        value = _number(got, what)
        expected = maj_at_k(answers, gold, k, ties="split")
        if abs(value - expected) <= 1e-9:
            continue
        if abs(value - _first_k_vote(answers, gold, k)) <= 1e-9 and k < len(answers):
            first = "sample" if k == 1 else f"{k} samples"
            raise Wrong(f"{what}: this is the vote of the first {first} only; maj@k averages the vote "
                        f"over every subset of {k} of the {len(answers)} samples")
        for ties, words in (("wrong", "counts a tie as a loss"), ("first", "lets the first tied answer win")):
            if abs(value - maj_at_k(answers, gold, k, ties=ties)) <= 1e-9:
                raise Wrong(f"{what}: your vote {words}; a tie between m answers gives gold 1/m")
        close(value, expected, what, rtol=1e-9, atol=1e-12)
    return (f"{len(_MAJ_CASES)} cases (k = 1, k = n, ties, None, gold never sampled, n = 12) match the "
            "average over all size-k subsets, ties split")


# ------------------------------------------------------------------ 02.6 the paired SE

def _paired_runs():
    """Two models on the same questions: the better one's rates are the baseline's, raised a little,
    so the per-question difficulty is shared (what pairing exploits)."""
    rng = np.random.default_rng(2026)
    out = []
    for P, n in ((5, 4), (12, 16), (30, 1), (30, 64)):
        base = rng.beta(0.5, 0.5, size=P)
        better = np.clip(base + 0.1 * rng.random(P), 0.0, 1.0)
        out.append((rng.random((P, n)) < better[:, None], rng.random((P, n)) < base[:, None]))
    return out


@exercise("02.6", title="the paired standard error of a comparison",
          hints=("Both models answered the same questions: compare them question by question "
                 "(section 2, 'Comparing two models', and section 3).",
                 "One number per question per model first, then one difference per question; the "
                 "standard error is about those P differences.",
                 "Check your ddof, and that the square root divides by the number of questions, not "
                 "of samples."))
def _check_paired_se(answer):
    for correct_a, correct_b in _paired_runs():
        P, n = correct_a.shape
        what = f"correct_a and correct_b of shape ({P}, {n}) ({P} questions, {n} samples each)"
        got = _number(call(answer, correct_a.copy(), correct_b.copy()), what)
        a, b = correct_a.mean(axis=1), correct_b.mean(axis=1)
        paired = paired_difference(a, b)
        if abs(got - paired.value) <= 1e-12 and abs(paired.value - paired.se) > 1e-9:
            raise Wrong(f"{what}: that is the difference of the two pass@1 values itself; return its "
                        "standard error")
        if abs(got - unpaired_difference(a, b).se) <= 1e-9 * paired.se:
            raise Wrong(f"{what}: this is the unpaired SE, sqrt(SE_a^2 + SE_b^2), which ignores that both "
                        "models met the same questions; it is too large here")
        close(got, paired.se, what, rtol=1e-9)
    return "4 comparisons (5 to 30 questions, 1 to 64 samples each) match the paired standard error"

"""Notebook 02's exercises: correct answers written here pass; typical wrong answers (the plug-in
formula, an off-by-one in the product, k > n returning 1.0, float binomials, ddof=0, the naive
error bar, None winning the vote, a tie broken by sorting, pooling counts across problems, the
first-k vote, maj@k with replacement, ties ignored, the unpaired SE, samples pooled across
questions) are each caught, with feedback that names the failing case and never shows the
expected value."""
from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from exercisetools import grade
from r1lib import exercises, maj_at_k, paired_difference, pass_at_k


# ----------------------------------------------------------------------------- 02.1 pass@k

def pass_at_k_right(n, c, k):
    if k > n or c > n or c < 0 or k < 1:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / j for j in range(n - c + 1, n + 1))


def pass_at_k_exact_integers(n, c, k):
    """Also right: Python integers do not overflow, and int / int rounds correctly."""
    if k > n:
        raise ValueError("k > n")
    return 1 - math.comb(n - c, k) / math.comb(n, k)


def plug_in(n, c, k):
    if k > n:
        raise ValueError("k > n")
    return 1 - (1 - c / n) ** k


def product_one_factor_too_many(n, c, k):
    if k > n:
        raise ValueError("k > n")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / j for j in range(n - c, n + 1) if j > 0)


def product_one_factor_too_few(n, c, k):
    if k > n:
        raise ValueError("k > n")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / j for j in range(n - c + 1, n))


def k_greater_than_n_returns_one(n, c, k):       # c = 0 decided first; 1.0 whenever n - c < k
    if c == 0:
        return 0.0
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / j for j in range(n - c + 1, n + 1))


def float_binomials(n, c, k):
    if k > n:
        raise ValueError("k > n")
    return 1 - float(math.comb(n - c, k)) / float(math.comb(n, k))   # OverflowError at n = 2000


def float_binomial_loop(n, c, k):
    if k > n:
        raise ValueError("k > n")

    def comb(a, b):
        out = 1.0
        for j in range(b):
            out *= (a - j) / (j + 1)
        return out
    return 1 - comb(n - c, k) / comb(n, k)      # inf / inf = nan at n = 2000


def assert_instead_of_value_error(n, c, k):
    assert k <= n, "k > n"
    return pass_at_k(n, c, k)


@pytest.mark.parametrize("answer", [pass_at_k_right, pass_at_k_exact_integers,
                                    lambda n, c, k: pass_at_k(n, c, k)])
def test_02_1_right_answers_pass(answer, capsys):
    ok, out = grade("02.1", answer, capsys)
    assert ok, out
    assert "correct" in out


@pytest.mark.parametrize("answer, case", [
    (plug_in, r"pass@k\(n=6, c=2, k=3\).*too small"),
    (product_one_factor_too_many, r"pass@k\(n=6, c=2, k=3\).*too large"),
    (product_one_factor_too_few, r"pass@k\(n=6, c=2, k=3\).*too small"),
    (k_greater_than_n_returns_one, r"k > n: returned 1\.0.*raise\s+ValueError"),
    (float_binomials, r"\(2000, 10, 1000\) raised OverflowError"),
    (float_binomial_loop, r"n=2000.*non-finite"),
    (assert_instead_of_value_error, r"k > n: raised AssertionError; expected a ValueError"),
])
def test_02_1_planted_mistakes_are_caught(answer, case, capsys):
    ok, out = grade("02.1", answer, capsys)
    assert ok is False
    assert re.search(case, out, re.S), out
    assert "exercises.hint(" in out
    # the value the first case expects (pass@3 of n = 6, c = 2 is exactly 0.8) is never printed
    assert pass_at_k(6, 2, 3) == pytest.approx(0.8)
    assert not re.search(r"(?<![\d.])0\.80*(?!\d)", out), out


# --------------------------------------------------------------------- 02.2 clustered SE

def clustered_se_right(correct):
    means = np.asarray(correct, dtype=float).mean(axis=1)
    return means.std(ddof=1) / math.sqrt(means.size)


def clustered_se_ddof0(correct):
    means = np.asarray(correct, dtype=float).mean(axis=1)
    return means.std() / math.sqrt(means.size)


def naive_binomial_se(correct):
    x = np.asarray(correct, dtype=float)
    p = x.mean()
    return math.sqrt(p * (1 - p) / x.size)


def sd_of_all_samples(correct):
    x = np.asarray(correct, dtype=float)
    return x.std(ddof=1) / math.sqrt(x.shape[0])


def divides_by_all_samples(correct):
    x = np.asarray(correct, dtype=float)
    return x.mean(axis=1).std(ddof=1) / math.sqrt(x.size)


def returns_value_and_se(correct):
    x = np.asarray(correct, dtype=float).mean(axis=1)
    return x.mean(), x.std(ddof=1) / math.sqrt(x.size)


def test_02_2_right_answer_passes(capsys):
    ok, out = grade("02.2", clustered_se_right, capsys)
    assert ok, out


@pytest.mark.parametrize("answer, case", [
    (clustered_se_ddof0, r"shape \(5, 4\).*too small"),
    (naive_binomial_se, r"shape \(5, 4\).*too (small|large)"),
    (sd_of_all_samples, r"shape \(5, 4\).*too (small|large)"),
    (divides_by_all_samples, r"shape \(5, 4\).*too small"),
    (returns_value_and_se, r"expected one number, got tuple"),
])
def test_02_2_planted_mistakes_are_caught(answer, case, capsys):
    ok, out = grade("02.2", answer, capsys)
    assert ok is False
    assert re.search(case, out, re.S), out


def test_02_2_ddof_is_caught_even_with_many_questions(capsys):
    """ddof=0 differs by sqrt(P/(P-1)): 1.3 % at P = 40; the checker's tolerance is far tighter."""
    from r1lib.exercises import nb02
    for correct in nb02._correct_matrices():
        P = correct.shape[0]
        right, wrong = clustered_se_right(correct), clustered_se_ddof0(correct)
        assert wrong / right == pytest.approx(math.sqrt((P - 1) / P))


# ---------------------------------------------------------------------- 02.3 majority vote

def vote_right(answers):
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    return counts.most_common(1)[0][0]       # ties: first inserted = first seen


def vote_counts_none(answers):
    return Counter(answers).most_common(1)[0][0]


def vote_ties_by_sorting(answers):
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    return sorted(str(a) for a, n in counts.items() if n == best)[0]


def vote_ties_last(answers):
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None
    best = max(counts.values())
    return [a for a, n in counts.items() if n == best][-1]


def vote_crashes_without_answers(answers):
    return Counter(a for a in answers if a is not None).most_common(1)[0][0]


def vote_returns_count(answers):
    return Counter(a for a in answers if a is not None).most_common(1)[0][1]


def vote_by_string(answers):
    """Groups by spelling: Fraction(2, 4) is Fraction(1, 2), but str(...) keeps them equal too;
    voting on repr of floats would not. Here the answers are compared as given: right."""
    return vote_right(answers)


def test_02_3_right_answers_pass(capsys):
    for answer in (vote_right, vote_by_string):
        ok, out = grade("02.3", answer, capsys)
        assert ok, out


@pytest.mark.parametrize("answer, case", [
    (vote_counts_none, r'"no answer" is the most frequent entry.*returned None'),
    (vote_ties_by_sorting, r"a tie where sorting the answers would pick the other one"),
    (vote_ties_last, r"a tie \(the earliest"),
    (vote_crashes_without_answers, r"no sample has an answer.*raised IndexError"),
    (vote_returns_count, r"a clear majority.*another answer"),
])
def test_02_3_planted_mistakes_are_caught(answer, case, capsys):
    ok, out = grade("02.3", answer, capsys)
    assert ok is False
    assert re.search(case, out, re.S), out


# ------------------------------------------------------------- 02.4 pass@k of a benchmark

def bench_right(n, c, k):
    return float(np.mean(pass_at_k(n, np.asarray(c), k)))


def bench_pooled(n, c, k):
    c = np.asarray(c)
    return pass_at_k(n * c.size, int(c.sum()), k)


def bench_mean_count_first(n, c, k):
    c_bar = float(np.mean(c))
    return 1 - math.prod(1 - k / j for j in range(int(round(n - c_bar)) + 1, n + 1)) if n - c_bar >= k else 1.0


def bench_plug_in(n, c, k):
    return float(np.mean(1 - (1 - np.asarray(c) / n) ** k))


def bench_pass_at_1_to_the_k(n, c, k):
    return 1 - (1 - float(np.mean(np.asarray(c) / n))) ** k


def test_02_4_right_answer_passes(capsys):
    ok, out = grade("02.4", bench_right, capsys)
    assert ok, out


@pytest.mark.parametrize("answer, case", [
    (bench_pooled, r"one solved and one unsolved problem.*too large"),
    (bench_mean_count_first, r"one solved and one unsolved problem.*too large"),
    (bench_plug_in, r"five problems.*too small"),
    (bench_pass_at_1_to_the_k, r"one solved and one unsolved problem.*too large"),
])
def test_02_4_planted_mistakes_are_caught(answer, case, capsys):
    ok, out = grade("02.4", answer, capsys)
    assert ok is False
    assert re.search(case, out, re.S), out


# ------------------------------------------------------------------ 02.5 the exact maj@k

def _vote_credit(votes, gold, ties="split"):
    counts = Counter(a for a in votes if a is not None)
    if not counts:
        return Fraction(0)
    top = max(counts.values())
    leaders = [a for a, n in counts.items() if n == top]
    if gold not in leaders:
        return Fraction(0)
    if ties == "split":
        return Fraction(1, len(leaders))
    if ties == "win":
        return Fraction(1)
    if ties == "wrong":
        return Fraction(int(len(leaders) == 1))
    return Fraction(int(leaders[0] == gold))          # "first": Counter keeps first-seen order


def maj_right(answers, gold, k, ties="split"):
    subsets = list(itertools.combinations(answers, k))
    return float(sum(_vote_credit(s, gold, ties) for s in subsets) / len(subsets))


def maj_first_k(answers, gold, k):
    return float(_vote_credit(answers[:k], gold))


def maj_with_replacement(answers, gold, k):
    """The plug-in: k draws *with* replacement from the empirical answer distribution."""
    draws = list(itertools.product(answers, repeat=k)) if len(answers) ** k <= 300_000 else None
    if draws is None:       # n = 12, k = 6: a Monte Carlo stand-in is still clearly off
        rng = np.random.default_rng(0)
        idx = rng.integers(0, len(answers), size=(20_000, k))
        return float(np.mean([float(_vote_credit([answers[i] for i in row], gold)) for row in idx]))
    return float(sum(_vote_credit(d, gold) for d in draws) / len(draws))


def maj_ties_win(answers, gold, k):
    return maj_right(answers, gold, k, ties="win")


def maj_ties_wrong(answers, gold, k):
    return maj_right(answers, gold, k, ties="wrong")


def maj_ties_first(answers, gold, k):
    return maj_right(answers, gold, k, ties="first")


def maj_none_votes(answers, gold, k):
    subsets = list(itertools.combinations(answers, k))
    total = 0.0
    for s in subsets:
        top = Counter(s).most_common()
        best = top[0][1]
        leaders = [a for a, n in top if n == best]
        total += (1 / len(leaders)) if gold in leaders else 0.0
    return total / len(subsets)


def test_02_5_right_answers_pass(capsys):
    for answer in (maj_right, lambda a, g, k: maj_at_k(a, g, k)):
        ok, out = grade("02.5", answer, capsys)
        assert ok, out


@pytest.mark.parametrize("answer, case", [
    (maj_first_k, r"k = 1, one sample votes alone.*the vote of the first sample only"),
    (maj_with_replacement, r"k = 1|a typical case|k = n, a single subset.*too small"),
    (maj_ties_win, r"a typical case.*too large"),
    (maj_ties_wrong, r"counts a tie as a loss"),
    (maj_ties_first, r"lets the first tied answer win"),
    (maj_none_votes, r'"no answer" \(None\) in the list.*too small'),
])
def test_02_5_planted_mistakes_are_caught(answer, case, capsys):
    ok, out = grade("02.5", answer, capsys)
    assert ok is False
    assert re.search(case, out, re.S), out
    assert "exercises.hint(" in out


def test_02_5_feedback_never_shows_the_expected_value(capsys):
    from r1lib.exercises import nb02
    for answer in (maj_with_replacement, maj_ties_win, maj_none_votes):
        ok, out = grade("02.5", answer, capsys)
        for answers, gold, k, _ in nb02._MAJ_CASES:
            expected = maj_at_k(answers, gold, k)
            if 0 < expected < 1:
                assert f"{expected:.4g}" not in out and f"{expected:.3f}" not in out


def test_02_5_cases_pin_down_every_tie_rule():
    """Every wrong tie rule differs from "split" on some case, and the exact values are those of a
    brute force over subsets with exact fractions."""
    from r1lib.exercises import nb02
    for answers, gold, k, _ in nb02._MAJ_CASES:
        assert maj_at_k(answers, gold, k) == pytest.approx(maj_right(answers, gold, k), abs=1e-12)
    for ties in ("win", "wrong", "first"):
        assert any(abs(maj_right(a, g, k, ties) - maj_right(a, g, k)) > 1e-6 for a, g, k, _ in nb02._MAJ_CASES), ties


# ------------------------------------------------------------------ 02.6 the paired SE

def paired_right(correct_a, correct_b):
    d = np.asarray(correct_a, float).mean(axis=1) - np.asarray(correct_b, float).mean(axis=1)
    return d.std(ddof=1) / math.sqrt(d.size)


def paired_unpaired(correct_a, correct_b):
    a, b = (np.asarray(x, float).mean(axis=1) for x in (correct_a, correct_b))
    return math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)


def paired_pooled_samples(correct_a, correct_b):
    """Every sample-level difference as if independent: sd over P * n, / sqrt(P * n)."""
    d = (np.asarray(correct_a, float) - np.asarray(correct_b, float)).ravel()
    return d.std(ddof=1) / math.sqrt(d.size)


def paired_ddof0(correct_a, correct_b):
    d = np.asarray(correct_a, float).mean(axis=1) - np.asarray(correct_b, float).mean(axis=1)
    return d.std() / math.sqrt(d.size)


def paired_returns_difference(correct_a, correct_b):
    return float(np.mean(correct_a) - np.mean(correct_b))


def paired_naive_binomial(correct_a, correct_b):
    a, b = np.mean(correct_a), np.mean(correct_b)
    n = np.size(correct_a)
    return math.sqrt(a * (1 - a) / n + b * (1 - b) / n)


def test_02_6_right_answers_pass(capsys):
    for answer in (paired_right,
                   lambda a, b: paired_difference(np.mean(a, axis=1), np.mean(b, axis=1)).se):
        ok, out = grade("02.6", answer, capsys)
        assert ok, out


@pytest.mark.parametrize("answer, case", [
    (paired_unpaired, r"shape \(5, 4\).*unpaired SE.*same questions"),
    (paired_pooled_samples, r"shape \(5, 4\).*too (small|large)"),
    (paired_ddof0, r"shape \(5, 4\).*too small"),
    (paired_returns_difference, r"shape \(5, 4\).*difference of the two pass@1 values itself"),
    (paired_naive_binomial, r"shape \(5, 4\).*too (small|large)"),
])
def test_02_6_planted_mistakes_are_caught(answer, case, capsys):
    ok, out = grade("02.6", answer, capsys)
    assert ok is False
    assert re.search(case, out, re.S), out


def test_02_6_pairing_matters_in_the_checker_data():
    """In every comparison the paired SE is clearly below the unpaired one (the models share the
    questions' difficulty), so the unpaired answer can never pass by luck."""
    from r1lib.exercises import nb02
    for a, b in nb02._paired_runs():
        assert paired_right(a, b) < 0.8 * paired_unpaired(a, b)


# ------------------------------------------------------------------------------ the set

def test_the_notebook_exercises_are_02_1_to_02_6():
    assert [i for i in exercises.ids() if i.startswith("02.")] == ["02.1", "02.2", "02.3", "02.4", "02.5", "02.6"]


def test_hints_come_in_tiers_and_none_states_a_whole_recipe():
    """At least two tiers each; no tier holds a complete formula (no hint is code)."""
    for i in ("02.1", "02.2", "02.3", "02.4", "02.5", "02.6"):
        tiers = exercises.info(i)["hints"]
        assert len(tiers) >= 2, i
        for t in tiers:
            assert not re.search(r"def |np\.|\.std\(|\breturn [a-z_]+\s*[\(\[=]|sqrt\(", t), (i, t)

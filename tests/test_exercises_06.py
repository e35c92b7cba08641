"""Notebook 06's exercises: correct answers written here pass; typical wrong answers fail with
feedback that names the failing case and never shows the expected value."""
from __future__ import annotations

import re

import numpy as np
import pytest

from exercisetools import assert_tiers_hide_the_recipe, grade

FORMAT = re.compile(r"^<think>(?:\d|\[[abc]\])+</think><answer>\d</answer>$")
FINAL = re.compile(r"<answer>(\d)</answer>$")


# ------------------------------------------------------------------------------------ 06.1

def good_reward(text, gold):
    m = FINAL.search(text)
    return float(m is not None and int(m.group(1)) == gold) + float(FORMAT.match(text) is not None)


def loophole_reward(text, gold):          # the lazy checker: gold anywhere
    return float(str(gold) in text) + float(FORMAT.match(text) is not None)


def unanchored_format(text, gold):        # format regex without ^...$
    m = FINAL.search(text)
    fmt = re.search(r"<think>(?:\d|\[[abc]\])+</think><answer>\d</answer>", text) is not None
    return float(m is not None and int(m.group(1)) == gold) + float(fmt)


def empty_think_allowed(text, gold):      # * instead of +
    m = FINAL.search(text)
    fmt = re.match(r"^<think>(?:\d|\[[abc]\])*</think><answer>\d</answer>$", text) is not None
    return float(m is not None and int(m.group(1)) == gold) + float(fmt)


def first_answer(text, gold):             # the first digit after <answer>, not the final answer
    m = re.search(r"<answer>(\d)", text)
    return float(m is not None and int(m.group(1)) == gold) + float(FORMAT.match(text) is not None)


def accuracy_only(text, gold):
    m = FINAL.search(text)
    return float(m is not None and int(m.group(1)) == gold)


def test_06_1_correct(capsys):
    ok, out = grade("06.1", good_reward, capsys)
    assert ok, out
    assert "correct" in out


@pytest.mark.parametrize("wrong, needle", [
    (loophole_reward, "only the final <answer> counts"),
    (unanchored_format, "text '"),
    (empty_think_allowed, "<think></think>"),
    (first_answer, "text '"),
    (accuracy_only, "too small"),
    (lambda text, gold: 3.0, "0, 1 or 2"),
])
def test_06_1_wrong_answers(capsys, wrong, needle):
    ok, out = grade("06.1", wrong, capsys)
    assert not ok
    assert needle in out, out
    assert "exercises.hint(" in out


# ------------------------------------------------------------------------------------ 06.2

def good_crossover(n, c_base, c_rl):
    from math import comb

    def mean_pass(c, k):      # independent of r1lib: exact binomials
        return np.mean([1 - comb(n - ci, k) / comb(n, k) for ci in c])

    for k in range(1, n + 1):
        if mean_pass(c_base, k) >= mean_pass(c_rl, k) - 1e-12:
            return k
    return 0


def index_not_k(n, c_base, c_rl):
    k = good_crossover(n, c_base, c_rl)
    return k - 1 if k else 0


def pooled(n, c_base, c_rl):
    from math import comb
    P = len(c_base)
    for k in range(1, n + 1):
        b = 1 - comb(n * P - int(sum(c_base)), k) / comb(n * P, k)
        r = 1 - comb(n * P - int(sum(c_rl)), k) / comb(n * P, k)
        if b >= r:
            return k
    return 0


def plugin(n, c_base, c_rl):
    for k in range(1, n + 1):
        b = np.mean(1 - (1 - np.asarray(c_base) / n) ** k)
        r = np.mean(1 - (1 - np.asarray(c_rl) / n) ** k)
        if b >= r:
            return k
    return 0


def strictly_greater(n, c_base, c_rl):
    from math import comb
    for k in range(1, n + 1):
        b = np.mean([1 - comb(n - c, k) / comb(n, k) for c in c_base])
        r = np.mean([1 - comb(n - c, k) / comb(n, k) for c in c_rl])
        if b > r:
            return k
    return 0


def never_zero(n, c_base, c_rl):          # returns n instead of 0 when there is no crossover
    return good_crossover(n, c_base, c_rl) or n


def test_06_2_correct(capsys):
    ok, out = grade("06.2", good_crossover, capsys)
    assert ok, out


@pytest.mark.parametrize("wrong, needle", [
    (index_not_k, "off by one"),
    (pooled, "pooled"),
    (plugin, "n = "),
    (strictly_greater, "a tie counts as caught up"),
    (never_zero, "never catches up"),
    (lambda n, a, b: 2.5, "integer"),
])
def test_06_2_wrong_answers(capsys, wrong, needle):
    ok, out = grade("06.2", wrong, capsys)
    assert not ok
    assert needle in out, out


# ------------------------------------------------------------------------------------ 06.3

def good_grad(z, ys):
    z = np.asarray(z, dtype=float)
    p = np.exp(z - z.max())
    p /= p.sum()
    onehot = np.zeros((len(ys), len(z)))
    onehot[np.arange(len(ys)), ys] = 1.0
    return onehot.mean(axis=0) - p


def test_06_3_correct(capsys):
    ok, out = grade("06.3", good_grad, capsys)
    assert ok, out


@pytest.mark.parametrize("wrong, needle", [
    (lambda z, ys: -good_grad(z, ys), "sign is flipped"),
    (lambda z, ys: len(ys) * good_grad(z, ys), "summed"),
    (lambda z, ys: good_grad(z, ys)[:-1], "shape"),
    (lambda z, ys: good_grad(z, ys) + np.exp(z) / np.exp(z).sum(), "logits"),   # forgot - softmax
    (lambda z, ys: good_grad(z, ys[:1]), "logits"),                            # one sample only
])
def test_06_3_wrong_answers(capsys, wrong, needle):
    ok, out = grade("06.3", wrong, capsys)
    assert not ok
    assert needle in out, out


def test_feedback_never_shows_the_expected_numbers(capsys):
    z, ys = np.array([2.0, -1.0, 0.5, 0.0]), np.array([3, 3, 3, 0, 2])
    expected = good_grad(z, ys)
    _, out = grade("06.3", lambda z, ys: 0.5 * good_grad(z, ys), capsys)
    for v in expected:
        assert f"{v:.4f}" not in out


RECIPES = {
    "06.1": ("^", "$", "<think>", "<answer>", "final"),
    "06.2": ("pass_at_k", "problem", "first", ">=", "0"),
    "06.3": ("one-hot", "average", "ascend"),
}


@pytest.mark.parametrize("exercise_id", sorted(RECIPES))
def test_hints_come_in_tiers_and_no_tier_states_the_whole_recipe(exercise_id):
    assert_tiers_hide_the_recipe(exercise_id, RECIPES[exercise_id])


def test_a_reward_outside_0_1_2_is_named_as_a_plain_number(capsys):
    ok, out = grade("06.1", lambda text, gold: np.float64(3.0), capsys)
    assert ok is False and "got 3;" not in out and "got 3" in out and "np.float64" not in out

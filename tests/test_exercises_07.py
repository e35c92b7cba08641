"""Notebook 07's exercises: correct answers written here (independently of r1lib) pass; typical
wrong answers fail with feedback that names the mistake and never shows the expected value."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest

from exercisetools import assert_tiers_hide_the_recipe, grade
from r1lib.exercises import nb07


def _logsumexp(z):
    m = np.max(z, axis=-1, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))


# ------------------------------------------------------------------------------------ 07.1

def good_log_probs(logits, ids, n_prompt):
    out = []
    for t in range(n_prompt, len(ids)):
        row = logits[t - 1]
        m = max(row)
        lse = m + math.log(sum(math.exp(v - m) for v in row))
        out.append(row[ids[t]] - lse)
    return np.array(out)


def off_by_one(logits, ids, n_prompt):
    lp = logits - _logsumexp(logits)
    rows = np.minimum(np.arange(n_prompt, len(ids)), len(ids) - 1)
    return lp[rows, ids[n_prompt:]]


def raw_logits(logits, ids, n_prompt):
    rows = np.arange(n_prompt, len(ids))
    return logits[rows - 1, ids[rows]]


def probabilities(logits, ids, n_prompt):
    return np.exp(good_log_probs(logits, ids, n_prompt))


def unstable(logits, ids, n_prompt):
    lp = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    rows = np.arange(n_prompt, len(ids))
    return lp[rows - 1, ids[rows]]


def with_prompt(logits, ids, n_prompt):
    lp = logits - _logsumexp(logits)
    return lp[np.arange(len(ids) - 1), ids[1:]]


def test_07_1_correct(capsys):
    ok, out = grade("07.1", good_log_probs, capsys)
    assert ok, out
    assert "lm.log_probs" in out


@pytest.mark.parametrize("wrong, needle", [
    (off_by_one, "off by one position"),
    (raw_logits, "raw logits"),
    (probabilities, "<= 0"),
    (unstable, "nan or inf"),
    (with_prompt, "one log-probability per completion token"),
])
def test_07_1_wrong_answers(capsys, wrong, needle):
    ok, out = grade("07.1", wrong, capsys)
    assert ok is False
    assert needle in out, out
    assert "exercises.hint(" in out


# ------------------------------------------------------------------------------------ 07.2

TEMPLATE = re.compile(r"^<think>([^<]*)</think><answer>([^<]+)</answer>$")


def _accuracy(body, gold):
    """Independent of r1lib's grader, the rule its docstring states: the number in the <answer>
    tags when there are any, else a bare number, else the number after "the answer is"."""
    m = re.search(r"<answer>([^<]*)</answer>", body)
    if m:
        answer = m.group(1)
    elif re.fullmatch(r"\s*-?\d+\s*", body):
        answer = body
    else:
        m = re.search(r"the answer is (-?\d+)", body)
        answer = m.group(1) if m else None
    return float(answer is not None and answer.strip().lstrip("-").isdigit() and int(answer) == gold)


def _rewards(texts, gold, cut=True):
    out = []
    for t in texts:
        body = t.split("<eos>")[0] if cut else t
        fmt = float(TEMPLATE.match(t.split("<eos>")[0]) is not None)
        out.append(_accuracy(body if cut else t, gold) + fmt)
    return np.array(out)


def _standardise(r, ddof=1):
    sd = np.std(r, ddof=ddof)
    return np.zeros_like(r) if sd == 0 else (r - r.mean()) / sd


def good_advantages(texts, gold):
    return _standardise(_rewards(texts, gold))


def population_std(texts, gold):
    return _standardise(_rewards(texts, gold), ddof=0)


def eos_left_in(texts, gold):
    r = []
    for t in texts:
        # the grader sees '85<eos>': a bare answer is not read
        fmt = float(TEMPLATE.match(t.split("<eos>")[0]) is not None)
        m = re.search(r"<answer>([^<]*)</answer>", t)
        acc = float(m is not None and m.group(1).isdigit() and int(m.group(1)) == gold)
        if m is None:
            acc = float(re.fullmatch(r"-?\d+", t) is not None and int(t) == gold)
        r.append(acc + fmt)
    return _standardise(np.array(r))


def accuracy_only(texts, gold):
    return _standardise(np.array([_accuracy(t.split("<eos>")[0], gold) for t in texts]))


def nan_for_equal_groups(texts, gold):
    r = _rewards(texts, gold)
    return (r - r.mean()) / np.std(r, ddof=1)


def no_mean(texts, gold):
    r = _rewards(texts, gold)
    sd = np.std(r, ddof=1)
    return np.zeros_like(r) if sd == 0 else r / sd


def test_07_2_correct(capsys):
    ok, out = grade("07.2", good_advantages, capsys)
    assert ok, out


@pytest.mark.parametrize("wrong, needle", [
    (population_std, "ddof=1"),
    (eos_left_in, "cut the text at '<eos>'"),
    (accuracy_only, "accuracy + format"),
    (nan_for_equal_groups, "NaN (0/0)"),
    (no_mean, "sum to 0"),
])
def test_07_2_wrong_answers(capsys, wrong, needle):
    ok, out = grade("07.2", wrong, capsys)
    assert ok is False
    assert needle in out, out


def test_07_2_cases_have_signal_and_catch_the_eos_mistake():
    """The cases are informative: the rewards differ within each group but the last, and at least
    one group has a bare answer that the raw text would grade wrong."""
    cases = nb07._advantage_cases()
    informative = [np.ptp(_rewards(t, g)) > 0 for _, t, g in cases]
    assert informative == [True] * (len(cases) - 1) + [False]
    assert any(not np.array_equal(_rewards(t, g), _rewards(t, g, cut=False)) for _, t, g in cases)
    # the independent reading agrees with r1lib's task rewards on every case
    for _, texts, gold in cases:
        np.testing.assert_array_equal(_rewards(texts, gold),
                                      nb07.arithmetic.rewards(texts, [gold] * len(texts)))


# ------------------------------------------------------------------------------------ 07.3

def good_kl(logp, ref_logp, lengths):
    total, count = 0.0, 0
    for row_p, row_r, n in zip(logp, ref_logp, lengths):
        for a, b in zip(row_p[:n], row_r[:n]):
            d = b - a
            total += math.exp(d) - d - 1.0
            count += 1
    return total / count


def pads_in(logp, ref_logp, lengths):
    d = ref_logp - logp
    return float(np.mean(np.exp(d) - d - 1))


def per_row(logp, ref_logp, lengths):
    d = ref_logp - logp
    k3 = np.exp(d) - d - 1
    return float(np.mean([k3[i, :n].mean() for i, n in enumerate(lengths)]))


def k1(logp, ref_logp, lengths):
    mask = np.arange(logp.shape[1])[None, :] < lengths[:, None]
    return float(np.sum((logp - ref_logp) * mask) / mask.sum())


def swapped(logp, ref_logp, lengths):
    return good_kl(ref_logp, logp, lengths)


def test_07_3_correct(capsys):
    ok, out = grade("07.3", good_kl, capsys)
    assert ok, out


@pytest.mark.parametrize("wrong, needle", [
    (pads_in, "padding was averaged in"),
    (per_row, "per-completion means"),
    (k1, "this is k1"),
    (swapped, "upside down"),
])
def test_07_3_wrong_answers(capsys, wrong, needle):
    ok, out = grade("07.3", wrong, capsys)
    assert ok is False
    assert needle in out, out


# ------------------------------------------------------------------------------------ 07.4

def good_entropy(logits, T):
    z = np.asarray(logits, dtype=float) / T
    logp = z - _logsumexp(z)
    return -np.sum(np.exp(logp) * logp, axis=-1)


def times_t(logits, T):
    return good_entropy(np.asarray(logits) * T * T, T)   # softmax(z * T)


def bits(logits, T):
    return good_entropy(logits, T) / math.log(2)


def naive(logits, T):
    e = np.exp(np.asarray(logits, dtype=float) / T)
    p = e / e.sum(axis=-1, keepdims=True)
    return -np.sum(p * np.log(p), axis=-1)


def wrong_sign(logits, T):
    return -good_entropy(logits, T)


def flat(logits, T):
    return float(np.sum(good_entropy(logits, T)))


def test_07_4_correct(capsys):
    ok, out = grade("07.4", good_entropy, capsys)
    assert ok, out


@pytest.mark.parametrize("wrong, needle", [
    (times_t, "multiplied by T"),
    (bits, "bits"),
    (naive, "nan or inf"),
    (wrong_sign, "sign"),
    (flat, "one entropy per row"),
])
def test_07_4_wrong_answers(capsys, wrong, needle):
    ok, out = grade("07.4", wrong, capsys)
    assert ok is False
    assert needle in out, out


def test_feedback_never_shows_the_expected_numbers(capsys):
    """A wrong answer's feedback holds no expected value (e.g. the KL of the first batch)."""
    _, logp, ref, lengths, _mask = nb07._kl_cases()[0]
    expected = good_kl(logp, ref, lengths)
    ok, out = grade("07.3", lambda a, b, c: 0.5 * good_kl(a, b, c), capsys)
    assert ok is False
    assert f"{expected:.4f}" not in out and f"{expected:.3g}" not in out


# Each exercise's recipe, as the words a hint would need to give it away in one go.
RECIPES = {
    "07.1": ('n_prompt - 1', 'logsumexp', 'row'),
    "07.2": ('accuracy + format', '<eos>', 'ddof=1'),
    "07.3": ('j < lengths[i]', 'pi_ref / pi', 'number of tokens', 'r - 1 - log r'),
    "07.4": ('z / T', 'shift by the maximum', 'p log p'),
}


@pytest.mark.parametrize("exercise_id", sorted(RECIPES))
def test_hints_come_in_tiers_and_no_tier_states_the_whole_recipe(exercise_id):
    assert_tiers_hide_the_recipe(exercise_id, RECIPES[exercise_id])

"""Exercises of notebook 05: typical wrong answers are False with feedback that names the failing
case (and never prints the expected value); correct answers written here pass."""
from __future__ import annotations

import numpy as np
import pytest

from exercisetools import assert_tiers_hide_the_recipe, grade


# ---- 05.1 ---------------------------------------------------------------------------------------

def onpolicy(advantages, mask, loss_type, max_completion_length, *, row_len=None, total=None, const=None, sign=1.0):
    per_token = -sign * np.asarray(advantages, float)[:, None] * mask
    n = mask.sum(axis=1) if row_len is None else row_len(mask)
    if loss_type == "grpo":
        return np.mean(per_token.sum(axis=1) / n)
    if loss_type == "dapo":
        return per_token.sum() / (n.sum() if total is None else total(mask))
    return per_token.sum() / (len(mask) * (max_completion_length if const is None else const(mask)))


def test_05_1_correct(capsys):
    ok, out = grade("05.1", onpolicy, capsys)
    assert ok, out


@pytest.mark.parametrize("wrong, where", [
    (lambda a, m, lt, L: onpolicy(a, m, lt, L, sign=-1.0), "sign is flipped"),
    (lambda a, m, lt, L: onpolicy(a, m, lt, L, row_len=lambda mm: np.full(len(mm), mm.shape[1])), "loss_type='grpo'"),
    (lambda a, m, lt, L: onpolicy(a, m, lt, L, total=lambda mm: mm.size), "loss_type='dapo'"),
    (lambda a, m, lt, L: onpolicy(a, m, lt, L, const=lambda mm: mm.shape[1]), "loss_type='dr_grpo'"),
    # grpo's aggregation used for every loss_type
    (lambda a, m, lt, L: onpolicy(a, m, "grpo", L), "loss_type='dapo'"),
])
def test_05_1_planted_mistakes(wrong, where, capsys):
    ok, out = grade("05.1", wrong, capsys)
    assert not ok and where in out, out
    assert "batch" in out


# ---- 05.2 ---------------------------------------------------------------------------------------

def test_05_2_correct(capsys):
    def ratio(logp, old, mask):
        return np.exp(np.where(mask, logp - old, 0.0).sum(axis=1) / mask.sum(axis=1))
    ok, out = grade("05.2", ratio, capsys)
    assert ok, out


@pytest.mark.parametrize("wrong, where", [
    (lambda lp, old, m: np.exp(np.where(m, lp - old, 0.0).sum(axis=1)), "product of the token ratios"),
    (lambda lp, old, m: np.exp(np.where(m, lp - old, 0.0).mean(axis=1)), "padding"),
    (lambda lp, old, m: np.exp(np.where(m, old - lp, 0.0).sum(axis=1) / m.sum(axis=1)), "batch 1"),
    (lambda lp, old, m: np.where(m, np.exp(lp - old), 0.0).sum(axis=1) / m.sum(axis=1), "batch 1"),  # arithmetic mean
    (lambda lp, old, m: np.exp(lp - old), "expected shape"),
])
def test_05_2_planted_mistakes(wrong, where, capsys):
    ok, out = grade("05.2", wrong, capsys)
    assert not ok and where in out, out


# ---- 05.3 ---------------------------------------------------------------------------------------

def kl_grad(logp, ref, kl):
    d = logp - ref
    return {"k1": np.ones_like(d), "k2": d, "k3": 1 - np.exp(-d), "k3+": d}[kl]


def test_05_3_correct(capsys):
    ok, out = grade("05.3", kl_grad, capsys)
    assert ok, out


@pytest.mark.parametrize("wrong, where", [
    (lambda lp, ref, kl: -kl_grad(lp, ref, kl), "sign is flipped"),
    (lambda lp, ref, kl: kl_grad(lp, ref, "k3" if kl == "k3+" else kl), "k3's own gradient"),
    (lambda lp, ref, kl: np.exp(ref - lp) - 1 if kl == "k3" else kl_grad(lp, ref, kl), "kl='k3'"),  # wrong direction
    (lambda lp, ref, kl: np.zeros_like(lp) if kl == "k1" else kl_grad(lp, ref, kl), "kl='k1'"),
    (lambda lp, ref, kl: (lp - ref) ** 2 / 2 if kl == "k2" else kl_grad(lp, ref, kl), "kl='k2'"),  # the value, not the gradient
])
def test_05_3_planted_mistakes(wrong, where, capsys):
    ok, out = grade("05.3", wrong, capsys)
    assert not ok and where in out, out


# ---- 05.4 ---------------------------------------------------------------------------------------

def weight(c, G, scale, ddof=1):
    r = np.r_[np.ones(c), np.zeros(G - c)]
    centred = r - r.mean()
    if scale == "group" and 0 < c < G:
        centred = centred / r.std(ddof=ddof)
    return np.abs(centred).mean()


def test_05_4_correct(capsys):
    ok, out = grade("05.4", weight, capsys)
    assert ok, out


@pytest.mark.parametrize("wrong, where", [
    (lambda c, G, s: weight(c, G, s, ddof=0), "population std"),
    (lambda c, G, s: weight(c, G, "group"), "scale='none'"),        # always divides
    (lambda c, G, s: weight(c, G, "none"), "scale='group'"),        # never divides
    (lambda c, G, s: np.mean(np.r_[np.ones(c), np.zeros(G - c)] - c / G), "scale='none'"),  # no absolute value
])
def test_05_4_planted_mistakes(wrong, where, capsys):
    ok, out = grade("05.4", wrong, capsys)
    assert not ok and where in out, out


def test_05_4_an_all_equal_group_that_divides_by_zero_is_reported_not_raised(capsys):
    def naive(c, G, scale):
        r = np.r_[np.ones(c), np.zeros(G - c)]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.abs((r - r.mean()) / (r.std(ddof=1) if scale == "group" else 1.0)).mean()
    ok, out = grade("05.4", naive, capsys)
    assert not ok and "non-finite" in out, out


# Each exercise's recipe, as the words a hint would need to give it away in one go.
RECIPES = {
    "05.1": ('-A_i', 'max_completion_length', 'number of rows', 'total'),
    "05.2": ('log space', 'mask', 'n_i', 'exp(sum'),
    "05.3": ('exp(-delta) + delta - 1', '1 - exp(-delta)', 'k2'),
    "05.4": ('ddof = 1', 'c(G - c)', 'sqrt'),
}


@pytest.mark.parametrize("exercise_id", sorted(RECIPES))
def test_hints_come_in_tiers_and_no_tier_states_the_whole_recipe(exercise_id):
    assert_tiers_hide_the_recipe(exercise_id, RECIPES[exercise_id])

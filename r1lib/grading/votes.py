"""Majority votes as r1-score computes them: each problem's votes reduced to a small pattern.

maj@k of a problem depends only on which samples agree (and, for ``ties="first"``, on their
order), not on what the wrong answers are; equal patterns have equal maj@k, so r1-score computes
:func:`r1lib.maj_at_k` once per distinct pattern, in this process or in the grading workers
(:mod:`r1lib.grading.worker` runs :func:`maj_rows` on plain data).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Optional

import numpy as np

from ..metrics import maj_at_k

__all__ = ["GOLD", "vote_pattern", "pattern_votes", "maj_rows", "MajMemo"]


class _Gold:
    """The vote of every correct sample: one answer class, distinct from any parsed answer."""

    def __repr__(self) -> str:
        return "<gold>"


GOLD = _Gold()


def vote_pattern(votes: list, ties: str) -> tuple:
    """What maj@k of one problem depends on, as a short tuple of small integers.

    maj@k does not depend on what the wrong answers are, only on which samples agree. With
    ``ties="first"`` the order matters too: the answers relabelled by first appearance (gold 0,
    no answer -1, others 1, 2, ...). With ``"split"`` and ``"wrong"`` only the class sizes matter:
    ``(gold's count, the no-answer count, the other classes' sizes in decreasing order...)``.
    Equal patterns have equal maj@k, so each distinct pattern is computed once.
    """
    if ties == "first":
        labels: dict = {GOLD: 0, None: -1}
        return tuple(labels.setdefault(v, len(labels) - 1) for v in votes)
    counts: dict = {}
    for v in votes:
        counts[v] = counts.get(v, 0) + 1
    gold, none = counts.pop(GOLD, 0), counts.pop(None, 0)
    return (gold, none) + tuple(sorted(counts.values(), reverse=True))


def pattern_votes(pattern: tuple, ties: str) -> list:
    """A vote list with the given pattern (gold is 0, no answer None)."""
    if ties == "first":
        return [None if a < 0 else a for a in pattern]
    votes = [0] * pattern[0] + [None] * pattern[1]
    for label, size in enumerate(pattern[2:], start=1):
        votes += [label] * size
    return votes


def maj_rows(patterns: list, ks: list, ties: str) -> list:
    """maj@k at every k for each pattern."""
    return [maj_at_k(pattern_votes(p, ties), 0, ks, ties=ties) for p in patterns]


class MajMemo:
    """maj@k rows of vote patterns, each pattern computed once per list of k.

    One memo serves both files of a comparison and the comparison itself: the patterns repeat
    across problems and across runs (every problem answered right by 60 of 64 samples with one
    wrong answer in the rest has the same pattern).
    """

    def __init__(self, ties: str) -> None:
        self.ties = ties
        self.rows: dict = {}  # (pattern, ks) -> maj@k at each k

    def table(self, patterns: list, ks: list,
              mapper: Optional[Callable[[str, list], list]] = None) -> np.ndarray:
        """maj@k for every problem and k (rows: problems; a pattern of None, a problem with no
        correct sample, is 0). ``mapper(name, args_list)`` computes the missing patterns in
        worker processes when there are many of them (``GradingPool.map``)."""
        key_ks = tuple(ks)
        missing = list(dict.fromkeys(p for p in patterns
                                     if p is not None and (p, key_ks) not in self.rows))
        if mapper is not None and len(missing) >= PARALLEL_FROM:
            size = -(-len(missing) // 8)
            chunks = [(missing[i:i + size], list(ks), self.ties) for i in range(0, len(missing), size)]
            new = [r for part in mapper("maj_rows", chunks) for r in part]
        else:
            new = maj_rows(missing, list(ks), self.ties)
        for p, row in zip(missing, new):
            self.rows[(p, key_ks)] = np.asarray(row, dtype=float)
        out = np.zeros((len(patterns), len(ks)))
        for i, p in enumerate(patterns):
            if p is not None:
                out[i] = self.rows[(p, key_ks)]
        return out


PARALLEL_FROM = 2000  # fewer distinct patterns than this are computed in this process

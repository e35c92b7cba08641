"""Majority votes as r1-score computes them: each problem's votes reduced to a small pattern.

maj@k of a problem depends only on which samples agree (and, for ``ties="first"``, on their
order), not on what the wrong answers are; equal patterns have equal maj@k, so r1-score computes
:func:`r1lib.maj_at_k` once per distinct pattern, in this process or in the grading workers
(:mod:`r1lib.grading.worker` runs :func:`maj_rows` on plain data).
"""
from __future__ import annotations

from ..metrics import maj_at_k

__all__ = ["GOLD", "vote_pattern", "pattern_votes", "maj_rows"]


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

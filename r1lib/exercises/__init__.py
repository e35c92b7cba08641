"""Graded exercises for the notebooks: ``check("02.1", answer)`` -> True/False, with feedback.

Every notebook's exercises are stubs the learner completes, e.g.::

    def my_pass_at_k(n, c, k):
        ...                                   # your code here
    r1lib.exercises.check("02.1", my_pass_at_k)

``check`` never raises for a learner's answer and never prints the solution:

- ``None``, ``...`` or a function that still returns ``None``/``...`` (or raises
  ``NotImplementedError``) prints "not attempted yet" and a hint, and returns False, so Run All
  passes with untouched stubs;
- a wrong answer prints which case failed and what was expected of it (a shape, a property, a
  value the learner can compute), plus the hint, and returns False;
- a right one prints what was checked and returns True.

An unknown exercise id is a programming error, not a learner's answer: ``ValueError`` naming it.

The checkers live one module per notebook (``nb01``, ``nb02``, ...), each registering its exercises
with :func:`exercise`; they use r1lib's core for the reference values and never print them.
"""
from __future__ import annotations

import importlib
import pkgutil

from ._registry import NotAttempted, Wrong, call, close, exercise, registry

__all__ = ["check", "ids", "info", "exercise", "Wrong", "NotAttempted", "call", "close"]

_loaded = False


def _load_all() -> None:
    """Import every ``nbNN`` module once, so that each registers its exercises."""
    global _loaded
    if _loaded:
        return
    for mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name.startswith("nb")):
        importlib.import_module(f"{__name__}.{mod}")
    _loaded = True


def ids() -> list[str]:
    """Every exercise id, sorted: ``["01.1", "01.2", ..., "06.3"]``."""
    _load_all()
    return sorted(registry)


def info(exercise_id: str) -> dict:
    """Title and hint of one exercise (what the notebook's Markdown states)."""
    _load_all()
    ex = _get(exercise_id)
    return {"id": ex.id, "title": ex.title, "hint": ex.hint}


def _get(exercise_id):
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a string like '02.1', got {exercise_id!r}")
    if exercise_id not in registry:
        raise ValueError(f"exercise_id={exercise_id!r} is not an exercise; known: {', '.join(sorted(registry))}")
    return registry[exercise_id]


def check(exercise_id: str, answer) -> bool:
    """Grade ``answer`` for exercise ``exercise_id`` (e.g. ``"01.2"``); print feedback.

    Returns
    -------
    bool
        True when every case passes. False when not attempted or wrong; never raises for an answer.
    """
    _load_all()
    ex = _get(exercise_id)
    return ex.grade(answer)

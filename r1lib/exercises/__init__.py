"""Graded exercises for the notebooks: ``check("02.1", answer)`` -> True/False, with feedback.

Every notebook's exercises are stubs the learner completes, e.g.::

    def my_pass_at_k(n, c, k):
        ...                                   # your code here
    r1lib.exercises.check("02.1", my_pass_at_k)

``check`` never raises for a learner's answer and never prints the solution:

- ``None``, ``...`` or a function that still returns ``None``/``...`` (or raises
  ``NotImplementedError``) prints "not attempted yet" and returns None (so Run All passes with
  untouched stubs, and the cell shows one line, no ``False``);
- a wrong answer prints which case failed and what was expected of it (a shape, a property, a
  value the learner can compute) and returns False;
- a right one prints what was checked and returns True.

Hints come only on request, in tiers: ``hint("02.1")`` prints the first (a nudge: which section,
which property), a second call a stronger one; none states the whole answer.

An unknown exercise id is a programming error, not a learner's answer: ``ValueError`` naming it.

The checkers live one module per notebook (``nb01``, ``nb02``, ...), each registering its exercises
with :func:`exercise`; they use r1lib's core for the reference values and never print them.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Optional

from .registry import REGISTRY, NotAttempted, Wrong, call, close, exercise

__all__ = ["check", "hint", "ids", "info", "exercise", "Wrong", "NotAttempted", "call", "close"]

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
    return sorted(REGISTRY)


def info(exercise_id: str) -> dict:
    """Title and hint tiers of one exercise."""
    _load_all()
    ex = _get(exercise_id)
    return {"id": ex.id, "title": ex.title, "hints": list(ex.hints)}


def hint(exercise_id: str) -> None:
    """Print the next hint of exercise ``exercise_id``: a nudge first, a stronger one on each
    further call (the last tier repeats)."""
    _load_all()
    print(_get(exercise_id).next_hint())


def _get(exercise_id):
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a string like '02.1', got {exercise_id!r}")
    if exercise_id not in REGISTRY:
        raise ValueError(f"exercise_id={exercise_id!r} is not an exercise; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[exercise_id]


def check(exercise_id: str, answer) -> Optional[bool]:
    """Grade ``answer`` for exercise ``exercise_id`` (e.g. ``"01.2"``); print feedback.

    Returns
    -------
    bool or None
        True when every case passes, False when wrong, None when not attempted yet (nothing for
        the notebook to display under the message); never raises for an answer.
    """
    _load_all()
    ex = _get(exercise_id)
    return ex.grade(answer)

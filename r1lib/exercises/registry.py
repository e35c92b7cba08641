"""The machinery behind :func:`r1lib.exercises.check` and :func:`r1lib.exercises.hint`: a registry of
exercises, the two outcomes a checker can signal besides success (:class:`Wrong`,
:class:`NotAttempted`), and the helpers checkers share (:func:`call`, :func:`close`,
:func:`as_array`, :func:`plain`)."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from collections.abc import Sequence
from typing import Any, Callable, Optional, Union

import numpy as np

REGISTRY: dict[str, "Exercise"] = {}


class Wrong(Exception):
    """Raised by a checker: the answer fails a case. The message says which case and what was
    expected of it (a property, a shape, a value the learner can compute), never the solution."""


class NotAttempted(Exception):
    """Raised when the answer is still the stub (None, ``...``, NotImplementedError)."""


def _is_stub_value(value: Any) -> bool:
    return value is None or value is Ellipsis


def call(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's function; turn a stub into :class:`NotAttempted` and a crash into
    :class:`Wrong` that names the call, so a checker never lets an exception escape."""
    if not callable(fn):
        raise Wrong(f"expected a function, got {type(fn).__name__}")
    shown = ", ".join([_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()])
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        raise NotAttempted() from None
    except Exception as exc:  # the learner's bug: report it, do not crash the notebook
        raise Wrong(f"calling it with ({shown}) raised {type(exc).__name__}: {exc}") from None
    if _is_stub_value(out):
        raise NotAttempted()
    return out


def as_array(got: Any, what: str, shape: tuple, note: str = "") -> np.ndarray:
    """The learner's result as a float array of ``shape``, else :class:`Wrong` naming the case
    (``note`` says what the shape means, e.g. "one value per token")."""
    try:
        arr = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise Wrong(f"{what}: expected an array of numbers, got {type(got).__name__}") from None
    if arr.shape != shape:
        raise Wrong(f"{what}: expected shape {shape}{note}, got shape {arr.shape}")
    return arr


def plain(value: Any) -> str:
    """A number as a learner writes it: ``4.5``, ``-0.25``, ``3`` (never ``np.float64(4.5)``)."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (numbers.Integral, np.integer)):
        return str(int(value))
    if isinstance(value, (numbers.Real, np.floating)):
        return f"{float(value):.6g}"
    return str(value)


def close(got: Any, expected: Any, what: str, rtol: float = 1e-9, atol: float = 1e-12) -> None:
    """Raise :class:`Wrong` unless ``got`` matches ``expected`` in shape and value.

    The message gives the case (``what``), the shape and whether the value is too large or too
    small -- not the expected value itself.
    """
    try:
        g = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise Wrong(f"{what}: expected a number or an array of numbers, got {type(got).__name__}") from None
    e = np.asarray(expected, dtype=float)
    if g.shape != e.shape:
        raise Wrong(f"{what}: expected shape {e.shape}, got shape {g.shape}")
    if not np.all(np.isfinite(g) == np.isfinite(e)):
        raise Wrong(f"{what}: got a non-finite value (nan or inf) where a finite one was expected"
                    if not np.all(np.isfinite(g)) else f"{what}: expected a non-finite value (inf)")
    fin = np.isfinite(e)
    if not np.allclose(g[fin], e[fin], rtol=rtol, atol=atol):
        diff = (g - e)[fin]
        worst = int(np.argmax(np.abs(diff)))
        gv, ev = float(g[fin].flat[worst]), float(e[fin].flat[worst])
        where = f" at index {tuple(int(i) for i in np.unravel_index(worst, e[fin].shape))}" if e.ndim else ""
        raise Wrong(f"{what}: the value{where} {_how_far(gv, ev)}")


def _how_far(got: float, expected: float) -> str:
    """How ``got`` misses ``expected``, in words that hold for either sign and never give ``expected``.

    "too large"/"too small" compare on the number line; the size of the miss is a factor of the
    magnitude when both have the same sign (|got| is 1.5 times |expected|), and the sign when they
    differ (a factor would read as "too large (by a factor 0.67)" for a negative value).
    """
    direction = "too large" if got > expected else "too small"
    if expected == 0 or got == 0:
        return f"is {direction}"
    if (got > 0) != (expected > 0):
        return f"is {direction}: it has the wrong sign"
    factor = abs(got) / abs(expected)
    return f"is {direction} ({factor:.3g} times the expected magnitude)" if math.isfinite(factor) else f"is {direction}"


def _short(value: Any) -> str:
    text = plain(value) if isinstance(value, (numbers.Number, np.number)) else repr(value)
    if isinstance(value, np.ndarray) and value.size > 6:
        text = f"array of shape {value.shape}"
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Exercise:
    id: str
    title: str
    hints: tuple[str, ...]
    checker: Callable[[Any], Optional[str]]
    hints_given: int = 0

    @property
    def ask(self) -> str:
        return f"r1lib.exercises.hint({self.id!r})"

    def grade(self, answer: Any) -> Optional[bool]:
        """Run the checker and print the verdict; True, False, or None when not attempted (so an
        untouched stub shows only its "not attempted yet" line, no ``False`` under it)."""
        label = f"Exercise {self.id} ({self.title})"
        try:
            if _is_stub_value(answer):
                raise NotAttempted()
            passed = self.checker(answer)
        except NotAttempted:
            print(f"{label}: not attempted yet. Fill in the stub above and run this cell again; "
                  f"stuck? {self.ask} gives a hint.")
            return None
        except Wrong as wrong:
            print(f"{label}: not yet. {wrong}\nStuck? {self.ask} gives a hint.")
            return False
        except Exception as exc:  # a checker must never crash a learner's notebook
            print(f"{label}: could not check this answer ({type(exc).__name__}: {exc}).\n"
                  f"Stuck? {self.ask} gives a hint.")
            return False
        print(f"{label}: correct. {passed or ''}".rstrip())
        return True

    def next_hint(self) -> str:
        """The next hint tier (each one stronger); the last one again once all are given."""
        tier = min(self.hints_given, len(self.hints) - 1)
        self.hints_given += 1
        more = (f" (ask again for a stronger one: {tier + 2} of {len(self.hints)})"
                if tier + 1 < len(self.hints) else " (the last hint)" if len(self.hints) > 1 else "")
        return f"Hint {tier + 1} for exercise {self.id}{more}: {self.hints[tier]}"


def exercise(exercise_id: str, title: str, hints: Union[str, Sequence[str]]):
    """Register a checker: ``checker(answer)`` raises :class:`Wrong`/:class:`NotAttempted` or
    returns a short string saying what was checked (printed on success).

    ``hints`` are given on request, one tier per :func:`r1lib.exercises.hint` call: the first
    nudges (which section, which property), later ones say more; none states the whole answer.
    """
    tiers = (hints,) if isinstance(hints, str) else tuple(hints)
    if not tiers or not all(isinstance(h, str) and h.strip() for h in tiers):
        raise ValueError(f"exercise {exercise_id!r} needs at least one non-empty hint, got {hints!r}")

    def register(checker: Callable[[Any], Optional[str]]):
        if exercise_id in REGISTRY:
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        REGISTRY[exercise_id] = Exercise(exercise_id, title, tiers, checker)
        return checker
    return register

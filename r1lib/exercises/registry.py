"""The machinery behind :func:`r1lib.exercises.check`: a registry, and the two outcomes a checker
can signal besides success (:class:`Wrong`, :class:`NotAttempted`)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

registry: dict[str, "Exercise"] = {}


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
        direction = "too large" if diff.flat[worst] > 0 else "too small"
        ratio = g[fin].flat[worst] / e[fin].flat[worst] if e[fin].flat[worst] != 0 else math.nan
        extra = f" (by a factor {ratio:.4g})" if math.isfinite(ratio) and ratio > 0 else ""
        where = f" at index {np.unravel_index(worst, e[fin].shape)}" if e.ndim else ""
        raise Wrong(f"{what}: the value{where} is {direction}{extra}")


def _short(value: Any) -> str:
    text = repr(value)
    if isinstance(value, np.ndarray) and value.size > 6:
        text = f"array of shape {value.shape}"
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Exercise:
    id: str
    title: str
    hint: str
    checker: Callable[[Any], str | None]

    def grade(self, answer: Any) -> bool:
        label = f"Exercise {self.id} ({self.title})"
        try:
            if _is_stub_value(answer):
                raise NotAttempted()
            passed = self.checker(answer)
        except NotAttempted:
            print(f"{label}: not attempted yet. Hint: {self.hint}")
            return False
        except Wrong as wrong:
            print(f"{label}: not yet. {wrong}\nHint: {self.hint}")
            return False
        except Exception as exc:  # a checker must never crash a learner's notebook
            print(f"{label}: could not check this answer ({type(exc).__name__}: {exc}).\nHint: {self.hint}")
            return False
        print(f"{label}: correct. {passed or ''}".rstrip())
        return True


def exercise(exercise_id: str, title: str, hint: str):
    """Register a checker: ``checker(answer)`` raises :class:`Wrong`/:class:`NotAttempted` or
    returns a short string saying what was checked (printed on success)."""
    def register(checker: Callable[[Any], str | None]):
        if exercise_id in registry:
            raise ValueError(f"exercise {exercise_id!r} is registered twice")
        registry[exercise_id] = Exercise(exercise_id, title, hint, checker)
        return checker
    return register

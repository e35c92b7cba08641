"""The worker process behind :mod:`r1lib.grading` (``python -m r1lib.grading.worker``).

It reads grading jobs from stdin and writes verdicts to stdout, both as
:class:`multiprocessing.connection.Connection` messages (pickles). Stray prints of the libraries it
runs go to stderr, so they cannot corrupt the protocol.

Time limits: each math-verify call (parse of the output + verify against the gold) runs under an
interval timer of this process (``signal.setitimer``: the worker's main thread is ours, so the
signal mechanism is available here whatever thread or kernel the caller runs in). math-verify's
own signal-based timeouts are switched off (``parsing_timeout=None``, ``timeout_seconds=None``)
because they swallow the timeout and return "wrong" without saying so; ours raises
:class:`_Expired`, a BaseException, which passes through math-verify's ``except Exception``
clauses, and the verdict says "timeout". Work stuck inside C code never sees the signal: for
that the parent kills this process after a grace period (see :mod:`r1lib.grading.graders`).

Messages in: ``("grade", grader, time_limit, items)`` with ``items`` a list of ``(text, gold)``
strings, or ``("call", name, args)`` to run one of the whitelisted functions in ``_CALLS`` (the
parent spreads other pure work, such as r1-score's maj@k, over the same kind of process). Out: ``("ready",)`` once after start-up (or ``("failed", message)``); then for builtin
one ``("batch", verdicts)`` per job, for math-verify one ``("one", verdict)`` per item, so that the
parent can time each item. A verdict is ``(status, correct, answer)`` with status ``"ok"``,
``"timeout"`` or ``"bad_gold"``, and a Fraction answer sent as ``(numerator, denominator)``
(:func:`to_wire`).
"""
from __future__ import annotations

import logging
import os
import signal
import sys
from fractions import Fraction
from functools import lru_cache
from multiprocessing.connection import Connection
from typing import Any, Optional

from .answers import after_reasoning, gold_value, normalize_answer, parse_answer
from .votes import maj_rows

OK, TIMEOUT, BAD_GOLD = "ok", "timeout", "bad_gold"


class _Expired(BaseException):
    """Raised by the interval timer when a call runs past its time limit."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Expired()


def gold_for_math_verify(gold: str) -> str:
    r"""A bare gold answer inside ``\boxed{}``, the form math-verify's LaTeX extraction reads first
    (verl's math-verify reward does the same); golds that are already boxed or in ``$...$`` as is."""
    g = gold.strip()
    if "\\boxed" in g or g.startswith(("$", "\\(", "\\[")):
        return g
    return "\\boxed{" + g + "}"


def final_part(text: str) -> Optional[str]:
    """What math-verify reads of an R1-style output: the text after the last ``</think>`` (None
    when the reasoning never closes) and, with R1-Zero's template, the last ``<answer>`` content
    (None when it never closes). math-verify itself knows neither tag."""
    segment = after_reasoning(text)
    if segment is None or "<answer>" not in segment:
        return segment
    start = segment.rindex("<answer>") + len("<answer>")
    close = segment.find("</answer>", start)
    return None if close < 0 else segment[start:close]


class _MathVerify:
    def __init__(self) -> None:
        import math_verify  # noqa: F401  (fail at start-up, not on the first item)
        from math_verify import parse, verify

        # math-verify logs every swallowed timeout/error; the verdict carries what matters.
        logging.getLogger("math_verify").setLevel(logging.CRITICAL)
        logging.getLogger("latex2sympy2_extended").setLevel(logging.CRITICAL)
        self.parse, self.verify = parse, verify
        self.gold = lru_cache(maxsize=4096)(self._parse_gold)

    def _parse_gold(self, gold: str) -> list:
        return self.parse(gold_for_math_verify(gold), parsing_timeout=None)

    def grade(self, text: str, gold: str) -> tuple:
        gold_parsed = self.gold(gold)
        if not gold_parsed:
            return (BAD_GOLD, False, None)
        segment = final_part(text)
        if segment is None:
            return (OK, False, None)
        pred = self.parse(segment, parsing_timeout=None)
        if not pred:
            return (OK, False, None)
        correct = bool(self.verify(gold_parsed, pred, timeout_seconds=None))
        # The vote key of a wrong answer: math-verify's extracted string, in builtin's canonical
        # form, so that "0.5" and "\frac12" vote together without sympy in the parent.
        extracted = pred[-1] if isinstance(pred[-1], str) else None
        return (OK, correct, normalize_answer(extracted) if extracted else None)


@lru_cache(maxsize=4096)
def _builtin_gold(gold: str) -> Any:
    try:
        return gold_value(gold)
    except (TypeError, ValueError):
        return None


def builtin_verdict(text: str, gold: str) -> tuple:
    """``(status, correct, answer)`` of the builtin grader (what ``builtin_grade`` decides)."""
    expected = _builtin_gold(gold)
    if expected is None:
        return (BAD_GOLD, False, None)
    answer = parse_answer(text, lenient=True)
    return (OK, answer is not None and answer == expected, answer)


def _timed(fn: Any, limit: float, *args: Any) -> tuple:
    try:
        try:
            signal.setitimer(signal.ITIMER_REAL, limit)
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)  # the timer is one-shot: cancelled or spent
    except _Expired:  # also when it fires in the finally clause, just before the cancel
        return (TIMEOUT, False, None)
    except Exception:  # a library bug on one odd input is a wrong answer, not a dead run
        return (OK, False, None)


def to_wire(verdict: tuple) -> tuple:
    """A verdict as it is sent to the parent: a Fraction answer as ``(numerator, denominator)``.
    Speed: unpickling a Fraction parses its string form with a regular expression, which made
    the parent's unpickling one of the slowest steps of a million-sample run; the parent
    rebuilds each distinct value once (``r1lib.grading.graders``)."""
    answer = verdict[2]
    if type(answer) is Fraction:
        return (verdict[0], verdict[1], (answer.numerator, answer.denominator))
    return verdict


# Functions the parent may run here on plain data (``r1lib.grading.graders.map_in_workers``).
_CALLS = {"maj_rows": maj_rows}


def main() -> None:
    read_fd, write_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # print() of any library now lands on stderr
    inbox, outbox = Connection(read_fd, writable=False), Connection(write_fd, readable=False)
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    mv: Optional[_MathVerify] = None
    if "--math-verify" in sys.argv:
        try:
            mv = _MathVerify()
        except Exception as exc:  # not installed or broken: say so and stop
            outbox.send(("failed", f"{type(exc).__name__}: {exc}"))
            return
    outbox.send(("ready",))
    while True:
        try:
            message = inbox.recv()
        except (EOFError, OSError):
            return
        if message[0] == "call":  # ("call", name, args): a whitelisted pure function
            outbox.send(("batch", _CALLS[message[1]](*message[2])))
            continue
        _, grader, limit, items = message
        if grader == "builtin":
            outbox.send(("batch", [to_wire(builtin_verdict(t, g)) for t, g in items]))
        else:
            assert mv is not None
            for t, g in items:
                outbox.send(("one", to_wire(_timed(mv.grade, limit, t, g))))


if __name__ == "__main__":
    main()

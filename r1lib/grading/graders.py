r"""Grading model outputs as the field does: two graders behind one name, safe and fast at scale.

Graders (``grader=`` everywhere):

- ``"builtin"``: :func:`r1lib.grading.answers.builtin_grade`, r1lib's own reader (no sympy): lenient
  extraction, then exact comparison of canonical answers.
- ``"math-verify"``: Hugging Face's math-verify (``pip install "r1lib[grading]"``), the grader of
  open-r1, lighteval and TRL's accuracy reward: ``verify(parse(gold), parse(output))`` with sympy.
  Two things happen around it, nothing inside it: the output is cut to its final part (after
  ``</think>``, inside ``<answer>`` tags, which math-verify does not know), and a bare gold is put
  in ``\boxed{}`` so that math-verify's LaTeX reader takes it whole ("(1, 4)" is then a pair, not
  the number 4).
- ``"auto"``: math-verify when it is importable, else builtin. Which one is logged once
  (logger ``"r1lib.grading"``; INFO for math-verify, WARNING when it falls back to builtin).

Time limit: math-verify runs in worker processes (``python -m r1lib.grading.worker``), never in
the caller's process. Each call (parse + verify of one output) gets ``time_limit`` seconds, timed
by the worker's own interval timer; if the worker does not answer within a grace period after
that (a computation stuck in C code ignores signals), the parent kills it and starts a new one.
Either way the output counts as wrong and its status is ``"timeout"``; nothing can hang. Because
the timer lives in the worker, this works from any thread and in a Jupyter kernel, where
math-verify's own ``signal.alarm`` timeouts do not (they need the main thread).

Speed (:func:`grade_many`): equal ``(output, gold)`` pairs are graded once; the distinct pairs are
spread over worker processes, one per core by default. :class:`GradingPool` keeps the workers and
the cache across calls (``r1-score A --compare B`` grades both files through one), reads every
gold before any output (:meth:`GradingPool.unreadable_golds`) and runs other pure work, such as
maj@k, in the same processes (:meth:`GradingPool.map`).

The worker processes talk over pipes and time themselves with ``signal.setitimer``: POSIX only
(Linux, macOS); on Windows use ``grader="builtin"``.
"""
from __future__ import annotations

import atexit
import importlib.util
import logging
import math
import numbers
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from decimal import Decimal
from fractions import Fraction
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, NamedTuple, Optional

from ..validation import describe, check_option
from .answers import GRADERS, builtin_grade, check_str

__all__ = ["Grade", "GradingPool", "grade", "grade_many", "is_correct", "resolve_grader",
           "math_verify_available", "default_workers", "map_in_workers", "final_text", "gold_text",
           "DEFAULT_TIME_LIMIT", "GRADERS"]

logger = logging.getLogger("r1lib.grading")

DEFAULT_TIME_LIMIT = 5.0  # seconds per math-verify call, math-verify's own default
_START_TIMEOUT = 120.0     # importing sympy on a loaded machine can take a while
OK, TIMEOUT, BAD_GOLD = "ok", "timeout", "bad_gold"


class Grade(NamedTuple):
    """One graded output.

    ``correct``: the verdict. ``answer``: the output's answer in canonical form (``None`` = no
    answer), the key for majority voting. ``status``: ``"ok"``, ``"timeout"`` (ran out of time,
    counted as wrong) or ``"bad_gold"`` (the grader cannot read the gold).
    """

    correct: bool
    answer: Optional[Hashable]
    status: str = OK


# --------------------------------------------------------------------------- choosing a grader

_announced: Optional[str] = None


def math_verify_available() -> bool:
    """Whether the ``math_verify`` package can be imported (it is not imported here)."""
    return importlib.util.find_spec("math_verify") is not None


def resolve_grader(grader: str) -> str:
    """``"math-verify"`` or ``"builtin"`` for a ``grader`` option; ``"auto"`` logs its choice once.

    Raises ValueError for an unknown name and ImportError for ``"math-verify"`` when it is not
    installed.
    """
    global _announced
    check_option(grader, "grader", GRADERS)
    if grader == "auto":
        chosen = "math-verify" if math_verify_available() else "builtin"
        if _announced != chosen:
            _announced = chosen
            if chosen == "math-verify":
                logger.info("grading with math-verify (grader='auto')")
            else:
                logger.warning("math-verify is not installed: grading with r1lib's builtin grader "
                               "(grader='auto'; pip install 'r1lib[grading]' for math-verify)")
        return chosen
    if grader == "math-verify" and not math_verify_available():
        raise ImportError("grader='math-verify' needs the math-verify package: "
                          "pip install 'r1lib[grading]'")
    return grader


def gold_text(gold: Any) -> str:
    """A gold answer as the string the graders read.

    A str as is; an integer or a Fraction as ``str()`` (``Fraction(1, 2)`` -> ``"1/2"``); a finite
    float as the decimal it prints as (``0.5`` -> ``"0.5"``, ``0.1`` -> ``"0.1"``, not the binary
    value), written out without an exponent (``1e-05`` -> ``"0.00001"``, ``1e20`` ->
    ``"100000000000000000000"``: math-verify reads ``1e-05`` as Euler's e), the convention
    ``r1-score`` follows for a JSON number. TypeError for anything else, ValueError for NaN and
    infinities.
    """
    if type(gold) is str:
        return gold
    if isinstance(gold, bool) or not isinstance(gold, (str, numbers.Rational, float)):
        raise TypeError(f"gold must be a str, an integer, a Fraction or a float, got {describe(gold)}")
    if isinstance(gold, str):
        return str(gold)
    if isinstance(gold, numbers.Integral):
        return str(int(gold))
    if isinstance(gold, float):
        if not math.isfinite(gold):
            raise ValueError(f"gold must be a finite number, got {describe(gold)}")
        # repr: the shortest decimal that reads back as this float (float(): numpy's repr would
        # say "np.float64(0.5)"); Decimal's "f" format writes it out without an exponent
        return format(Decimal(repr(float(gold))), "f")
    return str(gold)


def _check_time_limit(time_limit: Any) -> float:
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) \
            or not math.isfinite(time_limit) or time_limit <= 0:
        raise ValueError(f"time_limit must be a positive number of seconds, got {describe(time_limit)}")
    return float(time_limit)


# --------------------------------------------------------------------------- worker processes

class _Worker:
    """One grading process and the job it is working on."""

    def __init__(self, math_verify: bool) -> None:
        root = str(Path(__file__).resolve().parents[1])  # r1lib importable however it was found
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH")) if p))
        cmd = [sys.executable, "-m", "r1lib.grading.worker"] + (["--math-verify"] if math_verify else [])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self.send_conn = Connection(os.dup(self.proc.stdin.fileno()), readable=False)
        self.recv_conn = Connection(os.dup(self.proc.stdout.fileno()), writable=False)
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.ready = False
        self.started = time.monotonic()
        self.job: list = []        # [(uid, text, gold), ...] not answered yet
        self.deadline = math.inf   # when the current math-verify item must have answered

    def kill(self) -> None:
        for conn in (self.send_conn, self.recv_conn):
            try:
                conn.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class _Pool:
    """Worker processes for one grader; reusable across calls, closed explicitly or at exit."""

    def __init__(self, grader: str, workers: int) -> None:
        self.grader, self.size = grader, workers
        self.workers: list[_Worker] = []
        self.timeouts = 0  # items that ran out of time (soft or hard) over this pool's life
        self._fractions: dict = {}  # (numerator, denominator) -> Fraction, one object per value

    def _fraction(self, pair: tuple) -> Fraction:
        """The Fraction a worker sent as ``(numerator, denominator)`` (worker.to_wire)."""
        value = self._fractions.get(pair)
        if value is None:
            value = self._fractions[pair] = Fraction(*pair)
        return value

    def _start(self) -> _Worker:
        return _Worker(self.grader == "math-verify")

    def close(self) -> None:
        for w in self.workers:
            w.kill()
        self.workers = []

    def run(self, items: list, time_limit: float, chunk: int,
            progress: Optional[Callable[[int], None]] = None) -> list:
        """Verdicts ``(status, correct, answer)`` of ``items = [(text, gold_text), ...]``."""
        results: list = [None] * len(items)
        queue = deque([(i, t, g) for i, (t, g) in enumerate(items[s:s + chunk], start=s)]
                      for s in range(0, len(items), chunk))
        timed = self.grader == "math-verify"
        grace = max(1.0, 0.5 * time_limit)
        while len(self.workers) < min(self.size, max(1, len(queue))):
            self.workers.append(self._start())
        try:
            while queue or any(w.job for w in self.workers):
                now = time.monotonic()
                for w in self.workers:
                    if w.ready and not w.job and queue:
                        w.job = queue.popleft()
                        w.send_conn.send(("grade", self.grader, time_limit, [(t, g) for _, t, g in w.job]))
                        w.deadline = now + time_limit + grace if timed else math.inf
                waits = [w.deadline if w.ready else w.started + _START_TIMEOUT for w in self.workers
                         if w.job or not w.ready]
                first = min(waits, default=math.inf)
                timeout = max(0.0, first - now) if math.isfinite(first) else None
                ready = wait([w.recv_conn for w in self.workers], timeout)
                for w in list(self.workers):
                    if w.recv_conn in ready:
                        self._receive(w, results, progress, time_limit, grace, queue)
                now = time.monotonic()
                for idx, w in enumerate(self.workers):
                    if w.ready and w.job and now > w.deadline:
                        self._replace(idx, results, progress, queue)
                    elif not w.ready and now > w.started + _START_TIMEOUT:
                        self.close()
                        raise RuntimeError(f"the {self.grader} grading worker did not start within "
                                           f"{_START_TIMEOUT:.0f} s")
        except BaseException:
            self.close()  # a half-finished job would leave stale replies in the pipes
            raise
        return results

    def _receive(self, w: _Worker, results: list, progress: Any, time_limit: float,
                 grace: float, queue: deque) -> None:
        try:
            msg = w.recv_conn.recv()
        except (EOFError, OSError):
            msg = ("died",)
        kind = msg[0]
        if kind == "ready":
            w.ready = True
        elif kind == "failed":
            self.close()
            raise ImportError(f"the {self.grader} grader could not start: {msg[1]}")
        elif kind == "batch":
            fraction = self._fraction
            for (uid, _, _), verdict in zip(w.job, msg[1]):
                results[uid] = verdict if type(verdict[2]) is not tuple else \
                    (verdict[0], verdict[1], fraction(verdict[2]))
            done, w.job = len(w.job), []
            if progress:
                progress(done)
        elif kind == "one":
            uid = w.job.pop(0)[0]
            verdict = msg[1]
            results[uid] = verdict if type(verdict[2]) is not tuple else \
                (verdict[0], verdict[1], self._fraction(verdict[2]))
            self.timeouts += msg[1][0] == TIMEOUT
            w.deadline = time.monotonic() + time_limit + grace
            if progress:
                progress(1)
        elif not w.ready:  # died while starting: a broken installation, not a slow input
            self.close()
            raise RuntimeError(f"the {self.grader} grading worker exited during start-up "
                               f"(status {w.proc.wait()})")
        else:  # the process died (killed from outside, out of memory): its item is lost time
            self._replace(self.workers.index(w), results, progress, queue)

    def _replace(self, idx: int, results: list, progress: Any, queue: deque) -> None:
        """Kill worker ``idx`` and start a new one: its current item counts as timed out (wrong),
        the rest of its job goes back to the front of the queue."""
        w = self.workers[idx]
        w.kill()
        if w.job:
            results[w.job[0][0]] = (TIMEOUT, False, None)
            self.timeouts += 1
            if progress:
                progress(1)
            if len(w.job) > 1:
                queue.appendleft(w.job[1:])
        self.workers[idx] = self._start()


def _call_in(pool: list, name: str, args_list: list) -> list:
    """``[fn(*args) for args in args_list]`` for the whitelisted worker function ``name``, on the
    started-or-starting workers ``pool`` (left running)."""
    results: list = [None] * len(args_list)
    todo = deque(enumerate(args_list))
    busy: dict = {}
    while todo or busy:
        for w in pool:
            if w.ready and w not in busy and todo:
                busy[w], args = todo.popleft()
                w.send_conn.send(("call", name, args))
        ready = wait([w.recv_conn for w in pool], _START_TIMEOUT)
        if not ready:
            raise RuntimeError(f"no worker process answered within {_START_TIMEOUT:.0f} s "
                               f"while computing {name}")
        for conn in ready:
            w = next(x for x in pool if x.recv_conn is conn)
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                raise RuntimeError(f"a worker process died while computing {name}") from None
            if msg[0] == "ready":
                w.ready = True
            elif msg[0] == "batch":
                results[busy.pop(w)] = msg[1]
            else:
                raise RuntimeError(f"a worker process could not start: {msg[1:]}")
    return results


def map_in_workers(name: str, args_list: list, workers: int) -> list:
    """``[fn(*args) for args in args_list]`` for a function ``name`` of the worker's whitelist,
    computed in ``workers`` worker processes (started with ``python -m``, so this works from a
    script without a ``__main__`` guard and from a notebook, unlike multiprocessing's spawn)."""
    pool = [_Worker(False) for _ in range(min(workers, max(1, len(args_list))))]
    try:
        return _call_in(pool, name, args_list)
    finally:
        for w in pool:
            w.kill()


_shared: dict[str, _Pool] = {}
_shared_lock = threading.Lock()  # one caller at a time talks to the shared worker


def _shared_pool(grader: str) -> _Pool:
    pool = _shared.get(grader)
    if pool is None:
        pool = _shared[grader] = _Pool(grader, 1)
    return pool


@atexit.register
def _close_shared() -> None:
    for pool in _shared.values():
        pool.close()


# --------------------------------------------------------------------------- public functions

_OPEN, _CLOSE = "<think>", "</think>"


def final_text(text: str) -> str:
    """What both graders read of an output, as a shorter string they read the same way.

    Both look only after the last ``</think>`` and give "no answer" to a ``<think>`` that never
    closes. So the reasoning can be cut off here, in C-speed string operations, before the output
    is hashed, cached and sent to a worker: real reasoning is thousands of tokens, the answer a
    line. Equal final parts with equal golds are then graded once, whatever the reasoning was.
    """
    close = text.rfind(_CLOSE)
    if close >= 0:
        tail = text[close + len(_CLOSE):]
        return text if _OPEN in tail else tail  # "<think>" after the last close: keep as is
    return _OPEN if _OPEN in text else text     # never closed: the same verdict, in 7 characters



def default_workers() -> int:
    """One worker per usable core (``os.sched_getaffinity`` where it exists)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _check_workers(workers: Any) -> int:
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {describe(workers)}")
    return workers


class GradingPool:
    """One grader, its worker processes and its cache, shared by several grading calls.

    ``r1-score A --compare B`` grades both files through one pool: the workers start once (for
    math-verify that is importing sympy, seconds) and an ``(output, gold)`` pair graded for A is
    not graded again for B. Use it as a context manager, or call :meth:`close`.

    Parameters
    ----------
    grader : {"auto", "math-verify", "builtin"}
    workers : int, optional
        Worker processes, default one per usable core. The builtin grader grades in this process
        when ``workers == 1`` or there are fewer than 5000 new pairs (no start-up cost).
    time_limit : float, default 5.0
        Seconds per math-verify call.
    """

    _IN_PROCESS_BELOW = 5000

    def __init__(self, grader: str = "auto", *, workers: Optional[int] = None,
                 time_limit: float = DEFAULT_TIME_LIMIT) -> None:
        self.grader = resolve_grader(grader)
        self.time_limit = _check_time_limit(time_limit)
        self.workers = _check_workers(workers)
        self.cache: dict = {}  # (final text, gold text) -> Grade
        self._pool = _Pool(self.grader, self.workers)

    def __enter__(self) -> "GradingPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes (the cache stays)."""
        self._pool.close()

    def grade_many(self, texts: Sequence[str], golds: Sequence[Any], *,
                   progress: Optional[Callable[[int], None]] = None,
                   on_total: Optional[Callable[[int], None]] = None) -> list[Grade]:
        """Grades of ``texts`` against ``golds`` (see :func:`grade_many`); pairs already in this
        pool's cache are not graded again. ``on_total`` is called once, before grading, with the
        number of pairs left to grade; ``progress`` as they are graded."""
        if len(texts) != len(golds):
            raise ValueError(f"texts and golds must have the same length, got {len(texts)} "
                             f"and {len(golds)}")
        for i, t in enumerate(texts):
            if type(t) is not str and not isinstance(t, str):
                raise TypeError(f"texts[{i}] must be a str, got {describe(t)}")
        gold_texts = [g if type(g) is str else gold_text(g) for g in golds]
        keys = list(zip(map(final_text, texts), gold_texts))
        cache = self.cache
        todo = [k for k in dict.fromkeys(keys) if k not in cache]
        if on_total:
            on_total(len(todo))
        if todo:
            for key, v in zip(todo, self._verdicts(todo, progress)):
                cache[key] = Grade(bool(v[1]), v[2], v[0])
        return [cache[k] for k in keys]

    def _verdicts(self, items: list, progress: Optional[Callable[[int], None]]) -> list:
        if self.grader == "builtin" and (self.workers == 1 or len(items) < self._IN_PROCESS_BELOW):
            from .worker import builtin_verdict  # same code as in the workers
            verdicts: list = []
            step = max(1, len(items) // 100)
            for s in range(0, len(items), step):
                verdicts.extend(builtin_verdict(t, g) for t, g in items[s:s + step])
                if progress:
                    progress(len(items[s:s + step]))
            return verdicts
        # Builtin: big jobs (the per-message cost dominates); math-verify: small ones, so that a
        # killed worker loses little and the cores stay balanced.
        chunk = 64 if self.grader == "math-verify" else \
            max(256, min(20000, len(items) // (8 * self.workers) + 1))
        return self._pool.run(items, self.time_limit, chunk, progress)

    def unreadable_golds(self, golds: Sequence[Any]) -> dict:
        """``{gold text: "bad_gold" or "timeout"}`` for the golds this grader cannot read (or not
        within the time limit); readable golds are left out. Each distinct gold is read once, by
        grading an empty output against it, so the check costs one parse per gold and leaves
        the workers running for the grading that follows."""
        # speed: dedupe in C first, by type too (0.5 and Fraction(1, 2) are equal, not one text)
        typed = dict.fromkeys(zip(map(type, golds), golds))
        distinct = list(dict.fromkeys(g if t is str else gold_text(g) for t, g in typed))
        grades = self.grade_many([""] * len(distinct), distinct)
        return {g: v.status for g, v in zip(distinct, grades) if v.status != OK}

    def map(self, name: str, args_list: list) -> list:
        """``[fn(*args) for args in args_list]`` for a function ``name`` of the worker's
        whitelist, in this pool's worker processes (started if need be)."""
        pool = self._pool
        while len(pool.workers) < min(pool.size, max(1, len(args_list))):
            pool.workers.append(pool._start())
        try:
            return _call_in(pool.workers, name, args_list)
        except BaseException:
            pool.close()
            raise


def grade(text: str, gold: Any, *, grader: str = "auto",
          time_limit: float = DEFAULT_TIME_LIMIT) -> Grade:
    """Grade one raw model output against ``gold``.

    Parameters
    ----------
    text : str
        The raw output.
    gold : str, int, Fraction or float
        The reference answer (a float as the decimal it prints as: see :func:`gold_text`).
    grader : {"auto", "math-verify", "builtin"}
        See the module docstring.
    time_limit : float, default 5.0
        Seconds for one math-verify call; past it the output is wrong, status ``"timeout"``.

    Returns
    -------
    Grade

    Raises
    ------
    TypeError
        ``text`` is not a str or ``gold`` not a str, integer, Fraction or float.
    ValueError
        ``gold`` cannot be read by the grader or is not finite; an unknown grader; a bad
        ``time_limit``.
    """
    check_str(text, "text")
    gold_str = gold_text(gold)
    chosen = resolve_grader(grader)
    limit = _check_time_limit(time_limit)
    if chosen == "builtin":
        # a str, int or Fraction as given (builtin_grade reads them); a float as its decimal
        correct, answer = builtin_grade(text, gold if isinstance(gold, (str, numbers.Rational))
                                        else gold_str)
        return Grade(correct, answer)
    with _shared_lock:
        (status, correct, answer), = _shared_pool(chosen).run([(text, gold_str)], limit, 1)
    if status == BAD_GOLD:
        raise ValueError(f"gold cannot be read by math-verify: {describe(gold)}")
    return Grade(bool(correct), answer, status)


def grade_many(texts: Sequence[str], golds: Sequence[Any], *, grader: str = "auto",
               workers: Optional[int] = None, time_limit: float = DEFAULT_TIME_LIMIT,
               progress: Optional[Callable[[int], None]] = None) -> list[Grade]:
    """Grade many outputs: equal ``(text, gold)`` pairs once, the rest in parallel processes.

    Parameters
    ----------
    texts, golds : sequences of equal length
        Raw outputs (str) and their gold answers (str, int, Fraction or float).
    grader : {"auto", "math-verify", "builtin"}
    workers : int, optional
        Worker processes; default one per usable core. ``1`` with the builtin grader grades in
        this process (no start-up cost); math-verify always runs in workers (its time limit).
    time_limit : float, default 5.0
        Seconds per math-verify call (see the module docstring).
    progress : callable, optional
        Called with the number of newly graded *distinct* pairs as grading advances.

    Returns
    -------
    list of Grade
        In the order of ``texts``. Outputs are compared and cached by what the graders read of
        them: the text after the last ``</think>``. A gold the grader cannot read gives status
        ``"bad_gold"`` (the caller decides: :func:`grade` raises, ``r1-score`` reports the line).

    See Also
    --------
    GradingPool : the same over several calls, with one set of workers and one cache.
    """
    if len(texts) != len(golds):
        raise ValueError(f"texts and golds must have the same length, got {len(texts)} and {len(golds)}")
    with GradingPool(grader, workers=workers, time_limit=time_limit) as pool:
        return pool.grade_many(texts, golds, progress=progress)


def is_correct(text: str, gold: Any, *, grader: str = "auto") -> bool:
    """Whether a raw model output's final answer is equivalent to ``gold``.

    Parameters
    ----------
    text : str
        One raw model output (reasoning, then the answer).
    gold : str, int, Fraction or float
        The reference answer. A float is read as the decimal it prints as (``0.5`` as ``"0.5"``,
        ``0.1`` as ``"0.1"``), as ``r1-score`` reads a JSON number.
    grader : {"auto", "math-verify", "builtin"}, default "auto"
        ``"builtin"``: :func:`r1lib.grading.answers.builtin_grade`, no sympy. ``"math-verify"``: Hugging
        Face's math-verify ``parse`` + ``verify`` in a worker process with a per-call time limit
        (this module; a call that runs out of time is wrong). ``"auto"``: math-verify when
        it is installed, else builtin; which one is logged once (logger ``r1lib.grading``).

    Returns
    -------
    bool
        An output with no answer is never correct.

    Raises
    ------
    TypeError
        ``text`` not a str; ``gold`` neither a str, an integer, a Fraction nor a float.
    ValueError
        ``gold`` has no answer (the grader cannot read it) or is NaN or infinite; an unknown
        ``grader``.
    """
    check_str(text, "text")
    if grader == "builtin":
        return builtin_grade(text, gold if isinstance(gold, (str, numbers.Rational))
                             and not isinstance(gold, bool) else gold_text(gold))[0]
    return grade(text, gold, grader=grader).correct

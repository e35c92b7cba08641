r"""Score your own evaluation run: ``python -m r1lib.score SAMPLES.jsonl`` (also ``r1-score``).

The input is JSON Lines, one sample per line::

    {"problem_id": "aime24-1", "output": "<think>...</think> ... \\boxed{204}", "gold": "204"}

(field names configurable: ``--problem-field``, ``--output-field``, ``--gold-field``; blank lines
are ignored). Every sample is graded (``--grader``, default ``auto``: math-verify when installed,
see :mod:`r1lib.grading`) and the report gives what notebook 02 teaches, each from r1lib's one
implementation:

- pass@1 = mean over problems of :math:`c_i/n_i` with the clustered standard error (one cluster
  per problem; :func:`r1lib.pass_at_1`, Miller 2024, arXiv:2411.00640) and its 95% interval;
- pass@k = mean over problems of :math:`1 - \binom{n_i-c_i}{k}/\binom{n_i}{k}` (Chen et al. 2021,
  arXiv:2107.03374, :func:`r1lib.pass_at_k`) with each problem's own :math:`n_i`;
- maj@k = mean over problems of the exact average over all size-k subsets of "the subset's
  majority answer is correct" (:func:`r1lib.maj_at_k`, ``--ties`` policy, default ``split``).
  Correct samples vote as one answer (they all equal the gold); wrong ones vote by their
  canonical answer; samples with no answer never win.

k runs over 1, 2, 4, ... up to the smallest number of samples of any problem (a problem with n
samples has no unbiased pass@k for k > n), and the report says so. pass@k and maj@k carry the
same clustered standard error as pass@1 (``--plot`` draws them with 95% error bars).

Bad input stops the run with one line ``r1-score: error: FILE:LINE: field 'F': ...`` on stderr and
exit status 2 (no traceback); ``--skip-bad`` drops such lines and counts them instead.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..error_bars import mean_with_se, pass_at_1
from ..metrics import MAJ_MAX_N, TIE_POLICIES, pass_at_k
from .graders import (DEFAULT_TIME_LIMIT, GRADERS, Grade, default_workers, grade_many,
                      map_in_workers, resolve_grader)
from .votes import GOLD, maj_rows, vote_pattern

__all__ = ["BadInput", "Samples", "Report", "read_samples", "score_samples", "ks_up_to",
           "format_table", "report_json", "plot_report", "main"]

EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """A problem with the input file: ``str(exc)`` is the one-line message (file:line: field: why)."""


@dataclass
class Samples:
    """The valid samples of a file, in file order, and what was wrong with the others."""

    path: str
    problem_ids: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    golds: list = field(default_factory=list)
    lines: list = field(default_factory=list)    # line number of each sample (for messages)
    bad: list = field(default_factory=list)      # messages of the skipped lines (--skip-bad)


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _preview(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_samples(path: str, *, problem_field: str = "problem_id", output_field: str = "output",
                 gold_field: str = "gold", skip_bad: bool = False) -> Samples:
    """Read and check a JSON Lines file of samples.

    A line is bad when it is not JSON, not an object, misses a field, has a non-string output, a
    problem id that is neither a string nor an integer, a gold that is neither a string nor a
    number, or a gold that differs from the gold of an earlier line of the same problem. The first
    bad line raises :class:`BadInput` (``skip_bad=False``) or is recorded in ``Samples.bad``.
    A file with no samples raises :class:`BadInput` either way.
    """
    samples = Samples(path=str(path))
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().split("\n")  # not splitlines(): JSON strings may hold U+2028
    except OSError as exc:
        raise BadInput(f"{path}: cannot open: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    numbers = [i for i, line in enumerate(lines, start=1) if line.strip()]
    # Speed: one json.loads for the whole file. It is only trusted when it yields one object per
    # line; anything else (a bad line) goes through the line-by-line path for the exact message.
    # (Fooling the count takes a line broken inside a string that the next line completes *and*
    # two objects on another line; such a file would be read as the objects it spells.)
    records: Optional[list] = None
    try:
        parsed = json.loads("[" + ",".join(lines[i - 1] for i in numbers) + "]")
        if len(parsed) == len(numbers) and all(type(o) is dict for o in parsed):
            records = parsed
    except ValueError:
        pass
    if records and not skip_bad:
        columns = _clean_columns(records, problem_field, output_field, gold_field)
        if columns is not None:  # every line is fine: no per-line checks needed
            samples.problem_ids, samples.outputs, samples.golds = columns
            samples.lines = numbers
            return samples
    gold_of: dict = {}
    for j, number in enumerate(numbers):
        try:
            record = _check_record(records[j] if records is not None else _parse_line(lines[number - 1], path, number),
                                   path, number, problem_field, output_field, gold_field)
            pid, gold = record[0], record[2]
            seen = gold_of.setdefault(pid, (gold, number))
            if seen[0] != gold:
                raise BadInput(f"{path}:{number}: field '{gold_field}': problem "
                               f"{_preview(pid)} has gold {_preview(seen[0])} at line "
                               f"{seen[1]} but {_preview(gold)} here")
        except BadInput as exc:
            if not skip_bad:
                raise
            samples.bad.append(str(exc))
            continue
        samples.problem_ids.append(record[0])
        samples.outputs.append(record[1])
        samples.golds.append(record[2])
        samples.lines.append(number)
    if not samples.outputs:
        why = "empty file" if not samples.bad else f"no valid samples ({len(samples.bad)} bad lines)"
        raise BadInput(f"{path}: {why}: no samples to score")
    return samples


def _clean_columns(records: list, problem_field: str, output_field: str,
                   gold_field: str) -> Optional[tuple]:
    """The three columns when every record is valid (string or integer ids, string outputs,
    string or integer golds, one gold per problem), else None (then each line is checked)."""
    try:
        pids = [o[problem_field] for o in records]
        outputs = [o[output_field] for o in records]
        golds = [o[gold_field] for o in records]
    except KeyError:
        return None
    if not (all(type(x) is str for x in outputs)
            and all(type(x) is str or type(x) is int for x in pids)
            and all(type(x) is str or type(x) is int for x in golds)):
        return None
    gold_of: dict = {}
    if any(gold_of.setdefault(p, g) != g for p, g in zip(pids, golds)):
        return None
    return pids, outputs, golds


def _parse_line(line: str, path: str, number: int) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        column = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadInput(f"{path}:{number}: not valid JSON ({reason}{column})") from None


def _check_record(obj: Any, path: str, number: int, problem_field: str, output_field: str,
                  gold_field: str) -> tuple:
    where = f"{path}:{number}"
    if not isinstance(obj, dict):
        raise BadInput(f"{where}: expected a JSON object with fields '{problem_field}', "
                       f"'{output_field}', '{gold_field}', got {_type_name(obj)}")
    for name in (problem_field, output_field, gold_field):
        if name not in obj:
            raise BadInput(f"{where}: field '{name}': missing")
    pid, output, gold = obj[problem_field], obj[output_field], obj[gold_field]
    if isinstance(pid, bool) or not isinstance(pid, (str, int)):
        raise BadInput(f"{where}: field '{problem_field}': must be a string or an integer, "
                       f"got {_type_name(pid)}")
    if not isinstance(output, str):
        raise BadInput(f"{where}: field '{output_field}': must be a string (the raw model output), "
                       f"got {_type_name(output)} {_preview(output)}")
    if isinstance(gold, bool) or not isinstance(gold, (str, int, float)):
        raise BadInput(f"{where}: field '{gold_field}': must be a string or a number, "
                       f"got {_type_name(gold)} {_preview(gold)}")
    if isinstance(gold, float):
        if not math.isfinite(gold):
            raise BadInput(f"{where}: field '{gold_field}': must be finite, got {gold}")
        gold = repr(gold)  # 0.5 -> "0.5": graders read strings; exact decimal as written
    return pid, output, gold


# --------------------------------------------------------------------------- the numbers

def ks_up_to(n_min: int) -> list:
    """k = 1, 2, 4, ... (powers of two) up to ``n_min``."""
    ks, k = [], 1
    while k <= n_min:
        ks.append(k)
        k *= 2
    return ks


@dataclass
class Report:
    """Everything ``r1-score`` prints; per-problem arrays are in first-appearance order."""

    path: str
    grader: str
    ties: str
    problems: list
    n: np.ndarray                  # samples per problem
    c: np.ndarray                  # correct samples per problem
    no_answer: int
    timeouts: int
    bad_lines: int
    pass1: float
    pass1_se: Optional[float]
    pass1_ci: Optional[tuple]
    ks: list
    pass_k: dict                   # k -> (mean, se or None)
    maj_k: dict                    # k -> (mean, se or None); empty when some n > 1000
    notes: list

    @property
    def samples(self) -> int:
        return int(self.n.sum())


def _mean_se(values: np.ndarray) -> tuple:
    if values.size < 2:
        return float(values.mean()), None
    est = mean_with_se(values)
    return float(est.value), float(est.se)


def _maj_per_problem(votes: list, c: np.ndarray, ks: list, ties: str,
                     workers: int = 1) -> np.ndarray:
    """maj@k for every problem and k (rows: problems): r1lib.maj_at_k once per distinct pattern,
    spread over ``workers`` processes when there are many."""
    out = np.zeros((len(votes), len(ks)))
    keys = [vote_pattern(v, ties) if cnt else None for v, cnt in zip(votes, c)]  # c = 0: maj@k = 0
    distinct = list(dict.fromkeys(k for k in keys if k is not None))
    if workers > 1 and len(distinct) >= 2000:
        size = -(-len(distinct) // (4 * workers))
        chunks = [(distinct[i:i + size], ks, ties) for i in range(0, len(distinct), size)]
        rows = [r for part in map_in_workers("maj_rows", chunks, workers) for r in part]
    else:
        rows = maj_rows(distinct, ks, ties)
    value = dict(zip(distinct, rows))
    for i, key in enumerate(keys):
        if key is not None:
            out[i] = value[key]
    return out


def score_samples(samples: Samples, grades: Sequence[Grade], *, grader: str,
                  ties: str = "split", workers: int = 1) -> Report:
    """The report's numbers from graded samples (``grades[i]`` belongs to sample ``i``).

    ``workers`` > 1 spreads the maj@k computations over that many processes (many problems only).
    """
    if ties not in TIE_POLICIES:
        raise ValueError(f"ties must be one of {TIE_POLICIES}, got {ties!r}")
    order: dict = {}
    votes: list = []
    for pid, g in zip(samples.problem_ids, grades):
        i = order.setdefault(pid, len(order))
        if i == len(votes):
            votes.append([])
        votes[i].append(GOLD if g.correct else g.answer)
    n = np.array([len(v) for v in votes])
    c = np.array([sum(a is GOLD for a in v) for v in votes])
    no_answer = sum(1 for g in grades if g.answer is None and not g.correct and g.status == "ok")
    timeouts = sum(1 for g in grades if g.status == "timeout")
    notes = []
    n_min, n_max = int(n.min()), int(n.max())
    ks = ks_up_to(n_min)
    if n_min == n_max:
        notes.append(f"k goes up to {ks[-1]}: every problem has n = {n_min} samples "
                     "(k = 1, 2, 4, ... <= n)")
    else:
        notes.append(f"problems have {n_min} to {n_max} samples: each problem's pass@k and maj@k "
                     f"use its own n, and k goes up to {ks[-1]} (k = 1, 2, 4, ... <= the smallest "
                     f"n = {n_min})")
    if len(votes) < 2:
        notes.append("one problem only: no standard error (it needs at least 2 problems)")
        p1, se, ci = float(c[0] / n[0]), None, None
    else:
        est = pass_at_1(n, c)
        p1, se, ci = float(est.value), float(est.se), tuple(float(x) for x in est.interval(0.95))
    pass_k = {}
    for k in ks:
        pass_k[k] = _mean_se(np.atleast_1d(pass_at_k(n, c, k)))
    maj_k: dict = {}
    if n_max > MAJ_MAX_N:
        notes.append(f"maj@k not computed: a problem has {n_max} samples, more than maj_at_k's "
                     f"limit of {MAJ_MAX_N}")
    else:
        per_problem = _maj_per_problem(votes, c, ks, ties, workers)
        for j, k in enumerate(ks):
            maj_k[k] = _mean_se(per_problem[:, j])
    if timeouts:
        notes.append(f"{timeouts} samples ran out of grading time and count as wrong")
    return Report(path=samples.path, grader=grader, ties=ties, problems=list(order), n=n, c=c,
                  no_answer=no_answer, timeouts=timeouts, bad_lines=len(samples.bad), pass1=p1,
                  pass1_se=se, pass1_ci=ci, ks=ks, pass_k=pass_k, maj_k=maj_k, notes=notes)


# --------------------------------------------------------------------------- output

def report_json(report: Report) -> dict:
    """The ``--json`` object: problems, samples, no_answer, pass@1 {mean, se}, pass@k, maj@k
    (k as string keys), grader. ``se`` is null only with a single problem."""
    return {
        "problems": len(report.problems),
        "samples": report.samples,
        "no_answer": report.no_answer,
        "pass@1": {"mean": report.pass1, "se": report.pass1_se},
        "pass@k": {str(k): v[0] for k, v in report.pass_k.items()},
        "maj@k": {str(k): v[0] for k, v in report.maj_k.items()},
        "grader": report.grader,
    }


def _pm(value: float, se: Optional[float]) -> str:
    return f"{value:.4f}" + (f" ± {se:.4f}" if se is not None else "")


def format_table(report: Report) -> str:
    """The human-readable report."""
    n_min, n_max = int(report.n.min()), int(report.n.max())
    total = report.samples
    rows = [
        f"r1-score: {report.path} (grader: {report.grader}, maj@k ties: {report.ties})",
        f"  problems              {len(report.problems)}",
        f"  samples               {total}",
        f"  samples per problem   min {n_min}, max {n_max}",
        f"  no answer             {report.no_answer} ({100.0 * report.no_answer / total:.1f}%)",
        f"  grading timeouts      {report.timeouts} (counted as wrong)",
    ]
    if report.bad_lines:
        rows.append(f"  bad lines skipped     {report.bad_lines}")
    if report.pass1_ci is not None:
        lo, hi = report.pass1_ci
        rows.append(f"  pass@1                {_pm(report.pass1, report.pass1_se)} "
                    f"(SE clustered by problem), 95% CI [{lo:.4f}, {hi:.4f}]")
    else:
        rows.append(f"  pass@1                {report.pass1:.4f}")
    rows.append("")
    rows.append(f"  {'k':>5}  {'pass@k':>17}  {'maj@k':>17}")
    for k in report.ks:
        maj = report.maj_k.get(k)
        rows.append(f"  {k:>5}  {_pm(*report.pass_k[k]):>17}  {(_pm(*maj) if maj else '-'):>17}")
    rows.append("")
    rows.extend(f"  note: {note}" for note in report.notes)
    return "\n".join(rows)


# The plot's look, kept here so that the grading layer needs nothing from the figure layer above it:
# white background, light grid, and two Okabe-Ito colours (colour-blind safe, as in r1lib.figures).
_PLOT_STYLE = {"figure.facecolor": "white", "axes.facecolor": "white", "savefig.facecolor": "white",
               "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
               "axes.spines.right": False, "legend.fontsize": 9, "legend.framealpha": 0.9}
_PLOT_COLORS = {"pass": "#0072B2", "maj": "#D55E00"}


def plot_report(report: Report, path: str) -> None:
    """Save pass@k and maj@k against k (log2 axis) with 95% error bars (±1.96 clustered SE)."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(_PLOT_STYLE):
        fig = Figure(figsize=(7.0, 4.2), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        ks = np.array(report.ks)
        # maj@k a little to the right, so that equal values at k = 1 do not hide each other
        curves = [("pass@k", report.pass_k, _PLOT_COLORS["pass"], "o", 1.0),
                  ("maj@k", report.maj_k, _PLOT_COLORS["maj"], "s", 1.05)]
        for label, values, color, marker, shift in curves:
            if not values:
                continue
            mean = np.array([values[k][0] for k in report.ks])
            se = np.array([values[k][1] if values[k][1] is not None else 0.0 for k in report.ks])
            # the interval of a probability, cut to [0, 1]
            lo, hi = np.clip(mean - 1.96 * se, 0, 1), np.clip(mean + 1.96 * se, 0, 1)
            ax.errorbar(ks * shift, mean, yerr=[mean - lo, hi - mean], color=color, marker=marker,
                        capsize=4, label=f"{label} (95% interval)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in report.ks])
        ax.minorticks_off()
        ax.set_xlabel("k (samples per problem)")
        ax.set_ylabel("score")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{Path(report.path).name}: {len(report.problems)} problems, "
                     f"grader {report.grader}", fontsize=11)
        ax.legend(loc="lower right")
        fig.savefig(path)


# --------------------------------------------------------------------------- command line

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="r1-score",
        description="Grade a JSON Lines file of model samples and report pass@1 with its "
                    "clustered standard error, pass@k and maj@k.")
    p.add_argument("samples", help="JSON Lines file, one sample per line")
    p.add_argument("--grader", choices=GRADERS, default="auto",
                   help="auto (default): math-verify when installed, else builtin")
    p.add_argument("--ties", choices=TIE_POLICIES, default="split",
                   help="maj@k credit when the gold ties for the most votes (default: split)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--plot", metavar="FILE.png", help="save pass@k and maj@k against k with error bars")
    p.add_argument("--skip-bad", action="store_true", help="skip bad lines and count them")
    p.add_argument("--problem-field", default="problem_id", help="field of the problem id")
    p.add_argument("--output-field", default="output", help="field of the raw model output")
    p.add_argument("--gold-field", default="gold", help="field of the gold answer")
    p.add_argument("--workers", type=int, default=None,
                   help="grading processes (default: one per core)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                   help=f"seconds per math-verify call (default {DEFAULT_TIME_LIMIT:g}); "
                        "a sample past it counts as wrong")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def _progress_bar(total: int, disable: bool) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a nicety; grading does not need it
        return None
    return tqdm(total=total, desc="grading", unit="output", file=sys.stderr, disable=disable or None,
                mininterval=0.5, leave=False)


def run(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 1:
        raise BadInput(f"--workers must be at least 1, got {args.workers}")
    if not (args.time_limit > 0 and math.isfinite(args.time_limit)):
        raise BadInput(f"--time-limit must be a positive number of seconds, got {args.time_limit}")
    samples = read_samples(args.samples, problem_field=args.problem_field,
                           output_field=args.output_field, gold_field=args.gold_field,
                           skip_bad=args.skip_bad)
    try:
        grader = resolve_grader(args.grader)
    except ImportError as exc:
        raise BadInput(str(exc)) from None
    distinct = len(set(zip(samples.outputs, samples.golds)))
    bar = _progress_bar(distinct, args.no_progress)
    try:
        grades = grade_many(samples.outputs, samples.golds, grader=grader, workers=args.workers,
                            time_limit=args.time_limit, progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
    bad_gold = [i for i, g in enumerate(grades) if g.status == "bad_gold"]
    if bad_gold:
        messages = [f"{samples.path}:{samples.lines[i]}: field '{args.gold_field}': "
                    f"{_preview(samples.golds[i])} cannot be read by the {grader} grader"
                    for i in bad_gold]
        if not args.skip_bad:
            raise BadInput(messages[0])
        keep = [i for i, g in enumerate(grades) if g.status != "bad_gold"]
        samples.bad.extend(messages)
        if not keep:
            raise BadInput(f"{samples.path}: no valid samples ({len(samples.bad)} bad lines)")
        for name in ("problem_ids", "outputs", "golds", "lines"):
            values = getattr(samples, name)
            setattr(samples, name, [values[i] for i in keep])
        grades = [grades[i] for i in keep]
    report = score_samples(samples, grades, grader=grader, ties=args.ties,
                           workers=args.workers or default_workers())
    if samples.bad:
        report.notes.append(f"{len(samples.bad)} bad lines skipped (--skip-bad); the first: "
                            f"{samples.bad[0]}")
    if args.plot:
        plot_report(report, args.plot)
    if args.json:
        print(json.dumps(report_json(report)))
        for note in report.notes:  # the k range, timeouts, skipped lines: said on stderr
            print(f"r1-score: note: {note}", file=sys.stderr)
    else:
        print(format_table(report))
    return 0


class _StderrHandler(logging.Handler):
    """Log records as ``r1-score: message`` on whatever ``sys.stderr`` is at the time."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"r1-score: {record.getMessage()}", file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``r1-score`` and ``python -m r1lib.score``; returns the exit status."""
    args = _parser().parse_args(argv)
    logger = logging.getLogger("r1lib")
    handler, level = _StderrHandler(), logger.level
    logger.addHandler(handler)  # the "auto" grader's notice, on stderr
    logger.setLevel(logging.INFO)
    try:
        return run(args)
    except BadInput as exc:
        print(f"r1-score: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("r1-score: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `r1-score ... | head`: the reader left, which is not an error
        sys.stdout = open(os.devnull, "w")  # no second error when Python flushes at exit
        return 0
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())

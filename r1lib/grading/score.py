r"""Score your own evaluation run: ``r1-score SAMPLES.jsonl`` (also ``python -m r1lib.score``).

The input is JSON Lines, one sample per line (or a list of outputs per line; ``-`` for standard
input; gzip read directly; see :mod:`r1lib.grading.reader`)::

    {"problem_id": "aime24-1", "output": "<think>...</think> ... \\boxed{204}", "gold": "204"}

Every sample is graded (``--grader``, default ``auto``: math-verify when installed, see
:mod:`r1lib.grading.graders`) and the report gives pass@1 (avg@n) with its clustered standard
error and 95% interval, pass@k and maj@k (cons@k) with theirs (:mod:`r1lib.grading.report`).

- ``--compare B.jsonl``: both runs graded through one worker pool and one cache, then the paired
  difference B - A per problem, averaged, with its SE and 95% interval, for pass@1 and each
  pass@k and maj@k; problems that flip between never solved and solved; problems found in only
  one file (:mod:`r1lib.grading.compare`).
- ``--per-sample OUT.jsonl``: every verdict, one line per sample; ``--grader both``: math-verify
  and the builtin grader side by side, and where they disagree (:mod:`r1lib.grading.audit`).
- ``--json``: one object (schema 2, which keeps every key of schema 1).

Errors: bad input, a bad option or a grader that cannot run stop the command with one line
``r1-score: error: FILE:LINE: ...`` (or naming the option) on stderr and exit status 2, never a
traceback. Whatever can be checked before grading is (the files, every gold, the ``--plot`` and
``--per-sample`` targets, matplotlib), so a finished grading run is never lost; a write that
still fails afterwards says so in one line after the report, which is printed first.
"""
from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import logging
import math
import os
import sys
import traceback
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Optional

from ..metrics import TIE_POLICIES
from .audit import disagreements, format_disagreements, write_per_sample
from .compare import check_comparable, compare_reports, comparison_json, format_comparison
from .graders import DEFAULT_TIME_LIMIT, GRADERS, GradingPool, math_verify_available, resolve_grader
from .reader import STDIN, BadInput, Samples, preview, read_samples
from .report import (Report, format_table, ks_up_to, plot_reports, plural, report_json,
                     score_samples)
from .votes import MajMemo

__all__ = ["BadInput", "Samples", "Report", "read_samples", "score_samples", "ks_up_to",
           "format_table", "report_json", "plot_reports", "main", "EXIT_ERROR"]

EXIT_ERROR = 2
EXIT_BAD_INPUT = EXIT_ERROR  # the name of version 1
GRADER_CHOICES = GRADERS + ("both",)

_EPILOG = """\
metrics (each per problem, then averaged over problems; SE = sd over problems / sqrt(#problems)):
  pass@1   mean of c/n: the fraction of a problem's n samples that are correct. Papers that
           average n samples per problem call it avg@n (DeepSeek-R1: n = 4 to 64; DAPO: avg@32).
  pass@k   1 - C(n-c, k) / C(n, k): the chance that k of the n samples hold a correct one.
  maj@k    the chance that the majority answer of k of the n samples is correct, averaged
           exactly over all size-k subsets; papers also say cons@k (DeepSeek-R1: cons@64).
  k = 1, 2, 4, ... up to the smallest n of any problem.

--ties, when the correct answer ties with others for the most votes among k samples:
  split  credit 1/m for an m-way tie (the expected credit of a random tie-break; default)
  wrong  a tie counts as wrong (a strict harness)
  first  the tied answer sampled first wins (harnesses that vote over the first k samples)

examples:
  r1-score run.jsonl                          the table
  r1-score base.jsonl --compare tuned.jsonl   paired difference tuned - base, per problem
  r1-score run.jsonl.gz --json                one JSON object (gzip and - for stdin are read)
  r1-score run.jsonl --grader both --per-sample verdicts.jsonl   every verdict, both graders
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="r1-score", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=_EPILOG,
        description="Grade a JSON Lines file of model samples and report pass@1 with its\n"
                    "clustered standard error, pass@k and maj@k; or compare two runs.")
    p.add_argument("samples", help="JSON Lines file (.jsonl, .jsonl.gz, or - for standard input): "
                                   "one sample per line, or a list of outputs per line")
    p.add_argument("--compare", metavar="B.jsonl",
                   help="a second run on the same problems: report B - A, paired by problem")
    p.add_argument("--grader", choices=GRADER_CHOICES, default="auto",
                   help="auto (default): math-verify when installed, else builtin; both: grade "
                        "with both, score with math-verify and report where they disagree")
    p.add_argument("--ties", choices=TIE_POLICIES, default="split",
                   help="maj@k credit when the gold ties for the most votes: split (1/m for an "
                        "m-way tie, default), wrong (0), first (the tied answer sampled first wins)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.add_argument("--plot", metavar="FILE.png",
                   help="save pass@k and maj@k against k with 95%% error bars")
    p.add_argument("--per-sample", metavar="OUT.jsonl",
                   help="write every sample's verdict, one JSON object per line (.gz: compressed)")
    p.add_argument("--skip-bad", action="store_true", help="skip bad lines and count them")
    p.add_argument("--problem-field", default="problem_id", help="field of the problem id")
    p.add_argument("--output-field", default="output",
                   help="field of the raw model output (a string, or a list of them)")
    p.add_argument("--gold-field", default="gold", help="field of the gold answer")
    p.add_argument("--workers", type=int, default=None,
                   help="grading processes (default: one per core)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                   help=f"seconds per math-verify call (default {DEFAULT_TIME_LIMIT:g}); "
                        "a sample past it counts as wrong")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


# --------------------------------------------------------------------------- checks before grading

def _same_file(x: str, y: str) -> bool:
    try:
        return x != STDIN and y != STDIN and Path(x).resolve() == Path(y).resolve()
    except OSError:
        return False


def _check_target(option: str, path: str, inputs: Sequence[str]) -> None:
    """An output file we will write after grading: its folder exists and is writable, it is not
    a folder and not one of the inputs."""
    where = f"{option} {path}"
    target = Path(path)
    if target.is_dir():
        raise BadInput(f"{where}: is a folder, not a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise BadInput(f"{where}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise BadInput(f"{where}: cannot write there (permission denied)")
    for source in inputs:
        if _same_file(path, source):
            raise BadInput(f"{where}: is an input file; writing it would destroy the samples")


def _check_plot(path: str) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        raise BadInput(f"--plot {path}: needs matplotlib (pip install matplotlib)")
    from matplotlib.backend_bases import FigureCanvasBase

    suffix = Path(path).suffix.lower().lstrip(".")
    formats = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in formats:
        raise BadInput(f"--plot {path}: matplotlib cannot write .{suffix} files (it writes "
                       f"{', '.join('.' + f for f in sorted(formats))})")


def _check_options(args: argparse.Namespace) -> None:
    if args.workers is not None and args.workers < 1:
        raise BadInput(f"--workers must be at least 1, got {args.workers}")
    if not (args.time_limit > 0 and math.isfinite(args.time_limit)):
        raise BadInput(f"--time-limit must be a positive number of seconds, got {args.time_limit}")
    if args.compare == STDIN and args.samples == STDIN:
        raise BadInput("--compare -: standard input can hold only one of the two runs")
    if args.grader == "both" and not math_verify_available():
        raise BadInput("--grader both needs the math-verify package: pip install 'r1lib[grading]'")
    inputs = [args.samples] + ([args.compare] if args.compare else [])
    if args.per_sample:
        _check_target("--per-sample", args.per_sample, inputs)
    if args.plot:
        if not Path(args.plot).suffix and not Path(args.plot).is_dir():
            # matplotlib's savefig adds ".png" to a name without a suffix: check (and later
            # name) the file it will really write. A folder is refused as such just below.
            args.plot += ".png"
        _check_target("--plot", args.plot, inputs)
        _check_plot(args.plot)
        if args.per_sample and _same_file(args.plot, args.per_sample):
            raise BadInput(f"--plot {args.plot}: the same file as --per-sample")


def _drop_unreadable_golds(runs: list, unreadable: dict, gold_field: str, skip_bad: bool) -> None:
    """Stop at (or, with --skip-bad, drop and count) the lines whose gold a grader cannot read."""
    if not unreadable:
        return
    for samples in runs:
        bad_lines: dict = {}
        for i, gold in enumerate(samples.golds):
            why = unreadable.get(gold)
            if why is not None:
                bad_lines.setdefault(samples.lines[i], f"{samples.name}:{samples.lines[i]}: "
                                                        f"field '{gold_field}': {preview(gold)} {why}")
        if not bad_lines:
            continue
        if not skip_bad:
            raise BadInput(next(iter(bad_lines.values())))
        samples.bad.extend(bad_lines.values())
        samples.keep([i for i, gold in enumerate(samples.golds) if gold not in unreadable])
        if not samples.outputs:
            raise BadInput(f"{samples.name}: no valid samples "
                           f"({plural(len(samples.bad), 'bad line')})")


# --------------------------------------------------------------------------- running

def _progress_bar(disable: bool, desc: str) -> Any:
    try:
        from tqdm import tqdm
    except ImportError:  # the bar is a nicety; grading does not need it
        return None
    return tqdm(total=None, desc=desc, unit="output", file=sys.stderr, disable=disable or None,
                mininterval=0.5, leave=False)


def _grade(pool: GradingPool, runs: list, args: argparse.Namespace, desc: str) -> list:
    """Grades of every run's samples: one call for all runs (one pool, one cache)."""
    texts = [t for s in runs for t in s.outputs]
    golds = [g for s in runs for g in s.golds]
    bar = _progress_bar(args.no_progress, desc)

    def total(count: int) -> None:
        if bar is not None:
            bar.total = count
            bar.refresh()

    try:
        grades = pool.grade_many(texts, golds, on_total=total,
                                 progress=bar.update if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    out, start = [], 0
    for s in runs:
        out.append(grades[start:start + len(s.outputs)])
        start += len(s.outputs)
    return out


def run(args: argparse.Namespace) -> int:
    _check_options(args)
    read = dict(problem_field=args.problem_field, output_field=args.output_field,
                gold_field=args.gold_field, skip_bad=args.skip_bad)
    runs = [read_samples(args.samples, **read)]
    if args.compare:
        runs.append(read_samples(args.compare, **read))
        check_comparable(runs[0], runs[1], skip_bad=args.skip_bad, gold_field=args.gold_field)
    if args.grader == "both":
        graders = ["math-verify", "builtin"]
    else:
        try:
            graders = [resolve_grader(args.grader)]
        except ImportError as exc:
            raise BadInput(f"--grader {args.grader}: {exc}") from None
    with ExitStack() as stack:
        pools = {g: stack.enter_context(GradingPool(g, workers=args.workers,
                                                    time_limit=args.time_limit)) for g in graders}
        # Every gold is read before any output is graded: a gold no grader can read is reported
        # in seconds, not after an hour of grading.
        unreadable: dict = {}
        all_golds = [g for s in runs for g in s.golds]
        for name, pool in pools.items():
            for gold, status in pool.unreadable_golds(all_golds).items():
                unreadable.setdefault(gold, f"cannot be read by the {name} grader" +
                                      (f" within {args.time_limit:g} s" if status == "timeout" else ""))
        _drop_unreadable_golds(runs, unreadable, args.gold_field, args.skip_bad)
        # again: lines dropped for their gold may have emptied the common problems
        excluded = check_comparable(runs[0], runs[1], skip_bad=args.skip_bad,
                                    gold_field=args.gold_field) if args.compare else []
        graded = {g: _grade(pool, runs, args, "grading" if len(pools) == 1 else f"grading ({g})")
                  for g, pool in pools.items()}
        main_grader = graders[0]
        memo = MajMemo(args.ties)
        main_pool = pools[main_grader]
        mapper = main_pool.map if main_pool.workers > 1 else None
        reports, extras = [], []
        for i, samples in enumerate(runs):
            report = score_samples(samples, graded[main_grader][i], grader=main_grader,
                                   ties=args.ties, memo=memo, mapper=mapper)
            if samples.bad:
                report.notes.append(f"{plural(len(samples.bad), 'bad line')} skipped (--skip-bad); "
                                    f"the first: {samples.bad[0]}")
            if len(graders) == 2:
                d = disagreements(samples, graded[main_grader][i], graded[graders[1]][i],
                                  main_name=main_grader, other_name=graders[1])
                report.extra["disagreements"] = d.as_json()
                extras.append(format_disagreements(d, report))
            reports.append(report)
        comparison = compare_reports(reports[0], reports[1], exclude=excluded, memo=memo,
                                     mapper=mapper) if args.compare else None
    _print(reports, extras, comparison, args.json)
    # The report is out; what follows writes files, and a failure now costs only that file.
    failed = False
    if args.per_sample:
        try:
            write_per_sample(args.per_sample, [
                (s, graded[main_grader][i], main_grader,
                 graded[graders[1]][i] if len(graders) == 2 else None) for i, s in enumerate(runs)])
        except OSError as exc:
            failed = _after_report_error(f"--per-sample {args.per_sample}: cannot write: "
                                         f"{exc.strerror or exc}")
    if args.plot:
        try:
            plot_reports(reports, args.plot)
        except Exception as exc:  # matplotlib raises many kinds; the report is already out
            failed = _after_report_error(f"--plot {args.plot}: cannot save the plot: "
                                         f"{type(exc).__name__}: {exc}")
    return EXIT_ERROR if failed else 0


def _after_report_error(message: str) -> bool:
    print(f"r1-score: error: {message} (the report above is complete)", file=sys.stderr)
    return True


def _print(reports: list, extras: list, comparison: Any, as_json: bool) -> None:
    if as_json:
        obj = comparison_json(comparison) if comparison is not None else report_json(reports[0])
        print(json.dumps(obj))
        for r in reports:  # the k range, timeouts, skipped lines: said on stderr too
            for note in r.notes:
                print(f"r1-score: note: {r.name}: {note}" if comparison else f"r1-score: note: {note}",
                      file=sys.stderr)
        return
    parts = []
    for i, report in enumerate(reports):
        parts.append(format_table(report) + (f"\n{extras[i]}" if extras else ""))
    if comparison is not None:
        parts.append(format_comparison(comparison))
    print("\n\n".join(parts))


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
    # Speed: the run builds millions of small objects and no reference cycles; Python's cyclic
    # collector would walk all of them again and again (a third of a million-sample run's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return run(args)
    except BadInput as exc:
        print(f"r1-score: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except (ImportError, RuntimeError) as exc:  # a grader that cannot start, a dead worker
        print(f"r1-score: error: grading failed: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("r1-score: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `r1-score ... | head`: the reader left, which is not an error
        sys.stdout = open(os.devnull, "w")  # no second error when Python flushes at exit
        return 0
    except Exception as exc:  # a bug: one line, the traceback only on request
        if os.environ.get("R1_SCORE_TRACEBACK"):
            traceback.print_exc()
        print(f"r1-score: error: internal error, please report it: {type(exc).__name__}: {exc} "
              "(R1_SCORE_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return EXIT_ERROR
    finally:
        if collecting:
            gc.enable()
        logger.removeHandler(handler)
        logger.setLevel(level)


if __name__ == "__main__":
    sys.exit(main())

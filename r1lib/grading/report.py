r"""The numbers r1-score reports for one file of graded samples, and how it shows them.

Each number comes from r1lib's one implementation, per problem first and then averaged over
problems, with the clustered standard error (one cluster per problem, :func:`r1lib.mean_with_se`;
Miller 2024, arXiv:2411.00640) and the normal 95% interval, mean :math:`\pm 1.96\,\mathrm{SE}`:

- pass@1 = :math:`\frac1P\sum_i c_i/n_i` (:func:`r1lib.pass_at_1`). Estimated from ``n`` samples per
  problem it is what papers call avg@n (DeepSeek-R1's pass@1 is the mean over 4 to 64 samples a
  question, DAPO's avg@32 the mean over 32);
- pass@k = :math:`\frac1P\sum_i 1 - \binom{n_i-c_i}{k}/\binom{n_i}{k}` (Chen et al. 2021,
  arXiv:2107.03374; :func:`r1lib.pass_at_k`) with each problem's own :math:`n_i`;
- maj@k (cons@k in DeepSeek-R1's tables: cons@64) = the mean over problems of the exact average
  over all size-k subsets of "the subset's majority answer is correct" (:func:`r1lib.maj_at_k`,
  tie rule ``ties``). Correct samples vote as one answer (they all equal the gold); wrong ones
  vote by their canonical answer; samples with no answer never win.

k runs over 1, 2, 4, ... up to the smallest number of samples of any problem (a problem with n
samples has no unbiased pass@k for k > n).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple, Optional

import numpy as np

from ..error_bars import mean_with_se
from ..metrics import MAJ_MAX_N, TIE_POLICIES, pass_at_k
from .votes import GOLD, MajMemo, vote_pattern

__all__ = ["Stat", "Report", "ks_up_to", "stat_of", "problem_votes", "build_report",
           "score_samples", "pass_table", "format_table", "report_json", "plot_reports", "plural",
           "Z95", "SCHEMA"]

SCHEMA = 2          # the --json layout: 2 added SEs, intervals, counts and "schema" to version 1
Z95 = 1.959963984540054  # the 97.5% point of the standard normal


def plural(count: int, word: str, many: Optional[str] = None) -> str:
    """``"1 problem"``, ``"2 problems"`` (``many`` for irregular plurals)."""
    return f"{count} {word if count == 1 else (many or word + 's')}"


class Stat(NamedTuple):
    """A mean over problems, its clustered standard error and 95% interval (``None`` with one
    problem: a standard error needs at least two)."""

    mean: float
    se: Optional[float]
    ci95: Optional[tuple]

    def as_json(self) -> dict:
        return {"mean": self.mean, "se": self.se,
                "ci95": None if self.ci95 is None else list(self.ci95)}


def stat_of(values: np.ndarray) -> Stat:
    """Mean of per-problem values with SE = sd / sqrt(P) and the interval mean -/+ 1.96 SE."""
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return Stat(float(values.mean()), None, None)
    est = mean_with_se(values)
    lo, hi = est.interval(0.95)
    return Stat(float(est.value), float(est.se), (float(lo), float(hi)))


def ks_up_to(n_min: int) -> list:
    """k = 1, 2, 4, ... (powers of two) up to ``n_min``."""
    ks, k = [], 1
    while k <= n_min:
        ks.append(k)
        k *= 2
    return ks


@dataclass
class Report:
    """Everything r1-score says about one file; per-problem arrays in first-appearance order."""

    path: str
    grader: str
    ties: str
    problems: list
    n: np.ndarray                  # samples per problem
    c: np.ndarray                  # correct samples per problem
    patterns: list                 # each problem's vote pattern (None: no correct sample)
    no_answer: int
    timeouts: int
    bad_lines: int
    pass1: Stat
    ks: list
    pass_k: dict                   # k -> Stat
    maj_k: dict                    # k -> Stat; empty when a problem has more than 1000 samples
    notes: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)  # more --json fields (the graders' disagreements)

    @property
    def samples(self) -> int:
        return int(self.n.sum())

    @property
    def name(self) -> str:
        return "<stdin>" if self.path == "-" else self.path


def problem_votes(problem_ids: Sequence, grades: Sequence) -> tuple:
    """``(problems, votes)``: the problem ids in first-appearance order and each problem's votes
    in sample order (``GOLD`` for a correct sample, else a key of its canonical answer: the
    answer, or ``(numerator, denominator)`` for a number; None = no answer)."""
    order: dict = {}
    votes: list = []
    for pid, g in zip(problem_ids, grades):
        i = order.setdefault(pid, len(order))
        if i == len(votes):
            votes.append([])
        answer = g.answer
        if type(answer) is Fraction:
            # Speed: a vote is only compared and counted; Fraction's hash is slow Python code
            # (a modular inverse), a tuple's is C. Canonical answers are Fractions or strings,
            # so the pair cannot collide with another answer.
            answer = (answer.numerator, answer.denominator)
        votes[i].append(GOLD if g.correct else answer)
    return list(order), votes


def pass_table(n: np.ndarray, c: np.ndarray, ks: list) -> np.ndarray:
    """pass@k of every problem (rows) at every k (columns), each with its own n."""
    return np.stack([np.atleast_1d(pass_at_k(n, c, k)) for k in ks], axis=1)


def build_report(path: str, problems: list, votes: list, *, grader: str, ties: str = "split",
                 no_answer: int = 0, timeouts: int = 0, bad_lines: int = 0,
                 memo: Optional[MajMemo] = None,
                 mapper: Optional[Callable[[str, list], list]] = None) -> Report:
    """The report of per-problem votes (see :func:`problem_votes`).

    ``memo`` shares maj@k computations between reports (one per tie rule); ``mapper`` computes
    many new vote patterns in worker processes (``GradingPool.map``).
    """
    if ties not in TIE_POLICIES:
        raise ValueError(f"ties must be one of {TIE_POLICIES}, got {ties!r}")
    if memo is None:
        memo = MajMemo(ties)
    elif memo.ties != ties:
        raise ValueError(f"memo is for ties={memo.ties!r}, not {ties!r}")
    n = np.array([len(v) for v in votes])
    c = np.array([sum(a is GOLD for a in v) for v in votes])
    patterns = [vote_pattern(v, ties) if cnt else None for v, cnt in zip(votes, c)]
    notes = []
    n_min, n_max = int(n.min()), int(n.max())
    ks = ks_up_to(n_min)
    if n_min == n_max:
        notes.append(f"k goes up to {ks[-1]}: every problem has n = {plural(n_min, 'sample')} "
                     "(k = 1, 2, 4, ... <= n)")
    else:
        notes.append(f"problems have {n_min} to {n_max} samples: each problem's pass@k and maj@k "
                     f"use its own n, and k goes up to {ks[-1]} (k = 1, 2, 4, ... <= the smallest "
                     f"n = {n_min})")
    if len(votes) < 2:
        notes.append("one problem only: no standard error (it needs at least 2 problems)")
    passes = pass_table(n, c, ks)
    pass_k = {k: stat_of(passes[:, j]) for j, k in enumerate(ks)}
    maj_k: dict = {}
    if n_max > MAJ_MAX_N:
        notes.append(f"maj@k not computed: a problem has {n_max} samples, more than maj_at_k's "
                     f"limit of {MAJ_MAX_N}")
    else:
        majs = memo.table(patterns, ks, mapper)
        maj_k = {k: stat_of(majs[:, j]) for j, k in enumerate(ks)}
    if timeouts:
        notes.append(f"{plural(timeouts, 'sample')} ran out of grading time and count as wrong")
    return Report(path=path, grader=grader, ties=ties, problems=problems, n=n, c=c,
                  patterns=patterns, no_answer=no_answer, timeouts=timeouts, bad_lines=bad_lines,
                  pass1=stat_of(c / n), ks=ks, pass_k=pass_k, maj_k=maj_k, notes=notes)


def score_samples(samples: Any, grades: Sequence, *, grader: str, ties: str = "split",
                  memo: Optional[MajMemo] = None,
                  mapper: Optional[Callable[[str, list], list]] = None) -> Report:
    """The report of graded samples (``grades[i]`` belongs to sample ``i`` of ``samples``)."""
    problems, votes = problem_votes(samples.problem_ids, grades)
    no_answer = sum(1 for g in grades if g.answer is None and not g.correct and g.status == "ok")
    timeouts = sum(1 for g in grades if g.status == "timeout")
    return build_report(samples.path, problems, votes, grader=grader, ties=ties,
                        no_answer=no_answer, timeouts=timeouts, bad_lines=len(samples.bad),
                        memo=memo, mapper=mapper)


# --------------------------------------------------------------------------- output

def report_json(report: Report) -> dict:
    """The ``--json`` object of one file (schema 2).

    Version 1's keys, unchanged: ``problems``, ``samples``, ``no_answer``, ``pass@1`` (``mean``,
    ``se``), ``pass@k`` and ``maj@k`` (k as string keys, the means), ``grader``. Added in 2:
    ``pass@1.ci95``, ``pass@k_se``, ``pass@k_ci95``, ``maj@k_se``, ``maj@k_ci95``, ``schema``,
    ``file``, ``ties``, ``timeouts``, ``bad_lines``, ``k_max``, ``samples_per_problem`` (min,
    max), ``notes``; with ``--grader both`` also ``disagreements``. A standard error or interval is
    null only with a single problem.
    """
    def column(values: dict, part: str) -> dict:
        return {str(k): (list(v.ci95) if part == "ci95" and v.ci95 is not None else
                         None if part == "ci95" else getattr(v, part)) for k, v in values.items()}

    out = {
        "problems": len(report.problems),
        "samples": report.samples,
        "no_answer": report.no_answer,
        "pass@1": report.pass1.as_json(),
        "pass@k": column(report.pass_k, "mean"),
        "maj@k": column(report.maj_k, "mean"),
        "grader": report.grader,
        "schema": SCHEMA,
        "file": report.name,
        "ties": report.ties,
        "timeouts": report.timeouts,
        "bad_lines": report.bad_lines,
        "k_max": report.ks[-1],
        "samples_per_problem": {"min": int(report.n.min()), "max": int(report.n.max())},
        "pass@k_se": column(report.pass_k, "se"),
        "pass@k_ci95": column(report.pass_k, "ci95"),
        "maj@k_se": column(report.maj_k, "se"),
        "maj@k_ci95": column(report.maj_k, "ci95"),
        "notes": list(report.notes),
    }
    out.update(report.extra)
    return out


def pm(value: float, se: Optional[float], signed: bool = False) -> str:
    """``0.5000 ± 0.0100`` (``+0.0500 ± ...`` when ``signed``)."""
    return (f"{value:+.4f}" if signed else f"{value:.4f}") + (f" ± {se:.4f}" if se is not None else "")


def format_table(report: Report) -> str:
    """The human-readable report of one file."""
    n_min, n_max = int(report.n.min()), int(report.n.max())
    total = report.samples
    p1 = report.pass1
    rows = [
        f"r1-score: {report.name} (grader: {report.grader}, maj@k ties: {report.ties})",
        f"  problems              {len(report.problems)}",
        f"  samples               {total}",
        f"  samples per problem   min {n_min}, max {n_max}",
        f"  no answer             {report.no_answer} ({100.0 * report.no_answer / total:.1f}%)",
        f"  grading timeouts      {report.timeouts} (counted as wrong)",
    ]
    if report.bad_lines:
        rows.append(f"  bad lines skipped     {report.bad_lines}")
    if p1.ci95 is not None:
        lo, hi = p1.ci95
        rows.append(f"  pass@1 (avg@n)        {pm(p1.mean, p1.se)} "
                    f"(SE clustered by problem), 95% CI [{lo:.4f}, {hi:.4f}]")
    else:
        rows.append(f"  pass@1 (avg@n)        {p1.mean:.4f}")
    rows.append("")
    rows.append(f"  {'k':>5}  {'pass@k ± SE':>17}  {'maj@k = cons@k ± SE':>21}")
    for k in report.ks:
        maj = report.maj_k.get(k)
        rows.append(f"  {k:>5}  {pm(*report.pass_k[k][:2]):>17}  "
                    f"{(pm(*maj[:2]) if maj else '-'):>21}")
    rows.append("")
    rows.extend(f"  note: {note}" for note in report.notes)
    rows.append(f"  note: pass@1 from n samples per problem is avg@n (n = {n_min}"
                f"{'' if n_min == n_max else f' to {n_max}'} here); maj@k is also called cons@k "
                "(cons@64 in DeepSeek-R1) or maj@n at k = n; 95% intervals: ±1.96 SE (--json)")
    return "\n".join(rows)


# The plot's look, kept here so that the grading layer needs nothing from the figure layer above it:
# white background, light grid, and two Okabe-Ito colours (colour-blind safe, as in r1lib.figures).
_PLOT_STYLE = {"figure.facecolor": "white", "axes.facecolor": "white", "savefig.facecolor": "white",
               "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False,
               "axes.spines.right": False, "legend.fontsize": 9, "legend.framealpha": 0.9}
_PLOT_COLORS = {"pass": "#0072B2", "maj": "#D55E00"}


def plot_reports(reports: Sequence[Report], path: str) -> None:
    """Save pass@k and maj@k against k (log2 axis) with 95% error bars (±1.96 clustered SE);
    with two reports (a comparison) the second is drawn dashed, with hollow markers."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(_PLOT_STYLE):
        fig = Figure(figsize=(7.0, 4.2), dpi=110, layout="constrained")
        ax = fig.add_subplot()
        all_ks = sorted({k for r in reports for k in r.ks})
        for r_index, report in enumerate(reports):
            ks = np.array(report.ks)
            # maj@k and the second run a little to the right, so equal values stay visible
            curves = [("pass@k", report.pass_k, _PLOT_COLORS["pass"], "o", 1.0),
                      ("maj@k", report.maj_k, _PLOT_COLORS["maj"], "s", 1.05)]
            for label, values, color, marker, shift in curves:
                if not values:
                    continue
                mean = np.array([values[k].mean for k in report.ks])
                se = np.array([values[k].se if values[k].se is not None else 0.0 for k in report.ks])
                # the interval of a probability, cut to [0, 1]
                lo, hi = np.clip(mean - Z95 * se, 0, 1), np.clip(mean + Z95 * se, 0, 1)
                name = f"{Path(report.name).name}: " if len(reports) > 1 else ""
                ax.errorbar(ks * shift * (1.0 + 0.1 * r_index), mean, yerr=[mean - lo, hi - mean],
                            color=color, marker=marker, capsize=4,
                            linestyle="-" if r_index == 0 else "--",
                            markerfacecolor=color if r_index == 0 else "white",
                            label=f"{name}{label} (95% interval)")
        ax.set_xscale("log", base=2)
        ax.set_xticks(all_ks, [str(k) for k in all_ks])
        ax.minorticks_off()
        ax.set_xlabel("k (samples per problem)")
        ax.set_ylabel("score")
        ax.set_ylim(-0.02, 1.02)
        first = reports[0]
        title = (f"{Path(first.name).name}: {len(first.problems)} problems, grader {first.grader}"
                 if len(reports) == 1 else
                 f"{Path(first.name).name} vs {Path(reports[1].name).name}, grader {first.grader}")
        ax.set_title(title, fontsize=11)
        ax.legend(loc="best")
        fig.savefig(path)

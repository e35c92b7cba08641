r"""Comparing two evaluation runs on the same problems: ``r1-score A.jsonl --compare B.jsonl``.

Both runs meet the same easy and hard problems, so the comparison is paired by problem. For each
metric (pass@1, each pass@k, each maj@k) and each problem :math:`i` present in both runs,

.. math:: d_i = s^B_i - s^A_i, \qquad \bar d = \frac1P \sum_i d_i, \qquad
          \mathrm{SE} = \frac{\operatorname{sd}(d_1, \dots, d_P)}{\sqrt P}, \qquad
          \text{95\% CI} = \bar d \mp 1.96\,\mathrm{SE}

with :math:`s_i` the problem's own score from all its samples (:math:`c_i/n_i`, the unbiased
pass@k, the exact maj@k) and :func:`r1lib.paired_difference` the one implementation. This is the
clustered standard error with one cluster per problem, applied to the differences: the problems'
difficulty cancels in :math:`d_i`, so the interval is usually much narrower than one that
ignores the pairing (:math:`\sqrt{\mathrm{SE}_A^2 + \mathrm{SE}_B^2}`); Miller 2024, "Adding
Error Bars to Evals" (arXiv:2411.00640), recommends these paired differences for two models on
the same questions. k runs over 1, 2, 4, ... up to the smallest number of samples of
any compared problem in either run.

Problems found in only one run are counted and named, never silently dropped; a problem whose
gold differs between the runs is an error (or, with ``--skip-bad``, left out and counted).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from ..error_bars import paired_difference, unpaired_difference
from ..metrics import MAJ_MAX_N
from .answers import gold_value
from .reader import BadInput, Samples, preview
from .report import SCHEMA, Report, Stat, ks_up_to, pass_table, plural, pm, report_json
from .votes import MajMemo

__all__ = ["Comparison", "paired_stats", "compare_reports", "gold_conflicts", "check_comparable",
           "format_comparison", "comparison_json"]


@dataclass
class Comparison:
    """B - A on the problems of both runs; per-metric :class:`~r1lib.grading.report.Stat`."""

    a: Report
    b: Report
    problems: list                 # compared problem ids, in A's order
    only_in_a: list
    only_in_b: list
    excluded: list                 # in both, but with different golds (--skip-bad)
    ks: list
    pass1: Stat
    pass_k: dict                   # k -> Stat of the difference
    maj_k: dict
    unsolved_to_solved: list       # no correct sample in A, at least one in B
    solved_to_unsolved: list
    pass1_se_unpaired: Optional[float]
    notes: list = field(default_factory=list)


def paired_stats(a_table: np.ndarray, b_table: np.ndarray) -> list:
    """One :class:`Stat` of the difference B - A per column of the per-problem tables (rows:
    the same problems in the same order): mean of :math:`d_i`, SE = sd(d)/sqrt(P), mean -/+
    1.96 SE. With one problem: the difference, no SE."""
    a_table, b_table = np.asarray(a_table, float), np.asarray(b_table, float)
    if a_table.shape[0] < 2:
        return [Stat(float(v), None, None) for v in (b_table - a_table).mean(axis=0)]
    est = paired_difference(b_table, a_table, axis=0)
    lo, hi = est.interval(0.95)
    return [Stat(float(m), float(s), (float(l), float(h)))
            for m, s, l, h in zip(np.atleast_1d(est.value), np.atleast_1d(est.se),
                                  np.atleast_1d(lo), np.atleast_1d(hi))]


def gold_conflicts(a: Samples, b: Samples, gold_field: str = "gold") -> list:
    """Messages for the problems of both files whose golds differ (equal strings, or golds
    that the builtin grader reads as the same value, such as ``"0.5"`` and ``"1/2"``, agree)."""
    def first(s: Samples) -> dict:  # problem -> (gold, line) of its first sample, looped in C
        return dict(zip(reversed(s.problem_ids), zip(reversed(s.golds), reversed(s.lines))))

    first_a, first_b = first(a), first(b)
    out = []
    for pid in sorted(first_b.keys() & first_a.keys(), key=lambda p: first_b[p][1]):
        (gold_a, line_a), (gold, line) = first_a[pid], first_b[pid]
        if gold_a != gold and not _same_value(gold_a, gold):
            out.append((pid, f"{b.name}:{line}: field '{gold_field}': problem {preview(pid)} has "
                             f"gold {preview(gold)} here but {preview(gold_a)} in {a.name}:{line_a}"))
    return out


def _same_value(x: Any, y: Any) -> bool:
    try:
        return gold_value(x) == gold_value(y)
    except (TypeError, ValueError):
        return False


def compare_reports(a: Report, b: Report, *, exclude: Any = (), memo: Optional[MajMemo] = None,
                    mapper: Optional[Callable[[str, list], list]] = None) -> Comparison:
    """The paired comparison B - A of two reports graded with the same grader and tie rule.

    ``exclude``: problem ids left out (golds that differ). ``memo``/``mapper``: as for
    :func:`~r1lib.grading.report.build_report` (maj@k patterns computed once for both runs).
    Raises ValueError when no problem is in both reports.
    """
    if a.ties != b.ties:
        raise ValueError(f"both runs need the same tie rule, got {a.ties!r} and {b.ties!r}")
    excluded_set = set(exclude)
    index_a = {p: i for i, p in enumerate(a.problems)}
    index_b = {p: i for i, p in enumerate(b.problems)}
    common = [p for p in a.problems if p in index_b and p not in excluded_set]
    if not common:
        raise ValueError(f"no problem is in both {a.name} and {b.name}: nothing to compare")
    ia = np.array([index_a[p] for p in common])
    ib = np.array([index_b[p] for p in common])
    n_a, c_a, n_b, c_b = a.n[ia], a.c[ia], b.n[ib], b.c[ib]
    n_min = int(min(n_a.min(), n_b.min()))
    ks = ks_up_to(n_min)
    passes = paired_stats(pass_table(n_a, c_a, ks), pass_table(n_b, c_b, ks))
    pass1 = paired_stats((c_a / n_a)[:, None], (c_b / n_b)[:, None])[0]
    maj_k: dict = {}
    notes = []
    if max(n_a.max(), n_b.max()) <= MAJ_MAX_N and a.maj_k and b.maj_k:
        memo = memo or MajMemo(a.ties)
        majs = paired_stats(memo.table([a.patterns[i] for i in ia], ks, mapper),
                            memo.table([b.patterns[i] for i in ib], ks, mapper))
        maj_k = dict(zip(ks, majs))
    else:
        notes.append(f"maj@k not compared: a problem has more than {MAJ_MAX_N} samples")
    solved_a, solved_b = c_a > 0, c_b > 0
    up = [p for p, x, y in zip(common, solved_a, solved_b) if not x and y]
    down = [p for p, x, y in zip(common, solved_a, solved_b) if x and not y]
    unpaired = None
    if len(common) >= 2:
        unpaired = float(unpaired_difference(c_b / n_b, c_a / n_a).se)
        notes.append(f"pass@1's SE is {pass1.se:.4f} paired by problem; ignoring the pairing it "
                     f"would be {unpaired:.4f}")
    else:
        notes.append("one problem in both runs: no standard error (it needs at least 2)")
    if ks[-1] != a.ks[-1] or ks[-1] != b.ks[-1]:
        notes.append(f"k goes up to {ks[-1]} here (k = 1, 2, 4, ... <= {n_min}, the fewest "
                     "samples of a compared problem in either run)")
    return Comparison(a=a, b=b, problems=common,
                      only_in_a=[p for p in a.problems if p not in index_b],
                      only_in_b=[p for p in b.problems if p not in index_a],
                      excluded=[p for p in a.problems if p in excluded_set and p in index_b],
                      ks=ks, pass1=pass1, pass_k=dict(zip(ks, passes)), maj_k=maj_k,
                      unsolved_to_solved=up, solved_to_unsolved=down,
                      pass1_se_unpaired=unpaired, notes=notes)


def _ids(ids: list, limit: int = 5) -> str:
    shown = ", ".join(preview(p, 30) for p in ids[:limit])
    return shown + (", ..." if len(ids) > limit else "")


def format_comparison(cmp: Comparison) -> str:
    """The paired section of the table (printed after both files' own tables)."""
    rows = [f"r1-score: paired comparison B - A, A = {cmp.a.name}, B = {cmp.b.name}",
            f"  problems in both      {len(cmp.problems)} (compared)"]
    for label, ids in (("only in A", cmp.only_in_a), ("only in B", cmp.only_in_b),
                       ("golds differ", cmp.excluded)):
        if ids or label != "golds differ":
            rows.append(f"  {label:<22}{plural(len(ids), 'problem')}"
                        + (f", not compared: {_ids(ids)}" if ids else ""))
    p1 = cmp.pass1
    if p1.ci95 is not None:
        rows.append(f"  pass@1 (avg@n)        {pm(p1.mean, p1.se, signed=True)} (SE of the per-problem "
                    f"differences), 95% CI [{p1.ci95[0]:+.4f}, {p1.ci95[1]:+.4f}]")
    else:
        rows.append(f"  pass@1 (avg@n)        {p1.mean:+.4f}")
    up, down = cmp.unsolved_to_solved, cmp.solved_to_unsolved
    rows.append(f"  newly solved          {plural(len(up), 'problem')} with no correct sample in A "
                f"and some in B" + (f": {_ids(up)}" if up else ""))
    rows.append(f"  newly unsolved        {plural(len(down), 'problem')} with some correct sample in A "
                f"and none in B" + (f": {_ids(down)}" if down else ""))
    rows.append("")
    rows.append(f"  {'k':>5}  {'pass@k B - A ± SE':>20}  {'95% CI':>17}  {'maj@k B - A ± SE':>20}  "
                f"{'95% CI':>17}")

    def cell(stat: Optional[Stat]) -> tuple:
        if stat is None:
            return "-", ""
        ci = "" if stat.ci95 is None else f"[{stat.ci95[0]:+.4f}, {stat.ci95[1]:+.4f}]"
        return pm(stat.mean, stat.se, signed=True), ci

    for k in cmp.ks:
        (p, pci), (m, mci) = cell(cmp.pass_k[k]), cell(cmp.maj_k.get(k))
        rows.append(f"  {k:>5}  {p:>20}  {pci:>17}  {m:>20}  {mci:>17}")
    rows.append("")
    rows.extend(f"  note: {note}" for note in cmp.notes)
    return "\n".join(rows)


def comparison_json(cmp: Comparison) -> dict:
    """``{"schema": 2, "a": <file A's object>, "b": <file B's>, "paired": {...}}``.

    ``paired``: ``difference`` ("b - a"), ``problems`` (compared), ``only_in_a``, ``only_in_b``,
    ``golds_differ`` (counts), ``pass@1`` {mean, se, ci95}, ``pass@k`` and ``maj@k`` {k: {mean,
    se, ci95}}, ``k_max``, ``flips`` {unsolved_to_solved, solved_to_unsolved} (counts),
    ``pass@1_se_unpaired``, ``notes``.
    """
    return {
        "schema": SCHEMA,
        "a": report_json(cmp.a),
        "b": report_json(cmp.b),
        "paired": {
            "difference": "b - a",
            "problems": len(cmp.problems),
            "only_in_a": len(cmp.only_in_a),
            "only_in_b": len(cmp.only_in_b),
            "golds_differ": len(cmp.excluded),
            "pass@1": cmp.pass1.as_json(),
            "pass@k": {str(k): v.as_json() for k, v in cmp.pass_k.items()},
            "maj@k": {str(k): v.as_json() for k, v in cmp.maj_k.items()},
            "k_max": cmp.ks[-1],
            "flips": {"unsolved_to_solved": len(cmp.unsolved_to_solved),
                      "solved_to_unsolved": len(cmp.solved_to_unsolved)},
            "pass@1_se_unpaired": cmp.pass1_se_unpaired,
            "notes": list(cmp.notes),
        },
    }


def check_comparable(a: Samples, b: Samples, *, skip_bad: bool, gold_field: str = "gold") -> list:
    """Before grading: the problems to leave out of the comparison (golds differ; only with
    ``skip_bad``, else BadInput), and BadInput when no problem is in both files."""
    conflicts = gold_conflicts(a, b, gold_field)
    if conflicts and not skip_bad:
        raise BadInput(conflicts[0][1])
    excluded = {pid for pid, _ in conflicts}
    if not (set(a.problem_ids) & set(b.problem_ids)) - excluded:
        raise BadInput(f"{b.name}: no problem is also in {a.name} (problem ids such as "
                       f"{preview(b.problem_ids[0])} and {preview(a.problem_ids[0])}): nothing "
                       "to compare")
    return [pid for pid, _ in conflicts]


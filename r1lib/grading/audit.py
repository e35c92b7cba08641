"""Seeing every verdict: r1-score's ``--per-sample`` file and ``--grader both``.

``--per-sample OUT.jsonl`` (``OUT.jsonl.gz`` is written compressed) holds one JSON object per input
sample, in input order (file A's samples, then B's when comparing)::

    {"file": "a.jsonl", "line": 3, "problem_id": "aime24-1", "sample": 2, "answer": "204",
     "correct": true, "grader": "math-verify", "timeout": false}

``sample`` counts the samples of a problem from 0 in input order (a line with a list of outputs
holds several); ``answer`` is the extracted answer in the canonical form that majority voting
compares (``"1/2"`` for ``\\frac{1}{2}`` and ``0.5``; null: no answer). With ``--grader both``
each object also has ``"builtin_answer"``, ``"builtin_correct"`` and ``"agree"``.

``--grader both`` grades every sample with math-verify (whose verdicts the scores use) and with
the builtin grader, and reports the samples where their verdicts differ: how many, which way,
pass@1 under each, and the first cases with file, line and both answers.
"""
from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from typing import IO, Any, Optional

import numpy as np

from .reader import Samples, preview
from .report import Report, plural, problem_votes
from .votes import GOLD

__all__ = ["sample_indices", "answer_text", "per_sample_records", "write_per_sample",
           "Disagreements", "disagreements", "format_disagreements", "CASES_SHOWN", "CASES_IN_JSON"]

CASES_SHOWN = 5     # cases in the table
CASES_IN_JSON = 20  # cases in --json


def sample_indices(problem_ids: Sequence) -> list:
    """Each sample's index among the samples of its problem (0, 1, ... in input order)."""
    seen: dict = {}
    out = []
    for pid in problem_ids:
        i = seen.get(pid, 0)
        out.append(i)
        seen[pid] = i + 1
    return out


def answer_text(answer: Any) -> Optional[str]:
    """A canonical answer as text (``Fraction(1, 2)`` -> ``"1/2"``, ``Fraction(3)`` -> ``"3"``)."""
    return None if answer is None else str(answer)


def per_sample_records(samples: Samples, grades: Sequence, grader: str,
                       other: Optional[Sequence] = None) -> Iterator[dict]:
    """The ``--per-sample`` objects of one file (``other``: the builtin grades of ``--grader both``)."""
    name = samples.name
    indices = sample_indices(samples.problem_ids)
    for i, g in enumerate(grades):
        record = {"file": name, "line": samples.lines[i], "problem_id": samples.problem_ids[i],
                  "sample": indices[i], "answer": answer_text(g.answer), "correct": bool(g.correct),
                  "grader": grader, "timeout": g.status == "timeout"}
        if other is not None:
            o = other[i]
            record.update(builtin_answer=answer_text(o.answer), builtin_correct=bool(o.correct),
                          agree=bool(o.correct) == bool(g.correct))
        yield record


def write_per_sample(path: str, runs: Sequence[tuple]) -> int:
    """Write the records of ``runs = [(samples, grades, grader, other or None), ...]`` to
    ``path`` (gzip when it ends in ``.gz``); returns the number of lines written."""
    count = 0
    opener: Any = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt", encoding="utf-8") as handle:
        out: IO = handle
        for samples, grades, grader, other in runs:
            for record in per_sample_records(samples, grades, grader, other):
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
    return count


class Disagreements:
    """Where two graders' verdicts on the same samples differ."""

    def __init__(self, samples: Samples, main: Sequence, other: Sequence, main_name: str,
                 other_name: str) -> None:
        self.samples, self.main, self.other = samples, main, other
        self.main_name, self.other_name = main_name, other_name
        self.indices = [i for i, (g, o) in enumerate(zip(main, other))
                        if bool(g.correct) != bool(o.correct)]
        self.main_only = sum(1 for i in self.indices if main[i].correct)
        self.other_only = len(self.indices) - self.main_only
        self.other_pass1 = _pass1(samples.problem_ids, other)

    def case(self, i: int, indices: list) -> dict:
        g, o = self.main[i], self.other[i]
        return {"file": self.samples.name, "line": self.samples.lines[i],
                "problem_id": self.samples.problem_ids[i], "sample": indices[i],
                self.main_name: {"answer": answer_text(g.answer), "correct": bool(g.correct)},
                self.other_name: {"answer": answer_text(o.answer), "correct": bool(o.correct)}}

    def as_json(self) -> dict:
        indices = sample_indices(self.samples.problem_ids)
        return {"graders": [self.main_name, self.other_name],
                "samples": len(self.indices),
                f"{self.main_name}_right_only": self.main_only,
                f"{self.other_name}_right_only": self.other_only,
                f"pass@1_{self.other_name}": self.other_pass1,
                "cases": [self.case(i, indices) for i in self.indices[:CASES_IN_JSON]]}


def _shown(answer: Any, limit: int = 30) -> str:
    """An answer as the table shows it: as written (not JSON-escaped), cut to ``limit``."""
    if answer is None:
        return "no answer"
    text = answer_text(answer)
    return "answer " + (text if len(text) <= limit else text[: limit - 3] + "...")


def _pass1(problem_ids: Sequence, grades: Sequence) -> float:
    _, votes = problem_votes(problem_ids, grades)
    return float(np.mean([sum(v is GOLD for v in row) / len(row) for row in votes]))


def disagreements(samples: Samples, main: Sequence, other: Sequence, *,
                  main_name: str = "math-verify", other_name: str = "builtin") -> Disagreements:
    """The samples whose verdicts differ between ``main`` and ``other`` grades."""
    return Disagreements(samples, main, other, main_name, other_name)


def format_disagreements(d: Disagreements, report: Report) -> str:
    """The table's lines about two graders' disagreements."""
    total = len(d.main)
    rows = [f"  graders disagree      {len(d.indices)} of {plural(total, 'sample')} "
            f"({100.0 * len(d.indices) / total:.1f}%): {d.main_only} right by {d.main_name} only, "
            f"{d.other_only} by {d.other_name} only",
            f"  {'pass@1 (' + d.other_name + ')':<22}{d.other_pass1:.4f} "
            f"(the scores above use {d.main_name}: {report.pass1.mean:.4f})"]
    indices = sample_indices(d.samples.problem_ids)
    for i in d.indices[:CASES_SHOWN]:
        g, o = d.main[i], d.other[i]
        rows.append(f"    {d.samples.name}:{d.samples.lines[i]} problem "
                    f"{preview(d.samples.problem_ids[i], 30)} sample {indices[i]}: {d.main_name} {'right' if g.correct else 'wrong'} "
                    f"({_shown(g.answer)}), {d.other_name} {'right' if o.correct else 'wrong'} "
                    f"({_shown(o.answer)})")
    if len(d.indices) > CASES_SHOWN:
        rows.append(f"    ... {len(d.indices) - CASES_SHOWN} more (all of them: --per-sample FILE)")
    return "\n".join(rows)

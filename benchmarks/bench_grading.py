"""Benchmark: grading throughput, a whole r1-score run and a comparison of two runs (issues 12, 21).

Synthetic R1-style samples: a few hundred characters of reasoning inside ``<think>`` (unique per
sample, so the (output, gold) cache cannot help), then a final answer in one of many spellings
(boxed or not, fractions, decimals, thousands separators, sets, tuples, units, percent) or no
answer at all (cut-off reasoning, empty box). Rows:

- builtin grader, samples/s on 100k samples (``grade_many``, one process per core);
- math-verify grader, samples/s on 100k samples (10k with ``--quick``), same;
- ``python -m r1lib.score`` on 1M samples with the builtin grader, wall time, target < 20 s on the
  2-core machine (reading, grading, pass@k, maj@k, the table);
- ``python -m r1lib.score A --compare B``, two runs of 1M samples on the same problems, builtin
  grader, one worker pool and one cache for both: wall time, target < 40 s on 2 cores (issue 21).

Each r1-score row notes the machine's load average before the run and the CPU time of the command
and its workers: on a shared machine the wall time depends on the neighbours, the CPU time less.

    .venv/bin/python benchmarks/bench_grading.py [--quick]   # this benchmark alone
    .venv/bin/python benchmarks/run.py --only grading         # the same, inside the suite
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from r1lib.grading import graders as grading  # noqa: E402

WORDS = ("so", "then", "we", "get", "check", "the", "sum", "of", "both", "sides", "wait", "hence",
         "factor", "substitute", "x", "y", "=", "+", "2", "3", "\\frac{1}{2}", "$a^2$", "roots")


def _answer_forms(gold: int, rng: np.random.Generator) -> list:
    """Ways a sample can end: right in several spellings, wrong, or without an answer."""
    g = gold
    return [
        f"The answer is $\\boxed{{{g}}}$.", f"\\boxed{{{g:,}}}", f"**Final Answer:** {g}",
        f"<answer>{g}</answer>", f"$\\boxed{{\\dfrac{{{2 * g}}}{{2}}}}$", f"\\boxed{{{g}.0}}",
        f"so $x = {g}$", f"\\boxed{{{g} \\text{{ cm}}}}",
        f"\\boxed{{{g + 1}}}", f"\\boxed{{\\frac{{{g}}}{{3}}}}", f"\\boxed{{({g}, {g + 2})}}",
        f"\\boxed{{\\{{{g}, {g - 1}\\}}}}", "\\boxed{", "I am not sure.",
    ]


def synthetic_samples(n: int, per_problem: int = 16, seed: int = 12, run_seed: Optional[int] = None,
                      forms: int = 14) -> tuple[list, list, list]:
    """``n`` samples: problem ids, raw outputs (unique reasoning), golds.

    ``seed`` fixes the problems (their golds); ``run_seed`` (default: ``seed``) the samples, so
    two runs on the same problems differ in ``run_seed``. The answer is drawn from the first
    ``forms`` of the 14 endings (the first 8 are right): fewer forms make a better model."""
    rng = np.random.default_rng(seed)
    n_problems = -(-n // per_problem)
    golds = rng.integers(1, 100_000, size=n_problems)
    if run_seed is not None:
        rng = np.random.default_rng(run_seed)
    word_idx = rng.integers(0, len(WORDS), size=(n, 40))
    pick = rng.integers(0, forms, size=n)
    cut = rng.random(n) < 0.05
    pids, outputs, gold_texts = [], [], []
    for i in range(n):
        p = i // per_problem
        reasoning = f"<think>sample {i}: " + " ".join(WORDS[j] for j in word_idx[i])
        if cut[i]:
            text = reasoning  # ran out of tokens inside <think>
        else:
            text = reasoning + "</think>\n" + _answer_forms(int(golds[p]), rng)[pick[i]]
        pids.append(f"p{p}")
        outputs.append(text)
        gold_texts.append(str(golds[p]))
    return pids, outputs, gold_texts


def rate(grader: str, outputs: list, golds: list) -> tuple[float, float, int, int]:
    """(samples per second, seconds, timeouts, distinct pairs graded) of grade_many.

    grade_many grades each distinct (final part, gold) pair once; the count says how much of
    the rate comes from that cache (the reasoning is unique per sample, the final answers repeat
    within a problem, as in real runs)."""
    start = time.perf_counter()
    grades = grading.grade_many(outputs, golds, grader=grader)
    seconds = time.perf_counter() - start
    distinct = len(set(zip(map(grading.final_text, outputs), golds)))
    return len(outputs) / seconds, seconds, sum(g.status == "timeout" for g in grades), distinct


def _write(path: Path, pids: list, outputs: list, golds: list) -> None:
    with open(path, "w") as f:
        f.writelines(json.dumps({"problem_id": p, "output": o, "gold": g}) + "\n"
                     for p, o, g in zip(pids, outputs, golds))


def score_run(n: int, compare: bool = False) -> tuple[float, float, dict, str]:
    """(wall seconds, CPU seconds of the command and its workers, --json report, load) of r1-score
    on n samples; with ``compare``, ``A --compare B`` on two runs of n samples each on the same
    problems (B draws its answers from fewer endings, so it is the better model)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / "a.jsonl", Path(tmp) / "b.jsonl"]
        runs = [(12, 14), (99, 12)] if compare else [(12, 14)]
        for path, (run_seed, forms) in zip(paths, runs):
            _write(path, *synthetic_samples(n, per_problem=64, run_seed=run_seed, forms=forms))
        cmd = [sys.executable, "-m", "r1lib.score", str(paths[0]), "--grader", "builtin", "--json",
               "--no-progress"] + (["--compare", str(paths[1])] if compare else [])
        load = "load average %.2f, %.2f, %.2f" % os.getloadavg()  # the machine is shared: say how busy
        before = os.times()
        start = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              env=dict(os.environ, PYTHONPATH=str(ROOT)))
        wall = time.perf_counter() - start
        after = os.times()
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, json.loads(proc.stdout), load


def bench_grading(rounds: int, row: Callable, quick: Optional[bool] = None) -> None:
    quick = rounds <= 7 if quick is None else quick
    _, outputs, golds = synthetic_samples(100_000)
    per_s, seconds, _, distinct = rate("builtin", outputs, golds)
    row("builtin grader, 100k samples", per_s,
        f"{grading.default_workers()} processes, {seconds:.1f} s wall", None, None, "info", None,
        unit=" samples/s", note=f"{distinct} distinct (final answer, gold) pairs graded")
    if grading.math_verify_available():
        n_mv = 10_000 if quick else 100_000
        per_s, seconds, timeouts, distinct = rate("math-verify", outputs[:n_mv], golds[:n_mv])
        row(f"math-verify grader, {n_mv // 1000}k samples", per_s,
            f"{grading.default_workers()} processes, {seconds:.1f} s wall", None, None, "info", None,
            unit=" samples/s", note=f"{distinct} distinct (final answer, gold) pairs graded, "
                                    f"{timeouts} timeouts (5 s limit)")
    wall, cpu, report, load = score_run(1_000_000)
    row("r1-score, 1M samples, builtin", wall, "CPU time (all processes)", cpu, None, "< 20 s",
        wall < 20, unit="s",
        note=f"{report['problems']} problems x 64 samples; pass@1 {report['pass@1']['mean']:.4f}; "
             f"{load} before the run")
    wall, cpu, report, load = score_run(1_000_000, compare=True)
    paired = report["paired"]["pass@1"]
    row("r1-score --compare, 2 x 1M, builtin", wall, "CPU time (all processes)", cpu, None,
        "< 40 s", wall < 40, unit="s",
        note=f"{report['paired']['problems']} problems x 64 samples each; B - A pass@1 "
             f"{paired['mean']:+.4f} ± {paired['se']:.4f}; {load} before the run")


if __name__ == "__main__":
    rows: list = []

    def collect(operation, value, comparison, comparison_value, ratio, target, passed, unit="s", note=""):
        rows.append((operation, value, comparison, comparison_value, target, passed, unit, note))
        extra = "" if comparison_value is None else f": {comparison_value:.3g}"
        print(f"{operation:36} {value:12.4g}{unit:11} {comparison}{extra}  target {target}"
              + ("" if passed is None else ("  PASS" if passed else "  FAIL")) + (f"  ({note})" if note else ""),
              flush=True)

    bench_grading(7 if "--quick" in sys.argv else 21, collect)

"""r1-score --compare: the paired difference B - A against a hand computation (exact fractions,
per problem, then averaged), its 95% interval against a simulation with a known difference
(coverage near 95%, and the unpaired interval's visibly too wide), problems found in one file
only, flips, golds that differ between the files, one worker pool and one cache for both files,
and the command as users run it."""
from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from r1lib.grading import graders as grading
from r1lib.grading import score
from r1lib.grading.compare import compare_reports
from r1lib.grading.report import build_report
from r1lib.grading.votes import GOLD, MajMemo

# problem -> (gold, verdicts of run A's samples, of run B's) with 1 = a correct sample,
# otherwise the wrong answer given; None = no answer. "p4" only in A, "p5" only in B.
RUN_A = {"p0": ("7", [1, 0, 3, 1]), "p1": ("2", [0, 0, 0, 0]), "p2": ("5", [1, 1, 1, 1]),
         "p3": ("9", [4, None, 1, 4]), "p4": ("1", [1, 1, 0, 0])}
RUN_B = {"p0": ("7", [1, 1, 3, 1, 1]), "p1": ("2", [1, 0, 0, 0]), "p2": ("5", [0, 0, 0, 0]),
         "p3": ("9", [1, 1, 1, None]), "p5": ("3", [1, 1, 1, 1])}


def write_run(path: Path, run: dict) -> None:
    with open(path, "w") as f:
        for pid, (gold, verdicts) in run.items():
            for j, v in enumerate(verdicts):
                answer = gold if v == 1 else (None if v is None else f"{int(gold) + 10 + v}")
                text = "<think>cut off" if answer is None else f"<think>{j}</think> $\\boxed{{{answer}}}$"
                f.write(json.dumps({"problem_id": pid, "output": text, "gold": gold}) + "\n")


@pytest.fixture
def runs(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_run(a, RUN_A)
    write_run(b, RUN_B)
    return a, b


def compare_json(capsys, a, b, *extra) -> dict:
    code = score.main([str(a), "--compare", str(b), "--grader", "builtin", "--json",
                       "--no-progress", "--workers", "1", *extra])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def subsets_pass(verdicts, k) -> Fraction:
    """pass@k by brute force: the share of size-k subsets holding a correct sample."""
    from itertools import combinations
    subsets = list(combinations(verdicts, k))
    return Fraction(sum(1 in s for s in subsets), len(subsets))


def subsets_maj(verdicts, k) -> Fraction:
    """maj@k with split ties, by brute force over the size-k subsets."""
    from itertools import combinations
    credit, subsets = Fraction(0), list(combinations(verdicts, k))
    for s in subsets:
        counts: dict = {}
        for v in s:
            if v is not None:
                counts[v] = counts.get(v, 0) + 1
        if counts.get(1, 0) and counts[1] == max(counts.values()):
            credit += Fraction(1, sum(c == counts[1] for c in counts.values()))
    return credit / len(subsets)


def test_paired_difference_by_hand(capsys, runs):
    got = compare_json(capsys, *runs)
    paired = got["paired"]
    common = ["p0", "p1", "p2", "p3"]
    assert paired["problems"] == 4 and paired["only_in_a"] == 1 and paired["only_in_b"] == 1
    assert paired["difference"] == "b - a" and paired["k_max"] == 4
    for metric, per_problem in (("pass@k", subsets_pass), ("maj@k", subsets_maj)):
        for k in (1, 2, 4):
            d = [per_problem(RUN_B[p][1], k) - per_problem(RUN_A[p][1], k) for p in common]
            mean = sum(d) / len(d)
            sd = math.sqrt(float(sum((x - mean) ** 2 for x in d) / (len(d) - 1)))
            se = sd / math.sqrt(len(d))
            z = stats.norm.ppf(0.975)
            row = paired[metric][str(k)]
            assert row["mean"] == pytest.approx(float(mean), abs=1e-12), (metric, k)
            assert row["se"] == pytest.approx(se, rel=1e-10), (metric, k)
            assert row["ci95"] == [pytest.approx(float(mean) - z * se), pytest.approx(float(mean) + z * se)]
    assert paired["pass@1"] == paired["pass@k"]["1"]
    # flips: p1 never solved in A, solved in B; p2 the other way
    assert paired["flips"] == {"unsolved_to_solved": 1, "solved_to_unsolved": 1}
    # each run's own object is the single-file one, over all its problems
    assert got["a"]["problems"] == 5 and got["b"]["problems"] == 5 and got["schema"] == 2
    assert got["a"]["file"] == str(runs[0]) and got["b"]["file"] == str(runs[1])
    # the unpaired SE that the note compares with
    rates = {p: [Fraction(v.count(1), len(v)) for v in (RUN_A[p][1], RUN_B[p][1])] for p in common}
    unpaired = math.hypot(statistics.stdev([float(r[0]) for r in rates.values()]),
                          statistics.stdev([float(r[1]) for r in rates.values()])) / 2
    assert paired["pass@1_se_unpaired"] == pytest.approx(unpaired)


def test_table_names_what_is_compared(capsys, runs):
    a, b = runs
    assert score.main([str(a), "--compare", str(b), "--grader", "builtin", "--no-progress",
                       "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert out.count("r1-score: ") == 3  # A's table, B's table, the comparison
    assert f"paired comparison B - A, A = {a}, B = {b}" in out
    assert 'only in A             1 problem, not compared: "p4"' in out
    assert 'only in B             1 problem, not compared: "p5"' in out
    assert "newly solved          1 problem" in out and "newly unsolved        1 problem" in out
    assert "pass@k B - A ± SE" in out and "maj@k B - A ± SE" in out


def test_golds_that_differ_stop_the_run_before_grading(tmp_path, capsys, runs, monkeypatch):
    a, _ = runs
    other = dict(RUN_B, p0=("8", RUN_B["p0"][1]))
    b = tmp_path / "b2.jsonl"
    write_run(b, other)
    monkeypatch.setattr(grading.GradingPool, "grade_many", lambda *a, **k: pytest.fail("graded"))
    code = score.main([str(a), "--compare", str(b), "--grader", "builtin", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"r1-score: error: {b}:1: field 'gold': problem \"p0\" has gold \"8\" here "
                          f"but \"7\" in {a}:1")


def test_golds_that_differ_are_left_out_with_skip_bad(tmp_path, capsys, runs):
    a, _ = runs
    b = tmp_path / "b2.jsonl"
    write_run(b, dict(RUN_B, p0=("8", RUN_B["p0"][1])))
    got = compare_json(capsys, a, b, "--skip-bad")
    assert got["paired"]["problems"] == 3 and got["paired"]["golds_differ"] == 1


def test_equal_values_spelled_differently_are_the_same_gold(tmp_path, capsys):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text("".join(json.dumps({"problem_id": i, "output": f"\\boxed{{{v}}}", "gold": "0.5"}) + "\n"
                         for i, v in [(1, "1/2"), (2, "1/2"), (2, "3")]))
    b.write_text("".join(json.dumps({"problem_id": i, "output": f"\\boxed{{{v}}}", "gold": g}) + "\n"
                         for i, v, g in [(1, "1/2", "\\frac{1}{2}"), (2, "3", 0.5), (2, "3", 0.5)]))
    got = compare_json(capsys, a, b)
    assert got["paired"]["problems"] == 2
    assert got["paired"]["pass@1"]["mean"] == pytest.approx((0 + (0 - 0.5)) / 2)


def test_no_problem_in_both_files(tmp_path, capsys, runs):
    a, _ = runs
    b = tmp_path / "other.jsonl"
    write_run(b, {"x": ("1", [1, 0])})
    code = score.main([str(a), "--compare", str(b), "--grader", "builtin", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and f"r1-score: error: {b}: no problem is also in {a}" in err


def test_one_problem_in_both_has_no_standard_error(tmp_path, capsys, runs):
    a, _ = runs
    b = tmp_path / "one.jsonl"
    write_run(b, {"p0": RUN_B["p0"]})
    got = compare_json(capsys, a, b)["paired"]
    assert got["problems"] == 1 and got["pass@1"]["se"] is None and got["pass@1"]["ci95"] is None
    assert got["pass@1"]["mean"] == pytest.approx(4 / 5 - 2 / 4)


def test_both_files_share_one_pool_and_one_cache(runs, monkeypatch, capsys):
    """Comparing a file with itself grades each distinct (answer, gold) pair once and starts the
    workers once (math-verify: sympy is imported once per worker, not once per file)."""
    a, _ = runs
    graded: list = []
    started: list = []
    verdicts = grading.GradingPool._verdicts
    worker_init = grading._Worker.__init__

    def counting_verdicts(self, items, progress):
        graded.extend(items)
        return verdicts(self, items, progress)

    def counting_init(self, *args, **kwargs):
        started.append(1)
        worker_init(self, *args, **kwargs)

    monkeypatch.setattr(grading.GradingPool, "_verdicts", counting_verdicts)
    monkeypatch.setattr(grading._Worker, "__init__", counting_init)
    grader = "math-verify" if grading.math_verify_available() else "builtin"
    code = score.main([str(a), "--compare", str(a), "--grader", grader, "--json", "--no-progress",
                       "--workers", "2"])
    got = json.loads(capsys.readouterr().out)
    assert code == 0 and got["paired"]["pass@1"] == {"mean": 0.0, "se": 0.0, "ci95": [0.0, 0.0]}
    distinct_golds = {g for g, _ in RUN_A.values()}
    distinct_pairs = len({(f"{int(g) + 10 + v}" if v not in (1, None) else v, g)
                          for g, vs in RUN_A.values() for v in vs})
    # the golds' check (one empty output per gold), then each distinct pair once for both files
    assert len(graded) == len(set(graded)) == len(distinct_golds) + distinct_pairs
    assert len(started) <= 2 if grader == "math-verify" else len(started) == 0


def test_module_and_console_script_compare(runs):
    a, b = runs
    cmd = [sys.executable, "-m", "r1lib.score", str(a), "--compare", str(b), "--grader", "builtin",
           "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["paired"]["problems"] == 4
    script = Path(sys.executable).with_name("r1-score")
    if not script.exists():
        pytest.skip("r1lib is not installed with its console script in this environment")
    proc = subprocess.run([str(script), str(a), "--compare", str(b), "--grader", "builtin"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "paired comparison B - A" in proc.stdout


# --- the interval's coverage, by simulation -----------------------------------------------------

LOW, HIGH, SHIFT = 0.05, 0.75, 0.1   # run A's per-problem success rate ~ U(LOW, HIGH); B's is +SHIFT
N_SAMPLES, N_PROBLEMS, N_RUNS = 8, 120, 2000
KS = (1, 2, 4, 8)


def true_pass_difference(k: int) -> float:
    """E[pass@k of B - of A] over the problem population, exactly: the integral of
    (1 - p)^k - (1 - p - SHIFT)^k over p ~ U(LOW, HIGH)."""
    def prim(x):  # an antiderivative of (1 - p)^k is -(1 - p)^(k+1) / (k+1)
        return -(1 - x) ** (k + 1) / (k + 1)
    gap = (prim(HIGH) - prim(LOW)) - ((prim(HIGH + SHIFT) - prim(LOW + SHIFT)))
    return gap / (HIGH - LOW)


def true_maj(p: float, k: int) -> float:
    """maj@k of a problem whose samples are right with probability p and otherwise all give the
    same wrong answer; a k/2-k/2 tie gets half the credit (ties='split')."""
    out = stats.binom.sf(k // 2, k, p)  # more than k/2 right
    if k % 2 == 0:
        out += 0.5 * stats.binom.pmf(k // 2, k, p)
    return float(out)


def true_maj_difference(k: int) -> float:
    value, _ = integrate.quad(lambda p: true_maj(p + SHIFT, k) - true_maj(p, k), LOW, HIGH,
                              epsabs=1e-12)
    return value / (HIGH - LOW)


def simulate(rng: np.random.Generator) -> tuple:
    """One pair of runs on the same N_PROBLEMS problems: r1-score's reports and comparison."""
    p = rng.uniform(LOW, HIGH, N_PROBLEMS)
    c_a, c_b = rng.binomial(N_SAMPLES, p), rng.binomial(N_SAMPLES, p + SHIFT)
    memo = MajMemo("split")
    problems = list(range(N_PROBLEMS))
    reports = [build_report("x", problems, [[GOLD] * int(c) + ["w"] * (N_SAMPLES - int(c)) for c in counts],
                            grader="builtin", memo=memo) for counts in (c_a, c_b)]
    return reports, compare_reports(*reports, memo=memo)


def test_paired_interval_covers_the_true_difference_95_percent_of_the_time():
    """2000 simulated pairs of runs with a known difference: each interval of the comparison
    (pass@1, pass@k, maj@k) holds the true difference in 95% of them, within the binomial margin
    (3 standard deviations: 0.95 -/+ 0.0146). The interval that ignores the pairing,
    sqrt(SE_A^2 + SE_B^2), covers far more often here: the check can tell."""
    rng = np.random.default_rng(2021)
    truth = {("pass", k): true_pass_difference(k) for k in KS}
    truth.update({("maj", k): true_maj_difference(k) for k in KS})
    assert truth[("pass", 1)] == pytest.approx(SHIFT, abs=1e-12)
    assert truth[("maj", 1)] == pytest.approx(SHIFT, abs=1e-9)
    hits = {key: 0 for key in truth}
    unpaired_hits = 0
    means = []
    for _ in range(N_RUNS):
        (a, b), cmp = simulate(rng)
        for (metric, k), value in truth.items():
            lo, hi = (cmp.pass_k if metric == "pass" else cmp.maj_k)[k].ci95
            hits[(metric, k)] += lo <= value <= hi
        se = math.hypot(a.pass1.se, b.pass1.se)
        unpaired_hits += abs(cmp.pass1.mean - SHIFT) <= 1.959963984540054 * se
        means.append(cmp.pass1.mean)
    margin = 3 * math.sqrt(0.95 * 0.05 / N_RUNS)
    coverage = {key: h / N_RUNS for key, h in hits.items()}
    for key, value in coverage.items():
        assert abs(value - 0.95) <= margin, (key, coverage)
    assert unpaired_hits / N_RUNS > 0.95 + margin  # the too-wide interval is caught
    # the estimate is unbiased: its mean over the runs is the true difference
    assert abs(np.mean(means) - SHIFT) < 4 * np.std(means) / math.sqrt(N_RUNS)


def test_coverage_check_catches_a_too_small_se():
    """The same check with half the SE: the coverage drops far below the margin."""
    rng = np.random.default_rng(7)
    inside = 0
    for _ in range(300):
        _, cmp = simulate(rng)
        inside += abs(cmp.pass1.mean - SHIFT) <= 1.959963984540054 * cmp.pass1.se / 2
    assert inside / 300 < 0.8


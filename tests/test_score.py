"""r1-score's numbers against a brute-force computation (every size-k subset enumerated, exact
fractions) and against r1lib.pass_at_1 / pass_at_k / maj_at_k called directly, on small files with
different sample counts per problem, ties and equivalent spellings; the table, --json, --plot,
field-name options, --ties, both graders, and the command as users run it."""
from __future__ import annotations

import itertools
import json
import math
import statistics
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import r1lib
from r1lib.grading import graders as grading
from r1lib.grading import score
from r1lib.grading import votes as vt

# One problem per entry: its gold and the answers of its samples, in sampling order (None = the
# output has no answer). n differs per problem (4 to 7) and there are ties between answers.
DESIGN = [
    (Fraction(1, 2), [Fraction(1, 2), 3, None, Fraction(1, 2), 3, 7]),
    (12, [5, 5, 12, 12]),                      # a 2-2 tie
    (4, [None, None, 1, 2, 3]),                # never right
    (9, [9, 9, 9, 9, 9, 9, 9]),                # always right
    (Fraction(-3, 4), [2, Fraction(-3, 4), 2, None, Fraction(-3, 4)]),
]
SPELLINGS = {Fraction(1, 2): [r"\frac{1}{2}", "0.5", r"\dfrac12", "1/2"],
             Fraction(-3, 4): [r"-\frac{3}{4}", "-0.75", r"\cfrac{-3}{4}"]}


def render(value, j: int) -> str:
    """A raw output whose answer is ``value`` in one of its spellings (or no answer)."""
    if value is None:
        return ["<think>I ran out of tokens", "<think>hm</think> I cannot tell.",
                r"<think>a</think> \boxed{"][j % 3]
    forms = SPELLINGS.get(value, [str(value)])
    return f"<think>sample {j}: try {value + 1}</think> The answer is $\\boxed{{{forms[j % len(forms)]}}}$."


def write_samples(path: Path, fields=("problem_id", "output", "gold")) -> None:
    with open(path, "w") as f:
        for i, (gold, answers) in enumerate(DESIGN):
            for j, a in enumerate(answers):
                gold_text = SPELLINGS.get(gold, [str(gold)])[0]
                f.write(json.dumps(dict(zip(fields, (f"q{i}", render(a, j), gold_text)))) + "\n")


@pytest.fixture
def samples_file(tmp_path):
    path = tmp_path / "samples.jsonl"
    write_samples(path)
    return path


def run_json(capsys, *args) -> dict:
    assert score.main([*map(str, args), "--json", "--no-progress", "--workers", "1"]) == 0
    return json.loads(capsys.readouterr().out)


# --- brute force ------------------------------------------------------------------------------

def brute_pass(answers, gold, k) -> Fraction:
    subsets = list(itertools.combinations(answers, k))
    return Fraction(sum(gold in s for s in subsets), len(subsets))


def brute_maj(answers, gold, k, ties) -> Fraction:
    credit = Fraction(0)
    subsets = list(itertools.combinations(range(len(answers)), k))
    for idx in subsets:
        votes = [answers[i] for i in idx if answers[i] is not None]
        if not votes:
            continue
        counts = {a: votes.count(a) for a in votes}
        top = max(counts.values())
        leaders = [a for a in counts if counts[a] == top]  # in order of first vote in the subset
        if gold not in leaders:
            continue
        if ties == "split":
            credit += Fraction(1, len(leaders))
        elif ties == "wrong":
            credit += len(leaders) == 1
        else:  # "first": the tied answer that occurs first in sampling order
            credit += leaders[0] == gold
    return credit / len(subsets)


def test_pass_at_1_and_its_clustered_se_by_hand(capsys, samples_file):
    got = run_json(capsys, samples_file, "--grader", "builtin")
    rates = [Fraction(sum(a == g for a in ans), len(ans)) for g, ans in DESIGN]
    mean = sum(rates) / len(rates)
    sd = math.sqrt(float(sum((r - mean) ** 2 for r in rates) / (len(rates) - 1)))
    assert got["pass@1"]["mean"] == pytest.approx(float(mean), rel=1e-13)
    assert got["pass@1"]["se"] == pytest.approx(sd / math.sqrt(len(rates)), rel=1e-12)
    assert got["problems"] == 5 and got["samples"] == sum(len(a) for _, a in DESIGN)
    assert got["no_answer"] == sum(a is None for _, ans in DESIGN for a in ans)
    assert got["grader"] == "builtin"


@pytest.mark.parametrize("ties", ["split", "wrong", "first"])
def test_pass_at_k_and_maj_at_k_against_brute_force(capsys, samples_file, ties):
    got = run_json(capsys, samples_file, "--grader", "builtin", "--ties", ties)
    ks = [1, 2, 4]  # powers of two up to the smallest n = 4
    assert list(got["pass@k"]) == list(got["maj@k"]) == [str(k) for k in ks]
    for k in ks:
        want_pass = sum(brute_pass(ans, g, k) for g, ans in DESIGN) / len(DESIGN)
        want_maj = sum(brute_maj(ans, g, k, ties) for g, ans in DESIGN) / len(DESIGN)
        assert got["pass@k"][str(k)] == pytest.approx(float(want_pass), rel=1e-12), k
        assert got["maj@k"][str(k)] == pytest.approx(float(want_maj), rel=1e-12), k
    assert got["pass@k"]["1"] == pytest.approx(got["pass@1"]["mean"], rel=1e-13)


def test_numbers_equal_r1lib_called_directly(capsys, samples_file):
    got = run_json(capsys, samples_file, "--grader", "builtin")
    n = np.array([len(a) for _, a in DESIGN])
    c = np.array([sum(x == g for x in a) for g, a in DESIGN])
    est = r1lib.pass_at_1(n, c)
    lo, hi = est.interval(0.95)
    assert got["pass@1"] == {"mean": pytest.approx(est.value), "se": pytest.approx(est.se),
                             "ci95": [pytest.approx(lo), pytest.approx(hi)]}
    for k in (1, 2, 4):
        per_problem = r1lib.pass_at_k(n, c, k)
        assert got["pass@k"][str(k)] == pytest.approx(float(np.mean(per_problem)))
        assert got["pass@k_se"][str(k)] == pytest.approx(r1lib.mean_with_se(per_problem).se)
        assert got["pass@k_ci95"][str(k)] == pytest.approx(list(r1lib.mean_with_se(per_problem).interval()))
        maj = [r1lib.maj_at_k(a, g, k) for g, a in DESIGN]
        assert got["maj@k"][str(k)] == pytest.approx(float(np.mean(maj)))
        assert got["maj@k_se"][str(k)] == pytest.approx(r1lib.mean_with_se(maj).se)
        assert got["maj@k_ci95"][str(k)] == pytest.approx(list(r1lib.mean_with_se(maj).interval()))


SCHEMA_1_KEYS = ["problems", "samples", "no_answer", "pass@1", "pass@k", "maj@k", "grader"]
SCHEMA_2_KEYS = SCHEMA_1_KEYS + [
    "schema", "file", "ties", "timeouts", "bad_lines", "k_max", "samples_per_problem",
    "pass@k_se", "pass@k_ci95", "maj@k_se", "maj@k_ci95", "notes"]


def test_json_schema_is_exactly_the_documented_one(capsys, samples_file):
    """Schema 2 keeps every key of schema 1, with the same meaning, and adds the rest."""
    got = run_json(capsys, samples_file, "--grader", "builtin")
    assert list(got) == SCHEMA_2_KEYS
    assert got["schema"] == 2 and got["ties"] == "split" and got["file"] == str(samples_file)
    assert set(got["pass@1"]) == {"mean", "se", "ci95"}
    assert all(isinstance(v, float) for v in list(got["pass@k"].values()) + list(got["maj@k"].values()))
    assert isinstance(got["problems"], int) and isinstance(got["samples"], int)
    assert got["timeouts"] == 0 and got["bad_lines"] == 0 and got["k_max"] == 4
    assert got["samples_per_problem"] == {"min": 4, "max": 7}
    for key in ("pass@k_se", "pass@k_ci95", "maj@k_se", "maj@k_ci95"):
        assert list(got[key]) == ["1", "2", "4"]
    for metric in ("pass@k", "maj@k"):
        for k, mean in got[metric].items():
            lo, hi = got[f"{metric}_ci95"][k]
            se = got[f"{metric}_se"][k]
            assert lo == pytest.approx(mean - 1.959963984540054 * se) and hi == pytest.approx(mean + 1.959963984540054 * se)
    assert any("k goes up to 4" in note or "smallest n = 4" in note for note in got["notes"])


def test_table_reports_counts_interval_and_the_k_limit(capsys, samples_file):
    assert score.main([str(samples_file), "--grader", "builtin", "--no-progress"]) == 0
    out = capsys.readouterr().out
    n = np.array([len(a) for _, a in DESIGN])
    c = np.array([sum(x == g for x in a) for g, a in DESIGN])
    lo, hi = r1lib.pass_at_1(n, c).interval(0.95)
    assert "problems              5" in out
    assert "samples per problem   min 4, max 7" in out
    assert f"95% CI [{lo:.4f}, {hi:.4f}]" in out
    no_answer = sum(a is None for _, ans in DESIGN for a in ans)
    assert f"no answer             {no_answer} " in out
    assert "grading timeouts      0" in out
    assert "problems have 4 to 7 samples" in out and "smallest n = 4" in out
    rows = [line.split()[0] for line in out.splitlines()[8:] if line.strip()[:1].isdigit()]
    assert rows == ["1", "2", "4"]


def test_equal_sample_counts_note(tmp_path, capsys):
    path = tmp_path / "even.jsonl"
    with open(path, "w") as f:
        for i in range(3):
            for j in range(3):
                f.write(json.dumps({"problem_id": i, "output": f"\\boxed{{{j}}}", "gold": "1"}) + "\n")
    assert score.main([str(path), "--grader", "builtin", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "k goes up to 2: every problem has n = 3 samples" in out


def test_one_problem_has_no_standard_error(tmp_path, capsys):
    path = tmp_path / "one.jsonl"
    path.write_text("".join(json.dumps({"problem_id": "a", "output": f"\\boxed{{{v}}}", "gold": "1"}) + "\n"
                            for v in (1, 2)))
    got = run_json(capsys, path, "--grader", "builtin")
    assert got["pass@1"] == {"mean": 0.5, "se": None, "ci95": None}
    assert got["pass@k_se"] == {"1": None, "2": None} and got["maj@k_ci95"] == {"1": None, "2": None}


def test_field_name_options(tmp_path, capsys, samples_file):
    other = tmp_path / "renamed.jsonl"
    write_samples(other, fields=("id", "completion", "answer"))
    want = run_json(capsys, samples_file, "--grader", "builtin")
    got = run_json(capsys, other, "--grader", "builtin", "--problem-field", "id",
                   "--output-field", "completion", "--gold-field", "answer")
    assert got.pop("file") == str(other) and want.pop("file") == str(samples_file)
    assert got == want


def test_math_verify_grader_gives_the_same_numbers_here(capsys, samples_file):
    pytest.importorskip("math_verify")
    builtin = run_json(capsys, samples_file, "--grader", "builtin")
    mv = run_json(capsys, samples_file, "--grader", "math-verify")
    assert mv["grader"] == "math-verify"
    for key in ("pass@k", "maj@k", "no_answer", "pass@k_se", "maj@k_se"):
        assert mv[key] == pytest.approx(builtin[key])
    for key in ("mean", "se", "ci95"):
        assert mv["pass@1"][key] == pytest.approx(builtin["pass@1"][key])


def test_parallel_workers_give_the_same_numbers(capsys, samples_file):
    one = run_json(capsys, samples_file, "--grader", "builtin")
    assert score.main([str(samples_file), "--json", "--no-progress", "--grader", "builtin",
                       "--workers", "2"]) == 0
    assert json.loads(capsys.readouterr().out) == one


def test_plot(tmp_path, capsys, samples_file):
    png = tmp_path / "scores.png"
    assert score.main([str(samples_file), "--grader", "builtin", "--no-progress", "--plot", str(png)]) == 0
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_maj_patterns_give_the_same_as_maj_at_k():
    """maj@k is computed once per vote pattern; the pattern keeps what maj@k depends on."""
    rng = np.random.default_rng(0)
    for ties in ("split", "wrong", "first"):
        for _ in range(30):
            n = int(rng.integers(1, 12))
            votes = [vt.GOLD if u < 0.3 else (None if u < 0.45 else int(u * 10))
                     for u in rng.random(n)]
            if vt.GOLD not in votes:
                continue
            ks = list(range(1, n + 1))
            pattern = vt.vote_pattern(votes, ties)
            direct = r1lib.maj_at_k(votes, vt.GOLD, ks, ties=ties)
            assert np.allclose(vt.maj_rows([pattern], ks, ties)[0], direct, rtol=1e-12, atol=0)


def test_maj_in_worker_processes_equals_in_process():
    """With ties="first" the pattern keeps the order, so 2500 random problems give more distinct
    patterns than the in-process limit and the workers compute them."""
    rng = np.random.default_rng(1)
    votes = [[vt.GOLD if u < 0.4 else int(u * 6) for u in rng.random(16)] for _ in range(2500)]
    patterns = [vt.vote_pattern(v, "first") if vt.GOLD in v else None for v in votes]
    ks = [1, 2, 4, 8, 16]
    assert len({p for p in patterns if p is not None}) >= vt.PARALLEL_FROM
    one = vt.MajMemo("first").table(patterns, ks)
    calls = []
    with grading.GradingPool("builtin", workers=2) as pool:
        def mapper(name, args_list):
            calls.append(len(args_list))
            return pool.map(name, args_list)
        two = vt.MajMemo("first").table(patterns, ks, mapper)
    assert calls and np.array_equal(one, two)
    for i in rng.choice(len(votes), 20, replace=False):
        want = r1lib.maj_at_k(votes[i], vt.GOLD, ks, ties="first") if patterns[i] is not None else np.zeros(5)
        assert np.allclose(one[i], want, rtol=1e-12, atol=0)


def test_module_and_console_script(samples_file):
    proc = subprocess.run([sys.executable, "-m", "r1lib.score", str(samples_file), "--json",
                           "--grader", "builtin"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["problems"] == 5
    script = Path(sys.executable).with_name("r1-score")
    if not script.exists():
        pytest.skip("r1lib is not installed with its console script in this environment")
    proc = subprocess.run([str(script), str(samples_file), "--grader", "builtin"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "pass@1" in proc.stdout


def test_ks_up_to():
    assert score.ks_up_to(1) == [1]
    assert score.ks_up_to(7) == [1, 2, 4]
    assert score.ks_up_to(64) == [1, 2, 4, 8, 16, 32, 64]


def test_statistics_module_agrees_on_the_se():
    """The same SE from the standard library, as a second independent route."""
    rates = [float(Fraction(sum(a == g for a in ans), len(ans))) for g, ans in DESIGN]
    est = r1lib.pass_at_1([len(a) for _, a in DESIGN], [sum(a == g for a in ans) for g, ans in DESIGN])
    assert est.se == pytest.approx(statistics.stdev(rates) / math.sqrt(len(rates)))


def test_progress_bar_on_a_terminal_only(samples_file, capsys, monkeypatch):
    """tqdm draws on stderr when it is a terminal; piped or --no-progress, stderr stays clean."""
    pytest.importorskip("tqdm")
    import io

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert score.main([str(samples_file), "--grader", "builtin", "--json", "--workers", "1"]) == 0
    assert "grading" in terminal.getvalue() and "output" in terminal.getvalue()
    monkeypatch.undo()
    assert score.main([str(samples_file), "--grader", "builtin", "--json", "--workers", "1"]) == 0
    assert "grading:" not in capsys.readouterr().err

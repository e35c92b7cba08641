"""r1-score's audit trail: --per-sample writes one line per input sample (problem, sample index,
canonical answer, verdict, grader, timeout) that agrees with the report and with grading each
sample alone; --grader both reports where math-verify and the builtin grader disagree."""
from __future__ import annotations

import gzip
import json

import pytest

import r1lib
from r1lib.grading import score

# (problem, output(s), gold): a list of outputs on one line is several samples of one problem
LINES = [
    ("a", r"<think>x</think> \boxed{\frac{1}{2}}", "0.5"),
    ("a", [r"\boxed{0.5}", "<think>cut off", r"\boxed{3}"], "0.5"),
    ("b", r"The answer is $\boxed{\sqrt{8}}$.", r"2\sqrt{2}"),     # right only with algebra
    ("b", r"\boxed{2\sqrt{2}}", r"2\sqrt{2}"),
    ("c", [r"\boxed{x^2-1}", r"\boxed{(x-1)(x+1)}"], "(x-1)(x+1)"),  # the first needs algebra
]


@pytest.fixture
def samples_file(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"problem_id": p, "output": o, "gold": g}) + "\n"
                            for p, o, g in LINES))
    return path


def flat():
    """(line, problem, sample index, output, gold) of every sample, in input order."""
    out, seen = [], {}
    for line, (p, outputs, gold) in enumerate(LINES, start=1):
        for o in outputs if isinstance(outputs, list) else [outputs]:
            out.append((line, p, seen.get(p, 0), o, gold))
            seen[p] = seen.get(p, 0) + 1
    return out


def read_lines(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("name", ["verdicts.jsonl", "verdicts.jsonl.gz"])
def test_per_sample_has_one_line_per_sample_graded_as_alone(tmp_path, capsys, samples_file, name):
    out = tmp_path / name
    code = score.main([str(samples_file), "--grader", "builtin", "--per-sample", str(out),
                       "--json", "--no-progress", "--workers", "1"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    rows = read_lines(out)
    expected = flat()
    assert len(rows) == len(expected) == report["samples"]
    for row, (line, p, j, text, gold) in zip(rows, expected):
        alone = r1lib.grading.grade(text, gold, grader="builtin")
        assert list(row) == ["file", "line", "problem_id", "sample", "answer", "correct", "grader",
                             "timeout"]
        assert row["file"] == str(samples_file) and row["line"] == line
        assert (row["problem_id"], row["sample"]) == (p, j)
        assert row["correct"] is alone.correct and row["grader"] == "builtin" and row["timeout"] is False
        assert row["answer"] == (None if alone.answer is None else str(alone.answer))
    assert rows[1]["answer"] == "1/2" and rows[2]["answer"] is None  # canonical; no answer
    # the verdicts add up to the report
    rates = {}
    for row in rows:
        rates.setdefault(row["problem_id"], []).append(row["correct"])
    mean = sum(sum(v) / len(v) for v in rates.values()) / len(rates)
    assert report["pass@1"]["mean"] == pytest.approx(mean)
    assert report["no_answer"] == sum(r["answer"] is None for r in rows)


def test_per_sample_of_a_comparison_holds_both_files(tmp_path, capsys, samples_file):
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"problem_id": "a", "output": r"\boxed{7}", "gold": "1/2"}) + "\n")
    out = tmp_path / "verdicts.jsonl"
    assert score.main([str(samples_file), "--compare", str(other), "--grader", "builtin",
                       "--per-sample", str(out), "--no-progress", "--workers", "1"]) == 0
    rows = read_lines(out)
    assert [r["file"] for r in rows] == [str(samples_file)] * len(flat()) + [str(other)]
    assert rows[-1] == {"file": str(other), "line": 1, "problem_id": "a", "sample": 0, "answer": "7",
                        "correct": False, "grader": "builtin", "timeout": False}


def test_timeouts_are_marked(tmp_path, capsys):
    pytest.importorskip("math_verify")
    path, out = tmp_path / "slow.jsonl", tmp_path / "verdicts.jsonl"
    tower = r"<think>big</think> \boxed{9^{9^{9^{9}}}}"
    path.write_text("".join(json.dumps({"problem_id": "p", "output": o, "gold": "1"}) + "\n"
                            for o in (tower, r"\boxed{1}")))
    code = score.main([str(path), "--grader", "math-verify", "--time-limit", "0.5", "--json",
                       "--per-sample", str(out), "--no-progress", "--workers", "1"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["timeouts"] == 1
    rows = read_lines(out)
    assert [(r["timeout"], r["correct"]) for r in rows] == [(True, False), (False, True)]
    assert any("1 sample ran out of grading time" in note for note in report["notes"])


def test_grader_both_reports_the_disagreements(tmp_path, capsys, samples_file):
    pytest.importorskip("math_verify")
    out = tmp_path / "verdicts.jsonl"
    code = score.main([str(samples_file), "--grader", "both", "--json", "--per-sample", str(out),
                       "--no-progress", "--workers", "1"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["grader"] == "math-verify"
    d = report["disagreements"]
    rows = read_lines(out)
    differ = [r for r in rows if not r["agree"]]
    assert [(r["problem_id"], r["sample"]) for r in differ] == [("b", 0), ("c", 0)]
    assert all(r["correct"] and not r["builtin_correct"] for r in differ)
    assert d["samples"] == 2 and d["math-verify_right_only"] == 2 and d["builtin_right_only"] == 0
    assert d["graders"] == ["math-verify", "builtin"]
    assert [(c["problem_id"], c["sample"], c["line"]) for c in d["cases"]] == [("b", 0, 3), ("c", 0, 5)]
    assert d["cases"][0]["builtin"] == {"answer": r"\sqrt{8}", "correct": False}
    assert d["cases"][0]["math-verify"]["correct"] is True
    # pass@1 under each grader, from the per-sample verdicts
    for key, field in (("pass@1_builtin", "builtin_correct"), (None, "correct")):
        rates = {}
        for r in rows:
            rates.setdefault(r["problem_id"], []).append(r[field])
        mean = sum(sum(v) / len(v) for v in rates.values()) / len(rates)
        assert (d[key] if key else report["pass@1"]["mean"]) == pytest.approx(mean)


def test_grader_both_table(capsys, samples_file):
    pytest.importorskip("math_verify")
    assert score.main([str(samples_file), "--grader", "both", "--no-progress", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "graders disagree      2 of 8 samples (25.0%): 2 right by math-verify only, 0 by builtin only" in out
    assert f"{samples_file}:3 problem \"b\" sample 0: math-verify right" in out
    assert r"math-verify right (answer \sqrt{8}), builtin wrong (answer \sqrt{8})" in out


def test_grader_both_needs_math_verify(capsys, samples_file, monkeypatch):
    monkeypatch.setattr(score, "math_verify_available", lambda: False)
    code = score.main([str(samples_file), "--grader", "both", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err == ("r1-score: error: --grader both needs the math-verify package: "
                                 "pip install 'r1lib[grading]'\n")

"""The small things a user hit (issue 21, item 6 and the names of item 5): --help explains the tie
rules and the metrics' other names; is_correct reads a float gold as r1-score does; messages use
plurals right; the table names pass@1 avg@n and maj@k cons@k."""
from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

import r1lib
from r1lib.grading import graders as grading
from r1lib.grading import score

GRADERS = ["builtin"] + (["math-verify"] if grading.math_verify_available() else [])


def test_help_explains_the_tie_rules_and_the_metrics(capsys):
    with pytest.raises(SystemExit) as info:
        score.main(["--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for words in ("split credit 1/m for an m-way tie", "wrong a tie counts as wrong",
                  "first the tied answer sampled first wins", "avg@n", "cons@k", "--compare",
                  "--per-sample", "both", "standard input", ".jsonl.gz", "1 - C(n-c, k) / C(n, k)"):
        assert words in text, words


FLOAT_GOLDS = [
    (r"\boxed{\frac{1}{2}}", 0.5, True),
    (r"\boxed{0.1}", 0.1, True),           # the decimal as written, not the binary float
    (r"\boxed{1/10}", 0.1, True),
    (r"\boxed{3}", 3.0, True),
    (r"\boxed{0.5}", np.float64(0.5), True),
    (r"\boxed{0.25}", 0.5, False),
    (r"\boxed{7}", np.int64(7), True),
    # repr would give "1e-05" and "1e+20", which math-verify reads with Euler's e
    (r"\boxed{0.00001}", 1e-5, True),
    (r"\boxed{100000000000000000000}", 1e20, True),
    (r"\boxed{-0.00000025}", -2.5e-7, True),
]


@pytest.mark.parametrize("grader", GRADERS)
def test_is_correct_takes_a_float_gold_like_r1_score(grader):
    for output, gold, verdict in FLOAT_GOLDS:
        assert r1lib.is_correct(output, gold, grader=grader) is verdict, (output, gold)
        assert grading.grade(output, gold, grader=grader).correct is verdict, (output, gold)
    outputs, golds, verdicts = zip(*FLOAT_GOLDS)
    grades = grading.grade_many(list(outputs), list(golds), grader=grader, workers=1)
    assert [g.correct for g in grades] == list(verdicts)


def test_gold_text_is_the_decimal_as_written():
    assert grading.gold_text(0.1) == "0.1" and grading.gold_text(np.float64(2.5)) == "2.5"
    assert grading.gold_text(Fraction(1, 3)) == "1/3" and grading.gold_text(np.int64(4)) == "4"
    assert grading.gold_text("x") == "x"
    # no exponent: the same value written out, checked in exact fractions against the float
    for x in (1e-5, 1e20, -2.5e-7, 1.25e-10, 3e16, 1.5e300):
        text = grading.gold_text(x)
        assert "e" not in text.lower() and Fraction(text) == Fraction(repr(x)), (x, text)
    assert grading.gold_text(1e-5) == "0.00001" and grading.gold_text(1e20) == "1" + "0" * 20


@pytest.mark.parametrize("gold, error, words", [
    (float("nan"), ValueError, ["gold", "finite", "nan"]),
    (float("inf"), ValueError, ["gold", "finite", "inf"]),
    (True, TypeError, ["gold", "True"]),
    ([1], TypeError, ["gold", "[1]"]),
])
def test_bad_gold_names_the_parameter(gold, error, words):
    for grader in GRADERS:
        with pytest.raises(error) as info:
            r1lib.is_correct(r"\boxed{1}", gold, grader=grader)
        assert all(w in str(info.value) for w in words), str(info.value)


def test_plurals(tmp_path, capsys):
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps({"problem_id": 1, "output": "x", "gold": "1"}) + "\n{oops\n")
    assert score.main([str(path), "--grader", "builtin", "--skip-bad", "--no-progress", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 bad line skipped" in out and "every problem has n = 1 sample " in out
    path.write_text("{oops\n")
    assert score.main([str(path), "--grader", "builtin", "--skip-bad", "--no-progress"]) == 2
    assert "no valid samples (1 bad line)" in capsys.readouterr().err


def test_table_names_the_metrics_as_papers_do(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    path.write_text("".join(json.dumps({"problem_id": p, "output": f"\\boxed{{{v}}}", "gold": "1"}) + "\n"
                            for p in range(3) for v in (1, 2)))
    assert score.main([str(path), "--grader", "builtin", "--no-progress", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "pass@1 (avg@n)" in out and "maj@k = cons@k" in out
    assert "pass@1 from n samples per problem is avg@n (n = 2 here)" in out

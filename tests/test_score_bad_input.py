"""r1-score on bad input: every kind of bad line gives one line on stderr naming the file, the line
number and the field, exit status 2 and no traceback; --skip-bad turns bad lines into a count and
scores the rest exactly as a file without them."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from r1lib.grading import score

GOOD = [json.dumps({"problem_id": p, "output": f"\\boxed{{{v}}}", "gold": "1"})
        for p, v in [("a", 1), ("a", 2), ("b", 1), ("b", 1), ("c", 3), ("c", 1)]]


def ok(**fields) -> str:
    record = {"problem_id": "z", "output": "\\boxed{1}", "gold": "1"}
    record.update(fields)
    return json.dumps({k: v for k, v in record.items() if v is not ...})


# (name, the bad line, what the message must say besides file:line)
BAD_LINES = [
    ("not JSON", '{"problem_id": "z", "output": "x" "gold": "1"}', "not valid JSON"),
    ("truncated JSON", '{"problem_id": "z", "output": "\\\\boxed{1', "not valid JSON"),
    ("not an object", '["z", "\\\\boxed{1}", "1"]', "expected a JSON object"),
    ("missing problem_id", ok(problem_id=...), "field 'problem_id': missing"),
    ("missing output", ok(output=...), "field 'output': missing"),
    ("missing gold", ok(gold=...), "field 'gold': missing"),
    ("output is a number", ok(output=42), "field 'output': must be a string"),
    ("output is null", ok(output=None), "field 'output': must be a string"),
    ("output is an object", ok(output={"text": "1"}), "field 'output': must be a string"),
    ("output list holds a number", ok(output=["\\boxed{1}", 2]), "field 'output': item 1 must be a string"),
    ("output is an empty list", ok(output=[]), "field 'output': an empty list"),
    ("problem_id is a float", ok(problem_id=1.5), "field 'problem_id': must be a string or an integer"),
    ("problem_id is null", ok(problem_id=None), "field 'problem_id': must be a string or an integer"),
    ("gold is a list", ok(gold=[1]), "field 'gold': must be a string or a number"),
    ("gold is null", ok(gold=None), "field 'gold': must be a string or a number"),
    ("gold is a boolean", ok(gold=True), "field 'gold': must be a string or a number"),
    ("gold nobody can read", ok(gold=""), "field 'gold': \"\" cannot be read by the builtin grader"),
    ("gold is blank", ok(gold="$ $"), "field 'gold'"),
    ("two golds for one problem", ok(problem_id="a", gold="2"), "field 'gold': problem \"a\" has gold"),
]


def run(capsys, path, *extra):
    code = score.main([str(path), "--grader", "builtin", "--no-progress", "--workers", "1", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name, line, message", BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_bad_line_is_one_clear_error(tmp_path, capsys, name, line, message):
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(GOOD[:3] + [line] + GOOD[3:]) + "\n")
    code, out, err = run(capsys, path)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("r1-score: error: ")
    assert f"{path}:4: " in err and message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("name, line, message", BAD_LINES, ids=[b[0] for b in BAD_LINES])
def test_skip_bad_counts_the_line_and_scores_the_rest(tmp_path, capsys, name, line, message):
    path, clean = tmp_path / "samples.jsonl", tmp_path / "clean.jsonl"
    path.write_text("\n".join(GOOD[:3] + [line] + GOOD[3:]) + "\n")
    clean.write_text("\n".join(GOOD) + "\n")
    code, out, err = run(capsys, path, "--skip-bad", "--json")
    assert code == 0
    got, want = json.loads(out), json.loads(run(capsys, clean, "--json")[1])
    assert got.pop("bad_lines") == 1 and want.pop("bad_lines") == 0
    assert got.pop("file") == str(path) and want.pop("file") == str(clean)
    notes = got.pop("notes")
    assert want.pop("notes") == notes[:-1] and notes[-1].startswith("1 bad line skipped")
    assert got == want
    assert "1 bad line skipped (--skip-bad)" in err and message in err
    code, out, err = run(capsys, path, "--skip-bad")
    assert "bad lines skipped     1" in out


def test_skip_bad_with_many_bad_lines(tmp_path, capsys):
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(GOOD + [b[1] for b in BAD_LINES]) + "\n")
    code, out, err = run(capsys, path, "--skip-bad")
    assert code == 0 and f"bad lines skipped     {len(BAD_LINES)}" in out


@pytest.mark.parametrize("content, message", [
    ("", "empty file"),
    ("\n  \n\n", "empty file"),
])
def test_empty_file(tmp_path, capsys, content, message):
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    for extra in ((), ("--skip-bad",)):
        code, out, err = run(capsys, path, *extra)
        assert code == 2 and err == f"r1-score: error: {path}: {message}: no samples to score\n"


def test_only_bad_lines_with_skip_bad(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text("{oops\n[1]\n")
    code, out, err = run(capsys, path, "--skip-bad")
    assert code == 2 and "no valid samples (2 bad lines)" in err


def test_missing_file_and_non_utf8(tmp_path, capsys):
    code, _, err = run(capsys, tmp_path / "nope.jsonl")
    assert code == 2 and "nope.jsonl: cannot open" in err and err.count("\n") == 1
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"problem_id": "a", "output": "caf\xe9", "gold": "1"}\n')
    code, _, err = run(capsys, path)
    assert code == 2 and "not UTF-8" in err


def test_blank_lines_and_line_numbers(tmp_path, capsys):
    """Blank lines are skipped but still counted in line numbers."""
    path = tmp_path / "gaps.jsonl"
    path.write_text(GOOD[0] + "\n\n\n" + ok(output=7) + "\n")
    code, _, err = run(capsys, path)
    assert code == 2 and f"{path}:4: field 'output'" in err


def test_custom_field_names_appear_in_messages(tmp_path, capsys):
    path = tmp_path / "renamed.jsonl"
    path.write_text(json.dumps({"id": 1, "completion": "x"}) + "\n")
    code = score.main([str(path), "--problem-field", "id", "--output-field", "completion",
                       "--gold-field", "answer", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and f"{path}:1: field 'answer': missing" in err


def test_gold_math_verify_cannot_read(tmp_path, capsys):
    pytest.importorskip("math_verify")
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(GOOD + [ok(problem_id="y", gold="}{")]) + "\n")
    code = score.main([str(path), "--grader", "math-verify", "--no-progress", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and f"{path}:7: field 'gold': \"}}{{\" cannot be read by the math-verify grader" in err
    # builtin reads "}{" as a (strange) string answer
    assert run(capsys, path)[0] == 0


@pytest.mark.parametrize("args, message", [(["--workers", "0"], "--workers"),
                                           (["--time-limit", "0"], "--time-limit"),
                                           (["--time-limit", "nan"], "--time-limit")])
def test_bad_options(tmp_path, capsys, args, message):
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(GOOD) + "\n")
    code, _, err = run(capsys, path, *args)
    assert code == 2 and message in err and err.count("\n") == 1


def test_no_traceback_from_the_real_command(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text(GOOD[0] + "\n{oops\n")
    proc = subprocess.run([sys.executable, "-m", "r1lib.score", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines()[-1].startswith(f"r1-score: error: {path}:2: not valid JSON")
    assert "Traceback" not in proc.stderr
    # unknown options are argparse's usage error, also status 2
    proc = subprocess.run([sys.executable, "-m", "r1lib.score", str(path), "--grader", "sympy"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def test_a_gold_that_changes_and_changes_back_is_found(tmp_path, capsys):
    """The fast path compares every line with its problem's first gold, not only the last."""
    path = tmp_path / "samples.jsonl"
    path.write_text("".join(json.dumps({"problem_id": "a", "output": "\\boxed{1}", "gold": g}) + "\n"
                            for g in ("1", "2", "1")))
    code, _, err = run(capsys, path)
    assert code == 2 and err == (f"r1-score: error: {path}:2: field 'gold': problem \"a\" has gold "
                                 "\"1\" at line 1 but \"2\" here\n")

"""r1-score reads the files evaluation tools write: a list of outputs per line (one problem, n
samples, under any field name), standard input (-), gzip (.jsonl.gz, also on stdin), a UTF-8
byte-order mark, Windows line ends, float golds; each gives exactly the numbers of the plain
one-sample-per-line file. Broken compressed input is one clear error."""
from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys

import pytest

from r1lib.grading import score

# problem -> (gold, outputs)
PROBLEMS = {
    "q1": ("3", [r"\boxed{3}", r"\boxed{4}", "<think>cut", r"\boxed{3}"]),
    "q2": ("1/2", [r"\boxed{0.5}", r"\boxed{\frac12}", r"\boxed{2}", r"\boxed{2}"]),
    "q3": ("10", [r"\boxed{9}", r"\boxed{10}", r"\boxed{10}", r"\boxed{1}"]),
}


def plain_text() -> str:
    return "".join(json.dumps({"problem_id": p, "output": o, "gold": g}) + "\n"
                   for p, (g, outs) in PROBLEMS.items() for o in outs)


def run_json(capsys, *args) -> dict:
    code = score.main([*map(str, args), "--grader", "builtin", "--json", "--no-progress",
                       "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    got = json.loads(captured.out)
    got.pop("file")
    return got


@pytest.fixture
def plain(tmp_path, capsys):
    path = tmp_path / "plain.jsonl"
    path.write_text(plain_text())
    return run_json(capsys, path)


def test_a_list_of_outputs_per_line_is_n_samples(tmp_path, capsys, plain):
    path = tmp_path / "lists.jsonl"
    path.write_text("".join(json.dumps({"problem_id": p, "output": outs, "gold": g}) + "\n"
                            for p, (g, outs) in PROBLEMS.items()))
    assert run_json(capsys, path) == plain
    # vLLM-style field names, and lists split over several lines of one problem
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text("".join(json.dumps({"id": p, "completions": part, "answer": g}) + "\n"
                               for p, (g, outs) in PROBLEMS.items() for part in (outs[:1], outs[1:])))
    assert run_json(capsys, renamed, "--problem-field", "id", "--output-field", "completions",
                    "--gold-field", "answer") == plain


def test_lists_mixed_with_single_outputs_and_bad_lines(tmp_path, capsys, plain):
    """The per-line path (a bad line with --skip-bad) expands lists the same way."""
    path = tmp_path / "mixed.jsonl"
    lines = [json.dumps({"problem_id": p, "output": outs if p != "q2" else outs[0], "gold": g})
             for p, (g, outs) in PROBLEMS.items()]
    lines += [json.dumps({"problem_id": "q2", "output": o, "gold": "1/2"}) for o in PROBLEMS["q2"][1][1:]]
    lines.insert(1, "{not json")
    path.write_text("\n".join(lines) + "\n")
    got = run_json(capsys, path, "--skip-bad")
    assert got.pop("bad_lines") == 1 and plain.pop("bad_lines") == 0
    assert got.pop("notes")[:-1] == plain.pop("notes")
    assert got == plain


def test_stdin(capsys, monkeypatch, plain):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(plain_text().encode())))
    assert run_json(capsys, "-") == plain


def test_gzip_file_and_gzip_on_stdin(tmp_path, capsys, monkeypatch, plain):
    path = tmp_path / "samples.jsonl.gz"
    path.write_bytes(gzip.compress(plain_text().encode()))
    assert run_json(capsys, path) == plain
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    assert run_json(capsys, "-") == plain


def test_byte_order_mark_and_windows_line_ends(tmp_path, capsys, plain):
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + plain_text().replace("\n", "\r\n").encode())
    assert run_json(capsys, path) == plain


@pytest.mark.parametrize("grader", ["builtin", "math-verify"])
def test_float_gold(tmp_path, capsys, grader):
    """A JSON number as gold is the decimal it prints as, written out: json.dumps writes 1e-05 and
    1e+20, which math-verify would read with Euler's e."""
    if grader == "math-verify":
        pytest.importorskip("math_verify")
    path = tmp_path / "floats.jsonl"
    path.write_text("".join(json.dumps({"problem_id": i, "output": o, "gold": g}) + "\n"
                            for i, o, g in [(1, r"\boxed{\frac{1}{2}}", 0.5), (2, r"\boxed{0.1}", 0.1),
                                            (3, r"\boxed{3}", 3.0), (4, r"\boxed{0.00001}", 1e-5),
                                            (5, r"\boxed{100000000000000000000}", 1e20)]))
    assert "1e-05" in path.read_text() and "1e+20" in path.read_text()
    code = score.main([str(path), "--grader", grader, "--json", "--no-progress", "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert json.loads(captured.out)["pass@1"]["mean"] == 1.0


def test_broken_gzip_is_one_clear_error(tmp_path, capsys):
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(gzip.compress(plain_text().encode())[:40])
    code = score.main([str(path), "--grader", "builtin", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"r1-score: error: {path}: not a valid gzip file") and err.count("\n") == 1


def test_messages_name_stdin(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"problem_id": 1, "output": 5, "gold": "1"}\n')))
    code = score.main(["-", "--grader", "builtin", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("r1-score: error: <stdin>:1: field 'output': must be a string")


def test_both_runs_on_stdin_is_an_error(capsys):
    code = score.main(["-", "--compare", "-", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err == "r1-score: error: --compare -: standard input can hold only one of the two runs\n"


def test_stdin_through_the_real_command(tmp_path, plain):
    path = tmp_path / "b.jsonl.gz"
    path.write_bytes(gzip.compress(plain_text().encode()))
    proc = subprocess.run([sys.executable, "-m", "r1lib.score", "-", "--compare", str(path),
                           "--grader", "builtin", "--json"], input=plain_text(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["a"]["file"] == "<stdin>" and got["paired"]["pass@1"]["mean"] == 0.0
    assert got["a"]["pass@1"] == plain["pass@1"]


def test_lines_that_are_json_only_when_joined_are_bad_lines(tmp_path, capsys):
    """Three lines, none of them a JSON object on its own, that a reader parsing the lines
    joined by commas as one array would take for three samples: an object broken between its
    members (the joining comma completes it) and two objects on one line. Then one good line."""
    one = {"problem_id": "q1", "output": r"\boxed{3}", "gold": "3"}
    text = (json.dumps(one)[:-1].replace(', "gold"', '\n"gold"') + "}\n"
            + json.dumps(one) + "," + json.dumps(one) + "\n")
    lines = text.splitlines()
    assert len(lines) == 3 and len(json.loads("[" + ",".join(lines) + "]")) == 3
    path = tmp_path / "joined.jsonl"
    path.write_text(text + json.dumps(one) + "\n")
    args = [str(path), "--grader", "builtin", "--no-progress", "--workers", "1"]
    assert score.main(args) == 2
    assert f"{path}:1: not valid JSON" in capsys.readouterr().err
    got = run_json(capsys, path, "--skip-bad")
    assert (got["bad_lines"], got["samples"]) == (3, 1)

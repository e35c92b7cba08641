"""r1-score never loses a finished grading run and never prints a traceback: what can be checked
before grading is (the --plot and --per-sample targets, matplotlib and the image format, every
gold), and a write that still fails afterwards is one line on stderr after the complete report,
with exit status 2. Internal failures are one line too."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from r1lib.grading import graders as grading
from r1lib.grading import score

LINES = [json.dumps({"problem_id": p, "output": f"\\boxed{{{v}}}", "gold": "1"})
         for p, v in [("a", 1), ("a", 2), ("b", 1), ("b", 1), ("c", 3), ("c", 1)]]


@pytest.fixture
def samples_file(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    return path


@pytest.fixture
def no_grading(monkeypatch):
    """Fail the test if any output is graded (the golds' check grades only empty outputs)."""
    verdicts = grading.GradingPool._verdicts

    def guarded(self, items, progress):
        if any(text for text, _ in items):
            pytest.fail("outputs were graded before the error")
        return verdicts(self, items, progress)

    monkeypatch.setattr(grading.GradingPool, "_verdicts", guarded)


def run(capsys, *args):
    code = score.main([*map(str, args), "--grader", "builtin", "--no-progress", "--workers", "1"])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(err: str) -> str:
    assert err.count("\n") == 1 and err.startswith("r1-score: error: "), err
    assert "Traceback" not in err
    return err[len("r1-score: error: "):].strip()


@pytest.mark.parametrize("option", ["--plot", "--per-sample"])
def test_missing_folder_is_reported_before_grading(tmp_path, capsys, samples_file, no_grading, option):
    target = tmp_path / "nope" / "out.png"
    code, out, err = run(capsys, samples_file, option, target)
    assert code == 2 and out == ""
    assert one_error_line(err) == f"{option} {target}: the folder {target.parent} does not exist"


@pytest.mark.parametrize("option", ["--plot", "--per-sample"])
def test_a_folder_or_an_input_as_target_is_refused(tmp_path, capsys, samples_file, no_grading, option):
    code, _, err = run(capsys, samples_file, option, tmp_path)
    assert code == 2 and one_error_line(err) == f"{option} {tmp_path}: is a folder, not a file name"
    code, _, err = run(capsys, samples_file, option, samples_file)
    assert code == 2 and "is an input file" in one_error_line(err)
    assert samples_file.read_text() == "\n".join(LINES) + "\n"


def test_unknown_image_format_is_reported_before_grading(tmp_path, capsys, samples_file, no_grading):
    pytest.importorskip("matplotlib")
    code, out, err = run(capsys, samples_file, "--plot", tmp_path / "scores.pgn")
    message = one_error_line(err)
    assert code == 2 and out == "" and "matplotlib cannot write .pgn files" in message and ".png" in message


def test_missing_matplotlib_is_reported_before_grading(tmp_path, capsys, samples_file, no_grading,
                                                       monkeypatch):
    import importlib.util
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a))
    code, _, err = run(capsys, samples_file, "--plot", tmp_path / "scores.png")
    assert code == 2 and one_error_line(err) == (f"--plot {tmp_path / 'scores.png'}: needs matplotlib "
                                                 "(pip install matplotlib)")


def test_unreadable_gold_is_reported_before_grading(tmp_path, capsys, no_grading):
    path = tmp_path / "samples.jsonl"
    path.write_text("\n".join(LINES + [json.dumps({"problem_id": "z", "output": "1", "gold": "$ $"})]) + "\n")
    code, _, err = run(capsys, path)
    assert code == 2
    assert one_error_line(err) == f"{path}:7: field 'gold': \"$ $\" cannot be read by the builtin grader"


def test_unreadable_gold_of_the_second_file_too(tmp_path, capsys, samples_file, no_grading):
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({"problem_id": "a", "output": ["1", "2"], "gold": "1"}) + "\n"
                     + json.dumps({"problem_id": "y", "output": ["1", "2"], "gold": ""}) + "\n")
    code, _, err = run(capsys, samples_file, "--compare", other)
    assert code == 2 and one_error_line(err).startswith(f"{other}:2: field 'gold': \"\" cannot be read")


def test_a_plot_that_fails_after_grading_comes_after_the_report(tmp_path, capsys, samples_file,
                                                                monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(score, "plot_reports", broken)
    png = tmp_path / "scores.png"
    code, out, err = run(capsys, samples_file, "--plot", png, "--json")
    assert code == 2 and json.loads(out)["problems"] == 3  # the report is complete
    notes, error = err.splitlines()[:-1], err.splitlines()[-1] + "\n"
    assert all(line.startswith("r1-score: note: ") for line in notes)  # --json: notes on stderr too
    assert one_error_line(error) == (f"--plot {png}: cannot save the plot: RuntimeError: the disk is "
                                   "full (the report above is complete)")


def test_a_per_sample_write_that_fails_comes_after_the_report(tmp_path, capsys, samples_file,
                                                              monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(score, "write_per_sample", broken)
    png, out_file = tmp_path / "scores.png", tmp_path / "verdicts.jsonl"
    code, out, err = run(capsys, samples_file, "--per-sample", out_file, "--plot", png)
    assert code == 2 and "pass@1 (avg@n)" in out
    assert one_error_line(err) == (f"--per-sample {out_file}: cannot write: No space left on device "
                                   "(the report above is complete)")
    assert png.read_bytes()[:4] == b"\x89PNG"  # the other output is still written


def test_a_worker_that_dies_is_one_line(capsys, samples_file, monkeypatch):
    def dead(self, items, progress):
        raise RuntimeError("a worker process died while computing maj_rows")

    monkeypatch.setattr(grading.GradingPool, "_verdicts", dead)
    code, out, err = run(capsys, samples_file)
    assert code == 2 and out == ""
    assert one_error_line(err) == "grading failed: a worker process died while computing maj_rows"


def test_an_internal_error_is_one_line(capsys, samples_file, monkeypatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(score, "score_samples", bug)
    code, _, err = run(capsys, samples_file)
    assert code == 2 and one_error_line(err).startswith(
        "internal error, please report it: ZeroDivisionError: division by zero")


def test_plot_and_per_sample_written_after_a_successful_run(tmp_path, capsys, samples_file):
    pytest.importorskip("matplotlib")
    png, out_file = tmp_path / "scores.png", tmp_path / "verdicts.jsonl"
    code, out, err = run(capsys, samples_file, "--plot", png, "--per-sample", out_file)
    assert code == 0 and err == ""
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(out_file.read_text().splitlines()) == len(LINES)


def test_no_traceback_from_the_real_command_when_the_plot_folder_is_missing(tmp_path, samples_file):
    target = tmp_path / "missing" / "plot.png"
    proc = subprocess.run([sys.executable, "-m", "r1lib.score", str(samples_file), "--plot", str(target)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines()[-1] == f"r1-score: error: --plot {target}: the folder {target.parent} does not exist"
    assert "Traceback" not in proc.stderr


def test_a_plot_name_without_suffix_is_checked_as_the_png_matplotlib_writes(tmp_path, capsys,
                                                                           samples_file):
    pytest.importorskip("matplotlib")
    (tmp_path / "taken.png").mkdir()
    code, _, err = run(capsys, samples_file, "--plot", tmp_path / "taken")
    assert code == 2 and one_error_line(err) == f"--plot {tmp_path / 'taken.png'}: is a folder, not a file name"
    code, _, err = run(capsys, samples_file, "--plot", tmp_path / "scores")
    assert code == 0 and err == ""
    assert (tmp_path / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

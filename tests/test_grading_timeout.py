"""The math-verify grader's per-call time limit: a pathological output times out (wrong, counted),
a worker stuck where no signal reaches it is killed and replaced, and both work from a thread and
in a Jupyter kernel, where math-verify's own signal.alarm timeouts do not."""
from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time

import pytest

pytest.importorskip("math_verify")

from r1lib.grading import graders as grading  # noqa: E402

# 9^(9^(9^9)): sympy tries to evaluate the power tower and never finishes.
TOWER = r"<think>big</think> \boxed{9^{9^{9^{9}}}}"


def test_pathological_output_times_out_and_counts_as_wrong():
    start = time.perf_counter()
    got = grading.grade(TOWER, "1", grader="math-verify", time_limit=1.0)
    elapsed = time.perf_counter() - start
    assert got == grading.Grade(False, None, "timeout")
    assert elapsed < 1.0 + 2.0 + 3.0  # limit + grace + start-up slack; never a hang
    # the worker survives (soft limit) and grades the next output normally
    assert grading.grade(r"\boxed{2}", "2", grader="math-verify", time_limit=1.0).correct


def test_timeouts_in_a_batch_are_counted_and_the_rest_is_graded():
    outputs = [r"\boxed{1}", TOWER, r"\boxed{3}", TOWER, r"\boxed{5}"]
    golds = ["1", "1", "3", "1", "6"]
    start = time.perf_counter()
    grades = grading.grade_many(outputs, golds, grader="math-verify", workers=2, time_limit=0.5)
    assert time.perf_counter() - start < 20
    assert [g.status for g in grades] == ["ok", "timeout", "ok", "timeout", "ok"]
    assert [g.correct for g in grades] == [True, False, True, False, False]


def test_a_stuck_worker_is_killed_and_replaced():
    """SIGSTOP stands for computation inside C code, which never sees the worker's timer."""
    pool = grading._Pool("math-verify", 1)
    try:
        assert pool.run([(r"\boxed{1}", "1")], 1.0, 1)[0][:2] == ("ok", True)
        stuck = pool.workers[0].proc
        os.kill(stuck.pid, signal.SIGSTOP)
        start = time.perf_counter()
        verdicts = pool.run([(r"\boxed{2}", "2"), (r"\boxed{3}", "3")], 0.5, 8)
        elapsed = time.perf_counter() - start
        assert verdicts[0] == ("timeout", False, None)  # the item the stuck worker held
        assert verdicts[1][:2] == ("ok", True)           # redone by the new worker
        assert pool.timeouts == 1
        assert stuck.poll() is not None                  # the stuck process is gone
        assert pool.workers[0].proc.pid != stuck.pid
        assert elapsed < 0.5 + 1.0 + 30  # limit + grace + a new worker's start-up
    finally:
        pool.close()


def test_works_from_a_thread_where_math_verify_s_own_timeout_cannot():
    import math_verify

    results = {}

    def job():
        try:
            math_verify.parse(r"\boxed{1}")  # its signal.alarm needs the main thread
        except ValueError as exc:
            results["direct"] = str(exc)
        results["ours"] = grading.grade(r"\boxed{1/2}", "0.5", grader="math-verify", time_limit=2.0)
        results["tower"] = grading.grade(TOWER, "1", grader="math-verify", time_limit=0.5)

    thread = threading.Thread(target=job)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    assert "thread" in results["direct"]
    assert results["ours"].correct and results["tower"].status == "timeout"


def test_time_limit_in_a_jupyter_kernel():
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import time\nfrom r1lib.grading import graders as grading\nstart = time.perf_counter()\n"
        f"g = grading.grade({TOWER!r}, '1', grader='math-verify', time_limit=1.0)\n"
        "ok = grading.grade(r'\\boxed{\\frac{1}{\\sqrt2}}', r'\\frac{\\sqrt2}{2}', grader='math-verify')\n"
        "print(g.status, ok.correct, time.perf_counter() - start < 30)")]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    assert nb.cells[0].outputs[0]["text"].split() == ["timeout", "True", "True"]


def test_a_worker_killed_from_outside_is_replaced():
    pool = grading._Pool("math-verify", 1)
    try:
        assert pool.run([(r"\boxed{1}", "1")], 2.0, 1)[0][:2] == ("ok", True)
        os.kill(pool.workers[0].proc.pid, signal.SIGKILL)
        verdicts = pool.run([(r"\boxed{2}", "2"), (r"\boxed{3}", "4")], 2.0, 8)
        # the item it held when it died counts as lost time; the rest is graded
        assert verdicts[0] == ("timeout", False, None)
        assert verdicts[1][:2] == ("ok", False)
    finally:
        pool.close()


def test_a_worker_that_cannot_start_is_an_error_not_a_loop(monkeypatch):
    monkeypatch.setattr(sys, "executable", shutil.which("false") or "/bin/false")
    pool = grading._Pool("builtin", 1)
    with pytest.raises(RuntimeError, match="start-up"):
        pool.run([("x", "1")], 1.0, 1)
    assert pool.workers == []


def test_threads_share_the_worker_safely():
    cases = [(rf"\boxed{{{i}}}", str(i if i % 3 else i + 1)) for i in range(24)]
    results: dict = {}

    def job(k):
        for i, (text, gold) in enumerate(cases[k::4]):
            results[k + 4 * i] = grading.grade(text, gold, grader="math-verify").correct

    threads = [threading.Thread(target=job, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [results[i] for i in range(len(cases))] == [bool(i % 3) for i in range(len(cases))]

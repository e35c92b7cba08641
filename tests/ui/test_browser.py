"""Every notebook, the way a user meets it: JupyterLab in Debian's Chromium (driven by Playwright).

For each ``notebooks/NN_*.ipynb`` (collected at collection time; none -> one clean skip):

1. it opens, "Run All" runs every cell to the end, and no output anywhere shows an error or
   stderr text -- also inside widget outputs, where callback exceptions are otherwise swallowed;
2. every slider renders, and a key press on its handle (PageUp, or PageDown near the top: five
   steps, one update) changes both the panel's status text and its figure, without an error;
3. a screenshot of the whole notebook and one per panel, after the moves, land in
   ``tests/ui/screenshots/`` (ignored by git), with ``summary.md`` and ``timings.json``;
4. slider -> updated figure is timed in the page (key press to new image) and must be under
   1 s (a slow move is re-measured twice; the best counts).

The server serves a temporary copy of the checkout and its kernel cannot import the installed
r1lib, so the notebooks must find r1lib through their set-up cell, as from a plain ``git clone``;
the kernel also records subprocesses and network connections: the Colab branch must not run pip
outside Colab, and nothing may be downloaded. See ``lab_harness.py``.

Run alone: ``.venv/bin/pytest tests/ui -rA`` (``-k 01_`` for one notebook).
"""
from __future__ import annotations

from pathlib import Path

import pytest

import lab_harness
import selftest_notebooks

NOTEBOOKS = lab_harness.repository_notebooks()


def _explain(report) -> str:
    lines = [f"{report.name}: {len(report.problems)} problem(s) in the browser:"]
    lines += [f"  - {p}" for p in report.problems]
    lines.append("  " + report.summary_line())
    lines += [f"  screenshot: {s}" for s in report.screenshots[:1]]
    return "\n".join(lines)


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks/NN_*.ipynb yet")
@pytest.mark.parametrize("notebook", NOTEBOOKS or [None], ids=lambda p: p.name if p else "none")
def test_notebook_in_jupyterlab(lab, notebook: Path):
    report = lab.check(notebook.name)
    print("\n" + report.summary_line())
    for m in report.moves:
        print("  " + m.describe())
    if report.problems:
        pytest.fail(_explain(report), pytrace=False)
    # Nothing above may pass vacuously: the notebook ran code, and every slider shown was moved.
    assert report.code_cells > 0
    shown = sum(len(p["controls"]) for p in report.panels)
    assert len(report.moves) == shown
    assert all(Path(s).stat().st_size > 0 for s in report.screenshots)


def test_harness_passes_a_good_notebook(lab):
    """The harness itself: a notebook that follows the conventions gives no problem; every slider
    (int, float, log, one starting at its maximum) and every other control is changed and timed."""
    report = lab.check(selftest_notebooks.GOOD_NAME, selftest=True)
    if report.problems:
        pytest.fail(_explain(report), pytrace=False)
    assert [(m.panel, m.control, m.kind) for m in report.moves] == [
        ("softmax", "T", "slider"), ("softmax", "n", "slider"), ("softmax", "shift", "slider"),
        ("atmax", "slope", "slider"), ("choices", "rule", "dropdown"), ("choices", "mode", "toggle"),
        ("choices", "grid", "checkbox"), ("choices", "label", "text")]
    assert all(m.figure_ms is not None and 0 < m.figure_ms < 1000 for m in report.moves)
    assert report.moves[3].action == "PageDown"  # it started at its maximum
    assert [(m.value_before, m.value_after) for m in report.moves[3:]] == [
        ("3", "0"), ("split", "wrong"), ("solid", "dashed"), ("true", "false"), ("run", "run1")]
    assert report.kernel["r1lib"].endswith("checkout/r1lib/__init__.py")
    assert report.kernel["colab"] is False
    pages = [s for s in report.screenshots if "__page" in s]
    assert len(pages) >= 3  # the second panel is far below the first screen
    assert len(report.screenshots) == len(pages) + 3  # + one per panel


def test_harness_catches_each_defect(lab):
    """A notebook with one of each defect: every one must appear in the harness's problems."""
    report = lab.check(selftest_notebooks.BAD_NAME, selftest=True)
    missed = {what: marker for what, marker in selftest_notebooks.BAD_MARKERS.items()
              if not any(marker in p for p in report.problems)}
    assert not missed, f"the harness missed {missed}; it reported:\n" + "\n".join(report.problems)

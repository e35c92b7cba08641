"""The browser test's fixture: one temporary checkout, one JupyterLab server, one Chromium.

Skips (never passes silently) when Debian's Chromium or the Playwright package is missing, with
the reason in pytest's summary and a banner at the end of the run. ``R1_REQUIRE_BROWSER=1``
turns that skip into a failure (for a CI that must run the browser test).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lab_harness  # noqa: E402
import selftest_notebooks  # noqa: E402

APT_LOG = Path("/tmp/r1-apt-chromium.log")  # written by tests/ui/ensure_chromium.sh
SELFTEST_SHOTS = lab_harness.SCREENSHOTS / "selftest"

_skipped: list[str] = []
_reports: list = []


def _unavailable(reason: str):
    _skipped.append(reason)
    if os.environ.get("R1_REQUIRE_BROWSER") == "1":
        pytest.fail(f"BROWSER TEST CANNOT RUN (R1_REQUIRE_BROWSER=1): {reason}", pytrace=False)
    pytest.skip(f"BROWSER TEST SKIPPED: {reason}")


class LabSession:
    """What the tests get: ``check(name)`` runs the harness on a notebook once and caches it."""

    def __init__(self, browser, server) -> None:
        self.browser = browser
        self.server = server
        self._cache: dict = {}

    def check(self, name: str, selftest: bool = False):
        if name not in self._cache:
            shots = SELFTEST_SHOTS if selftest else lab_harness.SCREENSHOTS
            report = lab_harness.check_notebook(self.browser, self.server.url, name, shots,
                                                index=len(self._cache))
            report.selftest = selftest
            self._cache[name] = report
            _reports.append(report)
        return self._cache[name]


@pytest.fixture(scope="module")
def lab():
    chromium = lab_harness.find_chromium()
    if chromium is None:
        detail = ""
        if APT_LOG.exists():
            detail = " Last lines of " + str(APT_LOG) + ": " + " | ".join(
                APT_LOG.read_text(errors="replace").splitlines()[-3:])
        _unavailable("Debian's chromium is not installed (`make test` installs it with apt-get "
                     "when run as root: see tests/ui/ensure_chromium.sh)." + detail)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"the playwright package is missing ({exc}); `make test` installs it")

    # Old screenshots would mislead whoever looks at the folder. (Tolerant: another test run in
    # the same checkout may be writing there at the same moment.)
    clear_screenshots()
    tmp = Path(tempfile.mkdtemp(prefix="r1-ui-"))
    try:
        checkout = lab_harness.make_checkout(tmp, selftest_notebooks.write)
        server = lab_harness.LabServer(checkout, tmp / "state")
        t0 = time.perf_counter()
        server.start()
        print(f"\nJupyterLab answered in {time.perf_counter() - t0:.1f} s at {server.url} "
              f"(serving {checkout / 'notebooks'})")
        with sync_playwright() as pw:
            # Chromium present but unable to start is a real failure, not a skip.
            browser = lab_harness.launch_browser(pw, chromium)
            try:
                yield LabSession(browser, server)
            finally:
                browser.close()
    finally:
        if "server" in locals():
            server.stop()
            log = server.log_tail(400)
        else:
            log = ""
        _write_summary(log)
        shutil.rmtree(tmp, ignore_errors=True)


# Folders of tests/ui/screenshots/ that other tests own: tests/site writes the reading site's
# screenshots to site/ (often earlier in the same pytest session) and keeps them there.
OTHER_TESTS_SHOTS = {"site"}


def clear_screenshots() -> None:
    """Remove this test's old screenshots, and only this test's."""
    lab_harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for child in lab_harness.SCREENSHOTS.iterdir():
        if child.name in OTHER_TESTS_SHOTS:
            continue
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _write_summary(server_log: str) -> None:
    if not _reports:
        return
    lab_harness.SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (lab_harness.SCREENSHOTS / "timings.json").write_text(
        json.dumps([r.to_json() for r in _reports], indent=1, default=str))
    lines = ["# Browser test: notebooks in JupyterLab + Chromium", ""]
    for r in _reports:
        lines.append(("(harness self-test) " if getattr(r, "selftest", False) else "") + r.summary_line())
        for m in r.moves:
            lines.append("  - " + m.describe())
        for p in r.problems:
            lines.append(f"  - PROBLEM: {p}")
        for s in r.screenshots:
            lines.append(f"  - screenshot: {os.path.relpath(s, lab_harness.ROOT)}")
    (lab_harness.SCREENSHOTS / "summary.md").write_text("\n".join(lines) + "\n")
    (lab_harness.SCREENSHOTS / "jupyterlab.log").write_text(server_log)


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    if _skipped:
        tr.write_sep("!", "BROWSER TEST SKIPPED", red=True, bold=True)
        tr.write_line(_skipped[0], red=True)
    real = [r for r in _reports if not getattr(r, "selftest", False)]
    if real:
        tr.write_sep("-", "browser test: per-notebook timings")
        for r in real:
            tr.write_line(r.summary_line())
        tr.write_line(f"screenshots and details: {os.path.relpath(lab_harness.SCREENSHOTS, Path.cwd())}/"
                      "(summary.md, timings.json, one PNG per notebook and per panel)")

"""The reading copy, as a reader meets it: `make site`'s build, served on 127.0.0.1, opened in
Debian's Chromium with every request outside the loopback address blocked and recorded.

The build (checked without a browser):
- every page is written, only the assets the pages load are copied, the whole site is <= 80 MB;
- each panel's frames are what the recorder promises: every position of a control with at most
  64 (else an even subsample of 64 with both ends and the start), the full grid when it holds at
  most 256 frames, else each control swept with the others at their start -- the expected set of
  combinations is computed here from the controls, independently of the recorder; every frame
  file exists, is named by its content's hash (identical frames share one file), and replaying
  the start gave the same picture;
- every figure the notebooks draw has words (alt text naming the plots) and no two of its series
  differ only in a red/green hue (simulated protanopia and deuteranopia).

Per page in the browser (the index, every notebook, every solutions notebook):
- no request left the machine (each blocked one is a failure, with its URL), no local file the
  page asked for is missing (HTTP status >= 400), no JavaScript error;
- the first paint (everything loaded before the reader touches a control) is <= 3 MB and holds
  no recorded frame but each panel's first: frames load when a control is first used;
- every image loaded and has alt text; every internal link resolves (the file, and the #anchor
  in it); math was typeset by MathJax with no TeX error; no traceback or stderr output;
- every control of every panel is moved the way a reader does it (arrow keys, Home and End on a
  slider; a menu choice; a click and an arrow key on toggle buttons; a click on a checkbox;
  typing in a text box), and after each move the figure is the recorded frame for the
  controls' new values (image source, alt text and status line); a combination that was not
  recorded and an edited text say so, with links to Colab and Binder, and "back to the starting
  values" restores the first frame;
- screenshots of the top of the page, and of each panel before and after its first move, in
  tests/ui/screenshots/site/.

The build runs once per test session into a temporary folder; notebooks whose inputs did not
change since the last build come from build/site-cache/ (R1_SITE_NO_CACHE=1 runs them all).
Skips loudly when Chromium or Playwright is missing, like the browser test.
"""
from __future__ import annotations

import functools
import hashlib
import html
import http.server
import itertools
import json
import math
import os
import posixpath
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "ui"))
sys.path.insert(0, str(ROOT / "tools" / "site"))
import build as site_build  # noqa: E402
import lab_harness  # noqa: E402

from r1lib.figures.style import colour_blind_conflicts  # noqa: E402

SHOTS = lab_harness.SCREENSHOTS / "site"
SITE_BUDGET_MB = 80
FIRST_PAINT_BUDGET_MB = 3
POSITIONS, GRID = site_build.POSITIONS_PER_CONTROL, site_build.FULL_GRID_FRAMES
# R1_SITE_DIR=site: check an already built site instead of building one (e.g. after `make site`).
PREBUILT = os.environ.get("R1_SITE_DIR")
if PREBUILT:
    PAGES = ["index.html"] + [p["href"] for p in
                              json.loads((Path(PREBUILT) / "site.json").read_text())["pages"]]
else:
    PAGES = ["index.html"] + [site_build.page_name(p["path"]) for p in site_build.collect(None)]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test records statuses itself
        pass


@pytest.fixture(scope="module")
def site():
    if not PREBUILT and shutil.which("npm") is None:
        pytest.skip("SITE TEST SKIPPED: npm is missing (make site fetches MathJax from the npm "
                    "registry); install Node.js's npm")
    out = Path(tempfile.mkdtemp(prefix="r1-site-"))
    if PREBUILT:
        root = Path(PREBUILT).resolve()
        manifest = json.loads((root / "site.json").read_text())
    else:
        root = out / "site"
        try:
            manifest = site_build.build(root, use_cache=os.environ.get("R1_SITE_NO_CACHE") != "1")
        except site_build.BuildError as exc:
            pytest.fail(f"make site failed: {exc}", pytrace=False)
        print("\n" + site_build.report(manifest))
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_port}", "root": root, "manifest": manifest}
    finally:
        server.shutdown()
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    chromium = lab_harness.find_chromium()
    if chromium is None:
        pytest.skip("SITE TEST SKIPPED: Debian's chromium is not installed (make test installs it as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"SITE TEST SKIPPED: playwright is missing ({exc})")
    shutil.rmtree(SHOTS, ignore_errors=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = lab_harness.launch_browser(pw, chromium)
        try:
            yield b
        finally:
            b.close()


def _panel_indexes(root: Path, page: str) -> dict:
    """The recorded panels of a page: frames folder -> its index.json."""
    folder = root / os.path.dirname(page) / "frames" / Path(page).stem
    return {f"frames/{Path(page).stem}/{p.name}/": json.loads((p / "index.json").read_text())
            for p in sorted(folder.iterdir())} if folder.exists() else {}


# ------------------------------------------------------------------------------ the build

def test_build_writes_every_page_and_only_the_assets_pages_load(site):
    root = site["root"]
    for page in PAGES:
        assert (root / page).stat().st_size > 10_000, page
    assert not list(root.rglob("*.map")) and not (root / "assets" / "mathjax" / "unpacked").exists()
    size_mb = sum(f.stat().st_size for f in (root / "assets").rglob("*") if f.is_file()) / 2**20
    assert size_mb < 15, f"assets are {size_mb:.1f} MB: trim them"
    pages_with_widgets = [p["href"] for p in site["manifest"]["pages"] if p["widgets_left"]]
    # The ipywidgets renderer (3.6 MB) ships only when a page still embeds a non-panel widget.
    assert (root / "assets" / "html-manager").exists() == bool(pages_with_widgets), pages_with_widgets
    print(f"\nsite built in {site['manifest']['total_seconds']} s; assets {size_mb:.1f} MB; "
          f"execution seconds: {site['manifest']['execute_seconds']}")


def test_site_fits_its_budget(site):
    total = sum(f.stat().st_size for f in site["root"].rglob("*") if f.is_file())
    assert total <= SITE_BUDGET_MB * 2**20, f"the site is {total / 2**20:.1f} MB (budget {SITE_BUDGET_MB} MB)"
    print(f"\nsite: {total / 2**20:.1f} MB")


def _expected_combinations(controls: list[dict]) -> set[str]:
    """What the issue asks to record, from the controls alone: the full grid when it holds at most
    GRID frames, else each control through its positions with the others at their start."""
    sizes = [len(c["labels"]) for c in controls]
    start = [c["start"] for c in controls]
    if math.prod(sizes) <= GRID:
        return {",".join(map(str, combo)) for combo in itertools.product(*(range(n) for n in sizes))}
    out = set()
    for i, n in enumerate(sizes):
        for j in range(n):
            out.add(",".join(map(str, start[:i] + [j] + start[i + 1:])))
    return out


def test_every_panel_recorded_what_the_issue_asks(site):
    root = site["root"]
    panels = 0
    for page in PAGES:
        for base, index in _panel_indexes(root, page).items():
            panels += 1
            where = f"{page} panel {index['name']!r}"
            for c in index["controls"]:
                n = len(c["labels"])
                assert n == len(c["values"]) and 0 <= c["start"] < n, where
                if c["total"] <= POSITIONS:  # every position
                    assert n == c["total"], (where, c["key"])
                else:  # at most POSITIONS, evenly spaced from the start, both ends kept
                    assert 2 <= n <= POSITIONS, (where, c["key"], n)
                if c["kind"] == "range" and c["total"] > 1:
                    values = [float(v) for v in c["values"]]
                    assert values == sorted(values) and len(set(values)) == n, (where, c["key"], values)
            assert set(index["frames"]) == _expected_combinations(index["controls"]), where
            assert index["mode"] == ("grid" if len(index["frames"]) <= GRID and
                                     math.prod(len(c["labels"]) for c in index["controls"]) <= GRID
                                     else "sweep"), where
            assert index["deterministic"], f"{where}: drawing the start again gave another picture"
            folder = root / os.path.dirname(page) / base
            used = {f["image"] for f in index["frames"].values()}
            on_disk = {p.name for p in folder.iterdir() if p.name != "index.json"}
            assert used == on_disk, f"{where}: files without frames {on_disk - used}, missing {used - on_disk}"
            for name in used:  # named by content: identical frames share one file
                assert hashlib.sha256((folder / name).read_bytes()).hexdigest().startswith(Path(name).stem), name
            assert all(f["alt"] and f["status"] is not None for f in index["frames"].values()), where
    if not PREBUILT:
        assert panels > 0, "no panel was recorded"


def _colour_problems(where: str, series: list) -> list:
    """One line per pair of series in one plot that a colour-blind reader cannot tell apart."""
    by_axes: dict = {}
    for s in series:
        by_axes.setdefault(s["axes"], []).append(s)
    return [f"{where}, plot {axes + 1}: "
            f"{c['a']['label'] or '?'} {c['a']['colour']} vs {c['b']['label'] or '?'} {c['b']['colour']} "
            f"({c['a']['kind']}): ΔE {c['normal']} normally, {c['distance']} under {c['deficiency']}"
            for axes, group in by_axes.items() for c in colour_blind_conflicts(group)]


def test_every_figure_has_words_and_a_colour_blind_safe_palette(site):
    figures = json.loads((site["root"] / "figures.json").read_text(encoding="utf-8"))
    problems, count = [], 0
    for page, found in figures.items():
        for i, fig in enumerate(found["figures"]):
            count += 1
            if not re.search(r"\b(Plot|plots)\b", fig["alt"]):
                problems.append(f"{page} figure {i + 1}: alt text names no plot: {fig['alt']!r}")
            problems += _colour_problems(f"{page} figure {i + 1} ({fig['alt'][:60]}...)", fig["series"])
        for panel in found["panels"]:
            for series_set in panel["series"]:
                count += 1
                problems += _colour_problems(f"{page} panel {panel['name']!r}", series_set)
    assert not problems, "\n".join(problems)
    if not PREBUILT:
        assert count > 0


# ------------------------------------------------------------------------------ the browser

# A control's recorded position, read from the page (-1: a text the frames do not have).
JS_STATE = """(panel) => {
  const pos = [...panel.querySelectorAll('.r1-control')].map(c => {
    const kind = c.dataset.kind;
    if (kind === 'range') return Number(c.querySelector('input').value);
    if (kind === 'select') return c.querySelector('select').selectedIndex;
    if (kind === 'toggle') return [...c.querySelectorAll('input')].findIndex(r => r.checked);
    if (kind === 'checkbox') return c.querySelector('input').checked ? 1 : 0;
    const box = c.querySelector('input, textarea');
    return box.value === box.defaultValue ? 0 : -1;
  });
  const img = panel.querySelector('.r1-figure img');
  const note = panel.querySelector('.r1-note');
  return {key: pos.includes(-1) ? null : pos.join(','), src: img.getAttribute('src'), alt: img.alt,
          loaded: img.complete && img.naturalWidth > 0, status: panel.querySelector('.r1-status').textContent,
          note: !note.hidden, noteLinks: [...note.querySelectorAll('a')].map(a => a.href),
          readouts: [...panel.querySelectorAll('output')].map(o => o.textContent)};
}"""

JS_SHOWS = """([panel, src]) => {
  const img = panel.querySelector('.r1-figure img');
  return img.src === new URL(src, document.baseURI).href && img.complete && img.naturalWidth > 0 &&
         panel.querySelector('.r1-note').hidden;
}"""

JS_NOTE = """(panel) => !panel.querySelector('.r1-note').hidden"""

# Every control back to the value the page was built with, as the reader's "reset" would.
RESET_JS = """(panel) => {
  panel.querySelectorAll('.r1-control').forEach(c => {
    c.querySelectorAll('input[type=range], input[type=text], textarea').forEach(e => { e.value = e.defaultValue; });
    c.querySelectorAll('input[type=radio], input[type=checkbox]').forEach(e => { e.checked = e.defaultChecked; });
    c.querySelectorAll('select').forEach(sel => { [...sel.options].forEach((o, i) => { if (o.defaultSelected) sel.selectedIndex = i; }); });
  });
  const first = panel.querySelector('.r1-control input, .r1-control select, .r1-control textarea');
  first.dispatchEvent(new Event(first.type === 'range' || first.tagName === 'TEXTAREA' || first.type === 'text' ? 'input' : 'change', {bubbles: true}));
}"""


def _text(status_html: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", status_html))


class PanelCheck:
    """Moves every control of one panel on the page and checks the figure after each move."""

    def __init__(self, page, element, base: str, index: dict, problems: list, label: str):
        self.page, self.el, self.base, self.index = page, element, base, index
        self.problems, self.label = problems, label
        self.moves = 0

    def state(self):
        return self.page.evaluate(JS_STATE, self.el.element_handle())

    def expect_recorded(self, what: str) -> None:
        """The figure, alt text and status must be the recorded frame of the current controls."""
        self.moves += 1
        state = self.state()
        frame = self.index["frames"].get(state["key"]) if state["key"] else None
        if frame is None:
            self.problems.append(f"{self.label}: after {what} the controls read {state['key']}, "
                                 "which should have been recorded")
            return
        src = self.base + frame["image"]
        try:
            self.page.wait_for_function(JS_SHOWS, arg=[self.el.element_handle(), src], timeout=5_000)
        except Exception:
            now = self.state()
            self.problems.append(f"{self.label}: after {what} (controls {state['key']}) the figure is "
                                 f"{now['src']} (loaded {now['loaded']}, note shown {now['note']}), "
                                 f"expected the recorded {src}")
            return
        now = self.state()
        if now["alt"] != frame["alt"]:
            self.problems.append(f"{self.label}: after {what} the alt text is not the frame's")
        if " ".join(now["status"].split()) != " ".join(_text(frame["status"]).split()):
            self.problems.append(f"{self.label}: after {what} the status reads {now['status'][:120]!r}, "
                                 f"expected {_text(frame['status'])[:120]!r}")

    def expect_note(self, what: str) -> None:
        """A combination or text that was not recorded: the page says so, with Colab/Binder links."""
        self.moves += 1
        try:
            self.page.wait_for_function(JS_NOTE, arg=self.el.element_handle(), timeout=10_000)
        except Exception:
            self.problems.append(f"{self.label}: after {what} (not recorded) no note was shown")
            return
        links = self.state()["noteLinks"]
        if not (any("colab.research.google.com" in a for a in links) and any("mybinder.org" in a for a in links)):
            self.problems.append(f"{self.label}: the not-recorded note has no Colab and Binder links: {links}")

    def reset(self) -> None:
        button = self.el.locator(".r1-note button")
        if button.count() and button.first.is_visible():
            button.first.click()
            self.expect_recorded("'Back to the starting values'")

    def move_range(self, ctl, n: int, start: int) -> None:
        box = ctl.locator("input[type=range]")
        box.focus()
        key = "ArrowRight" if start < n - 1 else "ArrowLeft"
        back = "ArrowLeft" if key == "ArrowRight" else "ArrowRight"
        self.page.keyboard.press(key)
        self.expect_recorded(f"{key} on {ctl.get_attribute('data-label')!r}")
        self.page.keyboard.press(back)
        self.expect_recorded(f"{back} back")
        for k in ("End", "Home"):
            self.page.keyboard.press(k)
            self.expect_recorded(f"{k} on {ctl.get_attribute('data-label')!r}")
        box.evaluate("(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", str(start))
        self.expect_recorded("back to the start")

    def move_select(self, ctl, n: int, start: int) -> None:
        sel = ctl.locator("select")
        sel.select_option(index=(start + 1) % n)
        self.expect_recorded(f"choosing option {(start + 1) % n + 1} of {ctl.get_attribute('data-label')!r}")
        sel.select_option(index=start)
        self.expect_recorded("choosing the first option again")

    def move_toggle(self, ctl, n: int, start: int) -> None:
        ctl.locator("label span").nth((start + 1) % n).click()
        self.expect_recorded(f"clicking option {(start + 1) % n + 1} of {ctl.get_attribute('data-label')!r}")
        ctl.locator("input[type=radio]").nth((start + 1) % n).focus()
        self.page.keyboard.press("ArrowLeft" if (start + 1) % n else "ArrowRight")
        self.expect_recorded("an arrow key on the toggle buttons")
        ctl.locator("label span").nth(start).click()
        self.expect_recorded("clicking the first option again")

    def move_checkbox(self, ctl) -> None:
        ctl.locator("input[type=checkbox]").click()
        self.expect_recorded(f"clicking {ctl.get_attribute('data-label')!r}")
        ctl.locator("input[type=checkbox]").click()
        self.expect_recorded("clicking it again")

    def move_text(self, ctl) -> None:
        box = ctl.locator("input, textarea").first
        box.click()
        box.press("End")
        box.type("7")
        self.expect_note(f"typing in {ctl.get_attribute('data-label')!r}")
        self.el.screenshot(path=str(self.shots / f"{self.stem}__edited_{ctl.get_attribute('data-label')[:20]}.png"))
        self.reset()

    def first_move(self, ctl, c: dict) -> None:
        """One move of the first control, for the "after" screenshot; then back to the start."""
        n, start = len(c["labels"]), c["start"]
        kind = c["kind"]
        if kind == "range" and n > 1:
            ctl.locator("input[type=range]").focus()
            self.page.keyboard.press("ArrowRight" if start < n - 1 else "ArrowLeft")
        elif kind == "select" and n > 1:
            ctl.locator("select").select_option(index=(start + 1) % n)
        elif kind == "toggle" and n > 1:
            ctl.locator("label span").nth((start + 1) % n).click()
        elif kind == "checkbox":
            ctl.locator("input[type=checkbox]").click()
        else:
            return
        self.expect_recorded("the first move")
        self.el.screenshot(path=str(self.shots / f"{self.stem}__after.png"))
        self.page.evaluate(RESET_JS, self.el.element_handle())
        self.expect_recorded("putting the controls back")

    def run(self, shots: Path, stem: str) -> None:
        self.shots, self.stem = shots, stem
        self.el.scroll_into_view_if_needed()
        self.expect_recorded("opening the page")
        self.el.screenshot(path=str(shots / f"{stem}__before.png"))
        controls = self.el.locator(".r1-control")
        if self.index["controls"]:
            self.first_move(controls.nth(0), self.index["controls"][0])
        for i, c in enumerate(self.index["controls"]):
            ctl = controls.nth(i)
            n, start = len(c["labels"]), c["start"]
            if c["kind"] == "range" and n > 1:
                self.move_range(ctl, n, start)
            elif c["kind"] == "select" and n > 1:
                self.move_select(ctl, n, start)
            elif c["kind"] == "toggle" and n > 1:
                self.move_toggle(ctl, n, start)
            elif c["kind"] == "checkbox":
                self.move_checkbox(ctl)
            elif c["kind"] in ("text", "textarea"):
                self.move_text(ctl)
        movable = [i for i, c in enumerate(self.index["controls"])
                   if c["kind"] in ("range", "select") and len(c["labels"]) > 1]
        if self.index["mode"] == "sweep" and len(movable) >= 2:  # two controls off their start
            for i in movable[:2]:
                c = self.index["controls"][i]
                ctl = controls.nth(i)
                other = (c["start"] + 1) % len(c["labels"])
                if c["kind"] == "range":
                    ctl.locator("input").evaluate(
                        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }", str(other))
                else:
                    ctl.locator("select").select_option(index=other)
            self.expect_note("moving two controls off their start (a sweep records one at a time)")
            self.el.screenshot(path=str(shots / f"{stem}__not_recorded.png"))
            self.reset()


JS_FACTS = """() => ({
  images: [...document.images].map(i => ({w: i.naturalWidth, alt: (i.getAttribute('alt') || '').trim(),
                                          src: (i.getAttribute('src') || '').slice(0, 80)})),
  math: document.querySelectorAll('.MathJax_CHTML, .mjx-chtml').length,
  mathErrors: document.querySelectorAll('.MathJax_Error, merror, .mjx-merror').length,
  // TeX left as text in prose (code spans, which show TeX on purpose, are left out)
  rawDisplayMath: [...document.querySelectorAll('.jp-MarkdownOutput')].filter(e => {
      const prose = e.cloneNode(true);
      prose.querySelectorAll('code, pre, script').forEach(c => c.remove());
      return /\\$\\$|\\\\frac|\\\\begin\\{/.test(prose.textContent);
  }).length,
  panels: document.querySelectorAll('.r1-panel').length,
  widgets: document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]').length,
  errorsShown: document.body.innerText.includes('Error displaying widget'),
  stderr: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length,
  traceback: /Traceback \\(most recent call last\\)/.test(document.body.innerText),
  nav: document.querySelectorAll('nav.r1-nav a').length,
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
})"""


def _anchors(path: Path) -> set:
    text = path.read_text(encoding="utf-8", errors="replace")
    found = re.findall(r"""\b(?:id|name)=(?:"([^"]*)"|'([^']*)')""", text)
    return {html.unescape(a or b) for a, b in found}


def _check_links(site, page_name: str, links: list) -> list:
    problems, base = [], site["url"]
    for href in sorted(set(links)):
        url = urlparse(href)
        if url.scheme in ("http", "https") and url.hostname not in ("127.0.0.1", "localhost"):
            continue  # Colab, Binder, GitHub, papers: outside this site (and blocked here)
        if url.scheme not in ("http", "https") or not href.startswith(base):
            problems.append(f"link {href!r} is neither on this site nor a web address")
            continue
        target = site["root"] / unquote(url.path.lstrip("/"))
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            problems.append(f"link {href} points to a missing file")
        # A browser matches the fragment as written, then percent-decoded (HTML's "indicated part").
        elif url.fragment and not {url.fragment, unquote(url.fragment)} & _anchors(target):
            problems.append(f"link {href}: {target.name} has no anchor #{url.fragment}")
    return problems


@pytest.mark.parametrize("page_name", PAGES)
def test_page_works_offline(site, browser, page_name):
    blocked, failed, console_errors, requests = [], [], [], []
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()

    def route(r):
        host = urlparse(r.request.url).hostname
        if r.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("response", lambda resp: failed.append(f"{resp.status} {resp.url}") if resp.status >= 400 else None)
    page.on("requestfinished", lambda req: requests.append(req))
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    problems = []
    stem = page_name.replace("/", "__").replace(".html", "")
    indexes = _panel_indexes(site["root"], page_name)
    try:
        page.goto(f"{site['url']}/{page_name}", wait_until="load", timeout=60_000)
        page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 "
                               "&& MathJax.Hub.queue.running === 0", timeout=60_000)
        page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=30_000)
        page.wait_for_timeout(300)
        first_paint = sum(r.sizes()["responseBodySize"] for r in requests)
        here = os.path.dirname(page_name)
        starts = {posixpath.join(here, base + idx["frames"][idx["start"]]["image"])
                  for base, idx in indexes.items()}
        early = [r.url for r in requests if "/frames/" in r.url
                 and unquote(urlparse(r.url).path).lstrip("/") not in starts]
        facts = page.evaluate(JS_FACTS)
        page.screenshot(path=str(SHOTS / f"{stem}.png"))
        elements = page.locator(".r1-panel")
        if elements.count() != len(indexes):
            problems.append(f"{elements.count()} panels on the page, {len(indexes)} recorded")
        moves = 0
        for i in range(min(elements.count(), len(indexes))):
            el = elements.nth(i)
            base = el.get_attribute("data-r1-frames")
            if base not in indexes:
                problems.append(f"panel {i + 1} points at {base}, which holds no recorded frames")
                continue
            check = PanelCheck(page, el, base, indexes[base], problems, f"panel {indexes[base]['name']!r}")
            check.run(SHOTS, f"{stem}__{indexes[base]['name']}")
            moves += check.moves
        page.wait_for_timeout(200)
        after = page.evaluate("() => [...document.images].map(i => [i.naturalWidth, (i.getAttribute('alt') || '').trim()])")
    finally:
        context.close()

    if blocked:
        problems.append(f"requests outside 127.0.0.1 (blocked): {sorted(set(blocked))[:5]}")
    if failed:
        problems.append(f"missing local files: {failed[:5]}")
    if first_paint > FIRST_PAINT_BUDGET_MB * 2**20:
        problems.append(f"first paint loads {first_paint / 2**20:.2f} MB (budget {FIRST_PAINT_BUDGET_MB} MB)")
    if early:
        problems.append(f"frames loaded before any control was used: {early[:3]}")
    bad_images = [i["src"] for i in facts["images"] if i["w"] == 0]
    if bad_images:
        problems.append(f"images that did not load: {bad_images[:3]}")
    no_words = [i["src"] for i in facts["images"] if len(i["alt"]) < 20] + [a for w, a in after if w == 0]
    no_words += [f"(after the moves) {a!r}" for w, a in after if len(a) < 20]
    if no_words:
        problems.append(f"images without alt text that says what they show: {no_words[:3]}")
    problems += _check_links(site, page_name, facts["links"])
    if facts["math"] == 0:
        problems.append("no math typeset")
    if facts["mathErrors"] or facts["rawDisplayMath"]:
        problems.append(f"TeX errors: {facts['mathErrors']}, Markdown cells with untypeset math: "
                        f"{facts['rawDisplayMath']}")
    if facts["errorsShown"] or facts["stderr"] or facts["traceback"]:
        problems.append(f"error output: widget error {facts['errorsShown']}, stderr outputs "
                        f"{facts['stderr']}, traceback {facts['traceback']}")
    if facts["nav"] < 2:
        problems.append("no navigation bar")
    if console_errors:
        problems.append(f"JavaScript errors: {console_errors[:3]}")
    print(f"\n{page_name}: first paint {first_paint / 2**20:.2f} MB in {len(requests)} requests; "
          f"{len(indexes)} panel(s), {moves} checked moves")
    assert not problems, f"{page_name}:\n  " + "\n  ".join(problems)
    if page_name != "index.html" and not page_name.startswith("solutions/"):
        assert len(facts["images"]) > 0, "a notebook page without a single figure"

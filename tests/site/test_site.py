"""The reading copy, as a reader meets it: `make site`'s build, served on 127.0.0.1, opened in
Debian's Chromium with every request outside the loopback address blocked and recorded.

Per page (the index, every notebook, every solutions notebook):
- no request left the machine (each blocked one is a failure, with its URL), and no local file
  the page asked for is missing (HTTP status >= 400);
- every image loaded (natural width > 0), math was typeset by MathJax with no TeX error;
- each panel shows its initial figure, the page has as many sliders as the executed notebook
  created, no "Error displaying widget", no error or stderr output, no traceback;
- a screenshot of the top of the page and of each panel, in tests/ui/screenshots/site/.

The build runs once per test session into a temporary folder (it executes every notebook: about
10-20 s each). Skips loudly when Chromium or Playwright is missing, like the browser test.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "ui"))
sys.path.insert(0, str(ROOT / "tools" / "site"))
import build as site_build  # noqa: E402
import lab_harness  # noqa: E402

SHOTS = lab_harness.SCREENSHOTS / "site"
# R1_SITE_DIR=site: check an already built site instead of building one (e.g. after `make site`).
PREBUILT = os.environ.get("R1_SITE_DIR")
if PREBUILT:
    PAGES = ["index.html"] + [p["href"] for p in
                              json.loads((Path(PREBUILT) / "site.json").read_text())["pages"]]
else:
    PAGES = ["index.html"] + [site_build.page_name(p["path"]) for p in site_build.collect(None)]
SLIDER_MODELS = {"IntSliderModel", "FloatSliderModel", "FloatLogSliderModel", "IntRangeSliderModel",
                 "FloatRangeSliderModel", "SelectionSliderModel"}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # the test records statuses itself
        pass


@pytest.fixture(scope="module")
def site():
    if not PREBUILT and shutil.which("npm") is None:
        pytest.skip("SITE TEST SKIPPED: npm is missing (make site fetches require.js, MathJax and the "
                    "widget renderer from the npm registry); install Node.js's npm")
    out = Path(tempfile.mkdtemp(prefix="r1-site-"))
    if PREBUILT:
        root = Path(PREBUILT).resolve()
        manifest = json.loads((root / "site.json").read_text())
    else:
        root = out / "site"
        try:
            manifest = site_build.build(root)
        except site_build.BuildError as exc:
            pytest.fail(f"make site failed: {exc}", pytrace=False)
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


def test_build_writes_every_page_and_only_the_assets_pages_load(site):
    root = site["root"]
    for page in PAGES:
        assert (root / page).stat().st_size > 10_000, page
    assert not list(root.rglob("*.map")) and not (root / "assets" / "mathjax" / "unpacked").exists()
    size_mb = sum(f.stat().st_size for f in (root / "assets").rglob("*") if f.is_file()) / 2**20
    assert size_mb < 15, f"assets are {size_mb:.1f} MB: trim them"
    print(f"\nsite built in {site['manifest']['total_seconds']} s; assets {size_mb:.1f} MB; "
          f"execution seconds: {site['manifest']['execute_seconds']}")


def _expected_widgets(root: Path, page: str) -> tuple[int, int]:
    """(sliders, panels) in the widget state embedded in the page (what the notebook created)."""
    text = (root / page).read_text(encoding="utf-8")
    marker = 'type="application/vnd.jupyter.widget-state+json">'
    if marker not in text:
        return 0, 0
    blob = text.split(marker, 1)[1].split("</script>", 1)[0]
    state = json.loads(blob)["state"]
    sliders = sum(1 for m in state.values() if m["model_name"] in SLIDER_MODELS)
    panels = sum(1 for m in state.values() if "r1-panel" in m["state"].get("_dom_classes", []))
    return sliders, panels


@pytest.mark.parametrize("page_name", PAGES)
def test_page_renders_offline(site, browser, page_name):
    blocked, failed, console_errors = [], [], []
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
    page.on("console", lambda msg: console_errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: console_errors.append(str(exc)))
    try:
        page.goto(f"{site['url']}/{page_name}", wait_until="load", timeout=60_000)
        # MathJax finished (its queue is empty) and the widget renderer replaced its placeholders.
        page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 "
                               "&& MathJax.Hub.queue.running === 0", timeout=60_000)
        sliders, panels = _expected_widgets(site["root"], page_name)
        if panels:
            page.wait_for_function(f"() => document.querySelectorAll('.r1-panel').length >= {panels}",
                                   timeout=60_000)
            page.wait_for_function("() => [...document.querySelectorAll('.r1-panel .r1-figure img')]"
                                   ".every(i => i.complete)", timeout=30_000)
        page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=30_000)
        facts = page.evaluate("""() => ({
            images: [...document.images].map(i => [i.naturalWidth, (i.src || '').slice(0, 60)]),
            math: document.querySelectorAll('.MathJax_CHTML, .mjx-chtml').length,
            mathErrors: document.querySelectorAll('.MathJax_Error, merror, .mjx-merror').length,
            // TeX left as text in prose (code spans, which show TeX on purpose, are left out)
            rawDisplayMath: [...document.querySelectorAll('.jp-MarkdownOutput')].filter(e => {
                const prose = e.cloneNode(true);
                prose.querySelectorAll('code, pre, script').forEach(c => c.remove());
                return /\\$\\$|\\\\frac|\\\\begin\\{/.test(prose.textContent);
            }).length,
            panels: document.querySelectorAll('.r1-panel').length,
            panelFigures: [...document.querySelectorAll('.r1-panel')].map(
                p => [...p.querySelectorAll('.r1-figure img')].filter(i => i.naturalWidth > 0).length),
            sliders: document.querySelectorAll('.widget-slider, .widget-hslider').length,
            errorsShown: document.body.innerText.includes('Error displaying widget'),
            stderr: document.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').length,
            traceback: /Traceback \\(most recent call last\\)/.test(document.body.innerText),
            nav: document.querySelectorAll('nav.r1-nav a').length,
        })""")
        page.screenshot(path=str(SHOTS / (page_name.replace("/", "__") + ".png")))
        for i, el in enumerate(page.query_selector_all(".r1-panel")):
            el.scroll_into_view_if_needed()
            el.screenshot(path=str(SHOTS / f"{page_name.replace('/', '__')}__panel{i + 1}.png"))
    finally:
        context.close()

    problems = []
    if blocked:
        problems.append(f"requests outside 127.0.0.1 (blocked): {sorted(set(blocked))[:5]}")
    if failed:
        problems.append(f"missing local files: {failed[:5]}")
    bad_images = [src for width, src in facts["images"] if width == 0]
    if bad_images:
        problems.append(f"images that did not load: {bad_images[:3]}")
    if facts["math"] == 0:
        problems.append("no math typeset")
    if facts["mathErrors"] or facts["rawDisplayMath"]:
        problems.append(f"TeX errors: {facts['mathErrors']}, Markdown cells with untypeset math: "
                        f"{facts['rawDisplayMath']}")
    if facts["panels"] != panels or any(n < 1 for n in facts["panelFigures"]):
        problems.append(f"panels shown {facts['panels']} (notebook has {panels}), figures per panel "
                        f"{facts['panelFigures']}")
    if facts["sliders"] != sliders:
        problems.append(f"sliders on the page: {facts['sliders']}, in the notebook: {sliders}")
    if facts["errorsShown"] or facts["stderr"] or facts["traceback"]:
        problems.append(f"error output: widget error {facts['errorsShown']}, stderr outputs "
                        f"{facts['stderr']}, traceback {facts['traceback']}")
    if facts["nav"] < 2:
        problems.append("no navigation bar")
    if console_errors:
        problems.append(f"JavaScript errors: {console_errors[:3]}")
    assert not problems, f"{page_name}:\n  " + "\n  ".join(problems)
    if page_name != "index.html" and not page_name.startswith("solutions/"):
        assert len(facts["images"]) > 0, "a notebook page without a single figure"

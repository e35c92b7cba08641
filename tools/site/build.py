"""Build the reading copy: every notebook executed and rendered to static HTML in ``site/``, with
every panel's figures recorded so that its controls redraw without a kernel.

    python tools/site/build.py [--out site] [--timeout 120] [--jobs 2] [--only 02] [--no-cache]

What it does, in order:

1. installs the front-end files the pages need from the npm registry (``tools/site/package.json``:
   require.js, the ipywidgets HTML renderer, MathJax 2) into ``build/site-assets/`` and copies only
   the files the pages load into ``site/assets/`` (with the panel script ``static/panels.js``) --
   nothing is fetched from a CDN when a page is read, so the site works offline;
2. executes every notebook and every solutions notebook with nbclient (``tools/nbexec.py``), a
   per-cell time limit and one retry (a stalled cell fails fast and is named), ``--jobs`` at once.
   A hidden cell before the first one makes every matplotlib figure describe itself
   (:func:`r1lib.figures.describe.describe_figure`: the image's alt text) and keep its series for
   the colour-blind check. Hidden cells after the last one record each displayed panel
   (:func:`r1lib.figures.panels.record_frames`): every position of a control with at most 64
   (else 64 evenly spaced), and the full grid of several controls when it holds at most 256
   frames, else each control swept with the others at their starting values; frames are
   lossless WebP named by their hash (identical frames share a file), with a JSON index per
   panel. The result is cached in ``build/site-cache/`` under a hash of the notebook, every file
   of r1lib, this recorder and the package versions: an unchanged notebook is not run again;
3. renders each page with nbconvert's lab template: each panel becomes plain HTML (native
   sliders, selects, radio buttons; its status line and first figure) that ``panels.js`` drives
   from the recorded frames, so the page needs neither a kernel nor the 3.6 MB ipywidgets
   renderer (kept only on a page with a widget that is not a panel); every image gets its alt
   text; links to notebooks become links to their pages; plus a navigation bar (index,
   previous, next, Colab, Binder) and, under each graded exercise, a link to its solution;
4. writes ``site/index.html`` (the notebooks, their learning goals, the worked solutions),
   ``site/site.json`` (pages, panels, frame counts, sizes, timings) and ``site/figures.json``
   (every figure's alt text and series, for the tests).

Serve it with ``python -m http.server --bind 127.0.0.1 --directory site 8000``.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import copy
import hashlib
import html
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tools/: nbexec
NOTEBOOKS = ROOT / "notebooks"
ASSET_CACHE = ROOT / "build" / "site-assets"
RUN_CACHE = ROOT / "build" / "site-cache"
MATHJAX_CONFIG = "TeX-AMS_CHTML-full"  # our own pages: no need for the Safe extension
CHECK_CALL = re.compile(r"""exercises\.check\(\s*["'](\d\d\.\d+)["']""")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# What the recorder keeps (the issue's rules) and how long a panel may take to record.
POSITIONS_PER_CONTROL = 64
FULL_GRID_FRAMES = 256
IMAGE_FORMAT = "webp"
RECORD_TIMEOUT = 900


class BuildError(RuntimeError):
    """A step of the build failed; the message says which and what to do."""


# ------------------------------------------------------------------------------ assets (npm)

# What the pages load, relative to each npm package: everything else stays out of site/.
ASSET_FILES = {
    "requirejs": ["require.js"],
    "@jupyter-widgets/html-manager": ["dist/embed-amd.js", "dist/*.woff2", "dist/*.woff"],
    "mathjax": ["MathJax.js", "config/TeX-AMS_CHTML-full.js",
                "extensions/MathMenu.js", "extensions/MathZoom.js", "extensions/TeX/*.js",
                "jax/input/TeX/*.js", "jax/output/CommonHTML/**/*.js", "jax/element/**/*.js",
                "localization/en/*.js", "fonts/HTML-CSS/TeX/woff/*.woff"],
}
STATIC = HERE / "static"  # our own page script, copied to site/assets/r1/


def repository_url() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M).group(1)


def fetch_assets() -> None:
    """npm-install the pinned packages once, cached in build/site-assets (fails early without npm)."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("make site needs Node.js's npm (to fetch require.js, MathJax 2 and the "
                         "ipywidgets HTML renderer from the npm registry); install it, e.g. "
                         "`apt-get install npm`, and run `make site` again")
    ASSET_CACHE.mkdir(parents=True, exist_ok=True)
    manifest = HERE / "package.json"
    cached = ASSET_CACHE / "package.json"
    if not cached.exists() or cached.read_text() != manifest.read_text() or \
            not (ASSET_CACHE / "node_modules").exists():
        shutil.copy(manifest, cached)
        print("site: npm install (require.js, @jupyter-widgets/html-manager, mathjax@2) ...", flush=True)
        done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--no-package-lock",
                               "--loglevel=error"], cwd=ASSET_CACHE, capture_output=True, text=True)
        if done.returncode != 0:
            raise BuildError(f"npm install failed in {ASSET_CACHE}:\n{done.stderr.strip()}")


def copy_assets(out: Path, widget_renderer: bool) -> None:
    """Copy the files the pages load to out/assets: MathJax, the panel script, and require.js
    with the ipywidgets renderer only when a page still embeds a widget that is not a panel."""
    target = out / "assets"
    if target.exists():
        shutil.rmtree(target)
    for package, patterns in ASSET_FILES.items():
        if not widget_renderer and package in ("requirejs", "@jupyter-widgets/html-manager"):
            continue
        base = ASSET_CACHE / "node_modules" / package
        short = package.split("/")[-1]
        for pattern in patterns:
            found = sorted(base.glob(pattern))
            if not found:
                raise BuildError(f"npm package {package} has no {pattern}")
            for src in found:
                dest = target / short / src.relative_to(base)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
    shutil.copytree(STATIC, target / "r1")


# ------------------------------------------------------------------------------ execution

# Hidden cell before the notebook: every figure the inline backend shows describes itself in its
# text/plain (the page's alt text) and leaves its series for the colour-blind check.
PRELUDE = r'''
def _r1_site_prelude():
    import sys, types
    import matplotlib.figure
    from IPython import get_ipython
    from r1lib.figures.describe import describe_figure, figure_series

    site = types.ModuleType("_r1_site")
    site.figures, site.panels = [], []
    sys.modules["_r1_site"] = site

    def plain(fig, p, cycle):
        words = describe_figure(fig)
        site.figures.append({"alt": words, "series": figure_series(fig)})
        p.text(words)

    ip = get_ipython()
    formatter = ip.display_formatter.formatters["text/plain"]

    def ensure(*_):
        # `%matplotlib inline` drops every Figure formatter (IPython's select_figure_formats), and
        # shows figures in a post_execute hook registered after this one: set ours back before.
        if formatter.type_printers.get(matplotlib.figure.Figure) is not plain:
            formatter.for_type(matplotlib.figure.Figure, plain)

    ensure()
    ip.events.register("pre_run_cell", ensure)
    ip.events.register("post_execute", ensure)

_r1_site_prelude()
del _r1_site_prelude
'''

# Hidden cell after the notebook, once per displayed panel (found by its widget's model id).
RECORD = r'''
def _r1_site_record(model_id, root, limit, grid, fmt):
    import re, sys
    from pathlib import Path
    from r1lib.figures.panels import panels, record_frames

    found = [p for p in panels() if getattr(p.widget, "model_id", None) == model_id]
    if not found:
        raise LookupError(f"no live Panel has the widget {model_id} that the notebook displays")
    panel = found[-1]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", panel.name) or "panel"
    name, n = stem, 1
    while (Path(root) / name).exists():
        n += 1
        name = f"{stem}-{n}"
    index = record_frames(panel, Path(root) / name, limit=limit, grid_limit=grid, image_format=fmt)
    series = index.pop("series")
    sys.modules["_r1_site"].panels.append({"dir": name, **{k: v for k, v in index.items() if k != "frames"},
                                           "frames": len(index["frames"]), "series": series,
                                           "alts": sorted({f["alt"] for f in index["frames"].values()})[:3]})

_r1_site_record(__MODEL__, __ROOT__, __LIMIT__, __GRID__, __FORMAT__)
del _r1_site_record
'''

SUMMARY = r'''
def _r1_site_summary(path):
    import json, sys
    site = sys.modules["_r1_site"]
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"figures": site.figures, "panels": site.panels}, f, ensure_ascii=False)

_r1_site_summary(__PATH__)
del _r1_site_summary
'''


def displayed_widgets(nb) -> list[str]:
    """Model ids of the widgets the notebook's outputs display, in page order (no repeats)."""
    ids = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view and view.get("model_id") and view["model_id"] not in ids:
                ids.append(view["model_id"])
    return ids


def widget_state(nb) -> dict:
    """The notebook's stored widget models, model id -> model (empty when none was stored)."""
    return nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})


def panel_models(nb) -> set[str]:
    """Model ids of the r1 Panels' boxes in the notebook's stored widget state."""
    return {mid for mid, m in widget_state(nb).items()
            if "r1-panel" in m.get("state", {}).get("_dom_classes", [])}


def execute(path: Path, timeout: int, frames: Path, retries: int = 1):
    """Run a notebook top to bottom in its own folder and record its panels' frames.

    Returns the executed notebook (outputs, widget state), the summary written by the hidden
    cells (figures and panels) and the seconds taken. A cell that runs past ``timeout`` seconds
    is interrupted and the notebook run once more (a kernel/client stall has been seen on small
    machines); a second failure names the cell.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from nbexec import ShortPollClient

    summary = frames / "summary.json"

    def epilogue(nb):
        shown = panel_models(nb)
        cells = [RECORD.replace("__MODEL__", repr(mid)).replace("__ROOT__", repr(str(frames)))
                 .replace("__LIMIT__", str(POSITIONS_PER_CONTROL)).replace("__GRID__", str(FULL_GRID_FRAMES))
                 .replace("__FORMAT__", repr(IMAGE_FORMAT))
                 for mid in displayed_widgets(nb) if mid in shown]
        return cells + [SUMMARY.replace("__PATH__", repr(str(summary)))]

    last: Exception | None = None
    for attempt in range(retries + 1):
        if frames.exists():
            shutil.rmtree(frames)
        frames.mkdir(parents=True)
        nb = nbformat.read(path, as_version=4)
        client = ShortPollClient(nb, timeout=timeout, kernel_name="python3",
                                 resources={"metadata": {"path": str(path.parent)}},
                                 store_widget_state=True)
        started = time.perf_counter()
        try:
            client.execute_with([PRELUDE], epilogue, epilogue_timeout=max(timeout, RECORD_TIMEOUT))
            return nb, json.loads(summary.read_text(encoding="utf-8")), time.perf_counter() - started
        except (CellTimeoutError, DeadKernelError) as exc:
            last = exc
            print(f"site: {path.name}: {type(exc).__name__} (attempt {attempt + 1}): "
                  f"{str(exc).splitlines()[0] if str(exc) else ''}", flush=True)
        except CellExecutionError as exc:  # a real error in a cell: no retry, say which
            raise BuildError(f"{path.relative_to(ROOT)} raised while executing:\n{exc}") from None
    raise BuildError(f"{path.relative_to(ROOT)}: a cell exceeded {timeout} s twice: {last}")


def cache_key(path: Path) -> str:
    """What a notebook's executed copy and frames depend on: the notebook, every file of r1lib,
    the executor and recorder, and the versions of the packages that draw and encode."""
    from importlib.metadata import PackageNotFoundError, version

    h = hashlib.sha256()
    h.update(path.read_bytes())
    for f in sorted((ROOT / "r1lib").rglob("*")):
        if f.is_file() and "__pycache__" not in f.parts:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    h.update((HERE.parent / "nbexec.py").read_bytes())
    h.update("\0".join([PRELUDE, RECORD, SUMMARY, str(POSITIONS_PER_CONTROL), str(FULL_GRID_FRAMES),
                        IMAGE_FORMAT, sys.version]).encode())
    for package in ("numpy", "matplotlib", "ipywidgets", "ipykernel", "pillow", "scikit-learn", "nbclient"):
        try:
            h.update(f"{package}={version(package)}".encode())
        except PackageNotFoundError:
            h.update(f"{package}=none".encode())
    return h.hexdigest()[:24]


def _execute_job(args):
    """One notebook, in a worker process: from the cache when its inputs have not changed."""
    path, timeout, use_cache = args
    import nbformat

    path = Path(path)
    key = cache_key(path)
    slot = RUN_CACHE / path.stem
    entry = slot / key
    if use_cache and (entry / "done.json").exists():
        meta = json.loads((entry / "done.json").read_text())
        return str(path), str(entry), meta["seconds"], True
    work = slot / f"{key}.partial-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    nb, summary, seconds = execute(path, timeout, work / "frames")
    nbformat.write(nb, work / "executed.ipynb")
    (work / "done.json").write_text(json.dumps({"seconds": round(seconds, 1), "source": str(path)}))
    shutil.rmtree(entry, ignore_errors=True)
    try:
        os.replace(work, entry)
    except OSError:  # another build (make site beside make test) stored the same run first
        shutil.rmtree(work, ignore_errors=True)
        if not (entry / "done.json").exists():
            raise
    for old in slot.iterdir():  # older runs of this notebook (their inputs changed), and
        # unfinished ones more than a day old (a killed build); a running build's are younger
        stale = ".partial-" not in old.name or time.time() - old.stat().st_mtime > 86400
        if old.name != key and stale:
            shutil.rmtree(old, ignore_errors=True)
    return str(path), str(entry), round(seconds, 1), False


# ------------------------------------------------------------------------------ rendering

def page_name(path: Path) -> str:
    return ("solutions/" if path.parent.name == "solutions" else "") + path.stem + ".html"


def notebook_title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if m:
                return m.group(1).strip()
    return "notebook"


def learning_goals(nb) -> str:
    """The learning goals of a notebook's first Markdown cell (the list after 'Learning goals')."""
    first = next((c.source for c in nb.cells if c.cell_type == "markdown"), "")
    m = re.search(r"learning goals", first, re.I)
    if not m:
        paragraphs = [p for p in first.split("\n\n") if p.strip() and not p.lstrip().startswith("#")]
        return paragraphs[0] if paragraphs else ""
    lines = first[m.start():].splitlines()
    head, kept, seen_item = lines[0], [], False
    item = re.compile(r"^\s*(\d+[.)]|[-*+])\s+")
    for line in lines[1:]:
        if item.match(line):
            seen_item = True
            kept.append(line)
        elif seen_item and (line.startswith("   ") or line.startswith("\t")):
            kept.append(line)
        elif not line.strip():
            if seen_item:
                kept.append(line)
        elif seen_item:
            break
        else:
            head += " " + line.strip()
    head = re.sub(r"^\**learning goals\.?\**\s*", "", head, flags=re.I).strip()
    return (head + "\n\n" if head else "") + "\n".join(kept).strip()


def add_solution_links(nb, number: str):
    """Under every graded exercise, a link to its worked solution on the solutions page."""
    import nbformat

    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.cell_type == "code":
            for ex in CHECK_CALL.findall(cell.source):
                cells.append(nbformat.v4.new_markdown_cell(
                    f'<p class="r1-solution-link">Stuck? <a href="solutions/{number}_solutions.html'
                    f'#solution-{ex}">Worked solution to exercise {ex}</a></p>'))
    nb.cells = cells
    return nb


def add_solution_anchors(nb):
    """An anchor before the first cell of each solution, for the links above."""
    import nbformat

    cells, seen = [], set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            for ex in CHECK_CALL.findall(cell.source):
                if ex not in seen:
                    seen.add(ex)
                    cells.insert(_start_of_block(cells), nbformat.v4.new_markdown_cell(
                        f'<a id="solution-{ex}" class="r1-anchor"></a>'))
        cells.append(cell)
    nb.cells = cells
    return nb


def _start_of_block(cells) -> int:
    """Index where the current exercise's block starts: after the last code cell before it (so
    the anchor lands above the Markdown that introduces the solution)."""
    i = len(cells)
    while i > 0 and cells[i - 1].cell_type == "markdown":
        i -= 1
    return i


_MD_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
_HREF = re.compile(r"""(href=["'])([^"']+)(["'])""")


def rewrite_links(text: str, source_dir: str, page_dir: str, site_pages: dict, repo: str) -> str:
    """Relative links in Markdown/HTML written for the repository, made right for the site.

    ``source_dir``: the folder of the text in the repository ("notebooks", "" for the README);
    ``page_dir``: the folder of its page in the site ("", "solutions"); ``site_pages``: repository
    path -> site path (notebooks -> their pages, notebook folders -> the index). A link to a
    notebook goes to its page; a link to another file of the repository goes to GitHub.
    """
    def fix(target: str) -> str:
        if re.match(r"^([a-z][a-z0-9+.-]*:|#|/)", target, re.I):
            return target
        path, _, frag = target.partition("#")
        repo_path = posixpath.normpath(posixpath.join(source_dir, path)).rstrip("/")
        if repo_path in site_pages:
            site_path, _, own_frag = site_pages[repo_path].partition("#")
            href = posixpath.relpath(site_path, page_dir or ".")
            return href + ("#" + (frag or own_frag) if (frag or own_frag) else "")
        if (ROOT / repo_path).exists():
            kind = "tree" if (ROOT / repo_path).is_dir() else "blob"
            return f"{repo.rstrip('/')}/{kind}/main/{repo_path}" + (f"#{frag}" if frag else "")
        return target

    text = _MD_LINK.sub(lambda m: m.group(1) + fix(m.group(2)) + m.group(3), text)
    return _HREF.sub(lambda m: m.group(1) + fix(m.group(2)) + m.group(3), text)


def nav_links(repo: str, source: str) -> dict:
    owner_repo = repo.rstrip("/").split("github.com/")[-1]
    path = f"notebooks/{source}"
    return {"colab": f"https://colab.research.google.com/github/{owner_repo}/blob/main/{path}",
            "binder": f"https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=lab/tree/{path}"}


def nav_bar(pages: list[dict], index: int, depth: int, repo: str) -> str:
    up = "../" * depth
    page = pages[index]
    items = [f'<a href="{up}index.html">&#8962; All notebooks</a>']
    if page.get("parent") is not None:
        parent = pages[page["parent"]]
        items.append(f'<a href="{up}{parent["href"]}">&#8592; back to {html.escape(parent["short"])}</a>')
    else:
        prev_ = next((p for p in reversed(pages[:index]) if p.get("parent") is None), None)
        next_ = next((p for p in pages[index + 1:] if p.get("parent") is None), None)
        if prev_:
            items.append(f'<a href="{up}{prev_["href"]}">&#8592; {html.escape(prev_["short"])}</a>')
        if next_:
            items.append(f'<a href="{up}{next_["href"]}">{html.escape(next_["short"])} &#8594;</a>')
    owner_repo = repo.rstrip("/").split("github.com/")[-1]
    if not page["source"]:  # the index: one link that opens the whole series on Binder
        items.append(f'<a href="https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=lab/tree/notebooks">'
                     "Launch the series on Binder</a>")
        return '<nav class="r1-nav">' + " <span>&middot;</span> ".join(items) + "</nav>"
    links = nav_links(repo, page["source"])
    items.append(f'<a href="{links["colab"]}">Open in Colab</a>')
    items.append(f'<a href="{links["binder"]}">Launch on Binder</a>')
    return ('<nav class="r1-nav">' + " <span>&middot;</span> ".join(items) + "</nav>")


# ------------------------------------------------------------------------------ panels as HTML

def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _control_html(c: dict, cid: str) -> str:
    label = c["label"] or c["key"]
    key = re.sub(r"[^A-Za-z0-9_-]+", "_", c["key"])
    head = (f'<div class="r1-control r1-control-{key}" data-kind="{c["kind"]}" '
            f'data-label="{_esc(label)}">')
    labels, start = c["labels"], c["start"]
    if c["kind"] == "range":
        sub = (f' title="{len(labels)} of its {c["total"]} positions were recorded"'
               if c["total"] > len(labels) else "")
        return (head + f'<label for="{cid}">{_esc(label)}</label>'
                f'<input id="{cid}" type="range" min="0" max="{len(labels) - 1}" step="1" '
                f'value="{start}" autocomplete="off" aria-valuetext="{_esc(labels[start])}"{sub} '
                f"data-labels='{_esc(json.dumps(labels, ensure_ascii=False))}'>"
                f'<output for="{cid}">{_esc(labels[start])}</output></div>')
    if c["kind"] == "select":
        options = "".join(f'<option value="{i}"{" selected" if i == start else ""}>{_esc(t)}</option>'
                          for i, t in enumerate(labels))
        return (head + f'<label for="{cid}">{_esc(label)}</label>'
                f'<select id="{cid}" autocomplete="off">{options}</select></div>')
    if c["kind"] == "toggle":
        radios = "".join(f'<label><input type="radio" name="{cid}" value="{i}" autocomplete="off"'
                         f'{" checked" if i == start else ""}><span>{_esc(t)}</span></label>'
                         for i, t in enumerate(labels))
        return (head + f'<span class="r1-label" id="{cid}-label">{_esc(label)}</span>'
                f'<span class="r1-toggle" role="radiogroup" aria-labelledby="{cid}-label">{radios}</span></div>')
    if c["kind"] == "checkbox":
        return (head + f'<input id="{cid}" type="checkbox" autocomplete="off"{" checked" if start else ""}>'
                f'<label for="{cid}">{_esc(label)}</label></div>')
    value = labels[0]
    if c["kind"] == "textarea":
        box = f'<textarea id="{cid}" rows="3" autocomplete="off">{_esc(value)}</textarea>'
    else:
        box = f'<input id="{cid}" type="text" value="{_esc(value)}" autocomplete="off">'
    return head + f'<label for="{cid}">{_esc(label)}</label>{box}</div>'


def panel_html(index: dict, base: str, links: dict, uid: str) -> str:
    """One panel as plain HTML: its controls at their starting positions, the starting status
    line and figure; ``panels.js`` swaps the figure and status from ``base`` + index.json."""
    frame = index["frames"][index["start"]]
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", index["name"])
    controls = "".join(_control_html(c, f"{uid}-{i}") for i, c in enumerate(index["controls"]))
    area = index.get("area_height") or "auto"
    return (f'<div class="r1-panel r1-panel-{name}" data-r1-frames="{_esc(base)}" '
            f'data-r1-colab="{_esc(links["colab"])}" data-r1-binder="{_esc(links["binder"])}">'
            f'<div class="r1-controls">{controls}</div>'
            f'<div class="r1-status" aria-live="polite">{frame["status"]}</div>'
            f'<div class="r1-figure" style="height:{_esc(area)}">'
            f'<img src="{_esc(base + frame["image"])}" alt="{_esc(frame["alt"])}" '
            f'width="{index["width"]}" height="{index["height"]}"></div>'
            f'<p class="r1-note" role="status" hidden></p></div>')


def prepare_page(nb, panels: dict, frames_url: str, links: dict, prefix: str):
    """The executed notebook as the page shows it: each displayed panel replaced by its HTML,
    every image's alt text in its metadata, the widget state dropped when no widget is left."""
    seen: dict = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            view = data.get(WIDGET_VIEW)
            if view and view.get("model_id") in panels:
                index = panels[view["model_id"]]
                n = seen[index["dir"]] = seen.get(index["dir"], 0) + 1
                uid = f"{prefix}-{index['dir']}" + (f"-{n}" if n > 1 else "")
                out["data"] = {"text/html": panel_html(index, f"{frames_url}{index['dir']}/", links,
                                                       re.sub(r"[^A-Za-z0-9_-]+", "_", uid))}
                out["metadata"] = {}
                continue
            for mime in ("image/png", "image/jpeg", "image/svg+xml"):
                if mime in data:
                    meta = out.setdefault("metadata", {}).setdefault(mime, {})
                    words = data.get("text/plain", "")
                    words = "".join(words) if isinstance(words, list) else words
                    if not meta.get("alt") and words and not words.startswith("<"):
                        meta["alt"] = words
    left = displayed_widgets(nb)
    nested = [mid for mid in left if _holds_panel(nb, mid)]
    if nested:
        raise BuildError(f"widget(s) {nested} hold an r1 Panel inside another widget: the site records "
                         "panels displayed on their own (make the panel a cell's last expression)")
    if not left:
        nb.metadata.pop("widgets", None)
    return nb


def _holds_panel(nb, model_id: str) -> bool:
    """Whether the widget ``model_id`` is, or contains, an r1 Panel's box (in the stored state)."""
    state = widget_state(nb)
    seen, todo = set(), [model_id]
    while todo:
        mid = todo.pop()
        if mid in seen or mid not in state:
            continue
        seen.add(mid)
        model = state[mid].get("state", {})
        if "r1-panel" in model.get("_dom_classes", []):
            return True
        todo += [c[len("IPY_MODEL_"):] for c in model.get("children", []) if isinstance(c, str)
                 and c.startswith("IPY_MODEL_")]
    return False


def render(nb, pages, index, repo, assets_up: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="r1site", extra_template_basedirs=[str(HERE / "templates")])
    exporter.require_js_url = f"{assets_up}assets/requirejs/require.js"
    exporter.widget_renderer_url = f"{assets_up}assets/html-manager/dist/embed-amd.js"
    exporter.mathjax_url = f"{assets_up}assets/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    body, _ = exporter.from_notebook_node(nb, resources={"r1_assets": f"{assets_up}assets/r1/"})
    depth = assets_up.count("../")
    bar = nav_bar(pages, index, depth, repo)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + "\n" + bar, body, count=1)
    m = re.search(r"https?://(cdn|cdnjs|unpkg)[^\"' ]*", body)
    if m:
        raise BuildError(f"{pages[index]['href']} still references a CDN: "
                         f"{body[max(0, m.start() - 120):m.end() + 80]!r}")
    return body


def index_notebook(pages, nbs, repo, site_pages):
    import nbformat

    intro = (ROOT / "README.md").read_text(encoding="utf-8").split("\n\n")
    lead = next((p for p in intro[1:] if p.strip() and not p.startswith(("[", "#", "!"))), "")
    lead = rewrite_links(lead, "", "", site_pages, repo)
    rows = ["| notebook | read | run |", "| --- | --- | --- |"]
    for page in pages:
        if page.get("parent") is not None:
            continue
        links = nav_links(repo, page["source"])
        rows.append(f"| {page['title']} | [page]({page['href']}) |"
                    f" [Colab]({links['colab']}), [Binder]({links['binder']}) |")
    cells = [nbformat.v4.new_markdown_cell("# The math behind DeepSeek-R1, interactively\n\n" + lead),
             nbformat.v4.new_markdown_cell(
                 "This is the reading copy: every notebook executed once, with all its figures. "
                 "The panels' sliders, menus and buttons redraw their figures here without a "
                 "kernel: each panel's figures were recorded when the site was built (every "
                 "position of each control, and every combination where there are few). To try "
                 "a combination that was not recorded, or to change the code, run the notebook: "
                 "open it in Colab or Binder, or `make lab` in a clone.\n\n" + "\n".join(rows))]
    for page in pages:
        if page.get("parent") is None:
            goals = learning_goals(nbs[page["source"]])
            cells.append(nbformat.v4.new_markdown_cell(
                f"## [{page['title']}]({page['href']})\n\n{goals}\n\n"
                f"Worked solutions: [{page['number']} solutions](solutions/{page['number']}_solutions.html)"
                if page.get("has_solutions") else f"## [{page['title']}]({page['href']})\n\n{goals}"))
    solutions = [p for p in pages if p.get("parent") is not None]
    if solutions:
        cells.append(nbformat.v4.new_markdown_cell(
            '<a id="solutions" class="r1-anchor"></a>\n\n## Worked solutions\n\n'
            "Every graded exercise, solved and explained, one page per notebook:\n\n"
            + "\n".join(f"- [{p['title']}]({p['href']})" for p in solutions)))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["title"] = "The math behind DeepSeek-R1, interactively"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


# ------------------------------------------------------------------------------ main

def collect(only: list[str] | None):
    main = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if only:
        main = [p for p in main if p.name[:2] in only]
    solutions = {p.name[:2]: p for p in sorted((NOTEBOOKS / "solutions").glob("[0-9][0-9]_solutions.ipynb"))}
    pages = []
    for path in main:
        number = path.name[:2]
        pages.append({"path": path, "source": path.name, "href": page_name(path), "number": number,
                      "has_solutions": number in solutions, "parent": None})
    for i, page in enumerate(list(pages)):
        sol = solutions.get(page["number"])
        if sol is not None:
            pages.append({"path": sol, "source": f"solutions/{sol.name}", "href": page_name(sol),
                          "number": page["number"], "parent": i, "has_solutions": False})
    return pages


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build(out: Path, timeout: int = 120, jobs: int = 2, only: list[str] | None = None,
          use_cache: bool = True) -> dict:
    import nbformat

    started = time.perf_counter()
    load_before = _load()
    out.mkdir(parents=True, exist_ok=True)
    fetch_assets()
    if (out / "site.json").exists():  # an earlier build: none of its pages or frames may linger
        for stale in out.glob("*.html"):
            stale.unlink()
        for stale in ("frames", "solutions"):
            shutil.rmtree(out / stale, ignore_errors=True)
    pages = collect(only)
    if not pages:
        raise BuildError("no notebooks/NN_*.ipynb to build")
    executed, seconds, cached = {}, {}, {}
    # The long notebooks first, so two workers finish together.
    order = sorted(pages, key=lambda p: (p.get("parent") is not None, -p["path"].stat().st_size))
    errors = []
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_execute_job, (str(p["path"]), timeout, use_cache)) for p in order]
        for fut in concurrent.futures.as_completed(futures):
            try:
                path, entry, secs, hit = fut.result()
            except BuildError as exc:  # run the others (and cache them), then report every failure
                errors.append(str(exc))
                print(f"site: FAILED {str(exc).splitlines()[0]}", flush=True)
                continue
            executed[path] = Path(entry)
            seconds[Path(path).name] = secs
            cached[Path(path).name] = hit
            print(f"site: {'cached' if hit else 'executed'} {Path(path).relative_to(ROOT)}"
                  f"{'' if hit else f' in {secs:.1f} s'}", flush=True)
    if errors:
        raise BuildError(f"{len(errors)} notebook(s) failed:\n\n" + "\n\n".join(errors))
    nbs = {p["source"]: nbformat.read(executed[str(p["path"])] / "executed.ipynb", as_version=4)
           for p in pages}
    summaries = {p["source"]: json.loads((executed[str(p["path"])] / "frames" / "summary.json").read_text())
                 for p in pages}
    widget_renderer = False
    for page in pages:
        page["title"] = notebook_title(nbs[page["source"]])
        page["short"] = page["title"].split("·")[0].strip() if "·" in page["title"] else page["title"][:30]
        if page.get("parent") is not None:
            page["short"] = f"{page['number']} solutions"
    repo = repository_url()
    site_pages = {f"notebooks/{p['source']}": p["href"] for p in pages}
    site_pages.update({"notebooks": "index.html", "notebooks/solutions": "index.html#solutions"})
    report_pages, figures = [], {}
    for i, page in enumerate(pages):
        nb = copy.deepcopy(nbs[page["source"]])
        page_dir = posixpath.dirname(page["href"])
        source_dir = posixpath.dirname(f"notebooks/{page['source']}")
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = rewrite_links(cell.source, source_dir, page_dir, site_pages, repo)
        if page.get("parent") is None:
            if page["has_solutions"]:
                nb = add_solution_links(nb, page["number"])
            up = ""
        else:
            nb = add_solution_anchors(nb)
            up = "../"
        stem = Path(page["source"]).stem
        frames_src = executed[str(page["path"])] / "frames"
        frames_dest = out / page_dir / "frames" / stem
        summary = summaries[page["source"]]
        panels = {}
        for p in summary["panels"]:
            idx = json.loads((frames_src / p["dir"] / "index.json").read_text(encoding="utf-8"))
            panels[p["model_id"]] = {**idx, "dir": p["dir"]}
        if panels:
            shutil.copytree(frames_src, frames_dest, ignore=shutil.ignore_patterns("summary.json"))
        nb = prepare_page(nb, panels, f"frames/{stem}/", nav_links(repo, page["source"]), stem[:2])
        widget_renderer |= "widgets" in nb.metadata
        nb.metadata["title"] = page["title"]
        dest = out / page["href"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(render(nb, pages, i, repo, up), encoding="utf-8")
        report_pages.append({
            "href": page["href"], "source": page["source"], "title": page["title"],
            "solutions": page.get("parent") is not None, "cached": cached[page["path"].name],
            "execute_seconds": seconds[page["path"].name], "html_bytes": dest.stat().st_size,
            "frames_bytes": _folder_bytes(frames_dest) if panels else 0,
            "panels": [{"name": p["name"], "dir": p["dir"], "mode": p["mode"], "frames": p["frames"],
                        "files": p["files"], "bytes": p["bytes"], "deterministic": p["deterministic"],
                        "record_seconds": p["seconds"],
                        "controls": [{"key": c["key"], "kind": c["kind"], "positions": c["total"],
                                      "recorded": len(c["labels"])} for c in p["controls"]]}
                       for p in summary["panels"]],
            "widgets_left": "widgets" in nb.metadata})
        figures[page["href"]] = {
            "figures": summary["figures"],
            "panels": [{"name": p["name"], "series": p["series"], "alts": p["alts"]} for p in summary["panels"]]}
    copy_assets(out, widget_renderer)  # the 3.6 MB ipywidgets renderer only if a page needs it
    (out / "index.html").write_text(
        render(index_notebook(pages, nbs, repo, site_pages),
               [{"href": "index.html", "source": "", "short": "index", "parent": None}], 0, repo, ""),
        encoding="utf-8")
    (out / "figures.json").write_text(json.dumps(figures, ensure_ascii=False), encoding="utf-8")
    manifest = {"pages": report_pages, "execute_seconds": seconds,
                "total_seconds": round(time.perf_counter() - started, 1),
                "load_before": load_before, "load_after": _load(), "cpus": os.cpu_count(),
                "jobs": jobs, "site_bytes": 0}
    (out / "site.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    manifest["site_bytes"] = _folder_bytes(out)
    (out / "site.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def report(manifest: dict) -> str:
    """The build in a few lines: size, per page the HTML and frames, per panel the frames."""
    lines = [f"site: {manifest['site_bytes'] / 2**20:.1f} MB, built in {manifest['total_seconds']} s "
             f"({manifest['jobs']} jobs on {manifest['cpus']} CPUs; load {manifest['load_before']} "
             f"-> {manifest['load_after']})"]
    for page in manifest["pages"]:
        how = "cached" if page["cached"] else f"executed {page['execute_seconds']} s"
        lines.append(f"  {page['href']}: {page['html_bytes'] / 2**10:.0f} KB HTML, "
                     f"{page['frames_bytes'] / 2**20:.1f} MB frames ({how})")
        for p in page["panels"]:
            ctl = ", ".join(f"{c['key']} {c['recorded']}" + (f"/{c['positions']}" if c["positions"] != c["recorded"] else "")
                            for c in p["controls"])
            lines.append(f"    {p['name']}: {p['frames']} frames ({p['mode']}; {ctl}), {p['files']} files, "
                         f"{p['bytes'] / 2**10:.0f} KB, recorded in {p['record_seconds']} s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "site"), help="output folder (default: site/)")
    parser.add_argument("--timeout", type=int, default=120, help="per-cell time limit in seconds")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once")
    parser.add_argument("--only", nargs="+", help="notebook numbers to build, e.g. 02 05")
    parser.add_argument("--no-cache", action="store_true",
                        help="run every notebook again even if build/site-cache has it")
    args = parser.parse_args(argv)
    try:
        manifest = build(Path(args.out), args.timeout, args.jobs, args.only, use_cache=not args.no_cache)
    except BuildError as exc:
        print(f"make site: {exc}", file=sys.stderr)
        return 2
    print(report(manifest))
    print(f"site: {len(manifest['pages'])} pages + index in {args.out}. Serve: python -m http.server "
          f"--bind 127.0.0.1 --directory {os.path.relpath(args.out)} 8000")
    return 0


if __name__ == "__main__":
    sys.exit(main())

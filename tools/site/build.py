"""Build the reading copy: every notebook executed and rendered to static HTML in ``site/``.

    python tools/site/build.py [--out site] [--timeout 120] [--jobs 2] [--only 02]

What it does, in order:

1. installs the front-end files the pages need from the npm registry (``tools/site/package.json``:
   require.js, the ipywidgets HTML renderer, MathJax 2) into ``build/site-assets/`` and copies only
   the files the pages load into ``site/assets/`` -- nothing is fetched from a CDN when a page is
   read, so the site works offline;
2. executes every notebook and every solutions notebook with nbclient, a per-cell time limit and
   one retry (a stalled cell fails fast and is named), storing the ipywidgets state so that each
   panel's initial figure and controls render without a kernel;
3. renders each to HTML with nbconvert's lab template, pointing require.js, MathJax and the widget
   renderer at the local copies, and adds a navigation bar (index, previous, next, Colab, Binder)
   and, under each graded exercise, a link to its solution;
4. writes ``site/index.html``: the notebook table and each notebook's learning goals.

Serve it with ``python -m http.server --bind 127.0.0.1 --directory site 8000``.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import copy
import html
import json
import os
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
MATHJAX_CONFIG = "TeX-AMS_CHTML-full"  # our own pages: no need for the Safe extension
CHECK_CALL = re.compile(r"""exercises\.check\(\s*["'](\d\d\.\d+)["']""")


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


def repository_url() -> str:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.search(r'^Repository\s*=\s*"([^"]+)"', text, re.M).group(1)


def install_assets(out: Path) -> None:
    """npm-install the pinned packages once (cached in build/), copy the loaded files to out/assets."""
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
    target = out / "assets"
    if target.exists():
        shutil.rmtree(target)
    for package, patterns in ASSET_FILES.items():
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


# ------------------------------------------------------------------------------ execution

def execute(path: Path, timeout: int, retries: int = 1):
    """Run a notebook top to bottom in its own folder; return it with outputs and widget state.

    A cell that runs past ``timeout`` seconds is interrupted and the notebook run once more (a
    kernel/client stall has been seen on small machines); a second failure names the cell.
    """
    import nbformat
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    from nbexec import ShortPollClient

    last: Exception | None = None
    for attempt in range(retries + 1):
        nb = nbformat.read(path, as_version=4)
        client = ShortPollClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}},
                                store_widget_state=True)
        started = time.perf_counter()
        try:
            client.execute()
            return nb, time.perf_counter() - started
        except (CellTimeoutError, DeadKernelError) as exc:
            last = exc
            print(f"site: {path.name}: {type(exc).__name__} (attempt {attempt + 1}): "
                  f"{str(exc).splitlines()[0] if str(exc) else ''}", flush=True)
        except CellExecutionError as exc:  # a real error in a cell: no retry, say which
            raise BuildError(f"{path.relative_to(ROOT)} raised while executing:\n{exc}") from None
    raise BuildError(f"{path.relative_to(ROOT)}: a cell exceeded {timeout} s twice: {last}")


def _execute_job(args):
    path, timeout = args
    import nbformat

    nb, seconds = execute(Path(path), timeout)
    return path, nbformat.writes(nb), seconds


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
    source = f"notebooks/{page['source']}"
    items.append(f'<a href="https://colab.research.google.com/github/{owner_repo}/blob/main/{source}">Open in Colab</a>')
    items.append(f'<a href="https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=lab/tree/{source}">Launch on Binder</a>')
    return ('<nav class="r1-nav">' + " <span>&middot;</span> ".join(items) + "</nav>")




def render(nb, pages, index, repo, assets_up: str) -> str:
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="r1site", extra_template_basedirs=[str(HERE / "templates")])
    exporter.require_js_url = f"{assets_up}assets/requirejs/require.js"
    exporter.widget_renderer_url = f"{assets_up}assets/html-manager/dist/embed-amd.js"
    exporter.mathjax_url = f"{assets_up}assets/mathjax/MathJax.js?config={MATHJAX_CONFIG}"
    body, _ = exporter.from_notebook_node(nb)
    depth = assets_up.count("../")
    bar = nav_bar(pages, index, depth, repo)
    body = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + "\n" + bar, body, count=1)
    m = re.search(r"https?://(cdn|cdnjs|unpkg)[^\"' ]*", body)
    if m:
        raise BuildError(f"{pages[index]['href']} still references a CDN: "
                         f"{body[max(0, m.start() - 120):m.end() + 80]!r}")
    return body


def index_notebook(pages, nbs, repo):
    import nbformat

    owner_repo = repo.rstrip("/").split("github.com/")[-1]
    intro = (ROOT / "README.md").read_text(encoding="utf-8").split("\n\n")
    lead = next((p for p in intro[1:] if p.strip() and not p.startswith(("[", "#", "!"))), "")
    rows = ["| notebook | read | run |", "| --- | --- | --- |"]
    for page in pages:
        if page.get("parent") is not None:
            continue
        source = f"notebooks/{page['source']}"
        rows.append(f"| {page['title']} | [page]({page['href']}) |"
                    f" [Colab](https://colab.research.google.com/github/{owner_repo}/blob/main/{source}),"
                    f" [Binder](https://mybinder.org/v2/gh/{owner_repo}/main?urlpath=lab/tree/{source}) |")
    cells = [nbformat.v4.new_markdown_cell("# The math behind DeepSeek-R1, interactively\n\n" + lead),
             nbformat.v4.new_markdown_cell(
                 "This is the reading copy: every notebook executed once, with its figures and each "
                 "panel's first picture. The sliders move here, but redrawing needs a running "
                 "kernel: open a notebook in Colab or Binder, or `make lab` in a clone, to play.\n\n"
                 + "\n".join(rows))]
    for page in pages:
        if page.get("parent") is None:
            goals = learning_goals(nbs[page["source"]])
            cells.append(nbformat.v4.new_markdown_cell(
                f"## [{page['title']}]({page['href']})\n\n{goals}\n\n"
                f"Worked solutions: [{page['number']} solutions](solutions/{page['number']}_solutions.html)"
                if page.get("has_solutions") else f"## [{page['title']}]({page['href']})\n\n{goals}"))
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


def build(out: Path, timeout: int = 120, jobs: int = 2, only: list[str] | None = None) -> dict:
    import nbformat

    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    install_assets(out)
    pages = collect(only)
    if not pages:
        raise BuildError("no notebooks/NN_*.ipynb to build")
    executed, seconds = {}, {}
    with concurrent.futures.ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_execute_job, (str(p["path"]), timeout)) for p in pages]
        for fut in concurrent.futures.as_completed(futures):
            path, text, secs = fut.result()
            executed[path] = nbformat.reads(text, as_version=4)
            seconds[Path(path).name] = round(secs, 1)
            print(f"site: executed {Path(path).relative_to(ROOT)} in {secs:.1f} s", flush=True)
    nbs = {p["source"]: executed[str(p["path"])] for p in pages}
    for page in pages:
        page["title"] = notebook_title(nbs[page["source"]])
        page["short"] = page["title"].split("·")[0].strip() if "·" in page["title"] else page["title"][:30]
        if page.get("parent") is not None:
            page["short"] = f"{page['number']} solutions"
    repo = repository_url()
    for i, page in enumerate(pages):
        nb = copy.deepcopy(nbs[page["source"]])
        if page.get("parent") is None:
            if page["has_solutions"]:
                nb = add_solution_links(nb, page["number"])
            up = ""
        else:
            nb = add_solution_anchors(nb)
            up = "../"
        nb.metadata["title"] = page["title"]
        dest = out / page["href"]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(render(nb, pages, i, repo, up), encoding="utf-8")
    (out / "index.html").write_text(
        render(index_notebook(pages, nbs, repo), [{"href": "index.html", "source": "",
                                                          "short": "index", "parent": None}], 0, repo, ""),
        encoding="utf-8")
    manifest = {"pages": [{"href": p["href"], "source": p["source"], "title": p["title"],
                           "solutions": p.get("parent") is not None} for p in pages],
                "execute_seconds": seconds, "total_seconds": round(time.perf_counter() - started, 1)}
    (out / "site.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "site"), help="output folder (default: site/)")
    parser.add_argument("--timeout", type=int, default=120, help="per-cell time limit in seconds")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once")
    parser.add_argument("--only", nargs="+", help="notebook numbers to build, e.g. 02 05")
    args = parser.parse_args(argv)
    try:
        manifest = build(Path(args.out), args.timeout, args.jobs, args.only)
    except BuildError as exc:
        print(f"make site: {exc}", file=sys.stderr)
        return 2
    print(f"site: {len(manifest['pages'])} pages + index in {args.out} "
          f"({manifest['total_seconds']} s). Serve: python -m http.server --bind 127.0.0.1 "
          f"--directory {os.path.relpath(args.out)} 8000")
    return 0


if __name__ == "__main__":
    sys.exit(main())

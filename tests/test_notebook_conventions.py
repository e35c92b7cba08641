"""Every notebook is stored clean and starts with the same, correct set-up cell."""
from __future__ import annotations

import ast
import re
import json
import os
import subprocess
import sys

import pytest

from nbconventions import NOTEBOOKS, ROOT, SOLUTIONS, repository_url, setup_cell




def _load(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_stored_without_outputs_and_widget_state(path):
    nb = _load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert "widgets" not in nb["metadata"], "widget state is stored; run nbstripout"
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"stored outputs in {path.name}"
            assert cell.get("execution_count") is None, f"stored execution count in {path.name}"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_first_code_cell_is_the_setup_cell(path):
    nb = _load(path)
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    source = "".join(first["source"])
    assert source.strip() == setup_cell(solutions=path.parent.name == "solutions").strip()
    ast.parse(source)  # plain Python (no %magics), so it runs anywhere


def test_setup_cell_does_nothing_outside_colab_and_finds_r1lib_from_a_checkout(tmp_path):
    """Run the set-up cell in a clean interpreter, from notebooks/, with r1lib *not* installed:
    it must put the checkout on sys.path, import r1lib from it and never call pip."""
    script = tmp_path / "setup_cell.py"
    script.write_text(
        "import subprocess\n"
        "def _no(*a, **k):\n    raise AssertionError('set-up cell ran a subprocess outside Colab')\n"
        "subprocess.run = _no\n" + setup_cell() + "\nprint(r1lib.__file__)\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    # -S: no site-packages, so the editable install of r1lib cannot be what is found (numpy is
    # put back explicitly).
    import numpy
    numpy_site = str(pathlib_parent(numpy.__file__, 2))
    code = f"import sys; sys.path.append({numpy_site!r}); exec(open({str(script)!r}).read())"
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=ROOT / "notebooks", env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(ROOT / "r1lib" / "__init__.py")


def test_setup_cell_outside_colab_and_a_checkout_says_how_to_install(tmp_path):
    """Run the set-up cell where r1lib is neither installed nor one folder up: it must stop with
    the one install line that works anywhere (and still never call pip)."""
    (tmp_path / "notebooks").mkdir()
    script = tmp_path / "setup_cell.py"
    script.write_text(
        "import subprocess\n"
        "def _no(*a, **k):\n    raise AssertionError('set-up cell ran a subprocess outside Colab')\n"
        "subprocess.run = _no\n" + setup_cell() + "\n")
    import numpy
    numpy_site = str(pathlib_parent(numpy.__file__, 2))
    code = f"import sys; sys.path.append({numpy_site!r}); exec(open({str(script)!r}).read())"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    out = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path / "notebooks", env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "ImportError: r1lib is not installed" in out.stderr
    assert f'pip install "r1lib[notebooks,grading] @ git+{repository_url()}"' in out.stderr
    assert "AssertionError" not in out.stderr


def pathlib_parent(path, levels):
    import pathlib
    p = pathlib.Path(path).resolve()
    for _ in range(levels):
        p = p.parent
    return p


def test_repository_url_is_kept_once():
    url = repository_url()
    assert url.startswith("https://github.com/")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert url in readme


# ---- learner first (DESIGN.md "Notebooks: learner first"): the shape a reader meets ----------

def _code_and_markdown(path):
    cells = _load(path)["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    return code, markdown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_outweighs_code_and_cells_are_short(path):
    code, markdown = _code_and_markdown(path)
    md_chars, code_chars = sum(map(len, markdown)), sum(map(len, code))
    assert md_chars > code_chars, f"Markdown/code = {md_chars / code_chars:.2f}"
    lengths = [len(src.splitlines()) for src in code]
    assert max(lengths) <= 40, f"longest code cell: {max(lengths)} lines"
    short = sum(n < 15 for n in lengths)
    assert short > len(lengths) / 2, f"only {short} of {len(lengths)} code cells are under 15 lines"


# What belongs in r1lib's figure layer or in the tests, never in a cell a learner reads.
PLUMBING = [r"BlitCanvas", r"\.set_position\(", r"set_layout_engine", r"\.set_ydata\(",
            r"\.set_data\(", r"^\s*class\s+\w+", r"\.exercise\(\)", r"\.timings\b",
            r"perf_counter", r"\bms\b.*median|median.*\bms\b", r"\w\._[a-z]\w*"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_plumbing_in_the_learners_path(path):
    code, _ = _code_and_markdown(path)
    for i, src in enumerate(code[1:], start=2):  # the set-up cell is checked on its own
        for pattern in PLUMBING:
            m = re.search(pattern, src, re.M)
            assert m is None, f"{path.name}, code cell {i}: {m.group(0)!r} ({pattern})"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_markdown_tables_render_outside_jupyterlab(path):
    """A `|` inside `$...$` in a table row splits the row in nbconvert (the site) and on GitHub,
    though JupyterLab renders it: write \\lvert x \\rvert, \\Vert or \\mid instead."""
    _, markdown = _code_and_markdown(path)
    for text in markdown:
        for line in text.splitlines():
            if not line.lstrip().startswith("|"):
                continue
            for math in re.findall(r"\$\$?(.+?)\$\$?", line):
                assert "|" not in math, f"{path.name}: table row with '|' inside math: {line.strip()[:100]}"

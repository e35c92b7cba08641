"""Pieces of tools/site/build.py that need no kernel and no browser: links made right for the
site, panels turned into HTML, images given their alt text, nested panels refused."""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "site"))
import build  # noqa: E402

REPO = "https://github.com/r1-math/r1-notebooks"
PAGES = {"notebooks/01_knowledge_distillation.ipynb": "01_knowledge_distillation.html",
         "notebooks/solutions/01_solutions.ipynb": "solutions/01_solutions.html",
         "notebooks": "index.html", "notebooks/solutions": "index.html#solutions"}


@pytest.mark.parametrize("text, source_dir, page_dir, expected", [
    # the README's link that went to a 404 on the index
    ("[`notebooks/solutions/`](notebooks/solutions)", "", "", "[`notebooks/solutions/`](index.html#solutions)"),
    ("see [sol](solutions/01_solutions.ipynb#x)", "notebooks", "", "see [sol](solutions/01_solutions.html#x)"),
    ("back to [01](../01_knowledge_distillation.ipynb)", "notebooks/solutions", "solutions",
     "back to [01](../01_knowledge_distillation.html)"),
    ('<a href="../01_knowledge_distillation.ipynb">01</a>', "notebooks/solutions", "solutions",
     '<a href="../01_knowledge_distillation.html">01</a>'),
    ("[tests](tests/ui/README.md)", "", "", f"[tests]({REPO}/blob/main/tests/ui/README.md)"),
    ("[r1lib](r1lib)", "", "", f"[r1lib]({REPO}/tree/main/r1lib)"),
    ("[web](https://example.org/a.ipynb) [here](#top)", "notebooks", "",
     "[web](https://example.org/a.ipynb) [here](#top)"),
])
def test_links_written_for_the_repository_work_on_the_site(text, source_dir, page_dir, expected):
    assert build.rewrite_links(text, source_dir, page_dir, PAGES, REPO) == expected


INDEX = {"name": "demo", "dir": "demo", "start": "1,0", "area_height": "300px", "width": 810, "height": 324,
         "controls": [{"key": "T", "kind": "range", "label": "temperature T", "labels": ["0.5", "1", "2"],
                       "values": [0.5, 1.0, 2.0], "start": 1, "total": 3},
                      {"key": "ties", "kind": "select", "label": "ties", "labels": ["split", "wrong"],
                       "values": ["split", "wrong"], "start": 0, "total": 2}],
         "frames": {"1,0": {"image": "abc.webp", "status": "T = <b>1</b>", "alt": "Plot: “T = 1”"}}}
LINKS = {"colab": "https://colab.example/nb", "binder": "https://binder.example/nb"}


def test_a_panel_becomes_plain_html_at_its_start():
    text = build.panel_html(INDEX, "frames/01/demo/", LINKS, "p1")
    assert 'class="r1-panel r1-panel-demo" data-r1-frames="frames/01/demo/"' in text
    assert re.search(r'<input id="p1-0" type="range" min="0" max="2" step="1" value="1"', text)
    assert "data-labels='[&quot;0.5&quot;, &quot;1&quot;, &quot;2&quot;]'" in text
    assert '<option value="0" selected>split</option><option value="1">wrong</option>' in text
    assert '<div class="r1-status" aria-live="polite">T = <b>1</b></div>' in text
    assert '<img src="frames/01/demo/abc.webp" alt="Plot: “T = 1”" width="810" height="324">' in text
    assert 'data-r1-colab="https://colab.example/nb"' in text and "hidden></p>" in text


def _notebook_with_outputs():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={build.WIDGET_VIEW: {"model_id": "m1"}, "text/plain": "VBox()"}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "Plot: “a”; x: t."}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure size 1x1>"},
                               metadata={"image/png": {"alt": "kept"}}),
    ]
    nb.cells.append(cell)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
        "m1": {"state": {"_dom_classes": ["r1-panel", "r1-panel-demo"]}}}}}
    return nb


def test_prepare_page_swaps_panels_fills_alt_text_and_drops_the_widget_state():
    nb = build.prepare_page(_notebook_with_outputs(), {"m1": INDEX}, "frames/01/", LINKS, "01")
    outs = nb.cells[0].outputs
    assert list(outs[0].data) == ["text/html"] and "frames/01/demo/abc.webp" in outs[0].data["text/html"]
    assert outs[1].metadata["image/png"]["alt"] == "Plot: “a”; x: t."
    assert outs[2].metadata["image/png"]["alt"] == "kept"
    assert "widgets" not in nb.metadata  # nothing left for the ipywidgets renderer


def test_a_panel_inside_another_widget_is_refused():
    nb = _notebook_with_outputs()
    nb.cells[0].outputs[0].data[build.WIDGET_VIEW]["model_id"] = "box"
    nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]["box"] = {
        "state": {"children": ["IPY_MODEL_m1"], "_dom_classes": []}}
    with pytest.raises(build.BuildError, match="inside another widget"):
        build.prepare_page(nb, {"m1": INDEX}, "frames/01/", LINKS, "01")


def test_the_recorder_cells_are_valid_python():
    for code in (build.PRELUDE, build.RECORD.replace("__MODEL__", "'m'").replace("__ROOT__", "'/tmp/x'")
                 .replace("__LIMIT__", "64").replace("__GRID__", "256").replace("__FORMAT__", "'webp'"),
                 build.SUMMARY.replace("__PATH__", "'/tmp/x.json'")):
        compile(code, "<site cell>", "exec")
    assert json.loads(json.dumps(build.displayed_widgets(_notebook_with_outputs()))) == ["m1"]

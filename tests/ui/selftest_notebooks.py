"""Two small notebooks the browser harness is checked against (built at test time, never stored).

``GOOD``: the conventions done right (set-up cell, two Panels with an IntSlider, a FloatSlider and
a FloatLogSlider, one slider starting at its maximum, enough Markdown to push the second panel far
below the first screen). The harness must report no problem on it.

``BAD``: one of each defect the harness exists to catch; each carries a marker that the
self-test expects to find in the harness's problem list.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for nbconventions
from nbconventions import setup_cell  # noqa: E402

GOOD_NAME = "zz_uitest_good.ipynb"
BAD_NAME = "zz_uitest_bad.ipynb"

_IMPORTS = """\
%matplotlib inline
import sys
import time
import warnings

import numpy as np
import ipywidgets as w
from IPython.display import display

import r1lib
from r1lib.figures.style import new_figure, use_style
from r1lib.figures.panels import Panel, float_slider, int_slider, log_slider

use_style()
logits = np.array([2.0, 1.0, 0.5, -0.5, -1.0])"""

_GOOD_PANEL = """\
def draw_softmax(T, n, shift):
    p = r1lib.softmax(logits[:n] + shift * np.arange(n), temperature=T)
    fig, ax = new_figure(width=6, height=2.6)
    ax.bar(np.arange(n), p, color="#0072B2")
    ax.set(xlabel="token", ylabel="probability", ylim=(0, 1), title=f"softmax at T = {T:.3g}")
    return fig, f"T = {T:.3g}, n = {n}, shift = {shift:.2f}, max p = {p.max():.3f}"

panel = Panel("softmax", {"T": log_slider("T", 1.0, 0.1, 20),
                          "n": int_slider("tokens", 4, 2, 5),
                          "shift": float_slider("shift", 0.0, -1.0, 1.0, 0.05)},
              draw_softmax, height="260px")
panel.show()"""

_GOOD_AT_MAX = """\
def draw_line(slope):
    fig, ax = new_figure(width=5, height=2.4)
    ax.plot([0, 1], [0, slope])
    ax.set(xlabel="x", ylabel="y", ylim=(0, 3), title=f"slope {slope}")
    return fig, f"slope = {slope}"

at_max = Panel("atmax", {"slope": int_slider("slope", 3, 0, 3)}, draw_line, height="240px")
at_max.show()"""

_GOOD_CHOICES = """\
def draw_choice(rule, mode, grid, label):
    fig, ax = new_figure(width=5, height=2.4)
    ax.plot([0, 1], [0, len(rule) + len(label)], ls="--" if mode == "dashed" else "-")
    ax.grid(grid)
    ax.set(xlabel="x", ylabel="y", title=f"{rule}, {mode}, {label}")
    return fig, f"rule = {rule}, mode = {mode}, grid = {grid}, label = {label!r}"

choices = Panel("choices", {"rule": w.Dropdown(options=["split", "wrong", "first"], value="split"),
                            "mode": w.ToggleButtons(options=["solid", "dashed"], value="solid"),
                            "grid": w.Checkbox(value=True, description="grid"),
                            "label": w.Text(value="run", continuous_update=False)},
                draw_choice, height="240px")
choices.show()"""

_GOOD_CHECK = """\
with warnings.catch_warnings():
    warnings.simplefilter("error")
    stats = panel.exercise()
print(f"{stats['updates']} updates, median {stats['median_ms']:.0f} ms")"""

_FILLER = "\n\n".join(f"Filler paragraph {i}: the next panel starts far below the first screen."
                      for i in range(40))

_BAD_PANELS = """\
def draw_raises(k):
    if k != 5:
        raise ValueError("bad-k: only 5 works")
    fig, ax = new_figure(width=4, height=2)
    ax.plot([0, k])
    return fig, f"k = {k}"

def draw_static(k):  # neither the figure nor the text depends on k
    fig, ax = new_figure(width=4, height=2)
    ax.plot([0, 1])
    return fig, "always the same"

def draw_warns(k):  # a warning printed to stderr inside the widget output
    warnings.warn(f"warned-in-widget k={k}")
    fig, ax = new_figure(width=4, height=2)
    ax.plot([0, k])
    return fig, f"k = {k}"

def draw_slow(k):
    if k != 5:
        time.sleep(1.3)
    fig, ax = new_figure(width=4, height=2)
    ax.plot([0, k])
    return fig, f"k = {k}"

def draw_tall(k):  # taller than its panel's figure area
    fig, ax = new_figure(width=4, height=4)
    ax.plot([0, k])
    return fig, f"k = {k}"

panels = [Panel(name, {"k": int_slider("k", 5, 0, 10)}, draw, height="200px")
          for name, draw in [("raises", draw_raises), ("static", draw_static),
                             ("warns", draw_warns), ("slow", draw_slow), ("tall", draw_tall)]]
display(*[p.show() for p in panels])"""

_BAD_LOOSE_SLIDER = """\
loose = w.IntSlider(value=1, min=0, max=3, description="loose")
loose"""

_BAD_STDERR = 'print("stderr-at-top-level", file=sys.stderr)'

_BAD_UNSHOWN = 'hidden = Panel("nevershown", {"k": int_slider("k", 1, 0, 3)}, draw_static)'

_BAD_RAISES = 'raise RuntimeError("cell-raises")'

_BAD_NEVER_RUNS = 'print("this cell never runs")'

BAD_MARKERS = {
    "callback raises": "callback error in panel 'raises' after changing 'k'",
    "traceback in widget": "widget output (cell 3, r1-panel-raises) shows an error",
    "figure unchanged": "panel 'static', slider 'k': moving it did not change the figure",
    "text unchanged": "panel 'static', slider 'k': moving it did not change the status text",
    "warning in widget": "warned-in-widget",
    "slow callback": "panel 'slow', slider 'k': action -> updated figure took",
    "figure cut off": "panel 'tall' (cell 3): the figure is cut off",
    "slider outside a Panel": "slider 'loose' is outside an r1 Panel",
    "stderr in a cell": "cell 5 wrote to stderr: 'stderr-at-top-level",
    "panel never shown": "panel 'nevershown' (controls ['k']) exists in the kernel but is not shown",
    "cell raises": "cell 7 raised RuntimeError: cell-raises",
    "cell never runs": "1 of 8 code cells did not finish, the first is cell 8",
}


def _notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(setup_cell()), nbformat.v4.new_code_cell(_IMPORTS)]
    for kind, source in cells:
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        nb.cells.append(make(source))
    return nb


def good() -> nbformat.NotebookNode:
    return _notebook([("md", "# Harness self-test: a good notebook"), ("code", _GOOD_PANEL),
                      ("code", _GOOD_CHECK), ("md", _FILLER), ("code", _GOOD_AT_MAX),
                      ("code", _GOOD_CHOICES)])


def bad() -> nbformat.NotebookNode:
    return _notebook([("md", "# Harness self-test: one of each defect"), ("code", _BAD_PANELS),
                      ("code", _BAD_LOOSE_SLIDER), ("code", _BAD_STDERR), ("code", _BAD_UNSHOWN),
                      ("code", _BAD_RAISES), ("code", _BAD_NEVER_RUNS)])


def write(folder: Path) -> list[str]:
    """Write both notebooks into ``folder``; returns their file names."""
    nbformat.write(good(), folder / GOOD_NAME)
    nbformat.write(bad(), folder / BAD_NAME)
    return [GOOD_NAME, BAD_NAME]

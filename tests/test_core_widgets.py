"""Panel: callbacks run on slider changes, record their time, and never swallow an exception."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from r1lib.figures import panels as widgets, style as plotting  # noqa: E402


def _draw_factory(calls):
    def draw(T, n):
        calls.append((T, n))
        if n == 13:
            raise ZeroDivisionError("unlucky n")
        fig, ax = plotting.new_figure()
        ax.plot([0, 1], [0, T])
        return fig, f"T = {T:.3g}, n = {n}"
    return draw


def test_panel_updates_and_records(capsys):
    calls = []
    panel = widgets.Panel("demo", {"T": widgets.log_slider("T", 1.0, 0.1, 20.0),
                                   "n": widgets.int_slider("n", 4, 1, 12)}, _draw_factory(calls))
    panel.show()
    panel.controls["T"].value = 2.0
    assert calls[-1] == (pytest.approx(2.0), 4)
    # the status line is the draw function's text, and nothing else (no timing for the learner)
    assert panel.status.value == "T = 2, n = 4"
    assert len(panel.timings) == 2 and all(t > 0 for t in panel.timings)
    stats = panel.exercise()
    # log slider min/max are the values themselves (0.1, 20), int slider 1 and 12
    seen_t = {round(t, 6) for t, _ in calls}
    assert {0.1, 20.0} <= seen_t and {1, 12} <= {n for _, n in calls}
    assert stats["updates"] >= 4 and stats["median_ms"] > 0
    assert panel in widgets.panels()
    assert "r1-panel-demo" in panel.widget._dom_classes
    assert "r1-slider" in panel.controls["T"]._dom_classes
    assert plt.get_fignums() == []  # figures are closed after display


def test_panel_errors_are_raised_and_recorded():
    calls = []
    panel = widgets.Panel("broken", {"T": widgets.float_slider("T", 1.0, 0.5, 2.0, 0.5),
                                     "n": widgets.int_slider("n", 4, 1, 20)}, _draw_factory(calls))
    panel.show()
    with pytest.raises(ZeroDivisionError):
        panel.controls["n"].value = 13
    assert len(panel.errors) == 1 and "error" in panel.status.value
    with pytest.raises(RuntimeError, match="broken"):
        panel.exercise()


def test_style_gives_white_backgrounds():
    plotting.use_style()
    assert matplotlib.rcParams["figure.facecolor"] == "white"
    assert matplotlib.rcParams["savefig.facecolor"] == "white"


def test_blit_canvas_redraws_only_the_dynamic_artists():
    import io

    import numpy as np
    from PIL import Image

    fig, ax = plotting.new_figure()
    ax.plot([0, 1], [0, 1], color="black")
    line, = ax.plot([0, 1], [1, 0], color="red")
    ax.set(xlim=(0, 1), ylim=(0, 1), title="static title")
    plotting.BlitCanvas(fig, [line])

    def png():
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")).astype(int)

    first = png()
    line.set_ydata([0.5, 0.5])
    second = png()
    red = (second[..., 0] > 200) & (second[..., 1] < 80) & (second[..., 2] < 80)
    rows = np.nonzero(red.any(axis=1))[0]
    assert rows.size and rows.max() - rows.min() < 10  # the red line is now horizontal
    assert (first != second).any()
    # the static parts (title area at the top) are pixel-identical
    np.testing.assert_array_equal(first[:20], second[:20])

"""What the reading site is built from, without a browser: a panel's positions and recorded frames
(r1lib.figures.panels), a figure's words and series (r1lib.figures.describe) and the colour-blind
check (r1lib.figures.style).

Checked against values computed here: the positions of a slider from its min, max and step; the
combinations from the issue's rule; the frames' pixels against the panel's own PNG (the WebP is
lossless); CIELAB of sRGB red from its published value; dichromat simulations that keep greys
grey and fold matplotlib's red onto its green; alt text assembled from a figure built here.
"""
from __future__ import annotations

import io
import json
import math

import matplotlib

matplotlib.use("Agg")

import ipywidgets as w  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings, strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from r1lib.figures import describe, panels, style  # noqa: E402


# ------------------------------------------------------------------------------ positions

def test_int_and_float_sliders_give_every_step():
    p = panels.control_positions(panels.int_slider("k", 3, 1, 8))
    assert (p.kind, p.values, p.start, p.total) == ("range", [1, 2, 3, 4, 5, 6, 7, 8], 2, 8)
    p = panels.control_positions(panels.float_slider("ε", 0.2, 0.05, 0.5, 0.05))
    assert p.values == [round(0.05 * i, 10) for i in range(1, 11)]  # no 0.30000000000000004
    assert p.labels[p.start] == "0.20" and p.values[p.start] == 0.2
    # a start value between two steps is a position of its own
    p = panels.control_positions(panels.float_slider("x", 0.33, 0.0, 1.0, 0.25))
    assert p.values == [0.0, 0.25, 0.33, 0.5, 0.75, 1.0] and p.start == 2


def test_log_slider_positions_are_powers_of_its_base():
    p = panels.control_positions(panels.log_slider("T", 1.0, 0.1, 20, step=0.05))
    exponents = [math.log10(v) for v in p.values]
    assert exponents[0] == pytest.approx(-1) and np.allclose(np.diff(exponents), 0.05)
    assert p.values[p.start] == 1.0 and len(p.values) == 47  # -1 .. 1.3; log10(20) = 1.301 is the same picture
    p = panels.control_positions(panels.log_slider("n", 1000, 10, 100_000, step=0.1))
    assert len(p.values) == 41 and p.values[-1] == pytest.approx(1e5)


def test_option_controls_give_every_option():
    d = w.Dropdown(options=[("split ties", "split"), ("count as wrong", "wrong")], value="wrong", description="ties")
    p = panels.control_positions(d)
    assert (p.kind, p.values, p.labels, p.start) == ("select", ["split", "wrong"], ["split ties", "count as wrong"], 1)
    t = w.ToggleButtons(options=["solid", "dashed", "dotted"], value="dashed")
    assert panels.control_positions(t).kind == "toggle" and panels.control_positions(t).start == 1
    s = w.SelectionSlider(options=[0.0, 0.04, 0.2], value=0.04)
    assert panels.control_positions(s).kind == "range" and panels.control_positions(s).values == [0.0, 0.04, 0.2]
    c = panels.control_positions(w.Checkbox(value=True, description="grid"))
    assert (c.kind, c.values, c.start) == ("checkbox", [False, True], 1)
    assert panels.control_positions(w.Text(value="1/2")).kind == "text"
    assert panels.control_positions(w.Textarea(value="a\nb")).values == ["a\nb"]


@settings(max_examples=200, deadline=None)
@given(st.integers(2, 400), st.data(), st.integers(3, 64))
def test_subsample_keeps_both_ends_the_start_and_an_even_stride(n, data, limit):
    start = data.draw(st.integers(0, n - 1))
    keep = panels._subsample(n, start, limit)
    assert len(keep) <= limit and keep == sorted(set(keep))
    assert {0, n - 1, start} <= set(keep)
    inner = [i for i in keep if i not in (0, n - 1)]
    steps = set(np.diff(inner)) if len(inner) > 1 else set()
    assert len(steps) <= 1  # one stride between the kept positions (ends aside)
    if n <= limit:
        assert panels.control_positions(panels.int_slider("k", 1 + start, 1, n)).values == list(range(1, n + 1))


def test_long_slider_is_subsampled_to_the_limit():
    p = panels.control_positions(panels.float_slider("β", 0.04, 0.0, 1.0, 0.01), limit=64)
    assert p.total == 101 and len(p.values) <= 64
    assert p.values[0] == 0.0 and p.values[-1] == 1.0 and p.values[p.start] == 0.04


def test_combinations_follow_the_issue_rule():
    a, b = panels.control_positions(panels.int_slider("a", 2, 1, 16)), panels.control_positions(panels.int_slider("b", 1, 1, 16))
    mode, combos = panels.frame_combinations([a, b], grid_limit=256)
    assert mode == "grid" and len(combos) == 256 and combos[0] == (1, 0) and len(set(combos)) == 256
    c = panels.control_positions(panels.int_slider("c", 5, 1, 17))
    mode, combos = panels.frame_combinations([a, c], grid_limit=256)  # 16 x 17 = 272 > 256
    assert mode == "sweep" and combos[0] == (1, 4)
    assert len(combos) == 1 + 15 + 16 and len(set(combos)) == len(combos)
    assert all(x == 1 or y == 4 for x, y in combos)


# ------------------------------------------------------------------------------ recording

def _line_panel(calls=None):
    def draw(slope, shift, style_):
        if calls is not None:
            calls.append((slope, shift, style_))
        fig, ax = style.new_figure(width=4, height=2.5)
        ax.plot([0, 1], [shift, shift + slope], ls=style_, color=style.COLORS["teacher"], label="line")
        ax.set(title=f"slope {slope}", xlabel="x", ylabel="y")
        ax.legend()
        return fig, f"slope = {slope}, shift = {shift}"
    return panels.Panel("line", {"slope": panels.int_slider("slope", 1, 0, 3),
                                 "shift": panels.float_slider("shift", 0.0, 0.0, 1.0, 0.5),
                                 "style_": w.ToggleButtons(options=["-", "--"], value="-")}, draw)


def _pixels(data: bytes):
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def test_record_frames_writes_the_panels_own_pictures(tmp_path):
    calls = []
    panel = _line_panel(calls)
    index = panels.record_frames(panel, tmp_path, grid_limit=256)
    assert index["mode"] == "grid" and len(index["frames"]) == 4 * 3 * 2
    assert index["deterministic"] and index["start"] == "1,0,0"
    assert json.loads((tmp_path / "index.json").read_text())["frames"] == index["frames"]
    assert panel.values() == {"slope": 1, "shift": 0.0, "style_": "-"}  # the controls were not moved
    for key, frame in index["frames"].items():
        i, j, k = map(int, key.split(","))
        values = dict(slope=[0, 1, 2, 3][i], shift=[0.0, 0.5, 1.0][j], style_=["-", "--"][k])
        own = panel.render(**values)
        assert frame["status"] == own.status == f"slope = {values['slope']}, shift = {values['shift']}"
        assert frame["alt"] == own.alt and f"“slope {values['slope']}”" in frame["alt"]
        # lossless: the file holds exactly the pixels the notebook's panel shows
        assert np.array_equal(_pixels((tmp_path / frame["image"]).read_bytes()), _pixels(own.png))
    assert plt.get_fignums() == []


def test_identical_frames_share_one_file_and_a_sweep_stays_a_sweep(tmp_path):
    def draw(a, b):  # ignores b: every b gives the same picture
        fig, ax = style.new_figure(width=3, height=2)
        ax.bar(["x"], [a])
        return fig, f"a = {a}"
    panel = panels.Panel("flat", {"a": panels.int_slider("a", 2, 1, 20), "b": panels.int_slider("b", 1, 1, 20)}, draw)
    index = panels.record_frames(panel, tmp_path, grid_limit=100)
    assert index["mode"] == "sweep" and len(index["frames"]) == 1 + 19 + 19
    assert index["files"] == 20  # one per value of a
    assert len({p.name for p in tmp_path.iterdir()} - {"index.json"}) == 20


def test_a_panel_whose_picture_depends_on_its_history_is_flagged(tmp_path):
    count = [0]

    def draw(a):
        count[0] += 1
        fig, ax = style.new_figure(width=3, height=2)
        ax.set_title(f"drawn {count[0]} times")
        return fig, str(a)
    panel = panels.Panel("history", {"a": panels.int_slider("a", 1, 1, 3)}, draw)
    assert panels.record_frames(panel, tmp_path)["deterministic"] is False


def test_update_shows_the_figure_with_its_alt_text(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append(obj))
    panel = _line_panel()
    panel.show()
    assert shown[-1].alt.startswith("Plot: “slope 1”; x: x; y: y; series: line")
    assert shown[-1]._repr_png_()[1]["alt"] == shown[-1].alt  # what the notebook stores
    panel.controls["slope"].value = 3
    assert "“slope 3”" in shown[-1].alt and shown[-1].data == panel.render().png


# ------------------------------------------------------------------------------ words

def test_describe_names_titles_axes_series_and_categories():
    style.use_style()
    fig, (left, right) = plt.subplots(1, 2)
    left.bar(["cat", "dog"], [0.3, 0.7], label="teacher")
    left.set(title="Soft labels at $T = 2$", ylabel="probability")
    left.legend()
    right.plot([1, 2], [3, 4], label=r"$T^2\,KL(p_t\|p_s)$")
    right.plot([1, 2], [4, 3], label="_hidden")
    right.set(xlabel=r"temperature $\tau$", ylabel="loss", xscale="log")
    fig.suptitle("Two views")
    words = describe.describe_figure(fig)
    plt.close(fig)
    assert words == ("Figure “Two views”. Two plots. Left: “Soft labels at T = 2”; x: categories (cat, dog); "
                     "y: probability; series: teacher. Right: x: temperature τ; y: loss; series: T² KL(p_t‖p_s).")


def test_describe_names_fixed_tick_words_on_either_axis_and_legend_titles():
    # set_xticks(ticks, labels) (a FixedLocator with a FuncFormatter in matplotlib >= 3.5) and a
    # horizontal bar chart's categories are what the bars are: the alt text must name them.
    fig, (left, right) = plt.subplots(1, 2)
    left.barh(["dropped", "kept, right"], [1, 3])  # drawn bottom up, read top down
    left.set_xlabel("outputs")
    right.bar(range(3), [1, 2, 3], label="pass@1")
    right.set_xticks(range(3), ["base", "student-\nsft", "r1"], fontsize=8)
    right.set_yticks([0, 1.5, 3], ["0", "1.5", "3"])  # numbers: not categories
    right.set_ylabel("pass@1 (%)")
    right.legend(title="advantage $A = +1$")
    words = describe.describe_figure(fig)
    plt.close(fig)
    assert words == ("Two plots. Left: x: outputs; y: categories (kept, right; dropped). Right: x: categories "
                     "(base, student-sft, r1); y: pass@1 (%); legend “advantage A = +1”; series: pass@1.")


def test_describe_lists_plots_in_reading_order_whatever_the_axes_order():
    fig = plt.figure()
    lower = fig.add_axes([0.1, 0.1, 0.8, 0.3])
    upper = fig.add_axes([0.2, 0.6, 0.7, 0.3])
    lower.set_title("below")
    upper.set_title("above")
    assert describe.describe_figure(fig) == "Two plots. Top: “above”. Bottom: “below”."
    plt.close(fig)
    # a short plot left of a taller block of text (notebook 07's training-step panel): left, right
    fig = plt.figure()
    text = fig.add_axes([0.34, 0.04, 0.65, 0.84])
    plot = fig.add_axes([0.06, 0.14, 0.25, 0.66])
    text.set_axis_off()
    text.text(0, 1, "completions")
    plot.set_xlabel("GRPO step")
    assert describe.describe_figure(fig) == "Two plots. Left: x: GRPO step. Right: text “completions”."
    plt.close(fig)
    # three plots: rows from the top, left to right within a row
    fig = plt.figure()
    for title, box in (("c", [0.1, 0.1, 0.8, 0.3]), ("b", [0.55, 0.6, 0.4, 0.3]), ("a", [0.1, 0.6, 0.4, 0.3])):
        fig.add_axes(box).set_title(title)
    assert describe.describe_figure(fig) == "Three plots. Plot 1: “a”. Plot 2: “b”. Plot 3: “c”."
    plt.close(fig)


def test_describe_colour_bars_images_and_grids():
    fig, axes = plt.subplots(2, 2)
    im = axes[0, 0].imshow(np.eye(3), cmap="viridis")
    fig.colorbar(im, ax=axes[0, 0], label="accuracy (%)")
    for ax in axes.flat[1:]:
        ax.plot([0, 1])
        ax.set_title("same")
    words = describe.describe_figure(fig)
    plt.close(fig)
    assert words.startswith("Four plots. Plot 1: an image. Plot 2: “same”")
    assert words.endswith("Colour scale: accuracy (%).")


def test_a_plot_made_of_text_is_described_by_its_text():
    fig, ax = plt.subplots()
    ax.set_axis_off()
    ax.text(0.1, 0.9, "raw output")
    ax.text(0.1, 0.5, "The answer is $\\frac{1}{2}$")
    ax.text(0.5, 0.5, " ")
    words = describe.describe_figure(fig)
    plt.close(fig)
    assert words == "Plot: text “raw output · The answer is (1)/(2)”."


def test_series_colours_are_what_the_reader_sees():
    fig, ax = plt.subplots()
    ax.plot([0, 1], color="#0072B2", label="a")
    ax.plot([0, 1], "o", color="#D55E00", mfc="none", label="b")
    ax.fill_between([0, 1], 0, 1, color="#000000", alpha=0.25, label="band")
    ax.scatter([0, 1], [0, 1], c=[0.1, 0.9])  # colour-mapped: a colour scale, not series
    series = describe.figure_series(fig)
    plt.close(fig)
    got = {(s["label"], s["kind"], s["colour"]) for s in series}
    assert {s["alpha"] for s in series} == {1.0, 0.25}
    assert ("a", "line -", "#0072b2") in got and ("b", "marker o", "#d55e00") in got
    assert ("band", "area", "#bfbfbf") in got  # 25% black over white
    assert len(series) == 3


# ------------------------------------------------------------------------------ colour vision

def test_lab_and_distance_match_published_values():
    # CIELAB (D65) of sRGB red is (53.24, 80.09, 67.20); white is (100, 0, 0)
    assert np.allclose(style._lab(style._linear_rgb("#FF0000")), [53.24, 80.09, 67.20], atol=0.02)
    assert np.allclose(style._lab(style._linear_rgb("#FFFFFF")), [100, 0, 0], atol=1e-3)
    assert style.colour_distance("#FF0000", "#FFFFFF") == pytest.approx(math.hypot(46.76, 80.09, 67.20), abs=0.05)


@pytest.mark.parametrize("deficiency", ["protanopia", "deuteranopia", "tritanopia"])
def test_simulations_keep_greys_grey(deficiency):
    for grey in ("#000000", "#777777", "#FFFFFF"):
        assert style.colour_distance(grey, grey, deficiency) == 0
        assert np.allclose(style.simulate_colour_vision(grey, deficiency), style._linear_rgb(grey), atol=1e-5)


def test_red_green_pairs_are_caught_and_okabe_ito_passes():
    lines = lambda *cs: [{"kind": "line -", "colour": c, "label": c} for c in cs]  # noqa: E731
    caught = style.colour_blind_conflicts(lines("tab:red", "tab:green"))
    assert len(caught) == 1 and caught[0]["deficiency"] == "deuteranopia" and caught[0]["normal"] > 100
    assert style.colour_blind_conflicts(lines("tab:orange", "tab:green"))[0]["deficiency"] == "protanopia"
    assert style.colour_blind_conflicts(lines(*style.OKABE_ITO)) == []
    assert style.colour_blind_conflicts(lines(*style.CYCLE)) == []
    # told apart by something else than colour: no conflict
    assert style.colour_blind_conflicts([{"kind": "line -", "colour": "tab:red"},
                                         {"kind": "line --", "colour": "tab:green"}]) == []
    # one series (a legend key and its bars), and faded context (single runs behind a mean)
    assert style.colour_blind_conflicts([{"kind": "area", "colour": "tab:red", "label": "p"},
                                         {"kind": "area", "colour": "tab:green", "label": "p"}]) == []
    assert style.colour_blind_conflicts([{"kind": "line -", "colour": "tab:red", "alpha": 0.25},
                                         {"kind": "line -", "colour": "tab:green", "alpha": 0.25}]) == []
    # the house palette: every named colour apart from every other for both dichromats
    assert style.colour_blind_conflicts(lines(*style.COLORS.values())) == []


def test_use_style_cycles_through_okabe_ito():
    style.use_style()
    cycle = [c["color"] for c in matplotlib.rcParams["axes.prop_cycle"]]
    assert set(c.upper() for c in cycle) == set(style.OKABE_ITO)


def test_bad_deficiency_is_named():
    with pytest.raises(ValueError, match="deficiency"):
        style.simulate_colour_vision("#000000", "red-green")

"""Notebook 01's figure layer (r1lib.figures.distillation): each view's update changes what it
should (checked against the formulas, recomputed here from scratch) and leaves the rest alone;
every control works at its extremes without a warning; callbacks stay under 100 ms of CPU time (median); the
static figures plot what their docstrings say. Also the lab's two-mode teacher they draw."""
from __future__ import annotations

import math
import statistics
import warnings

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from figtools import left_of_axes, pixels  # noqa: E402
from r1lib import distill_train as dt  # noqa: E402
from r1lib.figures import distillation as fd  # noqa: E402

BUDGET_MS = 100.0
CLASSES = ("dog", "wolf", "cat", "bird", "truck", "banana")
Z_DOG = np.array([6.0, 4.0, 2.5, 0.5, -1.5, -3.0])
Z_STUDENT = np.array([4.5, 5.0, 1.0, 1.5, -0.5, -1.0])


def softmax(z, T=1.0):
    """The formula, written here: exp(z/T - max) / sum."""
    a = np.asarray(z, dtype=float) / T
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def kl(p, q):
    """sum p log(p/q) over the last axis, 0 log 0 = 0."""
    p, q = np.broadcast_arrays(p, q)
    safe = np.where(p > 0, p, 1.0)
    with np.errstate(divide="ignore"):  # q = 0 < p: the divergence is +inf, as it should be
        return np.sum(np.where(p > 0, p * (np.log(safe) - np.log(np.where(p > 0, q, 1.0))), 0.0), axis=-1)


def _exercise(panel, passes=3):
    """Every control to its extremes and back, ``passes`` times, warnings as errors; the times."""
    times = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(passes):
            before = len(panel.cpu_timings)
            panel.exercise()
            times.extend(panel.cpu_timings[before:])
    assert not panel.errors, panel.errors
    return times


MEDIANS_MS = {}


def _speed(name, panel, n_updates):
    times = _exercise(panel)
    assert len(times) == n_updates
    MEDIANS_MS[name] = 1000 * statistics.median(times)
    print(f"\n{name} panel: {len(times)} updates, median {MEDIANS_MS[name]:.1f} ms, max {1000 * max(times):.1f} ms")
    assert MEDIANS_MS[name] < BUDGET_MS


# ---- the lab's two-mode teacher ----------------------------------------------------------------

def test_two_mode_gaussian_is_the_normalised_mixture():
    x = np.linspace(-10, 10, 121)
    for s, w in ((6.0, 0.6), (0.0, 0.5), (3.5, 0.9)):
        dens = w * np.exp(-0.5 * (x + s / 2) ** 2) + (1 - w) * np.exp(-0.5 * (x - s / 2) ** 2)
        assert np.allclose(dt.two_mode_gaussian(x, s, w), dens / dens.sum(), rtol=1e-12, atol=1e-300)
    far = dt.two_mode_gaussian(np.linspace(-60, 60, 7), 2.0, 0.5)  # e^-900: tiny, exact, no NaN
    assert np.all(np.isfinite(far)) and far[0] == far[-1] and math.isclose(far.sum(), 1.0)


@pytest.mark.parametrize("args, exc, match", [
    ((np.linspace(0, 1, 5), -1.0, 0.5), ValueError, "separation"),
    ((np.linspace(0, 1, 5), 1.0, 0.0), ValueError, "weight"),
    ((np.linspace(0, 1, 5), 1.0, 1.0), ValueError, "weight"),
    ((np.linspace(0, 1, 5), 1.0, "half"), TypeError, "weight"),
    ((np.zeros((2, 3)), 1.0, 0.5), ValueError, "support"),
    ((np.linspace(0, 1, 5), float("nan"), 0.5), ValueError, "separation"),
])
def test_two_mode_gaussian_rejects_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        dt.two_mode_gaussian(*args)


# ---- section 1: temperature --------------------------------------------------------------------

def test_temperature_view_update_moves_bars_labels_title_and_dot_only():
    panel = fd.temperature_panel(Z_DOG, CLASSES)
    view = panel.view
    first = pixels(view.fig)
    curve = view.fig.axes[1].lines[0].get_ydata().copy()
    _, status = view.draw(5.0)
    p = softmax(Z_DOG, 5.0)
    assert np.allclose([b.get_height() for b in view.bars], p, rtol=1e-12)
    assert [t.get_text() for t in view.labels] == [f"{q:.2f}" for q in p]
    H = -np.sum(p * np.log(p))
    assert view.dot.get_xdata()[0] == 5.0 and view.dot.get_ydata()[0] == pytest.approx(H, rel=1e-12)
    assert view.title.get_text() == "Teacher's soft labels at T = 5"
    assert f"p(wolf)/p(banana) = {math.exp(7.0 / 5.0):.3g}" in status and f"H = {H:.3f}" in status
    assert np.array_equal(view.fig.axes[1].lines[0].get_ydata(), curve)  # the entropy curve is static
    moved = pixels(view.fig)
    assert not np.array_equal(first, moved)
    assert np.array_equal(left_of_axes(view.fig, first), left_of_axes(view.fig, moved))
    view.draw(1.0)
    assert np.array_equal(pixels(view.fig), first)  # back to the start: the same picture


def test_temperature_view_entropy_curve_rises_from_0_to_log_K():
    view = fd.temperature_panel(Z_DOG, CLASSES).view
    h = view.h_curve
    assert np.all(np.diff(h) > 0) and h[0] < 1e-10 and abs(h[-1] - math.log(6)) < 1e-3


def test_temperature_panel_rejects_mismatched_class_names():
    with pytest.raises(ValueError, match="classes"):
        fd.temperature_panel(Z_DOG, CLASSES[:5])


def test_temperature_panel_extremes_and_speed():
    _speed("temperature", fd.temperature_panel(Z_DOG, CLASSES), n_updates=9)


def test_temperature_sweep_figure_plots_every_class():
    fig = fd.temperature_sweep_figure(Z_DOG, CLASSES)
    lines = fig.axes[0].lines[: len(CLASSES)]
    T = lines[0].get_xdata()
    expected = softmax(Z_DOG[None, :] / T[:, None])
    for i, line in enumerate(lines):
        assert line.get_label() == CLASSES[i]
        assert np.allclose(line.get_ydata(), expected[:, i], rtol=1e-9, atol=1e-300)
    matplotlib.pyplot.close(fig)


# ---- section 2: forward versus reverse KL --------------------------------------------------------

@pytest.fixture(scope="module")
def family():
    return dt.GaussianFamily(np.linspace(-10, 10, 121), np.linspace(-6, 6, 61), np.geomspace(0.4, 8, 30))


def test_modes_view_update_shows_the_brute_force_fits(family):
    view = fd.modes_panel(family).view
    first = pixels(view.fig)
    _, status = view.draw(4.0, 0.7)
    x = family.support
    dens = 0.7 * np.exp(-0.5 * (x + 2) ** 2) + 0.3 * np.exp(-0.5 * (x - 2) ** 2)
    p = dens / dens.sum()
    assert np.allclose(view.teacher.get_xy()[1:-2, 1], p, rtol=1e-12)
    # every candidate, from scratch: q[m, s] on the grid; both divergences; the best of each
    q = np.exp(-0.5 * ((x - family.means[:, None, None]) / family.stds[None, :, None]) ** 2)
    q /= q.sum(-1, keepdims=True)
    for direction, line, kl_line in (("forward", view.fwd, view.kl_fwd), ("reverse", view.rev, view.kl_rev)):
        div = kl(p, q) if direction == "forward" else kl(q, p)
        i, j = np.unravel_index(np.argmin(div), div.shape)
        assert np.allclose(line.get_ydata(), q[i, j], rtol=1e-9, atol=1e-300)
        assert np.allclose(kl_line.get_ydata(), div.min(axis=1), rtol=1e-9)
        assert f"mean {family.means[i]:+.1f}, std {family.stds[j]:.2f}" in status
    assert [ax.get_ylim() for ax in view.fig.axes] == [ax.get_ylim() for ax in fd.modes_panel(family).view.fig.axes]
    moved = pixels(view.fig)
    assert not np.array_equal(first, moved)
    assert np.array_equal(left_of_axes(view.fig, first), left_of_axes(view.fig, moved))
    view.draw(6.0, 0.6)
    assert np.array_equal(pixels(view.fig), first)


def test_modes_view_curves_never_reach_the_static_legends(family):
    """The legends are drawn once, under the moving curves: no slider position may put a curve
    point inside a legend's box."""
    view = fd.modes_panel(family).view
    view.fig.canvas.draw()
    boxes = [(view.fig.axes[0], view.legend), (view.fig.axes[1], view.legend_kl)]
    boxes = [(ax, legend.get_window_extent().transformed(ax.transData.inverted())) for ax, legend in boxes]
    lines = {view.fig.axes[0]: (view.fwd, view.rev), view.fig.axes[1]: (view.kl_fwd, view.kl_rev)}
    for separation in np.arange(0.0, 8.01, 0.5):
        for weight in np.arange(0.5, 0.901, 0.05):
            view.draw(separation, weight)
            x = family.support
            curves = [(x, view.teacher.get_xy()[1:-2, 1])]
            for ax, box in boxes:
                for xs, ys in curves * (ax is view.fig.axes[0]) + [(ln.get_xdata(), ln.get_ydata()) for ln in lines[ax]]:
                    inside = (xs > box.x0) & (xs < box.x1) & (ys > box.y0) & (ys < box.y1)
                    assert not inside.any(), (separation, weight, xs[inside][:3], ys[inside][:3])


def test_modes_panel_extremes_and_speed(family):
    _speed("modes", fd.modes_panel(family), n_updates=18)


# ---- section 3: the gradient -----------------------------------------------------------------

def test_gradient_view_update_moves_the_T2_bars_and_dots_only():
    view = fd.gradient_panel(Z_DOG, Z_STUDENT, CLASSES, hard_label=0).view
    ax = view.fig.axes[0]
    lm_bars = [b for b in ax.patches if b not in view.bars]
    lm_heights = [b.get_height() for b in lm_bars]
    d = Z_STUDENT - Z_DOG
    assert np.allclose(lm_heights, (d - d.mean()) / 6, rtol=1e-12)  # logit matching: static
    first = pixels(view.fig)
    _, status = view.draw(3.0)
    g = 3.0 * (softmax(Z_STUDENT, 3.0) - softmax(Z_DOG, 3.0))
    assert np.allclose([b.get_height() for b in view.bars], g, rtol=1e-12, atol=1e-15)
    n = np.linalg.norm(g)
    assert np.allclose(view.dots.get_xdata(), [3.0, 3.0]) and np.allclose(view.dots.get_ydata(), [n, n / 9])
    assert view.title.get_text() == "Gradient of the distillation loss at T = 3"
    assert f"gradient norm of T² KL {n:.3g}" in status
    assert [b.get_height() for b in lm_bars] == lm_heights
    ce = np.linalg.norm(softmax(Z_STUDENT) - np.eye(6)[0]) / 1  # one example: (p - e_y) / N, N = 1
    assert f"of hard-label CE {ce:.3g}" in status
    lim = ax.get_ylim()  # one fixed scale that fits every T of the curves
    assert max(abs(b.get_height()) for b in view.bars) < lim[1] and lim[0] == -lim[1]
    moved = pixels(view.fig)
    assert not np.array_equal(first, moved)
    assert np.array_equal(left_of_axes(view.fig, first), left_of_axes(view.fig, moved))


def test_gradient_panel_extremes_and_speed():
    _speed("gradient", fd.gradient_panel(Z_DOG, Z_STUDENT, CLASSES, hard_label=0), n_updates=9)


def test_gradient_scaling_figure_has_slope_minus_two_and_the_logit_matching_limit():
    fig = fd.gradient_scaling_figure(Z_DOG, Z_STUDENT, hard_label=0)
    ax, ax2 = fig.axes
    T, t2 = ax.lines[0].get_xdata(), ax.lines[0].get_ydata()
    plain = ax.lines[1].get_ydata()
    assert np.allclose(plain, t2 / T**2, rtol=1e-12)
    high = T > 30
    assert np.polyfit(np.log(T[high]), np.log(plain[high]), 1)[0] == pytest.approx(-2, abs=0.02)
    d = Z_DOG - Z_STUDENT
    limit = np.mean((d - d.mean()) ** 2) / 2
    assert ax2.lines[2].get_ydata()[0] == pytest.approx(limit, rel=1e-12)
    assert ax2.lines[0].get_ydata()[-1] == pytest.approx(limit, rel=1e-2)
    matplotlib.pyplot.close(fig)


# ---- section 4: the digits experiment ------------------------------------------------------------

@pytest.fixture(scope="module")
def grid():
    """A StudentComparison with known accuracies (nothing trained): kd[i, j, r] = 0.7 + 0.01 i +
    0.02 j + 0.005 r."""
    Ts, As, R = 2.0 ** np.arange(-1, 5), np.array([0.0, 0.25, 0.5, 0.75, 1.0]), 4
    kd = 0.7 + 0.01 * np.arange(6)[:, None, None] + 0.02 * np.arange(5)[None, :, None] + 0.005 * np.arange(R)
    return dt.StudentComparison(n_transfer=50, temperatures=Ts, alphas=As, hard=np.full(R, 0.74),
                                sampled=np.full(R, 0.73), kd=kd, n_parameters=610)


def test_kd_grid_view_update_moves_box_curve_bars_and_dot(grid):
    view = fd.kd_grid_panel(grid, 0.978).view
    first = pixels(view.fig)
    _, status = view.draw(3.1, 0.8)  # nearest in log T: 4 (index 3); nearest alpha: 0.75 (index 3)
    assert view.box.get_xy() == (2.5, 2.5)
    m = grid.kd[:, 3].mean(-1)
    se = grid.kd[:, 3].std(-1, ddof=1) / 2
    assert np.allclose(view.curve.get_ydata(), m, rtol=1e-12)
    segs = view.bars.get_segments()
    assert np.allclose([s[0][1] for s in segs], m - se) and np.allclose([s[1][1] for s in segs], m + se)
    assert view.dot.get_xdata()[0] == 4.0 and view.dot.get_ydata()[0] == pytest.approx(m[3])
    assert view.title.get_text() == "Accuracy versus T at α = 0.75"
    assert status.startswith(f"T = 4, α = 0.75: KD student {m[3]:.1%}")
    moved = pixels(view.fig)
    assert not np.array_equal(first, moved)
    assert np.array_equal(left_of_axes(view.fig, first), left_of_axes(view.fig, moved))
    view.draw(8.0, 0.5)
    assert np.array_equal(pixels(view.fig), first)


def test_kd_grid_panel_sliders_span_the_grid_and_extremes_and_speed(grid):
    panel = fd.kd_grid_panel(grid, 0.978)
    T, a = panel.controls["T"], panel.controls["alpha"]
    assert (T.base ** T.min, T.base ** T.max) == (0.5, 16.0) and (a.min, a.max, a.step) == (0.0, 1.0, 0.25)
    _speed("kd_grid", panel, n_updates=18)


def test_transfer_size_figure_plots_means_and_standard_errors():
    sizes = np.array([25, 50, 100])
    acc = np.array([[0.6, 0.62, 0.64], [0.7, 0.71, 0.75], [0.8, 0.8, 0.83]])
    fig = fd.transfer_size_figure(sizes, {"hard labels": acc}, 0.97, reference=("only 50", 0.71))
    ax = fig.axes[0]
    assert np.allclose(ax.lines[0].get_ydata(), acc.mean(1))
    labels = ax.get_legend_handles_labels()[1]
    assert sorted(labels) == sorted(["teacher (97.0%)", "only 50", "hard labels"])
    bars = [c for c in ax.collections if len(c.get_segments()) == 3][0].get_segments()
    se = acc.std(1, ddof=1) / math.sqrt(3)
    assert np.allclose([s[1][1] - s[0][1] for s in bars], 2 * se)
    matplotlib.pyplot.close(fig)


def test_rejection_figure_counts_kept_and_dropped_per_class():
    samples = np.array([[[0, 0, 1], [1, 2, 1], [2, 2, 2]]])  # 1 repeat, 3 images, 3 samples each
    gold = np.array([[0, 1, 2]])
    fig = fd.rejection_figure(samples, gold, {"all": [0.6, 0.7], "kept": [0.8, 0.9]})
    ax, ax_r = fig.axes
    kept_bars, dropped_bars = ax.patches[:3], ax.patches[3:6]
    assert [b.get_height() for b in kept_bars] == [2, 2, 3]
    assert [b.get_height() for b in dropped_bars] == [1, 1, 0]
    assert ax.get_legend_handles_labels()[1] == ["kept (correct): 7", "dropped (wrong): 2"]
    assert [b.get_height() for b in ax_r.patches] == pytest.approx([0.65, 0.85])
    matplotlib.pyplot.close(fig)


def test_soft_labels_figure_draws_both_temperatures():
    images = np.zeros((2, 8, 8))
    z = np.array([[3.0, 1.0, 0.0], [0.0, 0.5, 2.0]])
    fig = fd.soft_labels_figure(images, z, [0, 2], temperatures=(1.0, 4.0))
    for col in range(2):
        ax = [a for a in fig.axes if a.patches][col]  # the bar charts, left to right
        heights = [b.get_height() for b in ax.patches]
        assert np.allclose(heights, np.r_[softmax(z[col], 1.0), softmax(z[col], 4.0)])
    assert "gold label 2" in [a.get_title() for a in fig.axes]
    matplotlib.pyplot.close(fig)


# ---- any slider value: the views draw the formulas -------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def views():
    return (fd.temperature_panel(Z_DOG, CLASSES).view,
            fd.gradient_panel(Z_DOG, Z_STUDENT, CLASSES, hard_label=0).view)


@settings(max_examples=40, deadline=None)
@given(T=st.floats(min_value=0.1, max_value=20.0))
def test_views_draw_the_formulas_at_any_temperature(views, T):
    temperature, gradient = views
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        temperature.draw(T)
        gradient.draw(T)
    p = np.array([b.get_height() for b in temperature.bars])
    assert math.isclose(p.sum(), 1.0, rel_tol=1e-12) and np.allclose(p, softmax(Z_DOG, T), rtol=1e-12)
    assert np.all(np.diff(p) < 0)  # the order of the logits, at every T
    g = np.array([b.get_height() for b in gradient.bars])
    assert abs(g.sum()) < 1e-12 and np.allclose(g, T * (softmax(Z_STUDENT, T) - softmax(Z_DOG, T)), atol=1e-15)
    lo, hi = gradient.fig.axes[0].get_ylim()
    assert lo < g.min() and g.max() < hi  # inside the fixed scale

"""r1lib.figures.kl, the figures and panels of notebook 03: an update changes what it should (the
data-driven artists, to values computed independently here) and only that (the static frame,
legend and labels, in pixels too); every control's extremes work; callbacks stay fast."""
from __future__ import annotations

import io
import math
import statistics
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from r1lib import kl_from_logits, log_softmax  # noqa: E402
from r1lib import kl_studies as ks  # noqa: E402
from r1lib.figures import kl as figs  # noqa: E402

N = 20_000


@pytest.fixture(scope="module")
def panels():
    rng = np.random.default_rng(11)
    gauss = figs.gaussian_panel(rng.standard_normal(N))
    ref, direction = rng.normal(0.0, 2.0, 30), rng.normal(0.0, 1.0, 30)
    vocab = figs.vocab_panel(ref, direction, rng.random(N))
    study = ks.SequenceStudy(ks.random_markov_policy(5, rng, 1.5), ks.random_markov_policy(5, rng, 1.0),
                             rng.random((500, 60)))
    seq = figs.sequence_panel(study)
    for p in (gauss, vocab, seq):
        p.show()
    yield {"gauss": gauss, "vocab": vocab, "seq": seq, "vocab_ref": ref, "vocab_dir": direction,
           "study": study}
    plt.close("all")


def _state(view):
    """Every artist's data, split into what may change on an update and what must not."""
    ax = view.ax
    dynamic = {
        "hists": [h.get_data().values.copy() for h in view.hists],
        "edges": [h.get_data().edges.copy() for h in view.hists],
        "truth": tuple(view.truth.get_xdata()),
        "bars": [tuple(map(tuple, b.get_data())) for b in view.bars],
        "dots": [tuple(map(tuple, d.get_data())) for d in view.dots],
        "exact": tuple(map(tuple, view.exact.get_data())),
        "xlim": ax.get_xlim(), "ylim": ax.get_ylim(),
        "values_text": view.values_text.get_text(),
    }
    static = {
        "legend": [t.get_text() for t in ax.get_legend().get_texts()],
        "title": ax.get_title(loc="left"),
        "texts": [t.get_text() for t in ax.texts],
        "position": tuple(ax.get_position().bounds),
        "n_lines": len(ax.lines), "n_patches": len(ax.patches),
    }
    return dynamic, static


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return plt.imread(io.BytesIO(buf.getvalue()))


def _legend_pixels(view):
    img = _png(view.fig)
    h, w = img.shape[:2]
    return img[int(0.3 * h):int(0.7 * h), int(0.80 * w):]   # the legend, right of the axes


def _same(a, b):
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b)) if isinstance(a, list) \
        else a == b


@pytest.mark.parametrize("name, control, value, truth_moves", [
    ("gauss", "mu", 2.0, True), ("gauss", "n", 300, False),
    ("vocab", "shift", 2.0, True), ("vocab", "n", 300, False),
    ("seq", "length", 45, True), ("seq", "shift", 1.2, True),
])
def test_an_update_changes_the_data_artists_and_nothing_else(panels, name, control, value, truth_moves):
    panel = panels[name]
    view = panel.view
    dyn0, static0 = _state(view)
    legend0 = _legend_pixels(view)
    status0 = panel.status.value
    panel.controls[control].value = value
    dyn1, static1 = _state(view)
    assert static1 == static0                                   # frame, labels, legend untouched
    assert np.array_equal(_legend_pixels(view), legend0)         # ... in pixels too
    assert not _same(dyn1["hists"], dyn0["hists"])              # the histograms moved
    assert dyn1["values_text"] != dyn0["values_text"] and panel.status.value != status0
    assert (dyn1["truth"] != dyn0["truth"]) == truth_moves       # the true KL moves with the distance only
    assert (dyn1["exact"][0] != dyn0["exact"][0]) == truth_moves   # x: the exact means
    assert panel.errors == []


def test_gaussian_panel_shows_the_exact_values(panels):
    panel, view = panels["gauss"], panels["gauss"].view
    panel.controls["n"].value = 5000
    panel.controls["mu"].value = 1.5
    assert view.truth.get_xdata()[0] == pytest.approx(1.5**2 / 2)           # KL(N(0,1)||N(1.5,1))
    exact_x = view.exact.get_data()[0]
    assert exact_x == pytest.approx([1.125, 1.125 + 1.5**4 / 8, 1.125])     # E[k2] = KL + mu^4/8
    # each histogram holds the fraction of the n samples inside the plotted range (99.5% cut)
    for h in view.hists:
        assert 0.98 < h.get_data().values.sum() <= 1.0 + 1e-12
    # the k1 bar is the sample mean +- 2 s.e. of -log r = -(mu x - mu^2/2), computed here
    x = np.random.default_rng(11).standard_normal(N)[:5000]
    k1 = -(1.5 * x - 1.5**2 / 2)
    lo, hi = view.bars[0].get_data()[0]
    se = k1.std(ddof=1) / math.sqrt(5000)
    assert (lo, hi) == pytest.approx((k1.mean() - 2 * se, k1.mean() + 2 * se), rel=1e-9)
    assert "μ = 1.50" in panel.status.value and "n = 5000" in panel.status.value


def test_vocab_panel_true_kl_is_the_exact_sum(panels):
    panel = panels["vocab"]
    panel.controls["shift"].value = 1.0
    logits = panels["vocab_ref"] + 1.0 * panels["vocab_dir"]
    lp, lr = log_softmax(logits), log_softmax(panels["vocab_ref"])
    assert panel.view.truth.get_xdata()[0] == pytest.approx(float(np.sum(np.exp(lp) * (lp - lr))), rel=1e-12)


def test_sequence_panel_uses_the_study(panels):
    panel, study = panels["seq"], panels["study"]
    panel.controls["shift"].value = 0.7
    panel.controls["length"].value = 33
    exact = float(ks.sequence_kl_by_position(study.policy(0.7), study.ref, 33).sum())
    assert panel.view.truth.get_xdata()[0] == pytest.approx(exact, rel=1e-12)
    assert "T = 33" in panel.status.value


@pytest.mark.parametrize("name", ["gauss", "vocab", "seq"])
def test_every_control_extreme_works_and_callbacks_are_fast(panels, name):
    panel = panels[name]
    stats = panel.exercise()                         # min, max and back, for every control
    assert stats["updates"] >= 4 and panel.errors == []
    # A few more positions per control, timed in CPU seconds of this thread as well as wall time:
    # the machine running the tests is often shared, and contention inflates wall time only.
    cpu, before = [], len(panel.timings)
    for control in panel.controls.values():
        lo, hi = control.min, control.max
        if type(control).__name__ == "FloatLogSlider":
            lo, hi = control.base ** lo, control.base ** hi
        start = control.value
        for t in (0.25, 0.5, 0.75, None):
            value = start if t is None else lo + t * (hi - lo)
            t0 = time.thread_time()
            control.value = round(value) if isinstance(start, int) else value
            cpu.append(time.thread_time() - t0)
    wall_ms = 1000 * statistics.median(panel.timings[before:])
    cpu_ms = 1000 * statistics.median(cpu)
    print(f"panel {name}: {len(cpu)} updates, median {wall_ms:.0f} ms wall, {cpu_ms:.0f} ms CPU; "
          f"exercise() median {stats['median_ms']:.0f} ms")
    assert len(panel.timings) - before == len(cpu) and panel.errors == []
    assert cpu_ms < 100, f"panel {name}: median callback {cpu_ms:.0f} ms of CPU time"


def test_identical_policies_draw_without_warnings(panels):
    panel = panels["vocab"]
    panel.controls["shift"].value = 0.0             # every estimate is exactly 0
    assert panel.view.truth.get_xdata()[0] == 0.0
    assert "true KL = 0.0000" in panel.status.value
    panels["seq"].controls["shift"].value = 0.0
    assert panels["seq"].errors == [] and panel.errors == []


def test_bad_inputs_name_the_parameter():
    with pytest.raises(ValueError, match="x must be 1-D"):
        figs.gaussian_panel(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="ref_logits and direction"):
        figs.vocab_panel(np.zeros(4), np.zeros(5), np.full(100, 0.5))
    with pytest.raises(TypeError, match="study must be a SequenceStudy"):
        figs.sequence_panel("not a study")


# ---- static figures: the plotted data is what was passed, labelled ------------------------------

def test_running_means_figure_plots_cumulative_means():
    v = {"k1": np.array([1.0, -1.0, 4.0]), "k3": np.array([2.0, 0.0, 1.0])}
    fig = figs.running_means_figure(v, 0.7, 0.9)
    ax = fig.axes[0]
    assert np.allclose(ax.lines[0].get_ydata(), [1.0, 0.0, 4 / 3])
    assert np.allclose(ax.lines[1].get_ydata(), [2.0, 1.0, 1.0])
    assert [line.get_ydata()[0] for line in ax.lines[2:]] == [0.7, 0.9]
    assert len(ax.get_legend().get_texts()) == 4 and ax.get_xscale() == "log"
    plt.close(fig)


def test_relative_error_figure_divides_by_the_true_kl():
    mus = np.linspace(0.1, 2.0, 20)
    kl, mom = ks.gaussian_true_kl(mus), ks.gaussian_moments(mus)
    fig = figs.relative_error_figure({"Gaussian": (kl, mom)},
                                     {"k2": (kl[:2], mom["k2"].bias[:2], mom["k2"].std[:2])})
    ax_b, ax_s = fig.axes
    k2_bias_line = ax_b.lines[1]                 # k1, k2, k3 in order
    assert np.allclose(k2_bias_line.get_ydata(), mus**2 / 4)
    assert np.allclose(ax_s.lines[0].get_ydata(), 2 / mus)   # k1: std/KL = 2/|mu|
    assert np.allclose(ax_b.lines[-1].get_ydata(), mus[:2] ** 2 / 4)   # the Monte Carlo dots
    plt.close(fig)


def test_crossover_figure_marks_mu_star():
    fig = figs.crossover_figure(np.array([1.0, 1.5]), np.array([0.9, 1.1]), 1.2047,
                                np.array([1.0]), np.array([0.91]), np.array([0.01]))
    ax = fig.axes[0]
    assert any(np.allclose(line.get_xdata(), [1.2047, 1.2047]) for line in ax.lines)
    assert "1.2047" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    plt.close(fig)


def test_sequence_spread_and_gradient_figures():
    fig = figs.sequence_spread_figure(np.arange(1, 4), np.array([1.0, 2.0, 3.0]),
                                      {"Σ k1": np.ones(3), "Σ k3": np.ones(3) / 2, "k3(R)": np.ones(3) * 3})
    ax = fig.axes[0]
    assert len(ax.lines) == 4 and np.allclose(ax.lines[2].get_ydata(), 0.5)
    plt.close(fig)
    z, z_ref = np.array([0.1, -0.5, 1.0]), np.array([0.0, 0.3, -0.2])
    expected, kg = ks.expected_estimator_grads(z, z_ref), ks.kl_grads(z, z_ref)
    paths = {k: np.array([float(kl_from_logits(z, z_ref)), 0.1]) for k in ("k1", "k2", "k3")}
    fig = figs.gradient_figure(expected, kg, paths)
    ax_g, ax_t = fig.axes
    heights = [p.get_height() for p in ax_g.patches]
    assert len(heights) == 5 * 3
    assert np.allclose(heights[9:12], expected["k3"]) and np.allclose(heights[12:15], kg["ref_theta"])
    assert len(ax_t.lines) == 3
    plt.close(fig)


@settings(max_examples=25, deadline=None)
@given(mu=st.floats(0.05, 3.0), n=st.integers(10, N))
def test_gaussian_panel_at_any_slider_position(panels, mu, n):
    """Property: wherever the sliders stand, the crosses sit at the closed-form means, every
    histogram holds at most all of the n samples, and the values in the title are the sliders'."""
    panel, view = panels["gauss"], panels["gauss"].view
    with panel.controls["mu"].hold_trait_notifications():
        panel.controls["mu"].value = mu
        panel.controls["n"].value = n
    panel.update()
    mu, n = panel.controls["mu"].value, int(round(panel.controls["n"].value))   # as the sliders snapped them
    kl = mu * mu / 2
    assert view.truth.get_xdata()[0] == pytest.approx(kl, rel=1e-12)
    assert view.exact.get_data()[0] == pytest.approx([kl, kl + mu**4 / 8, kl], rel=1e-12)
    for h in view.hists:
        assert 0.0 <= h.get_data().values.sum() <= 1.0 + 1e-12
    assert view.values_text.get_text() == f"μ = {mu:.2f}, n = {n:,}"
    assert panel.errors == []


# ---- the placement panel (where the KL goes) ------------------------------------------------------

from r1lib.labs import kl_placement as kp  # noqa: E402
from figtools import left_of_axes, pixels  # noqa: E402


@pytest.fixture(scope="module")
def placement():
    rng = np.random.default_rng(21)
    ref, direction = ks.random_markov_policy(3, rng, 1.0), ks.random_markov_policy(3, rng, 1.0)
    u = rng.random((800, 5))
    panel = figs.placement_panel(ref, direction, u)
    panel.show()
    yield panel, ref, direction, u
    plt.close("all")


def test_placement_panel_draws_the_exact_and_sampled_values(placement):
    panel, ref, direction, u = placement
    view = panel.view
    panel.controls["shift"].value = 1.3
    panel.controls["placement"].value = "k3 loss"
    panel.controls["position"].value = 2
    pol = ref.shifted(direction, 1.3)
    exact = kp.sequence_kl_grads(pol, ref, 5)
    expected = kp.expected_placement_grads(pol, ref, 5)
    for name, line in view.error_lines.items():
        err = [np.linalg.norm(np.ravel(expected[name].position(t) - exact.position(t)))
               / np.linalg.norm(np.ravel(exact.position(t))) for t in range(1, 6)]
        assert np.allclose(line.get_ydata(), np.minimum(err, figs.ERROR_CAP), atol=1e-12), name
        assert line.get_linewidth() == (3.0 if name == "k3 loss" else 1.0)
    heights_exact = [b.get_height() for b in view.exact_bars]
    heights_place = [b.get_height() for b in view.placement_bars]
    assert np.allclose(heights_exact, np.ravel(exact.position(2)), atol=1e-15)
    assert np.allclose(heights_place, np.ravel(expected["k3 loss"].position(2)), atol=1e-15)
    samples = kp.position_samples(pol, ref, pol.sample(u), 2)["k3 loss"].reshape(800, -1)
    assert np.allclose(view.mc_dots.get_data()[1], samples.mean(axis=0), atol=1e-15)
    assert view.position_line.get_xdata()[0] == 2
    assert "s = 1.30" in panel.status.value and panel.errors == []
    # position 1 has V logits: the other bars are hidden
    panel.controls["position"].value = 1
    assert [b.get_visible() for b in view.exact_bars] == [True] * 3 + [False] * 6
    assert np.allclose([b.get_height() for b in view.exact_bars[:3]], exact.first, atol=1e-15)
    assert len(view.mc_dots.get_data()[0]) == 3


def test_placement_panel_updates_leave_the_frame_alone(placement):
    panel = placement[0]
    view = panel.view
    img0 = pixels(view.fig)
    legend0 = [t.get_text() for t in view.ax_error.get_legend().get_texts()]
    y0 = {k: line.get_ydata().copy() for k, line in view.error_lines.items()}
    panel.controls["shift"].value = 0.4
    img1 = pixels(view.fig)
    assert np.array_equal(left_of_axes(view.fig, img0), left_of_axes(view.fig, img1))
    assert [t.get_text() for t in view.ax_error.get_legend().get_texts()] == legend0
    assert not all(np.array_equal(y0[k], line.get_ydata()) for k, line in view.error_lines.items())
    assert np.allclose(view.error_lines["k1 reward"].get_ydata(), 0.0, atol=1e-12)
    assert np.allclose(view.error_lines["k1 loss"].get_ydata(), 1.0, atol=1e-12)


def test_placement_panel_extremes_and_speed(placement):
    panel = placement[0]
    stats = panel.exercise()
    assert stats["updates"] >= 4 and panel.errors == []
    cpu = []
    for name in kp.PLACEMENTS:
        for t in (1, 3, 5):
            t0 = time.thread_time()
            with panel.controls["position"].hold_trait_notifications():
                panel.controls["placement"].value = name
                panel.controls["position"].value = t
            panel.update()
            cpu.append(time.thread_time() - t0)
    cpu_ms = 1000 * statistics.median(cpu)
    print(f"placement panel: median {cpu_ms:.0f} ms CPU per update")
    assert panel.errors == [] and cpu_ms < 100


def test_placement_panel_bad_input():
    rng = np.random.default_rng(0)
    ref = ks.random_markov_policy(3, rng)
    with pytest.raises(TypeError, match="MarkovPolicy"):
        figs.placement_panel(ref, np.zeros(3), rng.random((10, 3)))
    with pytest.raises(ValueError, match="u must have shape"):
        figs.placement_panel(ref, ref, rng.random((10, 1)))

"""Notebook 06's figure layer (r1lib.figures.recipe): each view's update shows what r1lib computed
(checked against the evaluations, recomputed here), every control works at its extremes without a
warning, the figures change with the controls, and callbacks stay under 100 ms of CPU time (median)."""
from __future__ import annotations

import statistics
import warnings

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from figtools import drive, pixels  # noqa: E402
from r1lib import r1_recipe as rc  # noqa: E402
from r1lib.figures import recipe as fr  # noqa: E402

BUDGET_MS = 100.0
RL_STAGES = ["R1-Zero", "R1 (cold start + RL)", "student distilled", "student RL"]


@pytest.fixture(scope="module")
def pipe():
    return rc.run_pipeline(0)


def test_stage_panel_shows_each_stages_numbers(pipe):
    panel = fr.stage_panel(pipe.evaluations, stage="base", k=8)
    panel.show()
    view = panel.view
    seen = set()
    for stage in rc.STAGES:
        drive(panel, [("stage", stage), ("k", 16)])
        ev = pipe.evaluations[stage]
        x, y = view.pass_line.get_data()
        np.testing.assert_allclose(y, 100 * ev.pass_k)
        np.testing.assert_allclose(view.maj_line.get_data()[1], 100 * ev.maj_k)
        heights = [p.get_height() for p in view.hist.patches]
        assert sum(heights) == len(ev.correct)
        np.testing.assert_array_equal(heights, np.histogram(ev.correct / ev.n, bins=fr.StageView.BINS)[0])
        status = panel.status.value
        assert stage in status and f"pass@1 = {100 * ev.pass1.value:.1f}" in status
        assert f"pass@16 = {100 * ev.pass_k[15]:.1f}" in status
        seen.add(pixels(view.fig).tobytes())
    assert len(seen) == len(rc.STAGES)   # a different figure for every stage


def test_crossover_panel_marks_the_crossover_and_counts_problems(pipe):
    panel = fr.crossover_panel(pipe.evaluations, RL_STAGES, k=1)
    panel.show()
    view = panel.view
    base = pipe.evaluations["base"]
    for stage in RL_STAGES:
        for k in (1, 64):
            drive(panel, [("stage", stage), ("k", k)])
            ev = pipe.evaluations[stage]
            cross = rc.crossover_k(base, ev)
            x = view.cross_line.get_xdata()[0]
            assert x == (cross if cross is not None else -1.0)
            better = int(np.sum(ev.pass_k_per_problem[:, k - 1] > base.pass_k_per_problem[:, k - 1] + 1e-12))
            assert f"{stage}</b> vs base at k = {k}" in panel.status.value
            assert f"better on {better} problems" in panel.status.value
            offsets = view.dots.get_offsets()
            np.testing.assert_allclose(offsets[:, 1] - view.jitter[:, 1], ev.pass_k_per_problem[:, k - 1],
                                       atol=1e-12)
    # the crossover: at k = 1 R1-Zero is ahead of the base, at k = 64 behind
    drive(panel, [("stage", "R1-Zero"), ("k", 1)])
    img1 = pixels(view.fig)
    assert "the base catches up at k =" in panel.status.value
    drive(panel, [("k", 64)])
    assert not np.array_equal(img1, pixels(view.fig))


@pytest.mark.parametrize("make", ["stage", "crossover"])
def test_panels_at_their_extremes_are_fast(pipe, make):
    panel = (fr.stage_panel(pipe.evaluations) if make == "stage"
             else fr.crossover_panel(pipe.evaluations, RL_STAGES))
    panel.show()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = panel.exercise()
        times = drive(panel, [("stage", s) for s in panel.controls["stage"].options]
                       + [("k", k) for k in (2, 4, 32, 64, 1)])
    assert result["updates"] >= 2
    assert 1000 * statistics.median(times) < BUDGET_MS, times


def test_static_figures(pipe):
    E, R = pipe.evaluations, pipe.runs
    fig = fr.training_figure({"R1-Zero": R["R1-Zero"], "R1": R["R1 RL"]})
    assert len(fig.axes) == 3
    ax = fig.axes[1]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), R["R1-Zero"].accuracy)
    fig = fr.rejection_figure(pipe.rejection)
    widths = sorted(p.get_width() for p in fig.axes[0].patches)
    assert widths == sorted([pipe.rejection.n_kept, pipe.rejection.n_wrong, pipe.rejection.n_bad_format])
    assert sum(p.get_height() for p in fig.axes[1].patches) == pipe.task.n_problems
    stages = ["R1 (cold start + RL)", "student base", "student distilled", "student RL"]
    fig = fr.distillation_figure({s: E[s] for s in stages},
                                 {s: pipe.policies[s].n_params for s in stages})
    heights = [p.get_height() for p in fig.axes[1].patches]
    np.testing.assert_allclose(heights, [100 * E[s].pass1.value for s in stages])
    assert "3,673 params" in fig.axes[0].get_legend().get_texts()[0].get_text()
    fig = fr.hacking_figure(R["hack: loophole"], R["hack: strict"], R["hack: fixed"])
    np.testing.assert_allclose(fig.axes[1].lines[0].get_ydata(), R["hack: loophole"].accuracy)
    fixed_line = fig.axes[1].lines[4]   # raw line of the third run: drawn after the first 60 steps
    np.testing.assert_allclose(fixed_line.get_ydata(), R["hack: fixed"].accuracy)
    assert fixed_line.get_xdata()[0] == len(R["hack: loophole"].reward) + 1
    fig = fr.summary_figure(E)
    np.testing.assert_allclose([p.get_height() for p in fig.axes[0].patches],
                               [100 * E[s].pass1.value for s in rc.STAGES])
    import matplotlib.pyplot as plt
    plt.close("all")


def test_passk_training_figure_draws_r1libs_advantages_and_both_curves(pipe):
    import matplotlib.pyplot as plt
    from r1lib import passk_advantages
    E = {s: pipe.evaluations[s] for s in ("base", "R1-Zero", "R1 (cold start + RL)")}
    fig = fr.passk_training_figure(E, group_size=16, advantage_ks=(1, 4, 8))
    ax_a, ax_p, ax_c = fig.axes
    # left: two lines per k (correct, wrong) with the advantages of a group with c correct
    assert len(ax_a.lines) == 2 * 3 + 1          # + the zero line
    for i, k in enumerate((1, 4, 8)):
        correct, wrong = ax_a.lines[2 * i], ax_a.lines[2 * i + 1]
        for c, a in zip(correct.get_xdata(), correct.get_ydata()):
            group = np.r_[np.ones(int(c)), np.zeros(16 - int(c))]
            assert a == pytest.approx(passk_advantages(group, k)[0], abs=1e-12)
        for c, a in zip(wrong.get_xdata(), wrong.get_ydata()):
            group = np.r_[np.ones(int(c)), np.zeros(16 - int(c))]
            assert a == pytest.approx(passk_advantages(group, k)[-1], abs=1e-12)
        assert k == 1 or max(wrong.get_ydata()) <= 0 <= min(correct.get_ydata())
    # middle and right: each evaluation's pass@k and CoT-pass@k
    for ax, attr in ((ax_p, "pass_k"), (ax_c, "cot_pass_k")):
        for line, ev in zip(ax.lines, E.values()):
            np.testing.assert_allclose(line.get_ydata(), 100 * getattr(ev, attr))
    assert [t.get_text() for t in ax_c.get_legend().get_texts()] == list(E)
    with pytest.raises(ValueError, match="reference"):
        fr.passk_training_figure(E, 16, reference="nope")
    for bad in ((1, 2, 3, 4, 5, 6), (), (0,), (17,), (2.5,), (True,)):
        with pytest.raises(ValueError, match=r"advantage_ks must be 1 to 5 integers .* got"):
            fr.passk_training_figure(E, 16, advantage_ks=bad)
    for bad in (1, 16.0, True):
        with pytest.raises(ValueError, match="group_size must be an integer >= 2"):
            fr.passk_training_figure(E, bad)
    plt.close("all")


def test_bad_input(pipe):
    with pytest.raises(TypeError, match="evaluations"):
        fr.stage_panel({})
    with pytest.raises(ValueError, match="reference"):
        fr.StageView(pipe.evaluations, reference="nope")
    with pytest.raises(ValueError, match="stages"):
        fr.crossover_panel(pipe.evaluations, ["nope"])
    with pytest.raises(TypeError, match="evaluations"):
        fr.summary_figure({"a": 1})

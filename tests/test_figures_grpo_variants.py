"""Notebook 05's figure layer (r1lib.figures.grpo_variants): each toggle redraws the chosen run from
its records (checked against the run), changes the picture and the status line, leaves the static
parts alone, raises no warning, and stays under 100 ms of CPU time (median)."""
from __future__ import annotations

import statistics
import warnings
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from figtools import pixels  # noqa: E402
from r1lib import length_toy as toy  # noqa: E402
from r1lib.figures import grpo_variants as fv  # noqa: E402

BUDGET_MS = 100.0
BASE = toy.Variant(inner_steps=2, lr=2.0, steps=15)


@pytest.fixture(scope="module")
def runs():
    seed = 3
    noisy = replace(BASE, success=toy.NOISY_TASK, lr=240.0)
    return {
        "length": {lt: toy.train(replace(BASE, loss_type=lt), rng=seed) for lt in ("grpo", "dr_grpo", "dapo")},
        "scale": {s: toy.train(replace(BASE, scale=s), rng=seed) for s in ("group", "none")},
        "coins": {"sym": toy.coin_study(None, batches=10, n_coins=16, rng=seed),
                  "high": toy.coin_study(0.28, batches=10, n_coins=16, rng=seed)},
        "noisy": {"sym": [toy.train(noisy, rng=s) for s in (0, 1)],
                  "high": [toy.train(replace(noisy, epsilon_high=0.28), rng=s) for s in (0, 1)]},
        "ds": {"off": toy.train(BASE, rng=seed), "on": toy.train(replace(BASE, dynamic_sampling=True), rng=seed)},
        "gspo": {"token": toy.train(noisy, rng=seed),
                 "sequence": toy.train(replace(noisy, importance_sampling_level="sequence", epsilon=3e-4,
                                               epsilon_high=4e-4), rng=seed)},
        "kl": {"β = 0": toy.train(BASE, rng=seed), "k3": toy.train(replace(BASE, beta=0.5), rng=seed)},
    }


def _panels(runs):
    return {"length": fv.length_panel(runs["length"]), "scale": fv.scale_panel(runs["scale"]),
            "cliphigher": fv.clip_higher_panel(runs["coins"], runs["noisy"]),
            "dynamic": fv.dynamic_sampling_panel(runs["ds"]), "gspo": fv.gspo_panel(runs["gspo"]),
            "kl": fv.kl_panel(runs["kl"])}


def _cycle(panel):
    """Every option of the panel's toggle, then back to the first; returns the update times."""
    control = next(iter(panel.controls.values()))
    before = len(panel.cpu_timings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for option in list(control.options[1:]) + [control.options[0]]:
            control.value = option
    assert not panel.errors, panel.errors
    return panel.cpu_timings[before:]


@pytest.mark.parametrize("name", ["length", "scale", "cliphigher", "dynamic", "gspo", "kl"])
def test_every_option_changes_picture_and_status_but_not_the_static_parts(runs, name):
    panel = _panels(runs)[name]
    panel.update()
    control = next(iter(panel.controls.values()))
    fig = panel.view.fig
    x0 = int(fig.axes[0].get_window_extent().x0)
    seen_status, seen_pixels = [], []
    for option in control.options:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            _, status = panel.view.draw(option)
        img = pixels(fig)
        seen_status.append(status)
        seen_pixels.append(img)
    assert len(set(seen_status)) == len(control.options), seen_status
    for a, b in zip(seen_pixels, seen_pixels[1:]):
        assert not np.array_equal(a, b)
        np.testing.assert_array_equal(a[:, : x0 - 2], b[:, : x0 - 2])  # y label and ticks: static


@pytest.mark.parametrize("name", ["length", "scale", "cliphigher", "dynamic", "gspo", "kl"])
def test_callbacks_stay_under_budget(runs, name):
    panel = _panels(runs)[name]
    panel.update()
    medians = [1000 * statistics.median(_cycle(panel)) for _ in range(3)]
    assert min(medians) < BUDGET_MS, medians


def test_length_panel_draws_the_chosen_runs_records(runs):
    view = fv.length_panel(runs["length"]).view
    for name, run in runs["length"].items():
        view.draw(name)
        wrong, right = view.lines[0]
        np.testing.assert_array_equal(wrong.get_ydata(), run.length_wrong)
        np.testing.assert_array_equal(right.get_ydata(), run.length_right)
        np.testing.assert_array_equal(view.lines[1][0].get_ydata(), run.accuracy)


def test_dynamic_and_gspo_panels_draw_smoothed_batch_records_and_the_cost_axis(runs):
    view = fv.dynamic_sampling_panel(runs["ds"]).view
    view.draw("on")
    on = runs["ds"]["on"]
    np.testing.assert_allclose(view.lines[0][0].get_ydata(), fv.smooth(on.zero_signal))
    np.testing.assert_array_equal(view.lines[1][0].get_xdata(), np.r_[0, np.cumsum(on.generated)])
    gspo = fv.gspo_panel(runs["gspo"]).view
    gspo.draw("sequence")
    np.testing.assert_allclose(gspo.lines[0][1].get_ydata(), fv.smooth(runs["gspo"]["sequence"].clip_high))


def test_scale_view_weights_are_relative_to_a_half_right_group(runs):
    view = fv.scale_panel(runs["scale"]).view
    for name in ("group", "none"):
        view.draw(name)
        w = toy.advantage_weight(8, name)
        np.testing.assert_allclose(view.curve.get_ydata(), w / w[4], rtol=1e-12)
        hard = view.acc_lines[0][1].get_ydata()
        np.testing.assert_allclose(hard, runs["scale"][name].accuracy_q[:, fv.HARD].mean(axis=1))


def test_clip_higher_view_draws_every_seed(runs):
    view = fv.clip_higher_panel(runs["coins"], runs["noisy"]).view
    view.draw("high")
    for line, run in zip(view.seed_lines, runs["noisy"]["high"]):
        np.testing.assert_array_equal(line.get_ydata(), run.token_entropy)
    np.testing.assert_array_equal(view.coin_line.get_ydata(), runs["coins"]["high"].entropy)


def test_smooth_is_a_centred_moving_average_that_skips_nan():
    v = np.arange(20.0) ** 2
    out = fv.smooth(v, 5)
    np.testing.assert_allclose(out[2:-2], [v[i - 2:i + 3].mean() for i in range(2, 18)])
    assert out[0] == pytest.approx(v[:3].mean())
    with_nan = v.copy()
    with_nan[10] = np.nan
    assert fv.smooth(with_nan, 3)[10] == pytest.approx((v[9] + v[11]) / 2)
    np.testing.assert_array_equal(fv.smooth(v, 1), v)


def test_bad_input(runs):
    with pytest.raises(ValueError, match="runs"):
        fv.RunsView({}, [], lambda n, r: "")
    view = fv.length_panel(runs["length"]).view
    with pytest.raises(ValueError, match="run must be one of"):
        view.draw("ppo")
    with pytest.raises(ValueError, match="same keys"):
        fv.clip_higher_panel({"a": runs["coins"]["sym"]}, {"b": runs["noisy"]["sym"]})

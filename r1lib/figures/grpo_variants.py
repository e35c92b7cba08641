"""The panels of notebook 05 (GRPO after R1: Dr. GRPO, DAPO, GSPO and the KL choices).

Every panel compares *precomputed* training runs of :mod:`r1lib.labs.length_toy` (or studies from it):
a toggle picks which run is drawn in colour, the others stay in grey behind it, so a click only
redraws a few lines. Figures are built once and drawn with :class:`r1lib.figures.style.BlitCanvas`
(axes, ticks, labels and the grey runs are rendered once). The view behind a panel is
``panel.view``; its ``draw(**values)`` updates the coloured artists and returns ``(figure, status
line)``, so tests can check what an update changes.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..labs.length_toy import N_QUESTIONS, CoinStudy, Run, advantage_weight

__all__ = ["RunsView", "Plot", "Series", "smooth", "length_panel", "scale_panel", "clip_higher_panel",
           "dynamic_sampling_panel", "gspo_panel", "kl_panel"]

# One colour per series role (Okabe-Ito, as r1lib.figures.style.COLORS).
_SERIES_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_GREY = "#BBBBBB"


def smooth(values: np.ndarray, window: int = 9) -> np.ndarray:
    """Centred moving average (shorter windows at the ends), for noisy per-batch records."""
    v = np.asarray(values, dtype=float)
    if v.size == 0 or window <= 1:
        return v
    kernel = np.ones(window)
    num = np.convolve(np.nan_to_num(v), kernel, mode="same")
    den = np.convolve(np.isfinite(v).astype(float), kernel, mode="same")
    return num / np.maximum(den, 1)


@dataclass
class Series:
    """One curve per run: ``get(run) -> (x, y)``."""
    label: str
    get: Callable[[Any], tuple]
    style: str = "-"
    colour: Optional[str] = None


@dataclass
class Plot:
    """One axes: its series and labels."""
    series: Sequence[Series]
    ylabel: str
    xlabel: str = "training step"
    ylim: Optional[tuple] = None
    xlim: Optional[tuple] = None
    yscale: str = "linear"


def _legend_above(ax) -> None:
    """The legend above the axes, where no curve goes: it stays in the static picture (a legend
    inside the axes would have to be redrawn over the moving lines on every update)."""
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False,
              handlelength=2.2, columnspacing=1.2)


def _toggle(description: str, options: Sequence[str], value: str):
    import ipywidgets as w

    return w.ToggleButtons(options=list(options), value=value, description=description,
                           style={"description_width": "initial", "button_width": "auto"})


def _panel(name: str, controls: Mapping[str, Any], view, height: str = "340px"):
    from .panels import Panel

    panel = Panel(name, controls, view.draw, height=height)
    panel.view = view  # what tests inspect
    return panel


class RunsView:
    """Several precomputed runs on shared axes: every run in grey, the chosen one in colour.

    ``runs`` maps a name (what the toggle shows) to a run; ``plots`` says what each axes shows;
    ``status(name, run)`` writes the panel's one-line summary.
    """

    def __init__(self, runs: Mapping[str, Any], plots: Sequence[Plot],
                 status: Callable[[str, Any], str], selected: Optional[str] = None,
                 width: float = 9.6, height: float = 3.5) -> None:
        from .style import BlitCanvas, new_figure

        if not runs:
            raise ValueError("runs must hold at least one run")
        self.runs = dict(runs)
        self.plots = list(plots)
        self.status = status
        self.fig, axes = new_figure(ncols=len(self.plots), width=width, height=height)
        self.axes = np.atleast_1d(axes)
        self.lines = []  # per plot, per series: the coloured line of the chosen run
        dynamic = []
        for ax, plot in zip(self.axes, self.plots):
            lines = []
            for k, s in enumerate(plot.series):
                colour = s.colour or _SERIES_COLOURS[k % len(_SERIES_COLOURS)]
                for run in self.runs.values():  # the grey background: every run
                    x, y = s.get(run)
                    ax.plot(x, y, s.style, color=_GREY, lw=1.0, zorder=1)
                line, = ax.plot([], [], s.style, color=colour, lw=2.2, label=s.label, zorder=3)
                lines.append(line)
            ax.plot([], [], "-", color=_GREY, lw=1.0, label="other runs")
            ax.set(xlabel=plot.xlabel, ylabel=plot.ylabel, yscale=plot.yscale)
            if plot.ylim is not None:
                ax.set_ylim(*plot.ylim)
            if plot.xlim is not None:
                ax.set_xlim(*plot.xlim)
            _legend_above(ax)
            self.lines.append(lines)
            dynamic += lines
        first = next(iter(self.runs)) if selected is None else selected
        self.draw(first)
        BlitCanvas(self.fig, dynamic)

    def draw(self, run: str):
        if run not in self.runs:
            raise ValueError(f"run must be one of {list(self.runs)}, got {run!r}")
        chosen = self.runs[run]
        for plot, lines in zip(self.plots, self.lines):
            for s, line in zip(plot.series, lines):
                line.set_data(*s.get(chosen))
        return self.fig, self.status(run, chosen)


def _curve(attr: str) -> Callable[[Run], tuple]:
    return lambda run: (np.arange(len(getattr(run, attr))), getattr(run, attr))


def _per_batch(attr: str, window: int = 9) -> Callable[[Run], tuple]:
    return lambda run: (np.arange(1, len(getattr(run, attr)) + 1), smooth(getattr(run, attr), window))


# ---------------------------------------------------------------------------------------------
# 1. Length bias: grpo vs dr_grpo vs dapo
# ---------------------------------------------------------------------------------------------

def length_panel(runs: Mapping[str, Run], value: Optional[str] = None):
    """Panel: expected length of right and wrong outputs, and accuracy, over training, for runs
    that differ only in ``loss_type``; toggle: which run is coloured."""
    def status(name: str, run: Run) -> str:
        return (f"{name}: wrong outputs {run.length_wrong[0]:.1f} → {run.length_wrong[-1]:.1f} tokens, "
                f"right outputs {run.length_right[0]:.1f} → {run.length_right[-1]:.1f}; "
                f"accuracy {run.accuracy[0]:.2f} → {run.accuracy[-1]:.2f}")

    plots = [Plot([Series("wrong outputs", _curve("length_wrong"), "-"),
                   Series("right outputs", _curve("length_right"), "--")],
                  ylabel="expected length (tokens)"),
             Plot([Series("P(right)", _curve("accuracy"))], ylabel="accuracy (exact)", ylim=(0, 1))]
    view = RunsView(runs, plots, status, value)
    names = list(runs)
    return _panel("length", {"run": _toggle("loss_type", names, value or names[0])}, view)


# ---------------------------------------------------------------------------------------------
# 2. Reward scaling: group std or none
# ---------------------------------------------------------------------------------------------

HARD = np.arange(4)                            # the four questions the base policy gets < 16% right
EASY = np.arange(N_QUESTIONS - 4, N_QUESTIONS)  # the four it gets >= 40% right


class ScaleView:
    """Left: how much a group weighs in an update (mean |A| over the group, relative to a
    half-right group) against its share of right outputs, for the chosen scaling (from
    :func:`r1lib.labs.length_toy.advantage_weight`). Right: accuracy on the hard and the easy questions
    over training."""

    def __init__(self, runs: Mapping[str, Run], group_size: int, selected: Optional[str] = None) -> None:
        from .style import BlitCanvas, new_figure

        self.runs = dict(runs)
        self.G = group_size
        self.fig, (ax1, ax2) = new_figure(ncols=2, width=9.6, height=3.5)
        c = np.arange(self.G + 1) / self.G
        self.weights = {}
        for name in self.runs:
            w = advantage_weight(self.G, self.runs[name].variant.scale)
            self.weights[name] = w / w[self.G // 2]
            ax1.plot(c, self.weights[name], "-", color=_GREY, lw=1.0, zorder=1)
        self.curve, = ax1.plot([], [], "-o", color=_SERIES_COLOURS[1], lw=2.2, ms=4, zorder=3,
                               label=f"weight of a group of G = {self.G}")
        ax1.plot([], [], "-", color=_GREY, label="the other scaling")
        ax1.set(xlabel="share of right outputs in the group, c / G",
                ylabel="mean |A|, relative to c = G/2", xlim=(-0.03, 1.03), ylim=(0, 1.1))
        _legend_above(ax1)
        self.acc_lines = []
        for run in self.runs.values():
            for idx, style in ((HARD, "-"), (EASY, "--")):
                ax2.plot(run.accuracy_q[:, idx].mean(axis=1), style, color=_GREY, lw=1.0, zorder=1)
        for idx, style, label in ((HARD, "-", "4 hardest questions"), (EASY, "--", "4 easiest")):
            line, = ax2.plot([], [], style, color=_SERIES_COLOURS[2], lw=2.2, label=label, zorder=3)
            self.acc_lines.append((idx, line))
        ax2.plot([], [], "-", color=_GREY, label="the other scaling")
        ax2.set(xlabel="training step", ylabel="accuracy (exact)", ylim=(0, 1))
        _legend_above(ax2)
        self.draw(selected or next(iter(self.runs)))
        BlitCanvas(self.fig, [self.curve, *[line for _, line in self.acc_lines]])

    def draw(self, run: str):
        if run not in self.runs:
            raise ValueError(f"run must be one of {list(self.runs)}, got {run!r}")
        chosen = self.runs[run]
        self.curve.set_data(np.arange(self.G + 1) / self.G, self.weights[run])
        for idx, line in self.acc_lines:
            line.set_data(np.arange(len(chosen.accuracy_q)), chosen.accuracy_q[:, idx].mean(axis=1))
        status = (f"scale_rewards={chosen.variant.scale!r}: a group with 1 of {self.G} right weighs "
                  f"{self.weights[run][1]:.2f}× a half-right group; after {len(chosen.accuracy) - 1} steps the "
                  f"4 hardest questions are right {chosen.accuracy_q[-1, HARD].mean():.2f} of the time")
        return self.fig, status


def scale_panel(runs: Mapping[str, Run], value: Optional[str] = None):
    """Panel: group-std scaling vs none (TRL ``scale_rewards``); toggle: which run is coloured."""
    names = list(runs)
    G = next(iter(runs.values())).variant.group_size
    view = ScaleView(runs, G, value)
    return _panel("scale", {"run": _toggle("scale_rewards", names, value or names[0])}, view)


# ---------------------------------------------------------------------------------------------
# 3. Clip-higher and entropy
# ---------------------------------------------------------------------------------------------

class ClipHigherView:
    """Left: mean entropy of the coins of :func:`r1lib.labs.length_toy.coin_study` (the token does not
    matter). Right: token entropy of toy runs on the noisy task, several seeds per setting."""

    def __init__(self, coins: Mapping[str, CoinStudy], runs: Mapping[str, Sequence[Run]],
                 selected: Optional[str] = None) -> None:
        from .style import BlitCanvas, new_figure

        if list(coins) != list(runs):
            raise ValueError(f"coins and runs must have the same keys, got {list(coins)} and {list(runs)}")
        self.coins, self.runs = dict(coins), {k: list(v) for k, v in runs.items()}
        self.fig, (ax1, ax2) = new_figure(ncols=2, width=9.6, height=3.5)
        for study in self.coins.values():
            ax1.plot(study.entropy, color=_GREY, lw=1.0)
        n_coins = next(iter(self.coins.values())).p.shape[1]
        self.coin_line, = ax1.plot([], [], color=_SERIES_COLOURS[0], lw=2.2,
                                   label=f"mean entropy of {n_coins} coins")
        ax1.plot([], [], "-", color=_GREY, label="the other setting")
        ax1.set(xlabel="batch (coins whose side does not matter)", ylabel="entropy (nats)", ylim=(0, 0.55))
        _legend_above(ax1)
        n_seeds = max(len(v) for v in self.runs.values())
        for seeds in self.runs.values():
            for run in seeds:
                ax2.plot(run.token_entropy, color=_GREY, lw=1.0)
        self.seed_lines = [ax2.plot([], [], color=_SERIES_COLOURS[1], lw=1.6,
                                    label="toy: one line per seed" if k == 0 else None)[0]
                           for k in range(n_seeds)]
        ax2.plot([], [], "-", color=_GREY, label="the other setting")
        ax2.set(xlabel="training step (the toy, noisy task)", ylabel="entropy per token (nats)")
        _legend_above(ax2)
        self.draw(selected or next(iter(self.coins)))
        BlitCanvas(self.fig, [self.coin_line, *self.seed_lines])

    def draw(self, setting: str):
        if setting not in self.coins:
            raise ValueError(f"setting must be one of {list(self.coins)}, got {setting!r}")
        study, seeds = self.coins[setting], self.runs[setting]
        self.coin_line.set_data(np.arange(len(study.entropy)), study.entropy)
        for k, line in enumerate(self.seed_lines):
            if k < len(seeds):
                line.set_data(np.arange(len(seeds[k].token_entropy)), seeds[k].token_entropy)
            else:
                line.set_data([], [])
        end = np.mean([r.token_entropy[-1] for r in seeds])
        status = (f"{setting}: coin entropy {study.entropy[0]:.2f} → {study.entropy[-1]:.2f} after "
                  f"{len(study.entropy) - 1} batches; toy token entropy at the end {end:.3f} "
                  f"(mean of {len(seeds)} seeds)")
        return self.fig, status


def clip_higher_panel(coins: Mapping[str, CoinStudy], runs: Mapping[str, Sequence[Run]],
                      value: Optional[str] = None):
    """Panel: symmetric clipping vs clip-higher; toggle: which setting is coloured."""
    names = list(coins)
    view = ClipHigherView(coins, runs, value)
    return _panel("cliphigher", {"setting": _toggle("clip range", names, value or names[0])}, view)


# ---------------------------------------------------------------------------------------------
# 4. Dynamic sampling
# ---------------------------------------------------------------------------------------------

def dynamic_sampling_panel(runs: Mapping[str, Run], value: Optional[str] = None):
    """Panel: groups without signal per step, and accuracy against the number of groups sampled
    (the cost), with and without DAPO's dynamic sampling; toggle: which run is coloured."""
    def cost(run: Run) -> tuple:
        return np.r_[0, np.cumsum(run.generated)], run.accuracy

    def status(name: str, run: Run) -> str:
        n = len(run.zero_signal)
        return (f"{name}: {run.zero_signal[:20].mean():.1f} of {N_QUESTIONS} groups carry no signal in the "
                f"first 20 steps, {run.zero_signal[-20:].mean():.1f} in the last 20; {int(run.dropped.sum())} "
                f"dropped, {int(run.generated.sum())} sampled in {n} steps")

    plots = [Plot([Series("groups with all-equal rewards", _per_batch("zero_signal"))],
                  ylabel=f"groups without signal (of {N_QUESTIONS})", ylim=(0, N_QUESTIONS)),
             Plot([Series("P(right)", cost)], xlabel="groups sampled so far (cost)",
                  ylabel="accuracy (exact)", ylim=(0, 1))]
    view = RunsView(runs, plots, status, value)
    names = list(runs)
    return _panel("dynamic", {"run": _toggle("dynamic sampling", names, value or names[0])}, view)


# ---------------------------------------------------------------------------------------------
# 5. GSPO: token ratio vs sequence ratio
# ---------------------------------------------------------------------------------------------

def gspo_panel(runs: Mapping[str, Run], value: Optional[str] = None):
    """Panel: clip fractions as TRL logs them (share of tokens, or of completions at sequence
    level, clipped below and above), and accuracy, for token- and sequence-level importance ratios;
    toggle: which run is coloured."""
    def status(name: str, run: Run) -> str:
        unit = "completions" if run.variant.importance_sampling_level == "sequence" else "tokens"
        return (f"{name}: {100 * run.clip_low.mean():.1f}% of {unit} clipped below, "
                f"{100 * run.clip_high.mean():.1f}% above (mean over training); accuracy at the end "
                f"{run.accuracy[-1]:.2f}")

    plots = [Plot([Series("clipped below (A < 0)", _per_batch("clip_low")),
                   Series("clipped above (A > 0)", _per_batch("clip_high"), "--")],
                  ylabel="share clipped (tokens or completions)"),
             Plot([Series("P(right)", _curve("accuracy"))], ylabel="accuracy (exact)", ylim=(0, 1))]
    view = RunsView(runs, plots, status, value)
    names = list(runs)
    return _panel("gspo", {"run": _toggle("ratio", names, value or names[0])}, view)


# ---------------------------------------------------------------------------------------------
# 6. KL choices
# ---------------------------------------------------------------------------------------------

def kl_panel(runs: Mapping[str, Run], value: Optional[str] = None):
    """Panel: exact KL(π_θ || π_ref) over training, and accuracy against KL (the trade-off), for
    the KL switches; toggle: which run is coloured."""
    def status(name: str, run: Run) -> str:
        return (f"{name}: accuracy {run.accuracy[-1]:.3f} at KL {run.kl[-1]:.3f} nats after "
                f"{len(run.kl) - 1} steps")

    plots = [Plot([Series("KL to the reference", _curve("kl"))], ylabel="KL(π_θ ‖ π_ref), nats (exact)"),
             Plot([Series("training path", lambda r: (r.kl, r.accuracy))], xlabel="KL(π_θ ‖ π_ref), nats",
                  ylabel="accuracy (exact)", ylim=(0, 1))]
    view = RunsView(runs, plots, status, value)
    names = list(runs)
    return _panel("kl", {"run": _toggle("KL", names, value or names[0])}, view)

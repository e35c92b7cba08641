r"""Figures and slider panels of notebook 06 (the R1 recipe in miniature).

The notebook runs the pipeline with :mod:`r1lib.labs.r1_recipe` and passes what it computed here; this
module only draws. Panels (built once, then only the changing artists are redrawn with
:class:`r1lib.figures.style.BlitCanvas`):

- :func:`stage_panel`: one figure per stage (a dropdown picks it): pass@k and maj@k against k with
  clustered 95 % error bars, and the spread of per-problem success rates; a slider picks k.
- :func:`crossover_panel`: an RL stage against the base: mean pass@k curves (RL wins at k = 1, the
  base at large k; Yue et al. 2025, arXiv:2504.13837) and every problem's pass@k at the chosen k.

Static figures: :func:`training_figure`, :func:`rejection_figure`, :func:`distillation_figure`,
:func:`hacking_figure`, :func:`summary_figure`, :func:`passk_training_figure` (pass@k as the
training objective against GRPO, with CoT-pass@k).
"""
from __future__ import annotations

from statistics import NormalDist
from typing import Mapping, Optional, Sequence

import numpy as np

from ..labs import r1_recipe
from ..passk_advantage import passk_advantages
from .style import COLORS, BlitCanvas, fixed_pair_figure, new_figure
from .panels import Panel, int_slider

__all__ = ["StageView", "CrossoverView", "stage_panel", "crossover_panel", "training_figure",
           "rejection_figure", "distillation_figure", "hacking_figure", "summary_figure",
           "passk_training_figure"]

Z95 = NormalDist().inv_cdf(0.975)
BLUE, ORANGE, GREEN = COLORS["teacher"], COLORS["student"], COLORS["reference"]
YELLOW, PINK, GREY, BLACK = COLORS["k1"], COLORS["k3"], COLORS["neutral"], COLORS["truth"]
LOG2_TICKS = (1, 2, 4, 8, 16, 32, 64)



def _log2_axis(ax, n: int) -> None:
    ax.set_xscale("log", base=2)
    ticks = [t for t in LOG2_TICKS if t <= n]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(0.85, 1.2 * n)


def _dropdown(description: str, options: Sequence[str], value: str):
    import ipywidgets as w

    return w.Dropdown(options=list(options), value=value, description=description,
                      style={"description_width": "initial"}, layout=w.Layout(width="330px"))


def _check_evaluations(evaluations: Mapping) -> dict:
    if not isinstance(evaluations, Mapping) or not evaluations:
        raise TypeError(f"evaluations must be a non-empty mapping of stage name -> Evaluation, "
                        f"got {type(evaluations).__name__}")
    for name, ev in evaluations.items():
        if not isinstance(ev, r1_recipe.Evaluation):
            raise TypeError(f"evaluations[{name!r}] must be an r1_recipe.Evaluation, got {type(ev).__name__}")
    sizes = {ev.n for ev in evaluations.values()}
    if len(sizes) != 1:
        raise ValueError(f"every evaluation must use the same n samples per problem, got {sorted(sizes)}")
    return dict(evaluations)


def _ci_segments(ks: np.ndarray, value: np.ndarray, se: np.ndarray) -> list:
    return [[(k, 100 * (v - Z95 * s)), (k, 100 * (v + Z95 * s))] for k, v, s in zip(ks, value, se)]


# --------------------------------------------------------------------------------- one stage

class StageView:
    """Left: pass@k (clustered 95 % CI) and maj@k of the chosen stage against k, the base's pass@k
    for reference. Right: how many problems the stage solves with each success rate c/n."""

    BINS = np.linspace(0.0, 1.0, 11)

    def __init__(self, evaluations: Mapping, reference: str = "base") -> None:
        self.evals = _check_evaluations(evaluations)
        if reference not in self.evals:
            raise ValueError(f"reference={reference!r} is not one of the stages {list(self.evals)}")
        first = next(iter(self.evals.values()))
        self.n, self.ks = first.n, first.ks
        P = len(first.correct)
        fig, (ax, ax_h) = fixed_pair_figure(height=3.7, bottom=0.14, axes_height=0.66)
        ref = self.evals[reference]
        ax.plot(self.ks, 100 * ref.pass_k, color=GREY, ls="--", lw=1.5, label=f"{reference}: pass@k")
        self.bars = ax.vlines(self.ks, 0, 0, color=BLUE, lw=1, alpha=0.6)
        self.pass_line, = ax.plot([], [], "o-", ms=2.5, color=BLUE, label="pass@k (95 % CI)")
        self.maj_line, = ax.plot([], [], "s-", ms=2.5, color=ORANGE, label="maj@k (ties split)")
        self.k_line = ax.axvline(1, color=BLACK, lw=0.8, ls=":")
        self.k_marks, = ax.plot([], [], "o", ms=9, mfc="none", mec=BLACK, mew=1.3)
        _log2_axis(ax, self.n)
        ax.set(xlabel="k (samples per problem)", ylabel="score (%)", ylim=(0, 101))
        # The legend is the plot's header: curves of any stage can pass under it otherwise.
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=2, fontsize=8, frameon=False,
                  title=f"from n = {self.n} samples per problem", title_fontsize=9)
        width = self.BINS[1] - self.BINS[0]
        self.hist = ax_h.bar(self.BINS[:-1] + width / 2, np.zeros(len(self.BINS) - 1), width=0.9 * width,
                             color=BLUE, alpha=0.8)
        ax_h.set(xlabel=f"per-problem success rate c / {self.n}", ylabel="problems", xlim=(0, 1),
                 ylim=(0, 1.05 * P), title=f"how the {P} problems are spread")
        self.fig = fig
        BlitCanvas(fig, [self.bars, self.pass_line, self.maj_line, self.k_line, self.k_marks,
                         *self.hist.patches])

    def update(self, stage: str, k: int) -> str:
        ev = self.evals[stage]
        self.bars.set_segments(_ci_segments(self.ks, ev.pass_k, ev.pass_k_se))
        self.pass_line.set_data(self.ks, 100 * ev.pass_k)
        self.maj_line.set_data(self.ks, 100 * ev.maj_k)
        self.k_line.set_xdata([k, k])
        self.k_marks.set_data([k, k], [100 * ev.pass_k[k - 1], 100 * ev.maj_k[k - 1]])
        counts, _ = np.histogram(ev.correct / ev.n, bins=self.BINS)
        for patch, h in zip(self.hist.patches, counts):
            patch.set_height(h)
        p1 = ev.pass1
        return (f"<b>{stage}</b>: pass@1 = {100 * p1.value:.1f} ± {100 * Z95 * p1.se:.1f} %, "
                f"pass@{k} = {100 * ev.pass_k[k - 1]:.1f} %, maj@{k} = {100 * ev.maj_k[k - 1]:.1f} %, "
                f"well formatted {100 * ev.format_rate:.0f} %; a sample: "
                f"<code>{_escape(ev.examples[0])}</code>")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def stage_panel(evaluations: Mapping, stage: Optional[str] = None, k: int = 8,
                reference: str = "base") -> Panel:
    """A dropdown (the stage) and a slider (k) over :class:`StageView`."""
    view = StageView(evaluations, reference)
    names = list(view.evals)
    stage = names[0] if stage is None else stage

    def draw(stage, k):
        return view.fig, view.update(stage, k)

    controls = {"stage": _dropdown("stage", names, stage), "k": int_slider("k", k, 1, view.n)}
    panel = Panel("stage", controls, draw, height="350px")
    panel.view = view
    return panel


# --------------------------------------------------------------------- RL against the base

class CrossoverView:
    """Left: mean pass@k of the base and of a tuned stage, with the k where the base catches up.
    Right: each problem's pass@k under the base (x) and the stage (y) at the chosen k: above the
    diagonal the stage is better, below the base is."""

    def __init__(self, evaluations: Mapping, base: str = "base",
                 rng: Optional[np.random.Generator] = None) -> None:
        self.evals = _check_evaluations(evaluations)
        if base not in self.evals:
            raise ValueError(f"base={base!r} is not one of the stages {list(self.evals)}")
        self.base = self.evals[base]
        self.base_name = base
        self.n, self.ks = self.base.n, self.base.ks
        P = len(self.base.correct)
        rng = np.random.default_rng(6) if rng is None else rng
        self.jitter = rng.uniform(-0.012, 0.012, (P, 2))   # display only: separates equal points
        fig, (ax, ax_s) = fixed_pair_figure(height=3.7, bottom=0.14, axes_height=0.66)
        ax.plot(self.ks, 100 * self.base.pass_k, color=GREY, lw=2, label=f"{base}")
        self.stage_line, = ax.plot([], [], color=BLUE, lw=2, label="chosen stage")
        self.cross_line = ax.axvline(1, color=PINK, lw=1.2, ls="--", label="base catches up")
        self.k_line = ax.axvline(1, color=BLACK, lw=0.8, ls=":")
        self.k_marks, = ax.plot([], [], "o", ms=9, mfc="none", mec=BLACK, mew=1.3)
        _log2_axis(ax, self.n)
        ax.set(xlabel="k (samples per problem)", ylabel="pass@k (%)", ylim=(0, 101))
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=3, fontsize=8, frameon=False,
                  title="mean pass@k over the problems", title_fontsize=9)
        ax_s.plot([0, 1], [0, 1], color=BLACK, lw=0.8, ls="--")
        ax_s.text(0.04, 0.93, "stage better", color=BLUE, fontsize=9, transform=ax_s.transAxes)
        ax_s.text(0.62, 0.30, "base better", color=GREY, fontsize=9, transform=ax_s.transAxes)
        self.dots = ax_s.scatter(np.zeros(P), np.zeros(P), s=14, color=BLUE, alpha=0.6)
        ax_s.set(xlabel=f"{base}: pass@k of a problem", ylabel="chosen stage: pass@k of a problem",
                 xlim=(-0.04, 1.04), ylim=(-0.04, 1.04), title="every problem at the chosen k")
        self.fig = fig
        BlitCanvas(fig, [self.stage_line, self.cross_line, self.k_line, self.k_marks, self.dots])

    def update(self, stage: str, k: int) -> str:
        ev = self.evals[stage]
        self.stage_line.set_data(self.ks, 100 * ev.pass_k)
        cross = r1_recipe.crossover_k(self.base, ev)
        x = cross if cross is not None else -1.0   # off the axis when there is none
        self.cross_line.set_xdata([x, x])
        self.k_line.set_xdata([k, k])
        self.k_marks.set_data([k, k], [100 * self.base.pass_k[k - 1], 100 * ev.pass_k[k - 1]])
        xb = self.base.pass_k_per_problem[:, k - 1]
        ys = ev.pass_k_per_problem[:, k - 1]
        self.dots.set_offsets(np.column_stack([xb, ys]) + self.jitter)
        better = int(np.sum(ys > xb + 1e-12))
        worse = int(np.sum(xb > ys + 1e-12))
        where = (f"the base catches up at k = {cross}" if cross is not None
                 else f"the base does not catch up by k = {self.n}")
        return (f"<b>{stage}</b> vs {self.base_name} at k = {k}: pass@{k} "
                f"{100 * ev.pass_k[k - 1]:.1f} % vs {100 * self.base.pass_k[k - 1]:.1f} %; "
                f"{stage} better on {better} problems, base better on {worse}; {where}")


def crossover_panel(evaluations: Mapping, stages: Sequence[str], stage: Optional[str] = None,
                    k: int = 1, base: str = "base", rng: Optional[np.random.Generator] = None) -> Panel:
    """A dropdown (which tuned stage) and a slider (k) over :class:`CrossoverView`."""
    view = CrossoverView(evaluations, base, rng)
    stages = list(stages)
    missing = [s for s in stages if s not in view.evals]
    if not stages or missing:
        raise ValueError(f"stages must name evaluated stages, got {stages!r} (unknown: {missing})")
    stage = stages[0] if stage is None else stage

    def draw(stage, k):
        return view.fig, view.update(stage, k)

    controls = {"stage": _dropdown("stage", stages, stage), "k": int_slider("k", k, 1, view.n)}
    panel = Panel("crossover", controls, draw, height="350px")
    panel.view = view
    return panel


# ----------------------------------------------------------------------------- static figures

def training_figure(runs: Mapping, metrics: Sequence[str] = ("reward", "accuracy", "format"),
                    colors: Optional[Sequence[str]] = None):
    """One plot per metric of :class:`r1lib.labs.r1_recipe.RLRun` against the GRPO step, one line per run
    (sampled batch means, lightly smoothed by a 5-step moving average; the raw values are faint)."""
    labels = {"reward": "reward (batch mean)", "accuracy": "strict accuracy", "format": "format reward",
              "loophole": "loophole checker's reward", "length": "output length (tokens)",
              "kl": "KL to the reference (k3, per output)"}
    colors = list(colors or (BLUE, ORANGE, GREEN, PINK))
    fig, axes = new_figure(len(metrics), width=3.4 * len(metrics) + 0.6, height=3.2)
    axes = np.atleast_1d(axes)
    for ax, metric in zip(axes, metrics):
        for (name, run), color in zip(runs.items(), colors):
            y = np.asarray(getattr(run, metric), dtype=float)
            steps = np.arange(1, len(y) + 1)
            ax.plot(steps, y, color=color, alpha=0.25, lw=1)
            ax.plot(steps, _smooth(y), color=color, lw=2, label=name)
        ax.set(xlabel="GRPO step", title=labels.get(metric, metric))
    axes[0].legend(fontsize=8)
    return fig


def _smooth(y: np.ndarray, width: int = 5) -> np.ndarray:
    out = np.empty_like(y)
    for i in range(len(y)):
        out[i] = y[max(0, i - width + 1): i + 1].mean()
    return out


def rejection_figure(result):
    """What rejection sampling kept and why it dropped the rest, plus kept samples per problem."""
    fig, (ax, ax_p) = new_figure(2, width=9.5, height=3.0)
    names = ["kept: correct and\nwell formatted", "well formatted,\nwrong answer", "not in the\ntemplate"]
    counts = [result.n_kept, result.n_wrong, result.n_bad_format]
    bars = ax.barh(names[::-1], counts[::-1], color=[GREY, ORANGE, BLUE])
    for bar, c in zip(bars, counts[::-1]):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {c}", va="center", fontsize=9)
    ax.set(xlabel="samples", title=f"{result.n_drawn} samples drawn", xlim=(0, 1.2 * max(counts)))
    per_problem = np.bincount(np.searchsorted(np.unique(result.kept.problems), result.kept.problems))
    n_prob = result.n_drawn // max(1, result.n_per_problem)
    kept_counts = np.concatenate([per_problem, np.zeros(n_prob - len(per_problem), dtype=int)])
    ax_p.hist(kept_counts, bins=np.arange(result.n_per_problem + 2) - 0.5, color=BLUE, alpha=0.8)
    ax_p.set_xticks(np.arange(0, result.n_per_problem + 1, max(1, result.n_per_problem // 4)))
    ax_p.set(xlabel=f"kept samples of a problem (of {result.n_per_problem})", ylabel="problems",
             title=f"{result.problems_covered} of {n_prob} problems have a kept sample")
    return fig


def distillation_figure(evaluations: Mapping, n_params: Mapping):
    """Left: pass@k of the teacher and of the student three ways. Right: their pass@1 with 95 % CI;
    the legend gives each model's number of parameters."""
    evals = _check_evaluations(evaluations)
    fig, (ax, ax_b) = new_figure(2, width=10.0, height=4.2)
    colors = [GREY, BLUE, ORANGE, GREEN, PINK]
    for (name, ev), color in zip(evals.items(), colors):
        ax.plot(ev.ks, 100 * ev.pass_k, color=color, lw=2, label=f"{name} ({n_params[name]:,} params)")
    _log2_axis(ax, next(iter(evals.values())).n)
    ax.set(xlabel="k", ylabel="pass@k (%)", ylim=(0, 101), title="pass@k")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    names = list(evals)
    vals = [100 * evals[s].pass1.value for s in names]
    errs = [100 * Z95 * evals[s].pass1.se for s in names]
    ax_b.bar(range(len(names)), vals, yerr=errs, capsize=4, color=colors[:len(names)])
    ax_b.set_xticks(range(len(names)), [s.replace(" ", "\n", 1) for s in names], fontsize=8)
    ax_b.set(ylabel="pass@1 (%)", title="pass@1 with 95 % clustered CI", ylim=(0, 100))
    return fig


def hacking_figure(loophole_run, strict_run, fixed_run=None):
    """The same start trained against two checkers: what each checker pays (left), the true
    (strict) accuracy (middle) and the output length (right), against the GRPO step. ``fixed_run``
    (optional) continues the loophole run with the strict checker, drawn after it."""
    fig, axes = new_figure(3, width=10.5, height=3.3)
    n = len(loophole_run.reward)
    parts = [(loophole_run, ORANGE, "trained on the loophole checker", 0),
             (strict_run, BLUE, "trained on the strict checker", 0)]
    if fixed_run is not None:
        parts.append((fixed_run, GREEN, "then switched to the strict checker", n))
    for run, color, name, offset in parts:
        steps = offset + np.arange(1, len(run.reward) + 1)
        for ax, y in zip(axes, (run.reward, run.accuracy, run.length)):
            ax.plot(steps, y, color=color, alpha=0.25, lw=1)
            ax.plot(steps, _smooth(np.asarray(y, dtype=float)), color=color, lw=2, label=name)
    if fixed_run is not None:
        for ax in axes:
            ax.axvline(n + 0.5, color=GREY, lw=0.8, ls="--")
    axes[0].set(xlabel="GRPO step", title="reward the checker pays", ylim=(0, 1.05))
    axes[1].set(xlabel="GRPO step", title="true accuracy (final answer)", ylim=(0, 1.05))
    axes[2].set(xlabel="GRPO step", title="output length (tokens)", ylim=(0, r1_recipe.MAX_LEN + 0.5))
    axes[2].axhline(r1_recipe.MAX_LEN, color=BLACK, lw=0.8, ls=":")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8)
    return fig


def summary_figure(evaluations: Mapping, k: int = 64):
    """Every stage: pass@1 with its 95 % clustered CI (bars), pass@k and maj@k at one large k."""
    evals = _check_evaluations(evaluations)
    names = list(evals)
    fig, ax = new_figure(1, width=10.0, height=3.6)
    x = np.arange(len(names))
    ax.bar(x, [100 * evals[s].pass1.value for s in names],
           yerr=[100 * Z95 * evals[s].pass1.se for s in names], capsize=4, color=BLUE, alpha=0.85,
           label="pass@1 (95 % CI)")
    ax.plot(x, [100 * evals[s].pass_k[k - 1] for s in names], "D", color=BLACK, label=f"pass@{k}")
    ax.plot(x, [100 * evals[s].maj_k[k - 1] for s in names], "s", color=ORANGE, label=f"maj@{k}")
    ax.set_xticks(x, [s.replace(" (", "\n(") for s in names], fontsize=8)
    ax.set(ylabel="score (%)", ylim=(0, 118), title="every stage of the recipe, evaluated the same way")
    ax.set_yticks([0, 20, 40, 60, 80, 100])
    ax.legend(fontsize=8, loc="upper center", ncol=3)
    return fig


def passk_training_figure(evaluations: Mapping, group_size: int, advantage_ks: Sequence[int] = (1, 4, 8),
                          reference: str = "base"):
    r"""Pass@k as the training objective (Chen et al. 2025, arXiv:2508.10751) against GRPO.

    Left: the advantage :func:`r1lib.passk_advantages` gives a correct (filled) and a wrong (open)
    response in a group of ``group_size`` binary rewards with ``c`` correct, for each k in
    ``advantage_ks`` (k = 1 is GRPO's, with the population std). Middle: pass@k against k of each
    evaluated policy (``reference`` dashed grey). Right: CoT-pass@k (Wen et al. 2025,
    arXiv:2506.14245: the reasoning must be right too) of the same policies.
    """
    evals = _check_evaluations(evaluations)
    if reference not in evals:
        raise ValueError(f"reference={reference!r} is not one of the evaluations {list(evals)}")
    if any(ev.cot_pass_k is None for ev in evals.values()):
        raise ValueError("every evaluation needs cot_pass_k (made by r1_recipe.evaluate)")
    colors = [BLUE, ORANGE, GREEN, PINK, YELLOW]
    if isinstance(group_size, (bool, np.bool_)) or not isinstance(group_size, (int, np.integer)) \
            or group_size < 2:
        raise ValueError(f"group_size must be an integer >= 2, got {group_size!r}")
    G = int(group_size)
    ks = list(advantage_ks)
    if not 1 <= len(ks) <= len(colors) or any(
            isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or not 1 <= k <= G
            for k in ks):
        raise ValueError(f"advantage_ks must be 1 to {len(colors)} integers k with 1 <= k <= "
                         f"group_size = {G} (one colour each), got {advantage_ks!r}")
    if len(evals) - 1 > len(colors):
        raise ValueError(f"at most {len(colors)} evaluations besides the reference can be told "
                         f"apart by colour, got {len(evals) - 1}")
    fig, (ax_a, ax_p, ax_c) = new_figure(3, width=11.5, height=3.9)
    c = np.arange(G + 1)
    groups = (np.arange(G)[None, :] < c[:, None]).astype(float)          # row c: c correct of G
    for k, color in zip(ks, colors):
        adv = passk_advantages(groups, int(k))
        name = "GRPO (k = 1)" if k == 1 else f"pass@{k} objective"
        ax_a.plot(c[1:], adv[1:, 0], "o-", color=color, ms=4, lw=1.5, label=f"{name}: correct")
        ax_a.plot(c[:-1], adv[:-1, -1], "o--", color=color, ms=4, mfc="white", lw=1.2, label=f"{name}: wrong")
    ax_a.axhline(0, color=BLACK, lw=0.6)
    ax_a.set(xlabel=f"correct responses c in a group of G = {G}", ylabel="advantage",
             title="what each response is pushed by")
    ax_a.legend(fontsize=7, ncol=1, loc="upper right")
    n = next(iter(evals.values())).n
    policy_colors = iter([BLUE, ORANGE, GREEN, PINK, YELLOW])
    for name, ev in evals.items():
        style = dict(color=GREY, ls="--", lw=1.8) if name == reference else dict(color=next(policy_colors), lw=2)
        ax_p.plot(ev.ks, 100 * ev.pass_k, label=name, **style)
        ax_c.plot(ev.ks, 100 * ev.cot_pass_k, label=name, **style)
    for ax, title in ((ax_p, "pass@k"), (ax_c, "CoT-pass@k (the reasoning right too)")):
        _log2_axis(ax, n)
        ax.set(xlabel="k", ylabel="score (%)", ylim=(0, 101), title=title)
    ax_c.legend(fontsize=8, loc="lower right")
    return fig

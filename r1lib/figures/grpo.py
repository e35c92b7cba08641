"""The panels and figures of notebook 04 (GRPO from scratch).

Each ``*_panel`` function returns an :class:`r1lib.figures.panels.Panel` (display it, or call
``.show()``); its figure is built once and drawn with :class:`r1lib.figures.style.BlitCanvas`: axes,
ticks, labels, legends and fixed curves are rendered once, and a slider move only redraws the
artists that depend on the slider (laying out and drawing text again was most of a callback's
time). The view behind a panel is ``panel.view``; its ``draw(**values)`` updates the artists and
returns ``(figure, status line)``, so tests can check what an update changes.

Every number comes from r1lib's core (:mod:`r1lib.grpo`) and lab (:mod:`r1lib.labs.grpo_toy`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..grpo import clipped_surrogate, group_advantages
from ..labs.grpo_toy import PROMPTS, GRPORun, OneBatchStudy

__all__ = ["clip_panel", "advantages_panel", "objective_panel", "training_panel",
           "tradeoff_figure", "baseline_variance_figure", "binary_advantages"]


def _selection_slider(description: str, options: Sequence, value):
    """Discrete options (precomputed runs) with the look of r1lib.figures.panels' sliders."""
    import ipywidgets as w

    return w.SelectionSlider(options=list(options), value=value, description=description,
                             continuous_update=False, style={"description_width": "initial"},
                             layout=w.Layout(width="330px"))


def _panel(name: str, controls: Mapping[str, Any], view, height: str = "330px"):
    from .panels import Panel

    panel = Panel(name, controls, view.draw, height=height)
    panel.view = view  # what tests and the benchmark inspect
    return panel


# ---------------------------------------------------------------------------------------------
# Section 1: PPO's clipped surrogate
# ---------------------------------------------------------------------------------------------

class ClipView:
    """min(rho A, clip(rho, 1-eps, 1+eps) A) against rho for A = +1 and A = -1, with the region
    where the clip is active (gradient 0) shaded."""

    RHO = np.linspace(0.0, 2.0, 201)

    def __init__(self, eps: float = 0.2) -> None:
        from .style import COLORS, BlitCanvas, new_figure

        self.fig, axes = new_figure(ncols=2, width=9.0, height=3.6, sharey=True)
        self.parts = []  # per plot: advantage, band, unclipped line, clipped curve, eps lines
        for ax, A, colour in zip(axes, (1.0, -1.0), (COLORS["teacher"], COLORS["student"])):
            # Plain Unicode labels: mathtext is slow to draw.
            band = ax.axvspan(1.0, 2.0, color="0.85", alpha=0.6, label="clip active: gradient 0")
            unclipped, = ax.plot(self.RHO, self.RHO * A, ls="--", color=COLORS["neutral"], label="unclipped ρA")
            curve, = ax.plot(self.RHO, self.RHO * A, color=colour, lw=2.2, label="clipped min(ρA, clip(ρ)·A)")
            edges = [ax.axvline(1.0, color=COLORS["truth"], lw=0.8, ls=":") for _ in range(2)]
            ax.set(xlabel="probability ratio ρ = π(o) / π_old(o)",
                   xlim=(0, 2), ylim=(-2.2, 2.2))  # |ρA| <= 2 on this grid, whatever ε
            # Above the axes, where the moving band never reaches: the legend stays static.
            ax.legend(title=f"advantage A = {A:+.0f}", loc="lower center", bbox_to_anchor=(0.5, 1.0),
                      ncol=2, fontsize=8, frameon=False)
            self.parts.append((A, band, unclipped, curve, edges))
        axes[0].set_ylabel("surrogate objective L (per token)")
        self.axes = axes
        self.draw(eps)
        # The dashed line is redrawn too, so that the grey band and the ε lines stay under it as
        # in a full draw.
        BlitCanvas(self.fig, [a for _, band, unclipped, curve, edges in self.parts
                              for a in (band, unclipped, curve, *edges)])

    def draw(self, eps: float):
        for A, band, _, curve, edges in self.parts:
            curve.set_ydata(clipped_surrogate(self.RHO, A, eps))
            lo, hi = (1 + eps, 2.0) if A > 0 else (0.0, 1 - eps)  # where the clip is active
            band.set_x(lo)
            band.set_width(hi - lo)
            for line, x in zip(edges, (1 - eps, 1 + eps)):
                line.set_xdata([x, x])
        status = (f"ε = {eps:.2f}: for A > 0 the objective stops growing at ρ = {1 + eps:.2f}; "
                  f"for A < 0 it stops falling at ρ = {1 - eps:.2f}")
        return self.fig, status


def clip_panel(eps: float = 0.2):
    """Panel: PPO's clipped surrogate against the ratio; slider: the clip range ε."""
    from .panels import float_slider

    return _panel("clip", {"eps": float_slider("clip range ε", eps, 0.05, 0.5, 0.05)}, ClipView(eps))


# ---------------------------------------------------------------------------------------------
# Section 2: group-relative advantages
# ---------------------------------------------------------------------------------------------

def binary_advantages(c: int, G: int, ddof: int) -> tuple[float, float]:
    """Advantages (of a correct output, of a wrong one) when ``c`` of ``G`` binary rewards are 1,
    from :func:`r1lib.group_advantages` with ``eps=0``; 0 for a kind that is absent."""
    r = np.r_[np.ones(c), np.zeros(G - c)]
    A = group_advantages(r, ddof=ddof, eps=0.0)
    return (float(A[0]) if c > 0 else 0.0), (float(A[-1]) if c < G else 0.0)


class AdvantagesView:
    """Left: one group's advantages (ddof=1 and ddof=0). Right: the advantage of a correct and of
    a wrong output against the fraction c/G of correct outputs, for the chosen G (a fixed x axis:
    only the left one is redrawn when G changes)."""

    def __init__(self, uniforms: np.ndarray, G: int = 8, p: float = 0.3) -> None:
        from .style import COLORS, BlitCanvas, new_figure

        self.uniforms = np.asarray(uniforms, dtype=float)
        g_max = self.uniforms.size
        self.fig, (ax1, ax2) = new_figure(ncols=2, width=9.0, height=3.4)
        self.ax1, self.ax2 = ax1, ax2
        # One bar per possible output; a group of G shows the first G.
        self.bars1 = ax1.bar(np.arange(g_max) - 0.2, np.zeros(g_max), width=0.4, color=COLORS["teacher"],
                             label="ddof=1 (TRL, verl)")
        self.bars0 = ax1.bar(np.arange(g_max) + 0.2, np.zeros(g_max), width=0.4, color=COLORS["student"],
                             label="ddof=0 (np.std default)")
        ax1.axhline(0, color=COLORS["truth"], lw=0.8)
        ax1.set(ylabel="advantage of output i", ylim=(-6, 6))
        # Above the axes, where no bar reaches: the legend stays in the static picture.
        ax1.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
        self.vs_c = {}
        for ddof, colour in ((1, COLORS["teacher"]), (0, COLORS["student"])):
            self.vs_c[ddof] = (ax2.plot([], [], "-", color=colour, label=f"correct output, ddof={ddof}")[0],
                               ax2.plot([], [], "--", color=colour, label=f"wrong output, ddof={ddof}")[0])
        self.all_equal, = ax2.plot([0, 1], [0, 0], "o", mfc="white", color=COLORS["truth"],
                                   label="all equal: A = 0", zorder=3)
        # The legend is part of the static picture: the marker of this group's c stops below it.
        self.this_c = ax2.axvline(0, ymax=0.74, color=COLORS["neutral"], lw=1.2, ls=":", label="this group's c")
        ax2.axhline(0, color=COLORS["truth"], lw=0.8)
        ax2.set(ylabel="advantage", ylim=(-6, 6), xlim=(-0.05, 1.05),
                xlabel="fraction of correct outputs in the group, c / G",
                title="binary rewards: advantage vs c / G")
        ax2.legend(fontsize=7.5, loc="upper right", ncol=2)
        ax2.grid(False, axis="x")  # vertical grid lines would be drawn over the static legend
        # The advantage-vs-c curves for every G, computed once.
        self.curves = {(n, ddof): np.array([binary_advantages(k, n, ddof) for k in range(1, n)])
                       for n in range(2, g_max + 1) for ddof in (0, 1)}
        self.draw(G, p)
        # The left x axis (range, ticks, label) follows G and the group, so it is dynamic too.
        BlitCanvas(self.fig, [ax1.xaxis, *self.bars1, *self.bars0, *self.vs_c[1], *self.vs_c[0],
                              self.this_c, self.all_equal])
        # Pin the left x label where the first draw put it, so a redraw does not measure the tick
        # labels again to place it (a third of an axis' drawing time).
        top = ax1.xaxis.label.get_window_extent().y1  # display pixels
        ax1.xaxis.set_label_coords(0.5, ax1.transAxes.inverted().transform((0, top))[1])

    def rewards(self, G: int, p: float) -> np.ndarray:
        """The group's binary rewards: output i is correct when uniforms[i] < p."""
        return (self.uniforms[:G] < p).astype(float)

    def draw(self, G: int, p: float):
        r = self.rewards(G, p)
        c = int(r.sum())
        A1, A0 = group_advantages(r, ddof=1), group_advantages(r, ddof=0)
        for bars, A in ((self.bars1, A1), (self.bars0, A0)):
            for i, bar in enumerate(bars):
                bar.set_visible(i < G)
                bar.set_height(A[i] if i < G else 0.0)
        x = np.arange(G)
        self.ax1.set_xlim(-0.7, G - 0.3)
        if G <= 16:
            self.ax1.set_xticks(x, ["✓" if ri else "✗" for ri in r])
            self.ax1.set_xlabel(f"output i of the group: {c} of {G} correct (✓), {G - c} wrong (✗)")
        else:
            self.ax1.set_xticks(x[::4], [str(i) for i in x[::4]])
            self.ax1.set_xlabel(f"output i of the group: {c} of {G} correct")
        fractions = np.arange(1, G) / G  # mixed groups; c = 0 and c = G are all-equal
        for ddof, (correct_line, wrong_line) in self.vs_c.items():
            correct_line.set_data(fractions, self.curves[G, ddof][:, 0])
            wrong_line.set_data(fractions, self.curves[G, ddof][:, 1])
        self.this_c.set_xdata([c / G, c / G])
        if c in (0, G):
            status = f"all {G} rewards equal: every advantage is exactly 0 (no signal, no NaN)"
        else:
            status = (f"c = {c} of G = {G}: a correct output gets A = {A1[r == 1][0]:+.3f} (ddof=1), "
                      f"{A0[r == 1][0]:+.3f} (ddof=0); ratio √((G−1)/G) = {math.sqrt((G - 1) / G):.3f}")
        return self.fig, status


def advantages_panel(uniforms: np.ndarray, G: int = 8, p: float = 0.3):
    """Panel: group advantages of G binary rewards (output i correct when ``uniforms[i] < p``);
    sliders: the group size G (up to ``len(uniforms)``) and P(correct) p."""
    from .panels import float_slider, int_slider

    view = AdvantagesView(uniforms, G, p)
    return _panel("advantages", {"G": int_slider("group size G", G, 2, view.uniforms.size),
                                 "p": float_slider("P(correct) p", p, 0.0, 1.0, 0.05)}, view)


# ---------------------------------------------------------------------------------------------
# Section 3: the GRPO objective on one batch
# ---------------------------------------------------------------------------------------------

class ObjectiveView:
    """Left: J(s) along the policy-gradient direction, with its clipped-surrogate and KL parts and
    the unclipped surrogate. Right: dJ/dlog pi per token at the chosen s (x: clip active)."""

    GRAD_RANGE = 0.12

    def __init__(self, study: OneBatchStudy, s: float = 0.3, eps: float = 0.2, beta: float = 0.04) -> None:
        import matplotlib.pyplot as plt

        from .style import COLORS, BlitCanvas, new_figure

        self.study = study
        G, T = study.mask.shape
        cmap = plt.get_cmap("RdBu").with_extremes(bad="0.8")  # grey: padding
        self.fig, (ax1, ax2) = new_figure(ncols=2, width=9.5, height=3.5,
                                          gridspec_kw={"width_ratios": [1.35, 1]})
        self.ax1, self.ax2 = ax1, ax2
        lim = self.GRAD_RANGE
        self.fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(-lim, lim), cmap), ax=ax2, shrink=0.9)
        ax1.plot(study.s, study.unclipped, ls="--", color=COLORS["neutral"], label="unclipped ρA part")
        self.clipped_line, = ax1.plot(study.s, study.unclipped, color=COLORS["teacher"], label="clipped surrogate part")
        self.kl_line, = ax1.plot(study.s, -study.kl, ls=":", color=COLORS["k3"], lw=2, label="−β·k3 part")
        self.J_line, = ax1.plot(study.s, study.unclipped, color=COLORS["truth"], lw=2.2, label="GRPO objective J")
        self.marker, = ax1.plot([0], [0], "o", color=COLORS["student"], ms=8, label="the chosen s")
        y_range = (-1.05 * study.kl.max() - 0.05, 1.05 * study.unclipped.max())  # fits every β <= 1
        ax1.set(xlabel="step size s along the policy gradient (logit units)", ylabel="objective (per group)",
                xlim=(-0.05, 1.05), ylim=y_range, title=" ")
        ax1.legend(fontsize=8, loc="upper left")
        self.image = ax2.imshow(np.where(study.mask, 0.0, np.nan), cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
        self.clip_marks, = ax2.plot([], [], "x", ms=9, mew=1.6, color=COLORS["truth"])
        ax2.set(xlim=(-0.5, T - 0.5), ylim=(G - 0.5, -0.5), xlabel="token position t",
                title="gradient ∂J / ∂log π(token t of output i)")
        ax2.set_yticks(range(G), [f"o{i + 1}: A={a:+.2f}" for i, a in enumerate(study.advantages)])
        ax2.set_xticks(range(T), [str(t + 1) for t in range(T)])
        ax2.grid(False)
        self.draw(s, eps, beta)
        BlitCanvas(self.fig, [self.clipped_line, self.kl_line, self.J_line, self.marker, ax1.title,
                              self.image, self.clip_marks])

    def index(self, s: float) -> int:
        """The grid point nearest to s."""
        return int(np.argmin(np.abs(self.study.s - s)))

    def draw(self, s: float, eps: float, beta: float):
        st = self.study
        J = st.objective(eps, beta)
        surrogate = st.objective(eps, 0.0)
        k = self.index(s)
        self.clipped_line.set_ydata(surrogate)
        self.kl_line.set_ydata(-beta * st.kl)
        self.J_line.set_ydata(J)
        self.marker.set_data([st.s[k]], [J[k]])
        self.ax1.set_title(f"one batch, ε = {eps:.2f}, β = {beta:.2f}")
        self.image.set_data(np.where(st.mask, st.gradient(k, eps, beta), np.nan))
        hit = st.clipped(k, eps)
        rows, cols = np.nonzero(hit)
        self.clip_marks.set_data(cols, rows)
        status = (f"s = {st.s[k]:.2f}: J = {J[k]:+.3f} (clipped surrogate {surrogate[k]:+.3f}, "
                  f"KL {st.kl[k]:.3f} nats/token); {hit.sum()} of {st.mask.sum()} tokens clipped (×)")
        return self.fig, status


def objective_panel(study: OneBatchStudy, s: float = 0.3, eps: float = 0.2, beta: float = 0.04):
    """Panel: the GRPO objective (DeepSeekMath eq. 3) of one batch as the policy moves away from
    the one that sampled it; sliders: step size s, clip range ε, KL coefficient β."""
    from .panels import float_slider

    view = ObjectiveView(study, s, eps, beta)
    return _panel("objective", {"s": float_slider("step size s", s, 0.0, 1.0, 0.02),
                                "eps": float_slider("clip range ε", eps, 0.05, 0.5, 0.05),
                                "beta": float_slider("KL coefficient β", beta, 0.0, 1.0, 0.01)}, view)


# ---------------------------------------------------------------------------------------------
# Section 4: the toy R1-Zero trained with GRPO
# ---------------------------------------------------------------------------------------------

def _grid(runs: Mapping[tuple, GRPORun]) -> tuple[list, list]:
    betas = sorted({b for b, _ in runs})
    groups = sorted({g for _, g in runs})
    missing = [(b, g) for b in betas for g in groups if (b, g) not in runs]
    if missing:
        raise ValueError(f"runs must hold every (beta, G) combination; missing {missing}")
    return betas, groups


class TrainingView:
    """Left: exact expected reward, P(correct), P(format) and the sampled batch mean over training.
    Middle: exact KL to the reference (other β at the same G in grey). Right: the answer
    distribution of one prompt over training."""

    def __init__(self, runs: Mapping[tuple, GRPORun], prompt: tuple = (3, 4),
                 beta: float = 0.04, G: int = 8) -> None:
        import matplotlib.pyplot as plt

        from .style import COLORS, BlitCanvas, new_figure

        self.runs = runs
        self.betas, self.groups = _grid(runs)
        self.prompt = PROMPTS.index(tuple(prompt))
        steps = np.arange(next(iter(runs.values())).reward.size)
        step_lim = (-0.04 * steps[-1], 1.04 * steps[-1])
        kl_max = max(run.kl.max() for run in runs.values()) * 1.05
        self.fig, (ax1, ax2, ax3) = new_figure(ncols=3, width=11.0, height=3.4)
        self.ax1 = ax1
        self.fig.colorbar(plt.cm.ScalarMappable(plt.Normalize(0, 1), "Blues"), ax=ax3, label="probability", shrink=0.9)
        self.batch_line, = ax1.plot(steps[1:], steps[1:] * 0.0, color=COLORS["neutral"], lw=0.8, label="batch mean (sampled)")
        self.reward_line, = ax1.plot(steps, steps * 0.0, color=COLORS["truth"], lw=2.2, label="expected reward")
        self.accuracy_line, = ax1.plot(steps, steps * 0.0, color=COLORS["teacher"], label="P(correct)")
        self.format_line, = ax1.plot(steps, steps * 0.0, color=COLORS["student"], label="P(format)")
        # Rewards reach 2 and fill the plot late in training: the legend sits in a band above
        # the data (y > 2.05) so it never hides a curve.
        ax1.set(xlim=step_lim, ylim=(0, 2.75), yticks=[0, 0.5, 1, 1.5, 2], xlabel="GRPO step",
                ylabel="reward (max 2)", title=" ")
        ax1.legend(fontsize=7.5, loc="upper center", ncol=2, handlelength=1.5, columnspacing=1.0,
                   borderaxespad=0.2)
        self.other_kl = [ax2.plot(steps, steps * 0.0, color="0.75", lw=1)[0] for _ in self.betas[1:]]
        self.kl_line, = ax2.plot(steps, steps * 0.0, color=COLORS["k3"], lw=2.2, label="the chosen β")
        ax2.set(xlim=step_lim, ylim=(0, kl_max), xlabel="GRPO step",
                ylabel="exact KL(policy ‖ reference) (nats)", title="KL to the reference (grey: other β)")
        ax2.legend(fontsize=8, loc="upper left")
        self.answers_image = ax3.imshow(np.zeros((11, steps.size)), aspect="auto", origin="lower", cmap="Blues",
                                        vmin=0, vmax=1, extent=(-0.5, steps[-1] + 0.5, -0.5, 10.5),
                                        interpolation="nearest")
        a, b = PROMPTS[self.prompt]
        ax3.set_yticks(range(11), [str(d) for d in range(10)] + ["none"])
        right = ax3.get_yticklabels()[a + b]
        right.set_color(COLORS["student"])
        right.set_fontweight("bold")
        ax3.set(xlabel="GRPO step", ylabel="final answer",
                title=f"answer distribution for {a}+{b} ({a + b} is right)")
        ax3.grid(False)
        self.draw(beta, G)
        BlitCanvas(self.fig, [self.batch_line, self.reward_line, self.accuracy_line, self.format_line,
                              ax1.title, *self.other_kl, self.kl_line, self.answers_image])

    def draw(self, beta: float, G: int):
        run = self.runs[beta, G]
        self.batch_line.set_ydata(run.batch_reward)
        self.reward_line.set_ydata(run.reward)
        self.accuracy_line.set_ydata(run.accuracy)
        self.format_line.set_ydata(run.format)
        self.ax1.set_title(f"reward, β = {beta}, G = {G}")
        for line, other in zip(self.other_kl, [b for b in self.betas if b != beta]):
            line.set_ydata(self.runs[other, G].kl)
        self.kl_line.set_ydata(run.kl)
        self.answers_image.set_data(run.answers[:, self.prompt, :].T)
        status = (f"β = {beta}, G = {G}: expected reward {run.reward[0]:.2f} → {run.reward[-1]:.2f} "
                  f"(P(correct) {run.accuracy[-1]:.2f}, P(format) {run.format[-1]:.2f}), "
                  f"KL to reference {run.kl[-1]:.2f} nats")
        return self.fig, status


def training_panel(runs: Mapping[tuple, GRPORun], prompt: tuple = (3, 4), beta: float = 0.04, G: int = 8):
    """Panel: precomputed GRPO runs ``runs[beta, G]`` (every combination); sliders pick β and G."""
    view = TrainingView(runs, prompt, beta, G)
    return _panel("training", {"beta": _selection_slider("KL coefficient β", view.betas, beta),
                               "G": _selection_slider("group size G", view.groups, G)}, view)


def tradeoff_figure(runs: Mapping[tuple, GRPORun], base_reward: float):
    """Final expected reward against final KL to the reference, one line per group size (β along
    each line); the base model's reward dashed."""
    from .style import COLORS, new_figure

    betas, groups = _grid(runs)
    fig, ax = new_figure(width=7.0, height=3.8)
    markers = dict(zip(betas, "os^Dv<>p"))
    colours = (COLORS["k1"], COLORS["k2"], COLORS["teacher"], COLORS["student"], COLORS["k3"], COLORS["reference"])
    for G, colour in zip(groups, colours):
        kl = [runs[b, G].kl[-1] for b in betas]
        reward = [runs[b, G].reward[-1] for b in betas]
        ax.plot(kl, reward, "-", color=colour, label=f"G = {G}")
        for b, x, y in zip(betas, kl, reward):
            ax.plot(x, y, markers[b], color=colour, ms=7)
    for b in betas:
        ax.plot([], [], markers[b], color=COLORS["neutral"], label=f"β = {b}")
    ax.axhline(base_reward, color=COLORS["reference"], ls="--", lw=1, label="base model")
    steps = next(iter(runs.values())).reward.size - 1
    ax.set(xlabel="final exact KL(π_θ ‖ π_ref) (nats)", ylabel="final expected reward (max 2)",
           title=f"reward vs KL after {steps} GRPO steps")
    ax.legend(ncol=2, fontsize=8, loc="lower right")
    return fig


def baseline_variance_figure(rel_var: Mapping[int, Mapping[str, float]]):
    """Bars of each estimator's relative variance tr Cov(g) / ||grad E[r]||^2 per group size
    (``rel_var[G][name]``), log scale."""
    from .style import COLORS, new_figure

    groups = sorted(rel_var)
    names = list(rel_var[groups[0]])
    fig, ax = new_figure(width=7.5, height=3.3)
    width = 0.8 / len(names)
    colours = (COLORS["neutral"], COLORS["truth"], COLORS["teacher"], COLORS["student"])
    for j, (name, colour) in enumerate(zip(names, colours)):
        ax.bar(np.arange(len(groups)) + (j - (len(names) - 1) / 2) * width,
               [rel_var[G][name] for G in groups], width=width, color=colour, label=name)
    ax.set_xticks(np.arange(len(groups)), [f"G = {G}" for G in groups])
    ax.set_yscale("log")
    ax.set_ylabel("tr Cov(g) / ‖∇E[r]‖²")
    ax.set_title("noise of one batch's policy gradient (25 prompts × G outputs)")
    ax.legend(loc="upper right")
    return fig

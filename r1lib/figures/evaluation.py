r"""Figures and slider panels of notebook 02 (evaluating a reasoning model).

A notebook asks for a panel in one line and passes the data it computed, for example
``noise_panel(pass1_runs, true_pass1, p_true)``; everything about drawing (layout, fixed text
positions, blitting with :class:`r1lib.figures.style.BlitCanvas`) lives here. Each panel has a *view*:
a class that builds the figure once and whose ``update(...)`` changes only the artists that depend
on the controls and returns the panel's status line. The numbers come from r1lib's core
(:func:`r1lib.pass_at_k`, :mod:`r1lib.error_bars`, :mod:`r1lib.grading.answers`) and from the
simulated benchmark (:mod:`r1lib.labs.eval_sim`); this module only draws them.

Panels: :func:`noise_panel` (sampling noise of pass@1 against samples per question),
:func:`stderr_panel` (naive versus clustered standard errors, Miller 2024), :func:`power_panel`
(AIME-sized evaluations: the paired and unpaired standard error of a comparison and the
probability of detecting a true gain, closed form beside simulation),
:func:`passk_panel` (unbiased versus plug-in pass@k, Chen et al. 2021), :func:`vote_panel`
(maj@k and tie rules), :func:`verdict_panel` (text -> answer -> verdict).
Static figures: :func:`benchmark_figure`, :func:`paired_figure`, :func:`seed_temperature_figure`,
:func:`tie_rules_figure`, :func:`string_grading_figure`.
"""
from __future__ import annotations

import textwrap
from statistics import NormalDist
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from ..labs import eval_sim
from ..grading.answers import extract_answer, normalize_answer
from ..error_bars import (VarianceComponents, detectable_difference, detection_power, mean_with_se,
                          naive_se, paired_difference, pass_at_1, questions_needed, standard_error,
                          unpaired_difference)
from ..metrics import pass_at_k
from .style import COLORS, BlitCanvas, fixed_pair_figure, new_figure
from .panels import Panel, float_slider, int_slider

__all__ = ["NoiseView", "StderrView", "PowerView", "PassAtKView", "VoteView", "VerdictView",
           "noise_panel", "stderr_panel", "power_panel", "passk_panel", "vote_panel", "verdict_panel",
           "benchmark_figure", "paired_figure", "seed_temperature_figure", "tie_rules_figure",
           "string_grading_figure", "shown"]

Z95 = NormalDist().inv_cdf(0.975)   # the 95 % normal quantile, as in Estimate.interval()
BLUE, ORANGE, GREEN = COLORS["teacher"], COLORS["student"], COLORS["reference"]
YELLOW, PINK, GREY, BLACK = COLORS["k1"], COLORS["k3"], COLORS["neutral"], COLORS["truth"]
LOG2_TICKS = (1, 2, 4, 8, 16, 32, 64)
TIE_RULES = ("split", "wrong", "first")


# ---------------------------------------------------------------------------- layout helpers


def _fast_text(*axes, nbins: int = 4) -> None:
    """Text is the slowest thing to draw: few tick labels on linear axes, and titles and axis
    labels pinned where they go (else every draw measures all tick labels again to place them)."""
    from matplotlib.ticker import AutoLocator, MaxNLocator

    for ax in axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_locator()) is AutoLocator:     # leaves fixed ticks alone
                axis.set_major_locator(MaxNLocator(nbins))
        ax.set_title(ax.get_title(), y=1.02)   # an explicit y turns off automatic title placement
        ax.xaxis.set_label_coords(0.5, -0.13)
        ax.yaxis.set_label_coords(-0.1, 0.5)


def _log2_axis(ax, ticks: Sequence[int] = LOG2_TICKS) -> None:
    """A base-2 log x axis with fixed, plainly labelled ticks."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(ticks), [str(t) for t in ticks])
    ax.minorticks_off()


def shown(value: Any) -> str:
    """An answer as a reader writes it: strings in quotes without repr's doubled backslashes,
    ``None`` as "no answer"."""
    if value is None:
        return "None (no answer)"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _attach(panel: Panel, view: Any) -> Panel:
    panel.view = view        # tests and the benchmark reach the figure through the panel
    return panel


# ---------------------------------------------------------------- section 1: sampling noise

class NoiseView:
    r"""Left: pass@1 of many evaluation runs of one model (one dot each), with 1 and with ``K``
    samples per question. Right: the spread over runs against ``K`` and the formula
    :func:`r1lib.labs.eval_sim.pass1_sd_fixed_questions`.

    Parameters
    ----------
    pass1_runs : array, shape (runs, K_max)
        ``pass1_runs[s, K-1]``: pass@1 of run ``s`` scored with its first ``K`` samples.
    true_pass1 : float
        The benchmark's true pass@1 (mean of the per-question rates).
    p_correct : array, shape (P,)
        Per-question true rates (for the theory curve).
    rng : numpy.random.Generator, optional
        For the vertical jitter of the dots (display only); default ``default_rng(1)``.
    """

    def __init__(self, pass1_runs: np.ndarray, true_pass1: float, p_correct: np.ndarray,
                 rng: Optional[np.random.Generator] = None) -> None:
        self.runs = np.asarray(pass1_runs, dtype=float)
        n_runs, k_max = self.runs.shape
        self.truth = float(true_pass1)
        self.k_grid = np.arange(1, k_max + 1)
        self.sd_runs = self.runs.std(axis=0)
        sd_theory = eval_sim.pass1_sd_fixed_questions(p_correct, self.k_grid)
        rng = np.random.default_rng(1) if rng is None else rng
        self.jitter = rng.uniform(-0.3, 0.3, n_runs)          # vertical spread of the dots only
        self.half_one = self.half_width(1)

        fig, (ax_h, ax_s) = fixed_pair_figure()
        x1 = 100 * self.runs[:, 0]
        ax_h.scatter(x1, 1 + self.jitter, s=6, color=GREY, alpha=0.6)
        self.strip = ax_h.scatter(x1, self.jitter, s=6, color=BLUE, alpha=0.6)
        self.range_line, = ax_h.plot([], [], color=ORANGE, linewidth=3, solid_capstyle="butt",
                                     label="95 % of runs")
        ax_h.plot(100 * self.truth + np.array([-self.half_one, self.half_one]), [1.42, 1.42],
                  color=ORANGE, linewidth=3, solid_capstyle="butt")
        ax_h.axvline(100 * self.truth, color=BLACK, linestyle="--", label="true pass@1")
        ax_h.set_yticks([0, 1], ["K", "1"])
        ax_h.set(xlabel="pass@1 estimate of one run (%)", ylabel="samples per problem",
                 xlim=(x1.min() - 0.5, x1.max() + 0.5), ylim=(-0.55, 1.75),
                 title=f"The same model, {n_runs} evaluation runs (one dot each)")
        ax_h.grid(False)
        ax_h.legend(loc="upper left", fontsize=8)
        ax_s.plot(self.k_grid, 100 * sd_theory, color=BLACK, linestyle="--",
                  label=r"theory $\sqrt{\sum_i p_i(1-p_i)/K}\,/P$")
        ax_s.plot(self.k_grid, 100 * self.sd_runs, "o", markersize=3, color=BLUE, label="sd over the runs")
        self.marker, = ax_s.plot([], [], "o", markersize=11, markerfacecolor="none",
                                 markeredgecolor=ORANGE, markeredgewidth=2, label="chosen K")
        _log2_axis(ax_s, [t for t in LOG2_TICKS if t <= k_max])
        ax_s.set_yscale("log")
        ax_s.set_yticks([0.2, 0.5, 1, 2], ["0.2", "0.5", "1", "2"])
        ax_s.minorticks_off()
        ax_s.set(xlabel="samples per problem K", ylabel="sd of pass@1 over runs (pp)",
                 title=r"The spread shrinks like $1/\sqrt{K}$")
        ax_s.legend(fontsize=8)
        _fast_text(ax_h, ax_s)
        ax_h.yaxis.set_label_coords(-0.06, 0.5)
        self.fig = fig
        self.canvas = BlitCanvas(fig, [self.strip, self.range_line, self.marker])

    def half_width(self, K: int) -> float:
        """95 % of runs lie within this many percentage points of the truth."""
        return float(100 * np.percentile(np.abs(self.runs[:, K - 1] - self.truth), 95))

    def update(self, K: int) -> str:
        self.strip.set_offsets(np.column_stack([100 * self.runs[:, K - 1], self.jitter]))
        half = self.half_width(K)
        self.range_line.set_data(100 * self.truth + np.array([-half, half]), [-0.42, -0.42])
        self.marker.set_data([K], [100 * self.sd_runs[K - 1]])
        return (f"K = {K}: 95 % of runs land within ±{half:.2f} pp of the true pass@1 "
                f"(one sample: ±{self.half_one:.2f} pp)")


def noise_panel(pass1_runs: np.ndarray, true_pass1: float, p_correct: np.ndarray, K: int = 1,
                rng: Optional[np.random.Generator] = None) -> Panel:
    """Slider ``K`` (samples per problem) over :class:`NoiseView`."""
    view = NoiseView(pass1_runs, true_pass1, p_correct, rng=rng)
    k_max = view.k_grid[-1]

    def draw(K):
        return view.fig, view.update(K)

    return _attach(Panel("noise", {"K": int_slider("samples per problem K", K, 1, int(k_max))}, draw,
                         height="340px"), view)


# ------------------------------------------------------- section 2: which standard error

class StderrView:
    r"""Replications of an evaluation (new questions from a population, new samples each): their
    naive and clustered 95 % intervals (left), and both standard errors against ``k`` next to the
    true spread (right).

    Parameters
    ----------
    p_population : array, shape (N,)
        Success rates of the population of questions.
    p_reps : array, shape (replications, P_max)
        Each replication's questions (rates drawn from the population); a replication with ``P``
        questions uses the first ``P`` columns.
    k_max : int
        Largest number of samples per question on the slider.
    seed : int
        The correct counts for ``(k, P)`` are drawn from ``default_rng([seed, k, P])``: the same
        controls always show the same replications.
    shown_reps : int
        How many replications the left plot draws.
    """

    def __init__(self, p_population: np.ndarray, p_reps: np.ndarray, k_max: int = 64,
                 seed: int = 7, shown_reps: int = 30) -> None:
        self.seed = seed
        self.p_pop = np.asarray(p_population, dtype=float)
        self.p_reps = np.asarray(p_reps, dtype=float)
        self.pop_pass1 = float(self.p_pop.mean())
        self.k_grid = np.arange(1, k_max + 1)
        self.shown = shown_reps
        self.rows = np.arange(shown_reps)

        fig, (ax_f, ax_k) = fixed_pair_figure(height=3.8)
        self.ax_f, self.ax_k = ax_f, ax_k
        self.ci_clustered = ax_f.hlines(self.rows + 0.2, 0, 1, color=BLUE, linewidth=1.5,
                                        label="clustered 95 % CI")
        self.ci_naive = ax_f.hlines(self.rows - 0.2, 0, 1, color=ORANGE, linewidth=2.5,
                                    label="naive 95 % CI")
        self.dots, = ax_f.plot([], [], "o", markersize=3, color=BLACK)
        self.pop_line = ax_f.axvline(100 * self.pop_pass1, ymax=0.85, color=BLACK, linestyle="--",
                                     label="population pass@1")
        ax_f.set(xlabel="pass@1 (%)", ylabel="replication", ylim=(-1, shown_reps + 5),
                 title=f"{shown_reps} replications: new questions, new samples")
        ax_f.legend(loc="upper left", ncol=3, fontsize=7)
        zeros = np.zeros(k_max)
        self.true_curve, = ax_k.plot(self.k_grid, zeros, color=BLACK, linestyle="--",
                                     label="true sd (total variance)")
        self.naive_curve, = ax_k.plot(self.k_grid, zeros, color=ORANGE, label="naive SE (formula)")
        self.sim_sd, = ax_k.plot([], [], "o", color=BLACK, markersize=8, label="sd over replications")
        self.sim_clustered, = ax_k.plot([], [], "s", color=BLUE, markersize=6, label="mean clustered SE")
        self.sim_naive, = ax_k.plot([], [], "D", color=ORANGE, markersize=6, label="mean naive SE")
        _log2_axis(ax_k, [t for t in LOG2_TICKS if t <= k_max])
        ax_k.set(xlabel="samples per question k", ylabel="standard error (pp)",
                 title="Only the clustered SE tracks the truth")
        ax_k.legend(loc="lower left", fontsize=8)
        _fast_text(ax_f, ax_k)
        # The x range of the left plot and the y range of the right one follow P and k: those
        # axes are redrawn on every update, with everything plotted in their data coordinates.
        self.fig = fig
        self.canvas = BlitCanvas(fig, [ax_f.xaxis, self.pop_line, self.ci_clustered, self.ci_naive,
                                       self.dots, ax_k.yaxis, self.true_curve, self.naive_curve,
                                       self.sim_sd, self.sim_clustered, self.sim_naive])

    def update(self, k: int, P_questions: int) -> str:
        # seeded by the controls: the same (k, P) always shows the same replications
        c = np.random.default_rng([self.seed, k, P_questions]).binomial(k, self.p_reps[:, :P_questions])
        rep = pass_at_1(k, c)             # batched: one estimate and clustered SE per replication
        naive = naive_se(k, c)
        true_sd = rep.value.std()
        miss = np.abs(rep.value - self.pop_pass1)
        cover_c, cover_n = np.mean(miss <= Z95 * rep.se), np.mean(miss <= Z95 * naive)
        v = 100 * rep.value[:self.shown]
        hc, hn = 100 * Z95 * rep.se[:self.shown], 100 * Z95 * naive[:self.shown]
        self.ci_clustered.set_segments([[(a - h, y + 0.2), (a + h, y + 0.2)] for a, h, y in zip(v, hc, self.rows)])
        self.ci_naive.set_segments([[(a - h, y - 0.2), (a + h, y - 0.2)] for a, h, y in zip(v, hn, self.rows)])
        self.dots.set_data(v, self.rows)
        reach = max(np.abs(v - 100 * self.pop_pass1).max() + hc.max(), 1.0)
        self.ax_f.set_xlim(100 * self.pop_pass1 - 1.1 * reach, 100 * self.pop_pass1 + 1.1 * reach)
        true_curve = 100 * eval_sim.pass1_sd_new_questions(self.p_pop, self.k_grid, P_questions)
        self.true_curve.set_ydata(true_curve)
        self.naive_curve.set_ydata(100 * eval_sim.naive_se_new_questions(self.p_pop, self.k_grid, P_questions))
        self.sim_sd.set_data([k], [100 * true_sd])
        self.sim_clustered.set_data([k], [100 * rep.se.mean()])
        self.sim_naive.set_data([k], [100 * naive.mean()])
        self.ax_k.set_ylim(0, 1.1 * max(true_curve[0], 100 * true_sd, 100 * rep.se.mean()))
        return (f"k = {k}, P = {P_questions}: true sd {100 * true_sd:.2f} pp; clustered SE "
                f"{100 * rep.se.mean():.2f} pp, its 95 % CIs cover {cover_c:.0%}; naive SE "
                f"{100 * naive.mean():.2f} pp, covers {cover_n:.0%}")


def stderr_panel(p_population: np.ndarray, p_reps: np.ndarray, seed: int = 7, k: int = 64,
                 P_questions: int = 300, k_max: int = 64) -> Panel:
    """Sliders ``k`` (samples per question) and ``P_questions`` over :class:`StderrView`."""
    view = StderrView(p_population, p_reps, k_max=k_max, seed=seed)
    p_max = int(np.asarray(p_reps).shape[1])

    def draw(k, P_questions):
        return view.fig, view.update(k, P_questions)

    controls = {"k": int_slider("samples per question k", k, 1, k_max),
                "P_questions": int_slider("questions P", P_questions, 30, p_max, step=10)}
    return _attach(Panel("stderr", controls, draw, height="360px"), view)


# ------------------------------------------- section 3: evaluation at real benchmark sizes

class PowerView:
    r"""Comparing a model with a baseline on ``P`` questions with ``n`` samples each.

    The baseline's solve rates are a population of questions (for example
    :func:`r1lib.labs.eval_sim.beta_rates`); the model is better by a true gain ``g`` through a
    logit shift on every question (:func:`r1lib.labs.eval_sim.logit_shift`). Left: the standard
    error of "model minus baseline" against ``n`` for the chosen ``P``, paired and unpaired
    (:func:`r1lib.standard_error` of :func:`r1lib.labs.eval_sim.population_components`), the
    paired floor at ``n -> inf`` and the SE at which the chosen gain reaches 80 % power; the dot
    is the spread of the paired estimate over simulated evaluations. Right: the probability that
    the 95 % interval excludes 0 against the true gain (:func:`r1lib.detection_power`), with the
    paired SE and with the unpaired SE applied to the same questions (``interval=``), and the
    simulated rates at the chosen gain.

    Parameters
    ----------
    p_population : array, shape (N,)
        The baseline's solve rates on a population of questions.
    gains : array
        True gains (fractions, increasing from 0) the gain slider steps through; the model's rates
        for each are computed once here.
    n_max : int
        Largest number of samples per question.
    reps : int
        Simulated evaluations per update.
    seed : int
        Simulations for ``(P, n, gain)`` use ``default_rng([seed, P, n, index of gain])``.
    """

    SE_LIM = (0.2, 40.0)        # pp, log scale: AIME-sized comparisons up to 500 questions

    def __init__(self, p_population: np.ndarray, gains: np.ndarray, n_max: int = 64,
                 reps: int = 400, seed: int = 20, power: float = 0.8) -> None:
        self.p_base = np.asarray(p_population, dtype=float)
        self.gains = np.asarray(gains, dtype=float)
        self.reps, self.seed, self.power = reps, seed, power
        self.n_grid = np.arange(1, n_max + 1)
        self.p_model = [eval_sim.logit_shift(self.p_base, eval_sim.shift_for_gain(self.p_base, g))
                        for g in self.gains]
        base = eval_sim.population_components(self.p_base)
        self.paired = []
        self.unpaired = []
        for p_model in self.p_model:
            self.paired.append(eval_sim.population_components(p_model, baseline=self.p_base))
            own = eval_sim.population_components(p_model)
            self.unpaired.append(VarianceComponents(own.between + base.between, own.within + base.within))
        # detection_power(g) reaches the target power exactly when SE = g / r*
        self.r_star = detectable_difference((0.0, 1.0), 1, 1, power=power)

        # the legends sit above the plots (the curves go everywhere inside them)
        fig, (ax_s, ax_p) = fixed_pair_figure(height=4.2, bottom=0.13, axes_height=0.66)
        self.ax_s, self.ax_p = ax_s, ax_p
        zeros = np.zeros(n_max)
        self.unpaired_curve, = ax_s.plot(self.n_grid, zeros, color=ORANGE, linewidth=2,
                                         label="unpaired SE")
        self.paired_curve, = ax_s.plot(self.n_grid, zeros, color=BLUE, linewidth=2, label="paired SE")
        self.floor_line, = ax_s.plot([1, n_max], [1, 1], color=BLUE, linestyle=":", linewidth=1.5,
                                     label=r"paired floor, $n\to\infty$")
        self.need_line, = ax_s.plot([1, n_max], [1, 1], color=BLACK, linestyle="--", linewidth=1,
                                    label=f"SE for {power:.0%} power at this gain")
        self.n_marks, = ax_s.plot([], [], "o", markersize=7, markerfacecolor="none",
                                  markeredgecolor=BLACK, markeredgewidth=1.5)
        self.sim_sd, = ax_s.plot([], [], "D", color=BLUE, markersize=5,
                                 label="paired: sd over simulated runs")
        _log2_axis(ax_s, [t for t in LOG2_TICKS if t <= n_max])
        ax_s.set_yscale("log")
        ticks = [0.5, 1, 2, 5, 10, 20]
        ax_s.set_yticks(ticks, [str(t) for t in ticks])
        ax_s.minorticks_off()
        ax_s.set(xlabel="samples per question n", ylabel="SE of model minus baseline (pp)",
                 ylim=self.SE_LIM, xlim=(0.85, 1.2 * n_max))
        ax_s.legend(loc="lower left", bbox_to_anchor=(0.0, 1.02), borderaxespad=0, ncol=2, fontsize=8,
                    frameon=False)
        g_pp = 100 * self.gains
        self.power_unpaired, = ax_p.plot(g_pp, np.zeros_like(g_pp), color=ORANGE, linewidth=2,
                                         label="unpaired SE (same questions)")
        self.power_paired, = ax_p.plot(g_pp, np.zeros_like(g_pp), color=BLUE, linewidth=2, label="paired")
        ax_p.axhline(power, color=GREY, linestyle="--", linewidth=1, label=f"{power:.0%} power")
        ax_p.axhline(0.05, color=GREY, linestyle=":", linewidth=1, label="5 % false alarms")
        self.gain_line = ax_p.axvline(0, color=GREY, linewidth=1)
        self.sim_paired, = ax_p.plot([], [], "D", color=BLUE, markersize=6, markeredgecolor=BLACK,
                                     label="simulated runs")
        self.sim_unpaired, = ax_p.plot([], [], "D", color=ORANGE, markersize=6, markeredgecolor=BLACK)
        ax_p.set(xlabel="true gain of the model (pp of pass@1)", ylabel="P(95 % interval excludes 0)",
                 xlim=(0, g_pp[-1]), ylim=(-0.02, 1.02))
        ax_p.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
        ax_p.legend(loc="lower left", bbox_to_anchor=(0.0, 1.02), borderaxespad=0, ncol=2, fontsize=8,
                    frameon=False)
        _fast_text(ax_s, ax_p)
        self.fig = fig
        self.canvas = BlitCanvas(fig, [self.unpaired_curve, self.paired_curve, self.floor_line,
                                       self.need_line, self.n_marks, self.sim_sd, self.power_unpaired,
                                       self.power_paired, self.gain_line, self.sim_paired,
                                       self.sim_unpaired])

    def index(self, gain_pp: float) -> int:
        """The gain grid's entry nearest ``gain_pp`` (percentage points)."""
        return int(np.argmin(np.abs(100 * self.gains - gain_pp)))

    def update(self, P_questions: int, n: int, gain: float) -> str:
        i = self.index(gain)
        g = float(self.gains[i])
        paired, unpaired = self.paired[i], self.unpaired[i]
        se_p = 100 * standard_error(paired, self.n_grid, P_questions)
        se_u = 100 * standard_error(unpaired, self.n_grid, P_questions)
        self.paired_curve.set_ydata(se_p)
        self.unpaired_curve.set_ydata(se_u)
        floor = max(100 * float(np.sqrt(paired.between / P_questions)), self.SE_LIM[0])
        self.floor_line.set_ydata([floor, floor])
        need = 100 * g / self.r_star if g > 0 else self.SE_LIM[0]
        self.need_line.set_ydata([max(need, self.SE_LIM[0])] * 2)
        self.n_marks.set_data([n, n], [se_p[n - 1], se_u[n - 1]])
        rng = np.random.default_rng([self.seed, P_questions, n, i])
        c_m, c_b = eval_sim.simulate_counts(self.p_model[i], P_questions, n, self.reps, rng,
                                            baseline=self.p_base)
        est_p = paired_difference(c_m / n, c_b / n)        # what each simulated run reports
        est_u = unpaired_difference(c_m / n, c_b / n)
        sim_p = float(np.mean(np.abs(est_p.value) > Z95 * est_p.se))
        sim_u = float(np.mean(np.abs(est_u.value) > Z95 * est_u.se))
        self.sim_sd.set_data([n], [100 * est_p.value.std()])
        pow_p = np.array([detection_power(gg, c, n, P_questions) for gg, c in zip(self.gains, self.paired)])
        pow_u = np.array([detection_power(gg, c, n, P_questions, interval=u)
                          for gg, c, u in zip(self.gains, self.paired, self.unpaired)])
        self.power_paired.set_ydata(pow_p)
        self.power_unpaired.set_ydata(pow_u)
        self.gain_line.set_xdata([100 * g, 100 * g])
        self.sim_paired.set_data([100 * g], [sim_p])
        self.sim_unpaired.set_data([100 * g], [sim_u])
        head = (f"P = {P_questions}, n = {n}: paired SE {se_p[n - 1]:.2f} pp, unpaired {se_u[n - 1]:.2f} pp; ")
        if g == 0:
            return head + (f"no true gain: 'detected' in {sim_p:.0%} of {self.reps} simulated runs "
                           f"(false alarms; the test allows 5 %)")
        need_q = questions_needed(g, paired, n, power=self.power)
        return head + (f"a {100 * g:.1f} pp gain is detected with probability {pow_p[i]:.0%} paired "
                       f"(simulated {sim_p:.0%}), {pow_u[i]:.0%} unpaired (simulated {sim_u:.0%}); "
                       f"{self.power:.0%} power needs {need_q} questions at n = {n}")


def power_panel(p_population: np.ndarray, gains: np.ndarray, P_questions: int = 30, n: int = 16,
                gain: float = 5.0, n_max: int = 64, p_max: int = 500, seed: int = 20) -> Panel:
    """Sliders ``P_questions``, ``n`` (samples per question) and ``gain`` (the true gain in pp, on
    the grid ``gains``) over :class:`PowerView`."""
    view = PowerView(p_population, gains, n_max=n_max, seed=seed)
    g_max = float(100 * np.max(gains))
    step = float(100 * (gains[1] - gains[0]))

    def draw(P_questions, n, gain):
        return view.fig, view.update(P_questions, n, gain)

    controls = {"P_questions": int_slider("questions P", P_questions, 10, p_max, step=10),
                "n": int_slider("samples per question n", n, 1, n_max),
                "gain": float_slider("true gain (pp)", gain, 0.0, g_max, step, readout_format=".1f")}
    return _attach(Panel("power", controls, draw, height="390px"), view)


# ------------------------------------------------------------------- section 4: pass@k

class PassAtKView:
    r"""Left: pass@k against k from one evaluation run's first ``n`` samples per question
    (unbiased estimator with clustered 95 % error bars, plug-in, truth). Right: where each of many
    runs lands, estimate minus truth, for the chosen ``(n, k)``.

    Parameters
    ----------
    cum_run : array, shape (P, n_max)
        ``cum_run[i, n-1]``: correct samples among the first ``n`` of question ``i`` in the run.
    cum_runs : array, shape (runs, P, n_max)
        The same for many independent runs.
    truth_curve : array, shape (n_max,)
        The benchmark's true pass@k for k = 1..n_max.
    rng : numpy.random.Generator, optional
        For the vertical jitter of the dots (display only); default ``default_rng(2)``.
    """

    ERR_LIM = (-12.0, 6.0)   # estimate - truth (pp) shown on the right

    def __init__(self, cum_run: np.ndarray, cum_runs: np.ndarray, truth_curve: np.ndarray,
                 rng: Optional[np.random.Generator] = None) -> None:
        self.cum_run, self.cum_runs = np.asarray(cum_run), np.asarray(cum_runs)
        self.truth_curve = np.asarray(truth_curve, dtype=float)
        n_runs = self.cum_runs.shape[0]
        n_max = self.cum_run.shape[1]
        k_grid = np.arange(1, n_max + 1)
        rng = np.random.default_rng(2) if rng is None else rng
        self.jitter = rng.uniform(-0.3, 0.3, n_runs)          # vertical spread of the dots only

        fig, (ax_c, ax_r) = fixed_pair_figure(height=3.8)
        ax_c.plot(k_grid, 100 * self.truth_curve, color=BLACK, linestyle="--",
                  label="truth: mean $1-(1-p_i)^k$")
        self.bars = ax_c.vlines([1], [0], [1], color=BLUE, linewidth=1)
        self.curve, = ax_c.plot([], [], "o-", markersize=3, color=BLUE, label="unbiased estimate, 95 % CI")
        self.plug, = ax_c.plot([], [], "s-", markersize=3, color=ORANGE, label="plug-in $1-(1-c/n)^k$")
        self.k_mark, = ax_c.plot([], [], "o", markersize=12, markerfacecolor="none",
                                 markeredgecolor=BLACK, markeredgewidth=1.5, label="chosen k")
        _log2_axis(ax_c, [t for t in LOG2_TICKS if t <= n_max])
        ax_c.set(xlabel="k", ylabel="pass@k (%)", xlim=(0.8, 1.25 * n_max), ylim=(40, 100),
                 title="pass@k versus k, from the first n samples")
        ax_c.legend(loc="lower right", fontsize=8)
        zeros = np.zeros(n_runs)
        self.strip_unb = ax_r.scatter(zeros, 1 + self.jitter, s=6, color=BLUE, alpha=0.5)
        self.strip_plug = ax_r.scatter(zeros, self.jitter, s=6, color=ORANGE, alpha=0.5)
        self.means, = ax_r.plot([], [], "D", color=BLACK, markersize=6, label="mean over runs")
        ax_r.axvline(0, color=BLACK, linestyle="--", label="no error")
        ax_r.set_yticks([0, 1], ["plug-in", "unbiased"])
        ax_r.set(xlabel="estimate minus true pass@k (pp)", xlim=self.ERR_LIM, ylim=(-0.6, 1.9),
                 title=f"{n_runs} runs: where the estimators land")
        ax_r.grid(False)
        ax_r.legend(loc="upper left", ncol=2, fontsize=8)
        _fast_text(ax_c, ax_r)
        self.fig = fig
        self.canvas = BlitCanvas(fig, [self.bars, self.curve, self.plug, self.k_mark,
                                       self.strip_unb, self.strip_plug, self.means])

    def update(self, n: int, k: int) -> str:
        note = ""
        if k > n:   # pass@k from n samples is undefined beyond k = n
            k, note = n, f" (k > n: showing k = n = {n})"
        ks = np.arange(1, n + 1)
        c_values = np.arange(n + 1)[:, None]
        table = pass_at_k(n, c_values, ks[None, :])          # (n+1, n): pass@k for every c and k
        plug_table = eval_sim.plugin_pass_at_k(n, c_values, ks[None, :])
        counts = self.cum_run[:, n - 1]
        curve = mean_with_se(table[counts], axis=0)          # per question, then over questions
        lo, hi = 100 * (curve.value - Z95 * curve.se), 100 * (curve.value + Z95 * curve.se)
        self.bars.set_segments([[(x, a), (x, b)] for x, a, b in zip(ks, lo, hi)])
        self.curve.set_data(ks, 100 * curve.value)
        self.plug.set_data(ks, 100 * plug_table[counts].mean(axis=0))
        self.k_mark.set_data([k], [100 * curve.value[k - 1]])
        truth = self.truth_curve[k - 1]
        counts_runs = self.cum_runs[:, :, n - 1]
        err_unb = 100 * (table[:, k - 1][counts_runs].mean(axis=1) - truth)     # lookup over c
        err_plug = 100 * (plug_table[:, k - 1][counts_runs].mean(axis=1) - truth)
        self.strip_unb.set_offsets(np.column_stack([err_unb, 1 + self.jitter]))
        self.strip_plug.set_offsets(np.column_stack([err_plug, self.jitter]))
        self.means.set_data([err_unb.mean(), err_plug.mean()], [1.45, 0.45])
        return (f"n = {n}, k = {k}{note}: pass@{k} = {100 * curve.value[k - 1]:.1f} ± "
                f"{100 * Z95 * curve.se[k - 1]:.1f} %; mean error over {len(err_unb)} runs: "
                f"unbiased {err_unb.mean():+.2f} pp, plug-in {err_plug.mean():+.2f} pp")


def passk_panel(cum_run: np.ndarray, cum_runs: np.ndarray, truth_curve: np.ndarray,
                n: int = 16, k: int = 8, rng: Optional[np.random.Generator] = None) -> Panel:
    """Sliders ``n`` (samples per question) and ``k`` over :class:`PassAtKView`."""
    view = PassAtKView(cum_run, cum_runs, truth_curve, rng=rng)
    n_max = int(np.asarray(cum_run).shape[1])

    def draw(n, k):
        return view.fig, view.update(n, k)

    controls = {"n": int_slider("samples per question n", n, 1, n_max), "k": int_slider("k", k, 1, n_max)}
    return _attach(Panel("passk", controls, draw, height="360px"), view)


# ------------------------------------------------------------- section 5: majority voting

class VoteView:
    r"""Left: maj@k against k (exact U-statistic, one curve per tie rule, shown one at a time),
    with the first-k vote, pass@k, pass@1 and the large-k limit. Right: per question, maj@k
    against pass@1, coloured by whether the correct answer is the model's plurality answer.

    Parameters
    ----------
    maj : mapping tie rule -> array (P, k_max)
        ``maj[ties][i, k-1]``: exact maj@k of question ``i`` (:func:`r1lib.maj_at_k`).
    first_k : array (P, k_max) of bool
        Is the vote over the first ``k`` samples correct?
    passk_curve : array (k_max,)
        The benchmark's pass@k estimate.
    pass1 : array (P,)
        Each question's pass@1 in the run.
    plurality : array (P,) of bool
        Is the correct answer the model's most likely answer?
    """

    def __init__(self, maj: Mapping[str, np.ndarray], first_k: np.ndarray, passk_curve: np.ndarray,
                 pass1: np.ndarray, plurality: np.ndarray) -> None:
        self.maj = {t: np.asarray(v, dtype=float) for t, v in maj.items()}
        self.curves = {t: mean_with_se(v, axis=0) for t, v in self.maj.items()}
        self.pass1 = np.asarray(pass1, dtype=float)
        self.plurality = np.asarray(plurality, dtype=bool)
        k_max = next(iter(self.maj.values())).shape[1]
        k_grid = np.arange(1, k_max + 1)

        fig, (ax_v, ax_q) = fixed_pair_figure(height=3.8)
        self.lines = {}
        for ties, cv in self.curves.items():   # one band and line per rule, built once
            band = ax_v.fill_between(k_grid, 100 * (cv.value - Z95 * cv.se), 100 * (cv.value + Z95 * cv.se),
                                     color=BLUE, alpha=0.2, linewidth=0)
            line, = ax_v.plot(k_grid, 100 * cv.value, color=BLUE, linewidth=2,
                              label="maj@k exact (95 % CI)" if ties == "split" else None)
            self.lines[ties] = (band, line)
        ax_v.plot(k_grid, 100 * np.asarray(first_k).mean(axis=0), color=YELLOW, linewidth=1,
                  label="vote over first k")
        ax_v.plot(k_grid, 100 * np.asarray(passk_curve), color=GREY, linestyle=":", label="pass@k")
        ax_v.axhline(100 * self.pass1.mean(), color=BLACK, linewidth=1, label="pass@1")
        ax_v.axhline(100 * self.plurality.mean(), color=GREEN, linestyle="--", label=r"limit $k\to\infty$")
        self.k_line = ax_v.axvline(1, ymax=0.72, color=GREY, linewidth=1)   # stops below the legend
        _log2_axis(ax_v, [t for t in LOG2_TICKS if t <= k_max])
        ax_v.set(xlabel="k (samples voted on)", ylabel="accuracy (%)", ylim=(40, 100), xlim=(0.9, 1.1 * k_max))
        self.title = ax_v.set_title("Majority voting, ties = split")
        ax_v.legend(loc="upper left", fontsize=7, ncol=2)
        good, bad = self.plurality, ~self.plurality
        self.dots_good = ax_q.scatter(self.pass1[good], self.pass1[good], s=9, color=GREEN,
                                      label="correct answer is the plurality")
        self.dots_bad = ax_q.scatter(self.pass1[bad], self.pass1[bad], s=9, color=ORANGE,
                                     label="a wrong answer is the plurality")
        ax_q.plot([0, 1], [0, 1], color=BLACK, linewidth=1, label="maj@k = pass@1")
        ax_q.set(xlabel="per-question pass@1 (its samples)", xlim=(-0.02, 1.02), ylim=(-0.02, 1.02),
                 title="Above the line voting helps, below it hurts",
                 ylabel="maj@k of the question (k on the slider)")
        ax_q.legend(loc="lower right", fontsize=7)
        _fast_text(ax_v, ax_q)
        quarters = [0, 0.25, 0.5, 0.75, 1]
        ax_q.set_xticks(quarters)
        ax_q.set_yticks(quarters)
        self.fig = fig
        self.canvas = BlitCanvas(fig, [a for pair in self.lines.values() for a in pair]
                                 + [self.k_line, self.title, self.dots_good, self.dots_bad])

    def update(self, k: int, ties: str) -> str:
        for name, (band, line) in self.lines.items():
            band.set_visible(name == ties)
            line.set_visible(name == ties)
        curve = self.curves[ties]
        per_q = self.maj[ties][:, k - 1]
        self.k_line.set_xdata([k, k])
        self.title.set_text(f"Majority voting, ties = {ties}")
        good, bad = self.plurality, ~self.plurality
        self.dots_good.set_offsets(np.column_stack([self.pass1[good], per_q[good]]))
        self.dots_bad.set_offsets(np.column_stack([self.pass1[bad], per_q[bad]]))
        helps = int((per_q > self.pass1 + 1e-12).sum())
        hurts = int((per_q < self.pass1 - 1e-12).sum())
        return (f"k = {k}, ties = {ties}: maj@{k} = {100 * curve.value[k - 1]:.1f} ± "
                f"{100 * Z95 * curve.se[k - 1]:.1f} % vs pass@1 {100 * self.pass1.mean():.1f} %; "
                f"voting helps on {helps} questions, hurts on {hurts}")


def vote_panel(maj: Mapping[str, np.ndarray], first_k: np.ndarray, passk_curve: np.ndarray,
               pass1: np.ndarray, plurality: np.ndarray, k: int = 16, ties: str = "split") -> Panel:
    """Slider ``k`` and a dropdown for the tie rule over :class:`VoteView`."""
    import ipywidgets as w

    view = VoteView(maj, first_k, passk_curve, pass1, plurality)
    k_max = int(np.asarray(first_k).shape[1])

    def draw(k, ties):
        return view.fig, view.update(k, ties)

    ties_control = w.Dropdown(options=list(view.maj), value=ties, description="ties",
                              layout=w.Layout(width="200px"))
    return _attach(Panel("vote", {"k": int_slider("k", k, 1, k_max), "ties": ties_control}, draw,
                         height="360px"), view)


# ------------------------------------------------------------ section 6: text -> verdict

class VerdictView:
    """Four boxes: the raw output, what :func:`r1lib.extract_answer` takes from it, what
    :func:`r1lib.normalize_answer` makes of that, and the verdict against the gold answer."""

    STEPS = 4

    def __init__(self) -> None:
        fig, ax = new_figure(1, width=10, height=1.7)
        fig.set_layout_engine(None)
        ax.set_position([0.0, 0.0, 1.0, 1.0])
        ax.set_axis_off()
        self.titles, self.texts = [], []
        for i in range(self.STEPS):
            x = 0.01 + 0.25 * i
            self.titles.append(ax.text(x, 0.95, " ", weight="bold", fontsize=10, va="top", parse_math=False))
            self.texts.append(ax.text(x, 0.72, " ", family="monospace", fontsize=9, va="top", parse_math=False,
                                      bbox=dict(boxstyle="round", facecolor="#f4f4f4", edgecolor=GREY)))
            if i < self.STEPS - 1:
                ax.annotate("", xy=(x + 0.245, 0.62), xytext=(x + 0.215, 0.62),
                            arrowprops=dict(arrowstyle="->", color=BLACK))
        ax.set(xlim=(0, 1), ylim=(0, 1))
        self.fig = fig
        self.canvas = BlitCanvas(fig, self.titles + self.texts)

    @staticmethod
    def verdict(output: str, gold: str) -> tuple:
        """``(answer, value, gold_value, verdict)`` for one output and one gold answer."""
        answer = extract_answer(output)
        value = normalize_answer(answer)
        gold_value = normalize_answer(gold)
        if gold_value is None:
            text = "(gold has no answer)"
        elif value is None:
            text = "no answer -> wrong"
        else:
            text = "correct" if value == gold_value else "wrong"
        return answer, value, gold_value, text

    def update(self, output: str, gold: str) -> str:
        answer, value, gold_value, verdict = self.verdict(output, gold)
        tail = output if len(output) <= 120 else "..." + output[-117:]
        steps = [("raw output", tail), ("extract_answer", shown(answer)),
                 ("normalize_answer", shown(value)), (f"verdict (gold: {shown(gold_value)})", verdict)]
        for (title, text), t_title, t_text in zip(steps, self.titles, self.texts):
            t_title.set_text(title)
            t_text.set_text("\n".join(textwrap.wrap(text, 24)[:6]) or " ")
        return f"verdict: {verdict}"


def verdict_panel(output: str, gold: str = "1/2") -> Panel:
    """A text area (model output) and a text box (gold answer) over :class:`VerdictView`."""
    import ipywidgets as w

    view = VerdictView()

    def draw(output, gold):
        return view.fig, view.update(output, gold)

    output_box = w.Textarea(value=output, description="model output", continuous_update=False,
                            style={"description_width": "initial"},
                            layout=w.Layout(width="660px", height="80px"))
    gold_box = w.Text(value=gold, description="gold", continuous_update=False,
                      style={"description_width": "initial"}, layout=w.Layout(width="200px"))
    return _attach(Panel("verdict", {"output": output_box, "gold": gold_box}, draw, height="180px"), view)


# ------------------------------------------------------------------------- static figures

def benchmark_figure(bench: eval_sim.SimulatedBenchmark, temperature: float = 0.6,
                     other_temperature: float = 1.0):
    """Left: histogram of the per-problem true pass@1 at two temperatures. Right: the answer
    distribution of three example problems (easy; hard with the right answer on top; a wrong
    answer on top). Returns ``(fig, examples)`` with ``examples`` name -> problem index."""
    probs = bench.probabilities(temperature)
    p_true = probs[:, 0]
    plurality = p_true > probs[:, 1:-1].max(axis=1)
    fig, (ax1, ax2) = new_figure(2, width=10, height=3.4)
    edges = np.linspace(0, 1, 21)
    for t, color in ((temperature, BLUE), (other_temperature, YELLOW)):
        counts, _ = np.histogram(bench.p_correct(t), edges)
        ax1.stairs(counts, edges, color=color, linewidth=2, label=f"T = {t}")
    ax1.set(xlabel="true per-problem pass@1  $p_{i,correct}$", ylabel="problems",
            title="A spread of difficulties")
    ax1.legend()
    examples = {"easy": int(np.argmax(p_true)),
                "hard, right answer on top": int(np.argmin(np.where(plurality, p_true, 2))),
                "a wrong answer on top": int(np.argmax(np.where(plurality, -1, p_true)))}
    colors = [GREEN, ORANGE, YELLOW, PINK, BLUE, GREY, BLACK]
    names = ["correct"] + [f"wrong {j}" for j in range(1, bench.n_wrong + 1)] + ["no answer"]
    for row, i in enumerate(examples.values()):
        left = np.concatenate([[0.0], np.cumsum(probs[i])[:-1]])
        for j in range(probs.shape[1]):
            ax2.barh(row, probs[i, j], left=left[j], color=colors[j % len(colors)],
                     label=names[j] if row == 0 else None)
    ax2.set_yticks(range(len(examples)), [f"{name}\n(problem {i})" for name, i in examples.items()])
    ax2.set(xlabel=f"probability of each outcome at T = {temperature}", xlim=(0, 1),
            title="One problem's answer distribution")
    ax2.legend(ncol=3, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax2.grid(False)
    return fig, examples


def paired_figure(paired, unpaired, true_gain: float, n_questions: int, k: int):
    """Two 95 % intervals for the same difference of two models: paired and unpaired SE."""
    fig, ax = new_figure(1, width=7, height=2.4)
    for row, (e, color) in enumerate(((paired, BLUE), (unpaired, ORANGE))):
        lo, hi = e.interval()
        ax.errorbar(100 * e.value, row, xerr=100 * (hi - e.value), fmt="o", color=color, capsize=4)
    ax.axvline(100 * true_gain, color=BLACK, linestyle="--", label="true gain")
    ax.axvline(0, color=GREY, linewidth=1)
    ax.set_yticks([0, 1], ["paired SE", "unpaired SE"])
    ax.set(ylim=(-0.7, 1.7), xlabel="pass@1 of the better model minus the baseline (pp), 95 % CI",
           title=f"Same {n_questions} questions, {k} samples each")
    ax.legend(loc="lower right")
    return fig


def seed_temperature_figure(temperatures: np.ndarray, true_pass1: np.ndarray, seed_runs: np.ndarray,
                            sd_bands: Mapping[int, np.ndarray], rng: Optional[np.random.Generator] = None):
    """pass@1 of one question set against the sampling temperature: the truth (a line), single-sample
    evaluation runs with different seeds (dots) and the 95 % range of runs with ``n`` samples per
    question (a band per entry of ``sd_bands``: n -> sd at each temperature)."""
    temps = np.asarray(temperatures, dtype=float)
    truth = 100 * np.asarray(true_pass1, dtype=float)
    runs = 100 * np.asarray(seed_runs, dtype=float)
    rng = np.random.default_rng(3) if rng is None else rng
    fig, ax = new_figure(1, width=7.5, height=3.6)
    step = float(np.min(np.diff(temps))) if temps.size > 1 else 0.1
    shades = (0.15, 0.35, 0.55)
    for (n, sd), alpha in zip(sorted(sd_bands.items()), shades):
        half = 100 * Z95 * np.asarray(sd, dtype=float)
        ax.fill_between(temps, truth - half, truth + half, color=BLUE, alpha=alpha, linewidth=0,
                        label=f"95 % of runs, n = {n}")
    jitter = rng.uniform(-0.2, 0.2, runs.shape) * step
    ax.plot((temps[:, None] + jitter).ravel(), runs.ravel(), "o", markersize=3, color=ORANGE, alpha=0.7,
            label=f"{runs.shape[1]} seeds, n = 1 each")
    ax.plot(temps, truth, color=BLACK, linewidth=2, label="true pass@1 of these questions")
    ax.set(xlabel="sampling temperature T", ylabel="pass@1 (%)",
           title=f"One question set: {runs.shape[1]} seeds at each of {temps.size} temperatures")
    ax.legend(fontsize=8, loc="best")
    return fig


def tie_rules_figure(maj: Mapping[str, np.ndarray], k_small: int = 16):
    """maj@k under the three tie rules for small k (left) and their differences for all k."""
    m = {t: np.asarray(maj[t], dtype=float).mean(axis=0) for t in TIE_RULES}
    k_grid = np.arange(1, m["split"].size + 1)
    fig, (ax1, ax2) = new_figure(2, width=10, height=3.4)
    small = slice(0, k_small)
    ax1.plot(k_grid[small], 100 * m["split"][small], "-", linewidth=5, alpha=0.4, color=BLUE, label="ties = split")
    ax1.plot(k_grid[small], 100 * m["first"][small], "o-", markersize=3, linewidth=1, color=GREEN, label="ties = first")
    ax1.plot(k_grid[small], 100 * m["wrong"][small], "o-", markersize=3, color=ORANGE, label="ties = wrong")
    ax1.set(xlabel="k", ylabel="maj@k (%)", title=f"Tie rules, k = 1 .. {k_small} (first hides under split)")
    ax1.legend()
    ax2.plot(k_grid, 100 * (m["split"] - m["wrong"]), color=ORANGE, label="split - wrong")
    ax2.plot(k_grid, 100 * (m["first"] - m["split"]), color=GREEN, label="first - split")
    ax2.axhline(0, color=BLACK, linewidth=1)
    ax2.set(xlabel="k", ylabel="difference (pp)", title="Ties are common at small k (above all k = 2)")
    ax2.legend()
    return fig


def string_grading_figure(norm_vote: np.ndarray, raw_vote: np.ndarray, norm_pass1: float,
                          string_pass1: float):
    """Accuracy of the first-k vote on normalised answers and on raw strings, against k."""
    k_grid = np.arange(1, np.asarray(norm_vote).shape[1] + 1)
    fig, ax = new_figure(1, width=7.5, height=3.4)
    ax.plot(k_grid, 100 * np.asarray(norm_vote).mean(axis=0), color=BLUE, label="vote on normalised answers")
    ax.plot(k_grid, 100 * np.asarray(raw_vote).mean(axis=0), color=ORANGE, label="vote on raw extracted strings")
    ax.axhline(100 * norm_pass1, color=BLACK, linewidth=1, label="pass@1 (normalised)")
    ax.axhline(100 * string_pass1, color=GREY, linestyle="--", label="pass@1 by exact string match")
    _log2_axis(ax, [t for t in LOG2_TICKS if t <= k_grid[-1]])
    ax.set(xlabel="k (first k samples voted on)", ylabel="accuracy (%)",
           title="Spelling variants break string grading and add noise to the vote")
    ax.legend(fontsize=8)
    return fig

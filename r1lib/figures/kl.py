r"""Figures and slider panels of notebook 03, the GRPO KL estimator (k1, k2, k3).

Every figure of the notebook is built here, from data the notebook computes with r1lib's core and
:mod:`r1lib.labs.kl_studies`; the notebook asks for each in a line or two. The three slider panels
(:func:`gaussian_panel`, :func:`vocab_panel`, :func:`sequence_panel`) share one view,
:class:`EstimatorHistograms`: per-sample histograms of the estimators, and above them each
estimator's average with :math:`\pm 2` standard errors and its exact mean.

Speed: a slider callback redraws only what moves (:class:`r1lib.figures.style.BlitCanvas`): the frame,
axis labels and legend are a cached bitmap; histograms, markers, the two data-driven axes and the
title with the slider values are drawn on top. Text is the slowest thing to draw, so the redrawn
axes get few ticks and the axis labels are static text.

Imports point down: figures -> labs (:mod:`r1lib.labs.kl_studies`) -> core.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
import numpy as np

from ..divergence import kl_from_logits
from ..labs.kl_placement import PLACEMENTS, placement_profile
from ..labs.kl_studies import (
    MarkovPolicy, SequenceStudy, categorical_moments, estimate_all, gaussian_log_probs,
    gaussian_moments, gaussian_true_kl, monte_carlo_moments, sampled_log_probs,
)
from .style import COLORS, BlitCanvas, fixed_pair_figure, new_figure
from .panels import Panel, float_slider, int_slider, log_slider

__all__ = [
    "EstimatorHistograms", "gaussian_panel", "vocab_panel", "sequence_panel",
    "PlacementView", "placement_panel",
    "running_means_figure", "relative_error_figure", "crossover_figure",
    "sequence_spread_figure", "gradient_figure",
]

NAMES = ("k1", "k2", "k3")
N_BINS = 45                 # histogram bins; their edges follow the data range
RANGE_SAMPLE = 20_000       # values per estimator used to find the plotting range


class EstimatorHistograms:
    """One figure: histograms of per-sample estimates, their averages ± 2 s.e. and exact means.

    Drawn in full once; :meth:`update` changes only the data-driven artists (histograms, the true-KL
    line, the average bars, the exact-mean crosses, the axis ranges and the values in the title).

    Parameters
    ----------
    title : str
        Left title (fixed).
    labels, colors : sequences of str
        One histogram per label (the keys of ``values`` in :meth:`update`).
    xlabel, ylabel : str
        Axis labels (static text).
    truth_label : str
        Legend entry of the dashed vertical line at the true value.
    include_zero : bool
        Keep 0 and 1.5 x the true KL inside the x range (per-token estimates: k1 goes below 0).
    """

    def __init__(self, title: str, labels: Sequence[str], colors: Sequence[str], xlabel: str,
                 ylabel: str = "fraction of samples", truth_label: str = "true KL",
                 include_zero: bool = True) -> None:
        from matplotlib.lines import Line2D
        from matplotlib.ticker import MaxNLocator

        self.labels, self.include_zero = list(labels), include_zero
        self.fig, self.ax = new_figure(width=9.5, height=3.6)
        self.fig.set_layout_engine(None)  # fixed positions: no layout pass per draw
        ax = self.ax
        ax.set_position([0.08, 0.15, 0.69, 0.76])
        edges = np.linspace(0.0, 1.0, N_BINS + 1)
        self.hists = [ax.stairs(np.zeros(N_BINS), edges, color=c, lw=2) for c in colors]
        self.truth = ax.axvline(0.0, color=COLORS["truth"], ls="--", lw=1.5)
        self.bars = [ax.plot([], [], color=c, lw=4, solid_capstyle="butt")[0] for c in colors]
        self.dots = [ax.plot([], [], "o", color=c, ms=7, mec="black")[0] for c in colors]
        self.exact = ax.plot([], [], "x", color=COLORS["truth"], ms=7, mew=1.5)[0]
        # The legend sits outside the plot, where no histogram can cover it.
        bar_key = Line2D([], [], color=COLORS["neutral"], lw=4, marker="o", ms=7, mec="black")
        exact_key = Line2D([], [], ls="none", marker="x", color=COLORS["truth"], ms=7, mew=1.5)
        ax.legend([*self.hists, self.truth, bar_key, exact_key],
                  [*self.labels, truth_label, "average ± 2 s.e.", "exact mean"],
                  loc="center left", bbox_to_anchor=(1.02, 0.5))
        ax.text(0.5, -0.12, xlabel, transform=ax.transAxes, ha="center", va="top", fontsize=11)
        ax.text(-0.08, 0.5, ylabel, transform=ax.transAxes, ha="center", va="center", rotation=90,
                fontsize=11)
        for axis, nbins in ((ax.xaxis, 7), (ax.yaxis, 4)):
            axis.set_major_locator(MaxNLocator(nbins, steps=[1, 2, 2.5, 5, 10]))
            axis.set_label_coords(0.5, 0.5)  # pinned (it is empty): else every draw measures the ticks
        ax.set_title(title, loc="left", y=1.02)                    # a given y pins a title
        self.values_text = ax.set_title(" ", loc="right", y=1.02)  # the slider values
        BlitCanvas(self.fig, [ax.xaxis, ax.yaxis, *self.hists, self.truth, *self.bars, *self.dots,
                              self.exact, self.values_text])

    def update(self, values: Mapping[str, np.ndarray], true_kl: float,
               exact_means: Mapping[str, float], values_text: str):
        """Show new per-sample ``values`` (``{label: 1-D array}``); returns the figure.

        Non-finite values are left out of the histograms; an estimator with any non-finite value
        gets no average bar (there is no finite average to show).
        """
        finite = {k: v[np.isfinite(v)] for k, v in values.items()}
        # The plotting range from at most RANGE_SAMPLE values per estimator: sorting all of them
        # for a quantile would cost more than the rest of the update.
        pooled = np.concatenate([v[:RANGE_SAMPLE] for v in finite.values()])
        lo, hi = np.quantile(pooled, [0.0025, 0.9975]) if pooled.size else (0.0, 1.0)
        if self.include_zero:  # per-sample estimates: where 0 lies matters (k1 goes below it)
            lo, hi = min(lo, 0.0), max(hi, 1.5 * true_kl)
        hi = max(hi, lo + 1e-3)  # identical policies: every estimate is 0
        edges = np.linspace(lo, hi, N_BINS + 1)
        top = 1e-9
        for hist, label in zip(self.hists, self.labels):
            # bins and range, not the edges: numpy's equal-width path (edges would sort the values)
            counts, _ = np.histogram(finite[label], bins=N_BINS, range=(lo, hi))
            frac = counts / max(len(values[label]), 1)
            hist.set_data(frac, edges)
            top = max(top, frac.max())
        self.truth.set_xdata([true_kl, true_kl])
        ex_x, ex_y = [], []
        for i, label in enumerate(self.labels):
            v, y = values[label], top * (1.1 + 0.1 * i)
            if np.isfinite(v).all() and len(v) > 1:
                m = monte_carlo_moments(v, true_kl)
                self.bars[i].set_data([m.mean - 2 * m.mean_se, m.mean + 2 * m.mean_se], [y, y])
                self.dots[i].set_data([m.mean], [y])
            else:
                self.bars[i].set_data([], [])
                self.dots[i].set_data([], [])
            ex_x.append(exact_means[label])
            ex_y.append(y + 0.04 * top)  # just above its bar, so the bar stays visible
        self.exact.set_data(ex_x, ex_y)
        self.ax.set_xlim(lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo))
        self.ax.set_ylim(0.0, top * 1.45)
        self.values_text.set_text(values_text)
        return self.fig


def _averages(values: Mapping[str, np.ndarray]) -> str:
    return ", ".join(f"{k} {np.mean(v):.4f}" for k, v in values.items())


def _with_view(panel: Panel, view: EstimatorHistograms) -> Panel:
    """Attach the panel's figure view as ``panel.view`` (tests and benchmarks inspect its artists)."""
    panel.view = view
    return panel


def _n_slider(n_max: int):
    return log_slider("samples n", min(1000, n_max), 10, n_max, step=0.1, readout_format=",.0f")


def gaussian_panel(x: np.ndarray) -> Panel:
    r"""Panel ``"gauss"``: k1, k2, k3 for samples from :math:`q = N(0,1)`, reference :math:`N(\mu,1)`.

    Controls: the shift ``mu`` of the reference and the number of samples ``n`` (the first ``n``
    of the fixed standard normals ``x``, shifted for each ``mu``: common random numbers, so the
    picture moves smoothly). Exact means from :func:`r1lib.labs.kl_studies.gaussian_moments`.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 10:
        raise ValueError(f"x must be 1-D with at least 10 standard normals, got shape {x.shape}")
    view = EstimatorHistograms("Samples from q = N(0, 1), reference p = N(μ, 1)", NAMES,
                               [COLORS[k] for k in NAMES], "per-sample estimate (nats)")

    def draw(mu: float, n: float):
        n = int(round(n))
        values = estimate_all(*gaussian_log_probs(x[:n], mu))
        kl = float(gaussian_true_kl(mu))
        mom = gaussian_moments(mu)
        fig = view.update(values, kl, {k: float(mom[k].mean) for k in NAMES}, f"μ = {mu:.2f}, n = {n:,}")
        return fig, f"μ = {mu:.2f}: true KL = {kl:.4f}; averages over n = {n}: {_averages(values)}"

    return _with_view(Panel("gauss", {"mu": float_slider("shift μ", 1.0, 0.05, 3.0, 0.05),
                                      "n": _n_slider(x.size)}, draw, height="340px"), view)


def vocab_panel(ref_logits: np.ndarray, direction: np.ndarray, u: np.ndarray) -> Panel:
    r"""Panel ``"vocab"``: one token from a vocabulary, policy logits ``ref_logits + s * direction``.

    Controls: the distance ``s`` and the number of samples ``n`` (tokens drawn by inverse CDF from
    the first ``n`` of the fixed uniforms ``u``). Exact means are sums over the vocabulary
    (:func:`r1lib.labs.kl_studies.categorical_moments`).
    """
    ref_logits = np.asarray(ref_logits, dtype=np.float64)
    direction = np.asarray(direction, dtype=np.float64)
    u = np.asarray(u, dtype=np.float64)
    if ref_logits.ndim != 1 or direction.shape != ref_logits.shape:
        raise ValueError(f"ref_logits and direction must be 1-D of one length, got {ref_logits.shape} "
                         f"and {direction.shape}")
    view = EstimatorHistograms(f"One token of {ref_logits.size}: logits z_ref + s·d, reference z_ref",
                               NAMES, [COLORS[k] for k in NAMES], "per-token estimate (nats)")

    def draw(shift: float, n: float):
        n = int(round(n))
        logits = ref_logits + shift * direction
        values = estimate_all(*sampled_log_probs(logits, ref_logits, u[:n]))
        kl = float(kl_from_logits(logits, ref_logits))
        mom = categorical_moments(logits, ref_logits)
        fig = view.update(values, kl, {k: float(mom[k].mean) for k in NAMES}, f"s = {shift:.2f}, n = {n:,}")
        return fig, f"s = {shift:.2f}: true KL = {kl:.4f}; averages over n = {n}: {_averages(values)}"

    return _with_view(Panel("vocab", {"shift": float_slider("shift s", 0.5, 0.0, 3.0, 0.05),
                                      "n": _n_slider(u.size)}, draw, height="340px"), view)


def sequence_panel(study: SequenceStudy) -> Panel:
    r"""Panel ``"seq"``: three sequence-level estimates over ``study``'s sampled sequences.

    Controls: the length ``T`` and the distance ``s`` of :math:`\pi_\theta` from the reference.
    Histograms of :math:`\sum_t k_1`, :math:`\sum_t k_3` (GRPO's per-token k3, summed) and
    :math:`k_3(R)` of the whole-sequence ratio; all three have the exact sequence KL as mean.
    """
    if not isinstance(study, SequenceStudy):
        raise TypeError(f"study must be a SequenceStudy, got {type(study).__name__}")
    colors = {"Σ k1": COLORS["k1"], "Σ k3": COLORS["k3"], "k3(R)": COLORS["reference"]}
    view = EstimatorHistograms(f"{study.n_sequences:,} sequences from π_θ (toy Markov model)",
                               list(colors), list(colors.values()), "estimate for one sequence (nats)",
                               ylabel="fraction of sequences", truth_label="exact sequence KL",
                               include_zero=False)

    def draw(length: int, shift: float):
        est, exact_kl = study.estimates(shift, length)
        fig = view.update(est, exact_kl, {k: exact_kl for k in colors}, f"T = {length}, s = {shift:.2f}")
        sds = ", ".join(f"{k} {np.std(v, ddof=1):.3g}" for k, v in est.items())
        return fig, (f"T = {length}, s = {shift:.2f}: exact sequence KL = {exact_kl:.4f}; "
                     f"std per sequence: {sds}")

    return _with_view(Panel("seq", {"length": int_slider("length T", min(20, study.max_length), 1,
                                                         study.max_length),
                                    "shift": float_slider("shift s", 0.5, 0.0, 1.5, 0.05)},
                            draw, height="340px"), view)


# ---------------------------------------------------------------------------------- where the KL goes

#: How each placement is drawn: the estimator's colour; solid with circles in the reward, dashed
#: with squares in the loss.
PLACEMENT_STYLE = {
    "k1 reward": (COLORS["k1"], "-", "o"), "k3 reward": (COLORS["k3"], "-", "o"),
    "k1 loss": (COLORS["k1"], "--", "s"), "k2 loss": (COLORS["k2"], "--", "s"),
    "k3 loss": (COLORS["k3"], "--", "s"),
}
ERROR_CAP = 2.0  # relative errors above this are drawn at the top edge (a fixed scale: the panel blits)


class PlacementView:
    """Two plots for :func:`placement_panel`.

    Left: per position, the relative error of every placement's expected gradient against the
    exact gradient of the sequence KL (0 = exact; 1 = what no gradient at all scores), the chosen
    placement drawn thick, the chosen position marked. Right: the chosen position's gradient entry
    by entry: exact (black outline), the chosen placement's expectation (filled) and its Monte
    Carlo mean over the sampled sequences (dots, ± 2 s.e.).
    """

    def __init__(self, vocab_size: int, length: int, n_sequences: int) -> None:
        from matplotlib.ticker import MaxNLocator

        self.v, self.length = vocab_size, length
        self.fig, (ax_e, ax_g) = fixed_pair_figure(width=10.5, height=4.0, bottom=0.18, axes_height=0.64)
        self.ax_error, self.ax_grad = ax_e, ax_g
        x = np.arange(1, length + 1)
        self.error_lines = {}
        for name in PLACEMENTS:
            colour, ls, marker = PLACEMENT_STYLE[name]
            self.error_lines[name] = ax_e.plot(x, np.zeros(length), ls=ls, marker=marker, color=colour,
                                               lw=1.2, ms=5, label=name)[0]
        self.position_line = ax_e.axvline(1, color=COLORS["neutral"], lw=6, alpha=0.3, zorder=0)
        ax_e.set_xlim(0.6, length + 0.4)
        ax_e.set_ylim(-0.05, ERROR_CAP + 0.1)
        ax_e.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_e.set_xlabel("token position t")
        ax_e.set_ylabel("relative error of E[gradient]")
        ax_e.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, fontsize=8, frameon=False)
        entries = vocab_size * vocab_size
        slots = np.arange(entries)
        self.exact_bars = ax_g.bar(slots - 0.2, np.zeros(entries), 0.38, facecolor="white",
                                   edgecolor=COLORS["truth"], lw=1.3, label="exact ∇ sequence KL")
        self.placement_bars = ax_g.bar(slots + 0.2, np.zeros(entries), 0.38, color=COLORS["neutral"],
                                       label="placement, expected")
        self.mc_dots = ax_g.plot([], [], "o", color=COLORS["truth"], ms=4,
                                 label=f"placement, mean of {n_sequences:,} samples ± 2 s.e.")[0]
        self.mc_bars = ax_g.plot([], [], "-", color=COLORS["truth"], lw=1.2)[0]
        self.zero_line = ax_g.axhline(0.0, color=COLORS["truth"], lw=0.8)   # dynamic: the y range moves
        ax_g.set_ylabel("gradient w.r.t. the logit")
        ax_g.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8, frameon=False)
        ax_g.yaxis.set_major_locator(MaxNLocator(5))
        self.values_text = self.fig.text(0.5, 0.015, " ", ha="center", va="bottom", fontsize=10)
        BlitCanvas(self.fig, [*self.error_lines.values(), self.position_line, *self.exact_bars,
                              *self.placement_bars, self.mc_dots, self.mc_bars, self.zero_line,
                              ax_g.xaxis, ax_g.yaxis, self.values_text])

    def update(self, profile, placement: str, position: int, shift: float):
        """Show a :class:`r1lib.labs.kl_placement.PlacementProfile`; returns the figure."""
        for name, line in self.error_lines.items():
            line.set_ydata(np.minimum(profile.relative_error[name], ERROR_CAP))
            line.set_linewidth(3.0 if name == placement else 1.0)
            line.set_alpha(1.0 if name == placement else 0.45)
        self.position_line.set_xdata([position, position])
        truth, expected = profile.truth, profile.expected[placement]
        mean, se = profile.mc_mean[placement], profile.mc_se[placement]
        k = truth.size                              # V at position 1, V * V after it
        colour = PLACEMENT_STYLE[placement][0]
        for i, (bar_e, bar_p) in enumerate(zip(self.exact_bars, self.placement_bars)):
            shown = i < k
            bar_e.set_height(truth[i] if shown else 0.0)
            bar_p.set_height(expected[i] if shown else 0.0)
            bar_e.set_visible(shown)
            bar_p.set_visible(shown)
            bar_p.set_facecolor(colour)
        slots = np.arange(k) + 0.2
        self.mc_dots.set_data(slots, mean)
        seg_x = np.repeat(slots, 3)
        seg_y = np.column_stack([mean - 2 * se, mean + 2 * se, np.full(k, np.nan)]).ravel()
        seg_x[2::3] = np.nan
        self.mc_bars.set_data(seg_x, seg_y)
        ax = self.ax_grad
        if position == 1:
            labels = [f"→{b}" for b in range(self.v)]
        else:
            labels = [f"{a}→{b}" for a in range(self.v) for b in range(self.v)]
        ax.set_xticks(np.arange(k), labels, fontsize=8)
        ax.set_xlim(-0.6, k - 0.4)
        lo = min(truth.min(), expected.min(), np.min(mean - 2 * se), 0.0)
        hi = max(truth.max(), expected.max(), np.max(mean + 2 * se), 0.0)
        pad = 0.08 * max(hi - lo, 1e-9)
        ax.set_ylim(lo - pad, hi + pad)
        ax.set_xlabel(f"logit at position {position}" + ("" if position == 1 else " (previous token → token)"))
        self.values_text.set_text(f"gap s = {shift:.2f}, placement: {placement}, position t = {position}")
        return self.fig


def placement_panel(ref: MarkovPolicy, direction: MarkovPolicy, u: np.ndarray) -> Panel:
    r"""Panel ``"placement"``: where the KL goes, on the toy Markov policy.

    Controls: the gap ``s`` (the policy is ``ref.shifted(direction, s)``), the placement (k1 or k3
    in the reward with reward-to-go; k1, k2 or k3 in the loss) and the token position ``t``.
    Sequences of length ``u.shape[1]`` are drawn with the fixed uniforms ``u`` (n, T); everything
    is computed by :func:`r1lib.labs.kl_placement.placement_profile`.
    """
    import ipywidgets as w

    if not isinstance(ref, MarkovPolicy) or not isinstance(direction, MarkovPolicy):
        raise TypeError(f"ref and direction must be MarkovPolicy objects, got {type(ref).__name__} "
                        f"and {type(direction).__name__}")
    u = np.asarray(u, dtype=np.float64)
    if u.ndim != 2 or u.shape[0] < 2 or u.shape[1] < 2:
        raise ValueError(f"u must have shape (n, T) with n >= 2 sequences of T >= 2 tokens, got {u.shape}")
    view = PlacementView(ref.vocab_size, u.shape[1], u.shape[0])

    def draw(shift: float, placement: str, position: int):
        prof = placement_profile(ref, direction, shift, u, position)
        fig = view.update(prof, placement, position, shift)
        err = prof.relative_error[placement]
        return fig, (f"s = {shift:.2f}: sequence KL {prof.kl:.4f} nats; relative error of {placement} "
                     f"at position t = {position}: {err[position - 1]:.2f} "
                     f"(all positions: {', '.join(f'{e:.2f}' for e in err)})")

    placement = w.ToggleButtons(options=list(PLACEMENTS), value="k2 loss", description="placement",
                                style={"description_width": "initial", "button_width": "auto"})
    return _with_view(Panel("placement", {"shift": float_slider("gap s", 1.0, 0.1, 2.0, 0.05),
                                          "placement": placement,
                                          "position": int_slider("position t", 1, 1, u.shape[1])},
                            draw, height="390px"), view)


# ---------------------------------------------------------------------------------- static figures

def running_means_figure(values: Mapping[str, np.ndarray], kl_forward: float, kl_reverse: float):
    r"""Running means of per-sample estimates against both KL directions (log-scaled sample axis).

    ``values`` maps an estimator name (``"k1"``, ``"k3"``, ...) to its per-sample values in draw
    order; the dashed line is :math:`KL(\pi_\theta\|\pi_{ref})`, the dotted one the reverse KL.
    """
    fig, ax = new_figure(width=9, height=3.4)
    for name, v in values.items():
        steps = np.arange(1, len(v) + 1)
        ax.plot(steps, np.cumsum(v) / steps, color=COLORS[name], label=f"running mean of ${name[0]}_{name[1:]}$")
    ax.axhline(kl_forward, color=COLORS["truth"], ls="--", label=r"exact $KL(\pi_\theta\|\pi_{ref})$")
    ax.axhline(kl_reverse, color=COLORS["neutral"], ls=":",
               label=r"exact $KL(\pi_{ref}\|\pi_\theta)$ (not estimated)")
    ax.set_xscale("log")
    ax.set_xlabel(r"number of samples $o \sim \pi_\theta$")
    ax.set_ylabel("estimate (nats)")
    ax.set_title(r"Per-sample estimators: their running means converge to KL($\pi_\theta\|\pi_{ref}$)")
    ax.legend(loc="lower right")
    return fig


def relative_error_figure(curves: Mapping[str, tuple], points: Mapping[str, tuple] | None = None):
    """Relative bias and relative std of one sample against the true KL (two panels, log x).

    ``curves`` maps a setting name (e.g. ``"Gaussian"``) to ``(true_kl, moments)`` with ``moments``
    as returned by :func:`r1lib.labs.kl_studies.gaussian_moments` / ``categorical_moments``: solid lines
    for the first setting, dashed for the next. ``points`` (optional) maps an estimator name to
    ``(true_kl, bias, std)`` arrays from Monte Carlo, drawn as dots.
    """
    fig, (ax_b, ax_s) = new_figure(ncols=2, width=10, height=3.9)
    styles = ["-", "--", ":"]
    for (setting, (kl, mom)), ls in zip(curves.items(), styles):
        kl = np.asarray(kl)
        for k in NAMES:
            lw = 2 if ls == "-" else 1.5
            ax_b.plot(kl, mom[k].bias / kl, color=COLORS[k], lw=lw, ls=ls, label=f"{k}, {setting}")
            ax_s.plot(kl, mom[k].std / kl, color=COLORS[k], lw=lw, ls=ls, label=f"{k}, {setting}")
    for k, (kl, bias, std) in (points or {}).items():
        ax_b.plot(kl, np.asarray(bias) / kl, "o", color=COLORS[k], ms=5)
        ax_s.plot(kl, np.asarray(std) / kl, "o", color=COLORS[k], ms=5)
    for ax in (ax_b, ax_s):
        ax.set_xscale("log")
        ax.set_xlabel("true KL (nats, log scale)")
    ax_b.set_ylabel("bias / true KL")
    ax_b.set_title("Relative bias: only k2 is biased")
    ax_s.set_yscale("log")
    ax_s.set_ylabel("std of one sample / true KL")
    ax_s.set_title("Relative spread (lines exact, dots Monte Carlo)")
    ax_s.legend(loc="upper right", ncol=2, fontsize=8)
    return fig


def crossover_figure(mu: np.ndarray, ratio: np.ndarray, mu_star: float,
                     mc_mu: np.ndarray | None = None, mc_ratio: np.ndarray | None = None,
                     mc_se: np.ndarray | None = None):
    """std(k3)/std(k2) against the Gaussian shift mu, the crossover mu*, Monte Carlo ± 2 s.e."""
    fig, ax = new_figure(width=9, height=3.5)
    ax.plot(mu, ratio, color=COLORS["k3"], lw=2, label="exact std(k3) / std(k2)")
    if mc_mu is not None:
        ax.errorbar(mc_mu, mc_ratio, yerr=2 * np.asarray(mc_se), fmt="o", color=COLORS["k3"], capsize=4,
                    label="Monte Carlo (± 2 s.e.)")
    ax.axhline(1.0, color=COLORS["neutral"], ls="--")
    ax.axvline(mu_star, color=COLORS["truth"], ls=":", label=f"crossover μ* = {mu_star:.4f}")
    ax.set_xlabel("shift μ of the reference p = N(μ, 1)")
    ax.set_ylabel("std(k3) / std(k2)")
    ax.set_title("Below μ* k3 is the lower-variance estimator, above it k2 is")
    ax.legend(loc="upper left")
    return fig


def sequence_spread_figure(lengths: np.ndarray, exact: np.ndarray, stds: Mapping[str, np.ndarray]):
    """Spread of sequence-level estimates against the length, next to the exact sequence KL (log-log).

    ``stds`` maps a label to the sample std at every length; the label's first word picks the
    colour (``"Σ k1"`` -> k1, ``"Σ k3"`` -> k3, anything else -> the reference colour).
    """
    fig, ax = new_figure(width=9, height=3.6)
    ax.plot(lengths, exact, color=COLORS["truth"], ls="--", label="exact sequence KL")
    for label, sd in stds.items():
        color = COLORS["k1"] if label.startswith("Σ k1") else COLORS["k3"] if label.startswith("Σ k3") \
            else COLORS["reference"]
        ax.plot(lengths, sd, color=color, label=f"std of {label}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sequence length T (tokens)")
    ax.set_ylabel("nats (log scale)")
    ax.set_title("Spread of sequence-level estimates vs the KL they estimate")
    ax.legend(loc="upper left")
    return fig


def gradient_figure(expected: Mapping[str, np.ndarray], kl_grad: Mapping[str, np.ndarray],
                    kl_paths: Mapping[str, np.ndarray]):
    """Left: expected gradients of k1, k2, k3 as losses beside both KL gradients (bars per logit).
    Right: :math:`KL(\\pi_\\theta\\|\\pi_{ref})` along gradient descent on each estimator.

    ``expected`` is :func:`r1lib.labs.kl_studies.expected_estimator_grads`, ``kl_grad`` is
    :func:`r1lib.labs.kl_studies.kl_grads`, ``kl_paths`` maps an estimator to the KL after each step.
    """
    fig, (ax_g, ax_t) = new_figure(ncols=2, width=10, height=3.8)
    width = 0.18
    idx = np.arange(len(expected["k1"]))
    bars = [("E[∇k1] (= 0)", expected["k1"], COLORS["k1"], None),
            ("E[∇k2]", expected["k2"], COLORS["k2"], None),
            ("∇KL(θ‖ref)", kl_grad["theta_ref"], COLORS["k2"], "//"),
            ("E[∇k3]", expected["k3"], COLORS["k3"], None),
            ("∇KL(ref‖θ)", kl_grad["ref_theta"], COLORS["k3"], "//")]
    for i, (label, g, color, hatch) in enumerate(bars):
        ax_g.bar(idx + (i - 2) * width, g, width, color=color if hatch is None else "white",
                 edgecolor=color, hatch=hatch, lw=1.5, label=label)
    ax_g.axhline(0, color=COLORS["truth"], lw=0.8)
    ax_g.set_xlabel("token (logit) index")
    ax_g.set_ylabel("gradient w.r.t. the logit")
    ax_g.set_title("Expected gradients of the estimators as losses")
    ax_g.legend(fontsize=8, ncol=2, loc="upper left")
    for name, path in kl_paths.items():
        ax_t.plot(np.arange(len(path)), path, color=COLORS[name], lw=2, label=f"loss = {name}")
    ax_t.set_yscale("log")
    ax_t.set_xlabel("gradient step (expected gradient)")
    ax_t.set_ylabel("KL(π_θ‖π_ref) (nats, log scale)")
    ax_t.set_title("Minimising each estimator: k1 does not move")
    ax_t.legend(loc="center right")
    return fig

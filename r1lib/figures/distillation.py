"""The panels and figures of notebook 01 (knowledge distillation).

Each ``*_panel`` function returns an :class:`r1lib.figures.panels.Panel` (make it a cell's last
expression, or call ``.show()``); its figure is built once and drawn with
:class:`r1lib.figures.style.BlitCanvas`: axes, ticks, labels, legends and fixed curves are rendered
once, and a slider move redraws only the artists that depend on the slider. The view behind a
panel is ``panel.view``; its ``draw(**values)`` updates those artists and returns
``(figure, status line)``, so tests can check what an update changes and what it leaves alone.

Each ``*_figure`` function draws one static figure and returns it (the inline backend shows it
at the end of the cell).

Every number comes from r1lib's core (:mod:`r1lib.softmax`, :mod:`r1lib.distillation`) and its
lab (:mod:`r1lib.labs.distill_train`); nothing here computes a formula of its own.
"""
from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..labs import distill_train as dt
from ..distillation import distillation_grad, distillation_loss
from ..softmax import entropy, softmax

__all__ = ["temperature_panel", "temperature_sweep_figure", "modes_panel", "gradient_scaling_figure",
           "gradient_panel", "soft_labels_figure", "kd_grid_panel", "transfer_size_figure",
           "rejection_figure"]


def _panel(name: str, controls: Mapping[str, Any], view, height: str = "340px"):
    from .panels import Panel

    panel = Panel(name, controls, view.draw, height=height)
    panel.view = view  # what tests and the benchmark inspect
    return panel


def _palette(n: int) -> list:
    from .style import COLORS

    names = ("teacher", "student", "reference", "k1", "k3", "neutral", "k2", "truth")
    return [COLORS[names[i % len(names)]] for i in range(n)]


# ---------------------------------------------------------------------------------------------
# Section 1: temperature
# ---------------------------------------------------------------------------------------------

class TemperatureView:
    """Left: the teacher's probabilities softmax(z / T) as bars, with 1/K dashed. Right: the
    entropy H(T) over T = 0.05..100 (log scale), with the current T marked."""

    T_CURVE = np.geomspace(0.05, 100, 300)

    def __init__(self, logits: Sequence[float], classes: Sequence[str], T: float = 1.0) -> None:
        from .style import COLORS, BlitCanvas, new_figure

        self.logits = np.asarray(logits, dtype=float)
        self.classes = list(classes)
        K = self.logits.size
        if len(self.classes) != K:
            raise ValueError(f"classes must name the {K} logits, got {len(self.classes)} names")
        self.h_curve = entropy(np.broadcast_to(self.logits, (self.T_CURVE.size, K)) / self.T_CURVE[:, None])
        self.fig, (ax, ax_h) = new_figure(2, width=10, height=3.6)
        self.bars = ax.bar(self.classes, np.zeros(K), color=COLORS["teacher"])
        self.labels = [ax.text(i, 0, "", ha="center", va="bottom", fontsize=9) for i in range(K)]
        ax.axhline(1 / K, color=COLORS["neutral"], ls="--", lw=1.2, label="uniform 1/K")
        ax.set(ylim=(0, 1.12), ylabel="teacher probability", xlabel="class")
        ax.legend(loc="upper right")
        self.title = ax.set_title(" ")
        ax_h.plot(self.T_CURVE, self.h_curve, color=COLORS["teacher"], lw=2, label="entropy H(T)")
        ax_h.axhline(math.log(K), color=COLORS["truth"], ls="--", lw=1, label=f"log K = {math.log(K):.2f} (T → ∞)")
        ax_h.axhline(0.0, color=COLORS["neutral"], ls=":", lw=1, label="0 (T → 0, one-hot)")
        self.dot, = ax_h.plot([], [], "o", color=COLORS["student"], ms=9, mec="black", label="current T")
        ax_h.set(xscale="log", xlabel="temperature T (log scale)", ylabel="entropy (nats)",
                 title="Entropy grows with T", ylim=(-0.08, math.log(K) * 1.12))
        ax_h.legend(loc="upper left", fontsize=8)
        self.draw(T)
        BlitCanvas(self.fig, [*self.bars, *self.labels, self.title, self.dot])

    def draw(self, T: float):
        p = softmax(self.logits, T)
        H = float(entropy(self.logits, T))
        for bar, label, q in zip(self.bars, self.labels, p):
            bar.set_height(q)
            label.set_y(q + 0.01)
            label.set_text(f"{q:.2f}")
        self.title.set_text(f"Teacher's soft labels at T = {T:.3g}")
        self.dot.set_data([T], [H])
        K = self.logits.size
        second, last = np.argsort(self.logits)[-2], np.argmin(self.logits)
        status = (f"T = {T:.3g}: entropy H = {H:.3f} nats (max log {K} = {math.log(K):.3f}); "
                  f"p({self.classes[int(np.argmax(p))]}) = {p.max():.3f}; "
                  f"p({self.classes[second]})/p({self.classes[last]}) = {p[second] / p[last]:.3g}")
        return self.fig, status


def temperature_panel(logits: Sequence[float], classes: Sequence[str], T: float = 1.0):
    """Panel: a teacher's soft labels and their entropy; slider: the temperature T (0.1 to 20)."""
    from .panels import log_slider

    return _panel("temperature", {"T": log_slider("temperature T", T, 0.1, 20)},
                  TemperatureView(logits, classes, T))


def temperature_sweep_figure(logits: Sequence[float], classes: Sequence[str]):
    """Every class's probability softmax(z / T)_i for T from 0.01 to 1000 (log scale)."""
    from .style import COLORS, new_figure

    z = np.asarray(logits, dtype=float)
    T = np.geomspace(0.01, 1000, 400)
    P = softmax(np.broadcast_to(z, (T.size, z.size)) / T[:, None])  # (T, class)
    fig, ax = new_figure(width=9, height=3.4)
    for i, (name, colour) in enumerate(zip(classes, _palette(z.size))):
        ax.plot(T, P[:, i], color=colour, lw=2, label=name)
    ax.axhline(1 / z.size, color=COLORS["truth"], ls="--", lw=1, label="1/K")
    ax.set(xscale="log", xlabel="temperature T (log scale)", ylabel="probability",
           title="T → 0: one-hot on the arg-max;  T → ∞: uniform")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    return fig


# ---------------------------------------------------------------------------------------------
# Section 2: forward versus reverse KL
# ---------------------------------------------------------------------------------------------

class ModesView:
    """Left: a two-mode teacher (:func:`r1lib.labs.distill_train.two_mode_gaussian`) and the best
    single Gaussian under forward and under reverse KL. Right: the best divergence reachable at
    each student mean, for both directions."""

    def __init__(self, family: dt.GaussianFamily, separation: float = 6.0, weight: float = 0.6) -> None:
        from matplotlib.patches import Polygon

        from .style import COLORS, BlitCanvas, new_figure

        self.family = family
        x = family.support
        unit_peak = (x[1] - x[0]) / math.sqrt(2 * math.pi)  # a unit-width Gaussian's top on the grid
        self.fig, (ax, ax_kl) = new_figure(2, width=10, height=3.6, gridspec_kw={"width_ratios": [1.4, 1]})
        self.teacher = ax.add_patch(Polygon(np.zeros((2, 2)), closed=True, color=COLORS["neutral"], alpha=0.5))
        self.fwd, = ax.plot(x, np.zeros_like(x), color=COLORS["teacher"], lw=2.5)
        self.rev, = ax.plot(x, np.zeros_like(x), color=COLORS["student"], lw=2.5, ls="--")
        ax.set(xlabel=f"x (grid of {x.size} points)", ylabel="probability per grid point",
               xlim=(x[0], x[-1]), ylim=(0, 1.45 * unit_peak), title="One Gaussian fitted to a two-mode teacher")
        # The legends are part of the static picture (drawing legend text on every move cost more
        # than everything else); the fitted means and widths are in the status line. No curve
        # reaches them at any slider position (tests/test_figures_distillation.py checks).
        self.legend = ax.legend([self.teacher, self.fwd, self.rev], ["teacher p", "best fit, forward KL",
                                                                      "best fit, reverse KL"],
                                loc="upper left", fontsize=8)
        m = family.means
        self.kl_fwd, = ax_kl.plot(m, np.zeros(m.size), color=COLORS["teacher"], lw=2, label="forward KL(p||q)")
        self.kl_rev, = ax_kl.plot(m, np.zeros(m.size), color=COLORS["student"], lw=2, ls="--",
                                  label="reverse KL(q||p)")
        ax_kl.set(xlabel="student mean (best width for each)", ylabel="divergence (nats)", ylim=(0, 3.5),
                  xlim=(m[0], m[-1]), title="Best KL at each student mean")
        self.legend_kl = ax_kl.legend(loc="upper center", fontsize=8)  # the curves are lowest mid-range
        self.draw(separation, weight)
        BlitCanvas(self.fig, [self.teacher, self.fwd, self.rev, self.kl_fwd, self.kl_rev])

    def draw(self, separation: float, weight: float):
        x = self.family.support
        p = dt.two_mode_gaussian(x, separation, weight)
        fwd, rev = self.family.fit(p, "forward"), self.family.fit(p, "reverse")
        self.teacher.set_xy(np.column_stack([np.r_[x[0], x, x[-1]], np.r_[0.0, p, 0.0]]))
        self.fwd.set_ydata(dt.gaussian_on_grid(x, fwd.mean, fwd.std))
        self.rev.set_ydata(dt.gaussian_on_grid(x, rev.mean, rev.std))
        self.kl_fwd.set_ydata(fwd.kl_grid.min(axis=1))
        self.kl_rev.set_ydata(rev.kl_grid.min(axis=1))
        status = (f"modes at ±{separation / 2:.2f}, left weight {weight:.2f}: forward KL fit "
                  f"(mean {fwd.mean:+.1f}, std {fwd.std:.2f}, KL {fwd.kl:.3f}); reverse KL fit "
                  f"(mean {rev.mean:+.1f}, std {rev.std:.2f}, KL {rev.kl:.3f})")
        return self.fig, status


def modes_panel(family: dt.GaussianFamily, separation: float = 6.0, weight: float = 0.6):
    """Panel: forward versus reverse KL fits of one Gaussian (the candidates of ``family``) to a
    two-mode teacher; sliders: the distance between the modes and the left mode's weight."""
    from .panels import float_slider

    return _panel("modes", {"separation": float_slider("mode separation", separation, 0.0, 8.0, 0.5),
                            "weight": float_slider("left-mode weight", weight, 0.5, 0.9, 0.05)},
                  ModesView(family, separation, weight))


# ---------------------------------------------------------------------------------------------
# Section 3: the T^2 KL loss and its gradient
# ---------------------------------------------------------------------------------------------

T_GRAD = np.geomspace(0.05, 200, 200)  # the temperatures of the gradient-size curves


def _gradients(teacher_logits: np.ndarray, student_logits: np.ndarray) -> np.ndarray:
    """T (p_s - p_t), the gradient of T^2 KL, at every T of ``T_GRAD``: shape (len(T_GRAD), K)."""
    return np.array([distillation_grad(teacher_logits, student_logits, T) for T in T_GRAD])


def gradient_scaling_figure(teacher_logits: Sequence[float], student_logits: Sequence[float], hard_label: int):
    """Left: gradient norms of T^2 KL, of the plain KL (divided by T^2) and of the hard-label
    cross-entropy (label ``hard_label``, T = 1) against T. Right: T^2 KL and the plain KL against
    T, with the logit-matching limit (Hinton et al. 2015, sec. 2.1)."""
    from .style import COLORS, new_figure

    zt, zs = np.asarray(teacher_logits, dtype=float), np.asarray(student_logits, dtype=float)
    norm_t2 = np.linalg.norm(_gradients(zt, zs), axis=1)
    norm_kl = norm_t2 / T_GRAD**2
    norm_ce = np.linalg.norm(dt.cross_entropy_grad(zs[None], [hard_label]))
    loss_t2 = np.array([distillation_loss(zt, zs, T) for T in T_GRAD])
    limit = float(dt.logit_matching_loss(zt, zs))
    fig, (ax, ax2) = new_figure(2, width=10, height=3.6)
    ax.plot(T_GRAD, norm_t2, color=COLORS["teacher"], lw=2.5, label=r"$T^2\,KL$: $\|T(p_s-p_t)\|$")
    ax.plot(T_GRAD, norm_kl, color=COLORS["student"], lw=2.5, ls="--", label=r"plain $KL$: $\|(p_s-p_t)/T\|$")
    ax.axhline(norm_ce, color=COLORS["reference"], lw=1.5, ls=":", label="hard-label CE (any T)")
    high = T_GRAD > 3
    guide = norm_kl[-1] * (T_GRAD / T_GRAD[-1]) ** -2.0
    ax.plot(T_GRAD[high], guide[high], color=COLORS["truth"], lw=1, alpha=0.6, label=r"slope $-2$ ($\propto 1/T^2$)")
    ax.set(xscale="log", yscale="log", xlabel="temperature T (log scale)",
           ylabel="gradient norm w.r.t. student logits", title="Why the $T^2$: gradient size versus T")
    ax.legend(loc="lower left", fontsize=8)
    ax2.plot(T_GRAD, loss_t2, color=COLORS["teacher"], lw=2.5, label=r"$T^2\,KL(p_t\|p_s)$")
    ax2.plot(T_GRAD, loss_t2 / T_GRAD**2, color=COLORS["student"], lw=2.5, ls="--", label=r"plain $KL$")
    ax2.axhline(limit, color=COLORS["truth"], ls=":", lw=1.5, label=r"logit matching $\frac{1}{2K}\sum(d-\bar d)^2$")
    ax2.set(xscale="log", yscale="log", xlabel="temperature T (log scale)", ylabel="loss (nats)",
            title="High T: distillation becomes logit matching")
    ax2.legend(loc="lower left", fontsize=8)
    return fig


class GradientView:
    """Left: the gradient T (p_s - p_t) per student logit at the chosen T, beside the gradient
    of its high-T limit, logit matching. Right: the gradient norms against T (as in
    :func:`gradient_scaling_figure`) with the current T marked on the T^2 and the plain-KL curve."""

    def __init__(self, teacher_logits: Sequence[float], student_logits: Sequence[float],
                 classes: Sequence[str], hard_label: int, T: float = 2.0) -> None:
        from matplotlib.ticker import NullLocator

        from .style import COLORS, BlitCanvas, new_figure

        self.zt, self.zs = np.asarray(teacher_logits, dtype=float), np.asarray(student_logits, dtype=float)
        K = self.zt.size
        grads = _gradients(self.zt, self.zs)
        self.norm_t2 = np.linalg.norm(grads, axis=1)
        self.lm_grad = dt.logit_matching_grad(self.zt, self.zs)
        self.norm_ce = float(np.linalg.norm(dt.cross_entropy_grad(self.zs[None], [hard_label])))
        g_max = 1.15 * max(np.abs(grads).max(), np.abs(self.lm_grad).max())  # one fixed scale for every T
        self.fig, (ax, ax_n) = new_figure(2, width=10.5, height=3.6, gridspec_kw={"width_ratios": [1.25, 1]})
        x = np.arange(K)
        self.bars = ax.bar(x - 0.2, np.zeros(K), 0.4, color=COLORS["teacher"], label=r"$T^2$ KL: $T(p_s-p_t)$")
        ax.bar(x + 0.2, self.lm_grad, 0.4, color=COLORS["reference"],
               label=r"logit matching: $(\tilde z_s-\tilde z_t)/K$")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(x, list(classes))
        ax.set(xlabel=f"class (teacher: {classes[int(np.argmax(self.zt))]}; "
                      f"student: {classes[int(np.argmax(self.zs))]})",
               ylabel="gradient per logit", ylim=(-g_max, g_max))
        ax.legend(loc="upper right", fontsize=8)
        self.title = ax.set_title(" ")
        ax_n.plot(T_GRAD, self.norm_t2, color=COLORS["teacher"], lw=2, label=r"$T^2$ KL")
        ax_n.plot(T_GRAD, self.norm_t2 / T_GRAD**2, color=COLORS["student"], lw=2, ls="--", label="plain KL")
        ax_n.axhline(self.norm_ce, color=COLORS["reference"], lw=1.5, ls=":", label="hard-label CE")
        self.dots, = ax_n.plot([], [], "o", color="white", mec="black", ms=8, mew=1.5, label="current T")
        ax_n.set(xscale="log", yscale="log", xlabel="temperature T (log scale)", ylabel="gradient norm",
                 title="Gradient size versus T")
        ax_n.xaxis.set_minor_locator(NullLocator())
        ax_n.legend(loc="lower left", fontsize=8)
        self.draw(T)
        BlitCanvas(self.fig, [*self.bars, self.title, self.dots])

    def draw(self, T: float):
        g = distillation_grad(self.zt, self.zs, T)
        for bar, v in zip(self.bars, g):
            bar.set_height(v)
        n_t2 = float(np.linalg.norm(g))
        self.dots.set_data([T, T], [n_t2, n_t2 / T**2])
        self.title.set_text(f"Gradient of the distillation loss at T = {T:.3g}")
        status = (f"T = {T:.3g}: gradient norm of T² KL {n_t2:.3g}, of the plain KL {n_t2 / T**2:.3g}, "
                  f"of logit matching {np.linalg.norm(self.lm_grad):.3g}, of hard-label CE {self.norm_ce:.3g}")
        return self.fig, status


def gradient_panel(teacher_logits: Sequence[float], student_logits: Sequence[float], classes: Sequence[str],
                   hard_label: int, T: float = 2.0):
    """Panel: the gradient of T^2 KL with respect to the student's logits; slider: T (0.1 to 20)."""
    from .panels import log_slider

    return _panel("gradient", {"T": log_slider("temperature T", T, 0.1, 20)},
                  GradientView(teacher_logits, student_logits, classes, hard_label, T), height="330px")


# ---------------------------------------------------------------------------------------------
# Section 4: the digits experiment
# ---------------------------------------------------------------------------------------------

def soft_labels_figure(images: np.ndarray, teacher_logits: np.ndarray, gold: Sequence[int],
                       temperatures: tuple[float, float] = (1.0, 4.0)):
    """One column per image: the image (gold label in the title) over the teacher's
    probabilities at two temperatures."""
    from .style import COLORS, new_figure

    images, zt = np.asarray(images), np.asarray(teacher_logits, dtype=float)
    n, K = zt.shape
    fig, axes = new_figure(n, 2, width=10, height=4.2, gridspec_kw={"height_ratios": [1.2, 1]})
    for col in range(n):
        axes[0, col].imshow(images[col], cmap="gray_r")
        axes[0, col].set_title(f"gold label {gold[col]}", fontsize=10)
        axes[0, col].axis("off")
        ax = axes[1, col]
        for T, shift, colour in zip(temperatures, (-0.2, 0.2), (COLORS["teacher"], COLORS["k1"])):
            ax.bar(np.arange(K) + shift, softmax(zt[col], T), 0.4, color=colour, label=f"T = {T:g}")
        ax.set(xticks=range(K), ylim=(0, 1), xlabel="digit")
        if col == 0:
            ax.set_ylabel("teacher probability")
            ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(f"The teacher's soft labels on its {n} least certain test digits")
    return fig


class KDGridView:
    """Left: mean student accuracy over the (T, alpha) grid of a
    :class:`r1lib.labs.distill_train.StudentComparison`, the selection boxed. Right: accuracy against
    T at the selected alpha (± 1 s.e. over the repeats), against the hard-label student, the
    sampled-label student and the teacher."""

    def __init__(self, grid: dt.StudentComparison, teacher_accuracy: float, T: float, alpha: float) -> None:
        from matplotlib.collections import LineCollection
        from matplotlib.patches import Rectangle
        from matplotlib.ticker import NullLocator, PercentFormatter

        from .style import COLORS, BlitCanvas, new_figure

        self.grid = grid
        self.teacher_accuracy = float(teacher_accuracy)
        Ts, As = grid.temperatures, grid.alphas
        reps = grid.kd.shape[-1]
        self.mean = grid.kd.mean(-1)
        self.se = grid.kd.std(-1, ddof=1) / math.sqrt(reps) if reps > 1 else np.zeros_like(self.mean)
        self.fig, (ax, ax_r) = new_figure(2, width=10.5, height=3.8, gridspec_kw={"width_ratios": [1, 1.25]})
        im = ax.imshow(self.mean, origin="lower", aspect="auto", cmap="viridis",
                       extent=(-0.5, As.size - 0.5, -0.5, Ts.size - 0.5))
        for i in range(Ts.size):
            for j in range(As.size):
                v = self.mean[i, j]
                ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if v < self.mean.mean() else "black")
        ax.set_xticks(range(As.size), [f"{a:g}" for a in As])
        ax.set_yticks(range(Ts.size), [f"{t:g}" for t in Ts])
        ax.set(xlabel="mixing weight α (0 = hard labels only)", ylabel="temperature T",
               title=f"Student test accuracy (%), n = {grid.n_transfer}")
        ax.grid(False)
        self.fig.colorbar(im, ax=ax, format=PercentFormatter(1.0, decimals=0))
        self.box = ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, ec=COLORS["student"], lw=3))
        hard, sampled = grid.hard.mean(), grid.sampled.mean()
        ax_r.axhline(self.teacher_accuracy, color=COLORS["truth"], ls="--", lw=1.2,
                     label=f"teacher {self.teacher_accuracy:.1%}")
        ax_r.axhline(hard, color=COLORS["neutral"], lw=2, label=f"hard labels {hard:.1%}")
        ax_r.axhline(sampled, color=COLORS["reference"], lw=2, ls=":", label=f"sampled labels {sampled:.1%}")
        self.curve, = ax_r.plot(Ts, self.mean[:, 0], "o-", color=COLORS["teacher"], lw=2,
                                label="soft labels (KD), ± 1 s.e.")
        self.bars = ax_r.add_collection(LineCollection([], colors=COLORS["teacher"], lw=2))
        self.dot, = ax_r.plot([], [], "o", ms=13, mfc="none", mec=COLORS["student"], mew=3)
        ax_r.set(xscale="log", xlabel="temperature T (log scale)", ylabel="test accuracy",
                 xlim=(Ts[0] / 1.3, Ts[-1] * 1.3), ylim=(0.6, 1.0))
        ax_r.set_xticks(Ts, [f"{t:g}" for t in Ts])
        ax_r.xaxis.set_minor_locator(NullLocator())
        ax_r.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax_r.legend(loc="lower right", fontsize=8)
        self.title = ax_r.set_title(" ")
        self.draw(T, alpha)
        BlitCanvas(self.fig, [self.box, self.bars, self.curve, self.dot, self.title])

    def index(self, T: float, alpha: float) -> tuple[int, int]:
        """The grid cell nearest to (T, alpha), nearest in log T."""
        i = int(np.argmin(np.abs(np.log(self.grid.temperatures) - math.log(T))))
        j = int(np.argmin(np.abs(self.grid.alphas - alpha)))
        return i, j

    def draw(self, T: float, alpha: float):
        i, j = self.index(T, alpha)
        Ts = self.grid.temperatures
        self.box.set_xy((j - 0.5, i - 0.5))
        m, se = self.mean[:, j], self.se[:, j]
        self.curve.set_ydata(m)
        self.bars.set_segments([[(t, lo), (t, hi)] for t, lo, hi in zip(Ts, m - se, m + se)])
        self.dot.set_data([Ts[i]], [m[i]])
        a = self.grid.alphas[j]
        self.title.set_text(f"Accuracy versus T at α = {a:g}")
        status = (f"T = {Ts[i]:g}, α = {a:g}: KD student {m[i]:.1%} ± {se[i]:.1%} "
                  f"(hard labels {self.grid.hard.mean():.1%}, sampled labels {self.grid.sampled.mean():.1%}, "
                  f"teacher {self.teacher_accuracy:.1%})")
        return self.fig, status


def kd_grid_panel(grid: dt.StudentComparison, teacher_accuracy: float, T: float = 8.0, alpha: float = 0.5):
    """Panel: pick (T, alpha) on the precomputed grid of students (nothing is trained on a move);
    sliders: T (powers of 2 over the grid's range) and alpha (the grid's step)."""
    from .panels import float_slider, log_slider

    Ts, As = grid.temperatures, grid.alphas
    step_a = float(np.min(np.diff(As))) if As.size > 1 else 1.0
    controls = {"T": log_slider("temperature T", T, float(Ts[0]), float(Ts[-1]), base=2, step=1,
                                readout_format=".3g"),
                "alpha": float_slider("mixing weight α", alpha, float(As[0]), float(As[-1]), step_a)}
    return _panel("kd_grid", controls, KDGridView(grid, teacher_accuracy, T, alpha), height="370px")


def transfer_size_figure(sizes: Sequence[int], curves: Mapping[str, np.ndarray], teacher_accuracy: float,
                         reference: tuple[str, float] | None = None):
    """Student accuracy against the transfer-set size: one line per way of teaching
    (``curves[name]`` of shape ``(len(sizes), repeats)``, mean ± 1 s.e.), the teacher dashed and
    an optional horizontal ``reference`` line ``(label, value)``."""
    from matplotlib.ticker import NullLocator, PercentFormatter

    from .style import COLORS, new_figure

    sizes = np.asarray(sizes)
    fig, ax = new_figure(width=9, height=3.6)
    colours = (COLORS["neutral"], COLORS["teacher"], COLORS["reference"], COLORS["k1"])
    reps = 1
    for (name, acc), colour, style in zip(curves.items(), colours, ("s-", "o-", "^:", "d--")):
        acc = np.asarray(acc, dtype=float)
        reps = acc.shape[1]
        m, se = acc.mean(1), acc.std(1, ddof=1) / math.sqrt(reps)
        ax.errorbar(sizes, m, yerr=se, fmt=style, color=colour, lw=2, ms=6, capsize=3, label=name)
    ax.axhline(teacher_accuracy, color=COLORS["truth"], ls="--", lw=1.2, label=f"teacher ({teacher_accuracy:.1%})")
    if reference is not None:
        ax.axhline(reference[1], color=COLORS["neutral"], ls=":", lw=1.2, label=reference[0])
    ax.set(xscale="log", xlabel="transfer set size n (images, log scale)", ylabel="student test accuracy",
           title=f"Student accuracy versus transfer set size (± 1 s.e., {reps} repeats)")
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.legend(loc="lower right", fontsize=8)
    return fig


def rejection_figure(samples: np.ndarray, gold: np.ndarray, accuracies: Mapping[str, Sequence[float]]):
    """Left: how many teacher samples the correctness filter keeps and drops, per digit class.
    Right: the test accuracy of the students trained on each data set (mean ± 1 s.e.)."""
    from matplotlib.ticker import PercentFormatter

    from .style import COLORS, new_figure

    samples = np.asarray(samples)
    gold = np.broadcast_to(np.asarray(gold)[..., None], samples.shape)
    kept = samples == gold
    K = int(max(samples.max(), gold.max())) + 1
    n_kept = np.bincount(gold[kept], minlength=K)
    n_dropped = np.bincount(gold[~kept], minlength=K)
    fig, (ax, ax_r) = new_figure(2, width=10, height=3.4, gridspec_kw={"width_ratios": [1.4, 1]})
    x = np.arange(K)
    ax.bar(x, n_kept, color=COLORS["reference"], label=f"kept (correct): {kept.sum()}")
    ax.bar(x, n_dropped, bottom=n_kept, color=COLORS["student"], label=f"dropped (wrong): {(~kept).sum()}")
    ax.set(xticks=x, xlabel="gold digit of the image", ylabel="teacher samples",
           title="Rejection sampling: keep a sample only if it is correct")
    ax.legend(loc="lower right", fontsize=8)
    names = list(accuracies)
    for k, (name, colour) in enumerate(zip(names, (COLORS["neutral"], COLORS["reference"], COLORS["teacher"]))):
        acc = np.asarray(accuracies[name], dtype=float)
        se = acc.std(ddof=1) / math.sqrt(acc.size) if acc.size > 1 else 0.0
        ax_r.bar(k, acc.mean(), yerr=se, capsize=4, color=colour)
        ax_r.text(k, acc.mean() + se + 0.005, f"{acc.mean():.1%}", ha="center", va="bottom", fontsize=9)
    lows = [np.min(accuracies[n]) for n in names]
    ax_r.set(xticks=range(len(names)), ylim=(max(0.0, min(lows) - 0.1), 1.0), ylabel="student test accuracy",
             title="Students trained on each set")
    ax_r.set_xticklabels([textwrap.fill(n, 16) for n in names], fontsize=8)
    ax_r.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    return fig

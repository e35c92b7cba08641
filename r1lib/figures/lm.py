r"""Figures and slider panels of notebook 07 (the R1 recipe on a real, tiny transformer).

The notebook loads the checkpoints and logs of :mod:`r1lib.labs.lm` and passes what it loaded
here; this module only reads the model (one forward pass) and draws. Panels (built once, then
only the changing artists are redrawn with :class:`r1lib.figures.style.BlitCanvas`):

- :func:`temperature_panel`: the model's real next-token distribution at a chosen position of a
  chosen output, :math:`\mathrm{softmax}(z / T)`, its top tokens and its entropy against T;
- :func:`training_step_panel`: the same fixed prompts' completions at checkpoints through an RL
  run (from the training log), beside the run's accuracy and length curves.

Static figures: :func:`attention_figure` (attention maps of a real prompt, from the forward
pass's cache), :func:`training_curves_figure` (R1-Zero's reward, accuracy, format, length, k3 KL,
clip fraction), :func:`pass_at_k_figure` (pass@k of stages with clustered 95 % intervals and a
per-problem comparison), :func:`rejection_figure`, :func:`students_figure`.

Helpers the notebook uses to read a model: :func:`token_labels` (tokens as a reader sees them),
:func:`attention_maps`, :func:`next_token_logits`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any, Optional

import numpy as np

from ..error_bars import mean_with_se, pass_at_1
from ..labs import lm
from ..metrics import pass_at_k
from ..softmax import entropy, softmax
from ..validation import describe
from .style import COLORS, BlitCanvas, new_figure

__all__ = ["token_labels", "attention_maps", "next_token_logits", "TemperatureView", "temperature_panel",
           "TrainingStepView", "training_step_panel", "attention_figure", "training_curves_figure",
           "pass_at_k_curves", "pass_at_k_figure", "rejection_figure", "students_figure", "moving_average"]

Z95 = NormalDist().inv_cdf(0.975)
BLUE, ORANGE, GREEN = COLORS["teacher"], COLORS["student"], COLORS["reference"]
YELLOW, SKY, PINK = COLORS["k1"], COLORS["k2"], COLORS["k3"]
GREY, BLACK = COLORS["neutral"], COLORS["truth"]
STAGE_COLOURS = (GREY, BLUE, ORANGE, GREEN, PINK, YELLOW, SKY, BLACK)
MONO = "DejaVu Sans Mono"
_VISIBLE = {" ": "␣", "\n": "⏎"}


# --------------------------------------------------------------------------------- reading a model

def token_labels(text: str) -> list[str]:
    """The tokens of ``text`` as a reader sees them: tags whole, a space as ``␣``, a newline as ``⏎``."""
    return [_VISIBLE.get(lm.VOCAB[i], lm.VOCAB[i]) for i in lm.encode(text)]


def _check_model(model: Any) -> Any:
    if not isinstance(model, lm.Transformer):
        raise TypeError(f"model must be an r1lib.labs.lm.Transformer, got {describe(model)}")
    return model


def attention_maps(model, text: str) -> np.ndarray:
    r"""The attention probabilities of one forward pass over ``text``: (n_layers, n_heads, T, T).

    Entry ``[l, h, i, j]`` is how much position ``i`` (the query) reads position ``j`` (a key) in
    head ``h`` of block ``l``: row ``i`` of :math:`\mathrm{softmax}(QK^\top/\sqrt{d_h} + M)`, zero
    for ``j > i`` (causal). Read from the cache that :meth:`Transformer.forward` keeps for the
    backward pass (each block's attention cache ends with these probabilities).
    """
    _check_model(model)
    ids = lm.encode(text)
    if ids.size == 0:
        raise ValueError("text must hold at least one token")
    _, cache = model.forward(ids[None, :])
    # A block's cache: (ln1, qkv, attention, out, ln2, mlp in, gelu, mlp out); attention's is (q, k, v, p).
    return np.stack([block[2][3][0] for block in cache["blocks"]]).astype(np.float64)


def next_token_logits(model, prompt: str, completions: Sequence[str]) -> list[np.ndarray]:
    """For each completion, the logits that scored its tokens: an (L_r, V) float64 array whose row
    ``j`` is the model's logits for completion token ``j`` given the prompt and tokens ``< j``
    (one forward pass, :func:`r1lib.labs.lm.completion_log_probs`)."""
    _check_model(model)
    if isinstance(completions, str) or not isinstance(completions, Sequence) or not completions:
        raise TypeError(f"completions must be a non-empty list of strings, got {describe(completions)}")
    p = lm.encode(prompt)
    ids = [lm.encode(c) for c in completions]
    for r, c in enumerate(ids):
        if c.size == 0:
            raise ValueError(f"completions[{r}] is empty: there is no position to look at")
    scored = lm.completion_log_probs(model, [p] * len(ids), ids)
    return [scored.logits[r, :len(c)].astype(np.float64) for r, c in enumerate(ids)]


def moving_average(y: Sequence[float], window: int = 10) -> np.ndarray:
    """The trailing mean over the last ``window`` values (fewer at the start)."""
    y = np.asarray(y, dtype=float)
    c = np.concatenate([[0.0], np.cumsum(y)])
    i = np.arange(1, len(y) + 1)
    lo = np.maximum(0, i - window)
    return (c[i] - c[lo]) / (i - lo)


def _tokens_for(p: np.ndarray, mass: float) -> str:
    """How many of the most likely tokens it takes to hold ``mass`` of the probability, in words."""
    k = int(np.sum(np.cumsum(np.sort(p)[::-1]) < mass)) + 1
    # "90% of the mass on the top token" read as if the top token held exactly 90%
    if k == 1:
        return f"the top token alone holds {mass:.0%} of the mass or more"
    return f"it takes the top {k} tokens to hold {mass:.0%} of the mass"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else "…" + text[-(limit - 1):]


# --------------------------------------------------------------------------------- temperature

class TemperatureView:
    r"""The next-token distribution :math:`\mathrm{softmax}(z/T)` of a real model at one position of
    one output.

    Left: the ``TOP`` most likely tokens at temperature T (bars), with their probability at T = 1
    (black ticks); the token the output actually wrote is marked. Right: the entropy
    :math:`H(T) = -\sum_v p_v(T) \log p_v(T)` in nats against T at this position, with
    :math:`\log V` (uniform) dotted, and a marker at the chosen T.
    """

    TOP = 10
    T_GRID = np.geomspace(0.1, 10.0, 81)

    def __init__(self, model, prompt: str, completions: Sequence[str]) -> None:
        self.prompt = prompt
        self.completions = list(completions)
        self.logits = next_token_logits(model, prompt, self.completions)
        self.written = [lm.encode(c) for c in self.completions]
        V = self.logits[0].shape[1]
        # The entropy curve of every position of every output, computed once (r1lib.entropy).
        self.entropy = [np.stack([entropy(z, temperature=t) for t in self.T_GRID], axis=1)
                        for z in self.logits]
        fig, (ax, ax_h) = new_figure(2, width=10.0, height=3.9)
        fig.set_layout_engine(None)
        ax.set_position([0.10, 0.14, 0.36, 0.68])
        ax_h.set_position([0.585, 0.14, 0.39, 0.68])
        rows = np.arange(self.TOP)[::-1]   # the most likely token on top
        self.bars = ax.barh(rows, np.zeros(self.TOP), height=0.7, color=BLUE, label="p at temperature T")
        self.ones, = ax.plot(np.zeros(self.TOP), rows, "|", ms=14, mew=2, color=BLACK, label="p at T = 1")
        # Token names sit inside the axes, left of x = 0, so an update never touches the static frame.
        self.names = [ax.text(-0.02, r, "", ha="right", va="center", family=MONO, fontsize=8.5) for r in rows]
        self.values = [ax.text(0.0, r, "", ha="left", va="center", fontsize=8) for r in rows]
        ax.axvline(0.0, color=BLACK, lw=0.8)
        ax.set(xlim=(-0.4, 1.14), ylim=(-0.6, self.TOP - 0.4), xlabel="probability",
               xticks=[0, 0.25, 0.5, 0.75, 1.0], yticks=[])
        ax.grid(False, axis="y")
        ax.spines["left"].set_visible(False)
        from matplotlib.patches import Patch
        handles = [self.bars.patches[0], Patch(color=ORANGE), self.ones]
        ax.legend(handles, ["p at temperature T", "the token this output wrote", "p at T = 1"],
                  loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=3, fontsize=8, frameon=False,
                  title=f"the {self.TOP} most likely next tokens", title_fontsize=9)
        ax_h.axhline(np.log(V), color=GREY, ls=":", lw=1.2, label=f"uniform over {V} tokens: log {V}")
        self.curve, = ax_h.plot([], [], color=BLUE, lw=2, label="entropy H(T) at this position")
        self.mark, = ax_h.plot([], [], "o", ms=8, color=ORANGE, label="chosen T")
        ax_h.axvline(1.0, color=BLACK, lw=0.8, ls="--")
        ax_h.set_xscale("log")
        ax_h.set_xticks([0.1, 0.3, 0.6, 1, 3, 10], ["0.1", "0.3", "0.6", "1", "3", "10"])
        ax_h.minorticks_off()
        ax_h.set(xlabel="temperature T", ylabel="entropy (nats)", xlim=(0.1, 10.0), ylim=(0, 1.08 * np.log(V)))
        ax_h.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=2, fontsize=8, frameon=False)
        self.fig = fig
        BlitCanvas(fig, [*self.bars.patches, self.ones, *self.names, *self.values, self.curve, self.mark])

    def distribution(self, output: int, position: int, temperature: float) -> np.ndarray:
        """The next-token probabilities at ``position`` of output ``output`` and temperature T
        (position clipped to the output's last token)."""
        z = self.logits[output]
        return softmax(z[min(position, len(z) - 1)], temperature=temperature)

    def draw(self, output: int, position: int, temperature: float):
        z = self.logits[output]
        j = min(int(position), len(z) - 1)
        p = softmax(z[j], temperature=temperature)
        p1 = softmax(z[j])
        top = np.argsort(-p, kind="stable")[:self.TOP]
        wrote = int(self.written[output][j])
        for bar, name, value, v in zip(self.bars.patches, self.names, self.values, top):
            bar.set_width(p[v])
            bar.set_color(ORANGE if v == wrote else BLUE)
            name.set_text(_VISIBLE.get(lm.VOCAB[v], lm.VOCAB[v]))
            value.set_text(f" {p[v]:.2f}")
            value.set_x(max(p[v], p1[v]) + 0.01)   # right of the bar and of the T = 1 tick
        self.ones.set_data(p1[top], np.arange(self.TOP)[::-1])
        self.curve.set_data(self.T_GRID, self.entropy[output][j])
        H = float(entropy(z[j], temperature=temperature))
        self.mark.set_data([temperature], [H])
        context = self.prompt + lm.decode(self.written[output][:j])
        rank = int(np.sum(p > p[wrote]))
        status = (f"output {output + 1}, position {j}: after <code>{_escape(_short(context, 60))}</code> it wrote "
                  f"<code>{_escape(lm.VOCAB[wrote])}</code> (p = {p1[wrote]:.3f} at T = 1, {p[wrote]:.3f} "
                  f"at T = {temperature:.2f}, rank {rank + 1}); entropy {H:.2f} nats, "
                  f"{_tokens_for(p, 0.9)}")
        if j < int(position):
            status += f" (this output has only {len(z)} tokens: showing its last)"
        return self.fig, status


def temperature_panel(model, prompt: str, completions: Sequence[str], output: int = 0,
                      position: int = 0, temperature: float = 1.0):
    """Controls: which output (a dropdown of the completions), the position in it, the temperature
    (0.1 to 10, logarithmic), over :class:`TemperatureView`."""
    import ipywidgets as w

    from .panels import Panel, int_slider, log_slider

    view = TemperatureView(model, prompt, completions)
    longest = max(len(z) for z in view.logits)
    # Numbered: sampled outputs are often the same text, and equal labels would hide the choice.
    options = [(f"{i + 1}: {_short(prompt + c, 44)}", i) for i, c in enumerate(view.completions)]
    controls = {
        "output": w.Dropdown(options=options, value=output, description="output",
                             style={"description_width": "initial"}, layout=w.Layout(width="430px")),
        "position": int_slider("position in the output", position, 0, longest - 1),
        "temperature": log_slider("temperature T", temperature, 0.1, 10.0, step=0.05),
    }
    panel = Panel("lm-temperature", controls, view.draw, height="370px")
    panel.view = view
    return panel


# --------------------------------------------------------------------------------- RL snapshots

def _check_log(log: Any, keys: Sequence[str]) -> dict:
    if not isinstance(log, Mapping):
        raise TypeError(f"log must be a training log (a dict), got {describe(log)}")
    missing = [k for k in keys if k not in log]
    if missing:
        raise ValueError(f"the training log has no {', '.join(map(repr, missing))} "
                         f"(it has {', '.join(sorted(map(str, log)))})")
    return dict(log)


class TrainingStepView:
    """Left: accuracy and the share of outputs that write working (batch means, smoothed) against
    the GRPO step, a line at the chosen checkpoint. Right: the completions of the log's fixed test
    prompts sampled at that checkpoint (same seed at every checkpoint, so they differ by the
    model only), ✓ where the answer is right."""

    def __init__(self, log: Mapping, window: int = 10) -> None:
        log = _check_log(log, ("snapshots", "snapshot_prompts", "accuracy", "working", "length"))
        self.snapshots = list(log["snapshots"])
        if not self.snapshots:
            raise ValueError("the training log holds no snapshots")
        self.prompts = list(log["snapshot_prompts"])
        self.steps = [int(s["step"]) for s in self.snapshots]
        per = len(self.snapshots[0]["completions"][0])
        self.n_lines = len(self.prompts) * per
        fig, ax = new_figure(1, width=11.0, height=4.2)
        fig.set_layout_engine(None)
        ax.set_position([0.06, 0.14, 0.25, 0.66])
        steps = np.arange(1, len(log["accuracy"]) + 1)
        for key, colour, label in (("accuracy", BLUE, "accuracy"), ("working", ORANGE, "writes working")):
            y = np.asarray(log[key], dtype=float)
            ax.plot(steps, y, color=colour, alpha=0.25, lw=1)
            ax.plot(steps, moving_average(y, window), color=colour, lw=2, label=label)
        self.step_line = ax.axvline(0, color=BLACK, lw=1, ls=":")
        ax.set(xlabel="GRPO step", ylabel="share of the batch", ylim=(0, 1.02), xlim=(0, max(self.steps) + 1))
        ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.01), ncol=2, fontsize=8, frameon=False,
                  title=f"batch means ({window}-step average)", title_fontsize=9)
        tx = fig.add_axes([0.34, 0.04, 0.65, 0.84])
        tx.set_axis_off()
        tx.set(xlim=(0, 1), ylim=(0, 1))
        tx.text(0.0, 1.0, "the fixed test prompts, sampled at this checkpoint (✓ right, ✗ wrong)",
                fontsize=9, va="bottom")
        ys = np.linspace(0.95, 0.02, self.n_lines)
        self.lines = [tx.text(0.0, y, "", family=MONO, fontsize=8.5, va="center") for y in ys]
        self.fig = fig
        BlitCanvas(fig, [self.step_line, *self.lines])

    def draw(self, step: int):
        if step not in self.steps:
            raise ValueError(f"step must be one of the logged checkpoints {self.steps}, got {step!r}")
        snap = self.snapshots[self.steps.index(step)]
        self.step_line.set_xdata([step, step])
        right = total = 0
        i = 0
        for prompt, outs, marks in zip(self.prompts, snap["completions"], snap["correct"]):
            for text, ok in zip(outs, marks):
                line = self.lines[i]
                line.set_text(("✓ " if ok else "✗ ") + _short(prompt + text.replace("\n", "⏎"), 78))
                line.set_color(BLUE if ok else ORANGE)
                right += int(ok)
                total += 1
                i += 1
        lengths = [len(lm.encode(t)) for outs in snap["completions"] for t in outs]
        status = (f"step {step}: {right} of {total} completions right, mean length "
                  f"{np.mean(lengths):.1f} tokens")
        return self.fig, status


def training_step_panel(log: Mapping, step: Optional[int] = None):
    """A slider over the log's checkpoints (GRPO steps) over :class:`TrainingStepView`."""
    import ipywidgets as w

    from .panels import Panel

    view = TrainingStepView(log)
    step = view.steps[0] if step is None else step
    control = w.SelectionSlider(options=view.steps, value=step, description="GRPO step",
                                continuous_update=False, style={"description_width": "initial"},
                                layout=w.Layout(width="430px"))
    panel = Panel("lm-steps", {"step": control}, view.draw, height="390px")
    panel.view = view
    return panel


# --------------------------------------------------------------------------------- static figures

def attention_figure(model, text: str, heads: Sequence[tuple[int, int]] = ((0, 0), (1, 0))):
    """One heat map per (layer, head) in ``heads``: row i is what position i reads (its attention
    probabilities over the positions <= i), tokens on both axes."""
    maps = attention_maps(model, text)
    labels = token_labels(text)
    L, H = maps.shape[:2]
    for layer, head in heads:
        if not (0 <= layer < L and 0 <= head < H):
            raise ValueError(f"heads must be (layer, head) pairs with layer < {L} and head < {H}, got {(layer, head)}")
    T = len(labels)
    fig, axes = new_figure(len(heads), width=5.2 * len(heads), height=5.4)
    axes = np.atleast_1d(axes)
    for ax, (layer, head) in zip(axes, heads):
        im = ax.imshow(maps[layer, head], cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xticks(range(T), labels, rotation=90, family=MONO, fontsize=7)
        ax.set_yticks(range(T), labels, family=MONO, fontsize=7)
        ax.grid(False)
        ax.set(title=f"block {layer}, head {head}", xlabel="key: the position read",
               ylabel="query: the position reading")
    fig.colorbar(im, ax=list(axes), shrink=0.7, label="attention probability")
    return fig


_CURVES = (("reward", "reward: accuracy + format"), ("accuracy", "accuracy (builtin grader)"),
           ("format", "format reward (template)"), ("length", "completion length (tokens)"),
           ("kl", "k3 KL to the base (per token)"), ("clip_fraction", "clip fraction (tokens)"))


def training_curves_figure(log: Mapping, window: int = 10, metrics: Sequence[tuple[str, str]] = _CURVES):
    """R1-Zero's training log, one plot per metric against the GRPO step: the batch mean each step
    (faint) and its ``window``-step moving average."""
    log = _check_log(log, [m for m, _ in metrics])
    ncols = 3
    nrows = -(-len(metrics) // ncols)
    fig, axes = new_figure(ncols, nrows, width=11.0, height=3.0 * nrows)
    axes = np.atleast_1d(axes).ravel()
    for ax, (key, title) in zip(axes, metrics):
        y = np.asarray(log[key], dtype=float)
        steps = np.arange(1, len(y) + 1)
        ax.plot(steps, y, color=BLUE, alpha=0.3, lw=1)
        ax.plot(steps, moving_average(y, window), color=BLUE, lw=2)
        ax.set(title=title, xlabel="GRPO step")
    for ax in axes[len(metrics):]:
        ax.set_axis_off()
    return fig


def pass_at_k_curves(n: int, counts: Any, ks: Optional[Sequence[int]] = None):
    """Mean pass@k over the problems and its clustered standard error at each k (r1lib.pass_at_k
    per problem, then r1lib.mean_with_se over problems): ``(ks, value, se)``."""
    c = np.asarray(counts)
    ks = np.arange(1, n + 1) if ks is None else np.asarray(ks)
    per_problem = pass_at_k(n, c[:, None], ks[None, :])
    est = mean_with_se(per_problem, axis=0)
    return ks, np.asarray(est.value, dtype=float), np.asarray(est.se, dtype=float)


def _log2_axis(ax, n: int) -> None:
    ax.set_xscale("log", base=2)
    ticks = [t for t in (1, 2, 4, 8, 16, 32, 64, 128) if t <= n]
    ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()
    ax.set_xlim(0.85, 1.2 * n)


def _check_counts(counts: Any, n: int) -> dict:
    if not isinstance(counts, Mapping) or not counts:
        raise TypeError(f"counts must be a non-empty mapping of stage -> correct counts per problem, "
                        f"got {describe(counts)}")
    out = {name: np.asarray(c) for name, c in counts.items()}
    sizes = {len(c) for c in out.values()}
    if len(sizes) != 1:
        raise ValueError(f"every stage must be counted on the same problems, got {sorted(sizes)} problems")
    for name, c in out.items():
        if c.ndim != 1 or not np.issubdtype(c.dtype, np.integer) or (c < 0).any() or (c > n).any():
            raise ValueError(f"counts[{name!r}] must be integers in [0, n={n}] per problem, got {describe(c)}")
    return out


def pass_at_k_figure(counts: Mapping, n: int, pair: Optional[tuple[str, str]] = None,
                     rng: Optional[np.random.Generator] = None):
    """Left: mean pass@k against k for every stage in ``counts`` (stage -> correct samples of n per
    problem, on the same problems), with clustered 95 % intervals. Right, for ``pair = (a, b)``:
    each problem's success rate c/n under a (x) and b (y), jittered a little for display."""
    counts = _check_counts(counts, n)
    width = 10.5 if pair else 5.5
    fig, axes = new_figure(2 if pair else 1, width=width, height=4.0)
    axes = np.atleast_1d(axes)
    ax = axes[0]
    for (name, c), colour in zip(counts.items(), STAGE_COLOURS):
        ks, value, se = pass_at_k_curves(n, c)
        ax.fill_between(ks, 100 * (value - Z95 * se), 100 * (value + Z95 * se), color=colour, alpha=0.18, lw=0)
        ax.plot(ks, 100 * value, color=colour, lw=2, label=name)
    _log2_axis(ax, n)
    P = len(next(iter(counts.values())))
    ax.set(xlabel="k (samples per problem)", ylabel="pass@k (%)", ylim=(0, 101),
           title=f"pass@k on {P} test problems (95 % CI)")
    # below the plot: pass@k curves rise to the right and may start anywhere
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=4, frameon=False)
    if pair:
        a, b = pair
        if a not in counts or b not in counts:
            raise ValueError(f"pair must name two stages of counts {list(counts)}, got {pair!r}")
        rng = np.random.default_rng(7) if rng is None else rng
        jitter = rng.uniform(-0.012, 0.012, (P, 2))
        xa, xb = counts[a] / n, counts[b] / n
        ax_s = axes[1]
        ax_s.plot([0, 1], [0, 1], color=BLACK, lw=0.8, ls="--")
        ax_s.scatter(xa + jitter[:, 0], xb + jitter[:, 1], s=12, color=BLUE, alpha=0.5)
        ax_s.set(xlabel=f"{a}: success rate c/{n} of a problem", ylabel=f"{b}: success rate c/{n}",
                 xlim=(-0.04, 1.04), ylim=(-0.04, 1.04),
                 title=f"every problem: {int(np.sum(xb > xa))} better under {b}, {int(np.sum(xa > xb))} under {a}")
    return fig


def rejection_figure(rejection: Mapping):
    """What rejection sampling kept and why it dropped the rest (left), and how many outputs it
    kept per prompt (right). ``rejection`` is the dict :func:`r1lib.labs.lm.stages.rejection_sample`
    returns (counts, the kept prompts, its settings)."""
    r = _check_log(rejection, ("total", "correct", "formatted", "kept", "prompts", "settings"))
    total, correct, formatted, kept = (int(r[k]) for k in ("total", "correct", "formatted", "kept"))
    # "in the template" as rejection_sample counts it: the template, and stopped by itself (<eos>)
    names = ["kept: right answer\nin the template", "right answer, not in\nthe template or cut off",
             "in the template,\nwrong answer", "neither"]
    counts = [kept, correct - kept, formatted - kept, total - correct - formatted + kept]
    fig, (ax, ax_p) = new_figure(2, width=10.0, height=3.3)
    bars = ax.barh(names[::-1], counts[::-1], color=[GREY, BLUE, ORANGE, GREEN])
    for bar, c in zip(bars, counts[::-1]):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {c}", va="center", fontsize=9)
    ax.set(xlabel="outputs", title=f"{total} outputs sampled", xlim=(0, 1.25 * max(max(counts), 1)))
    n_prompts, n_samples = int(r["settings"]["n_prompts"]), int(r["settings"]["n_samples"])
    _, per_prompt = np.unique(np.asarray(r["prompts"], dtype=object), return_counts=True)
    per_prompt = np.concatenate([per_prompt, np.zeros(n_prompts - len(per_prompt), dtype=int)])
    ax_p.bar(np.arange(n_samples + 1), np.bincount(per_prompt, minlength=n_samples + 1), color=BLUE, alpha=0.85)
    ax_p.set_xticks(np.arange(n_samples + 1))
    ax_p.set(xlabel=f"kept outputs of a prompt (of {n_samples})", ylabel="prompts",
             title=f"{int(np.sum(per_prompt > 0))} of {n_prompts} prompts keep at least one")
    return fig


def students_figure(counts: Mapping, n: int, n_params: Mapping):
    """Left: pass@k of the teacher and of each student (clustered 95 % bands). Right: pass@1 with its
    clustered 95 % interval (r1lib.pass_at_1); the legend gives each model's parameter count."""
    counts = _check_counts(counts, n)
    fig, (ax, ax_b) = new_figure(2, width=10.5, height=5.0)
    names = list(counts)
    colours = STAGE_COLOURS[:len(names)]
    for name, colour in zip(names, colours):
        ks, value, se = pass_at_k_curves(n, counts[name])
        ax.fill_between(ks, 100 * (value - Z95 * se), 100 * (value + Z95 * se), color=colour, alpha=0.15, lw=0)
        ax.plot(ks, 100 * value, color=colour, lw=2, label=f"{name} ({n_params[name]:,} params)")
    _log2_axis(ax, n)
    ax.set(xlabel="k", ylabel="pass@k (%)", ylim=(0, 101), title="pass@k (95 % CI)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=2, frameon=False)
    est = [pass_at_1(n, counts[s]) for s in names]
    ax_b.bar(range(len(names)), [100 * e.value for e in est], yerr=[100 * Z95 * e.se for e in est],
             capsize=4, color=colours)
    ax_b.set_xticks(range(len(names)), [s.replace("-", "-\n", 1) for s in names], fontsize=8)
    ax_b.set(ylabel="pass@1 (%)", title="pass@1 with 95 % clustered CI", ylim=(0, 100))
    return fig

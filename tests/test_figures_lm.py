"""Notebook 07's figure layer (r1lib.figures.lm): what each panel and figure draws is checked
against values computed here without r1lib (plain NumPy forward passes, softmax, entropy, exact
binomials); an update changes only its data artists, never a static pixel; every control works
at its extremes without a warning; callbacks stay fast; bad input is a clear error."""
from __future__ import annotations

import math
import statistics
import warnings

import numpy as np
import pytest

pytest.importorskip("ipywidgets")
matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from figtools import drive, pixels  # noqa: E402
from r1lib.figures import lm as fl  # noqa: E402
from r1lib.labs import lm  # noqa: E402

BUDGET_MS = 150.0   # median callback; measured 60-100 ms on 2 shared cores at load 8-10
PROMPT = "347+285="
OUTPUTS = ["<think>7+5=12,4+8+1=13,3+2+1=6</think><answer>632</answer><eos>",
           "632<eos>",
           "so the answer is 632.<eos>"]


@pytest.fixture(scope="module")
def model():
    """A small float64 transformer with weights scaled up, so its distributions are far from
    uniform and its attention far from flat."""
    config = lm.Config(context=80, d_model=16, n_layers=2, n_heads=2, d_mlp=32, dtype="float64")
    m = lm.Transformer.init(config, np.random.default_rng(7))
    for name, w in m.params.items():
        if name.endswith(".w") or name.endswith("_emb"):
            w *= 25.0
    return m


# ------------------------------------------------------------------ an independent forward pass

def _ln(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def _gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _reference_forward(model, ids):
    """GPT-2's pre-norm forward written out from the formulas: (logits (T, V), attention
    probabilities (L, H, T, T))."""
    p, c = model.params, model.config
    T, H, dh = len(ids), c.n_heads, c.d_model // c.n_heads
    x = p["tok_emb"][ids] + p["pos_emb"][:T]
    maps = []
    for i in range(c.n_layers):
        b = f"block{i}."
        h = _ln(x, p[b + "ln1.gamma"], p[b + "ln1.beta"])
        q, k, v = np.split(h @ p[b + "attn.qkv.w"] + p[b + "attn.qkv.b"], 3, axis=-1)
        heads, probs = [], []
        for j in range(H):
            sl = slice(j * dh, (j + 1) * dh)
            s = q[:, sl] @ k[:, sl].T / math.sqrt(dh)
            s[np.triu_indices(T, 1)] = -np.inf
            e = np.exp(s - s.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
            probs.append(a)
            heads.append(a @ v[:, sl])
        maps.append(probs)
        x = x + np.concatenate(heads, axis=1) @ p[b + "attn.out.w"] + p[b + "attn.out.b"]
        h = _ln(x, p[b + "ln2.gamma"], p[b + "ln2.beta"])
        x = x + _gelu(h @ p[b + "mlp.in.w"] + p[b + "mlp.in.b"]) @ p[b + "mlp.out.w"] + p[b + "mlp.out.b"]
    logits = _ln(x, p["ln_f.gamma"], p["ln_f.beta"]) @ p["head.w"]
    return logits, np.array(maps)


def _softmax(z, T=1.0):
    z = np.asarray(z, dtype=float) / T
    e = np.exp(z - z.max())
    return e / e.sum()


def _entropy(z, T):
    p = _softmax(z, T)
    nz = p > 0
    return float(-np.sum(p[nz] * np.log(p[nz])))


def _static_mask(fig, img):
    """True at the pixels outside every axes (legends above them, labels, ticks, titles): what
    no update may touch."""
    h = img.shape[0]
    mask = np.ones(img.shape[:2], dtype=bool)
    for ax in fig.axes:
        bb = ax.get_window_extent()
        x0, x1 = int(np.floor(bb.x0)) - 1, int(np.ceil(bb.x1)) + 1
        y0, y1 = h - int(np.ceil(bb.y1)) - 1, h - int(np.floor(bb.y0)) + 1
        mask[max(0, y0):y1, max(0, x0):x1] = False
    return mask


# ------------------------------------------------------------------ reading a model

def test_token_labels_show_each_token():
    assert fl.token_labels("12 +3\n<eos>") == ["1", "2", "␣", "+", "3", "⏎", "<eos>"]


def test_attention_maps_equal_an_independent_forward(model):
    text = PROMPT + OUTPUTS[0]
    maps = fl.attention_maps(model, text)
    ids = lm.encode(text)
    logits, expected = _reference_forward(model, ids)
    assert maps.shape == (2, 2, len(ids), len(ids))
    np.testing.assert_allclose(maps, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(maps.sum(-1), 1.0, rtol=1e-12)
    assert np.all(np.triu(maps, 1) == 0)
    np.testing.assert_allclose(model.forward(ids[None, :])[0][0], logits, rtol=1e-9, atol=1e-9)


def test_next_token_logits_are_the_rows_that_score_each_token(model):
    rows = fl.next_token_logits(model, PROMPT, OUTPUTS)
    P = len(lm.encode(PROMPT))
    for out, z in zip(OUTPUTS, rows):
        ids = lm.encode(PROMPT + out)
        logits, _ = _reference_forward(model, ids)
        assert z.shape == (len(ids) - P, lm.VOCAB_SIZE)
        np.testing.assert_allclose(z, logits[P - 1:-1], rtol=1e-8, atol=1e-8)


# ------------------------------------------------------------------ the temperature panel

@pytest.fixture
def temperature(model):
    panel = fl.temperature_panel(model, PROMPT, OUTPUTS, position=3, temperature=0.6)
    panel.show()
    return panel


@pytest.mark.parametrize("output, position, T", [(0, 0, 1.0), (0, 9, 0.1), (1, 2, 10.0), (2, 5, 0.6),
                                                 (0, 33, 3.0)])
def test_temperature_view_draws_the_models_distribution(model, temperature, output, position, T):
    view = temperature.view
    _, status = view.draw(output, position, T)
    ids = lm.encode(PROMPT + OUTPUTS[output])
    P = len(lm.encode(PROMPT))
    j = min(position, len(ids) - P - 1)
    logits, _ = _reference_forward(model, ids)
    z = logits[P - 1 + j]
    p, p1 = _softmax(z, T), _softmax(z)
    top = sorted(range(len(p)), key=lambda v: (-p[v], v))[:view.TOP]
    np.testing.assert_allclose([b.get_width() for b in view.bars.patches], p[top], rtol=1e-9, atol=1e-15)
    assert [t.get_text() for t in view.names] == [fl.token_labels(lm.VOCAB[v])[0] for v in top]
    np.testing.assert_allclose(view.ones.get_xdata(), p1[top], rtol=1e-9, atol=1e-15)
    wrote = ids[P + j]
    colours = [matplotlib.colors.to_hex(b.get_facecolor()) for b in view.bars.patches]
    for v, colour in zip(top, colours):
        assert (colour == fl.ORANGE.lower()) == (v == wrote)
    np.testing.assert_allclose(view.curve.get_ydata(), [_entropy(z, t) for t in view.T_GRID], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(view.mark.get_ydata(), [_entropy(z, T)], rtol=1e-8, atol=1e-12)
    assert f"rank {1 + sum(p > p[wrote])}" in status
    assert f"entropy {_entropy(z, T):.2f} nats" in status
    assert ("showing its last" in status) == (position > j)
    k90 = next(k for k in range(1, len(p) + 1) if sum(sorted(p, reverse=True)[:k]) >= 0.9 - 1e-12)
    assert ("the top token alone holds 90% of the mass or more" if k90 == 1
            else f"it takes the top {k90} tokens to hold 90% of the mass") in status


def test_temperature_extremes_and_static_pixels(temperature):
    view = temperature.view
    first = pixels(view.fig)
    times = drive(temperature, [("temperature", 10.0), ("position", 40), ("output", 2), ("temperature", 0.1),
                                ("position", 0), ("output", 1)])
    moved = pixels(view.fig)
    mask = _static_mask(view.fig, first)
    assert not np.array_equal(first, moved)
    assert np.array_equal(first[mask], moved[mask]), "an update changed pixels outside the axes"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = temperature.exercise()
    assert result["updates"] >= 4
    times += drive(temperature, [("temperature", t) for t in (0.2, 0.5, 1.0, 2.0, 5.0)])
    assert 1000 * statistics.median(times) < BUDGET_MS, times
    # lowering T moves mass onto the top token (the largest probability never falls as T falls);
    # T = 10 is close to uniform over the vocabulary
    view.draw(0, 4, 0.1)
    assert view.bars.patches[0].get_width() >= view.ones.get_xdata()[0]
    assert view.bars.patches[0].get_width() > 0.99
    view.draw(0, 4, 10.0)
    assert view.mark.get_ydata()[0] > 0.9 * math.log(lm.VOCAB_SIZE)


def test_temperature_panel_is_deterministic(temperature):
    a = temperature.render(output=1, position=3, temperature=2.0)
    temperature.render(output=0, position=20, temperature=0.3)
    b = temperature.render(output=1, position=3, temperature=2.0)
    assert a.png == b.png and a.status == b.status


# ------------------------------------------------------------------ the training-step panel

def _fake_log(steps=40, every=10, n_prompts=3, per=2, seed=0):
    gen = np.random.default_rng(seed)
    prompts = ["123+456=", "700-35=", "48*7="]
    snaps = []
    for step in list(range(0, steps, every)) + [steps]:
        comps = [[OUTPUTS[int(gen.integers(3))] for _ in range(per)] for _ in range(n_prompts)]
        snaps.append({"step": step, "completions": comps,
                      "correct": gen.integers(0, 2, size=(n_prompts, per)).tolist()})
    curve = lambda: np.clip(np.linspace(0.1, 0.9, steps) + gen.normal(0, 0.05, steps), 0, 1).tolist()
    return {"accuracy": curve(), "format": curve(), "working": curve(), "reward": curve(),
            "length": (10 + 20 * np.asarray(curve())).tolist(), "kl": (0.01 * np.asarray(curve())).tolist(),
            "clip_fraction": (0.02 * np.asarray(curve())).tolist(), "snapshots": snaps,
            "snapshot_prompts": prompts[:n_prompts]}


def test_training_step_view_shows_each_checkpoint():
    log = _fake_log()
    panel = fl.training_step_panel(log)
    panel.show()
    view = panel.view
    assert view.steps == [0, 10, 20, 30, 40]
    first = pixels(view.fig)
    seen = set()
    for snap in log["snapshots"]:
        drive(panel, [("step", snap["step"])])
        lines = [t.get_text() for t in view.lines]
        expected = [("✓ " if ok else "✗ ") + p + text
                    for p, texts, marks in zip(log["snapshot_prompts"], snap["completions"], snap["correct"])
                    for text, ok in zip(texts, marks)]
        assert lines == expected
        for line, ok in zip(view.lines, np.ravel(snap["correct"])):
            assert matplotlib.colors.to_hex(line.get_color()) == (fl.BLUE if ok else fl.ORANGE).lower()
        assert list(view.step_line.get_xdata()) == [snap["step"]] * 2
        right = int(np.sum(snap["correct"]))
        assert panel.status.value.startswith(f"step {snap['step']}: {right} of 6 completions right")
        img = pixels(view.fig)
        seen.add(img.tobytes())
        mask = _static_mask(view.fig, first)
        assert np.array_equal(first[mask], img[mask])
    assert len(seen) > 1
    with pytest.raises(ValueError, match="logged checkpoints"):
        view.draw(5)


def test_training_step_panel_at_its_extremes_is_fast():
    panel = fl.training_step_panel(_fake_log(steps=150, every=10, n_prompts=6, per=2), step=150)
    panel.show()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = panel.exercise()
        times = drive(panel, [("step", s) for s in (10, 50, 90, 0, 150)])
        times += drive(panel, [("step", panel.controls["step"].options[-1])])
    assert result["updates"] == 0   # a selection slider has no min/max: its ends are driven above
    assert 1000 * statistics.median(times) < BUDGET_MS, times


# ------------------------------------------------------------------ static figures

def _trailing_mean(y, w):
    return np.array([np.mean(y[max(0, i - w + 1): i + 1]) for i in range(len(y))])


def test_moving_average():
    y = np.random.default_rng(1).normal(size=37)
    np.testing.assert_allclose(fl.moving_average(y, 10), _trailing_mean(y, 10), rtol=1e-12)


def test_training_curves_figure_plots_the_log():
    log = _fake_log()
    fig = fl.training_curves_figure(log, window=5)
    assert len([ax for ax in fig.axes if ax.axison]) == 6
    for ax, key in zip(fig.axes, ("reward", "accuracy", "format", "length", "kl", "clip_fraction")):
        raw, smooth = ax.lines
        np.testing.assert_allclose(raw.get_ydata(), log[key])
        np.testing.assert_allclose(smooth.get_ydata(), _trailing_mean(np.asarray(log[key]), 5), rtol=1e-12)
        np.testing.assert_array_equal(raw.get_xdata(), np.arange(1, len(log[key]) + 1))
    with pytest.raises(ValueError, match="'clip_fraction'"):
        fl.training_curves_figure({k: v for k, v in log.items() if k != "clip_fraction"})


def _pass_at_k(n, c, k):
    return 1.0 if n - c < k else 1.0 - math.comb(n - c, k) / math.comb(n, k)


def test_pass_at_k_curves_and_figure():
    gen = np.random.default_rng(3)
    n = 16
    counts = {"base": gen.binomial(n, gen.beta(0.5, 2.0, 40)), "r1-zero": gen.binomial(n, gen.beta(2.0, 1.0, 40))}
    for name, c in counts.items():
        ks, value, se = fl.pass_at_k_curves(n, c)
        per = np.array([[_pass_at_k(n, int(ci), k) for k in range(1, n + 1)] for ci in c])
        np.testing.assert_allclose(value, per.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(se, per.std(axis=0, ddof=1) / math.sqrt(len(c)), rtol=1e-9)
    fig = fl.pass_at_k_figure(counts, n, pair=("base", "r1-zero"))
    ax, ax_s = fig.axes
    for line, c in zip(ax.lines, counts.values()):
        per = np.array([[_pass_at_k(n, int(ci), k) for k in range(1, n + 1)] for ci in c])
        np.testing.assert_allclose(line.get_ydata(), 100 * per.mean(axis=0), rtol=1e-12)
    offsets = ax_s.collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 0], counts["base"] / n, atol=0.0121)
    np.testing.assert_allclose(offsets[:, 1], counts["r1-zero"] / n, atol=0.0121)
    better = int(np.sum(counts["r1-zero"] > counts["base"]))
    worse = int(np.sum(counts["r1-zero"] < counts["base"]))
    assert ax_s.get_title() == f"every problem: {better} better under r1-zero, {worse} under base"
    with pytest.raises(ValueError, match="same problems"):
        fl.pass_at_k_figure({"a": np.array([1, 2]), "b": np.array([1, 2, 3])}, 4)
    with pytest.raises(ValueError, match=r"integers in \[0, n=4\]"):
        fl.pass_at_k_figure({"a": np.array([1, 5])}, 4)
    with pytest.raises(ValueError, match="pair"):
        fl.pass_at_k_figure(counts, n, pair=("base", "nope"))


def test_students_figure_bars_and_intervals():
    gen = np.random.default_rng(4)
    n = 8
    counts = {s: gen.binomial(n, p, size=30) for s, p in (("r1-zero", 0.8), ("student-sft", 0.6), ("student-rl", 0.3))}
    params = {"r1-zero": 800_000, "student-sft": 150_000, "student-rl": 150_000}
    fig = fl.students_figure(counts, n, params)
    ax, ax_b = fig.axes
    heights = [p.get_height() for p in ax_b.patches]
    np.testing.assert_allclose(heights, [100 * np.mean(c / n) for c in counts.values()], rtol=1e-12)
    from matplotlib.container import ErrorbarContainer
    bars = next(c for c in ax_b.containers if isinstance(c, ErrorbarContainer))
    err = bars.lines[2][0].get_segments()
    for seg, c in zip(err, counts.values()):
        half = 100 * 1.959963984540054 * np.std(c / n, ddof=1) / math.sqrt(len(c))
        assert seg[1][1] - seg[0][1] == pytest.approx(2 * half, rel=1e-9)
    assert "800,000 params" in ax.get_legend().get_texts()[0].get_text()


def test_rejection_figure_counts():
    rej = {"total": 40, "correct": 12, "formatted": 15, "kept": 9,
           "prompts": ["1+1="] * 4 + ["2+2="] * 3 + ["3+3="] * 2, "completions": ["x"] * 9,
           "settings": {"n_prompts": 10, "n_samples": 4}}
    fig = fl.rejection_figure(rej)
    ax, ax_p = fig.axes
    widths = [p.get_width() for p in ax.patches][::-1]
    assert widths == [9, 12 - 9, 15 - 9, 40 - 12 - 15 + 9]
    heights = [p.get_height() for p in ax_p.patches]
    assert heights == [7, 0, 1, 1, 1]   # 7 prompts kept nothing; one each kept 2, 3 and 4
    assert "3 of 10 prompts" in ax_p.get_title()


def test_attention_figure_and_bad_input(model):
    fig = fl.attention_figure(model, PROMPT + OUTPUTS[1], heads=((0, 1), (1, 0)))
    maps = fl.attention_maps(model, PROMPT + OUTPUTS[1])
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), maps[0, 1])
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), maps[1, 0])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == fl.token_labels(PROMPT + OUTPUTS[1])
    with pytest.raises(ValueError, match="layer < 2"):
        fl.attention_figure(model, PROMPT, heads=((2, 0),))
    with pytest.raises(TypeError, match="Transformer"):
        fl.attention_maps("not a model", PROMPT)
    with pytest.raises(ValueError, match="empty"):
        fl.next_token_logits(model, PROMPT, ["<eos>", ""])
    with pytest.raises(TypeError, match="completions"):
        fl.next_token_logits(model, PROMPT, "632")
    with pytest.raises(TypeError, match="training log"):
        fl.training_step_panel([1, 2])
    with pytest.raises(ValueError, match="snapshots"):
        fl.TrainingStepView({k: v for k, v in _fake_log().items() if k != "snapshots"})
    import matplotlib.pyplot as plt
    plt.close("all")

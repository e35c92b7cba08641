"""The tiny transformer as a whole (r1lib.labs.lm.model) and its optimiser (r1lib.labs.lm.optim):
gradients against finite differences and torch autograd, causality, padding, checkpoints, AdamW
against a hand computation and torch.optim.AdamW, strict input checks."""
from __future__ import annotations

import math

import numpy as np
import pytest
from numgrad import entry_difference

from r1lib.labs import lm
from r1lib.labs.lm import Config, Transformer, param_shapes
from r1lib.softmax import softmax

SMALL = dict(vocab_size=11, context=12, d_model=8, n_layers=2, n_heads=2, d_mlp=12)


def perturbed(config: Config, seed: int = 0) -> Transformer:
    """A model whose every parameter is nonzero and not at its initial value (gains != 1, biases
    != 0), so that no gradient term can hide behind a zero or a one."""
    rng = np.random.default_rng(seed)
    model = Transformer.init(config, rng)
    for name, p in model.params.items():
        p += rng.normal(scale=0.3, size=p.shape).astype(p.dtype)
    return model


def left_padded(rng, B=3, T=7, V=11):
    """Tokens with rows left-padded by 0, 2 and 4 positions, their positions and key mask."""
    tokens = rng.integers(0, V, (B, T))
    pad = np.array([0, 2, 4])[:B]
    col = np.arange(T)[None, :]
    mask = col >= pad[:, None]
    positions = np.where(mask, col - pad[:, None], 0)
    return tokens, positions, mask


# ------------------------------------------------------------------------------------ config

def test_param_count_is_the_closed_form():
    for kw in (SMALL, {}, dict(d_model=64, n_layers=2, n_heads=4, d_mlp=256, context=96)):
        cfg = Config(**kw)
        d, m, V, C, nl = cfg.d_model, cfg.d_mlp, cfg.vocab_size, cfg.context, cfg.n_layers
        per_block = 4 * d + (d * 3 * d + 3 * d) + (d * d + d) + (d * m + m) + (m * d + d)
        expected = V * d + C * d + nl * per_block + 2 * d + d * V
        model = Transformer.init(cfg, np.random.default_rng(0))
        assert model.n_params == expected == sum(math.prod(s) for s in param_shapes(cfg).values())
    assert Config().d_head == 32 and Transformer.init(Config(), np.random.default_rng(0)).n_params < 1_000_000


@pytest.mark.parametrize("kw, error, words", [
    (dict(d_model=10, n_heads=4), ValueError, ["d_model=10", "n_heads=4"]),
    (dict(n_layers=0), ValueError, ["n_layers", "0"]),
    (dict(context=-3), ValueError, ["context", "-3"]),
    (dict(d_mlp=2.5), TypeError, ["d_mlp", "2.5"]),
    (dict(n_heads=True), TypeError, ["n_heads", "True"]),
    (dict(vocab_size="53"), TypeError, ["vocab_size"]),
    (dict(dtype="float16"), ValueError, ["dtype", "float16"]),
])
def test_config_rejects_bad_values(kw, error, words):
    with pytest.raises(error) as info:
        Config(**kw)
    assert all(w in str(info.value) for w in words), str(info.value)


def test_config_round_trips_through_a_dict():
    cfg = Config(**SMALL, dtype="float64")
    assert Config.from_dict(cfg.as_dict()) == cfg
    with pytest.raises(ValueError, match="unknown keys"):
        Config.from_dict({**cfg.as_dict(), "dropout": 0.1})


def test_init_is_seeded_and_gpt2_scaled():
    cfg = Config(d_model=64, n_layers=4, n_heads=4, d_mlp=256)
    a, b = (Transformer.init(cfg, np.random.default_rng(7)) for _ in range(2))
    assert all(np.array_equal(a.params[k], b.params[k]) for k in a.params)
    c = Transformer.init(cfg, np.random.default_rng(8))
    assert not np.array_equal(a.params["head.w"], c.params["head.w"])
    assert all(p.dtype == np.float32 for p in a.params.values())
    assert abs(a.params["block0.mlp.in.w"].std() - 0.02) < 0.002
    assert abs(a.params["block1.attn.out.w"].std() - 0.02 / math.sqrt(8)) < 0.001
    assert np.array_equal(a.params["block2.ln1.gamma"], np.ones(64)) and not a.params["block0.attn.qkv.b"].any()
    assert a.decay_names == {n for n in a.params if n.endswith(".w")}
    assert "tok_emb" not in a.decay_names and "head.w" in a.decay_names


# ------------------------------------------------------------------------------------ gradients

def entries(name, shape, rng, tokens, positions, count=3):
    """A few random entries of a parameter; for the embedding tables, rows that are read."""
    out = []
    for _ in range(count):
        idx = [int(rng.integers(0, s)) for s in shape]
        if name == "tok_emb":
            idx[0] = int(rng.choice(np.unique(tokens)))
        elif name == "pos_emb":
            idx[0] = int(rng.choice(np.unique(positions)))
        out.append(tuple(idx))
    return out


@pytest.mark.parametrize("padded", [False, True])
def test_whole_model_gradient_against_finite_differences(padded):
    rng = np.random.default_rng(1)
    model = perturbed(Config(**SMALL, dtype="float64"))
    if padded:
        tokens, positions, mask = left_padded(rng)
    else:
        tokens, positions, mask = rng.integers(0, 11, (3, 7)), None, None
    w = rng.standard_normal((3, 7, 11))

    def loss():
        return float(np.sum(w * model.forward(tokens, positions=positions, attention_mask=mask)[0]))

    logits, cache = model.forward(tokens, positions=positions, attention_mask=mask)
    grads = model.backward(cache, w)
    assert list(grads) == list(model.params)
    h = 1e-6
    for name, p in model.params.items():
        assert grads[name].shape == p.shape and grads[name].dtype == np.float64
        for idx in entries(name, p.shape, rng, tokens, np.arange(7) if positions is None else positions):
            numeric = entry_difference(loss, p, idx, h)
            assert abs(grads[name][idx] - numeric) <= 1e-7 * max(1.0, abs(numeric)), (name, idx)
    # Token rows that were never read get exactly zero.
    unused = np.setdiff1d(np.arange(11), tokens)
    assert not grads["tok_emb"][unused].any()


def test_token_log_probs_gradient_against_finite_differences():
    rng = np.random.default_rng(2)
    model = perturbed(Config(**SMALL, dtype="float64"), seed=2)
    tokens, targets = rng.integers(0, 11, (2, 6)), rng.integers(0, 11, (2, 6))
    w = rng.standard_normal((2, 6))
    logp, cache = model.token_log_probs(tokens, targets)
    grads = model.token_log_probs_backward(cache, w)
    for name in ("head.w", "block1.mlp.in.w", "block0.attn.qkv.w", "tok_emb"):
        p = model.params[name]
        for idx in entries(name, p.shape, rng, tokens, np.arange(6)):
            numeric = entry_difference(lambda: np.sum(w * model.token_log_probs(tokens, targets)[0]),
                                       p, idx)
            assert abs(grads[name][idx] - numeric) <= 1e-7 * max(1.0, abs(numeric)), (name, idx)
    # log-probs are the log-softmax of the logits, gathered at the targets
    logits, _ = model.forward(tokens)
    expected = np.log(np.take_along_axis(softmax(logits), targets[..., None], -1)[..., 0])
    np.testing.assert_allclose(logp, expected, rtol=1e-12)


def torch_reference(torch, model: Transformer, tokens, positions=None, mask=None):
    """The same architecture written with torch's own modules (nn.functional.layer_norm, linear
    layers as x @ W + b, scaled_dot_product_attention with a boolean mask, tanh GELU)."""
    F = torch.nn.functional
    cfg = model.config
    P = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    t = torch.tensor(tokens)
    B, T = tokens.shape
    pos = torch.arange(T).expand(B, T) if positions is None else torch.tensor(positions)
    allowed = torch.ones(T, T, dtype=torch.bool).tril().expand(B, T, T)
    if mask is not None:
        allowed = allowed & (torch.tensor(mask)[:, None, :] | torch.eye(T, dtype=torch.bool))
    allowed = allowed[:, None]
    x = P["tok_emb"][t] + P["pos_emb"][pos]
    d, H = cfg.d_model, cfg.n_heads
    for i in range(cfg.n_layers):
        b = f"block{i}."
        h = F.layer_norm(x, (d,), P[b + "ln1.gamma"], P[b + "ln1.beta"], eps=1e-5)
        q, k, v = (h @ P[b + "attn.qkv.w"] + P[b + "attn.qkv.b"]).split(d, dim=-1)
        q, k, v = (a.reshape(B, T, H, d // H).transpose(1, 2) for a in (q, k, v))
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        x = x + o.transpose(1, 2).reshape(B, T, d) @ P[b + "attn.out.w"] + P[b + "attn.out.b"]
        h = F.layer_norm(x, (d,), P[b + "ln2.gamma"], P[b + "ln2.beta"], eps=1e-5)
        u = F.gelu(h @ P[b + "mlp.in.w"] + P[b + "mlp.in.b"], approximate="tanh")
        x = x + u @ P[b + "mlp.out.w"] + P[b + "mlp.out.b"]
    h = F.layer_norm(x, (d,), P["ln_f.gamma"], P["ln_f.beta"], eps=1e-5)
    return h @ P["head.w"], P


@pytest.mark.parametrize("padded", [False, True])
def test_whole_model_gradient_against_torch_autograd(padded):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    model = perturbed(Config(vocab_size=53, context=16, d_model=16, n_layers=3, n_heads=4, d_mlp=40,
                             dtype="float64"), seed=3)
    if padded:
        tokens, positions, mask = left_padded(rng, B=3, T=9, V=53)
    else:
        tokens, positions, mask = rng.integers(0, 53, (4, 16)), None, None
    w = rng.standard_normal(tokens.shape + (53,))
    logits, cache = model.forward(tokens, positions=positions, attention_mask=mask)
    grads = model.backward(cache, w)
    logits_t, P = torch_reference(torch, model, tokens, positions, mask)
    (logits_t * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    for name, g in grads.items():
        gt = P[name].grad.numpy()
        err = float(np.abs(g - gt).max()) / float(np.abs(gt).max())
        assert err < 1e-10, (name, err)


# ------------------------------------------------------------------------------------ causality, padding

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_changing_a_later_token_never_changes_earlier_logits(dtype):
    rng = np.random.default_rng(4)
    model = perturbed(Config(**SMALL, dtype=dtype), seed=4)
    tokens = rng.integers(0, 11, (2, 10))
    base, _ = model.forward(tokens)
    for t in range(10):
        changed = tokens.copy()
        changed[:, t] = (changed[:, t] + 1 + rng.integers(0, 10)) % 11
        logits, _ = model.forward(changed)
        assert np.array_equal(logits[:, :t], base[:, :t]), t       # exactly: masked keys weigh 0
        assert np.abs(logits[:, t] - base[:, t]).max() > 1e-6       # the changed position does move


def test_left_padding_with_positions_and_mask_equals_the_unpadded_rows():
    rng = np.random.default_rng(5)
    model = perturbed(Config(**SMALL, dtype="float64"), seed=5)
    tokens, positions, mask = left_padded(rng)
    logits, _ = model.forward(tokens, positions=positions, attention_mask=mask)
    for r in range(3):
        alone, _ = model.forward(tokens[r:r + 1, mask[r]])
        np.testing.assert_allclose(logits[r, mask[r]], alone[0], rtol=1e-12, atol=1e-12)
    # Without the mask and positions the padded rows are different models' inputs: the test can fail.
    unmasked, _ = model.forward(tokens)
    assert np.abs(unmasked[2, 4:] - logits[2, 4:]).max() > 1e-3


def test_right_padding_needs_no_mask():
    rng = np.random.default_rng(6)
    model = perturbed(Config(**SMALL, dtype="float64"), seed=6)
    tokens = rng.integers(1, 11, (1, 9))
    padded = tokens.copy()
    padded[0, 5:] = lm.PAD
    a, _ = model.forward(tokens)
    b, _ = model.forward(padded)
    assert np.array_equal(a[0, :5], b[0, :5])


# ------------------------------------------------------------------------------------ checkpoints

def test_state_dict_round_trip_and_copies():
    model = perturbed(Config(**SMALL), seed=7)
    state, cfg = model.state_dict(), model.config.as_dict()
    assert set(state) == set(model.params) and all(isinstance(v, np.ndarray) for v in state.values())
    clone = Transformer.from_state_dict(state, cfg)
    tokens = np.arange(8).reshape(1, 8) % 11
    assert np.array_equal(clone.forward(tokens)[0], model.forward(tokens)[0])
    state["head.w"][:] = 0  # copies both ways: neither model shares the dict's arrays
    assert model.params["head.w"].any() and clone.params["head.w"].any()
    with pytest.raises(ValueError, match="missing"):
        Transformer.from_state_dict({k: v for k, v in state.items() if k != "head.w"}, cfg)
    with pytest.raises(ValueError, match="head.w"):
        Transformer.from_state_dict({**state, "head.w": np.zeros((3, 3))}, cfg)
    with pytest.raises(ValueError, match="NaN"):
        Transformer.from_state_dict({**state, "head.w": np.full((8, 11), np.nan)}, cfg)


# ------------------------------------------------------------------------------------ bad input

MODEL = perturbed(Config(**SMALL), seed=8)
OK = np.zeros((2, 4), dtype=np.int64)


@pytest.mark.parametrize("call, error, words", [
    (lambda: MODEL.forward(np.array([[1, 11]])), ValueError, ["tokens", "11", "[0, 11)"]),
    (lambda: MODEL.forward(np.array([[-1, 2]])), ValueError, ["tokens", "-1"]),
    (lambda: MODEL.forward(np.array([[1.0, 2.0]])), TypeError, ["tokens", "float64"]),
    (lambda: MODEL.forward(np.array([1, 2])), ValueError, ["tokens", "(2,)"]),
    (lambda: MODEL.forward(np.zeros((1, 13), int)), ValueError, ["13", "context 12"]),
    (lambda: MODEL.forward(OK, positions=np.full((2, 4), 12)), ValueError, ["positions", "12"]),
    (lambda: MODEL.forward(OK, positions=np.zeros((2, 3), int)), ValueError, ["positions", "(2, 3)"]),
    (lambda: MODEL.forward(OK, attention_mask=np.ones((2, 4))), TypeError, ["attention_mask", "boolean"]),
    (lambda: MODEL.forward(OK, attention_mask=np.ones((2, 5), bool)), ValueError, ["attention_mask", "(2, 5)"]),
    (lambda: MODEL.backward(MODEL.forward(OK)[1], np.zeros((2, 4, 10))), ValueError, ["dlogits", "(2, 4, 10)"]),
    (lambda: MODEL.backward(MODEL.forward(OK)[1], np.full((2, 4, 11), np.nan)), ValueError, ["dlogits", "NaN"]),
    (lambda: MODEL.token_log_probs(OK, np.full((2, 4), 11)), ValueError, ["targets", "11"]),
    (lambda: MODEL.token_log_probs(OK, np.zeros((2, 3), int)), ValueError, ["targets", "(2, 3)"]),
    (lambda: Transformer.init(Config(**SMALL), 0), TypeError, ["rng", "Generator"]),
    (lambda: Transformer.init(SMALL, np.random.default_rng()), TypeError, ["config"]),
])
def test_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert all(w in str(info.value) for w in words), str(info.value)


# ------------------------------------------------------------------------------------ optimiser

def adamw_by_hand(theta, grads_seq, lr, b1, b2, eps, wd, decay):
    """AdamW (Loshchilov & Hutter 2019, Alg. 2, as torch implements it), one scalar at a time."""
    theta = [float(v) for v in theta]
    m = [0.0] * len(theta)
    v = [0.0] * len(theta)
    for t, g in enumerate(grads_seq, start=1):
        for i, gi in enumerate(g):
            if decay:
                theta[i] -= lr * wd * theta[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            m_hat = m[i] / (1 - b1 ** t)
            v_hat = v[i] / (1 - b2 ** t)
            theta[i] -= lr * m_hat / (math.sqrt(v_hat) + eps)
    return np.array(theta)


def test_adamw_against_a_hand_computation():
    rng = np.random.default_rng(9)
    w0, b0 = rng.standard_normal((3, 2)), rng.standard_normal(4)
    params = {"w": w0.copy(), "b": b0.copy()}
    opt = lm.AdamW(params, lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, decay=["w"])
    steps = [{"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(4) * 10} for _ in range(5)]
    for g in steps:
        opt.step(g)
    args = (0.05, 0.8, 0.95, 1e-6, 0.1)
    np.testing.assert_allclose(params["w"].ravel(), adamw_by_hand(w0.ravel(), [g["w"].ravel() for g in steps],
                                                                  *args, decay=True), rtol=1e-12)
    np.testing.assert_allclose(params["b"], adamw_by_hand(b0, [g["b"] for g in steps], *args, decay=False),
                               rtol=1e-12)
    # The first step moves every coordinate by about lr (Adam's normalisation), whatever |g| is.
    p = {"x": np.zeros(3)}
    lm.AdamW(p, lr=0.01, weight_decay=0.0).step({"x": np.array([1e-3, 1.0, -1e3])})
    np.testing.assert_allclose(p["x"], [-0.01, -0.01, 0.01], rtol=1e-4)


def test_adamw_against_torch():
    torch = pytest.importorskip("torch")
    model = perturbed(Config(**SMALL, dtype="float64"), seed=10)
    params = model.params
    tparams = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in params.items()}
    decay = model.decay_names
    topt = torch.optim.AdamW([{"params": [tparams[k] for k in params if k in decay], "weight_decay": 0.05},
                              {"params": [tparams[k] for k in params if k not in decay], "weight_decay": 0.0}],
                             lr=3e-3, betas=(0.9, 0.99), eps=1e-8)
    opt = lm.AdamW(params, lr=3e-3, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05, decay=decay)
    rng = np.random.default_rng(10)
    for step in range(4):
        grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
        for k, g in grads.items():
            tparams[k].grad = torch.tensor(g)
        norm_t = float(torch.nn.utils.clip_grad_norm_(list(tparams.values()), 5.0))
        norm = lm.clip_grad_norm(grads, 5.0)
        assert math.isclose(norm, norm_t, rel_tol=1e-12) and norm > 5.0
        for k, g in grads.items():
            # torch scales by 5 / (norm + 1e-6), a guard against norm 0; ours by exactly 5 / norm
            np.testing.assert_allclose(g, tparams[k].grad.numpy(), rtol=1e-6)
            tparams[k].grad = torch.tensor(g)  # the same gradient into both optimisers
        topt.step()
        opt.step(grads)
        for k in params:
            np.testing.assert_allclose(params[k], tparams[k].detach().numpy(), rtol=1e-11, atol=1e-14)


def test_clip_grad_norm():
    g = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert lm.global_norm(g) == 5.0
    assert lm.clip_grad_norm(g, 10.0) == 5.0 and g["a"][0] == 3.0          # below the cap: untouched
    assert lm.clip_grad_norm(g, 1.0) == 5.0                                # returns the norm before
    np.testing.assert_allclose([g["a"][0], g["b"][0, 0]], [0.6, 0.8], rtol=1e-15)
    assert math.isclose(lm.global_norm(g), 1.0, rel_tol=1e-15)
    with pytest.raises(ValueError, match="NaN"):
        lm.clip_grad_norm({"a": np.array([np.nan])}, 1.0)
    with pytest.raises(ValueError, match="max_norm"):
        lm.clip_grad_norm(g, 0.0)


@pytest.mark.parametrize("call, error, words", [
    (lambda: lm.AdamW({"w": np.zeros(2)}, lr=0.0), ValueError, ["lr", "0.0"]),
    (lambda: lm.AdamW({"w": np.zeros(2)}, lr=1e-3, betas=(0.9, 1.0)), ValueError, ["betas[1]", "1.0"]),
    (lambda: lm.AdamW({"w": np.zeros(2)}, lr=1e-3, weight_decay=-1), ValueError, ["weight_decay", "-1"]),
    (lambda: lm.AdamW({"w": np.zeros(2)}, lr=1e-3, decay=["v"]), ValueError, ["decay", "'v'"]),
    (lambda: lm.AdamW({"w": np.zeros(2)}, lr=1e-3, decay="w"), TypeError, ["decay"]),
    (lambda: lm.AdamW({"w": [0.0]}, lr=1e-3), TypeError, ["params['w']"]),
    (lambda: lm.AdamW({"w": np.zeros(2)}, lr=1e-3).step({"v": np.zeros(2)}), ValueError, ["grads", "'w'"]),
    (lambda: lm.AdamW({"w": np.zeros(2)}, lr=1e-3).step({"w": np.zeros(3)}), ValueError, ["grads['w']", "(3,)"]),
])
def test_optimiser_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert all(w in str(info.value) for w in words), str(info.value)


# ------------------------------------------------------------------------------------ it learns

def test_sft_steps_memorise_a_sequence():
    """The module docstring's SFT step, repeated: the model learns one sequence by heart."""
    rng = np.random.default_rng(0)
    model = Transformer.init(Config(context=32, d_model=32, n_layers=2, n_heads=2, d_mlp=64), rng)
    opt = lm.AdamW(model.params, lr=3e-3, decay=model.decay_names)
    ids = lm.encode("12+7=19<eos>")[None, :]
    inputs, targets = ids[:, :-1], ids[:, 1:]
    losses = []
    for _ in range(150):
        logp, cache = model.token_log_probs(inputs, targets)
        losses.append(-float(logp.mean()))
        grads = model.token_log_probs_backward(cache, np.full_like(logp, -1.0 / logp.size))
        lm.clip_grad_norm(grads, 1.0)
        opt.step(grads)
    assert losses[0] > 3.5 and losses[-1] < 0.05, (losses[0], losses[-1])  # ln 53 = 3.97 at the start

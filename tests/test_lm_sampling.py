"""Sampling and scoring with the tiny transformer (r1lib.labs.lm.sampling): the KV cache against full
recomputation, the sampler's log-probs against one forward pass, top-p against brute force,
temperature against a chi-square test, stopping, the text API and the bad-input table."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from numgrad import entry_difference
from scipy import stats

from r1lib.labs import lm
from r1lib.labs.lm import EOS, PAD, TOKEN_ID, Config, Transformer
from r1lib.labs.lm.sampling import top_p_mask
from r1lib.softmax import log_softmax, softmax

CFG = dict(context=24, d_model=16, n_layers=2, n_heads=2, d_mlp=32)
PROMPTS = ["12+3=", "7", "<think>99*9", "ab cd"]


def noisy_model(dtype="float64", seed=0, scale=0.3, **kw) -> Transformer:
    """A random model with large enough weights that its next-token distributions are far from
    uniform and differ from position to position."""
    rng = np.random.default_rng(seed)
    model = Transformer.init(Config(**{**CFG, **kw}, dtype=dtype), rng)
    for p in model.params.values():
        p += rng.normal(scale=scale, size=p.shape).astype(p.dtype)
    return model


def forced_model(token: int) -> Transformer:
    """A model that puts probability ~1 on ``token`` everywhere: the final layer norm's output is
    its bias e_0 (gain 0), and the head maps e_0 to a logit of 60 for ``token``."""
    model = Transformer.init(Config(**CFG), np.random.default_rng(0))
    model.params["ln_f.gamma"][:] = 0
    model.params["ln_f.beta"][:] = 0
    model.params["ln_f.beta"][0] = 1
    model.params["head.w"][:] = 0
    model.params["head.w"][0, token] = 60
    return model


def prompt_ids(texts=PROMPTS):
    return [lm.encode(t) for t in texts]


# ------------------------------------------------------------------------------------ KV cache

@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_cached_forward_equals_full_forward(dtype, tol):
    model = noisy_model(dtype)
    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 53, (3, 10))
    full, _ = model.forward(tokens)
    kv = model.new_kv_cache(3, 10)
    parts = [model.forward_cached(tokens[:, :4], kv, positions=np.tile(np.arange(4), (3, 1)))]
    for t in range(4, 10):
        parts.append(model.forward_cached(tokens[:, t:t + 1], kv, positions=np.full((3, 1), t)))
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, rtol=tol, atol=tol)
    assert kv.length == 10


def test_cached_forward_without_positions_continues_the_cache():
    """The default positions of a later call count on from the tokens already cached (not from
    0 again, which gave the continuation the position embedding of the sequence's start)."""
    model = noisy_model()
    tokens = np.random.default_rng(2).integers(0, 53, (2, 9))
    full, _ = model.forward(tokens)
    kv = model.new_kv_cache(2, 24)
    parts = [model.forward_cached(tokens[:, :4], kv), model.forward_cached(tokens[:, 4:7], kv)]
    parts += [model.forward_cached(tokens[:, t:t + 1], kv) for t in (7, 8)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), full, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="context 24"):
        model.forward_cached(np.zeros((2, 16), np.int64), kv)       # 9 cached + 16 > 24
    with pytest.raises(TypeError, match="kv must be a KVCache"):
        model.forward_cached(tokens, None)


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.7, 0.9), (1.5, 0.5)])
def test_kv_cache_sampling_equals_full_recomputation(dtype, tol, temperature, top_p):
    model = noisy_model(dtype)
    kw = dict(n=3, temperature=temperature, top_p=top_p, max_new_tokens=12)
    a = lm.sample(model, prompt_ids(), rng=np.random.default_rng(5), **kw)
    b = lm.sample(model, prompt_ids(), rng=np.random.default_rng(5), use_cache=False, **kw)
    assert np.array_equal(a.completions, b.completions) and np.array_equal(a.lengths, b.lengths)
    np.testing.assert_allclose(a.logp, b.logp, rtol=0, atol=tol)
    np.testing.assert_allclose(a.sampling_logp, b.sampling_logp, rtol=0, atol=tol)
    assert a.lengths.min() >= 1 and len(set(map(tuple, a.completions))) > 6  # the rows really differ


def eos_prone_model(dtype="float64", strength=1.5) -> Transformer:
    """Raises <eos>'s logit by about 3 x strength, so that many rows stop early."""
    model = noisy_model(dtype, seed=8, scale=0.5)
    model.params["ln_f.beta"][0] = 3.0
    model.params["head.w"][0, EOS] = strength
    return model


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_kv_cache_with_rows_finishing_early_equals_full_recomputation(dtype, tol):
    """Most rows stop early, so the cached sampler drops finished rows from its batch (several
    times): the tokens and log-probs must not change."""
    model = eos_prone_model(dtype, strength=2.0)
    kw = dict(n=16, temperature=1.1, max_new_tokens=20)
    a = lm.sample(model, prompt_ids(), rng=np.random.default_rng(6), **kw)
    b = lm.sample(model, prompt_ids(), rng=np.random.default_rng(6), use_cache=False, **kw)
    assert np.array_equal(a.completions, b.completions) and np.array_equal(a.stopped, b.stopped)
    np.testing.assert_allclose(a.logp, b.logp, rtol=0, atol=tol)
    assert np.sum(a.lengths <= a.lengths.max() // 4) > len(a.lengths) // 2  # compaction happened twice


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 1e-5)])
def test_sampler_log_probs_equal_one_forward_pass(dtype, tol):
    model = noisy_model(dtype, seed=2)
    s = lm.sample(model, prompt_ids(), n=4, temperature=1.3, top_p=0.8, rng=np.random.default_rng(3))
    rows = [prompt_ids()[i] for i in s.prompt_index]
    scored = lm.completion_log_probs(model, rows, s.completions, s.lengths)
    assert np.array_equal(scored.mask, s.mask)
    np.testing.assert_allclose(scored.logp, s.logp, rtol=0, atol=tol)
    assert (s.logp[s.mask] < 0).all() and not s.logp[~s.mask].any()
    # The same log-probs, independently: each row alone, unpadded, through model.forward.
    for r in (0, 5, 13):
        seq = np.concatenate([rows[r], s.completions[r, :s.lengths[r]]])[None, :]
        logits, _ = model.forward(seq[:, :-1])
        lp = log_softmax(logits[0].astype(np.float64))[np.arange(seq.shape[1] - 1), seq[0, 1:]]
        np.testing.assert_allclose(lp[len(rows[r]) - 1:], s.logp[r, :s.lengths[r]], rtol=0, atol=tol)


def test_sampling_logp_is_the_tempered_nucleus_probability():
    model = noisy_model(seed=4)
    s = lm.sample(model, prompt_ids(), n=2, temperature=0.8, top_p=0.7, max_new_tokens=1,
                  rng=np.random.default_rng(4))
    for r in range(len(s.lengths)):
        logits, _ = model.forward(prompt_ids()[s.prompt_index[r]][None, :])
        q = softmax(logits[0, -1], 0.8)
        keep = top_p_mask(q[None, :], 0.7)[0]
        tok = s.completions[r, 0]
        assert keep[tok]
        assert math.isclose(s.sampling_logp[r, 0], math.log(q[tok] / q[keep].sum()), rel_tol=1e-12)
        assert math.isclose(s.logp[r, 0], math.log(softmax(logits[0, -1])[tok]), rel_tol=1e-12)


# ------------------------------------------------------------------------------------ top-p, temperature

def nucleus_by_brute_force(p: np.ndarray, top_p: float) -> set[int]:
    """Among all subsets whose mass is >= top_p, those of the fewest tokens; of these the one of
    largest mass (unique when no two probabilities are equal)."""
    V = len(p)
    for size in range(1, V + 1):
        best = max(itertools.combinations(range(V), size), key=lambda s: p[list(s)].sum())
        if p[list(best)].sum() >= top_p:
            return set(best)
    raise AssertionError("unreachable: the whole vocabulary has mass 1")


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 7), st.floats(0.01, 1.0), st.floats(0.1, 5.0), st.integers(0, 2**32 - 1))
def test_top_p_keeps_the_smallest_set_reaching_p(V, top_p, concentration, seed):
    p = np.random.default_rng(seed).dirichlet(np.full(V, concentration))
    if np.min(np.diff(np.sort(p))) < 1e-9 or np.min(np.abs(np.cumsum(np.sort(p)[::-1]) - top_p)) < 1e-9:
        return  # ties and masses on the boundary are decided by rounding; not what this tests
    kept = set(np.flatnonzero(top_p_mask(p[None, :], top_p)[0]))
    assert kept == nucleus_by_brute_force(p, top_p)


def test_top_p_edge_cases():
    p = np.array([[0.5, 0.3, 0.2]])
    assert top_p_mask(p, 1.0).all()
    assert top_p_mask(p, 1e-9).tolist() == [[True, False, False]]
    assert top_p_mask(p, 0.5).tolist() == [[True, False, False]]      # 0.5 >= 0.5 already
    assert top_p_mask(p, 0.8000001).tolist() == [[True, True, True]]


@pytest.mark.parametrize("probs, top_p, error, words", [
    ([[0.5, 0.5]], 0.0, ValueError, ["top_p", "0.0"]),        # would keep nothing, then divide by 0
    ([[0.5, 0.5]], 1.5, ValueError, ["top_p", "1.5"]),
    ([[0.5, 0.5]], "0.9", TypeError, ["top_p", "'0.9'"]),
    ([[0.5, np.nan]], 0.9, ValueError, ["probs", "NaN"]),
    ([[1.5, -0.5]], 0.9, ValueError, ["probs", "-0.5"]),
    (0.5, 0.9, ValueError, ["probs", "dimension"]),
    ("0.5", 0.9, TypeError, ["probs"]),
])
def test_top_p_mask_bad_input(probs, top_p, error, words):
    with pytest.raises(error) as info:
        top_p_mask(probs, top_p)
    assert all(w in str(info.value) for w in words), str(info.value)


def first_token_distribution(model, prompt, temperature, top_p=1.0):
    logits, _ = model.forward(lm.encode(prompt)[None, :])
    q = softmax(logits[0, -1].astype(np.float64), temperature)
    if top_p < 1.0:
        q = np.where(top_p_mask(q[None, :], top_p)[0], q, 0.0)
        q /= q.sum()
    return q


@pytest.mark.parametrize("temperature, top_p", [(1.0, 1.0), (0.6, 1.0), (2.0, 1.0), (1.2, 0.85)])
def test_first_token_frequencies_follow_the_tempered_distribution(temperature, top_p):
    model = noisy_model(seed=6, scale=0.15)
    N = 20_000
    s = lm.sample(model, prompt_ids(["3*4="]), n=N, temperature=temperature, top_p=top_p,
                  max_new_tokens=1, rng=np.random.default_rng(7))
    counts = np.bincount(s.completions[:, 0], minlength=53)
    q = first_token_distribution(model, "3*4=", temperature, top_p)
    assert not counts[q == 0].any()                            # nothing outside the nucleus
    support = q > 0
    big = support & (q * N >= 5)                                # chi-square needs expected >= 5
    observed = np.append(counts[big], counts[support & ~big].sum())
    expected = np.append(q[big], q[support & ~big].sum()) * N
    keep = expected > 0
    assert stats.chisquare(observed[keep], expected[keep]).pvalue > 1e-3
    # The test has power: the same counts reject the distribution at the wrong temperature.
    wrong = first_token_distribution(model, "3*4=", temperature * 1.5, top_p)
    wrong_expected = np.append(wrong[big], wrong[support & ~big].sum()) * N
    wrong_expected *= N / wrong_expected.sum()
    assert stats.chisquare(observed[keep], wrong_expected[keep]).pvalue < 1e-6


# ------------------------------------------------------------------------------------ stopping

def test_rows_stop_at_eos_and_keep_it():
    s = lm.sample(forced_model(EOS), prompt_ids(), n=2, rng=np.random.default_rng(0))
    assert s.completions.shape == (8, 1) and (s.completions[:, 0] == EOS).all()
    assert (s.lengths == 1).all() and s.stopped.all()
    texts = lm.generate(forced_model(EOS), PROMPTS, n=2, rng=np.random.default_rng(0))
    assert texts == [["<eos>", "<eos>"]] * 4


def test_rows_stop_at_max_new_tokens_or_the_context():
    a = TOKEN_ID["a"]
    model = forced_model(a)
    s = lm.sample(model, prompt_ids(), max_new_tokens=5, rng=np.random.default_rng(0))
    assert (s.lengths == 5).all() and not s.stopped.any() and (s.completions == a).all()
    # Default: the context left after each prompt (24 - prompt length), however long the others are.
    s = lm.sample(model, prompt_ids(), rng=np.random.default_rng(0))
    assert s.lengths.tolist() == [24 - len(p) for p in prompt_ids()]
    assert (s.completions[0, s.lengths[0]:] == PAD).all()
    # max_new_tokens beyond the context left is cut to it, row by row.
    s = lm.sample(model, prompt_ids(["x" * 22, "y"]), max_new_tokens=10, rng=np.random.default_rng(0))
    assert s.lengths.tolist() == [2, 10]
    assert lm.generate(model, ["x" * 22], rng=np.random.default_rng(0)) == [["aa"]]


def test_mixed_stopping_rows_pad_after_their_end():
    model = eos_prone_model()
    s = lm.sample(model, prompt_ids(), n=8, max_new_tokens=15, rng=np.random.default_rng(8))
    for r in range(len(s.lengths)):
        row = s.completions[r]
        k = s.lengths[r]
        assert (row[k:] == PAD).all() and not (row[:k - 1] == EOS).any()
        assert s.stopped[r] == (row[k - 1] == EOS)
        assert s.stopped[r] or k == 15
    assert 0 < s.stopped.sum() < len(s.lengths)  # both kinds occur, so the check means something


# ------------------------------------------------------------------------------------ text level

def test_generate_and_log_probs_on_text():
    model = noisy_model("float32", seed=9)
    texts = lm.generate(model, PROMPTS, n=3, temperature=0.9, rng=np.random.default_rng(9))
    again = lm.generate(model, PROMPTS, n=3, temperature=0.9, rng=np.random.default_rng(9))
    assert texts == again and len(texts) == 4 and all(len(t) == 3 for t in texts)
    s = lm.sample(model, prompt_ids(), n=3, temperature=0.9, rng=np.random.default_rng(9))
    assert [lm.decode(c[:k]) for c, k in zip(s.completions, s.lengths)] == sum(texts, [])
    nested = lm.log_probs(model, PROMPTS, texts)
    flat = sum(nested, [])
    for r, lp in enumerate(flat):
        np.testing.assert_allclose(lp, s.logp[r, :s.lengths[r]], rtol=0, atol=1e-5)
    single = lm.log_probs(model, PROMPTS, [t[0] for t in texts])
    assert all(np.array_equal(a, b[0]) or np.allclose(a, b[0], atol=1e-5) for a, b in zip(single, nested))
    ends = [t.endswith("<eos>") for t in sum(texts, [])]
    assert ends == s.stopped.tolist()


def test_log_probs_of_a_known_continuation():
    model = noisy_model(seed=10)
    (lp,) = lm.log_probs(model, ["1+1="], ["2<eos>"])
    seq = lm.encode("1+1=2<eos>")
    logits, _ = model.forward(seq[None, :-1])
    expected = log_softmax(logits[0])[[3, 4], seq[[4, 5]]]
    np.testing.assert_allclose(lp, expected, rtol=1e-12)
    assert lm.log_probs(model, ["1"], [""])[0].shape == (0,)


def test_scored_completions_backward_against_finite_differences():
    model = noisy_model(seed=11)
    rows = prompt_ids(["12+3=", "7", "7"])
    comps = [lm.encode("15<eos>"), lm.encode("ab"), lm.encode("")]
    rng = np.random.default_rng(11)
    scored = lm.completion_log_probs(model, rows, comps)
    w = rng.standard_normal(scored.logp.shape)
    wz = rng.standard_normal(scored.logits.shape)
    grads = scored.backward(w, dlogits=wz)

    def loss():
        sc = lm.completion_log_probs(model, rows, comps)
        return float(np.sum(w * sc.logp) + np.sum(wz * np.where(sc.mask[..., None], sc.logits, 0.0)))

    for name in ("head.w", "block0.attn.qkv.w", "block1.ln2.gamma", "pos_emb", "tok_emb"):
        p = model.params[name]
        for _ in range(3):
            idx = tuple(int(rng.integers(0, s)) for s in p.shape)
            if name == "tok_emb":
                idx = (int(rng.choice(np.concatenate(rows + comps))),) + idx[1:]
            if name == "pos_emb":
                idx = (int(rng.integers(0, 8)),) + idx[1:]
            numeric = entry_difference(loss, p, idx)
            assert abs(grads[name][idx] - numeric) <= 1e-7 * max(1.0, abs(numeric)), (name, idx)


# ------------------------------------------------------------------------------------ bad input

MODEL = noisy_model("float32", seed=12)
RNG = np.random.default_rng(0)
IDS = prompt_ids(["12"])


@pytest.mark.parametrize("call, error, words", [
    (lambda: lm.sample(MODEL, [np.array([1, 53])], rng=RNG), ValueError, ["prompt_ids[0]", "53", "position 1"]),
    (lambda: lm.sample(MODEL, [np.array([-2])], rng=RNG), ValueError, ["prompt_ids[0]", "-2"]),
    (lambda: lm.sample(MODEL, [np.array([1.0])], rng=RNG), TypeError, ["prompt_ids[0]", "float64"]),
    (lambda: lm.sample(MODEL, [np.array([], int)], rng=RNG), ValueError, ["prompt_ids[0]", "empty"]),
    (lambda: lm.sample(MODEL, [np.ones(25, int)], rng=RNG), ValueError, ["prompt_ids[0]", "25", "context (24)"]),
    (lambda: lm.sample(MODEL, [np.ones(24, int)], rng=RNG), ValueError, ["prompt_ids[0]", "24", "no room"]),
    (lambda: lm.sample(MODEL, IDS, temperature=0.0, rng=RNG), ValueError, ["temperature", "0.0"]),
    (lambda: lm.sample(MODEL, IDS, temperature=-1, rng=RNG), ValueError, ["temperature", "-1"]),
    (lambda: lm.sample(MODEL, IDS, temperature=float("nan"), rng=RNG), ValueError, ["temperature", "nan"]),
    (lambda: lm.sample(MODEL, IDS, top_p=0.0, rng=RNG), ValueError, ["top_p", "0.0"]),
    (lambda: lm.sample(MODEL, IDS, top_p=1.5, rng=RNG), ValueError, ["top_p", "1.5"]),
    (lambda: lm.sample(MODEL, IDS, top_p="0.9", rng=RNG), TypeError, ["top_p", "'0.9'"]),
    (lambda: lm.sample(MODEL, IDS, n=0, rng=RNG), ValueError, ["n", "0"]),
    (lambda: lm.sample(MODEL, IDS, n=2.0, rng=RNG), TypeError, ["n", "2.0"]),
    (lambda: lm.sample(MODEL, IDS, max_new_tokens=0, rng=RNG), ValueError, ["max_new_tokens", "0"]),
    (lambda: lm.sample(MODEL, IDS, rng=np.random.RandomState(0)), TypeError, ["rng", "Generator", "RandomState"]),
    (lambda: lm.sample(MODEL, IDS, rng=0), TypeError, ["rng", "Generator", "0"]),
    (lambda: lm.sample("model", IDS, rng=RNG), TypeError, ["model", "Transformer"]),
    (lambda: lm.sample(MODEL, [], rng=RNG), TypeError, ["prompt_ids", "non-empty"]),
    (lambda: lm.generate(MODEL, "12", rng=RNG), TypeError, ["prompts", "list"]),
    (lambda: lm.generate(MODEL, ["12", 3], rng=RNG), TypeError, ["prompts[1]", "str"]),
    (lambda: lm.generate(MODEL, ["1", "X+1"], rng=RNG), ValueError, ["prompts[1]", "'X'", "position 0"]),
    (lambda: lm.generate(MODEL, ["12"], temperature=0, rng=RNG), ValueError, ["temperature", "0"]),
    (lambda: lm.generate(MODEL, ["12"], top_p=-0.1, rng=RNG), ValueError, ["top_p", "-0.1"]),
    (lambda: lm.generate(MODEL, ["12"], n=-1, rng=RNG), ValueError, ["n", "-1"]),
    (lambda: lm.generate(MODEL, ["12"], rng=None), TypeError, ["rng", "None"]),
    (lambda: lm.generate(MODEL, ["1" * 30], rng=RNG), ValueError, ["prompts[0]", "30", "context (24)"]),
    (lambda: lm.generate(MODEL, ["1", "1" * 24], rng=RNG), ValueError, ["prompts[1]", "24", "no room"]),
    (lambda: lm.generate(MODEL, ["1", ""], rng=RNG), ValueError, ["prompts[1]", "empty"]),
    (lambda: lm.generate("model", ["1"], rng=RNG), TypeError, ["model", "Transformer"]),
    (lambda: lm.log_probs(MODEL, [""], ["3"]), ValueError, ["prompts[0]", "empty"]),
    (lambda: lm.log_probs(MODEL, ["1", "2"], ["3"]), TypeError, ["completions", "one entry per prompt"]),
    (lambda: lm.log_probs(MODEL, ["1"], ["Q"]), ValueError, ["completions[0]", "'Q'"]),
    (lambda: lm.log_probs(MODEL, ["1"], ["2" * 24]), ValueError, ["row 0", "context (24)"]),
    (lambda: lm.completion_log_probs(MODEL, IDS, [np.array([60])]), ValueError, ["completion_ids[0]", "60"]),
    (lambda: lm.completion_log_probs(MODEL, IDS, IDS + IDS), ValueError, ["1 prompts", "2 completions"]),
    (lambda: lm.completion_log_probs(MODEL, IDS, IDS, lengths=[3]), ValueError, ["lengths[0]", "3"]),
])
def test_bad_input(call, error, words):
    with pytest.raises(error) as info:
        call()
    assert all(w in str(info.value) for w in words), str(info.value)

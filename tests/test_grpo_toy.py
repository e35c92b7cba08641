"""The toy R1-Zero task of r1lib.labs.grpo_toy: rewards, policy, exact statistics, gradients, training.

Independent references: every possible output of a prompt is enumerated (4369 of them), scored by
regular expressions on the rendered text and weighted by probabilities computed here with
math.exp; gradients are checked by central finite differences.
"""
from __future__ import annotations

import itertools
import math
import re

import numpy as np
import pytest

from r1lib.labs.grpo_toy import (BOS, END_THINK, MAX_LEN, PROMPTS, STEP, THINK, VOCAB,
                            ToyPolicy, accuracy_reward, answers_of, base_policy, exact_stats,
                            format_reward, policy_gradient, render, sample, token_logp,
                            toy_objective, total_reward, train_grpo)
from r1lib.grpo import group_advantages, grpo_objective_grad

V = len(VOCAB)
FORMAT_RE = re.compile(r"<think>…+</think>\d")
NON_DIGITS = (THINK, END_THINK, STEP)


def _all_outputs():
    """Every output the policy can write: k non-digits then a digit, or MAX_LEN non-digits."""
    outs = []
    for k in range(MAX_LEN):
        for prefix in itertools.product(NON_DIGITS, repeat=k):
            for d in range(10):
                outs.append(prefix + (d,))
    outs.extend(itertools.product(NON_DIGITS, repeat=MAX_LEN))
    tok = np.zeros((len(outs), MAX_LEN), dtype=np.int64)
    mask = np.zeros((len(outs), MAX_LEN), dtype=bool)
    for i, o in enumerate(outs):
        tok[i, :len(o)] = o
        mask[i, :len(o)] = True
    return outs, tok, mask


OUTS, TOK, MASK = _all_outputs()


def _text(o):
    return "".join(VOCAB[t] for t in o)


def _regex_answer(text):
    m = re.search(r"(\d)$", text)
    return int(m.group(1)) if m else -1


def _random_policy(seed, scale=1.0):
    rng = np.random.default_rng(seed)
    return ToyPolicy(scale * rng.normal(size=(MAX_LEN, V + 1, V)),
                     scale * rng.normal(size=(len(PROMPTS), V)))


def _seq_prob(policy, p, o):
    """Probability of output o for prompt p, step by step with math.exp."""
    prob, prev = 1.0, BOS
    for t, tok in enumerate(o):
        logits = [policy.B[t, prev, v] + policy.D[p, v] for v in range(V)]
        top = max(logits)
        weights = [math.exp(z - top) for z in logits]
        prob *= weights[tok] / sum(weights)
        prev = tok
    return prob


def test_enumeration_is_complete():
    assert len(OUTS) == 10 * sum(3 ** k for k in range(MAX_LEN)) + 3 ** MAX_LEN == 4369


# ---------------------------------------------------------------------------------------------
# Rewards
# ---------------------------------------------------------------------------------------------

def test_rewards_match_regular_expressions_on_every_possible_output():
    texts = [_text(o) for o in OUTS]
    assert render(TOK, MASK) == texts
    fmt = format_reward(TOK, MASK)
    np.testing.assert_array_equal(fmt, [1.0 if FORMAT_RE.fullmatch(s) else 0.0 for s in texts])
    np.testing.assert_array_equal(answers_of(TOK, MASK), [_regex_answer(s) for s in texts])
    for p in (0, 13, 24):
        a, b = PROMPTS[p]
        acc = accuracy_reward(TOK, MASK, p)
        np.testing.assert_array_equal(acc, [1.0 if _regex_answer(s) == a + b else 0.0 for s in texts])
        np.testing.assert_array_equal(total_reward(TOK, MASK, p), acc + fmt)
    assert fmt.sum() == 10 * (MAX_LEN - 3)  # one to three reasoning tokens, ten digits


@pytest.mark.parametrize("text_tokens, fmt", [
    ((THINK, STEP, END_THINK, 7), 1.0),
    ((THINK, STEP, STEP, STEP, END_THINK, 7), 1.0),
    ((THINK, END_THINK, 7), 0.0),          # empty thought
    ((7,), 0.0),                           # bare answer
    ((STEP, THINK, STEP, END_THINK, 7), 0.0),
    ((THINK, STEP, THINK, END_THINK, 7), 0.0),
    ((THINK, STEP, STEP, STEP, STEP, END_THINK), 0.0),  # no answer
])
def test_format_examples(text_tokens, fmt):
    tok = np.zeros(MAX_LEN, dtype=np.int64)
    mask = np.zeros(MAX_LEN, dtype=bool)
    tok[:len(text_tokens)] = text_tokens
    mask[:len(text_tokens)] = True
    assert format_reward(tok, mask) == fmt
    assert render(tok, mask) == _text(text_tokens)


def test_accuracy_is_per_prompt():
    tok = np.zeros((2, MAX_LEN), dtype=np.int64)
    mask = np.zeros((2, MAX_LEN), dtype=bool)
    tok[:, 0], mask[:, 0] = 7, True
    p34 = PROMPTS.index((3, 4))
    np.testing.assert_array_equal(accuracy_reward(tok, mask, [p34, 0]), [1.0, 0.0])


@pytest.mark.parametrize("tok, mask, exc, word", [
    ([[7, 0, 0, 0, 0, 0]], [[1, 0, 0, 0, 0, 0]], TypeError, "mask must be boolean"),
    ([[7.0, 0, 0, 0, 0, 0]], [[True] + [False] * 5], TypeError, "integer"),
    ([[7, 0, 0, 0, 0]], [[True] + [False] * 4], ValueError, "MAX_LEN"),
    ([[13, 0, 0, 0, 0, 0]], [[True] + [False] * 5], ValueError, "token ids"),
    ([[7, 0, 0, 0, 0, 0]], [[False, True] + [False] * 4], ValueError, "prefix"),
    ([[7, 3, 0, 0, 0, 0]], [[True, True] + [False] * 4], ValueError, "digit ends"),
    ([[THINK, 0, 0, 0, 0, 0]], [[True] + [False] * 5], ValueError, "end with its answer"),
])
def test_malformed_outputs(tok, mask, exc, word):
    with pytest.raises(exc, match=word):
        format_reward(np.array(tok), np.array(mask))


def test_bad_prompt_index():
    with pytest.raises(ValueError, match="prompt_idx"):
        accuracy_reward(TOK[:3], MASK[:3], 25)
    with pytest.raises(TypeError, match="prompt_idx"):
        accuracy_reward(TOK[:3], MASK[:3], 1.0)
    with pytest.raises(ValueError, match="broadcast"):
        accuracy_reward(TOK[:3], MASK[:3], [0, 1])


# ---------------------------------------------------------------------------------------------
# Policy: probabilities, exact statistics, sampling
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0, 17])
def test_exact_stats_match_brute_force_enumeration(p):
    policy, ref = _random_policy(1), _random_policy(2)
    probs = np.array([_seq_prob(policy, p, o) for o in OUTS])
    ref_probs = np.array([_seq_prob(ref, p, o) for o in OUTS])
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    texts = [_text(o) for o in OUTS]
    ans = np.array([_regex_answer(s) for s in texts])
    is_fmt = np.array([bool(FORMAT_RE.fullmatch(s)) for s in texts])
    stats = exact_stats(policy, ref)
    a, b = PROMPTS[p]
    assert stats["accuracy"][p] == pytest.approx(probs[ans == a + b].sum(), rel=1e-12)
    assert stats["format"][p] == pytest.approx(probs[is_fmt].sum(), rel=1e-12)
    for d in range(10):
        assert stats["answers"][p, d] == pytest.approx(probs[ans == d].sum(), rel=1e-12)
    assert stats["answers"][p, 10] == pytest.approx(probs[ans == -1].sum(), rel=1e-12)
    assert stats["kl"][p] == pytest.approx(np.sum(probs * np.log(probs / ref_probs)), rel=1e-10)
    assert stats["length"][p] == pytest.approx(np.sum(probs * MASK.sum(axis=1)), rel=1e-12)
    np.testing.assert_allclose(stats["reward"], stats["accuracy"] + stats["format"])


def test_token_logp_sums_to_sequence_log_probability():
    policy = _random_policy(3)
    p = 5
    tok = np.broadcast_to(TOK, (25,) + TOK.shape)
    mask = np.broadcast_to(MASK, (25,) + MASK.shape)
    lp = token_logp(policy, tok, mask)
    assert np.all(lp[:, ~MASK] == 0)
    idx = np.random.default_rng(0).choice(len(OUTS), 200, replace=False)
    expected = [math.log(_seq_prob(policy, p, OUTS[i])) for i in idx]
    np.testing.assert_allclose(lp[p, idx].sum(axis=-1), expected, rtol=1e-12)


def test_exact_kl_is_zero_against_itself_and_base_policy_numbers():
    ref = base_policy()
    stats = exact_stats(ref, ref)
    assert np.all(stats["kl"] == 0)
    # The documented starting point: rarely formatted, sometimes right.
    assert 0.02 < stats["format"].mean() < 0.06
    assert 0.15 < stats["accuracy"].mean() < 0.3


def test_sampling_matches_exact_answer_distribution():
    policy = _random_policy(4, scale=0.7)
    rng = np.random.default_rng(5)
    G = 4000
    tok, mask = sample(policy, G, rng)
    assert tok.shape == mask.shape == (25, G, MAX_LEN)
    ans = answers_of(tok, mask)
    exact = exact_stats(policy, policy)["answers"]
    freq = np.stack([(ans == d).mean(axis=1) for d in range(10)] + [(ans == -1).mean(axis=1)], 1)
    sd = np.sqrt(exact * (1 - exact) / G)
    assert np.all(np.abs(freq - exact) <= 5 * sd + 1e-12)
    fmt = format_reward(tok, mask).mean(axis=1)
    exact_fmt = exact_stats(policy, policy)["format"]
    assert np.all(np.abs(fmt - exact_fmt) <= 5 * np.sqrt(exact_fmt * (1 - exact_fmt) / G) + 1e-12)


def test_sampling_is_seeded():
    policy = base_policy()
    a = sample(policy, 8, np.random.default_rng(11))
    b = sample(policy, 8, np.random.default_rng(11))
    c = sample(policy, 8, np.random.default_rng(12))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("G", [1, 0, 2.0, True, "8"])
def test_bad_group_size(G):
    with pytest.raises(ValueError, match="group_size"):
        sample(base_policy(), G, np.random.default_rng(0))


def test_sample_needs_a_generator():
    with pytest.raises(TypeError, match="rng"):
        sample(base_policy(), 4, 0)


def test_policy_shapes_validated():
    with pytest.raises(ValueError, match="B must have shape"):
        ToyPolicy(np.zeros((2, 2)), np.zeros((25, V)))
    with pytest.raises(ValueError, match="D must have shape"):
        ToyPolicy(np.zeros((MAX_LEN, V + 1, V)), np.zeros((24, V)))
    with pytest.raises(ValueError, match="NaN"):
        ToyPolicy(np.full((MAX_LEN, V + 1, V), np.nan), np.zeros((25, V)))
    with pytest.raises(ValueError, match="think"):
        base_policy(think=-1)


def test_flat_round_trip():
    policy = _random_policy(6)
    back = ToyPolicy.from_flat(policy.flat())
    np.testing.assert_array_equal(back.B, policy.B)
    np.testing.assert_array_equal(back.D, policy.D)


# ---------------------------------------------------------------------------------------------
# Gradients: analytic chain rule versus finite differences
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed, beta", [(0, 0.04), (1, 0.5), (2, 0.0)])
def test_policy_gradient_matches_finite_differences(seed, beta):
    rng = np.random.default_rng(seed)
    ref = base_policy()
    old = _random_policy(seed + 10, scale=0.5)
    tok, mask = sample(old, 6, rng)
    old_logp = token_logp(old, tok, mask)
    ref_logp = token_logp(ref, tok, mask)
    adv = group_advantages(total_reward(tok, mask, np.arange(25)[:, None]))
    # The current policy: a small step away from the sampler, so ratios differ from 1.
    theta0 = old.flat() + 0.05 * rng.normal(size=old.flat().size)
    policy = ToyPolicy.from_flat(theta0)
    lp = token_logp(policy, tok, mask)
    dlogp = grpo_objective_grad(lp, old_logp, ref_logp, adv, mask, 0.2, beta) / 25
    grad = policy_gradient(policy, tok, mask, dlogp)
    analytic = np.concatenate([grad.B.ravel(), grad.D.ravel()])
    rho = np.exp(lp - old_logp)[mask]
    assert np.min(np.abs(np.abs(rho - 1) - 0.2)) > 1e-4  # no kink within the FD step

    def J(theta):
        return toy_objective(ToyPolicy.from_flat(theta), tok, mask, old_logp, ref_logp, adv, 0.2, beta)

    coords = np.concatenate([np.argsort(-np.abs(analytic))[:25],
                             rng.choice(theta0.size, 25, replace=False)])
    h = 1e-6
    for i in coords:
        up, down = theta0.copy(), theta0.copy()
        up[i] += h
        down[i] -= h
        fd = (J(up) - J(down)) / (2 * h)
        assert fd == pytest.approx(analytic[i], rel=1e-5, abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------

def test_training_is_deterministic_and_learns():
    a = train_grpo(group_size=8, beta=0.04, steps=40, rng=3)
    b = train_grpo(group_size=8, beta=0.04, steps=40, rng=np.random.default_rng(3))
    c = train_grpo(group_size=8, beta=0.04, steps=40, rng=4)
    assert a.seed == 3 and b.seed is None
    np.testing.assert_array_equal(a.reward, b.reward)
    np.testing.assert_array_equal(a.policy.B, b.policy.B)
    assert not np.array_equal(a.reward, c.reward)
    assert a.reward.shape == (41,) and a.answers.shape == (41, 25, 11)
    assert a.kl[0] == 0 and a.reward[0] == pytest.approx(exact_stats(base_policy(),
                                                                      base_policy())["reward"].mean())
    assert a.reward[-1] > a.reward[0] + 1.0
    assert a.format[-1] > 0.5
    np.testing.assert_allclose(a.answers.sum(axis=-1), 1.0, rtol=1e-12)


def test_a_larger_kl_coefficient_keeps_the_policy_closer():
    kls = [train_grpo(group_size=4, beta=b, steps=40, rng=0).kl[-1] for b in (0.0, 0.3, 3.0)]
    assert kls[0] > kls[1] > kls[2]


@pytest.mark.parametrize("kwargs, exc, word", [
    (dict(group_size=1), ValueError, "group_size"),
    (dict(beta=-1), ValueError, "beta"),
    (dict(eps=1.5), ValueError, "eps"),
    (dict(lr=0), ValueError, "lr"),
    (dict(steps=-1), ValueError, "steps"),
    (dict(steps=2.5), ValueError, "steps"),
    (dict(inner_steps=0), ValueError, "inner_steps"),
    (dict(max_grad_norm=0.0), ValueError, "max_grad_norm"),
    (dict(rng=-3), TypeError, "rng"),
    (dict(rng=1.5), TypeError, "rng"),
    (dict(rng=np.random.RandomState(0)), TypeError, "rng"),
    (dict(reference="base"), TypeError, "reference"),
])
def test_bad_training_arguments(kwargs, exc, word):
    with pytest.raises(exc, match=word):
        train_grpo(**{"steps": 1, **kwargs})


# ---- the studies behind notebook 04's figures ----------------------------------------------

def test_one_batch_study_curves_match_the_formulas():
    from r1lib.labs.grpo_toy import one_batch_study

    st = one_batch_study(np.random.default_rng(11))
    assert st.mask.sum(axis=1).tolist() == [3, 6, 2, 5]
    assert st.s[0] == 0.0 and st.s[-1] == 1.0 and st.logp.shape == (st.s.size, 4, 6)
    # advantages of rewards (2, 0, 1, 0) with ddof = 1, from the definition
    r = np.array([2.0, 0.0, 1.0, 0.0])
    assert np.allclose(st.advantages, (r - r.mean()) / (r.std(ddof=1) + 1e-6), rtol=1e-12)
    # at s = 0 the policy is the old one: rho = 1, so the unclipped surrogate is mean(A) = 0 and
    # the objective is -beta times the k3 average of the old policy against the reference
    assert np.array_equal(st.logp[0], st.old_logp)
    assert abs(st.unclipped[0]) < 1e-15
    lengths = st.mask.sum(axis=1)
    k3 = lambda lp, ref: np.exp(ref - lp) - (ref - lp) - 1  # noqa: E731
    for k in (0, 17, 50):
        expected_kl = np.mean([k3(st.logp[k, i, :n], st.ref_logp[i, :n]).mean() for i, n in enumerate(lengths)])
        assert st.kl[k] == pytest.approx(expected_kl, rel=1e-12)
        rho = np.exp(st.logp[k] - st.old_logp)
        by_hand = np.mean([np.mean(np.minimum(rho[i, :n] * a, np.clip(rho[i, :n], 0.8, 1.2) * a))
                           for i, (n, a) in enumerate(zip(lengths, st.advantages))])
        assert st.objective(0.2, 0.3)[k] == pytest.approx(by_hand - 0.3 * expected_kl, rel=1e-10, abs=1e-14)
        clipped = st.mask & (((st.advantages[:, None] > 0) & (rho > 1.2)) | ((st.advantages[:, None] < 0) & (rho < 0.8)))
        assert np.array_equal(st.clipped(k, 0.2), clipped)
    # the direction is an ascent direction of the surrogate, and the clip caps it below rho A
    J = st.objective(0.2, 0.0)
    assert J[1] > J[0] and np.all(J <= st.unclipped + 1e-12) and st.unclipped[-1] - J[-1] > 0.05
    assert st.clipped(0, 0.2).sum() == 0 and st.clipped(50, 0.2).sum() > 0


def test_one_batch_study_bad_input():
    from r1lib.labs.grpo_toy import one_batch_study

    with pytest.raises(TypeError, match="rng"):
        one_batch_study(3)
    with pytest.raises(ValueError, match="lengths"):
        one_batch_study(np.random.default_rng(0), lengths=(3, 0), rewards=(1.0, 0.0))
    with pytest.raises(ValueError, match="lengths"):
        one_batch_study(np.random.default_rng(0), lengths=(3, 2, 1), rewards=(1.0, 0.0))


def test_baseline_study_signals():
    from r1lib.labs.grpo_toy import BASELINE_SIGNALS, baseline_study

    policy = _random_policy(2, scale=0.5)
    n_params = policy.flat().size
    est = baseline_study(policy, 4, 3, np.random.default_rng(9))
    assert list(est) == list(BASELINE_SIGNALS)
    assert all(v.shape == (3, n_params) for v in est.values())
    # Same batches for every signal: replay the first batch and check two signals exactly.
    gen = np.random.default_rng(9)
    tok, mask = sample(policy, 4, gen)
    r = total_reward(tok, mask, np.arange(len(PROMPTS))[:, None])
    d = np.where(mask, (r[..., None] - r.mean(axis=1, keepdims=True)[..., None]) / 3, 0.0)
    g = policy_gradient(policy, tok, mask, d)
    assert np.allclose(est["group (leave-one-out)"][0], np.r_[g.B.ravel(), g.D.ravel()] / 25, rtol=1e-12, atol=1e-15)
    g1 = policy_gradient(policy, tok, mask, np.where(mask, 0.25, 0.0))
    assert np.allclose(est["score, sum"][0], np.r_[g1.B.ravel(), g1.D.ravel()] / 25, rtol=1e-12, atol=1e-15)


def test_baseline_study_is_unbiased_for_the_exact_gradient():
    """The three unbiased signals average to grad E[r] (central differences of the exact expected
    reward along a random direction); the plain score averages to 0."""
    from r1lib.labs.grpo_toy import baseline_study

    policy = _random_policy(4, scale=0.5)
    theta = policy.flat()
    direction = np.random.default_rng(1).normal(size=theta.size)
    h = 1e-5
    value = lambda th: exact_stats(ToyPolicy.from_flat(th), base_policy())["reward"].mean()  # noqa: E731
    slope = (value(theta + h * direction) - value(theta - h * direction)) / (2 * h)
    est = baseline_study(policy, 4, 300, np.random.default_rng(2))
    for name in ("no baseline", "exact critic V(q)", "group (leave-one-out)", "score, sum"):
        x = est[name] @ direction
        target = 0.0 if name == "score, sum" else slope
        assert abs(x.mean() - target) < 4 * x.std(ddof=1) / np.sqrt(x.size), name


def test_baseline_study_bad_input():
    from r1lib.labs.grpo_toy import baseline_study

    with pytest.raises(ValueError, match="n_batches"):
        baseline_study(base_policy(), 4, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="group_size"):
        baseline_study(base_policy(), 1, 5, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        baseline_study(base_policy(), 4, 5, 0)

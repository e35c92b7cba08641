"""r1lib.labs.length_toy: exact expectations against Monte Carlo and closed forms, the chain rule against
finite differences, the trainer's records and switches, and the effects notebook 05 shows."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numgrad import central_difference
from r1lib import length_toy as toy

Q, K, L = toy.N_QUESTIONS, toy.K, toy.MAX_LEN


def random_policy(seed: int, spread: float = 1.0) -> toy.LengthPolicy:
    rng = np.random.default_rng(seed)
    return toy.LengthPolicy(rng.normal(0, spread, (Q, K)), rng.normal(-1.0, spread, (Q, K)))


def sequence_logp_by_hand(policy: toy.LengthPolicy, q: int, a: int, length: int, truncated: bool) -> float:
    """log pi(o) written out: log softmax of the approach + n continues + (a stop unless truncated)."""
    z = policy.approach_logits[q]
    log_pa = z[a] - np.log(np.sum(np.exp(z - z.max()))) - z.max()
    s = policy.stop_logits[q, a]
    log_stop, log_cont = -np.log1p(np.exp(-s)), -np.log1p(np.exp(s))
    n_cont = length - 1 - (0 if truncated else 1)
    return log_pa + n_cont * log_cont + (0.0 if truncated else log_stop)


# ---------------------------------------------------------------------------------------------
# Policy, sampling, log-probabilities, rewards
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("success", [toy.EXACT_TASK, toy.NOISY_TASK])
def test_base_policy_has_the_stated_accuracy_and_length(success):
    base = toy.base_policy(success=success)
    s = toy.exact_stats(base, success=success)
    # right = a working approach that is right and not truncated (0.75^(L-1) of outputs are)
    np.testing.assert_allclose(s["accuracy"], np.array(toy.BASE_ACCURACY) * (1 - 0.75 ** (L - 1)), rtol=1e-12)
    # geometric stop 1/4, truncated at L: E[length] = 1 + (1 - 0.75^(L-1)) / 0.25
    np.testing.assert_allclose(s["length"], 1 + (1 - 0.75 ** (L - 1)) / 0.25, rtol=1e-12)
    p = np.exp(base.approach_logp())
    rows = np.arange(Q)
    np.testing.assert_allclose(p[rows, toy.RARE] / p[rows, toy.POPULAR], 0.25, rtol=1e-12)


def test_token_logp_sums_to_the_sequence_logp_and_is_zero_at_padding():
    policy = random_policy(1)
    batch = toy.sample(policy, np.arange(Q), 16, np.random.default_rng(2))
    lp = toy.token_logp(policy, batch)
    assert np.all(lp[~batch.mask] == 0) and np.all(lp[batch.mask] < 0)
    for i in range(Q):
        for j in range(16):
            expected = sequence_logp_by_hand(policy, i, batch.approach[i, j], batch.length[i, j],
                                             batch.truncated[i, j])
            assert lp[i, j].sum() == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_sampling_matches_the_exact_expectations():
    """Monte Carlo means of accuracy, length, right/wrong lengths, KL and token entropy agree with
    exact_stats within 5 standard errors (a policy with some long and some truncated outputs)."""
    policy, ref = random_policy(3, spread=1.5), random_policy(4)
    n = 4000
    batch = toy.sample(policy, np.arange(Q), n, np.random.default_rng(5), toy.NOISY_TASK)
    exact = toy.exact_stats(policy, ref, toy.NOISY_TASK)
    r = toy.rewards(batch)
    lengths = batch.length.astype(float)
    kl_samples = (toy.token_logp(policy, batch) - toy.token_logp(ref, batch)).sum(axis=-1)

    def agree(samples, value, what):
        se = samples.std(axis=1, ddof=1) / np.sqrt(samples.shape[1])
        assert np.all(np.abs(samples.mean(axis=1) - value) < 5 * se + 1e-12), what

    agree(r, exact["accuracy"], "accuracy")
    agree(lengths, exact["length"], "length")
    agree(kl_samples, exact["kl"], "KL")
    for q in range(Q):
        right, wrong = lengths[q][r[q] == 1], lengths[q][r[q] == 0]
        if right.size > 30:
            assert abs(right.mean() - exact["length_right"][q]) < 5 * right.std() / np.sqrt(right.size) + 1e-9
        if wrong.size > 30:
            assert abs(wrong.mean() - exact["length_wrong"][q]) < 5 * wrong.std() / np.sqrt(wrong.size) + 1e-9
    assert batch.truncated.any() and (~batch.truncated).any()


def test_token_entropy_is_the_entropy_of_each_drawn_token_summed_over_the_output():
    policy = random_policy(6)
    batch = toy.sample(policy, np.arange(Q), 4000, np.random.default_rng(7))
    p = np.exp(policy.approach_logp())
    h_app = -(p * np.log(p)).sum(axis=1)
    s = policy.stop_prob()
    h_stop = -(s * np.log(s) + (1 - s) * np.log1p(-s))
    decisions = batch.length - 1
    total = h_app[:, None] + decisions * h_stop[np.arange(Q)[:, None], batch.approach]
    exact = toy.exact_stats(policy)["token_entropy_sum"]
    se = total.std(axis=1, ddof=1) / np.sqrt(total.shape[1])
    assert np.all(np.abs(total.mean(axis=1) - exact) < 5 * se)


def test_rewards_need_the_right_answer_and_an_ending():
    batch = toy.Batch(question=np.array([0]), approach=np.array([[0, 0, 1]]), length=np.array([[3, L, 2]]),
                      truncated=np.array([[False, True, False]]), solved=np.array([[True, True, False]]))
    np.testing.assert_array_equal(toy.rewards(batch), [[1.0, 0.0, 0.0]])
    assert toy.render(batch) == ["A … </think>", "A " + " ".join(["…"] * (L - 1)), "B </think>"]


@pytest.mark.parametrize("seed", [0, 1])
def test_exact_sampling_task_solves_working_approaches_only(seed):
    batch = toy.sample(toy.base_policy(), np.arange(Q), 64, np.random.default_rng(seed))
    works = toy.success_matrix()[batch.question[:, None], batch.approach] > 0
    np.testing.assert_array_equal(batch.solved, works)


# ---------------------------------------------------------------------------------------------
# Gradients
# ---------------------------------------------------------------------------------------------

def test_policy_gradient_is_the_chain_rule_of_token_logp():
    policy = random_policy(8)
    batch = toy.sample(policy, np.array([0, 3, 3, 11]), 5, np.random.default_rng(9))
    w = np.random.default_rng(10).normal(size=batch.mask.shape)
    grad = toy.policy_gradient(policy, batch, w)

    def f_approach(x):
        return np.sum(w * toy.token_logp(toy.LengthPolicy(x, policy.stop_logits), batch))

    def f_stop(x):
        return np.sum(w * toy.token_logp(toy.LengthPolicy(policy.approach_logits, x), batch))

    np.testing.assert_allclose(grad.approach_logits, central_difference(f_approach, policy.approach_logits),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(grad.stop_logits, central_difference(f_stop, policy.stop_logits),
                               rtol=1e-6, atol=1e-7)


def test_gspo_clip_range_clips_far_more_than_the_token_clip():
    """Notebook 05, section 7: GSPO's tiny clip range (3e-4 / 4e-4) switches off a much larger share
    than the token-level clip at 0.2 (the trainer records r1lib.grpo_loss.clip_fractions)."""
    noisy = toy.Variant(inner_steps=2, lr=240.0, steps=40, success=toy.NOISY_TASK)
    token = toy.train(noisy, rng=0)
    gspo = toy.train(replace(noisy, importance_sampling_level="sequence", epsilon=3e-4, epsilon_high=4e-4), rng=0)
    assert token.clip_low.mean() + token.clip_high.mean() > 0
    assert gspo.clip_low.mean() + gspo.clip_high.mean() > 3 * (token.clip_low.mean() + token.clip_high.mean())
    assert np.all((gspo.clip_low >= 0) & (gspo.clip_high <= 1))


@pytest.mark.parametrize("G", [2, 5, 8, 16])
def test_advantage_weight_closed_forms(G):
    p = np.arange(G + 1) / G
    np.testing.assert_allclose(toy.advantage_weight(G, "none"), 2 * p * (1 - p), atol=1e-15)
    # sample std of c ones among G: sqrt(G/(G-1) p(1-p)); group_advantages adds eps = 1e-6
    expected = 2 * p * (1 - p) / (np.sqrt(G / (G - 1) * p * (1 - p)) + 1e-6)
    np.testing.assert_allclose(toy.advantage_weight(G, "group"), np.where((p > 0) & (p < 1), expected, 0.0),
                               rtol=1e-12, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), spread=st.floats(0.1, 6.0))
def test_exact_stats_are_consistent_probabilities(seed, spread):
    policy, ref = random_policy(seed, spread), random_policy(seed + 1)
    s = toy.exact_stats(policy, ref, toy.NOISY_TASK)
    assert np.all((s["accuracy"] >= 0) & (s["accuracy"] <= 1))
    np.testing.assert_allclose(s["p_right"] + s["p_wrong"], 1.0)
    assert np.all((s["length"] >= 2 - 1e-12) & (s["length"] <= L + 1e-12))
    assert np.all(s["kl"] >= 0) and np.all(np.isfinite(s["kl"]))
    assert np.all(s["entropy"] <= np.log(K) + 1e-12)
    assert np.all(toy.exact_stats(policy, policy)["kl"] == pytest.approx(0.0, abs=1e-12))


# ---------------------------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------------------------

SHORT = toy.Variant(inner_steps=2, lr=2.0, steps=25)


def test_a_run_is_reproducible_and_its_records_have_the_documented_shapes():
    a, b = toy.train(SHORT, rng=3), toy.train(SHORT, rng=np.random.default_rng(3))
    assert a.seed == 3 and b.seed is None
    np.testing.assert_array_equal(a.policy.approach_logits, b.policy.approach_logits)
    for name in ("accuracy", "entropy", "token_entropy", "length", "length_right", "length_wrong", "kl"):
        assert getattr(a, name).shape == (26,), name
    for name in ("zero_signal", "dropped", "generated", "clip_low", "clip_high"):
        assert getattr(a, name).shape == (25,), name
    assert a.accuracy_q.shape == (26, Q) and a.weight_q.shape == (25, Q)
    assert a.kl[0] == 0 and a.accuracy[-1] > a.accuracy[0]
    np.testing.assert_array_equal(a.generated, Q)


def test_one_step_per_batch_never_clips():
    run = toy.train(replace(SHORT, inner_steps=1, lr=20.0, epsilon_high=0.28), rng=0)
    assert run.clip_low.sum() == 0 and run.clip_high.sum() == 0


def test_dynamic_sampling_keeps_only_informative_groups_and_counts_the_rest():
    variant = replace(SHORT, dynamic_sampling=True)
    policy = toy.base_policy()
    batch, zero_signal, dropped, generated = toy._draw_batch(policy, variant, np.random.default_rng(4))
    r = toy.rewards(batch)
    assert np.all(r.max(axis=1) > r.min(axis=1))
    assert len(batch.question) == Q and generated % Q == 0 and generated >= Q
    assert dropped >= zero_signal and generated - dropped >= Q
    run = toy.train(variant, rng=4)
    assert np.all(run.generated - run.dropped >= np.minimum(Q, run.generated - run.dropped))
    assert run.dropped.sum() > 0 and run.generated.sum() > Q * variant.steps


def test_grpo_lengthens_wrong_answers_and_token_level_losses_do_not():
    """Notebook 05, section 3: on the exact task, loss_type="grpo" makes wrong outputs longer and
    right ones shorter; "dapo" keeps both lengths."""
    base = toy.Variant(inner_steps=2, lr=2.0, steps=120)
    grpo = toy.train(replace(base, loss_type="grpo"), rng=7)
    dapo = toy.train(base, rng=7)
    assert grpo.length_wrong[-1] > grpo.length_wrong[0] + 1.5
    assert grpo.length_right[-1] < grpo.length_right[0] - 1.0
    assert abs(dapo.length_wrong[-1] - dapo.length_wrong[0]) < 0.5
    assert abs(dapo.length_right[-1] - dapo.length_right[0]) < 0.5


def test_clip_higher_keeps_the_coins_entropy():
    """Notebook 05, section 5: rewards independent of the token; the symmetric clip loses entropy
    faster than clip-higher."""
    sym = toy.coin_study(None, batches=150, rng=1)
    high = toy.coin_study(0.28, batches=150, rng=1)
    assert sym.entropy[0] == pytest.approx(high.entropy[0])
    assert high.entropy[-1] > sym.entropy[-1] + 0.05
    assert sym.p.shape == (151, 256)


def test_coin_study_without_large_steps_leaves_the_coins_alone():
    study = toy.coin_study(None, batches=20, lr=1e-3, rng=2)
    np.testing.assert_allclose(study.p, 0.2, atol=1e-3)


def test_k1_in_the_loss_does_not_hold_the_policy_but_k3_does():
    base = toy.Variant(inner_steps=2, lr=2.0, steps=80)
    free = toy.train(base, rng=5)
    k1 = toy.train(replace(base, beta=0.5, kl="k1"), rng=5)
    k3 = toy.train(replace(base, beta=0.5, kl="k3"), rng=5)
    assert abs(k1.kl[-1] - free.kl[-1]) < 0.2 * free.kl[-1]
    assert k3.kl[-1] < 0.7 * free.kl[-1]


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    (dict(loss_type="ppo"), "loss_type"), (dict(scale="std"), "scale"),
    (dict(importance_sampling_level="seq"), "importance_sampling_level"), (dict(kl="k4"), "kl"),
    (dict(epsilon=0.2, epsilon_high=0.1), "epsilon_high"), (dict(epsilon=-0.1), "epsilon"),
    (dict(beta=-1.0), "beta"), (dict(lr=0.0), "lr"), (dict(group_size=1), "group_size"),
    (dict(inner_steps=0), "inner_steps"), (dict(steps=-1), "steps"), (dict(success=(0.5, 1.5)), "success"),
])
def test_bad_variants_are_value_errors_that_name_the_switch(kwargs, match):
    with pytest.raises(ValueError, match=match):
        toy.Variant(**kwargs)


def test_bad_inputs_elsewhere():
    with pytest.raises(TypeError, match="dynamic_sampling"):
        toy.Variant(dynamic_sampling=1)
    with pytest.raises(TypeError, match="success"):
        toy.success_matrix("fast")
    with pytest.raises(ValueError, match="accuracy"):
        toy.base_policy(accuracy=(0.5,) * (Q - 1) + (1.2,))
    with pytest.raises(ValueError, match="accuracy"):
        toy.base_policy(accuracy=(0.7,) * Q, success=toy.NOISY_TASK)  # above what the noisy task allows
    with pytest.raises(ValueError, match="stop"):
        toy.base_policy(stop=1.0)
    with pytest.raises(ValueError, match="questions"):
        toy.sample(toy.base_policy(), np.array([0, Q]), 4, np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng"):
        toy.sample(toy.base_policy(), np.arange(Q), 4, 0)
    with pytest.raises(TypeError, match="rng"):
        toy.train(SHORT, rng=1.5)
    with pytest.raises(TypeError, match="variant"):
        toy.train({"loss_type": "grpo"})
    with pytest.raises(ValueError, match="approach_logits"):
        toy.LengthPolicy(np.zeros((Q, K + 1)), np.zeros((Q, K)))
    with pytest.raises(ValueError, match="stop_logits"):
        toy.LengthPolicy(np.zeros((Q, K)), np.full((Q, K), np.nan))
    with pytest.raises(ValueError, match="scale"):
        toy.advantage_weight(8, "batch")
    with pytest.raises(ValueError, match="p0"):
        toy.coin_study(p0=1.0)

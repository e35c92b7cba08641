"""The R1 recipe in miniature (r1lib.labs.r1_recipe).

Independent references: the checkers against regular expressions on the rendered text (and r1lib's
own answer extractor), log-probabilities against a per-token loop with math.exp, sampling
frequencies against those exact probabilities, gradients against central finite differences, the
TRL-loss direction against DeepSeekMath eq. 3 (r1lib.grpo_objective_grad), evaluations against
identities of pass@k/maj@k, and the notebook's claims (crossover, distillation beats RL on the
student, the loophole is learned and the strict checker fixes it) over several seeds.
"""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import r1lib
from numgrad import central_difference
from r1lib import r1_recipe as rc

FORMAT_RE = re.compile(r"^<think>(?:\d|\[[abc]\])+</think><answer>\d</answer>$")
FINAL_RE = re.compile(r"<answer>(\d)</answer>$")


@pytest.fixture(scope="module")
def task():
    return rc.make_task(rng=3)


@pytest.fixture(scope="module")
def mixed_samples(task):
    """Outputs of very different policies: base, student, and a policy pushed towards digits."""
    gen = np.random.default_rng(4)
    spray = rc.teacher_base()
    spray.B[:, :, :rc.DIGITS] += 1.5
    return [rc.sample(p, task, 8, gen) for p in (rc.teacher_base(), rc.student_base(), spray)]


@pytest.fixture(scope="module")
def pipe():
    return rc.run_pipeline(0)


# ------------------------------------------------------------------------------------- checkers

def test_checkers_agree_with_regular_expressions_on_the_text(task, mixed_samples):
    seen = {"format": 0, "correct": 0, "loophole_only": 0}
    for s in mixed_samples:
        fmt, acc = rc.format_ok(s), rc.strict_accuracy(task, s)
        loop, final = rc.loophole_accuracy(task, s), rc.final_answers(s)
        for i in range(s.tokens.shape[0]):
            gold = int(task.gold[s.problems[i]])
            for j in range(s.tokens.shape[1]):
                text = rc.render(s, i, j)
                m = FINAL_RE.search(text)
                assert final[i, j] == (int(m.group(1)) if m else -1), text
                assert fmt[i, j] == float(FORMAT_RE.match(text) is not None), text
                assert acc[i, j] == float(m is not None and int(m.group(1)) == gold), text
                assert loop[i, j] == float(str(gold) in text), text
                assert rc.tokenize(text) == list(s.tokens[i, j][s.mask[i, j]])
                seen["format"] += fmt[i, j] > 0
                seen["correct"] += acc[i, j] > 0
                seen["loophole_only"] += loop[i, j] > acc[i, j]
    assert min(seen.values()) > 10, seen  # every branch was exercised


def test_final_answer_matches_r1lib_extract_answer_on_well_formatted_outputs(task, mixed_samples):
    checked = 0
    for s in mixed_samples:
        fmt, final = rc.format_ok(s), rc.final_answers(s)
        for i, j in zip(*np.nonzero(fmt)):
            assert r1lib.normalize_answer(r1lib.extract_answer(rc.render(s, i, j), lenient=True)) == final[i, j]
            checked += 1
    assert checked > 10


token_lists = st.lists(st.integers(0, rc.V - 1), min_size=1, max_size=rc.MAX_LEN)


@settings(max_examples=300, deadline=None)
@given(token_lists, st.integers(0, 9))
def test_checkers_on_arbitrary_token_sequences(tokens, gold):
    if rc.END_ANSWER in tokens[:-1]:
        tokens = tokens[: tokens.index(rc.END_ANSWER) + 1]
    task = rc.Task(gold=np.array([gold]), results=np.zeros((1, 3), dtype=int))
    s = rc.samples_from_tokens(task, np.array([0]), [tokens])
    text = rc.render(s, 0, 0)
    m = FINAL_RE.search(text)
    assert rc.format_ok(s)[0, 0] == float(FORMAT_RE.match(text) is not None)
    assert rc.strict_accuracy(task, s)[0, 0] == float(m is not None and int(m.group(1)) == gold)
    assert rc.loophole_accuracy(task, s)[0, 0] == float(str(gold) in text)
    assert rc.tokenize(text) == tokens


STRATEGY_RE = re.compile(r"\[([abc])\]")


def test_cot_correct_agrees_with_reading_the_text(task, mixed_samples):
    """CoT-correct = the final answer is gold AND the last strategy written before it computes the
    gold digit on this problem (read off the rendered text with regular expressions)."""
    seen = {"cot": 0, "lucky": 0}
    more = rc.sample(rc.teacher_base(), task, 40, np.random.default_rng(12))
    for s in [*mixed_samples, more]:
        cot, acc = rc.cot_correct(task, s), rc.strict_accuracy(task, s)
        for i in range(s.tokens.shape[0]):
            q = s.problems[i]
            gold = int(task.gold[q])
            for j in range(s.tokens.shape[1]):
                text = rc.render(s, i, j)
                m = FINAL_RE.search(text)
                strategies = STRATEGY_RE.findall(text[: m.start()] if m else text)
                right_reasoning = bool(strategies) and task.results[q, "abc".index(strategies[-1])] == gold
                want = m is not None and int(m.group(1)) == gold and right_reasoning
                assert cot[i, j] == float(want), text
                assert cot[i, j] <= acc[i, j]
                seen["cot"] += want
                seen["lucky"] += acc[i, j] > cot[i, j]
    assert min(seen.values()) > 10, seen   # CoT-correct outputs, and right answers without right reasoning


# --------------------------------------------------------------------------- policy and sampling

def _loop_logp(policy, task, problem, tokens):
    """log pi of each token, one position at a time, from the definition (math.exp, no numpy)."""
    out, prev, copy = [], rc.BOS, -1
    for t, tok in enumerate(tokens):
        row = policy.B[t if policy.B.shape[0] > 1 else 0, prev]
        z = [float(row[v]) + (policy.lam if v == copy else 0.0) for v in range(rc.V)]
        top = max(z)
        out.append(z[tok] - top - math.log(sum(math.exp(x - top) for x in z)))
        if tok in rc.STRATEGIES:
            copy = int(task.results[problem, rc.STRATEGIES.index(tok)])
        prev = tok
    return out


@pytest.mark.parametrize("which", ["teacher", "student"])
def test_token_logp_matches_a_per_token_loop(task, which):
    policy = rc.teacher_base() if which == "teacher" else rc.student_base()
    policy.B += np.random.default_rng(7).normal(scale=0.5, size=policy.B.shape)
    s = rc.sample(policy, task, 5, np.random.default_rng(8), problems=np.arange(6))
    lp = rc.token_logp(policy, s)
    for i in range(6):
        for j in range(5):
            m = s.mask[i, j]
            ref = _loop_logp(policy, task, s.problems[i], list(s.tokens[i, j][m]))
            np.testing.assert_allclose(lp[i, j][m], ref, rtol=1e-12, atol=1e-12)
            assert np.all(lp[i, j][~m] == 0)


def test_sampling_frequencies_match_exact_probabilities(task):
    """First two tokens of 40 000 draws against their exact probabilities (5 sigma)."""
    policy = rc.teacher_base()
    n = 40_000
    s = rc.sample(policy, task, n, np.random.default_rng(9), problems=np.array([0]))
    first, second = s.tokens[0, :, 0], s.tokens[0, :, 1]
    for a in range(rc.V):
        pa = math.exp(_loop_logp(policy, task, 0, [a])[0])
        freq = np.mean(first == a)
        assert abs(freq - pa) < 5 * math.sqrt(pa * (1 - pa) / n) + 1e-9, (a, freq, pa)
    a = rc.THINK  # second tokens after <think>
    rows = first == a
    for b in range(rc.V):
        pb = math.exp(_loop_logp(policy, task, 0, [a, b])[1])
        freq = np.mean(second[rows] == b)
        assert abs(freq - pb) < 5 * math.sqrt(pb * (1 - pb) / rows.sum()) + 1e-9, (b, freq, pb)


def test_temperature_sharpens_and_outputs_are_well_formed(task):
    cold = rc.sample(rc.teacher_base(), task, 200, np.random.default_rng(1), temperature=0.3)
    hot = rc.sample(rc.teacher_base(), task, 200, np.random.default_rng(1), temperature=1.0)
    assert rc.format_ok(cold).mean() > rc.format_ok(hot).mean() + 0.2
    for s in (cold, hot):
        L = s.lengths()
        assert np.all(s.mask == (np.arange(rc.MAX_LEN) < L[..., None]))  # a prefix
        last = np.take_along_axis(s.tokens, (L - 1)[..., None], axis=-1)[..., 0]
        assert np.all((last == rc.END_ANSWER) | (L == rc.MAX_LEN))
        # </answer> only ever at the end
        inside = (s.tokens == rc.END_ANSWER) & s.mask & (np.arange(rc.MAX_LEN) < (L - 1)[..., None])
        assert not inside.any()


@pytest.mark.parametrize("which", ["teacher", "student"])
def test_policy_gradient_matches_finite_differences(task, which):
    base = rc.teacher_base() if which == "teacher" else rc.student_base()
    gen = np.random.default_rng(11)
    base.B += gen.normal(scale=0.3, size=base.B.shape)
    s = rc.sample(base, task, 3, gen, problems=np.arange(4))
    g = np.where(s.mask, gen.normal(size=s.mask.shape), 0.0)

    def J(theta):
        p = rc.Policy(theta[:-1].reshape(base.B.shape), theta[-1])
        return float(np.sum(g * rc.token_logp(p, s)))

    theta = np.concatenate([base.B.ravel(), [base.lam]])
    grad = rc.policy_gradient(base, s, g)
    analytic = np.concatenate([grad.B.ravel(), [grad.lam]])
    # Finite differences on the entries the samples touch (plus lam), the rest must be exactly 0.
    touched = np.flatnonzero(analytic)
    assert touched.size > 20
    sub = np.concatenate([touched[:: max(1, touched.size // 60)], [theta.size - 1]])

    def J_sub(x):
        full = theta.copy()
        full[sub] = x
        return J(full)

    np.testing.assert_allclose(analytic[sub], central_difference(J_sub, theta[sub]), rtol=1e-6, atol=1e-8)
    assert grad.lam != 0


def test_student_has_fewer_parameters_than_the_teacher():
    assert rc.student_base().n_params == (rc.V + 1) * rc.V + 1
    assert rc.teacher_base().n_params == rc.MAX_LEN * (rc.V + 1) * rc.V + 1
    assert rc.student_base().n_params * 10 < rc.teacher_base().n_params


# ------------------------------------------------------------------------------------ training

def test_trl_loss_direction_equals_deepseekmath_eq3(task):
    """-grpo_loss_grad (TRL, loss_type='grpo') == mean over prompts of grpo_objective_grad."""
    gen = np.random.default_rng(12)
    pol, ref = rc.teacher_base(), rc.student_base()
    s = rc.sample(pol, task, 6, gen, problems=np.arange(5))
    logp = rc.token_logp(pol, s)
    old = np.where(s.mask, logp + gen.normal(scale=0.1, size=logp.shape), 0.0)
    old = np.minimum(old, 0.0)
    ref_lp = rc.token_logp(ref, s)
    adv = r1lib.group_advantages(gen.normal(size=(5, 6)))
    got = rc._grpo_direction(logp, old, ref_lp, adv, s.mask, 0.2, 0.04)
    expected = r1lib.grpo_objective_grad(logp, old, ref_lp, adv, s.mask, 0.2, 0.04) / 5
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-14)


def test_grpo_train_is_deterministic_and_learns(task):
    a = rc.grpo_train(rc.teacher_base(), task, steps=25, rng=5)
    b = rc.grpo_train(rc.teacher_base(), task, steps=25, rng=5)
    np.testing.assert_array_equal(a.policy.B, b.policy.B)
    np.testing.assert_array_equal(a.reward, b.reward)
    assert a.reward[-5:].mean() > a.reward[:5].mean() + 0.3
    assert a.format[-5:].mean() > 0.5 > a.format[:5].mean()
    assert np.all(a.kl >= 0) and a.kl[-1] > a.kl[0]
    assert len(a.reward) == 25


def test_grpo_train_with_the_pass_at_k_advantage(task, monkeypatch):
    """advantage='pass@k' feeds r1lib.passk_advantages(rewards, k) to the same loss; k = 1 is GRPO
    with the population std, which under Adam trains like ddof=1 GRPO up to rounding."""
    calls = []
    real = rc.passk_advantages

    def spy(rewards, k):
        calls.append((np.array(rewards), k))
        return real(rewards, k)
    monkeypatch.setattr(rc, "passk_advantages", spy)
    run = rc.grpo_train(rc.teacher_base(), task, reward="accuracy", steps=3, rng=7, advantage="pass@k", k=4)
    assert len(calls) == 3 and all(k == 4 for _, k in calls)
    assert calls[0][0].shape == (32, 16) and set(np.unique(calls[0][0])) <= {0.0, 1.0}
    assert run.advantage == "pass@k" and run.k == 4
    monkeypatch.undo()
    # beta = 0: the two advantages differ by the constant sqrt(G/(G-1)), which Adam ignores up to
    # its eps (1e-8 against tiny second moments): the same samples, parameters within 1e-3
    a = rc.grpo_train(rc.teacher_base(), task, reward="accuracy", steps=5, beta=0.0, rng=8, advantage="pass@k", k=1)
    b = rc.grpo_train(rc.teacher_base(), task, reward="accuracy", steps=5, beta=0.0, rng=8)
    assert b.advantage == "group" and b.k == 1
    np.testing.assert_array_equal(a.reward, b.reward)
    np.testing.assert_allclose(a.policy.B, b.policy.B, atol=1e-3)
    c = rc.grpo_train(rc.teacher_base(), task, reward="accuracy", steps=5, beta=0.0, rng=8, advantage="pass@k", k=4)
    assert np.abs(c.policy.B - b.policy.B).max() > 0.1


def test_pass_at_k_training_keeps_coverage_that_grpo_gives_up():
    """The notebook's claims on two tasks: from the cold start, with the binary accuracy reward and
    the same seed, pass@8 training ends with a clearly higher pass@64 and a lower pass@1 than GRPO,
    still far above the base at k = 1; CoT-pass@k takes the base's guesses away."""
    for seed in (0, 1):
        t = rc.make_task(rng=seed)
        base = rc.teacher_base()
        cold, _ = rc.sft(base, rc.curated_samples(t, rng=seed), steps=60, lr=0.05)
        ev = {"base": rc.evaluate(base, t, rng=5)}
        for name, adv, k in (("GRPO", "group", 1), ("pass@8", "pass@k", 8)):
            run = rc.grpo_train(cold, t, reward="accuracy", steps=60, rng=9, advantage=adv, k=k)
            ev[name] = rc.evaluate(run.policy, t, rng=6)
        grpo, p8, b = ev["GRPO"], ev["pass@8"], ev["base"]
        assert p8.pass_k[63] > grpo.pass_k[63] + 0.1
        assert grpo.pass1.value > p8.pass1.value > b.pass1.value + 0.2
        assert b.cot_pass_k[63] < b.pass_k[63]                       # the base guesses sometimes
        for e in ev.values():
            assert np.all(e.cot_pass_k <= e.pass_k + 1e-12)
            assert e.cot_pass_k[0] == pytest.approx(np.mean(e.cot_correct / e.n), abs=1e-12)


def test_beta_pulls_towards_the_reference(task):
    free = rc.grpo_train(rc.teacher_base(), task, steps=20, beta=0.0, rng=6)
    tied = rc.grpo_train(rc.teacher_base(), task, steps=20, beta=2.0, rng=6)
    assert tied.kl[-5:].mean() < free.kl[-5:].mean()


def test_sft_lowers_the_loss_and_learns_the_curated_format(task):
    data = rc.curated_samples(task, n=10, rng=2)
    assert rc.format_ok(data).all() and rc.strict_accuracy(task, data).all()
    policy, loss = rc.sft(rc.teacher_base(), data, steps=40)
    assert loss[-1] < 0.6 * loss[0]
    before = rc.sample(rc.teacher_base(), task, 100, np.random.default_rng(0))
    after = rc.sample(policy, task, 100, np.random.default_rng(0))
    assert rc.format_ok(after).mean() > rc.format_ok(before).mean() + 0.3


def test_rejection_sampling_counts_add_up_and_kept_samples_pass_the_checkers(task):
    res = rc.rejection_sample(rc.teacher_base(), task, n=20, rng=3)
    assert res.n_kept + res.n_wrong + res.n_bad_format == res.n_drawn == 20 * task.n_problems
    assert res.kept.tokens.shape[0] == res.n_kept > 0
    assert res.problems_covered == len(np.unique(res.kept.problems))
    for i in range(res.n_kept):
        text = rc.render(res.kept, i, 0)
        assert FORMAT_RE.match(text)
        assert int(FINAL_RE.search(text).group(1)) == task.gold[res.kept.problems[i]]


# ---------------------------------------------------------------------------------- evaluation

def test_evaluation_identities(task):
    ev = rc.evaluate(rc.teacher_base(), task, n=16, rng=1)
    p1 = ev.correct / 16
    assert ev.pass1.value == pytest.approx(p1.mean(), abs=1e-15)
    assert ev.pass1.se == pytest.approx(p1.std(ddof=1) / math.sqrt(task.n_problems), rel=1e-12)
    assert ev.pass_k[0] == pytest.approx(p1.mean(), abs=1e-12)
    assert ev.pass_k[-1] == pytest.approx(np.mean(ev.correct > 0), abs=1e-12)   # pass@n
    assert np.all(np.diff(ev.pass_k) >= -1e-15)
    assert ev.maj_k[0] == pytest.approx(p1.mean(), abs=1e-12)                 # maj@1 = pass@1
    assert np.all(ev.maj_k <= ev.pass_k + 1e-12)                              # a vote needs a hit
    # maj@n (ties split) from the answers directly: one vote over all n samples
    for i in range(5):
        row = [a for a in ev.answers[i] if a >= 0]
        if not row:
            continue
        counts = np.bincount(row, minlength=10)
        winners = np.flatnonzero(counts == counts.max())
        want = (1 / len(winners)) if task.gold[i] in winners else 0.0
        got = r1lib.maj_at_k([None if a < 0 else int(a) for a in ev.answers[i]], int(task.gold[i]), 16)
        assert got == pytest.approx(want)


def test_crossover_k(task, pipe):
    E = pipe.evaluations
    k = rc.crossover_k(E["base"], E["R1-Zero"])
    assert k is not None and 1 < k <= 64
    assert E["base"].pass_k[k - 1] >= E["R1-Zero"].pass_k[k - 1]
    assert np.all(E["base"].pass_k[: k - 1] < E["R1-Zero"].pass_k[: k - 1])
    assert rc.crossover_k(E["base"], E["base"]) == 1
    k_cot = rc.crossover_k(E["base"], E["R1-Zero"], metric="cot_pass_k")
    reached = np.flatnonzero(E["base"].cot_pass_k >= E["R1-Zero"].cot_pass_k)
    assert k_cot == (reached[0] + 1 if reached.size else None)
    with pytest.raises(ValueError, match="metric"):
        rc.crossover_k(E["base"], E["base"], metric="maj_k")
    assert rc.crossover_k(E["student RL"], E["R1 (cold start + RL)"]) is None


# ------------------------------------------------------------------- what the notebook claims

@pytest.mark.parametrize("seed", [0, 1])
def test_the_pipeline_shows_what_the_notebook_says(seed):
    p = rc.run_pipeline(seed)
    E = p.evaluations
    base, zero, r1 = E["base"], E["R1-Zero"], E["R1 (cold start + RL)"]
    # the base: pass@1 well below 1, pass@64 high
    assert base.pass1.value < 0.2 and base.pass_k[-1] > 0.85
    # RL raises pass@1 (paired over problems, more than 3 SE), the base wins at k = 64
    for rl in (zero, r1):
        d = r1lib.paired_difference(rl.correct / rl.n, base.correct / base.n)
        assert d.value > 3 * d.se
        assert base.pass_k[-1] > rl.pass_k[-1]
        assert rc.crossover_k(base, rl) is not None
    # the cold start teaches the format before any RL
    assert E["cold start (SFT)"].format_rate > base.format_rate + 0.4
    # distillation beats RL on the same small student
    dist, srl = E["student distilled"], E["student RL"]
    d = r1lib.paired_difference(dist.correct / dist.n, srl.correct / srl.n)
    assert d.value > 2 * d.se
    assert p.policies["student distilled"].n_params < p.policies["R1 (cold start + RL)"].n_params
    # rejection sampling kept only correct, well-formatted samples, and rejected some
    assert p.rejection.n_kept > 0 and p.rejection.n_wrong > 0
    # reward hacking: the loophole checker's reward goes up while true accuracy goes down ...
    hack, strict = p.runs["hack: loophole"], p.runs["hack: strict"]
    assert hack.reward[-10:].mean() > hack.reward[:10].mean() + 0.2
    assert hack.accuracy[-10:].mean() < 0.05 < 0.15 < hack.accuracy[:5].mean()
    assert hack.length[-10:].mean() > hack.length[:5].mean() + 2
    # ... and the strict checker on the same start raises it
    assert strict.accuracy[-10:].mean() > strict.accuracy[:5].mean() + 0.2
    # ... and, switched on after the hack, brings the hacked policy back
    fixed = p.runs["hack: fixed"]
    assert fixed.accuracy[:5].mean() < 0.05 and fixed.accuracy[-10:].mean() > 0.3
    assert fixed.length[-10:].mean() < hack.length[-10:].mean() - 2


def test_run_pipeline_is_cached_and_fast(pipe):
    assert rc.run_pipeline(0) is pipe
    assert pipe.seconds < 30


# --------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("call, exc, name", [
    (lambda t: rc.make_task(n_problems=1), ValueError, "n_problems"),
    (lambda t: rc.make_task(coverage=(0.5, 2.0, 0.1)), ValueError, "coverage"),
    (lambda t: rc.make_task(rng="x"), TypeError, "rng"),
    (lambda t: rc.Policy(np.zeros((3, rc.V + 1, rc.V)), 1.0), ValueError, "B"),
    (lambda t: rc.Policy(np.zeros((1, rc.V + 1, rc.V)), float("nan")), ValueError, "lam"),
    (lambda t: rc.sample(rc.teacher_base(), t, 0, np.random.default_rng(0)), ValueError, "n"),
    (lambda t: rc.sample(rc.teacher_base(), t, 2, 0), TypeError, "rng"),
    (lambda t: rc.sample(rc.teacher_base(), t, 2, np.random.default_rng(0), temperature=0.0),
     ValueError, "temperature"),
    (lambda t: rc.sample(rc.teacher_base(), t, 2, np.random.default_rng(0), problems=[99]),
     ValueError, "problems"),
    (lambda t: rc.sample("policy", t, 2, np.random.default_rng(0)), TypeError, "policy"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, reward="vibes"), ValueError, "reward"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, group_size=1), ValueError, "group_size"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, questions=1000), ValueError, "questions"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, beta=-1.0), ValueError, "beta"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, lr=0.0), ValueError, "lr"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, eps=1.5), ValueError, "eps"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, reference="ref"), TypeError, "reference"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, advantage="rloo"), ValueError, "advantage"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, advantage="pass@k", k=4), ValueError, "binary"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, reward="accuracy", advantage="pass@k", k=17),
     ValueError, "k must be"),
    (lambda t: rc.grpo_train(rc.teacher_base(), t, reward="accuracy", advantage="pass@k", k=2.0),
     ValueError, "k must be"),
    (lambda t: rc.cot_correct("task", None), TypeError, "task"),
    (lambda t: rc.sft(rc.teacher_base(), "data"), ValueError, "data"),
    (lambda t: rc.curated_samples(t, n=10_000), ValueError, "n"),
    (lambda t: rc.tokenize("<think>x"), ValueError, "text"),
    (lambda t: rc.tokenize(3), TypeError, "text"),
    (lambda t: rc.samples_from_tokens(t, [0], [[rc.END_ANSWER, 3]]), ValueError, "sequences"),
    (lambda t: rc.crossover_k(1, 2), TypeError, "base"),
    (lambda t: rc.run_pipeline(-1), ValueError, "seed"),
])
def test_bad_input_names_the_parameter(task, call, exc, name):
    with pytest.raises(exc, match=name):
        call(task)


def test_strategy_share_counts_the_last_strategy_written(task):
    always_c = rc.teacher_base()
    always_c.B[:, rc.THINK, 16] = 50.0                      # <think>[c]... (if it thinks)
    a_then_b = rc.teacher_base()
    a_then_b.B[:, rc.THINK, 14] = 50.0                      # <think>[a][b]...
    a_then_b.B[:, 14, 15] = 50.0
    no_think = rc.teacher_base()
    no_think.B[:, rc.BOS, :rc.DIGITS] = 50.0                # a bare digit first
    for pol, want in ((always_c, 2), (a_then_b, 1), (no_think, 3)):
        ev = rc.evaluate(pol, task, n=4, rng=0)
        assert np.argmax(ev.strategy_share) == want and ev.strategy_share[want] > 0.7, ev.strategy_share
        assert ev.strategy_share.sum() == pytest.approx(1.0)

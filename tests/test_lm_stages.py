"""The R1 recipe's stages on the tiny transformer (r1lib.labs.lm.stages).

The gradients each stage pushes into the model are checked against central finite differences
of the loss value the same stage reports (float64, a tiny model), so the wiring between r1lib's
losses (grpo_loss, distillation_loss) and the model's backward is tested end to end. The stages
themselves run for a few steps on a tiny model: their logs must hold what they promise.
"""
import numpy as np
import pytest

from numgrad import central_difference, entry_difference
from r1lib.distillation import distillation_loss
from r1lib.grpo_loss import grpo_loss
from r1lib.labs.lm import arithmetic as A
from r1lib.labs.lm import stages as S
from r1lib.labs.lm.model import Config, Transformer
from r1lib.labs.lm.sampling import completion_log_probs, log_probs, sample
from r1lib.labs.lm.tokens import decode, encode

TINY64 = Config(context=48, d_model=16, n_layers=1, n_heads=2, d_mlp=32, dtype="float64")
TINY = Config(context=64, d_model=16, n_layers=1, n_heads=2, d_mlp=32)


def tiny(config=TINY64, seed=0):
    return Transformer.init(config, np.random.default_rng(seed))


def some_rows(model, rng, n_prompts=3, n=2):
    prompts, _ = A.problems(n_prompts, split="train", rng=rng)
    ids = [encode(p) for p in prompts]
    s = sample(model, ids, n=n, rng=rng, max_new_tokens=12)
    return [ids[i] for i in s.prompt_index], s


def check_gradients(model, loss_fn, grads, rng, n_entries=4):
    for name in ("head.w", "block0.attn.qkv.w", "block0.mlp.in.w", "tok_emb", "pos_emb", "ln_f.gamma"):
        for _ in range(n_entries):
            index = tuple(int(rng.integers(k)) for k in model.params[name].shape)
            fd = entry_difference(loss_fn, model.params[name], index, h=1e-5)
            assert grads[name][index] == pytest.approx(fd, rel=1e-5, abs=1e-9), (name, index)


def test_grpo_gradients_are_the_derivative_of_trls_loss():
    rng = np.random.default_rng(1)
    model, ref_model = tiny(), tiny(seed=1)
    rows, s = some_rows(model, rng)
    # an older policy a little different from the current one, so ratios leave 1 and some clip
    old = s.logp + np.where(s.mask, rng.normal(0, 0.3, s.logp.shape), 0.0)
    old = np.minimum(old, 0.0)
    adv = rng.normal(size=len(rows))
    ref = completion_log_probs(ref_model, rows, s.completions, s.lengths).logp
    kw = dict(beta=0.5, epsilon=0.2)
    loss, grads, clipped = S.grpo_gradients(model, rows, s.completions, s.lengths, old, adv, ref, **kw)
    assert 0.0 < clipped < 1.0

    def value():
        lp = completion_log_probs(model, rows, s.completions, s.lengths).logp
        return grpo_loss(lp, old, adv, s.mask, ref_logp=ref, **kw)

    assert loss == pytest.approx(value(), rel=1e-12)
    check_gradients(model, value, grads, rng)


def test_kd_gradients_are_the_derivative_of_the_t2_kl():
    rng = np.random.default_rng(2)
    student, teacher = tiny(), tiny(seed=3)
    rows, s = some_rows(teacher, rng)
    loss, grads = S.kd_gradients(student, teacher, rows, s.completions, s.lengths, temperature=2.0)

    def value():
        t = completion_log_probs(teacher, rows, s.completions, s.lengths)
        st = completion_log_probs(student, rows, s.completions, s.lengths)
        return distillation_loss(t.logits[t.mask], st.logits[st.mask], 2.0)  # mean over tokens

    assert loss == pytest.approx(value(), rel=1e-12)
    check_gradients(student, value, grads, rng)


def test_opd_gradients_are_the_derivative_of_the_reverse_kl():
    rng = np.random.default_rng(4)
    student, teacher = tiny(), tiny(seed=5)
    rows, s = some_rows(student, rng)
    loss, grads = S.opd_gradients(student, teacher, rows, s.completions, s.lengths)

    def value():
        t = completion_log_probs(teacher, rows, s.completions, s.lengths)
        st = completion_log_probs(student, rows, s.completions, s.lengths)
        ps = np.exp(st.logits[st.mask] - np.logaddexp.reduce(st.logits[st.mask], axis=-1, keepdims=True))
        lt = t.logits[t.mask] - np.logaddexp.reduce(t.logits[t.mask], axis=-1, keepdims=True)
        ls = np.log(ps)
        return float(np.mean(np.sum(ps * (ls - lt), axis=-1)))  # KL(p_s || p_t), written out

    assert loss == pytest.approx(value(), rel=1e-10)
    check_gradients(student, value, grads, rng)


def test_reverse_kl_grad_by_finite_differences_and_sums_to_zero():
    rng = np.random.default_rng(6)
    zs, zt = rng.normal(size=(5, 7)) * 2, rng.normal(size=(5, 7)) * 2
    g = S.reverse_kl_grad(zs, zt)
    np.testing.assert_allclose(g.sum(axis=-1), 0.0, atol=1e-14)
    # each row's KL depends on its own row only, so the gradient of their sum is g
    fd = central_difference(lambda z: distillation_loss(z, zt, reduction="none").sum(), zs)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-10)
    # zero where the student already equals the teacher (up to a constant shift of the logits)
    np.testing.assert_allclose(S.reverse_kl_grad(zt + 3.0, zt), 0.0, atol=1e-15)
    with pytest.raises(ValueError, match="teacher_logits contains -inf"):
        S.reverse_kl_grad(zs, np.where(zt > 0, zt, -np.inf))       # gave NaN
    with pytest.raises(ValueError, match=r"student_logits has shape \(5, 7\), teacher_logits \(5, 6\)"):
        S.reverse_kl_grad(zs, zt[:, :6])


def test_learning_rate_schedule_is_the_docstring_formula():
    lr, S_, w, r = 2e-3, 22, 5, 0.1      # the cosine runs over t = 5 ... 21: t = 9 is a quarter of it
    assert [S.lr_at(t, S_, lr, w, r) for t in range(w)] == pytest.approx([lr * (t + 1) / w for t in range(w)])
    assert S.lr_at(w, S_, lr, w, r) == pytest.approx(lr)
    assert S.lr_at(S_ - 1, S_, lr, w, r) == pytest.approx(r * lr)
    assert S.lr_at(9, S_, lr, w, r) == pytest.approx(lr * (r + (1 - r) * 0.5 * (1 + np.cos(np.pi / 4))))


def test_pretraining_lowers_the_loss_and_is_seeded():
    model, log = S.pretrain(TINY, steps=40, batch_size=16, lr=1e-2, warmup=5, seed=3)
    assert len(log["loss"]) == 40 and len(log["grad_norm"]) == 40
    assert log["loss"][0] > np.log(53) - 0.5          # a random model: about uniform over 53 tokens
    assert np.mean(log["loss"][-5:]) < log["loss"][0] - 1.0
    _, again = S.pretrain(TINY, steps=40, batch_size=16, lr=1e-2, warmup=5, seed=3, stop_after=5)
    assert again["loss"] == log["loss"][:5]


def test_grpo_logs_every_step_and_leaves_the_reference_alone(monkeypatch):
    # a random model never writes the template; a stand-in format reward (odd length) gives the
    # groups rewards that differ, so the policy moves
    monkeypatch.setattr(A, "format_reward", lambda texts: np.array([float(len(t) % 2) for t in texts]))
    base = tiny(TINY)
    frozen = {k: v.copy() for k, v in base.params.items()}
    model, log = S.r1_zero(base, steps=3, prompts_per_step=4, group_size=4, snapshot_every=2,
                           snapshot_prompts=2, snapshot_samples=2, seed=1)
    for name, value in base.params.items():
        np.testing.assert_array_equal(value, frozen[name])
    assert any(not np.array_equal(model.params[k], frozen[k]) for k in frozen)
    for key in ("reward", "accuracy", "format", "working", "length", "kl", "clip_fraction", "loss", "grad_norm"):
        assert len(log[key]) == 3, key
    assert all(0 <= a <= 1 and 0 <= f <= 1 and r == pytest.approx(a + f)
               for r, a, f in zip(log["reward"], log["accuracy"], log["format"]))
    assert log["kl"][0] == pytest.approx(0.0, abs=1e-6)   # step 0 samples from the reference itself
    assert all(k >= 0 for k in log["kl"]) and all(0 <= c <= 1 for c in log["clip_fraction"])
    assert [snap["step"] for snap in log["snapshots"]] == [0, 2, 3]
    assert all(len(snap["completions"]) == 2 and all(len(c) == 2 for c in snap["completions"])
               for snap in log["snapshots"])


def test_on_policy_single_minibatch_never_clips():
    _, log = S.grpo(tiny(TINY), tiny(TINY), steps=2, prompts_per_step=4, group_size=4, minibatches=1, seed=2)
    assert log["clip_fraction"] == [0.0, 0.0]  # ratio exp(logp - old) = 1 up to rounding


def test_rejection_sampling_keeps_only_correct_formatted_outputs(monkeypatch):
    model = tiny(TINY)
    # a stand-in policy that sometimes writes the right worked solution: the kept set must be
    # exactly the correct and well-formatted outputs
    real = S._texts

    def fake_texts(s):
        texts = real(s)
        return [A.worked_solution(A.question_of(p)) + "<eos>" if i % 3 == 0 else t
                for i, (t, p) in enumerate(zip(texts, fake_texts.prompts))]

    calls = {}

    def fake_sample(model, ids, **kw):
        out = sample(model, ids, **kw)
        fake_texts.prompts = [decode(ids[i]) for i in out.prompt_index]
        calls["n"] = calls.get("n", 0) + 1
        return out

    monkeypatch.setattr(S, "sample", fake_sample)
    monkeypatch.setattr(S, "_texts", fake_texts)
    kept = S.rejection_sample(model, n_prompts=12, n_samples=3, seed=0, batch_prompts=5)
    assert calls["n"] == 3 and kept["total"] == 36
    assert kept["kept"] == len(kept["completions"]) == len(kept["prompts"]) >= 12
    assert kept["kept"] <= min(kept["correct"], kept["formatted"])
    for p, c in zip(kept["prompts"], kept["completions"]):
        assert A.accuracy_reward([c], [A.gold_of(A.question_of(p))])[0] == 1 and A.follows_template(c)


def test_sft_loss_is_the_completion_cross_entropy():
    student = tiny(TINY)
    samples = {"prompts": ["347+285=", "47*6="],
               "completions": [A.worked_solution("347+285") + "<eos>", A.worked_solution("47*6") + "<eos>"]}
    lps = log_probs(student, samples["prompts"], samples["completions"])  # before the update
    expected = -np.concatenate(lps).mean()
    _, log = S.sft(student, samples, steps=1, batch_size=2)
    assert log["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_students_train_on_the_samples():
    rng = np.random.default_rng(8)
    prompts, golds = A.problems(16, split="train", rng=rng)
    samples = {"prompts": prompts, "completions": [A.worked_solution(p[:-1]) + "<eos>" for p in prompts]}
    teacher = tiny(TINY, seed=4)
    _, log_sft = S.sft(tiny(TINY), samples, steps=30, batch_size=8, lr=1e-2)
    assert np.mean(log_sft["loss"][-5:]) < log_sft["loss"][0] - 1.0
    _, log_kd = S.distill(tiny(TINY), teacher, samples, steps=30, batch_size=8, lr=1e-2)
    assert np.mean(log_kd["loss"][-5:]) < 0.5 * log_kd["loss"][0]
    _, log_opd = S.on_policy_distill(tiny(TINY), teacher, steps=8, prompts_per_step=4, lr=1e-2)
    assert len(log_opd["loss"]) == 8 and all(x >= 0 for x in log_opd["loss"])


def test_evaluation_metrics_agree_with_the_per_sample_results():
    rng = np.random.default_rng(9)
    prompts, golds = A.problems(6, rng=rng)
    ev = S.evaluate(tiny(TINY), prompts, golds, n=4, seed=1)
    m = ev.metrics(ks=(1, 2, 4))
    assert ev.correct.shape == (6, 4)
    assert m["pass@1"] == pytest.approx(ev.correct.mean())
    assert m["pass@k"]["1"] == pytest.approx(m["pass@1"])
    assert m["pass@k"]["4"] == pytest.approx(ev.correct.any(axis=1).mean())
    assert m["maj@k"]["1"] == pytest.approx(m["pass@1"])
    se = ev.correct.mean(axis=1).std(ddof=1) / np.sqrt(6)
    assert m["pass@1_se"] == pytest.approx(se)


def test_evaluate_grades_each_sample_against_its_own_problem(monkeypatch):
    """evaluate() with a stand-in policy that writes the right worked solution in every other
    sample and a wrong bare answer in the rest, over batches of 2 of the 5 prompts: each sample
    must be graded against its own problem's gold (a gold taken from the wrong batch or row
    would turn right working into a wrong grade)."""
    prompts, golds = A.problems(5, rng=np.random.default_rng(10))
    seen = {}

    def fake_sample(model, ids, **kw):
        out = sample(model, ids, **kw)
        seen["prompts"] = [decode(ids[i]) for i in out.prompt_index]
        return out

    def fake_texts(s):
        return [A.worked_solution(A.question_of(p)) + "<eos>" if r % 2 == 0
                else "<think></think><answer>1000000</answer><eos>" for r, p in enumerate(seen["prompts"])]

    monkeypatch.setattr(S, "sample", fake_sample)
    monkeypatch.setattr(S, "_texts", fake_texts)
    ev = S.evaluate(tiny(TINY), prompts, golds, n=4, seed=0, batch_prompts=2)
    expected = np.tile([True, False], (5, 2))
    assert np.array_equal(ev.correct, expected) and np.array_equal(ev.working, expected)
    assert ev.formatted.all() and ev.golds == golds
    m = ev.metrics(ks=(1, 4))
    assert (m["pass@1"], m["pass@k"]["4"]) == (0.5, 1.0)
    assert (m["accuracy_with_working"], m["accuracy_without_working"]) == (1.0, 0.0)


@pytest.mark.parametrize("call, match", [
    (lambda: S.pretrain("big"), "config"),
    (lambda: S.pretrain(TINY, steps=0), "steps"),
    (lambda: S.grpo(tiny(TINY), tiny(TINY), group_size=1), "group_size"),
    (lambda: S.grpo(tiny(TINY), "base"), "reference"),
    (lambda: S.sft(tiny(TINY), {"prompts": [], "completions": []}), "no kept output"),
    (lambda: S.sft(tiny(TINY), ["1+1=2"]), "samples"),
    (lambda: S.pretrain(TINY, steps=3, stop_after=0), "stop_after"),
    (lambda: S.grpo(tiny(TINY), tiny(TINY), snapshot_every=0), "snapshot_every"),
    (lambda: S.evaluate(tiny(TINY), ["1+1="], [2, 3]), "1 prompts and 2 golds"),
    (lambda: S.evaluate(tiny(TINY), ["1+1=", "2+2="], [2]), "2 prompts and 1 golds"),
    (lambda: S.evaluate(tiny(TINY), [], []), "non-empty"),
    (lambda: S.evaluate(tiny(TINY), "1+1=", [2]), "not strings"),
    (lambda: S.evaluate(tiny(TINY), ["1+1="], [2], batch_prompts=0), "batch_prompts"),
    (lambda: S.rejection_sample(tiny(TINY), batch_prompts=0), "batch_prompts"),
])
def test_bad_arguments(call, match):
    with pytest.raises((TypeError, ValueError), match=match):
        call()

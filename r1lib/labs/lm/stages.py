r"""The R1 recipe on the tiny transformer: one seeded function per stage, each returning the
trained model and its training log (a dict of plain lists and numbers, JSON-ready).

- :func:`pretrain`: next-token cross-entropy on :func:`arithmetic.corpus`, a base model's mixed
  data (working, slips, bare answers, text without the template). The base model.
- :func:`r1_zero`: GRPO from the base with rule-based accuracy + format rewards on the decoded
  text and the k3 KL to the frozen base, beta = 0.001 (R1-Zero, arXiv:2501.12948 sec. 2.2).
- :func:`rejection_sample`: sample the RL model on training problems, keep the correct outputs
  in the template (sec. 2.3.3).
- :func:`sft`: a smaller pretrained student fine-tuned on the kept outputs: R1's distillation
  (sec. 2.4).
- :func:`distill`: the same student trained by logit distillation, the T^2 KL to the teacher's
  next-token distributions on the kept outputs (Hinton et al. 2015; not what R1 did).
- :func:`grpo`: GRPO on the student itself (R1 sec. 4.1 compares this with distillation).
- :func:`on_policy_distill`: the student samples, the teacher scores every token, reverse KL
  over the vocabulary at the student's own positions (GKD, arXiv:2306.13649).
- :func:`evaluate`: pass@1 with its clustered SE, pass@k and maj@k on test problems.

Everything a practitioner would import from r1lib comes from r1lib: ``grpo_loss_and_grad`` and
``clip_fractions`` (:mod:`r1lib.grpo_loss`, TRL's loss), ``group_advantages``, ``kl_k3``,
``distillation_loss``/``distillation_grad``, the builtin grader (through
:func:`arithmetic.accuracy_reward`), ``pass_at_k``, ``maj_at_k`` and the clustered-SE
``pass_at_1`` (:func:`evaluate`). The model's side (forward, backward, sampling with a KV cache,
log-probs of given completions) is :mod:`r1lib.labs.lm.sampling` and
:mod:`r1lib.labs.lm.model`.

Reproducibility: each stage draws every random number from ``np.random.default_rng(seed)``, so
the same seed, inputs and machine give the same numbers. Across machines float32 BLAS sums in a
different order, which moves losses in the 6th-7th digit per step (the checkpoint test allows
for that).
"""
from __future__ import annotations

import math
import time
from fractions import Fraction
from typing import Any, Callable, NamedTuple, Optional, Sequence

import numpy as np

from ...distillation import distillation_grad, distillation_loss
from ...error_bars import pass_at_1
from ...grading import parse_answer
from ...grpo import group_advantages
from ...grpo_loss import clip_fractions, grpo_loss_and_grad
from ...kl_estimators import kl_k3
from ...metrics import maj_at_k, pass_at_k
from ...validation import check_int, describe, float_array
from . import arithmetic as task
from .model import Config, Transformer
from .optim import AdamW, clip_grad_norm
from .sampling import Samples, completion_log_probs, sample
from .tokens import PAD, decode, encode

__all__ = ["TEACHER", "STUDENT", "pretrain", "r1_zero", "grpo", "rejection_sample", "sft", "distill",
           "on_policy_distill", "grpo_gradients", "kd_gradients", "opd_gradients", "reverse_kl_grad", "evaluate", "Evaluation", "copy_model", "lr_at",
           "pad_batch"]

Progress = Optional[Callable[[int], None]]

# The two sizes: the teacher (the base that RL turns into r1-zero) and the student.
# The context holds the longest prompt + completion of the corpus (65 tokens) with room to spare.
TEACHER = Config(context=80, d_model=128, n_layers=4, n_heads=4, d_mlp=512)
STUDENT = Config(context=80, d_model=48, n_layers=3, n_heads=4, d_mlp=192)  # narrower, one layer fewer


# ------------------------------------------------------------------------------------ helpers

def copy_model(model: Transformer) -> Transformer:
    """An independent copy (training one never moves the other)."""
    return Transformer.from_state_dict(model.state_dict(), model.config)


def pad_batch(texts: Sequence[str]) -> np.ndarray:
    """Token ids of texts, right-padded with ``<pad>`` to the longest: (B, T) int64."""
    ids = [encode(t) for t in texts]
    width = max(len(x) for x in ids)
    out = np.full((len(ids), width), PAD, dtype=np.int64)
    for r, x in enumerate(ids):
        out[r, :len(x)] = x
    return out


def lr_at(step: int, steps: int, lr: float, warmup: int, final_ratio: float) -> float:
    r"""The learning rate at ``step`` (0-based): linear warm-up over ``warmup`` steps,
    :math:`\eta_t = \eta\,(t+1)/w` for :math:`t < w`, then a cosine from ``lr`` down to
    ``final_ratio * lr`` at the last step :math:`t = S-1`,
    :math:`\eta_t = \eta\,(r + (1-r)\tfrac12(1+\cos\pi\,\tfrac{t-w}{S-1-w}))`."""
    if step < warmup:
        return lr * (step + 1) / warmup
    frac = (step - warmup) / max(1, steps - 1 - warmup)
    return lr * (final_ratio + (1.0 - final_ratio) * 0.5 * (1.0 + math.cos(math.pi * min(frac, 1.0))))


def _check_model(model: Any, name: str = "model") -> Transformer:
    if not isinstance(model, Transformer):
        raise TypeError(f"{name} must be an r1lib.labs.lm.Transformer, got {describe(model)}")
    return model


def _last(steps: int, stop_after: Optional[int]) -> int:
    """How many steps of a ``steps``-step schedule to run: all, or the first ``stop_after`` (the
    learning-rate schedule still spans ``steps``, so they are the same steps as in the full run;
    the reproduction tests use this)."""
    if stop_after is None:
        return steps
    return min(steps, check_int(stop_after, "stop_after"))


def _tick(progress: Progress) -> None:
    if progress is not None:
        progress(1)


MICRO_BATCHES = 4  # length buckets per step (see _lm_step)


def _lm_step(model: Transformer, opt: AdamW, ids: np.ndarray, weights: np.ndarray, lr: float,
             clip: float, micro_batches: int = MICRO_BATCHES) -> tuple[float, float]:
    """One step of next-token cross-entropy, averaged over the tokens with weight 1.

    ``weights`` (B, T) marks the tokens to predict (the first column is never predicted).
    Returns (loss in nats per token, gradient norm before clipping).

    The rows are sorted by length and cut into ``micro_batches`` buckets, each padded only to its
    own longest row, and the buckets' gradients are summed before the one optimizer step. The
    objective is the same (every token's loss divided by the whole batch's token count); only the
    padding goes: the corpus's texts run from 8 to 65 tokens, so half of a batch padded to its
    longest row is padding, and a step costs about 30% less this way.
    """
    lengths = (weights | (ids != PAD)).sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    total = float(weights[:, 1:].sum())
    loss, grads = 0.0, None
    for rows in np.array_split(order, min(micro_batches, len(order))):
        width = int(lengths[rows].max())
        part, w = ids[rows, :width], weights[rows, 1:width].astype(model.dtype)
        logp, cache = model.token_log_probs(part[:, :-1], part[:, 1:])
        loss -= float(np.einsum("ij,ij->", logp, w, dtype=np.float64)) / total
        g = model.token_log_probs_backward(cache, -w / total)
        grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
    norm = clip_grad_norm(grads, clip)
    opt.step(grads, lr=lr)
    return loss, norm


def _texts(s: Samples) -> list[str]:
    return [decode(row[:k]) for row, k in zip(s.completions, s.lengths)]


# ------------------------------------------------------------------------------------ a. pretraining

def pretrain(config: Config = TEACHER, *, steps: int = 1300, batch_size: int = 64, lr: float = 2e-3,
             warmup: int = 30, final_lr_ratio: float = 0.1, weight_decay: float = 0.01, clip: float = 1.0,
             mix: Optional[dict] = None, seed: int = 0, progress: Progress = None,
             stop_after: Optional[int] = None) -> tuple[Transformer, dict]:
    """Pretrain a model from random weights on the arithmetic corpus: next-token cross-entropy on
    every token of ``batch_size`` fresh corpus texts per step (prompt included, as a base model
    reads its data), AdamW with warm-up and cosine decay, global-norm clipping.

    Returns ``(model, log)``; ``log["loss"]`` and ``log["grad_norm"]`` have one entry per step.
    """
    if not isinstance(config, Config):
        raise TypeError(f"config must be a Config, got {describe(config)}")
    steps = check_int(steps, "steps")
    batch_size = check_int(batch_size, "batch_size")
    rng = np.random.default_rng(seed)
    model = Transformer.init(config, rng)
    opt = AdamW(model.params, lr=lr, weight_decay=weight_decay, decay=model.decay_names)
    log: dict[str, Any] = {"stage": "pretrain", "settings": dict(
        config=config.as_dict(), steps=steps, batch_size=batch_size, lr=lr, warmup=warmup,
        final_lr_ratio=final_lr_ratio, weight_decay=weight_decay, clip=clip,
        mix=dict(task.DEFAULT_MIX if mix is None else mix), seed=seed),
        "n_params": model.n_params, "loss": [], "grad_norm": [], "tokens": 0}
    t0 = time.perf_counter()
    for step in range(_last(steps, stop_after)):
        ids = pad_batch(task.corpus(batch_size, rng, mix))
        loss, norm = _lm_step(model, opt, ids, ids != PAD, lr_at(step, steps, lr, warmup, final_lr_ratio), clip)
        log["loss"].append(loss)
        log["grad_norm"].append(norm)
        log["tokens"] += int((ids != PAD).sum())
        _tick(progress)
    log["seconds"] = time.perf_counter() - t0
    return model, log


# ------------------------------------------------------------------------------------ b. GRPO

def _snapshot(model: Transformer, prompts: list[str], golds: list[int], n: int, seed: int) -> dict:
    """Completions of fixed prompts, sampled with a fixed seed (so steps differ by the model only)."""
    s = sample(model, [encode(p) for p in prompts], n=n, rng=np.random.default_rng(seed))
    texts = _texts(s)
    g = [golds[i // n] for i in range(len(texts))]
    return {"completions": [texts[i * n:(i + 1) * n] for i in range(len(prompts))],
            "correct": task.accuracy_reward(texts, g).astype(int).reshape(len(prompts), n).tolist()}


def grpo_gradients(model: Transformer, prompt_rows: Sequence[np.ndarray], completions: np.ndarray,
                   lengths: np.ndarray, old_logp: np.ndarray, advantages: np.ndarray, ref_logp: np.ndarray,
                   *, beta: float, epsilon: float) -> tuple[float, dict, float]:
    """TRL's GRPO loss on a minibatch of completions and its gradient with respect to the params.

    One forward pass gives the policy's per-token log-probs; r1lib's ``grpo_loss_and_grad``
    gives the loss and ``dL/dlogp``; the model carries that back to its parameters. Returns
    ``(loss, grads, clip_fraction)``, the clip fraction being the share of tokens whose gradient
    the clip switched off (``clip_fractions``: low + high).
    """
    scored = completion_log_probs(model, prompt_rows, completions, lengths)
    args = (scored.logp, old_logp, advantages, scored.mask)
    loss, dlogp = grpo_loss_and_grad(*args, ref_logp=ref_logp, beta=beta, epsilon=epsilon)
    cf = clip_fractions(*args, epsilon=epsilon)
    return loss, scored.backward(dlogp), cf.low + cf.high


def grpo(model: Transformer, reference: Transformer, *, steps: int = 200, prompts_per_step: int = 16,
         group_size: int = 8, lr: float = 1.5e-4, beta: float = 0.001, epsilon: float = 0.2,
         minibatches: int = 2, epochs: int = 1, temperature: float = 1.0, clip: float = 1.0,
         warmup: int = 5, seed: int = 0, snapshot_every: int = 10, snapshot_prompts: int = 6,
         snapshot_samples: int = 2, progress: Progress = None,
         stop_after: Optional[int] = None) -> tuple[Transformer, dict]:
    r"""GRPO (DeepSeekMath eq. 3, as R1-Zero used it) on ``model``, in place; ``reference`` stays frozen.

    Each step: ``prompts_per_step`` fresh training problems, ``group_size`` completions each,
    sampled at ``temperature`` with the KV cache (their per-token log-probs are the old policy's,
    :math:`\log\pi_{\theta_{old}}`); rewards read from the decoded text, accuracy (r1lib's builtin
    grader) + format (R1-Zero's template), so each is 0 or 1 and the sum 0, 1 or 2; advantages
    standardised within each group (``group_advantages``, ddof = 1 as TRL); the reference's
    log-probs of the same tokens by one forward pass. Then ``epochs`` passes over the batch in
    ``minibatches`` shuffled minibatches, each one AdamW step on TRL's loss
    (``grpo_loss_and_grad``, ``loss_type="grpo"``: per-token clipped ratio, k3 KL with ``beta``,
    mean over each completion's tokens, then over completions). The first minibatch is on-policy
    (ratio 1); the later ones see a moved policy, so the clip has something to do.

    Logged per step: ``reward``, ``accuracy``, ``format``, ``length`` (completion tokens,
    ``<eos>`` included), ``kl`` (k3 estimate of KL(pi_old || pi_ref), mean over tokens),
    ``clip_fraction`` (tokens whose gradient the clip switched off, mean over the minibatches,
    r1lib's ``clip_fractions``), ``loss``, ``grad_norm``, ``working`` (share of completions that
    write working) and, every ``snapshot_every`` steps and at the end, ``snapshots``: the
    completions of ``snapshot_prompts`` fixed test prompts (``snapshot_samples`` each).
    """
    model = _check_model(model)
    reference = _check_model(reference, "reference")
    steps = check_int(steps, "steps")
    P = check_int(prompts_per_step, "prompts_per_step")
    G = check_int(group_size, "group_size", 2)
    minibatches = check_int(minibatches, "minibatches")
    epochs = check_int(epochs, "epochs")
    snapshot_every = check_int(snapshot_every, "snapshot_every")
    if minibatches > P * G:
        raise ValueError(f"minibatches={minibatches} exceeds the batch of {P * G} completions")
    rng = np.random.default_rng(seed)
    snap_prompts, snap_golds = task.problems(snapshot_prompts, split="test", rng=np.random.default_rng(seed + 1))
    opt = AdamW(model.params, lr=lr, weight_decay=0.0, decay=model.decay_names)
    keys = ("reward", "accuracy", "format", "working", "length", "kl", "clip_fraction", "loss", "grad_norm")
    log: dict[str, Any] = {"stage": "grpo", "settings": dict(
        steps=steps, prompts_per_step=P, group_size=G, lr=lr, beta=beta, epsilon=epsilon,
        minibatches=minibatches, epochs=epochs, temperature=temperature, clip=clip, warmup=warmup,
        seed=seed, snapshot_every=snapshot_every, snapshot_prompts=snapshot_prompts,
        snapshot_samples=snapshot_samples), "loss_type": "grpo", "kl_estimator": "k3", **{k: [] for k in keys},
        "snapshot_prompts": snap_prompts, "snapshot_golds": snap_golds, "snapshots": []}
    t0 = time.perf_counter()
    for step in range(_last(steps, stop_after)):
        if step % snapshot_every == 0:
            log["snapshots"].append(dict(step=step, **_snapshot(model, snap_prompts, snap_golds,
                                                               snapshot_samples, seed + 2)))
        prompts, golds = task.problems(P, split="train", rng=rng)
        prompt_ids = [encode(p) for p in prompts]
        s = sample(model, prompt_ids, n=G, temperature=temperature, rng=rng)
        texts = _texts(s)
        gold_rows = [golds[i] for i in s.prompt_index]
        acc = task.accuracy_reward(texts, gold_rows)
        fmt = task.format_reward(texts)
        reward = acc + fmt
        adv = group_advantages(reward.reshape(P, G), ddof=1).reshape(-1)
        rows = [prompt_ids[i] for i in s.prompt_index]
        ref = completion_log_probs(reference, rows, s.completions, s.lengths).logp
        mask = s.mask
        kl = float(np.sum(kl_k3(s.logp, ref) * mask) / mask.sum())

        losses, norms, clipped = [], [], []
        lr_now = lr_at(step, steps, lr, warmup, 1.0)
        for _ in range(epochs):
            order = rng.permutation(P * G)
            for idx in np.array_split(order, minibatches):
                width = int(s.lengths[idx].max())
                loss, grads, cf = grpo_gradients(model, [rows[i] for i in idx], s.completions[idx, :width],
                                                 s.lengths[idx], s.logp[idx, :width], adv[idx],
                                                 ref[idx, :width], beta=beta, epsilon=epsilon)
                norms.append(clip_grad_norm(grads, clip))
                opt.step(grads, lr=lr_now)
                losses.append(loss)
                clipped.append(cf)
        for k, v in (("reward", reward.mean()), ("accuracy", acc.mean()), ("format", fmt.mean()),
                     ("working", np.mean([task.writes_working(t) for t in texts])),
                     ("length", s.lengths.mean()), ("kl", kl), ("clip_fraction", np.mean(clipped)),
                     ("loss", np.mean(losses)), ("grad_norm", np.mean(norms))):
            log[k].append(float(v))
        _tick(progress)
    log["snapshots"].append(dict(step=steps, **_snapshot(model, snap_prompts, snap_golds, snapshot_samples,
                                                         seed + 2)))
    log["seconds"] = time.perf_counter() - t0
    return model, log


def r1_zero(base: Transformer, **kwargs: Any) -> tuple[Transformer, dict]:
    """R1-Zero: :func:`grpo` on a copy of ``base`` with ``base`` itself as the frozen reference.
    Keyword arguments go to :func:`grpo`."""
    base = _check_model(base, "base")
    model, log = grpo(copy_model(base), base, **kwargs)
    log["stage"] = "r1-zero"
    return model, log


# ------------------------------------------------------------------------------------ c. rejection sampling

def rejection_sample(model: Transformer, *, n_prompts: int = 2000, n_samples: int = 4,
                     temperature: float = 1.0, seed: int = 0, batch_prompts: int = 250,
                     progress: Progress = None) -> dict:
    """Sample the RL model on ``n_prompts`` training problems, ``n_samples`` each, and keep the
    outputs that are correct (builtin grader) *and* follow the template (R1 sec. 2.3.3 kept only
    correct, readable outputs).

    Returns a dict: ``prompts`` and ``completions`` of the kept outputs (completion text with its
    ``<eos>``), ``kept``, ``total``, ``correct`` and ``formatted`` counts.
    """
    model = _check_model(model)
    n_prompts = check_int(n_prompts, "n_prompts")
    n_samples = check_int(n_samples, "n_samples")
    batch_prompts = check_int(batch_prompts, "batch_prompts")
    rng = np.random.default_rng(seed)
    prompts, golds = task.problems(n_prompts, split="train", rng=rng)
    kept_p, kept_c = [], []
    n_correct = n_format = 0
    for i in range(0, n_prompts, batch_prompts):
        ps = prompts[i:i + batch_prompts]
        s = sample(model, [encode(p) for p in ps], n=n_samples, temperature=temperature, rng=rng)
        texts = _texts(s)
        g = [golds[i + j] for j in s.prompt_index]
        acc = task.accuracy_reward(texts, g) > 0
        # the template, and the model stopped by itself (the students learn to stop too)
        fmt = (task.format_reward(texts) > 0) & np.array([t.endswith("<eos>") for t in texts])
        n_correct += int(acc.sum())
        n_format += int(fmt.sum())
        for j in np.flatnonzero(acc & fmt):
            kept_p.append(ps[s.prompt_index[j]])
            kept_c.append(texts[j])
        _tick(progress)
    return {"prompts": kept_p, "completions": kept_c, "kept": len(kept_c), "total": n_prompts * n_samples,
            "correct": n_correct, "formatted": n_format,
            "settings": dict(n_prompts=n_prompts, n_samples=n_samples, temperature=temperature, seed=seed)}


# ------------------------------------------------------------------------------------ d. the students

def _completion_batches(n: int, batch_size: int, steps: int, rng: np.random.Generator):
    """Indices of ``steps`` minibatches, shuffled epoch after epoch."""
    order = np.empty(0, dtype=np.int64)
    for _ in range(steps):
        if len(order) < batch_size:
            order = np.concatenate([order, rng.permutation(n)])
        yield order[:batch_size]
        order = order[batch_size:]


def _check_samples(samples: Any) -> tuple[list[str], list[str]]:
    if not isinstance(samples, dict) or "prompts" not in samples or "completions" not in samples:
        raise TypeError(f"samples must be the dict rejection_sample returns, got {describe(samples)}")
    if not samples["completions"]:
        raise ValueError("samples holds no kept output to train on")
    return list(samples["prompts"]), list(samples["completions"])


def sft(student: Transformer, samples: dict, *, steps: int = 300, batch_size: int = 64, lr: float = 1e-3,
        warmup: int = 10, final_lr_ratio: float = 0.1, clip: float = 1.0, seed: int = 0,
        progress: Progress = None, stop_after: Optional[int] = None) -> tuple[Transformer, dict]:
    """R1's distillation: supervised fine-tuning of ``student`` (in place) on the kept outputs,
    cross-entropy on the completion tokens only (the prompt is given, not learned)."""
    student = _check_model(student, "student")
    prompts, completions = _check_samples(samples)
    rng = np.random.default_rng(seed)
    opt = AdamW(student.params, lr=lr, weight_decay=0.0, decay=student.decay_names)
    log: dict[str, Any] = {"stage": "sft", "settings": dict(steps=steps, batch_size=batch_size, lr=lr, warmup=warmup,
                                                            final_lr_ratio=final_lr_ratio, clip=clip, seed=seed,
                                                            n_samples=len(completions)),
                           "loss": [], "grad_norm": []}
    t0 = time.perf_counter()
    plen = np.array([len(encode(p)) for p in prompts])
    for step, idx in enumerate(_completion_batches(len(completions), batch_size, _last(steps, stop_after), rng)):
        ids = pad_batch([prompts[i] + completions[i] for i in idx])
        weights = (ids != PAD) & (np.arange(ids.shape[1])[None, :] >= plen[idx][:, None])
        loss, norm = _lm_step(student, opt, ids, weights, lr_at(step, steps, lr, warmup, final_lr_ratio), clip)
        log["loss"].append(loss)
        log["grad_norm"].append(norm)
        _tick(progress)
    log["seconds"] = time.perf_counter() - t0
    return student, log


def kd_gradients(student: Transformer, teacher: Transformer, prompt_rows: Sequence[np.ndarray],
                 completion_rows: Any, lengths: Any = None, *, temperature: float = 1.0) -> tuple[float, dict]:
    r"""Logit distillation on given completions: the mean over completion tokens of
    :math:`T^2 KL(p_t^{(T)} \| p_s^{(T)})` (r1lib's ``distillation_loss``) and its gradient with
    respect to the student's params (``distillation_grad`` / tokens into the student's logits)."""
    t_logits = completion_log_probs(teacher, prompt_rows, completion_rows, lengths).logits
    scored = completion_log_probs(student, prompt_rows, completion_rows, lengths)
    m = scored.mask
    n_tok = int(m.sum())
    loss = distillation_loss(t_logits[m], scored.logits[m], temperature, reduction="sum") / n_tok
    dlogits = np.zeros_like(scored.logits)
    dlogits[m] = distillation_grad(t_logits[m], scored.logits[m], temperature) / n_tok
    return float(loss), scored.backward(dlogits=dlogits)


def opd_gradients(student: Transformer, teacher: Transformer, prompt_rows: Sequence[np.ndarray],
                  completion_rows: Any, lengths: Any = None) -> tuple[float, dict]:
    r"""On-policy distillation's loss on the student's own completions: the mean over completion
    tokens of the reverse KL :math:`KL(p_s \| p_t)` over the vocabulary, and its gradient with
    respect to the student's params (:func:`reverse_kl_grad` into the student's logits)."""
    t_logits = completion_log_probs(teacher, prompt_rows, completion_rows, lengths).logits
    scored = completion_log_probs(student, prompt_rows, completion_rows, lengths)
    m = scored.mask
    n_tok = int(m.sum())
    # KL(p_s || p_t): distillation_loss's first argument is the distribution averaged over
    loss = distillation_loss(scored.logits[m], t_logits[m], reduction="sum") / n_tok
    dlogits = np.zeros_like(scored.logits)
    dlogits[m] = (reverse_kl_grad(scored.logits[m], t_logits[m]) / n_tok).astype(dlogits.dtype)
    return float(loss), scored.backward(dlogits=dlogits)


def distill(student: Transformer, teacher: Transformer, samples: dict, *, steps: int = 300,
            batch_size: int = 64, lr: float = 1e-3, temperature: float = 1.0, warmup: int = 10,
            final_lr_ratio: float = 0.1, clip: float = 1.0, seed: int = 0,
            progress: Progress = None, stop_after: Optional[int] = None) -> tuple[Transformer, dict]:
    r"""Logit distillation (Hinton et al. 2015) of ``teacher`` into ``student`` (in place) on the
    kept outputs: at every completion token, :math:`T^2\,KL(p_t^{(T)} \| p_s^{(T)})` over the
    whole vocabulary (r1lib's ``distillation_loss``), averaged over the tokens; the gradient
    ``distillation_grad`` / tokens goes into the student's logits. Not how R1 made its distilled
    models (they used :func:`sft`); here for the comparison."""
    student = _check_model(student, "student")
    teacher = _check_model(teacher, "teacher")
    prompts, completions = _check_samples(samples)
    rng = np.random.default_rng(seed)
    opt = AdamW(student.params, lr=lr, weight_decay=0.0, decay=student.decay_names)
    log: dict[str, Any] = {"stage": "kd", "settings": dict(steps=steps, batch_size=batch_size, lr=lr,
                                                           temperature=temperature, warmup=warmup,
                                                           final_lr_ratio=final_lr_ratio, clip=clip, seed=seed,
                                                           n_samples=len(completions)),
                           "loss": [], "grad_norm": []}
    p_ids = [encode(p) for p in prompts]
    c_ids = [encode(c) for c in completions]
    t0 = time.perf_counter()
    for step, idx in enumerate(_completion_batches(len(completions), batch_size, _last(steps, stop_after), rng)):
        rows_p, rows_c = [p_ids[i] for i in idx], [c_ids[i] for i in idx]
        loss, grads = kd_gradients(student, teacher, rows_p, rows_c, temperature=temperature)
        norm = clip_grad_norm(grads, clip)
        opt.step(grads, lr=lr_at(step, steps, lr, warmup, final_lr_ratio))
        log["loss"].append(float(loss))
        log["grad_norm"].append(norm)
        _tick(progress)
    log["seconds"] = time.perf_counter() - t0
    return student, log


def reverse_kl_grad(student_logits: np.ndarray, teacher_logits: np.ndarray) -> np.ndarray:
    r"""Gradient of the reverse KL :math:`KL(p_s \| p_t)` with respect to the student's logits:

    .. math:: \frac{\partial}{\partial z^s_i} \sum_j p^s_j \log\frac{p^s_j}{p^t_j}
              = p^s_i\Bigl(\log\frac{p^s_i}{p^t_i} - KL(p_s \| p_t)\Bigr)

    (differentiate :math:`p^s_j` with :math:`\partial p^s_j/\partial z^s_i = p^s_j(\delta_{ij} -
    p^s_i)`; the :math:`\sum_j p^s_j \cdot 1` term from the log vanishes). The value is r1lib's
    ``distillation_loss(student_logits, teacher_logits)`` with the roles swapped (its first
    argument is the distribution the KL averages over). Rows are examples, the last axis the
    vocabulary; both finite and of one shape (a masked class, -inf, would give inf - inf = NaN).
    """
    zs = float_array(student_logits, "student_logits", min_ndim=1).astype(np.float64, copy=False)
    zt = float_array(teacher_logits, "teacher_logits", min_ndim=1).astype(np.float64, copy=False)
    if zs.shape != zt.shape:
        raise ValueError(f"student_logits has shape {zs.shape}, teacher_logits {zt.shape}")
    ls = zs - zs.max(-1, keepdims=True)
    ls -= np.log(np.exp(ls).sum(-1, keepdims=True))
    lt = zt - zt.max(-1, keepdims=True)
    lt -= np.log(np.exp(lt).sum(-1, keepdims=True))
    ps = np.exp(ls)
    d = ls - lt
    kl = np.sum(ps * d, axis=-1, keepdims=True)
    return ps * (d - kl)


def on_policy_distill(student: Transformer, teacher: Transformer, *, steps: int = 150,
                      prompts_per_step: int = 32, samples_per_prompt: int = 2, lr: float = 5e-4,
                      temperature: float = 1.0, warmup: int = 5, clip: float = 1.0, seed: int = 0,
                      progress: Progress = None, stop_after: Optional[int] = None) -> tuple[Transformer, dict]:
    r"""On-policy distillation (GKD, Agarwal et al. 2024, arXiv:2306.13649, with the reverse KL,
    their :math:`\beta = 1`): the student samples completions of training problems, the teacher
    scores every token, and the student minimises :math:`KL(p_s \| p_t)` over the vocabulary at
    each of its own positions (mean over tokens; the sampled tokens are treated as data, as GKD
    does, so no gradient flows through the sampling). Logs the loss (the reverse KL per token) and
    the student's accuracy on its own samples."""
    student = _check_model(student, "student")
    teacher = _check_model(teacher, "teacher")
    steps = check_int(steps, "steps")
    rng = np.random.default_rng(seed)
    opt = AdamW(student.params, lr=lr, weight_decay=0.0, decay=student.decay_names)
    log: dict[str, Any] = {"stage": "opd", "settings": dict(steps=steps, prompts_per_step=prompts_per_step,
                                                            samples_per_prompt=samples_per_prompt, lr=lr,
                                                            temperature=temperature, warmup=warmup, clip=clip,
                                                            seed=seed),
                           "loss": [], "accuracy": [], "length": [], "grad_norm": []}
    t0 = time.perf_counter()
    for step in range(_last(steps, stop_after)):
        prompts, golds = task.problems(prompts_per_step, split="train", rng=rng)
        prompt_ids = [encode(p) for p in prompts]
        s = sample(student, prompt_ids, n=samples_per_prompt, temperature=temperature, rng=rng)
        texts = _texts(s)
        acc = task.accuracy_reward(texts, [golds[i] for i in s.prompt_index])
        rows = [prompt_ids[i] for i in s.prompt_index]
        loss, grads = opd_gradients(student, teacher, rows, s.completions, s.lengths)
        norm = clip_grad_norm(grads, clip)
        opt.step(grads, lr=lr_at(step, steps, lr, warmup, 1.0))
        log["loss"].append(float(loss))
        log["accuracy"].append(float(acc.mean()))
        log["length"].append(float(s.lengths.mean()))
        log["grad_norm"].append(norm)
        _tick(progress)
    log["seconds"] = time.perf_counter() - t0
    return student, log


# ------------------------------------------------------------------------------------ evaluation

class Evaluation(NamedTuple):
    """Per-sample results of :func:`evaluate` on P problems x n samples, and the metrics."""

    prompts: list
    golds: list
    correct: np.ndarray    # (P, n) bool
    formatted: np.ndarray  # (P, n) bool: follows R1-Zero's template
    working: np.ndarray    # (P, n) bool: writes working
    lengths: np.ndarray    # (P, n) completion tokens
    answers: list          # P lists of n normalised answers (None = no answer)

    def metrics(self, ks: Sequence[int] = (1, 2, 4, 8, 16)) -> dict:
        """pass@1 with its clustered SE (r1lib.error_bars.pass_at_1), pass@k and maj@k (r1lib.metrics)
        at each k <= n, the format and working rates, the accuracy with and without working."""
        P, n = self.correct.shape
        c = self.correct.sum(axis=1)
        est = pass_at_1(n, c)
        ks = [k for k in ks if k <= n]
        out = {"pass@1": float(est.value), "pass@1_se": float(est.se), "problems": P, "samples": n,
               "pass@k": {str(k): float(np.mean(pass_at_k(n, c, k))) for k in ks},
               "format": float(self.formatted.mean()), "working": float(self.working.mean()),
               "length": float(self.lengths.mean())}
        maj = np.array([maj_at_k(a, g, ks) for a, g in zip(self.answers, self.golds)])
        out["maj@k"] = {str(k): float(v) for k, v in zip(ks, maj.mean(axis=0))}
        w = self.working
        out["accuracy_with_working"] = float(self.correct[w].mean()) if w.any() else None
        out["accuracy_without_working"] = float(self.correct[~w].mean()) if (~w).any() else None
        return out


def evaluate(model: Transformer, prompts: Sequence[str], golds: Sequence[int], *, n: int = 16,
             temperature: float = 1.0, top_p: float = 1.0, seed: int = 0, batch_prompts: int = 64,
             progress: Progress = None) -> Evaluation:
    """Sample ``n`` completions of each prompt and grade them with the builtin grader."""
    model = _check_model(model)
    n = check_int(n, "n")
    batch_prompts = check_int(batch_prompts, "batch_prompts")
    if isinstance(prompts, str) or isinstance(golds, str):
        raise TypeError("prompts and golds must be lists (one entry per problem), not strings")
    prompts, golds = list(prompts), list(golds)
    if not prompts or len(prompts) != len(golds):
        # a shorter golds list failed with an IndexError, a longer one was silently cut
        raise ValueError(f"prompts and golds must be non-empty and of the same length, got "
                         f"{len(prompts)} prompts and {len(golds)} golds")
    rng = np.random.default_rng(seed)
    correct, formatted, working, lengths, answers = [], [], [], [], []
    for i in range(0, len(prompts), batch_prompts):
        ps = prompts[i:i + batch_prompts]
        s = sample(model, [encode(p) for p in ps], n=n, temperature=temperature, top_p=top_p, rng=rng)
        texts = _texts(s)
        g = [golds[i + j] for j in s.prompt_index]
        correct.append(task.accuracy_reward(texts, g) > 0)
        formatted.append(task.format_reward(texts) > 0)
        working.append(np.array([task.writes_working(t) for t in texts]))
        lengths.append(s.lengths)
        parsed = [parse_answer(task.strip_eos(t), lenient=True) for t in texts]
        answers.extend(parsed[j * n:(j + 1) * n] for j in range(len(ps)))
        _tick(progress)
    shape = (len(prompts), n)
    return Evaluation(prompts, [Fraction(g) for g in golds], np.concatenate(correct).reshape(shape),
                      np.concatenate(formatted).reshape(shape), np.concatenate(working).reshape(shape),
                      np.concatenate(lengths).reshape(shape), answers)

r"""A toy policy whose outputs have free length, for the GRPO variants of notebook 05.

Notebook 04's toy writes short outputs of a fixed shape, so nothing about *length* can show
there. Here every output is

    ``<approach> … … … </think>``

a first token that picks one of :data:`K` ways to attack the question (``A``-``D``), then a free
number of thinking tokens ``…`` (every position after the first is a stop-or-continue decision),
and ``</think>`` to stop. An output that reaches :data:`MAX_LEN` tokens without ``</think>`` is
truncated: it has no answer.

Reward: 1 if the approach reached the right answer and the output was not truncated, else 0. For
each question two approaches can work, a popular and a rare one; the others never do. On the
*exact* task (:data:`EXACT_TASK`) a working approach is always right; on the *noisy* task
(:data:`NOISY_TASK`) the popular one is right 60% of the time and the rare one 80%.
**Length is never rewarded, and thinking changes nothing**: the ``…`` tokens carry no
computation (as in notebook 04). So any change of length during training comes from how the loss
weights tokens, which is what Dr. GRPO (arXiv:2503.20783) and DAPO (arXiv:2503.14476) are about.

The policy (tabular, so every expectation is exact)
---------------------------------------------------
For question ``q``: the approach is drawn from ``softmax(approach_logits[q])``; after approach
``k`` every decision stops with probability ``sigmoid(stop_logits[q, k])``. How long the policy
thinks may depend on the approach it took: the toy's stand-in for a model whose length and
correctness are correlated (one that rambles when it is off track), and exactly the freedom the
length bias of GRPO's :math:`1/|o_i|` exploits. The 12 questions range from hard (the base policy
is right 3% of the time) to easy (60%), :data:`BASE_ACCURACY`.

Gradients are analytic: :math:`\partial\log\mathrm{softmax}(z)_k/\partial z = e_k - \mathrm{softmax}(z)`,
:math:`\partial\log\sigma(s)/\partial s = 1-\sigma(s)`, :math:`\partial\log(1-\sigma(s))/\partial s
= -\sigma(s)`, chained with ``d loss / d logp`` from :func:`r1lib.grpo_loss.grpo_loss_grad` (the
loss and every one of its switches lives there, once). Training is plain gradient descent: with
Adam, the toy's sparse table entries pick up a drift of their own from skewed gradient noise,
which would blur the comparison.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field, fields
from typing import Optional, Union

import numpy as np

from ..validation import describe, nonneg_scalar, positive_scalar
from ..divergence import kl_divergence
from ..softmax import entropy, log_softmax, softmax

__all__ = [
    "K", "APPROACH_NAMES", "THINK", "STOP", "MAX_LEN", "BASE_ACCURACY", "N_QUESTIONS", "POPULAR",
    "RARE", "EXACT_TASK", "NOISY_TASK", "success_matrix",
    "LengthPolicy", "base_policy", "Batch", "sample", "token_logp", "rewards", "render",
    "policy_gradient", "exact_stats", "advantage_weight",
    "Variant", "Run", "train", "CoinStudy", "coin_study",
]

K = 4
APPROACH_NAMES = ("A", "B", "C", "D")
THINK, STOP = "…", "</think>"
MAX_LEN = 32  # max_completion_length: the approach + at most 31 decisions
N_DECISIONS = MAX_LEN - 1
# The base policy's accuracy on each question: from nearly hopeless to easy.
BASE_ACCURACY = (0.03, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
N_QUESTIONS = len(BASE_ACCURACY)
# Two of the K approaches can work for each question: a "popular" one and a "rare" one, which the
# base policy tries 4 times less often; the other K - 2 approaches never work. ``success`` =
# (P(right | popular), P(right | rare)): (1, 1) is the exact task, where an output is right exactly
# when its approach works; (0.6, 0.8) is the noisy task, where the better approach is the rare one
# and no group is ever sure to be all right.
POPULAR = np.arange(N_QUESTIONS) % K
RARE = (POPULAR + 1) % K
POPULAR_SHARE = 0.8
EXACT_TASK = (1.0, 1.0)
NOISY_TASK = (0.6, 0.8)


def success_matrix(success: tuple = EXACT_TASK) -> np.ndarray:
    """P(right answer | question, approach), shape (Q, K), from ``(popular, rare)``."""
    try:
        pop, rare = (float(x) for x in success)
    except (TypeError, ValueError):
        raise TypeError(f"success must be a pair of probabilities (popular, rare), got {describe(success)}") from None
    if not (0 < pop <= 1 and 0 < rare <= 1):
        raise ValueError(f"success must hold two probabilities in (0, 1], got {describe(success)}")
    out = np.zeros((N_QUESTIONS, K))
    out[np.arange(N_QUESTIONS), POPULAR] = pop
    out[np.arange(N_QUESTIONS), RARE] = rare
    return out


# --------------------------------------------------------------------------------------------
# The policy
# --------------------------------------------------------------------------------------------

def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


@dataclass
class LengthPolicy:
    """``approach_logits`` (Q, K): the approach; ``stop_logits`` (Q, K): stop after approach k."""

    approach_logits: np.ndarray
    stop_logits: np.ndarray

    def __post_init__(self) -> None:
        for name in ("approach_logits", "stop_logits"):
            arr = np.asarray(getattr(self, name))
            if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) \
                    or arr.dtype == bool:
                raise TypeError(f"{name} must be a real array, got dtype {arr.dtype}")
            if arr.shape != (N_QUESTIONS, K):
                raise ValueError(f"{name} must have shape {(N_QUESTIONS, K)}, got {arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"{name} must be finite")
            setattr(self, name, arr.astype(np.float64))

    def copy(self) -> "LengthPolicy":
        return LengthPolicy(self.approach_logits.copy(), self.stop_logits.copy())

    def approach_logp(self) -> np.ndarray:
        """log pi(approach = k | q), shape (Q, K)."""
        return log_softmax(self.approach_logits, axis=-1)

    def stop_prob(self) -> np.ndarray:
        """P(stop at a decision | q, approach k), shape (Q, K)."""
        return np.exp(_log_sigmoid(self.stop_logits))


def base_policy(accuracy: tuple = BASE_ACCURACY, stop: float = 0.25,
                success: tuple = EXACT_TASK) -> LengthPolicy:
    """The "pre-trained" start (and the reference).

    For question q it tries an approach that can work (popular : rare = 4 : 1) often enough that
    its accuracy is ``accuracy[q]`` on the task ``success`` (times the share of outputs that are
    not truncated, 1 - 0.75^31 at the default ``stop``), and spreads the rest evenly over the
    K - 2 approaches that never work. Every decision stops with probability ``stop`` (mean length
    about ``1 + 1/stop`` tokens), whatever the approach.
    """
    acc = np.asarray(accuracy, dtype=np.float64)
    if acc.shape != (N_QUESTIONS,) or not ((acc > 0) & (acc < 1)).all():
        raise ValueError(f"accuracy must hold {N_QUESTIONS} probabilities in (0, 1), got {describe(accuracy)}")
    stop = positive_scalar(stop, "stop")
    if stop >= 1:
        raise ValueError(f"stop must lie in (0, 1), got {stop!r}")
    rows = np.arange(N_QUESTIONS)
    sm = success_matrix(success)
    best = POPULAR_SHARE * sm[rows, POPULAR] + (1 - POPULAR_SHARE) * sm[rows, RARE]
    works = acc / best  # P(trying an approach that can work)
    if (works >= 1).any():
        raise ValueError(f"accuracy must stay below {best.min():.2f} on the task success={success!r}, "
                         f"got {describe(accuracy)}")
    probs = np.repeat(((1 - works) / (K - 2))[:, None], K, axis=1)
    probs[rows, POPULAR] = POPULAR_SHARE * works
    probs[rows, RARE] = (1 - POPULAR_SHARE) * works
    return LengthPolicy(np.log(probs), np.full((N_QUESTIONS, K), np.log(stop / (1 - stop))))


# --------------------------------------------------------------------------------------------
# Sampling, log-probabilities, rewards, gradients
# --------------------------------------------------------------------------------------------

@dataclass
class Batch:
    """A batch of groups: ``question`` (n,), ``answer`` and ``length`` (n, G) (tokens, approach
    included), ``truncated`` (n, G) bool. ``mask`` (n, G, MAX_LEN) marks the real tokens."""

    question: np.ndarray
    approach: np.ndarray
    length: np.ndarray
    truncated: np.ndarray
    solved: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return np.arange(MAX_LEN) < self.length[..., None]

    def select(self, groups: np.ndarray) -> "Batch":
        return Batch(*(getattr(self, f.name)[groups] for f in fields(Batch)))

    @staticmethod
    def concat(batches: list) -> "Batch":
        return Batch(*(np.concatenate([getattr(b, f.name) for b in batches]) for f in fields(Batch)))


def _generator(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    return rng


def sample(policy: LengthPolicy, questions, group_size: int, rng: np.random.Generator,
           success: tuple = EXACT_TASK) -> Batch:
    """Draw ``group_size`` outputs for each question index in ``questions``; whether each one
    reaches the right answer is drawn from ``success_matrix(success)``."""
    rng = _generator(rng)
    q = np.asarray(questions)
    if q.ndim != 1 or not np.issubdtype(q.dtype, np.integer) or ((q < 0) | (q >= N_QUESTIONS)).any():
        raise ValueError(f"questions must be a 1-D array of indices in 0..{N_QUESTIONS - 1}, got {describe(questions)}")
    G = _count(group_size, "group_size", 2)
    probs = softmax(policy.approach_logits[q], axis=-1)  # (n, K)
    u = rng.random((len(q), G))
    answer = np.minimum((np.cumsum(probs, axis=-1)[:, None, :] < u[..., None]).sum(-1), K - 1)
    stop = policy.stop_prob()[q[:, None], answer]  # (n, G)
    # Decisions are i.i.d. given the approach: the first stop is a geometric variable.
    decisions = rng.random((len(q), G, N_DECISIONS)) < stop[..., None]
    stopped = decisions.any(axis=-1)
    first = np.where(stopped, decisions.argmax(axis=-1) + 1, N_DECISIONS)
    solved = rng.random((len(q), G)) < success_matrix(success)[q[:, None], answer]
    return Batch(q.astype(np.int64), answer, 1 + first, ~stopped, solved)


def token_logp(policy: LengthPolicy, batch: Batch) -> np.ndarray:
    """log pi of every token, shape (n, G, MAX_LEN); 0 at padding."""
    q = batch.question[:, None]
    lp_answer = policy.approach_logp()[q, batch.approach]  # (n, G)
    s = policy.stop_logits[q, batch.approach][..., None]
    pos = np.arange(MAX_LEN)
    is_stop = (pos == batch.length[..., None] - 1) & ~batch.truncated[..., None]
    lp = np.where(is_stop, _log_sigmoid(s), _log_sigmoid(-s))
    lp[..., 0] = lp_answer
    return np.where(batch.mask, lp, 0.0)


def rewards(batch: Batch) -> np.ndarray:
    """1.0 where the approach is the gold answer and the output ended with ``</think>``."""
    return (batch.solved & ~batch.truncated).astype(np.float64)


def render(batch: Batch, group: int = 0) -> list:
    """The text of one group's outputs, e.g. ``"B … … </think>"``."""
    out = []
    for a, n, t in zip(batch.approach[group], batch.length[group], batch.truncated[group]):
        out.append(" ".join([APPROACH_NAMES[a]] + [THINK] * int(n - 1 - (not t)) + ([] if t else [STOP])))
    return out


def policy_gradient(policy: LengthPolicy, batch: Batch, dlogp: np.ndarray) -> LengthPolicy:
    r"""Chain rule from ``d f / d log pi(o_t)`` (shape (n, G, MAX_LEN)) to the parameters.

    Hunch token: :math:`g_0\,(e_k - \pi(\cdot|q))` on ``approach_logits[q]``. Decision tokens:
    :math:`g_t (1 - \sigma)` for a stop and :math:`-g_t \sigma` for a continue, on
    ``stop_logits[q, k]``. Returned as a :class:`LengthPolicy` holding the gradient arrays.
    """
    g = np.where(batch.mask, np.asarray(dlogp, dtype=np.float64), 0.0)
    q = np.broadcast_to(batch.question[:, None], batch.approach.shape)
    flat = (q * K + batch.approach).ravel()
    size = N_QUESTIONS * K
    g0 = g[..., 0]
    d_approach = np.bincount(flat, weights=g0.ravel(), minlength=size).reshape(N_QUESTIONS, K)
    per_q = np.bincount(batch.question, weights=g0.sum(axis=1), minlength=N_QUESTIONS)
    d_approach -= per_q[:, None] * softmax(policy.approach_logits, axis=-1)
    sigma = policy.stop_prob()[q, batch.approach]
    is_stop = ~batch.truncated
    g_stop = np.take_along_axis(g, (batch.length - 1)[..., None], axis=-1)[..., 0] * is_stop
    g_cont = g[..., 1:].sum(axis=-1) - g_stop
    d_stop = np.bincount(flat, weights=(g_stop * (1 - sigma) - g_cont * sigma).ravel(),
                         minlength=size).reshape(N_QUESTIONS, K)
    return LengthPolicy(d_approach, d_stop)


# --------------------------------------------------------------------------------------------
# Exact quantities
# --------------------------------------------------------------------------------------------

def exact_stats(policy: LengthPolicy, reference: Optional[LengthPolicy] = None,
                success: tuple = EXACT_TASK) -> dict:
    r"""Exact expectations under ``policy``, per question (arrays of shape (Q,)).

    ``accuracy`` (P(reward = 1)); ``entropy`` of the approach (nats); ``length`` (expected tokens);
    ``length_right`` and ``length_wrong`` (expected length of rewarded and unrewarded outputs);
    ``kl``: :math:`KL(\pi_\theta\|\pi_{ref})` of whole outputs by the chain rule,
    :math:`KL(\text{approach}) + \sum_k \pi(k)\,E[\#\text{decisions}\mid k]\,KL(\text{Bernoulli}(\sigma_k)
    \|\text{Bernoulli}(\sigma^{ref}_k))` (0 without a reference).
    """
    p_k = softmax(policy.approach_logits, axis=-1)
    s = policy.stop_prob()
    survive = (1 - s) ** N_DECISIONS  # P(truncated | q, k)
    n_dec = np.where(s > 0, (1 - survive) / np.where(s > 0, s, 1), N_DECISIONS)  # E[#decisions]
    # Mean length of stopped outputs: E[D | D <= M] for D geometric; of truncated ones: 1 + M.
    j = np.arange(1, N_DECISIONS + 1)
    pj = s[..., None] * (1 - s[..., None]) ** (j - 1)  # P(stop at decision j)
    stopped_len = 1 + (pj * j).sum(-1) / np.maximum(pj.sum(-1), 1e-300)
    mean_len_k = 1 + n_dec  # = survive * MAX_LEN + (1 - survive) * stopped_len
    # Right: the approach reached the answer and the output stopped in time. Wrong: the
    # approach failed (any length), or it succeeded but the output was truncated.
    sm = success_matrix(success)
    p_right_k = p_k * sm * (1 - survive)
    p_wrong_k = p_k - p_right_k
    len_right_k = stopped_len
    wrong_len_mass = p_k * ((1 - sm) * mean_len_k + sm * survive * MAX_LEN)
    accuracy = p_right_k.sum(-1)
    # Token entropy as trainers log it: the mean over generated tokens of the entropy of the
    # distribution each token was drawn from (exactly: expected total / expected length).
    h_stop = entropy(np.stack([policy.stop_logits, np.zeros_like(s)], axis=-1), axis=-1)
    h_approach = entropy(policy.approach_logits, axis=-1)
    token_entropy_sum = h_approach + (p_k * n_dec * h_stop).sum(-1)
    out = {
        "accuracy": accuracy,
        "entropy": h_approach,
        "token_entropy_sum": token_entropy_sum,
        "length": (p_k * mean_len_k).sum(-1),
        "length_right": (p_right_k * len_right_k).sum(-1) / np.maximum(accuracy, 1e-300),
        "length_wrong": wrong_len_mass.sum(-1) / np.maximum(p_wrong_k.sum(-1), 1e-300),
        "p_right": accuracy,
        "p_wrong": 1 - accuracy,
    }
    if reference is None:
        out["kl"] = np.zeros(N_QUESTIONS)
    else:
        p_ref = softmax(reference.approach_logits, axis=-1)
        s_ref = reference.stop_prob()
        bern = kl_divergence(np.stack([s, 1 - s], -1), np.stack([s_ref, 1 - s_ref], -1))
        out["kl"] = kl_divergence(p_k, p_ref) + (p_k * n_dec * bern).sum(-1)
    return out


def advantage_weight(group_size: int, scale: str = "group") -> np.ndarray:
    r"""How much a group of binary rewards weighs in an update: mean :math:`|A_i|` over the group
    when c = 0, 1, ..., G of its G outputs are right, from :func:`r1lib.group_advantages`
    (``scale`` "group" or "none"; "batch" depends on the whole batch). Shape (G + 1,).

    Relative to a half-right group, ``"group"`` makes nearly-all-wrong and nearly-all-right
    groups weigh much more than ``"none"`` does: Dr. GRPO's point that dividing by the std
    up-weights the questions that are too hard or too easy.
    """
    from ..grpo import group_advantages

    G = _count(group_size, "group_size", 2)
    if scale not in ("group", "none"):
        raise ValueError(f"scale must be 'group' or 'none' (a batch std depends on the whole batch), got {scale!r}")
    rewards = (np.arange(G)[None, :] < np.arange(G + 1)[:, None]).astype(np.float64)  # row c: c ones
    return np.abs(group_advantages(rewards, scale=scale)).mean(axis=1)


# --------------------------------------------------------------------------------------------
# Training with the switches of TRL's GRPOTrainer
# --------------------------------------------------------------------------------------------

def _count(value, name: str, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {describe(value)}")
    return int(value)


SCALES = ("group", "batch", "none")  # TRL's scale_rewards


@dataclass(frozen=True)
class Variant:
    """One training recipe: TRL ``GRPOConfig``'s names, plus the toy's optimiser settings.

    ``inner_steps`` is TRL's ``num_iterations`` (mu): gradient steps on each sampled batch; with 1
    the ratio is always 1 and neither clip does anything. ``dynamic_sampling`` is DAPO's: groups
    whose rewards are all equal are dropped and more groups are drawn until the batch is full
    again (at most ``max_rounds`` draws of the question set per step).
    """

    loss_type: str = "dapo"
    scale: str = "group"
    epsilon: float = 0.2
    epsilon_high: Optional[float] = None
    importance_sampling_level: str = "token"
    beta: float = 0.0
    kl: str = "k3"
    use_bias_correction_kl: bool = False
    dynamic_sampling: bool = False
    max_rounds: int = 4
    group_size: int = 8
    inner_steps: int = 4
    lr: float = 1.0
    steps: int = 300
    success: tuple = EXACT_TASK

    def __post_init__(self) -> None:
        from ..grpo_loss import IMPORTANCE_SAMPLING_LEVELS, KL_ESTIMATORS, LOSS_TYPES

        for name, options in (("loss_type", LOSS_TYPES), ("scale", SCALES),
                              ("importance_sampling_level", IMPORTANCE_SAMPLING_LEVELS),
                              ("kl", KL_ESTIMATORS)):
            if getattr(self, name) not in options:
                raise ValueError(f"{name} must be one of {options}, got {getattr(self, name)!r}")
        positive_scalar(self.epsilon, "epsilon")
        if self.epsilon_high is not None and positive_scalar(self.epsilon_high, "epsilon_high") < self.epsilon:
            raise ValueError(f"epsilon_high={self.epsilon_high!r} must be >= epsilon={self.epsilon!r}")
        nonneg_scalar(self.beta, "beta")
        positive_scalar(self.lr, "lr")
        for name in ("use_bias_correction_kl", "dynamic_sampling"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {describe(getattr(self, name))}")
        _count(self.group_size, "group_size", 2)
        _count(self.inner_steps, "inner_steps", 1)
        _count(self.steps, "steps", 0)
        _count(self.max_rounds, "max_rounds", 1)
        success_matrix(self.success)

    def loss_kwargs(self) -> dict:
        """The keyword arguments of :func:`r1lib.grpo_loss.grpo_loss` this recipe sets."""
        return dict(beta=self.beta, epsilon=self.epsilon, epsilon_high=self.epsilon_high,
                    loss_type=self.loss_type, importance_sampling_level=self.importance_sampling_level,
                    max_completion_length=MAX_LEN, kl=self.kl,
                    use_bias_correction_kl=self.use_bias_correction_kl)

    def label(self) -> str:
        return ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self)
                         if getattr(self, f.name) != f.default)


@dataclass
class Run:
    """What :func:`train` records. Exact curves (expectations under the policy, no sampling noise)
    have ``steps + 1`` entries, the first before training; per-batch records have ``steps``."""

    variant: Variant
    seed: Optional[int]
    accuracy: np.ndarray = field(repr=False)        # exact P(right), mean over questions
    accuracy_q: np.ndarray = field(repr=False)      # (steps+1, Q) exact P(right) per question
    entropy: np.ndarray = field(repr=False)         # exact approach entropy (nats), mean over questions
    token_entropy: np.ndarray = field(repr=False)   # exact mean entropy per generated token (nats)
    length: np.ndarray = field(repr=False)          # exact expected length (tokens)
    length_right: np.ndarray = field(repr=False)    # exact expected length of right outputs
    length_wrong: np.ndarray = field(repr=False)    # exact expected length of wrong outputs
    kl: np.ndarray = field(repr=False)              # exact KL(pi_theta || pi_ref), mean over questions
    zero_signal: np.ndarray = field(repr=False)     # groups with all-equal rewards among the first Q drawn
    dropped: np.ndarray = field(repr=False)         # groups dropped by dynamic sampling
    generated: np.ndarray = field(repr=False)       # groups sampled (cost)
    # r1lib.grpo_loss.clip_fractions, as TRL logs it, mean over the inner steps: the share of
    # tokens (of completions at sequence level) clipped below (A < 0) and above (A > 0)
    clip_low: np.ndarray = field(repr=False)
    clip_high: np.ndarray = field(repr=False)
    weight_q: np.ndarray = field(repr=False)        # (steps, Q) mean |A| of each question's group
    group_accuracy: np.ndarray = field(repr=False)  # (steps, Q) share of right outputs in the group
    policy: LengthPolicy = field(repr=False)
    seconds: float = 0.0

    @property
    def clip_region(self) -> np.ndarray:
        return self.clip_low + self.clip_high


def _rng(rng) -> tuple[np.random.Generator, Optional[int]]:
    if isinstance(rng, np.random.Generator):
        return rng, None
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)) and rng >= 0:
        return np.random.default_rng(int(rng)), int(rng)
    raise TypeError(f"rng must be a numpy.random.Generator or a non-negative integer seed, got {describe(rng)}")


def _draw_batch(policy: LengthPolicy, variant: Variant, rng: np.random.Generator):
    """One group per question; with dynamic sampling, refill dropped groups (DAPO sec. 3.2)."""
    from ..grpo_loss import dynamic_sampling_mask

    questions = np.arange(N_QUESTIONS)
    batch = sample(policy, questions, variant.group_size, rng, variant.success)
    keep = dynamic_sampling_mask(rewards(batch))
    zero_signal = int(np.count_nonzero(~keep))
    if not variant.dynamic_sampling:
        return batch, zero_signal, 0, N_QUESTIONS
    kept, generated, dropped = [batch.select(keep)], N_QUESTIONS, zero_signal
    n_kept = int(keep.sum())
    rounds = 1
    while n_kept < N_QUESTIONS and rounds < variant.max_rounds:
        extra = sample(policy, questions, variant.group_size, rng, variant.success)
        ok = dynamic_sampling_mask(rewards(extra))
        generated += N_QUESTIONS
        dropped += int(np.count_nonzero(~ok))
        kept.append(extra.select(ok))
        n_kept += int(ok.sum())
        rounds += 1
    batch = Batch.concat(kept)
    if len(batch.question) > N_QUESTIONS:  # the batch is full: keep the first Q groups
        batch = batch.select(np.arange(N_QUESTIONS))
    if len(batch.question) == 0:  # nothing informative at all: an empty step
        return None, zero_signal, dropped, generated
    return batch, zero_signal, dropped, generated


def train(variant: Variant = Variant(), rng: Union[int, np.random.Generator] = 0,
          reference: Optional[LengthPolicy] = None) -> Run:
    """Train the toy policy with ``variant``'s switches, from (and towards) ``reference``.

    Each step samples a group of ``group_size`` outputs per question, scores them with
    :func:`rewards`, turns rewards into advantages with :func:`r1lib.group_advantages`
    (``scale``), and takes ``inner_steps`` plain gradient-descent steps of size ``lr`` on
    :func:`r1lib.grpo_loss.grpo_loss` with ``variant``'s switches, its gradient
    ``d loss / d logp`` chained into the parameters by :func:`policy_gradient`.
    """
    from ..grpo import group_advantages
    from ..grpo_loss import clip_fractions, grpo_loss_grad

    if not isinstance(variant, Variant):
        raise TypeError(f"variant must be a Variant, got {describe(variant)}")
    ref = base_policy(success=variant.success) if reference is None else reference
    if not isinstance(ref, LengthPolicy):
        raise TypeError(f"reference must be a LengthPolicy, got {describe(ref)}")
    rng, seed = _rng(rng)
    start = time.perf_counter()
    policy = ref.copy()
    kwargs = variant.loss_kwargs()
    curves = {k: [] for k in ("accuracy", "accuracy_q", "entropy", "token_entropy", "length", "length_right",
                              "length_wrong", "kl")}
    per_step = {k: [] for k in ("zero_signal", "dropped", "generated", "clip_low", "clip_high",
                                "weight_q", "group_accuracy")}

    def record() -> None:
        s = exact_stats(policy, ref, variant.success)
        curves["accuracy_q"].append(s["accuracy"])
        for key in ("accuracy", "entropy", "length", "kl"):
            curves[key].append(s[key].mean())
        curves["token_entropy"].append(s["token_entropy_sum"].sum() / s["length"].sum())
        # Pooled over questions (each question equally likely).
        curves["length_right"].append(np.sum(s["p_right"] * s["length_right"]) / max(np.sum(s["p_right"]), 1e-300))
        curves["length_wrong"].append(np.sum(s["p_wrong"] * s["length_wrong"]) / max(np.sum(s["p_wrong"]), 1e-300))

    record()
    for _ in range(variant.steps):
        batch, zero_signal, dropped, generated = _draw_batch(policy, variant, rng)
        per_step["zero_signal"].append(zero_signal)
        per_step["dropped"].append(dropped)
        per_step["generated"].append(generated)
        weight = np.full(N_QUESTIONS, np.nan)
        group_acc = np.full(N_QUESTIONS, np.nan)
        if batch is None:
            per_step["clip_low"].append(0.0)
            per_step["clip_high"].append(0.0)
            per_step["weight_q"].append(weight)
            per_step["group_accuracy"].append(group_acc)
            record()
            continue
        r = rewards(batch)
        adv = group_advantages(r, scale=variant.scale)
        first = np.unique(batch.question, return_index=True)[1]  # first group of each question
        weight[batch.question[first]] = np.abs(adv[first]).mean(axis=1)
        group_acc[batch.question[first]] = r[first].mean(axis=1)
        per_step["weight_q"].append(weight)
        per_step["group_accuracy"].append(group_acc)
        n, G = r.shape
        mask = batch.mask.reshape(n * G, MAX_LEN)
        old = token_logp(policy, batch).reshape(n * G, MAX_LEN)
        ref_lp = token_logp(ref, batch).reshape(n * G, MAX_LEN)
        a = adv.reshape(n * G)
        low = high = 0.0
        for k in range(variant.inner_steps):
            lp = old if k == 0 else token_logp(policy, batch).reshape(n * G, MAX_LEN)
            g = grpo_loss_grad(lp, old, a, mask, ref_logp=ref_lp, **kwargs)
            frac = clip_fractions(lp, old, a, mask, epsilon=variant.epsilon, epsilon_high=variant.epsilon_high,
                                  loss_type=variant.loss_type,
                                  importance_sampling_level=variant.importance_sampling_level)
            low, high = low + frac.low, high + frac.high
            grad = policy_gradient(policy, batch, g.reshape(n, G, MAX_LEN))
            policy.approach_logits -= variant.lr * grad.approach_logits  # a loss: descend
            policy.stop_logits -= variant.lr * grad.stop_logits
        per_step["clip_low"].append(low / variant.inner_steps)
        per_step["clip_high"].append(high / variant.inner_steps)
        record()
    return Run(variant=variant, seed=seed, policy=policy, seconds=time.perf_counter() - start,
               **{k: np.array(v) for k, v in curves.items()},
               **{k: np.array(v, dtype=float) for k, v in per_step.items()})


# --------------------------------------------------------------------------------------------
# Clip-higher in isolation: tokens whose choice does not matter
# --------------------------------------------------------------------------------------------

@dataclass
class CoinStudy:
    """What :func:`coin_study` records: ``p`` (batches+1, n_coins), the probability of each
    coin's rarer side, and ``entropy`` (batches+1,), the mean entropy of the coins (nats)."""

    epsilon_high: Optional[float]
    p: np.ndarray = field(repr=False)
    entropy: np.ndarray = field(repr=False)


def coin_study(epsilon_high: Optional[float] = None, batches: int = 200, n_coins: int = 256,
               p0: float = 0.2, group_size: int = 8, inner_steps: int = 8, lr: float = 200.0,
               epsilon: float = 0.2, rng: Union[int, np.random.Generator] = 0) -> CoinStudy:
    r"""Clip-higher (DAPO, arXiv:2503.14476, sec. 3.1) on tokens whose choice does not matter.

    ``n_coins`` independent one-token "prompts"; each output is heads (probability ``p``, starting
    at ``p0``) or tails, and its reward is a fair coin flip *independent of the token*: the
    expected policy gradient is exactly 0 and a perfect learner would leave ``p`` alone. Each
    batch draws ``group_size`` outputs per coin, computes :func:`r1lib.group_advantages` and takes
    ``inner_steps`` gradient steps of size ``lr`` on :func:`r1lib.grpo_loss.grpo_loss`
    (``loss_type="dapo"``, clip range ``[1 - epsilon, 1 + epsilon_high]``). With large steps the
    clip decides how far a batch can move each coin's log-probability: at most
    :math:`\log(1+\epsilon_{high})` up and :math:`\log(1-\epsilon)` down, which for
    :math:`\epsilon_{high} = \epsilon = 0.2` is +0.18 against -0.22. The random walk then drifts
    towards the rarer side's extinction, and the entropy falls although nothing was learned.

    That log-space drift is this series' own reading of the clip, not DAPO's argument: DAPO's is
    that the upper clip caps how fast a *rare* token's probability can grow in one batch (from 0.01
    to at most 0.012 at :math:`\epsilon = 0.2`), so exploration tokens are held back while likely
    ones are not.
    """
    from ..grpo import group_advantages
    from ..grpo_loss import grpo_loss_grad

    rng, _ = _rng(rng)
    n = _count(n_coins, "n_coins", 1)
    G = _count(group_size, "group_size", 2)
    mu = _count(inner_steps, "inner_steps", 1)
    n_batches = _count(batches, "batches", 0)
    lr = positive_scalar(lr, "lr")
    p0 = positive_scalar(p0, "p0")
    if p0 >= 1:
        raise ValueError(f"p0 must lie in (0, 1), got {p0!r}")
    z = np.full(n, np.log(p0 / (1 - p0)))  # logit of heads

    def log_probs(logit: np.ndarray) -> np.ndarray:  # (n, 2): log P(heads), log P(tails)
        return log_softmax(np.stack([logit, np.zeros_like(logit)], axis=-1), axis=-1)

    ps, ents = [np.exp(log_probs(z)[:, 0])], [entropy(np.stack([z, np.zeros_like(z)], -1), axis=-1).mean()]
    for _ in range(n_batches):
        lp0 = log_probs(z)
        heads = rng.random((n, G)) < np.exp(lp0[:, :1])
        adv = group_advantages((rng.random((n, G)) < 0.5).astype(np.float64)).reshape(-1)
        old = np.where(heads, lp0[:, :1], lp0[:, 1:]).reshape(-1, 1)
        for k in range(mu):
            lp = log_probs(z)
            new = old if k == 0 else np.where(heads, lp[:, :1], lp[:, 1:]).reshape(-1, 1)
            g = grpo_loss_grad(new, old, adv, epsilon=epsilon, epsilon_high=epsilon_high,
                               loss_type="dapo").reshape(n, G)
            p = np.exp(lp[:, :1])
            # d log P(heads)/dz = 1 - p, d log P(tails)/dz = -p
            z = z - lr * np.sum(g * np.where(heads, 1 - p, -p), axis=1)
        ps.append(np.exp(log_probs(z)[:, 0]))
        ents.append(entropy(np.stack([z, np.zeros_like(z)], -1), axis=-1).mean())
    return CoinStudy(epsilon_high, np.array(ps), np.array(ents))

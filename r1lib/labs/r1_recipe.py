r"""The DeepSeek-R1 recipe in miniature: base policy -> R1-Zero -> cold start -> reasoning RL ->
rejection sampling -> distillation into a smaller student, plus a reward-hacking loop.

Paper: DeepSeek-R1, arXiv:2501.12948 v1 (sec. 2.2 R1-Zero, 2.3 R1, 2.4 distillation, 4.1
distillation vs RL); the Nature 2025 version's Methods give R1-Zero's settings (KL coefficient
0.001, sampling temperature 1, 16 outputs for each of 32 questions per step).

The task
--------
A problem ``q`` has a hidden gold digit ``gold[q]``. The model knows three *strategies* (the
tokens ``[a] [b] [c]``); strategy ``m`` "computes" the digit ``results[q, m]``, which is the
gold digit on a seeded subset of the problems (its coverage) and a wrong digit elsewhere. An output
is a token sequence in R1-Zero's template (arXiv:2501.12948 v1, Table 1)::

    <think> [b] </think> <answer> 7 </answer>

of at most :data:`MAX_LEN` tokens; ``</answer>`` ends it. Inside ``<think>`` the model may write
strategies and digits. Rule-based rewards (sec. 2.2.2):

* accuracy (strict): the output ends with ``<answer> d </answer>`` and ``d == gold``;
* format: the output is ``<think> X+ </think> <answer> d </answer>``, ``X`` strategies or digits;
* a *loophole* checker: the gold digit appears anywhere in the output (a lazy verifier);
* CoT-correctness (Wen et al. 2025, arXiv:2506.14245: a success counts only when the reasoning is
  right too): the final answer is the gold digit *and* the last strategy written computes it on
  this problem, so a guessed digit, or the right digit after a strategy that is wrong here, does
  not count.

The policy
----------
A softmax over the next token with logits

.. math:: z_t = B[t, o_{t-1}] + \lambda\, e_{r(q, m_t)}

where ``B`` is a table over (position, previous token) and ``m_t`` is the last strategy written so
far: the digit that strategy computed, :math:`r(q, m_t)` = ``results[q, m_t]``, gets the bonus
:math:`\lambda` (how faithfully the model carries out its reasoning). The *teacher* has one ``B``
per position, shape (MAX_LEN, V+1, V); the *student* is a bigram model, ``B`` of shape (1, V+1, V):
about twelve times fewer parameters. Nothing in either model depends on the problem except through
the strategy it wrote: **the toy can learn the format, which strategy to prefer and how faithfully to
execute it, but not which strategy suits which problem.** That is the limit that makes RL trade
coverage for accuracy here (Yue et al. 2025, arXiv:2504.13837): the toy shows the mechanism, it is
not evidence that real models are limited the same way.

GRPO uses :func:`r1lib.grpo_loss_grad` (TRL's loss, ``loss_type="grpo"``, k3 KL): per token with
``1/|o_i|``, i.e. DeepSeekMath arXiv:2402.03300 eq. 3 negated, not R1's sequence-level eqs. 1-2
read literally. One update per batch, so the ratio is 1 and the clip never acts. With
``advantage="pass@k"`` the group advantages are Chen et al.'s pass@k advantages
(:func:`r1lib.passk_advantages`, arXiv:2508.10751): pass@k as the training objective. Evaluation
uses :func:`r1lib.pass_at_1`, :func:`r1lib.pass_at_k`, :func:`r1lib.maj_at_k`,
:func:`r1lib.mean_with_se`.
"""
from __future__ import annotations

import functools
import numbers
import time
from dataclasses import dataclass, field
from typing import Callable, NamedTuple, Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from ..validation import describe, nonneg_scalar, positive_scalar
from ..error_bars import Estimate, mean_with_se, pass_at_1
from ..grpo import check_clip_range, group_advantages
from ..grpo_loss import grpo_loss_grad
from ..kl_estimators import kl_k3
from ..metrics import maj_at_k, pass_at_k
from ..passk_advantage import passk_advantages
from ..softmax import log_softmax

__all__ = [
    "VOCAB", "DIGITS", "THINK", "END_THINK", "ANSWER", "END_ANSWER", "STRATEGIES", "BOS", "MAX_LEN",
    "Task", "make_task", "Policy", "teacher_base", "student_base", "Samples", "sample", "render",
    "tokenize", "samples_from_tokens", "final_answers", "format_ok", "strict_accuracy", "loophole_accuracy",
    "cot_correct", "REWARDS", "ADVANTAGES", "token_logp",
    "policy_gradient", "PolicyGradient", "RLRun", "grpo_train", "curated_samples", "sft", "RejectionResult",
    "rejection_sample", "Evaluation", "evaluate", "crossover_k", "Pipeline", "run_pipeline", "STAGES",
]

DIGITS = 10
THINK, END_THINK, ANSWER, END_ANSWER = 10, 11, 12, 13
STRATEGIES = (14, 15, 16)
VOCAB = tuple(str(d) for d in range(DIGITS)) + ("<think>", "</think>", "<answer>", "</answer>",
                                                "[a]", "[b]", "[c]")
V = len(VOCAB)
BOS = V  # the "previous token" at position 0
MAX_LEN = 12
_FIRST_STRATEGY = STRATEGIES[0]


# --------------------------------------------------------------------------------------------
# Task
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Task:
    """Gold digits ``gold`` (P,) and the digit each strategy computes, ``results`` (P, 3)."""

    gold: np.ndarray
    results: np.ndarray

    @property
    def n_problems(self) -> int:
        return len(self.gold)

    def solved_by(self) -> np.ndarray:
        """(P, 3) booleans: strategy m gives the gold digit on problem q."""
        return self.results == self.gold[:, None]


def _seed(rng: Union[int, np.random.Generator], name: str = "rng") -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be a numpy.random.Generator or a non-negative integer seed, "
                    f"got {describe(rng)}")


def _count(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {describe(value)}")
    return int(value)


def make_task(n_problems: int = 64, coverage: tuple = (0.6, 0.35, 0.2),
              rng: Union[int, np.random.Generator] = 0) -> Task:
    """Draw gold digits and, for each strategy, the subset of problems it solves.

    Strategy ``m`` solves each problem independently with probability ``coverage[m]``; elsewhere it
    computes a wrong digit (uniform over the nine others).
    """
    P = _count(n_problems, "n_problems", 2)
    cov = np.asarray(coverage, dtype=float) if not isinstance(coverage, str) else None
    if cov is None or cov.shape != (len(STRATEGIES),) or not np.all((cov >= 0) & (cov <= 1)):
        raise ValueError(f"coverage must be {len(STRATEGIES)} probabilities in [0, 1], got "
                         f"{describe(coverage)}")
    gen = _seed(rng)
    gold = gen.integers(0, DIGITS, size=P)
    works = gen.random((P, len(STRATEGIES))) < cov
    wrong = (gold[:, None] + gen.integers(1, DIGITS, size=(P, len(STRATEGIES)))) % DIGITS
    return Task(gold=gold, results=np.where(works, gold[:, None], wrong))


# --------------------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------------------

@dataclass
class Policy:
    r"""Logits ``B[t, prev] + lam * onehot(results[q, last strategy])``.

    ``B`` has shape (MAX_LEN, V+1, V) (a position-aware teacher) or (1, V+1, V) (a bigram student,
    the same table at every position). ``n_params`` counts ``B`` and ``lam``.
    """

    B: np.ndarray
    lam: float

    def __post_init__(self) -> None:
        B = np.asarray(self.B, dtype=np.float64)
        if B.ndim != 3 or B.shape[1:] != (V + 1, V) or B.shape[0] not in (1, MAX_LEN):
            raise ValueError(f"B must have shape ({MAX_LEN} or 1, {V + 1}, {V}), got {B.shape}")
        if not np.all(np.isfinite(B)):
            raise ValueError("B must be finite")
        self.B = B
        if isinstance(self.lam, (bool, np.bool_)) or not isinstance(self.lam, numbers.Real) \
                or not np.isfinite(self.lam):
            raise ValueError(f"lam must be a finite number, got {describe(self.lam)}")
        self.lam = float(self.lam)

    @property
    def n_params(self) -> int:
        return int(self.B.size) + 1

    def copy(self) -> "Policy":
        return Policy(self.B.copy(), self.lam)


def _nudged_table(positions: int, strength: float) -> np.ndarray:
    """A "pre-trained" table: 0 everywhere except nudges towards the template, scaled by strength."""
    B = np.zeros((positions, V + 1, V))
    strat = list(STRATEGIES)
    B[:, BOS, THINK] = 3.0
    B[:, THINK, strat] = 2.5
    B[:, THINK, :DIGITS] = 0.3     # sometimes the model writes a number while thinking
    for s in strat:
        B[:, s, END_THINK] = 2.5
    B[:, :DIGITS, :DIGITS] = 0.2   # ... and goes on listing numbers
    B[:, :DIGITS, END_THINK] = 1.0
    B[:, END_THINK, ANSWER] = 3.5
    B[:, ANSWER, :DIGITS] = 1.0
    B[:, :DIGITS, END_ANSWER] = 2.0
    return strength * B


def teacher_base() -> Policy:
    """The large model before any post-training: follows the template often, uses the three
    strategies about equally, and carries out a strategy's result with a moderate ``lam``."""
    return Policy(_nudged_table(MAX_LEN, 1.0), lam=1.5)


def student_base() -> Policy:
    """The small model: a bigram table (about 12x fewer parameters) with weaker nudges and a
    weaker ``lam``: it knows the same strategies, less well."""
    return Policy(_nudged_table(1, 0.6), lam=0.7)


# --------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------

@dataclass
class Samples:
    """``n`` outputs for each problem in ``problems``: ``tokens``/``mask``/``copy`` of shape
    (N, n, MAX_LEN). ``copy`` is the digit the last strategy computed (-1 before any strategy),
    i.e. the digit that gets the ``lam`` bonus at that position."""

    problems: np.ndarray
    tokens: np.ndarray
    mask: np.ndarray
    copy: np.ndarray

    def lengths(self) -> np.ndarray:
        return self.mask.sum(axis=-1)


def _check_policy(policy, name: str = "policy") -> Policy:
    if not isinstance(policy, Policy):
        raise TypeError(f"{name} must be an r1_recipe.Policy, got {describe(policy)}")
    return policy


def _check_task(task) -> Task:
    if not isinstance(task, Task):
        raise TypeError(f"task must be an r1_recipe.Task, got {describe(task)}")
    return task


def _problem_index(task: Task, problems) -> np.ndarray:
    idx = np.arange(task.n_problems) if problems is None else np.asarray(problems)
    if idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer) or idx.size == 0:
        raise ValueError(f"problems must be a non-empty 1-D array of problem indices, got "
                         f"{describe(problems)}")
    if ((idx < 0) | (idx >= task.n_problems)).any():
        raise ValueError(f"problems must lie in 0..{task.n_problems - 1}, got {describe(problems)}")
    return idx


def _logits(policy: Policy, prev: np.ndarray, copy: np.ndarray, t: Union[int, np.ndarray]) -> np.ndarray:
    """Logits for previous tokens ``prev`` and copy digits ``copy`` at positions ``t``."""
    tb = 0 if policy.B.shape[0] == 1 else t
    z = policy.B[tb, prev]  # advanced indexing: a new array
    has = copy >= 0
    if has.any():
        where = np.nonzero(has)
        z[where + (copy[has],)] += policy.lam
    return z


def sample(policy: Policy, task: Task, n: int, rng: np.random.Generator,
           problems: Optional[ArrayLike] = None, temperature: float = 1.0) -> Samples:
    """Draw ``n`` outputs per problem (all problems by default) at ``temperature``."""
    policy, task = _check_policy(policy), _check_task(task)
    n = _count(n, "n")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    temperature = positive_scalar(temperature, "temperature")
    idx = _problem_index(task, problems)
    N = len(idx)
    tok = np.zeros((N, n, MAX_LEN), dtype=np.int64)
    mask = np.zeros((N, n, MAX_LEN), dtype=bool)
    copy = np.full((N, n, MAX_LEN), -1, dtype=np.int64)
    prev = np.full((N, n), BOS)
    cur = np.full((N, n), -1)
    alive = np.ones((N, n), dtype=bool)
    u = rng.random((MAX_LEN, N, n))
    rows = np.broadcast_to(idx[:, None], (N, n))
    for t in range(MAX_LEN):
        z = _logits(policy, prev, cur, t) / temperature
        p = np.exp(z - z.max(axis=-1, keepdims=True))
        cdf = np.cumsum(p, axis=-1)
        nxt = np.minimum((cdf < u[t][..., None] * cdf[..., -1:]).sum(axis=-1), V - 1)
        tok[..., t] = np.where(alive, nxt, 0)
        mask[..., t] = alive
        copy[..., t] = np.where(alive, cur, -1)
        is_strategy = nxt >= _FIRST_STRATEGY
        cur = np.where(is_strategy, task.results[rows, np.clip(nxt - _FIRST_STRATEGY, 0, 2)], cur)
        alive = alive & (nxt != END_ANSWER)
        prev = nxt
        if not alive.any():
            break
    return Samples(problems=idx, tokens=tok, mask=mask, copy=copy)


def render(samples: Samples, i: int, j: int) -> str:
    """The text of output ``j`` of the ``i``-th problem, e.g. ``<think>[a]</think><answer>7</answer>``."""
    m = samples.mask[i, j]
    return "".join(VOCAB[t] for t in samples.tokens[i, j][m])


# --------------------------------------------------------------------------------------------
# Rule-based checkers (arXiv:2501.12948 v1 sec. 2.2.2) and the loophole
# --------------------------------------------------------------------------------------------

def final_answers(samples: Samples) -> np.ndarray:
    """The digit inside a closing ``<answer> d </answer>``, or -1 if the output does not end so."""
    tok, m = samples.tokens, samples.mask
    L = m.sum(axis=-1)

    def at(offset):
        pos = np.maximum(L - offset, 0)[..., None]
        return np.take_along_axis(tok, pos, axis=-1)[..., 0]

    ok = (L >= 3) & (at(1) == END_ANSWER) & (at(2) < DIGITS) & (at(3) == ANSWER)
    return np.where(ok, at(2), -1)


def format_ok(samples: Samples) -> np.ndarray:
    """1.0 where the output is ``<think> X+ </think> <answer> d </answer>`` (X: strategies or
    digits), else 0.0."""
    tok, m = samples.tokens, samples.mask
    L = m.sum(axis=-1)
    pos = np.arange(MAX_LEN)
    inner = (pos >= 1) & (pos < (L - 4)[..., None])
    inner_ok = np.all(np.where(inner, (tok < DIGITS) | (tok >= _FIRST_STRATEGY), True), axis=-1)
    before = np.take_along_axis(tok, np.maximum(L - 4, 0)[..., None], axis=-1)[..., 0]
    ok = (L >= 6) & (tok[..., 0] == THINK) & inner_ok & (before == END_THINK) & (final_answers(samples) >= 0)
    return ok.astype(np.float64)


def strict_accuracy(task: Task, samples: Samples) -> np.ndarray:
    """1.0 where the final ``<answer>`` digit is the gold digit (R1's rule-based accuracy)."""
    gold = task.gold[samples.problems][:, None]
    return (final_answers(samples) == gold).astype(np.float64)


def loophole_accuracy(task: Task, samples: Samples) -> np.ndarray:
    """1.0 where the gold digit appears *anywhere* in the output: a lazy checker with a loophole."""
    gold = task.gold[samples.problems][:, None, None]
    return np.any((samples.tokens == gold) & samples.mask, axis=-1).astype(np.float64)


def cot_correct(task: Task, samples: Samples) -> np.ndarray:
    """1.0 where the answer *and its reasoning* are right (CoT-correctness, Wen et al. 2025,
    arXiv:2506.14245): the final ``<answer>`` digit is the gold digit and the last strategy
    written before it computes the gold digit on this problem. A right digit with no strategy
    (a guess) or after a strategy that is wrong on the problem is strictly accurate but not
    CoT-correct."""
    task = _check_task(task)
    answers = final_answers(samples)
    gold = task.gold[samples.problems][:, None]
    # The copy digit at the answer's position: what the last strategy written so far computed.
    pos = np.maximum(samples.lengths() - 2, 0)[..., None]
    carried = np.take_along_axis(samples.copy, pos, axis=-1)[..., 0]
    return ((answers == gold) & (carried == gold)).astype(np.float64)


REWARDS: dict[str, Callable[[Task, Samples], np.ndarray]] = {
    "accuracy+format": lambda task, s: strict_accuracy(task, s) + format_ok(s),
    "accuracy": strict_accuracy,
    "loophole": loophole_accuracy,
}


# --------------------------------------------------------------------------------------------
# Log-probabilities and gradients
# --------------------------------------------------------------------------------------------

def _prev(tok: np.ndarray) -> np.ndarray:
    prev = np.empty_like(tok)
    prev[..., 0] = BOS
    prev[..., 1:] = tok[..., :-1]
    return prev


def _log_table(policy: Policy, samples: Samples) -> np.ndarray:
    """log pi(. | state) at every position, shape (N, n, MAX_LEN, V)."""
    t = np.arange(MAX_LEN)
    z = _logits(policy, _prev(samples.tokens), samples.copy, t)
    return log_softmax(z, axis=-1)


def token_logp(policy: Policy, samples: Samples) -> np.ndarray:
    """log pi(o_t | state) of every sampled token, shape (N, n, MAX_LEN); 0 at padding."""
    policy = _check_policy(policy)
    L = _log_table(policy, samples)
    lp = np.take_along_axis(L, samples.tokens[..., None], axis=-1)[..., 0]
    return np.where(samples.mask, lp, 0.0)


def policy_gradient(policy: Policy, samples: Samples, dlogp: ArrayLike) -> Policy:
    r"""Chain rule from per-token :math:`g_t = \partial J/\partial\log\pi(o_t)` to ``B`` and ``lam``.

    :math:`\partial J/\partial z_t = g_t\,(e_{o_t} - \pi_t)`; ``B[t, prev]`` collects these and
    :math:`\partial J/\partial\lambda = \sum_t g_t\,(1[o_t = r_t] - \pi_t(r_t))` over positions with
    a copy digit :math:`r_t`. Returned as a :class:`PolicyGradient` (``B``, ``lam``).
    """
    policy = _check_policy(policy)
    g = np.where(samples.mask, np.asarray(dlogp, dtype=np.float64), 0.0)
    p = np.exp(_log_table(policy, samples))
    onehot = np.zeros_like(p)
    np.put_along_axis(onehot, samples.tokens[..., None], 1.0, axis=-1)
    dz = g[..., None] * (onehot - p)  # (N, n, T, V)
    Tb = policy.B.shape[0]
    t_index = np.broadcast_to(np.arange(MAX_LEN) if Tb > 1 else np.zeros(MAX_LEN, dtype=int),
                              samples.tokens.shape)
    state = (t_index * (V + 1) + _prev(samples.tokens)).ravel()
    flat = (state[:, None] * V + np.arange(V)).ravel()
    dB = np.bincount(flat, weights=dz.reshape(-1), minlength=Tb * (V + 1) * V).reshape(Tb, V + 1, V)
    has = samples.copy >= 0
    dlam = float(np.sum(np.take_along_axis(dz, np.maximum(samples.copy, 0)[..., None], axis=-1)[..., 0][has]))
    return PolicyGradient(dB, dlam)


class PolicyGradient(NamedTuple):
    """The gradient of an objective with respect to a :class:`Policy`'s ``B`` and ``lam``."""

    B: np.ndarray
    lam: float


class _Adam:
    """Adam on (B, lam) (Kingma & Ba 2015), ascending: ``step`` adds ``lr * m_hat / (sqrt(v_hat)+eps)``."""

    def __init__(self, lr: float, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = self.v = None

    def step(self, policy: Policy, grad: PolicyGradient) -> None:
        g = np.concatenate([grad.B.ravel(), [grad.lam]])
        if self.m is None:
            self.m, self.v = np.zeros_like(g), np.zeros_like(g)
        self.t += 1
        self.m = self.b1 * self.m + (1 - self.b1) * g
        self.v = self.b2 * self.v + (1 - self.b2) * g * g
        upd = self.lr * (self.m / (1 - self.b1 ** self.t)) / (np.sqrt(self.v / (1 - self.b2 ** self.t)) + self.eps)
        policy.B += upd[:-1].reshape(policy.B.shape)
        policy.lam += float(upd[-1])


# --------------------------------------------------------------------------------------------
# GRPO (R1-Zero, reasoning RL, RL on the student, the reward-hacking loop)
# --------------------------------------------------------------------------------------------

def _grpo_direction(logp, old_logp, ref_logp, adv, mask, eps, beta) -> np.ndarray:
    """d(objective to maximise)/d logp per token, shape (N, G, T): minus the gradient of TRL's GRPO
    loss (:func:`r1lib.grpo_loss_grad`, ``loss_type="grpo"``, k3 KL), which averages over all N*G
    outputs -- the mean over prompts of DeepSeekMath eq. 3 when every group has G outputs."""
    N, G, T = logp.shape
    flat = lambda a: a.reshape(N * G, T)  # noqa: E731  (TRL's batch: one row per output)
    grad = grpo_loss_grad(flat(logp), flat(old_logp), adv.reshape(N * G), flat(mask),
                          ref_logp=flat(ref_logp), beta=beta, epsilon=eps, loss_type="grpo", kl="k3")
    return -grad.reshape(N, G, T)


ADVANTAGES = ("group", "pass@k")


@dataclass
class RLRun:
    """What :func:`grpo_train` records, one entry per step (sampled batch means)."""

    reward_name: str
    beta: float
    reward: np.ndarray = field(repr=False)
    accuracy: np.ndarray = field(repr=False)   # strict accuracy
    format: np.ndarray = field(repr=False)
    loophole: np.ndarray = field(repr=False)   # loophole checker's accuracy
    length: np.ndarray = field(repr=False)     # mean output length (tokens)
    kl: np.ndarray = field(repr=False)         # mean over outputs of sum_t k3 (sequence KL estimate)
    policy: Policy = field(repr=False)
    seconds: float = 0.0
    advantage: str = "group"   # "group" (GRPO) or "pass@k" (Chen et al.), see grpo_train
    k: int = 1                 # the k of the pass@k advantage


def grpo_train(policy: Policy, task: Task, reward: str = "accuracy+format", steps: int = 60,
               group_size: int = 16, questions: int = 32, beta: float = 0.001, eps: float = 0.2,
               lr: float = 0.1, rng: Union[int, np.random.Generator] = 0,
               reference: Optional[Policy] = None, advantage: str = "group", k: int = 1) -> RLRun:
    """GRPO from ``policy`` (regularised towards ``reference``, default: the starting policy).

    Each step draws ``questions`` problems, ``group_size`` outputs each at temperature 1 (R1-Zero:
    32 questions x 16 outputs, Nature 2025 Methods), scores them with ``REWARDS[reward]``,
    standardises rewards within each group (``ddof=1``) and takes one Adam step of size ``lr`` down
    TRL's GRPO loss (:func:`r1lib.grpo_loss`, ``loss_type="grpo"``) with the k3 KL penalty of
    weight ``beta`` (R1-Zero: 0.001).

    ``advantage="group"`` standardises the rewards as above (GRPO); ``advantage="pass@k"`` uses
    Chen et al.'s analytical pass@k advantage with this ``k`` instead (:func:`r1lib.passk_advantages`,
    arXiv:2508.10751: pass@k of the group as the objective), which needs a binary reward
    (``"accuracy"`` or ``"loophole"``) and ``1 <= k <= group_size``. The loss is the same.
    """
    policy, task = _check_policy(policy).copy(), _check_task(task)
    if reward not in REWARDS:
        raise ValueError(f"reward must be one of {sorted(REWARDS)}, got {describe(reward)}")
    steps = _count(steps, "steps", 0)
    G = _count(group_size, "group_size", 2)
    Q = _count(questions, "questions")
    if Q > task.n_problems:
        raise ValueError(f"questions must be <= the task's {task.n_problems} problems, got {Q}")
    beta = nonneg_scalar(beta, "beta")
    eps = check_clip_range(eps)
    lr = positive_scalar(lr, "lr")
    if advantage not in ADVANTAGES:
        raise ValueError(f"advantage must be one of {ADVANTAGES}, got {describe(advantage)}")
    if advantage == "pass@k":
        if reward == "accuracy+format":
            raise ValueError("advantage='pass@k' needs a binary reward ('accuracy' or 'loophole'), "
                             "got reward='accuracy+format' (values 0, 1, 2)")
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or not 1 <= k <= G:
            raise ValueError(f"k must be an integer with 1 <= k <= group_size = {G}, got {describe(k)}")
    k = int(k) if advantage == "pass@k" else 1
    ref = policy.copy() if reference is None else _check_policy(reference, "reference")
    gen = _seed(rng)
    score = REWARDS[reward]
    opt = _Adam(lr)
    hist = {name: [] for name in ("reward", "accuracy", "format", "loophole", "length", "kl")}
    start = time.perf_counter()
    for _ in range(steps):
        probs = gen.choice(task.n_problems, size=Q, replace=False)
        s = sample(policy, task, G, gen, problems=probs)
        r = score(task, s)
        adv = group_advantages(r, ddof=1) if advantage == "group" else passk_advantages(r, k)
        logp = token_logp(policy, s)
        ref_logp = token_logp(ref, s)
        dlogp = _grpo_direction(logp, logp, ref_logp, adv, s.mask, eps, beta)
        opt.step(policy, policy_gradient(policy, s, dlogp))
        hist["reward"].append(r.mean())
        hist["accuracy"].append(strict_accuracy(task, s).mean())
        hist["format"].append(format_ok(s).mean())
        hist["loophole"].append(loophole_accuracy(task, s).mean())
        hist["length"].append(s.lengths().mean())
        hist["kl"].append(np.where(s.mask, kl_k3(logp, ref_logp), 0.0).sum(axis=-1).mean())
    return RLRun(reward_name=reward, beta=beta, policy=policy, seconds=time.perf_counter() - start,
                 advantage=advantage, k=k, **{name: np.array(v) for name, v in hist.items()})


# --------------------------------------------------------------------------------------------
# Supervised fine-tuning: cold start and distillation
# --------------------------------------------------------------------------------------------

def tokenize(text: str) -> list[int]:
    """Token ids of a rendered output (the inverse of :func:`render`), e.g.
    ``"<think>[a]</think><answer>7</answer>"`` -> ``[10, 14, 11, 12, 7, 13]``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {describe(text)}")
    by_length = sorted(enumerate(VOCAB), key=lambda iv: -len(iv[1]))
    tokens, rest = [], text
    while rest:
        for i, v in by_length:
            if rest.startswith(v):
                tokens.append(i)
                rest = rest[len(v):]
                break
        else:
            raise ValueError(f"text holds something that is not a token at {rest[:20]!r} (in {text!r})")
    return tokens


def samples_from_tokens(task: Task, problems: ArrayLike, sequences: list) -> Samples:
    """Pack token sequences, one per problem in ``problems``, into :class:`Samples` with n = 1
    (the ``copy`` digits follow from the strategies each sequence writes)."""
    task = _check_task(task)
    problems = _problem_index(task, problems)
    if len(sequences) != len(problems):
        raise ValueError(f"sequences must hold one sequence per problem ({len(problems)}), got {len(sequences)}")
    N = len(sequences)
    tok = np.zeros((N, 1, MAX_LEN), dtype=np.int64)
    mask = np.zeros((N, 1, MAX_LEN), dtype=bool)
    copy = np.full((N, 1, MAX_LEN), -1, dtype=np.int64)
    for i, (q, seq) in enumerate(zip(problems, sequences)):
        seq = [int(v) for v in seq]
        if not 1 <= len(seq) <= MAX_LEN or any(not 0 <= v < V for v in seq):
            raise ValueError(f"sequences[{i}] must hold 1..{MAX_LEN} token ids in 0..{V - 1}, got {seq}")
        if END_ANSWER in seq[:-1]:
            raise ValueError(f"sequences[{i}]: </answer> ends an output, no token may follow it")
        cur = -1
        for t, v in enumerate(seq):
            tok[i, 0, t], mask[i, 0, t], copy[i, 0, t] = v, True, cur
            if v >= _FIRST_STRATEGY:
                cur = task.results[q, v - _FIRST_STRATEGY]
    return Samples(problems=problems, tokens=tok, mask=mask, copy=copy)


def curated_samples(task: Task, n: int = 12, rng: Union[int, np.random.Generator] = 0) -> Samples:
    """Cold-start data (arXiv:2501.12948 v1 sec. 2.3.1, "thousands" there; ``n`` here): for ``n``
    random problems that some strategy solves, an annotator writes
    ``<think> [s] </think> <answer> gold </answer>`` with a strategy ``s`` that works (chosen at
    random among those that do), so the data use every strategy, not only the most common one."""
    task = _check_task(task)
    n = _count(n, "n")
    gen = _seed(rng)
    solvable = np.flatnonzero(task.solved_by().any(axis=1))
    if n > len(solvable):
        raise ValueError(f"n must be <= the {len(solvable)} solvable problems, got {n}")
    problems = gen.choice(solvable, size=n, replace=False)
    seqs = []
    for q in problems:
        m = gen.choice(np.flatnonzero(task.solved_by()[q]))
        seqs.append([THINK, STRATEGIES[m], END_THINK, ANSWER, int(task.gold[q]), END_ANSWER])
    return samples_from_tokens(task, problems, seqs)


def sft(policy: Policy, data: Samples, steps: int = 100, lr: float = 0.05) -> tuple[Policy, np.ndarray]:
    """Supervised fine-tuning: ``steps`` full-batch Adam steps on the mean token log-likelihood of
    ``data`` (sequence-level distillation when ``data`` was sampled from a teacher, Kim & Rush 2016;
    R1's distilled models, sec. 2.4). Returns the new policy and the loss (mean token NLL) per step."""
    policy = _check_policy(policy).copy()
    steps = _count(steps, "steps", 0)
    lr = positive_scalar(lr, "lr")
    if not isinstance(data, Samples) or not data.mask.any():
        raise ValueError(f"data must be non-empty r1_recipe.Samples, got {describe(data)}")
    weight = np.where(data.mask, 1.0 / data.mask.sum(), 0.0)
    opt = _Adam(lr)
    losses = []
    for _ in range(steps):
        lp = token_logp(policy, data)
        losses.append(-float(np.sum(weight * lp)))
        opt.step(policy, policy_gradient(policy, data, weight))
    return policy, np.array(losses)


# --------------------------------------------------------------------------------------------
# Rejection sampling (sec. 2.3.3)
# --------------------------------------------------------------------------------------------

@dataclass
class RejectionResult:
    """Kept samples (correct and well formatted) and why the others were rejected."""

    kept: Samples
    n_per_problem: int
    n_drawn: int
    n_kept: int
    n_wrong: int        # well formatted, wrong answer
    n_bad_format: int   # not in the template (whatever the answer)
    problems_covered: int


def rejection_sample(policy: Policy, task: Task, n: int = 16,
                     rng: Union[int, np.random.Generator] = 0, temperature: float = 1.0) -> RejectionResult:
    """Sample ``n`` outputs per problem; keep those with format and strict accuracy both 1."""
    s = sample(policy, task, n, _seed(rng), temperature=temperature)
    ok_format = format_ok(s) > 0
    ok_answer = strict_accuracy(task, s) > 0
    keep = ok_format & ok_answer
    qi, ji = np.nonzero(keep)
    kept = Samples(problems=s.problems[qi], tokens=s.tokens[qi, ji][:, None],
                   mask=s.mask[qi, ji][:, None], copy=s.copy[qi, ji][:, None])
    return RejectionResult(kept=kept, n_per_problem=s.tokens.shape[1], n_drawn=int(keep.size), n_kept=int(keep.sum()),
                           n_wrong=int((ok_format & ~ok_answer).sum()),
                           n_bad_format=int((~ok_format).sum()),
                           problems_covered=int(keep.any(axis=1).sum()))


# --------------------------------------------------------------------------------------------
# Evaluation (notebook 02's metrics)
# --------------------------------------------------------------------------------------------

@dataclass
class Evaluation:
    """``n`` samples per problem at ``temperature``: counts, answers and every metric from r1lib.
    ``strategy_share``: share of outputs whose last strategy is [a], [b], [c], or none (last)."""

    name: str
    n: int
    correct: np.ndarray         # (P,) correct samples per problem
    answers: np.ndarray         # (P, n) final digits, -1 = no answer
    pass1: Estimate             # r1lib.pass_at_1: mean of c/n with the clustered SE
    ks: np.ndarray              # 1..n
    pass_k: np.ndarray          # (n,) mean over problems of r1lib.pass_at_k
    pass_k_se: np.ndarray       # (n,) clustered SE (r1lib.mean_with_se over problems)
    pass_k_per_problem: np.ndarray = field(repr=False)  # (P, n)
    maj_k: np.ndarray = field(repr=False)               # (n,) mean over problems of r1lib.maj_at_k
    format_rate: float = 0.0
    loophole_rate: float = 0.0
    mean_length: float = 0.0
    strategy_share: np.ndarray = field(default_factory=lambda: np.zeros(len(STRATEGIES) + 1), repr=False)
    examples: tuple = ()
    cot_correct: Optional[np.ndarray] = field(default=None, repr=False)  # (P,) CoT-correct samples
    cot_pass_k: Optional[np.ndarray] = field(default=None, repr=False)   # (n,) CoT-pass@k, k = 1..n


def evaluate(policy: Policy, task: Task, name: str = "", n: int = 64, temperature: float = 0.6,
             rng: Union[int, np.random.Generator] = 0) -> Evaluation:
    """R1's protocol (sec. 3, temperature 0.6; top-p 0.95 left out here): ``n`` samples per problem,
    pass@1 = mean correctness, pass@k for k = 1..n and maj@k (ties split) from the same samples;
    CoT-pass@k (Wen et al. 2025) is the same unbiased estimator on the counts of
    :func:`cot_correct` samples."""
    n = _count(n, "n")
    s = sample(policy, task, n, _seed(rng), temperature=temperature)
    correct = strict_accuracy(task, s).sum(axis=1).astype(int)
    cot = cot_correct(task, s).sum(axis=1).astype(int)
    answers = final_answers(s)
    ks = np.arange(1, n + 1)
    per_problem = pass_at_k(n, correct[:, None], ks[None, :])
    est = mean_with_se(per_problem, axis=0)
    maj = np.array([maj_at_k([None if a < 0 else int(a) for a in row], int(g), ks, ties="split")
                    for row, g in zip(answers, task.gold)])
    examples = tuple(render(s, i, 0) for i in range(min(3, len(s.problems))))
    # Which strategy an output's answer rests on: the last one it wrote (last column: none).
    last = np.where(s.mask, s.tokens, -1)
    is_strategy = last >= _FIRST_STRATEGY
    pos = np.where(is_strategy.any(axis=-1), MAX_LEN - 1 - np.argmax(is_strategy[..., ::-1], axis=-1), -1)
    which = np.where(pos >= 0, np.take_along_axis(last, np.maximum(pos, 0)[..., None], axis=-1)[..., 0]
                     - _FIRST_STRATEGY, len(STRATEGIES))
    share = np.bincount(which.ravel(), minlength=len(STRATEGIES) + 1) / which.size
    return Evaluation(name=name, n=n, correct=correct, answers=answers,
                      pass1=pass_at_1(n, correct), ks=ks, pass_k=np.asarray(est.value),
                      pass_k_se=np.asarray(est.se), pass_k_per_problem=per_problem,
                      maj_k=maj.mean(axis=0), format_rate=float(format_ok(s).mean()),
                      loophole_rate=float(loophole_accuracy(task, s).mean()),
                      mean_length=float(s.lengths().mean()), strategy_share=share, examples=examples,
                      cot_correct=cot, cot_pass_k=pass_at_k(n, cot[:, None], ks[None, :]).mean(axis=0))


def crossover_k(base: Evaluation, tuned: Evaluation, metric: str = "pass_k") -> Optional[int]:
    """The smallest k at which ``base``'s mean pass@k reaches ``tuned``'s (None if it never does,
    up to n). Yue et al. 2025 (arXiv:2504.13837): RL-tuned models win at k = 1 and the base
    catches up, then overtakes, at large k. ``metric="cot_pass_k"`` compares CoT-pass@k instead
    (Wen et al. 2025, arXiv:2506.14245)."""
    for name, ev in (("base", base), ("tuned", tuned)):
        if not isinstance(ev, Evaluation):
            raise TypeError(f"{name} must be an r1_recipe.Evaluation, got {describe(ev)}")
    if base.n != tuned.n:
        raise ValueError(f"base and tuned must use the same n, got {base.n} and {tuned.n}")
    if metric not in ("pass_k", "cot_pass_k"):
        raise ValueError(f"metric must be 'pass_k' or 'cot_pass_k', got {describe(metric)}")
    b, t = getattr(base, metric), getattr(tuned, metric)
    if b is None or t is None:
        raise ValueError(f"both evaluations need {metric} (made by r1_recipe.evaluate)")
    reached = np.flatnonzero(b >= t)
    return int(base.ks[reached[0]]) if reached.size else None


# --------------------------------------------------------------------------------------------
# The whole pipeline, cached
# --------------------------------------------------------------------------------------------

STAGES = ("base", "R1-Zero", "cold start (SFT)", "R1 (cold start + RL)", "student base",
          "student distilled", "student RL")


@dataclass
class Pipeline:
    task: Task
    policies: dict
    evaluations: dict
    runs: dict          # "R1-Zero", "R1 RL", "student RL", "hack: loophole", "hack: strict", "hack: fixed"
    cold_start_data: Samples
    cold_start_loss: np.ndarray
    rejection: RejectionResult
    distill_loss: np.ndarray
    seconds: float


@functools.lru_cache(maxsize=4)
def run_pipeline(seed: int = 0, rl_steps: int = 60, hack_steps: int = 60) -> Pipeline:
    """Every stage, seeded by ``seed`` (cached: a second call returns the same object)."""
    seed = _count(seed, "seed", 0)
    start = time.perf_counter()
    root = np.random.SeedSequence(seed)
    seeds = iter(int(s.generate_state(1)[0]) for s in root.spawn(16))
    task = make_task(rng=next(seeds))
    P = {"base": teacher_base(), "student base": student_base()}
    runs = {}
    runs["R1-Zero"] = grpo_train(P["base"], task, "accuracy+format", steps=rl_steps, rng=next(seeds))
    P["R1-Zero"] = runs["R1-Zero"].policy
    cold = curated_samples(task, rng=next(seeds))
    P["cold start (SFT)"], cold_loss = sft(P["base"], cold, steps=60, lr=0.05)
    runs["R1 RL"] = grpo_train(P["cold start (SFT)"], task, "accuracy+format", steps=rl_steps,
                               rng=next(seeds))
    P["R1 (cold start + RL)"] = runs["R1 RL"].policy
    rej = rejection_sample(P["R1 (cold start + RL)"], task, n=16, rng=next(seeds))
    P["student distilled"], distill_loss = sft(P["student base"], rej.kept, steps=60, lr=0.05)
    runs["student RL"] = grpo_train(P["student base"], task, "accuracy+format", steps=rl_steps,
                                    rng=next(seeds))
    P["student RL"] = runs["student RL"].policy
    hack_seed = next(seeds)
    # The hacking loop starts where reasoning RL starts (after the cold start), so that there is
    # true accuracy to lose; the two runs differ only in the checker.
    for name, checker in (("hack: loophole", "loophole"), ("hack: strict", "accuracy")):
        runs[name] = grpo_train(P["cold start (SFT)"], task, checker, steps=hack_steps, rng=hack_seed)
    # Then the fix: the hacked policy, trained on by the strict checker (same reference).
    runs["hack: fixed"] = grpo_train(runs["hack: loophole"].policy, task, "accuracy", steps=hack_steps,
                                     rng=next(seeds), reference=P["cold start (SFT)"])
    eval_seed = next(seeds)
    evals = {name: evaluate(P[name], task, name=name, rng=eval_seed + i) for i, name in enumerate(STAGES)}
    return Pipeline(task=task, policies=P, evaluations=evals, runs=runs, cold_start_data=cold,
                    cold_start_loss=cold_loss, rejection=rej, distill_loss=distill_loss,
                    seconds=time.perf_counter() - start)

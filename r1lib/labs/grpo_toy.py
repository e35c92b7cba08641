r"""A toy R1-Zero: GRPO trains a tiny softmax policy to answer "a+b=" in a think-then-answer format.

The task
--------
A prompt is an addition ``a+b`` with ``a, b`` in ``0..4`` (25 prompts, answers ``0..8``). The
policy writes at most :data:`MAX_LEN` tokens from a 13-token vocabulary: the digits ``0``-``9``,
``<think>``, ``</think>`` and a reasoning token ``…``. Writing a digit ends the output (the digit is
the final answer); an output that reaches :data:`MAX_LEN` tokens without a digit has no answer.

Rule-based, verifiable rewards in the spirit of DeepSeek-R1 (sec. 2.2.2 of arXiv:2501.12948):

* accuracy: 1 if the final answer is the digit ``a+b``, else 0;
* format: 1 if the output is ``<think>``, one or more ``…``, ``</think>``, then the answer digit
  (regular expression ``<think>…+</think>\d``), else 0.

The reward is their sum, in ``{0, 1, 2}``. (Unlike R1's reasoning, the ``…`` tokens carry no
computation here: the toy shows how GRPO raises a rule-based reward, not why thinking helps.)

The policy
----------
A Markov softmax policy: the next token's logits are ``B[t, prev] + D[prompt]`` where ``t`` is the
position, ``prev`` the previous token (or BOS) and ``D`` a per-prompt bias. ``B`` is shared by all
prompts, so the format (which does not depend on the prompt) is learned once; ``D`` is where the
sums live. Because the policy is Markov in ``(t, prev)``, expected rewards, the answer
distribution and the exact sequence-level KL to the reference follow from a forward pass over
states: no sampling noise in the curves.

Everything is NumPy; gradients are analytic (``d log softmax(z)_k / dz = e_k - softmax(z)``), and
the GRPO per-token objective and its gradient come from :mod:`r1lib.grpo`.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field
from typing import Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from ..validation import describe, float_array, nonneg_scalar, positive_scalar
from ..grpo import check_clip_range, group_advantages, grpo_objective, grpo_objective_grad, sequence_mean
from ..kl_estimators import kl_k3
from ..softmax import log_softmax

__all__ = [
    "VOCAB", "THINK", "END_THINK", "STEP", "BOS", "MAX_LEN", "PROMPTS", "ANSWERS",
    "render", "answers_of", "accuracy_reward", "format_reward", "total_reward",
    "ToyPolicy", "base_policy", "sample", "token_logp", "policy_gradient", "toy_objective",
    "exact_stats", "GRPORun", "train_grpo", "baseline_study", "OneBatchStudy", "one_batch_study",
]

DIGITS = 10
THINK, END_THINK, STEP = 10, 11, 12
VOCAB = tuple(str(d) for d in range(DIGITS)) + ("<think>", "</think>", "…")
V = len(VOCAB)
BOS = V  # "previous token" index at position 0
MAX_LEN = 6
PROMPTS = tuple((a, b) for a in range(5) for b in range(5))
ANSWERS = np.array([a + b for a, b in PROMPTS])
NO_ANSWER = DIGITS  # column of the answer distribution for outputs without a digit


# --------------------------------------------------------------------------------------------
# Outputs and rewards
# --------------------------------------------------------------------------------------------

def _outputs(tokens: ArrayLike, mask: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    tok = np.asarray(tokens)
    if not np.issubdtype(tok.dtype, np.integer):
        raise TypeError(f"tokens must be integer token ids, got dtype {tok.dtype}")
    m = np.asarray(mask)
    if m.dtype != bool:
        raise TypeError(f"mask must be boolean, got dtype {m.dtype}")
    if tok.shape != m.shape or tok.ndim < 1 or tok.shape[-1] != MAX_LEN:
        raise ValueError(f"tokens {tok.shape} and mask {m.shape} must have the same shape, "
                         f"ending in MAX_LEN={MAX_LEN}")
    if ((tok < 0) | (tok >= V))[m].any():
        raise ValueError(f"token ids must lie in 0..{V - 1}")
    # Outputs are prefixes: a real token never follows padding, and a digit ends the output.
    if (m[..., 1:] & ~m[..., :-1]).any() or not m[..., 0].all():
        raise ValueError("mask must be True on a non-empty prefix of each output")
    lengths = m.sum(axis=-1)
    last = np.take_along_axis(tok, (lengths - 1)[..., None], axis=-1)[..., 0]
    is_digit = (tok < DIGITS) & m
    early = is_digit.sum(axis=-1) - (last < DIGITS)
    if early.any():
        raise ValueError("a digit ends an output: no token may follow it")
    short_no_digit = (lengths < MAX_LEN) & (last >= DIGITS)
    if short_no_digit.any():
        raise ValueError("an output shorter than MAX_LEN must end with its answer digit")
    return tok, m


def render(tokens: ArrayLike, mask: ArrayLike) -> list[str] | str:
    """The text of outputs, e.g. ``"<think>……</think>7"`` (a list for several outputs)."""
    tok, m = _outputs(tokens, mask)
    if tok.ndim == 1:
        return "".join(VOCAB[t] for t in tok[m])
    return [render(t, mm) for t, mm in zip(tok.reshape(-1, MAX_LEN), m.reshape(-1, MAX_LEN))]


def answers_of(tokens: ArrayLike, mask: ArrayLike) -> np.ndarray:
    """The final answer of each output: its last digit, or -1 if it has none."""
    tok, m = _outputs(tokens, mask)
    last = np.take_along_axis(tok, (m.sum(axis=-1) - 1)[..., None], axis=-1)[..., 0]
    return np.where(last < DIGITS, last, -1)


def _prompt_index(prompt_idx: ArrayLike, shape: tuple[int, ...]) -> np.ndarray:
    idx = np.asarray(prompt_idx)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError(f"prompt_idx must hold integer prompt indices, got dtype {idx.dtype}")
    if ((idx < 0) | (idx >= len(PROMPTS))).any():
        raise ValueError(f"prompt_idx must lie in 0..{len(PROMPTS) - 1}, got {describe(prompt_idx)}")
    try:
        return np.broadcast_to(idx, shape)
    except ValueError:
        raise ValueError(f"prompt_idx of shape {idx.shape} does not broadcast to the outputs' "
                         f"shape {shape}") from None


def accuracy_reward(tokens: ArrayLike, mask: ArrayLike, prompt_idx: ArrayLike) -> np.ndarray:
    """1.0 where the final answer equals a+b of the output's prompt, else 0.0."""
    ans = answers_of(tokens, mask)
    idx = _prompt_index(prompt_idx, ans.shape)
    return (ans == ANSWERS[idx]).astype(np.float64)


def format_reward(tokens: ArrayLike, mask: ArrayLike) -> np.ndarray:
    r"""1.0 where the output is ``<think>…+</think>\d`` (one or more reasoning tokens), else 0.0."""
    tok, m = _outputs(tokens, mask)
    lengths = m.sum(axis=-1)
    pos = np.arange(MAX_LEN)
    inner = (pos >= 1) & (pos < (lengths - 2)[..., None])  # between <think> and </think>
    ok = (lengths >= 4) & (tok[..., 0] == THINK)
    ok &= np.all(np.where(inner, tok == STEP, True), axis=-1)
    second_last = np.take_along_axis(tok, np.maximum(lengths - 2, 0)[..., None], axis=-1)[..., 0]
    last = np.take_along_axis(tok, (lengths - 1)[..., None], axis=-1)[..., 0]
    ok &= (second_last == END_THINK) & (last < DIGITS)
    return ok.astype(np.float64)


def total_reward(tokens: ArrayLike, mask: ArrayLike, prompt_idx: ArrayLike) -> np.ndarray:
    """accuracy + format, in {0, 1, 2}."""
    return accuracy_reward(tokens, mask, prompt_idx) + format_reward(tokens, mask)


# --------------------------------------------------------------------------------------------
# The policy
# --------------------------------------------------------------------------------------------

@dataclass
class ToyPolicy:
    """Logits ``B[t, prev] + D[prompt]``; ``B`` has shape (MAX_LEN, V+1, V), ``D`` (25, V)."""

    B: np.ndarray
    D: np.ndarray

    def __post_init__(self) -> None:
        self.B = float_array(self.B, "B").astype(np.float64)
        self.D = float_array(self.D, "D").astype(np.float64)
        if self.B.shape != (MAX_LEN, V + 1, V):
            raise ValueError(f"B must have shape {(MAX_LEN, V + 1, V)}, got {self.B.shape}")
        if self.D.shape != (len(PROMPTS), V):
            raise ValueError(f"D must have shape {(len(PROMPTS), V)}, got {self.D.shape}")

    def copy(self) -> "ToyPolicy":
        return ToyPolicy(self.B.copy(), self.D.copy())

    def log_table(self) -> np.ndarray:
        """log pi(token | prompt, t, prev), shape (25, MAX_LEN, V+1, V)."""
        return log_softmax(self.B[None] + self.D[:, None, None, :], axis=-1)

    def flat(self) -> np.ndarray:
        return np.concatenate([self.B.ravel(), self.D.ravel()])

    @classmethod
    def from_flat(cls, theta: np.ndarray) -> "ToyPolicy":
        nb = MAX_LEN * (V + 1) * V
        return cls(theta[:nb].reshape(MAX_LEN, V + 1, V), theta[nb:].reshape(len(PROMPTS), V))


def base_policy(think: float = 2.0, answer: float = 1.0) -> ToyPolicy:
    """The "pre-trained" starting point (and GRPO's reference).

    All logits are 0 (uniform over the 13 tokens, so most outputs are a bare digit) except for
    nudges of size ``think`` towards the format (``<think>`` at the first position, ``…`` after
    ``<think>``, ``</think>`` after ``…``) and of size ``answer`` towards each prompt's correct
    digit (the base model knows a little arithmetic). With the defaults it writes the format
    about 4% of the time and answers correctly about 23% of the time.
    """
    think = nonneg_scalar(think, "think")
    answer = nonneg_scalar(answer, "answer")
    B = np.zeros((MAX_LEN, V + 1, V))
    B[0, BOS, THINK] = think
    B[:, THINK, STEP] = think
    B[:, STEP, END_THINK] = think
    D = np.zeros((len(PROMPTS), V))
    D[np.arange(len(PROMPTS)), ANSWERS] = answer
    return ToyPolicy(B, D)


def _prev_tokens(tok: np.ndarray) -> np.ndarray:
    prev = np.empty_like(tok)
    prev[..., 0] = BOS
    prev[..., 1:] = tok[..., :-1]
    return prev


def sample(policy: ToyPolicy, group_size: int, rng: np.random.Generator,
           table: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``group_size`` outputs for every prompt.

    Returns ``tokens`` (int64) and ``mask`` (bool), both of shape (25, G, MAX_LEN); padding
    positions hold token 0 and mask False.
    """
    G = _group_size(group_size)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    probs = np.exp(policy.log_table() if table is None else table)
    cdf = np.cumsum(probs, axis=-1)
    P = len(PROMPTS)
    tok = np.zeros((P, G, MAX_LEN), dtype=np.int64)
    mask = np.zeros((P, G, MAX_LEN), dtype=bool)
    prev = np.full((P, G), BOS)
    alive = np.ones((P, G), dtype=bool)
    pidx = np.arange(P)[:, None]
    u = rng.random((MAX_LEN, P, G))
    for t in range(MAX_LEN):
        c = cdf[pidx, t, prev]  # (P, G, V)
        # Inverse-CDF draw; the min guards against a last cdf entry rounded just below u.
        nxt = np.minimum((c < u[t][..., None] * c[..., -1:]).sum(axis=-1), V - 1)
        tok[..., t] = np.where(alive, nxt, 0)
        mask[..., t] = alive
        alive = alive & (nxt >= DIGITS)
        prev = nxt
    return tok, mask


def _group_size(G: int) -> int:
    if isinstance(G, (bool, np.bool_)) or not isinstance(G, numbers.Integral) or G < 2:
        raise ValueError(f"group_size must be an integer >= 2 (a group of one has no baseline), "
                         f"got {describe(G)}")
    return int(G)


def token_logp(policy: ToyPolicy, tokens: np.ndarray, mask: np.ndarray,
               table: Optional[np.ndarray] = None) -> np.ndarray:
    """log pi(o_t | prompt, t, o_{t-1}) of every token, shape (25, G, MAX_LEN); 0 at padding."""
    tok, m = _outputs(tokens, mask)
    if tok.ndim != 3 or tok.shape[0] != len(PROMPTS):
        raise ValueError(f"tokens must have shape (25, G, {MAX_LEN}), got {tok.shape}")
    L = policy.log_table() if table is None else table
    P, G, _ = tok.shape
    lp = L[np.arange(P)[:, None, None], np.arange(MAX_LEN), _prev_tokens(tok), tok]
    return np.where(m, lp, 0.0)


def policy_gradient(policy: ToyPolicy, tokens: np.ndarray, mask: np.ndarray,
                    dlogp: np.ndarray, table: Optional[np.ndarray] = None) -> ToyPolicy:
    r"""Chain rule from per-token ``dJ/dlog pi(o_t)`` to ``dJ/dB`` and ``dJ/dD``.

    With :math:`g_{t}` = ``dlogp`` and state :math:`s = (prompt, t, prev)`,
    :math:`\partial J/\partial z_s = \sum_{t \in s} g_t (e_{o_t} - \pi(\cdot|s))`; ``B`` collects
    these over prompts and ``D`` over positions. Returned as a :class:`ToyPolicy` holding the
    gradient arrays.
    """
    tok, m = _outputs(tokens, mask)
    g = np.where(m, np.asarray(dlogp, dtype=np.float64), 0.0)
    L = policy.log_table() if table is None else table
    P = len(PROMPTS)
    state = ((np.arange(P)[:, None, None] * MAX_LEN + np.arange(MAX_LEN)) * (V + 1)
             + _prev_tokens(tok))  # flat index of (prompt, t, prev)
    n_states = P * MAX_LEN * (V + 1)
    onehot = np.bincount((state * V + tok).ravel(), weights=g.ravel(),
                         minlength=n_states * V).reshape(P, MAX_LEN, V + 1, V)
    per_state = np.bincount(state.ravel(), weights=g.ravel(),
                            minlength=n_states).reshape(P, MAX_LEN, V + 1, 1)
    dz = onehot - per_state * np.exp(L)
    return ToyPolicy(dz.sum(axis=0), dz.sum(axis=(1, 2)))


def toy_objective(policy: ToyPolicy, tokens: np.ndarray, mask: np.ndarray,
                  old_logp: np.ndarray, ref_logp: np.ndarray, advantages: np.ndarray,
                  eps: float = 0.2, beta: float = 0.04) -> float:
    """The GRPO objective of a batch, averaged over the 25 prompts (what training maximises)."""
    lp = token_logp(policy, tokens, mask)
    return float(np.mean(grpo_objective(lp, old_logp, ref_logp, advantages, mask, eps, beta)))


# --------------------------------------------------------------------------------------------
# Exact quantities (forward pass over the Markov states)
# --------------------------------------------------------------------------------------------

def exact_stats(policy: ToyPolicy, reference: ToyPolicy, table: Optional[np.ndarray] = None,
                ref_table: Optional[np.ndarray] = None) -> dict[str, np.ndarray]:
    r"""Exact expectations under ``policy`` for every prompt (no sampling).

    Returns a dict of arrays over the 25 prompts: ``accuracy`` and ``format`` (probabilities that
    the rewards are 1), ``reward`` (their sum), ``kl`` (sequence-level
    :math:`KL(\pi_\theta\|\pi_{ref})` by the chain rule, :math:`\sum_t E_{s_t}[KL(\pi(\cdot|s_t)\|
    \pi_{ref}(\cdot|s_t))]`), ``answers`` (shape (25, 11): probability of each final digit, last
    column "no answer") and ``length`` (expected number of tokens). ``table``/``ref_table``
    (from :meth:`ToyPolicy.log_table`) skip recomputing the log-probabilities.
    """
    L = policy.log_table() if table is None else table
    Lr = reference.log_table() if ref_table is None else ref_table
    p = np.exp(L)
    kl_state = np.sum(p * (L - Lr), axis=-1)  # (P, T, V+1)
    P = len(PROMPTS)
    alive = np.zeros((P, V + 1))
    alive[:, BOS] = 1.0
    answers = np.zeros((P, DIGITS + 1))
    kl = np.zeros(P)
    length = np.zeros(P)
    for t in range(MAX_LEN):
        length += alive.sum(axis=1)
        kl += np.sum(alive * kl_state[:, t], axis=1)
        flow = alive[:, :, None] * p[:, t]  # (P, prev, next)
        into = flow.sum(axis=1)  # (P, next)
        answers[:, :DIGITS] += into[:, :DIGITS]
        alive = np.zeros((P, V + 1))
        alive[:, DIGITS:V] = into[:, DIGITS:]
    answers[:, NO_ANSWER] = alive.sum(axis=1)
    # Format: <think> …^k </think> digit, k = 1 .. MAX_LEN - 3.
    rows = np.arange(P)
    fmt = np.zeros(P)
    prefix = p[:, 0, BOS, THINK]
    for k in range(1, MAX_LEN - 2):
        prefix = prefix * p[:, k, THINK if k == 1 else STEP, STEP]
        close = p[:, k + 1, STEP, END_THINK]
        fmt += prefix * close * p[:, k + 2, END_THINK, :DIGITS].sum(axis=-1)
    accuracy = answers[rows, ANSWERS]
    return {"accuracy": accuracy, "format": fmt, "reward": accuracy + fmt, "kl": np.maximum(kl, 0.0),
            "answers": answers, "length": length}


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

@dataclass
class GRPORun:
    """What :func:`train_grpo` records. Arrays have one row per step, row 0 before training."""

    group_size: int
    beta: float
    eps: float
    lr: float
    inner_steps: int
    max_grad_norm: Optional[float]
    seed: Optional[int]  # None when a Generator was passed
    reward: np.ndarray = field(repr=False)        # exact expected reward, mean over prompts
    accuracy: np.ndarray = field(repr=False)      # exact P(correct), mean over prompts
    format: np.ndarray = field(repr=False)        # exact P(well-formed), mean over prompts
    kl: np.ndarray = field(repr=False)            # exact KL(pi_theta || pi_ref), mean over prompts
    answers: np.ndarray = field(repr=False)       # (steps+1, 25, 11) answer distributions
    batch_reward: np.ndarray = field(repr=False)  # mean sampled reward of each step's batch
    clip_fraction: np.ndarray = field(repr=False)  # share of tokens whose ratio left [1-eps, 1+eps]
    policy: ToyPolicy = field(repr=False)
    grad_clipped: float = 0.0  # share of updates whose gradient norm was clipped
    seconds: float = 0.0


def train_grpo(group_size: int = 8, beta: float = 0.04, eps: float = 0.2, steps: int = 80,
               lr: float = 8.0, inner_steps: int = 3, max_grad_norm: Optional[float] = 0.25,
               rng: Union[int, np.random.Generator] = 0,
               reference: Optional[ToyPolicy] = None) -> GRPORun:
    """Train the toy policy with GRPO, starting from (and regularised towards) ``reference``.

    Each step samples ``group_size`` outputs for each of the 25 prompts with the current policy
    (which becomes :math:`\\pi_{\\theta_{old}}`), scores them with :func:`total_reward`, computes
    group-relative advantages (``ddof=1``, as TRL and verl) and takes ``inner_steps`` gradient-
    ascent steps of size ``lr`` on the mean over prompts of :func:`r1lib.grpo_objective`. With
    ``inner_steps > 1`` the ratio moves away from 1 and the clip matters.

    ``rng`` is a ``numpy.random.Generator`` (consumed) or an integer seed; a run is a
    deterministic function of it. ``max_grad_norm`` rescales any update whose gradient (of the
    mean objective, over all parameters) is longer, as TRL's ``max_grad_norm`` does: ``k3``'s
    gradient ``-beta (1 - pi_ref/pi_theta)`` is unbounded when a token the policy has nearly
    ruled out is sampled, and one such step can wreck the policy (``None`` switches it off).
    """
    G = _group_size(group_size)
    beta = nonneg_scalar(beta, "beta")
    lr = positive_scalar(lr, "lr")
    eps = check_clip_range(eps)
    if max_grad_norm is not None:
        max_grad_norm = positive_scalar(max_grad_norm, "max_grad_norm")
    for name, val in (("steps", steps), ("inner_steps", inner_steps)):
        if isinstance(val, (bool, np.bool_)) or not isinstance(val, numbers.Integral) or val < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {describe(val)}")
    if inner_steps < 1:
        raise ValueError(f"inner_steps must be >= 1, got {inner_steps}")
    ref = base_policy() if reference is None else reference
    if not isinstance(ref, ToyPolicy):
        raise TypeError(f"reference must be a ToyPolicy, got {describe(ref)}")
    if isinstance(rng, np.random.Generator):
        seed = None
    elif isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)) and rng >= 0:
        seed, rng = int(rng), np.random.default_rng(int(rng))
    else:
        raise TypeError(f"rng must be a numpy.random.Generator or a non-negative integer seed, "
                        f"got {describe(rng)}")
    start = time.perf_counter()
    policy = ref.copy()
    ref_table = ref.log_table()
    P = len(PROMPTS)
    prompt_idx = np.arange(P)[:, None]
    hist = {k: [] for k in ("reward", "accuracy", "format", "kl", "answers")}
    batch_reward, clip_fraction = [], []
    n_clipped_grads = 0

    def record(table: np.ndarray) -> None:
        s = exact_stats(policy, ref, table, ref_table)
        for k in ("reward", "accuracy", "format", "kl"):
            hist[k].append(s[k].mean())
        hist["answers"].append(s["answers"])

    table = policy.log_table()
    record(table)
    for _ in range(steps):
        tok, mask = sample(policy, G, rng, table)
        old_logp = token_logp(policy, tok, mask, table)
        ref_logp = token_logp(ref, tok, mask, ref_table)
        rewards = total_reward(tok, mask, prompt_idx)
        adv = group_advantages(rewards, ddof=1)
        clipped = 0
        for k in range(inner_steps):
            logp = old_logp if k == 0 else token_logp(policy, tok, mask, table)
            rho = np.exp(logp - old_logp)
            clipped += np.count_nonzero(mask & ((rho > 1 + eps) | (rho < 1 - eps)))
            dlogp = grpo_objective_grad(logp, old_logp, ref_logp, adv, mask, eps, beta)
            grad = policy_gradient(policy, tok, mask, dlogp, table)
            # Mean over prompts: each prompt's objective is already a mean over its group.
            scale = 1.0 / P
            if max_grad_norm is not None:
                norm = scale * np.sqrt(np.sum(grad.B ** 2) + np.sum(grad.D ** 2))
                if norm > max_grad_norm:
                    scale *= max_grad_norm / norm
                    n_clipped_grads += 1
            policy.B += (lr * scale) * grad.B
            policy.D += (lr * scale) * grad.D
            table = policy.log_table()
        batch_reward.append(rewards.mean())
        clip_fraction.append(clipped / (inner_steps * np.count_nonzero(mask)))
        record(table)
    return GRPORun(group_size=G, beta=beta, eps=eps, lr=lr, inner_steps=int(inner_steps),
                   max_grad_norm=max_grad_norm, seed=seed, reward=np.array(hist["reward"]),
                   accuracy=np.array(hist["accuracy"]), format=np.array(hist["format"]),
                   kl=np.array(hist["kl"]), answers=np.array(hist["answers"]),
                   batch_reward=np.array(batch_reward), clip_fraction=np.array(clip_fraction),
                   policy=policy, grad_clipped=n_clipped_grads / max(1, steps * inner_steps),
                   seconds=time.perf_counter() - start)


# --------------------------------------------------------------------------------------------
# Studies behind notebook 04's figures
# --------------------------------------------------------------------------------------------

BASELINE_SIGNALS = ("no baseline", "exact critic V(q)", "group (leave-one-out)", "score, sum",
                    "score, 1/|o|")


def baseline_study(policy: ToyPolicy, group_size: int, n_batches: int,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    r"""One batch's REINFORCE gradient of the expected reward, with different per-output signals.

    For each of ``n_batches`` batches (``group_size`` outputs for each of the 25 prompts, drawn
    from ``policy``), the gradient :math:`\frac{1}{G}\sum_i s_i \sum_t \nabla\log\pi(o_{i,t})`
    averaged over prompts, for the signals :math:`s_i`:

    * ``"no baseline"``: :math:`r_i`;
    * ``"exact critic V(q)"``: :math:`r_i - V(q)` with the exact value from :func:`exact_stats`;
    * ``"group (leave-one-out)"``: :math:`\frac{G}{G-1}(r_i - \bar r) = r_i - \mathrm{mean}_{j\ne i} r_j`;
    * ``"score, sum"``: :math:`1` (the score function, whose mean is 0);
    * ``"score, 1/|o|"``: :math:`1/|o_i|` (the length-normalised score, whose mean is not 0).

    The first three are unbiased estimates of :math:`\nabla E[r]`.

    Returns
    -------
    dict of str to numpy.ndarray
        Per signal, an array (n_batches, number of parameters) of flattened gradients (B, then D).
    """
    G = _group_size(group_size)
    if isinstance(n_batches, (bool, np.bool_)) or not isinstance(n_batches, numbers.Integral) \
            or n_batches < 2:
        raise ValueError(f"n_batches must be an integer >= 2 (a variance needs two), got {describe(n_batches)}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    value = exact_stats(policy, policy)["reward"][:, None]  # V(q) = E[r | q], exactly
    prompts = np.arange(len(PROMPTS))[:, None]
    table = policy.log_table()
    out: dict[str, list] = {name: [] for name in BASELINE_SIGNALS}
    for _ in range(int(n_batches)):
        tok, mask = sample(policy, G, rng, table)
        r = total_reward(tok, mask, prompts)
        lengths = mask.sum(axis=-1, keepdims=True)
        per_token = {"no baseline": r[..., None] / G,
                     "exact critic V(q)": (r - value)[..., None] / G,
                     "group (leave-one-out)": (r - r.mean(axis=1, keepdims=True))[..., None] / (G - 1),
                     "score, sum": np.ones_like(lengths) / G,
                     "score, 1/|o|": 1.0 / (G * lengths)}
        for name, d in per_token.items():
            g = policy_gradient(policy, tok, mask, np.where(mask, d, 0.0), table)
            out[name].append(np.r_[g.B.ravel(), g.D.ravel()] / len(PROMPTS))
    return {name: np.array(v) for name, v in out.items()}


@dataclass
class OneBatchStudy:
    """One sampled batch of G outputs (own softmax per token) and the policies reached by moving
    the logits a distance ``s`` along the on-policy surrogate gradient (:func:`one_batch_study`).

    Arrays over the grid have a leading axis of ``s.size``; tokens are (G, T) with ``mask``.
    """

    s: np.ndarray            # (S,) step sizes along the ascent direction
    mask: np.ndarray         # (G, T) real tokens
    advantages: np.ndarray   # (G,)
    old_logp: np.ndarray     # (G, T) log pi_theta_old of the sampled tokens
    ref_logp: np.ndarray     # (G, T) log pi_ref
    logp: np.ndarray         # (S, G, T) log pi_theta at every step size
    unclipped: np.ndarray    # (S,) sequence mean of rho * A (no clip)
    kl: np.ndarray           # (S,) sequence mean of k3 (per token)

    def ratio(self) -> np.ndarray:
        """rho = pi_theta / pi_theta_old, shape (S, G, T)."""
        return np.exp(self.logp - self.old_logp)

    def objective(self, eps: float, beta: float) -> np.ndarray:
        """DeepSeekMath eq. 3 at every step size, shape (S,)."""
        S = self.s.size
        return grpo_objective(self.logp, np.broadcast_to(self.old_logp, self.logp.shape),
                              np.broadcast_to(self.ref_logp, self.logp.shape),
                              np.broadcast_to(self.advantages, (S,) + self.advantages.shape),
                              np.broadcast_to(self.mask, self.logp.shape), eps=eps, beta=beta)

    def gradient(self, k: int, eps: float, beta: float) -> np.ndarray:
        """dJ/dlog pi_theta per token at grid point ``k``, shape (G, T); 0 at padding."""
        return grpo_objective_grad(self.logp[k], self.old_logp, self.ref_logp, self.advantages,
                                   self.mask, eps=eps, beta=beta)

    def clipped(self, k: int, eps: float) -> np.ndarray:
        """Tokens whose clip is active at grid point ``k`` (gradient of the surrogate 0), (G, T)."""
        rho, A = self.ratio()[k], self.advantages[:, None]
        return self.mask & (((A > 0) & (rho > 1 + eps)) | ((A < 0) & (rho < 1 - eps)))


def one_batch_study(rng: np.random.Generator, lengths=(3, 6, 2, 5), rewards=(2.0, 0.0, 1.0, 0.0),
                    vocab: int = 5, n_steps: int = 51) -> OneBatchStudy:
    """A batch sampled from a random old policy (one softmax over ``vocab`` tokens per position),
    a reference 0.5 logit-noise away, group advantages of ``rewards`` (ddof=1), and the policies
    ``z_old + s * d`` for ``s`` in [0, 1], where ``d`` is the on-policy gradient of the clipped
    surrogate (beta = 0) with respect to the logits, scaled to max |d| = 1.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or len(lengths) != len(rewards) or lengths.min() < 1:
        raise ValueError(f"lengths must be positive, one per reward; got {lengths!r} and {rewards!r}")
    G, T = len(lengths), int(lengths.max())
    mask = np.arange(T) < lengths[:, None]
    z_old = rng.normal(size=(G, T, vocab))
    z_ref = z_old + 0.5 * rng.normal(size=(G, T, vocab))
    p_old = np.exp(log_softmax(z_old))
    # Inverse-CDF draws from each position's softmax (one uniform per token).
    u = rng.random((G, T, 1))
    tok = np.minimum((np.cumsum(p_old, axis=-1) < u).sum(axis=-1), vocab - 1)

    def pick(z):  # log-probability of the sampled tokens, any leading axes
        logp_all = log_softmax(z)
        index = np.broadcast_to(tok[..., None], logp_all.shape[:-1] + (1,))
        return np.take_along_axis(logp_all, index, -1)[..., 0]

    old, ref = pick(z_old), pick(z_ref)
    adv = group_advantages(np.asarray(rewards, dtype=float))
    g_tok = grpo_objective_grad(old, old, ref, adv, mask, beta=0.0)
    direction = g_tok[..., None] * (np.eye(vocab)[tok] - p_old)   # chain rule to the logits
    direction /= np.abs(direction).max()
    s = np.linspace(0.0, 1.0, n_steps)
    lp = pick(z_old[None] + s[:, None, None, None] * direction[None])
    m = np.broadcast_to(mask, lp.shape)
    unclipped = sequence_mean(np.exp(lp - old) * adv[:, None], m)
    kl = sequence_mean(kl_k3(lp, np.broadcast_to(ref, lp.shape)), m)
    return OneBatchStudy(s=s, mask=mask, advantages=adv, old_logp=old, ref_logp=ref, logp=lp,
                         unclipped=unclipped, kl=kl)

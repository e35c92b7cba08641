r"""Where the KL goes: the gradient of the sequence-level KL, and what each placement of the
per-token estimators really follows.

Setting: the toy autoregressive policy :class:`r1lib.labs.kl_studies.MarkovPolicy` (the next token
depends on the previous one), sequences :math:`o = (o_1, \dots, o_T) \sim \pi_\theta`, and the
per-token log-ratio :math:`\delta_t = \log\pi_\theta(o_t\mid o_{t-1}) - \log\pi_{ref}(o_t\mid o_{t-1})`
(:math:`= k_1 = -\log r_t`, notebook 03's :math:`r_t = \pi_{ref}/\pi_\theta`). The sequence KL is

.. math:: KL_T(\theta) = \mathbb{E}_{o\sim\pi_\theta}\Big[\sum_{t=1}^T \delta_t\Big].

**Per position.** Give every position its own copy of the logits (a transformer's output at
position t is its own function of the prefix; the gradient of a shared table is the sum of the
copies' gradients, :meth:`SequenceGrads.tied`). The gradient with respect to the copy used at
position t, by the score-function identity (the pathwise term
:math:`\mathbb{E}[\sum_s\nabla\delta_s] = \mathbb{E}[\sum_s\nabla\log\pi_\theta(o_s)] = 0`, and the
terms with :math:`s < t` vanish because they are fixed before :math:`o_t` is drawn), is

.. math:: \nabla_t KL_T = \mathbb{E}\Big[\nabla_t\log\pi_\theta(o_t\mid o_{t-1})\,\sum_{s\ge t}\delta_s\Big]
          = \mathbb{E}_{o_{t-1}}\Big[\sum_{o}\pi_\theta(o\mid o_{t-1})\,(e_o - \pi_\theta(\cdot\mid o_{t-1}))
            \big(\delta(o_{t-1}, o) + F_t(o)\big)\Big],

with :math:`F_t(o)` the expected KL of the positions after t given :math:`o_t = o` (the *future
KL*, a backward recursion). The :math:`F_t` part is the score-function (reward-to-go) term: it
says that the token chosen at t changes which later positions are visited.

**Placements.** Every way of putting the KL into training gives a per-sample gradient
:math:`\sum_t c_t\,\nabla_t\log\pi_\theta(o_t\mid o_{t-1})` with a coefficient :math:`c_t`
(:func:`placement_coefficients`; the tokens are held fixed by autograd in a loss, and the reward is
a constant in REINFORCE):

================  ==================================  =============================================
placement         :math:`c_t`                         expected gradient (on-policy)
================  ==================================  =============================================
``"k1 reward"``   :math:`\sum_{s\ge t}\delta_s`        :math:`\nabla KL_T(\pi_\theta\|\pi_{ref})`: unbiased
``"k3 reward"``   :math:`\sum_{s\ge t}k_3(r_s)`        that minus the ``"k3 loss"`` row: biased
``"k1 loss"``     :math:`1`                            0
``"k2 loss"``     :math:`\delta_t`                     the per-token KL's gradient with the prefix
                                                      held fixed (no :math:`F_t`): exact only at
                                                      the last position
``"k3 loss"``     :math:`1 - r_t`                      per position :math:`\pi_\theta - \pi_{ref}`,
                                                      the reverse per-token KL's gradient, prefixes
                                                      from :math:`\pi_\theta`
================  ==================================  =============================================

(``"k3 reward"``: :math:`\mathbb{E}[k_3(r_s)\mid o_{s-1}] = \mathbb{E}[\delta_s\mid o_{s-1}]`, so
the future parts agree with ``"k1 reward"``; the current token adds
:math:`\mathbb{E}[(r_t - 1)(e_{o_t} - \pi_\theta)] = \pi_{ref} - \pi_\theta`.) verl's ``"k3+"`` and
the importance-weighted k3 of DeepSeek-V3.2 / TRL's ``use_bias_correction_kl`` have the gradient of
``"k2 loss"`` on-policy. Tang & Munos 2025 (arXiv:2506.09477) and Shah et al. 2025, "A Comedy of
Estimators" (arXiv:2512.21852) make these points; the tests check every row against brute force
over all :math:`V^T` sequences.

Every function takes the policy that samples (:math:`\pi_\theta`) first and the reference second.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from ..kl_estimators import kl_k3
from ..validation import describe, float_array, int_array
from .kl_studies import MarkovPolicy

__all__ = [
    "PLACEMENTS", "SequenceGrads", "sequence_kl_grads", "expected_placement_grads",
    "placement_coefficients", "score_rows", "position_samples", "sampled_placement_grads",
    "relative_errors", "PlacementProfile", "placement_profile",
]

#: The placements studied, in the order the notebook and the panel show them.
PLACEMENTS = ("k1 reward", "k3 reward", "k1 loss", "k2 loss", "k3 loss")


class SequenceGrads(NamedTuple):
    r"""A gradient with respect to the logits of each position of a length-T Markov policy.

    ``first`` (shape ``(V,)``) belongs to the logits of :math:`o_1`; ``steps[t - 2]`` (shape
    ``(V, V)``) to the logits used at position ``t >= 2``, row ``a`` after the token ``a``.
    """

    first: np.ndarray
    steps: np.ndarray

    @property
    def length(self) -> int:
        return 1 + self.steps.shape[0]

    def position(self, t: int) -> np.ndarray:
        """The gradient of position ``t`` (1-based): shape ``(V,)`` for t = 1, ``(V, V)`` after."""
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or not 1 <= t <= self.length:
            raise ValueError(f"t must be an integer position in 1..{self.length}, got {describe(t)}")
        return self.first if t == 1 else self.steps[t - 2]

    def tied(self) -> tuple[np.ndarray, np.ndarray]:
        """The gradient with respect to the *shared* ``(first_logits, next_logits)`` of a
        :class:`MarkovPolicy` (every position after the first uses the same table): the copies'
        gradients summed."""
        return self.first, self.steps.sum(axis=0)

    def along(self, direction: MarkovPolicy) -> np.ndarray:
        r"""Per-position derivatives along ``direction``, shape ``(T,)``: entry t is
        :math:`\langle \nabla_t, d_t\rangle`; their sum is the derivative of the objective along
        the path ``policy.shifted(direction, s)``."""
        _policy(direction, "direction")
        if direction.vocab_size != self.first.size:
            raise ValueError(f"direction has {direction.vocab_size} tokens, the gradient {self.first.size}")
        rest = np.einsum("tab,ab->t", self.steps, direction.next_logits)
        return np.concatenate([[self.first @ direction.first_logits], rest])

    def norms(self) -> np.ndarray:
        """The Euclidean norm of each position's gradient, shape ``(T,)``."""
        return np.concatenate([[np.linalg.norm(self.first)],
                               np.sqrt(np.sum(self.steps ** 2, axis=(1, 2)))])


def _policy(value: object, name: str) -> MarkovPolicy:
    if not isinstance(value, MarkovPolicy):
        raise TypeError(f"{name} must be a MarkovPolicy, got {describe(value)}")
    return value


def _pair(policy: object, ref: object) -> tuple[MarkovPolicy, MarkovPolicy]:
    pol, rf = _policy(policy, "policy"), _policy(ref, "ref")
    if pol.vocab_size != rf.vocab_size:
        raise ValueError(f"policy and ref have different vocabularies: {pol.vocab_size} vs {rf.vocab_size}")
    return pol, rf


def _length(length: object) -> int:
    if isinstance(length, (bool, np.bool_)) or not isinstance(length, (int, np.integer)):
        raise TypeError(f"length must be an integer, got {describe(length)}")
    if int(length) < 1:
        raise ValueError(f"length must be >= 1, got {int(length)}")
    return int(length)


class _Tables(NamedTuple):
    """Everything the expectations need, per position (0-based j = t - 1)."""

    p1: np.ndarray       # (V,)   pi_theta(o_1)
    p: np.ndarray        # (V, V) pi_theta(o_t = b | o_{t-1} = a)
    delta1: np.ndarray   # (V,)   log-ratio of o_1
    delta: np.ndarray    # (V, V) log-ratio of (a -> b)
    k3_1: np.ndarray     # (V,)   k3 of o_1
    k3: np.ndarray       # (V, V) k3 of (a -> b)
    context: np.ndarray  # (T, V) context[j]: distribution of o_{j} (the token before position j+1); row 0 unused
    future: np.ndarray   # (T, V) future[j](b): expected KL of positions after j+1 given o_{j+1} = b


def _tables(policy: MarkovPolicy, ref: MarkovPolicy, length: int) -> _Tables:
    p1, p = np.exp(policy.first_logp), np.exp(policy.next_logp)
    delta1 = policy.first_logp - ref.first_logp
    delta = policy.next_logp - ref.next_logp
    row_kl = np.sum(p * delta, axis=1)                       # KL of the next token after a
    v = p1.size
    future = np.zeros((length, v))
    for j in range(length - 2, -1, -1):                      # backward: F_j = KL_row + P F_{j+1}
        future[j] = row_kl + p @ future[j + 1]
    context = np.zeros((length, v))
    if length > 1:
        context[1] = p1
        for j in range(2, length):                           # forward: m_j = m_{j-1} P
            context[j] = context[j - 1] @ p
    k3_1, k3 = kl_k3(policy.first_logp, ref.first_logp), kl_k3(policy.next_logp, ref.next_logp)
    return _Tables(p1, p, delta1, delta, k3_1, k3, context, future)


def _score_expectation(probs: np.ndarray, values: np.ndarray) -> np.ndarray:
    r""":math:`\sum_o \pi(o)\,(e_o - \pi)\,v(o) = \pi \odot (v - \sum_o \pi v)`, row-wise."""
    return probs * (values - np.sum(probs * values, axis=-1, keepdims=True))


def _placement_values(name: str, tab: _Tables, j: int) -> tuple[np.ndarray, np.ndarray]:
    r"""``E[c_t | o_{t-1}, o_t]`` of a placement at position ``j + 1``: the first token's ``(V,)``
    and the later positions' ``(V, V)`` table (rows: the previous token); only one is used."""
    d1, d = tab.delta1, tab.delta
    if name == "k1 reward":
        return d1 + tab.future[0], d + tab.future[j][None, :]
    if name == "k3 reward":  # E[k3 of later tokens | o_t] = their expected KL = the future term
        return tab.k3_1 + tab.future[0], tab.k3 + tab.future[j][None, :]
    if name == "k1 loss":
        return np.ones_like(d1), np.ones_like(d)
    if name == "k2 loss":
        return d1, d
    return -np.expm1(-d1), -np.expm1(-d)                     # "k3 loss": 1 - r


def _expected(name: str, tab: _Tables, length: int) -> SequenceGrads:
    first_values, _ = _placement_values(name, tab, 0)
    first = _score_expectation(tab.p1, first_values)
    steps = np.empty((length - 1, tab.p1.size, tab.p1.size))
    for j in range(1, length):
        _, values = _placement_values(name, tab, j)
        steps[j - 1] = tab.context[j][:, None] * _score_expectation(tab.p, values)
    return SequenceGrads(first, steps)


def sequence_kl_grads(policy: MarkovPolicy, ref: MarkovPolicy, length: int) -> SequenceGrads:
    r"""The exact gradient of the sequence KL :math:`KL_T(\pi_\theta\|\pi_{ref})` over ``length``
    tokens, per position (see the module): forward context marginals and backward future KLs,
    :math:`O(T V^2)` instead of the :math:`V^T` terms of the sum.

    At position t, after the token a:
    :math:`m_t(a)\,\pi_\theta(\cdot\mid a) \odot \big(Q_t(a,\cdot) - \sum_b\pi_\theta(b\mid a)Q_t(a,b)\big)`
    with :math:`Q_t(a,b) = \delta(a,b) + F_t(b)` and :math:`m_t` the distribution of :math:`o_{t-1}`.
    """
    pol, rf = _pair(policy, ref)
    n = _length(length)
    return _expected("k1 reward", _tables(pol, rf, n), n)


def expected_placement_grads(policy: MarkovPolicy, ref: MarkovPolicy,
                             length: int) -> dict[str, SequenceGrads]:
    r"""Exact on-policy expectation of each placement's gradient (:data:`PLACEMENTS`), per position.

    Each is :math:`\mathbb{E}[\sum_t c_t \nabla_t\log\pi_\theta(o_t\mid o_{t-1})]` with the
    coefficients of :func:`placement_coefficients`, summed exactly: position t after token a gets
    :math:`m_t(a)\,\pi_\theta(\cdot\mid a)\odot(v - \pi_\theta(\cdot\mid a)\cdot v)` where
    :math:`v(b) = \mathbb{E}[c_t\mid o_{t-1}=a, o_t=b]`. The module's table says what each equals.
    """
    pol, rf = _pair(policy, ref)
    n = _length(length)
    tab = _tables(pol, rf, n)
    return {name: _expected(name, tab, n) for name in PLACEMENTS}


def _tokens(policy: MarkovPolicy, tokens: ArrayLike) -> np.ndarray:
    tok = int_array(tokens, "tokens")
    if tok.ndim != 2 or tok.shape[1] < 1:
        raise ValueError(f"tokens must have shape (n, T) with T >= 1, got {tok.shape}")
    if (tok < 0).any() or (tok >= policy.vocab_size).any():
        raise ValueError(f"tokens must lie in [0, {policy.vocab_size}), got range [{tok.min()}, {tok.max()}]")
    return tok


def placement_coefficients(policy: MarkovPolicy, ref: MarkovPolicy,
                           tokens: ArrayLike) -> dict[str, np.ndarray]:
    r"""Per-sample coefficients :math:`c_t` of :math:`\nabla_t\log\pi_\theta(o_t\mid o_{t-1})`
    for every placement, shape ``(n, T)`` each, for sequences ``tokens`` drawn from ``policy``.

    * ``"k1 reward"``: the reward-to-go :math:`\sum_{s\ge t}\delta_s` (REINFORCE with reward
      :math:`-\beta k_1` per token; what it multiplies is constant for the gradient);
    * ``"k3 reward"``: :math:`\sum_{s\ge t}k_3(r_s)`;
    * ``"k1 loss"``: :math:`\partial k_1/\partial\log\pi_\theta = 1`;
    * ``"k2 loss"``: :math:`\partial k_2/\partial\log\pi_\theta = \delta_t`;
    * ``"k3 loss"``: :math:`\partial k_3/\partial\log\pi_\theta = 1 - r_t`
      (:math:`k_3 = e^{-\delta} - 1 + \delta`).
    """
    pol, rf = _pair(policy, ref)
    tok = _tokens(pol, tokens)
    logp, ref_logp = pol.token_logprobs(tok), rf.token_logprobs(tok)
    delta, k3 = logp - ref_logp, kl_k3(logp, ref_logp)
    to_go = lambda x: np.cumsum(x[:, ::-1], axis=1)[:, ::-1]  # noqa: E731  (sum over s >= t)
    return {"k1 reward": to_go(delta), "k3 reward": to_go(k3), "k1 loss": np.ones_like(delta),
            "k2 loss": delta, "k3 loss": -np.expm1(-delta)}


def score_rows(policy: MarkovPolicy, tokens: ArrayLike) -> np.ndarray:
    r""":math:`\nabla\log\pi_\theta(o_t\mid o_{t-1})` with respect to the logit row used at each
    position, :math:`e_{o_t} - \pi_\theta(\cdot\mid o_{t-1})`: shape ``(n, T, V)``."""
    pol = _policy(policy, "policy")
    tok = _tokens(pol, tokens)
    n, length = tok.shape
    v = pol.vocab_size
    probs = np.empty((n, length, v))
    probs[:, 0] = np.exp(pol.first_logp)
    probs[:, 1:] = np.exp(pol.next_logp)[tok[:, :-1]]
    rows = -probs
    np.add.at(rows, (np.arange(n)[:, None], np.arange(length)[None, :], tok), 1.0)
    return rows


def position_samples(policy: MarkovPolicy, ref: MarkovPolicy, tokens: ArrayLike,
                     t: int) -> dict[str, np.ndarray]:
    r"""Per-sequence gradients of every placement with respect to the logits of position ``t``.

    Shape ``(n, V)`` for t = 1; ``(n, V, V)`` for t >= 2, where sequence i fills only the row of
    its previous token :math:`o_{t-1}` with :math:`c_t\,(e_{o_t} - \pi_\theta(\cdot\mid o_{t-1}))`.
    The mean over the n sequences estimates ``expected_placement_grads(...)[name].position(t)``;
    the spread gives its standard error.
    """
    pol, rf = _pair(policy, ref)
    tok = _tokens(pol, tokens)
    n, length = tok.shape
    if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or not 1 <= t <= length:
        raise ValueError(f"t must be an integer position in 1..{length}, got {describe(t)}")
    rows = score_rows(pol, tok)[:, t - 1]                                # (n, V)
    out = {}
    for name, coef in placement_coefficients(pol, rf, tok).items():
        g = coef[:, t - 1, None] * rows
        if t == 1:
            out[name] = g
        else:
            full = np.zeros((n, pol.vocab_size, pol.vocab_size))
            full[np.arange(n), tok[:, t - 2]] = g
            out[name] = full
    return out


def sampled_placement_grads(policy: MarkovPolicy, ref: MarkovPolicy,
                            tokens: ArrayLike) -> dict[str, SequenceGrads]:
    """Each placement's gradient averaged over the sequences ``tokens`` (n, T): the Monte Carlo
    counterpart of :func:`expected_placement_grads` (what a batch of n on-policy samples gives)."""
    pol, rf = _pair(policy, ref)
    tok = _tokens(pol, tokens)
    length = tok.shape[1]
    per_position = [position_samples(pol, rf, tok, t) for t in range(1, length + 1)]
    steps = lambda name: (np.stack([ps[name].mean(axis=0) for ps in per_position[1:]])  # noqa: E731
                          if length > 1 else np.zeros((0, pol.vocab_size, pol.vocab_size)))
    return {name: SequenceGrads(per_position[0][name].mean(axis=0), steps(name)) for name in PLACEMENTS}


def relative_errors(grads: SequenceGrads, truth: SequenceGrads) -> np.ndarray:
    r"""Per position, :math:`\lVert g_t - \nabla_t\rVert / \lVert\nabla_t\rVert`, shape ``(T,)``.

    0 means the placement follows the exact gradient at that position, 1 is what a zero gradient
    scores. Where the exact gradient is zero (the policy equals the reference) the error is 0 if
    ``grads`` is zero there too and ``inf`` otherwise.
    """
    for name, g in (("grads", grads), ("truth", truth)):
        if not isinstance(g, SequenceGrads):
            raise TypeError(f"{name} must be a SequenceGrads, got {describe(g)}")
    if grads.first.shape != truth.first.shape or grads.steps.shape != truth.steps.shape:
        raise ValueError(f"grads and truth differ in shape: {grads.steps.shape} vs {truth.steps.shape}")
    diff = SequenceGrads(grads.first - truth.first, grads.steps - truth.steps).norms()
    size = truth.norms()
    return np.where(size > 0, diff / np.where(size > 0, size, 1.0), np.where(diff > 0, np.inf, 0.0))


class PlacementProfile(NamedTuple):
    """What the placement panel shows at one gap and one position.

    ``relative_error``: per placement, :func:`relative_errors` of its expected gradient, ``(T,)``.
    ``truth``: the exact gradient of the sequence KL at ``position``, flattened (``V`` entries for
    position 1, ``V * V`` after: entry ``a * V + b`` is the logit of token b after token a).
    ``expected``, ``mc_mean``, ``mc_se``: per placement, the same entries: exact expectation, and
    mean and standard error over the sampled sequences. ``kl``: the sequence KL.
    """

    relative_error: dict
    truth: np.ndarray
    expected: dict
    mc_mean: dict
    mc_se: dict
    kl: float


def placement_profile(ref: MarkovPolicy, direction: MarkovPolicy, shift: float, u: ArrayLike,
                      position: int = 1) -> PlacementProfile:
    r"""Everything the placement panel shows for the policy ``ref.shifted(direction, shift)``.

    Sequences of length ``T = u.shape[1]`` are drawn with the uniforms ``u`` (shape ``(n, T)``,
    n >= 2; the same ``u`` for every shift, so the Monte Carlo part moves smoothly).
    """
    rf = _policy(ref, "ref")
    pol = rf.shifted(direction, shift)
    uu = float_array(u, "u", min_ndim=2)
    if uu.ndim != 2 or uu.shape[0] < 2:
        raise ValueError(f"u must have shape (n, T) with n >= 2, got {uu.shape}")
    length = uu.shape[1]
    tab = _tables(pol, rf, length)
    exact = {name: _expected(name, tab, length) for name in PLACEMENTS}
    truth = exact["k1 reward"]
    samples = position_samples(pol, rf, pol.sample(uu), position)
    n = uu.shape[0]
    flat = lambda g: np.ravel(g.position(position))  # noqa: E731
    kl = float(np.sum(tab.p1 * tab.delta1) + np.sum(tab.context[1:] @ np.sum(tab.p * tab.delta, axis=1)))
    return PlacementProfile(
        {name: relative_errors(g, truth) for name, g in exact.items()}, flat(truth),
        {name: flat(g) for name, g in exact.items()},
        {name: v.reshape(n, -1).mean(axis=0) for name, v in samples.items()},
        {name: v.reshape(n, -1).std(axis=0, ddof=1) / np.sqrt(n) for name, v in samples.items()}, kl)

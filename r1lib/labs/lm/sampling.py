r"""Sampling from the tiny transformer, and scoring given completions by one forward pass.

Token level: :func:`sample` (prompts as arrays of ids, batched over all prompts x ``n``, with a
key/value cache) and :func:`completion_log_probs` (the log-probs of given completions, with a
``backward`` for training). Text level, the names notebooks use: :func:`generate` and
:func:`log_probs`.

**Which log-probs.** Sampling draws from the *sampling distribution*: the model's softmax at
temperature :math:`T`, cut to the top-p nucleus and renormalised. The log-probs returned as
``Samples.logp`` (and by :func:`completion_log_probs`, :func:`log_probs`) are the *policy's*:
:math:`\log \pi_\theta(o_t \mid q, o_{<t})` at temperature 1 over the whole vocabulary, whatever
``temperature`` and ``top_p`` were. That is the quantity GRPO's ratio
:math:`\pi_\theta / \pi_{\theta_{old}}` and its KL estimators are written in (DeepSeekMath eq. 3),
so ``Samples.logp`` can serve directly as ``old_logp`` and equals what a training forward pass
recomputes (to rounding) before any update. The log-prob under the sampling distribution itself
is kept beside it as ``Samples.sampling_logp`` (for importance weights or checks). With
``temperature=1, top_p=1`` (R1-Zero's rollouts: temperature 1, DeepSeek-R1, Nature 2025 version,
Methods) the two coincide. (TRL's GRPOTrainer instead divides the logits by the sampling
temperature in ``_get_per_token_logps``, for the old and the new log-probs alike, i.e. it trains
the tempered policy; at T = 1 the two conventions agree.)

**Layout.** Prompts are left-padded to a common length ``P`` (``attention_mask`` False at the
pads, positions counted from each prompt's first token) so that all completions start in column
``P``; completions are right-padded with ``<pad>`` after their end.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from ...softmax import log_softmax
from ...validation import check_int, describe, float_array, positive_scalar
from .model import Transformer
from .tokens import EOS, PAD, check_token_ids, decode, encode

__all__ = ["Samples", "ScoredCompletions", "sample", "completion_log_probs", "generate", "log_probs",
           "top_p_mask"]


@dataclass
class Samples:
    """What :func:`sample` returns; row ``r`` continues prompt ``prompt_index[r]`` (= ``r // n``).

    completions : (N, L) int
        Sampled token ids, ``<pad>`` after each row's end; a row that stopped by itself ends with
        ``<eos>`` (counted in its length).
    lengths : (N,) int
    logp : (N, L) float
        Log-prob of each sampled token under the model at temperature 1 (the policy), 0 at pads.
    sampling_logp : (N, L) float
        Log-prob under the distribution actually sampled from (temperature, top-p), 0 at pads.
    stopped : (N,) bool
        True where the row sampled ``<eos>``; False where it hit ``max_new_tokens`` or the context.
    """
    prompt_index: np.ndarray
    completions: np.ndarray
    lengths: np.ndarray
    logp: np.ndarray
    sampling_logp: np.ndarray
    stopped: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        """(N, L) bool, True at the completion tokens (what a loss averages over)."""
        return np.arange(self.completions.shape[1])[None, :] < self.lengths[:, None]


# ------------------------------------------------------------------------------------ checks

def _check_model(model: Any) -> Transformer:
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be an r1lib.labs.lm.Transformer, got {describe(model)}")
    return model


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {describe(rng)}")
    return rng


def _check_ids(seqs: Any, name: str, model: Transformer, *, allow_empty: bool) -> list[np.ndarray]:
    if isinstance(seqs, np.ndarray) and seqs.ndim == 2:
        seqs = list(seqs)
    if isinstance(seqs, (str, bytes, np.ndarray)) or not isinstance(seqs, Sequence) or len(seqs) == 0:
        raise TypeError(f"{name} must be a non-empty list of 1-D arrays of token ids, got {describe(seqs)}")
    V = model.config.vocab_size
    out = []
    for i, s in enumerate(seqs):
        arr = np.asarray(s)
        if arr.ndim != 1:
            raise ValueError(f"{name}[{i}] must be 1-D, got shape {arr.shape}")
        if arr.size == 0:
            if not allow_empty:
                raise ValueError(f"{name}[{i}] is empty: a prompt needs at least one token")
            out.append(arr.astype(np.int64))
        else:
            out.append(check_token_ids(arr, f"{name}[{i}]", V))
    return out


def _check_top_p(top_p: Any) -> float:
    if isinstance(top_p, (bool, np.bool_)) or not isinstance(top_p, numbers.Real):
        raise TypeError(f"top_p must be a real number in (0, 1], got {describe(top_p)}")
    if not 0.0 < float(top_p) <= 1.0:
        raise ValueError(f"top_p must lie in (0, 1], got {float(top_p)!r}")
    return float(top_p)


# ------------------------------------------------------------------------------------ layout

def _left_pad(prompts: list[np.ndarray], context: int):
    """Tokens (N, P), positions (N, P) and key mask (N, P) of left-padded prompts."""
    lengths = np.array([len(p) for p in prompts])
    P = int(lengths.max())
    col = np.arange(P)[None, :]
    first = (P - lengths)[:, None]                  # the column of each prompt's first token
    tokens = np.full((len(prompts), P), PAD, dtype=np.int64)
    for r, p in enumerate(prompts):
        tokens[r, P - len(p):] = p
    mask = col >= first
    positions = np.where(mask, col - first, 0)
    return tokens, positions, mask, lengths


# ------------------------------------------------------------------------------------ choosing

def top_p_mask(probs: np.ndarray, top_p: float) -> np.ndarray:
    r"""The nucleus (Holtzman et al. 2020, "The Curious Case of Neural Text Degeneration", eq. 2):
    for each row, the smallest set of tokens whose probability sums to at least ``top_p``.

    Sort the probabilities in decreasing order; token number :math:`k` in that order is kept when
    the mass before it, :math:`\sum_{i<k} p_{(i)}`, is still below ``top_p`` (so the most likely
    token is always kept; ties are broken towards the lower token id). ``probs`` (..., V) holds
    probabilities (finite, >= 0) over its last axis, ``top_p`` lies in (0, 1]. Returns a boolean
    mask of ``probs``' shape.
    """
    probs = float_array(probs, "probs", min_ndim=1)
    if (probs < 0).any():
        raise ValueError(f"probs must be >= 0, got a minimum of {float(probs.min())!r}")
    return _nucleus(probs, _check_top_p(top_p))


def _nucleus(probs: np.ndarray, top_p: float) -> np.ndarray:
    """:func:`top_p_mask` without the input checks (the sampler's own, checked, distributions)."""
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(probs, order, axis=-1)
    mass_before = np.cumsum(sorted_p, axis=-1) - sorted_p
    keep = np.empty(probs.shape, dtype=bool)
    np.put_along_axis(keep, order, mass_before < top_p, axis=-1)
    return keep


def _choose(logits: np.ndarray, temperature: float, top_p: float, u: np.ndarray):
    """Tokens drawn by inverse CDF with uniforms ``u`` (N,), their policy log-probs (T = 1) and their
    log-probs under the sampling distribution (temperature, then nucleus, renormalised)."""
    z = logits.astype(np.float64)
    logp_policy = log_softmax(z)
    logq = logp_policy if temperature == 1.0 else log_softmax(z, temperature)
    q = np.exp(logq)
    if top_p < 1.0:
        keep = _nucleus(q, top_p)
        q = np.where(keep, q, 0.0)
        kept_mass = q.sum(axis=-1, keepdims=True)
        q /= kept_mass
        with np.errstate(divide="ignore"):
            logq = np.where(keep, logq - np.log(kept_mass), -np.inf)
    cdf = np.cumsum(q, axis=-1)
    tok = (cdf <= (u * cdf[:, -1])[:, None]).sum(axis=-1)
    # u * total can round up to the total: fall back to the last token with positive probability.
    last = q.shape[1] - 1 - np.argmax(q[:, ::-1] > 0, axis=-1)
    tok = np.minimum(tok, last)
    rows = np.arange(len(tok))
    return tok, logp_policy[rows, tok], logq[rows, tok]


# ------------------------------------------------------------------------------------ sampling

def sample(model: Transformer, prompt_ids: Sequence[Any], *, n: int = 1, temperature: float = 1.0,
           top_p: float = 1.0, max_new_tokens: Optional[int] = None, rng: np.random.Generator,
           use_cache: bool = True) -> Samples:
    """Sample ``n`` completions of each prompt, all rows in one batch.

    Parameters
    ----------
    model : Transformer
    prompt_ids : list of 1-D int arrays
        Token ids of each prompt (non-empty, shorter than the context).
    n : int, default 1
        Completions per prompt; row ``i * n + j`` is prompt ``i``'s ``j``-th.
    temperature : float > 0, default 1.0
        Sample from ``softmax(logits / temperature)``.
    top_p : float in (0, 1], default 1.0
        Then keep only the nucleus (:func:`top_p_mask`) and renormalise; 1 keeps everything.
    max_new_tokens : int >= 1, optional
        A row stops after sampling ``<eos>`` (kept in the completion), after ``max_new_tokens``
        tokens, or when prompt + completion fill the context, whichever comes first. Default:
        the context left after the prompt.
    rng : numpy.random.Generator
        One uniform per row per step is drawn from it (the same draws with or without the cache).
    use_cache : bool, default True
        False recomputes the whole forward pass at every step (slow; for tests and benchmarks):
        the same ``rng`` then gives the same tokens and log-probs.

    Returns
    -------
    Samples
        See :class:`Samples`; ``logp`` are the policy's log-probs at temperature 1.

    Notes
    -----
    The cached steps multiply small matrices ((rows, d) @ (d, 3d)). On a machine whose cores are
    busy, OpenBLAS' worker threads make these many times slower (17x measured on a loaded 2-core
    machine, see benchmarks/README.md): set ``OPENBLAS_NUM_THREADS=1`` before NumPy is imported.
    """
    model = _check_model(model)
    prompts = _check_ids(prompt_ids, "prompt_ids", model, allow_empty=False)
    n = check_int(n, "n", 1)
    temperature = positive_scalar(temperature, "temperature")
    top_p = _check_top_p(top_p)
    rng = _check_rng(rng)
    context = model.config.context
    for i, p in enumerate(prompts):
        if len(p) >= context:
            raise ValueError(f"prompt_ids[{i}] has {len(p)} tokens; the context ({context}) leaves no "
                             f"room for a completion")
    if max_new_tokens is not None:
        max_new_tokens = check_int(max_new_tokens, "max_new_tokens", 1)

    rows = [p for p in prompts for _ in range(n)]
    tokens, positions, mask, lengths = _left_pad(rows, context)
    N, P = tokens.shape
    limit = context - lengths                      # the context left in each row
    if max_new_tokens is not None:
        limit = np.minimum(limit, max_new_tokens)
    L = int(limit.max())

    completions = np.full((N, L), PAD, dtype=np.int64)
    logp = np.zeros((N, L), dtype=model.dtype)
    sampling_logp = np.zeros((N, L), dtype=model.dtype)
    done = np.zeros(N, dtype=bool)
    stopped = np.zeros(N, dtype=bool)
    out_len = np.zeros(N, dtype=np.int64)

    if use_cache:
        kv = model.new_kv_cache(N, P + L)
        logits = model.forward_cached(tokens, kv, positions=positions, attention_mask=mask)[:, -1]
    else:
        seq, seq_pos, seq_mask = tokens, positions, mask
        logits = model.forward(seq, positions=seq_pos, attention_mask=seq_mask)[0][:, -1]
    live = np.arange(N)  # the rows the model still computes, in the order of `logits`' rows
    for t in range(L):
        u = rng.random(N)  # one uniform per row and step, live or not: the same draws either way
        tok, lp, lq = _choose(logits, temperature, top_p, u[live])
        act = ~done[live]
        rows = live[act]
        tok = np.where(act, tok, PAD)
        completions[rows, t] = tok[act]
        logp[rows, t] = lp[act]
        sampling_logp[rows, t] = lq[act]
        out_len[rows] += 1
        stopped[rows] = tok[act] == EOS
        done[rows] = (tok[act] == EOS) | (out_len[rows] >= limit[rows])
        if done.all():
            break
        if use_cache and 2 * np.count_nonzero(~done[live]) <= len(live):
            keep = ~done[live]  # half the rows have finished: drop them from the cache
            kv, live, tok = kv.take(keep), live[keep], tok[keep]
        # Finished rows still in the batch run on <pad> (their outputs are ignored); their
        # position is clipped so that it stays a valid index of the position embedding.
        pos = np.minimum(lengths[live] + t, context - 1)[:, None]
        if use_cache:
            logits = model.forward_cached(tok[:, None], kv, positions=pos)[:, -1]
        else:
            seq = np.concatenate([seq, tok[:, None]], axis=1)
            seq_pos = np.concatenate([seq_pos, pos], axis=1)
            seq_mask = np.concatenate([seq_mask, np.ones((N, 1), dtype=bool)], axis=1)
            logits = model.forward(seq, positions=seq_pos, attention_mask=seq_mask)[0][:, -1]
    width = int(out_len.max())
    return Samples(prompt_index=np.repeat(np.arange(len(prompts)), n),
                   completions=completions[:, :width], lengths=out_len,
                   logp=logp[:, :width], sampling_logp=sampling_logp[:, :width], stopped=stopped)


# ------------------------------------------------------------------------------------ scoring

@dataclass
class ScoredCompletions:
    """What :func:`completion_log_probs` returns: per-token log-probs and a way back to the params.

    logp : (N, L) float
        ``log pi(completion[r, t] | prompt[r], completion[r, :t])`` at temperature 1, 0 at pads.
    mask : (N, L) bool
        True at the completion tokens.
    logits : (N, L, V) float
        The logits that scored each completion token (a distillation loss reads these).
    """
    logp: np.ndarray
    mask: np.ndarray
    logits: np.ndarray
    model: Transformer
    cache: dict
    start: int

    def backward(self, dlogp: Any = None, *, dlogits: Any = None) -> dict[str, np.ndarray]:
        """``dL/dparams`` from ``dL/dlogp`` (N, L) and/or ``dL/dlogits`` (N, L, V) of the
        completion tokens (e.g. ``grpo_loss_grad(...)`` and ``distillation_grad(...)``)."""
        if dlogp is None and dlogits is None:
            raise ValueError("give dlogp, dlogits or both")
        N, L = self.logp.shape
        if L == 0:
            raise ValueError("every completion is empty: there is nothing to differentiate")
        cols = slice(self.start, self.start + L)
        dlp_full = np.zeros(self.cache["logp_shape"], dtype=self.model.dtype)
        if dlogp is not None:
            dlogp = np.asarray(dlogp)
            if dlogp.shape != (N, L):
                raise ValueError(f"dlogp has shape {dlogp.shape}, expected {(N, L)}")
            dlp_full[:, cols] = np.where(self.mask, dlogp, 0.0)
        dlogits_full = None
        if dlogits is not None:
            dlogits = np.asarray(dlogits)
            if dlogits.shape != self.logits.shape:
                raise ValueError(f"dlogits has shape {dlogits.shape}, expected {self.logits.shape}")
            dlogits_full = np.zeros(self.cache["shape"], dtype=self.model.dtype)
            dlogits_full[:, cols] = np.where(self.mask[..., None], dlogits, 0.0)
        return self.model.token_log_probs_backward(self.cache, dlp_full, dlogits=dlogits_full)


def completion_log_probs(model: Transformer, prompt_ids: Sequence[Any], completion_ids: Any,
                         lengths: Any = None) -> ScoredCompletions:
    """Log-probs of given completions after given prompts, by one forward pass over the batch.

    ``prompt_ids``: N arrays of ids (one per row, repeat a prompt for several completions);
    ``completion_ids``: N arrays of ids, or an (N, L) array padded after ``lengths`` (as
    :class:`Samples` holds them). Equals :func:`sample`'s ``logp`` for its own completions.
    The result's ``backward`` turns a loss gradient into parameter gradients.
    """
    model = _check_model(model)
    prompts = _check_ids(prompt_ids, "prompt_ids", model, allow_empty=False)
    comps = _check_ids(completion_ids, "completion_ids", model, allow_empty=True)
    if len(comps) != len(prompts):
        raise ValueError(f"got {len(prompts)} prompts and {len(comps)} completions")
    if lengths is not None:
        lengths = np.asarray(lengths)
        if lengths.shape != (len(comps),) or not np.issubdtype(lengths.dtype, np.integer):
            raise ValueError(f"lengths must be {len(comps)} integers, got {describe(lengths)}")
        for r, (c, n_tok) in enumerate(zip(comps, lengths)):
            if not 0 <= n_tok <= len(c):
                raise ValueError(f"lengths[{r}] = {int(n_tok)} is outside [0, {len(c)}]")
        comps = [c[:n_tok] for c, n_tok in zip(comps, lengths)]
    context = model.config.context
    for r, (p, c) in enumerate(zip(prompts, comps)):
        if len(p) + len(c) > context:
            raise ValueError(f"row {r}: prompt ({len(p)}) + completion ({len(c)}) tokens exceed the "
                             f"context ({context})")
    tokens, positions, mask, plen = _left_pad(prompts, context)
    N, P = tokens.shape
    clen = np.array([len(c) for c in comps])
    L = int(clen.max())
    comp = np.full((N, L), PAD, dtype=np.int64)
    for r, c in enumerate(comps):
        comp[r, :len(c)] = c
    cmask = np.arange(L)[None, :] < clen[:, None]
    V = model.config.vocab_size
    if L == 0:
        return ScoredCompletions(np.zeros((N, 0), model.dtype), cmask, np.zeros((N, 0, V), model.dtype),
                                 model, {}, P - 1)
    seq = np.concatenate([tokens, comp], axis=1)
    seq_pos = np.concatenate([positions, np.where(cmask, plen[:, None] + np.arange(L), 0)], axis=1)
    seq_mask = np.concatenate([mask, cmask], axis=1)
    # The logits in column c score the token in column c + 1: feed all but the last column.
    logp_all, cache = model.token_log_probs(seq[:, :-1], seq[:, 1:], positions=seq_pos[:, :-1],
                                            attention_mask=seq_mask[:, :-1])
    cols = slice(P - 1, P - 1 + L)
    logp = np.where(cmask, logp_all[:, cols], 0.0).astype(model.dtype, copy=False)
    return ScoredCompletions(logp=logp, mask=cmask, logits=cache["logits"][:, cols], model=model,
                             cache=cache, start=P - 1)


# ------------------------------------------------------------------------------------ text level

def _check_texts(texts: Any, name: str) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
        raise TypeError(f"{name} must be a non-empty list of strings, got {describe(texts)}")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"{name}[{i}] must be a str, got {describe(t)}")
    return list(texts)


def _encode_all(texts: list[str], name: str) -> list[np.ndarray]:
    out = []
    for i, t in enumerate(texts):
        try:
            out.append(encode(t))
        except ValueError as exc:
            raise ValueError(f"{name}[{i}]: {exc}") from None
    return out


def _encode_prompts(texts: list[str], max_tokens: Optional[int] = None) -> list[np.ndarray]:
    """The prompts' ids, checked here so that errors name ``prompts`` (the text functions'
    parameter), not the token-level ``prompt_ids`` they are passed on as."""
    ids = _encode_all(texts, "prompts")
    for i, p in enumerate(ids):
        if len(p) == 0:
            raise ValueError(f"prompts[{i}] is empty: a prompt needs at least one token")
        if max_tokens is not None and len(p) > max_tokens:
            raise ValueError(f"prompts[{i}] has {len(p)} tokens; the context ({max_tokens + 1}) leaves "
                             f"no room for a completion")
    return ids


def generate(model: Transformer, prompts: Sequence[str], *, n: int = 1, temperature: float = 1.0,
             top_p: float = 1.0, max_new_tokens: Optional[int] = None,
             rng: np.random.Generator) -> list[list[str]]:
    """``n`` sampled completions (decoded text) of each prompt: a list, per prompt, of ``n`` strings.

    A completion that stopped by itself ends with the text ``"<eos>"``: stopping is a token the
    model chose. One cut by ``max_new_tokens`` or the context has no ``"<eos>"``. Parameters as in
    :func:`sample`.
    """
    model = _check_model(model)
    texts = _check_texts(prompts, "prompts")
    ids = _encode_prompts(texts, model.config.context - 1)
    s = sample(model, ids, n=n, temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, rng=rng)
    flat = [decode(row[:k]) for row, k in zip(s.completions, s.lengths)]
    return [flat[i * n:(i + 1) * n] for i in range(len(texts))]


def log_probs(model: Transformer, prompts: Sequence[str], completions: Sequence[Any]) -> list:
    """Per-token log-probs (temperature 1) of each completion text after its prompt.

    ``completions`` is either one string per prompt (returns one array per prompt) or, as
    :func:`generate` returns them, a list of strings per prompt (returns a list of arrays per
    prompt). A trailing ``"<eos>"`` is a token and gets its log-prob like any other.
    """
    texts = _check_texts(prompts, "prompts")
    if isinstance(completions, str) or not isinstance(completions, Sequence) or len(completions) != len(texts):
        raise TypeError(f"completions must be a list with one entry per prompt ({len(texts)}), "
                        f"got {describe(completions)}")
    nested = not all(isinstance(c, str) for c in completions)
    groups = [_check_texts(c, f"completions[{i}]") if nested else [c] for i, c in enumerate(completions)]
    prompt_ids = _encode_prompts(texts)
    rows_p = [prompt_ids[i] for i, g in enumerate(groups) for _ in g]
    rows_c = _encode_all([c for g in groups for c in g], "completions")
    scored = completion_log_probs(model, rows_p, rows_c)
    flat = [scored.logp[r, :len(c)].copy() for r, c in enumerate(rows_c)]
    if not nested:
        return flat
    out, r = [], 0
    for g in groups:
        out.append(flat[r:r + len(g)])
        r += len(g)
    return out

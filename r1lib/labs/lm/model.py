r"""A decoder-only transformer (GPT-2's shape) in NumPy, forward and backward by hand.

.. code-block:: text

    x = E_tok[tokens] + E_pos[positions]                 (B, T, d)
    for each of n_layers blocks (pre-norm):
        x = x + W_o · attention(LN_1(x) · W_qkv)        causal, n_heads heads
        x = x + W_2 · gelu(LN_2(x) · W_1)
    logits = LN_f(x) · W_head                            (B, T, V)   (untied from E_tok)

The layers and their gradients live in :mod:`r1lib.labs.lm.layers`; this module wires them up.

**The interface is the logits.** ``forward`` returns the logits (and a cache), ``backward`` takes
``dL/dlogits`` and returns ``dL/dparams``. Every stage of the R1 recipe is then a loss on the
logits: cross-entropy for pretraining and SFT, r1lib's ``distillation_grad`` for the T^2 KL, and
r1lib's ``grpo_loss_grad``, a gradient with respect to the per-token log-probs, which
:meth:`Transformer.token_log_probs` / :meth:`Transformer.token_log_probs_backward` carry to the
logits. One SFT step (cross-entropy on the next token), with :mod:`r1lib.labs.lm.optim`::

    from r1lib.labs import lm
    rng = np.random.default_rng(0)
    model = lm.Transformer.init(lm.Config(context=32, d_model=32, n_layers=2, n_heads=2, d_mlp=64), rng)
    opt = lm.AdamW(model.params, lr=3e-3, decay=model.decay_names)
    ids = lm.encode("12+7=19<eos>")[None, :]          # a batch of one row, (1, 8)
    inputs, targets = ids[:, :-1], ids[:, 1:]          # predict every next token
    logp, cache = model.token_log_probs(inputs, targets)
    loss = -logp.mean()                                # cross-entropy, nats per token
    grads = model.token_log_probs_backward(cache, np.full_like(logp, -1.0 / logp.size))
    grad_norm = lm.clip_grad_norm(grads, 1.0)          # the norm before clipping, for the log
    opt.step(grads)                                    # updates model.params in place

The same step through the logits: ``logits, cache = model.forward(inputs)``, then
``dlogits = (softmax(logits) - onehot(targets)) / n_tokens`` and ``model.backward(cache, dlogits)``.

**Padding.** Rows of different lengths share a batch in two ways. Right padding (training on
whole sequences): pad the end, give the padded positions zero loss weight; nothing else is needed,
because causal attention never lets a real token see a later pad. Left padding (prompts of
different lengths, so that every completion starts in the same column during sampling): pass
``attention_mask`` (False at the pads) and ``positions`` counting from each row's first real
token, so the learned position embedding sees the same positions as in an unpadded row.

float32 by default; ``Config(dtype="float64")`` for the gradient tests.
"""
from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

import numpy as np

from ...validation import describe
from . import layers as L
from .tokens import VOCAB_SIZE

__all__ = ["Config", "Transformer", "KVCache", "param_shapes"]

INIT_STD = 0.02  # GPT-2's initialisation scale


@dataclass(frozen=True)
class Config:
    """The architecture. Defaults: a 0.8M-parameter model over the 53-token vocabulary.

    ``d_model`` must be a multiple of ``n_heads``; ``context`` is the number of learned
    positions (the longest prompt + completion); ``dtype`` is ``"float32"`` or ``"float64"``.
    """
    vocab_size: int = VOCAB_SIZE
    context: int = 128
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    d_mlp: int = 512
    dtype: str = "float32"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "dtype":
                continue
            value = getattr(self, f.name)
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
                raise TypeError(f"Config.{f.name} must be an integer, got {describe(value)}")
            if value < 1:
                raise ValueError(f"Config.{f.name} must be >= 1, got {value}")
            object.__setattr__(self, f.name, int(value))
        if self.d_model % self.n_heads:
            raise ValueError(f"Config.d_model={self.d_model} must be a multiple of "
                             f"Config.n_heads={self.n_heads}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"Config.dtype must be 'float32' or 'float64', got {describe(self.dtype)}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads

    def as_dict(self) -> dict[str, Any]:
        """Plain values only (JSON-ready), for checkpoint files."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "Config":
        if not isinstance(values, Mapping):
            raise TypeError(f"config must be a Config or a dict, got {describe(values)}")
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"config has unknown keys {sorted(unknown)}")
        return cls(**values)


def param_shapes(config: Config) -> dict[str, tuple[int, ...]]:
    """Every parameter's name and shape, in a fixed order (the order of ``Transformer.params``)."""
    d, m, V = config.d_model, config.d_mlp, config.vocab_size
    shapes: dict[str, tuple[int, ...]] = {"tok_emb": (V, d), "pos_emb": (config.context, d)}
    for i in range(config.n_layers):
        p = f"block{i}."
        shapes.update({p + "ln1.gamma": (d,), p + "ln1.beta": (d,),
                       p + "attn.qkv.w": (d, 3 * d), p + "attn.qkv.b": (3 * d,),
                       p + "attn.out.w": (d, d), p + "attn.out.b": (d,),
                       p + "ln2.gamma": (d,), p + "ln2.beta": (d,),
                       p + "mlp.in.w": (d, m), p + "mlp.in.b": (m,),
                       p + "mlp.out.w": (m, d), p + "mlp.out.b": (d,)})
    shapes.update({"ln_f.gamma": (d,), "ln_f.beta": (d,), "head.w": (d, V)})
    return shapes


@dataclass
class KVCache:
    """Keys and values of the positions seen so far, for sampling one token at a time.

    ``k[l]`` and ``v[l]`` are (B, H, capacity, d_h) for layer ``l``; columns ``[0, length)`` are
    filled. ``key_mask`` (B, capacity) is False at padding (left-padded prompts).
    """
    k: list[np.ndarray]
    v: list[np.ndarray]
    key_mask: np.ndarray
    length: int = 0

    def take(self, rows: np.ndarray) -> "KVCache":
        """A cache of the selected rows only (an index array or a boolean mask over the rows)."""
        return KVCache(k=[a[rows] for a in self.k], v=[a[rows] for a in self.v],
                       key_mask=self.key_mask[rows], length=self.length)


class Transformer:
    """The model: a :class:`Config` and a dict of parameter arrays (name -> array, see
    :func:`param_shapes`; copied in, converted to the config's dtype). Build one with
    :meth:`init` (random, seeded) or :meth:`from_state_dict`. The optimiser updates
    ``model.params`` in place.
    """

    def __init__(self, config: Config, params: Mapping[str, Any]):
        if not isinstance(config, Config):
            raise TypeError(f"config must be a Config, got {describe(config)}")
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a dict of arrays, got {describe(params)}")
        shapes = param_shapes(config)
        missing, extra = set(shapes) - set(params), set(params) - set(shapes)
        if missing or extra:
            raise ValueError(f"params do not match the config: missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}")
        self.config = config
        self.dtype = np.dtype(config.dtype)
        self.params: dict[str, np.ndarray] = {}
        for name, shape in shapes.items():
            arr = np.asarray(params[name])
            if arr.shape != shape:
                raise ValueError(f"params[{name!r}] has shape {arr.shape}, the config needs {shape}")
            if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
                raise TypeError(f"params[{name!r}] must be real numbers, got dtype {arr.dtype}")
            arr = np.array(arr, dtype=self.dtype, order="C")  # a copy: the model owns its params
            if not np.isfinite(arr).all():
                raise ValueError(f"params[{name!r}] contains NaN or inf")
            self.params[name] = arr

    # ------------------------------------------------------------------ construction, saving

    @classmethod
    def init(cls, config: Config, rng: np.random.Generator) -> "Transformer":
        r"""GPT-2's initialisation, seeded: weights and embeddings :math:`\mathcal N(0, 0.02^2)`, the
        two projections that write into the residual stream (``attn.out.w``, ``mlp.out.w``)
        :math:`\mathcal N(0, (0.02/\sqrt{2 n_\text{layers}})^2)` so the stream's variance does not
        grow with depth, biases 0, layer-norm gains 1.
        """
        if not isinstance(config, Config):
            raise TypeError(f"config must be a Config, got {describe(config)}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
        dtype = np.dtype(config.dtype)
        residual_std = INIT_STD / np.sqrt(2 * config.n_layers)
        params = {}
        for name, shape in param_shapes(config).items():
            if name.endswith(".gamma"):
                params[name] = np.ones(shape, dtype)
            elif name.endswith((".b", ".beta")):
                params[name] = np.zeros(shape, dtype)
            else:
                std = residual_std if name.endswith(("attn.out.w", "mlp.out.w")) else INIT_STD
                params[name] = (rng.standard_normal(shape) * std).astype(dtype)
        return cls(config, params)

    def state_dict(self) -> dict[str, np.ndarray]:
        """A flat dict name -> array (copies): with ``config.as_dict()`` all a checkpoint needs."""
        return {name: arr.copy() for name, arr in self.params.items()}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any], config: Config | Mapping[str, Any]) -> "Transformer":
        """The inverse of :meth:`state_dict`; ``config`` is a :class:`Config` or its ``as_dict()``."""
        if not isinstance(config, Config):
            config = Config.from_dict(config)
        return cls(config, state)

    @property
    def n_params(self) -> int:
        return int(sum(a.size for a in self.params.values()))

    @property
    def decay_names(self) -> frozenset[str]:
        """The parameters AdamW should decay: the matrices of the linear layers and the output
        head. Not the embeddings (a row only gets gradient when its token occurs, so decay would
        shrink rare tokens' rows for nothing), not the layer-norm gains and biases."""
        return frozenset(n for n in self.params if n.endswith(".w"))

    # ------------------------------------------------------------------ input checks

    def _check_inputs(self, tokens: Any, positions: Any, attention_mask: Any):
        cfg = self.config
        tokens = _int_matrix(tokens, "tokens")
        B, T = tokens.shape
        if tokens.min() < 0 or tokens.max() >= cfg.vocab_size:
            bad = tuple(int(i) for i in np.argwhere((tokens < 0) | (tokens >= cfg.vocab_size))[0])
            raise ValueError(f"tokens{list(bad)} = {int(tokens[bad])} is outside [0, {cfg.vocab_size})")
        if positions is None:
            if T > cfg.context:
                raise ValueError(f"tokens has {T} positions, more than the context {cfg.context}")
            positions = np.broadcast_to(np.arange(T), (B, T))
        else:
            positions = _int_matrix(positions, "positions")
            if positions.shape != (B, T):
                raise ValueError(f"positions has shape {positions.shape}, tokens {(B, T)}")
            if positions.min() < 0 or positions.max() >= cfg.context:
                raise ValueError(f"positions must lie in [0, {cfg.context}), got values from "
                                 f"{int(positions.min())} to {int(positions.max())}")
        if attention_mask is not None:
            attention_mask = np.asarray(attention_mask)
            if attention_mask.dtype != bool:
                raise TypeError(f"attention_mask must be a boolean array, got dtype {attention_mask.dtype}")
            if attention_mask.shape != (B, T):
                raise ValueError(f"attention_mask has shape {attention_mask.shape}, tokens {(B, T)}")
        return tokens, positions, attention_mask

    def _embed(self, tokens: np.ndarray, positions: np.ndarray):
        p = self.params
        x, tok_cache = L.embedding_forward(tokens, p["tok_emb"])
        pos, pos_cache = L.embedding_forward(positions, p["pos_emb"])
        x += pos
        return x, tok_cache, pos_cache

    # ------------------------------------------------------------------ forward and backward

    def forward(self, tokens: Any, *, positions: Any = None,
                attention_mask: Any = None) -> tuple[np.ndarray, dict]:
        """Logits for every position: ``tokens`` (B, T) ints -> ``logits`` (B, T, V) and a cache for
        :meth:`backward`. ``logits[b, t]`` scores the token that follows ``tokens[b, t]``.

        ``positions`` (B, T) (default ``0 .. T-1`` in every row) index the position embedding;
        ``attention_mask`` (B, T) boolean, False where a key is padding that no query may see
        (default: every key is real). T may exceed the context only when ``positions`` stay in it.
        """
        tokens, positions, attention_mask = self._check_inputs(tokens, positions, attention_mask)
        cfg, p = self.config, self.params
        T = tokens.shape[1]
        x, tok_cache, pos_cache = self._embed(tokens, positions)
        bias = L.attention_bias(T, T, attention_mask, self.dtype)
        blocks = []
        for i in range(cfg.n_layers):
            b = f"block{i}."
            h, ln1 = L.layer_norm_forward(x, p[b + "ln1.gamma"], p[b + "ln1.beta"])
            qkv, lin_qkv = L.linear_forward(h, p[b + "attn.qkv.w"], p[b + "attn.qkv.b"])
            q, k, v = (L.split_heads(a, cfg.n_heads) for a in np.split(qkv, 3, axis=-1))
            o, att = L.attention_forward(q, k, v, bias)
            a, lin_out = L.linear_forward(L.merge_heads(o), p[b + "attn.out.w"], p[b + "attn.out.b"])
            x += a
            h, ln2 = L.layer_norm_forward(x, p[b + "ln2.gamma"], p[b + "ln2.beta"])
            u, lin_in = L.linear_forward(h, p[b + "mlp.in.w"], p[b + "mlp.in.b"])
            g, gelu = L.gelu_forward(u)
            m, lin_mlp = L.linear_forward(g, p[b + "mlp.out.w"], p[b + "mlp.out.b"])
            x += m
            blocks.append((ln1, lin_qkv, att, lin_out, ln2, lin_in, gelu, lin_mlp))
        h, ln_f = L.layer_norm_forward(x, p["ln_f.gamma"], p["ln_f.beta"])
        logits, head = L.linear_forward(h, p["head.w"])
        cache = dict(tok=tok_cache, pos=pos_cache, blocks=blocks, ln_f=ln_f, head=head,
                     shape=logits.shape)
        return logits, cache

    def backward(self, cache: dict, dlogits: Any) -> dict[str, np.ndarray]:
        """``dL/dparams`` (same keys and shapes as :attr:`params`) from ``dlogits`` = ``dL/dlogits``
        (B, T, V) and the cache of the :meth:`forward` that produced the logits.
        """
        dlogits = _float_like(dlogits, "dlogits", cache["shape"], self.dtype)
        cfg, grads = self.config, {}
        d = cfg.d_model
        dh, grads["head.w"], _ = L.linear_backward(dlogits, cache["head"])
        dx, grads["ln_f.gamma"], grads["ln_f.beta"] = L.layer_norm_backward(dh, cache["ln_f"])
        for i in reversed(range(cfg.n_layers)):
            b = f"block{i}."
            ln1, lin_qkv, att, lin_out, ln2, lin_in, gelu, lin_mlp = cache["blocks"][i]
            dg, grads[b + "mlp.out.w"], grads[b + "mlp.out.b"] = L.linear_backward(dx, lin_mlp)
            du = L.gelu_backward(dg, gelu)
            dh, grads[b + "mlp.in.w"], grads[b + "mlp.in.b"] = L.linear_backward(du, lin_in)
            dh, grads[b + "ln2.gamma"], grads[b + "ln2.beta"] = L.layer_norm_backward(dh, ln2)
            dx += dh                                    # the residual branch and the skip add up
            do, grads[b + "attn.out.w"], grads[b + "attn.out.b"] = L.linear_backward(dx, lin_out)
            dq, dk, dv = L.attention_backward(L.split_heads(do, cfg.n_heads), att)
            dqkv = np.empty(do.shape[:-1] + (3 * d,), dtype=self.dtype)
            for j, g in enumerate((dq, dk, dv)):   # write each into its head-split view: one copy
                L.split_heads(dqkv[..., j * d:(j + 1) * d], cfg.n_heads)[...] = g
            dh, grads[b + "attn.qkv.w"], grads[b + "attn.qkv.b"] = L.linear_backward(dqkv, lin_qkv)
            dh, grads[b + "ln1.gamma"], grads[b + "ln1.beta"] = L.layer_norm_backward(dh, ln1)
            dx += dh
        grads["tok_emb"] = L.embedding_backward(dx, cache["tok"])
        grads["pos_emb"] = L.embedding_backward(dx, cache["pos"])
        return {name: grads[name] for name in self.params}

    def token_log_probs(self, tokens: Any, targets: Any, *, positions: Any = None,
                        attention_mask: Any = None) -> tuple[np.ndarray, dict]:
        r"""``logp[b, t] = log p(targets[b, t] | tokens[b, :t+1])`` (B, T), and a cache for
        :meth:`token_log_probs_backward`. Usually ``targets`` is ``tokens`` shifted by one.
        """
        logits, cache = self.forward(tokens, positions=positions, attention_mask=attention_mask)
        targets = _int_matrix(targets, "targets")
        if targets.shape != logits.shape[:2]:
            raise ValueError(f"targets has shape {targets.shape}, tokens {logits.shape[:2]}")
        if targets.min() < 0 or targets.max() >= self.config.vocab_size:
            raise ValueError(f"targets must lie in [0, {self.config.vocab_size}), got values from "
                             f"{int(targets.min())} to {int(targets.max())}")
        logp, gather = L.log_softmax_gather_forward(logits, targets)
        return logp, dict(cache, gather=gather, logp_shape=logp.shape, logits=logits)

    def token_log_probs_backward(self, cache: dict, dlogp: Any, *, dlogits: Any = None) -> dict[str, np.ndarray]:
        """``dL/dparams`` from ``dlogp`` = ``dL/dlogp`` (B, T), e.g. GRPO's ``grpo_loss_grad``, plus,
        optionally, a gradient ``dlogits`` (B, T, V) on the same logits (a loss that reads both)."""
        dlogp = _float_like(dlogp, "dlogp", cache["logp_shape"], self.dtype)
        total = L.log_softmax_gather_backward(dlogp, cache["gather"])
        if dlogits is not None:
            total += _float_like(dlogits, "dlogits", cache["shape"], self.dtype)
        return self.backward(cache, total)

    # ------------------------------------------------------------------ cached inference

    def new_kv_cache(self, batch: int, capacity: int) -> KVCache:
        """An empty key/value cache for ``batch`` rows and up to ``capacity`` positions."""
        cfg = self.config
        shape = (batch, cfg.n_heads, capacity, cfg.d_head)
        return KVCache(k=[np.zeros(shape, self.dtype) for _ in range(cfg.n_layers)],
                       v=[np.zeros(shape, self.dtype) for _ in range(cfg.n_layers)],
                       key_mask=np.zeros((batch, capacity), dtype=bool))

    def forward_cached(self, tokens: Any, kv: KVCache, *, positions: Any = None,
                       attention_mask: Any = None) -> np.ndarray:
        """Logits of ``tokens`` (B, Tn) that continue the rows held in ``kv`` (no backward).

        Appends the new keys and values to ``kv`` and attends over everything in it, so a prompt
        can be fed whole (the prefill) and then one token per call. Gives the same logits as
        :meth:`forward` over the whole sequence (up to rounding). ``positions`` default to
        ``kv.length, kv.length + 1, ...`` in every row (unpadded rows); left-padded rows pass
        their own, as in :meth:`forward`.
        """
        if not isinstance(kv, KVCache):
            raise TypeError(f"kv must be a KVCache (model.new_kv_cache), got {describe(kv)}")
        if positions is None:
            # The new tokens continue the cached ones: counting from 0 again would give them the
            # position embedding of the sequence's start.
            B, Tn = _int_matrix(tokens, "tokens").shape
            if kv.length + Tn > self.config.context:
                raise ValueError(f"tokens has {Tn} positions after the {kv.length} in the cache, more "
                                 f"than the context {self.config.context}")
            positions = np.broadcast_to(np.arange(kv.length, kv.length + Tn), (B, Tn))
        tokens, positions, attention_mask = self._check_inputs(tokens, positions, attention_mask)
        cfg, p = self.config, self.params
        B, Tn = tokens.shape
        start, stop = kv.length, kv.length + Tn
        if B != kv.key_mask.shape[0] or stop > kv.key_mask.shape[1]:
            raise ValueError(f"the cache holds {kv.key_mask.shape[0]} rows and {kv.key_mask.shape[1]} "
                             f"positions; got {B} rows of {Tn} new tokens after {start}")
        kv.key_mask[:, start:stop] = True if attention_mask is None else attention_mask
        bias = L.attention_bias(Tn, stop, kv.key_mask[:, :stop], self.dtype)
        x, _, _ = self._embed(tokens, positions)
        for i in range(cfg.n_layers):
            b = f"block{i}."
            h, _ = L.layer_norm_forward(x, p[b + "ln1.gamma"], p[b + "ln1.beta"])
            qkv, _ = L.linear_forward(h, p[b + "attn.qkv.w"], p[b + "attn.qkv.b"])
            q, k, v = (L.split_heads(a, cfg.n_heads) for a in np.split(qkv, 3, axis=-1))
            kv.k[i][:, :, start:stop] = k
            kv.v[i][:, :, start:stop] = v
            o, _ = L.attention_forward(q, kv.k[i][:, :, :stop], kv.v[i][:, :, :stop], bias)
            a, _ = L.linear_forward(L.merge_heads(o), p[b + "attn.out.w"], p[b + "attn.out.b"])
            x += a
            h, _ = L.layer_norm_forward(x, p[b + "ln2.gamma"], p[b + "ln2.beta"])
            u, _ = L.linear_forward(h, p[b + "mlp.in.w"], p[b + "mlp.in.b"])
            g, _ = L.gelu_forward(u)
            m, _ = L.linear_forward(g, p[b + "mlp.out.w"], p[b + "mlp.out.b"])
            x += m
        kv.length = stop
        h, _ = L.layer_norm_forward(x, p["ln_f.gamma"], p["ln_f.beta"])
        logits, _ = L.linear_forward(h, p["head.w"])
        return logits


def _int_matrix(value: Any, name: str) -> np.ndarray:
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a (B, T) array of integers, got {describe(value)}")
    arr = np.asarray(value)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}: {describe(value)}")
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty (B, T) array, got shape {arr.shape}")
    return arr


def _float_like(value: Any, name: str, shape: tuple, dtype: np.dtype) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} has shape {arr.shape}, expected {tuple(shape)}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)) or arr.dtype == bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(dtype, copy=False)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf")
    return arr

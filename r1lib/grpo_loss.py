r"""GRPO as today's trainers compute it: TRL GRPOTrainer's loss with its switches, and its gradient.

:func:`grpo_loss` is the scalar a trainer *minimises* for one batch of completions, with the
semantics of TRL's ``GRPOTrainer._compute_loss`` (huggingface/trl, ``trl/trainer/grpo_trainer.py``)
for one process and no gradient accumulation, so ``"bnpo"`` and ``"dapo"`` give the same number.
:func:`grpo_loss_grad` is its exact derivative with respect to the per-token log-probabilities,
written out by hand (no autograd). One pass of shared code computes both, so the value and the
gradient can never disagree about a convention.

Notation, per completion :math:`i` (row) and token :math:`t` (column), :math:`m_{i,t}\in\{0,1\}`
the padding mask, :math:`n_i=\sum_t m_{i,t}` the completion length, :math:`N=\sum_i n_i`, B rows:

* ratio: token level :math:`\rho_{i,t}=\exp(\log\pi_\theta-\log\pi_{old})`; sequence level (GSPO,
  arXiv:2507.18071) one ratio per row, :math:`s_i=\exp\bigl(\sum_t m_{i,t}(\log\pi_\theta-\log\pi_{old})
  /\max(n_i,1)\bigr)`, the geometric mean of the token ratios, used for every token of the row;
* policy term (``"grpo"``, ``"bnpo"``, ``"dr_grpo"``, ``"dapo"``): PPO's pessimistic clip,
  :math:`\ell=-\min\bigl(\rho A_i,\ \mathrm{clip}(\rho,1-\epsilon,1+\epsilon_{high})A_i\bigr)`;
  ``"cispo"`` (MiniMax-M1, arXiv:2506.13585, as TRL writes it):
  :math:`\ell=-\mathrm{sg}[\min(\rho,\epsilon_{high})]\,A_i\log\pi_\theta`, where ``epsilon_high``
  is the cap on the ratio itself (TRL recommends 5.0 for CISPO) and sg stops the gradient;
* KL term, added per token when ``beta > 0``, with :math:`\delta=\log\pi_\theta-\log\pi_{ref}`:
  ``"k1"`` :math:`\delta`; ``"k2"`` :math:`\delta^2/2`; ``"k3"`` (TRL's only choice)
  :math:`e^{-\delta}+\delta-1`; ``"k3+"`` (verl): k3's value with k2's gradient :math:`\delta`
  (straight-through). ``use_bias_correction_kl`` (DeepSeek-V3.2) multiplies the estimate by the
  ratio (:math:`\rho_{i,t}`, or :math:`s_i` at sequence level), and the ratio is *not* detached:
  its gradient flows, as in TRL;
* aggregation of :math:`L_{i,t}=\ell_{i,t}+\beta\,\mathrm{kl}_{i,t}` over real tokens:
  ``"grpo"`` :math:`\frac1B\sum_i\frac{1}{\max(n_i,1)}\sum_t m L`; ``"bnpo"``, ``"dapo"`` and
  ``"cispo"`` :math:`\frac{1}{\max(N,1)}\sum m L`; ``"dr_grpo"`` :math:`\frac{1}{B\,L_{max}}\sum m L`
  with :math:`L_{max}` = ``max_completion_length``.

Conventions at the kinks: where the ratio sits exactly on a clip boundary the unclipped slope is
used, which is what PyTorch's autograd gives TRL's code (``torch.clamp`` passes the gradient at
its bounds, ``torch.min`` splits a tie evenly between two equal branches).

Padding: masked positions never change the result. They may hold anything (0, huge values, even
NaN) and get gradient exactly 0. At real tokens every log-probability must be finite and ``<= 0``
(a positive value is a logit or a probability passed by mistake).

Sources: TRL's ``_compute_loss`` (the ``loss_type``, ``importance_sampling_level``, ``cispo`` and
``use_bias_correction_kl`` branches as in TRL 0.2x-1.x) and verl's ``core_algos`` (``kl_penalty``
with its "+" modes, ``agg_loss``, the GSPO and CISPO policy losses). Where they differ: verl clamps
k3's log-ratio to [-20, 20] and k3 to [-10, 10] (not done here, as in TRL); verl's CISPO clamps the
ratio to [1 - eps_low, 1 + eps_high] (here, as in TRL, only the cap ``epsilon_high``); verl's
"seq-mean-token-sum-norm" divides by T alone (``"dr_grpo"`` here divides by B * L_max, as TRL).

Also here: DAPO's soft overlong punishment (a reward-shaping term), dynamic sampling (drop the
groups whose rewards are all equal: their advantages are 0 and they carry no gradient) and the
clip fractions TRL logs.

Import names from this module (``from r1lib.grpo_loss import clip_fractions``): the package
attribute ``r1lib.grpo_loss`` is the function :func:`grpo_loss` itself.
"""
from __future__ import annotations

import numbers
from typing import Any, NamedTuple, Optional

import numpy as np
from numpy.typing import ArrayLike

from .validation import describe, check_axis, check_option, float_array, int_array

__all__ = ["grpo_loss", "grpo_loss_grad", "grpo_loss_and_grad", "clip_fractions", "ClipFractions", "LOSS_TYPES",
           "IMPORTANCE_SAMPLING_LEVELS", "KL_ESTIMATORS", "overlong_penalty", "dynamic_sampling_mask",
           "drop_constant_groups", "DroppedGroups"]

LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "cispo")
IMPORTANCE_SAMPLING_LEVELS = ("token", "sequence")
KL_ESTIMATORS = ("k1", "k2", "k3", "k3+")


# ---------------------------------------------------------------------------------- validation

def _mask(mask: Any, shape: tuple[int, ...]) -> Optional[np.ndarray]:
    """The padding mask as booleans, or None when there is no padding at all."""
    if mask is None:
        return None
    if isinstance(mask, (str, bytes)):
        raise TypeError(f"mask must be an array of booleans or 0/1, got {describe(mask)}")
    m = np.asarray(mask)
    if m.dtype != bool and not (np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating)):
        raise TypeError(f"mask must be an array of booleans or 0/1, got dtype {m.dtype}")
    if m.shape != shape:
        raise ValueError(f"mask has shape {m.shape}, expected the shape of logp {shape}")
    if m.dtype != bool:
        ok = (m == 0) | (m == 1)  # NaN fails both
        if not ok.all():
            bad = m[~ok].flat[0].item()
            raise ValueError(f"mask must hold only 0 and 1 (or booleans), got the value {bad!r}")
        m = m != 0
    if m.all():
        return None
    if not m.any():
        raise ValueError("mask has no real token at all (every entry is 0): the loss of an empty "
                         "batch is undefined")
    return m


def _float_tokens(value: Any, name: str, shape: Optional[tuple[int, ...]]) -> np.ndarray:
    """``value`` as a (B, T) float array (float32 stays float32), shape-checked, values unchecked."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array, got {describe(value)}")
    try:
        a = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array, got {describe(value)}") from exc
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {a.dtype}: {describe(value)}")
    if a.dtype != np.float32:
        a = a.astype(np.float64, copy=False)
    if shape is None:
        if a.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array (B completions, T tokens), got shape {a.shape}")
        if a.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {a.shape}")
    elif a.shape != shape:
        raise ValueError(f"{name} has shape {a.shape}, expected the shape of logp {shape}")
    return a


def _real_tokens(a: np.ndarray, name: str, m: Optional[np.ndarray], dtype: np.dtype) -> np.ndarray:
    """``a`` in ``dtype``; real tokens must be finite and <= 0, padding is never read.

    The common case costs two reductions: when *every* entry (padding included) is finite and
    <= 0, the array is used as it is and the computation masks the padding itself. Otherwise the
    real tokens are checked exactly and the padding is replaced by 0, so that no junk value (NaN,
    inf, a huge number) ever enters the arithmetic.
    """
    a = a.astype(dtype, copy=False)
    # max catches NaN, +inf and positive values; min catches -inf (and NaN).
    if a.max() <= 0 and np.isfinite(a.min()):
        return a
    if m is not None:
        a = np.where(m, a, dtype.type(0))
        if a.max() <= 0 and np.isfinite(a.min()):
            return a
    _explain_bad_tokens(a, name, m)
    raise AssertionError("unreachable")  # pragma: no cover


def _explain_bad_tokens(a: np.ndarray, name: str, m: Optional[np.ndarray]) -> None:
    where_txt = "a real (unmasked) token" if m is not None else "token"
    for bad, what in ((np.isnan(a), "NaN"), (np.isinf(a), "an infinite value"), (a > 0, "a positive value")):
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            hint = (" (log-probabilities must be <= 0: did you pass logits or probabilities?)"
                    if what == "a positive value" else "")
            raise ValueError(f"{name} contains {what}, {a[idx].item()!r}, at {where_txt} {idx}{hint}")


def _real(value: Any, name: str, *, low: Optional[float] = None, high: Optional[float] = None,
          low_open: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v!r}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {v!r}")
    if high is not None and v >= high:
        raise ValueError(f"{name} must be < {high}, got {v!r}")
    return v


def _row_counts(m: np.ndarray) -> np.ndarray:
    """Real tokens per row. Popcount of the packed mask: 3-4x faster than count_nonzero(axis=1)."""
    if hasattr(np, "bitwise_count"):  # NumPy >= 2.0
        return np.add.reduce(np.bitwise_count(np.packbits(m, axis=1)), axis=1, dtype=np.int64)
    return np.count_nonzero(m, axis=1).astype(np.int64)  # pragma: no cover - NumPy < 2


class _Batch(NamedTuple):
    lp: np.ndarray            # (B, T), values unchecked until _compute checks them
    old: np.ndarray           # (B, T), same
    ref: Optional[np.ndarray]  # (B, T), same, or None (read only when beta > 0)
    adv: np.ndarray           # (B,)
    m: Optional[np.ndarray]   # (B, T) bool, or None (no padding)
    n: np.ndarray             # (B,) completion lengths
    row_weight: np.ndarray    # (B,) float64 c_i: loss = sum_i c_i sum_t m L
    lo: float
    hi: float
    beta: float
    loss_type: str
    level: str
    kl: str
    bias_correction: bool
    dtype: np.dtype
    checked: bool             # lp, old, ref known to be finite and <= 0 everywhere they are read


def _prepare(logp, old_logp, advantages, mask, ref_logp, beta, epsilon, epsilon_high, loss_type,
             importance_sampling_level, max_completion_length, kl, use_bias_correction_kl) -> _Batch:
    loss_type = check_option(loss_type, "loss_type", LOSS_TYPES)
    level = check_option(importance_sampling_level, "importance_sampling_level", IMPORTANCE_SAMPLING_LEVELS)
    kl = check_option(kl, "kl", KL_ESTIMATORS)
    if not isinstance(use_bias_correction_kl, (bool, np.bool_)):
        raise TypeError(f"use_bias_correction_kl must be True or False, got {describe(use_bias_correction_kl)}")
    beta = _real(beta, "beta", low=0.0)
    # 1 - epsilon must stay positive, or the lower clip of a (non-negative) ratio means nothing.
    epsilon = _real(epsilon, "epsilon", low=0.0, low_open=True, high=1.0)
    if epsilon_high is None:
        epsilon_high = epsilon  # TRL: None means symmetric clipping
    else:
        epsilon_high = _real(epsilon_high, "epsilon_high")
        if epsilon_high < epsilon:
            raise ValueError(f"epsilon_high={epsilon_high!r} is below epsilon={epsilon!r}: clip-higher "
                             "widens the upper side only (DAPO uses 0.2 and 0.28)")

    # Shapes and types first (cheap), then the mask, then the values at real tokens.
    lp = _float_tokens(logp, "logp", None)
    old = _float_tokens(old_logp, "old_logp", lp.shape)
    ref = None if ref_logp is None else _float_tokens(ref_logp, "ref_logp", lp.shape)
    if ref is None and beta > 0:
        raise ValueError(f"beta={beta!r} > 0 needs ref_logp (the reference policy's log-probabilities)")
    adv = float_array(advantages, "advantages")
    if adv.shape != lp.shape[:1]:
        raise ValueError(f"advantages has shape {adv.shape}, expected one per completion: "
                         f"({lp.shape[0]},) (logp has shape {lp.shape})")
    m = _mask(mask, lp.shape)
    # float32 stays float32: the token arrays decide; the (B,) advantages follow them.
    dtype = np.dtype(np.float32) if all(x.dtype == np.float32 for x in (lp, old, ref) if x is not None) \
        else np.dtype(np.float64)
    # The values are checked block by block inside _compute, while each block is in cache; a
    # block that fails sends the whole call through _real_tokens (exact checks, clean padding).
    lp, old = lp.astype(dtype, copy=False), old.astype(dtype, copy=False)
    ref = None if ref is None else ref.astype(dtype, copy=False)
    adv = adv.astype(dtype, copy=False)

    B, T = lp.shape
    n = np.full(B, T, dtype=np.int64) if m is None else _row_counts(m)
    if max_completion_length is not None or loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError('loss_type="dr_grpo" divides by B * max_completion_length: pass '
                             "max_completion_length (the generation budget, a constant)")
        if isinstance(max_completion_length, (bool, np.bool_)) or not isinstance(max_completion_length,
                                                                                  numbers.Integral):
            raise TypeError(f"max_completion_length must be a positive integer, got "
                            f"{describe(max_completion_length)}")
        if max_completion_length < 1:
            raise ValueError(f"max_completion_length must be >= 1, got {max_completion_length!r}")
        longest = int(n.max())
        if max_completion_length < longest:
            raise ValueError(f"max_completion_length={int(max_completion_length)} is shorter than completion "
                             f"{int(n.argmax())}, which has {longest} tokens")

    total = int(n.sum())
    if loss_type == "grpo":
        row_weight = 1.0 / (B * np.maximum(n, 1))
    elif loss_type == "dr_grpo":
        row_weight = np.full(B, 1.0 / (B * int(max_completion_length)))
    else:  # bnpo, dapo, cispo: one process, no accumulation -> active tokens of this batch
        row_weight = np.full(B, 1.0 / max(total, 1))
    if loss_type == "cispo":
        lo, hi = 0.0, epsilon_high  # a cap on the ratio itself
    else:
        lo, hi = 1.0 - epsilon, 1.0 + epsilon_high
    return _Batch(lp, old, ref, adv, m, n, row_weight, lo, hi, beta, loss_type, level, kl,
                  bool(use_bias_correction_kl), dtype, False)


# ------------------------------------------------------------------------------------ the math

# Rows are processed in blocks of about this many elements: the block's inputs, the few scratch
# buffers and the gradient rows then stay in the CPU's L2 cache, and each full-size input is read
# from memory once (a plain NumPy expression makes one memory pass per operation).
BLOCK_ELEMENTS = 1 << 16


class _Unchecked(Exception):
    """A block holds a value that is not a finite log-probability (maybe only in its padding)."""


def _compute(b: _Batch, need_value: bool, need_grad: bool,
             block_elements: int = BLOCK_ELEMENTS) -> tuple[float, Optional[np.ndarray]]:
    """The loss and/or its gradient, one block of rows at a time; one code path for both.

    The common case checks each block's values on the fly (every entry finite and <= 0, padding
    included). Otherwise the arrays get the exact check of their real tokens (raising the
    error that names the parameter) and junk padding is replaced by 0 before the computation.
    """
    if not b.checked:
        try:
            return _compute_blocks(b, need_value, need_grad, block_elements)
        except _Unchecked:
            b = b._replace(lp=_real_tokens(b.lp, "logp", b.m, b.dtype),
                           old=_real_tokens(b.old, "old_logp", b.m, b.dtype),
                           ref=None if b.ref is None or b.beta == 0 else  # unused at beta = 0
                           _real_tokens(b.ref, "ref_logp", b.m, b.dtype),
                           checked=True)
    return _compute_blocks(b, need_value, need_grad, block_elements)


def _compute_blocks(b: _Batch, need_value: bool, need_grad: bool,
                    block_elements: int) -> tuple[float, Optional[np.ndarray]]:
    B, T = b.lp.shape
    dtype, m, n = b.dtype, b.m, b.n
    rows = max(1, min(B, block_elements // T))
    blocks = [slice(a, min(a + rows, B)) for a in range(0, B, rows)]
    R, E, F, S = (np.empty((rows, T), dtype) for _ in range(4))
    flag = np.empty((rows, T), bool)
    # zeros: the gradient's rows are written with ufunc where= masks into them
    grad = np.zeros((B, T), dtype) if need_grad else None

    # ---- per-row quantities, once for the whole batch
    ca = b.row_weight * b.adv.astype(np.float64)  # c_i A_i
    kcoef = (-ca).astype(dtype)                    # d(-c A x) / dx
    positive = b.adv >= 0
    # Per row the advantage has one sign, so min(rho A, clip(rho, lo, hi) A) is A min(rho, hi)
    # for A >= 0 and A max(rho, lo) for A < 0: one bound per row.
    upper = np.where(positive, dtype.type(b.hi), dtype.type(np.inf))
    lower = np.where(positive, dtype.type(-np.inf), dtype.type(b.lo))
    cispo = b.loss_type == "cispo"
    uses_ref = b.beta > 0
    value = 0.0

    if b.level == "sequence":
        # GSPO: one ratio per row, s_i = exp(masked mean of logp - old_logp).
        seq = np.empty(B, dtype)
        lp_rows = np.empty(B, dtype) if cispo and need_value else None
        for sl in blocks:
            # Half the check here: max catches NaN, +inf and positive values anywhere; -inf at a
            # real token makes the row's sum non-finite (tested below), and padding is skipped.
            _check_block(b, sl, (b.lp, b.old), lower=False)
            with np.errstate(invalid="ignore"):  # -inf - -inf at padding: skipped by where=
                d = np.subtract(b.lp[sl], b.old[sl], out=R[:sl.stop - sl.start])
            seq[sl] = np.add.reduce(d, axis=1) if m is None else np.add.reduce(d, axis=1, where=m[sl])
            if lp_rows is not None:
                lp_rows[sl] = np.add.reduce(b.lp[sl], axis=1) if m is None else \
                    np.add.reduce(b.lp[sl], axis=1, where=m[sl])
        if not b.checked and not np.isfinite(seq).all():
            raise _Unchecked
        with np.errstate(over="ignore"):  # a ratio beyond the dtype is inf; handled below
            s = np.exp(seq / np.maximum(n, 1).astype(dtype))
        if cispo:  # -sg(min(s, cap)) A logp: a constant weight per row
            row_slope = np.minimum(s, dtype.type(b.hi)) * kcoef
            if need_value:
                value += float(np.dot(row_slope.astype(np.float64), lp_rows.astype(np.float64)))
        else:
            bounded = np.clip(s, lower, upper)
            if need_value:  # the row's loss, repeated over its n_i tokens
                with np.errstate(invalid="ignore", over="ignore"):
                    terms = -ca * bounded.astype(np.float64) * n
                value += float(np.sum(np.where((b.adv == 0) | (n == 0), 0.0, terms)))  # never 0 * inf
            # n_i copies of the row's loss times d s_i / d logp_t = s_i m_t / n_i: the slope is
            # -c A s_i on every real token where the clip left s_i unchanged (boundary included)
            row_slope = np.where((bounded == s) & (b.adv != 0), s, dtype.type(0)) * kcoef
        if grad is not None:
            if m is None:
                grad[...] = row_slope[:, None]
            else:  # grad holds zeros: fill the real tokens only
                np.copyto(grad, row_slope[:, None], where=m)
        if uses_ref:
            for sl in blocks:
                _check_block(b, sl, (b.lp, b.ref))  # the full check: the KL reads every token
                value += _kl_block(b, sl, s[sl, None], E, F, S, need_value,
                                   None if grad is None else grad[sl])
        return value, grad

    for sl in blocks:
        k = sl.stop - sl.start
        lp, mb = b.lp[sl], None if m is None else m[sl]
        _check_block(b, sl, (b.lp, b.old, b.ref) if uses_ref else (b.lp, b.old))
        g = None if grad is None else grad[sl]
        # the token ratio, from the log-ratio masked to 0 at padding (whatever the padding holds)
        ratio = np.subtract(lp, b.old[sl], out=R[:k])
        if mb is not None:
            ratio *= mb
        with np.errstate(over="ignore"):  # a ratio beyond the dtype is inf; handled below
            np.exp(ratio, out=ratio)
        if cispo:  # -sg(min(rho, cap)) A logp: the weight is a constant for the gradient
            w = np.minimum(ratio, dtype.type(b.hi), out=E[:k])
            w *= kcoef[sl, None]  # d loss / d logp at real tokens
            if mb is not None:
                w *= mb
            if need_value:
                value += float(np.einsum("ij,ij->", w, lp, dtype=np.float64))
            if g is not None:
                g[...] = w
        else:
            bounded = np.clip(ratio, lower[sl, None], upper[sl, None], out=E[:k])
            if need_value:
                masked = bounded if mb is None else np.multiply(bounded, mb, out=F[:k])
                with np.errstate(invalid="ignore", over="ignore"):
                    terms = -ca[sl] * np.add.reduce(masked, axis=1).astype(np.float64)
                value += float(np.sum(np.where(b.adv[sl] == 0, 0.0, terms)))  # never 0 * inf
            if g is not None:
                # slope -c A rho where the unclipped branch is active (its boundary included):
                # exactly where clip() left the ratio unchanged
                active = np.equal(bounded, ratio, out=flag[:k])
                if mb is not None:
                    active &= mb
                active &= (b.adv[sl] != 0)[:, None]
                np.multiply(ratio, kcoef[sl, None], out=g, where=active)
        if uses_ref:
            value += _kl_block(b, sl, ratio, E[:k], F[:k], S[:k], need_value, g)
    return value, grad


def _check_block(b: _Batch, sl: slice, arrays: tuple, lower: bool = True) -> None:
    """Every entry of these rows finite and <= 0 (max catches NaN and +inf, min -inf)."""
    if not b.checked:
        for x in arrays:
            x = x[sl]
            if not x.max() <= 0 or (lower and not np.isfinite(x.min())):
                raise _Unchecked


def _kl_block(b: _Batch, sl: slice, ratio: np.ndarray, E: np.ndarray, F: np.ndarray, S: np.ndarray,
              need_value: bool, g: Optional[np.ndarray]) -> float:
    """Rows ``sl`` of the KL term: returns their share of the loss, adds their gradient to ``g``.

    ``ratio`` is the block's token ratio (k, T) or sequence ratio (k, 1), used by the bias
    correction. With delta = log(pi_theta / pi_ref) masked to 0 at padding, every estimate and
    every slope vanishes there except k1's constant slope, which is masked explicitly.
    """
    k = sl.stop - sl.start
    E, F, S = E[:k], F[:k], S[:k]
    m = None if b.m is None else b.m[sl]
    n = b.n[sl]
    need_k = need_value or b.bias_correction
    need_slope = g is not None
    delta = np.subtract(b.lp[sl], b.ref[sl], out=F)
    if m is not None:
        delta *= m
    kval = slope = None
    if b.kl in ("k3", "k3+"):
        back = np.negative(delta, out=E)
        with np.errstate(over="ignore"):  # pi_ref >> pi_theta beyond the dtype: the KL is inf
            np.exp(back, out=back)  # pi_ref / pi_theta
        if need_slope and b.kl == "k3":
            slope = np.subtract(1, back, out=S)
        elif need_slope:  # k3+: k2's slope, straight-through
            slope = S
            np.copyto(slope, delta)
        if need_k:
            kval = np.add(back, delta, out=E)  # TRL's order: (exp(ref - logp) - (ref - logp)) - 1
            kval -= 1
    elif b.kl == "k2":
        if need_k:
            kval = np.multiply(delta, delta, out=E)
            kval *= 0.5
        if need_slope:
            slope = S
            np.copyto(slope, delta)
    else:  # k1
        kval = delta
        if need_slope:
            slope = S
            if m is None:
                slope.fill(1)
            else:
                np.copyto(slope, m)

    bc = b.beta * b.row_weight[sl]  # (k,) float64
    token = ratio.shape[1] != 1
    value = 0.0
    if b.bias_correction:  # kl * ratio, the ratio not detached (as in TRL)
        if token:
            if need_value:
                value = float(np.dot(bc, np.einsum("ij,ij->i", kval, ratio, dtype=np.float64)))
            if need_slope:  # d(k rho) = (k' + k) rho
                slope += kval
                slope *= ratio
        else:
            s = ratio[:, 0].astype(np.float64)
            ksum = np.add.reduce(kval, axis=1, dtype=np.float64)
            if need_value:
                value = float(np.dot(bc, ksum * s))
            if need_slope:  # d(k_t s_i) = k'_t s_i + s_i (sum_t m k) m_t / n_i
                slope *= ratio
                own = (s * ksum / np.maximum(n, 1)).astype(b.dtype)[:, None]
                slope += own if m is None else np.multiply(m, own, out=E)
    elif need_value:
        value = float(np.dot(bc, np.add.reduce(kval, axis=1, dtype=np.float64)))
    if need_slope:
        slope *= bc.astype(b.dtype)[:, None]
        g += slope
    return value


# ---------------------------------------------------------------------------------- public API

_DOC_ARGS = """
    Parameters
    ----------
    logp, old_logp : array_like, shape (B, T)
        Per-token log-probabilities of the sampled completion tokens under the current policy and
        under the policy that sampled them (TRL's ``per_token_logps``, ``old_per_token_logps``).
        Finite and ``<= 0`` at real tokens; padding is ignored.
    advantages : array_like, shape (B,)
        One advantage per completion, e.g. :func:`r1lib.group_advantages` of the rewards.
    mask : array_like of bool or 0/1, shape (B, T), optional
        1 at real tokens, 0 at padding (TRL's ``completion_mask``). Default: no padding. A row may
        be empty (it then adds nothing), the whole mask may not.
    ref_logp : array_like, shape (B, T), optional
        The reference policy's log-probabilities; needed when ``beta > 0``.
    beta : float, default 0.0
        KL coefficient, ``>= 0``. TRL's default 0 means no reference model at all.
    epsilon : float, default 0.2
        Lower clip, ``0 < epsilon < 1``: the ratio is clipped below at ``1 - epsilon``.
    epsilon_high : float, optional
        Upper clip (``1 + epsilon_high``); None means ``epsilon``. Must be ``>= epsilon``. DAPO's
        clip-higher uses 0.28. For ``"cispo"`` it is the cap on the ratio itself, so set it
        (TRL recommends 5.0): left at None the cap is ``epsilon``, 0.2, as in TRL.
    loss_type : {"grpo", "bnpo", "dr_grpo", "dapo", "cispo"}, default "grpo"
        How token losses are aggregated (and, for "cispo", the policy term); see the module.
    importance_sampling_level : {"token", "sequence"}, default "token"
        "sequence" is GSPO: one ratio per completion, the geometric mean of its token ratios.
    max_completion_length : int, optional
        The generation budget; required by "dr_grpo" (its constant divisor) and never shorter
        than a completion.
    kl : {"k1", "k2", "k3", "k3+"}, default "k3"
        The per-token KL estimate; "k3+" is k3's value with k2's gradient (verl).
    use_bias_correction_kl : bool, default False
        Multiply the KL estimate by the importance ratio (DeepSeek-V3.2; TRL's option).
"""


def grpo_loss(logp: ArrayLike, old_logp: ArrayLike, advantages: ArrayLike, mask: Optional[ArrayLike] = None,
              *, ref_logp: Optional[ArrayLike] = None, beta: float = 0.0, epsilon: float = 0.2,
              epsilon_high: Optional[float] = None, loss_type: str = "grpo",
              importance_sampling_level: str = "token", max_completion_length: Optional[int] = None,
              kl: str = "k3", use_bias_correction_kl: bool = False) -> float:
    r"""The GRPO-family training loss (to minimise), as TRL's GRPOTrainer computes it.

    .. math::

        \mathcal{L} = \sum_{i}\ c_i \sum_t m_{i,t}\Bigl(-\min\bigl(\rho_{i,t}A_i,\
        \mathrm{clip}(\rho_{i,t}, 1-\epsilon, 1+\epsilon_{high})A_i\bigr)
        + \beta\,\mathrm{kl}_{i,t}\Bigr)

    with :math:`c_i = 1/(B\max(n_i,1))` ("grpo", DeepSeekMath eq. 3 negated),
    :math:`1/\max(N,1)` ("bnpo", "dapo", "cispo": token-level, DAPO) or :math:`1/(B\,L_{max})`
    ("dr_grpo", arXiv:2503.20783). The module docstring gives GSPO's sequence ratio, CISPO's
    policy term and the KL estimators. On-policy (``logp == old_logp``, ratio 1) with ``beta = 0``
    the "grpo" loss is :math:`-\mathrm{mean}_i A_i`.
    """
    b = _prepare(logp, old_logp, advantages, mask, ref_logp, beta, epsilon, epsilon_high, loss_type,
                 importance_sampling_level, max_completion_length, kl, use_bias_correction_kl)
    return _compute(b, True, False)[0]


def grpo_loss_grad(logp: ArrayLike, old_logp: ArrayLike, advantages: ArrayLike, mask: Optional[ArrayLike] = None,
                   *, ref_logp: Optional[ArrayLike] = None, beta: float = 0.0, epsilon: float = 0.2,
                   epsilon_high: Optional[float] = None, loss_type: str = "grpo",
                   importance_sampling_level: str = "token", max_completion_length: Optional[int] = None,
                   kl: str = "k3", use_bias_correction_kl: bool = False) -> np.ndarray:
    r"""Exact gradient of :func:`grpo_loss` with respect to ``logp``, shape (B, T).

    Token level, clipped loss types: :math:`\partial\mathcal{L}/\partial\log\pi_\theta(o_{i,t}) =
    c_i\,m_{i,t}\bigl(-A_i\rho_{i,t}\mathbb{1}[\text{unclipped}] + \beta\,\partial\mathrm{kl}\bigr)`,
    "unclipped" meaning :math:`\rho\le1+\epsilon_{high}` for :math:`A\ge0` and
    :math:`\rho\ge1-\epsilon` for :math:`A<0` (boundaries included, as autograd gives them).
    Sequence level: every real token of row i gets :math:`-c_i A_i s_i\mathbb{1}[\text{unclipped}]`
    (the row's :math:`n_i` copies of the loss times :math:`\partial s_i/\partial\log\pi =
    s_i/n_i`). "cispo": :math:`-c_i\min(\rho,\epsilon_{high})A_i` (the weight is detached).
    KL slopes: k1 1, k2 and k3+ :math:`\delta`, k3 :math:`1-e^{-\delta}`; with the bias
    correction the product rule adds :math:`\mathrm{kl}\cdot\rho` (token) or
    :math:`s_i\sum_t m\,\mathrm{kl}/n_i` (sequence). Chain with
    :math:`\partial\log\pi(o_t)/\partial z = e_{o_t}-\mathrm{softmax}(z)` to reach the logits.
    Note that "k3+" and "cispo" are surrogate gradients by design (straight-through, stop-gradient):
    they are not the derivative of the value :func:`grpo_loss` returns.
    """
    b = _prepare(logp, old_logp, advantages, mask, ref_logp, beta, epsilon, epsilon_high, loss_type,
                 importance_sampling_level, max_completion_length, kl, use_bias_correction_kl)
    return _compute(b, False, True)[1]


def grpo_loss_and_grad(logp: ArrayLike, old_logp: ArrayLike, advantages: ArrayLike,
                       mask: Optional[ArrayLike] = None, *, ref_logp: Optional[ArrayLike] = None,
                       beta: float = 0.0, epsilon: float = 0.2, epsilon_high: Optional[float] = None,
                       loss_type: str = "grpo", importance_sampling_level: str = "token",
                       max_completion_length: Optional[int] = None, kl: str = "k3",
                       use_bias_correction_kl: bool = False) -> tuple[float, np.ndarray]:
    """``(grpo_loss(...), grpo_loss_grad(...))`` from one pass over the batch: what a training
    step needs, at about the cost of one of the two calls (the input is checked once and the
    ratios computed once). Same arguments and results as :func:`grpo_loss` and
    :func:`grpo_loss_grad`, bit for bit.
    """
    b = _prepare(logp, old_logp, advantages, mask, ref_logp, beta, epsilon, epsilon_high, loss_type,
                 importance_sampling_level, max_completion_length, kl, use_bias_correction_kl)
    return _compute(b, True, True)


if grpo_loss.__doc__ is not None:  # None under python -OO
    grpo_loss.__doc__ += _DOC_ARGS + """
    Returns
    -------
    float
        The loss. It is ``inf`` only if a ratio or a KL term overflows the dtype.
    """
    grpo_loss_grad.__doc__ += _DOC_ARGS + """
    Returns
    -------
    numpy.ndarray, shape (B, T)
        Float32 when the token arrays are float32, else float64; exactly 0 at padding.
    """


class ClipFractions(NamedTuple):
    """Result of :func:`clip_fractions` (TRL's ``clip_ratio/low_mean``, ``high_mean``, ``region_mean``)."""
    low: float     # ratio below 1 - epsilon with A < 0 (CISPO: always 0)
    high: float    # ratio above 1 + epsilon_high with A > 0 (CISPO: above the cap epsilon_high)
    region: float  # low + high: the share that gets no policy gradient (CISPO: a capped weight)


def clip_fractions(logp: ArrayLike, old_logp: ArrayLike, advantages: ArrayLike, mask: Optional[ArrayLike] = None,
                   *, epsilon: float = 0.2, epsilon_high: Optional[float] = None, loss_type: str = "grpo",
                   importance_sampling_level: str = "token") -> ClipFractions:
    r"""How much of a batch the clip switched off, as TRL logs it.

    A token is *low-clipped* when :math:`
ho < 1-\epsilon` and :math:`A < 0`, *high-clipped*
    when :math:`
ho > 1+\epsilon_{high}` and :math:`A > 0`: exactly the tokens whose policy
    gradient :func:`grpo_loss_grad` sets to 0 (a ratio on the boundary is not clipped). Token
    level: the share of real tokens, :math:`\sum_{i,t} m_{i,t}\,\mathbb{1}[\cdot] / N`. Sequence
    level (GSPO): the share of completions, :math:`rac1B\sum_i \mathbb{1}[\cdot]` with the
    sequence ratio :math:`s_i`, as TRL averages a (B, 1) column. ``"cispo"``: the share whose
    weight was capped, :math:`
ho > \epsilon_{high}` with :math:`A > 0` (TRL's
    ``cispo_clip_ratio``), reported as ``high``. Arguments as in :func:`grpo_loss`.

    Returns
    -------
    ClipFractions
        ``(low, high, region)``, floats in [0, 1].
    """
    cispo = check_option(loss_type, "loss_type", LOSS_TYPES) == "cispo"
    b = _prepare(logp, old_logp, advantages, mask, None, 0.0, epsilon, epsilon_high,
                 "cispo" if cispo else "dapo", importance_sampling_level, None, "k3", False)
    lp = _real_tokens(b.lp, "logp", b.m, b.dtype)
    old = _real_tokens(b.old, "old_logp", b.m, b.dtype)
    d = lp - old
    if b.m is not None:
        d *= b.m  # 0 at padding, whatever (finite) values the padding holds
    with np.errstate(over="ignore"):  # inf is simply "above every bound"
        if b.level == "token":
            ratio = np.exp(d)
        else:
            ratio = np.exp(np.add.reduce(d, axis=1) / np.maximum(b.n, 1).astype(b.dtype))[:, None]
    a = b.adv[:, None]
    if cispo:
        low = np.zeros(ratio.shape, bool)
        high = (ratio > b.hi) & (a > 0)
    else:
        low = (ratio < b.lo) & (a < 0)
        high = (ratio > b.hi) & (a > 0)

    def share(flags: np.ndarray) -> float:
        if b.level == "sequence":
            return float(np.mean(flags))
        if b.m is not None:
            flags = flags & b.m
        return float(np.count_nonzero(flags)) / float(b.n.sum())
    lo_share, hi_share = share(low), share(high)
    return ClipFractions(lo_share, hi_share, share(low | high))


# ------------------------------------------------------------------- DAPO: reward-side helpers

def overlong_penalty(lengths: ArrayLike, max_completion_length: int, cache_length: int) -> np.ndarray:
    r"""DAPO's soft overlong punishment (arXiv:2503.14476, eq. 13), added to the reward.

    .. math::

        R_{length}(y) = \begin{cases} 0 & |y| \le L_{max} - L_{cache} \\
        \frac{(L_{max} - L_{cache}) - |y|}{L_{cache}} & L_{max} - L_{cache} < |y| \le L_{max} \\
        -1 & |y| > L_{max} \end{cases}

    A linear ramp from 0 to -1 over the last ``cache_length`` tokens of the budget, so the policy
    learns to stop before truncation instead of being hit by a cliff. Same as TRL's
    ``get_soft_overlong_punishment(max_completion_len, soft_punish_cache)``.

    Parameters
    ----------
    lengths : array_like of int
        Completion lengths :math:`|y|` in tokens, ``>= 0``.
    max_completion_length : int
        :math:`L_{max}`, ``>= 1``.
    cache_length : int
        :math:`L_{cache}`, ``0 <= cache_length <= max_completion_length`` (0: only the cliff).

    Returns
    -------
    numpy.ndarray of float64, shape of ``lengths``; values in [-1, 0].
    """
    n = int_array(lengths, "lengths")
    if (n < 0).any():
        raise ValueError(f"lengths must be >= 0, got {int(n.min())}")
    for name, v in (("max_completion_length", max_completion_length), ("cache_length", cache_length)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an integer, got {describe(v)}")
    if max_completion_length < 1:
        raise ValueError(f"max_completion_length must be >= 1, got {max_completion_length!r}")
    if not 0 <= cache_length <= max_completion_length:
        raise ValueError(f"cache_length must lie in [0, max_completion_length={max_completion_length}], "
                         f"got {cache_length!r}")
    start = int(max_completion_length) - int(cache_length)
    ramp = (start - n) / max(int(cache_length), 1)  # only read where cache_length > 0
    return np.where(n <= start, 0.0, np.where(n <= max_completion_length, ramp, -1.0))


def dynamic_sampling_mask(rewards: ArrayLike, axis: int = -1) -> np.ndarray:
    r"""DAPO's dynamic sampling filter: True for the groups worth keeping.

    A group whose G rewards are all equal (all right or all wrong) has advantages exactly 0 under
    any scaling, so it adds nothing to the policy gradient but still dilutes the token-mean; DAPO
    (arXiv:2503.14476, eq. 11 constraint :math:`0 < |\{o_i \text{ correct}\}| < G`) drops such
    groups and samples more prompts instead.

    Parameters
    ----------
    rewards : array_like
        Rewards; ``axis`` runs over the G outputs of one prompt.
    axis : int, default -1

    Returns
    -------
    numpy.ndarray of bool
        Shape of ``rewards`` without ``axis``; False where the group's rewards are all equal
        (exact comparison). ``(~keep).sum()`` is the number of groups dropped.
    """
    r = float_array(rewards, "rewards", min_ndim=1)
    ax = check_axis(axis, r.ndim)
    return np.ptp(r, axis=ax) != 0


class DroppedGroups(NamedTuple):
    """Result of :func:`drop_constant_groups`."""
    rewards: np.ndarray         # the kept groups' rewards
    arrays: tuple               # the other per-group arrays, same groups kept
    keep: np.ndarray            # bool per group (the filter that was applied)
    dropped: int                # how many groups carried no signal and were dropped


def drop_constant_groups(rewards: ArrayLike, *per_group: ArrayLike) -> DroppedGroups:
    """Dynamic sampling as a batch filter: drop the groups whose rewards are all equal.

    Parameters
    ----------
    rewards : array_like, shape (P, G)
        One row per prompt, one column per sampled output.
    *per_group : array_like
        Any arrays with one leading entry per prompt (e.g. token log-probs of shape (P, G, T),
        masks, lengths), filtered alike.

    Returns
    -------
    DroppedGroups
        ``(rewards, arrays, keep, dropped)``. If every group is constant the kept arrays are
        empty (0 prompts): the trainer should sample again (DAPO keeps sampling until the batch
        is full).
    """
    r = float_array(rewards, "rewards", min_ndim=2)
    if r.ndim != 2:
        raise ValueError(f"rewards must have shape (prompts, G), got shape {r.shape}")
    keep = dynamic_sampling_mask(r, axis=1)
    kept = []
    for k, a in enumerate(per_group):
        arr = np.asarray(a)
        if arr.ndim == 0 or arr.shape[0] != r.shape[0]:
            raise ValueError(f"per_group[{k}] has shape {arr.shape}, expected {r.shape[0]} leading entries "
                             f"(one per prompt, like rewards {r.shape})")
        kept.append(arr[keep])
    return DroppedGroups(r[keep], tuple(kept), keep, int(np.count_nonzero(~keep)))

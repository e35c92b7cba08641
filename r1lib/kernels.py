"""Fast paths for the few r1lib functions that users run on large arrays.

The public functions keep the plain formula (what the notebooks teach) as their reference path,
which also does all validation and raises every error. A kernel here handles only the clean,
common case and returns ``None`` for anything else ("not mine: take the plain path"), so an
invalid input always meets exactly the plain path's checks and messages.

Why these are faster than the plain formulas, which are already vectorised: a plain NumPy
expression makes one full pass over memory per operation and allocates a full-size temporary for
each intermediate. For a (32, 152064) batch of logits that is ~20 MB per temporary and a dozen
passes through main memory. The kernels below process the input in blocks small enough to stay
in the CPU's L2 cache, reuse a few preallocated block buffers (``out=``), and read each input
from memory once. Nothing else changes: same formula, same float dtype rules.
``tests/test_kernels.py`` checks every kernel against its plain version.
"""
from __future__ import annotations

import math
import numbers
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Optional

import numpy as np

__all__: list[str] = []  # package-internal helpers (not part of the public API, but named without underscores so that every module may import them)

# Elements per block buffer. Three buffers of 2**16 float32 (768 KB) or float64 (1.5 MB) fit this
# class of CPU's L2 cache (1-2 MB per core) together with the block of input being read. A row
# longer than this (a 152k vocabulary) is one block: one row of each buffer still fits L2 on
# current CPUs, and splitting rows would need an online (running-max) softmax.
BLOCK_ELEMENTS = 1 << 16
# Inputs at least this large (elements per input) are split over threads: below it, starting
# threads costs more than it saves.
PARALLEL_MIN_ELEMENTS = 1 << 20


def _plain_float_array(x: Any) -> bool:
    """True for the inputs a kernel handles: an exact ndarray (no subclass) of float32/float64."""
    return type(x) is np.ndarray and x.dtype in (np.float32, np.float64) and x.size > 0


def _positive_finite(value: Any) -> Optional[float]:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) and value > 0.0 else None


def worker_threads(rows: int, elements: int) -> int:
    """Threads for a kernel call: 1 for small inputs, else the usable cores (at most 8, at most
    one per row). ``R1LIB_NUM_THREADS`` overrides the core count (1 turns threads off)."""
    if elements < PARALLEL_MIN_ELEMENTS or rows < 2:
        return 1
    setting = os.environ.get("R1LIB_NUM_THREADS", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"R1LIB_NUM_THREADS must be a positive integer, got {setting!r}")
        cores = int(setting)
    else:
        try:
            cores = len(os.sched_getaffinity(0))  # the cores this process may run on
        except AttributeError:  # not on Linux
            cores = os.cpu_count() or 1
    return max(1, min(cores, 8, rows))


def kl_from_logits_rows(p_logits: Any, q_logits: Any, temperature: Any, axis: Any,
                        block_elements: int = BLOCK_ELEMENTS,
                        threads: Optional[int] = None) -> Optional[np.ndarray]:
    r"""Blockwise ``KL(softmax(p_logits/T) || softmax(q_logits/T))`` along ``axis``, or ``None``.

    Per row, with :math:`a = z_p/T - \max`, :math:`b = z_q/T - \max`, :math:`s_a = \sum e^{a}`,
    :math:`s_b = \sum e^{b}`:

    .. math:: KL = \frac{1}{s_a}\sum_i e^{a_i}(a_i - b_i) - \log s_a + \log s_b

    which is :math:`\sum_i p_i[(a_i - b_i) - (\log s_a - \log s_b)]`, the plain path's
    difference-of-logits form with :math:`p_i = e^{a_i}/s_a` folded into one division per row.
    Two ``exp`` per element pair, row sums accumulated in float64, no full-size temporary.

    Returns ``None`` (use the plain path) unless both inputs are same-shape, same-dtype float32 or
    float64 ndarrays, the temperature is a finite positive real, ``axis`` is a valid int, and
    every row has a finite maximum after scaling (so NaN, ``+inf``, a temperature that overflows
    the dtype, and all-masked rows all reach the plain path's error messages).

    Large inputs are split into contiguous groups of rows, one per thread (``threads``; default
    :func:`worker_threads`): rows are independent and NumPy releases the GIL inside its loops, so
    this uses the cores PyTorch would use. Every row is computed exactly as on one thread.
    """
    if not (_plain_float_array(p_logits) and _plain_float_array(q_logits)):
        return None
    if p_logits.dtype != q_logits.dtype or p_logits.shape != q_logits.shape:
        return None
    t = _positive_finite(temperature)
    ndim = p_logits.ndim
    if t is None or isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        return None
    if not -ndim <= int(axis) < ndim:
        return None
    dtype = p_logits.dtype
    # Rows along the last axis; a view for the usual C-ordered, last-axis case, else one copy.
    a_rows = np.moveaxis(p_logits, int(axis), -1)
    lead_shape, width = a_rows.shape[:-1], a_rows.shape[-1]
    a_rows = a_rows.reshape(-1, width)
    b_rows = np.moveaxis(q_logits, int(axis), -1).reshape(-1, width)
    n_rows = a_rows.shape[0]

    workers = worker_threads(n_rows, a_rows.size) if threads is None else max(1, min(threads, n_rows))
    if workers == 1:
        kl = _kl_rows(a_rows, b_rows, t, block_elements)
    else:
        bounds = np.linspace(0, n_rows, workers + 1).astype(int)
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(lambda lo, hi: _kl_rows(a_rows[lo:hi], b_rows[lo:hi], t, block_elements),
                                  bounds[:-1], bounds[1:]))
        kl = None if any(part is None for part in parts) else np.concatenate(parts)
    if kl is None:
        return None
    # Gibbs' inequality makes KL >= 0; a tiny negative value is rounding only.
    out = np.maximum(kl, 0.0).astype(dtype).reshape(lead_shape)
    return out if out.ndim else out[()]  # a NumPy scalar for 1-D input, as on the plain path


def _kl_rows(a_rows: np.ndarray, b_rows: np.ndarray, t: float, block_elements: int) -> Optional[np.ndarray]:
    """The KL of each row of two C-ordered 2-D arrays (float64), or None: see kl_from_logits_rows."""
    n_rows, width = a_rows.shape
    dtype = a_rows.dtype
    rows = max(1, min(n_rows, block_elements // width))
    buf_a = np.empty((rows, width), dtype)  # a = z_p/T - max, then e^a * (a - b)
    buf_b = np.empty((rows, width), dtype)  # b = z_q/T - max
    buf_e = np.empty((rows, width), dtype)  # e^b, then e^a
    weighted = np.empty(n_rows)  # sum_i p_i (a_i - b_i)
    log_sa = np.empty(n_rows)
    log_sb = np.empty(n_rows)
    # over/divide: T may overflow or underflow the dtype and z/T overflow (all caught below via
    # the row max); invalid: masked classes make -inf - -inf and 0 * -inf, whose NaN rows are
    # recomputed with masks below.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        t_dtype = dtype.type(t)  # divide in the input's dtype, exactly as the plain path does
        for start in range(0, n_rows, rows):
            stop = min(n_rows, start + rows)
            a, b, e = buf_a[: stop - start], buf_b[: stop - start], buf_e[: stop - start]
            np.divide(a_rows[start:stop], t_dtype, out=a)
            np.divide(b_rows[start:stop], t_dtype, out=b)
            max_a = a.max(axis=1, keepdims=True)
            max_b = b.max(axis=1, keepdims=True)
            if not (np.isfinite(max_a).all() and np.isfinite(max_b).all()):
                return None  # NaN, +inf, overflow or an all -inf row: the plain path says which
            a -= max_a
            b -= max_b
            np.exp(b, out=e)
            sb = e.sum(axis=1, dtype=np.float64)
            np.exp(a, out=e)
            sa = e.sum(axis=1, dtype=np.float64)
            a -= b  # the difference of logits; e still holds e^a
            a *= e
            dot = a.sum(axis=1, dtype=np.float64)
            weighted[start:stop] = dot / sa
            log_sa[start:stop] = np.log(sa)
            log_sb[start:stop] = np.log(sb)
            # A NaN row had a class masked (-inf) in p: 0 * -inf. Redo it with the plain path's
            # convention, terms only where p_i = exp(log p_i) > 0 (so the two paths agree).
            for i in np.flatnonzero(np.isnan(dot)):
                row = start + i
                np.divide(a_rows[row], t_dtype, out=a[i])
                a[i] -= max_a[i]  # a[i] = a again; b[i] is untouched
                p = np.subtract(a[i], dtype.type(log_sa[row]), out=e[i])
                np.exp(p, out=p)
                support = p > 0
                np.subtract(a[i], b[i], out=a[i])
                terms = np.multiply(p, a[i], out=np.zeros(width, dtype), where=support)
                weighted[row] = terms.sum(dtype=np.float64)
    return weighted - log_sa + log_sb


def kl_k3_blocks(logp: Any, ref_logp: Any,
                 block_elements: int = BLOCK_ELEMENTS) -> Optional[np.ndarray]:
    r"""Blockwise ``k3 = expm1(log r) - log r``, ``log r = ref_logp - logp``, or ``None``.

    Handles same-shape float32/float64 ndarrays whose values pass the plain path's checks
    (``logp`` finite and ``<= 0``; ``ref_logp`` ``<= 0`` or ``-inf``), checked block by block
    while the block is in cache; anything else returns ``None``.
    """
    if not (_plain_float_array(logp) and _plain_float_array(ref_logp)):
        return None
    if logp.shape != ref_logp.shape:
        return None  # broadcasting: the plain path handles it
    dtype = np.dtype(np.float32) if logp.dtype == ref_logp.dtype == np.float32 else np.dtype(np.float64)
    out = np.empty(logp.shape, dtype)
    flat_out = out.reshape(-1)
    flat_lp, flat_ref = logp.reshape(-1), ref_logp.reshape(-1)
    size = flat_out.size
    log_ratio = np.empty(min(size, block_elements), dtype)
    # over: r = e^{log r} overflows only when k3 is beyond the dtype (+inf, as on the plain path).
    # invalid: a logp of -inf gives log r = +inf or NaN, hence a NaN k3, which declines below.
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, size, block_elements):
            stop = min(size, start + block_elements)
            lp, ref, lr, k3 = (flat_lp[start:stop], flat_ref[start:stop],
                               log_ratio[: stop - start], flat_out[start:stop])
            # max is NaN when any entry is NaN, so this also rejects NaN and +inf.
            if not (lp.max() <= 0 and ref.max() <= 0):
                return None
            np.subtract(ref, lp, out=lr)
            np.expm1(lr, out=k3)
            k3 -= lr
            # One read-only min does two jobs: with valid input k3 cannot be NaN, so NaN means a
            # logp of -inf (cheaper than a separate lp.min() pass); and x - 1 - log x >= 0, so a
            # negative value is rounding for tiny |log r|, clipped like the plain path does.
            low = k3.min()
            if not low >= 0:
                if np.isnan(low):
                    return None
                np.maximum(k3, 0.0, out=k3)
    return out if out.ndim else out[()]  # 0-d in, NumPy scalar out, as on the plain path

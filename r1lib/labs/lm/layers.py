r"""The tiny transformer's layers, each forward beside its backward.

Every layer is a pair of functions. ``<layer>_forward(inputs, params...)`` returns the output and
a *cache* (a tuple of the arrays the backward needs); ``<layer>_backward(dy, cache)`` takes the
gradient of the loss with respect to the output, :math:`\partial L/\partial y`, and returns the
gradients with respect to the inputs and the parameters, in the order the forward took them.
Shapes: ``B`` rows (sequences), ``T`` positions, ``d`` model width, ``H`` heads of width
``d_h = d / H``, ``V`` vocabulary size; ``...`` means any leading axes.

The arithmetic stays in the dtype of the inputs (float32 for training, float64 for the gradient
tests) and the matrix products are shaped for BLAS: the leading axes are folded into one, so a
linear layer is a single ``(B*T, d) @ (d, k)`` product, and attention loops over neither rows nor
heads. Where a buffer is no longer needed, the next step overwrites it in place; the comments say
so, because a learner copying the code must not reuse such an array.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ...softmax import log_softmax

__all__ = [
    "embedding_forward", "embedding_backward",
    "layer_norm_forward", "layer_norm_backward",
    "linear_forward", "linear_backward",
    "gelu_forward", "gelu_backward",
    "attention_forward", "attention_backward", "attention_bias",
    "split_heads", "merge_heads",
    "log_softmax_gather_forward", "log_softmax_gather_backward",
]

LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default, so the torch cross-check uses the same model
GELU_C = math.sqrt(2.0 / math.pi)
GELU_A = 0.044715
BLOCK_BYTES = 1 << 17  # element-wise chains run over blocks of about this size (see row_blocks)


def row_blocks(x: np.ndarray):
    """Slices of ``x``'s first axis, each about :data:`BLOCK_BYTES` big.

    A chain of a dozen element-wise NumPy operations over a whole (B*T, d_mlp) array reads and
    writes memory a dozen times; run block by block, each block stays in the CPU's L2 cache for
    the whole chain (measured 1.5x faster for GELU on a busy 2-core machine).
    """
    per_row = max(1, x[:1].nbytes)
    step = max(1, BLOCK_BYTES // per_row)
    for start in range(0, len(x), step):
        yield slice(start, start + step)


# ------------------------------------------------------------------------------------ embedding

def embedding_forward(ids: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, tuple]:
    r"""Look up rows of a table: :math:`y_{\dots} = E[\mathrm{ids}_{\dots}]`.

    ``ids`` (...) integers in ``[0, n_rows)``, ``table`` (n_rows, d) -> ``y`` (..., d).
    The token embedding and the learned position embedding are both this layer.
    """
    return table[ids], (ids, table.shape)


def embedding_backward(dy: np.ndarray, cache: tuple) -> np.ndarray:
    r"""Scatter-add the output gradient into the rows that were read.

    .. math:: \frac{\partial L}{\partial E_r} = \sum_{i:\ \mathrm{ids}_i = r} \frac{\partial L}{\partial y_i}

    A row read twice gets both gradients; a row never read gets zero. The sum is computed as
    ``onehot(ids)^T @ dy``, one matrix product (much faster than ``np.add.at`` for the tiny
    vocabulary and context here). Returns ``dE`` with the table's shape.
    """
    ids, (n_rows, d) = cache
    flat_ids = ids.reshape(-1)
    onehot = np.zeros((flat_ids.size, n_rows), dtype=dy.dtype)
    onehot[np.arange(flat_ids.size), flat_ids] = 1
    return onehot.T @ dy.reshape(-1, d)


# ------------------------------------------------------------------------------------ layer norm

def layer_norm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                       eps: float = LAYER_NORM_EPS) -> tuple[np.ndarray, tuple]:
    r"""Normalise each vector over its last axis, then scale and shift.

    .. math::
        \mu = \tfrac1d \sum_j x_j, \quad \sigma^2 = \tfrac1d \sum_j (x_j-\mu)^2, \quad
        \hat x_j = \frac{x_j - \mu}{\sqrt{\sigma^2 + \epsilon}}, \quad y_j = \gamma_j \hat x_j + \beta_j

    ``x`` (..., d), ``gamma`` and ``beta`` (d,). The variance is the biased one (divide by ``d``),
    as in torch.nn.LayerNorm. (Row sums are written as ``einsum``: several times faster than
    ``mean`` over a short last axis.)
    """
    d = x.shape[-1]
    mu = np.einsum("...j->...", x)[..., None] / d
    xhat = x - mu
    var = np.einsum("...j,...j->...", xhat, xhat)[..., None] / d
    rstd = 1.0 / np.sqrt(var + eps)
    xhat *= rstd
    y = xhat * gamma
    y += beta
    return y, (xhat, rstd, gamma)


def layer_norm_backward(dy: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of layer norm, with :math:`g = \gamma \odot \partial L/\partial y`:

    .. math::
        \frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma^2+\epsilon}}
            \Big(g - \overline{g} - \hat x\, \overline{g \hat x}\Big), \quad
        \frac{\partial L}{\partial \gamma} = \sum_{\text{rows}} \frac{\partial L}{\partial y}\odot \hat x, \quad
        \frac{\partial L}{\partial \beta} = \sum_{\text{rows}} \frac{\partial L}{\partial y}

    where the bar is the mean over the last axis. (Differentiating :math:`\mu` gives the
    :math:`-\overline g` term, differentiating :math:`\sigma` the :math:`-\hat x\,\overline{g\hat x}` term.)
    Returns ``(dx, dgamma, dbeta)``.
    """
    xhat, rstd, gamma = cache
    d = xhat.shape[-1]
    dy2, xhat2 = dy.reshape(-1, d), xhat.reshape(-1, d)
    dgamma = np.einsum("ij,ij->j", dy2, xhat2)
    dbeta = np.einsum("ij->j", dy2)
    g = dy * gamma
    g_mean = np.einsum("...j->...", g)[..., None] / d
    gx_mean = np.einsum("...j,...j->...", g, xhat)[..., None] / d
    g -= g_mean
    g -= xhat * gx_mean
    g *= rstd
    return g, dgamma, dbeta


# ------------------------------------------------------------------------------------ linear

def linear_forward(x: np.ndarray, w: np.ndarray, b: Optional[np.ndarray] = None) -> tuple[np.ndarray, tuple]:
    r"""An affine map of the last axis: :math:`y = x W + b`.

    ``x`` (..., n_in), ``w`` (n_in, n_out) (stored input-major, so the formula reads as the code;
    torch.nn.Linear stores the transpose), ``b`` (n_out,) or None -> ``y`` (..., n_out).
    The leading axes are folded into one matrix product.
    """
    lead = x.shape[:-1]
    x2 = x.reshape(-1, x.shape[-1])
    y = x2 @ w
    if b is not None:
        y += b
    return y.reshape(*lead, w.shape[1]), (x2, w, b is not None)


def linear_backward(dy: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
    r"""Gradients of :math:`y = xW + b` (rows of ``x`` folded into one axis):

    .. math::
        \frac{\partial L}{\partial x} = \frac{\partial L}{\partial y} W^\top, \quad
        \frac{\partial L}{\partial W} = x^\top \frac{\partial L}{\partial y}, \quad
        \frac{\partial L}{\partial b} = \sum_{\text{rows}} \frac{\partial L}{\partial y}

    Returns ``(dx, dW, db)`` (``db`` None when the layer has no bias).
    """
    x2, w, has_bias = cache
    dy2 = dy.reshape(-1, w.shape[1])
    dw = x2.T @ dy2
    db = np.einsum("ij->j", dy2) if has_bias else None
    dx = (dy2 @ w.T).reshape(*dy.shape[:-1], w.shape[0])
    return dx, dw, db


# ------------------------------------------------------------------------------------ GELU

def gelu_forward(x: np.ndarray) -> tuple[np.ndarray, tuple]:
    r"""GELU, tanh approximation (GPT-2's; torch's ``gelu(approximate="tanh")``):

    .. math:: y = \tfrac12 x \big(1 + t\big), \qquad t = \tanh u, \qquad u = \sqrt{2/\pi}\,\big(x + 0.044715\,x^3\big)

    The derivative is computed here too, while ``x`` and ``t`` are at hand, and kept as the
    cache (the backward is then one product):

    .. math::
        \frac{dy}{dx} = \tfrac12 (1 + t) + \tfrac12 x\,(1 - t^2)\,\frac{du}{dx}, \qquad
        \frac{du}{dx} = \sqrt{2/\pi}\,\big(1 + 3 \cdot 0.044715\,x^2\big)
    """
    x2 = x.reshape(-1, x.shape[-1])
    y, dy_dx = np.empty_like(x2), np.empty_like(x2)
    for rows in row_blocks(x2):
        xb, t, d = x2[rows], y[rows], dy_dx[rows]   # t and d are views into y and dy_dx
        np.multiply(xb, xb, out=d)              # x^2
        np.multiply(d, GELU_A, out=t)
        t += 1.0
        t *= xb
        t *= GELU_C                             # u
        np.tanh(t, out=t)                       # t = tanh(u)
        d *= 3.0 * GELU_A * GELU_C
        d += GELU_C                             # du/dx
        d *= xb
        d *= 1.0 - t * t                        # x (1 - t^2) du/dx
        t += 1.0                                # 1 + t
        d += t
        d *= 0.5                                # dy/dx
        t *= xb
        t *= 0.5                                # y = x (1 + t) / 2
    return y.reshape(x.shape), (dy_dx.reshape(x.shape),)


def gelu_backward(dy: np.ndarray, cache: tuple) -> np.ndarray:
    r""":math:`\partial L/\partial x = \partial L/\partial y \cdot dy/dx`, with :math:`dy/dx` from the forward."""
    (dy_dx,) = cache
    return dy * dy_dx


# ------------------------------------------------------------------------------------ attention

def split_heads(x: np.ndarray, n_heads: int) -> np.ndarray:
    """(B, T, d) -> (B, H, T, d/H): a view, no copy (head h holds features h*d_h ... (h+1)*d_h - 1)."""
    B, T, d = x.shape
    return x.reshape(B, T, n_heads, d // n_heads).transpose(0, 2, 1, 3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """(B, H, T, d_h) -> (B, T, H*d_h), the inverse of :func:`split_heads` (one copy)."""
    B, H, T, dh = x.shape
    return x.transpose(0, 2, 1, 3).reshape(B, T, H * dh)


def attention_bias(n_queries: int, n_keys: int, key_mask: Optional[np.ndarray] = None,
                   dtype=np.float32) -> np.ndarray:
    r"""The additive mask :math:`M` of causal attention: 0 where query ``i`` may look at key ``j``,
    :math:`-\infty` elsewhere.

    The queries are the last ``n_queries`` of the ``n_keys`` positions (all of them in training;
    one during cached sampling), and query ``i`` may look at key ``j`` when ``j`` is not later
    than ``i`` and ``key_mask[b, j]`` is true. A query whose own key is masked (a padding token)
    may still look at itself, so every row of the softmax has a finite entry and no NaN appears;
    its output is never used. Shape ``(1, 1, n_queries, n_keys)`` without ``key_mask``,
    ``(B, 1, n_queries, n_keys)`` with a boolean ``key_mask`` of shape (B, n_keys).
    """
    q_pos = np.arange(n_keys - n_queries, n_keys)[:, None]
    k_pos = np.arange(n_keys)[None, :]
    allowed = k_pos <= q_pos                                    # (Tq, Tk)
    if key_mask is not None:
        allowed = allowed & (key_mask[:, None, :] | (k_pos == q_pos))  # (B, Tq, Tk)
        allowed = allowed[:, None]
    else:
        allowed = allowed[None, None]
    bias = np.zeros(allowed.shape, dtype=dtype)
    bias[~allowed] = -np.inf
    return bias


def attention_forward(q: np.ndarray, k: np.ndarray, v: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, tuple]:
    r"""Scaled dot-product attention with an additive mask, all heads and rows at once:

    .. math:: S = \frac{Q K^\top}{\sqrt{d_h}} + M, \qquad P = \mathrm{softmax}_{\text{keys}}(S), \qquad O = P V

    ``q`` (B, H, Tq, d_h), ``k`` and ``v`` (B, H, Tk, d_h), ``bias`` :math:`M` broadcastable to
    (B, H, Tq, Tk) with 0 and :math:`-\infty` (:func:`attention_bias`); returns ``O`` (B, H, Tq, d_h).
    :math:`1/\sqrt{d_h}` is applied to ``Q`` (smaller than ``S``). The softmax runs in place on the
    score buffer (shift by the row maximum, exponentiate, normalise): the scores are finite by
    construction and every row has an allowed key.
    """
    q = q * (1.0 / math.sqrt(q.shape[-1]))
    s = q @ k.swapaxes(-1, -2)
    for rows in row_blocks(s):                  # blocks of batch rows (see row_blocks)
        sb = s[rows]
        sb += bias if len(bias) == 1 else bias[rows]
        sb -= sb.max(axis=-1, keepdims=True)
        np.exp(sb, out=sb)
        sb *= 1.0 / np.einsum("...j->...", sb)[..., None]
    p = s                                       # the scores' buffer now holds P
    return p @ v, (q, k, v, p)


def attention_backward(do: np.ndarray, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of :math:`O = \mathrm{softmax}(QK^\top/\sqrt{d_h} + M)\,V`:

    .. math::
        \frac{\partial L}{\partial V} = P^\top \frac{\partial L}{\partial O}, \quad
        \frac{\partial L}{\partial P} = \frac{\partial L}{\partial O} V^\top, \quad
        \frac{\partial L}{\partial S} = P \odot \Big(\frac{\partial L}{\partial P}
            - \sum_{\text{keys}} P \odot \frac{\partial L}{\partial P}\Big),

    .. math::
        \frac{\partial L}{\partial Q} = \frac{1}{\sqrt{d_h}} \frac{\partial L}{\partial S} K, \quad
        \frac{\partial L}{\partial K} = \Big(\frac{\partial L}{\partial S}\Big)^{\!\top} \frac{Q}{\sqrt{d_h}}

    (the middle one is the softmax's Jacobian-vector product; masked entries have :math:`P = 0`
    and get no gradient). Returns ``(dq, dk, dv)``.
    """
    q_scaled, k, v, p = cache
    dv = p.swapaxes(-1, -2) @ do
    ds = do @ v.swapaxes(-1, -2)                                 # dL/dP, then dL/dS in place
    ds -= np.einsum("...ij,...ij->...i", ds, p)[..., None]
    ds *= p
    dq = ds @ k
    dq *= 1.0 / math.sqrt(q_scaled.shape[-1])
    dk = ds.swapaxes(-1, -2) @ q_scaled
    return dq, dk, dv


# ------------------------------------------------------------------------------------ output

def log_softmax_gather_forward(logits: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, tuple]:
    r"""Log-probability of each target token: :math:`\ell = z_y - \log \sum_v e^{z_v}`.

    ``logits`` (..., V), ``targets`` (...) integers -> ``logp`` (...). This is what every stage's
    loss reads: cross-entropy is :math:`-\ell`, GRPO's ratio is :math:`e^{\ell - \ell_{old}}`.
    """
    logp_all = log_softmax(logits)  # r1lib's; it also rejects NaN logits from a diverged run
    logp = np.take_along_axis(logp_all, targets[..., None], axis=-1)[..., 0]
    return logp, (logp_all, targets)


def log_softmax_gather_backward(dlogp: np.ndarray, cache: tuple) -> np.ndarray:
    r"""Gradient of :math:`\ell = z_y - \log\sum_v e^{z_v}` with respect to the logits:

    .. math:: \frac{\partial L}{\partial z_v} = \frac{\partial L}{\partial \ell}\,\big([v = y] - p_v\big),
              \qquad p = \mathrm{softmax}(z)
    """
    logp_all, targets = cache
    dz = np.exp(logp_all)
    dz *= -dlogp[..., None]
    np.put_along_axis(dz, targets[..., None],
                      np.take_along_axis(dz, targets[..., None], axis=-1) + dlogp[..., None], axis=-1)
    return dz

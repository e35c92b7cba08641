r"""AdamW and gradient clipping for the tiny transformer (torch.optim.AdamW's arithmetic).

One step of AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019,
Algorithm 2), for each parameter :math:`\theta` with gradient :math:`g` at step :math:`t = 1, 2, \dots`:

.. math::
    \theta &\leftarrow \theta - \eta \lambda \theta \qquad\text{(decay, only for the decayed names)} \\
    m &\leftarrow \beta_1 m + (1 - \beta_1) g, \qquad v \leftarrow \beta_2 v + (1 - \beta_2) g^2 \\
    \theta &\leftarrow \theta - \eta\, \frac{m / (1 - \beta_1^t)}{\sqrt{v / (1 - \beta_2^t)} + \epsilon}

The decay is *decoupled*: it shrinks the weights directly instead of being added to the gradient,
so it is not divided by :math:`\sqrt v` (Adam with L2 would decay rarely-updated weights more).
"""
from __future__ import annotations

import math
import numbers
from typing import Iterable, Mapping, Optional

import numpy as np

from ...validation import describe, nonneg_scalar, positive_scalar

__all__ = ["AdamW", "clip_grad_norm", "global_norm"]


def global_norm(grads: Mapping[str, np.ndarray]) -> float:
    r"""The norm of all gradients as one vector: :math:`\lVert g \rVert = \sqrt{\sum_i \sum_j g_{ij}^2}`."""
    if not isinstance(grads, Mapping) or not grads:
        raise TypeError(f"grads must be a non-empty dict of arrays, got {describe(grads)}")
    total = 0.0
    for g in grads.values():
        flat = np.asarray(g).reshape(-1)
        total += float(np.dot(flat, flat))  # accumulated in a Python float (double)
    return math.sqrt(total)


def clip_grad_norm(grads: Mapping[str, np.ndarray], max_norm: float) -> float:
    r"""Scale all gradients in place by :math:`\min(1, c / \lVert g\rVert)` and return
    :math:`\lVert g\rVert` before clipping (what a training log plots).

    As torch.nn.utils.clip_grad_norm_: the direction is kept, only the length is capped at ``c``.
    A NaN or infinite norm raises ValueError (a diverged step should stop, not be clipped to NaN).
    """
    max_norm = positive_scalar(max_norm, "max_norm")
    norm = global_norm(grads)
    if not math.isfinite(norm):
        raise ValueError(f"the gradient norm is {norm}: a gradient holds NaN or inf")
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm


class AdamW:
    """AdamW over a dict of parameter arrays, updated in place.

    Parameters
    ----------
    params : dict name -> array
        The model's arrays (``model.params``); :meth:`step` writes into them.
    lr : float
        The learning rate :math:`\\eta` (``step(grads, lr=...)`` overrides it for a schedule).
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0.01
        :math:`\\lambda` (torch's default).
    decay : iterable of names, optional
        The parameters to decay (``model.decay_names``: the linear layers' matrices). Default:
        every parameter with 2 or more axes.
    """

    def __init__(self, params: Mapping[str, np.ndarray], *, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, decay: Optional[Iterable[str]] = None):
        if not isinstance(params, Mapping) or not params:
            raise TypeError(f"params must be a non-empty dict of arrays, got {describe(params)}")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"params[{name!r}] must be a float numpy array, got {describe(p)}")
        self.params = params
        self.lr = positive_scalar(lr, "lr")
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"betas must be a pair of floats, got {describe(betas)}")
        for i, b in enumerate(betas):
            if isinstance(b, bool) or not isinstance(b, numbers.Real) or not 0.0 <= b < 1.0:
                raise ValueError(f"betas[{i}] must lie in [0, 1), got {describe(b)}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = positive_scalar(eps, "eps")
        self.weight_decay = nonneg_scalar(weight_decay, "weight_decay")
        if decay is None:
            decay = [n for n, p in params.items() if p.ndim >= 2]
        elif isinstance(decay, str):
            raise TypeError(f"decay must be a collection of parameter names, got the string {decay!r}")
        self.decay = frozenset(decay)
        unknown = self.decay - set(params)
        if unknown:
            raise ValueError(f"decay names parameters that do not exist: {sorted(unknown)}")
        self.m = {n: np.zeros_like(p) for n, p in params.items()}
        self.v = {n: np.zeros_like(p) for n, p in params.items()}
        self.t = 0

    def step(self, grads: Mapping[str, np.ndarray], lr: Optional[float] = None) -> None:
        """One update of every parameter from ``grads`` (same keys and shapes as the params)."""
        if not isinstance(grads, Mapping) or set(grads) != set(self.params):
            got = sorted(grads) if isinstance(grads, Mapping) else describe(grads)
            raise ValueError(f"grads must have the params' keys {sorted(self.params)}, got {got}")
        lr = self.lr if lr is None else positive_scalar(lr, "lr")
        b1, b2 = self.betas
        self.t += 1
        step_size = lr / (1.0 - b1 ** self.t)
        root_bc2 = math.sqrt(1.0 - b2 ** self.t)
        for name, p in self.params.items():
            g = np.asarray(grads[name])
            if g.shape != p.shape:
                raise ValueError(f"grads[{name!r}] has shape {g.shape}, the parameter {p.shape}")
            m, v = self.m[name], self.v[name]
            if name in self.decay and self.weight_decay:
                p *= p.dtype.type(1.0 - lr * self.weight_decay)
            m *= b1
            m += (1.0 - b1) * g
            v *= b2
            v += (1.0 - b2) * (g * g)
            denom = np.sqrt(v)
            denom /= root_bc2
            denom += self.eps
            update = np.divide(m, denom)
            update *= step_size
            p -= update

r"""Training code for the distillation notebook: tiny NumPy networks, three ways to teach a student.

The models
----------
A model is a dict of arrays. ``n_hidden = 0`` gives softmax regression
(``logits = X W + b``); ``n_hidden > 0`` one tanh hidden layer
(``logits = tanh(X W1 + b1) W2 + b2``). tanh, not ReLU, so that the loss is smooth and
finite-difference gradient checks are exact to rounding. Gradients are derived by hand
(:func:`backward`); training is full-batch Adam. Given the initial parameters (drawn from a
``numpy.random.Generator``) every result is deterministic.

**Batches of models.** ``init_params(..., n_models=M)`` gives every array a leading axis of
length ``M``: ``M`` independent models that train side by side in one vectorised loop (the
numpy call overhead, not arithmetic, is what a tiny network costs). Per-model data
(``X`` of shape ``(M, N, d)``, ``labels`` ``(M, N)``, ``teacher_logits`` ``(M, N, K)``) and a
per-model mixing weight ``alpha`` of shape ``(M,)`` are accepted; shared ``X`` ``(N, d)`` etc.
broadcast. Losses and accuracies then come back as arrays of shape ``(M,)``.

The objective (the mixing convention of this library)
-----------------------------------------------------
.. math::

    L(\theta) = \alpha\, T^2\, \frac1N\sum_n KL\big(\mathrm{softmax}(z^t_n/T)\,\|\,
                \mathrm{softmax}(z^s_n/T)\big)
              + (1-\alpha)\, \frac1N\sum_n -\log \mathrm{softmax}(z^s_n)_{y_n}
              + \frac{\lambda}{2}\sum_{W}\|W\|^2

``alpha`` weights the *soft* (distillation) term, and the hard cross-entropy always uses ``T = 1``
(Hinton et al. 2015, sec. 2). Conventions elsewhere differ: torchdistill's ``KDLoss`` writes
``alpha * CE + (1 - alpha) * T^2 KL`` (its ``alpha`` weights the *hard* term, so it is our
``1 - alpha``); the PyTorch KD tutorial uses two separate weights, 0.25 soft and 0.75 hard,
which is ``alpha = 0.25`` here. ``alpha = 0`` is ordinary supervised training, ``alpha = 1`` pure
distillation (no labels needed). The weight decay ``lambda`` acts on weight matrices, not biases.

The gradient with respect to the student logits of example ``n`` is
``[alpha * T (p_s^T - p_t^T) + (1 - alpha) (p_s - onehot(y))] / N``
(:func:`r1lib.distillation_grad` gives the first term), then back-propagated through the network.

Sequence-level distillation, as DeepSeek-R1 did it
--------------------------------------------------
:func:`sample_teacher_labels` draws hard labels from the teacher; training on them with
``alpha = 0`` is supervised fine-tuning on teacher outputs (R1's distilled models: SFT on about
800k samples, about 600k reasoning samples rejection-sampled from the reasoning-RL checkpoint
plus about 200k non-reasoning samples from DeepSeek-V3's pipeline, arXiv:2501.12948 v1 secs.
2.3.3 and 2.4; Kim & Rush 2016 for the sequence-level idea). Its expected gradient at one input,
for samples drawn at temperature ``T_s`` (:func:`sft_expected_grad`), is
``E_{y ~ p_t(T_s)}[p_s - onehot(y)] = p_s(T=1) - p_t(T_s)``: the gradient of
``KL(p_t(T_s) || p_s)`` with the student at ``T = 1``. At ``T_s = 1`` that is the distillation
gradient at ``T = 1``, estimated from samples; at ``T_s != 1`` it is *not* distillation at
``T_s`` (whose gradient ``T_s (p_s(T_s) - p_t(T_s))`` softens the student too). R1 also filtered
its reasoning samples first (rejection sampling: only correct, readable responses kept); with
gold labels at hand that filter is ``samples == gold``, and training on the kept rows is the
same call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from ..validation import check_int, check_option, describe, float_array, nonneg_scalar, positive_scalar
from ..distillation import distillation_grad, distillation_loss
from ..divergence import kl_divergence
from ..softmax import log_softmax, softmax

__all__ = [
    "init_params", "forward", "backward", "count_parameters", "predict", "accuracy",
    "cross_entropy", "cross_entropy_grad", "kd_objective", "loss_and_grads",
    "logit_matching_loss", "logit_matching_grad", "StudentComparison", "compare_students",
    "TrainResult", "train", "sample_teacher_labels", "sft_expected_grad", "standardize",
    "gaussian_on_grid", "two_mode_gaussian", "GaussianFit", "GaussianFamily", "fit_gaussian",
]

Params = dict  # name -> ndarray: {"W", "b"} (softmax regression) or {"W1", "b1", "W2", "b2"}
FloatOrArray = Union[float, np.ndarray]

_LINEAR = ("W", "b")
_HIDDEN = ("W1", "b1", "W2", "b2")


# --------------------------------------------------------------------------------------------
# Input checks. Internally everything is batched: params and data carry a leading model axis M
# (M = 1 for a single model), and results are un-batched on the way out.
# --------------------------------------------------------------------------------------------

def _generator(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {describe(rng)}")
    return rng


class _Model(NamedTuple):
    params: Params   # every array with a leading model axis
    single: bool     # the caller passed one model (no model axis)

    @property
    def n_models(self) -> int:
        return next(iter(self.params.values())).shape[0]

    @property
    def n_inputs(self) -> int:
        return (self.params["W"] if "W" in self.params else self.params["W1"]).shape[1]

    @property
    def n_classes(self) -> int:
        return (self.params["W"] if "W" in self.params else self.params["W2"]).shape[2]

    def out(self, value: np.ndarray) -> Any:
        """Drop the model axis again for a single model."""
        return value[0] if self.single else value


def _model(params: Any) -> _Model:
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays from init_params, got {describe(params)}")
    keys = _LINEAR if set(params) == set(_LINEAR) else _HIDDEN if set(params) == set(_HIDDEN) else None
    if keys is None:
        raise ValueError(f"params must have the keys {_LINEAR} or {_HIDDEN}, got {tuple(params)}")
    arrays = {k: float_array(params[k], f"params[{k!r}]").astype(np.float64, copy=False)
              for k in keys}
    first = arrays[keys[0]]
    if first.ndim not in (2, 3):
        raise ValueError(f"params[{keys[0]!r}] must be 2-D (one model) or 3-D (a batch of "
                         f"models), got shape {first.shape}")
    single = first.ndim == 2
    if single:
        arrays = {k: v[None] for k, v in arrays.items()}
    m = arrays[keys[0]].shape[0]
    shapes = {k: v.shape for k, v in arrays.items()}
    if keys == _LINEAR:
        _, d, k_ = shapes["W"]
        ok = shapes["b"] == (m, k_)
    else:
        _, d, h = shapes["W1"]
        ok = (shapes["b1"] == (m, h) and len(shapes["W2"]) == 3 and shapes["W2"][:2] == (m, h)
              and shapes["b2"] == (m, shapes["W2"][2]))
        k_ = shapes["W2"][2] if len(shapes["W2"]) == 3 else 0
    if not ok or k_ < 2:
        raise ValueError(f"params have inconsistent shapes {shapes} (expected what init_params "
                         f"returns, with >= 2 classes)")
    return _Model(arrays, single)


def _features(X: Any, model: _Model, name: str = "X") -> np.ndarray:
    """(N, d) shared by every model, or (M, N, d) one set per model; returned as (M or 1, N, d)."""
    arr = float_array(X, name).astype(np.float64, copy=False)
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim != 3 or arr.shape[0] != model.n_models or model.single:
        raise ValueError(f"{name} must have shape (N, {model.n_inputs})"
                         + ("" if model.single else f" or ({model.n_models}, N, {model.n_inputs})")
                         + f", got {arr.shape}")
    if arr.shape[2] != model.n_inputs:
        raise ValueError(f"{name} has {arr.shape[2]} features but the model expects {model.n_inputs}")
    return arr


def _labels(labels: Any, shape: tuple, n_classes: int, name: str = "labels") -> np.ndarray:
    """Integer class indices of shape ``shape[1:]`` (shared) or ``shape``; returned as ``shape``."""
    if isinstance(labels, (str, bytes)) or labels is None:
        raise TypeError(f"{name} must be an integer array of class indices, got {describe(labels)}")
    arr = np.asarray(labels)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices, got dtype {arr.dtype}")
    if arr.shape not in (shape, shape[1:]):
        raise ValueError(f"{name} must have shape {shape[1:]} (or {shape}, one row per model), "
                         f"got {arr.shape}")
    if arr.min() < 0 or arr.max() >= n_classes:
        raise ValueError(f"{name} must lie in 0..{n_classes - 1}, got values from {arr.min()} "
                         f"to {arr.max()}")
    return np.broadcast_to(arr.astype(np.int64, copy=False), shape)


def _logits(logits: Any, name: str) -> np.ndarray:
    arr = float_array(logits, name).astype(np.float64, copy=False)
    if arr.ndim not in (2, 3) or arr.shape[-1] < 2:
        raise ValueError(f"{name} must have shape (N, K) or (M, N, K) with K >= 2 classes, "
                         f"got {arr.shape}")
    return arr


def _alpha(value: Any, n_models: int) -> np.ndarray:
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"alpha must be a real number in [0, 1] (or one per model), got {describe(value)}")
    arr = float_array(value, "alpha")
    if arr.ndim > 1 or (arr.ndim == 1 and arr.shape != (n_models,)):
        raise ValueError(f"alpha must be a scalar or have shape ({n_models},), got {arr.shape}")
    if ((arr < 0) | (arr > 1)).any():
        raise ValueError(f"alpha must be in [0, 1], got {describe(value)}")
    return np.broadcast_to(arr.astype(np.float64), (n_models,))


class _Targets(NamedTuple):
    y: Optional[np.ndarray]    # (M, N) int
    zt: Optional[np.ndarray]   # (M, N, K)
    t: float
    a: np.ndarray              # (M,)


def _targets(shape: tuple, labels: Any, teacher_logits: Any, temperature: Any,
             alpha: Any) -> _Targets:
    """Check the training targets against student logits of shape ``(M, N, K)``."""
    m, n, k = shape
    t = positive_scalar(temperature, "temperature")
    a = _alpha(alpha, m)
    y = zt = None
    if labels is not None:
        y = _labels(labels, (m, n), k)
    elif (a < 1.0).any():
        raise ValueError(f"labels are required when alpha < 1 (alpha={describe(alpha)} puts "
                         f"weight 1 - alpha on the hard-label cross-entropy)")
    if teacher_logits is not None:
        zt = _logits(teacher_logits, "teacher_logits")
        if zt.shape not in ((m, n, k), (n, k)):
            raise ValueError(f"teacher_logits must have shape {(n, k)} (or {(m, n, k)}, one set "
                             f"per model) to match the student, got {zt.shape}")
        zt = np.broadcast_to(zt, (m, n, k))
    elif (a > 0.0).any():
        raise ValueError(f"teacher_logits are required when alpha > 0 (alpha={describe(alpha)})")
    return _Targets(y, zt, t, a)


# --------------------------------------------------------------------------------------------
# The networks
# --------------------------------------------------------------------------------------------

def init_params(n_inputs: int, n_classes: int, n_hidden: int, rng: np.random.Generator,
                n_models: Optional[int] = None) -> Params:
    r"""Random initial parameters (Glorot-uniform weights, zero biases).

    Each weight matrix of shape ``(fan_in, fan_out)`` is drawn from :math:`U(-a, a)` with
    :math:`a = \sqrt{6/(\mathrm{fan_{in}} + \mathrm{fan_{out}})}`, which keeps the size of the
    activations roughly constant from layer to layer.

    Parameters
    ----------
    n_inputs, n_classes : int
        Number of input features (>= 1) and of classes (>= 2).
    n_hidden : int
        0 for softmax regression, otherwise the width of the tanh hidden layer.
    rng : numpy.random.Generator
    n_models : int or None
        ``None``: one model. An integer ``M``: a batch of ``M`` independently initialised models
        (every array gets a leading axis of length ``M``).
    """
    n_inputs = check_int(n_inputs, "n_inputs", 1)
    n_classes = check_int(n_classes, "n_classes", 2)
    n_hidden = check_int(n_hidden, "n_hidden", 0)
    rng = _generator(rng)
    lead = () if n_models is None else (check_int(n_models, "n_models", 1),)

    def glorot(fan_in: int, fan_out: int) -> np.ndarray:
        a = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-a, a, size=lead + (fan_in, fan_out))

    if n_hidden == 0:
        return {"W": glorot(n_inputs, n_classes), "b": np.zeros(lead + (n_classes,))}
    return {"W1": glorot(n_inputs, n_hidden), "b1": np.zeros(lead + (n_hidden,)),
            "W2": glorot(n_hidden, n_classes), "b2": np.zeros(lead + (n_classes,))}


def count_parameters(params: Params) -> int:
    """Number of scalars in one model (per model, for a batch)."""
    model = _model(params)
    return int(sum(v[0].size for v in model.params.values()))


def _forward(p: Params, X: np.ndarray) -> tuple[np.ndarray, Optional[np.ndarray]]:
    # X (M or 1, N, d); weights (M, fan_in, fan_out); biases (M, fan_out) -> (M, 1, fan_out).
    if "W" in p:
        return X @ p["W"] + p["b"][:, None, :], None
    hidden = np.tanh(X @ p["W1"] + p["b1"][:, None, :])
    return hidden @ p["W2"] + p["b2"][:, None, :], hidden


def _backward(p: Params, X: np.ndarray, hidden: Optional[np.ndarray], G: np.ndarray) -> Params:
    # G = dL/dlogits, (M, N, K). Summing over the example axis gives each model's gradient.
    Xt = np.swapaxes(X, 1, 2)
    if "W" in p:
        return {"W": Xt @ G, "b": G.sum(axis=1)}
    dpre = (G @ np.swapaxes(p["W2"], 1, 2)) * (1.0 - hidden * hidden)  # tanh' = 1 - tanh^2
    return {"W1": Xt @ dpre, "b1": dpre.sum(axis=1),
            "W2": np.swapaxes(hidden, 1, 2) @ G, "b2": G.sum(axis=1)}


def forward(params: Params, X: ArrayLike) -> np.ndarray:
    r"""Logits :math:`XW + b` or :math:`\tanh(XW_1+b_1)W_2+b_2`, shape ``(N, K)`` (``(M, N, K)``
    for a batch of models)."""
    model = _model(params)
    X3 = _features(X, model)
    return model.out(_forward(model.params, X3)[0])


def backward(params: Params, X: ArrayLike, dlogits: ArrayLike) -> Params:
    r"""Back-propagate ``G = dL/dlogits`` to every parameter (the chain rule, written out).

    With :math:`a = XW_1 + b_1`, :math:`h = \tanh(a)`, :math:`z = hW_2 + b_2` (one row per
    example):

    .. math:: \frac{\partial L}{\partial W_2} = h^\top G,\quad
              \frac{\partial L}{\partial b_2} = \textstyle\sum_n G_n,\quad
              \frac{\partial L}{\partial a} = (G W_2^\top)\odot(1 - h^2),\quad
              \frac{\partial L}{\partial W_1} = X^\top \frac{\partial L}{\partial a},\quad
              \frac{\partial L}{\partial b_1} = \textstyle\sum_n \frac{\partial L}{\partial a_n}

    (softmax regression: :math:`\partial L/\partial W = X^\top G`, :math:`\partial L/\partial b = \sum_n G_n`).
    Returns a dict shaped like ``params``.
    """
    model = _model(params)
    X3 = _features(X, model)
    G = _logits(dlogits, "dlogits")
    want = (model.n_models, X3.shape[1], model.n_classes)
    if G.shape != (want[1:] if model.single else want):
        raise ValueError(f"dlogits must have shape {want[1:] if model.single else want}, got {G.shape}")
    G = G.reshape(want)
    _, hidden = _forward(model.params, X3)
    return {k: model.out(v) for k, v in _backward(model.params, X3, hidden, G).items()}


def predict(params: Params, X: ArrayLike) -> np.ndarray:
    """The arg-max class of every row of ``X`` (per model, for a batch)."""
    return np.argmax(forward(params, X), axis=-1)


def accuracy(params: Params, X: ArrayLike, labels: ArrayLike) -> FloatOrArray:
    """Fraction of rows of ``X`` whose arg-max class equals the label (an ``(M,)`` array for a
    batch of models)."""
    model = _model(params)
    X3 = _features(X, model)
    pred = np.argmax(_forward(model.params, X3)[0], axis=-1)  # (M, N)
    y = _labels(labels, pred.shape, model.n_classes)
    acc = np.mean(pred == y, axis=-1)
    return float(acc[0]) if model.single else acc


# --------------------------------------------------------------------------------------------
# Losses and their gradients with respect to the logits
# --------------------------------------------------------------------------------------------

def _cross_entropy(z: np.ndarray, y: np.ndarray, need_loss: bool = True) -> tuple[np.ndarray, np.ndarray]:
    # Per-model mean CE (M,) from log_softmax (log space: no log 0) and its gradient (p - e_y)/N.
    n = z.shape[1]
    loss = (-np.mean(np.take_along_axis(log_softmax(z), y[..., None], axis=-1)[..., 0], axis=1)
            if need_loss else np.zeros(z.shape[0]))
    grad = softmax(z)
    np.put_along_axis(grad, y[..., None], np.take_along_axis(grad, y[..., None], axis=-1) - 1.0,
                      axis=-1)
    return loss, grad / n


def _as_batch(logits: Any, name: str) -> tuple[np.ndarray, bool]:
    z = _logits(logits, name)
    return (z[None], True) if z.ndim == 2 else (z, False)


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> FloatOrArray:
    r"""Mean hard-label cross-entropy :math:`-\frac1N\sum_n \log\mathrm{softmax}(z_n)_{y_n}` (nats).

    ``logits`` ``(N, K)`` and ``labels`` ``(N,)``; or ``(M, N, K)`` and ``(M, N)``/``(N,)`` for
    ``M`` models (returns ``(M,)``).
    """
    z, single = _as_batch(logits, "logits")
    loss = _cross_entropy(z, _labels(labels, z.shape[:2], z.shape[2]))[0]
    return float(loss[0]) if single else loss


def cross_entropy_grad(logits: ArrayLike, labels: ArrayLike) -> np.ndarray:
    r"""Gradient of :func:`cross_entropy` with respect to the logits: :math:`(p_n - e_{y_n})/N`."""
    z, single = _as_batch(logits, "logits")
    grad = _cross_entropy(z, _labels(labels, z.shape[:2], z.shape[2]))[1]
    return grad[0] if single else grad


def _kd_objective(zs: np.ndarray, tg: _Targets, need_loss: bool = True) -> tuple[np.ndarray, np.ndarray]:
    # Per-model loss (M,) and dL/dlogits (M, N, K). need_loss=False skips the loss (about half of
    # the softmax calls) inside the training loop.
    n = zs.shape[1]
    loss = np.zeros(zs.shape[0])
    grad = np.zeros_like(zs)
    a = tg.a
    if (a > 0.0).any():
        if need_loss:
            loss += a * np.mean(distillation_loss(tg.zt, zs, tg.t, reduction="none"), axis=1)
        grad += (a / n)[:, None, None] * distillation_grad(tg.zt, zs, tg.t)
    if (a < 1.0).any():
        ce, ce_grad = _cross_entropy(zs, tg.y, need_loss)
        loss += (1.0 - a) * ce
        grad += (1.0 - a)[:, None, None] * ce_grad
    return loss, grad


def kd_objective(student_logits: ArrayLike, *, labels: Optional[ArrayLike] = None,
                 teacher_logits: Optional[ArrayLike] = None, temperature: float = 1.0,
                 alpha: ArrayLike = 0.0) -> tuple[FloatOrArray, np.ndarray]:
    r"""The mixed distillation objective and its gradient with respect to the student logits.

    .. math:: L = \alpha\,T^2\,\overline{KL}(p_t^T\|p_s^T) + (1-\alpha)\,\overline{CE}(y, p_s),
              \qquad \frac{\partial L}{\partial z^s_n}
              = \frac{\alpha\,T\,(p^T_{s,n} - p^T_{t,n}) + (1-\alpha)(p_{s,n} - e_{y_n})}{N}

    (bars: means over the ``N`` examples). ``labels`` may be omitted when ``alpha == 1`` and
    ``teacher_logits`` when ``alpha == 0``; a term whose weight is 0 for every model is not
    evaluated.

    Parameters
    ----------
    student_logits : array_like, shape (N, K) or (M, N, K)
    labels : array_like of int, shape (N,) or (M, N), optional
    teacher_logits : array_like, shape (N, K) or (M, N, K), optional
    temperature : float
        ``T > 0`` of the soft term (the hard term always uses ``T = 1``).
    alpha : float or array of shape (M,)
        Weight of the soft term, in ``[0, 1]``.

    Returns
    -------
    (loss, dlogits)
        ``loss`` a float (an ``(M,)`` array for a batch), ``dlogits`` shaped like ``student_logits``.
    """
    zs, single = _as_batch(student_logits, "student_logits")
    tg = _targets(zs.shape, labels, teacher_logits, temperature, alpha)
    loss, grad = _kd_objective(zs, tg)
    return (float(loss[0]), grad[0]) if single else (loss, grad)


def logit_matching_loss(teacher_logits: ArrayLike, student_logits: ArrayLike) -> np.ndarray:
    r"""The high-temperature limit of :math:`T^2\,KL` (Hinton et al. 2015, sec. 2.1).

    .. math:: \lim_{T\to\infty} T^2\,KL\big(\mathrm{softmax}(z_t/T)\,\|\,\mathrm{softmax}(z_s/T)\big)
              = \frac{1}{2K}\sum_{i=1}^K (d_i - \bar d)^2, \qquad d = z_t - z_s

    (``K`` classes, :math:`\bar d` the mean of :math:`d`). Subtracting the mean is what makes this
    hold for any logits: softmax ignores a constant shift, and Hinton's "zero-meaned logits" say
    the same. Derivation: for large ``T``, :math:`p_i = (1 + \tilde z_i/T)/K + O(T^{-2})` with
    centred logits :math:`\tilde z`, and :math:`KL(p\|q) = \tfrac12\sum_i (p_i-q_i)^2/p_i + O(\|p-q\|^3)`.
    Vectorised over leading axes (the class axis is last); returns the per-example values.
    """
    zt = float_array(teacher_logits, "teacher_logits", min_ndim=1)
    zs = float_array(student_logits, "student_logits", min_ndim=1)
    if zt.shape != zs.shape:
        raise ValueError(f"shapes of teacher_logits {zt.shape} and student_logits {zs.shape} differ")
    d = zt - zs
    d = d - d.mean(axis=-1, keepdims=True)
    return 0.5 * np.mean(d * d, axis=-1)


def logit_matching_grad(teacher_logits: ArrayLike, student_logits: ArrayLike) -> np.ndarray:
    r"""Gradient of :func:`logit_matching_loss` with respect to the student logits:
    :math:`(\tilde z_s - \tilde z_t)/K` with centred logits (the limit of :math:`T(p_s - p_t)`)."""
    zt = float_array(teacher_logits, "teacher_logits", min_ndim=1)
    zs = float_array(student_logits, "student_logits", min_ndim=1)
    if zt.shape != zs.shape:
        raise ValueError(f"shapes of teacher_logits {zt.shape} and student_logits {zs.shape} differ")
    d = zs - zt
    return (d - d.mean(axis=-1, keepdims=True)) / zt.shape[-1]


def _weight_names(p: Params) -> tuple[str, ...]:
    return ("W",) if "W" in p else ("W1", "W2")


def _loss_and_grads(p: Params, X: np.ndarray, tg: _Targets, wd: float,
                    need_loss: bool = True) -> tuple[np.ndarray, Params]:
    logits, hidden = _forward(p, X)
    loss, dlogits = _kd_objective(logits, tg, need_loss)
    grads = _backward(p, X, hidden, dlogits)
    if wd > 0.0:
        for name in _weight_names(p):
            if need_loss:
                loss = loss + 0.5 * wd * np.sum(p[name] ** 2, axis=(1, 2))
            grads[name] = grads[name] + wd * p[name]
    return loss, grads


def _prepare(params: Any, X: Any, labels: Any, teacher_logits: Any, temperature: Any, alpha: Any,
             weight_decay: Any) -> tuple[_Model, np.ndarray, _Targets, float]:
    model = _model(params)
    X3 = _features(X, model)
    shape = (model.n_models, X3.shape[1], model.n_classes)
    tg = _targets(shape, labels, teacher_logits, temperature, alpha)
    return model, X3, tg, nonneg_scalar(weight_decay, "weight_decay")


def loss_and_grads(params: Params, X: ArrayLike, *, labels: Optional[ArrayLike] = None,
                   teacher_logits: Optional[ArrayLike] = None, temperature: float = 1.0,
                   alpha: ArrayLike = 0.0, weight_decay: float = 0.0) -> tuple[FloatOrArray, Params]:
    r"""The training loss, :func:`kd_objective` :math:`+\ \frac{\lambda}{2}\sum_W\|W\|^2`, and its
    gradient with respect to every parameter (by :func:`backward`).

    For a batch of models the loss is an ``(M,)`` array and each model's gradient is that of its
    own loss.
    """
    model, X3, tg, wd = _prepare(params, X, labels, teacher_logits, temperature, alpha, weight_decay)
    loss, grads = _loss_and_grads(model.params, X3, tg, wd)
    loss = float(loss[0]) if model.single else loss
    return loss, {k: model.out(v) for k, v in grads.items()}


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

@dataclass
class TrainResult:
    """What :func:`train` returns: the trained parameters and the loss along the way.

    ``losses[i]`` is the full-batch loss before step ``loss_steps[i]`` (steps count from 0); the
    last entry is the loss of the returned ``params`` (``loss_steps[-1] == steps``). For a batch of
    ``M`` models ``losses`` has shape ``(len(loss_steps), M)``.
    """

    params: Params
    loss_steps: np.ndarray = field(repr=False)
    losses: np.ndarray = field(repr=False)

    @property
    def final_loss(self) -> FloatOrArray:
        last = self.losses[-1]
        return float(last) if np.ndim(last) == 0 else last


def train(params: Params, X: ArrayLike, *, labels: Optional[ArrayLike] = None,
          teacher_logits: Optional[ArrayLike] = None, temperature: float = 1.0,
          alpha: ArrayLike = 0.0, steps: int = 300, learning_rate: float = 0.01,
          weight_decay: float = 0.0, log_every: int = 10) -> TrainResult:
    r"""Full-batch Adam on :func:`loss_and_grads`; the input ``params`` are not modified.

    Adam (Kingma & Ba 2015, defaults :math:`\beta_1=0.9,\ \beta_2=0.999,\ \epsilon=10^{-8}`):
    :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
    :math:`\theta \leftarrow \theta - \eta\,\hat m/(\sqrt{\hat v}+\epsilon)` with the bias-corrected
    :math:`\hat m = m/(1-\beta_1^k)`, :math:`\hat v = v/(1-\beta_2^k)`. Adam's per-parameter step
    size lets one learning rate serve every temperature and mixing weight. No randomness: the
    result depends only on the arguments, and each model of a batch trains exactly as it would
    alone (up to floating-point summation order).

    Parameters
    ----------
    params : dict
        Initial parameters from :func:`init_params` (copied, not changed).
    X : array_like, shape (N, d), or (M, N, d) for one data set per model
    labels, teacher_logits, temperature, alpha :
        As in :func:`kd_objective`.
    steps : int
        Number of Adam steps (>= 1).
    learning_rate : float
        Adam's :math:`\eta > 0`.
    weight_decay : float
        :math:`\lambda \ge 0` of the L2 penalty on weight matrices.
    log_every : int
        Record the loss every ``log_every`` steps (computing it costs about as much as the
        gradient, and the update does not need it).

    Returns
    -------
    TrainResult
    """
    model, X3, tg, wd = _prepare(params, X, labels, teacher_logits, temperature, alpha, weight_decay)
    steps = check_int(steps, "steps", 1)
    lr = positive_scalar(learning_rate, "learning_rate")
    log_every = check_int(log_every, "log_every", 1)
    p = {k: v.copy() for k, v in model.params.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    mom = {k: np.zeros_like(v) for k, v in p.items()}
    var = {k: np.zeros_like(v) for k, v in p.items()}
    loss_steps, losses = [], []
    k = 0
    try:
        # An overflow means the run has diverged: stop with a clear error instead of training
        # on inf/NaN (numpy would only warn).
        with np.errstate(over="raise", invalid="raise"):
            for k in range(steps):
                log_now = k % log_every == 0
                loss, grads = _loss_and_grads(p, X3, tg, wd, need_loss=log_now)
                if log_now:
                    loss_steps.append(k)
                    losses.append(loss)
                c1, c2 = 1.0 - beta1 ** (k + 1), 1.0 - beta2 ** (k + 1)
                for name, g in grads.items():
                    mom[name] = beta1 * mom[name] + (1.0 - beta1) * g
                    var[name] = beta2 * var[name] + (1.0 - beta2) * (g * g)
                    p[name] = p[name] - (lr / c1) * mom[name] / (np.sqrt(var[name] / c2) + eps)
            k = steps
            loss_steps.append(steps)
            losses.append(_loss_and_grads(p, X3, tg, wd)[0])
    except FloatingPointError as exc:
        raise FloatingPointError(f"training diverged at step {k} ({exc}); lower "
                                 f"learning_rate={lr!r} or scale the inputs") from None
    losses = np.array(losses)
    return TrainResult(params={k: model.out(v) for k, v in p.items()},
                       loss_steps=np.array(loss_steps),
                       losses=losses[:, 0] if model.single else losses)


# --------------------------------------------------------------------------------------------
# Sequence-level distillation: hard labels sampled from the teacher
# --------------------------------------------------------------------------------------------

def sample_teacher_labels(teacher_logits: ArrayLike, rng: np.random.Generator,
                          temperature: float = 1.0, samples_per_input: int = 1) -> np.ndarray:
    r"""Draw hard labels :math:`y \sim \mathrm{softmax}(z_t/T)` for every row (inverse-CDF sampling).

    Parameters
    ----------
    teacher_logits : array_like, shape (..., N, K)
    rng : numpy.random.Generator
    temperature : float
        Sampling temperature ``T > 0``.
    samples_per_input : int
        Independent draws per row.

    Returns
    -------
    numpy.ndarray of int, shape ``(..., N, samples_per_input)``
        Training on ``(X[n], y[n, j])`` with plain cross-entropy is supervised fine-tuning on
        teacher outputs, the way DeepSeek-R1's distilled models were made (R1 kept only the
        correct samples: rejection sampling). As
        ``samples_per_input`` grows, the label frequencies at each input approach
        ``softmax(z_t/T)``, and the mean cross-entropy on them approaches the cross-entropy against
        those soft targets.
    """
    zt = float_array(teacher_logits, "teacher_logits", min_ndim=2)
    if zt.shape[-1] < 2:
        raise ValueError(f"teacher_logits need >= 2 classes on the last axis, got shape {zt.shape}")
    rng = _generator(rng)
    t = positive_scalar(temperature, "temperature")
    k = check_int(samples_per_input, "samples_per_input", 1)
    cdf = np.cumsum(softmax(zt, t), axis=-1)
    u = rng.random(zt.shape[:-1] + (k,))
    # Class index = number of cumulative probabilities <= u. The minimum guards against a last
    # cumulative sum of 1 - 1e-16 (rounding) with u above it.
    labels = (u[..., :, None] >= cdf[..., None, :]).sum(axis=-1)
    return np.minimum(labels, zt.shape[-1] - 1)


def sft_expected_grad(teacher_logits: ArrayLike, student_logits: ArrayLike,
                      sample_temperature: float = 1.0) -> np.ndarray:
    r"""Expected gradient of SFT on teacher samples, with respect to the student's logits.

    Samples :math:`y \sim p_t(T_s) = \mathrm{softmax}(z_t/T_s)` (:func:`sample_teacher_labels`);
    the student is trained by plain cross-entropy :math:`-\log \mathrm{softmax}(z_s)_y`, with no
    temperature in the loss. Its gradient at one sample is :math:`p_s - e_y`, so

    .. math:: \mathbb{E}_{y\sim p_t(T_s)}\bigl[p_s - e_y\bigr] = p_s(T{=}1) - p_t(T_s)
              = \nabla_{z_s} KL\bigl(p_t(T_s)\,\|\,p_s(T{=}1)\bigr).

    The teacher is softened, the student is not: the gradient vanishes at
    :math:`p_s = p_t(T_s)`, so SFT on hot samples teaches the student the teacher's *tempered*
    distribution. Logit distillation at temperature :math:`T`
    (:func:`r1lib.distillation_grad`, :math:`T\,(p_s(T) - p_t(T))`) softens both sides and
    vanishes at :math:`p_s = p_t`; the two agree only at :math:`T_s = T = 1`.

    Parameters
    ----------
    teacher_logits, student_logits : array_like, shape (..., K)
        Logits over the same K classes (classes on the last axis).
    sample_temperature : float, default 1.0
        The temperature :math:`T_s > 0` the teacher's samples are drawn at.

    Returns
    -------
    numpy.ndarray, same shape as the logits
        :math:`p_s(T{=}1) - p_t(T_s)`; each row sums to 0.
    """
    zt = float_array(teacher_logits, "teacher_logits", allow_neg_inf=True, min_ndim=1)
    zs = float_array(student_logits, "student_logits", allow_neg_inf=True, min_ndim=1)
    if zt.shape != zs.shape:
        raise ValueError(f"teacher_logits and student_logits must have the same shape, got "
                         f"{zt.shape} and {zs.shape}")
    t = positive_scalar(sample_temperature, "sample_temperature")
    return softmax(zs) - softmax(zt, t)


# --------------------------------------------------------------------------------------------
# The experiment: one teacher, students taught three ways
# --------------------------------------------------------------------------------------------

@dataclass
class StudentComparison:
    """Test accuracies of students taught three ways (see :func:`compare_students`).

    Every array's last axis runs over the ``R`` repeats; repeat ``r`` uses the same transfer set
    and the same initial student for every method, so differences between methods are paired.
    """

    n_transfer: int
    temperatures: np.ndarray   # (nT,)
    alphas: np.ndarray         # (nA,)
    hard: np.ndarray           # (R,)  gold labels only (alpha = 0)
    sampled: np.ndarray        # (R,)  SFT on labels sampled from the teacher (R1's way)
    kd: np.ndarray             # (nT, nA, R) soft targets at temperature T, mixing weight alpha
    n_parameters: int          # of one student

    def kd_at(self, temperature: float, alpha: float) -> np.ndarray:
        """The ``(R,)`` accuracies of the grid point nearest to ``(temperature, alpha)``
        (nearest in log T)."""
        i = int(np.argmin(np.abs(np.log(self.temperatures) - np.log(positive_scalar(temperature, "temperature")))))
        j = int(np.argmin(np.abs(self.alphas - _alpha(alpha, 1)[0])))
        return self.kd[i, j]


def compare_students(X_pool: ArrayLike, y_pool: ArrayLike, teacher_logits: ArrayLike,
                     X_test: ArrayLike, y_test: ArrayLike, *, n_transfer: int,
                     rng: np.random.Generator, n_repeats: int = 5,
                     temperatures: ArrayLike = (4.0,), alphas: ArrayLike = (0.5,),
                     n_hidden: int = 8, sample_temperature: float = 1.0,
                     samples_per_input: int = 1, steps: int = 200, learning_rate: float = 0.03,
                     weight_decay: float = 1e-3) -> StudentComparison:
    r"""Train small students on a transfer set three ways and measure their test accuracy.

    For each of ``n_repeats`` repeats, draw a transfer set of ``n_transfer`` rows of the pool
    (without replacement) and one initial student (:func:`init_params` with ``n_hidden``), then
    train it

    * **hard**: on the gold labels ``y_pool`` only (``alpha = 0``);
    * **kd**: on the mixed objective of :func:`kd_objective` with the teacher's logits, for every
      temperature in ``temperatures`` and every mixing weight in ``alphas``;
    * **sampled**: on ``samples_per_input`` hard labels per row drawn from
      ``softmax(teacher_logits / sample_temperature)`` (:func:`sample_teacher_labels`), with plain
      cross-entropy and no gold labels: supervised fine-tuning on teacher outputs.

    All students of one temperature train together as one batch (:func:`train`). The random
    stream is used in a fixed order (transfer sets, initial students, sampled labels), so the
    result depends only on the arguments and the state of ``rng``.
    """
    Xp = float_array(X_pool, "X_pool").astype(np.float64, copy=False)
    if Xp.ndim != 2:
        raise ValueError(f"X_pool must be 2-D (examples x features), got shape {Xp.shape}")
    zt = _logits(teacher_logits, "teacher_logits")
    if zt.ndim != 2 or zt.shape[0] != Xp.shape[0]:
        raise ValueError(f"teacher_logits must have shape ({Xp.shape[0]}, K), got {zt.shape}")
    k_classes = zt.shape[1]
    yp = _labels(y_pool, (Xp.shape[0],), k_classes, "y_pool")
    Xt = float_array(X_test, "X_test").astype(np.float64, copy=False)
    if Xt.ndim != 2 or Xt.shape[1] != Xp.shape[1]:
        raise ValueError(f"X_test must be 2-D with {Xp.shape[1]} features, got shape {Xt.shape}")
    yt = _labels(y_test, (Xt.shape[0],), k_classes, "y_test")
    n = check_int(n_transfer, "n_transfer", 1)
    if n > Xp.shape[0]:
        raise ValueError(f"n_transfer={n} exceeds the {Xp.shape[0]} rows of the pool")
    rng = _generator(rng)
    reps = check_int(n_repeats, "n_repeats", 1)
    temps = np.array([positive_scalar(t, "temperatures") for t in np.atleast_1d(temperatures)])
    alph = float_array(alphas, "alphas", min_ndim=1)
    if alph.ndim != 1:
        raise ValueError(f"alphas must be 1-D, got shape {alph.shape}")
    _alpha(alph, alph.size)  # range check
    k = check_int(samples_per_input, "samples_per_input", 1)
    fit = dict(steps=steps, learning_rate=learning_rate, weight_decay=weight_decay,
               log_every=max(1, check_int(steps, "steps", 1)))

    idx = np.stack([rng.choice(Xp.shape[0], size=n, replace=False) for _ in range(reps)])
    init = init_params(Xp.shape[1], k_classes, n_hidden, rng, n_models=reps)
    X_tr, y_tr, z_tr = Xp[idx], yp[idx], zt[idx]           # (R, n, d), (R, n), (R, n, K)
    y_sampled = sample_teacher_labels(z_tr, rng, sample_temperature, k).reshape(reps, n * k)

    hard = train(init, X_tr, labels=y_tr, **fit)
    sampled = train(init, np.repeat(X_tr, k, axis=1), labels=y_sampled, **fit)
    # One batch per temperature: alpha-major copies of the R students.
    n_a = alph.size
    hard_acc = accuracy(hard.params, Xt, yt)
    # alpha = 0 is the hard-label objective itself (same students, same data): reuse it.
    kd = np.empty((temps.size, n_a, reps))
    kd[:, alph == 0.0] = hard_acc
    soft = np.flatnonzero(alph > 0.0)
    if soft.size:
        init_kd = {name: np.tile(v, (soft.size,) + (1,) * (v.ndim - 1)) for name, v in init.items()}
        tile = lambda a: np.tile(a, (soft.size,) + (1,) * (a.ndim - 1))  # noqa: E731
        for i, t in enumerate(temps):
            res = train(init_kd, tile(X_tr), labels=tile(y_tr), teacher_logits=tile(z_tr),
                        temperature=float(t), alpha=np.repeat(alph[soft], reps), **fit)
            kd[i, soft] = accuracy(res.params, Xt, yt).reshape(soft.size, reps)
    return StudentComparison(n_transfer=n, temperatures=temps, alphas=alph.copy(), hard=hard_acc,
                             sampled=accuracy(sampled.params, Xt, yt), kd=kd,
                             n_parameters=count_parameters(init))


# --------------------------------------------------------------------------------------------
# Data helpers
# --------------------------------------------------------------------------------------------

def standardize(X_fit: ArrayLike, *others: ArrayLike) -> tuple[np.ndarray, ...]:
    r"""Scale features to mean 0 and standard deviation 1 with the statistics of ``X_fit`` only.

    :math:`x' = (x - \mu)/s` with :math:`\mu, s` the column means and standard deviations of
    ``X_fit`` (a constant column gets :math:`s = 1`, so it maps to 0 instead of NaN). Returns
    ``(X_fit', *others')``: a test set must be scaled with the training statistics, never its own.
    """
    fit = float_array(X_fit, "X_fit").astype(np.float64, copy=False)
    if fit.ndim != 2:
        raise ValueError(f"X_fit must be 2-D (examples x features), got shape {fit.shape}")
    mu = fit.mean(axis=0)
    sd = fit.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    out = [(fit - mu) / sd]
    for i, other in enumerate(others):
        o = float_array(other, f"others[{i}]").astype(np.float64, copy=False)
        if o.ndim != 2 or o.shape[1] != fit.shape[1]:
            raise ValueError(f"others[{i}] must be 2-D with {fit.shape[1]} features, got shape {o.shape}")
        out.append((o - mu) / sd)
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Forward versus reverse KL: fitting one Gaussian to a two-mode target
# --------------------------------------------------------------------------------------------

def gaussian_on_grid(support: ArrayLike, mean: ArrayLike, std: ArrayLike) -> np.ndarray:
    r"""A Gaussian restricted to a grid: :math:`q_i \propto \exp(-(x_i-\mu)^2/(2\sigma^2))`.

    Normalised over the grid with :func:`r1lib.softmax`, so far-away bins get tiny but exact
    probabilities and never NaN. ``mean`` and ``std`` broadcast against each other; the result
    has shape ``broadcast(mean, std).shape + (len(support),)``.
    """
    x = float_array(support, "support", min_ndim=1)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"support must be a 1-D grid with >= 2 points, got shape {x.shape}")
    mu = float_array(mean, "mean")
    sd = float_array(std, "std")
    if (sd <= 0).any():
        raise ValueError(f"std must be > 0, got a minimum of {sd.min()!r}")
    mu, sd = np.broadcast_arrays(mu, sd)
    logits = -0.5 * ((x - mu[..., None]) / sd[..., None]) ** 2
    return softmax(logits, axis=-1)


def two_mode_gaussian(support: ArrayLike, separation: float, weight: float) -> np.ndarray:
    r"""A two-mode target on a grid: the mixture :math:`w\,N(-s/2, 1) + (1-w)\,N(s/2, 1)`.

    .. math:: p_i \propto w\,e^{-(x_i + s/2)^2/2} + (1 - w)\,e^{-(x_i - s/2)^2/2}

    normalised over the grid, in log space (:func:`numpy.logaddexp`, then :func:`r1lib.softmax`),
    so far-away grid points get tiny but exact probabilities. The teacher of notebook 01's
    forward-versus-reverse-KL panel.

    Parameters
    ----------
    support : array_like, 1-D grid of at least 2 points
    separation : float
        Distance ``s >= 0`` between the two unit-width modes.
    weight : float
        Weight ``w`` of the left mode, strictly between 0 and 1.
    """
    x = float_array(support, "support", min_ndim=1)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"support must be a 1-D grid with >= 2 points, got shape {x.shape}")
    s = nonneg_scalar(separation, "separation")
    w = positive_scalar(weight, "weight")
    if not w < 1.0:
        raise ValueError(f"weight must be strictly between 0 and 1, got {weight!r}")
    log_mix = np.logaddexp(np.log(w) - 0.5 * (x + s / 2) ** 2, np.log1p(-w) - 0.5 * (x - s / 2) ** 2)
    return softmax(log_mix)


class GaussianFit(NamedTuple):
    """The best Gaussian among a grid of candidates, and the divergence of every candidate."""

    mean: float
    std: float
    kl: float
    kl_grid: np.ndarray  # shape (len(means), len(stds))


class GaussianFamily:
    r"""Candidate students for :func:`fit_gaussian`: :func:`gaussian_on_grid` for every pair in
    ``means x stds``, computed once (an interactive panel refits many targets to the same family).

    Attributes
    ----------
    support, means, stds : numpy.ndarray
    q : numpy.ndarray, shape (len(means), len(stds), len(support))
    """

    def __init__(self, support: ArrayLike, means: ArrayLike, stds: ArrayLike) -> None:
        self.support = float_array(support, "support", min_ndim=1)
        self.means = float_array(means, "means", min_ndim=1)
        self.stds = float_array(stds, "stds", min_ndim=1)
        if self.means.ndim != 1 or self.stds.ndim != 1:
            raise ValueError(f"means and stds must be 1-D grids of candidates, got shapes "
                             f"{self.means.shape} and {self.stds.shape}")
        self.q = gaussian_on_grid(self.support, self.means[:, None], self.stds[None, :])

    def fit(self, target: ArrayLike, direction: str = "forward") -> GaussianFit:
        r"""The candidate that minimises :math:`KL(p\|q)` (``"forward"``) or :math:`KL(q\|p)`
        (``"reverse"``) for the target distribution ``p`` on the support."""
        direction = check_option(direction, "direction", ("forward", "reverse"))
        p = float_array(target, "target", min_ndim=1)
        if p.shape != self.support.shape:
            raise ValueError(f"target must have the shape of support {self.support.shape}, got {p.shape}")
        p = np.broadcast_to(p, self.q.shape)
        kl = kl_divergence(p, self.q) if direction == "forward" else kl_divergence(self.q, p)
        i, j = np.unravel_index(np.argmin(kl), kl.shape)
        return GaussianFit(mean=float(self.means[i]), std=float(self.stds[j]), kl=float(kl[i, j]),
                           kl_grid=kl)


def fit_gaussian(target: ArrayLike, support: ArrayLike, means: ArrayLike, stds: ArrayLike,
                 direction: str = "forward") -> GaussianFit:
    r"""Fit :func:`gaussian_on_grid` to ``target`` by exhaustive search over ``means x stds``.

    ``direction="forward"`` minimises :math:`KL(p\|q)` (target first: *mode-covering*, ``q``
    must put mass wherever ``p`` has some); ``"reverse"`` minimises :math:`KL(q\|p)`
    (*mode-seeking*: ``q`` is punished for mass where ``p`` has little, and may ignore a mode).
    An exhaustive search is exact up to the candidate grid and cannot get stuck in a local
    minimum, which matters here: reverse KL has one local minimum per mode. To fit many targets
    to the same candidates, build a :class:`GaussianFamily` once and call its ``fit``.
    """
    return GaussianFamily(support, means, stds).fit(target, direction)

"""The finite-difference gradients the tests check analytic gradients against."""
from __future__ import annotations

from typing import Callable

import numpy as np


def central_difference(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """``d f / d x`` by central differences, ``(f(x + h e_i) - f(x - h e_i)) / 2h`` per entry."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += h
        down[idx] -= h
        grad[idx] = (float(f(up)) - float(f(down))) / (2 * h)
    return grad


def entry_difference(loss: Callable[[], float], array: np.ndarray, index: tuple,
                     h: float = 1e-6) -> float:
    """``d loss / d array[index]`` by a central difference, nudging that one entry in place and
    restoring it: for a model's parameters, which ``loss()`` reads, where a full gradient by
    differences would take a forward pass per parameter."""
    keep = array[index]
    array[index] = keep + h
    up = float(loss())
    array[index] = keep - h
    down = float(loss())
    array[index] = keep
    return (up - down) / (2 * h)

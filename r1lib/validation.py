"""Input checks shared by the public functions.

Every public function validates at the boundary so that bad input fails loudly, with a message that
names the parameter and the offending value, instead of flowing on as a silent NaN.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__: list[str] = []  # package-internal helpers (not part of the public API, but named without underscores so that every module may import them)


def describe(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def float_array(value: Any, name: str, *, allow_neg_inf: bool = False,
                allow_pos_inf: bool = False, min_ndim: int = 0) -> np.ndarray:
    """Return ``value`` as a float array (float32 stays float32, everything else float64).

    Raises TypeError for non-numeric input and ValueError for empty arrays, NaN and infinities
    that are not explicitly allowed.
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a numeric array, got {describe(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array, got {describe(value)}") from exc
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or np.issubdtype(arr.dtype, np.floating)):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}: {describe(value)}")
    if arr.dtype != np.float32:
        arr = arr.astype(np.float64, copy=False)
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN: {describe(value)}")
    if not allow_pos_inf and np.isposinf(arr).any():
        raise ValueError(f"{name} contains +inf: {describe(value)}")
    if not allow_neg_inf and np.isneginf(arr).any():
        raise ValueError(f"{name} contains -inf: {describe(value)}")
    return arr


def positive_scalar(value: Any, name: str) -> float:
    """A finite, strictly positive real number (a temperature, a clip range...)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype != bool:
            value = value.item()
        else:
            raise TypeError(f"{name} must be a real number, got {describe(value)}")
    value = float(value)
    if not np.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def nonneg_scalar(value: Any, name: str) -> float:
    """A finite real number >= 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {describe(value)}")
    value = float(value)
    if not np.isfinite(value) or value < 0.0:
        raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
    return value


def int_array(value: Any, name: str) -> np.ndarray:
    """Integer counts as an int64 array: integral floats are accepted, 2.5 or True are not."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an integer or an array of integers, got {describe(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name} must be an integer or an array of integers, "
                        f"got {describe(value)}") from exc
    if arr.dtype == bool:
        raise TypeError(f"{name} must be an integer, got a boolean: {describe(value)}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if np.issubdtype(arr.dtype, np.integer):
        return arr.astype(np.int64, copy=False)
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or (arr != np.round(arr)).any():
            raise ValueError(f"{name} must be a whole number, got {describe(value)}")
        if (np.abs(arr) > 2**53).any():
            raise ValueError(f"{name} is too large to be an exact count: {describe(value)}")
        return arr.astype(np.int64)
    raise TypeError(f"{name} must be an integer or an array of integers, got {describe(value)}")


def check_int(value: Any, name: str, minimum: int = 1) -> int:
    """One integer (Python or NumPy, never a bool) ``>= minimum``: a count, a size, a seed."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {describe(value)}")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}")
    return int(value)


def check_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {describe(axis)}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array with {ndim} dimension(s)")
    return axis % ndim


def check_option(value: Any, name: str, options: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {describe(value)}")
    return value


def broadcast_pair(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        return np.broadcast_arrays(a, b)
    except ValueError:
        raise ValueError(f"shapes of {name_a} {a.shape} and {name_b} {b.shape} do not match "
                         f"(and do not broadcast)") from None


def common_float_dtype(*arrays: np.ndarray) -> np.dtype:
    """float32 only when every input is float32; otherwise float64."""
    return np.dtype(np.float32) if all(a.dtype == np.float32 for a in arrays) else np.dtype(np.float64)

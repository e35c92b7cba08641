"""The shared figure style of the notebooks.

White figure and axes backgrounds (readable on JupyterLab's dark theme, where the inline
backend's default transparent background turns black text invisible), one palette, and sizes that
fit a notebook column.
"""
from __future__ import annotations

from typing import Any

__all__ = ["use_style", "COLORS", "new_figure"]

# Colour-blind-safe (Okabe-Ito) palette; names say the role a colour plays across notebooks.
COLORS = {
    "teacher": "#0072B2",
    "student": "#D55E00",
    "reference": "#009E73",
    "k1": "#E69F00",
    "k2": "#56B4E9",
    "k3": "#CC79A7",
    "truth": "#000000",
    "neutral": "#999999",
}

STYLE: dict[str, Any] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "figure.edgecolor": "white",
    "text.color": "black",
    "axes.labelcolor": "black",
    "axes.edgecolor": "#333333",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 9,
    "legend.framealpha": 0.9,
    "figure.dpi": 90,
    "figure.figsize": (9.0, 3.6),
}


def use_style() -> None:
    """Apply the notebook style to matplotlib's global rcParams (call after ``%matplotlib inline``)."""
    import matplotlib as mpl

    mpl.rcParams.update(STYLE)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 9.0, height: float = 3.6, **kwargs: Any):
    """A pyplot figure with the house style and ``constrained_layout`` (labels never clipped)."""
    import matplotlib.pyplot as plt

    use_style()
    return plt.subplots(nrows, ncols, figsize=(width, height), layout="constrained", **kwargs)

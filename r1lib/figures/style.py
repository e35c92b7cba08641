"""The shared figure style of the notebooks.

White figure and axes backgrounds (readable on JupyterLab's dark theme, where the inline
backend's default transparent background turns black text invisible), one palette, and sizes that
fit a notebook column.
"""
from __future__ import annotations

from typing import Any

__all__ = ["use_style", "COLORS", "new_figure", "fixed_pair_figure", "BlitCanvas"]

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


def fixed_pair_figure(width: float = 10.0, height: float = 3.6, bottom: float = 0.15,
                      axes_height: float = 0.74):
    """Two plots side by side at fixed positions (no layout engine), so that a slider panel's
    layout never moves between updates and a BlitCanvas background stays valid."""
    fig, axes = new_figure(2, width=width, height=height)
    fig.set_layout_engine(None)
    axes[0].set_position([0.065, bottom, 0.40, axes_height])
    axes[1].set_position([0.575, bottom, 0.40, axes_height])
    return fig, axes


def _agg_canvas_class():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return FigureCanvasAgg


class BlitCanvas(_agg_canvas_class()):
    """Fast slider panels: matplotlib's blitting, applied to inline PNGs.

    Laying out and rendering a whole figure takes 50-200 ms on a small machine, mostly text. This
    canvas renders everything that never changes (axes, ticks, labels, fixed curves) once and
    keeps it as a bitmap; each time the figure is saved as PNG (as :class:`r1lib.figures.panels.Panel`
    does on every update) it pastes the bitmap back, draws only the ``dynamic`` artists on top and
    encodes the PNG. A slider move then costs a few milliseconds.

    Usage: build the figure, then ``BlitCanvas(fig, [artists that change])``; afterwards only
    update those artists' data (limits, ticks and layout are frozen at the first draw).
    """

    def __init__(self, fig, dynamic) -> None:
        import matplotlib.pyplot as plt

        self.dynamic = list(dynamic)
        for artist in self.dynamic:
            artist.set_animated(True)  # left out of full draws: drawn by print_png only
        plt.close(fig)  # not shown again by the inline backend at the end of the cell
        super().__init__(fig)  # fig.canvas is now this canvas
        super().draw()
        fig.set_layout_engine(None)  # keep the layout of that first draw
        self.background = self.copy_from_bbox(fig.bbox)

    def print_png(self, filename_or_obj, *, metadata=None, pil_kwargs=None, **_ignored) -> None:
        # _ignored: facecolor, dpi, ... that savefig passes on; the figure already has them.
        import matplotlib.image

        self.restore_region(self.background)
        for artist in self.dynamic:
            self.figure.draw_artist(artist)
        pil_kwargs = {"compress_level": 1, **(pil_kwargs or {})}  # fast encoding, slightly larger file
        matplotlib.image.imsave(filename_or_obj, self.buffer_rgba(), format="png", origin="upper",
                                dpi=self.figure.dpi, metadata=metadata, pil_kwargs=pil_kwargs)

"""The shared figure style of the notebooks.

White figure and axes backgrounds (readable on JupyterLab's dark theme, where the inline
backend's default transparent background turns black text invisible), one palette, and sizes that
fit a notebook column.

The palette is Okabe and Ito's (2008), chosen so that readers with a red/green colour vision
deficiency can tell the colours apart; it is also matplotlib's colour cycle under
:func:`use_style`. :func:`colour_blind_conflicts` checks a figure's series against that promise
(the reading site's test runs it on every figure the notebooks draw).
"""
from __future__ import annotations

from typing import Any

__all__ = ["use_style", "COLORS", "OKABE_ITO", "new_figure", "fixed_pair_figure", "BlitCanvas",
           "simulate_colour_vision", "colour_distance", "colour_blind_conflicts"]

# Okabe & Ito, "Color Universal Design" (2008): the eight colours, black first.
OKABE_ITO = ("#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7")

# Colour-blind-safe (Okabe-Ito) palette; names say the role a colour plays across notebooks.
COLORS = {
    "teacher": "#0072B2",
    "student": "#D55E00",
    "reference": "#009E73",
    "k1": "#E69F00",
    "k2": "#56B4E9",
    "k3": "#CC79A7",
    "truth": "#000000",
    # A dark grey: #999999 (Okabe-Ito's usual grey) has the lightness that bluish green and
    # reddish purple take for a deuteranope or protanope (ΔE 12 and 7; #606060: 18 and 26).
    "neutral": "#606060",
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


# Series drawn without an explicit colour get Okabe-Ito too (matplotlib's default cycle puts red
# next to green), blue and vermillion first, as the named COLORS do.
CYCLE = ("#0072B2", "#D55E00", "#009E73", "#E69F00", "#56B4E9", "#CC79A7", "#000000", "#F0E442")


def use_style() -> None:
    """Apply the notebook style to matplotlib's global rcParams (call after ``%matplotlib inline``)."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams.update({**STYLE, "axes.prop_cycle": cycler(color=list(CYCLE))})


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


# ------------------------------------------------------------------------------ colour vision

# Machado, Oliveira & Fernandes, "A Physiologically-based Model for Simulation of Color Vision
# Deficiency", IEEE TVCG 15(6), 2009: severity 1.0 (dichromacy), applied to linear sRGB.
_CVD_MATRICES = {
    "protanopia": ((0.152286, 1.052583, -0.204868),
                   (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968),
                     (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779),
                   (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
}
RED_GREEN = ("protanopia", "deuteranopia")


def _linear_rgb(colour):
    import numpy as np
    from matplotlib.colors import to_rgb

    c = np.asarray(to_rgb(colour), dtype=float)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _lab(linear):
    """CIE L*a*b* (D65 white) of a linear-sRGB triple."""
    import numpy as np

    xyz = np.array([[0.4124564, 0.3575761, 0.1804375],
                    [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]]) @ np.asarray(linear, dtype=float)
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    d = 6 / 29
    f = np.where(t > d ** 3, np.cbrt(t), t / (3 * d * d) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def simulate_colour_vision(colour, deficiency: str):
    """The colour as a dichromat sees it, as linear sRGB in [0, 1].

    ``rgb' = M rgb`` in linear sRGB with Machado et al. (2009)'s matrix for ``deficiency``
    ("protanopia", "deuteranopia", "tritanopia"; severity 1), clipped to the gamut.
    """
    import numpy as np

    from ..validation import check_option

    check_option(deficiency, "deficiency", tuple(_CVD_MATRICES))
    return np.clip(np.array(_CVD_MATRICES[deficiency]) @ _linear_rgb(colour), 0.0, 1.0)


def colour_distance(a, b, deficiency: str | None = None) -> float:
    """CIE76 colour difference ΔE*ab = ||Lab(a) - Lab(b)||, as seen with normal colour vision
    or, with ``deficiency``, as simulated by :func:`simulate_colour_vision`. About 2.3 is a just
    noticeable difference; plot colours want tens."""
    import numpy as np

    if deficiency is None:
        la, lb = _linear_rgb(a), _linear_rgb(b)
    else:
        la, lb = simulate_colour_vision(a, deficiency), simulate_colour_vision(b, deficiency)
    return float(np.linalg.norm(_lab(la) - _lab(lb)))


def colour_blind_conflicts(series, min_distance: float = 15.0,
                           deficiencies=RED_GREEN, min_alpha: float = 0.5) -> list[dict]:
    """Pairs of series that differ only in a red/green hue.

    ``series``: dicts with ``"kind"`` (what besides colour tells series apart, e.g. "line -" or
    "area"), ``"colour"`` and optionally ``"label"`` and ``"alpha"`` (as
    :func:`r1lib.figures.describe.figure_series` returns). A pair is a conflict when both series
    are of the same kind (so only colour tells them apart), their colours are at least
    ``min_distance`` apart for normal colour vision, and closer than ``min_distance`` for a
    protanope or a deuteranope. (Okabe-Ito's colours are at least 17 apart under both;
    matplotlib's red and green, 7.) Two entries with the same label are one series (a legend
    key and its bars); faded ones (``alpha`` below ``min_alpha``: single runs behind their mean,
    the options not chosen) are context that the reader does not need to name, and are skipped.
    """
    out = []
    items = [s for s in series if s.get("alpha", 1.0) >= min_alpha]
    for i, a in enumerate(items):
        for b in items[i + 1:]:
            if a["kind"] != b["kind"] or (a.get("label") and a.get("label") == b.get("label")):
                continue
            normal = colour_distance(a["colour"], b["colour"])
            if normal < min_distance:
                continue
            for deficiency in deficiencies:
                seen = colour_distance(a["colour"], b["colour"], deficiency)
                if seen < min_distance:
                    out.append({"a": a, "b": b, "normal": round(normal, 1), "deficiency": deficiency,
                                "distance": round(seen, 1)})
                    break
    return out

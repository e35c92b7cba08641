"""Helpers the figure-layer tests share: a panel's picture as pixels, and driving its controls."""
from __future__ import annotations

import io
import warnings

import matplotlib.image
import numpy as np


def pixels(fig) -> np.ndarray:
    """The panel's PNG as the notebook gets it (through the BlitCanvas, if any), decoded."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="white")
    buf.seek(0)
    return matplotlib.image.imread(buf, format="png")


def left_of_axes(fig, img) -> np.ndarray:
    """The strip left of the first axes (y label and tick labels), which no update may touch."""
    x0 = int(fig.axes[0].get_window_extent().x0)
    return img[:, : max(1, x0 - 2)]


def drive(panel, assignments):
    """Set control values one after another, warnings as errors; returns each update's CPU time
    (s) in the updating thread. CPU time, not wall time: the machine running the tests is often
    shared, and other processes inflate wall time only. What a reader waits, wall time from
    control to new image, is measured by the benchmark (benchmarks/run.py --only notebooks) and
    the browser test, with the machine's load beside it."""
    before = len(panel.cpu_timings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, value in assignments:
            panel.controls[name].value = value
    assert not panel.errors, panel.errors
    return panel.cpu_timings[before:]

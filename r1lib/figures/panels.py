"""Slider panels for the notebooks, built on core ipywidgets (7.7 and 8) and the inline backend.

A :class:`Panel` is controls + a one-line status + a figure. Its callback is thin: it reads the
control values, calls a ``draw`` function (which calls r1lib and returns a figure and a status
line) and shows the result. Panels return their controls, so a notebook cell, a test or the
benchmark can set ``panel.controls["T"].value`` and check what happens; every panel records how
long each update took and any exception raised, because ipywidgets' ``Output`` would otherwise
swallow exceptions and nbval would pass a broken callback.
"""
from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Optional

__all__ = ["Panel", "float_slider", "log_slider", "int_slider", "panels"]

_PANELS: list = []


def _slider_common(description: str) -> dict:
    import ipywidgets as w

    return dict(description=description, continuous_update=False,
                style={"description_width": "initial"}, layout=w.Layout(width="330px"))


def float_slider(description: str, value: float, min: float, max: float, step: float,
                 readout_format: str = ".2f"):
    """A FloatSlider that fires on release (``continuous_update=False``)."""
    import ipywidgets as w

    return w.FloatSlider(value=value, min=min, max=max, step=step, readout_format=readout_format,
                         **_slider_common(description))


def log_slider(description: str, value: float, min: float, max: float, base: float = 10.0,
               step: float = 0.05, readout_format: str = ".3g"):
    """A FloatLogSlider: ``min``/``max`` are the values themselves (not exponents)."""
    import math

    import ipywidgets as w

    return w.FloatLogSlider(value=value, base=base, min=math.log(min, base), max=math.log(max, base),
                            step=step, readout_format=readout_format, **_slider_common(description))


def int_slider(description: str, value: int, min: int, max: int, step: int = 1):
    import ipywidgets as w

    return w.IntSlider(value=value, min=min, max=max, step=step, **_slider_common(description))


class Panel:
    """An interactive figure driven by named controls.

    Parameters
    ----------
    name : str
        Short identifier; becomes the CSS class ``r1-panel-<name>`` (the browser test finds panels
        and sliders by these classes: ``r1-slider``, ``r1-status``, ``r1-figure``).
    controls : mapping of str to ipywidgets value widget
        Keyword names passed to ``draw``.
    draw : callable
        ``draw(**values) -> (figure, status_text)``. It computes with r1lib and returns a
        matplotlib figure (closed by the panel after display) and one line of text.
    height : str
        Fixed height of the figure area, so the page does not jump while dragging.
    """

    def __init__(self, name: str, controls: Mapping[str, Any], draw: Callable[..., tuple],
                 height: str = "380px") -> None:
        import ipywidgets as w

        self.name = name
        self.controls = dict(controls)
        self.draw = draw
        self.timings: list[float] = []
        self.errors: list[BaseException] = []
        self.status = w.HTML(value="")
        self.status.add_class("r1-status")
        self.output = w.Output(layout=w.Layout(height=height, overflow="hidden"))
        self.output.add_class("r1-figure")
        for key, control in self.controls.items():
            control.add_class("r1-slider")
            control.add_class(f"r1-control-{key}")
            control.observe(self._on_change, names="value")
        box = w.HBox(list(self.controls.values()), layout=w.Layout(flex_flow="row wrap"))
        self.widget = w.VBox([box, self.status, self.output])
        self.widget.add_class("r1-panel")
        self.widget.add_class(f"r1-panel-{name}")
        _PANELS.append(weakref.ref(self))

    def values(self) -> dict:
        return {key: control.value for key, control in self.controls.items()}

    def _on_change(self, change: Any) -> None:
        self.update()

    def update(self) -> float:
        """Redraw with the current control values; returns the time it took in seconds."""
        import matplotlib.pyplot as plt
        from IPython.display import clear_output, display

        start = time.perf_counter()
        error: Optional[BaseException] = None
        text = ""
        with self.output:
            clear_output(wait=True)
            try:
                fig, text = self.draw(**self.values())
                display(_png(fig))
                plt.close(fig)
            except Exception as exc:  # shown inside the widget, then re-raised below
                plt.close("all")
                error = exc
                self.errors.append(exc)
                _show_traceback()
        elapsed = time.perf_counter() - start
        if error is not None:
            self.status.value = f"<b style='color:#b00'>error: {type(error).__name__}: {error}</b>"
            raise error
        # The time goes to self.timings (tests and the benchmark read it), not to the learner.
        self.timings.append(elapsed)
        self.status.value = text
        return elapsed

    def show(self):
        """Draw once and return the widget (make it a cell's last expression to display it)."""
        self.update()
        return self.widget

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.show())

    def exercise(self) -> dict:
        """Move every control to its minimum, maximum and back to its start value.

        Returns the update times in seconds. Raises if any update raised, so a notebook cell that
        calls this checks the callback at the extremes (nbval only runs the start values).
        """
        times: list[float] = []
        for control in self.controls.values():
            start = control.value
            lo, hi = getattr(control, "min", None), getattr(control, "max", None)
            if type(control).__name__ == "FloatLogSlider":
                lo, hi = control.base ** control.min, control.base ** control.max
            for target in (lo, hi, start):
                if target is None or target == control.value:
                    continue
                before = len(self.timings)
                try:
                    control.value = target
                except Exception:  # recorded in self.errors; keep visiting the other extremes
                    pass
                times.extend(self.timings[before:])
        if self.errors:
            raise RuntimeError(f"panel {self.name!r} raised {len(self.errors)} error(s); "
                               f"first: {self.errors[0]!r}")
        return {"updates": len(times), "median_ms": 1000 * _median(times) if times else 0.0,
                "max_ms": 1000 * max(times) if times else 0.0}


def _png(fig: Any):
    """The figure as an inline PNG, rendered once.

    ``display(fig)`` would go through the inline backend's ``bbox_inches="tight"``, which draws the
    figure twice; panel figures use constrained layout or fixed axes, so one draw is enough and
    halves the callback time.
    """
    import io

    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="white")
    return Image(data=buf.getvalue(), format="png")


def _show_traceback() -> None:
    """Print the current exception's traceback where the user looks: the panel's output area."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.showtraceback()
    else:
        import traceback

        traceback.print_exc()


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else 0.5 * (ordered[mid - 1] + ordered[mid])


def panels() -> list[Panel]:
    """Every live panel created in this process (the benchmark and tests exercise them)."""
    return [p for p in (ref() for ref in _PANELS) if p is not None]

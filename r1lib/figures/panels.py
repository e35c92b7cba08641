"""Slider panels for the notebooks, built on core ipywidgets (7.7 and 8) and the inline backend.

A :class:`Panel` is controls + a one-line status + a figure. Its callback is thin: it reads the
control values, calls a ``draw`` function (which calls r1lib and returns a figure and a status
line) and shows the result. Panels return their controls, so a notebook cell, a test or the
benchmark can set ``panel.controls["T"].value`` and check what happens; every panel records how
long each update took and any exception raised, because ipywidgets' ``Output`` would otherwise
swallow exceptions and nbval would pass a broken callback.

For the reading site (a static copy without a kernel), :func:`record_frames` drives a panel
through the positions of its controls (:func:`control_positions`) and stores each figure as an
image file with its status line and alt text (:meth:`Panel.render`), for a page script to swap.
"""
from __future__ import annotations

import hashlib
import itertools
import math
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

__all__ = ["Panel", "Frame", "Positions", "float_slider", "log_slider", "int_slider", "panels",
           "control_positions", "record_frames"]

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
        self.timings: list[float] = []       # wall seconds per update (what a reader waits)
        self.cpu_timings: list[float] = []   # CPU seconds of the updating thread (what it costs;
        #                                      unlike wall time, not inflated by other processes)
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

    def render(self, series: bool = False, **values) -> "Frame":
        """Draw at the current control values, or at ``values`` where given, without touching the
        controls or the page: the PNG the panel would show, its status line and its alt text
        (with ``series=True`` also the figure's series, for the colour-blind check)."""
        import matplotlib.pyplot as plt

        from .describe import describe_figure, figure_series

        fig, text = self.draw(**{**self.values(), **values})
        try:
            return Frame(_png_bytes(fig), text, describe_figure(fig),
                         figure_series(fig) if series else [])
        finally:
            plt.close(fig)

    def _on_change(self, change: Any) -> None:
        self.update()

    def update(self) -> float:
        """Redraw with the current control values; returns the time it took in seconds."""
        import matplotlib.pyplot as plt
        from IPython.display import Image, clear_output, display

        start, cpu_start = time.perf_counter(), time.thread_time()
        error: Optional[BaseException] = None
        text = ""
        with self.output:
            clear_output(wait=True)
            try:
                frame = self.render()
                text = frame.status
                display(Image(data=frame.png, format="png", alt=frame.alt))
            except Exception as exc:  # shown inside the widget, then re-raised below
                plt.close("all")
                error = exc
                self.errors.append(exc)
                _show_traceback()
        elapsed = time.perf_counter() - start
        cpu = time.thread_time() - cpu_start
        if error is not None:
            self.status.value = f"<b style='color:#b00'>error: {type(error).__name__}: {error}</b>"
            raise error
        # The time goes to self.timings (tests and the benchmark read it), not to the learner.
        self.timings.append(elapsed)
        self.cpu_timings.append(cpu)
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

        Returns ``{"updates": n, "median_ms": ..., "max_ms": ...}``, the wall time of the updates
        it caused. Raises if any update of the panel has raised, so a notebook cell that calls this
        checks the callback at the extremes (nbval only runs the start values).
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


def _png_bytes(fig: Any) -> bytes:
    """The figure as PNG bytes, rendered once.

    ``display(fig)`` would go through the inline backend's ``bbox_inches="tight"``, which draws the
    figure twice; panel figures use constrained layout or fixed axes, so one draw is enough and
    halves the callback time.
    """
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, facecolor="white")
    return buf.getvalue()


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


# ------------------------------------------------------------------------------ recorded frames

@dataclass
class Frame:
    """One picture of a panel: the PNG it shows, its status line, its alt text (and its series)."""
    png: bytes
    status: str
    alt: str
    series: list = field(default_factory=list)


@dataclass
class Positions:
    """The positions a control can take, as a page without a kernel offers them.

    ``values`` are what ``draw`` receives, ``labels`` what the readout shows, ``start`` the index
    of the control's current value; ``total`` is how many positions the control itself has
    (``values`` is an even subsample when there are more than the recorder's limit; a text box has
    only its current value). ``kind`` says how a page shows it: "range", "select", "toggle",
    "checkbox" or "text".
    """
    kind: str
    label: str
    values: list
    labels: list
    start: int
    total: int


def _format(value: Any, spec: str) -> str:
    try:
        return format(value, spec.replace("~", ""))
    except (ValueError, TypeError):
        return str(value)


def _clean(x: float) -> float:
    """``lo + i * step`` without the float noise (0.30000000000000004 -> 0.3)."""
    return float(f"{x:.12g}")


def _grid_positions(control, lo: float, hi: float, step: float, to_value, spec: str, integer: bool):
    n = int(math.floor((hi - lo) / step + 1e-9)) + 1
    coords = [_clean(lo + i * step) for i in range(n)]
    if coords[-1] < hi - step / 2:  # a maximum well off the step grid is a position too
        coords.append(hi)
    current = control.value
    here = math.log(current, control.base) if hasattr(control, "base") else current
    if min(abs(c - here) for c in coords) > 1e-6 * step:  # a start value between two steps
        coords = sorted(coords + [here])
    start = min(range(len(coords)), key=lambda i: abs(coords[i] - here))
    values = [int(round(to_value(c))) if integer else to_value(c) for c in coords]
    values[start] = current  # exactly what the control holds (no round trip through the log)
    return values, [_format(v, spec) for v in values], start


def control_positions(control, limit: int = 64) -> Positions:
    """Every position of an ipywidgets control, or an even subsample of at most ``limit``.

    Sliders (int, float, log, selection): each step from min to max (plus the start value if it
    lies between steps); dropdowns, toggle and radio buttons, selection sliders: each option;
    checkboxes: False, True; anything else (a text box): its current value only. A subsample
    keeps both ends and the start value and steps evenly from it.
    """
    import ipywidgets as w

    label = getattr(control, "description", "") or ""
    if isinstance(control, w.FloatLogSlider):
        values, labels, start = _grid_positions(
            control, control.min, control.max, control.step, lambda e: control.base ** e,
            control.readout_format, integer=False)
        kind = "range"
    elif isinstance(control, (w.IntSlider, w.FloatSlider)):
        integer = isinstance(control, w.IntSlider)
        values, labels, start = _grid_positions(
            control, control.min, control.max, control.step, lambda x: x,
            control.readout_format, integer=integer)
        kind = "range"
    elif isinstance(control, (w.SelectionSlider, w.Dropdown, w.Select, w.ToggleButtons, w.RadioButtons)):
        pairs = [o if isinstance(o, tuple) and len(o) == 2 else (str(o), o) for o in control.options]
        labels = [str(lab) for lab, _ in pairs]
        values = [val for _, val in pairs]
        start = control.index if control.index is not None else 0
        kind = {w.SelectionSlider: "range", w.ToggleButtons: "toggle",
                w.RadioButtons: "toggle"}.get(type(control), "select")
    elif isinstance(control, (w.Checkbox, w.ToggleButton)):
        values, labels, start, kind = [False, True], ["off", "on"], int(bool(control.value)), "checkbox"
    else:
        kind = "textarea" if isinstance(control, w.Textarea) else "text"
        return Positions(kind, label, [control.value], [str(control.value)], 0, 1)
    total = len(values)
    if total > limit:
        keep = _subsample(total, start, limit)
        values, labels = [values[i] for i in keep], [labels[i] for i in keep]
        start = keep.index(start)
    return Positions(kind, label, values, labels, start, total)


def _subsample(n: int, start: int, limit: int) -> list[int]:
    """At most ``limit`` of ``range(n)``: both ends, ``start``, and every s-th index from it."""
    stride = max(1, math.ceil((n - 1) / max(1, limit - 2)))
    while True:
        keep = sorted({0, n - 1, *range(start % stride, n, stride)})
        if len(keep) <= limit:
            return keep
        stride += 1


def _encode(png: bytes, image_format: str) -> tuple[bytes, str]:
    """Re-encode a frame for the site: lossless WebP (the same pixels, about a third of
    matplotlib's PNG), or the PNG as it is.

    WebP's effort settings (method 1, quality 25) were measured on the panels: 16 KB a frame in
    about 30 ms, where method 4 saves 3% and takes three times as long; a 256-colour palette PNG
    is smaller (12 KB) but not the same pixels and no faster."""
    if image_format == "png":
        return png, ".png"
    import io

    from PIL import Image, features

    if image_format != "webp" or not features.check("webp"):
        raise ValueError(f"image_format must be 'webp' (with Pillow's WebP support) or 'png', "
                         f"got {image_format!r}")
    with Image.open(io.BytesIO(png)) as im:
        buf = io.BytesIO()
        im.convert("RGB").save(buf, "WEBP", lossless=True, method=1, quality=25)
    return buf.getvalue(), ".webp"


def _image_size(png: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        return im.size


def _jsonable(value: Any):
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return _jsonable(value.item())
    except ImportError:
        pass
    return str(value)


def frame_combinations(positions: list, grid_limit: int = 256) -> tuple[str, list[tuple]]:
    """Which combinations of control positions to record: the whole grid when it holds at most
    ``grid_limit`` frames ("grid"), else each control through its positions with the others at
    their start ("sweep"). Combinations are tuples of position indices, the start first."""
    start = tuple(p.start for p in positions)
    sizes = [len(p.values) for p in positions]
    if math.prod(sizes) <= grid_limit:
        combos = list(itertools.product(*(range(n) for n in sizes)))
        combos.remove(start)
        return "grid", [start, *combos]
    combos = [start]
    for i, n in enumerate(sizes):
        combos += [start[:i] + (j,) + start[i + 1:] for j in range(n) if j != start[i]]
    return "sweep", combos


def record_frames(panel: Panel, folder, limit: int = 64, grid_limit: int = 256,
                  image_format: str = "webp") -> dict:
    """Record ``panel``'s figure at every combination :func:`frame_combinations` picks.

    Writes each distinct picture once to ``folder`` (named by its SHA-256, so identical frames
    share a file) and ``folder/index.json``: the controls (kind, label, readout labels, values,
    start), and per combination ("i,j,..." position indices in control order) the image file,
    the status line and the alt text. The controls themselves are not touched. The start
    combination is drawn again at the end: ``deterministic`` says whether it came out the same
    (a panel whose picture depends on its history cannot be replayed from frames).
    Returns the index, with the distinct series of the figures under ``series``.
    """
    import json

    started = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    keys = list(panel.controls)
    positions = [control_positions(panel.controls[k], limit) for k in keys]
    mode, combos = frame_combinations(positions, grid_limit)
    frames: dict = {}
    series: dict = {}
    files: set = set()

    def values_at(combo):
        return {k: p.values[i] for k, p, i in zip(keys, positions, combo)}

    first = None
    for combo in combos:
        frame = panel.render(series=True, **values_at(combo))
        data, ext = _encode(frame.png, image_format)
        name = hashlib.sha256(data).hexdigest()[:20] + ext
        if name not in files:
            (folder / name).write_bytes(data)
            files.add(name)
        frames[",".join(map(str, combo))] = {"image": name, "status": frame.status, "alt": frame.alt}
        series.setdefault(json.dumps(frame.series, sort_keys=True), frame.series)
        if first is None:
            first = frame
    again = panel.render(**values_at(combos[0]))
    width, height = _image_size(first.png)
    index = {
        "name": panel.name,
        "model_id": getattr(panel.widget, "model_id", None),
        "mode": mode,
        "controls": [{"key": k, "kind": p.kind, "label": p.label, "labels": p.labels,
                      "values": [_jsonable(v) for v in p.values], "start": p.start, "total": p.total}
                     for k, p in zip(keys, positions)],
        "start": ",".join(str(p.start) for p in positions),
        "width": width, "height": height,
        "area_height": getattr(panel.output.layout, "height", None),
        "frames": frames,
        "files": len(files),
        "bytes": sum((folder / f).stat().st_size for f in files),
        "deterministic": again.png == first.png and again.status == first.status,
        "seconds": round(time.perf_counter() - started, 2),
    }
    (folder / "index.json").write_text(json.dumps(index, ensure_ascii=False, separators=(",", ":")),
                                       encoding="utf-8")
    index["series"] = list(series.values())
    return index

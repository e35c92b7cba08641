"""Words for a figure: the alt text a screen reader reads, and the series a reader must tell apart.

Both are read from the matplotlib figure itself (titles, axis labels, legend entries, the
artists' colours and styles), so they follow the figure when a panel redraws it. The reading
site (``tools/site/build.py``) puts :func:`describe_figure` into every image's ``alt``, and checks
:func:`figure_series` with :func:`r1lib.figures.style.colour_blind_conflicts`; a
:class:`r1lib.figures.panels.Panel` attaches the description to each image it shows.
"""
from __future__ import annotations

import re
from typing import Any

__all__ = ["describe_figure", "figure_series", "plain_text"]

_GREEK = {name: chr(code) for name, code in (
    ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("epsilon", 0x3B5),
    ("varepsilon", 0x3B5), ("theta", 0x3B8), ("lambda", 0x3BB), ("mu", 0x3BC), ("pi", 0x3C0),
    ("rho", 0x3C1), ("sigma", 0x3C3), ("tau", 0x3C4), ("phi", 0x3C6), ("chi", 0x3C7),
    ("omega", 0x3C9), ("Delta", 0x394), ("Sigma", 0x3A3), ("Pi", 0x3A0))}
_SYMBOLS = {r"\|": "‖", r"\,": " ", r"\;": " ", r"\!": "", r"\ ": " ", r"\cdot": "·", r"\times": "×",
            r"\leq": "≤", r"\geq": "≥", r"\le": "≤", r"\ge": "≥", r"\approx": "≈", r"\to": "→",
            r"\infty": "∞", r"\sqrt": "√", r"\log": "log", r"\ln": "ln", r"\exp": "exp"}
_SUPERSCRIPT = str.maketrans("0123456789+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻")
_MAX_SERIES_NAMED = 12
_MAX_CATEGORIES = 12


def plain_text(label: str) -> str:
    """A label as a screen reader should read it: matplotlib's mathtext (``$T^2\\,KL$``) turned
    into plain Unicode (``T² KL``), whitespace collapsed."""
    text = re.sub(r"-\n\s*", "-", str(label))  # a label wrapped after a hyphen reads as one word
    if "$" in text:
        text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", text)
        text = re.sub(r"\\(?:mathdefault|mathrm|mathbf|mathit|mathsf|mathtt|text|operatorname)\{([^{}]*)\}", r"\1", text)
        for tex, uni in sorted(_SYMBOLS.items(), key=lambda kv: -len(kv[0])):
            text = text.replace(tex, uni)
        text = re.sub(r"\\([A-Za-z]+)", lambda m: _GREEK.get(m.group(1), m.group(1)), text)
        text = re.sub(r"\^\{?([0-9+-]+)\}?", lambda m: m.group(1).translate(_SUPERSCRIPT), text)
        text = re.sub(r"\^\{([^{}]*)\}", r"^(\1)", text)
        text = re.sub(r"_\{([^{}]*)\}", r"_\1", text)
        text = text.replace("$", "").replace("{", "").replace("}", "")
    return " ".join(text.split())


def _is_colorbar(ax) -> bool:
    return getattr(ax, "_colorbar", None) is not None


def _visible_label(label: Any) -> str:
    label = "" if label is None else str(label)
    return "" if not label or label.startswith("_") else plain_text(label)


def _hex(rgba, background=(1.0, 1.0, 1.0)) -> str:
    """A colour as #rrggbb after alpha blending over the background (what the reader sees)."""
    from matplotlib.colors import to_hex, to_rgba

    r, g, b, a = to_rgba(rgba)
    blend = [a * c + (1 - a) * bg for c, bg in zip((r, g, b), background)]
    return to_hex(blend)


def _is_none_colour(colour) -> bool:
    from matplotlib.colors import to_rgba

    if isinstance(colour, str) and colour.lower() == "none":
        return True
    try:
        return to_rgba(colour)[3] == 0
    except ValueError:
        return True


def _line_series(line, background) -> dict | None:
    import numpy as np

    if not line.get_visible() or np.size(line.get_xdata()) == 0:
        return None
    style = line.get_linestyle()
    marker = str(line.get_marker())
    if style in ("None", "", " ", None):
        face = line.get_markerfacecolor()
        colour = line.get_markeredgecolor() if _is_none_colour(face) else face
        kind = f"marker {marker}"
    else:
        colour = line.get_color()
        kind = f"line {style} {marker if marker not in ('None', '', ' ') else ''}".strip()
    if _is_none_colour(colour):
        return None
    from matplotlib.colors import to_rgba

    rgba = to_rgba(colour, line.get_alpha())
    return {"label": _visible_label(line.get_label()), "kind": kind,
            "colour": _hex(rgba, background), "alpha": round(rgba[3], 3)}


def _patch_series(patch, label, background) -> dict | None:
    if not patch.get_visible():
        return None
    face = patch.get_facecolor()
    if patch.get_fill() and not _is_none_colour(face):
        return {"label": label, "kind": "area", "colour": _hex(face, background), "alpha": round(face[3], 3)}
    edge = patch.get_edgecolor()
    if _is_none_colour(edge):
        return None
    return {"label": label, "kind": "outline", "colour": _hex(edge, background), "alpha": round(edge[3], 3)}


def _collection_series(coll, background) -> list[dict]:
    import numpy as np
    from matplotlib.collections import LineCollection, PathCollection

    if not coll.get_visible() or coll.get_array() is not None:  # colour-mapped: a colour scale
        return []
    label = _visible_label(coll.get_label())
    if isinstance(coll, LineCollection):
        colours, kind = coll.get_edgecolor(), "line -"
    else:
        faces = coll.get_facecolor()
        filled = len(faces) and not all(f[3] == 0 for f in faces)
        colours = faces if filled else coll.get_edgecolor()
        kind = ("marker" if isinstance(coll, PathCollection) else "area") if filled else "outline"
    unique = {(_hex(c, background), round(float(c[3]), 3)) for c in np.atleast_2d(colours)} if len(colours) else set()
    if len(unique) > _MAX_SERIES_NAMED:  # a gradient of colours, not series
        return []
    return [{"label": label, "kind": kind, "colour": c, "alpha": a} for c, a in sorted(unique)]


def figure_series(fig) -> list[dict]:
    """Every series drawn in ``fig``, as ``{"axes", "label", "kind", "colour", "alpha"}`` dicts.

    A series is a line, a set of markers, a bar set, a filled area or a legend entry.
    ``colour`` is the colour the reader sees (blended over the axes background by its ``alpha``,
    #rrggbb);
    ``kind`` says what else tells series apart ("line -- o": a dashed line with circles, "area",
    "marker o", ...): two series of the same kind are told apart by colour alone. Colour-mapped
    artists (images, scatter plots with a colour scale) and colour bars are left out: their
    colour scale is a different question. Duplicates (same axes, kind, colour and label) appear
    once.
    """
    from matplotlib.container import BarContainer

    out: list[dict] = []
    seen: set = set()

    def add(ax_index, item):
        if item is None:
            return
        key = (ax_index, item["kind"], item["colour"], item["label"])
        if key not in seen:
            seen.add(key)
            out.append({"axes": ax_index, **item})

    for i, ax in enumerate(fig.axes):
        if _is_colorbar(ax) or not ax.get_visible():
            continue
        background = _rgb(ax.get_facecolor())
        for line in ax.get_lines():
            add(i, _line_series(line, background))
        in_container = set()
        for container in ax.containers:
            if isinstance(container, BarContainer):
                label = _visible_label(container.get_label())
                for patch in container.patches:
                    in_container.add(id(patch))
                    add(i, _patch_series(patch, label, background))
        for patch in ax.patches:
            if id(patch) not in in_container:
                add(i, _patch_series(patch, _visible_label(patch.get_label()), background))
        for coll in ax.collections:
            for item in _collection_series(coll, background):
                add(i, item)
        legend = ax.get_legend()
        if legend is not None:
            for handle, text in zip(legend.legend_handles, legend.get_texts()):
                add(i, _handle_series(handle, plain_text(text.get_text()), background))
    for legend in getattr(fig, "legends", []):
        for handle, text in zip(legend.legend_handles, legend.get_texts()):
            add(-1, _handle_series(handle, plain_text(text.get_text()), (1.0, 1.0, 1.0)))
    return out


def _rgb(colour) -> tuple:
    from matplotlib.colors import to_rgba

    r, g, b, a = to_rgba(colour)
    return (a * r + 1 - a, a * g + 1 - a, a * b + 1 - a)


def _handle_series(handle, label, background) -> dict | None:
    from matplotlib.collections import Collection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if handle is None:
        return None
    if isinstance(handle, Line2D):
        if handle.get_xdata() is None or len(handle.get_xdata()) == 0:
            handle = _with_point(handle)
        item = _line_series(handle, background)
    elif isinstance(handle, Patch):
        item = _patch_series(handle, label, background)
    elif isinstance(handle, Collection):
        items = _collection_series(handle, background)
        item = items[0] if len(items) == 1 else None
    else:
        item = None
    if item is not None:
        item["label"] = label
    return item


def _with_point(line):
    """A legend handle without data (a proxy artist): a copy with one point, to read its style."""
    from matplotlib.lines import Line2D

    copy = Line2D([0], [0])
    copy.update_from(line)
    return copy


# ------------------------------------------------------------------------------ alt text

def _axes_words(ax) -> str:
    titles = [plain_text(ax.get_title(loc)) for loc in ("left", "center", "right")]
    title = " / ".join(t for t in titles if t)
    parts = []
    if title:
        parts.append(f"“{title}”")
    if ax.get_images():
        parts.append("an image")
    for name, axis, label in (("x", ax.xaxis, ax.get_xlabel()), ("y", ax.yaxis, ax.get_ylabel())):
        label, categories = plain_text(label), _categories(axis, top_down=name == "y")
        if label or categories:
            parts.append(f"{name}: {label or 'categories'}" + (f" ({categories})" if categories else ""))
    legend = ax.get_legend()
    heading = plain_text(legend.get_title().get_text()) if legend is not None else ""
    if heading:  # a legend's title often says what the plot is (no axes title above it)
        parts.append(f"legend “{heading}”")
    names = _series_names(ax)
    if names:
        shown = names[:_MAX_SERIES_NAMED]
        more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
        parts.append("series: " + ", ".join(shown) + more)
    if not parts or (not ax.axison and not names):  # a plot made of text (a verdict, a table)
        words = _texts(ax.texts)
        if words:
            parts.append(f"text “{words}”")
    return "; ".join(parts)


def _texts(texts, limit: int = 300) -> str:
    """The visible texts, in drawing order, as one line (cut at ``limit`` characters)."""
    words = [plain_text(t.get_text()) for t in texts if t.get_visible() and str(t.get_text()).strip()]
    joined = " · ".join(w for w in words if w)
    return joined if len(joined) <= limit else joined[:limit].rstrip() + "…"


def _categories(axis, top_down: bool = False) -> str:
    """Tick labels that are words (a bar chart's categories, tokens), not numbers, on ``axis``;
    with ``top_down`` (a y axis) in the order a reader meets them, from the top."""
    from matplotlib.category import StrCategoryFormatter
    from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter

    # Only fixed or categorical ticks can be words; asking a numeric axis for its tick labels
    # would lay the ticks out (milliseconds per redraw) to find numbers. ``set_xticks(ticks,
    # labels)`` gives a FixedLocator with a FuncFormatter (matplotlib >= 3.5) or a FixedFormatter.
    formatter = axis.get_major_formatter()
    fixed = isinstance(formatter, (FixedFormatter, StrCategoryFormatter)) or (
        isinstance(formatter, FuncFormatter) and isinstance(axis.get_major_locator(), FixedLocator))
    if not fixed:
        return ""
    ticks = sorted((t.get_position()[1 if top_down else 0], plain_text(t.get_text()))
                   for t in axis.get_ticklabels())
    labels = [text for _, text in ticks if text]
    if top_down and not axis.axes.yaxis_inverted():
        labels.reverse()
    if not labels or all(re.fullmatch(r"[−\-+]?[\d.,]+(e[−\-+]?\d+)?%?|10[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", t) for t in labels):
        return ""
    shown = labels[:_MAX_CATEGORIES]
    sep = "; " if any("," in t for t in shown) else ", "  # labels that hold commas stay apart
    return sep.join(shown) + (f"{sep}…" if len(labels) > len(shown) else "")


def _series_names(ax) -> list[str]:
    legend = ax.get_legend()
    if legend is not None:
        names = [plain_text(t.get_text()) for t in legend.get_texts()]
    else:
        names = []
        for artist in [*ax.get_lines(), *ax.containers, *ax.collections]:
            label = _visible_label(artist.get_label())
            if label:
                names.append(label)
    return list(dict.fromkeys(n for n in names if n))


def describe_figure(fig) -> str:
    """Alt text for ``fig``: its title, then per plot its title, axes and series.

    Example: ``Two plots. Left: “Teacher's soft labels at T = 1”; x: class (cat, dog); y: teacher
    probability; series: uniform 1/K. Right: “Entropy grows with T”; x: temperature T (log
    scale); y: entropy (nats); series: entropy H(T), current T.``
    """
    axes = [ax for ax in fig.axes if ax.get_visible() and not _is_colorbar(ax)]
    bars = [plain_text(ax.get_ylabel() or ax.get_xlabel()) for ax in fig.axes if _is_colorbar(ax)]
    sup = getattr(fig, "_suptitle", None)
    head = plain_text(sup.get_text()) if sup is not None and sup.get_visible() else ""
    words = [_axes_words(ax) for ax in axes]
    count = len(axes)
    lines = []
    if head:
        lines.append(f"Figure “{head}”.")
    if count == 0:
        lines.append("An empty figure.")
    elif count == 1:
        lines.append(f"Plot: {words[0] or 'no labels'}.")
    else:
        names, order = _positions(axes)
        described = [(names[i], words[i]) for i in order if words[i]]  # in reading order
        same = len(described) > 1 and len({w for _, w in described}) == 1
        if same:
            lines.append(f"{_number(count)} plots, each {described[0][1]}.")
        else:
            lines.append(f"{_number(count)} plots.")
            lines += [f"{n}: {w}." for n, w in described]
    legend_words = []
    for legend in getattr(fig, "legends", []):
        legend_words += [plain_text(t.get_text()) for t in legend.get_texts()]
    if legend_words:
        lines.append("Legend: " + ", ".join(dict.fromkeys(w for w in legend_words if w)) + ".")
    if any(bars):
        lines.append("Colour scale: " + ", ".join(b for b in bars if b) + ".")
    return " ".join(lines)


def _number(n: int) -> str:
    return ["No", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight"][n] if n < 9 else str(n)


def _positions(axes) -> tuple[list[str], list[int]]:
    """Where each plot sits: 'Left'/'Right' for a row of two, 'Top'/'Bottom' for a column,
    otherwise 'Plot 1', 'Plot 2', ... in reading order; and the axes' indices in reading order."""
    boxes = [ax.get_position() for ax in axes]
    if len(axes) == 2:
        (a, b) = boxes
        # side by side (even of different heights, e.g. a plot beside a block of text), or stacked
        if a.x1 <= b.x0 + 0.01 or b.x1 <= a.x0 + 0.01 or abs(a.y0 - b.y0) < 0.05:
            return (["Left", "Right"], [0, 1]) if a.x0 <= b.x0 else (["Right", "Left"], [1, 0])
        if a.y1 <= b.y0 + 0.01 or b.y1 <= a.y0 + 0.01 or abs(a.x0 - b.x0) < 0.05:
            return (["Top", "Bottom"], [0, 1]) if a.y0 >= b.y0 else (["Bottom", "Top"], [1, 0])
    order = sorted(range(len(axes)), key=lambda i: (-round(boxes[i].y1, 2), boxes[i].x0))
    names = [""] * len(axes)
    for rank, i in enumerate(order):
        names[i] = f"Plot {rank + 1}"
    return names, order

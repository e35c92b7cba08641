"""From a model's raw output to a gradable answer: extraction and normalisation.

DeepSeek-R1 writes its reasoning inside ``<think> ... </think>`` and its final answer after it,
conventionally in ``\\boxed{...}``. Grading takes two steps, both here:

1. :func:`extract_answer` finds the final answer text (the last ``\\boxed{...}`` or
   ``\\fbox{...}`` after the reasoning block, braces matched by counting, not by a regex), or
   ``None`` when the output has no usable answer. It never raises on a string.
2. :func:`normalize_answer` maps equivalent spellings to one hashable value, so that voting and
   grading compare answers, not strings: ``"0.5"``, ``"1/2"``, ``"\\frac{1}{2}"``, ``"\\dfrac12"``
   and ``"\\boxed{1/2}"`` all become ``Fraction(1, 2)``. Numbers become exact
   :class:`fractions.Fraction` values; everything else becomes a canonical string.

``None`` means "no answer": :func:`r1lib.majority_vote` and :func:`r1lib.maj_at_k` never let it win,
and :func:`is_correct` never counts it as correct.
"""
from __future__ import annotations

import numbers
import re
from collections.abc import Hashable
from fractions import Fraction
from functools import lru_cache
from typing import Any, Optional

from ._validation import _describe

__all__ = ["extract_answer", "normalize_answer", "parse_answer", "is_correct"]

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
# Numbers longer than this stay strings: int() refuses > 4300 digits (CPython >= 3.11) and a
# huge exponent would build a giant integer; no benchmark answer is that long.
_MAX_NUMBER_CHARS = 200
_MAX_EXPONENT = 400
# Real final answers are short (a matrix is a few hundred characters). Longer "answers" are
# returned stripped but otherwise as written, which keeps the clean-ups (some quadratic in the
# nesting depth) from being a denial of service on adversarial text.
_MAX_ANSWER_CHARS = 1000


def _check_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_describe(value)}")
    return value


def _braced(text: str, start: int) -> Optional[int]:
    """Index just past the ``}`` that closes the ``{`` at ``text[start]``, or None if it never closes.

    A backslash escapes the next character, so ``\\{`` and ``\\}`` are literal braces and do not
    count, while in ``\\\\}`` the brace does count (``\\\\`` is a LaTeX line break).
    """
    depth = 0
    i, n = start, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _box_argument(text: str, end_of_macro: int) -> tuple[Optional[str], int]:
    """The argument of a ``\\boxed`` whose name ends at ``end_of_macro``, and where it ends.

    ``\\boxed{...}`` (optionally with spaces before the brace) gives the balanced brace content;
    ``\\boxed 42`` (the MATH dataset's space form) gives the run up to the next space or ``$``.
    Anything else (end of text, an unclosed brace) gives ``None``.
    """
    i, n = end_of_macro, len(text)
    while i < n and text[i].isspace():
        i += 1
    if i < n and text[i] == "{":
        close = _braced(text, i)
        if close is None:
            return None, n  # unbalanced: the rest of the text is swallowed by this box
        return text[i + 1:close - 1], close
    if i > end_of_macro and i < n:  # "\boxed 42"
        j = i
        while j < n and not text[j].isspace() and text[j] != "$":
            j += 1
        return text[i:j], j
    return None, i


def _last_box(text: str) -> Optional[str]:
    """Content of the last top-level box in ``text`` (boxes inside a box are part of its content).

    ``None`` when there is no box or the last one is malformed (unclosed brace, no argument): a
    broken final box is a broken final answer, not a reason to fall back to an earlier box.
    """
    pos, last, found = 0, None, False
    while True:
        match = _BOX.search(text, pos)
        if match is None:
            return last if found else None
        found = True
        last, pos = _box_argument(text, match.end())


def extract_answer(text: str) -> Optional[str]:
    r"""The final answer of a model output: the content of its last ``\boxed{...}``, or None.

    Rules, in order:

    - If the output contains ``</think>``, only the text after the last ``</think>`` is searched
      (a box inside the reasoning is a draft, not the answer). If it opens ``<think>`` but never
      closes it, the reasoning was cut off and there is no answer: ``None``.
    - The last top-level ``\boxed{...}`` or ``\fbox{...}`` wins. Its braces are matched by
      counting, so nested groups (``\boxed{\frac{1}{2}}``) and escaped braces
      (``\boxed{\{1,2\}}``) work. The MATH dataset's space form ``\boxed 42`` is accepted.
    - No box, an unclosed last box or an empty box (only spaces) gives ``None``.

    Parameters
    ----------
    text : str
        One raw model output. Any string is accepted; non-strings raise TypeError.

    Returns
    -------
    str or None
        The boxed content with surrounding whitespace stripped, or ``None`` for "no answer".
    """
    _check_str(text, "text")
    if _THINK_CLOSE in text:
        text = text[text.rindex(_THINK_CLOSE) + len(_THINK_CLOSE):]
    elif _THINK_OPEN in text:
        return None
    content = _last_box(text)
    if content is None:
        return None
    content = content.strip()
    return content or None


# --- normalisation -----------------------------------------------------------------------------

_WRAPPERS = ("text", "textbf", "textit", "textrm", "mathrm", "mathbf", "mbox", "operatorname")
_WRAPPER = re.compile(r"\\(?:" + "|".join(_WRAPPERS) + r")(?![A-Za-z])\s*(?=\{)")
# Spacing commands become a plain space (then handled like any whitespace, below).
_SPACING = re.compile(r"\\(?:quad|qquad)(?![A-Za-z])|\\[!,;: ]|~")
_DROP = re.compile(
    r"\\(?:left|right)(?![A-Za-z])\.?"                        # \left( ... \right), null "\left."
    r"|\\displaystyle(?![A-Za-z])"
    r"|\\[()\[\]]"                                           # math delimiters \( \) \[ \]
    r"|\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|°"      # degrees
    r"|\\?%|\\?\$")                                          # percent and dollar signs
# Whitespace goes, except where it ends a command word before a letter: "\pi r" must not
# become the different command "\pir".
_SPACE = re.compile(r"(\\[A-Za-z]+)\s+(?=[A-Za-z])|\s+")
_FRAC_NAME = re.compile(r"\\[dt]frac(?![A-Za-z])")
_FRAC_SHORT = re.compile(r"\\frac(?:(\d)|\{([^{}]*)\})(?:(\d)|\{([^{}]*)\})")
_SQRT_SHORT = re.compile(r"\\sqrt(\d)")
_VARIABLE = re.compile(r"^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?$")
_CHOICE = re.compile(r"^\(([A-Za-z])\)$")
_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = re.compile(rf"^[+-]?{_NUM}$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_SLASH = re.compile(rf"^([+-]?)({_NUM})/([+-]?{_NUM})$")
_FRAC_FULL = re.compile(rf"^([+-]?)\\frac\{{([+-]?{_NUM})\}}\{{([+-]?{_NUM})\}}$")


def _unwrap(text: str) -> str:
    """``\\text{abc}`` -> ``abc`` (and the other wrappers), nested groups included."""
    while True:
        match = _WRAPPER.search(text)
        if match is None:
            return text
        open_at = match.end()
        close = _braced(text, open_at)
        if close is None:  # unclosed wrapper: drop the command name, keep the rest as written
            return text[:match.start()] + text[open_at:]
        text = text[:match.start()] + text[open_at + 1:close - 1] + text[close:]


def _strip_outer_braces(text: str) -> str:
    while len(text) >= 2 and text[0] == "{" and _braced(text, 0) == len(text):
        text = text[1:-1]
    return text


def _number(token: str) -> Optional[Fraction]:
    """An exact value for a plain decimal / scientific number, or None if out of bounds."""
    if len(token) > _MAX_NUMBER_CHARS:
        return None
    mantissa, _, exponent = token.lower().partition("e")
    if exponent and abs(int(exponent)) > _MAX_EXPONENT:
        return None
    return Fraction(token)


def _to_fraction(text: str) -> Optional[Fraction]:
    if len(text) > 3 * _MAX_NUMBER_CHARS:
        return None
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    if _NUMBER.match(text):
        return _number(text)
    parts = _SLASH.match(text) or _FRAC_FULL.match(text)
    if parts is None:
        return None
    sign, num, den = parts.groups()
    a, b = _number(num), _number(den)
    if a is None or b is None or b == 0:
        return None
    value = a / b
    return -value if sign == "-" else value


def _clean_once(text: str) -> Optional[str]:
    """One pass of the clean-ups; None when a malformed box leaves no answer."""
    # A boxed answer counts as its content (repeatedly, for \boxed{\boxed{...}}).
    while _BOX.search(text):
        inner = _last_box(text)
        if inner is None:
            return None
        text = inner.strip()
    text = text.replace("\u2212", "-").replace("{,}", ",")
    text = _unwrap(text)
    text = _SPACING.sub(" ", text)
    text = _DROP.sub("", text)
    text = _SPACE.sub(lambda m: m.group(1) + " " if m.group(1) else "", text)
    text = _FRAC_NAME.sub(r"\\frac", text)
    text = _FRAC_SHORT.sub(lambda m: "\\frac{%s}{%s}" % (m.group(1) or m.group(2),
                                                          m.group(3) or m.group(4)), text)
    text = _SQRT_SHORT.sub(r"\\sqrt{\1}", text)
    text = _strip_outer_braces(text.rstrip("."))
    if text.count("=") == 1:  # "x=5" -> "5"; a lone variable name on the left only
        left, right = text.split("=")
        if _VARIABLE.match(left) and right:
            text = right
    return _CHOICE.sub(r"\1", text)


@lru_cache(maxsize=16384)
def _normalize(text: str) -> Optional[Hashable]:
    # Repeat the clean-ups until nothing changes (each pass can expose work for another, as in
    # "{x=5}"), so that a canonical string is a fixed point. Passes only shorten the text or
    # expand \frac12 / \sqrt2 once, so a handful of passes suffices; the cap is a safety net.
    if len(text) > _MAX_ANSWER_CHARS:
        return text.strip()
    previous: Optional[str] = None
    for _ in range(32):
        if text == previous:
            break
        previous, cleaned = text, _clean_once(text.strip())
        if cleaned is None:
            return None
        text = cleaned
    if not text:
        return None
    value = _to_fraction(text)
    return text if value is None else value


def normalize_answer(answer: Optional[str]) -> Optional[Hashable]:
    r"""A canonical, hashable form of an answer, so that equivalent spellings compare equal.

    Numbers become exact :class:`fractions.Fraction` values: integers, decimals (``"0.50"``),
    scientific notation, thousands separators (``"1,000"``, ``"1{,}000"``), ``a/b`` and
    ``\frac{a}{b}`` (also ``\dfrac``, ``\tfrac``, ``\frac12``) with a leading sign. Hence
    ``"0.5" == "1/2" == "\frac{1}{2}" == "\boxed{1/2}"`` after normalisation, and ``Fraction(3)``
    equals and hashes like the ``int`` 3. The value is exact: ``"0.333"`` is *not* ``1/3``.

    Everything else becomes a canonical string, after these clean-ups: the content of a
    ``\boxed{}``; ``\text{}``-like wrappers unwrapped; ``$``, ``\left``/``\right``, thin spaces,
    math delimiters, all whitespace and a trailing period removed; degree signs and percent signs
    removed (the MATH convention: ``"50\%"`` grades like ``"50"``); ``\sqrt2`` -> ``\sqrt{2}``;
    a leading ``x =`` dropped; ``"(B)"`` -> ``"B"``. Units are not removed and case is kept
    (``x`` and ``X`` may differ in mathematics). Answers longer than 1000 characters are only
    stripped (no real final answer is that long; this bounds the work on adversarial text).

    Parameters
    ----------
    answer : str or None
        An extracted answer (or a gold answer). ``None`` passes through as ``None``.

    Returns
    -------
    fractions.Fraction, str or None
        ``None`` when nothing is left (``""``, ``"$ $"``, a malformed ``\boxed{``).

    Raises
    ------
    TypeError
        If ``answer`` is neither a str nor None.
    """
    if answer is None:
        return None
    return _normalize(_check_str(answer, "answer"))


def parse_answer(text: str) -> Optional[Hashable]:
    """``normalize_answer(extract_answer(text))``: raw model output -> comparable answer or None."""
    return normalize_answer(extract_answer(text))


def is_correct(text: str, gold: Any) -> bool:
    """Whether a raw model output's final answer is equivalent to ``gold``.

    ``gold`` may be a string (normalised the same way), an integer or a Fraction. An output with no
    answer is never correct. Raises ValueError when ``gold`` itself normalises to no answer.
    """
    if isinstance(gold, bool) or not isinstance(gold, (str, numbers.Rational)):
        raise TypeError(f"gold must be a str, an integer or a Fraction, got {_describe(gold)}")
    gold_value = normalize_answer(gold) if isinstance(gold, str) else Fraction(gold)
    if gold_value is None:
        raise ValueError(f"gold has no answer after normalisation: {_describe(gold)}")
    answer = parse_answer(text)
    return answer is not None and answer == gold_value

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
and :func:`r1lib.is_correct` never counts it as correct.

``extract_answer(text, lenient=True)`` is how the builtin grader reads an output: it also reads
R1-Zero's ``<answer>...</answer>`` template, several boxes given as one answer, and outputs with no
box at all ("the final answer is ...", the last ``$...$``); :func:`builtin_grade` is that grader.
:func:`r1lib.is_correct` (in :mod:`r1lib.grading.graders`) picks a grader: this module's
(``"builtin"``, no sympy), Hugging Face's math-verify (``"math-verify"``), or the best one
installed (``"auto"``).
"""
from __future__ import annotations

import numbers
import re
from collections.abc import Hashable
from fractions import Fraction
from functools import lru_cache
from typing import Any, Optional

from ..validation import describe

__all__ = ["extract_answer", "normalize_answer", "parse_answer", "builtin_grade", "gold_value",
           "after_reasoning", "check_str", "GRADERS"]

GRADERS = ("auto", "math-verify", "builtin")

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


def check_str(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {describe(value)}")
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


def _boxes(text: str) -> tuple[list[tuple[int, int, Optional[str]]], bool]:
    """Every top-level box of ``text`` as ``(start, end, content)``, and whether the last is broken.

    Boxes inside a box are part of its content. A malformed box (unclosed brace, no argument) has
    content ``None``; an unclosed one swallows the rest of the text, so it is always the last.
    """
    found: list[tuple[int, int, Optional[str]]] = []
    pos = 0
    while True:
        match = _BOX.search(text, pos)
        if match is None:
            return found, bool(found) and found[-1][2] is None
        content, pos = _box_argument(text, match.end())
        found.append((match.start(), pos, content))


def _last_box(text: str) -> Optional[str]:
    """Content of the last top-level box in ``text`` (boxes inside a box are part of its content).

    ``None`` when there is no box or the last one is malformed (unclosed brace, no argument): a
    broken final box is a broken final answer, not a reason to fall back to an earlier box.
    """
    found, _ = _boxes(text)
    return found[-1][2] if found else None


def after_reasoning(text: str) -> Optional[str]:
    """The text after the last ``</think>``; None when ``<think>`` opens and never closes."""
    if _THINK_CLOSE in text:
        return text[text.rindex(_THINK_CLOSE) + len(_THINK_CLOSE):]
    if _THINK_OPEN in text:
        return None
    return text


_ANSWER_OPEN, _ANSWER_CLOSE = "<answer>", "</answer>"
# What may stand between two boxes that together are one answer: "\boxed{1}, \boxed{2}",
# "$\boxed{1}$ and $\boxed{2}$", "\boxed{1} or \boxed{2}", "x = \boxed{1}$ and $x = \boxed{2}". Any other text between them means the
# later box revises the earlier one ("\boxed{3}. Wait, that is wrong: \boxed{4}").
_BOX_JOINER = re.compile(r"^[\s$,;]*(?:(?:and|or|\\text\{\s*(?:and|or)\s*\}|\\quad|\\qquad)[\s$,;]*)?"
                         r"(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?$")  # "... and $x = \boxed{2}$"
_PHRASE = re.compile(r"(?:final\s+answer|the\s+answer|answer)\s*\**\s*(?:is|:|=)\s*\**\s*:?\s*",
                     re.IGNORECASE)
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$(.+?)(?<!\\)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n")
# The no-box fallbacks look at the end of the output only: the final answer is there, and it
# bounds the work of the lazy regular expressions on adversarial text.
_TAIL_CHARS = 4000
_BARE_CHARS = 40  # the longest whole final part read as a bare number


def _math_span(text: str, last: bool) -> Optional[str]:
    """The content of the first (or last) ``$...$``, ``$$...$$``, ``\\(...\\)`` or ``\\[...\\]``."""
    chosen = None
    for match in _MATH_SPAN.finditer(text):
        chosen = next(g for g in match.groups() if g is not None)
        if not last:
            break
    return chosen


def _lenient(segment: str, from_tag: bool) -> Optional[str]:
    found, broken = _boxes(segment)
    if found:
        if broken:
            return None
        # Several boxes: the last one, together with the boxes just before it that are joined to
        # it by only ",", ";", "and", "or" or spaces (a multi-part answer, compared as a list).
        parts = [found[-1][2]]
        for (_, end, content), (start, _, _) in zip(found[-2::-1], found[:0:-1]):
            if content is None or not _BOX_JOINER.match(segment[end:start]):
                break  # a malformed earlier box ("\boxed\boxed{1}") is not part of the answer
            parts.append(content)
        parts = [p.strip() for p in reversed(parts) if p.strip()]
        return ", ".join(parts) or None
    tail = segment[-_TAIL_CHARS:]
    phrases = list(_PHRASE.finditer(tail))
    if phrases:
        rest = tail[phrases[-1].end():]
        if rest.startswith(("$", "\\(", "\\[")):
            span = _math_span(rest, last=False)
            if span is not None and span.strip():
                return span.strip()
        cut = _SENTENCE_END.search(rest)
        answer = (rest[:cut.start()] if cut else rest).strip().strip("*").strip()
        if answer:
            return answer
    span = _math_span(tail, last=True)
    if span is not None and span.strip():
        return span.strip()
    whole = segment.strip()
    if from_tag:
        return whole or None
    # A bare number as the whole final part ("7,425,000", "28 percent", "\frac{10}{9}"): the
    # answer. Only numbers, so that "I am not sure." stays "no answer".
    if 0 < len(whole) <= _BARE_CHARS and "\n" not in whole \
            and isinstance(normalize_answer(whole), Fraction):
        return whole
    return None


def extract_answer(text: str, *, lenient: bool = False) -> Optional[str]:
    r"""The final answer of a model output: the content of its last ``\boxed{...}``, or None.

    Rules, in order:

    - If the output contains ``</think>``, only the text after the last ``</think>`` is searched
      (a box inside the reasoning is a draft, not the answer). If it opens ``<think>`` but never
      closes it, the reasoning was cut off and there is no answer: ``None``.
    - The last top-level ``\boxed{...}`` or ``\fbox{...}`` wins. Its braces are matched by
      counting, so nested groups (``\boxed{\frac{1}{2}}``) and escaped braces
      (``\boxed{\{1,2\}}``) work. The MATH dataset's space form ``\boxed 42`` is accepted.
    - No box, an unclosed last box or an empty box (only spaces) gives ``None``.

    With ``lenient=True`` (how the builtin grader reads outputs) the same reasoning rule applies,
    and then:

    - R1-Zero's template: if the rest contains ``<answer>``, only the content of the last
      ``<answer>...</answer>`` counts (an ``<answer>`` that never closes was cut off: ``None``).
    - Several boxes: the last box, together with the boxes right before it that are separated
      from it by nothing but spaces, ``$``, ``,``, ``;``, "and" or "or" (and a ``x =`` before
      the next box), joined as ``"a, b"``
      (``\boxed{1} and \boxed{2}`` answers "1, 2", which grades as an unordered list). Any other
      text between two boxes means the later one revises the earlier: the last box alone.
    - No box: the answer after the last "final answer is", "the answer is" or "Answer:" (its
      ``$...$`` if it starts with one, else up to the end of the sentence); failing that, the last
      ``$...$``, ``$$...$$``, ``\(...\)`` or ``\[...\]``; failing that, inside ``<answer>`` tags,
      the whole tag content, and otherwise the whole final part when it is one short line (at
      most 40 characters) that reads as a number ("7,425,000", "28 percent"). The fallbacks look
      at the last 4000 characters only.

    Parameters
    ----------
    text : str
        One raw model output. Any string is accepted; non-strings raise TypeError.
    lenient : bool, default False
        Also read ``<answer>`` tags, several boxes and box-less answers (see above).

    Returns
    -------
    str or None
        The answer with surrounding whitespace stripped, or ``None`` for "no answer".
    """
    check_str(text, "text")
    if not isinstance(lenient, bool):
        raise TypeError(f"lenient must be a bool, got {describe(lenient)}")
    segment = after_reasoning(text)
    if segment is None:
        return None
    if lenient:
        from_tag = _ANSWER_OPEN in segment
        if from_tag:
            start = segment.rindex(_ANSWER_OPEN) + len(_ANSWER_OPEN)
            close = segment.find(_ANSWER_CLOSE, start)
            if close < 0:
                return None
            segment = segment[start:close]
        return _lenient(segment, from_tag)
    content = _last_box(segment)
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
_FRAC_NAME = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_FRAC_SHORT = re.compile(r"\\frac(?:(\d)|\{([^{}]*)\})(?:(\d)|\{([^{}]*)\})")
_SQRT_SHORT = re.compile(r"\\sqrt(\d)")
_VARIABLE = re.compile(r"^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?[A-Za-z0-9]+\}?)?$")
_CHOICE = re.compile(r"^\(([A-Za-z])\)$")
_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = re.compile(rf"^[+-]?{_NUM}$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_NUMBER_START = frozenset("+-.0123456789\\")  # how the text of a number can start
_LETTER = re.compile(r"[A-Za-z]")
_WHITESPACE = re.compile(r"\s")
# A plain number, with or without thousands separators: no clean-up can change it.
_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_SLASH = re.compile(rf"^([+-]?)({_NUM})/([+-]?{_NUM})$")
_FRAC_FULL = re.compile(rf"^([+-]?)\\frac\{{([+-]?{_NUM})\}}\{{([+-]?{_NUM})\}}$")


# Percent and unit words after a number go, as "\%" and "^\circ" do (the MATH convention: the
# question fixes the unit). Multi-letter words may touch the number ("5cm"); the single letters
# m, s, g only count after a space ("5 m"), since "5m" may as well be 5 times m.
_UNIT_WORDS = (
    r"per\s*cent|percent(?:age)?|pct|degrees?|deg|radians?|rad|dollars?|cents?|euros?|units?"
    r"|(?:milli|centi|kilo)?met(?:er|re)s?|[ckm]m|inch(?:es)?|in|feet|foot|ft|yards?|yd|miles?|mi"
    r"|hours?|hrs?|minutes?|mins?|seconds?|secs?|days?|weeks?|months?|years?"
    r"|(?:kilo)?grams?|kg|pounds?|lbs?|ounces?|oz|lit(?:er|re)s?|ml|gallons?|mph|km/h")
_UNIT = re.compile(
    r"(?:(?<=[\d}.])\s*(?:(?:square|sq\.?|cubic)\s*)?(?:" + _UNIT_WORDS + r")"
    r"|(?<=[\d}.])\s+[msg])(?:\s*\^\s*\{?[23]\}?)?\s*\.?\s*$", re.IGNORECASE)
# Brackets and separators for answers with several parts.
_OPENERS, _CLOSERS = "([{", ")]}"


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
    if _INTEGER.match(token):  # speed: int() is ~10x faster than Fraction's string parser
        return Fraction(int(token))
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
    # Speed: each substitution runs only when the characters it needs are there (every pattern
    # below but the unit words and whitespace needs a backslash, "~", "%", "$" or the degree sign).
    backslash = "\\" in text
    if backslash:
        text = _unwrap(text)
    if backslash or "~" in text:
        text = _SPACING.sub(" ", text)
    if backslash or "%" in text or "$" in text or "\u00b0" in text:
        text = _DROP.sub("", text)
    if _LETTER.search(text):
        text = _UNIT.sub("", text)
    if _WHITESPACE.search(text):
        text = _SPACE.sub(lambda m: m.group(1) + " " if m.group(1) else "", text)
    if backslash:
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


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at the ``sep`` that are outside every bracket (``()``, ``[]``, ``{}``, ``\\{\\}``).

    Brackets are counted by kind-blind depth, so half-open intervals ``[0,1)`` nest correctly.
    """
    parts, depth, last, i, n = [], 0, 0, 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\":
            nxt = text[i + 1:i + 2]
            if nxt in ("{", "}"):
                depth += 1 if nxt == "{" else -1
            elif depth == 0 and text.startswith(sep, i):
                parts.append(text[last:i])
                last = i + len(sep)
                i = last
                continue
            i += 2
            continue
        if ch in _OPENERS:
            depth += 1
        elif ch in _CLOSERS:
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[last:i])
            last = i + len(sep)
            i = last
            continue
        i += 1
    parts.append(text[last:])
    return parts


def _encloses(text: str, open_len: int, close_len: int) -> bool:
    """Whether the bracket opening ``text`` is closed by the one ending it (not earlier)."""
    inner = text[open_len:len(text) - close_len]
    depth = 0
    i = 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\":
            nxt = inner[i + 1:i + 2]
            depth += {"{": 1, "}": -1}.get(nxt, 0)
            i += 2
        else:
            depth += 1 if ch in _OPENERS else -1 if ch in _CLOSERS else 0
            i += 1
        if depth < 0:
            return False
    return depth == 0


def _as_text(value: Hashable) -> str:
    return str(value)  # Fraction(1, 2) -> "1/2", which normalises back to Fraction(1, 2)


_MAX_DEPTH = 8  # nested lists deeper than this stay as written (bounds the recursion)


def _structured(text: str, depth: int) -> Hashable:
    """Canonical form of an answer with parts: unions, sets, tuples, intervals, lists.

    - ``A \\cup B``: the parts canonicalised and sorted (a union does not depend on the order).
    - ``\\{a, b\\}``: a set; elements canonicalised and sorted.
    - ``(a, b)`` and ``[a, b)``-style tuples and intervals: order and brackets kept, elements
      canonicalised. One value in brackets, ``(5)`` or ``[5]``, is that value.
    - ``a, b`` with no brackets: a list of answers ("all solutions"), compared as a set. A comma
      between groups of three digits is a thousands separator and was read as a number before.
    """
    if depth >= _MAX_DEPTH:
        return text
    union = _split_top(text, "\\cup")
    if len(union) > 1:
        parts = [_normalize(u, depth + 1) for u in union]
        if any(p is None for p in parts):
            return text
        result = "\\cup".join(sorted(_as_text(p) for p in parts))
        return result if _clean_once(result) == result else text
    if text.startswith("\\{") and text.endswith("\\}") and _encloses(text, 2, 2):
        body, kind = text[2:-2], "set"
    elif len(text) >= 2 and text[0] in "([" and text[-1] in ")]" and _encloses(text, 1, 1):
        body, kind = text[1:-1], "tuple"
    else:
        body, kind = text, "list"
    items = _split_top(body, ",")
    if kind == "list" and len(items) < 2:
        return text
    parts = [_normalize(item, depth + 1) for item in items]
    if any(p is None for p in parts):
        return text
    if kind == "tuple" and len(parts) == 1:
        return parts[0]
    if kind == "tuple":
        result = text[0] + ",".join(_as_text(p) for p in parts) + text[-1]
    else:
        joined = ",".join(sorted(_as_text(p) for p in parts))
        result = "\\{" + joined + "\\}" if kind == "set" else joined
    # A canonical form must be a fixed point: joining odd parts can create text the clean-ups
    # would change again ("\\" + "," reads as the spacing command "\\,"); keep such text as is.
    return result if _clean_once(result) == result else text


@lru_cache(maxsize=65536)
def _normalize(text: str, depth: int = 0) -> Optional[Hashable]:
    # Repeat the clean-ups until nothing changes (each pass can expose work for another, as in
    # "{x=5}"), so that a canonical string is a fixed point. Passes only shorten the text or
    # expand \frac12 / \sqrt2 once, so a handful of passes suffices; the cap is a safety net.
    if len(text) > _MAX_ANSWER_CHARS:
        return text.strip()
    plain = text.strip()
    if len(plain) <= _MAX_NUMBER_CHARS and _PLAIN_NUMBER.match(plain):
        return _to_fraction(plain)  # speed: the common answer; the clean-ups cannot change it
    previous: Optional[str] = None
    for _ in range(32):
        if text == previous:
            break
        previous, cleaned = text, _clean_once(text.strip())
        if cleaned is None:
            return None
        text = cleaned
        if text[:1] in _NUMBER_START:
            # Speed: a pass that leaves a number ("\dfrac{3}{4}" -> "\frac{3}{4}") is done; the
            # clean-ups leave the text of a number unchanged, so another pass cannot alter it.
            value = _to_fraction(text)
            if value is not None:
                return value
    if not text:
        return None
    value = _to_fraction(text)
    return _structured(text, depth) if value is None else value


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
    return _normalize(check_str(answer, "answer"))


def parse_answer(text: str, *, lenient: bool = False) -> Optional[Hashable]:
    """``normalize_answer(extract_answer(text, lenient=lenient))``: raw output -> comparable answer or None."""
    return normalize_answer(extract_answer(text, lenient=lenient))


def gold_value(gold: Any) -> Hashable:
    """The normalised gold answer; TypeError/ValueError naming ``gold`` when it is unusable."""
    if isinstance(gold, bool) or not isinstance(gold, (str, numbers.Rational)):
        raise TypeError(f"gold must be a str, an integer or a Fraction, got {describe(gold)}")
    value = normalize_answer(gold) if isinstance(gold, str) else Fraction(gold)
    if value is None:
        raise ValueError(f"gold has no answer after normalisation: {describe(gold)}")
    return value


def builtin_grade(text: str, gold: Any) -> tuple[bool, Optional[Hashable]]:
    """The builtin grader: ``(correct, answer)`` with ``answer = parse_answer(text, lenient=True)``.

    Correct means the normalised answer equals the normalised gold (see :func:`normalize_answer`:
    exact numbers, canonical strings, sets and lists in any order). Never raises on a str
    ``text``; raises TypeError/ValueError for an unusable ``gold``.
    """
    expected = gold_value(gold)
    answer = parse_answer(check_str(text, "text"), lenient=True)
    return answer is not None and answer == expected, answer

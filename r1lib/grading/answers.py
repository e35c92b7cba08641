"""From a model's raw output to a gradable answer: extraction and normalisation.

DeepSeek-R1 writes its reasoning inside ``<think> ... </think>`` and its final answer after it,
conventionally in ``\\boxed{...}``. Grading takes two steps, both here:

1. :func:`extract_answer` finds the final answer text (the last ``\\boxed{...}`` or
   ``\\fbox{...}`` after the reasoning block, braces matched by counting, not by a regex), or
   ``None`` when the output has no usable answer. It never raises on a string.
2. :func:`normalize_answer` maps equivalent spellings to one hashable value, so that voting and
   grading compare answers, not strings: ``"0.5"``, ``"1/2"``, ``"\\frac{1}{2}"``, ``"\\dfrac12"``
   and ``"\\boxed{1/2}"`` all become ``Fraction(1, 2)``. Numbers (and arithmetic on numbers,
   ``"(9+1)"``) become exact :class:`fractions.Fraction` values; everything else becomes a
   canonical string: lists as sets, intervals (also from inequalities such as ``"x > 5"``),
   tuples, matrices, equations read as the value they state (``"x = 3"``, ``"a = b = 11"``).
   Pure Python, no sympy and no ``eval``: equal means equal canonical forms, so there is no
   algebra (``"\\frac{x+2}{7}"`` is not ``"\\frac{x}{7}+\\frac{2}{7}"``) and no rounding
   (``"0.333"`` is not ``1/3``).

``None`` means "no answer": :func:`r1lib.majority_vote` and :func:`r1lib.maj_at_k` never let it win,
and :func:`r1lib.is_correct` never counts it as correct.

``extract_answer(text, lenient=True)`` is how the builtin grader reads an output: it also reads
R1-Zero's ``<answer>...</answer>`` template, several boxes given as one answer, and outputs with no
box at all ("the final answer is ...", the last ``$...$``); :func:`builtin_grade` is that grader.
On math-verify 0.9.0's own test suite it gives the verdict that suite expects on 234 of 276 cases
(tests/test_grading_builtin.py lists the 42 others and why: mostly algebra, rounding, decimal
commas and numbers in prose).
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
# "$\boxed{1}$ and $\boxed{2}$", "\boxed{1} or \boxed{2}", "\boxed{1} \quad \text{and} \quad
# \boxed{2}", "\(\boxed{1}\) and \(\boxed{2}\)", "x = \boxed{1}$ and $x = \boxed{2}". Any other
# text between them means the later box revises the earlier one ("\boxed{3}. Wait, that is
# wrong: \boxed{4}").
_BOX_JOINER = re.compile(r"^(?:[\s$,;]|\\[()\[\]]|\\q?quad(?![A-Za-z])|\\text\{\s*(?:and|or)\s*\}"
                         r"|(?<![A-Za-z])(?:and|or)(?![A-Za-z]))*"
                         r"(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?$")  # "... and $x = \boxed{2}$"
_PHRASE = re.compile(r"(?:final\s+answer|the\s+answer|answer)\s*\**\s*(?:is|:|=)\s*\**\s*:?\s*",
                     re.IGNORECASE)
# "The final answer is $...$" after the last box restates the answer last, so it wins over it.
_FINAL_PHRASE = re.compile(r"final\s+answer\s*\**\s*(?:is|:)\s*\**\s*:?\s*(?=\$|\\\(|\\\[)",
                           re.IGNORECASE)
# Inline math ($...$, \(...\)) stays on one line; display math ($$...$$, \[...\]) may span lines.
_MATH_SPAN = re.compile(r"\$\$(.+?)\$\$|(?<!\\)\$([^\n]+?)(?<!\\)\$|\\\(([^\n]+?)\\\)|\\\[(.+?)\\\]",
                        re.DOTALL)
# A number written in prose: "1,000.99", "2/3", "-4.5", "100%" (not a digit inside a word or a
# name such as "AZYUK2A", "x_2", "x^2").
_PROSE_NUMBER = re.compile(r"(?<![\w.,/^_\\])[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?%?"
                           r"(?![\d/])")
_WORDS = re.compile(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}")  # two words in a row: prose, not mathematics
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n")
# The no-box fallbacks look at the end of the output only: the final answer is there, and it
# bounds the work of the lazy regular expressions on adversarial text.
_TAIL_CHARS = 4000
_BARE_CHARS = 40  # the longest whole final part read as a bare number


def _span_content(match: re.Match) -> Optional[str]:
    """The stripped content of a :data:`_MATH_SPAN` match; None when it holds only spaces."""
    return next(g for g in match.groups() if g is not None).strip() or None


def _math_span(text: str, last: bool) -> Optional[str]:
    """The stripped content of the first (or last) ``$...$``, ``$$...$$``, ``\\(...\\)`` or
    ``\\[...\\]``; None when there is none or it is empty."""
    chosen = None
    for chosen in _MATH_SPAN.finditer(text):
        if not last:
            break
    return None if chosen is None else _span_content(chosen)


def _joined_boxes(text: str) -> tuple[Optional[int], Optional[str]]:
    """Where the last box of ``text`` ends (None: no box), and the answer its boxes give (None:
    broken or empty).

    The last box, together with the boxes just before it that are joined to it by only
    :data:`_BOX_JOINER` text ("," ";" "and" "or" ``\\quad`` spaces), in order, as ``"a, b"``: a
    multi-part answer, compared as a list. A malformed last box gives None.
    """
    found, broken = _boxes(text)
    if not found:
        return None, None
    if broken:
        return len(text), None
    parts = [found[-1][2]]
    for (_, end, content), (start, _, _) in zip(found[-2::-1], found[:0:-1]):
        if content is None or not _BOX_JOINER.match(text[end:start]):
            break  # a malformed earlier box ("\boxed\boxed{1}") is not part of the answer
        parts.append(content)
    parts = [p.strip() for p in reversed(parts) if p.strip()]
    return found[-1][1], ", ".join(parts) or None


def _last_in_prose(text: str) -> Optional[str]:
    """The last ``$...$`` of ``text`` or the last number written after it, whichever comes last."""
    span = None
    for span in _MATH_SPAN.finditer(text):
        pass
    number = None
    for number in _PROSE_NUMBER.finditer(text, 0 if span is None else span.end()):
        pass
    if number is not None:
        return number.group()
    return None if span is None else _span_content(span)


def _lenient(segment: str, from_tag: bool) -> Optional[str]:
    last_box_end, answer = _joined_boxes(segment)
    if last_box_end is not None:
        if answer is not None and "nswer" in segment[last_box_end:]:
            restated = list(_FINAL_PHRASE.finditer(segment, last_box_end))
            if restated:
                span = _math_span(segment[restated[-1].end():], last=False)
                if span is not None:
                    return span
        return answer
    tail = segment[-_TAIL_CHARS:]
    phrases = list(_PHRASE.finditer(tail))
    if phrases:
        rest = tail[phrases[-1].end():]
        if rest.startswith(("$", "\\(", "\\[")):
            span = _math_span(rest, last=False)
            if span is not None:
                return span
        cut = _SENTENCE_END.search(rest)
        answer = (rest[:cut.start()] if cut else rest).strip().strip("*").strip()
        if answer and _WORDS.search(_MATH_SPAN.sub(" ", answer)):
            # A sentence, not a formula ("The volume of $ABCD$ is 120"): its last number or $...$.
            return _last_in_prose(answer) or answer
        if answer:
            return answer
    span = _math_span(tail, last=True)
    if span is not None:
        return span
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
      from it by nothing but spaces, ``$``, ``,``, ``;``, "and", "or", ``\text{and}``,
      ``\quad`` or math delimiters ``\( \)`` (and a ``x =`` before the next box), joined as
      ``"a, b"`` (``\boxed{1} \quad \text{and} \quad \boxed{2}`` answers "1, 2", which grades
      as a set). Any other text between two boxes means the later one revises the earlier: the
      last box alone. A "final answer is $...$" after the last box restates the answer last,
      and its ``$...$`` wins.
    - No box: the answer after the last "final answer is", "the answer is" or "Answer:" (its
      ``$...$`` if it starts with one, else up to the end of the sentence; when that is a
      sentence of words, "The largest $n$ is 34", its last number or ``$...$``); failing that,
      the last ``$...$``, ``$$...$$``, ``\(...\)`` or ``\[...\]`` (inline math stays on one
      line, display math may span lines); failing that, inside ``<answer>`` tags, the whole tag
      content, and otherwise the whole final part when it is one short line (at most 40
      characters) that reads as a number ("7,425,000", "28 percent"). A number elsewhere in
      prose is not an answer. The fallbacks look at the last 4000 characters only.

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

_WRAPPERS = ("text", "textbf", "textit", "textrm", "textnormal", "textsf", "texttt", "textup",
             "mathrm", "mathbf", "mathit", "mathsf", "boldsymbol", "bm", "mbox", "hbox", "operatorname")
_WRAPPER = re.compile(r"\\(?:" + "|".join(_WRAPPERS) + r")(?![A-Za-z])\s*(?=\{)")
# Spacing commands become a plain space (then handled like any whitespace, below). A line break
# \\ is matched first and kept, so that in "\\ 3" the second backslash does not read as "\ ".
# Right after a comma, "\!" and "\," go: "11,\!111" is how LaTeX sets a thousands separator.
_SPACING = re.compile(r"(\\\\)|(?<=,)(\\[!,]\s*)|\\(?:quad|qquad)(?![A-Za-z])|\\[!,;: ]|~")
# Text escaped twice ("\\frac{1}{2}", from JSON or a Python string written twice) means the
# command: a line break \\ followed at once by a command name is no line break anyone writes.
# (The pattern matches the first of the two backslashes, which goes.)
_DOUBLE_ESCAPED = re.compile(
    r"(?<!\\)\\(?=\\(?:[dtc]?frac|sqrt|left|right|boxed|text|mathrm|pi|infty|cdot|times|pm|circ"
    r"|le|leq|ge|geq|lt|gt|neq|approx|in|cup)(?![A-Za-z]))")


def _literal(spelling: str) -> str:
    """A pattern for ``spelling`` as written; a command (``\\in``) only where its name ends (not ``\\infty``)."""
    return re.escape(spelling) + ("(?![A-Za-z])" if spelling[0] == "\\" and spelling[-1].isalpha() else "")


# Relation symbols, one spelling each: ">=", "\ge", "\geqslant" and "\u2265" are all "\geq".
_RELATION_CANON = {"<=": "\\leq", "\u2264": "\\leq", "\\le": "\\leq", "\\leq": "\\leq",
                   "\\leqslant": "\\leq", ">=": "\\geq", "\u2265": "\\geq", "\\ge": "\\geq",
                   "\\geq": "\\geq", "\\geqslant": "\\geq", "\\lt": "<", "\\gt": ">", "!=": "\\neq",
                   "\u2260": "\\neq", "\\ne": "\\neq", "\\neq": "\\neq"}
_RELATION_SPELLINGS = re.compile("|".join(_literal(spelling) for spelling in _RELATION_CANON))
_RELATION_HINT = re.compile(r"[<>!\u2264\u2265\u2260]|\\[lgn]")  # speed: may a spelling be there?
# "1 and 2", "1, 2, and 3", "(1, 2) or (2, 1)": several answers, written as the list "1, 2".
_AND_OR = re.compile(r"\s*,?\s*(?<![A-Za-z\\])(?:and|or)(?![A-Za-z])\s*,?\s*")
_DROP = re.compile(
    r"\\(?:left|right)(?![A-Za-z])\.?"                        # \left( ... \right), null "\left."
    r"|\\displaystyle(?![A-Za-z])"
    r"|(?<!\\)\\[()\[\]]"                                    # math delimiters \( \) \[ \]
    r"|\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])|°"      # degrees
    r"|\\?%|\\?\$")                                          # percent and dollar signs
# Whitespace goes, except where it ends a command word before a letter: "\pi r" must not
# become the different command "\pir".
# A comma and a space before three digits keep one space: "32, 349" lists two answers, while
# "32,349" is one number.
_SPACE = re.compile(r"(\\[A-Za-z]+)\s+(?=[A-Za-z])|(?<=\d,)(\s)\s*(?=\d{3}(?!\d))|\s+")
_FRAC_NAME = re.compile(r"\\[dtc]frac(?![A-Za-z])")
_FRAC_SHORT = re.compile(r"\\frac(?:(\d)|\{([^{}]*)\})(?:(\d)|\{([^{}]*)\})")
_SQRT_SHORT = re.compile(r"\\sqrt(\d)")
# A name, not a value: what the left side of "x = 3" is. Letters, Greek letters, subscripts,
# primes, function application "f(x)", tuples "(p, q)", ratios "A:B", "|AB|", "\frac{NO}{BO}";
# no digits outside subscripts and no operators ("x + y = 3" and "2x = 6" keep their left side).
_SUBSCRIPT = re.compile(r"_(?:\{[^{}]*\}|[A-Za-z0-9])")
_GREEK = ("alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu"
          "|nu|xi|rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Pi"
          "|Sigma|Phi|Psi|Omega")
_NAME = re.compile(r"(?:[A-Za-z]|\\(?:" + _GREEK + r"|frac)(?![A-Za-z])|[{}()|:,'])+")
_NAME_CHARS = 40
# A side of a relation that is a value: no letter outside a command ("3", "\frac{\pi}{2}", "-\infty").
_COMMAND = re.compile(r"\\[A-Za-z]+")
_RELATIONS = ("<", ">", "\\leq", "\\geq")
_LESS = {"<": "<", "\\leq": "\\leq", ">": "<", "\\geq": "\\leq"}  # each op as "less" after a flip
# Speed: may the text state an equation or a relation (see _statement)?
_STATEMENT_HINT = re.compile(r"[=<>\u00b1]|\\(?:in|approx|pm|leq|geq)(?![A-Za-z])")
_SIGNED_TERM = re.compile(r"^[+-]?[^+\-]+$")
_PM = re.compile(r"^(?:\\pm|\u00b1)([^+\-,;=]+)$")
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
_FRAC_FULL = re.compile(rf"^([+-]?)\\[dtc]?frac\{{([+-]?{_NUM})\}}\{{([+-]?{_NUM})\}}$")


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
    # A boxed answer counts as its content (repeatedly, for \boxed{\boxed{...}}); several boxes
    # joined by "," / "and" / "\quad" are one answer with several parts, as the lenient reader has it.
    while _BOX.search(text):
        _, inner = _joined_boxes(text)
        if inner is None:
            return None
        text = inner.strip()
    text = text.replace("\u2212", "-").replace("{,}", ",")
    # Speed: each substitution runs only when the characters it needs are there (every pattern
    # below but the unit words and whitespace needs a backslash, "~", "%", "$" or the degree sign).
    backslash = "\\" in text
    if backslash:
        if "\\\\" in text:
            text = _DOUBLE_ESCAPED.sub("", text)
        text = _unwrap(text)
    if backslash or "~" in text:
        text = _SPACING.sub(lambda m: m.group(1) or ("" if m.group(2) else " "), text)
    if backslash or "%" in text or "$" in text or "\u00b0" in text:
        text = _DROP.sub("", text)
    if _RELATION_HINT.search(text):
        text = _RELATION_SPELLINGS.sub(lambda m: _RELATION_CANON[m.group()], text)
    if _LETTER.search(text):
        text = _UNIT.sub("", text)
        if "and" in text or "or" in text:
            text = _AND_OR.sub(", ", text)  # ", ": a list, never a thousands separator
    if _WHITESPACE.search(text):
        text = _SPACE.sub(lambda m: m.group(1) + " " if m.group(1) else m.group(2) or "", text)
    if backslash:
        text = _FRAC_NAME.sub(r"\\frac", text)
        text = _FRAC_SHORT.sub(lambda m: "\\frac{%s}{%s}" % (m.group(1) or m.group(2),
                                                              m.group(3) or m.group(4)), text)
        text = _SQRT_SHORT.sub(r"\\sqrt{\1}", text)
    text = _strip_outer_braces(text.rstrip("."))
    if _STATEMENT_HINT.search(text):
        text = _statement(text)
    if text == "+\\infty":
        return "\\infty"
    return _CHOICE.sub(r"\1", text)


def _is_name(text: str) -> bool:
    """Whether cleaned ``text`` names something (``x``, ``f(x)``, ``(p,q)``, ``AB``, ``V_1:V_2``)."""
    if not text or len(text) > _NAME_CHARS:
        return False
    if len(text) == 1:  # speed: "x = 5"
        return "A" <= text <= "Z" or "a" <= text <= "z"
    bare = _SUBSCRIPT.sub("", text).replace("\\left", "").replace("\\right", "")
    return _NAME.fullmatch(bare) is not None and _LETTER.search(bare) is not None


def _is_variable(text: str) -> bool:
    """A name whose values an inequality bounds: not ``|z|`` (``1 \\leq |z| \\leq 2`` is no interval of z)."""
    return "|" not in text and _is_name(text)


def _is_value(text: str) -> bool:
    return bool(text) and _LETTER.search(_COMMAND.sub("", text)) is None


def _interval(low: str, low_op: str, high: str, high_op: str) -> str:
    return ("(" if low_op == "<" else "[") + low + "," + high + (")" if high_op == "<" else "]")


def _statement(text: str) -> str:
    """An equation or relation read as the answer it states (one rule per call; repeated to a fixed point).

    - ``\\pm a`` -> the list ``-a, a``.
    - A chain ``a = b = c`` (no list commas) -> its last side ``c``, the value it arrives at.
    - ``name = value`` -> ``value`` (``x = 3``, ``f(x) = 1``, ``(p, q) = (3, 2)``, ``AB = 4``), and
      ``value = value`` -> the right one (``\\frac{1}{2} + \\frac{1}{3} = \\frac{5}{6}``).
    - ``name \\in S`` -> ``S``; ``name \\approx v`` -> ``v``; ``a \\approx b`` otherwise -> ``a``
      (the exact value, before it was rounded).
    - Inequalities with a name on one side and values elsewhere -> intervals: ``x > 5`` ->
      ``(5,\\infty)``, ``5 \\geq x`` -> ``(-\\infty,5]``, ``-x > -1`` -> ``(-\\infty,1)``,
      ``-1 < x \\leq 2`` -> ``(-1,2]``. Other inequalities are written with ``<``/``\\leq`` only
      (``a > b`` -> ``b<a``).
    """
    pm = _PM.match(text)
    if pm:
        return "-" + pm.group(1) + "," + pm.group(1)
    if "=" in text:
        sides = [side.strip() for side in _split_top(text, "=")]
        if len(sides) > 2 and "," not in text and ";" not in text and sides[-1]:
            return sides[-1]
        if len(sides) == 2 and sides[1] and (_is_name(sides[0])
                                             or _is_value(sides[0]) and _is_value(sides[1])):
            return sides[1]
    if "\\in" in text:
        sides = [side.strip() for side in _split_top(text, "\\in")]
        if len(sides) == 2 and sides[1] and _is_name(sides[0]):
            return sides[1]
    if "\\approx" in text:
        sides = [side.strip() for side in _split_top(text, "\\approx")]
        if len(sides) == 2 and sides[0] and sides[1]:
            return sides[1] if _is_name(sides[0]) else sides[0]
    if "<" in text or ">" in text or "\\leq" in text or "\\geq" in text:
        return _inequality(text)
    return text


def _negated(value: str) -> Optional[str]:
    """``-value`` written plainly (``"-1"`` -> ``"1"``), or None when ``value`` is a sum."""
    if not _SIGNED_TERM.match(value):
        return None
    return value[1:] if value[0] == "-" else "-" + value.lstrip("+")


def _inequality(text: str) -> str:
    parts, ops = _split_top_any(text, _RELATIONS)
    parts = [part.strip() for part in parts]
    if not ops or any(not p for p in parts) or len(ops) > 2:
        return text
    if ops[0] in (">", "\\geq"):  # read right to left: "a > x > b" is "b < x < a"
        if len(ops) == 2 and ops[1] not in (">", "\\geq"):
            return text
        parts, ops = parts[::-1], [_LESS[op] for op in reversed(ops)]
    elif len(ops) == 2 and ops[1] not in ("<", "\\leq"):
        return text
    if len(ops) == 2:
        low, name, high = parts
        if _is_variable(name) and _is_value(low) and _is_value(high):
            return _interval(low, ops[0], high, ops[1])
        return text
    (left, right), op = parts, ops[0]
    # "-x < 3" is "x > -3", and "3 < -x" is "x < -3": move the sign to the value
    if left[0] == "-" and _is_variable(left[1:]) and _negated(right) is not None:
        left, right = _negated(right), left[1:]
    elif right[0] == "-" and _is_variable(right[1:]) and _negated(left) is not None:
        left, right = right[1:], _negated(left)
    if _is_variable(left) and _is_value(right):
        return _interval("-\\infty", "<", right, op)
    if _is_value(left) and _is_variable(right):
        return _interval(left, op, "\\infty", "<")
    return left + op + right


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split at the ``sep`` that are outside every bracket (``()``, ``[]``, ``{}``, ``\\{\\}``).

    Brackets are counted by kind-blind depth, so half-open intervals ``[0,1)`` nest correctly. A
    separator that is a command (``\\in``) only counts where the command ends (not in ``\\infty``).
    """
    return _split_top_any(text, (sep,))[0]


_BRACKET_OR_ESCAPE = re.compile(r"[\\()\[\]{}]")


@lru_cache(maxsize=64)
def _top_level_tokens(seps: tuple[str, ...]) -> re.Pattern:
    """What :func:`_split_top_any` looks at: escaped braces, a separator, any other escape, brackets."""
    return re.compile(r"(\\[{}])|(" + "|".join(_literal(sep) for sep in seps) + r")|\\.|([(\[{])|([)\]}])",
                      re.DOTALL)


def _split_top_any(text: str, seps: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """``text`` split at any of ``seps`` outside every bracket: (parts, the separators found).

    Same rules as :func:`_split_top`; a regular expression finds the brackets and separators, so
    the loop visits those only (speed: most answers have few).
    """
    if not any(sep in text for sep in seps):
        return [text], []
    if len(seps) == 1 and not _BRACKET_OR_ESCAPE.search(text):  # speed: "x=5"
        parts = text.split(seps[0])
        return parts, seps * (len(parts) - 1)
    parts, found, depth, last = [], [], 0, 0
    for match in _top_level_tokens(seps).finditer(text):
        escaped_brace, sep, opener, closer = match.groups()
        if escaped_brace is not None:
            depth += 1 if escaped_brace[1] == "{" else -1
        elif opener is not None:
            depth += 1
        elif closer is not None:
            depth -= 1
        elif sep is not None and depth == 0:
            parts.append(text[last:match.start()])
            found.append(sep)
            last = match.end()
    parts.append(text[last:])
    return parts, found


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
    - ``\\{a, b\\}``: a set; elements canonicalised, sorted, duplicates dropped (see lists).
    - ``(a, b)`` and ``[a, b)``-style tuples and intervals: order and brackets kept, elements
      canonicalised. One value in brackets, ``(5)`` or ``[5]``, is that value.
    - ``a, b`` with no brackets: a list of answers ("all solutions"), which is the set of them:
      ``"2, 1, 2"`` and ``\\{1, 2\\}`` are both ``"1,2"`` (a set of one, ``\\{5\\}``, keeps its
      braces, and so does a set whose bare form would read as a number: ``"32, 349"`` is
      ``\\{32,349\\}``). A comma between groups of three digits is a thousands separator and was
      read as a number before (but not in ``"32, 349"``: a comma and a space separate answers).
    - Where no ``,`` separates the parts, ``;`` does (``(0;-2;6)``, ``-12;-11``).
    """
    if depth >= _MAX_DEPTH:
        return text
    union = _split_top(text, "\\cup")
    if len(union) > 1:
        parts = [_normalize(u, depth + 1) for u in union]
        if any(p is None for p in parts):
            return text
        pieces = sorted(_as_text(p) for p in parts)
        result = "\\cup".join(pieces)
        # a fixed point that reads back as the same pieces ("\\cup" + "f..." would not)
        return result if _clean_once(result) == result and _split_top(result, "\\cup") == pieces else text
    if text.startswith("\\{") and text.endswith("\\}") and _encloses(text, 2, 2):
        body, kind = text[2:-2], "set"
    elif len(text) >= 2 and text[0] in "([" and text[-1] in ")]" and _encloses(text, 1, 1):
        body, kind = text[1:-1], "tuple"
    else:
        body, kind = text, "list"
    items = _split_top(body, ",")
    if len(items) == 1 and ";" in body:
        items = _split_top(body, ";")
    if kind == "list" and len(items) < 2:
        return text
    parts = [_normalize(item, depth + 1) for item in items]
    if any(p is None for p in parts):
        return text
    if kind == "tuple" and len(parts) == 1:
        return parts[0]
    if kind == "tuple":
        elements = [_as_text(p) for p in parts]
        result, inner = text[0] + ",".join(elements) + text[-1], 1
    else:
        elements = sorted(set(_as_text(p) for p in parts))
        if kind == "list" and len(elements) == 1:
            return parts[0]  # "3, 3" is the one answer 3
        joined = ",".join(elements)
        # A set of several answers is written bare, "1,2", unless that reads as one number
        # ("32,349"): then in braces, "\\{32,349\\}". Either way a function of the elements.
        bare = len(elements) > 1 and _to_fraction(joined) is None
        result, inner = (joined, 0) if bare else ("\\{" + joined + "\\}", 2)
    # Odd parts (an unbalanced bracket inside one) could make the result read differently from
    # how it was built; such text stays as written.
    if inner and not _encloses(result, inner, inner) \
            or _split_top(result[inner:len(result) - inner], ",") != elements:
        return text
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
    if len(plain) <= _MAX_NUMBER_CHARS and _FRAC_FULL.match(plain):
        value = _to_fraction(plain)  # speed: "\dfrac{3}{4}", read as the clean-ups read it
        if value is not None:
            return value
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
    if value is None and _ARITHMETIC.match(text):
        value = _evaluate(text)
    if value is not None:
        return value
    if text.startswith("\\begin{"):
        matrix = _matrix(text, depth)
        if matrix is not None:
            return matrix
    return _structured(text, depth)


# --- arithmetic on numbers ---------------------------------------------------------------------

# Text that may be arithmetic on numbers only: digits, + - * / ^ ( ) { } and four commands.
_ARITHMETIC = re.compile(r"^[\d.+\-*/^(){}\\a-z]*[+\-*/^\\][\d.+\-*/^(){}\\a-z]*$")
_ARITH_TOKEN = re.compile(r"\d+(?:\.\d*)?|\.\d+|\\(?:frac|cdot|times|div)(?![A-Za-z])|[-+*/^(){}]")
_MAX_POWER_BITS = 4096  # base and exponent of a power: no result larger than this many bits
_MAX_TOKENS, _MAX_NESTING = 200, 20  # bound the parser's work and its recursion


class _NotArithmetic(Exception):
    pass


def _evaluate(text: str) -> Optional[Fraction]:
    """The exact value of arithmetic on numbers (``9+1``, ``2+\\frac{5}{3}+1``, ``1.5\\times10^{3}``), or None.

    A recursive-descent parser over numbers, ``+ - * / ^``, ``\\cdot``, ``\\times``, ``\\div``,
    ``\\frac{a}{b}``, ``( )`` and ``{ }``; usual precedence, ``^`` binds tightest and to the right,
    its exponent an integer. Nothing is evaluated but these (no names, no ``eval``); division by
    zero, a non-integer or huge power, a doubled sign ("--5") or any other token give None.
    """
    tokens = _arithmetic_tokens(text)
    if tokens is None:
        return None
    pos = 0

    def peek() -> Optional[str]:
        return tokens[pos] if pos < len(tokens) else None

    def take(expected: Optional[str] = None) -> str:
        nonlocal pos
        token = peek()
        if token is None or (expected is not None and token != expected):
            raise _NotArithmetic
        pos += 1
        return token

    def expression() -> Fraction:
        value = term()
        while peek() in ("+", "-"):
            value = value + term() if take() == "+" else value - term()
        return value

    def term() -> Fraction:
        value = signed()
        while peek() in ("*", "/", "\\cdot", "\\times", "\\div"):
            op, right = take(), signed()
            if op in ("/", "\\div"):
                if right == 0:
                    raise _NotArithmetic
                value = value / right
            else:
                value = value * right
        return value

    def signed() -> Fraction:
        if peek() in ("+", "-"):
            sign = take()
            if peek() in ("+", "-"):
                raise _NotArithmetic  # "--5" is a typo, not a number
            value = power()
            return -value if sign == "-" else value
        return power()

    def power() -> Fraction:
        base = atom()
        if peek() != "^":
            return base
        take("^")
        exponent = signed() if peek() in ("+", "-") else atom()
        if exponent.denominator != 1 or (base == 0 and exponent < 0):
            raise _NotArithmetic
        bits = max(base.numerator.bit_length(), base.denominator.bit_length())
        if abs(exponent) * max(bits, 1) > _MAX_POWER_BITS:
            raise _NotArithmetic
        return base ** int(exponent)

    def atom() -> Fraction:
        token = take()
        if token in ("(", "{"):
            value = expression()
            take(")" if token == "(" else "}")
            return value
        if token == "\\frac":
            take("{")
            num = expression()
            take("}")
            take("{")
            den = expression()
            take("}")
            if den == 0:
                raise _NotArithmetic
            return num / den
        if token[0].isdigit() or token[0] == ".":
            value = _number(token)
            if value is None:
                raise _NotArithmetic
            return value
        raise _NotArithmetic

    try:
        value = expression()
    except _NotArithmetic:
        return None
    return value if pos == len(tokens) else None


def _arithmetic_tokens(text: str) -> Optional[list[str]]:
    """The tokens of ``text`` for :func:`_evaluate`, or None if anything else is in it."""
    tokens, end, nesting = [], 0, 0
    for match in _ARITH_TOKEN.finditer(text):
        token = match.group()
        if match.start() != end or len(tokens) >= _MAX_TOKENS:
            return None
        nesting += 1 if token in ("(", "{") else -1 if token in (")", "}") else 0
        if nesting > _MAX_NESTING:
            return None
        tokens.append(token)
        end = match.end()
    return tokens if end == len(text) else None


# --- matrices ----------------------------------------------------------------------------------

_MATRIX = re.compile(r"^\\begin\{((?:[pbBvV]|small)?matrix|array)\}(?:\{[lcr|]*\})?(.*)\\end\{\1\}$",
                     re.DOTALL)


def _matrix(text: str, depth: int) -> Optional[str]:
    """Canonical text of a matrix: ``pmatrix``, ``bmatrix``, ``matrix`` and ``array`` all become
    ``\\begin{pmatrix}...\\end{pmatrix}`` (the brackets around it were read before), each entry
    canonicalised; ``vmatrix``/``Vmatrix`` (a determinant, a norm) keep their name. None if an
    entry is empty or the rows differ in length."""
    match = _MATRIX.match(text)
    if match is None or depth >= _MAX_DEPTH:
        return None
    kind, body = match.groups()
    env = kind if kind in ("vmatrix", "Vmatrix") else "pmatrix"
    rows = _split_top(body, "\\\\")
    if len(rows) > 1 and not rows[-1].strip():
        rows = rows[:-1]  # a trailing \\ ends the last row
    cells = [[_normalize(cell, depth + 1) for cell in _split_top(row, "&")] for row in rows]
    if any(c is None for row in cells for c in row) or len({len(row) for row in cells}) != 1:
        return None
    result = ("\\begin{" + env + "}" + "\\\\".join("&".join(_as_text(c) for c in row) for row in cells)
              + "\\end{" + env + "}")
    return result if _clean_once(result) == result else None


def normalize_answer(answer: Optional[str]) -> Optional[Hashable]:
    r"""A canonical, hashable form of an answer, so that equivalent spellings compare equal.

    Numbers become exact :class:`fractions.Fraction` values: integers, decimals (``"0.50"``),
    scientific notation, thousands separators (``"1,000"``, ``"1{,}000"``, ``"1,\!000"``; not
    ``"32, 349"``, two answers), ``a/b`` and ``\frac{a}{b}`` (also ``\dfrac``, ``\tfrac``,
    ``\frac12``) with a leading sign, and arithmetic on numbers (``+ - * / ^``, ``\cdot``,
    ``\times``, ``\div``, ``\frac``, brackets; integer powers: ``"(9+1)"``,
    ``"1.5 \times 10^{3}"``), evaluated exactly by a small parser. Hence
    ``"0.5" == "1/2" == "\frac{1}{2}" == "\boxed{1/2}"`` after normalisation, and ``Fraction(3)``
    equals and hashes like the ``int`` 3. The value is exact: ``"0.333"`` is *not* ``1/3``.

    Everything else becomes a canonical string, after these clean-ups: the content of a
    ``\boxed{}`` (several boxes joined by "," or "and" give a list); ``\text{}``-like wrappers
    unwrapped; text escaped twice (``"\\frac"``) read once; ``$``, ``\left``/``\right``, thin
    spaces, math delimiters, all whitespace and a trailing period removed; degree signs,
    percent signs and unit words after a number removed (the MATH convention: ``"50\%"`` and
    ``"12 cm"`` grade like ``"50"`` and ``"12"``); ``\sqrt2`` -> ``\sqrt{2}``; relation
    symbols spelled one way (``>=``, ``\ge``, ``\u2265`` -> ``\geq``); ``"(B)"`` -> ``"B"``.
    Then the answer a statement gives: ``name = value`` -> ``value`` (``x = 3``, ``f(x) = 1``,
    ``(p,q) = (3,2)``; not ``2x = 6``), a chain ``a = b = c`` -> ``c``, ``x \in S`` -> ``S``,
    ``x \approx v`` -> ``v`` but ``a \approx b`` -> ``a``, ``\pm a`` -> ``-a, a``, and
    inequalities in one name -> intervals (``x > 5`` and ``5 < x`` -> ``(5,\infty)``,
    ``-1 < x \leq 2`` -> ``(-1,2]``). Parts: ``"a, b"``, ``"a and b"``, ``"a; b"`` and ``\{a, b\}``
    are the same set, ``"a,b"`` (sorted, without repeats); tuples and intervals keep order and brackets;
    unions are sorted; ``pmatrix``, ``bmatrix`` and ``array`` matrices are one ``pmatrix``. Case
    is kept (``x`` and ``X`` may differ in mathematics). Answers longer than 1000 characters are
    only stripped (no real final answer is that long; this bounds the work on adversarial text).

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

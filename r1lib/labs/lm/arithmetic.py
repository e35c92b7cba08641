r"""The tiny transformer's task language: arithmetic problems, worked solutions, slips, rewards.

A problem is a plain expression Python can evaluate, ``"347+285"``, ``"502-178"`` or ``"47*6"``
(3-digit addition and subtraction with a non-negative result, 2-digit times 1 digit; the
functions that read and work problems accept 1-3 digit numbers). The prompt is the expression and an equals sign, ``"347+285="``; the model writes the rest.

R1-Zero's template (arXiv:2501.12948, table 1) asks for the reasoning inside ``<think>`` tags and
the answer inside ``<answer>`` tags. Here the reasoning is column arithmetic, one column per step,
least significant digit first, each step local (two digits and a carry)::

    347+285=<think>7+5=12,4+8+1=12+1=13,3+2+1=5+1=6</think><answer>632</answer><eos>
    502-178=<think>12-8=4,10-7-1=3-1=2,5-1-1=4-1=3</think><answer>324</answer><eos>
    47*6=<think>7*6=42,4*6+4=24+4=28</think><answer>282</answer><eos>

A step is one column: its own operation first (``4+8=12``, ``4*6=24``), then the carry coming in
(``12+1=13``, ``24+4=28``); in addition and multiplication the result's last digit is written
down and the rest carried; in subtraction a column that would go negative borrows ten (``12-8``)
and the next column pays it back (``-1``). Every ``=`` is one operation on two numbers. The
answer is the last step's result followed by the last digits of the earlier steps, right to
left (leading zeros dropped). Each step is a table look-up and a carry, which a small
transformer learns; the
whole sum in one go (``347+285=632``, no working) needs every carry at once and it gets those
wrong far more often. That is what gives RL a reason to make the model write its working.

The pretraining corpus (:func:`corpus`) looks like a base model's data: worked solutions in the
template, worked solutions with a slip (a dropped carry, a wrong digit, a dropped answer digit:
the final answer is then wrong), the template around a bare answer, bare answers, working written
without the template, and plain text. The rewards (:func:`accuracy_reward`, :func:`format_reward`)
read the decoded text, with r1lib's builtin grader for the answer.

Train and test problems never overlap: a problem's split is a hash of its text (:func:`split_of`),
a fifth of all problems are test problems.
"""
from __future__ import annotations

import functools
import hashlib
import re
from typing import Any, NamedTuple, Optional, Sequence

import numpy as np

from ...grading import builtin_grade
from ...validation import check_option, describe

__all__ = ["OPERATIONS", "SPLITS", "STYLES", "DEFAULT_MIX", "SLIPS", "Working",
           "prompt_of", "question_of", "gold_of", "split_of", "sample_question", "problems",
           "work", "possible_slips", "worked_solution", "completion", "corpus", "follows_template", "writes_working",
           "check_working", "accuracy_reward", "format_reward", "rewards", "strip_eos"]

OPERATIONS = ("+", "-", "*")
SPLITS = ("train", "test")
# The corpus's kinds of text, and the share of each in the base model's data.
STYLES = ("worked", "slip", "short", "bare", "plain", "chat")
# The base model mostly answers without working: inside the template it more often thinks
# nothing at all ("short") than writes the columns, so working is not its most likely path and
# a low sampling temperature does not find it; RL has to.
DEFAULT_MIX = {"worked": 0.15, "slip": 0.05, "short": 0.25, "bare": 0.15, "plain": 0.25, "chat": 0.15}
SLIPS = ("carry", "digit", "drop")
_CHAT = ("the answer is {}", "so the answer is {}.", "i think it is {}", "it is {}", "{}, i think")
_TEST_SHARE = 5  # one problem in five is a test problem
_QUESTION = re.compile(r"^([1-9]\d{0,2})([+\-*])([1-9]\d{0,2}|\d)$")
_TEMPLATE = re.compile(r"<think>((?:(?!<).)*)</think><answer>((?:(?!<).)+)</answer>", re.DOTALL)
_EOS = "<eos>"


# --------------------------------------------------------------------------------- problems

def _parse(question: Any) -> tuple[int, str, int]:
    if not isinstance(question, str):
        raise TypeError(f"question must be a str such as '47+38', got {describe(question)}")
    m = _QUESTION.match(question)
    if m is None:
        raise ValueError(f"question must be 'a+b', 'a-b' or 'a*b' with a of 1-3 digits, got {question!r}")
    a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
    if op == "-" and a < b:
        raise ValueError(f"question {question!r} has a negative result; subtraction problems have a >= b")
    if op == "*" and b > 9:
        raise ValueError(f"question {question!r}: multiplication problems have a one-digit second factor")
    return a, op, b


def prompt_of(question: str) -> str:
    """The prompt of a question: ``"47+38"`` -> ``"47+38="``."""
    _parse(question)
    return question + "="


def question_of(prompt: str) -> str:
    """The question inside a prompt, a plain expression: ``"47+38="`` -> ``"47+38"``."""
    if not isinstance(prompt, str) or not prompt.endswith("="):
        raise ValueError(f"prompt must be a question followed by '=', got {describe(prompt)}")
    question = prompt[:-1]
    _parse(question)
    return question


def gold_of(question: str) -> int:
    """The exact value of a question (what Python's ``eval(question)`` gives, computed without eval)."""
    a, op, b = _parse(question)
    return a + b if op == "+" else a - b if op == "-" else a * b


def split_of(question: str) -> str:
    """``"test"`` for one problem in five, ``"train"`` for the rest: a hash of the question's text,
    so the split is the same on every machine and a problem is never in both."""
    _parse(question)
    return "test" if _in_test(question) else "train"


def _in_test(question: str) -> bool:
    digest = hashlib.blake2b(question.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % _TEST_SHARE == 0


def _all_questions():
    """Every question :func:`sample_question` can draw, each once."""
    for a in range(100, 1000):
        yield from (f"{a}+{b}" for b in range(100, 1000))
        yield from (f"{a}-{b}" for b in range(100, a + 1))
    for a in range(10, 100):
        yield from (f"{a}*{b}" for b in range(2, 10))


@functools.lru_cache(maxsize=None)
def _split_size(split: str) -> int:
    """How many distinct questions of ``split`` there are (242,986 test, 973,184 train; about a
    second to count, so only counted when a request might exceed them)."""
    return sum(_in_test(q) == (split == "test") for q in _all_questions())


def sample_question(rng: np.random.Generator) -> str:
    """One random question: the operation uniform over + - *; addition and subtraction of two
    3-digit numbers (subtraction ordered so the result is >= 0), multiplication of a 2-digit
    number by 2-9, all uniform. The split is not looked at (see :func:`problems`).

    Fixed widths keep each operation's digits at fixed places of the prompt, so a small model
    learns where to read a column's digits quickly and spends its training on the arithmetic.
    """
    op = OPERATIONS[int(rng.integers(3))]
    if op == "*":
        return f"{int(rng.integers(10, 100))}*{int(rng.integers(2, 10))}"
    a, b = int(rng.integers(100, 1000)), int(rng.integers(100, 1000))
    if op == "-" and a < b:
        a, b = b, a
    return f"{a}{op}{b}"


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {describe(rng)}")
    return rng


def problems(n: int, *, split: str = "test", rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """``n`` distinct problems of one split: ``(prompts, golds)``.

    ``prompts[i]`` is ``question + "="`` (the question a plain expression, ``question_of`` gets it
    back) and ``golds[i]`` its value, an int. Draws questions with :func:`sample_question` and keeps
    those of ``split`` (``"train"`` or ``"test"``), without repeats; ``n`` larger than the
    split's number of distinct problems (about 243k test, 973k train) raises ValueError.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {describe(n)}")
    split = check_option(split, "split", SPLITS)
    rng = _check_rng(rng)
    # Each split holds a fifth or four fifths of 1.2M questions, so up to 100k are always there;
    # beyond, count them: asking for more would otherwise loop forever.
    if n > 100_000 and n > _split_size(split):
        raise ValueError(f"n={n} is more than the {_split_size(split)} distinct {split} problems")
    seen: dict[str, None] = {}
    while len(seen) < n:
        q = sample_question(rng)
        if q not in seen and split_of(q) == split:
            seen[q] = None
    questions = list(seen)
    return [q + "=" for q in questions], [gold_of(q) for q in questions]


# ---------------------------------------------------------------------------- worked solutions

class Working(NamedTuple):
    """A column-by-column solution: the steps as text and the answer they lead to."""

    steps: tuple[str, ...]
    answer: int

    @property
    def text(self) -> str:
        return ",".join(self.steps)


def _digits(x: int) -> list[int]:
    return [int(d) for d in reversed(str(x))]


def _assemble(results: list[int]) -> int:
    """The answer from the step results: the last result, then the last digits of the others
    right to left (``[12, 13, 6]`` -> 632); leading zeros drop out by reading it as a number."""
    return int(str(results[-1]) + "".join(str(r % 10) for r in reversed(results[:-1])))


def work(question: str, slip: Optional[str] = None, *, rng: Optional[np.random.Generator] = None) -> Working:
    """The column working of ``question``, right (``slip=None``) or with one slip.

    Slips, at a random column (``rng`` needed): ``"carry"`` forgets the carry (or the borrow)
    going into a column that has one; ``"digit"`` writes a column's result one too high or too
    low (its last number); ``"drop"`` leaves a digit out of the answer. The working after the slip follows from the
    wrong step, as a person's would, and the answer it gives is never the right one. A slip the
    question does not allow (no carry anywhere for ``"carry"``, a one-digit answer for ``"drop"``;
    see :func:`possible_slips`) raises ValueError.
    """
    a, op, b = _parse(question)
    if slip is None:
        return _working(a, op, b, None, None)
    check_option(slip, "slip", SLIPS)
    rng = _check_rng(rng)
    if slip not in possible_slips(question):
        raise ValueError(f"question {question!r} allows the slips {possible_slips(question)}, not {slip!r}")
    if slip == "carry":
        carried = [i for i, c in enumerate(_working(a, op, b, None, None, carries=True)) if c]
        return _working(a, op, b, int(rng.choice(carried)), None)
    if slip == "digit":
        columns = len(_working(a, op, b, None, None).steps)
        return _working(a, op, b, None, (int(rng.integers(columns)), int(rng.choice([-1, 1]))))
    right = _working(a, op, b, None, None)
    s = str(right.answer)
    i = int(rng.integers(len(s)))
    # fewer significant digits than the right answer (which has no leading zero): never right
    return Working(right.steps, int(s[:i] + s[i + 1:]))


def possible_slips(question: str) -> tuple[str, ...]:
    """The slips :func:`work` can make on ``question``: always ``"digit"``; ``"carry"`` when some
    column receives a carry or a borrow; ``"drop"`` when the answer has two digits or more."""
    a, op, b = _parse(question)
    out = ["digit"]
    if any(_working(a, op, b, None, None, carries=True)):
        out.insert(0, "carry")
    if gold_of(question) >= 10:
        out.append("drop")
    return tuple(out)


def _working(a: int, op: str, b: int, forget: Optional[int], delta: Optional[tuple[int, int]],
             carries: bool = False) -> Any:
    """The working column by column, least significant first.

    ``forget``: the column whose incoming carry (borrow) is left out; ``delta``: (column, +-1)
    added to that column's result. With ``carries=True``, the incoming carry of each column of
    the right working instead.
    """
    x = _digits(a)
    y = _digits(b) if op != "*" else []
    steps, results, incoming = [], [], []
    carry = 0
    for i in range(max(len(x), len(y))):
        if forget == i:
            carry = 0
        incoming.append(carry)
        xi = x[i] if i < len(x) else None
        yi = y[i] if i < len(y) else None
        # the column's own operation first, then the carry (borrow): "4+8+1=12+1=13"
        if op == "+":
            digits = [d for d in (xi, yi) if d is not None]
            head, first = "+".join(map(str, digits)), sum(digits)
            sign = "+"
        elif op == "*":
            head, first, sign = f"{xi}*{b}", xi * b, "+"
        else:  # "-" (a >= b, so x has the most digits): borrow ten when the column would go negative
            yv = 0 if yi is None else yi
            borrow = int(xi - carry - yv < 0)
            top = xi + 10 * borrow
            head, first, sign = (f"{top}-{yi}" if yi is not None else str(top)), top - yv, "-"
        res = first + carry if sign == "+" else first - carry
        if delta is not None and delta[0] == i:
            # one too high or too low; never negative, and a subtraction column stays one digit
            step = delta[1] if 0 <= res + delta[1] and (op != "-" or res + delta[1] <= 9) else -delta[1]
            res += step
        if not carry:
            text = f"{head}={res}"
        elif head == str(first):  # a lone digit and a carry: "3+1=4"
            text = f"{head}{sign}{carry}={res}"
        else:
            text = f"{head}{sign}{carry}={first}{sign}{carry}={res}"
        steps.append(text)
        results.append(res)
        carry = borrow if op == "-" else res // 10
    if carries:
        return incoming
    return Working(tuple(steps), _assemble(results))


def worked_solution(question: str) -> str:
    """The completion R1-Zero's template asks for, with the right working (no ``<eos>``)."""
    w = work(question)
    return f"<think>{w.text}</think><answer>{w.answer}</answer>"


def completion(question: str, style: str, rng: np.random.Generator) -> str:
    """One corpus completion of ``question`` in ``style`` (see :data:`STYLES`), ending in ``<eos>``.

    ``"worked"`` the template with the right working; ``"slip"`` the template with a slipped
    working and its wrong answer; ``"short"`` the template around a bare (right) answer with no
    working (the thinking empty); ``"bare"`` the answer alone; ``"plain"`` the right working and
    "so the answer is N" with no tags; ``"chat"`` a sentence holding the answer.
    """
    style = check_option(style, "style", STYLES)
    rng = _check_rng(rng)
    gold = gold_of(question)
    if style == "worked":
        text = worked_solution(question)
    elif style == "slip":
        w = work(question, _possible_slip(question, rng), rng=rng)
        text = f"<think>{w.text}</think><answer>{w.answer}</answer>"
    elif style == "short":
        text = f"<think></think><answer>{gold}</answer>"
    elif style == "bare":
        text = str(gold)
    elif style == "plain":
        text = f"{work(question).text} so the answer is {gold}"
    else:
        text = _CHAT[int(rng.integers(len(_CHAT)))].format(gold)
    return text + _EOS


def _possible_slip(question: str, rng: np.random.Generator) -> str:
    """A slip kind that ``question`` allows, uniform over those."""
    options = possible_slips(question)
    return options[int(rng.integers(len(options)))]


def corpus(n: int, rng: np.random.Generator, mix: Optional[dict] = None, *,
           split: str = "train") -> list[str]:
    """``n`` pretraining texts (prompt + completion + ``<eos>``) of random ``split`` problems.

    ``mix`` maps styles to weights (normalised; default :data:`DEFAULT_MIX`). Problems are drawn
    with :func:`sample_question` and kept when in ``split`` (repeats allowed, as in real data).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {describe(n)}")
    rng = _check_rng(rng)
    split = check_option(split, "split", SPLITS)
    styles, p = _mix(mix)
    texts = []
    while len(texts) < n:
        q = sample_question(rng)
        if split_of(q) != split:
            continue
        style = styles[int(rng.choice(len(styles), p=p))]
        texts.append(q + "=" + completion(q, style, rng))
    return texts


def _mix(mix: Optional[dict]) -> tuple[list[str], np.ndarray]:
    mix = DEFAULT_MIX if mix is None else mix
    if not isinstance(mix, dict) or not mix:
        raise TypeError(f"mix must be a dict of style -> weight, got {describe(mix)}")
    for key in mix:
        check_option(key, "mix key", STYLES)
    # in STYLES order, whatever the dict's order (a mix read back from sorted JSON draws the same texts)
    styles = [s for s in STYLES if s in mix]
    w = np.array([float(mix[s]) for s in styles])
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"mix weights must be >= 0 and not all 0, got {mix!r}")
    return styles, w / w.sum()


# ------------------------------------------------------------------------- reading the outputs

def strip_eos(text: str) -> str:
    """The text before the first ``<eos>`` (the whole text if there is none)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {describe(text)}")
    i = text.find(_EOS)
    return text if i < 0 else text[:i]


def follows_template(text: str) -> bool:
    """R1-Zero's format: exactly ``<think>...</think><answer>...</answer>`` (then ``<eos>`` or
    nothing), no other tag inside, a non-empty answer. The thinking may be empty."""
    return _TEMPLATE.fullmatch(strip_eos(text)) is not None


def writes_working(text: str) -> bool:
    """Whether the output writes at least one step of working (an ``=`` before its answer)."""
    body = strip_eos(text)
    m = _TEMPLATE.fullmatch(body)
    return "=" in (m.group(1) if m else body)


def check_working(question: str, text: str) -> Optional[bool]:
    """Whether an output's working is the right working of ``question``, step for step, with the
    answer it leads to; None when the output writes no working inside the template.

    A slip (a forgotten carry, a wrong digit, a dropped answer digit) makes this False, and so
    does any other departure from the column method.
    """
    right = work(question)
    m = _TEMPLATE.fullmatch(strip_eos(text))
    if m is None or "=" not in m.group(1):
        return None
    return m.group(1) == right.text and m.group(2) == str(right.answer)


def accuracy_reward(completions: Sequence[str], golds: Sequence[Any]) -> np.ndarray:
    """1.0 where r1lib's builtin grader finds the gold answer in a decoded completion, else 0.0.

    The grader reads the ``<answer>`` tags when there are any, a bare number, or "the answer is
    N" (r1lib.grading.builtin_grade); ``<eos>`` and what follows it are cut off first.
    """
    texts, golds = _pairs(completions, golds)
    return np.array([float(builtin_grade(strip_eos(t), g)[0]) for t, g in zip(texts, golds)])


def format_reward(completions: Sequence[str]) -> np.ndarray:
    """1.0 where a decoded completion follows R1-Zero's template (:func:`follows_template`)."""
    if isinstance(completions, str):
        raise TypeError("completions must be a sequence of strings, not one string")
    return np.array([float(follows_template(t)) for t in completions])


def rewards(completions: Sequence[str], golds: Sequence[Any]) -> np.ndarray:
    """R1-Zero's rule-based reward: accuracy + format, each 0 or 1, added with equal weight
    (arXiv:2501.12948 v1 sec. 2.2.2 names the two rewards)."""
    return accuracy_reward(completions, golds) + format_reward(completions)


def _pairs(completions: Sequence[str], golds: Sequence[Any]) -> tuple[list, list]:
    if isinstance(completions, str):
        raise TypeError("completions must be a sequence of strings, not one string")
    texts, golds = list(completions), list(golds)
    if len(texts) != len(golds):
        raise ValueError(f"completions has {len(texts)} items but golds has {len(golds)}")
    return texts, golds

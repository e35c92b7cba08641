r"""Reading r1-score's input: JSON Lines of samples as people's tools write them.

One JSON object per line (blank lines are ignored, but count in line numbers)::

    {"problem_id": "aime24-1", "output": "<think>...</think> ... \\boxed{204}", "gold": "204"}

What is accepted besides that plain form:

- a list of outputs on one line, ``{"problem_id": ..., "output": ["...", "..."], "gold": ...}``,
  as a sampler with ``n > 1`` writes it: each item is one sample of that problem, in order;
- ``-`` for standard input;
- gzip-compressed input (``.jsonl.gz``; recognised by its first bytes, so also on stdin);
- a UTF-8 byte-order mark at the start (Windows tools write one);
- a gold that is a JSON number: an integer, or a finite float read as the decimal it prints as
  (``0.5`` -> ``"0.5"``, ``1e-05`` -> ``"0.00001"``), the convention :func:`r1lib.is_correct`
  follows too (:func:`r1lib.grading.graders.gold_text`).

A line is bad when it is not JSON, not an object, misses a field, has an output that is neither
a string nor a non-empty list of strings, a problem id that is neither a string nor an integer, a
gold that is neither a string nor a finite number, or a gold that differs from the gold of an
earlier line of the same problem. The first bad line raises :class:`BadInput` with one line
``FILE:LINE: field 'F': why``; with ``skip_bad=True`` bad lines are recorded and skipped.
"""
from __future__ import annotations

import gzip
import json
import math
import sys
import zlib
from dataclasses import dataclass, field
from operator import itemgetter, ne
from typing import Any, Optional

from .graders import gold_text

__all__ = ["BadInput", "Samples", "read_samples", "read_bytes", "preview", "type_name", "STDIN"]

STDIN = "-"
_GZIP_MAGIC = b"\x1f\x8b"
_BOM = "\ufeff"


class BadInput(Exception):
    """A problem with the input or an option: ``str(exc)`` is the one-line message."""


@dataclass
class Samples:
    """The valid samples of a file, in file order, and what was wrong with the others.

    ``lines[i]`` is the line of sample ``i`` (several samples share a line when it holds a list of
    outputs); ``name`` is how messages call the file (``<stdin>`` for ``-``).
    """

    path: str
    problem_ids: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    golds: list = field(default_factory=list)
    lines: list = field(default_factory=list)
    bad: list = field(default_factory=list)      # messages of the skipped lines (--skip-bad)

    @property
    def name(self) -> str:
        return "<stdin>" if self.path == STDIN else self.path

    def keep(self, indices: list) -> None:
        """Keep only the samples at ``indices`` (in that order)."""
        for attr in ("problem_ids", "outputs", "golds", "lines"):
            values = getattr(self, attr)
            setattr(self, attr, [values[i] for i in indices])


def type_name(value: Any) -> str:
    """How a message names the JSON type of ``value``."""
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "an integer", float: "a number",
            type(None): "null"}.get(type(value), type(value).__name__)


def preview(value: Any, limit: int = 40) -> str:
    """``value`` as JSON, cut to ``limit`` characters (for messages)."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def read_bytes(path: str) -> bytes:
    """The bytes of ``path`` (``-``: standard input), gunzipped when they are gzip data."""
    name = "<stdin>" if path == STDIN else path
    try:
        if path == STDIN:
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as exc:
        raise BadInput(f"{name}: cannot open: {exc.strerror or exc}") from None
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise BadInput(f"{name}: not a valid gzip file ({exc})") from None
    return data


def _text(data: bytes, name: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput(f"{name}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return text[1:] if text.startswith(_BOM) else text


def read_samples(path: str, *, problem_field: str = "problem_id", output_field: str = "output",
                 gold_field: str = "gold", skip_bad: bool = False) -> Samples:
    """Read and check a JSON Lines file of samples (see the module docstring).

    Parameters
    ----------
    path : str
        A file (plain or gzip), or ``"-"`` for standard input.
    problem_field, output_field, gold_field : str
        The field names.
    skip_bad : bool
        Record bad lines in ``Samples.bad`` instead of raising on the first.

    Raises
    ------
    BadInput
        The first bad line (``skip_bad=False``); a file that cannot be read; no samples at all.
    """
    samples = Samples(path=str(path))
    name = samples.name
    lines = _text(read_bytes(path), name).split("\n")  # not splitlines(): JSON strings may hold U+2028
    numbers = [i for i, line in enumerate(lines, start=1) if line.strip()]
    # Each line is parsed on its own: one json.loads over the lines joined into an array was
    # 1.3-1.5x faster, but a file can fool it (an object broken across two lines between its
    # members, which the joining comma completes, plus two objects on another line keep the
    # count right), and a strict reader must not accept such a file. A bad line sends us to the
    # line-by-line path below for the exact message.
    records: Optional[list] = None
    try:
        parsed = [json.loads(lines[i - 1]) for i in numbers]
        if all(type(o) is dict for o in parsed):
            records = parsed
    except (ValueError, RecursionError):
        pass
    if records and not skip_bad:
        columns = _clean_columns(records, numbers, problem_field, output_field, gold_field)
        if columns is not None:  # every line is fine: no per-line checks needed
            samples.problem_ids, samples.outputs, samples.golds, samples.lines = columns
            return samples
    gold_of: dict = {}
    for j, number in enumerate(numbers):
        try:
            obj = records[j] if records is not None else _parse_line(lines[number - 1], name, number)
            pid, outputs, gold = _check_record(obj, name, number, problem_field, output_field,
                                               gold_field)
            seen = gold_of.setdefault(pid, (gold, number))
            if seen[0] != gold:
                raise BadInput(f"{name}:{number}: field '{gold_field}': problem "
                               f"{preview(pid)} has gold {preview(seen[0])} at line "
                               f"{seen[1]} but {preview(gold)} here")
        except BadInput as exc:
            if not skip_bad:
                raise
            samples.bad.append(str(exc))
            continue
        for output in outputs:
            samples.problem_ids.append(pid)
            samples.outputs.append(output)
            samples.golds.append(gold)
            samples.lines.append(number)
    if not samples.outputs:
        why = "empty file" if not samples.bad else \
            f"no valid samples ({len(samples.bad)} bad {'line' if len(samples.bad) == 1 else 'lines'})"
        raise BadInput(f"{name}: {why}: no samples to score")
    return samples


def _clean_columns(records: list, numbers: list, problem_field: str, output_field: str,
                   gold_field: str) -> Optional[tuple]:
    """The four columns when every record is valid (string or integer ids, string outputs or
    non-empty lists of them, string or integer golds, one gold per problem), else None (then
    each line is checked, for the exact message)."""
    # Speed: map/set/dict calls that loop in C; a million lines take a fraction of a second.
    try:
        pids = list(map(itemgetter(problem_field), records))
        outputs = list(map(itemgetter(output_field), records))
        golds = list(map(itemgetter(gold_field), records))
    except (KeyError, TypeError):
        return None
    if not (set(map(type, pids)) <= {str, int} and set(map(type, golds)) <= {str, int}):
        return None
    first = dict(zip(reversed(pids), reversed(golds)))  # each problem's first gold
    if any(map(ne, map(first.__getitem__, pids), golds)):  # a later line with another gold
        return None
    if set(map(type, outputs)) == {str}:
        return pids, outputs, golds, numbers
    if not all(type(x) is str or (type(x) is list and x and all(type(y) is str for y in x))
               for x in outputs):
        return None
    columns: tuple = ([], [], [], [])
    for pid, out, gold, number in zip(pids, outputs, golds, numbers):
        many = out if type(out) is list else (out,)
        columns[0].extend([pid] * len(many))
        columns[1].extend(many)
        columns[2].extend([gold] * len(many))
        columns[3].extend([number] * len(many))
    return columns


def _parse_line(line: str, name: str, number: int) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        column = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadInput(f"{name}:{number}: not valid JSON ({reason}{column})") from None
    except RecursionError:
        raise BadInput(f"{name}:{number}: not valid JSON (nested too deeply)") from None


def _check_record(obj: Any, name: str, number: int, problem_field: str, output_field: str,
                  gold_field: str) -> tuple:
    """``(problem id, [outputs], gold as str or int)`` of one line, or BadInput."""
    where = f"{name}:{number}"
    if not isinstance(obj, dict):
        raise BadInput(f"{where}: expected a JSON object with fields '{problem_field}', "
                       f"'{output_field}', '{gold_field}', got {type_name(obj)}")
    for field_name in (problem_field, output_field, gold_field):
        if field_name not in obj:
            raise BadInput(f"{where}: field '{field_name}': missing")
    pid, output, gold = obj[problem_field], obj[output_field], obj[gold_field]
    if isinstance(pid, bool) or not isinstance(pid, (str, int)):
        raise BadInput(f"{where}: field '{problem_field}': must be a string or an integer, "
                       f"got {type_name(pid)}")
    if isinstance(output, list):
        if not output:
            raise BadInput(f"{where}: field '{output_field}': an empty list (no samples)")
        for i, item in enumerate(output):
            if not isinstance(item, str):
                raise BadInput(f"{where}: field '{output_field}': item {i} must be a string (a raw "
                               f"model output), got {type_name(item)} {preview(item)}")
        outputs = output
    elif isinstance(output, str):
        outputs = [output]
    else:
        raise BadInput(f"{where}: field '{output_field}': must be a string (the raw model output) "
                       f"or a list of them, got {type_name(output)} {preview(output)}")
    if isinstance(gold, bool) or not isinstance(gold, (str, int, float)):
        raise BadInput(f"{where}: field '{gold_field}': must be a string or a number, "
                       f"got {type_name(gold)} {preview(gold)}")
    if isinstance(gold, float):
        if not math.isfinite(gold):
            raise BadInput(f"{where}: field '{gold_field}': must be finite, got {gold}")
        gold = gold_text(gold)  # 0.5 -> "0.5", 1e-05 -> "0.00001": the decimal, as is_correct reads it
    return pid, outputs, gold

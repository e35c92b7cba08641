"""The exercise framework, for every registered exercise: stubs are "not attempted yet", a wrong
answer is False without raising, each notebook holds its stubs and each solutions notebook its
solutions. Per-exercise tests (planted wrong answers) live in tests/test_exercises_NN.py."""
from __future__ import annotations

import json
import re

import pytest

from nbconventions import NOTEBOOKS, ROOT, SOLUTIONS
from r1lib import exercises
from r1lib.exercises import _registry

IDS = exercises.ids()


def _sources(path):
    with open(path, encoding="utf-8") as fh:
        cells = json.load(fh)["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _checked_ids(path):
    pattern = re.compile(r"""check\(\s*["'](\d\d\.\d+)["']""")
    return {m for src in _sources(path) for m in pattern.findall(src)}


def test_ids_are_sorted_unique_and_well_formed():
    assert IDS == sorted(set(IDS))
    assert all(re.fullmatch(r"\d\d\.\d+", i) for i in IDS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_at_least_three_graded_exercises(path):
    number = path.name[:2]
    registered = {i for i in IDS if i.startswith(number + ".")}
    assert len(registered) >= 3, f"{path.name}: {sorted(registered)}"
    assert _checked_ids(path) == registered


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_a_solutions_notebook_that_checks_every_exercise(path):
    number = path.name[:2]
    solutions = ROOT / "notebooks" / "solutions" / f"{number}_solutions.ipynb"
    assert solutions in SOLUTIONS, f"missing {solutions.relative_to(ROOT)}"
    registered = {i for i in IDS if i.startswith(number + ".")}
    assert _checked_ids(solutions) == registered
    # each check's result is asserted, so nbval fails a solution that stops passing
    for src in _sources(solutions):
        for m in re.finditer(r"""check\(\s*["'](\d\d\.\d+)["']""", src):
            assert re.search(r"assert\s+(r1lib\.)?(exercises\.)?check\(\s*[\"']" + re.escape(m.group(1)), src), \
                f"{solutions.name}: check('{m.group(1)}', ...) is not asserted"


@pytest.mark.parametrize("exercise_id", IDS)
@pytest.mark.parametrize("stub", [None, ..., "function returning None", "raises NotImplementedError"])
def test_an_untouched_stub_is_not_attempted_and_false(exercise_id, stub, capsys):
    if stub == "function returning None":
        def stub(*args, **kwargs):
            pass
    elif stub == "raises NotImplementedError":
        def stub(*args, **kwargs):
            raise NotImplementedError
    assert exercises.check(exercise_id, stub) is False
    out = capsys.readouterr().out
    assert "not attempted yet" in out
    assert "Hint:" in out


@pytest.mark.parametrize("exercise_id", IDS)
@pytest.mark.parametrize("junk", [-12345.678, "x", [1, 2], {"a": 1}, lambda *a, **k: "nonsense",
                                  lambda *a, **k: 1 / 0])
def test_junk_answers_are_false_with_feedback_and_never_raise(exercise_id, junk, capsys):
    assert exercises.check(exercise_id, junk) is False
    out = capsys.readouterr().out
    assert "not yet" in out or "could not check" in out
    assert "Hint:" in out


def test_unknown_ids_are_errors_that_name_the_id():
    with pytest.raises(ValueError, match="99.9"):
        exercises.check("99.9", 1)
    with pytest.raises(TypeError, match="exercise_id"):
        exercises.check(2.1, 1)


def test_close_reports_shape_and_direction_not_the_value():
    with pytest.raises(_registry.Wrong, match=r"shape \(3,\)"):
        _registry.close([1.0, 2.0], [1.0, 2.0, 3.0], "case")
    with pytest.raises(_registry.Wrong, match="too large") as info:
        _registry.close(2.5, 1.25, "case")
    assert "1.25" not in str(info.value)
    _registry.close([1.0, float("inf")], [1.0, float("inf")], "case")

"""The exercise framework, for every registered exercise: stubs are "not attempted yet", a wrong
answer is False without raising, each notebook holds its stubs and each solutions notebook its
solutions. Per-exercise tests (planted wrong answers) live in tests/test_exercises_NN.py."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from nbconventions import NOTEBOOKS, ROOT, SOLUTIONS
from r1lib import exercises
from r1lib.exercises import registry

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
def test_an_untouched_stub_is_not_attempted_and_shows_no_false(exercise_id, stub, capsys):
    if stub == "function returning None":
        def stub(*args, **kwargs):
            pass
    elif stub == "raises NotImplementedError":
        def stub(*args, **kwargs):
            raise NotImplementedError
    # None: the notebook shows the message and nothing under it (no bare False)
    assert exercises.check(exercise_id, stub) is None
    out = capsys.readouterr().out
    assert "not attempted yet" in out
    assert f"r1lib.exercises.hint('{exercise_id}')" in out
    for tier in exercises.info(exercise_id)["hints"]:
        assert tier not in out, "hints come on request, not with the stub"


@pytest.mark.parametrize("exercise_id", IDS)
@pytest.mark.parametrize("junk", [-12345.678, "x", [1, 2], {"a": 1}, lambda *a, **k: "nonsense",
                                  lambda *a, **k: 1 / 0])
def test_junk_answers_are_false_with_feedback_and_never_raise(exercise_id, junk, capsys):
    assert exercises.check(exercise_id, junk) is False
    out = capsys.readouterr().out
    assert "not yet" in out or "could not check" in out
    assert "exercises.hint(" in out


@pytest.mark.parametrize("exercise_id", IDS)
def test_hints_come_in_tiers_on_request(exercise_id, capsys):
    tiers = exercises.info(exercise_id)["hints"]
    assert tiers and all(isinstance(t, str) and t.strip() for t in tiers)
    registry.REGISTRY[exercise_id].hints_given = 0
    try:
        for i, tier in enumerate(tiers + [tiers[-1]]):  # asking past the last repeats it
            exercises.hint(exercise_id)
            out = capsys.readouterr().out
            assert tier in out and f"Hint {min(i, len(tiers) - 1) + 1}" in out
    finally:
        registry.REGISTRY[exercise_id].hints_given = 0


def test_feedback_reads_right_for_negative_values_and_prints_plain_numbers():
    with pytest.raises(registry.Wrong) as info:
        registry.close(-0.3, -0.45, "case")        # larger on the number line, smaller in size
    msg = str(info.value)
    assert "too large" in msg and "0.667 times the expected magnitude" in msg and "0.45" not in msg
    with pytest.raises(registry.Wrong, match="wrong sign"):
        registry.close(0.2, -0.45, "case")
    assert registry.plain(np.float64(4.5)) == "4.5" and registry.plain(np.int64(3)) == "3"
    with pytest.raises(registry.Wrong) as info:
        registry.call(lambda x: 1 / 0, np.float64(4.5))
    assert "np.float64" not in str(info.value) and "(4.5)" in str(info.value)


def test_unknown_ids_are_errors_that_name_the_id():
    with pytest.raises(ValueError, match="99.9"):
        exercises.check("99.9", 1)
    with pytest.raises(TypeError, match="exercise_id"):
        exercises.check(2.1, 1)


def test_close_reports_shape_and_direction_not_the_value():
    with pytest.raises(registry.Wrong, match=r"shape \(3,\)"):
        registry.close([1.0, 2.0], [1.0, 2.0, 3.0], "case")
    with pytest.raises(registry.Wrong, match="too large") as info:
        registry.close(2.5, 1.25, "case")
    assert "1.25" not in str(info.value)
    registry.close([1.0, float("inf")], [1.0, float("inf")], "case")

"""Helpers the per-notebook exercise tests share."""
from __future__ import annotations

from r1lib import exercises


def grade(exercise_id: str, answer, capsys) -> tuple:
    """``(verdict, printed feedback)`` of ``exercises.check(exercise_id, answer)``."""
    ok = exercises.check(exercise_id, answer)
    return ok, capsys.readouterr().out


def assert_tiers_hide_the_recipe(exercise_id: str, recipe_words: list) -> None:
    """The exercise has at least two hint tiers and no single tier holds every word of the recipe
    (the words that, together, state the whole answer)."""
    tiers = exercises.info(exercise_id)["hints"]
    assert len(tiers) >= 2
    for tier in tiers:
        assert not all(word in tier for word in recipe_words), tier

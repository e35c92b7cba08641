"""The "math-verify" grader is math-verify: its verdicts equal math_verify.verify(parse(gold),
parse(output)) called directly, on cases from math-verify's own test suite (tests/test_all.py of
huggingface/Math-Verify, with the verdicts that suite expects) and on the items of issue 12.
Also: "auto" picks it and says so once; grade_many (parallel, cached) agrees with one-by-one."""
from __future__ import annotations

import logging

import pytest

math_verify = pytest.importorskip("math_verify")

from r1lib import is_correct  # noqa: E402
from r1lib.grading import graders as grading  # noqa: E402
from r1lib.grading.worker import final_part, gold_for_math_verify  # noqa: E402
from grading_cases import MV_SUITE  # noqa: E402  (math-verify's own suite, shared with builtin's tests)

# issue 12's items, on R1-style outputs: (gold, output, verdict)
ISSUE_ITEMS = [
    (r"\frac{\sqrt2}{2}", r"<think>rationalise</think> \boxed{\frac{1}{\sqrt2}}", True),  # symbolic
    (r"\{1, 2\}", r"</think> \boxed{\{2, 1\}}", True),                   # sets in any order
    (r"(0,1) \cup (2,3)", r"</think> \boxed{(2,3) \cup (0,1)}", True),   # intervals in any order
    ("(1, 4)", r"</think> \boxed{(1, 4)}", True),                       # a pair ...
    ("(1, 4)", r"</think> \boxed{(4, 1)}", False),                      # ... is ordered
    ("1000", r"</think> \boxed{1,000}", True),                          # thousands separator
    ("3", r"</think> $x = 3$", True),                                   # x = 3 vs 3
    ("3", r"</think> The final answer is 3.", True),                    # no box
    (r"\frac{3}{4}", r"</think> \boxed{\dfrac{3}{4}}", True),
    (r"\frac{3}{4}", r"</think> \boxed{\cfrac{3}{4}}", True),
    ("50", r"</think> \boxed{50\%}", True),
    ("7", r"</think> \boxed{3}", False),
    ("3", "<think>the answer is \\boxed{3}", False),                     # cut off: no answer
]


def direct(gold: str, output: str) -> bool:
    """math-verify called as its README shows, on what r1lib hands it."""
    part = final_part(output)
    if part is None:
        return False
    return math_verify.verify(math_verify.parse(gold_for_math_verify(gold)), math_verify.parse(part))


@pytest.mark.parametrize("gold, output, verdict", MV_SUITE + ISSUE_ITEMS,
                         ids=[f"{g[:20]} | {o[:30]}" for g, o, _ in MV_SUITE + ISSUE_ITEMS])
def test_verdict_is_math_verify_s(gold, output, verdict):
    got = is_correct(output, gold, grader="math-verify")
    assert got is direct(gold, output)
    assert got is verdict


def test_output_without_tags_is_passed_through_unchanged():
    text = r"We find $x = \boxed{2}$."
    assert final_part(text) == text
    assert final_part("<think>a</think> b") == " b"
    assert final_part("<think>a") is None
    assert final_part("</think><answer> 4 </answer>") == " 4 "
    assert final_part("<answer>4") is None


def test_answer_tags_are_read_although_math_verify_does_not_know_them():
    assert math_verify.parse("<think>x</think><answer>3</answer>") == []
    assert is_correct("<think>x</think><answer>3</answer>", "3", grader="math-verify")


def test_gold_is_boxed_so_pairs_stay_pairs():
    assert gold_for_math_verify("(1, 4)") == r"\boxed{(1, 4)}"
    assert gold_for_math_verify(" $5$ ") == "$5$"
    assert gold_for_math_verify(r"\boxed{5}") == r"\boxed{5}"
    # bare, math-verify would read "(1, 4)" as the number 4
    assert str(math_verify.parse("(1, 4)")[0]) == "4"


def test_unreadable_gold_is_a_value_error():
    with pytest.raises(ValueError, match="gold"):
        is_correct(r"\boxed{1}", "}{", grader="math-verify")
    with pytest.raises(ValueError, match="gold"):
        is_correct(r"\boxed{1}", "", grader="math-verify")
    assert is_correct(r"\boxed{1}", 1, grader="math-verify")


def test_grade_many_agrees_with_one_by_one_and_grades_equal_pairs_once():
    golds = [g for g, _, _ in MV_SUITE + ISSUE_ITEMS]
    outputs = [o for _, o, _ in MV_SUITE + ISSUE_ITEMS]
    calls = []
    grades = grading.grade_many(outputs * 3, golds * 3, grader="math-verify", workers=2,
                                progress=calls.append)
    assert sum(calls) == len(set(zip(outputs, golds)))  # duplicates graded once
    expected = [v for _, _, v in MV_SUITE + ISSUE_ITEMS] * 3
    assert [g.correct for g in grades] == expected
    assert all(g.status == "ok" for g in grades)
    # vote keys: wrong answers keep their canonical answer, no answer is None
    wrong = grading.grade_many([r"\boxed{0.5}", r"\boxed{\frac12}", "nothing"], ["7"] * 3,
                               grader="math-verify", workers=1)
    assert wrong[0].answer == wrong[1].answer is not None and wrong[2].answer is None


def test_auto_picks_math_verify_and_says_so_once(caplog, monkeypatch):
    monkeypatch.setattr(grading, "_announced", None)
    with caplog.at_level(logging.INFO, logger="r1lib.grading"):
        for _ in range(3):
            assert grading.resolve_grader("auto") == "math-verify"
            assert is_correct(r"\boxed{\frac{1}{\sqrt2}}", r"\frac{\sqrt2}{2}")
    notices = [r for r in caplog.records if r.name == "r1lib.grading"]
    assert len(notices) == 1 and "math-verify" in notices[0].getMessage()


def test_auto_without_math_verify_uses_builtin_and_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(grading, "_announced", None)
    monkeypatch.setattr(grading, "math_verify_available", lambda: False)
    with caplog.at_level(logging.INFO, logger="r1lib.grading"):
        assert grading.resolve_grader("auto") == "builtin"
        # builtin has no symbolic equivalence: the auto verdict is now builtin's
        assert not is_correct(r"\boxed{\frac{1}{\sqrt2}}", r"\frac{\sqrt2}{2}")
        assert is_correct(r"\boxed{1,000}", "1000")
    notices = [r for r in caplog.records if r.name == "r1lib.grading"]
    assert len(notices) == 1 and notices[0].levelno == logging.WARNING
    assert "builtin" in notices[0].getMessage()
    with pytest.raises(ImportError, match="math-verify"):
        grading.resolve_grader("math-verify")


@pytest.mark.parametrize("bad, error", [("sympy", ValueError), (None, ValueError), (3, ValueError)])
def test_unknown_grader(bad, error):
    with pytest.raises(error, match="grader"):
        is_correct(r"\boxed{1}", "1", grader=bad)


@pytest.mark.parametrize("limit", [0, -1, float("nan"), float("inf"), "5", True])
def test_bad_time_limit(limit):
    with pytest.raises(ValueError, match="time_limit"):
        grading.grade(r"\boxed{1}", "1", grader="math-verify", time_limit=limit)

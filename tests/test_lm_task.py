"""The tiny transformer's task language (r1lib.labs.lm.arithmetic): problems, working, corpus, rewards.

The worked solutions are checked here by an independent reading of the column method (each
step's digits taken from the question, each equation evaluated by Python, each carry or borrow
followed from the step before, the answer assembled from the written results), never by calling
the module's own :func:`work`.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from r1lib.labs.lm import arithmetic as A
from r1lib.labs.lm.tokens import encode

TEMPLATE = re.compile(r"<think>([^<]*)</think><answer>([^<]+)</answer><eos>")


def independent_check(question: str, working: str, answer: str) -> bool:
    """True iff ``working`` is the column method done right on ``question`` and ``answer`` its result.

    Written from the method's description, not from the module: column i (from the right) uses
    digit i of each number (its own operation first), then adds the carry (addition,
    multiplication: the previous result without its last digit) or subtracts the borrow
    (subtraction: 1 when the previous column added ten), each as its own "=" link; a
    subtraction column adds ten exactly when it would go negative; every equation is true.
    """
    a, op, b = re.fullmatch(r"(\d+)([+\-*])(\d+)", question).groups()
    steps = working.split(",")
    ncols = len(a) if op != "+" else max(len(a), len(b))
    if len(steps) != ncols:
        return False
    carry, results = 0, []
    for i, step in enumerate(steps):
        parts = step.split("=")
        if len(parts) < 2 or any(eval(left) != eval(right) for left, right in zip(parts, parts[1:])):
            return False  # every link of the chain is a true equation
        da = int(a[-1 - i]) if i < len(a) else None
        db = int(b[-1 - i]) if (i < len(b) and op != "*") else None
        if op == "+":
            digits = [d for d in (da, db) if d is not None]
            head, first, sign = "+".join(map(str, digits)), sum(digits), "+"
        elif op == "*":
            head, first, sign = f"{da}*{b}", da * int(b), "+"
        else:
            borrow_out = int(da - carry - (db or 0) < 0)
            top = da + 10 * borrow_out
            head = f"{top}-{db}" if db is not None else str(top)
            first, sign = top - (db or 0), "-"
        if carry == 0:
            expect = [head]
        elif head == str(first):
            expect = [f"{head}{sign}{carry}"]
        else:
            expect = [f"{head}{sign}{carry}", f"{first}{sign}{carry}"]
        if parts[:-1] != expect:
            return False
        r = int(parts[-1])
        results.append(r)
        carry = borrow_out if op == "-" else r // 10
    digits = str(results[-1]) + "".join(str(r % 10) for r in reversed(results[:-1]))
    return answer == str(int(digits))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_gold_is_pythons_eval_and_the_working_is_right(seed):
    rng = np.random.default_rng(seed)
    q = A.sample_question(rng)
    gold = A.gold_of(q)
    assert gold == eval(q) and gold >= 0
    w = A.work(q)
    assert w.answer == gold
    assert independent_check(q, w.text, str(w.answer))
    assert A.check_working(q, A.worked_solution(q)) is True


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_every_slip_gives_a_wrong_answer(seed):
    rng = np.random.default_rng(seed)
    q = A.sample_question(rng)
    for slip in A.possible_slips(q):
        w = A.work(q, slip, rng=rng)
        assert w.answer != A.gold_of(q)
        assert not independent_check(q, w.text, str(w.answer))
        # every step is still an equation between numbers, the answer a number
        assert all(re.fullmatch(r"\d+([+\-*]\d+)*(=\d+([+\-]\d+)?)*", s) for s in w.steps)


def test_worked_examples_by_hand():
    assert A.work("347+285") == A.Working(("7+5=12", "4+8+1=12+1=13", "3+2+1=5+1=6"), 632)
    assert A.work("502-178") == A.Working(("12-8=4", "10-7-1=3-1=2", "5-1-1=4-1=3"), 324)
    assert A.work("47*6") == A.Working(("7*6=42", "4*6+4=24+4=28"), 282)
    assert A.work("100-1") == A.Working(("10-1=9", "10-1=9", "1-1=0"), 99)  # a lone digit and a borrow
    assert A.work("347-285").answer == 62  # "062": the leading zero drops
    assert A.work("10-10") == A.Working(("0-0=0", "1-1=0"), 0)
    assert A.work("347+52") == A.Working(("7+2=9", "4+5=9", "3=3"), 399)
    assert A.possible_slips("10-10") == ("digit",)  # no carry, a one-digit answer
    assert A.possible_slips("12+13") == ("digit", "drop")


def test_every_corpus_solution_is_right_unless_it_is_a_slip():
    rng = np.random.default_rng(1)
    texts = A.corpus(3000, rng)
    counts = dict.fromkeys(["template-right", "template-slip", "template-bare", "other"], 0)
    for text in texts:
        prompt, completion = text.split("=", 1)
        q = prompt
        assert A.split_of(q) == "train"  # pretraining never sees a test problem
        assert eval(q) == A.gold_of(q)
        assert completion.endswith("<eos>") and completion.count("<eos>") == 1
        encode(text)  # every character is in the vocabulary
        m = TEMPLATE.fullmatch(completion)
        if m and "=" in m.group(1):
            if independent_check(q, m.group(1), m.group(2)):
                assert int(m.group(2)) == eval(q)
                counts["template-right"] += 1
            else:  # a deliberate slip: the answer is wrong
                assert int(m.group(2)) != eval(q)
                counts["template-slip"] += 1
        elif m:
            assert int(m.group(2)) == eval(q)
            counts["template-bare"] += 1
        else:
            counts["other"] += 1
    share = {k: v / len(texts) for k, v in counts.items()}
    mix = A.DEFAULT_MIX
    assert share["template-right"] == pytest.approx(mix["worked"], abs=0.03)
    assert share["template-slip"] == pytest.approx(mix["slip"], abs=0.03)
    assert share["template-bare"] == pytest.approx(mix["short"], abs=0.03)


def test_corpus_texts_fit_the_context():
    rng = np.random.default_rng(2)
    lengths = [len(encode(t)) for t in A.corpus(2000, rng)]
    assert max(lengths) <= 80


def test_train_and_test_never_overlap():
    rng = np.random.default_rng(3)
    train, _ = A.problems(4000, split="train", rng=rng)
    test, golds = A.problems(1000, split="test", rng=rng)
    assert not set(train) & set(test)
    assert len(set(test)) == 1000  # no repeats within a call
    assert all(eval(p[:-1]) == g for p, g in zip(test, golds))
    # about a fifth of all problems are test problems (hash split), per operation too
    qs = [A.sample_question(rng) for _ in range(20000)]
    assert np.mean([A.split_of(q) == "test" for q in qs]) == pytest.approx(0.2, abs=0.015)
    for op in A.OPERATIONS:
        share = np.mean([A.split_of(q) == "test" for q in qs if op in q])
        assert share == pytest.approx(0.2, abs=0.03)


def test_problems_are_seeded_and_plain_expressions():
    p1, g1 = A.problems(50, rng=np.random.default_rng(7))
    p2, g2 = A.problems(50, rng=np.random.default_rng(7))
    assert (p1, g1) == (p2, g2)
    for p, g in zip(p1, g1):
        q = A.question_of(p)
        assert p == q + "=" and re.fullmatch(r"\d+[+\-*]\d+", q)
        assert eval(q) == g and isinstance(g, int)
        assert A.split_of(q) == "test"


def test_asking_for_more_problems_than_a_split_holds_raises():
    """It looped forever. The two splits' counts, read from the messages, add up to every question
    sample_question can draw: 900 x 900 sums, 900 x 901 / 2 differences, 90 x 8 products."""
    counts = {}
    for split in A.SPLITS:
        with pytest.raises(ValueError, match=rf"n=1216171 is more than the \d+ distinct {split}") as info:
            A.problems(1_216_171, split=split, rng=np.random.default_rng(0))
        counts[split] = int(re.search(r"the (\d+) distinct", str(info.value)).group(1))
    assert counts["test"] + counts["train"] == 900 * 900 + 900 * 901 // 2 + 90 * 8
    assert counts["test"] / (counts["test"] + counts["train"]) == pytest.approx(0.2, abs=0.005)
    with pytest.raises(ValueError, match="distinct test"):
        A.problems(counts["test"] + 1, split="test", rng=np.random.default_rng(0))


def test_rewards_read_the_decoded_text():
    golds = [632] * 8
    outs = ["<think>7+5=12,4+8+1=12+1=13,3+2+1=5+1=6</think><answer>632</answer><eos>",
            "<think></think><answer>632</answer>",
            "<think>7+5=12</think><answer>631</answer><eos>",
            "632<eos>",
            "the answer is 632<eos>",
            "i think it is 632<eos>",      # the grader cannot read this one
            "<think>7+5=12,4+8+1=13",      # cut off: no answer, no format
            "<think>x</think><answer>632</answer>junk"]
    acc = A.accuracy_reward(outs, golds)
    fmt = A.format_reward(outs)
    np.testing.assert_array_equal(acc, [1, 1, 0, 1, 1, 0, 0, 1])
    np.testing.assert_array_equal(fmt, [1, 1, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(A.rewards(outs, golds), acc + fmt)
    assert [A.writes_working(o) for o in outs] == [True, False, True, False, False, False, True, False]
    assert A.check_working("347+285", outs[0]) is True
    assert A.check_working("347+285", outs[2]) is False
    assert A.check_working("347+285", outs[1]) is None


def test_text_after_eos_is_ignored():
    assert A.accuracy_reward(["632<eos>7"], [632])[0] == 1.0
    assert A.format_reward(["<think></think><answer>1</answer><eos><think>"])[0] == 1.0


@pytest.mark.parametrize("bad, exc, match", [
    ("47/3", ValueError, "question"),
    ("3-47", ValueError, "negative"),
    ("47*12", ValueError, "one-digit"),
    (47, TypeError, "question"),
    ("047+3", ValueError, "question"),
])
def test_bad_questions(bad, exc, match):
    with pytest.raises(exc, match=match):
        A.gold_of(bad)


def test_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="split"):
        A.problems(3, split="dev", rng=rng)
    with pytest.raises(ValueError, match="n must"):
        A.problems(0, rng=rng)
    with pytest.raises(TypeError, match="rng"):
        A.problems(3, rng=0)
    with pytest.raises(ValueError, match="slip"):
        A.work("10-10", "carry", rng=rng)
    with pytest.raises(ValueError, match="slip"):
        A.work("12+13", "wobble", rng=rng)
    with pytest.raises(ValueError, match="style"):
        A.completion("12+13", "poem", rng)
    with pytest.raises(ValueError, match="mix"):
        A.corpus(5, rng, {"worked": -1.0})
    with pytest.raises(ValueError, match="golds"):
        A.accuracy_reward(["1"], [1, 2])
    with pytest.raises(TypeError, match="sequence"):
        A.format_reward("<think></think><answer>1</answer>")
    with pytest.raises(ValueError, match="prompt"):
        A.question_of("12+13")


def test_the_mix_is_read_in_a_fixed_order():
    mix = dict(A.DEFAULT_MIX)
    shuffled = dict(sorted(mix.items()))  # as a JSON log with sorted keys gives it back
    assert A.corpus(50, np.random.default_rng(3), mix) == A.corpus(50, np.random.default_rng(3), shuffled)

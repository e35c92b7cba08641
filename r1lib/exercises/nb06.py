"""Exercises of notebook 06 (the R1 recipe in miniature).

06.1  R1-Zero's rule-based reward from an output's text: accuracy + format
      (arXiv:2501.12948 v1 sec. 2.2.2);
06.2  the k at which the base model's pass@k catches up with an RL-tuned model's
      (Yue et al. 2025, arXiv:2504.13837), from per-problem correct counts (0: never);
06.3  the SFT gradient of sequence-level distillation on the student's logits, and its limit:
      with many teacher samples it is the gradient of KL(teacher || student) (notebook 01).

Reference values come from r1lib (:mod:`r1lib.labs.r1_recipe`, :func:`r1lib.pass_at_k`,
:func:`r1lib.softmax`); feedback names the failing case and the property it breaks, never the
expected value.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..labs import r1_recipe
from ..metrics import pass_at_k
from ..softmax import softmax
from .registry import Wrong, call, close, exercise, plain


def _quiet_call(fn, *args):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return call(fn, *args)


def _number(got, what: str) -> float:
    if isinstance(got, (bool, np.bool_)):
        return float(got)
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise Wrong(f"{what}: expected a number, got {type(got).__name__}") from None
    return value


# ---------------------------------------------------------------------------------------------
# 06.1 R1-Zero's reward from text
# ---------------------------------------------------------------------------------------------

def _reward_cases() -> list[tuple[str, int, float, float]]:
    """(text, gold, accuracy, format) for hand-picked traps and sampled outputs of three policies."""
    task = r1_recipe.make_task(n_problems=16, rng=60)
    cases = []
    hand = [  # written by hand: each isolates one rule
        ("<think>[a]</think><answer>7</answer>", 7),
        ("<think>[a]</think><answer>7</answer>", 3),
        ("<think></think><answer>7</answer>", 7),            # empty reasoning
        ("<answer>7</answer>", 7),                            # no <think> block
        ("<think>[b]7</think><answer>4</answer>", 7),        # gold only inside the reasoning
        ("<think>[c]</think><answer>77</answer>", 7),        # two digits: not one final answer
        ("<think>[a]</think>7</answer>", 7),                 # no <answer> tag
        ("<think>[a]<answer>7</answer>", 7),                 # </think> missing
        ("<think>[b]5</think><answer>5</answer>", 5),
        ("<think><think>[a]</think><answer>2</answer>", 2),  # a tag inside the reasoning
    ]
    for text, gold in hand:
        cases.append((text, gold))
    gen = np.random.default_rng(61)
    for policy in (r1_recipe.teacher_base(), r1_recipe.student_base()):
        s = r1_recipe.sample(policy, task, 12, gen, temperature=1.0)
        for i in range(task.n_problems):
            for j in range(0, 12, 3):
                cases.append((r1_recipe.render(s, i, j), int(task.gold[s.problems[i]])))
    out = []
    for text, gold in cases:
        acc, fmt = _reference_reward(text, gold)
        out.append((text, gold, acc, fmt))
    return out


def _reference_reward(text: str, gold: int) -> tuple[float, float]:
    """Accuracy and format of a text, through r1_recipe's token-level checkers."""
    task = r1_recipe.Task(gold=np.array([gold]), results=np.zeros((1, 3), dtype=int))
    s = r1_recipe.samples_from_tokens(task, np.array([0]), [r1_recipe.tokenize(text)])
    return float(r1_recipe.strict_accuracy(task, s)[0, 0]), float(r1_recipe.format_ok(s)[0, 0])


_REWARD_CASES: list = []


@exercise("06.1", title="R1-Zero's rule-based reward",
          hints=("Two separate checks, each worth 0 or 1: does the whole text follow the template of "
                 "section 1, and is its final answer the gold digit?",
                 "Format: one regular expression anchored with ^ and $ must match the whole text; inside "
                 "<think> it allows one or more tokens, each a digit or a strategy.",
                 "Accuracy: only the digit inside <answer>...</answer> at the very end of the text counts; "
                 "a gold digit inside <think> earns nothing (the loophole of the reward-hacking section)."))
def _check_reward(answer):
    if not _REWARD_CASES:
        _REWARD_CASES.extend(_reward_cases())
    for text, gold, acc, fmt in _REWARD_CASES:
        what = f"text {text!r} with gold {gold}"
        got = _number(_quiet_call(answer, text, gold), what)
        if got not in (0.0, 1.0, 2.0):
            raise Wrong(f"{what}: the reward is accuracy (0 or 1) + format (0 or 1), so it is 0, 1 or 2; "
                        f"got {plain(got)}")
        if acc == 0 and gold is not None and str(gold) in text and got > acc + fmt:
            raise Wrong(f"{what}: the reward is too large -- the gold digit appears in the text, but "
                        "only the final <answer> counts (this is the loophole of the reward-hacking section)")
        close(got, acc + fmt, what)
    return f"{len(_REWARD_CASES)} outputs (hand-written traps and samples of two policies)"


# ---------------------------------------------------------------------------------------------
# 06.2 where the base catches up
# ---------------------------------------------------------------------------------------------

def _crossover(n: int, c_base: np.ndarray, c_rl: np.ndarray):
    ks = np.arange(1, n + 1)
    base = pass_at_k(n, c_base[:, None], ks[None, :]).mean(axis=0)
    rl = pass_at_k(n, c_rl[:, None], ks[None, :]).mean(axis=0)
    reached = np.flatnonzero(base >= rl)
    return int(ks[reached[0]]) if reached.size else None


def _crossover_cases():
    gen = np.random.default_rng(62)
    cases = []
    # RL sharpens: most problems solved almost always, some lost; the base solves a little of all.
    n = 64
    c_base = gen.binomial(n, 0.12, size=40)
    c_rl = np.where(np.arange(40) < 26, gen.binomial(n, 0.9, size=40), 0)
    cases.append(("n = 64: a sharpened RL model against a broad base", n, c_base, c_rl))
    n = 16
    c_base = np.array([2, 1, 3, 0, 4, 2, 1, 1])
    c_rl = np.array([12, 0, 14, 0, 16, 0, 9, 0])
    cases.append(("n = 16, 8 problems", n, c_base, c_rl))
    n = 8
    c_base = np.array([1, 0, 2, 1])
    c_rl = np.array([6, 5, 7, 8])
    cases.append(("n = 8: RL better on every problem", n, c_base, c_rl))
    n = 10
    cases.append(("n = 10: the base already ahead at k = 1", n, np.array([5, 6, 4]), np.array([5, 2, 4])))
    cases.append(("n = 10: equal pass@1, the base ahead from k = 2 (a tie counts as caught up)", n,
                  np.array([5, 5]), np.array([10, 0])))
    return cases


@exercise("06.2", title="where the base catches up (pass@k crossover)",
          hints=("Compare the two models' mean pass@k over the problems for k = 1, 2, ..., n (section 5); "
                 "r1lib.pass_at_k(n, c, k) is allowed and takes arrays.",
                 "pass@k is computed per problem, then averaged over the problems: never pool the counts "
                 "of all problems into one.",
                 "Return a k (counting from 1, not an array index), the first at which the base is at least "
                 "as good (a tie counts); 0 if there is none, since 0 is not a valid k."))
def _check_crossover(answer):
    for what, n, c_base, c_rl in _crossover_cases():
        got = _quiet_call(answer, n, c_base.copy(), c_rl.copy())
        expected = _crossover(n, c_base, c_rl)
        expected = 0 if expected is None else expected
        if isinstance(got, (bool, np.bool_)) or not isinstance(got, (int, np.integer)):
            raise Wrong(f"{what}: expected an integer k (or 0), got {type(got).__name__}")
        pooled = _pooled_crossover(n, c_base, c_rl)
        pooled = 0 if pooled is None else pooled
        if got == pooled and pooled != expected:
            raise Wrong(f"{what}: this looks like pass@k of the pooled counts; pass@k is computed per "
                        "problem and then averaged")
        if expected == 0 and got != 0:
            raise Wrong(f"{what}: the base never catches up here, so the answer is 0")
        if got == 0 and expected != 0:
            raise Wrong(f"{what}: the base does catch up within k <= n; got 0")
        if got == expected - 1:
            raise Wrong(f"{what}: off by one -- k starts at 1, an array index at 0")
        if got != expected:
            direction = "too large" if got > expected else "too small"
            raise Wrong(f"{what}: your k is {direction}")
    return "five benchmarks: one where the base never catches up, one where it leads at k = 1, one tie"


def _pooled_crossover(n: int, c_base: np.ndarray, c_rl: np.ndarray):
    P = len(c_base)
    ks = np.arange(1, n + 1)
    base = pass_at_k(n * P, int(c_base.sum()), ks)
    rl = pass_at_k(n * P, int(c_rl.sum()), ks)
    reached = np.flatnonzero(base >= rl)
    return int(ks[reached[0]]) if reached.size else None


# ---------------------------------------------------------------------------------------------
# 06.3 the SFT gradient of sequence-level distillation
# ---------------------------------------------------------------------------------------------

@exercise("06.3", title="the SFT gradient of distillation on teacher samples",
          hints=("Start from one sample y: what is d log softmax(z)[y] / dz? (notebook 01, section 4.4)",
                 "For one sample it is a one-hot vector for y minus a part that does not depend on y; "
                 "averaging over the samples turns the one-hot vectors into their empirical distribution.",
                 "It is the gradient of the log-likelihood, which SFT ascends (not of the loss): mind the "
                 "sign, and take the mean over the samples, not the sum."))
def _check_sft_grad(answer):
    gen = np.random.default_rng(63)
    cases = [
        ("logits [0, 0, 0] and samples [0, 0, 1]", np.zeros(3), np.array([0, 0, 1])),
        ("logits [2, -1, 0.5, 0] and samples [3, 3, 3, 0, 2]", np.array([2.0, -1.0, 0.5, 0.0]),
         np.array([3, 3, 3, 0, 2])),
        ("10 logits and 200 samples", gen.normal(size=10), gen.integers(0, 10, size=200)),
    ]
    for what, z, ys in cases:
        got = _quiet_call(answer, z.copy(), ys.copy())
        expected = np.bincount(ys, minlength=len(z)) / len(ys) - softmax(z)
        try:
            g = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            raise Wrong(f"{what}: expected an array of numbers, got {type(got).__name__}") from None
        if g.shape == expected.shape and np.allclose(g, -expected, atol=1e-9) and not np.allclose(expected, 0):
            raise Wrong(f"{what}: the sign is flipped -- this is the gradient of the loss (NLL); the "
                        "exercise asks for the gradient of the log-likelihood, which SFT ascends")
        if g.shape == expected.shape and np.allclose(g, len(ys) * expected, atol=1e-9) and len(ys) > 1:
            raise Wrong(f"{what}: the gradient is summed over the samples; take the mean")
        close(g, expected, what, rtol=1e-7, atol=1e-10)
    # With many samples the mean gradient tends to p_teacher - p_student (notebook 01's KD gradient
    # at T = 1, with the opposite sign because it is ascended here).
    return "three cases, the sum and the sign"

"""Exercises of notebook 07 (the R1 recipe on a real, tiny transformer).

07.1  the per-token log-probabilities of a completion from the logits of one forward pass over
      prompt + completion (the logits at position t score the token at t + 1);
07.2  R1-Zero's group-relative advantages of one sampled group, from the decoded texts:
      accuracy (r1lib's grader, after cutting ``<eos>``) + format (R1-Zero's template),
      standardised within the group (arXiv:2501.12948 v1 sec. 2.2; DeepSeekMath eq. 3);
07.3  the k3 estimate of KL(pi || pi_ref) over a padded batch of completions, averaged over the
      real tokens only (what the training log calls ``kl``);
07.4  the entropy (nats) of the next-token distribution softmax(z / T), stable for large logits.

Reference values come from r1lib (:func:`r1lib.log_softmax`, :func:`r1lib.group_advantages`,
:func:`r1lib.kl_k3`, :func:`r1lib.entropy`) and the tiny transformer's task
(:mod:`r1lib.labs.lm.arithmetic`); the feedback names the failing case and the property it breaks,
never the expected numbers.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..grading import builtin_grade
from ..grpo import group_advantages
from ..kl_estimators import kl_k1, kl_k3
from ..labs import lm
from ..labs.lm import arithmetic
from ..softmax import entropy, log_softmax
from .registry import Wrong, as_array, call, close, exercise


def _quiet_call(fn, *args):
    """The learner's function with NumPy's warnings silenced: a 0/0 shows up as the NaN it gives
    (which the checks name), not as a warning above the feedback."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return call(fn, *args)


def _matches(got: np.ndarray, other: np.ndarray, rtol: float = 1e-6) -> bool:
    other = np.asarray(other, dtype=float)
    return (got.shape == other.shape and bool(np.all(np.isfinite(got)))
            and bool(np.allclose(got, other, rtol=rtol, atol=1e-9)))


def _sharp_model(seed: int) -> lm.Transformer:
    """A small random transformer whose weights are scaled up, so its next-token distributions are
    far from uniform (a fresh model's logits are all near 0, which would hide an off-by-one)."""
    config = lm.Config(context=64, d_model=32, n_layers=2, n_heads=2, d_mlp=64, dtype="float64")
    model = lm.Transformer.init(config, np.random.default_rng(seed))
    for name, w in model.params.items():
        if name.endswith(".w") or name.endswith("_emb"):
            w *= 40.0
    return model


# ---------------------------------------------------------------------------------------------
# 07.1 completion log-probs from the logits
# ---------------------------------------------------------------------------------------------

def _logprob_cases() -> list:
    cases = []
    model = _sharp_model(71)
    for prompt, completion in (("47+38=", "<think>7+8=15,4+3+1=8</think><answer>85</answer><eos>"),
                               ("502-178=", "324<eos>"),
                               ("9*7=", "<think>9*7=63</think><answer>63</answer><eos>")):
        ids = lm.encode(prompt + completion)
        logits, _ = model.forward(ids[None, :])
        expected = lm.log_probs(model, [prompt], [completion])[0]
        cases.append((f"the model's logits over {prompt + completion!r} (prompt {prompt!r}, "
                      f"{len(ids)} tokens)", logits[0], ids, len(lm.encode(prompt)), expected))
    gen = np.random.default_rng(72)
    ids = gen.integers(0, 5, size=7)
    logits = 800.0 * gen.normal(size=(7, 5))          # large logits: exp overflows without the shift
    expected = np.take_along_axis(log_softmax(logits[2:6]), ids[3:, None], axis=1)[:, 0]
    cases.append(("7 tokens over a vocabulary of 5 with logits of size ~800 (prompt of 3 tokens)",
                  logits, ids, 3, expected))
    return cases


@exercise("07.1", title="the log-probabilities of a completion, from the logits",
          hints=("A forward pass over prompt + completion returns one row of logits per position, and "
                 "the row at position t is the model's prediction of the token at position t + 1. Which "
                 "rows score the completion's tokens?",
                 "The completion's first token sits at position n_prompt; it is scored by row n_prompt - 1, "
                 "and the last row (after the last token) scores nothing.",
                 "Turn each row into log-probabilities before you pick from it: logits minus their logsumexp "
                 "(shift by the row maximum so exp cannot overflow)."))
def _check_log_probs(answer):
    for what, logits, ids, n_prompt, expected in _logprob_cases():
        L = len(ids) - n_prompt
        got = as_array(_quiet_call(answer, logits.copy(), ids.copy(), n_prompt), what, (L,),
                       " (one log-probability per completion token)")
        if not np.all(np.isfinite(got)):
            raise Wrong(f"{what}: got nan or inf; with large logits, subtract each row's maximum before "
                        "exponentiating (logsumexp)")
        rows = np.arange(n_prompt, n_prompt + L)
        same_row = log_softmax(logits)[np.minimum(rows, len(ids) - 1), ids[rows]]
        if _matches(got[:-1], same_row[:-1]) and not _matches(got, expected):
            raise Wrong(f"{what}: off by one position -- the logits at position t score the token at "
                        "position t + 1, so the completion's first token is scored by row n_prompt - 1")
        raw = logits[rows - 1, ids[rows]]
        if _matches(got, raw) and not _matches(got, expected):
            raise Wrong(f"{what}: these are the raw logits of the tokens; a log-probability subtracts the "
                        "row's logsumexp (log_softmax), so it is <= 0")
        if np.any(got > 1e-9):
            raise Wrong(f"{what}: a log-probability is <= 0, got a positive value (probabilities "
                        "instead of their logarithm?)")
        close(got, expected, what, rtol=1e-6, atol=1e-8)
    return ("three texts through a real (random, float64) transformer, equal to lm.log_probs, and "
            "logits of size ~800")


# ---------------------------------------------------------------------------------------------
# 07.2 R1-Zero's advantages of one sampled group
# ---------------------------------------------------------------------------------------------

def _group(question: str, styles: str, seed: int) -> list[str]:
    gen = np.random.default_rng(seed)
    names = {"w": "worked", "s": "slip", "h": "short", "b": "bare", "p": "plain", "c": "chat"}
    return [arithmetic.completion(question, names[c], gen) for c in styles]


def _advantage_cases() -> list:
    cut = arithmetic.worked_solution("347+285")[:-12]          # stopped by max_new_tokens: no answer
    return [
        ("a group of 8 outputs for '47+38' (worked, slips, a bare answer, chat)",
         _group("47+38", "wsswbchw", 73), 85),
        ("a group of 6 outputs for '502-178' (every style once)", _group("502-178", "wshbpc", 74), 324),
        ("a group of 4 outputs for '347+285', one cut off by max_new_tokens (no <eos>)",
         _group("347+285", "wbs", 75) + [cut], 632),
        ("a group of 8 outputs for '96*7' (mostly bare answers and chat)", _group("96*7", "bbcbpcbb", 76), 672),
        ("an all-equal group of 4 worked outputs for '23+19'", _group("23+19", "wwww", 77), 42),
    ]


def _reference_advantages(texts: list, gold: int) -> np.ndarray:
    r = arithmetic.rewards(texts, [gold] * len(texts))
    return group_advantages(r, ddof=1, eps=0.0)


@exercise("07.2", title="R1-Zero's advantages of one sampled group",
          hints=("Reward each text with accuracy + format (each 0 or 1), as R1-Zero does, then "
                 "standardise the G rewards within the group, as notebook 04 did.",
                 "Cut each text at '<eos>' before you grade it: r1lib.is_correct(text, gold, "
                 "grader='builtin') reads a bare '85' but not '85<eos>'. The format is the whole text "
                 "matching <think>...</think><answer>...</answer> (the thinking may be empty, the answer "
                 "not; no tag inside either).",
                 "Standardise with the sample std (ddof=1), as TRL and verl do. An all-equal group has "
                 "std 0: its advantages must be exactly 0, not NaN."))
def _check_advantages(answer):
    for what, texts, gold in _advantage_cases():
        got = as_array(_quiet_call(answer, list(texts), gold), what, (len(texts),), " (one advantage per output)")
        expected = _reference_advantages(texts, gold)
        if np.all(expected == 0):
            if not np.all(got == 0):
                state = "NaN (0/0)" if np.isnan(got).any() else "non-zero values"
                raise Wrong(f"{what}: every output gets the same reward, so the group carries no signal and "
                            f"every advantage must be exactly 0; got {state}")
            continue
        acc = arithmetic.accuracy_reward(texts, [gold] * len(texts))
        fmt = arithmetic.format_reward(texts)
        raw_acc = np.array([float(_raw_grade(t, gold)) for t in texts])
        raw = group_advantages(raw_acc + fmt, ddof=1, eps=0.0)
        if not _matches(raw, expected) and _matches(got, raw):
            raise Wrong(f"{what}: a bare answer such as '85<eos>' is graded wrong here -- cut the text at "
                        "'<eos>' before grading it")
        for name, r in (("accuracy only", acc), ("format only", fmt)):
            alternative = group_advantages(r, ddof=1, eps=0.0)
            if np.ptp(r) > 0 and _matches(got, alternative) and not _matches(alternative, expected):
                raise Wrong(f"{what}: these are the advantages of the {name} reward; R1-Zero's reward is "
                            "accuracy + format")
        if _matches(got, group_advantages(acc + fmt, ddof=0, eps=0.0)) and not _matches(got, expected):
            raise Wrong(f"{what}: standardised with the population std (ddof=0, NumPy's default); "
                        "GRPO implementations (TRL, verl) divide by the sample std (ddof=1)")
        if abs(float(np.sum(got))) > 1e-6 * len(got):
            raise Wrong(f"{what}: advantages standardised within a group sum to 0; yours do not (a reward "
                        "read wrongly from one of the texts, or the mean not subtracted?)")
        close(got, expected, what, rtol=2e-3, atol=1e-6)
    return "five groups of real-looking outputs: worked, slipped, bare, chat, cut off, and an all-equal group"


def _raw_grade(text: str, gold: int) -> bool:
    """The builtin grader on the raw text, ``<eos>`` left in (the mistake the check names)."""
    return builtin_grade(text, gold)[0]


# ---------------------------------------------------------------------------------------------
# 07.3 k3 over a padded batch
# ---------------------------------------------------------------------------------------------

def _padded(lengths: list, seed: int, drift: float):
    gen = np.random.default_rng(seed)
    N, L = len(lengths), max(lengths)
    mask = np.arange(L)[None, :] < np.asarray(lengths)[:, None]
    logp = -gen.exponential(0.6, size=(N, L))
    ref = logp + gen.normal(0.0, drift, size=(N, L))
    ref = np.minimum(ref, 0.0)
    return np.where(mask, logp, 0.0), np.where(mask, ref, 0.0), np.asarray(lengths), mask


def _kl_cases() -> list:
    return [(f"a batch of {len(lens)} completions of lengths {lens}", *_padded(lens, seed, drift))
            for lens, seed, drift in (([5, 12, 3, 9], 78, 0.4), ([20, 2, 2, 2, 7, 14], 79, 0.8),
                                      ([6, 6, 6], 80, 0.3))]


@exercise("07.3", title="the k3 KL over a padded batch",
          hints=("k3 is notebook 03's estimator, one value per token, computed from the policy's and the "
                 "reference's log-probabilities of the sampled tokens. Which entries of the padded arrays "
                 "are tokens?",
                 "Build a mask from the lengths: position j of row i is a token when j < lengths[i]. The "
                 "ratio has the reference on top, r = pi_ref / pi.",
                 "The log's number is the mean over all real tokens of the batch: divide by the number of "
                 "tokens, not by the padded size, and do not average per-row means (a short completion "
                 "would weigh as much as a long one)."))
def _check_kl(answer):
    for what, logp, ref, lengths, mask in _kl_cases():
        got = _quiet_call(answer, logp.copy(), ref.copy(), lengths.copy())
        try:
            got = float(np.asarray(got, dtype=float))
        except (TypeError, ValueError):
            raise Wrong(f"{what}: expected one number (the batch's mean k3 per token), got "
                        f"{type(got).__name__}") from None
        k3 = kl_k3(logp, ref)
        expected = float(np.sum(k3 * mask) / mask.sum())
        if abs(got - float(np.mean(k3))) < 1e-9 and abs(got - expected) > 1e-9:
            raise Wrong(f"{what}: the padding was averaged in; the pads are not tokens, so divide by the "
                        "number of real tokens")
        per_row = float(np.mean(np.sum(k3 * mask, axis=1) / lengths))
        if abs(got - per_row) < 1e-9 and abs(got - expected) > 1e-9:
            raise Wrong(f"{what}: this is the mean of per-completion means, which weighs a short completion's "
                        "tokens more; the log averages over all tokens of the batch")
        k1 = float(np.sum(kl_k1(logp, ref) * mask) / mask.sum())
        if abs(got - k1) < 1e-9:
            raise Wrong(f"{what}: this is k1 (log pi - log pi_ref); the log reports k3")
        swapped = float(np.sum(kl_k3(ref, logp) * mask) / mask.sum())
        if abs(got - swapped) < 1e-9 and abs(got - expected) > 1e-9:
            raise Wrong(f"{what}: the ratio is upside down: k3 uses r = pi_ref / pi (exp(ref_logp - logp))")
        if got < 0:
            raise Wrong(f"{what}: k3 is >= 0 for every token, so its mean cannot be negative")
        close(got, expected, what, rtol=1e-8)
    return "three padded batches (lengths from 2 to 20)"


# ---------------------------------------------------------------------------------------------
# 07.4 the entropy of the next-token distribution at temperature T
# ---------------------------------------------------------------------------------------------

def _entropy_cases() -> list:
    model = _sharp_model(81)
    text = "347+285=<think>7+5=12,4+8+1=13,3+2+1=6</think><answer>632</answer>"
    logits = model.forward(lm.encode(text)[None, :])[0][0]
    cases = [(f"the model's logits at the {len(logits)} positions of {text!r}, T = {T}", logits, T)
             for T in (1.0, 0.3, 4.0)]
    gen = np.random.default_rng(82)
    cases.append(("a vector of 6 logits of size ~1000, T = 0.5", 1000.0 * gen.normal(size=6), 0.5))
    cases.append(("logits [2, 0, -1], T = 1", np.array([2.0, 0.0, -1.0]), 1.0))
    return cases


@exercise("07.4", title="the entropy of the next-token distribution at temperature T",
          hints=("Work with log-probabilities: with logits in the thousands exp overflows, but log p can "
                 "be computed without exponentiating anything large (shift by the maximum first).",
                 "The temperature divides the logits, softmax(z / T); it does not multiply them.",
                 "Reduce over the last axis only, so that an (L, V) array gives L entropies and a 1-D "
                 "vector one; use the natural log (nats)."))
def _check_entropy(answer):
    for what, logits, T in _entropy_cases():
        expected = entropy(logits, temperature=T)
        shape = expected.shape
        got = _quiet_call(answer, logits.copy(), T)
        got = as_array(got, what, shape, " (one entropy per row of logits)")
        if not np.all(np.isfinite(got)):
            raise Wrong(f"{what}: got nan or inf; shift the scaled logits by their maximum before "
                        "exponentiating")
        if _matches(got, entropy(logits * T)) and not _matches(got, expected):
            raise Wrong(f"{what}: the logits were multiplied by T; the temperature divides them, softmax(z / T)")
        if _matches(got, expected / np.log(2)) and not _matches(got, expected):
            raise Wrong(f"{what}: this is in bits (log base 2); the notebook measures entropy in nats (np.log)")
        if np.any(got < -1e-9):
            raise Wrong(f"{what}: an entropy is >= 0; check the sign of -sum p log p")
        close(got, expected, what, rtol=1e-7, atol=1e-9)
    return "real logits at three temperatures, logits of size ~1000, a hand case"

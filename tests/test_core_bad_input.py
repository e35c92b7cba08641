"""The bad-input table: every public function rejects bad input with a clear error that names the
parameter (and the value), never a silent number, never a RuntimeWarning."""
from __future__ import annotations

import numpy as np
import pytest

import r1lib

nan, inf = float("nan"), float("inf")
Z = [[1.0, 2.0, 3.0]]

CASES = [
    # (call, exception, words that must appear in the message)
    ("softmax T=0", lambda: r1lib.softmax(Z, 0.0), ValueError, ["temperature", "0.0"]),
    ("softmax T<0", lambda: r1lib.softmax(Z, -1.0), ValueError, ["temperature", "-1.0"]),
    ("softmax T=nan", lambda: r1lib.softmax(Z, nan), ValueError, ["temperature", "nan"]),
    ("softmax T=inf", lambda: r1lib.softmax(Z, inf), ValueError, ["temperature", "inf"]),
    ("softmax T str", lambda: r1lib.softmax(Z, "2"), TypeError, ["temperature", "'2'"]),
    ("softmax T bool", lambda: r1lib.softmax(Z, True), TypeError, ["temperature"]),
    ("log_softmax NaN logit", lambda: r1lib.log_softmax([1.0, nan]), ValueError, ["logits", "NaN"]),
    ("log_softmax +inf logit", lambda: r1lib.log_softmax([1.0, inf]), ValueError, ["logits", "+inf"]),
    ("log_softmax all -inf", lambda: r1lib.log_softmax([-inf, -inf]), ValueError, ["logits", "-inf"]),
    ("softmax empty", lambda: r1lib.softmax([]), ValueError, ["logits", "empty"]),
    ("softmax 0-d", lambda: r1lib.softmax(3.0), ValueError, ["logits", "dimension"]),
    ("softmax strings", lambda: r1lib.softmax(["a", "b"]), TypeError, ["logits"]),
    ("softmax None", lambda: r1lib.softmax(None), TypeError, ["logits"]),
    ("softmax bad axis", lambda: r1lib.softmax(Z, axis=2), ValueError, ["axis", "2"]),
    ("softmax overflow", lambda: r1lib.softmax([1e300, 0.0], 1e-10), ValueError, ["overflow"]),
    ("entropy T=0", lambda: r1lib.entropy(Z, 0), ValueError, ["temperature"]),
    ("kl negative p", lambda: r1lib.kl_divergence([-0.1, 1.1], [0.5, 0.5]), ValueError, ["p", "negative"]),
    ("kl p not summing", lambda: r1lib.kl_divergence([0.3, 0.3], [0.5, 0.5]), ValueError, ["p", "sum to 1", "0.6"]),
    ("kl q not summing", lambda: r1lib.kl_divergence([0.5, 0.5], [0.9, 0.9]), ValueError, ["q", "sum to 1"]),
    ("kl NaN", lambda: r1lib.kl_divergence([nan, 1.0], [0.5, 0.5]), ValueError, ["p", "NaN"]),
    ("kl shape", lambda: r1lib.kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5]), ValueError, ["p", "q", "(2,)", "(3,)"]),
    ("kl empty", lambda: r1lib.kl_divergence([], []), ValueError, ["p", "empty"]),
    ("jsd beta", lambda: r1lib.generalized_jsd([0.5, 0.5], [0.5, 0.5], 1.5), ValueError, ["beta", "1.5"]),
    ("loss shape", lambda: r1lib.distillation_loss([[1.0, 2.0]], [[1.0, 2.0, 3.0]]), ValueError, ["shape"]),
    ("loss reduction", lambda: r1lib.distillation_loss(Z, Z, reduction="batchmean"), ValueError,
     ["reduction", "'batchmean'", "'mean'"]),
    ("loss T=0", lambda: r1lib.distillation_loss(Z, Z, 0.0), ValueError, ["temperature"]),
    ("loss NaN", lambda: r1lib.distillation_loss([[nan, 1.0]], [[0.0, 1.0]]), ValueError, ["logits", "NaN"]),
    ("loss +inf", lambda: r1lib.distillation_loss([[0.0, 1.0]], [[inf, 1.0]]), ValueError, ["logits", "+inf"]),
    ("grad shape", lambda: r1lib.distillation_grad([[1.0, 2.0]], [[1.0, 2.0, 3.0]]), ValueError, ["shape"]),
    ("grad T nan", lambda: r1lib.distillation_grad(Z, Z, nan), ValueError, ["temperature"]),
    ("pass k > n", lambda: r1lib.pass_at_k(5, 2, 6), ValueError, ["k=6", "n=5"]),
    ("pass c > n", lambda: r1lib.pass_at_k(5, 6, 1), ValueError, ["c=6", "n=5"]),
    ("pass c < 0", lambda: r1lib.pass_at_k(5, -1, 1), ValueError, ["c=-1"]),
    ("pass k = 0", lambda: r1lib.pass_at_k(5, 0, 0), ValueError, ["k=0"]),
    ("pass c=0 still checks k", lambda: r1lib.pass_at_k(3, 0, 4), ValueError, ["k=4"]),
    ("pass n = 0", lambda: r1lib.pass_at_k(0, 0, 1), ValueError, ["n=0"]),
    ("pass non-integer", lambda: r1lib.pass_at_k(5, 2.5, 1), ValueError, ["c", "2.5"]),
    ("pass bool", lambda: r1lib.pass_at_k(5, True, 1), TypeError, ["c"]),
    ("pass str", lambda: r1lib.pass_at_k("5", 2, 1), TypeError, ["n"]),
    ("pass NaN", lambda: r1lib.pass_at_k(5, nan, 1), ValueError, ["c"]),
    ("pass shape", lambda: r1lib.pass_at_k([5, 6], [1, 2, 3], 1), ValueError, ["broadcast"]),
    ("pass empty", lambda: r1lib.pass_at_k([], [], 1), ValueError, ["n", "empty"]),
    ("vote empty", lambda: r1lib.majority_vote([]), ValueError, ["answers", "empty"]),
    ("vote unhashable", lambda: r1lib.majority_vote([[1], [2]]), TypeError, ["hashable", "[1]"]),
    ("vote ties", lambda: r1lib.majority_vote(["a"], ties="random"), ValueError, ["ties", "'random'"]),
    ("vote string", lambda: r1lib.majority_vote("abc"), TypeError, ["answers"]),
    ("maj k > n", lambda: r1lib.maj_at_k(["a", "b"], "a", 3), ValueError, ["k=3", "len(answers) = 2"]),
    ("maj too many answers", lambda: r1lib.maj_at_k(["a"] * 1001, "a", 1), ValueError,
     ["1000", "len(answers) = 1001"]),
    ("maj k = 0", lambda: r1lib.maj_at_k(["a", "b"], "a", 0), ValueError, ["k", "0"]),
    ("maj k float", lambda: r1lib.maj_at_k(["a", "b"], "a", 1.5), ValueError, ["k", "1.5"]),
    ("maj ties", lambda: r1lib.maj_at_k(["a"], "a", 1, ties="first-seen"), ValueError, ["ties", "'first-seen'"]),
    ("maj gold None", lambda: r1lib.maj_at_k(["a"], None, 1), ValueError, ["gold", "None"]),
    ("maj gold unhashable", lambda: r1lib.maj_at_k(["a"], ["a"], 1), TypeError, ["gold"]),
    ("maj empty", lambda: r1lib.maj_at_k([], "a", 1), ValueError, ["answers", "empty"]),
    ("k1 positive logp", lambda: r1lib.kl_k1([0.5], [-1.0]), ValueError, ["logp", "<= 0", "0.5"]),
    ("k2 positive ref", lambda: r1lib.kl_k2([-0.5], [0.1]), ValueError, ["ref_logp", "0.1"]),
    ("k3 NaN", lambda: r1lib.kl_k3([nan], [-1.0]), ValueError, ["logp", "NaN"]),
    ("k3 logp -inf", lambda: r1lib.kl_k3([-inf], [-1.0]), ValueError, ["logp", "-inf"]),
    ("k3 shape", lambda: r1lib.kl_k3([-1.0, -2.0], [-1.0, -2.0, -3.0]), ValueError, ["logp", "ref_logp"]),
    ("k3 empty", lambda: r1lib.kl_k3([], []), ValueError, ["logp", "empty"]),
    ("adv NaN", lambda: r1lib.group_advantages([1.0, nan]), ValueError, ["rewards", "NaN"]),
    ("adv inf", lambda: r1lib.group_advantages([1.0, inf]), ValueError, ["rewards", "inf"]),
    ("adv empty", lambda: r1lib.group_advantages([]), ValueError, ["rewards", "empty"]),
    ("adv ddof", lambda: r1lib.group_advantages([1.0, 2.0], ddof=-1), ValueError, ["ddof", "-1"]),
    ("adv ddof >= G", lambda: r1lib.group_advantages([1.0, 2.0], ddof=2), ValueError, ["ddof=2", "G=2"]),
    ("adv eps", lambda: r1lib.group_advantages([1.0, 2.0], eps=-1e-6), ValueError, ["eps"]),
    ("adv str", lambda: r1lib.group_advantages(["1", "2"]), TypeError, ["rewards"]),
]


@pytest.mark.parametrize("call, exc, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} missing from {message!r}"


def test_temperature_below_the_dtype_range_is_an_error_not_a_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for z in ([1.0, 2.0], [0.0, 1.0], [0.0, -1.0]):
            with pytest.raises(ValueError, match="temperature 1e-50"):
                r1lib.softmax(np.array(z, dtype=np.float32), 1e-50)
            with pytest.raises(ValueError, match="temperature"):
                r1lib.distillation_loss(np.array([z], np.float32), np.array([z], np.float32), 1e-50)


@pytest.mark.parametrize("call, message", [
    (lambda: r1lib.pass_at_k(4, 1, 8), "pass_at_k needs 0 <= c <= n and 1 <= k <= n; got k=8 with n=4, c=1"),
    (lambda: r1lib.pass_at_k(5, 6, 1), "pass_at_k needs 0 <= c <= n and 1 <= k <= n; got c=6 with n=5, k=1"),
    (lambda: r1lib.pass_at_k([4, 5], [1, 6], 2),
     "pass_at_k needs 0 <= c <= n and 1 <= k <= n; got c=6 with n=5, k=2 at index 1"),
    (lambda: r1lib.pass_at_k(5, [[1, 2], [3, 9]], 2),
     "pass_at_k needs 0 <= c <= n and 1 <= k <= n; got c=9 with n=5, k=2 at index (1, 1)"),
    (lambda: r1lib.maj_at_k(["a", "b"], "a", [1, 3]), "k must satisfy 1 <= k <= len(answers) = 2; got k=3"),
])
def test_count_messages_say_each_value_once_and_name_real_parameters(call, message):
    """Issue 21: "got k=8 with n=4, c=1", not "got k=8 with n=4, c=1, k=8"; maj_at_k has no
    parameter n, so its message names len(answers)."""
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message

"""grpo_loss / grpo_loss_grad against the trainers' published formulas, re-derived here.

References written out in this file (never through r1lib's code paths), read from:
- TRL ``GRPOTrainer._compute_loss`` (huggingface/trl, trl/trainer/grpo_trainer.py; the loss_type,
  importance_sampling_level, cispo and use_bias_correction_kl branches as in TRL 0.2x-1.x): per-token
  ratio exp(logp - old) or, at sequence level, exp(masked mean of logp - old) broadcast as a (B, 1)
  column; clipped loss -min(coef_1 A, clamp(coef_1, 1-eps, 1+eps_high) A); cispo
  -detach(clamp(coef_1, max=eps_high)) A logp; kl = exp(ref - logp) - (ref - logp) - 1, times
  coef_1 (not detached) when use_bias_correction_kl; per-token loss + beta kl; aggregation
  grpo: mean_i(sum_t m L / max(n_i, 1)); bnpo: sum m L / max(N, 1); dr_grpo: sum m L / (B Lmax);
  dapo/cispo: sum m L / num_items_in_batch (= N for one process).
- verl ``core_algos`` (volcengine/verl, verl/trainer/ppo/core_algos.py): ``kl_penalty`` (k1 =
  logp - ref, k2 = (logp - ref)^2 / 2, k3 = low_var_kl with clamps at 20 and 10, "+" modes by
  straight-through onto k2), ``agg_loss`` (token-mean, seq-mean-token-mean,
  seq-mean-token-sum-norm), ``compute_policy_loss_gspo`` (token ratio sg[s_i] pi/sg[pi]) and the
  cispo loss (detached two-sided clamp of the ratio times A logp).

Gradients are checked two independent ways: forward-mode dual numbers pushed through the
reference formulas (exact, stop-gradients honoured) and central finite differences.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import r1lib
from numgrad import central_difference
from r1lib.grpo_loss import (IMPORTANCE_SAMPLING_LEVELS, KL_ESTIMATORS, LOSS_TYPES, grpo_loss,
                             grpo_loss_grad)

# ---------------------------------------------------------------------------------------------
# Dual numbers: value + gradient (a vector over all B*T logp entries), exact forward-mode AD
# ---------------------------------------------------------------------------------------------


class Dual:
    __slots__ = ("v", "d")

    def __init__(self, v, d):
        self.v, self.d = float(v), d

    @staticmethod
    def lift(x, size):
        return x if isinstance(x, Dual) else Dual(x, np.zeros(size))

    def _o(self, other):
        return other if isinstance(other, Dual) else Dual(other, np.zeros_like(self.d))

    def __add__(self, o):
        o = self._o(o)
        return Dual(self.v + o.v, self.d + o.d)

    __radd__ = __add__

    def __sub__(self, o):
        o = self._o(o)
        return Dual(self.v - o.v, self.d - o.d)

    def __rsub__(self, o):
        return self._o(o) - self

    def __mul__(self, o):
        o = self._o(o)
        return Dual(self.v * o.v, self.d * o.v + o.d * self.v)

    __rmul__ = __mul__

    def __truediv__(self, o):
        o = self._o(o)
        return Dual(self.v / o.v, (self.d * o.v - self.v * o.d) / (o.v * o.v))

    def __neg__(self):
        return Dual(-self.v, -self.d)

    def __lt__(self, o):
        return self.v < (o.v if isinstance(o, Dual) else o)

    def __gt__(self, o):
        return self.v > (o.v if isinstance(o, Dual) else o)


def exp(x):
    if isinstance(x, Dual):
        e = math.exp(x.v)
        return Dual(e, e * x.d)
    return math.exp(x)


def sg(x):
    """Stop-gradient (torch's .detach())."""
    return Dual(x.v, np.zeros_like(x.d)) if isinstance(x, Dual) else x


def value(x):
    return x.v if isinstance(x, Dual) else float(x)


def tmin(a, b):
    """torch.min of two tensors, away from ties (tests stay off the kinks)."""
    return a if value(a) < value(b) else b


def clamp(x, lo=None, hi=None):
    if lo is not None and value(x) < lo:
        return lo
    if hi is not None and value(x) > hi:
        return hi
    return x


# ---------------------------------------------------------------------------------------------
# TRL's _compute_loss, re-derived per element
# ---------------------------------------------------------------------------------------------


def trl_loss(lp, old, adv, mask, ref=None, beta=0.0, eps=0.2, eps_high=None, loss_type="grpo",
             level="token", max_len=None, kl="k3", bias=False):
    """``lp`` is a (B, T) nested list of floats or Duals; the rest are plain numbers."""
    B, T = len(lp), len(lp[0])
    eps_high = eps if eps_high is None else eps_high
    n = [sum(mask[i]) for i in range(B)]
    total = 0
    row_sums = []
    for i in range(B):
        log_ratio = [lp[i][t] - old[i][t] for t in range(T)]
        if level == "token":  # padding is multiplied by 0 later; its garbage is not evaluated here
            coef_1 = [exp(x) if mask[i][t] else None for t, x in enumerate(log_ratio)]
        else:
            s = sum((log_ratio[t] * mask[i][t] for t in range(T)), 0.0) / max(n[i], 1)
            coef_1 = [exp(s)] * T  # the (B, 1) column, broadcast
        row = 0.0
        for t in range(T):
            if not mask[i][t]:
                continue
            if loss_type == "cispo":
                L = -sg(clamp(coef_1[t], hi=eps_high)) * adv[i] * lp[i][t]
            else:
                coef_2 = clamp(coef_1[t], 1 - eps, 1 + eps_high)
                L = -tmin(coef_1[t] * adv[i], coef_2 * adv[i])
            if beta != 0.0:
                d = ref[i][t] - lp[i][t]
                k3 = exp(d) - d - 1
                if kl == "k3":
                    k = k3
                elif kl == "k1":
                    k = lp[i][t] - ref[i][t]
                elif kl == "k2":
                    k = 0.5 * (lp[i][t] - ref[i][t]) * (lp[i][t] - ref[i][t])
                else:  # k3+: k2 - sg(k2) + sg(k3)
                    k2 = 0.5 * (lp[i][t] - ref[i][t]) * (lp[i][t] - ref[i][t])
                    k = k2 - sg(k2) + sg(k3)
                if bias:
                    k = k * coef_1[t]
                L = L + beta * k
            row = row + L
        row_sums.append(row)
    N = sum(n)
    if loss_type == "grpo":
        total = sum((row_sums[i] / max(n[i], 1) for i in range(B)), 0.0) / B
    elif loss_type == "bnpo":
        total = sum(row_sums, 0.0) / max(N, 1)
    elif loss_type == "dr_grpo":
        total = sum(row_sums, 0.0) / (B * max_len)
    else:  # dapo, cispo: num_items_in_batch / num_processes = N
        total = sum(row_sums, 0.0) / N
    return total


def as_duals(lp):
    B, T = lp.shape
    out = []
    for i in range(B):
        row = []
        for t in range(T):
            d = np.zeros(B * T)
            d[i * T + t] = 1.0
            row.append(Dual(lp[i, t], d))
        out.append(row)
    return out


def trl_value_and_grad(lp, old, adv, mask, **kw):
    res = trl_loss(as_duals(lp), old.tolist(), adv.tolist(), mask.astype(int).tolist(),
                   ref=None if kw.get("ref") is None else kw["ref"].tolist(),
                   **{k: v for k, v in kw.items() if k != "ref"})
    res = Dual.lift(res, lp.size)
    return res.v, res.d.reshape(lp.shape)


def ours(lp, old, adv, mask, **kw):
    """The same switches, spelled as grpo_loss's keyword arguments."""
    args = dict(ref_logp=kw.get("ref"), beta=kw.get("beta", 0.0), epsilon=kw.get("eps", 0.2),
                epsilon_high=kw.get("eps_high"), loss_type=kw.get("loss_type", "grpo"),
                importance_sampling_level=kw.get("level", "token"), max_completion_length=kw.get("max_len"),
                kl=kw.get("kl", "k3"), use_bias_correction_kl=kw.get("bias", False))
    return grpo_loss(lp, old, adv, mask, **args), grpo_loss_grad(lp, old, adv, mask, **args)


# ---------------------------------------------------------------------------------------------
# Random batches with padding, kept off the clip kinks
# ---------------------------------------------------------------------------------------------


def batch(seed, B=6, T=7, spread=0.3, garbage=True, empty_row=False):
    rng = np.random.default_rng(seed)
    lp = -rng.uniform(0.05, 3.0, (B, T))
    old = np.minimum(lp + rng.normal(0, spread, (B, T)), -1e-3)
    ref = np.minimum(lp + rng.normal(0, 0.5, (B, T)), -1e-3)
    adv = rng.normal(size=B)
    lengths = rng.integers(1, T + 1, size=B)
    lengths[0] = T
    if empty_row:
        lengths[-1] = 0
    mask = np.arange(T)[None, :] < lengths[:, None]
    if garbage:  # padding holds values that must never be read
        for a, junk in ((lp, 7.5), (old, -1e30), (ref, 1e3)):
            a[~mask] = junk
    return lp, old, ref, adv, mask


def near_kink(lp, old, mask, eps, eps_high, level, loss_type, margin=1e-4):
    eh = eps if eps_high is None else eps_high
    d = np.where(mask, lp - old, 0.0)
    if level == "token":
        r = np.exp(d)[mask]
    else:
        r = np.exp(d.sum(1) / np.maximum(mask.sum(1), 1))
    kinks = [eh] if loss_type == "cispo" else [1 - eps, 1 + eh]
    return any(np.any(np.abs(r - k) < margin) for k in kinks)


SWITCHES = [
    dict(loss_type=lt, level=lvl)
    for lt in LOSS_TYPES for lvl in IMPORTANCE_SAMPLING_LEVELS
]
KL_SWITCHES = [dict(kl=k, bias=b) for k in KL_ESTIMATORS for b in (False, True)]


@pytest.mark.parametrize("sw", SWITCHES, ids=lambda s: f"{s['loss_type']}-{s['level']}")
@pytest.mark.parametrize("klsw", [None] + KL_SWITCHES,
                         ids=lambda s: "beta0" if s is None else f"{s['kl']}{'-bias' if s['bias'] else ''}")
@pytest.mark.parametrize("seed", [1, 2])
def test_value_and_gradient_match_trl_formula(sw, klsw, seed):
    lp, old, ref, adv, mask = batch(seed, empty_row=(seed == 2))
    kw = dict(sw, max_len=9, eps=0.2, eps_high=0.28 if sw["loss_type"] != "cispo" else 5.0)
    if sw["loss_type"] == "cispo" and seed == 2:
        kw["eps_high"] = 1.1  # a cap that binds for some tokens
    if klsw is not None:
        kw.update(klsw, ref=ref, beta=0.07)
    assert not near_kink(lp, old, mask, kw["eps"], kw["eps_high"], sw["level"], sw["loss_type"])
    want_v, want_g = trl_value_and_grad(lp, old, adv, mask, **kw)
    got_v, got_g = ours(lp, old, adv, mask, **kw)
    assert got_v == pytest.approx(want_v, rel=1e-12, abs=1e-14)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-12, atol=1e-15)
    assert np.all(got_g[~mask] == 0)


@pytest.mark.parametrize("level", IMPORTANCE_SAMPLING_LEVELS)
def test_k3_plus_is_k3_value_with_k2_gradient(level):
    lp, old, ref, adv, mask = batch(6)
    kw = dict(ref=ref, beta=0.2, level=level, loss_type="dapo")
    v_plus, g_plus = ours(lp, old, adv, mask, kl="k3+", **kw)
    v3, g3 = ours(lp, old, adv, mask, kl="k3", **kw)
    v2, g2 = ours(lp, old, adv, mask, kl="k2", **kw)
    assert v_plus == v3 and v_plus != v2
    np.testing.assert_array_equal(g_plus, g2)
    assert not np.allclose(g_plus, g3)
    # so the straight-through gradient is not the finite difference of the value
    fd = central_difference(lambda x: ours(x, old, adv, mask, kl="k3+", **kw)[0], np.where(mask, lp, -1.0))
    assert not np.allclose(fd, g_plus, rtol=1e-3)


def test_the_clip_is_active_in_the_random_batches():
    """The batches above must exercise both sides of the clip, or the tests prove little."""
    lp, old, _, adv, mask = batch(1, spread=0.3)
    r = np.exp((lp - old)[mask])
    assert (r > 1.28).sum() >= 3 and (r < 0.8).sum() >= 3
    assert (adv > 0).any() and (adv < 0).any()


@pytest.mark.parametrize("sw", SWITCHES, ids=lambda s: f"{s['loss_type']}-{s['level']}")
@pytest.mark.parametrize("klsw", [None, dict(kl="k1", bias=False), dict(kl="k2", bias=True), dict(kl="k3", bias=False),
                                  dict(kl="k3", bias=True)],
                         ids=lambda s: "beta0" if s is None else f"{s['kl']}{'-bias' if s['bias'] else ''}")
def test_gradient_matches_central_differences(sw, klsw):
    # (k3+ is left out on purpose: its gradient is k2's, not the derivative of its value.)
    lp, old, ref, adv, mask = batch(5, B=4, T=5, garbage=False)
    kw = dict(sw, max_len=6, eps=0.2, eps_high=0.28)
    if sw["loss_type"] == "cispo":
        # CISPO's weight is detached, so its gradient is the value's derivative only where the
        # weight is constant: a cap below every ratio.
        kw.update(eps=0.01, eps_high=0.05)
        assert np.exp(np.where(mask, lp - old, 0).sum(1) / mask.sum(1)).min() > 0.05
        assert np.exp((lp - old)[mask]).min() > 0.05
    if klsw is not None:
        kw.update(klsw, ref=ref, beta=0.3)
    h = 1e-6
    assert not near_kink(lp, old, mask, kw["eps"], kw["eps_high"], sw["level"], sw["loss_type"], margin=10 * h)
    _, g = ours(lp, old, adv, mask, **kw)
    fd = central_difference(lambda x: ours(x, old, adv, mask, **kw)[0], lp, h=h)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------------------------
# verl's formulas (a second, independently organised source)
# ---------------------------------------------------------------------------------------------


def verl_kl_penalty(lp, ref, mode):
    """verl kl_penalty: forward value, and the '+' straight-through onto k2."""
    if mode.endswith("+"):
        k2 = 0.5 * (lp - ref) * (lp - ref)
        return k2 - sg(k2) + sg(verl_kl_penalty(lp, ref, mode[:-1]))
    if mode == "k1":
        return lp - ref
    if mode == "k2":
        return 0.5 * (lp - ref) * (lp - ref)
    kl = clamp(ref - lp, -20.0, 20.0)
    return clamp(exp(kl) - kl - 1, -10.0, 10.0)


def verl_agg(mat, mask, mode):
    B, T = len(mat), len(mat[0])
    if mode == "token-mean":
        return sum((mat[i][t] for i in range(B) for t in range(T) if mask[i][t]), 0.0) / sum(map(sum, mask))
    seq = [sum((mat[i][t] for t in range(T) if mask[i][t]), 0.0) for i in range(B)]
    if mode == "seq-mean-token-mean":
        return sum((seq[i] / sum(mask[i]) for i in range(B)), 0.0) / B
    if mode == "seq-mean-token-sum-norm":
        return sum(seq, 0.0) / T
    raise AssertionError(mode)


@pytest.mark.parametrize("mode", KL_ESTIMATORS)
@pytest.mark.parametrize("agg, loss_type", [("token-mean", "dapo"), ("seq-mean-token-mean", "grpo")])
def test_kl_estimators_match_verl(mode, agg, loss_type):
    """With A = 0 only the KL term is left: beta * agg(kl_penalty(logp, ref))."""
    lp, old, ref, _, mask = batch(11, garbage=False)
    adv = np.zeros(lp.shape[0])
    beta = 0.05
    mat = [[beta * verl_kl_penalty(x, r, mode) for x, r in zip(row, rrow)] for row, rrow in
           zip(as_duals(lp), ref.tolist())]
    want = Dual.lift(verl_agg(mat, mask.tolist(), agg), lp.size)
    v, g = ours(lp, old, adv, mask, ref=ref, beta=beta, kl=mode, loss_type=loss_type)
    assert v == pytest.approx(want.v, rel=1e-12)
    np.testing.assert_allclose(g, want.d.reshape(lp.shape), rtol=1e-12, atol=1e-16)


def test_dr_grpo_is_verl_seq_mean_token_sum_norm_over_batch_size():
    """verl divides the token sum by T alone; TRL's dr_grpo by B * max_completion_length."""
    lp, old, _, adv, mask = batch(12, garbage=False)
    B, T = lp.shape
    mat = [[-tmin(exp(x - o) * a, clamp(exp(x - o), 0.8, 1.2) * a) for x, o in zip(row, orow)]
           for row, orow, a in zip(as_duals(lp), old.tolist(), adv.tolist())]
    want = Dual.lift(verl_agg(mat, mask.tolist(), "seq-mean-token-sum-norm"), lp.size)
    v, g = ours(lp, old, adv, mask, loss_type="dr_grpo", max_len=T)
    assert v * B == pytest.approx(want.v, rel=1e-12)
    np.testing.assert_allclose(g * B, want.d.reshape(lp.shape), rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("agg, loss_type", [("seq-mean-token-mean", "grpo"), ("token-mean", "dapo")])
def test_gspo_matches_verl_straight_through_form(agg, loss_type):
    """verl: s_it = sg[s_i] * pi_t / sg[pi_t] per token. Same value as TRL's (B, 1) broadcast,
    and the same gradient, though TRL lets every token's gradient flow through the mean."""
    lp, old, _, adv, mask = batch(13, garbage=False)
    eps_low, eps_high = 0.2, 0.28
    rows = []
    for row, orow, mrow, a in zip(as_duals(lp), old.tolist(), mask.tolist(), adv.tolist()):
        n = sum(mrow)
        seq = sum(((x - o) * mk for x, o, mk in zip(row, orow, mrow)), 0.0) / n
        out = []
        for x in row:
            s = exp(x - sg(x) + sg(seq))
            out.append(-tmin(s * a, clamp(s, 1 - eps_low, 1 + eps_high) * a))
        rows.append(out)
    want = Dual.lift(verl_agg(rows, mask.tolist(), agg), lp.size)
    v, g = ours(lp, old, adv, mask, loss_type=loss_type, level="sequence", eps=eps_low, eps_high=eps_high)
    assert v == pytest.approx(want.v, rel=1e-12)
    np.testing.assert_allclose(g, want.d.reshape(lp.shape), rtol=1e-12, atol=1e-16)


def test_cispo_matches_verl_with_a_one_sided_clamp():
    """verl clamps the ratio to [1 - eps_low, 1 + eps_high]; TRL caps it at epsilon_high. With no
    lower clamp (eps_low = 1) and verl's 1 + eps_high as TRL's cap, the two agree."""
    lp, old, _, adv, mask = batch(14, garbage=False)
    cap = 1.1
    mat = [[-sg(clamp(exp(x - o), 0.0, cap)) * a * x for x, o in zip(row, orow)]
           for row, orow, a in zip(as_duals(lp), old.tolist(), adv.tolist())]
    want = Dual.lift(verl_agg(mat, mask.tolist(), "token-mean"), lp.size)
    v, g = ours(lp, old, adv, mask, loss_type="cispo", eps_high=cap)
    assert v == pytest.approx(want.v, rel=1e-12)
    np.testing.assert_allclose(g, want.d.reshape(lp.shape), rtol=1e-12, atol=1e-16)


# ---------------------------------------------------------------------------------------------
# Closed forms and properties
# ---------------------------------------------------------------------------------------------


def test_on_policy_closed_forms():
    """Ratio 1, beta = 0: every clipped loss is -sum_i c_i n_i A_i, the gradient -c_i A_i."""
    lp, _, _, adv, mask = batch(21, empty_row=True)
    B, T = lp.shape
    n = mask.sum(1)
    N, L = n.sum(), 10
    nonempty = n > 0
    closed = {"grpo": -adv[nonempty].sum() / B, "bnpo": -(n * adv).sum() / N,
              "dapo": -(n * adv).sum() / N, "dr_grpo": -(n * adv).sum() / (B * L)}
    slope = {"grpo": -adv / (B * np.maximum(n, 1)), "bnpo": -adv / N, "dapo": -adv / N,
             "dr_grpo": -adv / (B * L)}
    for lt, want in closed.items():
        for lvl in IMPORTANCE_SAMPLING_LEVELS:
            v, g = ours(lp, lp, adv, mask, loss_type=lt, level=lvl, max_len=L)
            assert v == pytest.approx(want, rel=1e-13)
            np.testing.assert_allclose(g, np.where(mask, slope[lt][:, None], 0.0), rtol=1e-13)


def test_cispo_on_policy_is_reinforce_on_the_log_probs():
    lp, _, _, adv, mask = batch(22)
    N = mask.sum()
    v, g = ours(lp, lp, adv, mask, loss_type="cispo", eps_high=5.0)
    assert v == pytest.approx(-(adv[:, None] * np.where(mask, lp, 0)).sum() / N, rel=1e-13)
    np.testing.assert_allclose(g, np.where(mask, -adv[:, None] / N, 0), rtol=1e-13)


def test_agrees_with_the_deepseekmath_objective():
    """loss_type="grpo" with k3 is -J of DeepSeekMath eq. 3 (r1lib.grpo_objective) for one group."""
    lp, old, ref, adv, mask = batch(23)
    kw = dict(ref=ref, beta=0.04, kl="k3")
    v, g = ours(lp, old, adv, mask, **kw)
    J = r1lib.grpo_objective(np.where(mask, lp, 0), np.where(mask, old, 0), np.where(mask, ref, 0), adv, mask,
                             eps=0.2, beta=0.04)
    dJ = r1lib.grpo_objective_grad(np.where(mask, lp, 0), np.where(mask, old, 0), np.where(mask, ref, 0), adv,
                                   mask, eps=0.2, beta=0.04)
    assert v == pytest.approx(-J, rel=1e-12)
    np.testing.assert_allclose(g, -dJ, rtol=1e-12, atol=1e-16)


@given(st.integers(0, 10_000), st.sampled_from(LOSS_TYPES), st.sampled_from(IMPORTANCE_SAMPLING_LEVELS),
       st.floats(0.1, 10.0))
@settings(max_examples=60, deadline=None)
def test_linear_in_positive_advantage_scale_without_kl(seed, loss_type, level, k):
    lp, old, _, adv, mask = batch(seed)
    kw = dict(loss_type=loss_type, level=level, max_len=8, eps_high=5.0 if loss_type == "cispo" else None)
    v1, g1 = ours(lp, old, adv, mask, **kw)
    v2, g2 = ours(lp, old, k * adv, mask, **kw)
    assert v2 == pytest.approx(k * v1, rel=1e-10, abs=1e-12)
    np.testing.assert_allclose(g2, k * g1, rtol=1e-10, atol=1e-14)


@given(st.integers(0, 10_000), st.sampled_from(LOSS_TYPES), st.sampled_from(IMPORTANCE_SAMPLING_LEVELS),
       st.sampled_from(KL_ESTIMATORS), st.booleans())
@settings(max_examples=60, deadline=None)
def test_padding_and_row_order_do_not_matter(seed, loss_type, level, kl, bias):
    lp, old, ref, adv, mask = batch(seed)
    kw = dict(loss_type=loss_type, level=level, max_len=12, ref=ref, beta=0.1, kl=kl, bias=bias,
              eps_high=5.0 if loss_type == "cispo" else 0.28)
    v, g = ours(lp, old, adv, mask, **kw)
    # three more padding columns full of junk
    pad = lambda a, x: np.concatenate([a, np.full((a.shape[0], 3), x)], axis=1)  # noqa: E731
    v2, g2 = ours(pad(lp, 5.0), pad(old, np.nan), adv, pad(mask, False), **dict(kw, ref=pad(ref, -np.inf)))
    assert v2 == pytest.approx(v, rel=1e-13, abs=1e-15)
    np.testing.assert_array_equal(g2[:, -3:], 0.0)
    np.testing.assert_allclose(g2[:, :-3], g, rtol=1e-13, atol=1e-16)
    perm = np.random.default_rng(seed).permutation(lp.shape[0])
    v3, g3 = ours(lp[perm], old[perm], adv[perm], mask[perm], **dict(kw, ref=ref[perm]))
    assert v3 == pytest.approx(v, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(g3, g[perm], rtol=1e-12, atol=1e-16)


@given(st.integers(0, 10_000), st.sampled_from(IMPORTANCE_SAMPLING_LEVELS))
@settings(max_examples=40, deadline=None)
def test_normalisers_relate_as_documented(seed, level):
    lp, old, ref, adv, mask = batch(seed, empty_row=seed % 2 == 0)
    B, T = lp.shape
    N = mask.sum()
    kw = dict(level=level, ref=ref, beta=0.02, max_len=11)
    dapo, g_dapo = ours(lp, old, adv, mask, loss_type="dapo", **kw)
    bnpo, g_bnpo = ours(lp, old, adv, mask, loss_type="bnpo", **kw)
    dr, g_dr = ours(lp, old, adv, mask, loss_type="dr_grpo", **kw)
    assert bnpo == dapo and np.array_equal(g_bnpo, g_dapo)  # one process, no accumulation
    assert dr == pytest.approx(dapo * N / (B * 11), rel=1e-12)
    np.testing.assert_allclose(g_dr, g_dapo * N / (B * 11), rtol=1e-12, atol=1e-17)
    lp, old, ref, adv, _ = batch(seed, garbage=False)
    full = np.ones_like(mask)  # equal lengths: the per-sequence mean is the token mean
    kw["ref"] = ref
    assert ours(lp, old, adv, full, loss_type="grpo", **kw)[0] == pytest.approx(
        ours(lp, old, adv, full, loss_type="dapo", **kw)[0], rel=1e-12)


def test_length_bias_of_grpo_and_its_fix():
    """Dr. GRPO's point: with 1/|o_i| a wrong (A < 0) answer's per-token penalty shrinks with its
    length; token-level normalisers give every token the same weight."""
    T = 40
    lp = np.full((2, T), -1.0)
    mask = np.zeros((2, T), bool)
    mask[0, :10] = True    # short wrong answer
    mask[1, :40] = True    # long wrong answer
    adv = np.array([-1.0, -1.0])
    g = grpo_loss_grad(lp, lp, adv, mask, loss_type="grpo")
    assert g[0, 0] == pytest.approx(4 * g[1, 0])  # the long one is pushed down 4x less per token
    for lt in ("dapo", "dr_grpo"):
        g = grpo_loss_grad(lp, lp, adv, mask, loss_type=lt, max_completion_length=T)
        assert g[0, 0] == g[1, 0]


def test_clip_higher_and_the_sign_rules():
    lp = np.log(np.array([[0.5, 0.5, 0.5]]))
    old = np.log(np.array([[0.5 / 1.25, 0.5 / 1.5, 0.5 / 0.7]]))  # ratios 1.25, 1.5, 0.7
    g_sym = grpo_loss_grad(lp, old, [1.0])
    g_hi = grpo_loss_grad(lp, old, [1.0], epsilon_high=0.28)
    # A > 0: ratio 1.25 is clipped by eps = 0.2 but not by clip-higher 0.28; 1.5 by both; 0.7 by neither
    np.testing.assert_array_equal(g_sym[0] == 0, [True, True, False])
    np.testing.assert_array_equal(g_hi[0] == 0, [False, True, False])
    g_neg = grpo_loss_grad(lp, old, [-1.0])
    np.testing.assert_array_equal(g_neg[0] == 0, [False, False, True])  # A < 0: only 0.7 < 0.8 clipped
    assert np.all(g_hi[0][g_hi[0] != 0] < 0) and np.all(g_neg[0][g_neg[0] != 0] > 0)


def test_kink_convention_is_the_unclipped_slope():
    """At rho = 1 + eps exactly (A > 0) and rho = 1 - eps (A < 0), autograd on TRL's code passes the
    full slope (clamp passes its bounds, min splits a tie evenly): so do we."""
    lp = np.array([[-0.5]])
    for a, rho in ((1.0, 1.25), (-1.0, 0.75)):
        old = lp - np.log(rho)
        rho_exact = float(np.exp(lp - old)[0, 0])
        eps = 0.25
        lo_hi = (1 - eps, 1 + eps)
        if rho_exact not in lo_hi:  # make the ratio sit exactly on the bound
            eps = abs(rho_exact - 1)
        g = grpo_loss_grad(lp, old, [a], epsilon=eps)
        assert g[0, 0] == pytest.approx(-a * rho_exact, rel=1e-15)


def test_float32_stays_float32_and_is_accurate():
    lp, old, ref, adv, mask = batch(31, B=16, T=50, garbage=True)
    for lt in LOSS_TYPES:
        kw = dict(ref_logp=ref.astype(np.float32), beta=0.05, loss_type=lt, max_completion_length=64,
                  epsilon_high=5.0 if lt == "cispo" else 0.28, use_bias_correction_kl=True)
        g32 = grpo_loss_grad(lp.astype(np.float32), old.astype(np.float32), adv, mask, **kw)
        assert g32.dtype == np.float32
        v32 = grpo_loss(lp.astype(np.float32), old.astype(np.float32), adv, mask, **kw)
        kw64 = dict(kw, ref_logp=ref.astype(np.float32).astype(np.float64))
        lp64, old64 = lp.astype(np.float32).astype(np.float64), old.astype(np.float32).astype(np.float64)
        v64 = grpo_loss(lp64, old64, adv.astype(np.float32), mask, **kw64)
        g64 = grpo_loss_grad(lp64, old64, adv.astype(np.float32), mask, **kw64)
        assert v32 == pytest.approx(v64, rel=1e-5, abs=1e-7)
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-7 * np.abs(g64).max())


def test_empty_rows_count_in_grpo_mean_and_mask_none_is_no_padding():
    lp, old, _, adv, mask = batch(32, empty_row=True)
    B = lp.shape[0]
    v = grpo_loss(lp, old, adv, mask)
    v_drop = grpo_loss(lp[:-1], old[:-1], adv[:-1], mask[:-1])
    assert v == pytest.approx(v_drop * (B - 1) / B, rel=1e-13)  # TRL: the empty row counts in B
    full = np.where(mask, lp, -1.0), np.where(mask, old, -1.0)
    assert grpo_loss(*full, adv) == grpo_loss(*full, adv, np.ones_like(mask))


def test_no_runtime_warnings_on_extreme_ratios():
    """Ratios beyond float32's range: inf where the loss truly is unbounded, never NaN."""
    lp = np.array([[-1e-3, -1e-3]], dtype=np.float32)
    old = np.array([[-200.0, -1e-3]], dtype=np.float32)  # first ratio e^200: overflows float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert grpo_loss(lp, old, [1.0]) == pytest.approx(-(1.2 + 1.0) / 2, rel=1e-6)  # clipped: finite
        g = grpo_loss_grad(lp, old, [1.0])
        assert g[0, 0] == 0 and np.isfinite(g).all()
        assert grpo_loss(lp, old, [-1.0]) == np.inf
        assert grpo_loss(lp, old, [0.0]) == 0.0 and np.all(grpo_loss_grad(lp, old, [0.0]) == 0)


# ---------------------------------------------------------------------------------------------
# Bad input: a table, every message names the parameter and the value
# ---------------------------------------------------------------------------------------------

LP = np.array([[-0.5, -1.0, -2.0], [-0.1, -0.2, -0.3]])
OLD = LP - 0.01
ADV = np.array([1.0, -1.0])
MASK = np.array([[1, 1, 0], [1, 1, 1]])
nan, inf = float("nan"), float("inf")


def bad_lp(idx, val):
    a = LP.copy()
    a[idx] = val
    return a


BAD = [
    ("loss_type", dict(loss_type="ppo"), ValueError, ["loss_type", "'ppo'", "'dapo'"]),
    ("loss_type case", dict(loss_type="GRPO"), ValueError, ["loss_type", "'GRPO'"]),
    ("level", dict(importance_sampling_level="seq"), ValueError, ["importance_sampling_level", "'seq'"]),
    ("kl", dict(kl="k4"), ValueError, ["kl", "'k4'", "'k3+'"]),
    ("kl low_var_kl", dict(kl="low_var_kl"), ValueError, ["kl", "'low_var_kl'"]),
    ("old shape", dict(old_logp=OLD[:, :2]), ValueError, ["old_logp", "(2, 2)", "(2, 3)"]),
    ("ref shape", dict(ref_logp=OLD[:1], beta=0.1), ValueError, ["ref_logp", "(1, 3)"]),
    ("adv shape", dict(advantages=np.ones(3)), ValueError, ["advantages", "(3,)", "(2,)"]),
    ("adv per token", dict(advantages=np.ones((2, 3))), ValueError, ["advantages", "(2, 3)"]),
    ("logp 1-D", dict(logp=LP[0], old_logp=OLD[0]), ValueError, ["logp", "2-D", "(3,)"]),
    ("logp empty", dict(logp=np.zeros((0, 3)), old_logp=np.zeros((0, 3)), advantages=[]), ValueError,
     ["logp", "empty"]),
    ("mask shape", dict(mask=MASK[:, :2]), ValueError, ["mask", "(2, 2)"]),
    ("mask 2", dict(mask=np.array([[1, 2, 0], [1, 1, 1]])), ValueError, ["mask", "0 and 1", "2"]),
    ("mask 0.5", dict(mask=np.array([[1, 0.5, 0], [1, 1, 1]])), ValueError, ["mask", "0.5"]),
    ("mask -1", dict(mask=np.array([[1, -1, 0], [1, 1, 1]])), ValueError, ["mask", "-1"]),
    ("mask nan", dict(mask=np.array([[1, nan, 0], [1, 1, 1]])), ValueError, ["mask", "nan"]),
    ("mask str", dict(mask="all"), TypeError, ["mask", "'all'"]),
    ("mask empty", dict(mask=np.zeros((2, 3))), ValueError, ["mask", "no real token"]),
    ("dr_grpo no L", dict(loss_type="dr_grpo"), ValueError, ["dr_grpo", "max_completion_length"]),
    ("L short", dict(loss_type="dr_grpo", max_completion_length=2), ValueError,
     ["max_completion_length=2", "completion 1", "3 tokens"]),
    ("L short any type", dict(max_completion_length=1), ValueError, ["max_completion_length=1"]),
    ("L zero", dict(loss_type="dr_grpo", max_completion_length=0), ValueError, ["max_completion_length", "0"]),
    ("L float", dict(loss_type="dr_grpo", max_completion_length=4.0), TypeError, ["max_completion_length", "4.0"]),
    ("L bool", dict(loss_type="dr_grpo", max_completion_length=True), TypeError, ["max_completion_length"]),
    ("eps_high < eps", dict(epsilon_high=0.1), ValueError, ["epsilon_high=0.1", "epsilon=0.2"]),
    ("eps negative", dict(epsilon=-0.2), ValueError, ["epsilon", "-0.2"]),
    ("eps zero", dict(epsilon=0.0), ValueError, ["epsilon", "0.0"]),
    ("eps one", dict(epsilon=1.0), ValueError, ["epsilon", "1.0"]),
    ("eps nan", dict(epsilon=nan), ValueError, ["epsilon", "nan"]),
    ("eps str", dict(epsilon="0.2"), TypeError, ["epsilon", "'0.2'"]),
    ("eps_high inf", dict(epsilon_high=inf), ValueError, ["epsilon_high", "inf"]),
    ("beta negative", dict(beta=-0.04, ref_logp=OLD), ValueError, ["beta", "-0.04"]),
    ("beta nan", dict(beta=nan, ref_logp=OLD), ValueError, ["beta", "nan"]),
    ("beta no ref", dict(beta=0.04), ValueError, ["beta=0.04", "ref_logp"]),
    ("bias flag", dict(use_bias_correction_kl="yes"), TypeError, ["use_bias_correction_kl", "'yes'"]),
    ("logp nan", dict(logp=bad_lp((0, 1), nan)), ValueError, ["logp", "NaN", "(0, 1)"]),
    ("logp -inf", dict(logp=bad_lp((1, 2), -inf)), ValueError, ["logp", "-inf", "(1, 2)"]),
    ("logp +inf", dict(logp=bad_lp((1, 0), inf)), ValueError, ["logp", "inf", "(1, 0)"]),
    ("logp positive", dict(logp=bad_lp((0, 0), 0.5)), ValueError, ["logp", "0.5", "<= 0", "(0, 0)"]),
    ("old nan", dict(old_logp=np.where(MASK == 1, np.nan, OLD)), ValueError, ["old_logp", "NaN"]),
    ("ref inf", dict(ref_logp=np.full((2, 3), -inf), beta=0.1), ValueError, ["ref_logp", "-inf"]),
    ("adv nan", dict(advantages=[nan, 1.0]), ValueError, ["advantages", "NaN"]),
    ("logp str", dict(logp="x"), TypeError, ["logp", "'x'"]),
    ("logp bool", dict(logp=np.ones((2, 3), bool)), TypeError, ["logp", "bool"]),
    ("old None", dict(old_logp=None), TypeError, ["old_logp", "None"]),
]


@pytest.mark.parametrize("fn", [grpo_loss, grpo_loss_grad], ids=["loss", "grad"])
@pytest.mark.parametrize("name, change, exc, words", BAD, ids=[c[0] for c in BAD])
def test_bad_input(fn, name, change, exc, words):
    args = dict(logp=LP, old_logp=OLD, advantages=ADV, mask=MASK)
    change = dict(change)  # the table is shared by both functions: never mutate it
    args.update({k: change.pop(k) for k in list(change) if k in args})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(exc) as info:
            fn(args["logp"], args["old_logp"], args["advantages"], args["mask"], **change)
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_padding_may_hold_anything():
    lp = bad_lp((0, 2), nan)  # (0, 2) is padding in MASK
    lp[0, 2] = nan
    old = OLD.copy()
    old[0, 2] = inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        v = grpo_loss(lp, old, ADV, MASK, ref_logp=np.where(MASK == 1, OLD, 9.0), beta=0.1)
        g = grpo_loss_grad(lp, old, ADV, MASK, ref_logp=np.where(MASK == 1, OLD, 9.0), beta=0.1)
    clean = grpo_loss(np.where(MASK == 1, LP, -1.0), OLD, ADV, MASK, ref_logp=OLD, beta=0.1)
    assert v == clean and np.isfinite(g).all() and g[0, 2] == 0


# ---------------------------------------------------------------------------------------------
# DAPO: soft overlong punishment (eq. 13) and dynamic sampling
# ---------------------------------------------------------------------------------------------

from fractions import Fraction  # noqa: E402

from r1lib.grpo_loss import drop_constant_groups, dynamic_sampling_mask, overlong_penalty  # noqa: E402


def dapo_eq13(y, l_max, l_cache):
    if y <= l_max - l_cache:
        return Fraction(0)
    if y <= l_max:
        return Fraction((l_max - l_cache) - y, l_cache)
    return Fraction(-1)


@given(st.lists(st.integers(0, 60), min_size=1, max_size=30), st.integers(1, 50), st.data())
@settings(max_examples=200, deadline=None)
def test_overlong_penalty_is_dapo_eq13(lengths, l_max, data):
    l_cache = data.draw(st.integers(0, l_max))
    got = overlong_penalty(lengths, l_max, l_cache)
    want = [float(dapo_eq13(y, l_max, l_cache)) for y in lengths]
    np.testing.assert_array_equal(got, want)
    assert np.all((got <= 0) & (got >= -1))
    # non-increasing in the length
    ys = np.arange(0, l_max + 5)
    assert np.all(np.diff(overlong_penalty(ys, l_max, l_cache)) <= 0)


def test_overlong_penalty_hand_values():
    # DAPO's setting: L_max = 20480, L_cache = 4096 (ramp from 16384 tokens on)
    np.testing.assert_array_equal(overlong_penalty([16384, 16385, 18432, 20480, 20481], 20480, 4096),
                                  [0.0, -1 / 4096, -0.5, -1.0, -1.0])


@pytest.mark.parametrize("args, exc, words", [
    (([-1, 3], 10, 2), ValueError, ["lengths", "-1"]),
    (([1.5], 10, 2), ValueError, ["lengths", "1.5"]),
    (([3], 0, 0), ValueError, ["max_completion_length", "0"]),
    (([3], 10, 11), ValueError, ["cache_length", "11"]),
    (([3], 10, -1), ValueError, ["cache_length", "-1"]),
    (([3], 10.0, 2), TypeError, ["max_completion_length", "10.0"]),
    (([3], 10, True), TypeError, ["cache_length", "True"]),
    (("3", 10, 2), TypeError, ["lengths"]),
])
def test_overlong_penalty_bad_input(args, exc, words):
    with pytest.raises(exc) as info:
        overlong_penalty(*args)
    for w in words:
        assert w in str(info.value)


def test_dynamic_sampling_drops_exactly_the_constant_groups():
    rewards = np.array([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.1, 0.1, 0.1], [0.3, 0.3, 0.3 + 1e-9]])
    keep = dynamic_sampling_mask(rewards)
    np.testing.assert_array_equal(keep, [False, True, False, False, True])  # exact comparison
    # exactly the groups whose advantages are all 0 under any scaling
    for scale in ("group", "batch", "none"):
        adv = r1lib.group_advantages(rewards, scale=scale)
        np.testing.assert_array_equal(np.any(adv != 0, axis=1), keep)
    lp = np.arange(5 * 3 * 2, dtype=float).reshape(5, 3, 2)
    out = drop_constant_groups(rewards, lp, ["a", "b", "c", "d", "e"])
    assert out.dropped == 3 and out.keep.tolist() == keep.tolist()
    np.testing.assert_array_equal(out.rewards, rewards[[1, 4]])
    np.testing.assert_array_equal(out.arrays[0], lp[[1, 4]])
    assert out.arrays[1].tolist() == ["b", "e"]
    np.testing.assert_array_equal(dynamic_sampling_mask(rewards.T, axis=0), keep)


def test_dynamic_sampling_all_constant_and_bad_input():
    out = drop_constant_groups(np.ones((2, 4)))
    assert out.dropped == 2 and out.rewards.shape == (0, 4)
    with pytest.raises(ValueError, match=r"per_group\[0\].*\(3,\)"):
        drop_constant_groups(np.ones((2, 4)), np.ones(3))
    with pytest.raises(ValueError, match="rewards.*shape"):
        drop_constant_groups(np.ones((2, 4, 1)))
    with pytest.raises(ValueError, match="rewards.*NaN"):
        dynamic_sampling_mask([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="axis"):
        dynamic_sampling_mask([[0.0, 1.0]], axis=2)


# ---------------------------------------------------------------------------------------------
# The blocked computation: any block size gives the same numbers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sw", SWITCHES, ids=lambda s: f"{s['loss_type']}-{s['level']}")
@pytest.mark.parametrize("klsw", [None] + KL_SWITCHES[1::2],
                         ids=lambda s: "beta0" if s is None else f"{s['kl']}{'-bias' if s['bias'] else ''}")
@pytest.mark.parametrize("garbage", [False, True])
def test_block_size_does_not_change_the_result(sw, klsw, garbage):
    import importlib

    gl = importlib.import_module("r1lib.grpo_loss")  # r1lib.grpo_loss is also the function's name
    lp, old, ref, adv, mask = batch(41, B=13, T=9, garbage=garbage)
    kw = dict(ref_logp=ref if klsw else None, beta=0.1 if klsw else 0.0, epsilon=0.2,
              epsilon_high=5.0 if sw["loss_type"] == "cispo" else 0.28, loss_type=sw["loss_type"],
              importance_sampling_level=sw["level"], max_completion_length=9,
              kl=klsw["kl"] if klsw else "k3", use_bias_correction_kl=bool(klsw and klsw["bias"]))
    b = gl._prepare(lp, old, adv, mask, kw["ref_logp"], kw["beta"], kw["epsilon"], kw["epsilon_high"],
                    kw["loss_type"], kw["importance_sampling_level"], kw["max_completion_length"], kw["kl"],
                    kw["use_bias_correction_kl"])
    v_one, g_one = gl._compute(b, True, True, block_elements=10**6)
    for block in (1, 9, 20, 50):  # one row per block, rows of 1 and 2, ...
        v, g = gl._compute(b, True, True, block_elements=block)
        assert v == pytest.approx(v_one, rel=1e-14, abs=1e-16)
        np.testing.assert_array_equal(g, g_one)
    # and the public functions are the blocked computation
    assert grpo_loss(lp, old, adv, mask, **kw) == pytest.approx(v_one, rel=1e-14, abs=1e-16)
    np.testing.assert_array_equal(grpo_loss_grad(lp, old, adv, mask, **kw), g_one)


# ---------------------------------------------------------------------------------------------
# PyTorch autograd on TRL's formula (when torch is installed: the `bench` extra)
# ---------------------------------------------------------------------------------------------


def _torch_trl(torch, lp, old, adv, mask, ref, kw):
    """TRL's _compute_loss for one process, written here in torch; returns (loss, d loss / d logp)."""
    x = torch.tensor(lp, dtype=torch.float64, requires_grad=True)
    old_t, ref_t = torch.tensor(old), torch.tensor(ref)
    a = torch.tensor(adv).unsqueeze(1)
    mk = torch.tensor(mask.astype(float))
    eps, eps_high = kw["epsilon"], kw["epsilon_high"]
    log_ratio = x - old_t
    if kw["importance_sampling_level"] == "sequence":
        log_w = ((log_ratio * mk).sum(-1) / mk.sum(-1).clamp(min=1.0)).unsqueeze(-1)
    else:
        log_w = log_ratio
    coef_1 = torch.exp(log_w)
    if kw["beta"] != 0.0:
        kl = torch.exp(ref_t - x) - (ref_t - x) - 1
        if kw["use_bias_correction_kl"]:
            kl = kl * coef_1
    if kw["loss_type"] == "cispo":
        per_token = -torch.clamp(coef_1, max=eps_high).detach() * a * x
    else:
        coef_2 = torch.clamp(coef_1, 1 - eps, 1 + eps_high)
        per_token = -torch.min(coef_1 * a, coef_2 * a)
    if kw["beta"] != 0.0:
        per_token = per_token + kw["beta"] * kl
    lt = kw["loss_type"]
    if lt == "grpo":
        loss = ((per_token * mk).sum(-1) / mk.sum(-1).clamp(min=1.0)).mean()
    elif lt == "bnpo":
        loss = (per_token * mk).sum() / mk.sum().clamp(min=1.0)
    elif lt == "dr_grpo":
        loss = (per_token * mk).sum() / (per_token.size(0) * kw["max_completion_length"])
    else:
        loss = (per_token * mk).sum() / mk.sum()
    loss.backward()
    return loss.item(), x.grad.numpy()


@pytest.mark.parametrize("sw", SWITCHES, ids=lambda s: f"{s['loss_type']}-{s['level']}")
@pytest.mark.parametrize("beta, bias", [(0.0, False), (0.06, False), (0.06, True)])
def test_matches_torch_autograd_on_trl_formula(sw, beta, bias):
    torch = pytest.importorskip("torch")
    lp, old, ref, adv, mask = batch(51, garbage=False)
    kw = dict(epsilon=0.2, epsilon_high=5.0 if sw["loss_type"] == "cispo" else 0.28, beta=beta,
              loss_type=sw["loss_type"], importance_sampling_level=sw["level"], max_completion_length=8,
              use_bias_correction_kl=bias)
    want_v, want_g = _torch_trl(torch, lp, old, adv, mask, ref, kw)
    got_v = grpo_loss(lp, old, adv, mask, ref_logp=ref, **kw)
    got_g = grpo_loss_grad(lp, old, adv, mask, ref_logp=ref, **kw)
    assert got_v == pytest.approx(want_v, rel=1e-12)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("level", IMPORTANCE_SAMPLING_LEVELS)
def test_kinks_match_torch_autograd(level):
    """Ratios placed exactly on 1 - eps and 1 + eps_high (and exactly 1), both advantage signs:
    the documented convention (the unclipped slope at the boundary) is autograd's."""
    torch = pytest.importorskip("torch")
    eps, eps_high = 0.25, 0.5  # 0.75, 1.5 and 1 are exact in binary
    rho = np.array([[0.75, 1.5, 1.0, 0.75], [1.5, 0.75, 1.0, 1.5], [0.75, 1.0, 1.5, 1.0]])
    lp = np.full(rho.shape, -0.5)
    old = lp - np.log(rho)
    assert np.array_equal(np.exp(lp - old), rho)  # exactly on the kinks
    if level == "sequence":  # one row per ratio: every token of a row equal, so the mean is exact
        lp, old = lp[:, :1].repeat(4, 1), old[:, :1].repeat(4, 1)
    mask = np.ones(rho.shape, bool)
    kw = dict(epsilon=eps, epsilon_high=eps_high, beta=0.0, loss_type="dapo", importance_sampling_level=level,
              max_completion_length=4, use_bias_correction_kl=False)
    for adv in (np.array([1.0, -1.0, 2.0]), np.array([-1.0, 1.0, -2.0])):
        want_v, want_g = _torch_trl(torch, lp, old, adv, mask, lp, kw)
        got_g = grpo_loss_grad(lp, old, adv, mask, **kw)
        assert grpo_loss(lp, old, adv, mask, **kw) == pytest.approx(want_v, rel=1e-14)
        np.testing.assert_allclose(got_g, want_g, rtol=1e-14, atol=0)
        assert np.all(got_g != 0)  # on the boundary nothing is clipped


# ---------------------------------------------------------------------------------------------
# clip_fractions: TRL's clip_ratio/low_mean, high_mean, region_mean (and cispo_clip_ratio)
# ---------------------------------------------------------------------------------------------

from r1lib.grpo_loss import clip_fractions  # noqa: E402


def trl_clip_fractions(lp, old, adv, mask, eps, eps_high, level, cispo):
    """TRL: is_low = (coef_1 < 1 - eps) & (A < 0), is_high = (coef_1 > 1 + eps_high) & (A > 0);
    masked_batch_mean: token level sum(x * mask) / mask.sum(), sequence level x.mean() over rows."""
    B, T = lp.shape
    lows, highs = [], []
    for i in range(B):
        n = int(mask[i].sum())
        if level == "sequence":
            s = math.exp(sum(lp[i, t] - old[i, t] for t in range(T) if mask[i, t]) / max(n, 1))
            ratios = [s]
        else:
            ratios = [math.exp(lp[i, t] - old[i, t]) for t in range(T) if mask[i, t]]
        for r in ratios:
            if cispo:
                lows.append(False)
                highs.append(r > eps_high and adv[i] > 0)
            else:
                lows.append(r < 1 - eps and adv[i] < 0)
                highs.append(r > 1 + eps_high and adv[i] > 0)
    return sum(lows) / len(lows), sum(highs) / len(highs)


@pytest.mark.parametrize("level", IMPORTANCE_SAMPLING_LEVELS)
@pytest.mark.parametrize("loss_type, eps_high", [("dapo", 0.28), ("grpo", None), ("cispo", 1.1)])
@pytest.mark.parametrize("seed", [61, 62, 63])
def test_clip_fractions_match_trl(level, loss_type, eps_high, seed):
    lp, old, _, adv, mask = batch(seed, B=12, T=9, spread=0.4)
    got = clip_fractions(lp, old, adv, mask, epsilon=0.2, epsilon_high=eps_high, loss_type=loss_type,
                         importance_sampling_level=level)
    eh = 0.2 if eps_high is None else eps_high
    low, high = trl_clip_fractions(lp, old, adv, mask, 0.2, eh, level, loss_type == "cispo")
    assert got.low == pytest.approx(low, abs=1e-15) and got.high == pytest.approx(high, abs=1e-15)
    assert got.region == pytest.approx(low + high, abs=1e-15)
    if level == "token" and loss_type != "cispo":
        # the clipped tokens are exactly those the policy gradient switches off
        g = grpo_loss_grad(lp, old, adv, mask, epsilon=0.2, epsilon_high=eps_high, loss_type=loss_type)
        dead = mask & (g == 0) & (adv[:, None] != 0)
        assert got.region == pytest.approx(dead.sum() / mask.sum(), abs=1e-15)
    if seed == 61 and level == "token":
        assert got.region > 0  # the batches do exercise the clip


def test_clip_fractions_boundary_and_bad_input():
    lp = np.array([[-0.5, -0.5]])
    old = lp - np.log([[1.25, 0.75]])  # exactly on 1 + 0.25 and 1 - 0.25
    for a in (1.0, -1.0):
        assert clip_fractions(lp, old, [a], epsilon=0.25) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="loss_type"):
        clip_fractions(lp, old, [1.0], loss_type="ppo")
    with pytest.raises(ValueError, match="epsilon_high"):
        clip_fractions(lp, old, [1.0], epsilon_high=0.1)
    with pytest.raises(ValueError, match="old_logp.*NaN"):
        clip_fractions(lp, np.array([[np.nan, -1.0]]), [1.0])


@pytest.mark.parametrize("loss_type", ["dapo", "cispo"])
@pytest.mark.parametrize("beta", [0.0, 0.1])
def test_sequence_level_checks_every_real_token(loss_type, beta):
    """GSPO reads the tokens through row sums: -inf or NaN at a real token is still an error, at
    padding it is still ignored."""
    kw = dict(importance_sampling_level="sequence", loss_type=loss_type, epsilon_high=5.0 if loss_type == "cispo"
              else None, beta=beta, ref_logp=OLD if beta else None)
    for fn in (grpo_loss, grpo_loss_grad):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            bad = [("logp", bad_lp((1, 1), -inf), OLD), ("logp", bad_lp((0, 0), nan), OLD),
                   ("old_logp", LP, np.where(MASK == 1, -inf, OLD)), ("old_logp", LP, np.where(MASK == 1, inf, OLD))]
            for name, lp, old in bad:
                with pytest.raises(ValueError, match=name):
                    fn(lp, old, ADV, MASK, **kw)
            junk_lp, junk_old = bad_lp((0, 2), -inf), np.where(MASK == 1, OLD, -inf)  # (0, 2) is padding
            v = fn(junk_lp, junk_old, ADV, MASK, **kw)
            want = fn(np.where(MASK == 1, LP, -1.0), OLD, ADV, MASK, **kw)
            np.testing.assert_array_equal(v, want)


def test_ref_is_not_read_at_beta_zero():
    junk_ref = np.full(LP.shape, np.nan)
    for lp in (LP, bad_lp((0, 2), 9.0)):  # clean padding, and junk padding (the exact-check path)
        assert grpo_loss(lp, OLD, ADV, MASK, ref_logp=junk_ref) == grpo_loss(lp, OLD, ADV, MASK)


@given(st.data())
@settings(max_examples=150, deadline=None)
def test_random_switches_and_shapes_match_trl(data):
    """Any combination of switches, shapes (single rows and columns, empty rows) and dtypes."""
    from hypothesis import assume

    B, T = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 6))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lp = -rng.uniform(0.01, 4.0, (B, T))
    old = np.minimum(lp + rng.normal(0, data.draw(st.sampled_from([0.01, 0.3, 1.0])), (B, T)), -1e-3)
    ref = np.minimum(lp + rng.normal(0, 0.5, (B, T)), -1e-3)
    adv = rng.normal(size=B) * data.draw(st.sampled_from([0.0, 1.0, 100.0]))
    mask = rng.random((B, T)) < data.draw(st.sampled_from([0.5, 0.9, 1.0]))
    assume(mask.any())
    loss_type = data.draw(st.sampled_from(LOSS_TYPES))
    level = data.draw(st.sampled_from(IMPORTANCE_SAMPLING_LEVELS))
    eps = data.draw(st.sampled_from([0.1, 0.2, 0.5]))
    eps_high = data.draw(st.sampled_from([None, eps + 0.08, 4.0]))
    beta = data.draw(st.sampled_from([0.0, 0.04, 1.0]))
    kw = dict(eps=eps, eps_high=eps_high, loss_type=loss_type, level=level, max_len=T + 2,
              kl=data.draw(st.sampled_from(KL_ESTIMATORS)), bias=data.draw(st.booleans()))
    if beta:
        kw.update(ref=ref, beta=beta)
    assume(not near_kink(lp, old, mask, eps, eps_high, level, loss_type, margin=1e-9))
    want_v, want_g = trl_value_and_grad(lp, old, adv, mask, **kw)
    got_v, got_g = ours(lp, old, adv, mask, **kw)
    assert got_v == pytest.approx(want_v, rel=1e-11, abs=1e-13)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-11, atol=1e-13)
    if data.draw(st.booleans()):  # the same in float32, to float32 accuracy
        f32 = lambda a: a.astype(np.float32)  # noqa: E731
        kw32 = dict(kw, ref=f32(ref)) if beta else kw
        v32, g32 = ours(f32(lp), f32(old), adv, mask, **kw32)
        assert g32.dtype == np.float32
        scale = max(abs(want_v), 1e-3 * (np.abs(adv).max() + beta + 1e-3))
        assert abs(v32 - want_v) <= 1e-3 * scale + 1e-5


@pytest.mark.parametrize("level", IMPORTANCE_SAMPLING_LEVELS)
def test_non_contiguous_and_fortran_inputs(level):
    lp, old, ref, adv, mask = batch(71, B=8, T=12, garbage=False)
    kw = dict(ref_logp=ref, beta=0.1, importance_sampling_level=level, loss_type="dapo", use_bias_correction_kl=True)
    want = grpo_loss(lp, old, adv, mask, **kw), grpo_loss_grad(lp, old, adv, mask, **kw)
    F = np.asfortranarray
    got = (grpo_loss(F(lp), F(old), adv, F(mask), **dict(kw, ref_logp=F(ref))),
           grpo_loss_grad(F(lp), F(old), adv, F(mask), **dict(kw, ref_logp=F(ref))))
    assert got[0] == pytest.approx(want[0], rel=1e-14)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-14, atol=1e-18)
    wide = lambda a: np.repeat(a, 2, axis=1)[:, ::2]  # noqa: E731  strided views of the same values
    got = grpo_loss_grad(wide(lp), wide(old), adv[::1], wide(mask), **dict(kw, ref_logp=wide(ref)))
    np.testing.assert_allclose(got, want[1], rtol=1e-14, atol=1e-18)


@pytest.mark.parametrize("sw", SWITCHES, ids=lambda s: f"{s['loss_type']}-{s['level']}")
@pytest.mark.parametrize("klsw", [None] + KL_SWITCHES,
                         ids=lambda s: "beta0" if s is None else f"{s['kl']}{'-bias' if s['bias'] else ''}")
def test_loss_and_grad_in_one_pass_is_the_two_calls(sw, klsw):
    from r1lib.grpo_loss import grpo_loss_and_grad

    for garbage in (False, True):
        lp, old, ref, adv, mask = batch(81, B=9, T=11, garbage=garbage)
        kw = dict(loss_type=sw["loss_type"], importance_sampling_level=sw["level"], max_completion_length=12,
                  epsilon_high=5.0 if sw["loss_type"] == "cispo" else 0.28)
        if klsw:
            kw.update(ref_logp=ref, beta=0.1, kl=klsw["kl"], use_bias_correction_kl=klsw["bias"])
        v, g = grpo_loss_and_grad(lp, old, adv, mask, **kw)
        assert v == grpo_loss(lp, old, adv, mask, **kw)
        np.testing.assert_array_equal(g, grpo_loss_grad(lp, old, adv, mask, **kw))
    with pytest.raises(ValueError, match="loss_type"):
        grpo_loss_and_grad(lp, old, adv, mask, loss_type="ppo")

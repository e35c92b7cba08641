"""Each layer of the tiny transformer (r1lib.labs.lm.layers), alone: the forward against the formula
computed another way (loops, the textbook expression, torch where installed), the backward against
central finite differences in float64, for every entry of every input."""
from __future__ import annotations

import math

import numpy as np
import pytest

from numgrad import central_difference
from r1lib.labs.lm import layers as L

RTOL = 1e-7  # central differences with h = 1e-6 in float64 are good to ~1e-9 here


def check_grad(loss, x, analytic, name):
    """``analytic`` must equal d loss / d x by central differences, entry by entry."""
    numeric = central_difference(loss, x)
    scale = max(1.0, float(np.abs(numeric).max()))
    err = float(np.abs(analytic - numeric).max()) / scale
    assert err < RTOL, f"{name}: max error {err:.3g} (scale {scale:.3g})"
    assert np.abs(numeric).max() > 1e-3, f"{name}: the gradient is ~0, so the check proves nothing"


@pytest.fixture
def rng():
    return np.random.default_rng(20260119)


# ------------------------------------------------------------------------------------ embedding

def test_embedding_forward_and_backward(rng):
    table = rng.standard_normal((7, 4))
    ids = np.array([[0, 3, 3], [6, 3, 1]])           # row 3 read three times, rows 2, 4, 5 never
    y, cache = L.embedding_forward(ids, table)
    assert np.array_equal(y[1, 0], table[6]) and y.shape == (2, 3, 4)
    w = rng.standard_normal(y.shape)
    dtable = L.embedding_backward(w, cache)
    check_grad(lambda t: np.sum(w * L.embedding_forward(ids, t)[0]), table, dtable, "embedding")
    assert np.array_equal(dtable[[2, 4, 5]], np.zeros((3, 4)))
    np.testing.assert_allclose(dtable[3], w[0, 1] + w[0, 2] + w[1, 1], rtol=1e-14)


# ------------------------------------------------------------------------------------ layer norm

def test_layer_norm_forward_is_the_textbook_formula(rng):
    x = rng.standard_normal((3, 5, 8)) * 3 + 1
    gamma, beta = rng.standard_normal(8), rng.standard_normal(8)
    y, _ = L.layer_norm_forward(x, gamma, beta)
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5) * gamma + beta
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


def test_layer_norm_backward(rng):
    x = rng.standard_normal((2, 3, 6)) * 2
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)
    w = rng.standard_normal(x.shape)
    y, cache = L.layer_norm_forward(x, gamma, beta)
    dx, dgamma, dbeta = L.layer_norm_backward(w, cache)
    check_grad(lambda v: np.sum(w * L.layer_norm_forward(v, gamma, beta)[0]), x, dx, "LN dx")
    check_grad(lambda v: np.sum(w * L.layer_norm_forward(x, v, beta)[0]), gamma, dgamma, "LN dgamma")
    check_grad(lambda v: np.sum(w * L.layer_norm_forward(x, gamma, v)[0]), beta, dbeta, "LN dbeta")


# ------------------------------------------------------------------------------------ linear

@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_and_backward(rng, bias):
    x = rng.standard_normal((2, 3, 4))
    w = rng.standard_normal((4, 5))
    b = rng.standard_normal(5) if bias else None
    y, cache = L.linear_forward(x, w, b)
    expected = np.einsum("btj,jk->btk", x, w) + (b if bias else 0.0)
    np.testing.assert_allclose(y, expected, rtol=1e-13)
    g = rng.standard_normal(y.shape)
    dx, dw, db = L.linear_backward(g, cache)
    assert dx.shape == x.shape
    check_grad(lambda v: np.sum(g * L.linear_forward(v, w, b)[0]), x, dx, "linear dx")
    check_grad(lambda v: np.sum(g * L.linear_forward(x, v, b)[0]), w, dw, "linear dw")
    if bias:
        check_grad(lambda v: np.sum(g * L.linear_forward(x, w, v)[0]), b, db, "linear db")
    else:
        assert db is None


# ------------------------------------------------------------------------------------ GELU

def test_gelu_forward_is_the_tanh_formula_and_close_to_the_exact_gelu():
    x = np.linspace(-6, 6, 241)
    y, _ = L.gelu_forward(x)
    tanh_form = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(y, tanh_form, rtol=1e-14, atol=1e-15)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])  # x Phi(x)
    assert np.abs(y - exact).max() < 1e-3  # the approximation's known accuracy (Hendrycks & Gimpel)


def test_gelu_backward(rng):
    x = rng.standard_normal((3, 7)) * 2
    w = rng.standard_normal(x.shape)
    _, cache = L.gelu_forward(x)
    dx = L.gelu_backward(w, cache)
    check_grad(lambda v: np.sum(w * L.gelu_forward(v)[0]), x, dx, "gelu")


def test_gelu_matches_torch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-8, 8, 1001)
    t = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.gelu(t, approximate="tanh")
    yt.sum().backward()
    y, cache = L.gelu_forward(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(L.gelu_backward(np.ones_like(x), cache), t.grad.numpy(), rtol=1e-12, atol=1e-13)


# ------------------------------------------------------------------------------------ attention

def naive_attention(q, k, v, allowed):
    """softmax(q k^T / sqrt(d_h)) v row by row with Python loops, over the allowed keys only."""
    B, H, Tq, dh = q.shape
    out = np.zeros_like(q)
    for b in range(B):
        for h in range(H):
            for i in range(Tq):
                keys = [j for j in range(k.shape[2]) if allowed[b, i, j]]
                s = np.array([q[b, h, i] @ k[b, h, j] / math.sqrt(dh) for j in keys])
                p = np.exp(s - s.max())
                p /= p.sum()
                out[b, h, i] = sum(pj * v[b, h, j] for pj, j in zip(p, keys))
    return out


def allowed_by_definition(B, Tq, Tk, key_mask):
    """Query i (at absolute position Tk - Tq + i) sees key j <= its position that is real, or itself."""
    allowed = np.zeros((B, Tq, Tk), dtype=bool)
    for b in range(B):
        for i in range(Tq):
            qi = Tk - Tq + i
            for j in range(Tk):
                allowed[b, i, j] = j <= qi and (key_mask is None or key_mask[b, j] or j == qi)
    return allowed


@pytest.mark.parametrize("Tq, Tk, masked", [(5, 5, False), (5, 5, True), (2, 6, True), (1, 4, False)])
def test_attention_bias_is_the_causal_rule(Tq, Tk, masked, rng):
    key_mask = rng.random((3, Tk)) < 0.6 if masked else None
    bias = L.attention_bias(Tq, Tk, key_mask, np.float64)
    expected = allowed_by_definition(3, Tq, Tk, key_mask)
    got = np.broadcast_to(bias[:, 0] == 0, expected.shape)
    assert np.array_equal(got, expected)
    assert np.isneginf(bias[bias != 0]).all()


@pytest.mark.parametrize("Tq, Tk, masked", [(5, 5, False), (5, 5, True), (2, 6, True)])
def test_attention_forward_matches_loops(Tq, Tk, masked, rng):
    B, H, dh = 2, 3, 4
    q = rng.standard_normal((B, H, Tq, dh))
    k, v = rng.standard_normal((2, B, H, Tk, dh))
    key_mask = np.array([[False, True] + [True] * (Tk - 2), [True] * Tk]) if masked else None
    o, _ = L.attention_forward(q, k, v, L.attention_bias(Tq, Tk, key_mask, np.float64))
    expected = naive_attention(q, k, v, allowed_by_definition(B, Tq, Tk, key_mask))
    np.testing.assert_allclose(o, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("Tq, Tk, masked", [(5, 5, False), (4, 4, True), (2, 5, True)])
def test_attention_backward(Tq, Tk, masked, rng):
    B, H, dh = 2, 2, 3
    q = rng.standard_normal((B, H, Tq, dh))
    k, v = rng.standard_normal((2, B, H, Tk, dh))
    key_mask = np.array([[False] + [True] * (Tk - 1), [True, True, False] + [True] * (Tk - 3)]) if masked else None
    bias = L.attention_bias(Tq, Tk, key_mask, np.float64)
    w = rng.standard_normal((B, H, Tq, dh))
    _, cache = L.attention_forward(q, k, v, bias)
    dq, dk, dv = L.attention_backward(w, cache)
    check_grad(lambda x: np.sum(w * L.attention_forward(x, k, v, bias)[0]), q, dq, "attention dq")
    check_grad(lambda x: np.sum(w * L.attention_forward(q, x, v, bias)[0]), k, dk, "attention dk")
    check_grad(lambda x: np.sum(w * L.attention_forward(q, k, x, bias)[0]), v, dv, "attention dv")
    if masked:
        # Row 0's first key is padding: no other query sees it, and its own query (present when
        # Tq = Tk) sees only it, with probability exactly 1, so moving the key changes nothing.
        assert np.array_equal(dk[0, :, 0], np.zeros_like(dk[0, :, 0]))
        if Tq < Tk:  # nobody reads its value either
            assert np.array_equal(dv[0, :, 0], np.zeros_like(dv[0, :, 0]))


def test_split_and_merge_heads_are_inverse(rng):
    x = rng.standard_normal((2, 5, 12))
    h = L.split_heads(x, 3)
    assert h.shape == (2, 3, 5, 4) and np.shares_memory(h, x)
    assert np.array_equal(h[1, 2, 4], x[1, 4, 8:12])
    assert np.array_equal(L.merge_heads(h), x)


# ------------------------------------------------------------------------------------ output

def test_log_softmax_gather_forward_and_backward(rng):
    z = rng.standard_normal((3, 4, 6)) * 3
    y = rng.integers(0, 6, (3, 4))
    logp, cache = L.log_softmax_gather_forward(z, y)
    for b, t in np.ndindex(3, 4):
        assert math.isclose(logp[b, t], z[b, t, y[b, t]] - math.log(sum(math.exp(v) for v in z[b, t])),
                            rel_tol=1e-13, abs_tol=1e-13)
    w = rng.standard_normal((3, 4))
    dz = L.log_softmax_gather_backward(w, cache)
    check_grad(lambda v: np.sum(w * L.log_softmax_gather_forward(v, y)[0]), z, dz, "log_softmax_gather")


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 3, 8)).astype(np.float32)
    g1 = np.ones(8, np.float32)
    assert L.layer_norm_forward(x, g1, 0 * g1)[0].dtype == np.float32
    assert L.gelu_forward(x)[0].dtype == np.float32
    assert L.linear_forward(x, np.ones((8, 4), np.float32), np.ones(4, np.float32))[0].dtype == np.float32
    q = L.split_heads(x, 2)
    o, cache = L.attention_forward(q, q, q, L.attention_bias(3, 3, None, np.float32))
    assert o.dtype == np.float32 and all(a.dtype == np.float32 for a in L.attention_backward(o, cache))

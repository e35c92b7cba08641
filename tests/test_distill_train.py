"""r1lib.labs.distill_train: hand-derived gradients against finite differences, the optimiser, the
batched training, teacher sampling, the logit-matching limit, the Gaussian fits, the experiment
driver and every bad-input error."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import special, stats

import r1lib
from r1lib import distill_train as dt
from numgrad import central_difference

D, H, K, N = 5, 4, 3, 7


def _data(seed=0, n=N, d=D, k=K):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = rng.integers(0, k, size=n)
    zt = 2.0 * rng.normal(size=(n, k))
    return X, y, zt


def _params(n_hidden, seed=1, n_models=None):
    p = dt.init_params(D, K, n_hidden, np.random.default_rng(seed), n_models=n_models)
    # Non-zero biases, so that their gradients are tested at a generic point.
    rng = np.random.default_rng(seed + 100)
    return {k: v + 0.3 * rng.normal(size=v.shape) for k, v in p.items()}


def _finite_difference(f, params, h=1e-6):
    """Central differences of the scalar f(params) w.r.t. every coordinate of every array."""
    return {name: central_difference(lambda v, name=name: f({**params, name: v}), value, h)
            for name, value in params.items()}


# ------------------------------------------------------------------------------------------
# Gradients: every loss, every parameter, against finite differences
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_hidden", [0, H])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("temperature", [0.5, 3.0])
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_loss_and_grads_match_finite_differences(n_hidden, alpha, temperature, weight_decay):
    X, y, zt = _data()
    params = _params(n_hidden)
    kw = dict(labels=y, teacher_logits=zt, temperature=temperature, alpha=alpha,
              weight_decay=weight_decay)
    loss, grads = dt.loss_and_grads(params, X, **kw)
    fd = _finite_difference(lambda p: dt.loss_and_grads(p, X, **kw)[0], params)
    assert set(grads) == set(params)
    for name in params:
        assert grads[name].shape == params[name].shape
        np.testing.assert_allclose(grads[name], fd[name], rtol=1e-6, atol=1e-8, err_msg=name)


def test_loss_is_the_documented_mixture_computed_independently():
    """alpha T^2 KL + (1 - alpha) CE + wd/2 sum W^2, every piece from scipy."""
    X, y, zt = _data(3)
    params = _params(H, seed=4)
    t, a, wd = 2.5, 0.4, 0.05
    z = np.tanh(X @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
    kl = special.rel_entr(special.softmax(zt / t, axis=1), special.softmax(z / t, axis=1)).sum(1)
    ce = -special.log_softmax(z, axis=1)[np.arange(N), y]
    l2 = 0.5 * wd * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    expected = a * t * t * kl.mean() + (1 - a) * ce.mean() + l2
    loss, _ = dt.loss_and_grads(params, X, labels=y, teacher_logits=zt, temperature=t, alpha=a,
                                weight_decay=wd)
    assert loss == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("n_hidden", [0, H])
def test_backward_is_the_chain_rule_of_forward(n_hidden):
    """For the linear functional L = sum(G * logits), backward(G) must be its gradient."""
    X, _, _ = _data(5)
    params = _params(n_hidden, seed=6)
    G = np.random.default_rng(7).normal(size=(N, K))
    grads = dt.backward(params, X, G)
    fd = _finite_difference(lambda p: float(np.sum(G * dt.forward(p, X))), params)
    for name in params:
        np.testing.assert_allclose(grads[name], fd[name], rtol=1e-6, atol=1e-8, err_msg=name)


def test_forward_closed_forms():
    X, _, _ = _data(8)
    lin, mlp = _params(0), _params(H)
    np.testing.assert_allclose(dt.forward(lin, X), X @ lin["W"] + lin["b"], rtol=1e-14)
    np.testing.assert_allclose(dt.forward(mlp, X),
                               np.tanh(X @ mlp["W1"] + mlp["b1"]) @ mlp["W2"] + mlp["b2"], rtol=1e-14)


@given(hnp.arrays(np.float64, (4, 5), elements=st.floats(-30, 30)),
       hnp.arrays(np.float64, (4, 5), elements=st.floats(-30, 30)),
       hnp.arrays(np.int64, (4,), elements=st.integers(0, 4)),
       st.floats(0.05, 50), st.floats(0, 1))
@settings(max_examples=80, deadline=None)
def test_kd_objective_properties(zs, zt, y, t, a):
    loss, grad = dt.kd_objective(zs, labels=y, teacher_logits=zt, temperature=t, alpha=a)
    soft = r1lib.distillation_loss(zt, zs, t)
    hard = dt.cross_entropy(zs, y)
    # Linear in alpha, non-negative, and every example's gradient sums to zero over classes.
    assert loss == pytest.approx(a * soft + (1 - a) * hard, rel=1e-9, abs=1e-12)
    assert loss >= 0.0 and np.isfinite(grad).all()
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-12 * max(1.0, t))
    expected = (a * r1lib.distillation_grad(zt, zs, t) + (1 - a) * (special.softmax(zs, axis=1)
                - np.eye(5)[y])) / 4
    np.testing.assert_allclose(grad, expected, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("temperature", [0.2, 1.0, 7.0])
def test_kd_objective_gradient_matches_finite_differences(temperature):
    _, y, zt = _data(9)
    zs = np.random.default_rng(10).normal(size=(N, K))
    _, grad = dt.kd_objective(zs, labels=y, teacher_logits=zt, temperature=temperature, alpha=0.6)
    fd = central_difference(
        lambda z: dt.kd_objective(z, labels=y, teacher_logits=zt, temperature=temperature, alpha=0.6)[0], zs)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


def test_cross_entropy_against_scipy_and_its_gradient():
    _, y, zt = _data(11)
    ref = -special.log_softmax(zt, axis=1)[np.arange(N), y].mean()
    assert dt.cross_entropy(zt, y) == pytest.approx(ref, rel=1e-13)
    np.testing.assert_allclose(dt.cross_entropy_grad(zt, y),
                               (special.softmax(zt, axis=1) - np.eye(K)[y]) / N, rtol=1e-12, atol=1e-15)
    # Huge logits stay finite (log space), a confidently wrong prediction costs ~ the logit gap.
    z = np.array([[1000.0, -1000.0, 0.0]])
    assert dt.cross_entropy(z, [1]) == pytest.approx(2000.0, rel=1e-12)


def test_teacher_terms_are_not_needed_at_the_extremes():
    X, y, zt = _data(12)
    params = _params(H)
    hard, _ = dt.loss_and_grads(params, X, labels=y, alpha=0.0)
    soft, _ = dt.loss_and_grads(params, X, teacher_logits=zt, temperature=2.0, alpha=1.0)
    z = dt.forward(params, X)
    assert hard == pytest.approx(dt.cross_entropy(z, y), rel=1e-13)
    assert soft == pytest.approx(r1lib.distillation_loss(zt, z, 2.0), rel=1e-13)


# ------------------------------------------------------------------------------------------
# Batches of models
# ------------------------------------------------------------------------------------------

def test_a_batch_trains_exactly_like_its_models_alone():
    rng = np.random.default_rng(13)
    M = 3
    X = rng.normal(size=(M, N, D))
    y = rng.integers(0, K, size=(M, N))
    zt = rng.normal(size=(M, N, K))
    alpha = np.array([0.0, 0.5, 1.0])
    batch = _params(H, seed=14, n_models=M)
    res = dt.train(batch, X, labels=y, teacher_logits=zt, temperature=3.0, alpha=alpha, steps=25,
                   learning_rate=0.05, weight_decay=0.01, log_every=5)
    assert res.losses.shape == (6, M)
    for m in range(M):
        alone = dt.train({k: v[m] for k, v in batch.items()}, X[m], labels=y[m], teacher_logits=zt[m],
                         temperature=3.0, alpha=float(alpha[m]), steps=25, learning_rate=0.05,
                         weight_decay=0.01, log_every=5)
        for name in batch:
            np.testing.assert_allclose(res.params[name][m], alone.params[name], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(res.losses[:, m], alone.losses, rtol=1e-9)


def test_batched_gradients_are_each_models_own():
    X, y, zt = _data(15)
    batch = _params(H, seed=16, n_models=2)
    loss, grads = dt.loss_and_grads(batch, X, labels=y, teacher_logits=zt, temperature=2.0,
                                    alpha=np.array([0.2, 0.9]))
    assert loss.shape == (2,)
    for m, a in enumerate([0.2, 0.9]):
        one = {k: v[m] for k, v in batch.items()}
        loss_m, grads_m = dt.loss_and_grads(one, X, labels=y, teacher_logits=zt, temperature=2.0, alpha=a)
        assert loss[m] == pytest.approx(loss_m, rel=1e-12)
        for name in grads:
            np.testing.assert_allclose(grads[name][m], grads_m[name], rtol=1e-12, atol=1e-14)
    acc = dt.accuracy(batch, X, y)
    assert acc.shape == (2,) and dt.predict(batch, X).shape == (2, N)
    assert dt.count_parameters(batch) == D * H + H + H * K + K


# ------------------------------------------------------------------------------------------
# Training
# ------------------------------------------------------------------------------------------

def test_training_reduces_the_loss_and_fits_separable_data():
    rng = np.random.default_rng(17)
    centers = 4.0 * rng.normal(size=(K, D))
    y = rng.integers(0, K, size=60)
    X = centers[y] + rng.normal(size=(60, D))
    for n_hidden in (0, H):
        res = dt.train(dt.init_params(D, K, n_hidden, rng), X, labels=y, steps=200,
                       learning_rate=0.05, log_every=1)
        assert res.final_loss < 0.1 * res.losses[0]
        assert res.loss_steps.tolist() == list(range(201))
        assert dt.accuracy(res.params, X, y) == 1.0


def test_first_adam_step_moves_every_parameter_by_the_learning_rate():
    """Adam's bias-corrected first step is lr * g / (|g| + eps): each coordinate moves by lr,
    against its gradient (a check of the optimiser that needs no second implementation)."""
    X, y, zt = _data(18)
    params = _params(H, seed=19)
    _, grads = dt.loss_and_grads(params, X, labels=y, teacher_logits=zt, temperature=2.0, alpha=0.5)
    res = dt.train(params, X, labels=y, teacher_logits=zt, temperature=2.0, alpha=0.5, steps=1,
                   learning_rate=1e-3)
    for name in params:
        step = res.params[name] - params[name]
        expected = -1e-3 * grads[name] / (np.abs(grads[name]) + 1e-8)
        np.testing.assert_allclose(step, expected, rtol=1e-9, atol=1e-15)


def test_training_is_deterministic_and_leaves_its_input_alone():
    X, y, zt = _data(20)

    def run(seed):
        p = dt.init_params(D, K, H, np.random.default_rng(seed))
        before = {k: v.copy() for k, v in p.items()}
        res = dt.train(p, X, labels=y, teacher_logits=zt, temperature=4.0, alpha=0.5, steps=30)
        for k in p:
            np.testing.assert_array_equal(p[k], before[k])
        return res

    a, b, c = run(21), run(21), run(22)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert not np.allclose(a.params["W1"], c.params["W1"])
    np.testing.assert_array_equal(a.losses, b.losses)


@pytest.mark.parametrize("temperature", [0.01, 0.1, 20.0, 1000.0])
def test_extreme_temperatures_train_without_warnings_or_nan(temperature):
    X, y, zt = _data(23)
    zt = 30.0 * zt  # a very confident teacher
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = dt.train(_params(H), X, labels=y, teacher_logits=zt, temperature=temperature,
                       alpha=0.7, steps=20, learning_rate=0.01)
    assert np.isfinite(res.losses).all()
    assert all(np.isfinite(v).all() for v in res.params.values())


def test_divergence_is_reported_not_returned():
    X, y, _ = _data(24)
    with pytest.raises(FloatingPointError, match="diverged"):
        dt.train(_params(0), X, labels=y, steps=50, learning_rate=1e307)


# ------------------------------------------------------------------------------------------
# Sampling labels from the teacher (sequence-level distillation)
# ------------------------------------------------------------------------------------------

def test_sampled_label_frequencies_follow_the_tempered_teacher():
    zt = np.array([[2.0, 1.0, 0.0, -1.0], [0.0, 0.0, 3.0, 0.0]])
    for t in (0.5, 1.0, 3.0):
        labels = dt.sample_teacher_labels(zt, np.random.default_rng(25), temperature=t,
                                          samples_per_input=40_000)
        assert labels.shape == (2, 40_000)
        for row in range(2):
            counts = np.bincount(labels[row], minlength=4)
            expected = special.softmax(zt[row] / t) * 40_000
            assert stats.chisquare(counts, expected).pvalue > 1e-4


def test_sampling_at_tiny_temperature_is_greedy_and_is_deterministic():
    zt = np.random.default_rng(26).normal(size=(50, 6))
    low = dt.sample_teacher_labels(zt, np.random.default_rng(0), temperature=1e-6, samples_per_input=3)
    np.testing.assert_array_equal(low, np.repeat(zt.argmax(1)[:, None], 3, axis=1))
    a = dt.sample_teacher_labels(zt, np.random.default_rng(1))
    b = dt.sample_teacher_labels(zt, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert dt.sample_teacher_labels(zt[None], np.random.default_rng(1)).shape == (1, 50, 1)


def test_sft_on_teacher_samples_has_the_distillation_gradient_in_expectation():
    """E_{y ~ p_t}[p_s - e_y] = p_s - p_t = distillation_grad at T = 1 (per example)."""
    zt = np.array([[1.5, 0.2, -1.0]])
    zs = np.array([[0.0, 1.0, 0.5]])
    n = 200_000
    y = dt.sample_teacher_labels(zt, np.random.default_rng(27), samples_per_input=n)[0]
    per_sample = special.softmax(zs[0]) - np.eye(3)[y]   # gradient of -log p_s(y) per sample
    mean, se = per_sample.mean(0), per_sample.std(0) / np.sqrt(n)
    exact = r1lib.distillation_grad(zt, zs, 1.0)[0]
    assert np.all(np.abs(mean - exact) < 5 * se)


@pytest.mark.parametrize("t_s", [0.5, 1.0, 3.0])
def test_sft_expected_grad_is_the_gradient_of_the_expected_cross_entropy(t_s):
    """p_s(1) - p_t(T_s) against central differences of E_{y ~ p_t(T_s)}[-log p_s(y)], written
    with scipy; it vanishes at the student z_t / T_s (the tempered teacher), not at z_t."""
    rng = np.random.default_rng(29)
    zt, zs = 2 * rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    q = special.softmax(zt / t_s, axis=-1)
    expected_ce = lambda z: float(np.sum(-q * special.log_softmax(z, axis=-1)))   # noqa: E731
    fd = central_difference(expected_ce, zs, 1e-6)
    grad = dt.sft_expected_grad(zt, zs, t_s)
    assert np.allclose(grad, fd, rtol=1e-6, atol=1e-9)
    assert np.allclose(grad.sum(axis=-1), 0.0, atol=1e-15)
    assert np.allclose(dt.sft_expected_grad(zt, zt / t_s + 7.0, t_s), 0.0, atol=1e-15)
    kd_direction = r1lib.distillation_grad(zt, zs, t_s) / t_s        # p_s(T_s) - p_t(T_s)
    if t_s == 1.0:
        assert np.allclose(grad, kd_direction, rtol=1e-13, atol=1e-15)
    else:
        assert not np.allclose(grad, kd_direction, atol=1e-3)
        assert np.abs(dt.sft_expected_grad(zt, zt, t_s)).max() > 1e-2   # the teacher itself is no fixed point


def test_sft_expected_grad_is_the_mean_gradient_of_hot_samples():
    """Monte Carlo over labels drawn at T_s = 3: the mean of p_s - e_y lands within 5 standard
    errors of p_s(1) - p_t(3), and far from KD's p_s(3) - p_t(3)."""
    zt, zs = np.array([[2.0, 0.5, -1.0, 0.0]]), np.array([[0.3, -0.2, 0.8, 0.0]])
    n = 200_000
    y = dt.sample_teacher_labels(zt, np.random.default_rng(30), temperature=3.0, samples_per_input=n)[0]
    per_sample = special.softmax(zs[0]) - np.eye(4)[y]
    mean, se = per_sample.mean(0), per_sample.std(0) / np.sqrt(n)
    assert np.all(np.abs(mean - dt.sft_expected_grad(zt, zs, 3.0)[0]) < 5 * se)
    assert np.abs(mean - r1lib.distillation_grad(zt, zs, 3.0)[0] / 3.0).max() > 50 * se.max()


def test_sft_expected_grad_masked_classes_and_bad_input():
    masked = dt.sft_expected_grad([1.0, 0.0, -np.inf], [0.0, 0.5, 0.0], 2.0)
    assert np.all(np.isfinite(masked)) and masked[2] == special.softmax([0.0, 0.5, 0.0])[2]
    with pytest.raises(ValueError, match="same shape"):
        dt.sft_expected_grad(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="sample_temperature"):
        dt.sft_expected_grad(np.zeros(3), np.zeros(3), 0.0)
    with pytest.raises(TypeError, match="teacher_logits"):
        dt.sft_expected_grad("abc", np.zeros(3))


# ------------------------------------------------------------------------------------------
# The high-temperature limit
# ------------------------------------------------------------------------------------------

def test_logit_matching_is_the_high_temperature_limit():
    rng = np.random.default_rng(28)
    zt, zs = 3 * rng.normal(size=(4, 10)), 3 * rng.normal(size=(4, 10)) + 5.0  # shifted: no zero mean
    limit = dt.logit_matching_loss(zt, zs)
    d = (zt - zs) - (zt - zs).mean(1, keepdims=True)
    np.testing.assert_allclose(limit, (d ** 2).sum(1) / 20, rtol=1e-13)
    errors = []
    for t in (1e2, 1e3, 1e4):
        kd = r1lib.distillation_loss(zt, zs, t, reduction="none")
        errors.append(np.max(np.abs(kd / limit - 1)))
    # The correction is O(1/T): ten times the temperature, a tenth of the error.
    assert errors[2] < 1e-3
    assert errors[0] / errors[1] == pytest.approx(10, rel=0.1)
    assert errors[1] / errors[2] == pytest.approx(10, rel=0.1)
    np.testing.assert_allclose(r1lib.distillation_grad(zt, zs, 1e5), dt.logit_matching_grad(zt, zs),
                               atol=1e-4)


def test_logit_matching_gradient_matches_finite_differences_and_ignores_shifts():
    rng = np.random.default_rng(29)
    zt, zs = rng.normal(size=6), rng.normal(size=6)
    h = 1e-6
    fd = np.array([(dt.logit_matching_loss(zt, zs + h * e) - dt.logit_matching_loss(zt, zs - h * e)) / (2 * h)
                   for e in np.eye(6)])
    np.testing.assert_allclose(dt.logit_matching_grad(zt, zs), fd, atol=1e-9)
    assert dt.logit_matching_loss(zt, zs + 7.0) == pytest.approx(dt.logit_matching_loss(zt, zs), rel=1e-12)
    assert dt.logit_matching_loss(zt, zt - 3.0) == pytest.approx(0.0, abs=1e-15)


# ------------------------------------------------------------------------------------------
# Forward versus reverse KL fits
# ------------------------------------------------------------------------------------------

X_GRID = np.linspace(-10, 10, 201)


def _two_modes(sep, w=0.5):
    return w * stats.norm.pdf(X_GRID, -sep / 2, 1) + (1 - w) * stats.norm.pdf(X_GRID, sep / 2, 1)


def test_gaussian_on_grid_is_a_normalised_gaussian():
    q = dt.gaussian_on_grid(X_GRID, np.array([0.0, 1.5]), 0.7)
    assert q.shape == (2, 201)
    ref = stats.norm.pdf(X_GRID, 1.5, 0.7)
    np.testing.assert_allclose(q[1], ref / ref.sum(), rtol=1e-9, atol=1e-300)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-14)


def test_forward_fit_matches_moments_and_reverse_fit_picks_the_heavier_mode():
    p = _two_modes(6.0, w=0.7)
    p = p / p.sum()
    mean = np.sum(p * X_GRID)
    std = np.sqrt(np.sum(p * (X_GRID - mean) ** 2))
    means, stds = np.linspace(-5, 5, 101), np.geomspace(0.3, 6, 120)
    fwd = dt.fit_gaussian(p, X_GRID, means, stds, "forward")
    rev = dt.fit_gaussian(p, X_GRID, means, stds, "reverse")
    # Forward KL to a Gaussian family is minimised by matching mean and variance.
    assert fwd.mean == pytest.approx(mean, abs=0.05)
    assert fwd.std == pytest.approx(std, rel=0.02)
    # Reverse KL sits on the heavier mode (-3) with about its width.
    assert rev.mean == pytest.approx(-3.0, abs=0.1)
    assert rev.std == pytest.approx(1.0, rel=0.05)
    # Reported divergences are the ones scipy computes for the chosen candidates.
    q_f = dt.gaussian_on_grid(X_GRID, fwd.mean, fwd.std)
    q_r = dt.gaussian_on_grid(X_GRID, rev.mean, rev.std)
    assert fwd.kl == pytest.approx(stats.entropy(p, q_f), rel=1e-9)
    assert rev.kl == pytest.approx(stats.entropy(q_r, p), rel=1e-9)
    assert fwd.kl_grid.shape == (101, 120)
    assert fwd.kl == pytest.approx(fwd.kl_grid.min())


def test_a_gaussian_target_is_recovered_by_both_directions():
    p = stats.norm.pdf(X_GRID, 1.0, 1.5)
    p = p / p.sum()
    for direction in ("forward", "reverse"):
        fit = dt.fit_gaussian(p, X_GRID, np.linspace(-2, 2, 41), np.array([1.0, 1.5, 2.0]), direction)
        assert (fit.mean, fit.std) == (pytest.approx(1.0), 1.5)
        assert fit.kl < 1e-12


def test_a_family_built_once_fits_like_fit_gaussian():
    means, stds = np.linspace(-4, 4, 41), np.geomspace(0.5, 4, 20)
    family = dt.GaussianFamily(X_GRID, means, stds)
    assert family.q.shape == (41, 20, X_GRID.size)
    for sep, w in ((2.0, 0.5), (5.0, 0.8)):
        p = _two_modes(sep, w)
        p = p / p.sum()
        for direction in ("forward", "reverse"):
            a = family.fit(p, direction)
            b = dt.fit_gaussian(p, X_GRID, means, stds, direction)
            assert (a.mean, a.std, a.kl) == (b.mean, b.std, b.kl)
    with pytest.raises(ValueError, match="target"):
        family.fit(np.full(5, 0.2))
    with pytest.raises(ValueError, match="1-D"):
        dt.GaussianFamily(X_GRID, np.zeros((2, 2)), stds)


# ------------------------------------------------------------------------------------------
# Data helpers and the experiment
# ------------------------------------------------------------------------------------------

def test_standardize_uses_the_fit_statistics_only():
    rng = np.random.default_rng(30)
    A = rng.normal(3.0, 2.0, size=(100, 4))
    A[:, 2] = 5.0  # a constant column (digits has some) must not become NaN
    B = rng.normal(size=(10, 4))
    A2, B2 = dt.standardize(A, B)
    np.testing.assert_allclose(A2.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(A2.std(0)[[0, 1, 3]], 1.0, rtol=1e-12)
    np.testing.assert_array_equal(A2[:, 2], 0.0)
    np.testing.assert_allclose(B2[:, 0], (B[:, 0] - A[:, 0].mean()) / A[:, 0].std(), rtol=1e-12)


@pytest.fixture(scope="module")
def digits():
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    rng = np.random.default_rng(31)
    perm = rng.permutation(len(d.target))
    test, pool = perm[:400], perm[400:]
    Xp, Xt = dt.standardize(d.data[pool], d.data[test])
    teacher = dt.train(dt.init_params(64, 10, 32, rng), Xp, labels=d.target[pool], steps=120,
                       learning_rate=0.01, weight_decay=1e-3)
    return Xp, d.target[pool], dt.forward(teacher.params, Xp), Xt, d.target[test], teacher


def test_compare_students_on_digits(digits):
    Xp, yp, zt, Xt, yt, teacher = digits
    assert dt.accuracy(teacher.params, Xt, yt) > 0.93
    kw = dict(n_transfer=50, n_repeats=4, temperatures=[1.0, 8.0], alphas=[0.0, 0.5, 1.0],
              steps=150)
    a = dt.compare_students(Xp, yp, zt, Xt, yt, rng=np.random.default_rng(32), **kw)
    b = dt.compare_students(Xp, yp, zt, Xt, yt, rng=np.random.default_rng(32), **kw)
    assert a.kd.shape == (2, 3, 4) and a.hard.shape == a.sampled.shape == (4,)
    np.testing.assert_array_equal(a.kd, b.kd)
    np.testing.assert_array_equal(a.sampled, b.sampled)
    # alpha = 0 is the hard-label student, whatever the temperature.
    np.testing.assert_array_equal(a.kd[:, 0], np.stack([a.hard, a.hard]))
    np.testing.assert_array_equal(a.kd_at(7.0, 0.45), a.kd[1, 1])
    assert a.n_parameters == 64 * 8 + 8 + 8 * 10 + 10
    # Soft targets at a high temperature teach 50 examples' worth of a small student much more
    # than the labels do (paired over the same transfer sets and initial students).
    assert np.mean(a.kd[1, 1] - a.hard) > 0.05


def test_compare_students_alpha_zero_matches_a_separate_hard_training(digits):
    Xp, yp, zt, Xt, yt, _ = digits
    res = dt.compare_students(Xp, yp, zt, Xt, yt, n_transfer=30, n_repeats=2, temperatures=[2.0],
                              alphas=[0.5], steps=40, rng=np.random.default_rng(33))
    rng = np.random.default_rng(33)
    idx = np.stack([rng.choice(len(yp), 30, replace=False) for _ in range(2)])
    init = dt.init_params(64, 10, 8, rng, n_models=2)
    hard = dt.train(init, Xp[idx], labels=yp[idx], steps=40, learning_rate=0.03, weight_decay=1e-3)
    np.testing.assert_array_equal(res.hard, dt.accuracy(hard.params, Xt, yt))


# ------------------------------------------------------------------------------------------
# Bad input: every error names the parameter
# ------------------------------------------------------------------------------------------

def _call(fn, **changes):
    X, y, zt = _data(40)
    kw = dict(params=_params(H), X=X, labels=y, teacher_logits=zt, temperature=2.0, alpha=0.5)
    kw.update(changes)
    params, Xv = kw.pop("params"), kw.pop("X")
    return fn(params, Xv, **kw)


BAD_TRAINING_INPUT = [
    (dict(params=[1, 2]), TypeError, "params"),
    (dict(params={"W": np.ones((5, 3))}), ValueError, "keys"),
    (dict(params={"W": np.ones((5, 3)), "b": np.ones(4)}), ValueError, "inconsistent"),
    (dict(params={"W": np.ones(5), "b": np.ones(3)}), ValueError, "params"),
    (dict(params={"W": np.full((5, 3), np.nan), "b": np.ones(3)}), ValueError, "NaN"),
    (dict(X=np.ones((7, 4))), ValueError, "features"),
    (dict(X=np.ones(5)), ValueError, "X"),
    (dict(X="data"), TypeError, "X"),
    (dict(labels=np.zeros(7)), TypeError, "labels"),
    (dict(labels=np.zeros(7, dtype=bool)), TypeError, "labels"),
    (dict(labels=np.full(7, 3)), ValueError, "labels"),
    (dict(labels=np.full(7, -1)), ValueError, "labels"),
    (dict(labels=np.zeros(6, dtype=int)), ValueError, "labels"),
    (dict(labels=None), ValueError, "labels are required"),
    (dict(teacher_logits=None), ValueError, "teacher_logits are required"),
    (dict(teacher_logits=np.ones((7, 4))), ValueError, "teacher_logits"),
    (dict(teacher_logits=np.full((7, 3), np.inf)), ValueError, "teacher_logits"),
    (dict(temperature=0.0), ValueError, "temperature"),
    (dict(temperature=-1.0), ValueError, "temperature"),
    (dict(temperature="hot"), TypeError, "temperature"),
    (dict(alpha=1.5), ValueError, "alpha"),
    (dict(alpha=-0.1), ValueError, "alpha"),
    (dict(alpha=True), TypeError, "alpha"),
    (dict(alpha=np.array([0.5, 0.5])), ValueError, "alpha"),
    (dict(alpha=float("nan")), ValueError, "alpha"),
    (dict(weight_decay=-1.0), ValueError, "weight_decay"),
]


@pytest.mark.parametrize("changes, error, match", BAD_TRAINING_INPUT)
def test_bad_training_input(changes, error, match):
    with pytest.raises(error, match=match):
        _call(dt.loss_and_grads, **changes)
    with pytest.raises(error, match=match):
        _call(dt.train, steps=2, **changes)


@pytest.mark.parametrize("changes, error, match", [
    (dict(steps=0), ValueError, "steps"),
    (dict(steps=2.0), TypeError, "steps"),
    (dict(learning_rate=0.0), ValueError, "learning_rate"),
    (dict(log_every=0), ValueError, "log_every"),
])
def test_bad_optimiser_settings(changes, error, match):
    with pytest.raises(error, match=match):
        _call(dt.train, **changes)


def test_bad_input_elsewhere():
    rng = np.random.default_rng(41)
    X, y, zt = _data(41)
    with pytest.raises(TypeError, match="rng"):
        dt.init_params(5, 3, 2, rng=42)
    with pytest.raises(ValueError, match="n_classes"):
        dt.init_params(5, 1, 2, rng)
    with pytest.raises(ValueError, match="n_hidden"):
        dt.init_params(5, 3, -1, rng)
    with pytest.raises(TypeError, match="n_models"):
        dt.init_params(5, 3, 2, rng, n_models=2.5)
    with pytest.raises(ValueError, match="X"):  # per-model data for a single model
        dt.forward(_params(0), np.ones((2, N, D)))
    with pytest.raises(ValueError, match="dlogits"):
        dt.backward(_params(H), X, np.ones((N, K + 1)))
    with pytest.raises(ValueError, match="labels"):
        dt.accuracy(_params(H), X, y[:-1])
    with pytest.raises(ValueError, match="logits"):
        dt.cross_entropy(np.ones(3), [0])
    with pytest.raises(ValueError, match="student_logits"):
        dt.kd_objective(np.ones((2, 1)), labels=[0, 0])
    with pytest.raises(TypeError, match="rng"):
        dt.sample_teacher_labels(zt, rng=None)
    with pytest.raises(ValueError, match="samples_per_input"):
        dt.sample_teacher_labels(zt, rng, samples_per_input=0)
    with pytest.raises(ValueError, match="temperature"):
        dt.sample_teacher_labels(zt, rng, temperature=0.0)
    with pytest.raises(ValueError, match="teacher_logits"):
        dt.sample_teacher_labels(np.ones(3), rng)
    with pytest.raises(ValueError, match="differ"):
        dt.logit_matching_loss(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="differ"):
        dt.logit_matching_grad(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="features"):
        dt.standardize(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="X_fit"):
        dt.standardize(np.ones(3))
    with pytest.raises(ValueError, match="std"):
        dt.gaussian_on_grid(X_GRID, 0.0, 0.0)
    with pytest.raises(ValueError, match="support"):
        dt.gaussian_on_grid([1.0], 0.0, 1.0)
    with pytest.raises(ValueError, match="direction"):
        dt.fit_gaussian(np.full(201, 1 / 201), X_GRID, [0.0], [1.0], direction="sideways")
    with pytest.raises(ValueError, match="target"):
        dt.fit_gaussian(np.full(200, 1 / 200), X_GRID, [0.0], [1.0])
    with pytest.raises(ValueError, match="sum to 1"):
        dt.fit_gaussian(np.ones(201), X_GRID, [0.0], [1.0])


def test_bad_experiment_input(digits):
    Xp, yp, zt, Xt, yt, _ = digits
    rng = np.random.default_rng(42)
    with pytest.raises(ValueError, match="n_transfer"):
        dt.compare_students(Xp, yp, zt, Xt, yt, n_transfer=len(yp) + 1, rng=rng)
    with pytest.raises(ValueError, match="teacher_logits"):
        dt.compare_students(Xp, yp, zt[:-1], Xt, yt, n_transfer=10, rng=rng)
    with pytest.raises(ValueError, match="X_test"):
        dt.compare_students(Xp, yp, zt, Xt[:, :5], yt, n_transfer=10, rng=rng)
    with pytest.raises(ValueError, match="y_pool"):
        dt.compare_students(Xp, yp + 10, zt, Xt, yt, n_transfer=10, rng=rng)
    with pytest.raises(ValueError, match="alpha"):
        dt.compare_students(Xp, yp, zt, Xt, yt, n_transfer=10, rng=rng, alphas=[0.5, 2.0])
    with pytest.raises(ValueError, match="temperatures"):
        dt.compare_students(Xp, yp, zt, Xt, yt, n_transfer=10, rng=rng, temperatures=[1.0, -1.0])
    with pytest.raises(TypeError, match="rng"):
        dt.compare_students(Xp, yp, zt, Xt, yt, n_transfer=10, rng=0)

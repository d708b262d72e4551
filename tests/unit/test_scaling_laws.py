"""Power-law fits against scipy and against laws with known exponents; the scaling experiment's bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from genai_foundations.architectures.mlp import MLP
from genai_foundations.architectures.scaling_laws import (
    PowerLawFit,
    fit_joint_scaling_law,
    fit_power_law,
    log_log_fit,
    mlp_parameter_count,
    scaling_experiment,
)


def noisy_law(alpha: float, A: float, E: float, noise: float, seed: int, n_points: int = 10):
    rng = np.random.default_rng(seed)
    N = np.logspace(3, 7, n_points)
    return N, (E + A * N ** (-alpha)) * np.exp(noise * rng.standard_normal(n_points))


def test_log_log_fit_equals_scipy_linregress():
    N, loss = noisy_law(0.3, 5.0, 0.0, 0.05, seed=0)
    alpha, se, A = log_log_fit(N, loss)
    reg = stats.linregress(np.log(N), np.log(loss))
    assert alpha == pytest.approx(-reg.slope, rel=1e-12)
    assert se == pytest.approx(reg.stderr, rel=1e-10)
    assert A == pytest.approx(math.exp(reg.intercept), rel=1e-12)
    # the same numbers from tensors and lists
    assert log_log_fit(torch.tensor(N), torch.tensor(loss)) == pytest.approx((alpha, se, A), rel=1e-12)
    assert log_log_fit(list(N), list(loss)) == pytest.approx((alpha, se, A), rel=1e-12)


def test_exact_power_law_is_recovered_with_zero_error():
    N = np.array([10.0, 100.0, 1000.0, 1e4])
    alpha, se, A = log_log_fit(N, 3.0 * N ** -0.5)
    assert alpha == pytest.approx(0.5, rel=1e-12) and A == pytest.approx(3.0, rel=1e-12) and se < 1e-12


def test_noisy_exponent_is_covered_by_its_error_bar():
    covered = 0
    for seed in range(400):
        fit = fit_power_law(*noisy_law(0.3, 5.0, 0.0, 0.05, seed=seed))
        assert 0 < fit.alpha_se < 0.1
        covered += abs(fit.alpha - 0.3) < 2 * fit.alpha_se
    # with 8 degrees of freedom, +-2 standard errors cover the truth about 92% of the time
    assert 0.87 < covered / 400 < 0.97


def test_offset_fit_recovers_the_irreducible_loss():
    N = np.logspace(2, 6, 12)
    fit = fit_power_law(N, 1.5 + 40.0 * N ** -0.35, offset=True)
    assert fit.offset and fit.E == pytest.approx(1.5, rel=1e-4)
    assert fit.alpha == pytest.approx(0.35, rel=1e-4) and fit.A == pytest.approx(40.0, rel=1e-3)
    np.testing.assert_allclose(fit.predict(N), 1.5 + 40.0 * N ** -0.35, rtol=1e-6)
    noisy = fit_power_law(*noisy_law(0.35, 40.0, 1.5, 0.005, seed=3, n_points=12), offset=True)
    assert abs(noisy.alpha - 0.35) < 3 * noisy.alpha_se and abs(noisy.E - 1.5) < 3 * noisy.E_se
    # without the offset the straight-line fit underestimates the exponent of a curve that flattens
    assert fit_power_law(N, 1.5 + 40.0 * N ** -0.35).alpha < 0.2
    assert "alpha" in str(fit) and isinstance(fit, PowerLawFit)


def test_joint_fit_recovers_a_chinchilla_shaped_law():
    rng = np.random.default_rng(0)
    N, D = (g.ravel() for g in np.meshgrid(np.logspace(3, 6, 5), np.logspace(2, 5, 5)))
    truth = dict(E=0.2, A=30.0, alpha=0.5, B=8.0, beta=0.35)
    loss = truth["E"] + truth["A"] * N ** -truth["alpha"] + truth["B"] * D ** -truth["beta"]
    fit = fit_joint_scaling_law(N, D, loss * np.exp(0.002 * rng.standard_normal(len(N))))
    for key in ("alpha", "beta", "E"):
        assert abs(getattr(fit, key) - truth[key]) < max(4 * getattr(fit, key + "_se"), 1e-3), key
    assert fit.rms_log_residual < 0.005
    a, b = fit.compute_optimal_exponents()
    assert a + b == pytest.approx(1.0) and a == pytest.approx(fit.beta / (fit.alpha + fit.beta))
    np.testing.assert_allclose(fit.predict(N, D), loss, rtol=0.02)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="positive"):
        log_log_fit([1, 2, 3], [1.0, -1.0, 0.5])
    with pytest.raises(ValueError, match="same length"):
        log_log_fit([1, 2, 3], [1.0, 2.0])
    with pytest.raises(ValueError, match="at least 3"):
        log_log_fit([1, 2], [1.0, 2.0])
    with pytest.raises(ValueError, match="equal"):
        log_log_fit([5, 5, 5], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least 4"):
        fit_power_law([1, 2, 3], [3.0, 2.0, 1.0], offset=True)


def test_scaling_experiment_grid_and_parameter_counts():
    torch.manual_seed(0)
    x = torch.randn(300, 1, 3, 3)
    y = (x.reshape(300, -1).sum(1) > 0).long()
    result = scaling_experiment([2, 8], [40, 120, 200], x[:200], y[:200], x[200:250], y[200:250], x[250:], y[250:],
                                steps=30, batch_size=32, eval_every=10)
    assert result.loss.shape == (3, 2) and np.all(np.isfinite(result.loss))
    assert result.params == [mlp_parameter_count(9, 2, 2), mlp_parameter_count(9, 8, 2)]
    assert result.params[1] == sum(p.numel() for p in MLP(9, [8], 2).parameters())
    assert np.all((result.best_step >= 10) & (result.best_step <= 30))
    N, D, loss = result.runs()
    assert len(N) == 6 and D[0] == 40 and N[1] == result.params[1] and loss[1] == result.loss[0, 1]
    assert "D \\ N" in result.table()
    with pytest.raises(ValueError, match="exceeds"):
        scaling_experiment([2], [500], x[:200], y[:200], x, y, x, y, steps=5)

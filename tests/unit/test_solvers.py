"""ODE and SDE solvers against closed forms."""

import math

import pytest
import torch

from genai_foundations.algorithms.solvers import brownian_motion, euler_maruyama, euler_ode, heun_ode, langevin, midpoint_ode


def decay(x, t):
    return -x


def test_euler_is_the_explicit_recursion():
    x0 = torch.tensor([1.0], dtype=torch.float64)
    assert float(euler_ode(decay, x0, 0.0, 1.0, steps=10)) == pytest.approx(0.9**10, rel=1e-12)
    path = euler_ode(decay, x0, 0.0, 1.0, steps=10, return_path=True)
    assert path.shape == (11, 1) and float(path[0]) == 1.0


@pytest.mark.parametrize("solver,order", [(euler_ode, 1), (heun_ode, 2), (midpoint_ode, 2)])
def test_convergence_order(solver, order):
    """dx/dt = t x on [0, 1] has x(1) = x0 e^{1/2}; halving h divides the error by 2^order."""
    x0 = torch.tensor([1.0], dtype=torch.float64)
    exact = math.exp(0.5)
    errors = [abs(float(solver(lambda x, t: t * x, x0, 0.0, 1.0, steps=n)) - exact) for n in (20, 40, 80)]
    for coarse, fine in zip(errors, errors[1:]):
        assert coarse / fine == pytest.approx(2**order, rel=0.15)


def test_brownian_motion_variance_and_independent_increments():
    w = brownian_motion(20000, 50, t1=2.0, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert w.shape == (51, 20000, 1) and torch.all(w[0] == 0)
    assert float(w[-1].var()) == pytest.approx(2.0, rel=0.05)
    assert float(w[25].var()) == pytest.approx(1.0, rel=0.05)
    increments = w[-1] - w[25]
    assert abs(float(torch.corrcoef(torch.stack([w[25, :, 0], increments[:, 0]]))[0, 1])) < 0.03


def test_euler_maruyama_ornstein_uhlenbeck_moments():
    """dx = -theta x dt + sigma dW from x0: mean x0 e^{-theta t}, var sigma^2 (1 - e^{-2 theta t}) / (2 theta)."""
    theta, sigma, t1 = 1.0, 0.8, 1.5
    x0 = torch.full((40000, 1), 2.0, dtype=torch.float64)
    x = euler_maruyama(lambda x, t: -theta * x, sigma, x0, 0.0, t1, steps=300, generator=torch.Generator().manual_seed(1))
    assert float(x.mean()) == pytest.approx(2.0 * math.exp(-theta * t1), rel=0.03)
    assert float(x.var()) == pytest.approx(sigma**2 * (1 - math.exp(-2 * theta * t1)) / (2 * theta), rel=0.05)
    # with sigma = 0 it is Euler's method
    torch.testing.assert_close(euler_maruyama(decay, 0.0, x0[:3], steps=7), euler_ode(decay, x0[:3], steps=7))


def test_langevin_reaches_a_gaussian_variance():
    mean, std = torch.tensor([1.0, -2.0], dtype=torch.float64), torch.tensor([0.5, 2.0], dtype=torch.float64)
    x0 = torch.zeros(20000, 2, dtype=torch.float64)
    x = langevin(lambda x: -(x - mean) / std**2, x0, step_size=0.02, steps=3000, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(x.mean(0), mean, atol=0.05, rtol=0)
    assert torch.allclose(x.var(0), std**2, rtol=0.05)


def test_bad_arguments():
    with pytest.raises(ValueError, match="steps"):
        euler_ode(decay, torch.zeros(1), steps=0)
    with pytest.raises(ValueError, match="step_size"):
        langevin(lambda x: -x, torch.zeros(1), step_size=0.0, steps=3)



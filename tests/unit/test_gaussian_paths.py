"""Gaussian probability paths: every formula against autograd or its inverse."""

import math

import pytest
import torch

from genai_foundations.algorithms.gaussian_paths import (
    CosinePath, LinearPath, conditional_score, conditional_vector_field, make_path, noise_to_score,
    sample_conditional, score_to_vector_field, vector_field_to_score,
)

PATHS = [LinearPath(), CosinePath()]
g = torch.Generator().manual_seed(0)
Z = torch.randn(16, 3, generator=g, dtype=torch.float64)
EPS = torch.randn(16, 3, generator=g, dtype=torch.float64)
T = torch.rand(16, generator=g, dtype=torch.float64) * 0.9 + 0.05


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_endpoints_and_derivatives(path):
    zero, one = torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64)
    assert (path.alpha(zero), path.beta(zero), path.alpha(one)) == (0.0, 1.0, 1.0)
    assert abs(float(path.beta(one))) < 1e-15
    t = T.clone().requires_grad_(True)
    for value, derivative in ((path.alpha, path.alpha_dot), (path.beta, path.beta_dot)):
        (grad,) = torch.autograd.grad(value(t).sum(), t)
        torch.testing.assert_close(grad, derivative(T))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_conditional_field_is_the_velocity_of_x_t(path):
    """Along a fixed (z, eps), d/dt x_t equals u_t(x_t | z)."""
    t = T.clone().requires_grad_(True)
    x_t = sample_conditional(path, Z, t, EPS)
    velocity = torch.stack([torch.autograd.grad(x_t[:, j].sum(), t, retain_graph=True)[0] for j in range(3)], dim=1)
    torch.testing.assert_close(conditional_vector_field(path, x_t.detach(), Z, T), velocity)


def test_linear_path_target_is_z_minus_eps():
    path = LinearPath()
    x_t = sample_conditional(path, Z, T, EPS)
    torch.testing.assert_close(conditional_vector_field(path, x_t, Z, T), Z - EPS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_conditional_score_is_the_gradient_of_the_log_density(path):
    x = torch.randn(16, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    t = T[:, None]
    mean, std = path.alpha(t) * Z, path.beta(t)
    log_p = torch.distributions.Normal(mean, std).log_prob(x).sum()
    (grad,) = torch.autograd.grad(log_p, x)
    torch.testing.assert_close(conditional_score(path, x.detach(), Z, T), grad)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_score_and_vector_field_conversions(path):
    x_t = sample_conditional(path, Z, T, EPS)
    score = conditional_score(path, x_t, Z, T)
    torch.testing.assert_close(score_to_vector_field(path, score, x_t, T), conditional_vector_field(path, x_t, Z, T))
    field = torch.randn(16, 3, generator=g, dtype=torch.float64)
    torch.testing.assert_close(score_to_vector_field(path, vector_field_to_score(path, field, x_t, T), x_t, T), field)
    torch.testing.assert_close(noise_to_score(path, EPS, T), score)


def test_marginal_conversion_for_gaussian_data():
    """Data N(m, s^2): p_t = N(alpha m, alpha^2 s^2 + beta^2); the converted score gives the ODE that keeps p_t."""
    path, m, s2, t = LinearPath(), 1.5, 0.25, 0.4
    a, b, ad, bd = t, 1 - t, 1.0, -1.0
    var = a * a * s2 + b * b
    x = torch.linspace(-3, 3, 7, dtype=torch.float64)[:, None]
    score = -(x - a * m) / var
    # the velocity that transports N(a m, var): d/dt mean + (d/dt std / std) (x - mean)
    dvar = 2 * a * ad * s2 + 2 * b * bd
    expected = ad * m + 0.5 * dvar / var * (x - a * m)
    torch.testing.assert_close(score_to_vector_field(path, score, x, t), expected)


def test_errors():
    with pytest.raises(ValueError, match="unknown path"):
        make_path("quadratic")
    with pytest.raises(ValueError, match="shape"):
        sample_conditional(LinearPath(), Z, torch.zeros(3), EPS)
    with pytest.raises(ValueError, match="noise"):
        sample_conditional(LinearPath(), Z, 0.5, EPS[:2])
    assert make_path("cosine").alpha(torch.tensor(0.5)) == pytest.approx(math.sin(math.pi / 4))

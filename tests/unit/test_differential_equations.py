"""The 1-D PDE solvers and closed forms of chapter 20 against numpy/scipy, autograd, closed forms and particles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from genai_foundations.algorithms.gaussian_paths import CosinePath, LinearPath, score_to_vector_field
from genai_foundations.algorithms.score_matching import GaussianMixture
from genai_foundations.appendices import differential_equations as de
from genai_foundations.algorithms.solvers import euler_maruyama, heun_ode
from genai_foundations.appendices.differential_equations import (
    GaussianMixture1D, Grid1D, MixtureProbabilityPath, coarsen, fokker_planck_residual, fokker_planck_rhs,
    fokker_planck_step, grid_moments, histogram_density, kl_divergence, l1_distance, ou_euler_maruyama, ou_mean_var,
    sampling_l1_floor, solve_continuity, solve_fokker_planck, stable_time_step)
from genai_foundations.runtime import randn

F64 = torch.float64
BIMODAL = GaussianMixture1D([-2.0, 1.5], [0.4, 0.6], [0.35, 0.65])


def gaussian(mean: float, std: float) -> GaussianMixture1D:
    return GaussianMixture1D([mean], [std])


# ----------------------------------------------------------------------------------------------------------------
# Grids and densities on them
# ----------------------------------------------------------------------------------------------------------------
def test_grid_and_histogram_match_numpy():
    grid = Grid1D.uniform(-3.0, 2.0, 25)
    assert grid.dx == pytest.approx(0.2)
    np.testing.assert_allclose(grid.edges.numpy(), np.linspace(-3, 2, 26), atol=1e-12)
    np.testing.assert_allclose(grid.centers.numpy(), np.linspace(-2.9, 1.9, 25), atol=1e-12)
    x = torch.randn(5000, generator=torch.Generator().manual_seed(0), dtype=F64) * 1.5
    x[:3] = torch.tensor([2.0, -3.0, 1.0])                          # both end points and an interior edge
    counts, _ = np.histogram(x.numpy(), bins=grid.edges.numpy())     # numpy ignores samples outside the range
    np.testing.assert_allclose(histogram_density(x, grid).numpy(), counts / (x.numel() * grid.dx), rtol=0, atol=1e-12)
    outside = float(((x < -3) | (x > 2)).double().mean())
    assert grid_moments(histogram_density(x, grid), grid)[0] == pytest.approx(1 - outside, abs=1e-12)


def test_moments_distances_and_coarsening():
    grid = Grid1D.uniform(-8, 8, 800)
    p, q = gaussian(0.5, 1.2).cell_average(grid), gaussian(-0.3, 0.9).cell_average(grid)
    mass, mean, var = grid_moments(p, grid)
    assert mass == pytest.approx(1, abs=1e-9) and mean == pytest.approx(0.5, abs=1e-7)
    assert var == pytest.approx(1.44 + grid.dx**2 / 12, rel=1e-4)   # the midpoint rule adds dx^2 / 12 to cell averages
    kl_exact = math.log(0.9 / 1.2) + (1.2**2 + 0.8**2) / (2 * 0.9**2) - 0.5
    assert kl_divergence(p, q, grid) == pytest.approx(kl_exact, rel=1e-3)
    assert kl_divergence(p, p, grid) == 0.0 and l1_distance(p, p, grid) == 0.0
    far = gaussian(6.0, 0.3).cell_average(grid)
    assert l1_distance(gaussian(-6.0, 0.3).cell_average(grid), far, grid) == pytest.approx(2.0, abs=1e-9)
    coarse = grid.coarsen(4)
    torch.testing.assert_close(coarsen(p, 4), gaussian(0.5, 1.2).cell_average(coarse), atol=1e-12, rtol=0)


def test_sampling_l1_floor_predicts_the_histogram_error():
    grid = Grid1D.uniform(-5, 5, 100)
    exact = BIMODAL.cell_average(grid)
    gen = torch.Generator().manual_seed(1)
    errors = [l1_distance(histogram_density(BIMODAL.sample_points(4000, gen), grid), exact, grid) for _ in range(20)]
    assert np.mean(errors) == pytest.approx(sampling_l1_floor(exact, grid, 4000), rel=0.1)


# ----------------------------------------------------------------------------------------------------------------
# Gaussian mixtures and their probability paths
# ----------------------------------------------------------------------------------------------------------------
def test_mixture_density_cdf_and_score_against_scipy_and_autograd():
    x = torch.linspace(-6, 6, 241, dtype=F64)
    expected = 0.35 * stats.norm.pdf(x.numpy(), -2, 0.4) + 0.65 * stats.norm.pdf(x.numpy(), 1.5, 0.6)
    np.testing.assert_allclose(BIMODAL.density(x).numpy(), expected, rtol=1e-10, atol=1e-300)
    expected_cdf = 0.35 * stats.norm.cdf(x.numpy(), -2, 0.4) + 0.65 * stats.norm.cdf(x.numpy(), 1.5, 0.6)
    np.testing.assert_allclose(BIMODAL.cdf(x).numpy(), expected_cdf, atol=1e-12)
    x_grad = x.clone().requires_grad_(True)
    (autograd_score,) = torch.autograd.grad(BIMODAL.log_density(x_grad).sum(), x_grad)
    torch.testing.assert_close(BIMODAL.score(x), autograd_score, atol=1e-9, rtol=1e-9)
    grid = Grid1D.uniform(-12, 12, 300)
    average = BIMODAL.cell_average(grid)
    assert float(average.sum()) * grid.dx == pytest.approx(1, abs=1e-12) and bool((average > 0).all())
    samples = BIMODAL.sample_points(200_000, torch.Generator().manual_seed(2))
    assert float(samples.mean()) == pytest.approx(BIMODAL.mean, abs=0.01)
    assert float(samples.var()) == pytest.approx(BIMODAL.var, rel=0.01)


def test_the_1d_mixture_is_the_shared_mixture_class():
    """One mixture implementation: the 1-D class is score_matching.GaussianMixture with elementwise methods."""
    assert isinstance(BIMODAL, GaussianMixture) and BIMODAL.dim == 1
    general = GaussianMixture([[-2.0], [1.5]], [0.4, 0.6], [0.35, 0.65])
    x = torch.linspace(-5, 5, 101, dtype=F64)
    torch.testing.assert_close(BIMODAL.score(x[:, None]), general.score(x[:, None]))       # the (B, 1) convention
    torch.testing.assert_close(BIMODAL.score(x), general.score(x[:, None])[:, 0])          # elementwise, same numbers
    torch.testing.assert_close(BIMODAL.log_density(x), general.log_prob(x[:, None]))
    torch.testing.assert_close(BIMODAL.score(x.reshape(101, 1, 1)), BIMODAL.score(x).reshape(101, 1, 1))
    # the path's marginal is the shared along_path, and its score is the shared path_score
    path = MixtureProbabilityPath(BIMODAL)
    marginal = path.marginal(0.6)
    assert type(marginal) is GaussianMixture1D and type(BIMODAL.component(0)) is GaussianMixture1D
    torch.testing.assert_close(marginal.means, general.along_path(LinearPath(), 0.6).means)
    torch.testing.assert_close(path.score(x, 0.6), general.path_score(LinearPath(), x[:, None], 0.6)[:, 0])
    draws = BIMODAL.sample_points(7, torch.Generator().manual_seed(0))
    assert draws.shape == (7,) and draws.dtype == F64
    assert "means=[-2, 1.5]" in repr(BIMODAL)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath()], ids=["linear", "cosine"])
def test_mixture_path_field_equals_the_converted_score(path):
    """The shared conversion u = (beta^2 alpha'/alpha - beta' beta) s + (alpha'/alpha) x gives the same marginal field."""
    mixture = MixtureProbabilityPath(BIMODAL, path)
    x = torch.linspace(-4, 4, 81, dtype=F64)
    for t in (0.1, 0.4, 0.7, 0.95, 1.0):
        converted = score_to_vector_field(path, mixture.score(x, t), x, t)
        torch.testing.assert_close(mixture.vector_field(x, t), converted, atol=1e-9, rtol=1e-9)
    marginal_0 = mixture.marginal(0.0)                        # t = 0 is pure noise N(0, 1)
    torch.testing.assert_close(marginal_0.density(x), torch.exp(-x**2 / 2) / math.sqrt(2 * math.pi))
    assert mixture.mean(1.0) == pytest.approx(BIMODAL.mean) and mixture.var(1.0) == pytest.approx(BIMODAL.var)


def test_mixture_path_satisfies_the_continuity_equation_pointwise():
    """d p_t / dt by a central difference in t, d(p u)/dx by fokker_planck_residual with sigma = 0."""
    mixture, dx, dt = MixtureProbabilityPath(BIMODAL), 1e-3, 1e-5
    x = torch.arange(-5, 5 + dx / 2, dx, dtype=F64)
    for t in (0.2, 0.5, 0.8):
        dp_dt = (mixture.density(x, t + dt) - mixture.density(x, t - dt)) / (2 * dt)
        residual = fokker_planck_residual(mixture.density(x, t), mixture.vector_field(x, t), 0.0, dx, dp_dt)
        assert float(residual.abs().max()) < 1e-4 * float(dp_dt.abs().max())
        wrong = fokker_planck_residual(mixture.density(x, t), 1.1 * mixture.vector_field(x, t), 0.0, dx, dp_dt)
        assert float(wrong.abs().max()) > 1e-2 * float(dp_dt.abs().max())


def test_gaussian_flow_map_matches_the_ode_solver():
    path = MixtureProbabilityPath(gaussian(2.0, 0.5))
    x0 = torch.linspace(-3, 3, 13, dtype=F64)
    numeric = heun_ode(path.vector_field, x0, 0.0, 1.0, steps=400)
    torch.testing.assert_close(numeric, path.flow_map(x0, 0.0, 1.0), atol=1e-5, rtol=0)
    torch.testing.assert_close(path.flow_map(x0, 0.0, 1.0), 2.0 + 0.5 * x0)  # N(0, 1) -> N(2, 0.25) by an affine map
    with pytest.raises(ValueError, match="one Gaussian component"):
        MixtureProbabilityPath(BIMODAL).flow_map(x0, 0.0, 1.0)


# ----------------------------------------------------------------------------------------------------------------
# The finite-volume solvers
# ----------------------------------------------------------------------------------------------------------------
def naive_step(p, u, sigma, dx, dt):
    """The upwind + central-diffusion Euler step written with Python loops (zero flux at both ends)."""
    n = len(p)
    flux = [0.0] * (n + 1)
    for j in range(1, n):
        flux[j] = max(u[j], 0) * p[j - 1] + min(u[j], 0) * p[j] - 0.5 * sigma**2 * (p[j] - p[j - 1]) / dx
    return [p[i] - dt / dx * (flux[i + 1] - flux[i]) for i in range(n)]


def test_fokker_planck_step_matches_a_loop_and_is_batched():
    gen = torch.Generator().manual_seed(3)
    p, u = torch.rand(3, 12, generator=gen, dtype=F64), torch.randn(13, generator=gen, dtype=F64)
    new = fokker_planck_step(p, u, 0.7, 0.1, 0.002)
    for row in range(3):
        np.testing.assert_allclose(new[row].numpy(), naive_step(p[row].tolist(), u.tolist(), 0.7, 0.1, 0.002), atol=1e-13)
    torch.testing.assert_close(new, p + 0.002 * fokker_planck_rhs(p, u, 0.7, 0.1))


@pytest.mark.parametrize("scheme", ["upwind", "muscl"])
def test_solvers_conserve_mass_and_positivity(scheme):
    grid = Grid1D.uniform(-3, 3, 60)
    gen = torch.Generator().manual_seed(4)
    p0 = torch.rand(60, generator=gen, dtype=F64) * (torch.rand(60, generator=gen, dtype=F64) > 0.5)  # rough, with zeros

    def field(x, t):
        return 2 * torch.sin(3 * x + 5 * t) - x

    solution = solve_fokker_planck(p0, field, lambda t: 0.3 + t, grid, [0.1, 0.5, 1.0], scheme=scheme)
    masses = solution.densities.sum(-1) * grid.dx
    torch.testing.assert_close(masses, torch.full((3,), float(p0.sum()) * grid.dx, dtype=F64), atol=1e-12, rtol=0)
    assert float(solution.densities.min()) >= -1e-14
    assert solution.times == [0.1, 0.5, 1.0] and solution.steps > 3
    continuity = solve_continuity(p0, field, grid, [1.0], scheme=scheme)
    assert float(continuity.densities.sum()) * grid.dx == pytest.approx(float(p0.sum()) * grid.dx, abs=1e-12)
    assert float(continuity.densities.min()) >= -1e-14


def test_stable_time_step_is_the_cfl_condition():
    u = torch.tensor([0.0, -3.0, 1.0], dtype=F64)
    assert stable_time_step(u, 0.5, 0.1, cfl=0.4) == pytest.approx(0.4 / (3 / 0.1 + 0.25 / 0.01))
    assert stable_time_step(torch.zeros(3), 0.0, 0.1) == math.inf


@pytest.mark.parametrize("scheme, order", [("upwind", 1), ("muscl", 2)])
def test_continuity_with_a_linear_field_matches_the_closed_form_gaussian(scheme, order):
    """N(0, 1) -> N(2, 0.5^2): the exact field is linear in x and the exact solution Gaussian; errors shrink like dx^order."""
    path = MixtureProbabilityPath(gaussian(2.0, 0.5))
    errors = []
    for cells in (300, 600):
        grid = Grid1D.uniform(-6, 6, cells)
        solution = solve_continuity(path.marginal(0.0).cell_average(grid), path.vector_field, grid, [0.5, 1.0],
                                    scheme=scheme)
        errors.append(l1_distance(solution.at(1.0), path.marginal(1.0).cell_average(grid), grid))
        _, mean, var = grid_moments(solution.at(1.0), grid)
        tolerance = 0.07 if scheme == "upwind" else 0.004
        assert mean == pytest.approx(2.0, abs=tolerance) and var == pytest.approx(0.25, abs=tolerance)
    assert errors[0] / errors[1] == pytest.approx(2**order, rel=0.25)


def test_fokker_planck_of_the_ou_process_matches_the_closed_form():
    theta, sigma, mu = 1.5, 0.8, 0.5
    grid = Grid1D.uniform(-4, 6, 250)
    times = [0.2, 0.5, 1.0, 2.0]
    solution = solve_fokker_planck(gaussian(3.0, 0.3).cell_average(grid), lambda x, t: -theta * (x - mu), sigma,
                                   grid, times)
    means, variances = ou_mean_var(torch.tensor(times, dtype=F64), 3.0, 0.09, theta, sigma, mu)
    for t, m, v in zip(times, means, variances):
        mass, mean, var = grid_moments(solution.at(t), grid)
        assert mass == pytest.approx(1, abs=1e-12)
        assert mean == pytest.approx(float(m), abs=2e-3) and var == pytest.approx(float(v), abs=3e-3)
        assert l1_distance(solution.at(t), gaussian(float(m), float(v) ** 0.5).cell_average(grid), grid) < 0.01


def test_particles_through_the_sde_match_the_fokker_planck_solution():
    """Double well u = x - x^3: no closed form, so 40k Euler-Maruyama particles against the PDE."""
    def drift(x, t):
        return x - x**3

    sigma, n, gen = 0.8, 40_000, torch.Generator().manual_seed(5)
    start = gaussian(0.3, 0.2)
    grid = Grid1D.uniform(-3, 3, 120)
    pde = solve_fokker_planck(start.cell_average(grid), drift, sigma, grid, [1.5])
    x = euler_maruyama(drift, sigma, start.sample_points(n, gen), 0.0, 1.5, steps=300, generator=gen)
    coarse = grid.coarsen(3)
    expected = coarsen(pde.at(1.5), 3)
    distance = l1_distance(histogram_density(x, coarse), expected, coarse)
    floor = sampling_l1_floor(expected, coarse, n)
    assert distance < 1.6 * floor
    shifted = solve_fokker_planck(gaussian(0.0, 0.2).cell_average(grid), drift, sigma, grid, [1.5]).at(1.5)
    assert l1_distance(histogram_density(x, coarse), coarsen(shifted, 3), coarse) > 3 * floor  # the check can fail


def test_denoising_sde_keeps_the_marginals_of_the_flow():
    mixture, gen = MixtureProbabilityPath(BIMODAL), torch.Generator().manual_seed(6)
    x0 = randn((10_000,), "cpu", gen, F64)
    grid = Grid1D.uniform(-5, 5, 50)
    exact = mixture.marginal(1.0).cell_average(grid)
    for sigma in (0.0, 1.0):
        x1 = euler_maruyama(mixture.denoising_drift(sigma), sigma, x0, 0.0, 1.0, steps=200, generator=gen)
        assert l1_distance(histogram_density(x1, grid), exact, grid) < 2 * sampling_l1_floor(exact, grid, 10_000)
    no_score = euler_maruyama(mixture.vector_field, 1.0, x0, 0.0, 1.0, steps=200, generator=gen)
    assert float(no_score.var()) > BIMODAL.var + 0.5                 # without the score term the spread is wrong


# ----------------------------------------------------------------------------------------------------------------
# Ornstein-Uhlenbeck and Langevin
# ----------------------------------------------------------------------------------------------------------------
def test_ou_closed_form_against_euler_maruyama():
    theta, sigma, mu, n = 2.0, 1.2, -1.0, 40_000
    gen = torch.Generator().manual_seed(7)
    x0 = 1.5 + 0.5 * randn((n,), "cpu", gen, F64)
    path = euler_maruyama(lambda x, t: -theta * (x - mu), sigma, x0, 0.0, 1.5, steps=600, generator=gen,
                          return_path=True)
    for k in (60, 150, 600):
        mean, var = ou_mean_var(k * 1.5 / 600, 1.5, 0.25, theta, sigma, mu)
        assert float(path[k].mean()) == pytest.approx(float(mean), abs=4 * (float(var) / n) ** 0.5)
        assert float(path[k].var()) == pytest.approx(float(var), rel=0.03)
    assert float(ou_mean_var(100.0, 1.5, 0.25, theta, sigma, mu)[1]) == pytest.approx(sigma**2 / (2 * theta))
    mean, var = ou_mean_var(torch.tensor([0.0, 2.0]), 1.0, 0.5, 0.0, 0.3)  # theta = 0: Brownian motion
    torch.testing.assert_close(var, torch.tensor([0.5, 0.5 + 0.09 * 2]))


def test_ou_euler_maruyama_is_the_shared_solver_with_explicit_noise():
    theta, sigma, mu, steps, h = 0.7, 0.9, 0.3, 25, 0.04
    x0 = torch.linspace(-2, 2, 6, dtype=F64)
    shared = euler_maruyama(lambda x, t: -theta * (x - mu), sigma, x0, 0.0, steps * h, steps=steps,
                            generator=torch.Generator().manual_seed(8), return_path=True)
    gen = torch.Generator().manual_seed(8)
    noise = torch.stack([randn((6,), "cpu", gen, F64) for _ in range(steps)])
    torch.testing.assert_close(ou_euler_maruyama(x0, theta, sigma, h, noise, mu), shared, atol=1e-12, rtol=0)


def test_langevin_target_solves_the_stationary_fokker_planck_equation():
    """u = sigma^2/2 * score makes the target stationary: the residual is O(dx^2), a non-stationary one is not."""
    sigma, maxima = 1.3, []
    for dx in (0.04, 0.02, 0.01):
        x = torch.arange(-6, 6 + dx / 2, dx, dtype=F64)
        p = BIMODAL.density(x)
        maxima.append(float(fokker_planck_residual(p, 0.5 * sigma**2 * BIMODAL.score(x), sigma, dx).abs().max()))
        other = gaussian(0.0, 1.0).density(x)
        assert float(fokker_planck_residual(other, 0.5 * sigma**2 * BIMODAL.score(x), sigma, dx).abs().max()) > 0.1
    assert maxima[-1] < 1e-3 and maxima[0] / maxima[1] == pytest.approx(4, rel=0.1)
    # and the PDE solver leaves the (cell-averaged) target almost unchanged
    grid = Grid1D.uniform(-6, 6, 240)
    target = BIMODAL.cell_average(grid)
    after = solve_fokker_planck(target, 0.5 * sigma**2 * BIMODAL.score(grid.edges), sigma, grid, [1.0]).at(1.0)
    start = gaussian(3.0, 0.5).cell_average(grid)
    moved = solve_fokker_planck(start, 0.5 * sigma**2 * BIMODAL.score(grid.edges), sigma, grid, [1.0]).at(1.0)
    assert l1_distance(after, target, grid) < 0.01 < l1_distance(moved, start, grid)
    assert kl_divergence(moved, target, grid) < kl_divergence(start, target, grid)


def test_ou_density_solves_the_time_dependent_fokker_planck_equation():
    theta, sigma, dx, dt = 1.0, 0.6, 0.01, 1e-5
    x = torch.arange(-4, 6 + dx / 2, dx, dtype=F64)

    def density(t):
        mean, var = ou_mean_var(t, 3.0, 0.04, theta, sigma)
        return gaussian(float(mean), float(var) ** 0.5).density(x)

    dp_dt = (density(0.5 + dt) - density(0.5 - dt)) / (2 * dt)
    residual = fokker_planck_residual(density(0.5), -theta * x, sigma, dx, dp_dt)
    assert float(residual.abs().max()) < 1e-3 * float(dp_dt.abs().max())


def test_bad_arguments_raise_clear_errors():
    grid = Grid1D.uniform(0, 1, 10)
    with pytest.raises(ValueError, match="N \\+ 1"):
        fokker_planck_step(torch.ones(10), torch.ones(10), 0.1, 0.1, 0.01)
    with pytest.raises(ValueError, match="dt"):
        fokker_planck_step(torch.ones(10), torch.ones(11), 0.1, 0.1, 0.0)
    with pytest.raises(ValueError, match="scheme"):
        fokker_planck_rhs(torch.ones(10), torch.ones(11), 0.1, 0.1, scheme="central")
    with pytest.raises(ValueError, match="shape"):
        solve_fokker_planck(torch.ones(9), lambda x, t: x, 0.1, grid, [1.0])
    with pytest.raises(ValueError, match="increasing"):
        solve_continuity(torch.ones(10), lambda x, t: x, grid, [1.0, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        GaussianMixture1D([0, 1], [1, 1], [0.5, 0.6])
    with pytest.raises(ValueError, match="positive"):
        GaussianMixture1D([0.0], [0.0])
    with pytest.raises(ValueError, match="noise"):
        ou_euler_maruyama(torch.zeros(3), 1.0, 1.0, 0.1, torch.zeros(5, 4))
    with pytest.raises(ValueError, match="num_cells"):
        Grid1D.uniform(0, 1, 2)
    with pytest.raises(ValueError, match="not stored"):
        solve_continuity(torch.ones(10), lambda x, t: x, grid, [0.5]).at(0.7)

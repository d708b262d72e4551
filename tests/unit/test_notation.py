"""The conversions of the notation page (book/notation.md), checked numerically against the package.

Continuous time (gaussian_paths): noise at t = 0, data at t = 1, x_t = alpha_t z + beta_t eps.
DDPM (ddpm): data at step 0, noise at step T, beta_t a per-step variance, abar_t its running product.
The page's map: tau = 1 - t/T, alpha_tau = sqrt(abar_t), beta_tau = sqrt(1 - abar_t),
eps = -beta * score.
"""

import math

import pytest
import torch

from genai_foundations.algorithms.ddpm import NoiseSchedule, cosine_betas, predict_x0, q_sample
from genai_foundations.algorithms.gaussian_paths import (
    CosinePath, LinearPath, conditional_score, noise_to_score, sample_conditional, score_to_vector_field,
    vector_field_to_score,
)

T = 1000
STEPS = torch.arange(1, T)  # every step but the last, where the clamp of beta_T bites


def tau_of(t: torch.Tensor, T: int = T) -> torch.Tensor:
    """The page's map from a DDPM step to continuous time."""
    return 1 - t.to(torch.float64) / T


@pytest.fixture(scope="module")
def cosine_s0() -> NoiseSchedule:
    return NoiseSchedule.cosine(T, s=0.0)


def test_cosine_path_is_ddpm_cosine_schedule_with_s0(cosine_s0):
    """alpha_tau = sqrt(abar_t) and beta_tau = sqrt(1 - abar_t) for t = 0..T-1 (row "cosine schedule")."""
    path = CosinePath()
    steps = torch.arange(0, T)
    abar = cosine_s0.alphas_bar[steps]
    tau = tau_of(steps)
    torch.testing.assert_close(path.alpha(tau), abar.sqrt(), rtol=0, atol=1e-12)
    torch.testing.assert_close(path.beta(tau), (1 - abar).sqrt(), rtol=0, atol=1e-12)


def test_the_clamp_bites_only_at_the_last_step():
    """With s = 0, beta_T would be 1; the clamp to 0.999 changes only beta_T, so abar_T > 0 = alpha_{tau=0}^2."""
    raw = cosine_betas(T, s=0.0, max_beta=1 - 1e-15)
    clamped = cosine_betas(T, s=0.0)
    torch.testing.assert_close(raw[:-1], clamped[:-1], rtol=0, atol=0)
    assert clamped[-1] == 0.999 and raw[-1] > 0.999
    abar_T = NoiseSchedule(clamped).alphas_bar[T]
    assert abar_T > 0 and float(CosinePath().alpha(torch.tensor(0.0, dtype=torch.float64))) == 0.0


def test_default_offset_differs_from_the_cosine_path():
    """The equality needs s = 0: the default s = 0.008 shifts the schedule by more than 1e-3."""
    abar = NoiseSchedule.cosine(T).alphas_bar[STEPS]
    gap = (CosinePath().alpha(tau_of(STEPS)) - abar.sqrt()).abs().max()
    assert gap > 1e-3


@pytest.mark.parametrize("schedule", [NoiseSchedule.linear(T), NoiseSchedule.cosine(T), NoiseSchedule.cosine(T, s=0.0)],
                         ids=["linear", "cosine", "cosine-s0"])
def test_ddpm_is_variance_preserving_and_betas_follow_from_abar(schedule):
    """Rows "variance preserving" and "per-step noise variance": alpha^2 + beta^2 = 1, beta_t = 1 - abar_t/abar_{t-1}."""
    abar = schedule.alphas_bar
    alpha_tau, beta_tau = abar.sqrt(), (1 - abar).sqrt()
    torch.testing.assert_close(alpha_tau**2 + beta_tau**2, torch.ones_like(abar), rtol=0, atol=1e-14)
    torch.testing.assert_close(schedule.betas, 1 - abar[1:] / abar[:-1], rtol=1e-10, atol=1e-14)
    # the endpoints: step 0 is data (alpha_tau = 1 at tau = 1), alpha_tau falls as t grows
    assert abar[0] == 1 and (abar[1:] < abar[:-1]).all()


def test_cosine_path_is_variance_preserving_and_linear_path_is_not():
    tau = torch.linspace(0, 1, 101, dtype=torch.float64)
    cos, lin = CosinePath(), LinearPath()
    torch.testing.assert_close(cos.alpha(tau) ** 2 + cos.beta(tau) ** 2, torch.ones_like(tau))
    assert (lin.alpha(tau[1:-1]) ** 2 + lin.beta(tau[1:-1]) ** 2 < 1).all()


def test_q_sample_is_the_gaussian_path_at_tau(cosine_s0):
    """Row "the path": DDPM's x_t from (x_0, eps) is the cosine path's x_tau from (z = x_0, eps)."""
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(64, 2, 4, 4, generator=g, dtype=torch.float64)
    eps = torch.randn(64, 2, 4, 4, generator=g, dtype=torch.float64)
    t = torch.randint(0, T, (64,), generator=g)
    torch.testing.assert_close(q_sample(x0, t, eps, cosine_s0), sample_conditional(CosinePath(), x0, tau_of(t), eps))


def test_predict_x0_is_the_clean_data_estimate(cosine_s0):
    """Row "clean-data estimate": (x - beta eps)/alpha in either notation, and it inverts the path."""
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(32, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(32, 3, generator=g, dtype=torch.float64)
    t = torch.randint(1, T, (32,), generator=g)
    path, tau = CosinePath(), tau_of(t)[:, None]
    x_t = q_sample(x0, t, eps, cosine_s0)
    z_hat = (x_t - path.beta(tau) * eps) / path.alpha(tau)
    torch.testing.assert_close(predict_x0(x_t, t, eps, cosine_s0), z_hat)
    torch.testing.assert_close(z_hat, x0)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath()], ids=["linear", "cosine"])
def test_eps_is_minus_beta_times_conditional_score(path):
    """eps = -beta * grad_x log N(x; alpha z, beta^2 I), the score taken by autograd of the log-density."""
    g = torch.Generator().manual_seed(2)
    z = torch.randn(50, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(50, 3, generator=g, dtype=torch.float64)
    t = torch.rand(50, generator=g, dtype=torch.float64) * 0.9 + 0.05
    x = sample_conditional(path, z, t, eps).requires_grad_(True)
    a, b = path.alpha(t)[:, None], path.beta(t)[:, None]
    log_density = torch.distributions.Normal(a * z, b).log_prob(x).sum()
    (score,) = torch.autograd.grad(log_density, x)
    torch.testing.assert_close(-b * score, eps)
    torch.testing.assert_close(score, conditional_score(path, x.detach(), z, t))
    torch.testing.assert_close(noise_to_score(path, eps, t), score)


@pytest.mark.parametrize("path", [LinearPath(), CosinePath()], ids=["linear", "cosine"])
def test_best_noise_predictor_is_minus_beta_times_marginal_score(path):
    """E[eps | x_tau = x] = -beta_tau * grad log p_tau(x) for Gaussian data z ~ N(m, s^2).

    The marginal is p_tau = N(alpha m, alpha^2 s^2 + beta^2); its score comes from autograd of the
    log-density, the conditional mean of eps from Gaussian conditioning, Cov(eps, x) / Var(x) * (x - alpha m).
    """
    m, s = 0.7, 0.4
    t = torch.linspace(0.05, 0.95, 19, dtype=torch.float64)
    x = torch.linspace(-2, 2, 19, dtype=torch.float64).requires_grad_(True)
    a, b = path.alpha(t), path.beta(t)
    var = a**2 * s**2 + b**2
    log_density = torch.distributions.Normal(a * m, var.sqrt()).log_prob(x).sum()
    (score,) = torch.autograd.grad(log_density, x)
    expected_eps = b / var * (x.detach() - a * m)
    torch.testing.assert_close(-b * score, expected_eps)


def test_best_noise_predictor_by_monte_carlo():
    """The same relation without formulas for the conditional mean: bin samples of x_tau and average eps."""
    g = torch.Generator().manual_seed(3)
    path, tau, m, s = CosinePath(), torch.tensor(0.4, dtype=torch.float64), 0.7, 0.4
    z = m + s * torch.randn(400_000, generator=g, dtype=torch.float64)
    eps = torch.randn(400_000, generator=g, dtype=torch.float64)
    x = sample_conditional(path, z, tau, eps)
    a, b = path.alpha(tau), path.beta(tau)
    var = a**2 * s**2 + b**2
    for centre in (-1.0, -0.3, 0.2, 0.9):
        inside = (x - centre).abs() < 0.02
        score = -(centre - a * m) / var
        assert abs(float(eps[inside].mean()) - float(-b * score)) < 0.03


@pytest.mark.parametrize("path", [LinearPath(), CosinePath()], ids=["linear", "cosine"])
def test_vector_field_from_a_noise_prediction(path):
    """Row "vector field from a noise prediction": u = (alpha'/alpha) x - (beta alpha'/alpha - beta') eps."""
    g = torch.Generator().manual_seed(4)
    x = torch.randn(40, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(40, 2, generator=g, dtype=torch.float64)
    t = torch.rand(40, generator=g, dtype=torch.float64) * 0.9 + 0.05
    a, b = path.alpha(t)[:, None], path.beta(t)[:, None]
    ad, bd = path.alpha_dot(t)[:, None], path.beta_dot(t)[:, None]
    u = (ad / a) * x - (b * ad / a - bd) * eps
    torch.testing.assert_close(score_to_vector_field(path, noise_to_score(path, eps, t), x, t), u)
    torch.testing.assert_close(vector_field_to_score(path, u, x, t), -eps / b)


def test_conditional_eps_gives_the_conditional_vector_field():
    """Along x_t = alpha z + beta eps, the field from the true eps is d x_t / dt (the derivative in tau)."""
    path = CosinePath()
    g = torch.Generator().manual_seed(5)
    z = torch.randn(10, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(10, 2, generator=g, dtype=torch.float64)
    t = (torch.rand(10, generator=g, dtype=torch.float64) * 0.9 + 0.05).requires_grad_(True)
    x = sample_conditional(path, z, t, eps)
    velocity = torch.stack([torch.autograd.grad(x[:, j].sum(), t, retain_graph=True)[0] for j in range(2)], 1)
    td = t.detach()
    a, b = path.alpha(td)[:, None], path.beta(td)[:, None]
    ad, bd = path.alpha_dot(td)[:, None], path.beta_dot(td)[:, None]
    u = (ad / a) * x.detach() - (b * ad / a - bd) * eps
    torch.testing.assert_close(u, velocity)


class _TimeSpy(torch.nn.Module):
    """A stand-in network that records the time it is given and predicts zeros."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.times: list[float] = []

    def forward(self, x, t, y=None):
        self.times.append(float(torch.as_tensor(t).reshape(-1)[0]))
        return torch.zeros_like(x)


def test_samplers_feed_the_time_each_convention_says():
    """Row "time fed to the network": DDPM's sampler starts at t/T = 1 (noise), flow matching's at t = 0 (noise)."""
    from genai_foundations.algorithms import ddpm, flow_matching

    spy = _TimeSpy()
    ddpm.sample(spy, NoiseSchedule.cosine(10), (2, 3), eta=0.0, generator=torch.Generator().manual_seed(0))
    assert spy.times[0] == 1.0 and all(a > b for a, b in zip(spy.times, spy.times[1:])) and spy.times[-1] > 0
    spy = _TimeSpy()
    flow_matching.sample(spy, (2, 3), steps=4, generator=torch.Generator().manual_seed(0))
    assert spy.times[0] == 0.0 and all(a < b for a, b in zip(spy.times, spy.times[1:])) and spy.times[-1] < 1


def test_network_time_inputs_are_mirror_images():
    """Row "time fed to the network": DDPM passes t/T (1 = noise), flow matching tau (1 = data): t/T = 1 - tau."""
    steps = torch.arange(0, T + 1)
    torch.testing.assert_close(steps.to(torch.float64) / T, 1 - tau_of(steps))
    assert tau_of(torch.tensor(0)) == 1 and tau_of(torch.tensor(T)) == 0
    assert math.isclose(float(CosinePath().alpha(tau_of(torch.tensor(0)))), 1.0)

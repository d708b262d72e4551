"""Score matching, the denoising SDE and Langevin dynamics (chapter 3) against autograd and closed forms."""

import math

import pytest
import torch

from genai_foundations.algorithms import score_matching as sm
from genai_foundations.algorithms.gaussian_paths import CosinePath, LinearPath, score_to_vector_field
from genai_foundations.algorithms.solvers import euler_maruyama
from genai_foundations.architectures.mlp import TimeConditionedMLP

PATHS = [LinearPath(), CosinePath()]
MIX_2D = sm.GaussianMixture([[-1.0, 0.5], [1.5, -0.5], [0.0, 2.0]], [0.4, 0.7, 0.3], [0.5, 0.3, 0.2])
MIX_1D = sm.GaussianMixture([-2.0, 1.5], [0.5, 0.8], [0.3, 0.7])


def autograd_score(log_prob, x):
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(log_prob(x).sum(), x)
    return grad


# ---------------------------------------------------------------------------------------------------------------
# Analytic scores
# ---------------------------------------------------------------------------------------------------------------
def test_gaussian_score_is_the_gradient_of_the_log_density():
    x = torch.randn(20, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mean, std = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64), 0.7
    expected = autograd_score(lambda v: torch.distributions.Normal(mean, std).log_prob(v).sum(1), x)
    torch.testing.assert_close(sm.gaussian_score(x, mean, std), expected)
    # the book's worked example: N(1, 0.5^2) at x = 2 has score -(2 - 1) / 0.25 = -4
    assert float(sm.gaussian_score(torch.tensor([[2.0]]), 1.0, 0.5)) == pytest.approx(-4.0)


@pytest.mark.parametrize("mixture", [MIX_1D, MIX_2D], ids=["1d", "2d"])
def test_mixture_log_prob_and_score_match_torch_distributions_and_autograd(mixture):
    d = mixture.dim
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=mixture.weights),
        torch.distributions.Independent(torch.distributions.Normal(
            mixture.means, mixture.stds[:, None].expand(-1, d)), 1))
    x = 2 * torch.randn(50, d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(mixture.log_prob(x), reference.log_prob(x))
    torch.testing.assert_close(mixture.score(x), autograd_score(reference.log_prob, x))
    torch.testing.assert_close(mixture.responsibilities(x).sum(1), torch.ones(50, dtype=torch.float64))


def test_mixture_score_is_finite_far_from_every_component():
    far = torch.tensor([[40.0, -35.0], [-60.0, 80.0]], dtype=torch.float64)
    score = MIX_2D.score(far)
    assert torch.isfinite(score).all()
    # far away the component with the widest std dominates: its Gaussian score
    torch.testing.assert_close(score, sm.gaussian_score(far, MIX_2D.means[1], 0.7))


def test_mixture_sampling_moments_and_labels():
    generator = torch.Generator().manual_seed(2)
    points, labels = MIX_2D.sample(60_000, generator, return_labels=True)
    assert points.shape == (60_000, 2) and points.dtype == torch.float32 and labels.shape == (60_000,)
    w, mu, s = MIX_2D.weights, MIX_2D.means, MIX_2D.stds
    mean = (w[:, None] * mu).sum(0)
    second = (w[:, None, None] * (mu[:, :, None] * mu[:, None, :] + s[:, None, None] ** 2 * torch.eye(2))).sum(0)
    cov = second - mean[:, None] * mean[None, :]
    torch.testing.assert_close(points.double().mean(0), mean, atol=0.02, rtol=0)
    torch.testing.assert_close(torch.cov(points.double().T), cov, atol=0.03, rtol=0)
    counts = torch.bincount(labels, minlength=3).double() / 60_000
    torch.testing.assert_close(counts, w, atol=0.01, rtol=0)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_path_score_is_the_score_of_the_marginal(path):
    x = torch.randn(30, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for t in (0.0, 0.3, 0.8, 0.99):
        marginal = MIX_2D.along_path(path, t)
        torch.testing.assert_close(MIX_2D.path_score(path, x, t), autograd_score(marginal.log_prob, x))
    # one time per example gives the same as one time at a time
    times = torch.linspace(0.05, 0.95, 30, dtype=torch.float64)
    per_example = MIX_2D.path_score(path, x, times)
    one_by_one = torch.cat([MIX_2D.path_score(path, x[i:i + 1], float(times[i])) for i in range(30)])
    torch.testing.assert_close(per_example, one_by_one)
    # at t = 0 the marginal is N(0, I) whatever the data; at t = 1 it is the data
    torch.testing.assert_close(MIX_2D.path_score(path, x, 0.0), -x)
    torch.testing.assert_close(MIX_2D.path_score(path, x, 1.0), MIX_2D.score(x))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_converted_field_is_the_transport_field_of_gaussian_data(path):
    """Data N(m, s^2 I): p_t = N(alpha m, (alpha^2 s^2 + beta^2) I), moved by d/dt mean + (d/dt std / std)(x - mean)."""
    m, s = torch.tensor([1.5, -0.5], dtype=torch.float64), 0.6
    data = sm.GaussianMixture(m[None], [s])
    x = torch.randn(40, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64) * 1.5
    t = torch.linspace(0.05, 0.95, 40, dtype=torch.float64)
    a, b, ad, bd = (f(t)[:, None] for f in (path.alpha, path.beta, path.alpha_dot, path.beta_dot))
    var = a**2 * s**2 + b**2
    transport = ad * m + 0.5 * (2 * a * ad * s**2 + 2 * b * bd) / var * (x - a * m)
    converted = score_to_vector_field(path, data.path_score(path, x, t), x, t)
    torch.testing.assert_close(converted, transport)


def test_worked_example_of_the_conversion():
    """Linear path, data N(1.5, 0.5^2), t = 0.4, x = 1: score -1.0 and field 1.0 (the chapter's numbers)."""
    path, data, x = LinearPath(), sm.GaussianMixture([1.5], [0.5]), torch.tensor([[1.0]], dtype=torch.float64)
    score = data.path_score(path, x, 0.4)
    assert float(score) == pytest.approx(-1.0)
    assert float(score_to_vector_field(path, score, x, 0.4)) == pytest.approx(1.0)


# ---------------------------------------------------------------------------------------------------------------
# Langevin dynamics
# ---------------------------------------------------------------------------------------------------------------
def test_langevin_reaches_the_variance_of_a_known_gaussian():
    mean, std = torch.tensor([0.5, -1.0], dtype=torch.float64), torch.tensor([0.8, 1.6], dtype=torch.float64)
    x0 = torch.full((20_000, 2), 3.0, dtype=torch.float64)
    x = sm.langevin_sample(lambda v: sm.gaussian_score(v, mean, std), x0, step_size=0.03, steps=800,
                           generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(x.mean(0), mean, atol=0.05, rtol=0)
    torch.testing.assert_close(x.var(0), std**2, rtol=0.05, atol=0)


def test_langevin_with_a_time_conditioned_score_targets_the_marginal():
    """With t given, Langevin samples p_t: data N(1, 0.5^2) on the linear path at t = 0.5 is N(0.5, 0.3125)."""
    path, data = LinearPath(), sm.GaussianMixture([[1.0]], [0.5])
    x0 = torch.zeros(20_000, 1, dtype=torch.float64)
    x = sm.langevin_sample(lambda v, t: data.path_score(path, v, t), x0, 0.05, 400, torch.Generator().manual_seed(6),
                           t=0.5)
    assert float(x.mean()) == pytest.approx(0.5, abs=0.02)
    assert float(x.var()) == pytest.approx(0.25 * 0.25 + 0.25, rel=0.05)


# ---------------------------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------------------------
def affine_score(x, t):
    """A simple, non-optimal 'model': s(x, t) = -(1 + t) x + 0.3."""
    t = torch.as_tensor(t, dtype=x.dtype).reshape(-1, 1)
    return -(1 + t) * x + 0.3


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_dsm_loss_equals_a_hand_computation(path):
    g = torch.Generator().manual_seed(8)
    z = torch.randn(6, 2, generator=g, dtype=torch.float64)
    noise = torch.randn(6, 2, generator=g, dtype=torch.float64)
    t = torch.rand(6, generator=g, dtype=torch.float64) * 0.9
    by_hand_none, by_hand_beta2 = 0.0, 0.0
    for i in range(6):
        a, b = float(path.alpha(t[i])), float(path.beta(t[i]))
        x = a * z[i] + b * noise[i]
        s = -(1 + float(t[i])) * x + 0.3
        target = -(x - a * z[i]) / b**2
        by_hand_none += float(((s - target) ** 2).sum()) / 6
        by_hand_beta2 += b**2 * float(((s - target) ** 2).sum()) / 6
    none = sm.dsm_loss(affine_score, z, path, t=t, noise=noise, weighting="none")
    beta2 = sm.dsm_loss(affine_score, z, path, t=t, noise=noise)
    assert float(none) == pytest.approx(by_hand_none, rel=1e-10)
    assert float(beta2) == pytest.approx(by_hand_beta2, rel=1e-10)


def test_weighted_dsm_loss_is_the_noise_prediction_loss():
    path = CosinePath()
    torch.manual_seed(0)
    net = TimeConditionedMLP(dim=2, hidden=32, depth=2).double()
    z = MIX_2D.sample(64, torch.Generator().manual_seed(9)).double()
    noise_loss = sm.noise_prediction_loss(net, z, path, torch.Generator().manual_seed(10))
    dsm = sm.dsm_loss(sm.ScoreFromNoise(net, path), z, path, torch.Generator().manual_seed(10))
    torch.testing.assert_close(dsm, noise_loss)
    dsm.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_dsm_minimiser_is_the_marginal_score():
    """Vincent (2011): DSM = explicit score matching + a constant, so the marginal score has the lowest DSM loss."""
    path, data = LinearPath(), sm.GaussianMixture([[0.8]], [0.5])
    g = torch.Generator().manual_seed(11)
    n = 200_000
    z = data.sample(n, g).double()
    t = torch.rand(n, generator=g, dtype=torch.float64) * 0.9
    noise = torch.randn(n, 1, generator=g, dtype=torch.float64)
    x_t = path.alpha(t)[:, None] * z + path.beta(t)[:, None] * noise

    def candidate(scale, shift):
        return lambda x, tt: scale * data.path_score(path, x, tt) + shift

    losses, gaps = {}, []
    for scale, shift in ((1.0, 0.0), (1.1, 0.0), (0.9, 0.0), (1.0, 0.2), (1.0, -0.2)):
        model = candidate(scale, shift)
        dsm = float(sm.dsm_loss(model, z, path, t=t, noise=noise, weighting="none"))
        explicit = float(((model(x_t, t) - data.path_score(path, x_t, t)) ** 2).mean())
        losses[(scale, shift)] = dsm
        gaps.append(dsm - explicit)
    best = losses.pop((1.0, 0.0))
    assert all(best < other for other in losses.values())
    assert max(gaps) - min(gaps) < 0.01 * abs(gaps[0])  # the same constant for every candidate


def test_losses_draw_reproducibly_and_support_label_dropout():
    path = LinearPath()
    torch.manual_seed(1)
    net = TimeConditionedMLP(dim=2, hidden=16, depth=1, num_classes=3)
    z, y = torch.randn(32, 2), torch.randint(0, 3, (32,))
    first = sm.noise_prediction_loss(net, z, path, torch.Generator().manual_seed(3), y=y, p_uncond=0.5)
    second = sm.noise_prediction_loss(net, z, path, torch.Generator().manual_seed(3), y=y, p_uncond=0.5)
    assert first.dim() == 0 and first.item() == second.item()
    with pytest.raises(ValueError, match="null_label"):
        sm.dsm_loss(affine_score, z, path, y=y, p_uncond=0.5)


# ---------------------------------------------------------------------------------------------------------------
# SDE sampling
# ---------------------------------------------------------------------------------------------------------------
def test_euler_maruyama_step_is_one_step_of_the_solver():
    drift = lambda x, t: -2.0 * x + t  # noqa: E731
    x = torch.randn(5, 3, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    noise = torch.randn(5, 3, generator=torch.Generator().manual_seed(13), dtype=torch.float64)
    step = sm.euler_maruyama_step(drift, 0.7, x, 0.2, 0.05, noise)
    torch.testing.assert_close(step, x + 0.05 * (-2.0 * x + 0.2) + 0.7 * math.sqrt(0.05) * noise)
    solver = euler_maruyama(drift, 0.7, x, 0.2, 0.25, steps=1, generator=torch.Generator().manual_seed(13))
    torch.testing.assert_close(solver, step)


def test_denoising_drift_and_guided_score():
    u, s = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 4.0]])
    torch.testing.assert_close(sm.denoising_sde_drift(u, s, 2.0), torch.tensor([[2.0, 6.0]]))
    torch.testing.assert_close(sm.denoising_sde_drift(u, s, 0.0), u)
    classes = [MIX_2D.component(k) for k in range(3)]

    def model(x, t, y=None):
        if y is None:
            return MIX_2D.path_score(LinearPath(), x, t)
        return torch.stack([classes[int(k)].path_score(LinearPath(), x[i:i + 1], t)[0] for i, k in enumerate(y)])

    x, y = torch.randn(4, 2, dtype=torch.float64), torch.tensor([0, 1, 2, 1])
    torch.testing.assert_close(sm.guided_score(model, x, 0.5, y, 1.0), model(x, 0.5, y))
    torch.testing.assert_close(sm.guided_score(model, x, 0.5, y, 0.0), model(x, 0.5))
    torch.testing.assert_close(sm.guided_score(model, x, 0.5, y, 3.0), 3 * model(x, 0.5, y) - 2 * model(x, 0.5))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
@pytest.mark.parametrize("sigma", [0.0, 1.0, "beta"])
def test_reverse_sde_with_the_exact_score_lands_on_the_data(path, sigma):
    """Gaussian data N(m, s^2 I) and its exact marginal score: the samples have mean m and variance s^2."""
    m, s = torch.tensor([1.0, -0.5], dtype=torch.float64), 0.5
    data = sm.GaussianMixture(m[None], [s])
    noise_level = (lambda t: float(path.beta(torch.tensor(t)))) if sigma == "beta" else sigma
    x0 = torch.randn(20_000, 2, generator=torch.Generator().manual_seed(14), dtype=torch.float64)
    out = sm.reverse_sde_sample(lambda x, t: data.path_score(path, x, t), path, x0, noise_level, steps=200,
                                t0=1e-3, generator=torch.Generator().manual_seed(15))
    torch.testing.assert_close(out.mean(0), m, atol=0.03, rtol=0)
    torch.testing.assert_close(out.var(0), torch.full((2,), s**2, dtype=torch.float64), rtol=0.06, atol=0)


def test_reverse_sde_with_a_network_keeps_shapes_and_modes():
    path = LinearPath()
    torch.manual_seed(2)
    net = TimeConditionedMLP(dim=2, hidden=16, depth=1, num_classes=3).train()
    score = sm.ScoreFromNoise(net, path)
    x0 = torch.randn(7, 2)
    out = sm.reverse_sde_sample(score, path, x0, 0.5, steps=5, y=torch.tensor([0, 1, 2, 0, 1, 2, 3]), guidance=2.0,
                                generator=torch.Generator().manual_seed(0), return_path=True)
    assert out.shape == (6, 7, 2) and torch.isfinite(out).all() and net.training


def test_bad_arguments():
    with pytest.raises(ValueError, match="weights"):
        sm.GaussianMixture([[0.0], [1.0]], [1.0, 1.0], [0.5, 0.6])
    with pytest.raises(ValueError, match="stds"):
        sm.GaussianMixture([[0.0], [1.0]], [1.0, -1.0])
    with pytest.raises(ValueError, match=r"x must have shape \(B, 2\)"):
        MIX_2D.score(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="weighting"):
        sm.dsm_loss(affine_score, torch.zeros(4, 2), LinearPath(), weighting="beta")
    with pytest.raises(ValueError, match="noise"):
        sm.dsm_loss(affine_score, torch.zeros(4, 2), LinearPath(), noise=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="t0"):
        sm.reverse_sde_sample(affine_score, LinearPath(), torch.zeros(4, 2), t0=0.0)
    with pytest.raises(ValueError, match="step_size"):
        sm.langevin_sample(affine_score, torch.zeros(4, 2), 0.0, 3, t=0.5)
    with pytest.raises(ValueError, match="the step h"):
        sm.euler_maruyama_step(lambda x, t: x, 1.0, torch.zeros(2), 0.0, 0.0, torch.zeros(2))
    with pytest.raises(ValueError, match="component"):
        MIX_2D.component(3)

"""Flow matching (chapter 2): targets, loss, guidance and samplers against closed forms and autograd."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genai_foundations.algorithms import flow_matching as fm
from genai_foundations.algorithms.gaussian_paths import (
    CosinePath, LinearPath, conditional_vector_field, sample_conditional, score_to_vector_field,
)
from genai_foundations.algorithms.solvers import euler_ode, heun_ode, midpoint_ode
from genai_foundations.architectures.mlp import TimeConditionedMLP

PATHS = [LinearPath(), CosinePath()]
MEANS = torch.tensor([[-2.0, 0.0], [1.5, 1.0], [0.5, -2.0]], dtype=torch.float64)
STDS = torch.tensor([0.3, 0.5, 0.2], dtype=torch.float64)
WEIGHTS = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)


class Zero(nn.Module):
    def forward(self, x, t, y=None):
        return torch.zeros_like(x)


class Identity(nn.Module):
    def forward(self, x, t, y=None):
        return x


# ----------------------------------------------------------------------------------------------------------------
# Training pairs
# ----------------------------------------------------------------------------------------------------------------
def test_linear_path_sample_is_the_straight_line_and_its_velocity():
    g = torch.Generator().manual_seed(0)
    z, eps = torch.randn(6, 1, 4, 4, generator=g), torch.randn(6, 1, 4, 4, generator=g)
    t = torch.rand(6, generator=g)
    x_t, target = fm.linear_path_sample(z, t, eps)
    for i in range(6):
        torch.testing.assert_close(x_t[i], t[i] * z[i] + (1 - t[i]) * eps[i])
    torch.testing.assert_close(target, z - eps)
    x_half, _ = fm.linear_path_sample(z, 0.5, eps)
    torch.testing.assert_close(x_half, 0.5 * (z + eps))
    # the endpoints: pure noise at t = 0, the data at t = 1
    torch.testing.assert_close(fm.linear_path_sample(z, 0.0, eps)[0], eps)
    torch.testing.assert_close(fm.linear_path_sample(z, 1.0, eps)[0], z)
    # the general Gaussian-path pair agrees
    x_gen, target_gen = fm.training_pair(LinearPath(), z, t, eps)
    torch.testing.assert_close(x_gen, x_t)
    torch.testing.assert_close(target_gen, target)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_training_target_is_the_conditional_field_and_the_velocity(path):
    g = torch.Generator().manual_seed(1)
    z, eps = torch.randn(16, 3, generator=g, dtype=torch.float64), torch.randn(16, 3, generator=g, dtype=torch.float64)
    t = (torch.rand(16, generator=g, dtype=torch.float64) * 0.98).requires_grad_(True)
    x_t, target = fm.training_pair(path, z, t, eps)
    # u_t(x_t | z) = (alpha_dot - beta_dot / beta alpha) z + beta_dot / beta x_t
    torch.testing.assert_close(target, conditional_vector_field(path, x_t.detach(), z, t.detach()))
    # ... = d/dt of x_t along a fixed (z, eps)
    velocity = torch.stack([torch.autograd.grad(x_t[:, j].sum(), t, retain_graph=True)[0] for j in range(3)], 1)
    torch.testing.assert_close(target, velocity)
    # written with eps, the target stays finite at t = 1 (beta_1 = 0)
    _, end_target = fm.training_pair(path, z, 1.0, eps)
    assert torch.isfinite(end_target).all()


def test_training_pair_shapes_are_checked():
    z = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="eps must have the shape"):
        fm.linear_path_sample(z, 0.5, torch.zeros(4, 3))
    with pytest.raises(ValueError, match="t must be a scalar or have shape"):
        fm.linear_path_sample(z, torch.zeros(3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="t must be a scalar or have shape"):
        fm.training_pair(CosinePath(), z, torch.zeros(4, 1), torch.zeros(4, 2))


# ----------------------------------------------------------------------------------------------------------------
# The loss
# ----------------------------------------------------------------------------------------------------------------
def test_cfm_loss_equals_a_hand_computation():
    z, eps = torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, -1.0]])
    # x_t = 0.25 z + 0.75 eps = (0.25, -0.25); target z - eps = (1, 3); identity model: errors (-0.75, -3.25)
    loss = fm.cfm_loss(Identity(), z, t=torch.tensor([0.25]), eps=eps)
    assert loss.dim() == 0 and loss.item() == pytest.approx((0.75**2 + 3.25**2) / 2)
    # the zero model pays the mean squared target
    assert fm.cfm_loss(Zero(), z, t=0.6, eps=eps).item() == pytest.approx((1 + 9) / 2)
    # cosine path: target alpha_dot z + beta_dot eps = (pi/2)(cos(pi t/2) z - sin(pi t/2) eps)
    t = 1 / 3
    c, s = math.cos(math.pi * t / 2), math.sin(math.pi * t / 2)
    target = [math.pi / 2 * (c * 1 - s * 0), math.pi / 2 * (c * 2 - s * -1)]
    loss = fm.cfm_loss(Zero(), z, CosinePath(), t=t, eps=eps)
    assert loss.item() == pytest.approx((target[0] ** 2 + target[1] ** 2) / 2, rel=1e-6)


def test_cfm_loss_draws_t_and_eps_from_the_generator():
    torch.manual_seed(0)
    model = TimeConditionedMLP(dim=2, hidden=16, depth=2, time_dim=8)
    z = torch.randn(32, 2)
    a = fm.cfm_loss(model, z, generator=torch.Generator().manual_seed(5))
    b = fm.cfm_loss(model, z, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    g = torch.Generator().manual_seed(5)
    t, eps = torch.rand(32, generator=g), torch.randn(32, 2, generator=g)
    torch.testing.assert_close(fm.cfm_loss(model, z, t=t, eps=eps), a)
    # the zero model's loss is E|z - eps|^2 / d = (Var z + 1) per coordinate for centred z
    big = torch.randn(100_000, 2, generator=g) * 2
    zero_loss = fm.cfm_loss(Zero(), big, generator=g).item()
    assert zero_loss == pytest.approx(5.0, rel=0.02)


def test_cfm_loss_label_dropout_and_errors():
    seen = []

    class Recorder(nn.Module):
        null_label = 3

        def forward(self, x, t, y=None):
            seen.append(None if y is None else y.clone())
            assert t.shape == (x.shape[0],)
            return x

    y = torch.tensor([0, 1, 2, 0, 1, 2])
    fm.cfm_loss(Recorder(), torch.randn(6, 2), y=y, p_uncond=1.0)
    assert (seen[-1] == 3).all()
    fm.cfm_loss(Recorder(), torch.randn(6, 2), y=y, p_uncond=0.0)
    assert torch.equal(seen[-1], y)
    fm.cfm_loss(Recorder(), torch.randn(6, 2))
    assert seen[-1] is None
    with pytest.raises(ValueError, match="null_label"):
        fm.cfm_loss(Identity(), torch.randn(6, 2), y=y, p_uncond=0.5)
    with pytest.raises(ValueError, match="shape of its input"):
        fm.cfm_loss(lambda x, t: x[:, :1], torch.randn(6, 2))
    with pytest.raises(ValueError, match="non-empty batch"):
        fm.cfm_loss(Identity(), torch.zeros(0, 2))


def test_cfm_loss_gradient_reaches_every_parameter():
    torch.manual_seed(0)
    model = TimeConditionedMLP(dim=3, hidden=32, depth=2, time_dim=16, num_classes=4)
    loss = fm.cfm_loss(model, torch.randn(64, 3), y=torch.randint(0, 4, (64,)), p_uncond=0.3,
                       generator=torch.Generator().manual_seed(0))
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0


def test_conditional_loss_has_the_gradient_of_the_marginal_loss():
    """E|u_theta - u(x|z)|^2 and E|u_theta - u(x)|^2 differ by a constant: equal gradients (same samples)."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    n = 200_000
    which = torch.multinomial(WEIGHTS, n, replacement=True, generator=g)
    z = MEANS[which] + STDS[which, None] * torch.randn(n, 2, generator=g, dtype=torch.float64)
    eps = torch.randn(n, 2, generator=g, dtype=torch.float64)
    t = torch.rand(n, generator=g, dtype=torch.float64) * 0.95
    x_t, conditional = fm.linear_path_sample(z, t, eps)
    marginal = fm.marginal_vector_field_mixture(x_t, t, MEANS, STDS, WEIGHTS)
    differences, cosines = [], []
    for seed in range(3):
        torch.manual_seed(seed)
        model = TimeConditionedMLP(dim=2, hidden=16, depth=1, time_dim=8).double()
        u = model(x_t, t)
        l_cfm, l_fm = ((u - conditional) ** 2).mean(), ((u - marginal) ** 2).mean()
        g_cfm = torch.cat([p.reshape(-1) for p in torch.autograd.grad(l_cfm, list(model.parameters()), retain_graph=True)])
        g_fm = torch.cat([p.reshape(-1) for p in torch.autograd.grad(l_fm, list(model.parameters()))])
        differences.append((l_cfm - l_fm).item())
        cosines.append(float(torch.nn.functional.cosine_similarity(g_cfm, g_fm, dim=0)))
        assert float((g_cfm - g_fm).norm() / g_fm.norm()) < 0.05
    assert min(cosines) > 0.995
    assert max(differences) - min(differences) < 0.02 * abs(differences[0])
    assert differences[0] > 0.1  # the conditional target is noisier: a strictly positive constant


# ----------------------------------------------------------------------------------------------------------------
# Guidance and samplers
# ----------------------------------------------------------------------------------------------------------------
def test_guidance_w1_is_conditional_and_w0_unconditional():
    torch.manual_seed(0)
    model = TimeConditionedMLP(dim=2, hidden=32, depth=2, time_dim=16, num_classes=3).eval()
    x, t, y = torch.randn(8, 2), torch.rand(8), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    with torch.no_grad():
        cond, uncond = model(x, t, y), model(x, t, None)
        assert torch.equal(fm.guided_field(model, x, t, y, 1.0), cond)
        assert torch.equal(fm.guided_field(model, x, t, y, 0.0), uncond)
        torch.testing.assert_close(fm.guided_field(model, x, t, y, 3.0), 3 * cond - 2 * uncond)
        # the sampler's field: w = 1 calls the conditional model once, other w combine both
        torch.testing.assert_close(fm.model_field(model, y, 1.0)(x, 0.3), model(x, torch.full((8,), 0.3), y))
        torch.testing.assert_close(fm.model_field(model, y, 2.5)(x, 0.3),
                                   fm.guided_field(model, x, torch.full((8,), 0.3), y, 2.5))


def test_exact_guided_mixture_field():
    field = fm.MixtureField(MEANS, STDS, WEIGHTS, labels=torch.tensor([0, 1, 1]))
    x = torch.randn(5, 2, dtype=torch.float64)
    y = torch.tensor([1, 1, 0, 2, 1])                                # 2 = the null label
    u_cond = field(x, 0.4, y)
    only_1 = fm.marginal_vector_field_mixture(x, 0.4, MEANS[1:], STDS[1:], WEIGHTS[1:])
    only_0 = fm.marginal_vector_field_mixture(x, 0.4, MEANS[:1], STDS[:1], WEIGHTS[:1])
    full = fm.marginal_vector_field_mixture(x, 0.4, MEANS, STDS, WEIGHTS)
    torch.testing.assert_close(u_cond[[0, 1, 4]], only_1[[0, 1, 4]])
    torch.testing.assert_close(u_cond[2], only_0[2])
    torch.testing.assert_close(u_cond[3], full[3])
    torch.testing.assert_close(fm.guided_field(field, x, 0.4, y, 1.0), u_cond)
    torch.testing.assert_close(fm.guided_field(field, x, 0.4, y, 0.0), full)


def test_euler_sample_is_the_explicit_recursion():
    x0 = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    field = lambda x, t: -x * (1 + t)                                # noqa: E731
    out, x = fm.euler_sample(field, x0, 4), x0.clone()
    for k in range(4):
        x = x + 0.25 * field(x, k / 4)
    torch.testing.assert_close(out, x)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        fm.euler_sample(field, x0, 0)


def test_sample_shapes_methods_and_errors():
    torch.manual_seed(0)
    model = TimeConditionedMLP(dim=2, hidden=16, depth=1, time_dim=8, num_classes=2)
    g = torch.Generator().manual_seed(0)
    out = fm.sample(model, (10, 2), steps=4, method="heun", y=torch.zeros(10, dtype=torch.long), w=2.0, generator=g)
    assert out.shape == (10, 2) and torch.isfinite(out).all()
    traj = fm.sample(model, (10, 2), steps=4, method="midpoint", return_path=True, generator=g)
    assert traj.shape == (5, 10, 2)
    x0 = torch.randn(10, 2)
    torch.testing.assert_close(fm.sample(model, x0=x0, steps=3), fm.euler_sample(fm.model_field(model), x0, 3))
    assert model.training  # the sampler restores the mode
    with pytest.raises(ValueError, match="unknown method"):
        fm.sample(model, (4, 2), method="rk4")
    with pytest.raises(ValueError, match="y must have shape"):
        fm.sample(model, (4, 2), y=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="either shape or x0"):
        fm.sample(model)


# ----------------------------------------------------------------------------------------------------------------
# Exact marginal fields
# ----------------------------------------------------------------------------------------------------------------
MU1 = torch.tensor([2.0, -1.0], dtype=torch.float64)
COV1 = torch.tensor([[1.5, 0.9], [0.9, 0.8]], dtype=torch.float64)


def test_ode_with_the_exact_gaussian_field_lands_on_the_target_gaussian():
    field = fm.gaussian_to_gaussian_field(torch.zeros(2), torch.eye(2), MU1, COV1)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(20_000, 2, generator=g, dtype=torch.float64)
    for solver, steps in ((heun_ode, 50), (euler_ode, 400)):
        x1 = solver(field, x0, 0.0, 1.0, steps)
        assert (x1.mean(0) - MU1).abs().max() < 0.03
        rel = (torch.cov(x1.T) - COV1).abs().max() / COV1.abs().max()
        assert rel < 0.03, (solver.__name__, float(rel))
    # the flow is affine: it matches the closed-form map point by point
    exact = fm.gaussian_flow_map(x0[:100], 1.0, MU1, COV1)
    assert (heun_ode(field, x0[:100], 0.0, 1.0, 100) - exact).abs().max() < 1e-4
    euler_errors = [(fm.euler_sample(field, x0[:100], n) - exact).abs().max() for n in (250, 500, 1000)]
    assert euler_errors[-1] < 1e-2
    for coarse, fine in zip(euler_errors, euler_errors[1:]):  # first order: halving h halves the error
        assert float(coarse / fine) == pytest.approx(2.0, rel=0.1)


def test_general_gaussian_start_and_the_flow_map():
    mu0 = torch.tensor([-1.0, 0.5], dtype=torch.float64)
    cov0 = torch.tensor([[0.5, -0.2], [-0.2, 0.3]], dtype=torch.float64)
    field = fm.gaussian_to_gaussian_field(mu0, cov0, MU1, COV1)
    g = torch.Generator().manual_seed(1)
    start = mu0 + torch.randn(20_000, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov0).T
    x1 = midpoint_ode(field, start, 0.0, 1.0, 60)
    assert (x1.mean(0) - MU1).abs().max() < 0.03
    assert (torch.cov(x1.T) - COV1).abs().max() / COV1.abs().max() < 0.03
    # psi_t solves d/dt psi_t = u_t(psi_t) (central differences)
    std_field = fm.gaussian_to_gaussian_field(torch.zeros(2), torch.eye(2), MU1, COV1)
    x0 = torch.randn(5, 2, generator=g, dtype=torch.float64)
    for t in (0.1, 0.5, 0.9):
        h = 1e-5
        velocity = (fm.gaussian_flow_map(x0, t + h, MU1, COV1) - fm.gaussian_flow_map(x0, t - h, MU1, COV1)) / (2 * h)
        torch.testing.assert_close(velocity, std_field(fm.gaussian_flow_map(x0, t, MU1, COV1), t), atol=1e-7, rtol=1e-6)
    with pytest.raises(ValueError, match="positive definite"):
        fm.gaussian_to_gaussian_field(torch.zeros(2), torch.eye(2), MU1, torch.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="covariance must have shape"):
        fm.gaussian_flow_map(x0, 0.5, MU1, torch.eye(3))


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_mixture_field_solves_the_continuity_equation(path):
    x = torch.randn(12, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 1.5

    def log_density(x, t):
        return fm.marginal_log_density_mixture(x, t, MEANS, STDS, WEIGHTS, path)

    for t in (0.2, 0.5, 0.8):
        exact = fm.continuity_residual(log_density, lambda x, t: fm.marginal_vector_field_mixture(
            x, t, MEANS, STDS, WEIGHTS, path), x, t)
        assert exact.abs().max() < 1e-8
        # a wrong field (the conditional field of one data point) violates it: the check can fail
        wrong = fm.continuity_residual(log_density, lambda x, t: conditional_vector_field(path, x, MEANS[:1], t), x, t)
        assert wrong.abs().max() > 0.1


def test_gaussian_field_solves_the_continuity_equation():
    mu0 = torch.tensor([-1.0, 0.5], dtype=torch.float64)
    cov0 = torch.tensor([[0.5, -0.2], [-0.2, 0.3]], dtype=torch.float64)
    field = fm.gaussian_to_gaussian_field(mu0, cov0, MU1, COV1)
    x = torch.randn(10, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)

    def log_density(x, t):
        return fm.gaussian_path_log_density(x, t, mu0, cov0, MU1, COV1)

    t = torch.tensor(0.3, dtype=torch.float64)
    mean, cov = 0.7 * mu0 + 0.3 * MU1, 0.49 * cov0 + 0.09 * COV1
    torch.testing.assert_close(log_density(x, t), torch.distributions.MultivariateNormal(mean, cov).log_prob(x))
    for t in (0.0, 0.25, 0.75, 1.0):
        assert fm.continuity_residual(log_density, field, x, t).abs().max() < 1e-9
    # a field that moves the mass too fast does not generate this path
    assert fm.continuity_residual(log_density, lambda x, t: 1.2 * field(x, t), x, 0.5).abs().max() > 0.1


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_mixture_density_and_field_against_torch_distributions_and_the_score(path):
    g = torch.Generator().manual_seed(4)
    x = (torch.randn(20, 2, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
    t = torch.rand(20, generator=g, dtype=torch.float64) * 0.9 + 0.05
    a, b = path.alpha(t)[:, None, None], path.beta(t)[:, None, None]
    scale = (a**2 * STDS[None, :, None] ** 2 + b**2).sqrt().expand(20, 3, 2)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(WEIGHTS.expand(20, 3)),
        torch.distributions.Independent(torch.distributions.Normal(a * MEANS[None], scale), 1))
    log_p = fm.marginal_log_density_mixture(x, t, MEANS, STDS, WEIGHTS, path)
    torch.testing.assert_close(log_p, mixture.log_prob(x))
    (score,) = torch.autograd.grad(log_p.sum(), x)
    field = fm.marginal_vector_field_mixture(x.detach(), t, MEANS, STDS, WEIGHTS, path)
    torch.testing.assert_close(field, score_to_vector_field(path, score, x.detach(), t))


def test_empirical_distribution_limits():
    points = torch.tensor([[1.0, 1.0], [-1.0, 3.0]], dtype=torch.float64)
    x = torch.randn(6, 2, dtype=torch.float64)
    # at t = 0 the linear path's marginal field is E[z] - x
    torch.testing.assert_close(fm.marginal_vector_field_mixture(x, 0.0, points), points.mean(0) - x)
    # near t = 1, a point close to data point k flows straight to it: u ~ (z_k - x) / (1 - t)
    near = torch.tensor([[1.001, 0.999]], dtype=torch.float64) * 0.99
    u = fm.marginal_vector_field_mixture(near, 0.99, points)
    torch.testing.assert_close(u, (points[:1] - near) / 0.01, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="point mass"):
        fm.marginal_vector_field_mixture(x, 1.0, points)
    with pytest.raises(ValueError, match="weights must be"):
        fm.marginal_vector_field_mixture(x, 0.5, points, weights=torch.ones(3))
    with pytest.raises(ValueError, match="expected x of shape"):
        fm.marginal_vector_field_mixture(torch.zeros(4, 3), 0.5, points)


def test_exact_mixture_ode_reproduces_the_data():
    field = fm.MixtureField(MEANS, STDS, WEIGHTS)
    g = torch.Generator().manual_seed(5)
    x1 = fm.sample(field, (6000, 2), steps=100, method="heun", generator=g).double()
    nearest = torch.cdist(x1, MEANS).argmin(1)
    shares = torch.bincount(nearest, minlength=3).double() / len(x1)
    assert (shares - WEIGHTS).abs().max() < 0.03
    for k in range(3):
        spread = (x1[nearest == k] - MEANS[k]).std(0)
        assert (spread - STDS[k]).abs().max() < 0.1 * STDS[k] + 0.02


# ----------------------------------------------------------------------------------------------------------------
# dtypes and gradients at extreme points
# ----------------------------------------------------------------------------------------------------------------
class TimeRecorder(nn.Module):
    """A float64 'model' that records the dtype of the times it receives."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones((), dtype=torch.float64))
        self.seen: list[torch.dtype] = []

    def forward(self, x, t, y=None):
        self.seen.append(t.dtype)
        return self.weight * x * t.reshape(-1, *([1] * (x.dim() - 1)))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_models_receive_times_in_the_dtype_of_the_data(dtype):
    """A float64 model trained or sampled through the package must see float64 times (they were cast to float32)."""
    model = TimeRecorder().to(dtype)
    z = torch.randn(8, 2, dtype=dtype)
    fm.cfm_loss(model, z, t=torch.full((8,), 1 / 3, dtype=torch.float64), generator=torch.Generator().manual_seed(0))
    fm.cfm_loss(model, z, generator=torch.Generator().manual_seed(0))
    fm.sample(model, x0=z, steps=2)
    assert model.seen and all(d == dtype for d in model.seen)
    # the time 1/3 reaches a float64 model without rounding to float32
    if dtype == torch.float64:
        got = []
        fm.cfm_loss(lambda x, t: got.append(t) or x, z, t=1 / 3)
        assert got[0].dtype == torch.float64 and got[0][0].item() == 1 / 3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mixture_log_density_gradient_at_extreme_points_matches_torch(dtype):
    """The score of the exact marginal path at 0, +-1e-8 and +-1000 equals autograd through torch.distributions."""
    path = LinearPath()
    t = 0.6
    values = torch.tensor([0.0, 1e-8, -1e-8, 1000.0, -1000.0], dtype=dtype)
    x = torch.stack([values, values.flip(0)], dim=1).requires_grad_(True)
    (got,) = torch.autograd.grad(fm.marginal_log_density_mixture(x, t, MEANS, STDS, WEIGHTS, path).sum(), x)
    a, b = path.alpha(torch.tensor(t, dtype=torch.float64)), path.beta(torch.tensor(t, dtype=torch.float64))
    scale = (a**2 * STDS**2 + b**2).sqrt()[:, None].expand(3, 2)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(WEIGHTS),
        torch.distributions.Independent(torch.distributions.Normal(a * MEANS, scale), 1))
    x64 = x.detach().double().requires_grad_(True)
    (want,) = torch.autograd.grad(mixture.log_prob(x64).sum(), x64)
    assert torch.isfinite(got).all()
    torch.testing.assert_close(got.double(), want, rtol=1e-6 if dtype == torch.float32 else 1e-10, atol=1e-12)

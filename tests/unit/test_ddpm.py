"""Tests of the DDPM / DDIM reference (chapter 4)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genai_foundations.algorithms import ddpm
from genai_foundations.algorithms.ddpm import NoiseSchedule
from genai_foundations.architectures.unet import UNet


# ----------------------------------------------------------------------------------------------------------------
# Schedules
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("T", [1000, 50])
@pytest.mark.parametrize("kind, diffusers_name", [("linear", "linear"), ("cosine", "squaredcos_cap_v2")])
def test_schedules_match_diffusers(T, kind, diffusers_name):
    from diffusers import DDPMScheduler

    theirs = DDPMScheduler(num_train_timesteps=T, beta_schedule=diffusers_name)
    ours = NoiseSchedule.linear(T) if kind == "linear" else NoiseSchedule.cosine(T)
    assert ours.T == T
    torch.testing.assert_close(ours.betas, theirs.betas.double(), atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.alphas_cumprod, theirs.alphas_cumprod.double(), atol=1e-6, rtol=0)
    assert ours.alphas_bar[0] == 1.0 and len(ours.alphas_bar) == T + 1


def test_linear_schedule_endpoints_and_alpha_bar_T():
    schedule = NoiseSchedule.linear(1000)
    assert math.isclose(schedule.betas[0].item(), 1e-4) and math.isclose(schedule.betas[-1].item(), 0.02)
    expected = math.prod(1 - (1e-4 + (0.02 - 1e-4) * i / 999) for i in range(1000))
    assert math.isclose(schedule.alphas_bar[-1].item(), expected, rel_tol=1e-9)
    assert 4.0e-5 < expected < 4.1e-5


def test_cosine_schedule_follows_its_target_and_is_capped():
    T, s = 200, 0.008
    schedule = NoiseSchedule.cosine(T)
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (1, 50, 100, 150, T - 1):  # below T the cap is inactive: abar_t = f(t/T) / f(0)
        assert math.isclose(schedule.alphas_bar[t].item(), f(t / T) / f(0), rel_tol=1e-9)
    assert math.isclose(schedule.betas[-1].item(), 0.999)
    assert (schedule.betas <= 0.999).all() and (schedule.betas > 0).all()


def test_schedule_validation():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        NoiseSchedule(torch.tensor([0.1, 1.0]))
    with pytest.raises(ValueError, match="T must be a positive int"):
        NoiseSchedule.linear(0)
    with pytest.raises(ValueError, match="max_beta"):
        ddpm.cosine_betas(10, max_beta=1.0)


# ----------------------------------------------------------------------------------------------------------------
# Forward process
# ----------------------------------------------------------------------------------------------------------------
def test_closed_form_matches_iterating_the_one_step_process():
    """x_t = sqrt(1-beta_t) x_{t-1} + sqrt(beta_t) eps, iterated t times, has the closed form's mean and variance.

    The Monte Carlo run is seeded (it cannot flake), and the tolerance is six
    standard errors of the estimates, so that a correct implementation passes
    with any seed while an off-by-one step in alpha_bar fails.
    """
    schedule = NoiseSchedule.linear(1000)
    generator = torch.Generator().manual_seed(0)
    n = 40_000
    x0 = torch.tensor([-1.5, 0.3, 2.0], dtype=torch.float64).repeat(n, 1)  # three data points, n copies of each
    x = x0.clone()
    checkpoints = {1, 5, 50, 300, 1000}
    for t in range(1, schedule.T + 1):
        beta = schedule.betas[t - 1]
        x = (1 - beta).sqrt() * x + beta.sqrt() * torch.randn(x.shape, generator=generator, dtype=torch.float64)
        if t in checkpoints:
            abar = schedule.alphas_bar[t]
            mean, var = abar.sqrt() * x0[0], 1 - abar
            se_mean = (var / n).sqrt()
            se_var = var * math.sqrt(2 / (n - 1))
            assert (x.mean(0) - mean).abs().max() < 6 * se_mean, t
            assert (x.var(0) - var).abs().max() < 6 * se_var, t
            # the closed-form sampler draws from the same distribution
            closed = ddpm.q_sample(x0, t, torch.randn(x0.shape, generator=generator, dtype=torch.float64), schedule)
            assert (closed.mean(0) - mean).abs().max() < 6 * se_mean, t
            assert (closed.var(0) - var).abs().max() < 6 * se_var, t


def test_q_sample_formula_per_example_steps_and_variance_preservation():
    schedule = NoiseSchedule.cosine(100)
    x0, noise = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    t = torch.tensor([0, 1, 50, 100])
    out = ddpm.q_sample(x0, t, noise, schedule)
    for i in range(4):
        abar = schedule.alphas_bar[t[i]].float()
        torch.testing.assert_close(out[i], abar.sqrt() * x0[i] + (1 - abar).sqrt() * noise[i])
    torch.testing.assert_close(out[0], x0[0])  # t = 0 is the data itself
    # Var(x_t) = abar_t Var(x_0) + (1 - abar_t) = 1 for unit-variance data, at every t
    assert torch.allclose(schedule.alphas_bar + (1 - schedule.alphas_bar), torch.ones(101, dtype=torch.float64))
    with pytest.raises(ValueError, match="t must lie in 0..100"):
        ddpm.q_sample(x0, 101, noise, schedule)
    with pytest.raises(ValueError, match="noise must have the shape"):
        ddpm.q_sample(x0, 1, noise[:2], schedule)


def test_predict_x0_inverts_q_sample():
    schedule = NoiseSchedule.linear(1000)
    x0, noise = torch.randn(8, 1, 8, 8, dtype=torch.float64), torch.randn(8, 1, 8, 8, dtype=torch.float64)
    t = torch.randint(1, 1001, (8,))
    x_t = ddpm.q_sample(x0, t, noise, schedule)
    torch.testing.assert_close(ddpm.predict_x0(x_t, t, noise, schedule), x0)


# ----------------------------------------------------------------------------------------------------------------
# Loss and label dropout
# ----------------------------------------------------------------------------------------------------------------
class Zero(nn.Module):
    def forward(self, x, t, y=None):
        return torch.zeros_like(x)


def test_loss_of_the_zero_predictor_is_the_noise_variance():
    schedule = NoiseSchedule.linear(1000)
    n = 40_000
    loss = ddpm.ddpm_loss(Zero(), torch.randn(n, 2), schedule, generator=torch.Generator().manual_seed(0))
    assert loss.dim() == 0
    assert abs(loss.item() - 1.0) < 6 * math.sqrt(2 / (2 * n))  # E[eps^2] = 1, Var[eps^2] = 2


def test_loss_trains_a_network():
    torch.manual_seed(0)
    schedule = NoiseSchedule.linear(100)
    net = UNet(channels=(8, 16), emb_dim=16, num_classes=3)
    x0 = torch.randn(16, 1, 8, 8)
    y = torch.randint(0, 3, (16,))
    loss = ddpm.ddpm_loss(net, x0, schedule, y=y, p_uncond=0.5)
    loss.backward()
    assert all(p.grad is not None for p in net.conv_out.parameters())
    with pytest.raises(ValueError, match="null_label"):
        ddpm.ddpm_loss(lambda x, t, y: x, x0, schedule, y=y, p_uncond=0.5)


def test_drop_labels():
    y = torch.arange(10).repeat(1000)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(ddpm.drop_labels(y, 0.0, 10, g), y)
    assert (ddpm.drop_labels(y, 1.0, 10, g) == 10).all()
    dropped = ddpm.drop_labels(y, 0.2, 10, g)
    kept = dropped != 10
    assert torch.equal(dropped[kept], y[kept])
    assert abs((~kept).float().mean().item() - 0.2) < 6 * math.sqrt(0.2 * 0.8 / len(y))


# ----------------------------------------------------------------------------------------------------------------
# Reverse process
# ----------------------------------------------------------------------------------------------------------------
def test_noise_scale_ddpm_choice_is_the_posterior_variance():
    schedule = NoiseSchedule.linear(1000)
    for t in (2, 10, 500, 1000):
        c = ddpm.noise_scale(t, t - 1, schedule, eta=1.0)
        posterior = (1 - schedule.alphas_bar[t - 1]) / (1 - schedule.alphas_bar[t]) * schedule.betas[t - 1]
        assert math.isclose(c.item() ** 2, posterior.item(), rel_tol=1e-9)
        assert ddpm.noise_scale(t, t - 1, schedule, eta=0.0).item() == 0.0
    assert ddpm.noise_scale(1, 0, schedule).item() == 0.0  # the last step adds no noise


def test_reverse_step_matches_diffusers_ddpm_step():
    from diffusers import DDPMScheduler

    T = 1000
    theirs = DDPMScheduler(num_train_timesteps=T, beta_schedule="linear", clip_sample=False,
                           variance_type="fixed_small")
    schedule = NoiseSchedule.linear(T)
    torch.manual_seed(0)
    x, eps = torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    for k in (999, 600, 10, 1):  # diffusers' index k is our step t = k + 1
        expected = theirs.step(eps, k, x, generator=torch.Generator().manual_seed(k)).prev_sample
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(k))
        ours = ddpm.reverse_step(x, k + 1, k, eps, schedule, eta=1.0, noise=noise)
        torch.testing.assert_close(ours, expected, atol=2e-5, rtol=1e-4)


def test_reverse_step_matches_diffusers_ddim_step_on_a_subsequence():
    from diffusers import DDIMScheduler

    T, steps = 1000, 20
    theirs = DDIMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2", clip_sample=False,
                           set_alpha_to_one=True)
    theirs.set_timesteps(steps)
    schedule = NoiseSchedule.cosine(T)
    torch.manual_seed(0)
    x, eps = torch.randn(4, 2, 5), torch.randn(4, 2, 5)
    stride = T // steps
    for k in (950, 500, 0):
        expected = theirs.step(eps, k, x, eta=0.0).prev_sample
        ours = ddpm.reverse_step(x, k + 1, max(k - stride, -1) + 1, eps, schedule, eta=0.0)
        torch.testing.assert_close(ours, expected, atol=2e-5, rtol=1e-4)


def test_reverse_step_details():
    schedule = NoiseSchedule.linear(1000)
    x, eps = torch.randn(3, 4), torch.randn(3, 4)
    # the last step returns the x_0 estimate, with or without eta
    torch.testing.assert_close(ddpm.reverse_step(x, 1, 0, eps, schedule, eta=1.0, noise=torch.randn(3, 4)),
                               ddpm.predict_x0(x, 1, eps, schedule))
    # per-example steps give the same as one step at a time
    t, s = torch.tensor([1000, 500, 20]), torch.tensor([900, 499, 0])
    batched = ddpm.reverse_step(x, t, s, eps, schedule)
    for i in range(3):
        torch.testing.assert_close(batched[i], ddpm.reverse_step(x[i:i + 1], int(t[i]), int(s[i]), eps[i:i + 1],
                                                                 schedule)[0])
    # clipping keeps the x_0 estimate in [-1, 1] and stays on the line between it and eps
    big = 5 * torch.ones(3, 4)
    out = ddpm.reverse_step(big, 1, 0, torch.zeros(3, 4), schedule, clip_x0=True)
    assert out.abs().max() <= 1.0
    with pytest.raises(ValueError, match="eta"):
        ddpm.reverse_step(x, 10, 9, eps, schedule, eta=1.5)
    with pytest.raises(ValueError, match="smaller than t"):
        ddpm.reverse_step(x, 10, 10, eps, schedule)


def test_sampling_timesteps():
    assert ddpm.sampling_timesteps(5) == [5, 4, 3, 2, 1, 0]
    sub = ddpm.sampling_timesteps(1000, 10)
    assert sub[0] == 1000 and sub[-1] == 0 and len(sub) == 11
    assert all(a > b for a, b in zip(sub, sub[1:]))
    with pytest.raises(ValueError, match="steps"):
        ddpm.sampling_timesteps(10, 11)


def GaussianOracle(schedule: NoiseSchedule, mu: float, s: float) -> ddpm.GaussianMixtureDenoiser:
    """The exact noise predictor for data x_0 ~ N(mu, s^2) in one dimension."""
    return ddpm.GaussianMixtureDenoiser(schedule, torch.tensor([[mu]]), torch.tensor([s]))


def test_mixture_denoiser_for_one_gaussian_is_the_closed_form():
    schedule = NoiseSchedule.linear(1000)
    mu, s = 0.5, 0.3
    x = torch.randn(7, 1, dtype=torch.float64)
    for t in (1, 300, 1000):
        abar = schedule.alphas_bar[t]
        expected = (1 - abar).sqrt() * (x - abar.sqrt() * mu) / (abar * s**2 + 1 - abar)
        out = GaussianOracle(schedule, mu, s)(x, torch.full((7,), t / 1000))
        torch.testing.assert_close(out, expected)


def test_exact_denoiser_many_steps_find_both_modes_one_step_finds_the_mean():
    """Why many small steps: one Gaussian reverse step can only return the mean of a bimodal distribution."""
    schedule = NoiseSchedule.cosine(1000)
    oracle = ddpm.GaussianMixtureDenoiser(schedule, torch.tensor([[-1.0], [1.0]]), torch.tensor([0.1, 0.1]),
                                          torch.tensor([0.3, 0.7]))
    g = torch.Generator().manual_seed(0)
    many = ddpm.sample(oracle, schedule, (20_000, 1), eta=1.0, generator=g)
    assert abs((many > 0).float().mean().item() - 0.7) < 0.02
    assert abs(many[many > 0].std().item() - 0.1) < 0.01
    one = ddpm.sample(oracle, schedule, (20_000, 1), steps=1, eta=1.0, generator=g)
    assert (one - 0.4).abs().max() < 0.01  # every sample lands on the mixture mean 0.3 * (-1) + 0.7 * 1


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_samplers_with_the_exact_denoiser_reproduce_a_gaussian(kind, eta):
    """With the exact noise predictor and all T steps, DDPM, DDIM and in between sample the data distribution."""
    schedule = NoiseSchedule.linear(1000) if kind == "linear" else NoiseSchedule.cosine(1000)
    mu, s, n = 0.5, 0.3, 20_000
    oracle = GaussianOracle(schedule, mu, s)
    out = ddpm.sample(oracle, schedule, (n, 1), eta=eta, generator=torch.Generator().manual_seed(0))
    assert abs(out.mean().item() - mu) < 0.015  # 7 standard errors
    assert abs(out.std().item() - s) < 0.01


def test_fewer_steps_cost_accuracy_and_ddim_loses_less():
    """Skipping steps is a discretisation error: it shrinks as the step count grows, and DDIM's is the smaller."""
    schedule = NoiseSchedule.linear(1000)
    oracle = GaussianOracle(schedule, 0.0, 0.3)
    x_T = torch.randn(20_000, 1, generator=torch.Generator().manual_seed(0))
    error = {}
    for eta in (0.0, 1.0):
        for steps in (10, 50, 1000):
            out = ddpm.sample(oracle, schedule, x_T.shape, steps=steps, eta=eta, x_T=x_T,
                              generator=torch.Generator().manual_seed(1))
            error[eta, steps] = abs(out.std().item() - 0.3)
    for eta in (0.0, 1.0):
        assert error[eta, 10] > error[eta, 50] > error[eta, 1000]
    assert error[0.0, 10] < error[1.0, 10] and error[0.0, 50] < error[1.0, 50]


def test_ddim_sampling_is_deterministic():
    torch.manual_seed(0)
    schedule = NoiseSchedule.linear(1000)
    net = UNet(channels=(8, 16), emb_dim=16)
    nn.init.normal_(net.conv_out.weight, std=0.1)
    x_T = torch.randn(4, 1, 8, 8)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    a = ddpm.sample(net, schedule, x_T.shape, steps=10, eta=0.0, x_T=x_T, generator=g1)
    torch.randn(7)  # disturb the global generator too
    b = ddpm.sample(net, schedule, x_T.shape, steps=10, eta=0.0, x_T=x_T, generator=g2)
    c = ddpm.sample(net, schedule, x_T.shape, steps=10, eta=0.0, x_T=x_T)
    assert torch.equal(a, b) and torch.equal(a, c)
    # with noise (eta = 1) the generator matters
    d = ddpm.sample(net, schedule, x_T.shape, steps=10, eta=1.0, x_T=x_T, generator=torch.Generator().manual_seed(1))
    e = ddpm.sample(net, schedule, x_T.shape, steps=10, eta=1.0, x_T=x_T, generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(d, e)


def test_sample_records_the_path_and_checks_shapes():
    schedule = NoiseSchedule.linear(100)
    seen = []
    ddpm.sample(Zero(), schedule, (2, 3), steps=4, callback=lambda t, x, x0: seen.append(t))
    assert seen == [100, 75, 50, 25]
    with pytest.raises(ValueError, match="x_T must have shape"):
        ddpm.sample(Zero(), schedule, (2, 3), x_T=torch.zeros(3, 3))


# ----------------------------------------------------------------------------------------------------------------
# Classifier-free guidance
# ----------------------------------------------------------------------------------------------------------------
def test_cfg_combine_endpoints():
    uncond, cond = torch.randn(5, 3), torch.randn(5, 3)
    assert torch.equal(ddpm.cfg_combine(uncond, cond, 1.0), cond)
    assert torch.equal(ddpm.cfg_combine(uncond, cond, 0.0), uncond)
    torch.testing.assert_close(ddpm.cfg_combine(uncond, cond, 3.0), cond + 2.0 * (cond - uncond))


def test_guided_eps_with_w_one_is_the_conditional_prediction():
    torch.manual_seed(0)
    net = UNet(channels=(8, 16), emb_dim=16, num_classes=10).eval()
    nn.init.normal_(net.conv_out.weight, std=0.1)
    x, time, y = torch.randn(6, 1, 8, 8), torch.rand(6), torch.randint(0, 10, (6,))
    with torch.no_grad():
        cond, uncond = net(x, time, y), net(x, time, None)
        torch.testing.assert_close(ddpm.guided_eps(net, x, time, y, 1.0), cond, atol=1e-6, rtol=0)
        torch.testing.assert_close(ddpm.guided_eps(net, x, time, y, 0.0), uncond, atol=1e-6, rtol=0)
        assert not torch.allclose(cond, uncond)  # the label matters, so the two checks above mean something


# ----------------------------------------------------------------------------------------------------------------
# The forward step, the posterior q(x_{t-1} | x_t, x_0), the ELBO weights and Ho et al.'s two variances
# ----------------------------------------------------------------------------------------------------------------
def test_q_step_is_one_step_of_the_forward_chain():
    schedule = NoiseSchedule.linear(100)
    x, noise = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64)
    beta = schedule.betas[9]  # beta_10
    torch.testing.assert_close(ddpm.q_step(x, 10, noise, schedule), (1 - beta).sqrt() * x + beta.sqrt() * noise)
    # one step from x_0 is the closed form at t = 1
    torch.testing.assert_close(ddpm.q_step(x, 1, noise, schedule), ddpm.q_sample(x, 1, noise, schedule))
    with pytest.raises(ValueError, match="t must lie in 1..100"):
        ddpm.q_step(x, 0, noise, schedule)


@pytest.mark.parametrize("t", [2, 5, 300])
def test_posterior_mean_and_variance_match_a_monte_carlo_regression(t):
    """Draw (x_0, x_{t-1}, x_t) by running the chain; regress x_{t-1} on (x_0, x_t).

    The regression recovers the two coefficients of the posterior mean, and its
    residual variance is the posterior variance beta-tilde_t (which differs a
    lot from beta_t at small t). Tolerances are six standard errors.
    """
    schedule = NoiseSchedule.linear(1000)
    g = torch.Generator().manual_seed(t)
    n = 60_000
    x0 = torch.randn(n, generator=g, dtype=torch.float64)
    x_prev = ddpm.q_sample(x0, t - 1, torch.randn(n, generator=g, dtype=torch.float64), schedule)
    x_t = ddpm.q_step(x_prev, t, torch.randn(n, generator=g, dtype=torch.float64), schedule)
    design = torch.stack([x0, x_t], dim=1)
    coef = torch.linalg.lstsq(design, x_prev[:, None]).solution[:, 0]
    residual = x_prev - design @ coef
    resid_var = residual.var().item()
    se = (resid_var * torch.linalg.inv(design.T @ design).diagonal()).sqrt()
    # the formula: mean = c0 x0 + ct x_t; evaluate it on unit inputs to read off the coefficients
    one, zero = torch.ones(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)
    c0 = ddpm.posterior_mean_variance(one, zero, t, schedule)[0].item()
    ct, var = (v.item() for v in ddpm.posterior_mean_variance(zero, one, t, schedule))
    assert abs(coef[0].item() - c0) < 6 * se[0] and abs(coef[1].item() - ct) < 6 * se[1]
    assert abs(resid_var - var) < 6 * var * math.sqrt(2 / n)
    beta = schedule.betas[t - 1].item()
    if t <= 5:  # beta-tilde_t is clearly smaller than beta_t there, and the Monte Carlo sees it
        assert abs(resid_var - beta) > 20 * var * math.sqrt(2 / n)


def test_posterior_variance_is_the_ddpm_noise_scale_and_per_example_steps_work():
    schedule = NoiseSchedule.cosine(200)
    x0, x_t = torch.randn(3, 4), torch.randn(3, 4)
    t = torch.tensor([1, 100, 200])
    mean, var = ddpm.posterior_mean_variance(x0, x_t, t, schedule)
    for i in range(3):
        m_i, v_i = ddpm.posterior_mean_variance(x0[i:i + 1], x_t[i:i + 1], int(t[i]), schedule)
        torch.testing.assert_close(mean[i:i + 1], m_i)
        assert math.isclose(var[i].item(), v_i.item(), rel_tol=1e-6)
        assert math.isclose(v_i.item(), ddpm.noise_scale(int(t[i]), int(t[i]) - 1, schedule).item() ** 2,
                            rel_tol=1e-5, abs_tol=1e-12)
    torch.testing.assert_close(mean[0], x0[0])  # at t = 1 the posterior is the point x_0
    with pytest.raises(ValueError, match="t must lie in 1..200"):
        ddpm.posterior_mean_variance(x0, x_t, 0, schedule)


@pytest.mark.parametrize("variance", ["beta_tilde", "beta"])
def test_elbo_weight_turns_the_kl_term_into_a_weighted_noise_error(variance):
    """KL(q(x_{t-1}|x_t,x_0) || N(mu_tilde(x_t, x0_hat), sigma_t^2)) = lambda_t ||eps - eps_theta||^2 + const."""
    schedule = NoiseSchedule.cosine(1000)
    weights = ddpm.elbo_weights(schedule, variance)
    sigma2 = schedule.betas if variance == "beta" else \
        (1 - schedule.alphas_bar[:-1]) / (1 - schedule.alphas_bar[1:]) * schedule.betas
    g = torch.Generator().manual_seed(0)
    for t in (2, 50, 500, 990):
        x0, eps = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64)
        eps_theta = eps + 0.3 * torch.randn(6, generator=g, dtype=torch.float64)
        x_t = ddpm.q_sample(x0, t, eps, schedule)
        mean_q, var_q = ddpm.posterior_mean_variance(x0, x_t, t, schedule)
        mean_p, _ = ddpm.posterior_mean_variance(ddpm.predict_x0(x_t, t, eps_theta, schedule), x_t, t, schedule)
        q = torch.distributions.Normal(mean_q, var_q.sqrt())
        p = torch.distributions.Normal(mean_p, sigma2[t - 1].sqrt())
        p_best = torch.distributions.Normal(mean_q, sigma2[t - 1].sqrt())
        excess = torch.distributions.kl_divergence(q, p) - torch.distributions.kl_divergence(q, p_best)
        torch.testing.assert_close(excess, weights[t - 1] * (eps - eps_theta) ** 2, rtol=1e-6, atol=1e-12)
    assert math.isinf(ddpm.elbo_weights(schedule, "beta_tilde")[0].item())  # t = 1 is the decoder term L_0
    with pytest.raises(ValueError, match="variance"):
        ddpm.elbo_weights(schedule, "learned")


@pytest.mark.parametrize("variance, diffusers_name", [("beta_tilde", "fixed_small"), ("beta", "fixed_large")])
@pytest.mark.parametrize("clip", [False, True])
def test_ddpm_step_matches_diffusers_for_both_variances(variance, diffusers_name, clip):
    from diffusers import DDPMScheduler

    T = 1000
    theirs = DDPMScheduler(num_train_timesteps=T, beta_schedule="squaredcos_cap_v2", clip_sample=clip,
                           variance_type=diffusers_name)
    schedule = NoiseSchedule.cosine(T)
    torch.manual_seed(0)
    x, eps = 2 * torch.randn(4, 1, 8, 8), torch.randn(4, 1, 8, 8)
    # diffusers' index k is our step t = k + 1; k = 0 adds no noise. diffusers works in float32, and at
    # k = 999 and k = 1 its ratios of cumulative products lose up to 2e-3 (our float32 result stays within
    # 3e-5 of our float64 one), so those steps get a looser tolerance.
    for k, atol in ((998, 5e-5), (990, 5e-5), (600, 5e-5), (10, 5e-5), (999, 3e-3), (1, 3e-3), (0, 5e-5)):
        expected = theirs.step(eps, k, x, generator=torch.Generator().manual_seed(k)).prev_sample
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(k))
        ours = ddpm.ddpm_step(x, k + 1, eps, schedule, variance=variance, noise=noise, clip_x0=clip)
        torch.testing.assert_close(ours, expected, atol=atol, rtol=1e-4)
        exact = ddpm.ddpm_step(x.double(), k + 1, eps.double(), schedule, variance=variance, noise=noise.double(),
                               clip_x0=clip)
        torch.testing.assert_close(ours.double(), exact, atol=3e-5, rtol=0)


def test_ddpm_step_with_beta_tilde_is_the_eta_one_reverse_step():
    schedule = NoiseSchedule.linear(1000)
    x, eps, noise = (torch.randn(3, 5, dtype=torch.float64) for _ in range(3))
    for t in (1000, 400, 2, 1):
        for clip in (False, True):
            torch.testing.assert_close(
                ddpm.ddpm_step(x, t, eps, schedule, noise=noise, clip_x0=clip),
                ddpm.reverse_step(x, t, t - 1, eps, schedule, eta=1.0, noise=noise, clip_x0=clip))
    with pytest.raises(ValueError, match="variance"):
        ddpm.ddpm_step(x, 5, eps, schedule, variance="large")


@pytest.mark.parametrize("variance", ["beta_tilde", "beta"])
def test_both_ddpm_variances_sample_a_gaussian_with_the_exact_denoiser(variance):
    """Ho et al. report similar results for both choices; with the exact denoiser both reproduce the data."""
    schedule = NoiseSchedule.cosine(1000)
    out = ddpm.sample(GaussianOracle(schedule, 0.5, 0.3), schedule, (20_000, 1), ddpm_variance=variance,
                      generator=torch.Generator().manual_seed(0))
    assert abs(out.mean().item() - 0.5) < 0.015 and abs(out.std().item() - 0.3) < 0.01
    with pytest.raises(ValueError, match="all 1000 steps"):
        ddpm.sample(GaussianOracle(schedule, 0.5, 0.3), schedule, (5, 1), ddpm_variance=variance, steps=10)


def test_sample_keeps_a_float64_chain_in_float64():
    """Review finding: sample() used to cast x_T to float32, so float64 experiments ran in float32."""
    schedule = NoiseSchedule.cosine(100)
    x_T = torch.randn(50, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    oracle = GaussianOracle(schedule, 0.5, 0.3)
    out = ddpm.sample(oracle, schedule, x_T.shape, eta=0.0, x_T=x_T)
    assert out.dtype == torch.float64
    # the same chain by hand in float64
    x = x_T.clone()
    for t in range(100, 0, -1):
        x = ddpm.reverse_step(x, t, t - 1, oracle(x, torch.full((50,), t / 100)), schedule)
    torch.testing.assert_close(out, x, rtol=0, atol=1e-12)


# ----------------------------------------------------------------------------------------------------------------
# Inpainting and exact classifier-free guidance
# ----------------------------------------------------------------------------------------------------------------
def test_inpainting_keeps_the_known_entries_and_fills_in_the_rest_consistently():
    """Two modes in 2-D, (-1, -1) and (1, 1): fixing the first coordinate at 1 must select the second mode."""
    schedule = NoiseSchedule.cosine(200)
    oracle = ddpm.GaussianMixtureDenoiser(schedule, torch.tensor([[-1.0, -1.0], [1.0, 1.0]]),
                                          torch.tensor([0.1, 0.1]))
    known = torch.tensor([[1.0, 0.0]])
    mask = torch.tensor([[True, False]])
    out = ddpm.sample(oracle, schedule, (2000, 2), eta=1.0, known=known, mask=mask,
                      generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, 0], torch.ones(2000))
    assert (out[:, 1] > 0).float().mean().item() > 0.99            # the free coordinate follows the fixed one
    assert abs(out[:, 1].mean().item() - 1.0) < 0.05
    free = ddpm.sample(oracle, schedule, (2000, 2), eta=1.0, generator=torch.Generator().manual_seed(0))
    assert 0.4 < (free[:, 1] > 0).float().mean().item() < 0.6       # without the constraint: both modes
    with pytest.raises(ValueError, match="both known"):
        ddpm.sample(oracle, schedule, (5, 2), known=known)
    with pytest.raises(ValueError, match="boolean"):
        ddpm.sample(oracle, schedule, (5, 2), known=known, mask=mask.float())


def test_conditional_mixture_denoiser_is_the_mixture_of_its_class():
    schedule = NoiseSchedule.cosine(100)
    means, stds = torch.tensor([[-1.0], [0.5], [2.0]]), torch.tensor([0.2, 0.3, 0.4])
    weights, labels = torch.tensor([0.2, 0.5, 0.3]), torch.tensor([0, 1, 1])
    full = ddpm.GaussianMixtureDenoiser(schedule, means, stds, weights, labels=labels)
    class1 = ddpm.GaussianMixtureDenoiser(schedule, means[1:], stds[1:], weights[1:] / weights[1:].sum())
    x, time = torch.randn(7, 1, dtype=torch.float64), torch.full((7,), 0.3)
    torch.testing.assert_close(full(x, time, torch.ones(7, dtype=torch.long)), class1(x, time))
    unlabelled = ddpm.GaussianMixtureDenoiser(schedule, means, stds, weights)
    torch.testing.assert_close(full(x, time), unlabelled(x, time))
    with pytest.raises(ValueError, match="no labels"):
        unlabelled(x, time, torch.zeros(7, dtype=torch.long))
    with pytest.raises(ValueError, match="one of the labels"):
        full(x, time, torch.full((7,), 5))


def test_guidance_with_exact_predictions_overshoots_the_tilted_distribution():
    """CFG with w > 1 does not sample p(x) p(y|x)^w (chapter 4): with exact predictions the guided
    sampler's mean lies well beyond the mean of that tilted distribution, while w = 1 samples p(x|y)."""
    schedule = NoiseSchedule.cosine(1000)
    oracle = ddpm.GaussianMixtureDenoiser(schedule, torch.tensor([[-0.75], [0.75]]), torch.tensor([1.0, 1.0]),
                                          labels=torch.tensor([0, 1]))
    n, w = 4000, 3.0
    y = torch.zeros(n, dtype=torch.long)
    grid = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    p0, p1 = torch.exp(-0.5 * (grid + 0.75) ** 2), torch.exp(-0.5 * (grid - 0.75) ** 2)
    tilted = (0.5 * p0 + 0.5 * p1) * (p0 / (p0 + p1)) ** w
    tilted_mean = (grid * tilted).sum() / tilted.sum()
    for weight, target in ((1.0, -0.75), (w, tilted_mean.item())):
        out = ddpm.sample(oracle, schedule, (n, 1), steps=100, eta=1.0, y=y, w=weight,
                          generator=torch.Generator().manual_seed(1)).squeeze(1)
        gap = out.mean().item() - target
        if weight == 1.0:
            assert abs(gap) < 6 * out.std().item() / math.sqrt(n)
        else:
            assert gap < -10 * out.std().item() / math.sqrt(n)      # pushed further than the tilted target

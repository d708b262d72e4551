"""GAN losses, the gradient penalty, the optimal discriminator, the networks and the training step (chapter 8)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.spatial.distance import jensenshannon
from scipy.special import xlogy
from scipy.stats import norm

from genai_foundations.algorithms import gans
from genai_foundations.architectures.gan_networks import (DCGANDiscriminator, DCGANGenerator, EnsembleLinear,
                                                          MLPDiscriminator, MLPGenerator, count_parameters,
                                                          layer_table)

torch.set_num_threads(1)


def _logits(dtype=torch.float64):
    gen = torch.Generator().manual_seed(0)
    extreme = torch.tensor([0.0, 1e-8, -1e-8, 1000.0, -1000.0, 30.0, -30.0], dtype=dtype)
    return torch.cat([extreme, 4 * torch.randn(25, generator=gen, dtype=dtype)])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_losses_equal_bce_with_logits_values_and_gradients(dtype):
    real, fake = _logits(dtype), _logits(dtype).flip(0)
    pairs = [
        (lambda r, f: gans.discriminator_loss(r, f),
         lambda r, f: F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
         + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))),
        (lambda r, f: gans.generator_loss_saturating(f),
         lambda r, f: -F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))),
        (lambda r, f: gans.generator_loss_nonsaturating(f),
         lambda r, f: F.binary_cross_entropy_with_logits(f, torch.ones_like(f))),
    ]
    for ours, theirs in pairs:
        r1, f1 = real.clone().requires_grad_(), fake.clone().requires_grad_()
        r2, f2 = real.clone().requires_grad_(), fake.clone().requires_grad_()
        a, b = ours(r1, f1), theirs(r2, f2)
        assert torch.isfinite(a) and torch.allclose(a, b, rtol=1e-6, atol=1e-6)
        a.backward()
        b.backward()
        for g1, g2 in ((r1.grad, r2.grad), (f1.grad, f2.grad)):
            if g2 is None:
                assert g1 is None or torch.all(g1 == 0)
            else:
                # float32: PyTorch's sigma(l) - y loses the tail that softplus keeps, hence the looser bound
                tol = dict(rtol=1e-6, atol=1e-12) if dtype == torch.float64 else dict(rtol=1e-4, atol=1e-7)
                assert torch.isfinite(g1).all() and torch.allclose(g1, g2, **tol)


def test_generator_losses_differ_but_share_the_direction():
    logits = torch.linspace(-8, 8, 33, dtype=torch.float64, requires_grad=True)
    gans.generator_loss_saturating(logits).backward()
    sat = logits.grad.clone()
    logits.grad = None
    gans.generator_loss_nonsaturating(logits).backward()
    ns = logits.grad.clone()
    n = len(logits)
    assert torch.allclose(sat, -torch.sigmoid(logits.detach()) / n)          # vanishes as D(G(z)) -> 0
    assert torch.allclose(ns, -(1 - torch.sigmoid(logits.detach())) / n)     # largest there
    assert torch.all(sat < 0) and torch.all(ns < 0)                          # both push D(G(z)) up
    assert ns[0] / sat[0] > 1000


def test_worked_batch_of_five():
    d_real = torch.tensor([0.9, 0.8, 0.95, 0.7, 0.85], dtype=torch.float64)
    d_fake = torch.tensor([0.1, 0.2, 0.05, 0.3, 0.15], dtype=torch.float64)
    d_fake_g = torch.tensor([0.4, 0.5, 0.45, 0.55, 0.6], dtype=torch.float64)
    logit = lambda p: torch.log(p) - torch.log1p(-p)
    real_part = -sum(math.log(p) for p in d_real.tolist()) / 5
    fake_part = -sum(math.log(1 - p) for p in d_fake.tolist()) / 5
    assert math.isclose(real_part, fake_part)                                # the two halves mirror each other
    assert math.isclose(gans.discriminator_loss(logit(d_real), logit(d_fake)).item(), real_part + fake_part)
    assert math.isclose(real_part + fake_part, 0.35960, abs_tol=5e-5)
    ns = gans.generator_loss_nonsaturating(logit(d_fake_g)).item()
    assert math.isclose(ns, F.binary_cross_entropy(d_fake_g, torch.ones(5, dtype=torch.float64)).item())
    assert math.isclose(ns, 0.70332, abs_tol=5e-5)
    assert math.isclose(gans.generator_loss_saturating(logit(d_fake_g)).item(), -ns)   # symmetric around 1/2


def test_lsgan_and_wgan_losses():
    gen = torch.Generator().manual_seed(1)
    r, f = torch.randn(50, generator=gen), torch.randn(50, generator=gen)
    assert torch.allclose(gans.lsgan_discriminator_loss(r, f),
                          0.5 * F.mse_loss(r, torch.ones_like(r)) + 0.5 * F.mse_loss(f, torch.zeros_like(f)))
    assert torch.allclose(gans.lsgan_generator_loss(f), 0.5 * F.mse_loss(f, torch.ones_like(f)))
    assert torch.allclose(gans.wgan_critic_loss(r, f), f.mean() - r.mean())
    assert torch.allclose(gans.wgan_generator_loss(f), -f.mean())
    with pytest.raises(TypeError):
        gans.discriminator_loss(torch.tensor([1, 2]), torch.tensor([0.5]))


class QuadraticCritic(torch.nn.Module):
    """f(x) = a.x + x^T A x / 2 with A symmetric: its gradient a + A x is known in closed form."""

    def __init__(self, dim, gen):
        super().__init__()
        m = torch.randn(dim, dim, generator=gen, dtype=torch.float64)
        self.A = torch.nn.Parameter((m + m.T) / 2)
        self.a = torch.nn.Parameter(torch.randn(dim, generator=gen, dtype=torch.float64))

    def forward(self, x):
        flat = x.flatten(1)
        return flat @ self.a + 0.5 * ((flat @ self.A) * flat).sum(1)


def test_gradient_penalty_equals_closed_form_and_finite_differences():
    gen = torch.Generator().manual_seed(2)
    critic = QuadraticCritic(6, gen)
    real = torch.randn(9, 2, 3, generator=gen, dtype=torch.float64)
    fake = torch.randn(9, 2, 3, generator=gen, dtype=torch.float64)
    eps = torch.rand(9, generator=gen, dtype=torch.float64)
    ours = gans.gradient_penalty(critic, real, fake, eps)
    x_hat = (eps[:, None, None] * real + (1 - eps[:, None, None]) * fake).flatten(1)
    with torch.no_grad():
        grads = critic.a + x_hat @ critic.A
        expected = ((grads.norm(dim=1) - 1) ** 2).mean()
    assert torch.allclose(ours, expected, rtol=1e-10)
    # central finite differences of the critic give the same norms
    h, fd = 1e-6, torch.zeros_like(x_hat)
    with torch.no_grad():
        for j in range(x_hat.shape[1]):
            step = torch.zeros_like(x_hat)
            step[:, j] = h
            fd[:, j] = (critic((x_hat + step).reshape(9, 2, 3)) - critic((x_hat - step).reshape(9, 2, 3))) / (2 * h)
    assert torch.allclose(((fd.norm(dim=1) - 1) ** 2).mean(), expected, rtol=1e-6)


def test_gradient_penalty_trains_the_critic_create_graph():
    # a linear critic f(x) = w.x has gradient w everywhere: GP = (|w| - 1)^2, d GP / dw = 2 (|w| - 1) w / |w|
    critic = torch.nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[2.0, -1.0, 0.5]], dtype=torch.float64))
    gen = torch.Generator().manual_seed(3)
    real, fake = torch.randn(7, 3, generator=gen, dtype=torch.float64), torch.randn(7, 3, generator=gen, dtype=torch.float64)
    fake.requires_grad_()
    gp = gans.gradient_penalty(lambda x: critic(x).squeeze(1), real, fake, generator=gen)
    w = critic.weight.detach()[0]
    assert torch.allclose(gp, (w.norm() - 1) ** 2)
    gp.backward()
    assert torch.allclose(critic.weight.grad[0], 2 * (w.norm() - 1) * w / w.norm())
    assert fake.grad is None                                                   # the penalty trains the critic only
    # members side by side: the norm is per member and per example
    m_real, m_fake = torch.randn(2, 5, 2, generator=gen), torch.randn(2, 5, 2, generator=gen)
    scale = torch.tensor([3.0, 0.5])[:, None]
    gp2 = gans.gradient_penalty(lambda x: x[..., 0] * scale, m_real, m_fake,
                                sample_dims=2)
    assert torch.allclose(gp2, torch.tensor(((3 - 1) ** 2 + (0.5 - 1) ** 2) / 2))
    with pytest.raises(ValueError):
        gans.gradient_penalty(lambda x: critic(x), real, fake.detach())          # (B, 1) is not one score per example


def test_optimal_discriminator_on_a_grid():
    x = np.linspace(-6, 6, 4001)
    dx = x[1] - x[0]
    p_data, p_g = norm.pdf(x, -1.0, 1.0), norm.pdf(x, 1.5, 0.7)
    d_star = gans.optimal_discriminator(torch.from_numpy(p_data), torch.from_numpy(p_g)).numpy()
    # pointwise, a log D + b log(1 - D) over a grid of D values peaks at a / (a + b)
    d_grid = np.linspace(1e-4, 1 - 1e-4, 20001)
    for i in range(0, len(x), 250):
        value = p_data[i] * np.log(d_grid) + p_g[i] * np.log1p(-d_grid)
        assert abs(d_grid[np.argmax(value)] - d_star[i]) < 2e-4
    # V(D*, G) = -log 4 + 2 JSD(p_data, p_g), with the JSD from scipy
    one_minus = gans.optimal_discriminator(torch.from_numpy(p_g), torch.from_numpy(p_data)).numpy()  # 1 - D*, no cancellation
    assert np.allclose(d_star + one_minus, 1)
    value = np.sum(xlogy(p_data, d_star) + xlogy(p_g, one_minus)) * dx
    jsd = jensenshannon(p_data, p_g) ** 2
    assert abs(value - (-math.log(4) + 2 * jsd)) < 1e-6
    # p_g = p_data gives 1/2 everywhere, and both zero gives 1/2
    assert torch.allclose(gans.optimal_discriminator(torch.ones(3), torch.ones(3)), torch.full((3,), 0.5))
    assert gans.optimal_discriminator(torch.zeros(1), torch.zeros(1)).item() == 0.5
    with pytest.raises(ValueError):
        gans.optimal_discriminator(torch.ones(2), -torch.ones(2))


def test_mode_coverage_on_known_samples():
    centres = gans.ring_centres(8, 2.0)
    gen = torch.Generator().manual_seed(4)
    on_three = centres[torch.randint(3, (900,), generator=gen)] + 0.05 * torch.randn(900, 2, generator=gen)
    far = torch.zeros(100, 2)                                                    # the centre of the ring
    report = gans.mode_coverage(torch.cat([on_three, far]), centres, std=0.05)
    assert report.covered == 3 and report.counts[3:] == (0,) * 5
    assert 0.88 < report.high_quality <= 0.90                                    # 3 sigma holds 98.9% in 2-D
    with pytest.raises(ValueError):
        gans.mode_coverage(torch.zeros(4, 3), centres, std=0.05)


def test_ensemble_members_are_independent_linear_layers():
    layer = EnsembleLinear(3, 4, 5)
    x = torch.randn(3, 7, 4)
    out = layer(x)
    for m in range(3):
        assert torch.allclose(out[m], F.linear(x[m], layer.weight[m].T, layer.bias[m, 0]), atol=1e-6)
    g, d = MLPGenerator(2, 2, 16, 2), MLPDiscriminator(2, 16, 2, members=2)
    assert g(torch.randn(5, 2)).shape == (5, 2) and d(torch.randn(2, 5, 2)).shape == (2, 5)
    with pytest.raises(ValueError):
        d(torch.randn(5, 2))


def test_dcgan_parameter_counts_of_the_64x64_table():
    gen_net, disc_net = DCGANGenerator(100), DCGANDiscriminator(1)
    convs = lambda m: [count_parameters(x) for x in m.net if isinstance(x, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert convs(disc_net) == [1024, 131072, 524288, 2097152, 8192]
    assert convs(gen_net) == [819200, 2097152, 524288, 131072, 1024]
    bns = [x for x in gen_net.net if isinstance(x, torch.nn.BatchNorm2d)]
    assert [count_parameters(x, with_running_stats=True) for x in bns] == [2048, 1024, 512, 256]   # Keras' count
    assert [count_parameters(x) for x in bns] == [1024, 512, 256, 128]                            # trainable
    rows = layer_table(disc_net, torch.zeros(2, 1, 64, 64))
    assert [r["shape"] for r in rows if r["layer"] == "Conv2d"] == [(64, 32, 32), (128, 16, 16), (256, 8, 8),
                                                                    (512, 4, 4), (1, 1, 1)]
    assert gen_net(torch.randn(2, 100)).shape == (2, 1, 64, 64)
    assert disc_net(torch.randn(2, 1, 64, 64)).shape == (2,)


def test_conditional_dcgan_for_digits():
    g = DCGANGenerator(16, (32,), extra_layers=1, num_classes=10)
    d = DCGANDiscriminator(1, (32,), extra_layers=1, num_classes=10)
    y = torch.tensor([0, 3, 9])
    x = g(torch.randn(3, 16), y)
    assert x.shape == (3, 1, 8, 8) and x.abs().max() <= 1
    assert d(x, y).shape == (3,)
    with pytest.raises(ValueError):
        g(torch.randn(3, 16))
    with pytest.raises(ValueError):
        DCGANDiscriminator(1, (32,))(torch.randn(3, 1, 8, 8), y)


@pytest.mark.parametrize("k", [1, 3])
def test_gan_step_takes_k_discriminator_steps(k):
    torch.manual_seed(0)
    g, d = MLPGenerator(2, 2, 8, 1), MLPDiscriminator(2, 8, 1)
    opt_g, opt_d = torch.optim.Adam(g.parameters()), torch.optim.Adam(d.parameters())
    calls = []

    def real():
        calls.append(1)
        return torch.randn(16, 2)

    g_before = [p.clone() for p in g.parameters()]
    gans.gan_step(g, d, opt_g, opt_d, real, lambda n: torch.randn(n, 2), "non-saturating", k=k)
    assert len(calls) == k
    assert all(s["step"] == k for s in opt_d.state.values())
    assert all(s["step"] == 1 for s in opt_g.state.values())
    assert all(not torch.equal(a, b) for a, b in zip(g_before, g.parameters()))


def test_train_gan_learns_a_gaussian_and_snapshots():
    torch.manual_seed(0)
    g, d = MLPGenerator(1, 1, 16, 1), MLPDiscriminator(1, 16, 1)
    gen = torch.Generator().manual_seed(0)
    history = gans.train_gan(g, d, lambda: 3 + 0.5 * torch.randn(64, 1, generator=gen),
                             lambda n: torch.randn(n, 1, generator=gen), 400, "non-saturating", lr=5e-3,
                             snapshot_every=200, snapshot=lambda step: step)
    with torch.no_grad():
        samples = g(torch.randn(2000, 1, generator=gen))
    assert abs(samples.mean().item() - 3) < 0.3
    assert list(history.snapshots) == [0, 200, 400] and len(history.g_losses) == 400
    with pytest.raises(ValueError):
        gans.train_gan(g, d, lambda: torch.randn(4, 1), lambda n: torch.randn(n, 1), 0)


def test_decision_grid_shape_and_range():
    d = MLPDiscriminator(2, 8, 1, members=2)
    grid = gans.decision_grid(d, resolution=11, member=1)
    assert grid.shape == (11, 11) and (0 <= grid).all() and (grid <= 1).all()
    with pytest.raises(ValueError):
        gans.decision_grid(d, resolution=11)


def test_sgd_gan_step_matches_torch_optim_sgd():
    torch.manual_seed(5)
    g, d = MLPGenerator(2, 2, 8, 1), MLPDiscriminator(2, 8, 1)
    g2, d2 = MLPGenerator(2, 2, 8, 1), MLPDiscriminator(2, 8, 1)
    g2.load_state_dict(g.state_dict())
    d2.load_state_dict(d.state_dict())
    real, noise = torch.randn(3, 16, 2), torch.randn(4, 16, 2)
    gans.sgd_gan_step(g, d, real, noise, 0.1, "saturating")
    opt_g, opt_d = torch.optim.SGD(g2.parameters(), lr=0.1), torch.optim.SGD(d2.parameters(), lr=0.1)
    batches = iter(real)
    noises = iter(noise)
    gans.gan_step(g2, d2, opt_g, opt_d, lambda: next(batches), lambda n: next(noises), "saturating", k=3)
    for a, b in zip(list(g.parameters()) + list(d.parameters()), list(g2.parameters()) + list(d2.parameters())):
        assert torch.allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError):
        gans.sgd_gan_step(g, d, real, noise[:3], 0.1)

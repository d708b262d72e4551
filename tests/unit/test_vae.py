"""Tests of the VAE reference (chapter 5): reparameterisation, KL, ELBO pieces, IWAE, the networks."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D
from torch.nn import functional as F

from genai_foundations.algorithms import vae
from genai_foundations.algorithms.vae import SpatialVAE, gaussian_kl, reparameterize, train_autoencoder
from genai_foundations.architectures.autoencoders import ConvVAE, MLPAutoencoder, MLPVAE, layer_table
from genai_foundations.data.circles import disc_fit, make_circles


# ----------------------------------------------------------------------------------------------------------------
# Reparameterisation and the Gaussian KL
# ----------------------------------------------------------------------------------------------------------------
def test_gaussian_kl_matches_torch_distributions_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 3, 2, generator=g, dtype=torch.float64)
    logvar = torch.randn(5, 3, 2, generator=g, dtype=torch.float64)
    ours = gaussian_kl(mu, logvar)
    assert ours.shape == (5,)
    q = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 2)
    p = D.Independent(D.Normal(torch.zeros_like(mu), torch.ones_like(mu)), 2)
    torch.testing.assert_close(ours, D.kl_divergence(q, p))
    # Monte Carlo: E_q[log q(z) - log p(z)] with 100k reparameterised draws, within 5 standard errors.
    z = reparameterize(mu.expand(100_000, *mu.shape), logvar.expand(100_000, *mu.shape), generator=g)
    log_ratio = q.log_prob(z) - p.log_prob(z)  # (N, 5)
    mc, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(z.shape[0])
    assert ((mc - ours).abs() < 5 * se + 1e-9).all()


def test_gaussian_kl_is_zero_at_the_prior_and_positive_elsewhere():
    zeros = torch.zeros(4, 7)
    torch.testing.assert_close(gaussian_kl(zeros, zeros), torch.zeros(4))
    assert (gaussian_kl(zeros + 0.1, zeros) > 0).all() and (gaussian_kl(zeros, zeros - 0.3) > 0).all()
    # one dimension by hand: mu = 1, sigma^2 = e  ->  -1/2 (1 + 1 - 1 - e) = (e - 1) / 2
    assert math.isclose(gaussian_kl(torch.ones(1, 1), torch.ones(1, 1)).item(), (math.e - 1) / 2, rel_tol=1e-6)


def test_reparameterized_sample_has_the_right_mean_and_covariance():
    g = torch.Generator().manual_seed(1)
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    logvar = torch.tensor([0.0, math.log(4.0), math.log(0.25)], dtype=torch.float64)
    n = 200_000
    z = reparameterize(mu.expand(n, 3), logvar.expand(n, 3), generator=g)
    se = logvar.exp().sqrt() / math.sqrt(n)
    assert ((z.mean(0) - mu).abs() < 5 * se).all()
    cov = torch.cov(z.T)
    torch.testing.assert_close(cov.diagonal(), logvar.exp(), rtol=0.02, atol=0)
    off = cov - torch.diag(cov.diagonal())
    assert off.abs().max() < 0.03


def test_reparameterize_uses_the_given_noise_and_passes_gradients():
    mu = torch.tensor([[0.5, -1.0]], requires_grad=True)
    logvar = torch.tensor([[0.2, -0.4]], requires_grad=True)
    eps = torch.tensor([[1.5, -0.7]])
    z = reparameterize(mu, logvar, noise=eps)
    torch.testing.assert_close(z, mu + torch.exp(0.5 * logvar) * eps)
    z.sum().backward()
    torch.testing.assert_close(mu.grad, torch.ones_like(mu))  # dz/dmu = 1
    torch.testing.assert_close(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)  # dz/dlogvar = sigma eps / 2
    # the same generator seed gives the same draw; rsample of torch.distributions has the same gradient
    a = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(3))
    b = reparameterize(mu, logvar, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)


def test_reparameterized_gradient_matches_the_analytic_one():
    # d/dmu E[z^2] = 2 mu and d/dlogvar E[z^2] = sigma^2 (since E[z^2] = mu^2 + sigma^2)
    mu = torch.tensor([0.7], dtype=torch.float64, requires_grad=True)
    logvar = torch.tensor([math.log(0.5)], dtype=torch.float64, requires_grad=True)
    n = 400_000
    z = reparameterize(mu.expand(n), logvar.expand(n), generator=torch.Generator().manual_seed(2))
    z.pow(2).mean().backward()
    assert abs(mu.grad.item() - 1.4) < 0.01 and abs(logvar.grad.item() - 0.5) < 0.01


def test_reparameterize_and_kl_reject_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        reparameterize(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="noise"):
        reparameterize(torch.zeros(2, 3), torch.zeros(2, 3), noise=torch.zeros(3))
    with pytest.raises(ValueError, match="batch"):
        gaussian_kl(torch.tensor(0.0), torch.tensor(0.0))


# ----------------------------------------------------------------------------------------------------------------
# The spatial VAE (first stage of latent diffusion)
# ----------------------------------------------------------------------------------------------------------------
def test_spatial_vae_shapes():
    torch.manual_seed(0)
    model = SpatialVAE(in_channels=1, channels=(32, 64), latent_channels=4)
    x = torch.rand(3, 1, 28, 28) * 2 - 1
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 4, 7, 7)
    assert model.decode(mu).shape == (3, 1, 28, 28)
    x_hat, mu2, logvar2 = model(x, generator=torch.Generator().manual_seed(0))
    assert x_hat.shape == x.shape and mu2.shape == (3, 4, 7, 7)
    assert model.latent_channels == 4
    assert model.latent_shape((1, 28, 28)) == (4, 7, 7) == model.latent_shape((28, 28))
    assert model.latent_shape((1, 16, 32)) == (4, 4, 8)
    assert model.encode(torch.zeros(2, 1, 16, 32))[0].shape == (2, 4, 4, 8)
    rgb = SpatialVAE(in_channels=3, channels=(16, 32), latent_channels=2)
    assert rgb.decode(rgb.encode(torch.zeros(1, 3, 12, 8))[0]).shape == (1, 3, 12, 8)


def test_spatial_vae_rejects_bad_sizes():
    model = SpatialVAE()
    with pytest.raises(ValueError, match="multiples of 4"):
        model.latent_shape((1, 30, 28))
    with pytest.raises(ValueError, match="multiples of 4"):
        model.encode(torch.zeros(1, 1, 26, 28))
    with pytest.raises(ValueError, match="latents"):
        model.decode(torch.zeros(1, 3, 7, 7))
    with pytest.raises(ValueError, match="channels"):
        SpatialVAE(channels=(32,))


def test_spatial_vae_learns_to_reconstruct_a_batch():
    torch.manual_seed(0)
    model = SpatialVAE(channels=(8, 16), latent_channels=2)
    grid = torch.arange(12.0)
    centres = torch.randint(2, 10, (8, 2)).float()  # a bright disc at a random place in each image
    d2 = (grid[None, :, None] - centres[:, 0, None, None]) ** 2 + (grid[None, None, :] - centres[:, 1, None, None]) ** 2
    x = torch.where(d2 < 6, 1.0, -1.0)[:, None]
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)

    def loss_fn():
        x_hat, mu, logvar = model(x, generator=g)
        return ((x_hat - x) ** 2).flatten(1).sum(1).mean() + 0.01 * gaussian_kl(mu, logvar).mean()

    first = loss_fn().item()
    for _ in range(80):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


# ----------------------------------------------------------------------------------------------------------------
# Decoders, the ELBO and the importance-weighted bound
# ----------------------------------------------------------------------------------------------------------------
def test_decoder_log_likelihoods_match_torch():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64) * 5
    x = (torch.rand(6, 1, 4, 4, generator=g) > 0.5).double()
    expected = D.Independent(D.Bernoulli(logits=logits), 3).log_prob(x)
    torch.testing.assert_close(vae.bernoulli_log_likelihood(logits, x), expected)
    big = torch.tensor([[1000.0, -1000.0]])
    assert torch.isfinite(vae.bernoulli_log_likelihood(big, torch.tensor([[0.0, 1.0]]))).all()
    mean = torch.randn(6, 10, generator=g, dtype=torch.float64)
    y = torch.randn(6, 10, generator=g, dtype=torch.float64)
    expected = D.Independent(D.Normal(mean, 0.3), 1).log_prob(y)
    torch.testing.assert_close(vae.gaussian_log_likelihood(mean, y, sigma=0.3), expected)
    # fixed variance = squared error up to a constant and a scale
    diff = vae.gaussian_log_likelihood(mean, y, 0.3) - vae.gaussian_log_likelihood(y, y, 0.3)
    torch.testing.assert_close(diff, -((y - mean) ** 2).sum(1) / (2 * 0.3**2))
    # an MLP decoder's flat output is matched with images of the same size
    flat = vae.decoder_log_likelihood(logits.flatten(1), x, "bernoulli")
    torch.testing.assert_close(flat, vae.bernoulli_log_likelihood(logits, x))
    with pytest.raises(ValueError, match="likelihood"):
        vae.decoder_log_likelihood(logits, x, "poisson")


def test_log_normal_diag_and_prior_match_torch():
    g = torch.Generator().manual_seed(5)
    mu, logvar, z = (torch.randn(4, 3, 2, generator=g, dtype=torch.float64) for _ in range(3))
    expected = D.Independent(D.Normal(mu, (0.5 * logvar).exp()), 2).log_prob(z)
    torch.testing.assert_close(vae.log_normal_diag(z, mu, logvar), expected)
    torch.testing.assert_close(vae.log_standard_normal(z), vae.log_normal_diag(z, torch.zeros_like(z), torch.zeros_like(z)))


def test_elbo_is_reconstruction_minus_kl_and_vae_loss_matches():
    torch.manual_seed(0)
    model = MLPVAE(12, (16,), 3)
    x = (torch.rand(5, 12) > 0.5).float()
    noise = torch.randn(5, 3)
    mu, logvar = model.encode(x)
    out = model.decode(reparameterize(mu, logvar, noise=noise))
    expected = -F.binary_cross_entropy_with_logits(out, x, reduction="none").sum(1) - gaussian_kl(mu, logvar)
    torch.testing.assert_close(vae.elbo(x, out, mu, logvar), expected)
    loss, parts = vae.vae_loss(model, x, generator=torch.Generator().manual_seed(0), beta=0.5)
    assert loss.dim() == 0 and set(parts) == {"reconstruction", "kl"}
    assert math.isclose(loss.item(), parts["reconstruction"] + 0.5 * parts["kl"], rel_tol=1e-5)


def test_log_mean_exp_is_stable_and_matches_logsumexp():
    a = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    ours = vae.log_mean_exp(a, dim=0)
    theirs = torch.logsumexp(a, dim=0) - math.log(7)
    torch.testing.assert_close(ours, theirs)
    g1, = torch.autograd.grad(ours.sum(), a)
    g2, = torch.autograd.grad(theirs.sum(), a)
    torch.testing.assert_close(g1, g2)                        # the gradient is the softmax of the weights
    huge = torch.tensor([[-2000.0, -2001.0], [1000.0, 999.0]], dtype=torch.float32)
    out = vae.log_mean_exp(huge, dim=1)
    torch.testing.assert_close(out, torch.logsumexp(huge, dim=1) - math.log(2))
    assert vae.log_mean_exp(torch.full((3,), -math.inf)).item() == -math.inf


class LinearGaussianVAE(torch.nn.Module):
    """p(z) = N(0, I), p(x|z) = N(W z + b, s^2 I), q(z|x) = N(A x + c, diag exp(lv)): log p(x) is exact."""

    variational = True

    def __init__(self, g):
        super().__init__()
        f64 = {"dtype": torch.float64}
        self.W, self.b = torch.randn(3, 2, generator=g, **f64), torch.randn(3, generator=g, **f64)
        self.A, self.c = 0.3 * torch.randn(2, 3, generator=g, **f64), 0.1 * torch.randn(2, generator=g, **f64)
        self.lv = torch.tensor([-1.0, -0.5], **f64)
        self.s = 0.5

    def encode(self, x):
        return x @ self.A.T + self.c, self.lv.expand(x.shape[0], 2)

    def decode(self, z):
        return z @ self.W.T + self.b

    def exact_log_likelihood(self, x):
        cov = self.W @ self.W.T + self.s**2 * torch.eye(3, dtype=torch.float64)
        return D.MultivariateNormal(self.b, cov).log_prob(x)


def test_iwae_bound_increases_with_k_and_stays_below_the_exact_log_likelihood():
    g = torch.Generator().manual_seed(6)
    model = LinearGaussianVAE(g)
    x = D.MultivariateNormal(model.b, model.W @ model.W.T + 0.25 * torch.eye(3, dtype=torch.float64)).sample((50,))
    exact = model.exact_log_likelihood(x).mean().item()
    repeats, means, ses = 40, {}, {}
    for k in (1, 5, 50, 500):
        values = torch.stack([vae.iwae_bound(model, x, k, "gaussian", sigma=model.s, generator=g).mean()
                              for _ in range(repeats)])
        means[k], ses[k] = values.mean().item(), values.std().item() / math.sqrt(repeats)
    ks = sorted(means)
    for k1, k2 in zip(ks[:-1], ks[1:]):
        assert means[k2] > means[k1], (k1, k2, means)
    for k in ks:
        assert means[k] < exact + 3 * ses[k] + 1e-9, (k, means[k], exact)
    assert exact - means[500] < 0.1 * (exact - means[1])           # the gap to log p(x) closes with k
    # the importance weights are unbiased for p(x): their mean over many draws is p(x)
    log_w = vae.importance_log_weights(model, x[:3], 200_000, "gaussian", sigma=model.s, generator=g)
    torch.testing.assert_close(vae.log_mean_exp(log_w, 0), model.exact_log_likelihood(x[:3]), atol=0.02, rtol=0)


def test_iwae_with_one_sample_is_the_elbo_and_chunks_do_not_matter():
    model = LinearGaussianVAE(torch.Generator().manual_seed(7))
    x = torch.randn(4, 3, dtype=torch.float64)
    mu, logvar = model.encode(x)
    noise = torch.randn(4, 2, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    one = vae.iwae_bound(model, x, 1, "gaussian", model.s, generator=torch.Generator().manual_seed(8))
    z = reparameterize(mu, logvar, noise=noise)
    # for a Gaussian q the single-sample log-weight differs from the ELBO estimate with analytic KL by a zero-mean term
    log_w = vae.gaussian_log_likelihood(model.decode(z), x, model.s) + vae.log_standard_normal(z) \
        - vae.log_normal_diag(z, mu, logvar)
    torch.testing.assert_close(one, log_w)
    a = vae.iwae_bound(model, x, 250, "gaussian", model.s, generator=torch.Generator().manual_seed(9), chunk=250)
    b = vae.iwae_bound(model, x, 250, "gaussian", model.s, generator=torch.Generator().manual_seed(9), chunk=250)
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="k must be"):
        vae.iwae_bound(model, x, 0)


# ----------------------------------------------------------------------------------------------------------------
# Networks and latent-space tools
# ----------------------------------------------------------------------------------------------------------------
def test_conv_vae_reproduces_the_notes_parameter_table():
    model = ConvVAE()
    table = layer_table(model)
    enc = [(name, n) for name, _, n in table["encoder"] if n]
    dec = [(name, n) for name, _, n in table["decoder"] if n]
    assert [n for _, n in enc] == [3584, 512, 147584, 512, 147584, 512, 147584, 512, 102600, 102600]
    assert [n for _, n in dec] == [102912, 2048] + [147584, 512] * 4 + [3459]
    shapes = [s for _, s, _ in table["encoder"]]
    assert shapes[0] == (128, 16, 16) and (128, 2, 2) in shapes and shapes[-1] == (200,)
    assert table["decoder"][-1][1] == (3, 32, 32)
    # without the BatchNorm statistics the counts are PyTorch's trainable parameters
    assert sum(n for _, _, n in sum(layer_table(model, count_statistics=False).values(), [])) == \
        sum(p.numel() for p in model.parameters())
    out, mu, logvar = model(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 3, 32, 32) and mu.shape == logvar.shape == (2, 200)


def test_mlp_models_shapes_and_errors():
    ae, v = MLPAutoencoder(64, (32,), 3), MLPVAE(64, (32, 16), 2)
    x = torch.rand(5, 1, 8, 8)
    assert ae.encode(x).shape == (5, 3) and ae(x).shape == (5, 64)
    out, mu, logvar = v(x)
    assert out.shape == (5, 64) and mu.shape == logvar.shape == (5, 2)
    with pytest.raises(ValueError, match="64 numbers"):
        v.encode(torch.zeros(2, 10))
    with pytest.raises(ValueError, match="codes"):
        ae.decode(torch.zeros(2, 4))


def test_interpolation_and_attribute_vector():
    z0, z1 = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    path = vae.interpolate(z0, z1, 5)
    assert path.shape == (5, 2)
    torch.testing.assert_close(path[2], torch.tensor([1.5, 1.5]))
    arc = vae.interpolate(z0, z1, 5, kind="spherical")
    torch.testing.assert_close(arc[[0, -1]], torch.stack([z0, z1]))
    torch.testing.assert_close(arc.norm(dim=1), torch.full((5,), 3.0))     # equal norms stay on the circle
    codes = torch.tensor([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [2.0, 0.0]])
    torch.testing.assert_close(vae.attribute_vector(codes, torch.tensor([True, True, False, False])),
                               torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="non-empty"):
        vae.attribute_vector(codes, torch.ones(4, dtype=torch.bool))


def test_circles_are_discs_and_disc_fit_recovers_them():
    data = make_circles(200, generator=torch.Generator().manual_seed(0))
    assert data.images.shape == (200, 1, 16, 16) and data.params.shape == (200, 3)
    assert data.images.min() >= 0 and data.images.max() <= 1
    error, params = disc_fit(data.images)
    assert error.max() < 0.04
    assert (params - data.params).abs().max() < 0.25
    noise_error, _ = disc_fit(torch.rand(20, 1, 16, 16, generator=torch.Generator().manual_seed(1)))
    assert noise_error.min() > 0.3


def test_train_autoencoder_improves_a_vae():
    torch.manual_seed(0)
    data = make_circles(256, generator=torch.Generator().manual_seed(0)).images
    model = MLPVAE(256, (64,), 3)
    history = train_autoencoder(model, data, 150, seed=0, desc="test")
    assert history.final(20) < 0.6 * history.losses[0]
    ae = MLPAutoencoder(256, (64,), 3)
    history = train_autoencoder(ae, data, 150, seed=0, desc="test")
    assert history.final(20) < 0.6 * history.losses[0]

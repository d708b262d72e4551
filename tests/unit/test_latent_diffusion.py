"""Latent diffusion: the latent scale, the codec, training any denoiser, the sampler and the round trip.

Each piece is checked against a closed form or against chapter 4's code it must agree with.
"""

from __future__ import annotations

import math
import time

import pytest
import torch
from torch import nn

from genai_foundations.algorithms import ddpm
from genai_foundations.algorithms import latent_diffusion as ld
from genai_foundations.algorithms.ddpm import NoiseSchedule
from genai_foundations.algorithms.vae import SpatialVAE
from genai_foundations.architectures.unet import UNet


def _vae(seed: int = 0) -> SpatialVAE:
    torch.manual_seed(seed)
    return SpatialVAE(in_channels=1, channels=(8, 8), latent_channels=4).eval()


def _images(n: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_latent_scale_is_one_over_the_std_of_the_mean_latents():
    vae, x = _vae(), _images(10)
    mu = vae.encode(x)[0].detach()
    scale = ld.estimate_latent_scale(vae, x, batch_size=3)                   # batches must not change it
    assert math.isclose(scale, 1 / torch.std(mu.double()).item(), rel_tol=1e-6)
    codec = ld.LatentCodec.fit(vae, x)
    assert codec.latent_shape == (4, 7, 7)
    assert abs(codec.encode(x).double().std().item() - 1) < 1e-5            # (SCALE) makes the entries unit-variance
    assert ld.LATENT_SCALE_STABLE_DIFFUSION == 0.18215
    with pytest.raises(ValueError, match="constant"):
        ld.latent_scale_from_latents(torch.ones(3, 4, 2, 2))
    with pytest.raises(ValueError, match="NaN"):
        ld.latent_scale_from_latents(torch.tensor([1.0, float("nan")]))


def test_codec_encodes_scaled_means_and_decode_undoes_the_scale():
    vae, x = _vae(), _images()
    codec = ld.LatentCodec(vae, 0.5)
    z0 = codec.encode(x)
    with torch.no_grad():
        mu = vae.encode(x)[0]
        assert torch.allclose(z0, 0.5 * mu, atol=1e-6)
        assert torch.allclose(codec.decode(z0), vae.decode(mu), atol=1e-5)   # the scale cancels on the way back
        assert torch.allclose(ld.reconstruct(vae, x, batch_size=4), vae.decode(mu), atol=1e-5)
    assert not z0.requires_grad
    with pytest.raises(ValueError, match="positive"):
        ld.LatentCodec(vae, 0.0)
    with pytest.raises(ValueError, match="latents"):
        codec.decode(torch.zeros(4, 7, 7))


def test_train_denoiser_budgets_and_determinism():
    schedule = NoiseSchedule.cosine(50)
    data = torch.randn(40, 4, 7, 7, generator=torch.Generator().manual_seed(1))

    def run(**budget):
        torch.manual_seed(0)
        model = UNet(in_channels=4, channels=(8, 16), emb_dim=16, groups=4)
        return model, ld.train_denoiser(model, data, schedule, batch_size=8, seed=3, **budget)

    model_a, a = run(steps=6)
    model_b, b = run(steps=6, seconds=1e6)                                   # the step budget binds first
    assert a.steps == 6 and len(a.step_seconds) == 6 and a.seconds > 0
    assert a.losses == b.losses                                              # same seed, same run
    assert all(torch.equal(p, q) for p, q in zip(model_a.parameters(), model_b.parameters()))
    assert not model_a.training
    start = time.perf_counter()
    _, c = run(seconds=0.3)                                                  # the wall-clock budget binds
    assert c.steps >= 1 and c.seconds >= 0.3 and time.perf_counter() - start < 10
    assert c.seconds_per_step() > 0 and math.isfinite(c.final_loss())
    with pytest.raises(ValueError, match="budget"):
        ld.train_denoiser(model_a, data, schedule)
    with pytest.raises(ValueError, match="labels"):
        ld.train_denoiser(model_a, data, schedule, steps=1, labels=torch.zeros(3, dtype=torch.long))


def test_train_denoiser_lowers_the_ddpm_loss_of_a_conditional_model():
    schedule = NoiseSchedule.cosine(100)
    gen = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 2, (64,), generator=gen)
    data = (labels.float() * 2 - 1)[:, None, None, None] + 0.1 * torch.randn(64, 2, 4, 4, generator=gen)
    torch.manual_seed(0)
    model = UNet(in_channels=2, channels=(16,), emb_dim=16, num_classes=2, groups=4)
    run = ld.train_denoiser(model, data, schedule, steps=150, labels=labels, p_uncond=0.2, batch_size=32, lr=3e-3)
    assert run.final_loss(30) < 0.6 * sum(run.losses[:10]) / 10


def test_sampler_is_chapter_4s_sampler_followed_by_the_decoder():
    vae = _vae()
    codec = ld.LatentCodec.fit(vae, _images())
    schedule = NoiseSchedule.cosine(100)
    torch.manual_seed(0)
    denoiser = UNet(in_channels=4, channels=(8,), emb_dim=16, groups=4)
    nn.init.normal_(denoiser.conv_out.weight, std=0.05)                      # not the zero predictor
    z_T = torch.randn(3, 4, 7, 7, generator=torch.Generator().manual_seed(2))
    latents = ld.sample_latents(denoiser, schedule, 3, (4, 7, 7), steps=10, z_T=z_T)
    assert torch.equal(latents, ddpm.sample(denoiser, schedule, (3, 4, 7, 7), steps=10, eta=0.0, x_T=z_T))
    images = ld.sample_images(denoiser, codec, schedule, 3, steps=10, z_T=z_T)
    assert images.shape == (3, 1, 28, 28) and images.abs().max() <= 1
    assert torch.allclose(images, codec.decode(latents).clamp(-1, 1))
    with pytest.raises(ValueError, match="positive"):
        ld.sample_latents(denoiser, schedule, 0, (4, 7, 7))


def test_round_trip_with_the_exact_denoiser_returns_the_latent():
    """One training latent, variance 0: the exact predictor returns the true noise, so z0_hat = z0 (closed form)."""
    vae, x = _vae(), _images(1)
    codec = ld.LatentCodec.fit(vae, _images(6))
    schedule = NoiseSchedule.cosine(100)
    z0 = codec.encode(x)
    exact = ld.ExactLatentDenoiser(schedule, z0, std=0.0)
    noise = torch.randn(z0.shape, generator=torch.Generator().manual_seed(0))
    out = ld.encode_noise_denoise_decode(codec, exact, schedule, x, t=60, noise=noise)
    abar = schedule.alphas_bar[60].item()
    assert torch.allclose(out["z_t"], math.sqrt(abar) * z0 + math.sqrt(1 - abar) * noise, atol=1e-6)  # (CLOSED)
    assert torch.allclose(out["eps_hat"], noise, atol=1e-4)
    assert torch.allclose(out["z0_hat"], z0, atol=1e-4)
    assert torch.allclose(out["x_hat"], codec.decode(z0), atol=1e-4)
    assert out["x_t"].shape == x.shape
    with pytest.raises(ValueError, match="t must be"):
        ld.encode_noise_denoise_decode(codec, exact, schedule, x, t=0)


def test_exact_latent_denoiser_is_the_flattened_mixture_denoiser():
    schedule = NoiseSchedule.cosine(100)
    gen = torch.Generator().manual_seed(0)
    latents, labels = torch.randn(5, 2, 3, 3, generator=gen), torch.tensor([0, 1, 0, 1, 1])
    exact = ld.ExactLatentDenoiser(schedule, latents, labels, std=0.1)
    mixture = ddpm.GaussianMixtureDenoiser(schedule, latents.reshape(5, -1).double(), torch.full((5,), 0.1),
                                           labels=labels)
    x, time_ = torch.randn(4, 2, 3, 3, generator=gen), torch.full((4,), 0.3)
    y = torch.tensor([0, 1, 1, 0])
    assert torch.allclose(exact(x, time_, y), mixture(x.reshape(4, -1), time_, y).reshape(x.shape))
    with pytest.raises(ValueError, match="latents of shape"):
        exact(torch.zeros(4, 18), time_)


def test_forward_flops_counts_a_convolution():
    conv = nn.Conv2d(3, 5, 3, padding=1)

    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = conv

        def forward(self, x, t):
            return self.conv(x)

    assert ld.forward_flops(Wrapped(), torch.zeros(2, 3, 6, 6)) == 2 * 2 * 3 * 5 * 9 * 36
    assert ld.count_parameters(conv) == 3 * 5 * 9 + 5


def test_train_mnist_autoencoder_runs_and_is_seeded():
    a, history = ld.train_mnist_autoencoder(steps=2, batch_size=4, channels=(8, 8))
    b, _ = ld.train_mnist_autoencoder(steps=2, batch_size=4, channels=(8, 8))
    assert len(history.losses) == 2 and not a.training
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    with pytest.raises(ValueError, match="kl_weight"):
        ld.train_mnist_autoencoder(steps=1, kl_weight=-1.0)


def test_latent_loss_at_is_ddpm_loss_on_the_codes_with_the_same_draws():
    from genai_foundations.runtime import randint, randn

    vae, x = _vae(), _images(5)
    codec = ld.LatentCodec.fit(vae, x)
    schedule = NoiseSchedule.cosine(100)
    torch.manual_seed(0)
    denoiser = UNet(in_channels=4, channels=(8,), emb_dim=16, groups=4)
    nn.init.normal_(denoiser.conv_out.weight, std=0.05)
    expected = ddpm.ddpm_loss(denoiser, codec.encode(x), schedule, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(4)
    t = randint(1, schedule.T + 1, (5,), "cpu", gen)
    noise = randn((5, 4, 7, 7), "cpu", gen)
    loss = ld.latent_loss_at(denoiser, codec, x, t, noise, schedule)
    assert torch.allclose(loss, expected, atol=1e-6)
    loss.backward()
    assert denoiser.conv_out.weight.grad is not None
    assert all(p.grad is None for p in vae.parameters())                 # the first stage stays frozen
    with pytest.raises(ValueError, match="one step per image"):
        ld.latent_loss_at(denoiser, codec, x, t[:2], noise, schedule)


def test_with_labels_fixes_the_condition():
    schedule = NoiseSchedule.cosine(100)
    latents = torch.randn(4, 2, 2, 2, generator=torch.Generator().manual_seed(0))
    exact = ld.ExactLatentDenoiser(schedule, latents, torch.tensor([0, 0, 1, 1]), std=0.1)
    y = torch.tensor([1, 0, 1])
    fixed = ld.WithLabels(exact, y)
    x, time_ = torch.randn(3, 2, 2, 2), torch.full((3,), 0.4)
    assert torch.equal(fixed(x, time_), exact(x, time_, y))
    with pytest.raises(ValueError, match="batch of 3"):
        fixed(x[:2], time_[:2])


def test_train_denoiser_ema_loads_the_average_of_the_weights():
    schedule = NoiseSchedule.cosine(50)
    data = torch.randn(16, 2, 4, 4, generator=torch.Generator().manual_seed(1))
    snapshots = []

    def trained(ema):
        torch.manual_seed(0)
        model = UNet(in_channels=2, channels=(8,), emb_dim=16, groups=4)
        ld.train_denoiser(model, data, schedule, steps=3, batch_size=4, ema_decay=ema,
                          callback=lambda step, loss: snapshots.append([p.detach().clone() for p in model.parameters()])
                          if ema is None else None)
        return model

    plain = trained(None)
    averaged = trained(0.5)
    torch.manual_seed(0)
    initial = [p.detach().clone() for p in UNet(in_channels=2, channels=(8,), emb_dim=16, groups=4).parameters()]
    expected = initial
    for k, weights in enumerate(snapshots):                                   # d_k = min(0.5, (1 + k) / (10 + k))
        d = min(0.5, (1 + k) / (10 + k))
        expected = [d * e + (1 - d) * w for e, w in zip(expected, weights)]
    assert all(torch.allclose(p, e, atol=1e-6) for p, e in zip(averaged.parameters(), expected))
    assert not all(torch.equal(p, q) for p, q in zip(plain.parameters(), averaged.parameters()))
    with pytest.raises(ValueError, match="ema_decay"):
        ld.train_denoiser(plain, data, schedule, steps=1, ema_decay=1.0)

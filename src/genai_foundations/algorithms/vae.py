r"""Variational autoencoders (chapter 5): the reparameterised Gaussian encoder and the ELBO.

Notation (chapter 5): data :math:`x`, latent :math:`z \in \mathbb{R}^d`, prior
:math:`p(z) = N(0, I)`, encoder (approximate posterior)
:math:`q_\phi(z | x) = N(\mu_\phi(x), \operatorname{diag}\sigma^2_\phi(x))` given by the
two outputs ``mu`` and ``logvar`` :math:`= \log\sigma^2`, decoder :math:`p_\theta(x | z)`.

* reparameterisation :math:`z = \mu + \sigma \odot \varepsilon`, :math:`\varepsilon \sim N(0, I)`,
  :math:`\sigma = \exp(\tfrac12 \log\sigma^2)` (REPARAM, :func:`reparameterize`),
* closed-form KL to the prior
  :math:`\mathrm{KL}(q \,\|\, N(0, I)) = -\tfrac12 \sum_j (1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2)`
  (KL, :func:`gaussian_kl`),
* decoders: Bernoulli (:func:`bernoulli_log_likelihood`, minus the binary cross-entropy summed over
  pixels) and Gaussian with a fixed variance :math:`\sigma_x^2` (:func:`gaussian_log_likelihood`,
  :math:`-\|x - \hat x\|^2 / (2\sigma_x^2)` plus a constant: the squared error),
* the evidence lower bound
  :math:`\mathrm{ELBO}(x) = \mathbb{E}_{q}[\log p_\theta(x | z)] - \mathrm{KL}(q_\phi(z|x) \,\|\, p(z)) \le \log p_\theta(x)`
  (ELBO, :func:`elbo`, one reparameterised draw; :func:`vae_loss` is its negative batch mean, with an
  optional weight :math:`\beta` on the KL),
* the importance-weighted bound (IWAE, :func:`iwae_bound`)
  :math:`\mathcal{L}_k(x) = \log \tfrac1k \sum_{i=1}^k w_i`,
  :math:`w_i = p_\theta(x | z_i)\, p(z_i) / q_\phi(z_i | x)`, :math:`z_i \sim q_\phi(z|x)`, computed
  from the log-weights (:func:`importance_log_weights`) with a stable :func:`log_mean_exp`;
  :math:`\mathcal{L}_1` is the ELBO and :math:`\mathcal{L}_k \uparrow \log p_\theta(x)` as :math:`k \to \infty`,
* latent-space tools: :func:`interpolate` (linear or spherical) and :func:`attribute_vector`
  (the difference of two groups' mean codes).

Any model with ``encode(x) -> (mu, logvar)`` and ``decode(z) -> output`` works with these
functions; ``output`` is the decoder's Bernoulli logits (``likelihood="bernoulli"``) or its
Gaussian mean (``likelihood="gaussian"``). The networks of the chapter are in
:mod:`genai_foundations.architectures.autoencoders`.

:class:`SpatialVAE` is a convolutional VAE whose latent is itself a small image
(``latent_channels`` x H/4 x W/4): chapter 6 (latent diffusion) uses it as its
*first stage*, the autoencoder whose latents the diffusion model is trained on.
Its interface (constructor arguments, :meth:`SpatialVAE.encode`,
:meth:`SpatialVAE.decode`, ``forward``, :attr:`SpatialVAE.latent_channels`,
:meth:`SpatialVAE.latent_shape`) is kept stable for that chapter's checkpoint.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.architectures.unet import group_norm
from genai_foundations.runtime import randn


# ---------------------------------------------------------------------------------------------------------------
# The Gaussian encoder: reparameterisation and KL to the prior
# ---------------------------------------------------------------------------------------------------------------
def _check_pair(mu: torch.Tensor, logvar: torch.Tensor) -> None:
    if not isinstance(mu, torch.Tensor) or not isinstance(logvar, torch.Tensor):
        raise TypeError("mu and logvar must be tensors")
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    if mu.dim() < 1:
        raise ValueError("mu and logvar need a batch dimension (shape (B, ...))")


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, noise: torch.Tensor | None = None,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """A differentiable sample :math:`z = \\mu + \\exp(\\tfrac12\\log\\sigma^2) \\odot \\varepsilon` (REPARAM).

    ``mu`` and ``logvar`` have the same shape (B, ...). ``noise`` is
    :math:`\\varepsilon` (same shape); when it is ``None`` a standard normal draw
    is made (from ``generator`` if given, see :func:`genai_foundations.runtime.randn`).
    Gradients flow to ``mu`` and ``logvar``; the noise is treated as a constant.
    """
    _check_pair(mu, logvar)
    if noise is None:
        noise = randn(tuple(mu.shape), mu.device, generator, dtype=mu.dtype)
    elif noise.shape != mu.shape:
        raise ValueError(f"noise must have the shape of mu {tuple(mu.shape)}, got {tuple(noise.shape)}")
    return mu + torch.exp(0.5 * logvar) * noise


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-example :math:`\\mathrm{KL}(N(\\mu, \\operatorname{diag}\\sigma^2) \\,\\|\\, N(0, I))` in nats (KL).

    .. math:: -\\tfrac12 \\sum_j \\big(1 + \\log\\sigma_j^2 - \\mu_j^2 - \\sigma_j^2\\big),

    summed over every dimension except the first (batch) one: (B, ...) -> (B,).
    """
    _check_pair(mu, logvar)
    terms = 1 + logvar - mu.pow(2) - logvar.exp()
    return -0.5 * terms.flatten(1).sum(dim=1)


# ---------------------------------------------------------------------------------------------------------------
# Densities, decoders and the ELBO
# ---------------------------------------------------------------------------------------------------------------
LIKELIHOODS = ("bernoulli", "gaussian")
_LOG_2PI = math.log(2 * math.pi)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    r"""Per-example :math:`\log N(z; \mu, \operatorname{diag}\sigma^2)`, summed over all non-batch dims: (B, ...) -> (B,)."""
    _check_pair(mu, logvar)
    if z.shape != mu.shape:
        raise ValueError(f"z must have the shape of mu {tuple(mu.shape)}, got {tuple(z.shape)}")
    terms = -0.5 * (_LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))
    return terms.flatten(1).sum(dim=1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    r"""Per-example :math:`\log N(z; 0, I)` (the prior :math:`p(z)`), summed over all non-batch dims."""
    if z.dim() < 1:
        raise ValueError("z needs a batch dimension (shape (B, ...))")
    return (-0.5 * (_LOG_2PI + z.pow(2))).flatten(1).sum(dim=1)


def bernoulli_log_likelihood(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Per-example :math:`\log p(x | z) = \sum_j x_j \log\sigma(\ell_j) + (1 - x_j)\log(1 - \sigma(\ell_j))`.

    ``logits`` :math:`\ell` (the decoder's output) and ``x`` (values in [0, 1], usually 0/1) have the same
    shape (B, ...); the result is minus the binary cross-entropy summed over all non-batch dims, computed
    from the logits without overflow (:func:`torch.nn.functional.binary_cross_entropy_with_logits`).
    """
    if logits.shape != x.shape:
        raise ValueError(f"logits and x must have the same shape, got {tuple(logits.shape)} and {tuple(x.shape)}")
    return -F.binary_cross_entropy_with_logits(logits, x.to(logits.dtype), reduction="none").flatten(1).sum(dim=1)


def gaussian_log_likelihood(mean: torch.Tensor, x: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    r"""Per-example :math:`\log N(x; \hat x, \sigma_x^2 I) = -\frac{\|x - \hat x\|^2}{2\sigma_x^2} - \frac D2 \log(2\pi\sigma_x^2)`.

    With a fixed ``sigma`` the second term is a constant, so maximising this is minimising the squared
    error (MSE) scaled by :math:`1/(2\sigma_x^2)`, which sets its weight against the KL.
    """
    if mean.shape != x.shape:
        raise ValueError(f"mean and x must have the same shape, got {tuple(mean.shape)} and {tuple(x.shape)}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    sq = (x.to(mean.dtype) - mean).pow(2).flatten(1)
    return -0.5 * sq.sum(dim=1) / sigma**2 - 0.5 * sq.shape[1] * (_LOG_2PI + 2 * math.log(sigma))


def decoder_log_likelihood(output: torch.Tensor, x: torch.Tensor, likelihood: str = "bernoulli",
                           sigma: float = 1.0) -> torch.Tensor:
    """``log p(x | z)`` per example from the decoder's ``output``: Bernoulli logits or a Gaussian mean.

    ``output`` and ``x`` may differ in shape when each example holds the same number of values (an
    MLP decoder's flat (B, D) output for (B, 1, H, W) images): both are then flattened.
    """
    if output.shape != x.shape and output.dim() >= 1 and x.dim() >= 1 and output.shape[0] == x.shape[0] \
            and output[0].numel() == x[0].numel():
        output, x = output.flatten(1), x.flatten(1)
    if likelihood == "bernoulli":
        return bernoulli_log_likelihood(output, x)
    if likelihood == "gaussian":
        return gaussian_log_likelihood(output, x, sigma)
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")


def elbo(x: torch.Tensor, output: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
         likelihood: str = "bernoulli", sigma: float = 1.0) -> torch.Tensor:
    r"""Per-example ELBO (nats): :math:`\log p_\theta(x | z) - \mathrm{KL}(q_\phi(z|x) \,\|\, N(0, I))` (ELBO).

    ``output`` is the decoder's output for one reparameterised draw :math:`z \sim q_\phi(z|x)`, so the
    first term is a one-sample estimate of :math:`\mathbb{E}_q[\log p_\theta(x|z)]`; the KL is exact (KL).
    """
    return decoder_log_likelihood(output, x, likelihood, sigma) - gaussian_kl(mu, logvar)


def vae_loss(model: nn.Module, x: torch.Tensor, likelihood: str = "bernoulli", sigma: float = 1.0,
             beta: float = 1.0, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    r"""The training loss :math:`\frac1B \sum_b \big(-\log p_\theta(x_b|z_b) + \beta\, \mathrm{KL}_b\big)` and its parts.

    ``beta = 1`` is the negative ELBO; ``beta = 0`` leaves a (noisy) autoencoder. Returns
    ``(loss, {"reconstruction": ..., "kl": ...})`` with the two batch means (nats) as floats.
    """
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, generator=generator)
    rec = -decoder_log_likelihood(model.decode(z), x, likelihood, sigma).mean()
    kl = gaussian_kl(mu, logvar).mean()
    return rec + beta * kl, {"reconstruction": float(rec.detach()), "kl": float(kl.detach())}


# ---------------------------------------------------------------------------------------------------------------
# The importance-weighted bound
# ---------------------------------------------------------------------------------------------------------------
def log_mean_exp(values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    r""":math:`\log \frac1k \sum_i e^{a_i}` along ``dim`` without overflow: :math:`m + \log\frac1k\sum_i e^{a_i - m}`, :math:`m = \max_i a_i`.

    The maximum is detached (it cancels exactly), and an all ``-inf`` slice gives ``-inf``.
    """
    if values.dim() == 0:
        raise ValueError("log_mean_exp needs at least one dimension")
    k = values.shape[dim]
    if k == 0:
        raise ValueError("log_mean_exp of an empty dimension")
    m = values.detach().amax(dim=dim, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
    return (m + torch.log(torch.exp(values - m).sum(dim=dim, keepdim=True))).squeeze(dim) - math.log(k)


def importance_log_weights(model: nn.Module, x: torch.Tensor, k: int, likelihood: str = "bernoulli",
                           sigma: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Log importance weights :math:`\log w_i = \log p_\theta(x|z_i) + \log p(z_i) - \log q_\phi(z_i|x)`, shape (k, B).

    The :math:`z_i` are ``k`` independent reparameterised draws from :math:`q_\phi(z | x)`.
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    mu, logvar = model.encode(x)
    b = x.shape[0]
    mu_k = mu.unsqueeze(0).expand(k, *mu.shape).reshape(k * b, *mu.shape[1:])
    logvar_k = logvar.unsqueeze(0).expand(k, *logvar.shape).reshape(k * b, *logvar.shape[1:])
    z = reparameterize(mu_k, logvar_k, generator=generator)
    x_k = x.unsqueeze(0).expand(k, *x.shape).reshape(k * b, *x.shape[1:])
    log_px = decoder_log_likelihood(model.decode(z), x_k, likelihood, sigma)
    log_w = log_px + log_standard_normal(z) - log_normal_diag(z, mu_k, logvar_k)
    return log_w.reshape(k, b)


def iwae_bound(model: nn.Module, x: torch.Tensor, k: int, likelihood: str = "bernoulli", sigma: float = 1.0,
               generator: torch.Generator | None = None, chunk: int = 100) -> torch.Tensor:
    r"""Per-example importance-weighted bound :math:`\mathcal{L}_k(x) = \log\frac1k\sum_i w_i` (IWAE), in nats.

    The ``k`` samples are drawn in chunks of at most ``chunk`` (to bound memory) and combined exactly:
    the log-mean-exp of all ``k`` log-weights. :math:`\mathcal{L}_1` is a one-sample ELBO; for large
    ``k``, :math:`-\mathcal{L}_k` estimates the negative log-likelihood from above (on average).
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if chunk < 1:
        raise ValueError(f"chunk must be positive, got {chunk}")
    parts = [importance_log_weights(model, x, min(chunk, k - start), likelihood, sigma, generator)
             for start in range(0, k, chunk)]
    return log_mean_exp(torch.cat(parts, dim=0), dim=0)


# ---------------------------------------------------------------------------------------------------------------
# Moving around the latent space
# ---------------------------------------------------------------------------------------------------------------
def interpolate(z0: torch.Tensor, z1: torch.Tensor, steps: int, kind: str = "linear") -> torch.Tensor:
    r"""``steps`` codes from ``z0`` to ``z1`` (both ends included): shape (steps, *z0.shape).

    ``kind="linear"``: :math:`(1-t) z_0 + t z_1`. ``kind="spherical"`` (slerp): along the great
    circle between the two directions, with the norm interpolated linearly; under a Gaussian prior
    the midpoint of a linear path has a smaller norm than typical codes, slerp keeps it typical.
    """
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have the same shape, got {tuple(z0.shape)} and {tuple(z1.shape)}")
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device).reshape(-1, *([1] * z0.dim()))
    if kind == "linear":
        return (1 - t) * z0 + t * z1
    if kind != "spherical":
        raise ValueError(f"kind must be 'linear' or 'spherical', got {kind!r}")
    n0, n1 = z0.norm(), z1.norm()
    if n0 == 0 or n1 == 0:
        raise ValueError("spherical interpolation needs non-zero codes")
    u0, u1 = z0 / n0, z1 / n1
    omega = torch.arccos((u0 * u1).sum().clamp(-1 + 1e-7, 1 - 1e-7))
    direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return direction * ((1 - t) * n0 + t * n1)


def attribute_vector(codes: torch.Tensor, has_attribute: torch.Tensor) -> torch.Tensor:
    r"""The mean code of the examples with an attribute minus the mean code of those without it.

    ``codes`` is (N, ...) (e.g. the encoder means), ``has_attribute`` a boolean (N,) mask with both
    groups non-empty. Adding a multiple of the result to a code and decoding edits that attribute
    (latent arithmetic).
    """
    mask = torch.as_tensor(has_attribute, dtype=torch.bool, device=codes.device)
    if mask.shape != codes.shape[:1]:
        raise ValueError(f"has_attribute must be a boolean mask of shape ({codes.shape[0]},), got {tuple(mask.shape)}")
    if mask.all() or not mask.any():
        raise ValueError("both groups (with and without the attribute) must be non-empty")
    return codes[mask].mean(dim=0) - codes[~mask].mean(dim=0)


# ---------------------------------------------------------------------------------------------------------------
# A convolutional VAE with spatial latents (the first stage of latent diffusion, chapter 6)
# ---------------------------------------------------------------------------------------------------------------
class ConvBlock(nn.Module):
    """A residual block without conditioning: ``skip(x) + conv(SiLU(GN(conv(SiLU(GN(x))))))``.

    Like the U-Net's :class:`~genai_foundations.architectures.unet.ResidualBlock`
    without the noise-level embedding; ``skip`` is a 1x1 convolution when the
    channel counts differ.
    """

    def __init__(self, in_channels: int, out_channels: int, groups: int = 8):
        super().__init__()
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.norm2 = group_norm(out_channels, groups)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class SpatialVAE(nn.Module):
    r"""A convolutional VAE whose latent is a ``latent_channels`` x H/4 x W/4 feature map.

    Encoder: a 3x3 convolution to ``channels[0]``, then per entry of
    ``channels`` a :class:`ConvBlock` followed by a stride-2 3x3 convolution
    (the first two entries downsample, so H and W shrink by 4), one more block,
    and a 1x1 convolution to ``2 * latent_channels`` maps (``mu`` and ``logvar``).
    Decoder: the mirror image, with nearest-neighbour upsampling followed by a
    3x3 convolution, ending in a 3x3 convolution to ``in_channels``.

    Images are expected in [-1, 1]. The decoder output is *unbounded* (no tanh):
    it is the mean of a fixed-variance Gaussian decoder, trained with a squared
    error; clamp it to [-1, 1] for display. For a 1 x 28 x 28 image with the
    defaults the latent is 4 x 7 x 7. ``logvar`` is clamped to [-30, 20] so
    that ``exp`` stays finite.
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (32, 64), latent_channels: int = 4,
                 groups: int = 8):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) != 2 or min(channels) < 1:
            raise ValueError(f"channels must be two positive widths (one per downsampling), got {channels}")
        if in_channels < 1 or latent_channels < 1:
            raise ValueError("in_channels and latent_channels must be positive")
        self.in_channels = int(in_channels)
        self.channels = channels
        self.latent_channels = int(latent_channels)
        self.downsampling = 2 ** len(channels)
        c0, c1 = channels
        self.encoder = nn.Sequential(
            nn.Conv2d(in_channels, c0, 3, padding=1),
            ConvBlock(c0, c0, groups), nn.Conv2d(c0, c0, 3, stride=2, padding=1),   # H -> H/2
            ConvBlock(c0, c1, groups), nn.Conv2d(c1, c1, 3, stride=2, padding=1),   # H/2 -> H/4
            ConvBlock(c1, c1, groups),
            group_norm(c1, groups), nn.SiLU(),
            nn.Conv2d(c1, 2 * latent_channels, 1),
        )
        self.decoder = nn.Sequential(
            nn.Conv2d(latent_channels, c1, 3, padding=1),
            ConvBlock(c1, c1, groups),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c1, c1, 3, padding=1),   # H/4 -> H/2
            ConvBlock(c1, c0, groups),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c0, c0, 3, padding=1),   # H/2 -> H
            ConvBlock(c0, c0, groups),
            group_norm(c0, groups), nn.SiLU(),
            nn.Conv2d(c0, in_channels, 3, padding=1),
        )

    def latent_shape(self, image_shape: Sequence[int]) -> tuple[int, int, int]:
        """The latent's (C, H, W) for an image of shape (C, H, W) or (H, W); H and W must be divisible by 4."""
        shape = tuple(int(s) for s in image_shape)
        if len(shape) == 3:
            if shape[0] != self.in_channels:
                raise ValueError(f"expected {self.in_channels} image channels, got shape {shape}")
            shape = shape[1:]
        if len(shape) != 2:
            raise ValueError(f"image_shape must be (C, H, W) or (H, W), got {shape}")
        h, w = shape
        f = self.downsampling
        if h < f or w < f or h % f or w % f:
            raise ValueError(f"height and width must be positive multiples of {f}, got {h} x {w}")
        return (self.latent_channels, h // f, w // f)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, logvar)`` of :math:`q(z | x)`, each (B, latent_channels, H/4, W/4), for ``x`` (B, C, H, W)."""
        if x.dim() != 4:
            raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(x.shape)}")
        self.latent_shape(x.shape[1:])
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder mean (B, in_channels, 4 h, 4 w) for latents ``z`` (B, latent_channels, h, w); unbounded."""
        if z.dim() != 4 or z.shape[1] != self.latent_channels:
            raise ValueError(f"expected latents of shape (B, {self.latent_channels}, h, w), got {tuple(z.shape)}")
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x_hat, mu, logvar)``: encode, draw one reparameterised latent, decode it."""
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, generator=generator)
        return self.decode(z), mu, logvar


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------
def autoencoder_loss(model: nn.Module, x: torch.Tensor, likelihood: str = "bernoulli",
                     sigma: float = 1.0) -> torch.Tensor:
    """A plain autoencoder's loss: the batch mean of ``-log p(x | z = encode(x))`` (BCE or scaled squared error)."""
    output = model.decode(model.encode(x))
    return -decoder_log_likelihood(output, x, likelihood, sigma).mean()


def train_autoencoder(model: nn.Module, data: torch.Tensor, steps: int, *, likelihood: str = "bernoulli",
                      sigma: float = 1.0, beta: float = 1.0, batch_size: int = 128, lr: float = 2e-3,
                      seed: int = 0, desc: str | None = None):
    """Train an autoencoder (``model.variational`` false) or a VAE on ``data`` (N, ...); return the loss History.

    Adam with a cosine-decaying learning rate, random mini-batches from a generator seeded with
    ``seed`` (which also draws the VAE's reparameterisation noise). A VAE minimises
    :func:`vae_loss` (the negative ELBO for ``beta = 1``), an autoencoder :func:`autoencoder_loss`.
    The batches are moved to the model's device; ``data`` may stay on the CPU.
    """
    from genai_foundations.training import batches, fit

    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    stream = batches(data, batch_size=batch_size, generator=generator)
    variational = getattr(model, "variational", True)

    def loss_fn(step: int) -> torch.Tensor:
        x = next(stream)[0].to(device)
        if variational:
            return vae_loss(model, x, likelihood, sigma, beta, generator)[0]
        return autoencoder_loss(model, x, likelihood, sigma)

    model.train()
    history = fit(loss_fn, optimizer, steps, desc=desc or type(model).__name__, scheduler=scheduler)
    model.eval()
    return history

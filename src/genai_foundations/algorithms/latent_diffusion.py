r"""Latent diffusion (Rombach et al., 2022): diffuse in the latent space of a pretrained autoencoder.

Latent diffusion is two models trained one after the other. The first stage
is an autoencoder (chapter 5's :class:`~genai_foundations.algorithms.vae.SpatialVAE`,
a KL-regularised convolutional VAE as in Stable Diffusion) that maps an image
:math:`x` (B, 1, 28, 28) to a *spatial* latent :math:`z` (B, 4, 7, 7) and
back. The second stage is chapter 4's denoising diffusion model, trained on
latents instead of pixels. Notation (chapter 4: data at :math:`t = 0`, noise at
:math:`t = T`, :math:`\bar\alpha_t` the cumulative product):

* encoder mean :math:`\mu_\phi(x)` and decoder :math:`D_\psi(z)` (chapter 5);
* latent scale :math:`s = 1 / \operatorname{std}(\mu_\phi(x))` over all entries of the
  training latents (SCALE, :func:`estimate_latent_scale`; Stable Diffusion's
  0.18215 is this number for its autoencoder);
* encode :math:`z_0 = s\, \mu_\phi(x)` and decode :math:`\hat x = D_\psi(z_0 / s)`
  (CODEC, :class:`LatentCodec`);
* forward process in latent space :math:`z_t = \sqrt{\bar\alpha_t}\, z_0 + \sqrt{1-\bar\alpha_t}\, \varepsilon`
  (chapter 4's (CLOSED), :func:`~genai_foundations.algorithms.ddpm.q_sample`);
* training loss :math:`\mathbb E\, \|\varepsilon - \varepsilon_\theta(z_t, t)\|^2` (chapter 4's (LOSS),
  :func:`~genai_foundations.algorithms.ddpm.ddpm_loss`), for any denoiser
  ``model(z_t, t / T, y)`` (chapter 4's U-Net, chapter 17's DiT): :func:`train_denoiser`,
  with a number of steps or a wall-clock budget;
* sampling: chapter 4's DDPM/DDIM sampler in latent space, then decode
  (:func:`sample_images`);
* the whole round trip encode - noise - denoise - decode at one step t:
  :func:`encode_noise_denoise_decode`.

:func:`train_mnist_autoencoder` trains the first stage deterministically (the
course's committed checkpoint ``"mnist-autoencoder"``). Nothing here knows
whether the denoiser is a U-Net or a transformer; :func:`train_denoiser` also
trains a pixel-space model when given images instead of latents, so the two
can be compared under the same budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.algorithms import ddpm
from genai_foundations.algorithms.ddpm import NoiseSchedule
from genai_foundations.runtime import eval_mode

LATENT_SCALE_STABLE_DIFFUSION = 0.18215
"""Stable Diffusion v1's latent scaling factor: 1 / std of its autoencoder's latents (Rombach et al., 2022)."""


# ---------------------------------------------------------------------------------------------------------------
# The first stage: the autoencoder
# ---------------------------------------------------------------------------------------------------------------
def _check_images(images: torch.Tensor, name: str = "images") -> None:
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"{name} must be a (B, C, H, W) tensor, got {shape}")


def _device_of(model: nn.Module) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


AUTOENCODER_TRAINING = {"steps": 1500, "seed": 0, "batch_size": 32, "lr": 2e-3, "kl_weight": 1e-3}
"""The settings of the committed ``"mnist-autoencoder"`` checkpoint (:func:`mnist_autoencoder_checkpoint`)."""


def train_mnist_autoencoder(device: torch.device | str = "cpu", steps: int = 1500, seed: int = 0,
                            batch_size: int = 32, lr: float = 2e-3, kl_weight: float = 1e-3,
                            channels: tuple[int, ...] = (32, 64), latent_channels: int = 4):
    r"""Train chapter 5's ``SpatialVAE`` on the MNIST subset's train split (4,000 images in [-1, 1]).

    The objective of Stable Diffusion's KL-regularised autoencoder: per image,
    :math:`\|x - D(z)\|^2 + \lambda\, \mathrm{KL}(q(z|x) \,\|\, N(0, I))` with
    :math:`z = \mu + \sigma\odot\varepsilon`, the squared error summed over pixels and
    :math:`\lambda` = ``kl_weight`` small, so that the latent stays close to a
    deterministic code with just enough pull towards the origin to keep its
    scale bounded. It is chapter 5's :func:`~genai_foundations.algorithms.vae.train_autoencoder`
    with a Gaussian decoder of :math:`\sigma_x^2 = 1/2` (which turns
    :math:`-\log p(x|z)` into the summed squared error plus a constant) and
    :math:`\beta = \lambda`. Deterministic for a given seed and device. Returns the
    model (in eval mode) and the loss history.
    """
    from genai_foundations.algorithms.vae import SpatialVAE, train_autoencoder
    from genai_foundations.data.mnist import load_mnist_split

    if steps < 1 or batch_size < 1 or lr <= 0 or kl_weight < 0:
        raise ValueError(f"need steps >= 1, batch_size >= 1, lr > 0 and kl_weight >= 0; got {steps}, {batch_size}, "
                         f"{lr}, {kl_weight}")
    torch.manual_seed(seed)
    images, _ = load_mnist_split("train")
    model = SpatialVAE(in_channels=1, channels=tuple(channels), latent_channels=latent_channels).to(device)
    history = train_autoencoder(model, images, steps, likelihood="gaussian", sigma=math.sqrt(0.5), beta=kl_weight,
                                batch_size=batch_size, lr=lr, seed=seed, desc="MNIST autoencoder")
    model.eval()
    return model, history


def mnist_autoencoder_checkpoint():
    """Train the committed ``"mnist-autoencoder"`` checkpoint (CPU, seeded); return it and its checkpoint config."""
    model, _ = train_mnist_autoencoder("cpu", **AUTOENCODER_TRAINING)
    config = {"model_kwargs": {"in_channels": model.in_channels, "channels": list(model.channels),
                               "latent_channels": model.latent_channels},
              "seed": AUTOENCODER_TRAINING["seed"],
              "training": {"function": f"{train_mnist_autoencoder.__module__}.{train_mnist_autoencoder.__name__}",
                           "kwargs": dict(AUTOENCODER_TRAINING), "device": "cpu", "threads": 1}}
    return model, config


@torch.no_grad()
def reconstruct(autoencoder: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """:math:`D(\\mu(x))` for every image (the mean latent, no sampling), in batches on the model's device; on the CPU."""
    _check_images(images)
    device = _device_of(autoencoder)
    with eval_mode(autoencoder):
        out = [autoencoder.decode(autoencoder.encode(images[i : i + batch_size].to(device))[0]).float().cpu()
               for i in range(0, len(images), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def autoencoder_metrics(autoencoder: nn.Module) -> dict[str, float]:
    """Reconstruction error on the MNIST subset's test split (1,000 images), through the mean latent.

    ``test_mse``: mean squared error per pixel in [-1, 1] units; ``test_psnr``: 10 log10(4 / MSE) dB
    (the peak-to-peak range is 2); ``test_frechet``: Frechet distance of the
    reconstructions to the test images in the committed MNIST classifier's
    features (what a perfect second stage could reach at best).
    """
    from genai_foundations.checkpoints import load_checkpoint
    from genai_foundations.data.mnist import load_mnist_split
    from genai_foundations.evaluation.frechet import MNISTFrechet

    images, _ = load_mnist_split("test")
    x_hat = reconstruct(autoencoder, images)
    mse = float(((x_hat.double() - images.double()) ** 2).mean())
    frechet = MNISTFrechet(load_checkpoint("mnist-classifier"))
    return {"test_mse": mse, "test_psnr": 10 * math.log10(4.0 / mse), "test_frechet": frechet(x_hat.clamp(-1, 1))}


# ---------------------------------------------------------------------------------------------------------------
# The latent scale and the codec
# ---------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def encode_mean(autoencoder: nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """The encoder's mean latents :math:`\\mu_\\phi(x)` (B, C, h, w), in batches, on the images' device."""
    _check_images(images)
    device = _device_of(autoencoder)
    with eval_mode(autoencoder):
        out = [autoencoder.encode(images[i : i + batch_size].to(device))[0]
               for i in range(0, len(images), batch_size)]
    return torch.cat(out).to(images.device)


def latent_scale_from_latents(latents: torch.Tensor) -> float:
    """(SCALE) :math:`s = 1/\\operatorname{std}` of all entries of a latent tensor (unbiased std, in float64).

    Raises ``ValueError`` when the latents are constant (std 0) or not finite.
    """
    if not isinstance(latents, torch.Tensor) or latents.numel() < 2:
        raise ValueError("latents must be a tensor with at least two entries")
    values = latents.detach().double().reshape(-1)
    if not torch.isfinite(values).all():
        raise ValueError("latents contain NaN or infinite values")
    std = float(values.std())
    if std == 0.0:
        raise ValueError("the latents are constant (std 0): no scale makes them unit-variance")
    return 1.0 / std


def estimate_latent_scale(autoencoder: nn.Module, images: torch.Tensor, batch_size: int = 500) -> float:
    """(SCALE) The latent scaling factor :math:`s = 1/\\operatorname{std}(\\mu_\\phi(x))`, estimated from ``images``.

    Diffusion's forward process assumes data of about unit variance: it mixes
    :math:`\\sqrt{\\bar\\alpha_t} z_0` with unit noise, and its sampler starts
    from :math:`N(0, I)`. An encoder's latents have whatever scale training gave
    them; multiplying by :math:`s` makes their entries unit-variance overall
    (one number for all channels, as in Stable Diffusion, so that the
    channels keep their relative scales). Rombach et al. compute it from the
    first batch of latents; here from all of ``images`` through the mean latent.
    """
    return latent_scale_from_latents(encode_mean(autoencoder, images, batch_size))


@dataclass
class LatentCodec:
    """(CODEC) The first stage as diffusion sees it: ``encode(x) = s * mu(x)``, ``decode(z) = D(z / s)``.

    ``autoencoder`` has ``encode(x) -> (mu, logvar)`` and ``decode(z)``
    (chapter 5's ``SpatialVAE``); ``scale`` is :func:`estimate_latent_scale`;
    ``latent_shape`` (C, h, w) is what the sampler draws (set by :meth:`fit`
    and by the first :meth:`encode` when not given).
    Both directions run without gradients, in eval mode, in batches on the
    autoencoder's device; results come back on the device of the input.
    """

    autoencoder: nn.Module
    scale: float
    latent_shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale must be a positive finite number, got {self.scale!r}")
        self.scale = float(self.scale)
        self.latent_shape = tuple(int(v) for v in self.latent_shape)

    @classmethod
    def fit(cls, autoencoder: nn.Module, images: torch.Tensor) -> "LatentCodec":
        """A codec whose scale is estimated from ``images`` (:func:`estimate_latent_scale`)."""
        codec = cls(autoencoder, estimate_latent_scale(autoencoder, images))
        codec.latent_shape = tuple(encode_mean(autoencoder, images[:1]).shape[1:])
        return codec

    def encode(self, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """:math:`z_0 = s\\,\\mu_\\phi(x)`: scaled mean latents (B, C, h, w)."""
        latents = encode_mean(self.autoencoder, images, batch_size) * self.scale
        if not self.latent_shape:
            self.latent_shape = tuple(latents.shape[1:])
        return latents

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
        """:math:`\\hat x = D_\\psi(z_0 / s)`: images (B, C, H, W), not clamped."""
        _check_images(latents, "latents")
        device = _device_of(self.autoencoder)
        with eval_mode(self.autoencoder):
            out = [self.autoencoder.decode(latents[i : i + batch_size].to(device).float() / self.scale)
                   for i in range(0, len(latents), batch_size)]
        return torch.cat(out).to(latents.device)


# ---------------------------------------------------------------------------------------------------------------
# The second stage: training any denoiser on latents (or pixels) for a number of steps or seconds
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class TrainingRun:
    """What :func:`train_denoiser` did: the loss per step, the wall-clock time of each step, and the total."""

    losses: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def steps(self) -> int:
        return len(self.losses)

    def seconds_per_step(self, skip: int = 5) -> float:
        """Median seconds per optimisation step (the first ``skip`` steps, with warm-up costs, left out)."""
        times = self.step_seconds[skip:] if len(self.step_seconds) > skip else self.step_seconds
        if not times:
            raise ValueError("no steps were run")
        return float(torch.tensor(times).median())

    def final_loss(self, window: int = 50) -> float:
        """Mean loss over the last ``window`` steps."""
        if not self.losses:
            raise ValueError("no steps were run")
        tail = self.losses[-window:]
        return sum(tail) / len(tail)


def latent_loss_at(denoiser: nn.Module, codec: LatentCodec, images: torch.Tensor, t: torch.Tensor,
                   noise: torch.Tensor, schedule: NoiseSchedule, y: torch.Tensor | None = None) -> torch.Tensor:
    r"""One evaluation of the latent training loss with given steps ``t`` (B,) and noise (B, C, h, w).

    :math:`z_0 = s\mu_\phi(x)` (no gradient reaches the frozen autoencoder),
    :math:`z_t = \sqrt{\bar\alpha_t} z_0 + \sqrt{1-\bar\alpha_t}\varepsilon`, and
    :math:`\frac{1}{BChw}\sum (\varepsilon_\theta(z_t, t/T) - \varepsilon)^2`: what
    :func:`ddpm.ddpm_loss` computes on ``codec.encode(images)`` when its random
    draws are ``t`` and ``noise`` (the form the exercise grades).
    """
    z0 = codec.encode(images)
    if noise.shape != z0.shape:
        raise ValueError(f"noise must have the latents' shape {tuple(z0.shape)}, got {tuple(noise.shape)}")
    t = torch.as_tensor(t, dtype=torch.long).reshape(-1)
    if t.shape != (len(z0),):
        raise ValueError(f"t must hold one step per image, shape ({len(z0)},), got {tuple(t.shape)}")
    z_t = ddpm.q_sample(z0, t, noise.to(z0.dtype), schedule)
    prediction = denoiser(z_t, t.to(z0.dtype) / schedule.T, y) if y is not None else \
        denoiser(z_t, t.to(z0.dtype) / schedule.T)
    return torch.mean((prediction - noise.to(prediction.dtype)) ** 2)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_denoiser(model: nn.Module, data: torch.Tensor, schedule: NoiseSchedule, *, steps: int | None = None,
                   seconds: float | None = None, labels: torch.Tensor | None = None, p_uncond: float = 0.0,
                   batch_size: int = 128, lr: float = 2e-3, warmup: int = 50, grad_clip: float | None = 1.0,
                   seed: int = 0, desc: str = "denoiser", ema_decay: float | None = None,
                   callback: Callable[[int, float], None] | None = None) -> TrainingRun:
    r"""Train ANY noise predictor ``model(x_t, t / T, y)`` on ``data`` with chapter 4's (LOSS) (:func:`ddpm.ddpm_loss`).

    ``data`` is (N, C, h, w): scaled latents from :meth:`LatentCodec.encode`
    for latent diffusion, or images for pixel-space diffusion (the same code
    trains both, so the two can be compared under one budget). The model can
    be chapter 4's U-Net or chapter 17's DiT; it is trained on the device of
    its parameters (``data`` is moved there).

    Stop after ``steps`` optimisation steps, or after ``seconds`` of wall-clock
    time (the step that crosses the budget is the last one), or at whichever
    comes first when both are given. Adam with a linear warm-up over
    ``warmup`` steps, then a constant rate (a time budget does not know its
    number of steps in advance, so there is no decay), gradient clipping at
    ``grad_clip``. ``labels`` (N,) with ``p_uncond`` train a conditional model
    with label dropout (classifier-free guidance). Batches and noise come from
    one generator seeded with ``seed``; with a step budget the run is
    deterministic on a given device. ``ema_decay`` (e.g. 0.995) keeps an
    exponential moving average of the weights, :math:`\bar\theta \leftarrow d\,\bar\theta + (1-d)\,\theta`
    after every step, and loads it into ``model`` at the end (diffusion models
    are sampled with averaged weights, Ho et al. 2020); the average starts at
    the initial weights with the warm-up correction :math:`d_k = \min(d, (1+k)/(10+k))`.
    ``callback(step, loss)`` runs after every step.
    """
    if steps is None and seconds is None:
        raise ValueError("give a budget: steps (optimisation steps) or seconds (wall-clock time), or both")
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    if seconds is not None and not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    if ema_decay is not None and not 0 < ema_decay < 1:
        raise ValueError(f"ema_decay must lie in (0, 1), got {ema_decay!r}")
    _check_images(data, "data")
    if labels is not None and labels.shape != (len(data),):
        raise ValueError(f"labels must have shape ({len(data)},), got {tuple(labels.shape)}")
    device = _device_of(model)
    generator = torch.Generator(device=device).manual_seed(seed) if device.type == "cuda" else \
        torch.Generator().manual_seed(seed)
    index_generator = torch.Generator().manual_seed(seed + 1)
    data = data.to(device)
    labels = labels.to(device) if labels is not None else None
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: min(1.0, (k + 1) / max(1, warmup)))
    run = TrainingRun()
    averaged = [p.detach().clone() for p in model.parameters()] if ema_decay is not None else None
    model.train()
    start = time.perf_counter()
    step = 0
    from genai_foundations.training import Progress

    total = steps if steps is not None else 10**9
    with Progress(steps if steps is not None else 0, desc, unit="step") as bar:
        while step < total:
            step_start = time.perf_counter()
            index = torch.randint(0, len(data), (min(batch_size, len(data)),), generator=index_generator).to(device)
            y = labels[index] if labels is not None else None
            loss = ddpm.ddpm_loss(model, data[index], schedule, y=y, p_uncond=p_uncond, generator=generator)
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"loss became {value} at step {step}; lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            scheduler.step()
            if averaged is not None:
                decay = min(ema_decay, (1 + step) / (10 + step))
                with torch.no_grad():
                    torch._foreach_lerp_(averaged, [p.detach() for p in model.parameters()], 1 - decay)
            _synchronize(device)
            now = time.perf_counter()
            run.losses.append(value)
            run.step_seconds.append(now - step_start)
            step += 1
            if callback is not None:
                callback(step, value)
            bar.update(loss=sum(run.losses[-50:]) / len(run.losses[-50:]))
            if seconds is not None and now - start >= seconds:
                break
    run.seconds = time.perf_counter() - start
    if averaged is not None:
        with torch.no_grad():
            for p, a in zip(model.parameters(), averaged):
                p.copy_(a)
    model.eval()
    return run


# ---------------------------------------------------------------------------------------------------------------
# Sampling and the round trip
# ---------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def sample_latents(denoiser: nn.Module, schedule: NoiseSchedule, n: int, latent_shape: tuple[int, ...], *,
                   steps: int | None = 50, eta: float = 0.0, y: torch.Tensor | None = None, w: float = 1.0,
                   z_T: torch.Tensor | None = None, generator: torch.Generator | None = None,
                   device: torch.device | str | None = None) -> torch.Tensor:
    """Latents (n, *latent_shape) from chapter 4's sampler (:func:`ddpm.sample`, DDIM for ``eta = 0``), no clipping.

    Latents are not confined to [-1, 1] as pixels are, so :math:`\\hat z_0` is not clamped.
    """
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    return ddpm.sample(denoiser, schedule, (n, *latent_shape), steps=steps, eta=eta, y=y, w=w, x_T=z_T,
                       generator=generator, device=device)


@torch.no_grad()
def sample_images(denoiser: nn.Module, codec: LatentCodec, schedule: NoiseSchedule, n: int, *,
                  steps: int | None = 50, eta: float = 0.0, y: torch.Tensor | None = None, w: float = 1.0,
                  z_T: torch.Tensor | None = None, generator: torch.Generator | None = None,
                  device: torch.device | str | None = None, clamp: bool = True) -> torch.Tensor:
    """Latent diffusion's sampler: draw latents with :func:`sample_latents`, then ``codec.decode`` them.

    Returns images (n, C, H, W), clamped to [-1, 1] with ``clamp``.
    """
    if not codec.latent_shape:
        raise ValueError("the codec does not know its latent shape yet: build it with LatentCodec.fit or encode once")
    latents = sample_latents(denoiser, schedule, n, codec.latent_shape, steps=steps, eta=eta, y=y, w=w, z_T=z_T,
                             generator=generator, device=device)
    images = codec.decode(latents)
    return images.clamp(-1.0, 1.0) if clamp else images


@torch.no_grad()
def encode_noise_denoise_decode(codec: LatentCodec, denoiser: nn.Module, schedule: NoiseSchedule,
                                images: torch.Tensor, t: int, noise: torch.Tensor | None = None,
                                y: torch.Tensor | None = None,
                                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    r"""The five steps at one noise level ``t``, without training: encode, noise, predict, denoise, decode.

    :math:`z_0 = s\mu(x)`; :math:`z_t = \sqrt{\bar\alpha_t} z_0 + \sqrt{1-\bar\alpha_t}\varepsilon`;
    :math:`\hat\varepsilon = \varepsilon_\theta(z_t, t/T)`;
    :math:`\hat z_0 = (z_t - \sqrt{1-\bar\alpha_t}\hat\varepsilon)/\sqrt{\bar\alpha_t}`;
    :math:`\hat x = D(\hat z_0 / s)`. Returns a dict with ``z0``, ``z_t``,
    ``eps_hat``, ``z0_hat`` and ``x_hat`` (and ``x_t``, the decoded noisy latent).
    """
    if not isinstance(t, int) or not 1 <= t <= schedule.T:
        raise ValueError(f"t must be an int in 1..{schedule.T}, got {t!r}")
    z0 = codec.encode(images)
    if noise is None:
        noise = torch.randn(z0.shape, generator=generator).to(z0.device)
    if noise.shape != z0.shape:
        raise ValueError(f"noise must have the latents' shape {tuple(z0.shape)}, got {tuple(noise.shape)}")
    z_t = ddpm.q_sample(z0, t, noise, schedule)
    device = _device_of(denoiser)
    with eval_mode(denoiser):
        eps_hat = denoiser(z_t.to(device), torch.full((len(z_t),), t / schedule.T, device=device),
                           None if y is None else y.to(device)).to(z_t.device, z_t.dtype)
    z0_hat = ddpm.predict_x0(z_t, t, eps_hat, schedule)
    return {"z0": z0, "z_t": z_t, "eps_hat": eps_hat, "z0_hat": z0_hat,
            "x_t": codec.decode(z_t), "x_hat": codec.decode(z0_hat)}


class ExactLatentDenoiser(nn.Module):
    r"""The exact noise predictor of an empirical latent distribution: one narrow Gaussian per training latent.

    Wraps :class:`ddpm.GaussianMixtureDenoiser` for spatial latents
    (B, C, h, w): component k is :math:`N(z^{(k)}, \text{std}^2 I)` with
    :math:`z^{(k)}` the k-th latent of ``latents`` and, with ``labels``, that
    latent's class. No training error: sampling with it returns (noisy copies
    of) training latents, so a decoded sample is a training digit seen through
    the autoencoder. The exercise uses it to test a sampler in seconds.
    """

    def __init__(self, schedule: NoiseSchedule, latents: torch.Tensor, labels: torch.Tensor | None = None,
                 std: float = 0.05):
        super().__init__()
        _check_images(latents, "latents")
        self.latent_shape = tuple(latents.shape[1:])
        flat = latents.detach().double().reshape(len(latents), -1).cpu()
        self.mixture = ddpm.GaussianMixtureDenoiser(schedule, flat, torch.full((len(flat),), float(std)),
                                                    labels=labels)

    def forward(self, x: torch.Tensor, time: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != self.latent_shape:
            raise ValueError(f"expected latents of shape (B, {', '.join(map(str, self.latent_shape))}), "
                             f"got {tuple(x.shape)}")
        return self.mixture(x.reshape(len(x), -1), time, y).reshape(x.shape)


class WithLabels(nn.Module):
    """A conditional denoiser with its labels fixed: ``forward(x, time)`` is ``model(x, time, labels)``.

    For code that calls a denoiser as ``model(x, time)`` only (e.g. a sampler
    written without labels) while every sample should be of a requested class.
    """

    def __init__(self, model: nn.Module, labels: torch.Tensor):
        super().__init__()
        self.model = model
        self.register_buffer("labels", torch.as_tensor(labels, dtype=torch.long).reshape(-1))

    def forward(self, x: torch.Tensor, time: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if y is not None:
            raise ValueError("WithLabels fixes the labels; call it as model(x, time)")
        if len(x) != len(self.labels):
            raise ValueError(f"expected a batch of {len(self.labels)} (one per fixed label), got {len(x)}")
        return self.model(x, time, self.labels)


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def forward_flops(model: nn.Module, example: torch.Tensor, time: float = 0.5) -> int:
    """Floating-point operations of one forward pass on ``example`` (torch's FLOP counter; 2 per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(example, torch.full((len(example),), time, device=example.device))
    return int(counter.get_total_flops())

"""Generative adversarial networks (chapter 8): losses, the training game, and how to score a run.

Notation of the chapter: :math:`G_\\theta(z)` maps latent noise
:math:`z \\sim p_z = \\mathcal N(0, I)` to data space; the discriminator
returns a *logit* :math:`\\ell = \\ell_\\phi(x)` and :math:`D_\\phi(x) = \\sigma(\\ell)`
is its probability that :math:`x` is real. Every loss here takes logits and
is written with ``softplus`` (:math:`\\log(1 + e^{u})`), so that it stays
finite and has the right gradient for any logit:
:math:`-\\log \\sigma(\\ell) = \\operatorname{softplus}(-\\ell)` and
:math:`-\\log(1 - \\sigma(\\ell)) = \\operatorname{softplus}(\\ell)`.

* (D-LOSS) :math:`L_D = -\\tfrac1m\\sum_i \\log D(x_i) - \\tfrac1m\\sum_i \\log(1 - D(G(z_i)))`,
  the negative of the value function :math:`V(D, G)` (Goodfellow et al., 2014).
* (G-SAT) :math:`L_G^{\\text{sat}} = \\tfrac1m\\sum_i \\log(1 - D(G(z_i)))`, the minimax generator loss.
* (G-NS) :math:`L_G^{\\text{ns}} = -\\tfrac1m\\sum_i \\log D(G(z_i))`, the non-saturating loss.
* (LS) least squares (Mao et al., 2017): :math:`\\tfrac12 E[(\\ell(x) - 1)^2] + \\tfrac12 E[\\ell(G(z))^2]`
  for the discriminator and :math:`\\tfrac12 E[(\\ell(G(z)) - 1)^2]` for the generator.
* (W) the WGAN critic loss :math:`E[f(G(z))] - E[f(x)]` and generator loss
  :math:`-E[f(G(z))]` (Arjovsky et al., 2017), with the gradient penalty
  (GP) :math:`\\lambda\\,E_{\\hat x}[(\\lVert \\nabla_{\\hat x} f(\\hat x)\\rVert_2 - 1)^2]`,
  :math:`\\hat x = \\epsilon x + (1 - \\epsilon) G(z)`, :math:`\\epsilon \\sim U[0, 1]` (Gulrajani et al., 2017).
* (OPT-D) for a fixed generator the best discriminator is
  :math:`D^*(x) = p_{\\text{data}}(x) / (p_{\\text{data}}(x) + p_g(x))`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from genai_foundations.training import Progress

__all__ = ["discriminator_loss", "generator_loss_saturating", "generator_loss_nonsaturating",
           "lsgan_discriminator_loss", "lsgan_generator_loss", "wgan_critic_loss", "wgan_generator_loss",
           "interpolate", "gradient_penalty", "optimal_discriminator", "Variant", "VARIANTS", "GANHistory",
           "gan_step", "sgd_gan_step", "train_gan", "ring_centres", "ModeReport", "mode_coverage", "decision_grid"]


def _check_logits(*logits: torch.Tensor) -> None:
    for value in logits:
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise TypeError(f"logits must be floating-point tensors, got {type(value).__name__}")
        if value.numel() == 0:
            raise ValueError("logits must not be empty")


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """(D-LOSS) :math:`-\\overline{\\log D(x)} - \\overline{\\log(1 - D(G(z)))}` from logits.

    Equals ``BCE_with_logits(real, 1) + BCE_with_logits(fake, 0)`` (mean over
    each batch, the two means added). Minimising it maximises :math:`V(D, G)`.
    """
    _check_logits(real_logits, fake_logits)
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss_saturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """(G-SAT) :math:`\\overline{\\log(1 - D(G(z)))} = -\\overline{\\operatorname{softplus}(\\ell)}`, minimised by G.

    Its gradient with respect to a logit is :math:`-\\sigma(\\ell)/m`, which
    vanishes when the discriminator confidently rejects the fakes.
    """
    _check_logits(fake_logits)
    return -F.softplus(fake_logits).mean()


def generator_loss_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """(G-NS) :math:`-\\overline{\\log D(G(z))} = \\overline{\\operatorname{softplus}(-\\ell)}`, minimised by G.

    Equals ``BCE_with_logits(fake, 1)``; its gradient per logit is
    :math:`-(1 - \\sigma(\\ell))/m`, largest exactly where (G-SAT)'s vanishes.
    """
    _check_logits(fake_logits)
    return F.softplus(-fake_logits).mean()


def lsgan_discriminator_loss(real_out: torch.Tensor, fake_out: torch.Tensor) -> torch.Tensor:
    """(LS) :math:`\\tfrac12\\overline{(D(x) - 1)^2} + \\tfrac12\\overline{D(G(z))^2}` on raw outputs (targets b = 1, a = 0)."""
    _check_logits(real_out, fake_out)
    return 0.5 * ((real_out - 1) ** 2).mean() + 0.5 * (fake_out ** 2).mean()


def lsgan_generator_loss(fake_out: torch.Tensor) -> torch.Tensor:
    """(LS) :math:`\\tfrac12\\overline{(D(G(z)) - 1)^2}` (target c = 1)."""
    _check_logits(fake_out)
    return 0.5 * ((fake_out - 1) ** 2).mean()


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """(W) :math:`\\overline{f(G(z))} - \\overline{f(x)}`, minus the critic's estimate of the Wasserstein-1 distance."""
    _check_logits(real_scores, fake_scores)
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """(W) :math:`-\\overline{f(G(z))}`."""
    _check_logits(fake_scores)
    return -fake_scores.mean()


def interpolate(real: torch.Tensor, fake: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """:math:`\\hat x = \\epsilon x + (1 - \\epsilon)\\tilde x`, one :math:`\\epsilon` per example.

    ``eps`` has one entry per example (shape ``real.shape[:k]`` for the ``k``
    leading sample axes) and broadcasts over the remaining axes.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if eps.shape != real.shape[: eps.dim()]:
        raise ValueError(f"eps must have the shape of the leading sample axes of real, got {tuple(eps.shape)} "
                         f"for data {tuple(real.shape)}")
    eps = eps.reshape(*eps.shape, *([1] * (real.dim() - eps.dim()))).to(real.dtype)
    return eps * real + (1 - eps) * fake


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     eps: torch.Tensor | None = None, *, generator: torch.Generator | None = None,
                     sample_dims: int = 1) -> torch.Tensor:
    """(GP) :math:`\\overline{(\\lVert \\nabla_{\\hat x} f(\\hat x)\\rVert_2 - 1)^2}` at random interpolates (without :math:`\\lambda`).

    ``real`` and ``fake`` have shape ``(B, ...)`` (or ``(M, B, ...)`` with
    ``sample_dims = 2`` for a batch of ``M`` networks); ``eps`` holds one
    mixing weight per example (drawn uniformly when ``None``); ``critic(x)``
    returns one score per example. ``fake`` is detached: the penalty trains the
    critic only. The gradient is taken with ``create_graph=True``, so the
    penalty itself can be differentiated with respect to the critic's weights.
    """
    if sample_dims < 1 or sample_dims >= real.dim() + 1:
        raise ValueError(f"sample_dims must lie in 1..{real.dim()}, got {sample_dims}")
    if eps is None:
        eps = torch.rand(real.shape[:sample_dims], generator=generator).to(real.device)
    x_hat = interpolate(real.detach(), fake.detach(), eps).requires_grad_(True)
    scores = critic(x_hat)
    if scores.shape != real.shape[:sample_dims]:
        raise ValueError(f"the critic must return one score per example, shape {tuple(real.shape[:sample_dims])}, "
                         f"got {tuple(scores.shape)}")
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = grad.flatten(sample_dims).norm(dim=-1)
    return ((norms - 1) ** 2).mean()


def optimal_discriminator(p_data: torch.Tensor, p_g: torch.Tensor) -> torch.Tensor:
    """(OPT-D) :math:`D^*(x) = p_{\\text{data}}(x) / (p_{\\text{data}}(x) + p_g(x))` from density values.

    Where both densities vanish the ratio is undefined; the function returns
    1/2 there (any value is optimal, since such points are never seen).
    """
    if p_data.shape != p_g.shape:
        raise ValueError(f"p_data and p_g must have the same shape, got {tuple(p_data.shape)} and {tuple(p_g.shape)}")
    if (p_data < 0).any() or (p_g < 0).any():
        raise ValueError("densities must be non-negative")
    total = p_data + p_g
    return torch.where(total > 0, p_data / total.clamp_min(torch.finfo(total.dtype).tiny), torch.full_like(total, 0.5))


# ---------------------------------------------------------------------------------------------------------------
# The training game
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Variant:
    """A GAN variant: its discriminator and generator losses and the training settings that go with them.

    ``penalty`` is the weight :math:`\\lambda` of (GP) (0: none); ``k`` the
    number of discriminator steps per generator step (Algorithm 1 of
    Goodfellow et al.); ``lr`` and ``betas`` Adam's settings for both players.
    """

    name: str
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    g_loss: Callable[[torch.Tensor], torch.Tensor]
    penalty: float = 0.0
    k: int = 1
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)


VARIANTS: dict[str, Variant] = {
    "saturating": Variant("saturating", discriminator_loss, generator_loss_saturating),
    "non-saturating": Variant("non-saturating", discriminator_loss, generator_loss_nonsaturating),
    "wgan-gp": Variant("wgan-gp", wgan_critic_loss, wgan_generator_loss, penalty=10.0, k=5, lr=2e-4,
                       betas=(0.5, 0.9)),
    "lsgan": Variant("lsgan", lsgan_discriminator_loss, lsgan_generator_loss),
}


def _call(net: Callable, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    return net(x) if y is None else net(x, y)


def _sum_over_members(loss_fn: Callable, *outputs: torch.Tensor, members: int) -> torch.Tensor:
    if members == 1:
        return loss_fn(*outputs)
    return sum(loss_fn(*(o[m] for o in outputs)) for m in range(members))


@dataclass
class GANHistory:
    """Per generator step: the discriminator's last loss and the generator's loss (summed over members)."""

    d_losses: list[float] = field(default_factory=list)
    g_losses: list[float] = field(default_factory=list)
    snapshots: dict[int, object] = field(default_factory=dict)


def gan_step(generator: nn.Module, discriminator: nn.Module, opt_g: torch.optim.Optimizer,
             opt_d: torch.optim.Optimizer, sample_real: Callable[[], torch.Tensor | tuple[torch.Tensor, torch.Tensor]],
             sample_z: Callable[[int], torch.Tensor], variant: Variant | str = "non-saturating",
             k: int | None = None, members: int = 1) -> tuple[float, float]:
    """One iteration of Algorithm 1: ``k`` discriminator updates, then one generator update.

    ``sample_real()`` returns a batch ``x`` (or ``(x, y)`` for a conditional
    GAN, whose fakes then use the same labels); ``sample_z(n)`` returns latent
    noise for ``n`` examples (``(members, n, d)`` for ensembles). Each
    discriminator step uses fresh real data and fresh noise with the
    generator's output detached; the generator step back-propagates through a
    frozen discriminator (its gradients are computed but not applied). With
    ``members > 1`` the losses of the members are summed, which with Adam
    trains each member exactly as if it were alone. Returns the last
    discriminator loss and the generator loss.
    """
    variant = VARIANTS[variant] if isinstance(variant, str) else variant
    k = variant.k if k is None else k
    if k < 1:
        raise ValueError(f"k (discriminator steps per generator step) must be at least 1, got {k}")
    for _ in range(k):
        batch = sample_real()
        real, y = batch if isinstance(batch, tuple) else (batch, None)
        n = real.shape[1] if members > 1 else real.shape[0]
        with torch.no_grad():
            fake = _call(generator, sample_z(n), y)
        d_real, d_fake = _call(discriminator, real, y), _call(discriminator, fake, y)
        d_loss = _sum_over_members(variant.d_loss, d_real, d_fake, members=members)
        if variant.penalty:
            critic = (lambda x: discriminator(x, y)) if y is not None else discriminator
            d_loss = d_loss + variant.penalty * members * gradient_penalty(critic, real, fake,
                                                                           sample_dims=2 if members > 1 else 1)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
    fake = _call(generator, sample_z(n), y)
    g_loss = _sum_over_members(variant.g_loss, _call(discriminator, fake, y), members=members)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    d_value, g_value = float(d_loss.detach()), float(g_loss.detach())
    if not (math.isfinite(d_value) and math.isfinite(g_value)):
        raise FloatingPointError(f"a GAN loss became non-finite (D {d_value}, G {g_value}); lower the learning rate")
    return d_value, g_value


def sgd_gan_step(generator: nn.Module, discriminator: nn.Module, real_batches: torch.Tensor, noises: torch.Tensor,
                 lr: float, generator_loss: str = "non-saturating") -> tuple[torch.Tensor, torch.Tensor]:
    """Algorithm 1 of Goodfellow et al. with plain SGD, written out: ``k = len(real_batches)`` D steps, one G step.

    ``real_batches`` is ``(k, m, ...)`` (one minibatch per discriminator
    step), ``noises`` is ``(k + 1, m, latent)`` (one per discriminator step and
    the last for the generator step): all randomness comes in as arguments.
    Discriminator step :math:`i`: :math:`\\phi \\leftarrow \\phi - \\eta\\,\\nabla_\\phi L_D`
    with (D-LOSS) on ``real_batches[i]`` and :math:`G(\\text{noises}[i])`
    (the fakes detached). Generator step: :math:`\\theta \\leftarrow \\theta - \\eta\\,\\nabla_\\theta L_G`
    with (G-NS) or (G-SAT) on ``noises[k]``, the discriminator's weights left
    unchanged. Updates the networks in place; returns the last discriminator
    loss and the generator loss (detached).
    """
    losses = {"non-saturating": generator_loss_nonsaturating, "saturating": generator_loss_saturating}
    if generator_loss not in losses:
        raise ValueError(f"generator_loss must be one of {sorted(losses)}, got {generator_loss!r}")
    k = real_batches.shape[0]
    if k < 1 or noises.shape[0] != k + 1:
        raise ValueError(f"need k >= 1 real batches and k + 1 noise batches, got {k} and {noises.shape[0]}")
    d_params, g_params = list(discriminator.parameters()), list(generator.parameters())
    for i in range(k):
        with torch.no_grad():
            fake = generator(noises[i])
        d_loss = discriminator_loss(discriminator(real_batches[i]), discriminator(fake))
        grads = torch.autograd.grad(d_loss, d_params)
        with torch.no_grad():
            for p, g in zip(d_params, grads):
                p -= lr * g
    g_loss = losses[generator_loss](discriminator(generator(noises[k])))
    grads = torch.autograd.grad(g_loss, g_params)
    with torch.no_grad():
        for p, g in zip(g_params, grads):
            p -= lr * g
    return d_loss.detach(), g_loss.detach()


def train_gan(generator: nn.Module, discriminator: nn.Module,
              sample_real: Callable[[], torch.Tensor | tuple[torch.Tensor, torch.Tensor]],
              sample_z: Callable[[int], torch.Tensor], steps: int, variant: Variant | str = "non-saturating", *,
              k: int | None = None, lr: float | None = None, members: int = 1, desc: str = "GAN",
              snapshot_every: int = 0, snapshot: Callable[[int], object] | None = None) -> GANHistory:
    """Train ``generator`` and ``discriminator`` for ``steps`` generator steps (Algorithm 1, Adam for both).

    ``variant`` names an entry of :data:`VARIANTS` (or is a :class:`Variant`)
    that sets the losses, ``k``, the penalty and Adam's settings; ``k`` and
    ``lr`` override it. ``snapshot(step)`` is called at step 0 and every
    ``snapshot_every`` steps and its result kept in ``history.snapshots``
    (the chapter records the discriminator's decision surface this way).
    Networks must already be on the device the samplers return data on.
    """
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    variant = VARIANTS[variant] if isinstance(variant, str) else variant
    rate = variant.lr if lr is None else lr
    opt_g = torch.optim.Adam(generator.parameters(), lr=rate, betas=variant.betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=rate, betas=variant.betas)
    history = GANHistory()
    if snapshot is not None:
        history.snapshots[0] = snapshot(0)
    generator.train()
    discriminator.train()
    with Progress(steps, desc, unit="step") as bar:
        for step in range(1, steps + 1):
            d_value, g_value = gan_step(generator, discriminator, opt_g, opt_d, sample_real, sample_z, variant,
                                        k=k, members=members)
            history.d_losses.append(d_value)
            history.g_losses.append(g_value)
            if snapshot is not None and snapshot_every and step % snapshot_every == 0:
                history.snapshots[step] = snapshot(step)
            bar.update(d=d_value, g=g_value)
    return history


# ---------------------------------------------------------------------------------------------------------------
# Scoring samples on the ring of Gaussians
# ---------------------------------------------------------------------------------------------------------------
def ring_centres(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The ``(modes, 2)`` centres of :func:`~genai_foundations.data.toy2d.make_gaussian_ring`."""
    if modes < 1 or radius <= 0:
        raise ValueError(f"modes must be positive and radius > 0, got {modes}, {radius}")
    angle = 2 * math.pi * torch.arange(modes, dtype=torch.float32) / modes
    return radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)


@dataclass(frozen=True)
class ModeReport:
    """How a sample set covers a mixture: counts per mode, modes covered, share of high-quality samples."""

    counts: tuple[int, ...]
    covered: int
    high_quality: float


def mode_coverage(samples: torch.Tensor, centres: torch.Tensor, std: float, *, radius_in_std: float = 3.0,
                  min_share: float | None = None) -> ModeReport:
    """Score samples against a mixture of isotropic Gaussians of standard deviation ``std``.

    A sample is *high quality* when it lies within ``radius_in_std`` standard
    deviations of its nearest centre (the measure of Srivastava et al., 2017);
    a mode is *covered* when it holds at least ``min_share`` of all samples as
    high-quality ones (default: a quarter of its fair share,
    :math:`1/(4K)` for :math:`K` modes).
    """
    if samples.dim() != 2 or samples.shape[1] != centres.shape[1]:
        raise ValueError(f"samples must be (n, {centres.shape[1]}), got {tuple(samples.shape)}")
    if std <= 0:
        raise ValueError(f"std must be positive, got {std}")
    modes = len(centres)
    min_share = 1 / (4 * modes) if min_share is None else min_share
    distance = torch.cdist(samples.float(), centres.float())
    nearest, which = distance.min(dim=1)
    good = nearest <= radius_in_std * std
    counts = torch.bincount(which[good], minlength=modes)
    covered = int((counts >= min_share * len(samples)).sum())
    return ModeReport(tuple(int(c) for c in counts), covered, float(good.float().mean()))


@torch.no_grad()
def decision_grid(discriminator: nn.Module, limits: float = 3.0, resolution: int = 101,
                  member: int | None = None) -> torch.Tensor:
    """:math:`D(x) = \\sigma(\\ell(x))` on a ``resolution x resolution`` grid over ``[-limits, limits]^2``.

    Rows run along the second coordinate (``imshow``'s convention with
    ``origin="lower"``). For an ensemble discriminator pick ``member``.
    """
    device = next(discriminator.parameters()).device
    axis = torch.linspace(-limits, limits, resolution, device=device)
    yy, xx = torch.meshgrid(axis, axis, indexing="ij")
    points = torch.stack([xx.flatten(), yy.flatten()], dim=1)
    members = getattr(discriminator, "members", 1)
    if members > 1:
        if member is None:
            raise ValueError(f"the discriminator holds {members} members: pass member=")
        logits = discriminator(points.expand(members, -1, -1))[member]
    else:
        logits = discriminator(points)
    return torch.sigmoid(logits).reshape(resolution, resolution).cpu()

r"""Denoising diffusion probabilistic models (DDPM) and the DDIM family of samplers.

Notation (chapter 4): discrete steps :math:`t = 0, 1, \dots, T` with the data at
:math:`t = 0` and noise at :math:`t = T`; per-step noise *variances*
:math:`\beta_t`; :math:`\alpha_t = 1 - \beta_t`;
:math:`\bar\alpha_t = \prod_{i \le t} \alpha_i` with :math:`\bar\alpha_0 = 1`.
The continuous-time chapters (noise at time 0, data at time 1) use other
symbols; the book's notation page maps them: :math:`\tau = 1 - t/T`,
:math:`\alpha_\tau = \sqrt{\bar\alpha_t}`, :math:`\beta_\tau = \sqrt{1-\bar\alpha_t}`,
:math:`\varepsilon = -\beta_\tau \nabla \log p`.

* forward process :math:`q(x_t | x_{t-1}) = N(\sqrt{1-\beta_t}\, x_{t-1}, \beta_t I)` (FWD, :func:`q_step`),
* closed form :math:`x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\, \varepsilon` (CLOSED, :func:`q_sample`),
* posterior :math:`q(x_{t-1} | x_t, x_0) = N(\tilde\mu_t, \tilde\beta_t I)` (POST, :func:`posterior_mean_variance`),
* training loss :math:`\|\varepsilon - \varepsilon_\theta(x_t, t)\|^2` (LOSS, :func:`ddpm_loss`),
  the ELBO's terms with their weights dropped (:func:`elbo_weights`),
* estimate :math:`\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\, \varepsilon_\theta) / \sqrt{\bar\alpha_t}` (X0, :func:`predict_x0`),
* Ho et al.'s ancestral step :math:`x_{t-1} = \tilde\mu_t(x_t, \hat x_0) + \sigma_t \xi` with
  :math:`\sigma_t^2 = \tilde\beta_t` or :math:`\beta_t` (:func:`ddpm_step`),
* reverse update from step t to an earlier step s (s = t - 1 for DDPM)

  .. math:: x_s = \sqrt{\bar\alpha_s}\, \hat x_0 + \sqrt{1 - \bar\alpha_s - c_t^2}\, \varepsilon_\theta + c_t \xi,
            \qquad c_t = \eta \sqrt{\tfrac{1-\bar\alpha_s}{1-\bar\alpha_t}} \sqrt{1 - \tfrac{\bar\alpha_t}{\bar\alpha_s}}

  (REV, :func:`reverse_step`): :math:`\eta = 0` is DDIM (deterministic),
  :math:`\eta = 1` with s = t - 1 is the ancestral step with :math:`\sigma_t^2 = \tilde\beta_t`,
* classifier-free guidance :math:`\tilde\varepsilon = (1-w)\,\varepsilon_\theta(x_t, \varnothing) + w\, \varepsilon_\theta(x_t, y)`
  (CFG, :func:`cfg_combine`, :func:`guided_eps`),
* inpainting: :func:`sample` with ``known`` and ``mask`` keeps chosen entries
  (a trajectory's start and goal) equal to given values.

Denoisers are called as ``model(x_t, t / T, y)``: the time enters as the
fraction ``t / T`` in (0, 1], with 1 = pure noise (the opposite of the
continuous-time chapters, whose networks receive 1 = data). Tensors of any
shape (B, ...) work: images (B, C, H, W) and trajectories (B, horizon, dim) alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from genai_foundations.runtime import autocast, eval_mode, rand, randint, randn

TimeIndex = int | torch.Tensor


# ---------------------------------------------------------------------------------------------------------------
# Noise schedules
# ---------------------------------------------------------------------------------------------------------------
def linear_betas(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    """The linear schedule of Ho et al. (2020): ``beta_1 .. beta_T`` evenly spaced from 1e-4 to 0.02 (float64)."""
    _check_T(T)
    if not 0 < beta_start <= beta_end < 1:
        raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
    return torch.linspace(beta_start, beta_end, T, dtype=torch.float64)


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    """The cosine schedule of Nichol & Dhariwal (2021), as ``beta_1 .. beta_T`` (float64, shape (T,)).

    With :math:`f(u) = \\cos^2\\big(\\frac{u + s}{1 + s} \\frac{\\pi}{2}\\big)` the target is
    :math:`\\bar\\alpha_t = f(t/T) / f(0)`; the betas that produce it are
    :math:`\\beta_t = \\min\\big(1 - f(t/T) / f((t-1)/T),\\ \\text{max\\_beta}\\big)`.
    The offset ``s`` keeps the first betas from being vanishingly small; the
    cap avoids :math:`\\beta_T = 1` (since :math:`f(1) = 0`).
    """
    _check_T(T)
    if s < 0:
        raise ValueError(f"s must be non-negative, got {s}")
    if not 0 < max_beta < 1:
        raise ValueError(f"max_beta must lie in (0, 1), got {max_beta}")
    u = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return torch.clamp(1 - f[1:] / f[:-1], max=max_beta)


def _check_T(T: int) -> None:
    if not isinstance(T, int) or T < 1:
        raise ValueError(f"T must be a positive int, got {T!r}")


@dataclass(frozen=True, eq=False)
class NoiseSchedule:
    """A variance schedule and the quantities derived from it (all float64, on the CPU).

    ``betas[t - 1]`` is :math:`\\beta_t` and ``alphas[t - 1]`` is :math:`\\alpha_t = 1 - \\beta_t`
    for t = 1..T (shape (T,), as in diffusers); ``alphas_bar[t]`` is
    :math:`\\bar\\alpha_t` for t = 0..T (shape (T + 1,), with :math:`\\bar\\alpha_0 = 1`:
    step 0 is the clean data). Build one with :meth:`linear` or :meth:`cosine`.
    """

    betas: torch.Tensor
    alphas: torch.Tensor = field(init=False, repr=False)
    alphas_bar: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        betas = torch.as_tensor(self.betas, dtype=torch.float64).detach().cpu()
        if betas.dim() != 1 or len(betas) == 0:
            raise ValueError(f"betas must be a non-empty 1-D tensor, got shape {tuple(betas.shape)}")
        if not ((betas > 0) & (betas < 1)).all():
            raise ValueError("every beta must lie strictly between 0 and 1")
        alphas = 1 - betas
        object.__setattr__(self, "betas", betas)
        object.__setattr__(self, "alphas", alphas)
        object.__setattr__(self, "alphas_bar", torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(alphas, 0)]))

    @classmethod
    def linear(cls, T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> "NoiseSchedule":
        """Linear betas (see :func:`linear_betas`)."""
        return cls(linear_betas(T, beta_start, beta_end))

    @classmethod
    def cosine(cls, T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> "NoiseSchedule":
        """Cosine schedule (see :func:`cosine_betas`)."""
        return cls(cosine_betas(T, s, max_beta))

    @property
    def T(self) -> int:
        """Number of diffusion steps."""
        return len(self.betas)

    @property
    def alphas_cumprod(self) -> torch.Tensor:
        """:math:`\\bar\\alpha_1 .. \\bar\\alpha_T` (shape (T,)), diffusers' name and indexing."""
        return self.alphas_bar[1:]

    def __repr__(self) -> str:
        return f"NoiseSchedule(T={self.T}, beta_1={self.betas[0]:.3g}, beta_T={self.betas[-1]:.3g}, " \
               f"alpha_bar_T={self.alphas_bar[-1]:.3g})"

    def at(self, values: torch.Tensor, t: TimeIndex, like: torch.Tensor) -> torch.Tensor:
        """``values[t]`` cast to ``like``'s dtype and device, shaped to broadcast over ``like``.

        ``t`` is an int (one step for the whole batch) or an integer tensor of
        shape (B,) (one step per example).
        """
        if isinstance(t, torch.Tensor) and t.dim() > 0:
            if t.dim() != 1 or t.shape[0] != like.shape[0]:
                raise ValueError(f"t must be an int or have shape ({like.shape[0]},), got {tuple(t.shape)}")
            index = t.detach().to("cpu", torch.long)
            out = values.to(like.dtype)[index].to(like.device)
            return out.reshape(-1, *([1] * (like.dim() - 1)))
        return values.to(like.dtype)[int(t)].to(like.device)


def _check_steps(t: TimeIndex, low: int, high: int, name: str) -> None:
    values = t if isinstance(t, torch.Tensor) else torch.tensor(t)
    if values.numel() and (int(values.min()) < low or int(values.max()) > high):
        raise ValueError(f"{name} must lie in {low}..{high}, got values from {int(values.min())} to {int(values.max())}")


# ---------------------------------------------------------------------------------------------------------------
# Forward process, loss and x_0 estimate
# ---------------------------------------------------------------------------------------------------------------
def q_step(x_prev: torch.Tensor, t: TimeIndex, noise: torch.Tensor, schedule: NoiseSchedule) -> torch.Tensor:
    r"""One step of the forward chain (FWD): :math:`x_t = \sqrt{1-\beta_t}\, x_{t-1} + \sqrt{\beta_t}\, \varepsilon_{t-1}`.

    ``t`` is an int in 1..T or an integer tensor of shape (B,); ``noise`` is
    :math:`\varepsilon_{t-1}`, with the shape of ``x_prev``.
    """
    if noise.shape != x_prev.shape:
        raise ValueError(f"noise must have the shape of x_prev {tuple(x_prev.shape)}, got {tuple(noise.shape)}")
    _check_steps(t, 1, schedule.T, "t")
    beta = schedule.at(schedule.betas, t - 1, x_prev)             # betas[t - 1] is beta_t
    return (1 - beta).sqrt() * x_prev + beta.sqrt() * noise


def q_sample(x0: torch.Tensor, t: TimeIndex, noise: torch.Tensor, schedule: NoiseSchedule) -> torch.Tensor:
    """Draw :math:`x_t \\sim q(x_t | x_0)` in closed form: :math:`x_t = \\sqrt{\\bar\\alpha_t}\\, x_0 + \\sqrt{1-\\bar\\alpha_t}\\, \\varepsilon`.

    ``t`` is an int in 0..T or an integer tensor of shape (B,); ``noise`` is
    :math:`\\varepsilon`, with the shape of ``x0``.
    """
    if noise.shape != x0.shape:
        raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
    _check_steps(t, 0, schedule.T, "t")
    abar = schedule.at(schedule.alphas_bar, t, x0)
    return abar.sqrt() * x0 + (1 - abar).sqrt() * noise


def predict_x0(x_t: torch.Tensor, t: TimeIndex, eps: torch.Tensor, schedule: NoiseSchedule) -> torch.Tensor:
    """The clean-data estimate :math:`\\hat x_0 = (x_t - \\sqrt{1-\\bar\\alpha_t}\\, \\varepsilon) / \\sqrt{\\bar\\alpha_t}`.

    It inverts :func:`q_sample` with the predicted noise in place of the true one.
    """
    _check_steps(t, 0, schedule.T, "t")
    abar = schedule.at(schedule.alphas_bar, t, x_t)
    return (x_t - (1 - abar).sqrt() * eps) / abar.sqrt()


def posterior_mean_variance(x0: torch.Tensor, x_t: torch.Tensor, t: TimeIndex,
                            schedule: NoiseSchedule) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The forward-process posterior :math:`q(x_{t-1} | x_t, x_0) = N(\tilde\mu_t, \tilde\beta_t I)` (POST).

    .. math:: \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\, x_0
              + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\, x_t,
              \qquad \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t .

    ``t`` is an int in 1..T or an integer tensor of shape (B,). Returns the mean
    (the shape of ``x_t``) and the variance, shaped to broadcast over ``x_t``
    (a scalar tensor for an int ``t``), both in ``x_t``'s dtype.
    """
    if x0.shape != x_t.shape:
        raise ValueError(f"x0 must have the shape of x_t {tuple(x_t.shape)}, got {tuple(x0.shape)}")
    _check_steps(t, 1, schedule.T, "t")
    # the coefficients in float64 for t = 1..T (index t - 1), then cast: at t = 1 they are exactly 1, 0 and 0
    abar_t, abar_s, beta = schedule.alphas_bar[1:], schedule.alphas_bar[:-1], schedule.betas
    coef_x0 = abar_s.sqrt() * beta / (1 - abar_t)
    coef_xt = (1 - beta).sqrt() * (1 - abar_s) / (1 - abar_t)
    variance = (1 - abar_s) / (1 - abar_t) * beta
    index = t - 1
    return (schedule.at(coef_x0, index, x_t) * x0 + schedule.at(coef_xt, index, x_t) * x_t,
            schedule.at(variance, index, x_t))


def elbo_weights(schedule: NoiseSchedule, variance: str = "beta_tilde") -> torch.Tensor:
    r"""The weights :math:`\lambda_t` of the ELBO's terms in noise-prediction form, for t = 1..T (float64, shape (T,)).

    With :math:`p_\theta(x_{t-1} | x_t) = N(\tilde\mu_t(x_t, \hat x_0), \sigma_t^2 I)` the term
    :math:`L_{t-1} = E\, \mathrm{KL}(q(x_{t-1} | x_t, x_0) \,\|\, p_\theta(x_{t-1} | x_t))` equals
    :math:`\lambda_t\, E\|\varepsilon - \varepsilon_\theta(x_t, t)\|^2` plus a constant, with
    :math:`\lambda_t = \beta_t^2 / (2 \sigma_t^2 \alpha_t (1-\bar\alpha_t))`. ``variance``:
    ``"beta_tilde"`` (:math:`\sigma_t^2 = \tilde\beta_t`) or ``"beta"`` (:math:`\sigma_t^2 = \beta_t`).
    The entry for t = 1 is ``inf`` for ``"beta_tilde"`` (:math:`\tilde\beta_1 = 0`): that step is the
    decoder term :math:`L_0` of the ELBO, not a KL. :func:`ddpm_loss` drops these weights (all 1).
    """
    sigma2 = reverse_variances(schedule, variance)[1:]
    betas, alphas, abar = schedule.betas, schedule.alphas, schedule.alphas_bar[1:]
    return betas**2 / (2 * sigma2 * alphas * (1 - abar))


def reverse_variances(schedule: NoiseSchedule, variance: str = "beta_tilde") -> torch.Tensor:
    """The reverse-step variances :math:`\\sigma_t^2` of :func:`ddpm_step`, indexed by t = 0..T (float64, shape (T + 1,)).

    ``"beta_tilde"``: :math:`\\tilde\\beta_t = \\frac{1-\\bar\\alpha_{t-1}}{1-\\bar\\alpha_t}\\beta_t`;
    ``"beta"``: :math:`\\beta_t`. Entry 0 is unused (0).
    """
    if variance == "beta_tilde":
        abar = schedule.alphas_bar
        sigma2 = (1 - abar[:-1]) / (1 - abar[1:]) * schedule.betas
    elif variance == "beta":
        sigma2 = schedule.betas.clone()
    else:
        raise ValueError(f"variance must be 'beta_tilde' or 'beta', got {variance!r}")
    return torch.cat([torch.zeros(1, dtype=torch.float64), sigma2])


def resolve_null_label(model: torch.nn.Module, null_label: int | None = None) -> int:
    """The "no label" index for label dropout: ``null_label`` if given, else the model's ``null_label``."""
    if null_label is None:
        null_label = getattr(model, "null_label", None)
    if null_label is None:
        raise ValueError("label dropout (p_uncond > 0) needs null_label, or a model with a null_label attribute")
    return null_label


def drop_labels(y: torch.Tensor, p_uncond: float, null_label: int,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """Label dropout for classifier-free guidance: each label becomes ``null_label`` with probability ``p_uncond``."""
    if not 0 <= p_uncond <= 1:
        raise ValueError(f"p_uncond must lie in [0, 1], got {p_uncond}")
    drop = rand((len(y),), y.device, generator) < p_uncond
    return torch.where(drop, torch.full_like(y, null_label), y)


def ddpm_loss(model: nn.Module, x0: torch.Tensor, schedule: NoiseSchedule, *, y: torch.Tensor | None = None,
              p_uncond: float = 0.0, null_label: int | None = None,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """The simplified DDPM objective :math:`E_{t, x_0, \\varepsilon} \\|\\varepsilon - \\varepsilon_\\theta(x_t, t)\\|^2`.

    For every example: draw :math:`t \\sim U\\{1..T\\}` and :math:`\\varepsilon \\sim N(0, I)`, build
    :math:`x_t` with :func:`q_sample`, and regress the network's output on the
    *total* noise :math:`\\varepsilon` (mean squared error over all entries).
    With labels ``y`` and ``p_uncond > 0``, each label is replaced by the
    model's null label with probability ``p_uncond`` (label dropout), so one
    network learns both :math:`\\varepsilon_\\theta(x_t, y)` and :math:`\\varepsilon_\\theta(x_t, \\varnothing)`.
    """
    batch = x0.shape[0]
    t = randint(1, schedule.T + 1, (batch,), x0.device, generator)
    noise = randn(tuple(x0.shape), x0.device, generator).to(x0.dtype)
    x_t = q_sample(x0, t, noise, schedule)
    if y is not None and p_uncond > 0:
        y = drop_labels(y, p_uncond, resolve_null_label(model, null_label), generator)
    with autocast(x0.device):
        prediction = model(x_t, t.to(torch.float32) / schedule.T, y)
    return torch.mean((prediction.float() - noise) ** 2)


# ---------------------------------------------------------------------------------------------------------------
# Reverse process
# ---------------------------------------------------------------------------------------------------------------
def noise_scale(t: TimeIndex, t_prev: TimeIndex, schedule: NoiseSchedule, eta: float = 1.0) -> torch.Tensor:
    """:math:`c_t = \\eta \\sqrt{(1-\\bar\\alpha_s)/(1-\\bar\\alpha_t)} \\sqrt{1 - \\bar\\alpha_t/\\bar\\alpha_s}` for a step t -> s (float64).

    With s = t - 1 and :math:`\\eta = 1`, :math:`c_t^2 = \\frac{1-\\bar\\alpha_{t-1}}{1-\\bar\\alpha_t}\\beta_t`,
    the variance of the DDPM posterior :math:`q(x_{t-1} | x_t, x_0)`.
    """
    t = torch.as_tensor(t, dtype=torch.long)
    t_prev = torch.as_tensor(t_prev, dtype=torch.long)
    abar_t, abar_s = schedule.alphas_bar[t], schedule.alphas_bar[t_prev]
    return eta * torch.sqrt((1 - abar_s) / (1 - abar_t)) * torch.sqrt(1 - abar_t / abar_s)


def reverse_step(x_t: torch.Tensor, t: TimeIndex, t_prev: TimeIndex, eps: torch.Tensor, schedule: NoiseSchedule,
                 eta: float = 0.0, noise: torch.Tensor | None = None, clip_x0: bool = False,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """One reverse update from step ``t`` to the earlier step ``t_prev`` (= s):

    .. math:: x_s = \\sqrt{\\bar\\alpha_s}\\, \\hat x_0 + \\sqrt{1 - \\bar\\alpha_s - c_t^2}\\, \\varepsilon + c_t \\xi

    with :math:`\\hat x_0` from :func:`predict_x0`, :math:`c_t` from
    :func:`noise_scale` (``eta`` in [0, 1]; 0 = DDIM, 1 with s = t - 1 = DDPM)
    and ``noise`` = :math:`\\xi` (drawn from ``generator`` when ``None`` and
    ``eta > 0``; not used when ``eta = 0``). With ``clip_x0`` the estimate :math:`\\hat x_0` is clamped to
    [-1, 1] (the data range) and :math:`\\varepsilon` is recomputed from the clamped
    estimate, so that the step stays consistent. ``t`` and ``t_prev`` are ints
    or integer tensors of shape (B,).
    """
    if not 0 <= eta <= 1:
        raise ValueError(f"eta must lie in [0, 1], got {eta}")
    _check_steps(t, 1, schedule.T, "t")
    _check_steps(t_prev, 0, schedule.T - 1, "t_prev")
    t_values = torch.as_tensor(t).reshape(-1)
    s_values = torch.as_tensor(t_prev).reshape(-1)
    if (s_values.cpu() >= t_values.cpu()).any():
        raise ValueError("t_prev must be smaller than t (the reverse process runs backwards in time)")
    if eps.shape != x_t.shape:
        raise ValueError(f"eps must have the shape of x_t {tuple(x_t.shape)}, got {tuple(eps.shape)}")
    abar_t = schedule.at(schedule.alphas_bar, t, x_t)
    abar_s = schedule.at(schedule.alphas_bar, t_prev, x_t)
    x0_hat = (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
        eps = (x_t - abar_t.sqrt() * x0_hat) / (1 - abar_t).sqrt()
    c = eta * ((1 - abar_s) / (1 - abar_t)).sqrt() * (1 - abar_t / abar_s).sqrt()
    x_prev = abar_s.sqrt() * x0_hat + (1 - abar_s - c**2).clamp(min=0).sqrt() * eps
    if eta > 0:
        if noise is None:
            noise = randn(tuple(x_t.shape), x_t.device, generator).to(x_t.dtype)
        elif noise.shape != x_t.shape:
            raise ValueError(f"noise must have the shape of x_t {tuple(x_t.shape)}, got {tuple(noise.shape)}")
        x_prev = x_prev + c * noise
    return x_prev


def ddpm_step(x_t: torch.Tensor, t: TimeIndex, eps: torch.Tensor, schedule: NoiseSchedule,
              variance: str = "beta_tilde", noise: torch.Tensor | None = None, clip_x0: bool = False,
              generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Ho et al.'s ancestral step from ``t`` to ``t - 1``: :math:`x_{t-1} = \tilde\mu_t(x_t, \hat x_0) + \sigma_t \xi`.

    :math:`\hat x_0` comes from :func:`predict_x0` (clamped to [-1, 1] with
    ``clip_x0``), :math:`\tilde\mu_t` from :func:`posterior_mean_variance`, and
    :math:`\sigma_t^2` is :math:`\tilde\beta_t` (``variance="beta_tilde"``, the
    posterior variance) or :math:`\beta_t` (``"beta"``), the two choices of
    Ho et al. (2020, section 3.2). No noise is added at t = 1, so the last step
    returns :math:`\hat x_0`. With ``"beta_tilde"`` this is :func:`reverse_step`
    with ``eta=1`` and ``t_prev = t - 1``; ``"beta"`` is not in the (REV) family.
    ``noise`` = :math:`\xi` (drawn from ``generator`` when ``None``).
    """
    _check_steps(t, 1, schedule.T, "t")
    if eps.shape != x_t.shape:
        raise ValueError(f"eps must have the shape of x_t {tuple(x_t.shape)}, got {tuple(eps.shape)}")
    sigma2 = reverse_variances(schedule, variance)
    sigma2[1] = 0.0                                             # Ho et al.: no noise in the last step
    x0_hat = predict_x0(x_t, t, eps, schedule)
    if clip_x0:
        x0_hat = x0_hat.clamp(-1.0, 1.0)
    mean, _ = posterior_mean_variance(x0_hat, x_t, t, schedule)
    if noise is None:
        noise = randn(tuple(x_t.shape), x_t.device, generator).to(x_t.dtype)
    elif noise.shape != x_t.shape:
        raise ValueError(f"noise must have the shape of x_t {tuple(x_t.shape)}, got {tuple(noise.shape)}")
    return mean + schedule.at(sigma2, t, x_t).sqrt() * noise


def sampling_timesteps(T: int, steps: int | None = None) -> list[int]:
    """The descending time steps a sampler visits: ``steps + 1`` values from T down to 0.

    ``steps = T`` (or ``None``) gives every step T, T-1, ..., 0 (the DDPM
    chain); fewer steps give an evenly spaced sub-sequence that still starts
    at T (pure noise) and ends at 0 (clean data), as DDIM allows.
    """
    _check_T(T)
    steps = T if steps is None else steps
    if not isinstance(steps, int) or not 1 <= steps <= T:
        raise ValueError(f"steps must be an int in 1..{T}, got {steps!r}")
    return [int(round(v)) for v in torch.linspace(T, 0, steps + 1, dtype=torch.float64).tolist()]


def cfg_combine(eps_uncond: torch.Tensor, eps_cond: torch.Tensor, w: float) -> torch.Tensor:
    """Classifier-free guidance: :math:`\\tilde\\varepsilon = (1 - w)\\, \\varepsilon_\\theta(x_t, \\varnothing) + w\\, \\varepsilon_\\theta(x_t, y)`.

    ``w = 1`` is the conditional prediction, ``w = 0`` the unconditional one,
    ``w > 1`` pushes further in the direction the label adds.
    """
    return (1 - w) * eps_uncond + w * eps_cond


def guided_eps(model: nn.Module, x_t: torch.Tensor, time: torch.Tensor, y: torch.Tensor, w: float) -> torch.Tensor:
    """:func:`cfg_combine` of the model's unconditional (``y=None``) and conditional predictions.

    ``time`` is what the model receives (t / T). Both predictions are always
    computed, so ``w = 0`` and ``w = 1`` exercise the same code as any other ``w``.
    """
    eps_uncond = model(x_t, time, None)
    eps_cond = model(x_t, time, y)
    return cfg_combine(eps_uncond.float(), eps_cond.float(), w)


def _model_device(model: nn.Module) -> torch.device:
    """Where the model's parameters (or buffers) live; the CPU for a model that has none."""
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def sample(model: nn.Module, schedule: NoiseSchedule, shape: tuple[int, ...], *, steps: int | None = None,
           eta: float = 0.0, y: torch.Tensor | None = None, w: float = 1.0, x_T: torch.Tensor | None = None,
           generator: torch.Generator | None = None, device: torch.device | str | None = None,
           clip_x0: bool = False, ddpm_variance: str | None = None,
           known: torch.Tensor | None = None, mask: torch.Tensor | None = None,
           callback: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None) -> torch.Tensor:
    r"""Turn noise :math:`x_T \sim N(0, I)` into data with :func:`reverse_step` (DDPM / DDIM).

    ``steps``: how many reverse updates (``None`` = all T; fewer = the
    evenly spaced sub-sequence of :func:`sampling_timesteps`). ``eta``: noise
    scale (0 = DDIM, deterministic; 1 = DDPM when ``steps = T``).
    ``ddpm_variance``: ``"beta_tilde"`` or ``"beta"`` runs Ho et al.'s
    ancestral step :func:`ddpm_step` with that :math:`\sigma_t^2` at every one of
    the T steps instead (then ``steps`` must be ``None`` or T and ``eta`` is not
    used). ``y`` and ``w``: the condition, one entry per sample (class labels
    (B,), or any (B, ...) tensor the model reads), and the guidance weight for
    classifier-free guidance (``y=None`` samples unconditionally; ``w = 1``
    calls the model once with ``y``, any other ``w`` calls it twice, see
    :func:`guided_eps`). ``x_T``: the starting noise (drawn from ``generator``
    when omitted; a float64 ``x_T`` keeps the whole chain in float64).
    ``known`` and ``mask`` (both broadcastable to ``shape``; ``mask`` boolean):
    inpainting. After every update to a step s, the entries where ``mask`` is
    true are replaced by a fresh draw of :math:`q(x_s | x_0 = \text{known})`
    (:func:`q_sample`), so that they end exactly at ``known`` while the network
    fills in the rest consistently (the replacement of RePaint, Lugmayr et al.
    2022; Diffuser writes the clean values instead). ``callback(t, x_t, x0_hat)``
    is called before each update (e.g. to record the denoising path).
    ``clip_x0``: clamp each :math:`\hat x_0` to [-1, 1] (for data scaled to that
    range). With ``eta = 0`` and no inpainting no random number is drawn after
    :math:`x_T`, so the result is a deterministic function of :math:`x_T`.
    """
    if device is None:
        device = x_T.device if x_T is not None else _model_device(model)
    device = torch.device(device)
    if x_T is None:
        x = randn(tuple(shape), device, generator)
    else:
        if tuple(x_T.shape) != tuple(shape):
            raise ValueError(f"x_T must have shape {tuple(shape)}, got {tuple(x_T.shape)}")
        x = x_T.to(device)
        if not x.is_floating_point():
            x = x.float()
    if y is not None:
        y = y.to(device)
        if y.dim() == 0 or y.shape[0] != shape[0]:
            raise ValueError(f"y must have one entry per sample, shape ({shape[0]}, ...), got {tuple(y.shape)}")
    if ddpm_variance is not None:
        reverse_variances(schedule, ddpm_variance)                # validates the name
        if steps not in (None, schedule.T):
            raise ValueError(f"ddpm_variance runs all {schedule.T} steps; got steps={steps}")
    if (known is None) != (mask is None):
        raise ValueError("inpainting needs both known (the values) and mask (where they apply)")
    if known is not None:
        try:
            known = torch.broadcast_to(known.to(device, x.dtype), tuple(shape))
            mask = torch.broadcast_to(mask.to(device), tuple(shape))
        except RuntimeError as err:
            raise ValueError(f"known and mask must broadcast to {tuple(shape)}, got {tuple(known.shape)} "
                             f"and {tuple(mask.shape)}") from err
        if mask.dtype != torch.bool:
            raise ValueError(f"mask must be a boolean tensor, got {mask.dtype}")

    def impose(x: torch.Tensor, step: int) -> torch.Tensor:
        if known is None:
            return x
        fresh = randn(tuple(shape), device, generator).to(x.dtype)
        return torch.where(mask, q_sample(known, step, fresh, schedule), x)

    times = sampling_timesteps(schedule.T, steps)
    x = impose(x, times[0])
    with eval_mode(model):
        for t, t_prev in zip(times[:-1], times[1:]):
            time = torch.full((shape[0],), t / schedule.T, device=device)
            with autocast(device):
                if y is None:
                    eps = model(x, time, None)
                elif w == 1.0:  # the conditional prediction alone: one network call instead of two
                    eps = model(x, time, y)
                else:
                    eps = guided_eps(model, x, time, y, w)
            eps = eps.to(x.dtype)
            if callback is not None:
                callback(t, x, predict_x0(x, t, eps, schedule))
            if ddpm_variance is not None:
                x = ddpm_step(x, t, eps, schedule, variance=ddpm_variance, clip_x0=clip_x0, generator=generator)
            else:
                x = reverse_step(x, t, t_prev, eps, schedule, eta=eta, clip_x0=clip_x0, generator=generator)
            x = impose(x, t_prev)
    return x


# ---------------------------------------------------------------------------------------------------------------
# An exact denoiser, for experiments without training
# ---------------------------------------------------------------------------------------------------------------
class GaussianMixtureDenoiser(nn.Module):
    r"""The exact noise predictor :math:`E[\varepsilon | x_t]` when the data is a mixture of isotropic Gaussians.

    For :math:`x_0 \sim \sum_k \pi_k N(\mu_k, s_k^2 I)` the noisy marginal is
    :math:`p_t = \sum_k \pi_k N(\sqrt{\bar\alpha_t}\mu_k, (\bar\alpha_t s_k^2 + 1 - \bar\alpha_t) I)`, and
    :math:`E[\varepsilon | x_t] = -\sqrt{1-\bar\alpha_t}\, \nabla \log p_t(x_t)`. No network can do
    better on this data, so samplers can be studied without training error.
    ``means`` (K, d), ``stds`` (K,), ``weights`` (K,); inputs (B, d);
    ``forward(x, time, y=None)`` with ``time = t / T`` as the samplers pass it.
    With ``labels`` (K,), component k belongs to class ``labels[k]``, and
    ``forward(x, time, y)`` returns the exact *conditional* predictor of the
    data of class ``y[i]`` (the mixture of that class's components, with their
    weights renormalised); ``y=None`` is the whole mixture. So
    :func:`guided_eps` and :func:`sample` can run classifier-free guidance with
    exact predictions.
    """

    def __init__(self, schedule: NoiseSchedule, means: torch.Tensor, stds: torch.Tensor,
                 weights: torch.Tensor | None = None, labels: torch.Tensor | None = None):
        super().__init__()
        means = torch.as_tensor(means, dtype=torch.float64)
        stds = torch.as_tensor(stds, dtype=torch.float64).reshape(-1)
        if means.dim() != 2 or stds.shape != (means.shape[0],):
            raise ValueError(f"means must be (K, d) and stds (K,), got {tuple(means.shape)} and {tuple(stds.shape)}")
        if (stds < 0).any():
            raise ValueError("stds must be non-negative")
        weights = torch.full((len(stds),), 1.0 / len(stds), dtype=torch.float64) if weights is None else \
            torch.as_tensor(weights, dtype=torch.float64)
        if weights.shape != stds.shape or (weights < 0).any() or \
                not math.isclose(float(weights.sum()), 1.0, rel_tol=1e-6):
            raise ValueError("weights must be K non-negative numbers that sum to 1")
        weights = weights / weights.sum()                           # exactly 1 in float64
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
            if labels.shape != stds.shape:
                raise ValueError(f"labels must have shape ({len(stds)},), got {tuple(labels.shape)}")
        self.schedule = schedule
        self.register_buffer("means", means)
        self.register_buffer("stds", stds)
        self.register_buffer("log_weights", weights.log())
        self.register_buffer("labels", labels)

    def forward(self, x: torch.Tensor, time: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 2 or x.shape[1] != self.means.shape[1]:
            raise ValueError(f"expected x of shape (B, {self.means.shape[1]}), got {tuple(x.shape)}")
        t = torch.round(torch.as_tensor(time, dtype=torch.float64) * self.schedule.T).long().reshape(-1).cpu()
        if t.numel() == 1:
            t = t.expand(x.shape[0])
        abar = self.schedule.alphas_bar[t].to(x.device)[:, None]                           # (B, 1)
        xd = x.double()
        centres = abar.sqrt()[:, :, None] * self.means.T[None]                              # (B, d, K)
        variances = abar * self.stds[None] ** 2 + (1 - abar)                               # (B, K)
        d = x.shape[1]
        sq = ((xd[:, :, None] - centres) ** 2).sum(dim=1)                                  # (B, K)
        log_weights = self.log_weights[None].expand(x.shape[0], -1)                       # (B, K)
        if y is not None:
            if self.labels is None:
                raise ValueError("this denoiser has no labels: build it with labels=... to condition on y")
            y = torch.as_tensor(y, device=x.device).reshape(-1, 1)
            of_class = self.labels[None] == y
            if not of_class.any(dim=1).all():
                raise ValueError(f"every y must be one of the labels {sorted(set(self.labels.tolist()))}")
            log_weights = log_weights.masked_fill(~of_class, -math.inf)
        log_resp = log_weights - 0.5 * sq / variances - 0.5 * d * variances.log()
        resp = torch.softmax(log_resp, dim=1)                                              # (B, K)
        score = -(resp[:, None, :] * (xd[:, :, None] - centres) / variances[:, None, :]).sum(dim=2)
        return (-(1 - abar).sqrt() * score).to(x.dtype)

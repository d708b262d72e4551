"""Score-based diffusion: score matching, the denoising SDE and Langevin dynamics (chapter 3).

Time runs as in :mod:`~genai_foundations.algorithms.gaussian_paths`: :math:`t = 0`
is noise, :math:`t = 1` is data, and :math:`x_t = \\alpha_t z + \\beta_t \\varepsilon`.
The *score* of a density is :math:`s(x) = \\nabla_x \\log p(x)`.

* :class:`GaussianMixture` (with :func:`mixture_score`): a mixture of isotropic
  Gaussians with its log-density, its score in closed form, samples, and its
  marginals :math:`p_t` along a Gaussian path (again a mixture), so that every
  sampler can be checked against an exact answer;
* :func:`dsm_loss`: denoising score matching,
  :math:`E\\,\\lambda_t \\lVert s_\\theta(x_t, t) + (x_t - \\alpha_t z)/\\beta_t^2 \\rVert^2`, with
  :math:`\\lambda_t = 1` or the well-conditioned :math:`\\lambda_t = \\beta_t^2`;
* :func:`noise_prediction_loss`: :math:`E \\lVert \\varepsilon_\\theta(x_t, t) - \\varepsilon \\rVert^2`,
  the same objective for the noise predictor :math:`\\varepsilon_\\theta = -\\beta_t s_\\theta`
  (:class:`ScoreFromNoise` turns a noise predictor into a score model);
* :func:`euler_maruyama_step`: one step :math:`x + h\\,u_t(x) + \\sigma_t\\sqrt h\\,\\varepsilon`;
* :func:`denoising_sde_drift`: :math:`u_t(x) + \\tfrac{\\sigma_t^2}{2} s_t(x)`, the drift of the SDE
  that has the same marginals as the flow :math:`u_t` for every :math:`\\sigma_t`;
* :func:`reverse_sde_sample`: noise to data with that SDE, the vector field
  obtained from the score by :func:`~genai_foundations.algorithms.gaussian_paths.score_to_vector_field`;
* :func:`langevin_sample`: Langevin dynamics
  :math:`dx = \\tfrac{\\sigma^2}{2}\\nabla\\log p(x)\\,dt + \\sigma\\,dW`;
* :func:`guided_score`: classifier-free guidance for scores,
  :math:`\\tilde s = (1 - w)\\, s(x \\mid \\varnothing) + w\\, s(x \\mid y)`.

Score models are called as ``score_model(x, t)`` or, with labels,
``score_model(x, t, y)``, where ``t`` is a float (samplers) or a (B,) tensor
(losses); :class:`~genai_foundations.architectures.mlp.TimeConditionedMLP`
accepts both.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from genai_foundations.algorithms.ddpm import cfg_combine, drop_labels, resolve_null_label
from genai_foundations.algorithms.gaussian_paths import GaussianPath, noise_to_score, score_to_vector_field
from genai_foundations.algorithms.solvers import euler_maruyama, langevin
from genai_foundations.runtime import autocast, rand, randn

ScoreModel = Callable[..., torch.Tensor]
Sigma = float | Callable[[float], float]

__all__ = [
    "GaussianMixture", "ScoreFromNoise", "denoising_sde_drift", "dsm_loss", "euler_maruyama_step", "gaussian_score",
    "guided_score", "langevin_sample", "mixture_score", "noise_prediction_loss", "reverse_sde_sample",
]


# ---------------------------------------------------------------------------------------------------------------
# Analytic scores: a Gaussian and a mixture of isotropic Gaussians
# ---------------------------------------------------------------------------------------------------------------
def gaussian_score(x: torch.Tensor, mean: torch.Tensor | float, std: torch.Tensor | float) -> torch.Tensor:
    """The score of :math:`\\mathcal N(\\mu, \\sigma^2 I)`: :math:`\\nabla_x \\log p(x) = -(x - \\mu) / \\sigma^2`."""
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    if (std <= 0).any():
        raise ValueError("std must be positive")
    return -(x - torch.as_tensor(mean, dtype=x.dtype, device=x.device)) / std**2


def _check_mixture(x: torch.Tensor, means: torch.Tensor, stds: torch.Tensor, weights: torch.Tensor) -> None:
    if means.dim() != 2:
        raise ValueError(f"means must have shape (K, d), got {tuple(means.shape)}")
    k, d = means.shape
    if stds.shape != (k,) or weights.shape != (k,):
        raise ValueError(f"stds and weights must have shape ({k},), got {tuple(stds.shape)} and {tuple(weights.shape)}")
    if x.dim() != 2 or x.shape[1] != d:
        raise ValueError(f"x must have shape (B, {d}), got {tuple(x.shape)}")


def _component_terms(x: torch.Tensor, means: torch.Tensor, variances: torch.Tensor,
                     log_weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log(pi_k N(x; mu_k, v_k I)) (B, K) and x - mu_k (B, K, d); means (K, d) or (B, K, d), variances (K,) or (B, K)."""
    diff = x[:, None, :] - means                                     # (B, K, d)
    d = x.shape[1]
    log_terms = log_weights - 0.5 * (diff**2).sum(-1) / variances - 0.5 * d * torch.log(2 * math.pi * variances)
    return log_terms, diff


def mixture_score(x: torch.Tensor, means: torch.Tensor, stds: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The score of :math:`p(x) = \\sum_k \\pi_k \\mathcal N(x; \\mu_k, s_k^2 I)` in closed form:

    .. math:: \\nabla_x \\log p(x) = \\sum_k r_k(x)\\, \\Big(-\\frac{x - \\mu_k}{s_k^2}\\Big),\\qquad
              r_k(x) = \\frac{\\pi_k \\mathcal N(x; \\mu_k, s_k^2 I)}{\\sum_j \\pi_j \\mathcal N(x; \\mu_j, s_j^2 I)},

    the responsibility-weighted average of the components' Gaussian scores.
    ``x`` (B, d), ``means`` (K, d), ``stds`` (K,), ``weights`` (K,) summing to 1.
    The responsibilities are a softmax of log-terms, so points far from every
    component do not underflow to 0/0.
    """
    _check_mixture(x, means, stds, weights)
    log_terms, diff = _component_terms(x, means, stds**2, torch.log(weights))
    resp = torch.softmax(log_terms, dim=1)                           # r_k(x), (B, K)
    return -(resp[:, :, None] * diff / (stds**2)[None, :, None]).sum(1)


def _work_dtype(x: torch.Tensor) -> torch.dtype:
    """float64 for the closed-form mixture computations, except on MPS, which has no float64."""
    return torch.float32 if x.device.type == "mps" else torch.float64


class GaussianMixture:
    """:math:`p(x) = \\sum_k \\pi_k\\, \\mathcal N(x; \\mu_k, s_k^2 I)` in :math:`d` dimensions.

    ``means`` (K, d), ``stds`` (K,) (or one number for all), ``weights`` (K,)
    (uniform when omitted). Parameters are kept in float64 on the CPU; every
    method computes in float64 on the input's device (float32 on Apple's MPS,
    which has no float64) and returns the input's dtype. :meth:`along_path`
    gives the marginal :math:`p_t` of a Gaussian path started from this
    mixture, and :meth:`path_score` its score, the exact :math:`\\nabla \\log p_t`
    that score matching tries to learn. The appendix's
    :class:`~genai_foundations.appendices.differential_equations.GaussianMixture1D`
    is this class on the line, with elementwise methods for densities on a grid.
    """

    def __init__(self, means: torch.Tensor | Sequence, stds: torch.Tensor | Sequence | float,
                 weights: torch.Tensor | Sequence | None = None):
        means = torch.as_tensor(means, dtype=torch.float64).detach().cpu()
        if means.dim() == 1:  # K means of a 1-D mixture
            means = means[:, None]
        if means.dim() != 2 or means.shape[0] < 1:
            raise ValueError(f"means must have shape (K, d), got {tuple(means.shape)}")
        k = means.shape[0]
        stds = torch.as_tensor(stds, dtype=torch.float64).detach().cpu()
        stds = stds.expand(k).clone() if stds.dim() == 0 else stds.reshape(-1)
        if stds.shape != (k,) or (stds <= 0).any():
            raise ValueError(f"stds must be {k} positive numbers (or one), got {stds.tolist()}")
        weights = torch.full((k,), 1.0 / k, dtype=torch.float64) if weights is None else \
            torch.as_tensor(weights, dtype=torch.float64).detach().cpu().reshape(-1)
        if weights.shape != (k,) or (weights < 0).any() or not math.isclose(float(weights.sum()), 1.0, abs_tol=1e-6):
            raise ValueError(f"weights must be {k} non-negative numbers that sum to 1, got {weights.tolist()}")
        self.means, self.stds, self.weights = means, stds, weights / weights.sum()

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def num_components(self) -> int:
        return self.means.shape[0]

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.num_components}, d={self.dim})"

    def _params(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if x.dim() != 2 or x.shape[1] != self.dim:
            raise ValueError(f"x must have shape (B, {self.dim}), got {tuple(x.shape)}")
        dtype = _work_dtype(x)
        return (self.means.to(x.device, dtype), self.stds.to(x.device, dtype), self.weights.to(x.device, dtype))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p(x)` for ``x`` (B, d), shape (B,)."""
        means, stds, weights = self._params(x)
        log_terms, _ = _component_terms(x.to(means.dtype), means, stds**2, torch.log(weights))
        return torch.logsumexp(log_terms, dim=1).to(x.dtype)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`r_k(x) = P(\\text{component } k \\mid x)`, shape (B, K)."""
        means, stds, weights = self._params(x)
        log_terms, _ = _component_terms(x.to(means.dtype), means, stds**2, torch.log(weights))
        return torch.softmax(log_terms, dim=1).to(x.dtype)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\nabla_x \\log p(x)` in closed form (:func:`mixture_score`), shape (B, d)."""
        means, stds, weights = self._params(x)
        return mixture_score(x.to(means.dtype), means, stds, weights).to(x.dtype)

    def component(self, k: int) -> "GaussianMixture":
        """Component ``k`` alone, as a one-component mixture (the class-conditional density)."""
        if not 0 <= k < self.num_components:
            raise ValueError(f"component must lie in 0..{self.num_components - 1}, got {k}")
        return type(self)(self.means[k:k + 1], self.stds[k:k + 1])

    def sample(self, n: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu",
               return_labels: bool = False, dtype: torch.dtype = torch.float32) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``n`` draws (n, d) (float32 unless ``dtype`` says otherwise): component k with probability :math:`\\pi_k`, then :math:`\\mu_k + s_k \\varepsilon`.

        With ``return_labels`` also the (n,) tensor of component indices.
        """
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        labels = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        points = (self.means[labels] + self.stds[labels, None] * noise).to(device, dtype)
        return (points, labels.to(device)) if return_labels else points

    def along_path(self, path: GaussianPath, t: float) -> "GaussianMixture":
        """The marginal :math:`p_t` of :math:`x_t = \\alpha_t z + \\beta_t \\varepsilon` with :math:`z` from this mixture:

        .. math:: p_t = \\sum_k \\pi_k\\, \\mathcal N\\big(\\alpha_t \\mu_k,\\ (\\alpha_t^2 s_k^2 + \\beta_t^2) I\\big).
        """
        t = torch.tensor(float(t), dtype=torch.float64)
        a, b = path.alpha(t), path.beta(t)
        return type(self)(a * self.means, torch.sqrt(a**2 * self.stds**2 + b**2), self.weights)

    def path_score(self, path: GaussianPath, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """:math:`\\nabla_x \\log p_t(x)` of :meth:`along_path`, for a scalar ``t`` or one time per example (B,)."""
        means, stds, weights = self._params(x)
        t = torch.as_tensor(t, dtype=means.dtype, device=x.device)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"t must be a scalar or have shape ({x.shape[0]},), got {tuple(t.shape)}")
        a, b = path.alpha(t), path.beta(t)
        centres = a[:, None, None] * means[None]                         # (B, K, d)
        variances = a[:, None] ** 2 * stds[None] ** 2 + b[:, None] ** 2  # (B, K)
        log_terms, diff = _component_terms(x.to(means.dtype), centres, variances, torch.log(weights))
        resp = torch.softmax(log_terms, dim=1)
        return (-(resp[:, :, None] * diff / variances[:, :, None]).sum(1)).to(x.dtype)


# ---------------------------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------------------------
def _call(model: ScoreModel, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None) -> torch.Tensor:
    return model(x, t) if y is None else model(x, t, y)


def _training_draws(z: torch.Tensor, generator: torch.Generator | None, t: torch.Tensor | None,
                    noise: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    if z.dim() < 2:
        raise ValueError(f"z must be a batch of shape (B, ...), got {tuple(z.shape)}")
    batch = z.shape[0]
    if t is None:
        t = rand((batch,), z.device, generator, z.dtype)
    t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
    if t.shape != (batch,):
        raise ValueError(f"t must have shape ({batch},), got {tuple(t.shape)}")
    if noise is None:
        noise = randn(tuple(z.shape), z.device, generator, z.dtype)
    if noise.shape != z.shape:
        raise ValueError(f"noise must have the shape of z {tuple(z.shape)}, got {tuple(noise.shape)}")
    return t, noise


def _labels(model: ScoreModel, y: torch.Tensor | None, p_uncond: float, null_label: int | None,
            generator: torch.Generator | None) -> torch.Tensor | None:
    if y is None or p_uncond <= 0:
        return y
    return drop_labels(y, p_uncond, resolve_null_label(model, null_label), generator)


def _squared_norm(v: torch.Tensor) -> torch.Tensor:
    return (v**2).flatten(1).sum(1)


def dsm_loss(score_model: ScoreModel, z: torch.Tensor, path: GaussianPath, generator: torch.Generator | None = None,
             *, t: torch.Tensor | None = None, noise: torch.Tensor | None = None, weighting: str = "beta2",
             y: torch.Tensor | None = None, p_uncond: float = 0.0, null_label: int | None = None) -> torch.Tensor:
    """Denoising score matching for a Gaussian path:

    .. math:: L(\\theta) = \\mathbb E_{t, z, \\varepsilon}\\ \\lambda_t \\Big\\lVert s_\\theta(x_t, t) + \\frac{x_t - \\alpha_t z}{\\beta_t^2}\\Big\\rVert^2,
              \\qquad x_t = \\alpha_t z + \\beta_t \\varepsilon,

    whose target is the conditional score :math:`-(x_t - \\alpha_t z)/\\beta_t^2 = -\\varepsilon/\\beta_t`.
    ``weighting="none"`` is :math:`\\lambda_t = 1` (its target grows like
    :math:`1/\\beta_t` as :math:`t \\to 1`); ``weighting="beta2"`` (default) is
    :math:`\\lambda_t = \\beta_t^2`, computed as :math:`\\lVert \\beta_t s_\\theta + \\varepsilon\\rVert^2`
    without dividing by :math:`\\beta_t`, which is the noise-prediction loss for
    :math:`\\varepsilon_\\theta = -\\beta_t s_\\theta`.

    ``z`` is a batch of data (B, ...); ``t`` (B,) and ``noise`` (the shape of
    ``z``) are drawn from ``generator`` (t uniform on [0, 1)) unless given.
    The expectation is the batch mean of the squared norm over all
    non-batch dimensions. Labels ``y`` are passed to the model as
    ``score_model(x_t, t, y)``, each replaced by ``null_label`` with
    probability ``p_uncond`` (label dropout for classifier-free guidance).
    """
    if weighting not in ("beta2", "none"):
        raise ValueError(f"weighting must be 'beta2' or 'none', got {weighting!r}")
    t, noise = _training_draws(z, generator, t, noise)
    shape = (-1,) + (1,) * (z.dim() - 1)
    alpha, beta = path.alpha(t).reshape(shape), path.beta(t).reshape(shape)
    x_t = alpha * z + beta * noise
    y = _labels(score_model, y, p_uncond, null_label, generator)
    with autocast(z.device):
        score = _call(score_model, x_t, t, y).to(z.dtype)
    if weighting == "beta2":
        residual = beta * score + noise                      # beta * (s_theta - (-(x_t - alpha z) / beta^2))
    else:
        residual = score + (x_t - alpha * z) / beta**2
    return _squared_norm(residual).mean()


def noise_prediction_loss(noise_model: ScoreModel, z: torch.Tensor, path: GaussianPath,
                          generator: torch.Generator | None = None, *, t: torch.Tensor | None = None,
                          noise: torch.Tensor | None = None, y: torch.Tensor | None = None, p_uncond: float = 0.0,
                          null_label: int | None = None) -> torch.Tensor:
    """:math:`\\mathbb E_{t, z, \\varepsilon} \\lVert \\varepsilon_\\theta(\\alpha_t z + \\beta_t \\varepsilon, t) - \\varepsilon\\rVert^2`.

    The network predicts the noise; its score is :math:`s_\\theta = -\\varepsilon_\\theta / \\beta_t`
    (:class:`ScoreFromNoise`), and this loss equals :func:`dsm_loss` with
    ``weighting="beta2"`` for that score. Arguments as in :func:`dsm_loss`.
    """
    t, noise = _training_draws(z, generator, t, noise)
    shape = (-1,) + (1,) * (z.dim() - 1)
    x_t = path.alpha(t).reshape(shape) * z + path.beta(t).reshape(shape) * noise
    y = _labels(noise_model, y, p_uncond, null_label, generator)
    with autocast(z.device):
        prediction = _call(noise_model, x_t, t, y).to(z.dtype)
    return _squared_norm(prediction - noise).mean()


class ScoreFromNoise(nn.Module):
    """The score model :math:`s_\\theta(x, t) = -\\varepsilon_\\theta(x, t) / \\beta_t` of a noise predictor.

    ``forward(x, t, y=None)`` calls ``noise_model(x, t)`` (or ``(x, t, y)``
    when labels are given) and divides by :math:`-\\beta_t`; it needs
    :math:`t < 1` (:math:`\\beta_1 = 0`).
    """

    def __init__(self, noise_model: nn.Module, path: GaussianPath):
        super().__init__()
        self.noise_model, self.path = noise_model, path

    @property
    def null_label(self) -> int:
        return self.noise_model.null_label

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None) -> torch.Tensor:
        eps = _call(self.noise_model, x, t, y).to(x.dtype)
        return noise_to_score(self.path, eps, t)


# ---------------------------------------------------------------------------------------------------------------
# SDE simulation
# ---------------------------------------------------------------------------------------------------------------
def euler_maruyama_step(drift: Callable[[torch.Tensor, float], torch.Tensor], sigma: float, x: torch.Tensor, t: float,
                        h: float, noise: torch.Tensor) -> torch.Tensor:
    """One Euler-Maruyama step for :math:`dx = u_t(x)\\,dt + \\sigma_t\\,dW_t`:

    .. math:: x_{t+h} = x_t + h\\, u_t(x_t) + \\sigma_t \\sqrt{h}\\, \\varepsilon,\\qquad \\varepsilon \\sim \\mathcal N(0, I),

    with ``drift(x, t)`` :math:`= u_t(x)`, ``sigma`` :math:`= \\sigma_t` (a number), step ``h > 0`` and
    ``noise`` :math:`= \\varepsilon` of the shape of ``x``. :func:`~genai_foundations.algorithms.solvers.euler_maruyama`
    repeats this step on a grid.
    """
    if h <= 0:
        raise ValueError(f"the step h must be positive, got {h}")
    if noise.shape != x.shape:
        raise ValueError(f"noise must have the shape of x {tuple(x.shape)}, got {tuple(noise.shape)}")
    return x + h * drift(x, t) + sigma * math.sqrt(h) * noise


def denoising_sde_drift(field: torch.Tensor, score: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """:math:`u_t(x) + \\tfrac{\\sigma_t^2}{2}\\, s_t(x)`: the drift of :math:`dx = [u_t + \\tfrac{\\sigma_t^2}{2} \\nabla\\log p_t]\\,dt + \\sigma_t\\,dW`.

    Started from :math:`p_0`, this SDE has the marginals :math:`p_t` of the flow
    :math:`\\dot x = u_t(x)` for every :math:`\\sigma_t \\ge 0` (the extra drift
    cancels the spreading that the noise adds, by the Fokker-Planck equation).
    """
    if field.shape != score.shape:
        raise ValueError(f"field and score must have the same shape, got {tuple(field.shape)} and {tuple(score.shape)}")
    return field + 0.5 * sigma**2 * score


def guided_score(score_model: ScoreModel, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor,
                 w: float) -> torch.Tensor:
    """Classifier-free guidance for scores: :math:`\\tilde s_t(x \\mid y) = (1 - w)\\, s_t(x \\mid \\varnothing) + w\\, s_t(x \\mid y)`.

    The model is called twice, as ``score_model(x, t, None)`` (no label) and
    ``score_model(x, t, y)``; ``w = 1`` is the conditional score, ``w > 1``
    pushes further along what the label adds. The combination is
    :func:`~genai_foundations.algorithms.ddpm.cfg_combine`.
    """
    return cfg_combine(score_model(x, t, None), score_model(x, t, y), w)


def _sigma_at(sigma: Sigma, t: float) -> float:
    value = float(sigma(t)) if callable(sigma) else float(sigma)
    if value < 0:
        raise ValueError(f"sigma must be non-negative, got {value} at t = {t}")
    return value


def reverse_sde_sample(score_model: ScoreModel, path: GaussianPath, x0: torch.Tensor, sigma: Sigma = 1.0,
                       steps: int = 200, *, t0: float = 1e-2, t1: float = 1.0, y: torch.Tensor | None = None,
                       guidance: float = 1.0, generator: torch.Generator | None = None,
                       return_path: bool = False) -> torch.Tensor:
    """Noise to data with the denoising SDE and a score model (Euler-Maruyama, ``steps`` steps from ``t0`` to ``t1``):

    .. math:: dx_t = \\Big[u_t(x_t) + \\frac{\\sigma_t^2}{2} s_t(x_t)\\Big]\\,dt + \\sigma_t\\, dW_t,\\qquad
              u_t(x) = \\Big(\\beta_t^2 \\frac{\\dot\\alpha_t}{\\alpha_t} - \\dot\\beta_t \\beta_t\\Big) s_t(x) + \\frac{\\dot\\alpha_t}{\\alpha_t} x,

    where :math:`s_t` is ``score_model(x, t)`` and :math:`u_t` the vector field
    it implies for the Gaussian path (:func:`~genai_foundations.algorithms.gaussian_paths.score_to_vector_field`).
    ``x0`` is the starting noise, :math:`\\mathcal N(0, I)` samples. ``sigma`` is a
    number or a function of ``t``; ``sigma=0`` gives the probability-flow ODE
    :math:`\\dot x = u_t(x)` (Euler's method). The conversion divides by
    :math:`\\alpha_t`, which vanishes at :math:`t = 0`, so the integration starts
    at a small ``t0 > 0`` (:math:`p_{t_0}` is still almost exactly
    :math:`\\mathcal N(0, I)`); the drift is never evaluated at ``t1``, where
    :math:`\\beta_1 = 0`. With labels ``y`` the score is :func:`guided_score` with weight ``guidance``
    (``guidance=1`` calls the model once, with the labels).
    """
    if not 0 < t0 < t1 <= 1:
        raise ValueError(f"need 0 < t0 < t1 <= 1, got t0={t0}, t1={t1}")

    def score_at(x: torch.Tensor, t: float) -> torch.Tensor:
        if y is None:
            return score_model(x, t)
        if guidance == 1.0:
            return score_model(x, t, y)
        return guided_score(score_model, x, t, y, guidance)

    def drift(x: torch.Tensor, t: float) -> torch.Tensor:
        score = score_at(x, t).to(x.dtype)
        return denoising_sde_drift(score_to_vector_field(path, score, x, t), score, _sigma_at(sigma, t))

    module = score_model if isinstance(score_model, nn.Module) else None
    was_training = module.training if module is not None else False
    if module is not None:
        module.eval()
    try:
        return euler_maruyama(drift, lambda t: _sigma_at(sigma, t), x0, t0, t1, steps, generator, return_path)
    finally:
        if module is not None:
            module.train(was_training)


def langevin_sample(score: ScoreModel, x0: torch.Tensor, step_size: float, steps: int,
                    generator: torch.Generator | None = None, *, t: float | None = None,
                    return_path: bool = False) -> torch.Tensor:
    """Langevin dynamics :math:`dx = \\tfrac{\\sigma^2}{2}\\nabla\\log p(x)\\,dt + \\sigma\\,dW`, discretised as

    .. math:: x_{k+1} = x_k + \\tfrac{\\eta}{2}\\, s(x_k) + \\sqrt{\\eta}\\, \\varepsilon_k

    (Euler-Maruyama with :math:`\\sigma^2 h = \\eta`), whose stationary distribution is
    :math:`p` (up to a bias of order :math:`\\eta`). ``score(x)`` is
    :math:`\\nabla\\log p`; with ``t`` given, ``score`` is a time-conditioned model
    called as ``score(x, t)``, and the dynamics target the marginal :math:`p_t`.
    The iteration is :func:`~genai_foundations.algorithms.solvers.langevin`.
    """
    if t is None:
        return langevin(score, x0, step_size, steps, generator, return_path)
    return langevin(lambda x: score(x, t), x0, step_size, steps, generator, return_path)

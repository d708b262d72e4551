"""Gaussian probability paths, shared by the flow-matching and score chapters.

Time runs from :math:`t = 0` (pure noise) to :math:`t = 1` (data). Given a
data point :math:`z`, the *conditional path* is

.. math:: p_t(x \\mid z) = \\mathcal N(\\alpha_t z,\\ \\beta_t^2 I), \\qquad
          x_t = \\alpha_t z + \\beta_t \\varepsilon,\\ \\varepsilon \\sim \\mathcal N(0, I),

with :math:`\\alpha_0 = 0, \\beta_0 = 1` and :math:`\\alpha_1 = 1, \\beta_1 = 0`.
Everything a Gaussian path needs follows from :math:`\\alpha_t, \\beta_t` and
their time derivatives:

* the conditional vector field (:func:`conditional_vector_field`)
  :math:`u_t(x \\mid z) = (\\dot\\alpha_t - \\tfrac{\\dot\\beta_t}{\\beta_t}\\alpha_t) z + \\tfrac{\\dot\\beta_t}{\\beta_t} x`,
* the conditional score (:func:`conditional_score`)
  :math:`\\nabla_x \\log p_t(x \\mid z) = -(x - \\alpha_t z) / \\beta_t^2`,
* the conversions between a score and a vector field
  (:func:`score_to_vector_field`, :func:`vector_field_to_score`), valid for
  the marginal quantities as well as the conditional ones,
* the noise-predictor view :math:`\\varepsilon = -\\beta_t\\, s` (:func:`noise_to_score`).
"""

from __future__ import annotations

import math

import torch



class GaussianPath:
    """A schedule :math:`(\\alpha_t, \\beta_t)` with its derivatives; subclasses define the four functions."""

    name = "gaussian"

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def beta(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def alpha_dot(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def beta_dot(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LinearPath(GaussianPath):
    """:math:`\\alpha_t = t,\\ \\beta_t = 1 - t` (the straight-line or rectified-flow path).

    Its conditional vector field is the constant :math:`z - \\varepsilon`
    along each straight line from the noise :math:`\\varepsilon` to the data point :math:`z`.
    """

    name = "linear"

    def alpha(self, t):
        return t

    def beta(self, t):
        return 1 - t

    def alpha_dot(self, t):
        return torch.ones_like(t)

    def beta_dot(self, t):
        return -torch.ones_like(t)


class CosinePath(GaussianPath):
    """:math:`\\alpha_t = \\sin(\\pi t / 2),\\ \\beta_t = \\cos(\\pi t / 2)` (variance preserving: :math:`\\alpha_t^2 + \\beta_t^2 = 1`)."""

    name = "cosine"

    def alpha(self, t):
        return torch.sin(0.5 * math.pi * t)

    def beta(self, t):
        return torch.cos(0.5 * math.pi * t)

    def alpha_dot(self, t):
        return 0.5 * math.pi * torch.cos(0.5 * math.pi * t)

    def beta_dot(self, t):
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)


def make_path(name: str) -> GaussianPath:
    """The path called ``name``: ``"linear"`` or ``"cosine"``."""
    paths = {"linear": LinearPath, "cosine": CosinePath}
    if name not in paths:
        raise ValueError(f"unknown path {name!r}; expected one of {sorted(paths)}")
    return paths[name]()


def broadcast_time(t: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """``t`` as a tensor that broadcasts against ``x`` (B, ...): a scalar or one time per example."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    if t.dim() == 0:
        return t
    if t.dim() != 1 or t.shape[0] != x.shape[0]:
        raise ValueError(f"t must be a scalar or have shape ({x.shape[0]},), got {tuple(t.shape)}")
    return t.reshape(-1, *([1] * (x.dim() - 1)))


def sample_conditional(path: GaussianPath, z: torch.Tensor, t: torch.Tensor | float, noise: torch.Tensor) -> torch.Tensor:
    """:math:`x_t = \\alpha_t z + \\beta_t \\varepsilon`, a draw from :math:`p_t(\\cdot \\mid z)`."""
    if noise.shape != z.shape:
        raise ValueError(f"noise must have the shape of z {tuple(z.shape)}, got {tuple(noise.shape)}")
    t = broadcast_time(t, z)
    return path.alpha(t) * z + path.beta(t) * noise


def conditional_vector_field(path: GaussianPath, x: torch.Tensor, z: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """:math:`u_t(x \\mid z) = (\\dot\\alpha_t - \\frac{\\dot\\beta_t}{\\beta_t}\\alpha_t) z + \\frac{\\dot\\beta_t}{\\beta_t} x` (needs :math:`\\beta_t > 0`, i.e. :math:`t < 1`)."""
    t = broadcast_time(t, x)
    ratio = path.beta_dot(t) / path.beta(t)
    return (path.alpha_dot(t) - ratio * path.alpha(t)) * z + ratio * x


def conditional_score(path: GaussianPath, x: torch.Tensor, z: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """:math:`\\nabla_x \\log p_t(x \\mid z) = -(x - \\alpha_t z) / \\beta_t^2`."""
    t = broadcast_time(t, x)
    return -(x - path.alpha(t) * z) / path.beta(t) ** 2


def score_to_vector_field(path: GaussianPath, score: torch.Tensor, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """:math:`u_t(x) = (\\beta_t^2 \\frac{\\dot\\alpha_t}{\\alpha_t} - \\dot\\beta_t \\beta_t)\\, s_t(x) + \\frac{\\dot\\alpha_t}{\\alpha_t} x` (needs :math:`\\alpha_t > 0`, i.e. :math:`t > 0`)."""
    t = broadcast_time(t, x)
    a, b, ad, bd = path.alpha(t), path.beta(t), path.alpha_dot(t), path.beta_dot(t)
    return (b**2 * ad / a - bd * b) * score + (ad / a) * x


def vector_field_to_score(path: GaussianPath, field: torch.Tensor, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """The inverse of :func:`score_to_vector_field`: :math:`s_t(x) = (u_t(x) - \\frac{\\dot\\alpha_t}{\\alpha_t} x) / (\\beta_t^2 \\frac{\\dot\\alpha_t}{\\alpha_t} - \\dot\\beta_t \\beta_t)`."""
    t = broadcast_time(t, x)
    a, b, ad, bd = path.alpha(t), path.beta(t), path.alpha_dot(t), path.beta_dot(t)
    return (field - (ad / a) * x) / (b**2 * ad / a - bd * b)


def noise_to_score(path: GaussianPath, noise_prediction: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
    """:math:`s_t(x) = -\\varepsilon_\\theta(x, t) / \\beta_t` (the noise predictor is :math:`\\varepsilon_\\theta = -\\beta_t s_\\theta`)."""
    t = broadcast_time(t, noise_prediction)
    return -noise_prediction / path.beta(t)

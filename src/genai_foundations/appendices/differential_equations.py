"""The differential equations behind flows and diffusion models, solved in 1-D (chapter 20).

A particle that follows the *flow ODE* :math:`\\dot x_t = u_t(x_t)` or the
*diffusion SDE* :math:`dx_t = u_t(x_t)\\,dt + \\sigma_t\\,dW_t` carries a density
:math:`p_t` that obeys a partial differential equation: the *continuity
equation* for the ODE and the *Fokker-Planck equation* for the SDE,

.. math:: \\partial_t p_t = -\\partial_x (p_t u_t) \\qquad\\text{and}\\qquad
          \\partial_t p_t = -\\partial_x (p_t u_t) + \\tfrac{\\sigma_t^2}{2}\\, \\partial_x^2 p_t .

This module holds what the chapter needs to check those claims numerically on a
line, where a density fits on a grid:

* :class:`Grid1D` and helpers for densities on it (:func:`histogram_density`,
  :func:`grid_moments`, :func:`l1_distance`, :func:`kl_divergence`,
  :func:`sampling_l1_floor`, :func:`coarsen`);
* finite-volume solvers of both PDEs in flux form with zero-flux (mass
  conserving) ends and a time step picked from a CFL condition
  (:func:`fokker_planck_rhs`, :func:`fokker_planck_step`,
  :func:`stable_time_step`, :func:`solve_fokker_planck`,
  :func:`solve_continuity`), and the pointwise residual of the PDE
  (:func:`fokker_planck_residual`);
* closed forms: the moments of the Ornstein-Uhlenbeck process
  (:func:`ou_mean_var`), 1-D Gaussian mixtures with their exact score
  (:class:`GaussianMixture1D`, the shared
  :class:`~genai_foundations.algorithms.score_matching.GaussianMixture` with
  elementwise methods) and the probability path they induce under a
  Gaussian path of :mod:`genai_foundations.algorithms.gaussian_paths`, with its
  exact vector field, score and (for one component) flow map
  (:class:`MixtureProbabilityPath`).

Particles are simulated with the shared solvers of
:mod:`genai_foundations.algorithms.solvers` (``euler_ode``, ``heun_ode``,
``euler_maruyama``, ``langevin``). :func:`ou_euler_maruyama` spells out
Euler-Maruyama for the Ornstein-Uhlenbeck process with given noise; it is the
reference of the chapter's exercise and is tested against the shared solver.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Sequence

import torch

from genai_foundations.algorithms.gaussian_paths import GaussianPath, LinearPath
from genai_foundations.algorithms.score_matching import GaussianMixture
from genai_foundations.runtime import randn

Field = Callable[[torch.Tensor, float], torch.Tensor]
Diffusion = float | Callable[[float], float]

__all__ = [
    "GaussianMixture1D", "Grid1D", "GridSolution", "MixtureProbabilityPath", "coarsen", "fokker_planck_residual",
    "fokker_planck_rhs", "fokker_planck_step", "grid_moments", "histogram_density", "kl_divergence", "l1_distance",
    "ou_euler_maruyama", "ou_mean_var", "sampling_l1_floor", "solve_continuity", "solve_fokker_planck",
    "stable_time_step",
]


# ---------------------------------------------------------------------------------------------------------------
# A uniform grid and densities on it
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Grid1D:
    """A uniform grid of ``num_cells`` cells on :math:`[x_{\\min}, x_{\\max}]` (finite-volume view).

    A density on the grid is a tensor of shape (..., num_cells) holding the
    *average* of :math:`p` over each cell, so that its mass is
    :math:`\\sum_i p_i\\,\\Delta x`. Velocities are evaluated at the
    ``num_cells + 1`` cell edges, where the fluxes live.
    """

    x_min: float
    x_max: float
    num_cells: int
    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float64

    @classmethod
    def uniform(cls, x_min: float, x_max: float, num_cells: int, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float64) -> "Grid1D":
        """The grid with cells of width :math:`\\Delta x = (x_{\\max} - x_{\\min}) / \\text{num\\_cells}`."""
        if not x_max > x_min:
            raise ValueError(f"x_max must be larger than x_min, got [{x_min}, {x_max}]")
        if not isinstance(num_cells, int) or num_cells < 3:
            raise ValueError(f"num_cells must be an int of at least 3, got {num_cells!r}")
        return cls(float(x_min), float(x_max), num_cells, torch.device(device), dtype)

    @property
    def dx(self) -> float:
        """The cell width :math:`\\Delta x`."""
        return (self.x_max - self.x_min) / self.num_cells

    @cached_property
    def edges(self) -> torch.Tensor:
        """The ``num_cells + 1`` cell edges :math:`x_{i-1/2}`."""
        return torch.linspace(self.x_min, self.x_max, self.num_cells + 1, device=self.device, dtype=self.dtype)

    @cached_property
    def centers(self) -> torch.Tensor:
        """The ``num_cells`` cell centres :math:`x_i`."""
        index = torch.arange(self.num_cells, device=self.device, dtype=self.dtype)
        return self.x_min + (index + 0.5) * self.dx

    def coarsen(self, factor: int) -> "Grid1D":
        """The grid whose cells join ``factor`` neighbouring cells of this one (see :func:`coarsen`)."""
        if factor < 1 or self.num_cells % factor:
            raise ValueError(f"factor must divide num_cells = {self.num_cells}, got {factor}")
        return Grid1D.uniform(self.x_min, self.x_max, self.num_cells // factor, self.device, self.dtype)


def coarsen(p: torch.Tensor, factor: int) -> torch.Tensor:
    """Cell averages on the grid ``grid.coarsen(factor)``: the mean of each run of ``factor`` cells."""
    if factor < 1 or p.shape[-1] % factor:
        raise ValueError(f"factor must divide the number of cells {p.shape[-1]}, got {factor}")
    return p.reshape(*p.shape[:-1], p.shape[-1] // factor, factor).mean(-1)


def histogram_density(samples: torch.Tensor, grid: Grid1D) -> torch.Tensor:
    """Histogram of 1-D ``samples`` (any shape, flattened) as a density on ``grid``: counts / (n * dx).

    Samples outside :math:`[x_{\\min}, x_{\\max}]` are counted in ``n`` but in
    no cell, so the mass of the result tells how much fell outside.
    """
    x = samples.detach().reshape(-1).to(grid.device, grid.dtype)
    if x.numel() == 0:
        raise ValueError("histogram_density needs at least one sample")
    index = torch.bucketize(x, grid.edges, right=True) - 1
    index = torch.where(x == grid.x_max, torch.full_like(index, grid.num_cells - 1), index)
    inside = (index >= 0) & (index < grid.num_cells)
    counts = torch.bincount(index[inside], minlength=grid.num_cells)
    return counts.to(grid.dtype) / (x.numel() * grid.dx)


def grid_moments(p: torch.Tensor, grid: Grid1D) -> tuple[float, float, float]:
    """Mass :math:`\\sum_i p_i \\Delta x`, mean and variance of a density on ``grid`` (midpoint rule)."""
    _check_density(p, grid)
    x = grid.centers.to(p)
    mass = p.sum() * grid.dx
    mean = (x * p).sum() * grid.dx / mass
    var = ((x - mean) ** 2 * p).sum() * grid.dx / mass
    return float(mass), float(mean), float(var)


def l1_distance(p: torch.Tensor, q: torch.Tensor, grid: Grid1D) -> float:
    """:math:`\\int |p - q|\\,dx \\approx \\sum_i |p_i - q_i|\\,\\Delta x` (twice the total-variation distance)."""
    _check_density(p, grid)
    _check_density(q, grid)
    return float((p - q).abs().sum() * grid.dx)


def kl_divergence(p: torch.Tensor, q: torch.Tensor, grid: Grid1D) -> float:
    """:math:`\\mathrm{KL}(p \\,\\|\\, q) = \\int p \\log(p / q)\\,dx` on the grid (cells with :math:`p_i = 0` add nothing)."""
    _check_density(p, grid)
    _check_density(q, grid)
    positive = p > 0
    if bool((positive & (q <= 0)).any()):
        return math.inf
    terms = torch.where(positive, p * (p.clamp_min(1e-300).log() - q.clamp_min(1e-300).log()), torch.zeros_like(p))
    return float(terms.sum() * grid.dx)


def sampling_l1_floor(p: torch.Tensor, grid: Grid1D, num_samples: int) -> float:
    """The L1 distance expected between ``p`` and the histogram of ``num_samples`` exact draws from it.

    A cell with probability :math:`P_i = p_i \\Delta x` receives a binomial
    count; its histogram error has mean absolute value close to
    :math:`\\sqrt{2 P_i (1 - P_i) / (\\pi n)}`, and the floor is the sum over
    cells. A particle method cannot be judged more finely than this.
    """
    _check_density(p, grid)
    if num_samples < 1:
        raise ValueError(f"num_samples must be positive, got {num_samples}")
    cell_mass = (p * grid.dx).clamp(0, 1)
    return float((2 * cell_mass * (1 - cell_mass) / (math.pi * num_samples)).sqrt().sum())


def _check_density(p: torch.Tensor, grid: Grid1D) -> None:
    if not isinstance(p, torch.Tensor) or p.shape[-1:] != (grid.num_cells,):
        shape = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
        raise ValueError(f"expected a density of shape (..., {grid.num_cells}) on the grid, got {shape}")


# ---------------------------------------------------------------------------------------------------------------
# 1-D Gaussian mixtures and their probability paths (exact densities, scores and vector fields)
# ---------------------------------------------------------------------------------------------------------------
def _log_joint(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor,
               variances: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:math:`\\log w_k + \\log \\mathcal N(x; m_k, v_k)` and :math:`x - m_k`, shape (K, *x.shape), with :math:`v_k` shaped to broadcast.

    The component axis comes first: elementwise work on (K, N) tensors is much
    faster than on (N, K) ones when K is small (the particle simulations call
    this for tens of thousands of points at every step).
    """
    shape = (-1,) + (1,) * x.dim()
    m, var = means.to(x.device, x.dtype).reshape(shape), variances.to(x.device, x.dtype).reshape(shape)
    constant = weights.to(x.device, x.dtype).log().reshape(shape) - 0.5 * torch.log(2 * math.pi * var)
    diff = x - m
    return constant - 0.5 * diff**2 / var, diff, var


class GaussianMixture1D(GaussianMixture):
    """A :class:`~genai_foundations.algorithms.score_matching.GaussianMixture` on the line, with elementwise methods.

    :math:`p(x) = \\sum_k w_k\\, \\mathcal N(x; \\mu_k, s_k^2)`, built as
    ``GaussianMixture1D(means, stds, weights)`` (the argument order of the
    parent class; uniform weights when omitted). Everything the parent class
    offers (validation, ``log_prob``/``score``/``path_score`` on (B, 1) batches,
    ``along_path``, ``sample``) is inherited; this class adds what a density on a
    grid needs, with **points given as tensors of any shape** (each entry is a
    point): :meth:`log_density`, :meth:`density`, :meth:`score`, :meth:`cdf`,
    :meth:`cell_average`, :meth:`sample_points`, and the moments :attr:`mean`
    and :attr:`var`. On a (B, 1) tensor, :meth:`score` agrees with the parent's.
    The score is :math:`-\\sum_k r_k(x)\\,(x - \\mu_k)/s_k^2` with the
    responsibilities :math:`r_k(x) = w_k \\mathcal N(x; \\mu_k, s_k^2) / p(x)`.
    """

    def __init__(self, means: Sequence[float] | torch.Tensor, stds: Sequence[float] | torch.Tensor | float,
                 weights: Sequence[float] | torch.Tensor | None = None):
        super().__init__(torch.as_tensor(means, dtype=torch.float64).reshape(-1, 1), stds, weights)

    def __repr__(self) -> str:
        def fmt(v: torch.Tensor) -> str:
            return "[" + ", ".join(f"{float(a):.4g}" for a in v.reshape(-1)) + "]"
        return f"GaussianMixture1D(means={fmt(self.means)}, stds={fmt(self.stds)}, weights={fmt(self.weights)})"

    def _elementwise(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return _log_joint(x, self.weights, self.means[:, 0], self.stds**2)

    def log_density(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p(x)`, elementwise."""
        return torch.logsumexp(self._elementwise(x)[0], dim=0)

    def density(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`p(x)`, elementwise."""
        return self.log_density(x).exp()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`\\nabla_x \\log p(x) = -\\sum_k r_k(x)\\,(x - \\mu_k)/s_k^2`, elementwise (any shape)."""
        log_joint, diff, var = self._elementwise(x)
        return -(torch.softmax(log_joint, dim=0) * (diff / var)).sum(0)

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`P(X \\le x) = \\sum_k w_k\\, \\Phi((x - \\mu_k)/s_k)`, elementwise."""
        shape = (-1,) + (1,) * x.dim()
        m, s = self.means[:, 0].to(x.device, x.dtype).reshape(shape), self.stds.to(x.device, x.dtype).reshape(shape)
        w = self.weights.to(x.device, x.dtype).reshape(shape)
        return (w * torch.special.ndtr((x - m) / s)).sum(0)

    def cell_average(self, grid: Grid1D) -> torch.Tensor:
        """The exact average of :math:`p` over each cell, :math:`(F(x_{i+1/2}) - F(x_{i-1/2}))/\\Delta x`.

        Each component's difference is taken in its nearer tail (with
        :math:`1 - \\Phi(a) = \\Phi(-a)`), so that far-tail cells keep their tiny
        but positive mass instead of cancelling to zero.
        """
        edges = grid.edges
        m, s = self.means[:, 0].to(edges), self.stds.to(edges)
        z = (edges[:, None] - m) / s                                  # (N + 1, K)
        lower, upper = z[:-1], z[1:]
        mass = torch.where(lower > 0, torch.special.ndtr(-lower) - torch.special.ndtr(-upper),
                           torch.special.ndtr(upper) - torch.special.ndtr(lower))
        average = (self.weights.to(edges) * mass).sum(-1) / grid.dx
        return torch.where(average > 0, average, self.density(grid.centers))

    @property
    def mean(self) -> float:
        """:math:`\\sum_k w_k \\mu_k`."""
        return float((self.weights * self.means[:, 0]).sum())

    @property
    def var(self) -> float:
        """:math:`\\sum_k w_k (s_k^2 + \\mu_k^2) - (\\sum_k w_k \\mu_k)^2`."""
        second = (self.weights * (self.stds**2 + self.means[:, 0] ** 2)).sum()
        return float(second) - self.mean**2

    def sample_points(self, num_samples: int, generator: torch.Generator | None = None,
                      device: torch.device | str = "cpu", dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``num_samples`` draws as a flat tensor (num_samples,): :meth:`sample` without the coordinate axis."""
        return self.sample(num_samples, generator, device, dtype=dtype)[:, 0]


def _time(t: float | torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(t, dtype=torch.float64).detach().cpu()
    if t.dim() != 0:
        raise ValueError(f"t must be a number, got a tensor of shape {tuple(t.shape)}")
    return t


class MixtureProbabilityPath:
    """The marginal path :math:`p_t` when the data is a 1-D Gaussian mixture and :math:`x_t = \\alpha_t z + \\beta_t \\varepsilon`.

    For data :math:`z \\sim \\sum_k w_k \\mathcal N(\\mu_k, s_k^2)` and a Gaussian path
    (default :class:`~genai_foundations.algorithms.gaussian_paths.LinearPath`,
    :math:`\\alpha_t = t, \\beta_t = 1 - t`; :math:`t = 0` noise, :math:`t = 1` data), every marginal is
    again a mixture:

    .. math:: p_t = \\sum_k w_k\\, \\mathcal N(m_k(t), v_k(t)),\\qquad m_k = \\alpha_t \\mu_k,\\quad
              v_k = \\alpha_t^2 s_k^2 + \\beta_t^2 .

    Its exact (marginal) vector field is the responsibility-weighted average of
    the fields that move each Gaussian component along its own path,

    .. math:: u_t(x) = \\sum_k r_k(x, t) \\Big(\\dot m_k + \\frac{\\dot v_k}{2 v_k}(x - m_k)\\Big),

    so the flow ODE :math:`\\dot x = u_t(x)` started from :math:`p_0 = \\mathcal N(0, 1)`
    has :math:`x_t \\sim p_t` (the continuity equation holds), and the score
    :math:`\\nabla \\log p_t` is the one of :meth:`GaussianMixture1D.score`. With
    one component this is the Gaussian-to-Gaussian flow, whose flow map is
    known in closed form (:meth:`flow_map`).
    """

    def __init__(self, data: GaussianMixture1D, path: GaussianPath | None = None):
        if not isinstance(data, GaussianMixture1D):
            raise ValueError(f"data must be a GaussianMixture1D, got {type(data).__name__}")
        self.data = data
        self.path = LinearPath() if path is None else path

    def __repr__(self) -> str:
        return f"MixtureProbabilityPath({self.data!r}, {self.path!r})"

    def component_moments(self, t: float | torch.Tensor) -> tuple[torch.Tensor, ...]:
        """:math:`(m_k, v_k, \\dot m_k, \\dot v_k)` at time ``t``, each of shape (K,) (float64, CPU)."""
        t = _time(t)
        a, b = self.path.alpha(t), self.path.beta(t)
        ad, bd = self.path.alpha_dot(t), self.path.beta_dot(t)
        mu, s2 = self.data.means[:, 0], self.data.stds**2
        return a * mu, a**2 * s2 + b**2, ad * mu, 2 * a * ad * s2 + 2 * b * bd

    def marginal(self, t: float | torch.Tensor) -> GaussianMixture1D:
        """:math:`p_t` as a :class:`GaussianMixture1D`."""
        return self.data.along_path(self.path, float(_time(t)))

    def density(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        return self.marginal(t).density(x)

    def score(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The exact marginal score :math:`\\nabla_x \\log p_t(x)`."""
        return self.marginal(t).score(x)

    def vector_field(self, x: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
        """The exact marginal vector field :math:`u_t(x)` (formula in the class docstring); call as ``field(x, t)``."""
        return self._drift(x, t, 0.0)

    def denoising_drift(self, sigma: Diffusion) -> Field:
        """The drift :math:`u_t(x) + \\tfrac{\\sigma_t^2}{2} \\nabla \\log p_t(x)` of the denoising SDE.

        With :math:`dx = [u_t + \\tfrac{\\sigma_t^2}{2}\\nabla\\log p_t]\\,dt + \\sigma_t\\,dW_t` the
        marginals are the same :math:`p_t` for every :math:`\\sigma_t \\ge 0`.
        """
        def drift(x: torch.Tensor, t: float) -> torch.Tensor:
            s = float(sigma(t)) if callable(sigma) else float(sigma)
            return self._drift(x, t, 0.5 * s**2)
        return drift

    def _drift(self, x: torch.Tensor, t: float | torch.Tensor, score_weight: float) -> torch.Tensor:
        """:math:`u_t(x) + c\\,\\nabla\\log p_t(x) = \\sum_k r_k \\big(\\dot m_k + (\\tfrac{\\dot v_k}{2 v_k} - \\tfrac{c}{v_k})(x - m_k)\\big)` in one pass."""
        m, v, m_dot, v_dot = self.component_moments(t)
        log_joint, diff, _ = _log_joint(x, self.data.weights, m, v)
        shape = (-1,) + (1,) * x.dim()
        rate = ((0.5 * v_dot - score_weight) / v).to(x.device, x.dtype).reshape(shape)
        return (torch.softmax(log_joint, dim=0) * (m_dot.to(x.device, x.dtype).reshape(shape) + rate * diff)).sum(0)

    def mean(self, t: float | torch.Tensor) -> float:
        return self.marginal(t).mean

    def var(self, t: float | torch.Tensor) -> float:
        return self.marginal(t).var

    def flow_map(self, x0: torch.Tensor, t0: float, t1: float) -> torch.Tensor:
        """Where the flow ODE takes ``x0`` from ``t0`` to ``t1``; closed form for one component only.

        For a Gaussian path of Gaussian data the ODE keeps the standardised
        position fixed: :math:`x_{t_1} = m(t_1) + \\sqrt{v(t_1)/v(t_0)}\\,(x_{t_0} - m(t_0))`.
        """
        if len(self.data.weights) != 1:
            raise ValueError("flow_map has a closed form only for one Gaussian component; "
                             "integrate vector_field with an ODE solver for a mixture")
        m0, v0, _, _ = self.component_moments(t0)
        m1, v1, _, _ = self.component_moments(t1)
        scale = (v1 / v0).sqrt().to(x0.device, x0.dtype)
        return m1.to(x0.device, x0.dtype) + scale * (x0 - m0.to(x0.device, x0.dtype))


# ---------------------------------------------------------------------------------------------------------------
# The Ornstein-Uhlenbeck process: dx = -theta (x - mu) dt + sigma dW
# ---------------------------------------------------------------------------------------------------------------
def ou_mean_var(t: float | torch.Tensor, mean0: float | torch.Tensor, var0: float | torch.Tensor, theta: float,
                sigma: float, mu: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance at time ``t`` of the Ornstein-Uhlenbeck process :math:`dx = -\\theta (x - \\mu)\\,dt + \\sigma\\,dW`.

    Started from a distribution with mean :math:`m_0` and variance :math:`v_0`,

    .. math:: m(t) = \\mu + (m_0 - \\mu)\\, e^{-\\theta t},\\qquad
              v(t) = v_0\\, e^{-2\\theta t} + \\frac{\\sigma^2}{2\\theta}\\big(1 - e^{-2\\theta t}\\big),

    (for :math:`\\theta = 0`, Brownian motion, :math:`v(t) = v_0 + \\sigma^2 t`). A Gaussian
    start stays Gaussian, so these two numbers are the whole solution of its
    Fokker-Planck equation. ``t`` may be a tensor of times; the result has its shape.
    """
    t = t if isinstance(t, torch.Tensor) else torch.as_tensor(t, dtype=torch.float64)
    if (t < 0).any():
        raise ValueError("times must be non-negative")
    decay = torch.exp(-theta * t)
    spread = t if theta == 0 else -torch.expm1(-2 * theta * t) / (2 * theta)
    return mu + (mean0 - mu) * decay, var0 * decay**2 + sigma**2 * spread


def ou_euler_maruyama(x0: torch.Tensor, theta: float, sigma: float, h: float, noise: torch.Tensor,
                      mu: float = 0.0) -> torch.Tensor:
    """Euler-Maruyama for the Ornstein-Uhlenbeck process with given standard normal ``noise``.

    :math:`x_{k+1} = x_k - \\theta (x_k - \\mu)\\, h + \\sigma \\sqrt{h}\\, \\varepsilon_k` for
    :math:`k = 0, \\dots, K-1`, where ``noise[k]`` is :math:`\\varepsilon_k` (shape (K, *x0.shape)).
    Returns the path, shape (K + 1, *x0.shape), with ``path[0] = x0``. With noise
    drawn by :func:`genai_foundations.runtime.randn` step after step, this is
    exactly :func:`genai_foundations.algorithms.solvers.euler_maruyama` applied to
    the drift :math:`-\\theta (x - \\mu)`.
    """
    if noise.dim() != x0.dim() + 1 or noise.shape[1:] != x0.shape:
        raise ValueError(f"noise must have shape (steps, *x0.shape) = (K, {', '.join(map(str, x0.shape))}), "
                         f"got {tuple(noise.shape)}")
    if h <= 0:
        raise ValueError(f"the step h must be positive, got {h}")
    path = [x0]
    for eps in noise:
        x = path[-1]
        path.append(x - theta * (x - mu) * h + sigma * math.sqrt(h) * eps)
    return torch.stack(path)


# ---------------------------------------------------------------------------------------------------------------
# Finite-volume solvers of the continuity and Fokker-Planck equations
# ---------------------------------------------------------------------------------------------------------------
SCHEMES = ("upwind", "muscl")


def _minmod(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The smaller of two slopes in size when they have the same sign, else 0."""
    return torch.minimum(a, b).clamp(min=0) + torch.maximum(a, b).clamp(max=0)


def _upwind_parts(u_edges: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:math:`u^+` and :math:`u^-` at the interior edges."""
    u = u_edges[..., 1:-1]
    return u.clamp(min=0), u.clamp(max=0)


def _rhs(p: torch.Tensor, u_pos: torch.Tensor, u_neg: torch.Tensor, sigma: float, dx: float,
         muscl: bool) -> torch.Tensor:
    """:func:`fokker_planck_rhs` without the argument checks (the solver's inner loop)."""
    left, right = p[..., :-1], p[..., 1:]
    jumps = right - left
    if muscl:
        half_slope = torch.nn.functional.pad(0.5 * _minmod(jumps[..., :-1], jumps[..., 1:]), (1, 1))
        left, right = left + half_slope[..., :-1], right - half_slope[..., 1:]
    flux = u_pos * left + u_neg * right
    if sigma != 0:
        flux = flux - (0.5 * sigma**2 / dx) * jumps
    flux = torch.nn.functional.pad(flux, (1, 1))
    return (flux[..., :-1] - flux[..., 1:]) / dx


def _check_fields(p: torch.Tensor, u_edges: torch.Tensor, dx: float) -> None:
    if p.dim() < 1 or p.shape[-1] < 3:
        raise ValueError(f"p must have shape (..., N) with N >= 3 cells, got {tuple(p.shape)}")
    if u_edges.shape[-1] != p.shape[-1] + 1:
        raise ValueError(f"u_edges must hold the velocity at the N + 1 = {p.shape[-1] + 1} cell edges, "
                         f"got shape {tuple(u_edges.shape)}")
    if not dx > 0:
        raise ValueError(f"dx must be positive, got {dx}")


def fokker_planck_rhs(p: torch.Tensor, u_edges: torch.Tensor, sigma: float, dx: float,
                      scheme: str = "upwind") -> torch.Tensor:
    """The right-hand side of :math:`\\partial_t p = -\\partial_x J`, :math:`J = p\\,u - \\tfrac{\\sigma^2}{2} \\partial_x p`, in flux form.

    ``p`` holds cell averages (..., N); ``u_edges`` the velocity at the N + 1
    edges. At each interior edge :math:`i+\\tfrac12` the flux is

    .. math:: J_{i+1/2} = u^+_{i+1/2}\\, p^L_{i+1/2} + u^-_{i+1/2}\\, p^R_{i+1/2}
              - \\frac{\\sigma^2}{2}\\, \\frac{p_{i+1} - p_i}{\\Delta x},

    with :math:`u^\\pm` the positive and negative parts of :math:`u` (the
    density is taken from the side the flow comes from). ``scheme="upwind"``
    uses the cell values :math:`p^L = p_i, p^R = p_{i+1}` (first order);
    ``"muscl"`` reconstructs them with minmod-limited slopes (second order where
    :math:`p` is smooth, no new extrema). The two boundary fluxes are zero, so
    :math:`\\frac{d}{dt}\\sum_i p_i \\Delta x = 0` exactly. Returns
    :math:`dp_i/dt = -(J_{i+1/2} - J_{i-1/2})/\\Delta x`, shape (..., N). With
    ``sigma = 0`` this is the continuity equation.
    """
    _check_fields(p, u_edges, dx)
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {SCHEMES}")
    return _rhs(p, *_upwind_parts(u_edges), sigma, dx, scheme == "muscl")


def fokker_planck_step(p: torch.Tensor, u_edges: torch.Tensor, sigma: float, dx: float, dt: float,
                       scheme: str = "upwind") -> torch.Tensor:
    """One explicit Euler step of the Fokker-Planck equation: :math:`p^{n+1} = p^n - \\frac{\\Delta t}{\\Delta x}(J_{i+1/2} - J_{i-1/2})`.

    The fluxes are those of :func:`fokker_planck_rhs` (upwind advection, central
    diffusion, zero flux through both ends). With ``scheme="upwind"`` the step
    keeps :math:`p \\ge 0` when
    :math:`\\Delta t\\,(2\\max|u|/\\Delta x + \\sigma^2/\\Delta x^2) \\le 1`.
    """
    if dt <= 0:
        raise ValueError(f"dt must be positive, got {dt}")
    return p + dt * fokker_planck_rhs(p, u_edges, sigma, dx, scheme)


def stable_time_step(u_edges: torch.Tensor, sigma: float, dx: float, cfl: float = 0.4) -> float:
    """The CFL time step :math:`\\Delta t = \\text{cfl} / (\\max|u|/\\Delta x + \\sigma^2/\\Delta x^2)`.

    The two terms are the advective Courant number and the diffusion number
    per unit time; the default ``cfl = 0.4`` keeps the upwind scheme
    non-negative (it needs :math:`\\le 1/2`) and the limited one stable.
    Returns ``inf`` when nothing moves.
    """
    return _cfl_step(float(u_edges.abs().max()), sigma, dx, cfl)


def _cfl_step(max_speed: float, sigma: float, dx: float, cfl: float) -> float:
    if not 0 < cfl <= 1:
        raise ValueError(f"cfl must lie in (0, 1], got {cfl}")
    rate = max_speed / dx + sigma**2 / dx**2
    return math.inf if rate == 0 else cfl / rate


@dataclass
class GridSolution:
    """A PDE solution stored at the requested ``times``: ``densities[j]`` is :math:`p_{t_j}` on ``grid``."""

    grid: Grid1D
    times: list[float]
    densities: torch.Tensor
    steps: int

    def at(self, t: float) -> torch.Tensor:
        """The density at one of the stored times."""
        for j, s in enumerate(self.times):
            if math.isclose(s, t, rel_tol=0, abs_tol=1e-9):
                return self.densities[j]
        raise ValueError(f"time {t} was not stored; stored times are {self.times}")


def solve_fokker_planck(p0: torch.Tensor, velocity: Field | torch.Tensor, sigma: Diffusion, grid: Grid1D,
                        times: Sequence[float], t0: float = 0.0, scheme: str = "muscl", cfl: float = 0.4,
                        max_steps: int = 2_000_000) -> GridSolution:
    """Solve :math:`\\partial_t p = -\\partial_x(p\\,u_t) + \\tfrac{\\sigma_t^2}{2}\\partial_x^2 p` from :math:`p_{t_0} = ` ``p0``.

    ``velocity`` is a field ``u(x, t)`` (the signature of the shared ODE/SDE
    solvers), evaluated at the cell edges, or a fixed tensor of edge
    velocities; ``sigma`` is a number or a function of ``t``. Space is
    discretised by :func:`fokker_planck_rhs`; time by Heun's method (the
    average of two Euler steps, as :func:`~genai_foundations.algorithms.solvers.heun_ode`),
    with every step as long as :func:`stable_time_step` allows and shortened
    to land exactly on the requested ``times``. Mass is conserved to rounding.
    """
    _check_density(p0, grid)
    times = [float(s) for s in times]
    if not times or any(b < a for a, b in zip(times, times[1:])) or times[0] < t0:
        raise ValueError(f"times must be a non-empty increasing list, none before t0 = {t0}, got {times}")
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; expected one of {SCHEMES}")
    edges, muscl = grid.edges.to(p0), scheme == "muscl"
    if isinstance(velocity, torch.Tensor):
        if velocity.shape != edges.shape:
            raise ValueError(f"a fixed velocity must be given at the {len(edges)} edges, got {tuple(velocity.shape)}")
        fixed = _upwind_parts(velocity.to(p0))
        fixed_rate = float(velocity.abs().max())

    def parts_at(t: float) -> tuple[torch.Tensor, torch.Tensor, float]:
        """u+, u- at the interior edges and max |u| at time t."""
        if isinstance(velocity, torch.Tensor):
            return (*fixed, fixed_rate)
        u = velocity(edges, t)
        return (*_upwind_parts(u), float(u.abs().max()))

    def sigma_at(t: float) -> float:
        return float(sigma(t)) if callable(sigma) else float(sigma)

    _cfl_step(0.0, 0.0, grid.dx, cfl)  # validates cfl
    p, t, steps, out = p0.clone(), float(t0), 0, []
    for target in times:
        while target - t > 1e-12 * max(1.0, abs(target)):
            u_pos, u_neg, speed = parts_at(t)
            s = sigma_at(t)
            h = min(_cfl_step(speed, s, grid.dx, cfl), target - t)
            predictor = p + h * _rhs(p, u_pos, u_neg, s, grid.dx, muscl)
            u_pos, u_neg, _ = parts_at(t + h)
            corrector = predictor + h * _rhs(predictor, u_pos, u_neg, sigma_at(t + h), grid.dx, muscl)
            p, t, steps = 0.5 * (p + corrector), t + h, steps + 1
            if steps > max_steps:
                raise RuntimeError(f"more than {max_steps} time steps: the velocity or sigma is too large for this grid")
        t = target
        out.append(p.clone())
    return GridSolution(grid, times, torch.stack(out), steps)


def solve_continuity(p0: torch.Tensor, velocity: Field | torch.Tensor, grid: Grid1D, times: Sequence[float],
                     t0: float = 0.0, scheme: str = "muscl", cfl: float = 0.4) -> GridSolution:
    """Solve the continuity equation :math:`\\partial_t p = -\\partial_x (p\\,u_t)`: :func:`solve_fokker_planck` with :math:`\\sigma = 0`."""
    return solve_fokker_planck(p0, velocity, 0.0, grid, times, t0=t0, scheme=scheme, cfl=cfl)


def fokker_planck_residual(p: torch.Tensor, u: torch.Tensor, sigma: float, dx: float,
                           dp_dt: torch.Tensor | None = None) -> torch.Tensor:
    """The residual :math:`\\partial_t p + \\partial_x (p u) - \\tfrac{\\sigma^2}{2}\\partial_x^2 p` by central differences.

    ``p``, ``u`` (and ``dp_dt``) are values at equally spaced points (..., N);
    the residual is returned at the N - 2 interior points:

    .. math:: R_i = \\dot p_i + \\frac{p_{i+1}u_{i+1} - p_{i-1}u_{i-1}}{2\\Delta x}
              - \\frac{\\sigma^2}{2}\\,\\frac{p_{i+1} - 2p_i + p_{i-1}}{\\Delta x^2}.

    ``dp_dt=None`` means :math:`\\dot p = 0`: the residual of the *stationary*
    equation, close to zero (of order :math:`\\Delta x^2`) exactly when ``p`` is a
    stationary density of the SDE :math:`dx = u\\,dt + \\sigma\\,dW`.
    """
    if p.dim() < 1 or p.shape[-1] < 3 or u.shape[-1] != p.shape[-1]:
        raise ValueError(f"p and u must be values at the same N >= 3 points, got shapes {tuple(p.shape)} "
                         f"and {tuple(u.shape)}")
    if not dx > 0:
        raise ValueError(f"dx must be positive, got {dx}")
    flux = p * u
    residual = (flux[..., 2:] - flux[..., :-2]) / (2 * dx) \
        - 0.5 * sigma**2 * (p[..., 2:] - 2 * p[..., 1:-1] + p[..., :-2]) / dx**2
    if dp_dt is not None:
        if dp_dt.shape[-1] != p.shape[-1]:
            raise ValueError(f"dp_dt must have the shape of p {tuple(p.shape)}, got {tuple(dp_dt.shape)}")
        residual = residual + dp_dt[..., 1:-1]
    return residual

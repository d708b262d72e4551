"""Diagrams of chapter 2 (flow matching), drawn from the package's path objects and exact mixture fields.

* :func:`probability_path`: for 1-D Gaussian-mixture data, the marginal probability path
  :math:`p_t(x)` of each Gaussian path as a heat map over (t, x), with trajectories of the
  exact marginal field (solid, they never cross) and straight-line conditional paths
  :math:`x_t = \\alpha_t z + \\beta_t \\varepsilon` (dashed, they cross), and the schedules
  :math:`\\alpha_t, \\beta_t` themselves.
* :func:`regression_difficulty` and :func:`plot_regression_difficulty`: how hard the
  flow-matching regression is at each time t, for mixture data with the exact marginal
  field: the loss floor :math:`C(t)` and the part of the field that no affine function of x
  can represent, beside the logit-normal time density of Stable Diffusion 3.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.colors import PowerNorm

from genai_foundations.algorithms import flow_matching as fm
from genai_foundations.algorithms.gaussian_paths import GaussianPath, LinearPath, sample_conditional


def _white(fig: plt.Figure) -> plt.Figure:
    fig.patch.set_facecolor("white")
    return fig


def _mixture_1d(means, stds, weights):
    means = torch.as_tensor(means, dtype=torch.float64).reshape(-1, 1)
    k = means.shape[0]
    stds = torch.as_tensor(stds, dtype=torch.float64).expand(k).clone()
    weights = torch.full((k,), 1.0 / k, dtype=torch.float64) if weights is None else \
        torch.as_tensor(weights, dtype=torch.float64)
    if (stds <= 0).any():
        raise ValueError("the components need positive standard deviations (p_1 is then a proper density)")
    return means, stds, weights / weights.sum()


@dataclass
class PathPicture:
    """What :func:`probability_path` drew, per path name: the density grid and the trajectories."""

    figure: plt.Figure
    times: torch.Tensor                          # (T,)
    xs: torch.Tensor                             # (X,)
    density: dict[str, torch.Tensor]             # name -> (T, X) values of p_t(x)
    marginal: dict[str, torch.Tensor]            # name -> (steps + 1, n) marginal trajectories
    conditional: dict[str, torch.Tensor]         # name -> (T, n) conditional paths


@torch.no_grad()
def probability_path(paths: dict[str, GaussianPath], means, stds, weights=None, *, num_trajectories: int = 24,
                     x_limits: tuple[float, float] = (-4.0, 4.0), steps: int = 100, seed: int = 0) -> PathPicture:
    """Draw the marginal probability path :math:`p_t` of each Gaussian path for 1-D mixture data.

    Data: :math:`p_{\\text{data}} = \\sum_k \\pi_k \\mathcal N(\\mu_k, s_k^2)` (``means`` (K,),
    ``stds``, ``weights``). For every path (e.g. ``{"linear": LinearPath(), "cosine": CosinePath()}``)
    one panel shows :math:`p_t(x)` (:func:`~genai_foundations.algorithms.flow_matching.marginal_log_density_mixture`)
    as a heat map, ``num_trajectories`` solutions of the exact marginal ODE
    (:class:`~genai_foundations.algorithms.flow_matching.MixtureField`, Heun, ``steps`` steps) started
    at evenly spaced quantiles of :math:`\\mathcal N(0, 1)`, and as many conditional paths
    :math:`\\alpha_t z + \\beta_t \\varepsilon` for random pairs :math:`(z, \\varepsilon)`. The last panel
    shows the schedules. Returns the drawn numbers.
    """
    if not paths:
        raise ValueError("give at least one path")
    means, stds, weights = _mixture_1d(means, stds, weights)
    times = torch.linspace(0.0, 1.0, 201, dtype=torch.float64)
    xs = torch.linspace(*x_limits, 281, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    quantiles = (torch.arange(num_trajectories, dtype=torch.float64) + 0.5) / num_trajectories
    x0 = torch.distributions.Normal(0.0, 1.0).icdf(quantiles)[:, None]
    which = torch.multinomial(weights, num_trajectories, replacement=True, generator=gen)
    z = means[which] + stds[which, None] * torch.randn(num_trajectories, 1, generator=gen, dtype=torch.float64)
    eps = torch.randn(num_trajectories, 1, generator=gen, dtype=torch.float64)

    fig, axes = plt.subplots(1, len(paths) + 1, figsize=(5.2 * len(paths) + 4.2, 4.6),
                             gridspec_kw={"width_ratios": [1.25] * len(paths) + [0.9]})
    density, marginal, conditional = {}, {}, {}
    for ax, (name, path) in zip(axes, paths.items()):
        grid_x = xs[None, :].expand(len(times), -1).reshape(-1, 1)
        grid_t = times[:, None].expand(-1, len(xs)).reshape(-1)
        p = fm.marginal_log_density_mixture(grid_x, grid_t, means, stds, weights, path).exp().reshape(len(times), -1)
        density[name] = p
        ax.imshow(p.T.numpy(), origin="lower", aspect="auto", cmap="Blues",
                  extent=(0, 1, x_limits[0], x_limits[1]), norm=PowerNorm(0.5, vmin=0, vmax=float(p.max())))
        field = fm.MixtureField(means, stds, weights, path=path)
        trajectories = fm.sample(field, x0=x0.clone(), steps=steps, method="heun", return_path=True)[..., 0]
        marginal[name] = trajectories
        step_times = torch.linspace(0, 1, steps + 1)
        for k in range(num_trajectories):
            ax.plot(step_times.numpy(), trajectories[:, k].numpy(), color="tab:orange", linewidth=1.1)
        cond = torch.stack([sample_conditional(path, z, float(t), eps)[:, 0] for t in times])
        conditional[name] = cond
        for k in range(min(num_trajectories, 10)):
            ax.plot(times.numpy(), cond[:, k].numpy(), color="magenta", linewidth=1.0, linestyle="--")
        ax.set(xlabel="t (0 = noise, 1 = data)", ylabel="x", ylim=x_limits,
               title=f"{name} path: $p_t(x)$, marginal ODE (orange),\nconditional paths (dashed magenta)")
    ax = axes[-1]
    for (name, path), style in zip(paths.items(), ("-", "--", ":", "-.")):
        ax.plot(times.numpy(), path.alpha(times).numpy(), color="tab:blue", linestyle=style, label=fr"$\alpha_t$, {name}")
        ax.plot(times.numpy(), path.beta(times).numpy(), color="tab:red", linestyle=style, label=fr"$\beta_t$, {name}")
    ax.set(xlabel="t", title=r"schedules: $x_t = \alpha_t z + \beta_t \varepsilon$", xlim=(0, 1), ylim=(0, 1.05))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _white(fig)
    return PathPicture(fig, times, xs, density, marginal, conditional)


@dataclass
class Difficulty:
    """Per-time quantities of the flow-matching regression (averaged over the coordinates)."""

    times: torch.Tensor            # (T,)
    floor: torch.Tensor            # C(t) = E |u_t(x|z) - u_t(x)|^2 / d, the loss no model can go below
    nonlinear: torch.Tensor        # E |u_t(x) - best affine fit of u_t in x|^2 / d
    target_variance: torch.Tensor  # total variance of the target per coordinate


@torch.no_grad()
def regression_difficulty(means: torch.Tensor, stds, weights=None, path: GaussianPath | None = None,
                          times: torch.Tensor | None = None, n: int = 20_000, seed: int = 0) -> Difficulty:
    """How hard the flow-matching regression is at each time, for Gaussian-mixture data in d dimensions.

    For each ``t`` draw ``n`` triples :math:`(z, \\varepsilon, x_t)`, compute the target
    :math:`\\dot\\alpha_t z + \\dot\\beta_t\\varepsilon` and the exact marginal field :math:`u_t(x_t)`
    (:func:`~genai_foundations.algorithms.flow_matching.marginal_vector_field_mixture`), and return

    * the floor :math:`C(t)`: the mean squared difference of the two, which the CFM loss at
      time t can never go below;
    * the nonlinear part: the mean squared residual of the best affine fit :math:`A x + b` to
      :math:`u_t(x)` (least squares on the same points), which a model that is affine in
      :math:`x` cannot learn;
    * the variance of the target.
    """
    means = torch.as_tensor(means, dtype=torch.float64)
    if means.dim() != 2:
        raise ValueError(f"means must have shape (K, d), got {tuple(means.shape)}")
    k, d = means.shape
    stds = torch.as_tensor(stds, dtype=torch.float64).expand(k).clone()
    weights = torch.full((k,), 1.0 / k, dtype=torch.float64) if weights is None else \
        torch.as_tensor(weights, dtype=torch.float64)
    path = path or LinearPath()
    times = torch.linspace(0.02, 0.98, 25, dtype=torch.float64) if times is None else times.double()
    gen = torch.Generator().manual_seed(seed)
    floor, nonlinear, variance = [], [], []
    for t in times.tolist():
        which = torch.multinomial(weights / weights.sum(), n, replacement=True, generator=gen)
        z = means[which] + stds[which, None] * torch.randn(n, d, generator=gen, dtype=torch.float64)
        eps = torch.randn(n, d, generator=gen, dtype=torch.float64)
        x, target = fm.training_pair(path, z, t, eps)
        u = fm.marginal_vector_field_mixture(x, t, means, stds, weights, path)
        design = torch.cat([x, torch.ones(n, 1, dtype=torch.float64)], dim=1)
        affine = design @ torch.linalg.lstsq(design, u).solution
        floor.append(((target - u) ** 2).mean())
        nonlinear.append(((u - affine) ** 2).mean())
        variance.append(target.var(dim=0).mean())
    return Difficulty(times, torch.stack(floor), torch.stack(nonlinear), torch.stack(variance))


def logit_normal_density(t: torch.Tensor, mean: float = 0.0, std: float = 1.0) -> torch.Tensor:
    """Density of :math:`t = \\sigma(m + s\\,n)`, :math:`n \\sim \\mathcal N(0, 1)` (Stable Diffusion 3's time sampling)."""
    logit = torch.log(t) - torch.log1p(-t)
    return torch.exp(-0.5 * ((logit - mean) / std) ** 2) / (std * math.sqrt(2 * math.pi) * t * (1 - t))


def plot_regression_difficulty(result: Difficulty, ax: plt.Axes | None = None) -> plt.Axes:
    """Draw :func:`regression_difficulty`'s curves with the logit-normal(0, 1) time density on a second axis."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    _white(ax.figure)
    t = result.times.numpy()
    ax.plot(t, result.floor.numpy(), "o-", color="tab:gray", markersize=3, label="loss floor $C(t)$ (unlearnable)")
    ax.plot(t, result.nonlinear.numpy(), "o-", color="tab:orange", markersize=3,
            label="part of $u_t$ no affine map of $x$ captures")
    ax.set(xlabel="t (0 = noise, 1 = data)", ylabel="mean squared value per coordinate", xlim=(0, 1))
    ax.grid(alpha=0.3)
    twin = ax.twinx()
    fine = torch.linspace(0.001, 0.999, 400, dtype=torch.float64)
    twin.fill_between(fine.numpy(), 0, logit_normal_density(fine).numpy(), color="tab:blue", alpha=0.15)
    twin.plot(fine.numpy(), np.ones(len(fine)), color="tab:blue", linewidth=0.8, linestyle=":")
    twin.set_ylabel("density of t: uniform (dotted), logit-normal (shaded)", color="tab:blue")
    twin.set_ylim(0, None)
    ax.legend(loc="upper left", fontsize=8)
    return ax

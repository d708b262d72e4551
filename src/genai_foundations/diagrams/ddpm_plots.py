"""The figures of chapter 4 (DDPM), drawn from the package's schedules, samplers and data.

Each function takes what the chapter computed (a :class:`NoiseSchedule`, sampled
tensors, recorded variances) and returns a matplotlib figure with a white
background, so that the notebook shows one call instead of the plotting code:

* :func:`variance_figure`: the variance along the forward chain with and
  without the factor :math:`\\sqrt{1-\\beta_t}`, and histograms of :math:`x_t`;
* :func:`schedules_figure`: :math:`\\bar\\alpha_t` and :math:`\\beta_t` of several schedules;
* :func:`noised_rows_figure`: one image noised by (CLOSED) at several steps, one row per schedule;
* :func:`elbo_weights_figure`: :math:`\\tilde\\beta_t / \\beta_t` and the ELBO weights :math:`\\lambda_t`;
* :func:`histogram_grid`: a grid of 1-D sample histograms (samplers by step counts);
* :func:`guidance_tilt_figure`: guided samples against the tilted density :math:`p(x)p(y|x)^w`;
* :func:`trajectory_panels`: sampled robot paths with the way points they were conditioned on.
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from genai_foundations.algorithms.ddpm import NoiseSchedule, elbo_weights, q_sample
from genai_foundations.data.trajectories import plot_trajectories
from genai_foundations.plotting import show_images

__all__ = ["variance_figure", "schedules_figure", "noised_rows_figure", "elbo_weights_figure", "histogram_grid",
           "guidance_tilt_figure", "trajectory_panels"]


def _figure(*args, **kwargs) -> tuple[plt.Figure, np.ndarray]:
    fig, axes = plt.subplots(*args, squeeze=False, **kwargs)
    fig.patch.set_facecolor("white")
    return fig, axes


def variance_figure(var_scaled: Sequence[float], var_unscaled: Sequence[float],
                    snapshots: dict[int, torch.Tensor]) -> plt.Figure:
    """Left: Var(x_t) along the chain with and without :math:`\\sqrt{1-\\beta_t}`; right: histograms of ``snapshots``."""
    fig, axes = _figure(1, 2, figsize=(12, 3.6))
    left, right = axes[0]
    left.plot(var_scaled, label=r"$x_t=\sqrt{1-\beta_t}\,x_{t-1}+\sqrt{\beta_t}\,\varepsilon_{t-1}$")
    left.plot(var_unscaled, label=r"$x_t=x_{t-1}+\sqrt{\beta_t}\,\varepsilon_{t-1}$")
    left.set(xlabel="step t", ylabel="Var($x_t$)", title="variance along the chain")
    left.legend()
    grid = np.linspace(-4, 4, 200)
    for t, values in sorted(snapshots.items()):
        right.hist(values.double().cpu().numpy(), bins=120, range=(-4, 4), density=True, histtype="step",
                   label=f"t = {t}")
    right.plot(grid, np.exp(-grid**2 / 2) / math.sqrt(2 * math.pi), "k--", label="N(0, 1)")
    right.set(xlabel="$x_t$", title="from two spikes to a Gaussian", ylim=(0, 1.6))
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def schedules_figure(schedules: dict[str, NoiseSchedule]) -> plt.Figure:
    """:math:`\\bar\\alpha_t` (left) and :math:`\\beta_t` on a log scale (right) for each named schedule."""
    fig, axes = _figure(1, 2, figsize=(12, 3.4))
    left, right = axes[0]
    for name, schedule in schedules.items():
        left.plot(np.arange(schedule.T + 1), schedule.alphas_bar.numpy(), label=name)
        right.plot(np.arange(1, schedule.T + 1), schedule.betas.numpy(), label=name)
    left.set(xlabel="step t", ylabel=r"$\bar\alpha_t$", title="signal kept")
    right.set(xlabel="step t", ylabel=r"$\beta_t$", title="noise added per step", yscale="log")
    for ax in (left, right):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def noised_rows_figure(image: torch.Tensor, steps: Sequence[int], noise: torch.Tensor,
                       schedules: dict[str, NoiseSchedule]) -> plt.Figure:
    """``image`` (1, C, H, W) noised with :func:`q_sample` at ``steps``, the same ``noise`` for every row."""
    fig, axes = _figure(len(schedules), 1, figsize=(9, 1.6 * len(schedules)))
    for ax, (name, schedule) in zip(axes[:, 0], schedules.items()):
        row = torch.cat([q_sample(image, t, noise, schedule) for t in steps])
        show_images(row.clamp(-1, 1), nrow=len(steps), ax=ax)
        ax.set_title(f"{name}: t = " + ", ".join(map(str, steps)), fontsize=9)
    fig.tight_layout()
    return fig


def elbo_weights_figure(schedule: NoiseSchedule) -> plt.Figure:
    """Left: :math:`\\tilde\\beta_t/\\beta_t`; right: the ELBO weights :math:`\\lambda_t` for both variances (t >= 2)."""
    fig, axes = _figure(1, 2, figsize=(12, 3.4))
    left, right = axes[0]
    t = np.arange(1, schedule.T + 1)
    abar = schedule.alphas_bar
    ratio = ((1 - abar[:-1]) / (1 - abar[1:])).numpy()
    left.plot(t, ratio)
    left.set(xscale="log", xlabel="step t", ylabel=r"$\tilde\beta_t/\beta_t$", ylim=(0, 1.05),
             title=r"posterior variance $\tilde\beta_t$ against $\beta_t$")
    for variance, label in (("beta_tilde", r"$\sigma_t^2=\tilde\beta_t$"), ("beta", r"$\sigma_t^2=\beta_t$")):
        right.plot(t[1:], elbo_weights(schedule, variance)[1:].numpy(), label=label)
    right.axhline(1.0, color="k", linestyle="--", linewidth=1, label=r"$L_{\mathrm{simple}}$: weight 1")
    right.set(xscale="log", yscale="log", xlabel="step t", ylabel=r"$\lambda_t$",
              title=r"ELBO weight of $\|\varepsilon-\varepsilon_\theta\|^2$")
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def histogram_grid(samples: dict[tuple[str, int], torch.Tensor], rows: Sequence[str], columns: Sequence[int],
                   value_range: tuple[float, float] = (-1.6, 1.6), bins: int = 100) -> plt.Figure:
    """Histograms of 1-D samples ``samples[row, column]``: one row per sampler, one column per step count."""
    fig, axes = _figure(len(rows), len(columns), figsize=(3 * len(columns), 2.1 * len(rows)), sharex=True)
    for i, row in enumerate(rows):
        for j, steps in enumerate(columns):
            ax = axes[i, j]
            ax.hist(samples[row, steps].double().cpu().numpy().ravel(), bins=bins, range=value_range, density=True)
            ax.set_title(f"{row}, {steps} step{'s' if steps > 1 else ''}", fontsize=9)
            ax.set_yticks([])
    fig.tight_layout()
    return fig


def guidance_tilt_figure(grid: torch.Tensor, densities: dict[str, torch.Tensor],
                         samples: dict[str, torch.Tensor], value_range: tuple[float, float] = (-5.0, 3.0)) -> plt.Figure:
    """Histograms of guided samples (``samples``) over normalised densities on ``grid`` (``densities``)."""
    fig, axes = _figure(1, 1, figsize=(8, 3.4))
    ax = axes[0, 0]
    for (label, values), color in zip(samples.items(), ("tab:blue", "tab:red", "tab:green")):
        ax.hist(values.double().cpu().numpy().ravel(), bins=120, range=value_range, density=True, alpha=0.35,
                color=color, label=label)
    for (label, density), style in zip(densities.items(), ("k-", "k--", "k:")):
        ax.plot(grid.numpy(), density.numpy(), style, linewidth=1.5, label=label)
    ax.set(xlim=value_range, xlabel="x", yticks=[])
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def trajectory_panels(panels: Sequence[tuple[torch.Tensor, str]],
                      fixed_points: Sequence[torch.Tensor | None] | None = None,
                      max_paths: int = 100) -> plt.Figure:
    """One panel per (paths (n, horizon, 2), title), with the way points a sampler was told to keep as crosses.

    Panels with fixed way points show those instead of the data set's nominal start and goal.
    """
    fig, axes = _figure(1, len(panels), figsize=(5.4 * len(panels), 3.8))
    fixed_points = fixed_points or [None] * len(panels)
    for ax, (paths, title), points in zip(axes[0], panels, fixed_points):
        plot_trajectories(paths, ax=ax, max_paths=max_paths, title=title, show_endpoints=points is None)
        if points is not None:
            xy = points.reshape(-1, 2).cpu().numpy()
            ax.plot(xy[:, 0], xy[:, 1], "kx", markersize=11, markeredgewidth=2.5, label="fixed way point")
            ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    return fig

"""Diagrams of chapter 3 (SDE-based diffusion and score matching), drawn from the package's own objects.

* :func:`denoising_sde_diagram`: paths of the denoising SDE for several noise
  levels over the exact marginal density :math:`p_t` of a 1-D
  :class:`~genai_foundations.algorithms.score_matching.GaussianMixture` along a
  Gaussian path (:meth:`~genai_foundations.algorithms.score_matching.GaussianMixture.along_path`),
  beside the histograms of the end points against the data density;
* :func:`score_field_diagram`: an exact score field next to a learned one, as
  arrows of :math:`\\beta_t s_t(x)` (the negative of the noise prediction,
  which has unit scale at every time) over the density :math:`p_t`.

Every function returns the matplotlib figure (white background), so that a
chapter can add a caption under it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import torch

from genai_foundations.algorithms.gaussian_paths import GaussianPath
from genai_foundations.algorithms.score_matching import GaussianMixture
from genai_foundations.diagrams.differential_equations import plot_space_time

__all__ = ["denoising_sde_diagram", "score_field_diagram"]

ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]


def _marginal_densities(mixture: GaussianMixture, path: GaussianPath, times: torch.Tensor,
                        points: torch.Tensor) -> torch.Tensor:
    """:math:`p_t(x)` of a 1-D mixture on a (time, point) grid, shape (len(times), len(points))."""
    return torch.stack([mixture.along_path(path, float(t)).log_prob(points[:, None]).exp() for t in times])


def denoising_sde_diagram(mixture: GaussianMixture, path: GaussianPath, path_times: Sequence[float] | torch.Tensor,
                          trajectories: dict[str, torch.Tensor], end_points: dict[str, torch.Tensor],
                          limits: float = 4.5, resolution: int = 240,
                          figsize: tuple[float, float] = (16, 3.8)) -> plt.Figure:
    """Paths of the denoising SDE over the exact marginals, and where they end.

    ``trajectories`` maps a label (e.g. ``"sigma = 0"``) to a few paths of shape
    (len(path_times), n) in 1-D; each gets a panel with the heat map of the
    exact :math:`p_t(x)` of ``mixture`` along ``path``. The last panel shows the
    histogram of each entry of ``end_points`` (label -> many samples at
    :math:`t = 1`) against the data density :math:`p_1`.
    """
    if mixture.dim != 1:
        raise ValueError(f"denoising_sde_diagram draws 1-D mixtures, got dimension {mixture.dim}")
    path_times = torch.as_tensor(path_times, dtype=torch.float64)
    grid_times = torch.linspace(float(path_times[0]), float(path_times[-1]), 121, dtype=torch.float64)
    points = torch.linspace(-limits, limits, resolution, dtype=torch.float64)
    density = _marginal_densities(mixture, path, grid_times, points)
    panels = len(trajectories) + 1
    fig, axes = plt.subplots(1, panels, figsize=figsize,
                             gridspec_kw={"width_ratios": [1.3] * len(trajectories) + [1]})
    fig.patch.set_facecolor("white")
    for ax, (label, paths) in zip(axes[:-1], trajectories.items()):
        plot_space_time(ax, density, grid_times, points, paths=paths, path_times=path_times)
        ax.set_title(f"{label}: paths over the exact $p_t$")
    last = axes[-1]
    for index, (label, samples) in enumerate(end_points.items()):
        last.hist(samples.detach().double().cpu().reshape(-1).numpy(), bins=80, range=(-limits, limits), density=True,
                  histtype="step", color=f"C{index}", label=label)
    last.plot(points.numpy(), mixture.log_prob(points[:, None]).exp().numpy(), "k--", linewidth=1,
              label="data density $p_1$")
    last.set(xlabel="x", title="end points at t = 1")
    last.legend(fontsize=8)
    fig.tight_layout()
    return fig


def score_field_diagram(fields: dict[str, ScoreFn], mixture: GaussianMixture, path: GaussianPath,
                        times: Sequence[float], limits: float = 3.0, arrows: int = 17, resolution: int = 120,
                        panel_size: float = 3.3) -> plt.Figure:
    """Score fields side by side: one row per entry of ``fields``, one column per time.

    Each ``fields[label](x, t)`` returns scores (B, 2) at the points ``x`` (B, 2)
    (float32 on the CPU is passed in; a model on another device must move it).
    Arrows show :math:`\\beta_t s_t(x)`, which has unit scale at every :math:`t`
    (it is minus the noise prediction), over the square root of the exact
    density :math:`p_t` of ``mixture`` along ``path``. Within a column all rows
    share one arrow scale, set so that 90% of the first row's arrows fit
    between neighbouring grid points.
    """
    if mixture.dim != 2:
        raise ValueError(f"score_field_diagram draws 2-D mixtures, got dimension {mixture.dim}")
    fig, axes = plt.subplots(len(fields), len(times), figsize=(panel_size * len(times), panel_size * len(fields)),
                             squeeze=False)
    fig.patch.set_facecolor("white")
    axis = torch.linspace(-limits, limits, resolution, dtype=torch.float64)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    dense = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    coarse_axis = torch.linspace(-0.9 * limits, 0.9 * limits, arrows)
    cx, cy = torch.meshgrid(coarse_axis, coarse_axis, indexing="xy")
    coarse = torch.stack([cx.reshape(-1), cy.reshape(-1)], dim=1)
    spacing = float(coarse_axis[1] - coarse_axis[0])
    for column, t in enumerate(times):
        density = mixture.along_path(path, t).log_prob(dense).exp().reshape(resolution, resolution).sqrt()
        beta = float(path.beta(torch.tensor(float(t))))
        with torch.no_grad():
            arrows_t = [beta * field(coarse, t).detach().float().cpu() for field in fields.values()]
        scale = float(arrows_t[0].norm(dim=1).quantile(0.9)) / spacing   # the same scale for every row of a column
        for row, label in enumerate(fields):
            ax = axes[row, column]
            ax.imshow(density.numpy(), extent=(-limits, limits, -limits, limits), origin="lower", cmap="Blues")
            ax.quiver(coarse[:, 0].numpy(), coarse[:, 1].numpy(), arrows_t[row][:, 0].numpy(), arrows_t[row][:, 1].numpy(),
                      color="tab:red", angles="xy", scale_units="xy", scale=scale, width=0.006)
            ax.set(xlim=(-limits, limits), ylim=(-limits, limits), xticks=[], yticks=[])
            ax.set_aspect("equal")
            ax.set_title(f"{label}, t = {t:g}", fontsize=10)
    fig.tight_layout()
    return fig

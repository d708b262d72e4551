"""Diagrams of appendix 20 (key differential equations), drawn from the package's own objects.

* :func:`plot_space_time`: a density over time and space (a heat map with time
  on the horizontal axis), with particle paths on top; the density is a
  :class:`~genai_foundations.appendices.differential_equations.GridSolution`
  of the Fokker-Planck or continuity equation, or any (times, points) tensor;
* :func:`fokker_planck_diagram`: the Fokker-Planck solution evolving (space-time
  heat map with the paths of simulated particles) beside snapshots of the same
  solution and of the particle histograms;
* :func:`flow_2d_diagram`: the marginal density :math:`p_t` of a 2-D Gaussian
  mixture along a Gaussian path and its vector field
  :math:`u_t`, obtained from the exact score by
  :func:`~genai_foundations.algorithms.gaussian_paths.score_to_vector_field`.

Every function returns the matplotlib figure (white background), so that a
chapter can add a caption under it.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from genai_foundations.algorithms.gaussian_paths import GaussianPath, score_to_vector_field
from genai_foundations.algorithms.score_matching import GaussianMixture
from genai_foundations.appendices.differential_equations import GridSolution, histogram_density

__all__ = ["flow_2d_diagram", "fokker_planck_diagram", "plot_space_time"]


def _cpu(values: torch.Tensor | Sequence[float]) -> torch.Tensor:
    return torch.as_tensor(values).detach().to("cpu", torch.float64)


def plot_space_time(ax: plt.Axes, density: torch.Tensor | GridSolution, times: Sequence[float] | None = None,
                    points: torch.Tensor | None = None, paths: torch.Tensor | None = None,
                    path_times: Sequence[float] | torch.Tensor | None = None, cmap: str = "Blues",
                    path_color: str = "black", path_width: float = 0.5, vmax: float | None = None) -> plt.Axes:
    """Heat map of :math:`p_t(x)` with time on the horizontal axis, and particle paths on top.

    ``density`` is a :class:`GridSolution` (its stored times and grid centres
    are used) or a tensor of shape (len(times), len(points)) with the density
    at equally spaced ``times`` and ``points``. ``paths`` (len(path_times), n)
    are drawn as lines over the map. ``vmax`` clips the colour scale (a narrow
    start would otherwise leave the rest of the map pale).
    """
    if isinstance(density, GridSolution):
        times, points, values = density.times, density.grid.centers, density.densities
    else:
        if times is None or points is None:
            raise ValueError("give times and points with a density tensor (or pass a GridSolution)")
        values = density
    times, points, values = _cpu(times), _cpu(points), _cpu(values)
    if values.shape != (len(times), len(points)):
        raise ValueError(f"density must have shape (len(times), len(points)) = ({len(times)}, {len(points)}), "
                         f"got {tuple(values.shape)}")
    ax.imshow(values.T.numpy(), origin="lower", aspect="auto", cmap=cmap, interpolation="bilinear", vmin=0.0, vmax=vmax,
              extent=(float(times[0]), float(times[-1]), float(points[0]), float(points[-1])))
    if paths is not None:
        if path_times is None:
            raise ValueError("give path_times with paths")
        path_times, paths = _cpu(path_times), _cpu(paths)
        if paths.shape[0] != len(path_times):
            raise ValueError(f"paths must have shape (len(path_times), n) = ({len(path_times)}, n), got {tuple(paths.shape)}")
        ax.plot(path_times.numpy(), paths.numpy(), color=path_color, linewidth=path_width)
        ax.set_ylim(float(points[0]), float(points[-1]))
    ax.set(xlabel="time t", ylabel="x")
    return ax


def fokker_planck_diagram(solution: GridSolution, paths: torch.Tensor, path_times: Sequence[float] | torch.Tensor,
                          snapshots: dict[float, torch.Tensor], stationary: torch.Tensor | None = None,
                          title: str = "", figsize: tuple[float, float] = (14, 4)) -> plt.Figure:
    """The Fokker-Planck solution evolving, with the particles it describes.

    Left: :func:`plot_space_time` of ``solution`` (stored at many times) with
    the particle ``paths`` (len(path_times), n) on top. Right: at each time of
    ``snapshots`` (time -> particle positions), the PDE density (line) and the
    particles' histogram (shaded), and the long-time density ``stationary`` on
    the solution's grid (dotted) when given. The colour scale of the map is
    clipped at the largest density after the first tenth of the time span.
    """
    grid = solution.grid
    fig, axes = plt.subplots(1, 2, figsize=figsize, gridspec_kw={"width_ratios": [1.5, 1]})
    fig.patch.set_facecolor("white")
    times = torch.as_tensor(solution.times, dtype=torch.float64)
    later = times >= times[0] + 0.1 * (times[-1] - times[0])
    vmax = float(solution.densities[later].max()) if bool(later.any()) else None
    plot_space_time(axes[0], solution, paths=paths, path_times=path_times, vmax=vmax)
    axes[0].set_title(title or "Fokker-Planck solution $p_t(x)$ (shading) and particle paths")
    centers, edges = grid.centers.cpu(), grid.edges.cpu()
    for index, (t, particles) in enumerate(snapshots.items()):
        color = f"C{index}"
        axes[1].stairs(histogram_density(particles, grid).cpu(), edges, fill=True, alpha=0.25, color=color)
        axes[1].plot(centers, solution.at(t).cpu(), color=color, label=f"t = {t:g}")
    if stationary is not None:
        axes[1].plot(centers, _cpu(stationary), "k:", linewidth=1.2, label="long-time density")
    axes[1].set(xlabel="x", ylabel="density", title="PDE (lines) and particle histograms (shaded)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def flow_2d_diagram(mixture: GaussianMixture, path: GaussianPath, times: Sequence[float], limits: float = 3.0,
                    resolution: int = 120, arrows: int = 15, figsize_per_panel: float = 3.6) -> plt.Figure:
    """The probability path of 2-D mixture data and its vector field, one panel per time.

    Each panel shows the density of :meth:`GaussianMixture.along_path` (its
    square root, so that light components stay visible) and arrows of the
    exact marginal field :math:`u_t`, the score :meth:`GaussianMixture.path_score`
    converted by :func:`score_to_vector_field`. Arrow lengths are scaled per
    panel (the field grows like :math:`1/\\beta_t` near the data), so that 90% of
    them fit between neighbouring grid points. Times must lie in (0, 1]
    (the conversion divides by :math:`\\alpha_t`).
    """
    if mixture.dim != 2:
        raise ValueError(f"flow_2d_diagram draws 2-D mixtures, got dimension {mixture.dim}")
    if any(not 0 < t <= 1 for t in times):
        raise ValueError(f"times must lie in (0, 1], got {list(times)}")
    fig, axes = plt.subplots(1, len(times), figsize=(figsize_per_panel * len(times), figsize_per_panel), squeeze=False)
    fig.patch.set_facecolor("white")
    axis = torch.linspace(-limits, limits, resolution, dtype=torch.float64)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    dense = torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)
    coarse_axis = torch.linspace(-0.9 * limits, 0.9 * limits, arrows, dtype=torch.float64)
    cx, cy = torch.meshgrid(coarse_axis, coarse_axis, indexing="xy")
    coarse = torch.stack([cx.reshape(-1), cy.reshape(-1)], dim=1)
    for ax, t in zip(axes[0], times):
        density = mixture.along_path(path, t).log_prob(dense).exp().reshape(resolution, resolution)
        ax.imshow(density.sqrt().numpy(), extent=(-limits, limits, -limits, limits), origin="lower", cmap="Blues")
        field = score_to_vector_field(path, mixture.path_score(path, coarse, t), coarse, t)
        spacing = float(coarse_axis[1] - coarse_axis[0])
        scale = float(field.norm(dim=1).quantile(0.9)) / spacing          # 90% of the arrows fit between grid points
        ax.quiver(coarse[:, 0].numpy(), coarse[:, 1].numpy(), field[:, 0].numpy(), field[:, 1].numpy(),
                  color="tab:red", angles="xy", scale_units="xy", scale=scale, width=0.006)
        ax.set(title=f"t = {t:g}", xlim=(-limits, limits), ylim=(-limits, limits), xticks=[], yticks=[])
        ax.set_aspect("equal")
    fig.tight_layout()
    return fig

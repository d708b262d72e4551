"""Figures the chapters share: image grids, 2-D scatter and density plots, training curves."""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def _axes(ax: plt.Axes | None, figsize: tuple[float, float]) -> plt.Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def show_images(images: torch.Tensor, nrow: int = 8, title: str | None = None, ax: plt.Axes | None = None,
                value_range: tuple[float, float] = (-1.0, 1.0), padding: int = 1) -> plt.Axes:
    """Show a batch of images (N, C, H, W) as one grid, using torchvision's ``make_grid``."""
    from torchvision.utils import make_grid

    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (N, 1 or 3, H, W), got {tuple(images.shape)}")
    grid = make_grid(images.detach().float().cpu(), nrow=nrow, padding=padding, normalize=True,
                     value_range=value_range, pad_value=1.0)
    ax = _axes(ax, (0.6 * nrow, 0.6 * max(1, int(np.ceil(len(images) / nrow)))))
    ax.imshow(grid.permute(1, 2, 0).numpy(), cmap="gray" if images.shape[1] == 1 else None, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def scatter_2d(points: torch.Tensor, ax: plt.Axes | None = None, title: str | None = None, s: float = 2.0,
               limits: float | None = 3.0, **kwargs) -> plt.Axes:
    """Scatter plot of an (n, 2) tensor with equal axes."""
    if points.dim() != 2 or points.shape[1] != 2:
        raise ValueError(f"expected points of shape (n, 2), got {tuple(points.shape)}")
    ax = _axes(ax, (4, 4))
    xy = points.detach().float().cpu().numpy()
    ax.scatter(xy[:, 0], xy[:, 1], s=s, alpha=kwargs.pop("alpha", 0.6), **kwargs)
    ax.set_aspect("equal")
    if limits is not None:
        ax.set_xlim(-limits, limits)
        ax.set_ylim(-limits, limits)
    if title:
        ax.set_title(title)
    return ax


def density_2d(log_density: Callable[[torch.Tensor], torch.Tensor], ax: plt.Axes | None = None, limits: float = 3.0,
               resolution: int = 200, title: str | None = None) -> plt.Axes:
    """Heat map of ``exp(log_density(x))`` on a square grid, for models with a tractable density."""
    ax = _axes(ax, (4, 4))
    axis = torch.linspace(-limits, limits, resolution)
    xx, yy = torch.meshgrid(axis, axis, indexing="xy")
    grid = torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=1)
    with torch.no_grad():
        density = log_density(grid).exp().reshape(resolution, resolution).cpu().numpy()
    ax.imshow(density, extent=(-limits, limits, -limits, limits), origin="lower", cmap="viridis")
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_curves(curves: dict[str, Sequence[float]], ax: plt.Axes | None = None, log_y: bool = True,
                xlabel: str = "step", ylabel: str = "loss", title: str | None = None) -> plt.Axes:
    """Training curves: one line per named sequence (e.g. raw and smoothed loss)."""
    ax = _axes(ax, (6, 3.5))
    for name, values in curves.items():
        ax.plot(np.arange(1, len(values) + 1), list(values), label=name, linewidth=1.2)
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if len(curves) > 1:
        ax.legend()
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return ax


def plot_history(history, ax: plt.Axes | None = None, window: int = 50, title: str | None = None) -> plt.Axes:
    """Raw and smoothed loss of a :class:`~genai_foundations.training.History`."""
    return plot_curves({"loss": history.losses, f"mean of last {window}": history.smoothed(window)}, ax=ax, title=title)

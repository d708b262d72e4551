"""Diagrams of PixelCNN, drawn from the package's own masks and gradients.

* :func:`draw_masks`: the raster order on a small image and the type-A and type-B masks of
  :func:`~genai_foundations.architectures.pixelcnn.pixelcnn_mask`, cell by cell;
* :func:`draw_dependency_maps`: which input pixels an output pixel can see, from
  :func:`~genai_foundations.architectures.pixelcnn.dependency_map`.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle
from torch import nn

from genai_foundations.architectures.pixelcnn import dependency_map, pixelcnn_mask, raster_later


def _cells(ax: plt.Axes, on: np.ndarray, texts: np.ndarray | None, centre: tuple[int, int], on_color: str) -> None:
    H, W = on.shape
    for r in range(H):
        for c in range(W):
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor=on_color if on[r, c] else "white", edgecolor="0.6",
                                   linewidth=0.7))
            if texts is not None:
                ax.text(c + 0.5, r + 0.5, str(texts[r, c]), ha="center", va="center", fontsize=8)
    ax.add_patch(Rectangle((centre[1], centre[0]), 1, 1, fill=False, edgecolor="#cc0000", linewidth=2.2))
    ax.set_xlim(-0.05, W + 0.05)
    ax.set_ylim(H + 0.05, -0.05)
    ax.set_aspect("equal")
    ax.set_axis_off()


def draw_masks(kernel_size: int = 5, axes: Sequence[plt.Axes] | None = None) -> dict[str, torch.Tensor]:
    """Raster order and the two masks of a ``kernel_size`` x ``kernel_size`` PixelCNN filter, in three panels.

    Left: a ``kernel_size`` x ``kernel_size`` patch numbered in raster order, the
    pixels before the centre shaded (from :func:`raster_later`). Middle and
    right: :func:`pixelcnn_mask` of type A and type B, 1 shaded and written
    in, 0 white; the centre is outlined in red. Returns the two masks, so that
    the caller can check what was drawn.
    """
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
        fig.patch.set_facecolor("white")
    if len(axes) != 3:
        raise ValueError(f"expected 3 axes, got {len(axes)}")
    k, c = kernel_size, kernel_size // 2
    order = np.arange(1, k * k + 1).reshape(k, k)
    earlier = (~raster_later(k, k, c, c)).numpy()
    _cells(axes[0], earlier, order, (c, c), "#cfe2f3")
    axes[0].set_title(f"raster order: pixels before\nthe centre ({order[c, c]}) shaded", fontsize=9)
    masks = {kind: pixelcnn_mask(k, kind) for kind in "AB"}
    for ax, (kind, mask) in zip(axes[1:], masks.items()):
        m = mask.numpy()
        _cells(ax, m > 0, m.astype(int), (c, c), "#f4cccc" if kind == "A" else "#d9ead3")
        ax.set_title(f"type {kind} mask, {k}x{k}\n(centre {'hidden' if kind == 'A' else 'kept'})", fontsize=9)
    return masks


def draw_dependency_maps(panels: Sequence[tuple[str, nn.Module, int, tuple[int, int]]],
                         axes: Sequence[plt.Axes] | None = None) -> dict[str, torch.Tensor]:
    """For each ``(title, model, size, (row, col))``: which input pixels the output at (row, col) depends on.

    Draws :func:`dependency_map` on a ``size`` x ``size`` input, blue where the
    gradient is non-zero, with the output pixel marked red. Returns the maps by title.
    """
    if axes is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(3.8 * len(panels), 3.8), squeeze=False)
        axes = axes[0]
        fig.patch.set_facecolor("white")
    maps = {}
    for ax, (title, model, size, (r, c)) in zip(axes, panels):
        dep = maps[title] = dependency_map(model, size, size, r, c)
        ax.imshow((dep > 0).float().numpy(), cmap="Blues", vmin=0, vmax=1.4)
        ax.plot(c, r, "rs", markersize=6)
        ax.set_xticks(np.arange(-0.5, dep.shape[1]), minor=True)
        ax.set_yticks(np.arange(-0.5, dep.shape[0]), minor=True)
        ax.grid(which="minor", color="w", linewidth=0.5)
        ax.tick_params(which="both", length=0, labelbottom=False, labelleft=False)
        ax.set_title(title, fontsize=9)
    return maps

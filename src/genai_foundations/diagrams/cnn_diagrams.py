"""Diagrams of the convolution chapter, drawn from the package's own convolution.

* :func:`window_positions`: where each window of a convolution sits on the padded input;
* :func:`draw_sliding_filter`: a filter sliding over a (padded) input with a stride, one panel per
  output position, the numbers computed by :func:`~genai_foundations.architectures.convolution.conv2d`;
* :func:`draw_number_grid`: a small matrix as coloured cells with its values written in (used for
  the transposed-convolution figures).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import Rectangle

from genai_foundations.architectures.convolution import conv2d, conv_output_size


def window_positions(height: int, width: int, kernel_size: tuple[int, int], stride: int = 1,
                     padding: int = 0) -> list[tuple[int, int, int, int]]:
    """``(i, j, top, left)`` for every output position (i, j) in raster order.

    ``(top, left)`` is the window's upper-left corner in the coordinates of the
    padded input, :math:`(s i, s j)`; the window covers ``kernel_size`` pixels
    from there. The number of positions per axis is (SIZE), :func:`conv_output_size`.
    """
    kh, kw = kernel_size
    rows = conv_output_size(height, kh, stride, padding)
    cols = conv_output_size(width, kw, stride, padding)
    return [(i, j, stride * i, stride * j) for i in range(rows) for j in range(cols)]


def _cell_text(values: np.ndarray) -> str:
    return "\n".join(f"{v:g}" for v in values)


def _grid(ax: plt.Axes, values: np.ndarray, pad: int = 0, fontsize: float = 6.5, shade: str = "#f7f7f7") -> None:
    """Draw a (C, H, W) array as an H x W grid with the C values of each cell written in it."""
    _, H, W = values.shape
    for r in range(H):
        for c in range(W):
            is_pad = pad and (r < pad or c < pad or r >= H - pad or c >= W - pad)
            ax.add_patch(Rectangle((c, r), 1, 1, facecolor="#dddddd" if is_pad else shade, edgecolor="0.55",
                                   linewidth=0.6))
            text = "0" if is_pad else _cell_text(values[:, r, c])       # padding: zeros in every channel
            ax.text(c + 0.5, r + 0.5, text, ha="center", va="center", fontsize=fontsize,
                    color="0.45" if is_pad else "black", linespacing=0.95)
    ax.set_xlim(-0.1, W + 0.1)
    ax.set_ylim(H + 0.1, -0.1)
    ax.set_aspect("equal")
    ax.set_axis_off()


def draw_sliding_filter(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0,
                        axes: Sequence[plt.Axes] | None = None, label: str = "",
                        fontsize: float = 6.5) -> torch.Tensor:
    """Draw one filter sliding over one input; return the output the package's :func:`conv2d` computes.

    ``x`` is (1, C, H, W), ``weight`` (1, C, k_h, k_w): one example, one filter,
    no bias. Panels, left to right: the filter (each cell lists its C channel
    weights), one panel per output position showing the zero-padded input
    (padding grey) with the window in red and the output value it produces,
    and the finished output map; ``label`` heads the filter panel. Needs ``2 + H_out W_out`` axes (created in a
    new figure when ``axes`` is None). The numbers in the titles and in the
    output map are read from the returned tensor, shape (1, 1, H_out, W_out).
    """
    if x.dim() != 4 or x.shape[0] != 1 or weight.dim() != 4 or weight.shape[0] != 1:
        raise ValueError(f"expected x of shape (1, C, H, W) and weight of shape (1, C, kh, kw), "
                         f"got {tuple(x.shape)} and {tuple(weight.shape)}")
    out = conv2d(x, weight, stride=stride, padding=padding)
    _, _, H, W = x.shape
    kh, kw = weight.shape[2:]
    positions = window_positions(H, W, (kh, kw), stride, padding)
    n_panels = 2 + len(positions)
    if axes is None:
        fig, axes = plt.subplots(1, n_panels, figsize=(2.3 * n_panels, 2.8))
        fig.patch.set_facecolor("white")
    if len(axes) != n_panels:
        raise ValueError(f"this convolution needs {n_panels} axes (filter, {len(positions)} positions, output), "
                         f"got {len(axes)}")
    padded = torch.nn.functional.pad(x[0], (padding, padding, padding, padding)).detach().cpu().numpy()
    _grid(axes[0], weight[0].detach().cpu().numpy(), fontsize=fontsize, shade="#fff2cc")
    axes[0].set_title((f"{label}\n" if label else "") + f"filter {kh}x{kw}x{weight.shape[1]}", fontsize=8)
    for ax, (i, j, top, left) in zip(axes[1:-1], positions):
        _grid(ax, padded, pad=padding, fontsize=fontsize)
        ax.add_patch(Rectangle((left, top), kw, kh, fill=False, edgecolor="#cc0000", linewidth=2.2))
        ax.set_title(f"y[{i},{j}]: window at ({top},{left}) -> {out[0, 0, i, j].item():g}", fontsize=8)
    values = out[0].detach().cpu().numpy()
    _grid(axes[-1], values, fontsize=fontsize + 2, shade="#d9ead3")
    axes[-1].set_title(f"output {values.shape[1]}x{values.shape[2]} (stride {stride}, padding {padding})",
                       fontsize=8)
    return out


def draw_number_grid(ax: plt.Axes, data: torch.Tensor, title: str = "", cmap: str = "viridis",
                     fontsize: float = 8) -> plt.Axes:
    """Show a 2-D tensor as coloured cells with each value written in white."""
    if data.dim() != 2:
        raise ValueError(f"expected a 2-D tensor, got shape {tuple(data.shape)}")
    array = data.detach().cpu().numpy()
    ax.imshow(array, cmap=cmap)
    for (i, j), v in np.ndenumerate(array):
        ax.text(j, i, f"{v:g}", ha="center", va="center", color="w", fontsize=fontsize)
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
    return ax

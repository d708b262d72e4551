"""Deep MLPs drawn layer by layer, each layer coloured by its gradient (chapter 12).

:func:`gradient_flow_rows` reads, from each :class:`~genai_foundations.architectures.mlp.MLP`
after a backward pass, what its layers are (linear map with its shape,
normalisation, activation, skip connection) and the norm
:math:`\\|\\partial\\mathcal L/\\partial W_l\\|` of each weight gradient.
:func:`draw_gradient_flow` draws one row of boxes per network, the input on
the left and the logits on the right, with an arc over every layer that has a
skip connection and each box coloured by the logarithm of its gradient norm.
Architecture and colours both come from the model object, so the figure
cannot disagree with the network that was measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.patches import FancyArrowPatch, Rectangle

from genai_foundations.architectures.mlp import MLP


@dataclass(frozen=True)
class LayerCell:
    """One drawn layer: a short description, whether it has a skip connection, and its weight-gradient norm."""

    description: str
    residual: bool
    grad_norm: float


def _block_description(block) -> str:
    parts = [f"Linear {block.linear.in_features}→{block.linear.out_features}"]
    if not isinstance(block.norm, torch.nn.Identity):
        parts.append(type(block.norm).__name__)
    parts.append(type(block.activation).__name__)
    return ", ".join(parts)


def gradient_flow_rows(models: dict[str, MLP]) -> dict[str, list[LayerCell]]:
    """For each named MLP: its hidden layers and output layer with their weight-gradient norms.

    The models must have gradients (call ``loss.backward()``, or
    :func:`~genai_foundations.architectures.regularization.gradient_profile`, first).
    """
    rows = {}
    for name, model in models.items():
        if not isinstance(model, MLP):
            raise TypeError(f"{name}: expected a genai_foundations MLP, got {type(model).__name__}")
        cells = []
        for block in model.hidden:
            if block.linear.weight.grad is None:
                raise ValueError(f"{name}: no gradient in the model; run a backward pass before drawing it")
            cells.append(LayerCell(_block_description(block), bool(block.residual),
                                   float(torch.linalg.vector_norm(block.linear.weight.grad))))
        if model.out.weight.grad is None:
            raise ValueError(f"{name}: no gradient in the model; run a backward pass before drawing it")
        cells.append(LayerCell(f"Linear {model.out.in_features}→{model.out.out_features} (logits)", False,
                               float(torch.linalg.vector_norm(model.out.weight.grad))))
        rows[name] = cells
    return rows


def _summary(cells: list[LayerCell]) -> str:
    """'20 × [Linear 64→64, ReLU] + skip' style summary of the hidden layers (runs of equal layers grouped)."""
    groups: list[list] = []
    for cell in cells[:-1]:
        key = (cell.description, cell.residual)
        if groups and groups[-1][0] == key:
            groups[-1][1] += 1
        else:
            groups.append([key, 1])
    text = ", ".join(f"{count} × [{desc}{', skip' if res else ''}]" if count > 1 else f"[{desc}{', skip' if res else ''}]"
                     for (desc, res), count in groups)
    return f"{text}, then {cells[-1].description}"


def draw_gradient_flow(models: dict[str, MLP], ax: Axes | None = None, cmap: str = "viridis") -> Axes:
    """One row per network: input, every layer as a box coloured by :math:`\\log_{10}\\|\\partial\\mathcal L/\\partial W_l\\|`, logits.

    Layers with a skip connection (:math:`h_l = h_{l-1} + F(h_{l-1})`) get an
    arc over their box. A shared colour bar makes the rows comparable.
    """
    rows = gradient_flow_rows(models)
    logs = [math.log10(max(c.grad_norm, 1e-300)) for cells in rows.values() for c in cells]
    norm = Normalize(vmin=math.floor(min(logs)), vmax=math.ceil(max(logs)))
    colormap = plt.get_cmap(cmap)
    n_layers = max(len(cells) for cells in rows.values())
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.42 * n_layers + 3.5, 1.4 * len(rows) + 1.0))
    ax.figure.patch.set_facecolor("white")
    ax.set_facecolor("white")
    width, height, gap = 0.8, 0.55, 1.5
    for r, (name, cells) in enumerate(rows.items()):
        y = -r * gap
        ax.text(-1.0, y + height / 2 + 0.42, f"{name}:  {_summary(cells)}", fontsize=8, va="bottom", ha="left")
        ax.add_patch(Rectangle((-1.0, y - height / 2), width, height, fc="0.92", ec="0.4", lw=0.7))
        ax.text(-1.0 + width / 2, y, "x", ha="center", va="center", fontsize=8)
        for k, cell in enumerate(cells):
            colour = colormap(norm(math.log10(max(cell.grad_norm, 1e-300))))
            ax.add_patch(Rectangle((k, y - height / 2), width, height, fc=colour, ec="0.3", lw=0.6))
            if cell.residual:
                ax.add_patch(FancyArrowPatch((k - 0.12, y + height / 2), (k + width + 0.12, y + height / 2),
                                             connectionstyle="arc3,rad=-0.9", arrowstyle="-|>", mutation_scale=6,
                                             lw=0.7, color="0.2"))
        for k in range(len(cells)):  # forward arrows between the boxes
            ax.add_patch(FancyArrowPatch((k - 1 + width, y), (k, y), arrowstyle="-|>", mutation_scale=5,
                                         lw=0.5, color="0.5"))
    last = -(len(rows) - 1) * gap - height / 2
    ax.annotate("", xy=(-0.8, last - 0.35), xytext=(n_layers - 0.2, last - 0.35),
                arrowprops=dict(arrowstyle="-|>", color="C3", lw=1.0))
    ax.text(n_layers / 2 - 0.5, last - 0.5, "backward pass: the gradient travels from the loss (right) to the input "
            "(left), one factor per layer", ha="center", va="top", fontsize=8, color="C3")
    ax.set_xlim(-1.2, n_layers + 0.2)
    ax.set_ylim(last - 0.9, height / 2 + 0.8)
    ax.axis("off")
    bar = ax.figure.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=colormap), ax=ax, fraction=0.025, pad=0.01)
    bar.set_label(r"$\log_{10}\|\partial\mathcal{L}/\partial W_l\|$", fontsize=8)
    return ax

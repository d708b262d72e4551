"""Diagrams of the MLP chapter: one neuron with its numbers, and the graph of an actual :class:`MLP`.

Both read what they draw from the package's objects: :func:`draw_neuron`
evaluates :math:`y = f(w^\\top x + b)` with :func:`~genai_foundations.architectures.activations.activation`,
and :func:`draw_mlp` takes the widths, weight shapes and activations from the
layers of a :class:`~genai_foundations.architectures.mlp.MLP`, so the pictures
cannot disagree with the code.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.patches import Circle, FancyArrowPatch

from genai_foundations.architectures import activations as act
from genai_foundations.architectures.mlp import MLP

NODE_RADIUS = 0.16


@dataclass(frozen=True)
class LayerInfo:
    """One column of the drawing: its width, and for the map into it the weight shape and activation."""

    name: str
    width: int
    weight_shape: tuple[int, ...] | None = None
    bias_shape: tuple[int, ...] | None = None
    activation: str | None = None


def mlp_layers(model: MLP) -> list[LayerInfo]:
    """The columns of an :class:`MLP`: inputs, each hidden layer, outputs, read from its modules."""
    if not isinstance(model, MLP):
        raise TypeError(f"expected a genai_foundations MLP, got {type(model).__name__}")
    layers = [LayerInfo("input", model.in_features)]
    for k, block in enumerate(model.hidden, start=1):
        extras = [type(block.norm).__name__] if not isinstance(block.norm, torch.nn.Identity) else []
        if block.residual:
            extras.append("+ skip")
        name = type(block.activation).__name__ + ("".join(f", {e}" for e in extras))
        layers.append(LayerInfo(f"hidden {k}", block.linear.out_features, tuple(block.linear.weight.shape),
                                tuple(block.linear.bias.shape), name))
    layers.append(LayerInfo("output", model.out.out_features, tuple(model.out.weight.shape),
                            tuple(model.out.bias.shape), "none (logits)"))
    return layers


def _node_rows(width: int, max_nodes: int) -> tuple[list[float], bool]:
    """Vertical positions of the drawn nodes, centred on 0, and whether some are elided."""
    shown = width if width <= max_nodes else max_nodes
    ys = [(shown - 1) / 2 - i for i in range(shown)]
    return [0.6 * y for y in ys], width > max_nodes


def draw_mlp(model: MLP, ax: Axes | None = None, max_nodes: int = 7) -> Axes:
    """Draw the layers of ``model`` as columns of units joined by their weights.

    Every unit of a column is joined to every unit of the next (a dense
    layer); columns wider than ``max_nodes`` show their first and last units
    with a vertical ellipsis. Between two columns the shapes of :math:`W` and
    :math:`b` are printed as PyTorch stores them, ``(out, in)`` and ``(out,)``,
    with the activation applied after the map; the title counts the
    parameters of ``model``.
    """
    layers = mlp_layers(model)
    if ax is None:
        fig, ax = plt.subplots(figsize=(2.6 * len(layers), 4.8))
        fig.patch.set_facecolor("white")
    ax.set_facecolor("white")
    columns = []
    for col, layer in enumerate(layers):
        ys, elided = _node_rows(layer.width, max_nodes)
        if elided:  # keep first units and the last one, with a gap for the ellipsis
            ys = ys[:-2] + [ys[-1]]
        columns.append((col * 2.4, ys, elided))
    for (x0, ys0, _), (x1, ys1, _) in zip(columns[:-1], columns[1:]):
        for y0 in ys0:
            for y1 in ys1:
                ax.plot([x0, x1], [y0, y1], color="0.75", lw=0.6, zorder=1)
    colours = {"input": "#f3d9a4", "output": "#a9cce3"}
    for (x, ys, elided), layer in zip(columns, layers):
        colour = colours.get(layer.name, "#c8e6c9")
        for y in ys:
            ax.add_patch(Circle((x, y), NODE_RADIUS, facecolor=colour, edgecolor="k", lw=0.8, zorder=2))
        if elided:
            ax.text(x, (ys[-2] + ys[-1]) / 2, "\u22ee", ha="center", va="center", fontsize=16, zorder=3)
        bottom = min(ys) - 0.55
        ax.text(x, bottom, f"{layer.name}\n{layer.width} unit{'s' if layer.width != 1 else ''}", ha="center",
                va="top", fontsize=9)
    for (x0, _, _), (x1, ys1, _), layer in zip(columns[:-1], columns[1:], layers[1:]):
        top = max(max(c[1]) for c in columns) + 0.45
        ax.text((x0 + x1) / 2, top, f"W {layer.weight_shape}\nb {layer.bias_shape}\nthen {layer.activation}",
                ha="center", va="bottom", fontsize=8.5, family="monospace",
                bbox=dict(boxstyle="round,pad=0.3", facecolor="white", edgecolor="0.6"))
    count = sum(p.numel() for p in model.parameters())
    ax.set_title(f"{type(model).__name__}: {count:,} parameters", fontsize=11)
    ys_all = [y for c in columns for y in c[1]]
    ax.set_xlim(-0.8, columns[-1][0] + 0.8)
    ax.set_ylim(min(ys_all) - 1.5, max(ys_all) + 1.7)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax


def draw_neuron(x: torch.Tensor, w: torch.Tensor, b: float, activation_name: str = "sigmoid",
                ax: Axes | None = None) -> Axes:
    """One neuron :math:`y = f(w^\\top x + b)` with its numbers: inputs, weights on the edges, :math:`z`, :math:`y`.

    ``x`` and ``w`` are 1-D tensors of the same length; :math:`z` and
    :math:`y` are computed here with the package's activation, so the labels
    are the values the code produces.
    """
    x, w = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(w, dtype=torch.float64)
    if x.dim() != 1 or x.shape != w.shape:
        raise ValueError(f"x and w must be 1-D of the same length, got {tuple(x.shape)} and {tuple(w.shape)}")
    z = float(w @ x + b)
    y = float(act.activation(activation_name, torch.tensor([z], dtype=torch.float64))[0])
    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        fig.patch.set_facecolor("white")
    ax.set_facecolor("white")
    n = len(x)
    ys = [(n - 1) / 2 - i for i in range(n)]
    sum_xy, f_xy, out_xy = (3.0, 0.0), (5.0, 0.0), (6.4, 0.0)
    for i, yi in enumerate(ys):
        ax.add_patch(Circle((0.0, yi), 0.28, facecolor="#f3d9a4", edgecolor="k", lw=0.8, zorder=2))
        ax.text(0.0, yi, f"$x_{i + 1}$\n{float(x[i]):g}", ha="center", va="center", fontsize=8.5, zorder=3)
        ax.add_patch(FancyArrowPatch((0.3, yi), (sum_xy[0] - 0.42, sum_xy[1] + 0.15 * yi), arrowstyle="-|>",
                                     mutation_scale=10, color="0.35", lw=1.0, zorder=1))
        ax.text(1.45, 0.62 * yi + 0.12, f"$w_{i + 1} = {float(w[i]):g}$", ha="center", va="bottom", fontsize=9,
                color="C3")
    ax.add_patch(FancyArrowPatch((sum_xy[0], -1.35), (sum_xy[0], -0.42), arrowstyle="-|>", mutation_scale=10,
                                 color="0.35", lw=1.0))
    ax.text(sum_xy[0], -1.45, f"bias $b = {b:g}$", ha="center", va="top", fontsize=9, color="C3")
    ax.add_patch(Circle(sum_xy, 0.4, facecolor="#c8e6c9", edgecolor="k", lw=0.8, zorder=2))
    ax.text(*sum_xy, "$\\Sigma$", ha="center", va="center", fontsize=15, zorder=3)
    ax.add_patch(FancyArrowPatch((sum_xy[0] + 0.42, 0), (f_xy[0] - 0.42, 0), arrowstyle="-|>", mutation_scale=10,
                                 color="0.35", lw=1.0))
    ax.text((sum_xy[0] + f_xy[0]) / 2, 0.1, f"$z = {z:.4g}$", ha="center", va="bottom", fontsize=9)
    ax.add_patch(Circle(f_xy, 0.4, facecolor="#c8e6c9", edgecolor="k", lw=0.8, zorder=2))
    ax.text(*f_xy, "$f$", ha="center", va="center", fontsize=14, zorder=3)
    ax.text(f_xy[0], -0.5, activation_name, ha="center", va="top", fontsize=8.5)
    ax.add_patch(FancyArrowPatch((f_xy[0] + 0.42, 0), (out_xy[0], 0), arrowstyle="-|>", mutation_scale=10,
                                 color="0.35", lw=1.0))
    ax.text(out_xy[0] + 0.1, 0, f"$y = f(z) = {y:.4f}$", ha="left", va="center", fontsize=10)
    ax.set_xlim(-0.5, 8.8)
    ax.set_ylim(min(ys) - 0.9, max(ys) + 0.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return ax

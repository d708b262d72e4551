"""Diagrams of the autoregressive chapter, drawn from the package's own models.

* :func:`made_connections`, :func:`draw_made`: every unit of a
  :class:`~genai_foundations.architectures.made.MADE` with its degree and
  every connection its masks keep (read from the layers' ``mask`` buffers);
* :func:`causal_conv_edges`, :func:`draw_causal_conv`: the dilated causal
  convolutions of a :class:`~genai_foundations.architectures.causal_conv.CausalConvLM`,
  the positions each layer reads (from its kernel size and dilations), with
  the receptive field of the last output highlighted;
* :func:`draw_sampling_loop`: the steps of the sampling loop (context fed in,
  the next-token distribution, the token drawn and appended), from records
  that the chapter computes with its trained model.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch

from genai_foundations.architectures.causal_conv import CausalConvLM
from genai_foundations.architectures.made import MADE
from genai_foundations.diagrams import white_background


def made_connections(model: MADE) -> tuple[list[list[int]], list[list[tuple[int, int]]]]:
    """The degrees of each layer (inputs, hidden..., outputs = input degrees) and the kept (to, from) pairs per layer."""
    degrees = [d.tolist() for d in model.degrees] + [model.degrees[0].tolist()]
    edges = [[(int(i), int(j)) for i, j in torch.nonzero(layer.mask).tolist()] for layer in model.layers]
    return degrees, edges


def draw_made(model: MADE, ax: plt.Axes | None = None, *, names: Sequence[str] | None = None) -> plt.Axes:
    """Units as circles labelled with their degree, one row per layer; lines for the weights the masks keep."""
    degrees, edges = made_connections(model)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 1.3 * len(degrees)))
    rows = len(degrees)
    width = max(len(d) for d in degrees)
    pos = [[((i + 0.5) * width / len(layer), rows - 1 - r) for i in range(len(layer))] for r, layer in enumerate(degrees)]
    for r, layer_edges in enumerate(edges):
        for to, frm in layer_edges:
            (x0, y0), (x1, y1) = pos[r][frm], pos[r + 1][to]
            ax.plot([x0, x1], [y0, y1], color="0.55", lw=0.8, zorder=1)
    labels = ["input"] + [f"hidden {i + 1}" for i in range(rows - 2)] + ["output"]
    colors = ["#cfe2f3"] + ["#fff2cc"] * (rows - 2) + ["#d9ead3"]
    for r, layer in enumerate(degrees):
        for i, degree in enumerate(layer):
            x, y = pos[r][i]
            ax.scatter([x], [y], s=420, color=colors[r], edgecolors="black", zorder=2)
            ax.text(x, y, str(degree), ha="center", va="center", fontsize=9, zorder=3)
            if r in (0, rows - 1) and names is not None:
                text = names[i] if r == 0 else f"p({names[i]}|·)"
                ax.text(x, y + (-0.32 if r == 0 else 0.32), text, ha="center", va="center", fontsize=8)
        ax.text(-0.4, rows - 1 - r, labels[r], ha="right", va="center", fontsize=9)
    ax.set_xlim(-1.8, width + 0.2)
    ax.set_ylim(-0.6, rows - 0.4)
    ax.axis("off")
    white_background(ax.figure)
    return ax


def causal_conv_edges(model: CausalConvLM, n_positions: int) -> list[list[tuple[int, int]]]:
    """For each convolution layer, the (output position, input position) pairs it connects (left padding dropped)."""
    layers = []
    for dilation in model.dilations:
        pairs = [(t, t - j * dilation) for t in range(n_positions) for j in range(model.kernel_size)
                 if t - j * dilation >= 0]
        layers.append(pairs)
    return layers


def draw_causal_conv(model: CausalConvLM, n_positions: int = 16, ax: plt.Axes | None = None) -> plt.Axes:
    """The stack of dilated causal convolutions over ``n_positions`` positions; the last output's inputs in colour."""
    layers = causal_conv_edges(model, n_positions)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 1.1 * (len(layers) + 1)))
    reach = {n_positions - 1}                                # positions that reach the last output, per level
    highlighted: list[set[tuple[int, int]]] = [set() for _ in layers]
    for level in range(len(layers) - 1, -1, -1):
        new = set()
        for to, frm in layers[level]:
            if to in reach:
                highlighted[level].add((to, frm))
                new.add(frm)
        reach = new
    for level, pairs in enumerate(layers):
        for to, frm in pairs:
            hot = (to, frm) in highlighted[level]
            ax.plot([frm, to], [level, level + 1], color="C3" if hot else "0.8", lw=1.6 if hot else 0.6,
                    zorder=2 if hot else 1)
    for level in range(len(layers) + 1):
        ax.scatter(range(n_positions), [level] * n_positions, s=60, color="white", edgecolors="black", zorder=3)
        name = "input tokens" if level == 0 else f"block {level} (dilation {model.dilations[level - 1]})"
        ax.text(-1, level, name, ha="right", va="center", fontsize=9)
    ax.scatter(sorted(reach), [0] * len(reach), s=60, color="C3", zorder=4)
    ax.set_xlim(-9, n_positions)
    ax.axis("off")
    white_background(ax.figure)
    return ax


def draw_sampling_loop(records: Sequence[dict], ax: plt.Axes | None = None, top: int = 4) -> plt.Axes:
    """One row per step: the context fed in, the ``top`` most likely next tokens with their probabilities, the draw.

    Each record has ``context`` (str), ``candidates`` (list of (token str, probability)) and ``chosen`` (str).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.7 * len(records) + 0.6))
    shown = lambda s: s.replace("\n", "⏎").replace(" ", "␣")
    for i, rec in enumerate(records):
        y = len(records) - 1 - i
        ax.text(0.0, y, shown(rec["context"]), ha="left", va="center", family="monospace", fontsize=10)
        ax.annotate("", xy=(0.46, y), xytext=(0.40, y), arrowprops=dict(arrowstyle="->"))
        for j, (token, prob) in enumerate(rec["candidates"][:top]):
            x = 0.48 + j * 0.085
            bold = token == rec["chosen"]
            ax.text(x, y, f"{shown(token)} {prob:.2f}", ha="left", va="center", fontsize=9, family="monospace",
                    fontweight="bold" if bold else "normal",
                    bbox=dict(boxstyle="round", fc="#d9ead3" if bold else "white", ec="0.6"))
        ax.annotate("", xy=(0.86, y), xytext=(0.83, y), arrowprops=dict(arrowstyle="->"))
        ax.text(0.87, y, f"append {shown(rec['chosen'])!r}", ha="left", va="center", fontsize=9)
    ax.text(0.0, len(records) - 0.4, "context fed to the model", fontsize=9, color="0.3")
    ax.text(0.48, len(records) - 0.4, "most likely next characters (p)", fontsize=9, color="0.3")
    ax.set_xlim(0, 1.0)
    ax.set_ylim(-0.6, len(records) - 0.1)
    ax.axis("off")
    white_background(ax.figure)
    return ax

"""Diagrams of the fine-tuning chapter, drawn from the package's objects.

* :func:`lora_diagram`: a :class:`~genai_foundations.algorithms.lora.LoRALinear`
  layer as matrices drawn to scale: the frozen W (d_out x d_in) beside the
  trainable B (d_out x r) and A (r x d_in), with the shapes read from the layer;
* :func:`code_book_figure`: 4-bit code books (NF4 and the uniform grid) against
  the standard normal density that NF4's levels are quantiles of;
* :func:`methods_diagram`: which parameters each adaptation method trains, one
  row per method, from the models themselves (``requires_grad``).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle
from torch import nn

from genai_foundations.diagrams import white_background

FROZEN = "#c9ced6"
TRAINED = "#e4572e"
QUANTISED = "#7a8ba6"


def _matrix(ax, x: float, y: float, w: float, h: float, colour: str, label: str, gid: str) -> None:
    ax.add_patch(Rectangle((x, y), w, h, facecolor=colour, edgecolor="black", linewidth=1.0, gid=gid))
    ax.text(x + w / 2, y - 0.25, label, ha="center", va="top", fontsize=10)


def lora_diagram(layer: nn.Module, *, unit: float = 0.06, ax=None):
    """Draw ``layer`` (a LoRALinear) as :math:`W + (\\alpha / r) B A` with matrices to scale (``unit`` per row/column).

    Patches carry gids ``"W"``, ``"B"``, ``"A"``; their sizes are the layer's shapes times ``unit``.
    """
    if not hasattr(layer, "lora_A"):
        raise TypeError("lora_diagram draws a LoRALinear layer (see algorithms.lora)")
    d_out, d_in = layer.out_features, layer.in_features
    r = layer.r
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.6))
    w, h = d_in * unit, d_out * unit
    _matrix(ax, 0, 0, w, h, FROZEN, f"W (frozen)\n{d_out} x {d_in}", "W")
    ax.text(w + 0.35, h / 2, "+", fontsize=20, ha="center", va="center")
    ax.text(w + 0.95, h / 2, f"α/r = {layer.scaling:g}  x", fontsize=11, ha="left", va="center")
    bx = w + 2.6
    _matrix(ax, bx, 0, r * unit, h, TRAINED, f"B\n{d_out} x {r}", "B")
    ax_x = bx + r * unit + 0.5
    _matrix(ax, ax_x, h - r * unit, w, r * unit, TRAINED, "", "A")
    ax.text(ax_x + w / 2, h - r * unit - 0.15, f"A   {r} x {d_in}", ha="center", va="top", fontsize=10)
    frozen = d_in * d_out
    trained = r * (d_in + d_out)
    ax.set_title(f"LoRA, rank r = {r}: {trained:,} trainable numbers instead of {frozen:,} "
                 f"({100 * trained / frozen:.1f}%)", fontsize=11)
    ax.set_xlim(-0.3, ax_x + w + 0.3)
    ax.set_ylim(-1.2, h + 0.4)
    ax.set_aspect("equal")
    ax.axis("off")
    white_background(ax.figure)
    return ax


def code_book_figure(code_books: dict[str, torch.Tensor], *, ax=None):
    """The levels of each 4-bit code book (one row each) over the standard normal density scaled to [-1, 1].

    NF4's levels sit at normal quantiles, so they crowd where the density is
    high; the uniform grid spaces them evenly. One vertical tick per distinct level.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    x = torch.linspace(-1, 1, 401, dtype=torch.float64)
    scale = float(torch.special.ndtri(torch.tensor(0.9677083, dtype=torch.float64)))  # NF4's outermost quantile
    density = torch.exp(-0.5 * (x * scale) ** 2)
    ax.fill_between(x.numpy(), 0, density.numpy(), color="#dde6f2", label="N(0, 1), scaled to [-1, 1]")
    for i, (name, code) in enumerate(code_books.items()):
        levels = torch.unique(code.double())
        y = -0.25 - 0.3 * i
        ax.vlines(levels.numpy(), y - 0.1, y + 0.1, colors=f"C{i}", linewidth=2, gid=f"levels:{name}")
        ax.text(-1.05, y, name, ha="right", va="center", fontsize=10)
    ax.set_xlim(-1.35, 1.05)
    ax.set_ylim(-0.35 - 0.3 * len(code_books), 1.1)
    ax.set_yticks([])
    ax.set_xlabel("level (block absmax scaled to 1)")
    ax.legend(loc="upper right", frameon=False, fontsize=9)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    white_background(ax.figure)
    return ax


def _parts(model: nn.Module) -> list[tuple[str, str]]:
    """(part name, state) with state 'trained', 'frozen' or '4-bit' for the parts of an adapted GPT."""
    from genai_foundations.algorithms.quantization import Linear4bit

    gpt = getattr(model, "gpt", model)
    rows: list[tuple[str, str]] = []
    if gpt is not model:
        rows.append(("soft prompt", "trained"))
    rows.append(("embeddings", "trained" if gpt.token_embedding.weight.requires_grad else "frozen"))
    block = gpt.blocks[0]
    for name in ("attn.q_proj", "attn.k_proj", "attn.v_proj", "attn.out_proj", "ffn.up", "ffn.down"):
        m = block.get_submodule(name)
        base = getattr(m, "base", m)
        state = "4-bit" if isinstance(base, Linear4bit) else (
            "trained" if getattr(base, "weight", None) is not None and base.weight.requires_grad else "frozen")
        rows.append((name.split(".")[-1], state))
        if hasattr(m, "lora_A"):
            rows.append((f"{name.split('.')[-1]} LoRA", "trained"))
    rows.append(("layer norms", "trained" if block.norm1.weight.requires_grad else "frozen"))
    return rows


def methods_diagram(models: dict[str, nn.Module], *, ax=None):
    """One row per method, one cell per part of a block (and the embeddings/prompt): trained, frozen or 4-bit."""
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 0.55 * len(models) + 1.2))
    colours = {"trained": TRAINED, "frozen": FROZEN, "4-bit": QUANTISED}
    for i, (method, model) in enumerate(models.items()):
        y = len(models) - 1 - i
        ax.text(-0.2, y + 0.4, method, ha="right", va="center", fontsize=10)
        for j, (part, state) in enumerate(_parts(model)):
            ax.add_patch(Rectangle((j * 1.05, y), 1.0, 0.8, facecolor=colours[state], edgecolor="white",
                                   gid=f"{method}:{part}"))
            ax.text(j * 1.05 + 0.5, y + 0.4, part.replace(" ", "\n"), ha="center", va="center", fontsize=6.5)
    width = max(len(_parts(m)) for m in models.values()) * 1.05
    handles = [Rectangle((0, 0), 1, 1, facecolor=c) for c in colours.values()]
    ax.legend(handles, list(colours), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=3, frameon=False)
    ax.set_xlim(-3.2, width)
    ax.set_ylim(-0.2, len(models))
    ax.axis("off")
    white_background(ax.figure)
    return ax

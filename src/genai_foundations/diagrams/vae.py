"""Diagrams and figures of the VAE chapter (chapter 5), drawn from the package's own models.

* :func:`vae_diagram`: the computation of one training step of a VAE (encoder, the two outputs
  :math:`\\mu` and :math:`\\log\\sigma^2`, the reparameterised draw, decoder, the two loss terms),
  with the shapes and parameter counts measured by running the given model on the given batch;
* :func:`latent_scatter`: codes in a 2-D latent space coloured by a label;
* :func:`decoded_grid`: the images a decoder produces on a regular grid of a 2-D latent space;
* :func:`code_pairs`: the three pairwise projections of 3-D codes (the circles example).

Every figure has a white background and is returned, so the chapter can put a caption under it.
"""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from genai_foundations.algorithms.vae import reparameterize

__all__ = ["vae_stages", "vae_diagram", "latent_scatter", "decoded_grid", "code_pairs"]


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _shape(t: torch.Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


@torch.no_grad()
def vae_stages(model: nn.Module, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, str]:
    """Run one VAE step on ``x`` and describe its stages: ``{stage: "shape"}`` plus the parameter counts.

    Keys: ``x``, ``mu``, ``logvar``, ``eps``, ``z``, ``output``, ``encoder_parameters``,
    ``decoder_parameters`` (the model's ``encoder`` / ``decoder`` attributes, when it has them, the
    encoder including any separate heads such as ``to_mu`` and ``to_logvar``).
    """
    was_training = model.training
    model.eval()
    try:
        mu, logvar = model.encode(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
        z = reparameterize(mu, logvar, noise=eps)
        output = model.decode(z)
    finally:
        model.train(was_training)
    decoder = getattr(model, "decoder", None)
    n_dec = _count(decoder) if isinstance(decoder, nn.Module) else 0
    return {"x": _shape(x), "mu": _shape(mu), "logvar": _shape(logvar), "eps": _shape(eps), "z": _shape(z),
            "output": _shape(output), "encoder_parameters": f"{_count(model) - n_dec:,}",
            "decoder_parameters": f"{n_dec:,}"}


def _box(ax: plt.Axes, xy: tuple[float, float], text: str, color: str, width: float = 1.7,
         height: float = 0.8) -> tuple[float, float, float, float]:
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.05",
                                facecolor=color, edgecolor="black", linewidth=1.0))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)
    return x - width / 2, x + width / 2, y - height / 2, y + height / 2


def _arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float], style: str = "-|>",
           color: str = "black", linestyle: str = "-") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=color,
                                 linestyle=linestyle, linewidth=1.2, shrinkA=0, shrinkB=0))


def vae_diagram(model: nn.Module, x: torch.Tensor, generator: torch.Generator | None = None,
                title: str | None = None) -> tuple[plt.Figure, dict[str, str]]:
    """Draw the forward pass and loss of a VAE on the batch ``x``; return ``(figure, stages)``.

    The boxes carry the shapes that :func:`vae_stages` measured by running ``model``; the noise
    :math:`\\varepsilon` enters from the side (it is an input, so gradients pass to :math:`\\mu` and
    :math:`\\log\\sigma^2`, not through a sampling step); dashed arrows lead to the two loss terms.
    """
    stages = vae_stages(model, x, generator)
    fig, ax = plt.subplots(figsize=(13, 4.2))
    fig.patch.set_facecolor("white")
    ax.set_xlim(0, 13.4)
    ax.set_ylim(-0.15, 4.2)
    ax.set_axis_off()
    y = 2.6
    _box(ax, (0.9, y), f"$x$\n{stages['x']}", "#dddddd", width=1.4)
    _box(ax, (3.0, y), f"encoder\n{stages['encoder_parameters']} params", "#c6dbef", width=1.9)
    _box(ax, (5.3, y + 0.75), f"$\\mu$\n{stages['mu']}", "#fdd0a2", width=1.6, height=0.7)
    _box(ax, (5.3, y - 0.75), f"$\\log\\sigma^2$\n{stages['logvar']}", "#fdd0a2", width=1.6, height=0.7)
    _box(ax, (7.55, y), f"$z = \\mu + e^{{\\log\\sigma^2/2}}\\odot\\varepsilon$\n{stages['z']}", "#fee391",
         width=2.3)
    _box(ax, (7.55, 0.55), f"$\\varepsilon\\sim\\mathcal{{N}}(0, I)$\n{stages['eps']}", "#ffffff", width=2.0,
         height=0.7)
    _box(ax, (9.95, y), f"decoder\n{stages['decoder_parameters']} params", "#c6dbef", width=1.9)
    _box(ax, (12.15, y), f"output\n{stages['output']}", "#dddddd", width=1.6)
    _box(ax, (5.3, 0.55), "KL$(q\\,\\|\\,\\mathcal{N}(0,I))$\nclosed form", "#fcbba1", width=2.0, height=0.7)
    _box(ax, (12.15, 0.55), "$-\\log p(x\\mid z)$\nBCE or squared error", "#fcbba1", width=2.1, height=0.7)
    _arrow(ax, (1.6, y), (2.05, y))
    _arrow(ax, (3.95, y + 0.2), (4.5, y + 0.7))
    _arrow(ax, (3.95, y - 0.2), (4.5, y - 0.7))
    _arrow(ax, (6.1, y + 0.6), (6.4, y + 0.25))
    _arrow(ax, (6.1, y - 0.6), (6.4, y - 0.25))
    _arrow(ax, (7.55, 0.9), (7.55, y - 0.4))
    _arrow(ax, (8.7, y), (9.0, y))
    _arrow(ax, (10.9, y), (11.35, y))
    _arrow(ax, (5.3, y - 1.1), (5.3, 0.9), color="#cb181d", linestyle="--")
    _arrow(ax, (12.15, y - 0.4), (12.15, 0.9), color="#cb181d", linestyle="--")
    ax.plot([0.9, 0.9, 12.15], [y - 0.4, 0.0, 0.0], color="#969696", linestyle=":", linewidth=1.2)  # x to the loss
    _arrow(ax, (12.15, 0.0), (12.15, 0.2), color="#969696")
    ax.text(3.0, 0.08, "the data $x$ is the target", fontsize=8, color="#636363")
    ax.text(6.6, 3.95, title or f"one training step of {type(model).__name__}: loss = $-\\log p(x\\mid z)$ + KL",
            ha="center", fontsize=11)
    return fig, stages


def latent_scatter(codes: torch.Tensor, labels: torch.Tensor, ax: plt.Axes | None = None,
                   title: str | None = None, s: float = 8.0) -> plt.Axes:
    """Scatter 2-D ``codes`` (N, 2) coloured by integer ``labels`` (N,), with a legend."""
    codes = torch.as_tensor(codes).detach().float().cpu()
    labels = torch.as_tensor(labels).cpu()
    if codes.dim() != 2 or codes.shape[1] != 2 or labels.shape != codes.shape[:1]:
        raise ValueError(f"expected codes (N, 2) and labels (N,), got {tuple(codes.shape)} and {tuple(labels.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.figure.patch.set_facecolor("white")
    cmap = plt.get_cmap("tab10")
    for k in sorted(int(v) for v in labels.unique()):
        pts = codes[labels == k].numpy()
        ax.scatter(pts[:, 0], pts[:, 1], s=s, color=cmap(k % 10), label=str(k), alpha=0.8)
    ax.set_aspect("equal")
    ax.legend(markerscale=2, fontsize=8, ncol=2, loc="upper right", framealpha=0.8)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


@torch.no_grad()
def decoded_grid(decode: Callable[[torch.Tensor], torch.Tensor], limits: float | Sequence[float], n: int,
                 image_shape: tuple[int, int], ax: plt.Axes | None = None, title: str | None = None,
                 cmap: str = "gray_r") -> torch.Tensor:
    """Decode an ``n`` x ``n`` grid of 2-D codes and show the images as one mosaic; return them (n*n, H, W).

    ``limits`` is ``L`` (the square [-L, L]^2) or ``(x_min, x_max, y_min, y_max)``; ``decode`` maps
    codes (B, 2) to images (values in [0, 1], any shape with H*W numbers per code). The top row
    of the mosaic is the largest :math:`z_2`.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    if isinstance(limits, (int, float)):
        limits = (-limits, limits, -limits, limits)
    x0, x1, y0, y1 = (float(v) for v in limits)
    xs, ys = torch.linspace(x0, x1, n), torch.linspace(y1, y0, n)
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1).reshape(-1, 2).flip(-1)  # rows: z_2 down
    h, w = image_shape
    images = decode(grid).detach().float().cpu().reshape(n * n, h, w)
    padded = torch.nn.functional.pad(images, (0, 1, 0, 1))                  # a blank line between the tiles
    mosaic = padded.reshape(n, n, h + 1, w + 1).permute(0, 2, 1, 3).reshape(n * (h + 1), n * (w + 1)).numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    ax.figure.patch.set_facecolor("white")
    ax.imshow(mosaic, cmap=cmap, vmin=0, vmax=1, extent=(x0, x1, y0, y1), interpolation="nearest")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return images


def code_pairs(codes: torch.Tensor, color: torch.Tensor, axes: Sequence[plt.Axes], name: str = "z",
               color_label: str = "", s: float = 4.0) -> None:
    """The three pairwise projections of 3-D ``codes`` (N, 3) on three axes, coloured by ``color`` (N,)."""
    codes = torch.as_tensor(codes).detach().float().cpu()
    if codes.dim() != 2 or codes.shape[1] != 3 or len(axes) != 3:
        raise ValueError(f"expected codes (N, 3) and three axes, got {tuple(codes.shape)} and {len(axes)} axes")
    c = np.asarray(torch.as_tensor(color).detach().float().cpu())
    for ax, (i, j) in zip(axes, ((0, 1), (0, 2), (1, 2))):
        ax.figure.patch.set_facecolor("white")
        points = ax.scatter(codes[:, i], codes[:, j], c=c, s=s, cmap="viridis")
        ax.set_xlabel(f"${name}_{i + 1}$")
        ax.set_ylabel(f"${name}_{j + 1}$")
        ax.set_aspect("equal", adjustable="datalim")
    if color_label:
        axes[-1].figure.colorbar(points, ax=list(axes), label=color_label, shrink=0.8)

"""Figures of the GAN chapter (chapter 8), drawn from the package's own networks and training records.

* :func:`gan_game_diagram` draws the two-player game as a data-flow graph:
  noise into the generator, real and generated samples into the
  discriminator, and which loss trains which player. Every box is labelled
  with the shapes and parameter counts of the networks passed in, measured by
  running an example batch through them.
* :func:`dcgan_shapes_figure` draws the feature maps of a DCGAN generator and
  discriminator layer by layer (:func:`~genai_foundations.architectures.gan_networks.layer_table`),
  with each convolution's parameter count.
* :func:`decision_surface_panels` shows :math:`D(x)` over the plane at several
  training steps with the real ring and the generator's samples on top.
* :func:`ring_samples_panels` shows the samples of several runs over the
  ring's 3-sigma discs, coloured by whether they are high quality.

Every function returns its figure (white background) so the chapter can put
a caption under it.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle
from torch import nn

from genai_foundations.architectures.gan_networks import count_parameters, layer_table

__all__ = ["gan_game_diagram", "dcgan_shapes_figure", "decision_surface_panels", "ring_samples_panels"]


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(s) for s in t.shape[1:]) + ")"


def _box(ax, xy, text, color, width=2.3, height=1.0):
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.05",
                                facecolor=color, edgecolor="black", linewidth=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start, end, text="", color="black", offset=(0, 0.18), style="-|>"):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=14, color=color, linewidth=1.4))
    if text:
        ax.text((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1], text, ha="center",
                va="bottom", fontsize=8, color=color)


@torch.no_grad()
def gan_game_diagram(generator: nn.Module, discriminator: nn.Module, z: torch.Tensor, x_real: torch.Tensor,
                     y: torch.Tensor | None = None) -> plt.Figure:
    """The generator-discriminator game as a data-flow diagram, labelled from ``generator`` and ``discriminator``.

    ``z`` is a latent batch and ``x_real`` a real batch (labels ``y`` for
    conditional networks); both are run through the networks (in eval mode) to
    read off the shapes written on the arrows.
    """
    was = generator.training, discriminator.training
    generator.eval()
    discriminator.eval()
    try:
        fake = generator(z) if y is None else generator(z, y)
        logits = discriminator(x_real) if y is None else discriminator(x_real, y)
    finally:
        generator.train(was[0])
        discriminator.train(was[1])
    fig, ax = plt.subplots(figsize=(11, 4.6), facecolor="white")
    ax.set_xlim(0, 13)
    ax.set_ylim(0, 6)
    ax.axis("off")
    cond = "" if y is None else ", y"
    _box(ax, (1.2, 4.5), f"noise $z\\sim\\mathcal{{N}}(0, I)$\n{_shape(z)}", "#eef3fb")
    _box(ax, (4.4, 4.5), f"generator $G_\\theta(z{cond})$\n{type(generator).__name__}\n"
                         f"{count_parameters(generator):,} parameters", "#d7e6f7", width=2.6, height=1.3)
    _box(ax, (1.2, 1.5), f"real data $x\\sim p_{{data}}$\n{_shape(x_real)}", "#eaf6ea")
    _box(ax, (7.9, 3.0), f"discriminator $D_\\phi(x{cond})$\n{type(discriminator).__name__}\n"
                         f"{count_parameters(discriminator):,} parameters", "#fbe3d4", width=2.8, height=1.3)
    _box(ax, (11.4, 4.6), "$L_G$: fakes labelled real\n(G-NS or G-SAT)", "#d7e6f7", width=2.5, height=0.9)
    _box(ax, (11.4, 1.4), "$L_D$: real labelled 1,\nfakes labelled 0", "#fbe3d4", width=2.5, height=0.9)
    _arrow(ax, (2.35, 4.5), (3.1, 4.5), _shape(z))
    _arrow(ax, (5.7, 3.85), (6.5, 3.4), f"fake $\\tilde x$ {_shape(fake)}", color="#1f5fa8", offset=(-1.1, -0.55))
    _arrow(ax, (2.35, 1.5), (6.5, 2.6), f"real $x$ {_shape(x_real)}", color="#2e7d32", offset=(0, -0.55))
    _arrow(ax, (9.3, 3.3), (10.15, 4.3), "one logit per example", offset=(-0.9, 0.15))
    _arrow(ax, (9.3, 2.7), (10.15, 1.7))
    _arrow(ax, (11.4, 5.05), (4.4, 5.2), "gradient to $\\theta$ (through $D$, whose weights stay fixed)",
           color="#1f5fa8", offset=(0, 0.05))
    _arrow(ax, (11.4, 0.95), (7.9, 2.35), "gradient to $\\phi$ ($\\tilde x$ detached)", color="#c0504d",
           offset=(-1.3, -1.0))
    ax.set_title("The GAN game: two networks, two losses, updated in turn (k steps of D, one of G)", fontsize=11)
    return fig


def dcgan_shapes_figure(generator: nn.Module, discriminator: nn.Module, z: torch.Tensor,
                        x: torch.Tensor) -> plt.Figure:
    """Feature maps of a DCGAN generator (top) and discriminator (bottom), one block per convolution.

    Block height grows with the spatial size, width with the channel count
    (both on a log scale); each block is labelled with the layer's output
    shape (channels x height x width) and its parameter count.
    """
    import math

    rows = [("generator", layer_table(generator, z)), ("discriminator", layer_table(discriminator, x))]
    fig, axes = plt.subplots(2, 1, figsize=(12, 5.6), facecolor="white")
    for ax, (name, table) in zip(axes, rows):
        convs = [r for r in table if r["layer"] in ("Conv2d", "ConvTranspose2d")]
        ax.axis("off")
        pos = 0.0
        for r in convs:
            c, h = r["shape"][0], r["shape"][1]
            width, height = 0.25 + 0.18 * math.log2(c + 1), 0.35 + 0.45 * math.log2(h + 1)
            colour = "#d7e6f7" if name == "generator" else "#fbe3d4"
            ax.add_patch(Rectangle((pos, -height / 2), width, height, facecolor=colour, edgecolor="black"))
            ax.text(pos + width / 2, height / 2 + 0.15, f"{c}x{h}x{r['shape'][2]}", ha="center", va="bottom",
                    fontsize=8)
            ax.text(pos + width / 2, -height / 2 - 0.15, f"{r['layer'].replace('Transpose', 'T')}\n{r['params']:,}",
                    ha="center", va="top", fontsize=8)
            pos += width + 0.9
        total = count_parameters(generator if name == "generator" else discriminator)
        ax.set_xlim(-0.3, pos)
        ax.set_ylim(-3.3, 3.3)
        ax.set_title(f"{name}: output of each convolution (channels x height x width) and its parameters; "
                     f"{total:,} in all", fontsize=10)
    fig.tight_layout()
    return fig


def decision_surface_panels(snapshots: Mapping[int, tuple[torch.Tensor, torch.Tensor]], real: torch.Tensor,
                            limits: float = 3.0) -> plt.Figure:
    """:math:`D(x)` over ``[-limits, limits]^2`` at several steps, with real points (black) and fakes (red).

    ``snapshots[step] = (grid, fakes)``: ``grid`` a square tensor of
    :math:`D(x)` values (as from :func:`~genai_foundations.algorithms.gans.decision_grid`),
    ``fakes`` the generator's samples at that step.
    """
    steps = sorted(snapshots)
    if not steps:
        raise ValueError("no snapshots to draw")
    fig, axes = plt.subplots(1, len(steps), figsize=(3.1 * len(steps), 3.3), facecolor="white", squeeze=False)
    image = None
    for ax, step in zip(axes[0], steps):
        grid, fakes = snapshots[step]
        image = ax.imshow(grid.numpy(), origin="lower", extent=(-limits, limits, -limits, limits), cmap="RdBu",
                          vmin=0, vmax=1)
        ax.scatter(real[:, 0], real[:, 1], s=1, c="black", alpha=0.4)
        ax.scatter(fakes[:, 0], fakes[:, 1], s=1, c="#d62728", alpha=0.5)
        ax.set_title(f"step {step}", fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.85, label="D(x)")
    return fig


def ring_samples_panels(samples: Mapping[str, torch.Tensor], centres: torch.Tensor, std: float,
                        radius_in_std: float = 3.0, titles: Mapping[str, str] | None = None,
                        ncols: int = 4, limits: float = 3.0) -> plt.Figure:
    """Samples of several runs over the modes' ``radius_in_std``-sigma discs: high-quality ones blue, others red."""
    names = list(samples)
    if not names:
        raise ValueError("no samples to draw")
    nrows = (len(names) + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, min(ncols, len(names)), figsize=(3.0 * min(ncols, len(names)), 3.0 * nrows),
                             facecolor="white", squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, name in zip(axes.flat, names):
        pts = samples[name].float()
        good = torch.cdist(pts, centres.float()).min(dim=1).values <= radius_in_std * std
        for c in centres:
            ax.add_patch(Circle(tuple(c.tolist()), radius_in_std * std, fill=False, color="gray", linewidth=0.8))
        ax.scatter(pts[good, 0], pts[good, 1], s=1.5, c="#1f5fa8", alpha=0.5)
        ax.scatter(pts[~good, 0], pts[~good, 1], s=1.5, c="#d62728", alpha=0.5)
        ax.set_xlim(-limits, limits)
        ax.set_ylim(-limits, limits)
        ax.set_aspect("equal")
        ax.set_title((titles or {}).get(name, name), fontsize=9)
    fig.tight_layout()
    return fig

"""Diagrams of chapter 1 (normalizing flows), drawn from the package's own flow objects.

* :func:`change_of_variables`: a 1-D flow stretching a density; bands of equal probability
  in the base and in the data, with the map between them.
* :func:`coupling_layer`: an :class:`~genai_foundations.algorithms.flow_layers.AffineCoupling`
  layer's split (from its ``mask``), its numbers on one input, and its autograd Jacobian, in
  the input's order and sorted by the mask (where it becomes block triangular).
* :func:`jacobian_heatmap`: one Jacobian as an annotated heat map (exact zeros marked).
* :func:`digits_flow_architecture`: the layers of a Glow-style image flow with the shape after
  each one (from ``flow.trace``), its coupling masks, and what ``Squeeze`` does to a 4x4 image.

Every function returns the numbers it drew (band masses, the Jacobian, the shapes), so a
chapter can assert what the picture shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from genai_foundations.algorithms.flow_layers import AffineCoupling, Squeeze
from genai_foundations.runtime import eval_mode

KEPT_COLOUR = "#4C72B0"
CHANGED_COLOUR = "#DD8452"


def _white(fig: plt.Figure) -> plt.Figure:
    fig.patch.set_facecolor("white")
    return fig


# ---------------------------------------------------------------------------------------------------------------
# Change of variables in 1-D
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class StretchedBands:
    """What :func:`change_of_variables` drew: band edges in z and in x, and each band's probability."""

    figure: plt.Figure
    z_edges: torch.Tensor
    x_edges: torch.Tensor
    mass_z: torch.Tensor      # integral of p_z over each z band
    mass_x: torch.Tensor      # integral of p_x = p_z(f(x)) |f'(x)| over the matching x band
    stretch: torch.Tensor     # |f'(x)| at the centre of each x band


def _trapezoid(values: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    return ((values[1:] + values[:-1]) / 2 * (points[1:] - points[:-1])).sum()


def _flow_1d(flow, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``flow`` on scalars: called on (B, 1) tensors, returns z and the log-det as (B,)."""
    z, logdet = flow(x[:, None])
    return z.reshape(-1), logdet.reshape(-1)


@torch.no_grad()
def change_of_variables(flow, x_limits: tuple[float, float], z_edges: torch.Tensor | None = None,
                        num_points: int = 4001) -> StretchedBands:
    """Draw how a 1-D flow :math:`z = f(x)` turns the base density :math:`p_z` into :math:`p_x = p_z(f(x))\\,|f'(x)|`.

    ``flow`` is a :class:`~genai_foundations.algorithms.flows.FlowSequence` on examples of
    shape (1,) (data to latent, with ``inverse`` and ``base``). ``z_edges`` are the edges of
    equal-width bands in the latent (default: 8 bands on [-2, 2]); their images
    :math:`x = f^{-1}(z)` are the bands in the data. Each band holds the same probability in
    both panels: where :math:`f` squeezes a band (large :math:`|f'|`), the density in x is
    higher by that factor. The masses are integrated numerically (trapezoid rule, float64).
    """
    z_edges = torch.linspace(-2.0, 2.0, 9, dtype=torch.float64) if z_edges is None else z_edges.double()
    if z_edges.dim() != 1 or len(z_edges) < 2 or not bool((z_edges[1:] > z_edges[:-1]).all()):
        raise ValueError("z_edges must be an increasing 1-D tensor with at least two entries")
    flow = flow.double()
    x = torch.linspace(*x_limits, num_points, dtype=torch.float64)
    z, logdet = _flow_1d(flow, x)
    log_pz = flow.base.log_prob(z[:, None])
    p_x = (log_pz + logdet).exp()
    x_edges = flow.inverse(z_edges[:, None]).reshape(-1)
    if not bool((x_edges[1:] > x_edges[:-1]).all()):
        raise ValueError("the flow must be increasing on the bands (its inverse reversed their order)")
    if x_edges[0] < x_limits[0] or x_edges[-1] > x_limits[1]:
        raise ValueError(f"the bands reach x = {x_edges[0]:.3g} .. {x_edges[-1]:.3g}, outside x_limits {x_limits}")

    z_fine = torch.linspace(float(z_edges[0]) - 1.5, float(z_edges[-1]) + 1.5, num_points, dtype=torch.float64)
    p_z = flow.base.log_prob(z_fine[:, None]).exp()
    mass_z, mass_x, stretch = [], [], []
    for i in range(len(z_edges) - 1):
        zs = torch.linspace(float(z_edges[i]), float(z_edges[i + 1]), 2001, dtype=torch.float64)
        mass_z.append(_trapezoid(flow.base.log_prob(zs[:, None]).exp(), zs))
        xs = torch.linspace(float(x_edges[i]), float(x_edges[i + 1]), 2001, dtype=torch.float64)
        zx, ldx = _flow_1d(flow, xs)
        mass_x.append(_trapezoid((flow.base.log_prob(zx[:, None]) + ldx).exp(), xs))
        centre = ((x_edges[i] + x_edges[i + 1]) / 2).reshape(1)
        stretch.append(_flow_1d(flow, centre)[1].exp()[0])
    mass_z, mass_x, stretch = torch.stack(mass_z), torch.stack(mass_x), torch.stack(stretch)

    fig = plt.figure(figsize=(10, 7.2))
    grid = fig.add_gridspec(2, 2, width_ratios=[1, 3], height_ratios=[3, 1.3], wspace=0.12, hspace=0.08)
    ax_map = fig.add_subplot(grid[0, 1])
    ax_z = fig.add_subplot(grid[0, 0], sharey=ax_map)
    ax_x = fig.add_subplot(grid[1, 1], sharex=ax_map)
    ax_text = fig.add_subplot(grid[1, 0])
    colours = plt.cm.viridis(np.linspace(0.1, 0.9, len(z_edges) - 1))
    x, z, p_x, z_fine, p_z = (v.numpy() for v in (x, z, p_x, z_fine, p_z))
    ax_map.plot(x, z, color="k", linewidth=1.6)
    ax_z.plot(p_z, z_fine, color="k", linewidth=1.2)
    ax_x.plot(x, p_x, color="k", linewidth=1.2)
    for i, colour in enumerate(colours):
        z_lo, z_hi, x_lo, x_hi = (float(v) for v in (z_edges[i], z_edges[i + 1], x_edges[i], x_edges[i + 1]))
        in_z = (z_fine >= z_lo) & (z_fine <= z_hi)
        ax_z.fill_betweenx(z_fine[in_z], 0, p_z[in_z], color=colour, alpha=0.8)
        in_x = (x >= x_lo) & (x <= x_hi)
        ax_x.fill_between(x[in_x], 0, p_x[in_x], color=colour, alpha=0.8)
        ax_map.fill_between([x_lo, x_hi], z_lo, z_hi, color=colour, alpha=0.25, linewidth=0)
        if x_hi - x_lo > 0.04 * (x_limits[1] - x_limits[0]):          # room for a label
            ax_x.text((x_lo + x_hi) / 2, float(p_x.max()) * 1.03, f"{float(stretch[i]):.1f}", ha="center",
                      va="bottom", fontsize=8, color=colour)
    for edge_x, edge_z in zip(x_edges.tolist(), z_edges.tolist()):
        ax_map.plot([x_limits[0], edge_x], [edge_z, edge_z], color="0.6", linewidth=0.6, linestyle=":")
        ax_map.plot([edge_x, edge_x], [edge_z, float(z.min())], color="0.6", linewidth=0.6, linestyle=":")
    ax_map.set(xlim=x_limits, ylim=(float(z_fine[0]), float(z_fine[-1])),
               title=r"the flow $z = f(x)$; each colour is one band, in x and in z")
    ax_map.tick_params(labelbottom=False, labelleft=False)
    ax_z.set(xlabel=r"$p_z(z)$", ylabel="z")
    ax_z.invert_xaxis()
    ax_x.set(xlabel="x", ylabel=r"$p_x(x)$", ylim=(0, float(p_x.max()) * 1.2))
    ax_text.axis("off")
    ax_text.text(0.45, 0.5, "$p_x(x) = p_z(f(x))\\,|f'(x)|$\n\nnumbers above the\nbands: $|f'(x)|$ at\n"
                 "the band centre", ha="center", va="center", fontsize=10)
    _white(fig)
    return StretchedBands(fig, z_edges, x_edges, mass_z, mass_x, stretch)


# ---------------------------------------------------------------------------------------------------------------
# Jacobians and the coupling layer
# ---------------------------------------------------------------------------------------------------------------
def jacobian_heatmap(jac: torch.Tensor, ax: plt.Axes | None = None, row_labels: list[str] | None = None,
                     col_labels: list[str] | None = None, title: str | None = None,
                     label_colours: list[str] | None = None) -> plt.Axes:
    """Draw a square Jacobian :math:`\\partial z / \\partial x` (rows z, columns x) as an annotated heat map.

    Exact zeros (no dependence at all) are left white and marked with a grey "0", so the
    triangular structure stands out from entries that are merely small.
    """
    jac = jac.detach().double().cpu()
    if jac.dim() != 2 or jac.shape[0] != jac.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {tuple(jac.shape)}")
    d = jac.shape[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(0.6 * d + 1.5, 0.6 * d + 1.2))
    _white(ax.figure)
    limit = float(jac.abs().max()) or 1.0
    shown = np.ma.masked_where(jac.numpy() == 0, jac.numpy())
    cmap = plt.cm.RdBu_r.with_extremes(bad="white")
    ax.imshow(shown, cmap=cmap, vmin=-limit, vmax=limit)
    for i in range(d):
        for j in range(d):
            value = float(jac[i, j])
            if value == 0:
                ax.text(j, i, "0", ha="center", va="center", color="0.6", fontsize=8)
            else:
                strong = abs(value) > 0.6 * limit
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if strong else "black")
    ax.set_xticks(range(d), col_labels or [f"$x_{{{j + 1}}}$" for j in range(d)])
    ax.set_yticks(range(d), row_labels or [f"$z_{{{i + 1}}}$" for i in range(d)])
    if label_colours is not None:
        for tick, colour in zip(ax.get_xticklabels(), label_colours):
            tick.set_color(colour)
        for tick, colour in zip(ax.get_yticklabels(), label_colours):
            tick.set_color(colour)
    ax.set_xticks(np.arange(d + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(d + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


@dataclass
class CouplingPicture:
    """What :func:`coupling_layer` drew: the Jacobian in input order, the kept-first order, and the layer's numbers."""

    figure: plt.Figure
    jacobian: torch.Tensor          # dz/dx in the input's order (float64)
    order: list[int]                # kept dimensions first, then the changed ones
    s: torch.Tensor                 # the scales of the changed dimensions (0 on kept ones)
    logdet: float                   # what the layer reports


def _box(ax: plt.Axes, x: float, y: float, text: str, colour: str, width: float = 1.3, height: float = 0.6) -> None:
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height, boxstyle="round,pad=0.03",
                                facecolor=colour, edgecolor="k", linewidth=0.8, alpha=0.9))
    ax.text(x, y, text, ha="center", va="center", fontsize=8, color="white")


def _arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float], colour: str, style: str = "-") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, color=colour, linewidth=0.9,
                                 linestyle=style, shrinkA=0, shrinkB=0))


def _describe(module: torch.nn.Module) -> str:
    sizes = [m.in_features for m in module.modules() if isinstance(m, torch.nn.Linear)]
    last = [m.out_features for m in module.modules() if isinstance(m, torch.nn.Linear)]
    if sizes:
        return "MLP " + "-".join(str(v) for v in sizes + last[-1:])
    return type(module).__name__


def coupling_layer(layer: AffineCoupling, x: torch.Tensor) -> CouplingPicture:
    """Draw an affine coupling layer on one input ``x`` of shape (D,): its split, its numbers and its Jacobian.

    Left: the dimensions that the layer's ``mask`` keeps (blue) pass unchanged and feed the
    conditioner, whose :math:`s, t` transform the others (orange), with the values of ``x``,
    ``z`` and ``s``. Middle: :math:`\\partial z/\\partial x` from ``torch.autograd`` in the input's
    order. Right: the same matrix with rows and columns sorted kept-first, where it is block
    lower triangular with the identity and :math:`\\operatorname{diag}(e^{s})` on the diagonal.
    """
    if not isinstance(layer, AffineCoupling) or layer.mask.dim() != 1:
        raise ValueError("coupling_layer draws an AffineCoupling on vectors (a mask of shape (D,))")
    d = layer.mask.numel()
    if x.shape != (d,):
        raise ValueError(f"x must have shape ({d},) to match the mask, got {tuple(x.shape)}")
    dtype = next(layer.parameters()).dtype
    x = x.to(dtype)
    mask = layer.mask.bool().cpu()
    with torch.no_grad():
        z, logdet = layer(x[None])
        s, t = layer.scale_and_shift((x * layer.mask)[None])
    s = (s[0] * (~mask).to(dtype)).cpu()
    jac = torch.autograd.functional.jacobian(lambda v: layer(v[None])[0][0], x).detach().double().cpu()
    kept = [j for j in range(d) if mask[j]]
    changed = [j for j in range(d) if not mask[j]]
    order = kept + changed

    fig = plt.figure(figsize=(15, 0.6 * d + 3.6))
    grid = fig.add_gridspec(1, 3, width_ratios=[1.5, 1, 1], wspace=0.3)
    ax = fig.add_subplot(grid[0])
    ax.set(xlim=(-1, 6.4), ylim=(-0.8, d + 1.3))
    ax.axis("off")
    ax.invert_yaxis()
    below = d + 0.6
    _box(ax, 2.7, below, "conditioner " + _describe(layer.conditioner) + "\n$s, t$ from the kept part", "0.35",
         width=2.8, height=0.8)
    for j in range(d):
        colour = KEPT_COLOUR if mask[j] else CHANGED_COLOUR
        _box(ax, 0, j, f"$x_{{{j + 1}}}$ = {float(x[j]):+.2f}", colour)
        _box(ax, 5.4, j, f"$z_{{{j + 1}}}$ = {float(z[0, j]):+.2f}", colour)
        _arrow(ax, (0.65, j), (4.75, j), colour)
        if mask[j]:
            _arrow(ax, (1.0, j), (1.6, below - 0.4), "0.5", style=":")
        else:
            _arrow(ax, (3.8, below - 0.4), (4.1, j + 0.05), "0.5", style=":")
            ax.text(3.0, j - 0.12, f"$\\times e^{{{float(s[j]):.2f}}} + t$", fontsize=8, color=CHANGED_COLOUR,
                    ha="center", va="bottom")
    ax.set_title(f"affine coupling, mask {[int(v) for v in layer.mask.tolist()]} (1 = kept)", fontsize=10)
    labels = [f"$x_{{{j + 1}}}$" for j in range(d)]
    colours = [KEPT_COLOUR if mask[j] else CHANGED_COLOUR for j in range(d)]
    jacobian_heatmap(jac, fig.add_subplot(grid[1]), title="autograd $\\partial z/\\partial x$, input order",
                     col_labels=labels, row_labels=[v.replace("x", "z") for v in labels], label_colours=colours)
    sorted_jac = jac[order][:, order]
    jacobian_heatmap(sorted_jac, fig.add_subplot(grid[2]),
                     title=f"sorted kept-first: $\\log|\\det| = \\sum s$ = {float(logdet[0]):.3f}",
                     col_labels=[labels[j] for j in order], row_labels=[labels[j].replace("x", "z") for j in order],
                     label_colours=[colours[j] for j in order])
    _white(fig)
    return CouplingPicture(fig, jac, order, s, float(logdet[0]))


# ---------------------------------------------------------------------------------------------------------------
# An image flow: its layers, shapes, masks and the squeeze
# ---------------------------------------------------------------------------------------------------------------
SHORT_NAMES = {"Invertible1x1Conv": "1x1 conv", "AffineCoupling (checkerboard)": "coupling (checkerboard)",
               "AffineCoupling (channels)": "coupling (channels)", "LogitTransform": "logit transform",
               "Squeeze": "squeeze 2x2 patches into channels"}


def _layer_name(layer: torch.nn.Module) -> str:
    if isinstance(layer, AffineCoupling):
        mask = layer.mask
        spatial = mask.dim() == 3 and bool((mask != mask[:, :1, :1]).any())
        return "AffineCoupling (checkerboard)" if spatial else "AffineCoupling (channels)"
    return type(layer).__name__


def layer_shapes(flow, example: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """``[(layer name, shape of one example after it), ...]`` for a flow, from ``flow.trace``."""
    with torch.no_grad(), eval_mode(flow):         # eval: ActNorm must not initialise itself on this example
        stages = flow.trace(example)
    return [(_layer_name(layer), tuple(out.shape[1:])) for layer, out in zip(flow.layers, stages[1:])]


def _group(shapes: list[tuple[str, tuple[int, ...]]]) -> list[tuple[list[str], tuple[int, ...], int]]:
    """Blocks that end with a coupling (or a lone layer), with runs of identical blocks counted."""
    blocks: list[tuple[list[str], tuple[int, ...]]] = []
    current: list[str] = []
    for name, shape in shapes:
        current.append(name)
        if name.startswith("AffineCoupling") or name in ("LogitTransform", "Squeeze"):
            blocks.append((current, shape))
            current = []
    if current:
        blocks.append((current, shapes[-1][1]))
    grouped: list[tuple[list[str], tuple[int, ...], int]] = []
    for names, shape in blocks:
        if grouped and grouped[-1][0] == names and grouped[-1][1] == shape:
            grouped[-1] = (names, shape, grouped[-1][2] + 1)
        else:
            grouped.append((names, shape, 1))
    return grouped


def digits_flow_architecture(flow, example: torch.Tensor) -> tuple[plt.Figure, list[tuple[str, tuple[int, ...]]]]:
    """Draw a Glow-style image flow (e.g. :func:`~genai_foundations.algorithms.flows.digits_flow`).

    Left: its blocks from data to latent, each with the shape of one example after it
    (from ``flow.trace(example)``, ``example`` of shape (1, C, H, W)) and how often it repeats.
    Right, top: the first two checkerboard masks and the channel mask of the couplings, read
    from the layers. Right, bottom: ``Squeeze`` applied to a numbered 4x4 image: each 2x2
    patch becomes one pixel with four channels. Returns the figure and the per-layer shapes.
    """
    shapes = layer_shapes(flow, example)
    grouped = _group(shapes)
    fig = plt.figure(figsize=(14, 7))
    grid = fig.add_gridspec(2, 4, width_ratios=[2.2, 1, 1, 1], height_ratios=[1, 1], wspace=0.35, hspace=0.45)
    ax = fig.add_subplot(grid[:, 0])
    ax.axis("off")
    rows = len(grouped) + 2
    ax.set(xlim=(0, 1), ylim=(rows, -1))
    in_shape = tuple(example.shape[1:])
    ax.text(0.5, -0.3, f"data y: {in_shape}", ha="center", va="center", fontsize=10, weight="bold")
    for r, (names, shape, count) in enumerate(grouped):
        y = r + 0.7
        colour = "#8172B2" if "Squeeze" in names else ("#55A868" if "LogitTransform" in names else KEPT_COLOUR)
        label = " + ".join(SHORT_NAMES.get(name, name) for name in names)
        ax.add_patch(FancyBboxPatch((0.02, y - 0.32), 0.96, 0.64, boxstyle="round,pad=0.02", facecolor=colour,
                                    alpha=0.85, edgecolor="k", linewidth=0.7))
        ax.text(0.5, y - 0.1, label, ha="center", va="center", fontsize=8.5, color="white")
        repeat = f"{count} blocks, " if count > 1 else ""
        ax.text(0.5, y + 0.15, f"{repeat}shape after: {shape}", ha="center", va="center", fontsize=8.5,
                color="white")
        _arrow(ax, (0.5, y - 0.68 if r else -0.1), (0.5, y - 0.34), "k")
    base_shape = getattr(flow.base, "event_shape", shapes[-1][1])
    _arrow(ax, (0.5, len(grouped) - 0.3 + 0.32), (0.5, len(grouped) + 0.8), "k")
    ax.text(0.5, len(grouped) + 1.0, f"latent z ~ N(0, I) on {tuple(base_shape)}", ha="center", va="center",
            fontsize=10, weight="bold")
    ax.set_title("data to latent (sampling runs upwards)", fontsize=10)

    couplings = [layer for layer in flow.layers if isinstance(layer, AffineCoupling)]
    board = [c.mask for c in couplings if c.mask.dim() == 3 and bool((c.mask != c.mask[:, :1, :1]).any())]
    channel = [c.mask for c in couplings if c.mask.dim() == 3 and not bool((c.mask != c.mask[:, :1, :1]).any())]
    mask_axes = [fig.add_subplot(grid[0, k]) for k in (1, 2, 3)]
    for k, mask in enumerate(board[:2]):
        mask_axes[k].imshow(mask[0].cpu().numpy(), cmap="Blues", vmin=-0.3, vmax=1.2)
        mask_axes[k].set_title(f"checkerboard mask {k + 1}\n(blue = kept)", fontsize=9)
    if channel:
        kept = channel[0][:, 0, 0].cpu()
        mask_axes[2].imshow(kept[:, None].repeat(1, 3).numpy(), cmap="Blues", vmin=-0.3, vmax=1.2)
        mask_axes[2].set_yticks(range(len(kept)), [f"ch {c}" for c in range(len(kept))])
        mask_axes[2].set_title("channel mask after the squeeze\n(blue = kept; the next swaps)", fontsize=9)
    for a in mask_axes:
        a.set_xticks([])
        if a is not mask_axes[2]:
            a.set_yticks([])

    numbered = torch.arange(16.0).reshape(1, 1, 4, 4)
    squeezed, _ = Squeeze()(numbered)
    position = (torch.arange(4)[:, None] % 2) * 2 + (torch.arange(4)[None, :] % 2)  # place inside the 2x2 patch
    colours = plt.cm.Set2(np.arange(4))
    ax_in = fig.add_subplot(grid[1, 1])
    ax_in.imshow(colours[position.numpy()], alpha=0.7)
    for i in range(4):
        for j in range(4):
            ax_in.text(j, i, f"{int(numbered[0, 0, i, j])}", ha="center", va="center", fontsize=9)
    for v in (1.5,):
        ax_in.axhline(v, color="k", linewidth=1.5)
        ax_in.axvline(v, color="k", linewidth=1.5)
    ax_in.set(xticks=[], yticks=[], title="a 1 x 4 x 4 image\n(colour: place in its 2x2 patch)")
    ax_in.title.set_fontsize(9)
    host = fig.add_subplot(grid[1, 2:])
    host.axis("off")
    host.set_title(f"after Squeeze: {tuple(squeezed.shape[1:])}, one 2x2 image per channel", fontsize=9)
    for c in range(squeezed.shape[1]):
        sub = host.inset_axes([0.02 + 0.25 * c, 0.12, 0.22, 0.7])
        which = int(position.reshape(-1)[int(squeezed[0, c, 0, 0])])
        sub.imshow(np.broadcast_to(colours[which], (2, 2, 4)), alpha=0.7)
        for i in range(2):
            for j in range(2):
                sub.text(j, i, f"{int(squeezed[0, c, i, j])}", ha="center", va="center", fontsize=9)
        sub.set(xticks=[], yticks=[])
        sub.set_title(f"ch {c}", fontsize=8)
    _white(fig)
    return fig, shapes

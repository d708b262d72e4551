"""Figures of chapter 6 (latent diffusion), drawn from the package's own objects.

* :func:`stage_shapes` runs a dummy image through an autoencoder's encoder and
  decoder layer by layer and keeps the shape after every resolution change;
* :func:`latent_diffusion_diagram` draws Stable Diffusion's design from those
  shapes, the denoiser's parameter count and the latent scale: encoder, scale,
  forward process, denoiser, sampler, unscale, decoder (with text conditioning
  as a dashed box that chapter 18 fills in);
* :func:`latent_channels_figure` shows images next to the channels of their
  spatial latents; :func:`image_rows_figure` shows labelled rows of images
  (the forward process, the denoising path); :func:`locality_figure` shows
  which pixels move when one latent entry is nudged.

Every function returns its figure (white background) so that the chapter can
caption it.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

__all__ = ["stage_shapes", "latent_diffusion_diagram", "latent_channels_figure", "image_rows_figure",
           "locality_figure"]


@torch.no_grad()
def stage_shapes(autoencoder: nn.Module, image_shape: Sequence[int]) -> dict[str, list[tuple[int, ...]]]:
    """Shapes (C, H, W) along the encoder and the decoder, one entry per change of shape.

    ``autoencoder`` has ``encoder`` and ``decoder`` as ``nn.Sequential`` (chapter 5's
    ``SpatialVAE``). The encoder's last entry holds mean and log-variance
    (2C channels); the latent has C of them. Returns ``{"encoder": [...], "latent": [...],
    "decoder": [...]}``.
    """
    for part in ("encoder", "decoder"):
        if not isinstance(getattr(autoencoder, part, None), nn.Sequential):
            raise TypeError(f"the autoencoder needs an nn.Sequential `{part}` (as SpatialVAE has)")
    was_training = autoencoder.training
    autoencoder.eval()
    try:
        x = torch.zeros(1, *image_shape, device=next(autoencoder.parameters()).device)
        shapes: dict[str, list[tuple[int, ...]]] = {"encoder": [tuple(x.shape[1:])]}
        for layer in autoencoder.encoder:
            x = layer(x)
            if tuple(x.shape[1:]) != shapes["encoder"][-1]:
                shapes["encoder"].append(tuple(x.shape[1:]))
        mu, _ = autoencoder.encode(torch.zeros(1, *image_shape, device=x.device))
        shapes["latent"] = [tuple(mu.shape[1:])]
        z = mu
        shapes["decoder"] = [tuple(z.shape[1:])]
        for layer in autoencoder.decoder:
            z = layer(z)
            if tuple(z.shape[1:]) != shapes["decoder"][-1]:
                shapes["decoder"].append(tuple(z.shape[1:]))
    finally:
        autoencoder.train(was_training)
    return shapes


def _fmt(shape: Sequence[int]) -> str:
    return "x".join(str(s) for s in shape)


def _chain(shapes: Sequence[tuple[int, ...]]) -> str:
    """The shapes at the end of each resolution (the last one of every run of equal H x W), joined by arrows."""
    kept = [shape for k, shape in enumerate(shapes) if k == len(shapes) - 1 or shape[1:] != shapes[k + 1][1:]]
    return " → ".join(_fmt(shape) for shape in kept)


def _box(ax: plt.Axes, x: float, y: float, w: float, h: float, text: str, color: str, dashed: bool = False,
         fontsize: float = 8.5) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", linewidth=1.2,
                                facecolor=color, edgecolor="black", linestyle="--" if dashed else "-"))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax: plt.Axes, start: tuple[float, float], end: tuple[float, float], text: str = "",
           offset: float = 0.06, style: str = "-|>", dashed: bool = False) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, linewidth=1.2,
                                 linestyle="--" if dashed else "-", color="black"))
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + offset, text, ha="center", va="bottom",
                fontsize=8)


def latent_diffusion_diagram(autoencoder: nn.Module, denoiser: nn.Module, scale: float,
                             image_shape: Sequence[int] = (1, 28, 28), T: int = 1000,
                             denoiser_name: str | None = None) -> plt.Figure:
    """Stable Diffusion's design with this chapter's shapes: pixel space above, latent space below.

    Top row (pixel space, the first stage): image -> encoder -> ... decoder -> image,
    with the shapes from :func:`stage_shapes`. Bottom row (latent space, the
    second stage): scaled latent :math:`z_0 = s\\mu` -> forward process
    :math:`q(z_t|z_0)` -> :math:`z_T` -> T reverse steps of the denoiser
    -> :math:`\\hat z_0` -> :math:`/s` -> decoder. A dashed box marks where a text
    encoder would enter by cross-attention (chapter 18).
    """
    shapes = stage_shapes(autoencoder, image_shape)
    enc, dec, latent = shapes["encoder"], shapes["decoder"], shapes["latent"][0]
    enc_params = sum(p.numel() for p in autoencoder.encoder.parameters())
    dec_params = sum(p.numel() for p in autoencoder.decoder.parameters())
    den_params = sum(p.numel() for p in denoiser.parameters())
    name = denoiser_name or type(denoiser).__name__
    fig, ax = plt.subplots(figsize=(13, 4.6))
    fig.patch.set_facecolor("white")
    ax.set_xlim(0, 13)
    ax.set_ylim(0, 4.6)
    ax.axis("off")
    ax.axhspan(2.45, 4.6, color="#eef3fb", zorder=-2)
    ax.axhspan(0, 2.35, color="#fbf2e8", zorder=-2)
    ax.text(0.1, 4.45, "pixel space (first stage: autoencoder, trained once)", fontsize=9, va="top", style="italic")
    ax.text(0.1, 0.12, "latent space (second stage: diffusion)", fontsize=9, va="bottom", style="italic")
    y_top, y_low = 3.45, 1.25
    _box(ax, 0.8, y_top, 1.1, 0.7, f"image $x$\n{_fmt(image_shape)}", "white")
    encoder_text = "encoder $\\mathcal{E}$\n" + _chain(enc[1:]) + "\n(mean and log-variance)" + \
                   f"\n{enc_params:,} parameters"
    _box(ax, 3.4, y_top, 3.3, 1.1, encoder_text, "#cfe0f5", fontsize=8)
    _arrow(ax, (1.35, y_top), (1.75, y_top))
    decoder_text = "decoder $\\mathcal{D}$\n" + _fmt(dec[0]) + " → " + _chain(dec[1:]) + \
                   f"\n{dec_params:,} parameters"
    _box(ax, 9.6, y_top, 3.3, 0.95, decoder_text, "#cfe0f5", fontsize=8)
    _box(ax, 12.2, y_top, 1.1, 0.7, f"image $\\hat x$\n{_fmt(dec[-1])}", "white")
    _arrow(ax, (11.25, y_top), (11.65, y_top))
    # down into latent space and back up
    _box(ax, 1.3, y_low, 1.6, 0.8, f"$z_0 = s\\,\\mu$\n{_fmt(latent)}\n$s$ = {scale:.3f}", "#f6dcc0")
    _arrow(ax, (3.4, y_top - 0.5), (1.6, y_low + 0.42), text="mean $\\mu$, times $s$", offset=0.02)
    _box(ax, 3.55, y_low, 1.9, 0.8, "forward process\n$q(z_t\\mid z_0)$, $t$ = 1..T\n(no parameters)", "white")
    _arrow(ax, (2.1, y_low), (2.6, y_low))
    _box(ax, 5.65, y_low, 1.3, 0.8, f"$z_T \\sim \\mathcal{{N}}(0, I)$\n{_fmt(latent)}", "white")
    _arrow(ax, (4.5, y_low), (5.0, y_low))
    _box(ax, 7.85, y_low, 2.1, 0.9, f"denoiser $\\varepsilon_\\theta(z_t, t)$\n{name}, {den_params:,} par.\n"
                                    f"reverse steps T → 0", "#f6dcc0")
    _arrow(ax, (6.3, y_low), (6.8, y_low))
    _box(ax, 10.2, y_low, 1.3, 0.8, f"$\\hat z_0$\n{_fmt(latent)}", "white")
    _arrow(ax, (8.9, y_low), (9.55, y_low))
    _arrow(ax, (10.6, y_low + 0.42), (9.6, y_top - 0.5), text="divide by $s$", offset=0.02)
    _box(ax, 7.85, 3.55 - 1.45, 2.7, 0.42, "text encoder + cross-attention (chapter 18)", "white", dashed=True,
         fontsize=7.5)
    _arrow(ax, (7.85, 1.89), (7.85, y_low + 0.47), dashed=True)
    ax.set_title(f"Latent diffusion: {_fmt(image_shape)} images, {_fmt(latent)} latents, T = {T}", fontsize=11)
    return fig


def _show(ax: plt.Axes, image: torch.Tensor, vmin: float = -1.0, vmax: float = 1.0, cmap: str = "gray") -> None:
    ax.imshow(image.detach().float().cpu().numpy(), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def latent_channels_figure(images: torch.Tensor, latents: torch.Tensor,
                           reconstructions: torch.Tensor | None = None) -> plt.Figure:
    """One row per image: the image (B, 1, H, W), each channel of its latent (B, C, h, w), and its reconstruction."""
    if images.dim() != 4 or latents.dim() != 4 or len(images) != len(latents):
        raise ValueError(f"expected images (B, 1, H, W) and latents (B, C, h, w), got {tuple(images.shape)} "
                         f"and {tuple(latents.shape)}")
    channels = latents.shape[1]
    cols = 1 + channels + (reconstructions is not None)
    limit = float(latents.abs().max())
    fig, axes = plt.subplots(len(images), cols, figsize=(1.35 * cols, 1.35 * len(images)), squeeze=False)
    fig.patch.set_facecolor("white")
    for i in range(len(images)):
        _show(axes[i, 0], images[i, 0])
        for c in range(channels):
            _show(axes[i, 1 + c], latents[i, c], -limit, limit, cmap="RdBu_r")
        if reconstructions is not None:
            _show(axes[i, -1], reconstructions[i, 0])
    axes[0, 0].set_title(f"$x$ ({_fmt(images.shape[1:])})", fontsize=8)
    for c in range(channels):
        axes[0, 1 + c].set_title(f"$z_0$ channel {c}\n({_fmt(latents.shape[2:])})", fontsize=8)
    if reconstructions is not None:
        axes[0, -1].set_title("$\\mathcal{D}(z_0 / s)$", fontsize=8)
    fig.tight_layout()
    return fig


def image_rows_figure(rows: dict[str, torch.Tensor], column_titles: Sequence[str] | None = None,
                      size: float = 1.15) -> plt.Figure:
    """Rows of images (each (N, 1, H, W), the same N), labelled on the left, with optional column titles."""
    if not rows:
        raise ValueError("rows must not be empty")
    n = len(next(iter(rows.values())))
    if any(v.dim() != 4 or len(v) != n for v in rows.values()):
        raise ValueError("every row must be an (N, 1, H, W) tensor with the same N")
    fig, axes = plt.subplots(len(rows), n, figsize=(size * n + 1.2, size * len(rows)), squeeze=False)
    fig.patch.set_facecolor("white")
    for r, (label, images) in enumerate(rows.items()):
        for c in range(n):
            _show(axes[r, c], images[c, 0].clamp(-1, 1))
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8.5)
    if column_titles is not None:
        for c, title in enumerate(column_titles[:n]):
            axes[0, c].set_title(title, fontsize=8.5)
    fig.tight_layout()
    return fig


def locality_figure(image: torch.Tensor, changes: torch.Tensor, positions: Sequence[tuple[int, int]],
                    latent_size: int) -> plt.Figure:
    """Where the decoded image moves when one latent entry is nudged: the image, then |change| per nudged position.

    ``image`` (1, H, W); ``changes`` (K, 1, H, W), one per ``positions[k] = (row, col)`` in the
    ``latent_size`` x ``latent_size`` latent grid; the square the position covers in the image is outlined.
    """
    from matplotlib.patches import Rectangle

    k = len(positions)
    if changes.shape[0] != k:
        raise ValueError(f"need one change map per position, got {changes.shape[0]} and {k}")
    fig, axes = plt.subplots(1, k + 1, figsize=(1.9 * (k + 1), 2.2))
    fig.patch.set_facecolor("white")
    _show(axes[0], image[0])
    axes[0].set_title("decoded $z_0$", fontsize=8.5)
    cell = image.shape[-1] / latent_size
    top = float(changes.abs().max())
    for ax, change, (row, col) in zip(axes[1:], changes, positions):
        _show(ax, change[0].abs(), 0.0, top, cmap="magma")
        ax.add_patch(Rectangle((col * cell - 0.5, row * cell - 0.5), cell, cell, fill=False, edgecolor="cyan",
                               linewidth=1.5))
        ax.set_title(f"nudge entry ({row}, {col})", fontsize=8.5)
    fig.tight_layout()
    return fig

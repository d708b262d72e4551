"""Diagrams of the multimodal chapter, drawn with matplotlib from the chapter's objects.

* :func:`draw_pipeline`: boxes and arrows from a small description (the
  building block of the system diagrams);
* :func:`multimodal_transformer_diagram`: image encoder, text encoder, fusion by
  cross-attention, heads, labelled with the widths of a :class:`SmallCLIP`;
* :func:`similarity_matrix_figure`: CLIP's N x N matrix of a real batch, with
  the images down the side and the captions along the top;
* :func:`dalle2_diagram`, :func:`glide_diagram`, :func:`imagen_diagram`,
  :func:`stable_diffusion_diagram`, :func:`flamingo_diagram`: the systems the
  chapter discusses, each box that the chapter implements in miniature
  labelled with the package object (and its shapes) that shows the idea.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# colours: frozen / pretrained parts, trained parts, data, and parts this chapter implements
FROZEN, TRAINED, DATA, OURS = "#dbe9f6", "#fde2c8", "#eeeeee", "#d9f2d0"


@dataclass(frozen=True)
class Box:
    """A labelled box centred at (x, y) in axes units (0..width, 0..height)."""

    name: str
    x: float
    y: float
    text: str
    color: str = TRAINED
    w: float = 2.2
    h: float = 0.9


def draw_pipeline(boxes: Sequence[Box], edges: Sequence[tuple[str, str] | tuple[str, str, str]],
                  ax: plt.Axes | None = None, title: str | None = None, size: tuple[float, float] = (12, 4),
                  legend: bool = True) -> plt.Axes:
    """Draw ``boxes`` and arrows ``(from, to)`` or ``(from, to, label)`` between them; returns the axes.

    Each box becomes a :class:`FancyBboxPatch` with ``gid`` = its name, each
    arrow a :class:`FancyArrowPatch` with ``gid`` = ``"from->to"``.
    """
    by_name = {b.name: b for b in boxes}
    if len(by_name) != len(boxes):
        raise ValueError("box names must be unique")
    for edge in edges:
        for end in edge[:2]:
            if end not in by_name:
                raise ValueError(f"edge {edge} names an unknown box {end!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=size)
        ax.figure.patch.set_facecolor("white")
    for b in boxes:
        patch = FancyBboxPatch((b.x - b.w / 2, b.y - b.h / 2), b.w, b.h, boxstyle="round,pad=0.05",
                               facecolor=b.color, edgecolor="black", linewidth=1.0, gid=b.name)
        ax.add_patch(patch)
        ax.text(b.x, b.y, b.text, ha="center", va="center", fontsize=8.5, wrap=True)
    for edge in edges:
        a, c = by_name[edge[0]], by_name[edge[1]]
        dx, dy = c.x - a.x, c.y - a.y
        if abs(dx) * a.h >= abs(dy) * a.w:                          # leave through the left/right side
            start = (a.x + (a.w / 2 + 0.05) * (1 if dx > 0 else -1), a.y)
            end = (c.x - (c.w / 2 + 0.05) * (1 if dx > 0 else -1), c.y)
        else:                                                       # through the top/bottom
            start = (a.x, a.y + (a.h / 2 + 0.05) * (1 if dy > 0 else -1))
            end = (c.x, c.y - (c.h / 2 + 0.05) * (1 if dy > 0 else -1))
        arrow = FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=12, linewidth=1.1,
                                color="black", gid=f"{edge[0]}->{edge[1]}")
        ax.add_patch(arrow)
        if len(edge) == 3:
            ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.12, edge[2], ha="center", va="bottom",
                    fontsize=7.5, color="#333333")
    xs = [b.x - b.w / 2 for b in boxes] + [b.x + b.w / 2 for b in boxes]
    ys = [b.y - b.h / 2 for b in boxes] + [b.y + b.h / 2 for b in boxes]
    ax.set_xlim(min(xs) - 0.3, max(xs) + 0.3)
    ax.set_ylim(min(ys) - 0.3, max(ys) + 0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        from matplotlib.patches import Patch

        kinds = [(FROZEN, "frozen / pretrained"), (TRAINED, "trained"), (DATA, "data"), (OURS, "in this chapter")]
        ax.legend(handles=[Patch(facecolor=c, edgecolor="black", label=l) for c, l in kinds], loc="lower center",
                  bbox_to_anchor=(0.5, -0.12), ncol=4, fontsize=7.5, frameon=False)
    return ax


def _count(module: torch.nn.Module) -> str:
    n = sum(p.numel() for p in module.parameters())
    return f"{n / 1e3:.0f}k params" if n >= 1e3 else f"{n} params"


def multimodal_transformer_diagram(clip, fusion, ax: plt.Axes | None = None) -> plt.Axes:
    """Image encoder, text encoder, fusion by cross-attention, heads; widths read from ``clip`` and ``fusion``.

    ``clip`` is a :class:`~genai_foundations.architectures.clip.SmallCLIP`;
    ``fusion`` a :class:`~genai_foundations.architectures.perceiver.GatedCrossAttentionBlock`
    (text states attend to image tokens).
    """
    width, embed = clip.image_encoder.out_dim, clip.embed_dim
    heads = fusion.attention.n_heads
    boxes = [
        Box("image", 0, 2.2, "image\n(B, 1, 8, 8)", DATA, 1.8),
        Box("text", 0, 0, "caption tokens\n(B, L)", DATA, 1.8),
        Box("ienc", 2.8, 2.2, f"image encoder\nCNN -> (B, {width})\n{_count(clip.image_encoder)}", TRAINED),
        Box("tenc", 2.8, 0, f"text encoder\ntransformer -> (B, L, {clip.text_encoder.out_dim})\n"
                            f"{_count(clip.text_encoder)}", TRAINED, 2.6),
        Box("fuse", 6.0, 1.1, f"fusion: cross-attention\ntext queries, image keys/values\n{heads} heads, gated",
            OURS, 2.8, 1.1),
        Box("proj", 6.0, 3.2, f"projections + cosine\nshared space ({embed})\n(CLIP: no fusion)", OURS, 2.6),
        Box("heads", 9.2, 1.1, "heads\nclassify / answer /\ncaption", TRAINED, 2.2, 1.1),
        Box("sim", 9.2, 3.2, "N x N similarity\ncontrastive loss", OURS, 2.2),
    ]
    edges = [("image", "ienc"), ("text", "tenc"), ("ienc", "fuse", "K, V"), ("tenc", "fuse", "Q"),
             ("fuse", "heads"), ("ienc", "proj"), ("tenc", "proj"), ("proj", "sim")]
    return draw_pipeline(boxes, edges, ax, "a multimodal transformer: two encoders, fused by cross-attention",
                         size=(12, 5))


def similarity_matrix_figure(logits: torch.Tensor, images: torch.Tensor, captions: Sequence[str],
                             title: str | None = None) -> plt.Figure:
    """CLIP's (N, N) logit matrix as a heat map, image i on row i, caption j on column j (diagonal = the pairs)."""
    n = logits.shape[0]
    if logits.shape != (n, n) or len(images) != n or len(captions) != n:
        raise ValueError(f"need an (N, N) matrix with N images and N captions, got {tuple(logits.shape)}, "
                         f"{len(images)} and {len(captions)}")
    fig, ax = plt.subplots(figsize=(1.5 + 0.6 * n, 1.8 + 0.6 * n), facecolor="white")
    values = logits.detach().float().cpu()
    ax.imshow(values.numpy(), cmap="viridis", extent=(-0.5, n - 0.5, n - 0.5, -0.5))
    middle = float(values.mean())
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{float(values[i, j]):.0f}", ha="center", va="center", fontsize=7,
                    color="black" if float(values[i, j]) > middle else "white")
        picture = images[i].detach().float().cpu().reshape(images[i].shape[-2], images[i].shape[-1])
        ax.imshow(picture.numpy(), cmap="gray_r", extent=(-1.55, -0.6, i + 0.45, i - 0.45))   # image i, left of row i
    ax.set_xlim(-1.6, n - 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xticks(range(n), list(captions), rotation=60, ha="left", fontsize=7)
    ax.xaxis.tick_top()
    ax.set_yticks([])
    for side in ("left", "right", "bottom", "top"):
        ax.spines[side].set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10, y=0.02)
    return fig


def dalle2_diagram(clip, prior, ax: plt.Axes | None = None) -> plt.Axes:
    """DALL-E 2 (unCLIP): CLIP text encoder -> prior -> decoder -> two upsamplers; sizes from ``clip`` and ``prior``."""
    d = clip.embed_dim
    boxes = [
        Box("caption", 0, 1.5, "caption", DATA, 1.4),
        Box("tenc", 2.4, 1.5, f"CLIP text encoder\n(frozen)\nours: SmallCLIP -> ({d})", FROZEN, 2.4),
        Box("prior", 5.3, 1.5, f"diffusion prior\ntext emb. -> image emb.\nours: DiffusionPrior ({d})\n{_count(prior)}",
            OURS, 2.6, 1.1),
        Box("dec", 8.2, 1.5, "decoder (GLIDE-like)\ndiffusion, 64x64\nconditioned on image emb.", TRAINED, 2.4),
        Box("up1", 10.9, 1.5, "upsampler\n64 -> 256", TRAINED, 1.8),
        Box("up2", 13.2, 1.5, "upsampler\n256 -> 1024", TRAINED, 1.8),
        Box("img", 2.4, 0, "an existing image\n(for variations)", DATA, 2.2),
        Box("ienc", 5.3, 0, "CLIP image encoder\n(frozen)", FROZEN, 2.2),
    ]
    edges = [("caption", "tenc"), ("tenc", "prior", "v"), ("prior", "dec", "u"), ("dec", "up1"), ("up1", "up2"),
             ("img", "ienc"), ("ienc", "dec", "its u")]
    ax = draw_pipeline(boxes, edges, ax, "DALL-E 2 (unCLIP): a prior maps the caption's CLIP embedding to an "
                                         "image embedding, a decoder renders it", size=(14, 3.6))
    return ax


def glide_diagram(denoiser, ax: plt.Axes | None = None) -> plt.Axes:
    """GLIDE: a text transformer's tokens feed every attention layer of the diffusion U-Net; guidance without a classifier.

    ``denoiser`` is a :class:`~genai_foundations.algorithms.text_to_image.TextConditionedDenoiser`.
    """
    unet = denoiser.unet
    boxes = [
        Box("caption", 0, 1.2, "caption\n(empty with prob. p)", DATA, 1.9),
        Box("tenc", 2.8, 1.2, f"text transformer\ntokens (B, L, {denoiser.text_encoder.out_dim})", TRAINED, 2.4),
        Box("unet", 6.0, 1.2, f"U-Net with attention\nchannels {unet.channels}\ncross-attn. to the tokens",
            OURS, 2.6, 1.1),
        Box("cfg", 9.1, 1.2, "classifier-free guidance\n(1-w) eps(x, {}) + w eps(x, c)", OURS, 2.8),
        Box("up", 12.0, 1.2, "upsampler\n64 -> 256", TRAINED, 1.8),
        Box("noise", 6.0, -0.2, "x_t, t", DATA, 1.2, 0.6),
    ]
    edges = [("caption", "tenc"), ("tenc", "unet", "K, V"), ("noise", "unet"), ("unet", "cfg"), ("cfg", "up")]
    return draw_pipeline(boxes, edges, ax, "GLIDE: text tokens cross-attended by the denoiser, guided "
                                           "without a classifier", size=(13, 3.2))


def imagen_diagram(denoiser, ax: plt.Axes | None = None) -> plt.Axes:
    """Imagen: a frozen text-only language model (T5-XXL) conditions a cascade 64 -> 256 -> 1024."""
    boxes = [
        Box("caption", 0, 1.2, "caption", DATA, 1.4),
        Box("t5", 2.5, 1.2, "frozen T5-XXL\n(text only)\nours: frozen SmallCLIP text enc.", FROZEN, 2.6),
        Box("base", 5.6, 1.2, "base diffusion\n64x64\nours: 8x8 attention U-Net", OURS, 2.4),
        Box("sr1", 8.5, 1.2, "super-resolution\n64 -> 256\n(noise augmentation)", TRAINED, 2.4),
        Box("sr2", 11.4, 1.2, "super-resolution\n256 -> 1024", TRAINED, 2.2),
    ]
    edges = [("caption", "t5"), ("t5", "base", "tokens"), ("base", "sr1"), ("sr1", "sr2")]
    ax = draw_pipeline(boxes, edges, ax, "Imagen's cascade: every stage reads the frozen text tokens", size=(13, 3))
    for name in ("sr1", "sr2"):
        b = next(x for x in boxes if x.name == name)
        ax.add_patch(FancyArrowPatch((2.5, 0.7), (b.x, b.y - b.h / 2 - 0.05), connectionstyle="arc3,rad=0.25",
                                     arrowstyle="-|>", mutation_scale=10, color="grey", linestyle="--",
                                     gid=f"t5->{name}"))
    ax.set_ylim(-0.6, ax.get_ylim()[1])
    return ax


def stable_diffusion_diagram(denoiser, ax: plt.Axes | None = None) -> plt.Axes:
    """Stable Diffusion: CLIP text tokens, cross-attention U-Net in the latent space of an autoencoder."""
    boxes = [
        Box("caption", 0, 2.2, "caption", DATA, 1.4),
        Box("tenc", 2.6, 2.2, "CLIP text encoder\n(frozen)\nours: SmallCLIP.text_encoder", FROZEN, 2.8),
        Box("unet", 6.2, 1.1, "U-Net with cross-attention\nin latent space (4x64x64)\nours: AttentionUNet",
            OURS, 3.0, 1.1),
        Box("noise", 2.6, 0, "latent noise z_T", DATA, 2.0),
        Box("dec", 9.8, 1.1, "VAE decoder\nlatent -> 512x512\n(chapter 6)", FROZEN, 2.4),
        Box("img", 12.6, 1.1, "image", DATA, 1.4),
    ]
    edges = [("caption", "tenc"), ("tenc", "unet", "K, V"), ("noise", "unet", "denoise, CFG"), ("unet", "dec", "z_0"),
             ("dec", "img")]
    return draw_pipeline(boxes, edges, ax, "Stable Diffusion: GLIDE's recipe in the latent space of an "
                                           "autoencoder", size=(13, 3.6))


def flamingo_diagram(resampler, ax: plt.Axes | None = None) -> plt.Axes:
    """Flamingo: frozen vision encoder per frame, Perceiver resampler, gated cross-attention in a frozen LM."""
    r, dim = resampler.num_latents, resampler.dim
    boxes = [
        Box("frames", 0, 2.4, "image or video\nT frames (+ time emb.)", DATA, 2.2),
        Box("venc", 2.9, 2.4, "vision encoder\n(frozen)\nS tokens per frame", FROZEN, 2.2),
        Box("resamp", 6.0, 2.4, f"Perceiver resampler\nT*S tokens -> {r} latents\nours: ({r}, {dim})", OURS, 2.8),
        Box("text", 0, 0, "interleaved text\n<image> tokens", DATA, 2.2),
        Box("lm1", 2.9, 0, "LM block\n(frozen)", FROZEN, 1.8),
        Box("gate", 6.0, 0, "gated cross-attention\ntanh(alpha) = 0 at start", OURS, 2.8),
        Box("lm2", 9.1, 0, "LM block\n(frozen)", FROZEN, 1.8),
        Box("out", 11.6, 0, "next-token\nprediction", TRAINED, 1.8),
    ]
    edges = [("frames", "venc"), ("venc", "resamp", "T*S tokens"), ("resamp", "gate", "K, V"), ("text", "lm1"),
             ("lm1", "gate"), ("gate", "lm2"), ("lm2", "out")]
    return draw_pipeline(boxes, edges, ax, "Flamingo: a fixed number of visual tokens, read by gated "
                                           "cross-attention between frozen LM blocks", size=(13, 4))

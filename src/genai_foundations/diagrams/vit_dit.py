"""Diagrams of the ViT and DiT chapter, drawn from the package's own objects.

* :func:`draw_patch_grid`: an image cut by :func:`~genai_foundations.architectures.vit.patchify`,
  the patch numbers on the grid, and the token sequence the patches become (class token first);
* :func:`vit_stages` / :func:`dit_stages`: the shape after every stage of one real forward
  pass (forward hooks), and :func:`draw_flow` to draw such a list as a chain of boxes;
* :func:`draw_adaln_block`: a :class:`~genai_foundations.architectures.dit.DiTBlock` with its
  modulation path, the sizes read off its layers;
* :func:`attention_unet_stages` / :func:`draw_attention_unet`: the attention U-Net's stages by
  resolution, with the self/cross-attention blocks marked and the conditioning sequence feeding them.

Shapes are written as in the code: (B, C, H, W) for maps, (B, N, D) for token sequences.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from torch import nn

from genai_foundations.architectures.attention_unet import AttentionBlock, AttentionUNet
from genai_foundations.architectures.dit import DiT, DiTBlock
from genai_foundations.architectures.vit import ViT, patchify, unpatchify
from genai_foundations.diagrams import white_background

Stage = tuple[str, tuple[int, ...]]


_white = white_background  # the shared helper of genai_foundations.diagrams


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(s) for s in shape) + "]"


# ---------------------------------------------------------------------------------------------------------------
# Patches and tokens
# ---------------------------------------------------------------------------------------------------------------
def draw_patch_grid(image: torch.Tensor, patch_size: int, max_tokens: int = 16) -> plt.Figure:
    """Left: ``image`` (C, H, W) with its P x P patch grid and patch numbers; right: the token sequence.

    The patches on the right are the rows of ``patchify(image[None], P)``, each
    turned back into a P x P picture by :func:`unpatchify`, in sequence order
    after the class token ``[cls]``; the first ``max_tokens`` are shown.
    """
    if image.dim() != 3:
        raise ValueError(f"expected one image (C, H, W), got {tuple(image.shape)}")
    c, h, w = image.shape
    p = int(patch_size)
    patches = patchify(image[None].float(), p)[0]                   # (N, P*P*C)
    n, d = patches.shape
    shown = min(n, max_tokens)

    def picture(x: torch.Tensor):
        x = x.detach().cpu().float()
        return x[0].numpy() if x.shape[0] == 1 else x.permute(1, 2, 0).clamp(0, 1).numpy()

    lo, hi = float(image.min()), float(image.max())
    fig = plt.figure(figsize=(13, 3.4))
    grid = fig.add_gridspec(2, shown + 3, width_ratios=[shown / 2.2, 0.3] + [1] * (shown + 1), height_ratios=[3, 0.7])
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(picture(image), cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    for k in range(1, h // p):
        ax.axhline(k * p - 0.5, color="#e69138", linewidth=1.5)
    for k in range(1, w // p):
        ax.axvline(k * p - 0.5, color="#e69138", linewidth=1.5)
    for i in range(n):
        r, col = divmod(i, w // p)
        ax.text(col * p + p / 2 - 0.5, r * p + p / 2 - 0.5, str(i), color="#e69138", ha="center", va="center",
                fontsize=9, fontweight="bold")
    ax.set_title(f"image {_shape_text(image.shape)}\n{p}x{p} patches: N = {h}*{w}/{p}^2 = {n}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    cls_ax = fig.add_subplot(grid[0, 2])
    cls_ax.add_patch(Rectangle((0, 0), 1, 1, facecolor="#f4cccc", edgecolor="0.3"))
    cls_ax.text(0.5, 0.5, "cls", ha="center", va="center", fontsize=9)
    cls_ax.set_xlim(0, 1)
    cls_ax.set_ylim(0, 1)
    cls_ax.set_aspect("equal")
    cls_ax.set_axis_off()
    for i in range(shown):
        tax = fig.add_subplot(grid[0, 3 + i])
        tax.imshow(picture(unpatchify(patches[i][None, None], p, p, p)[0]), cmap="gray", vmin=lo, vmax=hi,
                   interpolation="nearest")
        tax.set_title(str(i), fontsize=8, color="#e69138")
        tax.set_xticks([])
        tax.set_yticks([])
    text_ax = fig.add_subplot(grid[1, 2:])
    text_ax.set_axis_off()
    more = "" if shown == n else f" (first {shown} of {n} shown)"
    text_ax.text(0.0, 0.6, f"token sequence: [cls] then patches 0..{n - 1}{more}; each patch flattened to "
                           f"P*P*C = {p}*{p}*{c} = {d} numbers -> patchify gives {_shape_text((1, n, d))}",
                 fontsize=9, ha="left", va="center")
    return _white(fig)


# ---------------------------------------------------------------------------------------------------------------
# Data flow with shapes
# ---------------------------------------------------------------------------------------------------------------
def _record(hooks: list[tuple[str, nn.Module, str]], run) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, module, where in hooks:
        def hook(module, inputs, output=None, name=name, where=where):
            value = inputs[0] if where == "input" else output
            shapes[name] = tuple(value.shape)
        handles.append(module.register_forward_pre_hook(hook) if where == "input" else module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            run()
    finally:
        for handle in handles:
            handle.remove()
    return shapes


def vit_stages(model: ViT, x: torch.Tensor) -> list[Stage]:
    """``(stage, shape)`` along one forward pass of a :class:`ViT` on ``x``: image, patches, tokens, blocks, head."""
    if not isinstance(model, ViT):
        raise TypeError(f"expected a ViT, got {type(model).__name__}")
    hooks = [("patch embedding", model.patch_embedding, "output"),
             ("[cls] + positions", model.blocks[0], "input")]
    hooks += [(f"encoder block {i + 1}", block, "output") for i, block in enumerate(model.blocks)]
    hooks += [("LayerNorm", model.norm, "output"), ("class token", model.head, "input"), ("logits", model.head, "output")]
    shapes = _record(hooks, lambda: model(x))
    stages = [("image", tuple(x.shape)), ("patchify", tuple(patchify(x, model.patch_size).shape))]
    return stages + [(name, shapes[name]) for name, _, _ in hooks if name in shapes]


def dit_stages(model: DiT, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None) -> list[Stage]:
    """``(stage, shape)`` along one forward pass of a :class:`DiT`: latent, tokens, blocks, final layer, output."""
    if not isinstance(model, DiT):
        raise TypeError(f"expected a DiT, got {type(model).__name__}")
    hooks = [("patch embedding", model.patch_embedding, "output"), ("condition c (t, y)", model.blocks[0], "input")]
    hooks += [(f"DiT block {i + 1}", block, "output") for i, block in enumerate(model.blocks)]
    hooks += [("final layer", model.final, "output")]
    shapes = _record(hooks, lambda: model(x, t, y))
    stages = [("latent x_t", tuple(x.shape)), ("patchify", tuple(patchify(x, model.patch_size).shape))]
    stages += [(name, shapes[name]) for name, _, _ in hooks]
    # the block's first input is (tokens, condition): report the condition's shape for that stage
    stages = [(name, (x.shape[0], model.time_dim)) if name.startswith("condition") else (name, shape)
              for name, shape in stages]
    return stages + [("unpatchify: predicted noise", tuple(x.shape))]


def draw_flow(stages: Sequence[Stage], per_row: int = 6, title: str | None = None,
              highlight: Sequence[str] = ()) -> plt.Figure:
    """Draw ``stages`` as boxes (name above, shape below) joined by arrows, ``per_row`` boxes per row."""
    stages = list(stages)
    if not stages:
        raise ValueError("no stages to draw")
    rows = (len(stages) + per_row - 1) // per_row
    fig, ax = plt.subplots(figsize=(2.3 * min(per_row, len(stages)), 1.45 * rows + 0.4))
    centres, patches = [], []
    for i, (name, shape) in enumerate(stages):
        r, col = divmod(i, per_row)
        col = col if r % 2 == 0 else per_row - 1 - col           # a snake: every other row runs right to left
        x, y = col * 2.3, -r * 1.45
        colour = "#fce5cd" if name in highlight else ("#cfe2f3" if "block" in name else "#eeeeee")
        patch = FancyBboxPatch((x - 0.95, y - 0.38), 1.9, 0.76, boxstyle="round,pad=0.03", facecolor=colour,
                               edgecolor="0.3")
        ax.add_patch(patch)
        ax.text(x, y + 0.14, name, ha="center", va="center", fontsize=8, fontweight="bold")
        ax.text(x, y - 0.16, _shape_text(shape), ha="center", va="center", fontsize=8)
        centres.append((x, y))
        patches.append(patch)
    for i in range(len(stages) - 1):
        ax.add_patch(FancyArrowPatch(centres[i], centres[i + 1], patchA=patches[i], patchB=patches[i + 1],
                                     arrowstyle="-|>", mutation_scale=10, color="0.25"))
    ax.set_xlim(-1.1, 2.3 * (min(per_row, len(stages)) - 1) + 1.1)
    ax.set_ylim(-1.45 * (rows - 1) - 0.55, 0.55)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    return _white(fig)


# ---------------------------------------------------------------------------------------------------------------
# The adaLN-Zero block
# ---------------------------------------------------------------------------------------------------------------
def _box(ax: plt.Axes, x: float, y: float, text: str, colour: str = "#eeeeee", w: float = 1.5, h: float = 0.7,
         fontsize: float = 8) -> FancyBboxPatch:
    patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.03", facecolor=colour, edgecolor="0.3")
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)
    return patch


def _link(ax: plt.Axes, a: FancyBboxPatch, b: FancyBboxPatch, colour: str = "0.25", style: str = "-",
          rad: float = 0.0) -> None:
    def centre(p):
        return p.get_x() + p.get_width() / 2, p.get_y() + p.get_height() / 2
    ax.add_patch(FancyArrowPatch(centre(a), centre(b), patchA=a, patchB=b, arrowstyle="-|>", mutation_scale=10,
                                 color=colour, linestyle=style, connectionstyle=f"arc3,rad={rad}"))


def draw_adaln_block(block: DiTBlock, tokens: int | None = None) -> plt.Figure:
    """The DiT block: the token path (left to right) and the condition path that shifts, scales and gates it.

    Widths are read off ``block`` (D, heads, MLP width, the 6D modulation); the
    modulation layer is labelled "zero at init" only when its weights are all zero.
    """
    if not isinstance(block, DiTBlock):
        raise TypeError(f"expected a DiTBlock, got {type(block).__name__}")
    d = block.norm1.normalized_shape[0]
    heads = block.attention.n_heads
    hidden = block.mlp.fc1.out_features
    zero = bool((block.adaLN.weight == 0).all() and (block.adaLN.bias == 0).all())
    n = "N" if tokens is None else str(tokens)
    fig, ax = plt.subplots(figsize=(15, 4.6))
    y, step = 2.2, 1.95
    labels = [(f"tokens z\n[B, {n}, {d}]", "#eeeeee"), ("LayerNorm\n(no affine)", "#eeeeee"),
              ("h (1 + γ1) + β1\nscale, shift", "#fff2cc"), (f"self-attention\n{heads} heads", "#cfe2f3"), ("gate: × α1", "#fff2cc"),
              ("+", "#ffffff"), ("LayerNorm\n(no affine)", "#eeeeee"), ("h (1 + γ2) + β2\nscale, shift", "#fff2cc"),
              (f"MLP\n{d} → {hidden} → {d}", "#cfe2f3"), ("gate: × α2", "#fff2cc"), ("+", "#ffffff")]
    path = [_box(ax, i * step, y, text, colour, w=0.6 if text == "+" else 1.75, fontsize=7.5)
            for i, (text, colour) in enumerate(labels)]
    for a, b in zip(path, path[1:]):
        _link(ax, a, b)
    _link(ax, path[0], path[5], colour="#1f5fa8", rad=-0.3)
    _link(ax, path[5], path[10], colour="#1f5fa8", rad=-0.3)
    for i in (2.5, 7.5):
        ax.text(i * step, y + 1.3, "residual", color="#1f5fa8", fontsize=8, ha="center")
    yc = 0.0
    condition = _box(ax, 0, yc, f"condition c [B, {d}]\n(time + class)", "#f4cccc", w=1.9, h=0.8)
    silu = _box(ax, 2.2, yc, "SiLU", w=0.8)
    linear = _box(ax, 4.6, yc, f"Linear {d} → {6 * d}" + ("\nzero at init" if zero else ""), "#f4cccc", w=2.0, h=0.8)
    split = _box(ax, 9.0, yc, "split into six [B, D]:\nγ1, β1, α1, γ2, β2, α2", "#fff2cc", w=3.0, h=0.8)
    _link(ax, condition, silu)
    _link(ax, silu, linear)
    _link(ax, linear, split)
    for i in (2, 4, 7, 9):
        _link(ax, split, path[i], colour="#b45f06", style="--")
    note = ("gates α start at 0:\nthe block starts as\nthe identity z → z" if zero else "gates α learned\n(not zero)")
    ax.text(10 * step + 0.2, yc, note, fontsize=8.5, ha="center", va="center",
            bbox={"boxstyle": "round,pad=0.3", "facecolor": "#ffffff", "edgecolor": "#b45f06"})
    ax.set_xlim(-1.1, 10 * step + 1.3)
    ax.set_ylim(-0.8, 3.8)
    ax.set_aspect("equal")
    ax.set_axis_off()
    return _white(fig)


# ---------------------------------------------------------------------------------------------------------------
# The attention U-Net
# ---------------------------------------------------------------------------------------------------------------
def attention_unet_stages(model: AttentionUNet, x: torch.Tensor, t: torch.Tensor | float,
                          context: torch.Tensor | None = None) -> list[tuple[str, tuple[int, ...], str]]:
    """``(stage, shape, kind)`` in the order one forward pass runs them; ``kind`` is "conv" or "attention"."""
    if not isinstance(model, AttentionUNet):
        raise TypeError(f"expected an AttentionUNet, got {type(model).__name__}")
    hooks: list[tuple[str, nn.Module, str]] = [("conv_in", model.conv_in, "output")]
    kinds = {"conv_in": "conv"}
    for i, (block, attention) in enumerate(zip(model.down, model.down_attention)):
        hooks.append((f"down{i}", block.blocks[-1], "output"))
        kinds[f"down{i}"] = "conv"
        if isinstance(attention, AttentionBlock):
            hooks.append((f"down{i} attention", attention, "output"))
            kinds[f"down{i} attention"] = "attention"
    hooks += [("mid0", model.mid[0], "output"), ("mid attention", model.mid_attention, "output"),
              ("mid1", model.mid[1], "output")]
    kinds.update({"mid0": "conv", "mid attention": "attention", "mid1": "conv"})
    levels = len(model.channels)
    for j, (block, attention) in enumerate(zip(model.up, model.up_attention)):
        level = levels - 1 - j
        hooks.append((f"up{level}", block, "output"))
        kinds[f"up{level}"] = "conv"
        if isinstance(attention, AttentionBlock):
            hooks.append((f"up{level} attention", attention, "output"))
            kinds[f"up{level} attention"] = "attention"
    hooks.append(("conv_out", model.conv_out, "output"))
    kinds["conv_out"] = "conv"
    shapes = _record(hooks, lambda: model(x, t, context))
    return [("input", tuple(x.shape), "conv")] + [(name, shapes[name], kinds[name]) for name, _, _ in hooks]


def draw_attention_unet(stages: Sequence[tuple[str, tuple[int, ...], str]], context_shape: Sequence[int] | None = None,
                        title: str | None = None) -> plt.Figure:
    """The U of :func:`attention_unet_stages`: one box per stage, rows by resolution (finest on top).

    Attention blocks (orange) say how many tokens they attend over (h*w) and
    receive dashed arrows from the conditioning sequence (keys and values of
    their cross-attention); the other boxes are residual convolution stages.
    """
    stages = list(stages)
    if not stages or any(len(shape) != 4 for _, shape, _ in stages):
        raise ValueError("expected (name, (B, C, H, W), kind) stages from attention_unet_stages")
    sizes = sorted({shape[2] for _, shape, _ in stages}, reverse=True)
    row = {s: i for i, s in enumerate(sizes)}
    step, gap = 1.5, 1.6
    fig, ax = plt.subplots(figsize=(1.05 * len(stages) + 1, 1.25 * len(sizes) + 1.6))
    boxes = {}
    for i, (name, shape, kind) in enumerate(stages):
        b, c, h, w = shape
        x, y = i * step, -gap * row[h]
        if kind == "attention":
            label, colour = f"{name.replace(' attention', '')} attention\nself + cross\n{h * w} tokens x {c}", "#fce5cd"
        else:
            colour = "#cfe2f3" if name.startswith(("down", "mid", "up")) else "#eeeeee"
            label = f"{name}\n{c}x{h}x{w}"
        boxes[name] = _box(ax, x, y, label, colour, w=1.35, h=0.95, fontsize=6.8)
    names = [name for name, _, _ in stages]
    for a, b in zip(names, names[1:]):
        _link(ax, boxes[a], boxes[b])
    for level in range(len(sizes)):            # skip connections: the last map of a down level to its up block
        down = [n for n in names if n.startswith(f"down{level}")]
        if down and f"up{level}" in boxes:
            same_row = boxes[down[-1]].get_y() == boxes[f"up{level}"].get_y()
            _link(ax, boxes[down[-1]], boxes[f"up{level}"], colour="#1f5fa8", style=":", rad=-0.3 if same_row else -0.05)
    bottom = -gap * (len(sizes) - 1) - 1.5
    attention = [n for n, _, kind in stages if kind == "attention"]
    if attention:
        cx = sum(names.index(n) for n in attention) / len(attention) * step
        text = "conditioning sequence: keys and values of every cross-attention"
        text += f"\n{_shape_text(context_shape)}" if context_shape else ""
        source = _box(ax, cx, bottom, text, "#f4cccc", w=5.8, h=0.75, fontsize=8)
        for n in attention:
            _link(ax, source, boxes[n], colour="#b45f06", style="--")
    ax.set_xlim(-0.9, step * (len(stages) - 1) + 0.9)
    ax.set_ylim(bottom - 0.6, 2.0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    return _white(fig)

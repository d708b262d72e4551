"""Diagrams of the U-Net chapter, drawn from the package's own shape plan and traced activations.

* :func:`draw_unet`: the U, one box per stage of :func:`~genai_foundations.architectures.unet.shape_plan`
  (down path on the left, middle at the bottom, up path on the right, skip
  connections across), each labelled with its shape as H x W x C;
* :func:`draw_feature_maps`: the first channels of several traced stages, one row per stage;
* :func:`hwc`: a (B, C, H, W) shape written the way the course notes write it, ``"HxWxC"``.

Nothing here knows the architecture: the boxes, their order and their labels
all come from the plan, so the picture changes when the network does.
"""

from __future__ import annotations

import re
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

Shape = tuple[int, ...]


def hwc(shape: Sequence[int]) -> str:
    """``(B, C, H, W) -> "HxWxC"`` (the notes' way of writing image shapes); ``(B, D) -> "D"``."""
    shape = tuple(shape)
    if len(shape) == 4:
        return f"{shape[2]}x{shape[3]}x{shape[1]}"
    if len(shape) == 2:
        return str(shape[1])
    raise ValueError(f"expected a (B, C, H, W) or (B, D) shape, got {shape}")


def _levels(plan: Mapping[str, Shape]) -> int:
    levels = {int(m.group(1)) for name in plan if (m := re.fullmatch(r"down(\d+) skip", name))}
    if not levels or levels != set(range(len(levels))):
        raise ValueError("the plan has no 'down<i> skip' stages numbered 0, 1, ...: pass shape_plan(...)'s list")
    return len(levels)


def draw_unet(plan: Sequence[tuple[str, Shape]], ax: plt.Axes | None = None,
              title: str | None = None) -> plt.Axes:
    """Draw the U-Net whose stages and shapes are ``plan`` (the list :func:`shape_plan` returns).

    Rows are resolutions (finest at the top); box widths grow with the channel
    count and box heights with the resolution. Solid arrows are the data path
    (stride-2 convolutions down, upsampling up), dashed arrows the skip
    connections, each labelled with the concatenated shape it feeds. The
    noise-level embedding is drawn as a note: it feeds every residual block.
    """
    shapes = dict(plan)
    levels = _levels(shapes)
    path = (["input", "conv_in"] + [f"down{i} skip" for i in range(levels)] + ["mid0", "mid1"]
            + [f"up{i}" for i in reversed(range(levels))] + ["conv_out"])
    missing = [name for name in path if name not in shapes]
    if missing:
        raise ValueError(f"the plan lacks the stages {missing}")
    if ax is None:
        _, ax = plt.subplots(figsize=(12, 6))
    ax.figure.patch.set_facecolor("white")
    ax.set_facecolor("white")

    sizes = sorted({shapes[name][2] for name in path}, reverse=True)
    row_of = {size: i for i, size in enumerate(sizes)}            # finest resolution -> row 0
    max_c = max(shapes[name][1] for name in path)
    colors = {"input": "#eeeeee", "conv_in": "#eeeeee", "conv_out": "#eeeeee", "mid": "#f4cccc",
              "down": "#cfe2f3", "up": "#d9ead3"}
    row_gap, step = 1.5, 1.7
    patches, centres = {}, {}
    for i, name in enumerate(path):
        shape = shapes[name]
        x, y = i * step, -row_gap * row_of[shape[2]]
        w = 0.95 + 0.55 * shape[1] / max_c
        h = 0.5 + 0.35 * (shape[2] / sizes[0]) ** 0.5
        label = name.replace(" skip", "")
        color = colors.get(name, colors[re.sub(r"\d+$", "", label)])
        patch = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", facecolor=color,
                               edgecolor="0.25", linewidth=1.0)
        ax.add_patch(patch)
        ax.text(x, y + 0.1, label, ha="center", va="center", fontsize=8, fontweight="bold")
        ax.text(x, y - 0.14, hwc(shape), ha="center", va="center", fontsize=8)
        patches[name], centres[name] = patch, (x, y)

    def arrow(a: str, b: str, **style) -> FancyArrowPatch:
        line = FancyArrowPatch(centres[a], centres[b], patchA=patches[a], patchB=patches[b], arrowstyle="-|>",
                               mutation_scale=11, linewidth=1.1, **{"color": "0.2", **style})
        ax.add_patch(line)
        return line

    for a, b in zip(path, path[1:]):
        arrow(a, b)
        (xa, ya), (xb, yb) = centres[a], centres[b]
        if yb < ya and a.startswith("down") and a == "down1 skip" or (yb < ya and levels == 1 and a.startswith("down")):
            ax.text((xa + xb) / 2 - 0.15, (ya + yb) / 2, "stride-2\nconv", ha="right", va="center", fontsize=7)
        if yb > ya and b == "up1" or (yb > ya and levels == 1 and b.startswith("up")):
            ax.text((xa + xb) / 2 + 0.15, (ya + yb) / 2, "upsample\n+ conv", ha="left", va="center", fontsize=7)
    for level in range(levels):
        a, b = f"down{level} skip", f"up{level}"
        (xa, ya), (xb, yb) = centres[a], centres[b]
        between = [n for n in path[path.index(a) + 1:path.index(b)] if abs(centres[n][1] - ya) < 1e-9]
        rad = 0.25 if between else 0.0                                # bend below boxes on the same row
        arrow(a, b, linestyle="--", color="#1f5fa8", connectionstyle=f"arc3,rad={rad}")
        concat = shapes.get(f"up{level} concat")
        text = f"skip: concat to {hwc(concat)}" if concat else "skip"
        y_text = ya + 0.08 if not between else ya - 0.62 - 0.1 * len(between)
        ax.text((xa + xb) / 2, y_text, text, ha="center", va="bottom", fontsize=7.5, color="#1f5fa8")

    if "noise embedding" in shapes and "embedding MLP" in shapes:
        ax.text(centres["conv_out"][0] / 2, 1.15,
                f"noise level t -> sinusoidal embedding (length {hwc(shapes['noise embedding'])}) -> MLP -> "
                f"e (length {hwc(shapes['embedding MLP'])}), added inside every residual block",
                ha="center", va="center", fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.3", "facecolor": "#fff2cc", "edgecolor": "0.4"})
    ax.set_xlim(-0.9, centres["conv_out"][0] + 0.9)
    ax.set_ylim(-row_gap * (len(sizes) - 1) - 1.2, 1.5)
    ax.set_aspect("equal")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def draw_feature_maps(trace: Mapping[str, torch.Tensor], stages: Sequence[str], n_channels: int = 6,
                      extra: Mapping[str, torch.Tensor] | None = None, figsize: tuple[float, float] = (8, 11)):
    """One row per stage of ``trace`` (from :func:`trace_stages`): its name and shape, then its first channels.

    Each channel is shown in grey, scaled to its own range. ``extra`` maps a
    title to a (H, W) image placed in the last row after the stage's channels
    (e.g. the true noise next to the predicted one). Returns the figure.
    """
    unknown = [name for name in stages if name not in trace]
    if unknown:
        raise ValueError(f"stages {unknown} are not in the trace (it has {list(trace)})")
    fig, axes = plt.subplots(len(stages), n_channels + 1, figsize=figsize, squeeze=False)
    fig.patch.set_facecolor("white")
    for row, name in enumerate(stages):
        maps = trace[name][0].detach().cpu()
        for col in range(n_channels + 1):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.text(0.5, 0.5, f"{name}\n{hwc(trace[name].shape)}", ha="center", va="center", fontsize=8)
                ax.set_frame_on(False)
            elif col - 1 < len(maps):
                ax.imshow(maps[col - 1].numpy(), cmap="gray", interpolation="nearest")
            else:
                ax.set_frame_on(False)
    if extra:
        last = axes[-1]
        used = min(len(trace[stages[-1]][0]), n_channels) + 1
        for offset, (label, image) in enumerate(extra.items()):
            ax = last[used + offset] if used + offset <= n_channels else None
            if ax is None:
                raise ValueError("no free panel in the last row for the extra images: lower n_channels' use")
            ax.imshow(image.detach().cpu().numpy(), cmap="gray", interpolation="nearest")
            ax.set_title(label, fontsize=7)
            ax.set_frame_on(True)
    fig.tight_layout()
    return fig

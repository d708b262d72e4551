"""Diagrams of the foundation-models chapter (19), drawn from the chapter's own objects.

* :data:`PIPELINE` and :func:`pipeline_diagram`: pretraining -> supervised fine-tuning -> RLHF, with the data
  and the objective of each stage (boxes drawn by :func:`~genai_foundations.diagrams.multimodal.draw_pipeline`);
* :func:`transfer_modes_diagram`: the layers of a :class:`DigitsClassifier`, one column per transfer method,
  coloured by ``requires_grad`` as :func:`~genai_foundations.algorithms.transfer.transfer_model` sets it;
* :func:`sweep_figure`: accuracy against the number of labelled examples, mean and spread over seeds;
* :func:`chunk_figure`: demonstrated and generated action chunks and rollouts of the reaching task.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from genai_foundations.algorithms.transfer import METHODS, transfer_model
from genai_foundations.diagrams.multimodal import DATA, FROZEN, TRAINED, Box, draw_pipeline

# (name, stage, data it learns from, objective)
PIPELINE = (
    ("pretrain", "1. pretraining", "unlabelled web text, code, images\n(trillions of tokens)",
     "self-supervised:\nnext / masked token"),
    ("sft", "2. supervised fine-tuning", "demonstrations:\n(prompt, good answer) pairs",
     "cross-entropy on\nthe answers"),
    ("rlhf", "3. RLHF", "human preferences between\ntwo answers -> reward model",
     "maximise reward (PPO)\nwith a KL leash to the SFT model"),
)


def pipeline_diagram(stages: Sequence[tuple[str, str, str, str]] = PIPELINE, ax: plt.Axes | None = None) -> plt.Axes:
    """The training pipeline of a chat foundation model: one column per stage (data above, objective below)."""
    boxes, edges = [], []
    for i, (name, stage, data, objective) in enumerate(stages):
        x = 3.4 * i
        boxes += [Box(name, x, 0, stage, TRAINED, w=2.8, h=0.8), Box(f"{name}_data", x, 1.5, data, DATA, w=2.8, h=1.0),
                  Box(f"{name}_loss", x, -1.5, objective, FROZEN, w=2.8, h=1.0)]
        edges += [(f"{name}_data", name), (f"{name}_loss", name)]
        if i:
            edges.append((stages[i - 1][0], name, "weights"))
    ax = draw_pipeline(boxes, edges, ax=ax, size=(11, 4.2), legend=False)
    ax.set_title("pretrain -> SFT -> RLHF (many models stop after stage 1 or 2)", fontsize=10)
    return ax


def _layers(model: torch.nn.Module) -> list[tuple[str, bool]]:
    """(layer name, trains?) for each module that owns parameters, in order."""
    out = []
    for name, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        if own:
            out.append((f"{name} ({type(module).__name__})", any(p.requires_grad for p in own)))
    return out


def transfer_modes_diagram(pretrained: torch.nn.Module, num_classes: int, ax: plt.Axes | None = None) -> plt.Axes:
    """One column per method of :data:`METHODS`, one cell per layer: orange trains, blue is frozen pretrained,
    hatched orange is freshly initialised. Read from ``requires_grad`` of :func:`transfer_model`'s output."""
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.6))
        ax.figure.patch.set_facecolor("white")
    for j, method in enumerate(METHODS):
        layers = _layers(transfer_model(pretrained, method, num_classes))
        for i, (name, trains) in enumerate(layers):
            fresh = method == "from scratch" or name.startswith("head")
            ax.add_patch(Rectangle((j * 2.2, -i), 2.0, 0.8, facecolor=TRAINED if trains else FROZEN,
                                   edgecolor="black", hatch="//" if fresh else None, gid=f"{method}:{name}"))
            if j == 0:
                ax.text(-0.15, -i + 0.4, name, ha="right", va="center", fontsize=8)
        ax.text(j * 2.2 + 1.0, 1.0, method, ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-3.2, 2.2 * len(METHODS))
    ax.set_ylim(-len(layers) + 0.5, 1.6)
    ax.axis("off")
    ax.set_title("trainable (orange) and frozen (blue) layers; hatched: new initialisation", fontsize=9)
    return ax


def sweep_figure(sizes: Sequence[int], results: dict[str, torch.Tensor], ax: plt.Axes | None = None,
                 title: str | None = None) -> plt.Axes:
    """Accuracy (mean over seeds, band = min..max) against the number of labelled examples, log x axis."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
        ax.figure.patch.set_facecolor("white")
    for method, acc in results.items():
        if acc.shape[0] != len(sizes):
            raise ValueError(f"{method}: {acc.shape[0]} rows for {len(sizes)} sizes")
        line, = ax.plot(sizes, acc.mean(1), marker="o", label=method)
        ax.fill_between(sizes, acc.min(1).values, acc.max(1).values, color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_xlabel("labelled examples of the new task")
    ax.set_ylabel("test accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def chunk_figure(panels: dict[str, torch.Tensor], goals: torch.Tensor, axes: Sequence[plt.Axes] | None = None) -> Sequence[plt.Axes]:
    """One panel per entry ``{title: paths (B, T, 2)}``: the paths, their start (dot) and goal (cross)."""
    if axes is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4))
        fig.patch.set_facecolor("white")
    for ax, (title, paths) in zip(axes, panels.items()):
        for b in range(len(paths)):
            ax.plot(paths[b, :, 0], paths[b, :, 1], lw=0.8, color=f"C{b % 10}")
            ax.plot(paths[b, 0, 0], paths[b, 0, 1], "o", ms=3, color=f"C{b % 10}")
            ax.plot(goals[b, 0], goals[b, 1], "x", ms=6, color=f"C{b % 10}")
        ax.set_title(title, fontsize=9)
        ax.set_aspect("equal")
        ax.set_xlim(-1.6, 1.6)
        ax.set_ylim(-1.6, 1.6)
    return axes

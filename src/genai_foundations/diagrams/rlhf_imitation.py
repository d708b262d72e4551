"""Figures of the RLHF and imitation-learning chapter (25), drawn from the package's own objects.

* :func:`pipeline_diagram` -- the InstructGPT pipeline (pretrained model, SFT,
  comparisons, reward model, PPO-KL) with DPO's shortcut, each box naming the
  chapter's real object (the GPT's size, the reward model's input width);
* :func:`tradeoff_figure` -- the rule's score against the KL to the reference,
  one line per fine-tuning run (PPO-KL at several :math:`\\beta`, DPO);
* :func:`imitation_figure` -- return against the number of expert labels for
  behaviour cloning and DAgger, mean over seeds, shaded between min and max.

Every figure has a white background and is returned, for the chapter's caption.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

__all__ = ["pipeline_diagram", "tradeoff_figure", "imitation_figure"]


def _box(ax, x, y, text, color, w=2.3, h=0.9):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.05", fc=color, ec="black", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)


def _arrow(ax, a, b, text="", dashed=False):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=12, lw=1.2,
                                 linestyle="--" if dashed else "-", color="black"))
    if text and a[0] == b[0]:   # a vertical arrow: the label to its right
        ax.text(a[0] + 0.12, (a[1] + b[1]) / 2, text, ha="left", va="center", fontsize=7.5, style="italic")
    elif text:
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.18, text, ha="center", va="bottom", fontsize=7.5,
                style="italic")


def pipeline_diagram(policy: nn.Module, reward_model: nn.Module):
    """The three InstructGPT stages and DPO, labelled with ``policy``'s and ``reward_model``'s sizes."""
    n_params = sum(p.numel() for p in policy.parameters())
    n_rm = sum(p.numel() for p in reward_model.parameters())
    vocab = getattr(reward_model, "vocab_size", "?")
    fig, ax = plt.subplots(figsize=(10, 3.6), facecolor="white")
    ax.set_xlim(0, 12.5)
    ax.set_ylim(0, 4.2)
    ax.axis("off")
    _box(ax, 1.4, 3.2, f"pretrained LM\n(GPT, {n_params:,} params)", "#dde8f7")
    _box(ax, 4.5, 3.2, "1. SFT on\ndemonstrations", "#e6f2e6")
    _box(ax, 7.6, 3.2, f"2. reward model\n$r_\\phi$ ({n_rm:,} params,\n{vocab}-char histogram)", "#fbe9d7", h=1.0)
    _box(ax, 10.9, 3.2, "3. PPO with KL\npenalty to $\\pi_{\\mathrm{ref}}$", "#f6dede")
    _box(ax, 7.6, 1.0, "comparisons\n$(x, y_w, y_l)$ from the rule", "#eeeeee", w=2.8)
    _box(ax, 10.9, 1.0, "DPO: fit $\\pi_\\theta$ to\nthe pairs directly", "#ece3f5")
    _arrow(ax, (2.6, 3.2), (3.3, 3.2))
    _arrow(ax, (5.7, 3.2), (6.4, 3.2), "$\\pi_{\\mathrm{ref}}$")
    _arrow(ax, (8.8, 3.2), (9.7, 3.2), "$r_\\phi$")
    _arrow(ax, (7.6, 1.5), (7.6, 2.65), "Bradley-Terry")
    _arrow(ax, (9.05, 1.0), (9.6, 1.0), dashed=True)
    _arrow(ax, (4.5, 2.7), (6.2, 1.2), "samples", dashed=True)
    ax.set_title("The InstructGPT pipeline and DPO's shortcut", fontsize=10)
    fig.tight_layout()
    return fig


def tradeoff_figure(histories: Mapping[str, Sequence[Mapping[str, float]]], *, baseline: float | None = None):
    """Score against KL (nats per completion), one line per run; ``histories[label]`` holds dicts with ``kl`` and ``score``."""
    if not histories:
        raise ValueError("histories is empty")
    fig, ax = plt.subplots(figsize=(6, 4), facecolor="white")
    for label, hist in histories.items():
        kl = [h["kl"] for h in hist]
        score = [h["score"] for h in hist]
        ax.plot(kl, score, marker="o", ms=3, label=label)
    if baseline is not None:
        ax.axhline(baseline, color="grey", ls=":", lw=1, label="reference model")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(left=min(0.0, min(h["kl"] for hist in histories.values() for h in hist)) - 0.1)
    ax.set_xlabel("KL$(\\pi_\\theta\\,\\|\\,\\pi_{\\mathrm{ref}})$ (nats per completion)")
    ax.set_ylabel("hidden rule's score (vowel share)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def imitation_figure(labels: Sequence[int], returns: Mapping[str, np.ndarray], *, expert: float | None = None):
    """Return against expert labels; ``returns[name]`` is (seeds, len(labels))."""
    if not returns:
        raise ValueError("returns is empty")
    fig, ax = plt.subplots(figsize=(6, 4), facecolor="white")
    x = np.asarray(labels)
    for name, r in returns.items():
        r = np.asarray(r, dtype=float)
        if r.ndim != 2 or r.shape[1] != len(x):
            raise ValueError(f"returns[{name!r}] must be (seeds, {len(x)}), got {r.shape}")
        ax.plot(x, r.mean(0), marker="o", label=name)
        ax.fill_between(x, r.min(0), r.max(0), alpha=0.2)
    if expert is not None:
        ax.axhline(expert, color="grey", ls=":", label="expert")
    ax.set_xlabel("expert labels")
    ax.set_ylabel("return (mean of evaluation episodes)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig

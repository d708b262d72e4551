"""Diagrams of the LLM-practice chapter (22), drawn from the retrieval package's own objects.

* :func:`draw_chunking`: how each chunker cuts the same stretch of a help topic,
  from the :class:`~genai_foundations.retrieval.chunking.Chunk` spans themselves,
  with a held-out query sentence's span marked;
* :func:`draw_pipeline`: the retrieve-fuse-rerank-prompt pipeline with the sizes of
  an actual :class:`~genai_foundations.retrieval.search.ChunkRetriever`;
* :func:`benchmark_figure`: Recall@K of every method on every chunking strategy,
  from a :class:`~genai_foundations.retrieval.benchmark.BenchmarkResult` table;
* :func:`kv_cache_figure`: (KVMEM) against context length for published model
  shapes, with the weights' bytes for comparison.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from genai_foundations.diagrams import white_background

COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")


def draw_chunking(chunks_by_strategy: Mapping[str, Sequence], window: tuple[int, int],
                  query_span: tuple[int, int] | None = None):
    """One row per strategy: its chunks inside ``window`` (character positions) as alternating bars.

    Overlapping chunks (fixed windows with overlap) are drawn on two lanes so
    that the overlap shows; the query's span is a red band across all rows.
    """
    lo, hi = window
    if hi <= lo:
        raise ValueError("window must have end > start")
    names = list(chunks_by_strategy)
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.8 * len(names)))
    for row, name in enumerate(names):
        y = len(names) - 1 - row
        shown = [c for c in chunks_by_strategy[name] if c.end > lo and c.start < hi]
        for j, c in enumerate(shown):
            lane = 0.18 if j % 2 else -0.18
            a, b = max(c.start, lo), min(c.end, hi)
            ax.add_patch(Rectangle((a, y + lane - 0.14), b - a, 0.28, facecolor=COLOURS[j % 2], alpha=0.75,
                                   edgecolor="black", linewidth=0.6))
            ax.text((a + b) / 2, y + lane, f"{len(c)}", ha="center", va="center", fontsize=7, color="white")
        ax.text(lo - 0.01 * (hi - lo), y, name, ha="right", va="center", fontsize=10)
    if query_span is not None:
        ax.axvspan(*query_span, color="#C44E52", alpha=0.25, lw=0)
        ax.text((query_span[0] + query_span[1]) / 2, len(names) - 0.45, "query sentence", ha="center", fontsize=8,
                color="#C44E52")
    ax.set_xlim(lo, hi)
    ax.set_ylim(-0.6, len(names) - 0.3)
    ax.set_yticks([])
    ax.set_xlabel("character position in the corpus (numbers: chunk length in characters)")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return white_background(fig)


def _box(ax, x, y, w, h, text, colour="#E8EEF7"):
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.06",
                                facecolor=colour, edgecolor="#333333", linewidth=1.0))
    ax.text(x, y, text, ha="center", va="center", fontsize=8.5)


def _arrow(ax, a, b):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10, color="#333333", lw=1.0,
                                 shrinkA=0, shrinkB=0))


def draw_pipeline(n_chunks: int, depth: int, k: int, dim: int):
    """Query → BM25 and dense (each top ``depth`` of ``n_chunks``) → RRF → reranker → top ``k`` → prompt."""
    fig, ax = plt.subplots(figsize=(10, 2.8))
    _box(ax, 0.6, 1.0, 1.0, 0.5, "query")
    _box(ax, 2.3, 1.6, 1.7, 0.6, f"BM25 over\n{n_chunks} chunks\ntop {depth}", "#DCE8F5")
    _box(ax, 2.3, 0.4, 1.7, 0.6, f"dense: {dim}-d vectors,\nfaiss index\ntop {depth}", "#FBE3D2")
    _box(ax, 4.3, 1.0, 1.3, 0.6, "reciprocal-rank\nfusion (RRF)", "#E0F0E0")
    _box(ax, 6.0, 1.0, 1.3, 0.6, "reranker\n(query, chunk)\nscored jointly", "#F3DADA")
    _box(ax, 7.6, 1.0, 1.0, 0.5, f"top {k}")
    _box(ax, 9.1, 1.0, 1.4, 0.6, "grounded prompt\n→ language model", "#ECE6F5")
    for a, b in [((1.1, 1.0), (1.45, 1.55)), ((1.1, 1.0), (1.45, 0.45)), ((3.15, 1.6), (3.65, 1.1)),
                 ((3.15, 0.4), (3.65, 0.9)), ((4.95, 1.0), (5.35, 1.0)), ((6.65, 1.0), (7.1, 1.0)),
                 ((8.1, 1.0), (8.4, 1.0))]:
        _arrow(ax, a, b)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 2)
    ax.axis("off")
    fig.tight_layout()
    return white_background(fig)


def benchmark_figure(table: Mapping[str, Mapping[str, Mapping[str, float]]], metrics: Sequence[str] = ("R@1", "R@5", "R@10")):
    """One panel per metric: grouped bars, a group per chunking strategy and a bar per method."""
    strategies = list(table)
    methods = list(next(iter(table.values())))
    fig, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3.4), sharey=True)
    axes = np.atleast_1d(axes)
    width = 0.8 / len(methods)
    for ax, metric in zip(axes, metrics):
        for j, method in enumerate(methods):
            values = [table[s][method][metric] for s in strategies]
            ax.bar(np.arange(len(strategies)) + (j - (len(methods) - 1) / 2) * width, values, width,
                   color=COLOURS[j % len(COLOURS)], label=method)
        ax.set_xticks(range(len(strategies)), strategies)
        ax.set_title(metric)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("share of queries found")
    axes[-1].legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return white_background(fig)


def kv_cache_figure(curves: Mapping[str, Sequence[float]], contexts: Sequence[int],
                    weights: Mapping[str, float] | None = None):
    """KV-cache GiB against context length (log-log), one curve per model shape; dashed lines: weights' GiB."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for j, (name, values) in enumerate(curves.items()):
        ax.plot(contexts, np.asarray(values) / 2**30, marker="o", ms=3, color=COLOURS[j % len(COLOURS)], label=name)
    for j, (name, value) in enumerate((weights or {}).items()):
        ax.axhline(value / 2**30, ls="--", color=COLOURS[(j + 3) % len(COLOURS)], lw=1, label=name)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("context length n (tokens)")
    ax.set_ylabel("GiB (float16)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return white_background(fig)

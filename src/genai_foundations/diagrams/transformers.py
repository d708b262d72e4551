"""Diagrams of the transformers chapter, drawn from the package's own objects.

* :func:`attention_matrix_figure`: attention weights of one head as a matrix, the
  positions a mask hides shaded (the causal mask of equation CAUSAL);
* :func:`head_split_stages` / :func:`draw_head_split`: the shapes of a real
  :class:`~genai_foundations.architectures.attention.MultiHeadAttention` call, step by
  step (project, split into heads, attend, merge, project), and the d columns of
  Q coloured by the head that owns them;
* :func:`block_stages` / :func:`draw_block`: the data flow of one pre-LayerNorm
  :class:`~genai_foundations.architectures.gpt.TransformerBlock` inside a GPT, with the
  shapes recorded by forward hooks during a real forward pass;
* :func:`cache_snapshots` / :func:`draw_kv_cache`: a
  :class:`~genai_foundations.architectures.attention.KVCache` growing while a GPT decodes,
  with the bytes it holds after each step;
* :func:`decoding_panels`: one next-token distribution reshaped by temperature,
  top-k, top-p and greedy choice;
* :func:`attention_cost_figure`: measured time and memory of attention against the
  sequence length, with and without the cache.

Shapes are written as in the code: (B, n, d) for sequences, (B, h, n, d_k) for heads.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

from genai_foundations.architectures.attention import KVCache, MultiHeadAttention, scaled_dot_product_attention
from genai_foundations.architectures.gpt import GPT
from genai_foundations.diagrams import white_background

Stage = tuple[str, tuple[int, ...]]
HEAD_COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C")


_white = white_background  # the shared helper of genai_foundations.diagrams


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str = "#E8EEF7",
         fontsize: float = 9) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                facecolor=colour, edgecolor="#333333", linewidth=1.0))
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start: tuple[float, float], end: tuple[float, float], colour: str = "#333333",
           style: str = "-|>", connection: str = "arc3") -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=11, color=colour, linewidth=1.1,
                                 connectionstyle=connection, shrinkA=0, shrinkB=0))


# --- the attention matrix ---------------------------------------------------------------------------------

def attention_matrix_figure(weights: torch.Tensor, mask: torch.Tensor | None = None,
                            labels: Sequence[str] | None = None, *, title: str = "",
                            ax: plt.Axes | None = None) -> plt.Figure:
    """Draw an (n_q, n_k) matrix of attention weights; entries where ``mask`` is ``False`` are hatched.

    ``weights`` is one head's output of
    :func:`~genai_foundations.architectures.attention.scaled_dot_product_attention`;
    every row sums to one over the keys it may see. ``labels`` names the
    positions (query rows and key columns, the last ``n_k`` labels for keys).
    """
    if weights.dim() != 2:
        raise ValueError(f"weights must be one (n_q, n_k) matrix, got shape {tuple(weights.shape)}")
    w = weights.detach().double().cpu().numpy()
    n_q, n_k = w.shape
    if mask is not None and tuple(mask.shape) != (n_q, n_k):
        raise ValueError(f"mask must have the weights' shape {(n_q, n_k)}, got {tuple(mask.shape)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.55 * n_k + 1.8, 0.55 * n_q + 1.2))
    else:
        fig = ax.figure
    image = ax.imshow(w, cmap="Blues", vmin=0.0, vmax=max(float(w.max()), 1e-12))
    hidden = None if mask is None else (~mask.bool()).cpu().numpy()
    for i in range(n_q):
        for j in range(n_k):
            if hidden is not None and hidden[i, j]:
                small = n_k <= 12
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, facecolor="#DDDDDD", edgecolor="#AAAAAA",
                                       hatch="///" if small else None, linewidth=0.5 if small else 0.0))
                if small:
                    ax.text(j, i, r"$-\infty$", ha="center", va="center", fontsize=7, color="#777777")
            elif n_k <= 12:
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if w[i, j] > 0.6 * w.max() else "black")
    if labels is not None:
        labels = list(labels)
        ax.set_xticks(range(n_k), labels[-n_k:], fontsize=8)
        ax.set_yticks(range(n_q), labels[-n_q:], fontsize=8)
    ax.set_xlabel("key position j (what is looked at)")
    ax.set_ylabel("query position i (who looks)")
    ax.set_title(title or "attention weights (rows sum to 1)", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    return _white(fig)


# --- multi-head split and merge -----------------------------------------------------------------------------

@torch.no_grad()
def head_split_stages(mha: MultiHeadAttention, x: torch.Tensor) -> list[Stage]:
    """The shapes of one self-attention call of ``mha`` on ``x`` (B, n, d), recomputed step by step.

    The steps are those of :meth:`MultiHeadAttention.forward`; the last stage's
    tensor is checked against the module's own output, so the list cannot drift
    from the code.
    """
    q = mha.q_proj(x)
    heads = mha._split_heads(q)
    k, v = mha._split_heads(mha.k_proj(x)), mha._split_heads(mha.v_proj(x))
    y, w = scaled_dot_product_attention(heads, k, v)
    b, h, n, d_k = y.shape
    merged = y.transpose(1, 2).reshape(b, n, h * d_k)
    out = mha.out_proj(merged)
    if not torch.allclose(out, mha(x), atol=1e-5, rtol=1e-4):
        raise RuntimeError("the recomputed steps disagree with MultiHeadAttention.forward")
    return [("input X", tuple(x.shape)), ("Q = X W_Q", tuple(q.shape)),
            ("view (B, n, h, d_k)", (b, n, h, d_k)), ("transpose:\nheads Q_i", tuple(heads.shape)),
            ("scores\nQ K^T / sqrt(d_k)", tuple(w.shape)), ("heads Y_i =\nsoftmax(.) V_i", tuple(y.shape)),
            ("merge:\nConcat(Y_1..Y_h)", tuple(merged.shape)), ("output =\nConcat W_O", tuple(out.shape))]


def draw_head_split(mha: MultiHeadAttention, x: torch.Tensor) -> plt.Figure:
    """The split/merge shapes of :func:`head_split_stages` as a chain, over a strip of the d columns by head."""
    stages = head_split_stages(mha, x)
    h, d_k, d = mha.n_heads, mha.d_k, mha.d_model
    fig, (ax_top, ax) = plt.subplots(2, 1, figsize=(12.5, 4.6), gridspec_kw={"height_ratios": [1, 2.2]})
    ax_top.set_xlim(0, d)
    ax_top.set_ylim(0, 1)
    for i in range(h):
        colour = HEAD_COLOURS[i % len(HEAD_COLOURS)]
        ax_top.add_patch(Rectangle((i * d_k, 0.25), d_k, 0.5, facecolor=colour, edgecolor="white"))
        ax_top.text(i * d_k + d_k / 2, 0.5, f"head {i + 1}\ncolumns {i * d_k}..{(i + 1) * d_k - 1}",
                    ha="center", va="center", fontsize=8, color="white")
    ax_top.set_title(f"one row of Q (width d = {d}): head i owns d_k = d / h = {d_k} consecutive columns",
                     fontsize=10)
    ax_top.axis("off")
    n_st = len(stages)
    ax.set_xlim(-0.6, n_st - 0.4)
    ax.set_ylim(-1.1, 1.1)
    for i, (name, shape) in enumerate(stages):
        colour = "#FCE5CD" if len(shape) == 4 else "#E8EEF7"
        _box(ax, i, 0, 0.86, 1.1, f"{name}\n{_shape_text(shape)}", colour, fontsize=8)
        if i:
            _arrow(ax, (i - 0.57, 0), (i - 0.43, 0))
    ax.text((n_st - 1) / 2, -0.95, "orange: per-head tensors (B, h, n, ...); the h heads attend in parallel",
            ha="center", fontsize=8, color="#8B4513")
    ax.axis("off")
    fig.tight_layout()
    return _white(fig)


# --- the pre-LayerNorm block -------------------------------------------------------------------------------

@torch.no_grad()
def block_stages(model: GPT, ids: torch.Tensor, layer: int = 0) -> dict[str, tuple[int, ...]]:
    """Shapes inside block ``layer`` of ``model`` during a real forward pass on ``ids`` (forward hooks)."""
    if not 0 <= layer < len(model.blocks):
        raise ValueError(f"layer must lie in 0..{len(model.blocks) - 1}, got {layer}")
    block = model.blocks[layer]
    parts = {"input X": block, "LN_1(X)": block.norm1, "MHA": block.attn, "LN_2": block.norm2,
             "FFN up (W_1)": block.ffn.up, "FFN down (W_2)": block.ffn.down, "logits": model.head}
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, module in parts.items():
        def hook(mod, args, output, name=name):
            if name == "input X":
                shapes[name] = tuple(args[0].shape)
                shapes["output"] = tuple(output.shape)
            else:
                shapes[name] = tuple(output.shape)
        handles.append(module.register_forward_hook(hook))
    try:
        model(ids)
    finally:
        for handle in handles:
            handle.remove()
    shapes["ids"] = tuple(ids.shape)
    return shapes


def draw_block(model: GPT, ids: torch.Tensor, layer: int = 0) -> plt.Figure:
    """One pre-LN block (equation BLOCK) as a data-flow chart with the shapes of :func:`block_stages`."""
    s = block_stages(model, ids, layer)
    c = model.config
    fig, ax = plt.subplots(figsize=(11, 4.4))
    y = 0.0
    xs = np.arange(8) * 1.45
    items = [("X", s["input X"], "#E8EEF7"), ("LayerNorm 1", s["LN_1(X)"], "#FFF2CC"),
             (f"MHA, h = {c.n_heads}\n(causal)", s["MHA"], "#FCE5CD"), ("+", None, "white"),
             ("LayerNorm 2", s["LN_2"], "#FFF2CC"), (f"W_1, then\n{c.activation}", s["FFN up (W_1)"], "#D9EAD3"),
             ("W_2", s["FFN down (W_2)"], "#D9EAD3"), ("+", s["output"], "white")]
    for x, (name, shape, colour) in zip(xs, items):
        if name == "+":
            ax.add_patch(plt.Circle((x, y), 0.22, facecolor="white", edgecolor="#333333"))
            ax.text(x, y, "+", ha="center", va="center", fontsize=14)
            if shape is not None:
                ax.text(x, y - 0.55, f"block output\n{_shape_text(shape)}", ha="center", va="top", fontsize=8)
        else:
            _box(ax, x, y, 1.15, 0.8, f"{name}\n{_shape_text(shape)}", colour, fontsize=8)
    for a, b in zip(xs[:-1], xs[1:]):
        _arrow(ax, (a + (0.22 if a in (xs[3],) else 0.58), y), (b - (0.22 if b in (xs[3], xs[7]) else 0.58), y))
    # residual paths
    _arrow(ax, (xs[0], y + 0.4), (xs[3], y + 0.22), colour="#1F77B4", connection="arc3,rad=-0.35")
    _arrow(ax, (xs[3], y + 0.22), (xs[7], y + 0.22), colour="#1F77B4", connection="arc3,rad=-0.3")
    ax.text((xs[0] + xs[3]) / 2, 1.05, "residual: X + MHA(LN(X))", ha="center", fontsize=8, color="#1F77B4")
    ax.text((xs[3] + xs[7]) / 2, 1.12, "residual: X + FFN(LN(X))", ha="center", fontsize=8, color="#1F77B4")
    ax.text(xs[0], -1.0, f"ids {_shape_text(s['ids'])} -> embeddings + positions", ha="center", fontsize=8)
    ax.text(xs[-1], -1.3, f"after {c.n_layers} blocks: final LayerNorm, head -> logits {_shape_text(s['logits'])}",
            ha="right", fontsize=8)
    ax.set_xlim(xs[0] - 0.8, xs[-1] + 0.8)
    ax.set_ylim(-1.5, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"block {layer + 1} of a GPT (d = {c.d_model}, d_ff = {c.d_ff}), shapes from a forward pass",
                 fontsize=10)
    return _white(fig)


# --- the KV cache ----------------------------------------------------------------------------------------

@torch.no_grad()
def cache_snapshots(model: GPT, prompt: torch.Tensor, new_tokens: Sequence[int]) -> list[dict]:
    """Feed ``prompt`` (1, n0) and then ``new_tokens`` one by one through ``model`` with a cache.

    Returns, per call, the number of positions fed, the cache length after
    the call, the shape of layer 0's keys and the bytes the whole cache holds.
    """
    cache = model.new_cache()
    out = []
    chunks = [prompt] + [torch.tensor([[t]], device=prompt.device) for t in new_tokens]
    for chunk in chunks:
        model(chunk, cache=cache)
        out.append({"fed": chunk.shape[1], "length": cache.length, "keys": tuple(cache[0].keys.shape),
                    "bytes": cache.nbytes()})
    return out


def draw_kv_cache(snapshots: Sequence[Mapping], n_layers: int) -> plt.Figure:
    """The cache of :func:`cache_snapshots`: one row per decoding call, cached positions grey, new ones coloured."""
    n_max = max(s["length"] for s in snapshots)
    fig, ax = plt.subplots(figsize=(min(13, 0.5 * n_max + 5), 0.55 * len(snapshots) + 1.3))
    for row, snap in enumerate(snapshots):
        y = len(snapshots) - 1 - row
        old = snap["length"] - snap["fed"]
        for j in range(snap["length"]):
            new = j >= old
            ax.add_patch(Rectangle((j, y + 0.1), 0.9, 0.8, facecolor="#DD8452" if new else "#CCCCCC",
                                   edgecolor="white"))
        ax.text(-0.3, y + 0.5, f"call {row + 1}: feed {snap['fed']}", ha="right", va="center", fontsize=8)
        ax.text(n_max + 0.3, y + 0.5, f"keys per layer {_shape_text(snap['keys'])}; cache {snap['bytes']:,} bytes",
                ha="left", va="center", fontsize=8)
    ax.set_xlim(-4, n_max + 9)
    ax.set_ylim(-0.2, len(snapshots) + 0.2)
    ax.axis("off")
    ax.set_title(f"KV cache while decoding ({n_layers} layers): grey = reused keys and values, "
                 "orange = computed in this call", fontsize=10)
    return _white(fig)


# --- decoding strategies -------------------------------------------------------------------------------------

def decoding_panels(distributions: Mapping[str, torch.Tensor], labels: Sequence[str], *,
                    top: int = 12) -> plt.Figure:
    """Bar charts of next-token probabilities, one panel per strategy, on the ``top`` tokens of the first one.

    ``distributions`` maps a strategy name to a (V,) probability vector (zeros
    for filtered-out tokens); ``labels`` names the V tokens.
    """
    names = list(distributions)
    if not names:
        raise ValueError("give at least one distribution")
    first = distributions[names[0]].double()
    order = first.argsort(descending=True)[:top].tolist()
    fig, axes = plt.subplots(1, len(names), figsize=(2.6 * len(names), 2.9), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names):
        p = distributions[name].double().cpu()
        if abs(float(p.sum()) - 1.0) > 1e-6:
            raise ValueError(f"{name}: probabilities must sum to 1, got {float(p.sum()):.6f}")
        values = [float(p[i]) for i in order]
        colours = ["#4C72B0" if v > 0 else "#DDDDDD" for v in values]
        ax.bar(range(len(order)), values, color=colours)
        ax.set_xticks(range(len(order)), [repr(labels[i])[1:-1] for i in order], fontsize=7)
        kept = int((p > 0).sum())
        ax.set_title(f"{name}\n{kept} token{'s' if kept != 1 else ''} possible", fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("probability of the next token")
    fig.tight_layout()
    return _white(fig)


# --- cost of attention ---------------------------------------------------------------------------------------

def attention_cost_figure(ns: Sequence[int], seconds: Mapping[str, Sequence[float]],
                          memory: Mapping[str, Sequence[float]]) -> plt.Figure:
    """Two log-log panels against the sequence length n: time per generated token, and memory (bytes)."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, values in seconds.items():
        axes[0].loglog(ns, [1e3 * v for v in values], "o-", label=name)
    axes[0].set(xlabel="sequence length n", ylabel="milliseconds for token n", title="time of one decoding step")
    for name, values in memory.items():
        axes[1].loglog(ns, values, "o-", label=name)
    axes[1].set(xlabel="sequence length n", ylabel="bytes", title="memory")
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _white(fig)

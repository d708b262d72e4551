r"""Flamingo's vision side: cross-attention, the Perceiver resampler, gated cross-attention.

* cross-attention (the package's
  :class:`~genai_foundations.architectures.attention.MultiHeadAttention` with keys
  and values from a context): queries from one sequence, keys and values from another,
  :math:`\mathrm{softmax}((X W_Q)(C W_K)^\top / \sqrt{d_h})\, C W_V` per head. If every
  context row is the same vector :math:`c`, each softmax row averages
  identical values, so the output does not depend on the queries: cross-attention
  to a constant context is a bias. :func:`latent_attention` writes out the
  resampler's single-head step (RESAMPLE).
* :class:`PerceiverResampler` (Alayrac et al., 2022): ``num_latents`` learned
  query vectors attend to *all* the visual tokens of one or more frames (each
  frame's tokens get a learned temporal embedding) and to themselves; after
  ``depth`` such layers with feed-forward blocks, the output is always
  (B, num_latents, dim), however many tokens came in.
* :class:`GatedCrossAttentionBlock`: the layer Flamingo inserts between the
  frozen layers of a language model, :math:`y \leftarrow y + \tanh(\alpha)\,\mathrm{CA}(y, V)` and
  :math:`y \leftarrow y + \tanh(\beta)\,\mathrm{FF}(y)` with the gates :math:`\alpha, \beta` starting
  at 0, so that at initialisation the language model is unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from genai_foundations.architectures.attention import MultiHeadAttention


def latent_attention(latents: torch.Tensor, media: torch.Tensor, w_q: torch.Tensor, w_k: torch.Tensor,
                     w_v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """One single-head attention step of the resampler: latents attend to ``[media; latents]`` (RESAMPLE).

    .. math:: \\mathrm{softmax}\\Big(\\frac{(Z W_Q)(K)^\\top}{\\sqrt{d}}\\Big) V,\\quad
              K = [X; Z] W_K,\\ V = [X; Z] W_V

    ``latents`` Z (B, R, D), ``media`` X (B, S, D), weights (D, d) (no biases);
    ``mask`` (B, S) bool, True = a real media token (the latents are always
    kept). Returns (B, R, d): R rows, whatever S is.
    """
    if latents.dim() != 3 or media.dim() != 3 or latents.shape[0] != media.shape[0] \
            or latents.shape[-1] != media.shape[-1]:
        raise ValueError(f"latents must be (B, R, D) and media (B, S, D), got {tuple(latents.shape)} "
                         f"and {tuple(media.shape)}")
    context = torch.cat([media, latents], dim=1)                                   # (B, S + R, D)
    q, k, v = latents @ w_q, context @ w_k, context @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])                     # (B, R, S + R)
    if mask is not None:
        if mask.shape != media.shape[:2]:
            raise ValueError(f"mask must be (B, S) = {tuple(media.shape[:2])}, got {tuple(mask.shape)}")
        keep = torch.cat([mask.bool(), torch.ones(latents.shape[:2], dtype=torch.bool, device=mask.device)], 1)
        scores = scores.masked_fill(~keep[:, None, :], float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def feed_forward(dim: int, mult: int = 2) -> nn.Sequential:
    """LayerNorm, Linear(dim -> mult * dim), GELU, Linear(-> dim): the feed-forward block of a transformer layer."""
    return nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, mult * dim), nn.GELU(), nn.Linear(mult * dim, dim))


class PerceiverResampler(nn.Module):
    """``num_latents`` learned queries that summarise any number of visual tokens (Flamingo's resampler).

    ``forward(x)`` takes ``x`` of shape (B, S, dim) (the S tokens of one image)
    or (B, T, S, dim) (T frames of a video, S tokens each; frame t gets the
    temporal embedding ``time_embedding[t]``, so ``T <= max_frames``), and an
    optional boolean ``mask`` (B, T*S) of real tokens. Each layer:

    .. math:: Z \\leftarrow Z + \\mathrm{CA}(\\mathrm{LN}(Z), [\\mathrm{LN}(X); \\mathrm{LN}(Z)]), \\qquad
              Z \\leftarrow Z + \\mathrm{FF}(Z)

    (the latents attend to the visual tokens *and* to themselves, as in
    Flamingo). Returns (B, num_latents, dim) after a final LayerNorm.
    """

    def __init__(self, dim: int, num_latents: int = 8, depth: int = 2, heads: int = 4, max_frames: int = 8):
        super().__init__()
        if num_latents < 1 or depth < 1 or max_frames < 1:
            raise ValueError("num_latents, depth and max_frames must be positive")
        self.latents = nn.Parameter(torch.randn(num_latents, dim) * 0.02)
        self.time_embedding = nn.Parameter(torch.zeros(max_frames, dim))
        self.layers = nn.ModuleList()
        for _ in range(depth):
            self.layers.append(nn.ModuleDict({
                "norm_media": nn.LayerNorm(dim), "norm_latents": nn.LayerNorm(dim),
                "attention": MultiHeadAttention(dim, heads), "ff": feed_forward(dim)}))
        self.norm = nn.LayerNorm(dim)
        self.dim, self.num_latents, self.max_frames = dim, num_latents, max_frames

    def flatten_frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, S, dim) -> itself; (B, T, S, dim) -> (B, T*S, dim) with frame t's temporal embedding added."""
        if x.dim() == 3 and x.shape[-1] == self.dim:
            return x
        if x.dim() != 4 or x.shape[-1] != self.dim:
            raise ValueError(f"expected (B, S, {self.dim}) or (B, T, S, {self.dim}), got {tuple(x.shape)}")
        if x.shape[1] > self.max_frames:
            raise ValueError(f"{x.shape[1]} frames, more than max_frames={self.max_frames}")
        x = x + self.time_embedding[: x.shape[1], None, :]
        return x.reshape(x.shape[0], -1, self.dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        media = self.flatten_frames(x)
        b = media.shape[0]
        z = self.latents.expand(b, -1, -1)
        if mask is not None:
            if mask.shape != media.shape[:2]:
                raise ValueError(f"mask must be (B, tokens) = {tuple(media.shape[:2])}, got {tuple(mask.shape)}")
            mask = torch.cat([mask, torch.ones(b, self.num_latents, dtype=torch.bool, device=mask.device)], dim=1)
        for layer in self.layers:
            latents = layer["norm_latents"](z)
            context = torch.cat([layer["norm_media"](media), latents], dim=1)
            z = z + layer["attention"](latents, context, context, None if mask is None else mask[:, None, None, :])
            z = z + layer["ff"](z)
        return self.norm(z)


class GatedCrossAttentionBlock(nn.Module):
    """Flamingo's gated cross-attention dense block: text states ``y`` (B, M, dim) attend to visual tokens.

    :math:`y \\leftarrow y + \\tanh(\\alpha)\\, \\mathrm{CA}(\\mathrm{LN}(y), V)`, then
    :math:`y \\leftarrow y + \\tanh(\\beta)\\, \\mathrm{FF}(y)`; :math:`\\alpha = \\beta = 0` at
    initialisation, so the block starts as the identity and the frozen
    language model it is inserted into starts unchanged.
    """

    def __init__(self, dim: int, visual_dim: int | None = None, heads: int = 4):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        visual_dim = dim if visual_dim is None else visual_dim
        self.attention = MultiHeadAttention(dim, heads, kdim=visual_dim, vdim=visual_dim)
        self.ff = feed_forward(dim)
        self.attention_gate = nn.Parameter(torch.zeros(()))
        self.ff_gate = nn.Parameter(torch.zeros(()))

    def forward(self, y: torch.Tensor, visual: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            mask = mask[:, None, None, :]                                           # (B, L) -> every head and query
        y = y + torch.tanh(self.attention_gate) * self.attention(self.norm(y), visual, visual, mask)
        return y + torch.tanh(self.ff_gate) * self.ff(y)

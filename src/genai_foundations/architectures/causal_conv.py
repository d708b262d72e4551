"""A causal convolutional character model (WaveNet-style dilated convolutions over a token sequence).

A 1-D convolution becomes *causal* when the sequence is padded on the left
only, by :math:`(k - 1)\\,\\delta` positions for kernel size k and dilation
:math:`\\delta`: output t then combines inputs :math:`t, t-\\delta, \\dots,
t-(k-1)\\delta` and never a later one. Stacking blocks with dilations
1, 2, 4, ... grows the receptive field to

.. math:: r = 1 + (k - 1) \\sum_{b} \\delta_b

positions (:attr:`CausalConvLM.receptive_field`), a fixed window like an
n-gram's but with shared weights instead of a table of counts. The model
predicts :math:`p(x_{t+1} \\mid x_{t-r+1:t})` at every position in one
pass: embed, residual blocks of causal convolution + GELU, LayerNorm, a head
to V logits. It has the ``loss(inputs, targets)`` method that
:mod:`genai_foundations.algorithms.char_lm` trains and scores.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class CausalConv1d(nn.Conv1d):
    """``nn.Conv1d`` with left padding :math:`(k - 1)\\delta`: (B, C, n) -> (B, C_out, n), output t sees inputs <= t."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 device: torch.device | str | None = None) -> None:
        if kernel_size < 1 or dilation < 1:
            raise ValueError(f"kernel_size and dilation must be positive, got {kernel_size}, {dilation}")
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, padding=0, device=device)
        self.left = (kernel_size - 1) * dilation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, (self.left, 0)))


class CausalConvLM(nn.Module):
    """Embedding -> residual causal-convolution blocks (dilations ``dilations``) -> LayerNorm -> V logits.

    ``model(ids)`` with ids (B, n) returns logits (B, n, V); position t's
    logits depend on ids[:, max(0, t - r + 1) : t + 1] only.
    """

    def __init__(self, vocab_size: int, channels: int = 128, kernel_size: int = 3,
                 dilations: tuple[int, ...] | list[int] = (1, 2, 4, 8, 16), device: torch.device | str | None = None) -> None:
        super().__init__()
        if vocab_size < 2 or channels < 1 or not dilations:
            raise ValueError("need vocab_size >= 2, channels >= 1 and at least one dilation")
        self.vocab_size, self.kernel_size, self.dilations = vocab_size, kernel_size, tuple(int(d) for d in dilations)
        self.embedding = nn.Embedding(vocab_size, channels, device=device)
        self.convs = nn.ModuleList(CausalConv1d(channels, channels, kernel_size, d, device=device) for d in self.dilations)
        self.mixes = nn.ModuleList(nn.Conv1d(channels, channels, 1, device=device) for _ in self.dilations)
        self.norm = nn.LayerNorm(channels, device=device)
        self.head = nn.Linear(channels, vocab_size, device=device)

    @property
    def receptive_field(self) -> int:
        """:math:`r = 1 + (k - 1) \\sum_b \\delta_b` positions (the current one included)."""
        return 1 + (self.kernel_size - 1) * sum(self.dilations)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a (B, n) torch.long tensor, got shape {tuple(ids.shape)} {ids.dtype}")
        h = self.embedding(ids).transpose(1, 2)                      # (B, C, n)
        for conv, mix in zip(self.convs, self.mixes):
            h = h + mix(F.gelu(conv(h)))
        return self.head(self.norm(h.transpose(1, 2)))               # (B, n, V)

    def loss(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy (nats) of ``targets`` (B, n) given ``ids`` (B, n)."""
        logits = self(ids)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

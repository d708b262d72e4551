"""Positional encodings: fixed sinusoids and learned position embeddings.

Attention treats its inputs as a set: permuting the positions of X permutes
the outputs the same way. A transformer therefore adds to each token's
embedding a vector that depends on its position ``pos`` (counted from 0):
:math:`X = E[\\text{tokens}] + P`, with :math:`P \\in \\mathbb R^{n \\times d}`.

* :func:`sinusoidal_positions` (Vaswani et al.):
  :math:`P_{\\text{pos}, 2i} = \\sin(\\text{pos} / 10000^{2i/d})`,
  :math:`P_{\\text{pos}, 2i+1} = \\cos(\\text{pos} / 10000^{2i/d})`, for
  :math:`i = 0, \\dots, d/2 - 1` (PE): fixed, defined for every position;
* :class:`SinusoidalPositions` and :class:`LearnedPositions` (a trainable
  (n_max, d) table, as in GPT-2 and BERT), both called as ``positions(n, offset)``
  and returning the (n, d) rows for positions ``offset, ..., offset + n - 1``
  (``offset`` is the number of positions already in a KV cache).
"""

from __future__ import annotations

import torch
from torch import nn


def sinusoidal_positions(n: int, d: int, *, base: float = 10000.0, offset: int = 0,
                         device: torch.device | str | None = None,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Equation (PE): the (n, d) sinusoidal encodings of positions ``offset .. offset + n - 1``.

    Column 2i holds :math:`\\sin(\\text{pos}\\,\\omega_i)` and column 2i+1
    :math:`\\cos(\\text{pos}\\,\\omega_i)` with frequency
    :math:`\\omega_i = \\text{base}^{-2i/d}`: the first pair turns fastest
    (period :math:`2\\pi` positions), the last slowest. ``d`` must be even.
    """
    if n < 1 or d < 2 or d % 2:
        raise ValueError(f"need n >= 1 and an even d >= 2, got n={n}, d={d}")
    if offset < 0:
        raise ValueError(f"offset must be non-negative, got {offset}")
    pos = torch.arange(offset, offset + n, device=device, dtype=torch.float64)[:, None]
    omega = base ** (-torch.arange(0, d, 2, device=device, dtype=torch.float64) / d)
    angle = pos * omega
    out = torch.empty(n, d, device=device, dtype=torch.float64)
    out[:, 0::2] = torch.sin(angle)
    out[:, 1::2] = torch.cos(angle)
    return out.to(dtype)


class SinusoidalPositions(nn.Module):
    """Fixed encodings of equation (PE): no parameters, any number of positions."""

    def __init__(self, d_model: int, *, base: float = 10000.0) -> None:
        super().__init__()
        if d_model < 2 or d_model % 2:
            raise ValueError(f"sinusoidal positions need an even d_model >= 2, got {d_model}")
        self.d_model, self.base = d_model, base
        self.register_buffer("_anchor", torch.empty(0), persistent=False)  # follows .to(device, dtype)

    def forward(self, n: int, offset: int = 0) -> torch.Tensor:
        dtype = self._anchor.dtype if self._anchor.is_floating_point() else torch.float32
        return sinusoidal_positions(n, self.d_model, base=self.base, offset=offset,
                                    device=self._anchor.device, dtype=dtype)


class LearnedPositions(nn.Module):
    """A trainable table of ``max_positions`` rows of width ``d_model`` (GPT-2's ``wpe``, BERT's position embeddings)."""

    def __init__(self, max_positions: int, d_model: int, *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if max_positions < 1 or d_model < 1:
            raise ValueError(f"max_positions and d_model must be positive, got {max_positions}, {d_model}")
        self.max_positions, self.d_model = max_positions, d_model
        self.weight = nn.Parameter(torch.empty(max_positions, d_model, device=device, dtype=dtype))
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, n: int, offset: int = 0) -> torch.Tensor:
        if n < 1 or offset < 0:
            raise ValueError(f"need n >= 1 and offset >= 0, got n={n}, offset={offset}")
        if offset + n > self.max_positions:
            raise ValueError(f"positions {offset}..{offset + n - 1} exceed the {self.max_positions} learned positions "
                             "(the model's context length)")
        return self.weight[offset:offset + n]

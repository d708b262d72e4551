"""Diffusion Transformer (DiT): a noise predictor made of transformer blocks, conditioned by adaLN-Zero.

The DiT of Peebles and Xie, in miniature. A (latent) image (B, C, H, W) is cut
into P x P patches and embedded as tokens (:class:`~genai_foundations.architectures.vit.PatchEmbedding`),
fixed 2-D sine-cosine positions are added, and ``depth`` :class:`DiTBlock` s
process the tokens; a final layer maps every token back to P*P*C numbers and
:func:`~genai_foundations.architectures.vit.unpatchify` reassembles the
prediction (for DDPM: the noise). There are no convolutions after the patch
embedding and no class token.

The condition enters every block through *adaptive LayerNorm*: the noise level
t (DDPM's ``t / T``, embedded as in the U-Net) and the class label y (with a
*null* label for classifier-free guidance) give a vector c (B, D), and a linear
layer of SiLU(c) produces, per block, six vectors (ADALN)

.. math:: (\\gamma_1, \\beta_1, \\alpha_1, \\gamma_2, \\beta_2, \\alpha_2) = W\\,\\mathrm{SiLU}(c) + b,

used as :math:`\\mathrm{modulate}(h, \\beta, \\gamma) = \\mathrm{LN}(h)\\,(1 + \\gamma) + \\beta` and

.. math:: h \\leftarrow h + \\alpha_1 \\odot \\mathrm{MSA}(\\mathrm{modulate}(h, \\beta_1, \\gamma_1)),\\qquad
          h \\leftarrow h + \\alpha_2 \\odot \\mathrm{MLP}(\\mathrm{modulate}(h, \\beta_2, \\gamma_2))

for tokens h (B, N, D) (the letters are the DiT paper's: a shift, a scale and a gate, not the
diffusion coefficients of chapter 4).

*adaLN-Zero*: :math:`W` and :math:`b` start at zero, so every gate :math:`\\alpha`
is 0 and every block is the identity at initialisation (the final layer's
projection starts at zero too, so the whole network starts as the zero predictor).

``DiT(...)(x, t, y=None)`` has the call of the U-Net of chapter 14, so the DDPM
code and the latent-diffusion trainer
(:func:`~genai_foundations.algorithms.latent_diffusion.train_denoiser`) use either.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from genai_foundations.architectures.attention import MultiHeadAttention
from genai_foundations.architectures.unet import sinusoidal_embedding
from genai_foundations.architectures.vit import (MLP, PatchEmbedding, _pair,
                                                  sinusoidal_positions_2d, unpatchify)


def modulate(h: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """:math:`h\\,(1 + \\gamma) + \\beta` per example: h (B, N, D), shift β and scale γ (B, D)."""
    return h * (1 + scale[:, None, :]) + shift[:, None, :]


class DiTBlock(nn.Module):
    """A transformer block whose LayerNorms are shifted, scaled and gated by the condition (ADALN).

    ``forward(h, c)``: tokens h (B, N, D), condition c (B, D). The LayerNorms
    have no parameters of their own (the modulation replaces them); the
    modulation layer ``adaLN`` (Linear(D, 6D) after SiLU) starts at zero, so the
    block starts as the identity.
    """

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.attention = MultiHeadAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.mlp = MLP(dim, int(dim * mlp_ratio))
        self.adaLN = nn.Linear(dim, 6 * dim)
        nn.init.zeros_(self.adaLN.weight)
        nn.init.zeros_(self.adaLN.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        if h.dim() != 3 or c.shape != (h.shape[0], h.shape[2]):
            raise ValueError(f"expected tokens (B, N, D) and a condition (B, D), got {tuple(h.shape)} and "
                             f"{tuple(c.shape)}")
        shift1, scale1, gate1, shift2, scale2, gate2 = self.adaLN(nn.functional.silu(c)).chunk(6, dim=1)
        h = h + gate1[:, None, :] * self.attention(modulate(self.norm1(h), shift1, scale1))
        h = h + gate2[:, None, :] * self.mlp(modulate(self.norm2(h), shift2, scale2))
        return h


class FinalLayer(nn.Module):
    """Modulated LayerNorm and a linear map of every token to P*P*C_out numbers (zero at initialisation)."""

    def __init__(self, dim: int, patch_size: int, out_channels: int):
        super().__init__()
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.adaLN = nn.Linear(dim, 2 * dim)
        self.linear = nn.Linear(dim, patch_size * patch_size * out_channels)
        for layer in (self.adaLN, self.linear):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN(nn.functional.silu(c)).chunk(2, dim=1)
        return self.linear(modulate(self.norm(h), shift, scale))


class DiT(nn.Module):
    """A Diffusion Transformer noise predictor ``eps_theta(x, t, y)``.

    Parameters
    ----------
    input_size:
        Height and width of the (latent) input (int or pair), divisible by ``patch_size``.
    in_channels:
        Input channels (4 for the latents of the latent-diffusion chapter);
        the output has as many unless ``out_channels`` says otherwise.
    patch_size, dim, depth, num_heads, mlp_ratio:
        Tokenisation and transformer sizes.
    num_classes:
        ``None`` for an unconditional model; otherwise labels ``0 .. num_classes - 1``
        plus the null label :attr:`null_label` (= ``num_classes``) for "no label".

    ``forward(x, t, y=None)``: ``x`` (B, C, H, W); ``t`` the noise level per example
    as a float in about [0, 1] (shape (B,) or a scalar; DDPM passes t/T); ``y``
    integer labels (B,) or ``None`` (= all null). Returns (B, C_out, H, W).
    """

    def __init__(self, input_size: int | Sequence[int] = 8, in_channels: int = 4, patch_size: int = 2,
                 dim: int = 128, depth: int = 4, num_heads: int = 4, mlp_ratio: float = 4.0,
                 num_classes: int | None = None, out_channels: int | None = None):
        super().__init__()
        height, width = _pair(input_size, "input_size")
        if height % patch_size != 0 or width % patch_size != 0:
            raise ValueError(f"the patch size {patch_size} must divide the input size {height}x{width}")
        if dim % 4 != 0:
            raise ValueError(f"dim must be a multiple of 4 (2-D sine-cosine positions), got {dim}")
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"num_classes must be None or a positive int, got {num_classes}")
        self.input_size, self.in_channels, self.patch_size = (height, width), in_channels, patch_size
        self.out_channels = out_channels or in_channels
        self.num_classes = num_classes
        self.grid = (height // patch_size, width // patch_size)
        self.patch_embedding = PatchEmbedding(in_channels, dim, patch_size, mode="conv")
        self.register_buffer("positions", sinusoidal_positions_2d(*self.grid, dim))
        self.time_dim = dim
        self.time_mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.label_emb = nn.Embedding(num_classes + 1, dim) if num_classes is not None else None
        self.blocks = nn.ModuleList(DiTBlock(dim, num_heads, mlp_ratio) for _ in range(depth))
        self.final = FinalLayer(dim, patch_size, self.out_channels)

    @property
    def null_label(self) -> int:
        """The label index that means "no label" (classifier-free guidance)."""
        if self.num_classes is None:
            raise ValueError("this DiT is unconditional (num_classes=None), so it has no null label")
        return self.num_classes

    def condition(self, t: torch.Tensor | float, y: torch.Tensor | None, batch: int,
                  device: torch.device) -> torch.Tensor:
        """The condition vector c (B, D) = MLP(sinusoidal(t)) + label embedding(y)."""
        t = torch.as_tensor(t, device=device, dtype=torch.float32)
        if t.dim() == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"t must be a scalar or have shape ({batch},), got {tuple(t.shape)}")
        c = self.time_mlp(sinusoidal_embedding(t, self.time_dim))
        if self.label_emb is None:
            if y is not None:
                raise ValueError("this DiT is unconditional (num_classes=None); pass y=None")
            return c
        if y is None:
            y = torch.full((batch,), self.null_label, device=device, dtype=torch.long)
        if y.shape != (batch,) or y.min() < 0 or y.max() > self.null_label:
            raise ValueError(f"y must hold {batch} labels in 0..{self.null_label} ({self.null_label} = no label)")
        return c + self.label_emb(y.long())

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.in_channels, *self.input_size):
            raise ValueError(f"expected x of shape (B, {self.in_channels}, {self.input_size[0]}, "
                             f"{self.input_size[1]}), got {tuple(x.shape)}")
        c = self.condition(t, y, x.shape[0], x.device)
        h = self.patch_embedding(x) + self.positions[None]           # (B, N, D)
        for block in self.blocks:
            h = block(h, c)
        return unpatchify(self.final(h, c), self.patch_size, *self.input_size)


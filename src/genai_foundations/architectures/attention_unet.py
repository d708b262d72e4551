"""An attention U-Net: chapter 14's U-Net with self- and cross-attention at low resolution.

This is the denoiser layout of latent diffusion and Stable Diffusion, in
miniature. The convolutional skeleton is the U-Net chapter's: the same
:class:`~genai_foundations.architectures.unet.ResidualBlock`,
:class:`~genai_foundations.architectures.unet.DownBlock` and
:class:`~genai_foundations.architectures.unet.UpBlock`, the same sinusoidal noise
embedding and the same call ``model(x, t)`` with ``t`` the noise level
``t / T`` per example (DDPM's convention). At the resolution levels named in
``attention_resolutions`` (by default only the coarsest) and in the middle, an
:class:`AttentionBlock` follows the residual blocks. It flattens the feature
map (B, C, h, w) to h*w tokens of width C and applies

* self-attention among the tokens (every position can see every other, which
  3x3 convolutions reach only after many layers),
* cross-attention from the tokens (queries) to a conditioning sequence
  ``context`` (B, L, context_dim) (keys and values), e.g. the token embeddings of a caption,
* a position-wise MLP,

each pre-normalised and added residually, then reshapes back; its output
projection starts at zero, so at initialisation the block is the identity.

No conditioning (``context=None``, or a row of ``context_mask`` that keeps no token):
every cross-attention layer then attends to a single learned *null token*
(:attr:`AttentionUNet.null_context`, shape (1, 1, context_dim)) instead. Its
contribution is the same vector at every position (a learned bias per block),
and it is what the unconditional branch of classifier-free guidance uses: pass
``context=None`` for the whole batch, or drop the conditioning of single
examples in training by setting their mask row to all False. The null token is
prepended to every context internally and masked out whenever a row keeps at
least one real token, so it never changes a conditioned output.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from genai_foundations.architectures.unet import (DownBlock, ResidualBlock, UpBlock, group_norm,
                                                  sinusoidal_embedding)
from genai_foundations.architectures.attention import MultiHeadAttention


class AttentionBlock(nn.Module):
    """Self-attention, cross-attention and an MLP on the positions of a feature map (a "spatial transformer").

    For x (B, C, H, W): :math:`h = \\mathrm{proj}_{in}(\\mathrm{GN}(x))` flattened to
    (B, HW, C), then

    .. math:: h \\leftarrow h + \\mathrm{SA}(\\mathrm{LN}(h)),\\quad
              h \\leftarrow h + \\mathrm{CA}(\\mathrm{LN}(h), c),\\quad
              h \\leftarrow h + \\mathrm{MLP}(\\mathrm{LN}(h)),

    and :math:`y = x + \\mathrm{proj}_{out}(h)` reshaped back to (B, C, H, W).
    ``context`` c is (B, L, context_dim) with ``mask`` (B, L) bool (True = keep),
    passed to the cross-attention (the package's
    :class:`~genai_foundations.architectures.attention.MultiHeadAttention`; masked keys get weight 0).
    ``proj_out`` starts at zero, so the block starts as the identity.
    """

    def __init__(self, channels: int, context_dim: int, num_heads: int = 4, groups: int = 8, mlp_ratio: int = 2):
        super().__init__()
        self.norm = group_norm(channels, groups)
        self.proj_in = nn.Conv2d(channels, channels, 1)
        self.norm_self = nn.LayerNorm(channels)
        self.self_attention = MultiHeadAttention(channels, num_heads)
        self.norm_cross = nn.LayerNorm(channels)
        self.cross_attention = MultiHeadAttention(channels, num_heads, kdim=context_dim, vdim=context_dim)
        self.norm_mlp = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, mlp_ratio * channels), nn.GELU(),
                                 nn.Linear(mlp_ratio * channels, channels))
        self.proj_out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, x: torch.Tensor, context: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b, c, height, width = x.shape
        h = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)  # (B, HW, C): one token per position
        h = h + self.self_attention(self.norm_self(h))
        key_mask = None if mask is None else mask[:, None, None, :]      # (B, L) -> (B, heads, queries, L)
        h = h + self.cross_attention(self.norm_cross(h), context, mask=key_mask)
        h = h + self.mlp(self.norm_mlp(h))
        h = h.transpose(1, 2).reshape(b, c, height, width)
        return x + self.proj_out(h)


class AttentionUNet(nn.Module):
    """A U-Net noise predictor ``eps_theta(x, t, context)`` with attention at low resolution.

    Parameters
    ----------
    in_channels:
        Image channels; the output has as many unless ``out_channels`` says otherwise.
    channels:
        Channels per level, as for :class:`~genai_foundations.architectures.unet.UNet`:
        ``len(channels) - 1`` halvings, e.g. ``(32, 64)`` takes 28x28 to 14x14 and 8x8 to 4x4.
    context_dim:
        Width of the conditioning tokens.
    num_heads:
        Attention heads (must divide every channel count that gets attention).
    attention_resolutions:
        The level indices (0 = full resolution, level i runs at H / 2^i) whose
        blocks are followed by an :class:`AttentionBlock`, on the way down and
        on the way up; ``None`` (default) means only the coarsest level. The
        middle always has one (between its two residual blocks).
    blocks_per_level, emb_dim, groups:
        As for the U-Net.

    ``forward(x, t, context=None, context_mask=None)``: ``x`` (B, C, H, W); ``t``
    the noise level per example as a float in about [0, 1], shape (B,) or a scalar
    (DDPM passes t/T); ``context`` (B, L, context_dim) or ``None``; ``context_mask``
    (B, L) bool, True = keep (``None`` = keep all). Returns a tensor of the shape of
    ``x`` (with ``out_channels``). Without conditioning (``context=None`` or a mask
    row of all False) cross-attention sees only the learned :attr:`null_context`
    token (see the module docstring).
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (32, 64), context_dim: int = 64,
                 num_heads: int = 4, attention_resolutions: Sequence[int] | None = None,
                 blocks_per_level: int = 1, emb_dim: int = 128, out_channels: int | None = None, groups: int = 8):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if not channels or any(c < 1 for c in channels):
            raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels}")
        if context_dim < 1:
            raise ValueError(f"context_dim must be a positive int, got {context_dim}")
        levels = len(channels)
        attention = (levels - 1,) if attention_resolutions is None else tuple(int(a) for a in attention_resolutions)
        if any(not 0 <= a < levels for a in attention):
            raise ValueError(f"attention_resolutions must be level indices in 0..{levels - 1}, got {attention}")
        for a in set(attention) | {levels - 1}:
            if channels[a] % num_heads != 0:
                raise ValueError(f"num_heads ({num_heads}) must divide the channels of level {a} ({channels[a]})")
        self.in_channels, self.channels, self.context_dim = in_channels, channels, int(context_dim)
        self.attention_resolutions = tuple(sorted(set(attention)))
        base = channels[0]
        self.time_dim = base
        self.time_mlp = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.null_context = nn.Parameter(0.02 * torch.randn(1, 1, self.context_dim))
        self.conv_in = nn.Conv2d(in_channels, base, 3, padding=1)

        def attention_block(ch: int, level: int) -> nn.Module:
            if level in self.attention_resolutions:
                return AttentionBlock(ch, self.context_dim, num_heads, groups)
            return nn.Identity()

        self.down = nn.ModuleList()
        self.down_attention = nn.ModuleList()
        self.downsample = nn.ModuleList()
        previous = base
        for i, ch in enumerate(channels):
            self.down.append(DownBlock(previous, ch, emb_dim, blocks_per_level, downsample=False, groups=groups))
            self.down_attention.append(attention_block(ch, i))
            self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1) if i < levels - 1 else nn.Identity())
            previous = ch
        self.mid = nn.ModuleList([ResidualBlock(previous, previous, emb_dim, groups),
                                  ResidualBlock(previous, previous, emb_dim, groups)])
        self.mid_attention = AttentionBlock(previous, self.context_dim, num_heads, groups)
        self.up = nn.ModuleList()
        self.up_attention = nn.ModuleList()
        for i in reversed(range(levels)):
            self.up.append(UpBlock(previous, channels[i], channels[i], emb_dim, blocks_per_level,
                                   upsample=i < levels - 1, groups=groups))
            self.up_attention.append(attention_block(channels[i], i))
            previous = channels[i]
        self.norm_out = group_norm(base, groups)
        self.conv_out = nn.Conv2d(base, out_channels or in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)  # start as the zero predictor, as the U-Net does
        nn.init.zeros_(self.conv_out.bias)

    def embed(self, t: torch.Tensor | float, batch: int, device: torch.device) -> torch.Tensor:
        """The (B, emb_dim) noise-level vector MLP(sinusoidal(t)), as in the U-Net."""
        t = torch.as_tensor(t, device=device, dtype=torch.float32)
        if t.dim() == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"t must be a scalar or have shape ({batch},), got {tuple(t.shape)}")
        return self.time_mlp(sinusoidal_embedding(t, self.time_dim))

    def prepare_context(self, context: torch.Tensor | None, context_mask: torch.Tensor | None,
                        batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys/values every cross-attention sees: ``[null; context]`` (B, 1 + L, context_dim) and its mask.

        The null token (position 0) is kept exactly in the rows that keep no
        real token (all rows when ``context`` is ``None``); elsewhere it is masked out.
        """
        null = self.null_context.expand(batch, 1, self.context_dim)
        if context is None:
            if context_mask is not None:
                raise ValueError("context_mask was given without a context")
            return null, torch.ones(batch, 1, dtype=torch.bool, device=null.device)
        if context.dim() != 3 or context.shape[0] != batch or context.shape[-1] != self.context_dim:
            raise ValueError(f"expected context of shape ({batch}, L, {self.context_dim}), got {tuple(context.shape)}")
        if context_mask is None:
            context_mask = torch.ones(context.shape[:2], dtype=torch.bool, device=context.device)
        if context_mask.shape != context.shape[:2] or context_mask.dtype != torch.bool:
            raise ValueError(f"context_mask must be a bool tensor of shape {tuple(context.shape[:2])}, "
                             f"got {context_mask.dtype} {tuple(context_mask.shape)}")
        keep_null = ~context_mask.any(dim=1, keepdim=True)
        return torch.cat([null.to(context.dtype), context], dim=1), torch.cat([keep_null, context_mask], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, context: torch.Tensor | None = None,
                context_mask: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected x of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        batch = x.shape[0]
        emb = self.embed(t, batch, x.device)
        keys, mask = self.prepare_context(context, context_mask, batch)

        def attend(block: nn.Module, h: torch.Tensor) -> torch.Tensor:
            return block(h, keys, mask) if isinstance(block, AttentionBlock) else h

        h = self.conv_in(x)
        skips = []
        for block, attention, down in zip(self.down, self.down_attention, self.downsample):
            _, h = block(h, emb)  # DownBlock without downsampling: (output, skip) are the same map
            h = attend(attention, h)
            skips.append(h)
            h = down(h)
        h = self.mid[0](h, emb)
        h = self.mid_attention(h, keys, mask)
        h = self.mid[1](h, emb)
        for block, attention in zip(self.up, self.up_attention):
            h = attend(attention, block(h, skips.pop(), emb))
        return self.conv_out(nn.functional.silu(self.norm_out(h)))

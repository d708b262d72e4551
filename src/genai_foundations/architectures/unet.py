"""A small, general U-Net denoiser (the one U-Net of the package).

The network maps a noisy image and a noise level to an image of the same
shape (for DDPM: the predicted noise). Its pieces, taught in the U-Net
chapter and used by the diffusion chapters:

* :func:`sinusoidal_embedding` turns the scalar noise level into a vector,
* :class:`ResidualBlock`: two 3x3 convolutions whose output is added to the
  input (through a 1x1 convolution when the channel counts differ); the noise
  (and class) embedding is broadcast over space and added in between,
* a *down path* of residual blocks and stride-2 convolutions that halves the
  resolution level by level while widening the channels,
* a *middle* of two residual blocks at the coarsest resolution,
* an *up path* that upsamples back, concatenating at each level the feature
  map that the down path produced at that resolution (the *skip connection*).

With optional class conditioning the network has ``num_classes + 1`` label
embeddings: labels ``0 .. num_classes - 1`` and an extra *null* label
(:attr:`UNet.null_label`) that stands for "no label", as classifier-free
guidance needs.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def sinusoidal_embedding(x: torch.Tensor, dim: int, max_frequency: float = 1000.0) -> torch.Tensor:
    """Embed scalars ``x`` (shape (B,), about [0, 1]) as vectors of length ``dim``.

    Implements (U-Net chapter)

    .. math:: y(x) = \\big(\\sin(2\\pi e^{0 f} x), \\dots, \\sin(2\\pi e^{(L-1) f} x),
              \\cos(2\\pi e^{0 f} x), \\dots, \\cos(2\\pi e^{(L-1) f} x)\\big),

    with :math:`L` = ``dim / 2`` and :math:`f = \\ln(1000) / (L - 1)`, so the
    frequencies run geometrically from 1 to ``max_frequency`` (1000).
    """
    if dim % 2 != 0 or dim < 4:
        raise ValueError(f"dim must be an even number of at least 4, got {dim}")
    x = torch.as_tensor(x)
    if x.dim() == 0:
        x = x.reshape(1)
    if x.dim() != 1:
        raise ValueError(f"expected a 1-D tensor of scalars (one per example), got shape {tuple(x.shape)}")
    half = dim // 2
    f = math.log(max_frequency) / (half - 1)
    frequencies = torch.exp(f * torch.arange(half, device=x.device, dtype=torch.float32))
    angles = 2 * math.pi * x.float()[:, None] * frequencies[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest number of groups <= ``groups`` that divides ``channels``."""
    g = max(d for d in range(1, min(groups, channels) + 1) if channels % d == 0)
    return nn.GroupNorm(g, channels)


class ResidualBlock(nn.Module):
    """``y = skip(x) + f(x, emb)``: two 3x3 convolutions with the embedding added in between.

    ``skip`` is the identity when ``in_channels == out_channels`` and a 1x1
    convolution otherwise (it aligns the channel counts). ``emb`` (B, emb_dim)
    is projected to ``out_channels`` and broadcast over the spatial positions.
    """

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, groups: int = 8, dropout: float = 0.0):
        super().__init__()
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_channels)
        self.norm2 = group_norm(out_channels, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None, None]  # broadcast over height and width
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return self.skip(x) + h


class DownBlock(nn.Module):
    """Residual blocks at one resolution, then (optionally) a stride-2 convolution halving it.

    Returns the downsampled tensor and the pre-downsampling feature map that
    the matching :class:`UpBlock` receives through the skip connection.
    """

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, num_blocks: int, downsample: bool,
                 groups: int = 8, dropout: float = 0.0):
        super().__init__()
        self.blocks = nn.ModuleList(
            ResidualBlock(in_channels if i == 0 else out_channels, out_channels, emb_dim, groups, dropout)
            for i in range(num_blocks)
        )
        self.down = nn.Conv2d(out_channels, out_channels, 3, stride=2, padding=1) if downsample else nn.Identity()

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        for block in self.blocks:
            x = block(x, emb)
        return self.down(x), x


class UpBlock(nn.Module):
    """Upsample to the skip's resolution, concatenate the skip, then residual blocks.

    Upsampling goes to the exact size of the skip tensor (nearest neighbour,
    then a 3x3 convolution), so odd sizes such as 7x7 work too.
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, emb_dim: int, num_blocks: int,
                 upsample: bool, groups: int = 8, dropout: float = 0.0):
        super().__init__()
        self.upsample = upsample
        self.up_conv = nn.Conv2d(in_channels, in_channels, 3, padding=1) if upsample else nn.Identity()
        self.blocks = nn.ModuleList(
            ResidualBlock(in_channels + skip_channels if i == 0 else out_channels, out_channels, emb_dim, groups,
                          dropout)
            for i in range(num_blocks)
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = self.up_conv(F.interpolate(x, size=skip.shape[-2:], mode="nearest"))
        x = torch.cat([x, skip], dim=1)
        for block in self.blocks:
            x = block(x, emb)
        return x


class UNet(nn.Module):
    """A U-Net noise predictor ``eps_theta(x, t, y)`` for small images.

    Parameters
    ----------
    in_channels:
        Image channels (1 for digits and MNIST); the output has as many
        unless ``out_channels`` says otherwise.
    channels:
        Channels per resolution level; ``len(channels) - 1`` halvings, e.g.
        ``(32, 64, 128)`` takes 8x8 to 4x4 to 2x2 and 28x28 to 14x14 to 7x7.
    blocks_per_level:
        Residual blocks per level on each path.
    emb_dim:
        Width of the noise (and label) embedding vector.
    num_classes:
        ``None`` for an unconditional model; otherwise the number of labels.
        The model then also accepts :attr:`null_label` (= ``num_classes``),
        the "no label" input used for label dropout and classifier-free
        guidance.

    ``forward(x, t, y=None)``: ``x`` (B, C, H, W), ``t`` the noise level per
    example as a float in about [0, 1] (shape (B,) or a scalar; DDPM passes
    t/T), ``y`` integer labels (B,) or ``None`` (= all null).
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (32, 64, 128), blocks_per_level: int = 1,
                 emb_dim: int = 128, num_classes: int | None = None, out_channels: int | None = None,
                 groups: int = 8, dropout: float = 0.0):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) < 1 or any(c <= 0 for c in channels):
            raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels}")
        if blocks_per_level < 1:
            raise ValueError(f"blocks_per_level must be at least 1, got {blocks_per_level}")
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"num_classes must be None or a positive int, got {num_classes}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.channels = channels
        base = channels[0]
        self.time_dim = base
        self.time_mlp = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes is not None else None
        self.conv_in = nn.Conv2d(in_channels, base, 3, padding=1)

        levels = len(channels)
        self.down = nn.ModuleList()
        previous = base
        for i, ch in enumerate(channels):
            self.down.append(DownBlock(previous, ch, emb_dim, blocks_per_level, downsample=i < levels - 1,
                                       groups=groups, dropout=dropout))
            previous = ch
        self.mid = nn.ModuleList([ResidualBlock(previous, previous, emb_dim, groups, dropout) for _ in range(2)])
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):
            self.up.append(UpBlock(previous, channels[i], channels[i], emb_dim, blocks_per_level,
                                   upsample=i < levels - 1, groups=groups, dropout=dropout))
            previous = channels[i]
        self.norm_out = group_norm(base, groups)
        self.conv_out = nn.Conv2d(base, out_channels or in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)  # start as the zero predictor: a calm first few steps
        nn.init.zeros_(self.conv_out.bias)

    @property
    def null_label(self) -> int:
        """The label index that means "no label" (classifier-free guidance)."""
        if self.num_classes is None:
            raise AttributeError("this U-Net is unconditional (num_classes=None), so it has no null label")
        return self.num_classes

    def embed(self, t: torch.Tensor, y: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        """The (B, emb_dim) conditioning vector: MLP(sinusoidal(t)) plus the label embedding."""
        t = torch.as_tensor(t, device=device, dtype=torch.float32)
        if t.dim() == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"t must be a scalar or have shape ({batch},), got {tuple(t.shape)}")
        emb = self.time_mlp(sinusoidal_embedding(t, self.time_dim))
        if self.label_emb is None:
            if y is not None:
                raise ValueError("this U-Net is unconditional (num_classes=None); pass y=None")
            return emb
        if y is None:
            y = torch.full((batch,), self.null_label, device=device, dtype=torch.long)
        if y.shape != (batch,):
            raise ValueError(f"y must have shape ({batch},), got {tuple(y.shape)}")
        if y.min() < 0 or y.max() > self.null_label:
            raise ValueError(f"labels must lie in 0..{self.null_label} ({self.null_label} = no label)")
        return emb + self.label_emb(y.long())

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected x of shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        emb = self.embed(t, y, x.shape[0], x.device)
        h = self.conv_in(x)
        skips = []
        for block in self.down:
            h, skip = block(h, emb)
            skips.append(skip)
        for block in self.mid:
            h = block(h, emb)
        for block in self.up:
            h = block(h, skips.pop(), emb)
        return self.conv_out(F.silu(self.norm_out(h)))

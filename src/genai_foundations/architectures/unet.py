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
* a *middle* of two residual blocks at the coarsest resolution (optionally
  with their own channel count, ``mid_channels``),
* an *up path* that upsamples back, concatenating at each level the feature
  map that the down path produced at that resolution (the *skip connection*).

With optional class conditioning the network has ``num_classes + 1`` label
embeddings: labels ``0 .. num_classes - 1`` and an extra *null* label
(:attr:`UNet.null_label`) that stands for "no label", as classifier-free
guidance needs.

The forward passes of an up block and of the whole network given its
conditioning vector are also plain functions, :func:`up_block_forward` and
:func:`unet_forward` (like :func:`residual_block_forward` for a residual block).

Tools for looking inside (U-Net chapter): :func:`down_block_shapes` and
:func:`up_block_shapes` predict a block's output shapes by conv arithmetic,
:func:`shape_plan` chains them into the whole walk-through without running
the network (:func:`unet_shape_plan` for a built model, and
:func:`resolution_of_blocks` says at which size each residual block runs),
:func:`cost_by_resolution` counts parameters and convolution work per resolution,
:func:`trace_stages` / :func:`describe_shapes` record what every
stage of a real forward pass produced (through forward hooks), and
:func:`skips_disabled` switches the skip connections off for an ablation.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator, Sequence

import torch
from torch import nn
from torch.nn import functional as F


Shape = tuple[int, ...]


def sinusoidal_embedding(x: torch.Tensor, dim: int, max_frequency: float = 1000.0,
                         min_frequency: float = 1.0) -> torch.Tensor:
    """Embed scalars ``x`` (shape (B,), about [0, 1]) as vectors of length ``dim`` (float32, shape (B, dim)).

    Implements equation (EMB) of the U-Net chapter

    .. math:: y(x) = \\big(\\sin(2\\pi \\omega_0 x), \\dots, \\sin(2\\pi \\omega_{L-1} x),
              \\cos(2\\pi \\omega_0 x), \\dots, \\cos(2\\pi \\omega_{L-1} x)\\big),
              \\qquad \\omega_k = \\omega_{\\min} e^{kf},

    with :math:`L` = ``dim / 2`` and :math:`f = \\ln(\\omega_{\\max} / \\omega_{\\min}) / (L - 1)`, so the
    frequencies (turns per unit of ``x``) run geometrically from ``min_frequency`` to
    ``max_frequency``; the defaults, 1 to 1000, are the chapter's equation with
    :math:`\\omega_k = e^{kf}`, :math:`f = \\ln(1000) / (L - 1)`. :class:`UNet` passes a lower
    range (:data:`UNET_TIME_FREQUENCIES`). A scalar ``x`` counts as a batch of one.
    """
    if dim % 2 != 0 or dim < 4:
        raise ValueError(f"dim must be an even number of at least 4, got {dim}")
    if not 0 < min_frequency < max_frequency:
        raise ValueError(f"expected 0 < min_frequency < max_frequency, got {min_frequency} and {max_frequency}")
    x = torch.as_tensor(x)
    if x.dim() == 0:
        x = x.reshape(1)
    if x.dim() != 1:
        raise ValueError(f"expected a 1-D tensor of scalars (one per example), got shape {tuple(x.shape)}")
    half = dim // 2
    f = math.log(max_frequency / min_frequency) / (half - 1)
    frequencies = min_frequency * torch.exp(f * torch.arange(half, device=x.device, dtype=torch.float32))
    angles = 2 * math.pi * x.float()[:, None] * frequencies[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


#: The frequency range (turns over the noise range [0, 1]) of :class:`UNet`'s time features.
#: The slowest feature covers less than a tenth of a turn over the whole chain, so it changes
#: steadily with the noise level; the fastest makes 160 turns, well below the 500 at which
#: 1000 integer steps alias. Chosen because (EMB)'s 1 to 1000 made the U-Net learn much more
#: slowly on MNIST than diffusers' ``UNet2DModel`` (whose range on integer steps is about
#: 0.03 to 160 turns over the chain); see ``benchmarks/ddpm_diffusers.py`` and chapter 4.
UNET_TIME_FREQUENCIES: tuple[float, float] = (0.03, 160.0)


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest number of groups <= ``groups`` that divides ``channels``."""
    g = max(d for d in range(1, min(groups, channels) + 1) if channels % d == 0)
    return nn.GroupNorm(g, channels)


def residual_block_forward(block: "ResidualBlock", x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """The forward pass of a :class:`ResidualBlock`, equation (RES) of the U-Net chapter.

    .. math:: h = \\mathrm{conv}_1(\\mathrm{SiLU}(\\mathrm{GN}_1(x))) + W_e\\,\\mathrm{SiLU}(e) + b_e
              \\quad\\text{(the embedding term broadcast over height and width)},

    .. math:: y = P x + \\mathrm{conv}_2(\\mathrm{SiLU}(\\mathrm{GN}_2(h))),

    where :math:`P` is the identity when the channel counts agree and the 1x1
    convolution ``block.skip`` otherwise. ``x`` is (B, C_in, H, W), ``emb`` is
    (B, emb_dim); the result is (B, C_out, H, W).
    """
    if x.dim() != 4 or x.shape[1] != block.conv1.in_channels:
        raise ValueError(f"expected x of shape (B, {block.conv1.in_channels}, H, W), got {tuple(x.shape)}")
    if emb.dim() != 2 or emb.shape != (x.shape[0], block.emb.in_features):
        raise ValueError(f"expected emb of shape ({x.shape[0]}, {block.emb.in_features}), got {tuple(emb.shape)}")
    h = block.conv1(F.silu(block.norm1(x)))
    h = h + block.emb(F.silu(emb))[:, :, None, None]  # (B, C_out) -> (B, C_out, 1, 1): broadcast over H and W
    h = block.conv2(block.dropout(F.silu(block.norm2(h))))
    return block.skip(x) + h


class ResidualBlock(nn.Module):
    """``y = skip(x) + f(x, emb)``: two 3x3 convolutions with the embedding added in between (RES).

    ``skip`` is the identity when ``in_channels == out_channels`` and a 1x1
    convolution otherwise (it aligns the channel counts). ``emb`` (B, emb_dim)
    is projected to ``out_channels`` and broadcast over the spatial positions.
    The computation is :func:`residual_block_forward`.
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
        return residual_block_forward(self, x, emb)


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
        return up_block_forward(self, x, skip, emb)


def up_block_forward(block: UpBlock, x: torch.Tensor, skip: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """The forward pass of an :class:`UpBlock`: resize, concatenate the skip, residual blocks.

    With ``block.upsample`` the input ``x`` (B, C, h, w) is resized to the
    skip's exact height and width by nearest-neighbour interpolation (so that
    4x4 goes to 7x7 as well as to 8x8) and passed through ``block.up_conv``, a
    3x3 convolution that smooths the blocky copy; without it ``x`` must already
    have the skip's size. Then ``[x, skip]`` is concatenated along the channels,
    (B, C + C_s, H, W), and ``block.blocks`` run one after the other with the
    embedding ``emb`` (B, emb_dim). Returns (B, C_out, H, W).
    """
    if x.dim() != 4 or skip.dim() != 4 or x.shape[0] != skip.shape[0]:
        raise ValueError(f"expected x (B, C, h, w) and skip (B, C_s, H, W) with the same B, got {tuple(x.shape)} "
                         f"and {tuple(skip.shape)}")
    if block.upsample:
        x = block.up_conv(F.interpolate(x, size=skip.shape[-2:], mode="nearest"))
    elif x.shape[-2:] != skip.shape[-2:]:
        raise ValueError(f"without upsampling x must have the skip's size {tuple(skip.shape[-2:])}, "
                         f"got {tuple(x.shape[-2:])}")
    x = torch.cat([x, skip], dim=1)
    for residual in block.blocks:
        x = residual(x, emb)
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

    mid_channels:
        Channels of the two middle blocks; ``None`` keeps ``channels[-1]``.
    downsample_last:
        ``False`` (default): the last level keeps its resolution, so
        ``len(channels) - 1`` halvings, and the last level's down and up
        blocks run at the coarsest resolution together with the middle.
        ``True``: every level halves, so ``len(channels)`` halvings, and only
        the two middle blocks run at the coarsest resolution. With
        ``channels=(32, 64, 96)``, ``mid_channels=128`` and
        ``downsample_last=True`` this is the layout of the course notes and
        of the Keras diffusion model: 64x64 -> 32 -> 16 -> 8x8x96, two residual
        blocks at 8x8x128, and back up.
    time_frequencies:
        ``(min, max)`` frequencies of the sinusoidal time features
        (:func:`sinusoidal_embedding`), in turns over the noise range [0, 1];
        default :data:`UNET_TIME_FREQUENCIES`. ``(1.0, 1000.0)`` gives (EMB)'s
        own range.

    ``forward(x, t, y=None)``: ``x`` (B, C, H, W), ``t`` the noise level per
    example as a float in about [0, 1] (shape (B,) or a scalar; DDPM passes
    t/T), ``y`` integer labels (B,) or ``None`` (= all null).
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (32, 64, 128), blocks_per_level: int = 1,
                 emb_dim: int = 128, num_classes: int | None = None, out_channels: int | None = None,
                 groups: int = 8, dropout: float = 0.0, mid_channels: int | None = None,
                 downsample_last: bool = False,
                 time_frequencies: tuple[float, float] = UNET_TIME_FREQUENCIES):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) < 1 or any(c <= 0 for c in channels):
            raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels}")
        if mid_channels is not None and (int(mid_channels) != mid_channels or mid_channels < 1):
            raise ValueError(f"mid_channels must be None or a positive int, got {mid_channels!r}")
        if blocks_per_level < 1:
            raise ValueError(f"blocks_per_level must be at least 1, got {blocks_per_level}")
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"num_classes must be None or a positive int, got {num_classes}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.channels = channels
        self.mid_channels = int(mid_channels) if mid_channels is not None else channels[-1]
        self.downsample_last = bool(downsample_last)
        base = channels[0]
        self.time_dim = base
        self.time_frequencies = (float(time_frequencies[0]), float(time_frequencies[1]))
        self.time_mlp = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes is not None else None
        self.conv_in = nn.Conv2d(in_channels, base, 3, padding=1)

        levels = len(channels)
        self.down = nn.ModuleList()
        previous = base
        for i, ch in enumerate(channels):
            self.down.append(DownBlock(previous, ch, emb_dim, blocks_per_level,
                                       downsample=i < levels - 1 or self.downsample_last, groups=groups,
                                       dropout=dropout))
            previous = ch
        mid = self.mid_channels
        self.mid = nn.ModuleList([ResidualBlock(previous if i == 0 else mid, mid, emb_dim, groups, dropout)
                                  for i in range(2)])
        previous = mid
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):
            self.up.append(UpBlock(previous, channels[i], channels[i], emb_dim, blocks_per_level,
                                   upsample=i < levels - 1 or self.downsample_last, groups=groups, dropout=dropout))
            previous = channels[i]
        self.norm_out = group_norm(base, groups)
        self.conv_out = nn.Conv2d(base, out_channels or in_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)  # start as the zero predictor: a calm first few steps
        nn.init.zeros_(self.conv_out.bias)

    @property
    def null_label(self) -> int:
        """The label index that means "no label" (classifier-free guidance)."""
        if self.num_classes is None:
            raise ValueError("this U-Net is unconditional (num_classes=None), so it has no null label")
        return self.num_classes

    def embed(self, t: torch.Tensor, y: torch.Tensor | None, batch: int, device: torch.device) -> torch.Tensor:
        """The (B, emb_dim) conditioning vector: MLP(sinusoidal(t)) plus the label embedding."""
        t = torch.as_tensor(t, device=device, dtype=torch.float32)
        if t.dim() == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"t must be a scalar or have shape ({batch},), got {tuple(t.shape)}")
        emb = self.time_mlp(sinusoidal_embedding(t, self.time_dim, max_frequency=self.time_frequencies[1],
                                                 min_frequency=self.time_frequencies[0]))
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
        return unet_forward(self, x, self.embed(t, y, x.shape[0], x.device))


def unet_forward(model: UNet, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """The body of :meth:`UNet.forward` for a given conditioning vector ``emb`` (B, emb_dim) (see :meth:`UNet.embed`).

    ``conv_in``; each down block in turn, keeping its skip (the map before its
    downsampling); the two middle blocks; each up block in turn, receiving the
    skip of the down block at its own resolution, i.e. the skips in reverse
    order (last kept, first used); then GroupNorm, SiLU and ``conv_out``.
    """
    if x.dim() != 4 or x.shape[1] != model.in_channels:
        raise ValueError(f"expected x of shape (B, {model.in_channels}, H, W), got {tuple(x.shape)}")
    h = model.conv_in(x)
    skips = []
    for block in model.down:
        h, skip = block(h, emb)
        skips.append(skip)
    for block in model.mid:
        h = block(h, emb)
    for block in model.up:
        h = block(h, skips.pop(), emb)
    return model.conv_out(F.silu(model.norm_out(h)))


# ---------------------------------------------------------------------------------------------------------------
# Looking inside: shapes by conv arithmetic, shapes and activations recorded by forward hooks, a skip ablation
# ---------------------------------------------------------------------------------------------------------------
def _check_shape(shape: Sequence[int], name: str) -> Shape:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 4 or any(s < 1 for s in shape):
        raise ValueError(f"{name} must be a (B, C, H, W) shape of positive ints, got {shape}")
    return shape


def _check_channels(channels: int) -> int:
    if int(channels) != channels or channels < 1:
        raise ValueError(f"out_channels must be a positive int, got {channels!r}")
    return int(channels)


def down_block_shapes(shape: Sequence[int], out_channels: int, downsample: bool = True) -> tuple[Shape, Shape]:
    """Output shapes of a :class:`DownBlock` for an input of ``shape`` (B, C, H, W): ``(output, skip)``.

    The residual blocks keep the resolution and give ``out_channels``; that map is
    the skip. The stride-2 3x3 convolution with padding 1 then gives
    :math:`H' = \\lfloor (H + 2 - 3) / 2 \\rfloor + 1 = \\lceil H / 2 \\rceil` (7 -> 4),
    and the same for W. Without ``downsample`` the output equals the skip.
    """
    batch, _, height, width = _check_shape(shape, "shape")
    out_channels = _check_channels(out_channels)
    skip = (batch, out_channels, height, width)
    if not downsample:
        return skip, skip
    return (batch, out_channels, (height - 1) // 2 + 1, (width - 1) // 2 + 1), skip


def up_block_shapes(shape: Sequence[int], skip_shape: Sequence[int], out_channels: int,
                    upsample: bool = True) -> tuple[Shape, Shape]:
    """Shapes inside an :class:`UpBlock`: ``(concatenated, output)``.

    With ``upsample`` the input (B, C, h, w) is resized to the skip's height and
    width; without it the two must already agree. The skip (B, C_s, H, W) is
    concatenated along the channels, (B, C + C_s, H, W), and the residual
    blocks map that to (B, ``out_channels``, H, W).
    """
    batch, ch, height, width = _check_shape(shape, "shape")
    skip_batch, skip_ch, skip_h, skip_w = _check_shape(skip_shape, "skip_shape")
    out_channels = _check_channels(out_channels)
    if batch != skip_batch:
        raise ValueError(f"the input and the skip must have the same batch size, got {batch} and {skip_batch}")
    if not upsample and (height, width) != (skip_h, skip_w):
        raise ValueError(f"without upsampling the input's size {height}x{width} must equal the skip's "
                         f"{skip_h}x{skip_w}")
    return (batch, ch + skip_ch, skip_h, skip_w), (batch, out_channels, skip_h, skip_w)


def shape_plan(shape: Sequence[int], channels: Sequence[int], out_channels: int | None = None,
               emb_dim: int = 128, mid_channels: int | None = None,
               downsample_last: bool = False) -> list[tuple[str, Shape]]:
    """The shape after every stage of ``UNet(shape[1], channels, emb_dim=emb_dim, ...)``, computed without running it.

    Chains :func:`down_block_shapes` and :func:`up_block_shapes`; the stage names are
    those of :func:`describe_shapes`, so that the two lists can be compared entry by entry.
    ``mid_channels`` and ``downsample_last`` mean what they mean for :class:`UNet`
    (:func:`unet_shape_plan` reads all of them off a built model).
    """
    batch, in_channels, height, width = _check_shape(shape, "shape")
    channels = tuple(int(c) for c in channels)
    if not channels or any(c < 1 for c in channels):
        raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels}")
    if mid_channels is not None and (int(mid_channels) != mid_channels or mid_channels < 1):
        raise ValueError(f"mid_channels must be None or a positive int, got {mid_channels!r}")
    mid = channels[-1] if mid_channels is None else int(mid_channels)
    plan: list[tuple[str, Shape]] = [("input", (batch, in_channels, height, width)),
                                     ("noise embedding", (batch, channels[0])), ("embedding MLP", (batch, emb_dim)),
                                     ("conv_in", (batch, channels[0], height, width))]
    current, skips = plan[-1][1], []
    for level, ch in enumerate(channels):
        current, skip = down_block_shapes(current, ch, downsample=level < len(channels) - 1 or downsample_last)
        plan += [(f"down{level} skip", skip), (f"down{level}", current)]
        skips.append(skip)
    current = (current[0], mid, current[2], current[3])
    plan += [(f"mid{i}", current) for i in range(2)]
    for level in reversed(range(len(channels))):
        concatenated, current = up_block_shapes(current, skips[level], channels[level],
                                                upsample=level < len(channels) - 1 or downsample_last)
        plan += [(f"up{level} concat", concatenated), (f"up{level}", current)]
    plan.append(("conv_out", (batch, out_channels or in_channels, height, width)))
    return plan


def unet_shape_plan(model: "UNet", shape: Sequence[int]) -> list[tuple[str, Shape]]:
    """:func:`shape_plan` for the configuration of a built ``model`` and an input of ``shape`` (B, C, H, W)."""
    if not isinstance(model, UNet):
        raise TypeError(f"expected a UNet, got {type(model).__name__}")
    shape = _check_shape(shape, "shape")
    if shape[1] != model.in_channels:
        raise ValueError(f"the model expects {model.in_channels} input channels, got shape {shape}")
    return shape_plan(shape, model.channels, out_channels=model.conv_out.out_channels,
                      emb_dim=model.time_mlp[-1].out_features, mid_channels=model.mid_channels,
                      downsample_last=model.downsample_last)


def resolution_of_blocks(model: "UNet", shape: Sequence[int]) -> list[tuple[str, int, int]]:
    """``(name, height, width)`` for every :class:`ResidualBlock` of ``model``, in the order they run on ``shape``.

    Names are the module paths (``down.2.blocks.0``, ``mid.1``, ...). Computed from
    :func:`unet_shape_plan`, without running the network: the blocks of a down
    block run at its skip's size, the middle at the coarsest size, and those of
    an up block at its output's size.
    """
    plan = dict(unet_shape_plan(model, shape))
    rows = []
    levels = len(model.down)
    for level, block in enumerate(model.down):
        _, _, h, w = plan[f"down{level} skip"]
        rows += [(f"down.{level}.blocks.{i}", h, w) for i in range(len(block.blocks))]
    for i in range(len(model.mid)):
        _, _, h, w = plan[f"mid{i}"]
        rows.append((f"mid.{i}", h, w))
    for j, block in enumerate(model.up):
        _, _, h, w = plan[f"up{levels - 1 - j}"]
        rows += [(f"up.{j}.blocks.{i}", h, w) for i in range(len(block.blocks))]
    return rows


def trace_stages(model: UNet, x: torch.Tensor, t: torch.Tensor | float,
                 y: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Run ``model(x, t, y)`` once and return what every stage produced, in the order it ran.

    Forward hooks (removed again afterwards) record the sinusoidal noise
    embedding (the input of the time MLP), the embedding vector, ``conv_in``,
    each down block's skip and output, the middle blocks, each up block's
    concatenated input and output (named by resolution level, so ``up{i}``
    receives ``down{i} skip``) and ``conv_out``. Runs without gradients; the
    tensors are detached. Stage names match :func:`shape_plan`.
    """
    if not isinstance(model, UNet):
        raise TypeError(f"expected a UNet, got {type(model).__name__}")
    records: dict[str, torch.Tensor] = {"input": x.detach()}
    levels = len(model.down)

    # A forward hook that returns something replaces the module's output, so every hook here returns None.
    def record(name: str, part: int | None = None):
        def hook(module: nn.Module, inputs: tuple, output) -> None:
            records[name] = (output if part is None else output[part]).detach()
        return hook

    def record_input(name: str):
        def hook(module: nn.Module, inputs: tuple, *output) -> None:
            records[name] = inputs[0].detach()
        return hook

    handles = [model.time_mlp.register_forward_pre_hook(record_input("noise embedding")),
               model.time_mlp.register_forward_hook(record("embedding MLP")),
               model.conv_in.register_forward_hook(record("conv_in"))]
    for level, block in enumerate(model.down):
        handles += [block.register_forward_hook(record(f"down{level} skip", part=1)),
                    block.register_forward_hook(record(f"down{level}", part=0))]
    handles += [block.register_forward_hook(record(f"mid{i}")) for i, block in enumerate(model.mid)]
    for j, block in enumerate(model.up):
        level = levels - 1 - j
        handles += [block.blocks[0].register_forward_pre_hook(record_input(f"up{level} concat")),
                    block.register_forward_hook(record(f"up{level}"))]
    handles.append(model.conv_out.register_forward_hook(record("conv_out")))
    try:
        with torch.no_grad():
            model(x, t, y)
    finally:
        for handle in handles:
            handle.remove()
    return records


def describe_shapes(model: UNet, x: torch.Tensor, t: torch.Tensor | float,
                    y: torch.Tensor | None = None) -> list[tuple[str, Shape]]:
    """``(stage, shape)`` for every stage of one forward pass (see :func:`trace_stages`)."""
    return [(name, tuple(value.shape)) for name, value in trace_stages(model, x, t, y).items()]



def cost_by_resolution(model: UNet, x: torch.Tensor, t: torch.Tensor | float,
                       y: torch.Tensor | None = None) -> dict[str, dict[str, int]]:
    """Parameters and convolution work of ``model`` grouped by the resolution each layer's output has.

    Runs ``model(x, t, y)`` once with forward hooks on every layer without
    sub-modules. A layer whose output is a feature map (B, C, H, W) counts
    towards ``"HxW"``; the layers that act on the conditioning vector (the
    noise MLP, the label embedding and each block's projection of it) count
    towards ``"vector"``. ``macs`` are the multiply-accumulates of the
    convolutions for the first example: :math:`k_h k_w C_{in} C_{out} H W`
    each. Returns ``{key: {"parameters": n, "macs": m}}``, finest resolution first.
    """
    if not isinstance(model, UNet):
        raise TypeError(f"expected a UNet, got {type(model).__name__}")
    costs: dict[str, dict[str, int]] = {}

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        key = f"{output.shape[-2]}x{output.shape[-1]}" if output.dim() == 4 else "vector"
        entry = costs.setdefault(key, {"parameters": 0, "macs": 0})
        entry["parameters"] += sum(p.numel() for p in module.parameters(recurse=False))
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            entry["macs"] += output[0].numel() * (module.in_channels // module.groups) * kh * kw

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook) for m in leaves]
    try:
        with torch.no_grad():
            model(x, t, y)
    finally:
        for handle in handles:
            handle.remove()
    if sum(c["parameters"] for c in costs.values()) != sum(p.numel() for p in model.parameters()):
        raise RuntimeError("a layer with parameters did not run in the forward pass")

    def order(key: str) -> tuple[int, int]:
        return (1, 0) if key == "vector" else (0, -int(key.split("x")[0]) * int(key.split("x")[1]))
    return {key: costs[key] for key in sorted(costs, key=order)}

@contextlib.contextmanager
def skips_disabled(model: UNet) -> Iterator[UNet]:
    """Within the block, every skip connection of ``model`` carries zeros (an ablation).

    The up path then sees only what came through the coarsest resolution, as in
    a plain encoder-decoder; the parameter count and all shapes are unchanged.
    Works for training and evaluation alike; the hooks are removed on exit.
    """
    if not isinstance(model, UNet):
        raise TypeError(f"expected a UNet, got {type(model).__name__}")
    handles = [block.register_forward_hook(lambda module, inputs, output: (output[0], torch.zeros_like(output[1])))
               for block in model.down]
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()

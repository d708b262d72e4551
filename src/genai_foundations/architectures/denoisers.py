"""Denoisers for data that is not an image: a temporal 1-D convolution network for trajectories.

A trajectory of ``horizon`` steps with ``dim`` numbers per step (a position,
a state, an action) is treated like a one-dimensional image with ``dim``
channels, as Diffuser (Janner et al., 2022) and Diffusion Policy (Chi et al.,
2024) do: convolutions along time let neighbouring way points agree, and
dilated convolutions let the whole path see itself, so that the network can
decide "above or below the obstacle" for the entire trajectory at once.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.architectures.unet import group_norm, sinusoidal_embedding


class TemporalResidualBlock(nn.Module):
    """Two dilated 1-D convolutions along time, the noise embedding added in between, plus the input."""

    def __init__(self, channels: int, emb_dim: int, kernel_size: int = 5, dilation: int = 1, groups: int = 8):
        super().__init__()
        padding = dilation * (kernel_size - 1) // 2
        self.norm1 = group_norm(channels, groups)
        self.conv1 = nn.Conv1d(channels, channels, kernel_size, padding=padding, dilation=dilation)
        self.emb = nn.Linear(emb_dim, channels)
        self.norm2 = group_norm(channels, groups)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, padding=padding, dilation=dilation)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.emb(F.silu(emb))[:, :, None]  # broadcast over time
        h = self.conv2(F.silu(self.norm2(h)))
        return x + h


class TrajectoryDenoiser(nn.Module):
    """Noise predictor :math:`\\varepsilon_\\theta(\\tau_t, t)` for trajectories :math:`\\tau` of shape (B, horizon, dim).

    A 1x1 convolution lifts the ``dim`` coordinates to ``channels``; residual
    blocks with dilations 1, 2, 4, ... (one per block) mix information along
    time; a zero-initialised 1x1 convolution maps back to ``dim``. The time
    input ``t`` (a float per example) enters through
    :func:`~genai_foundations.architectures.unet.sinusoidal_embedding` and an
    MLP; its meaning is the caller's (the DDPM sampler passes t/T, 1 = pure
    noise). ``forward(x, t, y=None)`` returns a tensor of the shape of ``x``.

    With ``cond_dim > 0`` the network also reads a per-way-point condition
    ``y`` of shape (B, horizon, cond_dim), concatenated to its input channels
    (``y=None`` means all zeros). The DDPM chapter passes the way points a plan
    must keep, with a mask (:func:`~genai_foundations.data.trajectories.waypoint_condition`),
    the way inpainting models see the known part of an image.
    """

    def __init__(self, dim: int = 2, channels: int = 64, emb_dim: int = 64, num_blocks: int = 4,
                 kernel_size: int = 5, cond_dim: int = 0):
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd (so that the length is kept), got {kernel_size}")
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be at least 1, got {num_blocks}")
        if cond_dim < 0:
            raise ValueError(f"cond_dim must be non-negative, got {cond_dim}")
        self.dim = dim
        self.cond_dim = cond_dim
        self.emb_dim = emb_dim
        self.time_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.conv_in = nn.Conv1d(dim + cond_dim, channels, 1)
        self.blocks = nn.ModuleList(
            TemporalResidualBlock(channels, emb_dim, kernel_size, dilation=2**i) for i in range(num_blocks)
        )
        self.norm_out = group_norm(channels, 8)
        self.conv_out = nn.Conv1d(channels, dim, 1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"expected trajectories of shape (B, horizon, {self.dim}), got {tuple(x.shape)}")
        if self.cond_dim == 0 and y is not None:
            raise ValueError("this TrajectoryDenoiser is unconditional (cond_dim=0); pass y=None")
        if self.cond_dim > 0:
            if y is None:
                y = torch.zeros(*x.shape[:2], self.cond_dim, device=x.device, dtype=x.dtype)
            elif y.shape != (*x.shape[:2], self.cond_dim):
                raise ValueError(f"expected a condition y of shape {(*x.shape[:2], self.cond_dim)}, got {tuple(y.shape)}")
            x = torch.cat([x, y.to(x.dtype)], dim=-1)
        t = torch.as_tensor(t, device=x.device, dtype=torch.float32)
        if t.dim() == 0:
            t = t.expand(x.shape[0])
        emb = self.time_mlp(sinusoidal_embedding(t, self.emb_dim))
        h = self.conv_in(x.transpose(1, 2))  # (B, channels, horizon): time is the convolution axis
        for block in self.blocks:
            h = block(h, emb)
        return self.conv_out(F.silu(self.norm_out(h))).transpose(1, 2)

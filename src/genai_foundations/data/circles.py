r"""Circle images rendered on the fly (chapter 5's motivating example for autoencoders).

An image is a disc described by three numbers :math:`(c_x, c_y, r)`: its centre and radius. A pixel
at :math:`(u, v)` has intensity :math:`\sigma\big((r - \sqrt{(u - c_x)^2 + (v - c_y)^2}) / w\big)`, a
disc with an edge about ``w`` pixels soft, so that the image changes smoothly with the three numbers.
Values are in [0, 1]. :func:`disc_fit` measures how circular an image is.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Circles:
    """Rendered discs: ``images`` (N, 1, size, size) in [0, 1] and ``params`` (N, 3) = (c_x, c_y, r) in pixels."""

    images: torch.Tensor
    params: torch.Tensor

    def __len__(self) -> int:
        return len(self.images)


def render_circles(params: torch.Tensor, size: int = 16, edge: float = 0.5) -> torch.Tensor:
    """Images (N, 1, size, size) of the discs ``params`` (N, 3) = (c_x, c_y, r), pixel centres at 0 .. size-1."""
    params = torch.as_tensor(params, dtype=torch.float32)
    if params.dim() != 2 or params.shape[1] != 3:
        raise ValueError(f"params must have shape (N, 3) = (c_x, c_y, r), got {tuple(params.shape)}")
    if size < 2 or edge <= 0:
        raise ValueError(f"need size >= 2 and edge > 0, got {size}, {edge}")
    axis = torch.arange(size, dtype=torch.float32)
    u, v = axis[None, None, :], axis[None, :, None]                       # u: column (x), v: row (y)
    cx, cy, r = (params[:, i, None, None] for i in range(3))
    dist = torch.sqrt((u - cx) ** 2 + (v - cy) ** 2)
    return torch.sigmoid((r - dist) / edge)[:, None]


def make_circles(n: int, size: int = 16, radius: tuple[float, float] = (2.0, 5.0),
                 generator: torch.Generator | None = None) -> Circles:
    """``n`` random discs that fit inside the image: radius uniform in ``radius``, centre uniform where it fits."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    lo, hi = radius
    if not 0 < lo <= hi or 2 * hi + 1 > size:
        raise ValueError(f"radius range {radius} does not fit a {size}x{size} image")
    u = torch.rand(n, 3, generator=generator)
    r = lo + (hi - lo) * u[:, 2]
    margin = r + 0.5
    cx = margin + (size - 1 - 2 * margin) * u[:, 0]
    cy = margin + (size - 1 - 2 * margin) * u[:, 1]
    params = torch.stack([cx, cy, r], dim=1)
    return Circles(render_circles(params, size), params)


def disc_fit(images: torch.Tensor, edge: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """How disc-like each image (N, 1, H, W) with values in [0, 1] is: ``(error, params)``.

    The best-matching disc is found from the image's moments: its area (the sum of the pixel
    values, clamped to [0, 1]) gives the radius :math:`r = \\sqrt{A/\\pi}` and its centre of mass the
    centre. ``error`` (N,) is the root-mean-square difference between the image and that disc
    rendered by :func:`render_circles`; ``params`` (N, 3) is the fitted (c_x, c_y, r).
    """
    if images.dim() != 4 or images.shape[1] != 1 or images.shape[2] != images.shape[3]:
        raise ValueError(f"expected square single-channel images (N, 1, S, S), got {tuple(images.shape)}")
    x = images.detach().float().clamp(0, 1)[:, 0]
    size = x.shape[-1]
    axis = torch.arange(size, dtype=torch.float32)
    mass = x.sum(dim=(1, 2)).clamp_min(1e-6)
    cx = (x * axis[None, None, :]).sum(dim=(1, 2)) / mass
    cy = (x * axis[None, :, None]).sum(dim=(1, 2)) / mass
    r = torch.sqrt(mass / torch.pi)
    params = torch.stack([cx, cy, r], dim=1)
    fitted = render_circles(params, size, edge)[:, 0]
    return (x - fitted).pow(2).mean(dim=(1, 2)).sqrt(), params

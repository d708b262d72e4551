"""2-D toy distributions generated on the fly (float32 tensors of shape (n, 2)).

Each generator takes a ``torch.Generator`` (or a seed) so that a notebook can
draw the same points twice.
"""

from __future__ import annotations

import math
from typing import Callable

import torch


def _generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(0 if seed is None else int(seed))


def _check_n(n: int) -> None:
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")


def make_moons(n: int, noise: float = 0.05, seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """Two interleaved half circles, centred and scaled to roughly unit variance."""
    _check_n(n)
    g = _generator(seed)
    n_upper = n // 2
    angle = torch.rand(n, generator=g) * math.pi
    upper = torch.stack([torch.cos(angle[:n_upper]), torch.sin(angle[:n_upper])], dim=1)
    lower = torch.stack([1 - torch.cos(angle[n_upper:]), 0.5 - torch.sin(angle[n_upper:])], dim=1)
    points = torch.cat([upper, lower]) + noise * torch.randn(n, 2, generator=g)
    points = (points - torch.tensor([0.5, 0.25])) / torch.tensor([0.87, 0.5])
    return points[torch.randperm(n, generator=g)]


def make_spirals(n: int, noise: float = 0.05, turns: float = 1.5, seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """Two intertwined spirals (the classic 'two-spirals' problem) in about [-2, 2]^2."""
    _check_n(n)
    g = _generator(seed)
    radius = torch.sqrt(torch.rand(n, generator=g))
    angle = radius * turns * 2 * math.pi
    sign = torch.where(torch.arange(n) % 2 == 0, 1.0, -1.0)
    points = sign[:, None] * torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1) * 2
    points = points + noise * torch.randn(n, 2, generator=g)
    return points[torch.randperm(n, generator=g)]


def make_checkerboard(n: int, squares: int = 4, seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """Uniform points on the dark squares of a ``squares x squares`` board spanning [-2, 2]^2."""
    _check_n(n)
    if squares < 2:
        raise ValueError(f"squares must be at least 2, got {squares}")
    g = _generator(seed)
    cells = [(i, j) for i in range(squares) for j in range(squares) if (i + j) % 2 == 0]
    pick = torch.randint(len(cells), (n,), generator=g)
    corner = torch.tensor(cells, dtype=torch.float32)[pick]
    size = 4.0 / squares
    return -2 + (corner + torch.rand(n, 2, generator=g)) * size


def make_gaussian_ring(
    n: int, modes: int = 8, radius: float = 2.0, std: float = 0.05, seed: int | torch.Generator | None = 0
) -> torch.Tensor:
    """A mixture of ``modes`` equal Gaussians on a circle (the '8 Gaussians' benchmark)."""
    _check_n(n)
    if modes < 1:
        raise ValueError(f"modes must be at least 1, got {modes}")
    g = _generator(seed)
    which = torch.randint(modes, (n,), generator=g).float()
    angle = 2 * math.pi * which / modes
    centres = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return centres + std * torch.randn(n, 2, generator=g)


_GENERATORS: dict[str, Callable[..., torch.Tensor]] = {
    "moons": make_moons,
    "spirals": make_spirals,
    "checkerboard": make_checkerboard,
    "gaussian_ring": make_gaussian_ring,
}


def make_toy2d(name: str, n: int, seed: int | torch.Generator | None = 0, **kwargs) -> torch.Tensor:
    """Draw ``n`` points from the named 2-D toy distribution."""
    try:
        generator = _GENERATORS[name]
    except KeyError:
        raise ValueError(f"unknown 2-D data set {name!r}; expected one of {sorted(_GENERATORS)}") from None
    return generator(n, seed=seed, **kwargs)

"""A synthetic planning data set: smooth 2-D paths that go around an obstacle.

Every path runs from a start near (-0.8, 0) to a goal near (0.8, 0). A disc
(the obstacle, :data:`OBSTACLE`) sits in between, on the straight line, so a
path must pass either *above* or *below* it: the distribution of paths has
two modes of equal weight. The average of the two modes is the straight line
straight through the obstacle, which is why a model that regresses to the
mean fails here and a generative model that samples one mode at a time
succeeds. The robotics section of the DDPM chapter trains a diffusion model
on these paths (a toy version of Diffuser / Diffusion Policy).

Paths are float32 tensors of shape (n, horizon, 2): ``horizon`` way points
of (x, y) coordinates, in the order the robot visits them. All coordinates
lie inside [-1, 1], the range diffusion models expect (Diffusion Policy
likewise normalises its actions to [-1, 1]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Obstacle:
    """A disc the paths must avoid."""

    center: tuple[float, float] = (0.0, 0.0)
    radius: float = 0.25


OBSTACLE = Obstacle()
START = (-0.8, 0.0)
GOAL = (0.8, 0.0)


def _generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    return torch.Generator().manual_seed(0 if seed is None else int(seed))


def make_trajectories(n: int, horizon: int = 32, endpoint_noise: float = 0.03, wiggle: float = 0.03,
                      seed: int | torch.Generator | None = 0,
                      endpoint_spread: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``n`` paths around :data:`OBSTACLE`; return them (n, horizon, 2) and their side (n,).

    Each path is the straight line from a jittered start to a jittered goal,
    bent sideways by :math:`\\pm h \\sin(\\pi s)` (s in [0, 1] along the path,
    sign chosen by a fair coin), plus a small smooth wiggle
    :math:`\\sum_{k=2,3} a_k \\sin(k \\pi s)` and an uneven pace along the way.
    ``endpoint_spread`` moves the start and the goal up or down, independently,
    by an offset uniform in [-spread, spread] (at most 0.2), so that a planner
    conditioned on its start and goal has something to adapt to. The height h
    is uniform in [0.4, 0.6]; with a spread it becomes :math:`h - \\text{side} \\cdot m`, m the
    mean height of start and goal, so that the bend still clears the
    obstacle's centre by about as much as without a spread.
    The side is +1 for paths above the obstacle and -1 for paths below.
    """
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"n must be a positive int, got {n!r}")
    if not isinstance(horizon, int) or horizon < 4:
        raise ValueError(f"horizon must be an int of at least 4, got {horizon!r}")
    if not 0 <= endpoint_spread <= 0.2:
        raise ValueError(f"endpoint_spread must lie in [0, 0.2], got {endpoint_spread!r}")
    g = _generator(seed)
    s = torch.linspace(0, 1, horizon)[None, :]                                     # (1, H)
    pace = 0.08 * (2 * torch.rand(n, 1, generator=g) - 1)                           # uneven speed
    s_warped = s + pace * torch.sin(math.pi * s)
    start = torch.tensor(START) + endpoint_noise * torch.randn(n, 2, generator=g)
    goal = torch.tensor(GOAL) + endpoint_noise * torch.randn(n, 2, generator=g)
    side = torch.where(torch.rand(n, generator=g) < 0.5, 1.0, -1.0)
    height = 0.4 + 0.2 * torch.rand(n, generator=g)
    if endpoint_spread > 0:  # drawn only then, so that the default data set is unchanged
        offsets = endpoint_spread * (2 * torch.rand(n, 2, generator=g) - 1)
        start[:, 1] += offsets[:, 0]
        goal[:, 1] += offsets[:, 1]
        height = height - side * (start[:, 1] + goal[:, 1]) / 2
    a = wiggle * torch.randn(n, 2, generator=g)
    line = start[:, None, :] + s_warped[..., None] * (goal - start)[:, None, :]     # (n, H, 2)
    bend = (side * height)[:, None] * torch.sin(math.pi * s_warped)
    bend = bend + a[:, :1] * torch.sin(2 * math.pi * s_warped) + a[:, 1:] * torch.sin(3 * math.pi * s_warped)
    paths = line + torch.stack([torch.zeros_like(bend), bend], dim=-1)
    return paths.float(), side.long()


def _check_paths(paths: torch.Tensor) -> None:
    if paths.dim() != 3 or paths.shape[-1] != 2:
        raise ValueError(f"expected paths of shape (n, horizon, 2), got {tuple(paths.shape)}")


def path_side(paths: torch.Tensor, obstacle: Obstacle = OBSTACLE) -> torch.Tensor:
    """+1 where a path passes above the obstacle's centre, -1 where below (judged at the way point closest in x)."""
    _check_paths(paths)
    closest = (paths[..., 0] - obstacle.center[0]).abs().argmin(dim=1)
    y = paths[torch.arange(len(paths)), closest, 1]
    return torch.where(y >= obstacle.center[1], 1, -1)


def collides(paths: torch.Tensor, obstacle: Obstacle = OBSTACLE) -> torch.Tensor:
    """True for each path with a way point inside the obstacle or a segment crossing it (checked on a fine grid)."""
    _check_paths(paths)
    fine = torch.nn.functional.interpolate(paths.transpose(1, 2).float(), scale_factor=8, mode="linear",
                                           align_corners=True).transpose(1, 2)
    centre = torch.tensor(obstacle.center, dtype=fine.dtype)
    return ((fine - centre).norm(dim=-1) < obstacle.radius).any(dim=1)


def plot_trajectories(paths: torch.Tensor, ax=None, obstacle: Obstacle = OBSTACLE, title: str | None = None,
                      max_paths: int = 100, color_by_side: bool = True, show_endpoints: bool = True):
    """Draw paths (n, horizon, 2) as lines with the obstacle and (``show_endpoints``) the nominal start and goal."""
    import matplotlib.pyplot as plt

    _check_paths(paths)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    paths = paths[:max_paths].detach().float().cpu()
    sides = path_side(paths, obstacle)
    for path, side in zip(paths, sides):
        color = ("tab:blue" if side > 0 else "tab:orange") if color_by_side else "tab:gray"
        ax.plot(path[:, 0], path[:, 1], color=color, alpha=0.5, linewidth=1)
    ax.add_patch(plt.Circle(obstacle.center, obstacle.radius, color="black", alpha=0.8))
    if show_endpoints:
        ax.plot(*START, "go", markersize=7, label="start")
        ax.plot(*GOAL, "r*", markersize=10, label="goal")
    ax.set_aspect("equal")
    ax.set_xlim(-1, 1)
    ax.set_ylim(-0.85, 0.85)
    if title:
        ax.set_title(title)
    return ax


def waypoint_constraints(horizon: int, waypoints: dict[int, tuple[float, float]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed way points for inpainting: ``known`` (1, horizon, 2) and the boolean ``mask`` (1, horizon, 2).

    ``waypoints`` maps an index along the path (negative indices count from
    the end, so ``{0: start, -1: goal}`` fixes both ends) to an (x, y)
    position. Pass both to :func:`genai_foundations.algorithms.ddpm.sample`
    (``known=..., mask=...``): the sampler keeps those way points and fills in
    the rest of the path.
    """
    if not isinstance(horizon, int) or horizon < 1:
        raise ValueError(f"horizon must be a positive int, got {horizon!r}")
    known = torch.zeros(1, horizon, 2)
    mask = torch.zeros(1, horizon, 2, dtype=torch.bool)
    for index, point in waypoints.items():
        if not -horizon <= index < horizon:
            raise ValueError(f"way point index {index} is outside a path of {horizon} way points")
        known[0, index] = torch.as_tensor(point, dtype=torch.float32)
        mask[0, index] = True
    return known, mask


def jaggedness(paths: torch.Tensor) -> float:
    """Mean length of the second difference :math:`p_{k+1} - 2 p_k + p_{k-1}` along the paths: near 0 when smooth."""
    _check_paths(paths)
    return (paths[:, 2:] - 2 * paths[:, 1:-1] + paths[:, :-2]).norm(dim=-1).mean().item()


def largest_step(paths: torch.Tensor) -> torch.Tensor:
    """The longest segment :math:`\\max_k \\|p_{k+1} - p_k\\|` of each path (n,): a jump shows up here."""
    _check_paths(paths)
    return (paths[:, 1:] - paths[:, :-1]).norm(dim=-1).max(dim=1).values


def waypoint_condition(known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The condition a way-point-conditioned denoiser reads: (..., horizon, 3) = (known x, known y, 1 where fixed).

    ``known`` and ``mask`` as from :func:`waypoint_constraints` (a way point is
    either fixed in both coordinates or free); free way points are all zeros.
    """
    if known.shape != mask.shape or known.shape[-1] != 2:
        raise ValueError(f"known and mask must have the same shape (..., horizon, 2), got {tuple(known.shape)} "
                         f"and {tuple(mask.shape)}")
    fixed = mask.to(known.dtype)
    return torch.cat([known * fixed, fixed[..., :1]], dim=-1)


def random_waypoint_conditions(paths: torch.Tensor, generator: torch.Generator | None = None,
                               p_free: float = 0.5, p_via: float = 0.0) -> torch.Tensor:
    """Training conditions for a way-point-conditioned denoiser, one per path (n, horizon, 3).

    Each path is, independently, free (no way point fixed) with probability
    ``p_free``, and otherwise fixed at its start and its goal; with
    probability ``p_via`` one interior way point, chosen uniformly, is fixed
    as well. The fixed values are the path's own, so the model learns to
    complete a path from the given way points (as an inpainting model learns
    to complete an image), and the free case keeps it an unconditional model.
    """
    _check_paths(paths)
    if not (0 <= p_free <= 1 and 0 <= p_via <= 1):
        raise ValueError(f"p_free and p_via must lie in [0, 1], got {p_free}, {p_via}")
    n, horizon, _ = paths.shape
    where = getattr(generator, "device", "cpu")
    ends = (torch.rand(n, generator=generator, device=where) >= p_free).to(paths.device)
    via = ends & (torch.rand(n, generator=generator, device=where) < p_via).to(paths.device)
    interior = torch.randint(1, horizon - 1, (n,), generator=generator, device=where).to(paths.device)
    mask = torch.zeros(n, horizon, dtype=torch.bool, device=paths.device)
    mask[ends, 0] = True
    mask[ends, -1] = True
    mask[via.nonzero()[:, 0], interior[via]] = True
    return waypoint_condition(paths, mask[..., None].expand(n, horizon, 2))

"""A flow-matching action head on a toy 2-D reaching task (chapter 19, robotics foundation models).

The robot is a point :math:`p \\in [-1, 1]^2` that must reach a goal :math:`g`. A policy emits an *action chunk*
:math:`A = (a_1, \\dots, a_H)` of :math:`H` displacements, executed open loop before the next observation.
The demonstrations move towards the goal with steps of at most ``max_step`` and a sideways wiggle whose sign is
random (so the chunks given an observation have two modes, as real demonstrations often do).

The action head is GR00T N1's: the noised chunk :math:`A^\\tau = \\tau A + (1-\\tau)\\varepsilon`,
:math:`\\tau \\in [0, 1]`, a network :math:`V_\\theta(o, A^\\tau, \\tau)` regressed on the velocity
:math:`\\frac{d A^\\tau}{d\\tau} = A - \\varepsilon`, and :math:`K` Euler steps
:math:`A^{\\tau + 1/K} = A^\\tau + \\frac1K V_\\theta(o, A^\\tau, \\tau)` from :math:`A^0 = \\varepsilon`.
``target_sign=-1`` trains on :math:`\\varepsilon - A` instead, the sign written in the course notes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from genai_foundations.algorithms.flow_matching import linear_path_sample


def expert_chunk(position: torch.Tensor, goal: torch.Tensor, horizon: int = 8, max_step: float = 0.1,
                 wiggle: float = 0.3, side: torch.Tensor | None = None) -> torch.Tensor:
    """The demonstrator's action chunk, shape (B, horizon, 2), for positions and goals of shape (B, 2).

    Step :math:`h` is the straight step :math:`s_h = (g - p_h)\\min(1, m/\\|g - p_h\\|)` (``m = max_step``) plus
    ``side * wiggle * |s_h| * sin(2 pi h / horizon)`` along the normal of :math:`g - p`; the wiggle sums to zero over
    a chunk while the robot moves at full speed. ``side`` is +-1 per example (None: +1 for all).
    """
    if position.shape != goal.shape or position.dim() != 2 or position.shape[1] != 2:
        raise ValueError(f"position and goal must both have shape (B, 2), got {tuple(position.shape)}, {tuple(goal.shape)}")
    side = torch.ones(len(position), dtype=position.dtype, device=position.device) if side is None else side
    p = position.clone()
    direction = goal - position
    normal = torch.stack([-direction[:, 1], direction[:, 0]], dim=1)
    normal = normal / normal.norm(dim=1, keepdim=True).clamp_min(1e-8)
    steps = []
    for h in range(horizon):
        gap = goal - p
        dist = gap.norm(dim=1, keepdim=True)
        straight = gap * torch.clamp(max_step / dist.clamp_min(1e-8), max=1.0)
        bump = side[:, None] * wiggle * straight.norm(dim=1, keepdim=True) * math.sin(2 * math.pi * h / horizon)
        step = straight + bump * normal
        steps.append(step)
        p = p + straight
    return torch.stack(steps, dim=1)


def demonstrations(n: int, generator: torch.Generator, horizon: int = 8, max_step: float = 0.1,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` demonstrations: observations ``o = (p, g)`` (n, 4) and expert chunks (n, horizon, 2)."""
    pg = torch.rand(n, 4, generator=generator) * 2 - 1
    side = torch.randint(0, 2, (n,), generator=generator).float() * 2 - 1
    chunks = expert_chunk(pg[:, :2], pg[:, 2:], horizon, max_step, side=side)
    return pg.to(device), chunks.to(device)


class ActionHead(nn.Module):
    """:math:`V_\\theta(o, A^\\tau, \\tau)`: an MLP on the observation, the flattened noised chunk and :math:`\\tau`.

    Chunks are scaled by ``1/action_scale`` inside the head's flow, so data and noise have comparable size.
    """

    def __init__(self, horizon: int = 8, obs_dim: int = 4, hidden: int = 128, action_scale: float = 0.1):
        super().__init__()
        self.horizon, self.action_scale = horizon, action_scale
        self.net = nn.Sequential(nn.Linear(obs_dim + 2 * horizon + 1, hidden), nn.SiLU(),
                                 nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(),
                                 nn.Linear(hidden, 2 * horizon))

    def forward(self, obs: torch.Tensor, chunk: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        """The velocity (B, horizon, 2) at the noised (scaled) chunk ``chunk`` (B, horizon, 2) and times ``tau`` (B,)."""
        b = chunk.shape[0]
        x = torch.cat([obs, chunk.reshape(b, -1), tau.reshape(b, 1).to(chunk.dtype)], dim=1)
        return self.net(x).reshape(b, self.horizon, 2)


def action_flow_loss(head: ActionHead, obs: torch.Tensor, chunks: torch.Tensor, generator: torch.Generator | None = None,
                     target_sign: float = 1.0) -> torch.Tensor:
    """The flow-matching loss :math:`E_{\\tau,\\varepsilon}\\|V_\\theta(o, A^\\tau, \\tau) - s(A - \\varepsilon)\\|^2`.

    ``target_sign`` :math:`s = 1` is the velocity of :math:`A^\\tau = \\tau A + (1-\\tau)\\varepsilon`; :math:`s = -1`
    is the notes' :math:`\\varepsilon - A`. The pair comes from :func:`~genai_foundations.algorithms.flow_matching.linear_path_sample`.
    """
    a = chunks / head.action_scale
    eps = torch.randn(a.shape, generator=generator, device="cpu").to(a)
    tau = torch.rand(a.shape[0], generator=generator, device="cpu").to(a)
    a_tau, velocity = linear_path_sample(a, tau, eps)
    return (head(obs, a_tau, tau) - target_sign * velocity).pow(2).mean()


def euler_actions(velocity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], noise: torch.Tensor,
                  steps: int) -> torch.Tensor:
    """K-step Euler integration upward in :math:`\\tau`: :math:`A^{\\tau+1/K} = A^\\tau + \\frac1K V(A^\\tau, \\tau)`.

    ``velocity(chunk, tau)`` takes a chunk (B, ...) and a (B,) tensor of times :math:`0, 1/K, \\dots, (K-1)/K`;
    starts at :math:`A^0` = ``noise`` and returns :math:`A^1`.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    a = noise
    for k in range(steps):
        tau = torch.full((a.shape[0],), k / steps, dtype=a.dtype, device=a.device)
        a = a + velocity(a, tau) / steps
    return a


@torch.no_grad()
def sample_chunks(head: ActionHead, obs: torch.Tensor, steps: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Action chunks (B, horizon, 2) for observations (B, 4): :func:`euler_actions` from Gaussian noise, rescaled."""
    noise = torch.randn((obs.shape[0], head.horizon, 2), generator=generator, device="cpu").to(obs)
    chunk = euler_actions(lambda a, tau: head(obs, a, tau), noise, steps)
    return chunk * head.action_scale


def train_action_head(steps: int = 1500, *, batch_size: int = 256, horizon: int = 8, seed: int = 0,
                      target_sign: float = 1.0, lr: float = 2e-3, device: torch.device | str = "cpu") -> ActionHead:
    """Train an :class:`ActionHead` on fresh demonstrations every step (Adam, cosine learning rate)."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    head = ActionHead(horizon).to(device)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    for _ in range(steps):
        obs, chunks = demonstrations(batch_size, generator, horizon, device=device)
        loss = action_flow_loss(head, obs, chunks, generator, target_sign)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return head.eval()


@torch.no_grad()
def rollout(policy: Callable[[torch.Tensor], torch.Tensor], start: torch.Tensor, goal: torch.Tensor,
            chunks: int = 5) -> torch.Tensor:
    """Run ``policy(obs) -> chunk (B, H, 2)`` for ``chunks`` chunks, each executed open loop; return the path (B, 1 + chunks*H, 2)."""
    p, path = start.clone(), [start.clone()]
    for _ in range(chunks):
        chunk = policy(torch.cat([p, goal], dim=1))
        for h in range(chunk.shape[1]):
            p = p + chunk[:, h]
            path.append(p.clone())
    return torch.stack(path, dim=1)


def success_rate(paths: torch.Tensor, goal: torch.Tensor, tolerance: float = 0.1) -> float:
    """The fraction of paths whose last point lies within ``tolerance`` of the goal."""
    return float(((paths[:, -1] - goal).norm(dim=1) < tolerance).float().mean())

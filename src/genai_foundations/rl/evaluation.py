"""Evaluation episodes and the training logs every ``train_*`` function returns.

A policy is evaluated on ``episodes`` fresh episodes, run side by side in a
vector environment seeded apart from training, acting deterministically (the
most likely action, or the mean action); the score is the undiscounted return
:math:`\\sum_t r_t` of each episode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .envs import make_vector_env, space_sizes


@dataclass
class EpisodeLog:
    """The undiscounted return of every training episode and the environment step at which it ended."""

    steps: list[int] = field(default_factory=list)
    returns: list[float] = field(default_factory=list)

    def add(self, step: int, episode_return: float) -> None:
        self.steps.append(int(step))
        self.returns.append(float(episode_return))

    def on_grid(self, grid: np.ndarray, window: int = 10) -> np.ndarray:
        """The mean return of the last ``window`` episodes finished by each step of ``grid`` (NaN before the first)."""
        steps, returns = np.asarray(self.steps), np.asarray(self.returns)
        out = np.full(len(grid), np.nan)
        for i, g in enumerate(grid):
            done = returns[steps <= g]
            if done.size:
                out[i] = done[-window:].mean()
        return out


@dataclass
class TrainResult:
    """What a ``train_*`` function returns: the trained modules, the episode log and the timing."""

    policy: nn.Module
    log: EpisodeLog
    env_steps: int
    wall_seconds: float
    modules: dict[str, nn.Module] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_per_second(self) -> float:
        return self.env_steps / max(self.wall_seconds, 1e-9)


class Timer:
    """Wall-clock seconds of a ``with`` block (``timer.seconds``)."""

    def __enter__(self) -> "Timer":
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._t0


@torch.no_grad()
def evaluate_policy(policy: nn.Module, env_id: str, episodes: int = 10, seed: int = 10_000,
                    deterministic: bool = True, device: torch.device | str | None = None) -> np.ndarray:
    """The returns of ``episodes`` evaluation episodes of ``policy`` (a module with ``act(obs, deterministic)``).

    Episode ``i`` starts from ``reset(seed=seed + i)``. Continuous actions are
    clipped to the action bounds before they reach the environment.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be positive, got {episodes}")
    if device is None:
        device = next(policy.parameters()).device
    env = make_vector_env(env_id, episodes)
    _, _, discrete, act_limit = space_sizes(env)
    obs, _ = env.reset(seed=seed)
    totals = np.zeros(episodes)
    running = np.ones(episodes, dtype=bool)
    while running.any():
        action = policy.act(torch.as_tensor(obs, dtype=torch.float32, device=device), deterministic=deterministic)
        action = action.cpu().numpy()
        if not discrete:
            action = np.clip(action, -act_limit, act_limit)
        obs, reward, terminated, truncated, _ = env.step(action)
        totals += reward * running
        running &= ~(terminated | truncated)
    env.close()
    return totals

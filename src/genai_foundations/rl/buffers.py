"""The replay buffer of the off-policy algorithms (DDPG, TD3, SAC).

A ring buffer of transitions :math:`(s, a, r, s', \\text{term})` kept in
preallocated tensors on the training device; sampling draws a minibatch
uniformly with replacement. ``terminated`` is stored (not ``done``): a
transition cut by a time limit still bootstraps from :math:`s'`.
"""

from __future__ import annotations

import torch
from torch import Tensor


class ReplayBuffer:
    """``capacity`` transitions; once full, the oldest are overwritten first."""

    def __init__(self, obs_dim: int, act_dim: int, capacity: int, device: torch.device | str = "cpu"):
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self.capacity, self.device = int(capacity), torch.device(device)
        self.obs = torch.zeros(capacity, obs_dim, device=self.device)
        self.actions = torch.zeros(capacity, act_dim, device=self.device)
        self.rewards = torch.zeros(capacity, device=self.device)
        self.next_obs = torch.zeros(capacity, obs_dim, device=self.device)
        self.terminated = torch.zeros(capacity, device=self.device)
        self.position, self.size = 0, 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward: float, next_obs, terminated: bool) -> None:
        """Store one transition (arrays or tensors; copied into the buffer)."""
        i = self.position
        self.obs[i] = torch.as_tensor(obs, dtype=torch.float32)
        self.actions[i] = torch.as_tensor(action, dtype=torch.float32)
        self.rewards[i] = float(reward)
        self.next_obs[i] = torch.as_tensor(next_obs, dtype=torch.float32)
        self.terminated[i] = float(terminated)
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def sample(self, batch_size: int, generator: torch.Generator | None = None) -> dict[str, Tensor]:
        """A uniform minibatch: a dict with ``obs``, ``actions``, ``rewards``, ``next_obs``, ``terminated``."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = torch.randint(0, self.size, (batch_size,), generator=generator).to(self.device)
        return {"obs": self.obs[idx], "actions": self.actions[idx], "rewards": self.rewards[idx],
                "next_obs": self.next_obs[idx], "terminated": self.terminated[idx]}

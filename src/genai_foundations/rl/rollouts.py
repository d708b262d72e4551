"""On-policy data collection: ``n_steps`` steps of ``N`` environments with the current policy.

The batch is stored time first, shape ``(T, N, ...)``. For every step it keeps
the *true* next observation :math:`s_{t+1}` -- the last observation of the
episode when the step ended it, not the first observation of the next one that
the vector environment already returned -- so that
:func:`~genai_foundations.rl.returns.gae` can bootstrap a truncated episode from
:math:`V(s_{t+1})`. Values and log-probabilities are computed afterwards in one
batched pass (the policy does not change during collection).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .envs import make_vector_env, space_sizes
from .evaluation import EpisodeLog


@dataclass
class Rollout:
    """One batch of on-policy experience, time first: ``(T, N)`` or ``(T, N, dim)``."""

    obs: Tensor
    actions: Tensor
    rewards: Tensor
    next_obs: Tensor
    terminated: Tensor
    dones: Tensor


class RolloutCollector:
    """Steps a vector environment with a policy and logs finished episodes (returns and step counts)."""

    def __init__(self, env_id: str, num_envs: int, seed: int, device: torch.device | str = "cpu"):
        self.env = make_vector_env(env_id, num_envs)
        self.obs_dim, self.act_dim, self.discrete, self.act_limit = space_sizes(self.env)
        self.num_envs, self.device = num_envs, torch.device(device)
        self.env.action_space.seed(seed)
        obs, _ = self.env.reset(seed=seed)
        self.obs = obs.astype(np.float32)
        self.episode_return = np.zeros(num_envs)
        self.total_steps = 0
        self.log = EpisodeLog()

    def collect(self, policy: nn.Module, n_steps: int) -> Rollout:
        """``n_steps`` steps of every copy with ``policy.act`` (sampling, not greedy)."""
        T, N = n_steps, self.num_envs
        obs = np.zeros((T, N, self.obs_dim), np.float32)
        next_obs = np.zeros((T, N, self.obs_dim), np.float32)
        actions = np.zeros((T, N) if self.discrete else (T, N, self.act_dim), np.int64 if self.discrete else np.float32)
        rewards, terminated, dones = np.zeros((T, N), np.float32), np.zeros((T, N), bool), np.zeros((T, N), bool)
        for t in range(T):
            obs[t] = self.obs
            action = policy.act(torch.from_numpy(self.obs).to(self.device)).cpu().numpy()
            actions[t] = action
            env_action = action if self.discrete else np.clip(action, -self.act_limit, self.act_limit)
            new_obs, reward, term, trunc, info = self.env.step(env_action)
            done = term | trunc
            next_obs[t] = new_obs
            if done.any():  # same-step autoreset: the episode's last observation is in info
                for i in np.flatnonzero(done):
                    next_obs[t, i] = info["final_obs"][i]
            rewards[t], terminated[t], dones[t] = reward, term, done
            self.total_steps += N
            self.episode_return += reward
            for i in np.flatnonzero(done):
                self.log.add(self.total_steps, self.episode_return[i])
                self.episode_return[i] = 0.0
            self.obs = new_obs.astype(np.float32)
        as_tensor = lambda x: torch.from_numpy(x).to(self.device)  # noqa: E731
        return Rollout(as_tensor(obs), as_tensor(actions), as_tensor(rewards), as_tensor(next_obs),
                       as_tensor(terminated), as_tensor(dones))

    def close(self) -> None:
        self.env.close()

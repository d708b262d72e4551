"""The interaction loop shared by the off-policy algorithms (DDPG, TD3, SAC).

One environment, one step at a time: act (uniformly at random for the first
``learning_starts`` steps, then with the algorithm's exploration), store the
transition in the replay buffer, and -- once ``learning_starts`` steps are
stored -- call the algorithm's ``update`` on one uniform minibatch per
environment step. Only the update differs between the three algorithms.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from .buffers import ReplayBuffer
from .envs import make_env, space_sizes
from .evaluation import EpisodeLog, Timer


def off_policy_loop(env_id: str, total_steps: int, seed: int, device: torch.device,
                    explore: Callable[[Tensor], np.ndarray], update: Callable[[dict[str, Tensor], int], None],
                    learning_starts: int = 1000, batch_size: int = 256,
                    buffer_size: int | None = None) -> tuple[EpisodeLog, float]:
    """Run ``total_steps`` environment steps; returns the episode log and the wall-clock seconds."""
    if total_steps < 1 or learning_starts < 1 or batch_size < 1:
        raise ValueError("total_steps, learning_starts and batch_size must be positive")
    env = make_env(env_id)
    obs_dim, act_dim, discrete, act_limit = space_sizes(env)
    if discrete:
        raise ValueError(f"{env_id} has discrete actions; DDPG, TD3 and SAC need a continuous (box) action space")
    buffer = ReplayBuffer(obs_dim, act_dim, buffer_size or total_steps, device)
    generator = torch.Generator().manual_seed(seed)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    log, episode_return = EpisodeLog(), 0.0
    with Timer() as timer:
        for step in range(1, total_steps + 1):
            if step <= learning_starts:
                action = env.action_space.sample()
            else:
                action = np.clip(explore(torch.as_tensor(obs, dtype=torch.float32, device=device)), -act_limit, act_limit)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            buffer.add(obs, action, reward, next_obs, terminated)
            episode_return += float(reward)
            if terminated or truncated:
                log.add(step, episode_return)
                episode_return = 0.0
                obs, _ = env.reset()
            else:
                obs = next_obs
            if step >= learning_starts:
                update(buffer.sample(batch_size, generator), step)
    env.close()
    return log, timer.seconds

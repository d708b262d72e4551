"""Building gymnasium environments for the chapter's algorithms.

Only gymnasium's classic-control tasks are used (they need no download).
Vector environments step ``num_envs`` copies at once and reset a copy in the
same call in which its episode ends (gymnasium's ``SAME_STEP`` autoreset): the
observation returned for that copy is already the first one of its next
episode, and the last observation of the finished episode is in
``info["final_obs"]``. The on-policy collectors need that last observation to
bootstrap a value when an episode is *truncated* by a time limit.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

CLASSIC_CONTROL = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1")


def _check_env_id(env_id: str) -> None:
    if env_id not in CLASSIC_CONTROL:
        raise ValueError(f"env_id must be a classic-control task, one of {CLASSIC_CONTROL}; got {env_id!r}")


def make_env(env_id: str, seed: int | None = None) -> gym.Env:
    """One environment, seeded through its first ``reset`` (and its action space) when ``seed`` is given."""
    _check_env_id(env_id)
    env = gym.make(env_id)
    if seed is not None:
        env.reset(seed=seed)
        env.action_space.seed(seed)
    return env


def make_vector_env(env_id: str, num_envs: int) -> SyncVectorEnv:
    """``num_envs`` copies of ``env_id`` stepped together, with same-step autoreset.

    Seed it with ``env.reset(seed=seed)`` (copy ``i`` gets ``seed + i``).
    """
    _check_env_id(env_id)
    if not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be a positive int, got {num_envs!r}")
    return SyncVectorEnv([lambda: gym.make(env_id) for _ in range(num_envs)],
                         autoreset_mode=AutoresetMode.SAME_STEP)


def space_sizes(env: gym.Env | SyncVectorEnv) -> tuple[int, int, bool, float]:
    """``(obs_dim, act_dim, discrete, act_limit)`` of a (vector) environment's single copy.

    For a discrete action space ``act_dim`` is the number of actions and
    ``act_limit`` is 0; for a box it is the number of dimensions and the bound
    :math:`a_{\\max}` (the chapter's tasks have symmetric bounds).
    """
    obs_space = getattr(env, "single_observation_space", env.observation_space)
    act_space = getattr(env, "single_action_space", env.action_space)
    obs_dim = int(np.prod(obs_space.shape))
    if isinstance(act_space, gym.spaces.Discrete):
        return obs_dim, int(act_space.n), True, 0.0
    if isinstance(act_space, gym.spaces.Box):
        high = np.asarray(act_space.high, dtype=np.float64)
        if not np.allclose(act_space.low, -high) or not np.allclose(high, high.flat[0]):
            raise ValueError("the algorithms expect a box action space with equal symmetric bounds")
        return obs_dim, int(np.prod(act_space.shape)), False, float(high.flat[0])
    raise ValueError(f"unsupported action space {act_space!r}")

"""REINFORCE: the Monte-Carlo policy gradient with reward-to-go and a baseline :cite:`williams1992reinforce`.

The log-derivative trick turns the gradient of the expected return into an
expectation that can be sampled:

.. math:: \\nabla_\\theta J(\\pi_\\theta) = \\mathbb E_{\\tau\\sim\\pi_\\theta}\\Big[\\sum_t \\nabla_\\theta \\log\\pi_\\theta(a_t\\mid s_t)\\, \\Psi_t\\Big],

with :math:`\\Psi_t` one of (``weights``):

* ``"return"`` -- the whole episode's return :math:`R(\\tau)` (the simplest form);
* ``"reward_to_go"`` -- :math:`\\hat R_t`, the rewards from step ``t`` on (actions cannot
  change rewards that came before them, so the earlier terms only add noise);
* ``"reward_to_go_baseline"`` -- :math:`\\hat R_t - b`, with the batch's mean
  :math:`b` subtracted and the result divided by its standard deviation.

Each iteration samples ``episodes_per_batch`` complete episodes (run side by
side in a vector environment) and takes one gradient step on the surrogate
:math:`-\\frac1{|D|}\\sum \\log\\pi_\\theta(a_t\\mid s_t)\\Psi_t`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from .envs import make_vector_env, space_sizes
from .evaluation import EpisodeLog, Timer, TrainResult
from .networks import CategoricalPolicy
from .returns import reward_to_go

WEIGHTS = ("return", "reward_to_go", "reward_to_go_baseline")


@dataclass
class ReinforceConfig:
    """REINFORCE's hyper-parameters."""

    episodes_per_batch: int = 16
    lr: float = 1e-2
    gamma: float = 1.0
    weights: str = "reward_to_go_baseline"
    hidden: tuple[int, ...] = (32,)


def collect_episodes(env, policy: CategoricalPolicy, device: torch.device) -> list[dict[str, torch.Tensor]]:
    """Run every copy of the vector environment until its first episode ends; one dict per episode."""
    n = env.num_envs
    obs, _ = env.reset()
    trajectories: list[dict[str, list]] = [{"obs": [], "actions": [], "rewards": []} for _ in range(n)]
    running = np.ones(n, dtype=bool)
    while running.any():
        action = policy.act(torch.as_tensor(obs, dtype=torch.float32, device=device)).cpu().numpy()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        for i in np.flatnonzero(running):
            trajectories[i]["obs"].append(obs[i])
            trajectories[i]["actions"].append(action[i])
            trajectories[i]["rewards"].append(reward[i])
        running &= ~(terminated | truncated)
        obs = next_obs
    return [{"obs": torch.as_tensor(np.array(t["obs"]), dtype=torch.float32, device=device),
             "actions": torch.as_tensor(np.array(t["actions"]), device=device),
             "rewards": torch.as_tensor(np.array(t["rewards"]), dtype=torch.float32, device=device)}
            for t in trajectories]


def episode_weights(rewards: torch.Tensor, weights: str, gamma: float) -> torch.Tensor:
    """:math:`\\Psi_t` of every step of one episode for ``weights`` ``"return"`` or ``"reward_to_go"``."""
    if weights == "return":
        return torch.full_like(rewards, float(reward_to_go(rewards, gamma)[0]))
    return reward_to_go(rewards, gamma)


def train_reinforce(env_id: str = "CartPole-v1", total_steps: int = 50_000, seed: int = 0,
                    device: torch.device | str = "cpu", config: ReinforceConfig | None = None) -> TrainResult:
    """Train a categorical policy with REINFORCE until ``total_steps`` environment steps are used."""
    cfg = config or ReinforceConfig()
    if cfg.weights not in WEIGHTS:
        raise ValueError(f"weights must be one of {WEIGHTS}, got {cfg.weights!r}")
    device = torch.device(device)
    torch.manual_seed(seed)
    env = make_vector_env(env_id, cfg.episodes_per_batch)
    obs_dim, n_actions, discrete, _ = space_sizes(env)
    if not discrete:
        raise ValueError("this REINFORCE implementation is for discrete actions (e.g. CartPole-v1)")
    env.reset(seed=seed)
    env.action_space.seed(seed)
    policy = CategoricalPolicy(obs_dim, n_actions, cfg.hidden).to(device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.lr)
    log, steps = EpisodeLog(), 0
    with Timer() as timer:
        while steps < total_steps:
            episodes = collect_episodes(env, policy, device)
            for ep in episodes:
                steps += len(ep["rewards"])
                log.add(steps, float(ep["rewards"].sum()))
            obs = torch.cat([ep["obs"] for ep in episodes])
            actions = torch.cat([ep["actions"] for ep in episodes])
            base = "return" if cfg.weights == "return" else "reward_to_go"
            psi = torch.cat([episode_weights(ep["rewards"], base, cfg.gamma) for ep in episodes])
            if cfg.weights == "reward_to_go_baseline":
                psi = (psi - psi.mean()) / (psi.std() + 1e-8)
            loss = -(policy.log_prob(obs, actions) * psi).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    env.close()
    return TrainResult(policy=policy, log=log, env_steps=steps, wall_seconds=timer.seconds,
                       info={"config": asdict(cfg), "env_id": env_id, "seed": seed})

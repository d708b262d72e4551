"""Twin delayed DDPG (TD3) :cite:`fujimoto2018td3`.

DDPG (:mod:`.ddpg`) with three changes that curb the over-estimation of Q:

* **clipped double-Q**: two critics, and the target uses the smaller one,
  :math:`y = r + \\gamma(1-\\text{term})\\min_j Q_{\\phi_{\\text{targ},j}}(s', a'(s'))`;
* **target policy smoothing**: :math:`a'(s') = \\mathrm{clip}\\big(\\mu_{\\theta_{\\text{targ}}}(s') +
  \\mathrm{clip}(\\epsilon, -c, c), -a_{\\max}, a_{\\max}\\big)`, :math:`\\epsilon\\sim\\mathcal N(0,\\sigma^2)`;
* **delayed policy updates**: the actor (maximising :math:`Q_{\\phi_1}(s, \\mu_\\theta(s))`) and all
  target networks are updated once every ``policy_delay`` critic updates.

Noise scales are fractions of :math:`a_{\\max}`.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch

from .envs import make_env, space_sizes
from .evaluation import TrainResult
from .networks import DeterministicPolicy, QNetwork, soft_update
from .offpolicy import off_policy_loop


@dataclass
class TD3Config:
    """TD3's hyper-parameters (the paper's and stable-baselines3's defaults, learning rate 1e-3)."""

    lr: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    learning_starts: int = 1000
    exploration_noise: float = 0.1
    target_noise: float = 0.2
    noise_clip: float = 0.5
    policy_delay: int = 2
    hidden: tuple[int, ...] = (64, 64)


def train_td3(env_id: str = "Pendulum-v1", total_steps: int = 20_000, seed: int = 0,
              device: torch.device | str = "cpu", config: TD3Config | None = None) -> TrainResult:
    """Train TD3 for ``total_steps`` environment steps (one critic update per environment step)."""
    cfg = config or TD3Config()
    device = torch.device(device)
    torch.manual_seed(seed)
    obs_dim, act_dim, _, act_limit = space_sizes(make_env(env_id))
    actor = DeterministicPolicy(obs_dim, act_dim, act_limit, cfg.hidden).to(device)
    q1, q2 = QNetwork(obs_dim, act_dim, cfg.hidden).to(device), QNetwork(obs_dim, act_dim, cfg.hidden).to(device)
    actor_targ = copy.deepcopy(actor).requires_grad_(False)
    q1_targ, q2_targ = copy.deepcopy(q1).requires_grad_(False), copy.deepcopy(q2).requires_grad_(False)
    q_opt = torch.optim.Adam(list(q1.parameters()) + list(q2.parameters()), lr=cfg.lr)
    pi_opt = torch.optim.Adam(actor.parameters(), lr=cfg.lr)

    def update(batch: dict[str, torch.Tensor], step: int) -> None:
        obs, act, rew, next_obs, term = (batch[k] for k in ("obs", "actions", "rewards", "next_obs", "terminated"))
        with torch.no_grad():
            noise = (torch.randn_like(act) * cfg.target_noise).clamp(-cfg.noise_clip, cfg.noise_clip) * act_limit
            next_act = (actor_targ(next_obs) + noise).clamp(-act_limit, act_limit)
            q_next = torch.min(q1_targ(next_obs, next_act), q2_targ(next_obs, next_act))
            target = rew + cfg.gamma * (1.0 - term) * q_next
        q_loss = (q1(obs, act) - target).pow(2).mean() + (q2(obs, act) - target).pow(2).mean()
        q_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        q_opt.step()
        if step % cfg.policy_delay == 0:
            q1.requires_grad_(False)
            pi_loss = -q1(obs, actor(obs)).mean()
            pi_opt.zero_grad(set_to_none=True)
            pi_loss.backward()
            pi_opt.step()
            q1.requires_grad_(True)
            soft_update(actor_targ, actor, cfg.tau)
            soft_update(q1_targ, q1, cfg.tau)
            soft_update(q2_targ, q2, cfg.tau)

    def explore(obs: torch.Tensor):
        action = actor.act(obs)
        return (action + cfg.exploration_noise * act_limit * torch.randn_like(action)).cpu().numpy()

    log, seconds = off_policy_loop(env_id, total_steps, seed, device, explore, update,
                                   cfg.learning_starts, cfg.batch_size)
    return TrainResult(policy=actor, log=log, env_steps=total_steps, wall_seconds=seconds,
                       modules={"q1": q1, "q2": q2}, info={"config": asdict(cfg), "env_id": env_id, "seed": seed})

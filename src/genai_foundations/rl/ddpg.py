"""Deep deterministic policy gradient (DDPG) :cite:`lillicrap2016ddpg`.

Q-learning for continuous actions: a critic :math:`Q_\\phi(s,a)` learns the
Bellman target with a *target actor* standing in for the max over actions,

.. math:: y = r + \\gamma(1-\\text{term})\\,Q_{\\phi_{\\text{targ}}}\\big(s', \\mu_{\\theta_{\\text{targ}}}(s')\\big),

and a deterministic actor climbs the critic, maximising
:math:`\\mathbb E_s[Q_\\phi(s, \\mu_\\theta(s))]`. Exploration adds Gaussian noise to
the actor's action; both target networks follow by Polyak averaging.
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
class DDPGConfig:
    """DDPG's hyper-parameters (as TD3's, for a like-for-like comparison)."""

    lr: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    learning_starts: int = 1000
    exploration_noise: float = 0.1
    hidden: tuple[int, ...] = (64, 64)


def train_ddpg(env_id: str = "Pendulum-v1", total_steps: int = 20_000, seed: int = 0,
               device: torch.device | str = "cpu", config: DDPGConfig | None = None) -> TrainResult:
    """Train DDPG for ``total_steps`` environment steps (one update per environment step)."""
    cfg = config or DDPGConfig()
    device = torch.device(device)
    torch.manual_seed(seed)
    obs_dim, act_dim, _, act_limit = space_sizes(make_env(env_id))
    actor = DeterministicPolicy(obs_dim, act_dim, act_limit, cfg.hidden).to(device)
    q = QNetwork(obs_dim, act_dim, cfg.hidden).to(device)
    actor_targ, q_targ = copy.deepcopy(actor).requires_grad_(False), copy.deepcopy(q).requires_grad_(False)
    q_opt = torch.optim.Adam(q.parameters(), lr=cfg.lr)
    pi_opt = torch.optim.Adam(actor.parameters(), lr=cfg.lr)

    def update(batch: dict[str, torch.Tensor], step: int) -> None:
        obs, act, rew, next_obs, term = (batch[k] for k in ("obs", "actions", "rewards", "next_obs", "terminated"))
        with torch.no_grad():
            target = rew + cfg.gamma * (1.0 - term) * q_targ(next_obs, actor_targ(next_obs))
        q_loss = (q(obs, act) - target).pow(2).mean()
        q_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        q_opt.step()
        q.requires_grad_(False)
        pi_loss = -q(obs, actor(obs)).mean()
        pi_opt.zero_grad(set_to_none=True)
        pi_loss.backward()
        pi_opt.step()
        q.requires_grad_(True)
        soft_update(actor_targ, actor, cfg.tau)
        soft_update(q_targ, q, cfg.tau)

    def explore(obs: torch.Tensor):
        action = actor.act(obs)
        return (action + cfg.exploration_noise * act_limit * torch.randn_like(action)).cpu().numpy()

    log, seconds = off_policy_loop(env_id, total_steps, seed, device, explore, update,
                                   cfg.learning_starts, cfg.batch_size)
    return TrainResult(policy=actor, log=log, env_steps=total_steps, wall_seconds=seconds,
                       modules={"q": q}, info={"config": asdict(cfg), "env_id": env_id, "seed": seed})

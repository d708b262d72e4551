"""Vanilla policy gradient (VPG) with a learned value function and GAE advantages.

The policy gradient with :math:`\\Psi_t = \\hat A_t`, the generalised advantage
estimate built from a learned :math:`V_\\phi` (:func:`~genai_foundations.rl.returns.gae`):

.. math:: \\hat g = \\frac1{|D|}\\sum_{t} \\nabla_\\theta\\log\\pi_\\theta(a_t\\mid s_t)\\,\\hat A_t,
          \\qquad \\phi \\leftarrow \\arg\\min_\\phi \\frac1{|D|}\\sum_t \\big(V_\\phi(s_t) - \\hat R_t\\big)^2 .

One policy step per batch (the data are on-policy only for the policy that
collected them), then several regression epochs for the value function on the
:math:`\\lambda`-returns :math:`\\hat R_t = \\hat A_t + V_\\phi(s_t)`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from .evaluation import Timer, TrainResult
from .networks import CategoricalPolicy, GaussianPolicy, ValueNetwork
from .returns import gae
from .rollouts import RolloutCollector


@dataclass
class VPGConfig:
    """VPG's hyper-parameters."""

    num_envs: int = 4
    n_steps: int = 256
    pi_lr: float = 1e-2
    vf_lr: float = 1e-3
    vf_epochs: int = 5
    vf_minibatch: int = 256
    gamma: float = 0.99
    lam: float = 0.97
    hidden: tuple[int, ...] = (64, 64)


def fit_value(value: ValueNetwork, optimizer: torch.optim.Optimizer, obs: torch.Tensor, returns: torch.Tensor,
              epochs: int, minibatch: int) -> float:
    """Regress :math:`V_\\phi(s)` on the returns with minibatch steps; returns the last minibatch's loss."""
    loss = torch.zeros(())
    for _ in range(epochs):
        for idx in torch.randperm(len(obs), device=obs.device).split(minibatch):
            loss = (value(obs[idx]) - returns[idx]).pow(2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return float(loss.detach())


def train_vpg(env_id: str = "CartPole-v1", total_steps: int = 50_000, seed: int = 0,
              device: torch.device | str = "cpu", config: VPGConfig | None = None) -> TrainResult:
    """Train VPG for ``total_steps`` environment steps."""
    cfg = config or VPGConfig()
    device = torch.device(device)
    torch.manual_seed(seed)
    collector = RolloutCollector(env_id, cfg.num_envs, seed, device)
    policy_cls = CategoricalPolicy if collector.discrete else GaussianPolicy
    policy = policy_cls(collector.obs_dim, collector.act_dim, cfg.hidden).to(device)
    value = ValueNetwork(collector.obs_dim, cfg.hidden).to(device)
    pi_opt = torch.optim.Adam(policy.parameters(), lr=cfg.pi_lr)
    vf_opt = torch.optim.Adam(value.parameters(), lr=cfg.vf_lr)
    batch = cfg.num_envs * cfg.n_steps
    with Timer() as timer:
        for _ in range(max(1, total_steps // batch)):
            data = collector.collect(policy, cfg.n_steps)
            with torch.no_grad():
                adv, ret = gae(data.rewards, value(data.obs), value(data.next_obs), data.terminated, data.dones,
                               cfg.gamma, cfg.lam)
            obs, actions = data.obs.reshape(batch, -1), data.actions.reshape(batch, *data.actions.shape[2:])
            adv, ret = adv.reshape(batch), ret.reshape(batch)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            loss = -(policy.log_prob(obs, actions) * adv).mean()
            pi_opt.zero_grad(set_to_none=True)
            loss.backward()
            pi_opt.step()
            fit_value(value, vf_opt, obs, ret, cfg.vf_epochs, cfg.vf_minibatch)
    collector.close()
    return TrainResult(policy=policy, log=collector.log, env_steps=collector.total_steps, wall_seconds=timer.seconds,
                       modules={"value": value}, info={"config": asdict(cfg), "env_id": env_id, "seed": seed})

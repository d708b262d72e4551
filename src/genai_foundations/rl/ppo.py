"""Proximal policy optimisation with the clipped surrogate objective (PPO-clip) :cite:`schulman2017ppo`.

Each iteration collects ``num_envs * n_steps`` steps with the current policy
:math:`\\pi_{\\theta_{\\text{old}}}`, estimates advantages with GAE, and then takes
several epochs of minibatch gradient steps on

.. math:: L^{\\text{CLIP}}(\\theta) = \\mathbb E_t\\Big[\\min\\big(\\rho_t(\\theta)\\hat A_t,\\;
          \\mathrm{clip}(\\rho_t(\\theta), 1-\\epsilon, 1+\\epsilon)\\,\\hat A_t\\big)\\Big],
          \\qquad \\rho_t(\\theta) = \\frac{\\pi_\\theta(a_t\\mid s_t)}{\\pi_{\\theta_{\\text{old}}}(a_t\\mid s_t)},

plus a squared-error loss for the value function (a separate network) and an
optional entropy bonus. The clip removes the incentive to move
:math:`\\rho_t` beyond :math:`1\\pm\\epsilon`, which keeps the new policy near the old
one without TRPO's second-order machinery. The learning rate and
:math:`\\epsilon` decay linearly to zero over training (``anneal``), as in
stable-baselines3's tuned CartPole settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import Tensor

from .evaluation import Timer, TrainResult
from .networks import CategoricalPolicy, GaussianPolicy, ValueNetwork
from .returns import gae
from .rollouts import RolloutCollector


def ppo_clip_objective(log_prob: Tensor, old_log_prob: Tensor, advantages: Tensor, clip: float) -> Tensor:
    """The PPO-clip loss to *minimise*: :math:`-\\frac1B\\sum_t \\min(\\rho_t \\hat A_t, \\mathrm{clip}(\\rho_t, 1-\\epsilon, 1+\\epsilon)\\hat A_t)`."""
    if clip < 0:
        raise ValueError(f"clip must be non-negative, got {clip}")
    if not (log_prob.shape == old_log_prob.shape == advantages.shape):
        raise ValueError("log_prob, old_log_prob and advantages must have the same shape, got "
                         f"{tuple(log_prob.shape)}, {tuple(old_log_prob.shape)}, {tuple(advantages.shape)}")
    ratio = torch.exp(log_prob - old_log_prob)
    clipped = torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    return -torch.min(ratio * advantages, clipped * advantages).mean()


@dataclass
class PPOConfig:
    """PPO's hyper-parameters (defaults: stable-baselines3 zoo's CartPole-v1 settings)."""

    num_envs: int = 8
    n_steps: int = 32
    epochs: int = 20
    minibatch_size: int = 256
    lr: float = 1e-3
    clip: float = 0.2
    anneal: bool = True
    gamma: float = 0.98
    lam: float = 0.8
    value_coef: float = 0.5
    entropy_coef: float = 0.0
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)


def train_ppo(env_id: str = "CartPole-v1", total_steps: int = 100_000, seed: int = 0,
              device: torch.device | str = "cpu", config: PPOConfig | None = None, *,
              advantage_fn: Callable[..., tuple[Tensor, Tensor]] = gae,
              objective_fn: Callable[[Tensor, Tensor, Tensor, float], Tensor] = ppo_clip_objective) -> TrainResult:
    """Train a PPO-clip agent for ``total_steps`` environment steps; returns the policy and the episode log.

    ``advantage_fn`` (with :func:`~genai_foundations.rl.returns.gae`'s signature) and ``objective_fn``
    (with :func:`ppo_clip_objective`'s) can be swapped for other implementations of the same formulas.
    """
    cfg = config or PPOConfig()
    device = torch.device(device)
    torch.manual_seed(seed)
    collector = RolloutCollector(env_id, cfg.num_envs, seed, device)
    if collector.discrete:
        policy = CategoricalPolicy(collector.obs_dim, collector.act_dim, cfg.hidden).to(device)
    else:
        policy = GaussianPolicy(collector.obs_dim, collector.act_dim, cfg.hidden).to(device)
    value = ValueNetwork(collector.obs_dim, cfg.hidden).to(device)
    params = list(policy.parameters()) + list(value.parameters())
    optimizer = torch.optim.Adam(params, lr=cfg.lr, eps=1e-5)
    batch = cfg.num_envs * cfg.n_steps
    iterations = max(1, total_steps // batch)
    with Timer() as timer:
        for it in range(iterations):
            progress_left = 1.0 - it / iterations if cfg.anneal else 1.0
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * progress_left
            clip = cfg.clip * progress_left
            data = collector.collect(policy, cfg.n_steps)
            with torch.no_grad():
                old_log_prob = policy.log_prob(data.obs, data.actions)
                advantages, returns = advantage_fn(data.rewards, value(data.obs), value(data.next_obs),
                                          data.terminated, data.dones, cfg.gamma, cfg.lam)
            flat = lambda x: x.reshape(batch, *x.shape[2:])  # noqa: E731
            obs, actions, old_log_prob = flat(data.obs), flat(data.actions), flat(old_log_prob)
            advantages, returns = flat(advantages), flat(returns)
            for _ in range(cfg.epochs):
                for idx in torch.randperm(batch, device=device).split(cfg.minibatch_size):
                    adv = advantages[idx]
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8) if idx.numel() > 1 else adv
                    dist = policy.distribution(obs[idx])
                    log_prob = dist.log_prob(actions[idx])
                    if log_prob.dim() > 1:
                        log_prob = log_prob.sum(-1)
                    loss = objective_fn(log_prob, old_log_prob[idx], adv, clip)
                    loss = loss + cfg.value_coef * (value(obs[idx]) - returns[idx]).pow(2).mean()
                    if cfg.entropy_coef:
                        entropy = dist.entropy()
                        loss = loss - cfg.entropy_coef * (entropy.sum(-1) if entropy.dim() > 1 else entropy).mean()
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                    optimizer.step()
    collector.close()
    return TrainResult(policy=policy, log=collector.log, env_steps=collector.total_steps, wall_seconds=timer.seconds,
                       modules={"value": value}, info={"config": asdict(cfg), "env_id": env_id, "seed": seed})


CARTPOLE_PPO_TRAINING = {"env_id": "CartPole-v1", "total_steps": 100_000, "seed": 0}


def cartpole_ppo_checkpoint() -> tuple[CategoricalPolicy, dict]:
    """The shared ``cartpole-ppo`` checkpoint: PPO's policy on CartPole-v1 (100k steps, seed 0, CPU).

    Chapter 25 uses it as the expert of behaviour cloning and DAgger.
    """
    result = train_ppo(device="cpu", **CARTPOLE_PPO_TRAINING)
    policy = result.policy
    config = {"model_kwargs": {"obs_dim": policy.obs_dim, "n_actions": policy.n_actions, "hidden": list(policy.hidden)},
              "seed": CARTPOLE_PPO_TRAINING["seed"],
              "training": {"function": f"{train_ppo.__module__}.{train_ppo.__name__}",
                           "kwargs": dict(CARTPOLE_PPO_TRAINING, config=result.info["config"]),
                           "device": "cpu", "threads": 1}}
    return policy, config


def cartpole_ppo_metrics(policy: CategoricalPolicy) -> dict[str, float]:
    """Greedy returns of ``policy`` on 10 CartPole-v1 episodes seeded 10_000..10_009: mean and minimum."""
    from .evaluation import evaluate_policy

    returns = evaluate_policy(policy, "CartPole-v1", episodes=10, seed=10_000)
    return {"mean_return": float(returns.mean()), "min_return": float(returns.min())}

"""Soft actor-critic (SAC) with automatic entropy tuning :cite:`haarnoja2018sac,haarnoja2018sacapps`.

SAC maximises the return plus an entropy bonus,
:math:`\\mathbb E\\big[\\sum_t \\gamma^t (r_t + \\alpha\\,\\mathcal H(\\pi(\\cdot\\mid s_t)))\\big]`, with a
stochastic squashed-Gaussian actor and two Q-functions. One update on a minibatch:

* critics regress to the shared soft target (clipped double-Q, next action from
  the *current* policy): :math:`y = r + \\gamma(1-\\text{term})\\big(\\min_j Q_{\\phi_{\\text{targ},j}}(s', \\tilde a')
  - \\alpha\\log\\pi_\\theta(\\tilde a'\\mid s')\\big)`, :math:`\\tilde a'\\sim\\pi_\\theta(\\cdot\\mid s')`;
* the actor minimises :math:`\\mathbb E\\big[\\alpha\\log\\pi_\\theta(\\tilde a\\mid s) - \\min_j Q_{\\phi_j}(s,\\tilde a)\\big]`
  through the reparameterised sample :math:`\\tilde a = a_{\\max}\\tanh(\\mu_\\theta(s)+\\sigma_\\theta(s)\\epsilon)`;
* the temperature follows :math:`\\min_\\alpha\\, \\mathbb E[-\\alpha(\\log\\pi_\\theta(\\tilde a\\mid s) + \\bar{\\mathcal H})]`
  with target entropy :math:`\\bar{\\mathcal H} = -\\dim(a)`;
* target critics follow by Polyak averaging (:func:`~genai_foundations.rl.networks.soft_update`).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch

from .envs import make_env, space_sizes
from .evaluation import TrainResult
from .networks import QNetwork, SquashedGaussianPolicy, soft_update
from .offpolicy import off_policy_loop


@dataclass
class SACConfig:
    """SAC's hyper-parameters: stable-baselines3's defaults, its zoo's learning rate for Pendulum, and 64x64 networks
    (instead of 256x256: Pendulum needs no more, and the CPU time per update drops several times)."""

    lr: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.005
    batch_size: int = 256
    learning_starts: int = 1000
    init_alpha: float = 1.0
    hidden: tuple[int, ...] = (64, 64)


def train_sac(env_id: str = "Pendulum-v1", total_steps: int = 20_000, seed: int = 0,
              device: torch.device | str = "cpu", config: SACConfig | None = None) -> TrainResult:
    """Train SAC for ``total_steps`` environment steps (one gradient step per environment step)."""
    cfg = config or SACConfig()
    device = torch.device(device)
    torch.manual_seed(seed)
    obs_dim, act_dim, _, act_limit = space_sizes(make_env(env_id))
    actor = SquashedGaussianPolicy(obs_dim, act_dim, act_limit, cfg.hidden).to(device)
    q1, q2 = QNetwork(obs_dim, act_dim, cfg.hidden).to(device), QNetwork(obs_dim, act_dim, cfg.hidden).to(device)
    q1_targ, q2_targ = copy.deepcopy(q1).requires_grad_(False), copy.deepcopy(q2).requires_grad_(False)
    q_params = list(q1.parameters()) + list(q2.parameters())
    q_opt = torch.optim.Adam(q_params, lr=cfg.lr)
    pi_opt = torch.optim.Adam(actor.parameters(), lr=cfg.lr)
    log_alpha = torch.tensor(float(torch.log(torch.tensor(cfg.init_alpha))), device=device, requires_grad=True)
    alpha_opt = torch.optim.Adam([log_alpha], lr=cfg.lr)
    target_entropy = -float(act_dim)

    def update(batch: dict[str, torch.Tensor], step: int) -> None:
        obs, act, rew, next_obs, term = (batch[k] for k in ("obs", "actions", "rewards", "next_obs", "terminated"))
        alpha = log_alpha.exp().detach()
        with torch.no_grad():
            next_act, next_log_prob = actor(next_obs)
            q_next = torch.min(q1_targ(next_obs, next_act), q2_targ(next_obs, next_act))
            target = rew + cfg.gamma * (1.0 - term) * (q_next - alpha * next_log_prob)
        q_loss = (q1(obs, act) - target).pow(2).mean() + (q2(obs, act) - target).pow(2).mean()
        q_opt.zero_grad(set_to_none=True)
        q_loss.backward()
        q_opt.step()

        q1.requires_grad_(False), q2.requires_grad_(False)  # the actor's loss moves the actor only
        new_act, log_prob = actor(obs)
        pi_loss = (alpha * log_prob - torch.min(q1(obs, new_act), q2(obs, new_act))).mean()
        pi_opt.zero_grad(set_to_none=True)
        pi_loss.backward()
        pi_opt.step()
        q1.requires_grad_(True), q2.requires_grad_(True)

        alpha_loss = -(log_alpha * (log_prob.detach() + target_entropy)).mean()
        alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        alpha_opt.step()
        soft_update(q1_targ, q1, cfg.tau)
        soft_update(q2_targ, q2, cfg.tau)

    log, seconds = off_policy_loop(env_id, total_steps, seed, device, lambda o: actor.act(o).cpu().numpy(), update,
                                   cfg.learning_starts, cfg.batch_size)
    return TrainResult(policy=actor, log=log, env_steps=total_steps, wall_seconds=seconds,
                       modules={"q1": q1, "q2": q2}, info={"config": asdict(cfg), "env_id": env_id, "seed": seed,
                                                             "alpha": float(log_alpha.detach().exp())})

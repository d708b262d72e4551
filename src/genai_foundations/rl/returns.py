"""Returns and advantages: the targets that policy gradients weight their log-probabilities with.

Conventions (one step ``t`` is the transition :math:`s_t, a_t \\to r_t, s_{t+1}`):

* ``dones[t]`` is true when the episode ends after step ``t``, because the task
  *terminated* (the pole fell: :math:`s_{t+1}` is terminal and its value is 0)
  or because it was *truncated* (a time limit: :math:`s_{t+1}` still has a value);
* ``terminated[t]`` is true only in the first case. Returns never run across
  an episode boundary; only a terminal state stops the bootstrap.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_gamma(gamma: float, name: str = "gamma") -> None:
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {gamma}")


def _flags(flags: Tensor | None, like: Tensor, name: str) -> Tensor:
    if flags is None:
        return torch.zeros_like(like, dtype=torch.bool)
    if flags.shape != like.shape:
        raise ValueError(f"{name} must have the shape of rewards {tuple(like.shape)}, got {tuple(flags.shape)}")
    return flags.to(device=like.device, dtype=torch.bool)


def discounted_return(rewards: Tensor, gamma: float) -> Tensor:
    """The discounted return of one episode, :math:`R(\\tau) = \\sum_{t=0}^{T-1} \\gamma^t r_t`."""
    _check_gamma(gamma)
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D (one episode), got shape {tuple(rewards.shape)}")
    powers = gamma ** torch.arange(rewards.numel(), dtype=rewards.dtype, device=rewards.device)
    return (powers * rewards).sum()


def reward_to_go(rewards: Tensor, gamma: float = 1.0, dones: Tensor | None = None) -> Tensor:
    """The reward-to-go :math:`\\hat R_t = \\sum_{t'=t}^{T_{\\text{end}}} \\gamma^{t'-t} r_{t'}` of every step.

    ``rewards`` has shape ``(T,)`` or ``(T, N)`` (time first, ``N`` environments
    side by side); the sum stops at the end of each episode (``dones``). Steps
    after the last ``done`` belong to an unfinished episode and sum what was
    seen. Computed backwards with :math:`\\hat R_t = r_t + \\gamma (1-d_t) \\hat R_{t+1}`.
    """
    _check_gamma(gamma)
    if rewards.dim() not in (1, 2):
        raise ValueError(f"rewards must have shape (T,) or (T, N), got {tuple(rewards.shape)}")
    dones = _flags(dones, rewards, "dones")
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * running * (~dones[t])
        out[t] = running
    return out


def gae(rewards: Tensor, values: Tensor, next_values: Tensor, terminated: Tensor | None = None,
        dones: Tensor | None = None, gamma: float = 0.99, lam: float = 0.95) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation :cite:`schulman2016gae`; returns ``(advantages, returns)``.

    With the TD error :math:`\\delta_t = r_t + \\gamma (1 - \\text{term}_t) V(s_{t+1}) - V(s_t)`,

    .. math:: \\hat A_t = \\delta_t + \\gamma\\lambda (1 - d_t)\\, \\hat A_{t+1},

    i.e. :math:`\\hat A_t = \\sum_l (\\gamma\\lambda)^l \\delta_{t+l}` within the episode.
    ``values[t]`` is :math:`V(s_t)` and ``next_values[t]`` is :math:`V(s_{t+1})`,
    the value of the observation that followed step ``t`` (the *last* observation of
    the episode when ``dones[t]``, so that a truncated episode bootstraps from it;
    ignored when ``terminated[t]``). The value targets are
    :math:`\\hat A_t + V(s_t)` (the :math:`\\lambda`-return). :math:`\\lambda = 1`
    gives the discounted reward-to-go minus :math:`V(s_t)` (plus the bootstrap at a
    cut), :math:`\\lambda = 0` the one-step TD error.
    """
    _check_gamma(gamma)
    _check_gamma(lam, "lam")
    for name, tensor in (("values", values), ("next_values", next_values)):
        if tensor.shape != rewards.shape:
            raise ValueError(f"{name} must have the shape of rewards {tuple(rewards.shape)}, got {tuple(tensor.shape)}")
    terminated = _flags(terminated, rewards, "terminated")
    dones = _flags(dones, rewards, "dones") | terminated
    deltas = rewards + gamma * next_values * (~terminated) - values
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = deltas[t] + gamma * lam * running * (~dones[t])
        advantages[t] = running
    return advantages, advantages + values

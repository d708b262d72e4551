"""Policies and critics: small MLPs, the distributions they define, and soft target updates.

* :class:`CategoricalPolicy` -- :math:`\\pi_\\theta(a\\mid s) = \\mathrm{softmax}(f_\\theta(s))_a` for
  discrete actions (CartPole);
* :class:`GaussianPolicy` -- a diagonal Gaussian with a learned, state-independent
  :math:`\\log\\sigma` for continuous actions (on-policy methods);
* :class:`DeterministicPolicy` -- :math:`\\mu_\\theta(s) = a_{\\max}\\tanh(f_\\theta(s))` (DDPG, TD3);
* :class:`SquashedGaussianPolicy` -- :math:`a = a_{\\max}\\tanh(u)`,
  :math:`u\\sim\\mathcal N(\\mu_\\theta(s), \\sigma_\\theta(s)^2)` (SAC), with its
  log-density from the change of variables (:func:`squashed_gaussian_log_prob`);
* :class:`ValueNetwork` :math:`V_\\phi(s)` and :class:`QNetwork` :math:`Q_\\phi(s,a)`;
* :func:`soft_update` -- Polyak averaging of target networks.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Categorical, Normal

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


def mlp(sizes: Sequence[int], activation: type[nn.Module] = nn.Tanh,
        output_activation: type[nn.Module] = nn.Identity) -> nn.Sequential:
    """Linear layers of the given ``sizes`` (input first) with ``activation`` between them."""
    if len(sizes) < 2 or any(int(s) < 1 for s in sizes):
        raise ValueError(f"sizes must list at least an input and an output size, all positive; got {list(sizes)}")
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        layers.append(activation() if i < len(sizes) - 2 else output_activation())
    return nn.Sequential(*layers)


class CategoricalPolicy(nn.Module):
    """:math:`\\pi_\\theta(\\cdot\\mid s)` over ``n_actions`` discrete actions, from logits :math:`f_\\theta(s)`."""

    def __init__(self, obs_dim: int, n_actions: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        self.obs_dim, self.n_actions, self.hidden = int(obs_dim), int(n_actions), tuple(int(h) for h in hidden)
        self.logits = mlp([self.obs_dim, *self.hidden, self.n_actions])

    def forward(self, obs: Tensor) -> Tensor:
        return self.logits(obs)

    def distribution(self, obs: Tensor) -> Categorical:
        return Categorical(logits=self.logits(obs))

    def log_prob(self, obs: Tensor, actions: Tensor) -> Tensor:
        """:math:`\\log \\pi_\\theta(a\\mid s)` for a batch of (observation, action) pairs."""
        return torch.log_softmax(self.logits(obs), dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        """Sample :math:`a\\sim\\pi_\\theta(\\cdot\\mid s)` (or take the most likely action)."""
        logits = self.logits(obs)
        if deterministic:
            return logits.argmax(dim=-1)
        return Categorical(logits=logits).sample()


class GaussianPolicy(nn.Module):
    """:math:`\\pi_\\theta(a\\mid s) = \\mathcal N(a; \\mu_\\theta(s), \\mathrm{diag}\\,\\sigma^2)` with a learned :math:`\\log\\sigma`."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (64, 64), log_std: float = -0.5):
        super().__init__()
        self.obs_dim, self.act_dim, self.hidden = int(obs_dim), int(act_dim), tuple(int(h) for h in hidden)
        self.mean = mlp([self.obs_dim, *self.hidden, self.act_dim])
        self.log_std = nn.Parameter(torch.full((self.act_dim,), float(log_std)))

    def forward(self, obs: Tensor) -> Tensor:
        return self.mean(obs)

    def distribution(self, obs: Tensor) -> Normal:
        return Normal(self.mean(obs), self.log_std.exp())

    def log_prob(self, obs: Tensor, actions: Tensor) -> Tensor:
        return self.distribution(obs).log_prob(actions).sum(-1)

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        mean = self.mean(obs)
        return mean if deterministic else mean + self.log_std.exp() * torch.randn_like(mean)


class DeterministicPolicy(nn.Module):
    """:math:`\\mu_\\theta(s) = a_{\\max}\\tanh(f_\\theta(s))`, the actor of DDPG and TD3."""

    def __init__(self, obs_dim: int, act_dim: int, act_limit: float, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.obs_dim, self.act_dim, self.act_limit = int(obs_dim), int(act_dim), float(act_limit)
        self.hidden = tuple(int(h) for h in hidden)
        self.net = mlp([self.obs_dim, *self.hidden, self.act_dim], nn.ReLU, nn.Tanh)

    def forward(self, obs: Tensor) -> Tensor:
        return self.act_limit * self.net(obs)

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = True) -> Tensor:
        return self(obs)


def squashed_gaussian_log_prob(u: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    """:math:`\\log \\pi(a\\mid s)` of :math:`a = \\tanh(u)`, :math:`u\\sim\\mathcal N(\\mu, \\sigma^2)`, summed over dimensions.

    By the change of variables (the Jacobian of ``tanh`` is diagonal),

    .. math:: \\log\\pi(a\\mid s) = \\sum_i \\Big[\\log \\mathcal N(u_i;\\mu_i,\\sigma_i^2) - \\log\\big(1-\\tanh^2 u_i\\big)\\Big],

    with :math:`\\log(1-\\tanh^2 u) = 2(\\log 2 - u - \\mathrm{softplus}(-2u))`, which stays
    finite where :math:`\\tanh u` rounds to :math:`\\pm 1`. This is the density of the
    action in :math:`[-1, 1]`; scaling by :math:`a_{\\max}` only adds the constant
    :math:`-\\dim(a)\\log a_{\\max}`, which no gradient sees.
    """
    gaussian = Normal(mean, log_std.exp()).log_prob(u).sum(-1)
    log_det = (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1)
    return gaussian - log_det


class SquashedGaussianPolicy(nn.Module):
    """SAC's actor: :math:`a = a_{\\max}\\tanh(\\mu_\\theta(s) + \\sigma_\\theta(s)\\,\\epsilon)`, :math:`\\epsilon\\sim\\mathcal N(0, I)`."""

    def __init__(self, obs_dim: int, act_dim: int, act_limit: float, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.obs_dim, self.act_dim, self.act_limit = int(obs_dim), int(act_dim), float(act_limit)
        self.hidden = tuple(int(h) for h in hidden)
        self.body = mlp([self.obs_dim, *self.hidden], nn.ReLU, nn.ReLU)
        self.mean = nn.Linear(self.hidden[-1], self.act_dim)
        self.log_std = nn.Linear(self.hidden[-1], self.act_dim)

    def forward(self, obs: Tensor, deterministic: bool = False, with_log_prob: bool = True) -> tuple[Tensor, Tensor | None]:
        """A reparameterised action and (optionally) its log-probability (:func:`squashed_gaussian_log_prob`)."""
        h = self.body(obs)
        mean = self.mean(h)
        log_std = self.log_std(h).clamp(LOG_STD_MIN, LOG_STD_MAX)
        u = mean if deterministic else mean + log_std.exp() * torch.randn_like(mean)
        log_prob = squashed_gaussian_log_prob(u, mean, log_std) if with_log_prob else None
        return self.act_limit * torch.tanh(u), log_prob

    @torch.no_grad()
    def act(self, obs: Tensor, deterministic: bool = False) -> Tensor:
        return self(obs, deterministic=deterministic, with_log_prob=False)[0]


class ValueNetwork(nn.Module):
    """The state-value critic :math:`V_\\phi(s)`."""

    def __init__(self, obs_dim: int, hidden: Sequence[int] = (64, 64), activation: type[nn.Module] = nn.Tanh):
        super().__init__()
        self.net = mlp([int(obs_dim), *hidden, 1], activation)

    def forward(self, obs: Tensor) -> Tensor:
        return self.net(obs).squeeze(-1)


class QNetwork(nn.Module):
    """The action-value critic :math:`Q_\\phi(s, a)` on the concatenation of state and action."""

    def __init__(self, obs_dim: int, act_dim: int, hidden: Sequence[int] = (256, 256)):
        super().__init__()
        self.net = mlp([int(obs_dim) + int(act_dim), *hidden, 1], nn.ReLU)

    def forward(self, obs: Tensor, act: Tensor) -> Tensor:
        return self.net(torch.cat([obs, act], dim=-1)).squeeze(-1)


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging, in place: :math:`\\phi_{\\text{targ}} \\leftarrow \\tau\\,\\phi + (1-\\tau)\\,\\phi_{\\text{targ}}`.

    ``tau = 1`` copies ``source`` into ``target``; ``tau = 0`` leaves it unchanged.
    The two modules must have the same parameters (names and shapes).
    """
    if not 0.0 <= tau <= 1.0:
        raise ValueError(f"tau must be in [0, 1], got {tau}")
    targets, sources = list(target.parameters()), list(source.parameters())
    if len(targets) != len(sources) or any(t.shape != s.shape for t, s in zip(targets, sources)):
        raise ValueError("target and source must have parameters of the same shapes")
    for t, s in zip(targets, sources):
        t.lerp_(s, tau)  # t + tau * (s - t)

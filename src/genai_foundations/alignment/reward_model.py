"""A Bradley-Terry reward model learned from pairwise preferences.

Bradley and Terry's model of a comparison: the chosen completion :math:`y_w`
beats the rejected :math:`y_l` with probability
:math:`P(y_w \\succ y_l\\mid x) = \\sigma(r_\\phi(x, y_w) - r_\\phi(x, y_l))`, so the
reward model minimises the negative log-likelihood

.. math:: \\mathcal L_{\\mathrm{BT}}(\\phi) = -\\mathbb E\\,\\log\\sigma\\big(r_\\phi(x, y_w) - r_\\phi(x, y_l)\\big).

:class:`CharacterRewardModel` reads a completion as its character histogram
(the share of each character) and maps it through a small MLP to a scalar.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def bradley_terry_loss(reward_chosen: Tensor, reward_rejected: Tensor) -> Tensor:
    """:math:`-\\frac1N\\sum_i \\log\\sigma(r_{w,i} - r_{l,i})`, computed stably as ``softplus(r_l - r_w)``."""
    if reward_chosen.shape != reward_rejected.shape:
        raise ValueError(f"reward_chosen and reward_rejected must have the same shape, got "
                         f"{tuple(reward_chosen.shape)} and {tuple(reward_rejected.shape)}")
    return F.softplus(reward_rejected - reward_chosen).mean()


def preference_accuracy(reward_chosen: Tensor, reward_rejected: Tensor) -> float:
    """The share of pairs whose chosen completion gets the higher reward."""
    return (reward_chosen > reward_rejected).float().mean().item()


class CharacterRewardModel(nn.Module):
    """:math:`r_\\phi(x, y) = \\mathrm{MLP}_\\phi(h(y))` with :math:`h(y)` the character histogram of completion ``y``."""

    def __init__(self, vocab_size: int, hidden: int = 32):
        super().__init__()
        if vocab_size < 1 or hidden < 1:
            raise ValueError(f"vocab_size and hidden must be positive, got {vocab_size}, {hidden}")
        self.vocab_size = int(vocab_size)
        self.net = nn.Sequential(nn.Linear(self.vocab_size, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def histogram(self, completions: Tensor) -> Tensor:
        return F.one_hot(completions.long(), self.vocab_size).float().mean(dim=1)

    def forward(self, completions: Tensor) -> Tensor:
        """Rewards (B,) of completions (B, m) of token ids."""
        if completions.dim() != 2:
            raise ValueError(f"completions must be (B, m) token ids, got shape {tuple(completions.shape)}")
        return self.net(self.histogram(completions)).squeeze(-1)


def train_reward_model(model: CharacterRewardModel, chosen: Tensor, rejected: Tensor, *, steps: int = 300,
                       lr: float = 1e-2, batch_size: int = 128, generator: torch.Generator | None = None,
                       weight_decay: float = 1e-4, loss_fn=None) -> list[float]:
    """Minimise :func:`bradley_terry_loss` (or ``loss_fn(r_w, r_l)``) on the pairs with AdamW; returns the loss of every step."""
    loss_fn = bradley_terry_loss if loss_fn is None else loss_fn
    if len(chosen) != len(rejected) or len(chosen) == 0:
        raise ValueError(f"need as many chosen as rejected completions (and some), got {len(chosen)}, {len(rejected)}")
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses = []
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(chosen), (min(batch_size, len(chosen)),), generator=generator).to(chosen.device)
        loss = loss_fn(model(chosen[idx]), model(rejected[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses

"""Direct preference optimisation (DPO): the KL-penalised objective's optimum, fitted to pairs directly.

Solving :math:`\\pi^*\\propto\\pi_{\\mathrm{ref}}\\exp(r/\\beta)` for the reward gives
:math:`r(x,y) = \\beta\\log\\frac{\\pi^*(y\\mid x)}{\\pi_{\\mathrm{ref}}(y\\mid x)} + \\beta\\log Z(x)`;
put into the Bradley-Terry likelihood, :math:`Z(x)` cancels and the policy is
trained on the pairs by

.. math:: \\mathcal L_{\\mathrm{DPO}}(\\theta) = -\\mathbb E\\,\\log\\sigma\\Big(
   \\beta\\log\\frac{\\pi_\\theta(y_w\\mid x)}{\\pi_{\\mathrm{ref}}(y_w\\mid x)}
 - \\beta\\log\\frac{\\pi_\\theta(y_l\\mid x)}{\\pi_{\\mathrm{ref}}(y_l\\mid x)}\\Big).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from genai_foundations.alignment.ppo_kl import completion_log_probs
from genai_foundations.alignment.preferences import PreferencePairs


def dpo_loss(policy_chosen: Tensor, policy_rejected: Tensor, ref_chosen: Tensor, ref_rejected: Tensor,
             beta: float) -> Tensor:
    """:math:`\\mathcal L_{\\mathrm{DPO}}` from sequence log-probabilities (B,) of the policy and the reference."""
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    shapes = {tuple(t.shape) for t in (policy_chosen, policy_rejected, ref_chosen, ref_rejected)}
    if len(shapes) != 1:
        raise ValueError(f"the four log-probability tensors must have one shape, got {sorted(shapes)}")
    margin = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    return F.softplus(-margin).mean()


def train_dpo(policy, reference, pairs: PreferencePairs, *, steps: int, batch_size: int = 32, beta: float = 0.1,
              lr: float = 1e-4, generator: torch.Generator, evaluate: Callable[[], dict] | None = None,
              eval_every: int = 10) -> list[dict]:
    """Minimise :func:`dpo_loss` on ``pairs`` with Adam (``policy`` in place, ``reference`` frozen); returns the history."""
    if len(pairs) == 0:
        raise ValueError("no preference pairs to train on")
    with torch.no_grad():
        ref_w = completion_log_probs(reference, pairs.prompts, pairs.chosen).sum(-1)
        ref_l = completion_log_probs(reference, pairs.prompts, pairs.rejected).sum(-1)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    history = []
    for step in range(steps + 1):
        if evaluate is not None and (step % eval_every == 0 or step == steps):
            policy.eval()
            history.append({"step": step, **evaluate()})
        if step == steps:
            break
        policy.train()
        idx = torch.randint(0, len(pairs), (min(batch_size, len(pairs)),), generator=generator).to(ref_w.device)
        b = pairs.subset(idx)
        loss = dpo_loss(completion_log_probs(policy, b.prompts, b.chosen).sum(-1),
                        completion_log_probs(policy, b.prompts, b.rejected).sum(-1), ref_w[idx], ref_l[idx], beta)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        opt.step()
    policy.eval()
    return history

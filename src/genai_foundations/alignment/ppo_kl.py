"""Policy-gradient fine-tuning of a causal language model with a KL penalty to a reference (PPO-KL).

A generative model is a policy: the prompt :math:`x` is the state, the whole
completion :math:`y` is one action, and the episode ends after it (a one-step
trajectory). The objective of RLHF is

.. math:: J(\\theta) = \\mathbb E_{x,\\,y\\sim\\pi_\\theta(\\cdot\\mid x)}\\big[r_\\phi(x, y)\\big]
          - \\beta\\,\\mathrm{KL}\\big(\\pi_\\theta(\\cdot\\mid x)\\,\\|\\,\\pi_{\\mathrm{ref}}(\\cdot\\mid x)\\big),

whose maximiser over all policies is
:math:`\\pi^*(y\\mid x) \\propto \\pi_{\\mathrm{ref}}(y\\mid x)\\exp(r_\\phi(x,y)/\\beta)`
(:func:`optimal_kl_policy`). :func:`train_ppo_kl` maximises it with samples:
the KL-penalised reward :math:`R = r_\\phi(x, y) - \\beta\\log\\frac{\\pi_\\theta(y\\mid x)}{\\pi_{\\mathrm{ref}}(y\\mid x)}`,
a batch-normalised advantage, and PPO's clipped objective on every token.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from genai_foundations.algorithms.decoding import generate
from genai_foundations.rl.ppo import ppo_clip_objective


def completion_log_probs(model, prompts: Tensor, completions: Tensor) -> Tensor:
    """Per-token :math:`\\log\\pi(y_t\\mid x, y_{<t})` (B, m) of ``completions`` (B, m) after ``prompts`` (B, n0).

    Differentiable (unlike :func:`~genai_foundations.algorithms.decoding.sequence_log_prob`);
    sum over the last dimension for :math:`\\log\\pi(y\\mid x)`.
    """
    if prompts.dim() != 2 or completions.dim() != 2 or prompts.shape[0] != completions.shape[0]:
        raise ValueError(f"need prompts (B, n0) and completions (B, m), got {tuple(prompts.shape)}, "
                         f"{tuple(completions.shape)}")
    ids = torch.cat([prompts, completions], dim=1)
    n0, m = prompts.shape[1], completions.shape[1]
    log_p = F.log_softmax(model(ids[:, :-1]).float(), dim=-1)[:, n0 - 1:n0 - 1 + m]
    return log_p.gather(-1, completions[..., None].long())[..., 0]


def kl_penalised_reward(reward: Tensor, log_prob: Tensor, ref_log_prob: Tensor, beta: float) -> Tensor:
    """:math:`R = r - \\beta(\\log\\pi_\\theta(y\\mid x) - \\log\\pi_{\\mathrm{ref}}(y\\mid x))` from per-token log-probabilities (B, m)."""
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got {beta}")
    return reward - beta * (log_prob - ref_log_prob).sum(dim=-1)


def optimal_kl_policy(ref_probs: Tensor, rewards: Tensor, beta: float) -> Tensor:
    """The maximiser :math:`\\pi^* \\propto \\pi_{\\mathrm{ref}}\\exp(r/\\beta)` of :func:`kl_objective` over categorical policies."""
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    return torch.softmax(torch.log(ref_probs) + rewards / beta, dim=-1)


def kl_objective(probs: Tensor, ref_probs: Tensor, rewards: Tensor, beta: float) -> Tensor:
    """:math:`\\mathbb E_{\\pi}[r] - \\beta\\,\\mathrm{KL}(\\pi\\,\\|\\,\\pi_{\\mathrm{ref}})` of a categorical policy ``probs``."""
    return (probs * rewards).sum(-1) - beta * (probs * (torch.log(probs) - torch.log(ref_probs))).sum(-1)


@torch.no_grad()
def score_and_kl(policy, reference, prompts: Tensor, completion_length: int, reward_fn: Callable[[Tensor], Tensor],
                 *, generator: torch.Generator) -> tuple[float, float]:
    """Mean ``reward_fn`` of sampled completions and the Monte Carlo KL :math:`\\mathbb E_{y\\sim\\pi}[\\log\\pi(y|x) - \\log\\pi_{\\mathrm{ref}}(y|x)]` (nats per completion)."""
    seq = generate(policy, prompts, completion_length, do_sample=True, generator=generator)
    comp = seq[:, prompts.shape[1]:]
    kl = (completion_log_probs(policy, prompts, comp) - completion_log_probs(reference, prompts, comp)).sum(-1)
    return reward_fn(comp).float().mean().item(), kl.mean().item()


def train_ppo_kl(policy, reference, reward_fn: Callable[[Tensor], Tensor], prompt_sampler: Callable[[int], Tensor], *,
                 steps: int, batch_size: int = 32, completion_length: int = 24, beta: float = 0.05,
                 lr: float = 1e-4, clip: float = 0.2, epochs: int = 2, generator: torch.Generator,
                 evaluate: Callable[[], dict] | None = None, eval_every: int = 10) -> list[dict]:
    """Fine-tune ``policy`` (in place) on ``reward_fn`` with the KL penalty to the frozen ``reference``.

    Each step samples ``batch_size`` completions of fresh prompts, scores them
    with :func:`kl_penalised_reward`, normalises the result into advantages and
    takes ``epochs`` gradient steps of :func:`~genai_foundations.rl.ppo.ppo_clip_objective`
    on the tokens. ``evaluate()`` is called before the first step and every
    ``eval_every`` steps; the returned history holds its dictionaries with the step.
    """
    if steps < 0 or batch_size < 2:
        raise ValueError(f"need steps >= 0 and batch_size >= 2, got {steps}, {batch_size}")
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    history = []
    for step in range(steps + 1):
        if evaluate is not None and (step % eval_every == 0 or step == steps):
            policy.eval()
            history.append({"step": step, **evaluate()})
        if step == steps:
            break
        prompts = prompt_sampler(batch_size)
        with torch.no_grad():
            policy.eval()
            comp = generate(policy, prompts, completion_length, do_sample=True, generator=generator)[:, prompts.shape[1]:]
            old = completion_log_probs(policy, prompts, comp)
            ref = completion_log_probs(reference, prompts, comp)
            total = kl_penalised_reward(reward_fn(comp).float().to(old.device), old, ref, beta)
            adv = (total - total.mean()) / (total.std() + 1e-8)
        policy.train()
        for _ in range(epochs):
            new = completion_log_probs(policy, prompts, comp)
            loss = ppo_clip_objective(new, old, adv[:, None].expand_as(new), clip)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
            opt.step()
    policy.eval()
    return history

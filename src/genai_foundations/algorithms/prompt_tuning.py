"""Prompt tuning: a frozen GPT conditioned on k trainable input vectors (a "soft prompt").

Lester et al. (2021) keep every weight of the language model and learn only a
matrix :math:`P \\in \\mathbb{R}^{k \\times d}` of k virtual token embeddings
placed before the real ones. With chapter 16's GPT (token embedding E,
positions :math:`P^{\\text{pos}}`), the first layer's input becomes

.. math:: X_0 = [\\,P\\,;\\; E[x_{1:n}]\\,] + P^{\\text{pos}}_{1:k+n}  \\qquad\\text{(PROMPT)}

and the logits of the last n positions predict :math:`x_2, \\dots, x_{n+1}`;
the causal mask lets every real position attend to the whole prompt. Only the
:math:`k d` numbers of P train, and one frozen model can serve many tasks,
each with its own P. Prefix tuning (Li and Liang, 2021) goes one step
further and learns such vectors for the keys and values of every layer; the
input-level version here is its simplest member. The context left for real
tokens is ``n_positions - k``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.architectures.attention import causal_mask
from genai_foundations.architectures.gpt import GPT


class PromptTunedGPT(nn.Module):
    """A frozen :class:`~genai_foundations.architectures.gpt.GPT` behind a trainable soft prompt of k vectors.

    The prompt starts as k token embeddings of the model drawn at random (with
    ``seed``), a common initialisation that keeps its scale in the range the
    model was trained on. ``model(ids)`` returns the logits (B, n, V) of the
    real positions; ``loss(ids, targets)`` their mean cross-entropy, so it
    trains with :func:`~genai_foundations.algorithms.char_lm.train_char_model`.
    """

    def __init__(self, gpt: GPT, n_prompt: int, *, seed: int = 0) -> None:
        super().__init__()
        if not 1 <= n_prompt < gpt.config.n_positions:
            raise ValueError(f"n_prompt must lie in 1..{gpt.config.n_positions - 1}, got {n_prompt}")
        self.gpt = gpt
        for p in gpt.parameters():
            p.requires_grad_(False)
        emb = gpt.token_embedding.weight
        pick = torch.randint(0, emb.shape[0], (n_prompt,), generator=torch.Generator().manual_seed(seed))
        self.prompt = nn.Parameter(emb.detach()[pick.to(emb.device)].clone())

    @property
    def n_prompt(self) -> int:
        return self.prompt.shape[0]

    @property
    def max_length(self) -> int:
        """Real tokens that fit after the prompt: ``n_positions - k``."""
        return self.gpt.config.n_positions - self.n_prompt

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Equation (PROMPT): logits (B, n, V) of the real positions of ``ids`` (B, n)."""
        if ids.dim() != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a (B, n) torch.long tensor, got {tuple(ids.shape)} {ids.dtype}")
        b, n = ids.shape
        if n > self.max_length:
            raise ValueError(f"{n} tokens plus a prompt of {self.n_prompt} exceed n_positions={self.gpt.config.n_positions}")
        g = self.gpt
        k = self.n_prompt
        x = torch.cat([self.prompt.expand(b, k, -1), g.token_embedding(ids)], dim=1)
        x = g.drop(x + g.positions(k + n).to(x.dtype))
        mask = causal_mask(k + n, device=ids.device)
        for block in g.blocks:
            x = block(x, mask)
        return g.head(g.final_norm(x[:, k:]))

    def loss(self, ids: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean next-token cross-entropy of ``targets`` (B, n) given the prompt and ``ids`` (B, n)."""
        logits = self(ids)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

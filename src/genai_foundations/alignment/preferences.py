"""The offline preference rule of chapter 25 and the preference pairs it labels.

The course has no human raters, so a hidden scoring rule stands in for them:
:func:`vowel_score` is the share of a completion's characters that are
lower-case vowels. Two completions :math:`y_1, y_2` of the same prompt
:math:`x` are labelled by the rule: the one with the higher score is the chosen
completion :math:`y_w`, the other the rejected one :math:`y_l` (ties are
dropped). The reward model, PPO-KL and DPO never see the rule, only the pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genai_foundations.algorithms.decoding import generate

VOWELS = "aeiou"


def vowel_score(text: str) -> float:
    """The hidden rule: the share of ``text``'s characters that are in ``"aeiou"`` (0 for empty text)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return sum(c in VOWELS for c in text) / len(text) if text else 0.0


def sample_prompts(ids: Tensor, n: int, length: int, generator: torch.Generator) -> Tensor:
    """``n`` random windows of ``length`` tokens from the token stream ``ids`` (1-D): (n, length) prompts."""
    if ids.dim() != 1 or not 1 <= length < ids.numel():
        raise ValueError(f"need a 1-D token stream longer than length={length}, got shape {tuple(ids.shape)}")
    starts = torch.randint(0, ids.numel() - length, (n,), generator=generator)
    return torch.stack([ids[s:s + length] for s in starts.tolist()])


@dataclass
class PreferencePairs:
    """Prompts (N, n0) and chosen / rejected completions (N, m), with the rule's scores of both."""

    prompts: Tensor
    chosen: Tensor
    rejected: Tensor
    chosen_score: Tensor
    rejected_score: Tensor

    def __len__(self) -> int:
        return self.prompts.shape[0]

    def subset(self, index: Tensor | slice) -> "PreferencePairs":
        return PreferencePairs(self.prompts[index], self.chosen[index], self.rejected[index],
                               self.chosen_score[index], self.rejected_score[index])


def completion_scores(completions: Tensor, decode) -> Tensor:
    """The rule's score of each row of ``completions`` (B, m), decoded to text by ``decode``: (B,)."""
    scores = [vowel_score(decode(row)) for row in completions.cpu()]
    return torch.tensor(scores, dtype=torch.float32, device=completions.device)


@torch.no_grad()
def make_preference_pairs(model, prompts: Tensor, completion_length: int, decode, *,
                          generator: torch.Generator, temperature: float = 1.0) -> PreferencePairs:
    """Sample two completions per prompt from ``model`` and label them with :func:`vowel_score`.

    Ties are dropped, so the result may hold fewer pairs than prompts.
    """
    if completion_length < 1:
        raise ValueError(f"completion_length must be positive, got {completion_length}")
    both = torch.cat([prompts, prompts])
    seq = generate(model, both, completion_length, do_sample=True, temperature=temperature, generator=generator)
    comp = seq[:, prompts.shape[1]:]
    scores = completion_scores(comp.cpu(), decode).to(comp.device)
    n = prompts.shape[0]
    a, b, sa, sb = comp[:n], comp[n:], scores[:n], scores[n:]
    keep = sa != sb
    first = (sa > sb)[:, None]
    chosen, rejected = torch.where(first, a, b), torch.where(first, b, a)
    return PreferencePairs(prompts[keep], chosen[keep], rejected[keep],
                           torch.maximum(sa, sb)[keep], torch.minimum(sa, sb)[keep])

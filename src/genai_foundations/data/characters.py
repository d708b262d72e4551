"""Batches and a baseline for character-level models on a 1-D stream of token ids.

The book's character corpus and its one split are
:func:`genai_foundations.data.python_docs.python_docs_split` (the frozen
Python help topics: the first 90% of the characters train, the last 10%
validate, the vocabulary comes from the training part). This module cuts such
an id stream into training batches and scores the simplest model of it:

* :func:`random_windows` / :func:`window_batches` cut random windows of
  ``seq_len + 1`` characters into inputs and next-character targets,
* :func:`unigram_bits_per_char` is the baseline any model must beat: the
  cross-entropy of the validation text under the training text's character
  frequencies, in bits per character.
"""

from __future__ import annotations

import math
from typing import Iterator

import torch


def random_windows(ids: torch.Tensor, seq_len: int, batch_size: int,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of ``ids``: inputs (B, seq_len) and targets shifted by one (B, seq_len).

    ``targets[b, t] = inputs[b, t + 1]`` inside the window, and the last target
    is the character after the window: the model predicts every next character.
    """
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D tensor, got shape {tuple(ids.shape)}")
    if seq_len < 1 or batch_size < 1:
        raise ValueError(f"seq_len and batch_size must be positive, got {seq_len} and {batch_size}")
    if len(ids) < seq_len + 1:
        raise ValueError(f"need at least seq_len + 1 = {seq_len + 1} ids, got {len(ids)}")
    starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)
    window = starts[:, None] + torch.arange(seq_len + 1)[None, :]
    chunk = ids[window.to(ids.device)]
    return chunk[:, :-1], chunk[:, 1:]


def window_batches(ids: torch.Tensor, seq_len: int, batch_size: int,
                   generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """An endless stream of :func:`random_windows` batches."""
    while True:
        yield random_windows(ids, seq_len, batch_size, generator)


def unigram_bits_per_char(train: torch.Tensor, val: torch.Tensor, vocab_size: int, alpha: float = 1.0) -> float:
    """Cross-entropy of ``val`` under the character frequencies of ``train``, in bits per character.

    :math:`-\\frac{1}{N}\\sum_{n} \\log_2 p(x_n)` with the add-``alpha`` estimate
    :math:`p(c) = (n_c + \\alpha) / (N_\\text{train} + \\alpha V)`: a model that
    ignores all context. Any sequence model worth training must beat it.
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be positive (a character unseen in training would get p = 0), got {alpha}")
    counts = torch.bincount(train, minlength=vocab_size).double() + alpha
    log_p = torch.log(counts / counts.sum())
    return float(-log_p[val].mean() / math.log(2))

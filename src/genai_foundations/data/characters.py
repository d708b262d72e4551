"""Python's documentation as a character-level corpus: vocabulary, encoding, split and batches.

The text is :func:`genai_foundations.data.text.python_docs_text` (it ships with
CPython, so nothing is downloaded). A character model reads it one character
at a time:

* :class:`CharVocabulary` maps each distinct character to an integer id and back,
* :func:`load_char_corpus` encodes the text and splits it into a training part
  (the first 90%) and a validation part (the rest), contiguous so that no
  validation window overlaps a training window,
* :func:`random_windows` / :func:`window_batches` cut random windows of
  ``seq_len + 1`` characters into inputs and next-character targets,
* :func:`unigram_bits_per_char` is the baseline any model must beat: the
  cross-entropy of the validation text under the training text's character
  frequencies, in bits per character.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import torch

from genai_foundations.data.text import python_docs_text


@dataclass(frozen=True)
class CharVocabulary:
    """The sorted distinct characters of a text; a character's id is its position."""

    chars: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.chars:
            raise ValueError("a vocabulary needs at least one character")
        if len(set(self.chars)) != len(self.chars) or any(len(c) != 1 for c in self.chars):
            raise ValueError("chars must be distinct single characters")
        object.__setattr__(self, "_index", {c: i for i, c in enumerate(self.chars)})

    @classmethod
    def from_text(cls, text: str) -> "CharVocabulary":
        """Every character that occurs in ``text``, in sorted (code point) order."""
        return cls(tuple(sorted(set(text))))

    @property
    def size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """The ids of ``text``'s characters as a ``torch.long`` tensor of shape (len(text),)."""
        index = self._index  # type: ignore[attr-defined]
        missing = sorted(set(text) - index.keys())
        if missing:
            raise ValueError(f"characters not in the vocabulary: {missing[:10]!r}")
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        """The text whose character ids are ``ids`` (a 1-D tensor or a list of ints)."""
        ids = torch.as_tensor(ids).reshape(-1).tolist()
        if ids and (min(ids) < 0 or max(ids) >= self.size):
            raise ValueError(f"ids must lie in 0..{self.size - 1}")
        return "".join(self.chars[i] for i in ids)


@dataclass(frozen=True)
class CharCorpus:
    """An encoded text split into a training and a validation part (1-D ``torch.long`` tensors)."""

    vocab: CharVocabulary
    train: torch.Tensor
    val: torch.Tensor


def load_char_corpus(max_chars: int | None = None, val_fraction: float = 0.1) -> CharCorpus:
    """Python's documentation, encoded character by character and split at ``1 - val_fraction``.

    The vocabulary covers the whole (possibly truncated) text, so the
    validation part has no unknown characters. ``max_chars`` truncates the
    corpus first (QUICK mode).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must lie strictly between 0 and 1, got {val_fraction}")
    text = python_docs_text(max_chars)
    vocab = CharVocabulary.from_text(text)
    ids = vocab.encode(text)
    cut = int(round(len(ids) * (1.0 - val_fraction)))
    if cut < 2 or len(ids) - cut < 2:
        raise ValueError(f"a corpus of {len(ids)} characters is too short to split with val_fraction={val_fraction}")
    return CharCorpus(vocab, ids[:cut], ids[cut:])


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

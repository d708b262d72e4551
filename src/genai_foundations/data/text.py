"""Small word-level corpora for next-word models.

The character-level corpus of the language chapters is elsewhere:
:mod:`genai_foundations.data.python_docs` (Python's help topics, frozen, and
the book's one split).

* :func:`word_vocabulary`, :func:`encode_words` and :func:`next_word_sequences`:
  a handful of sentences turned into word ids and teacher-forcing pairs, for
  the five-sentence example of the RNN chapter.
"""

from __future__ import annotations

from typing import Sequence

import torch

PAD_TOKEN = "<pad>"
END_TOKEN = "<end>"
#: The target id that ``torch.nn.functional.cross_entropy`` skips (its default ``ignore_index``).
IGNORE_INDEX = -100


def word_vocabulary(sentences: Sequence[str]) -> list[str]:
    """The words of ``sentences`` (lower-cased, split on white space) in order of first appearance.

    ``words[0]`` is :data:`PAD_TOKEN` (id 0 pads short sequences) and the last
    entry is :data:`END_TOKEN`, which marks where a sentence stops; a word's id
    is its position in the list.
    """
    if isinstance(sentences, str) or not sentences:
        raise ValueError("expected a non-empty list of sentences")
    words = [PAD_TOKEN]
    for sentence in sentences:
        for word in sentence.lower().split():
            if word in (PAD_TOKEN, END_TOKEN):
                raise ValueError(f"{word!r} is reserved for padding and the end of a sentence")
            if word not in words:
                words.append(word)
    if len(words) == 1:
        raise ValueError("the sentences contain no words")
    return words + [END_TOKEN]


def encode_words(sentence: str, words: Sequence[str]) -> list[int]:
    """The ids of ``sentence``'s words (lower-cased) in the vocabulary ``words``."""
    index = {word: i for i, word in enumerate(words)}
    tokens = sentence.lower().split()
    unknown = [w for w in tokens if w not in index]
    if unknown:
        raise ValueError(f"words not in the vocabulary: {unknown}")
    return [index[w] for w in tokens]


def next_word_sequences(sentences: Sequence[str], words: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forcing pairs: every sentence's words as inputs, the same words shifted by one as targets.

    For a sentence :math:`w_1 \\dots w_n` the inputs are :math:`w_1 \\dots w_n` and the
    targets :math:`w_2 \\dots w_n, \\langle\\text{end}\\rangle`: position :math:`t` is
    trained to predict the word after the first :math:`t` words, so one pass
    over a sentence trains every prefix at once. Shorter sentences are padded
    on the right, with id 0 in the inputs and :data:`IGNORE_INDEX` in the
    targets, so that padding is never predicted and, the network reading from
    left to right, never changes the state at a real word. Returns inputs and
    targets of shape (number of sentences, longest sentence), ``torch.long``.
    """
    encoded = [encode_words(sentence, words) for sentence in sentences]
    if not encoded or any(len(ids) == 0 for ids in encoded):
        raise ValueError("every sentence needs at least one word")
    end = list(words).index(END_TOKEN)
    longest = max(len(ids) for ids in encoded)
    inputs = torch.zeros(len(encoded), longest, dtype=torch.long)
    targets = torch.full((len(encoded), longest), IGNORE_INDEX, dtype=torch.long)
    for row, ids in enumerate(encoded):
        inputs[row, :len(ids)] = torch.tensor(ids)
        targets[row, :len(ids)] = torch.tensor(ids[1:] + [end])
    return inputs, targets

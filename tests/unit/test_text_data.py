"""Word-level data of the RNN chapter: vocabulary, encoding and teacher-forcing pairs (data/text.py)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from genai_foundations.data.text import (
    END_TOKEN, IGNORE_INDEX, PAD_TOKEN, encode_words, next_word_sequences, word_vocabulary)

SENTENCES = ["A b c", "b d", "c a b e"]


def test_vocabulary_in_order_of_first_appearance_with_padding_and_end():
    words = word_vocabulary(SENTENCES)
    assert words == [PAD_TOKEN, "a", "b", "c", "d", "e", END_TOKEN]
    assert encode_words("C a", words) == [3, 1]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        encode_words("a z", words)
    with pytest.raises(ValueError, match="reserved"):
        word_vocabulary(["a <end> b"])
    with pytest.raises(ValueError, match="list of sentences"):
        word_vocabulary("a b c")


def test_teacher_forcing_pairs_shift_by_one_and_pad_on_the_right():
    words = word_vocabulary(SENTENCES)
    inputs, targets = next_word_sequences(SENTENCES, words)
    end = words.index(END_TOKEN)
    assert inputs.shape == targets.shape == (3, 4) and inputs.dtype == targets.dtype == torch.long
    assert inputs.tolist() == [[1, 2, 3, 0], [2, 4, 0, 0], [3, 1, 2, 5]]
    assert targets.tolist() == [[2, 3, end, IGNORE_INDEX], [4, end, IGNORE_INDEX, IGNORE_INDEX], [1, 2, 5, end]]
    # one target per word: the cross-entropy averages over the real targets only
    assert int((targets != IGNORE_INDEX).sum()) == sum(len(s.split()) for s in SENTENCES)
    logits = torch.randn(3, 4, len(words), generator=torch.Generator().manual_seed(0))
    mask = targets != IGNORE_INDEX
    by_hand = -logits.log_softmax(-1).gather(-1, targets.clamp(min=0)[..., None])[..., 0][mask].mean()
    assert math.isclose(F.cross_entropy(logits.reshape(-1, len(words)), targets.reshape(-1)).item(), by_hand.item(),
                        rel_tol=1e-6)

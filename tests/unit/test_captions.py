"""Tests of the captioned digits (chapter 18): fixed splits, held-out templates whose words occur in training."""

from __future__ import annotations

import pytest
import torch

from genai_foundations.data import captions as cap


def test_held_out_templates_use_only_training_words():
    cap.check_vocabulary_covered()
    train_words = cap.template_words(cap.TRAIN_TEMPLATES)
    for template in cap.TEST_TEMPLATES:
        assert template not in cap.TRAIN_TEMPLATES
        assert set(template.replace("{}", "").split()) <= train_words


def test_splits_are_fixed_and_paired_correctly():
    train, test = cap.load_captioned_digits("train"), cap.load_captioned_digits("test")
    assert (len(train), len(test)) == (1437, 360)
    again = cap.load_captioned_digits("train")
    assert again.captions == train.captions and torch.equal(again.template_index, train.template_index)
    for split in (train, test):
        for label, text, k in zip(split.labels[:50], split.captions[:50], split.template_index[:50]):
            assert text == split.templates[int(k)].format(cap.NUMBER_WORDS[int(label)])
            assert text.split()[-1] == cap.NUMBER_WORDS[int(label)]
    assert set(test.template_index.tolist()) == {0, 1, 2} and test.templates == cap.TEST_TEMPLATES
    assert not set(train.captions) & set(test.captions)


def test_caption_helpers_and_errors():
    assert cap.caption(7, "a handwritten {}") == "a handwritten seven"
    assert cap.class_prompts("the digit {}")[3] == "the digit three"
    with pytest.raises(ValueError):
        cap.caption(10, "a {}")
    with pytest.raises(ValueError):
        cap.caption(1, "no slot")
    with pytest.raises(ValueError):
        cap.load_captioned_digits("validation")

"""Tests of the small CLIP (chapter 18): tokenizer, encoders, logits, training, linear probe."""

from __future__ import annotations

import pytest
import torch

from genai_foundations.algorithms.contrastive import clip_loss, siglip_loss, similarity_logits
from genai_foundations.architectures.clip import SmallCLIP, WordTokenizer, linear_probe, train_clip


def test_tokenizer_round_trip_unknown_words_and_limits():
    tok = WordTokenizer.fit(["a handwritten seven", "the digit two"], max_length=5)
    assert tok.words[:2] == ["<pad>", "<unk>"] and len(tok) == 2 + 6
    ids, mask = tok.encode(["the digit seven", "a zebra"])
    assert ids.shape == mask.shape == (2, 5) and mask.sum(1).tolist() == [3, 2]
    assert ids[1, 1] == 1 and tok.decode(ids)[0] == "the digit seven"
    with pytest.raises(ValueError, match="max_length"):
        tok.encode("a b c d e f")
    with pytest.raises(ValueError, match="empty"):
        tok.encode([""])


def _model(loss="clip"):
    torch.manual_seed(0)
    return SmallCLIP(vocab_size=12, max_length=6, embed_dim=8, width=16, text_depth=1, heads=2, loss=loss)


def test_shapes_padding_and_logits():
    model = _model().eval()
    images = torch.randn(3, 1, 8, 8)
    ids = torch.tensor([[2, 3, 4, 0, 0, 0], [5, 6, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0]])
    mask = ids != 0
    u, v = model.encode_image(images), model.encode_text(ids, mask)
    assert u.shape == v.shape == (3, 8) and model.image_features(images).shape == (3, 16)
    torch.testing.assert_close(model(images, ids, mask), similarity_logits(u, v, model.logit_scale()))
    torch.testing.assert_close(model.loss(images, ids, mask), clip_loss(model(images, ids, mask)))
    # padding does not change a caption's embedding: the same caption with a different padded id behind the mask
    other = ids.clone()
    other[0, 4] = 9
    torch.testing.assert_close(model.encode_text(other, mask), v)
    tokens = model.image_encoder.tokens(images)
    assert tokens.shape == (3, 16, 16)
    torch.testing.assert_close(tokens.mean(dim=1), model.image_features(images))          # pooling = mean of tokens
    with pytest.raises(ValueError):
        model.encode_image(torch.randn(2, 1, 9, 9))


def test_siglip_variant_uses_its_bias():
    model = _model("siglip").eval()
    images, ids = torch.randn(4, 1, 8, 8), torch.randint(1, 12, (4, 6))
    mask = torch.ones_like(ids, dtype=torch.bool)
    u, v = model.encode_image(images), model.encode_text(ids, mask)
    torch.testing.assert_close(model.loss(images, ids, mask),
                               siglip_loss(u, v, model.head.log_scale, model.head.bias))
    torch.testing.assert_close(model(images, ids, mask), similarity_logits(u, v, model.logit_scale()) - 10.0)


def test_training_lowers_the_loss():
    run = train_clip(steps=25, batch_size=32, embed_dim=8, width=16, text_depth=1, seed=0)
    assert sum(run.losses[-5:]) / 5 < sum(run.losses[:5]) / 5
    assert not run.model.training


def test_linear_probe_on_separable_features():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 3
    features = torch.nn.functional.one_hot(labels, 3).float() * 5 + 0.1 * torch.randn(60, 3, generator=g)
    assert linear_probe(features[:45], labels[:45], features[45:], labels[45:]) == 1.0

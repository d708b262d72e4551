"""The hashing encoder, its InfoNCE loss (against F.cross_entropy written out), training, and the reranker."""

import math

import pytest
import torch
import torch.nn.functional as F

from genai_foundations.retrieval.dense import (EncoderConfig, HashingEncoder, features, hashed_features, info_nce,
                                               train_encoder)
from genai_foundations.retrieval.rerank import FEATURES, fit_reranker, listwise_loss, pair_features


def test_features_and_stable_hashes():
    assert features("With") == ["w:with", "c:<wi", "c:wit", "c:ith", "c:th>"]
    assert hashed_features("iterator protocol", 1024) == hashed_features("iterator protocol", 1024)
    assert all(0 <= i < 1024 for i in hashed_features("iterator protocol", 1024))
    assert hashed_features("with", 2 ** 15)[0] == __import__("zlib").crc32(b"w:with") % 2 ** 15


def test_encoder_gives_unit_vectors():
    enc = HashingEncoder(EncoderConfig(n_buckets=256, dim=8))
    e = enc.encode(["a dictionary maps keys", "", "lists"])
    assert e.shape == (3, 8) and torch.allclose(e.norm(dim=1), torch.ones(3), atol=1e-6)
    with pytest.raises(TypeError):
        enc("one string")


def test_info_nce_by_hand():
    q = F.normalize(torch.randn(5, 4, generator=torch.Generator().manual_seed(1)), dim=1)
    c = F.normalize(torch.randn(5, 4, generator=torch.Generator().manual_seed(2)), dim=1)
    logits = q @ c.T / 0.1
    expected = -torch.stack([logits[i, i] - torch.logsumexp(logits[i], 0) for i in range(5)]).mean()
    assert torch.allclose(info_nce(q, c, 0.1), expected, atol=1e-6)


def test_training_lowers_the_loss_and_matches_pairs():
    topics = ["dictionary keys values mapping", "loop iteration for while break", "exception raise try except",
              "class instance attribute method", "import module package path", "string format literal quote"]
    pairs = [(" ".join(t.split()[1:3]), t) for t in topics]
    enc, losses = train_encoder(pairs, steps=60, batch_size=6, lr=0.05, config=EncoderConfig(2 ** 10, 16), seed=0)
    assert losses[-1] < 0.5 * losses[0]
    sims = enc.encode(["keys values", "raise try"]) @ enc.encode(topics).T
    assert sims.argmax(1).tolist() == [0, 2]


def test_reranker_features_and_fit():
    f = pair_features(["dict", "keys", "view"], [["dict", "keys"], ["loop"]], [4.0, 1.0], [0.5, 0.1], [1, 2], [2, 1],
                      {"dict": 1.0, "keys": 2.0, "view": 1.0}, 2.0)
    assert f.shape == (2, len(FEATURES))
    assert f[0].tolist() == pytest.approx([1.0, 0.5, math.log(2), math.log(3), 0.75, 0.5, 1.0])
    scores = torch.tensor([1.0, 2.0, 0.0])
    assert listwise_loss(scores, torch.tensor([False, True, False])).item() == pytest.approx(
        -(2 - torch.logsumexp(scores, 0)).item())
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(6, 7, generator=gen) for _ in range(20)]
    relevant = [f[:, 4] == f[:, 4].max() for f in feats]  # the relevant one has the largest "coverage"
    model, losses = fit_reranker(feats, relevant, steps=100)
    assert losses[-1] < losses[0]
    top = [model.rerank(f, list(range(6)))[0] for f in feats]
    assert sum(t == int(r.nonzero()) for t, r in zip(top, relevant)) >= 18

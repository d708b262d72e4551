"""Tests of the gradient-guided character-flip attack (chapter 26) and of the topic-family snippets."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.algorithms import text_attack as ta


def _model(vocab: int = 12, classes: int = 3, seed: int = 0) -> ta.CharCNNClassifier:
    torch.manual_seed(seed)
    return ta.CharCNNClassifier(vocab, classes, embed_dim=6, channels=8).double()


def test_flip_gains_equal_the_one_hot_gradient():
    model = _model()
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 12, (4, 10), generator=gen)
    labels = torch.randint(0, 3, (4,), generator=gen)
    onehot = F.one_hot(ids, 12).double().requires_grad_(True)
    loss = F.cross_entropy(model.forward_embedded(onehot @ model.embedding.weight), labels, reduction="sum")
    (g,) = torch.autograd.grad(loss, onehot)
    expected = g - g.gather(2, ids.unsqueeze(2))
    torch.testing.assert_close(ta.flip_gains(model, ids, labels), expected)


def test_flip_gain_is_exact_for_a_model_linear_in_the_embeddings():
    # a bag of characters with a linear head: a flip changes the logits linearly, so (FLIP) predicts the
    # change of the logit difference exactly (take the loss to be -(z_y - z_other) through a 2-class trick)
    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(7, 3).double()
            self.head = nn.Linear(3, 2).double()

        def forward_embedded(self, h):
            return self.head(h.sum(dim=1))

        def forward(self, ids):
            return self.forward_embedded(self.embedding(ids))

    torch.manual_seed(3)
    model = Linear()
    ids = torch.tensor([[0, 3, 5, 2]])
    y = torch.tensor([0])
    gains = ta.flip_gains(model, ids, y)
    with torch.no_grad():
        z = model(ids)
        p = torch.softmax(z, 1)[0, 1]
    for i in range(4):
        for c in range(7):
            flipped = ids.clone()
            flipped[0, i] = c
            with torch.no_grad():
                dz = model(flipped) - z
            # dL/dz = softmax - onehot: the first-order change is (p - onehot) . dz
            predicted = float((torch.stack([-p, p]) * dz[0]).sum())
            assert float(gains[0, i, c]) == pytest.approx(predicted, abs=1e-10)


def test_hotflip_respects_budget_and_allowed_characters():
    model = _model(seed=2)
    gen = torch.Generator().manual_seed(4)
    ids = torch.randint(0, 12, (20, 16), generator=gen)
    with torch.no_grad():
        labels = model(ids).argmax(dim=1)              # every example starts correctly classified
    allowed = torch.arange(0, 8)
    result = ta.hotflip(model, ids, labels, max_flips=3, allowed=allowed)
    changed = result.ids != ids
    assert torch.equal(changed.sum(dim=1), result.flips) and int(result.flips.max()) <= 3
    assert torch.all(ids[changed] < 8) and torch.all(result.ids[changed] < 8)
    with torch.no_grad():
        now_wrong = model(result.ids).argmax(dim=1) != labels
    assert torch.equal(now_wrong, result.success)
    assert torch.all(result.flips[~result.success] == 3) or bool(result.success.all())
    # zero budget: nothing changes
    assert torch.equal(ta.hotflip(model, ids, labels, 0).ids, ids)


def test_greedy_first_flip_beats_every_random_single_flip_on_average():
    model = _model(seed=5)
    gen = torch.Generator().manual_seed(6)
    ids = torch.randint(0, 12, (40, 12), generator=gen)
    labels = torch.randint(0, 3, (40,), generator=gen)
    with torch.no_grad():
        base = F.cross_entropy(model(ids), labels, reduction="none")
        wrong = model(ids).argmax(1) != labels
    one = ta.hotflip(model, ids, labels, 1)
    rnd = ta.random_flips(ids, 1, 12, generator=gen)
    with torch.no_grad():
        gain_hot = (F.cross_entropy(model(one.ids), labels, reduction="none") - base)[~wrong].mean()
        gain_rnd = (F.cross_entropy(model(rnd), labels, reduction="none") - base)[~wrong].mean()
    assert gain_hot > gain_rnd and gain_hot > 0
    assert torch.equal((rnd != ids).sum(dim=1), torch.ones(40, dtype=torch.long))


def test_topic_family_snippets_are_balanced_and_disjoint():
    from genai_foundations.data.topic_families import FAMILIES, topic_family_snippets

    train, test = topic_family_snippets(length=32, per_family=(50, 10))
    assert train.ids.shape == (200, 32) and test.ids.shape == (40, 32)
    assert torch.bincount(train.labels).tolist() == [50] * len(FAMILIES)
    assert not set(train.texts) & set(test.texts)
    assert train.tokenizer.decode(train.ids[0]) == train.texts[0]
    with pytest.raises(ValueError):
        topic_family_snippets(length=4)


def test_snippets_use_the_books_vocabulary():
    from genai_foundations.data.python_docs import python_docs_split
    from genai_foundations.data.topic_families import topic_family_snippets

    train, _ = topic_family_snippets(length=16, per_family=(2, 1))
    assert train.tokenizer == python_docs_split().tokenizer

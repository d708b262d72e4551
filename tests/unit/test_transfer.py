"""Tests of the transfer-learning pieces of chapter 19 (algorithms/transfer.py)."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression, Ridge

from genai_foundations.algorithms import transfer
from genai_foundations.architectures.classifiers import DigitsClassifier


def test_logistic_probe_equals_sklearn():
    gen = torch.Generator().manual_seed(0)
    h = torch.randn(120, 6, generator=gen, dtype=torch.float64)
    y = (h[:, 0] + 0.5 * torch.randn(120, generator=gen, dtype=torch.float64) > 0).long() + (h[:, 1] > 0.8).long()
    lam = 0.05
    head = transfer.fit_logistic_probe(h, y, 3, weight_decay=lam, max_iter=500)
    ref = LogisticRegression(C=1 / (len(y) * lam), tol=1e-10, max_iter=5000).fit(h.numpy(), y.numpy())
    # softmax parameters are defined up to a shift shared by the classes: compare centred weights
    w = head.weight.numpy() - head.weight.numpy().mean(0)
    b = head.bias.numpy() - head.bias.numpy().mean()
    np.testing.assert_allclose(w, ref.coef_ - ref.coef_.mean(0), atol=1e-4)
    np.testing.assert_allclose(b, ref.intercept_ - ref.intercept_.mean(), atol=1e-4)


def test_least_squares_probe_equals_sklearn_ridge():
    gen = torch.Generator().manual_seed(1)
    h = torch.randn(50, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (50,), generator=gen)
    w, b = transfer.least_squares_probe(h, y, 3, ridge=0.7)
    ref = Ridge(alpha=0.7).fit(h.numpy(), np.eye(3)[y.numpy()])
    np.testing.assert_allclose(w.numpy(), ref.coef_, atol=1e-10)
    np.testing.assert_allclose(b.numpy(), ref.intercept_, atol=1e-10)
    w0, b0 = transfer.least_squares_probe(h, y, 3, ridge=0.0)              # ridge 0: ordinary least squares
    sol = np.linalg.lstsq(np.c_[h.numpy(), np.ones(50)], np.eye(3)[y.numpy()], rcond=None)[0]
    np.testing.assert_allclose(w0.numpy(), sol[:-1].T, atol=1e-10)
    with pytest.raises(ValueError):
        transfer.least_squares_probe(h, y[:-1], 3)


def test_freeze_except_trains_only_the_chosen_parameters():
    torch.manual_seed(0)
    model = transfer.transfer_model(DigitsClassifier(num_classes=5), "partial fine-tuning", 5)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, y = torch.randn(16, 1, 8, 8), torch.randint(0, 5, (16,))
    transfer.train_classifier(model, x, y, steps=2)
    for name, p in model.named_parameters():
        changed = not torch.equal(before[name], p)
        assert changed == name.startswith(("conv.5.", "project.", "head.")), name
        assert p.requires_grad == changed
    probe = transfer.transfer_model(model, "linear probe", 5)
    assert [n for n, p in probe.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]
    assert 0 < transfer.trainable_fraction(probe) < transfer.trainable_fraction(model) < 1
    with pytest.raises(ValueError):
        transfer.freeze_except(model, ["nonexistent."])
    with pytest.raises(ValueError):
        transfer.transfer_model(None, "full fine-tuning", 5)


def test_extract_features_equals_forward_before_the_head():
    torch.manual_seed(0)
    model = DigitsClassifier(num_classes=5)
    x = torch.randn(7, 1, 8, 8)
    h = transfer.extract_features(model, x, batch_size=3)
    torch.testing.assert_close(model.head(h), model(x).detach())
    assert not h.requires_grad


def test_balanced_subset_and_class_selection():
    labels = torch.tensor([5, 6, 7, 5, 6, 7, 5, 6, 7, 9])
    images = torch.arange(10.0)
    x, y = transfer.select_classes(images, labels, [5, 6, 7])
    assert y.tolist() == [0, 1, 2] * 3 and x.tolist() == list(range(9))
    idx = transfer.balanced_subset(y, 4, torch.Generator().manual_seed(0))
    assert len(set(idx.tolist())) == 4 and set(y[idx].tolist()) == {0, 1, 2}
    with pytest.raises(ValueError):
        transfer.balanced_subset(y, 10, torch.Generator())
    with pytest.raises(ValueError):
        transfer.relabel(labels, [5, 6, 7])

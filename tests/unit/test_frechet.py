"""Tests of the Frechet distance (Heusel et al., 2017) and the digits classifier behind it."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from genai_foundations.architectures.classifiers import DigitsClassifier, predict, train_digits_classifier
from genai_foundations.evaluation.frechet import (
    classifier_frechet_distance,
    extract_features,
    fit_gaussian,
    frechet_distance,
    frechet_distance_gaussians,
)


def _scipy_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """The usual formula with scipy's matrix square root, as the FID reference code computes it."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * root))


def test_matches_scipy_sqrtm():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(6, 6))
    a = rng.normal(size=(400, 6)) @ mixing
    b = rng.normal(size=(300, 6)) @ (mixing + 0.3 * rng.normal(size=(6, 6))) + 0.5
    ours = frechet_distance(a, b)
    assert ours > 1.0
    assert np.isclose(ours, _scipy_frechet(a, b), rtol=1e-7)
    assert np.isclose(ours, frechet_distance(b, a), rtol=1e-9)  # symmetric
    assert np.isclose(frechet_distance(torch.from_numpy(a), torch.from_numpy(b)), ours)  # tensors work too


def test_closed_form_for_diagonal_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(var1) - np.sqrt(var2)) ** 2).sum()  # 5 + 4 + 1 + 0
    assert np.isclose(frechet_distance_gaussians(mu1, np.diag(var1), mu2, np.diag(var2)), expected)
    assert np.isclose(expected, 10.0)
    # one dimension: (m1 - m2)^2 + (s1 - s2)^2
    assert np.isclose(frechet_distance_gaussians(np.array([2.0]), np.array([[4.0]]), np.array([0.0]),
                                                 np.array([[1.0]])), 4.0 + 1.0)


def test_identical_feature_sets_are_at_distance_zero():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 16)) @ rng.normal(size=(16, 16))
    assert abs(frechet_distance(a, a)) < 1e-8
    # a rank-deficient covariance (fewer samples than dimensions) is handled too
    few = rng.normal(size=(10, 32))
    assert abs(frechet_distance(few, few)) < 1e-8


def test_fit_gaussian_and_errors():
    a = np.random.default_rng(2).normal(size=(50, 3))
    mu, cov = fit_gaussian(a)
    assert mu.shape == (3,) and cov.shape == (3, 3)
    assert np.allclose(cov, np.cov(a, rowvar=False))
    with pytest.raises(ValueError, match="feature dimensions differ"):
        frechet_distance(a, a[:, :2])
    with pytest.raises(ValueError, match="at least 2 samples"):
        frechet_distance(a[:1], a)
    with pytest.raises(ValueError, match="2-D"):
        frechet_distance(a[0], a)


def test_classifier_frechet_distance_uses_the_features():
    torch.manual_seed(0)
    classifier = DigitsClassifier()
    images = torch.rand(64, 1, 8, 8) * 2 - 1
    other = torch.rand(64, 1, 8, 8) - 1
    features = extract_features(classifier, images, batch_size=10)
    assert features.shape == (64, 64)
    assert abs(classifier_frechet_distance(classifier, images, images)) < 1e-8
    assert np.isclose(classifier_frechet_distance(classifier, images, other, batch_size=7),
                      frechet_distance(features, extract_features(classifier, other)))


def test_train_digits_classifier_learns():
    model, accuracy = train_digits_classifier("cpu", steps=200, seed=0)
    assert 0.7 < accuracy <= 1.0
    assert not model.training
    assert model.features(torch.zeros(2, 1, 8, 8)).shape == (2, 64)
    assert predict(model, torch.zeros(3, 1, 8, 8)).shape == (3,)
    with pytest.raises(ValueError, match=r"\(B, 1, 8, 8\)"):
        model.features(torch.zeros(2, 1, 28, 28))


def test_mnist_classifier_features_and_frechet_helpers():
    from genai_foundations.architectures.classifiers import MNISTClassifier
    from genai_foundations.evaluation.frechet import MNISTFrechet, real_vs_real_frechet

    torch.manual_seed(0)
    model = MNISTClassifier().eval()
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    assert model.features(x).shape == (5, 64) and model(x).shape == (5, 10)
    with pytest.raises(ValueError, match=r"\(B, 1, 28, 28\)"):
        model.features(torch.zeros(2, 1, 8, 8))
    pool = torch.rand(30, 1, 28, 28) * 2 - 1
    reference = extract_features(model, pool)
    same = real_vs_real_frechet(model, pool, reference, n=30, draws=3)
    assert len(same) == 3 and max(same) < 1e-6                           # all of the pool = the reference set
    part = real_vs_real_frechet(model, pool, reference, n=10, draws=2, seed=5)
    assert part == real_vs_real_frechet(model, pool, reference, n=10, draws=2, seed=5) and min(part) > 0
    with pytest.raises(ValueError, match="n must"):
        real_vs_real_frechet(model, pool, reference, n=31)
    measure = MNISTFrechet(model)
    assert len(measure.test_images) == 1000 and measure.reference_features.shape == (1000, 64)
    assert np.isclose(measure(pool), frechet_distance(extract_features(model, pool), measure.reference_features))
    with pytest.raises(ValueError, match="28, 28"):
        measure(torch.zeros(3, 1, 8, 8))

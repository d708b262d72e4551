"""The sample distances against closed forms and independent computations."""

import itertools

import numpy as np
import pytest
import torch
from scipy.stats import wasserstein_distance

from genai_foundations.evaluation.sample_distance import mmd_rbf, sample_quality_ratio, wasserstein2


def test_w2_in_1d_equals_sorted_matching():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 1)), rng.normal(1.0, 2.0, size=(200, 1))
    expected = np.sqrt(np.mean((np.sort(x[:, 0]) - np.sort(y[:, 0])) ** 2))
    assert wasserstein2(x, y) == pytest.approx(expected, rel=1e-12)
    # W1 <= W2 (Jensen), with scipy's W1 on the same points
    assert wasserstein_distance(x[:, 0], y[:, 0]) <= wasserstein2(x, y) + 1e-12


def test_w2_equals_brute_force_over_permutations():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    best = min(np.mean([np.sum((x[i] - y[p[i]]) ** 2) for i in range(6)]) for p in itertools.permutations(range(6)))
    assert wasserstein2(torch.tensor(x), torch.tensor(y)) == pytest.approx(np.sqrt(best), rel=1e-12)


def test_w2_of_a_translation_is_the_shift():
    x = torch.randn(100, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert wasserstein2(x, x + torch.tensor([3.0, 4.0], dtype=torch.float64)) == pytest.approx(5.0, rel=1e-9)


def test_mmd_matches_direct_formula_and_separates_distributions():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(40, 2)), rng.normal(0.5, 1.0, size=(30, 2))
    h = 0.7
    k = lambda a, b: np.exp(-np.sum((a - b) ** 2) / (2 * h * h))  # noqa: E731
    xx = np.mean([k(x[i], x[j]) for i in range(40) for j in range(40) if i != j])
    yy = np.mean([k(y[i], y[j]) for i in range(30) for j in range(30) if i != j])
    xy = np.mean([k(a, b) for a in x for b in y])
    assert mmd_rbf(x, y, bandwidth=h) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)
    xx_all = np.mean([k(a, b) for a in x for b in x])
    yy_all = np.mean([k(a, b) for a in y for b in y])
    assert mmd_rbf(x, y, bandwidth=h, unbiased=False) == pytest.approx(xx_all + yy_all - 2 * xy, rel=1e-10)
    same = mmd_rbf(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)))
    shifted = mmd_rbf(rng.normal(size=(500, 2)), rng.normal(1.0, 1.0, size=(500, 2)))
    assert abs(same) < 0.01 < shifted


def test_quality_ratio_is_near_one_for_real_data_and_large_for_a_bad_model():
    g = torch.Generator().manual_seed(3)
    held, real, also_real = (torch.randn(500, 2, generator=g) for _ in range(3))
    for metric in ("w2", "mmd"):
        good = sample_quality_ratio(also_real, held, real, metric=metric)
        bad = sample_quality_ratio(0.3 * also_real + 2.0, held, real, metric=metric)
        assert good.ratio < 2.0 < bad.ratio, (metric, good, bad)
        assert metric in str(good)


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match="same shape"):
        wasserstein2(np.zeros((5, 2)), np.zeros((6, 2)))
    with pytest.raises(ValueError, match=r"\(n, d\)"):
        wasserstein2(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        mmd_rbf(np.full((5, 2), np.nan), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="metric"):
        sample_quality_ratio(np.ones((5, 2)), np.zeros((5, 2)), np.zeros((5, 2)), metric="kl")

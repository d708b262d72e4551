"""Tests of randomized smoothing (chapter 26): Clopper-Pearson, the certified radius, PREDICT and CERTIFY."""

from __future__ import annotations


import pytest
import torch
from scipy.stats import binomtest, norm
from torch import nn

from genai_foundations.algorithms import smoothing


@pytest.mark.parametrize("k, n", [(0, 10), (10, 10), (7, 10), (480, 500), (1, 1000), (123, 321)])
@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_clopper_pearson_matches_scipy(k, n, confidence):
    ours = smoothing.clopper_pearson(k, n, confidence)
    theirs = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    assert ours[0] == pytest.approx(theirs.low, abs=1e-12) and ours[1] == pytest.approx(theirs.high, abs=1e-12)


def test_lower_bound_is_one_sided():
    # P(Binomial(n, p_lower) >= k) = alpha at the bound
    k, n, alpha = 950, 1000, 0.001
    p = smoothing.lower_confidence_bound(k, n, alpha)
    from scipy.stats import binom
    assert binom.sf(k - 1, n, p) == pytest.approx(alpha, rel=1e-6)


@pytest.mark.parametrize("p, sigma", [(0.5, 0.25), (0.8413447460685429, 0.5), (0.99, 1.0), (0.3, 0.5)])
def test_certified_radius_is_sigma_times_the_normal_quantile(p, sigma):
    assert float(smoothing.certified_radius(p, sigma)) == pytest.approx(sigma * norm.ppf(p), abs=1e-12)


class _Constant(nn.Module):
    """A 'classifier' whose answer depends only on the first coordinate: class 1 when x[0] > 0."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        first = x.flatten(1)[:, 0]
        return torch.stack([-first, first], dim=1) + 0 * self.dummy


def test_certify_on_a_half_space_recovers_the_known_radius():
    # f(x) = 1[x_0 > 0] at x_0 = mu: p_A = Phi(mu / sigma), the exact radius is mu, and the
    # Monte Carlo bound lies below it and close to it for large n
    sigma, mu, n = 0.5, 0.4, 20000
    x = torch.zeros(4)
    x[0] = mu
    cert = smoothing.certify(_Constant(), x, sigma, n0=100, n=n, alpha=0.001, num_classes=2,
                             batch_size=5000, generator=torch.Generator().manual_seed(0))
    assert cert.label == 1
    assert cert.p_a_lower < norm.cdf(mu / sigma)
    assert cert.radius == pytest.approx(sigma * norm.ppf(cert.p_a_lower), abs=1e-12)
    assert mu - 0.05 < cert.radius < mu


def test_predict_and_certify_abstain_on_the_boundary():
    x = torch.zeros(4)
    gen = torch.Generator().manual_seed(1)
    assert smoothing.predict(_Constant(), x, 0.5, 400, 0.001, num_classes=2, generator=gen) == smoothing.ABSTAIN
    assert smoothing.certify(_Constant(), x, 0.5, 50, 400, 0.001, num_classes=2, generator=gen).label == smoothing.ABSTAIN
    x[0] = 2.0
    assert smoothing.predict(_Constant(), x, 0.5, 400, 0.001, num_classes=2, generator=gen) == 1


def test_certified_accuracy_counts_correct_and_large_enough():
    certs = [smoothing.Certificate(1, 0.9, 0.5), smoothing.Certificate(0, 0.9, 1.0),
             smoothing.Certificate(smoothing.ABSTAIN, 0.4, 0.0), smoothing.Certificate(2, 0.99, 2.0)]
    labels = torch.tensor([1, 1, 0, 2])
    acc = smoothing.certified_accuracy(certs, labels, torch.tensor([0.0, 0.5, 1.0, 2.5]))
    torch.testing.assert_close(acc, torch.tensor([0.5, 0.5, 0.25, 0.0], dtype=torch.float64))


def test_noise_counts_and_bad_input():
    counts = smoothing.noise_counts(_Constant(), torch.full((4,), 10.0), 0.1, 250, 2, batch_size=100)
    assert counts.tolist() == [0, 250]
    with pytest.raises(ValueError):
        smoothing.clopper_pearson(11, 10)
    with pytest.raises(ValueError):
        smoothing.certified_radius(0.9, 0.0)
    with pytest.raises(ValueError):
        smoothing.certify(_Constant(), torch.zeros(4), 0.5, 10, 10, alpha=0.7, num_classes=2)

"""Tests of Elo ratings and the Bradley-Terry fit (chapter 26)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genai_foundations.evaluation import ratings


def test_elo_update_by_hand():
    # equal ratings: expected 0.5, a win moves K/2 each way
    assert ratings.elo_update(1500, 1500, 1.0, k=32) == (1516.0, 1484.0)
    # 400 points apart: expected 10/11 for the favourite
    assert ratings.expected_score(1800, 1400) == pytest.approx(10 / 11)
    new_i, new_j = ratings.elo_update(1400, 1800, 1.0, k=22)
    assert new_i == pytest.approx(1400 + 22 * 10 / 11) and new_i + new_j == pytest.approx(3200)
    with pytest.raises(ValueError):
        ratings.elo_update(1500, 1500, 2.0)


def test_bradley_terry_two_players_closed_form():
    # w wins out of n: theta_0 - theta_1 = log(w / (n - w))
    games = torch.tensor([[0, 1, 1.0]] * 7 + [[1, 0, 1.0]] * 3)
    theta = ratings.bradley_terry(games, 2)
    assert float(theta[0] - theta[1]) == pytest.approx(math.log(7 / 3), abs=1e-9)
    assert float(theta.sum()) == pytest.approx(0.0, abs=1e-12)


def test_bradley_terry_is_a_stationary_point_of_the_likelihood():
    games = ratings.simulate_league([0.0, 0.5, 1.0, -0.7, 0.2], 400, torch.Generator().manual_seed(1), tie_margin=0.05)
    theta = ratings.bradley_terry(games, 5).requires_grad_(True)
    ratings.bradley_terry_log_likelihood(theta, games).backward()
    assert float(theta.grad.abs().max()) < 1e-8
    # and it beats a nearby point
    with torch.no_grad():
        best = ratings.bradley_terry_log_likelihood(theta, games)
        assert ratings.bradley_terry_log_likelihood(theta + 0.05 * torch.randn(5, dtype=torch.float64), games) < best


def test_bradley_terry_matches_an_unpenalised_logistic_regression():
    from sklearn.linear_model import LogisticRegression

    games = ratings.simulate_league([0.3, -0.2, 0.8, 0.0], 300, torch.Generator().manual_seed(2))
    n = len(games)
    design = torch.zeros(n, 4, dtype=torch.float64)
    design[torch.arange(n), games[:, 0].long()] = 1
    design[torch.arange(n), games[:, 1].long()] = -1
    fit = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000)
    fit.fit(design.numpy(), games[:, 2].numpy())
    theirs = torch.tensor(fit.coef_[0])
    ours = ratings.bradley_terry(games, 4)
    torch.testing.assert_close(ours, theirs - theirs.mean(), atol=1e-5, rtol=0)


def test_elo_ordering_agrees_with_bradley_terry_on_a_simulated_league():
    truth = torch.tensor([-1.2, -0.6, 0.0, 0.6, 1.2, 1.8], dtype=torch.float64)
    games = ratings.simulate_league(truth, 3000, torch.Generator().manual_seed(0))
    elo = ratings.elo_ratings(games, 6, k=8)
    bt = ratings.bradley_terry(games, 6)
    assert torch.equal(elo.argsort(), bt.argsort())
    assert torch.equal(bt.argsort(), truth.argsort())
    # same scale: Elo points = ELO_SCALE * theta, up to the offset
    assert float(((elo - elo.mean()) - ratings.ELO_SCALE * bt).abs().max()) < 60


def test_elo_history_and_input_checks():
    games = torch.tensor([[0, 1, 1.0], [1, 2, 0.5]])
    final, trace = ratings.elo_ratings(games, 3, history=True)
    assert trace.shape == (3, 3) and torch.equal(trace[-1], final)
    assert float(final.sum()) == pytest.approx(3000.0)          # Elo conserves the total
    with pytest.raises(ValueError):
        ratings.elo_ratings(torch.tensor([[0, 0, 1.0]]), 2)
    with pytest.raises(ValueError):
        ratings.elo_ratings(torch.tensor([[0, 5, 1.0]]), 2)
    with pytest.raises(RuntimeError, match="prior"):
        ratings.bradley_terry(torch.tensor([[0, 1, 1.0]] * 5), 2)
    theta = ratings.bradley_terry(torch.tensor([[0, 1, 1.0]] * 5), 2, prior=0.1)
    assert float(theta[0]) > 0

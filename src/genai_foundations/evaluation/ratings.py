"""Ratings from pairwise comparisons: Elo's online updates and the Bradley-Terry maximum-likelihood fit.

Notation (chapter 26): players (models) :math:`i = 1..M` have strengths :math:`\\theta_i`; in a
game of :math:`i` against :math:`j` the score :math:`s_{ij}` is 1 for a win of :math:`i`, 0 for a
loss and 1/2 for a tie. Both methods model

.. math:: \\mathbb P(i \\text{ beats } j) = \\sigma(\\theta_i - \\theta_j) = \\frac{1}{1 + e^{-(\\theta_i - \\theta_j)}},
   \\tag{BT}

the Bradley-Terry model (Bradley and Terry 1952). Elo ratings are the same strengths on another
scale, :math:`R_i = R_0 + \\tfrac{400}{\\ln 10}\\,\\theta_i`, so that the expected score is
:math:`E_{ij} = 1 / (1 + 10^{(R_j - R_i)/400})`.

* :func:`elo_update`: after each game, :math:`R_i \\leftarrow R_i + K (s_{ij} - E_{ij})` and
  :math:`R_j \\leftarrow R_j - K (s_{ij} - E_{ij})` (ELO): a stochastic-gradient step on the
  log-likelihood of (BT), so the ratings drift with the order of the games and with :math:`K`.
* :func:`bradley_terry`: the maximum-likelihood :math:`\\theta` of all games at once, by Newton's
  method on the concave log-likelihood with :math:`\\sum_i \\theta_i = 0` (the likelihood only sees
  differences), optionally with a small Gaussian prior that keeps undefeated players finite.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

ELO_SCALE = 400.0 / math.log(10.0)   # Elo points per unit of theta (about 173.7)


def expected_score(r_i: float | torch.Tensor, r_j: float | torch.Tensor) -> float | torch.Tensor:
    """Elo's expected score of player i against j: ``1 / (1 + 10 ** ((r_j - r_i) / 400))``."""
    return 1.0 / (1.0 + 10.0 ** ((r_j - r_i) / 400.0))


def elo_update(r_i: float, r_j: float, score: float, k: float = 32.0) -> tuple[float, float]:
    """(ELO) for one game of i against j with ``score`` (1 win, 0.5 tie, 0 loss for i); returns the new ``(r_i, r_j)``."""
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must lie in [0, 1] (1 win, 0.5 tie, 0 loss), got {score}")
    change = k * (score - expected_score(r_i, r_j))
    return r_i + change, r_j - change


def _check_games(games: torch.Tensor, n_players: int) -> torch.Tensor:
    games = torch.as_tensor(games, dtype=torch.float64)
    if games.dim() != 2 or games.shape[1] != 3:
        raise ValueError(f"games must be an (n, 3) table of (i, j, score_of_i) rows, got shape {tuple(games.shape)}")
    ij = games[:, :2]
    if torch.any(ij != ij.round()) or torch.any(ij < 0) or torch.any(ij >= n_players):
        raise ValueError(f"player indices must be integers in 0..{n_players - 1}")
    if torch.any(games[:, 0] == games[:, 1]):
        raise ValueError("a player cannot play against itself")
    if torch.any((games[:, 2] < 0) | (games[:, 2] > 1)):
        raise ValueError("scores must lie in [0, 1]")
    return games


def elo_ratings(games: torch.Tensor, n_players: int, k: float = 32.0, initial: float = 1000.0,
                history: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Apply :func:`elo_update` to ``games`` (rows ``(i, j, score_of_i)``) in order, all players starting at ``initial``.

    Returns the final ratings ``(n_players,)`` (float64), and with ``history=True`` also the
    ratings after every game ``(n_games + 1, n_players)``.
    """
    games = _check_games(games, n_players)
    ratings = [float(initial)] * n_players
    trace = [list(ratings)] if history else None
    for i, j, s in games.tolist():
        i, j = int(i), int(j)
        ratings[i], ratings[j] = elo_update(ratings[i], ratings[j], s, k)
        if history:
            trace.append(list(ratings))
    final = torch.tensor(ratings, dtype=torch.float64)
    return (final, torch.tensor(trace, dtype=torch.float64)) if history else final


def bradley_terry_log_likelihood(theta: torch.Tensor, games: torch.Tensor) -> torch.Tensor:
    """The log-likelihood of (BT) for ``games`` (rows ``(i, j, s)``; a tie counts as half a win each way)."""
    games = torch.as_tensor(games, dtype=torch.float64)
    i, j, s = games[:, 0].long(), games[:, 1].long(), games[:, 2]
    d = theta[i] - theta[j]
    return (s * torch.nn.functional.logsigmoid(d) + (1 - s) * torch.nn.functional.logsigmoid(-d)).sum()


def bradley_terry(games: torch.Tensor, n_players: int, prior: float = 0.0, tol: float = 1e-10,
                  max_iter: int = 100) -> torch.Tensor:
    """The maximum-likelihood strengths :math:`\\theta` (float64, summing to 0) of (BT) for ``games``.

    Newton's method on the log-likelihood minus ``prior / 2 * ||theta||^2`` (``prior = 0`` is the
    plain MLE, which exists when every split of the players into two groups has a win each way).
    Multiply by :data:`ELO_SCALE` for Elo points. Raises if the iteration does not converge.
    """
    games = _check_games(games, n_players)
    i, j, s = games[:, 0].long(), games[:, 1].long(), games[:, 2]
    theta = torch.zeros(n_players, dtype=torch.float64)
    eye = torch.eye(n_players, dtype=torch.float64)
    centre = torch.ones(n_players, n_players, dtype=torch.float64) / n_players
    for _ in range(max_iter):
        p = torch.sigmoid(theta[i] - theta[j])
        residual = s - p                                    # d log L / d (theta_i - theta_j)
        grad = torch.zeros(n_players, dtype=torch.float64).index_add_(0, i, residual).index_add_(0, j, -residual)
        grad -= prior * theta
        w = p * (1 - p)
        hess = torch.zeros(n_players, n_players, dtype=torch.float64)
        hess.index_put_((i, i), w, accumulate=True)
        hess.index_put_((j, j), w, accumulate=True)
        hess.index_put_((i, j), -w, accumulate=True)
        hess.index_put_((j, i), -w, accumulate=True)
        hess += prior * eye
        # the likelihood is flat along theta + c: solve in the subspace sum(theta) = 0
        try:
            step = torch.linalg.solve(hess + centre, grad)
        except RuntimeError:                                # singular: some theta is running off to infinity
            break
        if not bool(torch.isfinite(step).all()):
            break
        theta = theta + step
        theta = theta - theta.mean()
        if float(step.abs().max()) < tol:
            return theta
    raise RuntimeError("Bradley-Terry fit did not converge: some player may have won (or lost) every game; "
                       "pass prior > 0")


def simulate_league(theta: Sequence[float] | torch.Tensor, n_games: int, generator: torch.Generator | None = None,
                    tie_margin: float = 0.0) -> torch.Tensor:
    """``n_games`` games between uniformly random pairs of distinct players, won according to (BT) with ``theta``.

    With ``tie_margin > 0`` a game whose uniform draw falls within ``tie_margin`` of the win
    probability is a tie (score 1/2). Returns an ``(n_games, 3)`` float64 table of rows ``(i, j, score_of_i)``.
    """
    theta = torch.as_tensor(theta, dtype=torch.float64)
    m = len(theta)
    if m < 2:
        raise ValueError("a league needs at least two players")
    i = torch.randint(0, m, (n_games,), generator=generator)
    j = (i + torch.randint(1, m, (n_games,), generator=generator)) % m     # a different player, uniformly
    p = torch.sigmoid(theta[i] - theta[j])
    u = torch.rand(n_games, generator=generator, dtype=torch.float64)
    score = (u < p).double()
    if tie_margin > 0:
        score = torch.where((u - p).abs() < tie_margin, torch.full_like(score, 0.5), score)
    return torch.stack([i.double(), j.double(), score], dim=1)

"""Tests of the synthetic two-mode trajectory data set (DDPM chapter, robotics section)."""

from __future__ import annotations

import pytest
import torch

from genai_foundations.data.trajectories import GOAL, OBSTACLE, START, collides, make_trajectories, path_side


def test_shapes_range_and_reproducibility():
    paths, side = make_trajectories(500, horizon=24, seed=3)
    assert paths.shape == (500, 24, 2) and paths.dtype == torch.float32
    assert side.shape == (500,) and set(side.tolist()) == {-1, 1}
    assert paths.abs().max() <= 1.0
    again, _ = make_trajectories(500, horizon=24, seed=3)
    assert torch.equal(paths, again)
    assert not torch.equal(paths, make_trajectories(500, horizon=24, seed=4)[0])


def test_two_balanced_modes_that_avoid_the_obstacle():
    paths, side = make_trajectories(4000, seed=0)
    assert torch.equal(path_side(paths), side)
    assert abs((side > 0).float().mean().item() - 0.5) < 0.04
    assert not collides(paths).any()
    # paths start near START and end near GOAL
    assert (paths[:, 0] - torch.tensor(START)).norm(dim=1).max() < 0.2
    assert (paths[:, -1] - torch.tensor(GOAL)).norm(dim=1).max() < 0.2
    # the average path, the answer of a regression to the mean, runs into the obstacle
    assert collides(paths.mean(dim=0, keepdim=True)).item()


def test_collision_check_catches_a_segment_through_the_obstacle():
    # two way points on either side of the obstacle: no point is inside, the segment is
    r = OBSTACLE.radius
    crossing = torch.tensor([[[-2 * r, 0.0], [2 * r, 0.0]]])
    assert collides(crossing).item()
    assert not collides(crossing + torch.tensor([0.0, 2 * r])).item()


def test_errors():
    with pytest.raises(ValueError, match="positive int"):
        make_trajectories(0)
    with pytest.raises(ValueError, match=r"\(n, horizon, 2\)"):
        path_side(torch.zeros(3, 4))

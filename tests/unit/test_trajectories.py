"""Tests of the synthetic two-mode trajectory data set (DDPM chapter, robotics section)."""

from __future__ import annotations

import pytest
import torch

from genai_foundations.data.trajectories import (GOAL, OBSTACLE, START, collides, jaggedness, largest_step,
                                                make_trajectories, path_side, random_waypoint_conditions,
                                                waypoint_condition, waypoint_constraints)


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


def test_default_data_set_is_unchanged_by_the_endpoint_spread_option():
    default, side = make_trajectories(300, seed=5)
    again, side_again = make_trajectories(300, seed=5, endpoint_spread=0.0)
    assert torch.equal(default, again) and torch.equal(side, side_again)


def test_endpoint_spread_moves_start_and_goal_and_keeps_the_paths_clear():
    paths, side = make_trajectories(4000, seed=1, endpoint_spread=0.15)
    start_y, goal_y = paths[:, 0, 1], paths[:, -1, 1]
    assert start_y.std() > 0.07 and goal_y.std() > 0.07                     # uniform on [-0.15, 0.15]: std 0.087
    assert abs(torch.corrcoef(torch.stack([start_y, goal_y]))[0, 1].item()) < 0.06  # drawn independently
    assert not collides(paths).any() and paths.abs().max() <= 1.0
    assert torch.equal(path_side(paths), side)
    assert abs((side > 0).float().mean().item() - 0.5) < 0.04
    with pytest.raises(ValueError, match="endpoint_spread"):
        make_trajectories(10, endpoint_spread=0.5)


def test_waypoint_constraints_and_path_measures():
    known, mask = waypoint_constraints(8, {0: (-0.8, 0.1), -1: (0.8, -0.1)})
    assert known.shape == mask.shape == (1, 8, 2) and mask.dtype == torch.bool
    assert mask[0, :, 0].tolist() == [True] + [False] * 6 + [True]
    assert known[0, 0].tolist() == pytest.approx([-0.8, 0.1]) and known[0, 7].tolist() == pytest.approx([0.8, -0.1])
    with pytest.raises(ValueError, match="outside"):
        waypoint_constraints(8, {8: (0.0, 0.0)})
    straight = torch.stack([torch.linspace(0, 1, 11), torch.zeros(11)], dim=1)[None]
    assert jaggedness(straight) == pytest.approx(0.0, abs=1e-7)
    assert largest_step(straight).tolist() == pytest.approx([0.1])
    bent = straight.clone()
    bent[0, 5, 1] = 0.3                                                      # one way point pulled aside
    assert jaggedness(bent) > 0.05 and largest_step(bent).item() > 0.3


def test_random_waypoint_conditions_fix_the_paths_own_points():
    paths, _ = make_trajectories(2000, horizon=16, seed=2, endpoint_spread=0.1)
    cond = random_waypoint_conditions(paths, torch.Generator().manual_seed(0), p_free=0.5, p_via=0.5)
    assert cond.shape == (2000, 16, 3)
    fixed = cond[..., 2] > 0
    assert torch.equal(cond[..., :2], paths * fixed[..., None])                  # the path's own values, zeros elsewhere
    ends = fixed[:, 0]
    assert torch.equal(ends, fixed[:, -1])                                       # start and goal come together
    assert abs(ends.float().mean().item() - 0.5) < 0.05
    interior = fixed[:, 1:-1].sum(dim=1)
    assert interior.max() <= 1 and not interior[~ends].any()                     # at most one via point, only with ends
    assert abs(interior[ends].float().mean().item() - 0.5) < 0.07
    free_only = random_waypoint_conditions(paths, torch.Generator().manual_seed(0), p_free=1.0)
    assert not free_only.any()
    known, mask = waypoint_constraints(16, {0: (-0.8, 0.1), -1: (0.8, 0.0)})
    assert torch.equal(waypoint_condition(known, mask)[0, 0], torch.tensor([-0.8, 0.1, 1.0]))

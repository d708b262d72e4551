"""The two-spirals data set (chapter 1's second 2-D data set): shape, geometry, seeding, registry."""

from __future__ import annotations

import math

import pytest
import torch

from genai_foundations.data import make_spirals, make_toy2d


def _angle_gap(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance between two angles on the circle, in [0, pi]."""
    return torch.remainder(a - b + math.pi, 2 * math.pi).sub(math.pi).abs()


def test_noise_free_points_lie_on_two_opposite_spiral_arms():
    turns = 1.5
    points = make_spirals(2000, noise=0.0, turns=turns, seed=3)
    assert points.shape == (2000, 2) and points.dtype == torch.float32
    radius = points.norm(dim=1) / 2                           # the generator scales the unit spiral by 2
    assert radius.max() <= 1.0 + 1e-6
    arm_angle = radius * turns * 2 * math.pi                  # the angle of the first arm at this radius
    angle = torch.atan2(points[:, 1], points[:, 0])
    first = _angle_gap(angle, arm_angle) < 1e-3
    second = _angle_gap(angle, arm_angle + math.pi) < 1e-3    # the second arm is the first one turned by pi
    assert bool((first | second).all())
    assert int(first.sum()) == 1000 and int(second.sum()) == 1000


def test_the_two_arms_are_point_reflections_of_each_other_in_distribution():
    points = make_spirals(20_000, seed=0)
    assert points.mean(0).abs().max() < 0.05                  # symmetric about the origin
    assert 0.8 < points.std(0).min() and points.std(0).max() < 1.2
    assert points.norm(dim=1).max() < 2.5                     # "about [-2, 2]^2" plus the noise


def test_seeding_and_the_registry():
    torch.testing.assert_close(make_spirals(50, seed=7), make_spirals(50, seed=7))
    assert not torch.equal(make_spirals(50, seed=7), make_spirals(50, seed=8))
    torch.testing.assert_close(make_toy2d("spirals", 50, seed=7), make_spirals(50, seed=7))
    gen = torch.Generator().manual_seed(1)
    torch.testing.assert_close(make_spirals(10, seed=gen), make_spirals(10, seed=torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="positive int"):
        make_spirals(0)

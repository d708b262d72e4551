"""Tests of chapter 25's imitation learning (genai_foundations.rl.imitation)."""

from __future__ import annotations

import pytest
import torch

from genai_foundations.rl.imitation import (behaviour_cloning, dagger, dagger_aggregate, episode_returns,
                                            expert_actions, fit_policy, visited_states)
from genai_foundations.rl.networks import CategoricalPolicy


class _RuleExpert(torch.nn.Module):
    """Push the cart towards the side the pole leans to: logits (-(angle + ang. velocity), +(...))."""

    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, obs):
        s = obs[:, 2] + obs[:, 3]
        return torch.stack([-s, s], -1)


def test_dagger_aggregate_appends_expert_labels_and_leaves_inputs_alone():
    obs, act = torch.randn(3, 4), torch.tensor([0, 1, 1])
    new, logits = torch.randn(2, 4), torch.tensor([[0.1, 2.0], [3.0, -1.0]])
    keep = (obs.clone(), act.clone())
    o, a = dagger_aggregate(obs, act, new, logits)
    torch.testing.assert_close(o, torch.cat([obs, new]))
    assert a.tolist() == [0, 1, 1, 1, 0] and a.dtype == act.dtype
    torch.testing.assert_close(obs, keep[0])
    assert torch.equal(act, keep[1])
    with pytest.raises(ValueError):
        dagger_aggregate(obs, act, new, logits[:1])


def test_visited_states_and_returns_of_a_rule_expert():
    expert = _RuleExpert()
    s = visited_states(expert, 30, seed=0)
    assert s.shape == (30, 4) and s[:, 2].abs().max() < 0.21   # the pole angle of a running episode
    assert expert_actions(expert, s).shape == (30,)
    assert episode_returns(expert, 2, seed=0).min() >= 200      # the simple rule balances the pole
    assert episode_returns(CategoricalPolicy(4, 2), 2, seed=0, action_noise=1.0).max() < 100


def test_bc_fits_the_expert_labels_and_dagger_runs_its_rounds():
    expert = _RuleExpert()
    obs = torch.randn(200, 4) * 0.1
    pol = fit_policy(obs, expert_actions(expert, obs), steps=200)
    assert (expert_actions(pol, obs) == expert_actions(expert, obs)).float().mean() > 0.9
    assert isinstance(behaviour_cloning(expert, 20, steps=20), CategoricalPolicy)
    seen = []
    dagger(expert, 10, 3, steps=20, on_round=lambda n, p: seen.append(n))
    assert seen == [10, 20, 30]
    with pytest.raises(ValueError):
        dagger(expert, 10, 0)

"""Reward-to-go and GAE against returns computed by hand (chapter 24)."""

import pytest
import torch

from genai_foundations.rl.returns import discounted_return, gae, reward_to_go


def test_discounted_return_by_hand():
    assert float(discounted_return(torch.tensor([1.0, 2.0, 3.0]), 0.5)) == pytest.approx(1 + 0.5 * 2 + 0.25 * 3)


def test_reward_to_go_by_hand_with_episode_boundary():
    rewards = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0])
    dones = torch.tensor([False, False, True, False, False])  # episode 1: steps 0-2; episode 2 unfinished
    g = 0.9
    expected = torch.tensor([1 + g * 2 + g * g * 3, 2 + g * 3, 3.0, 4 + g * 5, 5.0])
    torch.testing.assert_close(reward_to_go(rewards, g, dones), expected)
    # undiscounted, no boundary: suffix sums
    torch.testing.assert_close(reward_to_go(rewards), torch.tensor([15.0, 14.0, 12.0, 9.0, 5.0]))


def test_reward_to_go_columns_are_independent_environments():
    rewards = torch.tensor([[1.0, 10.0], [1.0, 10.0], [1.0, 10.0]])
    dones = torch.tensor([[False, True], [False, False], [True, False]])
    out = reward_to_go(rewards, 1.0, dones)
    torch.testing.assert_close(out, torch.tensor([[3.0, 10.0], [2.0, 20.0], [1.0, 10.0]]))


def test_gae_by_hand_with_termination_and_truncation():
    g, lam = 0.9, 0.8
    rewards = torch.tensor([1.0, 1.0, 1.0, 1.0])
    values = torch.tensor([0.5, 0.4, 0.3, 0.2])
    next_values = torch.tensor([0.4, 7.0, 0.2, 0.6])  # step 1 ends by truncation: bootstrap from its own V(s') = 7
    terminated = torch.tensor([False, False, False, True])
    dones = torch.tensor([False, True, False, True])
    d = [1 + g * 0.4 - 0.5, 1 + g * 7.0 - 0.4, 1 + g * 0.2 - 0.3, 1 - 0.2]  # the last one: terminal, no bootstrap
    a3 = d[3]
    a2 = d[2] + g * lam * a3
    a1 = d[1]  # the episode ended after step 1
    a0 = d[0] + g * lam * a1
    adv, ret = gae(rewards, values, next_values, terminated, dones, g, lam)
    torch.testing.assert_close(adv, torch.tensor([a0, a1, a2, a3]))
    torch.testing.assert_close(ret, adv + values)


def test_gae_limits_lambda_one_and_zero():
    torch.manual_seed(0)
    rewards, values = torch.randn(6, 3), torch.randn(6, 3)
    next_values = torch.cat([values[1:], torch.zeros(1, 3)])
    terminated = torch.zeros(6, 3, dtype=torch.bool)
    terminated[-1] = True
    adv1, _ = gae(rewards, values, next_values, terminated, terminated, 0.9, 1.0)
    torch.testing.assert_close(adv1, reward_to_go(rewards, 0.9, terminated) - values)
    adv0, _ = gae(rewards, values, next_values, terminated, terminated, 0.9, 0.0)
    torch.testing.assert_close(adv0, rewards + 0.9 * next_values * (~terminated) - values)


def test_bad_input_says_what_was_expected():
    with pytest.raises(ValueError, match="gamma"):
        reward_to_go(torch.ones(3), 1.5)
    with pytest.raises(ValueError, match="shape"):
        reward_to_go(torch.ones(3), 0.9, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="next_values"):
        gae(torch.ones(3), torch.ones(3), torch.ones(2))

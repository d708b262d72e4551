"""Policies, critics, the squashed Gaussian, soft updates and the replay buffer (chapter 24)."""

import copy
import math

import pytest
import torch
from torch.distributions import Normal, TanhTransform, TransformedDistribution

from genai_foundations.rl.buffers import ReplayBuffer
from genai_foundations.rl.networks import (CategoricalPolicy, QNetwork, SquashedGaussianPolicy, mlp, soft_update,
                                           squashed_gaussian_log_prob)


def test_squashed_gaussian_log_prob_is_the_change_of_variables():
    torch.manual_seed(0)
    mean, log_std = torch.randn(5, 3, dtype=torch.float64), 0.3 * torch.randn(5, 3, dtype=torch.float64)
    u = mean + log_std.exp() * torch.randn(5, 3, dtype=torch.float64)
    ours = squashed_gaussian_log_prob(u, mean, log_std)
    # log p(a) = log N(u) - log|det da/du|, with the Jacobian of tanh computed by autograd
    for i in range(5):
        jac = torch.autograd.functional.jacobian(torch.tanh, u[i])
        expected = Normal(mean[i], log_std[i].exp()).log_prob(u[i]).sum() - torch.linalg.slogdet(jac).logabsdet
        torch.testing.assert_close(ours[i], expected)
    library = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform()]).log_prob(torch.tanh(u)).sum(-1)
    torch.testing.assert_close(ours, library)


def test_squashed_gaussian_log_prob_stays_finite_where_tanh_saturates():
    u = torch.tensor([[30.0, -30.0]])
    out = squashed_gaussian_log_prob(u, torch.zeros(1, 2), torch.zeros(1, 2))
    assert torch.isfinite(out).all()
    expected = Normal(0.0, 1.0).log_prob(u).sum() - 2 * (2 * (math.log(2) - 30.0 - math.log1p(math.exp(-60.0))))
    assert float(out) == pytest.approx(float(expected), rel=1e-6)


def test_squashed_policy_actions_are_bounded_and_reparameterised():
    torch.manual_seed(0)
    policy = SquashedGaussianPolicy(3, 2, act_limit=2.0, hidden=(16,))
    obs = torch.randn(64, 3)
    action, log_prob = policy(obs)
    assert action.shape == (64, 2) and log_prob.shape == (64,)
    assert action.abs().max() <= 2.0
    (action.sum() + log_prob.sum()).backward()
    assert policy.mean.weight.grad is not None and policy.mean.weight.grad.abs().sum() > 0


def test_soft_update_matches_its_formula():
    torch.manual_seed(0)
    source, target = QNetwork(3, 1, (8,)), QNetwork(3, 1, (8,))
    before = copy.deepcopy(target)
    soft_update(target, source, 0.1)
    for t, b, s in zip(target.parameters(), before.parameters(), source.parameters()):
        torch.testing.assert_close(t, 0.1 * s + 0.9 * b)
    soft_update(target, source, 1.0)
    for t, s in zip(target.parameters(), source.parameters()):
        torch.testing.assert_close(t, s)
    with pytest.raises(ValueError, match="tau"):
        soft_update(target, source, 1.5)
    with pytest.raises(ValueError, match="shapes"):
        soft_update(target, QNetwork(3, 1, (9,)), 0.5)


def test_categorical_policy_log_prob_matches_distribution():
    torch.manual_seed(0)
    policy = CategoricalPolicy(4, 3, (8,))
    obs, actions = torch.randn(10, 4), torch.randint(0, 3, (10,))
    torch.testing.assert_close(policy.log_prob(obs, actions), policy.distribution(obs).log_prob(actions))
    assert policy.act(obs, deterministic=True).tolist() == policy(obs).argmax(-1).tolist()


def test_mlp_rejects_bad_sizes():
    with pytest.raises(ValueError, match="sizes"):
        mlp([4])


def test_replay_buffer_overwrites_the_oldest_and_samples_stored_transitions():
    buffer = ReplayBuffer(obs_dim=2, act_dim=1, capacity=3)
    for i in range(5):
        buffer.add([i, i], [i], float(i), [i + 1, i + 1], i == 4)
    assert len(buffer) == 3
    assert sorted(buffer.rewards.tolist()) == [2.0, 3.0, 4.0]
    batch = buffer.sample(50, torch.Generator().manual_seed(0))
    assert set(batch["rewards"].tolist()) <= {2.0, 3.0, 4.0}
    torch.testing.assert_close(batch["next_obs"][:, 0], batch["obs"][:, 0] + 1)
    torch.testing.assert_close(batch["terminated"], (batch["rewards"] == 4.0).float())
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(2, 1, 3).sample(1)

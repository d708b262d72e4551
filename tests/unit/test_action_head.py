"""Tests of the flow-matching action head of chapter 19 (algorithms/action_head.py)."""

import pytest
import torch

from genai_foundations.algorithms import action_head as ah


def test_noised_chunk_velocity_is_data_minus_noise():
    """d/dtau (tau A + (1 - tau) eps) = A - eps, checked with autograd."""
    gen = torch.Generator().manual_seed(0)
    a, eps = torch.randn(3, 8, 2, generator=gen), torch.randn(3, 8, 2, generator=gen)
    tau = torch.rand(3, generator=gen, requires_grad=True)
    a_tau = tau[:, None, None] * a + (1 - tau[:, None, None]) * eps
    (grad,) = torch.autograd.grad(a_tau.sum(), tau)
    torch.testing.assert_close(grad, (a - eps).sum(dim=(1, 2)))


def test_euler_with_the_exact_velocity_reaches_the_data():
    """With V = A - eps (known), K Euler steps from eps land on A exactly; the notes' sign lands on 2 eps - A."""
    gen = torch.Generator().manual_seed(1)
    a, eps = torch.randn(4, 8, 2, generator=gen, dtype=torch.float64), torch.randn(4, 8, 2, generator=gen, dtype=torch.float64)
    for k in (1, 4, 10):
        torch.testing.assert_close(ah.euler_actions(lambda x, t: a - eps, eps, k), a)
        torch.testing.assert_close(ah.euler_actions(lambda x, t: eps - a, eps, k), 2 * eps - a)
    seen = []
    ah.euler_actions(lambda x, t: seen.append(t[0].item()) or torch.zeros_like(x), eps, 4)
    assert seen == [0.0, 0.25, 0.5, 0.75]
    # dx/dtau = -x from x0 = 1: Euler gives (1 - 1/K)^K
    out = ah.euler_actions(lambda x, t: -x, torch.ones(1, 1, dtype=torch.float64), 5)
    assert out.item() == pytest.approx(0.8 ** 5)
    with pytest.raises(ValueError):
        ah.euler_actions(lambda x, t: x, eps, 0)


def test_expert_chunk_reaches_a_near_goal_and_wiggles_to_zero():
    p, g = torch.zeros(2, 2), torch.tensor([[2.0, 0.0], [0.05, 0.05]])
    chunk = ah.expert_chunk(p, g, horizon=8, max_step=0.1, side=torch.tensor([1.0, -1.0]))
    # far goal: eight full steps, the wiggle sums to zero; near goal: reached in the first step
    torch.testing.assert_close(chunk.sum(dim=1), torch.tensor([[0.8, 0.0], [0.05, 0.05]]))
    assert chunk.norm(dim=-1).max() <= 0.1 * (1 + 0.3) + 1e-6
    with pytest.raises(ValueError):
        ah.expert_chunk(torch.zeros(2, 3), torch.zeros(2, 3))


def test_loss_target_sign_and_rollout_shapes():
    torch.manual_seed(0)
    head = ah.ActionHead(horizon=4)
    gen = torch.Generator().manual_seed(0)
    obs, chunks = ah.demonstrations(5, gen, horizon=4)
    assert obs.shape == (5, 4) and chunks.shape == (5, 4, 2)
    right = ah.action_flow_loss(head, obs, chunks, torch.Generator().manual_seed(3), 1.0)
    wrong = ah.action_flow_loss(head, obs, chunks, torch.Generator().manual_seed(3), -1.0)
    assert right.item() != wrong.item()
    paths = ah.rollout(lambda o: ah.sample_chunks(head, o, 2, gen), obs[:, :2], obs[:, 2:], chunks=3)
    assert paths.shape == (5, 13, 2)
    assert 0.0 <= ah.success_rate(paths, obs[:, 2:]) <= 1.0

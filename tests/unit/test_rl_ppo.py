"""PPO's clipped objective against its definition, and short runs of every algorithm (chapter 24)."""

import numpy as np
import pytest
import torch

from genai_foundations.rl.ddpg import DDPGConfig, train_ddpg
from genai_foundations.rl.evaluation import evaluate_policy
from genai_foundations.rl.ppo import PPOConfig, ppo_clip_objective, train_ppo
from genai_foundations.rl.reinforce import ReinforceConfig, train_reinforce
from genai_foundations.rl.sac import SACConfig, train_sac
from genai_foundations.rl.td3 import TD3Config, train_td3
from genai_foundations.rl.trpo import TRPOConfig, train_trpo
from genai_foundations.rl.vpg import VPGConfig, train_vpg


def test_ppo_clip_objective_matches_its_definition():
    torch.manual_seed(0)
    old = torch.randn(200, dtype=torch.float64)
    new = old + 0.5 * torch.randn(200, dtype=torch.float64)
    adv = torch.randn(200, dtype=torch.float64)
    eps = 0.2
    terms = []
    for lp, olp, a in zip(new.tolist(), old.tolist(), adv.tolist()):
        r = np.exp(lp - olp)
        terms.append(min(r * a, min(max(r, 1 - eps), 1 + eps) * a))
    assert float(ppo_clip_objective(new, old, adv, eps)) == pytest.approx(-np.mean(terms), rel=1e-12)


def test_ppo_clip_gives_no_gradient_beyond_the_clip_in_the_advantage_direction():
    old = torch.zeros(4)
    new = torch.log(torch.tensor([1.5, 1.5, 0.5, 0.5])).requires_grad_(True)
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    ppo_clip_objective(new, old, adv, 0.2).backward()
    # ratio 1.5 with A > 0 and ratio 0.5 with A < 0 are clipped: no push further; the other two still pull back
    assert new.grad[0] == 0 and new.grad[3] == 0
    assert new.grad[1] != 0 and new.grad[2] != 0
    with pytest.raises(ValueError, match="shape"):
        ppo_clip_objective(torch.zeros(3), torch.zeros(3), torch.zeros(4), 0.2)


def test_every_algorithm_runs_and_logs_episodes():
    torch.manual_seed(0)
    small = (16,)
    runs = [
        train_reinforce("CartPole-v1", 300, 0, config=ReinforceConfig(episodes_per_batch=4, hidden=small)),
        train_vpg("CartPole-v1", 512, 0, config=VPGConfig(num_envs=2, n_steps=128, hidden=small)),
        train_trpo("CartPole-v1", 512, 0, config=TRPOConfig(num_envs=2, n_steps=128, hidden=small)),
        train_ppo("CartPole-v1", 512, 0, config=PPOConfig(num_envs=2, n_steps=128, epochs=2, hidden=small)),
        train_ddpg("Pendulum-v1", 260, 0, config=DDPGConfig(learning_starts=200, batch_size=32, hidden=small)),
        train_td3("Pendulum-v1", 260, 0, config=TD3Config(learning_starts=200, batch_size=32, hidden=small)),
        train_sac("Pendulum-v1", 260, 0, config=SACConfig(learning_starts=200, batch_size=32, hidden=small)),
    ]
    for run in runs:
        assert run.env_steps >= 256 and len(run.log.returns) >= 1 and run.steps_per_second > 0
    assert max(runs[-1].log.returns) <= 0  # Pendulum's rewards are never positive


def test_evaluation_is_reproducible_and_greedy():
    torch.manual_seed(0)
    run = train_ppo("CartPole-v1", 256, 0, config=PPOConfig(num_envs=2, n_steps=128, epochs=1, hidden=(8,)))
    a = evaluate_policy(run.policy, "CartPole-v1", 3, seed=5)
    b = evaluate_policy(run.policy, "CartPole-v1", 3, seed=5)
    assert a.shape == (3,) and np.array_equal(a, b)
    with pytest.raises(ValueError, match="classic-control"):
        evaluate_policy(run.policy, "Humanoid-v5", 1)
    with pytest.raises(ValueError, match="discrete"):
        train_sac("CartPole-v1", 10, 0)

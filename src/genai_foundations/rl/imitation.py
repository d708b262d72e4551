"""Imitation learning on classic control: behaviour cloning and DAgger with a trained expert.

* Behaviour cloning (BC) fits the learner :math:`\\pi_\\theta` to expert
  labels on the states the *expert* visits, by minimising the cross-entropy
  :math:`-\\frac1N\\sum_i\\log\\pi_\\theta(a^E_i\\mid s_i)`. At run time the learner
  visits its own states; an early mistake leads it where it has no data, and
  errors compound (:math:`O(\\epsilon T^2)` in the horizon :math:`T`).
* DAgger (dataset aggregation, Ross et al. 2011) runs the current learner,
  asks the expert to label the states the learner visited
  :math:`a^E = \\arg\\max_a\\pi_E(a\\mid s)`, aggregates them with all earlier
  data (:func:`dagger_aggregate`) and retrains: the training data come from the
  learner's own state distribution, and the error grows as :math:`O(\\epsilon T)`.

The expert is the chapter-24 PPO policy (``load_checkpoint("cartpole-ppo")``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genai_foundations.rl.envs import make_env
from genai_foundations.rl.networks import CategoricalPolicy


@torch.no_grad()
def expert_actions(expert: nn.Module, obs: Tensor) -> Tensor:
    """The expert's labels :math:`a^E = \\arg\\max_a \\pi_E(a\\mid s)` (N,) for observations (N, obs_dim)."""
    return expert(obs.float()).argmax(dim=-1)


@torch.no_grad()
def visited_states(policy: nn.Module, n_states: int, *, env_id: str = "CartPole-v1", seed: int = 0,
                   start_range: float = 0.05, action_noise: float = 0.0) -> Tensor:
    """``n_states`` states (n_states, obs_dim) drawn uniformly from whole episodes of ``policy`` acting greedily.

    Episodes are run to their end (episode ``k`` starts from ``reset(seed=seed + k)``
    with every state variable uniform in ``[-start_range, start_range]``; CartPole's
    default is 0.05, a wider range perturbs the starts) until they hold at least
    ``n_states`` states; then ``n_states`` of them are drawn without replacement,
    so the labels cover the late parts of an episode, where a learner drifts.
    With probability ``action_noise`` a step takes a uniformly random action
    instead (a noisy actuator).
    """
    if n_states < 1:
        raise ValueError(f"n_states must be positive, got {n_states}")
    env = make_env(env_id)
    env.action_space.seed(seed)
    rng = np.random.default_rng(seed)
    options = {"low": -start_range, "high": start_range} if env_id == "CartPole-v1" else None
    states, k = [], 0
    while len(states) < n_states:
        obs, _ = env.reset(seed=seed + k, options=options)
        k += 1
        done = False
        while not done:
            states.append(obs)
            action = policy(torch.as_tensor(obs, dtype=torch.float32)[None]).argmax(-1).item()
            if action_noise > 0 and rng.random() < action_noise:
                action = int(env.action_space.sample())
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    env.close()
    pick = np.sort(rng.choice(len(states), size=n_states, replace=False))
    return torch.as_tensor(np.array(states)[pick], dtype=torch.float32)


@torch.no_grad()
def episode_returns(policy: nn.Module, episodes: int = 10, *, env_id: str = "CartPole-v1", seed: int = 10_000,
                    start_range: float = 0.05, action_noise: float = 0.0) -> np.ndarray:
    """Returns of ``episodes`` greedy episodes (starts and noise as in :func:`visited_states`)."""
    if episodes < 1:
        raise ValueError(f"episodes must be positive, got {episodes}")
    env = make_env(env_id)
    env.action_space.seed(seed)
    rng = np.random.default_rng(seed)
    options = {"low": -start_range, "high": start_range} if env_id == "CartPole-v1" else None
    totals = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i, options=options)
        done = False
        while not done:
            action = policy(torch.as_tensor(obs, dtype=torch.float32)[None]).argmax(-1).item()
            if action_noise > 0 and rng.random() < action_noise:
                action = int(env.action_space.sample())
            obs, reward, terminated, truncated, _ = env.step(action)
            totals[i] += reward
            done = terminated or truncated
    env.close()
    return totals


def dagger_aggregate(data_obs: Tensor, data_actions: Tensor, visited_obs: Tensor,
                     expert_logits: Tensor) -> tuple[Tensor, Tensor]:
    """DAgger's aggregation :math:`\\mathcal D \\leftarrow \\mathcal D\\cup\\{(s, \\arg\\max_a \\pi_E(a\\mid s))\\}`.

    Returns new tensors (the inputs are left unchanged): the old observations
    followed by ``visited_obs``, and the old actions followed by the expert's
    greedy labels of the visited states (``expert_logits``: (M, n_actions)).
    """
    if visited_obs.shape[0] != expert_logits.shape[0]:
        raise ValueError(f"one row of expert logits per visited state, got {visited_obs.shape[0]} states and "
                         f"{expert_logits.shape[0]} rows")
    if data_obs.shape[0] != data_actions.shape[0]:
        raise ValueError(f"data_obs and data_actions disagree in length: {data_obs.shape[0]}, {data_actions.shape[0]}")
    labels = expert_logits.argmax(dim=-1).to(data_actions.dtype)
    return torch.cat([data_obs, visited_obs.to(data_obs.dtype)]), torch.cat([data_actions, labels])


def fit_policy(obs: Tensor, actions: Tensor, *, hidden: Sequence[int] = (32,), steps: int = 300, lr: float = 1e-2,
               seed: int = 0) -> CategoricalPolicy:
    """Behaviour cloning: a fresh :class:`CategoricalPolicy` trained by full-batch Adam on the cross-entropy."""
    if obs.shape[0] == 0 or obs.shape[0] != actions.shape[0]:
        raise ValueError(f"need as many observations as actions (and some), got {obs.shape[0]}, {actions.shape[0]}")
    torch.manual_seed(seed)
    policy = CategoricalPolicy(obs.shape[1], 2 if actions.max() < 2 else int(actions.max()) + 1, hidden)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    for _ in range(steps):
        loss = F.cross_entropy(policy(obs), actions.long())
        opt.zero_grad()
        loss.backward()
        opt.step()
    policy.eval()
    return policy


def behaviour_cloning(expert: nn.Module, n_labels: int, *, env_id: str = "CartPole-v1", seed: int = 0,
                      start_range: float = 0.05, action_noise: float = 0.0, **fit) -> CategoricalPolicy:
    """BC with ``n_labels`` expert labels on states drawn from the expert's own episodes."""
    obs = visited_states(expert, n_labels, env_id=env_id, seed=seed, start_range=start_range,
                         action_noise=action_noise)
    return fit_policy(obs, expert_actions(expert, obs), seed=seed, **fit)


def dagger(expert: nn.Module, labels_per_round: int, rounds: int, *, env_id: str = "CartPole-v1", seed: int = 0,
           start_range: float = 0.05, action_noise: float = 0.0, on_round: Callable[[int, CategoricalPolicy], None] | None = None,
           **fit) -> CategoricalPolicy:
    """DAgger with ``rounds * labels_per_round`` expert labels in all.

    Round 0 is behaviour cloning on the expert's states; each later round runs
    the current learner for ``labels_per_round`` states (new episode seeds),
    labels them by the expert, aggregates with :func:`dagger_aggregate` and
    retrains on everything. ``on_round(labels_so_far, learner)`` sees every round's learner.
    """
    if rounds < 1 or labels_per_round < 1:
        raise ValueError(f"rounds and labels_per_round must be positive, got {rounds}, {labels_per_round}")
    obs = visited_states(expert, labels_per_round, env_id=env_id, seed=seed, start_range=start_range,
                         action_noise=action_noise)
    actions = expert_actions(expert, obs)
    learner = fit_policy(obs, actions, seed=seed, **fit)
    if on_round is not None:
        on_round(labels_per_round, learner)
    for r in range(1, rounds):
        new = visited_states(learner, labels_per_round, env_id=env_id, seed=seed + 1000 * r,
                             start_range=start_range, action_noise=action_noise)
        with torch.no_grad():
            logits = expert(new)
        obs, actions = dagger_aggregate(obs, actions, new, logits)
        learner = fit_policy(obs, actions, seed=seed, **fit)
        if on_round is not None:
            on_round(labels_per_round * (r + 1), learner)
    return learner

"""Figures of the deep-RL chapter (24), drawn from the package's own objects.

* :func:`agent_environment_diagram` -- the loop :math:`s_t \\to a_t \\to (r_t, s_{t+1})`
  with the real policy network's layer sizes and the real environment's spaces;
* :data:`FAMILY` and :func:`family_diagram` -- the algorithms of :mod:`genai_foundations.rl`
  as a family tree (what each adds to its parent), each box naming the package
  function that trains it; :func:`family_table` gives the same facts as rows;
* :func:`learning_curves` -- mean training return against environment steps, one line
  per algorithm, shaded between the lowest and highest seed.

Every figure has a white background and is returned, for the chapter's caption.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from genai_foundations.rl import ddpg, ppo, reinforce, sac, td3, trpo, vpg
from genai_foundations.rl.envs import make_env, space_sizes
from genai_foundations.rl.evaluation import EpisodeLog

__all__ = ["FAMILY", "Algorithm", "agent_environment_diagram", "family_diagram", "family_table", "learning_curves"]


@dataclass(frozen=True)
class Algorithm:
    """One member of the family: its trainer and config class, its parent, and what it adds."""

    name: str
    train: Callable
    config: type
    parent: str | None
    adds: str
    policy: str
    data: str
    actions: str


FAMILY: tuple[Algorithm, ...] = (
    Algorithm("REINFORCE", reinforce.train_reinforce, reinforce.ReinforceConfig, None,
              "log-derivative trick, reward-to-go, baseline", "stochastic", "on-policy", "discrete / continuous"),
    Algorithm("VPG", vpg.train_vpg, vpg.VPGConfig, "REINFORCE",
              "learned V, GAE advantages", "stochastic", "on-policy", "discrete / continuous"),
    Algorithm("TRPO", trpo.train_trpo, trpo.TRPOConfig, "VPG",
              "KL trust region: CG + line search", "stochastic", "on-policy", "discrete / continuous"),
    Algorithm("PPO", ppo.train_ppo, ppo.PPOConfig, "TRPO",
              "clipped ratio, many epochs", "stochastic", "on-policy", "discrete / continuous"),
    Algorithm("DDPG", ddpg.train_ddpg, ddpg.DDPGConfig, None,
              "Q-learning + deterministic actor, replay, targets", "deterministic", "off-policy", "continuous"),
    Algorithm("TD3", td3.train_td3, td3.TD3Config, "DDPG",
              "twin critics, target smoothing, delayed actor", "deterministic", "off-policy", "continuous"),
    Algorithm("SAC", sac.train_sac, sac.SACConfig, "TD3",
              "entropy bonus, auto temperature, squashed Gaussian", "stochastic", "off-policy", "continuous"),
)


def family_table() -> list[dict[str, str]]:
    """One row per algorithm: name, parent, what it adds, policy, data, actions, package function, settings."""
    rows = []
    for algo in FAMILY:
        settings = ", ".join(f"{f.name}={f.default}" for f in fields(algo.config)
                             if f.name in ("lr", "pi_lr", "max_kl", "clip", "lam", "tau", "policy_delay",
                                           "episodes_per_batch", "epochs"))
        rows.append({"algorithm": algo.name, "builds on": algo.parent or "-", "adds": algo.adds,
                     "policy": algo.policy, "data": algo.data, "actions": algo.actions,
                     "package": f"{algo.train.__module__.rsplit('.', 1)[-1]}.{algo.train.__name__}",
                     "key settings": settings})
    return rows


def _box(ax: plt.Axes, x: float, y: float, w: float, h: float, text: str, color: str, size: float = 9) -> None:
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02", fc=color, ec="0.25"))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def _arrow(ax: plt.Axes, start, end, label: str = "", offset=(0, 0), rad: float = 0.0) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=14, color="0.2",
                                 connectionstyle=f"arc3,rad={rad}", lw=1.4))
    if label:
        mx, my = (start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1]
        ax.text(mx, my, label, ha="center", va="center", fontsize=10, backgroundcolor="white")


def _layer_sizes(policy: nn.Module) -> list[int]:
    linears = [m for m in policy.modules() if isinstance(m, nn.Linear)]
    return [linears[0].in_features] + [m.out_features for m in linears]


def agent_environment_diagram(policy: nn.Module, env_id: str) -> plt.Figure:
    """The agent-environment loop for ``policy`` acting in ``env_id`` (sizes read from both objects)."""
    obs_dim, act_dim, discrete, act_limit = space_sizes(make_env(env_id))
    sizes = _layer_sizes(policy)
    if sizes[0] != obs_dim:
        raise ValueError(f"the policy takes {sizes[0]} inputs but {env_id} has {obs_dim}-dimensional states")
    fig, ax = plt.subplots(figsize=(8.0, 3.4), facecolor="white")
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 4.2)
    ax.axis("off")
    actions = f"{act_dim} actions" if discrete else f"$a\\in[-{act_limit:g},{act_limit:g}]^{act_dim}$"
    _box(ax, 2.2, 2.1, 3.2, 1.6, f"agent\n$\\pi_\\theta(a\\mid s)$: {type(policy).__name__}\n"
         f"layers {' → '.join(map(str, sizes))}", "#dce9f7")
    _box(ax, 7.8, 2.1, 3.2, 1.6, f"environment\n{env_id}\n$s\\in\\mathbb{{R}}^{obs_dim}$, {actions}", "#e6f2d9")
    _arrow(ax, (3.8, 2.9), (6.2, 2.9), "action $a_t$", offset=(0, 0.3), rad=-0.25)
    _arrow(ax, (6.2, 1.3), (3.8, 1.3), "state $s_{t+1}$, reward $r_{t}$", offset=(0, -0.35), rad=-0.25)
    ax.text(5.0, 4.0, "trajectory $\\tau = (s_0, a_0, r_0, s_1, a_1, r_1, \\dots)$", ha="center", fontsize=10)
    fig.tight_layout()
    return fig


def family_diagram() -> plt.Figure:
    """The family tree of :data:`FAMILY`: on-policy methods on the left, off-policy on the right."""
    fig, ax = plt.subplots(figsize=(10.0, 5.4), facecolor="white")
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 5.6)
    ax.axis("off")
    columns = {"on-policy": 2.6, "off-policy": 7.4}
    colors = {"on-policy": "#dce9f7", "off-policy": "#fbe3cf"}
    positions: dict[str, tuple[float, float]] = {}
    counts = {"on-policy": 0, "off-policy": 0}
    for algo in FAMILY:
        row = counts[algo.data]
        counts[algo.data] += 1
        x, y = columns[algo.data], 4.6 - 1.3 * row
        positions[algo.name] = (x, y)
        _box(ax, x, y, 4.2, 0.85, f"{algo.name}  ({algo.train.__name__})\n{algo.adds}", colors[algo.data], 8.5)
        if algo.parent:
            px, py = positions[algo.parent]
            _arrow(ax, (px, py - 0.45), (x, y + 0.45))
    for name, x in columns.items():
        ax.text(x, 5.35, name + (" policy optimisation" if name == "on-policy" else " actor-critic (replay)"),
                ha="center", fontsize=11, weight="bold")
    fig.tight_layout()
    return fig


def learning_curves(runs: dict[str, Sequence[EpisodeLog]], total_steps: int, ax: plt.Axes | None = None,
                    target: float | None = None, points: int = 60, window: int = 10,
                    title: str | None = None) -> plt.Axes:
    """Mean over seeds of the recent training return against steps, shaded from the worst to the best seed."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 3.6), facecolor="white")
    grid = np.linspace(0, total_steps, points)
    for name, logs in runs.items():
        if not logs:
            raise ValueError(f"no runs for {name!r}")
        curves = np.stack([log.on_grid(grid, window) for log in logs])
        ok = ~np.isnan(curves).any(axis=0)
        mean = curves[:, ok].mean(axis=0)
        line, = ax.plot(grid[ok], mean, label=f"{name} ({len(logs)} seed{'s' if len(logs) > 1 else ''})")
        if len(logs) > 1:
            ax.fill_between(grid[ok], curves[:, ok].min(axis=0), curves[:, ok].max(axis=0), color=line.get_color(),
                            alpha=0.2, lw=0)
    if target is not None:
        ax.axhline(target, color="0.4", ls="--", lw=1, label=f"target {target:g}")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"training return (last {window} episodes)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    ax.figure.set_facecolor("white")
    return ax

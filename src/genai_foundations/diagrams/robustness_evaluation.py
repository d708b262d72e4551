"""Diagrams and figures of chapter 26 (robustness-evaluation), drawn from the package's own functions.

* :func:`pgd_ball_diagram`: PGD iterates in the L-inf and L2 balls of a 2-D input, computed with
  :func:`genai_foundations.algorithms.adversarial.pgd_step` on a small network's loss;
* :func:`smoothing_diagram`: randomized smoothing of a linear 2-D classifier, with the noise votes
  and the certified circle computed by :func:`genai_foundations.algorithms.smoothing.certify`;
* line figures for the chapter's measurements (accuracy against the budget, certified accuracy
  against the radius, attack success against flips, Elo trajectories against Bradley-Terry).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.algorithms import adversarial, smoothing
from genai_foundations.diagrams import white_background


def _toy_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2)).double()
    return net


def pgd_paths(model: nn.Module, x0: torch.Tensor, y: int, eps: float, alpha: float, steps: int,
              box: float = 10.0) -> dict[str, torch.Tensor]:
    """The PGD iterates ``(steps + 1, 2)`` from ``x0`` (2-D) for both norms, without random start (clip to ``[-box, box]``)."""
    paths = {}
    target = torch.tensor([y])
    for norm in adversarial.NORMS:
        x = x0.reshape(1, 2).double()
        trace = [x[0]]
        x_adv = x.clone()
        for _ in range(steps):
            grad, _ = adversarial.input_gradient(model, x_adv, target)
            x_adv = adversarial.pgd_step(x_adv, x, grad, alpha, eps, norm, clip=(-box, box))
            trace.append(x_adv[0])
        paths[norm] = torch.stack(trace)
    return paths


def pgd_ball_diagram(eps: float = 0.6, alpha: float = 0.25, steps: int = 8, seed: int = 0):
    """Two panels: the loss of a small 2-D network with the L-inf square and the L2 disc of radius ``eps``
    around a point, and the PGD iterates of each norm (ascent, then projection). Returns ``(fig, paths)``."""
    net = _toy_net(seed)
    x0 = torch.tensor([0.3, -0.2], dtype=torch.float64)
    with torch.no_grad():
        y = int(net(x0[None]).argmax())
    paths = pgd_paths(net, x0, y, eps, alpha, steps)
    grid = torch.linspace(-1.5, 1.5, 121, dtype=torch.float64)
    gx, gy = torch.meshgrid(grid, grid, indexing="xy")
    with torch.no_grad():
        loss = F.cross_entropy(net(torch.stack([gx.flatten(), gy.flatten()], 1)),
                               torch.full((gx.numel(),), y), reduction="none").reshape(gx.shape)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
    for ax, norm, title in zip(axes, adversarial.NORMS, (r"$L_\infty$ ball: steps along sign$(\nabla)$",
                                                         r"$L_2$ ball: steps along $\nabla/\|\nabla\|_2$")):
        ax.contourf(gx.numpy(), gy.numpy(), loss.numpy(), levels=20, cmap="Blues")
        if norm == "inf":
            ax.add_patch(plt.Rectangle((x0[0] - eps, x0[1] - eps), 2 * eps, 2 * eps, fill=False, lw=2, color="k"))
        else:
            ax.add_patch(plt.Circle((x0[0], x0[1]), eps, fill=False, lw=2, color="k"))
        p = paths[norm].numpy()
        ax.plot(p[:, 0], p[:, 1], "-o", color="tab:red", ms=4, label="PGD iterates")
        ax.plot(*x0.numpy(), "k*", ms=12, label="clean input $x$")
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xlim(-1.5, 1.5)
        ax.set_ylim(-1.5, 1.5)
        ax.legend(loc="lower left", fontsize=8)
    fig.suptitle(f"loss of the true class (darker = higher), budget $\\epsilon$ = {eps}, step $\\eta$ = {alpha}", fontsize=10)
    fig.tight_layout()
    return white_background(fig), paths


class _HalfPlane(nn.Module):
    """A linear 2-D classifier: class 1 on the side ``w . x > b``."""

    def __init__(self, w: Sequence[float], b: float):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float64), requires_grad=False)
        self.b = b

    def forward(self, x):
        s = x.double() @ self.w - self.b
        return torch.stack([-s, s], dim=1)


def smoothing_diagram(sigma: float = 0.5, distance: float = 0.6, n: int = 2000, seed: int = 0):
    """Randomized smoothing of a half-plane classifier at a point ``distance`` from its boundary.

    Returns ``(fig, certificate)``: the noise votes around the point, the boundary, and the circle
    of the certified radius from :func:`~genai_foundations.algorithms.smoothing.certify` (for a
    half-plane the exact radius equals the distance, so the circle nearly touches the boundary).
    """
    model = _HalfPlane([1.0, 0.0], 0.0)
    x = torch.tensor([distance, 0.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    cert = smoothing.certify(model, x, sigma, 100, n, 0.001, num_classes=2, generator=gen)
    noise = x + sigma * torch.randn(400, 2, generator=gen, dtype=torch.float64)
    votes = model(noise).argmax(1)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.axvspan(-3, 0, color="tab:orange", alpha=0.12)
    ax.axvspan(0, 3, color="tab:blue", alpha=0.12)
    ax.axvline(0, color="k", lw=1)
    for c, colour in ((0, "tab:orange"), (1, "tab:blue")):
        pts = noise[votes == c].numpy()
        ax.scatter(pts[:, 0], pts[:, 1], s=6, color=colour, label=f"noisy copies voting class {c}")
    ax.add_patch(plt.Circle((distance, 0), cert.radius, fill=False, lw=2, color="k"))
    ax.plot(distance, 0, "k*", ms=12)
    ax.set_title(f"sigma = {sigma}: p_A >= {cert.p_a_lower:.3f}, certified radius {cert.radius:.3f}", fontsize=10)
    ax.set_xlim(-1.5, 2.5)
    ax.set_ylim(-2, 2)
    ax.set_aspect("equal")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return white_background(fig), cert


def accuracy_vs_budget_figure(curves: dict[str, tuple[Sequence[float], Sequence[float]]], eps_mark: float | None = None,
                              xlabel: str = r"budget $\epsilon$ ($L_\infty$, pixels in $[-1, 1]$)"):
    """One line per ``name -> (budgets, accuracies)``; a dotted vertical line at ``eps_mark``."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    styles = {"FGSM": "--", "PGD": "-"}
    for name, (eps, acc) in curves.items():
        style = next((s for k, s in styles.items() if k in name), "-")
        colour = "tab:red" if "adversarial" in name else "tab:blue"
        ax.plot(eps, acc, style, marker="o", ms=3, color=colour, label=name)
    if eps_mark is not None:
        ax.axvline(eps_mark, color="grey", ls=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return white_background(fig)


def certified_accuracy_figure(radii: Sequence[float], curves: dict[str, Sequence[float]]):
    """Certified accuracy against the L2 radius, one line per ``name -> accuracies``."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, acc in curves.items():
        ax.plot(radii, acc, drawstyle="steps-post", label=name)
    ax.set_xlabel(r"$L_2$ radius $R$")
    ax.set_ylabel("certified accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return white_background(fig)


def flip_success_figure(budgets: Sequence[int], curves: dict[str, Sequence[float]]):
    """Attack success rate against the number of character flips."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, rate in curves.items():
        ax.plot(budgets, rate, marker="o", ms=3, label=name)
    ax.set_xlabel("characters flipped (at most)")
    ax.set_ylabel("share of snippets misclassified")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return white_background(fig)


def elo_figure(trace: torch.Tensor, bradley_terry_elo: torch.Tensor, truth_elo: torch.Tensor):
    """Elo ratings after every game (lines) against the Bradley-Terry fit (dashes) and the true strengths (dots), all centred."""
    fig, ax = plt.subplots(figsize=(7, 4))
    centred = trace - trace.mean(dim=1, keepdim=True)
    games = np.arange(len(trace))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for p in range(trace.shape[1]):
        c = colours[p % len(colours)]
        ax.plot(games, centred[:, p].numpy(), color=c, lw=1, label=f"player {p}")
        ax.axhline(float(bradley_terry_elo[p]), color=c, ls="--", lw=1)
        ax.plot(len(trace) * 1.01, float(truth_elo[p]), "o", color=c, ms=5)
    ax.set_xlabel("games played")
    ax.set_ylabel("rating (Elo points, centred)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=3, loc="upper left")
    fig.tight_layout()
    return white_background(fig)

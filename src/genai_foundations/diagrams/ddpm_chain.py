"""The DDPM forward and reverse chains (chapter 4), drawn from the package's own schedule and sampler.

:func:`ddpm_chain_diagram` draws one image as it travels along the forward
chain :math:`q(x_t \\mid x_{t-1})`, run step by step with
:func:`~genai_foundations.algorithms.ddpm.q_step` on a
:class:`~genai_foundations.algorithms.ddpm.NoiseSchedule`, shown at a few steps
with their :math:`\\bar\\alpha_t`, and, when given, the states of a reverse
chain :math:`p_\\theta(x_{t-1} \\mid x_t)` recorded by the sampler at the same
steps. Arrows point the way each chain runs, in the style of Ho et al.
(2020, figure 2). The figure has a white background and is returned, so the
chapter can put a caption under it.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import ConnectionPatch

from genai_foundations.algorithms.ddpm import NoiseSchedule, q_step

__all__ = ["forward_chain", "ddpm_chain_diagram"]


def forward_chain(x0: torch.Tensor, schedule: NoiseSchedule, steps: Sequence[int],
                  generator: torch.Generator | None = None) -> dict[int, torch.Tensor]:
    """Run (FWD) from ``x0`` one step at a time (t = 1..max(steps)) and keep :math:`x_t` at ``steps``.

    Returns ``{t: x_t}`` (``x_0`` included when 0 is in ``steps``). Unlike
    :func:`~genai_foundations.algorithms.ddpm.q_sample`, which jumps to each step
    with its own noise, this is one sample path of the Markov chain.
    """
    steps = sorted(set(int(t) for t in steps))
    if not steps or steps[0] < 0 or steps[-1] > schedule.T:
        raise ValueError(f"steps must lie in 0..{schedule.T}, got {steps}")
    keep, x = {}, x0.clone()
    if steps[0] == 0:
        keep[0] = x.clone()
    for t in range(1, steps[-1] + 1):
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = q_step(x, t, noise, schedule)
        if t in steps:
            keep[t] = x.clone()
    return keep


def _show(ax: plt.Axes, image: torch.Tensor) -> None:
    ax.imshow(image.detach().float().cpu().reshape(image.shape[-2], image.shape[-1]).clamp(-1, 1).numpy(),
              cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _arrow(fig: plt.Figure, ax_from: plt.Axes, ax_to: plt.Axes, y: float, label: str, color: str) -> None:
    """An arrow from the right edge of ``ax_from`` to the left edge of ``ax_to`` (or back), labelled above."""
    left_to_right = ax_from.get_position().x0 < ax_to.get_position().x0
    start = (1.04, y) if left_to_right else (-0.04, y)
    end = (-0.04, y) if left_to_right else (1.04, y)
    arrow = ConnectionPatch(xyA=start, coordsA="axes fraction", axesA=ax_from, xyB=end, coordsB="axes fraction",
                            axesB=ax_to, arrowstyle="-|>", mutation_scale=12, linewidth=1.4, color=color)
    fig.add_artist(arrow)
    box_a, box_b = ax_from.get_position(), ax_to.get_position()
    x_mid = (min(box_a.x1, box_b.x1) + max(box_a.x0, box_b.x0)) / 2
    y_fig = box_a.y0 + y * box_a.height
    fig.text(x_mid, y_fig + 0.02, label, ha="center", va="bottom", fontsize=8, color=color)


def ddpm_chain_diagram(schedule: NoiseSchedule, x0: torch.Tensor, steps: Sequence[int], *,
                       generator: torch.Generator | None = None,
                       reverse: dict[int, torch.Tensor] | None = None,
                       forward_title: str = r"forward chain $q(x_t\mid x_{t-1})$, fixed",
                       reverse_title: str = r"reverse chain $p_\theta(x_{t-1}\mid x_t)$, learned",
                       ) -> plt.Figure:
    """The forward chain of one image (top row) and, optionally, a reverse chain (bottom row).

    ``x0``: one image (1, C, H, W) or (C, H, W) with values in [-1, 1];
    ``steps``: the steps to show, increasing from 0 to at most T (e.g.
    ``(0, 100, 300, 500, 700, 1000)``). The top row is one sample path of
    (FWD) from :func:`forward_chain`, each panel labelled with t and
    :math:`\\bar\\alpha_t` of ``schedule``; the arrows between panels say how
    many steps of :math:`q` they stand for. ``reverse``: ``{t: x_t}`` for the
    same steps, e.g. recorded with the ``callback`` of
    :func:`~genai_foundations.algorithms.ddpm.sample`; drawn as a second row
    whose arrows point from noise to data.
    """
    steps = [int(t) for t in steps]
    if len(steps) < 2 or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(f"steps must be at least two increasing values, got {steps}")
    if x0.dim() == 3:
        x0 = x0[None]
    if x0.dim() != 4 or x0.shape[0] != 1:
        raise ValueError(f"x0 must be one image (1, C, H, W) or (C, H, W), got {tuple(x0.shape)}")
    if reverse is not None and set(reverse) != set(steps):
        raise ValueError(f"reverse must hold an image for each of the steps {steps}, got {sorted(reverse)}")
    forward = forward_chain(x0.double().cpu(), schedule, steps, generator=generator)
    rows = 1 if reverse is None else 2
    n = len(steps)
    fig, axes = plt.subplots(rows, n, figsize=(1.75 * n, 1.9 + 1.9 * (rows - 1)), squeeze=False)
    fig.patch.set_facecolor("white")
    fig.subplots_adjust(left=0.02, right=0.98, wspace=0.7, hspace=0.75, top=0.8 if rows == 1 else 0.88,
                        bottom=0.17 if rows == 1 else 0.08)
    for k, t in enumerate(steps):
        abar = schedule.alphas_bar[t].item()
        _show(axes[0, k], forward[t])
        axes[0, k].set_xlabel(f"$x_{{{t}}}$\n" + rf"$\bar\alpha_{{{t}}}$ = {abar:.3g}", fontsize=9)
        if reverse is not None:
            _show(axes[1, k], reverse[t])
            axes[1, k].set_xlabel(f"$x_{{{t}}}$", fontsize=9)
    for k in range(n - 1):
        gap = steps[k + 1] - steps[k]
        label = f"{gap} steps" if gap > 1 else "1 step"
        _arrow(fig, axes[0, k], axes[0, k + 1], 0.5, label, "tab:blue")
        if reverse is not None:
            _arrow(fig, axes[1, k + 1], axes[1, k], 0.5, label, "tab:red")
    title_gap = 0.05 if rows == 1 else 0.03
    fig.text(0.5, axes[0, 0].get_position().y1 + title_gap, forward_title + ": data to noise", ha="center",
             va="bottom", fontsize=10, color="tab:blue")
    if reverse is not None:
        fig.text(0.5, axes[1, 0].get_position().y1 + title_gap, reverse_title + ": noise to data", ha="center",
                 va="bottom", fontsize=10, color="tab:red")
    return fig

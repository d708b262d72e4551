"""Diagram of the losses chapter: the optimal transport plan behind the Wasserstein-1 distance.

:func:`draw_transport_plan` computes the plan with
:func:`~genai_foundations.architectures.losses.wasserstein1_plan` and draws it
as a coupling matrix with its two marginals on the sides, so the picture is the
plan whose cost the package reports as :math:`W_1`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from genai_foundations.architectures import losses as L


def draw_transport_plan(p: torch.Tensor, q: torch.Tensor, grid: torch.Tensor, title: str | None = None) -> Figure:
    """The coupling :math:`\\gamma_{ij}` (mass moved from :math:`g_i` to :math:`g_j`), with :math:`p` and :math:`q`.

    Rows of the matrix are the positions of the source distribution ``p``
    (drawn as a horizontal bar chart on the left), columns those of the target
    ``q`` (drawn on top). Row sums give ``p``, column sums ``q``; the mass
    on the diagonal stays where it is, and the cost of a cell is its mass
    times :math:`|g_i - g_j|`. Cells holding less than 0.1 % of the largest
    cell's mass are left blank. The title reports :math:`\\sum_{ij}\\gamma_{ij}|g_i - g_j|`,
    which equals :func:`~genai_foundations.architectures.losses.wasserstein1_histograms`.
    """
    plan = L.wasserstein1_plan(p, q, grid)
    g = grid.detach().double().cpu()
    cost = float((plan * (g[:, None] - g[None, :]).abs()).sum())
    w1 = float(L.wasserstein1_histograms(p.double(), q.double(), g))
    k = len(g)
    fig = plt.figure(figsize=(6.4, 6.0))
    fig.patch.set_facecolor("white")
    spec = fig.add_gridspec(2, 2, width_ratios=(1, 4), height_ratios=(1, 4), wspace=0.04, hspace=0.04)
    ax_plan = fig.add_subplot(spec[1, 1])
    ax_p = fig.add_subplot(spec[1, 0], sharey=ax_plan)
    ax_q = fig.add_subplot(spec[0, 1], sharex=ax_plan)
    visible = plan > 1e-3 * plan.max()     # cells with less than 0.1 % of the largest mass are left blank
    masked = torch.where(visible, plan, torch.full_like(plan, float("nan")))
    image = ax_plan.imshow(masked.numpy(), cmap="viridis", origin="upper", aspect="auto",
                           extent=(-0.5, k - 0.5, k - 0.5, -0.5))
    ax_plan.plot([-0.5, k - 0.5], [-0.5, k - 0.5], color="0.6", lw=0.8, ls=":")
    ax_plan.set_xlabel("destination $g_j$ (under $q$)")
    ax_plan.tick_params(labelleft=False)
    ticks = list(range(0, k, max(1, k // 5)))
    ax_plan.set_xticks(ticks, [f"{float(g[t]):g}" for t in ticks])
    ax_p.barh(range(k), p.detach().double().cpu().numpy(), color="C0")
    ax_p.invert_xaxis()
    ax_p.set_yticks(ticks, [f"{float(g[t]):g}" for t in ticks])
    ax_p.set_ylabel("source $g_i$ (under $p$)")
    ax_p.set_xticks([])
    ax_q.bar(range(k), q.detach().double().cpu().numpy(), color="C1")
    ax_q.tick_params(labelbottom=False)
    ax_q.set_yticks([])
    for ax in (ax_p, ax_q):
        for side in ("top", "right", "left", "bottom"):
            ax.spines[side].set_visible(False)
    ax_q.text(0.02, 0.95, "$q$", transform=ax_q.transAxes, va="top", color="C1", fontsize=12)
    ax_p.text(0.05, 0.02, "$p$", transform=ax_p.transAxes, color="C0", fontsize=12)
    fig.colorbar(image, cax=ax_plan.inset_axes((1.03, 0.0, 0.04, 1.0)), label="mass moved $\\gamma_{ij}$")
    heading = title + "\n" if title else ""
    fig.suptitle(f"{heading}cost $\\sum_{{ij}} \\gamma_{{ij}}\\,|g_i - g_j|$ = {cost:.4g} = $W_1(p, q)$ = {w1:.4g}",
                 fontsize=10)
    return fig

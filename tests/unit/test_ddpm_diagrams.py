"""Tests of the DDPM chapter's diagrams and figures (genai_foundations.diagrams.ddpm_chain, ddpm_plots)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from genai_foundations.algorithms import ddpm  # noqa: E402
from genai_foundations.algorithms.ddpm import NoiseSchedule  # noqa: E402
from genai_foundations.diagrams import ddpm_plots  # noqa: E402
from genai_foundations.diagrams.ddpm_chain import ddpm_chain_diagram, forward_chain  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _is_white(fig) -> bool:
    return tuple(fig.patch.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)


def test_forward_chain_is_the_one_step_process_iterated():
    schedule = NoiseSchedule.cosine(50)
    x0 = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    kept = forward_chain(x0, schedule, [0, 10, 50], generator=torch.Generator().manual_seed(3))
    assert sorted(kept) == [0, 10, 50] and torch.equal(kept[0], x0)
    g = torch.Generator().manual_seed(3)
    x = x0.clone()
    for t in range(1, 51):
        x = ddpm.q_step(x, t, torch.randn(x.shape, generator=g, dtype=x.dtype), schedule)
        if t == 10:
            torch.testing.assert_close(kept[10], x)
    torch.testing.assert_close(kept[50], x)
    with pytest.raises(ValueError, match="steps must lie in 0..50"):
        forward_chain(x0, schedule, [0, 51])


def test_forward_chain_reaches_the_closed_form_distribution():
    schedule = NoiseSchedule.linear(200)
    x0 = torch.full((20_000, 1), 1.0, dtype=torch.float64)
    x_T = forward_chain(x0, schedule, [200], generator=torch.Generator().manual_seed(0))[200]
    abar = schedule.alphas_bar[200].item()
    assert abs(x_T.mean().item() - abar**0.5) < 6 * ((1 - abar) / 20_000) ** 0.5
    assert abs(x_T.var().item() - (1 - abar)) < 6 * (1 - abar) * (2 / 20_000) ** 0.5


def test_chain_diagram_draws_each_step_with_its_alpha_bar():
    schedule = NoiseSchedule.cosine(100)
    steps = (0, 20, 50, 100)
    image = torch.rand(1, 1, 8, 8) * 2 - 1
    fig = ddpm_chain_diagram(schedule, image, steps, generator=torch.Generator().manual_seed(0))
    assert _is_white(fig)
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == len(steps)
    for ax, t in zip(image_axes, steps):
        assert f"{schedule.alphas_bar[t].item():.3g}" in ax.get_xlabel()
    texts = " ".join(text.get_text() for text in fig.texts)
    assert "20 steps" in texts and "30 steps" in texts and "50 steps" in texts   # the gaps between shown steps
    reverse = {t: torch.zeros(1, 1, 8, 8) for t in steps}
    both = ddpm_chain_diagram(schedule, image[0], steps, reverse=reverse)
    assert len([ax for ax in both.axes if ax.images]) == 2 * len(steps)
    with pytest.raises(ValueError, match="increasing"):
        ddpm_chain_diagram(schedule, image, (0, 50, 20))
    with pytest.raises(ValueError, match="an image for each"):
        ddpm_chain_diagram(schedule, image, steps, reverse={0: image})
    with pytest.raises(ValueError, match="one image"):
        ddpm_chain_diagram(schedule, torch.zeros(2, 1, 8, 8), steps)


def test_chapter_figures_have_white_backgrounds_and_the_expected_panels():
    schedule = NoiseSchedule.cosine(100)
    figs = [
        ddpm_plots.variance_figure([1.0, 1.0, 1.0], [1.0, 1.1, 1.2], {0: torch.randn(100), 2: torch.randn(100)}),
        ddpm_plots.schedules_figure({"cosine": schedule, "linear": NoiseSchedule.linear(100)}),
        ddpm_plots.noised_rows_figure(torch.zeros(1, 1, 8, 8), [0, 50, 100], torch.randn(1, 1, 8, 8),
                                      {"cosine": schedule}),
        ddpm_plots.elbo_weights_figure(schedule),
        ddpm_plots.histogram_grid({("a", 1): torch.randn(50), ("a", 5): torch.randn(50)}, ["a"], [1, 5]),
        ddpm_plots.guidance_tilt_figure(torch.linspace(-3, 3, 61), {"p": torch.ones(61) / 6},
                                        {"s": torch.randn(100)}),
        ddpm_plots.trajectory_panels([(torch.zeros(3, 8, 2), "a"), (torch.zeros(3, 8, 2), "b")],
                                     fixed_points=[None, torch.tensor([[-0.8, 0.0], [0.8, 0.0]])]),
    ]
    assert all(_is_white(fig) for fig in figs)
    assert len(figs[1].axes) == 2 and len(figs[4].axes) == 2 and len(figs[6].axes) == 2
    # the ELBO weights figure plots lambda_t for t >= 2 from the package
    right = figs[3].axes[1]
    torch.testing.assert_close(torch.as_tensor(right.lines[0].get_ydata()),
                               ddpm.elbo_weights(schedule, "beta_tilde")[1:])

"""Diagrams of chapter 2: the probability-path picture and the per-time difficulty of the regression."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from genai_foundations.algorithms.gaussian_paths import CosinePath, LinearPath  # noqa: E402
from genai_foundations.diagrams import flow_matching as diagrams  # noqa: E402

MEANS = torch.tensor([-2.0, 0.5, 2.2])
STDS = torch.tensor([0.3, 0.25, 0.4])
WEIGHTS = torch.tensor([0.3, 0.3, 0.4])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_probability_path_density_trajectories_and_conditional_paths():
    paths = {"linear": LinearPath(), "cosine": CosinePath()}
    picture = diagrams.probability_path(paths, MEANS, STDS, WEIGHTS, num_trajectories=8, steps=40)
    dx = (picture.xs[1] - picture.xs[0]).item()
    for name, path in paths.items():
        mass = picture.density[name].sum(1) * dx
        assert (mass - 1).abs().max() < 1e-3, name
        # at t = 0 the density is the standard normal
        torch.testing.assert_close(picture.density[name][0], torch.distributions.Normal(0.0, 1.0).log_prob(
            picture.xs).exp().double(), atol=1e-10, rtol=0)
        marginal = picture.marginal[name]
        assert marginal.shape == (41, 8)
        assert torch.all(marginal[:, 1:] >= marginal[:, :-1])          # marginal trajectories never cross
        conditional = picture.conditional[name]
        assert conditional.shape == (len(picture.times), 8)
    # the linear conditional paths are straight lines: equal increments in t give equal increments in x
    linear = picture.conditional["linear"]
    increments = linear[1:] - linear[:-1]
    torch.testing.assert_close(increments, increments[:1].expand_as(increments))
    assert picture.figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="at least one path"):
        diagrams.probability_path({}, MEANS, STDS, WEIGHTS)
    with pytest.raises(ValueError, match="positive standard deviations"):
        diagrams.probability_path(paths, MEANS, torch.zeros(3), WEIGHTS)


def test_gaussian_data_has_an_affine_field_and_the_floor_is_its_conditional_variance():
    """For one Gaussian the marginal field is affine in x: the nonlinear part is 0 at every time."""
    result = diagrams.regression_difficulty(torch.tensor([[1.0, -1.0]]), 0.5, n=4000,
                                            times=torch.tensor([0.1, 0.5, 0.9]))
    assert result.nonlinear.max() < 1e-20
    # linear path: target z - eps; given x_t both are Gaussian, Var(z - eps | x_t) = (s + 1)^2 ... per coordinate:
    s2 = 0.25
    for t, floor in zip(result.times.tolist(), result.floor.tolist()):
        var_x = t**2 * s2 + (1 - t) ** 2
        cov = t * s2 - (1 - t)                           # Cov(z - eps, x_t) per coordinate
        expected = (s2 + 1) - cov**2 / var_x
        assert abs(floor - expected) < 0.05 * expected


def test_mixture_difficulty_peaks_in_the_middle():
    means = torch.tensor([[-2.0, 1.5], [0.0, -2.0], [2.0, 1.5]], dtype=torch.float64)
    result = diagrams.regression_difficulty(means, 0.3, torch.tensor([0.4, 0.3, 0.3]), n=3000)
    peak = result.times[result.nonlinear.argmax()].item()
    assert 0.3 < peak < 0.8
    assert result.nonlinear[0] < 0.01 and result.nonlinear[-1] < 0.05 * result.nonlinear.max()
    ax = diagrams.plot_regression_difficulty(result)
    assert ax.figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)


def test_logit_normal_density_integrates_to_one():
    t = torch.linspace(1e-6, 1 - 1e-6, 200_001, dtype=torch.float64)
    density = diagrams.logit_normal_density(t)
    assert abs(torch.trapezoid(density, t).item() - 1) < 1e-4

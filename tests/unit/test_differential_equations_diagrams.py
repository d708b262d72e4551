"""The appendix's diagrams draw the package's own objects: grid solutions, particle paths, exact fields."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

from genai_foundations.algorithms.gaussian_paths import LinearPath, score_to_vector_field  # noqa: E402
from genai_foundations.algorithms.score_matching import GaussianMixture  # noqa: E402
from genai_foundations.algorithms.solvers import euler_maruyama  # noqa: E402
from genai_foundations.appendices.differential_equations import (  # noqa: E402
    GaussianMixture1D, Grid1D, solve_fokker_planck)
from genai_foundations.diagrams.differential_equations import (  # noqa: E402
    flow_2d_diagram, fokker_planck_diagram, plot_space_time)

F64 = torch.float64


def ou_solution(times):
    grid = Grid1D.uniform(-3, 3, 60)
    start = GaussianMixture1D([1.0], [0.3])
    return grid, start, solve_fokker_planck(start.cell_average(grid), lambda x, t: -x, 0.8, grid, times)


def test_space_time_map_shows_the_grid_solution_and_the_paths():
    times = [0.0, 0.25, 0.5, 0.75, 1.0]
    grid, _, solution = ou_solution(times)
    paths = torch.linspace(-1, 1, 7, dtype=F64)[None, :] * torch.linspace(0, 1, 11, dtype=F64)[:, None]
    fig, ax = plt.subplots()
    plot_space_time(ax, solution, paths=paths, path_times=torch.linspace(0, 1, 11))
    image = next(a for a in ax.get_children() if isinstance(a, AxesImage))
    # the image holds the solution with space on the vertical axis, and spans the stored times and the grid
    torch.testing.assert_close(torch.as_tensor(image.get_array().data), solution.densities.T)
    assert image.get_extent() == pytest.approx([0.0, 1.0, grid.centers[0].item(), grid.centers[-1].item()])
    assert len(ax.lines) == 7
    plt.close(fig)
    with pytest.raises(ValueError, match="len\\(times\\)"):
        plot_space_time(plt.gca(), torch.zeros(3, 4), [0.0, 1.0], torch.zeros(4))
    with pytest.raises(ValueError, match="path_times"):
        plot_space_time(plt.gca(), solution, paths=paths)
    plt.close("all")


def test_fokker_planck_diagram_has_the_map_the_snapshots_and_the_particles():
    times = [round(0.1 * k, 1) for k in range(11)]
    grid, start, solution = ou_solution(times)
    gen = torch.Generator().manual_seed(0)
    particles = {t: euler_maruyama(lambda x, s: -x, 0.8, start.sample_points(2000, gen), 0.0, t, steps=50, generator=gen)
                 for t in (0.5, 1.0)}
    paths = euler_maruyama(lambda x, s: -x, 0.8, start.sample_points(5, gen), 0.0, 1.0, steps=20, generator=gen,
                           return_path=True)
    fig = fokker_planck_diagram(solution, paths, torch.linspace(0, 1, 21), particles, stationary=solution.at(1.0))
    left, right = fig.axes
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    assert len(left.lines) == 5
    # one PDE line per snapshot plus the long-time density, drawn from the solution itself
    assert len(right.lines) == 3
    torch.testing.assert_close(torch.as_tensor(right.lines[0].get_ydata()), solution.at(0.5))
    assert len(right.patches) == 2                                     # one histogram per snapshot
    plt.close(fig)


def test_flow_2d_diagram_draws_the_density_and_the_converted_field():
    mixture = GaussianMixture([[-1.0, 0.0], [1.0, 0.5]], [0.3, 0.5], [0.4, 0.6])
    path = LinearPath()
    fig = flow_2d_diagram(mixture, path, (0.3, 0.8), limits=2.0, resolution=40, arrows=9)
    assert len(fig.axes) == 2 and fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    ax = fig.axes[1]                                                   # t = 0.8
    quiver = next(a for a in ax.get_children() if isinstance(a, Quiver))
    points = torch.as_tensor(quiver.XY, dtype=F64)
    expected = score_to_vector_field(path, mixture.path_score(path, points, 0.8), points, 0.8)
    torch.testing.assert_close(torch.as_tensor(quiver.U, dtype=F64), expected[:, 0], rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(torch.as_tensor(quiver.V, dtype=F64), expected[:, 1], rtol=1e-6, atol=1e-9)
    image = next(a for a in ax.get_children() if isinstance(a, AxesImage))
    axis = torch.linspace(-2.0, 2.0, 40, dtype=F64)
    corner = torch.tensor([[axis[0], axis[0]]], dtype=F64)
    density = mixture.along_path(path, 0.8).log_prob(corner).exp()
    assert float(image.get_array()[0, 0]) == pytest.approx(math.sqrt(float(density)), rel=1e-6)
    plt.close(fig)
    with pytest.raises(ValueError, match="times"):
        flow_2d_diagram(mixture, path, (0.0, 0.5))
    with pytest.raises(ValueError, match="2-D"):
        flow_2d_diagram(GaussianMixture([0.0], [1.0]), path, (0.5,))

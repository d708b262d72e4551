"""Chapter 3's diagrams draw the package's own objects: exact marginals along a path, sampler paths, score fields."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.quiver import Quiver  # noqa: E402

from genai_foundations.algorithms import score_matching as sm  # noqa: E402
from genai_foundations.algorithms.gaussian_paths import LinearPath  # noqa: E402
from genai_foundations.diagrams.score_sde import denoising_sde_diagram, score_field_diagram  # noqa: E402

F64 = torch.float64


def test_denoising_sde_diagram_shows_paths_over_the_exact_marginals():
    mixture, path = sm.GaussianMixture([-1.5, 1.0], [0.4, 0.6], [0.4, 0.6]), LinearPath()
    times = torch.linspace(0.01, 1.0, 21, dtype=F64)
    x0 = torch.randn(300, 1, generator=torch.Generator().manual_seed(0), dtype=F64)
    runs = {s: sm.reverse_sde_sample(lambda x, t: mixture.path_score(path, x, t), path, x0, s, 20, t0=0.01,
                                     generator=torch.Generator().manual_seed(1), return_path=True) for s in (0.0, 1.0)}
    fig = denoising_sde_diagram(mixture, path, times, {f"sigma = {s}": r[:, :6, 0] for s, r in runs.items()},
                                {f"sigma = {s}": r[-1] for s, r in runs.items()}, limits=3.0, resolution=50)
    assert len(fig.axes) == 3 and fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    image = next(a for a in fig.axes[0].get_children() if isinstance(a, AxesImage))
    values = torch.as_tensor(image.get_array().data)                  # (points, times)
    assert values.shape == (50, 121)
    # the last column is the data density p_1 on the plotted points
    points = torch.linspace(-3.0, 3.0, 50, dtype=F64)[:, None]
    torch.testing.assert_close(values[:, -1], mixture.log_prob(points).exp())
    assert len(fig.axes[0].lines) == 6 and len(fig.axes[1].lines) == 6
    assert len(fig.axes[2].patches) == 2                              # one histogram per noise level
    plt.close(fig)
    with pytest.raises(ValueError, match="1-D"):
        denoising_sde_diagram(sm.GaussianMixture([[0.0, 0.0]], [1.0]), path, times, {}, {})


def test_score_field_diagram_draws_beta_times_each_score_on_a_shared_scale():
    ring = sm.GaussianMixture([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]], [0.2, 0.3, 0.25])
    path = LinearPath()

    def exact(x, t):
        return ring.path_score(path, x.double(), t)

    def halved(x, t):
        return 0.5 * exact(x, t)

    fig = score_field_diagram({"exact": exact, "half": halved}, ring, path, times=(0.4, 0.9), arrows=7, resolution=30)
    assert len(fig.axes) == 4 and fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    top, bottom = fig.axes[1], fig.axes[3]                             # t = 0.9, first and second row
    q_top = next(a for a in top.get_children() if isinstance(a, Quiver))
    q_bottom = next(a for a in bottom.get_children() if isinstance(a, Quiver))
    points = torch.as_tensor(q_top.XY, dtype=torch.float32)
    expected = 0.1 * exact(points, 0.9).float()                       # beta_0.9 = 0.1
    torch.testing.assert_close(torch.as_tensor(q_top.U), expected[:, 0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.as_tensor(q_bottom.V), 0.5 * expected[:, 1], rtol=1e-5, atol=1e-6)
    assert q_top.scale == q_bottom.scale                               # comparable arrow lengths within a column
    plt.close(fig)
    with pytest.raises(ValueError, match="2-D"):
        score_field_diagram({"exact": exact}, sm.GaussianMixture([0.0], [1.0]), path, (0.5,))

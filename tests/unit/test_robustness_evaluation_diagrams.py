"""Tests of chapter 26's diagrams (genai_foundations.diagrams.robustness_evaluation)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from scipy.stats import norm  # noqa: E402

from genai_foundations.diagrams import robustness_evaluation as diagrams  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _is_white(fig) -> bool:
    return tuple(fig.patch.get_facecolor()) == (1.0, 1.0, 1.0, 1.0)


def test_pgd_diagram_paths_stay_in_their_balls():
    fig, paths = diagrams.pgd_ball_diagram(eps=0.6, alpha=0.25, steps=8)
    x0 = paths["inf"][0]
    assert torch.equal(paths["2"][0], x0) and len(paths["inf"]) == 9
    assert float((paths["inf"] - x0).abs().amax()) <= 0.6 + 1e-12
    assert float((paths["2"] - x0).norm(dim=1).max()) <= 0.6 + 1e-12
    # the iterates end on the boundary of the ball (the loss keeps rising outwards)
    assert float((paths["2"][-1] - x0).norm()) == pytest.approx(0.6, abs=1e-9)
    assert len(fig.axes) == 2 and _is_white(fig)


def test_smoothing_diagram_certifies_close_to_the_exact_radius():
    fig, cert = diagrams.smoothing_diagram(sigma=0.5, distance=0.6, n=2000)
    assert cert.label == 1 and 0.4 < cert.radius < 0.6                   # exact radius: the distance 0.6
    assert cert.radius == pytest.approx(0.5 * norm.ppf(cert.p_a_lower))
    assert _is_white(fig)


def test_line_figures():
    f1 = diagrams.accuracy_vs_budget_figure({"FGSM, standard": ([0, 0.1], [1.0, 0.5]),
                                             "PGD, adversarially trained": ([0, 0.1], [0.9, 0.8])}, eps_mark=0.1)
    assert len(f1.axes[0].lines) == 3
    f2 = diagrams.certified_accuracy_figure([0, 0.5], {"sigma 0.25": [0.9, 0.5]})
    f3 = diagrams.flip_success_figure([0, 1, 2], {"gradient": [0, 0.3, 0.5], "random": [0, 0.05, 0.1]})
    trace = torch.randn(11, 3, dtype=torch.float64)
    f4 = diagrams.elo_figure(trace, torch.zeros(3), torch.zeros(3))
    assert len(f4.axes[0].lines) == 9
    assert all(_is_white(f) for f in (f1, f2, f3, f4))

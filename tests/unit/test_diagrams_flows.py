"""Diagrams of chapter 1: what they draw comes from the package's flow objects and is right."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from genai_foundations.algorithms import flows  # noqa: E402
from genai_foundations.algorithms.flows import ActNorm, AffineCoupling, FlowSequence, StandardNormal  # noqa: E402
from genai_foundations.diagrams import flows as diagrams  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _stretch_flow() -> FlowSequence:
    flow = FlowSequence([flows.LogitTransform(alpha=0.0), ActNorm(1)], StandardNormal(1))
    with torch.no_grad():
        flow.layers[1].bias.fill_(0.7)
        flow.layers[1].log_scale.fill_(math.log(0.8))
        flow.layers[1].initialized.fill_(True)
    return flow


def test_change_of_variables_conserves_probability_band_by_band():
    picture = diagrams.change_of_variables(_stretch_flow(), (1e-4, 1 - 1e-4))
    normal = torch.distributions.Normal(0.0, 1.0)
    expected = normal.cdf(picture.z_edges[1:]) - normal.cdf(picture.z_edges[:-1])
    torch.testing.assert_close(picture.mass_z, expected, atol=1e-7, rtol=0)
    torch.testing.assert_close(picture.mass_x, expected, atol=1e-5, rtol=0)
    assert bool((picture.x_edges[1:] > picture.x_edges[:-1]).all())
    # the stretch is |f'(x)| = 0.8 / (x (1 - x)) at the band centres
    centres = (picture.x_edges[1:] + picture.x_edges[:-1]) / 2
    torch.testing.assert_close(picture.stretch, 0.8 / (centres * (1 - centres)))
    assert picture.figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)


def test_change_of_variables_rejects_bad_bands():
    with pytest.raises(ValueError, match="increasing"):
        diagrams.change_of_variables(_stretch_flow(), (1e-4, 1 - 1e-4), z_edges=torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="outside x_limits"):
        diagrams.change_of_variables(_stretch_flow(), (0.3, 0.7))


@pytest.mark.parametrize("kind", ["parity", "half"])
def test_coupling_layer_jacobian_is_triangular_after_sorting_by_the_mask(kind):
    torch.manual_seed(0)
    mask = flows.alternating_masks(6, 1, kind=kind)[0]
    layer = flows.randomize_parameters(AffineCoupling(mask, hidden=8), 0.3, 0).double()
    x = torch.randn(6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    picture = diagrams.coupling_layer(layer, x)
    kept = [j for j in range(6) if mask[j] == 1]
    assert picture.order[:3] == kept
    sorted_jac = picture.jacobian[picture.order][:, picture.order]
    assert torch.all(torch.triu(sorted_jac, diagonal=1) == 0)
    torch.testing.assert_close(sorted_jac[:3, :3], torch.eye(3, dtype=torch.float64))
    torch.testing.assert_close(torch.linalg.slogdet(picture.jacobian)[1], picture.s.sum())
    assert abs(picture.logdet - picture.s.sum().item()) < 1e-12
    assert len(picture.figure.axes) == 3


def test_coupling_layer_and_heatmap_reject_bad_inputs():
    layer = AffineCoupling(torch.tensor([1.0, 0.0, 1.0, 0.0]), hidden=4)
    with pytest.raises(ValueError, match="shape \\(4,\\)"):
        diagrams.coupling_layer(layer, torch.zeros(3))
    image_layer = AffineCoupling(flows.checkerboard_mask(2, 2), flows.conv_conditioner(1, 4))
    with pytest.raises(ValueError, match="vectors"):
        diagrams.coupling_layer(image_layer, torch.zeros(4))
    with pytest.raises(ValueError, match="square"):
        diagrams.jacobian_heatmap(torch.zeros(2, 3))


def test_heatmap_marks_exact_zeros():
    ax = diagrams.jacobian_heatmap(torch.tensor([[1.0, 0.0], [0.5, 2.0]]))
    labels = [text.get_text() for text in ax.texts]
    assert labels == ["1.00", "0", "0.50", "2.00"]


def test_digits_flow_architecture_reads_shapes_and_masks_without_side_effects():
    flow = flows.digits_flow(num_checkerboard=4, num_channel=6, hidden=8)
    figure, shapes = diagrams.digits_flow_architecture(flow, torch.rand(1, 1, 8, 8))
    assert len(shapes) == len(flow.layers)
    assert shapes[0] == ("LogitTransform", (1, 8, 8)) and shapes[-1][1] == (4, 4, 4)
    squeeze_at = [name for name, _ in shapes].index("Squeeze")
    assert shapes[squeeze_at][1] == (4, 4, 4) and shapes[squeeze_at - 1][1] == (1, 8, 8)
    grouped = diagrams._group(shapes)
    assert [count for _, _, count in grouped] == [1, 4, 1, 6]
    assert flow.training                                            # the mode is restored
    assert not any(bool(layer.initialized) for layer in flow.layers if isinstance(layer, ActNorm))
    assert figure.get_facecolor()[:3] == (1.0, 1.0, 1.0)

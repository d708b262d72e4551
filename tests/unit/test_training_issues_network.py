"""The gradient-flow diagram of chapter 12 reads its layers and colours from the measured MLPs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from genai_foundations.architectures.mlp import MLP  # noqa: E402
from genai_foundations.architectures.regularization import gradient_profile  # noqa: E402
from genai_foundations.diagrams.training_issues_network import draw_gradient_flow, gradient_flow_rows  # noqa: E402


def measured(**kwargs) -> MLP:
    torch.manual_seed(0)
    model = MLP(6, [6, 6, 6], 3, **kwargs)
    gradient_profile(model, torch.randn(32, 6), torch.randint(0, 3, (32,)))
    return model


def test_rows_hold_the_layers_and_their_gradient_norms():
    plain, residual = measured(activation="sigmoid"), measured(norm="batch", residual=True)
    rows = gradient_flow_rows({"plain": plain, "residual": residual})
    norms = list(gradient_profile(plain, torch.randn(1, 6), torch.zeros(1, dtype=torch.long)).values())
    assert [c.description for c in rows["plain"]] == ["Linear 6→6, Sigmoid"] * 3 + ["Linear 6→3 (logits)"]
    assert [c.residual for c in rows["residual"]] == [True, True, True, False]
    assert "BatchNorm1d" in rows["residual"][0].description
    got = [c.grad_norm for c in gradient_flow_rows({"plain": plain})["plain"]]
    assert got == pytest.approx(norms)  # the colours are the layer_gradient_norms of the model


def test_drawing_has_one_box_per_layer_and_an_arc_per_skip():
    models = {"plain": measured(), "residual": measured(residual=True)}
    ax = draw_gradient_flow(models)
    boxes = [p for p in ax.patches if type(p).__name__ == "Rectangle"]
    assert len(boxes) == 2 * (1 + 4)  # the input and four layers per row
    assert any("3 × [Linear 6→6, ReLU, skip]" in t.get_text() for t in ax.texts)
    assert ax.figure.patch.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    plt.close(ax.figure)


def test_models_without_gradients_are_refused():
    with pytest.raises(ValueError, match="backward"):
        gradient_flow_rows({"fresh": MLP(2, [2], 2)})
    with pytest.raises(TypeError, match="MLP"):
        gradient_flow_rows({"seq": torch.nn.Sequential(torch.nn.Linear(2, 2))})

"""The package MLPs: structure, residual paths, conditioning and errors."""

import pytest
import torch

from genai_foundations.architectures.mlp import MLP, TimeConditionedMLP


def test_mlp_layers_and_parameter_count():
    net = MLP(3, [5, 5], 2, activation="tanh")
    assert sum(p.numel() for p in net.parameters()) == (3 * 5 + 5) + (5 * 5 + 5) + (5 * 2 + 2)
    x = torch.randn(4, 3)
    h = torch.tanh(net.hidden[0].linear(x))
    h = torch.tanh(net.hidden[1].linear(h))
    torch.testing.assert_close(net(x), net.out(h))


def test_residual_adds_the_identity_where_widths_match():
    net = MLP(3, [4, 4], 1, residual=True)
    assert [layer.residual for layer in net.hidden] == [False, True]
    h = torch.randn(2, 4)
    torch.testing.assert_close(net.hidden[1](h), h + torch.relu(net.hidden[1].linear(h)))


def test_time_conditioned_mlp_shapes_and_labels():
    torch.manual_seed(0)
    net = TimeConditionedMLP(dim=2, hidden=32, depth=2, num_classes=3)
    x = torch.randn(5, 2)
    assert net(x, 0.3).shape == (5, 2)
    assert net(x, torch.rand(5), torch.tensor([0, 1, 2, 3, 0])).shape == (5, 2)
    torch.testing.assert_close(net(x, 0.3), net(x, 0.3, torch.full((5,), net.null_label)))
    assert not torch.allclose(net(x, 0.3, torch.zeros(5, dtype=torch.long)), net(x, 0.3))


def test_errors_say_what_was_expected():
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(2, [3], 1, activation="swishy")
    with pytest.raises(ValueError, match="3 features"):
        MLP(3, [4], 1)(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="labels"):
        TimeConditionedMLP(num_classes=2)(torch.zeros(2, 2), 0.5, torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="unconditional"):
        TimeConditionedMLP()(torch.zeros(2, 2), 0.5, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="no null label"):
        TimeConditionedMLP().null_label


def test_mlp_diagram_reads_its_shapes_from_the_model():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle

    from genai_foundations.diagrams.mlp_graph import draw_mlp, draw_neuron, mlp_layers

    net = MLP(3, [4, 12], 2, activation="tanh", norm="layer")
    layers = mlp_layers(net)
    assert [layer.width for layer in layers] == [3, 4, 12, 2]
    assert [layer.weight_shape for layer in layers[1:]] == [(4, 3), (12, 4), (2, 12)]
    assert layers[1].activation == "Tanh, LayerNorm"
    ax = draw_mlp(net, max_nodes=6)
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "W (12, 4)" in texts and "b (2,)" in texts and "12 units" in texts and "\u22ee" in texts
    assert f"{sum(p.numel() for p in net.parameters()):,} parameters" in ax.get_title()
    assert sum(isinstance(p, Circle) for p in ax.patches) == 3 + 4 + 5 + 2   # the 12-wide layer is elided
    ax = draw_neuron(torch.tensor([1.0, 2.0, -1.0]), torch.tensor([0.5, -0.25, 1.0]), 0.1, "sigmoid")
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "$z = -0.9$" in texts and "0.2891" in texts
    with pytest.raises(TypeError, match="MLP"):
        draw_mlp(torch.nn.Linear(2, 2))
    plt.close("all")

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

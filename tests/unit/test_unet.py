"""Tests of the package U-Net, its sinusoidal embedding, and the trajectory denoiser."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genai_foundations.architectures.denoisers import TrajectoryDenoiser
from genai_foundations.architectures.unet import ResidualBlock, UNet, sinusoidal_embedding


def _randomise_output(net: nn.Module) -> None:
    """The last convolution starts at zero (the output is then 0 for every input); give it weights."""
    nn.init.normal_(net.conv_out.weight, std=0.1)


def test_sinusoidal_embedding_values():
    dim = 8  # L = 4 frequencies, f = ln(1000) / 3: 1, 10, 100, 1000
    x = torch.tensor([0.0, 1e-3, 0.25])
    emb = sinusoidal_embedding(x, dim)
    assert emb.shape == (3, 8)
    torch.testing.assert_close(emb[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    for k, freq in enumerate([1.0, 10.0, 100.0, 1000.0]):
        assert math.isclose(emb[1, k].item(), math.sin(2 * math.pi * freq * 1e-3), abs_tol=1e-5)
        assert math.isclose(emb[1, 4 + k].item(), math.cos(2 * math.pi * freq * 1e-3), abs_tol=1e-5)
    with pytest.raises(ValueError, match="even"):
        sinusoidal_embedding(x, 7)


@pytest.mark.parametrize("size, channels", [(8, (16, 32, 32)), (28, (16, 32, 32)), (7, (16, 32))])
@pytest.mark.parametrize("num_classes", [None, 10])
def test_unet_output_shape_equals_input_shape(size, channels, num_classes):
    net = UNet(in_channels=1, channels=channels, emb_dim=32, num_classes=num_classes)
    x = torch.randn(3, 1, size, size)
    y = None if num_classes is None else torch.tensor([0, 5, 10])
    assert net(x, torch.rand(3), y).shape == x.shape


def test_unet_multi_channel_and_scalar_time():
    net = UNet(in_channels=3, channels=(16, 32), emb_dim=32)
    x = torch.randn(2, 3, 16, 12)
    assert net(x, 0.5).shape == x.shape


def test_unet_zero_initialised_output():
    net = UNet(channels=(16, 32), emb_dim=32)
    assert torch.equal(net(torch.randn(2, 1, 8, 8), torch.rand(2)), torch.zeros(2, 1, 8, 8))


def test_unet_depends_on_time_and_label():
    torch.manual_seed(0)
    net = UNet(channels=(16, 32), emb_dim=32, num_classes=10).eval()
    _randomise_output(net)
    x = torch.randn(4, 1, 8, 8)
    y = torch.tensor([1, 2, 3, 4])
    with torch.no_grad():
        base = net(x, torch.full((4,), 0.3), y)
        assert not torch.allclose(base, net(x, torch.full((4,), 0.7), y), atol=1e-4)
        assert not torch.allclose(base, net(x, torch.full((4,), 0.3), (y + 1) % 10), atol=1e-4)
        # y=None means "no label": the same as passing the null label
        torch.testing.assert_close(net(x, 0.3, None), net(x, 0.3, torch.full((4,), net.null_label)))
        # each example's output depends only on its own input, time and label
        torch.testing.assert_close(net(x[:2], torch.full((2,), 0.3), y[:2]), base[:2], atol=1e-5, rtol=0)


def test_unet_gradients_reach_every_parameter():
    torch.manual_seed(0)
    net = UNet(channels=(16, 32), emb_dim=32, num_classes=3)
    _randomise_output(net)
    x = torch.randn(4, 1, 8, 8)
    net(x, torch.rand(4), torch.tensor([0, 1, 2, 3])).square().mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_unet_errors():
    net = UNet(channels=(16, 32), emb_dim=32)
    with pytest.raises(ValueError, match="unconditional"):
        net(torch.randn(2, 1, 8, 8), torch.rand(2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        net(torch.randn(2, 3, 8, 8), torch.rand(2))
    with pytest.raises(AttributeError, match="null_label"):
        _ = net.null_label
    conditional = UNet(channels=(16, 32), emb_dim=32, num_classes=10)
    with pytest.raises(ValueError, match="labels must lie in 0..10"):
        conditional(torch.randn(2, 1, 8, 8), torch.rand(2), torch.tensor([0, 11]))
    with pytest.raises(ValueError, match="channels"):
        UNet(channels=())


def test_residual_block_projects_the_skip_only_when_needed():
    same, wider = ResidualBlock(16, 16, 8), ResidualBlock(16, 32, 8)
    assert isinstance(same.skip, nn.Identity)
    assert isinstance(wider.skip, nn.Conv2d) and wider.skip.kernel_size == (1, 1)
    assert wider(torch.randn(2, 16, 4, 4), torch.randn(2, 8)).shape == (2, 32, 4, 4)


def test_trajectory_denoiser_shape_and_time_dependence():
    torch.manual_seed(0)
    net = TrajectoryDenoiser(dim=2, channels=16, emb_dim=16, num_blocks=3).eval()
    x = torch.randn(5, 32, 2)
    assert torch.equal(net(x, torch.rand(5)), torch.zeros_like(x))  # zero-initialised output layer
    _randomise_output(net)
    with torch.no_grad():
        out = net(x, torch.full((5,), 0.2))
        assert out.shape == x.shape
        assert not torch.allclose(out, net(x, torch.full((5,), 0.9)), atol=1e-4)
    with pytest.raises(ValueError, match=r"\(B, horizon, 2\)"):
        net(torch.randn(5, 2, 32, 1), 0.5)

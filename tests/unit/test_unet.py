"""Tests of the package U-Net, its sinusoidal embedding, and the trajectory denoiser."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from genai_foundations.architectures.denoisers import TrajectoryDenoiser
from genai_foundations.architectures.unet import UNET_TIME_FREQUENCIES, ResidualBlock, UNet, sinusoidal_embedding


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


def test_sinusoidal_embedding_frequency_range():
    """min_frequency/max_frequency set the geometric range; the U-Net passes UNET_TIME_FREQUENCIES."""
    x = torch.linspace(0, 1, 11)
    low, high = 0.05, 50.0
    emb = sinusoidal_embedding(x, 6, max_frequency=high, min_frequency=low)  # L = 3: 0.05, 1.58, 50
    for k, freq in enumerate([low, math.sqrt(low * high), high]):
        torch.testing.assert_close(emb[:, k], torch.sin(2 * math.pi * freq * x), atol=1e-4, rtol=0)
        torch.testing.assert_close(emb[:, 3 + k], torch.cos(2 * math.pi * freq * x), atol=1e-4, rtol=0)
    with pytest.raises(ValueError, match="min_frequency"):
        sinusoidal_embedding(x, 6, max_frequency=1.0, min_frequency=2.0)
    # The U-Net's slowest feature moves monotonically over the whole chain; its fastest stays below
    # the 500 turns at which 1000 integer steps alias.
    assert UNET_TIME_FREQUENCIES[0] < 0.25 and UNET_TIME_FREQUENCIES[1] < 500
    net = UNet(channels=(8, 16), emb_dim=16)
    assert net.time_frequencies == UNET_TIME_FREQUENCIES
    assert UNet(channels=(8, 16), emb_dim=16, time_frequencies=(1.0, 1000.0)).time_frequencies == (1.0, 1000.0)


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
    with pytest.raises(ValueError, match="no null label"):
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


# --- the U-Net chapter's tools: the residual block as a function, shape arithmetic, hooks, the skip ablation ---
from genai_foundations.architectures.unet import (  # noqa: E402
    DownBlock, UpBlock, describe_shapes, down_block_shapes, residual_block_forward, shape_plan, skips_disabled,
    trace_stages, up_block_shapes)


def test_residual_block_forward_is_the_written_out_formula():
    torch.manual_seed(1)
    block = ResidualBlock(6, 10, 5, groups=2).double()
    x, emb = torch.randn(3, 6, 5, 7, dtype=torch.float64), torch.randn(3, 5, dtype=torch.float64)
    F = torch.nn.functional
    h = F.conv2d(F.silu(F.group_norm(x, 2, block.norm1.weight, block.norm1.bias)), block.conv1.weight, block.conv1.bias,
                 padding=1)
    h = h + (F.silu(emb) @ block.emb.weight.T + block.emb.bias)[:, :, None, None]
    h = F.conv2d(F.silu(F.group_norm(h, 2, block.norm2.weight, block.norm2.bias)), block.conv2.weight, block.conv2.bias,
                 padding=1)
    # the 1x1 convolution on the skip path is a matrix product over the channels at every pixel
    projected = torch.einsum("oc,bchw->bohw", block.skip.weight[:, :, 0, 0], x) + block.skip.bias[:, None, None]
    expected = projected + h
    torch.testing.assert_close(residual_block_forward(block, x, emb), expected, atol=1e-12, rtol=0)
    torch.testing.assert_close(block(x, emb), expected, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match=r"\(B, 6, H, W\)"):
        residual_block_forward(block, torch.randn(3, 5, 4, 4, dtype=torch.float64), emb)
    with pytest.raises(ValueError, match=r"emb of shape \(3, 5\)"):
        residual_block_forward(block, x, emb[:, :4])


@pytest.mark.parametrize("size", [(8, 8), (7, 7), (5, 12), (1, 1), (64, 64)])
@pytest.mark.parametrize("downsample", [True, False])
def test_down_block_shapes_match_the_module(size, downsample):
    block = DownBlock(3, 8, emb_dim=4, num_blocks=2, downsample=downsample)
    x = torch.randn(2, 3, *size)
    out, skip = block(x, torch.randn(2, 4))
    assert down_block_shapes(x.shape, 8, downsample) == (tuple(out.shape), tuple(skip.shape))
    if downsample:
        assert out.shape[-2:] == tuple(-(-s // 2) for s in size)  # ceil(H / 2)


@pytest.mark.parametrize("small, large", [((4, 4), (8, 8)), ((4, 4), (7, 7)), ((2, 3), (3, 5)), ((8, 8), (8, 8))])
def test_up_block_shapes_match_the_module(small, large):
    block = UpBlock(16, 8, 6, emb_dim=4, num_blocks=1, upsample=True)
    captured = {}

    def keep_input(module, inputs):  # a pre-hook that returns None leaves the input alone
        captured["concat"] = inputs[0].shape

    block.blocks[0].register_forward_pre_hook(keep_input)
    x, skip = torch.randn(2, 16, *small), torch.randn(2, 8, *large)
    out = block(x, skip, torch.randn(2, 4))
    assert up_block_shapes(x.shape, skip.shape, 6, True) == (tuple(captured["concat"]), tuple(out.shape))
    assert up_block_shapes((2, 16, *large), skip.shape, 6, False) == ((2, 24, *large), (2, 6, *large))


def test_shape_helpers_reject_bad_input():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        down_block_shapes((2, 3, 8), 4)
    with pytest.raises(ValueError, match="out_channels"):
        down_block_shapes((2, 3, 8, 8), 0)
    with pytest.raises(ValueError, match="must equal the skip"):
        up_block_shapes((2, 4, 4, 4), (2, 4, 8, 8), 4, upsample=False)
    with pytest.raises(ValueError, match="batch size"):
        up_block_shapes((2, 4, 4, 4), (3, 4, 8, 8), 4)


@pytest.mark.parametrize("shape, channels", [((1, 3, 64, 64), (32, 64, 96, 128)), ((2, 1, 28, 28), (16, 32, 32)),
                                             ((1, 2, 7, 9), (8, 16))])
def test_shape_plan_equals_the_recorded_shapes(shape, channels):
    net = UNet(in_channels=shape[1], channels=channels, emb_dim=24)
    recorded = describe_shapes(net, torch.randn(shape), 0.3)
    assert recorded == shape_plan(shape, channels, emb_dim=24)
    assert recorded[0] == ("input", shape) and recorded[-1] == ("conv_out", shape)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in net.modules())  # hooks removed


def test_trace_stages_records_the_real_tensors():
    torch.manual_seed(0)
    net = UNet(channels=(8, 16), emb_dim=16).eval()
    _randomise_output(net)
    x, t = torch.randn(2, 1, 8, 8), torch.tensor([0.2, 0.9])
    stages = trace_stages(net, x, t)
    with torch.no_grad():
        torch.testing.assert_close(stages["conv_out"], net(x, t))
        low, high = UNET_TIME_FREQUENCIES
        torch.testing.assert_close(stages["noise embedding"],
                                   sinusoidal_embedding(t, 8, max_frequency=high, min_frequency=low))
        torch.testing.assert_close(stages["conv_in"], net.conv_in(x))
    # the up block of level 0 concatenates the upsampled path with the skip of level 0
    torch.testing.assert_close(stages["up0 concat"][:, 16:], stages["down0 skip"])


def test_skips_disabled_zeroes_every_skip_and_restores_them():
    torch.manual_seed(0)
    net = UNet(channels=(8, 16, 16), emb_dim=16).eval()
    _randomise_output(net)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        before = net(x, 0.5)
        with skips_disabled(net):
            stages = trace_stages(net, x, 0.5)
            ablated = net(x, 0.5)
        after = net(x, 0.5)
    for level, width in enumerate((8, 16, 16)):
        assert torch.count_nonzero(stages[f"up{level} concat"][:, -width:]) == 0
    assert not torch.allclose(before, ablated, atol=1e-4)
    torch.testing.assert_close(before, after)


# --- the course notes' layout: every level halves, two middle blocks with their own width ---
from genai_foundations.architectures.unet import cost_by_resolution, resolution_of_blocks, unet_shape_plan  # noqa: E402


def _blocks_by_resolution_recorded(net, x, t):
    """(H, W) at which every ResidualBlock actually ran, recorded by forward hooks."""
    sizes = []
    handles = [m.register_forward_hook(lambda module, inputs, output: sizes.append(tuple(output.shape[-2:])))
               for m in net.modules() if isinstance(m, ResidualBlock)]
    with torch.no_grad():
        net(x, t)
    for handle in handles:
        handle.remove()
    return sizes


def test_notes_layout_has_two_residual_blocks_at_8x8():
    """64x64x3 -> 32 -> 16 -> 8x8x96, two blocks at 8x8x128, back to 64x64x3 (the notes' walk-through)."""
    notes = UNet(in_channels=3, channels=(32, 64, 96), blocks_per_level=2, emb_dim=32, mid_channels=128,
                 downsample_last=True)
    x = torch.randn(1, 3, 64, 64)
    recorded = describe_shapes(notes, x, 0.5)
    assert recorded == unet_shape_plan(notes, x.shape)
    assert recorded == shape_plan(x.shape, (32, 64, 96), emb_dim=32, mid_channels=128, downsample_last=True)
    shapes = dict(recorded)
    assert shapes["down2"] == (1, 96, 8, 8) and shapes["mid0"] == shapes["mid1"] == (1, 128, 8, 8)
    assert shapes["up2 concat"] == (1, 128 + 96, 16, 16) and shapes["conv_out"] == (1, 3, 64, 64)
    ran = _blocks_by_resolution_recorded(notes, x, 0.5)
    planned = [(h, w) for _, h, w in resolution_of_blocks(notes, x.shape)]
    assert ran == planned and planned.count((8, 8)) == 2
    assert isinstance(notes.mid[0].skip, nn.Conv2d) and isinstance(notes.mid[1].skip, nn.Identity)  # 96 -> 128


def test_default_layout_runs_six_blocks_at_the_coarsest_level():
    """Without downsample_last the last level's down and up blocks join the middle: 2 + 2 + 2 blocks at 8x8."""
    net = UNet(in_channels=3, channels=(32, 64, 96, 128), blocks_per_level=2, emb_dim=32)
    x = torch.randn(1, 3, 64, 64)
    ran = _blocks_by_resolution_recorded(net, x, 0.5)
    assert ran == [(h, w) for _, h, w in resolution_of_blocks(net, x.shape)]
    assert ran.count((8, 8)) == 6
    assert net.mid_channels == 128 and not net.downsample_last


def test_new_options_leave_the_default_network_unchanged():
    """Checkpoints of the diffusion chapters keep loading: same parameter names, shapes and initial values."""
    for kwargs in ({"channels": (32, 64, 64), "emb_dim": 128, "num_classes": 10}, {"channels": (16, 32), "emb_dim": 64}):
        torch.manual_seed(3)
        default = UNet(**kwargs)
        torch.manual_seed(3)
        explicit = UNet(**kwargs, mid_channels=kwargs["channels"][-1], downsample_last=False)
        a, b = default.state_dict(), explicit.state_dict()
        assert list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert sum(p.numel() for p in UNet(channels=(32, 64, 64), emb_dim=128, num_classes=10).parameters()) == 778_337
    with pytest.raises(ValueError, match="mid_channels"):
        UNet(channels=(8, 16), mid_channels=0)


@pytest.mark.parametrize("size", [8, 7, 28])
def test_notes_layout_works_for_odd_sizes(size):
    net = UNet(in_channels=1, channels=(8, 16), emb_dim=16, mid_channels=24, downsample_last=True)
    x = torch.randn(2, 1, size, size)
    assert net(x, torch.rand(2)).shape == x.shape
    assert describe_shapes(net, x, 0.3) == unet_shape_plan(net, x.shape)


def test_cost_by_resolution_counts_every_parameter_and_the_convolution_work():
    net = UNet(in_channels=1, channels=(8, 16), emb_dim=16, num_classes=3)
    x = torch.randn(2, 1, 8, 8)
    costs = cost_by_resolution(net, x, 0.5, torch.tensor([0, 1]))
    assert list(costs) == ["8x8", "4x4", "vector"]
    assert sum(c["parameters"] for c in costs.values()) == sum(p.numel() for p in net.parameters())
    assert costs["vector"]["macs"] == 0
    # conv_in alone: 3x3, 1 -> 8 channels, on 8x8: 9 * 1 * 8 * 64 multiply-accumulates
    only_in = UNet(in_channels=1, channels=(8,), emb_dim=16)
    macs = {name: 0 for name in ("all",)}
    for m in only_in.modules():
        if isinstance(m, nn.Conv2d):
            macs["all"] += 9 * m.in_channels * m.out_channels * 64 if m.kernel_size == (3, 3) else m.in_channels * m.out_channels * 64
    assert cost_by_resolution(only_in, x, 0.5)["8x8"]["macs"] == macs["all"]
    with pytest.raises(TypeError, match="UNet"):
        cost_by_resolution(nn.Linear(2, 2), x, 0.5)


def test_shape_plan_rejects_a_bad_middle_width():
    with pytest.raises(ValueError, match="mid_channels"):
        shape_plan((1, 1, 8, 8), (8, 16), mid_channels=-3)
    with pytest.raises(TypeError, match="UNet"):
        unet_shape_plan(nn.Conv2d(1, 1, 1), (1, 1, 8, 8))
    with pytest.raises(ValueError, match="input channels"):
        unet_shape_plan(UNet(in_channels=1, channels=(8,), emb_dim=8), (1, 3, 8, 8))


def test_up_block_forward_is_resize_conv_concatenate_blocks():
    from torch.nn import functional as F

    from genai_foundations.architectures.unet import up_block_forward

    torch.manual_seed(3)
    block = UpBlock(6, 4, 5, emb_dim=3, num_blocks=2, upsample=True, groups=2).double()
    x, skip = torch.randn(2, 6, 4, 3, dtype=torch.float64), torch.randn(2, 4, 7, 5, dtype=torch.float64)
    emb = torch.randn(2, 3, dtype=torch.float64)
    h = torch.cat([block.up_conv(F.interpolate(x, size=(7, 5), mode="nearest")), skip], dim=1)
    for residual in block.blocks:
        h = residual_block_forward(residual, h, emb)
    torch.testing.assert_close(up_block_forward(block, x, skip, emb), h, atol=1e-12, rtol=0)
    torch.testing.assert_close(block(x, skip, emb), h, atol=1e-12, rtol=0)
    flat = UpBlock(6, 4, 5, emb_dim=3, num_blocks=1, upsample=False, groups=2).double()
    expected = residual_block_forward(flat.blocks[0], torch.cat([skip[:, :2].repeat(1, 3, 1, 1), skip], 1), emb)
    torch.testing.assert_close(flat(skip[:, :2].repeat(1, 3, 1, 1), skip, emb), expected, atol=1e-12, rtol=0)
    with pytest.raises(ValueError, match="without upsampling"):
        flat(x, skip, emb)


def test_unet_forward_is_the_body_of_the_forward_pass():
    from genai_foundations.architectures.unet import unet_forward

    torch.manual_seed(4)
    model = UNet(in_channels=2, channels=(8, 16), emb_dim=16, num_classes=3, groups=4)
    with torch.no_grad():
        model.conv_out.weight.normal_()
    x, t, y = torch.randn(3, 2, 7, 6), torch.rand(3), torch.tensor([0, 2, 3])
    torch.testing.assert_close(unet_forward(model, x, model.embed(t, y, 3, x.device)), model(x, t, y))
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        unet_forward(model, torch.randn(3, 1, 7, 6), model.embed(t, y, 3, x.device))

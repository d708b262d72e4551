"""Tests of the attention U-Net (chapter 14's U-Net with self- and cross-attention) and its attention layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genai_foundations.architectures.attention_unet import AttentionBlock, AttentionUNet
from genai_foundations.architectures.attention import MultiHeadAttention


def _randomise(net: nn.Module) -> None:
    """The output convolution and every attention block's output projection start at zero: give them weights."""
    torch.manual_seed(1)
    for module in net.modules():
        if isinstance(module, AttentionBlock):
            nn.init.normal_(module.proj_out.weight, std=0.2)
    nn.init.normal_(net.conv_out.weight, std=0.2)


@pytest.mark.parametrize("size, channels", [(8, (32, 64)), (28, (32, 64)), (28, (16, 32, 32))])
def test_output_shape_equals_input_shape(size, channels):
    torch.manual_seed(0)
    net = AttentionUNet(in_channels=1, channels=channels, context_dim=64, num_heads=4)
    x = torch.randn(3, 1, size, size)
    context = torch.randn(3, 5, 64)
    mask = torch.tensor([[True] * 5, [True, True, False, False, False], [False] * 5])
    assert net(x, torch.rand(3), context, mask).shape == x.shape
    assert net(x, 0.5).shape == x.shape  # scalar t, no context
    assert net(x, torch.rand(3), context).shape == x.shape


def test_attention_levels_and_bad_inputs():
    net = AttentionUNet(channels=(16, 32, 32), context_dim=8, num_heads=4)
    assert net.attention_resolutions == (2,)
    assert sum(isinstance(m, AttentionBlock) for m in net.modules()) == 3  # down, middle, up at the coarsest level
    net = AttentionUNet(channels=(16, 32, 32), context_dim=8, num_heads=4, attention_resolutions=(1, 2))
    assert sum(isinstance(m, AttentionBlock) for m in net.modules()) == 5
    with pytest.raises(ValueError, match="level indices"):
        AttentionUNet(channels=(16, 32), attention_resolutions=(2,))
    x = torch.randn(2, 1, 8, 8)
    with pytest.raises(ValueError, match="context"):
        net(x, torch.rand(2), torch.randn(2, 3, 7))
    with pytest.raises(ValueError, match="context_mask"):
        net(x, torch.rand(2), torch.randn(2, 3, 8), torch.ones(2, 3))
    with pytest.raises(ValueError, match="t must"):
        net(x, torch.rand(3))


def test_block_cross_attention_equals_torch():
    """The block's cross-attention with a key mask equals nn.MultiheadAttention (kdim/vdim) with the same weights."""
    torch.manual_seed(0)
    block = AttentionBlock(16, context_dim=6, num_heads=4)
    ref = nn.MultiheadAttention(16, 4, kdim=6, vdim=6, batch_first=True)
    ours = block.cross_attention
    with torch.no_grad():
        ref.q_proj_weight.copy_(ours.q_proj.weight)
        ref.k_proj_weight.copy_(ours.k_proj.weight)
        ref.v_proj_weight.copy_(ours.v_proj.weight)
        ref.in_proj_bias.copy_(torch.cat([ours.q_proj.bias, ours.k_proj.bias, ours.v_proj.bias]))
        ref.out_proj.weight.copy_(ours.out_proj.weight)
        ref.out_proj.bias.copy_(ours.out_proj.bias)
    x, context = torch.randn(2, 9, 16), torch.randn(2, 5, 6)
    mask = torch.tensor([[True, False, True, True, False], [True] * 5])
    out, weights = ours(x, context, mask=mask[:, None, None, :], return_weights=True)
    expected, expected_weights = ref(x, context, context, key_padding_mask=~mask, average_attn_weights=False)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(weights, expected_weights, atol=1e-6, rtol=1e-5)
    assert torch.all(weights[0, :, :, 1] == 0)


def test_cross_attention_with_equal_context_is_a_bias():
    """Equal keys get equal weights, so the output is W^O (W^V c + b^V) + b^O at every position."""
    torch.manual_seed(0)
    attention = MultiHeadAttention(16, 4, kdim=8, vdim=8)
    c = torch.randn(8)
    out = attention(torch.randn(2, 10, 16), c.expand(2, 6, 8))
    expected = attention.out_proj(attention.v_proj(c))
    torch.testing.assert_close(out, expected.expand(2, 10, 16), atol=1e-5, rtol=1e-5)
    # In the whole network, L equal tokens act like one token, and differ from no context.
    net = AttentionUNet(channels=(16, 32), context_dim=8, num_heads=4).eval()
    _randomise(net)
    x, t = torch.randn(2, 1, 8, 8), torch.rand(2)
    with torch.no_grad():
        many = net(x, t, c.expand(2, 6, 8))
        one = net(x, t, c.expand(2, 1, 8))
        none = net(x, t)
    torch.testing.assert_close(many, one, atol=1e-5, rtol=1e-5)
    assert (many - none).abs().max() > 1e-3


def test_masking_a_token_equals_removing_it():
    torch.manual_seed(0)
    net = AttentionUNet(channels=(32, 64), context_dim=64, num_heads=4, attention_resolutions=(0, 1)).eval()
    _randomise(net)
    x, t = torch.randn(2, 1, 8, 8), torch.rand(2)
    context = torch.randn(2, 5, 64)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[:, 2] = False
    with torch.no_grad():
        masked = net(x, t, context, mask)
        removed = net(x, t, context[:, [0, 1, 3, 4]])
        full = net(x, t, context)
    torch.testing.assert_close(masked, removed, atol=1e-5, rtol=1e-5)
    assert (masked - full).abs().max() > 1e-3


def test_empty_row_means_no_conditioning_and_blocks_start_as_identity():
    torch.manual_seed(0)
    net = AttentionUNet(channels=(16, 32), context_dim=8, num_heads=4).eval()
    block = net.mid_attention
    h = torch.randn(2, 32, 4, 4)
    torch.testing.assert_close(block(h, torch.randn(2, 3, 8)), h)  # proj_out starts at zero
    _randomise(net)
    x, t, context = torch.randn(3, 1, 8, 8), torch.rand(3), torch.randn(3, 4, 8)
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[1] = False  # example 1: conditioning dropped, as for classifier-free guidance training
    with torch.no_grad():
        out = net(x, t, context, mask)
        unconditional = net(x, t)
        conditional = net(x, t, context)
    torch.testing.assert_close(out[1], unconditional[1], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[[0, 2]], conditional[[0, 2]], atol=1e-5, rtol=1e-5)
    # gradients reach the null token and the context
    context.requires_grad_(True)
    net(x, t, context, mask).square().sum().backward()
    assert net.null_context.grad is not None and net.null_context.grad.abs().sum() > 0
    assert context.grad[0].abs().sum() > 0 and context.grad[1].abs().sum() == 0

"""Tests of the Perceiver resampler and gated cross-attention (chapter 18)."""

from __future__ import annotations

import pytest
import torch

from genai_foundations.architectures.attention import MultiHeadAttention
from genai_foundations.architectures.perceiver import GatedCrossAttentionBlock, PerceiverResampler, latent_attention


@pytest.mark.parametrize("tokens", [1, 7, 64, 300])
def test_resampler_output_shape_is_independent_of_the_number_of_tokens(tokens):
    torch.manual_seed(0)
    resampler = PerceiverResampler(dim=16, num_latents=5, depth=2, heads=4, max_frames=4)
    assert resampler(torch.randn(3, tokens, 16)).shape == (3, 5, 16)
    assert resampler(torch.randn(3, 4, tokens, 16)).shape == (3, 5, 16)                  # 4 frames


def test_resampler_respects_the_mask_and_frame_order():
    torch.manual_seed(0)
    resampler = PerceiverResampler(dim=8, num_latents=3, depth=1, heads=2, max_frames=2)
    with torch.no_grad():
        resampler.time_embedding.normal_()
    x = torch.randn(2, 5, 8)
    padded = torch.cat([x, 100 * torch.randn(2, 4, 8)], dim=1)
    mask = torch.arange(9)[None].expand(2, -1) < 5
    torch.testing.assert_close(resampler(padded, mask=mask), resampler(x))             # padding is invisible
    video = torch.randn(1, 2, 4, 8)
    assert not torch.allclose(resampler(video), resampler(video.flip(1)))                 # temporal embeddings
    with pytest.raises(ValueError):
        resampler(torch.randn(1, 3, 4, 8))                                                # more than max_frames


def test_latent_attention_equals_multi_head_attention_with_one_head():
    torch.manual_seed(0)
    mha = MultiHeadAttention(6, 1, bias=False)
    z, x = torch.randn(2, 3, 6), torch.randn(2, 10, 6)
    context = torch.cat([x, z], dim=1)
    expected = mha(z, context, context) @ torch.linalg.inv(mha.out_proj.weight.T)
    ours = latent_attention(z, x, mha.q_proj.weight.T, mha.k_proj.weight.T, mha.v_proj.weight.T)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)
    mask = torch.tensor([[True] * 4 + [False] * 6, [True] * 10])
    keep = torch.cat([mask, torch.ones(2, 3, dtype=torch.bool)], dim=1)
    masked = mha(z, context, context, keep[:, None, None, :]) @ torch.linalg.inv(mha.out_proj.weight.T)
    ours_masked = latent_attention(z, x, mha.q_proj.weight.T, mha.k_proj.weight.T, mha.v_proj.weight.T, mask)
    torch.testing.assert_close(ours_masked, masked, atol=1e-5, rtol=1e-5)
    assert latent_attention(z, torch.randn(2, 50, 6), *(torch.randn(6, 4) for _ in range(3))).shape == (2, 3, 4)


def test_cross_attention_to_an_all_equal_context_is_a_bias():
    torch.manual_seed(0)
    attention = MultiHeadAttention(8, 2, kdim=5, vdim=5)
    c = torch.randn(1, 1, 5)
    context = c.expand(3, 7, 5)
    queries = torch.randn(3, 4, 8)
    out = attention(queries, context, context)
    bias = attention.out_proj(attention.v_proj(c))                                       # c W_V W_O (+ biases)
    torch.testing.assert_close(out, bias.expand_as(out), atol=1e-6, rtol=1e-6)


def test_gated_cross_attention_starts_as_the_identity():
    torch.manual_seed(0)
    block = GatedCrossAttentionBlock(8, visual_dim=6, heads=2)
    y, visual = torch.randn(2, 5, 8), torch.randn(2, 9, 6)
    torch.testing.assert_close(block(y, visual), y)
    with torch.no_grad():
        block.attention_gate.fill_(1.0)
    assert not torch.allclose(block(y, visual), y)

"""Tests of the Vision Transformer pieces: patches, patch embeddings, positions, the encoder, the ViT."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.architectures.vit import (PatchEmbedding, ViT, conv_weight_from_linear, linear_weight_from_conv,
                                                  load_torchvision_vit, mean_attention_distance, patchify,
                                                  prepend_class_token, sinusoidal_positions_1d,
                                                  sinusoidal_positions_2d, unpatchify)


@pytest.mark.parametrize("shape, p", [((2, 3, 8, 12), 4), ((1, 1, 8, 8), 2), ((3, 4, 7, 7), 1), ((1, 4, 32, 32), 8)])
def test_unpatchify_inverts_patchify(shape, p):
    x = torch.randn(shape)
    patches = patchify(x, p)
    b, c, h, w = shape
    assert patches.shape == (b, h * w // p**2, p * p * c)
    assert torch.equal(unpatchify(patches, p, h, w), x)


def test_patchify_order_against_unfold():
    """Patch k is the k-th window of F.unfold (row-major), with entries re-ordered from (c, i, j) to (i, j, c)."""
    x = torch.randn(2, 3, 8, 12)
    p = 4
    windows = F.unfold(x, kernel_size=p, stride=p).transpose(1, 2)                # (B, N, C*P*P) in (c, i, j) order
    expected = windows.reshape(2, -1, 3, p, p).permute(0, 1, 3, 4, 2).reshape(2, -1, p * p * 3)
    assert torch.equal(patchify(x, p), expected)
    assert patchify(torch.arange(16.0).reshape(1, 1, 4, 4), 2)[0, 1].tolist() == [2.0, 3.0, 6.0, 7.0]


def test_bad_patch_sizes():
    with pytest.raises(ValueError, match="divide"):
        patchify(torch.randn(1, 1, 7, 8), 2)
    with pytest.raises(ValueError, match="tile"):
        unpatchify(torch.randn(1, 5, 4), 2, 4, 4)


def test_strided_conv_embedding_equals_patchify_plus_linear():
    torch.manual_seed(0)
    linear = PatchEmbedding(3, 16, 4, mode="linear")
    conv = PatchEmbedding(3, 16, 4, mode="conv")
    with torch.no_grad():
        conv.proj.weight.copy_(conv_weight_from_linear(linear.proj.weight, 4, 3))
        conv.proj.bias.copy_(linear.proj.bias)
    x = torch.randn(2, 3, 8, 12)
    torch.testing.assert_close(conv(x), linear(x), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(linear_weight_from_conv(conv.proj.weight), linear.proj.weight)


def test_worked_token_shapes():
    torch.manual_seed(0)
    embed = PatchEmbedding(3, 768, 16, mode="conv")
    with torch.no_grad():
        tokens = embed(torch.zeros(1, 3, 224, 224))
        assert tokens.shape == (1, 196, 768)
        z = prepend_class_token(tokens, torch.zeros(768), torch.zeros(197, 768))
    assert z.shape == (1, 197, 768)
    assert patchify(torch.zeros(1, 4, 32, 32), 8).shape == (1, 16, 256)


def test_class_token_and_positions():
    tokens = torch.randn(2, 3, 4)
    cls = torch.randn(1, 1, 4)
    pos = torch.randn(4, 4)
    z = prepend_class_token(tokens, cls, pos)
    torch.testing.assert_close(z[:, 0], (cls[0, 0] + pos[0]).expand(2, 4))
    torch.testing.assert_close(z[:, 1:], tokens + pos[1:])
    with pytest.raises(ValueError, match="positions"):
        prepend_class_token(tokens, cls, torch.randn(3, 4))


def test_sinusoidal_positions():
    pe = sinusoidal_positions_1d(torch.arange(7), 4)
    for pos in range(7):        # frequencies 1 and 1/100 for dim = 4
        expected = [math.sin(pos), math.sin(pos / 100), math.cos(pos), math.cos(pos / 100)]
        torch.testing.assert_close(pe[pos], torch.tensor(expected), atol=1e-6, rtol=0)
    pe2 = sinusoidal_positions_2d(3, 5, 8)
    assert pe2.shape == (15, 8)
    # patch (r, c) = index r * 5 + c: first half codes the row, second half the column
    torch.testing.assert_close(pe2[2 * 5 + 4, :4], sinusoidal_positions_1d(torch.tensor([2]), 4)[0])
    torch.testing.assert_close(pe2[2 * 5 + 4, 4:], sinusoidal_positions_1d(torch.tensor([4]), 4)[0])


@pytest.mark.parametrize("embedding", ["linear", "conv"])
def test_vit_equals_torchvision(embedding):
    from torchvision.models import VisionTransformer

    torch.manual_seed(0)
    theirs = VisionTransformer(image_size=16, patch_size=4, num_layers=2, num_heads=4, hidden_dim=32, mlp_dim=64,
                               num_classes=10).eval()
    with torch.no_grad():           # torchvision starts the head, class token and biases at zero: make them count
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ours = ViT(16, 4, in_channels=3, num_classes=10, dim=32, depth=2, num_heads=4, mlp_dim=64, embedding=embedding,
               norm_eps=1e-6).eval()
    load_torchvision_vit(ours, theirs)
    x = torch.randn(5, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=1e-5)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def test_vit_attention_and_mean_distance():
    torch.manual_seed(0)
    vit = ViT(8, 2, in_channels=1, dim=16, depth=2, num_heads=2, mlp_dim=32, positions="sincos")
    x = torch.randn(3, 1, 8, 8)
    assert vit(x).shape == (3, 10)
    maps = vit.attention_weights(x)
    assert len(maps) == 2 and maps[0].shape == (3, 2, 17, 17)
    torch.testing.assert_close(maps[0].sum(-1), torch.ones(3, 2, 17))
    # uniform attention over a 2x2 grid of 4-pixel patches: each query averages distances 0, 4, 4, 4*sqrt(2)
    uniform = torch.full((1, 1, 5, 5), 0.2)
    expected = (0 + 4 + 4 + 4 * math.sqrt(2)) / 4
    torch.testing.assert_close(mean_attention_distance(uniform, (2, 2), 4), torch.tensor([expected]))
    # attention only to itself: distance 0
    eye = torch.eye(5)[None, None]
    torch.testing.assert_close(mean_attention_distance(eye, (2, 2), 4), torch.tensor([0.0]))
    with pytest.raises(ValueError, match="image"):
        vit(torch.randn(1, 1, 7, 7))

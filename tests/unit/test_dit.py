"""Tests of the Diffusion Transformer: adaLN-Zero, shapes, conditioning and the FLOP counter."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genai_foundations.algorithms import ddpm
from genai_foundations.algorithms.latent_diffusion import forward_flops
from genai_foundations.architectures.dit import DiT, DiTBlock, modulate
from genai_foundations.architectures.vit import EncoderBlock


def test_adaln_zero_block_is_identity_at_initialisation():
    torch.manual_seed(0)
    block = DiTBlock(32, 4)
    z, c = torch.randn(3, 10, 32), torch.randn(3, 32)
    assert torch.equal(block(z, c), z)
    dit = DiT(input_size=8, in_channels=4, patch_size=2, dim=32, depth=2, num_heads=4, num_classes=10)
    out = dit(torch.randn(2, 4, 8, 8), torch.rand(2), torch.tensor([3, 10]))
    assert torch.equal(out, torch.zeros_like(out))


def test_unit_gates_give_a_plain_pre_norm_block():
    """With W = 0 and b = (0, 0, 1, 0, 0, 1) the modulation is LN with gates 1: the ViT's encoder block."""
    torch.manual_seed(0)
    block, plain = DiTBlock(16, 2), EncoderBlock(16, 2, 64)
    plain.attention.load_state_dict(block.attention.state_dict())
    plain.mlp.load_state_dict(block.mlp.state_dict())
    with torch.no_grad():
        block.adaLN.bias.copy_(torch.cat([torch.zeros(32), torch.ones(16), torch.zeros(32), torch.ones(16)]))
    z = torch.randn(2, 5, 16)
    torch.testing.assert_close(block(z, torch.randn(2, 16)), plain(z), atol=1e-5, rtol=1e-5)


def test_modulate():
    h, shift, scale = torch.randn(2, 3, 4), torch.randn(2, 4), torch.randn(2, 4)
    out = modulate(h, shift, scale)
    for b in range(2):
        for n in range(3):
            torch.testing.assert_close(out[b, n], h[b, n] * (1 + scale[b]) + shift[b])


@pytest.mark.parametrize("size, channels, patch", [(8, 4, 2), (7, 4, 1), (28, 1, 4), ((8, 12), 3, 4)])
def test_output_shape_and_conditioning(size, channels, patch):
    torch.manual_seed(0)
    dit = DiT(input_size=size, in_channels=channels, patch_size=patch, dim=32, depth=2, num_heads=4, num_classes=10)
    for block in dit.blocks:
        nn.init.normal_(block.adaLN.weight, std=0.1)
    nn.init.normal_(dit.final.linear.weight, std=0.1)
    nn.init.normal_(dit.final.adaLN.weight, std=0.1)
    h, w = (size, size) if isinstance(size, int) else size
    x = torch.randn(2, channels, h, w)
    out = dit(x, torch.tensor([0.1, 0.9]), torch.tensor([1, 2]))
    assert out.shape == x.shape
    assert (out - dit(x, torch.tensor([0.1, 0.9]), torch.tensor([1, 7]))).abs().max() > 1e-4   # the label matters
    assert (out - dit(x, torch.tensor([0.5, 0.9]), torch.tensor([1, 2]))).abs().max() > 1e-4   # the time matters
    torch.testing.assert_close(dit(x, 0.3), dit(x, torch.full((2,), 0.3), torch.full((2,), 10)))  # None = null
    with pytest.raises(ValueError, match="labels"):
        dit(x, 0.3, torch.tensor([0, 11]))
    with pytest.raises(ValueError, match="shape"):
        dit(torch.randn(2, channels, h + patch, w), 0.3)


def test_dit_trains_with_the_ddpm_loss():
    torch.manual_seed(0)
    dit = DiT(input_size=4, in_channels=2, patch_size=2, dim=32, depth=1, num_heads=4)
    schedule = ddpm.NoiseSchedule.cosine(100)
    x0 = torch.randn(64, 2, 4, 4) * 0.1 + 0.5
    opt = torch.optim.Adam(dit.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(60):
        loss = ddpm.ddpm_loss(dit, x0, schedule, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.8 * sum(losses[:10]) / 10


def test_dit_flops_cover_projections_and_attention():
    dit = DiT(input_size=8, in_channels=4, patch_size=2, dim=32, depth=1, num_heads=4)
    flops = forward_flops(dit, torch.randn(1, 4, 8, 8))
    tokens, d = 16, 32
    per_token = 2 * (4 * d * d + 2 * d * 4 * d)          # Q, K, V, O projections and the MLP
    attention = 2 * 2 * tokens * tokens * d             # scores and weighted sum
    assert flops > tokens * per_token + attention

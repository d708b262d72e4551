"""Tests of the text-conditioned denoiser and the diffusion prior (chapter 18)."""

from __future__ import annotations

import pytest
import torch

from genai_foundations.algorithms import ddpm
from genai_foundations.algorithms.text_to_image import (DiffusionPrior, TextConditionedDenoiser, drop_conditions,
                                                         prior_loss, text_to_image_loss, to_prior_space)
from genai_foundations.architectures.attention_unet import AttentionUNet
from genai_foundations.architectures.clip import TextEncoder


def test_drop_conditions_zeroes_whole_rows_and_keeps_the_input():
    y = torch.arange(1, 41).reshape(20, 2)
    out = drop_conditions(y, 0.5, torch.Generator().manual_seed(0))
    dropped = (out == 0).all(dim=1)
    assert 0 < dropped.sum() < 20 and torch.equal(out[~dropped], y[~dropped])
    assert torch.equal(y, torch.arange(1, 41).reshape(20, 2))
    assert torch.equal(drop_conditions(y, 0.0), y) and (drop_conditions(y, 1.0) == 0).all()
    with pytest.raises(ValueError):
        drop_conditions(y, 1.5)


def _denoiser():
    torch.manual_seed(0)
    text = TextEncoder(vocab_size=10, max_length=5, width=16, depth=1, heads=2)
    unet = AttentionUNet(1, (16, 32), context_dim=16, num_heads=2, emb_dim=32)
    with torch.no_grad():                                           # leave the zero-initialised output layer
        for p in unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return TextConditionedDenoiser(unet, text)


def test_empty_caption_is_the_unconditional_branch():
    model = _denoiser().eval()
    x, t = torch.randn(3, 1, 8, 8), torch.full((3,), 0.5)
    ids = torch.tensor([[2, 3, 0, 0, 0], [0, 0, 0, 0, 0], [4, 5, 6, 0, 0]])
    out = model(x, t, ids)
    uncond = model(x, t, None)
    torch.testing.assert_close(out[1], uncond[1], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out[0], uncond[0], atol=1e-4)
    assert not torch.allclose(out[0], model(x, t, ids.flip(0))[0], atol=1e-4)


def test_text_encoder_is_frozen_and_the_unet_learns():
    model = _denoiser().train()
    assert not model.text_encoder.training
    assert all(not p.requires_grad for p in model.text_encoder.parameters())
    ids = torch.randint(1, 10, (4, 5))
    loss = text_to_image_loss(model, torch.randn(4, 1, 8, 8), ids, ddpm.NoiseSchedule.cosine(50), 0.5,
                              torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.dim() == 0 and model.unet.conv_out.weight.grad is not None
    assert all(p.grad is None for p in model.text_encoder.parameters())


def test_guided_sampling_with_captions_runs_through_the_ddpm_sampler():
    model = _denoiser()
    ids = torch.randint(1, 10, (2, 5))
    out = ddpm.sample(model, ddpm.NoiseSchedule.cosine(50), (2, 1, 8, 8), steps=3, y=ids, w=3.0,
                      generator=torch.Generator().manual_seed(0))
    assert out.shape == (2, 1, 8, 8) and torch.isfinite(out).all()
    with pytest.raises(ValueError, match="context_dim"):
        TextConditionedDenoiser(AttentionUNet(1, (16, 32), context_dim=8, num_heads=2), TextEncoder(10, width=16))


def test_prior_null_condition_and_loss():
    torch.manual_seed(0)
    prior = DiffusionPrior(dim=6, hidden=32, depth=2)
    with torch.no_grad():
        prior.out[1].weight.normal_()
        prior.null.normal_()
    x, t, y = torch.randn(3, 6), torch.rand(3), torch.randn(3, 6)
    y[1] = 0
    out = prior(x, t, y)
    torch.testing.assert_close(out[1], prior(x, t, None)[1])
    assert not torch.allclose(out[0], prior(x, t, None)[0])
    emb = to_prior_space(torch.randn(5, 6))
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(5))
    loss = prior_loss(prior, torch.randn(5, 6), torch.randn(5, 6), ddpm.NoiseSchedule.cosine(50))
    assert loss.dim() == 0 and torch.isfinite(loss)
    assert ddpm.sample(prior, ddpm.NoiseSchedule.cosine(50), (5, 6), steps=4, y=emb, w=2.0).shape == (5, 6)

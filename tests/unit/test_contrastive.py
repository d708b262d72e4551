"""Tests of the contrastive objectives (chapter 18): CLIP's loss against transformers, SigLIP's against its definition."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from genai_foundations.algorithms import contrastive as C


def _pair(n=6, d=5, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=dtype), torch.randn(n, d, generator=g, dtype=dtype)


@pytest.mark.parametrize("n, scale", [(1, 1.0), (4, 1 / 0.07), (9, 3.0)])
def test_clip_loss_equals_transformers(n, scale):
    from transformers.models.clip.modeling_clip import image_text_contrastive_loss

    u, v = _pair(n)
    logits_per_image = C.similarity_logits(u, v, scale)
    # transformers' CLIPModel calls it on logits_per_text = logits_per_image.T; the loss is symmetric anyway
    theirs = image_text_contrastive_loss(logits_per_image.T)
    torch.testing.assert_close(C.clip_loss(logits_per_image), theirs, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(C.clip_loss(logits_per_image), image_text_contrastive_loss(logits_per_image))
    torch.testing.assert_close(C.clip_loss_from_embeddings(u, v, scale), theirs)


def test_similarity_logits_are_scaled_cosines():
    u, v = _pair(5, 3)
    expected = 2.5 * F.cosine_similarity(u[:, None, :], v[None, :, :], dim=-1)
    torch.testing.assert_close(C.similarity_logits(u, v, 2.5), expected)
    assert C.similarity_logits(u, v[:3]).shape == (5, 3)


def test_clip_loss_gradients_match_transformers():
    from transformers.models.clip.modeling_clip import image_text_contrastive_loss

    logits = torch.randn(5, 5, dtype=torch.float64, requires_grad=True)
    (g_ours,) = torch.autograd.grad(C.clip_loss(logits), logits)
    (g_theirs,) = torch.autograd.grad(image_text_contrastive_loss(logits.T), logits)
    torch.testing.assert_close(g_ours, g_theirs)


def test_clip_loss_closed_forms():
    n = 7
    assert math.isclose(C.clip_loss(torch.zeros(n, n)).item(), math.log(n), rel_tol=1e-6)   # uniform: log N
    assert C.clip_loss(100 * torch.eye(n)).item() < 1e-6                                   # perfect matching
    with pytest.raises(ValueError, match="square"):
        C.clip_loss(torch.zeros(3, 4))


def _siglip_by_definition(u, v, s, b):
    n = u.shape[0]
    total = 0.0
    for i in range(n):
        for j in range(n):
            z = 1.0 if i == j else -1.0
            cos = float(u[i] @ v[j] / (u[i].norm() * v[j].norm()))
            total += -math.log(1 / (1 + math.exp(-z * (math.exp(s) * cos + b))))
    return total / n


@pytest.mark.parametrize("n, s, b", [(1, 0.0, 0.0), (5, math.log(10), -10.0), (8, 1.3, 2.0)])
def test_siglip_loss_equals_its_definition(n, s, b):
    u, v = _pair(n, seed=n)
    ours = C.siglip_loss(u, v, s, b).item()
    assert math.isclose(ours, _siglip_by_definition(u, v, s, b), rel_tol=1e-10)


def test_siglip_loss_is_finite_for_extreme_logits_and_has_the_right_gradient():
    u, v = _pair(4)
    s = torch.tensor(math.log(1000.0), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-500.0, dtype=torch.float64, requires_grad=True)
    loss = C.siglip_loss(u, v, s, b)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad) and torch.isfinite(b.grad)
    # d/db of sum softplus(-z (e^s S + b)) / N = sum(-z * sigmoid(-z x)) / N, computed independently
    x = math.exp(s.item()) * C.normalize(u) @ C.normalize(v).T + b.item()
    z = 2 * torch.eye(4, dtype=torch.float64) - 1
    assert math.isclose(b.grad.item(), float((-z * torch.sigmoid(-z * x)).sum() / 4), rel_tol=1e-9)


def test_heads_initialise_as_the_papers():
    clip_head, siglip_head = C.CLIPTemperature(), C.SigLIPHead()
    assert math.isclose(clip_head.scale().item(), 1 / 0.07, rel_tol=1e-6)
    assert math.isclose(siglip_head.scale().item(), 10.0, rel_tol=1e-6) and siglip_head.bias.item() == -10.0
    with torch.no_grad():
        clip_head.log_scale.fill_(10.0)
    assert math.isclose(clip_head.scale().item(), 100.0, rel_tol=1e-6)                     # CLIP's cap
    u, v = _pair(3, dtype=torch.float32)
    torch.testing.assert_close(siglip_head(u, v), C.siglip_loss(u, v, siglip_head.log_scale, siglip_head.bias))


def test_zero_shot_prediction_and_prompt_ensembling():
    classes = torch.eye(3, 4, dtype=torch.float64)
    images = torch.tensor([[0.1, 2.0, 0.0, 0.3], [5.0, 0.0, 0.1, 0.0], [0.0, 0.0, 1.0, 0.9]], dtype=torch.float64)
    assert C.zero_shot_predict(images, classes).tolist() == [1, 0, 2]
    two_templates = torch.stack([classes, 3 * classes])                         # lengths do not matter
    torch.testing.assert_close(C.class_embeddings(two_templates), classes)
    assert C.class_embeddings(torch.randn(2, 10, 4)).norm(dim=1).allclose(torch.ones(10))
    with pytest.raises(ValueError):
        C.zero_shot_predict(images, torch.eye(3, 5))


def test_retrieval_accuracy():
    logits = torch.tensor([[3.0, 1.0], [4.0, 2.0]])
    assert C.retrieval_accuracy(logits) == (0.5, 0.5)

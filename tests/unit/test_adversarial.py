"""Tests of FGSM, PGD and adversarial training (chapter 26, robustness-evaluation)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.algorithms import adversarial as adv


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10)).double()


def _batch(n: int = 16, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1,
            torch.randint(0, 10, (n,), generator=gen))


def test_fgsm_matches_its_formula_and_leaves_inputs_alone():
    model, (x, y) = _model(), _batch()
    x0 = x.clone()
    out = adv.fgsm(model, x, y, 0.1)
    assert all(p.grad is None for p in model.parameters())     # the attack leaves the weights' gradients alone
    xr = x.clone().requires_grad_(True)
    F.cross_entropy(model(xr), y).backward()           # the mean: same sign as the sum
    torch.testing.assert_close(out, (x + 0.1 * xr.grad.sign()).clamp(-1, 1))
    assert torch.equal(x, x0) and out.dtype == x.dtype and not out.requires_grad


def test_fgsm_is_the_exact_worst_case_for_a_linear_loss():
    # loss w.x: the maximum over the L-inf ball is w.x + eps * ||w||_1, reached by x + eps sign(w)
    w = torch.randn(64, dtype=torch.float64)
    x = torch.zeros(3, 64, dtype=torch.float64)
    grad = w.expand(3, 64)
    step = adv.pgd_step(x, x, grad, alpha=0.05, eps=0.05, norm="inf", clip=None)
    torch.testing.assert_close(step @ w, torch.full((3,), 0.05 * w.abs().sum().item(), dtype=torch.float64))


@pytest.mark.parametrize("norm, eps", [("inf", 0.2), ("2", 0.8), ("inf", 0.0)])
def test_pgd_stays_in_the_ball_and_the_pixel_range(norm, eps):
    model, (x, y) = _model(), _batch(32)
    x_adv = adv.pgd(model, x, y, eps, steps=8, alpha=0.3, norm=norm, generator=torch.Generator().manual_seed(0))
    delta = (x_adv - x).flatten(1)
    size = delta.abs().amax(dim=1) if norm == "inf" else delta.norm(dim=1)
    assert torch.all(size <= eps + 1e-12)
    assert x_adv.min() >= -1 and x_adv.max() <= 1


def test_pgd_raises_the_loss_more_than_fgsm_and_the_clean_input():
    model, (x, y) = _model(3), _batch(64, 4)
    with torch.no_grad():
        clean = F.cross_entropy(model(x), y)
        fgsm = F.cross_entropy(model(adv.fgsm(model, x, y, 0.1)), y)
        pgd = F.cross_entropy(model(adv.pgd(model, x, y, 0.1, steps=20, random_init=False)), y)
    assert clean < fgsm <= pgd + 1e-9


def test_projection_is_the_closest_point_of_the_ball():
    gen = torch.Generator().manual_seed(5)
    delta = torch.randn(6, 1, 8, 8, generator=gen, dtype=torch.float64)
    delta[0] *= 1e-3                                   # already inside: unchanged
    for norm, eps in (("inf", 0.3), ("2", 1.5)):
        p = adv.project(delta, eps, norm)
        if norm == "inf":
            torch.testing.assert_close(p, torch.clamp(delta, -eps, eps))
        else:
            norms = delta.flatten(1).norm(dim=1)
            expected = delta * torch.clamp(eps / norms, max=1).view(-1, 1, 1, 1)
            torch.testing.assert_close(p, expected)
            torch.testing.assert_close(p.flatten(1).norm(dim=1), torch.clamp(norms, max=eps))
        torch.testing.assert_close(p[0], delta[0])
        # no random point of the ball is closer to delta than its projection
        cand = adv.random_start(torch.zeros(200, 1, 8, 8, dtype=torch.float64), eps, norm, gen, clip=None)
        for b in range(1, 6):
            assert (delta[b] - p[b]).norm() <= (delta[b] - cand).flatten(1).norm(dim=1).min() + 1e-12


def test_random_start_is_inside_the_ball():
    x = torch.zeros(100, 1, 8, 8)
    for norm in ("inf", "2"):
        d = adv.random_start(x, 0.5, norm, torch.Generator().manual_seed(0), clip=None).flatten(1)
        size = d.abs().amax(dim=1) if norm == "inf" else d.norm(dim=1)
        assert size.max() <= 0.5 + 1e-6 and size.min() > 0


def test_bad_arguments_say_what_was_expected():
    model, (x, y) = _model(), _batch()
    with pytest.raises(ValueError, match="norm must be"):
        adv.pgd(model, x, y, 0.1, norm="1")
    with pytest.raises(ValueError, match="non-negative"):
        adv.fgsm(model, x, y, -0.1)
    with pytest.raises(ValueError, match="same number"):
        adv.fgsm(model, x, y[:3], 0.1)
    with pytest.raises(ValueError, match="perturb"):
        adv.train_digits_robust(perturb="mixup", steps=1)


def test_adversarial_training_runs_and_robust_accuracy_counts():
    torch.manual_seed(0)
    model, acc = adv.train_digits_robust(steps=3, batch_size=16, attack_steps=1)
    assert 0.0 <= acc <= 1.0 and not model.training
    from genai_foundations.data.digits import load_digits

    test = load_digits("test")
    x, y = test.images[:40], test.labels[:40]
    clean = adv.robust_accuracy(model, x, y, adv.fgsm, 0.0)
    with torch.no_grad():
        assert clean == pytest.approx(float((model(x).argmax(1) == y).double().mean()))
    assert adv.robust_accuracy(model, x, y, adv.pgd, 0.3, steps=3, batch_size=16) <= clean

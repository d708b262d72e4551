"""The written-out losses against torch.nn.functional, KL/entropy identities, and 1-D W1 against SciPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import entropy as scipy_entropy
from scipy.stats import wasserstein_distance

from genai_foundations.architectures import losses as L


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_distributions(batch: int, k: int, seed: int, zeros: bool = False) -> torch.Tensor:
    w = torch.rand(batch, k, generator=gen(seed), dtype=torch.float64)
    if zeros:
        w = w * (torch.rand(batch, k, generator=gen(seed + 1)) > 0.3)
        w[:, 0] += 0.1  # every row keeps some mass
    return w / w.sum(-1, keepdim=True)


@pytest.mark.parametrize("reduction", L.REDUCTIONS)
def test_regression_losses_equal_torch(reduction):
    pred, target = torch.randn(5, 3, generator=gen(0)), torch.randn(5, 3, generator=gen(1))
    torch.testing.assert_close(L.mse(pred, target, reduction), F.mse_loss(pred, target, reduction=reduction))
    torch.testing.assert_close(L.mae(pred, target, reduction), F.l1_loss(pred, target, reduction=reduction))


def test_mae_is_robust_to_an_outlier():
    target = torch.zeros(10)
    pred = torch.full((10,), 0.1)
    pred_outlier = pred.clone()
    pred_outlier[0] = 10.0
    assert L.mse(pred_outlier, target) / L.mse(pred, target) > 100 * L.mae(pred_outlier, target) / L.mae(pred, target) / 10


@pytest.mark.parametrize("reduction", L.REDUCTIONS)
def test_cross_entropy_from_logits_equals_torch(reduction):
    logits = 3 * torch.randn(16, 5, generator=gen(2), dtype=torch.float64)
    targets = torch.randint(0, 5, (16,), generator=gen(3))
    torch.testing.assert_close(L.cross_entropy_from_logits(logits, targets, reduction),
                               F.cross_entropy(logits, targets, reduction=reduction))
    soft = random_distributions(16, 5, 4)
    torch.testing.assert_close(L.cross_entropy_from_logits(logits, soft, reduction),
                               F.cross_entropy(logits, soft, reduction=reduction))


def test_cross_entropy_from_logits_is_stable():
    logits = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 0.0, 0.0]])
    targets = torch.tensor([1, 2])
    out = L.cross_entropy_from_logits(logits, targets, "none")
    torch.testing.assert_close(out, F.cross_entropy(logits, targets, reduction="none"))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("reduction", L.REDUCTIONS)
def test_cross_entropy_from_probs_equals_nll_loss(reduction):
    probs = random_distributions(10, 4, 5)
    targets = torch.randint(0, 4, (10,), generator=gen(6))
    torch.testing.assert_close(L.cross_entropy_from_probs(probs, targets, reduction),
                               F.nll_loss(probs.log(), targets, reduction=reduction))


@pytest.mark.parametrize("reduction", L.REDUCTIONS)
def test_binary_cross_entropy_equals_torch(reduction):
    logits = 4 * torch.randn(50, generator=gen(7), dtype=torch.float64)
    targets = (torch.rand(50, generator=gen(8)) < 0.5).double()
    targets[:5] = torch.rand(5, generator=gen(9), dtype=torch.float64)  # soft targets too
    probs = torch.sigmoid(logits)
    torch.testing.assert_close(L.binary_cross_entropy(probs, targets, reduction),
                               F.binary_cross_entropy(probs, targets, reduction=reduction))
    torch.testing.assert_close(L.binary_cross_entropy_with_logits(logits, targets, reduction),
                               F.binary_cross_entropy_with_logits(logits, targets, reduction=reduction))


def test_binary_cross_entropy_extremes():
    probs, targets = torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.tensor([0.0, 1.0, 1.0, 0.0])
    torch.testing.assert_close(L.binary_cross_entropy(probs, targets, "none"),
                               F.binary_cross_entropy(probs, targets, reduction="none"))
    logits = torch.tensor([500.0, -500.0, 80.0])
    out = L.binary_cross_entropy_with_logits(logits, torch.tensor([0.0, 1.0, 1.0]), "none")
    torch.testing.assert_close(out, torch.tensor([500.0, 500.0, 0.0]))


def test_binary_cross_entropy_with_logits_gradient_at_zero():
    """Issue 9: logits [0, 0], targets [0, 1], mean reduction. The old clamp/abs formula gave [0, -0.5]."""
    z = torch.zeros(2, requires_grad=True)
    y = torch.tensor([0.0, 1.0])
    (ours,) = torch.autograd.grad(L.binary_cross_entropy_with_logits(z, y), z)
    (theirs,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(z, y), z)
    assert ours.tolist() == theirs.tolist() == [0.25, -0.25]
    # the gradient is sigmoid(z) - y everywhere, per example
    z = torch.tensor([-1000.0, -3.0, -1e-8, 0.0, 1e-8, 3.0, 1000.0], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([1.0, 0.0, 1.0, 0.3, 0.0, 1.0, 0.0], dtype=torch.float64)
    (grad,) = torch.autograd.grad(L.binary_cross_entropy_with_logits(z, y, "sum"), z)
    torch.testing.assert_close(grad, torch.sigmoid(z.detach()) - y)
    torch.testing.assert_close(L.softplus(z), torch.logaddexp(torch.zeros_like(z), z))


def test_binary_cross_entropy_gradient_is_finite_at_zero_and_one():
    """The old clamp(log p) multiplied the clamp's zero slope by log's infinite one: NaN at p in {0, 1}."""
    p = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.25], dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0.0, 1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    (ours,) = torch.autograd.grad(L.binary_cross_entropy(p, y, "sum"), p)
    (theirs,) = torch.autograd.grad(F.binary_cross_entropy(p, y, reduction="sum"), p)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(ours, theirs, rtol=1e-15, atol=0.0)


def test_kl_entropy_cross_entropy_gradients_are_finite_where_probabilities_are_zero():
    """where(p == 0, 0, p log q) has NaN gradients at p = q = 0; the terms with p = 0 must give 0."""
    p = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64, requires_grad=True)
    q = torch.tensor([0.5, 0.5, 0.0], dtype=torch.float64, requires_grad=True)
    for value in (L.kl_divergence(p, q), L.cross_entropy(p, q)):
        grad_p, grad_q = torch.autograd.grad(value, (p, q))
        assert torch.isfinite(grad_p).all() and torch.isfinite(grad_q).all()
        assert grad_q[2] == 0
    (grad,) = torch.autograd.grad(L.entropy(p), p)
    assert torch.isfinite(grad).all() and grad[2] == 0
    # a softmax model whose last probability underflows: the same gradient as PyTorch's log-space form
    z = torch.tensor([0.0, 1.0, -1000.0], requires_grad=True)
    target = torch.tensor([0.3, 0.7, 0.0])
    (ours,) = torch.autograd.grad(L.kl_divergence(target, torch.softmax(z, 0)), z)
    (theirs,) = torch.autograd.grad(F.kl_div(torch.log_softmax(z, 0), target, reduction="sum"), z)
    torch.testing.assert_close(ours, theirs)


def test_worked_examples():
    ce = L.cross_entropy_from_probs(torch.tensor([[0.8, 0.1, 0.1]]), torch.tensor([0]))
    assert round(ce.item(), 4) == 0.2231
    bce = L.binary_cross_entropy(torch.tensor([0.9]), torch.tensor([1.0]))
    assert round(bce.item(), 4) == 0.1054
    per_example = torch.tensor([0.5, 1.5, 1.0])
    assert L.batch_loss(per_example).item() == pytest.approx(1.0)


def test_kl_equals_torch_and_scipy():
    p, q = random_distributions(6, 7, 10, zeros=True), random_distributions(6, 7, 12)
    torch.testing.assert_close(L.kl_divergence(p, q), F.kl_div(q.log(), p, reduction="none").sum(-1))
    for i in range(6):
        assert L.kl_divergence(p[i], q[i]).item() == pytest.approx(scipy_entropy(p[i].numpy(), q[i].numpy()))
        assert L.entropy(p[i]).item() == pytest.approx(scipy_entropy(p[i].numpy()))
    assert (L.kl_divergence(p, q) >= 0).all()
    torch.testing.assert_close(L.kl_divergence(q, q), torch.zeros(6, dtype=torch.float64))


def test_kl_is_infinite_where_q_misses_mass_of_p():
    p = torch.tensor([0.5, 0.5, 0.0])
    q = torch.tensor([1.0, 0.0, 0.0])
    assert math.isinf(L.kl_divergence(p, q).item())
    assert L.kl_divergence(q, p).item() == pytest.approx(math.log(2))  # q=0 where p=0 is fine
    # torch agrees on the infinite term; where p = q = 0 it computes 0 * (-inf) = nan, we use 0 log(0/0) = 0
    assert math.isinf(F.kl_div(q[:2].log(), p[:2], reduction="sum").item())
    assert torch.isnan(F.kl_div(q.log(), p, reduction="none")[2])


def test_cross_entropy_is_kl_plus_entropy():
    p, q = random_distributions(5, 6, 20, zeros=True), random_distributions(5, 6, 21)
    torch.testing.assert_close(L.cross_entropy(p, q), L.kl_divergence(p, q) + L.entropy(p))
    torch.testing.assert_close(L.entropy(torch.full((4,), 0.25)), torch.tensor(math.log(4)))
    # H(p, q) for a one-hot p is the categorical cross-entropy of the logits log q
    onehot = F.one_hot(torch.tensor([2, 0]), 3).double()
    q2 = random_distributions(2, 3, 22)
    torch.testing.assert_close(L.cross_entropy(onehot, q2), F.nll_loss(q2.log(), torch.tensor([2, 0]), reduction="none"))


@pytest.mark.parametrize("sizes", [(50, 50), (37, 80), (1, 9)])
def test_wasserstein1_samples_equals_scipy(sizes):
    x = torch.randn(sizes[0], generator=gen(30), dtype=torch.float64)
    y = 2 * torch.randn(sizes[1], generator=gen(31), dtype=torch.float64) + 1
    assert L.wasserstein1_samples(x, y).item() == pytest.approx(wasserstein_distance(x.numpy(), y.numpy()), rel=1e-10)
    if sizes[0] == sizes[1]:
        expected = (x.sort()[0] - y.sort()[0]).abs().mean()
        torch.testing.assert_close(L.wasserstein1_samples(x, y), expected)


def test_wasserstein1_samples_of_a_shift_is_the_shift():
    x = torch.randn(100, generator=gen(32), dtype=torch.float64)
    assert L.wasserstein1_samples(x, x + 3.0).item() == pytest.approx(3.0)


def test_wasserstein1_histograms_equals_scipy():
    grid = torch.sort(torch.rand(12, generator=gen(40), dtype=torch.float64) * 10)[0]
    p, q = random_distributions(1, 12, 41, zeros=True)[0], random_distributions(1, 12, 43)[0]
    expected = wasserstein_distance(grid.numpy(), grid.numpy(), p.numpy(), q.numpy())
    assert L.wasserstein1_histograms(p, q, grid).item() == pytest.approx(expected, rel=1e-10)


def test_disjoint_supports_kl_infinite_w1_finite():
    grid = torch.arange(10, dtype=torch.float64)
    p = torch.zeros(10, dtype=torch.float64)
    q = torch.zeros(10, dtype=torch.float64)
    p[1], q[6] = 1.0, 1.0
    assert math.isinf(L.kl_divergence(p, q).item())
    assert L.wasserstein1_histograms(p, q, grid).item() == pytest.approx(5.0)
    assert wasserstein_distance(np.arange(10), np.arange(10), p.numpy(), q.numpy()) == pytest.approx(5.0)


def test_wasserstein1_plan_is_a_coupling_whose_cost_is_w1():
    grid = torch.sort(torch.rand(9, generator=gen(50), dtype=torch.float64) * 5)[0]
    p, q = random_distributions(1, 9, 51, zeros=True)[0], random_distributions(1, 9, 53)[0]
    plan = L.wasserstein1_plan(p, q, grid)
    assert plan.shape == (9, 9) and (plan >= 0).all()
    torch.testing.assert_close(plan.sum(1), p)
    torch.testing.assert_close(plan.sum(0), q)
    cost = (plan * (grid[:, None] - grid[None, :]).abs()).sum()
    assert cost.item() == pytest.approx(L.wasserstein1_histograms(p, q, grid).item(), rel=1e-12)
    assert cost.item() == pytest.approx(wasserstein_distance(grid.numpy(), grid.numpy(), p.numpy(), q.numpy()), rel=1e-10)
    # disjoint supports: every unit of mass moves by the shift
    g = torch.arange(20, dtype=torch.float64)
    a = torch.zeros(20, dtype=torch.float64)
    a[:4] = 0.25
    shifted = L.wasserstein1_plan(a, torch.roll(a, 10), g)
    assert torch.equal(shifted.nonzero(), torch.tensor([[i, i + 10] for i in range(4)]))


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="same shape"):
        L.mse(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        L.mae(torch.zeros(3), torch.zeros(3), reduction="average")
    with pytest.raises(ValueError, match="class targets"):
        L.cross_entropy_from_logits(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="sum to 1"):
        L.kl_divergence(torch.tensor([0.5, 0.6]), torch.tensor([0.5, 0.5]))
    with pytest.raises(ValueError, match="strictly increasing"):
        L.wasserstein1_histograms(torch.tensor([0.5, 0.5]), torch.tensor([0.5, 0.5]), torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="1-D samples"):
        L.wasserstein1_samples(torch.zeros(2, 2), torch.zeros(3))


def test_transport_plan_diagram_reports_w1():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from genai_foundations.diagrams.losses_transport import draw_transport_plan

    grid = torch.arange(8, dtype=torch.float64)
    p = torch.tensor([0.5, 0.5, 0, 0, 0, 0, 0, 0], dtype=torch.float64)
    q = torch.tensor([0, 0, 0, 0.25, 0.25, 0, 0, 0.5], dtype=torch.float64)
    fig = draw_transport_plan(p, q, grid)
    w1 = L.wasserstein1_histograms(p, q, grid).item()
    assert f"{w1:.4g}" in fig._suptitle.get_text()
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    plt.close(fig)

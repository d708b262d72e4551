"""Tests of the distillation loss (chapter 21, fine-tuning)."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from genai_foundations.algorithms.distillation import distillation_loss, distillation_objective, soft_targets

f64 = dict(dtype=torch.float64)


@pytest.mark.parametrize("T", [0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("shape", [(6, 11), (2, 5, 11)])
def test_equals_kl_div_with_T_squared(T, shape):
    g = torch.Generator().manual_seed(0)
    s = (3 * torch.randn(shape, generator=g, **f64)).requires_grad_(True)
    t = 3 * torch.randn(shape, generator=g, **f64)
    ours = distillation_loss(s, t, T)
    s2 = s.detach().clone().requires_grad_(True)
    v = shape[-1]
    ref = T ** 2 * F.kl_div(F.log_softmax(s2.reshape(-1, v) / T, -1), F.log_softmax(t.reshape(-1, v) / T, -1),
                            log_target=True, reduction="batchmean")
    torch.testing.assert_close(ours, ref)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(s.grad, s2.grad)
    # the gradient is T (p_s - p_t) / rows
    rows = s.numel() // v
    torch.testing.assert_close(s.grad, T * (soft_targets(s, T) - soft_targets(t, T)).detach() / rows)


def test_zero_for_equal_logits_and_no_gradient_to_the_teacher():
    z = torch.randn(4, 7, **f64)
    teacher = z.clone().requires_grad_(True)
    loss = distillation_loss(z.clone().requires_grad_(True), teacher, 3.0)
    assert abs(float(loss.detach())) < 1e-12
    loss.backward()
    assert teacher.grad is None


def test_objective_mixes_hard_and_soft_terms():
    torch.manual_seed(1)
    student, teacher = torch.nn.Embedding(9, 9).double(), torch.nn.Embedding(9, 9).double()
    x, y = torch.randint(0, 9, (3, 4)), torch.randint(0, 9, (3, 4))
    hard = F.cross_entropy(student(x).reshape(-1, 9), y.reshape(-1))
    soft = distillation_loss(student(x), teacher(x), 2.0)
    for lam in (0.0, 0.3, 1.0):
        got = distillation_objective(student, teacher, x, y, temperature=2.0, soft_weight=lam)
        torch.testing.assert_close(got, (1 - lam) * hard + lam * soft)


def test_bad_input():
    with pytest.raises(ValueError, match="temperature"):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 3), 0.0)
    with pytest.raises(ValueError, match="shape"):
        distillation_loss(torch.zeros(2, 3), torch.zeros(2, 4), 1.0)

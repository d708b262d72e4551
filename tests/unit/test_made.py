"""MADE: masks by the paper's rule, a strictly triangular Jacobian (autograd), perturbation, likelihood and sampling."""

import pytest
import torch
from torch.nn import functional as F

from genai_foundations.architectures.made import MADE, hidden_degrees, input_degrees, made_masks


def test_masks_follow_the_papers_rule_elementwise():
    m0 = input_degrees([2, 0, 1])                                   # x2 first, then x0, then x1
    assert m0.tolist() == [2, 3, 1]
    m1 = torch.tensor([1, 2, 1, 2])
    m2 = torch.tensor([2, 1])
    hidden1, hidden2, out = made_masks([m0, m1, m2])
    assert hidden1.shape == (4, 3) and hidden2.shape == (2, 4) and out.shape == (3, 2)
    for k in range(4):
        for d in range(3):
            assert hidden1[k, d] == float(m1[k] >= m0[d])
    for k in range(2):
        for j in range(4):
            assert hidden2[k, j] == float(m2[k] >= m1[j])
    for d in range(3):
        for k in range(2):
            assert out[d, k] == float(m0[d] > m2[k])
    assert out[2].sum() == 0                                        # the first variable in the ordering sees nothing


@pytest.mark.parametrize("ordering,random", [(None, True), ([3, 1, 4, 0, 5, 2], True), (None, False)])
def test_jacobian_is_strictly_triangular_in_the_ordering(ordering, random):
    torch.manual_seed(0)
    D = 6
    model = MADE(D, (32, 24), ordering=ordering, seed=1, random_degrees=random).double()
    x = torch.bernoulli(torch.full((D,), 0.5, dtype=torch.float64))
    jac = torch.autograd.functional.jacobian(lambda v: model(v[None])[0], x)      # (D out, D in)
    order = model.ordering
    permuted = jac[order][:, order]                                  # rows and columns in the ordering
    assert torch.equal(permuted.triu() != 0, torch.zeros(D, D, dtype=torch.bool))
    assert (permuted.tril(-1).abs().sum(dim=1)[1:] > 0).sum() >= D - 2       # and the network does use the past


def test_perturbing_input_d_leaves_outputs_up_to_d_unchanged():
    torch.manual_seed(0)
    D = 10
    model = MADE(D, (64,), seed=3)
    x = torch.bernoulli(torch.full((5, D), 0.5))
    base = model(x)
    for d in range(D):
        flipped = x.clone()
        flipped[:, d] = 1 - flipped[:, d]
        out = model(flipped)
        assert torch.equal(out[:, :d + 1], base[:, :d + 1])


def test_degrees_and_likelihood_and_sampling():
    previous = torch.tensor([1, 2, 3, 4])
    deg = hidden_degrees(100, 4, previous, generator=torch.Generator().manual_seed(0))
    assert deg.min() >= 1 and deg.max() <= 3
    assert hidden_degrees(6, 4, previous, random=False).tolist() == [1, 2, 3, 1, 2, 3]
    torch.manual_seed(0)
    model = MADE(4, (16,), seed=0)
    x = torch.tensor([[0.0, 1.0, 1.0, 0.0]])
    logits = model(x)
    manual = -(F.logsigmoid(logits) * x + F.logsigmoid(-logits) * (1 - x)).sum()
    assert torch.allclose(model.nll(x), manual[None])
    # the probabilities of all 2^4 binary vectors sum to one
    grid = torch.tensor([[(i >> j) & 1 for j in range(4)] for i in range(16)], dtype=torch.float32)
    assert abs(float(torch.exp(-model.nll(grid)).sum().detach()) - 1) < 1e-5
    samples = model.sample(7, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (7, 4) and set(samples.unique().tolist()) <= {0.0, 1.0}


def test_bad_input():
    with pytest.raises(ValueError, match="permutation"):
        input_degrees([0, 0, 1])
    with pytest.raises(ValueError, match="shape"):
        MADE(4, (8,))(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="hidden"):
        MADE(4, ())

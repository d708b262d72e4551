"""Chain-rule likelihoods and the sampling loop: sums of per-token cross-entropies, inverse-CDF draws, the worked example."""

import math

import pytest
import torch
from torch.nn import functional as F

from genai_foundations.algorithms.chain_rule import (cross_entropy_nats, inverse_cdf_sample, model_log_likelihood,
                                                     sample_tokens, sequence_log_likelihood)
from genai_foundations.architectures.gpt import GPT, GPTConfig


def test_worked_cross_entropy_example():
    assert round(cross_entropy_nats([0.1, 0.7, 0.15, 0.05], 1), 3) == 0.357
    with pytest.raises(ValueError):
        cross_entropy_nats([0.5, 0.6], 0)


def test_sequence_log_likelihood_is_minus_the_sum_of_cross_entropies():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(3, 8, 11, generator=g, dtype=torch.float64), torch.randint(0, 11, (3, 8), generator=g)
    ll = sequence_log_likelihood(logits, targets)
    per_token = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")          # (3, 8)
    assert ll.shape == (3,) and torch.allclose(ll, -per_token.sum(dim=1))
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=11, n_positions=16, d_model=16, n_heads=2, n_layers=1)).double().eval()
    ids = torch.randint(0, 11, (2, 9), generator=g)
    with torch.no_grad():
        chain = sum(torch.log_softmax(gpt(ids[:, :t])[:, -1], -1).gather(1, ids[:, t:t + 1])[:, 0] for t in range(1, 9))
        assert torch.allclose(model_log_likelihood(gpt, ids), chain)                  # one pass = the chain rule
        assert torch.allclose(-model_log_likelihood(gpt, ids).sum() / 16, gpt.loss(ids[:, :-1], ids[:, 1:]))


def test_inverse_cdf_and_the_sampling_loop():
    p = torch.tensor([[0.2, 0.5, 0.3]] * 4)
    assert inverse_cdf_sample(p, torch.tensor([0.0, 0.19, 0.2, 0.99999])).tolist() == [0, 0, 1, 2]
    draws = inverse_cdf_sample(p[:1].expand(20000, 3), torch.rand(20000, generator=torch.Generator().manual_seed(1)))
    assert torch.allclose(torch.bincount(draws, minlength=3) / 20000.0, p[0], atol=0.01)
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=9, n_positions=8, d_model=16, n_heads=2, n_layers=1)).eval()
    prompt, u = torch.tensor([[1, 2], [3, 4]]), torch.rand(10, 2, generator=torch.Generator().manual_seed(2))
    out = sample_tokens(gpt, prompt, 10, u, context=8)
    assert out.shape == (2, 12) and torch.equal(out[:, :2], prompt)
    ids = prompt
    for i in range(10):                                              # the loop written out
        with torch.no_grad():
            probs = torch.softmax(gpt(ids[:, -8:])[:, -1].double(), -1)
        ids = torch.cat([ids, inverse_cdf_sample(probs, u[i])[:, None]], 1)
    assert torch.equal(out, ids)
    cold = sample_tokens(gpt, prompt, 3, torch.full((3, 2), 0.5), temperature=1e-4, context=8)
    with torch.no_grad():
        assert torch.equal(cold[:, 2], gpt(prompt)[:, -1].argmax(-1))      # T -> 0: greedy
    with pytest.raises(ValueError, match="uniforms"):
        sample_tokens(gpt, prompt, 3, torch.rand(2, 2))

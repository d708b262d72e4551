"""TRPO's pieces: conjugate gradient against a direct solve, Fisher-vector products against the KL's Hessian."""

import pytest
import torch
from torch.func import functional_call, hessian

from genai_foundations.rl.networks import CategoricalPolicy, GaussianPolicy
from genai_foundations.rl.trpo import conjugate_gradient, fisher_vector_product, line_search, mean_kl


def test_conjugate_gradient_matches_linalg_solve():
    torch.manual_seed(0)
    m = torch.randn(8, 8, dtype=torch.float64)
    a = m @ m.T + 0.5 * torch.eye(8, dtype=torch.float64)
    b = torch.randn(8, dtype=torch.float64)
    x = conjugate_gradient(lambda v: a @ v, b, iterations=8, tolerance=0.0)
    torch.testing.assert_close(x, torch.linalg.solve(a, b))


def _kl_hessian(policy, obs):
    names = [n for n, _ in policy.named_parameters()]
    shapes = [p.shape for p in policy.parameters()]
    theta0 = torch.cat([p.detach().reshape(-1) for p in policy.parameters()])
    with torch.no_grad():
        old = policy.distribution(obs)

    def kl_of(flat):
        params, i = {}, 0
        for n, s in zip(names, shapes):
            k = s.numel()
            params[n] = flat[i:i + k].reshape(s)
            i += k
        new = _distribution(policy, params, obs)
        kl = torch.distributions.kl_divergence(old, new)
        return (kl.sum(-1) if kl.dim() > 1 else kl).mean()

    return hessian(kl_of)(theta0)


def _distribution(policy, params, obs):
    if isinstance(policy, CategoricalPolicy):
        logits = functional_call(policy, params, (obs,))
        return torch.distributions.Categorical(logits=logits)
    mean = functional_call(policy, params, (obs,))
    return torch.distributions.Normal(mean, params["log_std"].exp())


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")  # inside torch.func
def test_fisher_vector_product_is_the_kl_hessian_times_v():
    torch.manual_seed(0)
    for policy in (CategoricalPolicy(3, 4, (5,)).double(), GaussianPolicy(3, 2, (5,)).double()):
        obs = torch.randn(16, 3, dtype=torch.float64)
        h = _kl_hessian(policy, obs)
        v = torch.randn(h.shape[0], dtype=torch.float64)
        torch.testing.assert_close(fisher_vector_product(policy, obs, v), h @ v)
        torch.testing.assert_close(fisher_vector_product(policy, obs, v, damping=0.1), h @ v + 0.1 * v)


def test_line_search_keeps_the_kl_bound_or_restores_the_parameters():
    torch.manual_seed(0)
    policy = CategoricalPolicy(3, 2, (4,)).double()
    obs = torch.randn(32, 3, dtype=torch.float64)
    with torch.no_grad():
        old = policy.distribution(obs)
    before = torch.cat([p.detach().reshape(-1).clone() for p in policy.parameters()])
    huge = 100.0 * torch.randn_like(before)
    ok, _ = line_search(policy, huge, lambda: -mean_kl(policy, obs, old), lambda: mean_kl(policy, obs, old),
                        max_kl=1e-12, max_backtracks=3)
    assert not ok
    torch.testing.assert_close(torch.cat([p.detach().reshape(-1) for p in policy.parameters()]), before)
    # a surrogate that rewards any move: accepted with a KL within bound
    ok, _ = line_search(policy, 0.05 * torch.randn_like(before), lambda: mean_kl(policy, obs, old),
                        lambda: mean_kl(policy, obs, old), max_kl=0.05, max_backtracks=10)
    with torch.no_grad():
        assert ok and float(mean_kl(policy, obs, old)) <= 0.05

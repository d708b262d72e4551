"""Trust region policy optimisation (TRPO) :cite:`schulman2015trpo`.

TRPO takes the largest step that keeps the new policy close to the old one in
KL divergence:

.. math:: \\max_\\theta\\; \\mathcal L(\\theta) = \\mathbb E\\Big[\\frac{\\pi_\\theta(a\\mid s)}{\\pi_{\\theta_k}(a\\mid s)}\\hat A\\Big]
          \\quad\\text{s.t.}\\quad \\bar D_{KL}(\\theta\\,\\|\\,\\theta_k) = \\mathbb E_s\\big[D_{KL}(\\pi_{\\theta_k}(\\cdot\\mid s)\\,\\|\\,\\pi_\\theta(\\cdot\\mid s))\\big] \\le \\delta .

With the linear model of :math:`\\mathcal L` (gradient :math:`g`) and the quadratic
model of the KL (the Fisher matrix :math:`H`, its Hessian at :math:`\\theta_k`) the
step is :math:`\\Delta = \\sqrt{2\\delta / (x^\\top H x)}\\,x` with :math:`x = H^{-1} g`.
:math:`H` is never formed: :func:`conjugate_gradient` solves :math:`Hx = g` with
Fisher-vector products (:func:`fisher_vector_product`, two backward passes), and a
backtracking line search (:func:`line_search`) shrinks the step by
:math:`\\alpha^j` until the true KL is within :math:`\\delta` and the surrogate improves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import Tensor, nn
from torch.distributions import kl_divergence
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from .evaluation import Timer, TrainResult
from .networks import CategoricalPolicy, GaussianPolicy, ValueNetwork
from .returns import gae
from .rollouts import RolloutCollector
from .vpg import fit_value


def conjugate_gradient(matvec: Callable[[Tensor], Tensor], b: Tensor, iterations: int = 10,
                       tolerance: float = 1e-10) -> Tensor:
    """Solve :math:`Hx = b` for a symmetric positive-definite :math:`H` given only :math:`v\\mapsto Hv`.

    Exact after ``n`` iterations for an ``n x n`` matrix (in exact arithmetic);
    TRPO runs ~10, which is enough for a good direction.
    """
    if b.dim() != 1:
        raise ValueError(f"b must be a vector, got shape {tuple(b.shape)}")
    x = torch.zeros_like(b)
    r = b.clone()  # residual b - Hx
    p = r.clone()
    rr = r @ r
    for _ in range(iterations):
        if rr <= tolerance:
            break
        hp = matvec(p)
        alpha = rr / (p @ hp)
        x += alpha * p
        r -= alpha * hp
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def mean_kl(policy: nn.Module, obs: Tensor, old_dist) -> Tensor:
    """:math:`\\bar D_{KL}(\\pi_{\\text{old}}\\,\\|\\,\\pi_\\theta)` averaged over the states ``obs``."""
    kl = kl_divergence(old_dist, policy.distribution(obs))
    return (kl.sum(-1) if kl.dim() > 1 else kl).mean()


def fisher_vector_product(policy: nn.Module, obs: Tensor, vector: Tensor, damping: float = 0.0) -> Tensor:
    """:math:`(H + \\text{damping}\\,I)\\,v` with :math:`H = \\nabla^2_\\theta \\bar D_{KL}(\\pi_{\\theta_k}\\|\\pi_\\theta)\\big|_{\\theta=\\theta_k}`.

    The old distribution is the current one, detached; the product is the
    gradient of :math:`(\\nabla_\\theta \\bar D_{KL})^\\top v` (Pearlmutter's trick).
    """
    params = [p for p in policy.parameters() if p.requires_grad]
    with torch.no_grad():
        old = policy.distribution(obs)
    kl = mean_kl(policy, obs, old)
    grads = torch.autograd.grad(kl, params, create_graph=True)
    grad_v = parameters_to_vector(grads) @ vector
    hv = torch.autograd.grad(grad_v, params)
    return parameters_to_vector(hv) + damping * vector


def line_search(policy: nn.Module, step: Tensor, surrogate: Callable[[], Tensor], kl: Callable[[], Tensor],
                max_kl: float, backtrack: float = 0.8, max_backtracks: int = 10) -> tuple[bool, int]:
    """Try :math:`\\theta_k + \\alpha^j\\Delta` for :math:`j = 0, 1, \\dots`; keep the first with KL within bound and a better surrogate.

    Restores :math:`\\theta_k` and returns ``(False, max_backtracks)`` when no step qualifies.
    """
    old_params = parameters_to_vector(policy.parameters()).detach().clone()
    with torch.no_grad():
        base = float(surrogate())
        for j in range(max_backtracks):
            vector_to_parameters(old_params + backtrack**j * step, policy.parameters())
            if float(kl()) <= max_kl and float(surrogate()) > base:
                return True, j
        vector_to_parameters(old_params, policy.parameters())
    return False, max_backtracks


@dataclass
class TRPOConfig:
    """TRPO's hyper-parameters."""

    num_envs: int = 4
    n_steps: int = 256
    max_kl: float = 0.01
    cg_iterations: int = 10
    damping: float = 0.1
    backtrack: float = 0.8
    max_backtracks: int = 10
    vf_lr: float = 1e-3
    vf_epochs: int = 5
    vf_minibatch: int = 256
    gamma: float = 0.99
    lam: float = 0.97
    hidden: tuple[int, ...] = (64, 64)


def train_trpo(env_id: str = "CartPole-v1", total_steps: int = 50_000, seed: int = 0,
               device: torch.device | str = "cpu", config: TRPOConfig | None = None) -> TrainResult:
    """Train TRPO for ``total_steps`` environment steps."""
    cfg = config or TRPOConfig()
    device = torch.device(device)
    torch.manual_seed(seed)
    collector = RolloutCollector(env_id, cfg.num_envs, seed, device)
    policy_cls = CategoricalPolicy if collector.discrete else GaussianPolicy
    policy = policy_cls(collector.obs_dim, collector.act_dim, cfg.hidden).to(device)
    value = ValueNetwork(collector.obs_dim, cfg.hidden).to(device)
    vf_opt = torch.optim.Adam(value.parameters(), lr=cfg.vf_lr)
    batch = cfg.num_envs * cfg.n_steps
    rejected = 0
    with Timer() as timer:
        for _ in range(max(1, total_steps // batch)):
            data = collector.collect(policy, cfg.n_steps)
            with torch.no_grad():
                adv, ret = gae(data.rewards, value(data.obs), value(data.next_obs), data.terminated, data.dones,
                               cfg.gamma, cfg.lam)
            obs, actions = data.obs.reshape(batch, -1), data.actions.reshape(batch, *data.actions.shape[2:])
            adv, ret = adv.reshape(batch), ret.reshape(batch)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            with torch.no_grad():
                old_dist = policy.distribution(obs)
                old_log_prob = policy.log_prob(obs, actions)

            def surrogate() -> Tensor:
                return (torch.exp(policy.log_prob(obs, actions) - old_log_prob) * adv).mean()

            params = list(policy.parameters())
            g = parameters_to_vector(torch.autograd.grad(surrogate(), params))
            x = conjugate_gradient(lambda v: fisher_vector_product(policy, obs, v, cfg.damping), g, cfg.cg_iterations)
            step_size = torch.sqrt(2 * cfg.max_kl / (x @ fisher_vector_product(policy, obs, x, cfg.damping) + 1e-12))
            accepted, _ = line_search(policy, step_size * x, surrogate, lambda: mean_kl(policy, obs, old_dist),
                                      cfg.max_kl, cfg.backtrack, cfg.max_backtracks)
            rejected += not accepted
            fit_value(value, vf_opt, obs, ret, cfg.vf_epochs, cfg.vf_minibatch)
    collector.close()
    return TrainResult(policy=policy, log=collector.log, env_steps=collector.total_steps, wall_seconds=timer.seconds,
                       modules={"value": value}, info={"config": asdict(cfg), "env_id": env_id, "seed": seed,
                                                       "rejected_steps": rejected})

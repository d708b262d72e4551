"""The chain rule of probability as a model: sequence likelihoods and the sampling loop.

An autoregressive model factorises the probability of a sequence
:math:`x_{1:n}` into next-token conditionals (the chain rule),

.. math:: \\log p_\\theta(x_{1:n}) = \\sum_{t=1}^{n} \\log p_\\theta(x_t \\mid x_{<t}),

so the sequence's negative log-likelihood is the *sum* of the per-token
cross-entropies :math:`-\\log \\mathrm{softmax}(z_t)_{x_t}` of the logits
:math:`z_t` the model gives at each position (:func:`sequence_log_likelihood`),
and its mean is the training loss in nats per token.

Generation runs the chain rule forwards (:func:`sample_tokens`): feed the
sequence so far, take the logits of the last position, turn them into a
distribution (:math:`\\mathrm{softmax}(z/T)` at temperature T), draw a token,
append it, repeat. :func:`sample_tokens` draws by inverting the cumulative
distribution with given uniforms :math:`u`: the token is the first v with
:math:`u < \\sum_{w \\le v} p_w`, so the same uniforms give the same text
whatever the device.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

LogitsFn = Callable[[torch.Tensor], torch.Tensor]


def cross_entropy_nats(probabilities: torch.Tensor | list[float], target: int) -> float:
    """:math:`-\\log p_{\\text{target}}` for one predicted distribution (the worked example's loss)."""
    p = torch.as_tensor(probabilities, dtype=torch.float64)
    if p.dim() != 1 or not 0 <= target < len(p):
        raise ValueError(f"expected a 1-D distribution and a target in 0..{len(p) - 1}")
    if (p < 0).any() or not math.isclose(float(p.sum()), 1.0, abs_tol=1e-6):
        raise ValueError("probabilities must be non-negative and sum to 1")
    return -math.log(float(p[target]))


def token_log_probs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """:math:`\\log \\mathrm{softmax}(z_t)_{x_t}` for logits (B, n, V) and targets (B, n): shape (B, n)."""
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(f"expected logits (B, n, V) and targets (B, n), got {tuple(logits.shape)} and "
                         f"{tuple(targets.shape)}")
    return torch.log_softmax(logits, dim=-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)


def sequence_log_likelihood(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """:math:`\\log p(x_{1:n}) = \\sum_t \\log \\mathrm{softmax}(z_t)_{x_t}` per sequence: shape (B,)."""
    return token_log_probs(logits, targets).sum(dim=-1)


def model_log_likelihood(model: torch.nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """:math:`\\sum_{t \\ge 2} \\log p(x_t \\mid x_{<t})` of ids (B, n) under a model that maps (B, m) ids to (B, m, V) logits."""
    if ids.dim() != 2 or ids.shape[1] < 2:
        raise ValueError(f"ids must be (B, n) with n >= 2, got {tuple(ids.shape)}")
    return sequence_log_likelihood(model(ids[:, :-1]), ids[:, 1:])


def inverse_cdf_sample(probabilities: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """The first index v with :math:`u < \\sum_{w \\le v} p_w`, per row: probabilities (B, V), u (B,) -> (B,) long."""
    cdf = probabilities.double().cumsum(dim=-1)
    index = (cdf <= u.double()[:, None]).sum(dim=-1)
    return index.clamp(max=probabilities.shape[-1] - 1)


@torch.no_grad()
def sample_tokens(model: LogitsFn, prompt: torch.Tensor, n_new: int, uniforms: torch.Tensor, *,
                  temperature: float = 1.0, context: int | None = None) -> torch.Tensor:
    """The sampling loop: append ``n_new`` tokens to ``prompt`` (B, m), one per forward pass.

    Step i feeds the last ``context`` tokens (all of them if None) to
    ``model`` (ids (B, m') -> logits (B, m', V)), takes the last position's
    logits, divides them by ``temperature``, applies the softmax (in float64)
    and draws the token by :func:`inverse_cdf_sample` with ``uniforms[i]``
    ((n_new, B) in [0, 1)). Returns (B, m + n_new).
    """
    if prompt.dim() != 2 or prompt.shape[1] < 1:
        raise ValueError(f"prompt must be (B, m) with m >= 1, got {tuple(prompt.shape)}")
    if uniforms.shape != (n_new, prompt.shape[0]):
        raise ValueError(f"uniforms must have shape (n_new, B) = {(n_new, prompt.shape[0])}, got {tuple(uniforms.shape)}")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    ids = prompt
    for i in range(n_new):
        window = ids if context is None else ids[:, -context:]
        logits = model(window)[:, -1].double() / temperature
        token = inverse_cdf_sample(torch.softmax(logits, dim=-1), uniforms[i].to(logits.device))
        ids = torch.cat([ids, token[:, None].to(ids.device)], dim=1)
    return ids


def sample_text(model: LogitsFn, tokenizer, prompt: str, n_new: int, *, seed: int = 0, temperature: float = 1.0,
                context: int | None = None, device: torch.device | str = "cpu") -> str:
    """Encode ``prompt``, run :func:`sample_tokens` with seeded uniforms, decode the new characters."""
    prompt_ids = tokenizer.encode(prompt)[None].to(device)
    uniforms = torch.rand(n_new, 1, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    out = sample_tokens(model, prompt_ids, n_new, uniforms, temperature=temperature, context=context)
    return tokenizer.decode(out[0, prompt_ids.shape[1]:].cpu())

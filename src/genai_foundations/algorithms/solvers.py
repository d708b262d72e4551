"""Simulating ODEs and SDEs: the samplers of the continuous-time chapters.

All solvers integrate from ``t0`` to ``t1`` on a uniform grid of ``steps``
steps of size :math:`h = (t_1 - t_0) / \\text{steps}`, with the field called as
``field(x, t)`` where ``t`` is a Python float.

* :func:`euler_ode`: :math:`x_{t+h} = x_t + h\\, u_t(x_t)` for :math:`\\dot x = u_t(x)`;
* :func:`heun_ode`: Heun's second-order method (an Euler predictor, then the
  trapezoidal average of the two slopes);
* :func:`midpoint_ode`: the explicit midpoint method, also second order;
* :func:`euler_maruyama`: :math:`x_{t+h} = x_t + h\\, u_t(x_t) + \\sigma_t \\sqrt{h}\\, \\varepsilon`
  for the SDE :math:`dx = u_t(x)\\,dt + \\sigma_t\\, dW_t`;
* :func:`langevin`: :math:`x_{k+1} = x_k + \\tfrac{\\eta}{2} \\nabla \\log p(x_k) + \\sqrt{\\eta}\\, \\varepsilon`,
  the Euler-Maruyama discretisation of :math:`dx = \\tfrac12 \\nabla\\log p(x)\\,dt + dW`,
  whose stationary distribution is :math:`p`;
* :func:`brownian_motion`: paths :math:`W_{t+h} = W_t + \\sqrt{h}\\,\\varepsilon`.

Every solver can return the whole trajectory (``return_path=True``), a tensor
of shape (steps + 1, *x.shape).

:func:`euler_ode` and :func:`euler_maruyama` are marked as graded references:
an exercise that asks for an Euler step or an Euler-Maruyama simulation can
block them (``also_block``), since either solves such a task in one call.
"""

from __future__ import annotations

from typing import Callable

import torch

from genai_foundations.runtime import randn

Field = Callable[[torch.Tensor, float], torch.Tensor]


def _grid(t0: float, t1: float, steps: int) -> list[float]:
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    return [t0 + (t1 - t0) * k / steps for k in range(steps + 1)]


def _finish(path: list[torch.Tensor], return_path: bool) -> torch.Tensor:
    return torch.stack(path) if return_path else path[-1]


@torch.no_grad()
def euler_ode(field: Field, x0: torch.Tensor, t0: float = 0.0, t1: float = 1.0, steps: int = 100,
              return_path: bool = False) -> torch.Tensor:
    """Euler's method for :math:`\\dot x = u_t(x)`: :math:`x_{t+h} = x_t + h\\, u_t(x_t)`."""
    times = _grid(t0, t1, steps)
    x, path = x0, [x0]
    for t, t_next in zip(times[:-1], times[1:]):
        x = x + (t_next - t) * field(x, t)
        path.append(x)
    return _finish(path, return_path)


@torch.no_grad()
def heun_ode(field: Field, x0: torch.Tensor, t0: float = 0.0, t1: float = 1.0, steps: int = 100,
             return_path: bool = False) -> torch.Tensor:
    """Heun's method: :math:`\\tilde x = x_t + h u_t(x_t)`, then :math:`x_{t+h} = x_t + \\tfrac h2 (u_t(x_t) + u_{t+h}(\\tilde x))`.

    Two field evaluations per step and a global error of order :math:`h^2`
    (Euler's is of order :math:`h`).
    """
    times = _grid(t0, t1, steps)
    x, path = x0, [x0]
    for t, t_next in zip(times[:-1], times[1:]):
        h = t_next - t
        slope = field(x, t)
        predictor = x + h * slope
        x = x + 0.5 * h * (slope + field(predictor, t_next))
        path.append(x)
    return _finish(path, return_path)


@torch.no_grad()
def midpoint_ode(field: Field, x0: torch.Tensor, t0: float = 0.0, t1: float = 1.0, steps: int = 100,
                 return_path: bool = False) -> torch.Tensor:
    """The explicit midpoint method: :math:`x_{t+h} = x_t + h\\, u_{t+h/2}(x_t + \\tfrac h2 u_t(x_t))` (second order)."""
    times = _grid(t0, t1, steps)
    x, path = x0, [x0]
    for t, t_next in zip(times[:-1], times[1:]):
        h = t_next - t
        x = x + h * field(x + 0.5 * h * field(x, t), t + 0.5 * h)
        path.append(x)
    return _finish(path, return_path)


def _diffusion_term(sigma: float | Callable[[float], float], t: float) -> float:
    return float(sigma(t)) if callable(sigma) else float(sigma)


@torch.no_grad()
def euler_maruyama(drift: Field, sigma: float | Callable[[float], float], x0: torch.Tensor, t0: float = 0.0,
                   t1: float = 1.0, steps: int = 100, generator: torch.Generator | None = None,
                   return_path: bool = False) -> torch.Tensor:
    """Euler-Maruyama for :math:`dx = u_t(x)\\,dt + \\sigma_t\\,dW_t`.

    Each step adds the drift times :math:`h` and Gaussian noise with standard
    deviation :math:`\\sigma_t\\sqrt h` (the increment of Brownian motion over
    :math:`h`). ``sigma`` is a number or a function of ``t``; with
    :math:`\\sigma = 0` this is :func:`euler_ode`.
    """
    times = _grid(t0, t1, steps)
    x, path = x0, [x0]
    for t, t_next in zip(times[:-1], times[1:]):
        h = t_next - t
        noise = randn(tuple(x.shape), x.device, generator, x.dtype)
        x = x + h * drift(x, t) + _diffusion_term(sigma, t) * abs(h) ** 0.5 * noise
        path.append(x)
    return _finish(path, return_path)


@torch.no_grad()
def langevin(score: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, step_size: float, steps: int,
             generator: torch.Generator | None = None, return_path: bool = False) -> torch.Tensor:
    """Unadjusted Langevin dynamics: :math:`x_{k+1} = x_k + \\tfrac{\\eta}{2} \\nabla\\log p(x_k) + \\sqrt{\\eta}\\,\\varepsilon_k`.

    ``score(x)`` returns :math:`\\nabla_x \\log p(x)`. For small step sizes
    :math:`\\eta` the iterates' distribution approaches :math:`p` (with a bias
    of order :math:`\\eta`).
    """
    if step_size <= 0:
        raise ValueError(f"step_size must be positive, got {step_size}")
    if steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps}")
    x, path = x0, [x0]
    for _ in range(steps):
        noise = randn(tuple(x.shape), x.device, generator, x.dtype)
        x = x + 0.5 * step_size * score(x) + step_size**0.5 * noise
        path.append(x)
    return _finish(path, return_path)


def brownian_motion(num_paths: int, steps: int, t1: float = 1.0, dim: int = 1, generator: torch.Generator | None = None,
                    device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Brownian paths on ``[0, t1]``: :math:`W_0 = 0,\\ W_{t+h} = W_t + \\sqrt h\\, \\varepsilon`; shape (steps + 1, num_paths, dim)."""
    if steps < 1 or num_paths < 1:
        raise ValueError(f"steps and num_paths must be positive, got {steps} and {num_paths}")
    h = t1 / steps
    increments = randn((steps, num_paths, dim), device, generator, dtype) * h**0.5
    return torch.cat([torch.zeros(1, num_paths, dim, device=device, dtype=dtype), increments.cumsum(0)])

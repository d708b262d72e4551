"""Gradient descent, SGD (one-sample and mini-batch), momentum and Adam, written out.

Notation (chapter 11): parameters :math:`\\theta`, learning rate :math:`\\eta`,
per-example loss :math:`\\ell_i(\\theta)`, a gradient estimate :math:`g_t` at step
:math:`t`.

* Full-batch gradient descent (eq. GD): :math:`\\theta \\leftarrow \\theta - \\eta \\frac1N \\sum_{i=1}^N \\nabla \\ell_i(\\theta)`.
* Stochastic gradient descent, one sample (eq. SGD): :math:`\\theta \\leftarrow \\theta - \\eta \\nabla \\ell_i(\\theta)`.
* Mini-batch SGD (eq. MB): :math:`\\theta \\leftarrow \\theta - \\eta \\frac1{|B|} \\sum_{i \\in B} \\nabla \\ell_i(\\theta)`.
* Momentum (eq. MOM): :math:`d_t = \\mu d_{t-1} + g_t`, :math:`\\theta \\leftarrow \\theta - \\eta d_t`.
* Adam (eq. ADAM): :math:`m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t`,
  :math:`v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2`,
  :math:`\\hat m_t = m_t / (1-\\beta_1^t)`, :math:`\\hat v_t = v_t / (1-\\beta_2^t)`,
  :math:`\\theta \\leftarrow \\theta - \\eta \\hat m_t / (\\sqrt{\\hat v_t} + \\epsilon)`.

The three forms of SGD differ only in how many examples one update averages
over, so :func:`sgd_epoch` implements all three with a ``batch_size``
(:func:`full_batch_gd_epoch`, :func:`stochastic_gd_epoch` and
:func:`minibatch_sgd_epoch` name the special cases). :class:`SGD` and
:class:`Adam` are drop-in ``torch.optim`` optimisers built on the functional
:func:`sgd_momentum_step` and :func:`adam_step`; the unit tests check them
against ``torch.optim.SGD``, ``torch.optim.Adam`` and ``torch.optim.AdamW``
step for step. :func:`train_with_batches` runs any optimiser with a given
batch size and records the loss against updates, epochs and wall-clock time.
:func:`warmup_cosine_schedule` (eq. WARMUP) is the linear warm-up and cosine
decay of the learning rate used by the training-issues chapter.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch


ADAM_DEFAULTS = {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8}
"""The defaults of Kingma & Ba (2015), also those of ``torch.optim.Adam``."""

LossFn = Callable[[Sequence[torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor]


def _check_lr(lr: float) -> None:
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive finite number, got {lr!r}")


def _check_adam_hparams(lr: float, betas: tuple[float, float], eps: float, weight_decay: float) -> None:
    _check_lr(lr)
    if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
    if not eps >= 0:
        raise ValueError(f"eps must be non-negative, got {eps!r}")
    if not weight_decay >= 0:
        raise ValueError(f"weight_decay must be non-negative, got {weight_decay!r}")


# ----------------------------------------------------------------- functional
def gradient_step(params: Sequence[torch.Tensor], grads: Sequence[torch.Tensor], lr: float) -> list[torch.Tensor]:
    """One plain update :math:`\\theta \\leftarrow \\theta - \\eta g` per tensor (new tensors, inputs untouched)."""
    _check_lr(lr)
    if len(params) != len(grads):
        raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients")
    out = []
    for p, g in zip(params, grads):
        if p.shape != g.shape:
            raise ValueError(f"parameter of shape {tuple(p.shape)} got a gradient of shape {tuple(g.shape)}")
        out.append(p.detach() - lr * g.detach())
    return out


def sgd_epoch(
    params: Sequence[torch.Tensor],
    loss_fn: LossFn,
    X: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    batch_size: int,
    order: torch.Tensor | None = None,
) -> list[torch.Tensor]:
    """One epoch of (mini-batch) SGD: visit the examples in ``order``, ``batch_size`` at a time.

    For each batch :math:`B` (consecutive entries of ``order``; the last one
    may be smaller) it computes :math:`g = \\nabla_\\theta` ``loss_fn(params, X[B], y[B])``,
    where ``loss_fn`` returns the *mean* loss over the batch, and applies
    :math:`\\theta \\leftarrow \\theta - \\eta g` (eq. MB). ``batch_size=len(X)``
    is full-batch gradient descent (eq. GD, one update per epoch);
    ``batch_size=1`` is one-sample SGD (eq. SGD, ``len(X)`` updates).
    ``order`` defaults to ``0, 1, ..., N-1`` (pass ``torch.randperm(N)`` to shuffle).
    Returns the updated parameters as new tensors; the inputs are not modified.
    """
    _check_lr(lr)
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X and y must have the same length, got {n} and {len(y)}")
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if order is None:
        order = torch.arange(n)
    if len(order) != n:
        raise ValueError(f"order must list every one of the {n} examples once, got {len(order)} indices")
    current = [p.detach().clone() for p in params]
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        leaves = [p.requires_grad_(True) for p in current]
        loss = loss_fn(leaves, X[index], y[index])
        grads = torch.autograd.grad(loss, leaves)
        current = gradient_step(leaves, grads, lr)
    return current


def full_batch_gd_epoch(params: Sequence[torch.Tensor], loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor,
                        lr: float) -> list[torch.Tensor]:
    """Full-batch gradient descent: one update with the gradient averaged over all ``N`` examples (eq. GD)."""
    return sgd_epoch(params, loss_fn, X, y, lr, batch_size=len(X))


def stochastic_gd_epoch(params: Sequence[torch.Tensor], loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, lr: float,
                        order: torch.Tensor | None = None) -> list[torch.Tensor]:
    """One-sample SGD: ``N`` updates per epoch, each from a single example's gradient (eq. SGD)."""
    return sgd_epoch(params, loss_fn, X, y, lr, batch_size=1, order=order)


def minibatch_sgd_epoch(params: Sequence[torch.Tensor], loss_fn: LossFn, X: torch.Tensor, y: torch.Tensor, lr: float,
                        batch_size: int, order: torch.Tensor | None = None) -> list[torch.Tensor]:
    """Mini-batch SGD: ``ceil(N / batch_size)`` updates per epoch, each averaging a batch (eq. MB)."""
    return sgd_epoch(params, loss_fn, X, y, lr, batch_size=batch_size, order=order)


def sgd_momentum_step(param: torch.Tensor, grad: torch.Tensor, buffer: torch.Tensor | None, lr: float,
                      momentum: float = 0.0, weight_decay: float = 0.0,
                      nesterov: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One SGD step with heavy-ball momentum (eq. MOM), PyTorch's convention.

    :math:`g \\leftarrow g + \\lambda\\theta` (L2 weight decay), :math:`d_t = \\mu d_{t-1} + g`
    (:math:`d_1 = g`), then :math:`\\theta \\leftarrow \\theta - \\eta d_t`, or with
    Nesterov :math:`\\theta \\leftarrow \\theta - \\eta (g + \\mu d_t)`. Returns
    ``(new_param, new_buffer)``; ``buffer=None`` means the first step.
    """
    _check_lr(lr)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
    if nesterov and momentum == 0:
        raise ValueError("Nesterov momentum needs momentum > 0")
    g = grad.detach()
    if weight_decay:
        g = g + weight_decay * param.detach()
    if momentum == 0:
        return param.detach() - lr * g, None
    new_buffer = g.clone() if buffer is None else momentum * buffer + g
    direction = g + momentum * new_buffer if nesterov else new_buffer
    return param.detach() - lr * direction, new_buffer


def adam_init_state(param: torch.Tensor) -> dict:
    """Adam's state before the first step: ``{"step": 0, "m": 0, "v": 0}`` shaped like ``param``."""
    return {"step": 0, "m": torch.zeros_like(param), "v": torch.zeros_like(param)}


def adam_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> tuple[torch.Tensor, dict]:
    """One Adam step (eq. ADAM) for one tensor; returns ``(new_param, new_state)``.

    ``state`` is ``{"step": t-1, "m": m_{t-1}, "v": v_{t-1}}`` (see
    :func:`adam_init_state`) and is not modified. With ``t`` the new step count:

    .. math::
        m_t = \\beta_1 m_{t-1} + (1-\\beta_1) g_t,\\quad
        v_t = \\beta_2 v_{t-1} + (1-\\beta_2) g_t^2,\\quad
        \\hat m_t = \\frac{m_t}{1-\\beta_1^t},\\quad \\hat v_t = \\frac{v_t}{1-\\beta_2^t},\\quad
        \\theta_t = \\theta_{t-1} - \\eta\\, \\frac{\\hat m_t}{\\sqrt{\\hat v_t} + \\epsilon}.

    ``weight_decay`` :math:`\\lambda`: with ``decoupled=False`` it is L2
    regularisation added to the gradient (:math:`g_t + \\lambda\\theta`, as
    ``torch.optim.Adam``); with ``decoupled=True`` the parameter is shrunk
    directly, :math:`\\theta \\leftarrow \\theta(1 - \\eta\\lambda)`, before the
    Adam update (AdamW, as ``torch.optim.AdamW``).
    """
    _check_adam_hparams(lr, betas, eps, weight_decay)
    if param.shape != grad.shape:
        raise ValueError(f"param of shape {tuple(param.shape)} got a gradient of shape {tuple(grad.shape)}")
    missing = {"step", "m", "v"} - set(state)
    if missing:
        raise KeyError(f"Adam state needs keys 'step', 'm', 'v'; missing {sorted(missing)} (use adam_init_state)")
    beta1, beta2 = betas
    theta = param.detach()
    g = grad.detach()
    if weight_decay and not decoupled:
        g = g + weight_decay * theta
    if weight_decay and decoupled:
        theta = theta * (1.0 - lr * weight_decay)
    t = int(state["step"]) + 1
    m = beta1 * state["m"] + (1.0 - beta1) * g
    v = beta2 * state["v"] + (1.0 - beta2) * g * g
    m_hat = m / (1.0 - beta1**t)
    v_hat = v / (1.0 - beta2**t)
    new_param = theta - lr * m_hat / (v_hat.sqrt() + eps)
    return new_param, {"step": t, "m": m, "v": v}


# ------------------------------------------------------- torch.optim-style classes
class _PerParameterOptimizer(torch.optim.Optimizer):
    """The ``step`` shared by :class:`SGD` and :class:`Adam`.

    It evaluates the optional closure (with gradients on, as torch does), then
    calls ``self._update(p, state, group)`` for every parameter that has a
    ``.grad``. Subclasses write only the update rule.
    """

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None) -> torch.Tensor | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._update(p, self.state[p], group)
        return loss

    def _update(self, p: torch.Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError


class SGD(_PerParameterOptimizer):
    """SGD with optional (Nesterov) momentum and L2 weight decay, used like ``torch.optim.SGD``.

    ``opt = SGD(model.parameters(), lr=0.1, momentum=0.9)``; after
    ``loss.backward()``, ``opt.step()`` applies :func:`sgd_momentum_step` to
    every parameter with a ``.grad``.
    """

    def __init__(self, params: Iterable, lr: float, momentum: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False):
        _check_lr(lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be non-negative, got {weight_decay!r}")
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p: torch.Tensor, state: dict, group: dict) -> None:
        new_p, state["momentum_buffer"] = sgd_momentum_step(
            p, p.grad, state.get("momentum_buffer"), group["lr"], group["momentum"],
            group["weight_decay"], group["nesterov"])
        p.copy_(new_p)


class Adam(_PerParameterOptimizer):
    """Adam (and AdamW with ``decoupled=True``), used like ``torch.optim.Adam``.

    Defaults are Kingma & Ba's: ``lr=1e-3, betas=(0.9, 0.999), eps=1e-8``.
    ``opt.step()`` applies :func:`adam_step` to every parameter with a ``.grad``,
    keeping ``step``, ``m`` and ``v`` in ``opt.state[p]``.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False):
        _check_adam_hparams(lr, tuple(betas), eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled=decoupled))

    def _update(self, p: torch.Tensor, state: dict, group: dict) -> None:
        if not state:
            state.update(adam_init_state(p))
        new_p, new_state = adam_step(p, p.grad, state, group["lr"], group["betas"], group["eps"],
                                     group["weight_decay"], group["decoupled"])
        p.copy_(new_p)
        state.update(new_state)


# ------------------------------------------------------------ training comparison
@dataclass
class OptimizerRun:
    """Full-data loss recorded during :func:`train_with_batches`.

    Each record is taken after ``updates`` parameter updates, i.e. after
    ``examples`` per-example gradient evaluations (``epochs = examples / N``),
    and ``seconds`` of training time (evaluation time excluded).
    """

    name: str
    batch_size: int
    updates: list[int] = field(default_factory=list)
    epochs: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        return self.losses[-1]


def train_with_batches(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    batch_size: int,
    epochs: int,
    *,
    name: str = "",
    records_per_epoch: int = 10,
    generator: torch.Generator | None = None,
) -> OptimizerRun:
    """Train ``model`` for ``epochs`` passes over ``(X, y)`` with batches of ``batch_size``.

    Every epoch visits the examples in a fresh random order (``generator``)
    and makes ``ceil(N / batch_size)`` updates; ``batch_size=len(X)`` is
    full-batch gradient descent and ``1`` is one-sample SGD. The mean loss
    over the *whole* data set is recorded at the start and about
    ``records_per_epoch`` times per epoch (at least after every update for
    full-batch GD), against updates, epochs and seconds of training.
    """
    n = len(X)
    if not isinstance(batch_size, int) or not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be an int between 1 and {n}, got {batch_size!r}")
    if epochs <= 0:
        raise ValueError(f"epochs must be positive, got {epochs}")
    run = OptimizerRun(name=name or type(optimizer).__name__, batch_size=batch_size)
    updates_per_epoch = math.ceil(n / batch_size)
    record_every = max(1, updates_per_epoch // max(1, records_per_epoch))

    def record(updates: int, examples: int, seconds: float) -> None:
        with torch.no_grad():
            full = float(loss_fn(model, X, y))
        run.updates.append(updates)
        run.epochs.append(examples / n)
        run.seconds.append(seconds)
        run.losses.append(full)

    record(0, 0, 0.0)
    updates, examples, seconds = 0, 0, 0.0
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator).to(X.device)
        start_time = time.perf_counter()
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model, X[index], y[index])
            loss.backward()
            optimizer.step()
            updates += 1
            examples += len(index)
            if updates % record_every == 0 or start + batch_size >= n:
                if X.device.type == "cuda":
                    torch.cuda.synchronize(X.device)
                seconds += time.perf_counter() - start_time
                record(updates, examples, seconds)
                if not math.isfinite(run.losses[-1]):
                    raise FloatingPointError(f"{run.name}: the loss became {run.losses[-1]} after {updates} "
                                             "updates; lower the learning rate")
                start_time = time.perf_counter()
    return run


# ------------------------------------------------------------ learning-rate schedules
def warmup_cosine_factor(step: int, total_steps: int, warmup_steps: int = 0) -> float:
    """The learning-rate multiplier of a linear warm-up followed by a cosine decay (eq. WARMUP).

    .. math::
        f(s) = \\begin{cases} (s+1)/W & s < W \\\\
        \\tfrac12\\big(1 + \\cos(\\pi\\,(s - W)/(S - W))\\big) & W \\le s < S \\end{cases}

    for step :math:`s` (counted from 0), ``warmup_steps`` :math:`W` and
    ``total_steps`` :math:`S`: the rate climbs linearly to its peak over the
    first :math:`W` steps and then falls along half a cosine to 0. With
    :math:`W = 0` it is ``torch.optim.lr_scheduler.CosineAnnealingLR`` with
    ``T_max = S`` and ``eta_min = 0`` (a unit test checks it).
    """
    if not (isinstance(total_steps, int) and total_steps > 0):
        raise ValueError(f"total_steps must be a positive int, got {total_steps!r}")
    if not (isinstance(warmup_steps, int) and 0 <= warmup_steps < total_steps):
        raise ValueError(f"warmup_steps must be an int in [0, total_steps), got {warmup_steps!r}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine_schedule(optimizer: torch.optim.Optimizer, total_steps: int,
                           warmup_steps: int = 0) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``torch.optim`` scheduler that multiplies each group's learning rate by :func:`warmup_cosine_factor`.

    Call ``scheduler.step()`` after every ``optimizer.step()`` (``training.fit``
    does when given ``scheduler=``); the optimiser's ``lr`` is the peak rate.
    """
    warmup_cosine_factor(0, total_steps, warmup_steps)  # validates the arguments
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine_factor(step, total_steps, warmup_steps))


# ------------------------------------------------------------- 2-D test functions
def ill_conditioned_quadratic(theta: torch.Tensor, scales: tuple[float, float] = (1.0, 20.0),
                              angle: float = 0.0) -> torch.Tensor:
    """:math:`f(\\theta) = \\tfrac12 (a_1 u_1^2 + a_2 u_2^2)` with :math:`u = R(-\\alpha)\\theta`.

    An elongated bowl with curvature ratio :math:`a_2/a_1`, its axes turned by
    ``angle`` :math:`\\alpha` (radians) from the coordinate axes: with
    ``angle=0`` the steep and the flat directions are the coordinates
    themselves, which is the case Adam's per-coordinate scaling helps with.
    Works on a (2,) tensor or a batch (..., 2) (for contour plots).
    """
    if theta.shape[-1] != 2:
        raise ValueError(f"expected a last dimension of size 2, got shape {tuple(theta.shape)}")
    c, s = math.cos(angle), math.sin(angle)
    u1 = c * theta[..., 0] + s * theta[..., 1]
    u2 = -s * theta[..., 0] + c * theta[..., 1]
    return 0.5 * (scales[0] * u1**2 + scales[1] * u2**2)


def rosenbrock(theta: torch.Tensor, a: float = 1.0, b: float = 100.0) -> torch.Tensor:
    """:math:`f(\\theta) = (a - \\theta_1)^2 + b(\\theta_2 - \\theta_1^2)^2`, minimum 0 at :math:`(a, a^2)`."""
    if theta.shape[-1] != 2:
        raise ValueError(f"expected a last dimension of size 2, got shape {tuple(theta.shape)}")
    return (a - theta[..., 0]) ** 2 + b * (theta[..., 1] - theta[..., 0] ** 2) ** 2


def optimize_2d(fn: Callable[[torch.Tensor], torch.Tensor], start: Sequence[float],
                make_optimizer: Callable[[list[torch.Tensor]], torch.optim.Optimizer], steps: int) -> torch.Tensor:
    """Run ``steps`` updates of an optimiser on a 2-D function; returns the (steps+1, 2) trajectory."""
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    theta = torch.tensor(list(start), dtype=torch.float64, requires_grad=True)
    if theta.shape != (2,):
        raise ValueError(f"start must hold two numbers, got {list(start)}")
    optimizer = make_optimizer([theta])
    path = [theta.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        fn(theta).backward()
        optimizer.step()
        path.append(theta.detach().clone())
    return torch.stack(path)


# ------------------------------------------------------------- what the theory says
def adam_moments(grads: torch.Tensor, betas: tuple[float, float] = (0.9, 0.999)) -> dict[str, torch.Tensor]:
    """Adam's moment estimates along a sequence of gradients ``grads`` of shape (T,) or (T, K).

    Row ``t-1`` holds step ``t``; with shape (T, K) the K columns are
    independent sequences (e.g. to average over many noisy runs). Returns
    tensors shaped like ``grads`` for ``m`` and ``v`` (the biased moving
    averages of eq. ADAM), ``m_hat`` and ``v_hat`` (bias-corrected), ``step``
    (the direction :math:`\\hat m_t / \\sqrt{\\hat v_t}` that Adam multiplies by
    :math:`\\eta`, with :math:`\\epsilon = 0`) and ``uncorrected_step``
    (:math:`m_t / \\sqrt{v_t}`, what Adam would use without bias correction).
    """
    if grads.dim() not in (1, 2) or len(grads) == 0:
        raise ValueError(f"grads must have shape (T,) or (T, K) with T > 0, got {tuple(grads.shape)}")
    beta1, beta2 = betas
    grads = grads.to(torch.float64)
    m = torch.zeros_like(grads)
    v = torch.zeros_like(grads)
    m_prev = v_prev = torch.zeros_like(grads[0])
    for t, g in enumerate(grads):
        m_prev = beta1 * m_prev + (1 - beta1) * g
        v_prev = beta2 * v_prev + (1 - beta2) * g * g
        m[t], v[t] = m_prev, v_prev
    steps = torch.arange(1, len(grads) + 1, dtype=torch.float64).reshape(-1, *([1] * (grads.dim() - 1)))
    m_hat = m / (1 - beta1**steps)
    v_hat = v / (1 - beta2**steps)
    return {"m": m, "v": v, "m_hat": m_hat, "v_hat": v_hat, "step": m_hat / v_hat.sqrt(),
            "uncorrected_step": m / v.sqrt()}


def _flat_grad(model: torch.nn.Module, loss: torch.Tensor) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)])


def per_example_gradient_variance(model: torch.nn.Module, loss_fn: Callable, X: torch.Tensor,
                                  y: torch.Tensor) -> tuple[torch.Tensor, float]:
    """The full-batch gradient :math:`\\bar g` and :math:`\\sigma^2 = \\frac1N \\sum_i \\|\\nabla\\ell_i - \\bar g\\|^2`.

    One backward pass per example (fine for the small data sets of the chapter).
    """
    per_example = torch.stack([_flat_grad(model, loss_fn(model, X[i : i + 1], y[i : i + 1])) for i in range(len(X))])
    full = per_example.mean(0)
    return full, float(((per_example - full) ** 2).sum(1).mean())


def minibatch_gradient_noise(model: torch.nn.Module, loss_fn: Callable, X: torch.Tensor, y: torch.Tensor,
                             batch_sizes: Sequence[int], draws: int,
                             generator: torch.Generator | None = None) -> dict[int, dict[str, float]]:
    """How far a mini-batch gradient lands from the full gradient, measured and predicted.

    For each batch size :math:`b` it draws ``draws`` batches without
    replacement and averages :math:`\\|g_B - \\bar g\\|^2` (``measured``). For
    sampling without replacement the expectation is
    :math:`\\frac{\\sigma^2}{b} \\frac{N-b}{N-1}` (``predicted``): the noise
    falls like :math:`1/b` while the cost of one update grows like :math:`b`.
    """
    n = len(X)
    if draws <= 0:
        raise ValueError(f"draws must be positive, got {draws}")
    full, sigma2 = per_example_gradient_variance(model, loss_fn, X, y)
    out: dict[int, dict[str, float]] = {}
    for b in batch_sizes:
        if not 1 <= b <= n:
            raise ValueError(f"batch sizes must lie between 1 and {n}, got {b}")
        sq = []
        for _ in range(draws):
            index = torch.randperm(n, generator=generator)[:b].to(X.device)
            sq.append(float(((_flat_grad(model, loss_fn(model, X[index], y[index])) - full) ** 2).sum()))
        out[b] = {"measured": sum(sq) / len(sq), "predicted": sigma2 / b * (n - b) / max(n - 1, 1)}
    return out

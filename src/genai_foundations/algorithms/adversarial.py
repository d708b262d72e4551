"""Adversarial examples and adversarial training: FGSM, PGD in the L-infinity and L2 balls, Madry-style training.

Notation (chapter 26, robustness-evaluation): a classifier :math:`f_\\theta` maps an
input :math:`x` (here an 8x8 digit with pixels in :math:`[-1, 1]`) to logits; its loss
on the label :math:`y` is the cross-entropy :math:`\\mathcal L(f_\\theta(x), y)`. An
attacker may add a perturbation :math:`\\delta` from the ball
:math:`\\Delta_p(\\epsilon) = \\{\\delta : \\lVert\\delta\\rVert_p \\le \\epsilon\\}` and the
result must stay a valid image, :math:`x + \\delta \\in [-1, 1]^d`. Robust training solves

.. math:: \\min_\\theta\\ \\mathbb E_{(x, y)} \\max_{\\delta \\in \\Delta_p(\\epsilon)} \\mathcal L(f_\\theta(x + \\delta), y).
   \\tag{MINMAX}

(:math:`\\epsilon` here is the attack budget, not the noise of the diffusion chapters; see the
notation page.) The inner maximum is approximated by

* FGSM (Goodfellow et al. 2015), one signed-gradient step
  :math:`x' = \\operatorname{clip}(x + \\epsilon\\,\\operatorname{sign}\\nabla_x \\mathcal L)` (FGSM), and
* PGD (Madry et al. 2018), :math:`K` steps of size :math:`\\alpha` along the steepest-ascent
  direction of the norm, each followed by the projection :math:`\\Pi` back onto the ball and the
  pixel range (PGD): :math:`x^{k+1} = \\operatorname{clip}\\big(x + \\Pi_{\\Delta_p(\\epsilon)}(x^k + \\alpha\\, s_p(\\nabla) - x)\\big)`,
  with :math:`s_\\infty(g) = \\operatorname{sign} g` and :math:`s_2(g) = g / \\lVert g\\rVert_2`.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.runtime import rand, randn

NORMS = ("inf", "2")
PIXEL_RANGE = (-1.0, 1.0)


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"norm must be 'inf' or '2', got {norm!r}")


def _check_eps(eps: float) -> None:
    if not eps >= 0:
        raise ValueError(f"the budget eps must be non-negative, got {eps}")


def _flat_norm(x: torch.Tensor) -> torch.Tensor:
    """Per-example L2 norm of a (B, ...) tensor, shaped (B, 1, ..., 1) for broadcasting."""
    return x.flatten(1).norm(dim=1).reshape(-1, *([1] * (x.dim() - 1)))


def project(delta: torch.Tensor, eps: float, norm: str = "inf") -> torch.Tensor:
    """The Euclidean projection of each example's ``delta`` (B, ...) onto the ball ``||delta||_p <= eps``.

    For ``norm="inf"`` the projection clamps every coordinate to ``[-eps, eps]``; for ``norm="2"``
    it rescales the examples whose norm exceeds ``eps`` to norm ``eps`` and leaves the others alone.
    """
    _check_norm(norm)
    _check_eps(eps)
    if norm == "inf":
        return delta.clamp(-eps, eps)
    scale = (eps / _flat_norm(delta).clamp_min(1e-12)).clamp(max=1.0)
    return delta * scale


def ascent_direction(grad: torch.Tensor, norm: str = "inf") -> torch.Tensor:
    """The steepest-ascent direction of unit ``norm`` for a gradient (B, ...): ``sign(g)`` or ``g / ||g||_2``."""
    _check_norm(norm)
    if norm == "inf":
        return grad.sign()
    return grad / _flat_norm(grad).clamp_min(1e-12)


def input_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient of the summed cross-entropy with respect to the input, and the per-example losses.

    The loss is summed (not averaged) so that each example's gradient does not depend on the batch size.
    The model's parameters receive no gradient.
    """
    with torch.enable_grad():                            # also inside a caller's no_grad block
        x = x.detach().clone().requires_grad_(True)
        losses = F.cross_entropy(model(x), y, reduction="none")
        (grad,) = torch.autograd.grad(losses.sum(), x)
    return grad, losses.detach()


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float,
         clip: tuple[float, float] | None = PIXEL_RANGE) -> torch.Tensor:
    """Fast gradient sign method (FGSM): ``x' = clip(x + eps * sign(grad_x L(f(x), y)))``.

    ``x`` (B, ...) are inputs, ``y`` (B,) their labels; ``clip`` is the valid input range
    (``None`` for none). Returns the adversarial inputs, detached, with ``x``'s dtype; ``x``
    is not modified.
    """
    _check_eps(eps)
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of examples, got {len(x)} and {len(y)}")
    grad, _ = input_gradient(model, x, y)
    x_adv = x.detach() + eps * grad.sign()
    if clip is not None:
        x_adv = x_adv.clamp(*clip)
    return x_adv.detach()


def pgd_step(x_adv: torch.Tensor, x: torch.Tensor, grad: torch.Tensor, alpha: float, eps: float,
             norm: str = "inf", clip: tuple[float, float] | None = PIXEL_RANGE) -> torch.Tensor:
    """One step of (PGD): ascend ``alpha`` along the norm's steepest direction, project onto the ball, clip.

    ``x_adv`` is the current iterate, ``x`` the clean input and ``grad`` the loss gradient at
    ``x_adv``. The result lies in ``x + Delta_p(eps)`` and in the pixel range: clipping to a box
    after projecting onto an L-inf ball keeps the point inside the ball, and for the L2 ball
    clipping moves each coordinate towards ``x``, which cannot increase the distance to ``x``.
    """
    step = x_adv + alpha * ascent_direction(grad, norm)
    x_new = x + project(step - x, eps, norm)
    if clip is not None:
        x_new = x_new.clamp(*clip)
    return x_new


def random_start(x: torch.Tensor, eps: float, norm: str = "inf", generator: torch.Generator | None = None,
                 clip: tuple[float, float] | None = PIXEL_RANGE) -> torch.Tensor:
    """A uniformly random point of the ball around ``x`` (L-inf: uniform in the box; L2: uniform in the ball)."""
    _check_norm(norm)
    if norm == "inf":
        delta = (2 * rand(x.shape, x.device, generator, x.dtype) - 1) * eps
    else:
        direction = randn(x.shape, x.device, generator, x.dtype)
        direction = direction / _flat_norm(direction).clamp_min(1e-12)
        d = x[0].numel()
        radius = rand((len(x),), x.device, generator, x.dtype) ** (1.0 / d) * eps
        delta = direction * radius.reshape(-1, *([1] * (x.dim() - 1)))
    out = x + delta
    return out.clamp(*clip) if clip is not None else out


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *, alpha: float | None = None,
        steps: int = 10, norm: str = "inf", random_init: bool = True, generator: torch.Generator | None = None,
        clip: tuple[float, float] | None = PIXEL_RANGE) -> torch.Tensor:
    """Projected gradient descent on the loss (ascent, to be exact): ``steps`` iterations of :func:`pgd_step`.

    ``alpha`` defaults to ``2.5 * eps / steps`` (Madry et al.'s choice, enough to cross the ball
    and come back); ``random_init`` starts from a random point of the ball (:func:`random_start`),
    otherwise from ``x``. Returns the adversarial inputs, detached; every one of them lies within
    ``eps`` of ``x`` in the chosen norm and inside ``clip``.
    """
    _check_norm(norm)
    _check_eps(eps)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of examples, got {len(x)} and {len(y)}")
    alpha = 2.5 * eps / steps if alpha is None else alpha
    x = x.detach()
    x_adv = random_start(x, eps, norm, generator, clip) if random_init else x.clone()
    for _ in range(steps):
        grad, _ = input_gradient(model, x_adv, y)
        x_adv = pgd_step(x_adv, x, grad, alpha, eps, norm, clip).detach()
    return x_adv


@torch.no_grad()
def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return float((model(x).argmax(dim=1) == y).double().mean())


def robust_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, attack: Callable[..., torch.Tensor],
                    eps: float, batch_size: int = 512, **attack_kwargs) -> float:
    """Accuracy of ``model`` on ``attack(model, x, y, eps, **attack_kwargs)`` (clean accuracy for ``eps = 0``)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = 0.0
    try:
        for i in range(0, len(x), batch_size):
            xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
            xa = xb if eps == 0 else attack(model, xb, yb, eps, **attack_kwargs)
            correct += _accuracy(model, xa, yb) * len(xb)
    finally:
        model.train(was_training)
    return correct / len(x)


def train_digits_robust(device: torch.device | str = "cpu", steps: int = 600, seed: int = 0, batch_size: int = 128,
                        lr: float = 3e-3, perturb: str = "pgd", eps: float = 0.25, norm: str = "inf",
                        attack_steps: int = 5, sigma: float = 0.25, model: nn.Module | None = None):
    """Train the digits classifier (architectures.classifiers) on perturbed inputs; return it (eval mode) and its clean test accuracy.

    ``perturb="pgd"`` is adversarial training (MINMAX): every batch is replaced by its PGD
    examples (``attack_steps`` steps, budget ``eps`` in ``norm``), computed against the current
    weights. ``perturb="gaussian"`` adds :math:`\\mathcal N(0, \\sigma^2 I)` noise to every input,
    the base classifier of randomized smoothing (Cohen et al. 2019). ``perturb="none"`` trains on
    clean inputs. The optimiser, schedule and batches are those of ``train_digits_classifier``;
    ``model`` (optional) is trained in place instead of a fresh :class:`DigitsClassifier`.
    """
    from genai_foundations.architectures.classifiers import DigitsClassifier, predict
    from genai_foundations.data.digits import load_digits
    from genai_foundations.training import batches, fit

    if perturb not in ("pgd", "gaussian", "none"):
        raise ValueError(f"perturb must be 'pgd', 'gaussian' or 'none', got {perturb!r}")
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train, test = load_digits("train"), load_digits("test")
    model = (model if model is not None else DigitsClassifier()).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    stream = batches(train.images, train.labels, batch_size=batch_size, generator=generator)

    def loss_fn(step: int) -> torch.Tensor:
        x, y = (t.to(device) for t in next(stream))
        if perturb == "pgd":
            model.eval()                                   # the attack sees the model as it is evaluated
            x = pgd(model, x, y, eps, steps=attack_steps, norm=norm, generator=generator)
            model.train()
        elif perturb == "gaussian":
            x = x + sigma * torch.randn(x.shape, generator=generator).to(device)
        return F.cross_entropy(model(x), y)

    model.train()
    fit(loss_fn, optimizer, steps, desc=f"digits classifier ({perturb})", scheduler=scheduler)
    model.eval()
    accuracy = float((predict(model, test.images) == test.labels).float().mean())
    return model, accuracy

"""Diagnosing and regularising the training of neural networks (the training-issues chapter).

The chapter's notation: :math:`\\theta` are all parameters, :math:`w` the
*weights* (matrices of linear and convolutional layers, not biases or
normalisation parameters), :math:`\\mathcal L_{\\text{data}}` the data loss
and :math:`g_k = \\nabla_{\\theta_k}\\mathcal L` the gradient of parameter
tensor :math:`k`.

* penalties: :func:`l1_penalty` (eq. L1) :math:`\\lambda\\sum_i |w_i|` and
  :func:`l2_penalty` (eq. L2) :math:`\\tfrac{\\lambda}{2}\\sum_i w_i^2`,
  whose gradient :math:`\\lambda w` is exactly SGD's ``weight_decay``;
* the proximal L1 step (eq. PROX): :func:`soft_threshold` and
  :func:`l1_proximal_step_`, which set weights *exactly* to zero (gradient
  steps on the L1 penalty only make them small), :func:`lasso_ista`
  (proximal gradient descent on the lasso), and :func:`exact_zero_fraction`
  to count the zeros;
* clipping by the global norm (eq. CLIP), written out in
  :func:`clip_by_global_norm` and :func:`clip_grad_norm_` and checked in the
  unit tests against :func:`torch.nn.utils.clip_grad_norm_`;
* diagnostics: :func:`layer_gradient_norms` / :func:`gradient_profile`
  (the gradient norm of every layer, to see gradients vanish or explode) and
  :func:`dead_relu_masks` / :func:`dead_relu_fraction` (ReLU units that
  output zero on a whole batch, found with forward hooks),
  :func:`activation_outputs` and :func:`saturated_fraction` (per-layer
  activations, and the share of tanh/sigmoid units on their flat tails);
* :func:`initialize_` (He and Xavier initialisation, eqs. HE and XAVIER),
  :class:`EarlyStopping`, :func:`shift_augment` (random one-pixel shifts)
  and :func:`train_classifier`, an epoch loop that records training and
  validation curves with any combination of these regularisers.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.runtime import eval_mode, randint
from genai_foundations.training import Progress

TensorList = Iterable[torch.Tensor] | torch.Tensor


def _tensor_list(tensors: TensorList, what: str) -> list[torch.Tensor]:
    if isinstance(tensors, torch.Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"expected at least one {what} tensor, got an empty sequence")
    for t in tensors:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"expected a sequence of torch.Tensor ({what}), got an element of type {type(t).__name__}")
    return tensors


def _check_strength(lam: float) -> None:
    if not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam >= 0):
        raise ValueError(f"the regularisation strength lam must be a finite number >= 0, got {lam!r}")


def weight_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The weights :math:`w` of ``model``: parameters with two or more dimensions.

    Biases and the scale/shift of normalisation layers are one-dimensional and
    are, by the usual convention, not penalised.
    """
    return [p for p in model.parameters() if p.dim() >= 2]


# ----------------------------------------------------------------------------- penalties


def l1_penalty(params: TensorList, lam: float) -> torch.Tensor:
    """The L1 penalty (eq. L1) :math:`R_1(w) = \\lambda \\sum_i |w_i|` over all entries of all tensors.

    Returns a 0-dimensional tensor on the parameters' device that
    back-propagates like any loss; its (sub)gradient is
    :math:`\\lambda\\,\\operatorname{sign}(w)` (0 at :math:`w = 0`, as
    PyTorch's ``abs``), a pull of constant size towards zero. Gradient
    steps on a loss with this penalty make weights *small*, but they hop
    across zero rather than land on it: exact zeros come from the
    proximal step :func:`soft_threshold` / :func:`l1_proximal_step_`.
    """
    _check_strength(lam)
    params = _tensor_list(params, "parameter")
    total = params[0].abs().sum()
    for p in params[1:]:
        total = total + p.abs().sum()
    return lam * total


def l2_penalty(params: TensorList, lam: float) -> torch.Tensor:
    """The L2 penalty (eq. L2) :math:`R_2(w) = \\tfrac{\\lambda}{2} \\sum_i w_i^2` over all entries.

    With the factor :math:`\\tfrac12` the gradient is :math:`\\lambda w`, so
    adding this penalty to the loss and stepping with plain SGD is *the same*
    as ``torch.optim.SGD(..., weight_decay=lam)`` (a unit test checks it).
    """
    _check_strength(lam)
    params = _tensor_list(params, "parameter")
    total = params[0].pow(2).sum()
    for p in params[1:]:
        total = total + p.pow(2).sum()
    return 0.5 * lam * total


def soft_threshold(w: torch.Tensor, threshold: float) -> torch.Tensor:
    """The proximal operator of :math:`t\\,|\\cdot|` (eq. PROX): :math:`\\operatorname{sign}(w)\\max(|w| - t, 0)`.

    .. math::
        \\operatorname{prox}_{t|\\cdot|}(w) = \\arg\\min_u \\tfrac12 (u - w)^2 + t\\,|u|
        = \\begin{cases} w - t & w > t \\\\ 0 & |w| \\le t \\\\ w + t & w < -t \\end{cases}

    applied entry by entry. Every entry with :math:`|w| \\le t` becomes
    exactly zero; the others move towards zero by :math:`t`. With
    :math:`t = \\eta\\lambda` after a gradient step on the data loss this is
    one step of proximal gradient descent (ISTA) on the L1-penalised loss.
    Returns a new tensor of the input's dtype; ``w`` is not modified.
    """
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(w).__name__}")
    _check_strength(threshold)
    return torch.sign(w) * torch.clamp(w.abs() - threshold, min=0.0)


@torch.no_grad()
def l1_proximal_step_(params: TensorList, lr: float, lam: float) -> None:
    """Replace every tensor of ``params`` in place by :func:`soft_threshold` with :math:`t = \\eta\\lambda`.

    Call it right after ``optimizer.step()`` on the *data* loss (no L1 term
    in the loss): the two together are a proximal gradient step on
    :math:`\\mathcal L_{\\text{data}} + \\lambda\\sum_i |w_i|`.
    """
    _check_strength(lr)
    _check_strength(lam)
    for p in _tensor_list(params, "parameter"):
        p.copy_(soft_threshold(p, lr * lam))


def lasso_ista(X: torch.Tensor, y: torch.Tensor, lam: float, lr: float, steps: int) -> torch.Tensor:
    """``steps`` proximal gradient steps (ISTA) on the lasso objective, from :math:`w = 0` (eq. PROX).

    .. math::
        F(w) = \\frac{1}{2n}\\|y - Xw\\|^2 + \\lambda \\|w\\|_1, \\qquad
        w \\leftarrow S_{\\eta\\lambda}\\Big(w - \\eta\\, \\tfrac1n X^\\top (Xw - y)\\Big),

    with :math:`S_t` the :func:`soft_threshold`: a gradient step on the
    least-squares part, then the proximal step of the penalty. For
    :math:`\\eta \\le 1/L`, :math:`L` the largest eigenvalue of
    :math:`X^\\top X / n`, the iterates converge to the lasso solution
    (scikit-learn's ``Lasso(alpha=lam, fit_intercept=False)`` minimises the
    same :math:`F`), and entries whose gradient step lands within
    :math:`\\eta\\lambda` of zero are exactly zero at every step. ``X`` is
    (n, d), ``y`` is (n,); returns ``w`` of shape (d,) and ``X``'s dtype
    (zeros for ``steps=0``); the inputs are not modified.
    """
    if not (isinstance(X, torch.Tensor) and isinstance(y, torch.Tensor)):
        raise TypeError("X and y must be torch.Tensor")
    if X.dim() != 2 or y.dim() != 1 or len(y) != len(X):
        raise ValueError(f"expected X of shape (n, d) and y of shape (n,), got {tuple(X.shape)} and {tuple(y.shape)}")
    _check_strength(lam)
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"the step size lr must be a positive finite number, got {lr!r}")
    if not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"steps must be an int >= 0, got {steps!r}")
    X, y = X.detach(), y.detach()
    n = X.shape[0]
    w = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
    for _ in range(steps):
        grad = X.T @ (X @ w - y) / n
        w = soft_threshold(w - lr * grad, lr * lam)
    return w


def exact_zero_fraction(params: TensorList) -> float:
    """The fraction of all entries of ``params`` that are exactly ``0.0``."""
    params = _tensor_list(params, "parameter")
    zeros = sum(int((p.detach() == 0).sum()) for p in params)
    return zeros / sum(p.numel() for p in params)


# ----------------------------------------------------------------------------- clipping


def clip_by_global_norm(grads: TensorList, max_norm: float, eps: float = 1e-6) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Rescale a list of gradients so that their global norm is at most ``max_norm`` (eq. CLIP).

    .. math::
        \\|g\\| = \\Big(\\sum_k \\|g_k\\|_2^2\\Big)^{1/2}, \\qquad
        g_k \\leftarrow g_k \\cdot \\min\\Big(1, \\frac{c}{\\|g\\| + \\varepsilon}\\Big).

    All tensors are scaled by the *same* factor, so the direction of the
    update is kept and only its length is capped. Returns new tensors (the
    inputs are not modified) and the global norm *before* clipping, as
    :func:`torch.nn.utils.clip_grad_norm_` does (including its
    :math:`\\varepsilon = 10^{-6}`).
    """
    if not (isinstance(max_norm, (int, float)) and max_norm > 0):
        raise ValueError(f"max_norm must be a positive number, got {max_norm!r}")
    grads = _tensor_list(grads, "gradient")
    norms = torch.stack([torch.linalg.vector_norm(g.detach()).to(grads[0].dtype) for g in grads])
    total = torch.linalg.vector_norm(norms)
    scale = torch.clamp(max_norm / (total + eps), max=1.0)
    return [g * scale.to(g.dtype) for g in grads], total


def clip_grad_norm_(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """In-place version of :func:`clip_by_global_norm` on the ``.grad`` of ``parameters``.

    Parameters without a gradient are skipped; returns the global norm
    before clipping (0 when no parameter has a gradient).
    """
    with_grad = [p for p in parameters if p.grad is not None]
    if not with_grad:
        return torch.tensor(0.0)
    clipped, total = clip_by_global_norm([p.grad for p in with_grad], max_norm)
    with torch.no_grad():
        for p, g in zip(with_grad, clipped):
            p.grad.copy_(g)
    return total


# ----------------------------------------------------------------------------- diagnostics

_LAYER_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def layer_gradient_norms(model: nn.Module) -> dict[str, float]:
    """:math:`\\|\\nabla_{W_l}\\mathcal L\\|_2` for every linear/convolutional layer ``l``, in forward order.

    Call it after ``loss.backward()``. The keys are the module names of
    ``model.named_modules()``; the values are the Frobenius norms of the
    weight gradients (biases are left out).
    """
    norms = {}
    for name, module in model.named_modules():
        if isinstance(module, _LAYER_TYPES):
            if module.weight.grad is None:
                raise ValueError(f"layer {name!r} has no gradient: call loss.backward() before layer_gradient_norms")
            norms[name] = float(torch.linalg.vector_norm(module.weight.grad))
    if not norms:
        raise ValueError("the model has no nn.Linear or nn.Conv layer")
    return norms


def gradient_profile(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                     loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy) -> dict[str, float]:
    """One forward and backward pass on ``(x, y)``, then :func:`layer_gradient_norms`.

    The model stays in its current mode (training mode, so batch norm uses
    the batch's statistics, as during training); previous gradients are
    discarded first.
    """
    model.zero_grad(set_to_none=True)
    loss_fn(model(x), y).backward()
    return layer_gradient_norms(model)


def dead_relu_masks(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{name: mask}`` for every ``nn.ReLU`` module of ``model``: ``True`` where a unit is dead on ``x``.

    A unit (one entry of the ReLU's output, for one example) is *dead* on the
    batch when it outputs exactly zero for every example: its incoming
    weights then receive no gradient from this batch. The outputs are read
    with forward hooks during one pass in evaluation mode (no dropout, batch
    norm with its running statistics); the hooks are removed afterwards.
    Each mask has the shape of one example's output of that module.
    """
    alive: dict[str, torch.Tensor] = {}

    def make_hook(name: str):
        def hook(module, inputs, output):
            active = (output.detach() > 0).reshape(output.shape[0], -1).any(dim=0)
            alive[name] = active if name not in alive else alive[name] | active
        return hook

    handles = [module.register_forward_hook(make_hook(name))
               for name, module in model.named_modules() if isinstance(module, nn.ReLU)]
    if not handles:
        raise ValueError("the model has no nn.ReLU module to inspect")
    try:
        with eval_mode(model):
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return {name: ~a for name, a in alive.items()}


def dead_relu_units(model: nn.Module, x: torch.Tensor) -> dict[str, tuple[int, int]]:
    """``{name: (dead, total)}`` for every ``nn.ReLU`` module of ``model`` on the batch ``x``.

    Counts the ``True`` entries of :func:`dead_relu_masks`: a unit is dead on
    the batch when its output is zero for every example.
    """
    return {name: (int(mask.sum()), int(mask.numel())) for name, mask in dead_relu_masks(model, x).items()}


def dead_relu_fraction(model: nn.Module, x: torch.Tensor) -> float:
    """Fraction of all ReLU units of ``model`` that are dead on the batch ``x`` (see :func:`dead_relu_units`)."""
    counts = dead_relu_units(model, x)
    dead = sum(d for d, _ in counts.values())
    total = sum(t for _, t in counts.values())
    return dead / total


_SATURATING = {nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}


def activation_outputs(model: nn.Module, x: torch.Tensor,
                       kinds: tuple[type[nn.Module], ...] = (nn.Tanh, nn.Sigmoid, nn.ReLU)) -> dict[str, torch.Tensor]:
    """The output of every activation module of ``model`` (of the types ``kinds``) on ``x``, in forward order.

    Read with forward hooks during one pass without gradients, in the
    model's current mode; the hooks are removed afterwards. The values are
    detached tensors of shape (batch, ...), keyed by module name.
    """
    outputs: dict[str, torch.Tensor] = {}
    handles = [module.register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o.detach()))
               for name, module in model.named_modules() if isinstance(module, kinds)]
    if not handles:
        raise ValueError(f"the model has no activation module of the types {[k.__name__ for k in kinds]}")
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return outputs


def saturated_fraction(h: torch.Tensor, activation: str, level: float = 0.1) -> float:
    """Fraction of the outputs ``h`` of a tanh or sigmoid at which the local derivative is below ``level`` of its peak.

    The derivative is read from the output itself: :math:`1 - h^2` for tanh
    (peak 1 at :math:`h = 0`), :math:`h(1-h)` for the sigmoid (peak
    :math:`\\tfrac14` at :math:`h = \\tfrac12`). With the default ``level``
    0.1 a tanh unit counts as saturated when :math:`|h| > 0.949`, a sigmoid
    unit when :math:`h < 0.026` or :math:`h > 0.974`: the gradient through it
    is less than a tenth of the most it could be.
    """
    if activation not in ("tanh", "sigmoid"):
        raise ValueError(f"activation must be 'tanh' or 'sigmoid', got {activation!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    h = h.detach().double()
    relative = 1 - h * h if activation == "tanh" else 4 * h * (1 - h)
    return float((relative < level).double().mean())


def initialize_(model: nn.Module, scheme: str = "he", gain: float = 1.0) -> nn.Module:
    """Re-initialise every linear/convolutional layer in place (eqs. HE and XAVIER) and zero its bias.

    ``"he"``: :math:`W_{ij} \\sim \\mathcal N(0, 2/n_{\\text{in}})`, which keeps
    the size of activations constant through ReLU layers; ``"xavier"``:
    :math:`\\mathcal N(0, 2/(n_{\\text{in}} + n_{\\text{out}}))`, derived for
    activations that are symmetric with slope 1 at 0 such as tanh (for the
    sigmoid, slope 1/4 and mean 1/2, it is not enough); ``"default"``
    keeps PyTorch's own initialisation (uniform with variance
    :math:`1/(3 n_{\\text{in}})`). ``gain`` multiplies the
    weights afterwards (``gain > 1`` makes activations and gradients grow
    layer by layer, ``gain < 1`` makes them shrink).
    """
    if scheme not in ("he", "xavier", "default"):
        raise ValueError(f"scheme must be 'he', 'xavier' or 'default', got {scheme!r}")
    if not gain > 0:
        raise ValueError(f"gain must be positive, got {gain!r}")
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, _LAYER_TYPES):
                if scheme == "he":
                    nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")
                elif scheme == "xavier":
                    nn.init.xavier_normal_(module.weight)
                module.weight.mul_(gain)
                if module.bias is not None and scheme != "default":
                    module.bias.zero_()
    return model


# ----------------------------------------------------------------------------- early stopping, augmentation


class EarlyStopping:
    """Stop when the validation loss has not improved for ``patience`` epochs in a row.

    Call :meth:`step` once per epoch with the validation loss (and the model,
    to keep a copy of its best weights); it returns ``True`` when training
    should stop. :meth:`restore` loads the best weights back. An epoch counts
    as an improvement when the loss falls below the best one by more than
    ``min_delta``.
    """

    def __init__(self, patience: int, min_delta: float = 0.0):
        if not (isinstance(patience, int) and patience >= 1):
            raise ValueError(f"patience must be an int >= 1, got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta}")
        self.patience, self.min_delta = patience, min_delta
        self.best = math.inf
        self.best_epoch = -1
        self.epochs_seen = 0
        self.bad_epochs = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.patience

    def step(self, value: float, model: nn.Module | None = None) -> bool:
        """Record the validation loss of the next epoch (epochs are numbered from 0)."""
        value = float(value)
        if math.isfinite(value) and value < self.best - self.min_delta:
            self.best, self.best_epoch, self.bad_epochs = value, self.epochs_seen, 0
            if model is not None:
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        self.epochs_seen += 1
        return self.should_stop

    def restore(self, model: nn.Module) -> nn.Module:
        """Load the weights of the best epoch into ``model`` (which must have been passed to :meth:`step`)."""
        if self.best_state is None:
            raise ValueError("no weights stored: pass the model to step() so that the best weights are kept")
        model.load_state_dict(self.best_state)
        return model


def shift_augment(images: torch.Tensor, generator: torch.Generator | None = None, max_shift: int = 1,
                  fill: float | None = None) -> torch.Tensor:
    """Shift every image of a batch (B, C, H, W) by its own random offset of up to ``max_shift`` pixels.

    Each image moves by :math:`(d_y, d_x)` drawn uniformly from
    :math:`\\{-s, \\dots, s\\}^2`; pixels that enter from outside take the
    value ``fill`` (default: the batch's minimum, i.e. the background of
    digit images). Done with padding and index arithmetic, no loop over the
    batch; the offsets come from ``generator`` (a CPU generator gives the
    same shifts on every device).
    """
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(images.shape)}")
    if not (isinstance(max_shift, int) and max_shift >= 0):
        raise ValueError(f"max_shift must be an int >= 0, got {max_shift!r}")
    if max_shift == 0:
        return images.clone()
    b, c, h, w = images.shape
    s = max_shift
    fill = float(images.min()) if fill is None else float(fill)
    padded = F.pad(images, (s, s, s, s), value=fill)
    offsets = randint(0, 2 * s + 1, (b, 2), device=images.device, generator=generator)
    rows = torch.arange(h, device=images.device)[None, :] + offsets[:, :1]  # (B, H): padded row read by row i
    cols = torch.arange(w, device=images.device)[None, :] + offsets[:, 1:]  # (B, W)
    batch = torch.arange(b, device=images.device)[:, None, None, None]
    channel = torch.arange(c, device=images.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


# ----------------------------------------------------------------------------- training with curves


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 2048) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``(x, y)``, in evaluation mode."""
    device = next(model.parameters()).device
    total_loss, correct = 0.0, 0
    with eval_mode(model):
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
            logits = model(xb)
            total_loss += float(F.cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(dim=1) == yb).sum())
    return total_loss / len(x), correct / len(x)


@dataclass
class TrainingRun:
    """Per-epoch curves of :func:`train_classifier` (clean passes in evaluation mode after each epoch)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False
    model: nn.Module | None = None

    @property
    def epochs(self) -> int:
        return len(self.val_loss)

    @property
    def final_val_acc(self) -> float:
        """Validation accuracy of the returned model (the best epoch's with early stopping, else the last)."""
        return self.val_acc[self.best_epoch]

    @property
    def final_train_acc(self) -> float:
        return self.train_acc[self.best_epoch]


def train_classifier(
    model: nn.Module,
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    l1: float = 0.0,
    l2: float = 0.0,
    augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    patience: int | None = None,
    grad_clip: float | None = None,
    device: torch.device | str | None = None,
    seed: int = 0,
    desc: str = "training",
) -> TrainingRun:
    """Train a classifier with cross-entropy for ``epochs`` epochs and record train/validation curves.

    The loss of a mini-batch is
    :math:`\\mathcal L_{\\text{data}} + R_1(w) + R_2(w)` with ``l1`` and ``l2``
    as the strengths of (eq. L1) and (eq. L2) on the weights :math:`w`
    (:func:`weight_parameters`). ``optimizer`` is ``"adam"``, ``"adamw"``
    or ``"sgd"`` (momentum 0.9); ``weight_decay`` goes to the optimiser and
    is applied to the weights only (for Adam it is coupled, i.e. an L2
    penalty; for AdamW it is decoupled). ``augment(x, generator)`` transforms
    each training batch; ``patience`` turns on :class:`EarlyStopping` on the
    validation loss, and the best epoch's weights are restored at the end;
    ``grad_clip`` clips the global gradient norm (:func:`clip_grad_norm_`).

    After every epoch the loss and accuracy on the whole training and
    validation sets are measured in evaluation mode, without augmentation
    or dropout, so the two curves are comparable.
    """
    if epochs <= 0 or batch_size <= 0:
        raise ValueError(f"epochs and batch_size must be positive, got {epochs} and {batch_size}")
    if len(train_x) != len(train_y) or len(val_x) != len(val_y):
        raise ValueError("inputs and labels must have the same length")
    optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
    if optimizer not in optimizers:
        raise ValueError(f"optimizer must be one of {sorted(optimizers)}, got {optimizer!r}")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    model.to(device)
    train_x, train_y = train_x.to(device), train_y.to(device)
    weights = weight_parameters(model)
    weight_ids = {id(p) for p in weights}
    others = [p for p in model.parameters() if id(p) not in weight_ids]
    groups = [{"params": weights, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
    extra = {"momentum": 0.9} if optimizer == "sgd" else {}
    opt = optimizers[optimizer]([g for g in groups if g["params"]], lr=lr, **extra)
    stopper = EarlyStopping(patience) if patience is not None else None
    run = TrainingRun(model=model)
    n = len(train_x)
    batch_size = min(batch_size, n)
    with Progress(epochs, desc, unit="epoch") as bar:
        for epoch in range(epochs):
            model.train()
            order = torch.randperm(n, generator=generator).to(device)
            for start in range(0, n - batch_size + 1, batch_size):  # the last partial batch is dropped
                index = order[start:start + batch_size]
                xb, yb = train_x[index], train_y[index]
                if augment is not None:
                    xb = augment(xb, generator)
                loss = F.cross_entropy(model(xb), yb)
                if l1 > 0:
                    loss = loss + l1_penalty(weights, l1)
                if l2 > 0:
                    loss = loss + l2_penalty(weights, l2)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"the loss became {float(loss)} in epoch {epoch}; lower the learning rate")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if grad_clip is not None:
                    clip_grad_norm_(model.parameters(), grad_clip)
                opt.step()
            for (loss_list, acc_list), (x, y) in zip(((run.train_loss, run.train_acc), (run.val_loss, run.val_acc)),
                                                     ((train_x, train_y), (val_x, val_y))):
                value, acc = evaluate(model, x, y)
                loss_list.append(value)
                acc_list.append(acc)
            bar.update(val_acc=run.val_acc[-1])
            if stopper is not None and stopper.step(run.val_loss[-1], model):
                run.stopped_early = True
                break
    if stopper is not None:
        stopper.restore(model)
        run.best_epoch = stopper.best_epoch
    else:
        run.best_epoch = run.epochs - 1
    model.eval()
    return run


def copy_model(model: nn.Module) -> nn.Module:
    """A deep copy (same weights), handy to start several regularisers from one initialisation."""
    return copy.deepcopy(model)

"""Loss functions and distances between distributions, written out (training-and-losses chapter).

Notation of the chapter: :math:`y` is a target, :math:`\\hat y` a prediction,
:math:`n` the number of examples in a batch. For classification the network
outputs logits :math:`z \\in \\mathbb R^C` and probabilities
:math:`\\hat p = \\operatorname{softmax}(z)`. For distributions on the same
finite set, :math:`p` is the "true" one and :math:`q` the model.

* regression: :math:`\\text{MSE} = \\frac1n\\sum_i (y_i - \\hat y_i)^2`,
  :math:`\\text{MAE} = \\frac1n\\sum_i |y_i - \\hat y_i|`;
* categorical cross-entropy :math:`-\\log \\hat p_{y}` (one-hot target),
  binary cross-entropy :math:`-[y\\log\\hat p + (1-y)\\log(1-\\hat p)]`;
* the batch loss is the mean of the per-example losses;
* :math:`\\mathrm{KL}(p\\,\\|\\,q) = \\sum_i p_i \\log(p_i/q_i)`,
  :math:`H(p) = -\\sum_i p_i\\log p_i`, :math:`H(p, q) = -\\sum_i p_i \\log q_i = \\mathrm{KL}(p\\,\\|\\,q) + H(p)`;
* the Wasserstein-1 (earth mover's) distance in one dimension,
  :math:`W_1(P, Q) = \\int |F_P(x) - F_Q(x)|\\,dx` with the cumulative
  distribution functions :math:`F`, and the optimal transport plan behind it.

The "stable" formulas are written so that autograd's gradient is right as
well as the value: a kink that belongs only to the formula (``abs``,
``clamp``, the branch of a ``where``) is written so that both sides of it are
differentiated consistently (see :func:`softplus` and :func:`_xlogy`).

Every function agrees with ``torch.nn.functional`` (or SciPy for :math:`W_1`);
the unit tests check that.
"""

from __future__ import annotations

import torch


REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _reduce(losses: torch.Tensor, reduction: str) -> torch.Tensor:
    _check_reduction(reduction)
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def batch_loss(per_example: torch.Tensor) -> torch.Tensor:
    """The batch loss :math:`\\frac1N \\sum_{i=1}^N \\ell_i`: the mean of the per-example losses."""
    if per_example.numel() == 0:
        raise ValueError("the batch is empty")
    return per_example.mean()


# --- regression ----------------------------------------------------------------------------------------------------


def mse(prediction: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error :math:`\\frac1n \\sum_i (y_i - \\hat y_i)^2` (element-wise squares with ``reduction="none"``)."""
    _same_shape(prediction, target, "prediction and target")
    return _reduce((prediction - target) ** 2, reduction)


def mae(prediction: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean absolute error :math:`\\frac1n \\sum_i |y_i - \\hat y_i|`."""
    _same_shape(prediction, target, "prediction and target")
    return _reduce((prediction - target).abs(), reduction)


# --- classification ------------------------------------------------------------------------------------------------


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    top = logits.amax(dim=-1, keepdim=True).detach()   # a constant shift: no gradient through the max
    return logits - top - torch.log(torch.exp(logits - top).sum(dim=-1, keepdim=True))


def _check_class_targets(targets: torch.Tensor, batch: int, classes: int) -> None:
    if targets.shape != (batch,) or targets.is_floating_point():
        raise ValueError(f"class targets must be an integer tensor of shape ({batch},), got {targets.dtype} "
                         f"{tuple(targets.shape)}")
    if batch and (targets.min() < 0 or targets.max() >= classes):
        raise ValueError(f"class targets must lie in 0..{classes - 1}")


def cross_entropy_from_logits(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Categorical cross-entropy from logits, :math:`\\ell_i = -\\log \\operatorname{softmax}(z_i)_{y_i}`.

    Computed as :math:`\\ell_i = \\log\\sum_c e^{z_{ic}} - z_{i y_i}`.

    ``logits`` has shape (N, C); ``targets`` are class indices (N,) or
    target distributions (N, C) (e.g. one-hot rows or smoothed labels), for
    which :math:`\\ell_i = -\\sum_c y_{ic} \\log \\hat p_{ic}`. The
    log-sum-exp is computed with the maximum logit subtracted, so large
    logits neither overflow nor lose the answer. Same as ``F.cross_entropy``.
    """
    if logits.dim() != 2:
        raise ValueError(f"logits must have shape (N, C), got {tuple(logits.shape)}")
    log_p = _log_softmax(logits)
    if targets.shape == logits.shape and targets.is_floating_point():
        losses = -(targets * log_p).sum(dim=1)
    else:
        _check_class_targets(targets, logits.shape[0], logits.shape[1])
        losses = -log_p.gather(1, targets.long().unsqueeze(1)).squeeze(1)
    return _reduce(losses, reduction)


def cross_entropy_from_probs(probs: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Categorical cross-entropy from probabilities, :math:`\\ell_i = -\\log \\hat p_{i y_i}`.

    ``probs`` has shape (N, C) and ``targets`` are class indices of shape (N,).

    Equal to ``F.nll_loss(probs.log(), targets)``. A probability of exactly 0
    for the true class gives an infinite loss, which is why networks output
    logits and losses start from :func:`cross_entropy_from_logits`.
    """
    if probs.dim() != 2:
        raise ValueError(f"probs must have shape (N, C), got {tuple(probs.shape)}")
    if probs.numel() and (probs.min() < 0 or probs.max() > 1):
        raise ValueError("probs must lie in [0, 1]")
    _check_class_targets(targets, probs.shape[0], probs.shape[1])
    return _reduce(-torch.log(probs.gather(1, targets.long().unsqueeze(1)).squeeze(1)), reduction)


class _BinaryCrossEntropyFromProbs(torch.autograd.Function):
    """Element-wise BCE from probabilities with PyTorch's clamped logarithms and PyTorch's gradient.

    Forward: :math:`-[y\\,\\max(\\log\\hat p, -100) + (1-y)\\max(\\log(1-\\hat p), -100)]`.
    Backward: :math:`\\partial\\ell/\\partial\\hat p = (\\hat p - y)/\\max(\\hat p(1-\\hat p), 10^{-12})`
    and :math:`\\partial\\ell/\\partial y = \\max(\\log(1-\\hat p), -100) - \\max(\\log\\hat p, -100)`,
    the exact slope of the forward in :math:`y` (PyTorch leaves this one
    unclamped and returns :math:`\\pm\\infty` at :math:`\\hat p \\in \\{0, 1\\}`).
    Left to autograd, the clamp would multiply its zero slope by the infinite
    slope of :math:`\\log` at :math:`\\hat p \\in \\{0, 1\\}` and return NaN.
    """

    #: PyTorch's floor for :math:`\\hat p(1-\\hat p)`: the float32 number nearest to 1e-12, also in float64.
    EPSILON = 9.999999960041972e-13

    @staticmethod
    def forward(ctx, probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_p = torch.log(probs).clamp(min=-100.0)
        log_not_p = torch.log1p(-probs).clamp(min=-100.0)
        ctx.save_for_backward(probs, targets, log_p, log_not_p)
        return -(targets * log_p + (1 - targets) * log_not_p)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        probs, targets, log_p, log_not_p = ctx.saved_tensors
        grad_probs = grad_targets = None
        if ctx.needs_input_grad[0]:
            grad_probs = grad * (probs - targets) / (probs * (1 - probs)).clamp(min=_BinaryCrossEntropyFromProbs.EPSILON)
        if ctx.needs_input_grad[1]:
            grad_targets = grad * (log_not_p - log_p)
        return grad_probs, grad_targets


def binary_cross_entropy(probs: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy :math:`-[y\\log \\hat p + (1-y)\\log(1-\\hat p)]` from probabilities :math:`\\hat p`.

    Like ``F.binary_cross_entropy``, each logarithm is clamped at -100, so a
    confident wrong answer costs 100 instead of infinity, and the gradient is
    PyTorch's, finite also at :math:`\\hat p \\in \\{0, 1\\}` (see
    :class:`_BinaryCrossEntropyFromProbs`).
    """
    _same_shape(probs, targets, "probs and targets")
    if probs.numel() and (probs.min() < 0 or probs.max() > 1):
        raise ValueError("probs must lie in [0, 1]")
    targets = targets.to(probs.dtype)
    return _reduce(_BinaryCrossEntropyFromProbs.apply(probs, targets), reduction)


def softplus(z: torch.Tensor) -> torch.Tensor:
    """:math:`\\log(1 + e^{z})`, without overflow and with the exact gradient :math:`\\sigma(z)`.

    :math:`\\log(1+e^{z}) = \\max(z, 0) + \\log(1 + e^{-|z|})`. Written with
    ``clamp`` and ``abs``, autograd takes the slope 1 of the first term at
    :math:`z = 0` and the slope 0 of :math:`|z|`, so it returns 1 instead of
    :math:`\\sigma(0) = 1/2`. Here both pieces are written with the same
    ``where``, so at :math:`z = 0` both are differentiated on the side
    :math:`z \\ge 0`: :math:`1 - 1/2 = 1/2`.
    """
    positive = z >= 0
    a = torch.where(positive, z, -z)                         # |z|, differentiated as the selected branch
    return torch.where(positive, z, torch.zeros_like(z)) + torch.log1p(torch.exp(-a))


def binary_cross_entropy_with_logits(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Binary cross-entropy from a logit :math:`z` (with :math:`\\hat p = \\sigma(z)`), stably.

    :math:`-[y\\log\\sigma(z) + (1-y)\\log(1-\\sigma(z))] = \\log(1 + e^{z}) - yz`
    (:func:`softplus`, which never exponentiates a positive number). Its
    gradient is :math:`\\sigma(z) - y`, also at :math:`z = 0`. Same as
    ``F.binary_cross_entropy_with_logits``, in value and gradient.
    """
    _same_shape(logits, targets, "logits and targets")
    losses = softplus(logits) - targets * logits
    return _reduce(losses, reduction)


# --- distributions on a finite set ----------------------------------------------------------------------------------


def _check_distributions(p: torch.Tensor, q: torch.Tensor | None = None) -> None:
    if p.dim() == 0:
        raise ValueError("a distribution needs at least one dimension (its outcomes)")
    if q is not None:
        _same_shape(p, q, "p and q")
    for name, d in (("p", p), ("q", q)):
        if d is None:
            continue
        if not d.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor of probabilities")
        if (d < 0).any():
            raise ValueError(f"{name} has negative entries; expected probabilities")
        total = d.sum(dim=-1)
        if not torch.allclose(total, torch.ones_like(total), atol=1e-4):
            raise ValueError(f"{name} must sum to 1 along its last dimension, got sums {total.flatten()[:4].tolist()}")


def _xlogy(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:math:`x \\log y` with the convention :math:`0 \\log y = 0` (also for :math:`y = 0`), with finite gradients there.

    A plain ``where(x == 0, 0, x * log(y))`` has the right value, but its
    backward pass multiplies the zero gradient of the unused branch by the
    infinite derivative :math:`x/y` or :math:`\\log y` of that branch and
    returns NaN at :math:`x = y = 0`. Feeding the logarithm a harmless 1 where
    :math:`x = 0` (a second ``where``) keeps the unused branch finite: there
    the gradient is 0 with respect to both arguments, as for ``torch.xlogy``
    in :math:`x`.
    """
    zero = x == 0
    safe_y = torch.where(zero, torch.ones_like(y), y)
    return torch.where(zero, torch.zeros_like(x), x * torch.log(safe_y))


def entropy(p: torch.Tensor) -> torch.Tensor:
    """Shannon entropy :math:`H(p) = -\\sum_i p_i \\log p_i` in nats, with :math:`0\\log 0 = 0` (over the last dimension)."""
    _check_distributions(p)
    return -_xlogy(p, p).sum(dim=-1)


def cross_entropy(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Cross-entropy :math:`H(p, q) = -\\sum_i p_i \\log q_i` (infinite when :math:`q_i = 0 < p_i`)."""
    _check_distributions(p, q)
    return -_xlogy(p, q).sum(dim=-1)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """:math:`\\mathrm{KL}(p\\,\\|\\,q) = \\sum_i p_i \\log(p_i/q_i)` over the last dimension.

    Terms with :math:`p_i = 0` contribute 0 (whatever :math:`q_i` is); a term
    with :math:`q_i = 0 < p_i` makes the divergence :math:`+\\infty`: the model
    :math:`q` calls impossible something that happens. Equals
    ``F.kl_div(q.log(), p, reduction="none").sum(-1)``, except where
    :math:`p_i = q_i = 0`: PyTorch computes :math:`0 \\cdot (-\\infty)` = NaN there.
    Gradients are finite wherever the value is (0 for the terms with
    :math:`p_i = 0`), so a model :math:`q = \\operatorname{softmax}(z)` whose
    probabilities underflow to 0 still gets a gradient (see :func:`_xlogy`).
    """
    _check_distributions(p, q)
    zero = p == 0
    one = torch.ones_like(p)
    log_ratio = torch.log(torch.where(zero, one, p)) - torch.log(torch.where(zero, one, q))  # 0 where p = 0
    return torch.where(zero, torch.zeros_like(p), p * log_ratio).sum(dim=-1)


# --- Wasserstein-1 in one dimension ---------------------------------------------------------------------------------


def wasserstein1_samples(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """:math:`W_1` between the empirical distributions of two 1-D samples (sizes may differ).

    :math:`W_1 = \\int |F_x(t) - F_y(t)|\\,dt`, and both empirical CDFs are
    step functions that only change at the sample points, so the integral is
    a finite sum over the gaps between consecutive pooled, sorted points.
    For equal sizes this is :math:`\\frac1n\\sum_i |x_{(i)} - y_{(i)}|`:
    transport the :math:`i`-th smallest point onto the :math:`i`-th smallest.
    Same as ``scipy.stats.wasserstein_distance(x, y)``.
    """
    if x.dim() != 1 or y.dim() != 1 or len(x) == 0 or len(y) == 0:
        raise ValueError(f"expected two non-empty 1-D samples, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    dtype = torch.promote_types(torch.promote_types(x.dtype, y.dtype), torch.float32)
    x, y = torch.sort(x.to(dtype))[0], torch.sort(y.to(dtype))[0]
    pooled = torch.sort(torch.cat([x, y]))[0]
    gaps = pooled[1:] - pooled[:-1]
    cdf_x = torch.searchsorted(x, pooled[:-1], right=True).to(dtype) / len(x)
    cdf_y = torch.searchsorted(y, pooled[:-1], right=True).to(dtype) / len(y)
    return ((cdf_x - cdf_y).abs() * gaps).sum()


def wasserstein1_histograms(p: torch.Tensor, q: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """:math:`W_1` between two distributions on the same sorted 1-D grid of positions :math:`g_0 < \\dots < g_{K-1}`.

    :math:`W_1 = \\sum_{k=0}^{K-2} \\big|\\sum_{j \\le k} (p_j - q_j)\\big|\\,(g_{k+1} - g_k)`:
    the mass that has to cross the gap between :math:`g_k` and :math:`g_{k+1}`
    times the length of the gap. Finite even when the supports are disjoint
    (where :func:`kl_divergence` is infinite). Same as
    ``scipy.stats.wasserstein_distance(grid, grid, p, q)`` for normalised p, q.
    """
    _check_distributions(p, q)
    if p.dim() != 1 or grid.shape != p.shape:
        raise ValueError(f"p, q and grid must be 1-D of the same length, got {tuple(p.shape)} and {tuple(grid.shape)}")
    gaps = grid[1:] - grid[:-1]
    if (gaps <= 0).any():
        raise ValueError("grid must be strictly increasing")
    cdf_diff = torch.cumsum(p - q, dim=0)[:-1]
    return (cdf_diff.abs() * gaps.to(cdf_diff.dtype)).sum()


def wasserstein1_plan(p: torch.Tensor, q: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """The optimal transport plan :math:`\\gamma` between two distributions on one sorted 1-D grid.

    ``gamma[i, j]`` is the mass moved from :math:`g_i` (under ``p``) to
    :math:`g_j` (under ``q``); its row sums are ``p`` and its column sums ``q``.
    In one dimension the monotone plan is optimal: fill the leftmost hole with
    the leftmost earth and move on (the "north-west corner" rule), so its cost
    :math:`\\sum_{ij} \\gamma_{ij} |g_i - g_j|` equals
    :func:`wasserstein1_histograms`. Returns a float64 (K, K) matrix on the CPU.
    """
    _check_distributions(p, q)
    if p.dim() != 1 or grid.shape != p.shape:
        raise ValueError(f"p, q and grid must be 1-D of the same length, got {tuple(p.shape)} and {tuple(grid.shape)}")
    if (grid[1:] - grid[:-1] <= 0).any():
        raise ValueError("grid must be strictly increasing")
    supply = (p / p.sum()).detach().double().cpu().tolist()
    demand = (q / q.sum()).detach().double().cpu().tolist()
    plan = torch.zeros(len(supply), len(demand), dtype=torch.float64)
    i = j = 0
    while i < len(supply) and j < len(demand):
        moved = min(supply[i], demand[j])
        plan[i, j] += moved
        supply[i] -= moved
        demand[j] -= moved
        if supply[i] <= 1e-15:   # this pile is empty: next pile
            i += 1
        else:                    # this hole is full: next hole
            j += 1
    return plan

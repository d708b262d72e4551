"""Scaling laws: fitting :math:`L = E + A N^{-\\alpha}` and a small experiment to fit it to.

* :func:`log_log_fit` (eq. PL): least squares on
  :math:`\\log L = \\log A - \\alpha \\log N`, with the standard error of
  :math:`\\alpha` from the residuals (checked against
  :func:`scipy.stats.linregress` in the unit tests);
* :func:`fit_power_law`: that fit, or with an irreducible loss
  :math:`E` (eq. PLE) fitted by :func:`scipy.optimize.curve_fit`;
* :func:`fit_joint_scaling_law`: the form of Hoffmann et al. (eq. NDL)
  :math:`L(N, D) = E + A N^{-\alpha} + B D^{-\beta}` fitted to a whole grid
  of model sizes :math:`N` and data sizes :math:`D`;
* :func:`scaling_experiment`: trains one-hidden-layer MLPs of several widths
  on nested subsets of several sizes and records the held-out loss of each.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from genai_foundations.architectures.mlp import MLP
from genai_foundations.runtime import eval_mode
from genai_foundations.training import Progress, batches


def _positive_vector(values, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().double().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array <= 0):
        raise ValueError(f"{name} must hold finite positive numbers (a power law lives on log-log axes), got {array}")
    return array


def log_log_fit(N, loss) -> tuple[float, float, float]:
    """Fit :math:`L = A N^{-\\alpha}` by least squares on log-log axes (eq. PL); return ``(alpha, se, A)``.

    With :math:`x_i = \\log N_i`, :math:`y_i = \\log L_i` the fitted line
    :math:`y = b + m x` has slope
    :math:`m = \\sum_i (x_i-\\bar x)(y_i-\\bar y) / \\sum_i (x_i-\\bar x)^2`,
    so :math:`\\alpha = -m` and :math:`A = e^{b}`. The standard error is
    :math:`\\operatorname{se}(\\alpha) = \\sqrt{s^2 / \\sum_i (x_i-\\bar x)^2}` with
    the residual variance :math:`s^2 = \\sum_i r_i^2 / (n-2)`; it measures how
    well a straight line fits these points, nothing more. ``N`` and ``loss``
    are sequences, arrays or tensors of at least 3 positive numbers.
    """
    x = np.log(_positive_vector(N, "N"))
    y = np.log(_positive_vector(loss, "loss"))
    if len(x) != len(y):
        raise ValueError(f"N and loss must have the same length, got {len(x)} and {len(y)}")
    if len(x) < 3:
        raise ValueError(f"need at least 3 points to fit a line and estimate its error, got {len(x)}")
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0:
        raise ValueError("all N are equal: the exponent cannot be fitted")
    slope = float(dx @ (y - y.mean())) / sxx
    intercept = float(y.mean()) - slope * float(x.mean())
    residuals = y - (intercept + slope * x)
    se = math.sqrt(float(residuals @ residuals) / (len(x) - 2) / sxx)
    return -slope, se, math.exp(intercept)


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted :math:`L(N) = E + A N^{-\\alpha}` with standard errors (``E = 0`` without an offset)."""

    alpha: float
    alpha_se: float
    A: float
    E: float = 0.0
    E_se: float = 0.0
    offset: bool = False

    def predict(self, N) -> np.ndarray:
        """:math:`E + A N^{-\\alpha}` at ``N``."""
        return self.E + self.A * np.asarray(N, dtype=np.float64) ** (-self.alpha)

    def formula(self, variable: str = "N") -> str:
        """The fit as text, e.g. ``L = 2.1 N^-0.183  (alpha = 0.183 +- 0.053)``, with ``variable`` for N."""
        power = f"{self.A:.3g} {variable}^{-self.alpha:+.3f}".replace("^+", "^")
        head = f"L = {self.E:.3g} + {power}" if self.offset else f"L = {power}"
        tail = f", E = {self.E:.3f} +- {self.E_se:.3f}" if self.offset else ""
        return f"{head}  (alpha = {self.alpha:.3f} +- {self.alpha_se:.3f}{tail})"

    def __str__(self) -> str:
        return self.formula()


def fit_power_law(N, loss, offset: bool = False) -> PowerLawFit:
    """Fit :math:`L = A N^{-\\alpha}` (eq. PL) or, with ``offset``, :math:`L = E + A N^{-\\alpha}` (eq. PLE).

    Without an offset this is :func:`log_log_fit`. With one, the three
    parameters are fitted by :func:`scipy.optimize.curve_fit` to
    :math:`\\log L` (so that every point counts by its *relative* error, as on
    log-log axes), with :math:`0 \\le E < \\min L`; the standard errors are the
    square roots of the diagonal of its covariance estimate (infinite when
    the data cannot pin them down). Four points at least; with few points
    the offset and the exponent trade off against each other and the errors
    are large, which is itself worth seeing.
    """
    alpha, se, A = log_log_fit(N, loss)
    if not offset:
        return PowerLawFit(alpha, se, A)
    from scipy.optimize import OptimizeWarning, curve_fit

    n_arr, l_arr = _positive_vector(N, "N"), _positive_vector(loss, "loss")
    if len(n_arr) < 4:
        raise ValueError(f"fitting E, A and alpha needs at least 4 points, got {len(n_arr)}")
    scale = float(np.exp(np.log(n_arr).mean()))  # work with N / scale to keep A of order one

    def model(n, E, log_a, a):
        return np.log(E + np.exp(log_a) * (n / scale) ** (-a))

    p0 = [0.5 * l_arr.min(), math.log(A) - alpha * math.log(scale), max(alpha, 1e-3)]
    bounds = ([0.0, -50.0, 0.0], [l_arr.min() * (1 - 1e-9), 50.0, 10.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        params, cov = curve_fit(model, n_arr, np.log(l_arr), p0=p0, bounds=bounds, maxfev=20000)
    errors = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.full(3, np.inf)
    E, log_a, a = (float(v) for v in params)
    return PowerLawFit(alpha=a, alpha_se=float(errors[2]), A=math.exp(log_a) * scale**a, E=E, E_se=float(errors[0]),
                       offset=True)


@dataclass(frozen=True)
class JointScalingFit:
    """A fitted :math:`L(N, D) = E + A N^{-\\alpha} + B D^{-\\beta}` with standard errors (``*_se``)."""

    E: float
    A: float
    alpha: float
    B: float
    beta: float
    E_se: float
    alpha_se: float
    beta_se: float
    rms_log_residual: float

    def predict(self, N, D) -> np.ndarray:
        """:math:`E + A N^{-\\alpha} + B D^{-\\beta}` (broadcasting ``N`` against ``D``)."""
        N, D = np.asarray(N, dtype=np.float64), np.asarray(D, dtype=np.float64)
        return self.E + self.A * N ** (-self.alpha) + self.B * D ** (-self.beta)

    def compute_optimal_exponents(self) -> tuple[float, float]:
        """:math:`(a, b)` with :math:`N_{opt} \\propto C^a`, :math:`D_{opt} \\propto C^b` at fixed compute :math:`C \\propto N D`.

        Minimising :math:`A N^{-\\alpha} + B D^{-\\beta}` subject to :math:`ND = \\text{const}`
        gives :math:`a = \\beta/(\\alpha+\\beta)` and :math:`b = \\alpha/(\\alpha+\\beta)`.
        """
        return self.beta / (self.alpha + self.beta), self.alpha / (self.alpha + self.beta)

    def __str__(self) -> str:
        return (f"L = {self.E:.3f} + {self.A:.3g} N^{-self.alpha:.2f} + {self.B:.3g} D^{-self.beta:.2f}  "
                f"(E = {self.E:.3f} +- {self.E_se:.3f}, alpha = {self.alpha:.2f} +- {self.alpha_se:.2f}, "
                f"beta = {self.beta:.2f} +- {self.beta_se:.2f})")


def fit_joint_scaling_law(N, D, loss) -> JointScalingFit:
    """Fit :math:`L(N, D) = E + A N^{-\\alpha} + B D^{-\\beta}` (eq. NDL) to losses measured on a grid.

    ``N``, ``D`` and ``loss`` are 1-D arrays of the same length (one entry
    per run), at least 6 runs. As in :func:`fit_power_law` the fit is made
    to :math:`\\log L` with :func:`scipy.optimize.curve_fit` and
    :math:`0 \\le E < \\min L`; the standard errors come from its covariance
    estimate.
    """
    from scipy.optimize import OptimizeWarning, curve_fit

    n_arr, d_arr, l_arr = (_positive_vector(v, name) for v, name in ((N, "N"), (D, "D"), (loss, "loss")))
    if not len(n_arr) == len(d_arr) == len(l_arr):
        raise ValueError(f"N, D and loss must have the same length, got {len(n_arr)}, {len(d_arr)}, {len(l_arr)}")
    if len(n_arr) < 6:
        raise ValueError(f"fitting five parameters needs at least 6 runs, got {len(n_arr)}")
    n_scale, d_scale = (float(np.exp(np.log(v).mean())) for v in (n_arr, d_arr))

    def model(nd, E, log_a, a, log_b, b):
        n, d = nd
        return np.log(E + np.exp(log_a) * (n / n_scale) ** (-a) + np.exp(log_b) * (d / d_scale) ** (-b))

    p0 = [0.5 * l_arr.min(), math.log(0.25 * l_arr.mean()), 0.5, math.log(0.25 * l_arr.mean()), 0.5]
    bounds = ([0.0, -50.0, 0.0, -50.0, 0.0], [l_arr.min() * (1 - 1e-9), 50.0, 10.0, 50.0, 10.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        params, cov = curve_fit(model, (n_arr, d_arr), np.log(l_arr), p0=p0, bounds=bounds, maxfev=50000)
    errors = np.sqrt(np.clip(np.diag(cov), 0, None)) if np.all(np.isfinite(cov)) else np.full(5, np.inf)
    E, log_a, a, log_b, b = (float(v) for v in params)
    residual = np.log(l_arr) - model((n_arr, d_arr), *params)
    return JointScalingFit(E=E, A=math.exp(log_a) * n_scale**a, alpha=a, B=math.exp(log_b) * d_scale**b, beta=b,
                           E_se=float(errors[0]), alpha_se=float(errors[2]), beta_se=float(errors[4]),
                           rms_log_residual=float(np.sqrt(np.mean(residual**2))))


def mlp_parameter_count(in_features: int, width: int, out_features: int, depth: int = 1) -> int:
    """Parameters of :class:`~genai_foundations.architectures.mlp.MLP` with ``depth`` hidden layers of ``width``."""
    widths = [in_features] + [width] * depth + [out_features]
    return sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))


@dataclass
class ScalingResult:
    """Held-out losses of a grid of (data size, width) runs; ``loss[i, j]`` is data size ``i``, width ``j``."""

    widths: list[int]
    data_sizes: list[int]
    params: list[int]
    loss: np.ndarray
    accuracy: np.ndarray
    best_step: np.ndarray
    records: list[dict] = field(default_factory=list)

    def runs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(N, D, loss)`` as three 1-D arrays with one entry per run (for :func:`fit_joint_scaling_law`)."""
        n_grid, d_grid = np.meshgrid(np.asarray(self.params, dtype=np.float64), np.asarray(self.data_sizes, dtype=np.float64))
        return n_grid.ravel(), d_grid.ravel(), self.loss.ravel()

    def table(self) -> str:
        """The loss grid as text: one row per data size, one column per model size."""
        corner = "D \\ N"
        head = f"{corner:>8}" + "".join(f"{p:>10,d}" for p in self.params)
        rows = [f"{d:>8,d}" + "".join(f"{v:>10.4f}" for v in self.loss[i]) for i, d in enumerate(self.data_sizes)]
        return "\n".join([head, *rows])


def scaling_experiment(
    widths: Sequence[int],
    data_sizes: Sequence[int],
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    val_x: torch.Tensor,
    val_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 128,
    lr: float = 3e-3,
    eval_every: int = 50,
    depth: int = 1,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> ScalingResult:
    """Train an MLP for every (data size, width) pair and record its held-out cross-entropy.

    For data size :math:`D` the first :math:`D` examples of ``train_x`` are
    used (nested subsets: a larger set contains the smaller ones). Every run
    takes ``steps`` Adam steps (cosine-decayed learning rate) on mini-batches
    of ``batch_size``; every ``eval_every`` steps the validation loss is
    measured and the best checkpoint so far kept (early stopping, so that
    small data sets are not judged after they have overfitted). The reported
    loss is that checkpoint's cross-entropy on the separate test set. Inputs
    are flattened to vectors; the parameter count :math:`N` of each width
    is :func:`mlp_parameter_count`.
    """
    widths, data_sizes = [int(w) for w in widths], [int(d) for d in data_sizes]
    if not widths or not data_sizes or min(widths) <= 0 or min(data_sizes) <= 0:
        raise ValueError(f"widths and data_sizes must be non-empty lists of positive ints, got {widths} and {data_sizes}")
    if max(data_sizes) > len(train_x):
        raise ValueError(f"the largest data size {max(data_sizes)} exceeds the {len(train_x)} training examples")
    if steps <= 0 or eval_every <= 0:
        raise ValueError(f"steps and eval_every must be positive, got {steps} and {eval_every}")
    device = torch.device(device)
    flat = [t.reshape(len(t), -1).float().to(device) for t in (train_x, val_x, test_x)]
    train_x, val_x, test_x = flat
    train_y, val_y, test_y = train_y.to(device), val_y.to(device), test_y.to(device)
    in_features, classes = train_x.shape[1], int(max(train_y.max(), val_y.max(), test_y.max())) + 1
    loss = np.zeros((len(data_sizes), len(widths)))
    accuracy = np.zeros_like(loss)
    best_step = np.zeros_like(loss, dtype=np.int64)
    records = []
    with Progress(len(widths) * len(data_sizes), "scaling runs", unit="run") as bar:
        for i, d in enumerate(data_sizes):
            for j, width in enumerate(widths):
                torch.manual_seed(seed + 1000 * i + j)
                model = MLP(in_features, [width] * depth, classes).to(device)
                opt = torch.optim.Adam(model.parameters(), lr=lr)
                sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
                stream = batches(train_x[:d], train_y[:d], batch_size=min(batch_size, d),
                                 generator=torch.Generator().manual_seed(seed + i))
                best = (math.inf, 0, None)
                for step in range(1, steps + 1):
                    xb, yb = next(stream)
                    batch_loss = F.cross_entropy(model(xb), yb)
                    opt.zero_grad(set_to_none=True)
                    batch_loss.backward()
                    opt.step()
                    sched.step()
                    if step % eval_every == 0 or step == steps:
                        with eval_mode(model):
                            val = float(F.cross_entropy(model(val_x), val_y))
                        if val < best[0]:
                            best = (val, step, {k: v.clone() for k, v in model.state_dict().items()})
                model.load_state_dict(best[2])
                with eval_mode(model):
                    logits = model(test_x)
                    loss[i, j] = float(F.cross_entropy(logits, test_y))
                    accuracy[i, j] = float((logits.argmax(1) == test_y).float().mean())
                best_step[i, j] = best[1]
                records.append({"data": d, "width": width, "params": mlp_parameter_count(in_features, width, classes, depth),
                                "test_loss": loss[i, j], "test_acc": accuracy[i, j], "best_step": best[1]})
                bar.update(loss=float(loss[i, j]))
    params = [mlp_parameter_count(in_features, w, classes, depth) for w in widths]
    return ScalingResult(widths, data_sizes, params, loss, accuracy, best_step, records)

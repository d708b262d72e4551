"""Distances between two sets of samples, and the quality ratio the 2-D chapters report.

A generative model's 2-D samples are judged against *held-out* data with

.. math:: \\text{ratio} = \\frac{D(\\text{generated}, \\text{held-out})}{D(\\text{real}, \\text{held-out})},

where "real" is a second real sample, disjoint from the held-out one and of
the same size. Two finite samples of the *same* distribution are never at
distance 0, so the denominator is the distance a perfect model would reach;
a ratio near 1 means the model is as close as sampling noise allows.

Two distances are provided:

* :func:`wasserstein2`: the exact 2-Wasserstein distance between two empirical
  measures with the same number of points, :math:`W_2 = \\big(\\min_\\pi
  \\tfrac1n\\sum_i \\lVert x_i - y_{\\pi(i)}\\rVert^2\\big)^{1/2}`, where the
  minimum over permutations :math:`\\pi` is an assignment problem
  (:func:`scipy.optimize.linear_sum_assignment`);
* :func:`mmd_rbf`: the (unbiased) squared maximum mean discrepancy with a
  Gaussian kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist


def _points(x: torch.Tensor | np.ndarray, name: str) -> np.ndarray:
    array = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(f"{name} must be a (n, d) array of at least 2 points, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def wasserstein2(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray) -> float:
    """Exact :math:`W_2` between the empirical measures of ``x`` and ``y`` (same number of points).

    The optimal coupling of two uniform measures on ``n`` points each is a
    permutation, found by the Hungarian algorithm on the squared-distance
    matrix (``n = 1000`` takes about a second).
    """
    a, b = _points(x, "x"), _points(y, "y")
    if a.shape != b.shape:
        raise ValueError(f"x and y must have the same shape (n, d), got {a.shape} and {b.shape}")
    cost = cdist(a, b, "sqeuclidean")
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].mean()))


def mmd_rbf(x: torch.Tensor | np.ndarray, y: torch.Tensor | np.ndarray, bandwidth: float | None = None,
            unbiased: bool = True) -> float:
    """Squared MMD with the kernel :math:`k(a, b) = \\exp(-\\lVert a-b\\rVert^2 / (2h^2))`.

    .. math:: \\widehat{\\mathrm{MMD}}^2 = \\overline{k(x, x')} + \\overline{k(y, y')} - 2\\,\\overline{k(x, y)}.

    The unbiased estimate leaves the diagonal out of the first two averages; it
    can be slightly negative when the two samples come from the same
    distribution. With ``unbiased=False`` the diagonal is kept (a V-statistic,
    never negative). ``bandwidth`` :math:`h` defaults to the median distance
    between all pooled points (the median heuristic).
    """
    a, b = _points(x, "x"), _points(y, "y")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {a.shape[1]} and {b.shape[1]}")
    if bandwidth is None:
        pooled = np.concatenate([a, b])
        bandwidth = float(np.median(cdist(pooled, pooled)))
    if bandwidth <= 0:
        raise ValueError(f"bandwidth must be positive, got {bandwidth}")

    def kernel(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        return np.exp(-cdist(p, q, "sqeuclidean") / (2 * bandwidth**2))

    n, m = len(a), len(b)
    kxx, kyy = kernel(a, a), kernel(b, b)
    if unbiased:
        within_x = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        within_y = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    else:
        within_x, within_y = kxx.mean(), kyy.mean()
    return float(within_x + within_y - 2 * kernel(a, b).mean())


@dataclass(frozen=True)
class QualityRatio:
    """The result of :func:`sample_quality_ratio`."""

    model_distance: float  #: D(generated, held-out)
    real_distance: float  #: D(real, held-out), two disjoint real samples
    ratio: float  #: model_distance / real_distance
    metric: str

    def __str__(self) -> str:
        return (f"{self.metric}: generated vs held-out {self.model_distance:.4f}, "
                f"real vs held-out {self.real_distance:.4f}, ratio {self.ratio:.2f}")


def sample_quality_ratio(generated: torch.Tensor | np.ndarray, held_out: torch.Tensor | np.ndarray,
                         real: torch.Tensor | np.ndarray, metric: str = "w2") -> QualityRatio:
    """:math:`D(\\text{generated}, \\text{held-out}) / D(\\text{real}, \\text{held-out})` (see the module docstring).

    ``real`` must be a real sample disjoint from ``held_out`` with as many points
    as ``generated``. ``metric`` is ``"w2"`` (:func:`wasserstein2`) or ``"mmd"``
    (the square root of the never-negative V-statistic :func:`mmd_rbf` with
    ``unbiased=False``, with one bandwidth, the held-out data's median
    distance, for both terms so that they are comparable).
    """
    if len(generated) != len(real):
        raise ValueError(f"generated and real must have the same number of points, got {len(generated)} and {len(real)}")
    if metric == "w2":
        model, baseline = wasserstein2(generated, held_out), wasserstein2(real, held_out)
    elif metric == "mmd":
        h = _points(held_out, "held_out")
        bandwidth = float(np.median(cdist(h, h)))
        model, baseline = (np.sqrt(mmd_rbf(sample, held_out, bandwidth, unbiased=False)) for sample in (generated, real))
    else:
        raise ValueError(f"metric must be 'w2' or 'mmd', got {metric!r}")
    if baseline <= 0:
        raise ValueError(f"the real-vs-held-out {metric} is {baseline:.3g}; use more points for a meaningful ratio")
    return QualityRatio(model, baseline, model / baseline, metric)

"""Randomized smoothing: a classifier with a certified L2 radius (Cohen, Rosenfeld and Kolter 2019).

Given a base classifier :math:`f` (here the digits classifier trained on noisy inputs), the
*smoothed* classifier predicts the class that :math:`f` returns most often under Gaussian noise,

.. math:: g(x) = \\arg\\max_c\\ \\mathbb P_{\\eta \\sim \\mathcal N(0, \\sigma^2 I)}\\big(f(x + \\eta) = c\\big).
   \\tag{SMOOTH}

If the top class :math:`c_A` has probability at least :math:`\\underline{p_A} > 1/2`, then
:math:`g(x + \\delta) = c_A` for every :math:`\\lVert\\delta\\rVert_2 < R` with

.. math:: R = \\sigma\\, \\Phi^{-1}(\\underline{p_A}),
   \\tag{RADIUS}

:math:`\\Phi^{-1}` the standard normal quantile (the bound of Cohen et al.'s theorem 1 with
:math:`\\overline{p_B} = 1 - \\underline{p_A}`). The probabilities are unknown, so
:func:`certify` estimates a one-sided lower confidence bound :math:`\\underline{p_A}` by Monte
Carlo with the exact Clopper-Pearson interval (:func:`clopper_pearson`), and :func:`predict`
abstains unless a binomial test separates the top two classes. Each returns the abstention
label :data:`ABSTAIN` (-1) where it cannot decide; with probability at most :math:`\\alpha`
over the noise draws, a non-abstaining answer is wrong about :math:`g`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genai_foundations.runtime import randn

ABSTAIN = -1


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided confidence interval for a binomial proportion ``k / n``.

    With :math:`a = 1 - \\text{confidence}`, the bounds are the :math:`a/2` quantile of
    :math:`\\mathrm{Beta}(k, n - k + 1)` and the :math:`1 - a/2` quantile of
    :math:`\\mathrm{Beta}(k + 1, n - k)`, with 0 for ``k = 0`` and 1 for ``k = n``.
    """
    from scipy.stats import beta

    if not (isinstance(n, int) and n > 0) or not (isinstance(k, int) and 0 <= k <= n):
        raise ValueError(f"need integers 0 <= k <= n with n > 0, got k={k!r}, n={n!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    a = 1.0 - confidence
    low = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return low, high


def lower_confidence_bound(k: int, n: int, alpha: float) -> float:
    """A one-sided ``1 - alpha`` lower bound on a binomial proportion: the lower end of the ``1 - 2 alpha`` Clopper-Pearson interval."""
    return clopper_pearson(k, n, 1.0 - 2.0 * alpha)[0]


def certified_radius(p_a_lower: float | torch.Tensor, sigma: float) -> torch.Tensor:
    """(RADIUS): ``sigma * Phi^{-1}(p_A lower)``, in float64; negative (no certificate) when ``p_A lower <= 1/2``."""
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    p = torch.as_tensor(p_a_lower, dtype=torch.float64)
    if torch.any((p < 0) | (p > 1)):
        raise ValueError("p_A lower must lie in [0, 1]")
    return sigma * torch.special.ndtri(p)


@torch.no_grad()
def noise_counts(model: nn.Module, x: torch.Tensor, sigma: float, n: int, num_classes: int,
                 batch_size: int = 1000, generator: torch.Generator | None = None) -> torch.Tensor:
    """How often the base classifier returns each class on ``n`` noisy copies ``x + N(0, sigma^2 I)`` of one input ``x``.

    ``x`` has the model's input shape without the batch dimension; returns a ``(num_classes,)``
    tensor of counts (long, on the CPU).
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    device = next(model.parameters()).device
    counts = torch.zeros(num_classes, dtype=torch.long)
    x = x.to(device)
    remaining = n
    while remaining > 0:
        b = min(batch_size, remaining)
        noisy = x.unsqueeze(0) + sigma * randn((b, *x.shape), device, generator, x.dtype)
        labels = model(noisy).argmax(dim=1).cpu()
        counts += torch.bincount(labels, minlength=num_classes)
        remaining -= b
    return counts


def predict(model: nn.Module, x: torch.Tensor, sigma: float, n: int, alpha: float, num_classes: int = 10,
            batch_size: int = 1000, generator: torch.Generator | None = None) -> int:
    """Cohen et al.'s PREDICT: the top class of ``n`` noisy votes, or :data:`ABSTAIN` unless a two-sided binomial test of the top two counts rejects equality at level ``alpha``."""
    from scipy.stats import binomtest

    counts = noise_counts(model, x, sigma, n, num_classes, batch_size, generator)
    top2 = counts.topk(2)
    n_a, n_b = int(top2.values[0]), int(top2.values[1])
    if binomtest(n_a, n_a + n_b, 0.5).pvalue > alpha:
        return ABSTAIN
    return int(top2.indices[0])


@dataclass(frozen=True)
class Certificate:
    """What :func:`certify` returns: the predicted class (or :data:`ABSTAIN`), the bound on p_A and the certified L2 radius (0 when abstaining)."""

    label: int
    p_a_lower: float
    radius: float


def certify(model: nn.Module, x: torch.Tensor, sigma: float, n0: int, n: int, alpha: float, num_classes: int = 10,
            batch_size: int = 1000, generator: torch.Generator | None = None) -> Certificate:
    """Cohen et al.'s CERTIFY: guess the top class from ``n0`` noisy votes, then bound its probability with ``n`` fresh ones.

    With ``k`` of the ``n`` votes for the guessed class, :math:`\\underline{p_A}` is the one-sided
    ``1 - alpha`` Clopper-Pearson lower bound; if it exceeds 1/2 the answer is the class with radius
    (RADIUS), otherwise :data:`ABSTAIN`. Using separate draws for selection and estimation keeps
    the bound valid.
    """
    if not 0.0 < alpha < 0.5:
        raise ValueError(f"alpha must lie in (0, 0.5), got {alpha}")
    guess = int(noise_counts(model, x, sigma, n0, num_classes, batch_size, generator).argmax())
    k = int(noise_counts(model, x, sigma, n, num_classes, batch_size, generator)[guess])
    p_lower = lower_confidence_bound(k, n, alpha)
    if p_lower <= 0.5:
        return Certificate(ABSTAIN, p_lower, 0.0)
    return Certificate(guess, p_lower, float(certified_radius(p_lower, sigma)))


def certified_accuracy(certificates: list[Certificate], labels: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """For each radius r, the share of examples certified correct at r: label right and certified radius >= r.

    (At r = 0 this is the smoothed classifier's accuracy counting abstentions as errors.)
    """
    if len(certificates) != len(labels):
        raise ValueError(f"need one certificate per label, got {len(certificates)} and {len(labels)}")
    predicted = torch.tensor([c.label for c in certificates])
    radius = torch.tensor([c.radius for c in certificates], dtype=torch.float64)
    correct = predicted == labels.cpu()
    radii = torch.as_tensor(radii, dtype=torch.float64)
    return ((radius.unsqueeze(0) >= radii.unsqueeze(1)) & correct.unsqueeze(0)).double().mean(dim=1)

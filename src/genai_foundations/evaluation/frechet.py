"""The Frechet distance between two feature sets (Heusel et al., 2017).

Fit a Gaussian to each set of feature vectors and compute the squared
2-Wasserstein (Frechet) distance between the two Gaussians:

.. math:: d^2 = \\|\\mu_1 - \\mu_2\\|^2 + \\operatorname{Tr}\\big(\\Sigma_1 + \\Sigma_2 - 2 (\\Sigma_1 \\Sigma_2)^{1/2}\\big).

With the features of an Inception network this number is the FID; the
chapters use the features of a small classifier trained on the same data
(:meth:`~genai_foundations.architectures.classifiers.DigitsClassifier.features`),
so the values are comparable only with each other, not with published FIDs.

The trace of the matrix square root is computed without forming it:
:math:`\\operatorname{Tr}(\\Sigma_1 \\Sigma_2)^{1/2} = \\sum_i \\sqrt{\\lambda_i}`, where :math:`\\lambda_i` are the
eigenvalues of the symmetric positive semi-definite matrix
:math:`\\Sigma_1^{1/2} \\Sigma_2 \\Sigma_1^{1/2}` (it is similar to :math:`\\Sigma_1 \\Sigma_2`).
"""

from __future__ import annotations

import numpy as np
import torch

from genai_foundations.runtime import eval_mode

ArrayLike = np.ndarray | torch.Tensor


def _as_features(x: ArrayLike, name: str) -> np.ndarray:
    array = x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {array.shape}")
    if array.shape[0] < 2:
        raise ValueError(f"{name} needs at least 2 samples to estimate a covariance, got {array.shape[0]}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def fit_gaussian(features: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and unbiased covariance (d, d) of an (n, d) feature set, in float64."""
    array = _as_features(features, "features")
    return array.mean(axis=0), np.cov(array, rowvar=False).reshape(array.shape[1], array.shape[1])


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix (tiny negative eigenvalues set to 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance_gaussians(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """:math:`\\|\\mu_1-\\mu_2\\|^2 + \\operatorname{Tr}(\\Sigma_1 + \\Sigma_2 - 2(\\Sigma_1\\Sigma_2)^{1/2})` for two Gaussians."""
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    d = mu1.shape[0]
    if mu2.shape != (d,) or cov1.shape != (d, d) or cov2.shape != (d, d):
        raise ValueError(f"shapes do not match: mu1 {mu1.shape}, mu2 {mu2.shape}, cov1 {cov1.shape}, cov2 {cov2.shape}")
    root1 = _psd_sqrt(cov1)
    middle = root1 @ cov2 @ root1
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    value = float(np.sum((mu1 - mu2) ** 2) + np.trace(cov1) + np.trace(cov2) - 2.0 * trace_sqrt)
    return max(value, 0.0)


def frechet_distance(features_a: ArrayLike, features_b: ArrayLike) -> float:
    """Frechet distance between Gaussians fitted to two (n, d) feature sets (same d, any n)."""
    a, b = _as_features(features_a, "features_a"), _as_features(features_b, "features_b")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"feature dimensions differ: {a.shape[1]} vs {b.shape[1]}")
    return frechet_distance_gaussians(*fit_gaussian(a), *fit_gaussian(b))


@torch.no_grad()
def extract_features(model: torch.nn.Module, images: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """``model.features(images)`` in eval mode, in batches on the model's device; returned on the CPU."""
    if not hasattr(model, "features"):
        raise TypeError(f"{type(model).__name__} has no features() method")
    device = next(model.parameters()).device
    with eval_mode(model):
        out = [model.features(images[i : i + batch_size].to(device).float()).float().cpu()
               for i in range(0, len(images), batch_size)]
    return torch.cat(out)


def classifier_frechet_distance(classifier: torch.nn.Module, images_a: torch.Tensor, images_b: torch.Tensor,
                                batch_size: int = 500) -> float:
    """Frechet distance between two image sets in a classifier's feature space (``classifier.features``)."""
    return frechet_distance(extract_features(classifier, images_a, batch_size),
                            extract_features(classifier, images_b, batch_size))


def real_vs_real_frechet(classifier: torch.nn.Module, pool: torch.Tensor, reference_features: torch.Tensor, n: int,
                         draws: int = 20, seed: int = 0) -> list[float]:
    """The real-vs-real baseline: Frechet distances between ``draws`` random sets of ``n`` images from ``pool`` and the reference.

    The distance of a finite sample is biased upwards by an amount that
    depends on ``n``, so a generated set of ``n`` images must be read against
    real sets of the same size: a perfect generator scores like these. Draw
    ``k`` uses ``torch.randperm`` seeded with ``seed + k``.
    """
    if not 2 <= n <= len(pool):
        raise ValueError(f"n must lie in 2..{len(pool)} (the pool's size), got {n}")
    if draws < 1:
        raise ValueError(f"draws must be positive, got {draws}")
    pool_features = extract_features(classifier, pool)
    return [frechet_distance(pool_features[torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed + k))[:n]],
                             reference_features) for k in range(draws)]


class MNISTFrechet:
    """Frechet distance of 28x28 images to the MNIST subset's test split, in an :class:`MNISTClassifier`'s features.

    Mirrors the 8x8 digits measurement of the DDPM chapter: the reference is
    the 1,000 test images (:func:`~genai_foundations.data.mnist.load_mnist_split`),
    and :meth:`baseline` gives the real-vs-real distances of ``n`` training
    images (random draws) to that reference, the floor a perfect generator
    reaches at that sample size. (The classifier saw the training images; the
    subset has no third, unseen set.) Use the checkpoint the course commits:
    ``MNISTFrechet(load_checkpoint("mnist-classifier"))``.
    """

    def __init__(self, classifier: torch.nn.Module):
        from genai_foundations.data.mnist import load_mnist_split

        self.classifier = classifier
        self.train_images, _ = load_mnist_split("train")
        self.test_images, self.test_labels = load_mnist_split("test")
        self.reference_features = extract_features(classifier, self.test_images)

    def __call__(self, images: torch.Tensor) -> float:
        """Frechet distance of ``images`` (N, 1, 28, 28) in [-1, 1] to the 1,000 test images."""
        if images.dim() != 4 or tuple(images.shape[1:]) != (1, 28, 28):
            raise ValueError(f"expected images of shape (N, 1, 28, 28), got {tuple(images.shape)}")
        return frechet_distance(extract_features(self.classifier, images), self.reference_features)

    def baseline(self, n: int, draws: int = 20, seed: int = 0) -> list[float]:
        """Real-vs-real distances of ``draws`` random sets of ``n`` training images (see :func:`real_vs_real_frechet`)."""
        return real_vs_real_frechet(self.classifier, self.train_images, self.reference_features, n, draws, seed)

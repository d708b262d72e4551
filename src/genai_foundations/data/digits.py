"""scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes).

The images are 8x8 with 17 grey levels (0..16). :func:`load_digits` returns
them as a float tensor of shape (N, 1, 8, 8), scaled to [-1, 1] by default
(the range diffusion models expect), with a fixed stratified train/test split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

_RANGES = ("[-1,1]", "[0,1]", "raw")


@dataclass(frozen=True)
class DigitsSplit:
    """Images (N, 1, 8, 8) and integer labels (N,) of one split."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def load_digits(split: str = "train", value_range: str = "[-1,1]", test_fraction: float = 0.2) -> DigitsSplit:
    """Load the digits as tensors.

    ``split`` is ``"train"``, ``"test"`` or ``"all"``; the train/test split is
    stratified by class and fixed (seed 0), so every chapter sees the same
    test images. ``value_range`` is ``"[-1,1]"``, ``"[0,1]"`` or ``"raw"`` (0..16).
    """
    from sklearn.datasets import load_digits as sklearn_digits
    from sklearn.model_selection import train_test_split

    if split not in ("train", "test", "all"):
        raise ValueError(f"split must be 'train', 'test' or 'all', got {split!r}")
    if value_range not in _RANGES:
        raise ValueError(f"value_range must be one of {_RANGES}, got {value_range!r}")
    bunch = sklearn_digits()
    images = bunch.images.astype(np.float32)
    labels = bunch.target.astype(np.int64)
    if split != "all":
        index = np.arange(len(labels))
        train_idx, test_idx = train_test_split(index, test_size=test_fraction, stratify=labels, random_state=0)
        chosen = np.sort(train_idx if split == "train" else test_idx)
        images, labels = images[chosen], labels[chosen]
    if value_range == "[0,1]":
        images = images / 16.0
    elif value_range == "[-1,1]":
        images = images / 8.0 - 1.0
    return DigitsSplit(torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels))

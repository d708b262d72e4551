"""A small convolutional classifier for the 8x8 digits.

The diffusion chapters use it as a measuring instrument: its penultimate
layer (:meth:`DigitsClassifier.features`) is the feature space in which the
Frechet distance between generated and real digits is computed, and its
predictions say whether a class-conditional sample shows the requested digit.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.data.digits import load_digits
from genai_foundations.runtime import eval_mode
from genai_foundations.training import batches, fit


class DigitsClassifier(nn.Module):
    """Conv(1->32) - Conv(32->64) - pool to 4x4 - Conv(64->64) - pool to 1x1 - Linear(64->feature_dim) - Linear(->10).

    Inputs are (B, 1, 8, 8) images in [-1, 1]; :meth:`features` returns the
    ``feature_dim``-dimensional representation before the last linear layer.
    """

    def __init__(self, num_classes: int = 10, feature_dim: int = 64):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.project = nn.Linear(64, feature_dim)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, feature_dim) penultimate-layer features."""
        if x.dim() != 4 or x.shape[1:] != (1, 8, 8):
            raise ValueError(f"expected digits of shape (B, 1, 8, 8), got {tuple(x.shape)}")
        return F.relu(self.project(self.conv(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.head(self.features(x))


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Predicted labels (on the CPU) for ``images``, evaluated in batches on the model's device."""
    device = next(model.parameters()).device
    with eval_mode(model):
        out = [model(images[i : i + batch_size].to(device).float()).argmax(dim=1).cpu()
               for i in range(0, len(images), batch_size)]
    return torch.cat(out)


def train_digits_classifier(device: torch.device | str = "cpu", steps: int = 600, seed: int = 0,
                            batch_size: int = 128, lr: float = 3e-3) -> tuple[DigitsClassifier, float]:
    """Train :class:`DigitsClassifier` on the digits' train split; return it (in eval mode) and its test accuracy.

    The training images get a random shift of up to one pixel (a cheap
    augmentation that makes the features less sensitive to where a digit sits).
    """
    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train, test = load_digits("train"), load_digits("test")
    model = DigitsClassifier().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    stream = batches(train.images, train.labels, batch_size=batch_size, generator=generator)

    def loss_fn(step: int) -> torch.Tensor:
        x, y = next(stream)
        shift = torch.randint(-1, 2, (2,), generator=generator).tolist()
        x = torch.roll(F.pad(x, (1, 1, 1, 1), value=-1.0), shifts=shift, dims=(2, 3))[:, :, 1:-1, 1:-1]
        return F.cross_entropy(model(x.to(device)), y.to(device))

    fit(loss_fn, optimizer, steps, desc="digits classifier", scheduler=scheduler)
    model.eval()
    accuracy = float((predict(model, test.images) == test.labels).float().mean())
    return model, accuracy


# ---------------------------------------------------------------------------------------------------------------
# The 28x28 MNIST subset: the measuring instrument of the latent-diffusion chapter (and those that follow it)
# ---------------------------------------------------------------------------------------------------------------
class MNISTClassifier(nn.Module):
    """Conv(1->32) - pool to 14x14 - Conv(32->64) - pool to 7x7 - Conv(64->64) - pool to 1x1 - Linear(64->feature_dim) - Linear(->10).

    Inputs are (B, 1, 28, 28) images in [-1, 1] (:func:`~genai_foundations.data.mnist.load_mnist_split`);
    :meth:`features` returns the ``feature_dim``-dimensional representation
    before the last linear layer, the feature space of the 28x28 Frechet
    distance (:func:`~genai_foundations.evaluation.frechet.mnist_frechet_baseline`).
    """

    def __init__(self, num_classes: int = 10, feature_dim: int = 64):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.project = nn.Linear(64, feature_dim)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, feature_dim) penultimate-layer features."""
        if x.dim() != 4 or x.shape[1:] != (1, 28, 28):
            raise ValueError(f"expected MNIST images of shape (B, 1, 28, 28), got {tuple(x.shape)}")
        return F.relu(self.project(self.conv(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (B, num_classes)."""
        return self.head(self.features(x))


def _random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Shift the whole batch by the same random offset of up to ``max_shift`` pixels (background -1 fills in)."""
    shift = torch.randint(-max_shift, max_shift + 1, (2,), generator=generator).tolist()
    pad = max_shift
    padded = F.pad(x, (pad, pad, pad, pad), value=-1.0)
    return torch.roll(padded, shifts=shift, dims=(2, 3))[:, :, pad:-pad, pad:-pad]


def train_mnist_classifier(device: torch.device | str = "cpu", steps: int = 800, seed: int = 0,
                           batch_size: int = 128, lr: float = 3e-3) -> tuple[MNISTClassifier, float]:
    """Train :class:`MNISTClassifier` on the MNIST subset's train split (4,000 images); return it and its test accuracy.

    Deterministic for a given seed and device: Adam with a cosine learning-rate
    decay, batches from a seeded generator, and a random shift of up to two
    pixels per batch (which makes the features less sensitive to where a
    digit sits).
    """
    from genai_foundations.data.mnist import load_mnist_split

    device = torch.device(device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train_images, train_labels = load_mnist_split("train")
    test_images, test_labels = load_mnist_split("test")
    model = MNISTClassifier().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    stream = batches(train_images, train_labels, batch_size=batch_size, generator=generator)

    def loss_fn(step: int) -> torch.Tensor:
        x, y = next(stream)
        x = _random_shift(x, 2, generator)
        return F.cross_entropy(model(x.to(device)), y.to(device))

    fit(loss_fn, optimizer, steps, desc="MNIST classifier", scheduler=scheduler)
    model.eval()
    accuracy = float((predict(model, test_images) == test_labels).float().mean())
    return model, accuracy


@torch.no_grad()
def mnist_classifier_metrics(model: nn.Module) -> dict[str, float]:
    """Accuracy and mean cross-entropy (nats) on the MNIST subset's fixed test split (1,000 images)."""
    from genai_foundations.data.mnist import load_mnist_split

    images, labels = load_mnist_split("test")
    device = next(model.parameters()).device
    with eval_mode(model):
        logits = torch.cat([model(images[i : i + 500].to(device)).float().cpu() for i in range(0, len(images), 500)])
    return {"test_accuracy": float((logits.argmax(dim=1) == labels).double().mean()),
            "test_loss": float(F.cross_entropy(logits.double(), labels))}


MNIST_CLASSIFIER_TRAINING = {"steps": 1500, "seed": 0, "batch_size": 128, "lr": 3e-3}


def mnist_classifier_checkpoint() -> tuple[MNISTClassifier, dict]:
    """Train the committed ``"mnist-classifier"`` checkpoint (CPU, seeded); return it and its checkpoint config."""
    model, _ = train_mnist_classifier("cpu", **MNIST_CLASSIFIER_TRAINING)
    config = {"model_kwargs": {"num_classes": model.head.out_features, "feature_dim": model.project.out_features},
              "seed": MNIST_CLASSIFIER_TRAINING["seed"],
              "training": {"function": f"{train_mnist_classifier.__module__}.{train_mnist_classifier.__name__}",
                           "kwargs": dict(MNIST_CLASSIFIER_TRAINING), "device": "cpu", "threads": 1}}
    return model, config

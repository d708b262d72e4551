"""Transfer learning from a pretrained classifier (chapter 19, foundation models).

A network pretrained on a *source* task (the 8x8 digits 0-4) is adapted to a *target* task (the digits 5-9)
in four ways, from the cheapest to the most flexible:

- **feature extraction / linear probe**: the network is frozen; features :math:`h = f_\\phi(x)` are computed
  once and a linear head :math:`W h + b` is fitted on them (logistic regression, or the closed-form ridge
  least-squares probe :math:`[W\\ b]^\\top = (H^\\top H + \\lambda I)^{-1} H^\\top Y`);
- **partial fine-tuning**: the last convolutional block, the projection and a new head train, the rest stays frozen;
- **full fine-tuning**: every parameter trains, starting from the pretrained values;
- **training from scratch**: the same architecture, freshly initialised.

The network is :class:`~genai_foundations.architectures.classifiers.DigitsClassifier`, the course's small digits CNN.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from genai_foundations.architectures.classifiers import DigitsClassifier
from genai_foundations.runtime import eval_mode
from genai_foundations.training import batches

METHODS = ("linear probe", "partial fine-tuning", "full fine-tuning", "from scratch")

# parameter-name prefixes that train in each mode of DigitsClassifier (conv.5 is the last convolution)
TRAINABLE = {
    "linear probe": ("head.",),
    "partial fine-tuning": ("conv.5.", "project.", "head."),
    "full fine-tuning": ("",),
    "from scratch": ("",),
}


def relabel(labels: torch.Tensor, classes: Sequence[int]) -> torch.Tensor:
    """Map the original labels ``classes[i]`` to ``i`` (e.g. digits 5..9 to 0..4); other labels raise."""
    table = torch.full((max(int(labels.max()), max(classes)) + 1,), -1, dtype=torch.long)
    for i, c in enumerate(classes):
        table[c] = i
    out = table[labels]
    if (out < 0).any():
        raise ValueError(f"labels outside {list(classes)}")
    return out


def select_classes(images: torch.Tensor, labels: torch.Tensor, classes: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The images whose label is in ``classes``, with labels renumbered 0..len(classes)-1."""
    keep = torch.isin(labels, torch.tensor(list(classes)))
    return images[keep], relabel(labels[keep], classes)


def balanced_subset(labels: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """Indices of ``n`` labelled examples drawn at random, as evenly over the classes as ``n`` allows.

    With ``n`` at least the number of classes every class appears (round robin over shuffled classes).
    """
    if n < 1 or n > len(labels):
        raise ValueError(f"n must be in 1..{len(labels)}, got {n}")
    classes = labels.unique()
    pools = [torch.nonzero(labels == c).flatten() for c in classes]
    pools = [p[torch.randperm(len(p), generator=generator)] for p in pools]
    order = torch.randperm(len(classes), generator=generator).tolist()
    chosen, depth = [], 0
    while len(chosen) < n:
        for k in order:
            if depth < len(pools[k]) and len(chosen) < n:
                chosen.append(int(pools[k][depth]))
        depth += 1
    return torch.tensor(chosen, dtype=torch.long)


@torch.no_grad()
def extract_features(model: DigitsClassifier, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Feature extraction: the frozen network's penultimate features :math:`h = f_\\phi(x)`, shape (N, feature_dim)."""
    device = next(model.parameters()).device
    with eval_mode(model):
        out = [model.features(images[i:i + batch_size].to(device).float()) for i in range(0, len(images), batch_size)]
    return torch.cat(out)


def freeze_except(model: nn.Module, trainable: Iterable[str]) -> nn.Module:
    """Set ``requires_grad`` to True exactly for the parameters whose name starts with one of ``trainable``.

    Returns the same model (changed in place). An optimizer given only the trainable parameters then
    leaves the frozen ones untouched, and no gradient is computed for them.
    """
    prefixes = tuple(trainable)
    names = [name for name, _ in model.named_parameters()]
    for prefix in prefixes:
        if prefix and not any(name.startswith(prefix) for name in names):
            raise ValueError(f"no parameter name starts with {prefix!r}; names are {names}")
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(prefixes))
    return model


def transfer_model(pretrained: DigitsClassifier | None, method: str, num_classes: int,
                   seed: int = 0) -> DigitsClassifier:
    """A copy of ``pretrained`` with a new ``num_classes`` head and the parameters of ``method`` trainable.

    ``method`` is one of :data:`METHODS`; ``"from scratch"`` ignores ``pretrained`` and initialises a new network
    (seeded by ``seed``, as is the new head).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    torch.manual_seed(seed)
    if method == "from scratch":
        device = next(pretrained.parameters()).device if pretrained is not None else torch.device("cpu")
        model = DigitsClassifier(num_classes=num_classes).to(device)
    elif pretrained is None:
        raise ValueError(f"{method!r} needs a pretrained model")
    else:
        model = copy.deepcopy(pretrained)
        model.head = nn.Linear(model.head.in_features, num_classes).to(next(pretrained.parameters()).device)
    return freeze_except(model, TRAINABLE[method])


def trainable_fraction(model: nn.Module) -> float:
    """The fraction of the model's parameters (counted by element) that have ``requires_grad``."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad) / total


def train_classifier(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, steps: int, *,
                     lr: float = 3e-3, batch_size: int = 64, generator: torch.Generator | None = None) -> nn.Module:
    """Minimise the cross-entropy of ``model`` on (images, labels) with Adam, over the trainable parameters only.

    Mini-batches of ``min(batch_size, N)`` examples; runs on the model's device. Returns the model in eval mode.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    device = params[0].device
    optimizer = torch.optim.Adam(params, lr=lr)
    stream = batches(images, labels, batch_size=min(batch_size, len(labels)), generator=generator)
    model.train()
    for _ in range(steps):
        x, y = next(stream)
        loss = F.cross_entropy(model(x.to(device).float()), y.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


def fit_logistic_probe(features: torch.Tensor, labels: torch.Tensor, num_classes: int, *,
                       weight_decay: float = 1e-3, max_iter: int = 200) -> nn.Linear:
    """Multinomial logistic regression on frozen features: minimise
    :math:`\\frac1N\\sum_i -\\log \\mathrm{softmax}(W h_i + b)_{y_i} + \\frac{\\lambda}{2}\\|W\\|^2` with L-BFGS.

    This is scikit-learn's ``LogisticRegression(C=1/(N*weight_decay))`` (multinomial, the bias not penalised).
    Returns an ``nn.Linear`` on the features' device and dtype.
    """
    if features.dim() != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"expected features (N, d) and labels (N,), got {tuple(features.shape)}, {tuple(labels.shape)}")
    h = features.detach()
    head = nn.Linear(h.shape[1], num_classes).to(device=h.device, dtype=h.dtype)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    optimizer = torch.optim.LBFGS(head.parameters(), lr=1.0, max_iter=max_iter, tolerance_grad=1e-9,
                                  tolerance_change=1e-12, history_size=20, line_search_fn="strong_wolfe")
    y = labels.to(h.device)

    def closure():
        optimizer.zero_grad()
        loss = F.cross_entropy(head(h), y) + 0.5 * weight_decay * head.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return head.requires_grad_(False)


def least_squares_probe(features: torch.Tensor, labels: torch.Tensor, num_classes: int,
                        ridge: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
    """The closed-form ridge probe: regress one-hot targets :math:`Y` on :math:`[H\\ 1]`.

    :math:`\\begin{bmatrix}W^\\top\\\\ b^\\top\\end{bmatrix} = (\\tilde H^\\top \\tilde H + \\lambda D)^{-1}\\tilde H^\\top Y`
    with :math:`\\tilde H = [H\\ 1]` and :math:`D = \\mathrm{diag}(1, \\dots, 1, 0)` (the bias is not penalised).
    Returns ``W`` (num_classes, d) and ``b`` (num_classes,); predict with ``argmax(h @ W.T + b)``.
    """
    if features.dim() != 2 or labels.shape != (features.shape[0],):
        raise ValueError(f"expected features (N, d) and labels (N,), got {tuple(features.shape)}, {tuple(labels.shape)}")
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    h = torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype, device=features.device)], dim=1)
    y = F.one_hot(labels.to(features.device), num_classes).to(features.dtype)
    penalty = torch.ones(h.shape[1], dtype=features.dtype, device=features.device)
    penalty[-1] = 0
    solution = torch.linalg.solve(h.T @ h + ridge * torch.diag(penalty), h.T @ y)
    return solution[:-1].T.contiguous(), solution[-1].clone()


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """The fraction of ``images`` the model classifies as ``labels``."""
    device = next(model.parameters()).device
    with eval_mode(model):
        predictions = model(images.to(device).float()).argmax(dim=1).cpu()
    return float((predictions == labels.cpu()).float().mean())


def pretrain_source(train_images: torch.Tensor, train_labels: torch.Tensor, num_classes: int, *, steps: int = 400,
                    seed: int = 0, device: torch.device | str = "cpu", lr: float = 3e-3) -> DigitsClassifier:
    """Pretrain a :class:`DigitsClassifier` with ``num_classes`` outputs on the source task (all parameters train)."""
    torch.manual_seed(seed)
    model = DigitsClassifier(num_classes=num_classes).to(device)
    return train_classifier(model, train_images, train_labels, steps, lr=lr,
                            generator=torch.Generator().manual_seed(seed))


def adapt(pretrained: DigitsClassifier, method: str, images: torch.Tensor, labels: torch.Tensor,
          num_classes: int, *, steps: int, seed: int = 0, lr: float = 3e-3) -> nn.Module:
    """Adapt ``pretrained`` to the labelled target examples with ``method`` and return the resulting classifier.

    The linear probe fits :func:`fit_logistic_probe` on extracted features (no gradient step through the network);
    the other methods run :func:`train_classifier` for ``steps`` Adam steps.
    """
    model = transfer_model(pretrained, method, num_classes, seed=seed)
    if method == "linear probe":
        head = fit_logistic_probe(extract_features(model, images), labels, num_classes)
        model.head.load_state_dict(head.state_dict())
        return model.eval()
    return train_classifier(model, images, labels, steps, lr=lr, generator=torch.Generator().manual_seed(seed))


def labelled_sweep(pretrained: DigitsClassifier, train: tuple[torch.Tensor, torch.Tensor],
                   test: tuple[torch.Tensor, torch.Tensor], sizes: Sequence[int], seeds: Sequence[int], *,
                   steps: int, methods: Sequence[str] = METHODS) -> dict[str, torch.Tensor]:
    """Test accuracy of every method for every number of labelled examples and seed.

    Returns ``{method: tensor (len(sizes), len(seeds))}``; for each (size, seed) all methods see the same
    :func:`balanced_subset` of the target training set.
    """
    num_classes = int(train[1].max()) + 1
    out = {m: torch.zeros(len(sizes), len(seeds)) for m in methods}
    for i, n in enumerate(sizes):
        for j, seed in enumerate(seeds):
            index = balanced_subset(train[1], n, torch.Generator().manual_seed(1000 * seed + n))
            x, y = train[0][index], train[1][index]
            for m in methods:
                model = adapt(pretrained, m, x, y, num_classes, steps=steps, seed=seed)
                out[m][i, j] = accuracy(model, *test)
    return out

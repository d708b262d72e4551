"""A gradient-guided character-flip attack on a character-level classifier, in the spirit of HotFlip.

Text is discrete, so an attacker cannot add a small :math:`\\delta` to it. HotFlip (Ebrahimi et al.
2018) represents the input as one-hot vectors :math:`x_{i} \\in \\{0, 1\\}^V`, one per position, and
uses the gradient of the loss with respect to them to *rank* the possible character flips: changing
position :math:`i` from character :math:`a` to :math:`b` changes the loss by, to first order,

.. math:: \\Delta\\mathcal L_{i, a \\to b} \\approx \\frac{\\partial \\mathcal L}{\\partial x_{i, b}} - \\frac{\\partial \\mathcal L}{\\partial x_{i, a}}
   = (e_b - e_a)^\\top \\frac{\\partial \\mathcal L}{\\partial h_i},
   \\tag{FLIP}

where :math:`h_i = E^\\top x_i` is the embedding of position :math:`i` and :math:`e_c` the row of
the embedding matrix :math:`E` for character :math:`c`. One backward pass scores all
:math:`L (V - 1)` flips. :func:`hotflip` applies the best-scoring flip, recomputes the gradient,
and repeats (a greedy search: the paper also uses a beam) until the prediction changes or the
budget of flips is spent.

:class:`CharCNNClassifier` is the small model it is demonstrated on; any model with an
``embedding`` (``nn.Embedding``) and a ``forward_embedded(h)`` method works.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


class CharCNNClassifier(nn.Module):
    """Embedding(V, d) - Conv1d(d, c, 5) - ReLU - Conv1d(c, c, 5) - ReLU - max over positions - Linear(c, K).

    ``forward(ids)`` takes ``(B, L)`` character ids and returns ``(B, K)`` logits;
    ``forward_embedded(h)`` takes the ``(B, L, d)`` embeddings instead (what the attack differentiates).
    """

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 24, channels: int = 96):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.conv = nn.Sequential(nn.Conv1d(embed_dim, channels, 5, padding=2), nn.ReLU(),
                                  nn.Conv1d(channels, channels, 5, padding=2), nn.ReLU())
        self.head = nn.Linear(channels, num_classes)

    def forward_embedded(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(h.transpose(1, 2)).amax(dim=2))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2:
            raise ValueError(f"expected (B, L) character ids, got shape {tuple(ids.shape)}")
        return self.forward_embedded(self.embedding(ids))


def train_char_classifier(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, *, steps: int = 600,
                          batch_size: int = 64, lr: float = 3e-3, seed: int = 0):
    """Train ``model`` with Adam (cosine decay) on the cross-entropy of random mini-batches; returns the loss history."""
    from genai_foundations.training import batches, fit

    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(seed)
    stream = batches(ids, labels, batch_size=batch_size, generator=generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)

    def loss_fn(step: int) -> torch.Tensor:
        x, y = (t.to(device) for t in next(stream))
        return F.cross_entropy(model(x), y)

    model.train()
    history = fit(loss_fn, optimizer, steps, desc="character classifier", scheduler=scheduler)
    model.eval()
    return history


def flip_gains(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(FLIP) for every position and character: the first-order change of each example's loss, shape ``(B, L, V)``.

    Entry ``[b, i, c]`` estimates how much example ``b``'s cross-entropy rises when position ``i``
    becomes character ``c``; it is 0 for the character already there.
    """
    embedding: nn.Embedding = model.embedding
    h = embedding(ids).detach().requires_grad_(True)
    loss = F.cross_entropy(model.forward_embedded(h), labels, reduction="sum")
    (grad_h,) = torch.autograd.grad(loss, h)                                 # (B, L, d)
    grad_onehot = grad_h @ embedding.weight.detach().T                       # (B, L, V) = dL / dx_{i, c}
    return grad_onehot - grad_onehot.gather(2, ids.unsqueeze(2))


@dataclass(frozen=True)
class FlipAttack:
    """The attacked ids ``(B, L)``, the flips used per example ``(B,)`` and whether the prediction changed ``(B,)``."""

    ids: torch.Tensor
    flips: torch.Tensor
    success: torch.Tensor


def _allowed_mask(vocab_size: int, allowed: torch.Tensor | None, device) -> torch.Tensor:
    mask = torch.zeros(vocab_size, dtype=torch.bool, device=device)
    if allowed is None:
        mask[:] = True
    else:
        mask[allowed.to(device)] = True
    return mask


def hotflip(model: nn.Module, ids: torch.Tensor, labels: torch.Tensor, max_flips: int,
            allowed: torch.Tensor | None = None) -> FlipAttack:
    """Greedy gradient-guided flips: up to ``max_flips`` per example, each the best by (FLIP), until the prediction changes.

    ``allowed`` (optional, character ids) restricts both the positions that may change (those holding
    an allowed character) and the characters they may become, e.g. letters only, so that the result
    reads like a typo. A position is flipped at most once. Examples already misclassified are left
    alone (0 flips, success).
    """
    if max_flips < 0:
        raise ValueError(f"max_flips must be non-negative, got {max_flips}")
    if ids.dim() != 2 or labels.shape != ids.shape[:1]:
        raise ValueError(f"expected ids (B, L) and labels (B,), got {tuple(ids.shape)} and {tuple(labels.shape)}")
    was_training = model.training
    model.eval()
    vocab = model.embedding.num_embeddings
    chars = _allowed_mask(vocab, allowed, ids.device)
    ids = ids.clone()
    flipped = torch.zeros_like(ids, dtype=torch.bool)
    flips = torch.zeros(len(ids), dtype=torch.long, device=ids.device)
    try:
        with torch.no_grad():
            done = model(ids).argmax(dim=1) != labels
        for _ in range(max_flips):
            if bool(done.all()):
                break
            gains = flip_gains(model, ids, labels)
            blocked = ~chars.view(1, 1, -1) | (~chars[ids] | flipped).unsqueeze(2)
            gains = gains.masked_fill(blocked, float("-inf"))
            gains.scatter_(2, ids.unsqueeze(2), float("-inf"))                  # a flip must change the character
            best = gains.flatten(1).argmax(dim=1)
            position, char = best // vocab, best % vocab
            active = ~done & torch.isfinite(gains.flatten(1).max(dim=1).values)
            rows = torch.nonzero(active).squeeze(1)
            ids[rows, position[rows]] = char[rows]
            flipped[rows, position[rows]] = True
            flips[rows] += 1
            with torch.no_grad():
                done = done | (model(ids).argmax(dim=1) != labels)
    finally:
        model.train(was_training)
    return FlipAttack(ids, flips, done)


def random_flips(ids: torch.Tensor, n_flips: int, vocab_size: int, allowed: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
    """The baseline of an attacker without gradients: ``n_flips`` distinct random positions changed to random other characters.

    Positions and replacement characters are restricted by ``allowed`` as in :func:`hotflip`; an
    example with fewer eligible positions gets them all flipped.
    """
    chars = _allowed_mask(vocab_size, allowed, "cpu")
    pool = torch.nonzero(chars).squeeze(1)
    out = ids.clone().cpu()
    for b in range(len(out)):
        candidates = torch.nonzero(chars[out[b]]).squeeze(1)
        chosen = candidates[torch.randperm(len(candidates), generator=generator)[:n_flips]]
        for i in chosen.tolist():
            options = pool[pool != out[b, i]]
            out[b, i] = options[torch.randint(len(options), (1,), generator=generator)]
    return out.to(ids.device)

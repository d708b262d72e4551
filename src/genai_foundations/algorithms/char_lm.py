"""Training and scoring a character language model on a 1-D stream of token ids.

A character model :math:`p_\\theta(x_t \\mid x_{<t})` is trained by minimising
the next-character cross-entropy, the negative log-likelihood of the chain rule

.. math:: \\mathcal{L}(\\theta) = -\\frac{1}{n} \\sum_{t=1}^{n} \\log p_\\theta(x_t \\mid x_{<t}),

averaged over random windows of the training text, and it is scored by the
same quantity on the validation text (nats per character; divide by
:math:`\\ln 2` for bits per character). The book's corpus and split are
:func:`genai_foundations.data.python_docs.python_docs_split`.

Any model with a ``loss(inputs, targets)`` method that returns the mean
cross-entropy (the GPT of :mod:`genai_foundations.architectures.gpt`) can be
trained and scored here; other models pass ``loss_fn`` instead.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from genai_foundations.data.characters import window_batches
from genai_foundations.training import History, fit

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _loss_of(model: nn.Module, loss_fn: LossFn | None) -> LossFn:
    if loss_fn is not None:
        return loss_fn
    if not hasattr(model, "loss"):
        raise TypeError("the model has no loss(inputs, targets) method: pass loss_fn=")
    return model.loss


@torch.no_grad()
def validation_nats(model: nn.Module, ids: torch.Tensor, window: int, *, batch_size: int = 64,
                    loss_fn: LossFn | None = None) -> float:
    """Mean next-character cross-entropy (nats per character) over consecutive windows of ``ids``.

    ``ids`` (1-D, ``torch.long``) is cut into ``len(ids) // window`` windows of
    ``window`` inputs, each predicting the next ``window`` characters; each
    prediction sees only the context inside its window (the first character of
    a window sees none), which is how a model of context ``window`` is used.
    """
    if ids.dim() != 1 or len(ids) < window + 1:
        raise ValueError(f"ids must be 1-D with more than window={window} entries, got shape {tuple(ids.shape)}")
    loss_of = _loss_of(model, loss_fn)
    device = next(model.parameters()).device
    usable = (len(ids) - 1) // window * window
    x = ids[:usable].reshape(-1, window)
    y = ids[1:usable + 1].reshape(-1, window)
    was_training = model.training
    model.eval()
    total = 0.0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size].to(device), y[i:i + batch_size].to(device)
        total += float(loss_of(xb, yb)) * len(xb)
    model.train(was_training)
    return total / len(x)


@dataclass
class TrainingRun:
    """What :func:`train_char_model` did: the loss history, the steps taken and the seconds they took."""

    history: History
    steps: int
    seconds: float


def train_char_model(model: nn.Module, train_ids: torch.Tensor, *, steps: int, context: int, batch_size: int,
                     lr: float, seed: int = 0, weight_decay: float = 0.01, warmup: float = 0.1,
                     grad_clip: float | None = 1.0, loss_fn: LossFn | None = None,
                     desc: str = "character model") -> TrainingRun:
    """Train ``model`` on random windows of ``train_ids`` with AdamW and a one-cycle learning rate.

    Each step draws ``batch_size`` windows of ``context + 1`` characters
    (inputs and next-character targets), computes the mean cross-entropy and
    takes one AdamW step; the learning rate rises to ``lr`` over the first
    ``warmup`` share of the steps and anneals to near zero by the last one.
    """
    if train_ids.dim() != 1:
        raise ValueError(f"train_ids must be a 1-D tensor of token ids, got shape {tuple(train_ids.shape)}")
    loss_of = _loss_of(model, loss_fn)
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=warmup)
    stream = window_batches(train_ids.to(device), context, batch_size,
                            generator=torch.Generator().manual_seed(seed))
    model.train()
    start = time.perf_counter()
    history = fit(lambda step: loss_of(*next(stream)), optimizer, steps, desc=desc, grad_clip=grad_clip,
                  scheduler=schedule)
    return TrainingRun(history, steps, time.perf_counter() - start)


def nats_to_bits(nats: float) -> float:
    """Nats per character to bits per character: divide by :math:`\\ln 2`."""
    return nats / math.log(2)

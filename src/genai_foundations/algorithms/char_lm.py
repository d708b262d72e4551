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

from genai_foundations.architectures.gpt import GPT, GPTConfig
from genai_foundations.data.characters import window_batches
from genai_foundations.training import History, Progress, fit

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
                     desc: str = "character model", max_seconds: float | None = None) -> TrainingRun:
    """Train ``model`` on random windows of ``train_ids`` with AdamW and a one-cycle learning rate.

    Each step draws ``batch_size`` windows of ``context + 1`` characters
    (inputs and next-character targets), computes the mean cross-entropy and
    takes one AdamW step; the learning rate rises to ``lr`` over the first
    ``warmup`` share of the steps and anneals to near zero by the last one.

    With ``max_seconds``, training is a wall-clock budget: the schedule's
    progress is the larger of the share of ``steps`` done and the share of
    ``max_seconds`` spent, and training stops when either reaches 1, so the
    learning rate anneals fully on a slow machine too (``TrainingRun.steps``
    says how many steps ran).
    """
    if train_ids.dim() != 1:
        raise ValueError(f"train_ids must be a 1-D tensor of token ids, got shape {tuple(train_ids.shape)}")
    if steps < 1 or context < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"steps, context, batch_size and lr must be positive, got {steps}, {context}, {batch_size}, {lr}")
    if max_seconds is not None:
        if max_seconds <= 0:
            raise ValueError(f"max_seconds must be positive, got {max_seconds}")
        return _train_for_seconds(model, train_ids, steps=steps, context=context, batch_size=batch_size, lr=lr,
                                  seed=seed, weight_decay=weight_decay, warmup=warmup, grad_clip=grad_clip,
                                  loss_fn=loss_fn, desc=desc, max_seconds=max_seconds)
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


def one_cycle_factor(progress: float, warmup: float = 0.1, start: float = 1 / 25, end: float = 1e-4) -> float:
    """The one-cycle learning-rate multiplier at ``progress`` in [0, 1] (as ``OneCycleLR`` with cosine annealing).

    Rises from ``start`` to 1 on a half cosine over the first ``warmup`` share,
    then falls on a half cosine to ``start * end``.
    """
    progress = min(max(progress, 0.0), 1.0)
    low = start * end
    if warmup > 0 and progress < warmup:
        return start + (1 - start) * (1 - math.cos(math.pi * progress / warmup)) / 2
    rest = (progress - warmup) / max(1e-12, 1 - warmup)
    return low + (1 - low) * (1 + math.cos(math.pi * rest)) / 2


def _train_for_seconds(model: nn.Module, train_ids: torch.Tensor, *, steps: int, context: int, batch_size: int,
                       lr: float, seed: int, weight_decay: float, warmup: float, grad_clip: float | None,
                       loss_fn: LossFn | None, desc: str, max_seconds: float) -> TrainingRun:
    loss_of = _loss_of(model, loss_fn)
    device = next(model.parameters()).device
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr * one_cycle_factor(0.0, warmup), weight_decay=weight_decay)
    stream = window_batches(train_ids.to(device), context, batch_size,
                            generator=torch.Generator().manual_seed(seed))
    model.train()
    history = History()
    start = time.perf_counter()
    done = 0
    with Progress(steps, desc, unit="step") as bar:
        while True:
            progress = max(done / steps, (time.perf_counter() - start) / max_seconds)
            if progress >= 1.0:
                break
            for group in optimizer.param_groups:
                group["lr"] = lr * one_cycle_factor(progress, warmup)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_of(*next(stream))
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"loss became {value} at step {done}; lower the learning rate")
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            history.losses.append(value)
            done += 1
            bar.update(loss=history.final(min(50, done)))
    return TrainingRun(history, done, time.perf_counter() - start)


class CharGPT(GPT):
    """Chapter 16's :class:`~genai_foundations.architectures.gpt.GPT` (GPT-2 layout) built from plain numbers.

    The same model; only the constructor differs, so that a checkpoint's JSON
    record rebuilds it (``CharGPT(**model_kwargs)``).
    """

    def __init__(self, vocab_size: int, n_positions: int, d_model: int, n_heads: int, n_layers: int,
                 d_ff: int) -> None:
        super().__init__(GPTConfig.gpt2(vocab_size, n_positions, d_model, n_heads, n_layers, d_ff))
        self.kwargs = dict(vocab_size=vocab_size, n_positions=n_positions, d_model=d_model, n_heads=n_heads,
                           n_layers=n_layers, d_ff=d_ff)


@dataclass(frozen=True)
class GPTRecipe:
    """How the chapter-7 GPT is built and trained (a :class:`~genai_foundations.architectures.gpt.GPT`).

    The model: width ``d_model``, ``n_heads`` heads, ``n_layers`` blocks,
    feed-forward width ``d_ff``, context ``context`` characters (GPT-2
    layout). The training: ``steps`` AdamW steps of ``batch_size`` windows,
    a one-cycle learning rate peaking at ``lr`` after a ``warmup`` share.
    """

    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 512
    context: int = 128
    batch_size: int = 32
    lr: float = 6e-3
    steps: int = 1200
    warmup: float = 0.05
    weight_decay: float = 0.01
    grad_clip: float = 1.0

    def config(self, vocab_size: int) -> GPTConfig:
        """The :class:`~genai_foundations.architectures.gpt.GPTConfig` of this recipe."""
        return GPTConfig.gpt2(vocab_size=vocab_size, n_positions=self.context, d_model=self.d_model,
                              n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff)

    def model_kwargs(self, vocab_size: int) -> dict[str, int]:
        """The keyword arguments of :class:`CharGPT` for this recipe."""
        return dict(vocab_size=vocab_size, n_positions=self.context, d_model=self.d_model, n_heads=self.n_heads,
                    n_layers=self.n_layers, d_ff=self.d_ff)


#: The recipe that meets the chapter's target (<= 1.42 nats/char within 2 minutes on 2 CPU cores).
GPT_RECIPE = GPTRecipe()


def train_recipe_gpt(split, recipe: GPTRecipe = GPT_RECIPE, *, seed: int = 0, steps: int | None = None,
                     max_seconds: float | None = None, device: torch.device | str = "cpu"):
    """Build the GPT of ``recipe`` (seeded) and train it on ``split.train``; returns ``(model, TrainingRun)``.

    ``steps`` overrides the recipe's step count (QUICK runs); ``max_seconds``
    makes it a wall-clock budget (see :func:`train_char_model`).
    """
    torch.manual_seed(seed)
    model = CharGPT(**recipe.model_kwargs(split.vocab_size)).to(device)
    run = train_char_model(model, split.train, steps=steps or recipe.steps, context=recipe.context,
                           batch_size=recipe.batch_size, lr=recipe.lr, seed=seed, weight_decay=recipe.weight_decay,
                           warmup=recipe.warmup, grad_clip=recipe.grad_clip, desc="GPT (chapter 7 recipe)",
                           max_seconds=max_seconds)
    model.eval()
    return model, run


#: Validation windows of the chapter-7 GPT's metric: its context.
DOCS_GPT_EVAL_WINDOW = GPT_RECIPE.context


def docs_gpt_checkpoint() -> tuple[CharGPT, dict]:
    """``(model, config)`` of the shared checkpoint ``docs-gpt``: :data:`GPT_RECIPE` on the book's split, seed 0, CPU."""
    from dataclasses import asdict

    from genai_foundations.data.python_docs import python_docs_split

    split = python_docs_split()
    model, _ = train_recipe_gpt(split, GPT_RECIPE, seed=0)
    config = {"model_kwargs": GPT_RECIPE.model_kwargs(split.vocab_size), "seed": 0,
              "training": {"function": f"{__name__}.train_recipe_gpt", "recipe": asdict(GPT_RECIPE),
                           "data": "data.python_docs.python_docs_split().train", "device": "cpu", "threads": 1}}
    return model, config


def docs_gpt_metrics(model: nn.Module) -> dict[str, float]:
    """Validation nats and bits per character on the book's split (windows of the recipe's context, 128)."""
    from genai_foundations.data.python_docs import python_docs_split

    nats = validation_nats(model, python_docs_split().val, DOCS_GPT_EVAL_WINDOW)
    return {"val_nats_per_char": nats, "val_bits_per_char": nats_to_bits(nats)}

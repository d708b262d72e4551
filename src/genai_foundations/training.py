"""A small training-loop helper shared by the chapters.

:func:`fit` runs ``steps`` optimisation steps of a user-supplied loss
function, shows a progress bar and returns a :class:`History`. Chapters keep
the interesting part (how the loss is computed) in plain sight and leave the
bookkeeping here. :func:`save_checkpoint` / :func:`load_checkpoint` store a
model (and optionally its optimiser) with a few extra fields.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch

PROGRESS_ENV_VAR = "GENAI_PROGRESS"


def _use_widgets() -> bool:
    """Widgets in an interactive Jupyter front end; plain text in a book build or a terminal.

    ``GENAI_PROGRESS=text`` (set by the Makefile for builds and tests) forces
    text; ``GENAI_PROGRESS=widget`` forces the JupyterLab widget.
    """
    mode = os.environ.get(PROGRESS_ENV_VAR, "auto").lower()
    if mode in ("text", "widget"):
        return mode == "widget"
    try:
        from IPython import get_ipython

        shell = get_ipython()
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class Progress:
    """A progress bar that renders well both in JupyterLab and in a built book.

    In JupyterLab it is tqdm's widget. Elsewhere (the book build, papermill,
    nbval, a terminal) it prints nothing while running and one tqdm-style
    summary line at the end, on stdout, so that executed notebooks store a
    single clean line instead of hundreds of carriage-return updates.
    """

    def __init__(self, total: int, desc: str = "", unit: str = "it"):
        self.total, self.desc, self.unit = total, desc, unit
        self.postfix: dict[str, str] = {}
        self._n = 0
        self._tqdm = None
        if _use_widgets():
            from tqdm.auto import tqdm as auto_tqdm

            self._tqdm = auto_tqdm(total=total, desc=desc, unit=unit)
        self._t0 = time.perf_counter()

    def update(self, n: int = 1, **postfix: float) -> None:
        self._n += n
        if postfix:
            self.postfix = {k: (f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in postfix.items()}
        if self._tqdm is not None:
            if postfix:
                self._tqdm.set_postfix(self.postfix, refresh=False)
            self._tqdm.update(n)

    def close(self) -> None:
        from tqdm import tqdm

        if self._tqdm is not None:
            self._tqdm.close()
            return
        elapsed = time.perf_counter() - self._t0
        postfix = ", ".join(f"{k}={v}" for k, v in self.postfix.items()) or None
        line = tqdm.format_meter(self._n, self.total, elapsed, ncols=100, prefix=self.desc, unit=self.unit,
                                 postfix=postfix, ascii=True)
        print(line, file=sys.stdout, flush=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress(iterable: Iterable, total: int | None = None, desc: str = "") -> Iterator:
    """Wrap an iterable in a :class:`Progress` bar."""
    if total is None:
        total = len(iterable)  # type: ignore[arg-type]
    with Progress(total, desc) as bar:
        for item in iterable:
            yield item
            bar.update()


@dataclass
class History:
    """Loss per step (and any extra metrics recorded every ``log_every`` steps)."""

    losses: list[float] = field(default_factory=list)
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def record(self, name: str, step: int, value: float) -> None:
        self.metrics.setdefault(name, []).append((step, float(value)))

    def smoothed(self, window: int = 50) -> list[float]:
        """Running mean of the loss over the last ``window`` steps."""
        out, total = [], 0.0
        for i, value in enumerate(self.losses):
            total += value
            if i >= window:
                total -= self.losses[i - window]
            out.append(total / min(i + 1, window))
        return out

    def final(self, window: int = 50) -> float:
        """Mean loss over the last ``window`` steps."""
        if not self.losses:
            raise ValueError("the history is empty")
        tail = self.losses[-window:]
        return sum(tail) / len(tail)


def fit(
    loss_fn: Callable[[int], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    steps: int,
    *,
    desc: str = "training",
    grad_clip: float | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    callback: Callable[[int, History], None] | None = None,
    callback_every: int = 0,
) -> History:
    """Run ``steps`` optimisation steps and return the loss history.

    ``loss_fn(step)`` draws its own batch and returns a scalar loss; ``fit``
    zeroes the gradients, back-propagates, optionally clips the global
    gradient norm to ``grad_clip``, steps the optimiser (and scheduler), and
    records the loss. A non-finite loss stops training with an error that
    names the step, rather than silently producing NaN samples later.
    ``callback(step, history)`` runs every ``callback_every`` steps.
    """
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    history = History()
    params = [p for group in optimizer.param_groups for p in group["params"]]
    with Progress(steps, desc, unit="step") as bar:
        for step in range(steps):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(step)
            if loss.dim() != 0:
                raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(f"loss became {value} at step {step}; lower the learning rate")
            loss.backward()
            if grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            history.losses.append(value)
            if callback is not None and callback_every and (step + 1) % callback_every == 0:
                callback(step + 1, history)
            bar.update(loss=history.final(min(50, step + 1)))
    return history


def batches(*tensors: torch.Tensor, batch_size: int, generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
    """An endless stream of random mini-batches (sampled without replacement within an epoch)."""
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"all tensors must have the same length, got {[len(t) for t in tensors]}")
    if not 0 < batch_size:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    while True:
        order = torch.randperm(n, generator=generator)
        for start in range(0, n - min(batch_size, n) + 1, min(batch_size, n)):
            index = order[start : start + batch_size]
            yield tuple(t[index.to(t.device)] for t in tensors)


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None, **extra) -> Path:
    """Save a model's (and optimiser's) state plus ``extra`` fields; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": model.state_dict(), "extra": extra}
    if optimizer is not None:
        state["optimizer"] = optimizer.state_dict()
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: a crash never leaves half a checkpoint
    return path


def load_checkpoint(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    map_location: str | torch.device | None = None) -> dict:
    """Load what :func:`save_checkpoint` wrote into ``model`` (and ``optimizer``); returns the extra fields."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        if "optimizer" not in state:
            raise KeyError(f"checkpoint {path} holds no optimizer state")
        optimizer.load_state_dict(state["optimizer"])
    return state["extra"]

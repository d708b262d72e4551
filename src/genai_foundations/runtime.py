"""Run-time settings shared by every notebook: device, seeding and QUICK mode.

A chapter notebook starts with a ``parameters`` cell (``QUICK``, ``DEVICE``,
``SEED``) and then calls :func:`setup`, which resolves them into a
:class:`RunConfig`. QUICK mode shrinks data and step counts so that the test
suite and the QUICK book build execute every chapter in seconds; it never
skips a code path.

Environment variables (documented in the README):

``GENAI_QUICK``
    ``1``/``true``/``yes`` turns QUICK mode on even when the notebook says
    ``QUICK = False`` (used by ``make test`` and ``make book-quick``).
``GENAI_DEVICE``
    Overrides ``DEVICE = "auto"`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
"""

from __future__ import annotations

import contextlib
import os
import random
from dataclasses import dataclass
from typing import Iterator, TypeVar

import numpy as np
import torch

QUICK_ENV_VAR = "GENAI_QUICK"
DEVICE_ENV_VAR = "GENAI_DEVICE"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


def is_quick(quick: bool | None = None) -> bool:
    """Return True when QUICK mode is on.

    QUICK mode is on when the notebook parameter ``quick`` is true *or* the
    environment variable ``GENAI_QUICK`` is set to a true value, so that a test
    run can force every notebook into QUICK mode without editing it.
    """
    value = os.environ.get(QUICK_ENV_VAR, "").strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(f"{QUICK_ENV_VAR} must be one of {sorted(_TRUE | _FALSE)}, got {value!r}")
    return bool(quick) or value in _TRUE


def get_device(preference: str | torch.device = "auto") -> torch.device:
    """Pick the device to compute on: CUDA, then Apple's MPS, then the CPU.

    ``preference="auto"`` honours the ``GENAI_DEVICE`` environment variable
    first. An explicit device that is not available raises a ``RuntimeError``
    that says so, instead of failing later inside a kernel.
    """
    if isinstance(preference, torch.device):
        preference = str(preference)
    choice = preference.strip().lower()
    if choice == "auto":
        choice = os.environ.get(DEVICE_ENV_VAR, "auto").strip().lower() or "auto"
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(choice)
    except RuntimeError as err:
        raise ValueError(f"unknown device {preference!r}; expected 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {choice!r} was requested but CUDA is not available on this machine")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError(f"device {choice!r} was requested but MPS is not available on this machine")
    return device


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices) and return a CPU generator.

    The same seed gives the same numbers on the same device and PyTorch build.
    (Bit-identical results *across* devices are not promised: CUDA kernels
    sum in a different order.)
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def autocast(device: torch.device | str) -> contextlib.AbstractContextManager:
    """Mixed precision where it helps: bfloat16 autocast on CUDA, nothing elsewhere.

    On the CPU autocast slows the small models of this course down, so it is
    a no-op there; notebooks can wrap their forward passes unconditionally.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass(frozen=True)
class RunConfig:
    """The resolved notebook parameters: QUICK mode, device and seed."""

    quick: bool
    device: torch.device
    seed: int

    def pick(self, full: T, quick: T) -> T:
        """Return ``quick`` in QUICK mode and ``full`` otherwise (step counts, data sizes)."""
        return quick if self.quick else full

    def describe(self) -> str:
        mode = "QUICK" if self.quick else "full"
        return f"mode={mode} device={self.device} seed={self.seed} torch={torch.__version__}"


def setup(quick: bool | None = False, device: str = "auto", seed: int = 0, *, verbose: bool = True) -> RunConfig:
    """Resolve a notebook's ``parameters`` cell and seed every generator.

    Returns a :class:`RunConfig`; with ``verbose`` it prints one line that
    says which mode and device the notebook runs in.
    """
    config = RunConfig(quick=is_quick(quick), device=get_device(device), seed=seed)
    seed_everything(seed)
    if verbose:
        print(config.describe())
    return config


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Temporarily put ``model`` in eval mode without gradients, restoring its mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def randn(shape: tuple[int, ...], device: torch.device | str, generator: torch.Generator | None = None,
          dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Standard normal noise of ``shape`` on ``device``, drawn from ``generator`` if one is given.

    The draw happens on the generator's own device and is then moved, so a CPU
    generator gives the same numbers whether the model runs on the CPU or a GPU.
    """
    if generator is None:
        return torch.randn(shape, device=device, dtype=dtype)
    return torch.randn(shape, generator=generator, device=generator.device, dtype=dtype).to(device)


def rand(shape: tuple[int, ...], device: torch.device | str, generator: torch.Generator | None = None,
         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform noise on [0, 1) of ``shape`` on ``device`` (drawn like :func:`randn`)."""
    if generator is None:
        return torch.rand(shape, device=device, dtype=dtype)
    return torch.rand(shape, generator=generator, device=generator.device, dtype=dtype).to(device)


def randint(low: int, high: int, shape: tuple[int, ...], device: torch.device | str,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Integers uniform in ``low .. high - 1`` of ``shape`` on ``device`` (drawn like :func:`randn`)."""
    if generator is None:
        return torch.randint(low, high, shape, device=device)
    return torch.randint(low, high, shape, generator=generator, device=generator.device).to(device)

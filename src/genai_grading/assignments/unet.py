"""Exercise 14 (unet): the shortcuts each test cell forbids, and the helpers its hidden tests share.

The four tasks are graded by the hidden tests in ``solutions/unet/unet.ipynb``
(``check_function`` against the package's references: ``sinusoidal_embedding``,
``residual_block_forward``, ``up_block_forward``, ``unet_forward``, which the
sandbox does not have). No single torch call does any of these tasks, and the
tasks need ``F.conv2d``, ``F.group_norm``, ``F.linear``, ``F.silu``,
``F.interpolate`` and ``torch.cat`` through the block's own layers, so nothing
is forbidden at the torch level. ``FORBIDDEN`` lists the library versions of tasks 1 and 2 in
``diffusers``: the scan will flag them once ``genai_grading.scan.LIBRARIES`` includes ``"diffusers"``
(checked: it then finds both the ``from diffusers... import`` and the ``diffusers.models...`` spellings).

The shortcuts are the package's own forward passes: ``block(x, emb)``,
``torch.func.functional_call(block, ...)``, ``ResidualBlock.forward``,
``UpBlock.forward``, ``UNet.forward``. The grader hands the student's function
objects that cannot run them: :func:`layers_only` copies a block (or a whole
U-Net) into classes that hold the same layers and attributes but no methods
and no package code, so calling the block fails, and nothing of the package
travels into the sandbox with it. :func:`restored` turns such a copy back
into the package's classes for the reference (in the grader's process).
:func:`with_gradients` grades the value and the gradients with respect to
the inputs and every parameter in one go.

What this cannot stop: ``diffusers`` is installed in the grading environment,
and ``diffusers.models.embeddings.get_timestep_embedding`` (time steps
``2 pi 1000 x``, ``max_period=1000``, ``downscale_freq_shift=1``, the two
halves flipped) computes task 1, and a ``ResnetBlock2D`` loaded with the
block's weights computes task 2, inside a library whose frames the runtime
guard treats as library code, while the scan does not read ``diffusers``
imports yet (see ``FORBIDDEN`` above).

Why the hidden tests run before the visible ones in each test cell: the
visible tests hand the answer real package objects (a ``ResidualBlock``...),
and the grader pickles package classes by value, methods and the functions
they call included; an answer that kept ``type(block).forward.__globals__``
from a visible test could call the reference in the hidden tests that
followed. Run first, the hidden tests have graded the task before any such
object reaches the kernel.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

FORBIDDEN: dict[str, list[str]] = {
    "test_sinusoidal_embedding": ["diffusers.models.embeddings.get_timestep_embedding",
                                  "diffusers.models.embeddings.Timesteps"],
    "test_residual_block_forward": ["diffusers.models.resnet.ResnetBlock2D"],
    "test_up_block_forward": [],
    "test_unet_forward": [],
}

_PACKAGE = "genai_foundations"
_BARE: dict[type, type] = {}     # package class -> its method-free stand-in
_REAL: dict[type, type] = {}     # and back


def _bare_class(cls: type) -> type:
    if cls not in _BARE:
        # A class made here is pickled by value into the sandbox: it must carry nothing but its name.
        bare = type(cls.__name__, (nn.Module,), {"__module__": "layers_only", "__qualname__": cls.__name__,
                                                   "__doc__": f"The layers of a {cls.__name__}, without its methods."})
        _BARE[cls], _REAL[bare] = bare, cls
    return _BARE[cls]


def layers_only(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` whose package classes (ResidualBlock, UpBlock, DownBlock, UNet) have no methods.

    Layers (``nn.Conv2d``, ``nn.GroupNorm``...), parameters, buffers and plain
    attributes (``upsample``, ``time_dim``...) are kept; calling a copied block
    raises ``NotImplementedError`` (``nn.Module`` without a ``forward``).
    """
    clone = copy.deepcopy(module)
    for sub in clone.modules():
        if type(sub).__module__.startswith(_PACKAGE):
            sub.__class__ = _bare_class(type(sub))
    return clone


def restored(module: nn.Module) -> nn.Module:
    """A deep copy of a :func:`layers_only` copy with the package classes back (for the reference)."""
    clone = copy.deepcopy(module)
    for sub in clone.modules():
        if type(sub) in _REAL:
            sub.__class__ = _REAL[type(sub)]
    return clone


def with_gradients(fn: Callable, restore: bool = False) -> Callable:
    """``fn(module, *tensors)`` -> ``[output, d/d tensors..., d/d parameters...]`` for a fixed upstream gradient.

    The tensors and the module (a copy, restored to the package classes when
    ``restore``) are differentiated through ``fn``; unused ones get zeros.
    """
    def run(module: nn.Module, *tensors: torch.Tensor) -> list[torch.Tensor]:
        module = restored(module) if restore else copy.deepcopy(module)
        inputs = [t.detach().clone().requires_grad_(True) for t in tensors]
        out = fn(module, *inputs)
        upstream = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).reshape(out.shape)
        targets = inputs + [p for p in module.parameters() if p.requires_grad]
        grads = torch.autograd.grad((out * upstream).sum(), targets, allow_unused=True)
        return [out.detach()] + [torch.zeros_like(t) if g is None else g for t, g in zip(targets, grads)]

    run.__name__ = getattr(fn, "__name__", "your function")
    return run


def perturbed(module: nn.Module, gen: torch.Generator, scale: float = 0.2) -> nn.Module:
    """Move every parameter away from its initial value (the norms' 1 and 0, the zero output layer)."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return module

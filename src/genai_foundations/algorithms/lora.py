"""Low-rank adaptation (LoRA): a frozen linear layer plus a trainable low-rank update.

PyTorch's convention (a linear layer computes :math:`y = x W^\\top + b` with
:math:`W \\in \\mathbb{R}^{d_{out} \\times d_{in}}`), and the one of Hu et al.
(2021) and of ``peft``: the adapted layer is

.. math:: y = x W^\\top + b + \\frac{\\alpha}{r}\\, x A^\\top B^\\top,
   \\qquad W' = W + \\frac{\\alpha}{r} B A  \\qquad\\text{(LORA)}

with :math:`A \\in \\mathbb{R}^{r \\times d_{in}}` (random at initialisation),
:math:`B \\in \\mathbb{R}^{d_{out} \\times r}` (zero at initialisation, so the
adapted layer starts equal to the base layer), rank r and scale
:math:`\\alpha`. Only A and B train. Notes written for row vectors
(:math:`y = x W`) state the same update as :math:`W + \\alpha' A' B'` with
:math:`A' = A^\\top` (:math:`d_{in} \\times r`), :math:`B' = B^\\top` and
:math:`\\alpha' = \\alpha / r`.

* :func:`lora_linear`: equation (LORA) as a function;
* :func:`merge_lora`: the merged weight :math:`W'`;
* :class:`LoRALinear`: a module wrapping an ``nn.Linear`` (or a frozen 4-bit
  layer of :mod:`~genai_foundations.algorithms.quantization`), with
  :meth:`~LoRALinear.merge` / :meth:`~LoRALinear.unmerge`;
* :func:`apply_lora`: wrap chosen ``nn.Linear`` modules of a model and freeze the rest;
* :func:`trainable_parameters`, :func:`weight_bytes`: what a method trains and what its weights occupy.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn


def _check_lora_shapes(weight: torch.Tensor, A: torch.Tensor, B: torch.Tensor) -> None:
    if weight.dim() != 2 or A.dim() != 2 or B.dim() != 2:
        raise ValueError("weight (d_out, d_in), A (r, d_in) and B (d_out, r) must be matrices")
    d_out, d_in = weight.shape
    if A.shape[1] != d_in or B.shape[0] != d_out or A.shape[0] != B.shape[1]:
        raise ValueError(f"expected A (r, {d_in}) and B ({d_out}, r) for a weight {tuple(weight.shape)}, got "
                         f"A {tuple(A.shape)} and B {tuple(B.shape)}")


def lora_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, A: torch.Tensor, B: torch.Tensor,
                alpha: float) -> torch.Tensor:
    """Equation (LORA): :math:`x W^\\top + b + (\\alpha / r)\\, (x A^\\top) B^\\top` for x (..., d_in).

    The update is applied as two thin products, never as the
    :math:`d_{out} \\times d_{in}` matrix B A.
    """
    _check_lora_shapes(weight, A, B)
    if x.shape[-1] != weight.shape[1]:
        raise ValueError(f"x has {x.shape[-1]} features, the weight expects {weight.shape[1]}")
    r = A.shape[0]
    y = x @ weight.T + (alpha / r) * ((x @ A.T) @ B.T)
    return y if bias is None else y + bias


def merge_lora(weight: torch.Tensor, A: torch.Tensor, B: torch.Tensor, alpha: float) -> torch.Tensor:
    """The merged weight :math:`W' = W + (\\alpha / r)\\, B A` (a new tensor; ``weight`` is not modified)."""
    _check_lora_shapes(weight, A, B)
    return weight + (alpha / A.shape[0]) * (B @ A)


class LoRALinear(nn.Module):
    """A frozen base layer plus the trainable update of equation (LORA).

    ``base`` is an ``nn.Linear`` (its weight and bias are frozen here) or any
    module with ``in_features``, ``out_features`` and a ``dequantized_weight()``
    method (the 4-bit base of QLoRA). A is drawn with ``nn.Linear``'s default
    (Kaiming-uniform) initialisation, as ``peft`` does, B is zero, so at
    initialisation the layer computes exactly what ``base`` computes.
    :meth:`merge` folds :math:`(\\alpha/r) B A` into an ``nn.Linear`` base's
    weight (one matrix product at inference, no extra latency); :meth:`unmerge`
    takes it out again.
    """

    def __init__(self, base: nn.Module, r: int, alpha: float | None = None, *,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if r < 1:
            raise ValueError(f"the rank r must be a positive integer, got {r}")
        d_in, d_out = base.in_features, base.out_features
        if r > min(d_in, d_out):
            raise ValueError(f"rank r={r} exceeds min(d_in, d_out) = {min(d_in, d_out)}")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.r = r
        self.alpha = float(r if alpha is None else alpha)
        ref = next(iter(base.parameters()), None)
        if ref is None:
            ref = next(iter(base.buffers()))
        kw = dict(device=ref.device, dtype=ref.dtype if ref.is_floating_point() else torch.float32)
        self.lora_A = nn.Parameter(torch.empty(r, d_in, **kw))
        self.lora_B = nn.Parameter(torch.zeros(d_out, r, **kw))
        bound = 1.0 / math.sqrt(d_in)  # kaiming_uniform_(a=sqrt(5)) on a (r, d_in) matrix
        with torch.no_grad():
            u = torch.rand(r, d_in, generator=generator, dtype=torch.float64)
            self.lora_A.copy_((2 * u - 1) * bound)
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    @property
    def scaling(self) -> float:
        """:math:`\\alpha / r`."""
        return self.alpha / self.r

    def delta_weight(self) -> torch.Tensor:
        """:math:`\\Delta W = (\\alpha / r) B A`, shape (d_out, d_in)."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def _base_weight(self) -> torch.Tensor:
        return self.base.weight if isinstance(self.base, nn.Linear) else self.base.dequantized_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.merged:
            return y
        return y + self.scaling * ((x @ self.lora_A.T) @ self.lora_B.T)

    @torch.no_grad()
    def merge(self) -> None:
        """Fold :math:`\\Delta W` into the base weight (``nn.Linear`` bases only); forward then skips the update."""
        if self.merged:
            raise RuntimeError("this LoRA layer is already merged")
        if not isinstance(self.base, nn.Linear):
            raise TypeError("only an nn.Linear base can absorb the update (a 4-bit base would need re-quantising)")
        self.base.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take :math:`\\Delta W` out of the base weight again (undoes :meth:`merge`, up to rounding)."""
        if not self.merged:
            raise RuntimeError("this LoRA layer is not merged")
        self.base.weight -= self.delta_weight()
        self.merged = False

    def extra_repr(self) -> str:
        return f"r={self.r}, alpha={self.alpha:g}, merged={self.merged}"


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def chosen_linears(model: nn.Module, target: Callable[[str, nn.Module], bool] | Iterable[str] | None = None
                   ) -> list[str]:
    """Names of the plain ``nn.Linear`` modules of ``model`` that ``target`` chooses (a clear error if none).

    ``target`` is a predicate ``(name, module) -> bool`` or a collection of
    name suffixes (``("q_proj", "v_proj")``); by default every ``nn.Linear``
    except an output head whose weight is shared with an embedding. Modules
    already wrapped (a :class:`LoRALinear`) are never chosen again.
    """
    if target is None:
        shared = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}

        def chosen(name: str, module: nn.Module) -> bool:
            return id(module.weight) not in shared
    elif callable(target):
        chosen = target
    else:
        suffixes = tuple(target)

        def chosen(name: str, module: nn.Module) -> bool:
            return name.endswith(suffixes)
    names = [name for name, m in model.named_modules()
             if isinstance(m, nn.Linear) and not isinstance(m, LoRALinear) and chosen(name, m)]
    if not names:
        raise ValueError("no nn.Linear module matched the target")
    return names


def apply_lora(model: nn.Module, r: int, alpha: float | None = None, *,
               target: Callable[[str, nn.Module], bool] | Iterable[str] | None = None, seed: int = 0,
               freeze: bool = True) -> list[str]:
    """Replace the chosen ``nn.Linear`` modules of ``model`` by :class:`LoRALinear` (in place).

    ``target`` is a predicate ``(name, module) -> bool`` or a collection of
    name suffixes (``("q_proj", "v_proj")``); by default every ``nn.Linear``
    except an output head whose weight is shared with an embedding. With
    ``freeze`` every other parameter of the model is frozen too, so that only
    A and B train. A's are drawn from one generator seeded with ``seed``, in
    the order of ``named_modules``. Returns the wrapped modules' names.
    """
    names = chosen_linears(model, target)
    if freeze:
        for p in model.parameters():
            p.requires_grad_(False)
    generator = torch.Generator().manual_seed(seed)
    for name in names:
        _set_submodule(model, name, LoRALinear(model.get_submodule(name), r, alpha, generator=generator))
    return names


def trainable_parameters(model: nn.Module) -> int:
    """Number of parameters with ``requires_grad`` (shared tensors counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def weight_bytes(model: nn.Module) -> int:
    """Bytes of every parameter and buffer the model stores, computed from the tensors (shared ones once)."""
    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total

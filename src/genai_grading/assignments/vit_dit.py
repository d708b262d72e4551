"""Exercise 17 (vit-dit): the shortcuts each test cell forbids, and the helpers its hidden tests share.

The hidden tests are in ``solutions/vit-dit/vit-dit.ipynb`` (``check_function``
against the package). The references they import are absent from the sandbox:
``vit.patchify``, ``vit.unpatchify``, ``vit.prepend_class_token`` and
``vit.conv_weight_from_linear``. ``BLOCKED`` adds what would do a task in one
call: the inverse conversion ``linear_weight_from_conv``, the patch embedding
and the ViT (whose ``tokens`` does tasks 1 and 3), the DiT block and its
``modulate`` (task 5), and the DiT (whose forward runs the blocks).

Forbidden library calls: the ready-made window extraction of PyTorch
(``F.unfold`` / ``F.fold``, ``nn.Unfold`` / ``nn.Fold``, ``Tensor.unfold``, and the
``im2col`` / ``col2im`` kernels behind them) for the patch tasks, and
torchvision's ViT (its ``_process_input`` does the patch embedding with a
convolution, and its encoder adds the class token and positions). ``einops``
(``rearrange``) is listed too, although it is not installed in the course
environment. Reshape, permute, transpose, ``torch.cat`` and ``F.layer_norm``
stay allowed: they are the tools of the tasks.

Task 5 hands the student torch's own modules (``nn.Linear`` for the
modulation, ``nn.MultiheadAttention``, an ``nn.Sequential`` MLP), so no package
code travels into the sandbox with the arguments; :func:`dit_block_reference`
loads the same weights into the package's ``DiTBlock`` for the reference, and
:func:`with_gradients` grades the value and the gradients with respect to the
tokens, the condition and the modulation's weights.

What this cannot stop: a student who writes the block with the modules in
another order that happens to agree on the test inputs (the hidden tests use
random weights, so the order matters everywhere).
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import nn

BLOCKED = [
    "genai_foundations.architectures.vit.linear_weight_from_conv",
    "genai_foundations.architectures.vit.PatchEmbedding",
    "genai_foundations.architectures.vit.ViT",
    "genai_foundations.architectures.dit.DiTBlock",
    "genai_foundations.architectures.dit.modulate",
    "genai_foundations.architectures.dit.DiT",
    "genai_foundations.architectures.dit.FinalLayer",
]

_WINDOWS = ["torch.nn.functional.unfold", "torch.nn.functional.fold", "torch.nn.Unfold", "torch.nn.Fold",
            "Tensor.unfold", "im2col", "col2im", "einops.rearrange", "einops.einops.rearrange"]
_TORCHVISION_VIT = ["torchvision.models.VisionTransformer", "torchvision.models.vision_transformer.VisionTransformer",
                    "torchvision.models.vision_transformer.Encoder",
                    "torchvision.models.vision_transformer.EncoderBlock", "torchvision.models.vit_b_16"]

FORBIDDEN: dict[str, list[str]] = {
    "test_patchify": [*_WINDOWS, *_TORCHVISION_VIT],
    "test_unpatchify": [*_WINDOWS, *_TORCHVISION_VIT, "torch.nn.functional.pixel_shuffle", "pixel_shuffle"],
    "test_prepend_class_token": [*_TORCHVISION_VIT],
    "test_conv_weight_from_linear": [*_WINDOWS, *_TORCHVISION_VIT],
    "test_adaln_zero_block": [*_TORCHVISION_VIT],
}


def dit_block_reference(h: torch.Tensor, c: torch.Tensor, adaLN: nn.Linear, attention: nn.MultiheadAttention,
                        mlp: nn.Sequential) -> torch.Tensor:
    """The package's ``DiTBlock`` loaded with the given modules' weights, applied to ``(h, c)``."""
    from genai_foundations.architectures.dit import DiTBlock

    dim = h.shape[-1]
    block = DiTBlock(dim, attention.num_heads, mlp_ratio=mlp[0].out_features / dim).to(h.dtype)
    block.adaLN = adaLN                                  # keep the argument's parameters (for their gradients)
    block.attention.load_from_torch(attention)
    block.mlp.fc1.load_state_dict(mlp[0].state_dict())
    block.mlp.fc2.load_state_dict(mlp[2].state_dict())
    return block(h, c)


def with_gradients(fn: Callable) -> Callable:
    """``fn(h, c, adaLN, attention, mlp)`` -> ``[output, dh, dc, d adaLN.weight, d adaLN.bias]`` for a fixed upstream."""
    def run(h, c, adaLN, attention, mlp):
        adaLN = copy.deepcopy(adaLN)
        h, c = h.detach().clone().requires_grad_(True), c.detach().clone().requires_grad_(True)
        out = fn(h, c, adaLN, attention, mlp)
        upstream = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).reshape(out.shape)
        targets = [h, c, adaLN.weight, adaLN.bias]
        grads = torch.autograd.grad((out * upstream).sum(), targets, allow_unused=True)
        return [out.detach()] + [torch.zeros_like(t) if g is None else g for t, g in zip(targets, grads)]

    run.__name__ = getattr(fn, "__name__", "your function")
    return run


def dit_block_modules(dim: int, heads: int, hidden: int, gen: torch.Generator, zero: bool = False,
                      dtype: torch.dtype = torch.float32) -> tuple[nn.Linear, nn.MultiheadAttention, nn.Sequential]:
    """Torch modules for task 5 with weights drawn from ``gen`` (the modulation all zero with ``zero``)."""
    adaLN = nn.Linear(dim, 6 * dim, dtype=dtype)
    attention = nn.MultiheadAttention(dim, heads, batch_first=True, dtype=dtype)
    mlp = nn.Sequential(nn.Linear(dim, hidden, dtype=dtype), nn.GELU(), nn.Linear(hidden, dim, dtype=dtype))
    with torch.no_grad():
        for module in (adaLN, attention, mlp):
            for p in module.parameters():
                p.copy_(0.3 * torch.randn(p.shape, generator=gen, dtype=dtype))
        if zero:
            adaLN.weight.zero_()
            adaLN.bias.zero_()
    return adaLN, attention.eval(), mlp

"""4-bit NormalFloat (NF4) quantisation with block-wise absmax scaling, the frozen base of QLoRA.

A weight tensor is cut into blocks of ``block_size`` consecutive numbers
(row-major order). Block k is scaled by its absolute maximum
:math:`c_k = \\max_{i \\in k} |w_i|` into :math:`[-1, 1]`, and each scaled
number is replaced by the index of the nearest of 16 levels
:math:`q_0 < \\dots < q_{15}` (4 bits):

.. math:: \\hat\\imath = \\arg\\min_j |w_i / c_k - q_j|, \\qquad
   \\hat w_i = c_k\\, q_{\\hat\\imath}  \\qquad\\text{(QUANT)}

Both ends :math:`\\pm 1` are levels and every :math:`w_i / c_k` lies in
:math:`[-1, 1]`, between two adjacent levels, so the nearest one is at most
half their gap away:

.. math:: |w_i - \\hat w_i| \\le \\frac{c_k}{2} \\max_j (q_{j+1} - q_j)  \\qquad\\text{(BOUND)}

The NF4 levels (Dettmers et al., 2023, QLoRA) are quantiles of the standard
normal distribution, so that weights that are roughly Gaussian use the 16
codes about equally often: 8 levels for the positive half, 7 for the negative
half (the quantiles at probabilities spaced evenly from offset = 0.9677083
down to, but not including, 1/2; mirrored for the negative half) and an exact zero, normalised to end at
:math:`\\pm 1`. :func:`nf4_code_book` builds them this way; the unit test
compares them with the 16 values published in the paper and in
``bitsandbytes`` (``create_normal_map``).

* :func:`nf4_code_book`, :func:`uniform_code_book` (the plain symmetric 4-bit grid, for comparison);
* :func:`quantize_blockwise` / :func:`dequantize_blockwise`: equation (QUANT);
* :func:`pack_4bit` / :func:`unpack_4bit`: two 4-bit codes per byte;
* :func:`quantization_error_bound`: the right-hand side of (BOUND);
* :class:`Linear4bit`: a frozen linear layer stored as packed NF4 codes plus one
  absmax per block, dequantised on the fly (QLoRA keeps the absmax in 8 bits
  with a second quantisation; here it stays float32);
* :func:`quantize_linears`: replace chosen ``nn.Linear`` modules of a model by :class:`Linear4bit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from torch import nn

#: QLoRA's offset: the outermost quantile probability, the mean of the two choices (1 - 1/(2*15)) and (1 - 1/(2*16)).
NF4_OFFSET = 0.9677083


def nf4_code_book(offset: float = NF4_OFFSET, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 16 NF4 levels in increasing order: normal quantiles, 7 negative, 0, 8 positive, scaled to [-1, 1]."""
    if not 0.5 < offset < 1.0:
        raise ValueError(f"offset must lie in (0.5, 1), got {offset}")
    ndtri = torch.special.ndtri
    positive = ndtri(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    negative = -ndtri(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    levels = torch.cat([positive, torch.zeros(1, dtype=torch.float64), negative]).sort().values
    return (levels / levels.abs().max()).to(dtype)


def uniform_code_book(dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A symmetric uniform 4-bit grid on [-1, 1]: the 15 levels k/7, k = -7..7, plus a repeated 1 (16 codes)."""
    levels = torch.arange(-7, 8, dtype=torch.float64) / 7
    return torch.cat([levels, levels[-1:]]).to(dtype)


def _check_code(code: torch.Tensor) -> None:
    if code.dim() != 1 or code.numel() != 16:
        raise ValueError(f"a 4-bit code book has 16 levels, got shape {tuple(code.shape)}")
    if (code[1:] < code[:-1]).any():
        raise ValueError("the code book's levels must be sorted in increasing order")


def quantization_error_bound(absmax: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Equation (BOUND) per block: :math:`c_k \\max_j (q_{j+1} - q_j) / 2`."""
    _check_code(code)
    return absmax * (code[1:] - code[:-1]).max() / 2


@dataclass
class QuantizedTensor:
    """A tensor stored by :func:`quantize_blockwise`: packed 4-bit codes, one absmax per block, the shape."""

    packed: torch.Tensor   # uint8, two codes per byte
    absmax: torch.Tensor   # float32, one per block
    shape: tuple[int, ...]
    block_size: int

    @property
    def nbytes(self) -> int:
        return self.packed.numel() * self.packed.element_size() + self.absmax.numel() * self.absmax.element_size()


def _blocks(w: torch.Tensor, block_size: int) -> torch.Tensor:
    if block_size < 1:
        raise ValueError(f"block_size must be positive, got {block_size}")
    if w.numel() % block_size:
        raise ValueError(f"the tensor's {w.numel()} numbers are not a whole number of blocks of {block_size}")
    return w.reshape(-1, block_size)


def quantize_blockwise(w: torch.Tensor, code: torch.Tensor, block_size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Equation (QUANT): the code index (``torch.uint8``, w's shape) of every number and each block's absmax.

    Blocks are ``block_size`` consecutive numbers of ``w`` in row-major order
    (``w.numel()`` must be a multiple of it). A block of zeros gets absmax 0
    and codes of the level nearest 0. Ties between two levels go to the lower one.
    Returns ``(codes, absmax)`` with absmax of shape (number of blocks,) and w's dtype.
    """
    if not w.is_floating_point():
        raise ValueError(f"w must be a floating-point tensor, got {w.dtype}")
    _check_code(code)
    blocks = _blocks(w, block_size)
    absmax = blocks.abs().amax(dim=1)
    scaled = blocks / torch.where(absmax > 0, absmax, torch.ones_like(absmax))[:, None]
    code = code.to(device=w.device, dtype=w.dtype)
    midpoints = (code[1:] + code[:-1]) / 2
    codes = torch.bucketize(scaled.contiguous(), midpoints, right=False)   # nearest level; ties -> lower level
    return codes.to(torch.uint8).reshape(w.shape), absmax


def dequantize_blockwise(codes: torch.Tensor, absmax: torch.Tensor, code: torch.Tensor) -> torch.Tensor:
    """Equation (QUANT) backwards: :math:`\\hat w_i = c_k\\, q_{\\text{codes}_i}`, in absmax's dtype and codes' shape."""
    _check_code(code)
    if codes.numel() % absmax.numel():
        raise ValueError(f"{codes.numel()} codes do not split into {absmax.numel()} equal blocks")
    levels = code.to(device=absmax.device, dtype=absmax.dtype)[codes.long()]
    return (levels.reshape(absmax.numel(), -1) * absmax[:, None]).reshape(codes.shape)


def pack_4bit(codes: torch.Tensor) -> torch.Tensor:
    """Two 4-bit codes per byte (the even-indexed code in the high nibble): (numel,) -> (numel / 2,) uint8."""
    flat = codes.reshape(-1).to(torch.uint8)
    if flat.numel() % 2:
        raise ValueError("an even number of codes is needed to pack two per byte")
    if flat.numel() and int(flat.max()) > 15:
        raise ValueError("4-bit codes must lie in 0..15")
    return (flat[0::2] << 4) | flat[1::2]


def unpack_4bit(packed: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Undo :func:`pack_4bit`: uint8 codes of the given shape."""
    out = torch.stack([packed >> 4, packed & 15], dim=1).reshape(-1)
    return out.reshape(shape)


def quantize_tensor(w: torch.Tensor, code: torch.Tensor, block_size: int = 64) -> QuantizedTensor:
    """Quantise ``w`` and pack its codes: what a 4-bit checkpoint stores."""
    codes, absmax = quantize_blockwise(w.detach(), code, block_size)
    return QuantizedTensor(pack_4bit(codes), absmax.float(), tuple(w.shape), block_size)


class Linear4bit(nn.Module):
    """A frozen linear layer whose weight is stored in 4 bits (packed NF4 codes and float32 absmax per block).

    ``forward`` dequantises the weight to the input's dtype and applies it
    (:math:`y = x \\hat W^\\top + b`); nothing here trains. The bias stays in
    full precision. Memory: :math:`d_{out} d_{in} / 2` bytes of codes plus 4
    bytes per block of ``block_size`` numbers, against :math:`4 d_{out} d_{in}`
    bytes in float32.
    """

    def __init__(self, linear: nn.Linear, block_size: int = 64, code: torch.Tensor | None = None) -> None:
        super().__init__()
        code = nf4_code_book() if code is None else code
        q = quantize_tensor(linear.weight, code, block_size)
        self.in_features, self.out_features, self.block_size = linear.in_features, linear.out_features, block_size
        self.register_buffer("packed", q.packed)
        self.register_buffer("absmax", q.absmax)
        self.register_buffer("code", code.detach().to(device=linear.weight.device, dtype=torch.float32))
        self.register_buffer("bias", None if linear.bias is None else linear.bias.detach().clone())

    def dequantized_weight(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        codes = unpack_4bit(self.packed, (self.out_features, self.in_features))
        return dequantize_blockwise(codes, self.absmax, self.code).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.dequantized_weight(x.dtype)
        y = x @ w.T
        return y if self.bias is None else y + self.bias.to(x.dtype)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, block_size={self.block_size}, 4-bit"


def quantize_linears(model: nn.Module, *, block_size: int = 64,
                     target: Callable[[str, nn.Module], bool] | Iterable[str] | None = None,
                     code: torch.Tensor | None = None) -> list[str]:
    """Replace chosen ``nn.Linear`` modules of ``model`` by frozen :class:`Linear4bit` layers (in place).

    ``target`` as in :func:`~genai_foundations.algorithms.lora.apply_lora`; by
    default every ``nn.Linear`` whose weight is not shared with an embedding
    (the tied output head stays in full precision, as QLoRA keeps embeddings).
    Returns the replaced modules' names.
    """
    from genai_foundations.algorithms.lora import _set_submodule, chosen_linears

    names = chosen_linears(model, target)
    for name in names:
        _set_submodule(model, name, Linear4bit(model.get_submodule(name), block_size, code))
    return names

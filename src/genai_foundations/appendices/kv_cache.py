"""The KV cache at a realistic model size: its memory, and what one decoding step costs in compute and bytes.

A decoder with :math:`L` layers, :math:`h_{kv}` key/value heads of width
:math:`d_h` (:math:`h_{kv} = h` for multi-head attention, fewer with
grouped-query attention) caches, for each of :math:`B` sequences of
:math:`n` tokens, one key and one value vector per layer and head:

.. math::

    M_{KV} = 2\\,L\\,B\\,n\\,h_{kv}\\,d_h\\,s   \\qquad \\text{(KVMEM)}

bytes, with :math:`s` bytes per number (2 for float16). With
:math:`h_{kv} d_h = d` it is the :math:`2LBnd` numbers of
:func:`genai_foundations.architectures.gpt.kv_cache_bytes`. One decoding
step with the cache then does, per sequence, about

.. math::

    C_{step} \\approx 2P + 4\\,L\\,n\\,h\\,d_h   \\qquad \\text{(KVFLOP)}

floating-point operations (:math:`2P` for the matrix products with the
:math:`P` weights, :math:`4Lnd` for the scores against :math:`n` cached keys
and the weighted sum of :math:`n` cached values), and must read all the
weights once per step plus every sequence's whole cache: generation is
limited by memory bandwidth, and past some context length the cache, not the
weights, dominates the bytes read.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DecoderShape:
    """The shape of a decoder-only model: what (KVMEM) and (KVFLOP) need."""

    name: str
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    n_params: float

    def __post_init__(self) -> None:
        if min(self.n_layers, self.d_model, self.n_heads, self.n_kv_heads) < 1 or self.n_params <= 0:
            raise ValueError("every size must be positive")
        if self.d_model % self.n_heads or self.n_heads % self.n_kv_heads:
            raise ValueError(f"need d_model divisible by n_heads and n_heads by n_kv_heads, got "
                             f"{self.d_model}, {self.n_heads}, {self.n_kv_heads}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_heads


#: Published shapes: Llama 2 7B (multi-head attention) and Llama 3 8B (grouped-query attention, 8 KV heads).
LLAMA2_7B = DecoderShape("Llama 2 7B (MHA)", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=32, n_params=6.74e9)
LLAMA3_8B = DecoderShape("Llama 3 8B (GQA)", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=8, n_params=8.03e9)


def kv_cache_bytes(shape: DecoderShape, n_tokens: int, batch_size: int = 1, bytes_per_number: int = 2) -> int:
    """(KVMEM): ``2 L B n h_kv d_h s`` bytes."""
    if n_tokens < 0 or batch_size < 1 or bytes_per_number < 1:
        raise ValueError("need n_tokens >= 0, batch_size >= 1 and bytes_per_number >= 1")
    return 2 * shape.n_layers * batch_size * n_tokens * shape.n_kv_heads * shape.d_head * bytes_per_number


def decode_step_flops(shape: DecoderShape, n_context: int) -> float:
    """(KVFLOP): floating-point operations of one cached decoding step of one sequence at context ``n_context``."""
    return 2 * shape.n_params + 4 * shape.n_layers * n_context * shape.n_heads * shape.d_head


def decode_step_bytes(shape: DecoderShape, n_context: int, batch_size: int = 1, bytes_per_number: int = 2) -> float:
    """Bytes one decoding step of a batch must read: every weight once, plus every sequence's cache."""
    return shape.n_params * bytes_per_number + kv_cache_bytes(shape, n_context, batch_size, bytes_per_number)


def crossover_context(shape: DecoderShape, batch_size: int = 1) -> float:
    """The context length at which the batch's KV cache holds as many numbers as the weights."""
    return shape.n_params / (2 * shape.n_layers * batch_size * shape.n_kv_heads * shape.d_head)

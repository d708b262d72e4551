"""Attention written out: scaled dot-product attention, masks, multi-head attention, and a KV cache.

Notation of the transformers chapter: a batch of B sequences of n positions,
each a vector of width d (``d_model``); h heads of width :math:`d_k = d / h`.
Queries, keys and values are the rows of

.. math:: Q = X W_Q, \\qquad K = C W_K, \\qquad V = C W_V,

with :math:`C = X` for self-attention and :math:`C` the states of another
sequence (an encoder's output) for cross-attention.

* :func:`scaled_dot_product_attention`:
  :math:`\\mathrm{Attention}(Q, K, V) = \\mathrm{softmax}\\big(QK^\\top / \\sqrt{d_k} + M\\big)\\, V` (ATT),
  where the mask :math:`M` holds 0 where a query may look at a key and
  :math:`-\\infty` where it may not, so that each row of the softmax still sums
  to one over the allowed keys;
* :func:`causal_mask`: :math:`M_{ij} = -\\infty` for :math:`j > i` (CAUSAL), as a
  boolean matrix; with a cache of earlier positions the query rows are the
  *last* rows of the full matrix;
* :func:`padding_mask`: keys that are padding are hidden from every query;
* :class:`MultiHeadAttention`:
  :math:`\\mathrm{MHA}(X, C) = \\mathrm{Concat}(Y_1, \\dots, Y_h)\\, W_O` with
  :math:`Y_i = \\mathrm{Attention}(X W_Q^i, C W_K^i, C W_V^i)` (MHA), self- or
  cross-attention, with the weights laid out as in ``torch.nn.MultiheadAttention``
  (``load_from_torch`` copies them);
* :class:`LayerKVCache` / :class:`KVCache`: the keys and values of the positions
  a decoder has already processed, so that generating token :math:`t+1` computes
  only :math:`K_{t+1}, V_{t+1}` and attends with
  :math:`y_{t+1} = \\mathrm{softmax}(q_{t+1} K_{1:t+1}^\\top / \\sqrt{d_k})\\, V_{1:t+1}` (KV).

**Mask convention (one for the whole package).** A boolean mask is ``True``
where attention is *allowed* (the convention of
``torch.nn.functional.scaled_dot_product_attention``); a floating mask is
*added* to the scores (0 or :math:`-\\infty`, or any bias). Note that
``torch.nn.MultiheadAttention`` uses the opposite boolean convention
(``True`` = hidden): pass ``~mask`` to it. A query row whose keys are all
hidden has no distribution to normalise; :func:`scaled_dot_product_attention`
raises instead of returning NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F


def causal_mask(n_queries: int, n_keys: int | None = None, *,
                device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean (n_queries, n_keys) mask, ``True`` where query i may attend to key j (equation CAUSAL).

    Query i sits at position ``i + n_keys - n_queries`` of the key sequence, so
    with ``n_keys = n_queries`` this is the lower-triangular matrix
    :math:`j \\le i`, and with a KV cache of ``n_keys - n_queries`` earlier
    positions the new queries see all the cached keys and the new keys up to
    their own position.
    """
    if n_keys is None:
        n_keys = n_queries
    if n_queries < 1 or n_keys < n_queries:
        raise ValueError(f"need 1 <= n_queries <= n_keys, got n_queries={n_queries}, n_keys={n_keys}")
    offset = n_keys - n_queries
    i = torch.arange(n_queries, device=device)[:, None]
    j = torch.arange(n_keys, device=device)[None, :]
    return j <= i + offset


def padding_mask(is_token: torch.Tensor) -> torch.Tensor:
    """Boolean (B, 1, 1, n) mask from a (B, n) boolean ``is_token`` (``True`` at real tokens, ``False`` at padding).

    Broadcasts against scores of shape (B, h, n_queries, n): no query attends
    to a padding key. Combine with :func:`causal_mask` by ``&``.
    """
    if is_token.dim() != 2 or is_token.dtype != torch.bool:
        raise ValueError(f"is_token must be a boolean (B, n) tensor, got {tuple(is_token.shape)} {is_token.dtype}")
    return is_token[:, None, None, :]


def _additive(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean mask (True = allowed) as 0 / -inf; a floating mask unchanged (in ``dtype``)."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, float("-inf"))
    if not mask.is_floating_point():
        raise ValueError(f"a mask must be boolean (True = may attend) or floating (added to the scores), got {mask.dtype}")
    return mask.to(dtype)


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                                 mask: torch.Tensor | None = None, *, scale: float | None = None,
                                 dropout_p: float = 0.0,
                                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Equation (ATT): ``softmax(q k^T * scale + M) v`` and the attention weights.

    Shapes: ``q`` (..., n_q, d_k), ``k`` (..., n_k, d_k), ``v`` (..., n_k, d_v);
    the leading dimensions (batch, heads) must broadcast. ``mask`` broadcasts to
    (..., n_q, n_k): boolean with ``True`` where attention is allowed, or
    floating and added to the scores. ``scale`` defaults to :math:`1/\\sqrt{d_k}`,
    which keeps the scores' variance near 1 when the entries of q and k have
    unit variance. ``dropout_p`` drops attention weights (training only; pass 0
    at evaluation). Returns the output (..., n_q, d_v) and the weights
    (..., n_q, n_k), each row of which sums to one.
    """
    if q.dim() < 2 or k.dim() < 2 or v.dim() < 2:
        raise ValueError(f"q, k, v need at least 2 dimensions (..., n, d), got {tuple(q.shape)}, "
                         f"{tuple(k.shape)}, {tuple(v.shape)}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"queries and keys need the same width d_k, got {q.shape[-1]} and {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"keys and values need the same number of positions, got {k.shape[-2]} and {v.shape[-2]}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must lie in [0, 1), got {dropout_p}")
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = (q @ k.transpose(-2, -1)) * scale
    if mask is not None:
        n_q, n_k = scores.shape[-2:]
        if mask.dim() < 2 or mask.shape[-2] not in (1, n_q) or mask.shape[-1] not in (1, n_k):
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to scores (..., {n_q}, {n_k})")
        scores = scores + _additive(mask, scores.dtype)
        if bool(torch.isneginf(scores).all(dim=-1).any()):
            raise ValueError("a query row has every key masked out: its softmax is undefined")
    weights = scores.softmax(dim=-1)
    if dropout_p > 0.0:
        if generator is None:
            weights = F.dropout(weights, dropout_p)
        else:
            keep = torch.rand(weights.shape, generator=generator, device=generator.device).to(weights.device)
            weights = weights * (keep >= dropout_p) / (1.0 - dropout_p)
    return weights @ v, weights


@dataclass
class LayerKVCache:
    """The keys and values one attention layer has seen, each (B, h, n_past, d_k), or ``None`` before the first call.

    :meth:`append` adds the new positions' keys and values and returns the full
    ones (equation KV). :meth:`reorder` picks batch rows (beam search keeps the
    rows of the surviving beams).
    """

    keys: torch.Tensor | None = None
    values: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.keys is None else self.keys.shape[-2]

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.keys is None:
            self.keys, self.values = k, v
        else:
            if k.shape[:-2] != self.keys.shape[:-2]:
                raise ValueError(f"new keys {tuple(k.shape)} do not match the cached ones {tuple(self.keys.shape)}")
            self.keys = torch.cat([self.keys, k], dim=-2)
            self.values = torch.cat([self.values, v], dim=-2)
        return self.keys, self.values

    def reorder(self, index: torch.Tensor) -> None:
        if self.keys is not None:
            self.keys = self.keys.index_select(0, index.to(self.keys.device))
            self.values = self.values.index_select(0, index.to(self.values.device))

    def nbytes(self) -> int:
        if self.keys is None:
            return 0
        return self.keys.numel() * self.keys.element_size() + self.values.numel() * self.values.element_size()


@dataclass
class KVCache:
    """One :class:`LayerKVCache` per layer of a decoder (``KVCache(n_layers)``).

    ``length`` is the number of positions already processed; :meth:`nbytes`
    the memory the cached tensors take, to compare with the formula
    :math:`2 \\cdot L \\cdot B \\cdot n \\cdot d` numbers (keys and values, L
    layers, each (B, n, d) once the heads are put side by side).
    """

    n_layers: int
    layers: list[LayerKVCache] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.n_layers < 1:
            raise ValueError(f"n_layers must be positive, got {self.n_layers}")
        if not self.layers:
            self.layers = [LayerKVCache() for _ in range(self.n_layers)]

    def __getitem__(self, i: int) -> LayerKVCache:
        return self.layers[i]

    def __len__(self) -> int:
        return self.n_layers

    @property
    def length(self) -> int:
        return self.layers[0].length

    def reorder(self, index: torch.Tensor) -> None:
        for layer in self.layers:
            layer.reorder(index)

    def nbytes(self) -> int:
        return sum(layer.nbytes() for layer in self.layers)


class MultiHeadAttention(nn.Module):
    """Equation (MHA): h heads of scaled dot-product attention side by side, then the output projection W_O.

    ``d_model`` is the width of the queries' input and of the output; ``kdim``
    and ``vdim`` (default ``d_model``) are the widths of the key and value
    inputs, which differ from ``d_model`` only in cross-attention to another
    model's states. The four projections are ``nn.Linear`` layers
    ``q_proj, k_proj, v_proj, out_proj`` (weights (out, in), so
    :math:`Q = X W_Q^\\top + b_Q` in PyTorch's layout); head i uses columns
    ``i*d_k:(i+1)*d_k`` of Q, K and V.
    """

    def __init__(self, d_model: int, n_heads: int, *, kdim: int | None = None, vdim: int | None = None,
                 bias: bool = True, dropout: float = 0.0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        if d_model < 1 or n_heads < 1 or d_model % n_heads:
            raise ValueError(f"d_model must be a positive multiple of n_heads, got d_model={d_model}, n_heads={n_heads}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        self.d_model, self.n_heads, self.d_k = d_model, n_heads, d_model // n_heads
        self.kdim, self.vdim = kdim or d_model, vdim or d_model
        self.dropout = dropout
        kw = dict(bias=bias, device=device, dtype=dtype)
        self.q_proj = nn.Linear(d_model, d_model, **kw)
        self.k_proj = nn.Linear(self.kdim, d_model, **kw)
        self.v_proj = nn.Linear(self.vdim, d_model, **kw)
        self.out_proj = nn.Linear(d_model, d_model, **kw)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.n_heads, self.d_k).transpose(1, 2)  # (B, h, n, d_k)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None, value: torch.Tensor | None = None,
                mask: torch.Tensor | None = None, *, cache: LayerKVCache | None = None,
                return_weights: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Attend from ``query`` (B, n_q, d_model) to ``key`` (B, n_k, kdim) / ``value`` (B, n_k, vdim).

        ``key`` defaults to ``query`` (self-attention) and ``value`` to ``key``.
        ``mask`` broadcasts to (B, h, n_q, n_k) (see the module's mask
        convention). With a ``cache`` the new keys and values are appended to
        it and the queries attend to all cached positions too (n_k then counts
        them; build the mask with :func:`causal_mask` (n_q, n_k)). Returns the
        output (B, n_q, d_model), and with ``return_weights`` also the
        per-head weights (B, h, n_q, n_k).
        """
        if query.dim() != 3 or query.shape[-1] != self.d_model:
            raise ValueError(f"query must have shape (B, n, {self.d_model}), got {tuple(query.shape)}")
        key = query if key is None else key
        value = key if value is None else value
        if key.dim() != 3 or key.shape[-1] != self.kdim or key.shape[0] != query.shape[0]:
            raise ValueError(f"key must have shape ({query.shape[0]}, n_k, {self.kdim}), got {tuple(key.shape)}")
        if value.dim() != 3 or value.shape[-1] != self.vdim or value.shape[:2] != key.shape[:2]:
            raise ValueError(f"value must have shape ({key.shape[0]}, {key.shape[1]}, {self.vdim}), "
                             f"got {tuple(value.shape)}")
        q = self._split_heads(self.q_proj(query))
        k = self._split_heads(self.k_proj(key))
        v = self._split_heads(self.v_proj(value))
        if cache is not None:
            k, v = cache.append(k, v)
        if mask is not None and mask.dim() == 3:  # (B, n_q, n_k): the same mask for every head
            mask = mask[:, None]
        p = self.dropout if self.training else 0.0
        y, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)
        b, _, n_q, _ = y.shape
        out = self.out_proj(y.transpose(1, 2).reshape(b, n_q, self.d_model))  # Concat(Y_1..Y_h) W_O
        return (out, weights) if return_weights else out

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """Copy the weights of a ``torch.nn.MultiheadAttention`` with the same sizes (returns ``self``).

        PyTorch stacks W_Q, W_K, W_V into ``in_proj_weight`` (3d, d) when the
        key and value widths equal ``embed_dim``, and keeps them apart
        (``q_proj_weight``, ...) otherwise; the biases are ``in_proj_bias``.
        """
        if (mha.embed_dim, mha.num_heads, mha.kdim, mha.vdim) != (self.d_model, self.n_heads, self.kdim, self.vdim):
            raise ValueError("torch.nn.MultiheadAttention sizes (embed_dim, num_heads, kdim, vdim) = "
                             f"{(mha.embed_dim, mha.num_heads, mha.kdim, mha.vdim)} differ from "
                             f"{(self.d_model, self.n_heads, self.kdim, self.vdim)}")
        if mha.bias_k is not None or (mha.in_proj_bias is None) != (self.q_proj.bias is None):
            raise ValueError("add_bias_kv is not supported, and both modules must agree on biases")
        if mha._qkv_same_embed_dim:
            wq, wk, wv = mha.in_proj_weight.chunk(3)
        else:
            wq, wk, wv = mha.q_proj_weight, mha.k_proj_weight, mha.v_proj_weight
        for lin, w in zip((self.q_proj, self.k_proj, self.v_proj), (wq, wk, wv)):
            lin.weight.copy_(w)
        if mha.in_proj_bias is not None:
            for lin, b in zip((self.q_proj, self.k_proj, self.v_proj), mha.in_proj_bias.chunk(3)):
                lin.bias.copy_(b)
        self.out_proj.weight.copy_(mha.out_proj.weight)
        if self.out_proj.bias is not None:
            self.out_proj.bias.copy_(mha.out_proj.bias)
        return self


def attention_flops(n_queries: int, n_keys: int, d_model: int) -> int:
    """Multiply-adds of the two matrix products of equation (ATT) for one sequence, all heads: 2 n_q n_k d.

    :math:`QK^\\top` costs :math:`n_q n_k d_k` per head and the weighted sum of
    values as much again; over h heads :math:`d_k h = d`. Without a cache,
    generating n tokens one by one recomputes :math:`\\sum_t 2 t^2 d`, which
    grows like :math:`n^3`; with a cache each step costs :math:`2 t d`, so the
    total grows like :math:`n^2`.
    """
    return 2 * n_queries * n_keys * d_model

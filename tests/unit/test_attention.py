"""Attention (architectures/attention.py): masks, scaled dot-product attention, MHA against torch, the KV cache."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from genai_foundations.architectures.attention import (
    KVCache, LayerKVCache, MultiHeadAttention, attention_flops, causal_mask, padding_mask,
    scaled_dot_product_attention)

DT = torch.float64


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_causal_mask_is_lower_triangular_and_aligns_cached_queries_to_the_end():
    m = causal_mask(4)
    assert m.dtype == torch.bool and torch.equal(m, torch.ones(4, 4, dtype=torch.bool).tril())
    # two new queries after three cached positions: they are positions 3 and 4 of five
    m = causal_mask(2, 5)
    assert m.tolist() == [[True, True, True, True, False], [True, True, True, True, True]]
    with pytest.raises(ValueError, match="n_queries <= n_keys"):
        causal_mask(3, 2)


def test_sdpa_equals_torch_with_boolean_and_additive_masks():
    g = _gen(1)
    q, k, v = (torch.randn(2, 3, 5, 8, generator=g, dtype=DT) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v), atol=1e-12)
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 5, dtype=DT))
    # by hand: softmax(q k^T / sqrt(d_k)) v
    by_hand = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8), dim=-1) @ v
    assert torch.allclose(out, by_hand, atol=1e-12)
    mask = causal_mask(5)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), atol=1e-12)
    assert float(w.masked_select(~mask).abs().max()) == 0.0  # -inf scores get weight exactly 0
    bias = torch.randn(5, 5, generator=g, dtype=DT)
    out, _ = scaled_dot_product_attention(q, k, v, bias)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=bias), atol=1e-12)


def test_sdpa_rejects_bad_shapes_and_fully_masked_rows():
    q = torch.randn(2, 4, 8)
    with pytest.raises(ValueError, match="same width"):
        scaled_dot_product_attention(q, torch.randn(2, 4, 6), torch.randn(2, 4, 8))
    with pytest.raises(ValueError, match="same number of positions"):
        scaled_dot_product_attention(q, q, torch.randn(2, 3, 8))
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, q, q, torch.ones(3, 3, dtype=torch.bool))
    mask = torch.ones(4, 4, dtype=torch.bool)
    mask[2] = False
    with pytest.raises(ValueError, match="every key masked"):
        scaled_dot_product_attention(q, q, q, mask)
    with pytest.raises(ValueError, match="boolean"):
        scaled_dot_product_attention(q, q, q, torch.ones(4, 4, dtype=torch.long))


def _pair(d=12, h=3, kdim=None, vdim=None, seed=0):
    torch.manual_seed(seed)
    ref = nn.MultiheadAttention(d, h, batch_first=True, kdim=kdim, vdim=vdim, dtype=DT)
    with torch.no_grad():  # non-zero biases, so that a mix-up of biases would show
        for p in ref.parameters():
            p.normal_(0, 0.4)
    ours = MultiHeadAttention(d, h, kdim=kdim, vdim=vdim, dtype=DT).load_from_torch(ref)
    return ours.eval(), ref.eval()


def test_mha_equals_torch_multihead_attention_without_and_with_masks():
    ours, ref = _pair()
    g = _gen(2)
    x = torch.randn(2, 6, 12, generator=g, dtype=DT)
    y_ref, w_ref = ref(x, x, x, average_attn_weights=False)
    y, w = ours(x, return_weights=True)
    assert torch.allclose(y, y_ref, atol=1e-12) and torch.allclose(w, w_ref, atol=1e-12)
    # causal mask: torch's boolean convention is the opposite (True = hidden)
    mask = causal_mask(6)
    y_ref, _ = ref(x, x, x, attn_mask=~mask)
    assert torch.allclose(ours(x, mask=mask), y_ref, atol=1e-12)
    # padding: the second sequence has two padding positions at the end
    is_token = torch.ones(2, 6, dtype=torch.bool)
    is_token[1, 4:] = False
    y_ref, _ = ref(x, x, x, key_padding_mask=~is_token)
    assert torch.allclose(ours(x, mask=padding_mask(is_token)), y_ref, atol=1e-12)
    # both together, and an additive float mask
    y_ref, _ = ref(x, x, x, attn_mask=~mask, key_padding_mask=~is_token)
    assert torch.allclose(ours(x, mask=mask & padding_mask(is_token)), y_ref, atol=1e-12)
    bias = torch.randn(6, 6, generator=g, dtype=DT)
    y_ref, _ = ref(x, x, x, attn_mask=bias)
    assert torch.allclose(ours(x, mask=bias), y_ref, atol=1e-12)


def test_cross_attention_equals_torch_with_other_key_and_value_widths():
    ours, ref = _pair(d=8, h=2, kdim=5, vdim=7, seed=3)
    g = _gen(3)
    x = torch.randn(3, 4, 8, generator=g, dtype=DT)
    key = torch.randn(3, 9, 5, generator=g, dtype=DT)
    value = torch.randn(3, 9, 7, generator=g, dtype=DT)
    y_ref, w_ref = ref(x, key, value, average_attn_weights=False)
    y, w = ours(x, key, value, return_weights=True)
    assert y.shape == (3, 4, 8) and w.shape == (3, 2, 4, 9)
    assert torch.allclose(y, y_ref, atol=1e-12) and torch.allclose(w, w_ref, atol=1e-12)
    with pytest.raises(ValueError, match="key must have shape"):
        ours(x, torch.randn(3, 9, 8, dtype=DT), value)
    with pytest.raises(ValueError, match="query must have shape"):
        ours(torch.randn(4, 8, dtype=DT), key, value)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        MultiHeadAttention(10, 3)


def test_cached_self_attention_equals_full_causal_attention():
    ours, _ = _pair(seed=4)
    x = torch.randn(2, 7, 12, generator=_gen(4), dtype=DT)
    full = ours(x, mask=causal_mask(7))
    cache = LayerKVCache()
    pieces = [ours(x[:, :3], mask=causal_mask(3), cache=cache)]
    for t in range(3, 7):
        pieces.append(ours(x[:, t:t + 1], mask=causal_mask(1, t + 1), cache=cache))
    assert cache.length == 7 and cache.keys.shape == (2, 3, 7, 4)
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-12)
    # memory: keys and values, (B, h, n, d_k) each
    assert cache.nbytes() == 2 * 2 * 7 * 12 * 8
    cache.reorder(torch.tensor([1, 1]))
    assert torch.equal(cache.keys[0], cache.keys[1])
    kv = KVCache(3)
    assert len(kv) == 3 and kv.length == 0 and kv.nbytes() == 0


def test_attention_flops_counts_both_matrix_products():
    assert attention_flops(10, 10, 32) == 2 * 10 * 10 * 32
    # generating n tokens: cubic without a cache, quadratic with one
    n, d = 64, 8
    no_cache = sum(attention_flops(t, t, d) for t in range(1, n + 1))
    with_cache = sum(attention_flops(1, t, d) for t in range(1, n + 1))
    assert no_cache / with_cache == pytest.approx((2 * n + 1) / 3)

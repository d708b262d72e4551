"""Diagrams of the transformers chapter (diagrams/transformers.py): drawn from real objects, shapes that match them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from genai_foundations.architectures.attention import causal_mask, scaled_dot_product_attention
from genai_foundations.architectures.gpt import GPT, GPTConfig, kv_cache_bytes
from genai_foundations.diagrams.transformers import (
    attention_cost_figure, attention_matrix_figure, block_stages, cache_snapshots, decoding_panels, draw_block,
    draw_head_split, draw_kv_cache, head_split_stages)


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=30, n_positions=16, d_model=24, n_heads=3, n_layers=2, d_ff=40)).eval()


def test_block_stages_are_the_shapes_of_a_forward_pass(model):
    ids = torch.randint(0, 30, (2, 7))
    s = block_stages(model, ids, layer=1)
    assert s["input X"] == s["LN_1(X)"] == s["MHA"] == s["output"] == (2, 7, 24)
    assert s["FFN up (W_1)"] == (2, 7, 40) and s["logits"] == (2, 7, 30) and s["ids"] == (2, 7)
    with pytest.raises(ValueError):
        block_stages(model, ids, layer=2)
    fig = draw_block(model, ids)
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    plt.close(fig)


def test_head_split_stages_follow_the_module(model):
    x = torch.randn(2, 5, 24)
    stages = dict(head_split_stages(model.blocks[0].attn, x))
    assert stages["view (B, n, h, d_k)"] == (2, 5, 3, 8)
    assert stages["scores\nQ K^T / sqrt(d_k)"] == (2, 3, 5, 5)
    assert stages["output =\nConcat W_O"] == (2, 5, 24)
    plt.close(draw_head_split(model.blocks[0].attn, x))


def test_cache_snapshots_grow_by_one_position_and_match_the_formula(model):
    snaps = cache_snapshots(model, torch.tensor([[1, 2, 3]]), [4, 5])
    assert [s["length"] for s in snaps] == [3, 4, 5] and [s["fed"] for s in snaps] == [3, 1, 1]
    assert snaps[-1]["keys"] == (1, 3, 5, 8)
    assert all(s["bytes"] == kv_cache_bytes(model.config, 1, s["length"]) for s in snaps)
    plt.close(draw_kv_cache(snaps, model.config.n_layers))


def test_attention_matrix_and_decoding_panels_check_their_input():
    q = torch.randn(4, 6)
    _, w = scaled_dot_product_attention(q, q, q, causal_mask(4))
    fig = attention_matrix_figure(w, causal_mask(4), list("abcd"))
    plt.close(fig)
    with pytest.raises(ValueError):
        attention_matrix_figure(w[None], causal_mask(4))
    with pytest.raises(ValueError):
        attention_matrix_figure(w, causal_mask(3))
    p = torch.softmax(torch.randn(9), 0)
    plt.close(decoding_panels({"T = 1": p}, list("abcdefghi"), top=5))
    with pytest.raises(ValueError):
        decoding_panels({"not a distribution": 2 * p}, list("abcdefghi"))
    plt.close(attention_cost_figure([64, 128], {"a": [1e-3, 2e-3]}, {"b": [10, 40]}))

"""The transformer (architectures/gpt.py, positions.py): GPT against transformers' GPT-2, causality, the KV cache,
parameter counts, positional encodings, the masked-LM encoder."""

from __future__ import annotations

import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are built from configs; nothing may reach a model hub

import pytest
import torch

from genai_foundations.architectures.attention import causal_mask
from genai_foundations.architectures.gpt import (
    GPT, IGNORE_INDEX, GPTConfig, MaskedLMEncoder, SpecialTokens, TransformerBlock, gpt2_state_dict,
    kv_cache_bytes, mask_tokens, parameter_breakdown, parameter_count, to_gpt2)
from genai_foundations.architectures.positions import LearnedPositions, SinusoidalPositions, sinusoidal_positions

DT = torch.float64


def tiny_gpt(seed: int = 0, **overrides) -> GPT:
    """A small GPT-2-layout model in float64 with large random weights everywhere (LayerNorms and biases too)."""
    kw = dict(vocab_size=37, n_positions=24, d_model=16, n_heads=4, n_layers=2, d_ff=24)
    kw.update(overrides)
    torch.manual_seed(seed)
    model = GPT(GPTConfig.gpt2(**kw), dtype=DT)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model.eval()


def test_gpt_equals_transformers_gpt2_given_the_same_weights():
    model = tiny_gpt()
    hf = to_gpt2(model)
    assert hf.config.activation_function == "gelu_new" and hf.config.layer_norm_epsilon == 1e-5
    assert hf.config.n_inner == 24 and hf.config.tie_word_embeddings
    # GPT-2's Conv1D stores (in, out): the transpose of nn.Linear
    assert hf.transformer.h[0].attn.c_attn.weight.shape == (16, 48)
    ids = torch.randint(0, 37, (3, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ours, theirs = model(ids), hf(ids).logits
    assert theirs.dtype == DT
    assert (ours - theirs).abs().max() < 1e-5
    # and back: a GPT built from the library model gives the same logits
    back = GPT.from_gpt2(hf)
    with torch.no_grad():
        assert torch.allclose(back(ids), ours, atol=1e-12)
    assert set(gpt2_state_dict(model)) == set(hf.state_dict())


def test_position_i_ignores_the_tokens_after_i():
    model = tiny_gpt(seed=2)
    g = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 37, (2, 12), generator=g)
    changed = ids.clone()
    changed[:, 7:] = torch.randint(0, 37, (2, 5), generator=g)
    assert not torch.equal(changed[:, 7:], ids[:, 7:])
    with torch.no_grad():
        a, b = model(ids), model(changed)
    assert torch.allclose(a[:, :7], b[:, :7], atol=1e-12)  # positions 0..6 never saw tokens 7..11
    assert (a[:, 7:] - b[:, 7:]).abs().max() > 1e-3  # and the later positions do depend on them
    # the same from gradients: d logits_i / d embedding_j = 0 for every j > i
    x = model.token_embedding(ids[:1]).detach().requires_grad_(True)
    h = x + model.positions(12)
    mask = causal_mask(12)
    for block in model.blocks:
        h = block(h, mask)
    i = 4
    model.head(model.final_norm(h))[0, i].sum().backward()
    norms = x.grad[0].norm(dim=-1)
    assert float(norms[i + 1:].max()) == 0.0 and float(norms[:i + 1].min()) > 0.0


def test_cached_forward_equals_uncached_forward():
    model = tiny_gpt(seed=3)
    ids = torch.randint(0, 37, (2, 15), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        full = model(ids)
        cache = model.new_cache()
        pieces = [model(ids[:, :6], cache=cache)]  # the prompt at once, then one token, then three
        pieces.append(model(ids[:, 6:7], cache=cache))
        pieces.append(model(ids[:, 7:10], cache=cache))
        pieces += [model(ids[:, t:t + 1], cache=cache) for t in range(10, 15)]
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-12)
    assert cache.length == 15
    # the cache's memory equals the formula 2 L B n d (bytes per number)
    assert cache.nbytes() == kv_cache_bytes(model.config, batch_size=2, n=15, dtype=DT) == 2 * 2 * 2 * 15 * 16 * 8
    with pytest.raises(ValueError, match="context length"):
        model(ids[:, :10], cache=cache)  # 15 + 10 > n_positions = 24


def test_companion_parameter_count():
    """V=100, d=32, h=4, d_ff=64, L=2, n=10: 20,352 without the LayerNorms' parameters (the companion's count)."""
    model = GPT(GPTConfig(vocab_size=100, n_positions=10, d_model=32, n_heads=4, n_layers=2, d_ff=64))
    parts = parameter_breakdown(model)
    with_ln, without_ln = parameter_count(model), parameter_count(model, layer_norm=False)
    print(f"parameters with LayerNorms: {with_ln:,}; without: {without_ln:,}; by part: {parts}")
    assert without_ln == 20_352 and with_ln == 20_672
    assert with_ln == sum(p.numel() for p in model.parameters())  # the tied head counts once
    d, d_ff, L = 32, 64, 2
    assert parts["token embedding"] == 100 * d and parts["position embedding"] == 10 * d
    assert parts["attention weights"] == L * 4 * d * d and parts["attention biases"] == L * 4 * d
    assert parts["feed-forward"] == L * (2 * d * d_ff + d_ff + d)
    assert parts["block layer norms"] == L * 2 * 2 * d and parts["final layer norm"] == 2 * d
    assert "output head" not in parts  # tied to the token embedding
    untied = GPT(GPTConfig(vocab_size=100, n_positions=10, d_model=32, n_heads=4, n_layers=2, d_ff=64,
                           tie_weights=False))
    assert parameter_breakdown(untied)["output head"] == 100 * 32


def test_sinusoidal_positions_values_for_n7_d4():
    pe = sinusoidal_positions(7, 4, dtype=DT)
    pos = torch.arange(7, dtype=DT)
    expected = torch.stack([torch.sin(pos), torch.cos(pos), torch.sin(pos / 100), torch.cos(pos / 100)], dim=1)
    print(pe)
    assert torch.allclose(pe, expected, atol=1e-15)
    assert pe[1, 0].item() == pytest.approx(math.sin(1.0)) and pe[6, 3].item() == pytest.approx(math.cos(0.06))
    # a shift by k positions is a rotation of every (sin, cos) pair: PE(pos + k) = R_k PE(pos)
    big = sinusoidal_positions(20, 8, dtype=DT)
    k = 3
    omega = 10000.0 ** (-torch.arange(0, 8, 2, dtype=DT) / 8)
    s, c = big[:-k, 0::2], big[:-k, 1::2]
    assert torch.allclose(big[k:, 0::2], s * torch.cos(k * omega) + c * torch.sin(k * omega), atol=1e-12)
    assert torch.allclose(big[k:, 1::2], c * torch.cos(k * omega) - s * torch.sin(k * omega), atol=1e-12)
    assert torch.allclose(SinusoidalPositions(8)(5, offset=3).double(), big[3:8], atol=1e-6)
    with pytest.raises(ValueError, match="even d"):
        sinusoidal_positions(5, 3)
    with pytest.raises(ValueError, match="exceed"):
        LearnedPositions(10, 4)(4, offset=8)


def test_sinusoidal_gpt_and_the_input_checks():
    model = GPT(GPTConfig(vocab_size=11, n_positions=8, d_model=8, n_heads=2, n_layers=1, positions="sinusoidal"))
    assert parameter_breakdown(model).get("position embedding", 0) == 0
    ids = torch.randint(0, 11, (2, 8))
    assert model(ids).shape == (2, 8, 11)
    loss = model.loss(ids[:, :-1], ids[:, 1:])
    assert loss.ndim == 0 and abs(loss.item() - math.log(11)) < 0.5  # near uniform at initialisation
    with pytest.raises(ValueError, match="torch.long"):
        model(ids.float())
    with pytest.raises(ValueError, match="token ids"):
        model(ids + 11)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        GPTConfig(vocab_size=11, n_positions=8, d_model=10, n_heads=3, n_layers=1)
    with pytest.raises(ValueError, match="unknown activation"):
        GPTConfig(vocab_size=11, n_positions=8, d_model=8, n_heads=2, n_layers=1, activation="tanh")
    with pytest.raises(ValueError, match="GPT-2 layout"):
        model.config.to_gpt2_config()


def test_masked_lm_encoder_is_bidirectional_and_ignores_padding():
    special = SpecialTokens()
    cfg = GPTConfig(vocab_size=30, n_positions=16, d_model=16, n_heads=2, n_layers=2, activation="gelu")
    torch.manual_seed(5)
    enc = MaskedLMEncoder(cfg, special, dtype=DT).eval()
    body = torch.randint(5, 30, (2, 8), generator=torch.Generator().manual_seed(5))
    ids = special.wrap(body)
    assert ids.shape == (2, 10) and ids[0, 0] == special.cls and ids[0, -1] == special.sep
    with torch.no_grad():
        out = enc(ids)
        changed = ids.clone()
        changed[:, 8] = (changed[:, 8] - 5 + 1) % 25 + 5
        # bidirectional: the first position sees a change near the end
        assert (enc(changed)[:, 0] - out[:, 0]).abs().max() > 1e-4
        # padding at the end changes nothing at the real positions
        padded = torch.cat([ids, torch.full((2, 4), special.pad)], dim=1)
        assert torch.allclose(enc(padded)[:, :10], out, atol=1e-10)
    assert enc.hidden_states(ids).shape == (2, 10, 16)


def test_mask_tokens_follows_bert_80_10_10_and_never_masks_special_tokens():
    special = SpecialTokens()
    g = torch.Generator().manual_seed(6)
    ids = special.wrap(torch.randint(5, 50, (400, 50), generator=g))
    ids[:, -5:] = special.pad
    inputs, targets = mask_tokens(ids, 50, special, mask_prob=0.15, generator=g)
    chosen = targets != IGNORE_INDEX
    ordinary = ids >= 5
    assert not bool((chosen & ~ordinary).any())  # [CLS], [SEP], [PAD] never chosen
    assert torch.equal(targets[chosen], ids[chosen]) and torch.equal(inputs[~chosen], ids[~chosen])
    rate = chosen.sum() / ordinary.sum()
    masked = (inputs[chosen] == special.mask).double().mean()
    kept = (inputs[chosen] == ids[chosen]).double().mean()
    assert abs(rate - 0.15) < 0.01 and abs(masked - 0.8) < 0.02 and 0.08 < kept < 0.14  # 10% kept + 10%/45 by chance
    assert bool((inputs[chosen] >= 5).logical_or(inputs[chosen] == special.mask).all())
    cfg = GPTConfig(vocab_size=50, n_positions=60, d_model=8, n_heads=2, n_layers=1)
    loss = MaskedLMEncoder(cfg, special).loss(inputs[:4], targets[:4])
    assert abs(loss.item() - math.log(50)) < 0.5


def test_cross_attention_block_reads_the_context():
    cfg = GPTConfig(vocab_size=10, n_positions=8, d_model=8, n_heads=2, n_layers=1)
    block = TransformerBlock(cfg, cross_attention=True, d_context=6).double().eval()
    with torch.no_grad():
        for p in block.parameters():
            p.normal_(0, 0.3)
    x = torch.randn(2, 5, 8, dtype=DT)
    ctx = torch.randn(2, 3, 6, dtype=DT)
    y = block(x, causal_mask(5), context=ctx)
    assert y.shape == (2, 5, 8)
    assert (block(x, causal_mask(5), context=ctx + 1) - y).abs().max() > 1e-4
    with pytest.raises(ValueError, match="pass the context"):
        block(x)

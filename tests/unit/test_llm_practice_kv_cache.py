"""The KV-cache formula (KVMEM) against the course GPT's formula and its actual cache, and published sizes."""

import pytest
import torch

from genai_foundations.appendices.kv_cache import (LLAMA2_7B, LLAMA3_8B, DecoderShape, crossover_context,
                                                   decode_step_bytes, decode_step_flops, kv_cache_bytes)
from genai_foundations.architectures.gpt import GPT, GPTConfig
from genai_foundations.architectures.gpt import kv_cache_bytes as gpt_kv_cache_bytes


def test_formula_matches_the_course_gpt_and_its_cache():
    config = GPTConfig.gpt2(vocab_size=50, n_positions=64, d_model=32, n_heads=4, n_layers=3)
    shape = DecoderShape("tiny", config.n_layers, config.d_model, config.n_heads, config.n_heads, 1e4)
    torch.manual_seed(0)
    model = GPT(config).eval()
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.randint(0, 50, (2, 9)), cache=cache)
        model(torch.randint(0, 50, (2, 1)), cache=cache)
    assert cache.nbytes() == gpt_kv_cache_bytes(config, 2, 10) == kv_cache_bytes(shape, 10, 2, bytes_per_number=4)


def test_published_shapes():
    assert kv_cache_bytes(LLAMA2_7B, 1) == 2 ** 19  # 0.5 MiB per token in float16
    assert kv_cache_bytes(LLAMA2_7B, 4096) == 2 * 2 ** 30
    assert kv_cache_bytes(LLAMA3_8B, 4096) == kv_cache_bytes(LLAMA2_7B, 4096) // 4  # 8 of 32 heads keep K and V
    assert decode_step_flops(LLAMA2_7B, 0) == 2 * LLAMA2_7B.n_params
    assert decode_step_bytes(LLAMA2_7B, 4096, 16) == pytest.approx(2 * 6.74e9 + 32 * 2 ** 30)
    n = crossover_context(LLAMA2_7B, 4)
    assert kv_cache_bytes(LLAMA2_7B, round(n), 4) == pytest.approx(2 * LLAMA2_7B.n_params, rel=1e-4)
    with pytest.raises(ValueError):
        DecoderShape("bad", 2, 30, 4, 4, 1.0)

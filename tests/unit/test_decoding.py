"""Decoding (algorithms/decoding.py): filters against transformers' logits processors, greedy and beam search
against GPT2LMHeadModel.generate(), cached against uncached decoding, beam search against exhaustive search."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # models are built from configs; nothing may reach a model hub

import pytest
import torch

from genai_foundations.algorithms.decoding import (
    apply_temperature, beam_search, exhaustive_search, filter_logits, generate, greedy_decode, sample_token,
    sequence_log_prob, top_k_filter, top_p_filter)
from genai_foundations.architectures.gpt import GPT, GPTConfig, to_gpt2

DT = torch.float64


def tiny_gpt(seed: int = 0, vocab_size: int = 23, n_positions: int = 32) -> GPT:
    torch.manual_seed(seed)
    model = GPT(GPTConfig.gpt2(vocab_size=vocab_size, n_positions=n_positions, d_model=16, n_heads=4, n_layers=2,
                               d_ff=32), dtype=DT)
    with torch.no_grad():  # large random weights: peaked, varied next-token distributions
        for p in model.parameters():
            p.normal_(0, 0.5)
    return model.eval()


def _logits(seed=0, shape=(4, 40)) -> torch.Tensor:
    return 2.0 * torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=DT)  # no ties


def test_filters_equal_transformers_logits_processors():
    from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    ids = torch.zeros(4, 1, dtype=torch.long)
    for seed in range(3):
        z = _logits(seed)
        for t in (0.3, 1.0, 2.5):
            assert torch.equal(apply_temperature(z, t), TemperatureLogitsWarper(t)(ids, z.clone()))
        for k in (1, 3, 17, 40, 100):
            assert torch.equal(top_k_filter(z, k), TopKLogitsWarper(k)(ids, z.clone()))
        for p in (0.05, 0.3, 0.62, 0.9, 0.999):
            ours, theirs = top_p_filter(z, p), TopPLogitsWarper(p)(ids, z.clone())
            assert torch.equal(torch.isinf(ours), torch.isinf(theirs)) and torch.equal(ours, theirs)
        combined = filter_logits(z, 0.7, 10, 0.8)
        theirs = TopPLogitsWarper(0.8)(ids, TopKLogitsWarper(10)(ids, TemperatureLogitsWarper(0.7)(ids, z.clone())))
        assert torch.equal(combined, theirs)


def test_ties_and_the_top_p_boundary():
    z = torch.tensor([[3.0, 1.0, 2.0, 2.0, 0.0]])
    assert torch.isfinite(top_k_filter(z, 2)).tolist() == [[True, False, True, True, False]]  # tie at k: both kept
    # probabilities 1/2, 1/4, 1/8, 1/8 (the last two tied)
    z = torch.log(torch.tensor([[0.5, 0.25, 0.125, 0.125]], dtype=DT))
    assert torch.isfinite(top_p_filter(z, 0.75 - 1e-9)).sum() == 2  # 1/2 + 1/4 reaches p: stop
    assert torch.isfinite(top_p_filter(z, 0.75 + 1e-9)).sum() == 4  # need the third; its tie comes too
    assert torch.isfinite(top_p_filter(z, 0.2)).sum() == 1  # at least one token
    assert torch.equal(top_p_filter(z, 1.0), z)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="p must lie"):
            top_p_filter(z, bad)
    with pytest.raises(ValueError, match="positive integer"):
        top_k_filter(z, 0)
    with pytest.raises(ValueError, match="temperature must be positive"):
        apply_temperature(z, 0.0)


def test_sampling_follows_the_filtered_distribution():
    z = _logits(5, (1, 8))
    target = filter_logits(z, 0.8, 5, 0.9).softmax(-1)[0]
    draws = torch.stack([sample_token(z.expand(2000, -1), 0.8, 5, 0.9, torch.Generator().manual_seed(s))
                         for s in range(5)]).reshape(-1)
    freq = torch.bincount(draws, minlength=8).double() / draws.numel()
    assert float(freq[target == 0].sum()) == 0.0  # filtered tokens are never drawn
    assert (freq - target).abs().max() < 0.015
    a = sample_token(z.expand(50, -1), generator=torch.Generator().manual_seed(1))
    b = sample_token(z.expand(50, -1), generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_cached_decoding_equals_uncached_decoding():
    model = tiny_gpt(1)
    prompt = torch.randint(0, 23, (3, 5), generator=torch.Generator().manual_seed(1))
    assert torch.equal(greedy_decode(model, prompt, 20), greedy_decode(model, prompt, 20, use_cache=False))
    kw = dict(do_sample=True, temperature=1.3, top_k=10, top_p=0.95)
    a = generate(model, prompt, 20, generator=torch.Generator().manual_seed(2), **kw)
    b = generate(model, prompt, 20, generator=torch.Generator().manual_seed(2), use_cache=False, **kw)
    assert a.shape == (3, 25) and torch.equal(a, b)
    assert torch.equal(beam_search(model, prompt, 12, 3), beam_search(model, prompt, 12, 3, use_cache=False))
    with pytest.raises(ValueError, match="n_positions"):
        greedy_decode(model, prompt, 40)
    with pytest.raises(ValueError, match="do_sample=True"):
        generate(model, prompt, 5, top_p=0.9)
    assert greedy_decode(model, prompt, 40, use_cache=False).shape == (3, 45)  # crops the context instead


def test_greedy_equals_transformers_generate():
    model = tiny_gpt(2)
    prompt = torch.randint(0, 23, (3, 4), generator=torch.Generator().manual_seed(2))
    hf = to_gpt2(model)
    ones = torch.ones_like(prompt)
    ours = greedy_decode(model, prompt, 16)
    theirs = hf.generate(prompt, attention_mask=ones, max_new_tokens=16, do_sample=False, pad_token_id=0)
    assert torch.equal(ours, theirs)
    # with an end-of-sequence token that the decoding actually reaches: finished rows are padded, then stop
    eos = int(ours[0, 8])
    ours = greedy_decode(model, prompt, 16, eos_token_id=eos)
    theirs = hf.generate(prompt, attention_mask=ones, max_new_tokens=16, do_sample=False, eos_token_id=eos,
                         pad_token_id=eos)
    assert (ours[:, 4:] == eos).any() and torch.equal(ours, theirs)


@pytest.mark.parametrize("length_penalty, early_stopping, use_eos", [
    (1.0, False, False), (1.0, False, True), (2.0, True, True), (0.5, "never", True)])
def test_beam_search_equals_transformers_generate(length_penalty, early_stopping, use_eos):
    model = tiny_gpt(3)
    prompt = torch.randint(0, 23, (2, 3), generator=torch.Generator().manual_seed(3))
    hf = to_gpt2(model)
    eos = int(greedy_decode(model, prompt, 6)[0, 6]) if use_eos else None
    ours, scores = beam_search(model, prompt, 10, 3, length_penalty=length_penalty, early_stopping=early_stopping,
                               eos_token_id=eos, return_scores=True)
    out = hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=10, num_beams=3,
                      do_sample=False, length_penalty=length_penalty, early_stopping=early_stopping,
                      eos_token_id=eos, pad_token_id=eos if use_eos else 0, output_scores=True,
                      return_dict_in_generate=True)
    assert torch.equal(ours, out.sequences)
    assert torch.allclose(scores, out.sequences_scores.double(), atol=1e-4)
    if use_eos:
        assert (ours[:, 3:] == eos).any()


def test_beam_search_with_enough_beams_finds_the_exhaustive_optimum():
    model = tiny_gpt(4, vocab_size=3, n_positions=8)
    prompt = torch.tensor([[0, 2]])
    n_new = 4
    best, best_logp = exhaustive_search(model, prompt, n_new, vocab_size=3)
    # 3^(n-1) = 27 beams keep every prefix until the last step: beam search is then exact
    found, score = beam_search(model, prompt, n_new, 27, length_penalty=0.0, return_scores=True)
    assert torch.equal(found, best) and score.item() == pytest.approx(best_logp.item(), abs=1e-9)
    assert sequence_log_prob(model, found, 2).item() == pytest.approx(best_logp.item(), abs=1e-12)
    # one beam is greedy decoding, and greedy need not be optimal
    assert torch.equal(beam_search(model, prompt, n_new, 1), greedy_decode(model, prompt, n_new))
    greedy_logp = sequence_log_prob(model, greedy_decode(model, prompt, n_new), 2)
    assert greedy_logp <= best_logp + 1e-12
    with pytest.raises(ValueError, match="max_candidates"):
        exhaustive_search(model, prompt, 12, vocab_size=3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_same_code_decodes_on_cuda():
    model = tiny_gpt(5)
    prompt = torch.randint(0, 23, (2, 4), generator=torch.Generator().manual_seed(5))
    gpu = tiny_gpt(5).cuda()
    with torch.no_grad():
        assert torch.allclose(gpu(prompt.cuda()).cpu(), model(prompt), atol=1e-9)
    assert torch.equal(greedy_decode(gpu, prompt.cuda(), 12).cpu(), greedy_decode(model, prompt, 12))
    assert torch.equal(greedy_decode(gpu, prompt.cuda(), 12, use_cache=False).cpu(), greedy_decode(model, prompt, 12))
    assert torch.equal(beam_search(gpu, prompt.cuda(), 8, 3).cpu(), beam_search(model, prompt, 8, 3))
    kw = dict(do_sample=True, top_k=8, top_p=0.9)
    a = generate(gpu, prompt.cuda(), 12, generator=torch.Generator().manual_seed(0), **kw)  # a CPU generator
    b = generate(gpu, prompt.cuda(), 12, generator=torch.Generator().manual_seed(0), use_cache=False, **kw)
    assert a.device.type == "cuda" and torch.equal(a, b)

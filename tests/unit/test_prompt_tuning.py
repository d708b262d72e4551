"""Tests of prompt tuning on the chapter-16 GPT (chapter 21, fine-tuning)."""

from __future__ import annotations

import pytest
import torch

from genai_foundations.algorithms.lora import trainable_parameters
from genai_foundations.algorithms.prompt_tuning import PromptTunedGPT
from genai_foundations.architectures.gpt import GPT, GPTConfig


def _gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig.gpt2(vocab_size=30, n_positions=24, d_model=16, n_heads=2, n_layers=2, d_ff=32)).double().eval()


def test_prompt_equals_feeding_its_vectors_as_tokens():
    gpt = _gpt()
    model = PromptTunedGPT(gpt, 4, seed=1)
    assert trainable_parameters(model) == 4 * 16
    # when the prompt holds real token embeddings, the model sees exactly those tokens before ids
    prefix = torch.tensor([3, 1, 4, 1])
    with torch.no_grad():
        model.prompt.copy_(gpt.token_embedding.weight[prefix])
    ids = torch.randint(0, 30, (2, 9))
    full = gpt(torch.cat([prefix.expand(2, 4), ids], dim=1))[:, 4:]
    torch.testing.assert_close(model(ids), full)
    # and the loss is the cross-entropy of those logits
    targets = torch.randint(0, 30, (2, 9))
    expected = torch.nn.functional.cross_entropy(full.reshape(-1, 30), targets.reshape(-1))
    torch.testing.assert_close(model.loss(ids, targets), expected)


def test_only_the_prompt_trains():
    model = PromptTunedGPT(_gpt(), 3)
    ids = torch.randint(0, 30, (2, 5))
    model.loss(ids, ids).backward()
    assert model.prompt.grad is not None and model.prompt.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.gpt.parameters())


def test_context_left_and_bad_input():
    model = PromptTunedGPT(_gpt(), 4)
    assert model.max_length == 20
    with pytest.raises(ValueError, match="exceed"):
        model(torch.zeros(1, 21, dtype=torch.long))
    with pytest.raises(ValueError, match="n_prompt"):
        PromptTunedGPT(_gpt(), 24)

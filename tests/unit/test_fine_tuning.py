"""Tests of the fine-tuning chapter's experiment set-up (algorithms.fine_tuning)."""

from __future__ import annotations

import pytest
import torch

from genai_foundations.algorithms.fine_tuning import held_out_split, prepare_method, split_examples
from genai_foundations.algorithms.lora import LoRALinear, trainable_parameters
from genai_foundations.algorithms.quantization import Linear4bit
from genai_foundations.architectures.gpt import GPT, GPTConfig
from genai_foundations.data.python_docs import python_docs_split


def test_split_examples_moves_prompt_lines_and_strips_their_indentation():
    text = "Some prose.\n   >>> x = 1\n   ... y = 2\n   3\nMore prose ... here\n>>>print(x)"
    kept, examples = split_examples(text)
    assert kept == "Some prose.\n   3\nMore prose ... here"
    assert examples == ">>> x = 1\n... y = 2\n>>>print(x)"


def test_held_out_split_partitions_the_training_part_and_keeps_the_vocabulary():
    split = python_docs_split()
    data = held_out_split()
    counts = data.counts()
    assert counts["pretraining"] + counts["removed from pretraining"] == len(split.train)
    assert counts["adaptation"] > 5000 and counts["adaptation validation"] > 1000
    prompt = split.tokenizer.encode(">>>")
    assert not any(torch.equal(data.pretrain[i:i + 3], prompt) for i in range(0, 20000))
    assert torch.equal(data.adapt[:3], prompt) and torch.equal(data.adapt_val[:3], prompt)
    assert data.vocab_size == split.vocab_size


def test_prepare_method_leaves_the_base_untouched():
    torch.manual_seed(0)
    base = GPT(GPTConfig.gpt2(vocab_size=12, n_positions=20, d_model=64, n_heads=2, n_layers=1, d_ff=64))
    before = {k: v.clone() for k, v in base.state_dict().items()}
    lora = prepare_method(base, "lora", r=2)
    qlora = prepare_method(base, "qlora", r=2)
    assert isinstance(lora.blocks[0].ffn.up, LoRALinear) and isinstance(qlora.blocks[0].ffn.up.base, Linear4bit)
    assert trainable_parameters(lora) == trainable_parameters(qlora) == 2 * (4 * 128 + 2 * 128)
    assert trainable_parameters(prepare_method(base, "prompt", n_prompt=3)) == 3 * 64
    assert all(torch.equal(before[k], v) for k, v in base.state_dict().items())
    ids = torch.randint(0, 12, (2, 7))
    with torch.no_grad():
        torch.testing.assert_close(lora(ids), base(ids))                  # B = 0 at the start
    with pytest.raises(ValueError, match="unknown method"):
        prepare_method(base, "adapters")

"""Tests of LoRA (chapter 21, fine-tuning): init, merge/unmerge, peft, and apply_lora on the GPT."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genai_foundations.algorithms.lora import (LoRALinear, apply_lora, lora_linear, merge_lora, trainable_parameters,
                                               weight_bytes)
from genai_foundations.architectures.gpt import GPT, GPTConfig

f64 = dict(dtype=torch.float64)


def _trained(layer: LoRALinear, seed: int = 0) -> LoRALinear:
    """Give B non-zero values, as training would."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.lora_B.copy_(torch.randn(layer.lora_B.shape, generator=g, **f64))
    return layer


def test_lora_layer_equals_base_at_initialisation():
    torch.manual_seed(0)
    base = nn.Linear(12, 7).double()
    x = torch.randn(3, 5, 12, **f64)
    expected = base(x)
    layer = LoRALinear(base, r=3, alpha=6.0)
    assert torch.equal(layer(x), expected)              # B = 0: exactly the base layer
    assert layer.lora_A.abs().max() > 0                  # A is random, not zero
    assert not base.weight.requires_grad and layer.lora_A.requires_grad and layer.lora_B.requires_grad


@pytest.mark.parametrize("r, alpha", [(1, 1.0), (4, 8.0), (6, 3.0)])
def test_merged_equals_unmerged_and_unmerge_restores(r, alpha):
    torch.manual_seed(1)
    base = nn.Linear(10, 6).double()
    w0 = base.weight.detach().clone()
    layer = _trained(LoRALinear(base, r=r, alpha=alpha))
    x = torch.randn(4, 10, **f64)
    unmerged = layer(x)
    torch.testing.assert_close(unmerged, lora_linear(x, w0, base.bias, layer.lora_A, layer.lora_B, alpha))
    layer.merge()
    torch.testing.assert_close(layer(x), unmerged, atol=1e-12, rtol=0)
    torch.testing.assert_close(base.weight, merge_lora(w0, layer.lora_A, layer.lora_B, alpha))
    with pytest.raises(RuntimeError):
        layer.merge()
    layer.unmerge()
    torch.testing.assert_close(base.weight, w0, atol=1e-12, rtol=0)
    torch.testing.assert_close(layer(x), unmerged, atol=1e-12, rtol=0)


def test_gradients_reach_only_A_and_B():
    torch.manual_seed(2)
    layer = _trained(LoRALinear(nn.Linear(5, 4).double(), r=2))
    layer(torch.randn(3, 5, **f64)).sum().backward()
    assert layer.base.weight.grad is None and layer.base.bias.grad is None
    assert layer.lora_A.grad.abs().sum() > 0 and layer.lora_B.grad.abs().sum() > 0


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(6, 5)
        self.out = nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.lin(x)))


@pytest.mark.parametrize("r, alpha", [(2, 3.0), (4, 16.0)])
def test_equals_peft_lora_with_the_same_A_and_B(r, alpha):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(3)
    ours = _Tiny().double()
    theirs = _Tiny().double()
    theirs.load_state_dict(ours.state_dict())
    apply_lora(ours, r, alpha, target=["lin"])
    theirs = get_peft_model(theirs, LoraConfig(r=r, lora_alpha=alpha, target_modules=["lin"], lora_dropout=0.0))
    peft_lin = theirs.base_model.model.lin
    g = torch.Generator().manual_seed(4)
    A, B = torch.randn(r, 6, generator=g, **f64), torch.randn(5, r, generator=g, **f64)
    with torch.no_grad():
        ours.lin.lora_A.copy_(A)
        ours.lin.lora_B.copy_(B)
        peft_lin.lora_A["default"].weight.copy_(A)
        peft_lin.lora_B["default"].weight.copy_(B)
    assert peft_lin.scaling["default"] == pytest.approx(ours.lin.scaling)        # alpha / r in both
    x = torch.randn(7, 6, **f64)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-12, rtol=0)
    # peft's Delta W = (alpha / r) B A equals ours, and so do the trainable parameter counts
    torch.testing.assert_close(peft_lin.get_delta_weight("default"), ours.lin.delta_weight())
    assert trainable_parameters(ours) == sum(p.numel() for p in theirs.parameters() if p.requires_grad)


def test_apply_lora_on_the_gpt():
    torch.manual_seed(5)
    gpt = GPT(GPTConfig.gpt2(vocab_size=20, n_positions=16, d_model=16, n_heads=2, n_layers=2, d_ff=32)).double()
    ids = torch.randint(0, 20, (2, 9))
    before = gpt(ids)
    bytes_before = weight_bytes(gpt)
    names = apply_lora(gpt, r=2)
    assert len(names) == 2 * 6 and "head" not in names        # the tied head stays as it is
    torch.testing.assert_close(gpt(ids), before, atol=0, rtol=0)
    # every wrapped (d_out, d_in) layer trains r (d_in + d_out) numbers
    expected = sum(2 * (m.in_features + m.out_features) for m in gpt.modules() if isinstance(m, LoRALinear))
    assert trainable_parameters(gpt) == expected
    assert weight_bytes(gpt) == bytes_before + 8 * expected


def test_bad_input():
    with pytest.raises(ValueError, match="rank"):
        LoRALinear(nn.Linear(4, 3), r=4)
    with pytest.raises(ValueError, match="A"):
        lora_linear(torch.randn(2, 4), torch.randn(3, 4), None, torch.randn(2, 5), torch.randn(3, 2), 1.0)
    with pytest.raises(ValueError, match="no nn.Linear"):
        apply_lora(nn.Sequential(nn.ReLU()), r=1)
